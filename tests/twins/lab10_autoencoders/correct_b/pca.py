"""Lab 10, part 1: principal component analysis by the SVD, in numpy.

PCA finds the K orthonormal directions along which centred data varies most; projecting
onto them and back is the best rank-K linear reconstruction (in squared error). Part 2
shows that a linear autoencoder trained by gradient descent finds the same subspace, and
`principal_angles` is how we measure that.

Shapes: N examples, D data dimensions (64 for 8x8 digits), K components.
The scikit-learn names: fit / transform / inverse_transform, and attributes ending in `_`.
"""
import numpy as np


class PCA:
    """PCA(n_components): fit(x) learns, from x (N, D):

      mean_              (D,)    the mean of the training data
      components_        (K, D)  the top-K principal directions, one per ROW, orthonormal,
                                 in order of decreasing variance
      singular_values_   (K,)    the top-K singular values of the centred data
      n_samples_, total_variance_  N, and the total variance of the data (the sum of the
                                 variances of its D coordinates)

    and from those it gives explained_variance_ (K,), the variance of the data along each
    component, and explained_variance_ratio_ (K,), that variance as a fraction of the total.
    A component is defined up to its sign (v and -v span the same line): any sign is right.
    """

    def __init__(self, n_components):
        self.n_components = int(n_components)
        self.mean_ = self.components_ = self.singular_values_ = None
        self.n_samples_ = self.total_variance_ = None

    def fit(self, x):
        """Learn the attributes above from x: (N, D), N > K. Returns self."""
        x = np.asarray(x, dtype=np.float64)
        k = self.n_components
        self.mean_ = np.mean(x, axis=0)
        centred = x - self.mean_
        u, s, vt = np.linalg.svd(centred)  # full_matrices: only the first K rows are kept
        # sklearn-style deterministic signs: the largest |entry| of each direction positive
        signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
        vt = vt * signs[:, None]
        self.components_ = vt[:k].copy()
        self.singular_values_ = s[:k].copy()
        self.n_samples_ = len(x)
        # The trace of the covariance: also the sum of ALL the squared singular values / (N - 1).
        self.total_variance_ = float(np.sum(np.var(x, axis=0, ddof=1)))
        return self

    @property
    def explained_variance_(self):
        """(K,): the sample variance (dividing by N - 1) of the data along each component."""
        return np.square(self.singular_values_) / (self.n_samples_ - 1.0)

    @property
    def explained_variance_ratio_(self):
        """(K,): explained_variance_ as a fraction of total_variance_."""
        return np.square(self.singular_values_) / ((self.n_samples_ - 1.0) * self.total_variance_)

    def transform(self, x):
        """Coordinates of x in the principal directions. x: (N, D). Returns codes: (N, K)."""
        centred = np.asarray(x, dtype=np.float64) - self.mean_
        return np.einsum("nd,kd->nk", centred, self.components_)

    def inverse_transform(self, codes):
        """Back to data space. codes: (N, K). Returns x_hat: (N, D), on the K-dim subspace
        through mean_ spanned by the components."""
        codes = np.asarray(codes, dtype=np.float64)
        return self.mean_ + np.einsum("nk,kd->nd", codes, self.components_)

    def reconstruct(self, x):
        """The rank-K reconstruction of x: (N, D) -> (N, D)."""
        return self.inverse_transform(self.transform(x))


def principal_angles(basis_a, basis_b):
    """The principal angles between the subspaces spanned by the ROWS of two matrices.

    With Qa, Qb orthonormal bases of the two subspaces (as columns), the cosines of the
    angles are the singular values of Qa^T Qb. Angle 0: a shared direction; pi/2: a
    direction of one subspace orthogonal to all of the other. Two bases of the same
    subspace give all angles 0, however different the bases look.

    basis_a: (Ka, D); basis_b: (Kb, D); rows linearly independent, not necessarily
    orthonormal. Returns angles: (min(Ka, Kb),) in radians, in increasing order.
    """
    qa = np.linalg.qr(np.transpose(basis_a))[0]
    qb = np.linalg.qr(np.transpose(basis_b))[0]
    cosines = np.linalg.svd(qb.T @ qa)[1]  # decreasing cosines -> increasing angles
    return np.arccos(np.minimum(np.maximum(cosines, -1.0), 1.0))
