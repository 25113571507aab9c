"""What the checks of lab13b_image_translation share. Probes run in the worker (they import
TensorFlow inside); verdict helpers run in the grader (numpy only).

The checks' own networks are never the lab's: stand-in U-Net blocks (one convolution with a
tanh, `standin_blocks`), a small translator with an upsampling path (`translator`) and a
small patch critic (`critic`). Model-level checks run the student's Pix2Pix and CycleGAN
on them, with stand-in losses of known behaviour and plain SGD, and take the expected
gradients with their own tape, so each check grades one unit of the student's code.
"""
import contextlib

import numpy as np

from autograder.check_helpers import standing_in

PIX2PIX = ("pix2pix",)
CYCLEGAN = ("cyclegan",)
SGD_RATE = 0.1


def run_step(what, step, *args, **kwargs):
    """Run a step or fit, turning Keras's errors for common slips into messages (at the
    student's line: the new error keeps the original's traceback)."""
    try:
        return step(*args, **kwargs)
    except (ValueError, TypeError, KeyError) as error:
        text = str(error)
        if "Unknown variable" in text or "not in the list of variables" in text:
            message = (f"{what} asked an optimizer to update variables it was not built for: "
                       "compile builds g_optimizer for the generators' variables and "
                       "d_optimizer for the discriminators', and each optimizer applies "
                       "gradients to its own networks only")
        elif ("(None," in text or "None values not supported" in text
              or "'NoneType' object cannot be interpreted as an integer" in text):
            message = (f"{what} failed where the batch size is unknown (fit traces train_step "
                       "with batch shape (None, ...)): use tf.shape(x)[0], not x.shape[0], "
                       "and loop over a batch with keras.ops.fori_loop, not a Python range. "
                       f"Keras said: {text[:200]}")
        else:
            raise
        raise ValueError(message).with_traceback(error.__traceback__) from None


# ------------------------------------------------------------------------- the checks' networks

def standin_blocks(kernel_size, made=None):
    """downsample(f) and upsample(f) stand-ins: ONE Conv2D / Conv2DTranspose(f, kernel_size,
    strides=2, padding="same") with a tanh, so the U-Net and PatchGAN checks judge how the
    student assembles blocks, not the blocks. `made` (a list) collects (kind, layer)."""
    import keras

    def block(kind, layer_class):
        def make(filters):
            layer = layer_class(int(filters), kernel_size, strides=2, padding="same",
                                activation="tanh")
            if made is not None:
                made.append((kind, layer))
            return layer
        return make
    return {"downsample": block("down", keras.layers.Conv2D),
            "upsample": block("up", keras.layers.Conv2DTranspose)}


def translator(shape, width=8, name="check_translator"):
    """The checks' generator (not the lab's U-Net): a 3x3 ELU convolution at full size, a
    stride-2 one, nearest-neighbour upsampling back, both joined, a 3x3 convolution to the
    image's channels with a sigmoid: three convolutions, cheap to trace."""
    import keras
    from keras import layers
    inputs = keras.Input(shape)
    fine = layers.Conv2D(width, 3, padding="same", activation="elu")(inputs)
    coarse = layers.Conv2D(width, 3, strides=2, padding="same", activation="elu")(fine)
    joined = layers.Concatenate()([fine, layers.UpSampling2D()(coarse)])
    image = layers.Conv2D(shape[-1], 3, padding="same", activation="sigmoid")(joined)
    return keras.Model(inputs, image, name=name)


def critic(shape, source_shape=None, width=8, name="check_critic"):
    """The checks' patch critic (not the lab's PatchGAN): a 3x3 stride-2 ELU convolution and
    a 3x3 convolution to one output per 2x2 patch; with source_shape it reads [source, image]
    side by side along the channels."""
    import keras
    from keras import layers
    image = keras.Input(shape)
    inputs = image if source_shape is None else [keras.Input(source_shape), image]
    x = image if source_shape is None else layers.Concatenate()(inputs)
    x = layers.Conv2D(width, 3, strides=2, padding="same", activation="elu")(x)
    return keras.Model(inputs, layers.Conv2D(1, 3, padding="same")(x), name=name)


def one_layer(shape, source_shape=None, stride=1, name=None):
    """The smallest networks that train: one convolution (a translator with a sigmoid, or a
    patch critic of stride 2), so that tracing and saving the models costs little."""
    import keras
    image = keras.Input(shape)
    inputs = image if source_shape is None else [keras.Input(source_shape), image]
    x = keras.layers.Concatenate()(inputs) if source_shape else image
    if stride == 1:
        return keras.Model(inputs, keras.layers.Conv2D(shape[-1], 3, padding="same",
                                                       activation="sigmoid")(x), name=name)
    return keras.Model(inputs, keras.layers.Conv2D(1, 4, strides=stride, padding="same")(x))


def sgd_model(model):
    """compile with two plain SGDs at SGD_RATE: a weight's change is -SGD_RATE * gradient."""
    import keras
    model.compile(g_optimizer=keras.optimizers.SGD(SGD_RATE),
                  d_optimizer=keras.optimizers.SGD(SGD_RATE))
    return model


def flat(arrays):
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def weights_of(*networks):
    return flat([v.numpy() for n in networks for v in n.trainable_variables])


def gradient_wrt(networks, loss_fn):
    """d loss_fn() / d (the networks' variables), flattened; the check's own tape."""
    import tensorflow as tf
    variables = [v for n in networks for v in n.trainable_variables]
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return flat([np.zeros(v.shape) if g is None else g.numpy()
                 for v, g in zip(variables, tape.gradient(loss, variables))])


def logged(logs, what):
    if not isinstance(logs, dict):
        raise TypeError(f"{what} returned {type(logs).__name__}; expected "
                        "self.trackers.results(), a dict of the losses")
    return {str(k): float(np.asarray(v)) for k, v in logs.items()}


# ------------------------------------------------------------------ stand-in losses (known maps)

def standin_discriminator_loss(real, fake):
    """A discriminator loss of known behaviour, not the lab's: it tells real from fake."""
    import tensorflow as tf
    return tf.reduce_mean(tf.square(real - 1.0)) + 0.5 * tf.reduce_mean(tf.square(fake + 1.0))


def standin_generator_loss(fake_logits, generated, target, l1_weight=100.0):
    """A Pix2Pix generator loss of known behaviour: (total, adversarial, distance)."""
    import tensorflow as tf
    adversarial = tf.reduce_mean(tf.square(fake_logits - 2.0))
    distance = tf.reduce_mean(tf.square(generated - target))
    return adversarial + l1_weight * distance, adversarial, distance


def standin_lsgan_generator_loss(fake_logits):
    """mean |l - 0.5|: a generator loss of known behaviour, with a numpy twin below."""
    import tensorflow as tf
    return tf.reduce_mean(tf.abs(fake_logits - 0.5))


def numpy_standin_lsgan_generator_loss(logits):
    return float(np.mean(np.abs(logits - 0.5)))


@contextlib.contextmanager
def standin_losses(module, **replacements):
    """module's losses replaced under every name the module holds them by."""
    held = {}
    for name, standin in replacements.items():
        original = getattr(module, name, None)
        held.update({key: standin for key, value in vars(module).items()
                     if original is not None and value is original})
        held[name] = standin
    with standing_in(module, **held):
        yield


# ------------------------------------------------------------------ elementwise stand-in networks

MAPS = {
    # name: (TensorFlow map, numpy map); D maps reduce the channels to one output per pixel.
    "G": (lambda v: _tf().sigmoid(2.0 * v - 0.5),
          lambda v: 1.0 / (1.0 + np.exp(-(2.0 * v - 0.5)))),
    "F": (lambda v: 0.5 * _tf().tanh(v) + 0.4 * v, lambda v: 0.5 * np.tanh(v) + 0.4 * v),
    "D_X": (lambda v: _tf().reduce_mean(3.0 * v - 1.0, axis=-1, keepdims=True),
            lambda v: np.mean(3.0 * v - 1.0, axis=-1, keepdims=True)),
    "D_Y": (lambda v: _tf().reduce_mean(2.0 - 4.0 * v * v, axis=-1, keepdims=True),
            lambda v: np.mean(2.0 - 4.0 * v * v, axis=-1, keepdims=True)),
}


def _tf():
    import tensorflow as tf
    return tf


def elementwise_network(name, shape):
    """A Keras model of one of MAPS' TensorFlow maps (no weights)."""
    import keras
    inputs = keras.Input(shape)
    return keras.Model(inputs, keras.layers.Lambda(MAPS[name][0])(inputs), name=f"check_{name}")


def numpy_cycle_terms(x, y, cycle_weight, identity_weight):
    """The generators' losses on MAPS' networks, in numpy, and the terms of known slips."""
    g, f, d_x, d_y = (MAPS[name][1] for name in ("G", "F", "D_X", "D_Y"))
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    adv = numpy_standin_lsgan_generator_loss
    dist = lambda a, b: float(np.mean(np.abs(a - b)))  # noqa: E731
    terms = {"adversarial": adv(d_y(g(x))) + adv(d_x(f(y))),
             "cycle": dist(x, f(g(x))) + dist(y, g(f(y))),
             "identity": dist(y, g(y)) + dist(x, f(x))}
    terms["g_loss"] = (terms["adversarial"] + cycle_weight * terms["cycle"]
                       + identity_weight * terms["identity"])
    slips = {
        "identity": [(dist(x, g(x)) + dist(y, f(y)),
                      "compares G(x) with x and F(y) with y: the identity loss hands each "
                      "generator an image already in its OUTPUT domain, G(y) vs y and F(x) vs x")],
        "cycle": [(dist(y, f(g(x))) + dist(x, g(f(y))),
                   "compares F(G(x)) with y and G(F(y)) with x: each cycle must come back to "
                   "where it started, F(G(x)) vs x and G(F(y)) vs y"),
                  (dist(x, g(f(x))) + dist(y, f(g(y))),
                   "runs the cycles the wrong way round (G(F(x)), F(G(y))): x goes through G "
                   "first, y through F first"),
                  (dist(x, g(x)) + dist(y, f(y)),
                   "compares the translations G(x), F(y) with their inputs instead of the "
                   "cycled images F(G(x)), G(F(y))")],
        "adversarial": [(adv(d_x(g(x))) + adv(d_y(f(y))),
                         "judges G's fakes with D_X and F's with D_Y: G makes Y images, which "
                         "D_Y judges; F makes X images, judged by D_X")],
    }
    return terms, slips
