"""Public checks of lab11_vae.

The maths is compared with the reference on random inputs. The model checks measure the
student's own networks with plain numpy (the negative ELBO written out below), so a wrong
loss inside the model cannot make its own score look good.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_equal,
    expect_finite,
    expect_shape,
    expect_true,
)

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


def negative_elbo_np(encoder, decoder, x, epsilon):
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


def compile_for_training(model, learning_rate):
    """compile with Adam (VAE.compile, given code, builds its slots before the first fit)."""
    import keras
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))


def train_probe(lab, rng, budget):
    """Train a fresh VAE with fit() for `budget`; held-out negative ELBO before and after."""
    x_train, x_test = _digits("train"), _digits("test")
    model = lab.vae.VAE(input_dim=64, latent_dim=budget["latent_dim"],
                        hidden_units=budget["hidden_units"], beta=budget.get("beta", 1.0))
    compile_for_training(model, budget["learning_rate"])
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    before = negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)[0]
    history = model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                        shuffle=True, verbose=0).history
    after, reconstruction, kl = negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)
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

@check(points=2, hint="loss_terms: mean, log_var = self.encode(x); z = sample_gaussian(..., "
                      "epsilon); log_px from self.decode(z); negative_elbo(log_px, kl, self.beta)",
       reference=False)
def vae_loss_terms(lab, rng):
    x = _digits("test")[:32]
    model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=0.5)
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    loss, reconstruction, kl = model.loss_terms(x, epsilon)
    _, expected_reconstruction, expected_kl = negative_elbo_np(model.encoder, model.decoder, x,
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
    _, reconstruction, kl = negative_elbo_np(model.encoder, model.decoder, x, epsilon)
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
    assign_random_weights(model, rng)  # weights no fresh model could have
    # Two optimizer steps on random gradients, so the optimizer has state to save. Applied
    # here rather than by fit: this check grades get_config, train_step_trains grades training.
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
    expect_close(student["loaded_outputs"], student["outputs"], "model(x) after save and load",
                 against="the outputs before saving")
    expect_close(student["loaded_samples"], student["samples"],
                 "model.sample(4, seed=1) after save and load", against="the samples before saving")
    expect_true(student["loaded_steps"] == student["steps"],
                f"the reloaded optimizer has done {student['loaded_steps']} steps, the saved one "
                f"{student['steps']}: its state was not restored")


# ---------------------------------------------------------------------------------------------
# 5, with beta != 1. The beta-VAE
# ---------------------------------------------------------------------------------------------

# Two betas trained on the same budget: the small one keeps a rich posterior, the large one
# pays so much for KL that the posterior collapses onto the prior (KL near 0).
BETA_TRAIN = {"latent_dim": 8, "hidden_units": (64,), "learning_rate": 3e-3, "batch_size": 64,
              "epochs": 5, "betas": (0.5, 4.0)}
# Over training seeds the beta = 0.5 model's held-out KL lands between 4.9 and 6.0 nats and
# its reconstruction within 1 nat; a train_step that drops beta (both models train as
# beta = 1) ends near KL 2 and reconstruction 22 for beta = 0.5.
BETA_KL_MARGIN = 1.5


@check(points=1, reference=False,
       hint="beta multiplies the KL inside the loss and nothing else: loss = reconstruction + "
            "beta * kl, and loss_terms reports the unweighted reconstruction and kl")
def beta_weights_the_kl(lab, rng):
    x = _digits("test")[:32]
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    weight_seed = int(rng.integers(1 << 30))
    terms = {}
    for beta in (0.0, 1.0, 4.0):
        model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,), beta=beta)
        assign_random_weights(model, np.random.default_rng(weight_seed))  # the same weights
        terms[f"{beta:g}"] = scalars(model.loss_terms(x, epsilon))
    return terms


@beta_weights_the_kl.verdict
def _(student, _reference):
    values = {}
    for beta, terms in student.items():
        shapes = json.loads(terms["shapes"])
        expect_true(shapes == [[], [], []], f"VAE(beta={beta}).loss_terms returned values of "
                    f"shapes {shapes}, expected three scalars (loss, reconstruction, kl)")
        values[beta] = [float(v[0]) for v in terms["values"]]
    _, reconstruction, kl = values["0"]
    for beta in ("1", "4"):
        loss_b, reconstruction_b, kl_b = values[beta]
        expect_close(np.float32(reconstruction_b), np.float32(reconstruction),
                     f"the reconstruction term of VAE(beta={beta}).loss_terms, against the same "
                     "model with beta=0 (beta must not change it)")
        expect_close(np.float32(kl_b), np.float32(kl),
                     f"the kl term of VAE(beta={beta}).loss_terms, against the same model with "
                     "beta=0 (report the unweighted KL; beta weights it inside the loss only)")
        expect_close(np.float32(loss_b), np.float32(reconstruction + float(beta) * kl),
                     f"the loss of VAE(beta={beta}).loss_terms, against reconstruction + "
                     f"{beta} * kl")


@check(points=2, timeout=40,
       hint="the gradient step must minimise the loss that loss_terms weights with self.beta: "
            "a larger beta trades reconstruction for a smaller KL")
def beta_vae_trades_kl_for_reconstruction(lab, rng):
    x_train, x_test = _digits("train"), _digits("test")
    budget = BETA_TRAIN
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    out = {}
    for beta in budget["betas"]:
        model = lab.vae.VAE(input_dim=64, latent_dim=budget["latent_dim"],
                            hidden_units=budget["hidden_units"], beta=beta)
        compile_for_training(model, budget["learning_rate"])
        model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                  shuffle=True, verbose=0)
        _, reconstruction, kl = negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)
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
                       reference[beta]["reconstruction"] + MARGIN_NATS,
                       f"the held-out reconstruction term of VAE(beta={beta}) ({found})",
                       unit=" nats")


# ---------------------------------------------------------------------------------------------
# 6. The importance-weighted bound
# ---------------------------------------------------------------------------------------------

def _logsumexp_np(values, axis=0):
    values = np.asarray(values, dtype=np.float64)
    top = values.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(values - top).sum(axis=axis))


def judge_iwae_bound(student, reference, log_weights, what):
    """expect_close, naming the two classic slips when the answer matches one of them."""
    try:
        expect_close(student, reference, what)
    except CheckFailed:
        log_weights = np.asarray(log_weights, dtype=np.float64)
        got = np.asarray(student, dtype=np.float64)
        slips = [(log_weights.mean(axis=0), "is the mean of the log-weights (the ELBO again), "
                  "not the log of the mean weight: use logsumexp over the samples"),
                 (_logsumexp_np(log_weights), "is logsumexp without the - log S: the log of "
                  "the SUM of the weights, not of their mean")]
        for value, message in slips:
            if got.shape == value.shape and np.allclose(got, value, rtol=1e-4, atol=1e-3):
                raise CheckFailed(f"{what} {message}") from None
        raise


@check(points=2, hint="log (1/S) sum_s exp(w_s) = tf.reduce_logsumexp(w, axis=0) - log S; "
                      "never exp the log-weights directly (exp(-1000) is 0, exp(500) is inf)")
def iwae_bound(lab, rng):
    log_weights = (3.0 * rng.normal(size=(6, 10)) - 40.0).astype("float32")
    extreme = log_weights.copy()
    extreme[:, :3] -= 1000.0   # every weight underflows to 0 in float32
    extreme[:, 3:6] += 500.0   # every weight overflows to inf
    return {"log_weights": log_weights, "extreme_log_weights": extreme,
            "bound": lab.vae.iwae_bound(log_weights),
            "extreme": lab.vae.iwae_bound(extreme),
            "single": lab.vae.iwae_bound(log_weights[:1])}


@iwae_bound.verdict
def _(student, reference):
    judge_iwae_bound(student["bound"], reference["bound"], reference["log_weights"],
                     "iwae_bound(log_weights) for S=6 samples of 10 examples")
    expect_finite(student["extreme"], "iwae_bound on log-weights near -1040 (columns 0-2) and "
                  "+460 (columns 3-5)")
    judge_iwae_bound(student["extreme"], reference["extreme"], reference["extreme_log_weights"],
                     "iwae_bound on log-weights near -1040 and +460")
    expect_close(student["single"], reference["single"],
                 "iwae_bound of a single sample (S=1: the log-weight itself)")


@check(points=2, hint="broadcast mean and log_var to epsilon's (S, N, K); z = sample_gaussian; "
                      "log w = log p(x|z) + log N(z|0, I) - log N(z|mean, exp(log_var)), each "
                      "(S, N); then iwae_bound")
def log_likelihood_estimate(lab, rng):
    x = _digits("test")[:20]
    model = lab.vae.VAE(input_dim=64, latent_dim=3, hidden_units=(32,))
    assign_random_weights(model, rng)
    epsilon = rng.normal(size=(5, 20, 3)).astype("float32")
    return {"estimate": model.log_likelihood_estimate(x, epsilon=epsilon),
            "single": model.log_likelihood_estimate(x, epsilon=epsilon[:1])}


@log_likelihood_estimate.verdict
def _(student, reference):
    expect_close(student["estimate"], reference["estimate"],
                 "model.log_likelihood_estimate(x, epsilon) for S=5 samples of 20 digits "
                 "(fixed weights and noise)")
    expect_close(student["single"], reference["single"],
                 "model.log_likelihood_estimate with S=1 (the one-sample ELBO of each digit)")


IWAE_SAMPLES = (1, 10, 100)
IWAE_TRAIN_STEPS = 300
# The reference's estimates move by a few hundredths of a nat between machines; a bound that
# forgets a term or a log S is off by nats.
IWAE_MARGIN_NATS = 0.5


def fit_elbo_with_own_loop(model, x, rng, steps, batch_size=64, learning_rate=3e-3):
    """Train a Bernoulli VAE's encoder and decoder on the negative ELBO with this probe's own
    loop (one traced graph for all steps), so that a check of something else does not depend
    on the student's train_step."""
    import keras
    import tensorflow as tf
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = model.encoder.trainable_variables + model.decoder.trainable_variables
    optimizer.build(variables)
    batches = tf.constant(x[rng.integers(len(x), size=(steps, batch_size))])
    noise = tf.constant(rng.normal(size=(steps, batch_size, model.latent_dim)).astype("float32"))

    @tf.function
    def train():
        for i in tf.range(steps):
            batch, epsilon = batches[i], noise[i]
            with tf.GradientTape() as tape:
                mean, log_var = model.encoder(batch)
                logits = model.decoder(mean + tf.exp(0.5 * log_var) * epsilon)
                reconstruction = tf.reduce_sum(tf.nn.softplus(logits) - batch * logits, axis=-1)
                kl = 0.5 * tf.reduce_sum(mean ** 2 + tf.exp(log_var) - 1.0 - log_var, axis=-1)
                loss = tf.reduce_mean(reconstruction + kl)
            optimizer.apply(tape.gradient(loss, variables), variables)

    train()


@check(points=2, timeout=40,
       hint="on a trained model the bound must rise with S and stay at or above the ELBO: "
            "logsumexp over the samples minus log S, with log q(z|x) subtracted")
def iwae_tightens_with_more_samples(lab, rng):
    x_train, x_test = _digits("train"), _digits("test")[:200]
    model = lab.vae.VAE(input_dim=64, latent_dim=4, hidden_units=(64,))
    fit_elbo_with_own_loop(model, x_train, rng, IWAE_TRAIN_STEPS)
    epsilon = rng.normal(size=(max(IWAE_SAMPLES), len(x_test), 4)).astype("float32")
    estimates = [float(np.mean(model.log_likelihood_estimate(x_test, epsilon=epsilon[:s])))
                 for s in IWAE_SAMPLES]
    elbo = -negative_elbo_np(model.encoder, model.decoder, x_test, epsilon[:16])[0]
    return {"estimates": estimates, "elbo": elbo}


def iwae_gain(output):
    """How much the S = 100 estimate rises above the S = 1 one (the ELBO), in nats."""
    return float(output["estimates"][-1] - output["estimates"][0])


@iwae_tightens_with_more_samples.verdict
def _(student, reference):
    estimates = [float(v) for v in student["estimates"]]
    expect_true(all(np.isfinite(estimates)), f"the mean log_likelihood_estimate for S = "
                f"{list(IWAE_SAMPLES)} is {estimates}: NaN or inf")
    found = ", ".join(f"S={s}: {v:.2f}" for s, v in zip(IWAE_SAMPLES, estimates))
    wanted = ", ".join(f"S={s}: {v:.2f}" for s, v in zip(IWAE_SAMPLES, reference["estimates"]))
    where = (f"mean log_likelihood_estimate over 200 held-out digits of a trained VAE: {found} "
             f"nats (ELBO {student['elbo']:.2f}); the reference: {wanted} "
             f"(ELBO {reference['elbo']:.2f})")
    expect_true(abs(estimates[0] - student["elbo"]) <= IWAE_MARGIN_NATS,
                f"with S=1 the estimate must be the one-sample ELBO: {where}")
    gain, reference_gain = iwae_gain(student), iwae_gain(reference)
    expect_true(all(b >= a - 0.01 for a, b in zip(estimates, estimates[1:]))
                and gain >= 0.5 * reference_gain,
                f"the bound must rise with S, from the ELBO towards log p(x): {where}. Is it "
                "the log of the MEAN weight (logsumexp - log S), not the mean log-weight?")
    expect_true(abs(estimates[-1] - reference["estimates"][-1]) <= IWAE_MARGIN_NATS,
                f"with S={IWAE_SAMPLES[-1]} the estimate is more than {IWAE_MARGIN_NATS} nats "
                f"from the reference's: {where}")


# ---------------------------------------------------------------------------------------------
# 7. The conditional VAE
# ---------------------------------------------------------------------------------------------

CVAE_TRAIN = {"latent_dim": 2, "hidden_units": (64,), "learning_rate": 3e-3, "batch_size": 64,
              "epochs": 6, "per_class": 50}
# Over training seeds the reference's samples land on the requested digit 86-96 % of the
# time (by nearest class mean); a decoder blind to the label lands near 10 %.
CVAE_ACCURACY_MARGIN = 0.25


def conditioned_network(network, labels, num_classes):
    """network applied to [inputs, one-hot labels], concatenated in numpy (not by the student)."""
    one_hot = np.eye(num_classes, dtype="float32")[labels]
    return lambda inputs: network(np.concatenate([np.asarray(inputs, "float32"), one_hot], 1))


@check(points=1, hint="tf.one_hot(labels, num_classes) in the dtype of inputs, appended after "
                      "the inputs with tf.concat(..., axis=-1)")
def concat_one_hot(lab, rng):
    inputs = rng.normal(size=(7, 5)).astype("float32")
    labels = rng.integers(0, 4, size=7).astype("int32")
    return {"out": lab.vae.concat_one_hot(inputs, labels, 4)}


@concat_one_hot.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"],
                 "concat_one_hot(inputs (7, 5), labels (7,), num_classes=4)")


@check(points=2, reference=False,
       hint="encode/decode run the encoder on concat_one_hot(x, labels, num_classes) and the "
            "decoder on concat_one_hot(z, labels, num_classes); loss_terms and call are the "
            "VAE's with the labels passed on")
def cvae_loss_terms(lab, rng):
    x, labels = digits_with_labels("test")
    x, labels = x[:32], labels[:32]
    model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=3, num_classes=10,
                                   hidden_units=(32,), beta=0.5)
    epsilon = rng.normal(size=(32, 3)).astype("float32")
    encoder = conditioned_network(model.encoder, labels, 10)
    decoder = conditioned_network(model.decoder, labels, 10)
    _, reconstruction, kl = negative_elbo_np(encoder, decoder, x, epsilon[None])
    return {"terms": scalars(model.loss_terms(x, labels, epsilon)),
            "expected": [reconstruction + 0.5 * kl, reconstruction, kl],
            "call": model((x, labels)), "expected_call": decoder(encoder(x)[0])}


@cvae_loss_terms.verdict
def _(student, _reference):
    expected = {"shapes": json.dumps([[], [], []]),
                "values": [np.array([v]) for v in student["expected"]]}
    judge_elbo_terms(student["terms"], expected, "ConditionalVAE(beta=0.5).loss_terms(x, labels, "
                     "epsilon) (against the negative ELBO of its own encoder and decoder, each "
                     "fed [inputs, one_hot(labels)])")
    expect_close(student["call"], student["expected_call"],
                 "ConditionalVAE((x, labels)): the decoder on [posterior mean, one_hot(labels)]")


@check(points=1, reference=False,
       hint="sample(labels, seed): one z ~ N(0, I) per label, decoded WITH that label; "
            "get_config adds num_classes to the VAE's config")
def cvae_sample_and_round_trip(lab, rng):
    import keras
    x, _ = digits_with_labels("test")
    x, labels = x[:8], np.array([0, 1, 2, 3, 0, 1, 2, 3], dtype="int32")
    model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=3, num_classes=4, hidden_units=(16,))
    assign_random_weights(model, rng, scale=0.5)
    out = {"samples": model.sample(labels, seed=3), "again": model.sample(labels, seed=3),
           "other_labels": model.sample(labels[::-1].copy(), seed=3)}
    path = str(lab.tmpdir / "cvae.keras")
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)
    except Exception as error:  # the message goes to the student
        return {**out, "error": f"{type(error).__name__}: {error}"[:600]}
    return {**out, "error": "", "class": type(loaded).__name__,
            "config": json.dumps(model.get_config(), sort_keys=True, default=str),
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
            "outputs": model((x, labels)), "loaded_outputs": loaded((x, labels)),
            "loaded_samples": loaded.sample(labels, seed=3)}


@cvae_sample_and_round_trip.verdict
def _(student, _reference):
    samples = expect_shape(student["samples"], (8, 64), "ConditionalVAE.sample(labels (8,))")
    expect_true(np.all((samples >= 0) & (samples <= 1)), "ConditionalVAE.sample returns pixel "
                f"probabilities in [0, 1] (got {samples.min():.3g} to {samples.max():.3g})")
    expect_close(student["again"], samples, "ConditionalVAE.sample(labels, seed=3) called twice")
    differ = np.abs(np.asarray(student["other_labels"]) - samples).max(axis=1) > 1e-6
    expect_true(differ.all(), "ConditionalVAE.sample gives the same sample for another label "
                f"with the same seed (in {int((~differ).sum())} of 8 rows): the decoder must be "
                "told the requested label")
    if student["error"]:
        raise CheckFailed("keras.saving.load_model could not rebuild the saved "
                          "ConditionalVAE(latent_dim=3, num_classes=4): " + student["error"])
    expect_true(student["class"] == "ConditionalVAE",
                f"load_model returned a {student['class']}, not a ConditionalVAE")
    if student["loaded_config"] != student["config"]:
        before, after = json.loads(student["config"]), json.loads(student["loaded_config"])
        differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise CheckFailed(f"the reloaded ConditionalVAE's config differs in {differ}: "
                          "get_config must return every constructor argument")
    expect_close(student["loaded_outputs"], student["outputs"],
                 "ConditionalVAE((x, labels)) after save and load", against="the outputs before saving")
    expect_close(student["loaded_samples"], samples, "ConditionalVAE.sample after save and load",
                 against="the samples before saving")


def digits_with_labels(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)


def nearest_class_mean(images, class_means):
    """The class whose mean training image is nearest to each image: (N,) ints."""
    distances = ((np.asarray(images)[:, None, :] - np.asarray(class_means)[None]) ** 2).sum(-1)
    return distances.argmin(axis=1)


@check(points=3, timeout=40,
       hint="a conditional VAE trained with fit(x, labels) must generate the digit it is asked "
            "for: the decoder sees [z, one_hot(label)], and sample decodes each requested label")
def cvae_generates_requested_digits(lab, rng):
    budget = CVAE_TRAIN
    (x_train, y_train), (x_test, y_test) = (digits_with_labels(s) for s in ("train", "test"))
    model = lab.vae.ConditionalVAE(input_dim=64, latent_dim=budget["latent_dim"],
                                   num_classes=10, hidden_units=budget["hidden_units"])
    compile_for_training(model, budget["learning_rate"])
    model.fit(x_train, y_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
              shuffle=True, verbose=0)
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    after, reconstruction, kl = negative_elbo_np(conditioned_network(model.encoder, y_test, 10),
                                                 conditioned_network(model.decoder, y_test, 10),
                                                 x_test, epsilon)
    requested = np.repeat(np.arange(10), budget["per_class"]).astype("int32")
    samples = np.asarray(model.sample(requested, seed=int(rng.integers(1 << 30))))
    class_means = np.stack([x_train[y_train == d].mean(axis=0) for d in range(10)])
    return {"after": after, "reconstruction": reconstruction, "kl": kl,
            "requested": requested, "generated": nearest_class_mean(samples, class_means),
            "samples_in_range": bool(np.all((samples >= 0) & (samples <= 1)))}


def requested_digit_accuracy(output):
    """The fraction of samples whose nearest class mean is the digit requested."""
    return float(np.mean(np.asarray(output["generated"]) == np.asarray(output["requested"])))


@cvae_generates_requested_digits.verdict
def _(student, reference):
    expect_true(np.isfinite(student["after"]), "after training, the held-out negative ELBO is "
                f"{student['after']} (NaN or inf): the training diverged")
    expect_true(student["samples_in_range"], "ConditionalVAE.sample must return pixel "
                "probabilities in [0, 1]")
    accuracy, target = requested_digit_accuracy(student), requested_digit_accuracy(reference)
    requested, generated = np.asarray(student["requested"]), np.asarray(student["generated"])
    per_digit = ", ".join(f"{d}: {np.mean(generated[requested == d] == d):.0%}"
                          for d in range(10))
    expect_true(accuracy >= target - CVAE_ACCURACY_MARGIN,
                f"after training, {accuracy:.0%} of the samples look like the digit requested "
                f"(nearest class mean; per digit {per_digit}); the reference reaches "
                f"{target:.0%}, the bar is {target - CVAE_ACCURACY_MARGIN:.0%}. Is the label "
                "passed to the decoder, in training and in sample?")
    expect_at_most(student["after"], reference["after"] + MARGIN_NATS,
                   f"the held-out negative ELBO of the trained ConditionalVAE (reconstruction "
                   f"{student['reconstruction']:.2f} + KL {student['kl']:.2f}; the reference: "
                   f"{reference['reconstruction']:.2f} + {reference['kl']:.2f})", unit=" nats")
