"""Public checks of lab16_diffusion, part 4: the diffusion model (diffusion_model.py).

The model checks build DiffusionModel with the checks' own denoiser (probe_denoiser) and,
while they run, stand-ins for the schedule, loss, label dropout, guidance and EMA step
(model_stand_ins): each has known behaviour that is NOT the lab's formula and records what
it is given, so they grade DiffusionModel's code alone, even before the other files are
done: the timesteps, noise, labels, decay and logged loss of train_step are judged directly.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import (
    constructor_arguments,
    judge_config,
    largest_change,
    snapshot,
    tensor,
)
from autograder.checks.lab16_diffusion.probes import (
    MODEL,
    Recorder,
    judge_training,
    model_stand_ins,
    probe_denoiser,
    train_probe,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_shape, expect_true

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
    checks' denoiser and stand-ins recording what train_step feeds them. Returns the
    batches, the labels, the records and what train_step logged."""
    import keras
    recorder = Recorder()
    with model_stand_ins(lab) as stand_ins:
        model = lab.diffusion_model.DiffusionModel(
            probe_denoiser(16, num_classes, recorder=recorder), data_dim=2, num_steps=T,
            schedule="linear", num_classes=num_classes, label_dropout=label_dropout,
            ema_decay=0.9)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        recorder.active = stand_ins.active = True
        batches, labels, logged = [], [], []
        for _ in range(STEPS):
            x0 = (rng.normal(size=(BATCH, 2)) * [1.5, 0.5] + [0.5, -1.0]).astype(np.float32)
            y = rng.integers(0, max(num_classes, 1), size=BATCH).astype(np.int32)
            logs = model.train_step((tensor(x0), tensor(y, "int32")) if num_classes
                                    else tensor(x0))
            batches.append(x0)
            labels.append(y)
            logged.append({str(k): float(v) for k, v in logs.items()})
        schedule = np.asarray(model.schedule.alpha_bars)
    losses, drops = stand_ins.losses, stand_ins.drops
    return {"x0": batches, "labels": labels, "logged": logged, "alpha_bars": schedule,
            "t": [c[1] for c in recorder.calls],
            "seen_labels": [c[3] if c[3] is not None else np.zeros(0) for c in recorder.calls],
            "got_labels": [c[3] is not None for c in recorder.calls],
            "loss_x0": [c[0] for c in losses], "loss_t": [c[1] for c in losses],
            "loss_noise": [c[2] for c in losses], "loss_alpha_bars": [c[3] for c in losses],
            "loss_values": [float(c[4]) for c in losses],
            "drop_labels": [c[0] for c in drops], "drop_uniform": [c[1] for c in drops],
            "drop_probability": [float(c[2]) for c in drops],
            "drop_null": [int(c[3]) for c in drops], "dropped": [c[4] for c in drops]}


def judge_one_call_per_step(student):
    calls = len(student["loss_t"])
    expect_true(calls == STEPS, f"{STEPS} calls of train_step called noise_prediction_loss "
                f"{calls} times: once per step, noise_prediction_loss(predict_noise, x0, t, "
                "noise, self.schedule.alpha_bars)")
    calls = len(student["t"])
    expect_true(calls == STEPS, f"{STEPS} calls of train_step called the denoiser {calls} times: "
                "once per step, through the predict_noise it gives noise_prediction_loss")


@check(points=2, uses=MODEL, reference=False, task="`DiffusionModel.train_step`",
       hint="t = keras.random.randint((batch,), 0, T, seed=self.noise) (maxval is exclusive: "
            "T, not T - 1), noise = keras.random.normal(tf.shape(x0), seed=self.noise), one of "
            "each per example, passed to noise_prediction_loss; log the loss it returns")
def train_step_draws_timesteps_and_noise(lab, rng):
    """20 steps on batches of 128, T = 25, with a stand-in noise_prediction_loss that
    records its arguments: the batch, one t per example uniform on {0, ..., T - 1}, fresh
    N(0, I) noise per example, the schedule's alpha_bars; the logged loss is what the loss
    returned (the tracker's running mean)."""
    return recorded_training(lab, rng)


@train_step_draws_timesteps_and_noise.verdict
def _(student, _reference):
    judge_one_call_per_step(student)
    for k, (x0, given, t, alpha_bars) in enumerate(zip(
            student["x0"], student["loss_x0"], student["loss_t"], student["loss_alpha_bars"])):
        expect_close(np.asarray(given, np.float32), x0, f"the x0 train_step passes to "
                     f"noise_prediction_loss (step {k})", against="the batch")
        expect_close(alpha_bars, student["alpha_bars"], "the alpha_bars train_step passes to "
                     "noise_prediction_loss", against="self.schedule.alpha_bars")
        t = np.asarray(t)
        if t.size == 1:
            raise CheckFailed(f"train_step passed one timestep (shape {t.shape}) for the whole "
                              f"batch of {BATCH}: draw one per example, shape (batch,)")
        t = expect_shape(t, (BATCH,), f"the t that train_step passes to noise_prediction_loss "
                         f"(step {k})")
        expect_true(np.all(t == np.round(t)), f"train_step passed t = {t[:4].tolist()} ...: "
                    "timesteps are integers")
        t = t.astype(np.int64)
        if t.min() < 0 or t.max() > T - 1:
            raise CheckFailed(f"train_step drew t = {int(t.max() if t.max() > T - 1 else t.min())}"
                              f" with T = {T}: timesteps run from 0 to T - 1")
        if len(np.unique(t)) == 1:
            raise CheckFailed(f"train_step drew the same t = {int(t[0])} for all {BATCH} examples "
                              "of a batch: draw one per example, shape (batch,)")
    drawn = np.concatenate([np.asarray(t, np.int64) for t in student["loss_t"]])
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
    noises = [expect_shape(np.asarray(n, np.float64), (BATCH, 2), "the noise train_step passes "
                           "to noise_prediction_loss") for n in student["loss_noise"]]
    every = np.concatenate(noises)
    expect_true(abs(every.mean()) < 0.1 and abs(every.std() - 1) < 0.1,
                f"the noise train_step passes to noise_prediction_loss has mean "
                f"{every.mean():.3g} and std {every.std():.3g}: noise ~ N(0, I) of x0's shape")
    expect_true(all(noise.std(axis=0).min() > 0.5 for noise in noises),
                "train_step uses the same noise for every example of a batch: draw it with the "
                "batch's shape, keras.random.normal(tf.shape(x0))")
    same = max(abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) for a, b in zip(noises, noises[1:]))
    expect_true(same < 0.5, "train_step uses the same noise at every step: draw fresh noise "
                "each step, with seed=self.noise (a SeedGenerator)")
    losses = student["loss_values"]
    logged = [logs.get("loss", np.nan) for logs in student["logged"]]
    expect_close(np.float32(logged[0]), np.float32(losses[0]), "the loss train_step logs for "
                 "its first batch", against="what noise_prediction_loss returned",
                 rtol=1e-4, atol=1e-5)
    expect_close(np.float32(logged[-1]), np.float32(np.mean(losses)),
                 f"the loss train_step logs after {STEPS} steps",
                 against="the mean of the steps' losses (the tracker's running mean)",
                 rtol=1e-4, atol=1e-5)


@check(points=1, uses=MODEL, reference=False, task="`DiffusionModel.train_step`",
       hint="for a conditional model: labels = drop_labels(labels, keras.random.uniform((batch,), "
            "seed=self.noise), self.label_dropout, self.null_label), passed to the denoiser")
def train_step_drops_labels(lab, rng):
    """A conditional model (3 classes, label_dropout 0.3), 20 steps of 128, with a stand-in
    drop_labels (known, other behaviour) that records its arguments: the batch's labels,
    U[0, 1) draws one per example, label_dropout and the null label 3; the denoiser gets
    what it returned."""
    return recorded_training(lab, rng, num_classes=3, label_dropout=0.3)


@train_step_drops_labels.verdict
def _(student, _reference):
    judge_one_call_per_step(student)
    expect_true(all(student["got_labels"]), "train_step of a conditional model calls the "
                "denoiser without labels: pass the (dropped-out) labels, self.run(self.denoiser, "
                "x_t, t, labels)")
    calls = len(student["dropped"])
    if calls == 0:
        raise CheckFailed("train_step never calls drop_labels for a conditional model: "
                          "labels = drop_labels(labels, uniform, self.label_dropout, "
                          "self.null_label), or the unconditional prediction that guidance "
                          "needs is never trained")
    expect_true(calls == STEPS, f"{STEPS} train_steps called drop_labels {calls} times: once "
                "per step")
    for k, (given, labels, uniform, p, null, out, seen) in enumerate(zip(
            student["labels"], student["drop_labels"], student["drop_uniform"],
            student["drop_probability"], student["drop_null"], student["dropped"],
            student["seen_labels"])):
        where = f"(step {k})"
        expect_true(np.array_equal(np.asarray(labels).ravel(), given), f"the labels train_step "
                    f"passes to drop_labels are not the batch's labels {where}")
        uniform = np.asarray(uniform, np.float64)
        expect_true(uniform.shape == (BATCH,), f"train_step passes uniform draws of shape "
                    f"{uniform.shape} to drop_labels {where}: one per example, shape (batch,)")
        expect_true(p == np.float32(0.3), f"train_step passes drop_probability = {p:.3g} to "
                    "drop_labels: pass self.label_dropout (0.3 here)")
        expect_true(null == 3, f"train_step passes null_label = {null} to drop_labels: pass "
                    "self.null_label (num_classes = 3)")
        expect_true(np.array_equal(np.asarray(seen).ravel(), np.asarray(out).ravel()),
                    f"the denoiser does not get the labels drop_labels returned {where}")
    every = np.concatenate([np.asarray(u, np.float64) for u in student["drop_uniform"]])
    expect_true(every.min() >= 0 and every.max() < 1 and abs(every.mean() - 0.5) < 0.05
                and len(np.unique(every)) > 0.9 * every.size,
                f"the uniform draws train_step passes to drop_labels have mean {every.mean():.3g}"
                f", min {every.min():.3g}, max {every.max():.3g}: fresh U[0, 1) draws, "
                "keras.random.uniform((batch,), seed=self.noise)")


@check(points=2, uses=MODEL, task="`DiffusionModel.train_step`", reference=False,
       hint="train_step: after optimizer.apply, ema_update(self.ema_denoiser.weights, "
            "self.denoiser.weights, self.ema_decay); the EMA's weights are not trainable")
def train_step_updates_ema(lab, rng):
    """One step with ema_decay 0.8 and a stand-in ema_update that copies (known, other
    behaviour): it gets the EMA's weights, the weights after the optimizer step and
    ema_decay; the EMA is not trainable."""
    import keras
    with model_stand_ins(lab) as stand_ins:
        model = lab.diffusion_model.DiffusionModel(probe_denoiser(16), data_dim=2, num_steps=25,
                                                   schedule="linear", ema_decay=0.8)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        for weight in model.ema_denoiser.weights:  # an EMA that is not a copy of the weights
            weight.assign(weight + rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
        online_before = snapshot(model.denoiser.weights)
        ema_before = snapshot(model.ema_denoiser.weights)
        stand_ins.active = True
        logs = model.train_step(tensor(rng.normal(size=(64, 2))))
    return {"logs": {str(k): float(v) for k, v in logs.items()},
            "online_before": online_before, "online_after": snapshot(model.denoiser.weights),
            "ema_before": ema_before, "ema_after": snapshot(model.ema_denoiser.weights),
            "decays": stand_ins.decays, "trainable": len(model.trainable_weights),
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
    decays = student["decays"]
    expect_true(len(decays) == 1, f"one train_step called ema_update {len(decays)} times: once, "
                "after optimizer.apply")
    expect_true(decays[0] == np.float32(0.8) or abs(decays[0] - 0.8) < 1e-6,
                f"train_step passes decay = {decays[0]:.3g} to ema_update: pass self.ema_decay "
                "(0.8 here)")
    for index, (before, after, ema_after) in enumerate(zip(
            student["online_before"], student["online_after"], student["ema_after"])):
        what = (f"EMA weight {index} after one train_step (ema_update stands in: it copies the "
                "weights it gets into the EMA's)")
        expect_close_naming(ema_after, after, f"{what}, against the weight after the step", [
            (before, "is the weight from before the optimizer step: call ema_update after "
                     "optimizer.apply"),
            (student["ema_before"][index], "is unchanged: ema_update(self.ema_denoiser.weights, "
                                           "self.denoiser.weights, ...), the EMA's first")])


@check(points=1, uses=MODEL, task="`DiffusionModel.predict_noise`", reference=False,
       hint="predict_noise uses self.ema_denoiser unless use_ema=False; with labels and w > 0 "
            "it returns guided_noise(prediction with labels, prediction with the null label, w)")
def predict_noise_with_guidance(lab, rng):
    """The EMA network by default, the online one with use_ema=False, the null label
    without labels; with w = 2, guided_noise (a stand-in of known, other behaviour) of the
    predictions with the labels and with the null label."""
    import tensorflow as tf
    with model_stand_ins(lab) as stand_ins:
        model = lab.diffusion_model.DiffusionModel(probe_denoiser(16, num_classes=3), data_dim=2,
                                                   num_steps=25, schedule="linear", num_classes=3)
        for weight in model.ema_denoiser.weights:  # EMA weights unlike the online ones
            weight.assign(weight + rng.normal(scale=0.2, size=weight.shape).astype(np.float32))
        x = tensor(rng.normal(size=(8, 2)))
        t = tensor(rng.integers(0, 25, size=8), "int32")
        labels = tensor(np.arange(8) % 3, "int32")
        null = tf.fill([8], 3)
        predict = model.predict_noise
        cond, uncond = model.ema_denoiser(x, t, labels), model.ema_denoiser(x, t, null)
        return {"guided": predict(x, t, labels, guidance_weight=2.0),
                "conditional": predict(x, t, labels), "unconditional": predict(x, t),
                "online": predict(x, t, labels, use_ema=False),
                "ema_labels": cond, "ema_null": uncond,
                "expected_guided": stand_ins.guided_noise(cond, uncond, 2.0),
                "swapped_guided": stand_ins.guided_noise(uncond, cond, 2.0),
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
    expect_close_naming(student["guided"], student["expected_guided"],
                        "model.predict_noise(x_t, t, labels, guidance_weight=2), against "
                        "guided_noise(conditional, unconditional, 2) (a stand-in here)", [
        (student["swapped_guided"], "passes the two predictions in the wrong order: "
                                    "guided_noise(conditional, unconditional, w)")])


@check(points=4, uses=MODEL, task="`DiffusionModel.train_step`", timeout=60,
       hint="train_step: t uniform on {0..T-1} and noise per example, noise_prediction_loss, "
            "scale_loss, optimizer.apply, then the EMA update; the EMA network must learn to "
            "predict the noise about as well as the reference's")
def diffusion_learns_moons(lab, rng):
    """Trained 400 steps on moons with the checks' denoiser and stand-ins (a copying EMA,
    the stand-in loss), the EMA network's stand-in loss on held-out points falls about as
    far as the reference's."""
    return train_probe(lab, rng, TRAIN)


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
        return {"error": "", "class": type(loaded).__name__, "arguments": constructor_arguments(cls),
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
    judge_config(student["config"], {name: SAVED[name] for name in student["arguments"]
                                     if name in SAVED}, what)
    expect_true("denoiser" in json.loads(student["config"]), f"{what}.get_config() leaves out "
                "['denoiser']: serialise it with keras.saving.serialize_keras_object")
    attributes = json.loads(student["attributes"])
    for name, value in SAVED.items():
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
