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
    real_term = keras.ops.mean(keras.ops.square(1.0 - real_logits))
    fake_term = keras.ops.mean(keras.ops.square(fake_logits))
    return (real_term + fake_term) * 0.5


def lsgan_generator_loss(fake_logits):
    """The generator's least-squares loss: its fakes pushed to the REAL target 1,
    mean((D(G(x)) - 1)^2). fake_logits: (N, h, w, 1). Returns a scalar."""
    return keras.ops.mean(keras.ops.square(1.0 - fake_logits))


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
        size = self.pool_size
        pool_slots = tf.range(size)

        def body(i, state):
            pool, count, out = state
            fresh = images[i]
            is_full = count >= size
            take_old = tf.logical_and(is_full, uniforms[i] > 0.5)
            target_slot = tf.where(is_full, slots[i], count)
            old = tf.gather(pool, target_slot)
            # returned image i: the old one on a swap, else the fresh one
            row = tf.cast(tf.equal(tf.range(n), i), "float32")[:, None, None, None]
            chosen = tf.where(take_old, old, fresh)
            out = out * (1.0 - row) + row * chosen[None]
            # the pool changes at target_slot while filling, or on a swap
            write = tf.logical_or(tf.logical_not(is_full), take_old)
            mask = tf.logical_and(tf.equal(pool_slots, target_slot), write)
            pool = tf.where(mask[:, None, None, None], fresh[None], pool)
            count = tf.where(is_full, count, count + 1)
            return pool, count, out

        initial = (keras.ops.convert_to_tensor(self.images), keras.ops.convert_to_tensor(self.count),
                   tf.zeros_like(images))
        new_pool, new_count, out = keras.ops.fori_loop(0, n, body, initial)
        self.images.assign(new_pool)
        self.count.assign(new_count)
        return out

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
        G, F = self.generator_g, self.generator_f
        fake_y, fake_x = G(real_x, training=True), F(real_y, training=True)
        d_y_fake = as_float32(self.discriminator_y(fake_y, training=True))
        d_x_fake = as_float32(self.discriminator_x(fake_x, training=True))
        adversarial = lsgan_generator_loss(d_x_fake) + lsgan_generator_loss(d_y_fake)
        cycle = (l1_distance(F(fake_y, training=True), real_x)
                 + l1_distance(G(fake_x, training=True), real_y))
        identity = (l1_distance(F(real_x, training=True), real_x)
                    + l1_distance(G(real_y, training=True), real_y))
        losses = dict(adversarial=adversarial, cycle=cycle, identity=identity)
        losses["g_loss"] = (losses["adversarial"] + self.cycle_weight * losses["cycle"]
                            + self.identity_weight * losses["identity"])
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
        g_vars = self.generators.trainable_variables
        with tf.GradientTape() as g_tape:
            losses, fake_x, fake_y = self.generator_losses(real_x, real_y)
            g_scaled = self.g_optimizer.scale_loss(losses["g_loss"])
        g_grads = g_tape.gradient(g_scaled, g_vars)
        self.g_optimizer.apply(g_grads, g_vars)

        pooled_x = self.history_x.query(fake_x)
        pooled_y = self.history_y.query(fake_y)
        d_vars = self.discriminators.trainable_variables
        with tf.GradientTape() as d_tape:
            loss_x = lsgan_discriminator_loss(
                as_float32(self.discriminator_x(real_x, training=True)),
                as_float32(self.discriminator_x(pooled_x, training=True)))
            loss_y = lsgan_discriminator_loss(
                as_float32(self.discriminator_y(real_y, training=True)),
                as_float32(self.discriminator_y(pooled_y, training=True)))
            d_loss = loss_x + loss_y
            d_scaled = self.d_optimizer.scale_loss(d_loss)
        self.d_optimizer.apply(d_tape.gradient(d_scaled, d_vars), d_vars)
        self.trackers.update(g_loss=losses["g_loss"], adversarial=losses["adversarial"],
                             cycle=losses["cycle"], identity=losses["identity"], d_loss=d_loss)
        return self.trackers.results()

    def get_config(self):
        """The four networks serialised (keras.saving.serialize_keras_object), and
        cycle_weight, identity_weight, pool_size and seed."""
        config = super().get_config()
        config.update({name: keras.saving.serialize_keras_object(getattr(self, name))
                       for name in ("generator_g", "generator_f", "discriminator_x",
                                    "discriminator_y")})
        config.update({"cycle_weight": self.cycle_weight, "identity_weight": self.identity_weight,
                       "pool_size": self.pool_size, "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in NETWORKS:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


NETWORKS = ("generator_g", "generator_f", "discriminator_x", "discriminator_y")
