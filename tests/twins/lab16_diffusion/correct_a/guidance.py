"""Lab 16, part 4: classifier-free guidance.

One network learns both the conditional noise eps(x_t, t, y) and the unconditional
eps(x_t, t, null): during training each label is replaced by a "null" label with a small
probability (label dropout). At sampling time the two predictions are combined,

    eps_guided = (1 + w) * eps(x_t, t, y) - w * eps(x_t, t, null),

which moves the samples further in the direction that makes y more likely: w = 0 is plain
conditional sampling, larger w gives samples more typical of their class and less varied.
"""
import tensorflow as tf


def drop_labels(labels, uniform, drop_probability, null_label):
    """Label dropout: replace each label by null_label where uniform < drop_probability.

    labels: (N,) integers; uniform: (N,) draws from U[0, 1) (given, so that the result is
    reproducible); null_label: the integer that means "no label" (num_classes).
    Returns (N,) integers of the same dtype as labels.
    """
    # TODO: tf.where: null_label where the draw falls below the probability, the label elsewhere
    labels = tf.convert_to_tensor(labels)
    drop = tf.convert_to_tensor(uniform) < drop_probability
    return tf.where(drop, tf.cast(tf.fill(tf.shape(labels), null_label), labels.dtype), labels)


def guided_noise(conditional_noise, unconditional_noise, guidance_weight):
    """Classifier-free guidance: (1 + w) * conditional - w * unconditional.

    conditional_noise, unconditional_noise: (N, ...); guidance_weight: w >= 0.
    Returns the guided noise prediction: (N, ...).
    """
    # TODO: push the conditional prediction away from the unconditional one by w
    return (1.0 + guidance_weight) * conditional_noise - guidance_weight * unconditional_noise
