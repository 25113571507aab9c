from tests.handout_numbers import Claim

CLAIMS = [
    Claim("vqvae_trains_on_digits", "mean_image_mse",
          "the mean training image (no codes at all) | — | test MSE 0.074",
          at_least=0.0735, at_most=0.0745),
    Claim("vqvae_trains_on_digits", "mse",
          "Adam 5e-3, 300 steps of 64 | test MSE 0.014, perplexity 15.4 of 16", at_most=0.0145),
    Claim("vqvae_trains_on_digits", "perplexity",
          "Adam 5e-3, 300 steps of 64 | test MSE 0.014, perplexity 15.4 of 16", at_least=15.35),
    Claim("code_prior_trains", "per_position",
          "independent per-position categorical models (numpy) | — | 2.08 bits per code",
          at_least=2.075, at_most=2.085),
    Claim("code_prior_trains", "bits",
          "Adam 1e-2, 300 steps of 64 | 1.67 bits per code", at_most=1.675),
]
