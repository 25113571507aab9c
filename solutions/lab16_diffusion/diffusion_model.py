"""Lab 16, part 6: the diffusion model as a keras.Model, with an EMA of its weights.

`train_step` draws a random timestep and fresh noise per example, noises the batch with
q_sample and regresses the noise (noise_prediction_loss). After each optimizer step it
moves an exponential moving average (EMA) of the weights toward the new weights: the
average of the last ~1 / (1 - decay) steps is a smoother, better denoiser than the last
step's weights, and the samplers use it.

The EMA lives in `ema_denoiser`, a copy of the denoiser whose weights are non-trainable:
saved with the model, never touched by the optimizer.
"""
import keras
import tensorflow as tf
from forward_process import NoiseSchedule, make_betas, noise_prediction_loss
from guidance import drop_labels, guided_noise
from reverse_process import ddim_sample, ddpm_sample

from dlkit.training import LossTrackers


def ema_update(ema_variables, variables, decay):
    """One EMA step for each pair: ema <- decay * ema + (1 - decay) * variable.

    ema_variables: a list of keras.Variable (assigned in place); variables: a list of the
    same length and shapes (variables or arrays); decay: in [0, 1), e.g. 0.99.
    Returns None.
    """
    # BEGIN SOLUTION assign decay * ema + (1 - decay) * value to each EMA variable
    for ema, value in zip(ema_variables, variables):
        ema.assign(decay * ema + (1.0 - decay) * tf.cast(value, ema.dtype))
    # END SOLUTION


def copy_frozen(network):
    """A new instance of `network` with the same config, for the EMA; its weights are frozen."""
    config = network.get_config()
    config["name"] = f"ema_{config.get('name') or network.name}"
    clone = network.__class__.from_config(config)
    clone.trainable = False
    return clone


@keras.saving.register_keras_serializable(package="dlkit_lab16_diffusion")
class DiffusionModel(keras.Model):
    """A DDPM: denoiser(x_t, t[, labels]) -> predicted noise, trained on random timesteps.

    DiffusionModel(denoiser, data_dim, num_steps, schedule, num_classes, label_dropout,
    ema_decay):
      denoiser: a Keras layer or model called as denoiser(x_t, t) or denoiser(x_t, t, labels)
        (e.g. an MLPDenoiser);
      num_steps: T; schedule: "linear" or "cosine";
      num_classes: 0 for an unconditional model; else the labels are 0..num_classes-1 and
        num_classes is the "no label" of classifier-free guidance, which train_step uses
        for a fraction label_dropout of the examples;
      ema_decay: the EMA's decay.

    fit(x) or fit((x, labels)) with x: (N, data_dim); logs "loss". model((x_t, t)) or
    model((x_t, t, labels)) runs the (online) denoiser.
    """

    def __init__(self, denoiser, data_dim=2, num_steps=50, schedule="linear", num_classes=0,
                 label_dropout=0.1, ema_decay=0.99, **kwargs):
        super().__init__(**kwargs)
        self.denoiser = denoiser
        self.data_dim = int(data_dim)
        self.num_steps = int(num_steps)
        self.schedule_name = schedule
        self.num_classes = int(num_classes)
        self.label_dropout = float(label_dropout)
        self.ema_decay = float(ema_decay)
        self.schedule = NoiseSchedule(make_betas(schedule, self.num_steps))
        self.ema_denoiser = copy_frozen(denoiser)
        self.noise = keras.random.SeedGenerator()
        self.trackers = LossTrackers("loss")
        # Build both networks now (fit never calls the model, and an unbuilt model saves
        # without its weights), then start the EMA from the initial weights.
        for network in (self.denoiser, self.ema_denoiser):
            self.run(network, tf.zeros((1, self.data_dim)), tf.zeros((1,), tf.int32),
                     tf.zeros((1,), tf.int32) if self.num_classes else None)
        self.ema_denoiser.set_weights(self.denoiser.get_weights())
        # Built: saved with its weights, and load_model restores the optimizer's state too.
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    @property
    def null_label(self):
        return self.num_classes

    def run(self, network, x_t, t, labels=None):
        """network(x_t, t[, labels]) as float32; labels only for a conditional model."""
        if self.num_classes and labels is not None:
            return keras.ops.cast(network(x_t, t, labels), "float32")
        return keras.ops.cast(network(x_t, t), "float32")

    def call(self, inputs):
        return self.run(self.denoiser, *inputs)

    def train_step(self, data):
        """One gradient step on a batch, then one EMA step. Returns {"loss": mean so far}.

        1. t ~ uniform on {0, ..., T-1} per example (keras.random.randint's maxval is
           exclusive) and noise ~ N(0, I) of x0's shape, both drawn with seed=self.noise; for
           a conditional model, drop_labels with self.label_dropout and U[0, 1) draws, one
           per example;
        2. under a tape: noise_prediction_loss of the denoiser (self.run) on the batch,
           with self.schedule.alpha_bars; scale_loss; gradients w.r.t. the trainable
           variables (the EMA's are not among them); optimizer.apply;
        3. after the optimizer step: ema_update(self.ema_denoiser.weights,
           self.denoiser.weights, self.ema_decay).
        """
        x0, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        x0 = tf.cast(x0, tf.float32)
        batch = tf.shape(x0)[0]
        # BEGIN SOLUTION random t and noise per example; label dropout; tape, loss, scale_loss, apply; then the EMA step
        t = keras.random.randint((batch,), 0, self.num_steps, dtype="int32", seed=self.noise)
        noise = keras.random.normal(tf.shape(x0), seed=self.noise)
        if self.num_classes:
            uniform = keras.random.uniform((batch,), seed=self.noise)
            labels = drop_labels(labels, uniform, self.label_dropout, self.null_label)

        def predict_noise(x_t, t):
            return self.run(self.denoiser, x_t, t, labels)

        with tf.GradientTape() as tape:
            loss = noise_prediction_loss(predict_noise, x0, t, noise, self.schedule.alpha_bars)
            scaled_loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        ema_update(self.ema_denoiser.weights, self.denoiser.weights, self.ema_decay)
        # END SOLUTION
        self.trackers.update(loss=loss)
        return self.trackers.results()

    def predict_noise(self, x_t, t, labels=None, guidance_weight=0.0, use_ema=True):
        """The noise prediction samplers use: the EMA network's, by default.

        Unconditional (labels None, or an unconditional model): network(x_t, t).
        Conditional with guidance_weight w > 0: guided_noise of the predictions with the
        labels and with the null label; with w = 0, the conditional prediction alone.
        x_t: (N, data_dim); t, labels: (N,) integers. Returns (N, data_dim) float32.
        """
        network = self.ema_denoiser if use_ema else self.denoiser
        # BEGIN SOLUTION unconditional, conditional, or guided_noise(conditional, unconditional (null labels), w)
        if not self.num_classes or labels is None:
            return self.run(network, x_t, t)
        conditional = self.run(network, x_t, t, labels)
        if guidance_weight == 0:
            return conditional
        unconditional = self.run(network, x_t, t, tf.fill(tf.shape(t), self.null_label))
        return guided_noise(conditional, unconditional, guidance_weight)
        # END SOLUTION

    def sample(self, n, labels=None, guidance_weight=0.0, method="ddpm", num_sample_steps=None,
               seed=None):
        """n samples (n, data_dim) from x_T ~ N(0, I), with the EMA weights.

        labels: None, one class for all, or (n,) classes; method: "ddpm" (ancestral, T steps)
        or "ddim" (deterministic, num_sample_steps steps, default T). The same integer seed
        gives the same samples.
        """
        generator = keras.random.SeedGenerator(seed)
        x_T = keras.random.normal((int(n), self.data_dim), seed=generator)
        if labels is not None:
            labels = tf.broadcast_to(tf.cast(labels, tf.int32), (int(n),))

        # One graph for the network calls of every step: eager Keras calls cost milliseconds.
        @tf.function
        def predict_noise(x_t, t):
            return self.predict_noise(x_t, t, labels, guidance_weight)

        if method == "ddim":
            return ddim_sample(predict_noise, x_T, self.schedule,
                               num_sample_steps or self.num_steps)
        if method != "ddpm":
            raise ValueError(f"method must be 'ddpm' or 'ddim', got {method!r}")
        return ddpm_sample(predict_noise, x_T, self.schedule, seed=generator)

    def get_config(self):
        """Everything __init__ needs to rebuild this model: the denoiser serialised with
        keras.saving.serialize_keras_object (from_config deserialises it), the other
        constructor arguments as they are."""
        config = super().get_config()
        # BEGIN SOLUTION add the serialised denoiser and data_dim, num_steps, schedule, num_classes, label_dropout, ema_decay
        config.update(denoiser=keras.saving.serialize_keras_object(self.denoiser),
                      data_dim=self.data_dim, num_steps=self.num_steps,
                      schedule=self.schedule_name, num_classes=self.num_classes,
                      label_dropout=self.label_dropout, ema_decay=self.ema_decay)
        return config
        # END SOLUTION

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["denoiser"] = keras.saving.deserialize_keras_object(config["denoiser"])
        return cls(**config)
