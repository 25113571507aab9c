"""Public checks of lab21_explainability, part 1: the gradient methods (gradients.py).

input_gradients and guided_backprop are held against an explicit backward sweep over the
layers (probes.layerwise_gradient); SmoothGrad and integrated gradients run on the checks'
SineModel with its exact gradient standing in for input_gradients, so each is graded on its
own lines and completeness is measured against the exact path integral."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import standing_in
from autograder.checks.lab21_explainability.probes import (
    SineModel,
    layerwise_gradient,
    sine_gradients,
    softplus_backward,
    tiny_convnet,
)
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_shape,
    expect_true,
)

# Integrated gradients on SineModel: |sum(IG) - (f(x) - f(baseline))| at 32 steps (the
# reference's default) stays below this fraction of |f(x) - f(baseline)| summed over the
# batch; the midpoint rule's error falls about 16-fold for 4 times the steps.
IG_TOLERANCE = 1e-2


# The checks' tiny CNN holds a layer that, like Dropout, acts only in training mode.
TRAINING_MODE = ("the model's layers ran in training mode (training=True): a Dropout or "
                 "BatchNormalization layer then changes the output; call them with "
                 "training=False")


def _plain_relu_backward(layer_input, upstream):
    import tensorflow as tf
    return upstream * tf.cast(layer_input > 0, upstream.dtype)


@check(points=2, uses="gradients", task="`input_gradients`",
       hint="d score / d x with score = model(x)[n, target[n]], the target LOGIT: "
       "differentiate the sum of target_scores(model(x), target) under a GradientTape")
def input_gradients(lab, rng):
    """Gradients of the target logits of a random tiny CNN, for a target per example and for
    one target for the batch, against a layer-by-layer backward sweep."""
    import tensorflow as tf
    model = tiny_convnet(rng)
    x = rng.normal(size=(3, 5, 5, 1)).astype("float32")
    per_example = np.array([2, 0, 1])
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        logits = model(xt)
        everything = tf.reduce_sum(logits)
        probability = tf.reduce_sum(tf.gather(tf.nn.softmax(logits), per_example, axis=1,
                                              batch_dims=1))
    return {"per_example": lab.gradients.input_gradients(model, x, per_example),
            "one_target": lab.gradients.input_gradients(model, x, 1),
            "sweep": layerwise_gradient(model, x, per_example, _plain_relu_backward),
            "sweep_one": layerwise_gradient(model, x, 1, _plain_relu_backward),
            "all_logits": tape.gradient(everything, xt).numpy(),
            "probability": tape.gradient(probability, xt).numpy(),
            "class_zero": layerwise_gradient(model, x, 0, _plain_relu_backward),
            "training": layerwise_gradient(model, x, per_example, _plain_relu_backward,
                                           training=True)}


@input_gradients.verdict
def _(student, reference):
    what = "input_gradients(model, x, target=[2, 0, 1])"
    expect_shape(student["per_example"], (3, 5, 5, 1), what)
    expect_close_naming(
        student["per_example"], student["sweep"], what,
        [(student["all_logits"], "that is the gradient of the sum of ALL logits; take each "
          "example's target logit only (target_scores)"),
         (student["probability"], "that is the gradient of the softmax probability; explain "
          "the target LOGIT"),
         (student["class_zero"], "that is the gradient of class 0 for every example: the "
          "target is ignored"),
         (student["training"], TRAINING_MODE)], rtol=1e-4, atol=1e-5)
    expect_close(student["one_target"], student["sweep_one"],
                 "input_gradients(model, x, target=1) (one int target for the whole batch)",
                 rtol=1e-4, atol=1e-5)
    expect_close(student["per_example"], reference["per_example"], what)


@check(points=1, uses="gradients", task="`saliency_map`",
       hint="the max over the channel axis (the last) of |gradient|")
def saliency_map(lab, rng):
    """The saliency map of random 3-channel gradients."""
    gradients = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    return {"gradients": gradients, "saliency": lab.gradients.saliency_map(gradients)}


@saliency_map.verdict
def _(student, reference):
    what = "saliency_map(gradients of shape (2, 4, 5, 3))"
    values = expect_shape(student["saliency"], (2, 4, 5), what)
    g = student["gradients"]
    expect_close_naming(values, reference["saliency"], what, [
        (np.abs(g).mean(axis=-1), "that is the MEAN absolute gradient; take the max"),
        (g.max(axis=-1), "that is the max of the SIGNED gradients; take absolute values first"),
        (np.abs(g.max(axis=-1)), "that is the absolute value of the max (abs after max): "
         "take |gradient| first, then the max over the channels"),
        (np.abs(g).sum(axis=-1), "that is the SUM over channels; take the max")])


@check(points=2, uses="gradients", task="`smoothgrad`",
       hint="noise = rng.normal(size=(samples, *x.shape)) with default_rng(seed), scaled "
       "per image by sigma * (max - min); the MEAN of input_gradients at the noisy copies")
def smoothgrad(lab, rng):
    """SmoothGrad of the checks' sine model, with its exact gradient standing in for
    input_gradients, on images of value range about 3; with sigma = 0 it is the gradient."""
    x = (3.0 * rng.uniform(size=(2, 4, 4, 1))).astype("float32")
    model = SineModel()
    with standing_in(lab.gradients, input_gradients=sine_gradients):
        noisy = lab.gradients.smoothgrad(model, x, np.array([1, 2]), sigma=0.2, samples=6, seed=5)
        still = lab.gradients.smoothgrad(model, x, 0, sigma=0.0, samples=3, seed=1)
    return {"x": x, "noisy": noisy, "still": still, "gradient": sine_gradients(model, x, 0),
            "gradient_12": sine_gradients(model, x, np.array([1, 2]))}


def _smoothed_sine(x, spread, factor, samples, seed):
    """The mean over the seeded noisy copies x + spread * noise of the sine model's exact
    gradient factor * cos(.), for a noise scale `spread` given per image (N,)."""
    draws = np.random.default_rng(seed).normal(size=(samples, *x.shape))
    copies = x[None] + np.reshape(spread, (1, -1, 1, 1, 1)) * draws
    return np.reshape(factor, (-1, 1, 1, 1)) * np.cos(copies).mean(axis=0)


@smoothgrad.verdict
def _(student, reference):
    expect_close(student["still"], student["gradient"],
                 "smoothgrad(model, x, 0, sigma=0, samples=3) (with no noise, SmoothGrad is "
                 "the mean of 3 equal gradients)", rtol=1e-5, atol=1e-6)
    what = "smoothgrad(model, x, [1, 2], sigma=0.2, samples=6, seed=5)"
    noisy = expect_shape(student["noisy"], (2, 4, 4, 1), what)
    expect_true(not np.allclose(noisy, student["gradient_12"], atol=1e-6),
                f"{what} is the gradient at x itself: no noise was added")
    x = student["x"].astype(np.float64)
    factor, sigma = np.array([2.0, 3.0]), 0.2
    batch_range = np.full(2, x.max() - x.min())
    slips = [(_smoothed_sine(x, sigma * batch_range, factor, 6, 5), "the noise is scaled by "
              "the range of the whole BATCH; use each image's own range, sigma * (x[n].max() "
              "- x[n].min())"),
             (_smoothed_sine(x, np.full(2, sigma), factor, 6, 5), "the noise std is sigma "
              "itself; scale it by each image's range, sigma * (x[n].max() - x[n].min())")]
    expect_close_naming(noisy, reference["noisy"], what, slips, advice="draw the noise as ONE "
                        "array rng.normal(size=(samples, *x.shape)) from "
                        "np.random.default_rng(seed), scale it by sigma * (x[n].max() - "
                        "x[n].min()) per image, and average input_gradients over the noisy "
                        "copies", rtol=1e-4, atol=1e-5)


@check(points=1, uses="gradients", task="`guided_relu`",
       hint="forward relu(x); backward upstream * (x > 0) * (upstream > 0)")
def guided_relu(lab, rng):
    """guided_relu's forward values and its gradient for upstream gradients of both signs."""
    import tensorflow as tf
    x = tf.constant(np.concatenate([[-1.0, -0.5, 0.5, 1.0] * 2, rng.normal(size=16)])
                    .astype("float32"))
    upstream = np.concatenate([[-1.0] * 4 + [1.0] * 4, rng.normal(size=16)]).astype("float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = lab.gradients.guided_relu(x)
    grad = tape.gradient(y, x, output_gradients=tf.constant(upstream))
    return {"x": x.numpy(), "upstream": upstream, "y": np.asarray(y),
            "grad": None if grad is None else grad.numpy()}


@guided_relu.verdict
def _(student, reference):
    x, upstream = student["x"], student["upstream"]
    expect_close(student["y"], np.maximum(x, 0.0), "guided_relu(x) (the forward pass is a ReLU)")
    expect_close_naming(student["grad"], reference["grad"], "the gradient of guided_relu", [
        (upstream * (x > 0), "that is the ordinary ReLU backward pass; guided backpropagation "
         "also drops the NEGATIVE upstream gradients"),
        (upstream * (upstream > 0), "that is the deconvnet rule; also mask by the input (x > 0)"),
        (upstream, "the gradient passes unchanged: mask it")])


@check(points=2, uses="gradients", task="`guided_backprop`",
       hint="run model.layers one by one, calling guided_relu in place of each "
       "keras.layers.ReLU layer, and differentiate the summed target logits")
def guided_backprop(lab, rng):
    """guided_backprop of a random tiny CNN with softplus standing in for guided_relu,
    against a layer-by-layer backward sweep through softplus at the ReLU layers."""
    import tensorflow as tf
    model = tiny_convnet(rng)
    x = rng.normal(size=(3, 5, 5, 1)).astype("float32")
    target = np.array([1, 2, 0])
    with standing_in(lab.gradients, guided_relu=tf.nn.softplus):
        out = lab.gradients.guided_backprop(model, x, target)
    return {"guided": out,
            "sweep": layerwise_gradient(model, x, target, softplus_backward, tf.nn.softplus),
            "plain": layerwise_gradient(model, x, target, _plain_relu_backward),
            "training": layerwise_gradient(model, x, target, softplus_backward, tf.nn.softplus,
                                           training=True)}


@guided_backprop.verdict
def _(student, reference):
    what = "guided_backprop(model, x, target) with softplus standing in for guided_relu"
    expect_shape(student["guided"], (3, 5, 5, 1), what)
    expect_close_naming(student["guided"], student["sweep"], what, [
        (student["plain"], "that is the plain gradient through the model's own ReLU layers: "
         "call guided_relu in place of every keras.layers.ReLU layer"),
        (student["training"], TRAINING_MODE)], rtol=1e-4, atol=1e-5)
    expect_close(student["guided"], reference["guided"], what, rtol=1e-4, atol=1e-5)


@check(points=2, uses="gradients", task="`integrated_gradients`",
       hint="(x - baseline) * the mean of input_gradients at baseline + a_k (x - baseline), "
       "a_k = (k + 0.5) / steps: the MIDPOINT rule")
def integrated_gradients(lab, rng):
    """Integrated gradients of the sine model (its exact gradient standing in for
    input_gradients), 5 midpoint steps, a random and a zero baseline."""
    x = rng.uniform(-2, 2, size=(2, 3, 3, 1)).astype("float32")
    baseline = rng.uniform(-2, 2, size=x.shape).astype("float32")
    with standing_in(lab.gradients, input_gradients=sine_gradients):
        given = lab.gradients.integrated_gradients(SineModel(), x, np.array([0, 2]), baseline,
                                                   steps=5)
        zero = lab.gradients.integrated_gradients(SineModel(), x, 1, None, steps=5)
    return {"x": x, "baseline": baseline, "given": given, "zero": zero}


def _riemann(x, baseline, factor, steps, offset):
    """(x - b) * factor * mean cos(b + a (x - b)) over a = (k + offset) / steps."""
    alphas = (np.arange(steps) + offset) / steps
    points = baseline[None] + alphas.reshape(-1, 1, 1, 1, 1) * (x - baseline)[None]
    return (x - baseline) * factor * np.cos(points).mean(axis=0)


@integrated_gradients.verdict
def _(student, reference):
    x, baseline = student["x"].astype(np.float64), student["baseline"].astype(np.float64)
    factor = np.array([1.0, 3.0]).reshape(-1, 1, 1, 1)
    what = "integrated_gradients(model, x, [0, 2], baseline, steps=5)"
    expect_shape(student["given"], x.shape, what)
    expect_close_naming(student["given"], reference["given"], what, [
        (_riemann(x, baseline, factor, 5, 0.0), "that is the LEFT Riemann sum (a_k = k / "
         "steps); use the midpoints (k + 0.5) / steps"),
        (_riemann(x, baseline, factor, 5, 1.0), "that is the RIGHT Riemann sum (a_k = (k + 1) "
         "/ steps); use the midpoints (k + 0.5) / steps"),
        (_riemann(x, baseline, factor, 5, 0.5) / (x - baseline), "the mean gradient is not "
         "multiplied by (x - baseline)"),
        (_riemann(x, baseline, factor, 5, 0.5) / (x - baseline) * x, "the mean gradient is "
         "multiplied by x; multiply it by (x - baseline)")], rtol=1e-4, atol=1e-5)
    expect_close(student["zero"], reference["zero"],
                 "integrated_gradients(model, x, 1, baseline=None, steps=5) (None means a zero "
                 "baseline)", rtol=1e-4, atol=1e-5)


@check(points=2, uses="gradients", task="`completeness_gap`; completeness of "
       "`integrated_gradients`",
       hint="gap = sum(attributions[n]) - (score(x[n]) - score(baseline[n])); with the midpoint "
       "rule it shrinks about 16-fold for 4 times the steps")
def completeness(lab, rng):
    """completeness_gap of random attributions on the sine model lifted by 0.5 a pixel (so
    the zero image scores nonzero); then the gap of integrated gradients of the sine model (exact gradient standing in) at 4, 16, 32 and 64 steps, relative to
    |f(x) - f(baseline)|."""
    x = rng.uniform(-2, 2, size=(3, 4, 4, 1)).astype("float32")
    baseline = rng.uniform(-2, 2, size=x.shape).astype("float32")
    target = np.array([2, 0, 1])
    attributions = rng.normal(size=x.shape).astype("float32")
    model, lifted = SineModel(), SineModel(offset=0.5)
    out = {"x": x, "baseline": baseline, "attributions": attributions,
           "gap": lab.gradients.completeness_gap(lifted, x, target, attributions, baseline),
           "gap_zero": lab.gradients.completeness_gap(lifted, x, 1, attributions)}
    with standing_in(lab.gradients, input_gradients=sine_gradients):
        for steps in (4, 16, 32, 64):
            ig = lab.gradients.integrated_gradients(model, x, target, baseline, steps=steps)
            gap = np.asarray(lab.gradients.completeness_gap(model, x, target, ig, baseline))
            out[f"ig_gap_{steps}"] = gap
    return out


@completeness.verdict
def _(student, reference):
    x, b = student["x"].astype(np.float64), student["baseline"].astype(np.float64)
    factor = np.array([3.0, 1.0, 2.0])
    change = factor * (np.sin(x).reshape(3, -1).sum(1) - np.sin(b).reshape(3, -1).sum(1))
    # The scores completeness_gap sees: sum(sin + 0.5) over the 16 pixels, times the factor.
    score_x = factor * (np.sin(x).reshape(3, -1).sum(1) + 8.0)
    score_zero = factor * 8.0
    attributed = student["attributions"].astype(np.float64).reshape(3, -1).sum(1)
    what = "completeness_gap(model, x, [2, 0, 1], attributions, baseline)"
    gap = expect_shape(student["gap"], (3,), what)
    expect_close_naming(gap, attributed - change, what, [
        (change - attributed, "the sign is flipped: sum(attributions) - (f(x) - f(baseline))"),
        (attributed - score_x, "f(baseline) is not subtracted"),
        (attributed - (score_x - score_zero), "the baseline argument is ignored: that "
         "subtracts f(zeros), the score of the zero image; score the baseline given")],
        rtol=1e-4, atol=1e-4)
    change_zero = 2.0 * np.sin(x).reshape(3, -1).sum(1)
    expect_close(student["gap_zero"], attributed - change_zero,
                 "completeness_gap(model, x, 1, attributions) (no baseline: zeros)",
                 rtol=1e-4, atol=1e-4)
    scale = np.abs(change).sum()
    relative = {s: float(np.abs(student[f"ig_gap_{s}"]).sum() / scale) for s in (4, 16, 32, 64)}
    expect_at_most(relative[32], IG_TOLERANCE,
                   "the relative completeness gap of integrated_gradients at 32 steps")
    expect_true(relative[64] < relative[16] / 8 and relative[16] < relative[4] / 8,
                f"the completeness gap of integrated_gradients shrinks from {relative[4]:.3g} "
                f"(4 steps) to {relative[16]:.3g} (16) and {relative[64]:.3g} (64): the "
                "midpoint rule's error falls about 16-fold for 4 times the steps (a left or "
                "right Riemann sum only 4-fold)")
    for s in (4, 16, 64):
        expect_close(student[f"ig_gap_{s}"], reference[f"ig_gap_{s}"],
                     f"the completeness gap of integrated_gradients at {s} steps",
                     rtol=1e-3, atol=1e-4)
