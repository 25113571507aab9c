"""Public checks of lab04_regularization, part 2: shifts and the random-shift layer
(augmentation.py). Shifts are compared with the reference (probes.py names a shift the wrong
way, swapped axes, a wrap-around); the random layer is judged on its invariants."""
import numpy as np

from autograder.api import check
from autograder.checks.lab04_regularization.probes import identify_shifts, judge_shift
from autograder.verdicts import expect_close, expect_shape, expect_true


@check(points=2, uses="augmentation", task="`shift_images` (augmentation.py)",
       hint="out[n, i, j] = images[n, i - dy_n, j - dx_n] (zeros where that is outside): "
            "e.g. ops.einsum with the given shift_matrices")
def shift_images(lab, rng):
    """Six 8x8 images, each shifted by its own offsets (one pure row shift, one pure column
    shift), against the reference."""
    images = rng.uniform(0.1, 1.0, size=(6, 8, 8, 1)).astype("float32")
    shifts = rng.integers(-3, 4, size=(6, 2)).astype("int32")
    shifts[0] = (2, 0)   # one pure row shift and one pure column shift, named in messages
    shifts[1] = (0, -1)
    return {"images": images, "shifts": shifts,
            "out": lab.augmentation.shift_images(images, shifts)}


@shift_images.verdict
def _(student, reference):
    judge_shift(student, reference, "shift_images(images (6, 8, 8, 1), shifts)")



RANDOM_SHIFT = {"max_shift": 2, "images": 300}


@check(points=2, reference=False, uses="augmentation", task="`RandomShift.call`",
       hint="RandomShift.call: in training draw (N, 2) offsets with keras.random.randint(shape, "
            "-max_shift, max_shift + 1, seed=self.seed_generator), then shift_images; at "
            "inference return the images")
def random_shift_layer(lab, rng):
    """Identity at inference; in training every output is its image shifted by at most 2
    pixels per axis, all 25 offsets occur over 300 images, new offsets per call, the same
    for the same seed."""
    images = rng.uniform(0.1, 1.0, size=(RANDOM_SHIFT["images"], 6, 6, 1)).astype("float32")
    layer = lab.augmentation.RandomShift(RANDOM_SHIFT["max_shift"], seed=11)
    twin = lab.augmentation.RandomShift(RANDOM_SHIFT["max_shift"], seed=11)
    return {"images": images, "inference": layer(images), "call_1": layer(images, training=True),
            "call_2": layer(images, training=True), "twin": twin(images, training=True)}


@random_shift_layer.verdict
def _(student, _reference):
    images = np.asarray(student["images"])
    limit = RANDOM_SHIFT["max_shift"]
    expect_close(student["inference"], images, "RandomShift(2)(images) at inference", rtol=0,
                 atol=0)
    what = "RandomShift(2)(images, training=True)"
    out = expect_shape(student["call_1"], images.shape, what)
    shifts = identify_shifts(images, out, limit)
    bad = np.flatnonzero(shifts[:, 0] == 99)
    expect_true(len(bad) == 0, f"{what}: {len(bad)} of {len(images)} outputs (first: image "
                f"{bad[0] if len(bad) else 0}) are not the image shifted by integer offsets in "
                f"[-{limit}, {limit}] with zeros filling in")
    seen = {tuple(s) for s in shifts}
    expect_true(len(seen) == (2 * limit + 1) ** 2,
                f"over {len(images)} images, {what} used {len(seen)} of the "
                f"{(2 * limit + 1) ** 2} possible offsets: draw dy and dx independently, per "
                f"image, uniformly from -{limit} to {limit} (randint's maxval is exclusive)")
    second = identify_shifts(images[:40], np.asarray(student["call_2"])[:40], limit)
    expect_true(np.mean(np.any(second != shifts[:40], axis=1)) > 0.5,
                "two training calls of the same RandomShift layer shift the images alike: draw "
                "new offsets per call from the layer's SeedGenerator")
    expect_close(student["twin"], out, "RandomShift(2, seed=11): two layers with the same seed "
                 "(the first call of each)", rtol=0, atol=1e-6)

