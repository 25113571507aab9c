"""Public checks of lab13b_image_translation, part 4: the CycleGAN model. Its train_step on the
checks' networks, with a stand-in for generator_losses, stand-in histories that return a
known batch, a stand-in discriminator loss and plain SGD: each pair of networks' update
against the gradient the check takes itself. Saving and loading."""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, tensor
from autograder.checks.lab13b_image_translation.probes import (
    CYCLEGAN,
    SGD_RATE,
    critic,
    gradient_wrt,
    logged,
    one_layer,
    run_step,
    sgd_model,
    standin_discriminator_loss,
    standin_losses,
    translator,
    weights_of,
)
from autograder.verdicts import expect_close, expect_true, expect_update

SHAPE = (8, 8, 2)


def check_networks(rng):
    """G, F (the checks' translators) and D_X, D_Y (their patch critics), random weights."""
    networks = [translator(SHAPE, name="check_G"), translator(SHAPE, name="check_F"),
                critic(SHAPE, name="check_D_X"), critic(SHAPE, name="check_D_Y")]
    for network in networks:
        assign_random_weights(network, rng, 0.3)
    return networks


def standin_generator_losses(g, f, d_x, d_y):
    """A generator_losses of known behaviour on the given networks."""
    import tensorflow as tf

    def generator_losses(real_x, real_y):
        fake_y, fake_x = g(real_x), f(real_y)
        adversarial = (tf.reduce_mean(tf.square(d_y(fake_y) - 1.0))
                       + 0.5 * tf.reduce_mean(tf.square(d_x(fake_x) - 1.0)))
        cycle = tf.reduce_mean(tf.square(f(fake_y) - real_x))
        identity = tf.reduce_mean(tf.abs(g(real_y) - real_y))
        return ({"g_loss": adversarial + cycle + 0.3 * identity, "adversarial": adversarial,
                 "cycle": cycle, "identity": identity}, fake_x, fake_y)
    return generator_losses


def pooled(images):
    """What the stand-in histories return: a known batch, not the fakes they were given."""
    import tensorflow as tf
    return tf.reverse(tf.cast(images, "float32"), [0]) * 0.5 + 0.25


def d_loss_of(d_x, d_y, x, y, fake_x, fake_y):
    return (standin_discriminator_loss(d_x(x), d_x(fake_x))
            + standin_discriminator_loss(d_y(y), d_y(fake_y)))


def expected_step(networks, x, y):
    """The updates train_step must apply (gradients at the weights before the step), the
    discriminators' under known slips, and the logs."""
    g, f, d_x, d_y = networks
    losses = standin_generator_losses(*networks)
    out = {"g": gradient_wrt([g, f], lambda: losses(x, y)[0]["g_loss"])}
    fake_x, fake_y = f(y), g(x)
    out["d"] = gradient_wrt([d_x, d_y], lambda: d_loss_of(d_x, d_y, x, y, pooled(fake_x),
                                                          pooled(fake_y)))
    out["d_fresh"] = gradient_wrt([d_x, d_y], lambda: d_loss_of(d_x, d_y, x, y, fake_x, fake_y))
    out["d_swapped"] = gradient_wrt([d_x, d_y], lambda: d_loss_of(
        d_x, d_y, x, y, pooled(fake_y), pooled(fake_x)))
    values = losses(x, y)[0]
    out["logs"] = {name: float(value) for name, value in values.items()}
    out["logs"]["d_loss"] = float(d_loss_of(d_x, d_y, x, y, pooled(fake_x), pooled(fake_y)))
    out["fake_x"], out["fake_y"] = fake_x.numpy(), fake_y.numpy()
    return out


@check(points=3, uses=CYCLEGAN, reference=False, task="`CycleGAN.train_step`",
       hint="tape 1: generator_losses, g_optimizer.scale_loss, gradients w.r.t. "
            "self.generators.trainable_variables, g_optimizer.apply; then history_x.query("
            "fake_x), history_y.query(fake_y); tape 2: the two LSGAN discriminator losses on "
            "the pooled fakes, d_optimizer on self.discriminators.trainable_variables")
def cyclegan_train_step(lab, rng):
    """One train_step on the checks' networks with a stand-in generator_losses, stand-in
    histories (each returns a known batch and records the fakes it gets), a stand-in
    discriminator loss and SGD: G and F move by the gradient of g_loss, D_X and D_Y by that
    of the discriminator losses on the histories' batches (D_X on X, D_Y on Y), both at the
    weights before the step; each history gets its own domain's fakes; the logs."""
    x, y = (rng.uniform(size=(4, *SHAPE)).astype("float32") for _ in range(2))
    networks = check_networks(rng)
    model = sgd_model(lab.cyclegan.CycleGAN(*networks, cycle_weight=2.0, identity_weight=0.5,
                                            pool_size=4))
    expected = expected_step(networks, tensor(x), tensor(y))
    model.generator_losses = standin_generator_losses(*networks)
    queried = {"x": [], "y": []}

    def history(domain):
        def query(images):
            queried[domain].append(np.asarray(images))
            return pooled(images)
        return query
    model.history_x.query, model.history_y.query = history("x"), history("y")
    g_before, d_before = weights_of(*networks[:2]), weights_of(*networks[2:])
    with standin_losses(lab.cyclegan, lsgan_discriminator_loss=standin_discriminator_loss):
        logs = run_step("CycleGAN.train_step", model.train_step, (tensor(x), tensor(y)))
    return {"g_update": (g_before - weights_of(*networks[:2])) / SGD_RATE,
            "d_update": (d_before - weights_of(*networks[2:])) / SGD_RATE,
            "queried_x": np.stack(queried["x"]) if queried["x"] else np.zeros(0),
            "queried_y": np.stack(queried["y"]) if queried["y"] else np.zeros(0),
            "logs": logged(logs, "CycleGAN.train_step"), "expected": expected}


@cyclegan_train_step.verdict
def _(student, reference):
    expected = student["expected"]
    for name, which in (("g", "generators"), ("d", "discriminators")):
        expect_true(np.abs(student[f"{name}_update"]).max() > 0,
                    f"CycleGAN.train_step left the {which}' weights unchanged: apply their "
                    f"gradients with {name}_optimizer")
    expect_update(student["g_update"], expected["g"], "the generators' update in "
                  "CycleGAN.train_step (stand-in generator_losses, SGD)",
                  "G and F move by the gradient of generator_losses(real_x, real_y)[0]"
                  "['g_loss'] w.r.t. self.generators.trainable_variables")
    for domain, other, fake in (("x", "y", "fake_x = F(real_y)"), ("y", "x", "fake_y = G(real_x)")):
        got = np.asarray(student[f"queried_{domain}"])
        expect_true(got.shape[:1] == (1,), f"train_step called history_{domain}.query "
                    f"{got.shape[0] if got.ndim else 0} times; once per step, with {fake}")
        if np.allclose(got[0], expected[f"fake_{other}"], rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"history_{domain}.query got fake_{other}, the other domain's "
                              f"fakes: each history holds its own domain's, {fake}")
        expect_close(got[0], expected[f"fake_{domain}"], f"the batch history_{domain}.query "
                     f"got (it must be {fake}, from the generators' step)", rtol=1e-4,
                     atol=1e-5, against=fake)
    expect_update(student["d_update"], expected["d"], "the discriminators' update in "
                  "CycleGAN.train_step (stand-in loss and histories, SGD)",
                  "D_X and D_Y move by the gradient of lsgan_discriminator_loss(D_X(real_x), "
                  "D_X(pooled fake_x)) + lsgan_discriminator_loss(D_Y(real_y), D_Y(pooled "
                  "fake_y)) w.r.t. self.discriminators.trainable_variables",
                  mistakes={"fresh": expected["d_fresh"], "swapped": expected["d_swapped"]},
                  explanations={"fresh": "the discriminators learned from the fresh fakes; "
                                         "they learn from what the histories' query returns",
                                "swapped": "each discriminator got the other domain's fakes: "
                                           "D_X judges fake_x (F's), D_Y judges fake_y (G's)"})
    logs = student["logs"]
    for name, value in expected["logs"].items():
        expect_true(name in logs, f"CycleGAN.train_step does not log {name!r} (it logs "
                                  f"{sorted(logs)}): update the trackers with g_loss, "
                                  "adversarial, cycle, identity and d_loss")
        expect_close(logs[name], value, f"{name} logged by CycleGAN.train_step (stand-ins)",
                     rtol=1e-4, atol=1e-5, against="the stand-in's value before the step")


def setting(model, name):
    """A number, None, or "absent" when the model has no such attribute."""
    value = getattr(model, name, "absent")
    return value if value is None or isinstance(value, str) else float(value)


def shown(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


@check(points=1, uses=CYCLEGAN, reference=False, task="`CycleGAN.get_config`",
       hint="get_config: serialize_keras_object for the four networks, plus cycle_weight, "
            "identity_weight, pool_size and seed")
def cyclegan_saves_and_loads(lab, rng):
    """A CycleGAN (weights 4 and 1.5, pool_size 3, seed 11) saved as .keras and loaded back:
    a CycleGAN with the same settings whose four networks compute the same outputs."""
    import keras
    networks = [one_layer(SHAPE), one_layer(SHAPE), one_layer(SHAPE, stride=2),
                one_layer(SHAPE, stride=2)]
    for network in networks:
        assign_random_weights(network, rng, 0.3)
    model = lab.cyclegan.CycleGAN(*networks, cycle_weight=4.0, identity_weight=1.5,
                                  pool_size=3, seed=11)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    model.save("cyclegan.keras")
    try:
        loaded = keras.models.load_model("cyclegan.keras")
    except Exception as error:  # the message goes to the student
        raise ValueError("keras.models.load_model could not rebuild the saved CycleGAN: "
                         "get_config stores the four networks serialised (from_config is "
                         f"given). Keras said: {type(error).__name__}: {error}"[:700]) from None
    x = tensor(rng.uniform(size=(2, *SHAPE)))
    names = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")
    return {"class": type(loaded).__name__,
            # json: a setting the reload lost may be None (or missing: "absent").
            "settings": json.dumps([setting(loaded, k) for k in
                                    ("cycle_weight", "identity_weight", "pool_size", "seed")]),
            "outputs": np.stack([np.asarray(n(x)).reshape(-1)[:32] for n in networks]),
            "loaded": np.stack([np.asarray(getattr(loaded, k)(x)).reshape(-1)[:32]
                                for k in names])}


@cyclegan_saves_and_loads.verdict
def _(student, reference):
    if student["class"] != "CycleGAN":
        raise CheckFailed(f"load_model gave a {student['class']}, not a CycleGAN")
    settings = json.loads(student["settings"])
    expect_true(settings == [4.0, 1.5, 3.0, 11.0],
                "the reloaded CycleGAN has (cycle_weight, identity_weight, pool_size, seed) = "
                f"({', '.join(shown(v) for v in settings)}); saved with (4, 1.5, 3, 11): "
                "get_config must store them")
    expect_close(student["loaded"], student["outputs"], "the reloaded CycleGAN's four networks "
                 "(G, F, D_X, D_Y in this order)", against="the saved model's")
