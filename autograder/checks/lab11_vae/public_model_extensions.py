"""Public checks of lab11_vae, part 4: the importance-weighted bound and the conditional VAE
(vae.py).

The model-level checks run the student's code with the checks' own maths and networks
(`probes.standins`) in place of the student's, except for the function under test.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab11_vae.probes import (
    MARGIN_NATS,
    arguments,
    compile_for_training,
    conditioned_network,
    digits,
    digits_with_labels,
    fit_elbo_with_own_loop,
    judge_iwae_bound,
    judge_round_trip,
    judge_terms_in_bits_or_nats,
    measured_negative_elbo,
    scalars,
    standins,
)
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_finite,
    expect_shape,
    expect_true,
)

# ---------------------------------------------------------------------------------------------
# The importance-weighted bound
# ---------------------------------------------------------------------------------------------

@check(points=2, uses="vae", task="`iwae_bound`",
       hint="log (1/S) sum_s exp(w_s) = tf.reduce_logsumexp(w, axis=0) - log S; "
            "never exp the log-weights directly (exp(-1000) is 0, exp(500) is inf)")
def iwae_bound(lab, rng):
    """The bound on random log-weights (6, 10), also near -1040 and +460 (finite), and for
    S = 1."""
    log_weights = (3.0 * rng.normal(size=(6, 10)) - 40.0).astype("float32")
    extreme = log_weights.copy()
    extreme[:, :3] -= 1000.0   # every weight underflows to 0 in float32
    extreme[:, 3:6] += 500.0   # every weight overflows to inf
    return {"log_weights": log_weights, "extreme_log_weights": extreme,
            "bound": lab.vae.iwae_bound(log_weights),
            "extreme": lab.vae.iwae_bound(extreme),
            "single": lab.vae.iwae_bound(log_weights[:1])}


@iwae_bound.verdict
def _(student, reference):
    judge_iwae_bound(student["bound"], reference["bound"], reference["log_weights"],
                     "iwae_bound(log_weights) for S=6 samples of 10 examples")
    expect_finite(student["extreme"], "iwae_bound on log-weights near -1040 (columns 0-2) and "
                  "+460 (columns 3-5)")
    judge_iwae_bound(student["extreme"], reference["extreme"], reference["extreme_log_weights"],
                     "iwae_bound on log-weights near -1040 and +460")
    expect_close(student["single"], reference["single"],
                 "iwae_bound of a single sample (S=1: the log-weight itself)")


@check(points=2, uses="vae", task="`VAE.log_likelihood_estimate`",
       hint="broadcast mean and log_var to epsilon's (S, N, K); z = sample_gaussian; "
            "log w = log p(x|z) + log N(z|0, I) - log N(z|mean, exp(log_var)), each "
            "(S, N); then iwae_bound")
def log_likelihood_estimate(lab, rng):
    """Per-digit estimates for fixed random weights and noise (S = 5 and S = 1), against the
    reference."""
    x = digits("test")[:20]
    epsilon = rng.normal(size=(5, 20, 3)).astype("float32")
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,))
        assign_random_weights(model, rng)
        return {"estimate": model.log_likelihood_estimate(x, epsilon=epsilon),
                "single": model.log_likelihood_estimate(x, epsilon=epsilon[:1])}


@log_likelihood_estimate.verdict
def _(student, reference):
    expect_close(student["estimate"], reference["estimate"],
                 "model.log_likelihood_estimate(x, epsilon) for S=5 samples of 20 digits "
                 "(fixed weights and noise)")
    expect_close(student["single"], reference["single"],
                 "model.log_likelihood_estimate with S=1 (the one-sample ELBO of each digit)")


IWAE_SAMPLES = (1, 10, 100)
IWAE_TRAIN_STEPS = 300
# The reference's estimates move by a few hundredths of a nat between machines; a bound that
# forgets a term or a log S is off by nats.
IWAE_MARGIN_NATS = 0.5


@check(points=2, uses="vae", timeout=40, task="`VAE.log_likelihood_estimate` (trained model)",
       hint="on a trained model the bound must rise with S and stay at or above the ELBO: "
            "logsumexp over the samples minus log S, with log q(z|x) subtracted")
def iwae_tightens_with_more_samples(lab, rng):
    """On a VAE trained by the check's own loop: S = 1 gives the ELBO, the mean estimate rises
    with S = 1, 10, 100 (by at least half the reference's rise), and S = 100 is within 0.5
    nats of the reference's."""
    x_train, x_test = digits("train"), digits("test")[:200]
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=4, hidden_units=(64,))
        fit_elbo_with_own_loop(model, x_train, rng, IWAE_TRAIN_STEPS)
        epsilon = rng.normal(size=(max(IWAE_SAMPLES), len(x_test), 4)).astype("float32")
        estimates = [float(np.mean(model.log_likelihood_estimate(x_test, epsilon=epsilon[:s])))
                     for s in IWAE_SAMPLES]
        elbo = -measured_negative_elbo(model.encoder, model.decoder, x_test, epsilon[:16])[0]
    return {"estimates": estimates, "elbo": elbo}


def iwae_gain(output):
    """How much the S = 100 estimate rises above the S = 1 one (the ELBO), in nats."""
    return float(output["estimates"][-1] - output["estimates"][0])


@iwae_tightens_with_more_samples.verdict
def _(student, reference):
    estimates = [float(v) for v in student["estimates"]]
    expect_true(all(np.isfinite(estimates)), f"the mean log_likelihood_estimate for S = "
                f"{list(IWAE_SAMPLES)} is {estimates}: NaN or inf")
    found = ", ".join(f"S={s}: {v:.2f}" for s, v in zip(IWAE_SAMPLES, estimates))
    wanted = ", ".join(f"S={s}: {v:.2f}" for s, v in zip(IWAE_SAMPLES, reference["estimates"]))
    where = (f"mean log_likelihood_estimate over 200 held-out digits of a trained VAE: {found} "
             f"nats (ELBO {student['elbo']:.2f}); the reference: {wanted} "
             f"(ELBO {reference['elbo']:.2f})")
    expect_true(abs(estimates[0] - student["elbo"]) <= IWAE_MARGIN_NATS,
                f"with S=1 the estimate must be the one-sample ELBO: {where}")
    gain, reference_gain = iwae_gain(student), iwae_gain(reference)
    expect_true(all(b >= a - 0.01 for a, b in zip(estimates, estimates[1:]))
                and gain >= 0.5 * reference_gain,
                f"the bound must rise with S, from the ELBO towards log p(x): {where}. Is it "
                "the log of the MEAN weight (logsumexp - log S), not the mean log-weight?")
    expect_true(abs(estimates[-1] - reference["estimates"][-1]) <= IWAE_MARGIN_NATS,
                f"with S={IWAE_SAMPLES[-1]} the estimate is more than {IWAE_MARGIN_NATS} nats "
                f"from the reference's: {where}")


# ---------------------------------------------------------------------------------------------
# 7. The conditional VAE
# ---------------------------------------------------------------------------------------------

CVAE_TRAIN = {"latent_dim": 2, "hidden_units": (64,), "learning_rate": 3e-3, "batch_size": 64,
              "epochs": 6, "per_class": 50}
# Over training seeds the reference's samples land on the requested digit 86-96 % of the
# time (by nearest class mean); a decoder blind to the label lands near 10 %.
CVAE_ACCURACY_MARGIN = 0.25


@check(points=1, uses="vae", task="`concat_one_hot`",
       hint="tf.one_hot(labels, num_classes) in the dtype of inputs, appended after the inputs "
            "with tf.concat(..., axis=-1)")
def concat_one_hot(lab, rng):
    """[inputs, one_hot(labels)] for random inputs (7, 5) and labels of 4 classes."""
    inputs = rng.normal(size=(7, 5)).astype("float32")
    labels = rng.integers(0, 4, size=7).astype("int32")
    return {"out": lab.vae.concat_one_hot(inputs, labels, 4)}


@concat_one_hot.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"],
                 "concat_one_hot(inputs (7, 5), labels (7,), num_classes=4)")


@check(points=2, uses="vae", reference=False,
       task="`ConditionalVAE.encode`, `decode`, `loss_terms`, `call`",
       hint="encode/decode run the encoder on concat_one_hot(x, labels, self.num_classes) and "
            "the decoder on concat_one_hot(z, labels, self.num_classes); loss_terms and call "
            "are the VAE's with the labels passed on")
def cvae_loss_terms(lab, rng):
    """For given noise, the negative ELBO (β = 0.5) and the outputs of a 10-class model,
    against its own networks fed the checks' concat_one_hot of x or z and y."""
    x, labels = digits_with_labels("test")
    x, labels = x[:32], labels[:32]
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    with standins(lab):
        model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=3, num_classes=10,
                                       hidden_units=(32,), beta=0.5)
        encoder = conditioned_network(model.encoder, labels, 10)
        decoder = conditioned_network(model.decoder, labels, 10)
        _, reconstruction, kl = measured_negative_elbo(encoder, decoder, x, epsilon[None])
        return {"terms": scalars(model.loss_terms(x, labels, epsilon)),
                "expected": [reconstruction + 0.5 * kl, reconstruction, kl],
                "call": model((x, labels)), "expected_call": decoder(encoder(x)[0])}


@cvae_loss_terms.verdict
def _(student, _reference):
    judge_terms_in_bits_or_nats(student["terms"], student["expected"],
                                "ConditionalVAE(beta=0.5).loss_terms(x, labels, epsilon) "
                                "(against the negative ELBO of its own encoder and decoder, "
                                "each fed the checks' concat_one_hot of its inputs and labels)")
    expect_close(student["call"], student["expected_call"],
                 "ConditionalVAE((x, labels)): the decoder on concat_one_hot(posterior mean, "
                 "labels), with the checks' concat_one_hot")


@check(points=1, uses="vae", reference=False, task="`ConditionalVAE.sample`, `get_config`",
       hint="sample(labels, seed): one z ~ N(0, I) per label, decoded WITH that label; "
            "get_config adds num_classes to the VAE's config; nothing may assume 10 classes")
def cvae_sample_and_round_trip(lab, rng):
    """With 4 classes: samples in [0, 1], reproducible by seed, different for another label;
    a `.keras` round trip keeps the arguments, the outputs and the samples."""
    with standins(lab):
        return cvae_round_trip(lab, rng)


def cvae_round_trip(lab, rng):
    import keras
    x, _ = digits_with_labels("test")
    x, labels = x[:8], np.array([0, 1, 2, 3, 0, 1, 2, 3], dtype="int32")
    model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=3, num_classes=4, hidden_units=(16,))
    assign_random_weights(model, rng, scale=0.5)
    try:
        out = {"samples": model.sample(labels, seed=3), "again": model.sample(labels, seed=3),
               "other_labels": model.sample(labels[::-1].copy(), seed=3),
               "outputs": model((x, labels))}
    except NotImplementedError:
        raise
    except Exception as error:  # the message goes to the student
        return {"failed": "ConditionalVAE(num_classes=4): sample(labels) or call((x, labels)) "
                f"failed: {type(error).__name__}: {error}"[:500] + " (with 4 classes the "
                "encoder reads D + 4 inputs and the decoder K + 4: use self.num_classes, never 10)"}
    path = str(lab.tmpdir / "cvae.keras")
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)
    except Exception as error:  # the message goes to the student
        return {**out, "failed": "", "error": f"{type(error).__name__}: {error}"[:600]}
    return {**out, "failed": "", "error": "", "class": type(loaded).__name__,
            "config": json.dumps(model.get_config(), sort_keys=True, default=str),
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
            "arguments": json.dumps([arguments(m) for m in (model, loaded)], default=str),
            "loaded_outputs": loaded((x, labels)), "loaded_samples": loaded.sample(labels, seed=3)}


@cvae_sample_and_round_trip.verdict
def _(student, _reference):
    if student["failed"]:
        raise CheckFailed(student["failed"])
    samples = expect_shape(student["samples"], (8, 64), "ConditionalVAE.sample(labels (8,))")
    expect_true(np.all((samples >= 0) & (samples <= 1)), "ConditionalVAE.sample returns pixel "
                f"probabilities in [0, 1] (got {samples.min():.3g} to {samples.max():.3g})")
    expect_close(student["again"], samples, "ConditionalVAE.sample(labels, seed=3), called a "
                 "second time,", against="the first call (the same seed must give the same "
                 "samples)")
    differ = np.abs(np.asarray(student["other_labels"]) - samples).max(axis=1) > 1e-6
    expect_true(differ.all(), "ConditionalVAE.sample gives the same sample for another label "
                f"with the same seed (in {int((~differ).sum())} of 8 rows): the decoder must be "
                "told the requested label")
    judge_round_trip(student, "ConditionalVAE(latent_dim=3, num_classes=4)", "ConditionalVAE")
    expect_close(student["loaded_samples"], samples, "ConditionalVAE.sample after save and load",
                 against="the samples before saving")


def nearest_class_mean(images, class_means):
    """The class whose mean training image is nearest to each image: (N,) ints."""
    distances = ((np.asarray(images)[:, None, :] - np.asarray(class_means)[None]) ** 2).sum(-1)
    return distances.argmin(axis=1)


@check(points=3, uses="vae", timeout=40, task="the whole `ConditionalVAE`",
       hint="a conditional VAE trained with fit(x, labels) must generate the digit it is asked "
            "for: the decoder sees [z, one_hot(label)], and sample decodes each requested label")
def cvae_generates_requested_digits(lab, rng):
    """Trained 6 epochs with `fit(x, labels)`: the share of samples whose nearest class-mean
    image is the digit asked for is at most 25 points below the reference's, and the held-out
    negative ELBO within 1.25 nats."""
    with standins(lab):
        return train_cvae(lab, rng)


def train_cvae(lab, rng):
    budget = CVAE_TRAIN
    (x_train, y_train), (x_test, y_test) = (digits_with_labels(s) for s in ("train", "test"))
    model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=budget["latent_dim"],
                                   num_classes=10, hidden_units=budget["hidden_units"])
    compile_for_training(model, budget["learning_rate"])
    model.fit(x_train, y_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
              shuffle=True, verbose=0)
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    after, reconstruction, kl = measured_negative_elbo(conditioned_network(model.encoder, y_test, 10),
                                                 conditioned_network(model.decoder, y_test, 10),
                                                 x_test, epsilon)
    requested = np.repeat(np.arange(10), budget["per_class"]).astype("int32")
    samples = np.asarray(model.sample(requested, seed=int(rng.integers(1 << 30))))
    class_means = np.stack([x_train[y_train == d].mean(axis=0) for d in range(10)])
    return {"after": after, "reconstruction": reconstruction, "kl": kl,
            "requested": requested, "generated": nearest_class_mean(samples, class_means),
            "samples_in_range": bool(np.all((samples >= 0) & (samples <= 1)))}


def requested_digit_accuracy(output):
    """The fraction of samples whose nearest class mean is the digit requested."""
    return float(np.mean(np.asarray(output["generated"]) == np.asarray(output["requested"])))


@cvae_generates_requested_digits.verdict
def _(student, reference):
    expect_true(np.isfinite(student["after"]), "after training, the held-out negative ELBO is "
                f"{student['after']} (NaN or inf): the training diverged")
    expect_true(student["samples_in_range"], "ConditionalVAE.sample must return pixel "
                "probabilities in [0, 1]")
    accuracy, target = requested_digit_accuracy(student), requested_digit_accuracy(reference)
    requested, generated = np.asarray(student["requested"]), np.asarray(student["generated"])
    per_digit = ", ".join(f"{d}: {np.mean(generated[requested == d] == d):.0%}"
                          for d in range(10))
    expect_true(accuracy >= target - CVAE_ACCURACY_MARGIN,
                f"after training, {accuracy:.0%} of the samples look like the digit requested "
                f"(nearest class mean; per digit {per_digit}); the reference reaches "
                f"{target:.0%}, the bar is {target - CVAE_ACCURACY_MARGIN:.0%}. Is the label "
                "passed to the decoder, in training and in sample?")
    expect_at_most(student["after"], reference["after"] + MARGIN_NATS,
                   f"the held-out negative ELBO of the trained ConditionalVAE (reconstruction "
                   f"{student['reconstruction']:.2f} + KL {student['kl']:.2f}; the reference: "
                   f"{reference['reconstruction']:.2f} + {reference['kl']:.2f})", unit=" nats")
