"""Mutants of lab05_cnn: the mistakes students make writing convolutions and CNNs."""
from tests.mutants import Mutant

CONV = "convolution.py"
NETS = "networks.py"

MUTANTS = [
    # The textbook convolution flips the kernel; Conv2D (and every deep-learning library)
    # computes the cross-correlation, so a flipped kernel is the mistake here.
    Mutant("kernel_flipped", CONV,
           "out = cols @ kernel.reshape(kh * kw * c_in, c_out)",
           "out = cols @ kernel[::-1, ::-1].reshape(kh * kw * c_in, c_out)",
           breaks=("conv2d_valid_matches_keras", "conv2d_same_matches_keras")),
    # TensorFlow puts the odd zero of "same" padding after the data (bottom/right); putting it
    # before shifts every window by one pixel for even kernels or stride 2.
    Mutant("same_padding_odd_zero_before", CONV,
           "    before = total // 2\n",
           "    before = total - total // 2\n",
           breaks=("same_padding",), says="goes AFTER"),
    # Window (i, j) starts at (i * stride, j * stride): forgetting the stride takes the first
    # OH x OW windows of a stride-1 convolution instead.
    Mutant("stride_not_applied_to_window_start", CONV,
           "x[:, a: a + sh * (out_h - 1) + 1: sh, b: b + sw * (out_w - 1) + 1: sw, :]",
           "x[:, a: a + out_h, b: b + out_w, :]",
           breaks=("im2col",)),
    # The transposed convolution maps C_in channels back to C_out with kernel[a, b]
    # transposed; without it the channels do not even line up (or, when they happen to,
    # the values are wrong).
    Mutant("conv_transpose_kernel_channels_not_transposed", CONV,
           "y @ kernel[a, b].T)",
           "y @ kernel[a, b])",
           breaks=("conv_transpose2d_matches_keras", "conv_transpose2d_is_the_gradient_of_conv2d")),
    # Keras's "same" average pooling ignores the padded zeros; dividing by the window size
    # darkens every window that hangs over the border.
    Mutant("avg_pool_counts_padding", CONV,
           "    return sums / counts\n",
           "    return sums / counts.max()\n",
           breaks=("avg_pool2d_matches_keras",)),
    # A projection only for downsampling blocks: a block that widens the channels at stride 1
    # then adds tensors of different shapes.
    Mutant("projection_only_when_downsampling", NETS,
           "if self.strides != 1 or channels != self.filters:",
           "if self.strides != 1:",
           breaks=("residual_block_projection_shortcut",)),
    # The union counts the intersection twice: identical boxes get IoU 1/2.
    Mutant("iou_union_counts_the_intersection_twice", NETS,
           "    union = area_a + area_b - intersection\n    return",
           "    union = area_a + area_b\n    return",
           breaks=("box_iou",)),
    # Cross-entropy on logits read as probabilities: Keras clips and renormalises them, and
    # the class head learns next to nothing.
    Mutant("class_loss_not_from_logits", NETS,
           '"labels": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}',
           '"labels": keras.losses.SparseCategoricalCrossentropy()}',
           breaks=("compile_detector_losses",), says="from_logits=True"),
    # Box coordinates are fractions of the image: a linear head predicts boxes outside it.
    Mutant("box_head_without_sigmoid", NETS,
           'boxes = layers.Dense(4, activation="sigmoid", name="boxes")(features)',
           'boxes = layers.Dense(4, name="boxes")(features)',
           breaks=("detector_outputs",)),
    # Reading the decoder's levels from the top: the first skip joins a map of another size.
    Mutant("unet_decoder_from_the_top", NETS,
           "    for level in reversed(range(depth)):\n",
           "    for level in range(depth):\n",
           breaks=("unet_structure",), says="deepest level up"),
    # A decoder without skip connections is an hourglass autoencoder, not a U-Net.
    Mutant("unet_decoder_forgets_the_skips", NETS,
           "        x = layers.Concatenate()([x, skips[level]])\n",
           "",
           breaks=("unet_structure",)),
    # Without strides in its config, the block reloads as a stride-1 block: other shapes,
    # and the saved weights of its projection no longer match.
    Mutant("get_config_forgets_strides", NETS,
           '"filters": self.filters, "strides": self.strides}',
           '"filters": self.filters}',
           breaks=("residual_block_saves_and_reloads",)),
    # The box loss weighted 1: its small squared errors drown in the cross-entropy.
    Mutant("detector_ignores_box_weight", NETS,
           'weights = {"boxes": box_weight, "labels": 1.0}',
           'weights = {"boxes": 1.0, "labels": 1.0}',
           breaks=("compile_detector_losses",), says="box_weight"),
    # Probabilities out: Keras then trains on the logits beneath the softmax, and hides it.
    Mutant("detector_labels_through_a_softmax", NETS,
           'labels = layers.Dense(num_classes, name="labels")(features)',
           'labels = layers.Dense(num_classes, activation="softmax", name="labels")(features)',
           breaks=("detector_outputs",), says="probabilities"),
    Mutant("resnet_head_through_a_softmax", NETS,
           "    outputs = layers.Dense(num_classes)(x)\n",
           '    outputs = layers.Dense(num_classes, activation="softmax")(x)\n',
           breaks=("small_resnet_outputs",), says="probabilities"),
    # A global max: no weights, so no structure comparison can see it.
    Mutant("resnet_global_max_pooling", NETS,
           "    x = layers.GlobalAveragePooling2D()(x)\n",
           "    x = layers.GlobalMaxPooling2D()(x)\n",
           breaks=("small_resnet_outputs",), says="global MAX"),
    # With "valid" and a kernel smaller than the stride, the last stride's rows are zeros
    # that no window writes: without room for them the output comes out short.
    Mutant("conv_transpose_no_zero_rows_past_the_last_window", CONV,
           "    full_h = max((height - 1) * sh + kh, top + out_h)\n"
           "    full_w = max((width - 1) * sw + kw, left + out_w)\n",
           "    full_h = (height - 1) * sh + kh\n"
           "    full_w = (width - 1) * sw + kw\n",
           breaks=("conv_transpose2d_matches_keras",)),
]
