"""Lab 11, part 2: probabilistic PCA, the linear-Gaussian latent variable model, in numpy.

    z ~ N(0, I_q),   x | z ~ N(W z + mean, sigma^2 I_D),   so   x ~ N(mean, W W^T + sigma^2 I_D)

It is the VAE with a linear decoder, a Gaussian likelihood and nothing to approximate: the
likelihood, its maximum and the posterior p(z | x) all have closed forms (Tipping & Bishop,
1999). Everything here is numpy, in float64.

Shapes: N examples, D data dimensions (64 for 8x8 digits), q latent dimensions (q < D).
The scikit-learn names: fit / score_samples / transform, and attributes ending in `_`.
"""
import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


class PPCA:
    """PPCA(n_components): fit(x) sets, from x (N, D), the maximum-likelihood parameters

      mean_            (D,)    the mean of the training data
      weights_         (D, q)  W = U_q (L_q - sigma^2 I)^(1/2): the columns are the top-q
                               eigenvectors of the sample covariance S (decreasing
                               eigenvalue), each scaled by sqrt(eigenvalue - sigma^2)
                               (the rotation R of the general solution W U_q (...)^(1/2) R is I)
      noise_variance_  float   sigma^2: the mean of the D - q DISCARDED eigenvalues of S

    with S = (1/N) sum_n (x_n - mean)(x_n - mean)^T, the maximum-likelihood covariance
    (dividing by N, not N - 1: np.cov(x, rowvar=False, bias=True)).
    A column of W is defined up to its sign: any sign is right.

    score_samples, transform and sample use only mean_, weights_ and noise_variance_ (they
    work on a PPCA whose attributes were set by hand).
    """

    def __init__(self, n_components):
        self.n_components = int(n_components)
        self.mean_ = self.weights_ = self.noise_variance_ = None

    def fit(self, x):
        """The maximum-likelihood mean_, weights_ and noise_variance_ of x: (N, D), q < D.

        Returns self.
        """
        x = np.asarray(x, dtype=np.float64)
        q = self.n_components
        # TODO: the mean; S dividing by N; its eigenvalues in DECREASING order (np.linalg.eigh
        #       returns them increasing) with their eigenvectors; sigma^2 = mean of the last D - q
        #       eigenvalues; W = top-q eigenvectors times sqrt(eigenvalue - sigma^2), column by
        #       column
        n, d = x.shape
        self.mean_ = np.mean(x, axis=0)
        # the SVD of the centred data: S = V diag(s^2 / N) V^T, singular values decreasing
        _, singular, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        eigenvalues = np.zeros(d)
        eigenvalues[:len(singular)] = singular ** 2 / n
        sigma2 = np.sum(eigenvalues[q:]) / (d - q)
        weights = np.empty((d, q))
        for j in range(q):
            weights[:, j] = vt[j] * np.sqrt(max(eigenvalues[j] - sigma2, 0.0))
        self.noise_variance_ = sigma2
        self.weights_ = weights
        return self

    def covariance(self):
        """The model's covariance of x: W W^T + sigma^2 I, (D, D)."""
        w = np.asarray(self.weights_, dtype=np.float64)
        return w @ w.T + self.noise_variance_ * np.eye(len(w))

    def score_samples(self, x):
        """The log-likelihood log N(x_n | mean_, W W^T + sigma^2 I) of each example, in nats.

        x: (N, D). Returns (N,). Use a Cholesky factor (np.linalg.cholesky) or
        np.linalg.slogdet and np.linalg.solve; never invert the covariance explicitly, and no
        scipy.
        """
        x = np.asarray(x, dtype=np.float64)
        # TODO: with C = self.covariance() = L L^T (Cholesky): log|C| = 2 sum log diag(L); the
        #       Mahalanobis term is the squared norm of L^-1 (x - mean); then -0.5 * (D log(2 pi) +
        #       log|C| + Mahalanobis), one value per example
        c = self.covariance()
        sign, log_det = np.linalg.slogdet(c)
        diff = x - self.mean_
        mahalanobis = np.einsum("nd,nd->n", diff, np.linalg.solve(c, diff.T).T)
        return -0.5 * (c.shape[0] * LOG_2PI + log_det) - 0.5 * mahalanobis

    def transform(self, x):
        """The posterior mean of the latent, E[z | x] = M^-1 W^T (x - mean_), with
        M = W^T W + sigma^2 I (q, q). x: (N, D). Returns (N, q).

        (The posterior is N(E[z | x], sigma^2 M^-1); as sigma^2 -> 0 its mean becomes the
        projection onto the principal subspace that PCA gives.)
        """
        x = np.asarray(x, dtype=np.float64)
        # TODO: M = W^T W + sigma^2 I; solve M z = W^T (x - mean) for every example (no explicit
        #       inverse); rows are examples
        w = np.asarray(self.weights_, dtype=np.float64)
        q = w.shape[1]
        m = w.T @ w + self.noise_variance_ * np.eye(q)
        chol = np.linalg.cholesky(m)
        rhs = (x - self.mean_) @ w  # (N, q): rows W^T (x_n - mean)
        y = np.linalg.solve(chol, rhs.T)
        return np.linalg.solve(chol.T, y).T

    def sample(self, n, seed=None):
        """n new examples from the model: z ~ N(0, I_q), x = mean + W z + sigma * noise, with
        noise ~ N(0, I_D). rng = np.random.default_rng(seed): the same integer seed gives the
        same samples. Returns (n, D)."""
        rng = np.random.default_rng(seed)
        # TODO: draw z (n, q) and the noise (n, D) from rng; sigma is the SQUARE ROOT of
        #       noise_variance_
        w = np.asarray(self.weights_, dtype=np.float64)
        d, q = w.shape
        z = rng.normal(size=(n, q))
        eps = rng.normal(size=(n, d))
        return (w @ z.T).T + np.sqrt(self.noise_variance_) * eps + self.mean_
