from tests.handout_numbers import Claim

CLAIMS = [
    Claim("infonce_trains", "estimate", "| the reference after the budget | 0.99 |",
          at_least=0.96, at_most=1.03),
    Claim("infonce_trains", "before", "| the untrained critic | 0.01 |",
          at_least=-0.05, at_most=0.05),
    Claim("infonce_trains", "truth", "| the true I(X; Y) | 1.02 |",
          at_least=1.015, at_most=1.025),
]
