"""Hidden checks of lab13b_image_translation: the same ideas on fresh shapes, seeds and pool
sizes. References from the solution, run live."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in, tensor
from autograder.checks.lab13b_image_translation.probes import (
    CYCLEGAN,
    PIX2PIX,
    standin_blocks,
    standin_losses,
    standin_lsgan_generator_loss,
)
from autograder.checks.lab13b_image_translation.public_1_pix2pix import patch_windows
from autograder.checks.lab13b_image_translation.public_3_cyclegan import (
    cycle_model,
    history_replay,
    ids,
)
from autograder.verdicts import expect_close, expect_equal, expect_true


@check(points=1, uses=PIX2PIX, hint="the PatchGAN and receptive_field must follow any number "
       "of blocks: three 4x4 stride-2 blocks and a 1x1 head see 22 x 22 pixels, 8 apart")
def patch_discriminator_three_blocks(lab, rng):
    """patch_discriminator((32, 32, 1), source (32, 32, 2), three blocks) on the checks'
    blocks: each of its 4x4 patches sees rows 8i - 7 to 8i + 14 (clipped) of both inputs;
    receptive_field([4, 4, 4, 1], [2, 2, 2, 1]) is (22, 8)."""
    with standing_in(lab.pix2pix, **standin_blocks(4)):
        model = lab.pix2pix.patch_discriminator((32, 32, 1), source_shape=(32, 32, 2),
                                                filters=(2, 3, 3))
    assign_random_weights(model, rng, 0.3)
    inputs = [rng.normal(size=(1, 32, 32, c)).astype("float32") for c in (2, 1)]
    return {"windows": patch_windows(model, inputs),
            "field": [int(v) for v in lab.pix2pix.receptive_field([4, 4, 4, 1], [2, 2, 2, 1])]}


@patch_discriminator_three_blocks.verdict
def _(student, reference):
    expect_equal(student["field"], [22, 8], "receptive_field([4, 4, 4, 1], [2, 2, 2, 1])")
    windows = np.asarray(student["windows"])
    expect_true(windows.shape[:2] == (4, 4), f"the three-block PatchGAN on 32x32 images gives "
                f"{windows.shape[:2]} patches, expected (4, 4)")
    for i in range(4):
        for j in range(4):
            want = [max(8 * i - 7, 0), min(8 * i + 14, 31), max(8 * j - 7, 0), min(8 * j + 14, 31)]
            for k, what in enumerate(("source", "image")):
                seen = [int(v) for v in windows[i, j, k]]
                if seen == want:
                    continue
                if seen == [-1] * 4:
                    raise CheckFailed(f"patch ({i}, {j}) of the three-block PatchGAN does not "
                                      f"depend on the {what} at all; expected rows "
                                      f"{want[0]}..{want[1]}, cols {want[2]}..{want[3]}")
                raise CheckFailed(f"patch ({i}, {j}) of the three-block PatchGAN sees rows "
                                  f"{seen[0]}..{seen[1]}, cols {seen[2]}..{seen[3]} of the "
                                  f"{what}; expected rows {want[0]}..{want[1]}, cols "
                                  f"{want[2]}..{want[3]}")


@check(points=1, uses=CYCLEGAN, reference=False,
       hint="a pool of 2 fills after two images, whatever the batch; pool_size 0 returns the "
            "batch unchanged")
def image_history_small_pools(lab, rng):
    """ImageHistory(2) queried with batches of 1 and 5, and ImageHistory(0), against the
    numpy replay of the same draws."""
    total, out = 6, {}
    uniforms = rng.uniform(size=total).astype("float32")
    uniforms[2:4] = 0.8, 0.2
    slots = rng.integers(0, 2, size=total).astype("int32")
    for pool_size in (2, 0):
        history = lab.cyclegan.ImageHistory(pool_size, (1, 1, 1), seed=3)
        offset = [0]

        def draw(n):
            start, offset[0] = offset[0], offset[0] + int(n)
            return (tensor(uniforms[start:start + int(n)]),
                    tensor(np.minimum(slots[start:start + int(n)], max(pool_size - 1, 0)), "int32"))
        history.draw = draw
        number, returned = 0, []
        for n in (1, 5):
            batch = np.arange(number + 1, number + n + 1, dtype="float32").reshape(n, 1, 1, 1)
            number += n
            returned.append(ids(np.asarray(history.query(tensor(batch)))))
        out[str(pool_size)] = returned
    return {"queries": out, "uniforms": uniforms, "slots": slots}


@image_history_small_pools.verdict
def _(student, reference):
    replay = history_replay(student["uniforms"], student["slots"], (1, 5), 2)
    expect_equal(np.concatenate(student["queries"]["2"]),
                 np.concatenate([q["returned"] for q in replay]),
                 "the images ImageHistory(2) returns for batches of 1 and 5 (by number)")
    expect_equal(np.concatenate(student["queries"]["0"]), np.arange(1, 7),
                 "the images ImageHistory(0) returns (the batch itself)")


@check(points=1, uses=CYCLEGAN, hint="generator_losses must follow the weights it was built "
       "with and any image shape")
def cyclegan_losses_other_weights(lab, rng):
    """generator_losses on the elementwise stand-ins, 8x8x3 images, cycle_weight 10 and
    identity_weight 5."""
    model = cycle_model(lab, shape=(8, 8, 3), cycle_weight=10.0, identity_weight=5.0)
    x, y = (tensor(rng.uniform(size=(2, 8, 8, 3))) for _ in range(2))
    with standin_losses(lab.cyclegan, lsgan_generator_loss=standin_lsgan_generator_loss):
        losses, _, _ = model.generator_losses(x, y)
    return {name: float(np.asarray(losses[name]))
            for name in ("g_loss", "adversarial", "cycle", "identity")}


@cyclegan_losses_other_weights.verdict
def _(student, reference):
    for name, value in reference.items():
        expect_close(student[name], value, f"generator_losses' {name} (cycle_weight 10, "
                     "identity_weight 5, 8x8x3 images)")


@check(points=1, uses=PIX2PIX, hint="the U-Net must follow any number of levels")
def unet_two_levels(lab, rng):
    """unet_generator((16, 16, 3), 1, filters (4, 6)) on the checks' blocks: its output on
    fixed random weights."""
    with standing_in(lab.pix2pix, **standin_blocks(2)):
        model = lab.pix2pix.unet_generator((16, 16, 3), out_channels=1, filters=(4, 6))
    assign_random_weights(model, rng, 0.5)
    return {"output": np.asarray(model(rng.normal(size=(2, 16, 16, 3)).astype("float32")))}


@unet_two_levels.verdict
def _(student, reference):
    expect_close(student["output"], reference["output"], "unet_generator((16, 16, 3), 1, "
                 "(4, 6))'s output on the checks' blocks with fixed random weights")
