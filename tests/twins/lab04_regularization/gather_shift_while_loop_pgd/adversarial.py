"""Lab 04, part 5: adversarial examples and adversarial training. Fill in the TODOs.

An adversarial example is an input x_adv inside a small L-infinity ball around a real
input x (every pixel moved by at most epsilon) that a fixed classifier gets wrong. We find
one by gradient ASCENT on the classifier's loss, with respect to the input:

    FGSM (one step):   x_adv = clip(x + epsilon * sign(grad_x loss(x, y)), lo, hi)
    PGD  (iterated):   x_0 = x (or x + uniform noise in the ball), then `steps` times
                       x_{k+1} = clip(project(x_k + step_size * sign(grad_x loss(x_k, y))), lo, hi)
                       with project(z) = clip(z, x - epsilon, x + epsilon)

Adversarial training (Madry et al.) trains the classifier on PGD examples of each batch
instead of the batch itself: min over weights of the max over the ball of the loss.

Shapes: x (N, D) inputs in [clip_min, clip_max] (8x8 digits: D = 64, range [0, 1]);
y (N,) integer labels; a classifier maps (N, D) inputs to (N, C) logits.
Every function here works eagerly and inside a compiled train_step (TensorFlow ops only).
"""
import keras
import tensorflow as tf

PACKAGE = "dlkit_lab04_regularization"


def per_example_loss(classifier, x, y):
    """Softmax cross-entropy of the classifier's logits, per example, in float32.

    x: (N, D); y: (N,) ints. Returns loss: (N,).
    """
    # float32 even when the classifier computes in float16 (mixed precision).
    logits = keras.ops.cast(classifier(x, training=False), "float32")
    return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


def input_gradient(classifier, x, y):
    """The gradient of the summed loss with respect to the INPUT x (the weights stay fixed).

    x: (N, D); y: (N,). Returns grad: (N, D), row n is d loss_n / d x_n.
    """
    x = tf.convert_to_tensor(x, dtype="float32")
    tape = tf.GradientTape(watch_accessed_variables=False)
    with tape:
        tape.watch(x)
        total = keras.ops.sum(per_example_loss(classifier, x, y))
    return tape.gradient(total, x)


def fgsm(classifier, x, y, epsilon, clip_min=0.0, clip_max=1.0):
    """The fast gradient sign method: one step of size epsilon up the loss, per pixel.

    x: (N, D) in [clip_min, clip_max]; y: (N,). Returns x_adv: (N, D), with
    |x_adv - x| <= epsilon everywhere and every value in [clip_min, clip_max].
    """
    x = tf.convert_to_tensor(x, dtype="float32")
    direction = keras.ops.sign(input_gradient(classifier, x, y))
    return keras.ops.clip(x + epsilon * direction, clip_min, clip_max)


def project_linf(x_adv, x, epsilon):
    """The nearest point to x_adv in the L-infinity ball of radius epsilon around x:
    each coordinate clipped to [x - epsilon, x + epsilon].

    x_adv, x: (N, D). Returns (N, D).
    """
    return tf.minimum(tf.maximum(x_adv, x - epsilon), x + epsilon)


def pgd(classifier, x, y, epsilon, step_size, steps, clip_min=0.0, clip_max=1.0,
        random_start=False, seed=None):
    """Projected gradient descent on the loss (ascent, really): `steps` signed gradient
    steps of size step_size, each followed by the projection onto the epsilon-ball around
    x and a clip to the data range.

    With random_start, start from x + uniform(-epsilon, epsilon) noise (clipped to the data
    range) instead of x; draw it with keras.random.uniform(..., seed=seed), where seed is an
    int or a keras.random.SeedGenerator. steps is a Python int (the loop is unrolled).

    x: (N, D) in [clip_min, clip_max]; y: (N,). Returns x_adv: (N, D) in the ball and range.
    """
    x = tf.convert_to_tensor(x, dtype="float32")
    x_adv = x
    if random_start:
        noise = keras.random.uniform(tf.shape(x), -epsilon, epsilon, seed=seed)
        x_adv = tf.clip_by_value(x + noise, clip_min, clip_max)
    step = 0
    while step < steps:   # steps is a Python int: this unrolls
        gradient = input_gradient(classifier, x_adv, y)
        x_adv = project_linf(x_adv + step_size * tf.sign(gradient), x, epsilon)
        x_adv = tf.minimum(tf.maximum(x_adv, clip_min), clip_max)
        step += 1
    # The attack is a fixed input to whatever comes next, not part of its graph.
    return tf.stop_gradient(x_adv)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdversarialTraining(keras.Model):
    """Madry-style adversarial training of any classifier (a keras.Model, x -> logits).

    Each train_step replaces the batch by its PGD examples (random start, from the model's
    own seed generator) and takes one optimizer step on the cross-entropy of the classifier
    on them. fit((x, y)) logs "loss" (the adversarial cross-entropy) and "accuracy" (on the
    adversarial examples). call(x) is the classifier's logits on clean x.
    """

    def __init__(self, classifier, epsilon=0.1, step_size=0.04, steps=3, clip_min=0.0,
                 clip_max=1.0, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.epsilon = float(epsilon)
        self.step_size = float(step_size)
        self.steps = int(steps)
        self.clip_min = float(clip_min)
        self.clip_max = float(clip_max)
        self.start_noise = keras.random.SeedGenerator(0)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.built = classifier.built

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def attack(self, x, y):
        """PGD examples of the batch, with this model's budget and a random start."""
        return pgd(self.classifier, x, y, self.epsilon, self.step_size, self.steps,
                   self.clip_min, self.clip_max, random_start=True, seed=self.start_noise)

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.attack(x, y)
        cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        with tf.GradientTape() as tape:
            logits = tf.cast(self(x_adv, training=True), tf.float32)
            loss = cross_entropy(y, logits)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        """Clean loss and accuracy (evaluate): the attack is the checks' business."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = keras.ops.cast(self.classifier(x, training=False), "float32")
        self.loss_tracker.update_state(tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))
        self.accuracy_tracker.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "step_size": self.step_size,
                "steps": self.steps, "clip_min": self.clip_min, "clip_max": self.clip_max,
                "classifier": keras.saving.serialize_keras_object(self.classifier)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(config["classifier"])
        return cls(**config)


def make_mlp(input_dim=64, hidden_units=(64,), num_classes=10, dropout_rate=0.0):
    """The lab's classifier: Dense-ReLU layers, then logits. Given code."""
    layers = [keras.Input((input_dim,))]
    for units in hidden_units:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dropout_rate:
            layers.append(keras.layers.Dropout(dropout_rate))
    layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers)
