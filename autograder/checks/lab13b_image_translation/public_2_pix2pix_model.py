"""Public checks of lab13b_image_translation, part 2: Pix2Pix's losses (against numpy) and its
model: the train_step on the checks' own networks with stand-in losses and plain SGD, each
network's update against the gradient the check takes itself; saving and loading."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, scalar, tensor
from autograder.checks.lab13b_image_translation.probes import (
    PIX2PIX,
    SGD_RATE,
    critic,
    gradient_wrt,
    logged,
    one_layer,
    run_step,
    sgd_model,
    standin_discriminator_loss,
    standin_generator_loss,
    standin_losses,
    translator,
    weights_of,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_true, expect_update

L1_WEIGHT = 7.0


def softplus(t):
    return np.logaddexp(0.0, np.asarray(t, dtype=np.float64))


@check(points=2, uses=PIX2PIX, reference=False,
       task="`discriminator_loss`, `generator_loss`",
       hint="D: 0.5 * (mean softplus(-real) + mean softplus(fake)); G: adversarial = mean "
            "softplus(-fake), l1 = mean |target - generated|, total = adversarial + "
            "l1_weight * l1")
def pix2pix_losses(lab, rng):
    """The losses on random patch logits (3, 2, 2, 1) and images (3, 4, 4, 2), l1_weight 7,
    against numpy: D's halved cross-entropy (real patches labelled 1, fakes 0), G's
    non-saturating adversarial term, the L1 term, and the total; the message names swapped
    labels, a missing 0.5, the weight on the wrong term, an L2 distance."""
    real, fake = (2 * rng.normal(size=(3, 2, 2, 1)).astype("float32") for _ in range(2))
    generated, target = (rng.uniform(size=(3, 4, 4, 2)).astype("float32") for _ in range(2))
    d_loss = lab.pix2pix.discriminator_loss(tensor(real), tensor(fake))
    result = lab.pix2pix.generator_loss(tensor(fake), tensor(generated), tensor(target),
                                        L1_WEIGHT)
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ValueError("generator_loss must return the three scalars (total, adversarial, "
                         f"l1); it returned {type(result).__name__}")
    names = ("total", "adversarial", "l1")
    return {"d_loss": scalar(d_loss, "discriminator_loss"), "real": real, "fake": fake,
            "generated": generated, "target": target,
            **{name: scalar(value, f"generator_loss's {name}") for name, value in zip(names, result)}}


@pix2pix_losses.verdict
def _(student, reference):
    real, fake = np.asarray(student["real"]), np.asarray(student["fake"])
    generated, target = np.asarray(student["generated"]), np.asarray(student["target"])
    real_term, fake_term = softplus(-real).mean(), softplus(fake).mean()
    expect_close_naming(student["d_loss"], 0.5 * (real_term + fake_term),
                        "discriminator_loss(real, fake)",
                        [(real_term + fake_term, "the sum of the two cross-entropies is "
                          "halved in pix2pix: 0.5 * (...)"),
                         (0.5 * (softplus(real).mean() + softplus(-fake).mean()),
                          "the labels are swapped: real patches are labelled 1 "
                          "(softplus(-real)), fakes 0 (softplus(fake))")],
                        against="numpy's 0.5 * (mean softplus(-real) + mean softplus(fake))")
    adversarial, l1 = softplus(-fake).mean(), np.abs(target - generated).mean()
    expect_close_naming(student["adversarial"], adversarial, "generator_loss's adversarial "
                        "term", [(softplus(fake).mean(), "the fakes are labelled 0 there: "
                                  "G wants D to call them real, softplus(-fake)"),
                                 (-softplus(fake).mean(), "that is the saturating minimax "
                                  "loss; use the non-saturating mean softplus(-fake)")],
                        against="numpy's mean softplus(-fake)")
    expect_close_naming(student["l1"], l1, "generator_loss's l1 term",
                        [(np.square(target - generated).mean(), "that is the mean squared "
                          "error; pix2pix uses the mean ABSOLUTE error (sharper images)"),
                         (np.abs(target - generated).sum(), "a sum: take the mean")],
                        against="numpy's mean |target - generated|")
    expect_close_naming(student["total"], adversarial + L1_WEIGHT * l1,
                        f"generator_loss's total with l1_weight={L1_WEIGHT:g}",
                        [(L1_WEIGHT * adversarial + l1, "l1_weight multiplies the adversarial "
                          "term; it weighs the L1 term: adversarial + l1_weight * l1"),
                         (adversarial + l1, "l1_weight is not applied to the l1 term"),
                         (adversarial + 100 * l1, "the l1_weight passed in is ignored (100 "
                          "used)")],
                        against="adversarial + l1_weight * l1 in numpy")


def pix2pix_on_check_networks(lab, rng, l1_weight=3.0):
    """The student's Pix2Pix on the checks' translator and conditional critic (8x8x2 images,
    random weights), compiled with two SGDs."""
    generator, discriminator = translator((8, 8, 2)), critic((8, 8, 2), (8, 8, 2))
    for network in (generator, discriminator):
        assign_random_weights(network, rng, 0.3)
    model = lab.pix2pix.Pix2Pix(generator, discriminator, l1_weight=l1_weight)
    return sgd_model(model), generator, discriminator


def expected_updates(generator, discriminator, source, target, l1_weight):
    """The gradients each network's step must apply, at the weights before the step, and
    those of known slips (the check's own tape, stand-in losses)."""
    def g_loss(weight=l1_weight, order=("s", "i")):
        generated = generator(source)
        pair = {"s": source, "i": generated}
        return standin_generator_loss(discriminator([pair[k] for k in order]), generated,
                                      target, weight)[0]

    def d_loss():
        generated = generator(source)
        return standin_discriminator_loss(discriminator([source, target]),
                                          discriminator([source, generated]))
    out = {"g": gradient_wrt([generator], g_loss), "d": gradient_wrt([discriminator], d_loss),
           "g_default_weight": gradient_wrt([generator], lambda: g_loss(100.0))}
    before = [v.numpy() for v in discriminator.trainable_variables]
    for v, g in zip(discriminator.trainable_variables,
                    np.split(out["d"], np.cumsum([v.numpy().size for v in
                                                  discriminator.trainable_variables])[:-1])):
        v.assign(v.numpy() - SGD_RATE * g.reshape(v.shape))
    out["g_after_d"] = gradient_wrt([generator], g_loss)
    for v, b in zip(discriminator.trainable_variables, before):
        v.assign(b)
    generated = generator(source)
    out["logs"] = {"g_loss": float(g_loss()), "d_loss": float(d_loss()),
                   "adversarial": float(standin_generator_loss(
                       discriminator([source, generated]), generated, target, l1_weight)[1]),
                   "l1": float(standin_generator_loss(discriminator([source, generated]),
                                                      generated, target, l1_weight)[2])}
    return out


@check(points=3, uses=PIX2PIX, reference=False, task="`Pix2Pix.train_step`",
       hint="one forward pass under two tapes: generated = G(source); D on [source, target] and "
            "[source, generated]; generator_loss(..., self.l1_weight), discriminator_loss; "
            "each optimizer applies the gradients of its own scaled loss to its own network")
def pix2pix_train_step(lab, rng):
    """One train_step on the checks' networks, stand-in losses and SGD: G's update is the
    gradient of generator_loss(D([source, G(source)]), G(source), target, l1_weight) and
    D's the gradient of discriminator_loss(D([source, target]), D([source, G(source)])),
    both at the weights before the step (the check's own tape); fit's logs are the losses."""
    source, target = (rng.uniform(size=(4, 8, 8, 2)).astype("float32") for _ in range(2))
    model, generator, discriminator = pix2pix_on_check_networks(lab, rng)
    expected = expected_updates(generator, discriminator, tensor(source), tensor(target), 3.0)
    g_before, d_before = weights_of(generator), weights_of(discriminator)
    with standin_losses(lab.pix2pix, generator_loss=standin_generator_loss,
                        discriminator_loss=standin_discriminator_loss):
        logs = run_step("Pix2Pix.train_step", model.train_step, (tensor(source), tensor(target)))
    return {"g_update": (g_before - weights_of(generator)) / SGD_RATE,
            "d_update": (d_before - weights_of(discriminator)) / SGD_RATE,
            "logs": logged(logs, "Pix2Pix.train_step"), "expected": expected}


@pix2pix_train_step.verdict
def _(student, reference):
    expected = student["expected"]
    for name in ("g", "d"):
        expect_true(np.abs(student[f"{name}_update"]).max() > 0,
                    f"Pix2Pix.train_step left the {'generator' if name == 'g' else 'discriminator'}"
                    "'s weights unchanged: apply its gradients with its own optimizer")
    expect_update(student["g_update"], expected["g"], "the generator's update in "
                  "Pix2Pix.train_step (stand-in losses, SGD)",
                  "G's gradient is that of generator_loss(D([source, G(source)]), G(source), "
                  "target, self.l1_weight) w.r.t. the generator's variables",
                  mistakes={"after": expected["g_after_d"],
                            "weight": expected["g_default_weight"]},
                  explanations={"after": "it was taken after D's update; take both gradients "
                                         "from the one forward pass, before either update",
                                "weight": "generator_loss was called without self.l1_weight"})
    expect_update(student["d_update"], expected["d"], "the discriminator's update in "
                  "Pix2Pix.train_step (stand-in losses, SGD)",
                  "D's gradient is that of discriminator_loss(D([source, target]), "
                  "D([source, G(source)])) w.r.t. the discriminator's variables: "
                  "[source, image], in this order, for both")
    logs = student["logs"]
    for name, value in expected["logs"].items():
        expect_true(name in logs, f"Pix2Pix.train_step does not log {name!r} (it logs "
                                  f"{sorted(logs)}): update the trackers with g_loss, "
                                  "adversarial, l1 and d_loss")
        expect_close(logs[name], value, f"{name} logged by Pix2Pix.train_step (stand-in losses)",
                     rtol=1e-4, atol=1e-5, against="the stand-in loss's value before the step")


@check(points=1, uses=PIX2PIX, reference=False, task="`Pix2Pix.get_config`",
       hint="get_config: serialize_keras_object for the two networks, and l1_weight "
            "(from_config, given, deserialises them)")
def pix2pix_saves_and_loads(lab, rng):
    """A Pix2Pix (l1_weight 12.5) saved as .keras and loaded back: a Pix2Pix with the same
    l1_weight whose networks compute the same outputs."""
    import keras
    generator, discriminator = one_layer((8, 8, 2)), one_layer((8, 8, 2), (8, 8, 2), stride=2)
    for network in (generator, discriminator):
        assign_random_weights(network, rng, 0.3)
    model = sgd_model(lab.pix2pix.Pix2Pix(generator, discriminator, l1_weight=12.5))
    model.save("pix2pix.keras")
    try:
        loaded = keras.models.load_model("pix2pix.keras")
    except Exception as error:  # the message goes to the student
        raise ValueError("keras.models.load_model could not rebuild the saved Pix2Pix: "
                         "get_config stores the two networks serialised (from_config is "
                         f"given). Keras said: {type(error).__name__}: {error}"[:700]
                         ) from None
    source, image = (tensor(rng.uniform(size=(2, 8, 8, 2))) for _ in range(2))
    return {"class": type(loaded).__name__, "l1_weight": float(loaded.l1_weight),
            "images": np.asarray(generator(source)), "loaded_images": np.asarray(loaded(source)),
            "logits": np.asarray(discriminator([source, image])),
            "loaded_logits": np.asarray(loaded.discriminator([source, image]))}


@pix2pix_saves_and_loads.verdict
def _(student, reference):
    if student["class"] != "Pix2Pix":
        raise CheckFailed(f"load_model gave a {student['class']}, not a Pix2Pix")
    expect_true(student["l1_weight"] == 12.5, f"the reloaded Pix2Pix has l1_weight "
                f"{student['l1_weight']:g}, saved with 12.5 (get_config must store it)")
    expect_close(student["loaded_images"], student["images"], "the reloaded generator's images",
                 against="the saved model's")
    expect_close(student["loaded_logits"], student["logits"], "the reloaded discriminator's "
                 "logits", against="the saved model's")
