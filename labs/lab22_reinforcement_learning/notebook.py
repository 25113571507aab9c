# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 22 companion: reinforcement learning
#
# Value iteration on a gridworld; REINFORCE with a baseline, a DQN and an advantage
# actor-critic on CartPole; and MCTS on tic-tac-toe, using the graded modules. Figures go under `outputs/lab22_reinforcement_learning/`.
# `DLKIT_QUICK=1` shrinks every budget.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlkit import backend  # noqa: E402
from dlkit.backend import reset_keras  # noqa: E402
from dlkit.data import make_gridworld, render_gridworld  # noqa: E402
from dlkit.plots import save_figure  # noqa: E402
from dlkit.training import run_dir  # noqa: E402

keras = backend.keras()
tf = backend.tensorflow()

import dqn  # noqa: E402
import mcts  # noqa: E402
import policy_gradients  # noqa: E402
import tabular  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab22_reinforcement_learning", "quick" if QUICK else "full")

# %% [markdown]
# ## Value iteration and the greedy policy

# %%
world = make_gridworld(5, slip=0.2, seed=3)
values, sweeps = tabular.value_iteration(world["transitions"], world["rewards"], 0.9)
policy = tabular.greedy_policy(world["transitions"], world["rewards"], values, 0.9)
print(f"value iteration converged in {sweeps} sweeps")
ax = render_gridworld(world, values, policy)
ax.set_title("V* and the greedy policy (gamma 0.9)")
save_figure(ax.figure, out / "gridworld.png", dpi=100)
plt.close(ax.figure)

# %% [markdown]
# ## REINFORCE with a baseline on CartPole-v1

# %%
def plot_and_log(returns, name, title):
    """Plot the episode returns and their moving average to NAME_returns.png, and log them to
    TensorBoard under the run dir's NAME/."""
    returns = np.asarray(returns, np.float64)
    window = max(1, min(20, len(returns) // 5))
    smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
    figure, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(returns, alpha=0.3, label="episode return")
    ax.plot(np.arange(window - 1, len(returns)), smooth, label=f"mean of {window}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend()
    save_figure(figure, out / f"{name}_returns.png", dpi=100)
    plt.close(figure)
    writer = tf.summary.create_file_writer(str(out / name))
    with writer.as_default():
        for step, value in enumerate(returns):
            tf.summary.scalar("episode_return", value, step=step)
    writer.flush()
    return window


episodes = 10 if QUICK else 300
_, returns = policy_gradients.train_reinforce(episodes, seed=2)
window = plot_and_log(returns, "reinforce", "REINFORCE with a baseline")
print(f"mean return of the last {window} episodes: {returns[-window:].mean():.1f}")

# %% [markdown]
# ## A DQN on CartPole-v1
#
# The graded `ReplayBuffer` and `DQN` in a given training loop: the agent acts
# epsilon-greedily on the online network's Q-values, with epsilon decaying linearly from 1
# to 0.05; every transition goes into the replay buffer, and once the buffer holds a
# warm-up's worth, every environment step is followed by one `train_on_batch` on a replay
# batch, which runs your `train_step` (Huber TD loss against the target network, then the
# Polyak update of the target). Only `terminated` counts as done: an episode cut off by the
# 500-step time limit still bootstraps from the next state's value.
#
# In a full run the moving average stays at the random policy's short episodes for the
# first stretch, while epsilon is high and the buffer fills; it then jumps once the agent
# mostly acts greedily, levels off for a while and climbs again, unevenly. DQN's curve is
# not monotone: after its best stretch it can fall back for a while, since the targets
# move and the buffer fills with a different policy's data.

# %%
def greedy_q(agent, obs):
    """The online network's Q-values for one observation, in numpy (the Q-network is a ReLU
    MLP; far faster than a Keras call once per step)."""
    weights = agent.online.get_weights()
    x = obs[None].astype(np.float32)
    for index in range(0, len(weights), 2):
        x = x @ weights[index] + weights[index + 1]
        if index + 2 < len(weights):
            x = np.maximum(x, 0.0)
    return x[0]


def train_dqn(episodes, seed=0, warmup=500, batch_size=64, epsilon_steps=5_000,
              learning_rate=1e-3, max_steps=500):
    """A DQN on CartPole-v1; returns (agent, the return of each episode)."""
    import gymnasium as gym
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("CartPole-v1", max_episode_steps=max_steps)
    env.action_space.seed(seed)
    agent = dqn.DQN(4, 2, hidden=(64, 64), gamma=0.99, tau=0.01)
    agent.compile(optimizer=keras.optimizers.Adam(learning_rate))
    buffer = dqn.ReplayBuffer(50_000, 4, seed=seed)
    episode_returns, steps = [], 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            epsilon = max(0.05, 1.0 - 0.95 * steps / epsilon_steps)
            if rng.random() < epsilon:
                action = int(env.action_space.sample())
            else:
                action = int(np.argmax(greedy_q(agent, obs)))
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.add(obs, action, reward, next_obs, terminated)
            obs, total, steps = next_obs, total + reward, steps + 1
            done = terminated or truncated
            if len(buffer) >= warmup:
                agent.train_on_batch(buffer.sample(batch_size))
        episode_returns.append(total)
    env.close()
    return agent, np.asarray(episode_returns)


dqn_episodes = 6 if QUICK else 300
agent, dqn_returns = train_dqn(dqn_episodes, seed=2, warmup=32 if QUICK else 500)
window = plot_and_log(dqn_returns, "dqn", "DQN")
print(f"DQN: mean return of the last {window} episodes: {dqn_returns[-window:].mean():.1f}")

# %% [markdown]
# ## Advantage actor-critic on CartPole-v1
#
# One two-headed network, the given `mlp` with three outputs: the first two are the policy's
# logits and the third is the critic's value, on a shared hidden layer. The agent collects
# rollouts of `n_steps` steps (across episode boundaries), turns them into n-step returns that
# bootstrap from the critic's value of the state after the rollout (your `gae_advantages`
# with `lam=1` gives returns minus values), and takes one optimizer step on your
# `actor_critic_loss` inside a `tf.GradientTape`. Here an episode's end, time limit included,
# stops the bootstrap.
#
# In a full run the curve shows no flat start like DQN's (there is no replay warm-up or
# epsilon schedule to wait through): the moving average climbs from the first episodes on,
# steadily but slowly, and is still rising when the budget ends. Single episodes scatter
# widely around it, since the policy stays stochastic (the entropy bonus sees to that).
# Note the x-axis counts episodes, not environment steps: long episodes cost more steps.

# %%
def train_a2c(episodes, seed=0, n_steps=32, gamma=0.99, learning_rate=3e-3, max_steps=500):
    """Advantage actor-critic on CartPole-v1; returns (network, the return of each episode)."""
    import gymnasium as gym
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("CartPole-v1", max_episode_steps=max_steps)
    env.action_space.seed(seed)
    network = policy_gradients.mlp(4, 3, hidden=(64,), name="actor_critic")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(network.trainable_variables)
    episode_returns, total = [], 0.0
    obs, _ = env.reset(seed=seed)
    while len(episode_returns) < episodes:
        observations, actions, rewards, dones = [], [], [], []
        for _ in range(n_steps):
            logits = policy_gradients.numpy_forward(network, obs[None].astype(np.float32))[0, :2]
            probs = np.exp(logits - logits.max())
            action = int(rng.choice(2, p=probs / probs.sum()))
            next_obs, reward, terminated, truncated, _ = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            dones.append(terminated or truncated)
            total += reward
            obs = next_obs
            if terminated or truncated:
                episode_returns.append(total)
                total = 0.0
                obs, _ = env.reset(seed=seed + len(episode_returns))
        observations = np.asarray(observations, np.float32)
        outputs = policy_gradients.numpy_forward(
            network, np.concatenate([observations, obs[None].astype(np.float32)]))
        values, last_value = outputs[:-1, 2], outputs[-1, 2]
        returns = values + policy_gradients.gae_advantages(
            np.asarray(rewards), values, last_value, np.asarray(dones), gamma, 1.0)
        with tf.GradientTape() as tape:
            out_ = network(observations, training=True)
            loss = policy_gradients.actor_critic_loss(
                out_[:, :2], out_[:, 2], np.asarray(actions, np.int32),
                returns.astype(np.float32))
        variables = network.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
    env.close()
    return network, np.asarray(episode_returns[:episodes])


a2c_episodes = 6 if QUICK else 500
_, a2c_returns = train_a2c(a2c_episodes, seed=2)
window = plot_and_log(a2c_returns, "a2c", "advantage actor-critic")
print(f"A2C: mean return of the last {window} episodes: {a2c_returns[-window:].mean():.1f}")

# %% [markdown]
# ## MCTS on tic-tac-toe: visit counts

# %%
board = (1, 0, 0, -1, -1, 0, 1, 0, 0)
move, counts = mcts.MCTS(seed=0).search(board, 50 if QUICK else 800)
figure, ax = plt.subplots(figsize=(3, 3))
ax.imshow(counts.reshape(3, 3), cmap="Blues")
for cell, mark in enumerate(board):
    text = {1: "X", -1: "O"}.get(mark, str(counts[cell]))
    ax.text(cell % 3, cell // 3, text, ha="center", va="center")
ax.set_title(f"visits; MCTS plays {move}")
ax.set_xticks([])
ax.set_yticks([])
save_figure(figure, out / "mcts_visits.png", dpi=100)
plt.close(figure)
