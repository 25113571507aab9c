from tests.handout_numbers import Claim

CLAIMS = [
    Claim("attention_beats_no_attention", "attention",
          "with attention, 100 % of held-out digits right", at_least=0.995),
    Claim("attention_beats_no_attention", "attention_sequences",
          "(100 % of whole sequences)", at_least=0.995),
    Claim("attention_beats_no_attention", "mirror",
          "the attention puts 0.76 of its weight on the mirrored position", at_least=0.74,
          at_most=0.79),
]
