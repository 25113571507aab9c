"""Hidden checks of lab22: fresh MDPs, episodes and positions, against the reference."""
import numpy as np

from autograder.api import check
from autograder.checks.lab22_reinforcement_learning import probes
from autograder.verdicts import expect_close, expect_true


@check(points=1, uses="tabular", task="`value_iteration`, `greedy_policy`",
       hint="V = max_a action_values until converged; argmax over actions")
def value_iteration_fresh(lab, rng):
    """A 5x5 gridworld with a fresh seed and a larger random MDP, against the reference."""
    from dlkit.data import make_gridworld
    world = make_gridworld(5, slip=0.3, seed=int(rng.integers(1000)))
    out = {}
    for k, (p, r, g) in enumerate([(world["transitions"], world["rewards"], 0.95),
                                   (*probes.random_mdp(rng, 9, 4), 0.8)]):
        v, _ = lab.tabular.value_iteration(p, r, g)
        out[f"v{k}"] = np.asarray(v)
        out[f"pi_value{k}"] = probes.policy_value(p, r, np.asarray(
            lab.tabular.greedy_policy(p, r, v, g)).astype(int), g)
    return out


@value_iteration_fresh.verdict
def _(student, reference):
    for k in range(2):
        expect_close(student[f"v{k}"], reference[f"v{k}"], "value_iteration", rtol=1e-6)
        expect_close(student[f"pi_value{k}"], reference[f"pi_value{k}"],
                     "the value of greedy_policy", rtol=1e-6)


@check(points=1, uses="policy_gradients", task="`discounted_returns`, `gae_advantages`",
       hint="backward passes; dones cut the bootstrap and the carried advantage")
def returns_and_gae_fresh(lab, rng):
    """Longer fresh episodes and rollouts, against the reference."""
    pg = lab.policy_gradients
    rewards, values = rng.normal(size=25), rng.normal(size=25)
    dones = rng.uniform(size=25) < 0.2
    return {"g": np.asarray(pg.discounted_returns(rewards, 0.97)),
            "a": np.asarray(pg.gae_advantages(rewards, values, -0.3, dones, 0.97, 0.8))}


@returns_and_gae_fresh.verdict
def _(student, reference):
    expect_close(student["g"], reference["g"], "discounted_returns", rtol=1e-8)
    expect_close(student["a"], reference["a"], "gae_advantages", rtol=1e-8)


@check(points=1, uses="policy_gradients", task="`ppo_clip_loss`",
       hint="-mean(minimum(ratio * A, clip(ratio) * A))")
def ppo_fresh(lab, rng):
    """Random ratios and advantages, clip 0.1, against the reference."""
    new, old, adv = (rng.normal(size=40).astype("float32") * s for s in (0.3, 0.3, 1.0))
    return {"loss": float(lab.policy_gradients.ppo_clip_loss(new, old, adv, 0.1))}


@ppo_fresh.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "ppo_clip_loss", rtol=1e-5)


@check(points=1, uses="mcts", timeout=60, task="`MCTS.simulate`",
       hint="negate the backed-up value at every level")
def mcts_fresh_positions(lab, rng):
    """Random mid-game positions: the chosen move is minimax-optimal; the root's visits and
    the backed-up signs after a fresh number of simulations from a fresh opening."""
    got, best = [], []
    for _ in range(4):
        board = [0] * 9
        for i, cell in enumerate(rng.permutation(9)[:4]):
            board[cell] = 1 if i % 2 == 0 else -1
        board = tuple(board)
        values = probes.move_values(board)
        move, _ = lab.mcts.MCTS(seed=1).search(board, 500)
        got.append(values.get(int(move), -9))
        best.append(max(values.values()))
    board = [0] * 9
    board[int(rng.integers(9))] = 1
    sims = int(rng.integers(25, 40))
    root_visits, rows = probes.backup_table(lab.mcts, tuple(board), sims, seed=2)
    return {"got": np.array(got), "best": np.array(best), "root_visits": root_visits,
            "rows": rows, "sims": sims}


@mcts_fresh_positions.verdict
def _(student, reference):
    problem = probes.backup_problem(student["root_visits"], student["rows"], student["sims"])
    expect_true(problem is None, f"MCTS.simulate on a fresh position: {problem}")
    expect_true(np.all(student["got"] >= student["best"]),
                "MCTS picks a move worse than minimax on a fresh position")
