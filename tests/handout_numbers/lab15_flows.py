from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_lowers_nll", "after",
          "the same, trained by `train_step_lowers_nll` | Adam 1e-2 with cosine decay, "
          "200 steps of 256 | 2.83", at_most=2.86),
    Claim("train_step_lowers_nll", "before",
          "the check's untrained stack after initialisation (a Gaussian fitted to the data) | — "
          "| 3.43", at_least=3.40, at_most=3.46),
    Claim("train_step_lowers_nll", "logged_loss",
          "2.86 nats here", at_least=2.84, at_most=2.88),
]
