"""Public checks of lab12_gan, part 1: the GAN losses of gan_losses.py, each on its own."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import tensor
from autograder.checks.lab12_gan.probes import (
    LOSSES,
    gradient_of,
    scalar,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_finite, expect_true

# Logits this far out put a cross-entropy term at 0 (softplus(-40) is about 4e-18): the
# reference's loss on them isolates the other term, for the verdicts' known mistakes.
FAR = 40.0


def logistic(x):
    """The sigmoid of an array (probes only): the "probabilities" of the logits."""
    from scipy.special import expit
    return expit(np.asarray(x, dtype=np.float64))


@check(points=2, uses=LOSSES, task="`discriminator_loss`",
       hint="real logits labelled 1: softplus(-l); fake logits labelled 0: softplus(l); "
            "return mean over the real batch + mean over the fake batch")
def discriminator_loss(lab, rng):
    """L_D on 32 real and 24 fake random logits, against the reference; the message names
    swapped labels, a sigmoid applied twice, one mean over both batches, or sums (compared
    with the reference's loss on related inputs: negated logits, probabilities, one batch
    pushed to where its term vanishes)."""
    real = 3 * rng.normal(size=(32, 1))
    fake = 3 * rng.normal(size=(24, 1))
    fn = lab.gan_losses.discriminator_loss

    def loss(r, f):
        return scalar(fn(tensor(r), tensor(f)), "discriminator_loss")
    return {"loss": loss(real, fake), "negated": loss(-real, -fake),
            "on_probabilities": loss(logistic(real), logistic(fake)),
            "real_term": loss(real, np.full_like(fake, -FAR)),
            "fake_term": loss(np.full_like(real, FAR), fake), "sizes": [len(real), len(fake)]}


@discriminator_loss.verdict
def _(student, reference):
    n, m = (int(size) for size in reference["sizes"])
    real_term, fake_term = float(reference["real_term"]), float(reference["fake_term"])
    what = "discriminator_loss(real_logits, fake_logits)"
    expect_close_naming(student["loss"], reference["loss"], what, [
        (reference["negated"],
         "swaps the labels: real data must be labelled 1 (-log D(x)) and fakes 0 "
         "(-log(1 - D(G(z))))"),
        (reference["on_probabilities"],
         "treats probabilities as logits: a sigmoid is applied before a loss that "
         "already contains one (sigmoid applied twice)"),
        ((n * real_term + m * fake_term) / (n + m),
         "takes one mean over the real and fake examples together; take the mean of each "
         "batch and add the two"),
        (n * real_term + m * fake_term, "sums over each batch instead of taking its mean"),
    ])


def generator_losses_probe(lab, fake):
    """Both generator losses on the logits and on their sigmoids."""
    out = {}
    for name in ("minimax", "non_saturating"):
        fn = getattr(lab.gan_losses, f"{name}_generator_loss")
        what = f"{name}_generator_loss"
        out[name] = scalar(fn(tensor(fake)), what)
        out[f"{name}_on_probabilities"] = scalar(fn(tensor(logistic(fake))), what)
    return out


@check(points=1, uses=LOSSES, task="`minimax_generator_loss`",
       hint="log(1 - sigmoid(l)) = -softplus(l), averaged over the batch")
def minimax_generator_loss(lab, rng):
    """The minimax loss on 24 random logits, against the reference; the message names the
    non-saturating loss, a flipped sign, a sigmoid applied twice or a sum."""
    fake = 3 * rng.normal(size=(24, 1))
    out = generator_losses_probe(lab, fake)
    return {**out, "loss": out["minimax"], "size": len(fake)}


@minimax_generator_loss.verdict
def _(student, reference):
    want = float(reference["loss"])
    expect_close_naming(student["loss"], want, "minimax_generator_loss(fake_logits)", [
        (reference["non_saturating"], "is the non-saturating loss -log D(G(z)); the minimax "
                                      "loss is log(1 - D(G(z))) = -softplus(logit)"),
        (-want, "has the wrong sign: it is mean(-log(1 - D(G(z)))), which G would minimise "
                "by being caught; the minimax loss is mean(log(1 - D(G(z))))"),
        (reference["minimax_on_probabilities"], "treats probabilities as logits (sigmoid "
                                                "applied twice)"),
        (reference["size"] * want, "sums over the batch instead of taking the mean"),
    ])


@check(points=1, uses=LOSSES, task="`non_saturating_generator_loss`",
       hint="-log sigmoid(l) = softplus(-l), averaged: the fakes labelled *real* (1)")
def non_saturating_generator_loss(lab, rng):
    """The non-saturating loss on 24 random logits, against the reference; the message
    names fakes labelled 0, the minimax loss, a sigmoid applied twice or a sum."""
    fake = 3 * rng.normal(size=(24, 1))
    out = generator_losses_probe(lab, fake)
    return {**out, "loss": out["non_saturating"], "size": len(fake)}


@non_saturating_generator_loss.verdict
def _(student, reference):
    want = float(reference["loss"])
    minimax = float(reference["minimax"])
    expect_close_naming(student["loss"], want, "non_saturating_generator_loss(fake_logits)", [
        (-minimax, "labels the fakes 0 (fake): G's loss must label them 1 (real), i.e. "
                   "-log D(G(z)) = softplus(-logit)"),
        (minimax, "is the minimax loss log(1 - D(G(z))); the non-saturating loss is "
                  "-log D(G(z)) = softplus(-logit)"),
        (reference["non_saturating_on_probabilities"], "treats probabilities as logits "
                                                       "(sigmoid applied twice)"),
        (reference["size"] * want, "sums over the batch instead of taking the mean"),
    ])


EXTREME_LOGITS = [[-300.0], [-120.0], [-60.0], [0.0], [60.0], [120.0], [300.0]]


@check(points=2, uses=LOSSES, reference=False, task="the three losses, stable",
       hint="never take log(sigmoid(l)) or log(1 - sigmoid(l)), nor clip: sigmoid underflows "
            "to 0 or rounds to 1 for large |l|; use tf.nn.softplus or "
            "tf.nn.sigmoid_cross_entropy_with_logits")
def losses_stable_on_extreme_logits(lab, rng):
    """Values and gradients of all three losses at logits up to ±300 are finite, and the
    gradient does not vanish where the loss is large (no clipping, no sigmoid first)."""
    losses = lab.gan_losses
    logits = np.array(EXTREME_LOGITS)
    d_loss, (d_real, d_fake) = gradient_of(losses.discriminator_loss, logits, logits[::-1])
    values = {"discriminator_loss": scalar(d_loss, "discriminator_loss")}
    # Per example (times the batch size, as each loss is a mean): 1 where a loss is steep.
    gradients = {"discriminator_loss w.r.t. real_logits": len(logits) * d_real,
                 "discriminator_loss w.r.t. fake_logits": len(logits) * d_fake[::-1]}
    for fn in (losses.minimax_generator_loss, losses.non_saturating_generator_loss):
        loss, (grad,) = gradient_of(fn, logits)
        values[fn.__name__] = scalar(loss, fn.__name__)
        gradients[fn.__name__] = len(logits) * grad
    return {"values": values, "gradients": gradients}


@losses_stable_on_extreme_logits.verdict
def _(student, reference):
    where = "on logits -300, -120, -60, 0, 60, 120, 300"
    for name, value in student["values"].items():
        expect_finite(value, f"the value of {name} {where}")
    for name, grad in student["gradients"].items():
        grad = expect_finite(grad, f"the gradient of {name} {where}").reshape(-1)
        extreme = np.abs(grad[[0, 1, 2, 4, 5, 6]])
        # A cross-entropy grows linearly on its wrong side: slope 1 per example there.
        expect_true(extreme.max() > 0.5,
                    f"the gradient of {name} vanishes at every logit beyond +-60 (largest "
                    f"per-example |gradient| {extreme.max():.3g}, expected 1 on the side "
                    "where the loss is large): clipping, or a sigmoid before the loss, kills "
                    "the learning signal exactly where D is most wrong")


GRADIENT_LOGITS = np.linspace(-8.0, 8.0, 9).reshape(-1, 1)


@check(points=2, uses=LOSSES, task="the two generator losses' gradients",
       hint="where D confidently rejects the fakes (logit << 0) the minimax loss is flat and "
            "the non-saturating loss is steep; both push the logit up (negative gradient)")
def generator_loss_gradients(lab, rng):
    """The per-example gradients of both generator losses at logits -8..8: the minimax one
    flat and the non-saturating one steep where D rejects the fakes, both pushing the logit
    up, equal to the reference's."""
    out = {}
    for fn in (lab.gan_losses.minimax_generator_loss, lab.gan_losses.non_saturating_generator_loss):
        _, (grad,) = gradient_of(fn, GRADIENT_LOGITS)
        out[fn.__name__] = len(GRADIENT_LOGITS) * np.asarray(grad)  # per example: a mean
    return out


@generator_loss_gradients.verdict
def _(student, reference):
    minimax = np.asarray(student["minimax_generator_loss"], dtype=np.float64).reshape(-1)
    non_saturating = np.asarray(student["non_saturating_generator_loss"],
                                dtype=np.float64).reshape(-1)
    expect_finite(non_saturating, "d non_saturating_generator_loss / d logits")
    expect_finite(minimax, "d minimax_generator_loss / d logits")
    # Index 0 is logit -8: D is sure the sample is fake, where G most needs a signal.
    if abs(minimax[0]) > 0.5 and abs(non_saturating[0]) < 0.05:
        raise CheckFailed(
            "minimax_generator_loss and non_saturating_generator_loss look swapped: at logit "
            f"-8 (D rejects the fake) the minimax gradient is {minimax[0]:.3g} and the "
            f"non-saturating one {non_saturating[0]:.3g}; the minimax loss should be the flat "
            "one there")
    for name, grad in (("non_saturating", non_saturating), ("minimax", minimax)):
        expect_true(np.all(grad <= 1e-6),
                    f"{name}_generator_loss decreases when D finds the fakes *more* fake "
                    f"(positive gradient w.r.t. the logit, up to {grad.max():.3g}): G would "
                    "learn to be caught. G wants D's logit on its samples to go up")
    batch = len(GRADIENT_LOGITS)
    for name in ("minimax_generator_loss", "non_saturating_generator_loss"):
        grad, want = (np.asarray(r[name], dtype=np.float64) for r in (student, reference))
        expect_true(not np.allclose(grad, batch * want, rtol=1e-3, atol=1e-5),
                    f"the gradient of {name} is {batch} times the reference's on a batch of "
                    f"{batch}: it sums over the batch instead of taking the mean")
        expect_close(grad, want, f"the per-example gradient of {name} w.r.t. logits -8..8",
                     rtol=1e-3, atol=1e-5)
    expect_true(abs(non_saturating[0]) > 0.5,
                "non_saturating_generator_loss saturates: its gradient at logit -8 (D rejects "
                f"the fake) is {non_saturating[0]:.3g} per example, expected about -1")
