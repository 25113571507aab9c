"""Public checks of lab11_vae, part 2: the VAE model and the β-VAE (vae.py).

Every check here runs the student's VAE code with the checks' own maths and networks
(`probes.standins`), and measures the model with TensorFlow Probability's distributions
(`probes.measured_negative_elbo`), so a wrong loss inside the model cannot make its own score
look good and a slip in a function of part 1 costs that function's points only. train_step is judged step
by step (three SGD steps on a fixed stand-in loss behind a LossScaleOptimizer, and the
running means fit logs) and by training.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab11_vae.probes import (
    TRACKERS,
    TRAIN,
    TRAIN_MARGIN_NATS,
    arguments,
    digits,
    expect_number,
    judge_round_trip,
    judge_terms_in_bits_or_nats,
    judge_training,
    measured_negative_elbo,
    scalars,
    standin_loss_terms,
    standins,
    train_probe,
)
from autograder.verdicts import expect_close, expect_shape, expect_true

EPSILON_IGNORED = ("is not the same for the same epsilon: loss_terms must use the epsilon it "
                   "is given (and draw noise only when epsilon is None)")


def reproducible(first, second, what):
    a, b = (np.asarray(s["values"], np.float64) for s in (first, second))
    expect_true(a.shape != b.shape or np.allclose(a, b, rtol=1e-6, atol=1e-6),
                f"{what}, called twice with the same x and epsilon, {EPSILON_IGNORED} "
                f"(got {np.round(a.ravel(), 4).tolist()} then {np.round(b.ravel(), 4).tolist()})")


@check(points=2, uses="vae", reference=False, task="`VAE.loss_terms`",
       hint="loss_terms: mean, log_var = self.encode(x); z = sample_gaussian(mean, log_var, "
            "epsilon); log_px from self.decode(z); negative_elbo(log_px, kl, self.beta)")
def vae_loss_terms(lab, rng):
    """For given noise ε, the negative ELBO (β = 0.5) and its two terms, against those of the
    model's own encoder and decoder measured with TensorFlow Probability; the same ε gives the
    same terms."""
    x = digits("test")[:32]
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=0.5)
        terms = [scalars(model.loss_terms(x, epsilon)) for _ in range(2)]
        _, reconstruction, kl = measured_negative_elbo(model.encoder, model.decoder, x, epsilon[None])
    return {"terms": terms[0], "again": terms[1],
            "expected": [reconstruction + 0.5 * kl, reconstruction, kl]}


@vae_loss_terms.verdict
def _(student, _reference):
    what = "VAE(beta=0.5).loss_terms(x, epsilon)"
    expect_true(json.loads(student["terms"]["shapes"]) is not None,
                f"{what} returned None (is a `return` missing?)")
    reproducible(student["terms"], student["again"], what)
    loss, reconstruction, kl = (float(np.ravel(v)[0]) for v in student["terms"]["values"])
    if json.loads(student["terms"]["shapes"]) == [[], [], []] and np.isclose(
            loss, reconstruction + kl, rtol=1e-5) and not np.isclose(kl, 0.0):
        raise CheckFailed(f"the loss of {what} is reconstruction + kl ({loss:.4f}): beta "
                          "weights the KL inside the loss, loss = reconstruction + self.beta * kl")
    judge_terms_in_bits_or_nats(student["terms"], student["expected"], f"{what} (against the "
                                "negative ELBO of the model's own encoder and decoder)")


STEP = {"learning_rate": 0.05, "batch_size": 32, "batches": 3}


@check(points=2, uses="vae", task="`VAE.train_step`, `VAE.update_trackers`",
       hint="train_step: loss, reconstruction, kl = self.loss_terms(*inputs) inside a "
            "GradientTape; tape.gradient of self.optimizer.scale_loss(loss); optimizer.apply; "
            "update_trackers: update the trackers, return their results (means so far)", eager=True)
def train_step_exact(lab, rng):
    """Three SGD steps (wrapped in a LossScaleOptimizer, as under mixed precision) on a fixed
    stand-in `loss_terms`: the weights move as the reference's do, and `fit` logs after each
    batch the mean of each term over the batches so far."""
    import keras
    import tensorflow as tf

    from autograder.check_helpers import snapshot
    size = STEP["batch_size"]
    x = digits("train")[:size * STEP["batches"]]
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(16,))
        assign_random_weights(model, rng)

        def loss_terms(inputs, epsilon=None):
            # Not the negative ELBO: fixed, simple terms of every weight (no noise), so the
            # check judges the step and not the loss.
            inputs = tf.cast(inputs, "float32")
            mean, log_var = model.encoder(inputs)
            pixels = tf.sigmoid(model.decoder(mean + 0.1 * log_var))
            reconstruction = tf.reduce_mean(tf.reduce_sum(tf.square(pixels - inputs), axis=-1))
            kl = tf.reduce_mean(tf.reduce_sum(tf.square(mean) + tf.square(log_var), axis=-1))
            return reconstruction + 0.5 * kl, reconstruction, kl
        model.loss_terms = loss_terms
        model.compile(optimizer=keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(STEP["learning_rate"])))
        before = snapshot(model.trainable_variables)
        terms, logged = [], []

        def batch_terms(batch, logs=None):
            terms.append([float(t) for t in loss_terms(x[batch * size:(batch + 1) * size])])

        def batch_logs(batch, logs=None):
            logs = logs or {}
            logged.append([float(np.asarray(logs.get(name, np.nan))) for name in TRACKERS])
        history = model.fit(x, batch_size=size, epochs=1, shuffle=False, verbose=0, callbacks=[
            keras.callbacks.LambdaCallback(on_train_batch_begin=batch_terms,
                                           on_train_batch_end=batch_logs)]).history
        after = snapshot(model.trainable_variables)
    # terms: (loss, reconstruction, kl) per batch; reordered as TRACKERS (kl, loss, rec.).
    order = [2, 0, 1]
    return {"update": np.concatenate([(a - b).ravel() for a, b in zip(after, before)]),
            "terms": np.asarray(terms)[:, order], "batch_logs": logged,
            "logged": json.dumps(sorted(history)),
            "epoch_logs": [float(np.asarray(history.get(name, [np.nan])[-1])) for name in TRACKERS]}


@train_step_exact.verdict
def _(student, reference):
    logged = json.loads(student["logged"])
    expect_true(logged == TRACKERS, f"fit() logged {logged}; train_step must return "
                f"update_trackers(...), that is exactly {TRACKERS}")
    update, expected = (np.asarray(r["update"], np.float64) for r in (student, reference))
    moved, wanted = float(np.linalg.norm(update)), float(np.linalg.norm(expected))
    expect_true(moved > 0, "three SGD steps of VAE.train_step changed no weight: is the loss "
                "computed inside the tape, and the gradient applied with self.optimizer.apply?")
    scale = 2.0 ** 15   # a LossScaleOptimizer's initial loss scale
    # A few steps move the reference off its start, so the ratio is near, not at, the scale.
    if scale / 10 < wanted / moved < scale * 10:
        raise CheckFailed(f"three SGD steps of VAE.train_step behind a LossScaleOptimizer moved the "
                          f"weights {wanted / moved:.0f} times less than the reference's: take the gradient "
                          "of self.optimizer.scale_loss(loss), not of the loss (under mixed "
                          "precision the optimizer divides it by the loss scale)")
    expect_close(update.astype(np.float32), expected.astype(np.float32),
                 "the weight updates of three SGD steps of VAE.train_step on a stand-in "
                 f"loss_terms (norm {moved:.4g}, the reference's {wanted:.4g}): the gradient of "
                 "loss (the first value loss_terms returns, with beta inside) w.r.t. "
                 "self.trainable_variables", rtol=1e-3, atol=1e-6)
    terms = np.asarray(student["terms"], np.float64)
    running = np.cumsum(terms, axis=0) / np.arange(1, len(terms) + 1)[:, None]
    logs = np.asarray(student["batch_logs"], np.float64)
    if logs.shape == terms.shape and np.allclose(logs, terms, rtol=1e-5) \
            and not np.allclose(logs, running, rtol=1e-5):
        raise CheckFailed("after each batch, fit logs that batch's own terms, not their means so "
                          "far: update_trackers must update each tracker and return the "
                          "trackers' results (never reset them in a step)")
    for index, name in enumerate(TRACKERS):
        expect_close(logs[:, index].astype(np.float32), running[:, index].astype(np.float32),
                     f"the {name} fit logs after each of 3 batches, against the mean of the "
                     "batch values so far", rtol=1e-5)
        expect_number(student["epoch_logs"][index], terms[:, index].mean(),
                      f"the {name} fit logs for the epoch", rtol=1e-5,
                      against="the mean of its 3 batch values is")


@check(points=4, uses="vae", timeout=40, task="`VAE.train_step` (training)",
       hint=f"train_step: loss_terms inside a GradientTape, optimizer.scale_loss, tape.gradient "
            f"w.r.t. self.trainable_variables, optimizer.apply, then the trackers; must come "
            f"within {TRAIN_MARGIN_NATS} nats of the reference")
def train_step_trains(lab, rng):
    """With the checks' own `loss_terms`: `fit` logs `loss`, `reconstruction`, `kl`; after 10
    epochs (Adam 3e-3, batch 64) the held-out negative ELBO is within 0.75 nats of the
    reference's."""
    with standins(lab):
        return train_probe(lab, rng, TRAIN, own_loss_terms=True)


train_step_trains.verdict(lambda s, r: judge_training(s, r, TRAIN_MARGIN_NATS))


@check(points=1, uses="vae", reference=False, task="`VAE.test_step`",
       hint="test_step: the same loss_terms as train_step, with fresh noise (not z = mean), no "
            "gradient step; return update_trackers(...)", eager=True)
def test_step_evaluates(lab, rng):
    """With the checks' own `loss_terms`, `evaluate` logs the three terms of a model whose
    noise matters (large posterior variances): a one-sample negative ELBO that agrees with a
    32-sample estimate, not the loss at z = mean, and no weight changes."""
    x = digits("test")
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=0.5)
        assign_random_weights(model, rng)
        model.encoder.log_var_bias.assign(np.full(3, 1.5, "float32"))  # sigma about 2
        model.loss_terms = standin_loss_terms(model)
        model.compile(optimizer="adam")
        weights = [np.array(w) for w in model.get_weights()]
        logged = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
        changed = max(float(np.max(np.abs(a - np.asarray(b))))
                      for a, b in zip(weights, model.get_weights()))
        epsilon = rng.normal(size=(32, len(x), 3)).astype("float32")
        draws = [measured_negative_elbo(model.encoder, model.decoder, x, eps[None])[1]
                 for eps in epsilon]
        _, at_mean, kl = measured_negative_elbo(model.encoder, model.decoder, x,
                                          np.zeros((1, len(x), 3), "float32"))
    return {"names": json.dumps(sorted(logged)), "logged": {k: float(v) for k, v in logged.items()},
            "changed": changed, "reconstruction": float(np.mean(draws)),
            "spread": float(np.std(draws)), "at_mean": at_mean, "kl": kl}


@test_step_evaluates.verdict
def _(student, _reference):
    names = json.loads(student["names"])
    expect_true(names == TRACKERS, f"evaluate() returned {names}; test_step must return "
                f"exactly {TRACKERS}")
    expect_true(student["changed"] == 0.0, "evaluate() changed the weights: test_step must not "
                "apply gradients")
    logged = student["logged"]
    expect_number(logged["kl"], student["kl"], "the kl evaluate() reports", rtol=1e-4,
                  against="the model's own mean KL is")
    expect_number(logged["loss"], logged["reconstruction"] + 0.5 * logged["kl"],
                  "the loss evaluate() reports for beta=0.5", rtol=1e-4,
                  against="reconstruction + 0.5 * kl is")
    reconstruction, mc, spread = logged["reconstruction"], student["reconstruction"], student["spread"]
    if abs(reconstruction - student["at_mean"]) <= 1e-3 * abs(student["at_mean"]) \
            and abs(mc - student["at_mean"]) > 4 * spread:
        raise CheckFailed(f"the reconstruction term evaluate() reports, {reconstruction:.3f}, is "
                          f"the one at z = mean (epsilon = 0); the negative ELBO averages over "
                          f"z ~ q(z|x) ({mc:.3f} over 32 draws): test_step must draw noise as "
                          "train_step does")
    expect_true(abs(reconstruction - mc) <= 6 * spread + 1e-3 * abs(mc),
                f"the reconstruction term evaluate() reports is {reconstruction:.3f}; one noise "
                f"draw per example should give {mc:.3f} give or take {spread:.3f} (32 draws "
                "with the model's own encoder and decoder)")


@check(points=1, uses="vae", reference=False, task="`VAE.call`, `VAE.sample`",
       hint="call decodes the posterior mean and returns the decoder OUTPUTS (logits); sample "
            "draws z ~ N(0, I) with keras.random.normal(..., seed=seed) and returns "
            "output_mean(decoder(z))")
def sample_and_reconstruct(lab, rng):
    """`model(x)` is the decoder's output (logits) at the posterior mean, so `reconstruct`
    gives sigmoid of it; `sample(12, seed)` gives probabilities, the same for the same seed
    and others for another."""
    x = digits("test")[:10]
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=2, hidden_units=(32,))
        assign_random_weights(model, rng, scale=0.5)
        out = {"samples": model.sample(12, seed=5), "again": model.sample(12, seed=5),
               "other_seed": model.sample(12, seed=6), "call": model(x),
               "call_again": model(x), "expected_call": model.decoder(model.encoder(x)[0])}
        # reconstruct (given) applies output_mean to model(x): only once call returns a value.
        out["reconstruction"] = None if out["call"] is None else model.reconstruct(x)
        return out


@sample_and_reconstruct.verdict
def _(student, _reference):
    samples = expect_shape(student["samples"], (12, 64), "model.sample(12, seed=5)")
    expect_true(np.all((samples >= 0) & (samples <= 1)),
                "model.sample returns pixel probabilities: values must lie in [0, 1] "
                f"(got {samples.min():.3g} to {samples.max():.3g}; a missing sigmoid?)")
    expect_close(student["again"], samples, "model.sample(12, seed=5), called a second time,",
                 against="the first call (the same seed must give the same samples)")
    expect_true(not np.allclose(student["other_seed"], samples),
                "model.sample gives the same samples for seeds 5 and 6: pass the seed on")
    outputs = expect_shape(student["call"], (10, 64), "model(x) for x (10, 64), that is call(x),")
    expect_close(student["call_again"], outputs, "model(x) called twice: call must decode the "
                 "posterior mean, not a random sample")
    logits = np.asarray(student["expected_call"], np.float64)
    if np.allclose(outputs, 1.0 / (1.0 + np.exp(-logits)), rtol=1e-4, atol=1e-6):
        raise CheckFailed("model(x) returns sigmoid(logits), pixel probabilities: call returns "
                          "the decoder's OUTPUTS (logits) at the posterior mean; reconstruct and "
                          "sample apply output_mean (the sigmoid) themselves")
    expect_close(outputs, logits.astype(np.float32), "model(x), against decoder(mean) with the "
                 "mean from the model's own encoder", against="decoder(encoder(x)[0])")
    expect_close(student["reconstruction"], (1.0 / (1.0 + np.exp(-logits))).astype(np.float32),
                 "model.reconstruct(x)", against="sigmoid(decoder(encoder(x)[0]))")


@check(points=2, uses="vae", reference=False, task="`VAE.get_config`",
       hint="get_config returns every constructor argument (input_dim, latent_dim, hidden_units, "
            "likelihood, beta, observation_log_var), so that keras.saving.load_model rebuilds "
            "the same VAE and restores its weights")
def save_load_round_trip(lab, rng):
    """Save a VAE with non-default arguments (Gaussian likelihood, β = 0.5, observation
    log-variance -1.5) to `.keras` and reload it: the same arguments, config, outputs,
    samples and optimizer state."""
    import keras
    x = digits("test")[:16]
    with standins(lab):
        model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32, 16),
                            likelihood="gaussian", beta=0.5, observation_log_var=-1.5)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        assign_random_weights(model, rng)  # weights no fresh model could have
        # Two optimizer steps on random gradients, so the optimizer has state to save. Applied
        # here rather than by fit: this check grades get_config, the train_step checks training.
        for _ in range(2):
            model.optimizer.apply([rng.normal(size=w.shape).astype("float32")
                                   for w in model.trainable_weights], model.trainable_weights)
        steps = int(model.optimizer.iterations.numpy())
        path = str(lab.tmpdir / "vae.keras")
        model.save(path)
        try:
            loaded = keras.saving.load_model(path)
        except Exception as error:  # the message goes to the student
            return {"error": f"{type(error).__name__}: {error}"[:600]}
        return {"error": "", "config": json.dumps(model.get_config(), sort_keys=True, default=str),
                "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
                "arguments": json.dumps([arguments(m) for m in (model, loaded)], default=str),
                "class": type(loaded).__name__, "outputs": model(x), "loaded_outputs": loaded(x),
                "steps": steps, "loaded_steps": int(loaded.optimizer.iterations.numpy()),
                "samples": model.sample(4, seed=1), "loaded_samples": loaded.sample(4, seed=1)}


@save_load_round_trip.verdict
def _(student, _reference):
    what = ("VAE(latent_dim=3, hidden_units=(32, 16), likelihood='gaussian', beta=0.5, "
            "observation_log_var=-1.5)")
    judge_round_trip(student, what, "VAE")
    expect_close(student["loaded_samples"], student["samples"],
                 "model.sample(4, seed=1) after save and load", against="the samples before saving")
    expect_true(student["loaded_steps"] == student["steps"],
                f"the reloaded optimizer has done {student['loaded_steps']} steps, the saved one "
                f"{student['steps']}: its state was not restored")
