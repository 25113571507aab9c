"""Lab 9, part 2: networks on sets and point clouds. Fill in the parts marked TODO.

1. Deep Sets                      DeepSets.call
2. PointNet's input transform     orthogonality_loss, TNet.call
3. PointNet classification        PointNetClassifier.call, classification_loss, train_step
4. PointNet part segmentation     PointNetSegmenter.call, part_mean_iou
5. Attention pooling              PoolingByMultiheadAttention.call (Set Transformer's PMA)

Shapes: B clouds (sets) in a batch, N points (elements) per cloud, C features per point,
k the size of a T-Net's transform, L classes, P part labels. A network on a set must not
care about the order of its elements: a classifier is permutation INVARIANT (shuffling the
points leaves its output unchanged), a segmenter permutation EQUIVARIANT (shuffling the
points shuffles its per-point outputs the same way).

Every per-point layer here is a keras.layers.Dense applied to (B, N, C): Dense acts on the
last axis, so it is one MLP shared by every point (PointNet's "1x1 convolution").
"""
import keras
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer

PACKAGE = "dlkit_lab09_point_clouds"


def shared_mlp(widths, name, activation="relu"):
    """Dense layers of the given widths, each applied to every point alike."""
    return [keras.layers.Dense(w, activation=activation, name=f"{name}{i}")
            for i, w in enumerate(widths)]


def run(layers, x):
    for layer in layers:
        x = layer(x)
    return x


# ---------------------------------------------------------------------------------------------
# 1. Deep Sets
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class DeepSets(keras.layers.Layer):
    """Deep Sets (Zaheer et al., 2017): every permutation-invariant function of a set can be
    written f(X) = rho(sum_{x in X} phi(x)).

    phi: a shared MLP (self.phi, ReLU Dense layers of widths phi_units) applied to every
    element; rho: an MLP (self.rho, ReLU Dense layers of widths rho_units, then a linear
    Dense(output_dim)) applied to the SUM of the phi outputs.
    call(x (B, N, C)) returns (B, output_dim).
    """

    def __init__(self, output_dim, phi_units=(32, 32), rho_units=(32,), **kwargs):
        super().__init__(**kwargs)
        self.output_dim = output_dim
        self.phi_units, self.rho_units = tuple(phi_units), tuple(rho_units)
        self.phi = shared_mlp(self.phi_units, "phi")
        self.rho = shared_mlp(self.rho_units, "rho") + [
            keras.layers.Dense(output_dim, name="rho_output")]

    def build(self, input_shape):
        shape = input_shape
        for layer in self.phi:
            layer.build(shape)
            shape = (*shape[:-1], layer.units)
        shape = (shape[0], shape[-1])
        for layer in self.rho:
            layer.build(shape)
            shape = (shape[0], layer.units)

    def call(self, x):
        h = run(self.phi, x)
        return run(self.rho, tf.reduce_sum(h, axis=1))

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim,
                "phi_units": list(self.phi_units), "rho_units": list(self.rho_units)}


# ---------------------------------------------------------------------------------------------
# 2. The T-Net and its orthogonality regulariser
# ---------------------------------------------------------------------------------------------

def orthogonality_loss(transform):
    """PointNet's regulariser, keeping each k x k transform A close to orthogonal (a rotation
    or reflection, which loses no information):

        L = mean over the batch of || I - A A^T ||_F^2       (the SQUARED Frobenius norm)

    transform: (B, k, k). Returns a float32 scalar; 0 exactly when every A is orthogonal.
    """
    transform = tf.cast(transform, tf.float32)
    k = tf.shape(transform)[-1]
    gram = tf.matmul(transform, transform, transpose_b=True)
    residual = tf.eye(k) - gram
    return tf.reduce_mean(tf.reduce_sum(tf.square(residual), axis=[1, 2]))


@keras.saving.register_keras_serializable(package=PACKAGE)
class TNet(keras.layers.Layer):
    """PointNet's T-Net: a small PointNet that predicts a k x k transform of its input cloud.

        features = max over the points of shared_mlp(x)       (B, widths[-1])
        A = I + reshape(transform_dense(head(features)), (k, k))

    Sublayers (given): self.shared (per-point Dense layers), self.head (Dense layers on the
    pooled feature), self.transform_dense (Dense(k * k), zeros-initialised: a fresh T-Net is
    the identity). call(x (B, N, k)) returns A (B, k, k), float32.
    """

    def __init__(self, k, widths=(32, 64), head_units=(32,), **kwargs):
        super().__init__(**kwargs)
        self.k, self.widths, self.head_units = k, tuple(widths), tuple(head_units)
        self.shared = shared_mlp(self.widths, "tnet_shared")
        self.head = shared_mlp(self.head_units, "tnet_head")
        self.transform_dense = keras.layers.Dense(k * k, kernel_initializer="zeros",
                                                  bias_initializer="zeros", name="transform")

    def build(self, input_shape):
        shape = input_shape
        for layer in self.shared:
            layer.build(shape)
            shape = (*shape[:-1], layer.units)
        shape = (shape[0], shape[-1])
        for layer in self.head + [self.transform_dense]:
            layer.build(shape)
            shape = (shape[0], layer.units)

    def call(self, x):
        features = tf.reduce_max(run(self.shared, x), axis=1)
        flat = self.transform_dense(run(self.head, features))
        batch = tf.shape(x)[0]
        transform = tf.cast(tf.reshape(flat, (batch, self.k, self.k)), tf.float32)
        return transform + tf.eye(self.k)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "widths": list(self.widths),
                "head_units": list(self.head_units)}


# ---------------------------------------------------------------------------------------------
# 3. PointNet classification
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class PointNetClassifier(OneOptimizer, keras.Model):
    """PointNet (Qi et al., 2017) for classifying clouds:

        A = input_transform(points)                      (B, 3, 3), a TNet(3)
        aligned = points @ A                             (B, N, 3): each point times A
        features = max over the points of shared(aligned)    (B, widths[-1])
        logits = head(features)                          (B, num_classes)

    Sublayers (given): self.input_transform (TNet(3)), self.shared (per-point ReLU Dense
    layers), self.head (ReLU Dense layers, then Dense(num_classes)).
    call(points (B, N, 3), return_transform=False) returns logits, float32 (B, num_classes),
    and with return_transform also A.

    fit(points, labels) trains with its own train_step, which minimises
    self.classification_loss(points, labels) (call it: do not write the loss again there):
        loss = mean cross-entropy(labels, logits) + regularizer_weight * orthogonality_loss(A)
    and logs "loss" (that total) and "accuracy".
    """

    def __init__(self, num_classes, widths=(32, 64), head_units=(32,),
                 regularizer_weight=1e-3, num_points=64, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.widths = num_classes, tuple(widths)
        self.head_units, self.regularizer_weight = tuple(head_units), regularizer_weight
        self.num_points = num_points
        self.input_transform = TNet(3, name="input_transform")
        self.shared = shared_mlp(self.widths, "shared")
        self.head = shared_mlp(self.head_units, "head") + [
            keras.layers.Dense(num_classes, name="logits")]
        self.trackers = LossTrackers("loss", "accuracy")
        # fit() never calls a model whose train_step is overridden: build it here.
        self(tf.zeros((1, num_points, 3)))

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, points, return_transform=False):
        transform = self.input_transform(points)
        aligned = tf.matmul(points, tf.cast(transform, points.dtype))
        features = tf.reduce_max(run(self.shared, aligned), axis=1)
        logits = tf.cast(run(self.head, features), tf.float32)
        if return_transform:
            return logits, transform
        return logits

    def classification_loss(self, points, labels):
        """(loss, accuracy) of a batch: loss = mean sparse cross-entropy of the logits +
        regularizer_weight * orthogonality_loss(A); accuracy = mean of argmax == label.
        Both float32 scalars."""
        logits, transform = self(points, return_transform=True)
        labels = tf.cast(labels, tf.int32)
        cross_entropy = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True))
        loss = cross_entropy + self.regularizer_weight * orthogonality_loss(transform)
        predicted = tf.cast(tf.argmax(logits, axis=-1), tf.int32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, tf.reshape(labels, tf.shape(predicted))),
                                          tf.float32))
        return loss, accuracy

    def train_step(self, data):
        points, labels = data[0], data[1]
        with tf.GradientTape() as tape:
            loss, accuracy = self.classification_loss(points, labels)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.trackers.update(loss=loss, accuracy=accuracy)
        return self.trackers.results()

    def test_step(self, data):
        loss, accuracy = self.classification_loss(data[0], data[1])
        self.trackers.update(loss=loss, accuracy=accuracy)
        return self.trackers.results()

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "widths": list(self.widths), "head_units": list(self.head_units),
                "regularizer_weight": self.regularizer_weight, "num_points": self.num_points}


# ---------------------------------------------------------------------------------------------
# 4. PointNet part segmentation
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class PointNetSegmenter(keras.Model):
    """PointNet for part segmentation: one label per point, from the point's own feature AND
    the cloud's global feature (a point on a flat disc is a cap of a cylinder or the base of
    a cone: only the whole cloud tells).

        local = shared(points)                                   (B, N, widths[-1])
        global = max over the points of local                    (B, widths[-1])
        logits = point_head(concat([local, global copied to every point]))   (B, N, P)

    Sublayers (given): self.shared, self.point_head (per-point ReLU Dense layers, then
    Dense(num_parts)). No T-Net here (the clouds are only rotated about the up axis).
    call(points (B, N, 3)) returns float32 logits (B, N, num_parts). Trained with the
    ordinary compile(loss=sparse cross-entropy from logits) and fit(points, parts).
    """

    def __init__(self, num_parts, widths=(32, 64), head_units=(64, 32), **kwargs):
        super().__init__(**kwargs)
        self.num_parts, self.widths, self.head_units = num_parts, tuple(widths), tuple(head_units)
        self.shared = shared_mlp(self.widths, "shared")
        self.point_head = shared_mlp(self.head_units, "point_head") + [
            keras.layers.Dense(num_parts, name="part_logits")]

    def call(self, points):
        local = run(self.shared, points)
        global_feature = tf.reduce_max(local, axis=1, keepdims=True)
        tiled = tf.tile(global_feature, [1, tf.shape(points)[1], 1])
        logits = run(self.point_head, tf.concat([local, tiled], axis=-1))
        return tf.cast(logits, tf.float32)

    def get_config(self):
        return {**super().get_config(), "num_parts": self.num_parts,
                "widths": list(self.widths), "head_units": list(self.head_units)}


def part_mean_iou(labels, predictions):
    """Mean intersection over union of part labels, over every point of every cloud given:

        IoU_p = |{label = p} & {prediction = p}| / |{label = p} | {prediction = p}|

    averaged over the parts p that occur in the labels or in the predictions (a part neither
    has is left out, not counted as 0 or 1). labels, predictions: int arrays of one shape,
    e.g. (B, N). Returns a Python float in [0, 1].
    """
    import numpy as np
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    ious = []
    for part in np.union1d(labels, predictions):
        truth, guess = labels == part, predictions == part
        ious.append(np.sum(truth & guess) / np.sum(truth | guess))
    return float(np.mean(ious))


# ---------------------------------------------------------------------------------------------
# 5. Attention pooling (Set Transformer)
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class PoolingByMultiheadAttention(keras.layers.Layer):
    """Set Transformer's PMA (Lee et al., 2019): num_seeds learned seed vectors attend to the
    set, so the set is summarised by what the seeds ask of it (a learned, weighted pooling
    instead of a sum or max):

        S = seeds tiled over the batch                    (B, num_seeds, D)
        H = S + attention(query=S, value=x, key=x)        (B, num_seeds, D)
        out = H + feed_forward(H)

    Sublayers (given): self.attention (keras.layers.MultiHeadAttention, output width D),
    self.feed_forward (a ReLU Dense(D)); build creates self.seeds (num_seeds, D).
    call(x (B, N, D)) returns (B, num_seeds, D). Invariant to the order of the N elements.
    """

    def __init__(self, num_seeds=1, num_heads=2, key_dim=8, **kwargs):
        super().__init__(**kwargs)
        self.num_seeds, self.num_heads, self.key_dim = num_seeds, num_heads, key_dim
        self.attention = keras.layers.MultiHeadAttention(num_heads, key_dim, name="attention")

    def build(self, input_shape):
        width = input_shape[-1]
        self.seeds = self.add_weight(shape=(self.num_seeds, width), name="seeds",
                                     initializer=keras.initializers.RandomNormal(stddev=0.5))
        seeds_shape = (input_shape[0], self.num_seeds, width)
        self.attention.build(seeds_shape, input_shape, input_shape)
        self.feed_forward = keras.layers.Dense(width, activation="relu", name="feed_forward")
        self.feed_forward.build(seeds_shape)

    def call(self, x):
        batch = tf.shape(x)[0]
        seeds = tf.tile(tf.cast(self.seeds, x.dtype)[None], [batch, 1, 1])
        h = seeds + self.attention(seeds, x, x)
        return h + self.feed_forward(h)

    def get_config(self):
        return {**super().get_config(), "num_seeds": self.num_seeds,
                "num_heads": self.num_heads, "key_dim": self.key_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SetTransformerClassifier(keras.Model):
    """A cloud classifier that pools by attention: a per-point encoder (ReLU Dense layers of
    widths), PMA with one seed, then Dense(num_classes). Trained with compile/fit."""

    def __init__(self, num_classes, widths=(32, 32), num_heads=2, key_dim=8, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.widths = num_classes, tuple(widths)
        self.num_heads, self.key_dim = num_heads, key_dim
        self.encoder = shared_mlp(self.widths, "encoder")
        self.pooling = PoolingByMultiheadAttention(1, num_heads, key_dim, name="pma")
        self.classifier = keras.layers.Dense(num_classes, name="logits")

    def call(self, points):
        pooled = self.pooling(run(self.encoder, points))[:, 0]
        return tf.cast(self.classifier(pooled), tf.float32)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "widths": list(self.widths), "num_heads": self.num_heads,
                "key_dim": self.key_dim}
