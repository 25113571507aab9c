"""Public checks of lab22, part 1: value iteration and the greedy policy (tabular.py), and the
policy-gradient maths and the REINFORCE update and training (policy_gradients.py). The
references are the checks' own: policy iteration by exact linear solves, brute-force loops,
numpy losses and their gradients written out."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import standing_in
from autograder.checks.lab22_reinforcement_learning import probes
from autograder.verdicts import (
    expect_at_least,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
)

# Two seeds, averaged: at seeds 0 and 4 the reference itself collapses to ~12 in 30 episodes.
# The margin was calibrated on 10 runs (seeds 2 and 7 at learning rates 0.008-0.012, standing
# in for correct code whose rounding sends the episodes elsewhere): their two-seed means were
# 38.8-78.5; a sign-flipped loss gives ~11, a policy that never updates 15.4.
REINFORCE_EPISODES, REINFORCE_SEEDS = 30, (2, 7)


def _worlds(rng):
    from dlkit.data import make_gridworld
    world = make_gridworld(4, slip=0.2, seed=3)
    return [(world["transitions"], world["rewards"], 0.9), (*probes.random_mdp(rng), 0.7)]


@check(points=1, uses="tabular", task="`action_values`",
       hint="Q[s, a] = R[s, a] + gamma * sum over s' of P[s, a, s'] * V[s']")
def action_values(lab, rng):
    """Q = R + gamma P V on a random MDP and a random V, against a loop over (s, a)."""
    transitions, rewards = probes.random_mdp(rng, 5, 3)
    values = rng.normal(size=5)
    loop = np.array([[rewards[s, a] + 0.8 * np.dot(transitions[s, a], values)
                      for a in range(3)] for s in range(5)])
    return {"q": lab.tabular.action_values(transitions, rewards, values, 0.8), "loop": loop,
            "wrong_index": rewards + 0.8 * np.einsum("sat,s->sa", transitions, values)}


@action_values.verdict
def _(student, reference):
    expect_close_naming(student["q"], student["loop"], "action_values(P, R, V, gamma=0.8)",
                        [(student["wrong_index"], "V is indexed by the current state s; it "
                          "must be the NEXT state s' (sum over P's last axis)")], rtol=1e-9)


@check(points=2, uses="tabular", task="`value_iteration`",
       hint="repeat V = max over a of action_values(P, R, V, gamma) until max|change| < tol")
def value_iteration(lab, rng):
    """V on a 4x4 gridworld with slip (gamma 0.9) and a random MDP (gamma 0.7), against the
    optimal values found by policy iteration with exact linear solves."""
    out = {}
    for k, (transitions, rewards, gamma) in enumerate(_worlds(rng)):
        values, sweeps = lab.tabular.value_iteration(transitions, rewards, gamma)
        out[f"v{k}"], out[f"sweeps{k}"] = np.asarray(values), int(sweeps)
        out[f"optimal{k}"] = probes.optimal_values(transitions, rewards, gamma)
    return out


@value_iteration.verdict
def _(student, reference):
    for k, name in enumerate(("the 4x4 gridworld (gamma 0.9)", "a random MDP (gamma 0.7)")):
        what = f"value_iteration on {name}"
        expect_close(student[f"v{k}"], student[f"optimal{k}"],
                     f"{what} (against V* of policy iteration)", rtol=1e-6, atol=1e-7)
        expect_true(1 < student[f"sweeps{k}"] <= 3 * reference[f"sweeps{k}"] + 5,
                    f"{what} reports {student[f'sweeps{k}']} sweeps; iterating to tol takes "
                    f"about {reference[f'sweeps{k}']}")


@check(points=1, uses="tabular", task="`greedy_policy`",
       hint="argmax over the ACTION axis (axis=1) of action_values(P, R, V, gamma)")
def greedy_policy(lab, rng):
    """The greedy policy of V* (from policy iteration): its exact value (a linear solve) must
    be V* itself, on both MDPs."""
    out = {}
    for k, (transitions, rewards, gamma) in enumerate(_worlds(rng)):
        optimal = probes.optimal_values(transitions, rewards, gamma)
        policy = np.asarray(lab.tabular.greedy_policy(transitions, rewards, optimal, gamma))
        out[f"policy{k}"], out[f"optimal{k}"] = policy, optimal
        out[f"value{k}"] = (probes.policy_value(transitions, rewards, policy.astype(int), gamma)
                            if policy.shape == optimal.shape else np.full(1, np.nan))
    return out


@greedy_policy.verdict
def _(student, reference):
    for k in range(2):
        expect_equal(student[f"policy{k}"].shape, reference[f"policy{k}"].shape,
                     "greedy_policy(...).shape (one action per state)")
        expect_close(student[f"value{k}"], student[f"optimal{k}"],
                     "the exact value of greedy_policy(P, R, V*, gamma) (it must be optimal)",
                     rtol=1e-8, atol=1e-8)


@check(points=1, uses="policy_gradients", task="`discounted_returns`",
       hint="go BACKWARDS: G_t = r_t + gamma * G_{t+1}, starting from G_T = 0")
def discounted_returns(lab, rng):
    """Returns-to-go of two random episodes (gamma 0.9 and 0.5) against a double loop."""
    out = {}
    for k, gamma in enumerate((0.9, 0.5)):
        rewards = rng.normal(size=7 + 4 * k)
        out[f"g{k}"] = np.asarray(lab.policy_gradients.discounted_returns(rewards, gamma))
        out[f"brute{k}"] = probes.brute_returns(rewards, gamma)
        out[f"from_start{k}"] = np.array([sum(gamma ** i * rewards[i]
                                              for i in range(t, len(rewards)))
                                          for t in range(len(rewards))])
        out[f"forward{k}"] = np.array([sum(gamma ** (t - i) * rewards[i] for i in range(t + 1))
                                       for t in range(len(rewards))])
    return out


@discounted_returns.verdict
def _(student, reference):
    for k, gamma in enumerate((0.9, 0.5)):
        expect_close_naming(student[f"g{k}"], student[f"brute{k}"],
                            f"discounted_returns(rewards, gamma={gamma})",
                            [(student[f"from_start{k}"], "discounted from the episode's start "
                              "(gamma^k), not from step t (gamma^(k - t))"),
                             (student[f"forward{k}"], "summed over the PAST rewards; "
                              "returns-to-go sum the future ones")], rtol=1e-9)


@check(points=2, uses="policy_gradients", task="`policy_gradient_loss`",
       hint="-mean(log_softmax(logits)[i, a_i] * stop_gradient(advantages_i))")
def policy_gradient_loss(lab, rng):
    """The loss on three batches of random logits and signed advantages (8, 5 and 11
    samples, 3 actions) and its gradients (tf.GradientTape) on the first, against numpy:
    d/dlogits = -(onehot - softmax) * A / N, and none for the advantages."""
    import tensorflow as tf
    out = {k: [] for k in ("loss", "numpy_loss", "probs_loss", "sum_loss")}
    for k, n in enumerate((8, 5, 11)):
        logits = tf.Variable(rng.normal(size=(n, 3)).astype("float32"))
        actions = rng.integers(0, 3, size=n).astype("int32")
        advantages = tf.Variable(rng.normal(size=n).astype("float32"))
        with tf.GradientTape() as tape:
            loss = lab.policy_gradients.policy_gradient_loss(logits, actions, advantages)
        z, a = logits.numpy().astype(np.float64), advantages.numpy().astype(np.float64)
        log_p = probes.log_softmax(z)
        out["loss"].append(float(loss))
        out["numpy_loss"].append(-np.mean(log_p[np.arange(n), actions] * a))
        out["probs_loss"].append(-np.mean(np.exp(log_p)[np.arange(n), actions] * a))
        out["sum_loss"].append(-np.sum(log_p[np.arange(n), actions] * a))
        if k == 0:
            grad_logits, grad_adv = tape.gradient(loss, [logits, advantages])
            out["grad_logits"] = grad_logits
            out["grad_adv"] = np.zeros(n) if grad_adv is None else grad_adv
            out["numpy_grad"] = -(np.eye(3)[actions] - np.exp(log_p)) * a[:, None] / n
    return {k: np.asarray(v, np.float64) if isinstance(v, list) else v for k, v in out.items()}


@policy_gradient_loss.verdict
def _(student, reference):
    what = "policy_gradient_loss(logits, actions, advantages) on three batches"
    expect_close_naming(student["loss"], student["numpy_loss"], what,
                        [(-student["numpy_loss"], "the sign is flipped: minimising it must "
                          "RAISE log pi of actions with positive advantage"),
                         (student["probs_loss"], "uses probabilities, not LOG-probabilities"),
                         (student["sum_loss"], "a batch SUM; take the mean"),
                         (student["numpy_loss"] / 3, "a mean over the (N, A) one-hot product "
                          "divides by the number of actions too: sum over the actions, mean "
                          "over the batch")], rtol=1e-5)
    expect_close(student["grad_logits"], student["numpy_grad"],
                 "the gradient of policy_gradient_loss on the first batch with respect to "
                 "the logits", rtol=1e-4, atol=1e-6)
    expect_true(np.allclose(student["grad_adv"], 0.0),
                "policy_gradient_loss sends gradients into the advantages: wrap them in tf.stop_gradient "
                "(the baseline must not be trained through the policy loss)")


@check(points=2, uses="policy_gradients", task="`gae_advantages`",
       hint="backwards: delta = r + gamma * V_next * (1 - done) - V; A = delta + gamma * lam "
       "* (1 - done) * A_next; V_next is last_value after the final step")
def gae_advantages(lab, rng):
    """GAE over a rollout of 12 steps holding two episode ends (gamma 0.95, lambda 0.9 and
    lambda 1), against a brute-force sum of discounted TD errors."""
    rewards, values = rng.normal(size=12), rng.normal(size=12)
    dones = np.zeros(12, bool)
    dones[[4, 9]] = True
    out = {}
    for k, lam in enumerate((0.9, 1.0)):
        out[f"a{k}"] = np.asarray(lab.policy_gradients.gae_advantages(
            rewards, values, 0.7, dones, 0.95, lam))
        out[f"brute{k}"] = probes.brute_gae(rewards, values, 0.7, dones, 0.95, lam)
        out[f"unmasked{k}"] = probes.brute_gae(rewards, values, 0.7, np.zeros(12, bool),
                                               0.95, lam)
        out[f"carried{k}"] = probes.brute_gae(rewards, values, 0.7, dones, 0.95, lam,
                                              stop_at_done=False)
        out[f"no_last{k}"] = probes.brute_gae(rewards, values, 0.0, dones, 0.95, lam)
    return out


@gae_advantages.verdict
def _(student, reference):
    for k, lam in enumerate((0.9, 1.0)):
        expect_close_naming(student[f"a{k}"], student[f"brute{k}"],
                            f"gae_advantages(..., gamma=0.95, lam={lam})",
                            [(student[f"unmasked{k}"], "ignores dones: an episode's end must "
                              "stop both the bootstrap and the advantage carried back"),
                             (student[f"carried{k}"], "a done step cuts the bootstrap but the "
                              "next episode's advantage is still carried back across it: "
                              "multiply A_next by (1 - done) too"),
                             (student[f"no_last{k}"], "the final step bootstraps from 0; the "
                              "rollout was cut mid-episode, so V_next there is last_value")],
                            rtol=1e-9)


@check(points=2, uses="policy_gradients", task="`ppo_clip_loss`",
       hint="ratio = exp(new - old); -mean(minimum(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))")
def ppo_clip_loss(lab, rng):
    """The clipped surrogate on crafted ratios inside and beyond both clip edges, with both
    signs of advantage, and its gradient (zero where the clip is active), against numpy."""
    import tensorflow as tf
    ratios = np.array([0.5, 0.75, 0.9, 1.0, 1.1, 1.3, 1.6, 0.6, 0.85, 1.15, 1.4, 2.0])
    advantages = np.array([1.0, 2.0, -1.0, 0.5, 1.5, 1.0, -2.0, -1.0, 0.5, -1.5, -0.5, 1.0])
    old = rng.normal(size=12) - 1.0
    new = tf.Variable((old + np.log(ratios)).astype("float32"))
    old_var = tf.Variable(old.astype("float32"))
    with tf.GradientTape() as tape:
        loss = lab.policy_gradients.ppo_clip_loss(new, old_var, advantages.astype("float32"), 0.2)
    grad_new, grad_old = tape.gradient(loss, [new, old_var])
    clipped = np.clip(ratios, 0.8, 1.2)
    active = np.where(ratios * advantages <= clipped * advantages, 1.0, 0.0)
    return {"loss": float(loss), "grad_new": grad_new,
            "grad_old": np.zeros(12) if grad_old is None else grad_old,
            "numpy_loss": -np.mean(np.minimum(ratios * advantages, clipped * advantages)),
            "numpy_grad": -active * ratios * advantages / 12,
            "max_loss": -np.mean(np.maximum(ratios * advantages, clipped * advantages)),
            "clip_only": -np.mean(clipped * advantages)}


@ppo_clip_loss.verdict
def _(student, reference):
    what = "ppo_clip_loss(new_log_probs, old_log_probs, advantages, clip=0.2)"
    expect_close_naming(student["loss"], student["numpy_loss"], what,
                        [(-student["numpy_loss"], "the sign is flipped: the loss is MINUS the "
                          "surrogate"),
                         (student["max_loss"], "takes the maximum of the two surrogates; PPO "
                          "takes the minimum (the pessimistic bound)"),
                         (student["clip_only"], "uses the clipped surrogate alone; take the "
                          "minimum with the unclipped one")], rtol=1e-5)
    expect_close(student["grad_new"], student["numpy_grad"],
                 f"the gradient of {what} with respect to new_log_probs (zero where the clip "
                 "is active)", rtol=1e-4, atol=1e-6)
    expect_true(np.allclose(student["grad_old"], 0.0),
                f"{what} sends gradients into old_log_probs: they are constants "
                "(tf.stop_gradient)")


def _linear_policy_loss(logits, actions, advantages):
    """The checks' stand-in for policy_gradient_loss, of known different behaviour:
    -mean(logits[i, a_i] * A_i), raw logits (no log-softmax). It records the advantages."""
    import tensorflow as tf
    _linear_policy_loss.seen = tf.identity(advantages).numpy()
    taken = tf.reduce_sum(tf.one_hot(actions, tf.shape(logits)[-1]) * logits, axis=1)
    return -tf.reduce_mean(taken * tf.stop_gradient(advantages))


@check(points=2, uses="policy_gradients", task="`actor_critic_loss`",
       hint="policy_gradient_loss(logits, actions, stop_gradient(returns - values)) + "
       "value_coef * mean((returns - values)^2) - entropy_coef * mean(-sum p log p)")
def actor_critic_loss(lab, rng):
    """The loss (value_coef 0.7, entropy_coef 0.05) on random logits, values and returns, and
    its gradients with respect to the logits and the values (tf.GradientTape), against
    numpy and finite differences; the policy term goes through a stand-in
    policy_gradient_loss (-mean(logits[i, a_i] * A_i)) when actor_critic_loss calls it."""
    import tensorflow as tf
    pg = lab.policy_gradients
    n = 10
    logits = tf.Variable(rng.normal(size=(n, 3)).astype("float32"))
    values = tf.Variable(rng.normal(size=n).astype("float32"))
    actions = rng.integers(0, 3, size=n).astype("int32")
    returns = (rng.normal(size=n) * 2.0).astype("float32")
    with standing_in(pg, policy_gradient_loss=_linear_policy_loss):
        _linear_policy_loss.seen = None
        with tf.GradientTape() as tape:
            loss = pg.actor_critic_loss(logits, values, actions, returns,
                                        value_coef=0.7, entropy_coef=0.05)
        grad_logits, grad_values = tape.gradient(loss, [logits, values])
    stood_in = _linear_policy_loss.seen is not None
    z0, v0 = logits.numpy().astype(np.float64), values.numpy().astype(np.float64)
    g, rows = returns.astype(np.float64), np.arange(n)
    advantages = g - v0  # a copy: the differences below move v0 but not the advantages

    def terms(z, v, advantages):
        log_p = probes.log_softmax(z)
        taken = z[rows, actions] if stood_in else log_p[rows, actions]
        entropy = np.mean(-np.sum(np.exp(log_p) * log_p, axis=1))
        return -np.mean(taken * advantages), np.mean((g - v) ** 2), entropy

    def numpy_loss(z=z0, v=v0):
        policy, value, entropy = terms(z, v, advantages)
        return policy + 0.7 * value - 0.05 * entropy
    policy, value, entropy = terms(z0, v0, advantages)
    taken = z0[rows, actions] if stood_in else probes.log_softmax(z0)[rows, actions]
    grad_v = probes.gradient_by_differences(lambda: numpy_loss(z0, v0), v0)
    return {"loss": float(loss), "numpy_loss": numpy_loss(),
            "entropy_penalised": policy + 0.7 * value + 0.05 * entropy,
            "advantages_reversed": -policy + 0.7 * value - 0.05 * entropy,
            "value_unscaled": policy + value - 0.05 * entropy,
            "grad_logits": np.zeros((n, 3)) if grad_logits is None else grad_logits,
            "numpy_grad_logits": probes.gradient_by_differences(lambda: numpy_loss(z0, v0), z0),
            "grad_values": np.zeros(n) if grad_values is None else grad_values,
            "numpy_grad_values": grad_v, "undetached_grad_values": grad_v + taken / n}


@actor_critic_loss.verdict
def _(student, reference):
    what = "actor_critic_loss(logits, values, actions, returns, value_coef=0.7, entropy_coef=0.05)"
    expect_close_naming(student["loss"], student["numpy_loss"], what,
                        [(student["entropy_penalised"], "the entropy is ADDED to the loss: "
                          "the bonus is subtracted (minus entropy_coef * entropy), so "
                          "minimising keeps the policy spread out"),
                         (student["advantages_reversed"], "the advantages are values - returns; "
                          "they are returns - values"),
                         (student["value_unscaled"], "the value term is not multiplied by "
                          "value_coef")], rtol=1e-5)
    expect_close_naming(student["grad_values"], student["numpy_grad_values"],
                        f"the gradient of {what} with respect to the values",
                        [(student["undetached_grad_values"], "the policy term sends gradients "
                          "into the values: detach the advantages (tf.stop_gradient)")],
                        rtol=1e-3, atol=1e-5)
    expect_close(student["grad_logits"], student["numpy_grad_logits"],
                 f"the gradient of {what} with respect to the logits", rtol=1e-3, atol=1e-5)


@check(points=2, uses="policy_gradients", task="`reinforce_update`",
       hint="advantages = returns - baseline(obs)[:, 0]; loss = policy loss + mean((returns - "
       "values)^2): one optimizer step on both networks")
def reinforce_update(lab, rng):
    """One update (SGD 0.1) on a fixed 9-step episode, with a stand-in policy loss: the
    advantages it receives are returns minus the baseline's values (numpy), and the policy's
    output bias and the baseline's last layer move by -0.1 times their numpy gradient."""
    import keras
    pg = lab.policy_gradients
    keras.utils.set_random_seed(0)
    policy, baseline = pg.mlp(4, 2, hidden=(6,)), pg.mlp(4, 1, hidden=(6,))
    obs = rng.normal(size=(9, 4)).astype("float32")
    actions = rng.integers(0, 2, size=9).astype("int32")
    rewards = rng.uniform(0.5, 1.5, size=9)
    returns = probes.brute_returns(rewards, 0.9)
    base_w = [w.astype(np.float64) for w in baseline.get_weights()]
    values = probes.mlp_numpy(base_w, obs.astype(np.float64), np.tanh)[:, 0]

    def baseline_mse():
        return np.mean((returns - probes.mlp_numpy(base_w, obs, np.tanh)[:, 0]) ** 2)
    grad_kernel = probes.gradient_by_differences(baseline_mse, base_w[-2])
    grad_bias = probes.gradient_by_differences(baseline_mse, base_w[-1])
    before_policy_bias = policy.get_weights()[-1].copy()
    with standing_in(pg, policy_gradient_loss=_linear_policy_loss):
        _linear_policy_loss.seen = None
        pg.reinforce_update(policy, baseline, keras.optimizers.SGD(0.1), obs, actions,
                            rewards, 0.9)
    advantages = returns - values
    policy_grad = np.array([-np.mean((actions == k) * advantages) for k in range(2)])
    return {"seen": np.full(9, np.nan) if _linear_policy_loss.seen is None
            else _linear_policy_loss.seen, "advantages": advantages, "returns": returns,
            "policy_bias_step": policy.get_weights()[-1] - before_policy_bias,
            "expected_policy_step": -0.1 * policy_grad,
            "baseline_kernel_step": baseline.get_weights()[-2] - base_w[-2],
            "expected_kernel_step": -0.1 * grad_kernel,
            "baseline_bias_step": baseline.get_weights()[-1] - base_w[-1],
            "expected_bias_step": -0.1 * grad_bias}


@reinforce_update.verdict
def _(student, reference):
    expect_close_naming(student["seen"], student["advantages"],
                        "the advantages reinforce_update passes to policy_gradient_loss",
                        [(student["returns"], "the returns themselves: subtract the baseline's "
                          "values")], rtol=1e-4, atol=1e-4)
    expect_close(student["policy_bias_step"], student["expected_policy_step"],
                 "the step of the policy's output bias", rtol=1e-3, atol=1e-6)
    for part in ("kernel", "bias"):
        expect_close_naming(student[f"baseline_{part}_step"], student[f"expected_{part}_step"],
                            f"the step of the baseline's output {part}",
                            [(np.zeros_like(student[f"expected_{part}_step"]), "the baseline "
                              "did not move: add its squared error to the returns to the loss")],
                            rtol=2e-3, atol=1e-5)


@check(points=3, uses="policy_gradients", timeout=60, task="`reinforce_update` (training)",
       hint="the returns-to-go, advantages with a detached baseline and the loss sign: "
       "minimising the loss must make good actions more likely")
def reinforce_trains(lab, rng):
    """`train_reinforce` on CartPole-v1 for 30 episodes at seeds 2 and 7: the mean return of
    the last 10 episodes, averaged over both seeds, reaches 0.4 of the reference's and at
    least 25 (an untrained policy gets ~15, a sign-flipped loss ~11)."""
    out = {}
    for seed in REINFORCE_SEEDS:
        # The checks' copy of train_reinforce: the same episodes, under half the cost.
        returns = probes.train_reinforce(lab.policy_gradients, REINFORCE_EPISODES, seed,
                                         max_steps=200)
        out[f"first{seed}"] = float(np.mean(returns[:10]))
        out[f"last{seed}"] = float(np.mean(returns[-10:]))
    out["last"] = float(np.mean([out[f"last{seed}"] for seed in REINFORCE_SEEDS]))
    return out


@reinforce_trains.verdict
def _(student, reference):
    per_seed = ", ".join(f"{student[f'last{s}']:.1f} at seed {s}" for s in REINFORCE_SEEDS)
    expect_at_least(student["last"], max(25.0, 0.4 * reference["last"]),
                    "the mean return of the last 10 of 30 REINFORCE episodes on CartPole, "
                    f"averaged over seeds 2 and 7 ({per_seed}; the reference reaches "
                    f"{reference['last']:.1f})")
    expect_true(all(np.isfinite(student[f"first{s}"]) for s in REINFORCE_SEEDS),
                "the first episodes' returns are not finite")
