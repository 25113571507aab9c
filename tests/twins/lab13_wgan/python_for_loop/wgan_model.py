"""Lab 13, part 4: a WGAN as a keras.Model, with n_critic critic steps per generator step.

One `train_step` is n_critic updates of the critic, then one update of the generator, each
with its own tape and its own optimizer. The critic is trained (close to) optimality
before the generator moves, because only a good critic's score gap estimates W1, and the
Wasserstein loss, unlike the GAN loss, does not saturate when the critic is strong.

The Lipschitz constraint is a constructor choice:
  - gp_weight > 0: WGAN-GP, the gradient penalty in every critic loss (the default, 10);
  - clip_value = c: the original WGAN, every critic weight clipped to [-c, c] after each
    critic update (use gp_weight=0 with it).
divergence="kl" | "js" | "pearson" trains an f-GAN with the same machinery instead
(usually with n_critic=1 and gp_weight=0).
"""
import keras
import tensorflow as tf
from fgan_losses import DIVERGENCES, fgan_critic_loss, fgan_generator_loss
from keras import layers
from wgan_losses import critic_loss, generator_loss, gradient_penalty, random_interpolates

from dlkit.training import LossTrackers


def make_mlp_generator(latent_dim=2, data_dim=2, hidden_units=64, depth=3, name="generator"):
    """z (N, latent_dim) -> x (N, data_dim): ReLU MLP with a linear output (data unbounded)."""
    return keras.Sequential([keras.Input((latent_dim,))]
                            + [layers.Dense(hidden_units, activation="relu") for _ in range(depth)]
                            + [layers.Dense(data_dim)], name=name)


def make_mlp_critic(data_dim=2, hidden_units=64, depth=3, name="critic"):
    """x (N, data_dim) -> scores (N, 1): ReLU MLP with a linear output and no batch
    normalisation (the gradient penalty needs every example's score to depend on that
    example alone)."""
    return keras.Sequential([keras.Input((data_dim,))]
                            + [layers.Dense(hidden_units, activation="relu") for _ in range(depth)]
                            + [layers.Dense(1)], name=name)


@keras.saving.register_keras_serializable(package="dlkit_lab13_wgan")
class WGAN(keras.Model):
    """generator: z (N, latent_dim) -> x; critic: x -> scores (N, 1).

    n_critic: critic updates per generator update; gp_weight: lambda of the gradient
    penalty (0: none); clip_value: c of weight clipping (None: none); divergence:
    "wasserstein" or one of fgan_losses.DIVERGENCES. Calling the WGAN on z runs the
    generator. Use: wgan.compile(critic_optimizer=..., generator_optimizer=...);
    wgan.fit(dataset of real batches).
    """

    def __init__(self, generator, critic, latent_dim, n_critic=5, gp_weight=10.0,
                 clip_value=None, divergence="wasserstein", seed=None, **kwargs):
        super().__init__(**kwargs)
        if divergence != "wasserstein" and divergence not in DIVERGENCES:
            raise ValueError(f"divergence must be 'wasserstein' or one of {DIVERGENCES}, "
                             f"got {divergence!r}")
        if int(n_critic) < 1:
            raise ValueError(f"n_critic must be at least 1, got {n_critic}")
        self.generator = generator
        self.critic = critic
        self.latent_dim = int(latent_dim)
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)
        self.clip_value = None if clip_value is None else float(clip_value)
        self.divergence = divergence
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = LossTrackers("critic_loss", "penalty", "generator_loss")
        # The two networks arrive built, so the WGAN holds all its weights from the start.
        self.built = True

    def compile(self, critic_optimizer, generator_optimizer, **kwargs):
        """One optimizer per network. kwargs (e.g. steps_per_execution) go to Keras."""
        super().compile(**kwargs)
        self.critic_optimizer = critic_optimizer
        self.generator_optimizer = generator_optimizer
        # Slots now, for each optimizer's own network: built inside the first traced step
        # instead, they would make Keras trace that step twice.
        self.critic_optimizer.build(self.critic.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if getattr(self, "critic_optimizer", None) is None:
            return None
        return {name: keras.saving.serialize_keras_object(getattr(self, name))
                for name in ("critic_optimizer", "generator_optimizer")}

    def compile_from_config(self, config):
        self.compile(**{name: keras.saving.deserialize_keras_object(value)
                        for name, value in config.items()})

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, z, training=False):
        return self.generator(z, training=training)

    # The model draws all its randomness through these two methods (tests replace them to
    # fix the noise).
    def sample_latent(self, batch_size):
        """z ~ N(0, I): (batch_size, latent_dim)."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def sample_interpolates(self, real, fake):
        """Random points between paired real and fake samples (see random_interpolates)."""
        return random_interpolates(real, fake, seed=self.seed_generator)

    def generate(self, n):
        """n generated samples (for plots and metrics)."""
        return self.generator(self.sample_latent(n), training=False)

    def critic_objective(self, real_scores, fake_scores):
        """The critic's loss without the penalty, for the chosen divergence."""
        if self.divergence == "wasserstein":
            return critic_loss(real_scores, fake_scores)
        return fgan_critic_loss(real_scores, fake_scores, self.divergence)

    def generator_objective(self, fake_scores):
        """The generator's loss for the chosen divergence."""
        if self.divergence == "wasserstein":
            return generator_loss(fake_scores)
        return fgan_generator_loss(fake_scores, self.divergence)

    def critic_step(self, real):
        """One update of the critic on a real batch (N, ...) and N fresh fakes.

        1. fakes G(z), z = self.sample_latent(N), cast to float32; G is not trained here,
           so they are made outside the tape;
        2. under a tf.GradientTape: the critic's scores on real and fake (cast to float32),
           loss = self.critic_objective(real_scores, fake_scores), and when
           self.gp_weight > 0 the penalty gradient_penalty(self.critic,
           self.sample_interpolates(real, fake)) (else a float32 zero), the total
           loss + self.gp_weight * penalty, and self.critic_optimizer.scale_loss(total);
        3. gradients w.r.t. self.critic.trainable_variables only, applied with
           self.critic_optimizer; then, when self.clip_value is not None,
           self.clip_critic_weights().
        Returns (loss, penalty): two float32 scalars (the loss without the penalty).
        """
        batch_size = tf.shape(real)[0]
        real = tf.cast(real, "float32")
        fake = tf.cast(self.generator(self.sample_latent(batch_size), training=True), "float32")
        with tf.GradientTape() as tape:
            real_scores = tf.cast(self.critic(real, training=True), "float32")
            fake_scores = tf.cast(self.critic(fake, training=True), "float32")
            loss = self.critic_objective(real_scores, fake_scores)
            if self.gp_weight > 0:
                penalty = gradient_penalty(self.critic, self.sample_interpolates(real, fake))
            else:
                penalty = tf.constant(0.0, tf.float32)
            total = loss + self.gp_weight * penalty
            scaled = self.critic_optimizer.scale_loss(total)
        variables = self.critic.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.critic_optimizer.apply(grads, variables)
        if self.clip_value is not None:
            self.clip_critic_weights()
        return loss, penalty

    def clip_critic_weights(self):
        """Clip every trainable variable of the critic (and nothing else) to
        [-self.clip_value, self.clip_value], in place (variable.assign)."""
        c = self.clip_value
        for v in self.critic.trainable_variables:
            v.assign(tf.clip_by_value(v, -c, c))

    def generator_step(self, batch_size):
        """One update of the generator on batch_size fresh fakes. Returns its loss.

        Under a tf.GradientTape: fakes G(z), z = self.sample_latent(batch_size), the
        critic's scores on them (cast to float32), loss = self.generator_objective(scores),
        self.generator_optimizer.scale_loss(loss). The gradient flows through the critic
        but is taken w.r.t. self.generator.trainable_variables only and applied with
        self.generator_optimizer: the critic does not change in G's step.
        """
        with tf.GradientTape() as tape:
            fake = self.generator(self.sample_latent(batch_size), training=True)
            scores = tf.cast(self.critic(fake, training=True), "float32")
            loss = self.generator_objective(scores)
            scaled = self.generator_optimizer.scale_loss(loss)
        variables = self.generator.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.generator_optimizer.apply(grads, variables)
        return loss

    def train_step(self, data):
        """self.n_critic critic steps on the batch (fresh fakes each time), then ONE
        generator step with as many fakes as real samples.

        data: a batch of real samples (N, ...) (labels, if any, are ignored). Loop with
        tf.while_loop(cond, body, loop_vars), whose body(step, loss, penalty) runs one
        critic_step and returns (step + 1, loss, penalty): the graph holds one critic step,
        traced once. (A Python `for` over range(self.n_critic) gives the same result, but is
        unrolled when Keras traces train_step: n_critic copies of the double-backprop graph,
        seconds of tracing on a CPU.) Report the last critic step's (loss, penalty) and the
        generator's loss with self.trackers.update(critic_loss=..., penalty=...,
        generator_loss=...) and return self.trackers.results().
        """
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        real = keras.ops.cast(real, "float32")
        for _ in range(self.n_critic):
            c_loss, penalty = self.critic_step(real)
        g_loss = self.generator_step(tf.shape(real)[0])
        self.trackers.update(critic_loss=c_loss, penalty=penalty, generator_loss=g_loss)
        return self.trackers.results()

    def get_config(self):
        """Everything __init__ needs: the networks (serialised), latent_dim and seed here,
        and the training choices n_critic, gp_weight, clip_value and divergence."""
        config = super().get_config()
        config.update(generator=keras.saving.serialize_keras_object(self.generator),
                      critic=keras.saving.serialize_keras_object(self.critic),
                      latent_dim=self.latent_dim, seed=self.seed)
        config.update(n_critic=self.n_critic, gp_weight=self.gp_weight,
                      clip_value=self.clip_value, divergence=self.divergence)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "critic"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
