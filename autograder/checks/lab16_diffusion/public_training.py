"""Public checks of lab16_diffusion, part 4: the diffusion model (diffusion_model.py).

The model checks build DiffusionModel with the checks' own denoiser (probe_denoiser) and,
while they run, the checks' own schedule, loss, label dropout, guidance and EMA step in
place of the student's (model_stand_ins): they grade DiffusionModel's code alone, even
before the other files are done. The denoiser can record what train_step feeds it, so the
timesteps, noise, labels and logged loss of train_step are judged directly.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import largest_change, snapshot, tensor
from autograder.checks.lab16_diffusion.probes import (
    MODEL,
    Recorder,
    expect_close_naming,
    judge_training,
    linear_schedule_betas,
    model_stand_ins,
    numpy_schedule,
    probe_denoiser,
    train_diffusion,
)
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

# The training budget of diffusion_learns_moons, stated in the handout.
TRAIN = {"data": "moons", "num_steps": 50, "hidden_units": 64, "learning_rate": 3e-3,
         "batch_size": 128, "steps": 400, "ema_decay": 0.99}
# The recorded train_steps: STEPS batches of BATCH, T timesteps (linear schedule).
STEPS, BATCH, T = 20, 128, 25


# ---- The diffusion model (diffusion_model.py) -----------------------------------------------

@check(points=1, uses=MODEL, task="`ema_update`",
       hint="ema.assign(decay * ema + (1 - decay) * value) for each pair")
def ema_update(lab, rng):
    """Two EMA variables after one update with decay 0.9."""
    import keras
    ema = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    new = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    variables = [keras.Variable(value.astype(np.float32)) for value in ema]
    lab.diffusion_model.ema_update(variables, [tensor(v) for v in new], 0.9)
    return {"ema": ema, "new": new, "after": [np.asarray(v.numpy()) for v in variables]}


@ema_update.verdict
def _(student, reference):
    for index in range(2):
        ema, new = reference["ema"][index], reference["new"][index]
        expect_close_naming(student["after"][index], reference["after"][index],
                            f"EMA variable {index} after ema_update(ema, new, decay=0.9)", [
            (0.9 * new + 0.1 * ema, "swaps decay and 1 - decay: the average must keep 90 % of "
                                    "its old value and take 10 % of the new one"),
            (ema, "is unchanged: assign the new average to each EMA variable"),
            (new, "is the new value: the EMA must average, not copy")])


def recorded_training(lab, rng, num_classes=0, label_dropout=0.1):
    """STEPS eager train_steps on batches of BATCH (non-centred Gaussian points), with the
    checks' denoiser recording what train_step feeds it. Returns the batches, the labels,
    the records and what train_step logged."""
    import keras
    recorder = Recorder()
    with model_stand_ins(lab):
        model = lab.diffusion_model.DiffusionModel(
            probe_denoiser(16, num_classes, recorder=recorder), data_dim=2, num_steps=T,
            schedule="linear", num_classes=num_classes, label_dropout=label_dropout,
            ema_decay=0.9)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        recorder.active = True
        batches, labels, logged = [], [], []
        for _ in range(STEPS):
            x0 = (rng.normal(size=(BATCH, 2)) * [1.5, 0.5] + [0.5, -1.0]).astype(np.float32)
            y = rng.integers(0, max(num_classes, 1), size=BATCH).astype(np.int32)
            logs = model.train_step((tensor(x0), tensor(y, "int32")) if num_classes
                                    else tensor(x0))
            batches.append(x0)
            labels.append(y)
            logged.append({str(k): float(v) for k, v in logs.items()})
    return {"x0": batches, "labels": labels, "logged": logged,
            "x_t": [c[0] for c in recorder.calls], "t": [c[1] for c in recorder.calls],
            "predicted": [c[2] for c in recorder.calls],
            "seen_labels": [c[3] if c[3] is not None else np.zeros(0) for c in recorder.calls],
            "got_labels": [c[3] is not None for c in recorder.calls]}


def judge_one_call_per_step(student):
    calls = len(student["t"])
    expect_true(calls == STEPS, f"{STEPS} calls of train_step called the denoiser {calls} times: "
                "once per step, on the noised batch (through noise_prediction_loss)")


@check(points=2, uses=MODEL, reference=False, task="`DiffusionModel.train_step`",
       hint="t = keras.random.randint((batch,), 0, T, seed=self.noise) (maxval is exclusive: "
            "T, not T - 1), noise = keras.random.normal(tf.shape(x0), seed=self.noise), one of "
            "each per example; log the loss noise_prediction_loss returns")
def train_step_draws_timesteps_and_noise(lab, rng):
    """20 steps on batches of 128, T = 25: the denoiser sees one t per example, uniform on
    {0, ..., T - 1}, and x_t noised with fresh N(0, I) noise per example; the logged loss is
    the mean squared error of that step."""
    return recorded_training(lab, rng)


@train_step_draws_timesteps_and_noise.verdict
def _(student, _reference):
    judge_one_call_per_step(student)
    alpha_bars = numpy_schedule(linear_schedule_betas(T))["alpha_bars"]
    noises, losses = [], []
    for k, (x0, x_t, t, out) in enumerate(zip(student["x0"], student["x_t"], student["t"],
                                             student["predicted"])):
        t = np.asarray(t)
        if t.size == 1:
            raise CheckFailed(f"train_step passed one timestep (shape {t.shape}) for the whole "
                              f"batch of {BATCH}: draw one per example, shape (batch,)")
        t = expect_shape(t, (BATCH,), f"the t that train_step passes to the denoiser (step {k})")
        expect_true(np.all(t == np.round(t)), f"train_step passed t = {t[:4].tolist()} ...: "
                    "timesteps are integers")
        t = t.astype(np.int64)
        if t.min() < 0 or t.max() > T - 1:
            raise CheckFailed(f"train_step drew t = {int(t.max() if t.max() > T - 1 else t.min())}"
                              f" with T = {T}: timesteps run from 0 to T - 1")
        if len(np.unique(t)) == 1:
            raise CheckFailed(f"train_step drew the same t = {int(t[0])} for all {BATCH} examples "
                              "of a batch: draw one per example, shape (batch,)")
        a = alpha_bars[t][:, None]
        x_t = expect_shape(x_t, (BATCH, 2), f"the x_t the denoiser gets (step {k})")
        noise = (np.asarray(x_t, np.float64) - np.sqrt(a) * x0) / np.sqrt(1 - a)
        expect_finite(noise, "the noise in the x_t the denoiser gets")
        noises.append(noise)
        losses.append(float(np.mean((noise - np.asarray(out, np.float64)) ** 2)))
    drawn = np.concatenate([np.asarray(t, np.int64) for t in student["t"]])
    counts = np.bincount(drawn, minlength=T)
    if counts[T - 1] == 0 and counts[:T - 1].all():
        raise CheckFailed(f"train_step never drew t = T - 1 = {T - 1} in {drawn.size} draws: "
                          "keras.random.randint's maxval is exclusive, so draw randint((batch,), "
                          "0, T)")
    expected = drawn.size / T
    expect_true(np.all((counts > 0.5 * expected) & (counts < 1.5 * expected)),
                f"train_step drew the timesteps 0..{T - 1} between {counts.min()} and "
                f"{counts.max()} times each in {drawn.size} draws (about {expected:.0f} each "
                f"if uniform; t = {int(np.argmin(counts))} {counts.min()} times): t must be "
                "uniform on {0, ..., T - 1}")
    every = np.concatenate(noises)
    expect_true(abs(every.mean()) < 0.1 and abs(every.std() - 1) < 0.1,
                f"the noise in the x_t the denoiser gets has mean {every.mean():.3g} and std "
                f"{every.std():.3g}: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise "
                "with noise ~ N(0, I) of x0's shape")
    expect_true(all(noise.std(axis=0).min() > 0.5 for noise in noises),
                "train_step uses the same noise for every example of a batch: draw it with the "
                "batch's shape, keras.random.normal(tf.shape(x0))")
    same = max(abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) for a, b in zip(noises, noises[1:]))
    expect_true(same < 0.5, "train_step uses the same noise at every step: draw fresh noise "
                "each step, with seed=self.noise (a SeedGenerator)")
    logged = [logs.get("loss", np.nan) for logs in student["logged"]]
    first = logged[0]
    if losses[0] and abs(first / losses[0] - 2) < 0.01:
        raise CheckFailed(f"train_step logs {first:.5g}, twice the mean squared error "
                          f"{losses[0]:.5g} of its step: the loss is the MEAN over every example "
                          "and dimension (not a sum over the dimensions)")
    expect_close(np.float32(first), np.float32(losses[0]), "the loss train_step logs for its "
                 "first batch", against="mean((noise - predicted noise)^2) of that step",
                 rtol=1e-3, atol=1e-4)
    expect_close(np.float32(logged[-1]), np.float32(np.mean(losses)),
                 f"the loss train_step logs after {STEPS} steps",
                 against="the mean of the steps' losses (the tracker's running mean)",
                 rtol=1e-3, atol=1e-4)


@check(points=1, uses=MODEL, reference=False, task="`DiffusionModel.train_step`",
       hint="for a conditional model: labels = drop_labels(labels, keras.random.uniform((batch,), "
            "seed=self.noise), self.label_dropout, self.null_label), passed to the denoiser")
def train_step_drops_labels(lab, rng):
    """A conditional model (3 classes, label_dropout 0.3), 20 steps of 128: the denoiser sees
    the batch's labels, about 30 % of them replaced by the null label 3, per example."""
    return recorded_training(lab, rng, num_classes=3, label_dropout=0.3)


@train_step_drops_labels.verdict
def _(student, _reference):
    judge_one_call_per_step(student)
    expect_true(all(student["got_labels"]), "train_step of a conditional model calls the "
                "denoiser without labels: pass the (dropped-out) labels, self.run(self.denoiser, "
                "x_t, t, labels)")
    dropped = []
    for k, (given, seen) in enumerate(zip(student["labels"], student["seen_labels"])):
        seen = expect_shape(seen, (BATCH,), f"the labels the denoiser gets (step {k})")
        null = seen == 3
        kept = np.asarray(seen[~null]) == np.asarray(given[~null])
        expect_true(kept.all(), f"train_step changed labels to {seen[~null][~kept][:3].tolist()}"
                    ": a label is either kept or replaced by the null label num_classes = 3")
        dropped.append(null.mean())
    share = float(np.mean(dropped))
    if share == 0:
        raise CheckFailed("train_step never replaces a label by the null label (num_classes = "
                          "3) with label_dropout = 0.3: call drop_labels with self.label_dropout, "
                          "or the unconditional prediction that guidance needs is never trained")
    expect_true(abs(share - 0.3) < 0.06, f"train_step replaced {share:.1%} of the labels by the "
                "null label, with label_dropout = 0.3: drop each with probability "
                "self.label_dropout")
    expect_true(all(0 < d < 1 for d in dropped), "train_step drops the labels of a whole batch "
                "at once: one uniform draw per example, shape (batch,)")


@check(points=2, uses=MODEL, task="`DiffusionModel.train_step`", reference=False,
       hint="train_step: after optimizer.apply, ema_update(self.ema_denoiser.weights, "
            "self.denoiser.weights, self.ema_decay); the EMA's weights are not trainable")
def train_step_updates_ema(lab, rng):
    """One step with ema_decay 0.8: the EMA is 0.8 (EMA before) + 0.2 (weights after the
    optimizer step), and not trainable."""
    import keras
    with model_stand_ins(lab):
        model = lab.diffusion_model.DiffusionModel(probe_denoiser(16), data_dim=2, num_steps=25,
                                                   schedule="linear", ema_decay=0.8)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        for weight in model.ema_denoiser.weights:  # an EMA that is not a copy of the weights
            weight.assign(weight + rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
        online_before = snapshot(model.denoiser.weights)
        ema_before = snapshot(model.ema_denoiser.weights)
        logs = model.train_step(tensor(rng.normal(size=(64, 2))))
    return {"logs": {str(k): float(v) for k, v in logs.items()},
            "online_before": online_before, "online_after": snapshot(model.denoiser.weights),
            "ema_before": ema_before, "ema_after": snapshot(model.ema_denoiser.weights),
            "trainable": len(model.trainable_weights),
            "network_trainable": len(model.denoiser.trainable_weights)}


@train_step_updates_ema.verdict
def _(student, reference):
    expect_true("loss" in student["logs"] and np.isfinite(student["logs"]["loss"]),
                f"train_step returned {student['logs']}: expected a finite 'loss'")
    expect_true(student["trainable"] == student["network_trainable"],
                f"the model has {student['trainable']} trainable weights, its denoiser "
                f"{student['network_trainable']}: the EMA network must not be trainable")
    changed = largest_change(student["online_before"], student["online_after"])
    expect_true(changed > 0, "one train_step left the denoiser's weights unchanged: apply the "
                             "gradients with self.optimizer.apply")
    ema_moved = largest_change(student["ema_before"], student["ema_after"])
    expect_true(ema_moved > 0, "one train_step left the EMA weights unchanged: call ema_update "
                               "after the optimizer step")
    for index, (ema, before, after, ema_after) in enumerate(zip(
            student["ema_before"], student["online_before"], student["online_after"],
            student["ema_after"])):
        what = f"EMA weight {index} after one train_step with ema_decay=0.8"
        expect_close_naming(ema_after, 0.8 * ema + 0.2 * after,
                            f"{what}, against 0.8 * (EMA before) + 0.2 * (weight after the step)",
                            [(0.8 * ema + 0.2 * before, "uses the weights from before the "
                              "optimizer step: update the EMA after optimizer.apply"),
                             (0.2 * ema + 0.8 * after, "swaps decay and 1 - decay: the EMA "
                              "keeps 80 % of its old value and takes 20 % of the new weights")])


@check(points=1, uses=MODEL, task="`DiffusionModel.predict_noise`", reference=False,
       hint="predict_noise uses self.ema_denoiser unless use_ema=False; with labels and w > 0 "
            "it returns guided_noise(prediction with labels, prediction with the null label, w)")
def predict_noise_with_guidance(lab, rng):
    """The EMA network by default, the online one with use_ema=False, the null label
    without labels, guidance with w = 2."""
    import tensorflow as tf
    with model_stand_ins(lab):
        model = lab.diffusion_model.DiffusionModel(probe_denoiser(16, num_classes=3), data_dim=2,
                                                   num_steps=25, schedule="linear", num_classes=3)
        for weight in model.ema_denoiser.weights:  # EMA weights unlike the online ones
            weight.assign(weight + rng.normal(scale=0.2, size=weight.shape).astype(np.float32))
        x = tensor(rng.normal(size=(8, 2)))
        t = tensor(rng.integers(0, 25, size=8), "int32")
        labels = tensor(np.arange(8) % 3, "int32")
        null = tf.fill([8], 3)
        predict = model.predict_noise
        return {"guided": predict(x, t, labels, guidance_weight=2.0),
                "conditional": predict(x, t, labels), "unconditional": predict(x, t),
                "online": predict(x, t, labels, use_ema=False),
                "ema_labels": model.ema_denoiser(x, t, labels),
                "ema_null": model.ema_denoiser(x, t, null),
                "online_labels": model.denoiser(x, t, labels)}


@predict_noise_with_guidance.verdict
def _(student, reference):
    cond, uncond = student["ema_labels"], student["ema_null"]
    expect_close_naming(student["conditional"], cond,
                        "model.predict_noise(x_t, t, labels), against the EMA network's output", [
        (student["online_labels"], "is the online network's output: samplers use the EMA "
                                   "network (self.ema_denoiser)")])
    expect_close(student["unconditional"], uncond,
                 "model.predict_noise(x_t, t) (no labels), against the EMA network with the "
                 "null label")
    expect_close(student["online"], student["online_labels"],
                 "model.predict_noise(..., use_ema=False), against the online network")
    expect_close_naming(student["guided"], 3.0 * cond - 2.0 * uncond,
                        "model.predict_noise(x_t, t, labels, guidance_weight=2), against "
                        "3 * conditional - 2 * unconditional", [
        (3.0 * uncond - 2.0 * cond, "has the roles swapped: guidance pushes AWAY from the "
                                    "unconditional prediction"),
        (-1.0 * cond + 2.0 * uncond, "has a flipped sign: (1 + w) * conditional - w * "
                                     "unconditional")])


@check(points=4, uses=MODEL, task="`DiffusionModel.train_step`", timeout=60,
       hint="train_step: t uniform on {0..T-1} and noise per example, noise_prediction_loss, "
            "scale_loss, optimizer.apply, then the EMA update; the EMA network's samples must "
            "come close to the data")
def diffusion_learns_moons(lab, rng):
    """Trained 400 steps on moons (the checks' denoiser and pieces), the EMA network's
    samples come near the held-out data."""
    return train_diffusion(lab, rng, TRAIN)


@diffusion_learns_moons.verdict
def _(student, reference):
    judge_training(student, reference, "moons")


SAVED = {"data_dim": 2, "num_steps": 20, "schedule": "cosine", "num_classes": 2,
         "label_dropout": 0.2, "ema_decay": 0.9}
ATTRIBUTES = {"data_dim": "data_dim", "num_steps": "num_steps", "schedule": "schedule_name",
              "num_classes": "num_classes", "label_dropout": "label_dropout",
              "ema_decay": "ema_decay"}


@check(points=1, uses=MODEL, reference=False, task="`DiffusionModel.get_config`",
       hint="get_config: serialize_keras_object(self.denoiser) plus every other constructor "
            "argument; from_config deserialises the denoiser back")
def diffusion_model_saves_and_loads(lab, rng):
    """Save a conditional model (no default arguments) to `.keras` and reload: the config
    holds every constructor argument, the reloaded model has them, and its online and EMA
    predictions and optimizer state come back."""
    import inspect

    import keras
    with model_stand_ins(lab):
        denoiser = probe_denoiser(16, num_classes=2)
        cls = lab.diffusion_model.DiffusionModel
        model = cls(denoiser, **SAVED)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(int(rng.integers(2, 50)))
        for weight in model.denoiser.weights + model.ema_denoiser.weights:   # EMA != online
            weight.assign(rng.normal(scale=0.3, size=weight.shape).astype(np.float32))
        model.save("diffusion.keras")
        try:
            loaded = keras.saving.load_model("diffusion.keras",
                                             custom_objects={"ProbeDenoiser": type(denoiser)})
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"[:600]}
        x_t = tensor(rng.normal(size=(8, 2)))
        t = tensor(rng.integers(0, 20, size=8), "int32")
        labels = tensor(np.arange(8) % 2, "int32")
        arguments = [name for name, p in inspect.signature(cls.__init__).parameters.items()
                     if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        return {"error": "", "class": type(loaded).__name__, "arguments": arguments,
                "config": json.dumps(model.get_config(), default=str),
                "attributes": json.dumps({name: getattr(loaded, attribute, None)
                                          for name, attribute in ATTRIBUTES.items()},
                                         default=str),
                "betas": np.asarray(model.schedule.betas),
                "loaded_betas": np.asarray(loaded.schedule.betas),
                "ema": model.predict_noise(x_t, t, labels, 1.0),
                "loaded_ema": loaded.predict_noise(x_t, t, labels, 1.0),
                "online": model.predict_noise(x_t, t, labels, use_ema=False),
                "loaded_online": loaded.predict_noise(x_t, t, labels, use_ema=False),
                "steps": int(model.optimizer.iterations.numpy()),
                "loaded_steps": int(loaded.optimizer.iterations.numpy())
                if getattr(loaded, "optimizer", None) is not None else -1}


@diffusion_model_saves_and_loads.verdict
def _(student, _reference):
    what = f"DiffusionModel(denoiser, {', '.join(f'{k}={v!r}' for k, v in SAVED.items())})"
    if student["error"]:
        raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {what}: "
                          + student["error"])
    expect_true(student["class"] == "DiffusionModel",
                f"load_model returned a {student['class']}, not a DiffusionModel")
    config = json.loads(student["config"])
    missing = [name for name in student["arguments"] if name not in config]
    if missing:
        raise CheckFailed(f"{what}.get_config() leaves out {missing}: it must return every "
                          "constructor argument, or load_model rebuilds the model with the "
                          "defaults")
    attributes = json.loads(student["attributes"])
    for name, value in SAVED.items():
        expect_true(config[name] == value, f"{what}.get_config()[{name!r}] is {config[name]!r}: "
                    f"the model was built with {value!r}")
        expect_true(attributes[name] == value, f"the reloaded model's {ATTRIBUTES[name]} is "
                    f"{attributes[name]!r}, the saved one's {value!r}")
    expect_close(student["loaded_betas"], student["betas"], "the reloaded model's betas",
                 against="the saved model's")
    expect_close(student["loaded_online"], student["online"],
                 "the reloaded model's online denoiser on the same inputs")
    expect_close(student["loaded_ema"], student["ema"],
                 "the reloaded model's EMA predictions (guidance_weight=1) on the same inputs: "
                 "the EMA weights must be saved too")
    expect_true(student["loaded_steps"] == student["steps"],
                f"the reloaded optimizer has done {student['loaded_steps']} steps, the saved one "
                f"{student['steps']}: its state was not restored")
