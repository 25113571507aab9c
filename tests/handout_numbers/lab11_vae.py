from tests.handout_numbers import Claim

CLAIMS = [
    Claim("train_step_trains", "after",
          "Adam 3e-3, batch 64, 10 epochs | 21.7 (18.6 reconstruction + 3.1 KL)", at_most=22.2),
]
