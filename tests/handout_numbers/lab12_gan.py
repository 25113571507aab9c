from autograder.checks.lab12_gan.probes import trained_distance
from autograder.checks.lab12_gan.public_training import requested_class_accuracy, ring_coverage
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("gan_learns_moons", trained_distance,
          "energy distance 1.03 at initialisation, 0.023 after training", at_most=0.05),
    Claim("gan_covers_the_ring", lambda output: ring_coverage(output)[0],
          "7.5 of the 8 modes covered", at_least=7),
    Claim("gan_covers_the_ring", lambda output: ring_coverage(output)[1],
          "43 % of the samples within 3 std of a mode", at_least=0.35),
    Claim("cgan_follows_requested_class", requested_class_accuracy,
          "99 % of the samples land in the moon requested", at_least=0.95),
]
