"""The primitives of lab02_autodiff's engine, and what each means in numpy and in
TensorFlow (the reference inside the probes)."""
import numpy as np
from scipy.special import expit

BINARY = ("add", "sub", "mul", "div")
UNARY = ("neg", "exp", "log", "tanh", "sigmoid", "relu")
REDUCTIONS = ("reduce_sum", "reduce_mean")
PRIMITIVES = BINARY + UNARY + ("matmul",) + REDUCTIONS

NUMPY_OPS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "exp": np.exp, "log": np.log, "tanh": np.tanh,
    "sigmoid": expit, "relu": lambda x: np.maximum(x, 0),
    "matmul": np.matmul,
    "reduce_sum": lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    "reduce_mean": lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
}


def tensorflow_ops():
    """The same primitives as TensorFlow ops (called in probes only)."""
    import tensorflow as tf
    return {
        "add": tf.add, "sub": tf.subtract, "mul": tf.multiply, "div": tf.divide,
        "neg": tf.negative, "exp": tf.exp, "log": tf.math.log, "tanh": tf.tanh,
        "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "matmul": tf.linalg.matmul,
        "reduce_sum": lambda x, axis=None, keepdims=False: tf.reduce_sum(x, axis, keepdims),
        "reduce_mean": lambda x, axis=None, keepdims=False: tf.reduce_mean(x, axis, keepdims),
    }


TF_OP_NAMES = ("AddV2", "Sub", "Mul", "RealDiv", "Neg", "Exp", "Log", "Tanh", "Sigmoid", "Relu",
               "MatMul", "Sum", "Mean")


def shape_relaxed_forwardprop():
    """Let ForwardAccumulator trace each op's JVP once for all shapes.

    By default it traces a new function for every (op, input shapes) for its first 32 calls,
    which costs seconds over a few random programs; past that count it switches to traces
    that accept any shape. Starting there gives the same tangents, only sooner. If this
    private counter ever moves, the probes are merely slower.
    """
    try:
        from tensorflow.python.eager import forwardprop
        for name in TF_OP_NAMES:
            forwardprop._TRACE_COUNT[name] = max(forwardprop._TRACE_COUNT.get(name, 0),
                                                 forwardprop._TRACE_COUNT_LIMIT)
    except (ImportError, AttributeError):
        pass


def engine_ops(module):
    """The student's primitives of reverse.py or forward.py, by name."""
    return {name: getattr(module, name) for name in PRIMITIVES}
