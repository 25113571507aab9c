"""Public checks of lab04_regularization, part 1: weight decay (weight_decay.py) and the
noise layers (noise_layers.py).

The L2 penalty and AdamW are compared with the reference and keras.optimizers.AdamW on the
same inputs (probes.py names the usual AdamW slips); the random layers are judged on their
statistics and modes, which need no reference.
"""
import numpy as np

from autograder.api import check
from autograder.checks.lab04_regularization.probes import adamw_probe, judge_adamw
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

# ---------------------------------------------------------------------------------------------
# 1. Weight decay
# ---------------------------------------------------------------------------------------------

PENALTY_SHAPES = ((3, 4), (5,), (2, 2, 3))


@check(points=1, task="`l2_penalty` (weight_decay.py)", uses="weight_decay",
       hint="l2_penalty = (coefficient / 2) * sum over every weight of sum(w^2): its gradient "
            "is coefficient * w")
def l2_penalty(lab, rng):
    """The penalty of three weights, and its gradient coefficient * w."""
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


@check(points=2, task="the decay in `AdamW.update_step`", uses="weight_decay",
       hint="in update_step, before the given Adam step: self.assign_sub(variable, "
            "learning_rate * decay * variable); the gradient is not touched")
def adamw_matches_keras(lab, rng):
    """Six steps against `keras.optimizers.AdamW` on the same gradients (a slip such as the
    decay added to the gradient is named)."""
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


@check(points=2, task="(`l2_penalty` and `AdamW` together)", uses="weight_decay",
       hint="with SGD, (lambda/2)||w||^2 in the loss IS decoupled decay "
            "(SGD(weight_decay=lambda)); with Adam it is not: AdamW must decay the weights "
            "outside the gradient")
def l2_equals_decoupled_decay_only_for_sgd(lab, rng):
    """On a least-squares problem, SGD on loss + `l2_penalty` equals `SGD(weight_decay)` step
    for step; Adam on loss + `l2_penalty` and your `AdamW` end up clearly apart, each matching
    the reference."""
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
       task="`InvertedDropout.call` (noise_layers.py)",
       hint="when training is False or None (predict, evaluate, layer(x)), return x unchanged: "
            "inverted dropout needs no rescaling at inference")
def dropout_inference_is_identity(lab, rng):
    """`layer(x)` and `layer(x, training=False)` return x."""
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


@check(points=2, reference=False, uses="noise_layers", task="`InvertedDropout.call`",
       hint="in training, zero each entry with probability rate and divide the others by "
            "(1 - rate): the mean of the output equals the mean of the input")
def dropout_training_statistics(lab, rng):
    """Rates 0.3 and 0.7 on 100 000 entries: the zeroed fraction within 1 point of the rate,
    the kept entries scaled by exactly 1 / (1 - rate), the mean preserved."""
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


@check(points=1, reference=False, uses="noise_layers", task="`InvertedDropout.call`",
       hint="draw the mask from keras.random.uniform(..., seed=self.seed_generator), the "
            "SeedGenerator made in __init__: a new mask per call, the same sequence per seed")
def dropout_mask_is_random_and_seeded(lab, rng):
    """A new mask per call, the same masks for the same seed, other masks for another."""
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


@check(points=1, reference=False, uses="noise_layers", task="`InvertedDropout.call`",
       hint="call(x, training=None): Keras passes training=True through a Model called with "
            "training=True (and in fit), and False in predict; get_config is given")
def dropout_in_a_model(lab, rng):
    """In a `Sequential`, `model(x, training=True)` drops, `model(x)` and `predict` do not;
    the model saves and reloads as `.keras`."""
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


@check(points=1, reference=False, uses="noise_layers", task="`GaussianNoise.call`",
       hint="GaussianNoise: x + stddev * keras.random.normal(shape, seed=self.seed_generator) "
            "in training only")
def gaussian_noise_layer(lab, rng):
    """Identity at inference; in training noise of mean 0 and standard deviation 0.3, new at
    each call."""
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

