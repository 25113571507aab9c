"""Public checks of lab17_self_supervised, part 1: the augmenter, the contrastive and BYOL
losses, the EMA update, the ramp-up and consistency loss, the linear probe. The losses are
compared with the explicit enumerations of probes.py (float64) and with the stored outputs;
a wrong answer that equals a known slip is named."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab17_self_supervised.probes import (
    byol_distance,
    info_nce_enumerated,
    nt_xent_enumerated,
)
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
)

LOSS = {"rtol": 1e-5, "atol": 1e-5}
FLIPS = ("RandomFlip",)
GEOMETRIC = ("RandomTranslation", "RandomCrop", "RandomZoom")
PHOTOMETRIC = ("RandomContrast", "RandomBrightness", "GaussianNoise")


@check(points=2, uses="selfsup", reference=False, task="`make_augmenter`",
       hint="keras.Sequential of RandomTranslation, RandomContrast, RandomBrightness, "
            "GaussianNoise (seeds seed, seed + 1, ...) and a clip to [0, 1]; no RandomFlip "
            "for digits")
def augmenter(lab, rng):
    """The layers (a geometric one, a photometric or noise one, no flip), each random one
    with its own seed; identity at inference; two training calls give two different views of the same digit, in [0, 1], each
    close to the digit and closer to it than to its mirror image."""
    from dlkit.data import load_digits
    x = load_digits("train")[0][:64]
    layer = lab.selfsup.make_augmenter(seed=int(rng.integers(100)))
    view1 = np.asarray(layer(x, training=True))
    view2 = np.asarray(layer(x, training=True))
    flat = x.reshape(len(x), -1)
    mirror = x[:, :, ::-1].reshape(len(x), -1)

    def corr(a, b):
        a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
        return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)
    v = view1.reshape(len(x), -1)
    parts = getattr(layer, "layers", [layer])
    seeds = [sub.seed for sub in parts if type(sub).__name__ in FLIPS + GEOMETRIC + PHOTOMETRIC
             and isinstance(getattr(sub, "seed", None), int)]
    return {"layers": [type(sub).__name__ for sub in parts], "seeds": seeds,
            "inference_change": float(np.abs(np.asarray(layer(x, training=False)) - x).max()),
            "shape": list(view1.shape), "low": float(min(view1.min(), view2.min())),
            "high": float(max(view1.max(), view2.max())),
            "views_differ": float(np.abs(view1 - view2).mean()),
            "change": float(np.abs(view1 - x).mean()),
            "to_digit": float(np.mean(corr(v, flat))), "to_mirror": float(np.mean(corr(v, mirror)))}


@augmenter.verdict
def _(student, _reference):
    layers = student["layers"]
    flips = [name for name in layers if name in FLIPS]
    expect_true(not flips, f"make_augmenter() holds {flips}: a mirrored 2, 3, 5 or 7 is not that "
                "digit (or not a digit), so flips teach the encoder the wrong invariance")
    expect_true(any(name in GEOMETRIC for name in layers), f"make_augmenter() holds {layers}: "
                "it needs a random translation (or crop)")
    expect_true(any(name in PHOTOMETRIC for name in layers), f"make_augmenter() holds {layers}: "
                "it needs random contrast, brightness or Gaussian noise")
    seeds = list(student.get("seeds", []))
    expect_true(len(set(seeds)) == len(seeds), f"make_augmenter(seed) gives its random layers "
                f"the seeds {seeds}: layers with the same seed draw the same random numbers, so "
                "their changes are correlated (the largest shift always comes with the largest "
                "contrast change); give each its own seed: seed, seed + 1, ...")
    expect_equal(student["shape"], [64, 8, 8, 1], "the shape of augmenter(x, training=True)")
    expect_at_most(student["inference_change"], 1e-6,
                   "max |augmenter(x, training=False) - x| (inference must be the identity)")
    expect_true(student["low"] >= 0.0 and student["high"] <= 1.0 + 1e-6,
                f"augmented pixels span [{student['low']:.3g}, {student['high']:.3g}]: clip them "
                "to [0, 1] (keras.layers.ReLU(max_value=1.0))")
    expect_at_least(student["views_differ"], 0.01, "mean |view1 - view2| of two training calls "
                    "(the two views of SimCLR must differ)")
    expect_at_most(student["change"], 0.3, "mean |augmenter(x) - x| (the view must still show "
                   "the digit: shift by at most 1 pixel, mild photometric changes)")
    expect_true(student["to_digit"] > student["to_mirror"] + 0.1,
                f"the views correlate {student['to_digit']:.3f} with the digit and "
                f"{student['to_mirror']:.3f} with its mirror image: too strong or a flip")


@check(points=3, uses="selfsup", task="`nt_xent_loss`",
       hint="stack both views (2N rows), L2-normalise, cosine / temperature, mask each row's "
            "similarity with itself; the positive of row i is i + N (i < N) or i - N")
def nt_xent(lab, rng):
    """On random embeddings of unequal norms (N = 5, D = 4; temperatures 0.5 and 0.1) against
    an explicit enumeration of every anchor's positive and negatives; the loss is symmetric in
    the two views."""
    z1 = (rng.normal(size=(5, 4)) * rng.uniform(0.5, 3.0, size=(5, 1))).astype("float32")
    z2 = (z1 + 0.7 * rng.normal(size=(5, 4))).astype("float32")
    out = {"z1": z1, "z2": z2}
    for t in (0.5, 0.1):
        out[f"loss_{t}"] = float(lab.selfsup.nt_xent_loss(z1, z2, t))
        out[f"swapped_{t}"] = float(lab.selfsup.nt_xent_loss(z2, z1, t))
        out[f"expected_{t}"] = nt_xent_enumerated(z1, z2, t)
        out[f"slips_{t}"] = [nt_xent_enumerated(z1, z2, t, **{flag: False}) for flag in
                             ("normalise", "both_views", "skip_self", "divide")]
    return out


SLIPS = ("does not L2-normalise the embeddings (the similarity is a cosine)",
         "uses only the N anchors of the first view: the symmetric form averages over all 2N",
         "keeps each row's similarity with itself in the denominator (mask the diagonal)",
         "multiplies by the temperature instead of dividing")


@nt_xent.verdict
def _(student, reference):
    for t in (0.5, 0.1):
        what = f"nt_xent_loss(z1, z2, temperature={t})"
        expect_close_naming(student[f"loss_{t}"], student[f"expected_{t}"], what,
                            list(zip(student[f"slips_{t}"], SLIPS)), **LOSS)
        expect_close(student[f"swapped_{t}"], student[f"loss_{t}"],
                     f"nt_xent_loss(z2, z1, {t}) against nt_xent_loss(z1, z2, {t}) (symmetric)",
                     **LOSS)
        expect_close(student[f"loss_{t}"], reference[f"loss_{t}"], what, **LOSS)


@check(points=2, uses="selfsup", task="`info_nce_loss`",
       hint="logits = predictions @ targets^T (no normalisation); row i's label is i; mean "
            "cross-entropy over the rows")
def info_nce(lab, rng):
    """On random (7, 4) predictions and targets against an enumeration; equal scores give
    log M."""
    p = rng.normal(size=(7, 4)).astype("float32") * rng.uniform(0.5, 2.0, size=(7, 1)).astype("float32")
    t = rng.normal(size=(7, 4)).astype("float32")
    return {"loss": float(lab.selfsup.info_nce_loss(p, t)),
            "expected": info_nce_enumerated(p, t),
            "slips": [info_nce_enumerated(p, t, transpose=True),
                      info_nce_enumerated(p, t, normalise=True)],
            "uniform": float(lab.selfsup.info_nce_loss(np.zeros((6, 3), "float32"), t[:6, :3]))}


@info_nce.verdict
def _(student, reference):
    expect_close_naming(student["loss"], student["expected"], "info_nce_loss(predictions, "
                        "targets)", list(zip(student["slips"], (
                            "normalises over the predictions (columns) instead of over the "
                            "targets of each row", "normalises the vectors: InfoNCE scores are "
                            "plain dot products"))), **LOSS)
    expect_close(student["uniform"], np.log(6.0), "info_nce_loss of 6 all-equal scores "
                 "(must be log 6)", **LOSS)
    expect_close(student["loss"], reference["loss"], "info_nce_loss(predictions, targets)", **LOSS)


@check(points=1, uses="selfsup", task="`byol_loss`",
       hint="mean over rows of 2 - 2 cos(p, t): l2-normalise both, then the row dot product")
def byol_regression(lab, rng):
    """On random (6, 5) rows against the squared distance of the unit vectors; invariant to
    the scale of either argument."""
    p, t = (rng.normal(size=(6, 5)).astype("float32") for _ in range(2))
    return {"loss": float(lab.selfsup.byol_loss(p, t)),
            "scaled": float(lab.selfsup.byol_loss(3.0 * p, 0.25 * t)),
            "expected": byol_distance(p, t),
            "slips": [float(np.mean(np.sum((p - t) ** 2, axis=1))),
                      6 * byol_distance(p, t)]}


@byol_regression.verdict
def _(student, reference):
    expect_close_naming(student["loss"], student["expected"], "byol_loss(p, t)", list(zip(
        student["slips"], ("is the squared error of the raw vectors: normalise both first",
                           "sums over the rows: take the mean"))), **LOSS)
    expect_close(student["scaled"], student["loss"], "byol_loss(3 p, t / 4) against byol_loss(p, "
                 "t) (a cosine ignores the scale)", **LOSS)
    expect_close(student["loss"], reference["loss"], "byol_loss(p, t)", **LOSS)


@check(points=1, uses="selfsup", task="`ema_update`",
       hint="target.assign(decay * target + (1 - decay) * online) for each pair")
def ema(lab, rng):
    """Two pairs of variables, decay 0.9: the targets move 10 % of the way, the online
    variables do not move."""
    import keras
    shapes = [(3, 2), (4,)]
    target0 = [rng.normal(size=s) for s in shapes]
    online0 = [rng.normal(size=s) for s in shapes]
    targets = [keras.Variable(v.astype("float32")) for v in target0]
    online = [keras.Variable(v.astype("float32")) for v in online0]
    lab.selfsup.ema_update(targets, online, 0.9)
    return {"targets": [np.asarray(v.numpy()) for v in targets],
            "online": [np.asarray(v.numpy()) for v in online],
            "target0": target0, "online0": online0}


@ema.verdict
def _(student, reference):
    for k in range(2):
        expected = 0.9 * student["target0"][k] + 0.1 * student["online0"][k]
        swapped = 0.1 * student["target0"][k] + 0.9 * student["online0"][k]
        expect_close_naming(student["targets"][k], expected.astype(np.float32),
                            f"target variable {k} after ema_update(targets, online, 0.9)",
                            [(swapped, "moved 90 % of the way: the target keeps decay, the "
                              "online twin gets 1 - decay")], **LOSS)
        expect_close(student["online"][k], student["online0"][k].astype(np.float32),
                     f"online variable {k} after ema_update (it must not change)", **LOSS)
        expect_close(student["targets"][k], reference["targets"][k], "the EMA target", **LOSS)


@check(points=1, uses="selfsup", task="`sigmoid_rampup`, `consistency_loss`",
       hint="exp(-5 (1 - clip(step / ramp_steps, 0, 1))^2); consistency: mean over rows of "
            "the summed squared differences")
def rampup_and_consistency(lab, rng):
    """The ramp at steps 0, 25, 50, 100 and 150 of a 100-step ramp (Python and tensor
    steps); the consistency loss of random class distributions (6 rows, 4 classes)."""
    import tensorflow as tf
    steps = [0, 25, 50, 100, 150]
    logits = rng.normal(size=(2, 6, 4))
    p, q = (np.exp(a) / np.exp(a).sum(axis=1, keepdims=True) for a in logits)
    p, q = p.astype("float32"), q.astype("float32")
    return {"ramp": [float(lab.selfsup.sigmoid_rampup(s, 100)) for s in steps],
            "ramp_tensor": float(lab.selfsup.sigmoid_rampup(tf.constant(50, tf.int64), 100)),
            "consistency": float(lab.selfsup.consistency_loss(p, q)),
            "expected": float(sum(np.dot(a - b, a - b) for a, b in
                                  zip(p.astype(np.float64), q.astype(np.float64))) / 6)}


@rampup_and_consistency.verdict
def _(student, reference):
    t = np.clip(np.array([0, 25, 50, 100, 150]) / 100.0, 0, 1)
    expect_close(student["ramp"], np.exp(-5 * (1 - t) ** 2), "sigmoid_rampup(step, 100) at steps "
                 "0, 25, 50, 100, 150", **LOSS)
    expect_close(student["ramp_tensor"], np.exp(-5 * 0.25), "sigmoid_rampup(tf.constant(50), 100)",
                 **LOSS)
    expect_close_naming(student["consistency"], student["expected"], "consistency_loss(p, q)",
                        [(student["expected"] / 4, "averages over the classes: sum them, "
                          "average over the rows")], **LOSS)
    expect_close(student["consistency"], reference["consistency"], "consistency_loss(p, q)",
                 **LOSS)


@check(points=2, uses="selfsup", task="`linear_probe_accuracy`",
       hint="features with training=False, standardised by the training mean and std; a "
            "Dense(num_classes) trained full batch; the encoder must not change")
def linear_probe(lab, rng):
    """On digits (10 labels per class) with the checks' encoder (a fixed random projection
    followed by dropout, so features taken in training mode are noisy): the accuracy, close
    to the stored one and to scikit-learn's logistic regression on the same features; 30
    full-batch optimizer steps for 30 epochs; on a test set unlike the training set (its
    training rows of digits 0 and 1) the test features are standardised with the training
    statistics; the encoder's weights do not change."""
    import keras

    from autograder.checks.lab17_self_supervised.probes import (
        few_labels,
        sklearn_probe_accuracy,
        weights_of,
    )
    from dlkit.data import load_digits
    x_train, y_train = load_digits("train")
    x_test, y_test = load_digits("test")
    index = few_labels(y_train, 10, seed=3)
    keras.utils.set_random_seed(3)
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(24, activation="tanh"),
                                keras.layers.Dropout(0.5)])
    before = weights_of(encoder.weights)
    optimizers = []   # every optimizer built during the call, to count its steps
    original_init = keras.optimizers.Optimizer.__init__

    def recorded(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        optimizers.append(self)
    keras.optimizers.Optimizer.__init__ = recorded
    try:
        accuracy = lab.selfsup.linear_probe_accuracy(encoder, x_train[index], y_train[index],
                                                     x_test, y_test, epochs=30)
        steps = sum(int(o.iterations.numpy()) for o in optimizers)
        # A test set unlike the training set: the training rows of digits 0 and 1. Standardised
        # with the training features' statistics they are what the probe was fitted on;
        # standardised with their own, they move and the probe misreads them.
        shifted = np.flatnonzero(y_train[index] <= 1)
        on_shifted = lab.selfsup.linear_probe_accuracy(
            encoder, x_train[index], y_train[index], x_train[index][shifted],
            y_train[index][shifted], epochs=30)
    finally:
        keras.optimizers.Optimizer.__init__ = original_init
    moved = max(float(np.abs(a - b).max()) for a, b in zip(weights_of(encoder.weights), before))
    features = [np.asarray(encoder(x, training=False)) for x in (x_train[index], x_test)]
    return {"accuracy": float(accuracy), "moved": moved, "steps": steps,
            "optimizers": len(optimizers), "rows": len(index),
            "on_shifted": float(on_shifted),
            "sklearn": sklearn_probe_accuracy(features[0], y_train[index], features[1], y_test)}


@linear_probe.verdict
def _(student, reference):
    expect_at_most(student["moved"], 0.0, "the largest change of the encoder's weights during "
                   "linear_probe_accuracy (the encoder is frozen)")
    if student.get("optimizers") and student["steps"] != 30:
        raise CheckFailed(f"linear_probe_accuracy(..., epochs=30) on {student['rows']} training "
                          f"rows took {student['steps']} optimizer steps, expected 30: the probe "
                          "trains full batch, one step on all the rows per epoch "
                          "(batch_size=len(x_train))")
    if "on_shifted" in reference:
        expect_at_least(student["on_shifted"], reference["on_shifted"] - 0.25,
                        "linear_probe_accuracy on a test set that is the probe's own training "
                        f"rows of digits 0 and 1 (the reference: {reference['on_shifted']:.3f}; "
                        "standardise the test features with the TRAINING features' mean and "
                        "std, never with the test set's own)")
    expect_close(student["accuracy"], reference["accuracy"], "linear_probe_accuracy(...) on the "
                 "checks' encoder (features in training mode are noisy: use training=False)",
                 atol=0.04, rtol=0)
    expect_close(student["accuracy"], student["sklearn"], "linear_probe_accuracy(...) against "
                 "scikit-learn's logistic regression on the same frozen features", atol=0.08,
                 rtol=0)
