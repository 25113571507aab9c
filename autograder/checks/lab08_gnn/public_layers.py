"""Public checks of lab08_gnn, part 2: the layers on fixed random weights, and the
permutation symmetries.

MessagePassing and GraphNetworkBlock run with the checks' own aggregate standing in
(probes.RecordingAggregate: a weighted sum, not a correct aggregate), so a wrong aggregate
costs its own check only; the stand-in records the segment ids, counts and reductions the
layer passed it. The symmetry check runs the student's whole code: renumbering the nodes
renumbers node outputs and edge outputs alike and leaves graph outputs unchanged."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab08_gnn.probes import (
    judge_calls,
    permute_graph,
    raise_error,
    random_batch,
    random_graph,
    run_recorded,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_true


@check(points=2, task="`GCNLayer.build`, `call`",
       hint="out = activation(a_hat @ (x @ kernel) + bias): a_hat on the left, the bias added "
            "after propagating")
def gcn_layer(lab, rng):
    """A GCNLayer(4, tanh) on fixed random weights, with a random non-symmetric (7, 7)
    a_hat and with its transpose."""
    layer = lab.gnn.GCNLayer(4, activation="tanh")
    layer.build((None, 3))
    assign_random_weights(layer, rng, 0.5)
    x = rng.normal(size=(7, 3)).astype("float32")
    a_hat = rng.uniform(size=(7, 7)).astype("float32") * (rng.uniform(size=(7, 7)) < 0.4)
    kernel, bias = (np.asarray(w, np.float64) for w in layer.trainable_weights)
    return {"out": layer(x, a_hat), "out_transposed": layer(x, a_hat.T.copy()),
            "no_propagation": layer(x, np.eye(7, dtype="float32")),
            "bias_propagated": np.tanh(a_hat @ (x @ kernel + bias))}


@gcn_layer.verdict
def _(student, reference):
    what = "GCNLayer(4, 'tanh')(x, a_hat)"
    got = np.asarray(student["out"])
    for wrong, message in ((reference["out_transposed"], "for a non-symmetric a_hat uses a_hat "
                            "transposed: row r of the output mixes the nodes that ROW r of "
                            "a_hat weights (a_hat @ h)"),
                           (reference["no_propagation"], "ignores a_hat: multiply the "
                            "transformed features by a_hat on the left"),
                           (student["bias_propagated"], "adds the bias BEFORE propagating "
                            "(a_hat @ (x @ kernel + bias)): propagate x @ kernel, then add "
                            "the bias")):
        if got.shape == np.shape(wrong) and np.allclose(got, wrong, rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"{what} {message}")
    expect_close(got, reference["out"], what)
    expect_close(student["out_transposed"], reference["out_transposed"],
                 "GCNLayer(4, 'tanh')(x, a_hat.T)")


def _edge_graph(rng, n=6, m=7, node_features=3, edge_features=2):
    """A random graph on n nodes whose last node is isolated (it receives no message)."""
    edge_index = random_graph(rng, n - 1, m)
    x = rng.normal(size=(n, node_features)).astype("float32")
    edge_attr = rng.normal(size=(edge_index.shape[1], edge_features)).astype("float32")
    return x, edge_index, edge_attr


@check(points=2, task="`MessagePassing.call`",
       hint="messages from [x[senders], x[receivers], edge_attr] (in that order) through "
            "message_net; aggregate(messages, receivers, N, self.reduction); update_net on "
            "[x, incoming]")
def message_passing(lab, rng):
    """MessagePassing(5, 'max') on fixed random weights with the checks' own aggregate (a
    weighted sum that records its arguments), on a graph whose last node receives no
    message: the output, and the segment ids, count and reduction it was given."""
    x, edge_index, edge_attr = _edge_graph(rng)
    layer = lab.gnn.MessagePassing(5, reduction="max")
    layer.build((None, 3), (2, None), (None, 2))
    assign_random_weights(layer, rng, 0.5)
    out, calls, error = run_recorded(lab.gnn, lambda: layer(x, edge_index, edge_attr))
    return {"out": out, "calls": calls, "error": error, "receivers": edge_index[1].tolist()}


@message_passing.verdict
def _(student, reference):
    what = "MessagePassing(5, 'max')(x, edge_index, edge_attr)"
    judge_calls(student["calls"], [("max", 6, student["receivers"],
                                    "the incoming messages of every node")], what)
    raise_error(student["error"], what)
    expect_close_naming(student["out"], reference["out"], what,
                        against="the reference (both on the checks' own aggregate)",
                        advice="message_net reads [x[senders], x[receivers], edge_attr] in "
                               "that order, update_net [x, incoming]")


@check(points=2, task="`GraphNetworkBlock.call`",
       hint="edges from [edge_attr, x_sender, x_receiver, u of the receiver's graph]; nodes "
            "from [x, summed incoming edges, u of the node's graph]; globals from [u, mean "
            "node, mean edge per graph]")
def graph_network_block(lab, rng):
    """GraphNetworkBlock(4) on a batch of two graphs (the last node isolated), fixed random
    weights, the checks' own aggregate: x', e', u', and the three aggregations it asked
    for."""
    graph_ids = np.array([0, 0, 0, 1, 1, 1, 1], dtype=np.int32)
    edge_index = np.concatenate([random_graph(rng, 3, 2), random_graph(rng, 3, 3) + 3], axis=1)
    x = rng.normal(size=(7, 3)).astype("float32")
    edge_attr = rng.normal(size=(edge_index.shape[1], 2)).astype("float32")
    u = rng.normal(size=(2, 3)).astype("float32")
    block = lab.gnn.GraphNetworkBlock(4)
    block.build((None, 3), (2, None), (None, 2), (None, 3), (None,))
    assign_random_weights(block, rng, 0.5)
    out, calls, error = run_recorded(lab.gnn,
                                     lambda: block(x, edge_index, edge_attr, u, graph_ids))
    nodes, edges, globals_ = out if out is not None else (None, None, None)
    return {"nodes": nodes, "edges": edges, "globals": globals_, "calls": calls, "error": error,
            "receivers": edge_index[1].tolist(), "graph_ids": graph_ids.tolist(),
            "edge_graphs": graph_ids[edge_index[1]].tolist()}


@graph_network_block.verdict
def _(student, reference):
    what = "GraphNetworkBlock(4)(x, edge_index, edge_attr, u, graph_ids)"
    judge_calls(student["calls"], [
        ("sum", 7, student["receivers"], "the incoming edges of every node"),
        ("mean", 2, student["graph_ids"], "the nodes of every graph"),
        ("mean", 2, student["edge_graphs"], "the edges of every graph")], what)
    raise_error(student["error"], what)
    inputs = {"edges": "[edge_attr, x[senders], x[receivers], u[graph of the receiver]]",
              "nodes": "[x, incoming e', u[graph of the node]]",
              "globals": "[u, mean x' per graph, mean e' per graph]"}
    for key, name in (("edges", "e'"), ("nodes", "x'"), ("globals", "u'")):
        expect_close_naming(student[key], reference[key], f"the {name} of {what}",
                            against="the reference (both on the checks' own aggregate)",
                            advice=f"its network reads {inputs[key]}, in that order")


@check(points=2, reference=False,
       task="`GCNLayer`, `MessagePassing`, `GraphNetworkBlock`, `GraphClassifier`",
       hint="index nodes only through edge_index and graph_ids (tf.gather, segment ops): no "
            "position-dependent step, no reduction over all nodes of the batch")
def permutation_symmetry(lab, rng):
    """Renumber the nodes and shuffle the edges of a batch of two graphs: node and edge
    outputs of every layer are renumbered alike (equivariance), the block's globals and the
    classifier's logits do not change (invariance)."""
    import networkx as nx
    gnn = lab.gnn
    sizes = (5, 4)
    graph_ids = np.repeat([0, 1], sizes).astype(np.int32)
    parts = [random_graph(rng, n, n) for n in sizes]
    edge_index = np.concatenate([parts[0], parts[1] + sizes[0]], axis=1)
    x = rng.normal(size=(9, 3)).astype("float32")
    edge_attr = rng.normal(size=(edge_index.shape[1], 2)).astype("float32")
    u = rng.normal(size=(2, 3)).astype("float32")
    perm, order, px, pedges, (pids,) = permute_graph(rng, x, edge_index, graph_ids)
    pattr = edge_attr[order]
    graph = nx.Graph(edge_index.T.tolist())
    graph.add_nodes_from(range(9))
    a_hat = nx.to_numpy_array(graph, nodelist=range(9)) + rng.uniform(size=(9, 9)) * np.eye(9)
    pa_hat = a_hat[np.ix_(np.argsort(perm), np.argsort(perm))]
    gcn = gnn.GCNLayer(4, activation="relu")
    mp = gnn.MessagePassing(4, reduction="max")
    block = gnn.GraphNetworkBlock(4)
    model = gnn.GraphClassifier(units=8, num_layers=2, num_classes=3)
    out = {"perm": perm, "order": order}
    for name, inputs in (("original", (x, edge_index, edge_attr, graph_ids, a_hat)),
                         ("permuted", (px, pedges, pattr, pids, pa_hat))):
        fx, fe, fa, fids, fa_hat = inputs
        fa_hat = fa_hat.astype("float32")
        nodes, edges, globals_ = block(fx, fe, fa, u, fids)
        batch = {"x": fx, "edge_index": fe, "edge_attr": fa, "graph_ids": fids,
                 "num_graphs": np.asarray(2, np.int32)}
        out[name] = {"gcn": gcn(fx, fa_hat), "mp": mp(fx, fe, fa), "block_nodes": nodes,
                     "block_edges": edges, "block_globals": globals_,
                     "logits": model(batch)}
    return out


@permutation_symmetry.verdict
def _(student, _reference):
    perm, order = np.asarray(student["perm"]), np.asarray(student["order"])
    before, after = student["original"], student["permuted"]
    for key, what in (("gcn", "GCNLayer(4)(x, a_hat)"), ("mp", "MessagePassing(4, 'max')"),
                      ("block_nodes", "the x' of GraphNetworkBlock(4)")):
        expect_close(np.asarray(after[key])[perm], before[key],
                     f"{what} on renumbered nodes, put back in the original numbering",
                     against="its output on the original numbering (equivariance)")
    expect_close(after["block_edges"], np.asarray(before["block_edges"])[order],
                 "the e' of GraphNetworkBlock(4) on shuffled edges",
                 against="its e' on the original edge order, shuffled alike")
    expect_close(after["block_globals"], before["block_globals"],
                 "the u' of GraphNetworkBlock(4) on renumbered nodes",
                 against="its u' on the original numbering (invariance)")
    expect_close(after["logits"], before["logits"],
                 "GraphClassifier's logits on renumbered nodes",
                 against="its logits on the original numbering (invariance)")
    expect_true(np.asarray(before["logits"]).shape == (2, 3),
                f"GraphClassifier's logits for 2 graphs have shape "
                f"{np.asarray(before['logits']).shape}, expected (2, 3)")


def _node_mixer():
    """The checks' stand-in for gnn.MessagePassing inside GraphClassifier: a Dense(units,
    tanh) on each node alone (known behaviour, not message passing), so the readout is
    judged whatever MessagePassing does."""
    import keras

    class NodeMixer(keras.layers.Layer):
        def __init__(self, units, reduction="sum", **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(units, activation="tanh")

        def call(self, x, edge_index, edge_attr):
            return self.dense(x)
    return NodeMixer


@check(points=1, task="`GraphClassifier.call`",
       hint="pool with aggregate(h, graph_ids, num_graphs, self.readout): the readout the "
            "constructor was given, not a fixed one")
def graph_classifier_readouts(lab, rng):
    """GraphClassifier with each readout ('sum', 'mean', 'max') on a batch of three graphs,
    fixed random weights, the checks' own message layers (a Dense per node) and aggregate:
    the logits, and the pooling it asked for."""
    sizes = np.array([3, 5, 4])
    batch = random_batch(rng, sizes)
    out = {"graph_ids": batch["graph_ids"].tolist()}
    with standing_in(lab.gnn, MessagePassing=_node_mixer()):
        for readout in ("sum", "mean", "max"):
            model = lab.gnn.GraphClassifier(6, 1, 2, readout=readout)
            run_recorded(lab.gnn, lambda: model(batch))             # builds the weights
            assign_random_weights(model, rng, 0.5)
            logits, calls, error = run_recorded(lab.gnn, lambda: model(batch))
            out[readout] = {"logits": logits, "calls": calls, "error": error}
    return out


@graph_classifier_readouts.verdict
def _(student, reference):
    for readout in ("sum", "mean", "max"):
        got = student[readout]
        what = f"GraphClassifier(readout={readout!r}) on a batch of 3 graphs"
        judge_calls(got["calls"], [(readout, 3, student["graph_ids"],
                                    "the readout (the nodes of every graph)")], what)
        raise_error(got["error"], what)
        expect_close_naming(got["logits"], reference[readout]["logits"], f"the logits of {what}",
                            against="the reference (both on the checks' own message layers "
                                    "and aggregate)",
                            advice="the head reads the pooled vector of every graph")
