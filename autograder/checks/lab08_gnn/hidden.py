"""Hidden checks of lab08_gnn: fresh graphs and sizes, graphs without edge features, the
layers with the student's own aggregate, and a GraphClassifier with a max readout on fixed
weights. References from the solution, run live on the same inputs."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab08_gnn.probes import random_batch, random_graph
from autograder.verdicts import expect_close, expect_equal, expect_true


@check(points=1, hint="A_hat must hold for any graph: isolated nodes get a 1 on the diagonal")
def normalized_adjacency_other_graphs(lab, rng):
    n = int(rng.integers(8, 14))
    edge_index = random_graph(rng, n - 2, int(rng.integers(n, 2 * n)))
    return {"a_hat": lab.gnn.normalized_adjacency(edge_index, n)}


@normalized_adjacency_other_graphs.verdict
def _(student, reference):
    expect_close(student["a_hat"], reference["a_hat"], "normalized_adjacency on a fresh graph")


@check(points=1, hint="batch_graphs must work without edge_attr, and for a single graph")
def batch_graphs_without_edge_features(lab, rng):
    out = {}
    for count in (1, int(rng.integers(3, 6))):
        graphs = []
        for _ in range(count):
            n = int(rng.integers(2, 7))
            graphs.append({"x": rng.normal(size=(n, 2)).astype("float32"),
                           "edge_index": random_graph(rng, n, int(rng.integers(1, n)))})
        batch = lab.gnn.batch_graphs(graphs)
        out[str(count)] = {"x": batch["x"], "edge_index": batch["edge_index"],
                           "graph_ids": batch["graph_ids"],
                           "num_graphs": int(batch["num_graphs"]),
                           "has_edge_attr": "edge_attr" in batch}
    return out


@batch_graphs_without_edge_features.verdict
def _(student, reference):
    for count, got in student.items():
        want = reference[count]
        what = f"batch_graphs of {count} graphs without edge_attr"
        expect_close(got["x"], want["x"], f"the x of {what}")
        expect_equal(np.sort(got["edge_index"], axis=1), np.sort(want["edge_index"], axis=1),
                     f"the edge_index of {what} (each row sorted)")
        expect_equal(got["graph_ids"], want["graph_ids"], f"the graph_ids of {what}")
        expect_true(got["num_graphs"] == want["num_graphs"], f"the num_graphs of {what}")


@check(points=1, hint="aggregate must handle any number of segments, empty ones included")
def aggregate_other_sizes(lab, rng):
    m, d, num = int(rng.integers(5, 20)), int(rng.integers(1, 5)), int(rng.integers(4, 12))
    ids = rng.integers(0, num - 1, size=m).astype(np.int32)   # the last segment stays empty
    messages = rng.normal(size=(m, d)).astype("float32") - 2.0
    return {r: lab.gnn.aggregate(messages, ids, num, r) for r in ("sum", "mean", "max")}


@aggregate_other_sizes.verdict
def _(student, reference):
    for reduction in ("sum", "mean", "max"):
        expect_close(student[reduction], reference[reduction],
                     f"aggregate(..., {reduction!r}) on fresh sizes")


@check(points=2, hint="MessagePassing and GraphNetworkBlock with the real aggregate, any "
       "reduction")
def layers_with_own_aggregate(lab, rng):
    n = int(rng.integers(6, 10))
    edge_index = random_graph(rng, n, n + 2)
    x = rng.normal(size=(n, 4)).astype("float32")
    edge_attr = rng.normal(size=(edge_index.shape[1], 3)).astype("float32")
    out = {}
    for reduction in ("sum", "mean", "max"):
        layer = lab.gnn.MessagePassing(5, reduction=reduction)
        layer.build((None, 4), (2, None), (None, 3))
        assign_random_weights(layer, rng, 0.5)
        out[reduction] = layer(x, edge_index, edge_attr)
    u = rng.normal(size=(1, 2)).astype("float32")
    block = lab.gnn.GraphNetworkBlock(3)
    block.build((None, 4), (2, None), (None, 3), (None, 2), (None,))
    assign_random_weights(block, rng, 0.5)
    nodes, edges, globals_ = block(x, edge_index, edge_attr, u, np.zeros(n, np.int32))
    out.update(nodes=nodes, edges=edges, globals=globals_)
    return out


@layers_with_own_aggregate.verdict
def _(student, reference):
    for reduction in ("sum", "mean", "max"):
        expect_close(student[reduction], reference[reduction],
                     f"MessagePassing(5, {reduction!r}) with your aggregate")
    for key in ("nodes", "edges", "globals"):
        expect_close(student[key], reference[key], f"the {key} of GraphNetworkBlock(3)")


@check(points=1, hint="the readout pools with aggregate(h, graph_ids, num_graphs, "
       "self.readout), whatever the readout")
def classifier_readouts(lab, rng):
    sizes = rng.integers(3, 7, size=3)
    batch = random_batch(rng, sizes)
    out = {}
    for readout in ("max", "mean"):
        model = lab.gnn.GraphClassifier(6, 1, 2, readout=readout)
        model(batch)
        assign_random_weights(model, rng, 0.5)
        out[readout] = model(batch)
    return out


@classifier_readouts.verdict
def _(student, reference):
    for readout in ("max", "mean"):
        expect_close(student[readout], reference[readout],
                     f"GraphClassifier(readout={readout!r}) logits on fixed weights")


@check(points=1, uses="gnn", hint="the interaction network with the real aggregate, on any "
       "number of bodies and edge features")
def interaction_network_with_own_aggregate(lab, rng):
    n = int(rng.integers(3, 8))
    edge_index = random_graph(rng, n, 2 * n)
    state = rng.normal(size=(n, 4)).astype("float32")
    edge_attr = rng.normal(size=(edge_index.shape[1], 2)).astype("float32")
    layer = lab.gnn.InteractionNetwork(6)
    layer.build((None, 4), (2, None), (None, 2))
    assign_random_weights(layer, rng, 0.4)
    return {"out": layer(state, edge_index, edge_attr)}


@interaction_network_with_own_aggregate.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"], "InteractionNetwork(6) with your aggregate")


@check(points=1, uses="gnn", hint="rollout: semi-implicit Euler for any step count and dt")
def rollout_other_laws(lab, rng):
    coupling = rng.normal(size=(2, 2)).astype("float32")
    state = rng.normal(size=(int(rng.integers(2, 6)), 4)).astype("float32")

    def law(s):
        s = np.asarray(s, np.float64)
        return (-s[:, :2] @ (np.eye(2) + 0.3 * coupling) - np.tanh(s[:, 2:])).astype("float32")
    return {"trajectory": lab.gnn.rollout(law, state, int(rng.integers(5, 25)),
                                          float(rng.uniform(0.01, 0.2)))}


@rollout_other_laws.verdict
def _(student, reference):
    expect_close(student["trajectory"], reference["trajectory"],
                 "rollout on a fresh law, step count and dt", rtol=1e-4, atol=1e-5)
