"""GPU checks of lab22_reinforcement_learning (autograder/gpu.py): the student's DQN
(`ReplayBuffer` and `DQN.train_step`) trained on CartPole-v1 for 30 000 environment steps,
and judged by the average return of its greedy policy against the reference's."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# 30 000 environment steps, one replay batch of 128 per step after a 1 000-step warm-up:
# 29 000 XLA train steps of a 4-64-64-2 MLP (online and target), a few GFLOP in all, so the
# budget is the per-step dispatch (~2 ms) and the environment: about 1.5 minutes, plus the
# compile and 60 greedy evaluation episodes in numpy.
ENV_STEPS, WARMUP, BATCH = 30_000, 1_000, 128
EPSILON_STEPS = 10_000            # epsilon decays linearly from 1 to 0.05 over these
EVALUATE_EVERY = 5_000            # greedy evaluations, from 5 000 steps on
EPISODES, MAX_STEPS = 10, 500     # greedy episodes per evaluation, CartPole-v1's cap
RATIO = 0.6                       # RL is noisy: 0.6 of the reference's best average return
FLOOR = 150.0                     # and a policy that balances (random play gets about 20)


def _greedy(weights, obs):
    """The online Q-network's greedy action in numpy (a ReLU MLP; far faster than a Keras
    call once per environment step)."""
    h = obs[None].astype(np.float32)
    for index in range(0, len(weights), 2):
        h = h @ weights[index] + weights[index + 1]
        if index + 2 < len(weights):
            h = np.maximum(h, 0.0)
    return int(np.argmax(h[0]))


def _average_return(gym, weights, episodes, max_steps, seed):
    env = gym.make("CartPole-v1", max_episode_steps=max_steps)
    total = 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(_greedy(weights, obs))
            total, done = total + reward, terminated or truncated
    env.close()
    return total / episodes


@gpu_check(points=3, minutes=3.0, uses="dqn", task="`ReplayBuffer`, `DQN.train_step`",
           hint="the DQN on CartPole-v1 for 30 000 steps: check the TD targets (target "
                "network, masked where done), the Q-value of the action taken, and the "
                "Polyak update after every step")
def dqn_on_cartpole(lab, rng):
    """`DQN(4, 2, hidden=(64, 64))` with a `ReplayBuffer(50_000)` trained on CartPole-v1 for
    30 000 environment steps (epsilon-greedy, one XLA train step on a replay batch of 128 per
    environment step): the best average return of its greedy policy over 10 episodes,
    measured every 5 000 steps, reaches 0.6 of the reference's and 150."""
    import gymnasium as gym
    import keras
    seed = int(rng.integers(1_000))
    env = gym.make("CartPole-v1", max_episode_steps=MAX_STEPS)
    env.action_space.seed(seed)
    agent = lab.dqn.DQN(4, 2, hidden=(64, 64), gamma=0.99, tau=0.01)
    lab.gpu.compile(agent, keras.optimizers.Adam(1e-3))
    buffer = lab.dqn.ReplayBuffer(50_000, 4, seed=seed)
    total = lab.gpu.steps(ENV_STEPS)
    warmup = min(WARMUP, total - 1)
    evaluations, episode = [], 0
    obs, _ = env.reset(seed=seed)
    weights = agent.online.get_weights()
    for step in range(1, total + 1):
        epsilon = max(0.05, 1.0 - 0.95 * step / EPSILON_STEPS)
        action = (int(env.action_space.sample()) if rng.random() < epsilon
                  else _greedy(weights, obs))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        obs = next_obs
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
        if len(buffer) >= warmup:
            agent.train_on_batch(buffer.sample(BATCH))
            weights = agent.online.get_weights()
        if step % EVALUATE_EVERY == 0 or step == total:
            # The smoke test's untrained policy: a few short episodes suffice.
            evaluations.append(_average_return(
                gym, weights, 3 if lab.gpu.smoke else EPISODES,
                50 if lab.gpu.smoke else MAX_STEPS, seed=10_000 + seed))
    env.close()
    return {"best_return": float(max(evaluations)), "returns": [float(r) for r in evaluations],
            "smoke": lab.gpu.smoke}


@dqn_on_cartpole.verdict
def _(student, reference):
    expect_at_least(student["best_return"], RATIO * reference["best_return"],
                    "the best average greedy return of the DQN on CartPole-v1 (the reference "
                    f"reaches {reference['best_return']:.1f} with the same training; yours, at "
                    f"each evaluation: {', '.join(f'{r:.0f}' for r in student['returns'])})")
    if not student["smoke"]:
        expect_at_least(student["best_return"], FLOOR,
                        "the best average greedy return of the DQN on CartPole-v1")
