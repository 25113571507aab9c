"""Public checks of lab21_explainability, part 2: Shapley values (shapley.py).

Games are value tables over the coalitions of 4 to 5 players; their Shapley values come from
the average over every order of the players (probes.shapley_by_orders), not from the
weights the lab uses. Crafted games test the axioms (efficiency, symmetry, dummy)."""
import math

import numpy as np

from autograder.api import check
from autograder.checks.lab21_explainability.probes import (
    crafted_games,
    judge_shapley,
    shapley_by_orders,
    table_game,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_equal, expect_true

# Monte-Carlo: the mean error over 4 seeds at 512 orders must be below this fraction of the
# error at 8 orders (1/sqrt(64) = 0.125 in expectation).
MC_SHRINK = 0.3


def _model_fn(z):
    """A fixed nonlinear model of 4 features, with an interaction of features 0 and 1."""
    z = np.asarray(z, dtype=np.float64)
    return np.tanh(z @ np.array([1.0, -2.0, 0.5, 1.5])) + z[:, 0] * z[:, 1]


@check(points=2, uses="shapley", task="`masked_value_function`",
       hint="v(S) = mean over background rows b of model_fn(z), z = x on S and b elsewhere "
       "(np.where(masks[:, None, :], x, background)); one model_fn call")
def masked_value_function(lab, rng):
    """v(S) of a nonlinear model with an interaction at one input, over a background of 6
    rows, for all 16 coalitions of 4 features in a shuffled order."""
    x = rng.normal(size=4)
    background = rng.normal(size=(6, 4))
    masks = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(bool)[rng.permutation(16)]
    calls = []

    def model_fn(z):
        calls.append(np.shape(z))
        return _model_fn(z)

    values = lab.shapley.masked_value_function(model_fn, x, background)(masks)
    return {"masks": masks, "values": np.asarray(values, dtype=np.float64),
            "calls": len(calls), "at_x": _model_fn(x[None])[0],
            "on_background": _model_fn(background).mean(),
            "background_mean_first": _model_fn(np.where(masks, x, background.mean(axis=0)))}


@masked_value_function.verdict
def _(student, reference):
    what = "masked_value_function(model_fn, x, background)(masks)"
    values = np.asarray(student["values"]).reshape(-1)
    masks = student["masks"]
    expect_equal(values.shape, (16,), f"the shape of {what} for 16 coalitions")
    # v of the complement of each coalition: what np.where with its branches swapped gives.
    bits = (masks * (1 << np.arange(masks.shape[1]))).sum(axis=1)
    by_bits = np.empty(16)
    by_bits[bits] = np.asarray(reference["values"], dtype=np.float64).reshape(-1)
    complement = by_bits[15 - bits]
    expect_close_naming(values, reference["values"], what, [
        (student["background_mean_first"], "the background is averaged BEFORE the model; "
         "average model_fn's OUTPUTS over the background rows"),
        (complement, "the coalition's features come from the BACKGROUND and the others from "
         "x (the where is swapped): the players in S take x's values")], rtol=1e-9, atol=1e-9)
    full, empty = masks.all(axis=1), ~masks.any(axis=1)
    expect_close(values[full], [student["at_x"]], f"{what} for the full coalition (model_fn(x))",
                 rtol=1e-9, atol=1e-9)
    expect_close(values[empty], [student["on_background"]],
                 f"{what} for the empty coalition (the mean of model_fn over the background)",
                 rtol=1e-9, atol=1e-9)
    expect_true(student["calls"] == 1, f"{what} called model_fn {student['calls']} times for "
                "16 coalitions: stack every (coalition, background row) into one batch")


@check(points=1, uses="shapley", task="`shapley_weight`",
       hint="|S|! (M - |S| - 1)! / M! for |S| = 0 .. M - 1")
def shapley_weight(lab, rng):
    """The Shapley weights of every coalition size for 1, 4 and 6 players."""
    return {f"m{m}": np.asarray(lab.shapley.shapley_weight(m, np.arange(m)), dtype=np.float64)
            for m in (1, 4, 6)} | {"scalar": float(lab.shapley.shapley_weight(5, 2))}


@shapley_weight.verdict
def _(student, reference):
    for m in (1, 4, 6):
        weights = np.asarray(student[f"m{m}"])
        what = f"shapley_weight({m}, sizes 0..{m - 1})"
        counts = np.array([math.comb(m - 1, s) for s in range(m)], dtype=np.float64)
        expect_true(weights.shape == (m,), f"{what} has shape {weights.shape}, expected ({m},)")
        expect_close_naming(weights, reference[f"m{m}"], what, [
            (np.full(m, 1.0 / m), "every size gets 1/M: the weight must also divide by the "
             "number of coalitions of that size"),
            (np.full(m, 0.5 ** (m - 1)), "that is the Banzhaf weight 1/2^(M-1)"),
            (np.array([math.factorial(s) * math.factorial(m - s) for s in range(m)])
             / math.factorial(m), "that is |S|! (M - |S|)! / M!: the second factorial is "
             "(M - |S| - 1)!, the players after i")],
            rtol=1e-12, atol=1e-15)
        expect_close(float(counts @ weights), 1.0, f"the sum of {what} over all coalitions "
                     "without the player", rtol=1e-12, atol=1e-12)
    expect_close(student["scalar"], reference["scalar"], "shapley_weight(5, 2)")


@check(points=3, uses="shapley", task="`exact_shapley`",
       hint="sum over the coalitions S without i of shapley_weight(M, |S|) * (v(S + i) - "
       "v(S)); coalition index = its bits, so S + i is row r + 2^i")
def exact_shapley(lab, rng):
    """Exact Shapley values of a random 5-player game with v(empty) != 0, and of crafted
    games with two symmetric players and a dummy."""
    table = rng.normal(size=32)
    games = crafted_games(rng) | {"random": table}
    calls = []

    def counted(game):
        value_fn = table_game(game)

        def wrapped(masks):
            calls.append(len(masks))
            return value_fn(masks)
        return wrapped
    out = {f"{name}_table": game for name, game in games.items()}
    for name, game in games.items():
        out[name] = np.asarray(lab.shapley.exact_shapley(counted(game), 5), dtype=np.float64)
    out["evaluations"] = int(np.sum(calls)) // len(games)
    return out


@exact_shapley.verdict
def _(student, reference):
    what = "exact_shapley(value_fn, 5)"
    judge_shapley(student["random"], student["random_table"], f"{what} of a random game")
    expect_close(student["symmetric"][0], student["symmetric"][1],
                 f"{what} of a game where players 0 and 1 are interchangeable: phi_0 vs phi_1 "
                 "(symmetry)", rtol=1e-9, atol=1e-9)
    expect_close(student["dummy"][2], 0.0, f"{what} of player 2, who adds nothing to any "
                 "coalition (the dummy axiom)", rtol=0, atol=1e-9)
    for name in ("symmetric", "dummy"):
        judge_shapley(student[name], student[f"{name}_table"], f"{what} of the {name} game")
    expect_true(student["evaluations"] <= 64, f"{what} evaluated {student['evaluations']} "
                "coalitions per game: evaluate each of the 32 coalitions once")
    expect_close(student["random"], reference["random"], what, rtol=1e-9, atol=1e-12)


@check(points=2, uses="shapley", task="`permutation_shapley`",
       hint="orders drawn one after the other as rng.permutation(M) from default_rng(seed); "
       "player order[j] gains v(first j + 1 players) - v(first j); the mean over the orders")
def permutation_shapley(lab, rng):
    """The Monte-Carlo estimate of a random 5-player game with 7 seeded orders; how many
    value_fn calls it makes."""
    table = rng.normal(size=32)
    calls = []
    value_fn = table_game(table)

    def counted(masks):
        calls.append(len(masks))
        return value_fn(masks)
    phi = lab.shapley.permutation_shapley(counted, 5, 7, seed=3)
    return {"table": table, "phi": np.asarray(phi, dtype=np.float64), "calls": len(calls),
            "evaluated": int(np.sum(calls))}


def _by_position(table, orders, seed):
    """The slip that credits the gain at position j of each seeded order to player j: the
    mean over the orders of v(first j + 1 players) - v(first j), per position j."""
    rng = np.random.default_rng(seed)
    n_players = int(round(math.log2(len(table))))
    steps = np.zeros(n_players)
    for _ in range(orders):
        prefix_bits = np.concatenate([[0], np.cumsum(1 << rng.permutation(n_players))])
        steps += np.diff(np.asarray(table)[prefix_bits])
    return steps / orders


@permutation_shapley.verdict
def _(student, reference):
    what = "permutation_shapley(value_fn, 5, 7, seed=3)"
    phi = np.asarray(student["phi"])
    table = student["table"]
    expect_equal(phi.shape, (5,), f"the shape of {what}")
    total = table[-1] - table[0]
    expect_close(phi.sum(), total, f"the sum of {what} (every order's contributions add up to "
                 "v(everyone) - v(empty), so the estimate is efficient EXACTLY: is each "
                 "player's gain taken against the coalition of the players before it?)",
                 rtol=1e-9, atol=1e-9)
    expect_close_naming(phi, reference["phi"], what, [
        (_by_position(table, 7, 3), "the gain of the j-th player to join is credited to "
         "player j (its POSITION in the order); credit it to the player order[j]")],
        advice="the orders are drawn one after the other, each as rng.permutation(5), from "
        "rng = np.random.default_rng(seed); player order[j] gains v(first j + 1) - v(first j)",
        rtol=1e-9, atol=1e-12)
    expect_true(student["calls"] == 1, f"{what} called value_fn {student['calls']} times: "
                "put the M + 1 prefixes of every order in one call")


@check(points=1, uses="shapley", reference=False, task="`permutation_shapley`",
       hint="an unbiased estimate: its error against the exact values falls like "
       "1 / sqrt(orders)")
def permutation_error_shrinks(lab, rng):
    """Mean absolute error against the exact values of a 6-player game, over 4 seeds, at 8,
    64 and 512 orders."""
    table = rng.normal(size=64)
    exact = shapley_by_orders(table)
    errors = {}
    for orders in (8, 64, 512):
        errors[str(orders)] = float(np.mean([np.abs(np.asarray(
            lab.shapley.permutation_shapley(table_game(table), 6, orders, seed=s)) - exact).mean()
            for s in range(4)]))
    return errors


@permutation_error_shrinks.verdict
def _(student, _reference):
    e8, e64, e512 = student["8"], student["64"], student["512"]
    expect_true(np.isfinite(e512) and e512 < MC_SHRINK * e8 and e512 < e64,
                f"the mean error of permutation_shapley is {e8:.3g} at 8 orders, {e64:.3g} at "
                f"64 and {e512:.3g} at 512: it must fall like 1/sqrt(orders) (below "
                f"{MC_SHRINK} x {e8:.3g} at 512); is every order's estimate averaged, a new "
                "order drawn each time, and each gain credited to the player order[j] (not to "
                "position j)?")


@check(points=1, uses="shapley", task="`shapley_kernel`",
       hint="(M - 1) / (C(M, s) s (M - s)), np.inf for s = 0 and s = M")
def shapley_kernel(lab, rng):
    """The Shapley kernel weights of every coalition size for 4 and 7 players."""
    return {f"m{m}": np.asarray(lab.shapley.shapley_kernel(m, np.arange(m + 1)), dtype=np.float64)
            for m in (4, 7)}


@shapley_kernel.verdict
def _(student, reference):
    for m in (4, 7):
        weights = np.asarray(student[f"m{m}"])
        what = f"shapley_kernel({m}, sizes 0..{m})"
        expect_true(weights.shape == (m + 1,) and np.isinf(weights[0]) and np.isinf(weights[-1]),
                    f"{what} must have shape ({m + 1},) with inf at sizes 0 and {m} (the "
                    "constraints), got {weights.tolist()}")
        sizes = np.arange(1, m)
        expect_close_naming(weights[1:-1], reference[f"m{m}"][1:-1], what, [
            ((m - 1) / (sizes * (m - sizes)), "the binomial C(M, s) is missing")],
            rtol=1e-12, atol=1e-15)


@check(points=3, uses="shapley", task="`kernel_shap`",
       hint="weighted least squares over the coalitions 0 < |S| < M with the shapley_kernel "
       "weights, the last phi eliminated through sum(phi) = v(everyone) - v(empty)")
def kernel_shap(lab, rng):
    """Kernel SHAP with every coalition enumerated on a random 5-player game (v(empty) != 0)
    and on a 4-player game: with all coalitions, it gives the exact Shapley values."""
    big, small = rng.normal(size=32) + 1.0, rng.normal(size=16)
    return {"big_table": big, "small_table": small,
            "big": np.asarray(lab.shapley.kernel_shap(table_game(big), 5), dtype=np.float64),
            "small": np.asarray(lab.shapley.kernel_shap(table_game(small), 4), dtype=np.float64)}


def _unweighted_fit(table):
    """The slip that drops the kernel weights: ordinary least squares of v(S) - v(empty) on
    the members of the coalitions 0 < |S| < M, under sum(phi) = v(everyone) - v(empty), by
    the KKT system [[2 Z'Z, 1], [1', 0]] [phi, lam] = [2 Z' y, total]."""
    table = np.asarray(table, dtype=np.float64)
    n_players = int(round(math.log2(len(table))))
    members = ((np.arange(1, len(table) - 1)[:, None] >> np.arange(n_players)) & 1).astype(float)
    gains = table[1:-1] - table[0]
    system = np.zeros((n_players + 1, n_players + 1))
    system[:n_players, :n_players] = 2 * members.T @ members
    system[:n_players, -1] = system[-1, :n_players] = 1.0
    right = np.append(2 * members.T @ gains, table[-1] - table[0])
    return np.linalg.solve(system, right)[:n_players]


@kernel_shap.verdict
def _(student, reference):
    for name, m in (("big", 5), ("small", 4)):
        phi = np.asarray(student[name], dtype=np.float64)
        unweighted = _unweighted_fit(student[f"{name}_table"])
        expect_true(phi.shape != unweighted.shape or np.allclose(phi, reference[name])
                    or not np.allclose(phi, unweighted, rtol=1e-8, atol=1e-10),
                    f"kernel_shap(value_fn, {m}): that is ORDINARY least squares; weight each "
                    "coalition's squared error by shapley_kernel(M, |S|)")
    judge_shapley(student["big"], student["big_table"], "kernel_shap(value_fn, 5)", atol=1e-9)
    judge_shapley(student["small"], student["small_table"], "kernel_shap(value_fn, 4)",
                  atol=1e-9)
    expect_close(student["big"], reference["big"], "kernel_shap(value_fn, 5)", rtol=1e-8,
                 atol=1e-10)
