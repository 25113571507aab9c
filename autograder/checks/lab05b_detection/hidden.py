"""Hidden checks of lab05b_detection: the same functions on fresh inputs and other sizes
(8x8 grids with 3 anchors, other thresholds and rates); references from the solution, or
from the independent references of probes.py where the check says reference=False."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab05b_detection.probes import (
    DET,
    SEG,
    brute_force_map,
    detections_table,
    grid_point_best_anchor,
    library_iou,
    random_boxes,
    random_grid_targets,
    tensorflow_nms,
)
from autograder.verdicts import expect_close, expect_equal, expect_true

ANCHORS_3 = np.array([[0.125, 0.125], [0.25, 0.125], [0.25, 0.25]])


@check(points=1, uses=DET, hint="pairwise_iou and best_anchor on fresh boxes and anchors")
def iou_and_anchors_fresh(lab, rng):
    a, b = random_boxes(rng, int(rng.integers(2, 12))), random_boxes(rng, int(rng.integers(2, 12)))
    sizes = np.round(rng.uniform(0.05, 0.6, size=(30, 2)) * 256) / 256
    return {"iou": lab.detection.pairwise_iou(a, b), "keras": library_iou(a, b),
            "slots": np.asarray(lab.detection.best_anchor(sizes, ANCHORS_3)),
            "expected_slots": grid_point_best_anchor(sizes, ANCHORS_3)}


@iou_and_anchors_fresh.verdict
def _(student, reference):
    expect_close(student["iou"], student["keras"], "pairwise_iou on fresh boxes", atol=1e-5,
                 against="keras.utils.bounding_boxes.compute_iou")
    expect_true(np.array_equal(student["slots"], student["expected_slots"]),
                f"best_anchor on 30 fresh sizes, 3 anchors: {student['slots'].tolist()}, "
                f"expected {student['expected_slots'].tolist()}")


# A square, a tall and a wide anchor (height, width), about the size of the drawn shapes.
ENCODE_ANCHORS_3 = np.array([[0.2, 0.2], [0.45, 0.25], [0.25, 0.45]])


@check(points=1, uses=DET, hint="encode_targets on an 8x8 grid with a square, a tall and a wide "
                                "anchor; best_anchor takes sizes as (height, width)")
def encode_targets_fresh(lab, rng):
    from dlkit.data import make_multi_shapes
    drawn = make_multi_shapes(6, size=64, seed=int(rng.integers(1 << 20)))
    with standing_in(lab.detection, best_anchor=grid_point_best_anchor):
        targets = [lab.detection.encode_targets(b, c, 8, ENCODE_ANCHORS_3, 3)
                   for b, c in zip(drawn["boxes"], drawn["labels"])]
    return {"targets": np.stack([np.asarray(t, "float32") for t in targets])}


@encode_targets_fresh.verdict
def _(student, reference):
    expect_close(student["targets"], reference["targets"], "encode_targets on 6 fresh 64x64 "
                 "images, an 8x8 grid, anchors (h, w) (0.2, 0.2), (0.45, 0.25), (0.25, 0.45)",
                 atol=1e-5)


@check(points=1, uses=DET, hint="the YOLO loss terms and weights on other grid sizes")
def yolo_loss_fresh(lab, rng):
    targets = random_grid_targets(rng, 4, 5, 3, 2, busy=0.2)
    outputs = rng.normal(scale=2.0, size=targets.shape).astype("float32")
    coord, noobj = float(rng.uniform(1, 8)), float(rng.uniform(0.1, 1))
    terms = lab.detection.yolo_loss_terms(targets, outputs, 3)
    return {"terms": np.array([float(terms[k]) for k in
                               ("coordinates", "object", "no_object", "classes")]),
            "loss": float(lab.detection.yolo_loss(targets, outputs, 3, coord, noobj))}


@yolo_loss_fresh.verdict
def _(student, reference):
    expect_close(student["terms"], reference["terms"], "yolo_loss_terms (coordinates, object, "
                 "no_object, classes) on 4 images of a 5x5 grid, 3 slots, 2 classes", rtol=1e-4)
    expect_close(student["loss"], reference["loss"], "yolo_loss with fresh lambdas", rtol=1e-4)


@check(points=1, uses=DET, hint="decode_predictions on a 5x5 grid with 3 slots and 2 classes")
def decode_fresh(lab, rng):
    grid = rng.normal(scale=2.0, size=(5, 5, 17)).astype("float32")
    boxes, scores, classes = lab.detection.decode_predictions(grid, 3, 0.2)
    return {"boxes": np.asarray(boxes, "float32").reshape(-1, 4),
            "scores": np.asarray(scores, "float32").reshape(-1),
            "classes": np.asarray(classes).reshape(-1).astype("int64")}


@decode_fresh.verdict
def _(student, reference):
    what = "decode_predictions(grid (5, 5, 17), 3, score_threshold=0.2)"
    expect_close(student["scores"], reference["scores"], f"the scores of {what}")
    expect_equal(student["classes"].tolist(), reference["classes"].tolist(),
                 f"the classes of {what}")
    expect_close(student["boxes"], reference["boxes"], f"the boxes of {what}", atol=1e-5)


@check(points=1, uses=DET, reference=False,
       hint="non_max_suppression on fresh boxes, classes and thresholds")
def nms_fresh(lab, rng):
    n = int(rng.integers(20, 60))
    centres = rng.uniform(0.2, 0.8, size=(8, 2))
    boxes = np.concatenate([centres - 0.12, centres + 0.12], axis=1)[rng.integers(0, 8, n)]
    boxes = (boxes + rng.normal(scale=0.05, size=(n, 4))).astype("float32")
    boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]),
                            np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1)
    scores = rng.uniform(0, 1, n).astype("float32")
    classes = rng.integers(0, 4, n)
    threshold = float(rng.uniform(0.2, 0.8))
    with standing_in(lab.detection, pairwise_iou=library_iou):
        kept = lab.detection.non_max_suppression(boxes, scores, classes, threshold)
    return {"kept": np.asarray(kept).reshape(-1).astype("int64"),
            "expected": tensorflow_nms(boxes, scores, classes, threshold),
            "threshold": threshold}


@nms_fresh.verdict
def _(student, _reference):
    expect_true(student["kept"].tolist() == student["expected"].tolist(),
                f"non_max_suppression(iou_threshold={student['threshold']:.3f}) kept "
                f"{student['kept'].tolist()}, expected {student['expected'].tolist()} "
                "(tf.image.non_max_suppression class by class)")


@check(points=1, uses=DET, hint="mean_average_precision on fresh detections and thresholds")
def map_fresh(lab, rng):
    true_boxes, true_classes, boxes, scores, classes = [], [], [], [], []
    for _ in range(int(rng.integers(4, 10))):
        count = int(rng.integers(1, 6))
        truth = random_boxes(rng, count, 0.1, 0.5)
        labels = rng.integers(0, 3, count)
        copies = rng.integers(0, count, count + 3)
        found = (truth[copies] + rng.normal(scale=0.06, size=(len(copies), 4))).clip(0, 1)
        true_boxes.append(truth)
        true_classes.append(labels)
        boxes.append(found.astype("float32"))
        classes.append(labels[copies])
        scores.append(rng.uniform(0, 1, len(copies)).astype("float32"))
    threshold = float(rng.choice([0.3, 0.5, 0.7]))
    with standing_in(lab.detection, pairwise_iou=library_iou):
        mean_ap, aps = lab.detection.mean_average_precision(boxes, scores, classes, true_boxes,
                                                            true_classes, 3, threshold)
    table = detections_table(boxes, scores, classes, true_boxes, true_classes)
    return {"map": float(mean_ap), "aps": np.asarray(aps, np.float64), "table": list(table),
            "threshold": threshold}


@map_fresh.verdict
def _(student, reference):
    expected, _ = brute_force_map(*student["table"], 3, student["threshold"])
    what = f"mean_average_precision at IoU {student['threshold']} on fresh detections"
    expect_close(student["map"], expected, what, atol=1e-6,
                 against="mAP by sweeping every score threshold")
    expect_close(student["aps"], reference["aps"], f"the per-class APs of {what}", atol=1e-6)


@check(points=1, uses=SEG, reference=False,
       hint="atrous_conv2d for any odd kernel, rate and channel counts")
def atrous_fresh(lab, rng):
    import keras
    cases = []
    for _ in range(3):
        k = [int(v) for v in rng.choice([1, 3, 5], size=2)]
        rate = int(rng.integers(1, 5))
        c_in, c_out = (int(v) for v in rng.integers(1, 4, size=2))
        x = rng.normal(size=(2, int(rng.integers(5, 13)), int(rng.integers(5, 13)), c_in))
        kernel = rng.normal(size=(*k, c_in, c_out)).astype("float32")
        layer = keras.layers.Conv2D(c_out, k, padding="same", dilation_rate=rate, use_bias=False)
        layer.build(x.shape)
        layer.kernel.assign(kernel)
        cases.append({"student": np.asarray(lab.segmentation.atrous_conv2d(
                          x.astype("float32"), kernel, None, rate)),
                      "keras": np.asarray(layer(x.astype("float32"))),
                      "what": f"atrous_conv2d(x {x.shape}, kernel {kernel.shape}, rate={rate})"})
    return {"cases": cases}


@atrous_fresh.verdict
def _(student, _reference):
    for case in student["cases"]:
        expect_close(case["student"], case["keras"], case["what"], atol=1e-4, rtol=1e-4,
                     against="keras.layers.Conv2D(dilation_rate=rate)")


@check(points=1, uses=SEG, hint="ASPP with other rates, filters and input sizes")
def aspp_other_rates(lab, rng):
    block = lab.segmentation.ASPP(3, rates=(2, 4))
    x = rng.normal(size=(1, 10, 8, 2)).astype("float32")
    block.build(x.shape)
    assign_random_weights(block, rng, scale=0.5)
    try:
        return {"out": np.asarray(block(x)), "error": ""}
    except Exception as error:  # the message goes to the student
        return {"out": np.zeros(0), "error": f"{type(error).__name__}: {error}"[:300]}


@aspp_other_rates.verdict
def _(student, reference):
    if student["error"]:
        raise CheckFailed(f"ASPP(3, rates=(2, 4)) on (1, 10, 8, 2) failed: {student['error']}")
    expect_close(student["out"], reference["out"], "ASPP(3, rates=(2, 4)) on (1, 10, 8, 2) with "
                 "the check's weights", rtol=1e-4, atol=1e-5)
