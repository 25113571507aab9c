"""Lab 12, part 1: the GAN losses, computed from logits.

The discriminator D outputs a logit l; D(x) = sigmoid(l) is its belief that x is real.
Every loss here is written with softplus(t) = log(1 + exp(t)), which is what the sigmoid
cross-entropy reduces to:

    -log sigmoid(l)     = softplus(-l)
    -log(1 - sigmoid(l)) = softplus(l)

softplus never takes the log of an underflowed probability, so the losses stay finite for
any logit (a naive log(sigmoid(l)) is -inf once sigmoid(l) underflows, near l = -104).
"""
import keras
import tensorflow as tf


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy of D: real data labelled 1, generated samples labelled 0.

    real_logits: (N, 1) or (N,) logits of D on data; fake_logits: (M, 1) or (M,) logits of
    D on generated samples. Returns a scalar:
        mean(-log D(x)) + mean(-log(1 - D(G(z))))
    (the mean over the real batch plus the mean over the fake batch).
    """
    real_logits = tf.reshape(tf.convert_to_tensor(real_logits), [-1])
    fake_logits = tf.reshape(tf.convert_to_tensor(fake_logits), [-1])
    real_term = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(real_logits),
                                                        logits=real_logits)
    fake_term = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake_logits),
                                                        logits=fake_logits)
    return tf.reduce_mean(real_term) + tf.reduce_mean(fake_term)


def minimax_generator_loss(fake_logits):
    """The generator's side of the original minimax game: mean(log(1 - D(G(z)))).

    G minimises it. fake_logits: (M, 1) or (M,). Returns a scalar (always <= 0).
    It saturates: when D confidently rejects the fakes (l << 0) its gradient vanishes.
    """
    # log(1 - sigmoid(l)) = log sigmoid(-l)
    return keras.ops.mean(keras.ops.log_sigmoid(-keras.ops.convert_to_tensor(fake_logits)))


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss: mean(-log D(G(z))).

    G minimises it: the fakes labelled *real* in D's cross-entropy. fake_logits: (M, 1) or
    (M,). Returns a scalar (always >= 0). Its gradient is strongest exactly when D
    confidently rejects the fakes, which is where the minimax loss goes flat.
    """
    return -keras.ops.mean(keras.ops.log_sigmoid(keras.ops.convert_to_tensor(fake_logits)))


GENERATOR_LOSSES = {
    "minimax": minimax_generator_loss,
    "non_saturating": non_saturating_generator_loss,
}
