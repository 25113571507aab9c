"""Mutants of lab05b_detection: the mistakes students make writing a grid detector, its
loss, NMS and mAP, and dilated convolutions."""
from tests.mutants import Mutant

DET = "detection.py"
SEG = "segmentation.py"

MUTANTS = [
    # The union counts the intersection twice: identical boxes get IoU 1/2.
    Mutant("iou_union_counts_the_intersection_twice", DET,
           "    union = area_a[:, None] + area_b[None, :] - intersection\n",
           "    union = area_a[:, None] + area_b[None, :]\n",
           breaks=("pairwise_iou",)),
    # Ties must go to the lower slot; the last maximum takes the higher one.
    Mutant("anchor_ties_go_to_the_last_slot", DET,
           "    return np.argmax(iou, axis=1)\n",
           "    return iou.shape[1] - 1 - np.argmax(iou[:, ::-1], axis=1)\n",
           breaks=("best_anchor",), says="ties go to the lower slot"),
    # A slot holds (objectness, x, y, w, h): x is the column offset, w the width.
    Mutant("encode_x_and_y_swapped", DET,
           "(1.0, centre_x[k] * S - col, centre_y[k] * S - row,\n"
           "                                             widths[k], heights[k])",
           "(1.0, centre_y[k] * S - row, centre_x[k] * S - col,\n"
           "                                             heights[k], widths[k])",
           breaks=("encode_targets",), says="swapped"),
    # A centre at 1.0 is in the last cell: without the clip its row is S, off the grid.
    Mutant("encode_centre_at_one_not_clipped", DET,
           "        row = min(int(np.floor(centre_y[k] * S)), S - 1)\n",
           "        row = int(np.floor(centre_y[k] * S))\n",
           breaks=("encode_targets",)),
    # The cell's class is the last box's: without clearing, two classes are set at once.
    Mutant("encode_cell_class_not_reset", DET,
           "        target[row, col, 5 * B:] = 0.0\n",
           "",
           breaks=("encode_targets",), says="one-hot"),
    # best_anchor takes (height, width), as the anchors are: a tall box must not take the
    # wide anchor's slot.
    Mutant("encode_sizes_passed_as_width_height", DET,
           "    slots = best_anchor(np.stack([heights, widths], axis=1), anchors)\n",
           "    slots = best_anchor(np.stack([widths, heights], axis=1), anchors)\n",
           breaks=("encode_targets",), says=r"\(width, height\)"),
    Mutant("loss_without_square_roots", DET,
           "    size_error = ops.sum(ops.square(ops.sqrt(predicted[..., 3:5])\n"
           "                                    - ops.sqrt(true_slots[..., 3:5])), axis=-1)\n",
           "    size_error = ops.sum(ops.square(predicted[..., 3:5] - true_slots[..., 3:5]),"
           " axis=-1)\n",
           breaks=("yolo_loss_coordinates",), says="square roots"),
    # "Nothing here" is asked of the slots that hold nothing, not of every slot.
    Mutant("no_object_term_on_every_slot", DET,
           '"no_object": ops.sum((1.0 - responsible) * ops.square(objectness)) / batch,',
           '"no_object": ops.sum(ops.square(objectness)) / batch,',
           breaks=("yolo_loss_objectness",), says="NOT responsible"),
    # Sigmoids of the class scores are not a distribution over the classes.
    Mutant("class_loss_without_softmax", DET,
           "ops.log_softmax(class_scores, axis=-1)",
           "ops.log(ops.sigmoid(class_scores))",
           breaks=("yolo_loss_classes",)),
    # The cross-entropy sums over the classes: a mean divides the class term by C.
    Mutant("class_loss_mean_over_classes", DET,
           "    cross_entropy = -ops.sum(true_classes * ops.log_softmax(class_scores, axis=-1), "
           "axis=-1)\n",
           "    cross_entropy = -ops.mean(true_classes * ops.log_softmax(class_scores, axis=-1), "
           "axis=-1)\n",
           breaks=("yolo_loss_classes", "yolo_loss_weighting"),
           says="a scale: a mean over the C = 4 classes"),
    Mutant("lambdas_swapped", DET,
           "    return (lambda_coord * terms[\"coordinates\"] + terms[\"object\"]\n"
           "            + lambda_noobj * terms[\"no_object\"] + terms[\"classes\"])\n",
           "    return (lambda_noobj * terms[\"coordinates\"] + terms[\"object\"]\n"
           "            + lambda_coord * terms[\"no_object\"] + terms[\"classes\"])\n",
           breaks=("yolo_loss_weighting",), says="swapped"),
    # The score is the objectness times the class probability, not the objectness alone.
    Mutant("decode_score_without_class_probability", DET,
           "    box_scores = slots[..., 0] * probabilities.max(axis=-1)[..., None]\n",
           "    box_scores = slots[..., 0] + 0.0 * probabilities.max(axis=-1)[..., None]\n",
           breaks=("decode_predictions",), says="scores"),
    # A circle must not suppress a square lying on top of it.
    Mutant("nms_across_classes", DET,
           "        same_class = [k for k in kept if classes[k] == classes[index]]\n",
           "        same_class = list(kept)\n",
           breaks=("nms_matches_tensorflow", "nms_handmade_cases"), says="different classes"),
    # TensorFlow keeps a box whose IoU equals the threshold.
    Mutant("nms_suppresses_at_the_threshold", DET,
           "                > iou_threshold:\n",
           "                >= iou_threshold:\n",
           breaks=("nms_handmade_cases",), says="exactly 0.5"),
    Mutant("ap_without_the_envelope", DET,
           "    envelope = np.maximum.accumulate(precision[::-1])[::-1]\n",
           "    envelope = precision\n",
           breaks=("average_precision", "mean_average_precision"), says="not interpolated"),
    # VOC: a detection whose best box is taken is a false positive.
    Mutant("map_falls_back_to_a_free_box", DET,
           "            best = int(np.argmax(overlaps))\n",
           "            best = int(np.argmax(np.where(taken[image], -1.0, overlaps)))\n",
           breaks=("mean_average_precision",), says="falls back"),
    # VOC matches at IoU >= 0.5: a detection exactly at the threshold is a true positive.
    Mutant("map_match_needs_more_than_the_threshold", DET,
           "            if overlaps[best] >= iou_threshold and not taken[image][best]:\n",
           "            if overlaps[best] > iou_threshold and not taken[image][best]:\n",
           breaks=("mean_average_precision",), says=">= iou_threshold"),
    Mutant("detector_head_through_a_sigmoid", DET,
           'outputs = layers.Conv2D(5 * num_anchors + num_classes, 1, name="grid")(x)',
           'outputs = layers.Conv2D(5 * num_anchors + num_classes, 1, activation="sigmoid",\n'
           '                            name="grid")(x)',
           breaks=("grid_detector_outputs",), says="no activation"),
    # The taps of a dilated kernel are `rate` pixels apart.
    Mutant("atrous_taps_not_dilated", SEG,
           "            window = padded[:, a * rate:a * rate + height, b * rate:b * rate + width, :]\n",
           "            window = padded[:, a:a + height, b:b + width, :]\n",
           breaks=("atrous_conv2d_matches_keras",)),
    # `rate` zeros a side fit a 3x3 kernel only: a 5x3 kernel needs (K - 1) * rate // 2.
    Mutant("atrous_padding_rate_only", SEG,
           "    top, left = (kh - 1) * rate // 2, (kw - 1) * rate // 2\n",
           "    top, left = rate, rate\n",
           breaks=("atrous_conv2d_matches_keras",), says=r"\(K - 1\) \* rate // 2"),
    Mutant("receptive_field_k_times_rate", SEG,
           "    return 1 + sum((int(k) - 1) * int(r) for k, r in zip(kernel_sizes, rates))\n",
           "    return sum(int(k) * int(r) for k, r in zip(kernel_sizes, rates))\n",
           breaks=("receptive_field",)),
    # Global max pooling is not the image-pooling branch's mean.
    Mutant("aspp_image_pooling_by_max", SEG,
           "        pooled = self.pool_conv(ops.mean(x, axis=(1, 2), keepdims=True))\n",
           "        pooled = self.pool_conv(ops.max(x, axis=(1, 2), keepdims=True))\n",
           breaks=("aspp_outputs",)),
    # The handout's order: the rate branches, then the pooling branch.
    Mutant("aspp_pooling_branch_first", SEG,
           "        outputs.append(ops.broadcast_to(",
           "        outputs.insert(0, ops.broadcast_to(",
           breaks=("aspp_outputs",), says="pooling branch comes first"),
]
