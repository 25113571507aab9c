from tests.handout_numbers import Claim

CLAIMS = [
    Claim("seq2seq_learns_to_reverse", "token_accuracy",
          "the argmax gets 86.2 % of held-out digits right", at_least=0.84),
    Claim("seq2seq_learns_to_reverse", "sequence_accuracy", "(54 % of whole sequences)",
          at_least=0.5),
    Claim("char_lm_trains", "valid_bits", "validation 2.73 bits per character", at_most=2.80),
]
