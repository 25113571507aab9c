from tests.handout_numbers import Claim

CLAIMS = [
    Claim("distillation_beats_training_alone", "alone",
          "| student alone (alpha 1), checked by `distillation_beats_training_alone` | 60 "
          "full-batch steps on 30 digits, Adam 1e-2, seed 0 | 82.0 % |",
          at_least=0.815, at_most=0.825),
    Claim("distillation_beats_training_alone", "distilled",
          "| student distilled (T 4, alpha 0.1), checked by `distillation_beats_training_alone` "
          "| the same | 90.0 % |", at_least=0.895, at_most=0.905),
    Claim("distillation_beats_training_alone", "teacher",
          "| the checks' teacher (not graded) | 100 Adam steps of 128 digits | 94.4 % |",
          at_least=0.9395, at_most=0.9495),
    Claim("distillation_beats_training_alone", lambda out: out["distilled"] - out["alone"],
          "The distilled student beats the one trained alone by 8.0 points at seed 0.",
          at_least=0.075, at_most=0.085),
    Claim("qat_survives_int8", "float",
          "| float MLP (not graded) | 40 Adam steps of 128 digits, seed 0 | 84.9 % | 84.9 % |",
          at_least=0.8485, at_most=0.8495),
    Claim("qat_survives_int8", "float_int8",
          "| float MLP (not graded) | 40 Adam steps of 128 digits, seed 0 | 84.9 % | 84.9 % |",
          at_least=0.8485, at_most=0.8495),
    Claim("qat_survives_int8", "qat",
          "| QAT MLP, checked by `qat_survives_int8` | the same | 85.1 % | 85.1 % |",
          at_least=0.8505, at_most=0.8515),
    Claim("qat_survives_int8", "qat_int8",
          "| QAT MLP, checked by `qat_survives_int8` | the same | 85.1 % | 85.1 % |",
          at_least=0.8505, at_most=0.8515),
]
