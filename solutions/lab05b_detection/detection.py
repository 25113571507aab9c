"""Lab 5b, part 1: multi-object detection with a YOLO-style grid. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. overlap of every pair of boxes      pairwise_iou
2. which anchor slot takes a box        best_anchor
3. the grid targets of one image        encode_targets
4. the YOLO loss                        yolo_loss_terms, yolo_loss
5. the grid's boxes and scores          decode_predictions
6. non-max suppression                  non_max_suppression
7. mean average precision at IoU 0.5    average_precision, mean_average_precision
8. the grid detector (Keras)            build_grid_detector (its head)

Boxes are (y_min, x_min, y_max, x_max) in [0, 1], as dlkit.data.make_multi_shapes draws
them. A grid output has S x S cells of 5B + C numbers: for each of the B anchor slots
(objectness, x, y, w, h), then C class scores for the cell.
"""
import keras
import numpy as np
from keras import layers

PACKAGE = "dlkit_lab05b_detection"


# ---------------------------------------------------------------------------------------------
# 1-2. Overlaps and anchors
# ---------------------------------------------------------------------------------------------

def pairwise_iou(boxes_a, boxes_b):
    """IoU of every box of boxes_a with every box of boxes_b.

    boxes_a: (M, 4), boxes_b: (K, 4) as (y_min, x_min, y_max, x_max). Returns (M, K) in
    [0, 1]: 0 where the boxes do not overlap (and for a pair of empty boxes).
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    # BEGIN SOLUTION broadcast a[:, None] against b[None]: intersection between the larger mins and the smaller maxes (sides clipped at 0), union = area_a + area_b - intersection
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)
    # END SOLUTION


def best_anchor(box_sizes, anchors):
    """The anchor slot responsible for each box: the anchor shape of highest IoU with it.

    box_sizes: (K, 2) as (height, width); anchors: (B, 2) as (height, width), fractions of the
    image. Each box and anchor are compared centred at the same point, so their overlap is
    min(heights) * min(widths). Ties go to the lower slot. Returns (K,) int.
    """
    sizes = np.asarray(box_sizes, dtype=np.float64).reshape(-1, 2)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    # BEGIN SOLUTION the IoU of every (box, anchor) pair centred together, then the argmax over the anchors (np.argmax keeps the first of equal values)
    overlap = np.prod(np.minimum(sizes[:, None, :], anchors[None, :, :]), axis=-1)
    union = np.prod(sizes, axis=-1)[:, None] + np.prod(anchors, axis=-1)[None, :] - overlap
    iou = overlap / np.maximum(union, 1e-12)
    return np.argmax(iou, axis=1)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 3. Grid targets
# ---------------------------------------------------------------------------------------------

def encode_targets(boxes, labels, grid_size, anchors, num_classes):
    """The grid target of one image: what its detector output should be.

    boxes: (K, 4) as (y_min, x_min, y_max, x_max); labels: (K,) classes, rows with a label < 0
    are padding and skipped. anchors: (B, 2) anchor shapes (height, width).
    The cell responsible for a box is the one holding its centre (cy, cx):
    row = floor(cy * S), col = floor(cx * S), at most S - 1 (a centre at 1.0 belongs to the
    last cell). Of that cell's B slots, best_anchor's slot takes it. That slot's 5 numbers
    become (1, cx * S - col, cy * S - row, w, h): objectness 1, the centre's offset inside
    the cell in [0, 1), and the box's width and height as fractions of the image. The cell's C
    class numbers become the one-hot of its label. Boxes are written in order: a later box
    of the same cell and slot overwrites an earlier one (and a later box of the same cell
    sets the cell's class). Every other number is 0.

    Returns float32 (S, S, 5B + C).
    """
    S, B = int(grid_size), len(anchors)
    target = np.zeros((S, S, 5 * B + num_classes), dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels).reshape(-1)
    keep = labels >= 0
    boxes, labels = boxes[keep], labels[keep]
    if len(boxes) == 0:
        return target
    # BEGIN SOLUTION per box: centre, size, its cell (row, col) clipped to S - 1, its slot from best_anchor; write (1, x offset, y offset, w, h) at 5 * slot and the one-hot class after the 5B slot numbers
    heights, widths = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    centre_y, centre_x = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    slots = best_anchor(np.stack([heights, widths], axis=1), anchors)
    for k in range(len(boxes)):
        row = min(int(np.floor(centre_y[k] * S)), S - 1)
        col = min(int(np.floor(centre_x[k] * S)), S - 1)
        start = 5 * slots[k]
        target[row, col, start:start + 5] = (1.0, centre_x[k] * S - col, centre_y[k] * S - row,
                                             widths[k], heights[k])
        target[row, col, 5 * B:] = 0.0
        target[row, col, 5 * B + int(labels[k])] = 1.0
    # END SOLUTION
    return target


def encode_batch(boxes, labels, grid_size, anchors, num_classes):
    """encode_targets for every image: boxes (N, K, 4), labels (N, K) -> (N, S, S, 5B + C)."""
    return np.stack([encode_targets(b, c, grid_size, anchors, num_classes)
                     for b, c in zip(boxes, labels)])


# ---------------------------------------------------------------------------------------------
# 4. The YOLO loss
# ---------------------------------------------------------------------------------------------

def split_grid(grid, num_anchors):
    """(N, S, S, 5B + C) -> slots (N, S, S, B, 5) and classes (N, S, S, C)."""
    grid = keras.ops.convert_to_tensor(grid)
    slots = grid[..., :5 * num_anchors]
    slots = keras.ops.reshape(slots, (*keras.ops.shape(slots)[:-1], num_anchors, 5))
    return slots, grid[..., 5 * num_anchors:]


def yolo_loss_terms(targets, outputs, num_anchors):
    """The four terms of the YOLO loss, each summed over cells and slots, averaged over images.

    targets: (N, S, S, 5B + C) from encode_targets. outputs: the detector's raw grid, same
    shape. The outputs pass through a sigmoid: objectness o, centre offsets (x, y) and sizes
    (w, h) (fractions of the image). A slot is *responsible* where its target objectness is 1.
    Returns {"coordinates": sum over responsible slots of (x - x*)^2 + (y - y*)^2
                            + (sqrt(w) - sqrt(w*))^2 + (sqrt(h) - sqrt(h*))^2,
             "object":      sum over responsible slots of (1 - o)^2,
             "no_object":   sum over all other slots of o^2,
             "classes":     sum over cells holding an object (a responsible slot) of the
                            cross-entropy of the softmax of the cell's class scores with its
                            one-hot class},
    each a scalar tensor divided by N. Written with keras.ops, so it trains.
    """
    ops = keras.ops
    targets = ops.cast(ops.convert_to_tensor(targets), "float32")
    outputs = ops.cast(ops.convert_to_tensor(outputs), "float32")
    true_slots, true_classes = split_grid(targets, num_anchors)
    slots, class_scores = split_grid(outputs, num_anchors)
    batch = ops.cast(ops.shape(outputs)[0], "float32")
    # BEGIN SOLUTION responsible = true objectness; sigmoid of the 5 slot numbers; the squared errors of x, y and of sqrt(w), sqrt(h) on responsible slots; (1 - o)^2 there and o^2 elsewhere; cross-entropy (log_softmax) on cells whose max responsibility is 1; every sum / N
    responsible = true_slots[..., 0]
    predicted = ops.sigmoid(slots)
    centre_error = ops.sum(ops.square(predicted[..., 1:3] - true_slots[..., 1:3]), axis=-1)
    size_error = ops.sum(ops.square(ops.sqrt(predicted[..., 3:5])
                                    - ops.sqrt(true_slots[..., 3:5])), axis=-1)
    objectness = predicted[..., 0]
    cross_entropy = -ops.sum(true_classes * ops.log_softmax(class_scores, axis=-1), axis=-1)
    has_object = ops.max(responsible, axis=-1)
    return {"coordinates": ops.sum(responsible * (centre_error + size_error)) / batch,
            "object": ops.sum(responsible * ops.square(1.0 - objectness)) / batch,
            "no_object": ops.sum((1.0 - responsible) * ops.square(objectness)) / batch,
            "classes": ops.sum(has_object * cross_entropy) / batch}
    # END SOLUTION


def yolo_loss(targets, outputs, num_anchors, lambda_coord=5.0, lambda_noobj=0.5):
    """lambda_coord * coordinates + object + lambda_noobj * no_object + classes.

    Most slots hold no object: lambda_noobj < 1 keeps their many "nothing here" terms from
    drowning the few that hold one; lambda_coord > 1 makes the boxes count.
    """
    terms = yolo_loss_terms(targets, outputs, num_anchors)
    # BEGIN SOLUTION weight the coordinate term by lambda_coord and the no-object term by lambda_noobj
    return (lambda_coord * terms["coordinates"] + terms["object"]
            + lambda_noobj * terms["no_object"] + terms["classes"])
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 5. Decoding
# ---------------------------------------------------------------------------------------------

def decode_predictions(grid, num_anchors, score_threshold=0.1):
    """The boxes one image's raw grid output predicts.

    grid: (S, S, 5B + C) raw outputs (numpy). For the slot b of cell (row, col), with sigmoids
    o, x, y, w, h of its 5 numbers: centre cy = (row + y) / S, cx = (col + x) / S; box
    (cy - h/2, cx - w/2, cy + h/2, cx + w/2) clipped to [0, 1]. Its class is the argmax of the
    cell's class scores, its score o * (the softmax probability of that class).
    Returns boxes (M, 4) float32, scores (M,) float32, classes (M,) int, for the slots whose
    score is >= score_threshold, in the order row, then col, then slot.
    """
    grid = np.asarray(grid, dtype=np.float64)
    S, B = grid.shape[0], int(num_anchors)
    # BEGIN SOLUTION sigmoid of the (S, S, B, 5) slot numbers, softmax of the class scores; centres from the cell indices; scores = o * best class probability; flatten in (row, col, slot) order and keep score >= threshold
    slots = 1.0 / (1.0 + np.exp(-grid[..., :5 * B].reshape(S, S, B, 5)))
    scores = grid[..., 5 * B:]
    probabilities = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    rows, cols = np.meshgrid(np.arange(S), np.arange(S), indexing="ij")
    centre_y = (rows[..., None] + slots[..., 2]) / S
    centre_x = (cols[..., None] + slots[..., 1]) / S
    width, height = slots[..., 3], slots[..., 4]
    boxes = np.stack([centre_y - height / 2, centre_x - width / 2,
                      centre_y + height / 2, centre_x + width / 2], axis=-1)
    classes = np.broadcast_to(probabilities.argmax(axis=-1)[..., None], (S, S, B))
    box_scores = slots[..., 0] * probabilities.max(axis=-1)[..., None]
    boxes, box_scores, classes = boxes.reshape(-1, 4), box_scores.ravel(), classes.ravel()
    keep = box_scores >= score_threshold
    return (np.clip(boxes[keep], 0.0, 1.0).astype(np.float32),
            box_scores[keep].astype(np.float32), classes[keep].astype(int))
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 6. Non-max suppression
# ---------------------------------------------------------------------------------------------

def non_max_suppression(boxes, scores, classes, iou_threshold=0.5):
    """Greedy non-max suppression, class by class.

    boxes: (M, 4), scores: (M,), classes: (M,). Visit the boxes by decreasing score (equal
    scores: the lower index first); keep a box unless a box already kept of the SAME class
    overlaps it by IoU > iou_threshold (an IoU exactly at the threshold keeps it, as
    tf.image.non_max_suppression does). Boxes of different classes never suppress each other.
    Returns the indices of the kept boxes, int (K,), by decreasing score (ties: lower index
    first).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    # BEGIN SOLUTION walk `order`; keep a box when no kept box of its class has IoU > iou_threshold with it (pairwise_iou)
    kept = []
    for index in order:
        same_class = [k for k in kept if classes[k] == classes[index]]
        if same_class and pairwise_iou(boxes[index:index + 1], boxes[same_class]).max() \
                > iou_threshold:
            continue
        kept.append(index)
    return np.array(kept, dtype=int)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 7. Mean average precision
# ---------------------------------------------------------------------------------------------

def average_precision(recall, precision):
    """The area under the precision-recall curve, all-point interpolated (VOC 2010 on).

    recall, precision: (D,) after each detection, in decreasing score order (recall never
    decreases). Each precision is replaced by the best precision at that recall or beyond
    (the envelope); AP = sum over the detections of (recall_k - recall_{k-1}) * envelope_k,
    with recall_0 = 0. No detections: 0.
    """
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    if len(recall) == 0:
        return 0.0
    # BEGIN SOLUTION the envelope is a running maximum of precision taken from the end; multiply by the recall steps
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))
    # END SOLUTION


def mean_average_precision(pred_boxes, pred_scores, pred_classes, true_boxes, true_classes,
                           num_classes, iou_threshold=0.5):
    """VOC-style mean average precision over the classes, at IoU >= iou_threshold.

    pred_*: one array per image (boxes (M_i, 4), scores (M_i,), classes (M_i,));
    true_*: one array per image (boxes (K_i, 4), classes (K_i,)).
    For each class: take its detections of every image by decreasing score (equal scores:
    image order, then index order). A detection is a true positive when the ground-truth box
    of its image and class that it overlaps most has IoU >= iou_threshold and no earlier
    detection took it; otherwise (also when that best box was taken) a false positive.
    After each detection, recall = TP / (ground-truth boxes of the class) and precision =
    TP / (detections so far); the class's AP is average_precision of these.
    Returns (mAP, aps): aps (num_classes,) with NaN for a class without ground-truth boxes;
    mAP is the mean of the others (a class with boxes but no detections counts 0).
    """
    aps = np.full(num_classes, np.nan)
    for c in range(num_classes):
        truths = [np.asarray(b, np.float64).reshape(-1, 4)[np.asarray(k).reshape(-1) == c]
                  for b, k in zip(true_boxes, true_classes)]
        total = sum(len(t) for t in truths)
        if total == 0:
            continue
        found = [(float(s), image, j)
                 for image, (scores, classes) in enumerate(zip(pred_scores, pred_classes))
                 for j, s in enumerate(np.asarray(scores).reshape(-1))
                 if np.asarray(classes).reshape(-1)[j] == c]
        found.sort(key=lambda item: -item[0])  # stable: image, then index order on ties
        # BEGIN SOLUTION match each detection to its image's best-overlapping box of the class (pairwise_iou), TP if IoU >= threshold and not taken yet; cumulative recall and precision; average_precision
        taken = [np.zeros(len(t), dtype=bool) for t in truths]
        hits = np.zeros(len(found))
        for d, (_, image, j) in enumerate(found):
            if len(truths[image]) == 0:
                continue
            box = np.asarray(pred_boxes[image], np.float64).reshape(-1, 4)[j:j + 1]
            overlaps = pairwise_iou(box, truths[image])[0]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= iou_threshold and not taken[image][best]:
                taken[image][best] = True
                hits[d] = 1.0
        true_positives = np.cumsum(hits)
        recall = true_positives / total
        precision = true_positives / np.arange(1, len(found) + 1)
        aps[c] = average_precision(recall, precision)
        # END SOLUTION
    return float(np.nanmean(aps)) if np.any(~np.isnan(aps)) else 0.0, aps


# ---------------------------------------------------------------------------------------------
# 8. The grid detector
# ---------------------------------------------------------------------------------------------

def build_grid_detector(size=32, channels=1, grid_size=4, num_anchors=2, num_classes=3,
                        filters=(16, 32, 32)):
    """A fully convolutional YOLO-style detector: (N, size, size, channels) images ->
    (N, S, S, 5B + C) raw grid outputs (no activation: the loss and decoding apply them).

    The backbone halves the resolution once per entry of `filters` (a 3x3 "same" convolution
    with ReLU, then 2x2 max pooling), so size / 2**len(filters) must equal grid_size: each
    output cell then sees its own patch of the image, and a little around it.
    """
    if size // 2 ** len(filters) != grid_size:
        raise ValueError(f"size {size} / 2**{len(filters)} is not grid_size {grid_size}")
    inputs = keras.Input((size, size, channels))
    x = inputs
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(filters[-1], 3, padding="same", activation="relu")(x)
    # BEGIN SOLUTION the head: a 1x1 Conv2D with 5 * num_anchors + num_classes filters and no activation, named "grid"
    outputs = layers.Conv2D(5 * num_anchors + num_classes, 1, name="grid")(x)
    # END SOLUTION
    return keras.Model(inputs, outputs, name="grid_detector")
