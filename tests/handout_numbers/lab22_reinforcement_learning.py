from tests.handout_numbers import Claim

CLAIMS = [
    Claim("reinforce_trains", "last",
          "episodes is 55.1 (a random policy gets about 20)",
          at_least=54.0, at_most=56.5),
]
