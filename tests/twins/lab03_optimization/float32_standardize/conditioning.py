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
    # BEGIN SOLUTION x^T x / N
    x = np.asarray(x, dtype=np.float64)
    return x.T @ x / len(x)
    # END SOLUTION


def condition_number(hessian):
    """kappa = largest / smallest eigenvalue of a symmetric positive definite matrix.

    hessian: (D, D) symmetric. Returns a float (np.inf if the smallest eigenvalue is <= 0).
    """
    # BEGIN SOLUTION the eigenvalues of a symmetric matrix (np.linalg.eigvalsh), largest over smallest
    eigenvalues = np.linalg.eigvalsh(np.asarray(hessian, dtype=np.float64))
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    return float(largest / smallest) if smallest > 0 else float(np.inf)
    # END SOLUTION


def gradient_descent_parameters(hessian):
    """The best constant step of gradient descent on a quadratic with this Hessian.

    hessian: (D, D) symmetric positive definite.
    Returns (learning_rate, rate): lr = 2 / (L + mu) and the worst-case contraction per step
    rate = (kappa - 1) / (kappa + 1), two floats.
    """
    # BEGIN SOLUTION L and mu from np.linalg.eigvalsh; lr = 2 / (L + mu); rate = (kappa - 1) / (kappa + 1)
    eigenvalues = np.linalg.eigvalsh(np.asarray(hessian, dtype=np.float64))
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    kappa = largest / smallest
    return float(2.0 / (largest + smallest)), float((kappa - 1.0) / (kappa + 1.0))
    # END SOLUTION


def heavy_ball_parameters(hessian):
    """Polyak's best constant step and momentum on a quadratic with this Hessian.

    hessian: (D, D) symmetric positive definite.
    Returns (learning_rate, momentum, rate), three floats:
    lr = 4 / (sqrt(L) + sqrt(mu))^2, momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2,
    rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1).
    """
    # BEGIN SOLUTION L and mu from np.linalg.eigvalsh, then the three formulas
    eigenvalues = np.linalg.eigvalsh(np.asarray(hessian, dtype=np.float64))
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    root_kappa = np.sqrt(largest / smallest)
    rate = (root_kappa - 1.0) / (root_kappa + 1.0)
    learning_rate = 4.0 / (np.sqrt(largest) + np.sqrt(smallest)) ** 2
    return float(learning_rate), float(rate ** 2), float(rate)
    # END SOLUTION


def standardize(x_train, x_test, epsilon=1e-8):
    """Scale every input feature to zero mean and unit variance, with the TRAINING statistics.

    Test data must be scaled with the training set's mean and std (the model never sees
    test statistics). A feature that is constant in the training set (std <= epsilon, e.g.
    an always-blank pixel) is only centred (divided by 1), so nothing becomes NaN or inf.

    x_train: (N, D); x_test: (M, D). Returns (train_scaled (N, D), test_scaled (M, D)),
    float arrays.
    """
    # BEGIN SOLUTION mean and std over axis 0 of x_train; std <= epsilon -> 1; apply to both sets
    x_train = np.asarray(x_train, dtype=np.float32)  # float32, as everywhere else in the kit
    x_test = np.asarray(x_test, dtype=np.float32)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > epsilon, std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std
    # END SOLUTION
