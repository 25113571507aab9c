"""Dynamic programming on a known MDP: value iteration and the greedy policy.

Shapes: P is (S, A, S) with P[s, a, s'] the probability of reaching s' from s under a;
R is (S, A), the expected reward of taking a in s; V is (S,), Q is (S, A).
Terminal states are absorbing with reward 0 in the tables of dlkit.data.make_gridworld.
"""
import numpy as np


def action_values(transitions, rewards, values, gamma):
    """Q(s, a) = R(s, a) + gamma * sum_s' P(s' | s, a) V(s'). Returns (S, A)."""
    return np.asarray(rewards, np.float64) + gamma * (np.asarray(transitions) @ np.asarray(values, np.float64))


def value_iteration(transitions, rewards, gamma, tol=1e-10, max_iterations=10_000):
    """Iterate V <- max_a Q(s, a) from V = 0 until the largest change is below `tol`.
    Returns (V of shape (S,), the number of sweeps made)."""
    values = np.zeros(transitions.shape[0])
    for sweep in range(1, max_iterations + 1):
        q = action_values(transitions, rewards, values, gamma)
        new = np.max(q, axis=-1)
        delta = np.abs(new - values).max()
        values = new
        if delta < tol:
            return values, sweep
    return values, max_iterations


def greedy_policy(transitions, rewards, values, gamma):
    """The greedy policy of V: pi(s) = argmax_a Q(s, a), ties to the lowest action. (S,) int."""
    q = action_values(transitions, rewards, values, gamma)
    return q.argmax(axis=-1)
