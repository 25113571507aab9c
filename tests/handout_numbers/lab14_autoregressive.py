from tests.handout_numbers import Claim

CLAIMS = [
    Claim("made_trains", "after", "Adam 1e-2, batch 64, 8 epochs | 0.435", at_most=0.445),
    Claim("pixelcnn_trains", "after", "Adam 2e-2, batch 64, 4 epochs | 0.469", at_most=0.475),
]

CLAIMS += [
    Claim("nade_trains", "after", "NADE(64, 32) (`nade_trains`) | Adam 2e-2, batch 64, 4 epochs "
          "| 0.467", at_most=0.475),
    Claim("gated_trains", "after", "(`gated_trains`) | Adam 2e-2, batch 64, 3 epochs | 0.551",
          at_most=0.56),
    Claim("gated_trains", "wrong_labels", "wrong label for every test digit | Adam 2e-2, "
          "batch 64, 3 epochs | 0.607", at_least=0.6, at_most=0.615),
    Claim("gated_trains", lambda out: out["wrong_labels"] - out["after"],
          "the true label is worth 0.056 bit per dimension", at_least=0.05),
]
