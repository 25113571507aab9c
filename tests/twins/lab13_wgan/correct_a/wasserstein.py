"""Lab 13, part 1: the Wasserstein-1 distance, computed exactly where that is easy.

    W1(P, Q) = inf over couplings pi of P and Q of  E_pi |X - Y|        (earth mover's)
             = sup over 1-Lipschitz f of  E_P f(X) - E_Q f(Y)          (Kantorovich-Rubinstein)

A WGAN critic is a neural f held (roughly) 1-Lipschitz; its score gap E_P f - E_Q f is an
estimate of W1 from below. In one dimension W1 needs no critic at all: the best coupling
matches the data in sorted order, so sorting gives the exact value to compare against.
"""
import numpy as np


def wasserstein_1d(x, y):
    """Exact W1 between the empirical distributions of two 1-D samples.

    x: (N,) samples; y: (M,) samples; N and M may differ. Returns a Python float:

        W1 = integral over t of |F_x(t) - F_y(t)| dt,

    with F_x, F_y the empirical CDFs (step functions). Between two consecutive points of
    the merged, sorted sample both CDFs are constant, so the integral is a finite sum of
    |F_x - F_y| * (gap between the two points). When N == M it equals
    mean_i |x_(i) - y_(i)|, with x_(i) the i-th smallest x: sort both, match in order.
    """
    x = np.sort(np.asarray(x, dtype=np.float64).reshape(-1))
    y = np.sort(np.asarray(y, dtype=np.float64).reshape(-1))
    points = np.sort(np.concatenate([x, y]))
    gaps = np.diff(points)
    cdf_x = np.searchsorted(x, points[:-1], side="right") / len(x)
    cdf_y = np.searchsorted(y, points[:-1], side="right") / len(y)
    return float(np.sum(np.abs(cdf_x - cdf_y) * gaps))


def random_directions(n_directions, dim, seed=0):
    """n_directions unit vectors, uniform on the sphere in `dim` dimensions: (K, dim)."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_directions, dim))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def sliced_wasserstein(x, y, directions):
    """Sliced W1: the mean over directions theta of W1 between the projections x.theta, y.theta.

    x: (N, D) samples; y: (M, D) samples; directions: (K, D) unit vectors (see
    random_directions). Returns a Python float. Every projection is a 1-D problem solved
    exactly by wasserstein_1d, so this is a cheap, exact-per-slice distance in any dimension
    (it is 0 only when the two distributions agree).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    values = []
    for theta in directions:
        values.append(wasserstein_1d(x @ theta, y @ theta))
    return float(np.mean(values))
