"""Public checks of lab08_gnn, part 1: the GCN propagation matrix against networkx's
normalised Laplacian, batching against networkx's disjoint union, and aggregation against a
brute-force loop over the segments."""
import numpy as np

from autograder.api import check
from autograder.checks.lab08_gnn.probes import edge_rows, networkx_batch, random_graph
from autograder.verdicts import expect_close, expect_close_naming, expect_equal, expect_true


@check(points=2, task="`normalized_adjacency`",
       hint="A_hat = D^-1/2 (A + I) D^-1/2: self-loops first, then D from the row sums of "
            "A + I, and 1/sqrt(deg) on BOTH sides")
def normalized_adjacency(lab, rng):
    """A random graph with an isolated node and a repeated edge, against I minus networkx's
    normalised Laplacian of the graph with self-loops."""
    import networkx as nx
    n = 7
    edge_index = random_graph(rng, n - 1, 8)            # node n-1 is isolated
    edge_index = np.concatenate([edge_index, edge_index[:, :1]], axis=1)  # one edge twice
    a_hat = lab.gnn.normalized_adjacency(edge_index, n)
    dtype = str(np.asarray(a_hat).dtype)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edge_index.T.tolist())
    graph.add_edges_from((i, i) for i in range(n))
    expected = np.eye(n) - nx.normalized_laplacian_matrix(graph, nodelist=range(n)).toarray()
    looped = nx.to_numpy_array(graph, nodelist=range(n))
    plain = looped - np.eye(n)
    scale = np.sqrt(np.maximum(np.outer(plain.sum(1), plain.sum(1)), 1.0))  # isolated: 0
    counted = np.eye(n)
    np.add.at(counted, (edge_index[1], edge_index[0]), 1.0)
    return {"a_hat": a_hat, "dtype": dtype, "expected": expected,
            "repeats_counted": counted / np.sqrt(np.outer(counted.sum(1), counted.sum(1))),
            "no_self_loops": plain / scale,
            "row_normalised": looped / looped.sum(1, keepdims=True),
            "no_sqrt": looped / np.outer(looped.sum(1), looped.sum(1))}


@normalized_adjacency.verdict
def _(student, reference):
    what = "normalized_adjacency(edge_index, 7)"
    a_hat = np.asarray(student["a_hat"], dtype=np.float64)
    expect_true(np.isfinite(a_hat).all(), f"{what} has NaN or inf values: node 6 has no "
                "edge, so without its self-loop its degree is 0; add I to A before the degrees")
    expect_close_naming(student["a_hat"], student["expected"].astype(np.float32), what, [
        (student["no_self_loops"], "has no self-loops: add I to A before the degrees"),
        (student["row_normalised"], "is D^-1 (A + I), a row normalisation: scale rows AND "
                                    "columns by 1/sqrt(deg)"),
        (student["no_sqrt"], "scales by 1/deg on both sides: take the square root"),
        (student["repeats_counted"], "counts the repeated edge twice: A[r, s] is 1 however "
                                     "often the edge s -> r appears (set it, do not add)")],
        against="I - networkx's normalised Laplacian of the graph with self-loops")
    expect_close(student["a_hat"], reference["a_hat"], what)
    expect_true(student["dtype"] == "float32", f"{what} returns {student['dtype']} values, "
                "expected float32 (.astype(np.float32))")


def _graphs(rng, sizes):
    graphs = []
    for n in sizes:
        edge_index = random_graph(rng, n, n)
        graphs.append({"x": rng.normal(size=(n, 3)).astype("float32"), "edge_index": edge_index,
                       "edge_attr": rng.normal(size=(edge_index.shape[1], 2)).astype("float32")})
    return graphs


@check(points=2, task="`batch_graphs`",
       hint="shift each graph's edge_index by the number of nodes of the graphs before it; "
            "graph_ids holds g once per node of graph g")
def batch_graphs(lab, rng):
    """Three random graphs with edge features, against networkx's disjoint union of them
    (the same edges, in any order); graph ids and the graph count."""
    graphs = _graphs(rng, (4, 6, 5))
    given = [{key: value.copy() for key, value in g.items()} for g in graphs]
    batch = lab.gnn.batch_graphs(given)
    changed = sorted({key for g, mine in zip(given, graphs) for key in mine
                      if key not in g or np.shape(g[key]) != mine[key].shape
                      or not np.array_equal(g[key], mine[key])})
    union = networkx_batch(graphs)
    unshifted = np.concatenate([g["edge_index"] for g in graphs], axis=1)
    return {"x": batch["x"], "graph_ids": batch["graph_ids"], "changed": changed,
            "graph_ids_dtype": str(np.asarray(batch["graph_ids"]).dtype),
            "num_graphs": int(batch["num_graphs"]),
            "edges": edge_rows(batch["edge_index"], batch["edge_attr"]),
            "expected": {key: union[key] for key in ("x", "graph_ids")},
            "expected_edges": edge_rows(union["edge_index"], union["edge_attr"]),
            "unshifted_edges": edge_rows(unshifted, np.concatenate([g["edge_attr"]
                                                                    for g in graphs]))}


@batch_graphs.verdict
def _(student, reference):
    what = "batch_graphs([3 graphs of 4, 6 and 5 nodes])"
    expect_true(not student["changed"], f"{what} changed its input graphs' "
                f"{', '.join(student['changed'])} in place (an in-place += on the caller's "
                "arrays?): build new arrays, e.g. edge_index + offset, and leave the inputs as "
                "they were")
    expect_close(student["x"], student["expected"]["x"], f"the x of {what}",
                 against="the node features, graph after graph")
    expect_equal(student["graph_ids"], student["expected"]["graph_ids"],
                 f"the graph_ids of {what}")
    expect_true(student["graph_ids_dtype"] == "int32", f"the graph_ids of {what} are "
                f"{student['graph_ids_dtype']}, expected int32 (.astype(np.int32))")
    expect_true(student["num_graphs"] == 3, f"{what}['num_graphs'] is {student['num_graphs']}, "
                "expected 3")
    edges = np.asarray(student["edges"])
    if edges.shape == student["unshifted_edges"].shape and np.allclose(
            edges, student["unshifted_edges"]):
        expect_true(False, f"the edge_index of {what} is not shifted: every graph's edges point "
                    "at the first graph's nodes; add the number of nodes of the graphs before")
    expect_close(edges, student["expected_edges"],
                 f"the edges (sender, receiver, edge_attr) of {what}, in any order",
                 against="networkx's disjoint union")
    expect_close(edges, reference["edges"], f"the edges of {what}")


def _brute_force(messages, ids, num, reduction):
    out = np.zeros((num, messages.shape[1]))
    for segment in range(num):
        rows = [messages[k] for k in range(len(ids)) if ids[k] == segment]
        if rows:
            out[segment] = {"sum": np.sum, "mean": np.mean, "max": np.max}[reduction](rows, 0)
    return out


@check(points=2, task="`aggregate`",
       hint="tf.math.unsorted_segment_sum / _mean / _max with num_segments; a segment that "
            "receives nothing gets 0, also for max")
def aggregate(lab, rng):
    """Sum, mean and max of 12 negative-heavy messages into 6 segments, one of which
    receives nothing and two of which receive one, against a loop over the segments."""
    ids = np.array([0, 2, 2, 3, 0, 3, 2, 0, 4, 3, 2, 0], dtype=np.int32)  # 1: one, 5: none
    ids[rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11])] = 1  # segment 4 keeps its one
    messages = (rng.normal(size=(12, 3)) - 1.0).astype("float32")
    out = {"messages": messages, "ids": ids}
    for reduction in ("sum", "mean", "max"):
        out[reduction] = lab.gnn.aggregate(messages, ids, 6, reduction)
        out[f"expected_{reduction}"] = _brute_force(messages.astype(np.float64), ids, 6,
                                                    reduction)
    return out


@aggregate.verdict
def _(student, reference):
    empty = ~np.isin(np.arange(6), student["ids"])
    for reduction in ("sum", "mean", "max"):
        what = f"aggregate(messages, segment_ids, 6, {reduction!r})"
        got = np.asarray(student[reduction], dtype=np.float64)
        if got.shape == (6, 3) and not np.allclose(got[empty], 0.0):
            cause = {"max": " (unsorted_segment_max gives the lowest float there; replace "
                            "it)",
                     "mean": " (a sum divided by a count of 0 is 0/0 = nan: divide by "
                             "max(count, 1), or use unsorted_segment_mean)"}.get(reduction, "")
            expect_true(False, f"{what} gives {got[empty].ravel()[0]:.4g} for a segment that "
                        f"receives no message: it must get 0{cause}")
        expected = student[f"expected_{reduction}"].astype(np.float32)
        mistakes = []
        if reduction == "mean":
            mistakes = [(student["expected_sum"] / 6, "divides by num_segments: the mean "
                         "divides by each segment's own count")]
        expect_close_naming(got, expected, what, mistakes,
                            against="a loop over the segments")
        expect_close(got, reference[reduction], what)
