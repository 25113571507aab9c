"""Lab 16b, part 2: the restricted Boltzmann machine. Fill in the parts marked TODO.

An RBM has V binary visible units v and H binary hidden units h (each 0 or 1), weights W
(V, H), a visible bias b (V,) and a hidden bias c (H,), and the energy

    E(v, h) = -v^T W h - b^T v - c^T h,        p(v, h) = exp(-E(v, h)) / Z.

There are no visible-visible or hidden-hidden weights ("restricted"), so given v the hidden
units are independent, and given h the visible ones:

    p(h_j = 1 | v) = sigmoid(c_j + (v W)_j),     p(v_i = 1 | h) = sigmoid(b_i + (W h)_i).

The pieces, in the order the handout builds them:

1. conditionals     RBM.hidden_probabilities, RBM.visible_probabilities
2. free energy      RBM.free_energy: F(v) = -log sum_h exp(-E(v, h)), in closed form
3. normaliser       RBM.log_partition (exact, by enumerating the hidden configurations),
                    RBM.log_likelihood
4. Gibbs sampling   RBM.gibbs_step, RBM.gibbs_chain (with self.sample, given)
5. learning         contrastive_divergence_loss, RBM.train_step (CD-k, or persistent CD)

Shapes: a batch of N visible vectors is (N, V), of hidden vectors (N, H); float32 of 0 and 1.
"""
import itertools

import keras
import numpy as np
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer

PACKAGE = "dlkit_lab16b_energy_models"


def all_binary_vectors(n):
    """Every binary vector of length n, one per row (given): float32 (2^n, n)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=int(n))), dtype="float32")


def contrastive_divergence_loss(rbm, v_data, v_model):
    """The CD surrogate loss: mean F(v_data) - mean F(v_model), with v_model held constant.

    Its gradient with respect to the weights is the CD estimate of the negative
    log-likelihood's gradient: the positive phase (the data) minus the negative phase (the
    model's samples). v_model comes out of a sampling chain that depends on the weights;
    wrap it in tf.stop_gradient so that no gradient flows into the chain.
    rbm: an RBM (its free_energy); v_data, v_model: (N, V) and (M, V). Returns a scalar.
    """
    v_data = tf.cast(v_data, tf.float32)
    v_model = tf.stop_gradient(tf.cast(v_model, tf.float32))
    f = rbm.free_energy(tf.concat([v_data, v_model], axis=0))
    n = tf.shape(v_data)[0]
    return tf.reduce_mean(f[:n]) - tf.reduce_mean(f[n:])


@keras.saving.register_keras_serializable(package=PACKAGE)
class RBM(OneOptimizer, keras.Model):
    """A binary RBM trained by contrastive divergence.

    RBM(num_visible, num_hidden, k=1, persistent=False, num_chains=64, seed=0):
      k: Gibbs steps per training step (CD-k);
      persistent: False for CD-k (each step's chain starts at the batch), True for persistent
        CD (the chain goes on from where the previous step left it, in self.chain: num_chains
        fantasy particles);
      seed: of self.seed_generator, which self.sample draws from.
    Weights (given): self.kernel W (V, H), self.visible_bias b (V,), self.hidden_bias c (H,).
    compile(optimizer) builds the optimizer (dlkit.training.OneOptimizer); fit(x) with x
    (N, V) binary logs "loss" (the CD loss) and "reconstruction_error".
    """

    def __init__(self, num_visible, num_hidden, k=1, persistent=False, num_chains=64, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_visible, self.num_hidden = int(num_visible), int(num_hidden)
        self.k, self.persistent = int(k), bool(persistent)
        self.num_chains, self.seed = int(num_chains), int(seed)
        self.kernel = self.add_weight(
            shape=(self.num_visible, self.num_hidden), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=0.01, seed=self.seed))
        self.visible_bias = self.add_weight(shape=(self.num_visible,), name="visible_bias",
                                            initializer="zeros")
        self.hidden_bias = self.add_weight(shape=(self.num_hidden,), name="hidden_bias",
                                           initializer="zeros")
        # The persistent chain's particles: state, not parameters (no gradient, no optimizer).
        self.chain = self.add_weight(shape=(self.num_chains, self.num_visible), name="chain",
                                     initializer="zeros", trainable=False)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.trackers = LossTrackers("loss", "reconstruction_error")
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def sample(self, probabilities):
        """Binary samples, 1 with the given probability, each unit independently (given):
        uniform draws from self.seed_generator compared with the probabilities. Every random
        draw of the RBM goes through here. Returns float32 of 0 and 1, the same shape."""
        probabilities = keras.ops.cast(probabilities, "float32")
        noise = keras.random.uniform(tf.shape(probabilities), seed=self.seed_generator)
        return keras.ops.cast(noise < probabilities, "float32")

    # ---- 1. Conditionals ----------------------------------------------------------------------

    def hidden_probabilities(self, v):
        """p(h_j = 1 | v) = sigmoid(c_j + (v W)_j). v: (N, V). Returns float32 (N, H)."""
        v = tf.cast(v, tf.float32)
        return tf.nn.sigmoid(tf.einsum("nv,vh->nh", v, self.kernel) + self.hidden_bias)

    def visible_probabilities(self, h):
        """p(v_i = 1 | h) = sigmoid(b_i + (W h)_i). h: (N, H). Returns float32 (N, V)."""
        h = tf.cast(h, tf.float32)
        return tf.nn.sigmoid(tf.einsum("nh,vh->nv", h, self.kernel) + self.visible_bias)

    # ---- 2. Free energy -----------------------------------------------------------------------

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(c_j + (v W)_j).

        Summing each hidden unit out on its own (it is 0 or 1) gives the closed form, so that
        p(v) = exp(-F(v)) / Z. v: (N, V). Returns float32 (N,).
        """
        v = tf.cast(v, tf.float32)
        x = tf.einsum("nv,vh->nh", v, self.kernel) + self.hidden_bias
        softplus = tf.nn.relu(x) + tf.math.log1p(tf.exp(-tf.abs(x)))   # log(1 + e^x), stably
        return -tf.reduce_sum(v * self.visible_bias, axis=1) - tf.reduce_sum(softplus, axis=1)

    # ---- 3. The normaliser --------------------------------------------------------------------

    def log_partition(self):
        """The exact log Z, by enumerating the 2^H hidden configurations (H up to about 20).

        Summing the visible units out instead, for each h:
            log sum_v exp(-E(v, h)) = c^T h + sum_i softplus(b_i + (W h)_i),
        so log Z = logsumexp over all h of that. Use all_binary_vectors(H).
        Returns a float32 scalar.
        """
        h = tf.constant(all_binary_vectors(self.num_hidden))
        x = tf.einsum("kh,vh->kv", h, self.kernel) + self.visible_bias
        t = tf.reduce_sum(h * self.hidden_bias, axis=1) + tf.reduce_sum(tf.nn.softplus(x), axis=1)
        top = tf.reduce_max(t)
        return top + tf.math.log(tf.reduce_sum(tf.exp(t - top)))

    def log_likelihood(self, v):
        """log p(v) = -F(v) - log Z for each row. v: (N, V). Returns float32 (N,)."""
        log_z = self.log_partition()
        return -self.free_energy(v) - log_z

    def reconstruction_error(self, v):
        """The mean squared error between v and its mean-field reconstruction
        visible_probabilities(hidden_probabilities(v)) (given): a cheap training monitor,
        not a likelihood. v: (N, V). Returns a float32 scalar."""
        v = keras.ops.cast(v, "float32")
        return tf.reduce_mean(tf.square(v - self.visible_probabilities(
            self.hidden_probabilities(v))))

    # ---- 4. Gibbs sampling --------------------------------------------------------------------

    def gibbs_step(self, v):
        """One step of block Gibbs sampling: h ~ p(h | v), then v' ~ p(v | h), both drawn with
        self.sample (binary samples, never probabilities). v: (N, V). Returns v' (N, V)."""
        p_h = self.hidden_probabilities(v)
        h = self.sample(p_h)
        p_v = self.visible_probabilities(h)
        return self.sample(p_v)

    def gibbs_chain(self, v, steps):
        """`steps` Gibbs steps from v (steps a Python int). Returns the last v (N, V)."""
        v = tf.cast(v, tf.float32)
        return keras.ops.fori_loop(0, steps, lambda _, x: self.gibbs_step(x), v)

    # ---- 5. Learning --------------------------------------------------------------------------

    def train_step(self, data):
        """One CD-k (or persistent CD) step on a batch of binary visible vectors.

        The negative phase's chain starts at the batch (CD-k) or at self.chain (persistent),
        runs self.k Gibbs steps, and (persistent) is stored back in self.chain. Then, in a
        tape, contrastive_divergence_loss(self, batch, chain's end); scale_loss; apply.
        Logs "loss" and "reconstruction_error" (of the batch).
        """
        v_data, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v_data = keras.ops.cast(v_data, "float32")
        # the monitor first, on the weights this step starts from
        recon = self.reconstruction_error(v_data)
        start = tf.identity(self.chain) if self.persistent else v_data
        v_model = self.gibbs_chain(start, self.k)
        if self.persistent:
            self.chain.assign(v_model)
        with tf.GradientTape() as tape:
            loss = contrastive_divergence_loss(self, v_data, v_model)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.trackers.update(loss=loss, reconstruction_error=recon)
        return self.trackers.results()

    def call(self, v):
        return self.hidden_probabilities(v)

    def get_config(self):
        return {**super().get_config(), "num_visible": self.num_visible,
                "num_hidden": self.num_hidden, "k": self.k, "persistent": self.persistent,
                "num_chains": self.num_chains, "seed": self.seed}
