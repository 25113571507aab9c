"""Public checks of lab08_gnn, part 3: relative training checks. Each trains the student's
code and the reference for the same budget and seed, and passes when the student's held-out
accuracy is within a stated margin of the reference's.

The GCN checks train gnn.GCN (given; its layers are the student's GCNLayer) on a_hat built
by networkx, not by the student's normalized_adjacency, so a wrong propagation matrix costs
its own check only. The graph-classification check batches graphs with networkx's disjoint
union, not with the student's batch_graphs, and trains with the checks' own copy of
train_graph_classifier's loop."""
import numpy as np

from autograder.api import check
from autograder.checks.lab08_gnn.probes import networkx_batch
from autograder.verdicts import expect_at_least, expect_true

# The budgets, stated in the handout.
CITATION = {"num_nodes": 300, "labels_per_class": 5, "hidden": 16, "dropout": 0.5,
            "steps": 100, "learning_rate": 1e-2}
KARATE = {"labels_per_class": 2, "hidden": 16, "dropout": 0.5, "steps": 100,
          "learning_rate": 1e-2}
# 32 units learn cycles from trees in fewer steps than 16, at the same cost a step (the
# eager step's overhead, not its arithmetic, sets the pace): every one of 16 seeds at 97 %
# or more after 10 epochs. The model without message layers sees only the node count, so
# it stays at chance on any budget: 3 epochs.
CYCLES = {"train_graphs": 120, "test_graphs": 100, "batch_size": 40, "epochs": 10,
          "no_messages_epochs": 3, "units": 32, "num_layers": 2, "learning_rate": 1e-2}
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


def numpy_mlp_accuracy(data, budget, num_classes, seed):
    """The checks' plain MLP in numpy (the GCN's sizes, dropout and Adam steps, no graph),
    trained full-batch on the labelled nodes: its held-out accuracy. It does not read the
    student's code, and numpy trains it in milliseconds where a Keras fit costs a trace."""
    rng = np.random.default_rng(seed)
    x, y = np.asarray(data["x"], np.float64), np.asarray(data["y"])
    train = np.asarray(data["train_mask"], bool)
    inputs, targets = x[train], np.eye(num_classes)[y[train]]
    f, h, keep = x.shape[1], budget["hidden"], 1.0 - budget["dropout"]
    params = [rng.uniform(-1, 1, (f, h)) * np.sqrt(6 / (f + h)), np.zeros(h),
              rng.uniform(-1, 1, (h, num_classes)) * np.sqrt(6 / (h + num_classes)),
              np.zeros(num_classes)]
    first, second = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    for step in range(1, budget["steps"] + 1):
        w1, b1, w2, b2 = params
        a = inputs * (rng.random(inputs.shape) < keep) / keep
        z = a @ w1 + b1
        mask = (rng.random(z.shape) < keep) / keep
        hidden = np.maximum(z, 0.0) * mask
        logits = hidden @ w2 + b2
        p = np.exp(logits - logits.max(1, keepdims=True))
        g = (p / p.sum(1, keepdims=True) - targets) / len(targets)
        back = (g @ w2.T) * mask * (z > 0)
        gradients = [a.T @ back, back.sum(0), hidden.T @ g, g.sum(0)]
        rate = budget["learning_rate"] * np.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step)
        for i, gradient in enumerate(gradients):
            first[i] = 0.9 * first[i] + 0.1 * gradient
            second[i] = 0.999 * second[i] + 0.001 * gradient ** 2
            params[i] = params[i] - rate * first[i] / (np.sqrt(second[i]) + 1e-7)
    w1, b1, w2, b2 = params
    logits = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    return float((logits.argmax(1) == y)[np.asarray(data["test_mask"], bool)].mean())


def train_node_classifier(lab, data, budget, num_classes, seed=None):
    """Train gnn.GCN and the checks' own MLP (the same sizes, no graph) on one graph; with a
    seed, the MLP is the numpy one."""
    import keras
    gnn = lab.gnn
    a_hat = networkx_a_hat(data["edge_index"], len(data["y"]))
    inputs = [data["x"], a_hat]
    gcn = gnn.GCN(budget["hidden"], num_classes, budget["dropout"])
    history = gnn.fit_node_classifier(gcn, data["x"], a_hat, data["y"], data["train_mask"],
                                      budget["steps"], budget["learning_rate"])

    accuracy = node_accuracy(gcn, inputs, data["y"], data["test_mask"])
    if seed is not None:
        return {"accuracy": accuracy, "loss": float(history["loss"][-1]),
                "mlp_accuracy": numpy_mlp_accuracy(data, budget, num_classes, seed)}

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
    return {"accuracy": accuracy,
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
    seed = int(rng.integers(0, 1000))
    data = citation_graph(CITATION["num_nodes"], labels_per_class=CITATION["labels_per_class"],
                          seed=seed)
    return train_node_classifier(lab, data, CITATION, 3, seed=seed)


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


def train_on_batches(lab, model, batches, epochs, learning_rate, compile_update=True):
    """gnn.train_graph_classifier's loop (given): Adam on the mean cross-entropy of every
    batch, `epochs` passes in order, the model run eagerly (the batches differ in size).
    With compile_update the optimizer's update is a compiled graph (its variables keep their
    shapes): run eagerly, Adam costs about 3 ms a variable a step, more than the model's
    forward and backward passes; tracing it costs about 0.25 s once.
    Returns the mean loss of each epoch."""
    import keras
    import tensorflow as tf
    inputs = [(lab.gnn.model_inputs(batch), labels) for batch, labels in batches]
    model(inputs[0][0])
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    def apply(grads):
        optimizer.apply(grads, model.trainable_variables)
    if compile_update:
        apply = tf.function(apply)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    history = []
    for _ in range(epochs):
        losses = []
        for x, labels in inputs:
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(x))
            apply(tape.gradient(loss, model.trainable_variables))
            losses.append(float(loss))
        history.append(float(np.mean(losses)))
    return history


@check(points=3, task="`GraphClassifier.call` (trained)",
       hint="message layers in turn, then aggregate(h, graph_ids, num_graphs, self.readout): "
            "one vector per GRAPH, then the head")
def graph_classifier_on_cycles_and_trees(lab, rng):
    """Cycles against random trees (6 to 14 nodes, every feature 1, so only the structure
    tells them apart): your GraphClassifier trained as train_graph_classifier trains it,
    graphs batched by networkx, against the reference; and the same model with no message
    layer."""
    from dlkit.data import cycles_and_trees
    gnn = lab.gnn
    seed = int(rng.integers(0, 1000))
    graphs, labels = cycles_and_trees(CYCLES["train_graphs"], seed=seed)
    test_graphs, test_labels = cycles_and_trees(CYCLES["test_graphs"], seed=seed + 1)
    batches = _batches(graphs, labels, CYCLES["batch_size"])
    test = gnn.model_inputs(networkx_batch(test_graphs))
    model = gnn.GraphClassifier(CYCLES["units"], CYCLES["num_layers"], 2)
    shape = list(np.shape(model(gnn.model_inputs(batches[0][0]))))
    if shape != [CYCLES["batch_size"], 2]:  # the verdict says why; training would crash
        return {"shape": shape, "accuracy": np.nan, "loss": np.nan,
                "no_messages_accuracy": np.nan}
    history = train_on_batches(lab, model, batches, CYCLES["epochs"], CYCLES["learning_rate"])
    # Without message layers the model has only the head's 2 variables: cheaper eagerly.
    no_messages = gnn.GraphClassifier(CYCLES["units"], 0, 2)
    train_on_batches(lab, no_messages, batches, CYCLES["no_messages_epochs"],
                     CYCLES["learning_rate"], compile_update=False)

    def accuracy(trained):
        return float((np.asarray(trained(test)).argmax(1) == test_labels).mean())
    return {"accuracy": accuracy(model), "loss": float(history[-1]), "shape": shape,
            "no_messages_accuracy": accuracy(no_messages)}


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
