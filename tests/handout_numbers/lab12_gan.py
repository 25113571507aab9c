from autograder.checks.lab12_gan.probes import trained_distance
from autograder.checks.lab12_gan.public_training import requested_class_accuracy, ring_coverage
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("gan_learns_moons", trained_distance,
          "energy distance 0.22 at initialisation, 0.026 after training", at_most=0.05),
    Claim("gan_covers_the_ring", lambda output: ring_coverage(output)[0],
          "all 8 modes covered", at_least=7),
    Claim("gan_covers_the_ring", lambda output: ring_coverage(output)[1],
          "35 % of the samples within 3 std of a mode", at_least=0.3),
    Claim("cgan_follows_requested_class", requested_class_accuracy,
          "99.8 % of the samples land in the moon requested", at_least=0.95),
]
