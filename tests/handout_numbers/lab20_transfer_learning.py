from tests.handout_numbers import Claim

CLAIMS = [
    Claim("dann_beats_source_only", "source_only",
          "| source-only (lambda 0), checked by `dann_beats_source_only` | 250 steps of 64 pairs, "
          "Adam 3e-3 | 51.6 % |", at_least=0.505, at_most=0.527),
    Claim("dann_beats_source_only", "dann",
          "| DANN (lambda ramped to 1), checked by `dann_beats_source_only` | the same | "
          "62.8 % |", at_least=0.617, at_most=0.639),
    Claim("dann_beats_source_only", lambda out: out["dann"] - out["source_only"],
          "beats source-only by 11.2 points at the check's seed", at_least=0.107,
          at_most=0.117),
]
