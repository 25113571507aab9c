from tests.handout_numbers import Claim


def _score(method, metric):
    return lambda output: output[method][metric]


CLAIMS = [
    Claim("dec_and_idec_train", _score("raw", "accuracy"),
          "| k-means on the raw pixels | 0.800 | 0.750 |", at_least=0.795, at_most=0.805),
    Claim("dec_and_idec_train", _score("raw", "nmi"),
          "| k-means on the raw pixels | 0.800 | 0.750 |", at_least=0.745, at_most=0.755),
    Claim("dec_and_idec_train", _score("codes", "accuracy"),
          "| k-means on the autoencoder's codes | 0.785 | 0.731 |", at_least=0.78, at_most=0.79),
    Claim("dec_and_idec_train", _score("codes", "nmi"),
          "| k-means on the autoencoder's codes | 0.785 | 0.731 |", at_least=0.726, at_most=0.736),
    Claim("dec_and_idec_train", _score("dec", "accuracy"),
          "| DEC, from those codes and centres | 0.821 | 0.779 |", at_least=0.816, at_most=0.826),
    Claim("dec_and_idec_train", _score("dec", "nmi"),
          "| DEC, from those codes and centres | 0.821 | 0.779 |", at_least=0.774, at_most=0.784),
    Claim("dec_and_idec_train", _score("idec", "accuracy"),
          "| IDEC (γ = 1), the same | 0.823 | 0.782 |", at_least=0.818, at_most=0.828),
    Claim("dec_and_idec_train", _score("idec", "nmi"),
          "| IDEC (γ = 1), the same | 0.823 | 0.782 |", at_least=0.777, at_most=0.787),
    # "about +0.04 accuracy and +0.05 NMI over k-means on the same codes"
    Claim("dec_and_idec_train", lambda o: o["dec"]["accuracy"] - o["codes"]["accuracy"],
          "about +0.04 accuracy", at_least=0.03, at_most=0.05),
    Claim("dec_and_idec_train", lambda o: o["dec"]["nmi"] - o["codes"]["nmi"],
          "+0.05 NMI over k-means on the same codes", at_least=0.04, at_most=0.06),
]
