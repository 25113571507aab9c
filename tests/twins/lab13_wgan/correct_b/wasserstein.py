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
    n, m = len(x), len(y)
    if n == m:
        return float(np.mean(np.abs(x - y)))
    # W1 = integral over u in (0, 1) of |F_x^-1(u) - F_y^-1(u)|: both quantile functions are
    # step functions, constant between consecutive breakpoints i/n and j/m.
    levels = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    previous = np.concatenate([[0.0], levels[:-1]])
    middle = 0.5 * (levels + previous)
    quantile_x = x[np.minimum(np.floor(middle * n).astype(int), n - 1)]
    quantile_y = y[np.minimum(np.floor(middle * m).astype(int), m - 1)]
    return float(np.sum(np.abs(quantile_x - quantile_y) * (levels - previous)))


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
    projected_x = x @ directions.T
    projected_y = y @ directions.T
    return float(np.mean([wasserstein_1d(projected_x[:, k], projected_y[:, k])
                          for k in range(directions.shape[0])]))
