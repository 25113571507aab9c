"""Lab 02, part 2: forward-mode automatic differentiation with dual numbers.

A `Dual` carries a value and its tangent: the derivative of that value along one direction
of the inputs, i.e. J @ v for the input tangent v. Every primitive computes its value as usual
and its tangent from its operands' values and tangents by the chain rule (its
Jacobian-vector product, JVP). No graph is recorded: one pass through the program gives the
output and its directional derivative together. Tangents broadcast exactly like values, so
forward mode needs no un-broadcasting. All values are float64.

The primitives have the same names and arguments as in reverse.py, so a function written
against one module (`def f(ops, x): return ops.tanh(x) * x`) runs with either.
"""
import numpy as np


class Dual:
    """A value and its tangent, arrays of the same shape (stored as float64).

    A constant is a Dual with a zero tangent: `Dual(3.0)`.
    """
    # numpy must hand `array * dual` to Dual.__rmul__ instead of looping over the array.
    __array_ufunc__ = None

    def __init__(self, value, tangent=None):
        self.value = np.asarray(value, dtype=np.float64)
        self.tangent = (np.zeros(self.value.shape) if tangent is None
                        else np.asarray(tangent, dtype=np.float64))

    @property
    def shape(self):
        return self.value.shape

    def __repr__(self):
        return f"Dual(shape={self.shape})"

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __neg__(self):
        return neg(self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def sum(self, axis=None, keepdims=False):
        return reduce_sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return reduce_mean(self, axis, keepdims)


def as_dual(x):
    """A Dual as it is; a number or an array becomes a constant (zero tangent)."""
    return x if isinstance(x, Dual) else Dual(x)


# ---- Elementwise arithmetic (operands may broadcast against each other) --------------------

def add(a, b):
    """a + b. a, b: Duals (or arrays) of broadcastable shapes. Returns a Dual."""
    a, b = as_dual(a), as_dual(b)
    tangent = np.add(a.tangent, b.tangent)
    return Dual(a.value + b.value, tangent)


def sub(a, b):
    """a - b. a, b: Duals (or arrays) of broadcastable shapes. Returns a Dual."""
    a, b = as_dual(a), as_dual(b)
    tangent = np.subtract(a.tangent, b.tangent)
    return Dual(a.value - b.value, tangent)


def mul(a, b):
    """a * b elementwise. a, b: Duals (or arrays) of broadcastable shapes. Returns a Dual."""
    a, b = as_dual(a), as_dual(b)
    tangent = b.value * a.tangent + a.value * b.tangent
    return Dual(a.value * b.value, tangent)


def div(a, b):
    """a / b elementwise. a, b: Duals (or arrays) of broadcastable shapes. Returns a Dual."""
    a, b = as_dual(a), as_dual(b)
    tangent = (a.tangent * b.value - a.value * b.tangent) / (b.value * b.value)
    return Dual(a.value / b.value, tangent)


def neg(a):
    """-a. a: Dual of any shape. Returns a Dual of the same shape."""
    a = as_dual(a)
    tangent = np.negative(a.tangent)
    return Dual(-a.value, tangent)


# ---- Elementwise functions ------------------------------------------------------------------

def exp(a):
    """exp(a) elementwise. a: Dual of any shape. Returns a Dual of the same shape."""
    a = as_dual(a)
    out = np.exp(a.value)
    tangent = a.tangent * out
    return Dual(out, tangent)


def log(a):
    """Natural log elementwise. a: Dual of positive values. Returns a Dual, same shape."""
    a = as_dual(a)
    tangent = np.divide(a.tangent, a.value)
    return Dual(np.log(a.value), tangent)


def tanh(a):
    """tanh(a) elementwise. a: Dual of any shape. Returns a Dual of the same shape."""
    a = as_dual(a)
    out = np.tanh(a.value)
    tangent = a.tangent - a.tangent * out * out
    return Dual(out, tangent)


def sigmoid(a):
    """1 / (1 + exp(-a)) elementwise. a: Dual of any shape. Returns a Dual, same shape."""
    a = as_dual(a)
    # Written with exp(-|a|) <= 1, so it never overflows for large |a|.
    small = np.exp(-np.abs(a.value))
    out = np.where(a.value >= 0, 1 / (1 + small), small / (1 + small))
    tangent = a.tangent * out * (1.0 - out)
    return Dual(out, tangent)


def relu(a):
    """max(a, 0) elementwise. a: Dual of any shape. Returns a Dual of the same shape."""
    a = as_dual(a)
    tangent = np.where(a.value > 0, a.tangent, 0.0)
    return Dual(np.maximum(a.value, 0), tangent)


# ---- Linear algebra and reductions ----------------------------------------------------------

def matmul(a, b):
    """Matrix product. a: Dual (N, K); b: Dual (K, M). Returns a Dual (N, M)."""
    a, b = as_dual(a), as_dual(b)
    tangent = np.matmul(a.tangent, b.value) + np.matmul(a.value, b.tangent)
    return Dual(a.value @ b.value, tangent)


def reduce_sum(a, axis=None, keepdims=False):
    """Sum over `axis` (None: all axes; or one int), like np.sum. Returns a Dual."""
    a = as_dual(a)
    tangent = a.tangent.sum(axis=axis, keepdims=keepdims)
    return Dual(np.sum(a.value, axis=axis, keepdims=keepdims), tangent)


def reduce_mean(a, axis=None, keepdims=False):
    """Mean over `axis` (None: all axes; or one int), like np.mean. Returns a Dual."""
    a = as_dual(a)
    summed = a.tangent.sum(axis=axis, keepdims=keepdims)
    tangent = summed * (np.size(summed) / max(a.tangent.size, 1))
    return Dual(np.mean(a.value, axis=axis, keepdims=keepdims), tangent)


# ---- Convenience ----------------------------------------------------------------------------

def jvp(f, x, tangent):
    """(f(x), J_f(x) @ tangent): one forward pass, no tape.

    f maps a Dual of x's shape to a Dual; tangent has x's shape.
    """
    out = f(Dual(x, tangent))
    return out.value, out.tangent
