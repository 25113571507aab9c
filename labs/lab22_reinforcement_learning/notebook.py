# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 22 companion: reinforcement learning
#
# Value iteration on a gridworld, REINFORCE with a baseline on CartPole, and MCTS on
# tic-tac-toe, using the graded modules. Figures go under `outputs/lab22_reinforcement_learning/`.
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
from dlkit.training import run_dir  # noqa: E402

keras = backend.keras()
tf = backend.tensorflow()

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
ax.figure.savefig(out / "gridworld.png", dpi=100)
plt.close(ax.figure)

# %% [markdown]
# ## REINFORCE with a baseline on CartPole-v1

# %%
episodes = 10 if QUICK else 300
_, returns = policy_gradients.train_reinforce(episodes, seed=2)
window = max(1, min(20, episodes // 5))
smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
figure, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(returns, alpha=0.3, label="episode return")
ax.plot(np.arange(window - 1, episodes), smooth, label=f"mean of {window}")
ax.set_xlabel("episode")
ax.set_ylabel("return")
ax.legend()
figure.savefig(out / "reinforce_returns.png", dpi=100)
plt.close(figure)
writer = tf.summary.create_file_writer(str(out / "reinforce"))
with writer.as_default():
    for step, value in enumerate(returns):
        tf.summary.scalar("episode_return", value, step=step)
writer.flush()
print(f"mean return of the last {window} episodes: {returns[-window:].mean():.1f}")

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
figure.savefig(out / "mcts_visits.png", dpi=100)
plt.close(figure)
