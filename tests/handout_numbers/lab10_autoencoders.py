from autograder.checks.lab10_autoencoders.probes import largest_angle
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("dense_autoencoder_trains", "pca",
          "PCA | — | test MSE 0.0380 (48.7 % of the variance kept)",
          at_least=0.0375, at_most=0.0385),
    Claim("linear_autoencoder_recovers_pca", largest_angle,
          "largest principal angle 0.12° to the PCA subspace", at_most=0.3),
    Claim("linear_autoencoder_recovers_pca", "mse", "test MSE 0.0380, as PCA", at_most=0.0385),
    Claim("dense_autoencoder_trains", "after",
          "DenseAutoencoder (`dense_autoencoder_trains`) | Adam 1e-2, 300 steps of 64 | test MSE 0.0237",
          at_most=0.0245),
    Claim("conv_autoencoder_trains", "after",
          "ConvAutoencoder (`conv_autoencoder_trains`) | Adam 1e-2, 300 steps of 64 | test MSE 0.0303",
          at_most=0.031),
    Claim("denoising_train_step", "after",
          "denoised test MSE 0.0233 (the noisy digits: 0.0522)", at_most=0.024),
]

# regularized.py
CLAIMS += [
    Claim("sparse_autoencoder_trains", "share", "64.3 % of the code units silent",
          at_least=0.6),
    Claim("sparse_autoencoder_trains", "mse", "test MSE 0.0325", at_most=0.034),
    Claim("contractive_autoencoder_trains", "jacobian", "Jacobian norm 0.176", at_most=0.19),
    Claim("contractive_autoencoder_trains", "mse", "Jacobian norm 0.176; test MSE 0.0616",
          at_most=0.063),
    Claim("anomaly_detection", "auroc", "AUROC 0.858", at_least=0.84),
    Claim("anomaly_detection", "seen_mse", "test MSE of the seen classes 0.0271", at_most=0.028),
]
