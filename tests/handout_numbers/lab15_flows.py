from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_lowers_nll", "after",
          "the same, trained by `train_step_lowers_nll` | Adam 1e-2 with cosine decay, "
          "200 steps of 256 | 3.20", at_most=3.22),
    Claim("train_step_lowers_nll", "before",
          "the check's untrained stack (the identity: N(0, I) itself) | — | 3.91",
          at_least=3.88, at_most=3.94),
    Claim("train_step_lowers_nll", "logged_loss",
          "3.23 nats here", at_least=3.21, at_most=3.25),
]
