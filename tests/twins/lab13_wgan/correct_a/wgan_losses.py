"""Lab 13, part 2: the WGAN losses and the gradient penalty of WGAN-GP.

The critic f outputs an unbounded score (no sigmoid: it is not a probability). For a
1-Lipschitz f, E_P f(x) - E_Q f(G(z)) is a lower bound on W1(P, Q) that is tight at the
best f, so the critic *maximises* that gap and the generator *minimises* it. Written as
two losses to minimise:

    critic:     mean f(G(z)) - mean f(x)
    generator: -mean f(G(z))

The Lipschitz constraint is what makes the gap a distance. WGAN (Arjovsky et al., 2017)
clips the critic's weights to [-c, c]; WGAN-GP (Gulrajani et al., 2017) instead penalises
(||grad_x f(x_hat)|| - 1)^2 at random points x_hat between real and fake samples.
"""
import keras
import tensorflow as tf


def critic_loss(real_scores, fake_scores):
    """The critic's Wasserstein loss: mean(fake scores) - mean(real scores).

    real_scores: (N, 1) or (N,) critic scores on data; fake_scores: (M, 1) or (M,) on
    generated samples. Returns a scalar. The critic minimises it; -critic_loss is its
    current estimate of W1(data, model).
    """
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def generator_loss(fake_scores):
    """The generator's Wasserstein loss: -mean(fake scores).

    fake_scores: (M, 1) or (M,). Returns a scalar. (The critic's mean on real data does
    not depend on G, so this is the critic's gap up to a constant G cannot change.)
    """
    return -tf.reduce_mean(fake_scores)


def random_interpolates(real, fake, seed=None):
    """Random points on the segments between paired real and fake samples.

        x_hat_i = alpha_i * real_i + (1 - alpha_i) * fake_i,   alpha_i ~ U(0, 1),

    with ONE alpha per example (drawn with keras.random.uniform(..., seed=seed)), shaped
    (N, 1, ..., 1) so that it broadcasts over all the other axes of that example.
    real, fake: (N, ...) float32 of the same shape (points (N, D) or images (N, H, W, C)).
    seed: an int, None, or a keras.random.SeedGenerator. Returns x_hat: (N, ...).
    """
    real = tf.convert_to_tensor(real)
    fake = tf.cast(fake, real.dtype)
    n = tf.shape(real)[0]
    shape = [n] + [1] * (len(real.shape) - 1)
    alpha = keras.random.uniform(shape, minval=0.0, maxval=1.0, dtype=real.dtype, seed=seed)
    return alpha * real + (1.0 - alpha) * fake


def gradient_penalty(critic, interpolates):
    """The WGAN-GP penalty: mean over the batch of (||grad_x critic(x_hat_i)||_2 - 1)^2.

    critic: a Keras model, x (N, ...) -> scores (N, 1), that treats examples
    independently (no batch normalisation); interpolates: x_hat (N, ...) float32.
    Returns a scalar float32.

    The gradient w.r.t. the *inputs* comes from an inner tf.GradientTape that watches
    x_hat (a tensor, not a variable). The gradient of a sum of scores w.r.t. x_hat gives
    every example its own gradient, since example i's score depends on x_hat_i only. Its
    norm is over all axes but the batch axis. Call this inside the critic's own tape and
    stop nothing: the critic's update needs the gradient of the penalty itself w.r.t. its
    weights (a gradient of a gradient: double backpropagation).
    """
    interpolates = tf.convert_to_tensor(interpolates, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = tf.cast(critic(interpolates, training=True), tf.float32)
    grads = tape.gradient(scores, interpolates)
    norms = tf.norm(tf.reshape(grads, [tf.shape(grads)[0], -1]), axis=1)
    return tf.reduce_mean(tf.square(norms - 1.0))
