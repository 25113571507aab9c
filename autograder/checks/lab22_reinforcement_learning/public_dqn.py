"""Public checks of lab22, part 2: the replay buffer, TD targets and DQN.train_step (dqn.py).
train_step runs with a stand-in for td_targets of known different behaviour (the MEAN over
next actions), and is judged against numpy: the Huber loss, a finite-difference gradient and
the Polyak average of the target network."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab22_reinforcement_learning import probes
from autograder.verdicts import expect_close, expect_close_naming, expect_equal, expect_true


@check(points=2, uses="dqn", task="`ReplayBuffer.add`, `sample`",
       hint="write at slot self.next, advance it modulo capacity, size = min(size + 1, "
       "capacity); sample indices with self.rng.integers(0, self.size, batch_size)")
def replay_buffer(lab, rng):
    """A buffer of capacity 5 after 3 and after 8 transitions (ids in every field): its
    length, that samples hold only stored transitions with their fields together, cover
    them about uniformly, and repeat for the same seed."""
    out = {}
    buffer = lab.dqn.ReplayBuffer(5, 2, seed=4)
    twin = lab.dqn.ReplayBuffer(5, 2, seed=4)
    for step in range(8):
        for b in (buffer, twin):
            b.add(np.array([step + 1, -step], np.float32), step % 3, float(step + 1),
                  np.array([step + 2, 0], np.float32), step == 7)
        if step == 2:
            out["len3"] = len(buffer)
            out["ids3"] = np.asarray(buffer.sample(400)["rewards"], np.float64)
            twin.sample(400)
    out["len8"] = len(buffer)
    batch = buffer.sample(3000)
    out["ids8"] = np.asarray(batch["rewards"], np.float64)
    out["consistent"] = bool(np.array_equal(batch["obs"][:, 0], out["ids8"])
                             and np.array_equal(batch["actions"], (out["ids8"].astype(int) - 1) % 3)
                             and np.array_equal(batch["next_obs"][:, 0], out["ids8"] + 1)
                             and np.array_equal(batch["dones"], (out["ids8"] == 8) * 1.0))
    out["repeats"] = bool(np.array_equal(twin.sample(3000)["rewards"], batch["rewards"]))
    return out


@replay_buffer.verdict
def _(student, reference):
    expect_equal(student["len3"], 3, "len(buffer) after 3 adds (capacity 5)")
    expect_equal(student["len8"], 5, "len(buffer) after 8 adds (capacity 5: it stays full)")
    expect_true(set(student["ids3"]) == {1.0, 2.0, 3.0}, "sample() from a buffer holding 3 "
                f"transitions drew {sorted(set(student['ids3']))}: draw from the filled "
                "slots only (0 .. size - 1; an empty slot reads as reward 0)")
    expect_true(set(student["ids8"]) == {4.0, 5.0, 6.0, 7.0, 8.0}, "after 8 adds to a buffer "
                f"of 5, sample() drew transitions {sorted(set(student['ids8']))}: the ring must "
                "overwrite the OLDEST (1, 2, 3) and keep 4..8")
    counts = np.bincount(student["ids8"].astype(int), minlength=9)[4:]
    expect_true(counts.min() > 450 and counts.max() < 750, f"sample(3000) drew the 5 stored "
                f"transitions {counts.tolist()} times: sample uniformly")
    expect_true(student["consistent"], "sample() mixes fields of different transitions: index "
                "every field with the same indices")
    expect_true(student["repeats"], "two buffers with the same seed and contents sampled "
                "differently: draw with self.rng (seeded in __init__)")


@check(points=1, uses="dqn", task="`td_targets`",
       hint="r + gamma * (1 - done) * max over the action axis of next_q")
def td_targets(lab, rng):
    """Targets on random rewards, next Q-values and a mix of terminal flags, against numpy."""
    rewards, next_q = rng.normal(size=10), rng.normal(size=(10, 3))
    dones = (np.arange(10) % 3 == 0).astype("float32")
    y = lab.dqn.td_targets(rewards.astype("float32"), next_q.astype("float32"), dones, 0.9)
    return {"y": np.asarray(y, np.float64),
            "numpy": rewards + 0.9 * (1 - dones) * next_q.max(axis=1),
            "unmasked": rewards + 0.9 * next_q.max(axis=1),
            "inverted": rewards + 0.9 * dones * next_q.max(axis=1),
            "mean": rewards + 0.9 * (1 - dones) * next_q.mean(axis=1)}


@td_targets.verdict
def _(student, reference):
    expect_close_naming(student["y"], student["numpy"], "td_targets(rewards, next_q, dones, 0.9)",
                        [(student["unmasked"], "no terminal masking: after a done step there "
                          "is no next state to bootstrap from (multiply by 1 - done)"),
                         (student["inverted"], "the mask is inverted: bootstrap where done is 0"),
                         (student["mean"], "averages next_q; Q-learning takes the MAX over "
                          "next actions")], rtol=1e-5)


def _mean_targets(rewards, next_q, dones, gamma):
    """The checks' stand-in for td_targets: r + gamma (1 - done) MEAN_a' next_q."""
    import tensorflow as tf
    return (tf.cast(rewards, tf.float32) + gamma * (1.0 - tf.cast(dones, tf.float32))
            * tf.reduce_mean(tf.cast(next_q, tf.float32), axis=-1))


@check(points=3, uses="dqn", task="`DQN.train_step`",
       hint="targets from td_targets on self.target(next_obs), stopped; Huber loss of the "
       "online Q at the taken actions; step the online net; then sync_target(self.tau)")
def dqn_train_step(lab, rng):
    """One train_step (SGD 0.05, gamma 0.9, tau 0.3) on a replay batch of 6 with large
    rewards (so Huber's linear part matters), online and target networks with different
    random weights: the logged loss, the online output layer's step (finite differences of a
    numpy Huber loss) and the target network's Polyak average, all against numpy."""
    import keras
    keras.utils.set_random_seed(1)
    model = lab.dqn.DQN(3, 4, hidden=(8,), gamma=0.9, tau=0.3)
    assign_random_weights(model.online, rng, 0.6)
    assign_random_weights(model.target, rng, 0.6)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    batch = {"obs": rng.normal(size=(6, 3)).astype("float32"),
             "actions": np.array([0, 1, 2, 3, 1, 2], np.int32),
             "rewards": (rng.normal(size=6) * 2.0).astype("float32"),
             "next_obs": rng.normal(size=(6, 3)).astype("float32"),
             "dones": np.array([0, 1, 0, 0, 1, 0], np.float32)}
    online = [w.astype(np.float64) for w in model.online.get_weights()]
    target = [w.astype(np.float64) for w in model.target.get_weights()]
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    x = {k: v.astype(np.float64) for k, v in batch.items()}
    y = x["rewards"] + 0.9 * (1 - x["dones"]) * probes.mlp_numpy(target, x["next_obs"],
                                                                 relu).mean(axis=1)
    y_online = x["rewards"] + 0.9 * (1 - x["dones"]) * probes.mlp_numpy(
        online, x["next_obs"], relu).mean(axis=1)

    def loss(targets=y):
        q = probes.mlp_numpy(online, x["obs"], relu)[np.arange(6), batch["actions"]]
        return float(np.mean(probes.huber(targets - q)))
    numpy_loss, mse = loss(), float(np.mean(
        (y - probes.mlp_numpy(online, x["obs"], relu)[np.arange(6), batch["actions"]]) ** 2) / 2)
    grad_kernel = probes.gradient_by_differences(loss, online[-2])
    with standing_in(lab.dqn, td_targets=_mean_targets):
        logs = model.train_on_batch(batch, return_dict=True)
    online_after = [w.astype(np.float64) for w in model.online.get_weights()]
    return {"loss": float(logs["loss"]), "numpy_loss": numpy_loss, "half_mse": mse,
            "online_targets_loss": loss(y_online),
            "kernel_step": online_after[-2] - online[-2], "expected_step": -0.05 * grad_kernel,
            "target_after": np.concatenate([w.ravel() for w in model.target.get_weights()]),
            "polyak": np.concatenate([(0.3 * a + 0.7 * t).ravel()
                                      for a, t in zip(online_after, target)]),
            "untouched": np.concatenate([t.ravel() for t in target]),
            "synced_before": np.concatenate([(0.3 * a + 0.7 * t).ravel()
                                             for a, t in zip(online, target)]),
            "copied": np.concatenate([a.ravel() for a in online_after])}


@dqn_train_step.verdict
def _(student, reference):
    expect_close_naming(student["loss"], student["numpy_loss"],
                        "the loss DQN.train_step logs (Huber of the TD error)",
                        [(student["online_targets_loss"], "the targets come from the ONLINE "
                          "network; take Q(next_obs) from self.target"),
                         (student["half_mse"], "the squared error: use the Huber loss")],
                        rtol=1e-4, match_rtol=1e-3)
    expect_close(student["kernel_step"], student["expected_step"],
                 "the step of the online network's output kernel", rtol=2e-3, atol=1e-6)
    expect_close_naming(student["target_after"], student["polyak"],
                        "the target network's weights after the step",
                        [(student["untouched"], "unchanged: call self.sync_target(self.tau) "
                          "after the optimizer step"),
                         (student["copied"], "copied from the online network; Polyak "
                          "averaging moves it by tau only"),
                         (student["synced_before"], "averaged with the online weights from "
                          "BEFORE the optimizer step: call sync_target after optimizer.apply")],
                        rtol=1e-4, atol=1e-6)


def _chain_batch():
    """Every transition of a 4-state chain (one-hot observations): action 1 moves right,
    action 0 left (state 0 stays); reaching state 3 pays 1 and ends the episode."""
    states = np.repeat(np.arange(3), 2)
    actions = np.tile(np.array([0, 1], np.int32), 3)
    after = np.where(actions == 1, states + 1, np.maximum(states - 1, 0))
    eye = np.eye(4, dtype="float32")
    return {"obs": eye[states], "actions": actions, "rewards": (after == 3).astype("float32"),
            "next_obs": eye[after], "dones": (after == 3).astype("float32")}, states, after


@check(points=2, uses="dqn", timeout=60, task="`DQN.train_step` (training)",
       hint="a replay batch of the whole chain, 200 steps: the online Q must reach Q*; check "
       "the terminal mask, the target network's Q(next_obs) and the Polyak sync")
def dqn_learns_chain(lab, rng):
    """DQN (hidden 16, gamma 0.9, tau 0.2, Adam 0.02, seed 0) fitted for 200 steps on the
    6 transitions of a 4-state chain: its Q-values reach Q* of the chain (computed by a sweep
    over the table) as closely as the reference's (within 0.05, or 3 times its error)."""
    import keras
    import tensorflow as tf
    batch, states, after = _chain_batch()
    optimal = np.zeros((4, 2))
    for _ in range(60):
        for s, a, n in zip(states, batch["actions"], after):
            optimal[s, a] = (n == 3) + 0.9 * (n != 3) * optimal[n].max()
    keras.utils.set_random_seed(0)
    model = lab.dqn.DQN(4, 2, hidden=(16,), gamma=0.9, tau=0.2)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(200), epochs=1, verbose=0)
    q = np.asarray(model.online(np.eye(4, dtype="float32")[:3]), np.float64)
    return {"q": q, "error": float(np.abs(q - optimal[:3]).max()), "optimal": optimal[:3]}


@dqn_learns_chain.verdict
def _(student, reference):
    expect_true(np.all(np.isfinite(student["q"])), "the DQN's Q-values are not finite")
    expect_true(student["error"] <= max(0.05, 3 * reference["error"]),
                "after 200 train_steps on the chain, the online Q-values are "
                f"{np.round(student['q'], 3).tolist()}, "
                f"{student['error']:.3f} from Q* {np.round(student['optimal'], 3).tolist()} "
                f"(the reference gets within {reference['error']:.4f}): are targets masked at "
                "the terminal step and taken from the target network, and the target synced?")
