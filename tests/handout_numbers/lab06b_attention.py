from tests.handout_numbers import Claim

CLAIMS = [
    Claim("attention_beats_no_attention", "attention",
          "with attention, 96.7 % of held-out digits right", at_least=0.94),
    Claim("attention_beats_no_attention", "attention_sequences",
          "(82 % of whole sequences)", at_least=0.75),
    Claim("attention_beats_no_attention", "no_attention",
          "without attention, 44.6 % (no whole sequence)", at_most=0.5),
    Claim("attention_beats_no_attention", "no_attention_sequences",
          "(no whole sequence)", at_most=0.02),
    Claim("attention_beats_no_attention", "mirror",
          "the attention puts 0.66 of its weight on the mirrored position", at_least=0.6),
]
