"""The check's own correct `unbroadcast`, `topological_order` and `backward`, for the
student's nodes (they use only the given Node attributes: value, shape, parents, vjps,
grad). A check of one unit runs the student's code on these, so a mistake elsewhere in the
engine does not cost that unit's points."""
import contextlib

import numpy as np


@contextlib.contextmanager
def standing_in(module, **replacements):
    """Replace names in a graded module while the block runs, then put the originals back
    (the worker keeps the module for the next check)."""
    missing = object()
    saved = {name: getattr(module, name, missing) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)


def unbroadcast(grad, shape):
    grad = np.asarray(grad, dtype=np.float64)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def topological_order(output):
    """Parents before children, by an explicit stack (no recursion limit)."""
    order, done, stack = [], set(), [(output, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in done:
            done.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(node.parents)
                         if id(parent) not in done)
    return order


def backward(output, seed=None):
    order = topological_order(output)
    for node in order:
        node.grad = np.zeros(node.shape)
    output.grad = np.array(np.ones(output.shape) if seed is None
                           else np.broadcast_to(seed, output.shape), dtype=np.float64)
    for node in reversed(order):
        for parent, vjp in zip(node.parents, node.vjps):
            parent.grad = parent.grad + unbroadcast(vjp(node.grad), parent.shape)
