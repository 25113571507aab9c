# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 5 companion: convolutions by hand, then CNNs that classify, segment and detect
#
# This notebook uses `convolution.py` (convolution, transposed convolution and pooling in
# numpy) and `networks.py` (IoU, a residual block, a small ResNet, a U-Net and a detector).
# Every figure is a PNG under `outputs/lab05_cnn/`; the TensorBoard logs go next to them
# (`tensorboard --logdir outputs/lab05_cnn`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import SHAPE_CLASSES, make_shapes
from dlkit.plots import save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before networks.py imports it
tf = backend.tensorflow()

import convolution  # noqa: E402  (the graded modules, next to this file)
import networks  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"  # tiny budgets, eager steps: seconds in all
reset_keras(0)
out = run_dir("lab05_cnn", "quick" if QUICK else "full")

# %% [markdown]
# ## The data: one procedural shape per image
#
# A circle, square or triangle at a random place, size and angle. One draw gives the class
# (classification), the mask (segmentation) and the box (detection). 16x16 grey images keep
# every model here trainable on a laptop CPU in seconds.

# %%
SIZE = 16
train = make_shapes(128 if QUICK else 4096, size=SIZE, seed=1)
test = make_shapes(256 if QUICK else 1024, size=SIZE, seed=2)
print({key: value.shape for key, value in train.items()})
save_image_grid(np.concatenate([test["images"][:8], test["masks"][:8]]), out / "data.png",
                title="shapes (top) and their masks (bottom)")

# %% [markdown]
# ## Convolution by hand equals Conv2D
#
# `conv2d` pads, cuts the image into windows (`im2col`) and multiplies them by the kernel
# as one matrix. With Keras's kernel copied in, it gives Keras's numbers. Two hand-made
# kernels show what a filter does: vertical and horizontal edges (Sobel).

# %%
sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype="float32")
kernel = np.stack([sobel, sobel.T], axis=-1)[:, :, None, :]  # (3, 3, 1, 2)
layer = keras.layers.Conv2D(2, 3, padding="same", use_bias=False)
layer.build((None, SIZE, SIZE, 1))
layer.kernel.assign(kernel)
by_hand = convolution.conv2d(test["images"][:8], kernel, padding="same")
by_keras = np.asarray(layer(test["images"][:8]))
print("max |conv2d - Conv2D| =", float(np.abs(by_hand - by_keras).max()))
edges = np.abs(by_hand) / np.abs(by_hand).max()
save_image_grid(np.concatenate([test["images"][:8], edges[..., :1], edges[..., 1:]]),
                out / "sobel_edges.png", title="images, |vertical edges|, |horizontal edges|")

# %% [markdown]
# ## Equivariance, and where it breaks
#
# Shifting the input of a stride-1 convolution shifts its output by the same amount. A
# stride-2 convolution only commutes with even shifts: an odd shift lands the object
# between the output grid's points. Global pooling then forgets the position entirely.

# %%
rng = np.random.default_rng(0)
image = test["images"][:1]
random_kernel = rng.normal(size=(3, 3, 1, 4)).astype("float32")
shifted = np.roll(image, (1, 1), axis=(1, 2))
maps = {}
for stride in (1, 2):
    a = convolution.conv2d(image, random_kernel, strides=stride, padding="same")
    b = convolution.conv2d(shifted, random_kernel, strides=stride, padding="same")
    maps[stride] = a, b
    # A 1-pixel shift should move a stride-1 map by 1 pixel, and a stride-2 map by half a
    # pixel, which its grid cannot represent: compare with the unshifted map there.
    moved = np.roll(a, (1, 1), axis=(1, 2)) if stride == 1 else a
    print(f"stride {stride}: max |conv(shifted x) - shifted conv(x)| = "
          f"{float(np.abs(b - moved)[:, 2:-2, 2:-2].max()):.3f} (away from the border)")
a, b = maps[1]
whole = tuple(a.shape[1:3])
print("global max pooling of the stride-1 maps, original vs shifted image:")
print(np.round(convolution.max_pool2d(a, whole).ravel(), 3),
      np.round(convolution.max_pool2d(b, whole).ravel(), 3))

# %% [markdown]
# ## The transposed convolution is the gradient of the convolution
#
# For y = conv(x), the gradient of sum(y * g) with respect to x is conv_transpose(g) with
# the same kernel: it sends each output value back to the window it came from. With stride
# 2 it doubles the resolution, which is why decoders (U-Net, DCGAN) use it to upsample.

# %%
x = tf.constant(rng.normal(size=(1, 8, 8, 2)).astype("float32"))
k = rng.normal(size=(3, 3, 2, 3)).astype("float32")
g = rng.normal(size=(1, 4, 4, 3)).astype("float32")
with tf.GradientTape() as tape:
    tape.watch(x)
    loss = tf.reduce_sum(tf.nn.conv2d(x, k, strides=2, padding="SAME") * g)
gradient = tape.gradient(loss, x)
print("max |conv_transpose2d(g) - d/dx sum(conv2d(x) * g)| =",
      float(np.abs(convolution.conv_transpose2d(g, k, strides=2, padding="same") - gradient).max()))
pooled = convolution.max_pool2d(test["images"][:8], 2)
averaged = convolution.avg_pool2d(test["images"][:8], 2)
save_image_grid(np.concatenate([pooled, averaged]), out / "pooling.png",
                title="2x2 max pooling (top), average pooling (bottom)")

# %% [markdown]
# ## A small ResNet classifies the shapes
#
# A stem, two stages of residual blocks (the second halves the resolution through its
# projection shortcut), global average pooling and a Dense head. The fit logs to
# TensorBoard.

# %%
reset_keras(0)
resnet = networks.small_resnet((SIZE, SIZE, 1), num_classes=3, widths=(16, 32),
                               blocks_per_stage=1 if QUICK else 2)
resnet.compile(optimizer=keras.optimizers.Adam(3e-3),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
               metrics=["accuracy"], run_eagerly=QUICK)
resnet.optimizer.build(resnet.trainable_variables)  # avoids tracing train_step twice
history = resnet.fit(train["images"], train["labels"], batch_size=64,
                     epochs=1 if QUICK else 12, verbose=0,
                     validation_split=0.0 if QUICK else 0.1,
                     callbacks=tensorboard_callbacks(out / "tensorboard" / "resnet"))
logits = resnet(test["images"], training=False)
print(f"small ResNet: test accuracy {np.mean(np.argmax(logits, -1) == test['labels']):.1%}")
save_loss_curves(history.history, out / "resnet_curves.png", title="small ResNet")

# %% [markdown]
# ## A U-Net segments them
#
# The encoder pools down to coarse features that know *what* the shape is; the decoder
# upsamples with transposed convolutions and takes back the fine detail of *where* its
# edges are from the skip connections. Scored by the mean IoU of the predicted masks.

# %%
reset_keras(0)
unet = networks.build_unet(size=SIZE, channels=1, base_filters=8, depth=1 if QUICK else 2)
networks.compile_unet(unet, 3e-3)
unet.run_eagerly = QUICK  # a few eager steps cost less than tracing the training graph
unet.fit(train["images"], train["masks"], batch_size=32, epochs=1 if QUICK else 15, verbose=0,
         callbacks=tensorboard_callbacks(out / "tensorboard" / "unet"))
predicted_masks = np.asarray(unet(test["images"], training=False)) > 0
print(f"U-Net: mean IoU {networks.mask_iou(predicted_masks, test['masks']).mean():.3f} "
      "on held-out shapes")
save_image_grid(np.concatenate([test["images"][:8], test["masks"][:8], predicted_masks[:8]]),
                out / "unet_masks.png", title="images, true masks, U-Net masks")

# %% [markdown]
# ## A detector finds and names them
#
# One shared backbone, two heads: a box (four sigmoid coordinates) trained with a squared
# error, and a class trained with cross-entropy. Boxes are scored by IoU with the truth.

# %%
def draw_boxes(images, boxes, value=1.0):
    """Copies of grey images with each box's outline drawn in: (N, H, W, 1)."""
    drawn = np.array(images, copy=True)
    size = drawn.shape[1]
    for image, (y0, x0, y1, x1) in zip(drawn, np.clip(boxes, 0, 1)):
        top, left = int(y0 * size), int(x0 * size)
        bottom = max(int(np.ceil(y1 * size)) - 1, top)
        right = max(int(np.ceil(x1 * size)) - 1, left)
        image[top:bottom + 1, [left, right]] = value
        image[[top, bottom], left:right + 1] = value
    return drawn


reset_keras(0)
detector = networks.build_detector(size=SIZE, channels=1, num_classes=3)
networks.compile_detector(detector, 3e-3)
detector.run_eagerly = QUICK
detector.fit(train["images"], {"boxes": train["boxes"], "labels": train["labels"]},
             batch_size=32, epochs=1 if QUICK else 30, verbose=0)
predicted = detector(test["images"], training=False)
boxes, classes = np.asarray(predicted["boxes"]), np.asarray(predicted["labels"]).argmax(-1)
print(f"detector: mean box IoU {networks.box_iou(boxes, test['boxes']).mean():.3f}, "
      f"class accuracy {np.mean(classes == test['labels']):.1%}")
save_image_grid(draw_boxes(test["images"][:16] * 0.6, boxes[:16]), out / "detections.png",
                titles=[SHAPE_CLASSES[c] for c in classes[:16]],
                title="predicted boxes and classes")

# %% [markdown]
# ## Every model saves and reloads as .keras
#
# The residual block is a registered Keras layer with a `get_config`, so a model holding
# it reloads with the same outputs.

# %%
path = out / "resnet.keras"
resnet.save(path)
reloaded = keras.saving.load_model(path)
difference = np.asarray(reloaded(test["images"][:8])) - np.asarray(resnet(test["images"][:8]))
print("max |reloaded - original| =", float(np.abs(difference).max()))
