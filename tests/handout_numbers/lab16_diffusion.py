from tests.handout_numbers import Claim

CLAIMS = [
    Claim("diffusion_learns_moons", "after",
          "loss falls from 0.81 to 0.46", at_least=0.44, at_most=0.48),
    Claim("diffusion_learns_moons", "before",
          "loss falls from 0.81 to 0.46", at_least=0.78, at_most=0.84),
]
