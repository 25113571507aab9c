# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 9 companion: sets and point clouds
#
# This notebook uses `geometry.py` and `pointnet.py`: it draws the procedural shapes and
# their parts, shows furthest point sampling and ball grouping (PointNet++'s set
# abstraction) next to random sampling, measures Chamfer distances between shapes, then
# trains PointNet to classify clouds and to segment their parts, a Deep Sets classifier
# and a Set Transformer-style classifier that pools by attention, and checks that
# shuffling the points changes nothing. Figures go to `outputs/lab09_point_clouds/`,
# TensorBoard logs next to them (`tensorboard --logdir outputs/lab09_point_clouds`).
#
# Run it as a script (`python notebook.py`) or open it with jupytext. `DLKIT_QUICK=1`
# shrinks every budget so the whole file runs in seconds.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlkit import backend  # noqa: E402
from dlkit.backend import reset_keras  # noqa: E402
from dlkit.data import (  # noqa: E402
    PART_NAMES,
    POINT_CLOUD_CLASSES,
    make_point_clouds,
    point_clouds_dataset,
)
from dlkit.plots import save_figure, save_loss_curves  # noqa: E402
from dlkit.training import run_dir, tensorboard_callbacks  # noqa: E402

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it

import geometry  # noqa: E402  (the graded modules, next to this file)
import pointnet  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab09_point_clouds", "quick" if QUICK else "full")
NUM_POINTS = 32 if QUICK else 128
TRAIN, TEST = (100, 50) if QUICK else (1000, 500)
EPOCHS = 1 if QUICK else 20

# %% [markdown]
# ## The data: five shapes and their parts
#
# Each cloud is drawn uniformly over a shape's surface, scaled, rotated about the up axis,
# centred, put in the unit ball and jittered. Colours are the part labels.

# %%
train = make_point_clouds(TRAIN, num_points=NUM_POINTS, seed=1)
test = make_point_clouds(TEST, num_points=NUM_POINTS, seed=2)


def scatter_clouds(clouds, colours, titles, path, cmap="tab20"):
    figure = plt.figure(figsize=(3 * len(clouds), 3))
    for i, (cloud, colour, title) in enumerate(zip(clouds, colours, titles)):
        axes = figure.add_subplot(1, len(clouds), i + 1, projection="3d")
        axes.scatter(*cloud.T, c=colour, s=6, cmap=cmap, vmin=0, vmax=len(PART_NAMES))
        axes.set_title(title, fontsize=9)
        axes.set_axis_off()
    save_figure(figure, path, dpi=80, bbox_inches="tight")
    plt.close(figure)


examples = [int(np.flatnonzero(train["labels"] == c)[0]) for c in range(5)]
scatter_clouds(train["points"][examples], train["parts"][examples],
               [POINT_CLOUD_CLASSES[c] for c in range(5)], out / "shapes_and_parts.png")

# %% [markdown]
# ## Furthest point sampling and ball grouping
#
# Furthest point sampling spreads its picks over the whole cloud; a random subset clumps
# and leaves holes. Each pick then gathers the neighbours inside a ball, in coordinates
# relative to it: the patches a PointNet++ layer feeds to its small shared PointNet.

# %%
cloud = train["points"][examples[2]][None]
picks = np.asarray(geometry.furthest_point_sampling(cloud, 12))[0]
random_picks = np.random.default_rng(0).choice(NUM_POINTS, 12, replace=False)
figure = plt.figure(figsize=(6, 3))
for i, (chosen, title) in enumerate(((picks, "furthest point sampling"),
                                     (random_picks, "random sampling"))):
    axes = figure.add_subplot(1, 2, i + 1, projection="3d")
    axes.scatter(*cloud[0].T, s=3, c="lightgrey")
    axes.scatter(*cloud[0][chosen].T, s=30, c="crimson")
    axes.set_title(title, fontsize=9)
    axes.set_axis_off()
save_figure(figure, out / "sampling.png", dpi=80, bbox_inches="tight")
plt.close(figure)
centroids, patches = geometry.sample_and_group(cloud, 12, radius=0.4, max_neighbours=8)
print("patches", tuple(patches.shape), "largest offset in a patch",
      float(np.abs(np.asarray(patches)).max()))

# %% [markdown]
# ## Chamfer distances between shapes
#
# The mean Chamfer distance between clouds of each pair of classes: clouds of one class are
# closer to each other than to the other classes' (the diagonal is smallest in each row).

# %%
per_class = [train["points"][train["labels"] == c][:8] for c in range(5)]
table = np.zeros((5, 5))
for i in range(5):
    for j in range(5):
        a = np.repeat(per_class[i], len(per_class[j]), axis=0)
        b = np.tile(per_class[j], (len(per_class[i]), 1, 1))
        table[i, j] = float(np.mean(geometry.chamfer_distance(a, b)))
figure, axes = plt.subplots(figsize=(4, 3.5))
image = axes.imshow(table, cmap="viridis")
axes.set_xticks(range(5), POINT_CLOUD_CLASSES, rotation=45)
axes.set_yticks(range(5), POINT_CLOUD_CLASSES)
figure.colorbar(image)
save_figure(figure, out / "chamfer_between_classes.png", dpi=80, bbox_inches="tight")
plt.close(figure)
print(np.round(table, 3))

# %% [markdown]
# ## PointNet classification
#
# The classifier trains with its own `train_step` (cross-entropy plus the T-Net's
# orthogonality regulariser), here from a `tf.data` pipeline of the same clouds
# (`point_clouds_dataset`: shuffled with a seed, batched, prefetched). After training, the T-Net's transforms are close to
# orthogonal, and shuffling the points leaves every prediction unchanged.

# %%
reset_keras(0)
classifier = pointnet.PointNetClassifier(5, num_points=NUM_POINTS)
classifier.compile(optimizer=keras.optimizers.Adam(3e-3))
pipeline = point_clouds_dataset(TRAIN, batch_size=32, seed=1, num_points=NUM_POINTS)
history = classifier.fit(pipeline, epochs=EPOCHS,
                         validation_data=(test["points"], test["labels"]), verbose=0,
                         callbacks=tensorboard_callbacks(out / "logs" / "pointnet"))
save_loss_curves(history, out / "pointnet_loss.png", title="PointNet classifier")
logits, transforms = classifier(test["points"], return_transform=True)
accuracy = float(np.mean(np.argmax(logits, axis=1) == test["labels"]))
shuffled = classifier(test["points"][:, np.random.default_rng(1).permutation(NUM_POINTS)])
print(f"PointNet test accuracy {accuracy:.3f}; orthogonality of the transforms "
      f"{float(pointnet.orthogonality_loss(transforms)):.4f}; largest change of a logit "
      f"when the points are shuffled {float(np.abs(np.asarray(shuffled) - logits).max()):.2e}")

# %% [markdown]
# ## Part segmentation
#
# The segmenter labels each point from its own feature and the cloud's global one. The
# figure shows the labels the model gives to test clouds.

# %%
reset_keras(0)
segmenter = pointnet.PointNetSegmenter(len(PART_NAMES))
segmenter.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = segmenter.fit(train["points"], train["parts"], batch_size=32, epochs=EPOCHS,
                        verbose=0, callbacks=tensorboard_callbacks(out / "logs" / "segmenter"))
predicted = np.argmax(np.asarray(segmenter(test["points"])), axis=-1)
print(f"part mean IoU {pointnet.part_mean_iou(test['parts'], predicted):.3f}")
shown = [int(np.flatnonzero(test["labels"] == c)[0]) for c in range(5)]
scatter_clouds(test["points"][shown], predicted[shown],
               [f"{POINT_CLOUD_CLASSES[c]} (predicted parts)" for c in range(5)],
               out / "segmentation.png")

# %% [markdown]
# ## Deep Sets and attention pooling
#
# Two more set classifiers: Deep Sets sums per-point features, the Set Transformer-style
# model pools them by attention from one learned seed.

# %%
for name, model in (("deep_sets", keras.Sequential([pointnet.DeepSets(5, (64, 64), (64,))])),
                    ("set_transformer", pointnet.SetTransformerClassifier(5))):
    reset_keras(0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train["points"], train["labels"], batch_size=32, epochs=EPOCHS, verbose=0,
              callbacks=tensorboard_callbacks(out / "logs" / name))
    result = model.evaluate(test["points"], test["labels"], verbose=0, return_dict=True)
    print(f"{name}: test accuracy {result['accuracy']:.3f}")
