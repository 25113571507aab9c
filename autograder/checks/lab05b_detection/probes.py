"""What the checks of lab05b_detection share: independent IoUs, the check's own loop-by-loop
YOLO loss and brute-force mAP, and the two training probes.

Independent references (none of them is the lab's code):
- `library_iou`: Keras's `keras.utils.bounding_boxes.compute_iou`, standing in for
  pairwise_iou in the checks of non_max_suppression and mean_average_precision;
- `grid_point_iou`: IoU by counting the points of a fine grid inside each box, axis by
  axis: exact for boxes whose edges lie on that grid (the handmade cases, the anchors);
  `grid_point_best_anchor` (its argmax over centred anchors) stands in for best_anchor in
  the checks of encode_targets and the detector's training;
- `loop_yolo_terms`: the YOLO loss visiting every image, cell and slot in Python loops
  (scipy's expit and log_softmax), with the known slips as options, for the verdicts;
- `brute_force_map`: mAP by sweeping every score threshold and matching the detections above
  it from scratch, AP from the resulting (recall, precision) points.
Probes run in the worker, verdicts in the grader: numpy and scipy only at module level.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax

from autograder.check_helpers import build_for_fit, mean_mask_iou

DET = "detection"
SEG = "segmentation"

# The grid of the public checks: 4x4 cells, two anchor slots, three classes.
GRID, CLASSES = 4, 3
ANCHORS = np.array([[0.25, 0.25], [0.5, 0.5]])
LAMBDA_COORD, LAMBDA_NOOBJ = 5.0, 0.5

# The budgets of the two training checks, stated in the handout.
DETECTOR_TRAIN = {"size": 32, "grid": 4, "filters": (16, 32, 32), "train_images": 512,
                  "test_images": 192, "epochs": 12, "batch_size": 32, "learning_rate": 1e-2,
                  "score_threshold": 0.1, "nms_iou": 0.5, "max_per_image": 6}
SEGMENTER_TRAIN = {"size": 16, "texture": 0.7, "base_filters": 8, "rates": (1, 2, 4),
                   "train_images": 384, "test_images": 256, "epochs": 8, "batch_size": 32,
                   "learning_rate": 1e-2}
THRESHOLDS = np.linspace(0.05, 0.95, 19)  # the global thresholds the baseline tries
# How far below the reference a student model may land, and how far above the threshold
# baseline the segmenter must be (margins measured over seeds: see the handout).
MAP_MARGIN = 0.2
SEGMENTER_MARGIN = 0.12
OVER_THRESHOLD = 0.1


def random_boxes(rng, n, low=0.05, high=0.6):
    """n boxes with corners in [0, 1], sides in [low, high]."""
    sizes = rng.uniform(low, high, size=(n, 2))
    corners = rng.uniform(0, 1, size=(n, 2)) * (1 - sizes)
    return np.concatenate([corners, corners + sizes], axis=1).astype("float32")


# ---- Independent IoUs -----------------------------------------------------------------------

def library_iou(boxes_a, boxes_b):
    """(M, K) IoUs by Keras's own box IoU (it adds a tiny epsilon to the union)."""
    import keras
    a = np.asarray(boxes_a, dtype="float32").reshape(-1, 4)
    b = np.asarray(boxes_b, dtype="float32").reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.asarray(keras.utils.bounding_boxes.compute_iou(a, b, "yxyx"), dtype=np.float64)


def grid_point_iou(boxes_a, boxes_b, resolution=512):
    """(M, K) IoUs counting the points ((k + 0.5) / resolution) inside each box along each
    axis: the areas are products of counts, exact for edges on multiples of 1/resolution."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    points = (np.arange(resolution) + 0.5) / resolution

    def inside(boxes, axis):  # (n, resolution) booleans
        return (points >= boxes[:, axis, None]) & (points < boxes[:, axis + 2, None])

    counts = []
    for axis in (0, 1):
        ia, ib = inside(a, axis), inside(b, axis)
        counts.append((ia[:, None, :] & ib[None, :, :]).sum(-1).astype(np.float64))
    both = counts[0] * counts[1]
    area_a = inside(a, 0).sum(-1) * inside(a, 1).sum(-1)
    area_b = inside(b, 0).sum(-1) * inside(b, 1).sum(-1)
    union = area_a[:, None] + area_b[None, :] - both
    return np.where(union > 0, both / np.maximum(union, 1), 0.0)


def centred(sizes):
    """(K, 2) (height, width) -> (K, 4) boxes centred on (0.5, 0.5)."""
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    return np.concatenate([0.5 - sizes / 2, 0.5 + sizes / 2], axis=1)


def grid_point_best_anchor(box_sizes, anchors):
    """The stand-in best_anchor: the first argmax of the grid-point IoUs of centred boxes."""
    return np.argmax(grid_point_iou(centred(box_sizes), centred(anchors)), axis=1)


# ---- The YOLO loss, loop by loop ------------------------------------------------------------

def loop_yolo_terms(targets, outputs, num_anchors, slip=""):
    """The four YOLO terms, visiting every image, cell and slot. `slip` computes a known
    mistake instead: "no_sqrt", "raw_outputs" (no sigmoid), "coordinates_everywhere",
    "object_everywhere", "no_object_everywhere", "no_object_empty_cells" (YOLO v1's mask:
    only the slots of cells without an object), "classes_everywhere", "no_batch_mean"."""
    targets, outputs = np.asarray(targets, np.float64), np.asarray(outputs, np.float64)
    n, s = targets.shape[0], targets.shape[1]
    b_count = num_anchors
    terms = {"coordinates": 0.0, "object": 0.0, "no_object": 0.0, "classes": 0.0}
    for image in range(n):
        for row in range(s):
            for col in range(s):
                holds_object = False
                for slot in range(b_count):
                    true = targets[image, row, col, 5 * slot:5 * slot + 5]
                    raw = outputs[image, row, col, 5 * slot:5 * slot + 5]
                    guess = raw if slip == "raw_outputs" else expit(raw)
                    responsible = true[0] == 1.0
                    holds_object |= responsible
                    if responsible or slip == "coordinates_everywhere":
                        if slip == "no_sqrt":
                            size = (guess[3] - true[3]) ** 2 + (guess[4] - true[4]) ** 2
                        else:
                            size = ((np.sqrt(max(guess[3], 0)) - np.sqrt(true[3])) ** 2
                                    + (np.sqrt(max(guess[4], 0)) - np.sqrt(true[4])) ** 2)
                        terms["coordinates"] += (guess[1] - true[1]) ** 2 \
                            + (guess[2] - true[2]) ** 2 + size
                    if responsible or slip == "object_everywhere":
                        terms["object"] += (1.0 - guess[0]) ** 2
                    empty_cell = not np.any(targets[image, row, col, 0:5 * b_count:5] == 1.0)
                    if slip == "no_object_everywhere" or (
                            empty_cell if slip == "no_object_empty_cells" else not responsible):
                        terms["no_object"] += guess[0] ** 2
                if holds_object or slip == "classes_everywhere":
                    scores = outputs[image, row, col, 5 * b_count:]
                    one_hot = targets[image, row, col, 5 * b_count:]
                    terms["classes"] -= float(np.dot(one_hot, log_softmax(scores)))
    scale = 1.0 if slip == "no_batch_mean" else 1.0 / n
    return {key: value * scale for key, value in terms.items()}


def random_grid_targets(rng, n, grid, num_anchors, num_classes, busy=0.3):
    """Targets as encode_targets lays them out, drawn directly: about `busy` of the slots
    responsible (at least one cell with every slot responsible), offsets in [0, 1), sizes in
    (0.05, 0.9), a one-hot class on every cell holding an object."""
    targets = np.zeros((n, grid, grid, 5 * num_anchors + num_classes), dtype=np.float32)
    responsible = rng.random((n, grid, grid, num_anchors)) < busy
    responsible[0, 0, 0, :] = True
    for slot in range(num_anchors):
        chosen = responsible[..., slot]
        count = int(chosen.sum())
        targets[..., 5 * slot][chosen] = 1.0
        targets[..., 5 * slot + 1][chosen] = rng.uniform(0, 1, count)
        targets[..., 5 * slot + 2][chosen] = rng.uniform(0, 1, count)
        targets[..., 5 * slot + 3][chosen] = rng.uniform(0.05, 0.9, count)
        targets[..., 5 * slot + 4][chosen] = rng.uniform(0.05, 0.9, count)
    cells = responsible.any(axis=-1)
    classes = rng.integers(0, num_classes, size=cells.shape)
    one_hot = np.eye(num_classes, dtype=np.float32)[classes]
    targets[..., 5 * num_anchors:] = one_hot * cells[..., None]
    return targets


# ---- Mean average precision by brute force -------------------------------------------------

def brute_force_map(detections, truths, ious, num_classes, iou_threshold=0.5, slip=""):
    """mAP by sweeping every score threshold.

    detections: (D, 3) rows (image, class, score); truths: (G, 2) rows (image, class);
    ious: (D, G) IoU of each detection with each ground-truth box (any value where the
    images differ). For every threshold t among the scores, the detections of a class
    scoring >= t are matched from scratch by decreasing score (equal scores: in row order),
    each to the box of its image and class it overlaps most, a true positive when that
    IoU >= iou_threshold and the box is free. That gives one (recall, precision) point per
    threshold; AP sums, over the recall levels, the level's step times the best precision
    at that recall or beyond. `slip`: "fall_back" (a taken box gives way to the next free
    one), "no_envelope" (raw precision), "classes_without_truth_count_0".
    """
    detections = np.asarray(detections, np.float64).reshape(-1, 3)
    truths = np.asarray(truths, np.float64).reshape(-1, 2)
    ious = np.asarray(ious, np.float64).reshape(len(detections), len(truths))
    aps = np.full(num_classes, np.nan)
    for c in range(num_classes):
        own_truths = np.flatnonzero(truths[:, 1] == c)
        if len(own_truths) == 0:
            if slip == "classes_without_truth_count_0":
                aps[c] = 0.0
            continue
        own = np.flatnonzero(detections[:, 1] == c)
        same_image = {d: [g for g in own_truths if truths[g, 0] == detections[d, 0]]
                      for d in own}
        points = []
        for threshold in sorted(set(detections[own, 2]), reverse=True):
            above = [d for d in own if detections[d, 2] >= threshold]
            above.sort(key=lambda d: -detections[d, 2])
            free = set(own_truths.tolist())
            hits = 0
            for d in above:
                candidates = same_image[d]
                if slip == "fall_back":
                    candidates = [g for g in candidates if g in free]
                if not candidates:
                    continue
                best = max(candidates, key=lambda g: (ious[d, g], -g))
                if ious[d, best] >= iou_threshold and best in free:
                    free.discard(best)
                    hits += 1
            points.append((hits / len(own_truths), hits / len(above)))
        area, previous = 0.0, 0.0
        for level in sorted({r for r, _ in points}):
            if slip == "no_envelope":
                best_precision = max(p for r, p in points if r == level)
            else:
                best_precision = max(p for r, p in points if r >= level)
            area += (level - previous) * best_precision
            previous = level
        aps[c] = area
    valid = ~np.isnan(aps)
    return (float(np.mean(aps[valid])) if valid.any() else 0.0), aps


def tensorflow_nms(boxes, scores, classes, iou_threshold):
    """tf.image.non_max_suppression run class by class; the kept indices by decreasing score
    (equal scores: lower index first)."""
    import tensorflow as tf
    boxes = np.asarray(boxes, "float32").reshape(-1, 4)
    scores = np.asarray(scores, "float32").reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    kept = []
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        chosen = tf.image.non_max_suppression(boxes[members], scores[members], len(members),
                                              iou_threshold=float(iou_threshold)).numpy()
        kept.extend(members[chosen].tolist())
    return np.array(sorted(kept, key=lambda i: (-scores[i], i)), dtype=int)


# ---- The training probes ----------------------------------------------------------------------

def detections_table(boxes, scores, classes, true_boxes, true_classes):
    """Per-image detections and truths -> the (detections, truths, ious) of brute_force_map,
    with Keras's IoU (one call for every pair; pairs of different images get -1)."""
    rows = [(image, float(c), float(s)) for image, (cs, ss) in enumerate(zip(classes, scores))
            for c, s in zip(np.ravel(cs), np.ravel(ss))]
    truth_rows = [(image, float(c)) for image, cs in enumerate(true_classes)
                  for c in np.ravel(cs)]
    detections = np.array(rows, dtype=np.float64).reshape(-1, 3)
    truths = np.array(truth_rows, dtype=np.float64).reshape(-1, 2)
    all_boxes = np.concatenate([np.reshape(b, (-1, 4)) for b in boxes] + [np.zeros((0, 4))])
    all_truths = np.concatenate([np.reshape(b, (-1, 4)) for b in true_boxes] + [np.zeros((0, 4))])
    ious = library_iou(all_boxes, all_truths)
    ious[detections[:, 0][:, None] != truths[:, 0][None, :]] = -1.0
    return detections, truths, ious


def glorot_weights(model, rng):
    """Glorot-uniform kernels and zero biases from the check's rng, in the model's order (the
    backbone is given, the head comes last): the student's model and the reference's start
    from the same weights whatever Keras's own seeding did."""
    for weight in model.trainable_weights:
        shape = tuple(int(d) for d in weight.shape)
        if len(shape) == 1:
            weight.assign(np.zeros(shape, "float32"))
            continue
        fan_in, fan_out = int(np.prod(shape[:-1])), int(np.prod(shape[:-2]) * shape[-1])
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weight.assign(rng.uniform(-limit, limit, size=shape).astype("float32"))


def train_detector(lab, rng, budget, anchors=ANCHORS, num_classes=CLASSES):
    """The student's targets (encode_batch, on the stand-in best_anchor), model and
    yolo_loss, trained by the check's own GradientTape loop; decoded by the student's
    decode_predictions, suppressed by tf.image.non_max_suppression, scored by the brute-force
    mAP on held-out images."""
    import keras
    import tensorflow as tf

    from autograder.check_helpers import standing_in
    from dlkit.data import make_multi_shapes
    seed = int(rng.integers(1 << 20))
    size, grid = budget["size"], budget["grid"]
    train = make_multi_shapes(budget["train_images"], size=size, seed=seed)
    test = make_multi_shapes(budget["test_images"], size=size, seed=seed + 1)
    detection = lab.detection
    with standing_in(detection, best_anchor=grid_point_best_anchor):
        targets = detection.encode_batch(train["boxes"], train["labels"], grid, anchors,
                                         num_classes).astype("float32")
    slots = len(anchors)
    model = detection.build_grid_detector(size, 1, grid, slots, num_classes,
                                          budget["filters"])
    glorot_weights(model, rng)
    optimizer = keras.optimizers.Adam(budget["learning_rate"])
    optimizer.build(model.trainable_variables)

    @tf.function(autograph=False)  # plain Python in the step: no conversion to pay for
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = detection.yolo_loss(y, model(x, training=True), slots)
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    losses = []
    for _ in range(budget["epochs"]):
        order = rng.permutation(len(targets))
        for start in range(0, len(order), budget["batch_size"]):
            batch = order[start:start + budget["batch_size"]]
            losses.append(float(step(train["images"][batch], targets[batch])))
    grids = np.asarray(model(test["images"], training=False))
    mean_ap, aps, detections = detector_map(
        detection, grids, slots, test, num_classes, budget["score_threshold"],
        budget["nms_iou"], budget["max_per_image"])
    return {"map": mean_ap, "aps": aps, "first_loss": losses[0], "last_loss": losses[-1],
            "detections": detections, "output_shape": list(grids.shape)}


def detector_map(detection, grids, slots, test, num_classes, score_threshold, nms_iou,
                 max_per_image):
    """The student's decode_predictions on each output grid, tf.image.non_max_suppression per
    class, then the brute-force mAP@0.5 against the test set's boxes: (mAP, per-class APs,
    number of detections kept)."""
    boxes, scores, classes = [], [], []
    for g in grids:
        b, s, c = detection.decode_predictions(g, slots, score_threshold)
        kept = tensorflow_nms(b, s, c, nms_iou)[:max_per_image]
        boxes.append(np.asarray(b).reshape(-1, 4)[kept])
        scores.append(np.asarray(s).reshape(-1)[kept])
        classes.append(np.asarray(c).reshape(-1)[kept])
    true_boxes = [test["boxes"][i, :k] for i, k in enumerate(test["counts"])]
    true_classes = [test["labels"][i, :k] for i, k in enumerate(test["counts"])]
    table = detections_table(boxes, scores, classes, true_boxes, true_classes)
    mean_ap, aps = brute_force_map(*table, num_classes)
    return mean_ap, aps, int(len(table[0]))


def threshold_ious(images, masks):
    """The mean per-image mask IoU of every global threshold of THRESHOLDS at once (the
    mean_mask_iou of `images > t`, an image where both masks are empty counting 1): one
    numpy pass instead of one scikit-learn call per threshold."""
    n = len(masks)
    truth = np.reshape(masks, (1, n, -1)) > 0.5
    predicted = np.reshape(images, (1, n, -1)) > THRESHOLDS[:, None, None]
    inter = (predicted & truth).sum(axis=-1)
    union = (predicted | truth).sum(axis=-1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1)).mean(axis=1)


def train_segmenter(lab, rng, budget):
    """The given U-Net with the student's ASPP trained on textured shapes; its mean mask IoU
    on held-out shapes, and that of the best global brightness threshold (chosen on the
    training images)."""
    from dlkit.data import make_shapes
    seed = int(rng.integers(1 << 20))
    size = budget["size"]
    train = make_shapes(budget["train_images"], size=size, seed=seed, texture=budget["texture"])
    test = make_shapes(budget["test_images"], size=size, seed=seed + 1,
                       texture=budget["texture"])
    threshold = float(THRESHOLDS[int(np.argmax(threshold_ious(train["images"],
                                                               train["masks"])))])
    model = lab.segmentation.build_aspp_unet(size, 1, budget["base_filters"], budget["rates"])
    lab.segmentation.compile_segmenter(model, budget["learning_rate"])
    build_for_fit(model)
    model.fit(train["images"], train["masks"], batch_size=budget["batch_size"],
              epochs=budget["epochs"], shuffle=True, verbose=0)
    logits = np.asarray(model(test["images"], training=False))
    result = {"threshold": threshold, "shape": list(logits.shape), "mean_iou": 0.0,
              "threshold_iou": mean_mask_iou(test["images"] > threshold, test["masks"])}
    if logits.shape == test["masks"].shape:
        result["mean_iou"] = mean_mask_iou(logits > 0, test["masks"])
    return result
