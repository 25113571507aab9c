"""Self-supervised and semi-supervised learning on 8x8 digits and procedural sequences.

Augmentations as Keras preprocessing layers, the NT-Xent loss and SimCLR, InfoNCE and CPC,
BYOL with an EMA target network, the Pi-model and the mean teacher, and a linear probe on
frozen features. Every model with a custom objective trains in its own `train_step`.

Shapes: images (N, 8, 8, 1) in [0, 1]; sequences (N, T, 1); embeddings (N, D).
"""
import keras
import numpy as np
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer


class SavedWithParts:
    """Mixin (given): get_config / from_config for a model built from other Keras objects.

    NESTED names the constructor arguments that are Keras objects (serialised with their own
    configs), SCALARS the plain ones; each is stored under the same attribute name."""

    NESTED: tuple = ()
    SCALARS: tuple = ()

    def get_config(self):
        config = super().get_config()
        config.update({name: keras.saving.serialize_keras_object(getattr(self, name))
                       for name in self.NESTED})
        config.update({name: getattr(self, name) for name in self.SCALARS})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls.NESTED:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


# ---- Augmentations -----------------------------------------------------------------------------

def make_augmenter(max_shift=0.125, contrast=0.4, brightness=0.2, noise_std=0.05, seed=0):
    """A keras.Sequential of random preprocessing layers for (N, 8, 8, 1) images in [0, 1].

    In order: a random translation by up to `max_shift` of the height and width (empty
    pixels filled with 0), a random contrast change (factor `contrast`), a random brightness
    change (factor `brightness`, value_range (0, 1)), Gaussian noise of std `noise_std`, and
    a clip back to [0, 1] (keras.layers.ReLU(max_value=1.0)). Each random layer gets its own
    seed (seed, seed + 1, ...). No flips: a mirrored 2 or 5 is not a digit. At inference
    (training=False) every layer is the identity.
    """
    # TODO: keras.Sequential([RandomTranslation(max_shift, max_shift, fill_mode="constant"),
    #       RandomContrast, RandomBrightness(value_range=(0, 1)), GaussianNoise,
    #       ReLU(max_value=1.0)]), seeds seed, seed + 1, ...
    raise NotImplementedError("fill in the TODO above")


def make_encoder(feature_dim=32, name="encoder"):
    """A small convolutional encoder (N, 8, 8, 1) -> (N, feature_dim), built. Given."""
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(feature_dim),
    ], name=name)


def make_head(hidden_units, output_dim, input_dim, name):
    """Dense(hidden_units, relu) -> Dense(output_dim), built for input_dim features. Given."""
    return keras.Sequential([keras.Input((input_dim,)),
                             keras.layers.Dense(hidden_units, activation="relu"),
                             keras.layers.Dense(output_dim)], name=name)


# ---- Contrastive losses ------------------------------------------------------------------------

def nt_xent_loss(z1, z2, temperature=0.5):
    """SimCLR's normalized-temperature cross-entropy, symmetric over both views.

    z1, z2: (N, D) projections of two views of the same N images (row i of z1 and row i of
    z2 are a positive pair). Stack them into 2N rows, L2-normalise each row, take the
    cosine similarities divided by `temperature`; for each of the 2N rows the positive is
    its other view and the 2N - 2 remaining rows are negatives (a row is never compared
    with itself). Returns the mean over the 2N rows of -log softmax(positive), a float32
    scalar.
    """
    # TODO: z = l2_normalize(concat([z1, z2])); logits = z z^T / t with the diagonal masked out
    #       (-1e9); row i < N has its positive at i + N, row i >= N at i - N; mean sparse softmax
    #       cross-entropy over the 2N rows
    raise NotImplementedError("fill in the TODO above")


def info_nce_loss(predictions, targets):
    """InfoNCE with the other rows as negatives.

    predictions, targets: (M, D). Row i of predictions scores every target by the dot
    product; its positive is target i, the M - 1 others are negatives. Returns the mean over
    rows of -log softmax(scores)[i], a float32 scalar (at most log M for a useless model
    whose scores are all equal).
    """
    # TODO: logits = predictions @ targets^T (float32); mean sparse softmax cross-entropy with label
    #       i for row i
    raise NotImplementedError("fill in the TODO above")


# ---- SimCLR -------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="lab17_self_supervised")
class SimCLR(SavedWithParts, OneOptimizer, keras.Model):
    """SimCLR: two augmented views of each image, encoder, projection head, NT-Xent.

    encoder: a built keras model (N, 8, 8, 1) -> (N, F); augmenter: a layer (make_augmenter).
    The projection head Dense(hidden, relu) -> Dense(projection_dim) is built here. fit(x)
    trains encoder and head; the encoder's output (not the projection) is the feature.
    """

    NESTED = ("encoder", "augmenter")
    SCALARS = ("projection_dim", "hidden_units", "temperature")

    def __init__(self, encoder, augmenter, projection_dim=32, hidden_units=64, temperature=0.5,
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.augmenter, self.temperature = encoder, augmenter, temperature
        self.projection_dim, self.hidden_units = projection_dim, hidden_units
        self.projector = make_head(hidden_units, projection_dim, encoder.output_shape[-1],
                                   "projector")
        self.trackers = LossTrackers("loss")

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, x, training=False):
        return self.projector(self.encoder(x, training=training), training=training)

    def train_step(self, data):
        """Two views per image (the augmenter called twice with training=True), the NT-Xent
        loss of their projections (nt_xent_loss, self.temperature), one optimizer step on the
        encoder and the head. Returns {"loss": mean so far}."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: view1, view2 = two calls of self.augmenter(x, training=True); inside a tape: z1, z2
        #       = self(view, training=True), loss = nt_xent_loss(z1, z2, self.temperature),
        #       scale_loss; gradients w.r.t. self.trainable_variables; optimizer.apply
        raise NotImplementedError("fill in the TODO above")
        self.trackers.update(loss=loss)
        return self.trackers.results()


# ---- CPC ------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="lab17_self_supervised")
class CPC(SavedWithParts, OneOptimizer, keras.Model):
    """Contrastive predictive coding on sequences (N, T, 1).

    encoder: Conv1D(latent_dim, 4, strides=2, relu) -> Conv1D(latent_dim, 1): z of (N, T/2, L);
    context: GRU(context_dim, return_sequences=True) over z: c of (N, T/2, C);
    predictors: one Dense(latent_dim, use_bias=False) W_k per step ahead k = 1..steps_ahead.
    """

    SCALARS = ("latent_dim", "context_dim", "steps_ahead")

    def __init__(self, latent_dim=16, context_dim=32, steps_ahead=3, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim, self.context_dim, self.steps_ahead = latent_dim, context_dim, steps_ahead
        self.encoder = keras.Sequential([
            keras.Input((None, 1)),
            keras.layers.Conv1D(latent_dim, 4, strides=2, padding="same", activation="relu"),
            keras.layers.Conv1D(latent_dim, 1)], name="cpc_encoder")
        self.context = keras.Sequential([keras.Input((None, latent_dim)),
                                         keras.layers.GRU(context_dim, return_sequences=True)],
                                        name="cpc_context")
        self.predictors = [keras.layers.Dense(latent_dim, use_bias=False, name=f"predict_{k}")
                           for k in range(1, steps_ahead + 1)]
        for predictor in self.predictors:
            predictor.build((None, context_dim))
        self.trackers = LossTrackers("loss")

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, x, training=False):
        """The context vectors c: (N, T/2, context_dim)."""
        return self.context(self.encoder(x, training=training), training=training)

    def features(self, x):
        """The last context vector of each sequence: (N, context_dim). Given."""
        return self(x)[:, -1]

    def cpc_loss(self, x):
        """The mean over k = 1..steps_ahead of info_nce_loss(W_k c_t, z_{t+k}), over every
        (sequence, t) with t + k inside the sequence, flattened into one batch of rows (the
        negatives are the other sequences and times)."""
        # TODO: z = encoder(x), c = context(z); for k: predictions = predictors[k-1](c[:, :-k]),
        #       targets = z[:, k:], both reshaped to (-1, latent_dim); info_nce_loss; mean over k
        raise NotImplementedError("fill in the TODO above")

    def train_step(self, data):
        """One optimizer step on cpc_loss(x). Returns {"loss": mean so far}."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: tape; loss = self.cpc_loss(x); scale_loss; gradients; optimizer.apply
        raise NotImplementedError("fill in the TODO above")
        self.trackers.update(loss=loss)
        return self.trackers.results()


# ---- BYOL -----------------------------------------------------------------------------------------

def byol_loss(predictions, targets):
    """BYOL's regression loss: 2 - 2 cos(prediction, target) per row, averaged over rows.

    predictions, targets: (N, D). Returns a float32 scalar in [0, 4]. It does not stop
    gradients: the caller decides what is a target."""
    # TODO: l2-normalise both (float32); mean over rows of 2 - 2 * sum(p * t, axis=-1)
    raise NotImplementedError("fill in the TODO above")


def ema_update(target_variables, online_variables, decay):
    """Move each target variable towards its online twin: t <- decay * t + (1 - decay) * o.

    decay close to 1 moves the target slowly (0.99: 1 % of the way per step)."""
    # TODO: for each pair: target.assign(decay * target + (1 - decay) * online)
    raise NotImplementedError("fill in the TODO above")


def copy_network(network, name):
    """A copy of a built keras network with its own weights, equal to the original's. Given."""
    twin = keras.models.clone_model(network)
    twin.build(network.input_shape)
    twin.set_weights(network.get_weights())
    twin.name = name
    return twin


@keras.saving.register_keras_serializable(package="lab17_self_supervised")
class BYOL(SavedWithParts, OneOptimizer, keras.Model):
    """BYOL: the online network (encoder, projector, predictor) predicts the target network's
    projection of the other view. The target (target_encoder, target_projector) starts as a
    copy of the online encoder and projector, gets no gradient, and follows the online
    network by ema_update after every step (rate `decay`)."""

    NESTED = ("encoder", "augmenter")
    SCALARS = ("projection_dim", "hidden_units", "decay")

    def __init__(self, encoder, augmenter, projection_dim=32, hidden_units=64, decay=0.99,
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.augmenter, self.decay = encoder, augmenter, decay
        self.projection_dim, self.hidden_units = projection_dim, hidden_units
        self.projector = make_head(hidden_units, projection_dim, encoder.output_shape[-1],
                                   "projector")
        self.predictor = make_head(hidden_units, projection_dim, projection_dim, "predictor")
        self.target_encoder = copy_network(encoder, "target_encoder")
        self.target_projector = copy_network(self.projector, "target_projector")
        self.target_encoder.trainable = False
        self.target_projector.trainable = False
        self.trackers = LossTrackers("loss")

    @property
    def metrics(self):
        return self.trackers.metrics

    @property
    def online_variables(self):
        """The online encoder's and projector's weights, in the order of target_variables."""
        return self.encoder.weights + self.projector.weights

    @property
    def target_variables(self):
        return self.target_encoder.weights + self.target_projector.weights

    def call(self, x, training=False):
        return self.predictor(self.projector(self.encoder(x, training=training)))

    def byol_objective(self, view1, view2):
        """byol_loss(online prediction of view1, target projection of view2) plus the same
        with the views swapped; the target projections pass through tf.stop_gradient."""
        # TODO: p_i = predictor(projector(encoder(view_i))); t_i = stop_gradient(
        #       target_projector(target_encoder(view_i))); byol_loss(p1, t2) + byol_loss(p2, t1)
        raise NotImplementedError("fill in the TODO above")

    def train_step(self, data):
        """Two augmented views; one optimizer step on byol_objective over the online weights
        (self.trainable_variables: the target is not trainable); then ema_update of the target
        towards the updated online network with self.decay. Returns {"loss": mean so far}."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: two augmenter calls (training=True); tape; loss = byol_objective; scale_loss;
        #       gradients w.r.t. self.trainable_variables; optimizer.apply; then
        #       ema_update(self.target_variables, self.online_variables, self.decay)
        raise NotImplementedError("fill in the TODO above")
        self.trackers.update(loss=loss)
        return self.trackers.results()


# ---- Semi-supervised: the Pi-model and the mean teacher ---------------------------------------

def sigmoid_rampup(step, ramp_steps):
    """exp(-5 (1 - t)^2) with t = clip(step / ramp_steps, 0, 1): from exp(-5) at step 0 to 1
    at ramp_steps and after (Laine & Aila). A float32 tensor; step may be a tensor."""
    # TODO: t = clip(step / ramp_steps, 0, 1) in float32; exp(-5 (1 - t)^2)
    raise NotImplementedError("fill in the TODO above")


def consistency_loss(probabilities, targets):
    """Mean over rows of the summed squared difference of two (N, C) class distributions."""
    # TODO: mean over rows of sum over classes of (p - q)^2 (float32)
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package="lab17_self_supervised")
class PiModel(SavedWithParts, OneOptimizer, keras.Model):
    """The Pi-model: cross-entropy on the few labelled images plus a ramped consistency term
    between two stochastic passes (augmentation) over every image.

    classifier: a built keras model (N, 8, 8, 1) -> (N, C) logits. fit(x, y) with y = -1 for
    the unlabelled images: every batch mixes labelled and unlabelled ones. The weight of the
    consistency term at optimizer step s is max_weight * sigmoid_rampup(s, ramp_steps).
    """

    NESTED = ("classifier", "augmenter")
    SCALARS = ("max_weight", "ramp_steps")

    def __init__(self, classifier, augmenter, max_weight=10.0, ramp_steps=100, **kwargs):
        super().__init__(**kwargs)
        self.classifier, self.augmenter = classifier, augmenter
        self.max_weight, self.ramp_steps = max_weight, ramp_steps
        self.trackers = LossTrackers("loss", "supervised", "consistency")

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def consistency_targets(self, x):
        """The class probabilities the student is pulled towards: for the Pi-model, a second
        stochastic pass of the classifier itself (augmenter(x, training=True)), which also
        gets gradients."""
        return tf.nn.softmax(tf.cast(self.classifier(self.augmenter(x, training=True),
                                                     training=True), tf.float32))

    def after_step(self):
        """Nothing for the Pi-model (the mean teacher updates its teacher here)."""

    def train_step(self, data):
        """First pass: logits = classifier(augmenter(x, training=True)); the supervised loss is
        the mean cross-entropy over the LABELLED rows of the batch (y >= 0; 0 when there are
        none); the consistency loss is consistency_loss(softmax(logits), consistency_targets(x))
        over every row; loss = supervised + max_weight * sigmoid_rampup(optimizer.iterations,
        ramp_steps) * consistency. One optimizer step, then self.after_step().
        Returns {"loss", "supervised", "consistency"} (the last unweighted)."""
        x, y = data
        # TODO: labelled = cast(y >= 0); weight from self.optimizer.iterations; in a tape: logits of
        #       the first augmented pass (float32), per-row sparse CE with maximum(y, 0), supervised
        #       = sum(labelled * ce) / maximum(sum(labelled), 1); consistency =
        #       consistency_loss(softmax(logits), self.consistency_targets(x)); loss = supervised +
        #       weight * consistency; scale_loss; gradients; apply; then self.after_step()
        raise NotImplementedError("fill in the TODO above")
        self.trackers.update(loss=loss, supervised=supervised, consistency=consistency)
        return self.trackers.results()


@keras.saving.register_keras_serializable(package="lab17_self_supervised")
class MeanTeacher(PiModel):
    """The mean teacher: the consistency target comes from a teacher, an EMA copy of the
    classifier (rate `decay`) that gets no gradient."""

    SCALARS = ("max_weight", "ramp_steps", "decay")

    def __init__(self, classifier, augmenter, decay=0.99, **kwargs):
        super().__init__(classifier, augmenter, **kwargs)
        self.decay = decay
        self.teacher = copy_network(classifier, "teacher")
        self.teacher.trainable = False

    def consistency_targets(self, x):
        """The teacher's class probabilities on its own augmented pass, without gradient."""
        # TODO: stop_gradient(softmax(teacher(augmenter(x, training=True), training=True)))
        raise NotImplementedError("fill in the TODO above")

    def after_step(self):
        """The teacher follows the classifier: ema_update with self.decay."""
        # TODO: ema_update(self.teacher.weights, self.classifier.weights, self.decay)
        raise NotImplementedError("fill in the TODO above")


# ---- Linear probe -----------------------------------------------------------------------------

def linear_probe_accuracy(encoder, x_train, y_train, x_test, y_test, num_classes=10,
                          epochs=200, learning_rate=0.05, seed=0):
    """Accuracy on (x_test, y_test) of a linear softmax classifier trained on the FROZEN
    features of `encoder` (numpy in, a float out).

    Features = encoder(x, training=False), standardised with the training features' mean and
    std (+1e-6); a keras Dense(num_classes) trained full-batch with Adam(learning_rate) for
    `epochs` steps on the sparse cross-entropy, seeded with keras.utils.set_random_seed(seed).
    The encoder's weights never change.
    """
    keras.utils.set_random_seed(seed)   # the probe's initial weights
    # TODO: features with training=False; standardise by the train mean / std; a Dense(num_classes)
    #       model compiled with Adam and sparse CE from logits, fit full batch for `epochs`;
    #       accuracy of argmax on the standardised test features
    raise NotImplementedError("fill in the TODO above")
