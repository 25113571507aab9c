"""Graphs for the GNN lab, all offline and seeded.

A graph is a dict of numpy arrays:

    x           (N, F) float32 node features
    edge_index  (2, E) int32: row 0 the senders, row 1 the receivers; an undirected edge
                appears once in each direction
    edge_attr   (E, A) float32 edge features (absent where a set has none)

plus, per set, labels and masks. `karate_club` is Zachary's karate club as networkx ships
it (a small real data set); `citation_graph` is a stochastic block model with noisy
class-dependent features (citation-like: papers cite papers of their own field more
often); `cycles_and_trees` is a graph-classification set whose label is structure alone;
`spring_systems` are n-body trajectories of masses joined by springs.

Only numpy is imported here; networkx is imported by the functions that need it.
"""
from __future__ import annotations

import numpy as np


def edges_both_ways(pairs) -> np.ndarray:
    """(2, 2P) int32 edge index holding every (i, j) pair in both directions."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    both = np.concatenate([pairs, pairs[:, ::-1]], axis=0)
    both = np.unique(both, axis=0)  # sorted, no duplicate edge
    return both.T.astype(np.int32)


def _few_labels(rng, y, per_class):
    """A boolean mask choosing `per_class` labelled nodes of every class."""
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        mask[rng.choice(np.flatnonzero(y == c), size=per_class, replace=False)] = True
    return mask


def karate_club(labels_per_class: int = 2, seed: int = 0) -> dict:
    """Zachary's karate club (34 members, 78 friendships) from networkx.

    Returns x (34, 34) one-hot node identities (no other features exist), edge_index
    (2, 156), y (34,) the club each member joined after the split (0: Mr. Hi, 1: Officer),
    train_mask (34,) with `labels_per_class` labelled members per club, always including
    the two leaders (nodes 0 and 33), and test_mask its complement.
    """
    import networkx as nx
    graph = nx.karate_club_graph()
    n = graph.number_of_nodes()
    y = np.array([0 if graph.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(n)],
                 dtype=np.int32)
    rng = np.random.default_rng(seed)
    train = np.zeros(n, dtype=bool)
    train[[0, 33]] = True
    for c in (0, 1):
        others = np.flatnonzero((y == c) & ~train)
        train[rng.choice(others, size=labels_per_class - 1, replace=False)] = True
    return {"x": np.eye(n, dtype=np.float32), "edge_index": edges_both_ways(graph.edges()),
            "y": y, "train_mask": train, "test_mask": ~train}


def citation_graph(num_nodes: int = 300, num_classes: int = 3, feature_dim: int = 16,
                   p_in: float = 0.05, p_out: float = 0.004, feature_noise: float = 2.0,
                   labels_per_class: int = 5, seed: int = 0) -> dict:
    """A citation-like graph: a stochastic block model with noisy features.

    Nodes fall into `num_classes` fields of equal size; two nodes of one field are linked
    with probability p_in, of different fields with p_out. A node's features are its
    field's mean (a random unit vector times 1) plus N(0, feature_noise^2) noise: too noisy
    to classify a node from its own features, while its neighbours' average is clean.

    Returns x (N, feature_dim), edge_index (2, E), y (N,), train_mask (N,) with
    `labels_per_class` labelled nodes per class, val_mask and test_mask (the other nodes,
    split in half).
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(num_nodes) % num_classes).astype(np.int32)
    same = y[:, None] == y[None, :]
    link = rng.random((num_nodes, num_nodes)) < np.where(same, p_in, p_out)
    upper = np.triu(link, k=1)
    pairs = np.argwhere(upper)
    means = rng.normal(size=(num_classes, feature_dim))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = means[y] + feature_noise * rng.normal(size=(num_nodes, feature_dim))
    train = _few_labels(rng, y, labels_per_class)
    rest = rng.permutation(np.flatnonzero(~train))
    val = np.zeros(num_nodes, dtype=bool)
    val[rest[: len(rest) // 2]] = True
    test = ~train & ~val
    return {"x": x.astype(np.float32), "edge_index": edges_both_ways(pairs), "y": y,
            "train_mask": train, "val_mask": val, "test_mask": test}


def _random_tree(rng, n):
    # Each node after the first attaches to a uniformly chosen earlier node.
    return [(int(rng.integers(0, i)), i) for i in range(1, n)]


def _cycle(n):
    return [(i, (i + 1) % n) for i in range(n)]


def cycles_and_trees(num_graphs: int = 200, min_nodes: int = 6, max_nodes: int = 14,
                     seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """A graph-classification set whose label is structure alone: label 0 is a cycle,
    label 1 a random tree, both with min_nodes..max_nodes nodes (the same distribution
    of sizes). Every node's feature is the constant 1 and every edge's feature the
    constant 1, so a model that pools node features without passing messages sees the
    same input for both classes; one round of sum aggregation sees the degrees (a tree
    has leaves, a cycle none).

    Returns (graphs, labels): a list of dicts with x (n, 1), edge_index (2, E) and
    edge_attr (E, 1), and labels (num_graphs,) int32, balanced, in random order.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_graphs) % 2).astype(np.int32)
    graphs = []
    for label in labels:
        n = int(rng.integers(min_nodes, max_nodes + 1))
        edge_index = edges_both_ways(_random_tree(rng, n) if label else _cycle(n))
        # Random node names, so the node order says nothing about the structure.
        names = rng.permutation(n)
        edge_index = names[edge_index].astype(np.int32)
        graphs.append({"x": np.ones((n, 1), np.float32), "edge_index": edge_index,
                       "edge_attr": np.ones((edge_index.shape[1], 1), np.float32)})
    return graphs, labels


def spring_accelerations(positions, stiffness, edge_index):
    """Accelerations of unit masses joined by springs of rest length 0 (numpy).

    positions: (..., N, 2); stiffness: (..., E) one constant per directed edge (0: no
    spring); edge_index (2, E). Body r feels k (x_s - x_r) from every edge s -> r.
    Returns (..., N, 2)."""
    senders, receivers = edge_index
    pull = stiffness[..., None] * (positions[..., senders, :] - positions[..., receivers, :])
    out = np.zeros_like(positions)
    for r in range(positions.shape[-2]):
        out[..., r, :] = pull[..., receivers == r, :].sum(axis=-2)
    return out


def spring_systems(num_systems: int = 100, num_bodies: int = 5, steps: int = 40,
                   dt: float = 0.05, spring_prob: float = 0.5, seed: int = 0) -> dict:
    """n-body spring systems for an interaction network (Battaglia et al., 2016).

    Every system has `num_bodies` unit masses in the plane; each pair is joined by a spring
    (rest length 0) with probability spring_prob, of stiffness uniform in [0.5, 1.5]. The
    graph is complete (every ordered pair is an edge) and the edge feature is the stiffness,
    0 where there is no spring. Positions and velocities start N(0, 0.5^2); the motion is
    integrated with semi-implicit Euler (v += a dt, then x += v dt), `steps` steps of dt.

    Returns states (S, steps + 1, N, 4) [x, y, vx, vy]; accelerations (S, steps + 1, N, 2),
    the exact acceleration at each state; edge_index (2, N (N - 1)), shared by all systems;
    edge_attr (S, E, 1) the stiffness of each directed edge; and dt.
    """
    rng = np.random.default_rng(seed)
    n = num_bodies
    senders, receivers = np.nonzero(~np.eye(n, dtype=bool))
    edge_index = np.stack([senders, receivers]).astype(np.int32)
    upper = np.triu(rng.uniform(0.5, 1.5, size=(num_systems, n, n))
                    * (rng.random((num_systems, n, n)) < spring_prob), k=1)
    symmetric = upper + upper.transpose(0, 2, 1)
    stiffness = symmetric[:, senders, receivers]
    position = 0.5 * rng.normal(size=(num_systems, n, 2))
    velocity = 0.5 * rng.normal(size=(num_systems, n, 2))
    states, accelerations = [], []
    for _ in range(steps + 1):
        acceleration = spring_accelerations(position, stiffness, edge_index)
        states.append(np.concatenate([position, velocity], axis=-1))
        accelerations.append(acceleration)
        velocity = velocity + dt * acceleration
        position = position + dt * velocity
    return {"states": np.stack(states, axis=1).astype(np.float32),
            "accelerations": np.stack(accelerations, axis=1).astype(np.float32),
            "edge_index": edge_index,
            "edge_attr": stiffness[..., None].astype(np.float32), "dt": float(dt)}
