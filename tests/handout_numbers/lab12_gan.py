from autograder.checks.lab12_gan.public import trained_distance
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("gan_learns_moons", trained_distance,
          "energy distance 1.03 at initialisation, 0.023 after training", at_most=0.05),
]
