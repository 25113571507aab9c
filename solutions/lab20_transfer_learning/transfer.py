"""Lab 20: transfer learning and domain adaptation. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. a backbone           make_backbone (given), pretrained on a source task in the notebook
2. transfer             TransferClassifier.call (batch norm in inference mode), build_transfer_model
                        (feature extraction: frozen backbone; fine-tuning: unfrozen backbone),
                        transfer_learning_rate (a lower rate to fine-tune)
3. gradient reversal    gradient_reversal (tf.custom_gradient), GradientReversal (a layer)
4. MMD                  gaussian_kernel, mmd2 (the UNBIASED estimator of MMD^2)
5. DANN                 DANN.train_step: a label loss on the source, a domain loss through
                        gradient reversal on both domains, and an optional MMD term

Images are (N, 8, 8, 1) in [0, 1]; features (N, F); logits (N, C).
"""
import keras
import tensorflow as tf

# ---------------------------------------------------------------------------------------------
# 1-2. A backbone, feature extraction and fine-tuning
# ---------------------------------------------------------------------------------------------

def make_backbone(filters=(16, 32), name="backbone"):
    """A small CNN feature extractor: per entry of `filters`, Conv2D(3x3, same) -> batch norm
    -> ReLU, the second and later with stride 2; then global average pooling.
    Input (N, 8, 8, 1); output (N, filters[-1]) features. Given: do not edit."""
    layers = [keras.Input((8, 8, 1))]
    for index, width in enumerate(filters):
        layers += [keras.layers.Conv2D(width, 3, strides=1 if index == 0 else 2, padding="same",
                                       use_bias=False),
                   keras.layers.BatchNormalization(momentum=0.9),
                   keras.layers.ReLU()]
    layers.append(keras.layers.GlobalAveragePooling2D())
    return keras.Sequential(layers, name=name)


class TransferClassifier(keras.Model):
    """A new Dense head on a pretrained backbone: images (N, 8, 8, 1) -> logits (N, C).

    A subclassed model, not a functional one: in Keras 3, fit's training=True reaches a
    backbone nested in a functional model even when it was called with training=False."""

    def __init__(self, backbone, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.head = keras.layers.Dense(num_classes, name="head")

    def call(self, images, training=None):
        """The head's logits on the backbone's features. The backbone ALWAYS runs with
        training=False, whatever `training` is: its batch norm layers normalise with their
        moving statistics from pretraining and never update them."""
        # BEGIN SOLUTION self.head of self.backbone(images, training=False)
        return self.head(self.backbone(images, training=False))
        # END SOLUTION


def build_transfer_model(backbone, num_classes, *, fine_tune):
    """A TransferClassifier for a new task on a pretrained backbone, built (called once).

    fine_tune=False (feature extraction): the backbone is frozen (backbone.trainable = False)
    and only the new head trains.
    fine_tune=True: the backbone trains too (backbone.trainable = True)."""
    # BEGIN SOLUTION set backbone.trainable from fine_tune; model = TransferClassifier(backbone,
    #   num_classes); call it once on keras.ops.zeros((1, 8, 8, 1)) to build it; return it
    backbone.trainable = bool(fine_tune)
    model = TransferClassifier(backbone, num_classes,
                               name="fine_tuned" if fine_tune else "feature_extractor")
    model(keras.ops.zeros((1, 8, 8, 1)))
    return model
    # END SOLUTION


def transfer_learning_rate(base_rate, *, fine_tune, factor=0.1):
    """The learning rate to train a transfer model with: base_rate for feature extraction,
    base_rate * factor for fine-tuning (small steps keep the pretrained features)."""
    # BEGIN SOLUTION base_rate scaled by factor only when fine-tuning
    return base_rate * factor if fine_tune else base_rate
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 3. Gradient reversal
# ---------------------------------------------------------------------------------------------

def gradient_reversal(x, lambda_=1.0):
    """The gradient reversal of DANN (Ganin and Lempitsky, 2015): the identity on the way
    forward; on the way back, the incoming gradient times -lambda_.

    Write it with @tf.custom_gradient (an inner function of x returning (y, grad_fn)).
    x: a tensor of any shape; lambda_: a Python float or a scalar tensor.
    Returns a tensor equal to x."""
    # BEGIN SOLUTION an inner @tf.custom_gradient function of x that returns tf.identity(x)
    #   and a grad(upstream) returning -lambda_ * upstream (cast lambda_ to upstream's dtype)
    @tf.custom_gradient
    def reverse(inputs):
        def grad(upstream):
            return -tf.cast(lambda_, upstream.dtype) * upstream
        return tf.identity(inputs), grad
    return reverse(x)
    # END SOLUTION


class GradientReversal(keras.layers.Layer):
    """gradient_reversal as a layer, with a settable strength `lambda_` (a non-trainable
    variable, so a schedule can raise it during training without retracing). Given."""

    def __init__(self, lambda_=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_lambda = float(lambda_)
        self.lambda_ = self.add_weight(shape=(), initializer=keras.initializers.Constant(
            self.initial_lambda), trainable=False, name="lambda", dtype="float32")

    def call(self, x):
        return gradient_reversal(x, self.lambda_)

    def get_config(self):
        return {**super().get_config(), "lambda_": self.initial_lambda}


# ---------------------------------------------------------------------------------------------
# 4. Maximum mean discrepancy
# ---------------------------------------------------------------------------------------------

def gaussian_kernel(x, y, bandwidths=(1.0,)):
    """The Gaussian kernel matrix, averaged over bandwidths:
    k(x_i, y_j) = mean over s in bandwidths of exp(-|x_i - y_j|^2 / (2 s^2)).

    x: (N, F), y: (M, F). Returns (N, M)."""
    # BEGIN SOLUTION squared distances |x_i|^2 + |y_j|^2 - 2 x_i.y_j (clip at 0), then the mean
    #   over the bandwidths of exp(-d2 / (2 s^2))
    x = tf.convert_to_tensor(x)
    y = tf.cast(tf.convert_to_tensor(y), x.dtype)
    d2 = (tf.reduce_sum(x * x, axis=1)[:, None] + tf.reduce_sum(y * y, axis=1)[None, :]
          - 2.0 * tf.matmul(x, y, transpose_b=True))
    d2 = tf.maximum(d2, 0.0)
    kernels = [tf.exp(-d2 / (2.0 * float(s) ** 2)) for s in bandwidths]
    return tf.add_n(kernels) / float(len(kernels))
    # END SOLUTION


def mmd2(x, y, bandwidths=(1.0,)):
    """The UNBIASED estimate of the squared MMD between the samples x (N, F) and y (M, F):

        mean_{i != i'} k(x_i, x_i') + mean_{j != j'} k(y_j, y_j') - 2 mean_{i, j} k(x_i, y_j)

    (the diagonal terms k(x_i, x_i) = 1 left out of the first two means). Returns a scalar;
    it can be slightly negative when the two samples come from one distribution."""
    # BEGIN SOLUTION three gaussian_kernel matrices; for k_xx and k_yy, subtract the trace and
    #   divide by n (n - 1); the cross term's plain mean times 2
    n = tf.cast(tf.shape(x)[0], x.dtype)
    m = tf.cast(tf.shape(y)[0], x.dtype)
    k_xx = gaussian_kernel(x, x, bandwidths)
    k_yy = gaussian_kernel(y, y, bandwidths)
    k_xy = gaussian_kernel(x, y, bandwidths)
    xx = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * (n - 1.0))
    yy = (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (m * (m - 1.0))
    return xx + yy - 2.0 * tf.reduce_mean(k_xy)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 5. Domain-adversarial training
# ---------------------------------------------------------------------------------------------

class DANN(keras.Model):
    """Domain-adversarial neural network: a backbone shared by a label classifier (trained on
    the labelled source domain) and a domain classifier (source 0, target 1) that sees the
    features through a gradient reversal layer, so the backbone learns features the domain
    classifier cannot tell apart.

    fit(x, y): x (N, 2, 8, 8, 1) pairs, x[:, 0] a source image and x[:, 1] a target image
    (dlkit.data.paired_domains); y (N,) the source labels. The target labels are never seen.
    train_step runs the backbone ONCE on the source rows followed by the target rows, so
    batch norm normalises the two domains together.
    lambda_=0 and mmd_weight=0 train the source-only baseline with the same networks.
    call(images) returns the label logits."""

    def __init__(self, num_classes=10, filters=(16, 32), hidden=32, lambda_=1.0,
                 mmd_weight=0.0, bandwidths=(1.0, 2.0, 4.0), **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.filters, self.hidden = num_classes, tuple(filters), hidden
        self.mmd_weight, self.bandwidths = float(mmd_weight), tuple(bandwidths)
        self.backbone = make_backbone(self.filters)
        self.label_head = keras.layers.Dense(num_classes, name="label_head")
        self.reversal = GradientReversal(lambda_, name="reversal")
        self.domain_head = keras.Sequential([
            keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(1)],
            name="domain_head")
        self.class_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.domain_loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.class_tracker = keras.metrics.Mean(name="class_loss")
        self.domain_tracker = keras.metrics.Mean(name="domain_loss")
        self.mmd_tracker = keras.metrics.Mean(name="mmd")
        # Built here: fit never builds a model whose train_step is overridden.
        features = self.backbone(keras.ops.zeros((1, 8, 8, 1)))
        self.label_head(features)
        self.domain_head(features)

    @property
    def metrics(self):
        return [self.loss_tracker, self.class_tracker, self.domain_tracker, self.mmd_tracker]

    def call(self, images, training=False):
        return self.label_head(self.backbone(images, training=training))

    def domain_logits(self, features):
        """The domain classifier's logits (N, 1) on features seen through the reversal."""
        return self.domain_head(self.reversal(features))

    def train_step(self, data):
        x, y = data[0], data[1]
        source, target = x[:, 0], x[:, 1]
        # BEGIN SOLUTION in the tape: features = self.backbone(concat([source, target]),
        #   training=True), ONE call, so batch norm sees both domains; class loss on the source
        #   rows' logits; domain logits of the concatenated features
        #   (self.domain_logits) against zeros for source, ones for target; plus mmd_weight *
        #   mmd2(source features, target features, self.bandwidths) when mmd_weight > 0;
        #   loss = class + domain (+ mmd); scale_loss, gradient over trainable_variables,
        #   optimizer.apply; update the four trackers (mmd tracks 0.0 when it is off)
        batch = tf.shape(source)[0]
        with tf.GradientTape() as tape:
            features = self.backbone(tf.concat([source, target], axis=0), training=True)
            source_features, target_features = features[:batch], features[batch:]
            logits = self.label_head(source_features)
            class_loss = self.class_loss_fn(y, logits)
            domains = tf.concat([tf.zeros((batch, 1)), tf.ones((batch, 1))], axis=0)
            domain_loss = self.domain_loss_fn(domains, self.domain_logits(features))
            loss = class_loss + domain_loss
            mmd = tf.constant(0.0)
            if self.mmd_weight > 0:
                mmd = mmd2(tf.cast(source_features, "float32"),
                           tf.cast(target_features, "float32"), self.bandwidths)
                loss = loss + self.mmd_weight * mmd
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.class_tracker.update_state(class_loss)
        self.domain_tracker.update_state(domain_loss)
        self.mmd_tracker.update_state(mmd)
        # END SOLUTION
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "filters": list(self.filters), "hidden": self.hidden,
                "lambda_": self.reversal.initial_lambda, "mmd_weight": self.mmd_weight,
                "bandwidths": list(self.bandwidths)}


def target_accuracy(model, x, y, batch_size=256):
    """The fraction of x that model (images -> logits) labels y. Given."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float((logits.argmax(axis=-1) == y).mean())
