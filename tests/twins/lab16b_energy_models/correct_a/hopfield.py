"""Lab 16b, part 1: the Hopfield network, an associative memory. Fill in the parts marked TODO.

Plain numpy, no TensorFlow. States are vectors of +1 and -1 ("spins"); a batch of M states
of N units is an (M, N) array, and P stored patterns are a (P, N) array. The weights are an
(N, N) symmetric matrix with a zero diagonal, and there are no biases (thresholds).

The pieces, in the order the handout builds them:

1. storing         hebbian_weights (the Hebbian rule), energy
2. the dynamics    asynchronous_update (one unit at a time, in a given order: the energy
                   never increases), synchronous_update (all units at once: it may not)
3. remembering     recall (asynchronous sweeps in a seeded random order until nothing
                   changes), overlap
4. capacity        is_stable, capacity_curve: how many patterns N units hold (about 0.14 N)
"""
import numpy as np

# A pattern counts as recalled when the final state agrees with it on at least 97.5 % of its
# units: an overlap of at least 0.95.
RECALL_OVERLAP = 0.95


def random_patterns(num_patterns, num_units, rng):
    """num_patterns random patterns of +-1, each unit +1 or -1 with probability 1/2 (given).
    rng: a numpy Generator. Returns float64 (num_patterns, num_units)."""
    return rng.choice([-1.0, 1.0], size=(int(num_patterns), int(num_units)))


def corrupt(patterns, flip_fraction, rng):
    """A copy of the patterns with round(flip_fraction * N) units of each row flipped, at
    positions chosen at random per row (given). Returns float64 (M, N)."""
    patterns = np.array(patterns, dtype=np.float64)
    num_flips = int(round(flip_fraction * patterns.shape[1]))
    for row in patterns:
        row[rng.permutation(patterns.shape[1])[:num_flips]] *= -1.0
    return patterns


def threshold(field, state):
    """The new state of units whose local field is `field` (given): +1 where the field is
    positive, -1 where it is negative, and the unit's current `state` where it is exactly 0
    (a unit with no reason to change keeps its state). Arrays of one shape."""
    return np.where(field > 0, 1.0, np.where(field < 0, -1.0, state))


# ---------------------------------------------------------------------------------------------
# 1. Storing patterns
# ---------------------------------------------------------------------------------------------

def hebbian_weights(patterns):
    """The Hebbian rule: W = (1/N) sum over the patterns mu of xi_mu xi_mu^T, zero diagonal.

    patterns: (P, N) of +-1. Returns float64 (N, N), symmetric, with W_ii = 0 (no unit
    drives itself).
    """
    xi = np.asarray(patterns, dtype=np.float64)
    n = xi.shape[1]
    coupling = np.einsum("pi,pj->ij", xi, xi) / n
    return coupling * (1.0 - np.eye(n))


def energy(weights, states):
    """The energy of each state, E(s) = -1/2 sum_ij W_ij s_i s_j.

    weights: (N, N); states: (M, N). Returns float64 (M,).
    """
    s = np.asarray(states, dtype=np.float64)
    return -0.5 * np.einsum("mi,ij,mj->m", s, np.asarray(weights, dtype=np.float64), s)


# ---------------------------------------------------------------------------------------------
# 2. The dynamics
# ---------------------------------------------------------------------------------------------

def asynchronous_update(weights, states, order):
    """One sweep of asynchronous updates: the units in `order`, ONE AT A TIME.

    For each unit i in order, in turn: its local field h_i = sum_j W_ij s_j is computed from
    the CURRENT states (which already hold the units updated before it in this sweep), and
    s_i = threshold(h_i, s_i). Every row of states is updated alike, independently.
    weights: (N, N); states: (M, N); order: a sequence of unit indices (a permutation of
    0..N-1, or any subset). Returns the new states, float64 (M, N); `states` is not modified.
    """
    s = np.array(states, dtype=np.float64, copy=True)
    w = np.asarray(weights, dtype=np.float64)
    for unit in np.asarray(order, dtype=int).ravel():
        field = s @ w[:, unit]          # W is symmetric: column = row
        s[:, unit] = threshold(field, s[:, unit])
    return s


def synchronous_update(weights, states):
    """One synchronous update: every unit at once, from the same old states,
    s_new = threshold(W s, s). weights: (N, N); states: (M, N). Returns float64 (M, N)."""
    s = np.asarray(states, dtype=np.float64)
    fields = (np.asarray(weights, dtype=np.float64) @ s.T).T
    return threshold(fields, s)


# ---------------------------------------------------------------------------------------------
# 3. Remembering
# ---------------------------------------------------------------------------------------------

def recall(weights, states, seed, max_sweeps=20):
    """Run asynchronous sweeps until a sweep changes nothing (a fixed point), or max_sweeps.

    rng = np.random.default_rng(seed); each sweep visits the units in a fresh random order,
    order = rng.permutation(N) (one permutation per sweep, shared by every row), and is
    asynchronous_update(weights, states, order). Stop after the first sweep that changes no
    unit of any row. weights: (N, N); states: (M, N), e.g. corrupted patterns.
    Returns the final states, float64 (M, N).
    """
    rng = np.random.default_rng(seed)
    current = np.asarray(states, dtype=np.float64)
    num_units = current.shape[1]
    sweeps = 0
    while sweeps < max_sweeps:
        updated = asynchronous_update(weights, current, rng.permutation(num_units))
        sweeps += 1
        changed = np.any(updated != current)
        current = updated
        if not changed:
            break
    return current


def overlap(states, patterns):
    """The overlap m = (1/N) sum_i s_i xi_i of each state with its pattern (row by row): 1
    for the pattern itself, -1 for its negative, about 0 for an unrelated state.
    states, patterns: (M, N). Returns float64 (M,)."""
    s = np.asarray(states, dtype=np.float64)
    p = np.asarray(patterns, dtype=np.float64)
    return np.einsum("mn,mn->m", s, p) / s.shape[1]


# ---------------------------------------------------------------------------------------------
# 4. Capacity
# ---------------------------------------------------------------------------------------------

def is_stable(weights, patterns):
    """Whether each pattern is a fixed point: one synchronous update leaves every one of its
    units unchanged. weights: (N, N); patterns: (P, N). Returns bool (P,)."""
    xi = np.asarray(patterns, dtype=np.float64)
    fields = xi @ np.asarray(weights, dtype=np.float64)
    # a unit keeps its state when its field agrees with it or is exactly 0
    return np.all(fields * xi >= 0, axis=1)


def capacity_curve(num_units, loads, trials, seed, flip_fraction=0.1):
    """How well N = num_units units store P = load * N patterns, for each load.

    rng = np.random.default_rng(seed). For each load, P = max(1, round(load * N)), and
    `trials` times: P random_patterns, their hebbian_weights; which patterns are stable
    (is_stable); then each pattern corrupted (flip_fraction of its units flipped), recalled
    (recall, with seed=int(rng.integers(2**31))) and compared with the pattern it came from
    (overlap). Returns a dict of float64 arrays, one value per load:
        "stable":   the share of all the stored patterns (over every trial) that are stable,
        "recalled": the share recalled, with an overlap of at least RECALL_OVERLAP.
    """
    rng = np.random.default_rng(seed)
    n = int(num_units)
    stable_share = np.zeros(len(loads))
    recalled_share = np.zeros(len(loads))
    for k, load in enumerate(loads):
        p = max(1, int(round(load * n)))
        n_stable = n_recalled = 0
        for _ in range(trials):
            xi = random_patterns(p, n, rng)
            w = hebbian_weights(xi)
            n_stable += int(np.sum(is_stable(w, xi)))
            noisy = corrupt(xi, flip_fraction, rng)
            final = recall(w, noisy, seed=int(rng.integers(2**31)))
            n_recalled += int(np.sum(overlap(final, xi) >= RECALL_OVERLAP))
        stable_share[k] = n_stable / (p * trials)
        recalled_share[k] = n_recalled / (p * trials)
    return {"stable": stable_share, "recalled": recalled_share}
