from autograder.checks.lab11_vae.public_model_beta import beta_kls
from autograder.checks.lab11_vae.public_model_extensions import iwae_gain, requested_digit_accuracy
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_trains", "after",
          "Adam 3e-3, batch 64, 10 epochs | 21.4 (16.8 reconstruction + 4.6 KL)", at_most=21.8),
    Claim("beta_vae_trades_kl_for_reconstruction", lambda output: beta_kls(output)[0],
          "β = 0.5: 16.0 reconstruction + 8.1 KL", at_least=7.0),
    Claim("beta_vae_trades_kl_for_reconstruction", lambda output: beta_kls(output)[1],
          "β = 4: 25.9 reconstruction + 0.16 KL", at_most=0.3),
    Claim("iwae_tightens_with_more_samples", iwae_gain,
          "S = 100 rises 0.27 nats above it", at_least=0.2),
    Claim("cvae_generates_requested_digits", requested_digit_accuracy,
          "90 % of the samples look like the digit asked for", at_least=0.8),
]
