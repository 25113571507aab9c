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

from dlkit.training import LossTrackers


def as_float32(logits):
    """Logits in float32, so the losses are computed in float32 under mixed precision too
    (the networks then compute in float16)."""
    return keras.ops.cast(logits, "float32")


@keras.saving.register_keras_serializable(package="dlkit_lab12_gan")
class GAN(keras.Model):
    """generator: z (N, latent_dim) -> x; discriminator: x -> logits (N, 1).

    generator_loss: "non_saturating" (-log D(G(z)), the default) or "minimax"
    (log(1 - D(G(z)))). Calling the GAN on z runs the generator.
    Use: gan.compile(d_optimizer=..., g_optimizer=...); gan.fit(dataset of real batches).
    """

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

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        """Two optimizers, one per network. kwargs (e.g. steps_per_execution) go to Keras."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Each optimizer gets its slots for its own network now. Built inside the first
        # traced step instead, they would make Keras trace that step twice (seconds on CPU).
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        # Saved with the model so that load_model gives back a GAN ready to train on.
        if getattr(self, "d_optimizer", None) is None:
            return None
        return {"d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer)}

    def compile_from_config(self, config):
        self.compile(d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
                     g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]))

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
           discriminator_loss, and self.d_optimizer.scale_loss(loss) (for mixed precision);
        3. the gradients of the scaled loss w.r.t. self.discriminator.trainable_variables,
           applied with self.d_optimizer.apply(grads, variables). Nothing else changes.
        """
        batch_size = tf.shape(real)[0]
        z = self.sample_latent(batch_size)
        fake = tf.stop_gradient(self.generator(z, training=True))
        both = tf.concat([tf.cast(real, "float32"), tf.cast(fake, "float32")], axis=0)
        with tf.GradientTape() as tape:
            logits = as_float32(self.discriminator(both, training=True))
            real_logits, fake_logits = logits[:batch_size], logits[batch_size:]
            loss = discriminator_loss(real_logits, fake_logits)
            scaled_loss = self.d_optimizer.scale_loss(loss)
        d_vars = self.discriminator.trainable_variables
        d_grads = tape.gradient(scaled_loss, d_vars)
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        return loss

    def generator_step(self, batch_size):
        """One update of G on batch_size fresh fakes. Returns G's loss.

        1. under a tf.GradientTape: fakes G(z) with z = self.sample_latent(batch_size), D's
           logits on them (as_float32), the loss GENERATOR_LOSSES[self.generator_loss](logits),
           and self.g_optimizer.scale_loss(loss);
        2. the gradients w.r.t. self.generator.trainable_variables only (they flow through
           D to get there), applied with self.g_optimizer.apply. D's weights must not change.
        """
        loss_fn = GENERATOR_LOSSES[self.generator_loss]
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            z = self.sample_latent(batch_size)
            fake_logits = as_float32(self.discriminator(self.generator(z, training=True), training=True))
            loss = loss_fn(fake_logits)
            scaled_loss = self.g_optimizer.scale_loss(loss)
        g_grads = tape.gradient(scaled_loss, g_vars)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return loss

    def train_step(self, data):
        """D step, then G step with as many fakes as real samples; logs d_loss and g_loss.

        data: a batch of real samples (N, ...) (labels, if the dataset has any, are ignored).
        Report the two losses with self.trackers.update(d_loss=..., g_loss=...) and return
        self.trackers.results().
        """
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        n = keras.ops.shape(real)[0]
        losses = {"d_loss": self.discriminator_step(real)}
        losses["g_loss"] = self.generator_step(n)
        self.trackers.update(**losses)
        return self.trackers.results()

    def get_config(self):
        """Everything __init__ needs to rebuild this GAN: the two networks serialised
        with keras.saving.serialize_keras_object, and the plain arguments as they are."""
        config = super().get_config()
        config["generator"] = keras.saving.serialize_keras_object(self.generator)
        config["discriminator"] = keras.saving.serialize_keras_object(self.discriminator)
        config["latent_dim"] = self.latent_dim
        config["generator_loss"] = self.generator_loss
        config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config):
        """The inverse of get_config: turn the serialised networks back into models."""
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config.pop("generator"))
        config["discriminator"] = keras.saving.deserialize_keras_object(config.pop("discriminator"))
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
        n = keras.ops.shape(labels)[0]
        return self.generator([self.sample_latent(n), self.one_hot(labels)], training=False)

    def discriminator_step(self, real, labels):
        """One update of D on a labelled real batch and as many fakes of the SAME labels.

        real: (N, ...); labels: (N,). D judges [real, y] and [G([z, y]), y], y the one-hot
        labels, with discriminator_loss; as GAN.discriminator_step, only D's variables are
        updated, with d_optimizer (and d_optimizer.scale_loss). Returns D's loss.
        """
        batch_size = tf.shape(real)[0]
        y = self.one_hot(labels)
        fake = tf.stop_gradient(self.generator([self.sample_latent(batch_size), y], training=True))
        both = tf.concat([tf.cast(real, "float32"), tf.cast(fake, "float32")], axis=0)
        y2 = tf.concat([y, y], axis=0)
        with tf.GradientTape() as tape:
            logits = as_float32(self.discriminator([both, y2], training=True))
            loss = discriminator_loss(logits[:batch_size], logits[batch_size:])
            scaled_loss = self.d_optimizer.scale_loss(loss)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled_loss, d_vars), d_vars))
        return loss

    def generator_step(self, labels):
        """One update of G on fakes of the given labels: D judges [G([z, y]), y].

        labels: (N,), one fake per label. As GAN.generator_step, only G's variables are
        updated, with g_optimizer (and g_optimizer.scale_loss). Returns G's loss.
        """
        y = self.one_hot(labels)
        n = tf.shape(y)[0]
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator([self.sample_latent(n), y], training=True)
            loss = GENERATOR_LOSSES[self.generator_loss](
                as_float32(self.discriminator([fake, y], training=True)))
            scaled_loss = self.g_optimizer.scale_loss(loss)
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled_loss, g_vars), g_vars))
        return loss

    def train_step(self, data):
        """D step on the real batch and its labels, then G step on the same labels.

        data: (real (N, ...), labels (N,)). Returns self.trackers.results() (d_loss, g_loss).
        """
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        d_loss = self.discriminator_step(real, labels)
        g_loss = self.generator_step(labels)
        self.trackers.update(d_loss=d_loss, g_loss=g_loss)
        return self.trackers.results()

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config
