"""GPU checks of lab16_diffusion (autograder/gpu.py): the student's DDPM (NoiseSchedule,
q_sample, noise_prediction_loss, DiffusionModel.train_step and its EMA) training the checks'
own small U-Net on the whole of MNIST, judged by the EMA network's DDPM loss on the test
images against the reference's; and the student's own U-Net (FiLM, residual blocks, skips)
trained on MNIST by the checks' own DDPM trainer, judged the same way."""
import numpy as np

from autograder.checks.lab16_diffusion.probes import MODEL
from autograder.checks.lab16_diffusion.probes_unet import UNET
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_close, expect_true

# The U-Net below at width 32 (32, 64, 128 channels at 28, 14, 7 pixels): about 0.13 G
# multiply-adds per image forward, 0.8 GFLOP per training image. Five epochs of the 60 000
# training images in batches of 128 (2 340 Adam steps, each with an EMA step): about 240
# TFLOP, 40-60 s on a T4 in mixed precision, plus the compile and the data.
EPOCHS, BATCH, WIDTH = 5, 128, 32
STEPS_T = 1000      # the diffusion's T, DDPM's linear schedule
FACTOR = 1.10       # the test DDPM loss may reach 1.1 x the reference's
CEILING = 0.1       # a denoiser that learned digits (predicting no noise at all scores 1.0)


def unet_class():
    """The checks' U-Net denoiser (a Keras layer called as net(x_t, t), x_t (N, 784)): not
    the lab's code, so the check judges the student's diffusion model around it."""
    import keras

    class Block(keras.layers.Layer):
        """h + conv(silu(conv(silu(h)) + time)): a residual block told t. No normalisation:
        its ops would double the graph that the smoke test traces, and Adam copes."""

        def __init__(self, filters, **kwargs):
            super().__init__(**kwargs)
            self.conv_1 = keras.layers.Conv2D(filters, 3, padding="same")
            self.conv_2 = keras.layers.Conv2D(filters, 3, padding="same")
            self.time = keras.layers.Dense(filters)

        def call(self, h, time):
            r = self.conv_1(keras.activations.silu(h)) + self.time(time)[:, None, None, :]
            return h + self.conv_2(keras.activations.silu(r))

    class UNet(keras.layers.Layer):
        def __init__(self, width=WIDTH, **kwargs):
            super().__init__(**kwargs)
            self.width = int(width)
            w = self.width
            self.time_mlp = keras.layers.Dense(4 * w, activation="silu")
            self.stem = keras.layers.Conv2D(w, 3, padding="same")
            self.blocks = [Block(f) for f in (w, 2 * w, 4 * w, 2 * w, w)]
            self.down = [keras.layers.Conv2D(f, 3, strides=2, padding="same") for f in (2 * w, 4 * w)]
            self.up = [keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same")
                       for f in (2 * w, w)]
            self.merge = [keras.layers.Conv2D(f, 1) for f in (2 * w, w)]
            self.head = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros")

        def call(self, x_t, t):
            half = 2 * self.width
            frequencies = keras.ops.exp(-np.log(10_000.0) * keras.ops.arange(half, dtype="float32") / half)
            angles = keras.ops.cast(keras.ops.reshape(t, (-1, 1)), "float32") * frequencies
            time = self.time_mlp(keras.ops.concatenate([keras.ops.sin(angles),
                                                        keras.ops.cos(angles)], axis=-1))
            h1 = self.blocks[0](self.stem(keras.ops.reshape(x_t, (-1, 28, 28, 1))), time)
            h2 = self.blocks[1](self.down[0](h1), time)
            h = self.blocks[2](self.down[1](h2), time)
            for up, merge, block, skip in zip(self.up, self.merge, self.blocks[3:], (h2, h1)):
                h = block(merge(keras.ops.concatenate([up(h), skip], axis=-1)), time)
            head = self.head(keras.activations.silu(h))
            return keras.ops.reshape(head, (-1, 784))

        def get_config(self):   # copy_frozen rebuilds the EMA network from it
            return {**super().get_config(), "width": self.width}

    return UNet


def heldout_loss(model, x, t, noise, batch=1000):
    """DDPM's loss of the EMA network on (x, t, noise), with x_t from the model's alpha_bars
    (the check's own q_sample, so that only the trained network is judged)."""
    import tensorflow as tf
    alpha_bars = np.asarray(model.schedule.alpha_bars, dtype=np.float64)[t][:, None]
    x_t = (np.sqrt(alpha_bars) * x + np.sqrt(1.0 - alpha_bars) * noise).astype("float32")
    predict = tf.function(lambda x_t, t: model.predict_noise(x_t, t))
    errors = [np.asarray(predict(x_t[i:i + batch], t[i:i + batch]), dtype=np.float64)
              - noise[i:i + batch] for i in range(0, len(x), batch)]
    return float(np.mean(np.concatenate(errors) ** 2))


def fit_shuffled(lab, model, x, rng, epochs) -> None:
    """`epochs` over x (fewer steps in the smoke test) in shuffled batches of one shape."""
    import tensorflow as tf
    batch = min(BATCH, len(x))   # the smoke test has fewer examples than a batch
    data = (tf.data.Dataset.from_tensor_slices(x.astype("float32"))
            .shuffle(len(x), seed=int(rng.integers(2**31))).batch(batch, drop_remainder=True)
            .repeat())
    model.fit(data, epochs=1, steps_per_epoch=lab.gpu.steps(epochs * len(x) // BATCH),
              verbose=0)


@gpu_check(points=3, minutes=2.0, datasets=("mnist",), uses=MODEL,
           task="`NoiseSchedule`, `q_sample`, `noise_prediction_loss`, "
                "`DiffusionModel.train_step`, `ema_update`",
           hint="DiffusionModel(the checks' U-Net, data_dim=784, num_steps=1000) trained on "
                "MNIST: check q_sample, the loss, the random t and noise of train_step, and "
                "the EMA step after the optimizer's")
def ddpm_unet_on_mnist(lab, rng):
    """A DDPM with T = 1000 (the student's schedule, q_sample, loss, train_step and EMA) trains
    the checks' U-Net (32 to 128 channels) for five epochs on MNIST (mixed precision, XLA):
    the EMA network's DDPM loss on the 10 000 test images, at timesteps and noise drawn by
    the check, stays within 1.1 x the reference's, and below 0.1."""
    import keras
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    x = x.reshape(len(x), 784) * 2.0 - 1.0
    x_test = x_test.reshape(len(x_test), 784) * 2.0 - 1.0
    t_test = rng.integers(0, STEPS_T, size=len(x_test)).astype("int32")
    noise_test = rng.normal(size=x_test.shape)
    # Under the smoke test float16 convolutions cost seconds per step on a CPU: narrower.
    denoiser = unet_class()(width=4 if lab.gpu.smoke else WIDTH)
    model = lab.diffusion_model.DiffusionModel(denoiser, data_dim=784, num_steps=STEPS_T,
                                               schedule="linear", ema_decay=0.999)
    lab.gpu.compile(model, keras.optimizers.Adam(2e-4))
    # The optimizer's slots made inside the first step would make TensorFlow trace it twice.
    model.optimizer.build(model.trainable_variables)
    fit_shuffled(lab, model, x, rng, EPOCHS)
    return {"loss": heldout_loss(model, x_test, t_test, noise_test),
            "alpha_bars": np.asarray(model.schedule.alpha_bars, dtype="float32"),
            "smoke": lab.gpu.smoke}


@ddpm_unet_on_mnist.verdict
def _(student, reference):
    expect_close(student["alpha_bars"], reference["alpha_bars"],
                 "NoiseSchedule(linear_betas(1000)).alpha_bars, which the test loss noises with",
                 rtol=1e-4, atol=1e-6)
    loss, ref = student["loss"], reference["loss"]
    expect_true(np.isfinite(loss), f"the U-Net's test DDPM loss is {loss} after training on "
                "MNIST: training diverged (is the loss float32, and scaled with scale_loss?)")
    expect_at_most(loss, FACTOR * ref,
                   f"the EMA U-Net's DDPM loss on the MNIST test images (the reference reaches "
                   f"{ref:.4f} with the same training: check q_sample and the loss in "
                   "train_step, one random t and fresh noise per example, and ema_update)")
    if not student["smoke"]:
        expect_at_most(loss, CEILING, "the EMA U-Net's DDPM loss on MNIST")


# The student's UNetDenoiser at base_filters 32 on 28x28 images (32, 64, 128 channels at 28,
# 14, 7 pixels): about 0.1 G multiply-adds per image forward, 0.6 GFLOP per training image.
# Four epochs in batches of 128 (1 872 Adam steps): about 150 TFLOP, 30-50 s on a T4 in
# mixed precision, plus the compile and the data.
UNET_EPOCHS, UNET_WIDTH = 4, 32
UNET_CEILING = 0.15   # a U-Net that learned digits (predicting no noise at all scores 1.0)


def ddpm_trainer_class():
    """The checks' own DDPM trainer of a network net(x_t, t) on (N, 28, 28, 1) images: T =
    1000, DDPM's linear betas (computed here in numpy), one t and noise per example, the mean
    squared error of the noise, scale_loss for mixed precision. Not the student's
    DiffusionModel: the check judges the U-Net alone."""
    import keras
    import tensorflow as tf

    class DDPMTrainer(keras.Model):
        def __init__(self, network, **kwargs):
            super().__init__(**kwargs)
            self.network = network
            betas = np.linspace(1e-4, 0.02, STEPS_T)
            self.signal = tf.constant(np.sqrt(np.cumprod(1.0 - betas)), tf.float32)
            self.spread = tf.constant(np.sqrt(1.0 - np.cumprod(1.0 - betas)), tf.float32)
            self.seeds = keras.random.SeedGenerator(11)
            self.tracker = keras.metrics.Mean(name="loss")
            self.network(tf.zeros((1, 28, 28, 1)), tf.zeros((1,), tf.int32))

        @property
        def metrics(self):
            return [self.tracker]

        def call(self, inputs):
            return self.network(*inputs)

        def train_step(self, data):
            x0 = tf.cast(data, tf.float32)
            batch = tf.shape(x0)[0]
            t = keras.random.randint((batch,), 0, STEPS_T, dtype="int32", seed=self.seeds)
            noise = keras.random.normal(tf.shape(x0), seed=self.seeds)
            signal = tf.gather(self.signal, t)[:, None, None, None]     # sqrt(alpha_bar_t)
            spread = tf.gather(self.spread, t)[:, None, None, None]     # sqrt(1 - alpha_bar_t)
            x_t = x0 * signal + noise * spread
            with tf.GradientTape() as tape:
                error = tf.cast(self.network(x_t, t), tf.float32) - noise
                loss = tf.reduce_mean(error * error)
                to_scale = self.optimizer.scale_loss(loss)
            grads = tape.gradient(to_scale, self.network.trainable_variables)
            self.optimizer.apply(grads, self.network.trainable_variables)
            self.tracker.update_state(loss)
            return {"loss": self.tracker.result()}

    return DDPMTrainer


@gpu_check(points=2, minutes=1.5, datasets=("mnist",), uses=UNET,
           task="`FiLM`, `ResidualBlock`, `UNetDenoiser`",
           hint="your UNetDenoiser(image_shape=(28, 28, 1), base_filters=32) trained as a DDPM "
                "on MNIST by the checks' trainer: check FiLM, the blocks, the skips and the "
                "time conditioning")
def unet_denoiser_on_mnist(lab, rng):
    """Your UNetDenoiser (28x28x1, base_filters 32, embedding 64) trained by the checks' own
    DDPM trainer (T = 1000, linear betas, noise MSE) for four epochs on MNIST (mixed
    precision, XLA): its DDPM loss on the 10 000 test images, at timesteps and noise drawn by
    the check, stays within 1.1 x the reference's, and below 0.15."""
    import keras
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = x * 2.0 - 1.0, x_test * 2.0 - 1.0
    t_test = rng.integers(0, STEPS_T, size=len(x_test)).astype("int32")
    noise_test = rng.normal(size=x_test.shape)
    # Under the smoke test float16 convolutions cost seconds per step on a CPU: narrower.
    net = lab.unet.UNetDenoiser(image_shape=(28, 28, 1),
                                base_filters=4 if lab.gpu.smoke else UNET_WIDTH,
                                embedding_dim=8 if lab.gpu.smoke else 2 * UNET_WIDTH)
    model = ddpm_trainer_class()(net)
    lab.gpu.compile(model, keras.optimizers.Adam(5e-4))
    # The optimizer's slots made inside the first step would make TensorFlow trace it twice.
    model.optimizer.build(net.trainable_variables)
    fit_shuffled(lab, model, x, rng, UNET_EPOCHS)
    betas = np.linspace(1e-4, 0.02, STEPS_T)
    alpha_bars = np.cumprod(1.0 - betas)[t_test][:, None, None, None]
    x_t = (np.sqrt(alpha_bars) * x_test + np.sqrt(1.0 - alpha_bars) * noise_test).astype("float32")
    # Eager calls: ten of them cost less than tracing the U-Net once more in the smoke test.
    errors = [np.asarray(net(x_t[i:i + 1000], t_test[i:i + 1000]), dtype=np.float64)
              - noise_test[i:i + 1000] for i in range(0, len(x_t), 1000)]
    return {"loss": float(np.mean(np.concatenate(errors) ** 2)), "smoke": lab.gpu.smoke}


@unet_denoiser_on_mnist.verdict
def _(student, reference):
    loss, ref = student["loss"], reference["loss"]
    expect_true(np.isfinite(loss), f"your U-Net's test DDPM loss is {loss} after training on "
                "MNIST: training diverged (does FiLM start at the identity, the head at zero?)")
    expect_at_most(loss, FACTOR * ref,
                   f"your U-Net's DDPM loss on the MNIST test images (the reference's U-Net "
                   f"reaches {ref:.4f} with the same training: check FiLM, the residual blocks, "
                   "the skip connections and the time conditioning)")
    if not student["smoke"]:
        expect_at_most(loss, UNET_CEILING, "your U-Net's DDPM loss on MNIST")
