"""GPU checks of lab13b_image_translation (autograder/gpu.py): the student's own U-Net and
PatchGAN, trained at a scale a CPU grading run cannot afford, on larger drawings and
paintings (dlkit.data.translation, generated): Pix2Pix on 64x64 sketch/painting pairs,
CycleGAN on 32x32 unpaired silhouettes and paintings. Both are judged by the test L1 of the
translations of held-out drawings against their paintings, next to the reference trained the
same way on the same device."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

# Pix2Pix at 64x64: a U-Net of 4 levels (32, 64, 128, 256) and a 3-block PatchGAN (64, 128,
# 256; 22x22-pixel patches). About 0.2 GFLOP forward per image for G, 0.1 for D on each of
# its two inputs; a training image costs about 1 GFLOP. 4 000 steps of 64: 260 TFLOP, under
# a minute at 10 % of a T4 in float16, with XLA.
PIX2PIX = {"size": 64, "train": 8_000, "steps": 4_000, "batch": 64, "g": (32, 64, 128, 256),
           "d": (64, 128, 256), "l1_weight": 100.0, "learning_rate": 2e-4}
# CycleGAN at 32x32: two 3-level U-Nets (32, 64, 128), two 2-block PatchGANs (64, 128). Six
# generator and six discriminator passes a step, about 0.5 GFLOP per image and step; 4 000
# steps of 32: 65 TFLOP, latency-bound: about a minute.
CYCLEGAN = {"size": 32, "train": 8_000, "steps": 4_000, "batch": 32, "g": (32, 64, 128),
            "d": (64, 128), "learning_rate": 2e-4}
TEST = 1_000
MARGIN = 0.03     # test L1 within 0.03 of the reference's
FACTOR = 1.25     # and within 25 % of it


def adam(learning_rate):
    """Adam as Pix2Pix and CycleGAN train (beta_1 = 0.5), wrapped for loss scaling as Keras
    wraps model.optimizer."""
    import keras

    from autograder.readiness import scaled_like_keras
    return scaled_like_keras(keras.optimizers.Adam(learning_rate, beta_1=0.5))


def widths(lab, filters):
    """The filters at scale, narrower under the smoke test, where a CPU runs them."""
    return tuple(4 for _ in filters) if lab.gpu.smoke else filters


def translation_l1(lab, generator, test, source):
    return float(np.mean(np.abs(lab.gpu.outputs(generator, test[source]) - test["paintings"])))


def training_data(data, source, run, rng):
    import tensorflow as tf
    batch = min(run["batch"], len(data[source]))
    return (tf.data.Dataset.from_tensor_slices((data[source], data["paintings"]))
            .shuffle(len(data[source]), seed=int(rng.integers(1 << 30))).repeat()
            .batch(batch, drop_remainder=True))


def judge(student, reference, model):
    l1, target = student["l1"], reference["l1"]
    expect_true(np.isfinite(l1), f"the {model}'s translations are NaN or inf after training: "
                "a loss diverged (logits not cast to float32, a loss not scaled?)")
    expect_at_most(l1, max(target + MARGIN, FACTOR * target),
                   f"the {model}'s test L1 between translated sketches and their paintings "
                   f"(the reference reaches {target:.3f} with the same training)")


@gpu_check(points=3, minutes=1.0, uses=("pix2pix",),
           task="`unet_generator`, `patch_discriminator`, `Pix2Pix`",
           hint="Pix2Pix at 64x64: a 4-level U-Net and a 3-block PatchGAN; check the skips, "
                "the conditioning and each optimizer's scale_loss")
def pix2pix_at_scale(lab, rng):
    """Your U-Net (4 levels) and PatchGAN (3 blocks) as Pix2Pix on 8 000 pairs of 64x64
    sketches and paintings, 4 000 steps of 64 (Adam 2e-4, β1 = 0.5, mixed precision, XLA):
    the test L1 of the translations of 1 000 held-out sketches within 0.03 (or 25 %) of the
    reference's."""
    from dlkit.data import make_translation_pairs
    run = PIX2PIX
    seed = int(rng.integers(1 << 30))
    shape = (run["size"], run["size"], 3)
    train = make_translation_pairs(lab.gpu.examples(run["train"]), size=run["size"], seed=seed)
    test = make_translation_pairs(lab.gpu.examples(TEST), size=run["size"], seed=seed + 1)
    model = lab.pix2pix.Pix2Pix(
        lab.pix2pix.unet_generator(shape, 3, widths(lab, run["g"])),
        lab.pix2pix.patch_discriminator(shape, source_shape=shape, filters=widths(lab, run["d"])),
        l1_weight=run["l1_weight"])
    lab.gpu.compile(model, None, g_optimizer=adam(run["learning_rate"]),
                    d_optimizer=adam(run["learning_rate"]))
    model.fit(training_data(train, "sketches", run, rng), epochs=1,
              steps_per_epoch=lab.gpu.steps(run["steps"]), verbose=0)
    return {"l1": translation_l1(lab, model.generator, test, "sketches")}


@pix2pix_at_scale.verdict
def _(student, reference):
    judge(student, reference, "Pix2Pix")


@gpu_check(points=3, minutes=1.5, uses=("pix2pix", "cyclegan"),
           task="`ImageHistory`, `CycleGAN` (with your U-Nets and PatchGANs)",
           hint="CycleGAN at 32x32 with your U-Nets and PatchGANs: check the cycle and identity "
                "pairings, the LSGAN targets, the histories and each optimizer's scale_loss")
def cyclegan_at_scale(lab, rng):
    """Your CycleGAN with your U-Nets (3 levels) and PatchGANs (2 blocks) on 8 000 unpaired
    32x32 silhouettes and paintings, 4 000 steps of 32 (Adam 2e-4, β1 = 0.5, mixed
    precision, XLA): the test L1 of G's translations of 1 000 held-out silhouettes against
    their paintings within 0.03 (or 25 %) of the reference's."""
    from dlkit.data import make_translation_pairs, make_unpaired_translation
    run = CYCLEGAN
    seed = int(rng.integers(1 << 30))
    shape = (run["size"], run["size"], 3)
    train = make_unpaired_translation(lab.gpu.examples(run["train"]), size=run["size"],
                                      seed=seed)
    test = make_translation_pairs(lab.gpu.examples(TEST), size=run["size"], seed=seed + 1)
    networks = [lab.pix2pix.unet_generator(shape, 3, widths(lab, run["g"])) for _ in range(2)]
    networks += [lab.pix2pix.patch_discriminator(shape, filters=widths(lab, run["d"]))
                 for _ in range(2)]
    model = lab.cyclegan.CycleGAN(*networks, seed=seed % 1000)
    lab.gpu.compile(model, None, g_optimizer=adam(run["learning_rate"]),
                    d_optimizer=adam(run["learning_rate"]))
    model.fit(training_data(train, "silhouettes", run, rng), epochs=1,
              steps_per_epoch=lab.gpu.steps(run["steps"]), verbose=0)
    return {"l1": translation_l1(lab, model.generator_g, test, "silhouettes")}


@cyclegan_at_scale.verdict
def _(student, reference):
    judge(student, reference, "CycleGAN")
