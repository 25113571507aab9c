"""Public checks of lab16b_energy_models, part 2: the restricted Boltzmann machine (rbm.py).

The conditionals, the free energy and log Z are judged against brute force on tiny RBMs
(every (v, h) pair enumerated, probes.brute_force). Gibbs steps run with RBM.sample stood
in for by probes.RecordedSampler, so every probability the chain asks for and every draw is
known: the chain is replayed exactly. The chain's distribution is judged against the exact
p(v) of a tiny RBM. The CD loss runs on the checks' stand-in free energy, and a CD step on
stand-ins for every piece train_step uses (Gibbs steps, free energy, loss, conditionals),
so that a slip in one of those costs only its own check; the update is judged against the
reference's on the same stand-ins. Training is judged against the reference on the
binarised digits, by the exact log-likelihood (every hidden configuration summed).
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab16b_energy_models.probes import (
    RBM,
    RecordedSampler,
    TrainStepStandIns,
    assign_rbm_weights,
    binarised_digits,
    binary_table,
    brute_force,
    exact_rbm_log_likelihood,
    independent_pixels_log_likelihood,
    judge_logged,
    judge_relative,
    random_rbm,
    rbm_weights,
    stand_in_free_energy,
    stand_in_mean_and_gradients,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)


@check(points=1, uses=RBM, reference=False,
       task="`RBM.hidden_probabilities`, `visible_probabilities`",
       hint="p(h | v) = sigmoid(v @ kernel + hidden_bias); p(v | h) = sigmoid(h @ kernel^T + "
            "visible_bias)")
def rbm_conditionals(lab, rng):
    """A random RBM (5 visible, 4 hidden units): p(h_j = 1 | v) for all 32 visible vectors
    and p(v_i = 1 | h) for all 16 hidden vectors, against sums over every (v, h) pair."""
    model, W, b, c = random_rbm(lab, rng, 5, 4)
    truth = brute_force(W, b, c)
    vs, hs = binary_table(5), truth["hidden_table"]
    return {"hidden": model.hidden_probabilities(vs.astype("float32")),
            "visible": model.visible_probabilities(hs.astype("float32")),
            "hidden_expected": truth["p_hidden"], "visible_expected": truth["p_visible_given_h"],
            "hidden_logits": vs @ W + c, "visible_logits": hs @ W.T + b}


@rbm_conditionals.verdict
def _(student, _reference):
    for name, call in (("hidden", "hidden_probabilities(v)"), ("visible",
                                                              "visible_probabilities(h)")):
        expect_close_naming(
            np.asarray(student[name], dtype=np.float64), student[f"{name}_expected"],
            f"{call} of a 5x4 RBM", [(student[f"{name}_logits"], "these are the logits: apply "
                                      "the sigmoid")],
            rtol=1e-4, atol=1e-5, against="the sums over every (v, h) pair")


@check(points=2, uses=RBM, reference=False, task="`RBM.free_energy`",
       hint="F(v) = -v . visible_bias - sum_j softplus(v @ kernel + hidden_bias)_j: each hidden "
            "unit summed out gives log(1 + exp(its input))")
def rbm_free_energy(lab, rng):
    """F(v) of 10 binary vectors and 4 vectors in [0, 1] under a random RBM (6 visible, 5
    hidden units), against -log sum_h exp(-E(v, h)) over every h."""
    model, W, b, c = random_rbm(lab, rng, 6, 5)
    v = np.concatenate([rng.integers(0, 2, size=(10, 6)), rng.uniform(size=(4, 6))])
    truth = brute_force(W, b, c, v)
    inputs = v @ W + c
    return {"free_energy": model.free_energy(v.astype("float32")),
            "expected": truth["free_energy"],
            "no_softplus": -(v @ b) - inputs.sum(axis=1),
            "no_visible_term": -np.logaddexp(0.0, inputs).sum(axis=1),
            "visible_term_added": (v @ b) - np.logaddexp(0.0, inputs).sum(axis=1)}


@rbm_free_energy.verdict
def _(student, _reference):
    got = expect_shape(student["free_energy"], np.shape(student["expected"]),
                       "free_energy(v) for 14 rows (one value per row)")
    expect_close_naming(got.astype(np.float64), student["expected"], "free_energy(v) of a 6x5 "
                        "RBM", [
        (student["no_softplus"], "the softplus is missing: summing h_j over {0, 1} gives "
         "log(1 + exp(x_j)) = softplus(x_j), not x_j"),
        (student["no_visible_term"], "the visible term -v . visible_bias is missing"),
        (student["visible_term_added"], "the visible term has the wrong sign: F(v) = "
         "-v . b - sum softplus(...)")],
        rtol=1e-4, atol=1e-4, against="-log sum_h exp(-E(v, h)) over every h")


@check(points=2, uses=RBM, reference=False, task="`RBM.log_partition`, `log_likelihood`",
       hint="log Z = logsumexp over every h of (h . hidden_bias + sum_i softplus(h @ kernel^T + "
            "visible_bias)_i); log p(v) = -F(v) - log Z")
def rbm_log_partition(lab, rng):
    """log Z of random RBMs (5x4 and 3x6) against logsumexp of -E(v, h) over every pair, and
    log_likelihood of every visible vector against the exact log p(v) (it sums to 1)."""
    out = {}
    for name, (visible, hidden) in (("wide", (5, 4)), ("tall", (3, 6))):
        model, W, b, c = random_rbm(lab, rng, visible, hidden)
        truth = brute_force(W, b, c)
        hs = truth["hidden_table"]
        out[name] = {
            "log_z": float(np.asarray(model.log_partition())), "expected": truth["log_z"],
            "no_hidden_bias": float(np.log(np.exp(np.logaddexp(0.0, hs @ W.T + b).sum(1))
                                           .sum())),
            "log_likelihood": model.log_likelihood(binary_table(visible).astype("float32")),
            "log_p": np.log(truth["p_v"])}
    return out


@rbm_log_partition.verdict
def _(student, _reference):
    for name, case in student.items():
        what = f"the {'5x4' if name == 'wide' else '3x6'} RBM's"
        expect_close_naming(case["log_z"], case["expected"], f"log_partition() of {what}", [
            (case["no_hidden_bias"], "the hidden bias term h . hidden_bias is missing")],
            rtol=1e-4, atol=1e-4, against="logsumexp of -E(v, h) over every (v, h)")
        expect_close(np.asarray(case["log_likelihood"]), np.asarray(case["log_p"]),
                     f"log_likelihood(v) of every visible vector of {what}", rtol=1e-4,
                     atol=1e-4, against="the exact log p(v) (the table's sums)")


def _mean_field(model, probabilities):
    """p(v | h) at the hidden probabilities (the mean-field slip), or None when
    visible_probabilities is not written yet or fails (another check's unit)."""
    try:
        return np.asarray(model.visible_probabilities(probabilities.astype("float32")))
    except Exception:
        return None


@check(points=1, uses=RBM, reference=False, task="`RBM.gibbs_step`, `gibbs_chain`",
       hint="h = self.sample(self.hidden_probabilities(v)); v' = "
            "self.sample(self.visible_probabilities(h)): binary samples, through self.sample")
def gibbs_step_replayed(lab, rng):
    """gibbs_step and a 3-step gibbs_chain on a random RBM (6 visible, 5 hidden units) with
    RBM.sample stood in for by the checks' recorded draws: h sampled from p(h | v), then v
    from p(v | the sampled h), against sums over every (v, h); the chain returns its last
    sample."""
    model, W, b, c = random_rbm(lab, rng, 6, 5)
    v = rng.integers(0, 2, size=(7, 6)).astype("float32")
    out = {}
    for name, run in (("step", lambda: model.gibbs_step(v)),
                      ("chain", lambda: model.gibbs_chain(v, 3))):
        sampler = RecordedSampler(int(rng.integers(1000)))
        model.sample = sampler
        result = np.asarray(run())
        # What each call should have been asked, from the table and the previous draw, as
        # long as the draws alternate h (5 columns), v (6 columns) as they should.
        expected, previous, table = [], v.astype(np.float64), brute_force(W, b, c)
        for k, drawn in enumerate(sampler.returned):
            if k % 2 == 0 and previous.shape[-1] == 6:
                expected.append(brute_force(W, b, c, previous)["p_hidden"])
            elif k % 2 == 1 and previous.shape[-1] == 5:   # the hidden table's row of each h
                index = previous @ (2 ** np.arange(5)[::-1])
                expected.append(table["p_visible_given_h"][index.astype(int)])
            else:
                break
            previous = drawn
        mean_field = _mean_field(model, sampler.asked[0]) if sampler.asked else None
        out[name] = {"result": result, "asked": sampler.asked, "expected": expected,
                     "returned": sampler.returned, "mean_field": mean_field}
    return out


@gibbs_step_replayed.verdict
def _(student, _reference):
    for name, call, calls in (("step", "gibbs_step(v)", 2), ("chain", "gibbs_chain(v, 3)", 6)):
        case = student[name]
        made = len(case["asked"])
        first = np.shape(case["asked"][0]) if made else None
        if made < calls and first is not None and first[-1:] == (6,):
            raise CheckFailed(f"{call} called self.sample {made} times, the first with p(v | h) "
                              f"(shape {first}): h is not sampled. Draw the hidden units "
                              "first, h = self.sample(self.hidden_probabilities(v)), then "
                              "v' = self.sample(self.visible_probabilities(h))")
        expect_true(made == calls, f"{call} called self.sample {made} times; expected {calls}: "
                    "one sample of h, then one of v, per step (draw every sample with "
                    "self.sample)")
        for k, asked in enumerate(case["asked"]):
            kind = "p(h | v)" if k % 2 == 0 else "p(v | h), h the sample just drawn"
            shape = (7, 5) if k % 2 == 0 else (7, 6)
            expect_true(np.shape(asked) == shape, f"{call} passed self.sample probabilities of "
                        f"shape {np.shape(asked)} in call {k + 1}; expected {kind}, of shape "
                        f"{shape}: h ~ p(h | v), then v ~ p(v | h), alternately")
        for k, (asked, expected) in enumerate(zip(case["asked"], case["expected"])):
            what = (f"the probabilities {call} passed to self.sample in call {k + 1} "
                    f"({'p(h | v)' if k % 2 == 0 else 'p(v | h), h the sample just drawn'})")
            mistakes = []
            if k == 1 and case["mean_field"] is not None:
                mistakes.append((case["mean_field"], "p(v | h) was computed at the hidden "
                                 "PROBABILITIES: sample h first, h = self.sample(p(h | v)), "
                                 "and compute p(v | h) at that binary sample"))
            expect_close_naming(np.asarray(asked), np.asarray(expected), what, mistakes,
                                rtol=1e-4, atol=1e-5, against="the table's sums")
        result = np.asarray(case["result"], dtype=np.float64)
        last = np.asarray(case["returned"][-1])
        expect_equal(result, last, f"{call}: it must return the last binary sample of v (what "
                     "the last self.sample call returned), not probabilities")


CHAINS, GIBBS_STEPS = 4000, 30
# Total variation between the chains' histogram and p(v) over the 16 states: 0.007 to 0.026
# for the reference over 12 seeds (0.011 to 0.023); sampling noise alone is about 0.02.
GIBBS_TV = 0.05


@check(points=2, uses=RBM, reference=False, task="`RBM.gibbs_step`, `gibbs_chain`",
       hint="each step: h ~ p(h | v) and v ~ p(v | h) as binary samples from self.sample; the "
            "chain's states must be distributed as p(v) = exp(-F(v)) / Z")
def gibbs_converges(lab, rng):
    """4 000 chains of 30 Gibbs steps from random bits on a random RBM (4 visible, 3 hidden
    units), drawing with the RBM's own sample: the histogram of the final states over the
    16 visible vectors within 0.05 total variation of the exact p(v)."""
    model, W, b, c = random_rbm(lab, rng, 4, 3, scale=1.2, seed=int(rng.integers(1000)))
    start = rng.integers(0, 2, size=(CHAINS, 4)).astype("float32")
    final = np.asarray(model.gibbs_chain(start, GIBBS_STEPS), dtype=np.float64)
    binary = bool(np.all((final == 0) | (final == 1))) and final.shape == (CHAINS, 4)
    index = (np.rint(final) @ (2 ** np.arange(4)[::-1])).astype(int) if binary else np.zeros(1, int)
    return {"binary": binary, "shape": list(final.shape),
            "histogram": np.bincount(index, minlength=16) / max(len(index), 1),
            "p_v": brute_force(W, b, c)["p_v"], "mean": final.mean(axis=0)}


@gibbs_converges.verdict
def _(student, _reference):
    expect_true(student["binary"], f"gibbs_chain returned shape {student['shape']} with values "
                f"other than 0 and 1 (means {np.round(student['mean'], 3).tolist()}): every state "
                "of the chain is a binary sample, self.sample(probabilities)")
    tv = 0.5 * float(np.abs(student["histogram"] - student["p_v"]).sum())
    worst = int(np.argmax(np.abs(student["histogram"] - student["p_v"])))
    bits = [int(d) for d in np.binary_repr(worst, 4)]
    expect_true(tv <= GIBBS_TV, f"after {GIBBS_STEPS} Gibbs steps, {CHAINS} chains are {tv:.3f} "
                f"in total variation from the exact p(v) (at most {GIBBS_TV}); worst at "
                f"v = {bits}: {student['histogram'][worst]:.3f} of the chains, p(v) = "
                f"{student['p_v'][worst]:.3f}")


@check(points=2, uses=RBM, reference=False, task="`contrastive_divergence_loss`",
       hint="mean(free_energy(v_data)) - mean(free_energy(tf.stop_gradient(v_model))): data "
            "minus model, and no gradient into the chain")
def cd_loss(lab, rng):
    """contrastive_divergence_loss on a random RBM (6 visible, 5 hidden units) whose
    free_energy is the checks' stand-in G (so that only the loss is judged), 8 data rows and
    6 model rows in [0, 1]: its value and its gradients (weights and biases) against mean
    G(v_data) - mean G(v_model) in numpy, and no gradient with respect to the model's
    samples."""
    import tensorflow as tf
    model, W, b, c = random_rbm(lab, rng, 6, 5)
    model.free_energy = stand_in_free_energy(model)
    data = rng.integers(0, 2, size=(8, 6)).astype(np.float64)
    samples = rng.uniform(size=(6, 6))
    v_model = tf.Variable(samples.astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        loss = lab.rbm.contrastive_divergence_loss(model, tf.constant(data, tf.float32),
                                                    v_model)
    variables = [model.kernel, model.visible_bias, model.hidden_bias]
    gradients = tape.gradient(loss, variables)
    into_samples = tape.gradient(loss, v_model)
    positive, positive_gradients = stand_in_mean_and_gradients(W, b, c, data)
    negative, negative_gradients = stand_in_mean_and_gradients(W, b, c, samples)
    return {"loss": float(np.asarray(loss)), "expected": positive - negative,
            "gradients": [np.zeros(1) if g is None else np.asarray(g) for g in gradients],
            "expected_gradients": [p - n for p, n in zip(positive_gradients,
                                                         negative_gradients)],
            "samples_gradient": 0.0 if into_samples is None else float(
                np.abs(np.asarray(into_samples)).max())}


@cd_loss.verdict
def _(student, _reference):
    expect_close_naming(student["loss"], student["expected"], "contrastive_divergence_loss", [
        (0.0, "is 0: the negative phase must use v_model (the chain's samples), not the data")],
        rtol=1e-4, atol=1e-4, against="mean G(v_data) - mean G(v_model), G the checks' stand-in "
        "for rbm.free_energy")
    expect_true(student["samples_gradient"] == 0.0, "contrastive_divergence_loss lets the "
                f"gradient flow into v_model (largest {student['samples_gradient']:.3g}): wrap it "
                "in tf.stop_gradient, the chain's samples are held constant")
    for name, got, expected in zip(("kernel", "visible_bias", "hidden_bias"),
                                   student["gradients"], student["expected_gradients"]):
        expect_close(got, expected, f"the gradient of contrastive_divergence_loss with respect "
                     f"to {name}", rtol=1e-3, atol=1e-5, against="the positive minus the "
                     "negative phase of the checks' stand-in free energy")


CD_CASES = {"cd1": {"k": 1, "persistent": False}, "cd3": {"k": 3, "persistent": False},
            "pcd2": {"k": 2, "persistent": True, "num_chains": 8}}
CD_RATE = 0.5


@check(points=3, uses=RBM, task="`RBM.train_step`",
       hint="start = self.chain if self.persistent else the batch; v_model = "
            "self.gibbs_chain(start, self.k); persistent: self.chain.assign(v_model); the CD "
            "loss in a tape, scale_loss, optimizer.apply")
def cd_step_replayed(lab, rng):
    """One train_step of CD-1, CD-3 and persistent CD-2 (8 chains) on a random RBM (6
    visible, 5 hidden units), 8 data rows, SGD at 0.5, with the Gibbs steps, the free energy,
    the loss and the conditionals stood in for by the checks' own (known, other behaviour,
    recorded): where the chain starts, its k steps, what the loss is given, the stored chain
    and the update of every weight against the reference's; what train_step logs (the
    reconstruction error of the batch before or after the update)."""
    import keras
    out = {}
    for name, options in CD_CASES.items():
        model, _, _, _ = random_rbm(lab, rng, 6, 5, **options)
        model.compile(optimizer=keras.optimizers.SGD(CD_RATE))
        chain = rng.integers(0, 2, size=(model.num_chains, 6)).astype("float32")
        model.chain.assign(chain)
        data = rng.integers(0, 2, size=(8, 6)).astype("float32")
        stand_ins = TrainStepStandIns(model, int(rng.integers(1000)))
        stand_ins.install()
        before = rbm_weights(model)
        recon_before = float(np.asarray(model.reconstruction_error(data)))
        loss = stand_ins.contrastive_divergence_loss
        with standing_in(lab.rbm, contrastive_divergence_loss=loss):
            logs = model.train_step(data)
        after = rbm_weights(model)
        out[name] = {"updates": [a - b for a, b in zip(after, before)],
                     "data": data, "chain_before": chain, "steps": stand_ins.steps,
                     "losses": stand_ins.losses, "chain_after": model.chain.numpy(),
                     "reconstruction_before": recon_before,
                     "reconstruction_after": float(np.asarray(model.reconstruction_error(data))),
                     "logs": {str(k): float(np.asarray(v)) for k, v in logs.items()}}
        if stand_ins.steps:   # the chain's end's reconstruction error, after and before: a slip
            end = stand_ins.steps[-1]["output"]
            slips = [float(np.asarray(model.reconstruction_error(end)))]
            assign_rbm_weights(model, before)
            out[name]["reconstruction_of_samples"] = slips + [
                float(np.asarray(model.reconstruction_error(end)))]
    return out


def _judge_chain(got, what, k, persistent):
    """The Gibbs steps train_step ran: k of them, one chain, from the batch or self.chain."""
    steps = got["steps"]
    if len(steps) != k:
        ran = f"{len(steps)} Gibbs step{'' if len(steps) == 1 else 's'}"
        raise CheckFailed(f"{what} ran {ran}; CD-{k} runs k = self.k = {k} "
                          "Gibbs steps: v_model = self.gibbs_chain(start, self.k) (the check "
                          "stands in for gibbs_chain and gibbs_step)")
    where, start = (("self.chain (the persistent particles)", got["chain_before"]) if persistent
                    else ("the batch", got["data"]))
    first = np.asarray(steps[0]["input"])
    if first.shape != np.shape(start) or not np.allclose(first, start):
        other = got["data"] if persistent else got["chain_before"]
        said = (f"but at {'the batch' if persistent else 'self.chain'}"
                if first.shape == np.shape(other) and np.allclose(first, other) else
                f"(its first Gibbs step got other rows, of shape {first.shape}; expected "
                f"{np.shape(start)})")
        raise CheckFailed(f"{what}: the chain does not start at {where} {said}")
    for index in range(1, k):
        expect_close(np.asarray(steps[index]["input"]), np.asarray(steps[index - 1]["output"]),
                     f"the start of Gibbs step {index + 1} of {what}", against="the end of step "
                     f"{index} (one chain of k steps, self.gibbs_chain(start, self.k))")


@cd_step_replayed.verdict
def _(student, reference):
    for name, options in CD_CASES.items():
        got, want = student[name], reference[name]
        k, persistent = options["k"], options["persistent"]
        what = f"{'persistent CD' if persistent else 'CD'}-{k}'s train_step"
        _judge_chain(got, what, k, persistent)
        end = np.asarray(got["steps"][-1]["output"])
        for call in got["losses"]:
            expect_close(np.asarray(call["data"]), np.asarray(got["data"]), f"the v_data "
                         f"{what} passes to contrastive_divergence_loss", against="the batch")
            model = np.asarray(call["model"])
            if model.shape == np.shape(got["data"]) and np.allclose(model, got["data"]):
                raise CheckFailed(f"{what} passes the batch as v_model to "
                                  "contrastive_divergence_loss: the negative phase is the "
                                  "chain's end, v_model = self.gibbs_chain(start, self.k)")
            expect_close(model, end, f"the v_model {what} passes to "
                         "contrastive_divergence_loss", against=f"the chain's end (after k = "
                         f"{k} Gibbs steps)")
        updates = [np.asarray(u) for u in got["updates"]]
        if all(np.abs(u).max() == 0 for u in updates):
            raise CheckFailed(f"{what} left every weight unchanged: apply the gradients of the "
                              "CD loss with self.optimizer.apply (is the negative phase the "
                              "data itself, so that the loss is 0?)")
        for index, weight in enumerate(("kernel", "visible_bias", "hidden_bias")):
            right = np.asarray(want["updates"][index])
            expect_close_naming(
                updates[index], right, f"the update of {weight} by one step of {what} (SGD at "
                f"{CD_RATE}, the checks' stand-in loss)",
                [(-right, "has the opposite sign: minimise mean F(data) - mean F(samples) "
                          "(positive phase minus negative phase)")], rtol=1e-3, atol=1e-5,
                advice="the tape's loss is contrastive_divergence_loss(self, batch, chain's "
                       "end), scaled with self.optimizer.scale_loss, its gradients applied with "
                       "self.optimizer.apply")
        if persistent:
            expect_close(np.asarray(got["chain_after"]), end, f"self.chain after {what}",
                         against="the chain's last sample (store it back with "
                         "self.chain.assign(v_model))")
        for key in ("loss", "reconstruction_error"):
            expect_true(key in got["logs"], f"{what} returned {sorted(got['logs'])}: log 'loss' "
                        "and 'reconstruction_error' (self.trackers.update(...))")
        expect_close(np.float32(got["logs"]["loss"]), np.float32(want["logs"]["loss"]),
                     f"the loss {what} logs", rtol=1e-4, atol=1e-5)
        logged = np.float32(got["logs"]["reconstruction_error"])
        accepted = [np.float32(want[f"reconstruction_{when}"]) for when in ("before", "after")]
        if not any(np.isclose(logged, value, rtol=1e-4, atol=1e-5) for value in accepted):
            if any(np.isclose(logged, np.float32(value), rtol=1e-4, atol=1e-5)
                   for value in got.get("reconstruction_of_samples", [])):
                raise CheckFailed(f"{what} logs the reconstruction error of the chain's samples "
                                  "v_model: log that of the batch, "
                                  "self.reconstruction_error(v_data)")
            raise CheckFailed(f"the reconstruction_error {what} logs is {logged:.6g}; the "
                              f"batch's is {accepted[0]:.6g} before the update and "
                              f"{accepted[1]:.6g} after it (either is accepted): log "
                              "self.reconstruction_error(v_data), of the batch")


RBM_TRAIN = {"hidden": 16, "k": 1, "learning_rate": 0.1, "momentum": 0.9, "batch_size": 64,
             "steps": 200}
# The exact test log-likelihood after training: the reference ranges over -20.26 to -19.70
# nats over 10 seeds (0.56 apart); 0.75 allowed.
RBM_MARGIN = 0.75


@check(points=3, timeout=60, uses=RBM, task="`RBM.train_step` (and the units above)",
       hint="CD-1 on the binarised digits with SGD and momentum: the exact test log-likelihood "
            "must come close to the reference's; check the unit checks first")
def rbm_trains_on_digits(lab, rng):
    """An RBM with 16 hidden units trained by CD-1 on the binarised 8x8 digits for the budget
    below: the exact test log-likelihood (log Z summed over all 2^16 hidden vectors, in
    numpy) within 0.75 nats of the reference's and above independent pixels'; fit logs the
    loss and the reconstruction error."""
    import keras
    train, test = binarised_digits()
    budget = RBM_TRAIN
    model = lab.rbm.RBM(64, budget["hidden"], k=budget["k"], seed=int(rng.integers(1000)))
    model.compile(optimizer=keras.optimizers.SGD(budget["learning_rate"],
                                                 momentum=budget["momentum"]),
                  steps_per_execution=25)
    batches = train[rng.integers(0, len(train), size=budget["steps"] * budget["batch_size"])]
    history = model.fit(batches, batch_size=budget["batch_size"], shuffle=False,
                        verbose=0).history
    W, b, c = rbm_weights(model)
    return {"log_likelihood": exact_rbm_log_likelihood(W, b, c, test),
            "baseline": independent_pixels_log_likelihood(train, test),
            "logged": json.dumps(sorted(history)),
            "reconstruction_error": float(history.get("reconstruction_error", [np.nan])[-1])}


@rbm_trains_on_digits.verdict
def _(student, reference):
    judge_logged(student["logged"], ["loss", "reconstruction_error"], "RBM")
    judge_relative(student["log_likelihood"], reference["log_likelihood"], RBM_MARGIN,
                   "the RBM's exact test log-likelihood on the binarised digits", " nats",
                   baseline=student["baseline"], baseline_name="independent pixels")
