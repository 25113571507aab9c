"""GPU checks of lab08_gnn (autograder/gpu.py): gnn.GCN with the student's
normalized_adjacency and GCNLayer on a citation-like graph of 4 000 nodes and 8 fields,
judged by its test accuracy, and their InteractionNetwork (with their aggregate) trained on
2 000 spring systems of 8 bodies, judged by its relative error on the accelerations of new
systems; both against the reference's trained the same way. No TFDS data: dlkit.data's
generators at a GPU's size."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most, expect_true

# 4 000 nodes, 8 fields of 500, about 10 neighbours in the field and 1.6 outside; 20 labels
# per field. 400 full-batch Adam steps of a 64-64-8 GCN on the dense a_hat: 2 products of
# (4 000 x 4 000) by (4 000 x 64) a layer, about 10 GFLOP a step, 4 TFLOP in all: seconds.
CITATION = {"nodes": 4_000, "classes": 8, "features": 64, "in_field": 10.0,
            "out_field": 1.6, "labels_per_class": 20, "hidden": 64, "steps": 400,
            "learning_rate": 1e-2}
CITATION_MARGIN = 0.03   # test accuracy within 3 points of the reference's
CITATION_FLOOR = 0.5     # chance: 1/8; the neighbourhood averages are far cleaner

# 2 000 systems of 8 bodies (56 directed edges each) over 50 steps; 5 000 Adam steps on 64
# random (system, time) states at once (3 584 edges): the 64-wide relation net costs about
# 50 kFLOP an edge trained, 0.2 GFLOP a step, 1 TFLOP in all; step latency (~5 ms) and
# generating the systems set the pace.
SPRINGS = {"systems": 2_000, "test_systems": 200, "bodies": 8, "steps": 50, "hidden": 64,
           "batch": 64, "train_steps": 5_000, "learning_rate": 1e-3}
SPRINGS_FACTOR, SPRINGS_SLACK = 1.5, 0.005  # relative error <= 1.5 x the reference's + 0.005
SPRINGS_CEILING = 0.05                       # 5 % of the accelerations' variance


@gpu_check(points=3, minutes=0.5, uses="gnn",
           task="`normalized_adjacency`, `GCNLayer` (trained)",
           hint="gnn.GCN propagates with your normalized_adjacency and GCNLayer: check "
                "D^-1/2 (A + I) D^-1/2 and that the layer computes a_hat @ (x @ kernel) + bias")
def gcn_on_large_citation_graph(lab, rng):
    """gnn.GCN(64) with your normalized_adjacency and GCNLayer, trained full-batch for 400
    steps on a citation-like graph of 4 000 nodes in 8 fields, 20 labels per field (mixed
    precision, XLA): its test accuracy comes within 3 points of the reference's, above
    50 %."""
    import keras
    import tensorflow as tf

    from dlkit.data import citation_graph
    c = CITATION
    nodes = lab.gpu.examples(c["nodes"])
    per_field = nodes // c["classes"]
    data = citation_graph(nodes, c["classes"], c["features"],
                          p_in=min(1.0, c["in_field"] / per_field),
                          p_out=c["out_field"] / (nodes - per_field),
                          labels_per_class=min(c["labels_per_class"], per_field // 4),
                          seed=int(rng.integers(0, 1000)))
    a_hat = np.asarray(lab.gnn.normalized_adjacency(data["edge_index"], nodes), np.float32)
    model = lab.gnn.GCN(hidden=c["hidden"], num_classes=c["classes"])
    lab.gpu.compile(model, keras.optimizers.Adam(c["learning_rate"]),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    inputs = (data["x"], a_hat)
    graph = tf.data.Dataset.from_tensors(
        (inputs, data["y"], data["train_mask"].astype(np.float32)))
    history = model.fit(graph.repeat(lab.gpu.steps(c["steps"])), verbose=0).history
    logits = np.asarray(model(inputs), np.float32)
    correct = logits.argmax(axis=-1) == data["y"]
    return {"accuracy": float(correct[data["test_mask"]].mean()),
            "loss": float(history["loss"][-1]), "smoke": lab.gpu.smoke}


@gcn_on_large_citation_graph.verdict
def _(student, reference):
    what = (f"gnn.GCN's test accuracy on the 4 000-node citation-like graph (the reference "
            f"reaches {reference['accuracy']:.3f} with the same training)")
    expect_true(np.isfinite(student["loss"]),
                f"the GCN's training loss is {student['loss']}: training diverged")
    expect_at_least(student["accuracy"], reference["accuracy"] - CITATION_MARGIN, what)
    if not student["smoke"]:
        expect_at_least(student["accuracy"], CITATION_FLOOR, what)


def springs_model(lab, hidden, edge_index, bodies):
    """The student's InteractionNetwork on a batch of systems (B, N, 4) with their edge
    features (B, E, 1), put side by side as one disjoint graph; accelerations (B, N, 2)."""
    import keras
    import tensorflow as tf

    class Springs(keras.Model):
        def __init__(self):
            super().__init__()
            self.net = lab.gnn.InteractionNetwork(hidden)

        def call(self, inputs):
            states, edge_attr = inputs
            batch = tf.shape(states)[0]
            offsets = tf.range(batch)[:, None, None] * bodies
            edges = tf.reshape(tf.transpose(edge_index[None] + offsets, (1, 0, 2)), (2, -1))
            out = self.net(tf.reshape(states, (-1, 4)), edges, tf.reshape(edge_attr, (-1, 1)))
            return tf.cast(tf.reshape(out, (batch, bodies, 2)), "float32")
    return Springs()


@gpu_check(points=3, minutes=1.0, uses="gnn",
           task="`aggregate`, `InteractionNetwork` (trained)",
           hint="the relation net reads the sender's state minus the receiver's and the "
                "stiffness; its effects are summed at the receivers with your aggregate")
def interaction_network_on_many_springs(lab, rng):
    """Your InteractionNetwork(64) trained for 5 000 steps on one-step accelerations of
    2 000 spring systems of 8 bodies (mixed precision, XLA): its mean squared error on 200
    new systems, relative to the accelerations' mean square, stays within 1.5 times the
    reference's plus 0.005, below 5 %."""
    import keras

    from dlkit.data import spring_systems
    s = SPRINGS
    seed = int(rng.integers(0, 1000))
    train = spring_systems(lab.gpu.examples(s["systems"]), s["bodies"], s["steps"], seed=seed)
    test = spring_systems(lab.gpu.examples(s["test_systems"]), s["bodies"], s["steps"],
                          seed=seed + 1)
    model = springs_model(lab, s["hidden"], train["edge_index"].astype(np.int32), s["bodies"])
    lab.gpu.compile(model, keras.optimizers.Adam(s["learning_rate"]), loss="mse")
    times = train["states"].shape[1]
    pick = rng.integers(0, len(train["states"]), size=(lab.gpu.steps(s["train_steps"]),
                                                       s["batch"]))
    when = rng.integers(0, times, size=pick.shape)
    states = train["states"][pick, when].reshape(-1, s["bodies"], 4)
    edge_attr = train["edge_attr"][pick].reshape(-1, *train["edge_attr"].shape[1:])
    targets = train["accelerations"][pick, when].reshape(-1, s["bodies"], 2)
    history = model.fit((states, edge_attr), targets, batch_size=s["batch"], shuffle=False,
                        verbose=0).history
    test_states = test["states"].reshape(-1, s["bodies"], 4)
    test_attr = np.repeat(test["edge_attr"], times, axis=0)
    test_targets = test["accelerations"].reshape(-1, s["bodies"], 2)
    predicted = np.asarray(model.predict((test_states, test_attr), batch_size=1024,
                                         verbose=0), np.float32)
    return {"relative_mse": float(np.mean((predicted - test_targets) ** 2)
                                  / np.mean(test_targets ** 2)),
            "loss": float(history["loss"][-1]), "smoke": lab.gpu.smoke}


@interaction_network_on_many_springs.verdict
def _(student, reference):
    what = (f"the InteractionNetwork's mean squared error on the accelerations of new "
            f"systems, over their mean square (the reference reaches "
            f"{reference['relative_mse']:.4f} with the same training)")
    expect_true(np.isfinite(student["loss"]) and np.isfinite(student["relative_mse"]),
                "the InteractionNetwork's training diverged (NaN or inf)")
    expect_at_most(student["relative_mse"],
                   SPRINGS_FACTOR * reference["relative_mse"] + SPRINGS_SLACK, what)
    if not student["smoke"]:
        expect_at_most(student["relative_mse"], SPRINGS_CEILING, what)
