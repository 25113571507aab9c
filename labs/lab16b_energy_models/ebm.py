"""Lab 16b, part 3: an energy-based model of 2-D points, trained with Langevin samples. Fill
in the parts marked TODO.

An energy network E_theta(x) (an MLP, 2 -> 1) defines p_theta(x) = exp(-E_theta(x)) / Z_theta.
Z is unknown, but the gradient of the negative log-likelihood does not need it:

    grad_theta -log p(x) = grad_theta E(x) - E_{x' ~ p_theta}[grad_theta E(x')],

data pushed down, the model's own samples pushed up. The samples come from Langevin
dynamics, which needs only grad_x E.

The pieces, in the order the handout builds them:

1. Langevin dynamics   langevin_step, langevin_sample
2. the loss            contrastive_loss (with a small L2 penalty on the energies)
3. the model           EBM.train_step (a replay buffer of samples is given)

Shapes: N points of D = 2 coordinates, (N, D) float32; energies (N,).
"""
import keras
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer

PACKAGE = "dlkit_lab16b_energy_models"


def energy_network(hidden_units=(32, 32), name="energy"):
    """The energy MLP (given): smooth swish layers, so that grad_x E is smooth too, then one
    linear output. Maps (N, 2) to (N, 1)."""
    layers = [keras.layers.Dense(units, activation="swish", name=f"{name}_{k}")
              for k, units in enumerate(hidden_units)]
    return keras.Sequential(layers + [keras.layers.Dense(1, name=f"{name}_out")], name=name)


# ---------------------------------------------------------------------------------------------
# 1. Langevin dynamics
# ---------------------------------------------------------------------------------------------

def langevin_step(energy_fn, x, step_size, noise, clip=None):
    """One step of (unadjusted) Langevin dynamics on the energy:

        x_new = x - step_size / 2 * grad_x E(x) + sqrt(step_size) * noise

    (a step DOWN the energy, which is up the log-density -E, and Gaussian noise of variance
    step_size). Run long enough with a small step, its states are samples of exp(-E) / Z.
    energy_fn: (N, D) -> (N,) energies (a TensorFlow function of x); x, noise: (N, D);
    step_size: a positive number; clip: None, or a bound: x_new clipped to [-clip, clip].
    grad_x E comes from a tf.GradientTape watching x (the gradient of the energies' sum:
    each row's energy depends on its own row only). Returns x_new (N, D) float32, held
    constant (tf.stop_gradient): a sample, not a function of the energy's weights.
    """
    # TODO: watch x in a GradientTape, grad = tape.gradient(sum of energy_fn(x), x); x - step_size /
    #       2 * grad + sqrt(step_size) * noise; clip if asked; tf.stop_gradient
    raise NotImplementedError("fill in the TODO above")


def langevin_sample(energy_fn, x, num_steps, step_size, seed, clip=None):
    """num_steps Langevin steps from x, with fresh N(0, I) noise at every step drawn as
    keras.random.normal(tf.shape(x), seed=seed) (seed: a keras.random.SeedGenerator).
    num_steps: a Python int. Returns the last x (N, D) float32.

    A Python loop works; keras.ops.fori_loop(0, num_steps, body, x), with body(i, x)
    returning the next x, is traced once inside train_step instead of num_steps times."""
    # TODO: num_steps times: fresh noise from the seed generator, x = langevin_step(...)
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 2. The loss
# ---------------------------------------------------------------------------------------------

def contrastive_loss(energy_fn, x_data, x_samples, alpha):
    """The EBM's loss:

        mean(E(data)) - mean(E(samples)) + alpha * (mean(E(data)**2) + mean(E(samples)**2))

    (the penalty is the mean of the SQUARED energies, not the square of their mean). Its
    gradient pushes the data's energy down and the samples' energy up (the two phases
    of the likelihood's gradient); the small L2 penalty keeps the energies near 0, since
    E + constant is the same model. The samples are held constant (tf.stop_gradient): their
    dependence on the weights through the sampler is not part of the gradient.
    energy_fn: (N, D) -> (N,); x_data: (N, D); x_samples: (M, D). Returns
    (loss, mean data energy, mean sample energy), float32 scalars.
    """
    # TODO: energies of the data and of tf.stop_gradient(samples); loss = mean(data) - mean(samples)
    #       + alpha * (mean(data^2) + mean(samples^2))
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 3. The model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class EBM(OneOptimizer, keras.Model):
    """An energy-based model of points in [-box, box]^2, trained with short Langevin chains
    that start from a replay buffer of earlier samples.

    EBM(hidden_units, langevin_steps, step_size, alpha, buffer_size, reinit, box, seed):
      langevin_steps, step_size: each training step's chain; alpha: the L2 penalty;
      buffer_size: the replay buffer's number of points; reinit: the share of chains that
        start from fresh uniform noise instead of the buffer; box: points live in
        [-box, box]^2 (the chains are clipped there).
    energy(x) gives (N,) energies; fit(x) with x (N, 2) logs "loss", "data_energy" and
    "sample_energy"; compile builds the optimizer (dlkit.training.OneOptimizer).
    """

    def __init__(self, hidden_units=(32, 32), langevin_steps=10, step_size=0.01, alpha=0.1,
                 buffer_size=1024, reinit=0.05, box=4.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.langevin_steps, self.step_size = int(langevin_steps), float(step_size)
        self.alpha, self.buffer_size = float(alpha), int(buffer_size)
        self.reinit, self.box, self.seed = float(reinit), float(box), int(seed)
        self.network = energy_network(self.hidden_units)
        self.network.build((None, 2))
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.buffer = self.add_weight(
            shape=(self.buffer_size, 2), name="buffer", trainable=False,
            initializer=keras.initializers.RandomUniform(-self.box, self.box, seed=self.seed))
        self.trackers = LossTrackers("loss", "data_energy", "sample_energy")
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def energy(self, x):
        """E(x) for x (N, 2): float32 (N,)."""
        return keras.ops.cast(self.network(x)[:, 0], "float32")

    def call(self, x):
        return self.energy(x)

    def replay_starts(self, n):
        """Where n chains start (given): points of the buffer drawn at random, a share
        `reinit` of them replaced by fresh uniform points in the box. Returns (starts (n, 2),
        the buffer rows they came from (n,))."""
        # One draw of four uniforms per chain: its row, a fresh point, and whether to renew.
        u = keras.random.uniform((n, 4), seed=self.seed_generator)
        rows = tf.minimum(tf.cast(u[:, 0] * self.buffer_size, tf.int32), self.buffer_size - 1)
        fresh = (2.0 * u[:, 1:3] - 1.0) * self.box
        return tf.where(u[:, 3:] < self.reinit, fresh, tf.gather(self.buffer, rows)), rows

    def remember(self, rows, samples):
        """Write the chains' ends back into the buffer rows they started from (given)."""
        self.buffer.assign(tf.tensor_scatter_nd_update(self.buffer, rows[:, None], samples))

    def train_step(self, data):
        """One step: n chains from replay_starts(n) (n = the batch size), langevin_sample
        for self.langevin_steps steps of self.step_size (seed=self.seed_generator,
        clip=self.box), the ends remembered; then, in a tape, contrastive_loss of the batch
        against the samples; scale_loss; apply. Logs "loss", "data_energy", "sample_energy".
        """
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = keras.ops.cast(x, "float32")
        # TODO: starts, rows = self.replay_starts(tf.shape(x)[0]); samples =
        #       langevin_sample(self.energy, starts, ...); self.remember(rows, samples); the loss in
        #       a GradientTape, scale_loss, apply; update the trackers
        raise NotImplementedError("fill in the TODO above")
        return self.trackers.results()

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units),
                "langevin_steps": self.langevin_steps, "step_size": self.step_size,
                "alpha": self.alpha, "buffer_size": self.buffer_size, "reinit": self.reinit,
                "box": self.box, "seed": self.seed}
