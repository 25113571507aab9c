"""Public checks of lab12_gan, part 3: the steps of gan_model.py's GAN and ConditionalGAN.

Each step runs on the check's own networks with stand-in losses, fixed noise and plain SGD
(probes.py), so its update is compared with the reference's exactly, whatever state
gan_losses.py and gan_networks.py are in.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import tensor
from autograder.checks.lab12_gan.probes import (
    MODEL,
    STANDIN_GENERATOR_LOSSES,
    expect_latent_sizes,
    expect_steps_alone,
    gradient_wrt,
    labelled_batch,
    moving_statistics,
    probe_networks,
    real_batch,
    record_one_hot,
    run_step,
    scalar,
    sgd_update,
    standin_discriminator_loss,
    standin_losses,
    step_gan,
    weights_of,
)
from autograder.verdicts import (
    expect_close,
    expect_finite,
    expect_shape,
    expect_true,
    expect_update,
)

BATCH = 48
UPDATE = "(plain SGD, divided by its learning rate: the gradient it applied)"


def changes(before, networks):
    """{name_change: largest change of that network's weights since `before`}."""
    return {f"{name}_change": float(np.abs(weights_of(net) - before[name]).max())
            for name, net in networks.items()}


def other_loss(name):
    return "minimax" if name == "non_saturating" else "non_saturating"


@check(points=2, uses=MODEL, task="`GAN.discriminator_step`",
       hint="fakes G(z) with z = self.sample_latent(N); in the tape D's logits on real and "
            "fake, discriminator_loss(real_logits, fake_logits); gradients w.r.t. "
            "discriminator.trainable_variables only, applied with d_optimizer")
def discriminator_step(lab, rng):
    """One D step on the check's networks with a stand-in loss, fixed noise and SGD: D's
    update is the reference's (the gradient of discriminator_loss(real_logits, fake_logits)
    w.r.t. D's weights), G does not change, and the returned loss is the reference's."""
    z = rng.normal(size=(BATCH, 2))
    real = tensor(real_batch(rng, BATCH))
    with standin_losses(lab):
        gan, generator, discriminator, asked = step_gan(lab, rng, z)
        fake = generator(tensor(z))
        swapped = gradient_wrt(discriminator.trainable_variables, lambda: (
            standin_discriminator_loss(discriminator(fake), discriminator(real))))
        before = {"generator": weights_of(generator), "discriminator": weights_of(discriminator)}
        loss = run_step("GAN.discriminator_step", gan.discriminator_step, real)
        return {"loss": scalar(loss, "GAN.discriminator_step"), "asked": asked,
                "update": sgd_update(before["discriminator"], discriminator),
                "mistakes": {"swapped": swapped},
                **changes(before, {"generator": generator, "discriminator": discriminator})}


@discriminator_step.verdict
def _(student, reference):
    step = "GAN.discriminator_step"
    expect_steps_alone(student, step, "discriminator", "generator")
    expect_latent_sizes(student["asked"], [BATCH], step)
    expect_update(student["update"], reference["update"], f"the discriminator's update in "
                  f"{step} {UPDATE}",
                  "take the gradient of discriminator_loss(D's logits on real, D's logits on "
                  "G(z)) w.r.t. discriminator.trainable_variables",
                  student["mistakes"],
                  {"swapped": "it calls discriminator_loss(fake_logits, real_logits); the "
                              "real logits come first"})
    expect_close(student["loss"], reference["loss"], f"the loss {step} returns")


@check(points=2, uses=MODEL, task="`GAN.generator_step`",
       hint="in the tape: z = self.sample_latent(batch_size), D's logits on G(z), "
            "GENERATOR_LOSSES[self.generator_loss](logits); gradients w.r.t. "
            "generator.trainable_variables only, applied with g_optimizer")
def generator_step(lab, rng):
    """One G step, for generator_loss="minimax" and "non_saturating", with stand-in losses,
    fixed noise and SGD: G's update is the reference's (the gradient, through D, of the loss
    the GAN was built with), D does not change, and the returned loss is the reference's."""
    z = rng.normal(size=(BATCH, 2))
    out = {}
    with standin_losses(lab):
        for name in ("minimax", "non_saturating"):
            gan, generator, discriminator, asked = step_gan(lab, rng, z, generator_loss=name)
            other = gradient_wrt(generator.trainable_variables, lambda: (
                STANDIN_GENERATOR_LOSSES[other_loss(name)](discriminator(generator(z)))))
            before = {"generator": weights_of(generator),
                      "discriminator": weights_of(discriminator)}
            what = f"GAN.generator_step with generator_loss={name!r}"
            loss = run_step(what, gan.generator_step, BATCH)
            out[name] = {"loss": scalar(loss, what), "asked": asked,
                         "update": sgd_update(before["generator"], generator),
                         "mistakes": {"other_loss": other},
                         **changes(before, {"generator": generator,
                                            "discriminator": discriminator})}
    return out


@generator_step.verdict
def _(student, reference):
    for name in ("minimax", "non_saturating"):
        step = f"GAN.generator_step with generator_loss={name!r}"
        got = student[name]
        expect_steps_alone(got, step, "generator", "discriminator")
        expect_latent_sizes(got["asked"], [BATCH], step)
        expect_update(got["update"], reference[name]["update"],
                      f"the generator's update in {step} {UPDATE}",
                      "take the gradient of GENERATOR_LOSSES[self.generator_loss](D's logits "
                      "on G(z)) w.r.t. generator.trainable_variables, with z from "
                      "self.sample_latent(batch_size)",
                      got["mistakes"],
                      {"other_loss": f"it trains with the {other_loss(name)} loss: use the "
                                     "loss the GAN was built with, "
                                     "GENERATOR_LOSSES[self.generator_loss]"})
        expect_close(got["loss"], reference[name]["loss"], f"the loss {step} returns")


D_LOSS, G_LOSS = 1.25, -0.5   # what the stand-in steps return


def standin_steps(gan, conditional=False):
    """Replace the model's two steps by stand-ins that record how train_step calls them and
    return D_LOSS and G_LOSS; returns the list of calls."""
    import tensorflow as tf
    calls = []

    def discriminator_step(real, labels=None):
        call = {"step": "D", "size": int(tf.shape(real)[0]), "sum": float(tf.reduce_sum(real))}
        if conditional:
            call["labels"] = np.asarray(labels).reshape(-1).astype(np.int64)
        calls.append(call)
        return tf.constant(D_LOSS)

    def generator_step(batch):
        if conditional:
            calls.append({"step": "G", "labels": np.asarray(batch).reshape(-1).astype(np.int64)})
        else:
            calls.append({"step": "G", "size": int(batch)})
        return tf.constant(G_LOSS)
    gan.discriminator_step, gan.generator_step = discriminator_step, generator_step
    return calls


def judge_train_step(student, model, batch, conditional=False):
    step = f"{model}.train_step"
    logs, calls = student["logs"], student["calls"]
    order = [call["step"] for call in calls]
    expect_true(order == ["D", "G"], f"{step} called the steps in the order {order}; expected "
                "one discriminator_step, then one generator_step")
    d_call, g_call = calls
    expect_true(d_call["size"] == batch and np.isclose(d_call["sum"], student["real_sum"]),
                f"{step} gave discriminator_step a batch of {d_call['size']} samples that is not "
                f"the real batch of {batch}: pass it the batch train_step received")
    if conditional:
        for call, name in ((d_call, "discriminator_step"), (g_call, "generator_step")):
            expect_true(np.array_equal(call["labels"], student["labels"]),
                        f"{step} gave {name} labels that are not the batch's: unpack "
                        "(real, labels) and pass the labels to both steps")
    else:
        expect_true(g_call["size"] == batch,
                    f"{step} asked generator_step for {g_call['size']} fakes with a real batch "
                    f"of {batch}: as many fakes as real samples, tf.shape(real)[0]")
    for name in ("d_loss", "g_loss"):
        expect_true(name in logs, f"{step} does not report {name!r} (it reports "
                                  f"{sorted(logs)}): update and return the trackers")
    if np.isclose(logs["d_loss"], G_LOSS) and np.isclose(logs["g_loss"], D_LOSS):
        raise CheckFailed(f"{step} reports the generator's loss as d_loss and the "
                          "discriminator's as g_loss: swap them in self.trackers.update")
    for name, value in (("d_loss", D_LOSS), ("g_loss", G_LOSS)):
        expect_close(logs[name], value, f"{name} reported by {step} (stand-in steps that "
                     f"return {D_LOSS:g} and {G_LOSS:g})", against="what its step returned")


@check(points=2, uses=MODEL, reference=False, task="`GAN.train_step`",
       hint="train_step: d_loss = self.discriminator_step(real), then g_loss = "
            "self.generator_step(tf.shape(real)[0]); self.trackers.update(d_loss=d_loss, "
            "g_loss=g_loss); return self.trackers.results()")
def train_step(lab, rng):
    """train_step on stand-in steps: one discriminator_step on the real batch, then one
    generator_step with as many fakes as real samples, each loss reported under its own
    name."""
    generator, discriminator = probe_networks()
    gan = lab.gan_model.GAN(generator, discriminator, latent_dim=2)
    real = tensor(real_batch(rng, BATCH))
    calls = standin_steps(gan)
    logs = run_step("GAN.train_step", gan.train_step, real)
    if not isinstance(logs, dict):
        raise TypeError(f"GAN.train_step returned {type(logs).__name__}; expected "
                        "self.trackers.results(), a dict with d_loss and g_loss")
    return {"logs": {str(k): float(v) for k, v in logs.items()}, "calls": calls,
            "real_sum": float(np.sum(real))}


@train_step.verdict
def _(student, reference):
    judge_train_step(student, "GAN", BATCH)


@check(points=1, uses=MODEL, reference=False, task="the steps: `training=True`",
       hint="in each step call both networks with training=True: self.generator(z, "
            "training=True), self.discriminator(x, training=True)")
def steps_run_the_networks_in_training_mode(lab, rng):
    """The D and G steps of GAN and ConditionalGAN call both networks with training=True:
    the check's networks hold a BatchNormalization whose moving statistics move only in
    training mode."""
    z = rng.normal(size=(BATCH, 2))
    real, labels = labelled_batch(rng, BATCH)
    out = {}
    with standin_losses(lab):
        for model, classes in (("GAN", None), ("ConditionalGAN", 2)):
            for step in ("discriminator_step", "generator_step"):
                gan, generator, discriminator, _ = step_gan(lab, rng, z, num_classes=classes,
                                                            batch_norm=True)
                nets = {"generator": generator, "discriminator": discriminator}
                before = {name: moving_statistics(net) for name, net in nets.items()}
                args = {("GAN", "discriminator_step"): (real,),
                        ("GAN", "generator_step"): (BATCH,),
                        ("ConditionalGAN", "discriminator_step"): (real, labels),
                        ("ConditionalGAN", "generator_step"): (labels,)}[model, step]
                run_step(f"{model}.{step}", getattr(gan, step), *args)
                out[f"{model}.{step}"] = {
                    name: float(np.abs(moving_statistics(net) - before[name]).max())
                    for name, net in nets.items()}
    return out


@steps_run_the_networks_in_training_mode.verdict
def _(student, reference):
    for step, moved in student.items():
        for net in ("generator", "discriminator"):
            expect_true(moved[net] > 0,
                        f"{step} calls the {net} in inference mode: the moving statistics of "
                        f"its BatchNormalization did not move. A network being trained runs "
                        f"with training=True (the DCGAN's BatchNormalization then normalises "
                        f"with the batch's statistics); call it as self.{net}(..., "
                        "training=True)")


def coded_other_labels(coded, labels):
    """The one-hot calls whose labels are not the real batch's (nor copies of them)."""
    labels = np.asarray(labels).reshape(-1)
    return [c for c in coded if len(c) % len(labels)
            or not np.array_equal(c, np.tile(labels, len(c) // len(labels)))]


@check(points=2, uses=MODEL,
       task="`ConditionalGAN.discriminator_step`, `generator_step`, `train_step`",
       hint="ConditionalGAN: y = self.one_hot(labels) of the real batch goes to BOTH networks "
            "in both steps (the fakes in D's step carry the real batch's labels); the D step "
            "updates D only (d_optimizer), the G step G only (g_optimizer); train_step "
            "unpacks (real, labels)")
def conditional_gan_steps(lab, rng):
    """The ConditionalGAN's D and G steps with stand-in losses, fixed noise and SGD update
    their own network by the reference's update, with the fakes carrying the real batch's
    labels; train_step, on stand-in steps, gives both steps the batch's labels and logs
    their losses."""
    z = rng.normal(size=(BATCH, 2))
    real, labels = labelled_batch(rng, BATCH)
    out = {"labels": labels}
    with standin_losses(lab):
        for name, args in (("discriminator_step", (real, labels)),
                           ("generator_step", (labels,))):
            gan, generator, discriminator, asked = step_gan(lab, rng, z, num_classes=2)
            coded = record_one_hot(gan)
            nets = {"generator": generator, "discriminator": discriminator}
            before = {net_name: weights_of(net) for net_name, net in nets.items()}
            result = run_step(f"ConditionalGAN.{name}", getattr(gan, name), *args)
            out[name] = {"asked": asked, "coded": coded,
                         "generator_update": sgd_update(before["generator"], generator),
                         "discriminator_update": sgd_update(before["discriminator"],
                                                            discriminator),
                         "result": scalar(result, f"ConditionalGAN.{name}"),
                         **changes(before, nets)}
    gan, *_ = step_gan(lab, rng, z, num_classes=2)
    calls = standin_steps(gan, conditional=True)
    logs = run_step("ConditionalGAN.train_step", gan.train_step, (real, labels))
    if not isinstance(logs, dict):
        raise TypeError(f"ConditionalGAN.train_step returned {type(logs).__name__}; expected "
                        "self.trackers.results(), a dict with d_loss and g_loss")
    out["train_step"] = {"logs": {str(k): float(v) for k, v in logs.items()}, "calls": calls,
                         "real_sum": float(np.sum(real)), "labels": labels}
    return out


@conditional_gan_steps.verdict
def _(student, reference):
    for name, changed, stays in (("discriminator_step", "discriminator", "generator"),
                                 ("generator_step", "generator", "discriminator")):
        step = f"ConditionalGAN.{name}"
        got = student[name]
        expect_steps_alone(got, step, changed, stays)
        expect_latent_sizes(got["asked"], [BATCH], step)
        other = coded_other_labels(got["coded"], student["labels"])
        expect_true(not other, f"{step} one-hot codes labels that are not the real batch's "
                    f"({len(other)} of its {len(got['coded'])} self.one_hot calls): the fakes "
                    "carry the labels of the real batch, y = self.one_hot(labels), and D "
                    "judges [real, y] and [G([z, y]), y]")
        expect_update(got[f"{changed}_update"], reference[name][f"{changed}_update"],
                      f"the {changed}'s update in {step} {UPDATE}",
                      "as in the GAN's step, with y = self.one_hot(labels) given to both "
                      "networks: G([z, y]), D([x, y])")
        expect_finite(got["result"], f"the loss {step} returns")
        expect_close(got["result"], reference[name]["result"], f"the loss {step} returns")
    judge_train_step(student["train_step"], "ConditionalGAN", BATCH, conditional=True)


@check(points=1, uses=MODEL, reference=False, task="`GAN.get_config`, `GAN.from_config`",
       hint="get_config: serialize_keras_object for the two networks, plus latent_dim, "
            "generator_loss and seed; from_config: deserialize_keras_object them back")
def gan_saves_and_loads(lab, rng):
    """A GAN saved as .keras and loaded back is a GAN with the same latent_dim,
    generator_loss and seed, and networks that compute the same outputs."""
    import keras
    generator, discriminator = probe_networks()
    gan = lab.gan_model.GAN(generator, discriminator, latent_dim=2, generator_loss="minimax",
                            seed=5)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    real = tensor(real_batch(rng))
    gan.save("gan.keras")
    try:
        loaded = keras.models.load_model("gan.keras")
    except Exception as error:  # the message goes to the student
        raise ValueError("keras.models.load_model could not rebuild the saved GAN: get_config "
                         "stores the two networks serialised, from_config deserialises them. "
                         f"Keras said: {type(error).__name__}: {error}"[:700]) from None
    z = tensor(rng.normal(size=(16, 2)))
    return {"class": type(loaded).__name__, "latent_dim": int(loaded.latent_dim),
            "generator_loss": str(loaded.generator_loss), "seed": loaded.seed,
            "samples": generator(z), "loaded_samples": loaded.generator(z),
            "logits": discriminator(real), "loaded_logits": loaded.discriminator(real)}


@gan_saves_and_loads.verdict
def _(student, reference):
    expect_true(student["class"] == "GAN", f"load_model gave a {student['class']}, not a GAN")
    got = (student["latent_dim"], student["generator_loss"], student["seed"])
    expect_true(got == (2, "minimax", 5),
                f"the reloaded GAN has latent_dim={got[0]}, generator_loss={got[1]!r} and "
                f"seed={got[2]}; saved with 2, 'minimax' and 5 (get_config must store them)")
    expect_close(student["loaded_samples"], student["samples"],
                 "the reloaded GAN's generator on the same z")
    expect_close(student["loaded_logits"], student["logits"],
                 "the reloaded GAN's discriminator on the same data")


@check(points=1, uses=MODEL, reference=False,
       task="`ConditionalGAN.generate`, `ConditionalGAN.get_config`",
       hint="generate(labels): one z per label (self.sample_latent), the generator on "
            "[z, self.one_hot(labels)]; get_config adds num_classes")
def conditional_gan_generates_and_saves(lab, rng):
    """generate(labels) is the generator on [z, one-hot labels] with one z per label from
    sample_latent; a ConditionalGAN saved as .keras loads back with its num_classes and the
    same generator."""
    import keras

    from autograder.checks.lab12_gan.probes import fix_latent, probe_conditional_networks
    generator, discriminator = probe_conditional_networks(num_classes=3)
    gan = lab.gan_model.ConditionalGAN(generator, discriminator, latent_dim=2, num_classes=3)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    labels = np.array([0, 1, 2, 2, 1, 0, 0], dtype="int32")
    z = rng.normal(size=(7, 2)).astype("float32")
    gan.save("cgan.keras")
    fix_latent(gan, z)
    out = {"generated": gan.generate(labels),
           "expected": generator([tensor(z), tensor(np.eye(3)[labels])])}
    try:
        loaded = keras.models.load_model("cgan.keras")
    except Exception as error:  # the message goes to the student
        return {**out, "error": f"{type(error).__name__}: {error}"[:600]}
    return {**out, "error": "", "class": type(loaded).__name__,
            "num_classes": int(getattr(loaded, "num_classes", -1)),
            "samples": gan((tensor(z), labels)), "loaded_samples": loaded((tensor(z), labels))}


@conditional_gan_generates_and_saves.verdict
def _(student, reference):
    generated = expect_shape(student["generated"], (7, 2), "ConditionalGAN.generate(labels (7,))")
    expect_close(generated, student["expected"], "ConditionalGAN.generate(labels) with "
                 "sample_latent fixed", against="the generator on [z, one-hot labels]")
    if student["error"]:
        raise CheckFailed("keras.models.load_model could not rebuild the saved ConditionalGAN("
                          "num_classes=3): " + student["error"])
    expect_true(student["class"] == "ConditionalGAN" and student["num_classes"] == 3,
                f"load_model gave a {student['class']} with num_classes={student['num_classes']}"
                "; saved: a ConditionalGAN with 3 (get_config must store num_classes)")
    expect_close(student["loaded_samples"], student["samples"],
                 "the reloaded ConditionalGAN's generator on the same (z, labels)")
