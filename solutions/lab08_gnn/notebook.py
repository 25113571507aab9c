# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 08 companion: graph neural networks
#
# This notebook uses the layers of `gnn.py` on the lab's three data sets: Zachary's karate
# club (semi-supervised, two labels per club), a generated citation-like graph (a GCN
# against an MLP on the same features), and cycles against trees (graph classification,
# with and without message passing). It checks the permutation symmetries by hand and runs
# a graph-network block on a batch. Every figure is written as a PNG under
# `outputs/lab08_gnn/`; the TensorBoard logs go next to them
# (`tensorboard --logdir outputs/lab08_gnn`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from dlkit import backend  # noqa: E402
from dlkit.backend import reset_keras  # noqa: E402
from dlkit.data import citation_graph, cycles_and_trees, karate_club  # noqa: E402
from dlkit.plots import save_figure, save_loss_curves  # noqa: E402
from dlkit.training import run_dir, tensorboard_callbacks  # noqa: E402

keras = backend.keras()  # the quiet TensorFlow import, before gnn.py imports it
tf = backend.tensorflow()

import gnn  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
STEPS = 20 if QUICK else 200
reset_keras(0)
out = run_dir("lab08_gnn", "quick" if QUICK else "full")


def accuracy(model, inputs, y, mask):
    return float((np.argmax(model(inputs, training=False), 1) == y)[mask].mean())


# %% [markdown]
# ## The karate club
#
# 34 members, 78 friendships; after a quarrel the club split in two. The members' only
# features are one-hot identities, so the GCN must learn the split from the friendships and
# from two labelled members per club (the two leaders among them).

# %%
club = karate_club(labels_per_class=2, seed=0)
a_hat = gnn.normalized_adjacency(club["edge_index"], 34)
gcn = gnn.GCN(hidden=16, num_classes=2, dropout=0.5)
gnn.fit_node_classifier(gcn, club["x"], a_hat, club["y"], club["train_mask"], steps=STEPS)
predicted = np.argmax(gcn([club["x"], a_hat]), 1)
print(f"karate club: {accuracy(gcn, [club['x'], a_hat], club['y'], club['test_mask']):.0%} "
      "of the unlabelled members on the right side")

graph = nx.karate_club_graph()
layout = nx.spring_layout(graph, seed=0)
figure, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, colours, title in ((axes[0], club["y"], "the split (truth)"),
                           (axes[1], predicted, "GCN's prediction")):
    nx.draw_networkx(graph, layout, ax=ax, node_color=colours, cmap="coolwarm", node_size=160,
                     font_size=7, edgecolors=np.where(club["train_mask"], "k", "w"))
    ax.set_title(title + " (black rim: labelled)")
    ax.axis("off")
save_figure(figure, out / "karate_club.png", dpi=100)
plt.close(figure)

# %% [markdown]
# ## What the first layer learned
#
# The 16 hidden features of every member after the first GCN layer, projected on their two
# principal directions: the two clubs come apart, although only four members had labels.

# %%
hidden = np.asarray(gcn.gcn_1(club["x"], a_hat))
centred = hidden - hidden.mean(0)
projected = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
figure, ax = plt.subplots(figsize=(5, 5))
ax.scatter(projected[:, 0], projected[:, 1], c=club["y"], cmap="coolwarm")
ax.set_title("karate club: first GCN layer, 2 principal directions")
save_figure(figure, out / "karate_embedding.png", dpi=100)
plt.close(figure)

# %% [markdown]
# ## A citation-like graph: the GCN against an MLP
#
# 300 papers in 3 fields; features too noisy to tell the field from one paper alone. The MLP
# below is the same network without Â. We train both for the same steps, in epochs of 10,
# and log the GCN to TensorBoard.

# %%
papers = citation_graph(seed=0)
a_hat = gnn.normalized_adjacency(papers["edge_index"], len(papers["y"]))


class MLP(keras.Model):
    """The GCN's two layers and dropout, without the graph."""

    def __init__(self):
        super().__init__()
        self.net = keras.Sequential([keras.layers.Dropout(0.5),
                                     keras.layers.Dense(16, activation="relu"),
                                     keras.layers.Dropout(0.5), keras.layers.Dense(3)])

    def call(self, inputs, training=False):
        return self.net(inputs[0], training=training)


histories = {}
for name, model in (("gcn", gnn.GCN(16, 3, 0.5)), ("mlp", MLP())):
    callbacks = tensorboard_callbacks(out / "logs" / name) if name == "gcn" else None
    histories[name] = gnn.fit_node_classifier(model, papers["x"], a_hat, papers["y"],
                                              papers["train_mask"], steps=10,
                                              epochs=STEPS // 10, callbacks=callbacks)["loss"]
    print(f"{name}: test accuracy "
          f"{accuracy(model, [papers['x'], a_hat], papers['y'], papers['test_mask']):.0%}")
save_loss_curves(histories, out / "citation_losses.png",
                 title="training loss on the 15 labelled papers")

# %% [markdown]
# ## Permutation symmetry, by hand
#
# Renumber the nodes: the GCN's outputs are renumbered alike (equivariance).

# %%
perm = np.random.default_rng(0).permutation(len(papers["y"]))
inverse = np.argsort(perm)
permuted_edges = perm[papers["edge_index"]]
gcn_model = gnn.GCN(16, 3, 0.5)
before = np.asarray(gcn_model([papers["x"], a_hat]))
after = np.asarray(gcn_model([papers["x"][inverse],
                              gnn.normalized_adjacency(permuted_edges, len(perm))]))
print(f"largest difference after putting the renumbered outputs back: "
      f"{np.abs(after[perm] - before).max():.2e}")

# %% [markdown]
# ## Graph classification: cycles against trees
#
# Every node and edge feature is 1. Without message passing the readout sees only how many
# nodes a graph has, which is the same for both classes; with it, the degrees show.

# %%
graphs, labels = cycles_and_trees(60 if QUICK else 200, seed=0)
test_graphs, test_labels = cycles_and_trees(100, seed=1)
batches = [(gnn.batch_graphs(graphs[i:i + 40]), labels[i:i + 40])
           for i in range(0, len(graphs), 40)]
test = gnn.model_inputs(gnn.batch_graphs(test_graphs))
results, curves = {}, {}
for name, layers, readout in (("2 layers, sum", 2, "sum"), ("2 layers, max", 2, "max"),
                              ("no messages", 0, "sum")):
    model = gnn.GraphClassifier(16, layers, 2, readout=readout)
    curves[name] = gnn.train_graph_classifier(model, batches, 3 if QUICK else 20)
    results[name] = float((np.argmax(model(test), 1) == test_labels).mean())
    print(f"{name}: test accuracy {results[name]:.0%}")
save_loss_curves(curves, out / "cycles_losses.png", title="cycles against trees")
figure, ax = plt.subplots(figsize=(5, 3.5))
ax.bar(list(results), list(results.values()))
ax.set_ylim(0, 1)
ax.set_ylabel("test accuracy")
save_figure(figure, out / "cycles_accuracy.png", dpi=100)
plt.close(figure)

# %% [markdown]
# ## A graph-network block on a batch
#
# Two graphs with a global attribute each: the block returns new edges, nodes and globals.

# %%
batch = gnn.batch_graphs(test_graphs[:2])
block = gnn.GraphNetworkBlock(8)
u = np.zeros((2, 4), np.float32)
nodes, edges, globals_ = block(batch["x"], batch["edge_index"], batch["edge_attr"], u,
                               batch["graph_ids"])
print("x'", nodes.shape, "e'", edges.shape, "u'", globals_.shape)

# %% [markdown]
# ## An interaction network learns springs
#
# Train on one-step accelerations, then roll the learned model out with `rollout` and
# compare with the true springs, rolled out the same way.

# %%
from dlkit.data import spring_systems  # noqa: E402
from dlkit.data.graphs import spring_accelerations  # noqa: E402

springs = spring_systems(50 if QUICK else 200, seed=0)
test_springs = spring_systems(5, seed=1)
net = gnn.InteractionNetwork(64)
net.build((None, 4), (2, None), (None, 1))
losses = gnn.train_dynamics(net, springs["states"], springs["accelerations"],
                            springs["edge_index"], springs["edge_attr"],
                            steps=60 if QUICK else 1000)
save_loss_curves({"one-step mse": losses}, out / "springs_loss.png", logy=True)
k = test_springs["edge_attr"][0]
learned = gnn.rollout(lambda s: net(s, test_springs["edge_index"], k),
                      test_springs["states"][0, 0], 40, test_springs["dt"])
true = gnn.rollout(lambda s: spring_accelerations(s[:, :2], k[:, 0],
                                                  test_springs["edge_index"]),
                   test_springs["states"][0, 0], 40, test_springs["dt"])
print(f"RMS position error after 40 steps: "
      f"{np.sqrt(np.mean(np.sum((learned[-1, :, :2] - true[-1, :, :2]) ** 2, -1))):.3f}")
figure, ax = plt.subplots(figsize=(5, 5))
for body in range(true.shape[1]):
    line, = ax.plot(true[:, body, 0], true[:, body, 1], "-")
    ax.plot(learned[:, body, 0], learned[:, body, 1], "--", color=line.get_color())
ax.set_title("springs: true (solid) and learned (dashed), 40 steps")
ax.set_aspect("equal")
save_figure(figure, out / "springs_rollout.png", dpi=100)
plt.close(figure)
