"""Public checks of lab12_gan, part 2: the networks of gan_networks.py.

Each builder is checked on its shapes and parameter count, and then with the same random
weights as the reference (drawn in the order of the model's weights): its outputs must then
be the reference's, which pins down the activations and the order of the layers.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, tensor
from autograder.checks.lab12_gan.probes import NETWORKS, expect_close_or, sigmoid
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

SAME_WEIGHTS = "with the same random weights as the reference"


def mlp_forward(weights, x, hidden, output=lambda h: h):
    """A Dense stack in numpy: weights [kernel, bias, kernel, bias, ...]."""
    h = np.asarray(x, dtype=np.float64)
    pairs = list(zip(weights[0::2], weights[1::2]))
    for kernel, bias in pairs[:-1]:
        h = hidden(h @ kernel + bias)
    kernel, bias = pairs[-1]
    return output(h @ kernel + bias)


def leaky(slope):
    return lambda h: np.where(h > 0, h, slope * h)


def relu(h):
    return np.maximum(h, 0.0)


def judge_activations(student, net, what, candidates):
    """The outputs with random weights match the reference's; if not, name the activation
    they were computed with, trying each of `candidates` (name, hidden, output)."""
    got, want = student[f"{net}_fixed"], None
    try:
        expect_close(got, student[f"{net}_expected"], f"{what} {SAME_WEIGHTS}")
        return
    except CheckFailed as failure:
        want = failure
    weights = [np.asarray(w, dtype=np.float64) for w in student[f"{net}_weights"]]
    for name, hidden, output in candidates:
        try:
            guess = mlp_forward(weights, student[f"{net}_input"], hidden, output)
        except ValueError:  # weights that are not a plain Dense stack
            break
        if np.allclose(np.asarray(got, dtype=np.float64), guess, rtol=1e-3, atol=1e-4):
            raise CheckFailed(f"{what} {SAME_WEIGHTS} computes {name}") from None
    raise want


@check(points=1, uses=NETWORKS, task="`make_mlp_generator`, `make_mlp_discriminator`",
       hint="G: `depth` Dense(hidden_units, relu) then a linear Dense(data_dim); "
            "D: `depth` Dense + LeakyReLU(negative_slope=0.2) then Dense(1) with no "
            "activation (logits)")
def mlp_networks(lab, rng):
    """Output shapes, parameter counts and logits (not probabilities); then, with the same
    random weights as the reference, the same samples and logits (ReLU in G, LeakyReLU(0.2)
    in D, no output activation)."""
    nets = lab.gan_networks
    generator = nets.make_mlp_generator(latent_dim=3, data_dim=2, hidden_units=32, depth=3)
    discriminator = nets.make_mlp_discriminator(data_dim=2, hidden_units=32, depth=3)
    z = rng.normal(size=(16, 3))
    x = 4 * rng.normal(size=(64, 2))
    out = {"samples": generator(tensor(z)), "logits": discriminator(tensor(x)),
           "generator_parameters": generator.count_params(),
           "discriminator_parameters": discriminator.count_params()}
    for net, model, inputs in (("generator", generator, z), ("discriminator", discriminator, x)):
        assign_random_weights(model, rng)
        out[f"{net}_fixed"] = model(tensor(inputs))
        out[f"{net}_weights"] = [w.numpy() for w in model.trainable_weights]
        out[f"{net}_input"] = inputs
    return out


@mlp_networks.verdict
def _(student, reference):
    expect_shape(student["samples"], (16, 2), "make_mlp_generator(latent_dim=3)(z (16, 3))")
    logits = expect_shape(student["logits"], (64, 1), "make_mlp_discriminator()(x (64, 2))")
    expect_finite(logits, "make_mlp_discriminator's output")
    expect_true(np.any((logits < 0) | (logits > 1)),
                "make_mlp_discriminator's outputs all lie in [0, 1]: it looks like it ends "
                "with a sigmoid. It must return logits; the losses apply the sigmoid")
    for net in ("generator", "discriminator"):
        got, want = int(student[f"{net}_parameters"]), int(reference[f"{net}_parameters"])
        expect_true(got == want,
                    f"make_mlp_{net}(hidden_units=32, depth=3) has {got} parameters, the "
                    f"reference has {want}: are depth, hidden_units and the output size respected?")
    student = {**student, "generator_expected": reference["generator_fixed"],
               "discriminator_expected": reference["discriminator_fixed"]}
    judge_activations(student, "discriminator", "make_mlp_discriminator", [
        ("ReLU in its hidden layers; the docstring asks for LeakyReLU(negative_slope=0.2), "
         "so that D keeps a gradient for every input", relu, lambda h: h),
        ("LeakyReLU with Keras's default slope 0.3; the docstring asks for "
         "LeakyReLU(negative_slope=0.2)", leaky(0.3), lambda h: h),
        ("a sigmoid at the end: D returns logits", leaky(0.2), sigmoid),
    ])
    judge_activations(student, "generator", "make_mlp_generator", [
        ("LeakyReLU in its hidden layers; the generator uses ReLU", leaky(0.2), lambda h: h),
        ("a tanh at the end; the generator's output is linear (the data is not bounded)",
         relu, np.tanh),
        ("a sigmoid at the end; the generator's output is linear (the data is not bounded)",
         relu, sigmoid),
    ])


def upsampling_shapes(model, layer_type):
    import keras
    kind = getattr(keras.layers, layer_type)
    return [[int(d) for d in layer.output.shape[1:]] for layer in model.layers
            if isinstance(layer, kind)]


def dcgan_generator_probe(lab, rng, latent_dim, image_shape, base_channels):
    import keras
    generator = lab.gan_networks.make_dcgan_generator(latent_dim=latent_dim,
                                                      image_shape=image_shape,
                                                      base_channels=base_channels)
    z = tensor(rng.normal(size=(6, latent_dim)))
    images = generator(z)
    generator.save("generator.keras")
    reloaded = keras.models.load_model("generator.keras")
    out = {"images": images, "reloaded": reloaded(z), "parameters": generator.count_params(),
           "upsampling": upsampling_shapes(generator, "Conv2DTranspose")}
    assign_random_weights(generator, rng)
    out["fixed"] = generator(z, training=True)  # BatchNormalization on the batch's statistics
    return out


def judge_dcgan_generator(student, reference, image_shape, latent_dim, base_channels):
    what = f"make_dcgan_generator(image_shape={image_shape}, base_channels={base_channels})"
    images = expect_shape(student["images"], (6, *image_shape), f"{what}(z)")
    expect_finite(images, "the DCGAN generator's images")
    expect_true(images.min() >= 0 and images.max() <= 1,
                f"the DCGAN generator's pixels span [{images.min():.3g}, {images.max():.3g}]; "
                "they must lie in [0, 1] like the data (end with a sigmoid)")
    got, want = student["upsampling"], reference["upsampling"]
    expect_true(len(got) > 0, "make_dcgan_generator has no Conv2DTranspose layer: upsample "
                              "with Conv2DTranspose(kernel 4, strides=2, padding='same')")
    expect_true([list(s) for s in got] == [list(s) for s in want],
                f"the Conv2DTranspose layers of make_dcgan_generator output shapes {got}, "
                f"expected {want}: each doubles height and width (strides=2, padding='same')")
    got, want = int(student["parameters"]), int(reference["parameters"])
    units = image_shape[0] // 4 * image_shape[1] // 4 * 2 * base_channels
    known = {
        want - 4 * units + 4 * 2 * base_channels:
            "the first BatchNormalization comes after the Reshape, so it normalises each of "
            "the 2*base_channels channels; the docstring's order is Dense, "
            "BatchNormalization, ReLU, Reshape: it normalises each of the Dense's outputs",
        want - units: "the Dense layer has no bias: keep Keras's defaults (biases included) "
                      "for what the docstring does not list",
    }
    expect_true(got == want, f"{what} has {got} parameters, the reference has {want}: "
                + known.get(got, "build exactly the layers the docstring lists, in its order"))
    expect_close_or(student["fixed"], reference["fixed"],
                    f"{what}'s images {SAME_WEIGHTS} (in training mode)",
                    "the layers are Dense, BatchNormalization, ReLU, Reshape, Conv2DTranspose, "
                    "BatchNormalization, ReLU, Conv2DTranspose with a sigmoid, in that order")
    expect_close(student["reloaded"], images, "the DCGAN generator reloaded from .keras",
                 against="the images before saving (same z)")


@check(points=2, uses=NETWORKS, task="`make_dcgan_generator`",
       hint="Dense, BatchNormalization, ReLU, Reshape to (H/4, W/4, 2*base), then "
            "Conv2DTranspose(kernel 4, strides=2, padding='same') + BatchNormalization + ReLU "
            "to (H/2, W/2, base), then Conv2DTranspose to (H, W, C) with a sigmoid")
def dcgan_generator(lab, rng):
    """8x8 images in [0, 1] upsampled by two stride-2 transposed convolutions, the
    reference's parameter count, the reference's images with the same random weights, and
    the same images after a .keras round trip."""
    return dcgan_generator_probe(lab, rng, latent_dim=8, image_shape=(8, 8, 1), base_channels=8)


@dcgan_generator.verdict
def _(student, reference):
    judge_dcgan_generator(student, reference, (8, 8, 1), latent_dim=8, base_channels=8)


def dcgan_discriminator_probe(lab, rng, image_shape, base_channels):
    discriminator = lab.gan_networks.make_dcgan_discriminator(image_shape=image_shape,
                                                              base_channels=base_channels)
    images = tensor(2 * rng.normal(size=(32, *image_shape)))
    out = {"logits": discriminator(images), "parameters": discriminator.count_params(),
           "downsampling": upsampling_shapes(discriminator, "Conv2D")}
    assign_random_weights(discriminator, rng)
    out["fixed"] = discriminator(images)
    return out


def judge_dcgan_discriminator(student, reference, image_shape):
    what = f"make_dcgan_discriminator(image_shape={image_shape})"
    logits = expect_shape(student["logits"], (32, 1), f"{what}(images)")
    expect_finite(logits, "the DCGAN discriminator's logits")
    expect_true(np.any((logits < 0) | (logits > 1)),
                "the DCGAN discriminator's outputs all lie in [0, 1]: it must return logits "
                "(no sigmoid at the end)")
    got, want = student["downsampling"], reference["downsampling"]
    expect_true([list(s) for s in got] == [list(s) for s in want],
                f"the Conv2D layers of make_dcgan_discriminator output shapes {got}, expected "
                f"{want}: each halves height and width (strides=2, padding='same')")
    got, want = int(student["parameters"]), int(reference["parameters"])
    expect_true(got == want, f"{what} has {got} parameters, the reference has {want}: build "
                             "exactly the layers the docstring lists")
    expect_close_or(student["fixed"], reference["fixed"], f"{what}'s logits {SAME_WEIGHTS}",
                    "each Conv2D is followed by LeakyReLU(negative_slope=0.2) (not ReLU, nor "
                    "Keras's default slope 0.3), and Dense(1) has no activation")


@check(points=1, uses=NETWORKS, task="`make_dcgan_discriminator`",
       hint="Conv2D(base, 4, strides=2, padding='same') + LeakyReLU(negative_slope=0.2), the "
            "same with 2*base filters, then Flatten and Dense(1) with no activation")
def dcgan_discriminator(lab, rng):
    """Logits of 8x8 images after two stride-2 convolutions, the reference's parameter count,
    and the reference's logits with the same random weights."""
    return dcgan_discriminator_probe(lab, rng, image_shape=(8, 8, 1), base_channels=8)


@dcgan_discriminator.verdict
def _(student, reference):
    judge_dcgan_discriminator(student, reference, (8, 8, 1))


def with_random_weights(model, inputs, rng, first_dim):
    """The model's outputs with random weights, once as assigned and once with the rows of
    its first kernel rolled, as if the inputs were concatenated [label, first] (the
    handout leaves the order of the concatenation open)."""
    assign_random_weights(model, rng)
    as_given = model(inputs)
    kernel = model.trainable_weights[0]
    original = kernel.numpy()
    if original.ndim != 2:
        return as_given, as_given
    kernel.assign(np.roll(original, -first_dim, axis=0))
    swapped = model(inputs)
    kernel.assign(original)
    return as_given, swapped


@check(points=1, uses=NETWORKS,
       task="`make_conditional_mlp_generator`, `make_conditional_mlp_discriminator`",
       hint="each builder has two keras.Input (the sample or z, and the one-hot label), "
            "concatenated, then the layers of the plain MLP builder; a list of two inputs")
def conditional_mlp_networks(lab, rng):
    """Shapes, logits, the reference's parameter counts, outputs that change with the label,
    and the reference's outputs with the same random weights (either order of the
    concatenation)."""
    nets = lab.gan_networks
    generator = nets.make_conditional_mlp_generator(latent_dim=3, num_classes=4, data_dim=2,
                                                    hidden_units=32, depth=2)
    discriminator = nets.make_conditional_mlp_discriminator(num_classes=4, data_dim=2,
                                                            hidden_units=32, depth=2)
    z, x = tensor(rng.normal(size=(16, 3))), tensor(4 * rng.normal(size=(16, 2)))
    one_hot = np.eye(4, dtype="float32")
    labels, other = rng.integers(0, 4, size=16), rng.integers(0, 4, size=16)
    other = np.where(other == labels, (labels + 1) % 4, other)  # every row a new label
    y, y_other = tensor(one_hot[labels]), tensor(one_hot[other])
    out = {"samples": generator([z, y]), "samples_other_labels": generator([z, y_other]),
           "logits": discriminator([x, y]), "logits_other_labels": discriminator([x, y_other]),
           "generator_parameters": generator.count_params(),
           "discriminator_parameters": discriminator.count_params()}
    out["generator_fixed"] = with_random_weights(generator, [z, y], rng, first_dim=3)
    out["discriminator_fixed"] = with_random_weights(discriminator, [x, y], rng, first_dim=2)
    return out


@conditional_mlp_networks.verdict
def _(student, reference):
    samples = expect_shape(student["samples"], (16, 2), "make_conditional_mlp_generator("
                           "latent_dim=3, num_classes=4)([z (16, 3), one_hot (16, 4)])")
    logits = expect_shape(student["logits"], (16, 1), "make_conditional_mlp_discriminator("
                          "num_classes=4)([x (16, 2), one_hot (16, 4)])")
    expect_finite(logits, "the conditional discriminator's output")
    expect_true(np.any((logits < 0) | (logits > 1)), "the conditional discriminator's outputs "
                "all lie in [0, 1]: it must return logits (no sigmoid)")
    for net, outputs, other in (("generator", samples, student["samples_other_labels"]),
                                ("discriminator", logits, student["logits_other_labels"])):
        moved = np.abs(np.asarray(other) - outputs).max(axis=1) > 1e-6
        expect_true(moved.all(), f"the conditional {net} gives the same output for another "
                    f"label (in {int((~moved).sum())} of 16 rows): it must use its label input")
    for net in ("generator", "discriminator"):
        got, want = int(student[f"{net}_parameters"]), int(reference[f"{net}_parameters"])
        expect_true(got == want, f"make_conditional_mlp_{net}(num_classes=4, hidden_units=32, "
                    f"depth=2) has {got} parameters, the reference has {want}: concatenate "
                    "the label to the input, then the layers of the plain MLP")
    layers = {"generator": "Dense(relu) layers and a linear output",
              "discriminator": "Dense + LeakyReLU(negative_slope=0.2) layers and Dense(1) with "
                               "no activation"}
    for net in ("generator", "discriminator"):
        as_given, swapped = (np.asarray(a, dtype=np.float64) for a in student[f"{net}_fixed"])
        want = np.asarray(reference[f"{net}_fixed"][0], dtype=np.float64)
        if not np.allclose(swapped, want, rtol=1e-3, atol=1e-4):
            expect_close_or(as_given, want,
                            f"make_conditional_mlp_{net}'s outputs {SAME_WEIGHTS}",
                            f"after the concatenation come the plain MLP's {layers[net]}")
