"""Public checks of unet.py: FiLM against numpy, the residual block (on the checks' FiLM),
the U-Net (on the checks' residual block and time embedding), and the whole U-Net trained
on digits by the checks' own trainer."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import judge_relative_training, standing_in, tensor
from autograder.checks.lab16_diffusion.probes_unet import (
    UNET,
    baseline_denoiser,
    probe_film_class,
    set_random_weights,
    train_on_digits,
    unet_stand_ins,
    weight_shapes,
)
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
)


@check(reference=False, points=2, uses=UNET, task="`FiLM.call`",
       hint="[gamma, beta] = projection(condition), gamma the first C columns; "
            "(1 + gamma) * h + beta with gamma, beta reshaped to (N, 1, 1, C)")
def film(lab, rng):
    """A new FiLM is the identity; with the checks' weights, (1 + gamma) * h + beta per
    channel against numpy (images with H = W = C, and a non-square one); two conditions give
    two outputs."""
    out = {}
    for name, shape in (("square", (3, 4, 4, 4)), ("wide", (2, 3, 5, 6))):
        channels, dim = shape[-1], 5
        layer = lab.unet.FiLM(channels)
        h = rng.normal(size=shape).astype("float32")
        condition = rng.normal(size=(shape[0], dim)).astype("float32")
        kernel = (0.5 * rng.normal(size=(dim, 2 * channels))).astype("float32")
        bias = (0.5 * rng.normal(size=2 * channels)).astype("float32")
        other = rng.normal(size=condition.shape).astype("float32")
        out.update({f"{name}_h": h, f"{name}_condition": condition, f"{name}_kernel": kernel,
                    f"{name}_bias": bias, f"{name}_other": other})
        try:    # the square case is judged first, even when this one crashes
            out[f"{name}_fresh"] = np.asarray(layer(tensor(h), tensor(condition)))
            layer.projection.set_weights([kernel, bias])
            out.update({f"{name}_out": np.asarray(layer(tensor(h), tensor(condition))),
                        f"{name}_out_other": np.asarray(layer(tensor(h), tensor(other)))})
        except Exception as error:   # noqa: BLE001
            out[f"{name}_error"] = f"{type(error).__name__}: {str(error)[:200]}"
    return out


def _along(n, c, axis):
    """The shape (N, 1, 1, 1) with C at `axis`: per-channel numbers reshaped along it."""
    shape = [n, 1, 1, 1]
    shape[axis] = c
    return shape


@film.verdict
def _(student, reference):
    for name in ("square", "wide"):
        h = np.asarray(student[f"{name}_h"], dtype=np.float64)
        expect_true(f"{name}_error" not in student, f"FiLM(h, condition) on h of shape "
                    f"{h.shape} fails: {student.get(f'{name}_error')}")
        c = h.shape[-1]
        fresh = np.asarray(student[f"{name}_fresh"], dtype=np.float64)
        if fresh.shape == h.shape and not fresh.any() and f"{name}_out" in student:
            params = (np.asarray(student[f"{name}_condition"], dtype=np.float64)
                      @ student[f"{name}_kernel"] + student[f"{name}_bias"])
            if np.allclose(student[f"{name}_out"], params[:, None, None, :c] * h
                           + params[:, None, None, c:], rtol=1e-4, atol=1e-5):
                raise CheckFailed("FiLM(h, c) of a new FiLM (the projection starts at zero) "
                                  "is all zeros where it must return h unchanged, and with the "
                                  "checks' weights it gives gamma * h + beta: the handout's FiLM "
                                  "is (1 + gamma) * h + beta, so that (1 + 0) * h + 0 = h")
        expect_close(fresh, h, "FiLM(h, c) of a new FiLM (the projection "
                     "starts at zero: it must return h unchanged, (1 + 0) * h + 0)")
        for key, cond in (("out", "condition"), ("out_other", "other")):
            params = (np.asarray(student[f"{name}_{cond}"], dtype=np.float64)
                      @ student[f"{name}_kernel"] + student[f"{name}_bias"])
            scale, shift = params[:, :c], params[:, c:]
            per_channel = lambda v: v.reshape(len(v), 1, 1, c)      # noqa: E731
            expected = (per_channel(scale) + 1.0) * h + per_channel(shift)
            mistakes = [(per_channel(scale) * h + per_channel(shift),
                         "gamma * h + beta: the handout's FiLM is (1 + gamma) * h + beta")]
            mistakes.append(((per_channel(shift) + 1.0) * h + per_channel(scale),
                             "gamma and beta swapped: gamma is the FIRST C columns"))
            if h.shape[1] == h.shape[2] == c:
                along = {3: "the channels", 1: "the height", 2: "the width"}
                for g_axis in along:
                    for b_axis in along:
                        if g_axis == b_axis == 3:
                            continue
                        wrong = ((scale.reshape(_along(len(h), c, g_axis)) + 1.0) * h
                                 + shift.reshape(_along(len(h), c, b_axis)))
                        which = [f"{name} varies along {along[axis]}"
                                 for name, axis in (("gamma", g_axis), ("beta", b_axis))
                                 if axis != 3]
                        mistakes.append((wrong, " and ".join(which) + ", not the channels: "
                                         "reshape gamma and beta to (N, 1, 1, C)"))
            expect_close_naming(student[f"{name}_{key}"], expected,
                                f"FiLM(h, condition) on h of shape {h.shape}", mistakes,
                                advice="(1 + gamma) * h + beta per example and channel",
                                rtol=1e-4, atol=1e-5)
        expect_true(not np.allclose(student[f"{name}_out"], student[f"{name}_out_other"]),
                    "FiLM gives the same output for two conditions: the condition must reach it")


@check(points=1, uses=UNET, task="`ResidualBlock.call`",
       hint="r = conv_1(silu(h)); r = film(r, condition); r = conv_2(silu(r)); skip(h) + r")
def residual_block(lab, rng):
    """A block from 3 to 6 channels with the checks' weights, and a FiLM of the checks' (known,
    other behaviour: an added projection), against the reference."""
    with standing_in(lab.unet, FiLM=probe_film_class()):
        block = lab.unet.ResidualBlock(6)
    h = tensor(rng.normal(size=(2, 4, 4, 3)))
    condition = tensor(rng.normal(size=(2, 5)))
    block(h, condition)
    set_random_weights(block, rng)
    out = {"out": np.asarray(block(h, condition)), "weights": weight_shapes(block)}
    try:    # the slips, on the block's own layers: none of them is the block
        import keras
        silu = keras.activations.silu
        film = lambda r: block.film(r, condition)        # noqa: E731
        r = block.conv_1(silu(h))
        out.update({
            "no_first_silu": block.skip(h) + block.conv_2(silu(film(block.conv_1(h)))),
            "no_second_silu": block.skip(h) + block.conv_2(film(r)),
            "film_after_conv_2": block.skip(h) + film(block.conv_2(silu(r))),
            "no_skip": block.conv_2(silu(film(r))),
        })
    except Exception:   # noqa: BLE001  (other layer names: no slip to name)
        pass
    return {k: np.asarray(v) if k != "weights" else v for k, v in out.items()}


BLOCK_SLIPS = {
    "no_first_silu": "no silu before conv_1: the block is pre-activation, "
                     "r = conv_1(silu(h))",
    "no_second_silu": "no silu before conv_2: r = conv_2(silu(film(r, condition)))",
    "film_after_conv_2": "FiLM applied after conv_2: it goes between the two convolutions, "
                         "r = film(conv_1(silu(h)), condition), then conv_2(silu(r))",
    "no_skip": "the 1x1 skip is missing: the block returns skip(h) + r",
}


@residual_block.verdict
def _(student, reference):
    paths = [set(w.split(":")[0] for w in x["weights"].splitlines())
             for x in (student, reference)]
    unused = sorted({p.split("/")[-2] for p in paths[1] - paths[0] if "/" in p})
    if unused == ["skip"]:
        raise CheckFailed("ResidualBlock(6) never calls its 1x1 convolution skip (its weights "
                          "are never made): " + BLOCK_SLIPS["no_skip"])
    expect_true(not unused, f"ResidualBlock(6) never calls its layer(s) {', '.join(unused)} "
                "(their weights are never made): use each layer the constructor makes once")
    expect_true(student["weights"] == reference["weights"], "ResidualBlock(6)'s weights "
                f"(path: shape, in order) on (2, 4, 4, 3) inputs are\n{student['weights']}\n"
                f"the reference's\n{reference['weights']}")
    expect_close_naming(student["out"], reference["out"], "ResidualBlock(6)(h, condition) "
                        "with the checks' weights",
                        [(student[k], m) for k, m in BLOCK_SLIPS.items() if k in student],
                        rtol=1e-4, atol=1e-5)


def stand_in_unet(lab, rng, image_shape=(8, 8, 1), num_classes=0):
    """The student's UNetDenoiser on the checks' blocks and time embedding, every weight set
    by the rng."""
    import tensorflow as tf
    with unet_stand_ins(lab):
        net = lab.unet.UNetDenoiser(image_shape=image_shape, base_filters=4, embedding_dim=6,
                                    num_classes=num_classes)
    net(tf.zeros((1,) + tuple(image_shape)), tf.zeros((1,), tf.int32),
        tf.zeros((1,), tf.int32) if num_classes else None)
    set_random_weights(net, rng)
    return net


SHAPE_CASES = (("8x8", (8, 8, 1)), ("16x16, two-channel", (16, 16, 2)))


@check(points=1, uses=UNET, task="`UNetDenoiser.predict_images`",
       hint="two downsamplings and two upsamplings; each up block on "
            "concatenate([upsampled, skip], axis=-1)")
def unet_shapes(lab, rng):
    """On the checks' blocks and time embedding: the output has the input's shape for 8x8
    images, 16x16 images of two channels and flat vectors; the weights' shapes (the up blocks
    see the upsampled features and the skip)."""
    out = {}
    for name, shape in SHAPE_CASES:
        net = stand_in_unet(lab, rng, shape)
        x = tensor(rng.normal(size=(3,) + shape))
        out[name] = np.asarray(net(x, tensor([0, 5, 19], "int32"))).shape
        out[f"{name}_flat"] = np.asarray(net(tensor(np.asarray(x).reshape(3, -1)),
                                             tensor([0, 5, 19], "int32"))).shape
        out[f"{name}_weights"] = weight_shapes(net)
    return {k: (np.asarray(v) if isinstance(v, tuple) else v) for k, v in out.items()}


@unet_shapes.verdict
def _(student, reference):
    for name, shape in SHAPE_CASES:
        expect_equal(tuple(student[name]), (3,) + shape, f"the U-Net's output shape on {name} images")
        expect_equal(tuple(student[f"{name}_flat"]), (3, int(np.prod(shape))),
                     f"the U-Net's output shape on flat {name} vectors")
        got, want = student[f"{name}_weights"].splitlines(), reference[f"{name}_weights"].splitlines()
        for g, w in zip(got, want):
            if g != w and "up_block" in w:
                raise CheckFailed(f"the U-Net's weight {w.split(':')[0]} has shape "
                                   f"{g.split(': ')[-1]}, the reference's {w.split(': ')[-1]}: "
                                   "each up block takes concatenate([upsampled, skip]), with "
                                   "the skip of its own resolution (a skip missing?)")
        expect_true(got == want, f"the U-Net's weights (path: shape) on {name} images differ "
                    "from the reference's: keep the layers the constructor makes, each used once")


@check(points=2, uses=UNET, task="`UNetDenoiser.predict_images`",
       hint="skip_0 = down_block_0(stem(x)); the last up block takes "
            "concatenate([upsample_0(h), skip_0]); no path may skip the full-resolution skip")
def unet_skip_connections(lab, rng):
    """On the checks' blocks, embedding and weights: the output against the reference; then,
    with both downsampling convolutions zeroed, the gradient of the output with respect to
    the input (it reaches the output through skip_0 alone) against the reference's."""
    import tensorflow as tf
    net = stand_in_unet(lab, rng)
    x = tensor(rng.normal(size=(2, 8, 8, 1)))
    t = tensor([3, 17], "int32")
    out = np.asarray(net(x, t))
    for layer in (net.downsample_0, net.downsample_1):
        for weight in layer.weights:
            weight.assign(tf.zeros_like(weight))
    direction = tensor(rng.normal(size=(2, 8, 8, 1)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(net(x, t) * direction)
    return {"out": out, "gradient": np.asarray(tape.gradient(total, x))}


@unet_skip_connections.verdict
def _(student, reference):
    gradient = np.asarray(student["gradient"])
    expect_true(np.abs(gradient).max() > 1e-6,
                "with the downsampling convolutions zeroed, the U-Net's output does not depend "
                "on its input at all: the full-resolution skip (skip_0 from down_block_0, "
                "concatenated before up_block_0) is missing")
    expect_close(student["out"], reference["out"], "the U-Net's output with the checks' blocks "
                 "and weights (check the order: stem, down blocks, middle, up blocks on "
                 "concatenate([upsampled, skip]), head of silu)", rtol=1e-4, atol=1e-5)
    expect_close(gradient, reference["gradient"], "the gradient of the output with respect to "
                 "the input through the full-resolution skip alone", rtol=1e-4, atol=1e-5)


@check(points=1, uses=UNET, task="`UNetDenoiser.predict_images`",
       hint="condition = time_mlp(time_embedding(t)) [+ label_embedding(labels)], passed to "
            "every block; labels=None means the null label num_classes")
def unet_time_conditioning(lab, rng):
    """On the checks' blocks and weights, a conditional U-Net (3 classes): outputs at t = 0
    and 15 for the same images and labels, and with labels, without (= the null label 3),
    against the reference."""
    x = tensor(rng.normal(size=(2, 8, 8, 1)))
    conditional = stand_in_unet(lab, rng, num_classes=3)
    out = {f"t{t}": np.asarray(conditional(x, tensor([t, t], "int32"), tensor([0, 2], "int32")))
           for t in (0, 15)}
    t = tensor([4, 9], "int32")
    out["labels"] = np.asarray(conditional(x, t, tensor([0, 2], "int32")))
    out["no_labels"] = np.asarray(conditional(x, t))
    out["null_labels"] = np.asarray(conditional(x, t, tensor([3, 3], "int32")))
    return out


@unet_time_conditioning.verdict
def _(student, reference):
    expect_true(not np.allclose(student["t0"], student["t15"]), "the U-Net gives the same "
                "output at t = 0 and t = 15: the time embedding must reach every block")
    for key, what in (("t0", "at t = 0"), ("t15", "at t = 15"), ("labels", "with labels"),
                      ("no_labels", "without labels (the null label)")):
        expect_close(student[key], reference[key], f"the U-Net's output {what}",
                     rtol=1e-4, atol=1e-5)
    expect_close(student["no_labels"], student["null_labels"], "a conditional U-Net without "
                 "labels (must equal the null label num_classes)", rtol=1e-5, atol=1e-6)


DIGIT_STEPS = 40
FACTOR, SLACK = 1.06, 0.01


@check(points=2, uses=UNET, timeout=60, task="`FiLM`, `ResidualBlock`, `UNetDenoiser`",
       hint="the U-Net must learn: check FiLM, the blocks and the skips first")
def unet_learns_digits(lab, rng):
    """Your U-Net (width 8; the checks' time embedding) trained 40 steps of batch 64 on the
    8x8 digits by the checks' own loop and stand-in loss: its held-out loss must beat a two-layer
    convolutional baseline's at the same budget, and stay within 1.06 x the reference's."""
    import keras
    seed = int(rng.integers(1 << 30))
    keras.utils.set_random_seed(seed)
    with unet_stand_ins(lab, block=False):
        net = lab.unet.UNetDenoiser(image_shape=(8, 8, 1), base_filters=8, embedding_dim=16)
    before, after = train_on_digits(net, np.random.default_rng(seed), DIGIT_STEPS,
                                    learning_rate=5e-3)
    keras.utils.set_random_seed(seed)
    _, baseline = train_on_digits(baseline_denoiser(16), np.random.default_rng(seed),
                                  DIGIT_STEPS, learning_rate=5e-3)
    return {"before": before, "after": after, "baseline": baseline}


@unet_learns_digits.verdict
def _(student, reference):
    judge_relative_training(student["after"], student["before"], reference["after"],
                            "the U-Net's held-out loss on digits (the checks' stand-in loss)",
                            improve_to=0.8, factor=FACTOR, slack=SLACK)
    expect_at_most(student["after"], student["baseline"] - 0.01,
                   "the U-Net's held-out loss on digits, which must beat the checks' "
                   f"two-layer convolutional baseline ({student['baseline']:.3f})")
