from tests.handout_numbers import Claim

CLAIMS = [
    Claim("reinforce_trains", "last",
          "averaged over the two seeds, is 60.7",
          at_least=59.5, at_most=61.5),
]
