"""Public checks of lab10_autoencoders, part 3: the denoising autoencoder and latent-space
interpolation (autoencoders.py).

The denoising checks wrap a small Keras autoencoder of their own and use the checks' own
`corrupt`, so they judge the student's DenoisingAutoencoder alone. Its train_step is
judged twice: step by step (three SGD steps on a fixed stand-in loss, behind a
LossScaleOptimizer, must move the weights exactly as the reference's, and fit must log the
running mean of the batch losses) and by what a trained denoiser does. The interpolation
checks use the checks' own `interpolate` and a non-linear stand-in autoencoder.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab10_autoencoders.probes import (
    DENOISING,
    DENOISING_MSE_FACTOR,
    MODELS,
    corrupt_standin,
    digits,
    interpolate_standin,
    judge_path,
    judge_round_trip,
    mse,
    probe_autoencoder,
    round_trip,
    training_data,
)
from autograder.verdicts import expect_at_most, expect_close, expect_shape, expect_true


@check(points=1, uses=MODELS, task="`corrupt`", hint="x_noisy = clip(x + noise_stddev * epsilon, 0, 1)")
def corrupt(lab, rng):
    """Given noise on flat inputs and on images: x + σ ε, clipped to [0, 1]."""
    x = rng.random(size=(6, 10)).astype("float32")
    epsilon = rng.normal(size=(6, 10)).astype("float32")
    return {"x_noisy": lab.autoencoders.corrupt(x, 0.4, epsilon),
            "images": lab.autoencoders.corrupt(x.reshape(6, 5, 2, 1), 0.1,
                                               epsilon.reshape(6, 5, 2, 1))}


@corrupt.verdict
def _(student, reference):
    x_noisy = expect_shape(student["x_noisy"], (6, 10), "corrupt(x, 0.4, epsilon) for x (6, 10)")
    expect_true(np.all((x_noisy >= 0) & (x_noisy <= 1)), "corrupt must clip to the pixel range "
                f"[0, 1], got values from {x_noisy.min():.3g} to {x_noisy.max():.3g}")
    expect_close(x_noisy, reference["x_noisy"], "corrupt(x, 0.4, epsilon)")
    expect_close(student["images"], reference["images"], "corrupt(x, 0.1, epsilon) on images")


@check(points=2, uses=MODELS, reference=False, task="`DenoisingAutoencoder.denoising_loss`",
       hint="corrupt x with the given epsilon, run the autoencoder on the NOISY input, and take "
            "the MSE against the CLEAN x")
def denoising_loss(lab, rng):
    """For given noise, the MSE of the wrapped model's reconstruction of x̃ against the clean
    x (not against x̃, and not of x itself)."""
    x = digits("test")[:32]
    epsilon = rng.normal(size=x.shape).astype("float32")
    autoencoder = probe_autoencoder()
    model = lab.autoencoders.DenoisingAutoencoder(autoencoder, noise_stddev=0.5)
    noisy = np.asarray(corrupt_standin(x, 0.5, epsilon))
    with standing_in(lab.autoencoders, corrupt=corrupt_standin):
        loss = model.denoising_loss(x, epsilon)
    return {"loss": loss, "clean_target": mse(autoencoder(noisy), x),
            "noisy_target": mse(autoencoder(noisy), noisy), "no_noise": mse(autoencoder(x), x)}


@denoising_loss.verdict
def _(student, _reference):
    what = "DenoisingAutoencoder(autoencoder, noise_stddev=0.5).denoising_loss(x, epsilon)"
    loss = expect_shape(student["loss"], (), f"{what} (one number: the mean over the batch)")
    for mistake, message in (("noisy_target", "the target must be the CLEAN x, not the noisy "
                              "input"), ("no_noise", "the autoencoder must see the corrupted x")):
        if np.isclose(loss, student[mistake], rtol=1e-4) \
                and not np.isclose(loss, student["clean_target"], rtol=1e-4):
            raise CheckFailed(f"{what} is {float(loss):.5f}: {message}")
    expect_close(np.float32(loss), np.float32(student["clean_target"]),
                 f"{what}, against the MSE of autoencoder(clip(x + 0.5 epsilon, 0, 1)) and x",
                 rtol=1e-4)


STEP = {"learning_rate": 0.5, "batch_size": 32, "batches": 3}


@check(points=2, uses=MODELS, task="`DenoisingAutoencoder.train_step`",
       hint="train_step: loss = self.denoising_loss(x) inside a GradientTape; tape.gradient of "
            "self.optimizer.scale_loss(loss) w.r.t. self.trainable_variables; "
            "self.optimizer.apply; then self.trackers.update(loss=loss) (never reset it)")
def denoising_train_step_exact(lab, rng):
    """Three SGD steps (wrapped in a LossScaleOptimizer, as under mixed precision) on a fixed
    stand-in loss: the weights move as the reference's do, and `fit` logs after each batch the
    mean of the batch losses so far."""
    import keras
    import tensorflow as tf

    from autograder.check_helpers import assign_random_weights, snapshot
    size = STEP["batch_size"]
    x = digits("train")[:size * STEP["batches"]]
    autoencoder = probe_autoencoder(code_dim=4, hidden=16)
    assign_random_weights(autoencoder, rng)
    model = lab.autoencoders.DenoisingAutoencoder(autoencoder, noise_stddev=0.3)

    def stand_in_loss(inputs, epsilon=None):
        # Not the denoising loss: the mean absolute error of the clean reconstruction, free
        # of noise, so the step is deterministic: the check judges the step, not the loss.
        inputs = tf.cast(inputs, "float32")
        return tf.reduce_mean(tf.abs(tf.cast(autoencoder(inputs), "float32") - inputs))
    model.denoising_loss = stand_in_loss
    optimizer = keras.optimizers.SGD(STEP["learning_rate"])
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(optimizer))
    before = snapshot(autoencoder.trainable_variables)
    losses, logged = [], []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: losses.append(
            float(stand_in_loss(x[batch * size:(batch + 1) * size]))),
        on_train_batch_end=lambda batch, logs: logged.append(
            float(np.asarray((logs or {}).get("loss", np.nan)))))
    history = model.fit(x, batch_size=size, epochs=1, shuffle=False, verbose=0,
                        callbacks=[record]).history
    after = snapshot(autoencoder.trainable_variables)
    return {"update": np.concatenate([(a - b).ravel() for a, b in zip(after, before)]),
            "losses": losses, "batch_logs": logged, "logged": json.dumps(sorted(history)),
            "epoch_log": float(np.asarray(history.get("loss", [np.nan])[-1]))}


def judge_exact_steps(student, reference, what):
    """The verdict of denoising_train_step_exact: the updates against the reference's, the
    logged losses against the running means of the batch losses."""
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return "
                "self.trackers.results(), that is {'loss': ...}")
    update, expected = (np.asarray(r["update"], np.float64) for r in (student, reference))
    moved, wanted = float(np.linalg.norm(update)), float(np.linalg.norm(expected))
    expect_true(moved > 0, f"three SGD steps of {what} changed no weight: are the gradients "
                "taken inside the tape and applied with self.optimizer.apply?")
    scale = 2.0 ** 15   # a LossScaleOptimizer's initial loss scale
    # A few steps move the reference off its start, so the ratio is near, not at, the scale.
    if scale / 10 < wanted / moved < scale * 10:
        raise CheckFailed(f"three SGD steps of {what} behind a LossScaleOptimizer moved the "
                          f"weights {wanted / moved:.0f} times less than the reference's: the gradient "
                          "must be taken of self.optimizer.scale_loss(loss), not of the loss "
                          "(under mixed precision the optimizer divides it by the loss scale)")
    expect_close(update.astype(np.float32), expected.astype(np.float32),
                 f"the weight updates of three SGD steps of {what} on a fixed stand-in loss "
                 f"(the norm of the update: {moved:.4g}, the reference's {wanted:.4g})",
                 rtol=1e-3, atol=1e-6)
    losses = np.asarray(student["losses"], np.float64)
    running = np.cumsum(losses) / np.arange(1, len(losses) + 1)
    logs = np.asarray(student["batch_logs"], np.float64)
    if logs.shape == losses.shape and np.allclose(logs, losses, rtol=1e-5) \
            and not np.allclose(logs, running, rtol=1e-5):
        raise CheckFailed(f"after each batch, fit logs that batch's loss ({np.round(logs, 5)}), "
                          f"not the mean so far ({np.round(running, 5)}): update the tracker "
                          "and return its result(); never reset it in a step (Keras resets it "
                          "at each epoch)")
    expect_close(logs.astype(np.float32), running.astype(np.float32),
                 "the loss fit logs after each of 3 batches, against the mean of the batch "
                 "losses so far", rtol=1e-5)
    expect_close(np.float32(student["epoch_log"]), np.float32(losses.mean()),
                 "the loss fit logs for the epoch, against the mean of its 3 batch losses",
                 rtol=1e-5)


denoising_train_step_exact.verdict(
    lambda s, r: judge_exact_steps(s, r, "DenoisingAutoencoder.train_step"))


@check(points=2, uses=MODELS, timeout=40, task="`DenoisingAutoencoder` (training)",
       hint="train_step: denoising_loss inside a GradientTape, optimizer.scale_loss, "
            "tape.gradient w.r.t. self.trainable_variables, optimizer.apply, then the tracker; "
            "must denoise within 15% of the reference")
def denoising_train_step(lab, rng):
    """σ = 0.3, Adam 1e-2, 300 steps of 64: `fit` logs `loss`; the test MSE of denoised noisy
    digits against the clean ones within 15 % of the reference's; `.keras` round trip."""
    import keras
    x_train, x_test = digits("train"), digits("test")
    noisy_test = np.asarray(corrupt_standin(x_test, DENOISING["noise_stddev"],
                                            rng.normal(size=x_test.shape)))
    model = lab.autoencoders.DenoisingAutoencoder(
        probe_autoencoder(code_dim=DENOISING["code_dim"]), noise_stddev=DENOISING["noise_stddev"])
    model.compile(optimizer=keras.optimizers.Adam(DENOISING["learning_rate"]),
                  steps_per_execution=100)
    before = mse(model(noisy_test), x_test)
    with standing_in(lab.autoencoders, corrupt=corrupt_standin):
        history = model.fit(training_data(x_train, int(rng.integers(1 << 30)),
                                          DENOISING["batch_size"], paired=False),
                            steps_per_epoch=DENOISING["steps"], epochs=1, verbose=0).history
    return {"before": before, "after": mse(model(noisy_test), x_test),
            "noisy": mse(noisy_test, x_test), "logged": json.dumps(sorted(history)),
            "round_trip": round_trip(lab, model, noisy_test[:16], "denoising")}


@denoising_train_step.verdict
def _(student, reference):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return "
                "self.trackers.results(), that is {'loss': ...}")
    after = student["after"]
    expect_true(np.isfinite(after), f"after training, the denoiser's test MSE is {after}")
    expect_at_most(after, DENOISING_MSE_FACTOR * reference["after"],
                   "the test MSE between the denoised noisy test digits and the clean ones "
                   f"(the noisy digits themselves: {student['noisy']:.4f}; before training "
                   f"{student['before']:.4f}; the reference after training: "
                   f"{reference['after']:.4f})")
    judge_round_trip(student["round_trip"], "DenoisingAutoencoder", "DenoisingAutoencoder")


# ---------------------------------------------------------------------------------------------
# Latent-space interpolation
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MODELS, task="`interpolate`",
       hint="t = np.linspace(0, 1, steps)[:, None]; codes = (1 - t) * code_start + t * code_end")
def interpolate(lab, rng):
    """Five evenly spaced codes from code_start to code_end, both included, in order."""
    start, end = (rng.normal(size=3).astype("float32") for _ in range(2))
    return {"codes": lab.autoencoders.interpolate(start, end, 5), "start": start, "end": end}


@interpolate.verdict
def _(student, reference):
    judge_path(student["codes"], reference["start"], reference["end"], reference["codes"],
               "interpolate(code_start, code_end, steps=5) for codes of size 3")


class CurvedMaps:
    """A stand-in autoencoder for (8, 8, 1) images whose encoder and decoder are NOT affine
    (tanh and sigmoid): blending pixels, or blending decoded images, then gives another path
    than decoding the blended codes."""

    def __init__(self, rng, code_dim=3):
        self.down = (rng.normal(size=(64, code_dim)) / 4).astype("float32")
        self.shift = rng.normal(size=code_dim).astype("float32")
        self.up = (2.0 * rng.normal(size=(code_dim, 64))).astype("float32")

    def encode(self, x):
        x = np.asarray(x, dtype=np.float32)
        return np.tanh(x.reshape(len(x), 64) @ self.down + self.shift)

    def decode(self, codes):
        codes = np.asarray(codes, dtype=np.float32)
        return (1.0 / (1.0 + np.exp(-codes @ self.up))).reshape(len(codes), 8, 8, 1)


@check(points=1, uses=MODELS, task="`interpolate_images`",
       hint="codes = autoencoder.encode(np.stack([x_start, x_end])); decode "
            "interpolate(codes[0], codes[1], steps)")
def interpolate_images(lab, rng):
    """With a non-linear stand-in autoencoder: the decoded straight line between the codes of
    x_start and x_end (not a blend of pixels, nor of decoded images)."""
    autoencoder = CurvedMaps(rng)
    x = digits("test", images=True)[:2]
    with standing_in(lab.autoencoders, interpolate=interpolate_standin):
        images = lab.autoencoders.interpolate_images(autoencoder, x[0], x[1], 4)
    ends = autoencoder.decode(autoencoder.encode(x))
    pixels = interpolate_standin(x[0].ravel(), x[1].ravel(), 4).reshape(4, 8, 8, 1)
    blend = interpolate_standin(ends[0].ravel(), ends[1].ravel(), 4).reshape(4, 8, 8, 1)
    return {"images": None if images is None else np.asarray(images, np.float32),
            "start": ends[0], "end": ends[1],
            "pixel_path": autoencoder.decode(autoencoder.encode(pixels)), "image_blend": blend}


@interpolate_images.verdict
def _(student, reference):
    what = "interpolate_images(autoencoder, x_start, x_end, steps=4) for (8, 8, 1) digits"
    images = student["images"]
    expect_true(images is not None, f"{what} returned None (is a `return` missing?)")
    for slip, message in (("pixel_path", "blends the PIXELS of x_start and x_end, then encodes "
                           "and decodes each blend: interpolate between the two CODES"),
                          ("image_blend", "blends the two decoded images: decode each point of "
                           "the line between the two codes instead")):
        if images.shape == reference[slip].shape and np.allclose(images, reference[slip],
                                                                 rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"{what} {message}")
    judge_path(images, reference["start"], reference["end"], reference["images"], what,
               names=("the reconstruction of x_start", "the reconstruction of x_end"))
