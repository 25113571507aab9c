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
# # Lab 5b companion: a grid detector, NMS and mAP; atrous convolution and ASPP
#
# This notebook uses `detection.py` (targets, the YOLO loss, decoding, NMS, mAP, the grid
# detector) and `segmentation.py` (atrous convolution, receptive fields, ASPP). Every figure
# is a PNG under `outputs/lab05b_detection/`; the TensorBoard logs go next to them.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import SHAPE_CLASSES, make_multi_shapes, make_shapes
from dlkit.plots import save_figure, save_image_grid
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it
tf = backend.tensorflow()

import detection  # noqa: E402  (the graded modules, next to this file)
import segmentation  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab05b_detection", "quick" if QUICK else "full")
COLOURS = ("tab:red", "tab:green", "tab:blue")


def draw(axis, image, boxes, classes, scores=None, grid=None):
    """One image with its boxes (coloured by class) and, optionally, the S x S grid."""
    size = image.shape[0]
    axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    if grid:
        for k in range(1, grid):
            axis.axhline(k * size / grid - 0.5, color="yellow", lw=0.5)
            axis.axvline(k * size / grid - 0.5, color="yellow", lw=0.5)
    for i, ((y0, x0, y1, x1), c) in enumerate(zip(boxes, classes)):
        axis.add_patch(Rectangle((x0 * size - 0.5, y0 * size - 0.5), (x1 - x0) * size,
                                 (y1 - y0) * size, fill=False, color=COLOURS[int(c)], lw=1.5))
        if scores is not None:
            axis.text(x0 * size, y0 * size, f"{scores[i]:.2f}", color=COLOURS[int(c)],
                      fontsize=6, va="bottom")
    axis.set_xticks([])
    axis.set_yticks([])


# %% [markdown]
# ## The data: several shapes per image, every box and class
#
# 1 to 4 shapes of lab 5's three classes per 32x32 image; the grid (yellow) is the 4x4 grid
# of the detector: each box belongs to the cell holding its centre.

# %%
SIZE, S, B, C = 32, 4, 2, 3
ANCHORS = np.array([[0.25, 0.25], [0.45, 0.45]])  # (height, width) of the two slots
train = make_multi_shapes(96 if QUICK else 6000, size=SIZE, seed=1)
test = make_multi_shapes(32 if QUICK else 1000, size=SIZE, seed=2)
print({key: value.shape for key, value in train.items()})
figure, axes = plt.subplots(2, 4, figsize=(8, 4))
for i, axis in enumerate(axes.ravel()):
    n = test["counts"][i]
    draw(axis, test["images"][i], test["boxes"][i, :n], test["labels"][i, :n], grid=S)
save_figure(figure, out / "data.png")
plt.close(figure)

# %% [markdown]
# ## Grid targets
#
# `encode_targets` writes, for each box, objectness 1 into the slot of best anchor IoU of
# the cell holding its centre. The picture shows, per cell, the objectness of slot 0
# (small anchor, left) and slot 1 (large anchor, right).

# %%
targets = detection.encode_batch(train["boxes"], train["labels"], S, ANCHORS, C)
print("targets:", targets.shape, "responsible slots per image:",
      targets[..., 0:5 * B:5].sum(axis=(1, 2, 3))[:8])
save_image_grid(np.concatenate([targets[:8, ..., 0:1], targets[:8, ..., 5:6]]),
                out / "targets.png", title="objectness targets: slot 0 (top), slot 1 (bottom)")

# %% [markdown]
# ## Training the grid detector on the YOLO loss
#
# The loss is a plain function of (targets, outputs): Keras's `compile` takes it as is.

# %%
def grid_loss(y_true, y_pred):
    return detection.yolo_loss(y_true, y_pred, B)


reset_keras(0)
detector = detection.build_grid_detector(SIZE, 1, S, B, C)
detector.compile(optimizer=keras.optimizers.Adam(3e-3), loss=grid_loss, run_eagerly=QUICK)
detector.optimizer.build(detector.trainable_variables)  # avoids tracing train_step twice
history = detector.fit(train["images"], targets, batch_size=32, epochs=1 if QUICK else 30,
                       verbose=0, callbacks=tensorboard_callbacks(out / "tensorboard" / "detector"))
grid = np.asarray(detector(test["images"], training=False))
terms = detection.yolo_loss_terms(
    detection.encode_batch(test["boxes"], test["labels"], S, ANCHORS, C), grid, B)
print("held-out loss terms:", {k: round(float(v), 3) for k, v in terms.items()})

# %% [markdown]
# ## Decoding, then non-max suppression
#
# Every slot is a candidate box; most have a low score. Several slots may find the same
# shape: NMS keeps the best-scoring box of each cluster of the same class.

# %%
decoded = [detection.decode_predictions(g, B, score_threshold=0.05) for g in grid]
kept = [detection.non_max_suppression(b, s, c, 0.5) for b, s, c in decoded]
figure, axes = plt.subplots(2, 4, figsize=(8, 4))
for i in range(4):
    b, s, c = decoded[i]
    draw(axes[0, i], test["images"][i], b, c, s)
    draw(axes[1, i], test["images"][i], b[kept[i]], c[kept[i]], s[kept[i]])
axes[0, 0].set_ylabel("decoded")
axes[1, 0].set_ylabel("after NMS")
save_figure(figure, out / "detections.png")
plt.close(figure)

# %% [markdown]
# ## Mean average precision
#
# Each class's detections by decreasing score give a precision-recall curve; AP is the area
# under its envelope (all-point interpolation), mAP the mean over the classes.

# %%
pred = [(b[k], s[k], c[k]) for (b, s, c), k in zip(decoded, kept)]
truth_boxes = [test["boxes"][i, :n] for i, n in enumerate(test["counts"])]
truth_classes = [test["labels"][i, :n] for i, n in enumerate(test["counts"])]
mean_ap, aps = detection.mean_average_precision([p[0] for p in pred], [p[1] for p in pred],
                                                [p[2] for p in pred], truth_boxes,
                                                truth_classes, C)
print(f"mAP@0.5 {mean_ap:.3f}; per class", dict(zip(SHAPE_CLASSES, np.round(aps, 3))))
figure, axis = plt.subplots(figsize=(4, 3.5))
for c in range(C):
    found = sorted(((s, i, j) for i, (b, sc, cl) in enumerate(pred)
                    for j, s in enumerate(sc) if cl[j] == c), key=lambda item: -item[0])
    hits, taken = [], [np.zeros(len(t), bool) for t in truth_boxes]
    for _, i, j in found:
        mask = truth_classes[i] == c
        overlaps = detection.pairwise_iou(pred[i][0][j:j + 1], truth_boxes[i])[0] * mask
        best = int(np.argmax(overlaps)) if len(overlaps) else 0
        hit = len(overlaps) > 0 and overlaps[best] >= 0.5 and not taken[i][best]
        if hit:
            taken[i][best] = True
        hits.append(hit)
    tp = np.cumsum(hits)
    total = sum(int(np.sum(t == c)) for t in truth_classes)
    if len(tp):
        axis.plot(tp / total, tp / np.arange(1, len(tp) + 1), color=COLOURS[c],
                  label=f"{SHAPE_CLASSES[c]} AP {aps[c]:.2f}")
axis.set_xlabel("recall")
axis.set_ylabel("precision")
axis.legend(fontsize=7)
save_figure(figure, out / "precision_recall.png")
plt.close(figure)

# %% [markdown]
# ## Receptive fields of dilated convolutions
#
# The gradient of the centre output of three stacked 3x3 convolutions with respect to the
# input is non-zero on its receptive field: 7 pixels wide at rates (1, 1, 1), 15 at
# (1, 2, 4). `receptive_field` computes the width.

# %%
fields = []
for rates in ((1, 1, 1), (1, 2, 4)):
    stack = keras.Sequential([keras.Input((21, 21, 1))] + [
        keras.layers.Conv2D(1, 3, padding="same", dilation_rate=r, use_bias=False,
                            kernel_initializer="ones") for r in rates])
    x = tf.Variable(tf.zeros((1, 21, 21, 1)))
    with tf.GradientTape() as tape:
        centre = stack(x)[0, 10, 10, 0]
    fields.append(np.asarray(tape.gradient(centre, x)[0] != 0, "float32"))
    print(f"rates {rates}: receptive field {segmentation.receptive_field((3, 3, 3), rates)}"
          f" pixels, gradient non-zero over {int(fields[-1][10].sum())}")
save_image_grid(np.stack(fields), out / "receptive_fields.png",
                title="receptive field: rates (1, 1, 1) and (1, 2, 4)")
kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 2)).astype("float32")
layer = keras.layers.Conv2D(2, 3, padding="same", dilation_rate=2, use_bias=False)
layer.build((None, SIZE, SIZE, 1))
layer.kernel.assign(kernel)
print("max |atrous_conv2d - Conv2D(dilation_rate=2)| =", float(np.abs(
    segmentation.atrous_conv2d(test["images"][:4], kernel, rate=2)
    - np.asarray(layer(test["images"][:4]))).max()))

# %% [markdown]
# ## Textured backgrounds: a threshold fails, a U-Net with ASPP does not
#
# The best global brightness threshold is chosen on the training images; the U-Net with
# your ASPP bottleneck learns to tell flat shapes from the texture.

# %%
def mean_iou(predicted, true):
    inter = np.sum(predicted & (true > 0.5), axis=(1, 2, 3))
    union = np.sum(predicted | (true > 0.5), axis=(1, 2, 3))
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


SEG = 16
seg_train = make_shapes(96 if QUICK else 4096, size=SEG, seed=3, texture=0.7)
seg_test = make_shapes(32 if QUICK else 1024, size=SEG, seed=4, texture=0.7)
thresholds = np.linspace(0.05, 0.95, 19)
best = max(thresholds, key=lambda t: mean_iou(seg_train["images"] > t, seg_train["masks"]))
baseline = mean_iou(seg_test["images"] > best, seg_test["masks"])
reset_keras(0)
unet = segmentation.build_aspp_unet(SEG, 1, base_filters=8)
segmentation.compile_segmenter(unet, 1e-2)
unet.run_eagerly = QUICK
unet.fit(seg_train["images"], seg_train["masks"], batch_size=32, epochs=1 if QUICK else 20,
         verbose=0, callbacks=tensorboard_callbacks(out / "tensorboard" / "aspp_unet"))
masks = np.asarray(unet(seg_test["images"], training=False)) > 0
print(f"threshold {best:.2f}: mean IoU {baseline:.3f}; ASPP U-Net: mean IoU "
      f"{mean_iou(masks, seg_test['masks']):.3f}")
save_image_grid(np.concatenate([seg_test["images"][:8], seg_test["masks"][:8],
                                (seg_test["images"][:8] > best).astype("float32"),
                                masks[:8].astype("float32")]), out / "textured_segmentation.png",
                title="textured shapes, true masks, best threshold, ASPP U-Net")
