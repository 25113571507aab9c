from tests.handout_numbers import Claim

CLAIMS = [
    Claim("made_trains", "after", "Adam 1e-2, batch 64, 8 epochs | 0.435", at_most=0.445),
    Claim("pixelcnn_trains", "after", "Adam 2e-2, batch 64, 8 epochs | 0.456", at_most=0.47),
]
