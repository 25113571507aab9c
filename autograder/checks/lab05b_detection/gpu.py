"""GPU check of lab05b_detection (autograder/gpu.py): the student's grid detector at a real
scale, judged against the reference trained the same way.

- build_grid_detector with an 8x8 grid on 8 000 64x64 images of several shapes
  (dlkit.data's make_multi_shapes), trained on the student's encode_batch targets and
  yolo_loss, decoded by the student's decode_predictions, suppressed by
  tf.image.non_max_suppression and scored by the brute-force mAP@0.5 of probes.py.
"""
from autograder.checks.lab05b_detection.probes import (
    ANCHORS,
    CLASSES,
    detector_map,
    grid_point_best_anchor,
)
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# Backbone 16, 32, 64 filters at 64x64, 32x32 and 16x16, one more 3x3 convolution at 8x8:
# about 12 M multiply-adds forward per image, 72 MFLOP per training example. 20 epochs of
# 8 000 images in batches of 64: 2 500 steps, about 12 TFLOP, seconds on a T4; drawing the
# shapes and encoding their targets (numpy, ~20 s), the compile and the brute-force mAP on
# 300 test images take longer.
SIZE, GRID, FILTERS = 64, 8, (16, 32, 64)
TRAIN, TEST, EPOCHS, BATCH, LEARNING_RATE = 8_000, 300, 20, 64, 3e-3
SCORE_THRESHOLD, NMS_IOU, MAX_PER_IMAGE = 0.1, 0.5, 6
MARGIN = 0.08


@gpu_check(points=2, minutes=1.0, uses="detection",
           task="`encode_targets`, `yolo_loss`, `decode_predictions`, `build_grid_detector`",
           hint="the grid detector trained on 64x64 images with an 8x8 grid: check the targets' "
                "cell and slot, the loss terms under mixed precision (cast to float32) and the "
                "decoding")
def grid_detector_on_large_images(lab, rng):
    """`build_grid_detector(64, grid_size=8, filters=(16, 32, 64))` trained for 20 epochs
    on 8 000 64x64 images of 1 to 4 shapes with your targets and `yolo_loss` (mixed
    precision, XLA): its mAP@0.5 on 300 held-out images comes within 0.08 of the
    reference's."""
    import keras

    from autograder.check_helpers import standing_in
    from dlkit.data import make_multi_shapes
    seed = int(rng.integers(1 << 20))
    detection = lab.detection
    size, grid, filters = (32, 4, (8, 8, 8)) if lab.gpu.smoke else (SIZE, GRID, FILTERS)
    train = make_multi_shapes(lab.gpu.examples(TRAIN), size=size, seed=seed)
    # The smoke test scores 16 images: its few steps train nothing worth scoring at length.
    test = make_multi_shapes(16 if lab.gpu.smoke else TEST, size=size, seed=seed + 1)
    with standing_in(detection, best_anchor=grid_point_best_anchor):
        targets = detection.encode_batch(train["boxes"], train["labels"], grid, ANCHORS,
                                         CLASSES).astype("float32")
    slots = len(ANCHORS)
    model = detection.build_grid_detector(size, 1, grid, slots, CLASSES, filters)

    def grid_loss(y_true, y_pred):
        return detection.yolo_loss(y_true, y_pred, slots)

    lab.gpu.compile(model, keras.optimizers.Adam(LEARNING_RATE), loss=grid_loss)
    lab.gpu.fit(model, train["images"], targets, epochs=EPOCHS, batch=BATCH)
    grids = lab.gpu.outputs(model, test["images"])
    mean_ap, _, _ = detector_map(detection, grids, slots, test, CLASSES, SCORE_THRESHOLD,
                                 NMS_IOU, MAX_PER_IMAGE)
    return {"map": float(mean_ap), "smoke": lab.gpu.smoke}


@grid_detector_on_large_images.verdict
def _(student, reference):
    expect_at_least(student["map"], reference["map"] - MARGIN,
                    f"the mAP@0.5 of the grid detector on held-out 64x64 images (the reference "
                    f"reaches {reference['map']:.3f} with the same training; look at "
                    "encode_targets, the loss terms and decode_predictions)")
