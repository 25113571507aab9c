"""Lab 10, part 2: regularised autoencoders, and anomaly detection by reconstruction error.

What you write, in order:
1. a sparse autoencoder: an L1 penalty on the code          l1_penalty, SparseAutoencoder.call
2. a contractive autoencoder: the encoder's Jacobian        contractive_penalty,
   penalised in its own train_step                          ContractiveAutoencoder.train_step
3. anomaly detection: train on every digit class but one,   reconstruction_errors, roc_auc,
   flag the unseen class by its reconstruction error        anomaly_detection

Both autoencoders here take their `encoder` and `decoder` as given Keras models (x -> code,
code -> x_hat, built), so any stacks fit in: the checks use small ones of their own, the
notebook the stacks of your DenseAutoencoder. Shapes: N examples, D inputs (or images), K
code units.
"""
import keras
import numpy as np
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer

PACKAGE = "dlkit_lab10_autoencoders"


class RegularizedAutoencoder(keras.Model):
    """x -> encoder -> code -> decoder -> x_hat, with a regularisation weight. Given: the
    subclasses differ in how the penalty enters the loss."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        # The stacks come built (their weights exist): so is this model, and it saves to
        # .keras with its weights.
        self.built = encoder.built and decoder.built

    def encode(self, x):
        """x: (N, ...). Returns codes: (N, K)."""
        return self.encoder(x)

    def decode(self, codes):
        """codes: (N, K). Returns x_hat: (N, ...)."""
        return self.decoder(codes)

    def call(self, x):
        return self.decoder(self.encoder(x))

    def get_config(self):
        # The stacks are models: store their own configs, rebuild them in from_config.
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("encoder", "decoder"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


# ---------------------------------------------------------------------------------------------
# 1. The sparse autoencoder
# ---------------------------------------------------------------------------------------------

def l1_penalty(codes, weight):
    """The sparsity penalty: weight times the L1 norm of each code, averaged over the batch:

        penalty = weight * (1/N) sum_n sum_k |codes[n, k]|

    codes: (N, K) (any float dtype); weight: a float. Returns a float32 scalar. Its gradient
    with respect to codes[n, k] is weight * sign(codes[n, k]) / N.
    """
    # TODO: cast codes to float32; the sum of |codes| over the code axis, its mean over the batch,
    #       times weight
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package=PACKAGE)
class SparseAutoencoder(RegularizedAutoencoder):
    """An autoencoder whose codes pay an L1 penalty: trained with compile(loss="mse") and
    fit(x, x), its loss is the reconstruction MSE plus l1_penalty(codes, sparsity_weight).

    The penalty enters through self.add_loss in call: Keras adds every loss a call records
    to the compiled loss in fit and evaluate (and lists it in model.losses after a call).
    With a non-negative code (a ReLU code layer), the L1 penalty drives most code units to
    exactly 0 for each input: a sparse code, each input described by a few active units.
    """

    def __init__(self, encoder, decoder, sparsity_weight=1e-2, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.sparsity_weight = float(sparsity_weight)

    def call(self, x):
        # TODO: codes = self.encoder(x); self.add_loss(l1_penalty(codes, self.sparsity_weight));
        #       return the decoded codes
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "sparsity_weight": self.sparsity_weight}


# ---------------------------------------------------------------------------------------------
# 2. The contractive autoencoder
# ---------------------------------------------------------------------------------------------

def contractive_penalty(encoder, x):
    """The squared Frobenius norm of the encoder's Jacobian at each input, averaged over the
    batch:

        penalty = (1/N) sum_n || d encoder(x_n) / d x_n ||_F^2
                = (1/N) sum_n sum_k sum_d (d h_nk / d x_nd)^2

    encoder: a Keras model x -> codes (N, K); x: (N, ...) inputs (flat or images). Returns a
    float32 scalar, differentiable with respect to the encoder's weights (train_step takes
    its gradient). Each code depends on its own input only, so the Jacobian of a batch is
    N blocks of (K, D): tape.batch_jacobian gives them, not tape.gradient (which sums over
    the codes).
    """
    x = tf.convert_to_tensor(x, dtype="float32")
    # TODO: under a GradientTape that watches x, the codes (cast to float32);
    #       tape.batch_jacobian(codes, x); squares summed over all but the batch axis, mean over the
    #       batch
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContractiveAutoencoder(OneOptimizer, RegularizedAutoencoder):
    """An autoencoder whose encoder is penalised for how much its code moves when the input
    moves: loss = MSE(x_hat, x) + contraction_weight * contractive_penalty(encoder, x).

    The penalty is a derivative of the model, so its gradient with respect to the weights is
    a second derivative: train_step computes it under the outer GradientTape (the penalty's
    own tape nests inside). fit(x) logs "loss", "reconstruction" (the MSE) and
    "contraction" (the penalty, unweighted), means over the epoch's batches so far.
    compile(optimizer=...) builds the optimizer at once (dlkit.training.OneOptimizer).
    """

    def __init__(self, encoder, decoder, contraction_weight=0.1, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.contraction_weight = float(contraction_weight)
        self.trackers = LossTrackers("loss", "reconstruction", "contraction")

    @property
    def metrics(self):
        return self.trackers.metrics

    def train_step(self, data):
        """One gradient step on a batch of inputs (fit(x) or fit((x, y)) calls it)."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: under a GradientTape: reconstruction = MSE of self(x) (cast to float32) against x;
        #       contraction = contractive_penalty(self.encoder, x); loss = reconstruction +
        #       self.contraction_weight * contraction; the gradient of
        #       self.optimizer.scale_loss(loss) w.r.t. self.trainable_variables;
        #       self.optimizer.apply; self.trackers.update(loss=..., reconstruction=...,
        #       contraction=...)
        raise NotImplementedError("fill in the TODO above")
        return self.trackers.results()

    def test_step(self, data):
        x = tf.cast(data[0] if isinstance(data, tuple) else data, "float32")
        reconstruction = tf.reduce_mean(tf.square(tf.cast(self(x), "float32") - x))
        contraction = contractive_penalty(self.encoder, x)
        self.trackers.update(loss=reconstruction + self.contraction_weight * contraction,
                             reconstruction=reconstruction, contraction=contraction)
        return self.trackers.results()

    def get_config(self):
        return {**super().get_config(), "contraction_weight": self.contraction_weight}


# ---------------------------------------------------------------------------------------------
# 3. Anomaly detection by reconstruction error
# ---------------------------------------------------------------------------------------------

def reconstruction_errors(autoencoder, x):
    """The anomaly score of each input: its mean squared reconstruction error.

    autoencoder: callable x -> x_hat (a Keras model, or anything returning an array);
    x: (N, ...) inputs, flat or images. Returns errors: (N,) numpy float64, the mean over
    every axis but the first of (x_hat - x)^2.
    """
    x = np.asarray(x, dtype=np.float64)
    # TODO: x_hat = np.asarray(autoencoder(x)) as float64; the squared difference averaged over
    #       every axis but axis 0
    raise NotImplementedError("fill in the TODO above")


def roc_auc(scores, labels):
    """The area under the ROC curve of `scores` as a detector of `labels`:

        AUROC = P(score of a random positive > score of a random negative),

    ties counting one half. 1 is a perfect detector, 0.5 a coin, 0 a perfectly inverted one.
    It equals the Mann-Whitney statistic: with the ranks of all scores (1 = smallest, tied
    scores sharing their average rank), (sum of the positives' ranks - P (P + 1) / 2) / (P Q)
    for P positives and Q negatives.

    scores: (N,) numbers, higher = more anomalous; labels: (N,) booleans or 0/1, with at least
    one of each. Returns a Python float.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    # TODO: compare every positive's score with every negative's (broadcasting): count 1 for
    #       greater, 0.5 for equal; the mean over all P Q pairs
    raise NotImplementedError("fill in the TODO above")


def anomaly_detection(autoencoder, x_train, y_train, x_test, y_test, unseen_class, *,
                      steps=300, batch_size=64, learning_rate=1e-2, seed=0):
    """Novelty detection: an autoencoder that never saw a class reconstructs it badly.

    Train `autoencoder` (a Keras model x -> x_hat, not yet compiled) with Adam(learning_rate)
    on the MSE, for `steps` batches of `batch_size` drawn (shuffled with `seed`, repeated)
    from the training digits of every class BUT unseen_class. Then score EVERY test digit
    by its reconstruction error and measure how well that score flags the unseen class.

    x_train: (N, ...) with labels y_train (N,); x_test: (M, ...) with labels y_test (M,).
    Returns a dict: "scores" (M,) the test reconstruction errors; "is_unseen" (M,) booleans,
    True where y_test == unseen_class; "auroc" the roc_auc of the scores for is_unseen.
    """
    # TODO: keep the training digits whose label is not unseen_class; compile(Adam(learning_rate),
    #       loss="mse"); fit a tf.data pipeline of (x, x) shuffled with seed, repeated, batched, for
    #       steps steps; scores = reconstruction_errors on all of x_test; is_unseen = y_test ==
    #       unseen_class; auroc = roc_auc(scores, is_unseen)
    raise NotImplementedError("fill in the TODO above")
