from tests.handout_numbers import Claim


def _relative_gap(steps):
    """|sum(IG) - (f(x) - f(baseline))| over |f(x) - f(baseline)|, summed over the batch."""
    def measure(output):
        import numpy as np
        x, b = (np.asarray(output[k], dtype=np.float64) for k in ("x", "baseline"))
        change = np.array([3.0, 1.0, 2.0]) * (np.sin(x).reshape(3, -1).sum(1)
                                              - np.sin(b).reshape(3, -1).sum(1))
        return float(np.abs(np.asarray(output[f"ig_gap_{steps}"])).sum() / np.abs(change).sum())
    return measure


CLAIMS = [
    Claim("completeness", _relative_gap(4), "| 4 | 1.8e-2 |", at_least=1.7e-2, at_most=1.9e-2),
    Claim("completeness", _relative_gap(16), "| 16 | 1.1e-3 |", at_least=1.0e-3, at_most=1.2e-3),
    Claim("completeness", _relative_gap(32), "| 32 (the default) | 2.8e-4 |",
          at_least=2.6e-4, at_most=3.0e-4),
    Claim("completeness", _relative_gap(64), "| 64 | 7.1e-5 |", at_least=6.5e-5, at_most=7.6e-5),
]
