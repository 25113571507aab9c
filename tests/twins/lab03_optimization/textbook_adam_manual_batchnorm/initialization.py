"""Lab 03, part 3: Glorot and He initialisation.

A dense layer pre = h W with fan_in inputs and W_ij ~ N(0, s^2) gives
Var(pre) = fan_in * s^2 * E[h^2]. Choosing s keeps the signal's scale the same from layer
to layer:

    Glorot (tanh, linear): s^2 = 2 / (fan_in + fan_out)   (a compromise between keeping the
                           forward activations and the backward gradients steady)
    He (ReLU):             s^2 = 2 / fan_in               (ReLU zeroes half the units, so
                           E[relu(pre)^2] = Var(pre) / 2: the 2 makes up for it)

Kernel shapes follow Keras: Dense (fan_in, fan_out); a convolution
(*kernel_size, in_channels, out_channels), each output unit seeing
prod(kernel_size) * in_channels inputs.
"""
import math

import keras

MODES = ("he", "glorot")


def compute_fans(shape):
    """(fan_in, fan_out) of a kernel shape, as Keras counts them.

    shape: a tuple of ints. Dense kernel (D, M): (D, M). Convolution kernel
    (k_1, ..., k_n, C_in, C_out): (r * C_in, r * C_out) with r = k_1 * ... * k_n the
    receptive field. A 1-D shape (M,): (M, M).
    Returns two Python ints.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    *kernel_size, fan_in, fan_out = shape
    receptive_field = 1
    for k in kernel_size:
        receptive_field *= k
    return fan_in * receptive_field, fan_out * receptive_field


def glorot_std(fan_in, fan_out):
    """Standard deviation of Glorot (Xavier) normal initialisation: sqrt(2 / (fan_in + fan_out)).

    fan_in, fan_out: positive numbers. Returns a float.
    """
    return 1.0 / math.sqrt((fan_in + fan_out) / 2.0)


def he_std(fan_in):
    """Standard deviation of He (Kaiming) normal initialisation for ReLU: sqrt(2 / fan_in).

    fan_in: a positive number. Returns a float.
    """
    return float((2.0 / fan_in) ** 0.5)


@keras.saving.register_keras_serializable(package="dlkit_lab03_optimization")
class ScaledNormal(keras.initializers.Initializer):
    """Zero-mean normal weights with the Glorot or He standard deviation of their shape.

    ScaledNormal(mode="he" or "glorot", seed=None): usable as any Keras initializer,
    e.g. keras.layers.Dense(64, kernel_initializer=ScaledNormal("he")).
    __call__(shape, dtype=None) returns a tensor of that shape drawn from N(0, std^2)
    (a plain normal, not truncated), std from compute_fans(shape) and glorot_std/he_std.
    seed=None draws new values on every call; an int seed gives the same values each call.
    """

    def __init__(self, mode="he", seed=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        if self.mode == "glorot":
            std = glorot_std(fan_in, fan_out)
        else:
            std = he_std(fan_in)
        return keras.random.normal(tuple(shape), mean=0.0, stddev=std, dtype=dtype,
                                   seed=self.seed)

    def get_config(self):
        return dict(mode=self.mode, seed=self.seed)
