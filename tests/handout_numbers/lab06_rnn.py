from autograder.checks.lab06_rnn.probes import vanishing_ratio
from tests.handout_numbers import Claim

CLAIMS = [
    Claim("seq2seq_learns_to_reverse", "token_accuracy",
          "greedy decoding gets 94.8 % of held-out digits right", at_least=0.92),
    Claim("seq2seq_learns_to_reverse", "sequence_accuracy", "(88 % of whole sequences)",
          at_least=0.84),
    Claim("char_lm_trains", "valid_bits", "validation 2.73 bits per character", at_most=2.80),
    Claim("state_gradient_norms_vanish", vanishing_ratio, "‖∂L/∂h_0‖ is 3e-6 of ‖∂L/∂h_T‖",
          at_most=1e-5),
]
