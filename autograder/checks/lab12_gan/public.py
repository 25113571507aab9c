"""Public checks of lab12_gan.

The checks of gan_model.py build their own small networks (`probe_networks`), so a GAN
train_step is graded even when gan_networks.py is unfinished. The training check measures
the energy distance between generated samples and held-out data here, in numpy.
"""
from functools import partial

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import energy_distance, tensor
from autograder.check_helpers import scalar as check_scalar
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

# A loss as one float32 number (the losses average over the batch).
scalar = partial(check_scalar, expected="a scalar (the mean over the batch)")

LOSSES = ("gan_losses",)
NETWORKS = ("gan_networks",)
MODEL = ("gan_model", "gan_losses")


# ----------------------------------------------------------------------------- probe helpers

def gradient_of(loss_fn, *inputs):
    """(loss, [d loss / d input]) for a loss of TF tensors; fails clearly if none flows."""
    import tensorflow as tf
    inputs = [tensor(x) for x in inputs]
    with tf.GradientTape() as tape:
        for x in inputs:
            tape.watch(x)
        loss = loss_fn(*inputs)
    grads = tape.gradient(loss, inputs)
    if any(g is None for g in grads):
        raise ValueError(f"no gradient flows from {loss_fn.__name__} back to the logits "
                         "(is it computed with TensorFlow ops, not numpy?)")
    return loss, grads


def probe_networks(data_dim=2, latent_dim=2, hidden_units=64):
    """Plain Keras MLPs (G: relu, linear output; D: LeakyReLU, one logit) for GAN checks."""
    import keras
    from keras import layers
    z = keras.Input((latent_dim,))
    h = layers.Dense(hidden_units, activation="relu")(z)
    h = layers.Dense(hidden_units, activation="relu")(h)
    generator = keras.Model(z, layers.Dense(data_dim)(h), name="probe_generator")
    x = keras.Input((data_dim,))
    h = layers.LeakyReLU(negative_slope=0.2)(layers.Dense(hidden_units)(x))
    h = layers.LeakyReLU(negative_slope=0.2)(layers.Dense(hidden_units)(h))
    discriminator = keras.Model(x, layers.Dense(1)(h), name="probe_discriminator")
    return generator, discriminator


def probe_conditional_networks(num_classes, data_dim=2, latent_dim=2, hidden_units=64):
    """probe_networks with a second input, the one-hot label, concatenated to the first."""
    import keras
    from keras import layers

    def mlp(first, out, hidden_activation, name):
        inputs = [keras.Input((first,)), keras.Input((num_classes,))]
        h = layers.Concatenate()(inputs)
        for _ in range(2):
            h = layers.Dense(hidden_units)(h)
            h = hidden_activation(h)
        return keras.Model(inputs, layers.Dense(out)(h), name=name)
    generator = mlp(latent_dim, data_dim, layers.ReLU(), "probe_conditional_generator")
    discriminator = mlp(data_dim, 1, layers.LeakyReLU(negative_slope=0.2),
                        "probe_conditional_discriminator")
    return generator, discriminator


def compiled_gan(lab, generator, discriminator, latent_dim, learning_rate=2e-3,
                 num_classes=None, **compile_args):
    """The student's GAN (or ConditionalGAN, given num_classes), compiled with two Adams."""
    import keras

    def adam():
        return keras.optimizers.Adam(learning_rate, beta_1=0.5)
    if num_classes is None:
        gan = lab.gan_model.GAN(generator, discriminator, latent_dim=latent_dim)
    else:
        gan = lab.gan_model.ConditionalGAN(generator, discriminator, latent_dim=latent_dim,
                                           num_classes=num_classes)
    gan.compile(d_optimizer=adam(), g_optimizer=adam(), **compile_args)
    return gan


def snapshot(model):
    return [np.array(w.numpy()) for w in model.weights]


def largest_change(before, model):
    """Largest absolute change of any weight of `model` since `snapshot`."""
    return max(float(np.abs(b - np.asarray(w.numpy())).max())
               for b, w in zip(before, model.weights))


def run_step(what, step, *args, **kwargs):
    """Run a GAN step, explaining Keras's error for an optimizer fed the wrong network."""
    try:
        return step(*args, **kwargs)
    except ValueError as error:
        if "Unknown variable" not in str(error):
            raise
        raise ValueError(
            f"{what} asked an optimizer to update variables it was not built for: GAN.compile "
            "builds d_optimizer for discriminator.trainable_variables and g_optimizer for "
            "generator.trainable_variables, and each step may update its own network only"
        ) from None


def real_batch(rng, n=64):
    from dlkit.data import sample_toy2d
    return sample_toy2d("moons", n, seed=int(rng.integers(1 << 30)))


def fit_toy_gan(lab, rng, name, steps, learning_rate=1e-3, num_samples=1000):
    """Train a GAN of probe_networks on the 2-D toy set `name` for `steps` steps.

    Returns (seed of the data, generated samples on fixed noise before training, the same
    after each tenth of the budget): GANs oscillate, so verdicts judge the last few.
    """
    import keras

    from dlkit.data import toy2d_dataset
    seed = int(rng.integers(1 << 30))
    generator, discriminator = probe_networks()
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=learning_rate,
                       steps_per_execution=20)
    z = tensor(rng.normal(size=(num_samples, 2)))
    before = np.asarray(generator(z))
    samples = []
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: samples.append(np.asarray(generator(z))))
    dataset = toy2d_dataset(name, 4096, batch_size=128, seed=seed, repeat=True)
    run_step("training (fit)", gan.fit, dataset, epochs=10, steps_per_epoch=steps // 10,
             callbacks=[keep], verbose=0)
    return seed, before, samples


def train_toy_gan(lab, rng, name, steps, snapshots=3):
    """Samples before training and at the last `snapshots` tenths of the budget, and
    held-out data, for the energy-distance verdict."""
    from dlkit.data import sample_toy2d
    seed, before, samples = fit_toy_gan(lab, rng, name, steps)
    return {"before": before, "after": np.stack(samples[-snapshots:]),
            "heldout": sample_toy2d(name, 1000, seed=seed + 1)}


# --------------------------------------------------------------------------- verdict helpers

def softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def expect_loss(value, reference, what, known_mistakes):
    """expect_close, but name a known mistake when the value matches one exactly."""
    try:
        expect_close(value, reference, what)
    except CheckFailed:
        value = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
        for mistake_value, message in known_mistakes:
            if np.isclose(value, mistake_value, rtol=1e-4, atol=1e-5):
                raise CheckFailed(f"{what} {message}") from None
        raise


def trained_distance(output):
    """Median energy distance of the last snapshots of generated samples to held-out data."""
    return float(np.median([energy_distance(samples, output["heldout"])
                            for samples in output["after"]]))


def judge_training(student, reference, data_name):
    for key in ("before", "after"):
        expect_finite(student[key], f"generator samples {key} training")
    start = energy_distance(student["before"], student["heldout"])
    reached = trained_distance(student)
    target = trained_distance(reference)
    # GAN training is noisy: a correct step with another noise draw lands within ~3x.
    ceiling = max(3.0 * target, target + 0.1)
    what = f"after training, the energy distance between generated samples and held-out " \
           f"{data_name} data is {reached:.3g}"
    expect_true(np.isfinite(reached) and reached <= 0.5 * start,
                f"{what}, needs at most {0.5 * start:.3g} (half of its {start:.3g} at "
                "initialisation): the samples barely moved toward the data")
    expect_true(reached <= ceiling,
                f"{what}, needs at most {ceiling:.3g}: the reference reaches {target:.3g} with "
                "the same networks and budget (the bar allows for GAN noise)")


# --------------------------------------------------------------------------------- losses

@check(points=2, uses=LOSSES,
       hint="real logits labelled 1: softplus(-l); fake logits labelled 0: softplus(l); "
            "return mean over the real batch + mean over the fake batch")
def discriminator_loss(lab, rng):
    real = 3 * rng.normal(size=(32, 1))
    fake = 3 * rng.normal(size=(24, 1))
    loss = lab.gan_losses.discriminator_loss(tensor(real), tensor(fake))
    return {"loss": scalar(loss, "discriminator_loss"), "real": real, "fake": fake}


@discriminator_loss.verdict
def _(student, reference):
    real, fake = reference["real"], reference["fake"]
    what = "discriminator_loss(real_logits, fake_logits)"
    expect_loss(student["loss"], reference["loss"], what, [
        (softplus(real).mean() + softplus(-fake).mean(),
         "swaps the labels: real data must be labelled 1 (-log D(x)) and fakes 0 "
         "(-log(1 - D(G(z))))"),
        (softplus(-sigmoid(real)).mean() + softplus(sigmoid(fake)).mean(),
         "treats probabilities as logits: a sigmoid is applied before a loss that "
         "already contains one (sigmoid applied twice)"),
        (np.concatenate([softplus(-real), softplus(fake)]).mean(),
         "takes one mean over the real and fake examples together; take the mean of each "
         "batch and add the two"),
    ])


@check(points=1, uses=LOSSES, hint="log(1 - sigmoid(l)) = -softplus(l), averaged over the batch")
def minimax_generator_loss(lab, rng):
    fake = 3 * rng.normal(size=(24, 1))
    loss = lab.gan_losses.minimax_generator_loss(tensor(fake))
    return {"loss": scalar(loss, "minimax_generator_loss"), "fake": fake}


@minimax_generator_loss.verdict
def _(student, reference):
    fake = reference["fake"]
    expect_loss(student["loss"], reference["loss"], "minimax_generator_loss(fake_logits)", [
        (softplus(-fake).mean(), "is the non-saturating loss -log D(G(z)); the minimax "
                                 "loss is log(1 - D(G(z))) = -softplus(logit)"),
        (-softplus(sigmoid(fake)).mean(), "treats probabilities as logits (sigmoid applied "
                                          "twice)"),
    ])


@check(points=1, uses=LOSSES,
       hint="-log sigmoid(l) = softplus(-l), averaged: the fakes labelled *real* (1)")
def non_saturating_generator_loss(lab, rng):
    fake = 3 * rng.normal(size=(24, 1))
    loss = lab.gan_losses.non_saturating_generator_loss(tensor(fake))
    return {"loss": scalar(loss, "non_saturating_generator_loss"), "fake": fake}


@non_saturating_generator_loss.verdict
def _(student, reference):
    fake = reference["fake"]
    expect_loss(student["loss"], reference["loss"], "non_saturating_generator_loss(fake_logits)", [
        (softplus(fake).mean(), "labels the fakes 0 (fake): G's loss must label them 1 "
                                "(real), i.e. -log D(G(z)) = softplus(-logit)"),
        (-softplus(fake).mean(), "is the minimax loss log(1 - D(G(z))); the non-saturating "
                                 "loss is -log D(G(z)) = softplus(-logit)"),
        (softplus(-sigmoid(fake)).mean(), "treats probabilities as logits (sigmoid applied "
                                          "twice)"),
    ])


EXTREME_LOGITS = [[-300.0], [-120.0], [-60.0], [0.0], [60.0], [120.0], [300.0]]


@check(points=2, uses=LOSSES, reference=False,
       hint="never take log(sigmoid(l)) or log(1 - sigmoid(l)), nor clip: sigmoid underflows "
            "to 0 or rounds to 1 for large |l|; use tf.nn.softplus or "
            "tf.nn.sigmoid_cross_entropy_with_logits")
def losses_stable_on_extreme_logits(lab, rng):
    losses = lab.gan_losses
    logits = np.array(EXTREME_LOGITS)
    d_loss, (d_real, d_fake) = gradient_of(losses.discriminator_loss, logits, logits[::-1])
    values = {"discriminator_loss": scalar(d_loss, "discriminator_loss")}
    # Per example (times the batch size, as each loss is a mean): 1 where a loss is steep.
    gradients = {"discriminator_loss w.r.t. real_logits": len(logits) * d_real,
                 "discriminator_loss w.r.t. fake_logits": len(logits) * d_fake[::-1]}
    for fn in (losses.minimax_generator_loss, losses.non_saturating_generator_loss):
        loss, (grad,) = gradient_of(fn, logits)
        values[fn.__name__] = scalar(loss, fn.__name__)
        gradients[fn.__name__] = len(logits) * grad
    return {"values": values, "gradients": gradients}


@losses_stable_on_extreme_logits.verdict
def _(student, reference):
    where = "on logits -300, -120, -60, 0, 60, 120, 300"
    for name, value in student["values"].items():
        expect_finite(value, f"the value of {name} {where}")
    for name, grad in student["gradients"].items():
        grad = expect_finite(grad, f"the gradient of {name} {where}").reshape(-1)
        extreme = np.abs(grad[[0, 1, 2, 4, 5, 6]])
        # A cross-entropy grows linearly on its wrong side: slope 1 per example there.
        expect_true(extreme.max() > 0.5,
                    f"the gradient of {name} vanishes at every logit beyond +-60 (largest "
                    f"per-example |gradient| {extreme.max():.3g}, expected 1 on the side "
                    "where the loss is large): clipping, or a sigmoid before the loss, kills "
                    "the learning signal exactly where D is most wrong")


@check(points=2, uses=LOSSES,
       hint="where D confidently rejects the fakes (logit << 0) the minimax loss is flat and "
            "the non-saturating loss is steep; both push the logit up (negative gradient)")
def generator_loss_gradients(lab, rng):
    logits = np.linspace(-8.0, 8.0, 9).reshape(-1, 1)
    out = {"logits": logits}
    for fn in (lab.gan_losses.minimax_generator_loss, lab.gan_losses.non_saturating_generator_loss):
        _, (grad,) = gradient_of(fn, logits)
        out[fn.__name__] = len(logits) * np.asarray(grad)  # per example: the loss is a mean
    return out


@generator_loss_gradients.verdict
def _(student, reference):
    minimax = np.asarray(student["minimax_generator_loss"], dtype=np.float64).reshape(-1)
    non_saturating = np.asarray(student["non_saturating_generator_loss"],
                                dtype=np.float64).reshape(-1)
    expect_finite(non_saturating, "d non_saturating_generator_loss / d logits")
    expect_finite(minimax, "d minimax_generator_loss / d logits")
    # Index 0 is logit -8: D is sure the sample is fake, where G most needs a signal.
    if abs(minimax[0]) > 0.5 and abs(non_saturating[0]) < 0.05:
        raise CheckFailed(
            "minimax_generator_loss and non_saturating_generator_loss look swapped: at logit "
            f"-8 (D rejects the fake) the minimax gradient is {minimax[0]:.3g} and the "
            f"non-saturating one {non_saturating[0]:.3g}; the minimax loss should be the flat "
            "one there")
    for name, grad in (("non_saturating", non_saturating), ("minimax", minimax)):
        expect_true(np.all(grad <= 1e-6),
                    f"{name}_generator_loss decreases when D finds the fakes *more* fake "
                    f"(positive gradient w.r.t. the logit, up to {grad.max():.3g}): G would "
                    "learn to be caught. G wants D's logit on its samples to go up")
    expect_true(abs(non_saturating[0]) > 0.5,
                "non_saturating_generator_loss saturates: its gradient at logit -8 (D rejects "
                f"the fake) is {non_saturating[0]:.3g} per example, expected about -1")
    for name in ("minimax_generator_loss", "non_saturating_generator_loss"):
        expect_close(student[name], reference[name],
                     f"the per-example gradient of {name} w.r.t. logits -8..8")


# ------------------------------------------------------------------------------- networks

@check(points=1, uses=NETWORKS,
       hint="G: `depth` Dense(hidden_units, relu) then a linear Dense(data_dim); "
            "D: `depth` Dense + LeakyReLU(0.2) then Dense(1) with no activation (logits)")
def mlp_networks(lab, rng):
    nets = lab.gan_networks
    generator = nets.make_mlp_generator(latent_dim=3, data_dim=2, hidden_units=32, depth=3)
    discriminator = nets.make_mlp_discriminator(data_dim=2, hidden_units=32, depth=3)
    z = tensor(rng.normal(size=(16, 3)))
    x = tensor(4 * rng.normal(size=(64, 2)))
    return {"samples": generator(z), "logits": discriminator(x),
            "generator_parameters": generator.count_params(),
            "discriminator_parameters": discriminator.count_params()}


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
    return {"images": images, "reloaded": reloaded(z),
            "upsampling": upsampling_shapes(generator, "Conv2DTranspose")}


def judge_dcgan_generator(student, reference, image_shape):
    images = expect_shape(student["images"], (6, *image_shape),
                          f"make_dcgan_generator(image_shape={image_shape})(z)")
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
    expect_close(student["reloaded"], images, "the DCGAN generator reloaded from .keras",
                 against="the images before saving (same z)")


@check(points=2, uses=NETWORKS,
       hint="Dense, Reshape to (H/4, W/4, 2*base), then Conv2DTranspose(kernel 4, strides=2, "
            "padding='same') twice: (H/2, W/2, base), then (H, W, C) with a sigmoid")
def dcgan_generator(lab, rng):
    return dcgan_generator_probe(lab, rng, latent_dim=8, image_shape=(8, 8, 1), base_channels=8)


@dcgan_generator.verdict
def _(student, reference):
    judge_dcgan_generator(student, reference, (8, 8, 1))


def dcgan_discriminator_probe(lab, rng, image_shape, base_channels):
    discriminator = lab.gan_networks.make_dcgan_discriminator(image_shape=image_shape,
                                                              base_channels=base_channels)
    images = tensor(2 * rng.normal(size=(32, *image_shape)))
    return {"logits": discriminator(images),
            "downsampling": upsampling_shapes(discriminator, "Conv2D")}


def judge_dcgan_discriminator(student, reference, image_shape):
    logits = expect_shape(student["logits"], (32, 1),
                          f"make_dcgan_discriminator(image_shape={image_shape})(images)")
    expect_finite(logits, "the DCGAN discriminator's logits")
    expect_true(np.any((logits < 0) | (logits > 1)),
                "the DCGAN discriminator's outputs all lie in [0, 1]: it must return logits "
                "(no sigmoid at the end)")
    got, want = student["downsampling"], reference["downsampling"]
    expect_true([list(s) for s in got] == [list(s) for s in want],
                f"the Conv2D layers of make_dcgan_discriminator output shapes {got}, expected "
                f"{want}: each halves height and width (strides=2, padding='same')")


@check(points=1, uses=NETWORKS,
       hint="Conv2D(base, 4, strides=2, padding='same') + LeakyReLU(0.2), the same with "
            "2*base filters, then Flatten and Dense(1) with no activation")
def dcgan_discriminator(lab, rng):
    return dcgan_discriminator_probe(lab, rng, image_shape=(8, 8, 1), base_channels=8)


@dcgan_discriminator.verdict
def _(student, reference):
    judge_dcgan_discriminator(student, reference, (8, 8, 1))


# ------------------------------------------------------------------------------ GAN model

@check(points=1, uses=MODEL, reference=False,
       hint="discriminator_step: gradients of discriminator_loss w.r.t. "
            "discriminator.trainable_variables only, applied with d_optimizer")
def discriminator_step(lab, rng):
    generator, discriminator = probe_networks()
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=1e-2)
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    loss = run_step("discriminator_step", gan.discriminator_step, tensor(real_batch(rng)))
    return {"loss": scalar(loss, "discriminator_step"),
            "discriminator_change": largest_change(d_before, discriminator),
            "generator_change": largest_change(g_before, generator)}


@discriminator_step.verdict
def _(student, reference):
    expect_true(student["discriminator_change"] > 0,
                "discriminator_step left the discriminator's weights unchanged: take the "
                "gradients w.r.t. discriminator.trainable_variables and apply them with "
                "d_optimizer")
    expect_true(student["generator_change"] == 0,
                f"discriminator_step changed the generator's weights (by up to "
                f"{student['generator_change']:.3g}): D's step must update D only")
    expect_finite(student["loss"], "the loss discriminator_step returns")


@check(points=2, uses=MODEL, reference=False,
       hint="generator_step: the gradient flows through D, but take it w.r.t. "
            "generator.trainable_variables only and apply it with g_optimizer")
def generator_step(lab, rng):
    generator, discriminator = probe_networks()
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=1e-2)
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    loss = run_step("generator_step", gan.generator_step, 64)
    return {"loss": scalar(loss, "generator_step"),
            "discriminator_change": largest_change(d_before, discriminator),
            "generator_change": largest_change(g_before, generator)}


@generator_step.verdict
def _(student, reference):
    expect_true(student["discriminator_change"] == 0,
                f"generator_step changed the discriminator's weights (by up to "
                f"{student['discriminator_change']:.3g}): in G's step D must stay fixed. Take "
                "the gradients w.r.t. generator.trainable_variables only")
    expect_true(student["generator_change"] > 0,
                "generator_step left the generator's weights unchanged: take the gradients "
                "w.r.t. generator.trainable_variables and apply them with g_optimizer")
    expect_finite(student["loss"], "the loss generator_step returns")


@check(points=2, uses=MODEL,
       hint="train_step: discriminator_step(real), then generator_step(batch size); update "
            "the d_loss and g_loss trackers and return their results")
def train_step(lab, rng):
    generator, discriminator = probe_networks()
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=1e-2)
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    # Eagerly: one step through fit would cost a trace of the step first.
    logs = run_step("train_step", gan.train_step, tensor(real_batch(rng)))
    return {"logs": {str(k): float(v) for k, v in logs.items()},
            "discriminator_change": largest_change(d_before, discriminator),
            "generator_change": largest_change(g_before, generator)}


@train_step.verdict
def _(student, reference):
    logs = student["logs"]
    for name in ("d_loss", "g_loss"):
        expect_true(name in logs, f"train_step does not report {name!r} (it reports "
                                  f"{sorted(logs)}): update and return the trackers")
    for net in ("discriminator", "generator"):
        expect_true(student[f"{net}_change"] > 0,
                    f"one train_step left the {net}'s weights unchanged: both networks must "
                    "be updated, each by its own optimizer")
    for name in ("d_loss", "g_loss"):
        expect_close(logs[name], reference["logs"][name],
                     f"{name} reported by train_step at initialisation", atol=0.1, rtol=0)


@check(points=3, uses=MODEL, timeout=60,
       hint="if the samples do not move toward the data, check the labels in both losses "
            "and that each step updates its own network with its own optimizer")
def gan_learns_moons(lab, rng):
    return train_toy_gan(lab, rng, "moons", steps=800)


@gan_learns_moons.verdict
def _(student, reference):
    judge_training(student, reference, "moons")


@check(points=1, uses=MODEL, reference=False,
       hint="get_config: serialize_keras_object for the two networks, plus latent_dim, "
            "generator_loss and seed; from_config: deserialize_keras_object them back")
def gan_saves_and_loads(lab, rng):
    import keras
    generator, discriminator = probe_networks()
    gan = lab.gan_model.GAN(generator, discriminator, latent_dim=2, generator_loss="minimax")
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    real = tensor(real_batch(rng))
    gan.save("gan.keras")
    loaded = keras.models.load_model("gan.keras")
    z = tensor(rng.normal(size=(16, 2)))
    return {"class": type(loaded).__name__, "latent_dim": int(loaded.latent_dim),
            "generator_loss": str(loaded.generator_loss),
            "samples": generator(z), "loaded_samples": loaded.generator(z),
            "logits": discriminator(real), "loaded_logits": loaded.discriminator(real)}


@gan_saves_and_loads.verdict
def _(student, reference):
    expect_true(student["class"] == "GAN", f"load_model gave a {student['class']}, not a GAN")
    expect_true(student["latent_dim"] == 2 and student["generator_loss"] == "minimax",
                f"the reloaded GAN has latent_dim={student['latent_dim']} and generator_loss="
                f"{student['generator_loss']!r}; saved with 2 and 'minimax' (get_config must "
                "store them)")
    expect_close(student["loaded_samples"], student["samples"],
                 "the reloaded GAN's generator on the same z")
    expect_close(student["loaded_logits"], student["logits"],
                 "the reloaded GAN's discriminator on the same data")


# ------------------------------------------------------------------ mode collapse on the ring

# The ring: 8 Gaussians of std 0.05 on a circle of radius 2 (dlkit.data.toy2d_modes). A
# sample is of high quality when it lies within 3 std of a mode; a mode is covered when at
# least 1 % of the samples land on it.
RING_STEPS, RING_LEARNING_RATE, RING_SAMPLES, RING_SNAPSHOTS = 800, 2e-3, 2000, 4
# Over training seeds the reference covers 7-8 modes with 33-57 % high-quality samples
# (medians of the last 4 tenths); a collapsed or unconverged GAN covers 0-5 with under 15 %.
RING_MODE_MARGIN, RING_QUALITY_FRACTION = 2, 0.4


@check(points=2, uses=MODEL, timeout=60,
       hint="a correct train_step covers all 8 modes of the ring within the budget: check the "
            "labels of both losses, that G's step draws fresh noise for a whole batch, and that "
            "each network is updated by its own optimizer")
def gan_covers_the_ring(lab, rng):
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


# ------------------------------------------------------------------------ the conditional GAN

@check(points=1, uses=NETWORKS,
       hint="each builder has two keras.Input (the sample or z, and the one-hot label), "
            "concatenated, then the layers of the plain MLP builder; a list of two inputs")
def conditional_mlp_networks(lab, rng):
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
    return {"samples": generator([z, y]), "samples_other_labels": generator([z, y_other]),
            "logits": discriminator([x, y]), "logits_other_labels": discriminator([x, y_other]),
            "generator_parameters": generator.count_params(),
            "discriminator_parameters": discriminator.count_params()}


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


def labelled_batch(rng, n=64):
    from dlkit.data import toy2d_classification
    x, y = toy2d_classification("moons", n, seed=int(rng.integers(1 << 30)))
    return tensor(x), y


@check(points=2, uses=MODEL, reference=False,
       hint="ConditionalGAN: each step gives y = self.one_hot(labels) to BOTH networks; the D "
            "step updates D only (d_optimizer), the G step G only (g_optimizer); train_step "
            "unpacks (real, labels)")
def conditional_gan_steps(lab, rng):
    generator, discriminator = probe_conditional_networks(num_classes=2)
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=1e-2,
                       num_classes=2)
    real, labels = labelled_batch(rng)
    out = {}
    for name, step, args in (("discriminator_step", gan.discriminator_step, (real, labels)),
                             ("generator_step", gan.generator_step, (labels,)),
                             ("train_step", gan.train_step, ((real, labels),))):
        g_before, d_before = snapshot(generator), snapshot(discriminator)
        result = run_step(f"ConditionalGAN.{name}", step, *args)
        out[name] = {"discriminator_change": largest_change(d_before, discriminator),
                     "generator_change": largest_change(g_before, generator),
                     "result": ({str(k): float(v) for k, v in result.items()}
                                if isinstance(result, dict) else scalar(result, name))}
    return out


@conditional_gan_steps.verdict
def _(student, reference):
    for name, changes, stays in (("discriminator_step", "discriminator", "generator"),
                                 ("generator_step", "generator", "discriminator"),
                                 ("train_step", "discriminator", None),
                                 ("train_step", "generator", None)):
        step = student[name]
        expect_true(step[f"{changes}_change"] > 0, f"ConditionalGAN.{name} left the {changes}'s "
                    f"weights unchanged: apply the gradients with the {changes[0]}_optimizer")
        if stays:
            expect_true(step[f"{stays}_change"] == 0,
                        f"ConditionalGAN.{name} changed the {stays}'s weights (by up to "
                        f"{step[f'{stays}_change']:.3g}): each step updates its own network only")
    for name in ("discriminator_step", "generator_step"):
        expect_finite(student[name]["result"], f"the loss ConditionalGAN.{name} returns")
    logs = student["train_step"]["result"]
    expect_true(isinstance(logs, dict) and {"d_loss", "g_loss"} <= set(logs),
                f"ConditionalGAN.train_step must return the trackers' results (d_loss and "
                f"g_loss), got {logs}")


@check(points=1, uses=MODEL, reference=False,
       hint="generate(labels): one z per label (self.sample_latent), the generator on "
            "[z, self.one_hot(labels)]; get_config adds num_classes")
def conditional_gan_generates_and_saves(lab, rng):
    import keras
    generator, discriminator = probe_conditional_networks(num_classes=3)
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, num_classes=3)
    labels = np.array([0, 1, 2, 2, 1, 0, 0], dtype="int32")
    generated = gan.generate(labels)
    z = tensor(rng.normal(size=(7, 2)))
    gan.save("cgan.keras")
    try:
        loaded = keras.models.load_model("cgan.keras")
    except Exception as error:  # the message goes to the student
        return {"generated": generated, "error": f"{type(error).__name__}: {error}"[:600]}
    return {"generated": generated, "error": "", "class": type(loaded).__name__,
            "num_classes": int(getattr(loaded, "num_classes", -1)),
            "samples": gan((z, labels)), "loaded_samples": loaded((z, labels))}


@conditional_gan_generates_and_saves.verdict
def _(student, reference):
    generated = expect_shape(student["generated"], (7, 2), "ConditionalGAN.generate(labels (7,))")
    expect_finite(generated, "ConditionalGAN.generate(labels)")
    if student["error"]:
        raise CheckFailed("keras.models.load_model could not rebuild the saved ConditionalGAN("
                          "num_classes=3): " + student["error"])
    expect_true(student["class"] == "ConditionalGAN" and student["num_classes"] == 3,
                f"load_model gave a {student['class']} with num_classes={student['num_classes']}"
                "; saved: a ConditionalGAN with 3 (get_config must store num_classes)")
    expect_close(student["loaded_samples"], student["samples"],
                 "the reloaded ConditionalGAN's generator on the same (z, labels)")


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


@check(points=3, uses=MODEL, timeout=60,
       hint="a ConditionalGAN trained on labelled moons must draw from the moon it is asked "
            "for: the fakes in D's step must carry the labels of the real batch, and D must "
            "see the real samples with their own labels")
def cgan_follows_requested_class(lab, rng):
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
