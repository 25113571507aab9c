"""The graph data of lab08_gnn (dlkit.data.graphs): numpy only, seeded, well formed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np

from dlkit.data import (
    citation_graph,
    cycles_and_trees,
    edges_both_ways,
    karate_club,
    spring_systems,
)

REPO = Path(__file__).resolve().parents[1]


def undirected_ok(edge_index, n):
    pairs = set(map(tuple, np.asarray(edge_index).T.tolist()))
    assert all((r, s) in pairs for s, r in pairs), "an edge lacks its reverse"
    assert all(s != r for s, r in pairs), "a self-loop in the edge index"
    assert len(pairs) == edge_index.shape[1], "a repeated edge"
    assert edge_index.dtype == np.int32 and edge_index.min() >= 0 and edge_index.max() < n


def test_edges_both_ways_drops_loops_and_duplicates():
    edges = edges_both_ways([(0, 1), (1, 0), (2, 2), (1, 2)])
    assert sorted(map(tuple, edges.T.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]


def test_karate_club_is_networkx_graph_with_few_labels():
    data = karate_club(labels_per_class=3, seed=1)
    graph = nx.karate_club_graph()
    undirected_ok(data["edge_index"], 34)
    assert data["edge_index"].shape == (2, 2 * graph.number_of_edges())
    assert data["x"].shape == (34, 34) and np.array_equal(data["x"], np.eye(34))
    assert data["y"][0] == 0 and data["y"][33] == 1 and data["y"].sum() == 17
    assert data["train_mask"][[0, 33]].all() and data["train_mask"].sum() == 6
    assert np.array_equal(data["test_mask"], ~data["train_mask"])
    for c in (0, 1):
        assert (data["train_mask"] & (data["y"] == c)).sum() == 3


def test_citation_graph_is_seeded_and_assortative():
    a, b, c = citation_graph(seed=3), citation_graph(seed=3), citation_graph(seed=4)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert not np.array_equal(a["x"], c["x"])
    undirected_ok(a["edge_index"], 300)
    senders, receivers = a["edge_index"]
    within = (a["y"][senders] == a["y"][receivers]).mean()
    assert within > 0.8, f"only {within:.2f} of the edges join nodes of one class"
    masks = a["train_mask"].astype(int) + a["val_mask"] + a["test_mask"]
    assert (masks == 1).all()
    assert np.bincount(a["y"][a["train_mask"]]).tolist() == [5, 5, 5]
    assert a["x"].dtype == np.float32 and a["x"].shape == (300, 16)


def test_cycles_and_trees_differ_in_structure_only():
    graphs, labels = cycles_and_trees(40, seed=2)
    again, _ = cycles_and_trees(40, seed=2)
    assert labels.sum() == 20
    for graph, label, same in zip(graphs, labels, again):
        n = len(graph["x"])
        undirected_ok(graph["edge_index"], n)
        assert np.array_equal(graph["edge_index"], same["edge_index"])
        assert (graph["x"] == 1).all() and (graph["edge_attr"] == 1).all()
        g = nx.Graph(graph["edge_index"].T.tolist())
        assert g.number_of_nodes() == n and nx.is_connected(g)
        assert nx.is_tree(g) == bool(label)
        if not label:
            assert all(d == 2 for _, d in g.degree())


def test_graphs_module_imports_numpy_only():
    code = ("import sys; import dlkit.data.graphs; "
            "print(sorted(m for m in ('tensorflow', 'networkx', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_spring_systems_follow_hookes_law_with_symplectic_euler():
    data = spring_systems(6, num_bodies=4, steps=30, dt=0.05, seed=5)
    states, accelerations, k = data["states"], data["accelerations"], data["edge_attr"][..., 0]
    assert states.shape == (6, 31, 4, 4) and accelerations.shape == (6, 31, 4, 2)
    assert data["edge_index"].shape == (2, 12) and data["edge_attr"].shape == (6, 12, 1)
    # Springs are symmetric: k of s -> r equals k of r -> s.
    senders, receivers = data["edge_index"]
    for e in range(12):
        back = np.flatnonzero((senders == receivers[e]) & (receivers == senders[e]))[0]
        assert np.allclose(k[:, e], k[:, back])
    # The acceleration is the sum of the spring pulls (an independent double loop).
    system, t = 2, 7
    x = states[system, t, :, :2].astype(np.float64)
    expected = np.zeros((4, 2))
    for e in range(12):
        expected[receivers[e]] += k[system, e] * (x[senders[e]] - x[receivers[e]])
    assert np.allclose(accelerations[system, t], expected, atol=1e-5)
    # Semi-implicit Euler: v_{t+1} = v_t + dt a_t, x_{t+1} = x_t + dt v_{t+1}.
    v_next = states[:, 1:, :, 2:]
    assert np.allclose(v_next, states[:, :-1, :, 2:] + 0.05 * accelerations[:, :-1], atol=1e-5)
    assert np.allclose(states[:, 1:, :, :2], states[:, :-1, :, :2] + 0.05 * v_next, atol=1e-5)
    # Forces cancel in pairs: the total momentum is conserved.
    momentum = states[..., 2:].sum(axis=2)
    assert np.allclose(momentum, momentum[:, :1], atol=1e-4)
