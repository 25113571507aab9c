"""Public checks of lab08_gnn, part 3: relative training checks. Each trains the student's
code and the reference for the same budget and seed, and passes when the student's held-out
accuracy is within a stated margin of the reference's.

The GCN checks train gnn.GCN (given; its layers are the student's GCNLayer) on a_hat built
by networkx, not by the student's normalized_adjacency, so a wrong propagation matrix costs
its own check only. The graph-classification check batches graphs with networkx's disjoint
union, not with the student's batch_graphs."""
import numpy as np

from autograder.api import check
from autograder.checks.lab08_gnn.probes import networkx_batch
from autograder.verdicts import expect_at_least, expect_true

# The budgets, stated in the handout.
CITATION = {"num_nodes": 300, "labels_per_class": 5, "hidden": 16, "dropout": 0.5,
            "steps": 100, "learning_rate": 1e-2}
KARATE = {"labels_per_class": 2, "hidden": 16, "dropout": 0.5, "steps": 100,
          "learning_rate": 1e-2}
CYCLES = {"train_graphs": 120, "test_graphs": 100, "batch_size": 40, "epochs": 15,
          "units": 16, "num_layers": 2, "learning_rate": 1e-2}
# How far below the reference's held-out accuracy the student's may land.
MARGIN = {"citation": 0.05, "karate": 0.07, "cycles": 0.05}
# How far the GCN must beat the plain MLP on the same features (the handout's claim).
GCN_OVER_MLP = 0.25


def networkx_a_hat(edge_index, n):
    """D^-1/2 (A + I) D^-1/2 from networkx: I minus the normalised Laplacian with loops."""
    import networkx as nx
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(np.asarray(edge_index).T.tolist())
    graph.add_edges_from((i, i) for i in range(n))
    laplacian = nx.normalized_laplacian_matrix(graph, nodelist=range(n)).toarray()
    return (np.eye(n) - laplacian).astype("float32")


def node_accuracy(model, inputs, y, mask):
    logits = np.asarray(model(inputs, training=False))
    return float((logits.argmax(1) == y)[mask].mean())


def train_node_classifier(lab, data, budget, num_classes):
    """Train gnn.GCN and the checks' own MLP (the same sizes, no graph) on one graph."""
    import keras
    gnn = lab.gnn
    a_hat = networkx_a_hat(data["edge_index"], len(data["y"]))
    inputs = [data["x"], a_hat]
    gcn = gnn.GCN(budget["hidden"], num_classes, budget["dropout"])
    history = gnn.fit_node_classifier(gcn, data["x"], a_hat, data["y"], data["train_mask"],
                                      budget["steps"], budget["learning_rate"])

    class MLP(keras.Model):  # the same two layers and dropout, without the graph
        def __init__(self):
            super().__init__()
            self.net = keras.Sequential([
                keras.layers.Dropout(budget["dropout"]),
                keras.layers.Dense(budget["hidden"], activation="relu"),
                keras.layers.Dropout(budget["dropout"]), keras.layers.Dense(num_classes)])

        def call(self, inputs, training=False):
            return self.net(inputs[0], training=training)

    mlp = MLP()
    gnn.fit_node_classifier(mlp, data["x"], a_hat, data["y"], data["train_mask"],
                            budget["steps"], budget["learning_rate"])
    return {"accuracy": node_accuracy(gcn, inputs, data["y"], data["test_mask"]),
            "mlp_accuracy": node_accuracy(mlp, inputs, data["y"], data["test_mask"]),
            "loss": float(history["loss"][-1])}


def judge_accuracy(student, reference, margin, what):
    accuracy = student["accuracy"]
    expect_true(np.isfinite(student["loss"]), f"{what}: the training loss is "
                f"{student['loss']} (NaN or inf): training diverged")
    expect_at_least(accuracy, reference["accuracy"] - margin,
                    f"{what}: held-out accuracy (the reference reaches "
                    f"{reference['accuracy']:.3f} with the same budget and seed)")


@check(points=3, task="`GCNLayer` (trained)",
       hint="a GCN that propagates with a_hat @ (x @ kernel) learns from its neighbours' "
            "features; one that ignores a_hat is only an MLP")
def gcn_on_citation_graph(lab, rng):
    """Semi-supervised node classification on a generated citation-like graph (300 nodes,
    3 classes, 5 labels per class): gnn.GCN with your GCNLayer against the reference, and
    against a plain MLP on the same features."""
    from dlkit.data import citation_graph
    data = citation_graph(CITATION["num_nodes"], labels_per_class=CITATION["labels_per_class"],
                          seed=int(rng.integers(0, 1000)))
    return train_node_classifier(lab, data, CITATION, 3)


@gcn_on_citation_graph.verdict
def _(student, reference):
    what = "gnn.GCN on the citation-like graph"
    judge_accuracy(student, reference, MARGIN["citation"], what)
    expect_at_least(student["accuracy"], student["mlp_accuracy"] + GCN_OVER_MLP,
                    f"{what}: held-out accuracy, against {student['mlp_accuracy']:.3f} of a "
                    f"plain MLP plus {GCN_OVER_MLP} (the graph must help: does GCNLayer "
                    "propagate with a_hat?)")


@check(points=1, task="`GCNLayer` (trained)",
       hint="a GCN on the karate club learns the split from 2 labelled members per club")
def gcn_on_karate_club(lab, rng):
    """Zachary's karate club from networkx, 2 labelled members per club (the two leaders
    among them): gnn.GCN with your GCNLayer on one-hot node identities, against the
    reference and against a plain MLP."""
    from dlkit.data import karate_club
    data = karate_club(KARATE["labels_per_class"], seed=int(rng.integers(0, 1000)))
    return train_node_classifier(lab, data, KARATE, 2)


@gcn_on_karate_club.verdict
def _(student, reference):
    what = "gnn.GCN on the karate club"
    judge_accuracy(student, reference, MARGIN["karate"], what)
    expect_at_least(student["accuracy"], student["mlp_accuracy"] + GCN_OVER_MLP,
                    f"{what}: held-out accuracy, against {student['mlp_accuracy']:.3f} of a "
                    f"plain MLP on the one-hot identities plus {GCN_OVER_MLP}")


def _batches(graphs, labels, size):
    return [(networkx_batch(graphs[i:i + size]), labels[i:i + size])
            for i in range(0, len(graphs), size)]


@check(points=3, task="`GraphClassifier.call` (trained)",
       hint="message layers in turn, then aggregate(h, graph_ids, num_graphs, self.readout): "
            "one vector per GRAPH, then the head")
def graph_classifier_on_cycles_and_trees(lab, rng):
    """Cycles against random trees (6 to 14 nodes, every feature 1, so only the structure
    tells them apart): your GraphClassifier trained with train_graph_classifier, graphs
    batched by networkx, against the reference; and the same model with no message layer."""
    from dlkit.data import cycles_and_trees
    gnn = lab.gnn
    seed = int(rng.integers(0, 1000))
    graphs, labels = cycles_and_trees(CYCLES["train_graphs"], seed=seed)
    test_graphs, test_labels = cycles_and_trees(CYCLES["test_graphs"], seed=seed + 1)
    batches = _batches(graphs, labels, CYCLES["batch_size"])
    test = gnn.model_inputs(networkx_batch(test_graphs))
    shape = list(np.shape(gnn.GraphClassifier(CYCLES["units"], CYCLES["num_layers"], 2)(
        gnn.model_inputs(batches[0][0]))))
    if shape != [CYCLES["batch_size"], 2]:  # the verdict says why; training would crash
        return {"shape": shape, "accuracy": np.nan, "loss": np.nan,
                "no_messages_accuracy": np.nan}
    out = {}
    for name, layers in (("model", CYCLES["num_layers"]), ("no_messages", 0)):
        model = gnn.GraphClassifier(CYCLES["units"], layers, 2)
        history = gnn.train_graph_classifier(model, batches, CYCLES["epochs"],
                                             CYCLES["learning_rate"])
        logits = np.asarray(model(test))
        out[name] = {"accuracy": float((logits.argmax(1) == test_labels).mean()),
                     "loss": float(history[-1])}
    return {"accuracy": out["model"]["accuracy"], "loss": out["model"]["loss"],
            "shape": shape,
            "no_messages_accuracy": out["no_messages"]["accuracy"]}


@graph_classifier_on_cycles_and_trees.verdict
def _(student, reference):
    what = "GraphClassifier on cycles and trees"
    expect_true(student["shape"] == [CYCLES["batch_size"], 2],
                f"{what}: logits of shape {tuple(student['shape'])} for a batch of "
                f"{CYCLES['batch_size']} graphs, expected ({CYCLES['batch_size']}, 2): "
                "one row per GRAPH (pool with graph_ids)")
    judge_accuracy(student, reference, MARGIN["cycles"], what)
    expect_at_least(student["accuracy"], student["no_messages_accuracy"] + 0.25,
                    f"{what}: held-out accuracy, against "
                    f"{student['no_messages_accuracy']:.3f} of the same model without message "
                    "layers plus 0.25 (the messages must help)")
