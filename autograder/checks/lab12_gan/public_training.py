"""Public checks of lab12_gan, part 4: training runs. They train the student's GAN and
ConditionalGAN, with the student's losses, on the check's networks (probes.py), and judge
the samples against held-out data and against the reference trained the same way."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import energy_distance, tensor
from autograder.checks.lab12_gan.probes import (
    MODEL,
    compiled_gan,
    fit_toy_gan,
    judge_training,
    probe_conditional_networks,
    run_step,
    train_toy_gan,
)
from autograder.verdicts import expect_true

TRAINING = ("if training runs but the samples stay away from the data: check the labels in "
            "the losses, that each step updates its own network with its own optimizer, and "
            "that G's step draws a whole batch of fresh noise")


@check(points=3, uses=MODEL, timeout=60, task="your GAN, trained on moons", hint=TRAINING)
def gan_learns_moons(lab, rng):
    """400 steps of fit on "moons": the energy distance of generated samples to held-out
    data at least halves and stays within max(3 x reference, reference + 0.1)."""
    # One hidden layer per network and 400 steps at Adam 2e-3 (not two and 800 at 1e-3):
    # the trace and the steps cost less, and over seeds the reference lands as close.
    return train_toy_gan(lab, rng, "moons", steps=400, learning_rate=2e-3, compact=True)


@gan_learns_moons.verdict
def _(student, reference):
    judge_training(student, reference, "moons")


# The ring: 8 Gaussians of std 0.05 on a circle of radius 2 (dlkit.data.toy2d_modes). A
# sample is of high quality when it lies within 3 std of a mode; a mode is covered when at
# least 1 % of the samples land on it.
RING_STEPS, RING_LEARNING_RATE, RING_SAMPLES, RING_SNAPSHOTS = 800, 2e-3, 2000, 4
# Over training seeds the reference covers 7-8 modes with 33-57 % high-quality samples
# (medians of the last 4 tenths). A correct GAN that draws its noise in another order (another
# stream) is a GAN at another seed: over 22 noise streams at the check's seed the reference
# covered 5 to 8 modes with 16 to 40 % (8 with 35 % on its own stream). Collapsed GANs (fakes of
# latent_dim rows in G's step, swapped labels) cover 0-2 modes with at most 5 %.
RING_MODE_MARGIN, RING_QUALITY_FRACTION = 4, 0.25


@check(points=2, uses=MODEL, timeout=60, task="your GAN, trained on the ring",
       hint="if training runs but the samples collapse onto a few modes: G's step must draw "
            "a whole batch of fresh noise (tf.shape(real)[0] fakes), each network is updated "
            "by its own optimizer, and the losses' labels are right")
def gan_covers_the_ring(lab, rng):
    """800 steps of fit on the ring of 8 Gaussians: at most 4 modes fewer covered than the
    reference, and at least a quarter of its share of samples within 3 std of a mode."""
    from dlkit.data import toy2d_mode_counts
    _, _, samples = fit_toy_gan(lab, rng, "ring", RING_STEPS, learning_rate=RING_LEARNING_RATE,
                                num_samples=RING_SAMPLES)
    counts = [toy2d_mode_counts(s, "ring") if np.all(np.isfinite(s)) else np.zeros(8, int)
              for s in samples[-RING_SNAPSHOTS:]]
    return {"counts": np.stack(counts), "samples": RING_SAMPLES}


def ring_coverage(output):
    """(modes covered, fraction of high-quality samples): medians over the snapshots."""
    counts = np.asarray(output["counts"])
    covered = (counts >= 0.01 * output["samples"]).sum(axis=1)
    quality = counts.sum(axis=1) / output["samples"]
    return float(np.median(covered)), float(np.median(quality))


@gan_covers_the_ring.verdict
def _(student, reference):
    (covered, quality), (target_covered, target_quality) = (ring_coverage(student),
                                                            ring_coverage(reference))
    found = (f"after {RING_STEPS} steps on the ring of 8 Gaussians, the GAN covers "
             f"{covered:g} modes with {quality:.0%} of its samples within 3 std of a mode "
             f"(medians of the last {RING_SNAPSHOTS} tenths); the reference covers "
             f"{target_covered:g} with {target_quality:.0%}")
    expect_true(covered >= target_covered - RING_MODE_MARGIN,
                f"{found}: mode collapse, the bar is {target_covered - RING_MODE_MARGIN:g} modes")
    expect_true(quality >= RING_QUALITY_FRACTION * target_quality,
                f"{found}: too few samples on the modes, the bar is "
                f"{RING_QUALITY_FRACTION * target_quality:.0%}")


CGAN_STEPS, CGAN_LEARNING_RATE, CGAN_PER_CLASS = 400, 2e-3, 300
# The reference's samples land in the requested moon 99-100 % of the time (k-nearest
# neighbours among labelled held-out points); a GAN blind to the label lands near 50 %.
CGAN_ACCURACY_MARGIN = 0.15


def nearest_neighbour_classes(points, reference_points, reference_labels, k=15):
    """Majority label of each point's k nearest reference points: (N,) ints."""
    distances = ((points[:, None, :] - reference_points[None, :, :]) ** 2).sum(-1)
    nearest = reference_labels[np.argsort(distances, axis=1)[:, :k]]
    return np.array([np.bincount(row, minlength=reference_labels.max() + 1).argmax()
                     for row in nearest])


@check(points=3, uses=MODEL, timeout=60, task="your ConditionalGAN, trained on labelled moons",
       hint="if training runs but the samples ignore the moon asked for: the fakes in D's "
            "step carry the labels of the real batch, and D sees the real samples with their "
            "own labels")
def cgan_follows_requested_class(lab, rng):
    """400 steps of fit on labelled moons: the share of samples that land in the moon
    requested is at most 15 points below the reference's, and the samples are within
    max(3 x reference, reference + 0.1) of the data in energy distance."""
    from dlkit.data import arrays_dataset, toy2d_classification
    seed = int(rng.integers(1 << 30))
    x, y = toy2d_classification("moons", 4096, seed=seed)
    heldout_x, heldout_y = toy2d_classification("moons", 1000, seed=seed + 1)
    generator, discriminator = probe_conditional_networks(num_classes=2)
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2,
                       learning_rate=CGAN_LEARNING_RATE, num_classes=2, steps_per_execution=20)
    dataset = arrays_dataset((x, y), batch_size=128, seed=seed, repeat=True)
    run_step("training (fit)", gan.fit, dataset, epochs=1, steps_per_epoch=CGAN_STEPS,
             verbose=0)
    requested = np.repeat(np.arange(2), CGAN_PER_CLASS).astype("int32")
    samples = np.asarray(gan((tensor(rng.normal(size=(len(requested), 2))), requested)))
    finite = bool(np.all(np.isfinite(samples)))
    classes = (nearest_neighbour_classes(samples, heldout_x, heldout_y) if finite
               else np.full(len(requested), -1))
    return {"samples": samples, "requested": requested, "classes": classes, "finite": finite,
            "heldout": heldout_x}


def requested_class_accuracy(output):
    return float(np.mean(np.asarray(output["classes"]) == np.asarray(output["requested"])))


@cgan_follows_requested_class.verdict
def _(student, reference):
    expect_true(student["finite"], "after training, the ConditionalGAN's samples contain NaN "
                "or inf: the training diverged")
    accuracy, target = requested_class_accuracy(student), requested_class_accuracy(reference)
    expect_true(accuracy >= target - CGAN_ACCURACY_MARGIN,
                f"after {CGAN_STEPS} steps, {accuracy:.0%} of the samples land in the moon "
                f"requested (by their nearest held-out points); the reference reaches "
                f"{target:.0%}, the bar is {target - CGAN_ACCURACY_MARGIN:.0%}")
    reached = energy_distance(student["samples"], student["heldout"])
    wanted = energy_distance(reference["samples"], reference["heldout"])
    ceiling = max(3.0 * wanted, wanted + 0.1)
    expect_true(reached <= ceiling, f"the ConditionalGAN's samples (both moons together) are at "
                f"energy distance {reached:.3g} from held-out data, needs at most {ceiling:.3g} "
                f"(the reference: {wanted:.3g})")
