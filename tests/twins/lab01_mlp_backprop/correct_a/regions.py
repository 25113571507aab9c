"""Lab 01, part 3: a ReLU network is piecewise linear; count its pieces on a 1-D input.

The network maps a scalar t to f(t) through dense layers with a ReLU after every layer but
the last. weights: [w1 (1, H1), w2 (H1, H2), ..., wL (H_{L-1}, K)]; biases: [b1 (H1,), ...].
Its *activation pattern* at t says which hidden units are on (pre-activation > 0). Where the
pattern is constant, every unit is either the identity or zero, so f is affine there: the
pattern splits [lo, hi] into intervals, the network's linear regions.

The count is exact, not sampled: on an interval where the pattern of layers 1..l-1 is fixed,
each pre-activation of layer l is an affine function a * t + c of t, so it crosses zero at
exactly one point t = -c / a (if that lies inside the interval), found in closed form.
"""
import numpy as np


def relu_network(weights, biases, t):
    """Evaluate the network. t: (M,) scalar inputs. Returns (M, K) outputs."""
    out = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    for index, (w, b) in enumerate(zip(weights, biases)):
        out = out @ w + b
        if index < len(weights) - 1:
            out = np.maximum(out, 0.0)
    return out


def activation_pattern(weights, biases, t):
    """Which hidden units are on at each input. t: (M,). Returns (M, H1 + ... + H_{L-1}) bools."""
    out = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    pattern = []
    for w, b in zip(weights[:-1], biases[:-1]):
        pre_activation = out @ w + b
        pattern.append(pre_activation > 0)
        out = np.maximum(pre_activation, 0.0)
    return np.concatenate(pattern, axis=1) if pattern else np.zeros((len(out), 0), bool)


def activation_breakpoints(weights, biases, lo, hi):
    """The inputs in (lo, hi) where the activation pattern changes, exactly.

    Returns a sorted float64 array (B,) of breakpoints strictly between lo and hi.
    Method: keep a list of intervals on which the layers so far are affine in t, with the
    current layer's input written as slope * t + offset (two (H,) vectors). For each hidden
    layer, push slope and offset through the dense layer, split each interval at the zeros
    -offset/slope of its pre-activations that fall strictly inside it, and on each piece
    apply the ReLU by zeroing slope and offset of the units that are off there (decide at
    the piece's midpoint).
    """
    pieces = [(lo, hi, np.array([1.0]), np.array([0.0]))]
    for w, b in zip(weights[:-1], biases[:-1]):
        new_pieces = []
        for start, end, slope, offset in pieces:
            s = slope @ w
            o = offset @ w + b
            with np.errstate(divide="ignore", invalid="ignore"):
                roots = -o / s
            inside = (s != 0) & (roots > start) & (roots < end)
            edges = [start, *np.sort(roots[inside]), end]
            for p, q in zip(edges[:-1], edges[1:]):
                if q <= p:
                    continue
                mid = 0.5 * (p + q)
                on = (s * mid + o) > 0
                new_pieces.append((p, q, np.where(on, s, 0.0), np.where(on, o, 0.0)))
        pieces = new_pieces
    return np.array([piece[0] for piece in pieces[1:]], dtype=np.float64)


def count_linear_regions(weights, biases, lo, hi):
    """How many intervals the activation pattern splits [lo, hi] into (an int >= 1).

    Uses activation_breakpoints. These are regions of constant activation pattern, an
    upper bound on the number of affine pieces of f: a unit that switches changes f's
    slope unless the units downstream of it are off there (or its effects cancel exactly).
    """
    return int(len(activation_breakpoints(weights, biases, lo, hi)) + 1)
