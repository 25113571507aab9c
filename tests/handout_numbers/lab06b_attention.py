from tests.handout_numbers import Claim

CLAIMS = [
    Claim("attention_beats_no_attention", "attention",
          "with attention, 100 % of held-out digits right", at_least=0.98),
    Claim("attention_beats_no_attention", "attention_sequences",
          "(100 % of whole sequences)", at_least=0.95),
    Claim("attention_beats_no_attention", "no_attention",
          "without attention, 64.3 %", at_most=0.68),
    Claim("attention_beats_no_attention", "no_attention_sequences",
          "(2.5 % of whole sequences)", at_most=0.05),
    Claim("attention_beats_no_attention", "mirror",
          "the attention puts 0.80 of its weight on the mirrored position", at_least=0.75),
]
