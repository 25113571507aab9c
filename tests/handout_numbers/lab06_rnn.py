from tests.handout_numbers import Claim

CLAIMS = [
    Claim("seq2seq_learns_to_reverse", "token_accuracy",
          "the argmax gets 54.6 % of held-out digits right", at_least=0.52),
    Claim("seq2seq_learns_to_reverse", "sequence_accuracy", "3 % of whole sequences)",
          at_least=0.02),
    Claim("char_lm_trains", "valid_bits", "validation 3.00 bits per character", at_most=3.05),
]
