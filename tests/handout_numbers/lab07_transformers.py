from tests.handout_numbers import Claim

CLAIMS = [
    Claim("gpt_trains_on_toy_language", "after", "held-out next-token loss 0.66 nats",
          at_most=0.7),
    Claim("gpt_trains_on_toy_language", "accuracy", "80 % of next tokens right",
          at_least=0.76),
    Claim("vit_trains_on_shapes", "accuracy", "held-out accuracy 52 % on 500 test images",
          at_least=0.48),
]
