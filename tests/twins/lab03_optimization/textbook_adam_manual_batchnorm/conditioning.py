"""Lab 03, part 2: curvature, condition numbers, step sizes, and input scaling.

A quadratic f(w) = 1/2 w^T A w - b^T w with a symmetric positive definite Hessian A has its
minimum at w* = A^-1 b. With L and mu the largest and smallest eigenvalues of A, the
condition number kappa = L / mu says how stretched its level sets are. The best constant
step sizes, and the factor by which each step shrinks the distance to w* (in the worst
case), are:

    gradient descent:   lr = 2 / (L + mu)
                        rate = (kappa - 1) / (kappa + 1)
    heavy ball:         lr = 4 / (sqrt(L) + sqrt(mu))^2
    (Polyak momentum)   momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2
                        rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)

So reaching a tolerance takes about kappa / 2 * ln(1 / tol) steps of gradient descent and
only sqrt(kappa) / 2 * ln(1 / tol) with momentum.

The mean squared error of a linear model, (1 / 2N) ||X w - y||^2, is such a quadratic, with
Hessian A = X^T X / N: its conditioning comes from the inputs. Standardising each input
feature (zero mean, unit variance) is the cheapest way to improve it.
"""
import numpy as np


def least_squares_hessian(x):
    """Hessian of (1 / 2N) ||x w - y||^2 with respect to w: x^T x / N.

    x: (N, D) inputs. Returns A: (D, D), symmetric.
    """
    x = np.asarray(x, dtype=float)
    return np.einsum("nd,ne->de", x, x) / len(x)


def condition_number(hessian):
    """kappa = largest / smallest eigenvalue of a symmetric positive definite matrix.

    hessian: (D, D) symmetric. Returns a float (np.inf if the smallest eigenvalue is <= 0).
    """
    eigenvalues = np.linalg.eigvalsh(hessian)
    smallest, largest = eigenvalues.min(), eigenvalues.max()
    return float(largest / smallest) if smallest > 0 else np.inf


def gradient_descent_parameters(hessian):
    """The best constant step of gradient descent on a quadratic with this Hessian.

    hessian: (D, D) symmetric positive definite.
    Returns (learning_rate, rate): lr = 2 / (L + mu) and the worst-case contraction per step
    rate = (kappa - 1) / (kappa + 1), two floats.
    """
    eigenvalues = np.linalg.eigvalsh(hessian)
    big_l, mu = eigenvalues.max(), eigenvalues.min()
    return float(2.0 / (big_l + mu)), float((big_l - mu) / (big_l + mu))


def heavy_ball_parameters(hessian):
    """Polyak's best constant step and momentum on a quadratic with this Hessian.

    hessian: (D, D) symmetric positive definite.
    Returns (learning_rate, momentum, rate), three floats:
    lr = 4 / (sqrt(L) + sqrt(mu))^2, momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2,
    rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1).
    """
    eigenvalues = np.linalg.eigvalsh(hessian)
    sqrt_l, sqrt_mu = np.sqrt(eigenvalues.max()), np.sqrt(eigenvalues.min())
    rate = (sqrt_l - sqrt_mu) / (sqrt_l + sqrt_mu)
    return float(4.0 / (sqrt_l + sqrt_mu) ** 2), float(rate * rate), float(rate)


def standardize(x_train, x_test, epsilon=1e-8):
    """Scale every input feature to zero mean and unit variance, with the TRAINING statistics.

    Test data must be scaled with the training set's mean and std (the model never sees
    test statistics). A feature that is constant in the training set (std <= epsilon, e.g.
    an always-blank pixel) is only centred (divided by 1), so nothing becomes NaN or inf.

    x_train: (N, D); x_test: (M, D). Returns (train_scaled (N, D), test_scaled (M, D)),
    float arrays.
    """
    x_train = np.asarray(x_train, dtype=float)
    x_test = np.asarray(x_test, dtype=float)
    mean = np.mean(x_train, axis=0, keepdims=True)
    std = np.sqrt(np.mean((x_train - mean) ** 2, axis=0, keepdims=True))
    scale = np.where(std > epsilon, std, 1.0)
    return (x_train - mean) / scale, (x_test - mean) / scale
