"""Lab 02, part 1: reverse-mode automatic differentiation on numpy arrays.

Every primitive op records what it did: it returns a `Node` holding the computed value, the
nodes it was computed from (`parents`), and one vector-Jacobian product per parent (`vjps`).
Running a program therefore builds a graph, the *tape*. `backward` walks that graph from the
output back to the inputs, children before parents, and leaves in every node's `.grad` the
derivative of the output with respect to that node's value.

VJP contract. `node.vjps[i](g)`, for an upstream gradient g of the node's value's shape,
returns the gradient of sum(g * value) with respect to `parents[i].value`. An elementwise op
may return it in the op's output shape even where it broadcast that parent: `backward` sums it
back to the parent's shape with `unbroadcast`, so no VJP has to. All values are float64.
"""
import numpy as np


class Node:
    """One value of a recorded program.

    value: the array this op computed (stored as float64); parents: the Nodes it was computed
    from; vjps: one function per parent, g -> gradient w.r.t. that parent (see the module
    docstring); op: a name for printing. grad: set by `backward`, same shape as value.
    Inputs are Nodes without parents: `Node(np.ones(3))`.
    """
    # numpy must hand `array * node` to Node.__rmul__ instead of looping over the array.
    __array_ufunc__ = None

    def __init__(self, value, parents=(), vjps=(), op="input"):
        self.value = np.asarray(value, dtype=np.float64)
        self.parents = tuple(parents)
        self.vjps = tuple(vjps)
        self.op = op
        self.grad = None

    @property
    def shape(self):
        return self.value.shape

    def __repr__(self):
        return f"Node({self.op}, shape={self.shape})"

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


def as_node(x):
    """A Node as it is; a number or an array becomes a constant Node."""
    return x if isinstance(x, Node) else Node(x, op="constant")


# ---- Elementwise arithmetic (operands may broadcast against each other) --------------------

def add(a, b):
    """a + b. a, b: Nodes (or arrays) of broadcastable shapes. Returns a Node."""
    a, b = as_node(a), as_node(b)
    def grad_a(g):
        return np.array(g)

    def grad_b(g):
        return np.array(g)

    vjps = (grad_a, grad_b)
    return Node(a.value + b.value, (a, b), vjps, "add")


def sub(a, b):
    """a - b. a, b: Nodes (or arrays) of broadcastable shapes. Returns a Node."""
    a, b = as_node(a), as_node(b)
    vjps = (lambda g: np.array(g), lambda g: np.negative(g))
    return Node(a.value - b.value, (a, b), vjps, "sub")


def mul(a, b):
    """a * b elementwise. a, b: Nodes (or arrays) of broadcastable shapes. Returns a Node."""
    a, b = as_node(a), as_node(b)
    vjps = (lambda g: np.multiply(b.value, g), lambda g: np.multiply(a.value, g))
    return Node(a.value * b.value, (a, b), vjps, "mul")


def div(a, b):
    """a / b elementwise. a, b: Nodes (or arrays) of broadcastable shapes. Returns a Node."""
    a, b = as_node(a), as_node(b)
    quotient = a.value / b.value
    vjps = (lambda g: g / b.value, lambda g: -g * quotient / b.value)
    return Node(a.value / b.value, (a, b), vjps, "div")


def neg(a):
    """-a. a: Node of any shape. Returns a Node of the same shape."""
    a = as_node(a)
    vjps = (np.negative,)
    return Node(-a.value, (a,), vjps, "neg")


# ---- Elementwise functions ------------------------------------------------------------------

def exp(a):
    """exp(a) elementwise. a: Node of any shape. Returns a Node of the same shape."""
    a = as_node(a)
    out = np.exp(a.value)
    vjps = (lambda g: np.multiply(g, out),)
    return Node(out, (a,), vjps, "exp")


def log(a):
    """Natural log elementwise. a: Node of positive values. Returns a Node, same shape."""
    a = as_node(a)
    vjps = (lambda g: np.divide(g, a.value),)
    return Node(np.log(a.value), (a,), vjps, "log")


def tanh(a):
    """tanh(a) elementwise. a: Node of any shape. Returns a Node of the same shape."""
    a = as_node(a)
    out = np.tanh(a.value)
    vjps = (lambda g: g - g * out * out,)
    return Node(out, (a,), vjps, "tanh")


def sigmoid(a):
    """1 / (1 + exp(-a)) elementwise. a: Node of any shape. Returns a Node, same shape."""
    a = as_node(a)
    # Written with exp(-|a|) <= 1, so it never overflows for large |a|.
    small = np.exp(-np.abs(a.value))
    out = np.where(a.value >= 0, 1 / (1 + small), small / (1 + small))
    vjps = (lambda g: g * (out - out * out),)
    return Node(out, (a,), vjps, "sigmoid")


def relu(a):
    """max(a, 0) elementwise. a: Node of any shape. Returns a Node of the same shape."""
    a = as_node(a)
    vjps = (lambda g: np.where(a.value > 0, g, 0.0),)
    return Node(np.maximum(a.value, 0), (a,), vjps, "relu")


# ---- Linear algebra and reductions ----------------------------------------------------------

def matmul(a, b):
    """Matrix product. a: Node (N, K); b: Node (K, M). Returns a Node (N, M)."""
    a, b = as_node(a), as_node(b)
    vjps = (lambda g: np.matmul(g, np.swapaxes(b.value, -1, -2)), lambda g: np.dot(a.value.T, g))
    return Node(a.value @ b.value, (a, b), vjps, "matmul")


def reduce_sum(a, axis=None, keepdims=False):
    """Sum over `axis` (None: all axes; or one int), like np.sum. Returns a Node."""
    a = as_node(a)

    kept_shape = np.sum(a.value, axis=axis, keepdims=True).shape

    def sum_vjp(g):
        return np.broadcast_to(np.reshape(g, kept_shape), a.shape).copy()
    return Node(np.sum(a.value, axis=axis, keepdims=keepdims), (a,), (sum_vjp,), "reduce_sum")


def reduce_mean(a, axis=None, keepdims=False):
    """Mean over `axis` (None: all axes; or one int), like np.mean. Returns a Node."""
    a = as_node(a)
    value = np.mean(a.value, axis=axis, keepdims=keepdims)
    count = a.value.size // max(value.size, 1)

    kept_shape = np.mean(a.value, axis=axis, keepdims=True).shape

    def mean_vjp(g):
        return np.ones(a.shape) * np.reshape(g, kept_shape) / count
    return Node(value, (a,), (mean_vjp,), "reduce_mean")


# ---- The backward pass ----------------------------------------------------------------------

def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`, undoing numpy broadcasting.

    grad: the gradient of an operand that was broadcast to grad.shape; shape: the operand's
    own shape. Returns an array of exactly `shape`: summed over the leading axes broadcasting
    added, and (keeping them) over the axes where `shape` is 1 but grad's is not.
    E.g. grad (2, 3, 4) and shape (3, 1) -> sum over axis 0, then over the last axis -> (3, 1).
    """
    grad = np.asarray(grad)
    shape = tuple(shape)
    if grad.shape == shape:
        return grad  # nothing was broadcast
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return np.reshape(grad, shape)


def topological_order(output):
    """Every node `output` depends on (itself included), each exactly once, parents before
    children: inputs come first, `output` comes last.

    output: a Node. Returns a list of Nodes. (A recursive depth-first search is fine for
    graphs up to a few hundred nodes deep.)
    """
    order, expanded = [], set()
    stack = [(output, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if id(node) in expanded:
            continue
        expanded.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parents):
            if id(parent) not in expanded:
                stack.append((parent, False))
    return order


def backward(output, seed=None):
    """Fill `.grad` of every node `output` depends on with the gradient of sum(seed * output).

    output: a Node; seed: an array of output's shape (default: ones, so for a scalar output
    the result is the gradient). Afterwards, every node in topological_order(output) has a
    `.grad` of its own shape; a node used by several ops gets the sum of their contributions.
    """
    order = topological_order(output)
    seed = np.ones(output.shape) if seed is None else np.broadcast_to(seed, output.shape)
    for node in order:
        node.grad = np.zeros_like(node.value)
    output.grad = np.array(seed, dtype=np.float64, copy=True)
    for node in order[::-1]:
        if not node.parents:
            continue
        for parent, vjp_fn in zip(node.parents, node.vjps):
            contribution = unbroadcast(vjp_fn(node.grad), parent.shape)
            parent.grad += contribution


# ---- Conveniences built on backward ---------------------------------------------------------

def grad(f):
    """grad(f)(*arrays) -> the gradients of the scalar f(*Nodes) w.r.t. each array, a list."""
    def gradients(*arrays):
        inputs = [Node(array) for array in arrays]
        backward(f(*inputs))
        return [x.grad for x in inputs]
    return gradients


def vjp(f, x, cotangent):
    """(f(x), cotangent @ J_f(x)): one forward pass records the tape, one backward pass.

    f maps a Node of x's shape to a Node; cotangent has the output's shape.
    """
    x = Node(x)
    out = f(x)
    backward(out, cotangent)
    return out.value, x.grad
