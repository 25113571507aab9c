"""Hidden checks of lab11_vae: fresh shapes, seeds and model sizes; references from the solution.

train_step_trains_other_model trains the student's whole VAE (their own maths and networks,
no stand-ins): the one check of how the parts work together."""

import numpy as np

from autograder.api import check
from autograder.checks.lab11_vae.probes import (
    conditioned_network,
    digits_with_labels,
    judge_elbo_terms,
    judge_iwae_bound,
    judge_terms_in_bits_or_nats,
    judge_training,
    measured_negative_elbo,
    scalars,
    standins,
    train_probe,
)
from autograder.verdicts import expect_close


def _shape(rng):
    return tuple(int(v) for v in rng.integers(1, 9, size=2))


@check(points=1, uses="vae", hint="z = mean + exp(0.5 * log_var) * epsilon, for any (N, K)")
def sample_gaussian_shapes(lab, rng):
    n, k = _shape(rng)
    mean, log_var, eps = (rng.normal(size=(n, k)).astype("float32") for _ in range(3))
    return {"z": lab.vae.sample_gaussian(mean, 3.0 * log_var, eps)}


@sample_gaussian_shapes.verdict
def _(student, reference):
    expect_close(student["z"], reference["z"], "sample_gaussian on other shapes and log-variances")


@check(points=1, uses="vae", hint="KL must hold for any batch size and latent size")
def kl_divergence_shapes(lab, rng):
    n, k = _shape(rng)
    mean, log_var = (rng.normal(size=(n, k)).astype("float32") for _ in range(2))
    return {"kl": lab.vae.kl_divergence(mean, log_var)}


@kl_divergence_shapes.verdict
def _(student, reference):
    expect_close(student["kl"], reference["kl"], "kl_divergence on other shapes")


@check(points=1, uses="vae", hint="the log-likelihoods sum over the LAST axis, whatever D is; "
                      "negative_elbo averages over the batch")
def log_likelihoods_and_elbo_shapes(lab, rng):
    n, d = (int(v) for v in rng.integers(2, 40, size=2))
    x = np.round(rng.random(size=(n, d))).astype("float32")
    logits = (4.0 * rng.normal(size=(n, d))).astype("float32")
    mean, log_var = (rng.normal(size=(n, d)).astype("float32") for _ in range(2))
    log_px = lab.vae.bernoulli_log_likelihood(x, logits)
    kl = (3.0 * rng.random(size=n)).astype("float32")
    beta = float(rng.uniform(0.1, 4.0))
    return {"bernoulli": log_px, "gaussian": lab.vae.gaussian_log_likelihood(x, mean, log_var),
            "elbo": scalars(lab.vae.negative_elbo(np.asarray(log_px), kl, beta))}


@log_likelihoods_and_elbo_shapes.verdict
def _(student, reference):
    expect_close(student["bernoulli"], reference["bernoulli"], "bernoulli_log_likelihood on (N, D)")
    expect_close(student["gaussian"], reference["gaussian"], "gaussian_log_likelihood on (N, D)")
    judge_elbo_terms(student["elbo"], reference["elbo"], "negative_elbo with another beta")


@check(points=2, uses="vae", timeout=40,
       hint="train_step must train any VAE size and beta as well as the reference (within "
            "1.25 nats)")
def train_step_trains_other_model(lab, rng):
    budget = {"latent_dim": 6, "hidden_units": (96,), "learning_rate": 3e-3,
              "batch_size": 64, "epochs": 10, "beta": 0.5}
    return train_probe(lab, rng, budget)


train_step_trains_other_model.verdict(lambda s, r: judge_training(s, r))


@check(points=1, uses="vae",
       hint="iwae_bound: logsumexp over axis 0 (the S samples) minus log S, for any S and N")
def iwae_bound_other_shapes(lab, rng):
    samples, n = (int(v) for v in rng.integers(2, 12, size=2))
    log_weights = (10.0 * rng.normal(size=(samples, n)) - 300.0).astype("float32")
    return {"log_weights": log_weights, "bound": lab.vae.iwae_bound(log_weights)}


@iwae_bound_other_shapes.verdict
def _(student, reference):
    judge_iwae_bound(student["bound"], reference["bound"], reference["log_weights"],
                     f"iwae_bound on log-weights of shape {reference['log_weights'].shape}")


@check(points=1, uses="vae", reference=False,
       hint="the ConditionalVAE must condition on num_classes classes, whatever that number")
def cvae_loss_terms_other_sizes(lab, rng):
    n, latent_dim = int(rng.integers(3, 40)), int(rng.integers(2, 7))
    x = digits_with_labels("test")[0][:n]
    labels = rng.integers(0, 3, size=n).astype("int32")
    beta = float(rng.uniform(0.2, 3.0))
    epsilon = rng.normal(size=(n, latent_dim)).astype("float32")
    with standins(lab):
        model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=latent_dim, num_classes=3,
                                       hidden_units=(24, 12), beta=beta)
        _, reconstruction, kl = measured_negative_elbo(conditioned_network(model.encoder, labels, 3),
                                                 conditioned_network(model.decoder, labels, 3),
                                                 x, epsilon[None])
        return {"terms": scalars(model.loss_terms(x, labels, epsilon)),
                "expected": [reconstruction + beta * kl, reconstruction, kl], "beta": beta}


@cvae_loss_terms_other_sizes.verdict
def _(student, _reference):
    judge_terms_in_bits_or_nats(student["terms"], student["expected"], f"ConditionalVAE(num_classes=3, "
                     f"beta={student['beta']:.3g}).loss_terms (against its own networks)")
