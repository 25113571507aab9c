from tests.handout_numbers import Claim

CLAIMS = [
    Claim("simclr_beats_random_encoder", "random", "| randomly initialised | 0.578 |",
          at_least=0.575, at_most=0.581),
    Claim("simclr_beats_random_encoder", "pretrained",
          "| SimCLR-pretrained, the budget above | 0.722 |", at_least=0.71, at_most=0.73),
    Claim("simclr_beats_random_encoder", lambda out: out["pretrained"] - out["random"],
          "| margin (pretrained − random) | 0.144 |", at_least=0.13, at_most=0.15),
    Claim("simclr_beats_random_encoder", "first_loss", "from 5.35 to 4.56",
          at_least=5.34, at_most=5.36),
    Claim("simclr_beats_random_encoder", "last_loss", "from 5.35 to 4.56",
          at_least=4.55, at_most=4.58),
    Claim("cpc_trains", "before", "falls from 6.80", at_least=6.79, at_most=6.81),
    Claim("cpc_trains", "after", "to 6.07, and", at_least=6.06, at_most=6.08),
    Claim("cpc_trains", "probe", "reaches 0.855 on 256 held-out sequences",
          at_least=0.85, at_most=0.86),
    Claim("linear_probe", "accuracy", "the reference\nreaches 0.762", at_least=0.759,
          at_most=0.765),
    Claim("linear_probe", "sklearn", "on the same features: 0.787", at_least=0.785,
          at_most=0.789),
]
