"""Mutants of lab10_autoencoders: the slips of a first PCA and a first autoencoder."""
from tests.mutants import Mutant

PCA = "pca.py"
MODELS = "autoencoders.py"

MUTANTS = [
    # The SVD of uncentred data finds the direction of the mean first, not of the variance.
    Mutant("pca_without_centring", PCA,
           "centred = x - self.mean_",
           "centred = x",
           breaks=("pca_fit_components",)),
    # np.linalg.svd returns Vt: its ROWS are the principal directions, not its columns.
    Mutant("components_from_columns_of_vt", PCA,
           "self.components_ = vt[:k]",
           "self.components_ = vt[:, :k].T",
           breaks=("pca_fit_components",)),
    Mutant("explained_variance_not_squared", PCA,
           "return self.singular_values_ ** 2 / (self.n_samples_ - 1)",
           "return self.singular_values_ / (self.n_samples_ - 1)",
           breaks=("pca_explained_variance",)),
    # Without a decoder bias the reconstructions live in a subspace through the origin: the
    # linear autoencoder spends a direction on the mean and misses the PCA subspace. Still
    # affine, so the model check passes; only training shows it.
    Mutant("linear_decoder_without_bias", MODELS,
           'layers.Dense(self.input_dim, name="reconstruction")',
           'layers.Dense(self.input_dim, use_bias=False, name="reconstruction")',
           breaks=("linear_autoencoder_recovers_pca",)),
    # Scored against its own noisy input, the "denoiser" learns to keep the noise.
    Mutant("denoiser_target_is_the_noisy_input", MODELS,
           "return tf.reduce_mean(tf.square(x_hat - x))",
           "return tf.reduce_mean(tf.square(x_hat - x_noisy))",
           breaks=("denoising_loss", "denoising_train_step")),
    Mutant("interpolation_endpoints_swapped", MODELS,
           "return (1.0 - t) * code_start + t * code_end",
           "return t * code_start + (1.0 - t) * code_end",
           breaks=("interpolate", "interpolate_images")),
    # Unscaled gradients: fine in float32, but under mixed precision the LossScaleOptimizer
    # divides the float16 gradients of an unscaled loss by its scale.
    Mutant("denoiser_loss_not_scaled", "autoencoders.py",
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled_loss = loss",
           breaks=("denoiser_trains_in_mixed_precision",)),
]
