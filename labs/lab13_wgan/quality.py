"""Lab 13, part 6: a Fréchet distance, a GAN's quality number.

A GAN's losses say little about its samples (the critic keeps moving). The Fréchet
distance (the "FID" of Heusel et al., 2017, there on Inception features) compares the
samples with held-out data in the feature space of a classifier: fit one Gaussian to each
set of features and take the Fréchet (W2) distance between the two Gaussians,

    FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

Lower is better; 0 only when both sets have the same mean and covariance. Here the
classifier is a small MLP trained in the kit to tell the 8 modes of the ring apart
(`train_feature_classifier`); its last hidden layer gives the features.
"""
import numpy as np


def feature_statistics(features):
    """Mean and covariance of a set of feature vectors.

    features: (N, D), one row per sample. Returns (mean (D,), covariance (D, D)), float64
    numpy arrays; the covariance is the unbiased one (divided by N - 1).
    """
    features = np.asarray(features, dtype=np.float64)
    # TODO: the mean over rows; centred rows, (X^T X) / (N - 1)
    raise NotImplementedError("fill in the TODO above")


def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """The Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b): a Python float.

        ||mean_a - mean_b||^2 + Tr(cov_a) + Tr(cov_b) - 2 Tr((cov_a cov_b)^(1/2))

    mean_*: (D,); cov_*: (D, D) symmetric positive semi-definite. (cov_a cov_b)^(1/2) is a
    matrix square root, NOT the elementwise one. Two routes: scipy.linalg.sqrtm(cov_a @
    cov_b) (its real part: rounding leaves tiny imaginary parts), or by symmetric
    eigendecompositions: Tr((A B)^(1/2)) = sum of the square roots of the eigenvalues of
    A^(1/2) B A^(1/2), which is symmetric (clip tiny negative eigenvalues to 0).
    """
    mean_a, cov_a, mean_b, cov_b = (np.asarray(a, dtype=np.float64)
                                    for a in (mean_a, cov_a, mean_b, cov_b))
    # TODO: squared mean gap + Tr(A) + Tr(B) - 2 Tr((A B)^(1/2)), a matrix square root
    raise NotImplementedError("fill in the TODO above")


def frechet_distance_of_features(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two sets of features (N, D), (M, D)."""
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))


def ring_mode_labels(points):
    """The nearest of the ring's 8 mode centres, for each point (N, 2): int (N,)."""
    from dlkit.data import toy2d_modes
    modes = toy2d_modes("ring")
    return np.argmin(np.linalg.norm(points[:, None, :] - modes[None], axis=-1), axis=1)


def train_feature_classifier(n=4000, hidden_units=32, epochs=5, seed=0):
    """A small MLP trained to tell which of the ring's 8 modes a point is closest to, on
    points spread around the ring (noise 0.5, so the space between the modes is seen too).
    Returns a keras.Model x (N, 2) -> its last hidden layer's features (N, hidden_units).
    Trained once with a fixed seed: every model is then measured with the same features."""
    import keras

    from dlkit.data import sample_toy2d
    keras.utils.set_random_seed(seed)
    x = sample_toy2d("ring", n, seed=seed, noise=0.5)
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(hidden_units, activation="relu")(inputs)
    features = keras.layers.Dense(hidden_units, activation="relu")(hidden)
    classifier = keras.Model(inputs, keras.layers.Dense(8)(features))
    classifier.compile(keras.optimizers.Adam(1e-2),
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(x, ring_mode_labels(x), batch_size=128, epochs=epochs, verbose=0)
    return keras.Model(inputs, features, name="ring_features")
