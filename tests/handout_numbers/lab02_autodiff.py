from autograder.checks.lab02_autodiff.programs import forward_mode_error, reverse_mode_error
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("reverse_random_programs", reverse_mode_error,
          "reverse-mode error against tf.GradientTape below 1e-15", at_most=1e-15),
    Claim("forward_random_programs", forward_mode_error,
          "forward-mode error against ForwardAccumulator below 1e-15", at_most=1e-15),
]
