"""Lab 14, part 1: likelihoods in nats and in bits per dimension. Fill in the parts marked TODO.

An autoregressive model factorises p(x) = prod_d p(x_d | x_<d) and outputs the parameters of
every conditional at once: one Bernoulli logit per pixel (MADE, PixelCNN), or K logits per
time step for a K-level sequence (WaveNet). Its negative log-likelihood is then exact, a sum
of per-dimension terms, and this module turns it into the number papers report: bits per
dimension.

    bernoulli_nll     -log p(x) of binary data, in nats per example
    categorical_nll   -log p(x) of K-level data, in nats per example
    bits_per_dim      from nats per example to bits per dimension

AutoregressiveModel (given) is the base of the lab's three models: a keras.Model whose
train_step minimises the mean negative log-likelihood and logs it in nats ("loss") and in bits
per dimension ("bits_per_dim").
"""
import math

import keras
import numpy as np
import tensorflow as tf

from dlkit.training import LossTrackers

LOG_2 = math.log(2.0)


def bernoulli_nll(x, logits):
    """-log p(x) of independent Bernoulli dimensions with p(x_d = 1) = sigmoid(logits_d).

    Stable for any logits (never log(sigmoid(.))): per dimension, softplus(l) - x * l.
    x: (N, ...) binary targets; logits: same shape. Returns nll: (N,) in nats, summed over
    every axis but the first (so (N, 64) vectors and (N, 8, 8, 1) images both work).
    """
    # TODO: softplus(logits) - x * logits, summed over all axes except the batch axis
    raise NotImplementedError("fill in the TODO above")


def categorical_nll(x, logits):
    """-log p(x) of independent categorical dimensions with p(x_t = k) = softmax(logits_t)_k.

    x: (N, T) integer levels in [0, K); logits: (N, T, K). Returns nll: (N,) in nats, summed
    over the T steps. Stable for any logits (log-softmax, not log(softmax)).
    """
    # TODO: the sparse softmax cross-entropy of each step, summed over T
    raise NotImplementedError("fill in the TODO above")


def bits_per_dim(nll, num_dims):
    """The batch mean of nll in bits per dimension: mean(nll) / (num_dims * ln 2).

    nll: (N,) negative log-likelihoods in nats per example; num_dims: how many dimensions
    each example has (64 for an 8x8 image). Returns a scalar.
    """
    # TODO: average over the batch, divide by the number of dimensions, nats -> bits
    raise NotImplementedError("fill in the TODO above")


class AutoregressiveModel(keras.Model):
    """Base of the lab's models: subclasses define call(x) -> logits and pick a likelihood.

    fit() minimises the mean negative log-likelihood; fit/evaluate log "loss" (nats per
    example) and "bits_per_dim". This part is given: lab 11 was about train_step.
    """

    likelihood = "bernoulli"  # or "categorical"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trackers = LossTrackers("loss", "bits_per_dim")

    @property
    def metrics(self):
        return self.trackers.metrics

    def negative_log_likelihood(self, x, logits):
        """x: a batch of data; logits: self(x). Returns (N,) in nats."""
        logits = keras.ops.cast(logits, "float32")  # float32 losses under mixed precision
        if self.likelihood == "bernoulli":
            return bernoulli_nll(x, logits)
        return categorical_nll(x, logits)

    def log_prob(self, x):
        """log p(x) in nats, (N,): exact for an autoregressive model."""
        return -self.negative_log_likelihood(x, self(x))

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            nll = self.negative_log_likelihood(x, self(x, training=True))
            loss = tf.reduce_mean(nll)
            scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains
        grads = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self.update_trackers(x, nll)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self.update_trackers(x, self.negative_log_likelihood(x, self(x)))

    def update_trackers(self, x, nll):
        num_dims = int(np.prod(x.shape[1:]))  # static: no retracing per batch size
        # Weighted by the batch size, so an epoch's value is the mean over its examples
        # (a small last batch would otherwise count as much as a full one).
        batch_size = tf.cast(tf.shape(nll)[0], "float32")
        self.trackers["loss"].update_state(tf.reduce_mean(nll), sample_weight=batch_size)
        self.trackers["bits_per_dim"].update_state(bits_per_dim(nll, num_dims),
                                                   sample_weight=batch_size)
        return self.trackers.results()
