"""Hidden checks of lab24_information, variational.py: the functions on fresh sizes, decays,
betas and latent dimensions. References from the solution, run live."""

from autograder.api import check
from autograder.checks.lab24_information.probes import FLOAT32
from autograder.verdicts import expect_close


@check(points=1, uses="variational", hint="MINE's surrogate and moving average for any N, "
       "M and decay")
def mine_functions_other_sizes(lab, rng):
    import tensorflow as tf
    bn = lab.variational
    n, m = int(rng.integers(5, 20)), int(rng.integers(5, 30))
    joint = tf.constant(rng.normal(size=n).astype("float32"))
    marginal = tf.constant(rng.normal(size=m).astype("float32"))
    decay = float(rng.uniform(0.5, 0.99))
    with tf.GradientTape() as tape:
        tape.watch(marginal)
        value = bn.mine_surrogate(joint, marginal, tf.constant(1.7))
    return {"value": float(value), "grad": tape.gradient(value, marginal).numpy(),
            "average": float(bn.moving_average(tf.constant(1.3), tf.constant(0.4), decay))}


@mine_functions_other_sizes.verdict
def _(student, reference):
    for key in ("value", "grad", "average"):
        expect_close(student[key], reference[key], f"MINE's {key}", **FLOAT32)


@check(points=1, uses="variational", hint="the posterior, rate, VIB loss and IWAE bound for "
       "any latent dimension, beta and K")
def vib_and_iwae_other_sizes(lab, rng):
    bn = lab.variational
    latent, n, k = int(rng.integers(1, 6)), int(rng.integers(3, 9)), int(rng.integers(2, 12))
    params = rng.normal(size=(n, 2 * latent)).astype("float32")
    posterior = bn.gaussian_posterior(params, latent)
    z = rng.normal(size=(n, latent)).astype("float32")
    labels = rng.integers(0, 5, size=n)
    logits = rng.normal(size=(n, 5)).astype("float32")
    rates = bn.rate(posterior, latent)
    return {"log_prob": posterior.log_prob(z).numpy(), "rate": rates.numpy(),
            "loss": float(bn.vib_loss(labels, logits, rates, float(rng.uniform(0.01, 2)))),
            "iwae": bn.iwae_bound(rng.normal(scale=2, size=(k, n)).astype("float32")).numpy(),
            "bits": float(bn.bits_per_dim(float(rng.uniform(10, 200)), int(rng.integers(2, 900))))}


@vib_and_iwae_other_sizes.verdict
def _(student, reference):
    for key in ("log_prob", "rate", "loss", "iwae", "bits"):
        expect_close(student[key], reference[key], key, rtol=1e-5, atol=1e-4)
