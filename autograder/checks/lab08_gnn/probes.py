"""Helpers that the checks of lab08_gnn share: probes run in the worker (they import
TensorFlow and networkx inside), verdicts in the grader.

Layer checks that aggregate run the student's layer with `recording_aggregate` standing in
for gnn.aggregate: a weighted sum (message k weighted by 1 + k / M, every reduction alike),
a component of known behaviour that is NOT a correct aggregate, which records how the layer
called it. So MessagePassing and GraphNetworkBlock are graded even when aggregate is wrong,
and the stored reference outputs are the reference layer's on the same stand-in.
"""
from __future__ import annotations

import numpy as np

from autograder.verdicts import expect_true


def random_graph(rng, n, m, directed=False):
    """A random graph on n nodes with m undirected edges (networkx, seeded from rng): its
    edge index (2, 2m) in a shuffled order, both directions."""
    import networkx as nx
    graph = nx.gnm_random_graph(n, m, seed=int(rng.integers(1 << 30)))
    pairs = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
    both = np.concatenate([pairs, pairs[:, ::-1]]).T
    return both[:, rng.permutation(both.shape[1])].astype(np.int32)


def permute_graph(rng, x, edge_index, *extra_node_arrays):
    """Renumber the nodes (node i becomes node perm[i]) and shuffle the edge order.
    Returns (perm, edge_order, x', edge_index', extra'): x'[perm[i]] = x[i]."""
    n = len(x)
    perm = rng.permutation(n)
    inverse = np.argsort(perm)
    edge_order = rng.permutation(edge_index.shape[1])
    new_edges = perm[edge_index][:, edge_order].astype(np.int32)
    extra = [np.asarray(a)[inverse] for a in extra_node_arrays]
    return perm, edge_order, np.asarray(x)[inverse], new_edges, extra


class RecordingAggregate:
    """The checks' stand-in for gnn.aggregate: sum_k (1 + k/M) * messages[k] per segment,
    whatever the reduction; `calls` records (reduction, num_segments, segment_ids)."""

    def __init__(self):
        self.calls = []

    def __call__(self, messages, segment_ids, num_segments, reduction="sum"):
        import tensorflow as tf
        messages = tf.convert_to_tensor(messages)
        count = tf.shape(messages)[0]
        weight = 1.0 + tf.cast(tf.range(count), messages.dtype) / tf.cast(count, messages.dtype)
        self.calls.append((str(reduction), int(num_segments),
                           np.asarray(segment_ids).astype(np.int64).tolist()))
        return tf.math.unsorted_segment_sum(messages * weight[:, None], segment_ids,
                                            num_segments)


def judge_calls(calls, expected, what):
    """The stand-in aggregate was called as `expected`: a list of (reduction, num_segments,
    segment_ids, meaning) in order."""
    expect_true(len(calls) == len(expected),
                f"{what} called aggregate {len(calls)} times, expected {len(expected)} "
                f"({', '.join(e[3] for e in expected)})")
    for (reduction, num, ids), (want_reduction, want_num, want_ids, meaning) in zip(calls,
                                                                                    expected):
        expect_true(list(ids) == list(want_ids),
                    f"{what}: aggregate's segment ids for {meaning} are wrong"
                    + (" (the senders? messages go to the RECEIVERS, edge_index[1])"
                       if meaning.startswith("the incoming") else ""))
        expect_true(num == want_num, f"{what}: aggregate for {meaning} got num_segments={num}, "
                    f"expected {want_num}"
                    + (" (the count of segments is the number of nodes, tf.shape(x)[0], not "
                       "max(ids) + 1: the last nodes may receive nothing)"
                       if num < want_num and meaning.startswith("the incoming") else ""))
        expect_true(reduction == want_reduction, f"{what}: aggregate for {meaning} used "
                    f"reduction={reduction!r}, expected {want_reduction!r}")


def run_recorded(module, call):
    """call() with the checks' stand-in aggregate in place of module.aggregate. Returns
    (output or None, the recorded calls, the error message or None): the calls survive a
    layer that crashes after asking for the wrong aggregation, so the verdict can name it."""
    recorder = RecordingAggregate()
    from autograder.check_helpers import standing_in
    with standing_in(module, aggregate=recorder):
        try:
            return call(), recorder.calls, None
        except Exception as error:  # noqa: BLE001 - the verdict reports it after the calls
            return None, recorder.calls, f"{type(error).__name__}: {error}"[:400]


def random_batch(rng, sizes):
    """Random graphs of the given node counts (as many edges as nodes) as one disjoint batch,
    the dict GraphClassifier takes: 2 node features, 1 edge feature."""
    parts, offset = [], 0
    for n in sizes:
        parts.append(random_graph(rng, int(n), int(n)) + offset)
        offset += int(n)
    edge_index = np.concatenate(parts, axis=1)
    return {"x": rng.normal(size=(offset, 2)).astype("float32"), "edge_index": edge_index,
            "edge_attr": rng.normal(size=(edge_index.shape[1], 1)).astype("float32"),
            "graph_ids": np.repeat(np.arange(len(sizes)), sizes).astype(np.int32),
            "num_graphs": np.asarray(len(sizes), np.int32)}


def raise_error(error, what):
    """The verdict's failure for a layer that crashed (once its calls were judged)."""
    expect_true(error is None, f"{what} raised {error}")


def networkx_batch(graphs):
    """The disjoint union of graphs (dicts with x, edge_index, edge_attr) by networkx:
    nx.disjoint_union_all numbers the nodes graph after graph. Returns a dict like
    batch_graphs', the edges in networkx's order."""
    import networkx as nx
    parts = []
    for g, graph in enumerate(graphs):
        digraph = nx.DiGraph()
        for i, features in enumerate(graph["x"]):
            digraph.add_node(i, x=features, graph=g)
        for k, (s, r) in enumerate(np.asarray(graph["edge_index"]).T):
            digraph.add_edge(int(s), int(r), attr=graph["edge_attr"][k])
        parts.append(digraph)
    union = nx.disjoint_union_all(parts)
    nodes = sorted(union.nodes())
    edges = list(union.edges(data="attr"))
    return {"x": np.stack([union.nodes[i]["x"] for i in nodes]).astype(np.float32),
            "edge_index": np.array([[s for s, _, _ in edges], [r for _, r, _ in edges]],
                                   dtype=np.int32),
            "edge_attr": np.stack([a for _, _, a in edges]).astype(np.float32),
            "graph_ids": np.array([union.nodes[i]["graph"] for i in nodes], dtype=np.int32),
            "num_graphs": len(graphs)}


def edge_rows(edge_index, edge_attr):
    """The edges as sorted rows (sender, receiver, attributes...), order-free."""
    rows = np.concatenate([np.asarray(edge_index, np.float64).T,
                           np.asarray(edge_attr, np.float64)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]
