"""Public checks of lab14b_vqvae, part 2: the VQ-VAE model (vq.py). Its train_step on the
checks' stand-ins, which record what it hands them; decode_codes; one relative training
check of the whole VQ-VAE on the digits."""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab14b_vqvae.probes import (
    LOG_NAMES,
    VQ,
    Record,
    code_usage_perplexity,
    digit_images,
    judge_finite,
    judge_logged,
    train_step_stand_ins,
)
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_equal,
    expect_shape,
    expect_true,
)

# The relative training check: the student's VQ-VAE (EMA codebook) on the digits.
VQ_TRAIN = {"num_codes": 16, "code_dim": 4, "filters": 16, "ema_decay": 0.9,
            "learning_rate": 5e-3, "batch_size": 64, "steps": 300}
# Over 21 training seeds (the public one included) the reference's test MSE spans
# 0.0107-0.0148 and its code perplexity 14.0-15.7 (of 16): a correct VQ-VAE that takes
# another path through the near-ties of its codes lands anywhere in that band (tracing the
# step costs more than its 300 steps; 200 steps spread the seeds much wider). Without the
# EMA step it ends at 0.021-0.024 with 7-9 codes in use; without the straight-through
# gradient near 0.08 with one code.
MSE_MARGIN = 0.006
PERPLEXITY_MARGIN = 2.5


def stand_in_steps(lab, rng, ema_decay):
    """Two eager train_steps of a small VQVAE (6 codes of 3, beta 0.3, SGD at 0.1) on the
    checks' stand-ins, from weights set at random; what it logged and handed the stand-ins,
    and its weights after."""
    import keras
    import tensorflow as tf
    record = Record()
    with standing_in(lab.vq, **train_step_stand_ins(record)):
        model = lab.vq.VQVAE((8, 8, 1), num_codes=6, code_dim=3, filters=4, beta=0.3,
                             ema_decay=ema_decay)
        assign_random_weights(model, rng, 0.4)
        model.quantizer.codebook.assign(rng.normal(scale=0.5, size=(6, 3)).astype("float32"))
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        logs, encoded, weights = [], [], {}
        for step in range(2):
            x = rng.uniform(size=(8, 8, 8, 1)).astype("float32")
            encoded.append(np.asarray(model.encoder(x)))
            record.step()
            logs.append({k: float(v) for k, v in model.train_step(tf.constant(x)).items()})
            for part, layer in (("encoder", model.encoder), ("decoder", model.decoder),
                                ("codebook", model.quantizer)):
                weights[f"{part}_{step + 1}"] = np.concatenate(
                    [np.ravel(np.asarray(w)) for w in layer.weights])
    return {"logs": json.dumps(logs), "encoded": encoded, **weights, **record.as_data()}


def judge_stand_in_steps(student, reference, what, ema):
    logs = json.loads(student["logs"])
    expect_true(sorted(logs[0]) == LOG_NAMES, f"{what}.train_step returned {sorted(logs[0])}, "
                f"expected the trackers' results {LOG_NAMES}")
    for step, z in enumerate(student["encoded"]):
        when = f"(step {step + 1})"
        for name in ("lookup_z", "straight_through", "codebook_loss", "commitment_loss"):
            expect_true(len(student[name][step]) > 0, f"{what}.train_step never calls "
                        f"{name.replace('lookup_z', 'quantizer.lookup')} {when}")
        expect_close(student["lookup_z"][step][0], z, f"the z that {what}.train_step hands "
                     f"quantizer.lookup {when}", against="the encoder's output", atol=1e-5)
        q = student["lookup_q"][step][0]
        for name in ("straight_through", "codebook_loss", "commitment_loss"):
            for got in student[name][step]:
                if np.allclose(got[0], q, atol=1e-5) and np.allclose(got[1], z, atol=1e-5):
                    raise CheckFailed(f"{what}.train_step calls {name}(q, z): the arguments "
                                      "are the other way round, (z, q)")
                expect_close(got[0], z, f"the first argument of {name} in {what}.train_step "
                             f"{when}", against="the encoder's output z", atol=1e-5)
                expect_close(got[1], q, f"the second argument of {name} in {what}.train_step "
                             f"{when}", against="the q of quantizer.lookup(z)", atol=1e-5)
        codes = student["perplexity_codes"][step]
        expect_true(len(codes) > 0 and all(k == 6 for k in codes), f"{what}.train_step calls "
                    f"perplexity with num_codes {codes} (-1: none) {when}: once, "
                    "perplexity(indices, self.num_codes), 6 here")
        for beta in student["betas"][step]:
            expect_true(abs(beta - 0.3) < 1e-6, f"{what}.train_step passes beta = {beta} to "
                        "commitment_loss (-1: none); pass self.beta (0.3 here)")
        updates = student["update_z"][step]
        if not ema:
            expect_true(not updates, f"{what} without an EMA codebook called "
                        f"quantizer.update_codebook {len(updates)} times in a step: only when "
                        "quantizer.uses_ema")
            continue
        expect_true(len(updates) == 1, f"a train_step of {what} called "
                    f"quantizer.update_codebook {len(updates)} times: once per step, after the "
                    "optimizer's")
        expect_close(updates[0], z, f"the z that {what}.train_step hands update_codebook "
                     f"{when}", against="the encoder's output of this step's forward pass "
                     "(before the optimizer moved the encoder)", atol=1e-5)
        expect_equal(student["update_indices"][step][0], student["lookup_indices"][step][0],
                     f"the indices that {what}.train_step hands update_codebook {when}")
    advice = {"encoder": "the encoder's gradient comes from the reconstruction through "
                         "straight_through(z, q) and from commitment_loss: is the decoder fed "
                         "straight_through(z, q), and are all three losses in the loss?",
              "decoder": "the decoder learns from the reconstruction loss alone: the mean "
                         "squared error over every pixel, decoded from straight_through(z, q)",
              "codebook": "the codebook moves by codebook_loss (in the loss) or, with an EMA "
                          "codebook, by update_codebook after the optimizer's step"}
    # The first step alone tells the terms apart: only the reconstruction moves the decoder;
    # the reconstruction (through the estimator) and the commitment loss the encoder.
    for step in (1, 2):
        for part in ("decoder", "encoder", "codebook"):
            expect_close(student[f"{part}_{step}"], reference[f"{part}_{step}"], f"the "
                         f"{part}'s weights after {step} train_step{'s' if step > 1 else ''} "
                         f"of {what} (SGD at 0.1, the checks' stand-ins)", rtol=1e-4,
                         atol=1e-5, against=f"the reference's: {advice[part]}")
    for step, (got, expected) in enumerate(zip(logs, json.loads(reference["logs"]))):
        for name in LOG_NAMES:
            expect_true(np.isclose(got[name], expected[name], rtol=1e-4, atol=1e-6),
                        f"{what}.train_step logged {name} = {got[name]:.6g} at step "
                        f"{step + 1}, the reference {expected[name]:.6g} (the running mean of "
                        "the batch values: reconstruction is the mean squared error over "
                        "every pixel, loss = reconstruction + codebook + commitment)")


@check(points=2, uses=VQ, task="`VQVAE.train_step`",
       hint="z = encoder(x); q, indices = self.quantizer.lookup(z); x_hat = decoder("
            "straight_through(z, q)); loss = mean squared error + codebook_loss(z, q) + "
            "commitment_loss(z, q, self.beta); scale, apply; then update_codebook(z, indices) "
            "if the quantizer uses EMA")
def vqvae_train_step(lab, rng):
    """Two train_steps of a VQVAE with the checks' stand-ins for the quantiser, the
    estimator, the losses and the perplexity (each of known behaviour, recording its
    arguments), with a trained codebook and with an EMA codebook: what it hands each of
    them, the weights after (SGD at 0.1) and the logs, against the reference's."""
    return {"plain": stand_in_steps(lab, rng, None), "ema": stand_in_steps(lab, rng, 0.7)}


@vqvae_train_step.verdict
def _(student, reference):
    judge_stand_in_steps(student["plain"], reference["plain"], "VQVAE(ema_decay=None)", False)
    judge_stand_in_steps(student["ema"], reference["ema"], "VQVAE(ema_decay=0.7)", True)


@check(points=1, uses=VQ, task="`VQVAE.decode_codes`",
       hint="tf.gather(self.quantizer.codebook, codes) gives (N, h, w, D); decode that")
def decode_codes(lab, rng):
    """A VQVAE with random weights: decode_codes of a (3, 4, 4) grid of codes against the
    decoder applied to the codebook rows (numpy indexing)."""
    model = lab.vq.VQVAE((8, 8, 1), num_codes=6, code_dim=3, filters=4)
    assign_random_weights(model, rng, 0.4)
    codes = rng.integers(0, 6, size=(3, 4, 4)).astype("int32")
    rows = np.asarray(model.quantizer.codebook)[codes]
    return {"images": np.asarray(model.decode_codes(codes)),
            "expected": np.asarray(model.decoder(rows))}


@decode_codes.verdict
def _(student, _reference):
    images = expect_shape(student["images"], (3, 8, 8, 1), "decode_codes(codes) for codes "
                          "(3, 4, 4)")
    expect_close(images, student["expected"], "decode_codes(codes)", atol=1e-5,
                 against="decoder(codebook[codes])")


@check(points=3, timeout=60, uses=VQ, task="`VQVAE.train_step` (and every part of `vq.py`)",
       hint="the whole VQ-VAE, trained with fit() for the budget of the handout: test MSE and "
            "code perplexity like the reference's")
def vqvae_trains_on_digits(lab, rng):
    """The student's VQ-VAE (16 codes of 4 numbers on a 4x4 grid, EMA codebook, decay 0.9),
    its codebook started from the encoder's outputs, trained on the digits for the budget
    below: test MSE within 0.006 of the reference's and below the mean image's, code
    perplexity on the test digits within 2.5 of the reference's; fit logs the five
    trackers."""
    import keras
    budget = VQ_TRAIN
    train, test = digit_images()
    model = lab.vq.VQVAE((8, 8, 1), num_codes=budget["num_codes"], code_dim=budget["code_dim"],
                         filters=budget["filters"], ema_decay=budget["ema_decay"])
    model.initialize(train[:256], seed=int(rng.integers(1000)))
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  steps_per_execution=budget["steps"])
    model.optimizer.build(model.trainable_variables)
    order = rng.integers(0, len(train), size=budget["steps"] * budget["batch_size"])
    history = model.fit(train[order], batch_size=budget["batch_size"], epochs=1, shuffle=False,
                        verbose=0).history
    reconstructions = np.asarray(model(test), dtype=np.float64)
    codes = np.asarray(model.encode_codes(test))
    return {"mse": float(np.mean((reconstructions - test) ** 2)),
            "perplexity": code_usage_perplexity(codes, budget["num_codes"]),
            "mean_image_mse": float(np.mean((test - train.mean(axis=0)) ** 2)),
            "logged": json.dumps(sorted(history))}


@vqvae_trains_on_digits.verdict
def _(student, reference):
    judge_logged(student["logged"], LOG_NAMES, "VQVAE")
    mse, perplexity = student["mse"], student["perplexity"]
    judge_finite(mse, "the VQ-VAE's test MSE")
    expect_at_least(perplexity, reference["perplexity"] - PERPLEXITY_MARGIN, "the perplexity "
                    "of the codes the trained VQ-VAE gives the test digits (the reference's: "
                    f"{reference['perplexity']:.2f} of 16; few codes in use is a collapse: "
                    "does the encoder get the decoder's gradient, does the EMA step move the "
                    "chosen codes?)")
    expect_at_most(mse, student["mean_image_mse"], "the VQ-VAE's test MSE, against the mean "
                   "training image's (a decoder that ignores the codes)")
    expect_at_most(mse, reference["mse"] + MSE_MARGIN, f"the VQ-VAE's test MSE (the reference "
                   f"reaches {reference['mse']:.4f} with the same training)")
