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
    x = tf.convert_to_tensor(x)
    return x * tf.sigmoid(tf.cast(beta, x.dtype) * x)


def mish(x):
    """Mish: x * tanh(softplus(x)), softplus(x) = log(1 + exp(x)). x: any shape."""
    x = tf.convert_to_tensor(x)
    return x * tf.tanh(tf.math.softplus(x))


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
        squeezed = tf.reduce_mean(x, axis=[1, 2])
        gates = self.expand(self.reduce(squeezed))
        return x * gates[:, None, None, :]

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
    t = tf.cast(temperature, tf.float32)
    teacher_logits = tf.cast(teacher_logits, tf.float32)
    student_logits = tf.cast(student_logits, tf.float32)
    log_p = tf.nn.log_softmax(teacher_logits / t, axis=-1)
    log_q = tf.nn.log_softmax(student_logits / t, axis=-1)
    kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)
    return tf.reduce_mean(kl) * t * t


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
        teacher_logits = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            hard = self.hard_loss_fn(y, student_logits)
            soft = distillation_loss(teacher_logits, student_logits, self.temperature)
            loss = self.alpha * hard + (1.0 - self.alpha) * soft
            scaled = self.optimizer.scale_loss(loss)
        variables = self.student.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        self.loss_tracker.update_state(loss)
        self.hard_tracker.update_state(hard)
        self.soft_tracker.update_state(soft)
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
    p = (step - begin_step) / (end_step - begin_step)
    p = float(np.clip(p, 0.0, 1.0))
    return float(final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - p) ** power)


def magnitude_mask(weights, sparsity):
    """A 0/1 float32 mask of weights' shape that zeros the k = round(sparsity * size) entries
    of smallest absolute value (over the whole array) and keeps the rest. numpy in, numpy out."""
    weights = np.asarray(weights)
    k = int(round(sparsity * weights.size))
    order = np.argsort(np.abs(weights).ravel())
    mask = np.ones(weights.size, np.float32)
    mask[order[:k]] = 0.0
    return mask.reshape(weights.shape)


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
        s = self.schedule(self.step)
        self.step += 1
        for i, kernel in enumerate(self.kernels):
            masked = np.asarray(kernel) * self.masks[i]
            mask = magnitude_mask(masked, s)
            kernel.assign(masked * mask)
            self.masks[i] = mask


def rewind_to_initial(kernels, initial_values, masks):
    """The lottery-ticket rewind (Frankle and Carbin, 2019): set each kernel (a Keras variable)
    to its INITIAL value (numpy, saved before training) times its mask, so the surviving
    weights restart from where they started and the pruned ones stay 0."""
    for kernel, initial, mask in zip(kernels, initial_values, masks):
        kernel.assign(np.asarray(initial) * np.asarray(mask))


# ---------------------------------------------------------------------------------------------
# 4. Post-training int8 quantisation
# ---------------------------------------------------------------------------------------------


def quantize_per_channel(kernel):
    """Symmetric int8 quantisation with one scale per output channel (the last axis), as
    Keras's model.quantize("int8") does for a Dense kernel:

        scale_c = max_i |W[i, c]| / 127,   q[i, c] = round(W[i, c] / scale_c) in [-127, 127]

    kernel: numpy (inputs, outputs). Returns (q int8 (inputs, outputs), scale float32
    (outputs,)); dequantize(q, scale) approximates kernel."""
    kernel = np.asarray(kernel, np.float32)
    scale = (np.max(np.abs(kernel), axis=0) / 127.0).astype(np.float32)
    q = np.clip(np.round(kernel / scale), -127, 127).astype(np.int8)
    return q, scale


def dequantize(q, scale):
    """float32 values q * scale (scale broadcast over the last axis)."""
    return np.asarray(q).astype(np.float32) * np.asarray(scale, np.float32)


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
    levels = 2 ** num_bits - 1

    @tf.custom_gradient
    def _fq(x):
        scale = (max_value - min_value) / levels
        zero_point = tf.clip_by_value(tf.round(-min_value / scale), 0.0, float(levels))
        nudged_min = -zero_point * scale
        nudged_max = nudged_min + levels * scale
        nudged_min = tf.cast(nudged_min, x.dtype)
        nudged_max = tf.cast(nudged_max, x.dtype)
        scale_t = tf.cast(scale, x.dtype)
        clipped = tf.clip_by_value(x, nudged_min, nudged_max)
        y = nudged_min + tf.round((clipped - nudged_min) / scale_t) * scale_t
        inside = tf.logical_and(x >= nudged_min, x <= nudged_max)

        def grad(upstream):
            return upstream * tf.cast(inside, upstream.dtype)
        return y, grad

    return _fq(tf.convert_to_tensor(x, tf.float32))


# ---------------------------------------------------------------------------------------------
# 6. Low-rank factorisation
# ---------------------------------------------------------------------------------------------


def low_rank_factors(kernel, rank):
    """The best rank-r approximation of a kernel W (inputs, outputs) as a product A @ B
    (Eckart-Young: the truncated SVD), A (inputs, r) = U_r diag(sqrt(s_r)),
    B (r, outputs) = diag(sqrt(s_r)) V_r^T, with the r largest singular values s_r.
    numpy in, numpy (float32) out."""
    u, s, vt = np.linalg.svd(np.asarray(kernel, np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    a = u[:, :rank] * root[None, :]
    b = root[:, None] * vt[:rank]
    return a.astype(np.float32), b.astype(np.float32)


def factorize_dense(layer, rank):
    """Replace a built Dense layer (kernel (n, m), bias, activation) by a keras.Sequential of
    Dense(rank, use_bias=False) with kernel A and Dense(m, activation=layer.activation) with
    kernel B and the layer's bias, from low_rank_factors(kernel, rank): n*r + r*m + m weights
    in place of n*m + m. Returns the built Sequential (input (None, n))."""
    kernel = np.asarray(layer.kernel)
    n, m = kernel.shape
    a, b = low_rank_factors(kernel, rank)
    first = keras.layers.Dense(rank, use_bias=False)
    second = keras.layers.Dense(m, activation=layer.activation)
    model = keras.Sequential([keras.Input((n,)), first, second])
    first.set_weights([a])
    second.set_weights([b, np.asarray(layer.bias)])
    return model
