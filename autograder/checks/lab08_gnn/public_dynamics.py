"""Public checks of lab08_gnn, part 4: the interaction network and the rollout on n-body
spring systems.

The interaction network runs on fixed random weights with the checks' own aggregate (as in
public_layers.py). The rollout is judged with a check-defined acceleration law (a
harmonic pull of known, different behaviour from the springs). The training check trains
the student's InteractionNetwork with the given train_dynamics and measures the rollout with
scipy's adaptive ODE solver (solve_ivp), not with the student's rollout, so each unit is
judged once."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab08_gnn.probes import judge_calls, raise_error, run_recorded
from autograder.verdicts import expect_at_most, expect_close, expect_close_naming, expect_true

# The budget of interaction_network_learns_springs, stated in the handout.
SPRINGS = {"train_systems": 200, "test_systems": 20, "bodies": 5, "steps": 40, "dt": 0.05,
           "hidden": 64, "train_steps": 600, "batch_systems": 16, "learning_rate": 3e-3,
           "horizon": 2.0}
# How much worse than the reference the student's errors may be: a factor, or an offset.
FACTOR, SLACK = {"mse": 2.0, "rollout_error": 2.0}, {"mse": 0.01, "rollout_error": 0.05}


def _system(rng, n=5):
    """n bodies, every pair related, but no relation ends at the last body."""
    senders, receivers = np.nonzero(~np.eye(n, dtype=bool))
    senders, receivers = senders[receivers < n - 1], receivers[receivers < n - 1]
    edge_index = np.stack([senders, receivers]).astype(np.int32)
    state = rng.normal(size=(n, 4)).astype("float32")
    edge_attr = rng.uniform(0, 1.5, size=(edge_index.shape[1], 1)).astype("float32")
    return state, edge_index, edge_attr


@check(points=2, task="`InteractionNetwork.call`",
       hint="relation_net([state[senders] - state[receivers], edge_attr]); aggregate(effects, "
            "receivers, N, 'sum'); object_net([state[:, 2:], incoming])")
def interaction_network(lab, rng):
    """InteractionNetwork(8) on fixed random weights with the checks' own aggregate, the last
    body receiving no relation: the accelerations, the aggregation it asked for, and the
    same with every body moved by one offset (nothing may change)."""
    state, edge_index, edge_attr = _system(rng)
    layer = lab.gnn.InteractionNetwork(8)
    layer.build((None, 4), (2, None), (None, 1))
    assign_random_weights(layer, rng, 0.4)
    moved = state + np.array([3.0, -2.0, 0.0, 0.0], dtype="float32")
    out, calls, error = run_recorded(lab.gnn, lambda: layer(state, edge_index, edge_attr))
    out_moved, _, _ = run_recorded(lab.gnn, lambda: layer(moved, edge_index, edge_attr))
    return {"out": out, "moved": out_moved, "calls": calls, "error": error,
            "receivers": edge_index[1].tolist()}


@interaction_network.verdict
def _(student, reference):
    what = "InteractionNetwork(8)(state, edge_index, edge_attr)"
    judge_calls(student["calls"], [("sum", 5, student["receivers"],
                                    "the incoming effects of every body")], what)
    raise_error(student["error"], what)
    expect_close(student["moved"], student["out"],
                 f"{what} with every body moved by (3, -2)",
                 against="its output before the move: the relations must see state "
                         "DIFFERENCES (sender - receiver) and the object its velocity only")
    expect_close_naming(student["out"], reference["out"], what,
                        against="the reference (both on the checks' own aggregate)",
                        advice="relation_net reads [state[senders] - state[receivers], "
                               "edge_attr], object_net [velocities, incoming], in that order")


def _harmonic(state):
    """The checks' acceleration law: every body pulled to the origin, stiffness 1 in x and
    4 in y, plus a drag of 0.1 (known, and unlike the springs of the data)."""
    state = np.asarray(state, np.float64)
    return (-state[:, :2] * np.array([1.0, 4.0]) - 0.1 * state[:, 2:]).astype("float32")


def _explicit_euler(state, steps, dt):
    out = [state]
    for _ in range(steps):
        acceleration = _harmonic(state)
        state = np.concatenate([state[:, :2] + dt * state[:, 2:],
                                state[:, 2:] + dt * acceleration], axis=1).astype("float32")
        out.append(state)
    return np.stack(out)


@check(points=2, task="`rollout`",
       hint="per step: v <- v + dt * a(state), THEN x <- x + dt * v with the NEW v; return "
            "every state, the initial one first: (steps + 1, N, 4)")
def rollout(lab, rng):
    """30 steps of 0.1 from a random state of 4 bodies, with the checks' own acceleration
    law (a pull to the origin with drag): the trajectory, against the reference and against
    explicit Euler."""
    state = rng.normal(size=(4, 4)).astype("float32")
    calls = []

    def law(s):
        calls.append(np.array(s))
        return _harmonic(s)
    trajectory = lab.gnn.rollout(law, state, 30, 0.1)
    return {"trajectory": trajectory, "explicit": _explicit_euler(state, 30, 0.1),
            "calls": len(calls)}


@rollout.verdict
def _(student, reference):
    what = "rollout(law, state, steps=30, dt=0.1)"
    expect_true(student["calls"] == 30, f"{what} called the acceleration law "
                f"{student['calls']} times, expected once per step (30)")
    got = np.asarray(student["trajectory"])
    if got.ndim == 3 and len(got) > 2 and np.array_equal(got[0], got[-1]) and np.array_equal(
            got[1], got[-1]):
        expect_true(False, f"{what}: every stored state is the last one: the trajectory's "
                    "rows are one array updated in place (state[:, 2:] += ...); store a new "
                    "array each step (or a .copy())")
    expect_close_naming(student["trajectory"], reference["trajectory"], what, [
        (student["explicit"], "is explicit Euler (x moved with the OLD velocity): update v "
                              "first, then x with the new v (semi-implicit Euler)"),
        (np.asarray(student["explicit"])[1:], "leaves out the initial state")],
        rtol=1e-4, atol=1e-5)


def _ivp_positions(acceleration_fn, states, horizon):
    """Positions at `horizon` from scipy's RK45 on x' = v, v' = acceleration_fn(all
    states), every system integrated at once. states (S, N, 4). Returns (S, N, 2)."""
    from scipy.integrate import solve_ivp
    shape = states.shape

    def derivative(_, y):
        s = y.reshape(shape).astype("float32")
        return np.concatenate([s[..., 2:], acceleration_fn(s)], axis=-1).ravel()
    end = solve_ivp(derivative, (0.0, horizon), states.astype(np.float64).ravel(),
                    rtol=1e-5, atol=1e-7).y[:, -1]
    return end.reshape(shape)[..., :2]


@check(points=3, timeout=40, task="`InteractionNetwork` (trained)",
       hint="an interaction network that sums relation effects of state differences learns "
            "Hooke's law; the rollout then stays close to the true motion")
def interaction_network_learns_springs(lab, rng):
    """n-body springs (5 bodies, complete graph, the stiffness as edge feature): your
    InteractionNetwork trained by train_dynamics on one-step accelerations; its error on
    test systems, and its motion over 2 time units (scipy's solve_ivp) against the true
    springs', against the reference."""
    import tensorflow as tf

    from dlkit.data import spring_systems
    from dlkit.data.graphs import spring_accelerations
    gnn, budget = lab.gnn, SPRINGS
    seed = int(rng.integers(0, 1000))
    train = spring_systems(budget["train_systems"], budget["bodies"], budget["steps"],
                           budget["dt"], seed=seed)
    test = spring_systems(budget["test_systems"], budget["bodies"], budget["steps"],
                          budget["dt"], seed=seed + 1)
    model = gnn.InteractionNetwork(budget["hidden"])
    model.build((None, 4), (2, None), (None, 1))
    losses = gnn.train_dynamics(model, train["states"], train["accelerations"],
                                train["edge_index"], train["edge_attr"], budget["train_steps"],
                                budget["batch_systems"], budget["learning_rate"], seed=seed)
    systems, n = budget["test_systems"], budget["bodies"]
    edges = np.concatenate(list(test["edge_index"][None] + (np.arange(systems) * n)[:, None,
                                                                                     None]),
                           axis=1)
    attr = test["edge_attr"].reshape(-1, 1)
    # One trace serves every call of the solver (~300, all of one shape): eager calls of the
    # model cost ten times more than a traced one.
    accelerations = tf.function(lambda states: model(states, edges, attr))

    def learned(states):
        return np.asarray(accelerations(states.reshape(-1, 4).astype("float32"))).reshape(
            systems, n, 2)

    def true(states):
        return spring_accelerations(states[..., :2], test["edge_attr"][..., 0],
                                    test["edge_index"]).astype("float32")
    times = np.arange(test["states"].shape[1])[::8]
    predicted = np.stack([learned(test["states"][:, t]) for t in times], axis=1)
    mse = float(np.mean((predicted - test["accelerations"][:, times]) ** 2))
    start = test["states"][:, 0]
    truth = _ivp_positions(true, start, budget["horizon"])
    rolled = _ivp_positions(learned, start, budget["horizon"])
    drift = start[..., :2] + budget["horizon"] * start[..., 2:]
    rms = lambda a: float(np.sqrt(np.mean(np.sum((a - truth) ** 2, axis=-1))))  # noqa: E731
    return {"mse": mse, "zero_mse": float(np.mean(test["accelerations"][:, times] ** 2)),
            "rollout_error": rms(rolled), "constant_velocity_error": rms(drift),
            "loss": float(np.mean(losses[-20:]))}


@interaction_network_learns_springs.verdict
def _(student, reference):
    what = "the trained InteractionNetwork"
    expect_true(np.isfinite(student["loss"]) and np.isfinite(student["rollout_error"]),
                f"{what}: training or its rollout diverged (NaN or inf)")
    for key, name in (("mse", "test mean squared error of the accelerations"),
                      ("rollout_error", "RMS position error after 2 time units")):
        ceiling = max(FACTOR[key] * reference[key], reference[key] + SLACK[key])
        expect_at_most(student[key], ceiling, f"{what}: {name} (the reference reaches "
                       f"{reference[key]:.3g} with the same budget and seed)")
    expect_at_most(student["mse"], 0.1 * student["zero_mse"],
                   f"{what}: test mean squared error, against a tenth of predicting no "
                   "acceleration at all")
    expect_at_most(student["rollout_error"], 0.5 * student["constant_velocity_error"],
                   f"{what}: RMS position error after 2 time units, against half of moving "
                   "every body in a straight line")
