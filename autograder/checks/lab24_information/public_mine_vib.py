"""Public checks of lab24_information, part 3 (variational.py): MINE's corrected gradient
against a tf.GradientTape computation weighted independently; the VIB posterior and rate
against numpy and TFP's own kl_divergence; the IWAE bound against scipy's logsumexp; three
relative training checks (MINE, the VIB's beta trade-off, the bits-back VAE)."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab24_information.probes import FLOAT32, flat
from autograder.checks.lab24_information.probes_bottleneck import (
    MINE,
    VAE,
    VIB,
    corrected_step,
    judge_mine,
    judge_vae,
    judge_vae_step,
    judge_vib,
    judge_vib_step,
    mine_probe,
    vae_probe,
    vae_step_probe,
    vib_probe,
    vib_step_probe,
)
from autograder.verdicts import expect_close, expect_close_naming


@check(points=2, uses="variational", task="`moving_average`, `mine_surrogate`",
       hint="decay * running + (1 - decay) * value; surrogate = mean(joint) - mean(exp("
       "marginal)) / stop_gradient(running_mean)")
def mine_corrected_gradient(lab, rng):
    """For a small critic with random weights, 12 joint and 12 shuffled pairs and a running
    average that depends on the weights (0.3 + 0.5 mean(exp(T_marginal))): the gradient of `mine_surrogate` against the bias-corrected DV
    gradient E_joint[∇T] − E_marg[e^T ∇T] / running, computed with a tape's weighted
    output gradients; `moving_average` against decay·old + (1 − decay)·new."""
    import keras
    import tensorflow as tf
    bn = lab.variational
    keras.utils.set_random_seed(5)
    model = bn.MINEEstimator(2, hidden_units=(8,))
    assign_random_weights(model, rng, 0.6)
    x = rng.normal(size=(12, 2)).astype("float32")
    y = (0.8 * x + 0.6 * rng.normal(size=(12, 2))).astype("float32")
    weights = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        joint, marginal = model.scores(x, y)
        # a running average that depends on the weights: only stop_gradient keeps it constant
        held = 0.3 + 0.5 * tf.reduce_mean(tf.exp(marginal))
        surrogate = bn.mine_surrogate(joint, marginal, held)
        unstopped = tf.reduce_mean(joint) - tf.reduce_mean(tf.exp(marginal)) / held
    student = flat(tape.gradient(surrogate, weights))
    running = float(held)
    e = np.exp(marginal.numpy().astype(np.float64))
    corrected, uncorrected, _ = (
        flat(tape.gradient(joint, weights, output_gradients=tf.fill(tf.shape(joint), 1 / 12)))
        - flat(tape.gradient(marginal, weights, output_gradients=tf.constant(
            (e / (12 * denominator)).astype("float32"))))
        for denominator in (running, e.mean(), 1.0))
    return {"gradient": student, "corrected": corrected, "uncorrected": uncorrected,
            "unstopped": flat(tape.gradient(unstopped, weights)),
            "average": float(bn.moving_average(tf.constant(2.0), tf.constant(5.0), 0.9)),
            "average_swapped": 0.1 * 2.0 + 0.9 * 5.0}


@mine_corrected_gradient.verdict
def _(student, reference):
    expect_close_naming(
        student["gradient"], student["corrected"], "the gradient of mine_surrogate",
        [(student["uncorrected"], "uses the batch's mean of exp(T) in the denominator (the "
          "biased DV gradient): divide by the running average, held constant"),
         (student["unstopped"], "lets the gradient flow through running_mean: wrap it in "
          "tf.stop_gradient, it is a constant of the surrogate")],
        advice="E_joint[grad T] - E_marginal[exp(T) grad T] / running_mean: "
        "mean(joint) - mean(exp(marginal)) / stop_gradient(running_mean)",
        against="the corrected gradient from a tape's weighted output gradients",
        rtol=1e-4, atol=1e-5)
    expect_close_naming(student["average"], 0.9 * 2.0 + 0.1 * 5.0,
                        "moving_average(2, 5, decay=0.9)",
                        [(student["average_swapped"], "weights the new value by decay: decay "
                          "keeps the OLD average")], **FLOAT32)


@check(points=2, uses="variational", task="`MINEEstimator.train_step`",
       hint="update the running average from this batch FIRST, then descend "
       "-mine_surrogate(joint, marginal, running); assign it to self.running_mean")
def mine_train_step_one_step(lab, rng):
    """One SGD step on 16 pairs from a running average of 0.5 (decay 0.9): the new weights
    against a corrected step computed with a tape (the denominator the updated average),
    `running_mean` after the step, and the logged `mi` against scipy's logsumexp."""
    import keras
    bn = lab.variational
    keras.utils.set_random_seed(6)
    model = bn.MINEEstimator(2, hidden_units=(8,), decay=0.9)
    assign_random_weights(model, rng, 0.6)
    model.running_mean.assign(0.5)
    x = rng.normal(size=(16, 2)).astype("float32")
    y = (0.8 * x + 0.6 * rng.normal(size=(16, 2))).astype("float32")
    expected = corrected_step(model, x, y, lr=0.1, old=0.5, decay=0.9)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    logs = model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    return {"after": flat(model.trainable_variables), "running": float(model.running_mean),
            "mi": float(logs.get("mi", [np.nan])[-1]), **expected}


@mine_train_step_one_step.verdict
def _(student, _reference):
    what = "the weights after one MINEEstimator.train_step (SGD, lr 0.1)"
    expect_close_naming(student["after"], student["expected"], what,
                        [(student["with_old"], "divides by the running average BEFORE this "
                          "batch's update: update it first, then use it"),
                         (student["ascent"], "moved UP the loss: minimise -surrogate"),
                         (student["batch"], "divides by this batch's mean of exp(T) (the "
                          "biased DV gradient): pass the moving average "
                          "moving_average(self.running_mean, it, self.decay)"),
                         (student["unstopped"], "lets the gradient flow through the running "
                          "average: the batch's mean of exp(T) and running_mean get "
                          "tf.stop_gradient")],
                        advice="the step must follow the corrected gradient of "
                        "-mine_surrogate(joint, marginal, running)",
                        against="a tf.GradientTape step", rtol=1e-4, atol=1e-5)
    expect_close(student["running"], student["new_running"],
                 "self.running_mean after the step", against="0.9 * 0.5 + 0.1 * "
                 "mean(exp(T_marginal))", **FLOAT32)
    expect_close(student["mi"], student["dv"], "the `mi` train_step logs",
                 against="the DV bound of the batch before the step (scipy's logsumexp)",
                 **FLOAT32)


@check(points=2, timeout=60, uses="variational", task="`MINEEstimator.train_step`",
       hint="train_step must maximise the DV bound as well as the reference does")
def mine_trains(lab, rng):
    """`fit` on correlated Gaussians (d = 2, ρ = 0.8, true MI 1.02 nats), 100 steps of 128:
    the held-out DV estimate is finite, not far above the truth and within 0.15 nats of the
    reference's."""
    return mine_probe(lab, MINE)


@mine_trains.verdict
def _(student, reference):
    judge_mine(student, reference, MINE)


@check(points=2, uses="variational", task="`gaussian_posterior`, `rate`",
       hint="loc = first latent_dim columns, scale = softplus(rest) + 1e-4; rate = "
       "tfd.kl_divergence(posterior, standard_normal(latent_dim)), posterior first")
def vib_posterior_and_rate(lab, rng):
    """Raw encoder outputs (5, 6) for a 3-d latent: the posterior is a MultivariateNormalDiag
    whose log-density at random points matches numpy's Gaussian formula; the rate matches
    the closed-form KL(q ‖ N(0, I)) in numpy (and not KL(p ‖ q))."""
    bn = lab.variational
    params = rng.normal(scale=1.5, size=(5, 6)).astype("float32")
    z = rng.normal(size=(5, 3)).astype("float32")
    posterior = bn.gaussian_posterior(params, 3)
    loc = params[:, :3].astype(np.float64)
    scale = np.log1p(np.exp(params[:, 3:].astype(np.float64))) + 1e-4
    numpy_log_prob = np.sum(-0.5 * ((z - loc) / scale) ** 2 - np.log(scale)
                            - 0.5 * np.log(2 * np.pi), axis=1)
    numpy_kl = 0.5 * np.sum(loc ** 2 + scale ** 2 - 1.0 - 2.0 * np.log(scale), axis=1)
    reverse_kl = 0.5 * np.sum((1.0 + loc ** 2) / scale ** 2 - 1.0 + 2.0 * np.log(scale), axis=1)
    return {"kind": type(posterior).__name__, "log_prob": posterior.log_prob(z).numpy(),
            "numpy_log_prob": numpy_log_prob, "rate": bn.rate(posterior, 3).numpy(),
            "numpy_kl": numpy_kl, "reverse_kl": reverse_kl}


@vib_posterior_and_rate.verdict
def _(student, reference):
    expect_close(float(student["kind"] == "MultivariateNormalDiag"), 1.0,
                 f"gaussian_posterior returns a {student['kind']}, not a "
                 "tfd.MultivariateNormalDiag", rtol=0, atol=0)
    expect_close(student["log_prob"], student["numpy_log_prob"],
                 "gaussian_posterior(params, 3).log_prob(z)",
                 against="numpy's Gaussian log-density with loc = params[:, :3], "
                 "scale = softplus(params[:, 3:]) + 1e-4", rtol=1e-4, atol=1e-4)
    expect_close_naming(student["rate"], student["numpy_kl"], "rate(posterior, 3)",
                        [(student["reverse_kl"], "computes KL(p || q): the posterior goes "
                          "first, kl_divergence(posterior, prior)")],
                        against="the closed-form KL(q || N(0, I)) in numpy", rtol=1e-4,
                        atol=1e-4)


@check(points=1, uses="variational", task="`vib_loss`",
       hint="mean sparse cross-entropy from logits + beta * mean(rates)")
def vib_loss_values(lab, rng):
    """8 examples of 4 classes, beta 0.3: against numpy's log-softmax cross-entropy plus
    beta times the mean rate."""
    from scipy.special import log_softmax
    labels = rng.integers(0, 4, size=8)
    logits = rng.normal(scale=2.0, size=(8, 4)).astype("float32")
    rates = rng.uniform(0, 5, size=8).astype("float32")
    ce = -np.mean(log_softmax(logits.astype(np.float64), axis=1)[np.arange(8), labels])
    return {"loss": float(lab.variational.vib_loss(labels, logits, rates, 0.3)),
            "scipy": ce + 0.3 * rates.mean(), "beta_on_ce": 0.3 * ce + rates.mean(),
            "summed": ce + 0.3 * rates.sum()}


@vib_loss_values.verdict
def _(student, reference):
    expect_close_naming(student["loss"], student["scipy"], "vib_loss(labels, logits, rates, 0.3)",
                        [(student["beta_on_ce"], "weights the cross-entropy by beta: beta "
                          "multiplies the RATE"),
                         (student["summed"], "sums the rates: take their mean")],
                        against="scipy's log-softmax cross-entropy + 0.3 * mean rate", **FLOAT32)


@check(points=2, uses="variational", task="`VIBClassifier.train_step`",
       hint="z = reparameterized_sample(posterior, self.seed_generator); log loss, ce = loss - "
       "beta * mean rate, and the mean rate", eager=True)
def vib_train_step_logs(lab, rng):
    """One SGD step of a small VIB (beta 0.5) on 16 examples: the logged `loss`, `ce` and
    `rate` against numpy's cross-entropy at the z its seed generator draws and the
    closed-form KL (the next draw read before the step, the state put back)."""
    return vib_step_probe(lab, rng)


@vib_train_step_logs.verdict
def _(student, reference):
    judge_vib_step(student)


@check(points=3, timeout=90, uses="variational", task="`VIBClassifier.train_step`",
       hint="train_step must minimise vib_loss as the reference does, sampling z by "
       "reparameterized_sample")
def vib_beta_tradeoff(lab, rng):
    """`fit` on `load_digits` with β = 0.001 and β = 1 (2 epochs, a 32-unit encoder, a 4-d
    code): test accuracy and the mean rate (the I(Z; X) upper bound) both fall as β grows,
    each within the margin of the reference's at the same seed."""
    return vib_probe(lab, VIB)


@vib_beta_tradeoff.verdict
def _(student, reference):
    judge_vib(student, reference, VIB)


@check(points=2, uses="variational", task="`bits_per_dim`, `iwae_bound`",
       hint="nats / (D log 2); logsumexp over K (axis 0) - log K")
def iwae_and_bits_values(lab, rng):
    """log-weights (6, 4) with one large entry, against scipy's logsumexp − log K; with K = 1
    it is the weight itself; 100 nats over 64 dimensions in bits."""
    from scipy.special import logsumexp
    bn = lab.variational
    log_w = rng.normal(scale=3.0, size=(6, 4)).astype("float32")
    log_w[2, 1] = 80.0
    return {"iwae": bn.iwae_bound(log_w).numpy(),
            "scipy": logsumexp(log_w.astype(np.float64), axis=0) - np.log(6),
            "other_axis": logsumexp(log_w.astype(np.float64), axis=1) - np.log(4),
            "no_log_k": logsumexp(log_w.astype(np.float64), axis=0),
            "k1": bn.iwae_bound(log_w[:1]).numpy(), "k1_expected": log_w[0],
            "bits": float(bn.bits_per_dim(100.0, 64))}


@iwae_and_bits_values.verdict
def _(student, reference):
    expect_close_naming(student["iwae"], student["scipy"], "iwae_bound(log_w (K=6, N=4))",
                        [(student["no_log_k"], "leaves out - log K (the MEAN of weights)")],
                        advice="reduce over K, axis 0", against="scipy's logsumexp - log K",
                        rtol=1e-5, atol=1e-4)
    expect_close(student["k1"], student["k1_expected"], "iwae_bound with K = 1",
                 against="the single log-weight", **FLOAT32)
    expect_close_naming(student["bits"], 100.0 / (64 * np.log(2.0)), "bits_per_dim(100, 64)",
                        [(100.0 / 64, "forgets to convert nats to bits (divide by log 2)"),
                         (100.0 / np.log(2.0), "forgets to divide by the dimensions")],
                        **FLOAT32)


@check(points=2, uses="variational", task="`BitsBackVAE.elbo_terms`, `BitsBackVAE.train_step`",
       hint="distortion = -log p(x | z) at z = reparameterized_sample(...); loss = "
       "mean(rates + distortion); log loss, mean rate, mean distortion", eager=True)
def vae_elbo_terms_and_logs(lab, rng):
    """A small VAE on 16 binary vectors: `elbo_terms` against numpy's KL and Bernoulli
    -log p(x | z) at the z its seed generator draws; then one SGD step's logged `loss`,
    `rate` and `distortion` against numpy's means at the step's sample."""
    return vae_step_probe(lab, rng)


@vae_elbo_terms_and_logs.verdict
def _(student, reference):
    judge_vae_step(student)


@check(points=3, timeout=90, uses="variational", task="`BitsBackVAE.elbo_terms`, "
       "`BitsBackVAE.train_step`, `BitsBackVAE.importance_log_weights`",
       hint="rate + distortion is the negative ELBO; log w = log p(x|z) + log p(z) - log q(z|x)")
def vae_bits_back(lab, rng):
    """`fit` a small VAE on binarised digits (3 epochs): the negative ELBO in bits per
    dimension within 0.03 of the reference's, its rate and distortion each close to the
    reference's; the importance-weighted code length with K = 1, 8, 64 close to the ELBO's at
    K = 1, then at most it and falling with K."""
    return vae_probe(lab, VAE)


@vae_bits_back.verdict
def _(student, reference):
    judge_vae(student, reference, VAE)
