"""Probes and judges of variational.py's training checks (lab24_information): seeded
budgets, the corrected MINE step computed with a tape, and the relative judges."""
from __future__ import annotations

import numpy as np

from autograder.check_helpers import build_for_fit
from autograder.checks.lab24_information.probes import flat
from autograder.verdicts import expect_close, expect_close_naming, expect_true

# Budgets (the handout quotes what the reference reaches with them).
MINE = {"dim": 2, "rho": 0.8, "batch_size": 128, "steps": 100, "learning_rate": 3e-3,
        "seed": 24, "held_out": 256}
VIB = {"betas": (1e-3, 1.0), "epochs": 2, "batch_size": 64, "latent_dim": 4,
       "hidden_units": (32,), "learning_rate": 1e-2, "seed": 24}
VAE = {"epochs": 3, "batch_size": 64, "latent_dim": 4, "hidden_units": (64,),
       "learning_rate": 1e-2, "seed": 24, "ks": (1, 8, 64)}
# MINE's DV estimate is noisy (the marginal term's exp weights a few pairs): calibrated on
# the reference at this seed, a correct train_step matches it to ~1e-4.
MINE_MARGIN = 0.15
MINE_ABOVE_TRUTH = 0.12
# Test accuracy and rate of the VIB after a short budget; a correct train_step matches the
# reference to ~1e-4 at the same seed (the sample noise comes from the model's seed).
VIB_ACCURACY = 0.06
VIB_RATE = 0.25          # relative
VAE_BITS = 0.03


def corrected_step(model, x, y, *, lr, old, decay):
    """The SGD step of MINE computed independently: the output gradients of T on the
    shuffled pairs weighted by exp(T) / (M * running), running the UPDATED average."""
    import tensorflow as tf
    from scipy.special import logsumexp
    weights = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        joint, marginal = model.scores(x, y)
        moving = decay * old + (1 - decay) * tf.reduce_mean(tf.exp(marginal))
        unstopped = tf.reduce_mean(joint) - tf.reduce_mean(tf.exp(marginal)) / moving
    e = np.exp(marginal.numpy().astype(np.float64))
    n = len(x)
    new = decay * old + (1 - decay) * e.mean()
    joint_grad = flat(tape.gradient(joint, weights, output_gradients=tf.fill([n], 1.0 / n)))

    def ascent(denominator):
        return joint_grad - flat(tape.gradient(marginal, weights, output_gradients=tf.constant(
            (e / (n * denominator)).astype("float32"))))
    start = flat(weights)
    m = marginal.numpy().astype(np.float64)
    return {"expected": start + lr * ascent(new), "with_old": start + lr * ascent(old),
            "ascent": start - lr * ascent(new), "new_running": new,
            "batch": start + lr * ascent(e.mean()),
            "unstopped": start + lr * flat(tape.gradient(unstopped, weights)),
            "dv": float(joint.numpy().mean() - logsumexp(m) + np.log(n))}


def mine_probe(lab, budget):
    import keras

    from dlkit.data import correlated_gaussians, gaussian_mutual_information
    keras.utils.set_random_seed(budget["seed"])
    x, y = correlated_gaussians(budget["batch_size"] * budget["steps"], budget["dim"],
                                budget["rho"], seed=budget["seed"])
    xt, yt = correlated_gaussians(budget["held_out"], budget["dim"], budget["rho"],
                                  seed=budget["seed"] + 1)
    model = lab.variational.MINEEstimator(budget["dim"], hidden_units=(64,))
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    model.fit(x, y, batch_size=budget["batch_size"], epochs=1, verbose=0, shuffle=False)
    return {"estimate": model.estimate(xt, yt), "running_mean": float(model.running_mean),
            "truth": gaussian_mutual_information(budget["dim"], budget["rho"])}


def judge_mine(student, reference, budget):
    what = (f"the held-out DV estimate after fit ({budget['steps']} steps of "
            f"{budget['batch_size']}, d={budget['dim']}, rho={budget['rho']})")
    estimate, truth = float(student["estimate"]), float(student["truth"])
    expect_true(np.isfinite(estimate), f"{what} is not finite: training diverged")
    expect_true(estimate <= truth + MINE_ABOVE_TRUTH,
                f"{what} is {estimate:.4g} nats, clearly above the true I(X;Y) = {truth:.4g}")
    floor = float(reference["estimate"]) - MINE_MARGIN
    expect_true(estimate >= floor,
                f"{what} is {estimate:.4g} nats, needs at least {floor:.4g}: the reference "
                f"reaches {reference['estimate']:.4g} with the same seed and budget. Does "
                "train_step descend -mine_surrogate and keep the running average?")
    expect_close(student["running_mean"], reference["running_mean"],
                 "running_mean after fit", rtol=0.1, atol=0.05)


def vib_probe(lab, budget):
    import keras

    from dlkit.data import load_digits
    x, labels = load_digits("train", flatten=True)
    xt, labels_t = load_digits("test", flatten=True)
    out = {}
    for beta in budget["betas"]:
        keras.utils.set_random_seed(budget["seed"])
        model = lab.variational.VIBClassifier(
            latent_dim=budget["latent_dim"], hidden_units=budget["hidden_units"], beta=beta,
            seed=budget["seed"])
        model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
        build_for_fit(model)
        model.fit(x, labels, batch_size=budget["batch_size"], epochs=budget["epochs"],
                  verbose=0, shuffle=False)
        out[f"accuracy_{beta:g}"] = float(np.mean(np.argmax(model(xt).numpy(), 1) == labels_t))
        out[f"rate_{beta:g}"] = float(np.mean(lab.variational.rate(
            model.encode(xt), budget["latent_dim"]).numpy()))
    return out


def judge_vib(student, reference, budget):
    low, high = (f"{b:g}" for b in budget["betas"])
    for beta in (low, high):
        for key, what in (("accuracy", "test accuracy"), ("rate", "mean rate (nats)")):
            value = float(student[f"{key}_{beta}"])
            expect_true(np.isfinite(value), f"the VIB's {what} with beta={beta} is not finite")
        expect_close(student[f"rate_{beta}"], reference[f"rate_{beta}"],
                     f"the VIB's mean rate with beta={beta} (does train_step weight the rate "
                     "by beta?)", rtol=VIB_RATE, atol=0.05)
        expect_close(student[f"accuracy_{beta}"], reference[f"accuracy_{beta}"],
                     f"the VIB's test accuracy with beta={beta}", rtol=0, atol=VIB_ACCURACY)
    expect_true(student[f"accuracy_{high}"] < student[f"accuracy_{low}"],
                f"the VIB's accuracy does not fall from beta={low} to beta={high}")
    expect_true(student[f"rate_{high}"] < student[f"rate_{low}"],
                f"the VIB's rate does not fall from beta={low} to beta={high}")


def vae_probe(lab, budget):
    import keras

    from dlkit.data import load_digits
    x, _ = load_digits("train", flatten=True, binarize=True)
    xt, _ = load_digits("test", flatten=True, binarize=True)
    bn = lab.variational
    keras.utils.set_random_seed(budget["seed"])
    model = bn.BitsBackVAE(latent_dim=budget["latent_dim"],
                           hidden_units=budget["hidden_units"], seed=budget["seed"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    build_for_fit(model)
    model.fit(x, batch_size=budget["batch_size"], epochs=budget["epochs"], verbose=0,
              shuffle=False)
    rates, distortion = (t.numpy().astype(np.float64) for t in model.elbo_terms(xt))
    dims = x.shape[1] * np.log(2.0)
    out = {"elbo_bits": float(np.mean(rates + distortion) / dims),
           "rate_bits": float(np.mean(rates) / dims),
           "distortion_bits": float(np.mean(distortion) / dims),
           "student_bits": float(bn.bits_per_dim(float(np.mean(rates + distortion)),
                                                 x.shape[1]))}
    for k in budget["ks"]:
        log_w = model.importance_log_weights(xt, k).numpy().astype(np.float64)
        from scipy.special import logsumexp
        out[f"iwae_bits_{k}"] = float(-np.mean(logsumexp(log_w, axis=0) - np.log(k)) / dims)
        out[f"shape_{k}"] = list(log_w.shape)
    return out


def judge_vae(student, reference, budget):
    expect_close(student["elbo_bits"], reference["elbo_bits"],
                 "the VAE's negative ELBO (bits per dimension) after fit", rtol=0,
                 atol=VAE_BITS)
    expect_close(student["rate_bits"], reference["rate_bits"], "its rate (bits/dim)",
                 rtol=0, atol=VAE_BITS)
    expect_close(student["distortion_bits"], reference["distortion_bits"],
                 "its distortion (bits/dim)", rtol=0, atol=VAE_BITS)
    expect_close(student["student_bits"], student["elbo_bits"],
                 "bits_per_dim of the mean negative ELBO", against="nats / (64 log 2)",
                 rtol=1e-5, atol=1e-6)
    ks = budget["ks"]
    for k in ks:
        expect_true(student[f"shape_{k}"][0] == k,
                    f"importance_log_weights(x, {k}) has shape {student[f'shape_{k}']}, "
                    f"expected ({k}, N)")
    expect_close(student[f"iwae_bits_{ks[0]}"], student["elbo_bits"],
                 "the importance-weighted code length with K = 1", against="the ELBO's "
                 "(one sample each: they agree up to sampling noise)", rtol=0, atol=0.01)
    for small, large in zip(ks, ks[1:]):
        expect_true(student[f"iwae_bits_{large}"] <= student[f"iwae_bits_{small}"] + 1e-3,
                    f"the importance-weighted code length with K = {large} "
                    f"({student[f'iwae_bits_{large}']:.4f} bits/dim) is above the one with "
                    f"K = {small} ({student[f'iwae_bits_{small}']:.4f}): IWAE tightens with K "
                    "(log w = log p(x|z) + log p(z) - log q(z|x))")
    expect_true(student[f"iwae_bits_{ks[-1]}"] <= student["elbo_bits"],
                "the importance-weighted code length is above the ELBO's: IWAE(K) >= ELBO")
    expect_close(student[f"iwae_bits_{ks[-1]}"], reference[f"iwae_bits_{ks[-1]}"],
                 f"the importance-weighted code length with K = {ks[-1]}", rtol=0,
                 atol=VAE_BITS)


def _softplus(v):
    return np.logaddexp(0.0, v)


def _posterior_numpy(params, latent_dim):
    """(loc, scale, closed-form KL(q || N(0, I))) in float64 from raw encoder outputs."""
    params = np.asarray(params, dtype=np.float64)
    loc, scale = params[:, :latent_dim], _softplus(params[:, latent_dim:]) + 1e-4
    kl = 0.5 * np.sum(loc ** 2 + scale ** 2 - 1.0 - 2.0 * np.log(scale), axis=1)
    return loc, scale, kl


def next_noise(model, shape):
    """The eps the model's next draw from its seed generator gives, the state put back
    after: train_step's sample is then known before the step."""
    import keras
    state = model.seed_generator.state.numpy()
    eps = keras.random.normal(shape, seed=model.seed_generator).numpy().astype(np.float64)
    model.seed_generator.state.assign(state)
    return eps


def vib_step_probe(lab, rng):
    """One SGD step of a small VIBClassifier (beta 0.5) on 16 examples: the logged loss, ce
    and rate against numpy at the sample train_step draws, and at the posterior mean."""
    import keras
    from scipy.special import log_softmax
    keras.utils.set_random_seed(7)
    model = lab.variational.VIBClassifier(input_dim=6, num_classes=3, latent_dim=2,
                                         hidden_units=(8,), beta=0.5, seed=3)
    x = rng.normal(size=(16, 6)).astype("float32")
    labels = rng.integers(0, 3, size=16).astype("int32")
    loc, scale, kl = _posterior_numpy(model.encoder(x).numpy(), 2)
    eps = next_noise(model, (16, 2))

    def ce(z):
        logits = model.decoder(z.astype("float32")).numpy().astype(np.float64)
        return float(-np.mean(log_softmax(logits, axis=1)[np.arange(16), labels]))
    sampled, at_mean = ce(loc + scale * eps), ce(loc)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    logs = model.fit(x, labels, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    rate = float(kl.mean())
    return {**{k: float(logs.get(k, [np.nan])[-1]) for k in ("loss", "ce", "rate")},
            "ce_expected": sampled, "loss_expected": sampled + 0.5 * rate,
            "rate_expected": rate, "loss_at_mean": at_mean + 0.5 * rate,
            "ce_at_mean": at_mean, "rate_sum": float(kl.sum())}


def judge_vib_step(student):
    sample = ("at z = posterior mean: train_step must draw z = reparameterized_sample("
              "posterior, self.seed_generator), the mean is only for call()")
    expect_close_naming(student["loss"], student["loss_expected"],
                        "the `loss` VIBClassifier.train_step logs (beta 0.5)",
                        [(student["loss_at_mean"], sample)],
                        against="numpy's cross-entropy at the sampled z + 0.5 * mean rate",
                        rtol=1e-4, atol=1e-4)
    expect_close_naming(student["rate"], student["rate_expected"], "the `rate` it logs",
                        [(student["rate_sum"], "sums the rates over the batch: log their mean")],
                        against="the mean closed-form KL(q || N(0, I))", rtol=1e-4, atol=1e-4)
    expect_close_naming(student["ce"], student["ce_expected"], "the `ce` it logs",
                        [(student["loss_expected"], "is the full loss: log the cross-entropy "
                          "alone, loss - beta * mean rate"),
                         (student["ce_at_mean"], sample)],
                        against="numpy's cross-entropy at the sampled z", rtol=1e-4, atol=1e-4)


def vae_step_probe(lab, rng):
    """A small BitsBackVAE on 16 binary vectors: elbo_terms against numpy at the sample it
    draws (and at the posterior mean), then one SGD step's logged loss, rate and distortion."""
    import keras
    keras.utils.set_random_seed(8)
    model = lab.variational.BitsBackVAE(input_dim=10, latent_dim=2, hidden_units=(8,), seed=4)
    x = (rng.uniform(size=(16, 10)) > 0.5).astype("float32")
    loc, scale, kl = _posterior_numpy(model.encoder(x).numpy(), 2)

    def distortion(z):
        logits = model.decoder(z.astype("float32")).numpy().astype(np.float64)
        return np.sum(_softplus(logits) - x * logits, axis=1)
    eps = next_noise(model, (16, 2))
    expected, at_mean = distortion(loc + scale * eps), distortion(loc)
    rates, dist = (np.asarray(t, dtype=np.float64) for t in model.elbo_terms(x))
    eps = next_noise(model, (16, 2))
    step = distortion(loc + scale * eps)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    logs = model.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    return {"terms_rates": rates, "terms_distortion": dist, "kl": kl, "distortion_expected": expected,
            "distortion_at_mean": at_mean,
            **{k: float(logs.get(k, [np.nan])[-1]) for k in ("loss", "rate", "distortion")},
            "loss_expected": float(np.mean(kl + step)), "loss_sum": float(np.sum(kl + step)),
            "rate_expected": float(kl.mean()), "step_distortion": float(step.mean())}


def judge_vae_step(student):
    expect_close(student["terms_rates"], student["kl"], "the rates of BitsBackVAE.elbo_terms",
                 against="the closed-form KL(q || N(0, I)) in numpy", rtol=1e-4, atol=1e-4)
    expect_close_naming(student["terms_distortion"], student["distortion_expected"],
                        "the distortion of BitsBackVAE.elbo_terms",
                        [(student["distortion_at_mean"], "is -log p(x | z) at z = the posterior "
                          "mean: take it at one sample, z = reparameterized_sample(posterior, "
                          "self.seed_generator)")],
                        against="numpy's Bernoulli -log p(x | z) at the seeded sample",
                        rtol=1e-4, atol=1e-4)
    expect_close_naming(student["loss"], student["loss_expected"],
                        "the `loss` BitsBackVAE.train_step logs",
                        [(student["loss_sum"], "sums the negative ELBO over the batch: the "
                          "loss is its MEAN (tf.reduce_mean(rates + distortion))")],
                        against="numpy's mean negative ELBO at the sample", rtol=1e-4,
                        atol=1e-4)
    expect_close(student["rate"], student["rate_expected"], "the `rate` it logs",
                 against="the mean closed-form KL", rtol=1e-4, atol=1e-4)
    expect_close(student["distortion"], student["step_distortion"],
                 "the `distortion` it logs", against="numpy's mean -log p(x | z) at the sample",
                 rtol=1e-4, atol=1e-4)
