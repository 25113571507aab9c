"""Lab 12, part 3: a GAN as a keras.Model with two optimizers, and its conditional version.

One `train_step` is two updates, each with its own tape and its own optimizer:

1. discriminator_step: D learns to tell real data from fresh fakes. Only D's variables
   are updated; G's samples are just inputs here.
2. generator_step: G learns to fool D. The gradient flows *through* D into G, but only
   G's variables are updated: D stays fixed during G's half of the step.

Do not use the Keras 2 recipe (compile D, set `D.trainable = False`, compile G+D): in
Keras 3 `trainable` is read when a step is traced, so D ends up frozen for good.
"""
import keras
import tensorflow as tf
from gan_losses import GENERATOR_LOSSES, discriminator_loss

from dlkit.training import LossTrackers, OptimizerPerNetwork


def as_float32(logits):
    """Logits in float32, so the losses are computed in float32 under mixed precision too
    (the networks then compute in float16)."""
    return keras.ops.cast(logits, "float32")


@keras.saving.register_keras_serializable(package="dlkit_lab12_gan")
class GAN(OptimizerPerNetwork, keras.Model):
    """generator: z (N, latent_dim) -> x; discriminator: x -> logits (N, 1).

    generator_loss: "non_saturating" (-log D(G(z)), the default) or "minimax"
    (log(1 - D(G(z)))). Calling the GAN on z runs the generator.
    Use: gan.compile(d_optimizer=..., g_optimizer=...); gan.fit(dataset of real batches).
    compile (given by OptimizerPerNetwork) builds d_optimizer for the discriminator's
    variables and g_optimizer for the generator's, and load_model restores both.
    """

    OPTIMIZERS = {"d_optimizer": "discriminator", "g_optimizer": "generator"}

    def __init__(self, generator, discriminator, latent_dim, generator_loss="non_saturating",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {sorted(GENERATOR_LOSSES)}, "
                             f"got {generator_loss!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.generator_loss = generator_loss
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = LossTrackers("d_loss", "g_loss")
        # The two networks arrive built, so the GAN holds all its weights from the start.
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def sample_latent(self, batch_size):
        """z ~ N(0, I): (batch_size, latent_dim)."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def generate(self, n):
        """n generated samples (for plots and metrics)."""
        return self.generator(self.sample_latent(n), training=False)

    def discriminator_step(self, real):
        """One update of D on a real batch (N, ...) and N fresh fakes. Returns D's loss.

        1. N fakes G(z) with z = self.sample_latent(N) (G is not trained here: no tape);
        2. under a tf.GradientTape: D's logits on the real and on the fake batch (as_float32),
           discriminator_loss(real_logits, fake_logits), and
           self.d_optimizer.scale_loss(loss) (for mixed precision);
        3. the gradients of the scaled loss w.r.t. self.discriminator.trainable_variables,
           applied with self.d_optimizer.apply(grads, variables). Nothing else changes.
        Call both networks with training=True, here and in generator_step: they are being
        trained, so the DCGAN's BatchNormalization must normalise with the batch's own
        statistics (called without it, a Keras model runs in inference mode).
        """
        batch_size = tf.shape(real)[0]
        # TODO: fakes, then a tape over D's loss; D's variables only, with d_optimizer
        raise NotImplementedError("fill in the TODO above")

    def generator_step(self, batch_size):
        """One update of G on batch_size fresh fakes. Returns G's loss.

        1. under a tf.GradientTape: fakes G(z) with z = self.sample_latent(batch_size), D's
           logits on them (as_float32), the loss GENERATOR_LOSSES[self.generator_loss](logits)
           (the loss this GAN was built with: "minimax" or "non_saturating"), and
           self.g_optimizer.scale_loss(loss);
        2. the gradients w.r.t. self.generator.trainable_variables only (they flow through
           D to get there), applied with self.g_optimizer.apply. D's weights must not change.
        Both networks are called with training=True (see discriminator_step).
        """
        # TODO: a tape over G's loss (through D); G's variables only, with g_optimizer
        raise NotImplementedError("fill in the TODO above")

    def train_step(self, data):
        """D step, then G step with as many fakes as real samples; logs d_loss and g_loss.

        data: a batch of real samples (N, ...) (labels, if the dataset has any, are ignored).
        Count the fakes with tf.shape(real)[0]: fit traces train_step with an unknown batch
        size, where real.shape[0] is None. Report the two losses with self.trackers.update(d_loss=..., g_loss=...) and return
        self.trackers.results().
        """
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        # TODO: D step, G step, self.trackers.update(...), return self.trackers.results()
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        """Everything __init__ needs to rebuild this GAN: the two networks serialised
        with keras.saving.serialize_keras_object, and the plain arguments as they are."""
        config = super().get_config()
        # TODO: add the networks (serialised), latent_dim, generator_loss and seed
        raise NotImplementedError("fill in the TODO above")
        return config

    @classmethod
    def from_config(cls, config):
        """The inverse of get_config: turn the serialised networks back into models."""
        config = dict(config)
        # TODO: deserialize_keras_object the two networks in config
        raise NotImplementedError("fill in the TODO above")
        return cls(**config)


@keras.saving.register_keras_serializable(package="dlkit_lab12_gan")
class ConditionalGAN(GAN):
    """A GAN whose generator and discriminator both see the class label, one-hot coded.

    generator: [z (N, latent_dim), one-hot labels (N, num_classes)] -> x;
    discriminator: [x, one-hot labels] -> logits (N, 1) (see make_conditional_mlp_*).
    Use: compile as the GAN, then fit on (x, labels) batches, labels (N,) integer class ids.
    generate(labels) draws one sample of each requested class; calling the ConditionalGAN
    on (z, labels) runs the generator. The trackers, compile and from_config are the GAN's.
    """

    def __init__(self, generator, discriminator, latent_dim, num_classes,
                 generator_loss="non_saturating", seed=None, **kwargs):
        super().__init__(generator, discriminator, latent_dim, generator_loss=generator_loss,
                         seed=seed, **kwargs)
        self.num_classes = int(num_classes)

    def one_hot(self, labels):
        """labels: (N,) integer class ids. Returns (N, num_classes) float32 one-hot codes."""
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

    def call(self, inputs, training=False):
        z, labels = inputs
        return self.generator([z, self.one_hot(labels)], training=training)

    def generate(self, labels):
        """One generated sample per requested label. labels: (n,) ints. Returns (n, data_dim)."""
        labels = tf.convert_to_tensor(labels)
        # TODO: z = self.sample_latent(number of labels); the generator on [z, self.one_hot(labels)]
        raise NotImplementedError("fill in the TODO above")

    def discriminator_step(self, real, labels):
        """One update of D on a labelled real batch and as many fakes of the SAME labels.

        real: (N, ...); labels: (N,). With y = self.one_hot(labels), the one-hot codes of the
        real batch's own labels, D judges [real, y] and [G([z, y]), y]: the N fakes carry the
        same labels as the real batch (not labels drawn at random). discriminator_loss; as in
        GAN.discriminator_step, only D's variables are updated, with d_optimizer (and
        d_optimizer.scale_loss), and both networks are called with training=True.
        Returns D's loss.
        """
        # TODO: GAN.discriminator_step, with y = self.one_hot(labels) given to both networks
        raise NotImplementedError("fill in the TODO above")

    def generator_step(self, labels):
        """One update of G on fakes of the given labels: D judges [G([z, y]), y].

        labels: (N,), one fake per label, y = self.one_hot(labels). As in GAN.generator_step,
        the loss is GENERATOR_LOSSES[self.generator_loss], only G's variables are updated, with
        g_optimizer (and g_optimizer.scale_loss), and both networks are called with
        training=True. Returns G's loss.
        """
        # TODO: GAN.generator_step, with y = self.one_hot(labels) given to both networks
        raise NotImplementedError("fill in the TODO above")

    def train_step(self, data):
        """D step on the real batch and its labels, then G step on the same labels.

        data: (real (N, ...), labels (N,)). Returns self.trackers.results() (d_loss, g_loss).
        """
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        # TODO: discriminator_step(real, labels), generator_step(labels), update and return the
        #       trackers
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        config = super().get_config()
        # TODO: add num_classes to the GAN's config
        raise NotImplementedError("fill in the TODO above")
        return config
