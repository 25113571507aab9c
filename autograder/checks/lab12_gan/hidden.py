"""Hidden checks of lab12_gan: fresh inputs and shapes, references computed from the solution."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import largest_change, snapshot, tensor
from autograder.checks.lab12_gan.probes import (
    LOSSES,
    MODEL,
    NETWORKS,
    compiled_gan,
    judge_training,
    run_step,
    scalar,
    train_toy_gan,
)
from autograder.checks.lab12_gan.public_networks import (
    dcgan_discriminator_probe,
    dcgan_generator_probe,
    judge_dcgan_discriminator,
    judge_dcgan_generator,
)
from autograder.verdicts import expect_close, expect_true


@check(points=1, uses=LOSSES, hint="the losses must work for logits of shape (N,) as well as "
                                  "(N, 1), and for real and fake batches of different sizes")
def losses_on_other_shapes(lab, rng):
    n, m = (int(v) for v in rng.integers(3, 40, size=2))
    real, fake = 6 * rng.normal(size=n), 6 * rng.normal(size=m)
    losses = lab.gan_losses
    out = {"discriminator_loss": scalar(losses.discriminator_loss(tensor(real), tensor(fake)),
                                        "discriminator_loss")}
    for fn in (losses.minimax_generator_loss, losses.non_saturating_generator_loss):
        out[fn.__name__] = scalar(fn(tensor(fake)), fn.__name__)
    return out


@losses_on_other_shapes.verdict
def _(student, reference):
    for name in reference:
        expect_close(student[name], reference[name], f"{name} on logits of shape (N,)")


@check(points=1, uses=NETWORKS, hint="the DCGAN networks must follow image_shape and "
                                     "base_channels: H/4 -> H/2 -> H, any number of channels")
def dcgan_on_16x16_colour_images(lab, rng):
    shape = (16, 16, 3)
    return {"generator": dcgan_generator_probe(lab, rng, latent_dim=5, image_shape=shape,
                                               base_channels=4),
            "discriminator": dcgan_discriminator_probe(lab, rng, image_shape=shape,
                                                       base_channels=4)}


@dcgan_on_16x16_colour_images.verdict
def _(student, reference):
    judge_dcgan_generator(student["generator"], reference["generator"], (16, 16, 3),
                          latent_dim=5, base_channels=4)
    judge_dcgan_discriminator(student["discriminator"], reference["discriminator"], (16, 16, 3))


@check(points=2, uses=MODEL, timeout=60,
       hint="if the samples do not move toward the data, check the labels in both losses "
            "and that each step updates its own network with its own optimizer")
def gan_learns_circles(lab, rng):
    return train_toy_gan(lab, rng, "circles", steps=600)


@gan_learns_circles.verdict
def _(student, reference):
    judge_training(student, reference, "circles")


@check(points=1, reference=False,
       hint="the GAN must train convolutional networks on images just as it trains MLPs on points")
def dcgan_train_step_on_digits(lab, rng):
    from dlkit.data import load_digits
    nets = lab.gan_networks
    generator = nets.make_dcgan_generator(latent_dim=8, image_shape=(8, 8, 1), base_channels=8)
    discriminator = nets.make_dcgan_discriminator(image_shape=(8, 8, 1), base_channels=8)
    gan = compiled_gan(lab, generator, discriminator, latent_dim=8)
    images, _ = load_digits("train")
    batch = images[rng.choice(len(images), 32, replace=False)]
    g_before, d_before = snapshot(generator.weights), snapshot(discriminator.weights)
    moving = snapshot(generator.non_trainable_weights)
    logs = run_step("train_step", gan.train_step, tensor(batch))
    changes = {"discriminator_change": largest_change(d_before, discriminator.weights),
               "generator_change": largest_change(g_before, generator.weights),
               "moving_statistics_change": largest_change(moving,
                                                          generator.non_trainable_weights)}
    d_before = snapshot(discriminator.trainable_weights)
    run_step("generator_step", gan.generator_step, 16)
    return {"logs": {str(k): float(v) for k, v in logs.items()}, **changes,
            "discriminator_change_in_generator_step": largest_change(
                d_before, discriminator.trainable_weights)}


@dcgan_train_step_on_digits.verdict
def _(student, reference):
    logs = student["logs"]
    expect_true(all(np.isfinite(logs.get(k, np.nan)) for k in ("d_loss", "g_loss")),
                f"train_step on DCGAN networks reported {logs}; expected finite d_loss and g_loss")
    for net in ("discriminator", "generator"):
        expect_true(student[f"{net}_change"] > 0,
                    f"one train_step of the DCGAN left the {net}'s weights unchanged")
    expect_true(student["moving_statistics_change"] > 0,
                "one train_step of the DCGAN left the moving statistics of the generator's "
                "BatchNormalization unchanged: the steps must call the networks with "
                "training=True")
    expect_true(student["discriminator_change_in_generator_step"] == 0,
                "generator_step changed the DCGAN discriminator's weights: D must stay fixed "
                "in G's step")


@check(points=1, uses=NETWORKS, hint="the conditional builders must follow num_classes, "
                                     "data_dim, hidden_units and depth")
def conditional_networks_other_sizes(lab, rng):
    nets = lab.gan_networks
    generator = nets.make_conditional_mlp_generator(latent_dim=4, num_classes=5, data_dim=3,
                                                    hidden_units=16, depth=3)
    discriminator = nets.make_conditional_mlp_discriminator(num_classes=5, data_dim=3,
                                                            hidden_units=16, depth=3)
    y = tensor(np.eye(5, dtype="float32")[rng.integers(0, 5, size=9)])
    return {"samples": generator([tensor(rng.normal(size=(9, 4))), y]),
            "logits": discriminator([tensor(rng.normal(size=(9, 3))), y]),
            "parameters": [generator.count_params(), discriminator.count_params()]}


@conditional_networks_other_sizes.verdict
def _(student, reference):
    expect_true(np.shape(student["samples"]) == (9, 3) and np.shape(student["logits"]) == (9, 1),
                f"with num_classes=5 and data_dim=3 the conditional generator gives shape "
                f"{np.shape(student['samples'])} (expected (9, 3)) and the discriminator "
                f"{np.shape(student['logits'])} (expected (9, 1))")
    expect_true(list(student["parameters"]) == list(reference["parameters"]),
                f"the conditional networks (num_classes=5, data_dim=3, hidden_units=16, "
                f"depth=3) have {list(student['parameters'])} parameters (generator, "
                f"discriminator), the reference {list(reference['parameters'])}")
