"""Public checks of lab16b_energy_models, part 3: the energy-based model (ebm.py).

Langevin dynamics runs on the checks' own quadratic energies, E(x) = 1/2 (x - mu)^T A (x - mu):
one step against the reference's (and the named slips, from the exact gradient A (x - mu)),
and long chains against the stationary law of the discretised dynamics, known in closed
form (per eigen-direction of A, variance 1 / (lambda (1 - step lambda / 4))). The loss runs
on an energy with the checks' own variables; train_step on stand-ins of known, other
behaviour that record what they are given. Training is judged against the reference on
2-D blobs by the test log-likelihood, exp(-E) normalised on a grid.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import snapshot, standing_in, tensor
from autograder.checks.lab16b_energy_models.probes import (
    EBM,
    gaussian_log_likelihood,
    grid_log_likelihood,
    judge_logged,
    judge_relative,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_true


def quadratic(rng, eigenvalues, centre=None):
    """The checks' quadratic energy: (A, mu, energy_fn) with A = Q diag(eigenvalues) Q^T for
    a random rotation Q. energy_fn maps (N, 2) tensors to (N,)."""
    import tensorflow as tf
    angle = rng.uniform(0, np.pi)
    q = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    a = q @ np.diag(eigenvalues) @ q.T
    mu = rng.normal(size=2) if centre is None else np.asarray(centre, dtype=np.float64)
    a_t, mu_t = tf.constant(a, tf.float32), tf.constant(mu, tf.float32)

    def energy_fn(x):
        d = x - mu_t
        return 0.5 * tf.reduce_sum(tf.matmul(d, a_t) * d, axis=-1)
    return a, mu, energy_fn


@check(points=2, uses=EBM, task="`langevin_step`",
       hint="x - step_size / 2 * grad_x E(x) + sqrt(step_size) * noise, the gradient from a "
            "GradientTape watching x; clip if asked; return tf.stop_gradient(x_new)")
def langevin_step(lab, rng):
    """One Langevin step of 16 points on a quadratic energy with given noise (step 0.3), once
    more with clip=1.0: against the reference's; the result carries no gradient to the
    energy's variables."""
    import tensorflow as tf
    a, mu, energy_fn = quadratic(rng, [0.7, 2.5])
    x, noise = rng.normal(size=(16, 2)) * 2.0, rng.normal(size=(16, 2))
    new = np.asarray(lab.ebm.langevin_step(energy_fn, tensor(x), 0.3, tensor(noise)))
    clipped = np.asarray(lab.ebm.langevin_step(energy_fn, tensor(x), 0.3, tensor(noise),
                                               clip=1.0))
    centre = tf.Variable(mu.astype("float32"))
    with tf.GradientTape() as tape:
        moved = lab.ebm.langevin_step(lambda p: 0.5 * tf.reduce_sum((p - centre) ** 2, -1),
                                      tensor(x), 0.3, tensor(noise))
        total = tf.reduce_sum(moved)
    through = tape.gradient(total, centre)
    gradient = (x - mu) @ a
    return {"new": new, "clipped": clipped, "x": x, "noise": noise, "gradient": gradient,
            "leaks": 0.0 if through is None else float(np.abs(np.asarray(through)).max())}


@langevin_step.verdict
def _(student, reference):
    x, noise, gradient, step = student["x"], student["noise"], student["gradient"], 0.3
    expect_close_naming(student["new"], reference["new"], "langevin_step(energy, x, 0.3, noise) "
                        "on a quadratic energy", [
        (x + step / 2 * gradient + np.sqrt(step) * noise, "the gradient term has the wrong sign: "
         "step DOWN the energy, x - step_size / 2 * grad_x E"),
        (x - step / 2 * gradient + np.sqrt(2 * step) * noise, "the noise is sqrt(2 * step_size) "
         "* noise: with the step_size / 2 drift the handout's convention is sqrt(step_size)"),
        (x - step * gradient + np.sqrt(step) * noise, "the drift is step_size * grad: it is "
         "step_size / 2 * grad_x E"),
        (x - step / 2 * gradient + step * noise, "the noise is step_size * noise: its standard "
         "deviation is sqrt(step_size)"),
        (x - step / 2 * gradient, "there is no noise: add sqrt(step_size) * noise"),
        (x - step / 2 * gradient / len(x) + np.sqrt(step) * noise, "the drift is 1/16 of the "
         "right one, for 16 points: the gradient of the MEAN of the energies divides each "
         "point's by N. Take the gradient of their SUM (each energy depends on its own row "
         "only)")],
        rtol=1e-4, atol=1e-4)
    expect_close(student["clipped"], reference["clipped"], "langevin_step(..., clip=1.0): the "
                 "new points clipped to [-1, 1]", rtol=1e-4, atol=1e-4)
    expect_true(student["leaks"] == 0.0, "the points langevin_step returns carry a gradient back "
                f"to the energy's variables (largest {student['leaks']:.3g}): return "
                "tf.stop_gradient(x_new), a sample is not a function of the weights")


LANGEVIN = {"chains": 2000, "steps": 60, "step_size": 0.3, "eigenvalues": (1.0, 2.5)}


@check(points=2, uses=EBM, reference=False, task="`langevin_sample`",
       hint="num_steps steps, each with fresh noise keras.random.normal(tf.shape(x), seed=seed) "
            "passed to langevin_step")
def langevin_samples_gaussian(lab, rng):
    """2 000 chains of 60 Langevin steps (step 0.3) on a quadratic energy exp(-E) = a
    Gaussian: the mean and covariance of their ends against the exact stationary law of
    these discrete steps, mu and Q diag(1 / (lambda (1 - step lambda / 4))) Q^T. The noise
    comes from `seed`: 3 steps of 8 chains are the same from two generators of one seed,
    and differ from a generator of another seed."""
    import keras
    setup = LANGEVIN
    a, mu, energy_fn = quadratic(rng, setup["eigenvalues"])
    start = rng.normal(size=(setup["chains"], 2)) * 2.0
    seed = keras.random.SeedGenerator(int(rng.integers(1000)))
    ends = np.asarray(lab.ebm.langevin_sample(energy_fn, tensor(start), setup["steps"],
                                              setup["step_size"], seed), dtype=np.float64)
    values, vectors = np.linalg.eigh(a)
    step = setup["step_size"]
    stationary = vectors @ np.diag(1.0 / (values * (1.0 - step * values / 4.0))) @ vectors.T
    finite = bool(np.all(np.isfinite(ends)))
    # The noise comes from `seed`: 3 steps of 8 chains from two generators of one seed, and
    # from a generator of another seed.
    few = tensor(start[:8])
    seeded = [np.asarray(lab.ebm.langevin_sample(energy_fn, few, 3, step,
                                                 keras.random.SeedGenerator(s)))
              for s in (SEEDS[0], SEEDS[0], SEEDS[1])]
    return {"mean": ends.mean(0) if finite else np.full(2, np.nan),
            "covariance": np.cov(ends.T) if finite else np.full((2, 2), np.nan),
            "mu": mu, "stationary": stationary, "target": np.linalg.inv(a),
            "eigenvalues": values, "start_variance": 4.0,
            "spread": float(np.abs(ends).max()) if finite else float("inf"),
            "seeded": seeded}


SEEDS = (11, 12)


def _covariance_trace_ratios(values, start_variance):
    """The trace of the chains' covariance after the steps, over the stationary one's, for
    two slips (closed forms per eigen-direction, x <- r x + sqrt(step) noise):
    the same noise at every step, and a drift N times too small (the gradient of the MEAN
    of N = LANGEVIN["chains"] energies)."""
    step, steps, chains = LANGEVIN["step_size"], LANGEVIN["steps"], LANGEVIN["chains"]
    stationary = np.sum(1.0 / (values * (1.0 - step * values / 4.0)))
    r = 1.0 - step * values / 2.0
    same_noise = r ** (2 * steps) * start_variance + step * ((1 - r ** steps) / (1 - r)) ** 2
    r = 1.0 - step * values / (2.0 * chains)
    weak = r ** (2 * steps) * start_variance + step * (1 - r ** (2 * steps)) / (1 - r ** 2)
    return {"same_noise": same_noise.sum() / stationary, "mean_energy": weak.sum() / stationary}


@langevin_samples_gaussian.verdict
def _(student, _reference):
    if not np.all(np.isfinite(student["covariance"])) or student["spread"] > 1e3:
        raise CheckFailed("the Langevin chains ran away (points beyond 1000, or NaN): the drift "
                          "must go DOWN the energy, x - step_size / 2 * grad_x E")
    first, again, other = (np.asarray(x) for x in student["seeded"])
    expect_true(first.shape == again.shape and np.allclose(first, again), "langevin_sample "
                "gave different chains for two keras.random.SeedGenerator of the same seed: "
                "the noise does not come from `seed`. Draw it with "
                "keras.random.normal(tf.shape(x), seed=seed)")
    expect_true(not np.allclose(first, other), "langevin_sample gave the same chains for seed "
                "generators of two different seeds: the noise ignores `seed`. Draw it with "
                "keras.random.normal(tf.shape(x), seed=seed)")
    stationary = student["stationary"]
    ratio = float(np.trace(student["covariance"]) / np.trace(stationary))
    if abs(ratio - 1.0) > 0.12:
        hints = {2.0: "twice as wide: the noise is sqrt(2 * step_size) * noise with a "
                      "step_size / 2 drift",
                 0.0: "collapsed: no noise, or the same noise at every step?"}
        near = min(hints, key=lambda r: abs(r - ratio))
        detail = f" ({hints[near]})" if abs(near - ratio) < 0.3 else ""
        if ratio > 3.0:
            slips = _covariance_trace_ratios(np.asarray(student["eigenvalues"]),
                                             student["start_variance"])
            nearest = min(slips, key=lambda name: abs(np.log(slips[name] / ratio)))
            detail = {"same_noise": f" (far too wide, as the same noise at every step makes "
                                    f"it, {slips['same_noise']:.1f} times: draw fresh noise "
                                    "inside the loop)",
                      "mean_energy": f" (far too wide, as a drift {LANGEVIN['chains']} times "
                                     f"too small makes it, {slips['mean_energy']:.1f} times: "
                                     "the chains hardly move down the energy. Does "
                                     "langevin_step take the gradient of the MEAN of the "
                                     "energies? Take that of their sum)"}[nearest]
        raise CheckFailed(f"the chains' covariance is {ratio:.2f} times the stationary one of "
                          f"these Langevin steps{detail}: fresh N(0, I) noise at every step, of "
                          "standard deviation sqrt(step_size)")
    expect_close(student["covariance"], stationary, "the covariance of 2 000 Langevin chains "
                 "after 60 steps", rtol=0.12, atol=0.05,
                 against="the stationary covariance of the discretised dynamics")
    expect_close(student["mean"], student["mu"], "the mean of 2 000 Langevin chains after 60 "
                 "steps", rtol=0.0, atol=0.1, against="the energy's minimum mu")


@check(points=2, uses=EBM, task="`contrastive_loss`",
       hint="mean(E(data)) - mean(E(samples)) + alpha * (mean(E(data)**2) + "
            "mean(E(samples)**2)): the penalty averages the SQUARED energies; the samples "
            "through tf.stop_gradient; return (loss, mean E(data), mean E(samples))")
def contrastive_loss_value(lab, rng):
    """contrastive_loss on an energy with the checks' own variables (10 data points, 12
    samples, alpha 0.3): the loss, the two mean energies and the gradients with respect to
    the variables against the reference's; no gradient reaches the samples."""
    import tensorflow as tf
    theta = tf.Variable(rng.normal(size=3).astype("float32"))

    def energy_fn(x):
        return theta[0] * x[:, 0] + theta[1] * x[:, 1] + theta[2] * tf.reduce_sum(x ** 2, -1)

    data = tensor(rng.normal(size=(10, 2)))
    samples = tf.Variable(rng.normal(size=(12, 2)).astype("float32") * 1.5)
    with tf.GradientTape(persistent=True) as tape:
        result = lab.ebm.contrastive_loss(energy_fn, data, samples, 0.3)
        loss = result[0] if isinstance(result, (tuple, list)) else result
    into_samples = tape.gradient(loss, samples)
    to_theta = tape.gradient(loss, theta)
    e_data, e_samples = (np.asarray(energy_fn(v), dtype=np.float64) for v in (data, samples))
    out = {"parts": [float(np.asarray(r)) for r in result]
           if isinstance(result, (tuple, list)) else [float(np.asarray(result))],
           "gradient": np.zeros(3) if to_theta is None else np.asarray(to_theta),
           "leaks": 0.0 if into_samples is None else float(np.abs(np.asarray(into_samples)).max())}
    regulariser = np.mean(e_data ** 2) + np.mean(e_samples ** 2)
    out["mistakes"] = {
        "flipped": np.mean(e_samples) - np.mean(e_data) + 0.3 * regulariser,
        "no_penalty": np.mean(e_data) - np.mean(e_samples),
        "squared_means": np.mean(e_data) - np.mean(e_samples)
        + 0.3 * (np.mean(e_data) ** 2 + np.mean(e_samples) ** 2)}
    return out


@contrastive_loss_value.verdict
def _(student, reference):
    parts, right = student["parts"], reference["parts"]
    expect_true(len(parts) == 3, f"contrastive_loss returned {len(parts)} value(s): return "
                "(loss, mean data energy, mean sample energy)")
    mistakes = student["mistakes"]
    expect_close_naming(parts[0], right[0], "the loss contrastive_loss returns", [
        (mistakes["flipped"], "the two phases are swapped: mean E(data) - mean E(samples), so "
         "that minimising pushes the data's energy DOWN"),
        (mistakes["no_penalty"], "the alpha * (mean(E(data)**2) + mean(E(samples)**2)) "
         "penalty is missing"),
        (mistakes["squared_means"], "the penalty squares the mean energies: it is the mean of "
         "the squared energies, mean(E^2)")], rtol=1e-4, atol=1e-5)
    expect_close(np.array(parts[1:]), np.array(right[1:]), "the (mean data energy, mean sample "
                 "energy) contrastive_loss returns", rtol=1e-4, atol=1e-5)
    expect_true(student["leaks"] == 0.0, "the loss sends a gradient into the samples (largest "
                f"{student['leaks']:.3g}): pass them through tf.stop_gradient, the sampler is not "
                "part of the model")
    expect_close(student["gradient"], reference["gradient"], "the gradient of the loss with "
                 "respect to the energy's variables", rtol=1e-4, atol=1e-5)


class TrainStepStandIns:
    """langevin_sample and contrastive_loss of known, other behaviour, recording their
    arguments: the sampler moves every point by +0.25; the loss is mean(E(data)**2) +
    mean(E(samples)) and it reports the mean energies shifted by +1 and -1."""

    def __init__(self):
        self.sampled, self.losses = [], []

    def langevin_sample(self, energy_fn, x, num_steps, step_size, seed, clip=None):
        import tensorflow as tf
        self.sampled.append({"x": np.asarray(x), "num_steps": num_steps,
                             "step_size": float(step_size), "seed": seed, "clip": clip})
        return tf.convert_to_tensor(x, tf.float32) + 0.25

    def contrastive_loss(self, energy_fn, x_data, x_samples, alpha):
        import tensorflow as tf
        e_data, e_samples = energy_fn(x_data), energy_fn(x_samples)
        self.losses.append({"data": np.asarray(x_data), "samples": np.asarray(x_samples),
                            "alpha": float(alpha)})
        return (tf.reduce_mean(e_data ** 2) + tf.reduce_mean(e_samples),
                tf.reduce_mean(e_data) + 1.0, tf.reduce_mean(e_samples) - 1.0)


@check(points=2, uses=EBM, task="`EBM.train_step`",
       hint="starts, rows = self.replay_starts(tf.shape(x)[0]); samples = langevin_sample(self."
            "energy, starts, self.langevin_steps, self.step_size, self.seed_generator, "
            "clip=self.box); self.remember(rows, samples); contrastive_loss in a tape; apply")
def ebm_train_step(lab, rng):
    """Two train_steps of an EBM (batches of 24, 3 Langevin steps of 0.05, alpha 0.2) with
    langevin_sample and contrastive_loss stood in for: chains start from replay_starts with
    the batch's size, run with the model's settings and seed generator, their ends go back
    to the buffer rows they came from, the loss gets the batch and the samples, the weights
    move as the reference's (SGD) and fit logs what the loss returned."""
    import keras
    stand_ins = TrainStepStandIns()
    model = lab.ebm.EBM((8,), langevin_steps=3, step_size=0.05, alpha=0.2, buffer_size=64,
                        reinit=0.3, box=3.0, seed=int(rng.integers(1000)))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    starts_given, remembered = [], []
    original_starts, original_remember = model.replay_starts, model.remember

    def replay_starts(n):
        starts, rows = original_starts(n)
        starts_given.append({"n": int(np.asarray(n)), "starts": np.asarray(starts),
                             "rows": np.asarray(rows)})
        return starts, rows

    def remember(rows, samples):
        remembered.append({"rows": np.asarray(rows), "samples": np.asarray(samples)})
        original_remember(rows, samples)
    model.replay_starts, model.remember = replay_starts, remember
    logs, moves, batches = [], [], []
    with standing_in(lab.ebm, langevin_sample=stand_ins.langevin_sample,
                     contrastive_loss=stand_ins.contrastive_loss):
        for _ in range(2):
            batch = rng.normal(size=(24, 2))
            batches.append(batch)
            before = snapshot(model.trainable_variables)
            logs.append({str(k): float(np.asarray(v)) for k, v in
                         model.train_step(tensor(batch)).items()})
            moves.append([a - b for a, b in zip(snapshot(model.trainable_variables), before)])
    sampled = [{**s, "seed": s["seed"] is model.seed_generator,
                "clip": None if s["clip"] is None else float(s["clip"])}
               for s in stand_ins.sampled]
    return {"logs": json.dumps(logs), "moves": moves, "starts": starts_given,
            "remembered": remembered, "sampled": sampled, "losses": stand_ins.losses,
            "batches": batches,
            "buffer": np.asarray(model.buffer.numpy())}


@ebm_train_step.verdict
def _(student, reference):
    sampled, starts, remembered = student["sampled"], student["starts"], student["remembered"]
    expect_true(len(starts) == 2, f"2 train_steps called replay_starts {len(starts)} times: "
                "once per step, self.replay_starts(tf.shape(x)[0])")
    expect_true(len(sampled) == 2, f"2 train_steps called langevin_sample {len(sampled)} "
                "times: once per step")
    for step, (given, run) in enumerate(zip(starts, sampled)):
        expect_true(given["n"] == 24, f"train_step asked replay_starts for {given['n']} chains "
                    "for a batch of 24: as many chains as the batch has rows")
        expect_close(run["x"], given["starts"], f"the points train_step passes to "
                     f"langevin_sample (step {step + 1})", against="what replay_starts returned")
        expect_true(run["clip"] is not None, "train_step calls langevin_sample without a "
                    "clip (clip=None): the chains must stay in the box, clip=self.box (3.0 here)")
        for name, value, want in (("num_steps", run["num_steps"], 3),
                                  ("step_size", run["step_size"], 0.05),
                                  ("clip", run["clip"], 3.0)):
            expect_true(np.isclose(float(value), want), f"train_step passes {name} = {value} to "
                        f"langevin_sample; the model's is {want} (self.langevin_steps, "
                        "self.step_size, clip=self.box)")
        expect_true(run["seed"], "train_step does not pass self.seed_generator to "
                    "langevin_sample: the noise must come from the model's seed generator")
    expect_true(len(remembered) == 2, f"2 train_steps called remember {len(remembered)} times: "
                "once per step, self.remember(rows, samples)")
    for step, (given, kept) in enumerate(zip(starts, remembered)):
        expect_close(kept["rows"], given["rows"], f"the rows train_step passes to remember "
                     f"(step {step + 1})", against="the rows replay_starts returned")
        expect_close(kept["samples"], np.asarray(given["starts"]) + 0.25, f"the samples "
                     f"train_step passes to remember (step {step + 1})",
                     against="what langevin_sample returned (the stand-in adds 0.25)")
    losses = student["losses"]
    expect_true(len(losses) == 2, f"2 train_steps called contrastive_loss {len(losses)} times")
    for step, (loss, given, batch) in enumerate(zip(losses, starts, student["batches"])):
        expect_close(loss["data"], batch, f"the data train_step passes to "
                     f"contrastive_loss (step {step + 1})", against="the batch")
        expect_close(loss["samples"], np.asarray(given["starts"]) + 0.25, f"the samples "
                     f"train_step passes to contrastive_loss (step {step + 1})",
                     against="what langevin_sample returned")
        expect_true(np.isclose(loss["alpha"], 0.2), f"train_step passes alpha = "
                    f"{loss['alpha']} to contrastive_loss; the model's is 0.2 (self.alpha)")
    for step in range(2):
        moved = [np.asarray(m) for m in student["moves"][step]]
        expect_true(max(float(np.abs(m).max()) for m in moved) > 0, "train_step left the "
                    "weights unchanged: tape.gradient of the (scaled) loss, self.optimizer.apply")
        for index, (got, want) in enumerate(zip(moved, reference["moves"][step])):
            expect_close(got, want, f"the change of weight {index} by train_step {step + 1} "
                         "(SGD at 0.1 on the stand-in loss)", rtol=1e-3, atol=1e-6)
    logs, right = json.loads(student["logs"]), json.loads(reference["logs"])
    for step in range(2):
        expect_true(sorted(logs[step]) == sorted(right[step]), f"train_step returned "
                    f"{sorted(logs[step])}: log {sorted(right[step])}")
        for name in right[step]:
            expect_close(np.float32(logs[step][name]), np.float32(right[step][name]),
                         f"the {name} train_step logs after step {step + 1}", rtol=1e-4,
                         atol=1e-5, against="the running mean of what contrastive_loss returned")


EBM_TRAIN = {"data": "blobs", "hidden_units": (32, 32), "langevin_steps": 5, "step_size": 0.1,
             "alpha": 0.1, "learning_rate": 1e-2, "batch_size": 128, "steps": 150}
# The held-out log-likelihood after training: the reference ranges over -2.704 to -2.646 nats
# over 10 seeds (0.06 apart); 0.12 allowed.
EBM_MARGIN = 0.12


def _fitted_ebm(lab, rng, budget):
    import keras

    from dlkit.data import sample_toy2d
    train = sample_toy2d(budget["data"], 2000, seed=1)
    test = sample_toy2d(budget["data"], 1000, seed=2)
    model = lab.ebm.EBM(budget["hidden_units"], langevin_steps=budget["langevin_steps"],
                        step_size=budget["step_size"], alpha=budget["alpha"],
                        seed=int(rng.integers(1000)))
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  steps_per_execution=25)
    batches = train[rng.integers(0, len(train), size=budget["steps"] * budget["batch_size"])]
    history = model.fit(batches, batch_size=budget["batch_size"], shuffle=False,
                        verbose=0).history
    return model, train, test, history


@check(points=3, timeout=60, uses=EBM, task="`EBM.train_step` (and the units above)",
       hint="Langevin samples from the replay buffer, the contrastive loss with the samples held "
            "constant: the held-out log-likelihood must come close to the reference's")
def ebm_trains_on_blobs(lab, rng):
    """An EBM (32-32 swish MLP) trained on three 2-D Gaussian blobs for the budget below, 5
    Langevin steps per training step: the held-out log-likelihood, exp(-E) normalised on a
    grid over [-4, 4]^2, within 0.12 nats of the reference's and above a Gaussian's (scipy);
    fit logs the loss and the two mean energies."""
    model, train, test, history = _fitted_ebm(lab, rng, EBM_TRAIN)
    return {"log_likelihood": grid_log_likelihood(model.energy, test),
            "baseline": gaussian_log_likelihood(train, test),
            "logged": json.dumps(sorted(history))}


@ebm_trains_on_blobs.verdict
def _(student, reference):
    judge_logged(student["logged"], ["data_energy", "loss", "sample_energy"], "EBM")
    judge_relative(student["log_likelihood"], reference["log_likelihood"], EBM_MARGIN,
                   "the EBM's held-out log-likelihood on the blobs", " nats",
                   baseline=student["baseline"], baseline_name="one Gaussian")
