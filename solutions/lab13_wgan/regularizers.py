"""Lab 13, part 5: two more ways to tame the critic, spectral normalisation and R1.

Spectral normalisation (Miyato et al., 2018) divides every kernel W of the critic by its
largest singular value sigma(W) = max_x ||x W|| / ||x||, its Lipschitz constant as a linear
map. A network of such layers and 1-Lipschitz activations (ReLU, leaky ReLU, tanh) is at
most 1-Lipschitz, with no penalty and no clipping. sigma is estimated by power iteration,
one step per training call, from a persistent vector u that the layer keeps between calls:
W barely moves between two steps, so one step a call tracks sigma as closely as many.

R1 (Mescheder et al., 2018) penalises the critic's input gradient on the real data only,

    R1 = gamma / 2 * mean_i ||grad_x D(x_i)||^2,   x_i real,

which pushes the critic to be flat on the data: at the equilibrium where G matches the
data the critic's gradient there is 0, and R1 keeps the game from circling around it.
"""
import keras
import tensorflow as tf
from keras import layers
from wgan_model import WGAN


def power_iteration(matrix, u, eps=1e-12):
    """One power-iteration step towards the largest singular value of `matrix`.

    matrix: (M, K) float32; u: (K,) unit vector, the current estimate of the top right
    singular vector. Returns (u_new (K,), sigma scalar):

        v = normalize(matrix @ u)          (M,)
        u_new = normalize(matrix^T @ v)    (K,)
        sigma = v . (matrix @ u_new)       the estimate of the largest singular value,

    with normalize(a) = a / sqrt(sum(a^2) + eps). u_new and v are held constant for the
    gradient (tf.stop_gradient), so sigma's gradient w.r.t. matrix is the outer product
    v u_new^T, the gradient of the largest singular value once u has converged.
    """
    # BEGIN SOLUTION v, u_new normalised; stop_gradient on both; sigma = v . (matrix @ u_new)
    v = tf.linalg.matvec(matrix, u)
    v = v / tf.sqrt(tf.reduce_sum(tf.square(v)) + eps)
    u_new = tf.linalg.matvec(matrix, v, transpose_a=True)
    u_new = u_new / tf.sqrt(tf.reduce_sum(tf.square(u_new)) + eps)
    v, u_new = tf.stop_gradient(v), tf.stop_gradient(u_new)
    sigma = tf.reduce_sum(v * tf.linalg.matvec(matrix, u_new))
    return u_new, sigma
    # END SOLUTION


@keras.saving.register_keras_serializable(package="dlkit_lab13_wgan")
class SpectralNormalization(layers.Wrapper):
    """Wraps a layer with a `kernel` (Dense, Conv2D, ...) so that it computes with
    kernel / sigma(kernel) in place of its kernel.

    The kernel of shape (..., K) (Dense: (D, K); Conv2D: (kh, kw, c_in, K)) is seen as the
    matrix reshape(kernel, (-1, K)): Conv2D's (kh * kw * c_in, K), one row per input value
    of a receptive field, one column per output channel, as keras.layers.SpectralNormalization
    reshapes it. (For a convolution this bounds the kernel's matrix, not exactly the
    operator norm of the convolution itself, as in the paper.)

    self.u, (K,), non-trainable, holds the power iteration's estimate between calls; the
    layer's own kernel variable stays the raw, trained W and is never overwritten.
    """

    def __init__(self, layer, eps=1e-12, **kwargs):
        # autocast off: the power iteration reads the float32 kernel even under
        # mixed precision (the wrapped layer still computes in its own dtype).
        super().__init__(layer, autocast=False, **kwargs)
        self.eps = float(eps)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        if not hasattr(self.layer, "kernel"):
            raise ValueError(f"SpectralNormalization wraps a layer with a kernel, got "
                             f"{type(self.layer).__name__}")
        units = self.layer.kernel.shape[-1]
        self.u = self.add_weight(shape=(units,), name="u", trainable=False,
                                 initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.u.assign(self.u / tf.norm(self.u))
        self.built = True

    def call_with_kernel(self, inputs, kernel):
        """The wrapped layer's output on `inputs` as if its kernel were `kernel` (a tensor
        of the kernel's shape; gradients flow through it). A keras.StatelessScope makes the
        layer read `kernel` wherever it reads its kernel variable, without assigning it."""
        with keras.StatelessScope(state_mapping=[(self.layer.kernel, kernel)]):
            return self.layer(inputs)

    def call(self, inputs, training=False):
        """The wrapped layer with kernel / sigma.

        1. matrix = reshape(self.layer.kernel, (-1, K)) (K = the kernel's last axis);
        2. (u_new, sigma) = power_iteration(matrix, self.u, self.eps);
        3. only when training: self.u.assign(u_new) (at inference u stays as it is; the
           output is then what a training call would give, without the state change);
        4. return self.call_with_kernel(inputs, self.layer.kernel / sigma).
        Never assign the kernel itself: the gradient must flow through sigma to W.
        """
        # BEGIN SOLUTION reshape to (-1, K); power_iteration; assign u only when training;
        #   call_with_kernel with kernel / sigma
        kernel = self.layer.kernel
        matrix = tf.reshape(kernel, (-1, kernel.shape[-1]))
        u_new, sigma = power_iteration(matrix, self.u, self.eps)
        if training:
            self.u.assign(u_new)
        return self.call_with_kernel(inputs, kernel / sigma)
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


def make_sn_critic(data_dim=2, hidden_units=64, depth=3, name="sn_critic"):
    """x (N, data_dim) -> scores (N, 1): the MLP critic of wgan_model with every Dense
    wrapped in SpectralNormalization (so the critic is at most 1-Lipschitz)."""
    hidden = [SpectralNormalization(layers.Dense(hidden_units, activation="relu"))
              for _ in range(depth)]
    critic = keras.Sequential([keras.Input((data_dim,)), *hidden,
                               SpectralNormalization(layers.Dense(1))], name=name)
    return critic


def r1_penalty(critic, real, gamma):
    """The R1 penalty: gamma / 2 * mean over the batch of ||grad_x critic(x_i)||_2^2.

    critic: a Keras model, x (N, ...) -> scores (N, 1), that treats examples independently;
    real: (N, ...) float32, REAL samples only (not fakes, not interpolates); gamma: a float.
    Returns a scalar float32. As in gradient_penalty, the input gradient comes from an inner
    tf.GradientTape watching x (the norm over all axes but the batch axis), and nothing is
    stopped: the critic's step differentiates the penalty w.r.t. its weights.
    """
    # BEGIN SOLUTION inner tape watching real; per-example squared norm; gamma / 2 * mean
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = keras.ops.cast(critic(real, training=True), "float32")
    grads = tape.gradient(scores, real)
    squared_norms = tf.reduce_sum(tf.reshape(tf.square(grads), (tf.shape(grads)[0], -1)), axis=1)
    return 0.5 * gamma * tf.reduce_mean(squared_norms)
    # END SOLUTION


@keras.saving.register_keras_serializable(package="dlkit_lab13_wgan")
class R1GAN(WGAN):
    """A GAN whose critic is regularised by R1 on the real data instead of the gradient
    penalty: by default the non-saturating GAN loss (divergence="js") and one critic step
    per generator step, as Mescheder et al. train it. train_step, generator_step and the
    rest are WGAN's; only the critic's step changes."""

    def __init__(self, generator, critic, latent_dim, r1_gamma=10.0, divergence="js",
                 n_critic=1, **kwargs):
        kwargs.update(gp_weight=0.0, clip_value=None)
        super().__init__(generator, critic, latent_dim, n_critic=n_critic,
                         divergence=divergence, **kwargs)
        self.r1_gamma = float(r1_gamma)

    def critic_step(self, real):
        """One critic update on a real batch (N, ...) and N fresh fakes, with R1.

        As WGAN.critic_step (fakes from self.sample_latent outside the tape; scores cast
        to float32; loss = self.critic_objective(real_scores, fake_scores)), but the
        penalty is r1_penalty(self.critic, real, self.r1_gamma) (gamma is inside it: add
        it to the loss as it is), and there is no clipping.
        Returns (loss, penalty): two float32 scalars (the loss without the penalty).
        """
        batch_size = tf.shape(real)[0]
        # BEGIN SOLUTION fakes; loss + r1_penalty on the real batch in the tape; critic only
        fake = keras.ops.cast(self.generator(self.sample_latent(batch_size), training=True),
                              "float32")
        with tf.GradientTape() as tape:
            real_scores = keras.ops.cast(self.critic(real, training=True), "float32")
            fake_scores = keras.ops.cast(self.critic(fake, training=True), "float32")
            loss = self.critic_objective(real_scores, fake_scores)
            penalty = r1_penalty(self.critic, real, self.r1_gamma)
            scaled_total = self.critic_optimizer.scale_loss(loss + penalty)
        variables = self.critic.trainable_variables
        self.critic_optimizer.apply(tape.gradient(scaled_total, variables), variables)
        return loss, penalty
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "r1_gamma": self.r1_gamma}
