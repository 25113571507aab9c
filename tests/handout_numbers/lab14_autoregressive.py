from tests.handout_numbers import Claim

CLAIMS = [
    Claim("made_trains", "after", "Adam 1e-2, batch 64, 8 epochs | 0.435", at_most=0.445),
    Claim("pixelcnn_trains", "after", "Adam 2e-2, batch 64, 8 epochs | 0.456", at_most=0.47),
]

CLAIMS += [
    Claim("nade_trains", "after", "NADE(64, 32) (`nade_trains`) | Adam 2e-2, batch 64, 4 epochs "
          "| 0.467", at_most=0.475),
    Claim("gated_trains", lambda out: out["unconditional"]["after"],
          "(`gated_trains`) | Adam 2e-2, batch 64, 3 epochs | 0.551", at_most=0.56),
    Claim("gated_trains", lambda out: out["conditional"]["after"],
          "num_classes=10) | Adam 2e-2, batch 64, 3 epochs | 0.528", at_most=0.54),
    Claim("gated_trains", lambda out: out["unconditional"]["after"] - out["conditional"]["after"],
          "the digit's label is worth 0.023 bit per dimension", at_least=0.015),
]
