"""GPU-readiness checks of lab22_reinforcement_learning: they run on a CPU too (see
autograder/readiness.py). The student's DQN trains on random replay batches under XLA and
float16, with varying batch sizes."""
from autograder import readiness


def _build(lab):
    return lambda: lab.dqn.DQN(4, 2, hidden=(16,))


def _replay(rng, n=64):
    """A random replay batch of CartPole-shaped transitions (one dict: the model's x)."""
    return ({"obs": rng.normal(size=(n, 4)).astype("float32"),
             "actions": rng.integers(0, 2, size=n).astype("int32"),
             "rewards": rng.normal(size=n).astype("float32"),
             "next_obs": rng.normal(size=(n, 4)).astype("float32"),
             "dones": (rng.uniform(size=n) < 0.1).astype("float32")},)


(dqn_trains_with_xla, dqn_trains_in_mixed_precision,
 dqn_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "dqn", build=_build, data=_replay, uses="dqn", task="`DQN.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; Q-values and "
               "targets cast to float32")
