"""Public checks of lab11_vae, part 3: the β-VAE (β in `VAE.loss_terms` and `train_step`).

Both run the student's VAE with the checks' own maths and networks (`probes.standins`); the
training check also with the checks' own loss_terms, so it judges how train_step uses the
loss that loss_terms returns.
"""
import json

import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab11_vae.probes import (
    compile_for_training,
    digits,
    expect_number,
    measured_negative_elbo,
    scalars,
    standin_loss_terms,
    standins,
)
from autograder.verdicts import expect_at_most, expect_true

# Two betas trained on the same budget: the small one keeps a rich posterior, the large one
# pays so much for KL that the posterior collapses onto the prior (KL near 0).
BETA_TRAIN = {"latent_dim": 8, "hidden_units": (64,), "learning_rate": 5e-3, "batch_size": 128,
              "epochs": 3, "betas": (0.5, 4.0)}
# Over 8 training seeds the beta = 0.5 model's held-out KL lands between 4.4 and 6.3 nats, its
# reconstruction between 20.1 and 22.9, and the beta = 4 model's between 27.3 and 28.8 (KL 0.62
# to 0.82); a train_step that drops beta (both models train as beta = 1) ends near KL 4 for
# both, 3 nats above the beta = 4 reference.
BETA_KL_MARGIN = 2.5
BETA_RECONSTRUCTION_MARGIN = 3.0


@check(points=1, uses="vae", reference=False, task="β in `VAE.loss_terms`",
       hint="beta multiplies the KL inside the loss and nothing else: loss = reconstruction + "
            "beta * kl, and loss_terms reports the unweighted reconstruction and kl")
def beta_weights_the_kl(lab, rng):
    """The same weights and noise with β = 0, 1, 4 give the same reconstruction and KL, and
    loss = reconstruction + β · KL."""
    x = digits("test")[:32]
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    weight_seed = int(rng.integers(1 << 30))
    terms = {}
    with standins(lab):
        for beta in (0.0, 1.0, 4.0):
            model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=beta)
            assign_random_weights(model, np.random.default_rng(weight_seed))  # the same weights
            terms[f"{beta:g}"] = scalars(model.loss_terms(x, epsilon))
        terms["again"] = scalars(model.loss_terms(x, epsilon))
    return terms


@beta_weights_the_kl.verdict
def _(student, _reference):
    values = {}
    first, again = (np.asarray(student[k]["values"], np.float64) for k in ("4", "again"))
    expect_true(first.shape != again.shape or np.allclose(first, again, rtol=1e-6, atol=1e-6),
                "VAE(beta=4).loss_terms(x, epsilon), called twice with the same x and epsilon, "
                "is not the same for the same epsilon: loss_terms must use the epsilon it is "
                "given (and draw noise only when epsilon is None)")
    for beta, terms in student.items():
        if beta == "again":
            continue
        expect_true(json.loads(terms["shapes"]) is not None,
                    f"VAE(beta={beta}).loss_terms returned None (is a `return` missing?)")
        shapes = json.loads(terms["shapes"])
        expect_true(shapes == [[], [], []], f"VAE(beta={beta}).loss_terms returned values of "
                    f"shapes {shapes}, expected three scalars (loss, reconstruction, kl)")
        values[beta] = [float(v[0]) for v in terms["values"]]
    _, reconstruction, kl = values["0"]
    for beta in ("1", "4"):
        loss_b, reconstruction_b, kl_b = values[beta]
        expect_number(reconstruction_b, reconstruction,
                      f"the reconstruction term of VAE(beta={beta}).loss_terms",
                      against="with beta=0 (beta must not change it) it is")
        expect_number(kl_b, kl, f"the kl term of VAE(beta={beta}).loss_terms",
                      against="with beta=0 it is (report the unweighted KL; beta weights it "
                      "inside the loss only):")
        expect_number(loss_b, reconstruction + float(beta) * kl,
                      f"the loss of VAE(beta={beta}).loss_terms",
                      against=f"reconstruction + {beta} * kl is")


@check(points=2, uses="vae", timeout=40, task="β in `VAE.train_step`",
       hint="the gradient step must minimise the loss that loss_terms weights with self.beta: "
            "a larger beta trades reconstruction for a smaller KL")
def beta_vae_trades_kl_for_reconstruction(lab, rng):
    """With the checks' own `loss_terms` (β inside the loss), β = 0.5 and β = 4 trained 3
    epochs each from the same weights: the larger β ends with the smaller held-out KL, the KL
    of β = 0.5 within 2.5 nats of the reference's, each reconstruction within 3 nats."""
    with standins(lab):
        return train_betas(lab, rng)


def train_betas(lab, rng):
    """One VAE trained once per beta from the same weights and optimizer state: beta is a
    variable its loss reads, so fit traces the student's train_step once (the trace costs as
    much as the training)."""
    import tensorflow as tf
    x_train, x_test = digits("train"), digits("test")
    budget = BETA_TRAIN
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    model = lab.vae.VAE(input_dim=64, latent_dim=budget["latent_dim"],
                        hidden_units=budget["hidden_units"], beta=budget["betas"][0])
    # The checks' loss_terms weights the KL by model.beta: a variable, set before each run.
    model.beta = tf.Variable(float(budget["betas"][0]), trainable=False, dtype="float32")
    model.loss_terms = standin_loss_terms(model)
    compile_for_training(model, budget["learning_rate"])
    start = [np.array(v) for v in model.weights + model.optimizer.variables]
    out = {}
    for beta in budget["betas"]:
        for variable, value in zip(model.weights + model.optimizer.variables, start):
            variable.assign(value)
        model.beta.assign(beta)
        model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                  shuffle=True, verbose=0)
        _, reconstruction, kl = measured_negative_elbo(model.encoder, model.decoder, x_test, epsilon)
        out[f"{beta:g}"] = {"reconstruction": reconstruction, "kl": kl}
    return out


def beta_kls(output):
    """The held-out KL of each beta of BETA_TRAIN, smallest beta first."""
    return [output[f"{beta:g}"]["kl"] for beta in BETA_TRAIN["betas"]]


@beta_vae_trades_kl_for_reconstruction.verdict
def _(student, reference):
    small, large = (f"{beta:g}" for beta in BETA_TRAIN["betas"])
    for beta in (small, large):
        for term in ("reconstruction", "kl"):
            expect_true(np.isfinite(student[beta][term]), f"after training VAE(beta={beta}), "
                        f"the held-out {term} term is {student[beta][term]} (NaN or inf)")

    def split(output, beta):
        return (f"reconstruction {output[beta]['reconstruction']:.2f} + KL "
                f"{output[beta]['kl']:.2f}")
    found = (f"after {BETA_TRAIN['epochs']} epochs, held-out beta={small}: "
             f"{split(student, small)}, beta={large}: {split(student, large)} nats; the reference: "
             f"{split(reference, small)} and {split(reference, large)}")
    expect_true(student[large]["kl"] < student[small]["kl"],
                f"a larger beta must give a smaller KL: {found}")
    expect_true(abs(student[small]["kl"] - reference[small]["kl"]) <= BETA_KL_MARGIN
                and student[large]["kl"] <= reference[large]["kl"] + 0.5,
                f"the KL terms are not where beta puts them ({found}; allowed: within "
                f"{BETA_KL_MARGIN} nats for beta={small}, at most 0.5 nats more for "
                f"beta={large}). Does train_step minimise reconstruction + beta * kl?")
    for beta in (small, large):
        expect_at_most(student[beta]["reconstruction"],
                       reference[beta]["reconstruction"] + BETA_RECONSTRUCTION_MARGIN,
                       f"the held-out reconstruction term of VAE(beta={beta}) ({found})",
                       unit=" nats")
