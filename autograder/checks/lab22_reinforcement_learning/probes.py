"""Helpers the checks of lab22 share: independent references (exact policy evaluation and
policy iteration by linear solves, brute-force loops, numpy losses, exhaustive minimax), and
the checks' copy of REINFORCE's training loop."""
from __future__ import annotations

import functools

import numpy as np


def random_mdp(rng, states=6, actions=3):
    """A dense random MDP: P[s, a, :] from a Dirichlet, rewards in [-1, 1]."""
    transitions = rng.dirichlet(np.full(states, 0.5), size=(states, actions))
    return transitions, rng.uniform(-1.0, 1.0, size=(states, actions))


def policy_value(transitions, rewards, policy, gamma):
    """V^pi exactly: solve (I - gamma P_pi) V = R_pi."""
    states = np.arange(transitions.shape[0])
    p_pi, r_pi = transitions[states, policy], rewards[states, policy]
    return np.linalg.solve(np.eye(len(states)) - gamma * p_pi, r_pi)


def optimal_values(transitions, rewards, gamma):
    """V* by policy iteration (exact evaluation, improvement by looping over actions)."""
    states, actions = transitions.shape[:2]
    policy = np.zeros(states, int)
    for _ in range(200):
        values = policy_value(transitions, rewards, policy, gamma)
        improved = policy.copy()
        for s in range(states):
            scores = [rewards[s, a] + gamma * transitions[s, a] @ values for a in range(actions)]
            if max(scores) > scores[policy[s]] + 1e-12:
                improved[s] = int(np.argmax(scores))
        if np.array_equal(improved, policy):
            return values
        policy = improved
    raise RuntimeError("policy iteration did not converge")


def brute_returns(rewards, gamma):
    """G_t = sum_{k >= t} gamma^(k - t) r_k by a double loop."""
    return np.array([sum(gamma ** (k - t) * rewards[k] for k in range(t, len(rewards)))
                     for t in range(len(rewards))])


def brute_gae(rewards, values, last_value, dones, gamma, lam, stop_at_done=True):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, stopping after the first done step (or, with
    stop_at_done=False, summing on into the next episode: a known slip)."""
    values_next = np.append(values[1:], last_value)
    deltas = [rewards[t] + gamma * values_next[t] * (not dones[t]) - values[t]
              for t in range(len(rewards))]
    advantages = []
    for t in range(len(rewards)):
        total = 0.0
        for k in range(t, len(rewards)):
            total += (gamma * lam) ** (k - t) * deltas[k]
            if dones[k] and stop_at_done:
                break
        advantages.append(total)
    return np.array(advantages)


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def huber(error, delta=1.0):
    error = np.abs(error)
    return np.where(error <= delta, 0.5 * error ** 2, delta * (error - 0.5 * delta))


def mlp_numpy(weights, x, activation):
    """A Dense stack in numpy: every layer but the last followed by `activation`."""
    for index in range(0, len(weights), 2):
        x = x @ weights[index] + weights[index + 1]
        if index + 2 < len(weights):
            x = activation(x)
    return x


def compiled_updates(optimizer):
    """Make optimizer.apply(grads, variables) run its update as a traced graph, one graph
    for each list of variables it is handed (their order kept), so any caller's apply is
    the same Adam step. Eagerly, Adam costs about 3 ms a variable a step on CPU; a trace
    costs about 0.2 s once."""
    import tensorflow as tf
    graphs, eager_apply = {}, optimizer.apply

    def apply(grads, trainable_variables=None):
        if trainable_variables is None:
            return eager_apply(grads)
        trainable_variables = list(trainable_variables)
        key = tuple(id(variable) for variable in trainable_variables)
        if key not in graphs:
            graphs[key] = tf.function(lambda g: eager_apply(g, trainable_variables))
        return graphs[key](list(grads))

    optimizer.apply = apply
    return optimizer


def rollout(env, weights, rng, max_steps):
    """policy_gradients.run_episode (given), the policy's weights read once an episode, not
    once a step: (observations, actions, rewards) of one episode."""
    observations, actions, rewards = [], [], []
    obs, _ = env.reset(seed=int(rng.integers(2**31)))
    for _ in range(max_steps):
        logits = mlp_numpy(weights, obs[None].astype(np.float32), np.tanh)[0]
        probs = np.exp(logits - logits.max())
        action = int(rng.choice(len(probs), p=probs / probs.sum()))
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    return (np.asarray(observations, np.float32), np.asarray(actions, np.int32),
            np.asarray(rewards, np.float64))


def train_reinforce(pg, episodes, seed, max_steps, gamma=0.99, learning_rate=1e-2):
    """policy_gradients.train_reinforce (given) around the student's reinforce_update: the
    same seeds, networks, optimizer and random draws, so the same episodes, at under half
    the cost (rollout reads the weights once an episode; Adam's update is compiled).
    Returns the return of each episode."""
    import gymnasium as gym
    import keras
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("CartPole-v1")
    env.action_space.seed(seed)
    policy, baseline = pg.mlp(4, 2, name="policy"), pg.mlp(4, 1, name="baseline")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(policy.trainable_variables + baseline.trainable_variables)
    compiled_updates(optimizer)
    episode_returns = []
    for _ in range(episodes):
        observations, actions, rewards = rollout(env, policy.get_weights(), rng, max_steps)
        pg.reinforce_update(policy, baseline, optimizer, observations, actions, rewards, gamma)
        episode_returns.append(float(rewards.sum()))
    env.close()
    return np.asarray(episode_returns)


def gradient_by_differences(loss, array, eps=1e-5):
    """d loss / d array by central differences (array is changed in place and restored)."""
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        kept = array[index]
        array[index] = kept + eps
        up = loss()
        array[index] = kept - eps
        down = loss()
        array[index] = kept
        grad[index] = (up - down) / (2 * eps)
    return grad


# ---- tic-tac-toe minimax, with the checks' own rules --------------------------------------

_LINES = [(r, r + 1, r + 2) for r in (0, 3, 6)] + [(c, c + 3, c + 6) for c in range(3)] \
    + [(0, 4, 8), (2, 4, 6)]


@functools.cache
def negamax(board: tuple) -> int:
    """The game value for the player to move: +1 win, 0 draw, -1 loss, by full search."""
    if any(board[a] != 0 and board[a] == board[b] == board[c] for a, b, c in _LINES):
        return -1                       # the previous player just completed a line
    empty = [i for i in range(9) if board[i] == 0]
    if not empty:
        return 0
    player = 1 if len(empty) % 2 == 1 else -1
    return max(-negamax(board[:i] + (player,) + board[i + 1:]) for i in empty)


def move_values(board: tuple) -> dict:
    """The minimax value of each legal move for the player to move."""
    empty = [i for i in range(9) if board[i] == 0]
    player = 1 if len(empty) % 2 == 1 else -1
    return {i: -negamax(board[:i] + (player,) + board[i + 1:]) for i in empty}


# Positions where a wrong backup sign or a missing exploration term picks a losing move:
# win in one, block a win, block while the opponent threatens twice, and a fork to make.
TEST_POSITIONS = (
    (1, 1, 0, -1, -1, 0, 0, 0, 0),      # X to move: win at 2
    (1, 0, 0, -1, -1, 0, 1, 0, 0),      # X to move: must block at 5
    (1, 0, 0, 0, -1, 0, 0, 0, 1),       # X to move after X-O-X: any edge but a corner trap
    (-1, 0, 0, 0, 1, 0, 0, 0, 0),       # X to move
    (1, 0, 0, 0, 0, 0, 0, 0, -1),       # X to move: a forced win exists
    (1, -1, 0, 0, 1, 0, 0, 0, -1),      # O to move... X threatens
)


def backup_table(mcts, board, simulations, seed=0):
    """Run `simulations` of the student's MCTS.simulate from a fresh root on `board`, with
    leaves valued by a stand-in of known behaviour (0.5 for player 1, so 0.5 * to_move for
    the player to move); returns the root's visits and one row per non-root node:
    (depth, player who moved into it, visits, value_sum). A correct backup gives every node
    value_sum == 0.5 * mover * visits, and the root `simulations` visits."""
    search = mcts.MCTS(seed=seed)
    search.evaluate = lambda b: 0.5 * mcts.to_move(b)
    root = mcts.Node(1.0)
    search.expand(root, board)
    for _ in range(simulations):
        search.simulate(root, board)
    rows, stack = [], [(child, 1, mcts.to_move(board)) for child in root.children.values()]
    while stack:
        node, depth, mover = stack.pop()
        rows.append((depth, mover, node.visits, node.value_sum))
        stack.extend((child, depth + 1, -mover) for child in node.children.values())
    return int(root.visits), np.array(rows, np.float64).reshape(-1, 4)


def backup_problem(root_visits, rows, simulations):
    """What is wrong with a backup table from `backup_table`, or None."""
    if root_visits != simulations:
        return (f"after {simulations} simulations the root's own visits are {root_visits}: the "
                "root must be on the backed-up path too (visits += 1 every simulation), or "
                "sqrt(N(root)) = 0 in select_child and the root never explores")
    visited = rows[rows[:, 2] > 0]
    expected = 0.5 * visited[:, 1] * visited[:, 2]
    wrong = ~np.isclose(visited[:, 3], expected, atol=1e-9)
    if not wrong.any():
        return None
    if np.allclose(visited[:, 3], -expected, atol=1e-9):
        return ("every node's value_sum has the sign of the player TO MOVE there; it must be "
                "for the player who MOVED INTO it (-value at the leaf)")
    depths = sorted({int(d) for d in visited[wrong, 0]})
    return (f"with leaves worth +0.5 to player 1, nodes at depth {depths} hold value_sums of "
            "the wrong sign for the player who moved into them: negate the backed-up value "
            "at every level on the way up")
