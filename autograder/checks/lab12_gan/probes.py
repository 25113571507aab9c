"""What the checks of lab12_gan share: the check's own networks and stand-in losses, a GAN
with fixed noise, and the measures the verdicts apply.

The checks of gan_model.py run the student's steps on networks built here and, where they
compare an update with the reference's, on stand-in losses (`standin_losses`) and fixed
noise (`fix_latent`) with plain SGD: the change of a network's weights is then exactly
-learning_rate * the gradient of the loss the step was meant to take, whatever state
gan_losses.py and gan_networks.py are in.
"""
import contextlib

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import energy_distance, judge_relative_training, standing_in, tensor
from autograder.check_helpers import scalar as check_scalar
from autograder.verdicts import expect_close, expect_finite, expect_true


def scalar(value, what):
    """A loss as one float32 number (the losses average over the batch)."""
    if value is None:
        raise ValueError(f"{what} returned None (is a `return` missing?)")
    return check_scalar(value, what, expected="a scalar (the mean over the batch)")

LOSSES = ("gan_losses",)
NETWORKS = ("gan_networks",)
MODEL = ("gan_model", "gan_losses")
SGD_RATE = 0.1


# ------------------------------------------------------------------------------ networks

def probe_networks(data_dim=2, latent_dim=2, hidden_units=64, batch_norm=False,
                   compact=False):
    """The check's own networks for GAN checks, G: z -> x and D: x -> one logit, so that the
    model's checks do not depend on gan_networks.py (see _probe_mlp: a tapered MLP with a
    linear shortcut, ReLU in G, LeakyReLU(0.1) in D). batch_norm: a BatchNormalization
    after each network's first layer (training-mode checks). compact: one hidden layer (the
    training checks: tracing fit's step costs more than the steps, and
    each layer adds to it)."""
    return (_probe_mlp([latent_dim], data_dim, hidden_units, batch_norm, "relu",
                       "probe_generator", compact),
            _probe_mlp([data_dim], 1, hidden_units, batch_norm, "leaky", "probe_discriminator",
                       compact))


def probe_conditional_networks(num_classes, data_dim=2, latent_dim=2, hidden_units=64,
                               batch_norm=False, compact=False):
    """probe_networks with a second input, the one-hot label."""
    return (_probe_mlp([latent_dim, num_classes], data_dim, hidden_units, batch_norm, "relu",
                       "probe_conditional_generator", compact),
            _probe_mlp([data_dim, num_classes], 1, hidden_units, batch_norm, "leaky",
                       "probe_conditional_discriminator", compact))


def _probe_mlp(input_sizes, output_size, hidden_units, batch_norm, activation, name,
               compact=False):
    """Dense(hidden_units) and Dense(hidden_units // 2), each followed by the activation
    ("relu", or "leaky": LeakyReLU(0.1)), then a linear output plus a linear map of the
    (joined) inputs. compact: without the second hidden layer."""
    import keras
    from keras import layers

    def activate(hidden):
        if activation == "leaky":
            return layers.LeakyReLU(negative_slope=0.1)(hidden)
        return layers.ReLU()(hidden)
    inputs = [keras.Input((size,)) for size in input_sizes]
    joined = inputs[0] if len(inputs) == 1 else layers.Concatenate()(inputs)
    hidden = layers.Dense(hidden_units)(joined)
    if batch_norm:
        hidden = layers.BatchNormalization(momentum=0.5)(hidden)
    hidden = activate(hidden)
    if not compact:
        hidden = activate(layers.Dense(hidden_units // 2)(hidden))
    outputs = layers.Add()([layers.Dense(output_size)(hidden),
                            layers.Dense(output_size, use_bias=False)(joined)])
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=name)


def compiled_gan(lab, generator, discriminator, latent_dim, learning_rate=2e-3,
                 num_classes=None, optimizer="adam", generator_loss="non_saturating",
                 **compile_args):
    """The student's GAN (or ConditionalGAN, given num_classes), compiled with two Adams
    (beta_1 = 0.5) or, with optimizer="sgd", two plain SGDs."""
    import keras

    def make():
        if optimizer == "sgd":
            return keras.optimizers.SGD(learning_rate)
        return keras.optimizers.Adam(learning_rate, beta_1=0.5)
    if num_classes is None:
        gan = lab.gan_model.GAN(generator, discriminator, latent_dim=latent_dim,
                                generator_loss=generator_loss)
    else:
        gan = lab.gan_model.ConditionalGAN(generator, discriminator, latent_dim=latent_dim,
                                           num_classes=num_classes,
                                           generator_loss=generator_loss)
    gan.compile(d_optimizer=make(), g_optimizer=make(), **compile_args)
    return gan


def run_step(what, step, *args, **kwargs):
    """Run a GAN step or fit, turning Keras's errors for two common slips into messages."""
    try:
        return step(*args, **kwargs)
    except (ValueError, TypeError) as error:
        text = str(error)
        if "Unknown variable" in text:
            raise ValueError(
                f"{what} asked an optimizer to update variables it was not built for: "
                "GAN.compile builds d_optimizer for discriminator.trainable_variables and "
                "g_optimizer for generator.trainable_variables, and each step may update its "
                "own network only") from None
        if "(None," in text or "None values not supported" in text:
            raise ValueError(
                f"{what} failed where the batch size is unknown (fit traces train_step with "
                f"batch shape (None, ...), so real.shape[0] is None): count the fakes with "
                f"tf.shape(real)[0]. Keras said: {text[:300]}") from None
        raise


def real_batch(rng, n=64):
    from dlkit.data import sample_toy2d
    return sample_toy2d("moons", n, seed=int(rng.integers(1 << 30)))


def labelled_batch(rng, n=64):
    from dlkit.data import toy2d_classification
    x, y = toy2d_classification("moons", n, seed=int(rng.integers(1 << 30)))
    return tensor(x), y


def flat(arrays):
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def weights_of(model):
    return flat([v.numpy() for v in model.trainable_variables])


def moving_statistics(model):
    """The moving means and variances of the model's BatchNormalization layers, flattened."""
    return flat([v.numpy() for v in model.non_trainable_variables])


# ------------------------------------------------------------------ stand-ins, fixed noise

def standin_discriminator_loss(real_logits, fake_logits):
    """A loss of known behaviour, not the GAN's: its gradient tells real from fake logits."""
    import tensorflow as tf
    return (tf.reduce_mean(tf.square(real_logits - 1.0))
            + 0.5 * tf.reduce_mean(tf.square(fake_logits + 2.0)))


def standin_minimax(fake_logits):
    import tensorflow as tf
    return 0.5 * tf.reduce_mean(tf.square(fake_logits - 1.0))


def standin_non_saturating(fake_logits):
    import tensorflow as tf
    return tf.reduce_mean(tf.square(fake_logits + 1.0)) - tf.reduce_mean(fake_logits)


STANDIN_GENERATOR_LOSSES = {"minimax": standin_minimax, "non_saturating": standin_non_saturating}


@contextlib.contextmanager
def standin_losses(lab):
    """While the block runs, gan_losses.py's three losses and GENERATOR_LOSSES are the
    stand-ins above, under every name gan_losses.py or gan_model.py holds them by
    (check_helpers.standing_in puts the originals back afterwards)."""
    losses = lab.gan_losses
    standins = {id(getattr(losses, name)): standin for name, standin in (
        ("discriminator_loss", standin_discriminator_loss),
        ("minimax_generator_loss", standin_minimax),
        ("non_saturating_generator_loss", standin_non_saturating),
        ("GENERATOR_LOSSES", STANDIN_GENERATOR_LOSSES)) if hasattr(losses, name)}
    with contextlib.ExitStack() as stack:
        for module in (losses, lab.gan_model):
            held = {name: standins[id(value)] for name, value in vars(module).items()
                    if id(value) in standins}
            stack.enter_context(standing_in(module, **held))
        yield


def fix_latent(gan, z):
    """gan.sample_latent(n) returns the first n rows of z; returns the list of the n asked."""
    import tensorflow as tf
    pool, asked = tf.constant(np.asarray(z, dtype="float32")), []

    def sample_latent(batch_size):
        try:
            asked.append(int(batch_size))
        except TypeError:  # a symbolic size: the step was traced
            asked.append(-1)
        return pool[:batch_size]
    gan.sample_latent = sample_latent
    return asked


def step_gan(lab, rng, z, num_classes=None, batch_norm=False, generator_loss="non_saturating"):
    """The student's GAN (a ConditionalGAN, given num_classes) on the check's networks with
    random weights, plain SGD, and z as its only noise: (gan, generator, discriminator, the
    list of latent sizes it asks for)."""
    from autograder.check_helpers import assign_random_weights
    if num_classes is None:
        generator, discriminator = probe_networks(batch_norm=batch_norm)
    else:
        generator, discriminator = probe_conditional_networks(num_classes, batch_norm=batch_norm)
    for network in (generator, discriminator):
        assign_random_weights(network, rng, scale=0.2)
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=SGD_RATE,
                       num_classes=num_classes, optimizer="sgd", generator_loss=generator_loss)
    return gan, generator, discriminator, fix_latent(gan, z)


def record_one_hot(gan):
    """Record the labels every gan.one_hot(labels) call codes; returns the list."""
    original, seen = gan.one_hot, []

    def one_hot(labels):
        seen.append(np.asarray(labels).reshape(-1).astype(np.int64))
        return original(labels)
    gan.one_hot = one_hot
    return seen


def gradient_wrt(variables, loss_fn):
    """d loss_fn() / d variables, flattened, computed by the check (None counts as 0)."""
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return flat([np.zeros(v.shape) if g is None else g.numpy()
                 for v, g in zip(variables, tape.gradient(loss, variables))])


def sgd_update(before, model):
    """The gradient plain SGD applied: (weights before - weights after) / SGD_RATE."""
    return (before - weights_of(model)) / SGD_RATE


def gradient_of(loss_fn, *inputs):
    """(loss, [d loss / d input]) for a loss of TF tensors; fails clearly if none flows."""
    import tensorflow as tf
    inputs = [tensor(x) for x in inputs]
    with tf.GradientTape() as tape:
        for x in inputs:
            tape.watch(x)
        loss = loss_fn(*inputs)
    if loss is None:
        raise ValueError(f"{loss_fn.__name__} returned None (is a `return` missing?)")
    grads = tape.gradient(loss, inputs)
    if any(g is None for g in grads):
        raise ValueError(f"no gradient flows from {loss_fn.__name__} back to the logits "
                         "(is it computed with TensorFlow ops, not numpy?)")
    return loss, grads


# ------------------------------------------------------------------------------ training

def fit_toy_gan(lab, rng, name, steps, learning_rate=1e-3, num_samples=1000, compact=False):
    """Train a GAN of probe_networks on the 2-D toy set `name` for `steps` steps.

    Returns (seed of the data, generated samples on fixed noise before training, the same
    after each tenth of the budget): GANs oscillate, so verdicts judge the last few.
    """
    import keras

    from dlkit.data import toy2d_dataset
    seed = int(rng.integers(1 << 30))
    generator, discriminator = probe_networks(compact=compact)
    # One execution per tenth of the budget: the tenths are when the samples are kept.
    gan = compiled_gan(lab, generator, discriminator, latent_dim=2, learning_rate=learning_rate,
                       steps_per_execution=steps // 10)
    z = tensor(rng.normal(size=(num_samples, 2)))
    before = np.asarray(generator(z))
    samples = []
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: samples.append(np.asarray(generator(z))))
    dataset = toy2d_dataset(name, 4096, batch_size=128, seed=seed, repeat=True)
    run_step("training (fit)", gan.fit, dataset, epochs=10, steps_per_epoch=steps // 10,
             callbacks=[keep], verbose=0)
    return seed, before, samples


def train_toy_gan(lab, rng, name, steps, learning_rate=1e-3, compact=False, snapshots=3):
    """Samples before training and at the last `snapshots` tenths of the budget, and
    held-out data, for the energy-distance verdict."""
    from dlkit.data import sample_toy2d
    seed, before, samples = fit_toy_gan(lab, rng, name, steps, learning_rate,
                                         compact=compact)
    return {"before": before, "after": np.stack(samples[-snapshots:]),
            "heldout": sample_toy2d(name, 1000, seed=seed + 1)}


# ------------------------------------------------------------------------ verdict helpers

def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def expect_steps_alone(student, step, changes, stays):
    """`step` changed `changes`'s weights and left every weight of `stays` as it was."""
    expect_true(student[f"{changes}_change"] > 0,
                f"{step} left the {changes}'s weights unchanged: apply the gradients w.r.t. "
                f"{changes}.trainable_variables with {changes[0]}_optimizer")
    if stays:
        expect_true(student[f"{stays}_change"] == 0,
                    f"{step} changed the {stays}'s weights (by up to "
                    f"{student[f'{stays}_change']:.3g}): each step updates its own network "
                    "only")


def expect_latent_sizes(asked, expected, step):
    asked = [int(n) for n in np.asarray(asked).reshape(-1)]
    expect_true(asked == list(expected),
                f"{step} asked self.sample_latent for {asked} latent vectors; expected "
                f"{list(expected)} (one fake per real sample, drawn through sample_latent)")


def trained_distance(output):
    """Median energy distance of the last snapshots of generated samples to held-out data."""
    return float(np.median([energy_distance(samples, output["heldout"])
                            for samples in output["after"]]))


def judge_training(student, reference, data_name):
    for key in ("before", "after"):
        expect_finite(student[key], f"generator samples {key} training")
    judge_relative_training(
        trained_distance(student), energy_distance(student["before"], student["heldout"]),
        trained_distance(reference),
        f"the energy distance between generated samples and held-out {data_name} data")


def expect_close_or(actual, expected, what, advice, **tolerances):
    """expect_close, with `advice` (where to look) after the message when it fails."""
    try:
        expect_close(actual, expected, what, **tolerances)
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}: {advice}") from None
