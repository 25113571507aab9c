from tests.handout_numbers import Claim

CLAIMS = [
    Claim("momentum_on_ill_conditioned_quadratic", "gd_steps",
          "gradient descent needs 452 steps", at_least=430),
    Claim("momentum_on_ill_conditioned_quadratic", "heavy_ball_steps",
          "heavy-ball momentum 58", at_most=60),
    Claim("adam_trains_digits", "test_accuracy",
          "Adam 1e-2, batch 64, 5 epochs | 97.3%", at_least=0.965),
]
