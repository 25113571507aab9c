"""Lab 14, part 6: NADE, the neural autoregressive density estimator. Fill in the parts marked
TODO.

NADE models binary vectors x (D dimensions) in the natural order 0, 1, ..., D - 1: the
conditional of x_d given x_<d is a one-hidden-layer network whose hidden layer sees x_<d only,

    h_d      = sigmoid(a_d),             a_d = c + W[:, :d] @ x[:d]      (H,)
    logit_d  = b[d] + V[d] @ h_d                                         p(x_d = 1 | x_<d)
                                                                         = sigmoid(logit_d)

with the weights W (H, D) and c (H,) SHARED by every conditional, and a row V[d] (H,) and a
bias b[d] per dimension. Sharing W makes the D hidden layers cheap: a_0 = c and

    a_d = a_{d-1} + W[:, d - 1] * x[d - 1]

so all D logits cost O(D H) per example, not the O(D^2 H) of recomputing every a_d.

    nade_logits   the O(D H) forward pass: every logit_d at once, (N, D)
    nade_sample   sampling in the same order, carrying a_d along: O(D H) per sample
    NADE          (given) the Keras model: its weights, call(x) = nade_logits(x, ...), fit()
                  minimises the exact negative log-likelihood (likelihood.AutoregressiveModel)
"""
import keras
import numpy as np
import tensorflow as tf
from likelihood import AutoregressiveModel


def nade_logits(x, W, c, V, b):
    """All D conditionals' logits of NADE in one O(D H) pass, in the order 0, 1, ..., D - 1.

    x: (N, D) binary; W: (H, D); c: (H,); V: (D, H); b: (D,).
    logits[:, d] = b[d] + V[d] @ sigmoid(a_d) with a_d = c + sum over j < d of W[:, j] x[:, j]
    (a_0 = c: the first logit sees no input). Returns logits: (N, D), a tensor.
    """
    # BEGIN SOLUTION a[:, d] = c + the EXCLUSIVE running sum over j < d of x[:, j] * W[:, j] (tf.cumsum
    #   with exclusive=True over the D axis of x[:, :, None] * transpose(W)[None]), then
    #   logits = b + sum over H of V * sigmoid(a)
    x = tf.cast(tf.convert_to_tensor(x), tf.convert_to_tensor(W).dtype)
    contributions = x[:, :, None] * tf.transpose(W)[None, :, :]      # (N, D, H)
    a = c + tf.cumsum(contributions, axis=1, exclusive=True)         # a_d sees x_<d only
    return b + tf.reduce_sum(V[None, :, :] * tf.sigmoid(a), axis=-1)
    # END SOLUTION


def nade_sample(W, c, V, b, uniform):
    """N samples of NADE, dimension 0 first, carrying the pre-activation a_d along.

    W: (H, D); c: (H,); V: (D, H); b: (D,) (numpy arrays); uniform: (N, D) numbers in
    [0, 1), uniform[:, d] for dimension d. Start from a = c (N copies); for d = 0, ..., D - 1:
    p = sigmoid(b[d] + sigmoid(a) @ V[d]), x[:, d] = 1.0 where uniform[:, d] < p, then
    a += x[:, d] * W[:, d]. Returns x: (N, D) float32. O(D H) per sample, no model calls.
    """
    W, c, V, b = (np.asarray(w, dtype=np.float64) for w in (W, c, V, b))
    uniform = np.asarray(uniform)
    x = np.zeros(uniform.shape, dtype=np.float32)
    # BEGIN SOLUTION a = c for every sample; per d: the logit from sigmoid(a), draw x[:, d] by
    #   inversion (uniform < sigmoid(logit)), THEN add x[:, d] * W[:, d] to a for the next d
    a = np.tile(c, (len(uniform), 1))
    for d in range(uniform.shape[1]):
        logit = b[d] + (1.0 / (1.0 + np.exp(-a))) @ V[d]
        x[:, d] = uniform[:, d] < 1.0 / (1.0 + np.exp(-logit))
        a = a + x[:, d, None] * W[:, d]
    # END SOLUTION
    return x


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class NADE(AutoregressiveModel):
    """NADE(input_dim, hidden_units): p(x) = prod_d Bernoulli(x_d; sigmoid(logit_d)).

    Weights: W (hidden_units, input_dim) and c (hidden_units,) shared, V (input_dim,
    hidden_units) and b (input_dim,). x: (N, input_dim) binary; call(x) returns the logits
    (N, input_dim) of nade_logits. Given: the lab's training loop minimises -log p(x).
    """

    def __init__(self, input_dim=64, hidden_units=32, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.hidden_units = int(hidden_units)
        self.build((None, self.input_dim))  # an unbuilt model would save without weights

    def build(self, input_shape):
        if self.built:
            return
        d, h = self.input_dim, self.hidden_units
        init = keras.initializers.RandomNormal(stddev=0.1)
        self.W = self.add_weight(shape=(h, d), initializer=init, name="W")
        self.c = self.add_weight(shape=(h,), initializer="zeros", name="c")
        self.V = self.add_weight(shape=(d, h), initializer=init, name="V")
        self.b = self.add_weight(shape=(d,), initializer="zeros", name="b")
        self.built = True

    def call(self, x):
        return nade_logits(keras.ops.cast(x, self.W.dtype), self.W, self.c, self.V, self.b)

    def weights_numpy(self):
        """(W, c, V, b) as numpy arrays, for nade_sample."""
        return tuple(np.asarray(w) for w in (self.W, self.c, self.V, self.b))

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "hidden_units": self.hidden_units}
