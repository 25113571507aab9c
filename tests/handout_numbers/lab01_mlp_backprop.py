from tests.handout_numbers import Claim

CLAIMS = [
    Claim("keras_mlp_training", "test_accuracy", "Adam, lr 1e-2, batch 64, 10 epochs | 96.4%",
          at_least=0.95),
]
