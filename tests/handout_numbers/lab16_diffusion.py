from autograder.checks.lab16_diffusion.probes import trained_distance
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("diffusion_learns_moons", trained_distance,
          "energy distance 0.021 between the EMA network's samples and held-out data",
          at_most=0.025),
    Claim("diffusion_learns_moons", lambda output: trained_distance({**output,
                                                                    "samples": output["noise"]}),
          "the starting noise is at 0.165", at_least=0.15, at_most=0.18),
]
