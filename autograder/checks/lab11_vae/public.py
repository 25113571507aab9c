"""Public checks of lab11_vae, part 1: the maths of the ELBO and the two networks (vae.py).

The maths is compared with the reference on random inputs, with the known slips named
(a mean over pixels, log(sigmoid) overflowing...). The networks are built and run on their
own.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab11_vae.probes import judge_elbo_terms, scalars
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

# ---------------------------------------------------------------------------------------------
# 1-3. The maths
# ---------------------------------------------------------------------------------------------

@check(points=1, uses="vae", task="`sample_gaussian`",
       hint="z = mean + exp(0.5 * log_var) * epsilon: log_var is a log-VARIANCE")
def sample_gaussian(lab, rng):
    """z for random means, log-variances and noise (16, 3)."""
    mean, log_var, eps = (rng.normal(size=(16, 3)).astype("float32") for _ in range(3))
    return {"z": lab.vae.sample_gaussian(mean, log_var, eps)}


@sample_gaussian.verdict
def _(student, reference):
    expect_close(student["z"], reference["z"], "sample_gaussian(mean, log_var, epsilon)")


@check(points=2, uses="vae", task="`kl_divergence`",
       hint="KL = 0.5 * sum(mean^2 + exp(log_var) - 1 - log_var) over the latent axis")
def kl_divergence(lab, rng):
    """The per-example KL for random means and log-variances (16, 3)."""
    mean, log_var = (rng.normal(size=(16, 3)).astype("float32") for _ in range(2))
    return {"kl": lab.vae.kl_divergence(mean, log_var)}


@kl_divergence.verdict
def _(student, reference):
    expect_close(student["kl"], reference["kl"], "kl_divergence(mean, log_var)")


@check(points=2, uses="vae", task="`bernoulli_log_likelihood`",
       hint="log p(x|logits) = sum over pixels of x * logits - softplus(logits); "
            "one value per example")
def bernoulli_log_likelihood(lab, rng):
    """log p(x | logits) per example for binary and grey-level targets (12, 64)."""
    x = rng.random(size=(12, 64)).astype("float32")
    x[:6] = np.round(x[:6])  # binary rows and grey-level rows
    logits = (2.0 * rng.normal(size=(12, 64))).astype("float32")
    return {"log_px": lab.vae.bernoulli_log_likelihood(x, logits)}


@bernoulli_log_likelihood.verdict
def _(student, reference):
    log_px = student["log_px"]
    if log_px is not None and np.shape(log_px) == reference["log_px"].shape and np.allclose(
            log_px, reference["log_px"] / 64.0, rtol=1e-4):
        raise CheckFailed("bernoulli_log_likelihood(x, logits) is 1/64 of the reference: a mean "
                          "over the 64 pixels; the log-likelihood SUMS over the pixels")
    expect_close(log_px, reference["log_px"], "bernoulli_log_likelihood(x, logits)")


@check(points=1, uses="vae", task="`bernoulli_log_likelihood`",
       hint="never log(sigmoid(logits)): use log(1 + e^l) = max(l, 0) + log1p(e^-|l|) "
            "(or tf.nn.softplus)")
def bernoulli_log_likelihood_extreme_logits(lab, rng):
    """Finite and right for logits of ±30 and ±100 (one extreme pixel per row)."""
    # One extreme pixel per row, the other pixels ordinary: a NaN or inf points at its row.
    x = np.round(rng.random(size=(8, 16))).astype("float32")
    logits = rng.normal(size=(8, 16)).astype("float32")
    for row, (pixel, logit) in enumerate([(1, 100), (0, -100), (0, 100), (1, -100),
                                          (1, 30), (0, -30), (0.5, 100), (0.5, -100)]):
        x[row, 0], logits[row, 0] = pixel, logit
    return {"log_px": lab.vae.bernoulli_log_likelihood(x, logits)}


@bernoulli_log_likelihood_extreme_logits.verdict
def _(student, reference):
    log_px = student["log_px"]
    if log_px is not None and np.shape(log_px) == reference["log_px"].shape and np.allclose(
            log_px, reference["log_px"] / 16.0, rtol=1e-4):
        raise CheckFailed("bernoulli_log_likelihood on 16 pixels is 1/16 of the reference: a "
                          "mean over the pixels; the log-likelihood SUMS over the pixels")
    expect_finite(student["log_px"], "bernoulli_log_likelihood with logits of +-100 "
                  "(rows: x=1 l=100, x=0 l=-100, x=0 l=100, x=1 l=-100, ...)")
    expect_close(student["log_px"], reference["log_px"],
                 "bernoulli_log_likelihood with logits of +-30 and +-100")


@check(points=1, uses="vae", task="`gaussian_log_likelihood`",
       hint="log N(x | m, e^v) = -0.5 * sum(log(2 pi) + v + (x - m)^2 / e^v) over D; "
            "log_var may be a scalar")
def gaussian_log_likelihood(lab, rng):
    """log N(x | mean, exp(log_var)) per example (10, 5), with a log-variance per pixel and a
    scalar one."""
    x, mean, log_var = (rng.normal(size=(10, 5)).astype("float32") for _ in range(3))
    return {"per_pixel_variance": lab.vae.gaussian_log_likelihood(x, mean, log_var),
            "scalar_variance": lab.vae.gaussian_log_likelihood(x, mean, np.float32(-1.5))}


@gaussian_log_likelihood.verdict
def _(student, reference):
    got, expected = student["per_pixel_variance"], reference["per_pixel_variance"]
    if got is not None and np.shape(got) == expected.shape and np.allclose(
            np.asarray(got, np.float64) - expected, 2.5 * np.log(2 * np.pi), atol=1e-3):
        raise CheckFailed("gaussian_log_likelihood(x, mean, log_var) is 0.5 log(2 pi) per "
                          "dimension above the reference: the log(2 pi) term is missing")
    expect_close(student["per_pixel_variance"], reference["per_pixel_variance"],
                 "gaussian_log_likelihood(x, mean, log_var)")
    expect_close(student["scalar_variance"], reference["scalar_variance"],
                 "gaussian_log_likelihood(x, mean, log_var=-1.5) (a scalar log-variance)")


@check(points=1, uses="vae", task="`negative_elbo`",
       hint="reconstruction = mean(-log_px), kl = mean(kl), loss = reconstruction + beta * kl")
def negative_elbo(lab, rng):
    """The three batch means (loss, reconstruction, kl) for β = 1 and β = 0.25."""
    log_px = (-40.0 * rng.random(size=20)).astype("float32")
    kl = (5.0 * rng.random(size=20)).astype("float32")
    return {"plain": scalars(lab.vae.negative_elbo(log_px, kl)),
            "weighted": scalars(lab.vae.negative_elbo(log_px, kl, beta=0.25))}


@negative_elbo.verdict
def _(student, reference):
    judge_elbo_terms(student["plain"], reference["plain"], "negative_elbo(log_px, kl)")
    judge_elbo_terms(student["weighted"], reference["weighted"],
                     "negative_elbo(log_px, kl, beta=0.25)")


# ---------------------------------------------------------------------------------------------
# 4. The networks
# ---------------------------------------------------------------------------------------------

@check(points=2, uses="vae", task="`Encoder` and `Decoder` (`build`, `call`)",
       hint="build() builds every Dense sublayer on the output shape of the one before; "
            "Encoder.call returns (mean_head(h), log_var_head(h)), Decoder.call returns "
            "output_head(h), with h the last hidden layer's output")
def encoder_and_decoder(lab, rng):
    """The weights `build` creates, and with the same random weights as the reference, the
    outputs of `Encoder(3, (16, 8))` and `Decoder(64, (8, 16))` (float32, any batch size)."""
    import keras

    from autograder.check_helpers import assign_random_weights
    x = np.round(rng.random(size=(7, 64))).astype("float32")
    z = rng.normal(size=(5, 3)).astype("float32")
    encoder = lab.vae.Encoder(latent_dim=3, hidden_units=(16, 8))
    decoder = lab.vae.Decoder(output_dim=64, hidden_units=(8, 16))
    encoder.build((None, 64))
    decoder.build((None, 3))
    shapes = {f"{name}_weights": json.dumps([list(w.shape) for w in network.trainable_weights])
              for name, network in (("encoder", encoder), ("decoder", decoder))}
    for network in (encoder, decoder):
        assign_random_weights(network, rng, scale=0.5)
    try:
        outputs, logits = encoder(x), decoder(z)
    except NotImplementedError:
        raise
    except Exception as error:  # the message goes to the student
        return {**shapes, "error": "calling the built Encoder(3, (16, 8)) on x (7, 64) or "
                f"Decoder(64, (8, 16)) on z (5, 3) failed: {type(error).__name__}: {error}"[:700]}
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
        return {**shapes, "error": f"Encoder(...)(x) returned {type(outputs).__name__}, not a "
                "pair (mean, log_var)"}
    mean, log_var = outputs
    return {**shapes, "error": "",
            "layers": [isinstance(layer, keras.layers.Layer) for layer in (encoder, decoder)],
            "mean": mean, "log_var": log_var, "logits": logits,
            "dtypes": [str(np.asarray(t).dtype) for t in (mean, log_var, logits)],
            "other_batch": [np.asarray(encoder(x[:2])[0]).shape[0],
                            np.asarray(decoder(z[:1])).shape[0]]}


@encoder_and_decoder.verdict
def _(student, reference):
    for name, made in (("encoder", "Encoder(3, (16, 8)).build((None, 64))"),
                       ("decoder", "Decoder(64, (8, 16)).build((None, 3))")):
        got, expected = (json.loads(r[f"{name}_weights"]) for r in (student, reference))
        expect_true(got == expected, f"{made} creates weights of shapes "
                    f"{[tuple(s) for s in got]}, expected {[tuple(s) for s in expected]}: "
                    "each Dense is built on the output shape of the layer before it")
    if student["error"]:
        raise CheckFailed(student["error"])
    expect_true(all(student["layers"]), "Encoder and Decoder must be keras.layers.Layer subclasses")
    expect_shape(student["mean"], (7, 3), "mean of Encoder(latent_dim=3)(x) for x (7, 64)")
    expect_shape(student["log_var"], (7, 3), "log_var of Encoder(latent_dim=3)(x) for x (7, 64)")
    expect_shape(student["logits"], (5, 64), "Decoder(output_dim=64)(z) for z (5, 3)")
    expect_true(student["dtypes"] == ["float32"] * 3,
                f"dtypes of (mean, log_var, logits) are {student['dtypes']}, expected float32")
    expect_true(list(student["other_batch"]) == [2, 1],
                "the encoder and decoder must work for any batch size (got batch sizes "
                f"{list(student['other_batch'])} for inputs of 2 and 1 examples)")
    same = "with the same random weights as the reference"
    expect_close(student["mean"], reference["mean"], f"the mean Encoder(3, (16, 8)) gives {same}")
    expect_close(student["log_var"], reference["log_var"],
                 f"the log_var Encoder(3, (16, 8)) gives {same} (no activation on its head)")
    expect_close(student["logits"], reference["logits"],
                 f"the logits Decoder(64, (8, 16)) gives {same} (no activation on its output)")
