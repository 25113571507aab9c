"""Lab 11: variational autoencoders. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. the reparameterisation trick      sample_gaussian
2. the two ELBO terms                kl_divergence, bernoulli_log_likelihood,
                                     gaussian_log_likelihood
3. the loss                          negative_elbo
4. the networks (Keras layers)       Encoder, Decoder
5. the model                         VAE: loss_terms, train_step, test_step, call, sample,
                                     get_config
6. the importance-weighted bound     iwae_bound, VAE.log_likelihood_estimate
7. the conditional VAE               concat_one_hot, ConditionalVAE: encode, decode,
                                     loss_terms, call, sample, get_config

The beta-VAE is this VAE with beta != 1: nothing new to write, but the beta checks test that
beta weights the KL term and nothing else.

Shapes: N examples, D data dimensions (64 for 8x8 digits), K latent dimensions, S importance
samples, C classes.
All log-likelihoods and KL divergences are in nats.
"""
import math

import keras
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer

LOG_2PI = math.log(2.0 * math.pi)
LIKELIHOODS = ("bernoulli", "gaussian")


# ---------------------------------------------------------------------------------------------
# 1-3. The maths of the ELBO
# ---------------------------------------------------------------------------------------------

def sample_gaussian(mean, log_var, epsilon):
    """Reparameterised sample z = mean + sigma * epsilon, with sigma = exp(log_var / 2).

    The randomness comes in through epsilon ~ N(0, I) only, so z is a differentiable
    function of mean and log_var.

    mean, log_var, epsilon: (N, K). Returns z: (N, K).
    """
    # TODO: scale epsilon by the standard deviation exp(log_var / 2) and shift by the mean
    raise NotImplementedError("fill in the TODO above")


def kl_divergence(mean, log_var):
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per example, in closed form.

    mean, log_var: (N, K). Returns kl: (N,), summed over the K latent dimensions.
    """
    # TODO: the closed form, summed over the K latent dimensions
    raise NotImplementedError("fill in the TODO above")


def bernoulli_log_likelihood(x, logits):
    """log p(x | logits) of independent Bernoulli pixels with p = sigmoid(logits).

    Must stay finite for any logits (e.g. +-100): never take log(sigmoid(.)) directly.

    x: (N, D) targets in [0, 1]; logits: (N, D). Returns log_px: (N,), summed over D.
    """
    # TODO: x * logits - log(1 + exp(logits)), with the softplus written stably, summed over D
    raise NotImplementedError("fill in the TODO above")


def gaussian_log_likelihood(x, mean, log_var):
    """log N(x | mean, diag(exp(log_var))) per example.

    Used for real-valued data, and later for log q(z|x) and log p(z) (mean 0, log_var 0).

    x, mean: (N, D); log_var: (N, D) or anything that broadcasts to it (e.g. a scalar).
    Returns log_px: (N,), summed over D.
    """
    # TODO: -0.5 * (log(2 pi) + log_var + (x - mean)^2 / exp(log_var)), summed over D
    raise NotImplementedError("fill in the TODO above")


def negative_elbo(log_px, kl, beta=1.0):
    """The (beta-weighted) negative ELBO and its two terms, each averaged over the batch.

    negative ELBO = E[-log p(x|z)] + beta * KL(q(z|x) || p(z)); beta = 1 is the plain VAE.

    log_px: (N,) reconstruction log-likelihoods; kl: (N,) KL divergences.
    Returns (loss, reconstruction, kl_mean): three scalars, where
    reconstruction = mean(-log_px), kl_mean = mean(kl), loss = reconstruction + beta * kl_mean.
    """
    # TODO: batch means of -log_px and of kl; loss = reconstruction + beta * kl
    raise NotImplementedError("fill in the TODO above")


def iwae_bound(log_weights):
    """The importance-weighted bound: log (1/S) sum_s exp(log_weights[s]), per example.

    log_weights[s, n] = log p(x_n, z_s) - log q(z_s | x_n) for S samples z_s ~ q(z | x_n).
    S = 1 gives the single-sample ELBO; the bound rises towards log p(x) as S grows.
    Must stay finite for log-weights like -1000 (exp underflows to 0 there): use
    tf.reduce_logsumexp, never log(mean(exp(.))).

    log_weights: (S, N). Returns (N,).
    """
    # TODO: logsumexp over the S samples (axis 0), minus log S
    raise NotImplementedError("fill in the TODO above")


def concat_one_hot(inputs, labels, num_classes):
    """Append each example's label, one-hot coded, to its inputs: [inputs, one_hot(labels)].

    This is how the conditional VAE conditions its encoder (on x) and its decoder (on z).
    inputs: (N, D) floats; labels: (N,) integer class ids in [0, num_classes).
    Returns (N, D + num_classes), in the dtype of inputs.
    """
    # TODO: tf.one_hot(labels, num_classes) in the inputs' dtype, concatenated on the last axis
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 4. The networks
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab11_vae")
class Encoder(keras.layers.Layer):
    """q(z | x): an MLP from x to the mean and log-variance of a diagonal Gaussian.

    x: (N, D). Returns (mean, log_var), each (N, latent_dim).
    """

    def __init__(self, latent_dim, hidden_units=(128,), **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.hidden = [keras.layers.Dense(u, activation="relu", name=f"hidden_{i}")
                       for i, u in enumerate(self.hidden_units)]
        self.mean_head = keras.layers.Dense(self.latent_dim, name="mean")
        # No activation: a log-variance must be free to be negative.
        self.log_var_head = keras.layers.Dense(self.latent_dim, name="log_var")

    def build(self, input_shape):
        # TODO: build each hidden layer on the previous one's output shape, then both heads
        raise NotImplementedError("fill in the TODO above")

    def call(self, x):
        # TODO: run x through the hidden layers, then return (mean_head(h), log_var_head(h))
        raise NotImplementedError("fill in the TODO above")

    def compute_output_shape(self, input_shape):
        shape = (*input_shape[:-1], self.latent_dim)
        return shape, shape

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "hidden_units": list(self.hidden_units)}


@keras.saving.register_keras_serializable(package="dlkit_lab11_vae")
class Decoder(keras.layers.Layer):
    """p(x | z): an MLP from z to one output per data dimension.

    The outputs are Bernoulli logits (or Gaussian means, for a Gaussian likelihood).
    z: (N, K). Returns outputs: (N, output_dim).
    """

    def __init__(self, output_dim, hidden_units=(128,), **kwargs):
        super().__init__(**kwargs)
        self.output_dim = int(output_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.hidden = [keras.layers.Dense(u, activation="relu", name=f"hidden_{i}")
                       for i, u in enumerate(self.hidden_units)]
        # No activation: logits live on the whole real line.
        self.output_head = keras.layers.Dense(self.output_dim, name="output")

    def build(self, input_shape):
        # TODO: build each hidden layer on the previous one's output shape, then the output layer
        raise NotImplementedError("fill in the TODO above")

    def call(self, z):
        # TODO: run z through the hidden layers and the output layer
        raise NotImplementedError("fill in the TODO above")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim,
                "hidden_units": list(self.hidden_units)}


# ---------------------------------------------------------------------------------------------
# 5. The model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab11_vae")
class VAE(OneOptimizer, keras.Model):
    """A VAE with a standard normal prior, trained by minimising the negative ELBO.

    VAE(input_dim, latent_dim, hidden_units, likelihood, beta, observation_log_var):
      hidden_units: the encoder's hidden widths (the decoder mirrors them);
      likelihood: "bernoulli" (decoder outputs logits) or "gaussian" (decoder outputs means,
      with the fixed log-variance observation_log_var per pixel);
      beta: weight of the KL term (1.0: the plain VAE; beta-VAE otherwise).

    x: (N, input_dim). call(x) returns the decoder outputs for the posterior means, (N, D):
    deterministic, so a saved and reloaded model gives identical outputs.
    fit/evaluate log "loss" (the negative ELBO), "reconstruction" and "kl" in nats: each the
    mean of the batch values since the start of the epoch (self.trackers keeps them).
    compile(optimizer=...) builds the optimizer at once (dlkit.training.OneOptimizer).
    """

    def __init__(self, input_dim=64, latent_dim=2, hidden_units=(128,), likelihood="bernoulli",
                 beta=1.0, observation_log_var=0.0, **kwargs):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.input_dim = int(input_dim)
        self.latent_dim = int(latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.likelihood = likelihood
        self.beta = float(beta)
        self.observation_log_var = float(observation_log_var)
        self.encoder = Encoder(self.latent_dim, self.hidden_units, name="encoder")
        self.decoder = Decoder(self.input_dim, self.hidden_units[::-1], name="decoder")
        # A seed generator (not a fixed seed) so each training step draws new noise.
        self.noise = keras.random.SeedGenerator()
        self.trackers = LossTrackers("loss", "reconstruction", "kl")
        # fit() runs train_step, which never calls the model itself, so Keras would leave it
        # unbuilt, and an unbuilt model saves to .keras WITHOUT its weights. The input size
        # is known: build now.
        self.build((None, self.input_dim))

    @property
    def metrics(self):
        # Keras resets exactly these at the start of each epoch and of each evaluate().
        return self.trackers.metrics

    def build(self, input_shape):
        # Loading a .keras file builds again: leave built layers alone.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.decoder.built:
            self.decoder.build((*input_shape[:-1], self.latent_dim))

    # The losses are computed in float32 even when the layers compute in float16 (mixed
    # precision): log-likelihoods summed over 64 pixels lose too many digits in float16.
    def encode(self, x):
        """q(z | x): (mean, log_var), each (N, K) in float32. x: (N, D)."""
        mean, log_var = self.encoder(x)
        return keras.ops.cast(mean, "float32"), keras.ops.cast(log_var, "float32")

    def decode(self, z):
        """The decoder outputs for z, in float32. z: (..., K). Returns (..., D)."""
        return keras.ops.cast(self.decoder(z), "float32")

    def reconstruction_log_likelihood(self, x, outputs):
        """log p(x | z) per example from the decoder outputs. x, outputs: (N, D). Returns (N,)."""
        if self.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, outputs)
        return gaussian_log_likelihood(x, outputs, self.observation_log_var)

    def loss_terms(self, x, epsilon=None):
        """(loss, reconstruction, kl) of a batch: the negative ELBO and its terms, batch means.

        One reparameterised sample z per example. x: (N, D); epsilon: (N, K) noise to use,
        or None to draw it from N(0, I) with self.noise.
        """
        # TODO: self.encode(x), sample z with the reparameterisation trick, self.decode(z), then
        #       negative_elbo with self.beta
        raise NotImplementedError("fill in the TODO above")

    def loss_inputs(self, data):
        """The arguments of loss_terms in a batch from fit/evaluate: (x,); labels are ignored."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return (x,)

    def train_step(self, data):
        """One gradient step on a batch (fit calls it): the gradient of the loss that
        self.loss_terms(*inputs) returns (its first value), scaled for mixed precision, applied
        to every trainable variable. Returns the trackers' results."""
        inputs = self.loss_inputs(data)  # (x,), or (x, labels) for the ConditionalVAE
        # TODO: loss, reconstruction, kl = self.loss_terms(*inputs) inside a GradientTape;
        #       scale_loss; gradient w.r.t. self.trainable_variables; optimizer.apply
        raise NotImplementedError("fill in the TODO above")
        return self.update_trackers(loss, reconstruction, kl)

    def test_step(self, data):
        """The loss terms of a batch, with fresh noise as in training (the negative ELBO is an
        average over z ~ q(z|x), not its value at z = mean), no gradient step (evaluate and
        validation call it)."""
        inputs = self.loss_inputs(data)
        # TODO: loss, reconstruction, kl = self.loss_terms(*inputs) (fresh noise); no gradient step
        raise NotImplementedError("fill in the TODO above")
        return self.update_trackers(loss, reconstruction, kl)

    def update_trackers(self, loss, reconstruction, kl):
        """Add one batch to the trackers; returns {"loss", "reconstruction", "kl"}: their means
        so far (not this batch's values; Keras resets the trackers at each epoch)."""
        # TODO: self.trackers.update(loss=..., reconstruction=..., kl=...), then return
        #       self.trackers.results()
        raise NotImplementedError("fill in the TODO above")

    def call(self, x):
        """The decoder's outputs (logits for Bernoulli pixels, not probabilities) at the
        posterior mean: (N, D). reconstruct and sample apply output_mean themselves."""
        # TODO: decode the posterior mean (no sampling: reconstructions are deterministic); return
        #       the decoder outputs as they are
        raise NotImplementedError("fill in the TODO above")

    def output_mean(self, outputs):
        """E[x | z] from decoder outputs: sigmoid(logits) for Bernoulli pixels, the means otherwise."""
        return tf.sigmoid(outputs) if self.likelihood == "bernoulli" else outputs

    def reconstruct(self, inputs):
        """inputs: x (N, D) (the ConditionalVAE: (x, labels)). Returns E[x | z = posterior
        mean]: (N, D), in [0, 1] for Bernoulli pixels."""
        return self.output_mean(self(inputs))

    def sample(self, n, seed=None):
        """Draw n new examples: z ~ N(0, I), then E[x | z]. Returns (n, D).

        The same integer seed gives the same samples.
        """
        # TODO: z from keras.random.normal((n, latent_dim), seed=seed), decode, output_mean
        raise NotImplementedError("fill in the TODO above")

    def log_likelihood_estimate(self, x, num_samples=64, epsilon=None, seed=None):
        """The importance-weighted estimate of log p(x), per example, from S samples of q(z|x).

        With z_s = sample_gaussian(mean, log_var, epsilon[s]), the log-weights are
            log w_s = log p(x | z_s) + log p(z_s) - log q(z_s | x),
        log p(z) = log N(z | 0, I) and log q(z | x) = log N(z | mean, exp(log_var)) both by
        gaussian_log_likelihood; the estimate is iwae_bound(log w). A lower bound on log p(x)
        that rises with S; S = 1 is the one-sample ELBO.

        x: (N, D); epsilon: (S, N, K) noise to use, or None to draw S = num_samples samples
        (the same integer seed gives the same estimate). Returns (N,), in nats.
        """
        mean, log_var = self.encode(x)
        if epsilon is None:
            epsilon = keras.random.normal((int(num_samples), tf.shape(mean)[0], self.latent_dim),
                                          seed=seed)
        # TODO: broadcast mean, log_var and x over the S samples; z, log p(x|z), log p(z), log
        #       q(z|x) each (S, N); iwae_bound
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        # TODO: every constructor argument, so that VAE.from_config rebuilds the same model
        raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 7. The conditional VAE
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab11_vae")
class ConditionalVAE(VAE):
    """A VAE whose encoder q(z | x, y) and decoder p(x | z, y) both see the label y, one-hot.

    ConditionalVAE(input_dim, latent_dim, num_classes, hidden_units, likelihood, beta, ...):
    the VAE's arguments plus the number of classes C. Train it with fit(x, labels): x (N, D),
    labels (N,) integer class ids. call((x, labels)) returns the decoder outputs for the
    posterior means; sample(labels) draws one new example of each requested class.
    The trackers, train_step and test_step are the VAE's: they call this class's loss_terms.
    """

    def __init__(self, input_dim=64, latent_dim=2, num_classes=10, **kwargs):
        # Set before VAE.__init__, which builds the networks: their inputs carry the label.
        self.num_classes = int(num_classes)
        super().__init__(input_dim=input_dim, latent_dim=latent_dim, **kwargs)

    def build(self, input_shape):
        # The encoder reads [x, one-hot y], the decoder [z, one-hot y].
        if not self.encoder.built:
            self.encoder.build((None, self.input_dim + self.num_classes))
        if not self.decoder.built:
            self.decoder.build((None, self.latent_dim + self.num_classes))

    def loss_inputs(self, data):
        """fit(x, labels) gives batches (x, labels): both go to loss_terms."""
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, labels

    def encode(self, x, labels):
        """q(z | x, y): (mean, log_var), each (N, K) in float32. x: (N, D); labels: (N,)."""
        # TODO: the encoder on concat_one_hot(x, labels, self.num_classes); both outputs cast to
        #       float32
        raise NotImplementedError("fill in the TODO above")

    def decode(self, z, labels):
        """The decoder outputs for z given y, in float32. z: (N, K); labels: (N,).

        Returns (N, D).
        """
        # TODO: the decoder on concat_one_hot(z, labels, self.num_classes), cast to float32
        raise NotImplementedError("fill in the TODO above")

    def loss_terms(self, x, labels, epsilon=None):
        """(loss, reconstruction, kl): VAE.loss_terms, with the labels given to encode and decode.

        x: (N, D); labels: (N,); epsilon: (N, K) noise to use, or None to draw it.
        """
        # TODO: as VAE.loss_terms, with self.encode(x, labels) and self.decode(z, labels)
        raise NotImplementedError("fill in the TODO above")

    def call(self, inputs):
        """inputs: (x, labels). Returns the decoder outputs for the posterior means: (N, D)."""
        x, labels = inputs
        # TODO: decode the posterior mean of q(z | x, y), given the same labels
        raise NotImplementedError("fill in the TODO above")

    def sample(self, labels, seed=None):
        """One new example of each requested class: z ~ N(0, I), then E[x | z, y].

        labels: (n,) integer class ids. Returns (n, D); the same integer seed gives the same
        samples.
        """
        labels = tf.convert_to_tensor(labels)
        # TODO: z from keras.random.normal((n, latent_dim), seed=seed), decode with the labels,
        #       output_mean
        raise NotImplementedError("fill in the TODO above")

    def log_likelihood_estimate(self, *args, **kwargs):
        raise NotImplementedError("this lab estimates log p(x) for the VAE only; for the "
                                  "conditional VAE it would be log p(x | y)")

    def get_config(self):
        # TODO: the VAE's config (super().get_config()) plus num_classes
        raise NotImplementedError("fill in the TODO above")
