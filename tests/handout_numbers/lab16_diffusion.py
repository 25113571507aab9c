from tests.handout_numbers import Claim

CLAIMS = [
    Claim("diffusion_learns_moons", "after",
          "loss falls from 0.81 to 0.46", at_least=0.44, at_most=0.48),
    Claim("diffusion_learns_moons", "before",
          "loss falls from 0.81 to 0.46", at_least=0.78, at_most=0.84),
    Claim("unet_learns_digits", "after",
          "held-out loss falls from 0.80 to 0.49", at_least=0.45, at_most=0.50),
    Claim("unet_learns_digits", "before",
          "held-out loss falls from 0.80 to 0.49", at_least=0.78, at_most=0.82),
    Claim("unet_learns_digits", "baseline",
          "baseline reaches 0.54", at_least=0.50, at_most=0.56),
]
