"""Public checks of lab16b_energy_models, part 1: the Hopfield network (hopfield.py, numpy).

The units are judged against the reference's outputs on the same inputs: random spin-glass
couplings (on which the asynchronous and synchronous dynamics part ways at once), couplings
with many exactly-zero fields (ties), and patterns stored by the projection rule (not the
lab's Hebbian rule). The capacity checks stand in for the pattern draws and corruptions
with the checks' own, keyed by the number of patterns, so that the student's loops may
draw in any order.
"""
import json
from collections import defaultdict

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab16b_energy_models.probes import (
    HOPFIELD,
    projection_weights,
    spins,
    symmetric_weights,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_equal, expect_true


def _if_written(fn, *args):
    """fn(*args) as float64, or None when fn is not written yet or fails: another check's
    unit, used here only to name a slip."""
    try:
        return np.asarray(fn(*args), dtype=np.float64)
    except Exception:
        return None


@check(points=1, uses=HOPFIELD, task="`hebbian_weights`",
       hint="W = patterns.T @ patterns / N (N units, not P patterns), then np.fill_diagonal(W, 0)")
def hebbian_weights(lab, rng):
    """5 random patterns of 12 units: W against the reference's (symmetric, 1/N, zero
    diagonal)."""
    patterns = spins(rng, 5, 12)
    return {"patterns": patterns, "weights": lab.hopfield.hebbian_weights(patterns.copy())}


@hebbian_weights.verdict
def _(student, reference):
    num_patterns, num_units = np.shape(reference["patterns"])
    right = reference["weights"]
    expect_close_naming(student["weights"], right, "hebbian_weights(patterns) for 5 patterns "
                        "of 12 units", [
        (right + num_patterns / num_units * np.eye(num_units), "the diagonal is not zeroed: "
         "W_ii = P/N makes every unit drive itself and every state more stable, corrupted "
         "ones too"),
        (right * num_units, "not divided by N (the number of units)"),
        (right * num_units / num_patterns, "divided by P (the number of patterns); the rule "
         "divides by N, the number of units")])


@check(points=1, uses=HOPFIELD, task="`energy`",
       hint="E(s) = -0.5 * s W s^T per row: -0.5 * np.sum((states @ weights) * states, axis=1)")
def energy(lab, rng):
    """The energies of 6 random states of 10 units on random symmetric couplings."""
    weights, states = symmetric_weights(rng, 10), spins(rng, 6, 10)
    return {"energies": lab.hopfield.energy(weights, states)}


@energy.verdict
def _(student, reference):
    expect_close(student["energies"], reference["energies"], "energy(weights, states) of 6 "
                 "states (one value per row)")


@check(points=2, uses=HOPFIELD, task="`asynchronous_update`",
       hint="copy the states; for i in order: field = states @ weights[i], then states[:, i] = "
            "threshold(field, states[:, i]): each unit sees the units updated before it")
def asynchronous_update(lab, rng):
    """One sweep over 10 units in a random order, and a partial order with a unit visited
    twice, on spin-glass couplings (6 states): against the reference's; the input is left
    unchanged."""
    weights, states = symmetric_weights(rng, 10), spins(rng, 6, 10)
    order = rng.permutation(10)
    given = states.copy()
    full = lab.hopfield.asynchronous_update(weights, given, order)
    return {"full": full, "changed_input": bool(not np.array_equal(given, states)),
            "partial": lab.hopfield.asynchronous_update(weights, states.copy(), [3, 7, 3, 0]),
            "synchronous": _if_written(lab.hopfield.synchronous_update, weights, states.copy()),
            "start": states}


@asynchronous_update.verdict
def _(student, reference):
    expect_true(not student["changed_input"], "asynchronous_update changed the states it was "
                "given: work on a copy (np.array(states)) and return it")
    full = np.asarray(student["full"], dtype=np.float64)
    if (student["synchronous"] is not None and full.shape == np.shape(student["synchronous"])
            and np.array_equal(full, student["synchronous"])
            and not np.array_equal(full, reference["full"])):
        raise CheckFailed("asynchronous_update(weights, states, order) returns what a "
                          "synchronous update gives: every field was computed from the OLD "
                          "states. Update the units one at a time, each field from the current "
                          "states (which hold the units already updated in this sweep)")
    expect_equal(full, reference["full"], "asynchronous_update over a whole random order")
    expect_equal(student["partial"], reference["partial"], "asynchronous_update with order "
                 "[3, 7, 3, 0] (only these units, in this order, unit 3 twice)")


@check(points=1, uses=HOPFIELD, task="`synchronous_update`",
       hint="fields = states @ weights for every unit at once from the old states, then "
            "threshold(fields, states)")
def synchronous_update(lab, rng):
    """One synchronous update of 8 states on integer couplings, where many fields are exactly
    0 (those units keep their state)."""
    a = rng.integers(-1, 2, size=(8, 8)).astype(np.float64)
    weights = np.triu(a, 1) + np.triu(a, 1).T
    return {"new": lab.hopfield.synchronous_update(weights, spins(rng, 8, 8))}


@synchronous_update.verdict
def _(student, reference):
    expect_equal(student["new"], reference["new"], "synchronous_update(weights, states) on "
                 "integer couplings (ties: a unit whose field is 0 keeps its state)")


SWEEPS = 6


@check(points=1, uses=HOPFIELD, reference=False, task="`asynchronous_update`, `energy`",
       hint="asynchronous updates never raise the energy: each unit moves to agree with its "
            "field, and W is symmetric with a zero diagonal")
def energy_never_increases(lab, rng):
    """From 8 random states on spin-glass couplings (12 units): the energy after every single
    unit's update and after each of 6 sweeps in random orders never increases, and the
    states end at a fixed point (one more sweep changes nothing)."""
    hop = lab.hopfield
    weights, states = symmetric_weights(rng, 12), spins(rng, 8, 12)
    by_unit, current = [hop.energy(weights, states)], states
    for i in rng.permutation(12):
        current = hop.asynchronous_update(weights, current, [i])
        by_unit.append(hop.energy(weights, current))
    by_sweep, current = [hop.energy(weights, states)], states
    for _ in range(SWEEPS):
        current = hop.asynchronous_update(weights, current, rng.permutation(12))
        by_sweep.append(hop.energy(weights, current))
    after = hop.asynchronous_update(weights, current, rng.permutation(12))
    return {"by_unit": np.array(by_unit, dtype=np.float64),
            "by_sweep": np.array(by_sweep, dtype=np.float64),
            "fixed_point": bool(np.array_equal(np.asarray(after), np.asarray(current)))}


@energy_never_increases.verdict
def _(student, _reference):
    for name, what in (("by_unit", "one unit's asynchronous update"),
                       ("by_sweep", "an asynchronous sweep")):
        rises = np.diff(student[name], axis=0)
        if np.any(rises > 1e-9):
            step, row = (int(i) for i in np.argwhere(rises > 1e-9)[0])
            raise CheckFailed(f"the energy rose by {rises[step, row]:.4g} over {what} (state "
                              f"{row}, step {step + 1}): asynchronous updates never raise "
                              "E(s) = -1/2 s W s (if the energies look right, the update is "
                              "synchronous, or energy() has the wrong sign)")
    expect_true(student["fixed_point"], f"after {SWEEPS} asynchronous sweeps of 12 units one "
                "more sweep still changed the states: asynchronous dynamics on symmetric "
                "couplings settle in a fixed point (synchronous ones may cycle)")


def _corrupted(rng, patterns, flips):
    states = patterns.copy()
    for row in states:
        row[rng.permutation(len(row))[:flips]] *= -1.0
    return states


@check(points=2, uses=HOPFIELD, task="`recall`",
       hint="rng = np.random.default_rng(seed); up to max_sweeps times: order = "
            "rng.permutation(N), one asynchronous_update, stop when nothing changed")
def recall(lab, rng):
    """Recall of 3 patterns of 30 units (stored by the projection rule) from copies with 5
    units flipped; and on spin-glass couplings (16 units) with max_sweeps 2 and 20: against
    the reference's sweeps in the seeded orders."""
    patterns = spins(rng, 3, 30)
    memory = projection_weights(patterns)
    starts = _corrupted(rng, patterns, 5)
    seed = int(rng.integers(1000))
    remembered = lab.hopfield.recall(memory, starts.copy(), seed)
    glass, states = symmetric_weights(rng, 16), spins(rng, 6, 16)
    given = states.copy()
    out = {"remembered": remembered, "patterns": patterns,
           "two_sweeps": lab.hopfield.recall(glass, given, seed + 1, max_sweeps=2),
           "settled": lab.hopfield.recall(glass, states.copy(), seed + 2, max_sweeps=20)}
    out["changed_input"] = bool(not np.array_equal(given, states))
    return out


@recall.verdict
def _(student, reference):
    expect_true(not student["changed_input"], "recall changed the states it was given: work on "
                "a copy and return the final states")
    remembered = np.asarray(student["remembered"], dtype=np.float64)
    recalls_all = np.array_equal(reference["remembered"], reference["patterns"])
    if recalls_all and remembered.shape == np.shape(reference["patterns"]) and not np.array_equal(
            remembered, reference["patterns"]):
        raise CheckFailed("recall of 3 stored patterns from copies with 5 of 30 units flipped "
                          f"got back {int(np.all(remembered == reference['patterns'], 1).sum())}"
                          " of 3 (the reference recalls all three): run asynchronous sweeps "
                          "until one changes nothing")
    expect_equal(remembered, reference["remembered"], "recall of the corrupted patterns")
    advice = ("rng = np.random.default_rng(seed), ONE rng.permutation(N) per sweep (shared by "
              "every row), max_sweeps sweeps at most, stop after a sweep that changes nothing")
    try:
        expect_equal(student["two_sweeps"], reference["two_sweeps"],
                     "recall(weights, states, seed, max_sweeps=2) on spin-glass couplings")
        expect_equal(student["settled"], reference["settled"],
                     "recall(weights, states, seed, max_sweeps=20) on spin-glass couplings")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}: {advice}") from None


# ---- Capacity -----------------------------------------------------------------------------

class CapacityStandIns:
    """The checks' own random_patterns and corrupt: the k-th call with P patterns draws from
    the checks' generator seeded with (seed, P, k), whatever order the student's loops call
    them in. Calls are counted by P. With `memory`, also a hebbian_weights (the projection
    rule on the first half of the patterns only: those are fixed points, the others not) and
    a recall (per row, the checks' coin: the stored pattern nearest to the start, or the
    start unchanged)."""

    def __init__(self, seed, memory=False):
        self.seed, self.memory = seed, memory
        self.calls = defaultdict(lambda: defaultdict(int))
        self.last_patterns = None
        self.recall_seeds = []

    def _rng(self, what, rows):
        count = self.calls[what][rows]
        self.calls[what][rows] += 1
        return np.random.default_rng([self.seed, len(what), rows, count])

    def random_patterns(self, num_patterns, num_units, rng=None):
        patterns = spins(self._rng("patterns", int(num_patterns)), int(num_patterns),
                         int(num_units))
        self.last_patterns = patterns
        return patterns.copy()

    def corrupt(self, patterns, flip_fraction, rng=None):
        rows = np.asarray(patterns, dtype=float)
        flips = int(round(flip_fraction * rows.shape[1]))
        return _corrupted(self._rng("corrupt", len(rows)), rows, flips)

    def hebbian_weights(self, patterns):
        rows = np.asarray(patterns, dtype=float)
        return projection_weights(rows[:(len(rows) + 1) // 2])

    def recall(self, weights, states, seed, max_sweeps=20):
        self.recall_seeds.append(type(seed).__name__)
        start = np.asarray(states, dtype=float)
        keep = self._rng("recall", len(start)).uniform(size=len(start)) < 0.5
        nearest = self.last_patterns[np.argmax(start @ self.last_patterns.T, axis=1)]
        return np.where(keep[:, None], start, nearest)

    def replacements(self):
        names = ("random_patterns", "corrupt") + (("hebbian_weights", "recall")
                                                  if self.memory else ())
        return {name: getattr(self, name) for name in names}

    def counts(self):
        return json.dumps({what: {str(k): v for k, v in sorted(by_p.items())}
                           for what, by_p in self.calls.items()})


# Loads whose load * N is fractional (2.4 and 6.6 patterns): rounding, truncating and
# rounding up all give different P somewhere.
BOOKKEEPING = {"num_units": 20, "loads": (0.12, 0.33, 0.5), "trials": 3, "flip_fraction": 0.2}


@check(points=2, uses=HOPFIELD, task="`is_stable`, `overlap`, `capacity_curve`",
       hint="per load: P = max(1, round(load * N)); per trial: random_patterns, hebbian_weights, "
            "is_stable, corrupt, recall, overlap >= RECALL_OVERLAP; shares over every trial's "
            "patterns")
def capacity_curve(lab, rng):
    """capacity_curve(20 units, loads 0.12, 0.33, 0.5, 3 trials) on the checks' own pattern
    draws, corruptions, weights (a rule that stores half the patterns) and recall (a coin
    per row): P per load, one draw per trial, and the stable and recalled shares against the
    reference's."""
    stand_ins = CapacityStandIns(int(rng.integers(1000)), memory=True)
    with standing_in(lab.hopfield, **stand_ins.replacements()):
        curve = lab.hopfield.capacity_curve(BOOKKEEPING["num_units"], BOOKKEEPING["loads"],
                                            BOOKKEEPING["trials"], seed=int(rng.integers(1000)),
                                            flip_fraction=BOOKKEEPING["flip_fraction"])
    return {"stable": curve["stable"], "recalled": curve["recalled"],
            "counts": stand_ins.counts(), "recall_seeds": json.dumps(stand_ins.recall_seeds)}


def _pattern_counts(setup, rule):
    """{str(P): trials} for P = max(1, rule(load * N)) per load: what the calls look like."""
    counts = defaultdict(int)
    for load in setup["loads"]:
        counts[str(max(1, int(rule(load * setup["num_units"]))))] += setup["trials"]
    return dict(sorted(counts.items()))


def _judge_counts(student, reference, setup):
    counts, expected = json.loads(student["counts"]), json.loads(reference["counts"])
    for what, name in (("patterns", "random_patterns"), ("corrupt", "corrupt")):
        got = counts.get(what, {})
        want = expected[what]
        if got != want:
            said = ", ".join(f"{v} with P = {k}" for k, v in got.items()) or "never"
            wanted = ", ".join(f"{v} with P = {k}" for k, v in want.items())
            slip = ""
            if got == _pattern_counts(setup, np.floor):
                slip = " (int(load * N) truncates: 6.6 patterns is 7, not 6)"
            elif got == _pattern_counts(setup, np.ceil):
                slip = " (rounded up: 2.4 patterns is 2, not 3)"
            raise CheckFailed(f"capacity_curve called {name} {said}; expected {wanted}{slip}: "
                              "P = max(1, round(load * N)) patterns per load, one draw per "
                              f"trial (call {name}: the checks stand in for it)")


@capacity_curve.verdict
def _(student, reference):
    _judge_counts(student, reference, BOOKKEEPING)
    seeds = json.loads(student["recall_seeds"])
    expect_true(seeds and all(kind in ("int", "int64") for kind in seeds),
                f"capacity_curve passes recall seeds of type {sorted(set(seeds))}: "
                "seed=int(rng.integers(2**31)), one per call (call recall: the checks stand in "
                "for it)")
    loads = BOOKKEEPING["loads"]
    expect_close(student["stable"], reference["stable"], f"the 'stable' shares at loads {loads} "
                 "(the checks' weights keep the first half of each trial's patterns stable): "
                 "the share of all the stored PATTERNS that are fixed points", atol=1e-9)
    expect_close(student["recalled"], reference["recalled"], f"the 'recalled' shares at loads "
                 f"{loads} (the checks' recall brings back a random half of the rows): the "
                 "share of patterns whose final state has an overlap of at least "
                 "RECALL_OVERLAP with the pattern it came from", atol=1e-9)


KNEE = {"num_units": 100, "loads": (0.05, 0.11, 0.15, 0.21, 0.31), "trials": 4}
# The recall shares differ from the reference's only by the sweep orders (the seeds the
# student's loops draw): at most 0.09 apart per load over 16 seeds, 0.15 allowed.
KNEE_MARGIN = 0.15


@check(points=1, uses=HOPFIELD, task="`capacity_curve` (and every unit above)",
       hint="with Hebbian weights the stored patterns stay stable and are recalled up to about "
            "0.14 N patterns; check hebbian_weights (its diagonal), recall and capacity_curve")
def capacity_knee(lab, rng):
    """The student's whole chain (Hebbian weights, recall, the curve) on 100 units at loads
    0.05 to 0.31 (4 trials, the checks' pattern draws and corruptions of 10 %): the stable
    shares equal the reference's and the recalled shares are within 0.15 of them, the fall
    around 0.14 N."""
    stand_ins = CapacityStandIns(int(rng.integers(1000)))
    with standing_in(lab.hopfield, **stand_ins.replacements()):
        curve = lab.hopfield.capacity_curve(KNEE["num_units"], KNEE["loads"], KNEE["trials"],
                                            seed=int(rng.integers(1000)), flip_fraction=0.1)
    return {"stable": curve["stable"], "recalled": curve["recalled"],
            "counts": stand_ins.counts()}


@capacity_knee.verdict
def _(student, reference):
    _judge_counts(student, reference, KNEE)
    shown = ", ".join(f"{load}: {s:.2f}" for load, s in zip(KNEE["loads"], reference["stable"]))
    expect_close(student["stable"], reference["stable"], "the share of stable patterns per load "
                 f"on 100 units (the reference's, by load: {shown})", atol=1e-9)
    recalled, right = (np.asarray(a, dtype=np.float64) for a in (student["recalled"],
                                                                    reference["recalled"]))
    worst = int(np.argmax(np.abs(recalled - right)))
    expect_true(recalled.shape == right.shape and abs(recalled[worst] - right[worst])
                <= KNEE_MARGIN, f"the share of patterns recalled from 10 % corruption at load "
                f"{KNEE['loads'][worst]} is {recalled[worst]:.2f}, the reference's "
                f"{right[worst]:.2f} (it falls from {right[0]:.2f} at 0.05 to {right[-1]:.2f} at "
                "0.31, past the ~0.14 N knee)")
