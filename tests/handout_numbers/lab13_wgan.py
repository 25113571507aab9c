from autograder.checks.lab13_wgan.probes import exact_w1, initial_distance, trained_distance
from autograder.checks.lab13_wgan.public_training import critic_gap
from tests.handout_numbers import Claim


def exact_distance(output):
    return exact_w1(output["real"], output["fake"])


CLAIMS = [
    Claim("wgan_gp_learns_moons", initial_distance,
          "sliced W1 to held-out data 1.13 at initialisation", at_least=1.05),
    Claim("wgan_gp_learns_moons", trained_distance, "0.33 after training", at_most=0.36),
    Claim("critic_estimates_w1", critic_gap, "the critic's gap is 2.30", at_least=2.2,
          at_most=2.4),
    Claim("critic_estimates_w1", exact_distance, "the exact W1 is 2.05", at_least=2.0,
          at_most=2.1),
]


def sn_gap(output):
    return float(output["gap"])


def fd(index):
    return lambda output: float(output["fd"][index])


CLAIMS += [
    Claim("sn_critic_estimates_w1", sn_gap, "the spectrally normalised critic's gap is 2.01",
          at_least=1.95, at_most=2.04),
    Claim("sn_critic_estimates_w1", exact_distance, "where the exact W1 is 2.03",
          at_least=2.0, at_most=2.06),
    Claim("frechet_distance_ranks_generators", fd(0), "0.006 for a fresh sample", at_most=0.02),
    Claim("frechet_distance_ranks_generators", fd(1), "0.23 for a wider ring", at_least=0.1,
          at_most=0.4),
    Claim("frechet_distance_ranks_generators", fd(2), "19.6 for 4 of the 8 modes",
          at_least=15, at_most=25),
    Claim("frechet_distance_ranks_generators", fd(3), "54.9 for one mode", at_least=45,
          at_most=65),
]
