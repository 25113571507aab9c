import numpy as np

from tests.handout_numbers import Claim


def _flow_gap(output):
    return np.abs(np.asarray(output["outputs"]) - np.asarray(output["flow"])).max()


def _monte_carlo_gap(output):
    mean = np.asarray(output["samples"]).mean(axis=0)
    return np.abs(np.asarray(output["same"]) - mean).max() / np.abs(mean).max()


def _scatter(output):
    samples = np.asarray(output["samples"])
    return np.median(samples.std(axis=0, ddof=1) / np.abs(samples.mean(axis=0)))


CLAIMS = [
    Claim("train_full_batch", _flow_gap,
          "stay within 0.031 of the kernel gradient flow", at_most=0.035),
    Claim("ntk_drift", "width_16", "moves by 0.082 at width 16", at_least=0.07, at_most=0.095),
    Claim("ntk_drift", "width_512", "and by 0.022 at width 512", at_least=0.018, at_most=0.026),
    Claim("nngp_kernel", _monte_carlo_gap, "within 2.1 % of the largest entry", at_most=0.022),
    Claim("ntk_kernel", _monte_carlo_gap, "within 5.6 % of the largest entry", at_most=0.057),
    Claim("ntk_kernel", _scatter, "still scatters by 12 % (median relative standard deviation",
          at_least=0.11, at_most=0.13),
]
