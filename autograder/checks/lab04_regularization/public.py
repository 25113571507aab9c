"""Public checks of lab04_regularization.

The maths (the L2 penalty, AdamW, shifts, the attacks) is compared with the reference on
the same inputs; the random layers are judged on their statistics and modes, which need no
reference; early stopping is compared with keras.callbacks.EarlyStopping on scripted
validation losses. The attacks target a classifier whose weights the probe fixes. This file
ships to students, so it holds no attack of its own: the training check measures robustness
with the student's fgsm and pgd (the reference with the reference's); a hidden check
measures it again with attacks of its own.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import trajectory
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_finite,
    expect_shape,
    expect_true,
)

# ---------------------------------------------------------------------------------------------
# Helpers: run in the worker (probes) or here (verdicts); numpy only at module level
# ---------------------------------------------------------------------------------------------


def gradient_problem(rng, shapes, steps):
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    gradients = [[(rng.normal(size=s) * 10.0 ** rng.uniform(-2, 0.5, size=s)).astype("float32")
                  for s in shapes] for _ in range(steps)]
    return initial, gradients


def adamw_numpy(initial, gradients, lr, decay, beta_1=0.9, beta_2=0.999, eps=1e-7,
                slip=None):
    """AdamW in float64 numpy, optionally with a named slip; for diagnoses only."""
    w = np.concatenate([np.ravel(v) for v in initial]).astype(np.float64)
    m, v, out = np.zeros_like(w), np.zeros_like(w), []
    for t, step in enumerate(gradients, start=1):
        g = np.concatenate([np.ravel(x) for x in step]).astype(np.float64)
        if slip == "through_gradient":
            g = g + decay * w
        elif slip == "without_learning_rate":
            w = w - decay * w
        elif slip != "no_decay":
            w = w - lr * decay * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        w = w - lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + eps)
        out.append(w.copy())
    return np.stack(out)


ADAMW_SLIPS = {
    "through_gradient": "Adam with the decay added to the GRADIENT (g + lambda * w, that is "
                        "L2 in the loss): decoupled decay shrinks the weights directly, "
                        "w <- w - lr * lambda * w, and leaves g alone",
    "no_decay": "plain Adam: the weights are not decayed",
    "without_learning_rate": "a decay of lambda * w per step: Keras scales it by the learning "
                             "rate, w <- w - lr * lambda * w",
}


def judge_adamw(student, reference, what):
    expected = np.asarray(reference["keras"])
    actual = expect_shape(student["student"], expected.shape,
                          f"the variables after each of the {len(expected)} steps of {what}")
    expect_finite(actual, f"the variables during {what}")
    if np.allclose(actual, expected, rtol=2e-4, atol=2e-5):
        return
    hyper = reference["hyper"]
    for slip, meaning in ADAMW_SLIPS.items():
        variant = adamw_numpy(reference["initial"], reference["gradients"], hyper["lr"],
                              hyper["decay"], slip=slip)
        if np.allclose(actual, variant, rtol=1e-3, atol=1e-4):
            raise CheckFailed(f"{what}: the variables follow {meaning}")
    step = int(np.argmax([not np.allclose(a, e, rtol=2e-4, atol=2e-5)
                          for a, e in zip(actual, expected)]))
    expect_close(actual[step], expected[step], f"{what}: the variables after step {step + 1} "
                 "(against keras.optimizers.AdamW on the same gradients)")


def probe_classifier(rng, input_dim=64, hidden=32, num_classes=10):
    """A small tanh MLP whose weights the probe draws from rng (no zero input gradients)."""
    import keras
    model = keras.Sequential([keras.Input((input_dim,)), keras.layers.Dense(hidden, "tanh"),
                              keras.layers.Dense(num_classes)])
    for weight in model.trainable_weights:
        # Kernels scaled by their fan-in so the logits are of order 1-3, biases small.
        scale = 2.4 / np.sqrt(weight.shape[0]) if len(weight.shape) == 2 else 0.5
        weight.assign((scale * rng.normal(size=weight.shape)).astype("float32"))
    return model


def mean_loss(classifier, x, y):
    """The classifier's mean cross-entropy on (x, y), computed by the checks (not the lab)."""
    import keras
    logits = keras.ops.cast(classifier(np.asarray(x, "float32")), "float32")
    return float(np.mean(keras.losses.sparse_categorical_crossentropy(y, logits,
                                                                      from_logits=True)))


def attack_data(n=40, offset=0):
    from dlkit.data import load_digits
    x, y = load_digits("test", flatten=True)
    return x[offset:offset + n], y[offset:offset + n]


def attack_result(classifier, x, y, x_adv):
    return {"x": x, "x_adv": x_adv, "clean_loss": mean_loss(classifier, x, y),
            "adversarial_loss": mean_loss(classifier, x_adv, y)}


def loss_raise(output):
    return float(output["adversarial_loss"] - output["clean_loss"])


def judge_attack(student, reference, what, epsilon, clip=(0.0, 1.0), exact=True,
                 share=0.9, ball_hint="project onto it after every step"):
    """An attack's output: its shape, range, ball, the loss it adds, and (exact) the
    reference's adversarial examples."""
    x = np.asarray(reference["x"], dtype=np.float64)
    x_adv = expect_shape(student["x_adv"], x.shape, what).astype(np.float64)
    expect_finite(x_adv, what)
    low, high = float(x_adv.min()), float(x_adv.max())
    expect_true(low >= clip[0] - 1e-6 and high <= clip[1] + 1e-6,
                f"{what} has values from {low:.4g} to {high:.4g}, outside the data range "
                f"[{clip[0]:g}, {clip[1]:g}]: clip the adversarial examples to it")
    distance = float(np.max(np.abs(x_adv - x)))
    expect_at_most(distance, epsilon + 1e-5,
                   f"||x_adv - x||_inf of {what} (the attack must stay in the epsilon-ball; "
                   f"{ball_hint})")
    raised, wanted = loss_raise(student), loss_raise(reference)
    expect_true(raised > 0, f"{what} LOWERS the classifier's mean loss, from "
                f"{student['clean_loss']:.4f} to {student['adversarial_loss']:.4f}: the step "
                "goes down the gradient (x - ...), an attack goes UP it")
    expect_at_least(raised, share * wanted,
                    f"the rise of the mean cross-entropy that {what} causes (the reference "
                    f"attack raises it by {wanted:.4f}; is the step epsilon * sign(gradient), "
                    "the largest move inside the ball?)")
    if exact:
        expect_close(x_adv.astype(np.float32), reference["x_adv"], what, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# 1. Weight decay
# ---------------------------------------------------------------------------------------------

PENALTY_SHAPES = ((3, 4), (5,), (2, 2, 3))


@check(points=1, hint="l2_penalty = (coefficient / 2) * sum over every weight of sum(w^2): "
                      "its gradient is coefficient * w",
       uses="weight_decay")
def l2_penalty(lab, rng):
    import tensorflow as tf
    weights = [tf.Variable(rng.normal(size=s).astype("float32")) for s in PENALTY_SHAPES]
    with tf.GradientTape() as tape:
        penalty = lab.weight_decay.l2_penalty(weights, 0.3)
    gradients = tape.gradient(penalty, weights)
    return {"penalty": penalty,
            "gradients": [np.zeros(w.shape, "float32") if g is None else g
                          for w, g in zip(weights, gradients)]}


@l2_penalty.verdict
def _(student, reference):
    what = "l2_penalty(weights of shapes (3, 4), (5,), (2, 2, 3), coefficient=0.3)"
    penalty = float(expect_finite(expect_shape(student["penalty"], (), what), what))
    ratio = penalty / float(reference["penalty"])
    for factor, slip in ((2.0, "a missing 1/2: the penalty is (coefficient / 2) * sum w^2"),
                         (0.5, "one 1/2 too many: the penalty is (coefficient / 2) * sum w^2")):
        expect_true(abs(ratio - factor) > 1e-3, f"{what} is {factor:g} times the reference "
                    f"({slip}, so that its gradient is coefficient * w)")
    expect_close(student["penalty"], reference["penalty"], what)
    for shape, got, want in zip(PENALTY_SHAPES, student["gradients"], reference["gradients"]):
        expect_close(got, want, f"the gradient of l2_penalty with respect to the {shape} weight "
                     "(it must be coefficient * w)")


ADAMW = {"lr": 0.05, "decay": 0.4}


def adamw_probe(lab, rng, shapes, steps, hyper):
    import keras
    initial, gradients = gradient_problem(rng, shapes, steps)
    return {"initial": initial, "gradients": gradients, "hyper": hyper,
            "student": trajectory(
                lab.weight_decay.AdamW(learning_rate=hyper["lr"], decay=hyper["decay"]),
                initial, gradients),
            "keras": trajectory(
                keras.optimizers.AdamW(learning_rate=hyper["lr"], weight_decay=hyper["decay"]),
                initial, gradients)}


@check(points=2, hint="in update_step, before the given Adam step: "
                      "self.assign_sub(variable, learning_rate * decay * variable); "
                      "the gradient is not touched", uses="weight_decay")
def adamw_matches_keras(lab, rng):
    return adamw_probe(lab, rng, ((3, 4), (5,)), 6, ADAMW)


@adamw_matches_keras.verdict
def _(student, reference):
    judge_adamw(student, reference, "AdamW(learning_rate=0.05, decay=0.4), 6 steps")


DECAY_COMPARISON = {"steps": 12, "sgd_lr": 0.1, "adam_lr": 0.05, "coefficient": 0.2}


def regression_problem(rng, n=32, d=5, k=3):
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, k)) + 0.5 * rng.normal(size=(n, k))).astype("float32")
    return x, y, rng.normal(size=(d, k)).astype("float32")


def decay_trajectory(lab, optimizer, x, y, w0, steps, l2=0.0):
    """Gradient steps on the squared error of a linear model, with l2_penalty added to the
    loss when l2 > 0. Returns (steps, P): the weights after each step."""
    import keras
    import tensorflow as tf
    w = keras.Variable(w0, name="weights")
    after = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
            if l2:
                loss = loss + lab.weight_decay.l2_penalty([w], l2)
        optimizer.apply([tape.gradient(loss, w)], [w])
        after.append(np.ravel(w.numpy()).copy())
    return np.stack(after)


@check(points=2, hint="with SGD, (lambda/2)||w||^2 in the loss IS decoupled decay "
                      "(SGD(weight_decay=lambda)); with Adam it is not: AdamW must decay the "
                      "weights outside the gradient", uses="weight_decay")
def l2_equals_decoupled_decay_only_for_sgd(lab, rng):
    import keras
    x, y, w0 = regression_problem(rng)
    c, steps = DECAY_COMPARISON["coefficient"], DECAY_COMPARISON["steps"]
    return {
        "sgd_l2": decay_trajectory(lab, keras.optimizers.SGD(DECAY_COMPARISON["sgd_lr"]),
                                   x, y, w0, steps, l2=c),
        "sgd_decoupled": decay_trajectory(
            lab, keras.optimizers.SGD(DECAY_COMPARISON["sgd_lr"], weight_decay=c), x, y, w0,
            steps),
        "adam_l2": decay_trajectory(lab, keras.optimizers.Adam(DECAY_COMPARISON["adam_lr"]),
                                    x, y, w0, steps, l2=c),
        "adamw": decay_trajectory(
            lab, lab.weight_decay.AdamW(DECAY_COMPARISON["adam_lr"], decay=c), x, y, w0, steps)}


@l2_equals_decoupled_decay_only_for_sgd.verdict
def _(student, reference):
    c = DECAY_COMPARISON["coefficient"]
    expect_close(student["sgd_l2"], student["sgd_decoupled"],
                 f"SGD on loss + l2_penalty(w, {c}) (it must equal keras SGD(weight_decay={c}) "
                 "on the plain loss, step for step)", rtol=1e-3, atol=1e-5)
    gap = float(np.max(np.abs(np.asarray(student["adam_l2"]) - np.asarray(student["adamw"]))))
    wanted = float(np.max(np.abs(reference["adam_l2"] - reference["adamw"])))
    expect_true(gap >= 0.5 * wanted,
                f"Adam on loss + l2_penalty(w, {c}) and your AdamW(decay={c}) end up at most "
                f"{gap:.3g} apart over {DECAY_COMPARISON['steps']} steps, where the reference's "
                f"differ by {wanted:.3g}: for Adam the two kinds of decay are NOT the same, so "
                "AdamW must not add the decay to the gradient")
    expect_close(student["adamw"], reference["adamw"],
                 f"the weights under AdamW(decay={c}) on a least-squares problem", rtol=1e-3,
                 atol=1e-5)
    expect_close(student["adam_l2"], reference["adam_l2"],
                 f"the weights under Adam on loss + l2_penalty(w, {c})", rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# 2. Noise layers: dropout and Gaussian noise
# ---------------------------------------------------------------------------------------------

DROPOUT_RATES = (0.3, 0.7)


@check(points=1, reference=False, uses="noise_layers",
       hint="when training is False or None (predict, evaluate, layer(x)), return x unchanged: "
            "inverted dropout needs no rescaling at inference")
def dropout_inference_is_identity(lab, rng):
    x = rng.normal(size=(6, 50)).astype("float32")
    layer = lab.noise_layers.InvertedDropout(0.4, seed=1)
    return {"x": x, "default": layer(x), "inference": layer(x, training=False)}


@dropout_inference_is_identity.verdict
def _(student, _reference):
    x = np.asarray(student["x"])
    for key, call in (("default", "InvertedDropout(0.4)(x) (training not given)"),
                      ("inference", "InvertedDropout(0.4)(x, training=False)")):
        out = expect_shape(student[key], x.shape, call)
        changed = int(np.sum(out != x))
        expect_true(changed == 0, f"{call} changes {changed} of {x.size} entries "
                    f"({int(np.sum(out == 0))} are zero): at inference dropout must return x "
                    "itself; only training=True drops")


@check(points=2, reference=False, uses="noise_layers",
       hint="in training, zero each entry with probability rate and divide the others by "
            "(1 - rate): the mean of the output equals the mean of the input")
def dropout_training_statistics(lab, rng):
    x = rng.uniform(0.5, 1.5, size=(200, 500)).astype("float32")
    return {"x": x, "rates": list(DROPOUT_RATES),
            "out": [lab.noise_layers.InvertedDropout(rate, seed=7)(x, training=True)
                    for rate in DROPOUT_RATES]}


@dropout_training_statistics.verdict
def _(student, _reference):
    x = np.asarray(student["x"], dtype=np.float64)
    for rate, out in zip(student["rates"], student["out"]):
        what = f"InvertedDropout({rate})(x, training=True) on x of shape {x.shape}"
        out = expect_shape(out, x.shape, what).astype(np.float64)
        expect_finite(out, what)
        zeroed = out == 0
        # The zeroed fraction is a mean of 100000 coin flips: its sd is below 0.0015.
        expect_true(abs(zeroed.mean() - rate) <= 0.01,
                    f"{what} zeroes {zeroed.mean():.1%} of the entries, expected {rate:.0%} "
                    "(keep an entry when uniform >= rate)")
        kept = out[~zeroed] / x[~zeroed]
        expect_true(np.allclose(kept, 1.0 / (1.0 - rate), rtol=1e-5),
                    f"{what} multiplies the entries it keeps by {np.median(kept):.4g}, expected "
                    f"1 / (1 - rate) = {1 / (1 - rate):.4g} (inverted dropout scales in "
                    "training so that the mean is preserved)")
        ratio = out.mean() / x.mean()
        expect_true(abs(ratio - 1.0) <= 0.02,
                    f"{what}: the mean of the output is {ratio:.3f} times the mean of the input, "
                    "expected 1")


@check(points=1, reference=False, uses="noise_layers",
       hint="draw the mask from keras.random.uniform(..., seed=self.seed_generator), the "
            "SeedGenerator made in __init__: a new mask per call, the same sequence per seed")
def dropout_mask_is_random_and_seeded(lab, rng):
    x = np.ones((8, 256), "float32")
    first, twin, other = (lab.noise_layers.InvertedDropout(0.5, seed=s) for s in (3, 3, 4))
    return {"call_1": first(x, training=True), "call_2": first(x, training=True),
            "twin": twin(x, training=True), "other_seed": other(x, training=True)}


@dropout_mask_is_random_and_seeded.verdict
def _(student, _reference):
    masks = {k: np.asarray(v) == 0 for k, v in student.items()}
    differ = float(np.mean(masks["call_1"] != masks["call_2"]))
    expect_true(differ > 0.3, f"two calls of the same InvertedDropout(0.5) layer in training "
                f"drop different entries in only {differ:.1%} of the places (about 50% "
                "expected): draw a new mask per call from the layer's SeedGenerator")
    expect_true(np.array_equal(masks["call_1"], masks["twin"]),
                "two InvertedDropout(0.5, seed=3) layers draw different first masks: the mask "
                "must come from a SeedGenerator built with the layer's seed")
    expect_true(not np.array_equal(masks["call_1"], masks["other_seed"]),
                "InvertedDropout layers with seeds 3 and 4 draw the same mask")


@check(points=1, reference=False, uses="noise_layers",
       hint="call(x, training=None): Keras passes training=True through a Model called with "
            "training=True (and in fit), and False in predict; get_config is given")
def dropout_in_a_model(lab, rng):
    import keras
    x = rng.uniform(0.5, 1.5, size=(16, 64)).astype("float32")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, use_bias=False),
                              lab.noise_layers.InvertedDropout(0.5, seed=2)])
    out = {"training": model(x, training=True), "inference": model(x, training=False),
           "default": model(x), "predict": model.predict(x, verbose=0)}
    path = str(lab.tmpdir / "dropout.keras")
    model.save(path)
    out["reloaded"] = keras.saving.load_model(path).predict(x, verbose=0)
    return out


@dropout_in_a_model.verdict
def _(student, _reference):
    clean = np.asarray(student["inference"])
    for key, call in (("default", "model(x)"), ("predict", "model.predict(x)"),
                      ("reloaded", "the reloaded model's predict(x)")):
        expect_close(student[key], clean, f"{call} of Sequential([Dense, InvertedDropout(0.5)]) "
                     "(inference: no dropout, same as model(x, training=False))")
    dropped = float(np.mean(np.asarray(student["training"]) == 0))
    expect_true(0.35 <= dropped <= 0.65, f"model(x, training=True) zeroes {dropped:.0%} of the "
                "outputs of InvertedDropout(0.5): the layer must use the training argument "
                "Keras passes it")


@check(points=1, reference=False, uses="noise_layers",
       hint="GaussianNoise: x + stddev * keras.random.normal(shape, seed=self.seed_generator) "
            "in training only")
def gaussian_noise_layer(lab, rng):
    x = rng.normal(size=(100, 400)).astype("float32")
    layer = lab.noise_layers.GaussianNoise(0.3, seed=5)
    return {"x": x, "inference": layer(x), "call_1": layer(x, training=True),
            "call_2": layer(x, training=True)}


@gaussian_noise_layer.verdict
def _(student, _reference):
    x = np.asarray(student["x"], dtype=np.float64)
    expect_close(student["inference"], x, "GaussianNoise(0.3)(x) at inference", rtol=0, atol=0)
    noise = expect_shape(student["call_1"], x.shape, "GaussianNoise(0.3)(x, training=True)") - x
    expect_finite(noise, "GaussianNoise(0.3)(x, training=True)")
    # 40000 draws: the sample mean's sd is 0.0015, the sample sd's about 0.001.
    expect_true(abs(noise.mean()) <= 0.01 and abs(noise.std() - 0.3) <= 0.01,
                f"GaussianNoise(0.3) in training adds noise of mean {noise.mean():.4f} and "
                f"standard deviation {noise.std():.4f}, expected 0 and 0.3")
    again = np.asarray(student["call_2"]) - x
    expect_true(np.mean(np.abs(again - noise) > 1e-6) > 0.9,
                "two training calls of GaussianNoise add the same noise: draw it from the "
                "layer's SeedGenerator")


# ---------------------------------------------------------------------------------------------
# 3. Data augmentation
# ---------------------------------------------------------------------------------------------

def shift_numpy(images, shifts):
    """out[n, i, j] = images[n, i - dy, j - dx] where it exists, else 0; for verdicts."""
    images = np.asarray(images)
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    for n, (dy, dx) in enumerate(np.asarray(shifts, dtype=int)):
        if abs(dy) < height and abs(dx) < width:
            out[n, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
                images[n, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    return out


def judge_shift(student, reference, what):
    images, shifts = reference["images"], reference["shifts"]
    actual = expect_shape(student["out"], images.shape, what)
    if not np.allclose(actual, reference["out"], atol=1e-6):
        for slip, variant in (("by -(dy, dx): the content must move DOWN and RIGHT for "
                               "positive offsets", shift_numpy(images, -shifts)),
                              ("by (dx, dy): shifts[:, 0] is the row offset dy",
                               shift_numpy(images, shifts[:, ::-1])),
                              ("cyclically (np.roll-like): the pixels leaving one side must "
                               "not come back on the other, zeros fill in", None)):
            if variant is None:
                rolled = np.stack([np.roll(img, tuple(s), axis=(0, 1))
                                   for img, s in zip(images, shifts)])
                variant = rolled
            if np.allclose(actual, variant, atol=1e-6):
                raise CheckFailed(f"{what} moves the images {slip}")
    expect_close(actual, reference["out"], what, atol=1e-6)


@check(points=2, uses="augmentation",
       hint="out[n, i, j] = images[n, i - dy_n, j - dx_n] (zeros where that is outside): "
            "e.g. ops.einsum with the given shift_matrices")
def shift_images(lab, rng):
    images = rng.uniform(0.1, 1.0, size=(6, 8, 8, 1)).astype("float32")
    shifts = rng.integers(-3, 4, size=(6, 2)).astype("int32")
    shifts[0] = (2, 0)   # one pure row shift and one pure column shift, named in messages
    shifts[1] = (0, -1)
    return {"images": images, "shifts": shifts,
            "out": lab.augmentation.shift_images(images, shifts)}


@shift_images.verdict
def _(student, reference):
    judge_shift(student, reference, "shift_images(images (6, 8, 8, 1), shifts)")


RANDOM_SHIFT = {"max_shift": 2, "images": 300}


def identify_shifts(images, out, max_shift):
    """The (dy, dx) within max_shift that explains each output, or (99, 99) when none does."""
    found = np.full((len(images), 2), 99)
    out = np.asarray(out).reshape(len(images), -1)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            candidate = shift_numpy(images, np.tile([dy, dx], (len(images), 1)))
            found[np.all(np.abs(candidate.reshape(len(images), -1) - out) <= 1e-6, axis=1)] = \
                (dy, dx)
    return found


@check(points=2, reference=False, uses="augmentation",
       hint="RandomShift.call: in training draw (N, 2) offsets with keras.random.randint(shape, "
            "-max_shift, max_shift + 1, seed=self.seed_generator), then shift_images; at "
            "inference return the images")
def random_shift_layer(lab, rng):
    images = rng.uniform(0.1, 1.0, size=(RANDOM_SHIFT["images"], 6, 6, 1)).astype("float32")
    layer = lab.augmentation.RandomShift(RANDOM_SHIFT["max_shift"], seed=11)
    twin = lab.augmentation.RandomShift(RANDOM_SHIFT["max_shift"], seed=11)
    return {"images": images, "inference": layer(images), "call_1": layer(images, training=True),
            "call_2": layer(images, training=True), "twin": twin(images, training=True)}


@random_shift_layer.verdict
def _(student, _reference):
    images = np.asarray(student["images"])
    limit = RANDOM_SHIFT["max_shift"]
    expect_close(student["inference"], images, "RandomShift(2)(images) at inference", rtol=0,
                 atol=0)
    what = "RandomShift(2)(images, training=True)"
    out = expect_shape(student["call_1"], images.shape, what)
    shifts = identify_shifts(images, out, limit)
    bad = np.flatnonzero(shifts[:, 0] == 99)
    expect_true(len(bad) == 0, f"{what}: {len(bad)} of {len(images)} outputs (first: image "
                f"{bad[0] if len(bad) else 0}) are not the image shifted by integer offsets in "
                f"[-{limit}, {limit}] with zeros filling in")
    seen = {tuple(s) for s in shifts}
    expect_true(len(seen) == (2 * limit + 1) ** 2,
                f"over {len(images)} images, {what} used {len(seen)} of the "
                f"{(2 * limit + 1) ** 2} possible offsets: draw dy and dx independently, per "
                f"image, uniformly from -{limit} to {limit} (randint's maxval is exclusive)")
    second = identify_shifts(images[:40], np.asarray(student["call_2"])[:40], limit)
    expect_true(np.mean(np.any(second != shifts[:40], axis=1)) > 0.5,
                "two training calls of the same RandomShift layer shift the images alike: draw "
                "new offsets per call from the layer's SeedGenerator")
    expect_close(student["twin"], out, "RandomShift(2, seed=11): two layers with the same seed "
                 "(the first call of each)", rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 4. Early stopping
# ---------------------------------------------------------------------------------------------

# Validation-loss scripts and settings: (losses, patience, min_delta, restore_best_weights).
SCRIPTS = [
    ([1.0, 0.8, 0.7, 0.72, 0.71, 0.69, 0.75, 0.8, 0.9, 1.0], 2, 0.0, True),
    ([1.0, 0.8, 0.7, 0.68, 0.67, 0.66, 0.75, 0.8, 0.9, 1.0], 2, 0.05, True),
    ([1.0, 0.9, 0.95, 0.85, 0.85, 0.84, 0.9, 0.91, 0.92, 0.93], 0, 0.0, True),
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], 1, 0.0, True),
    ([0.5, 0.6, 0.4, 0.45, 0.46, 0.47, 0.48, 0.3], 3, 0.0, False),
    ([0.9, 0.88, 0.87, 0.9, 0.86, 0.86, 0.95, 0.85, 0.99, 0.99, 0.99, 0.99], 3, 0.01, True),
]


def describe_script(script):
    losses, patience, min_delta, restore = script
    return (f"patience={patience}, min_delta={min_delta}, restore_best_weights={restore} on "
            f"val_loss {losses}")


def drive_callback(callback, losses):
    """Run the callback through a scripted training the way fit does; the weights of the
    tiny model hold the epoch number, so the final weights tell which epoch they are from.
    Returns (epochs run, the epoch of the final weights)."""
    import keras
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    callback.set_model(model)
    callback.on_train_begin()
    ran = 0
    for epoch, loss in enumerate(losses):
        model.set_weights([np.full((1, 1), epoch, "float32"), np.full((1,), epoch, "float32")])
        callback.on_epoch_end(epoch, {"loss": 0.1, "val_loss": float(loss)})
        ran = epoch + 1
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, int(round(float(model.get_weights()[0][0, 0])))


def early_stopping_probe(lab, scripts):
    import keras
    out = {"student_epochs": [], "student_weights_from": [], "keras_epochs": [],
           "keras_weights_from": []}
    for losses, patience, min_delta, restore in scripts:
        ours = lab.early_stopping.EarlyStopping(monitor="val_loss", patience=patience,
                                                min_delta=min_delta, restore_best_weights=restore)
        theirs = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=patience,
                                               min_delta=min_delta, restore_best_weights=restore)
        for who, callback in (("student", ours), ("keras", theirs)):
            ran, weights_from = drive_callback(callback, losses)
            out[f"{who}_epochs"].append(ran)
            out[f"{who}_weights_from"].append(weights_from)
    return out


def judge_early_stopping(student, reference, scripts):
    for index, script in enumerate(scripts):
        ran, wanted = student["student_epochs"][index], reference["keras_epochs"][index]
        expect_true(ran == wanted, f"with {describe_script(script)}, your callback stops "
                    f"training after {ran} epochs; keras.callbacks.EarlyStopping after {wanted}")
    for index, script in enumerate(scripts):
        got, wanted = (student["student_weights_from"][index],
                       reference["keras_weights_from"][index])
        expect_true(got == wanted, f"with {describe_script(script)}, training ends with the "
                    f"weights of epoch {got}; keras.callbacks.EarlyStopping leaves those of "
                    f"epoch {wanted} (epochs counted from 0)")


@check(points=3, uses="early_stopping",
       hint="improvement: current < best - min_delta; wait counts epochs since the last one; "
            "stop when wait >= patience; keep model.get_weights() of the best epoch and "
            "set_weights it in on_train_end")
def early_stopping_on_scripted_losses(lab, rng):
    return early_stopping_probe(lab, SCRIPTS)


@early_stopping_on_scripted_losses.verdict
def _(student, reference):
    judge_early_stopping(student, reference, SCRIPTS)


FIT_SCRIPT = [1.0, 0.7, 0.6, 0.65, 0.55, 0.58, 0.6, 0.62, 0.7, 0.8, 0.9, 1.0]


@check(points=1, uses="early_stopping",
       hint="inside fit, the callback stops training with self.model.stop_training = True and "
            "restores the best epoch's weights in on_train_end")
def early_stopping_in_fit(lab, rng):
    import keras

    class ScriptedValidationLoss(keras.callbacks.Callback):
        """Writes the scripted val_loss into the logs the later callbacks see."""
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = FIT_SCRIPT[epoch]

    class WeightRecorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    recorder = WeightRecorder()
    stopper = lab.early_stopping.EarlyStopping(patience=3, restore_best_weights=True)
    history = model.fit(x, y, batch_size=32, epochs=len(FIT_SCRIPT), verbose=0,
                        callbacks=[ScriptedValidationLoss(), recorder, stopper])
    final = model.get_weights()
    matches = [i for i, w in enumerate(recorder.weights)
               if all(np.allclose(a, b) for a, b in zip(w, final))]
    return {"epochs": len(history.history["loss"]), "weights_from": matches[-1] if matches else -1}


@early_stopping_in_fit.verdict
def _(student, reference):
    what = f"fit with EarlyStopping(patience=3, restore_best_weights=True) on val_loss {FIT_SCRIPT}"
    expect_true(student["epochs"] == reference["epochs"],
                f"{what} ran {student['epochs']} epochs, expected {reference['epochs']}")
    got = student["weights_from"]
    expect_true(got == reference["weights_from"],
                f"{what} ends with the weights of "
                f"{'no epoch seen' if got < 0 else f'epoch {got}'}, expected those of epoch "
                f"{reference['weights_from']} (the best one, counted from 0)")


# ---------------------------------------------------------------------------------------------
# 5. Adversarial examples
# ---------------------------------------------------------------------------------------------

@check(points=1, uses="adversarial",
       hint="tape.watch(x) (x is a tensor, not a variable), loss = sum of per_example_loss, "
            "return tape.gradient(loss, x)")
def input_gradient(lab, rng):
    classifier = probe_classifier(rng)
    x, y = attack_data(20)
    return {"grad": lab.adversarial.input_gradient(classifier, x, y)}


@input_gradient.verdict
def _(student, reference):
    expect_close(student["grad"], reference["grad"], "input_gradient(classifier, x (20, 64), y) "
                 "(the gradient of the SUMMED cross-entropy)", atol=1e-5)


FGSM_EPSILON = 0.1


@check(points=2, uses="adversarial",
       hint="x_adv = clip(x + epsilon * sign(input_gradient), clip_min, clip_max): the sign, "
            "not the raw gradient, and a plus: the attack climbs the loss")
def fgsm(lab, rng):
    classifier = probe_classifier(rng)
    x, y = attack_data()
    return attack_result(classifier, x, y, lab.adversarial.fgsm(classifier, x, y, FGSM_EPSILON))


@fgsm.verdict
def _(student, reference):
    judge_attack(student, reference, f"fgsm(classifier, x, y, epsilon={FGSM_EPSILON})",
                 FGSM_EPSILON, ball_hint="epsilon * sign(gradient) moves each pixel by exactly "
                 "epsilon; the raw gradient can move it by any amount")


@check(points=1, uses="adversarial",
       hint="project_linf: clip x_adv coordinate-wise to [x - epsilon, x + epsilon]")
def project_linf(lab, rng):
    x = rng.uniform(size=(10, 12)).astype("float32")
    x_adv = (x + rng.normal(scale=0.3, size=x.shape)).astype("float32")
    return {"projected": lab.adversarial.project_linf(x_adv, x, 0.2)}


@project_linf.verdict
def _(student, reference):
    expect_close(student["projected"], reference["projected"],
                 "project_linf(x_adv, x, epsilon=0.2)")


PGD = {"epsilon": 0.1, "step_size": 0.03, "steps": 6}


def pgd_call(lab, classifier, x, y, budget, **options):
    return lab.adversarial.pgd(classifier, x, y, budget["epsilon"], budget["step_size"],
                               budget["steps"], **options)


@check(points=2, uses="adversarial",
       hint="steps times: x_adv + step_size * sign(input_gradient at x_adv), then project_linf "
            "onto the ball around the ORIGINAL x, then clip to [clip_min, clip_max]")
def pgd(lab, rng):
    classifier = probe_classifier(rng)
    x, y = attack_data()
    return attack_result(classifier, x, y, pgd_call(lab, classifier, x, y, PGD))


@pgd.verdict
def _(student, reference):
    judge_attack(student, reference, "pgd(classifier, x, y, epsilon=0.1, step_size=0.03, "
                 "steps=6)", PGD["epsilon"])


@check(points=1, uses="adversarial",
       hint="with random_start the given code starts from a random point of the ball; the "
            "loop must still project onto the ball around x and climb the loss")
def pgd_random_start(lab, rng):
    classifier = probe_classifier(rng)
    x, y = attack_data()
    result = attack_result(classifier, x, y,
                           pgd_call(lab, classifier, x, y, PGD, random_start=True, seed=5))
    result["again"] = pgd_call(lab, classifier, x, y, PGD, random_start=True, seed=5)
    return result


@pgd_random_start.verdict
def _(student, reference):
    what = "pgd(..., epsilon=0.1, step_size=0.03, steps=6, random_start=True, seed=5)"
    judge_attack(student, reference, what, PGD["epsilon"], exact=False, share=0.8)
    expect_close(student["again"], student["x_adv"], f"{what} called twice (the same seed)",
                 atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 6. Adversarial training
# ---------------------------------------------------------------------------------------------

@check(points=2, uses="adversarial",
       hint="train_step: x_adv = self.attack(x, y); in the tape the classifier on x_adv with "
            "training=True, mean cross-entropy (float32); gradients of the classifier's "
            "variables; optimizer.apply; update the loss and accuracy trackers")
def adversarial_train_step(lab, rng):
    import keras
    import tensorflow as tf
    x, y = attack_data(32)
    x_adv = np.clip(x + rng.choice([-0.1, 0.1], size=x.shape), 0, 1).astype("float32")
    classifier = probe_classifier(rng)
    model = lab.adversarial.AdversarialTraining(classifier, epsilon=0.1)
    # The attack is replaced by fixed examples, so the step is checked on its own.
    model.attack = lambda inputs, labels: tf.constant(x_adv)
    model.compile(keras.optimizers.SGD(0.5))
    losses = {"clean_loss": mean_loss(classifier, x, y),
              "adversarial_loss": mean_loss(classifier, x_adv, y)}
    logs = model.train_on_batch(x, y, return_dict=True)
    return {"after": [w.numpy() for w in classifier.trainable_weights], "logged": sorted(logs),
            "logged_loss": float(logs.get("loss", np.nan)), **losses}


@adversarial_train_step.verdict
def _(student, reference):
    expect_true(student["logged"] == ["accuracy", "loss"],
                f"train_step returned {student['logged']}; it must report 'loss' and 'accuracy'")
    logged, wanted = student["logged_loss"], student["adversarial_loss"]
    if abs(logged - wanted) > 1e-4 * max(1.0, abs(logged)):
        hint = (" (that is the loss on the CLEAN batch: train on self.attack(x, y))"
                if abs(logged - student["clean_loss"]) < 1e-4 else "")
        raise CheckFailed(f"train_step logged a loss of {logged:.5f}; the mean cross-entropy "
                          f"on the adversarial examples is {wanted:.5f}{hint}")
    for index, (got, want) in enumerate(zip(student["after"], reference["after"])):
        expect_close(got, want, f"classifier weight {index} after one train_step with SGD(0.5) "
                     "(against the reference's: one gradient step on the mean cross-entropy at "
                     "self.attack(x, y))", rtol=1e-3, atol=1e-5)


ADVERSARIAL_TRAINING = {"hidden_units": (64,), "epsilon": 0.15, "step_size": 0.06, "steps": 3,
                        "learning_rate": 1e-2, "batch_size": 64, "epochs": 6}
# Robustness is measured with YOUR attacks at the training epsilon: fgsm, and pgd from x in
# MEASURING_PGD_STEPS steps of epsilon / 4 (the reference with its own, the same way); a
# hidden check measures it again with attacks the student did not write. The reference lands
# at 54-61 % under FGSM over training seeds, standard training at 14-24 %.
MEASURING_PGD_STEPS = 10
ROBUST_MARGIN = 0.1
CLEAN_MARGIN = 0.06


def accuracy(classifier, x, y):
    return float(np.mean(np.argmax(np.asarray(classifier(x)), axis=-1) == y))


def train_classifier(lab, kind, budget):
    """The lab's MLP after `budget` of standard or adversarial training on the digits."""
    import keras

    from dlkit.data import load_digits
    x_train, y_train = load_digits("train", flatten=True)
    classifier = lab.adversarial.make_mlp(hidden_units=budget["hidden_units"])
    optimizer = keras.optimizers.Adam(budget["learning_rate"])
    if kind == "standard":   # nothing the student writes: the same for both
        model = classifier
        model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      steps_per_execution=8)
    else:
        model = lab.adversarial.AdversarialTraining(
            classifier, epsilon=budget["epsilon"], step_size=budget["step_size"],
            steps=budget["steps"])
        model.compile(optimizer, steps_per_execution=8)
    model.fit(x_train, y_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
              shuffle=True, verbose=0)
    return classifier


def robustness_probe(lab, budget, attacks, kinds=("standard", "adversarial")):
    """Train each kind of classifier; its clean test accuracy and its test accuracy under
    each of `attacks` (name -> attack(classifier, x, y, epsilon)) at the budget's epsilon."""
    from dlkit.data import load_digits
    x_test, y_test = load_digits("test", flatten=True)
    # All training first: a missing train_step is reported before a missing attack.
    classifiers = {kind: train_classifier(lab, kind, budget) for kind in kinds}
    results = {}
    for kind, classifier in classifiers.items():
        results[f"{kind}_clean"] = accuracy(classifier, x_test, y_test)
        for name, attack in attacks.items():
            x_adv = np.asarray(attack(classifier, x_test, y_test, budget["epsilon"]), "float32")
            if x_adv.shape != x_test.shape:
                raise ValueError(f"{name} returned adversarial test digits of shape "
                                 f"{x_adv.shape} for inputs of shape {x_test.shape} (this "
                                 f"check measures robustness with your {name}: see its check)")
            results[f"{kind}_{name}"] = accuracy(classifier, x_adv, y_test)
    return results


def lab_attacks(lab):
    """The lab's own fgsm and pgd (from x, MEASURING_PGD_STEPS steps of epsilon / 4)."""
    def pgd(classifier, x, y, epsilon):
        return lab.adversarial.pgd(classifier, x, y, epsilon, epsilon / 4, MEASURING_PGD_STEPS)
    return {"fgsm": lab.adversarial.fgsm, "pgd": pgd}


def robust_gain(output):
    """How much adversarial training raises FGSM accuracy over standard training."""
    return float(output["adversarial_fgsm"] - output["standard_fgsm"])


def judge_adversarial_training(student, reference, epsilon, measured_with):
    """Robustness relative to the reference's; `measured_with` (which attacks measured it)
    ends every message."""
    summary = (f"clean / FGSM / PGD accuracy at epsilon {epsilon}: "
               + (f"standard training {student['standard_clean']:.1%} / "
                  f"{student['standard_fgsm']:.1%} / {student['standard_pgd']:.1%}, "
                  if "standard_clean" in student else "")
               + f"your adversarial training {student['adversarial_clean']:.1%} / "
               f"{student['adversarial_fgsm']:.1%} / {student['adversarial_pgd']:.1%}; the "
               f"reference's adversarial training {reference['adversarial_clean']:.1%} / "
               f"{reference['adversarial_fgsm']:.1%} / {reference['adversarial_pgd']:.1%}")
    try:
        if "standard_fgsm" in student:
            expect_true(robust_gain(student) >= 0.5 * robust_gain(reference),
                        f"adversarial training barely improves robustness ({summary}). Does "
                        "train_step train on self.attack(x, y), and does pgd climb the loss?")
        for attack in ("fgsm", "pgd"):
            expect_at_least(student[f"adversarial_{attack}"],
                            reference[f"adversarial_{attack}"] - ROBUST_MARGIN,
                            f"the {attack.upper()} accuracy after adversarial training "
                            f"({summary})")
        expect_at_least(student["adversarial_clean"],
                        reference["adversarial_clean"] - CLEAN_MARGIN,
                        f"the clean test accuracy after adversarial training ({summary})")
    except CheckFailed as failure:
        message = str(failure).rstrip()
        end = " " if message.endswith((".", "?")) else ". "
        raise CheckFailed(f"{message}{end}{measured_with}") from None


@check(points=4, timeout=40, uses="adversarial",
       hint="AdversarialTraining.train_step must train the classifier on PGD examples of each "
            "batch: robust accuracy (measured with your fgsm and pgd) must rise well above "
            "standard training's")
def adversarial_training_improves_robustness(lab, rng):
    return robustness_probe(lab, ADVERSARIAL_TRAINING, lab_attacks(lab))


@adversarial_training_improves_robustness.verdict
def _(student, reference):
    judge_adversarial_training(
        student, reference, ADVERSARIAL_TRAINING["epsilon"],
        "Robustness here is measured with YOUR attacks, fgsm(classifier, x, y, epsilon) and "
        f"pgd(classifier, x, y, epsilon, epsilon / 4, {MEASURING_PGD_STEPS}), the reference's "
        "with its own: a broken attack shows up here too, so make the checks input_gradient, "
        "fgsm, project_linf and pgd pass first.")
