from tests.handout_numbers import Claim

CLAIMS = [
    Claim("rbm_trains_on_digits", "log_likelihood",
          "SGD 0.1 with momentum 0.9, 200 steps of 64 | −19.84 nats", at_least=-19.85,
          at_most=-19.83),
    Claim("rbm_trains_on_digits", "baseline",
          "independent pixels (counts + 1, the check's baseline) | — | −25.18 nats",
          at_least=-25.19, at_most=-25.17),
    Claim("ebm_trains_on_blobs", "log_likelihood",
          "Adam 1e-2, 150 steps of 128, 5 Langevin steps of 0.1 | −2.69 nats", at_least=-2.70,
          at_most=-2.68),
    Claim("ebm_trains_on_blobs", "baseline",
          "one Gaussian (scipy, the check's baseline) | — | −4.04 nats", at_least=-4.045,
          at_most=-4.035),
    Claim("capacity_knee", lambda output: output["recalled"][2],
          "| recalled from 10 % noise | 1.00 | 0.93 | 0.68 | 0.30 | 0.03 |", at_least=0.675,
          at_most=0.685),
    Claim("capacity_knee", lambda output: output["stable"][1],
          "| stable | 1.00 | 0.86 | 0.72 | 0.36 | 0.05 |", at_least=0.855, at_most=0.865),
]
