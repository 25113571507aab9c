"""Public checks of lab10_autoencoders.

The PCA maths is compared with the reference on random data whose principal directions
are well separated (so they are unique up to sign). The training checks measure what a
trained model does, with plain numpy here: the principal angles between the subspace a
linear autoencoder's reconstructions live in and the PCA subspace, and test MSEs. They
never compare weights, which no two correct solutions share.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
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
# the reference varies by about 10 % (dense, conv) and 5 % (denoising); a denoiser trained
# against its noisy inputs, or without noise, ends 25 % or more above the reference.
MSE_FACTOR = 1.25
DENOISING_MSE_FACTOR = 1.15


# ---------------------------------------------------------------------------------------------
# Helpers: run in the worker (probes) or here (verdicts); numpy only at module level
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
    """The top-k principal directions (k, D) of the rows of x, by numpy's SVD."""
    x = np.asarray(x, dtype=np.float64)
    return np.linalg.svd(x - x.mean(axis=0), full_matrices=False)[2][:k]


def pca_test_mse(x_train, x_test, k):
    """Test MSE per pixel of the rank-k PCA reconstruction fitted on x_train (numpy)."""
    shape = x_test.shape
    x_train, x_test = (np.asarray(a, np.float64).reshape(len(a), -1) for a in (x_train, x_test))
    mean, components = x_train.mean(axis=0), top_directions(x_train, k)
    reconstruction = (x_test - mean) @ components.T @ components + mean
    return float(np.mean((reconstruction.reshape(shape) - x_test.reshape(shape)) ** 2))


def mse(x_hat, x):
    """Mean squared error per pixel; inf when the model's output is not finite."""
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x_hat.shape != np.shape(x):
        raise ValueError(f"the model returned shape {x_hat.shape} for inputs {np.shape(x)}")
    value = float(np.mean((x_hat - x) ** 2))
    return value if np.isfinite(value) else float("inf")


def training_data(x, seed, batch_size, paired=True):
    """A shuffled, repeated tf.data pipeline of (x, x) pairs (or of x only)."""
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((x, x) if paired else x)
    return data.shuffle(len(x), seed=seed).repeat().batch(batch_size)


def weight_layers(stack, x):
    """[(class name, output shape)] of the layers of `stack` that hold weights, found by
    running x through them one by one (activation layers, Flatten, Reshape are skipped)."""
    rows, h = [], x
    for layer in stack.layers:
        h = layer(h)
        if layer.count_params():
            rows.append([type(layer).__name__, list(np.shape(h))[1:]])
    return json.dumps(rows)


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


def judge_layers(student, reference, what):
    got, expected = json.loads(student), json.loads(reference)
    expect_true(got == expected, f"{what}: the layers with weights give [(layer, output shape)] "
                f"{[tuple(r) for r in got]}, expected {[tuple(r) for r in expected]}")


def train_probe(lab, rng, make_model, budget, images=False):
    """Train a fresh autoencoder with compile(loss="mse") and fit on (x, x) for the budget.

    Returns the test MSE before and after, and that of PCA with the same code size.
    """
    import keras
    x_train, x_test = digits("train", images), digits("test", images)
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]), loss="mse",
                  steps_per_execution=100)
    before = mse(model(x_test), x_test)
    model.fit(training_data(x_train, int(rng.integers(1 << 30)), budget["batch_size"]),
              steps_per_epoch=budget["steps"], epochs=1, verbose=0)
    return {"before": before, "after": mse(model(x_test), x_test),
            "pca": pca_test_mse(x_train, x_test, budget["code_dim"])}


def judge_training(student, reference, model):
    after = student["after"]
    expect_true(np.isfinite(after), f"after training, the {model}'s test MSE is {after}: "
                "its outputs are NaN or inf")
    context = (f"(it starts at {student['before']:.4f}; PCA with the same code size reaches "
               f"{student['pca']:.4f}, the reference {reference['after']:.4f})")
    expect_at_most(after, MSE_FACTOR * reference["after"],
                   f"the {model}'s test MSE per pixel after training {context}")


# ---------------------------------------------------------------------------------------------
# 1. PCA
# ---------------------------------------------------------------------------------------------

def fitted_pca(lab, rng, n=40, d=6, k=3):
    x = correlated_data(rng, n, d)
    return lab.pca.PCA(k).fit(x), (n, d, k)


@check(points=2, uses=PCA, hint="mean_ is the column mean; components_ are the first K ROWS of "
       "Vt from np.linalg.svd(x - mean_, full_matrices=False), singular_values_ the first K of s")
def pca_fit_components(lab, rng):
    model, _ = fitted_pca(lab, rng)
    return {"mean": np.asarray(model.mean_, np.float32),
            "components": np.asarray(model.components_, np.float32),
            "singular_values": np.asarray(model.singular_values_, np.float32)}


def judge_components(student, reference, what):
    expect_close(student["mean"], reference["mean"], f"mean_ after {what}")
    got = expect_shape(student["components"], reference["components"].shape,
                       f"components_ after {what} (one component per row)")
    # Each component is defined up to its sign: align the student's with the reference's.
    signs = np.where(np.sum(got * reference["components"], axis=1) < 0, -1.0, 1.0)
    expect_close((got * signs[:, None]).astype(np.float32), reference["components"],
                 f"components_ after {what} (up to the sign of each row)")
    expect_close(student["singular_values"], reference["singular_values"],
                 f"singular_values_ after {what}")


@pca_fit_components.verdict
def _(student, reference):
    judge_components(student, reference, "PCA(3).fit(x) on x (40, 6) with a non-zero mean")


@check(points=1, uses=PCA, hint="explained_variance_ = singular_values_^2 / (n_samples_ - 1); "
       "the ratio divides it by total_variance_")
def pca_explained_variance(lab, rng):
    # Given attributes, so this check does not depend on fit.
    model = lab.pca.PCA(3)
    singular_values = np.sort(rng.uniform(0.5, 6.0, size=3))[::-1]
    model.singular_values_, model.n_samples_ = singular_values, 21
    # Some variance lies outside the 3 components, as it would after a fit.
    model.total_variance_ = float(np.sum(singular_values ** 2) / 20 + rng.uniform(0.5, 2.0))
    return {name: np.asarray(getattr(model, f"{name}_"), np.float32)
            for name in ("explained_variance", "explained_variance_ratio")}


@pca_explained_variance.verdict
def _(student, reference):
    for name in ("explained_variance", "explained_variance_ratio"):
        expect_close(student[name], reference[name], f"{name}_ of a PCA(3) with given "
                     "singular_values_ (3,), n_samples_ = 21 and total_variance_")


@check(points=2, uses=PCA, hint="transform: (x - mean_) @ components_.T; inverse_transform: "
       "codes @ components_ + mean_")
def pca_transform_and_inverse(lab, rng):
    # Given attributes, so this check does not depend on fit.
    model = lab.pca.PCA(2)
    model.mean_ = rng.normal(size=5)
    model.components_ = np.linalg.qr(rng.normal(size=(5, 2)))[0].T
    x, codes = rng.normal(size=(7, 5)), rng.normal(size=(4, 2))
    return {"codes": np.asarray(model.transform(x), np.float32),
            "x_hat": np.asarray(model.inverse_transform(codes), np.float32)}


@pca_transform_and_inverse.verdict
def _(student, reference):
    expect_close(student["codes"], reference["codes"],
                 "transform(x) for x (7, 5), with given mean_ and components_ (2, 5)")
    expect_close(student["x_hat"], reference["x_hat"],
                 "inverse_transform(codes) for codes (4, 2), with given mean_ and components_")


@check(points=2, uses=PCA, hint="Qa, Qb = orthonormal bases (np.linalg.qr of basis.T); angles = "
       "arccos of the singular values of Qa.T @ Qb, clipped to [-1, 1], increasing")
def principal_angles(lab, rng):
    a, b = rng.normal(size=(3, 7)), rng.normal(size=(2, 7))
    same = rng.normal(size=(3, 3)) @ a            # another basis of the same subspace
    shared = np.vstack([a[:1], rng.normal(size=(1, 7))])  # one direction in common
    angles = lab.pca.principal_angles
    return {name: np.asarray(angles(*pair), np.float32) for name, pair in
            {"random": (a, b), "same": (a, same), "shared": (a, shared)}.items()}


@principal_angles.verdict
def _(student, reference):
    what = "principal_angles(basis_a, basis_b)"
    random = expect_shape(student["random"], reference["random"].shape,
                          f"{what} for a (3, 7) and a (2, 7) basis")
    expect_true(not np.allclose(random, 0.0) or np.allclose(reference["random"], 0.0),
                f"{what} gives all angles 0 for two random subspaces: were the bases "
                "orthonormalised before the SVD (cosines above 1 clip to an angle of 0)?")
    expect_close(student["random"], reference["random"],
                 f"{what} for a (3, 7) and a (2, 7) basis", atol=1e-4)
    same = expect_shape(student["same"], (3,), f"{what} for two bases (3, 7) of one subspace")
    expect_true(np.all(np.abs(same) < 1e-3), f"{what} of two different bases of the SAME subspace "
                f"must be all 0, got {np.round(same, 4).tolist()}: orthonormalise each basis first")
    expect_close(student["shared"], reference["shared"],
                 f"{what} for subspaces sharing one direction", atol=1e-3)


# ---------------------------------------------------------------------------------------------
# 2. The linear autoencoder
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MODELS, hint="one Dense(code_dim) in the encoder, one Dense(input_dim) in "
       "the decoder, no activation anywhere", reference=False)
def linear_autoencoder_model(lab, rng):
    model = lab.autoencoders.LinearAutoencoder(input_dim=10, code_dim=3)
    x1, x2 = (rng.normal(size=(5, 10)).astype("float32") for _ in range(2))
    mix = 0.3 * x1 + 0.7 * x2
    codes = model.encode(x1)
    return {"codes": codes, "x_hat": model(x1), "decoded": model.decode(codes),
            "mix": model(mix), "parts": [model(x1), model(x2)],
            "round_trip": round_trip(lab, model, x1, "linear")}


@linear_autoencoder_model.verdict
def _(student, _reference):
    expect_shape(student["codes"], (5, 3), "LinearAutoencoder(10, 3).encode(x) for x (5, 10)")
    expect_shape(student["x_hat"], (5, 10), "LinearAutoencoder(10, 3)(x) for x (5, 10)")
    expect_close(student["decoded"], student["x_hat"], "decode(encode(x)) against model(x)")
    first, second = (np.asarray(p, np.float64) for p in student["parts"])
    expect_close(student["mix"], (0.3 * first + 0.7 * second).astype(np.float32),
                 "model(0.3 x1 + 0.7 x2) against 0.3 model(x1) + 0.7 model(x2) (a linear "
                 "autoencoder is affine: is there an activation somewhere?)", atol=1e-4)
    judge_round_trip(student["round_trip"], "LinearAutoencoder", "LinearAutoencoder")


@check(points=3, uses=MODELS, timeout=40, hint=f"a LinearAutoencoder(64, 4) trained on the MSE "
       f"must reconstruct within {ANGLE_MARGIN_DEGREES:g} degrees of the PCA subspace (as close as the "
       "reference); it needs biases to centre the data")
def linear_autoencoder_recovers_pca(lab, rng):
    import keras
    import tensorflow as tf
    x_train, x_test = digits("train"), digits("test")
    model = lab.autoencoders.LinearAutoencoder(input_dim=64, code_dim=LINEAR["code_dim"])
    model.compile(optimizer=keras.optimizers.Adam(LINEAR["learning_rate"]), loss="mse",
                  steps_per_execution=100)
    full_batch = tf.data.Dataset.from_tensors((x_train, x_train)).repeat()
    model.fit(full_batch, steps_per_epoch=LINEAR["steps"], epochs=1, verbose=0)
    x_hat = np.asarray(model(x_test), dtype=np.float64)
    if not np.all(np.isfinite(x_hat)):
        return {"angles": [float("inf")] * LINEAR["code_dim"], "mse": float("inf"), "pca": 0.0}
    # The subspace the reconstructions live in, against the PCA subspace of the training data.
    angles = principal_angles_np(top_directions(x_hat, LINEAR["code_dim"]),
                                 top_directions(x_train, LINEAR["code_dim"]))
    return {"angles": np.degrees(angles), "mse": mse(x_hat, x_test),
            "pca": pca_test_mse(x_train, x_test, LINEAR["code_dim"])}


def largest_angle(output):
    """The largest principal angle in degrees (the handout quotes the reference's)."""
    return float(np.max(output["angles"]))


@linear_autoencoder_recovers_pca.verdict
def _(student, reference):
    angles = np.asarray(student["angles"], dtype=np.float64)
    expect_true(np.all(np.isfinite(angles)), "after training, the linear autoencoder's "
                "reconstructions are NaN or inf")
    expect_at_most(largest_angle(student), largest_angle(reference) + ANGLE_MARGIN_DEGREES,
                   "the largest principal angle between the subspace of the linear autoencoder's "
                   f"reconstructions and the PCA subspace (all angles: "
                   f"{np.round(angles, 1).tolist()}; test MSE {student['mse']:.4f}, PCA's "
                   f"{student['pca']:.4f}; the reference: {largest_angle(reference):.2f} degrees)",
                   unit=" degrees")


# ---------------------------------------------------------------------------------------------
# 3. The deep and convolutional autoencoders
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MODELS, hint="encoder: Dense(h, relu) for h in hidden_units, then a linear "
       "Dense(code_dim); decoder: the mirror image, ending in Dense(input_dim, sigmoid)")
def dense_autoencoder_model(lab, rng):
    model = lab.autoencoders.DenseAutoencoder(input_dim=20, code_dim=3, hidden_units=(16, 8))
    x = (4.0 * rng.normal(size=(6, 20))).astype("float32")  # large inputs, to test the ranges
    codes = model.encode(x)
    return {"codes": codes, "x_hat": model(x), "decoded": model.decode(codes),
            "encoder_layers": weight_layers(model.encoder, x),
            "decoder_layers": weight_layers(model.decoder, codes),
            "round_trip": round_trip(lab, model, x, "dense")}


@dense_autoencoder_model.verdict
def _(student, reference):
    what = "DenseAutoencoder(20, 3, hidden_units=(16, 8))"
    judge_layers(student["encoder_layers"], reference["encoder_layers"], f"{what}.encoder")
    judge_layers(student["decoder_layers"], reference["decoder_layers"], f"{what}.decoder")
    codes = expect_shape(student["codes"], (6, 3), f"{what}.encode(x) for x (6, 20)")
    expect_true(np.any(codes < 0), f"{what}.encode gives no negative code on 6 random inputs: "
                "the code layer must be linear (no relu on Dense(code_dim))")
    x_hat = expect_shape(student["x_hat"], (6, 20), f"{what}(x)")
    expect_true(np.all((x_hat >= 0) & (x_hat <= 1)), f"{what}(x) must give pixels in [0, 1] "
                f"(got {x_hat.min():.3g} to {x_hat.max():.3g}): end the decoder with a sigmoid")
    expect_close(student["decoded"], x_hat, f"{what}: decode(encode(x)) against model(x)")
    judge_round_trip(student["round_trip"], what, "DenseAutoencoder")


@check(points=2, uses=MODELS, timeout=40, hint="DenseAutoencoder(64, 4) trained with "
       "compile(loss='mse') must come within 25% of the reference's test MSE")
def dense_autoencoder_trains(lab, rng):
    return train_probe(lab, rng, lambda: lab.autoencoders.DenseAutoencoder(
        input_dim=64, code_dim=DENSE["code_dim"], hidden_units=DENSE["hidden_units"]), DENSE)


@dense_autoencoder_trains.verdict
def _(student, reference):
    judge_training(student, reference, "DenseAutoencoder(64, 4)")


@check(points=2, uses=MODELS, hint="encoder: two Conv2D(3x3, strides=2, padding='same', relu), "
       "Flatten, Dense(code_dim); decoder: Dense, Reshape, two Conv2DTranspose(3x3, strides=2, "
       "padding='same'), the last with a sigmoid")
def conv_autoencoder_model(lab, rng):
    model = lab.autoencoders.ConvAutoencoder(image_shape=(8, 8, 1), code_dim=5, filters=(4, 6))
    x = (4.0 * rng.normal(size=(3, 8, 8, 1))).astype("float32")
    codes = model.encode(x)
    return {"codes": codes, "x_hat": model(x), "decoded": model.decode(codes),
            "encoder_layers": weight_layers(model.encoder, x),
            "decoder_layers": weight_layers(model.decoder, codes),
            "round_trip": round_trip(lab, model, x, "conv")}


@conv_autoencoder_model.verdict
def _(student, reference):
    what = "ConvAutoencoder((8, 8, 1), code_dim=5, filters=(4, 6))"
    judge_layers(student["encoder_layers"], reference["encoder_layers"], f"{what}.encoder")
    judge_layers(student["decoder_layers"], reference["decoder_layers"], f"{what}.decoder")
    expect_shape(student["codes"], (3, 5), f"{what}.encode(x) for x (3, 8, 8, 1)")
    x_hat = expect_shape(student["x_hat"], (3, 8, 8, 1), f"{what}(x) for x (3, 8, 8, 1)")
    expect_true(np.all((x_hat >= 0) & (x_hat <= 1)), f"{what}(x) must give pixels in [0, 1] "
                f"(got {x_hat.min():.3g} to {x_hat.max():.3g}): the last Conv2DTranspose needs "
                "a sigmoid")
    expect_close(student["decoded"], x_hat, f"{what}: decode(encode(x)) against model(x)")
    judge_round_trip(student["round_trip"], what, "ConvAutoencoder")


@check(points=2, uses=MODELS, timeout=40, hint="ConvAutoencoder((8, 8, 1), 4) trained with "
       "compile(loss='mse') must come within 25% of the reference's test MSE")
def conv_autoencoder_trains(lab, rng):
    return train_probe(lab, rng, lambda: lab.autoencoders.ConvAutoencoder(
        image_shape=(8, 8, 1), code_dim=CONV["code_dim"], filters=CONV["filters"]), CONV,
        images=True)


@conv_autoencoder_trains.verdict
def _(student, reference):
    judge_training(student, reference, "ConvAutoencoder((8, 8, 1), 4)")


# ---------------------------------------------------------------------------------------------
# 4. The denoising autoencoder
# ---------------------------------------------------------------------------------------------

def probe_autoencoder(input_dim=64, code_dim=16, hidden=64):
    """A plain Keras MLP autoencoder, so the denoising checks do not need DenseAutoencoder."""
    import keras
    from keras import layers
    return keras.Sequential([keras.Input((input_dim,)), layers.Dense(hidden, activation="relu"),
                             layers.Dense(code_dim), layers.Dense(hidden, activation="relu"),
                             layers.Dense(input_dim, activation="sigmoid")], name="probe_ae")


@check(points=1, uses=MODELS, hint="x_noisy = clip(x + noise_stddev * epsilon, 0, 1)")
def corrupt(lab, rng):
    x = rng.random(size=(6, 10)).astype("float32")
    epsilon = rng.normal(size=(6, 10)).astype("float32")
    return {"x_noisy": lab.autoencoders.corrupt(x, 0.4, epsilon),
            "images": lab.autoencoders.corrupt(x.reshape(6, 5, 2, 1), 0.1,
                                               epsilon.reshape(6, 5, 2, 1))}


@corrupt.verdict
def _(student, reference):
    x_noisy = expect_shape(student["x_noisy"], (6, 10), "corrupt(x, 0.4, epsilon) for x (6, 10)")
    expect_true(np.all((x_noisy >= 0) & (x_noisy <= 1)), "corrupt must clip to the pixel range "
                f"[0, 1], got values from {x_noisy.min():.3g} to {x_noisy.max():.3g}")
    expect_close(x_noisy, reference["x_noisy"], "corrupt(x, 0.4, epsilon)")
    expect_close(student["images"], reference["images"], "corrupt(x, 0.1, epsilon) on images")


@check(points=2, uses=MODELS, hint="corrupt x with the given epsilon, run the autoencoder on the "
       "NOISY input, and take the MSE against the CLEAN x", reference=False)
def denoising_loss(lab, rng):
    x = digits("test")[:32]
    epsilon = rng.normal(size=x.shape).astype("float32")
    autoencoder = probe_autoencoder()
    model = lab.autoencoders.DenoisingAutoencoder(autoencoder, noise_stddev=0.5)
    noisy = np.clip(x + 0.5 * epsilon, 0.0, 1.0)
    return {"loss": model.denoising_loss(x, epsilon), "clean_target": mse(autoencoder(noisy), x),
            "noisy_target": mse(autoencoder(noisy), noisy), "no_noise": mse(autoencoder(x), x)}


@denoising_loss.verdict
def _(student, _reference):
    what = "DenoisingAutoencoder(autoencoder, noise_stddev=0.5).denoising_loss(x, epsilon)"
    loss = expect_shape(student["loss"], (), f"{what} (one number: the mean over the batch)")
    for mistake, message in (("noisy_target", "the target must be the CLEAN x, not the noisy "
                              "input"), ("no_noise", "the autoencoder must see the corrupted x")):
        if np.isclose(loss, student[mistake], rtol=1e-4) \
                and not np.isclose(loss, student["clean_target"], rtol=1e-4):
            raise CheckFailed(f"{what} is {float(loss):.5f}: {message}")
    expect_close(np.float32(loss), np.float32(student["clean_target"]),
                 f"{what}, against the MSE of autoencoder(clip(x + 0.5 epsilon, 0, 1)) and x",
                 rtol=1e-4)


@check(points=2, uses=MODELS, timeout=40, hint="train_step: denoising_loss inside a GradientTape, "
       "optimizer.scale_loss, tape.gradient w.r.t. self.trainable_variables, optimizer.apply, "
       "then loss_tracker; must denoise within 15% of the reference")
def denoising_train_step(lab, rng):
    import keras
    x_train, x_test = digits("train"), digits("test")
    noisy_test = np.clip(x_test + DENOISING["noise_stddev"] * rng.normal(size=x_test.shape),
                         0.0, 1.0).astype("float32")
    model = lab.autoencoders.DenoisingAutoencoder(
        probe_autoencoder(code_dim=DENOISING["code_dim"]), noise_stddev=DENOISING["noise_stddev"])
    model.compile(optimizer=keras.optimizers.Adam(DENOISING["learning_rate"]),
                  steps_per_execution=100)
    before = mse(model(noisy_test), x_test)
    history = model.fit(training_data(x_train, int(rng.integers(1 << 30)),
                                      DENOISING["batch_size"], paired=False),
                        steps_per_epoch=DENOISING["steps"], epochs=1, verbose=0).history
    return {"before": before, "after": mse(model(noisy_test), x_test),
            "noisy": mse(noisy_test, x_test), "logged": json.dumps(sorted(history)),
            "round_trip": round_trip(lab, model, noisy_test[:16], "denoising")}


@denoising_train_step.verdict
def _(student, reference):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return "
                "{'loss': self.loss_tracker.result()}")
    after = student["after"]
    expect_true(np.isfinite(after), f"after training, the denoiser's test MSE is {after}")
    expect_at_most(after, DENOISING_MSE_FACTOR * reference["after"],
                   "the test MSE between the denoised noisy test digits and the clean ones "
                   f"(the noisy digits themselves: {student['noisy']:.4f}; before training "
                   f"{student['before']:.4f}; the reference after training: "
                   f"{reference['after']:.4f})")
    judge_round_trip(student["round_trip"], "DenoisingAutoencoder", "DenoisingAutoencoder")


# ---------------------------------------------------------------------------------------------
# 5. Latent-space interpolation
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


@check(points=1, uses=MODELS, hint="t = np.linspace(0, 1, steps)[:, None]; codes = (1 - t) * "
       "code_start + t * code_end")
def interpolate(lab, rng):
    start, end = (rng.normal(size=3).astype("float32") for _ in range(2))
    return {"codes": lab.autoencoders.interpolate(start, end, 5), "start": start, "end": end}


@interpolate.verdict
def _(student, reference):
    judge_path(student["codes"], reference["start"], reference["end"], reference["codes"],
               "interpolate(code_start, code_end, steps=5) for codes of size 3")


class LinearMaps:
    """A stand-in autoencoder for (8, 8, 1) images: encode and decode are fixed linear maps."""

    def __init__(self, rng, code_dim=3):
        self.down = rng.normal(size=(64, code_dim)).astype("float32") / 8
        self.up = rng.normal(size=(code_dim, 64)).astype("float32")

    def encode(self, x):
        x = np.asarray(x, dtype=np.float32)
        return x.reshape(len(x), 64) @ self.down

    def decode(self, codes):
        codes = np.asarray(codes, dtype=np.float32)
        return (codes @ self.up).reshape(len(codes), 8, 8, 1)


@check(points=1, uses=MODELS, hint="codes = autoencoder.encode(np.stack([x_start, x_end])); "
       "decode interpolate(codes[0], codes[1], steps)")
def interpolate_images(lab, rng):
    autoencoder = LinearMaps(rng)
    x = digits("test", images=True)[:2]
    images = lab.autoencoders.interpolate_images(autoencoder, x[0], x[1], 4)
    return {"images": images, "start": autoencoder.decode(autoencoder.encode(x[:1]))[0],
            "end": autoencoder.decode(autoencoder.encode(x[1:]))[0]}


@interpolate_images.verdict
def _(student, reference):
    judge_path(student["images"], reference["start"], reference["end"], reference["images"],
               "interpolate_images(autoencoder, x_start, x_end, steps=4) for (8, 8, 1) digits",
               names=("the reconstruction of x_start", "the reconstruction of x_end"))
