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
    # BEGIN SOLUTION mean of rbm.free_energy(v_data) minus mean of rbm.free_energy(tf.stop_gradient(v_model))
    positive = tf.reduce_mean(rbm.free_energy(v_data))
    negative = tf.reduce_mean(rbm.free_energy(tf.stop_gradient(v_model)))
    return positive - negative
    # END SOLUTION


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
        # BEGIN SOLUTION sigmoid of v @ kernel plus the hidden bias
        v = keras.ops.cast(v, "float32")
        return tf.sigmoid(tf.matmul(v, self.kernel) + self.hidden_bias)
        # END SOLUTION

    def visible_probabilities(self, h):
        """p(v_i = 1 | h) = sigmoid(b_i + (W h)_i). h: (N, H). Returns float32 (N, V)."""
        # BEGIN SOLUTION sigmoid of h @ kernel^T plus the visible bias
        h = keras.ops.cast(h, "float32")
        return tf.sigmoid(tf.matmul(h, self.kernel, transpose_b=True) + self.visible_bias)
        # END SOLUTION

    # ---- 2. Free energy -----------------------------------------------------------------------

    def free_energy(self, v):
        """F(v) = -log sum_h exp(-E(v, h)) = -b^T v - sum_j softplus(c_j + (v W)_j).

        Summing each hidden unit out on its own (it is 0 or 1) gives the closed form, so that
        p(v) = exp(-F(v)) / Z. v: (N, V). Returns float32 (N,).
        """
        # BEGIN SOLUTION minus v . visible_bias, minus the sum over the hidden units of softplus(v @ kernel + hidden_bias)
        v = keras.ops.cast(v, "float32")
        hidden_inputs = tf.matmul(v, self.kernel) + self.hidden_bias
        return (-tf.linalg.matvec(v, self.visible_bias)
                - tf.reduce_sum(tf.math.softplus(hidden_inputs), axis=-1))
        # END SOLUTION

    # ---- 3. The normaliser --------------------------------------------------------------------

    def log_partition(self):
        """The exact log Z, by enumerating the 2^H hidden configurations (H up to about 20).

        Summing the visible units out instead, for each h:
            log sum_v exp(-E(v, h)) = c^T h + sum_i softplus(b_i + (W h)_i),
        so log Z = logsumexp over all h of that. Use all_binary_vectors(H).
        Returns a float32 scalar.
        """
        # BEGIN SOLUTION every h (all_binary_vectors(H)); c . h + sum over i of softplus(h @ kernel^T + visible_bias); reduce_logsumexp over the configurations
        hiddens = tf.constant(all_binary_vectors(self.num_hidden))
        visible_inputs = tf.matmul(hiddens, self.kernel, transpose_b=True) + self.visible_bias
        terms = (tf.linalg.matvec(hiddens, self.hidden_bias)
                 + tf.reduce_sum(tf.math.softplus(visible_inputs), axis=-1))
        return tf.reduce_logsumexp(terms)
        # END SOLUTION

    def log_likelihood(self, v):
        """log p(v) = -F(v) - log Z for each row. v: (N, V). Returns float32 (N,)."""
        # BEGIN SOLUTION minus the free energy minus log_partition()
        return -self.free_energy(v) - self.log_partition()
        # END SOLUTION

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
        # BEGIN SOLUTION h = self.sample(hidden probabilities of v); return self.sample(visible probabilities of h)
        h = self.sample(self.hidden_probabilities(v))
        return self.sample(self.visible_probabilities(h))
        # END SOLUTION

    def gibbs_chain(self, v, steps):
        """`steps` Gibbs steps from v (steps a Python int). Returns the last v (N, V)."""
        # BEGIN SOLUTION steps times v = self.gibbs_step(v)
        v = keras.ops.cast(v, "float32")
        for _ in range(steps):
            v = self.gibbs_step(v)
        return v
        # END SOLUTION

    # ---- 5. Learning --------------------------------------------------------------------------

    def train_step(self, data):
        """One CD-k (or persistent CD) step on a batch of binary visible vectors.

        The negative phase's chain starts at the batch (CD-k) or at self.chain (persistent),
        runs self.k Gibbs steps, and (persistent) is stored back in self.chain. Then, in a
        tape, contrastive_divergence_loss(self, batch, chain's end); scale_loss; apply.
        Logs "loss" (the CD loss of this step) and "reconstruction_error":
        self.reconstruction_error(batch), of the batch, on the weights before or after this
        step's update (either is right: the checks accept both).
        """
        v_data, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v_data = keras.ops.cast(v_data, "float32")
        # BEGIN SOLUTION start = self.chain if self.persistent else v_data; v_model = self.gibbs_chain(start, self.k);
        #   persistent: self.chain.assign(v_model); the loss in a GradientTape, scale_loss,
        #   tape.gradient, self.optimizer.apply; update the trackers (reconstruction_error of v_data)
        start = self.chain if self.persistent else v_data
        v_model = self.gibbs_chain(start, self.k)
        if self.persistent:
            self.chain.assign(v_model)
        with tf.GradientTape() as tape:
            loss = contrastive_divergence_loss(self, v_data, v_model)
            scaled = self.optimizer.scale_loss(loss)
        self.optimizer.apply(tape.gradient(scaled, self.trainable_variables),
                             self.trainable_variables)
        self.trackers.update(loss=loss, reconstruction_error=self.reconstruction_error(v_data))
        # END SOLUTION
        return self.trackers.results()

    def call(self, v):
        return self.hidden_probabilities(v)

    def get_config(self):
        return {**super().get_config(), "num_visible": self.num_visible,
                "num_hidden": self.num_hidden, "k": self.k, "persistent": self.persistent,
                "num_chains": self.num_chains, "seed": self.seed}
