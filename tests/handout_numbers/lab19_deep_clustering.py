from tests.handout_numbers import Claim


def _score(method, metric):
    return lambda output: output[method][metric]


CLAIMS = [
    Claim("dec_and_idec_train", _score("raw", "accuracy"),
          "| k-means on the raw pixels | 0.800 | 0.750 |", at_least=0.795, at_most=0.805),
    Claim("dec_and_idec_train", _score("raw", "nmi"),
          "| k-means on the raw pixels | 0.800 | 0.750 |", at_least=0.745, at_most=0.755),
    Claim("dec_and_idec_train", _score("codes", "accuracy"),
          "| k-means on the autoencoder's codes | 0.791 | 0.739 |", at_least=0.786, at_most=0.796),
    Claim("dec_and_idec_train", _score("codes", "nmi"),
          "| k-means on the autoencoder's codes | 0.791 | 0.739 |", at_least=0.734, at_most=0.744),
    Claim("dec_and_idec_train", _score("dec", "accuracy"),
          "| DEC, from those codes and centres | 0.810 | 0.778 |", at_least=0.805, at_most=0.815),
    Claim("dec_and_idec_train", _score("dec", "nmi"),
          "| DEC, from those codes and centres | 0.810 | 0.778 |", at_least=0.773, at_most=0.783),
    Claim("dec_and_idec_train", _score("idec", "accuracy"),
          "| IDEC (γ = 1), the same | 0.811 | 0.778 |", at_least=0.806, at_most=0.816),
    Claim("dec_and_idec_train", _score("idec", "nmi"),
          "| IDEC (γ = 1), the same | 0.811 | 0.778 |", at_least=0.773, at_most=0.783),
    # "about +0.02 accuracy and +0.04 NMI over k-means on the same codes"
    Claim("dec_and_idec_train", lambda o: o["dec"]["accuracy"] - o["codes"]["accuracy"],
          "about +0.02 accuracy", at_least=0.01, at_most=0.03),
    Claim("dec_and_idec_train", lambda o: o["dec"]["nmi"] - o["codes"]["nmi"],
          "+0.04 NMI over k-means on the same codes", at_least=0.03, at_most=0.05),
]
