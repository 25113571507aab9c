"""What the checks of lab10_autoencoders share: budgets, data, numpy measures, stand-ins,
and the probes and verdicts several checks use. Numpy only at module level (verdicts run in
the grader, which never imports TensorFlow)."""
import json

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import build_for_fit
from autograder.verdicts import expect_at_most, expect_close, expect_shape, expect_true

PCA = "pca"
MODELS = "autoencoders"

# The training budgets, stated in the handout. All train on the 1347 training digits
# (grey levels in [0, 1]) and are judged on the 450 test digits.
LINEAR = {"code_dim": 4, "learning_rate": 0.05, "steps": 500}           # full batch
DENSE = {"code_dim": 4, "hidden_units": (128, 64), "learning_rate": 1e-2, "batch_size": 64,
         "steps": 300}
CONV = {"code_dim": 4, "filters": (16, 32), "learning_rate": 1e-2, "batch_size": 64,
        "steps": 300}
DENOISING = {"noise_stddev": 0.3, "code_dim": 16, "learning_rate": 1e-2, "batch_size": 64,
             "steps": 300}
# How far a student's linear autoencoder may stay from the PCA subspace beyond the
# reference's. Over initialisations the reference ends within about 1.5 degrees; a linear
# autoencoder without biases cannot centre the data and ends near 88 degrees.
ANGLE_MARGIN_DEGREES = 5.0
# How much higher a student's test MSE may be than the reference's (a factor). Over seeds
# the reference varies by about 10 % (dense, conv) and 7 % (denoising); a denoiser trained
# against its noisy inputs, or without noise, ends 25 % or more above the reference.
MSE_FACTOR = 1.25
DENOISING_MSE_FACTOR = 1.15


# ---------------------------------------------------------------------------------------------
# Data and numpy measures
# ---------------------------------------------------------------------------------------------

def digits(split, images=False):
    """Grey-level digits in [0, 1]: (N, 64), or (N, 8, 8, 1) with images."""
    from dlkit.data import load_digits
    return load_digits(split, flatten=not images)[0]


def correlated_data(rng, n, d, mean_scale=3.0):
    """n points in d dims with a non-zero mean and well separated principal variances."""
    scales = np.geomspace(3.0, 0.3, d)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    mean = mean_scale * rng.normal(size=d)
    return (rng.normal(size=(n, d)) * scales) @ rotation.T + mean


def principal_angles_np(basis_a, basis_b):
    """Principal angles (radians, increasing) between the row spaces of two matrices.

    SciPy's implementation, not the lab's: public checks ship to students."""
    from scipy.linalg import subspace_angles
    return np.sort(subspace_angles(np.asarray(basis_a, dtype=np.float64).T,
                                   np.asarray(basis_b, dtype=np.float64).T))


def top_directions(x, k):
    """The top-k principal directions (k, D) of the rows of x, by scikit-learn's PCA (an
    independent library, not the lab's code: public checks ship to students)."""
    from sklearn.decomposition import PCA as LibraryPCA
    return LibraryPCA(k, svd_solver="full").fit(np.asarray(x, np.float64)).components_


def pca_test_mse(x_train, x_test, k):
    """Test MSE per pixel of the rank-k PCA reconstruction fitted on x_train (scikit-learn)."""
    from sklearn.decomposition import PCA as LibraryPCA
    shape = x_test.shape
    x_train, x_test = (np.asarray(a, np.float64).reshape(len(a), -1) for a in (x_train, x_test))
    pca = LibraryPCA(k, svd_solver="full").fit(x_train)
    reconstruction = pca.inverse_transform(pca.transform(x_test))
    return float(np.mean((reconstruction.reshape(shape) - x_test.reshape(shape)) ** 2))


def mse(x_hat, x):
    """Mean squared error per pixel; inf when the model's output is not finite."""
    if x_hat is None:
        raise ValueError("the model returned None")
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x_hat.shape != np.shape(x):
        raise ValueError(f"the model returned shape {x_hat.shape} for inputs {np.shape(x)}")
    value = float(np.mean((x_hat - x) ** 2))
    return value if np.isfinite(value) else float("inf")


def f32(value):
    """A student's array as float32 for the wire; None stays None (a verdict names it)."""
    return None if value is None else np.asarray(value, dtype=np.float32)


def largest_angle(output):
    """The largest principal angle in degrees (the handout quotes the reference's)."""
    return float(np.max(output["angles"]))


# ---------------------------------------------------------------------------------------------
# Probing a model: construction, layers, weights, save and load
# ---------------------------------------------------------------------------------------------

def construct(make, what):
    """make(), or a CheckFailed-worthy message naming `what` when the constructor fails."""
    try:
        return make(), ""
    except NotImplementedError:
        raise   # the grader's own "not implemented yet" message
    except Exception as error:  # the message goes to the student
        text = f"{what} could not be built: {type(error).__name__}: {error}"[:600]
        if "NoneType" in text:
            text += " (does make_encoder or make_decoder return None?)"
        return None, text


def activation_name(layer):
    """The activation a layer applies ('relu', 'sigmoid', 'linear'...), or None for layers
    that apply none (Flatten, Reshape)."""
    import keras
    if isinstance(layer, keras.layers.ReLU):
        return "relu"
    function = getattr(layer, "activation", None)
    return getattr(function, "__name__", None) if function is not None else None


def layer_table(stack, x):
    """[(class name, output shape, activation)] of the layers of `stack` that hold weights,
    found by running x through them one by one. An activation layer after a weight layer
    (Activation("relu"), ReLU()) counts as that layer's activation; Flatten and Reshape
    are skipped."""
    rows, h = [], x
    for layer in stack.layers:
        h = layer(h)
        activation = activation_name(layer)
        if layer.count_params():
            rows.append([type(layer).__name__, list(np.shape(h))[1:], activation or "linear"])
        elif rows and activation not in (None, "linear"):
            rows[-1][2] = activation if rows[-1][2] == "linear" else f"{rows[-1][2]}+{activation}"
    return json.dumps(rows)


def judge_layers(student, reference, what):
    got, expected = json.loads(student), json.loads(reference)
    if got == expected:
        return
    shown = "; ".join(f"{name} -> {tuple(shape)}, {act}" for name, shape, act in got)
    if len(got) == len(expected):
        for index, (row, want) in enumerate(zip(got, expected)):
            if row != want:
                raise CheckFailed(
                    f"{what}: its weight layer {index + 1} of {len(got)} is {row[0]} with output "
                    f"shape {tuple(row[1])} and activation {row[2]}, expected {want[0]} with "
                    f"output shape {tuple(want[1])} and activation {want[2]} (all its weight "
                    f"layers: {shown})")
    wanted = "; ".join(f"{name} -> {tuple(shape)}, {act}" for name, shape, act in expected)
    raise CheckFailed(f"{what}: its layers with weights are [{shown}], expected [{wanted}]")


def weight_shapes(model):
    return json.dumps([list(w.shape) for w in model.trainable_weights])


def judge_weight_shapes(student, reference, what):
    got, expected = json.loads(student), json.loads(reference)
    if got == expected:
        return
    bias = ""
    if [s for s in expected if len(s) > 1] == [s for s in got if len(s) > 1] and len(got) < len(expected):
        bias = ": a bias is missing (a Dense or convolution with use_bias=False?)"
    raise CheckFailed(f"{what} has trainable weights of shapes {[tuple(s) for s in got]}, "
                      f"expected {[tuple(s) for s in expected]}{bias}")


def model_probe(lab, rng, model, x, name):
    """What the model checks compare: layers, weight shapes, codes and outputs with given
    random weights (the same for the student and the reference), and a .keras round trip."""
    from autograder.check_helpers import assign_random_weights
    out = {"weights": weight_shapes(model)}
    codes = model.encode(x)
    out.update(encoder_layers=layer_table(model.encoder, x),
               decoder_layers=layer_table(model.decoder, codes))
    assign_random_weights(model, rng)
    codes = model.encode(x)
    out.update(codes=codes, x_hat=model(x), decoded=model.decode(codes),
               round_trip=round_trip(lab, model, x, name))
    return out


def judge_model(student, reference, what, expected_class, x_shape, code_dim):
    judge_layers(student["encoder_layers"], reference["encoder_layers"], f"{what}.encoder")
    judge_layers(student["decoder_layers"], reference["decoder_layers"], f"{what}.decoder")
    judge_weight_shapes(student["weights"], reference["weights"], what)
    expect_shape(student["codes"], (x_shape[0], code_dim), f"{what}.encode(x) for x {x_shape}")
    x_hat = expect_shape(student["x_hat"], x_shape, f"{what}(x) for x {x_shape}")
    expect_close(student["decoded"], x_hat, f"{what}: decode(encode(x)) against model(x)")
    expect_close(x_hat, reference["x_hat"], f"{what}(x) with the same random weights as the "
                 "reference (same layers, so the same function)")
    judge_round_trip(student["round_trip"], what, expected_class)


def round_trip(lab, model, x, name):
    """Save `model` to .keras, load it back: outputs and configs of both, or the error."""
    import keras
    path = str(lab.tmpdir / f"{name}.keras")
    try:
        model.save(path)
        loaded = keras.saving.load_model(path)
        loaded_outputs = loaded(x)
    except Exception as error:  # the message goes to the student
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    return {"error": "", "class": type(loaded).__name__, "outputs": model(x),
            "loaded_outputs": loaded_outputs,
            "config": json.dumps(model.get_config(), sort_keys=True, default=str),
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str)}


def judge_round_trip(result, model, expected_class):
    if result["error"]:
        raise CheckFailed(f"keras.saving.load_model could not reload a saved {model}: "
                          + result["error"])
    expect_true(result["class"] == expected_class,
                f"load_model returned a {result['class']}, not a {expected_class}")
    expect_true(result["loaded_config"] == result["config"],
                f"the reloaded {model} has another config than the saved one")
    expect_close(result["loaded_outputs"], result["outputs"],
                 f"{model} outputs after save and load")


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def training_data(x, seed, batch_size, paired=True):
    """A shuffled, repeated tf.data pipeline of (x, x) pairs (or of x only)."""
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((x, x) if paired else x)
    return data.shuffle(len(x), seed=seed).repeat().batch(batch_size)


def train_probe(lab, rng, make_model, budget, images=False):
    """Train a fresh autoencoder with compile(loss="mse") and fit on (x, x) for the budget.

    Returns the test MSE before and after, and that of PCA with the same code size.
    """
    import keras
    x_train, x_test = digits("train", images), digits("test", images)
    model, error = construct(make_model, "the autoencoder")
    if error:
        return {"error": error}
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]), loss="mse",
                  steps_per_execution=100)
    before = mse(model(x_test), x_test)
    build_for_fit(model)
    model.fit(training_data(x_train, int(rng.integers(1 << 30)), budget["batch_size"]),
              steps_per_epoch=budget["steps"], epochs=1, verbose=0)
    return {"before": before, "after": mse(model(x_test), x_test),
            "pca": pca_test_mse(x_train, x_test, budget["code_dim"]), "error": ""}


def judge_training(student, reference, model):
    if student["error"]:
        raise CheckFailed(student["error"].replace("the autoencoder", model, 1))
    after = student["after"]
    expect_true(np.isfinite(after), f"after training, the {model}'s test MSE is {after}: "
                "its outputs are NaN or inf")
    context = (f"(it starts at {student['before']:.4f}; PCA with the same code size reaches "
               f"{student['pca']:.4f}, the reference {reference['after']:.4f})")
    expect_at_most(after, MSE_FACTOR * reference["after"],
                   f"the {model}'s test MSE per pixel after training {context}")


def probe_autoencoder(input_dim=64, code_dim=16, hidden=64):
    """The checks' own autoencoder for the denoising checks (DenoisingAutoencoder wraps any
    built keras.Model): ELU layers around a linear code, a sigmoid output. Not the lab's
    DenseAutoencoder (relu layers), which these checks do not need."""
    import keras
    from keras import layers
    return keras.Sequential([keras.Input((input_dim,)), layers.Dense(hidden, activation="elu"),
                             layers.Dense(code_dim),
                             layers.Dense(hidden, activation="elu"),
                             layers.Dense(input_dim, activation="sigmoid")], name="probe_ae")


def corrupt_standin(x, noise_stddev, epsilon):
    """The checks' own corrupt, so the denoising checks do not depend on the student's: Keras's
    relu with max_value=1 keeps the noisy pixels in [0, 1]."""
    import keras
    import tensorflow as tf
    noisy = tf.cast(x, "float32") + noise_stddev * tf.cast(epsilon, "float32")
    return keras.activations.relu(noisy, max_value=1.0)


def interpolate_standin(code_start, code_end, steps):
    """The checks' own interpolate (SciPy's linear interpolation between the two end points),
    so interpolate_images does not depend on the student's."""
    from scipy.interpolate import interp1d
    ends = np.stack([np.asarray(code_start, np.float64), np.asarray(code_end, np.float64)])
    return interp1d([0.0, 1.0], ends, axis=0)(np.linspace(0.0, 1.0, int(steps))).astype(np.float32)

# ---------------------------------------------------------------------------------------------
# Paths through code space
# ---------------------------------------------------------------------------------------------

def judge_path(path, start, end, expected, what, names=("code_start", "code_end")):
    """A path must run from `start` (t = 0) to `end` (t = 1) and match the reference's."""
    path = expect_shape(path, np.shape(expected), what)
    first, last = names
    close = lambda a, b: np.allclose(a, b, rtol=1e-4, atol=1e-5)  # noqa: E731
    if close(path[0], end) and close(path[-1], start):
        raise CheckFailed(f"{what} runs from {last} to {first}: the endpoints are swapped")
    expect_true(close(path[0], start), f"{what}: the first point must be {first} (t = 0)")
    expect_true(close(path[-1], end), f"{what}: the last point must be {last} (t = 1): "
                "t = np.linspace(0, 1, steps) includes both ends")
    expect_close(path, expected, what)
