"""Public checks of lab05_cnn, part 2: networks.py.

The IoU checks compare with the reference's outputs. The networks get their weights from
the check (the residual block by its attribute names, the models by their weights' order
or shapes), so their outputs must match the reference's exactly; the structure checks
compare the layers that hold weights and save and reload the models. The training checks
train for a fixed budget and score with library IoUs (Keras's box IoU, scikit-learn's
Jaccard index for masks), never the student's: a wrong IoU neither fails nor flatters a
trained model. compile_detector is judged on a model the check builds, the detector's
training on the check's own loss and training loop. small_resnet is built from the check's
stand-in ResidualBlock (one strided convolution and a ReLU).
"""
import json
import traceback

import numpy as np
from scipy.special import softmax

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab05_cnn.probes import (
    ACCURACY_MARGIN,
    BOX_IOU_MARGIN,
    DETECTOR_TRAIN,
    NETS,
    UNET_MARGIN,
    UNET_TRAIN,
    assign_weights_by_shape,
    detector_probe,
    judge_layers,
    judge_logits,
    judge_residual_block,
    judge_round_trip,
    random_boxes,
    residual_block_probe,
    round_trip,
    small_resnet_on_stand_in_block,
    unet_probe,
    weight_layers,
)
from autograder.verdicts import (
    expect_at_least,
    expect_close,
    expect_equal,
    expect_shape,
    expect_true,
)

# ---------------------------------------------------------------------------------------------
# 6. Intersection over union
# ---------------------------------------------------------------------------------------------


@check(points=1, uses=NETS, task="`box_iou`",
       hint="intersection: between the larger mins and the smaller maxes, sides clipped at 0; "
            "union = area_a + area_b - intersection")
def box_iou(lab, rng):
    """IoU of disjoint, identical, nested, edge- and corner-touching pairs of boxes, and of
    12 random pairs."""
    a, b = random_boxes(rng, 12), random_boxes(rng, 12)
    special_a = np.array([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0],
                          [0.2, 0.2, 0.4, 0.6], [0.0, 0.0, 0.5, 0.5]], dtype="float32")
    special_b = np.array([[0.6, 0.6, 0.9, 0.9], [0.1, 0.1, 0.5, 0.5], [0.25, 0.25, 0.5, 0.75],
                          [0.4, 0.2, 0.8, 0.6], [0.5, 0.5, 1.0, 1.0]], dtype="float32")
    return {"random": lab.networks.box_iou(a, b),
            "special": lab.networks.box_iou(special_a, special_b)}


@box_iou.verdict
def _(student, reference):
    expect_close(student["special"], reference["special"], "box_iou on (disjoint, identical, "
                 "nested, edge-touching, corner-touching) pairs")
    expect_close(student["random"], reference["random"], "box_iou on 12 random pairs")


@check(points=1, uses=NETS, task="`mask_iou`",
       hint="per image: pixels in both / pixels in either (1 when both masks are empty)")
def mask_iou(lab, rng):
    """IoU of 6 pairs of 9x9 masks, the first pair both empty, the second identical."""
    a = (rng.random(size=(6, 9, 9, 1)) < 0.4).astype("float32")
    b = (rng.random(size=(6, 9, 9, 1)) < 0.4).astype("float32")
    a[0], b[0] = 0.0, 0.0
    b[1] = a[1]
    return {"iou": lab.networks.mask_iou(a, b)}


@mask_iou.verdict
def _(student, reference):
    expect_close(student["iou"], reference["iou"], "mask_iou on 6 pairs of 9x9 masks (the first "
                 "pair both empty, the second identical)")


# ---------------------------------------------------------------------------------------------
# 7-8. Residual block and small ResNet
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=NETS, task="`ResidualBlock.call`",
       hint="relu(norm2(conv2(relu(norm1(conv1(x))))) + x): the identity shortcut when the "
            "shape does not change")
def residual_block_identity_shortcut(lab, rng):
    """A block that keeps the shape (5 channels, stride 1), with the check's weights: its
    output in inference mode."""
    return residual_block_probe(lab, rng, n=2, size=6, channels=5, filters=5, strides=1)


residual_block_identity_shortcut.verdict(judge_residual_block)


@check(points=2, uses=NETS, task="`ResidualBlock.build`, `.call`",
       hint="a projection shortcut (1x1 conv with the block's strides, then BN) whenever "
            "strides > 1 OR the channel count changes")
def residual_block_projection_shortcut(lab, rng):
    """A downsampling block (stride 2) and a widening one (3 to 4 channels), with the
    check's weights: a projection shortcut and the output in inference mode."""
    return {"downsampling": residual_block_probe(lab, rng, n=2, size=7, channels=3, filters=6,
                                                 strides=2),
            "widening": residual_block_probe(lab, rng, n=2, size=5, channels=3, filters=4,
                                             strides=1)}


@residual_block_projection_shortcut.verdict
def _(student, reference):
    judge_residual_block(student["downsampling"], reference["downsampling"])
    judge_residual_block(student["widening"], reference["widening"])


@check(points=1, uses=NETS, reference=False, task="`ResidualBlock`",
       hint="get_config must return filters and strides (and super().get_config()); build "
            "must create the same sublayers when Keras rebuilds the block")
def residual_block_saves_and_reloads(lab, rng):
    """A model holding a `ResidualBlock(4, strides=2)` reloads from `.keras` with the same
    outputs."""
    import keras
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, lab.networks.ResidualBlock(4, strides=2)(inputs))
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    return round_trip(lab, model, x, "residual_block")


@residual_block_saves_and_reloads.verdict
def _(student, _reference):
    judge_round_trip(student, "model holding a ResidualBlock(4, strides=2)")


RESNET = "small_resnet((16, 16, 1), 3, widths=(4, 8, 8), blocks_per_stage=2)"


def _resnet(lab):
    return small_resnet_on_stand_in_block(lab, (16, 16, 1), num_classes=3, widths=(4, 8, 8),
                                         blocks_per_stage=2)


@check(points=1, uses=NETS, task="`small_resnet`",
       hint="one stage per width, the first block of every later stage with strides 2; "
            "GlobalAveragePooling2D, then Dense(num_classes)")
def small_resnet_structure(lab, rng):
    """Built from the check's stand-in `ResidualBlock` (one strided 3x3 convolution and a
    ReLU): the layers that hold weights, their output shapes and the parameter count match
    the reference's on the same stand-in, and the model reloads from `.keras`."""
    model = _resnet(lab)
    x = rng.random(size=(3, 16, 16, 1)).astype("float32")
    return {"layers": weight_layers(model), "params": model.count_params(),
            "round_trip": round_trip(lab, model, x, "small_resnet")}


@small_resnet_structure.verdict
def _(student, reference):
    judge_layers(student["layers"], reference["layers"], RESNET)
    expect_equal(student["params"], reference["params"], f"the parameter count of {RESNET}")
    judge_round_trip(student["round_trip"], RESNET)


@check(points=1, uses=NETS, task="`small_resnet`",
       hint="the head averages every channel over all positions (GlobalAveragePooling2D) and "
            "maps that to logits with Dense(num_classes) and no activation")
def small_resnet_outputs(lab, rng):
    """Built from the check's stand-in `ResidualBlock`, with the check's weights: the head is
    global *average* pooling of the last block's features then a Dense layer of logits (no
    softmax), and the outputs match the reference's."""
    import keras
    model = _resnet(lab)
    assign_random_weights(model, rng, scale=0.4)
    x = rng.normal(size=(4, 16, 16, 1)).astype("float32")
    blocks = [layer for layer in model.layers if type(layer).__name__ == "ResidualBlock"]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    result = {"logits": model(x, training=False), "features": np.zeros(0, "float32")}
    if blocks and dense:
        features = keras.Model(model.inputs, blocks[-1].output)(x, training=False)
        kernel, bias = dense[-1].get_weights()
        result.update(features=features, kernel=kernel, bias=bias)
    return result


@small_resnet_outputs.verdict
def _(student, reference):
    what = f"{RESNET}(x) with the check's weights"
    logits = np.asarray(student["logits"], dtype=np.float64)
    features = np.asarray(student["features"], dtype=np.float64)
    if features.ndim == 4 and logits.shape == (len(features), 3):
        kernel = np.asarray(student["kernel"], np.float64)
        head = {"average": features.mean(axis=(1, 2)) @ kernel + student["bias"],
                "max": features.max(axis=(1, 2)) @ kernel + student["bias"]}
        if not np.allclose(logits, head["average"], rtol=1e-3, atol=1e-4) and \
                np.allclose(logits, head["max"], rtol=1e-3, atol=1e-4):
            raise CheckFailed(f"{what} pools the last block's features with a global MAX: "
                              "the head averages each channel over all positions "
                              "(GlobalAveragePooling2D)")
        judge_logits(logits, head["average"], what, "the Dense(num_classes) head", rtol=1e-3,
                     atol=1e-4, against="Dense(global average pooling of the last block's "
                                        "features)")
    judge_logits(logits, reference["logits"], what, "the Dense(num_classes) head")


# ---------------------------------------------------------------------------------------------
# 9. U-Net
# ---------------------------------------------------------------------------------------------

UNET = "build_unet(size=16, channels=1, base_filters=4, depth=2)"


@check(points=1, uses=NETS, task="`build_unet`",
       hint="encoder: conv_block, keep the skip, MaxPooling2D(2); decoder from the deepest "
            "level up: Conv2DTranspose(filters, 2, strides=2), Concatenate with that level's "
            "skip, conv_block")
def unet_structure(lab, rng):
    """A depth-2 U-Net: its output shape, one Concatenate per level, the layers that hold
    weights and their output shapes, and a `.keras` round trip."""
    try:
        model = lab.networks.build_unet(size=16, channels=1, base_filters=4, depth=2)
    except (ValueError, TypeError) as error:  # Keras's own shape errors: the message goes back
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if f.filename.endswith("networks.py")]
        where = f"networks.py:{frames[-1].lineno}: " if frames else ""
        return {"error": f"{where}{type(error).__name__}: {error}"[:400]}
    x = rng.random(size=(2, 16, 16, 1)).astype("float32")
    return {"error": "", "layers": weight_layers(model), "output_shape": list(np.shape(model(x))),
            "concatenations": sum(type(layer).__name__ == "Concatenate" for layer in model.layers),
            "round_trip": round_trip(lab, model, x, "unet")}


@unet_structure.verdict
def _(student, reference):
    if student["error"]:
        raise CheckFailed(f"{UNET} failed to build: {student['error']} (the decoder goes from "
                          "the deepest level up, level = depth-1 .. 0, and joins each level's "
                          "own skip, of the same resolution)")
    expect_equal(student["output_shape"], reference["output_shape"],
                 f"the output shape of {UNET} on (2, 16, 16, 1) images")
    expect_true(student["concatenations"] == reference["concatenations"],
                f"{UNET} has {student['concatenations']} Concatenate layers; a U-Net joins each "
                f"of its {reference['concatenations']} levels' skip to the decoder")
    judge_layers(student["layers"], reference["layers"], UNET)
    judge_round_trip(student["round_trip"], UNET)


@check(points=3, timeout=40, uses=NETS, task="`build_unet`",
       hint="a U-Net trained as the handout says must segment held-out shapes about as well as "
            "the reference (mean IoU within 0.12)")
def unet_segments_shapes(lab, rng):
    """A depth-1 U-Net (with the reference's layers) trained for the budget below reaches
    the reference's mean mask IoU on held-out shapes minus 0.12."""
    return unet_probe(lab, rng, UNET_TRAIN)


@unet_segments_shapes.verdict
def _(student, reference):
    # A 1x1 convolution of the image alone segments these bright shapes: only a U-Net
    # scores here.
    judge_layers(student["layers"], reference["layers"], "the depth-1 U-Net of build_unet(size=16, "
                 "channels=1, base_filters=8, depth=1), before training")
    expect_equal(student["shape"], reference["shape"], "the U-Net's logits on the test images")
    expect_at_least(student["mean_iou"], reference["mean_iou"] - UNET_MARGIN,
                    f"the mean IoU of the trained U-Net's masks (logit > 0) on held-out shapes "
                    f"(pixel accuracy {student['pixel_accuracy']:.1%}; the reference reaches "
                    f"IoU {reference['mean_iou']:.3f})")


# ---------------------------------------------------------------------------------------------
# 10. Single-object detector
# ---------------------------------------------------------------------------------------------

# Filters, hidden units and classes chosen so that no two weights share a shape: the check's
# weights then do not depend on the order in which the heads were created.
DETECTOR = "build_detector(size=16, channels=1, num_classes=5, filters=(6, 8), hidden=16)"


@check(points=2, uses=NETS, task="`build_detector`",
       hint='the model returns a dict {"boxes": (N, 4) through a sigmoid, "labels": '
            '(N, num_classes) logits, no activation}, and saves as .keras')
def detector_outputs(lab, rng):
    """With the check's weights, the model returns {"boxes": (N, 4) in [0, 1] through a
    sigmoid, "labels": (N, 5) logits} equal to the reference's, and reloads from
    `.keras`."""
    model = lab.networks.build_detector(size=16, channels=1, num_classes=5, filters=(6, 8),
                                        hidden=16)
    assign_weights_by_shape(model, int(rng.integers(1 << 30)), scale=0.5)
    x = rng.random(size=(6, 16, 16, 1)).astype("float32")
    outputs = model(x)
    if not isinstance(outputs, dict):
        return {"keys": f"not a dict but a {type(outputs).__name__}"}
    keys = sorted(outputs)
    result = {"keys": json.dumps(keys), "layers": weight_layers(model)}
    if keys == ["boxes", "labels"]:
        result.update(boxes=outputs["boxes"], labels=outputs["labels"],
                      round_trip=round_trip(lab, model, x, "detector"))
    return result


@detector_outputs.verdict
def _(student, reference):
    expect_true(student["keys"] == reference["keys"],
                f"{DETECTOR} returns outputs {student['keys']}, expected a dict with keys "
                f"{reference['keys']}")
    judge_layers(student["layers"], reference["layers"], DETECTOR)
    boxes = expect_shape(student["boxes"], (6, 4), f"the 'boxes' output of {DETECTOR}")
    expect_true(np.all((boxes >= 0) & (boxes <= 1)), f"the 'boxes' output of {DETECTOR} leaves "
                f"[0, 1] (min {boxes.min():.3g}, max {boxes.max():.3g}): end the box head with "
                "a sigmoid")
    expect_close(boxes, reference["boxes"], f"the 'boxes' output of {DETECTOR} with the check's "
                 "weights")
    judge_logits(student["labels"], reference["labels"],
                 f"the 'labels' output of {DETECTOR} with the check's weights",
                 "the 'labels' Dense")
    judge_round_trip(student["round_trip"], DETECTOR)


def _mean_squared_error(predicted, true):
    """scikit-learn's mean squared error over every coordinate of every box."""
    from sklearn.metrics import mean_squared_error
    return float(mean_squared_error(np.ravel(true), np.ravel(np.asarray(predicted, np.float64))))


def _cross_entropy(logits, labels):
    """scikit-learn's log loss of the softmax of the logits."""
    from sklearn.metrics import log_loss
    logits = np.asarray(logits, np.float64)
    return float(log_loss(labels, softmax(logits, axis=1), labels=np.arange(logits.shape[1])))


def _cross_entropy_of_probabilities(logits, labels):
    """What Keras's cross-entropy without from_logits makes of logits: clipped to
    [1e-7, 1 - 1e-7], then renormalised to sum 1."""
    rows = np.clip(np.asarray(logits, np.float64), 1e-7, 1 - 1e-7)
    rows = rows / rows.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(rows[np.arange(len(labels)), labels])))


@check(points=2, uses=NETS, task="`compile_detector`",
       hint="loss={'boxes': MeanSquaredError(), 'labels': SparseCategoricalCrossentropy("
            "from_logits=True)}, loss_weights={'boxes': box_weight, 'labels': 1}, "
            "optimizer=Adam(learning_rate)", eager=True)
def compile_detector_losses(lab, rng):
    """On a model of the check's (a sigmoid "boxes" head, a "labels" head of logits),
    `compile_detector(model, 0.01, box_weight=7)` uses Adam at 0.01, the mean squared error
    on the boxes, the cross-entropy of the logits on the labels, the box loss weighted 7,
    and one training step lands on the reference's weights."""
    import keras
    inputs = keras.Input((6, 6, 1))
    features = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, {
        "boxes": keras.layers.Dense(4, activation="sigmoid", name="boxes")(features),
        "labels": keras.layers.Dense(5, name="labels")(features)})
    assign_random_weights(model, rng, scale=0.5)
    x = rng.normal(size=(16, 6, 6, 1)).astype("float32")
    y = {"boxes": rng.random((16, 4)).astype("float32"),
         "labels": rng.integers(0, 5, size=16).astype("int32")}
    lab.networks.compile_detector(model, learning_rate=0.01, box_weight=7.0)
    if not model.compiled:
        return {"compiled": False}
    predicted = model(x)
    losses = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    model.train_on_batch(x, y)
    optimizer = model.optimizer
    return {"compiled": True, "boxes": predicted["boxes"], "logits": predicted["labels"],
            "true_boxes": y["boxes"], "labels": y["labels"], "loss": float(losses["loss"]),
            "optimizer": type(optimizer).__name__,
            "learning_rate": float(np.asarray(optimizer.learning_rate)),
            "weights": np.concatenate([np.ravel(w) for w in model.trainable_weights])}


@compile_detector_losses.verdict
def _(student, reference):
    call = "compile_detector(model, learning_rate=0.01, box_weight=7.0)"
    expect_true(student["compiled"], f"{call} left the model uncompiled: call model.compile("
                "optimizer=..., loss=..., loss_weights=...)")
    expect_true(student["optimizer"] == "Adam", f"{call} compiles with {student['optimizer']}, "
                "expected Adam")
    expect_true(np.isclose(student["learning_rate"], 0.01), f"{call} compiles with a learning "
                f"rate of {student['learning_rate']:.4g}: pass learning_rate to Adam")
    boxes = _mean_squared_error(student["boxes"], student["true_boxes"])
    labels = _cross_entropy(student["logits"], np.asarray(student["labels"]))
    loss = student["loss"]
    if np.isclose(loss, boxes + labels, rtol=1e-4):
        raise CheckFailed(f"{call}: the compiled loss is box loss + class loss ({loss:.5g}); "
                          "weight the box loss by box_weight (loss_weights)")
    if np.isclose(loss, 7.0 * boxes + _cross_entropy_of_probabilities(
            student["logits"], np.asarray(student["labels"])), rtol=1e-4):
        raise CheckFailed(f"{call}: the class loss reads the logits as probabilities: "
                          "SparseCategoricalCrossentropy(from_logits=True)")
    expect_close(loss, 7.0 * boxes + labels, f"the compiled loss of {call} on a batch",
                 rtol=1e-4, against="7 * (mean squared error of the boxes) + (cross-entropy "
                                    "of the label logits, from_logits=True)")
    expect_close(student["weights"], reference["weights"], f"the weights after one "
                 f"train_on_batch step of a model compiled by {call}", rtol=1e-3, atol=1e-5)


@check(points=3, timeout=40, uses=NETS, task="`build_detector`",
       hint="trained as the handout says, the detector's boxes and classes must be about as "
            "good as the reference's: check its heads (a sigmoid on the boxes, logits for the "
            "labels, both on the shared features)")
def detector_localises_and_classifies(lab, rng):
    """The detector, trained by the check's own loop on the handout's loss for the budget
    below, reaches the reference's box IoU minus 0.08 and its class accuracy minus 15
    points."""
    return detector_probe(lab, rng, DETECTOR_TRAIN)


@detector_localises_and_classifies.verdict
def _(student, reference):
    expect_at_least(student["mean_box_iou"], reference["mean_box_iou"] - BOX_IOU_MARGIN,
                    f"the mean IoU of the trained detector's boxes with the true boxes on "
                    f"held-out shapes (the reference reaches {reference['mean_box_iou']:.3f})")
    expect_at_least(100 * student["accuracy"], 100 * (reference["accuracy"] - ACCURACY_MARGIN),
                    f"the trained detector's class accuracy on held-out shapes (the reference "
                    f"reaches {reference['accuracy']:.1%})", unit=" %")
