"""Lab 02, part 3: full Jacobians from JVPs or VJPs, and what each costs.

For f: R^n -> R^m, one JVP (a forward-mode pass with tangent e_j) gives column j of the
(m, n) Jacobian; one VJP (a backward pass with seed e_i) gives row i. Forward mode needs n
passes, reverse mode one recorded forward pass and m backward passes. Gradients of a scalar
loss (m = 1) with millions of parameters (n large) are why deep learning uses reverse mode.
"""
import math

import numpy as np
from forward import jvp
from reverse import Node, backward


def jacobian_forward(f, x):
    """The Jacobian of f at x, one column per forward-mode pass.

    f: maps a forward.Dual of shape (n,) to a Dual of shape (m,); x: (n,) array.
    Returns J: (m, n), J[i, j] = d f(x)_i / d x_j, from exactly n calls of f, the j-th with
    the tangent e_j (the j-th basis vector).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    columns = []
    for j in range(n):
        e_j = np.zeros(n)
        e_j[j] = 1.0
        _, column = jvp(f, x, e_j)
        columns.append(np.asarray(column, dtype=np.float64))
    return np.stack(columns, axis=1)


def jacobian_reverse(f, x):
    """The Jacobian of f at x, one row per backward pass over a single recorded tape.

    f: maps a reverse.Node of shape (n,) to a Node of shape (m,); x: (n,) array.
    Returns J: (m, n). Calls f exactly once (recording the tape), then runs `backward` m
    times on that same tape, the i-th with the seed e_i: x's `.grad` is then row i.
    """
    x = Node(np.asarray(x, dtype=np.float64))
    out = f(x)
    m = out.value.size
    jac = np.zeros((m, x.value.size))
    for i in range(m):
        seed = np.zeros(out.shape)
        seed.flat[i] = 1.0
        backward(out, seed=seed)
        jac[i] = x.grad.reshape(-1)
    return jac


def cheaper_mode(input_shape, output_shape):
    """Which mode builds the full Jacobian of f: input_shape -> output_shape in fewer passes.

    input_shape, output_shape: tuples (() is a scalar). Forward mode needs one pass per
    input entry, reverse mode one backward pass per output entry. Returns "forward" or
    "reverse"; a tie goes to "forward" (it needs no tape kept in memory).
    """
    return "forward" if math.prod(input_shape) <= math.prod(output_shape) else "reverse"
