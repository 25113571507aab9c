"""Public checks of lab13b_image_translation, part 1: Pix2Pix (pix2pix.py). The blocks against
Keras layers with copied weights; the U-Net and the PatchGAN assembled from stand-in blocks,
judged by where gradients flow (skips, patch windows) and by outputs on fixed weights; the
receptive field against gradients through convolution stacks; the losses against numpy; the
train_step on the checks' networks with stand-in losses and SGD."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in, tensor
from autograder.checks.lab13b_image_translation.probes import (
    PIX2PIX,
    standin_blocks,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_shape,
    expect_true,
)

BLOCKS = {"downsample": (5, (2, 8, 6, 3), (2, 4, 3, 5)), "upsample": (4, (2, 3, 4, 5), (2, 6, 8, 4))}


@check(points=1, uses=PIX2PIX, reference=False, task="`downsample`, `upsample`",
       hint="downsample: Conv2D(filters, 4, strides=2, padding='same') then "
            "LeakyReLU(negative_slope=0.2); upsample: Conv2DTranspose(filters, 4, strides=2, "
            "padding='same') then ReLU")
def unet_blocks(lab, rng):
    """Each block on random inputs, with random weights: its output shape, and its output
    against Keras's own Conv2D / Conv2DTranspose(k=4, strides=2, 'same') with the block's
    weights copied, then LeakyReLU(0.2) / ReLU."""
    import keras
    import tensorflow as tf
    out = {}
    for name, (filters, shape, _) in BLOCKS.items():
        block = getattr(lab.pix2pix, name)(filters)
        x = rng.normal(size=shape).astype("float32")
        block(x)
        assign_random_weights(block, rng, 0.3)
        layer_class = keras.layers.Conv2D if name == "downsample" else keras.layers.Conv2DTranspose
        plain = layer_class(filters, 4, strides=2, padding="same")
        plain.build(shape)
        weights = [w.numpy() for w in block.trainable_weights]
        found = [tuple(w.shape) for w in weights]
        expected = [tuple(w.shape) for w in plain.trainable_weights]
        result = {"output": np.asarray(block(x)), "weights": str(found), "expected": str(expected)}
        if found == expected:
            plain.set_weights(weights)
            linear = plain(x)
            result.update(leaky=tf.nn.leaky_relu(linear, 0.2).numpy(),
                          leaky_default=tf.nn.leaky_relu(linear, 0.3).numpy(),
                          relu=tf.nn.relu(linear).numpy(), linear=linear.numpy())
        out[name] = result
    return out


@unet_blocks.verdict
def _(student, reference):
    for name, (filters, shape, out_shape) in BLOCKS.items():
        got = student[name]
        call = f"{name}({filters}) on inputs {shape}"
        expect_shape(got["output"], out_shape, call)
        expect_true(got["weights"] == got["expected"],
                    f"{call} has weights of shapes {got['weights']}; a 4x4 kernel and a bias "
                    f"have {got['expected']}")
        right, wrong = ("leaky", "relu") if name == "downsample" else ("relu", "leaky")
        mistakes = [(got[wrong], f"that is the activation of the other block: "
                     f"{'LeakyReLU(0.2)' if name == 'downsample' else 'ReLU'} here"),
                    (got["linear"], "that is the convolution without its activation"),
                    (got["leaky_default"], "LeakyReLU's default slope is 0.3: give "
                     "negative_slope=0.2")]
        expect_close_naming(got["output"], got[right], call, mistakes,
                            against="Keras's layer with the same weights")


def silenced(model, levels):
    """Zero the kernel and bias of the stand-in encoder blocks at the given depths (by the
    size of their output), so that nothing passes through them."""
    import keras
    downs = sorted((layer for layer in model.layers
                    if isinstance(layer, keras.layers.Conv2D)
                    and not isinstance(layer, keras.layers.Conv2DTranspose)),
                   key=lambda layer: -layer.output.shape[1])
    for level in levels:
        for weight in downs[level].trainable_weights:
            weight.assign(np.zeros(weight.shape, "float32"))


def support(model, x):
    """Which input pixels each output pixel depends on: (H, W, H, W) booleans."""
    import tensorflow as tf
    x = tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(model(x), axis=-1)[0]
    jacobian = tape.jacobian(y, x)[:, :, 0]
    return (np.abs(jacobian.numpy()).sum(-1) > 0).astype(np.uint8)


def output_of(layer):
    """The tensor a layer called once made; None if it was called never or more often."""
    try:
        return layer.output
    except (AttributeError, ValueError):
        return None


@check(points=3, uses=PIX2PIX, task="`unet_generator`",
       hint="keep every downsample output; going up, Concatenate()([upsample(f)(x), skip]) "
            "with the skip of the SAME resolution, deepest first; not the deepest output itself")
def unet_skip_connections(lab, rng):
    """unet_generator((8, 8, 2), 2, filters (3, 4, 5)) on the checks' own blocks (one tanh
    convolution each): the shapes each Concatenate joins; with every encoder block below the
    first silenced, the output still depends on the input, locally (the first skip), and
    with the deepest silenced, the output pixels depend on the inputs the reference's do;
    on random weights, the reference's output."""
    import keras
    made = []
    with standing_in(lab.pix2pix, **standin_blocks(2, made)):
        model = lab.pix2pix.unet_generator((8, 8, 2), out_channels=2, filters=(3, 4, 5))
    concatenations = [layer for layer in model.layers
                      if isinstance(layer, keras.layers.Concatenate)]
    joins = [[tuple(int(d) for d in t.shape[1:]) for t in layer.input] for layer in concatenations]
    # Which block made each joined tensor (each stand-in block is called once, so its
    # `output` is the tensor it made): the upsampled features first, then the skip.
    blocks = {"down": "downsample", "up": "upsample"}
    sources = [[next((blocks[kind] for kind, block in made if output_of(block) is t),
                     "another layer") for t in layer.input] for layer in concatenations]
    x = rng.normal(size=(2, 8, 8, 2)).astype("float32")
    assign_random_weights(model, rng, 0.5)
    output = np.asarray(model(x))
    saved = [w.numpy() for w in model.weights]
    silenced(model, [1, 2])
    fine = support(model, x[:1])
    model.set_weights(saved)
    silenced(model, [2])
    skips = support(model, x[:1])
    return {"joins": str(joins), "sources": str(sources), "output": output, "fine": fine,
            "skips": skips}


@unet_skip_connections.verdict
def _(student, reference):
    expect_shape(student["output"], (2, 8, 8, 2), "unet_generator((8, 8, 2), 2, (3, 4, 5)) "
                 "on a batch (2, 8, 8, 2)")
    expect_true(student["joins"] == reference["joins"],
                f"the U-Net's Concatenate layers join tensors of shapes {student['joins']}; "
                f"expected {reference['joins']}: at each shallower level, [the upsampled "
                "features, the skip of that level] (same height and width), deepest first")
    expect_true(student["sources"] == reference["sources"],
                f"the U-Net's Concatenate layers join outputs of {student['sources']}; "
                f"expected {reference['sources']}: [the upsampled features, the skip], in "
                "this order")
    fine = np.asarray(student["fine"])
    expect_true(fine.any(), "with every encoder block below the first silenced, the U-Net's "
                "output no longer depends on its input: the first block's output (the finest "
                "skip) never reaches the decoder. Concatenate it after the last upsample")
    for key, how in (("fine", "every encoder block below the first"), ("skips", "the deepest "
                     "encoder block")):
        got, want = np.asarray(student[key]), np.asarray(reference[key])
        if not np.array_equal(got, want):
            counts = got.reshape(64, 64).sum(1)
            expected = want.reshape(64, 64).sum(1)
            raise CheckFailed(
                f"with {how} silenced, the U-Net's output pixels depend on other input pixels "
                f"than they should (each depends on {counts.min()} to {counts.max()} input "
                f"pixels; expected {expected.min()} to {expected.max()}): each level's skip "
                "must join the decoder at that level's resolution")
    expect_close(student["output"], reference["output"], "the U-Net's output on the checks' "
                 "blocks with the same random weights as the reference's")


STACKS = [((4, 4, 1), (2, 2, 1)), ((3, 3, 3), (1, 1, 1)), ((4, 3, 3, 2), (2, 2, 1, 2)),
          ((5,), (3,))]


def measured_field(kernels, strides, rng):
    """(size, jump) of a stack of 1-D convolutions (tf.nn.convolution, random kernels, no
    padding), measured: the input positions the first two outputs depend on, by gradients."""
    import tensorflow as tf
    length = 4 * int(np.prod(strides)) + int(np.sum(np.array(kernels) * np.prod(strides)))
    x = tensor(rng.normal(size=(1, length, 1)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x
        for k, s in zip(kernels, strides):
            y = tf.nn.convolution(y, tensor(rng.normal(size=(k, 1, 1))), strides=s)
        first, second = y[0, 0, 0], y[0, 1, 0]
    jacobian = np.abs(np.stack([tape.gradient(v, x).numpy().reshape(length)
                                for v in (first, second)])) > 0
    first, second = (np.flatnonzero(row) for row in jacobian)
    return int(first[-1] - first[0] + 1), int(second[0] - first[0])


@check(points=1, uses=PIX2PIX, reference=False, task="`receptive_field`",
       hint="size starts at 1, jump at 1; each layer adds (kernel - 1) * jump to the size, "
            "then multiplies the jump by its stride")
def receptive_field_formula(lab, rng):
    """receptive_field(kernels, strides) on four stacks against the window and the step
    measured by gradients through stacks of 1-D convolutions of those kernels and strides."""
    out = []
    for kernels, strides in STACKS:
        got = lab.pix2pix.receptive_field(list(kernels), list(strides))
        out.append({"got": [int(v) for v in got], "measured": measured_field(kernels, strides, rng),
                    "kernels": kernels, "strides": strides})
    return {"stacks": out}


@receptive_field_formula.verdict
def _(student, reference):
    for case in student["stacks"]:
        kernels, strides = case["kernels"], case["strides"]
        call = f"receptive_field({list(kernels)}, {list(strides)})"
        got, measured = tuple(case["got"]), tuple(case["measured"])
        if got == measured:
            continue
        plain = 1 + sum(k - 1 for k in kernels)
        hint = (" (the kernels' growth added without multiplying by the jump so far)"
                if got[0] == plain else "")
        raise CheckFailed(f"{call} returned (size, jump) = {got}; gradients through 1-D "
                          f"convolutions of those kernels and strides measure {measured}{hint}")


def patch_windows(model, inputs):
    """For every patch logit, the rows and columns of each input it depends on:
    (h, w, inputs, 4) as (first row, last row, first col, last col), -1 when none."""
    import tensorflow as tf
    tensors = [tensor(x) for x in inputs]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        logits = model(tensors if len(tensors) > 1 else tensors[0])[0, ..., 0]
    h, w = logits.shape
    boxes = np.full((h, w, len(tensors), 4), -1, dtype=np.int64)
    for k, jacobian in enumerate(tape.jacobian(logits, tensors)):
        if jacobian is None:   # the logits do not depend on this input at all
            continue
        seen = np.abs(jacobian.numpy()[:, :, 0]).sum(-1) > 0          # (h, w, H, W)
        for i in range(h):
            for j in range(w):
                rows, cols = np.flatnonzero(seen[i, j].any(1)), np.flatnonzero(seen[i, j].any(0))
                if rows.size:
                    boxes[i, j, k] = rows[0], rows[-1], cols[0], cols[-1]
    return boxes


@check(points=3, uses=PIX2PIX, task="`patch_discriminator`",
       hint="[source, image] -> Concatenate() -> downsample(f) for each f -> Conv2D(1, 1): one "
            "logit per patch, no Flatten or Dense; without source_shape, the image alone")
def patch_discriminator_windows(lab, rng):
    """patch_discriminator on 16x16 images with filters (3, 4), on the checks' own blocks
    (4x4 stride-2 tanh convolutions): 4x4 logits; each patch logit depends on exactly its
    10x10 window of the image (rows 4i - 3 to 4i + 6, clipped) and, conditioned, of the
    source too; on random weights, the reference's logits."""
    with standing_in(lab.pix2pix, **standin_blocks(4)):
        conditional = lab.pix2pix.patch_discriminator((16, 16, 2), source_shape=(16, 16, 1),
                                                      filters=(3, 4))
        plain = lab.pix2pix.patch_discriminator((16, 16, 2), filters=(3, 4))
    source = rng.normal(size=(2, 16, 16, 1)).astype("float32")
    image = rng.normal(size=(2, 16, 16, 2)).astype("float32")
    out = {}
    for name, model, inputs in (("conditional", conditional, [source, image]),
                                ("plain", plain, [image])):
        # Small weights: no tanh saturates to a gradient of exactly zero.
        assign_random_weights(model, rng, 0.3)
        logits = np.asarray(model(inputs if len(inputs) > 1 else image))
        out[name] = {"logits": logits, "windows": patch_windows(model, [x[:1] for x in inputs])}
    return out


def expected_window(i, j, size=16):
    rows = max(4 * i - 3, 0), min(4 * i + 6, size - 1)
    cols = max(4 * j - 3, 0), min(4 * j + 6, size - 1)
    return (*rows, *cols)


@patch_discriminator_windows.verdict
def _(student, reference):
    for name, inputs in (("conditional", ("source", "image")), ("plain", ("image",))):
        got = student[name]
        call = ("patch_discriminator((16, 16, 2), source_shape=(16, 16, 1), filters=(3, 4))"
                if name == "conditional" else "patch_discriminator((16, 16, 2), filters=(3, 4))")
        expect_shape(got["logits"], (2, 4, 4, 1), f"the logits of {call} (one per 4x4-pixel "
                     "step of the image; no Flatten, no Dense)")
        windows = np.asarray(got["windows"])
        for k, what in enumerate(inputs):
            if name == "conditional" and what == "source" and np.all(windows[..., k, :] < 0):
                raise CheckFailed(f"the logits of {call} do not depend on the source: a "
                                  "Pix2Pix discriminator is conditioned on it (Concatenate "
                                  "[source, image] along the channels, then the blocks)")
            for i in range(4):
                for j in range(4):
                    want, seen = expected_window(i, j), tuple(int(v) for v in windows[i, j, k])
                    if seen != want:
                        raise CheckFailed(
                            f"{call}: patch ({i}, {j}) depends on rows {seen[0]}..{seen[1]}, "
                            f"cols {seen[2]}..{seen[3]} of the {what}; expected rows "
                            f"{want[0]}..{want[1]}, cols {want[2]}..{want[3]}: each logit "
                            "sees its own 10x10 window (two 4x4 stride-2 blocks, then a 1x1 "
                            "convolution)")
        expect_close(got["logits"], reference[name]["logits"], f"the logits of {call} on the "
                     "checks' blocks with the reference's random weights ([source, image], "
                     "in this order)")
