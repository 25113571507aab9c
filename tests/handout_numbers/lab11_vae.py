from autograder.checks.lab11_vae.public_model_beta import beta_kls
from autograder.checks.lab11_vae.public_model_extensions import iwae_gain, requested_digit_accuracy
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_trains", "after",
          "Adam 3e-3, batch 64, 10 epochs | 21.7 (18.6 reconstruction + 3.1 KL)", at_most=22.2),
    Claim("beta_vae_trades_kl_for_reconstruction", lambda output: beta_kls(output)[0],
          "β = 0.5: 19.6 reconstruction + 4.9 KL", at_least=4.0),
    Claim("beta_vae_trades_kl_for_reconstruction", lambda output: beta_kls(output)[1],
          "β = 4: 25.8 reconstruction + 0.01 KL", at_most=0.1),
    Claim("iwae_tightens_with_more_samples", iwae_gain,
          "S = 100 rises 0.49 nats above it", at_least=0.35),
    Claim("cvae_generates_requested_digits", requested_digit_accuracy,
          "86 % of the samples look like the digit asked for", at_least=0.8),
]
