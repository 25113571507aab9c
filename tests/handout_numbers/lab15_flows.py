from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_lowers_nll", "after",
          "RealNVP, 4 couplings, hidden (64,) (check 17) | Adam 1e-2 with cosine decay, "
          "200 steps of 256 | 2.83", at_most=2.86),
    Claim("train_step_lowers_nll", "before",
          "untrained RealNVP after `initialize` (a Gaussian fitted to the data) | — | 3.43",
          at_least=3.40, at_most=3.46),
]
