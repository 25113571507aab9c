"""Lab 24, part 2: MINE, the variational information bottleneck and bits-back coding.

MINE: the Donsker-Varadhan bound trained as a Keras model, with the moving-average
correction of its gradient's denominator. The deep variational information bottleneck
(VIB) with TensorFlow Probability: a Gaussian encoder, the KL to a standard normal prior
(an upper bound on I(Z; X)) weighted by beta. Bits-back coding: the negative ELBO of a small
VAE in bits per dimension, split into rate and distortion, against the importance-weighted
bound.

Everything here is in nats unless a name says bits.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from information import donsker_varadhan_bound

tfd = tfp.distributions


def mlp(hidden_units, out_units, name):
    """ReLU hidden layers, a linear output (given code)."""
    return keras.Sequential([keras.layers.Dense(u, activation="relu") for u in hidden_units]
                            + [keras.layers.Dense(out_units)], name=name)


def standard_normal(latent_dim):
    """The prior p(z) = N(0, I) in `latent_dim` dimensions (given code)."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros([latent_dim]),
                                      scale_diag=tf.ones([latent_dim]))


# ---- MINE ------------------------------------------------------------------------------------

def moving_average(running, value, decay):
    """The exponential moving average after one more value: decay * running + (1 - decay) *
    value. Returns a float32 tensor."""
    return tf.cast(decay * running + (1.0 - decay) * value, tf.float32)


def mine_surrogate(joint_scores, marginal_scores, running_mean):
    """MINE's surrogate objective: mean(T_joint) - mean(exp(T_marginal)) / running_mean,
    with running_mean held constant (no gradient flows through it). Its gradient is the
    Donsker-Varadhan gradient with the batch's mean of exp(T) in the denominator replaced
    by the running average:
        E_joint[grad T] - E_marginal[exp(T) grad T] / running_mean.
    Returns a float32 scalar tensor (its value is not the bound)."""
    joint_scores = tf.cast(joint_scores, tf.float32)
    marginal_scores = tf.cast(marginal_scores, tf.float32)
    running_mean = tf.stop_gradient(tf.cast(running_mean, tf.float32))
    return tf.reduce_mean(joint_scores) - tf.reduce_mean(tf.exp(marginal_scores)) / running_mean


@keras.saving.register_keras_serializable(package="lab24")
class MINEEstimator(keras.Model):
    """A joint critic T(x, y) = MLP([x, y]) trained to maximise the Donsker-Varadhan bound
    with the moving-average gradient correction.

    fit(x, y): in every batch the pairs (x_i, y_i) are samples of the joint and
    (x_i, y_{i-1}) (y rolled by one) samples of the product of the marginals.
    `running_mean` holds the moving average of mean(exp(T_marginal)). `train_step` logs
    `loss` (minus the surrogate), `mi` (the DV bound of the batch) and `running_mean`."""

    def __init__(self, dim, hidden_units=(64,), decay=0.99, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.decay = float(decay)
        self.t = mlp(self.hidden_units, 1, "t")
        self.t.build((None, 2 * self.dim))
        self.running_mean = self.add_weight(shape=(), initializer="ones", trainable=False,
                                            dtype="float32", name="running_mean")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mi_tracker = keras.metrics.Mean(name="mi")

    @property
    def metrics(self):
        return [self.loss_tracker, self.mi_tracker]

    def scores(self, x, y):
        """(T on the joint pairs (N,), T on the shuffled pairs (N,)), float32 (given code)."""
        shuffled = tf.roll(y, shift=1, axis=0)
        joint = self.t(tf.concat([x, y], axis=1))[:, 0]
        marginal = self.t(tf.concat([x, shuffled], axis=1))[:, 0]
        return tf.cast(joint, tf.float32), tf.cast(marginal, tf.float32)

    def call(self, inputs):
        return self.scores(*inputs)

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            joint, marginal = self.scores(x, y)
            batch_mean = tf.stop_gradient(tf.reduce_mean(tf.exp(marginal)))
            running = moving_average(self.running_mean, batch_mean, self.decay)
            loss = -mine_surrogate(joint, marginal, running)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.running_mean.assign(running)
        self.loss_tracker.update_state(loss)
        self.mi_tracker.update_state(donsker_varadhan_bound(joint, marginal))
        logs = {m.name: m.result() for m in self.metrics}
        logs["running_mean"] = tf.identity(self.running_mean)
        return logs

    def estimate(self, x, y):
        """The DV bound on held-out pairs, every x against every y for the marginal term
        (given code, float64 numpy)."""
        joint = self.t(np.concatenate([x, y], axis=1)).numpy()[:, 0].astype(np.float64)
        n = len(x)
        pairs = np.concatenate([np.repeat(x, n, axis=0), np.tile(y, (n, 1))], axis=1)
        marginal = self.t(pairs).numpy()[:, 0].astype(np.float64)
        top = marginal.max()
        return float(joint.mean() - top - np.log(np.mean(np.exp(marginal - top))))

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, hidden_units=list(self.hidden_units), decay=self.decay)
        return config


# ---- The deep variational information bottleneck -----------------------------------------

def gaussian_posterior(params, latent_dim):
    """q(z | x) from an encoder's raw outputs params (N, 2 * latent_dim): the first
    latent_dim columns are the mean, the last latent_dim pass through softplus (+ 1e-4)
    to give the standard deviations. Returns a tfd.MultivariateNormalDiag, batch (N,)."""
    params = tf.cast(params, tf.float32)
    loc = params[:, :latent_dim]
    scale_diag = tf.nn.softplus(params[:, latent_dim:]) + 1e-4
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale_diag)


def rate(posterior, latent_dim):
    """KL(q(z | x) || p(z)) per example, p = standard_normal(latent_dim), with
    tfd.kl_divergence: its mean over the data is an upper bound on I(Z; X). Returns (N,)."""
    return tfd.kl_divergence(posterior, standard_normal(latent_dim))


def vib_loss(labels, logits, rates, beta):
    """The VIB objective: mean cross-entropy of the labels under the logits, plus beta
    times the mean rate. labels (N,) ints, logits (N, C), rates (N,). float32 scalar."""
    ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return tf.cast(tf.reduce_mean(ce) + beta * tf.reduce_mean(rates), tf.float32)


def reparameterized_sample(posterior, seed_generator):
    """z = mean + stddev * eps, eps ~ N(0, I) from a keras SeedGenerator (given code): the
    sample is differentiable in the posterior's parameters and seeded."""
    loc = posterior.mean()
    eps = keras.random.normal(tf.shape(loc), seed=seed_generator)
    return loc + posterior.stddev() * tf.cast(eps, loc.dtype)


@keras.saving.register_keras_serializable(package="lab24")
class VIBClassifier(keras.Model):
    """The deep variational information bottleneck: x -> q(z | x) (a Gaussian) -> z ->
    logits. `fit(x, labels)` minimises vib_loss with `beta`; `train_step` logs `loss`, `ce`
    and `rate` (nats); `call` classifies from the posterior mean (given code)."""

    def __init__(self, input_dim=64, num_classes=10, latent_dim=2, hidden_units=(64,),
                 beta=1e-3, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.num_classes = int(input_dim), int(num_classes)
        self.latent_dim, self.beta = int(latent_dim), float(beta)
        self.hidden_units, self.seed = tuple(int(u) for u in hidden_units), int(seed)
        self.encoder = mlp(self.hidden_units, 2 * self.latent_dim, "encoder")
        self.encoder.build((None, self.input_dim))
        self.decoder = keras.layers.Dense(self.num_classes, name="decoder")
        self.decoder.build((None, self.latent_dim))
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "ce", "rate")]

    @property
    def metrics(self):
        return self.trackers

    def encode(self, x):
        """q(z | x) for a batch (given code)."""
        return gaussian_posterior(self.encoder(x), self.latent_dim)

    def call(self, x):
        return tf.cast(self.decoder(self.encode(x).mean()), tf.float32)

    def train_step(self, data):
        x, labels = data[0], data[1]
        with tf.GradientTape() as tape:
            posterior = self.encode(x)
            z = reparameterized_sample(posterior, self.seed_generator)
            logits = tf.cast(self.decoder(z), tf.float32)
            rates = rate(posterior, self.latent_dim)
            loss = vib_loss(labels, logits, rates, self.beta)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        mean_rate = tf.reduce_mean(rates)
        self.trackers[0].update_state(loss)
        self.trackers[1].update_state(loss - self.beta * mean_rate)
        self.trackers[2].update_state(mean_rate)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, num_classes=self.num_classes,
                      latent_dim=self.latent_dim, hidden_units=list(self.hidden_units),
                      beta=self.beta, seed=self.seed)
        return config


# ---- Bits-back coding with a small VAE ----------------------------------------------------

def bits_per_dim(nats, num_dims):
    """A code length in nats per example, as bits per dimension: nats / (num_dims log 2)."""
    return nats / (num_dims * math.log(2.0))


def iwae_bound(log_weights):
    """The importance-weighted bound log (1/K) sum_k w_k per example from log_weights
    (K, N), log w_k = log p(x, z_k) - log q(z_k | x), computed stably. Returns (N,)."""
    log_weights = tf.cast(log_weights, tf.float32)
    k = tf.cast(tf.shape(log_weights)[0], tf.float32)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(k)


@keras.saving.register_keras_serializable(package="lab24")
class BitsBackVAE(keras.Model):
    """A VAE for binary vectors: q(z | x) Gaussian (gaussian_posterior), p(z) = N(0, I),
    p(x | z) independent Bernoullis with logits decoder(z). `fit(x)` minimises the negative
    ELBO; `train_step` logs `loss`, `rate` and `distortion` (nats per example). Its negative
    ELBO is the bits-back code length of x."""

    def __init__(self, input_dim=64, latent_dim=4, hidden_units=(64,), seed=0, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.latent_dim = int(input_dim), int(latent_dim)
        self.hidden_units, self.seed = tuple(int(u) for u in hidden_units), int(seed)
        self.encoder = mlp(self.hidden_units, 2 * self.latent_dim, "encoder")
        self.encoder.build((None, self.input_dim))
        self.decoder = mlp(self.hidden_units, self.input_dim, "decoder")
        self.decoder.build((None, self.latent_dim))
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "rate", "distortion")]

    @property
    def metrics(self):
        return self.trackers

    def encode(self, x):
        """q(z | x) for a batch (given code)."""
        return gaussian_posterior(self.encoder(x), self.latent_dim)

    def likelihood(self, z):
        """p(x | z): independent Bernoullis over the last axis, for z (..., latent_dim)
        (given code)."""
        z = tf.convert_to_tensor(z)
        flat = tf.reshape(z, [-1, self.latent_dim])
        shape = tf.concat([tf.shape(z)[:-1], [self.input_dim]], axis=0)
        logits = tf.reshape(tf.cast(self.decoder(flat), tf.float32), shape)
        return tfd.Independent(tfd.Bernoulli(logits=logits), reinterpreted_batch_ndims=1)

    def call(self, x):
        return self.likelihood(self.encode(x).mean()).mean()

    def elbo_terms(self, x):
        """(rate (N,), distortion (N,)) in nats: rate = KL(q(z | x) || p(z)) with
        tfd.kl_divergence, distortion = -log p(x | z) at one reparameterized sample z."""
        x = tf.cast(x, tf.float32)
        posterior = self.encode(x)
        rates = rate(posterior, self.latent_dim)
        z = reparameterized_sample(posterior, self.seed_generator)
        distortion = -self.likelihood(z).log_prob(x)
        return rates, distortion

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            rates, distortion = self.elbo_terms(x)
            loss = tf.reduce_mean(rates + distortion)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.trackers[0].update_state(loss)
        self.trackers[1].update_state(tf.reduce_mean(rates))
        self.trackers[2].update_state(tf.reduce_mean(distortion))
        return {m.name: m.result() for m in self.metrics}

    def importance_log_weights(self, x, k):
        """log w (K, N) = log p(x | z_k) + log p(z_k) - log q(z_k | x), z_k (K, N, latent)
        K reparameterized samples of q(z | x)."""
        x = tf.cast(x, tf.float32)
        posterior = self.encode(x)
        n = tf.shape(x)[0]
        eps = keras.random.normal((k, n, self.latent_dim), seed=self.seed_generator)
        z = posterior.mean() + posterior.stddev() * tf.cast(eps, tf.float32)
        return (self.likelihood(z).log_prob(x)
                + standard_normal(self.latent_dim).log_prob(z)
                - posterior.log_prob(z))

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, latent_dim=self.latent_dim,
                      hidden_units=list(self.hidden_units), seed=self.seed)
        return config
