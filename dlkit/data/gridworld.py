"""A seeded gridworld MDP as tables, for lab22 (value iteration, greedy policies).

The agent walks a `size` x `size` grid with four actions (up, right, down, left). It moves
as intended with probability 1 - slip and to each of the two perpendicular directions with
probability slip / 2; a move into a wall or off the grid leaves it in place. Entering the
goal pays +1, entering a pit pays -1, every other step costs `step_cost`. The goal and the
pits are terminal: absorbing, with reward 0 from then on. numpy only, seeded.
"""
from __future__ import annotations

import numpy as np

GRID_ACTIONS = ("up", "right", "down", "left")
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


def make_gridworld(size: int = 4, *, slip: float = 0.2, num_pits: int = 2, num_walls: int = 1,
                   step_cost: float = 0.04, seed: int = 0) -> dict:
    """The MDP as tables: `transitions` P[s, a, s'] (rows sum to 1), `rewards` R[s, a] (the
    expected reward of taking a in s), `terminal` (S,) bool, and the layout: `goal`, `pits`,
    `walls` (cell indices s = row * size + column), `size`, `slip`. Walls are states the agent
    never enters (kept in the tables, absorbing, so indices stay row-major)."""
    rng = np.random.default_rng(seed)
    cells = size * size
    chosen = rng.permutation(np.arange(1, cells))[: 1 + num_pits + num_walls]
    goal, pits, walls = int(chosen[0]), chosen[1:1 + num_pits], chosen[1 + num_pits:]
    terminal = np.zeros(cells, bool)
    terminal[goal] = True
    terminal[pits] = True
    blocked = np.zeros(cells, bool)
    blocked[walls] = True
    transitions = np.zeros((cells, 4, cells))
    rewards = np.zeros((cells, 4))
    for s in range(cells):
        if terminal[s] or blocked[s]:
            transitions[s, :, s] = 1.0
            continue
        row, col = divmod(s, size)
        for a in range(4):
            for direction, p in ((a, 1.0 - slip), ((a + 1) % 4, slip / 2), ((a + 3) % 4, slip / 2)):
                r, c = row + _MOVES[direction][0], col + _MOVES[direction][1]
                target = r * size + c
                if not (0 <= r < size and 0 <= c < size) or blocked[target]:
                    target = s
                transitions[s, a, target] += p
                pay = 1.0 if target == goal else -1.0 if target in pits else -step_cost
                rewards[s, a] += p * pay
    return {"transitions": transitions, "rewards": rewards, "terminal": terminal,
            "goal": goal, "pits": np.sort(pits).astype(int), "walls": np.sort(walls).astype(int),
            "size": size, "slip": slip}


def render_gridworld(world: dict, values=None, policy=None, ax=None):
    """Draw the grid (matplotlib, imported on call): state values as colours, the policy as
    arrows, G for the goal, X for pits, grey walls. Returns the axes."""
    import matplotlib.pyplot as plt
    size = world["size"]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * size, 1.2 * size))
    shown = np.zeros(size * size) if values is None else np.asarray(values, float).copy()
    shown[world["walls"]] = np.nan
    ax.imshow(shown.reshape(size, size), cmap="RdYlGn", vmin=-1, vmax=1)
    arrows = {0: (0, -0.3), 1: (0.3, 0), 2: (0, 0.3), 3: (-0.3, 0)}
    for s in range(size * size):
        row, col = divmod(s, size)
        if s in world["walls"]:
            ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, color="grey"))
        elif s == world["goal"]:
            ax.text(col, row, "G", ha="center", va="center", fontsize=14)
        elif s in world["pits"]:
            ax.text(col, row, "X", ha="center", va="center", fontsize=14)
        else:
            if values is not None:
                ax.text(col, row + 0.35, f"{shown[s]:.2f}", ha="center", fontsize=7)
            if policy is not None:
                dx, dy = arrows[int(policy[s])]
                ax.arrow(col - dx / 2, row - dy / 2, dx, dy, head_width=0.12, color="black")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
