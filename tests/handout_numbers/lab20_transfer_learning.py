from tests.handout_numbers import Claim

CLAIMS = [
    Claim("dann_beats_source_only", "source_only",
          "| source-only (lambda 0), checked by `dann_beats_source_only` | 250 steps of 64 pairs, "
          "Adam 3e-3 annealed, mean of seeds 0 and 1 | 56.7 % |", at_least=0.556, at_most=0.578),
    Claim("dann_beats_source_only", "dann",
          "| DANN (lambda ramped to 0.5), checked by `dann_beats_source_only` | the same | "
          "62.1 % |", at_least=0.610, at_most=0.632),
    Claim("dann_beats_source_only", lambda out: out["dann"] - out["source_only"],
          "DANN beats source-only by 5.5 points (the mean over seeds 0 and 1", at_least=0.050,
          at_most=0.060),
]
