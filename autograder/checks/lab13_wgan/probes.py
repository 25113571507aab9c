"""What the checks of lab13_wgan share: the check's own networks and stand-in losses, a
WGAN with fixed noise, and the measures the verdicts apply.

Where a check compares a step's update with the reference's, it runs the student's step on
networks built here, with stand-ins for the losses of wgan_losses.py and fgan_losses.py
(`standin_losses`), fixed noise and fixed interpolates (`fix_noise`) and plain SGD: the
change of a network's weights is then exactly -learning_rate * the gradient of the loss the
step was meant to take, whatever state the loss modules are in.
"""
import contextlib

import numpy as np

from autograder.check_helpers import judge_relative_training, standing_in, tensor
from autograder.check_helpers import scalar as check_scalar
from autograder.verdicts import expect_finite


def scalar(value, what):
    """A loss or distance as one float64 number."""
    if value is None:
        raise ValueError(f"{what} returned None (is a `return` missing?)")
    return check_scalar(value, what, dtype="float64")

WASSERSTEIN = ("wasserstein",)
LOSSES = ("wgan_losses",)
FGAN = ("fgan_losses",)
MODEL = ("wgan_model", "wgan_losses", "fgan_losses")
DIVERGENCES = ("kl", "js", "pearson")
SGD_RATE = 0.5


def elementwise(value, shape, what):
    if value is None:
        raise ValueError(f"{what} returned None (is a `return` missing?)")
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32)
    if array.shape != tuple(shape):
        raise ValueError(f"{what} returned shape {array.shape}, expected {tuple(shape)} "
                         "(the same shape as its input: it works elementwise)")
    return array


def flat(arrays):
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


# ------------------------------------------------------------------------------ networks

def mlp(input_dim, output_dim, hidden_units=32, depth=2, activation="relu", name=None,
        dtype="float32"):
    import keras
    from keras import layers
    inputs = keras.Input((input_dim,), dtype=dtype)
    hidden = inputs
    for _ in range(depth):
        hidden = layers.Dense(hidden_units, activation=activation, dtype=dtype)(hidden)
    return keras.Model(inputs, layers.Dense(output_dim, dtype=dtype)(hidden), name=name)


def probe_networks(latent_dim=2, data_dim=2, hidden_units=32, depth=2, activation="relu"):
    """A generator z -> x and a critic x -> (N, 1) score, plain Keras MLPs."""
    return (mlp(latent_dim, data_dim, hidden_units, depth, activation, "probe_generator"),
            mlp(data_dim, 1, hidden_units, depth, activation, "probe_critic"))


def compiled_wgan(lab, generator, critic, latent_dim, optimizer="adam", learning_rate=1e-3,
                  generator_learning_rate=None, compile_args=None, **wgan_args):
    """A WGAN of the given networks, compiled with two fresh optimizers of one kind."""
    import keras

    def make(rate):
        if optimizer == "sgd":
            return keras.optimizers.SGD(rate)
        if optimizer == "rmsprop":
            return keras.optimizers.RMSprop(rate)
        return keras.optimizers.Adam(rate, beta_1=0.5, beta_2=0.9)
    model = lab.wgan_model.WGAN(generator, critic, latent_dim=latent_dim, **wgan_args)
    model.compile(critic_optimizer=make(learning_rate),
                  generator_optimizer=make(generator_learning_rate or learning_rate),
                  **(compile_args or {}))
    return model


def run_step(what, step, *args, **kwargs):
    """Run a model step or fit, turning Keras's error for an optimizer fed the wrong
    network into a message."""
    try:
        return step(*args, **kwargs)
    except ValueError as error:
        if "Unknown variable" not in str(error):
            raise
        raise ValueError(
            f"{what} asked an optimizer to update variables it was not built for: WGAN.compile "
            "builds critic_optimizer for critic.trainable_variables and generator_optimizer for "
            "generator.trainable_variables, and each step may update its own network only"
        ) from None


def step_outputs(result, what):
    """critic_step's (loss, penalty) as two numbers."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"{what} returned {type(result).__name__}; expected a pair "
                         "(loss, penalty)")
    return scalar(result[0], f"{what}'s loss"), scalar(result[1], f"{what}'s penalty")


def weights_of(model):
    return flat([v.numpy() for v in model.trainable_variables])


def gradient_wrt(variables, loss_fn):
    """d loss_fn() / d variables, flattened, computed by the check (None counts as 0)."""
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return flat([np.zeros(v.shape) if g is None else g.numpy()
                 for v, g in zip(variables, tape.gradient(loss, variables))])


def in_float64(build):
    """A critic made by build(dtype), and its copy in float64 with the same weights (for
    `input_gradients`)."""
    critic, copy = build("float32"), build("float64")
    copy.set_weights([np.asarray(w, dtype=np.float64) for w in critic.get_weights()])
    return critic, copy


def input_gradients(critic64, x, step=1e-5):
    """Each example's input gradient of the critic's score, by central differences on the
    critic's float64 copy (an independent estimate: no automatic differentiation), with the
    shape of x."""
    x = np.asarray(x, dtype=np.float64)
    points = x.reshape(len(x), -1)
    nudges = step * np.eye(points.shape[1])
    # Row (i, j) of each set: example i moved along its coordinate j.
    moved = [(points[:, None, :] + sign * nudges).reshape(-1, *x.shape[1:]) for sign in (1, -1)]
    up, down = (np.asarray(critic64(tensor(m, "float64")), dtype=np.float64).reshape(points.shape)
                for m in moved)
    return ((up - down) / (2 * step)).reshape(x.shape)


# ------------------------------------------------------------------ stand-ins, fixed noise

FGAN_SCALES = {"kl": 1.0, "js": 0.5, "pearson": 2.0}


def standin_critic_loss(real_scores, fake_scores):
    """Losses of known behaviour, not the lab's: each has its own gradient."""
    import tensorflow as tf
    return 0.5 * tf.reduce_mean(tf.square(fake_scores)) - tf.reduce_mean(real_scores)


def standin_generator_loss(fake_scores):
    import tensorflow as tf
    return 0.5 * tf.reduce_mean(tf.square(fake_scores - 1.0))


def standin_fgan_critic_loss(real_scores, fake_scores, divergence):
    import tensorflow as tf
    scale = FGAN_SCALES[divergence]
    return tf.reduce_mean(tf.square(fake_scores - scale)) - scale * tf.reduce_mean(real_scores)


def standin_fgan_generator_loss(fake_scores, divergence):
    import tensorflow as tf
    return tf.reduce_mean(tf.square(fake_scores + FGAN_SCALES[divergence]))


def standin_gradient_penalty(critic, interpolates):
    import tensorflow as tf
    return tf.reduce_mean(tf.square(critic(interpolates, training=True) - 0.5))


STANDINS = {"critic_loss": standin_critic_loss, "generator_loss": standin_generator_loss,
            "gradient_penalty": standin_gradient_penalty}
FGAN_STANDINS = {"fgan_critic_loss": standin_fgan_critic_loss,
                 "fgan_generator_loss": standin_fgan_generator_loss}


@contextlib.contextmanager
def standin_losses(lab):
    """While the block runs, the losses and the penalty are the stand-ins above, under every
    name wgan_losses.py, fgan_losses.py or wgan_model.py holds them by
    (check_helpers.standing_in puts the originals back afterwards)."""
    standins = {}
    for module, replacements in ((lab.wgan_losses, STANDINS), (lab.fgan_losses, FGAN_STANDINS)):
        for name, standin in replacements.items():
            if hasattr(module, name):
                standins[id(getattr(module, name))] = standin
    with contextlib.ExitStack() as stack:
        for module in (lab.wgan_losses, lab.fgan_losses, lab.wgan_model):
            held = {name: standins[id(value)] for name, value in vars(module).items()
                    if id(value) in standins}
            stack.enter_context(standing_in(module, **held))
        yield


def fix_noise(model, z, points):
    """Replace the model's random draws: sample_latent returns the fixed z (N, latent_dim),
    and sample_interpolates is a stand-in of known behaviour: it returns the fixed `points`
    (N, ...) whatever it is given, and records the sums of the (real, fake) it was given.
    Returns that record."""
    import tensorflow as tf
    given = []

    def sample_interpolates(real, fake):
        given.append([float(tf.reduce_sum(real)), float(tf.reduce_sum(fake))])
        return points
    model.sample_latent = lambda batch_size: z
    model.sample_interpolates = sample_interpolates
    return given


def step_wgan(lab, rng, n, learning_rate=SGD_RATE, **wgan_args):
    """The student's WGAN on the check's tanh networks with random weights, plain SGD and
    fixed noise: (model, generator, critic, real, z, the points the stand-in
    sample_interpolates returns, the record of what it was given)."""
    from autograder.check_helpers import assign_random_weights
    generator, critic = probe_networks(activation="tanh")
    for network in (generator, critic):
        assign_random_weights(network, rng, scale=0.3)
    model = compiled_wgan(lab, generator, critic, latent_dim=2, optimizer="sgd",
                          learning_rate=learning_rate, **wgan_args)
    real = tensor(rng.normal(size=(n, 2)) + [2.0, 0.0])
    z = tensor(rng.normal(size=(n, 2)))
    points = tensor(rng.uniform(-1.0, 3.0, size=(n, 2)))
    return model, generator, critic, real, z, points, fix_noise(model, z, points)


# ------------------------------------------------------------------------ verdict helpers

def exact_w1(x, y):
    """Exact W1 between two 1-D samples (scipy's, an independent computation)."""
    from scipy.stats import wasserstein_distance
    return float(wasserstein_distance(np.ravel(x), np.ravel(y)))


def sliced_w1(x, y, n_directions=64):
    """Sliced W1 between two 2-D samples over fixed, evenly spread angles: scipy's exact 1-D
    W1 of the coordinates along each angle, averaged."""
    x, y = (np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (x, y))
    angles = np.pi * (np.arange(n_directions) + 0.5) / n_directions
    return float(np.mean([exact_w1(np.cos(a) * x[:, 0] + np.sin(a) * x[:, 1],
                                   np.cos(a) * y[:, 0] + np.sin(a) * y[:, 1])
                          for a in angles]))


def train_toy_wgan(lab, rng, name, steps, snapshots=3, depth=3, generator_learning_rate=2e-4,
                   **wgan_args):
    """Train a WGAN of probe networks (`depth` hidden layers of 64) on a 2-D toy set for
    `steps` generator steps (the critic's learning rate is 1e-3); samples on fixed noise at
    the last `snapshots` tenths of the budget (the verdict takes their median distance)."""
    import keras

    from dlkit.data import sample_toy2d, toy2d_dataset
    seed = int(rng.integers(1 << 30))
    generator, critic = probe_networks(hidden_units=64, depth=depth)
    model = compiled_wgan(lab, generator, critic, latent_dim=2, learning_rate=1e-3,
                          generator_learning_rate=generator_learning_rate,
                          # one execution per epoch: an execution always runs its
                          # full count, so a count not dividing the epoch runs extra steps
                          compile_args={"steps_per_execution": steps // 10}, **wgan_args)
    z = tensor(rng.normal(size=(1000, 2)))
    before = generator(z).numpy()
    samples = []
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: samples.append(generator(z).numpy()))
    run_step("training (fit)", model.fit, toy2d_dataset(name, 4096, batch_size=128, seed=seed,
                                                         repeat=True),
             epochs=10, steps_per_epoch=steps // 10, callbacks=[keep], verbose=0)
    return {"before": before, "after": np.stack(samples[-snapshots:]),
            "heldout": sample_toy2d(name, 1000, seed=seed + 1)}


def initial_distance(output):
    return sliced_w1(output["before"], output["heldout"])


def trained_distance(output):
    """Median sliced W1 of the last snapshots of generated samples to held-out data."""
    return float(np.median([sliced_w1(samples, output["heldout"])
                            for samples in output["after"]]))


def judge_training(student, reference, data_name, improve_to=0.6):
    for key in ("before", "after"):
        expect_finite(student[key], f"generator samples {key} training")
    # WGANs oscillate on these sets: over seeds, a correct step lands anywhere from about
    # half to twice the reference's value; a broken one stays near or above the start.
    judge_relative_training(trained_distance(student), initial_distance(student),
                            trained_distance(reference),
                            f"the sliced W1 between generated samples and held-out "
                            f"{data_name} data", improve_to=improve_to, factor=2.0, slack=0.3)
