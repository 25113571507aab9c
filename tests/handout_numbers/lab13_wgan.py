from autograder.checks.lab13_wgan.probes import exact_w1, initial_distance, trained_distance
from autograder.checks.lab13_wgan.public_training import critic_gap
from tests.handout_numbers import Claim


def exact_distance(output):
    return exact_w1(output["real"], output["fake"])


CLAIMS = [
    Claim("wgan_gp_learns_moons", initial_distance,
          "sliced W1 to held-out data 1.12 at initialisation", at_least=1.05),
    Claim("wgan_gp_learns_moons", trained_distance, "0.32 after training", at_most=0.36),
    Claim("critic_estimates_w1", critic_gap, "the critic's gap is 2.30", at_least=2.2,
          at_most=2.4),
    Claim("critic_estimates_w1", exact_distance, "the exact W1 is 2.05", at_least=2.0,
          at_most=2.1),
]
