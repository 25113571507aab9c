from tests.handout_numbers import Claim

CLAIMS = [
    Claim("prototypical_network_learns", "accuracy_1shot",
          "40 steps of 4 episodes | 90 % | 97 %", at_least=0.885),
    Claim("prototypical_network_learns", "accuracy_5shot",
          "40 steps of 4 episodes | 90 % | 97 %", at_least=0.965),
    Claim("prototypical_network_learns", lambda out: out["accuracy_1shot"] - 0.2,
          "the reference beats chance by 70 points at 1 shot", at_least=0.68),
]
