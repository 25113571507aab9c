"""Public checks of lab20_transfer_learning, part 1: the transfer model and its learning rate,
gradient reversal, the Gaussian kernel and the MMD.

The transfer checks build the student's model on the lab's given backbone with random
weights and moving statistics far from 0 and 1, take a few SGD steps and report which
weights moved; the model's training-mode logits are compared with the head applied to the
backbone's inference-mode features (computed in the probe). Gradient reversal is judged with
tf.GradientTape and random upstream gradients, the kernel and MMD against scipy's cdist.
"""
import numpy as np

from autograder.api import check
from autograder.checks.lab20_transfer_learning.probes import transfer_probe
from autograder.verdicts import expect_close, expect_close_naming, expect_true

RATES = [(1e-3, False, None), (1e-3, True, None), (0.02, True, 0.25), (0.02, False, 0.25)]


@check(points=1, task="`transfer_learning_rate`",
       hint="base_rate when feature extracting, base_rate * factor when fine-tuning")
def transfer_learning_rate(lab, rng):
    """The rate for feature extraction and fine-tuning, default and other factors."""
    out = []
    for base, fine_tune, factor in RATES:
        kwargs = {} if factor is None else {"factor": factor}
        out.append(float(lab.transfer.transfer_learning_rate(base, fine_tune=fine_tune,
                                                             **kwargs)))
    return {"rates": np.array(out)}


@transfer_learning_rate.verdict
def _(student, reference):
    for index, (base, fine_tune, factor) in enumerate(RATES):
        what = (f"transfer_learning_rate({base}, fine_tune={fine_tune}"
                + ("" if factor is None else f", factor={factor}") + ")")
        expect_close_naming(student["rates"][index], reference["rates"][index], what, [
            (base, "is the base rate: fine-tuning takes factor times it, so small steps keep "
                   "the pretrained features") if fine_tune else
            (base * (factor or 0.1), "is lowered, but feature extraction trains only a new "
                                     "head and uses the base rate")], rtol=1e-6, atol=0)


def judge_built(student, what):
    expect_true(student["built"], f"{what} returned a model that is not built (no head "
                "weights yet): call it once on keras.ops.zeros((1, 8, 8, 1)) before returning "
                "it, as the docstring says, so its weights exist and count_params works")


def judge_training_mode_logits(student, what):
    expect_true(student["expected_logits"].size > 0, f"{what}: expected one Dense head "
                f"(kernel and bias) on top of the backbone, found weights "
                f"{student['head_shapes']}")
    expect_close(student["training_logits"], student["expected_logits"],
                 f"{what}(x, training=True)",
                 against="the head applied to backbone(x, training=False): the backbone must "
                         "always run with training=False, so batch norm uses its moving "
                         "statistics", rtol=1e-4, atol=1e-5)


@check(points=2, task="`build_transfer_model` (feature extraction), `TransferClassifier.call`",
       hint="feature extraction: only the new head trains; the backbone runs in inference "
            "mode")
def feature_extractor_freezes_the_backbone(lab, rng):
    """fine_tune=False: after a few SGD steps through `fit`, no backbone weight (kernels, batch
    norm scales, moving statistics) moved and the new head did; training-mode logits are the
    head on the backbone's inference features."""
    return transfer_probe(lab, rng, fine_tune=False)


@feature_extractor_freezes_the_backbone.verdict
def _(student, _reference):
    what = "build_transfer_model(backbone, 3, fine_tune=False)"
    expect_true(not student["backbone_trainable"], f"{what} leaves backbone.trainable True: "
                "feature extraction freezes it (backbone.trainable = False)")
    judge_built(student, what)
    expect_true(student["trainable_backbone_weights"] == 0,
                f"{what}: {student['trainable_backbone_weights']} backbone weights are among "
                "the model's trainable weights; only the head may train")
    for key, name in (("kernel_moved", "convolution kernels"),
                      ("gamma_beta_moved", "batch norm scales and offsets"),
                      ("moving_moved", "batch norm moving statistics")):
        expect_true(student[key] == 0.0, f"{what}: after fit, the backbone's {name} moved by "
                    f"up to {student[key]:.3g}; a frozen backbone must not change")
    expect_true(student["head_moved"] > 0, f"{what}: fit did not change the head's weights: "
                "the new Dense head must train")
    judge_training_mode_logits(student, what)


@check(points=2, task="`build_transfer_model` (fine-tuning), `TransferClassifier.call`",
       hint="fine-tuning: the backbone (kernels, batch norm scales) and the head train; the "
            "batch norm layers keep the statistics of pretraining")
def fine_tuning_trains_the_backbone(lab, rng):
    """fine_tune=True: the kernels, batch norm scales and the head move under `fit`, the batch
    norm moving statistics do not (the backbone runs with training=False); training-mode
    logits are the head on the backbone's inference features."""
    return transfer_probe(lab, rng, fine_tune=True)


@fine_tuning_trains_the_backbone.verdict
def _(student, _reference):
    what = "build_transfer_model(backbone, 3, fine_tune=True)"
    expect_true(student["backbone_trainable"], f"{what} leaves backbone.trainable False on a "
                "backbone that was frozen before (the two-stage recipe: feature extraction, "
                "then fine-tuning of the same backbone): fine-tuning must set "
                "backbone.trainable = True, not only leave it as it was")
    judge_built(student, what)
    advice = {"kernel_moved": "fine-tuning trains the backbone and the head",
              "gamma_beta_moved": "fine-tuning trains them too; do not freeze the batch norm "
                                  "layers: TransferClassifier.call's training=False is what "
                                  "keeps them in inference mode",
              "head_moved": "fine-tuning trains the backbone and the head"}
    for key, name in (("kernel_moved", "convolution kernels"),
                      ("gamma_beta_moved", "batch norm scales and offsets"),
                      ("head_moved", "head weights")):
        expect_true(student[key] > 0, f"{what}: fit did not change the {name}: {advice[key]}")
    expect_true(student["moving_moved"] == 0.0,
                f"{what}: fit changed the batch norm moving statistics (by up to "
                f"{student['moving_moved']:.3g}): TransferClassifier.call must run "
                "self.backbone(images, training=False) whatever `training` is, so batch norm "
                "normalises with the statistics of pretraining and keeps them")
    judge_training_mode_logits(student, what)


def reversal_probe(lab, rng, shape, lambdas):
    """Forward values and gradients of gradient_reversal(x, lambda_) for random upstream
    gradients, through a Python float and the GradientReversal layer (a variable)."""
    import tensorflow as tf
    out = {"x": rng.normal(size=shape).astype("float32"), "lambdas": np.array(lambdas)}
    upstream = rng.normal(size=shape).astype("float32")
    out["upstream"] = upstream
    forward, grads, layer_grads = [], [], []
    for lam in lambdas:
        x = tf.constant(out["x"])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = lab.transfer.gradient_reversal(x, lam)
            z = lab.transfer.GradientReversal(lam)(x)
        forward.append(np.asarray(y))
        grad = tape.gradient(y, x, output_gradients=tf.constant(upstream))
        grads.append(np.zeros(shape) if grad is None else np.asarray(grad))
        grad = tape.gradient(z, x, output_gradients=tf.constant(upstream))
        layer_grads.append(np.zeros(shape) if grad is None else np.asarray(grad))
    out.update(forward=np.stack(forward), gradient=np.stack(grads),
               layer_gradient=np.stack(layer_grads))
    return out


def judge_reversal(student, what="gradient_reversal(x, lambda_)"):
    x, upstream = student["x"], student["upstream"]
    for index, lam in enumerate(student["lambdas"]):
        expect_close(student["forward"][index], x, f"{what} with lambda_={lam:g}",
                     against="x itself (the forward pass is the identity)", rtol=0, atol=0)
        for key, call in (("gradient", what), ("layer_gradient", "GradientReversal(lambda_)")):
            expect_close_naming(student[key][index], -lam * upstream,
                                f"the gradient through {call} with lambda_={lam:g}", [
                (upstream, "is the upstream gradient unchanged: that is no reversal"),
                (lam * upstream, "is lambda_ times the upstream gradient: negate it"),
                (-upstream, "is the negated upstream gradient, not scaled by lambda_"),
                (-upstream / lam, "is divided by lambda_: multiply by it")],
                against="-lambda_ * upstream (tf.GradientTape)", rtol=1e-6, atol=1e-6)


@check(points=2, reference=False, task="`gradient_reversal`",
       hint="@tf.custom_gradient: return tf.identity(x) and grad(upstream) = -lambda_ * upstream")
def gradient_reversal(lab, rng):
    """The forward is exactly x; tf.GradientTape's gradient for random upstream gradients is
    -lambda_ times them, for lambda_ 0.5 and 2.5, as a function and as the layer."""
    return reversal_probe(lab, rng, (5, 3), [0.5, 2.5])


@gradient_reversal.verdict
def _(student, _reference):
    judge_reversal(student)


def kernel_mmd_probe(lab, rng, n, m, dim, bandwidths):
    """The student's kernel and MMD on random samples (y shifted), with scipy's values of the
    right estimator and of the usual slips."""
    from scipy.spatial.distance import cdist
    x = rng.normal(size=(n, dim))
    y = rng.normal(size=(m, dim)) * 1.3 + 0.4

    def kernel(a, b, two=2.0, squared=True):
        d = cdist(a, b, "sqeuclidean" if squared else "euclidean")
        return np.mean([np.exp(-d / (two * s ** 2)) for s in bandwidths], axis=0)

    def mmd(k, biased=False):
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        if biased:
            return kxx.mean() + kyy.mean() - 2 * kxy.mean()
        return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1))
                + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    def mmd_with(xx_div, yy_div, kern=kernel):
        kxx, kyy, kxy = kern(x, x), kern(y, y), kern(x, y)
        return ((kxx.sum() - np.trace(kxx)) / xx_div + (kyy.sum() - np.trace(kyy)) / yy_div
                - 2 * kxy.mean())
    bw = tuple(bandwidths)
    return {
        "kernel": np.asarray(lab.transfer.gaussian_kernel(x.astype("float32"),
                                                          y.astype("float32"), bw)),
        "mmd": float(np.asarray(lab.transfer.mmd2(x.astype("float32"), y.astype("float32"),
                                                  bw))),
        "expected_kernel": kernel(x, y),
        "kernel_no_two": kernel(x, y, two=1.0),
        "kernel_unsquared": kernel(x, y, squared=False),
        "kernel_summed": kernel(x, y) * len(bw),
        "expected_mmd": mmd(kernel), "biased_mmd": mmd(kernel, biased=True),
        "mmd_no_two": mmd(lambda a, b: kernel(a, b, two=1.0)),
        "mmd_square_rooted": np.sqrt(max(mmd(kernel), 0.0)),
        "mmd_n_squared": mmd_with(n * n, m * m),
        "mmd_n_for_both": mmd_with(n * (n - 1), n * (n - 1)),
        "mmd_clipped": max(mmd(kernel), 0.0)}


def same_distribution_probe(lab, rng, n, m, dim, bandwidths):
    """The student's MMD of two samples of ONE distribution, drawn (seeded) until the unbiased
    estimate is negative, with that estimate and the usual slips."""
    from scipy.spatial.distance import cdist

    def unbiased(x, y):
        def k(a, b):
            d = cdist(a, b, "sqeuclidean")
            return np.mean([np.exp(-d / (2 * s ** 2)) for s in bandwidths], axis=0)
        kxx, kyy = k(x, x), k(y, y)
        return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1))
                + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * k(x, y).mean())
    for _ in range(200):
        x, y = rng.normal(size=(n, dim)), rng.normal(size=(m, dim))
        if unbiased(x, y) < -1e-3:
            break
    value = float(np.asarray(lab.transfer.mmd2(x.astype("float32"), y.astype("float32"),
                                               tuple(bandwidths))))
    return {"same_mmd": value, "same_expected": unbiased(x, y)}


def judge_kernel(student, what):
    expect_close_naming(student["kernel"], student["expected_kernel"], what, [
        (student["kernel_no_two"], "is exp(-d^2 / s^2): the kernel divides by 2 s^2"),
        (student["kernel_unsquared"], "uses the distance, not the SQUARED distance"),
        (student["kernel_summed"], "sums over the bandwidths: take the mean")],
        against="scipy's cdist kernel", rtol=1e-4, atol=1e-5)


def judge_mmd(student, what):
    expect_close_naming(student["mmd"], student["expected_mmd"], what, [
        (student["biased_mmd"], "is the BIASED estimate (the diagonal k(x_i, x_i) kept in the "
                                "means): leave the diagonal out and divide by n (n - 1)"),
        (student["mmd_no_two"], "uses a kernel exp(-d^2 / s^2): divide by 2 s^2"),
        (student["mmd_square_rooted"], "is the MMD, not its square"),
        (student["mmd_n_squared"], "leaves out the diagonal but divides by n^2 and m^2: "
                                   "the unbiased means divide by n (n - 1) and m (m - 1)"),
        (student["mmd_n_for_both"], "divides the k_yy sum by n (n - 1): y has m points, so "
                                    "its term divides by m (m - 1)"),
        (student["mmd_clipped"], "is clipped at 0: the unbiased estimate can be negative, "
                                 "return it as it is")],
        against="the unbiased estimate from scipy's cdist", rtol=1e-4, atol=1e-5)


def judge_same_distribution(student, what):
    expect_close_naming(student["same_mmd"], student["same_expected"], what, [
        (0.0, "is 0 where the unbiased estimate is negative: do not clip it at 0 (with "
              "tf.maximum or a ReLU); two samples of one distribution often give a slightly "
              "negative estimate"),
        (abs(student["same_expected"]), "is the absolute value: the unbiased estimate can be "
                                        "negative, return it as it is")],
        against=f"the unbiased estimate {student['same_expected']:.4g} (negative) from "
                "scipy's cdist", rtol=1e-4, atol=1e-6)


@check(points=1, reference=False, task="`gaussian_kernel`",
       hint="exp(-|x_i - y_j|^2 / (2 s^2)), averaged over the bandwidths")
def gaussian_kernel(lab, rng):
    """The (6, 5) kernel matrix of random samples with bandwidths (0.7, 2.0), against one
    built from scipy's cdist."""
    out = kernel_mmd_probe(lab, rng, 6, 5, 3, (0.7, 2.0))
    return {key: value for key, value in out.items() if key.startswith("kernel")
            or key == "expected_kernel"}


@gaussian_kernel.verdict
def _(student, _reference):
    judge_kernel(student, "gaussian_kernel(x, y, (0.7, 2.0))")


@check(points=2, reference=False, task="`mmd2`",
       hint="the unbiased estimator of the handout, term by term")
def mmd2_unbiased(lab, rng):
    """The unbiased MMD^2 of samples of sizes 7 and 4 (bandwidths (1, 3)), and of two samples
    of one distribution (sizes 6 and 5) whose unbiased estimate is negative, against values
    built from scipy's cdist."""
    out = kernel_mmd_probe(lab, rng, 7, 4, 3, (1.0, 3.0))
    out = {key: value for key, value in out.items() if "mmd" in key}
    return {**out, **same_distribution_probe(lab, rng, 6, 5, 2, (1.0, 3.0))}


@mmd2_unbiased.verdict
def _(student, _reference):
    judge_mmd(student, "mmd2(x, y, (1.0, 3.0)) for 7 and 4 points")
    judge_same_distribution(student, "mmd2(x, y, (1.0, 3.0)) for two samples of one "
                            "distribution (6 and 5 points)")
