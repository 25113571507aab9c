"""Public checks of classifier_guidance.py: the classifier's gradient on a linear-softmax
classifier of the checks (its gradient in closed form), the guided noise against numpy, the
guided predictor on stand-ins, and guidance steering on a mixture of two Gaussians with its
exact noise predictor and exact noisy classifier (all the checks' own)."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in, tensor
from autograder.checks.lab16_diffusion.probes import random_alpha_bars
from autograder.checks.lab16_diffusion.probes_unet import CLASSIFIER_GUIDANCE
from autograder.verdicts import expect_close, expect_close_naming, expect_true


def linear_classifier(weights, bias, time_weights):
    """logits = flatten(x) W + b + (t / 10) v: the checks' classifier."""
    import tensorflow as tf

    def classifier(x_t, t):
        flat = tf.reshape(tf.cast(x_t, tf.float32), (tf.shape(x_t)[0], -1))
        time = tf.cast(tf.reshape(t, (-1, 1)), tf.float32) / 10.0
        return flat @ tensor(weights) + tensor(bias) + time * tensor(time_weights)
    return classifier


@check(reference=False, points=2, uses=CLASSIFIER_GUIDANCE, task="`class_log_prob_gradient`",
       hint="the gradient of sum_i log_softmax(logits_i)[y_i] with respect to x_t "
            "(tape.watch(x_t)); not of the probability, not of the logit")
def class_log_prob_gradient(lab, rng):
    """On the checks' linear-softmax classifier of (6, 4, 4, 1) images and 3 classes, whose
    gradient W_y - sum_k p_k W_k is known in closed form (the labels are not the argmax in
    every row)."""
    weights = rng.normal(size=(16, 3)).astype("float32")
    bias = rng.normal(size=3).astype("float32")
    time_weights = rng.normal(size=3).astype("float32")
    x = rng.normal(size=(6, 4, 4, 1)).astype("float32")
    t = rng.integers(0, 20, size=6).astype("int32")
    labels = rng.integers(0, 3, size=6).astype("int32")
    gradient = lab.classifier_guidance.class_log_prob_gradient(
        linear_classifier(weights, bias, time_weights), tensor(x), tensor(t, "int32"),
        tensor(labels, "int32"))
    return {"gradient": np.asarray(gradient), "weights": weights, "bias": bias,
            "time_weights": time_weights, "x": x, "t": t, "labels": labels}


@class_log_prob_gradient.verdict
def _(student, reference):
    x = np.asarray(student["x"], dtype=np.float64)
    n = len(x)
    weights = np.asarray(student["weights"], dtype=np.float64)
    logits = (x.reshape(n, -1) @ weights + student["bias"]
              + np.asarray(student["t"])[:, None] / 10.0 * student["time_weights"])
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    own = weights.T[student["labels"]]                     # (N, 16): W_y per row
    expected = own - probs @ weights.T
    p_y = probs[np.arange(n), student["labels"]][:, None]
    shaped = lambda g: g.reshape(x.shape)                  # noqa: E731
    mistakes = [(shaped(p_y * expected), "the gradient of the softmax PROBABILITY of y: take "
                 "the log-softmax (log p(y | x_t))"),
                (shaped(own), "the gradient of y's logit alone: log p(y | x_t) is the "
                 "log-SOFTMAX, which also pushes away from the other classes"),
                (shaped(-expected), "the sign is flipped: the gradient of +log p(y | x_t)")]
    expect_close_naming(student["gradient"], shaped(expected),
                        "class_log_prob_gradient(classifier, x_t, t, labels)", mistakes,
                        advice="row i is d log_softmax(logits_i)[labels_i] / d x_t[i]",
                        rtol=1e-4, atol=1e-5)


@check(reference=False, points=1, uses=CLASSIFIER_GUIDANCE, task="`classifier_guided_noise`",
       hint="noise - w * sqrt(1 - alpha_bar_t) * gradient, alpha_bar_t per example")
def classifier_guided_noise(lab, rng):
    """eps - w sqrt(1 - alpha_bar_t) grad for (5, 3, 3, 1) images at random t (t = 0 and
    T - 1 among them), w = 0 and w = 2.5, against numpy."""
    alpha_bars = random_alpha_bars(rng, 12).astype("float32")
    t = rng.integers(0, 12, size=5).astype("int32")
    t[:2] = (0, 11)
    noise = rng.normal(size=(5, 3, 3, 1)).astype("float32")
    gradient = rng.normal(size=(5, 3, 3, 1)).astype("float32")
    out = {"alpha_bars": alpha_bars, "t": t, "noise": noise, "gradient": gradient}
    for w in (0.0, 2.5):
        out[f"w{w}"] = np.asarray(lab.classifier_guidance.classifier_guided_noise(
            tensor(noise), tensor(gradient), tensor(t, "int32"), tensor(alpha_bars), w))
    return out


@classifier_guided_noise.verdict
def _(student, reference):
    noise = np.asarray(student["noise"], dtype=np.float64)
    gradient = np.asarray(student["gradient"], dtype=np.float64)
    a = np.asarray(student["alpha_bars"], dtype=np.float64)[student["t"]].reshape(-1, 1, 1, 1)
    expect_close(student["w0.0"], noise, "classifier_guided_noise with w = 0 (the noise itself)")
    w = 2.5
    mistakes = [(noise - w * (1.0 - a) * gradient, "1 - alpha_bar_t where the handout has its "
                 "square root, sqrt(1 - alpha_bar_t)"),
                (noise + w * np.sqrt(1.0 - a) * gradient, "the sign is flipped: guidance "
                 "SUBTRACTS w sqrt(1 - alpha_bar_t) grad log p(y | x_t) from the noise"),
                (noise - w * np.sqrt(a) * gradient, "sqrt(alpha_bar_t) where the handout has "
                 "sqrt(1 - alpha_bar_t)"),
                (noise - w * gradient, "the scale sqrt(1 - alpha_bar_t) is missing")]
    expect_close_naming(student["w2.5"], noise - w * np.sqrt(1.0 - a) * gradient,
                        "classifier_guided_noise with w = 2.5", mistakes, rtol=1e-4, atol=1e-5)


class GuidanceStandIns:
    """Stand-ins for the two functions the predictor calls: NOT guidance. The gradient is
    tanh(x_t) * (label + 1) per row; the noise is noise + 10 * gradient + w (t's broadcast
    ignored). Each records its arguments."""

    def __init__(self):
        self.gradient_calls, self.noise_calls = [], []

    def class_log_prob_gradient(self, classifier, x_t, t, labels):
        import tensorflow as tf
        self.gradient_calls.append((classifier, np.asarray(x_t), np.asarray(t), np.asarray(labels)))
        scale = tf.reshape(tf.cast(labels, tf.float32) + 1.0, (-1, 1))
        return tf.tanh(tf.cast(x_t, tf.float32)) * scale

    def classifier_guided_noise(self, noise, log_prob_gradient, t, alpha_bars, guidance_weight):
        self.noise_calls.append((np.asarray(noise), np.asarray(log_prob_gradient), np.asarray(t),
                                 np.asarray(alpha_bars), float(guidance_weight)))
        return np.asarray(noise) + 10.0 * np.asarray(log_prob_gradient) + guidance_weight


@check(reference=False, points=1, uses=CLASSIFIER_GUIDANCE, task="`classifier_guided_predictor`",
       hint="return a function of (x_t, t) that calls predict_noise, then "
            "class_log_prob_gradient(classifier, x_t, t, labels), then classifier_guided_noise")
def classifier_guided_predictor(lab, rng):
    """With stand-ins of known, other behaviour for class_log_prob_gradient and
    classifier_guided_noise that record their arguments: the predictor passes the
    classifier, x_t, t, labels, the model's noise, alpha_bars and w, and returns what
    classifier_guided_noise returned."""
    import tensorflow as tf
    stand_ins = GuidanceStandIns()
    alpha_bars = random_alpha_bars(rng, 10).astype("float32")
    labels = np.array([2, 0, 1, 1], dtype=np.int32)
    x = rng.normal(size=(4, 2)).astype("float32")
    t = np.array([7, 7, 7, 7], dtype=np.int32)

    def predict_noise(x_t, t):
        return 0.5 * tf.cast(x_t, tf.float32) + tf.cast(tf.reshape(t, (-1, 1)), tf.float32)

    def classifier(x_t, t):
        return tf.zeros((tf.shape(x_t)[0], 3))

    with standing_in(lab.classifier_guidance,
                     class_log_prob_gradient=stand_ins.class_log_prob_gradient,
                     classifier_guided_noise=stand_ins.classifier_guided_noise):
        guided = lab.classifier_guidance.classifier_guided_predictor(
            predict_noise, classifier, tensor(labels, "int32"), tensor(alpha_bars), 1.5)
        out = np.asarray(guided(tensor(x), tensor(t, "int32")))
    expected_gradient = np.tanh(x) * (labels[:, None] + 1.0)
    expected_noise = 0.5 * x + 7.0
    result = {"out": out, "expected": expected_noise + 10.0 * expected_gradient + 1.5,
              "gradient_calls": len(stand_ins.gradient_calls),
              "noise_calls": len(stand_ins.noise_calls)}
    if stand_ins.gradient_calls:
        clf, gx, gt, glabels = stand_ins.gradient_calls[0]
        result.update(same_classifier=clf is classifier, gradient_x_ok=np.allclose(gx, x),
                      gradient_t_ok=np.array_equal(gt, t),
                      gradient_labels_ok=np.array_equal(glabels, labels))
    if stand_ins.noise_calls:
        noise, gradient, nt, nab, w = stand_ins.noise_calls[0]
        result.update(noise_ok=np.allclose(noise, expected_noise, atol=1e-5),
                      passed_gradient_ok=np.allclose(gradient, expected_gradient, atol=1e-5),
                      noise_t_ok=np.array_equal(nt, t),
                      alpha_bars_ok=np.allclose(nab, alpha_bars), weight=w)
    return result


@classifier_guided_predictor.verdict
def _(student, reference):
    what = "classifier_guided_predictor(...)(x_t, t)"
    expect_true(student["gradient_calls"] == 1, f"{what} called class_log_prob_gradient "
                f"{student['gradient_calls']} times: once per call, by name")
    expect_true(student["noise_calls"] == 1, f"{what} called classifier_guided_noise "
                f"{student['noise_calls']} times: once per call, by name")
    for key, message in (("same_classifier", "class_log_prob_gradient must get the classifier"),
                         ("gradient_x_ok", "class_log_prob_gradient must get x_t"),
                         ("gradient_t_ok", "class_log_prob_gradient must get t"),
                         ("gradient_labels_ok", "class_log_prob_gradient must get the labels"),
                         ("noise_ok", "classifier_guided_noise must get predict_noise(x_t, t)"),
                         ("passed_gradient_ok", "classifier_guided_noise must get the "
                          "gradient class_log_prob_gradient returned"),
                         ("noise_t_ok", "classifier_guided_noise must get t"),
                         ("alpha_bars_ok", "classifier_guided_noise must get alpha_bars")):
        expect_true(bool(student[key]), f"{what}: {message}")
    expect_close(student["weight"], 1.5, "the guidance weight passed to classifier_guided_noise")
    expect_close(student["out"], student["expected"], f"{what}: it must return what "
                 "classifier_guided_noise returned", rtol=1e-5, atol=1e-5)


MEANS = np.array([[-1.5, 0.0], [1.5, 0.0]])
STD = 0.6


@check(points=1, uses=CLASSIFIER_GUIDANCE, task="`class_log_prob_gradient`, "
       "`classifier_guided_noise`, `classifier_guided_predictor`",
       hint="guidance must move x_hat_0 toward the target class; the checks of "
            "class_log_prob_gradient, classifier_guided_noise and classifier_guided_predictor "
            "judge each step of it on its own")
def classifier_guidance_steers(lab, rng):
    """Your whole chain on a mixture of two Gaussians (the exact noise predictor and the exact
    noisy classifier, the checks' own): at 8 noise levels, with w = 3 the denoised estimates
    x_hat_0 of 400 points land on the target class more often than with w = 0, and as
    often as the reference's."""
    import tensorflow as tf
    alpha_bars = np.linspace(0.9, 0.1, 8)
    ab = tensor(alpha_bars)
    means = tensor(MEANS)

    def gaussian_terms(x_t, t):
        a = tf.reshape(tf.gather(ab, t), (-1, 1, 1))
        variance = a * STD ** 2 + 1.0 - a
        diff = tf.cast(x_t, tf.float32)[:, None, :] - tf.sqrt(a) * means[None]   # (N, 2, D)
        return diff, variance, -tf.reduce_sum(diff ** 2, axis=-1) / (2.0 * variance[:, :, 0])

    def classifier(x_t, t):      # log N(x_t; sqrt(a) mu_k, v I) + const: the exact p(k | x_t)
        return gaussian_terms(x_t, t)[2]

    def predict_noise(x_t, t):   # -sqrt(1 - a) * the exact score of the noised mixture
        diff, variance, logits = gaussian_terms(x_t, t)
        weights = tf.nn.softmax(logits, axis=-1)[:, :, None]
        score = -tf.reduce_sum(weights * diff / variance, axis=1)
        a = tf.reshape(tf.gather(ab, t), (-1, 1))
        return -tf.sqrt(1.0 - a) * score

    n = 400
    labels = np.zeros(n, dtype=np.int32)
    shares, noises = {}, {}
    for w in (0.0, 3.0):
        guided = lab.classifier_guidance.classifier_guided_predictor(
            predict_noise, classifier, tensor(labels, "int32"), ab, w)
        hits, noises[w] = [], []
        for step in range(len(alpha_bars)):
            local = np.random.default_rng(step)
            x0 = MEANS[local.integers(0, 2, size=n)] + STD * local.normal(size=(n, 2))
            a = alpha_bars[step]
            x_t = (np.sqrt(a) * x0 + np.sqrt(1 - a) * local.normal(size=(n, 2))).astype("float32")
            t = np.full(n, step, dtype=np.int32)
            eps = np.asarray(guided(tensor(x_t), tensor(t, "int32")), dtype=np.float64)
            noises[w].append(eps)
            x_hat = (x_t - np.sqrt(1 - a) * eps) / np.sqrt(a)
            nearest = np.argmin(((x_hat[:, None, :] - MEANS[None]) ** 2).sum(-1), axis=1)
            hits.append(np.mean(nearest == 0))
        shares[f"w{w}"] = float(np.mean(hits))
    shares["term"] = np.asarray(noises[3.0]) - np.asarray(noises[0.0])    # (steps, n, 2)
    return shares


def _measured(student, reference):
    """What the check measured of the guidance term (the guided noise at w = 3 minus at
    w = 0), against the reference's: its size along the reference's and across it."""
    term, want = (np.asarray(v, dtype=np.float64).ravel() for v in (student["term"],
                                                                    reference["term"]))
    if term.shape != want.shape or not np.isfinite(term).all():
        return "the guided noise has no finite value of the reference's shape"
    along = float(term @ want / (want @ want))
    across = float(np.linalg.norm(term - along * want) / np.linalg.norm(want))
    said = (f"the guidance term (the guided noise at w = 3 minus at w = 0) is {along:.3g} x the "
            "reference's")
    if across > 0.05:
        said += f", plus a part of {across:.0%} of its size in other directions"
    if abs(student["w0.0"] - reference["w0.0"]) > 0.02:
        said += (f"; without guidance (w = 0) {student['w0.0']:.0%} land on class 0, the "
                 f"reference's {reference['w0.0']:.0%}")
    return said + (" (the checks of the three functions name the slip when one of them "
                   "fails as well)")


@classifier_guidance_steers.verdict
def _(student, reference):
    expect_true(student["w3.0"] > student["w0.0"] + 0.05,
                f"with guidance w = 3 toward class 0, {student['w3.0']:.0%} of the denoised "
                f"estimates land on class 0, against {student['w0.0']:.0%} without: guidance "
                f"does not steer toward the target; {_measured(student, reference)}")
    if not student["w3.0"] >= reference["w3.0"] - 0.02:
        raise CheckFailed(f"with guidance w = 3, {student['w3.0']:.1%} of the denoised "
                          f"estimates land on the target class, needs at least "
                          f"{reference['w3.0'] - 0.02:.1%} (the reference's "
                          f"{reference['w3.0']:.1%}): {_measured(student, reference)}")
