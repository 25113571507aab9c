"""Public checks of lab22, part 3: PUCT scores and the MCTS search (mcts.py), against numpy
and against exhaustive minimax with the checks' own tic-tac-toe rules."""
import numpy as np

from autograder.api import check
from autograder.checks.lab22_reinforcement_learning import probes
from autograder.verdicts import expect_close_naming, expect_true


@check(points=1, uses="mcts", task="`puct_scores`",
       hint="q + c_puct * prior * sqrt(parent_visits) / (1 + child_visits)")
def puct_scores(lab, rng):
    """Scores of 6 children with random Q, priors and visit counts, against numpy."""
    q, prior = rng.uniform(-1, 1, size=6), rng.dirichlet(np.ones(6))
    visits = rng.integers(0, 9, size=6)
    parent = int(visits.sum()) + 1
    bonus = 1.5 * prior * np.sqrt(parent) / (1 + visits)
    return {"s": np.asarray(lab.mcts.puct_scores(q, prior, visits, parent, 1.5), np.float64),
            "numpy": q + bonus, "no_sqrt": q + 1.5 * prior * parent / (1 + visits),
            "no_one": q + 1.5 * prior * np.sqrt(parent) / np.maximum(visits, 1e-9)}


@puct_scores.verdict
def _(student, reference):
    expect_close_naming(student["s"], student["numpy"], "puct_scores(q, prior, visits, N, 1.5)",
                        [(student["no_sqrt"], "the parent's visits enter as sqrt(N)"),
                         (student["no_one"], "divide by 1 + N(s, a), or unvisited children "
                          "divide by zero")], rtol=1e-9)


@check(points=2, uses="mcts", task="`MCTS.simulate` (backup)",
       hint="every simulation adds one visit to EVERY node on its path, the root included; "
       "value_sum gets -value at the leaf, negated at every level up")
def mcts_backs_up_values(lab, rng):
    """30 simulations from the empty board with a stand-in leaf value (+0.5 for player 1):
    the root's own visits are 30, and every node's value_sum is +-0.5 times its visits, for
    the player who moved into it."""
    root_visits, rows = probes.backup_table(lab.mcts, (0,) * 9, 30)
    return {"root_visits": root_visits, "rows": rows}


@mcts_backs_up_values.verdict
def _(student, reference):
    problem = probes.backup_problem(student["root_visits"], student["rows"], 30)
    expect_true(problem is None, f"MCTS.simulate: {problem}")


@check(points=3, uses="mcts", timeout=60, task="`MCTS.simulate`",
       hint="back the leaf value up with alternating signs: value_sum of a node is for the "
       "player who moved into it")
def mcts_plays_minimax_moves(lab, rng):
    """400 simulations (seed 0) on 6 positions (win in one, blocks, forks): the chosen move
    must be minimax-optimal (exhaustive search), and the root's visits add up to 400."""
    moves, totals = [], []
    for board in probes.TEST_POSITIONS:
        move, counts = lab.mcts.MCTS(seed=0).search(board, 400)
        moves.append(int(move))
        totals.append(int(np.sum(counts)))
    best = [max(probes.move_values(b).values()) for b in probes.TEST_POSITIONS]
    got = [probes.move_values(b).get(m, -9) for b, m in zip(probes.TEST_POSITIONS, moves)]
    return {"moves": np.array(moves), "totals": np.array(totals), "best": np.array(best),
            "got": np.array(got)}


@mcts_plays_minimax_moves.verdict
def _(student, reference):
    expect_true(np.all(student["totals"] == 400), "the root's children's visits add up to "
                f"{student['totals'].tolist()} over 400 simulations: every simulation must "
                "add one visit along its path")
    wrong = np.flatnonzero(student["got"] < student["best"])
    expect_true(wrong.size == 0, "MCTS(seed=0).search(board, 400) picks a move worse than "
                f"minimax on {wrong.size} of {len(student['got'])} positions (first: "
                f"{probes.TEST_POSITIONS[wrong[0]] if wrong.size else ''}, move "
                f"{student['moves'][wrong[0]] if wrong.size else ''}): does every simulation "
                "visit the root too, and is the backed-up value negated at every level, for "
                "the player who moved into each node?")
