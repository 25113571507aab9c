"""Lab 13b, part 2: CycleGAN, translation learned from unpaired images.

Two domains X and Y, no pairs. Two generators, G: X -> Y and F: Y -> X, and two
discriminators, D_Y (real Y against G's fakes) and D_X (real X against F's fakes). The
adversarial terms alone would let G map every x to any plausible y; the *cycle-consistency*
loss asks F(G(x)) = x and G(F(y)) = y, so the translation must keep what the image shows.
The *identity* loss asks G(y) = y and F(x) = x: a generator handed an image already in its
output domain leaves it alone (it keeps colours that need not change). The adversarial
losses are least squares (LSGAN), and the discriminators learn from a history of fakes, not
only from the generators' latest ones.

Images are channels-last, (N, H, W, C), in [0, 1]; both domains have the same shape.
"""
import keras
import tensorflow as tf

from dlkit.training import LossTrackers, OptimizerPerNetwork

PACKAGE = "dlkit_lab13b_image_translation"


def as_float32(tensor):
    """A tensor in float32, so that the losses are computed in float32 under mixed precision
    too (the networks then compute in float16)."""
    return keras.ops.cast(tensor, "float32")


def l1_distance(a, b):
    """mean |a - b| over every value, in float32: the cycle and identity losses' distance."""
    return tf.reduce_mean(tf.abs(as_float32(a) - as_float32(b)))


# ---------------------------------------------------------------------------------------------
# 5. The least-squares (LSGAN) losses
# ---------------------------------------------------------------------------------------------

def lsgan_discriminator_loss(real_logits, fake_logits):
    """The discriminator's least-squares loss, halved as in CycleGAN: real outputs pushed
    to 1, fakes to 0,

        0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))

    real_logits, fake_logits: the discriminator's raw outputs, (N, h, w, 1) (one per patch;
    no sigmoid: least squares on the raw output). Each mean is over every value. Returns a
    scalar.
    """
    real_term = tf.reduce_mean(tf.math.squared_difference(real_logits, 1.0))
    fake_term = tf.reduce_mean(tf.math.squared_difference(fake_logits, 0.0))
    return tf.multiply(0.5, real_term + fake_term)


def lsgan_generator_loss(fake_logits):
    """The generator's least-squares loss: its fakes pushed to the REAL target 1,
    mean((D(G(x)) - 1)^2). fake_logits: (N, h, w, 1). Returns a scalar."""
    return tf.reduce_mean(tf.math.squared_difference(fake_logits, tf.ones_like(fake_logits)))


# ---------------------------------------------------------------------------------------------
# 6. The image history
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class ImageHistory(keras.layers.Layer):
    """A pool of up to pool_size earlier fakes (Shrivastava et al., 2017; CycleGAN keeps 50).

    The discriminators learn from fakes drawn from this history, not only from the
    generators' latest: a discriminator that sees old fakes too cannot simply chase the
    generator's current mistakes, which damps the oscillation of the two.

    query(images) takes a batch of fresh fakes and returns a batch of the same shape. Image
    i of the batch, in order i = 0, 1, ..., n - 1:
      - while the pool holds fewer than pool_size images: image i is stored in the next free
        slot (slot `count`, then count += 1), and returned as it is;
      - once it is full: if uniforms[i] > 0.5, the image stored in slot slots[i] is
        returned and image i takes its place in the pool; otherwise image i is returned and
        the pool does not change.
    (uniforms, slots) = self.draw(n): one uniform in [0, 1) and one slot in
    [0, pool_size) per image of the batch, drawn once per query, used in this order (an
    image stored while filling still uses up its pair). A pool_size of 0 returns the
    batch unchanged.
    The pool lives in two weights: `images` (pool_size, H, W, C), float32, and `count`, the
    number of images stored so far (int32), so it is saved with the model and works inside
    a traced train_step.
    """

    def __init__(self, pool_size, image_shape, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.images = self.add_weight(shape=(max(self.pool_size, 1), *self.image_shape),
                                      initializer="zeros", dtype="float32", trainable=False,
                                      name="images")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, name="count")
        self.built = True

    def draw(self, n):
        """The random numbers of one query of n images: (uniforms (n,) in [0, 1),
        slots (n,) int32 in [0, pool_size))."""
        uniforms = keras.random.uniform((n,), seed=self.seed_generator)
        slots = keras.random.randint((n,), 0, max(self.pool_size, 1), seed=self.seed_generator,
                                     dtype="int32")
        return uniforms, slots

    def query(self, images):
        """images: (n, H, W, C) fresh fakes. Returns (n, H, W, C) float32: the batch the
        discriminator learns from (see the class docstring); updates `images` and `count`.

        Write it with TensorFlow ops, a loop over the batch as
        keras.ops.fori_loop(0, n, body, state), so that it runs inside a traced train_step:
        the state holds the pool, the count and the batch returned so far (tensors,
        updated with tf.tensor_scatter_nd_update and tf.where); assign the pool and the
        count back to the weights after the loop.
        """
        images = as_float32(images)
        if self.pool_size == 0:
            return images
        n = tf.shape(images)[0]
        uniforms, slots = self.draw(n)
        capacity = self.pool_size

        def step(i, carry):
            pool, stored, result = carry
            new = images[i]

            def fill():
                return (tf.tensor_scatter_nd_update(pool, tf.reshape(stored, (1, 1)), new[None]),
                        stored + 1, new)

            def full():
                slot = slots[i]
                old = pool[slot]
                swap = uniforms[i] > 0.5
                updated = tf.tensor_scatter_nd_update(pool, tf.reshape(slot, (1, 1)), new[None])
                return (tf.where(swap, updated, pool), stored, tf.where(swap, old, new))

            pool, stored, given = tf.cond(stored < capacity, fill, full)
            result = tf.tensor_scatter_nd_update(result, tf.reshape(i, (1, 1)), given[None])
            return pool, stored, result

        pool, stored, result = keras.ops.fori_loop(
            0, n, step, (tf.identity(self.images), tf.identity(self.count), tf.zeros_like(images)))
        self.images.assign(pool)
        self.count.assign(stored)
        return result

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "image_shape": self.image_shape, "seed": self.seed}


# ---------------------------------------------------------------------------------------------
# 7. The model
# ---------------------------------------------------------------------------------------------

class VariablesOf:
    """The trainable variables of several networks, as one optimizer owns them."""

    def __init__(self, *networks):
        self.networks = networks

    @property
    def trainable_variables(self):
        return [v for network in self.networks for v in network.trainable_variables]


@keras.saving.register_keras_serializable(package=PACKAGE)
class CycleGAN(OptimizerPerNetwork, keras.Model):
    """generator_g: X -> Y; generator_f: Y -> X; discriminator_x judges X images and
    discriminator_y Y images (one output per patch, LSGAN: no sigmoid). Calling the model on
    X images translates them to Y with G.

    cycle_weight: the cycle-consistency loss's weight (10 in CycleGAN); identity_weight: the
    identity loss's (5, half the cycle weight). pool_size: the size of each image history.
    Use: model.compile(g_optimizer=..., d_optimizer=...): g_optimizer trains G and F
    together (model.generators), d_optimizer D_X and D_Y (model.discriminators); then
    model.fit on (x, y) batches of unpaired images.
    """

    OPTIMIZERS = {"g_optimizer": "generators", "d_optimizer": "discriminators"}

    def __init__(self, generator_g, generator_f, discriminator_x, discriminator_y,
                 cycle_weight=10.0, identity_weight=5.0, pool_size=50, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator_g, self.generator_f = generator_g, generator_f
        self.discriminator_x, self.discriminator_y = discriminator_x, discriminator_y
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        self.seed = seed
        # Fakes of X are F's outputs, fakes of Y are G's: each history holds one domain.
        self.history_x = ImageHistory(pool_size, generator_f.output_shape[1:], seed=seed)
        self.history_y = ImageHistory(pool_size, generator_g.output_shape[1:],
                                      seed=None if seed is None else seed + 1)
        self.trackers = LossTrackers("g_loss", "adversarial", "cycle", "identity", "d_loss")
        self.built = True

    @property
    def generators(self):
        return VariablesOf(self.generator_g, self.generator_f)

    @property
    def discriminators(self):
        return VariablesOf(self.discriminator_x, self.discriminator_y)

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, x, training=False):
        return self.generator_g(x, training=training)

    def generator_losses(self, real_x, real_y):
        """The generators' losses on a batch of each domain.

        fake_y = G(real_x), fake_x = F(real_y), and
          adversarial = lsgan_generator_loss(D_Y(fake_y)) + lsgan_generator_loss(D_X(fake_x))
          cycle       = l1_distance(real_x, F(fake_y)) + l1_distance(real_y, G(fake_x))
          identity    = l1_distance(real_y, G(real_y)) + l1_distance(real_x, F(real_x))
          g_loss      = adversarial + cycle_weight * cycle + identity_weight * identity
        Discriminator outputs go through as_float32 before the losses. Call every network
        with training=True.

        Returns (losses, fake_x, fake_y): losses a dict {"g_loss", "adversarial", "cycle",
        "identity"} of scalars, and the two batches of fakes (for the discriminators' step).
        """
        def g(images):
            return self.generator_g(images, training=True)

        def f(images):
            return self.generator_f(images, training=True)

        fake_y = g(real_x)
        fake_x = f(real_y)
        adversarial = tf.add_n([
            lsgan_generator_loss(as_float32(self.discriminator_y(fake_y, training=True))),
            lsgan_generator_loss(as_float32(self.discriminator_x(fake_x, training=True))),
        ])
        cycle = tf.add_n([l1_distance(f(fake_y), real_x), l1_distance(g(fake_x), real_y)])
        identity = tf.add_n([l1_distance(g(real_y), real_y), l1_distance(f(real_x), real_x)])
        g_loss = tf.add_n([adversarial, self.cycle_weight * cycle, self.identity_weight * identity])
        losses = {"adversarial": adversarial, "cycle": cycle, "identity": identity,
                  "g_loss": g_loss}
        return losses, fake_x, fake_y

    def train_step(self, data):
        """The generators' step, then the discriminators' step.

        data: (real_x, real_y) batches (unpaired).
        1. Under a tf.GradientTape: self.generator_losses(real_x, real_y), and
           g_optimizer.scale_loss of its g_loss; the gradients w.r.t.
           self.generators.trainable_variables (G's and F's) applied by g_optimizer.
        2. The fakes of step 1 through the histories: fake_x through self.history_x,
           fake_y through self.history_y (one query each).
        3. Under a tf.GradientTape: d_loss = lsgan_discriminator_loss(D_X(real_x),
           D_X(pooled fake_x)) + lsgan_discriminator_loss(D_Y(real_y), D_Y(pooled fake_y))
           (outputs through as_float32, networks with training=True), d_optimizer.scale_loss
           of it; the gradients w.r.t. self.discriminators.trainable_variables applied by
           d_optimizer.
        Log the four generator losses and d_loss with self.trackers.update(...); return
        self.trackers.results().
        """
        real_x, real_y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            losses, fake_x, fake_y = self.generator_losses(real_x, real_y)
            scaled_g = self.g_optimizer.scale_loss(losses["g_loss"])
        gen_vars = self.generators.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled_g, gen_vars), gen_vars)

        history_fakes = {"x": self.history_x.query(fake_x), "y": self.history_y.query(fake_y)}
        reals = {"x": real_x, "y": real_y}
        critics = {"x": self.discriminator_x, "y": self.discriminator_y}
        with tf.GradientTape() as tape:
            d_loss = 0.0
            for domain in ("x", "y"):
                real = tf.cast(reals[domain], "float32")
                both = tf.concat([real, history_fakes[domain]], axis=0)
                outputs = as_float32(critics[domain](both, training=True))
                n_real = tf.shape(real)[0]
                d_loss += lsgan_discriminator_loss(outputs[:n_real], outputs[n_real:])
            scaled_d = self.d_optimizer.scale_loss(d_loss)
        disc_vars = self.discriminators.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled_d, disc_vars), disc_vars)
        self.trackers.update(d_loss=d_loss, **losses)
        return self.trackers.results()

    def get_config(self):
        """The four networks serialised (keras.saving.serialize_keras_object), and
        cycle_weight, identity_weight, pool_size and seed."""
        config = super().get_config()
        for attribute in NETWORKS:
            config[attribute] = keras.saving.serialize_keras_object(getattr(self, attribute))
        config["cycle_weight"] = self.cycle_weight
        config["identity_weight"] = self.identity_weight
        config["pool_size"] = self.pool_size
        config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in NETWORKS:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


NETWORKS = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")
