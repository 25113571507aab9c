from autograder.checks.lab11_vae.public_model_beta import beta_kls
from autograder.checks.lab11_vae.public_model_extensions import iwae_gain, requested_digit_accuracy
from autograder.checks.lab11_vae.public_score_function import variance_ratio
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_trains", "after",
          "Adam 3e-3, batch 64, 10 epochs | 21.4 (16.8 reconstruction + 4.6 KL)", at_most=21.8),
    Claim("beta_vae_trades_kl_for_reconstruction", lambda output: beta_kls(output)[0],
          "β = 0.5: 20.7 reconstruction + 6.2 KL", at_least=6.0, at_most=6.5),
    Claim("beta_vae_trades_kl_for_reconstruction", lambda output: beta_kls(output)[1],
          "β = 4: 28.2 reconstruction + 0.64 KL", at_least=0.5, at_most=0.8),
    Claim("iwae_tightens_with_more_samples", iwae_gain,
          "S = 100 rises 0.27 nats above it", at_least=0.2),
    Claim("cvae_generates_requested_digits", requested_digit_accuracy,
          "90 % of the samples look like the digit asked for", at_least=0.8),
    Claim("ppca_maximum_likelihood", "test",
          "the test log-likelihood is 16.6 nats per image", at_least=16.5, at_most=16.7),
    Claim("ppca_maximum_likelihood", lambda output: output["train"] - output["perturbed"]["sigma^2 times 0.8"],
          "σ² × 0.8 about 0.7", at_least=0.6, at_most=0.8),
    Claim("estimator_variances", variance_ratio,
          "is 17.4 times reparameterisation's", at_least=17.3, at_most=17.5),
]
