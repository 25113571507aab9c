"""Public checks of lab01_mlp_backprop, part 3: regions.py, the exact linear regions of a
ReLU network on a 1-D input."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab01_mlp_backprop import probes
from autograder.checks.lab01_mlp_backprop.probes import (
    network_name,
    random_relu_network,
    standing_in,
)
from autograder.verdicts import expect_close, expect_equal

# Networks of one, two and three hidden layers: in the deeper ones a piece's pattern
# decided at its end instead of its middle, or a layer's zeros found on the wrong
# affine map, moves breakpoints.
BREAKPOINT_NETWORKS = [((1, 8, 8, 1), 3.0), ((1, 6, 6, 6, 2), 4.0), ((1, 9, 1), 2.0)]


@check(points=2, uses="regions", task="`activation_breakpoints`",
       hint="on an interval where earlier layers are fixed, a pre-activation is slope * t + "
            "offset and crosses zero at t = -offset / slope: split there, then zero slope "
            "and offset of the units that are off on each piece (decided at its midpoint) "
            "before the next layer; return the breakpoints sorted")
def activation_breakpoints(lab, rng):
    """The exact breakpoints, sorted, of three random networks with one to three hidden
    layers."""
    found = []
    for sizes, reach in BREAKPOINT_NETWORKS:
        weights, biases = random_relu_network(rng, sizes)
        found.append(lab.regions.activation_breakpoints(weights, biases, -reach, reach))
    return {"breakpoints": found}


@activation_breakpoints.verdict
def _(student, reference):
    for (sizes, reach), mine, theirs in zip(BREAKPOINT_NETWORKS, student["breakpoints"],
                                            reference["breakpoints"]):
        where = f"for a {'-'.join(map(str, sizes))} network on (-{reach:g}, {reach:g})"
        if mine is None:
            raise CheckFailed(f"activation_breakpoints {where} returned None (is a `return` "
                              "missing?)")
        found = np.asarray(mine, dtype=np.float64).reshape(-1)
        if np.any(np.diff(found) <= 0):
            raise CheckFailed(f"activation_breakpoints {where} is not sorted and distinct: "
                              "the docstring asks for a sorted array (np.sort, or collect the "
                              "starts of the pieces in order)")
        if len(found) != len(theirs):
            raise CheckFailed(f"activation_breakpoints found {len(found)} breakpoints {where}, "
                              f"expected {len(theirs)}")
        expect_close(found, theirs, f"activation_breakpoints {where}", rtol=1e-7, atol=1e-9)


@check(points=1, uses="regions", task="`count_linear_regions`",
       hint="B breakpoints cut [lo, hi] into B + 1 regions")
def count_linear_regions(lab, rng):
    """The region count of a 1-10-10-2 network, given correct breakpoints."""
    weights, biases = random_relu_network(rng, (1, 10, 10, 2))
    with standing_in(lab.regions, activation_breakpoints=probes.activation_breakpoints):
        count = lab.regions.count_linear_regions(weights, biases, -4.0, 4.0)
    return {"count": count, "network": network_name(weights)}


@count_linear_regions.verdict
def _(student, reference):
    expect_equal(student["count"], reference["count"],
                 f"count_linear_regions on [-4, 4] for a {student['network']} network")
