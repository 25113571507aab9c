"""Public checks of lab05b_detection, part 1: detection.py's IoU, anchors, grid targets and
the YOLO loss.

Independent references: Keras's box IoU, IoUs by counting grid points, and the YOLO loss
visited cell by cell in loops (probes.py). encode_targets runs on the grid-point best
anchor in place of the student's best_anchor.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab05b_detection.probes import (
    CLASSES,
    DET,
    GRID,
    LAMBDA_COORD,
    LAMBDA_NOOBJ,
    grid_point_best_anchor,
    library_iou,
    loop_yolo_terms,
    random_boxes,
    random_grid_targets,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
)

# ---------------------------------------------------------------------------------------------
# 1-2. Overlaps and anchors
# ---------------------------------------------------------------------------------------------

SPECIAL_A = np.array([[0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.4, 0.6],
                      [0.3, 0.3, 0.3, 0.3]], dtype="float32")
SPECIAL_B = np.array([[0.1, 0.1, 0.5, 0.5], [0.25, 0.25, 0.5, 0.75], [0.4, 0.2, 0.8, 0.6],
                      [0.6, 0.6, 0.9, 0.9], [0.5, 0.5, 1.0, 1.0]], dtype="float32")


@check(points=1, uses=DET, task="`pairwise_iou`",
       hint="broadcast (M, 1, 4) against (1, K, 4): intersection between the larger mins and "
            "the smaller maxes, sides clipped at 0; union = area_a + area_b - intersection")
def pairwise_iou(lab, rng):
    """Every pair of 4 x 5 handmade boxes (identical, nested, edge-touching, disjoint, an
    empty box) and of 7 x 9 random ones, against Keras's `compute_iou`."""
    a, b = random_boxes(rng, 7), random_boxes(rng, 9)
    return {"special": lab.detection.pairwise_iou(SPECIAL_A, SPECIAL_B),
            "special_keras": library_iou(SPECIAL_A, SPECIAL_B),
            "random": lab.detection.pairwise_iou(a, b), "random_keras": library_iou(a, b)}


@pairwise_iou.verdict
def _(student, reference):
    for key, what in (("special", "pairwise_iou on 4 x 5 handmade boxes (identical, nested, "
                                  "edge-touching, disjoint, an empty box)"),
                      ("random", "pairwise_iou on 7 x 9 random boxes")):
        keras_iou = np.asarray(student[f"{key}_keras"])
        got = np.asarray(student[key], dtype=np.float64)
        if got.shape == keras_iou.T.shape and got.shape != keras_iou.shape:
            raise CheckFailed(f"{what} has shape {got.shape}, expected (M, K) = "
                              f"{keras_iou.shape}: rows for boxes_a, columns for boxes_b")
        expect_close(got, keras_iou, what, atol=1e-5, rtol=1e-5,
                     against="keras.utils.bounding_boxes.compute_iou")
        expect_close(got, reference[key], what, atol=1e-6)


@check(points=1, uses=DET, task="`best_anchor`",
       hint="IoU of box and anchor centred together: min(h) * min(w) / (area + anchor area - "
            "that); argmax over the anchors, the first of equal values")
def best_anchor(lab, rng):
    """The slots of 8 handmade box sizes against 3 anchors (one of them ties two anchors:
    the lower slot), and of 20 random ones, against the argmax of grid-point IoUs
    of the centred boxes."""
    anchors = np.array([[0.25, 0.25], [0.5, 0.25], [0.5, 0.5]])
    handmade = np.array([[0.25, 0.25], [0.5, 0.25], [0.5, 0.5], [0.125, 0.125],
                         [0.75, 0.75], [0.25, 0.5], [0.5, 0.375], [0.375, 0.25]])
    sizes = np.round(rng.uniform(0.05, 0.8, size=(20, 2)) * 256) / 256
    return {"handmade": np.asarray(lab.detection.best_anchor(handmade, anchors)),
            "expected_handmade": grid_point_best_anchor(handmade, anchors),
            "random": np.asarray(lab.detection.best_anchor(sizes, anchors)),
            "expected_random": grid_point_best_anchor(sizes, anchors),
            "areas": np.argmin(np.abs(np.prod(sizes, 1)[:, None] - np.prod(anchors, 1)), 1)}


@best_anchor.verdict
def _(student, reference):
    for key, what in (("handmade", "best_anchor on 8 handmade sizes, 3 anchors (the size "
                                   "(0.25, 0.5) ties anchors 0 and 2)"),
                      ("random", "best_anchor on 20 random sizes")):
        got, expected = np.ravel(student[key]), np.ravel(student[f"expected_{key}"])
        expect_equal(got.shape, expected.shape, f"the shape of {what}")
        if key == "random" and not np.array_equal(got, expected) \
                and np.array_equal(got, student["areas"]):
            raise CheckFailed(f"{what} picks the anchor of the closest AREA: the slot is the "
                              "anchor of highest IoU with the box, both centred at one point")
        expect_true(np.array_equal(got, expected), f"{what} returned slots {got.tolist()}, "
                    f"expected {expected.tolist()} (highest IoU of the centred boxes; ties "
                    "go to the lower slot)")
        expect_true(np.array_equal(got, reference[key]), f"{what} differs from the reference")


# ---------------------------------------------------------------------------------------------
# 3. Grid targets
# ---------------------------------------------------------------------------------------------

# A tall and a wide anchor (height, width): a box's slot depends on which way it is long,
# so passing best_anchor (width, height) where (height, width) belongs moves it.
ENCODE_ANCHORS = np.array([[0.5, 0.25], [0.25, 0.5]])
ENCODE_BOXES = np.array([
    [0.05, 0.05, 0.35, 0.2],     # tall, cell (0, 0): slot 0, class 1
    [0.0, 0.0, 0.2, 0.45],       # wide, centre also in cell (0, 0): slot 1, class 2
    [0.375, 0.5, 0.625, 0.75],   # square, centre (0.5, 0.625) on a cell border: cell (2, 2);
                                 # it ties the two anchors: slot 0
    [0.55, 0.0, 0.7, 0.4],       # wide, cell (2, 0), slot 1, class 0 ...
    [0.5, 0.05, 0.7, 0.35],      # ... overwritten by this wide one, class 1
    [0.0, 0.0, 0.0, 0.0],        # padding
    [0.5, 0.625, 1.0, 1.0],      # tall, touches the bottom-right corner: cell (3, 3), slot 0
    [1.0, 0.25, 1.0, 0.375],     # zero height on the bottom edge: centre y 1.0, row 3
], dtype="float32")
ENCODE_LABELS = np.array([1, 2, 0, 0, 1, -1, 2, 0])
SLOT_FIELDS = ("objectness", "x offset", "y offset", "width", "height")


def _describe(channel, num_anchors=2):
    if channel < 5 * num_anchors:
        return f"slot {channel // 5}'s {SLOT_FIELDS[channel % 5]}"
    return f"class {channel - 5 * num_anchors}'s one-hot"


@check(points=2, uses=DET, task="`encode_targets`",
       hint="cell = floor(centre * S) clipped to S - 1; slot = best_anchor of the size (h, w); "
            "write (1, cx*S - col, cy*S - row, w, h) at channels 5*slot .. 5*slot+4, the one-hot "
            "class after 5B")
def encode_targets(lab, rng):
    """A handmade image on a 4x4 grid with a tall and a wide anchor (two boxes in one cell in
    different slots, a centre on a cell border with an anchor tie, a box overwriting another,
    a padding row, a box touching the corner, a centre at 1.0), an image of padding only and
    3 drawn images, on the check's grid-point `best_anchor`: every responsible slot decoded
    back to a box of the image, the target against the reference's."""
    from dlkit.data import make_multi_shapes
    drawn = make_multi_shapes(3, size=32, seed=int(rng.integers(1 << 20)))
    images = [(ENCODE_BOXES, ENCODE_LABELS), (np.zeros((2, 4)), np.array([-1, -1]))]
    images += list(zip(drawn["boxes"], drawn["labels"]))
    asked = []  # the sizes encode_targets hands to best_anchor

    def recording_best_anchor(box_sizes, anchors):
        asked.append(np.asarray(box_sizes, np.float64).reshape(-1, 2))
        return grid_point_best_anchor(box_sizes, anchors)

    with standing_in(lab.detection, best_anchor=recording_best_anchor):
        targets = [lab.detection.encode_targets(b, c, GRID, ENCODE_ANCHORS, CLASSES)
                   for b, c in images]
    return {"targets": np.stack([np.asarray(t, dtype="float32") for t in targets]),
            "boxes": np.stack([np.pad(np.asarray(b, "float32"), ((0, 8 - len(b)), (0, 0)))
                               for b, _ in images]),
            "labels": np.stack([np.pad(c, (0, 8 - len(c)), constant_values=-1)
                                for _, c in images]),
            "asked": np.concatenate(asked + [np.zeros((0, 2))])}


def _sizes_passed_as_width_height(student):
    """Whether encode_targets asked best_anchor about (w, h) where (h, w) belongs: some
    non-square box of the images asked only the wrong way round."""
    boxes = np.asarray(student["boxes"], np.float64).reshape(-1, 4)
    real = boxes[np.asarray(student["labels"]).reshape(-1) >= 0]
    sizes = np.stack([real[:, 2] - real[:, 0], real[:, 3] - real[:, 1]], axis=1)
    asked = np.asarray(student["asked"], np.float64).reshape(-1, 2)
    if not len(asked):
        return False

    def was_asked(size):
        return bool(np.any(np.abs(asked - size).max(axis=1) < 1e-6))

    oblong = np.abs(sizes[:, 0] - sizes[:, 1]) > 1e-3
    return any(was_asked(size[::-1]) and not was_asked(size) for size in sizes[oblong])


@encode_targets.verdict
def _(student, reference):
    targets, expected = np.asarray(student["targets"]), np.asarray(reference["targets"])
    names = ("the handmade image", "the image of padding only", "drawn image 1",
             "drawn image 2", "drawn image 3")
    expect_equal(targets.shape[1:], expected.shape[1:], "the shape of encode_targets(boxes, "
                 "labels, grid_size=4, 2 anchors, num_classes=3): (S, S, 5B + C)")
    for image, name in enumerate(names):
        got, want = targets[image], expected[image]
        what = f"encode_targets on {name}"
        # Every responsible slot must hold a box of the image whose centre is in that cell.
        boxes = np.asarray(student["boxes"][image], np.float64)
        real = boxes[np.asarray(student["labels"][image]) >= 0]
        for row, col, slot in zip(*np.nonzero(got[..., 0:10:5] == 1)):
            x, y, w, h = got[row, col, 5 * slot + 1:5 * slot + 5]
            box = np.array([(row + y) / GRID - h / 2, (col + x) / GRID - w / 2,
                            (row + y) / GRID + h / 2, (col + x) / GRID + w / 2])
            if not len(real) or np.abs(real - box).max(axis=1).min() > 1e-5:
                hint = ""
                for (cy, cx, dy, dx), swap in (((x, y, w, h), "x and y and w and h"),
                                               ((y, x, w, h), "w and h"),
                                               ((x, y, h, w), "x and y")):
                    swapped = np.array([(row + cy) / GRID - dy / 2, (col + cx) / GRID - dx / 2,
                                        (row + cy) / GRID + dy / 2, (col + cx) / GRID + dx / 2])
                    if len(real) and np.abs(real - swapped).max(axis=1).min() < 1e-5:
                        hint = f": {swap} are swapped; a slot holds (1, x, y, w, h)"
                        break
                raise CheckFailed(f"{what}: cell ({row}, {col}) slot {slot} holds "
                                  f"(x, y, w, h) = {np.round([x, y, w, h], 4).tolist()}, which "
                                  f"decode to box {np.round(box, 4).tolist()}, not a box of the "
                                  f"image{hint} (x = cx * S - col, y = cy * S - row)")
        if not np.allclose(got, want, atol=1e-5):
            if _sizes_passed_as_width_height(student):
                raise CheckFailed(f"{what} (anchors (height, width) = (0.5, 0.25) and (0.25, "
                                  "0.5)): best_anchor was given a box's size as (width, "
                                  "height), so a tall box takes the wide anchor's slot: pass "
                                  "the sizes in the (h, w) order of the anchors")
            wrong = np.argwhere(~np.isclose(got, want, atol=1e-5))
            row, col, channel = (int(v) for v in wrong[0])
            raise CheckFailed(f"{what}: target[{row}, {col}, {channel}] ({_describe(channel)}) "
                              f"is {got[row, col, channel]:.4g}, expected "
                              f"{want[row, col, channel]:.4g} ({len(wrong)} numbers differ; "
                              "the responsible cell holds the centre, the slot is the best "
                              "anchor, a later box overwrites an earlier one)")


# ---------------------------------------------------------------------------------------------
# 4. The YOLO loss
# ---------------------------------------------------------------------------------------------

def _loss_inputs(rng):
    targets = random_grid_targets(rng, 3, 3, 2, 4)
    outputs = rng.normal(scale=1.5, size=targets.shape).astype("float32")
    return targets, outputs


def _terms_probe(lab, rng):
    targets, outputs = _loss_inputs(rng)
    terms = lab.detection.yolo_loss_terms(targets, outputs, 2)
    return {"targets": targets, "outputs": outputs,
            "terms": {key: np.asarray(terms[key], np.float64) for key in
                      ("coordinates", "object", "no_object", "classes") if key in terms},
            "keys": sorted(terms)}


TERM_SLIPS = {
    "coordinates": [("no_sqrt", "the width and height errors take square roots: "
                                "(sqrt(w) - sqrt(w*))^2"),
                    ("raw_outputs", "the outputs go through a sigmoid before the errors"),
                    ("coordinates_everywhere", "only responsible slots (target objectness 1) "
                                               "have a coordinate error"),
                    ("no_batch_mean", "each term is divided by the number of images N")],
    "object": [("object_everywhere", "the object term covers responsible slots only"),
               ("raw_outputs", "the objectness goes through a sigmoid"),
               ("no_batch_mean", "each term is divided by the number of images N")],
    "no_object": [("no_object_everywhere", "the no-object term covers the slots that are NOT "
                                           "responsible"),
                  ("no_object_empty_cells", "the no-object term covers every slot that is not "
                                            "responsible, also in a cell holding an object "
                                            "(not only the slots of empty cells)"),
                  ("raw_outputs", "the objectness goes through a sigmoid"),
                  ("no_batch_mean", "each term is divided by the number of images N")],
    "classes": [("classes_everywhere", "the class term covers the cells holding an object "
                                       "only"),
                ("no_batch_mean", "each term is divided by the number of images N")],
}


def _counts(targets, num_anchors=2):
    """The counts a loss term might wrongly be divided by, by name."""
    targets = np.asarray(targets)
    n, s = targets.shape[0], targets.shape[1]
    responsible = targets[..., 0:5 * num_anchors:5] == 1
    return {"the number of responsible slots (objects)": int(responsible.sum()),
            "the number of cells holding an object": int(responsible.any(-1).sum()),
            "the number of cells": n * s * s, "the number of slots": n * s * s * num_anchors}


def _expect_scalar(got, expected, what, mistakes, targets, classes, against):
    """expect_close_naming for one number of the loss; when no known slip matches, the
    failure prints got, expected and their ratio, and names a clean ratio as a scale."""
    try:
        expect_close_naming(got, expected, what, mistakes, rtol=1e-4, atol=1e-5,
                            against=against)
        return
    except CheckFailed as failure:
        if "off by a constant" not in str(failure) and "differs from" not in str(failure):
            raise
    got, expected = float(np.asarray(got, np.float64).reshape(())), float(expected)
    n = int(np.shape(targets)[0])
    message = f"{what} is {got:.6g}, expected {expected:.6g} ({against})"
    if expected == 0 or not np.isfinite(got):
        raise CheckFailed(message)
    ratio = got / expected
    message += f": {ratio:.4g} times the expected value"
    scales = [(1.0 / classes, f"a mean over the C = {classes} classes where the cross-entropy "
                              "sums over them")]
    scales += [(n / count, f"divided by {name} ({count}) where the mean over images divides by "
                           f"N = {n}") for name, count in _counts(targets).items() if count != n]
    scales += [(float(n), f"not divided by the number of images N = {n}")]
    named = [why for scale, why in scales if np.isclose(ratio, scale, rtol=1e-4)]
    if named:
        raise CheckFailed(f"{message}, a scale: {'; or '.join(named)}")
    from fractions import Fraction
    clean = Fraction(ratio).limit_denominator(64)
    if clean != 1 and np.isclose(ratio, float(clean), rtol=1e-5):
        raise CheckFailed(f"{message} (= {clean}), a scale: divided by the wrong count, or a "
                          "mean over the classes where the sum belongs?")
    raise CheckFailed(message)


def _judge_term(student, names):
    keys = student["keys"]
    expect_true(set(names) <= set(keys), f"yolo_loss_terms returned the keys {keys}, expected "
                "coordinates, object, no_object and classes")
    for name in names:
        loops = {slip: loop_yolo_terms(student["targets"], student["outputs"], 2, slip)[name]
                 for slip, _ in TERM_SLIPS[name]}
        expected = loop_yolo_terms(student["targets"], student["outputs"], 2)[name]
        mistakes = [(loops[slip], message) for slip, message in TERM_SLIPS[name]
                    if not np.isclose(loops[slip], expected, rtol=1e-4)]
        _expect_scalar(student["terms"][name], expected, f"yolo_loss_terms(...)[{name!r}] on 3 "
                       "images of a 3x3 grid, 2 slots, 4 classes", mistakes, student["targets"],
                       4, "a loop over every image, cell and slot")


@check(points=1, uses=DET, task="`yolo_loss_terms` (coordinates)",
       hint="sum over responsible slots of (x - x*)^2 + (y - y*)^2 + (sqrt(w) - sqrt(w*))^2 + "
            "(sqrt(h) - sqrt(h*))^2, with x, y, w, h the sigmoids of the outputs; / N")
def yolo_loss_coordinates(lab, rng):
    """The coordinate term on targets and outputs the check draws (3 images, 3x3 cells, 2
    slots, a cell with both slots responsible) against a loop over every image, cell and
    slot; the known slips named (no square roots, no sigmoid, every slot, no mean over
    images)."""
    return _terms_probe(lab, rng)


yolo_loss_coordinates.verdict(lambda student, _: _judge_term(student, ("coordinates",)))


@check(points=1, uses=DET, task="`yolo_loss_terms` (objectness)",
       hint="object: sum of (1 - o)^2 over responsible slots; no_object: sum of o^2 over every "
            "other slot; o = sigmoid of the objectness output; / N")
def yolo_loss_objectness(lab, rng):
    """The object and no-object terms on the check's inputs against the loop; the slips
    named (every slot, responsible slots in the no-object term, no sigmoid)."""
    return _terms_probe(lab, rng)


yolo_loss_objectness.verdict(lambda student, _: _judge_term(student, ("object", "no_object")))


@check(points=1, uses=DET, task="`yolo_loss_terms` (classes)",
       hint="cross-entropy of the softmax of the class scores with the one-hot class, summed "
            "over the cells that hold an object (a responsible slot); / N")
def yolo_loss_classes(lab, rng):
    """The class term on the check's inputs against the loop (cells without an object do
    not count)."""
    return _terms_probe(lab, rng)


yolo_loss_classes.verdict(lambda student, _: _judge_term(student, ("classes",)))


@check(points=1, uses=DET, task="`yolo_loss`",
       hint="lambda_coord * coordinates + object + lambda_noobj * no_object + classes, with "
            "keras.ops so that a GradientTape sees it")
def yolo_loss_weighting(lab, rng):
    """yolo_loss with λ_coord = 5, λ_noobj = 0.5 and with 2 and 0.25, on the check's inputs,
    against the loop's terms so weighted; and its gradient with respect to the outputs
    (through `tf.GradientTape`) against the reference's."""
    import tensorflow as tf
    targets, outputs = _loss_inputs(rng)
    variable = tf.Variable(outputs)
    with tf.GradientTape() as tape:
        loss = lab.detection.yolo_loss(targets, variable, 2)
    gradient = tape.gradient(loss, variable)
    other = lab.detection.yolo_loss(targets, outputs, 2, lambda_coord=2.0, lambda_noobj=0.25)
    return {"targets": targets, "outputs": outputs, "loss": np.asarray(loss, np.float64),
            "other": np.asarray(other, np.float64),
            "gradient": np.zeros(0) if gradient is None else np.asarray(gradient)}


@yolo_loss_weighting.verdict
def _(student, reference):
    terms = loop_yolo_terms(student["targets"], student["outputs"], 2)
    for key, (coord, noobj) in (("loss", (LAMBDA_COORD, LAMBDA_NOOBJ)), ("other", (2.0, 0.25))):
        expected = coord * terms["coordinates"] + terms["object"] + noobj * terms["no_object"] \
            + terms["classes"]
        swapped = noobj * terms["coordinates"] + terms["object"] + coord * terms["no_object"] \
            + terms["classes"]
        unweighted = sum(terms.values())
        class_mean = expected - (1 - 1 / 4) * terms["classes"]
        noobj_on_object = coord * terms["coordinates"] + noobj * terms["object"] \
            + terms["no_object"] + terms["classes"]
        _expect_scalar(student[key], expected, f"yolo_loss(..., lambda_coord={coord}, "
                       f"lambda_noobj={noobj})", [
                           (unweighted, "the terms are not weighted: lambda_coord multiplies "
                                        "the coordinate term, lambda_noobj the no-object term"),
                           (swapped, "lambda_coord and lambda_noobj are swapped"),
                           (noobj_on_object, "lambda_noobj multiplies the object term: it "
                                             "belongs on the no-object term"),
                           (class_mean, "the class term is a mean over the 4 classes where "
                                        "the cross-entropy sums over them (yolo_loss_terms)")],
                       student["targets"], 4, "the loop's terms so weighted")
    expect_true(np.size(student["gradient"]) > 0, "tf.GradientTape finds no gradient of "
                "yolo_loss with respect to the outputs: write it with keras.ops (not numpy)")
    expect_close(student["gradient"], reference["gradient"], "the gradient of yolo_loss with "
                 "respect to the outputs", rtol=1e-4, atol=1e-6)


