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
    # TODO: x times the sigmoid of beta * x (cast beta to x's dtype)
    raise NotImplementedError("fill in the TODO above")


def mish(x):
    """Mish: x * tanh(softplus(x)), softplus(x) = log(1 + exp(x)). x: any shape."""
    # TODO: x times tanh of tf.math.softplus(x) (stable for large x)
    raise NotImplementedError("fill in the TODO above")


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
        # TODO: squeeze: the mean over axes 1 and 2 (N, C); gates =
        #       self.expand(self.reduce(squeezed)); return x times the gates broadcast as (N, 1, 1,
        #       C)
        raise NotImplementedError("fill in the TODO above")

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
    # TODO: log-softmax of both logits divided by T; KL = sum over classes of p_T * (log p_T - log
    #       q_T); its batch mean times T^2
    raise NotImplementedError("fill in the TODO above")


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
        # TODO: teacher logits from self.teacher(x, training=False) BEFORE the tape; in the tape:
        #       student logits (training=True), the hard loss (self.hard_loss_fn), the soft loss
        #       distillation_loss(teacher, student, self.temperature), loss = alpha * hard + (1 -
        #       alpha) * soft; scale_loss; gradients of self.student.trainable_variables only;
        #       optimizer.apply; update the three trackers
        raise NotImplementedError("fill in the TODO above")
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
    # TODO: p = (step - begin_step) / (end_step - begin_step) clipped to [0, 1]; then the formula
    #       above as a float
    raise NotImplementedError("fill in the TODO above")


def magnitude_mask(weights, sparsity):
    """A 0/1 float32 mask of weights' shape that zeros the k = round(sparsity * size) entries
    of smallest absolute value (over the whole array) and keeps the rest. numpy in, numpy out."""
    # TODO: k from round(sparsity * weights.size); np.argsort of the flattened |w|; the first k
    #       positions get 0; reshape to weights' shape
    raise NotImplementedError("fill in the TODO above")


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
        # TODO: s = self.schedule(self.step), then self.step += 1; for each kernel: masked = its
        #       value (np.asarray) times its old mask; new mask = magnitude_mask(masked, s);
        #       kernel.assign(masked * new mask); store the new mask in self.masks
        raise NotImplementedError("fill in the TODO above")


def rewind_to_initial(kernels, initial_values, masks):
    """The lottery-ticket rewind (Frankle and Carbin, 2019): set each kernel (a Keras variable)
    to its INITIAL value (numpy, saved before training) times its mask, so the surviving
    weights restart from where they started and the pruned ones stay 0."""
    # TODO: for each kernel, initial value and mask: kernel.assign(initial * mask)
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 4. Post-training int8 quantisation
# ---------------------------------------------------------------------------------------------


def quantize_per_channel(kernel):
    """Symmetric int8 quantisation with one scale per output channel (the last axis), as
    Keras's model.quantize("int8") does for a Dense kernel:

        scale_c = max_i |W[i, c]| / 127,   q[i, c] = round(W[i, c] / scale_c) in [-127, 127]

    kernel: numpy (inputs, outputs). Returns (q int8 (inputs, outputs), scale float32
    (outputs,)); dequantize(q, scale) approximates kernel."""
    # TODO: the absolute maximum of each column (axis 0) over 127; q = np.round of kernel / scale,
    #       clipped to [-127, 127], as int8
    raise NotImplementedError("fill in the TODO above")


def dequantize(q, scale):
    """float32 values q * scale (scale broadcast over the last axis)."""
    # TODO: q as float32 times scale
    raise NotImplementedError("fill in the TODO above")


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
    # TODO: a @tf.custom_gradient inner function of x: compute scale, the clipped rounded zero
    #       point, nudged_min and nudged_max as above; y = the rounded, clipped x; grad(upstream) =
    #       upstream where x is inside [nudged_min, nudged_max], else 0
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 6. Low-rank factorisation
# ---------------------------------------------------------------------------------------------


def low_rank_factors(kernel, rank):
    """The best rank-r approximation of a kernel W (inputs, outputs) as a product A @ B
    (Eckart-Young: the truncated SVD), A (inputs, r) = U_r diag(sqrt(s_r)),
    B (r, outputs) = diag(sqrt(s_r)) V_r^T, with the r largest singular values s_r.
    numpy in, numpy (float32) out."""
    # TODO: np.linalg.svd(kernel, full_matrices=False); keep the first rank columns of U, values of
    #       s and rows of V^T; split sqrt(s) between the two factors
    raise NotImplementedError("fill in the TODO above")


def factorize_dense(layer, rank):
    """Replace a built Dense layer (kernel (n, m), bias, activation) by a keras.Sequential of
    Dense(rank, use_bias=False) with kernel A and Dense(m, activation=layer.activation) with
    kernel B and the layer's bias, from low_rank_factors(kernel, rank): n*r + r*m + m weights
    in place of n*m + m. Returns the built Sequential (input (None, n))."""
    # TODO: A, B = low_rank_factors(layer.kernel, rank); build the Sequential with a
    #       keras.Input((n,)) and the two Dense layers; set_weights([A]) and ([B, layer.bias])
    raise NotImplementedError("fill in the TODO above")
