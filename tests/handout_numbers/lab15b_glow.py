from tests.handout_numbers import Claim

CLAIMS = [
    Claim("glow_trains_on_digits", "bits",
          "Adam 2e-2 with cosine decay, 100 steps of 64 | 3.18 bits/dim", at_most=3.23),
    Claim("glow_trains_on_digits", "gaussian",
          "independent per-pixel Gaussians (numpy, the check's baseline) | — | 3.38 bits/dim",
          at_least=3.37, at_most=3.39),
    Claim("glow_trains_on_digits", "full_gaussian",
          "full-covariance Gaussian (numpy) | — | 2.94 bits/dim", at_least=2.93, at_most=2.95),
    Claim("glow_trains_on_digits", "categorical",
          "independent per-pixel categorical models (numpy) | — | 2.43 bits/dim",
          at_least=2.42, at_most=2.44),
    Claim("reverse_kl_fits_banana", "kl",
          "Adam 1e-2 with cosine decay, 150 steps of 128 samples | KL 0.10 nats", at_most=0.12),
]
