"""Lab 13b, part 1: Pix2Pix, a conditional GAN that translates paired images.

The generator is a U-Net: an encoder of stride-2 convolutions down to a coarse grid, a
decoder of stride-2 transposed convolutions back up, and skip connections that hand each
resolution's encoder features to the decoder at the same resolution. The discriminator is a
PatchGAN: a small convolutional network that reads the source and an image together and
gives one logit per patch ("is this patch of the image a real translation of the source?").
The generator's loss is the adversarial term plus lambda times the L1 distance to the
target; each network has its own optimizer, and one `train_step` updates both.

Images are channels-last, (N, H, W, C), with values in [0, 1]; H and W divisible by
2 ** len(filters).
"""
import keras
import tensorflow as tf

from dlkit.training import LossTrackers, OptimizerPerNetwork

PACKAGE = "dlkit_lab13b_image_translation"


def as_float32(tensor):
    """A tensor in float32, so that the losses are computed in float32 under mixed precision
    too (the networks then compute in float16)."""
    return keras.ops.cast(tensor, "float32")


# ---------------------------------------------------------------------------------------------
# 1. The U-Net's blocks and the U-Net generator
# ---------------------------------------------------------------------------------------------

def downsample(filters):
    """The encoder's block: Conv2D(filters, 4, strides=2, padding="same"), then
    LeakyReLU(negative_slope=0.2). Halves H and W.

    Returns a keras.Sequential of those two layers: (N, H, W, C) -> (N, H/2, W/2, filters).
    """
    layers = [keras.layers.Conv2D(filters, 4, 2, "same"),
              keras.layers.LeakyReLU(negative_slope=0.2)]
    return keras.Sequential(layers)


def upsample(filters):
    """The decoder's block: Conv2DTranspose(filters, 4, strides=2, padding="same"), then
    ReLU. Doubles H and W.

    Returns a keras.Sequential of those two layers: (N, H, W, C) -> (N, 2H, 2W, filters).
    """
    layers = [keras.layers.Conv2DTranspose(filters, 4, 2, "same"), keras.layers.ReLU()]
    return keras.Sequential(layers)


def unet_generator(image_shape=(16, 16, 3), out_channels=3, filters=(8, 16, 16)):
    """The U-Net generator: (N, H, W, C) source images -> (N, H, W, out_channels) in [0, 1].

    Encoder: one downsample(f) block per entry f of `filters`, in order; keep every block's
    output (the skips). With filters (8, 16, 16) on 16x16 images: 8x8x8, 4x4x16, 2x2x16.
    Decoder: from the deepest output, for each shallower level, from the second deepest up
    to the first: upsample(filters of that level), then keras.layers.Concatenate() of
    [the upsampled features, that level's skip] (in this order): 4x4x(16 + 16), then
    8x8x(8 + 8). The skips hand the decoder the fine detail the coarse grid lost.
    Leave the decoder's output in `x` (8x8x16 with the defaults): the last layer (given)
    doubles its size once more, to H x W, with a sigmoid.

    Call downsample and upsample by these names: the checks hand the U-Net blocks of their
    own. The output depends on the input at every scale: through the deepest grid, and
    through each skip at the finer scales.
    """
    source = keras.Input(image_shape, name="source")
    skips = []
    x = source
    for f in filters:
        x = downsample(f)(x)
        skips += [x]
    for f, skip in zip(filters[-2::-1], skips[-2::-1]):
        x = upsample(f)(x)
        x = keras.layers.Concatenate()([x, skip])
    outputs = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same",
                                           activation="sigmoid", name="to_image")(x)
    return keras.Model(source, outputs, name="unet_generator")


# ---------------------------------------------------------------------------------------------
# 2. The PatchGAN discriminator and its receptive field
# ---------------------------------------------------------------------------------------------

def receptive_field(kernel_sizes, strides):
    """The receptive field of a stack of convolutions, first layer first.

    kernel_sizes, strides: one int per layer. Returns (size, jump): one output position sees
    `size` consecutive input positions (along each axis), and neighbouring output positions
    see windows `jump` input positions apart. Going up one layer of kernel k and stride s,
    the window grows by (k - 1) times the jump so far, and the jump is multiplied by s
    (padding moves the windows, not their size).
    """
    kernel_sizes, strides = list(kernel_sizes), list(strides)
    size = 1
    for k, s in zip(reversed(kernel_sizes), reversed(strides)):
        size = (size - 1) * s + k
    jump = 1
    for s in strides:
        jump = jump * s
    return size, jump


def patch_discriminator(image_shape=(16, 16, 3), source_shape=None, filters=(16, 32)):
    """The PatchGAN: one logit per patch of the image, (N, H / 2**len(filters),
    W / 2**len(filters), 1).

    With source_shape (Pix2Pix), the model takes [source, image], concatenated along the
    channels (keras.layers.Concatenate(), source first): it judges whether the image is a
    real translation of THIS source. Without (CycleGAN), it takes the image alone.
    Then one downsample(f) block per entry of `filters` and a 1x1 Conv2D to one logit (no
    activation), left in `logits`. Each logit sees one window of the input: receptive_field
    of the convolutions (kernels 4, ..., 4, 1; strides 2, ..., 2, 1), 10 x 10 pixels for
    two blocks.
    """
    image = keras.Input(image_shape, name="image")
    inputs = image if source_shape is None else [keras.Input(source_shape, name="source"), image]
    if source_shape is None:
        x = image
    else:
        source_input, image_input = inputs
        x = keras.layers.Concatenate(axis=3)([source_input, image_input])
    x = [x]
    for f in filters:
        x.append(downsample(f)(x[-1]))
    logits = keras.layers.Conv2D(1, kernel_size=1)(x[-1])
    return keras.Model(inputs, logits, name="patch_discriminator")


# ---------------------------------------------------------------------------------------------
# 3. The losses
# ---------------------------------------------------------------------------------------------

def discriminator_loss(real_logits, fake_logits):
    """The PatchGAN's binary cross-entropy, halved as in pix2pix (D then learns at half
    G's rate):

        0.5 * (mean(-log D(source, target)) + mean(-log(1 - D(source, G(source)))))

    real_logits, fake_logits: (N, h, w, 1) logits, one per patch; each mean is over every
    patch of every image. -log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l).
    Returns a scalar.
    """
    real_ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(real_logits),
                                                      logits=real_logits)
    fake_ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake_logits),
                                                      logits=fake_logits)
    return tf.reduce_mean(real_ce) * 0.5 + tf.reduce_mean(fake_ce) * 0.5


def generator_loss(fake_logits, generated, target, l1_weight=100.0):
    """The generator's loss: the non-saturating adversarial term (every patch of the fakes
    labelled real), plus l1_weight times the mean absolute error to the target:

        adversarial = mean(-log D(source, G(source))),   l1 = mean |target - G(source)|
        total = adversarial + l1_weight * l1

    fake_logits: (N, h, w, 1); generated, target: (N, H, W, C). Returns the three scalars
    (total, adversarial, l1).
    """
    adversarial = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.ones_like(fake_logits), logits=fake_logits))
    l1 = tf.reduce_mean(tf.math.abs(tf.math.subtract(target, generated)))
    return tf.add(adversarial, tf.multiply(l1_weight, l1)), adversarial, l1


# ---------------------------------------------------------------------------------------------
# 4. The model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class Pix2Pix(OptimizerPerNetwork, keras.Model):
    """generator: source (N, H, W, C) -> image; discriminator: [source, image] -> patch
    logits. Calling the model on sources runs the generator.

    Use: model.compile(g_optimizer=..., d_optimizer=...) (each built for its own network's
    variables), then model.fit on (source, target) batches.
    """

    OPTIMIZERS = {"g_optimizer": "generator", "d_optimizer": "discriminator"}

    def __init__(self, generator, discriminator, l1_weight=100.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.trackers = LossTrackers("g_loss", "adversarial", "l1", "d_loss")
        # The two networks arrive built, so the model holds all its weights from the start.
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, source, training=False):
        return self.generator(source, training=training)

    def train_step(self, data):
        """One update of each network from ONE forward pass, taken under two tapes.

        data: (source, target) batches. Under a tf.GradientTape for G and one for D:
        generated = G(source); D's logits on [source, target] (real) and on
        [source, generated] (fake), both through as_float32; generator_loss(fake logits,
        as_float32(generated), target, self.l1_weight) and discriminator_loss(real logits,
        fake logits); each loss scaled by its own optimizer's scale_loss. Then G's gradients
        (of its scaled loss, w.r.t. generator.trainable_variables) applied by g_optimizer, and
        D's (w.r.t. discriminator.trainable_variables) by d_optimizer: both gradients are
        taken at the same weights, before either update. Call both networks with
        training=True.

        Log g_loss (the total), adversarial, l1 and d_loss with self.trackers.update(...), and
        return self.trackers.results().
        """
        source, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            generated = self.generator(source, training=True)
            fake_logits = as_float32(self.discriminator([source, generated], training=True))
            real_logits = as_float32(self.discriminator([source, target], training=True))
            d_loss = discriminator_loss(real_logits, fake_logits)
            total, adversarial, l1 = generator_loss(fake_logits, as_float32(generated), target,
                                                    self.l1_weight)
            scaled = {"d": self.d_optimizer.scale_loss(d_loss),
                      "g": self.g_optimizer.scale_loss(total)}
        d_grads = d_tape.gradient(scaled["d"], self.discriminator.trainable_variables)
        g_grads = g_tape.gradient(scaled["g"], self.generator.trainable_variables)
        self.d_optimizer.apply(d_grads, self.discriminator.trainable_variables)
        self.g_optimizer.apply(g_grads, self.generator.trainable_variables)
        self.trackers.update(g_loss=total)
        self.trackers.update(adversarial=adversarial, l1=l1)
        self.trackers.update(d_loss=d_loss)
        return self.trackers.results()

    def get_config(self):
        """Everything __init__ needs: the two networks serialised with
        keras.saving.serialize_keras_object, and l1_weight."""
        config = super().get_config()
        config["generator"] = keras.saving.serialize_keras_object(self.generator)
        config["discriminator"] = keras.saving.serialize_keras_object(self.discriminator)
        config["l1_weight"] = float(self.l1_weight)
        return config

    @classmethod
    def from_config(cls, config):
        """The inverse of get_config: the serialised networks turned back into models."""
        config = dict(config)
        for name in ("generator", "discriminator"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
