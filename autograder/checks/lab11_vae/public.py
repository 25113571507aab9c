"""Public checks of lab11_vae.

The maths is compared with the reference on random inputs. The model checks measure the
student's own networks with plain numpy (the negative ELBO written out below), so a wrong
loss inside the model cannot make its own score look good.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (expect_at_most, expect_close, expect_equal, expect_finite,
                                 expect_shape, expect_true)

TRACKERS = ["kl", "loss", "reconstruction"]

# The training budget of train_step_trains, stated in the handout.
TRAIN = {"latent_dim": 8, "hidden_units": (64,), "learning_rate": 3e-3, "batch_size": 64,
         "epochs": 10}
# How much worse than the reference's held-out negative ELBO a student model may end up.
# Over training seeds the reference lands within 0.7 nats (21.4 to 22.1), so a correct
# train_step whose noise is drawn differently passes; a KL weighted twice (23.9 to 24.5) fails.
MARGIN_NATS = 1.25


# ---------------------------------------------------------------------------------------------
# Helpers: run in the worker (probes) or here (verdicts); numpy only at module level
# ---------------------------------------------------------------------------------------------

def _digits(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)[0]


def _negative_elbo_np(encoder, decoder, x, epsilon):
    """Monte-Carlo negative ELBO of a Bernoulli VAE, in float64 numpy.

    x: (N, D) binary; epsilon: (S, N, K). Returns (loss, reconstruction, kl): batch means,
    the reconstruction term averaged over the S samples.
    """
    mean, log_var = (np.asarray(t, dtype=np.float64) for t in encoder(x))
    kl = 0.5 * np.sum(mean ** 2 + np.exp(log_var) - 1.0 - log_var, axis=-1)
    reconstruction = 0.0
    for eps in epsilon:
        z = (mean + np.exp(0.5 * log_var) * eps).astype(np.float32)
        logits = np.asarray(decoder(z), dtype=np.float64)
        reconstruction += np.mean(np.sum(np.logaddexp(0.0, logits) - x * logits, axis=-1))
    reconstruction = float(reconstruction / len(epsilon))
    return reconstruction + float(np.mean(kl)), reconstruction, float(np.mean(kl))


def scalars(values):
    """(loss, reconstruction, kl) as plain data: their shapes and their values (flattened)."""
    values = list(values)
    return {"shapes": json.dumps([list(np.shape(v)) for v in values]),
            "values": [np.asarray(v, dtype=np.float64).ravel() for v in values]}


def judge_elbo_terms(student, reference, call):
    shapes = json.loads(student["shapes"])
    expect_true(len(shapes) == 3, f"{call} returned {len(shapes)} values, expected 3: "
                "(loss, reconstruction, kl)")
    for term, shape in zip(("loss", "reconstruction", "kl"), shapes):
        expect_true(shape == [], f"the {term} {call} returns has shape {tuple(shape)}, expected a "
                    "scalar (the mean over the batch)")
    for index, term in enumerate(("loss", "reconstruction", "kl")):
        expect_close(student["values"][index].astype(np.float32),
                     reference["values"][index].astype(np.float32), f"the {term} of {call}")


def train_probe(lab, rng, budget):
    """Train a fresh VAE with fit() for `budget`; held-out negative ELBO before and after."""
    import keras
    x_train, x_test = _digits("train"), _digits("test")
    model = lab.vae.VAE(input_dim=64, latent_dim=budget["latent_dim"],
                        hidden_units=budget["hidden_units"], beta=budget.get("beta", 1.0))
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    before = _negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)[0]
    history = model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                        shuffle=True, verbose=0).history
    after, reconstruction, kl = _negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)
    return {"before": before, "after": after, "reconstruction": reconstruction, "kl": kl,
            "logged": json.dumps(sorted(history))}


def judge_training(student, reference, margin=MARGIN_NATS):
    logged = json.loads(student["logged"])
    expect_true(logged == TRACKERS,
                f"fit() logged {logged}; train_step must return exactly {TRACKERS} "
                "(the trackers' results)")
    after = student["after"]
    expect_true(np.isfinite(after),
                f"after training, the held-out negative ELBO is {after} (NaN or inf): "
                "the loss diverged (a flipped sign in the KL or the likelihood?)")
    split = (f"reconstruction {student['reconstruction']:.2f} + KL {student['kl']:.2f}; the "
             f"reference: {reference['reconstruction']:.2f} + {reference['kl']:.2f}")
    fallen = student["before"] - after
    expect_true(fallen >= 0.5 * (reference["before"] - reference["after"]),
                f"training did not lower the held-out negative ELBO enough: from "
                f"{student['before']:.2f} to {after:.2f} nats ({split}), where the reference goes "
                f"from {reference['before']:.2f} to {reference['after']:.2f}. Is the gradient of "
                "the whole loss (reconstruction + beta * kl) applied to all trainable variables?")
    expect_at_most(after, reference["after"] + margin,
                   f"the held-out negative ELBO after training ({split})", unit=" nats")


# ---------------------------------------------------------------------------------------------
# 1-3. The maths
# ---------------------------------------------------------------------------------------------

@check(points=1, hint="z = mean + exp(0.5 * log_var) * epsilon: log_var is a log-VARIANCE")
def sample_gaussian(lab, rng):
    mean, log_var, eps = (rng.normal(size=(16, 3)).astype("float32") for _ in range(3))
    return {"z": lab.vae.sample_gaussian(mean, log_var, eps)}


@sample_gaussian.verdict
def _(student, reference):
    expect_close(student["z"], reference["z"], "sample_gaussian(mean, log_var, epsilon)")


@check(points=2, hint="KL = 0.5 * sum(mean^2 + exp(log_var) - 1 - log_var) over the latent axis")
def kl_divergence(lab, rng):
    mean, log_var = (rng.normal(size=(16, 3)).astype("float32") for _ in range(2))
    return {"kl": lab.vae.kl_divergence(mean, log_var)}


@kl_divergence.verdict
def _(student, reference):
    expect_close(student["kl"], reference["kl"], "kl_divergence(mean, log_var)")


@check(points=2, hint="log p(x|logits) = sum over pixels of x * logits - softplus(logits); "
                      "one value per example")
def bernoulli_log_likelihood(lab, rng):
    x = rng.random(size=(12, 64)).astype("float32")
    x[:6] = np.round(x[:6])  # binary rows and grey-level rows
    logits = (2.0 * rng.normal(size=(12, 64))).astype("float32")
    return {"log_px": lab.vae.bernoulli_log_likelihood(x, logits)}


@bernoulli_log_likelihood.verdict
def _(student, reference):
    expect_close(student["log_px"], reference["log_px"], "bernoulli_log_likelihood(x, logits)")


@check(points=1, hint="never log(sigmoid(logits)): use log(1 + e^l) = max(l, 0) + log1p(e^-|l|) "
                      "(or tf.nn.softplus)")
def bernoulli_log_likelihood_extreme_logits(lab, rng):
    # One extreme pixel per row, the other pixels ordinary: a NaN or inf points at its row.
    x = np.round(rng.random(size=(8, 16))).astype("float32")
    logits = rng.normal(size=(8, 16)).astype("float32")
    for row, (pixel, logit) in enumerate([(1, 100), (0, -100), (0, 100), (1, -100),
                                          (1, 30), (0, -30), (0.5, 100), (0.5, -100)]):
        x[row, 0], logits[row, 0] = pixel, logit
    return {"log_px": lab.vae.bernoulli_log_likelihood(x, logits)}


@bernoulli_log_likelihood_extreme_logits.verdict
def _(student, reference):
    expect_finite(student["log_px"], "bernoulli_log_likelihood with logits of +-100 "
                  "(rows: x=1 l=100, x=0 l=-100, x=0 l=100, x=1 l=-100, ...)")
    expect_close(student["log_px"], reference["log_px"],
                 "bernoulli_log_likelihood with logits of +-30 and +-100")


@check(points=1, hint="log N(x | m, e^v) = -0.5 * sum(log(2 pi) + v + (x - m)^2 / e^v) over D; "
                      "log_var may be a scalar")
def gaussian_log_likelihood(lab, rng):
    x, mean, log_var = (rng.normal(size=(10, 5)).astype("float32") for _ in range(3))
    return {"per_pixel_variance": lab.vae.gaussian_log_likelihood(x, mean, log_var),
            "scalar_variance": lab.vae.gaussian_log_likelihood(x, mean, np.float32(-1.5))}


@gaussian_log_likelihood.verdict
def _(student, reference):
    expect_close(student["per_pixel_variance"], reference["per_pixel_variance"],
                 "gaussian_log_likelihood(x, mean, log_var)")
    expect_close(student["scalar_variance"], reference["scalar_variance"],
                 "gaussian_log_likelihood(x, mean, log_var=-1.5) (a scalar log-variance)")


@check(points=1, hint="reconstruction = mean(-log_px), kl = mean(kl), "
                      "loss = reconstruction + beta * kl")
def negative_elbo(lab, rng):
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

@check(points=2, hint="build() builds every Dense sublayer on the right input shape; "
                      "Encoder.call returns (mean, log_var), Decoder.call returns logits")
def encoder_and_decoder(lab, rng):
    import keras
    x = np.round(rng.random(size=(7, 64))).astype("float32")
    z = rng.normal(size=(5, 3)).astype("float32")
    encoder = lab.vae.Encoder(latent_dim=3, hidden_units=(16, 8))
    decoder = lab.vae.Decoder(output_dim=64, hidden_units=(8, 16))
    encoder.build((None, 64))
    decoder.build((None, 3))
    built = {"encoder_params": encoder.count_params(), "decoder_params": decoder.count_params()}
    mean, log_var = encoder(x)
    logits = decoder(z)
    return {**built,
            "layers": [isinstance(layer, keras.layers.Layer) for layer in (encoder, decoder)],
            "mean": mean, "log_var": log_var, "logits": logits,
            "dtypes": [str(np.asarray(t).dtype) for t in (mean, log_var, logits)],
            "other_batch": [np.asarray(encoder(x[:2])[0]).shape[0], np.asarray(decoder(z[:1])).shape[0]]}


@encoder_and_decoder.verdict
def _(student, reference):
    expect_true(all(student["layers"]), "Encoder and Decoder must be keras.layers.Layer subclasses")
    for name in ("encoder", "decoder"):
        expect_equal(student[f"{name}_params"], reference[f"{name}_params"],
                     f"number of weights {name}.build((None, ...)) creates "
                     f"(Encoder(3, (16, 8)) / Decoder(64, (8, 16)))")
    expect_shape(student["mean"], (7, 3), "mean of Encoder(latent_dim=3)(x) for x (7, 64)")
    expect_shape(student["log_var"], (7, 3), "log_var of Encoder(latent_dim=3)(x) for x (7, 64)")
    expect_shape(student["logits"], (5, 64), "Decoder(output_dim=64)(z) for z (5, 3)")
    expect_true(student["dtypes"] == ["float32"] * 3,
                f"dtypes of (mean, log_var, logits) are {student['dtypes']}, expected float32")
    expect_true(list(student["other_batch"]) == [2, 1],
                "the encoder and decoder must work for any batch size (got batch sizes "
                f"{list(student['other_batch'])} for inputs of 2 and 1 examples)")
    for key in ("mean", "log_var", "logits"):
        expect_finite(student[key], f"{key} of the encoder/decoder")


# ---------------------------------------------------------------------------------------------
# 5. The model
# ---------------------------------------------------------------------------------------------

@check(points=2, hint="loss_terms: mean, log_var = encoder(x); z = sample_gaussian(..., epsilon);"
                      " log_px from decoder(z); negative_elbo(log_px, kl, beta)", reference=False)
def vae_loss_terms(lab, rng):
    x = _digits("test")[:32]
    model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=0.5)
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    loss, reconstruction, kl = model.loss_terms(x, epsilon)
    _, expected_reconstruction, expected_kl = _negative_elbo_np(model.encoder, model.decoder, x,
                                                                epsilon[None])
    return {"terms": scalars((loss, reconstruction, kl)),
            "expected": [expected_reconstruction + 0.5 * expected_kl, expected_reconstruction,
                         expected_kl]}


@vae_loss_terms.verdict
def _(student, _reference):
    expected = {"shapes": json.dumps([[], [], []]),
                "values": [np.array([v]) for v in student["expected"]]}
    judge_elbo_terms(student["terms"], expected, "VAE(beta=0.5).loss_terms(x, epsilon) (against "
                     "the negative ELBO of the model's own encoder and decoder)")


@check(points=4, timeout=40, hint=f"train_step: loss_terms inside a GradientTape, "
       f"optimizer.scale_loss, tape.gradient w.r.t. self.trainable_variables, optimizer.apply, "
       f"then the trackers; must come within {MARGIN_NATS} nats of the reference")
def train_step_trains(lab, rng):
    return train_probe(lab, rng, TRAIN)


@train_step_trains.verdict
def _(student, reference):
    judge_training(student, reference)


@check(points=1, hint="test_step: the same loss_terms as train_step, no gradient step; "
                      "update and return the trackers", reference=False)
def test_step_evaluates(lab, rng):
    x = _digits("test")
    model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=0.5)
    model.compile(optimizer="adam")
    weights = [np.array(w) for w in model.get_weights()]
    logged = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    changed = max(float(np.max(np.abs(a - np.asarray(b)))) for a, b in zip(weights, model.get_weights()))
    epsilon = rng.normal(size=(32, len(x), 3)).astype("float32")
    _, reconstruction, kl = _negative_elbo_np(model.encoder, model.decoder, x, epsilon)
    return {"names": json.dumps(sorted(logged)), "logged": {k: float(v) for k, v in logged.items()},
            "changed": changed, "reconstruction": reconstruction, "kl": kl}


@test_step_evaluates.verdict
def _(student, _reference):
    names = json.loads(student["names"])
    expect_true(names == TRACKERS, f"evaluate() returned {names}; test_step must return "
                f"exactly {TRACKERS}")
    expect_true(student["changed"] == 0.0, "evaluate() changed the weights: test_step must not "
                "apply gradients")
    logged = student["logged"]
    expect_close(np.float32(logged["kl"]), np.float32(student["kl"]),
                 "the kl evaluate() reports, against the model's own mean KL", rtol=1e-4)
    expect_close(np.float32(logged["loss"]), np.float32(logged["reconstruction"] + 0.5 * logged["kl"]),
                 "the loss evaluate() reports for beta=0.5, against reconstruction + 0.5 * kl",
                 rtol=1e-4)
    # One noise draw per example against 32: agrees within about 1 %.
    expect_close(np.float32(logged["reconstruction"]), np.float32(student["reconstruction"]),
                 "the reconstruction term evaluate() reports, against a 32-sample estimate "
                 "with the model's own encoder and decoder", rtol=0.03)


@check(points=1, hint="call decodes the posterior mean; sample draws z ~ N(0, I) with "
                      "keras.random.normal(..., seed=seed); both give pixel probabilities",
       reference=False)
def sample_and_reconstruct(lab, rng):
    x = _digits("test")[:10]
    model = lab.vae.VAE(input_dim=64, latent_dim=2, hidden_units=(32,))
    return {"samples": model.sample(12, seed=5), "again": model.sample(12, seed=5),
            "other_seed": model.sample(12, seed=6), "call": model(x), "call_again": model(x),
            "reconstruction": model.reconstruct(x)}


@sample_and_reconstruct.verdict
def _(student, _reference):
    samples = expect_shape(student["samples"], (12, 64), "model.sample(12, seed=5)")
    expect_true(np.all((samples >= 0) & (samples <= 1)),
                "model.sample returns pixel probabilities: values must lie in [0, 1] "
                f"(got {samples.min():.3g} to {samples.max():.3g}; a missing sigmoid?)")
    expect_close(student["again"], samples, "model.sample(12, seed=5) called twice (same seed)")
    expect_true(not np.allclose(student["other_seed"], samples),
                "model.sample gives the same samples for seeds 5 and 6: pass the seed on")
    logits = expect_shape(student["call"], (10, 64), "model(x) for x (10, 64)")
    expect_close(student["call_again"], logits, "model(x) called twice: call must decode the "
                 "posterior mean, not a random sample")
    probabilities = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    expect_close(student["reconstruction"], probabilities.astype(np.float32),
                 "model.reconstruct(x), against sigmoid(model(x))")


@check(points=2, hint="get_config returns every constructor argument, so that "
                      "keras.saving.load_model rebuilds the same VAE and restores its weights",
       reference=False)
def save_load_round_trip(lab, rng):
    import keras
    x = _digits("test")[:16]
    model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32, 16), beta=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    for weight in model.trainable_weights:  # weights no fresh model could have
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))
    try:  # a few steps, so the optimizer has state to save; train_step_trains grades training
        model.fit(x, batch_size=8, epochs=1, verbose=0)
    except Exception:  # a broken train_step may leave the optimizer half built: start afresh
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    steps = int(model.optimizer.iterations.numpy())
    path = str(lab.tmpdir / "vae.keras")
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)
    except Exception as error:  # the message goes to the student
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    return {"error": "", "config": json.dumps(model.get_config(), sort_keys=True, default=str),
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
            "class": type(loaded).__name__, "outputs": model(x), "loaded_outputs": loaded(x),
            "steps": steps, "loaded_steps": int(loaded.optimizer.iterations.numpy()),
            "samples": model.sample(4, seed=1), "loaded_samples": loaded.sample(4, seed=1)}


@save_load_round_trip.verdict
def _(student, _reference):
    if student["error"]:
        raise CheckFailed("keras.saving.load_model could not rebuild the saved VAE(latent_dim=3, "
                          "hidden_units=(32, 16), beta=0.5): " + student["error"])
    expect_true(student["class"] == "VAE", f"load_model returned a {student['class']}, not a VAE")
    if student["loaded_config"] != student["config"]:
        before, after = json.loads(student["config"]), json.loads(student["loaded_config"])
        differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise CheckFailed(f"the reloaded VAE's config differs in {differ}: get_config must "
                          "return every constructor argument")
    expect_close(student["loaded_outputs"], student["outputs"], "model(x) after save and load")
    expect_close(student["loaded_samples"], student["samples"],
                 "model.sample(4, seed=1) after save and load")
    expect_true(student["loaded_steps"] == student["steps"],
                f"the reloaded optimizer has done {student['loaded_steps']} steps, the saved one "
                f"{student['steps']}: its state was not restored")
