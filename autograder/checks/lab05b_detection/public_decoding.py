"""Public checks of lab05b_detection, part 2: detection.py's decoding, non-max suppression,
average precision and mAP, and the grid detector.

Independent references: tf.image.non_max_suppression run class by class, handmade NMS cases
on exact grid-point IoUs, AP as a Riemann sum of the envelope, and mAP by sweeping every
score threshold (probes.py). non_max_suppression and mean_average_precision run on Keras's
IoU (or the grid-point IoU) in place of the student's pairwise_iou; the detector's training
on the grid-point best anchor in place of best_anchor.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab05b_detection.probes import (
    DET,
    DETECTOR_TRAIN,
    MAP_MARGIN,
    brute_force_map,
    detections_table,
    grid_point_iou,
    library_iou,
    random_boxes,
    tensorflow_nms,
    train_detector,
)
from autograder.verdicts import (
    expect_at_least,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
)

# 5-6. Decoding and non-max suppression
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=DET, task="`decode_predictions`",
       hint="centre ((row + sigmoid(y)) / S, (col + sigmoid(x)) / S), size (sigmoid(h), "
            "sigmoid(w)), clipped to [0, 1]; score = sigmoid(o) * max softmax; order row, col, "
            "slot")
def decode_predictions(lab, rng):
    """A raw 3x3 grid with 2 slots and 4 classes, decoded with threshold 0 (all 18 boxes, in
    order) and 0.3: boxes, scores and classes against the reference's."""
    grid = rng.normal(scale=1.5, size=(3, 3, 14)).astype("float32")
    result = {}
    for key, threshold in (("all", 0.0), ("above", 0.3)):
        boxes, scores, classes = lab.detection.decode_predictions(grid, 2, threshold)
        result[key] = {"boxes": np.asarray(boxes, "float32").reshape(-1, 4),
                       "scores": np.asarray(scores, "float32").reshape(-1),
                       "classes": np.asarray(classes).reshape(-1).astype("int64")}
    return result


@decode_predictions.verdict
def _(student, reference):
    for key, what in (("all", "decode_predictions(grid (3, 3, 14), 2, score_threshold=0)"),
                      ("above", "decode_predictions(grid, 2, score_threshold=0.3)")):
        got, want = student[key], reference[key]
        expect_equal(len(got["scores"]), len(want["scores"]), f"the number of boxes of {what}")
        if not np.allclose(got["scores"], want["scores"], atol=1e-5) and \
                np.allclose(np.sort(got["scores"]), np.sort(want["scores"]), atol=1e-5):
            raise CheckFailed(f"{what}: the right scores in another order: list the slots "
                              "row by row, then column, then slot")
        expect_close(got["scores"], want["scores"], f"the scores of {what} (sigmoid(o) times "
                     "the softmax probability of the best class)")
        expect_equal(np.asarray(got["classes"]).tolist(), np.asarray(want["classes"]).tolist(),
                     f"the classes of {what}")
        boxes, expected = np.asarray(got["boxes"]), np.asarray(want["boxes"])
        if boxes.shape == expected.shape and np.allclose(boxes[:, [1, 0, 3, 2]], expected,
                                                         atol=1e-5):
            raise CheckFailed(f"the boxes of {what} are (x, y) where (y, x) belongs: a box is "
                              "(y_min, x_min, y_max, x_max)")
        expect_close(boxes, expected, f"the boxes of {what}", atol=1e-5)


@check(points=2, uses=DET, task="`non_max_suppression`",
       hint="visit by decreasing score; keep a box unless a kept box OF ITS CLASS overlaps it "
            "by IoU > threshold; return the kept indices by decreasing score")
def nms_matches_tensorflow(lab, rng):
    """30 boxes in clusters, 3 classes, thresholds 0.3, 0.5 and 0.7, against
    `tf.image.non_max_suppression` run class by class (on Keras's IoU in place of
    pairwise_iou)."""
    centres = rng.uniform(0.2, 0.8, size=(6, 2))
    base = np.concatenate([centres - 0.15, centres + 0.15], axis=1)
    boxes = (base[rng.integers(0, 6, 30)] + rng.normal(scale=0.04, size=(30, 4)))
    boxes = np.concatenate([np.minimum(boxes[:, :2], boxes[:, 2:]),
                            np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1).astype("float32")
    scores = rng.uniform(0, 1, 30).astype("float32")
    classes = rng.integers(0, 3, 30)
    cases = []
    with standing_in(lab.detection, pairwise_iou=library_iou):
        for threshold in (0.3, 0.5, 0.7):
            kept = lab.detection.non_max_suppression(boxes, scores, classes, threshold)
            cases.append({"threshold": threshold, "kept": np.asarray(kept).reshape(-1)
                          .astype("int64"),
                          "tensorflow": tensorflow_nms(boxes, scores, classes, threshold),
                          "agnostic": tensorflow_nms(boxes, scores, np.zeros(30), threshold)})
    return {"cases": cases}


@nms_matches_tensorflow.verdict
def _(student, _reference):
    for case in student["cases"]:
        what = f"non_max_suppression(30 boxes, 3 classes, iou_threshold={case['threshold']})"
        kept, expected = list(case["kept"]), list(case["tensorflow"])
        if kept == expected:
            continue
        if kept == list(case["agnostic"]):
            raise CheckFailed(f"{what} lets boxes of different classes suppress each other: "
                              "run the suppression class by class")
        if sorted(kept) == sorted(expected):
            raise CheckFailed(f"{what} keeps the right boxes in another order: return them by "
                              "decreasing score")
        raise CheckFailed(f"{what} kept {kept}, expected {expected} "
                          "(tf.image.non_max_suppression class by class)")


NMS_CASES = [  # (name, boxes, scores, classes, threshold, the indices to keep)
    ("two boxes of IoU exactly 0.5 at threshold 0.5 (kept: suppression needs IoU > threshold)",
     [[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.25]], [0.9, 0.8], [0, 0], 0.5, [0, 1]),
    ("the same two boxes at threshold 0.375", [[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.25]],
     [0.9, 0.8], [0, 0], 0.375, [0]),
    ("three equal scores, boxes 0 and 2 identical (the lower index goes first)",
     [[0.5, 0.5, 0.75, 0.75], [0, 0, 0.25, 0.25], [0.5, 0.5, 0.75, 0.75]], [0.5, 0.5, 0.5],
     [1, 1, 1], 0.5, [0, 1]),
    ("two identical boxes of different classes (both kept)",
     [[0.25, 0.25, 0.75, 0.75], [0.25, 0.25, 0.75, 0.75]], [0.6, 0.7], [0, 2], 0.5, [1, 0]),
    ("a chain: box 1 is suppressed by box 0, so it cannot suppress box 2",
     [[0, 0, 0.5, 0.5], [0, 0.125, 0.5, 0.625], [0, 0.25, 0.5, 0.75]], [0.9, 0.8, 0.7],
     [0, 0, 0], 0.5, [0, 2]),
    ("scores not in index order", [[0, 0, 0.25, 0.25], [0.5, 0.5, 1, 1], [0.5, 0.5, 1, 0.875]],
     [0.2, 0.6, 0.9], [0, 0, 0], 0.5, [2, 0]),
]


@check(points=1, uses=DET, reference=False, task="`non_max_suppression`",
       hint="an IoU exactly at the threshold keeps the box (suppress when IoU > threshold); "
            "equal scores: the lower index first; only kept boxes suppress")
def nms_handmade_cases(lab, rng):
    """Six handmade cases on exact (grid-point) IoUs: an IoU exactly at the threshold, equal
    scores, identical boxes of two classes, a chain, scores out of index order."""
    kept = []
    with standing_in(lab.detection, pairwise_iou=grid_point_iou):
        for _, boxes, scores, classes, threshold, _ in NMS_CASES:
            kept.append(np.asarray(lab.detection.non_max_suppression(
                np.array(boxes, "float32"), np.array(scores, "float32"), np.array(classes),
                threshold)).reshape(-1).astype("int64"))
    return {"kept": kept}


@nms_handmade_cases.verdict
def _(student, _reference):
    for kept, (name, *_, expected) in zip(student["kept"], NMS_CASES):
        kept = [int(k) for k in kept]
        expect_true(kept == expected, f"non_max_suppression on {name}: kept {kept}, expected "
                    f"{expected}")


# ---------------------------------------------------------------------------------------------
# 7. Average precision and mAP
# ---------------------------------------------------------------------------------------------

AP_CASES = [  # (name, hits in score order, ground-truth boxes)
    ("every detection right, all boxes found", [1, 1, 1, 1], 4),
    ("a false positive first", [0, 1, 1, 1], 3),
    ("half the boxes never found", [1, 0, 1], 4),
    ("precision rising again (the envelope matters)", [1, 0, 0, 1, 1, 0, 1], 5),
    ("no true positive", [0, 0], 2),
]


def _interpolated_ap(hits, total, resolution=1000):
    """AP as a Riemann sum: the mean over recall levels u in (0, 1] (midpoints of a fine
    grid) of the best precision at a recall >= u (0 if none): exact when every recall is a
    multiple of 1 / resolution."""
    hits = np.asarray(hits, np.float64)
    recall = np.cumsum(hits) / total
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    levels = (np.arange(resolution) + 0.5) / resolution
    best = [precision[recall >= u].max() if np.any(recall >= u) else 0.0 for u in levels]
    return float(np.mean(best))


@check(points=1, uses=DET, reference=False, task="`average_precision`",
       hint="envelope = running max of precision from the end; AP = sum of (recall step) * "
            "envelope, the first step from recall 0")
def average_precision(lab, rng):
    """Five handmade precision-recall curves (perfect, a false positive first, half the boxes
    missed, precision rising again, nothing right) and an empty one, against the area
    under the envelope summed on a fine recall grid."""
    results = []
    for _, hits, total in AP_CASES:
        hits = np.asarray(hits, np.float64)
        recall = np.cumsum(hits) / total
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        results.append(float(lab.detection.average_precision(recall, precision)))
    empty = float(lab.detection.average_precision(np.zeros(0), np.zeros(0)))
    return {"aps": results, "empty": empty}


@average_precision.verdict
def _(student, _reference):
    for ap, (name, hits, total) in zip(student["aps"], AP_CASES):
        hits_array = np.asarray(hits, np.float64)
        recall = np.cumsum(hits_array) / total
        precision = np.cumsum(hits_array) / np.arange(1, len(hits) + 1)
        raw = float(np.sum(np.diff(np.concatenate([[0], recall])) * precision))
        eleven = float(np.mean([precision[recall >= t].max() if np.any(recall >= t) else 0
                                for t in np.linspace(0, 1, 11)]))
        expect_close_naming(ap, _interpolated_ap(hits, total), f"average_precision on a curve "
                            f"with {name} (hits {hits}, {total} boxes)", [
                                (raw, "the precision is not interpolated: replace each by the "
                                      "best precision at that recall or beyond"),
                                (eleven, "that is the 11-point interpolation: sum the envelope "
                                         "over every recall step (all-point)")],
                            atol=1e-9, against="the area under the envelope on a fine grid")
    expect_close(student["empty"], 0.0, "average_precision of no detections")


# (pred_boxes, pred_scores, pred_classes, true_boxes, true_classes) of one image: the first
# detection overlaps the first box by IoU exactly 0.5 (a true positive), the second is the
# other box.
EXACT_HALF = ([np.array([[0.0, 0.0, 0.5, 0.25], [0.5, 0.5, 1.0, 1.0]], "float32")],
              [np.array([0.9, 0.8], "float32")], [np.array([0, 0])],
              [np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], "float32")],
              [np.array([0, 0])])


@check(points=2, uses=DET, task="`mean_average_precision`",
       hint="per class, detections of all images by decreasing score; a TP when its best box "
            "(same image and class) has IoU >= 0.5 and is free; a taken best box makes a FP")
def mean_average_precision(lab, rng):
    """8 images of 1 to 4 true boxes, detections that are jittered copies, duplicates and
    false alarms, and a handmade image (a second detection whose best box is taken, though
    it overlaps another by 0.74), 4 classes (one without boxes, one never detected), against
    mAP by sweeping every score threshold (on Keras's IoU in place of pairwise_iou); and a
    detection at IoU exactly 0.5 (on grid-point IoUs), a true positive."""
    true_boxes, true_classes, boxes, scores, classes = [], [], [], [], []
    for _ in range(8):
        count = int(rng.integers(1, 5))
        truth = random_boxes(rng, count, 0.15, 0.5)
        labels = rng.choice([0, 1, 3], size=count)
        copies = rng.integers(0, count, size=count + 2)
        jitter = rng.normal(scale=0.05, size=(len(copies), 4))
        found = np.concatenate([truth[copies] + jitter, random_boxes(rng, 2)]).clip(0, 1)
        found_labels = np.concatenate([labels[copies], rng.choice([0, 1], size=2)])
        found_labels[found_labels == 3] = 0  # class 3 has boxes but is never detected
        true_boxes.append(truth)
        true_classes.append(labels)
        boxes.append(found.astype("float32"))
        classes.append(found_labels)
        scores.append(rng.uniform(0, 1, len(found)).astype("float32"))
    # Two boxes of class 1 overlapping each other; both detections overlap the first most,
    # and the second detection overlaps the second box by IoU 0.74 too: it must not fall back.
    true_boxes.append(np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.125, 0.5, 0.625]], "float32"))
    true_classes.append(np.array([1, 1]))
    boxes.append(np.array([[0.0, 0.0, 0.5, 0.5], [0.0, 0.05, 0.5, 0.55]], "float32"))
    classes.append(np.array([1, 1]))
    scores.append(np.array([0.99, 0.98], "float32"))
    with standing_in(lab.detection, pairwise_iou=library_iou):
        mean_ap, aps = lab.detection.mean_average_precision(boxes, scores, classes, true_boxes,
                                                            true_classes, 4)
    table = detections_table(boxes, scores, classes, true_boxes, true_classes)
    with standing_in(lab.detection, pairwise_iou=grid_point_iou):
        edge, _ = lab.detection.mean_average_precision(*EXACT_HALF, 1)
    return {"map": float(mean_ap), "aps": np.asarray(aps, np.float64), "detections": table[0],
            "truths": table[1], "ious": table[2], "exact_half": float(edge)}


@mean_average_precision.verdict
def _(student, reference):
    inputs = (student["detections"], student["truths"], student["ious"], 4)
    expected_map, expected_aps = brute_force_map(*inputs)
    what = "mean_average_precision on 9 images, 4 classes (class 2 has no boxes, class 3 is " \
           "never detected)"
    mistakes, class_mistakes = [], []
    for slip, message in (("fall_back", "a detection whose best box is taken falls back to "
                                        "another box: it is a false positive"),
                          ("no_envelope", "the precision is not interpolated (the envelope)"),
                          ("classes_without_truth_count_0", "a class without ground-truth "
                                                            "boxes counts 0: leave it out (NaN)")):
        value, per_class = brute_force_map(*inputs, slip=slip)
        if not np.isclose(value, expected_map, atol=1e-9):
            mistakes.append((value, message))
            class_mistakes.append((np.nan_to_num(per_class, nan=-1.0), message))
    aps = np.asarray(student["aps"], np.float64)
    expect_equal(aps.shape, (4,), f"the per-class APs of {what}")
    expect_close_naming(np.nan_to_num(aps, nan=-1.0), np.nan_to_num(expected_aps, nan=-1.0),
                        f"the per-class APs of {what} (NaN written as -1)", class_mistakes,
                        atol=1e-6, against="mAP by sweeping every score threshold")
    expect_close_naming(student["map"], expected_map, what, mistakes, atol=1e-6,
                        against="mAP by sweeping every score threshold")
    expect_close(student["map"], reference["map"], what, atol=1e-6)
    expect_close_naming(student["exact_half"], 1.0, "mean_average_precision on one image of "
                        "one class: its first detection overlaps a box by IoU exactly 0.5 "
                        "(exact grid-point IoUs), its second is the other box", [
                            (0.25, "the detection at IoU exactly 0.5 counts as a false "
                                   "positive: a match needs IoU >= iou_threshold (>=, as the "
                                   "handout states), not >")],
                        atol=1e-9, against="1 (two true positives)")


# ---------------------------------------------------------------------------------------------
# 8. The grid detector
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=DET, task="`build_grid_detector`",
       hint="a 1x1 Conv2D with 5 * num_anchors + num_classes filters and no activation")
def grid_detector_outputs(lab, rng):
    """build_grid_detector(32, 1, grid_size=4, num_anchors=3, num_classes=2) with the
    check's weights: raw (N, 4, 4, 17) outputs equal to the reference's."""
    from autograder.check_helpers import assign_random_weights
    model = lab.detection.build_grid_detector(32, 1, 4, 3, 2, (4, 8, 8))
    assign_random_weights(model, rng, scale=0.4)
    x = rng.random(size=(2, 32, 32, 1)).astype("float32")
    return {"outputs": np.asarray(model(x, training=False)),
            "params": int(model.count_params())}


@grid_detector_outputs.verdict
def _(student, reference):
    what = "build_grid_detector(32, 1, grid_size=4, num_anchors=3, num_classes=2)"
    outputs = np.asarray(student["outputs"])
    expect_equal(outputs.shape, np.shape(reference["outputs"]), f"the output shape of {what}: "
                 "(N, S, S, 5B + C)")
    expect_equal(student["params"], reference["params"], f"the parameter count of {what}")
    if np.all((outputs >= 0) & (outputs <= 1)) and not np.all(
            (reference["outputs"] >= 0) & (reference["outputs"] <= 1)):
        raise CheckFailed(f"{what} squashes its outputs into [0, 1]: the head has no "
                          "activation (the loss and the decoding apply the sigmoids)")
    expect_close(outputs, reference["outputs"], f"{what} with the check's weights")


@check(points=3, timeout=60, uses=DET, task="`encode_targets`, `yolo_loss`, `build_grid_detector`",
       hint="the detector trained on your targets and loss must find the shapes about as well "
            "as the reference (mAP@0.5 within the margin)")
def grid_detector_finds_shapes(lab, rng):
    """Your targets (on the grid-point `best_anchor`), model and `yolo_loss`, trained by the
    check's loop for the budget below, decoded by your `decode_predictions`, suppressed by
    `tf.image.non_max_suppression`: the brute-force mAP@0.5 on held-out images reaches the
    reference's minus 0.2."""
    return train_detector(lab, rng, DETECTOR_TRAIN)


@grid_detector_finds_shapes.verdict
def _(student, reference):
    expect_equal(student["output_shape"][1:], reference["output_shape"][1:],
                 "the trained detector's output shape")
    expect_at_least(student["map"], reference["map"] - MAP_MARGIN,
                    f"the mAP@0.5 of the trained detector on held-out images ({student['detections']} "
                    f"detections kept; its loss went from {student['first_loss']:.3g} to "
                    f"{student['last_loss']:.3g}; the reference reaches {reference['map']:.3f})")
