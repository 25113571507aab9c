"""Lab 25: model compression. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. modern blocks        swish, mish, SqueezeExcite.call
2. distillation         distillation_loss (T^2 KL of softened distributions), Distiller.train_step
                        (a frozen teacher, soft and hard losses)
3. pruning              polynomial_sparsity, magnitude_mask, MagnitudePruning (a callback that
                        masks kernels after every step), rewind_to_initial (the lottery ticket)
4. int8 quantisation    quantize_per_channel, dequantize (symmetric, one scale per output
                        channel, as Keras's own model.quantize("int8"))
5. fake quantisation    fake_quant (forward of tf.quantization.fake_quant_with_min_max_vars,
                        straight-through gradient)
6. low rank             low_rank_factors (truncated SVD), factorize_dense

Images are (N, 8, 8, 1) or flat (N, 64) in [0, 1]; logits (N, C); kernels (inputs, outputs).
"""
import keras
import numpy as np
import tensorflow as tf

# ---------------------------------------------------------------------------------------------
# 1. Modern blocks
# ---------------------------------------------------------------------------------------------


def swish(x, beta=1.0):
    """Swish: x * sigmoid(beta * x) (beta = 1 is SiLU). x: a tensor of any shape."""
    x = keras.ops.convert_to_tensor(x)
    beta = keras.ops.cast(beta, x.dtype)
    return x * keras.ops.sigmoid(beta * x)


def mish(x):
    """Mish: x * tanh(softplus(x)), softplus(x) = log(1 + exp(x)). x: any shape."""
    x = keras.ops.convert_to_tensor(x)
    return x * keras.ops.tanh(keras.ops.softplus(x))


class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-excitation (Hu et al., 2018) on feature maps (N, H, W, C): squeeze each
    channel to its spatial mean (N, C), excite through Dense(C // ratio, relu) and
    Dense(C, sigmoid) into gates in (0, 1), and scale each channel of the input by its gate.
    The two Dense layers are built here (given); call is yours."""

    def __init__(self, ratio=4, **kwargs):
        super().__init__(**kwargs)
        self.ratio = int(ratio)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.reduce = keras.layers.Dense(max(1, channels // self.ratio), activation="relu",
                                         name="reduce")
        self.expand = keras.layers.Dense(channels, activation="sigmoid", name="expand")
        self.reduce.build((None, channels))
        self.expand.build((None, max(1, channels // self.ratio)))

    def call(self, x):
        squeezed = keras.ops.mean(x, axis=(1, 2), keepdims=True)  # (N, 1, 1, C)
        gates = self.expand(self.reduce(squeezed))                # Dense acts on the last axis
        return keras.ops.multiply(x, gates)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


# ---------------------------------------------------------------------------------------------
# 2. Knowledge distillation
# ---------------------------------------------------------------------------------------------


def distillation_loss(teacher_logits, student_logits, temperature):
    """Hinton et al.'s soft-target loss: T^2 * KL(p_T || q_T), averaged over the batch, where
    p_T = softmax(teacher_logits / T) and q_T = softmax(student_logits / T).

    teacher_logits, student_logits: (N, C). Returns a scalar. The T^2 keeps the soft term's
    gradients on the scale of the hard loss's as T changes."""
    temperature = float(temperature)
    zt = keras.ops.cast(teacher_logits, "float32") / temperature
    zs = keras.ops.cast(student_logits, "float32") / temperature
    log_p = zt - keras.ops.logsumexp(zt, axis=-1, keepdims=True)
    log_q = zs - keras.ops.logsumexp(zs, axis=-1, keepdims=True)
    p = keras.ops.softmax(zt, axis=-1)
    # KL = cross-entropy(p, q) - entropy(p)
    cross = -keras.ops.sum(p * log_q, axis=-1)
    entropy = -keras.ops.sum(p * log_p, axis=-1)
    return temperature ** 2 * keras.ops.mean(cross - entropy)


class Distiller(keras.Model):
    """A student network trained on a frozen teacher's soft targets and the true labels:

        loss = alpha * crossentropy(y, student logits)
               + (1 - alpha) * distillation_loss(teacher logits, student logits, T)

    student, teacher: models mapping inputs to logits (N, C). The teacher never trains: it runs
    in inference mode (training=False), outside the tape, and only the student's trainable
    variables get gradients. alpha = 1 trains the student alone on the labels.
    fit(x, y): y (N,) integer labels. call(x) returns the student's logits."""

    def __init__(self, student, teacher, temperature=4.0, alpha=0.1, **kwargs):
        super().__init__(**kwargs)
        self.student, self.teacher = student, teacher
        self.temperature, self.alpha = float(temperature), float(alpha)
        self.teacher.trainable = False
        self.hard_loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.hard_tracker = keras.metrics.Mean(name="hard_loss")
        self.soft_tracker = keras.metrics.Mean(name="soft_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.hard_tracker, self.soft_tracker]

    def call(self, x, training=False):
        return self.student(x, training=training)

    def train_step(self, data):
        x, y = data[0], data[1]
        teacher_logits = tf.stop_gradient(self.teacher(x, training=False))
        student_vars = self.student.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.student(x, training=True)
            hard_loss = self.hard_loss_fn(y, logits)
            soft_loss = distillation_loss(teacher_logits, logits, self.temperature)
            total = self.alpha * hard_loss + (1.0 - self.alpha) * soft_loss
            scaled_total = self.optimizer.scale_loss(total)
        gradients = tape.gradient(scaled_total, student_vars)
        self.optimizer.apply_gradients(zip(gradients, student_vars))
        for tracker, value in ((self.loss_tracker, total), (self.hard_tracker, hard_loss),
                               (self.soft_tracker, soft_loss)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}


def make_mlp(hidden, num_classes=10, inputs=64, name="mlp"):
    """An MLP on flat inputs: a Dense(h, relu) per entry of hidden, then Dense(num_classes)
    logits. Given: the teacher and the student of the lab."""
    layers = [keras.Input((inputs,))]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(num_classes))
    return keras.Sequential(layers, name=name)


# ---------------------------------------------------------------------------------------------
# 3. Magnitude pruning and the lottery ticket
# ---------------------------------------------------------------------------------------------


def polynomial_sparsity(step, initial_sparsity, final_sparsity, begin_step, end_step, power=3):
    """The polynomial-decay sparsity schedule (Zhu and Gupta, 2017):

        s(t) = final + (initial - final) * (1 - p)^power,  p = (t - begin) / (end - begin)

    with p clipped to [0, 1] (initial before begin_step, final after end_step). Returns a
    Python float."""
    p = min(max((step - begin_step) / float(end_step - begin_step), 0.0), 1.0)
    decay = (1.0 - p) ** power
    return float(final_sparsity + (initial_sparsity - final_sparsity) * decay)


def magnitude_mask(weights, sparsity):
    """A 0/1 float32 mask of weights' shape that zeros the k = round(sparsity * size) entries
    of smallest absolute value (over the whole array) and keeps the rest. numpy in, numpy out."""
    flat = np.abs(np.asarray(weights, np.float64)).reshape(-1)
    k = int(np.round(sparsity * flat.size))
    mask = np.ones_like(flat, dtype=np.float32)
    if k > 0:
        smallest = np.argsort(flat, kind="stable")[:k]
        mask[smallest] = 0.0
    return mask.reshape(np.shape(weights))


class MagnitudePruning(keras.callbacks.Callback):
    """Prunes `kernels` (a list of Keras variables) during fit: after every training batch,
    with s = schedule(t) (t counts the batches from 0), each kernel's mask becomes
    magnitude_mask(kernel * old mask, s), and the kernel is set to kernel * mask. Masking the
    old mask's zeros first keeps every pruned weight pruned (the schedule never decreases), so
    a weight that the optimizer moved off zero is zeroed again. `masks` starts at ones."""

    def __init__(self, kernels, schedule):
        super().__init__()
        self.kernels, self.schedule = list(kernels), schedule
        self.masks = [np.ones(tuple(k.shape), np.float32) for k in self.kernels]
        self.step = 0

    def on_train_batch_end(self, batch, logs=None):
        sparsity = self.schedule(self.step)
        self.step += 1
        new_masks = []
        for kernel, old_mask in zip(self.kernels, self.masks):
            masked = kernel.numpy() * old_mask
            new_mask = magnitude_mask(masked, sparsity)
            kernel.assign((masked * new_mask).astype(np.float32))
            new_masks.append(new_mask)
        self.masks = new_masks


def rewind_to_initial(kernels, initial_values, masks):
    """The lottery-ticket rewind (Frankle and Carbin, 2019): set each kernel (a Keras variable)
    to its INITIAL value (numpy, saved before training) times its mask, so the surviving
    weights restart from where they started and the pruned ones stay 0."""
    for i in range(len(kernels)):
        kernels[i].assign(np.where(np.asarray(masks[i]) != 0, np.asarray(initial_values[i]), 0.0)
                          .astype(np.float32))


# ---------------------------------------------------------------------------------------------
# 4. Post-training int8 quantisation
# ---------------------------------------------------------------------------------------------


def quantize_per_channel(kernel):
    """Symmetric int8 quantisation with one scale per output channel (the last axis), as
    Keras's model.quantize("int8") does for a Dense kernel:

        scale_c = max_i |W[i, c]| / 127,   q[i, c] = round(W[i, c] / scale_c) in [-127, 127]

    kernel: numpy (inputs, outputs). Returns (q int8 (inputs, outputs), scale float32
    (outputs,)); dequantize(q, scale) approximates kernel."""
    w = np.asarray(kernel, np.float32)
    amax = np.abs(w).max(axis=0, keepdims=True)
    scale = amax / np.float32(127.0)
    q = np.round(w / scale)
    q = np.clip(q, -127, 127).astype(np.int8)
    return q, scale.reshape(-1).astype(np.float32)


def dequantize(q, scale):
    """float32 values q * scale (scale broadcast over the last axis)."""
    return np.multiply(np.asarray(q, np.float32), np.asarray(scale, np.float32)[..., :])


# ---------------------------------------------------------------------------------------------
# 5. Fake quantisation and the straight-through estimator
# ---------------------------------------------------------------------------------------------


def fake_quant(x, min_value, max_value, num_bits=8):
    """Quantise and dequantise x on 2^num_bits levels, as
    tf.quantization.fake_quant_with_min_max_vars does, with the straight-through gradient.

    Forward: scale = (max - min) / (2^bits - 1); the zero point round(-min / scale), clipped to
    [0, 2^bits - 1], is "nudged" so that 0.0 is exactly representable: nudged_min =
    -zero_point * scale, nudged_max = nudged_min + (2^bits - 1) * scale; then x is clipped to
    [nudged_min, nudged_max] and rounded to the grid: nudged_min + round((x - nudged_min) /
    scale) * scale.
    Backward (straight-through): the upstream gradient where nudged_min <= x <= nudged_max,
    0 outside (rounding is treated as the identity, clipping is not).
    min_value, max_value: Python floats (min < max). Returns a tensor of x's shape."""
    import math
    levels = float(2 ** num_bits - 1)
    scale = (float(max_value) - float(min_value)) / levels
    zero_point = -float(min_value) / scale
    zero_point = min(max(math.floor(zero_point + 0.5), 0.0), levels)
    nudged_min = -zero_point * scale
    nudged_max = nudged_min + levels * scale

    @tf.custom_gradient
    def quant(v):
        inside = tf.logical_and(tf.greater_equal(v, nudged_min), tf.less_equal(v, nudged_max))
        clipped = tf.minimum(tf.maximum(v, nudged_min), nudged_max)
        out = tf.round((clipped - nudged_min) / scale) * scale + nudged_min

        def backward(dy):
            return tf.where(inside, dy, tf.zeros_like(dy))
        return out, backward

    return quant(tf.convert_to_tensor(x, dtype=tf.float32))


# ---------------------------------------------------------------------------------------------
# 6. Low-rank factorisation
# ---------------------------------------------------------------------------------------------


def low_rank_factors(kernel, rank):
    """The best rank-r approximation of a kernel W (inputs, outputs) as a product A @ B
    (Eckart-Young: the truncated SVD), A (inputs, r) = U_r diag(sqrt(s_r)),
    B (r, outputs) = diag(sqrt(s_r)) V_r^T, with the r largest singular values s_r.
    numpy in, numpy (float32) out."""
    s, u, v = tf.linalg.svd(tf.constant(np.asarray(kernel), tf.float64), full_matrices=False)
    s, u, v = s.numpy()[:rank], u.numpy()[:, :rank], v.numpy()[:, :rank]
    root = np.diag(np.sqrt(s))
    a = u @ root
    b = root @ v.T
    return a.astype(np.float32), b.astype(np.float32)


def factorize_dense(layer, rank):
    """Replace a built Dense layer (kernel (n, m), bias, activation) by a keras.Sequential of
    Dense(rank, use_bias=False) with kernel A and Dense(m, activation=layer.activation) with
    kernel B and the layer's bias, from low_rank_factors(kernel, rank): n*r + r*m + m weights
    in place of n*m + m. Returns the built Sequential (input (None, n))."""
    kernel, bias = layer.get_weights()[:2]
    n, m = kernel.shape
    a, b = low_rank_factors(kernel, rank)
    model = keras.Sequential([
        keras.Input((n,)),
        keras.layers.Dense(rank, use_bias=False, name="low_rank_a"),
        keras.layers.Dense(m, activation=layer.activation, name="low_rank_b"),
    ])
    model.layers[0].kernel.assign(a)
    model.layers[1].kernel.assign(b)
    model.layers[1].bias.assign(bias)
    return model
