"""Mutants of lab14_autoregressive: the ways an autoregressive model quietly cheats or
goes blind, each a small edit of the solution."""
from tests.mutants import Mutant

MADE = "made.py"
PIXELCNN = "pixelcnn.py"
WAVENET = "wavenet.py"

MUTANTS = [
    # Output d sees the hidden units of degree d, which see x_d: the model copies its input.
    # The training check catches it too: the test bits per dimension fall far below the
    # reference's.
    Mutant("output_mask_not_strict", MADE,
           "return (out_degrees[None, :] > in_degrees[:, None]).astype(np.float32)",
           "return (out_degrees[None, :] >= in_degrees[:, None]).astype(np.float32)",
           breaks=("output_mask", "made_is_autoregressive", "made_trains")),
    # The first layer sees the pixel it predicts.
    Mutant("type_a_mask_includes_the_centre", PIXELCNN,
           '    if mask_type == "B":\n        mask[centre, centre] = 1.0\n',
           "    mask[centre, centre] = 1.0\n",
           breaks=("causal_mask_2d", "pixelcnn_receptive_field", "pixelcnn_trains")),
    Mutant("causal_padding_on_the_right", WAVENET,
           "x = tf.pad(x, [[0, 0], [pad, 0], [0, 0]])",
           "x = tf.pad(x, [[0, 0], [0, pad], [0, 0]])",
           breaks=("causal_conv1d", "causal_conv1d_is_causal", "wavenet_is_causal"),
           says="LEFT"),
    # The layer is right; the model builds every block with dilation 1, so its receptive
    # field is 5 steps instead of 9.
    Mutant("dilation_not_passed_to_the_blocks", WAVENET,
           "CausalConv1D(2 * self.filters, self.kernel_size, dilation_rate=rate,",
           "CausalConv1D(2 * self.filters, self.kernel_size,",
           breaks=("wavenet_is_causal",)),
    # Training is unaffected (it minimises nats); only the reported number is 1.44x too small.
    Mutant("nats_reported_as_bits", "likelihood.py",
           "return tf.reduce_mean(nll) / (num_dims * LOG_2)",
           "return tf.reduce_mean(nll) / num_dims",
           breaks=("bits_per_dim",), says="factor"),
    # The model is called once, on zeros: every pixel is drawn from p(x_d | nothing).
    Mutant("sampler_draws_everything_at_once", "sampling.py",
           "    for d in order:\n        logits = np.asarray(logits_fn(x))\n",
           "    logits = np.asarray(logits_fn(x))\n    for d in order:\n",
           breaks=("sample_autoregressive",)),
    # The first layer of a PixelCNN loses its ReLU.
    Mutant("masked_conv_ignores_its_activation", PIXELCNN,
           "        return self.activation(y)\n", "        return y\n",
           breaks=("masked_conv2d",), says="activation"),
    Mutant("causal_conv_ignores_its_activation", WAVENET,
           "return self.activation(y + self.bias)", "return y + self.bias",
           breaks=("causal_conv1d",), says="activation"),
    Mutant("pixelcnn_without_the_relu_before_hidden_1x1", PIXELCNN,
           "return self.output_1x1(self.hidden_1x1(tf.nn.relu(h)))",
           "return self.output_1x1(self.hidden_1x1(h))",
           breaks=("pixelcnn_call",), says="ReLU"),
    Mutant("wavenet_blocks_without_the_residual", WAVENET,
           "h = h + projection(gated_activation(gate_conv(h)))",
           "h = projection(gated_activation(gate_conv(h)))",
           breaks=("wavenet_call",), says="residual"),
    # Tap i applied to x[t - i d]: causal, the right receptive field, the wrong function.
    Mutant("causal_conv_taps_reversed", WAVENET,
           "y = tf.nn.convolution(x, self.kernel, padding=",
           "y = tf.nn.convolution(x, tf.reverse(self.kernel, [0]), padding=",
           breaks=("causal_conv1d",), says="reverse order"),
    Mutant("masked_dense_without_the_bias", MADE,
           "return self.activation(keras.ops.matmul(x, kernel) + self.bias)",
           "return self.activation(keras.ops.matmul(x, kernel))",
           breaks=("masked_dense",), says="bias"),
    # exp(1000) is inf in any float: inf / inf is NaN and the level is wrong.
    Mutant("categorical_draw_with_an_unstable_softmax", "sampling.py",
           "p = np.exp(logits - logits.max(axis=-1, keepdims=True))", "p = np.exp(logits)",
           breaks=("draws",), says="overflows"),
]

NADE = "nade.py"
GATED = "gated_pixelcnn.py"

MUTANTS += [
    # An inclusive running sum: a_d holds x_d, so logit_d copies its own input.
    Mutant("nade_running_sum_inclusive", NADE,
           "tf.cumsum(contributions, axis=1, exclusive=True)",
           "tf.cumsum(contributions, axis=1)",
           breaks=("nade_logits", "nade_is_autoregressive"), says="exclusive"),
    # The sampler adds x_d's term before drawing x_d (from a stale x_d = 0, so it is lost).
    Mutant("nade_sampler_updates_before_drawing", NADE,
           "        x[:, d] = uniform[:, d] < 1.0 / (1.0 + np.exp(-logit))\n"
           "        a = a + x[:, d, None] * W[:, d]\n",
           "        a = a + x[:, d, None] * W[:, d]\n"
           "        x[:, d] = uniform[:, d] < 1.0 / (1.0 + np.exp(-logit))\n",
           breaks=("nade_sample",)),
    # The vertical stack's kernel reaches below its centre row: after the shift the output
    # still sees its own row (itself and the pixels to its right).
    Mutant("vertical_stack_sees_below_its_row", GATED,
           "mask[:kernel_size // 2 + 1, :] = 1.0", "mask[:, :] = 1.0",
           breaks=("gated_receptive_field", "gated_masks"), says="own row"),
    Mutant("link_without_the_down_shift", GATED,
           "self.v_to_h(down_shift(v_pre))", "self.v_to_h(v_pre)",
           breaks=("gated_layer", "gated_receptive_field"), says="shift"),
    Mutant("first_horizontal_mask_type_b", GATED,
           'horizontal_mask(self.kernel_size, "A" if self.first else "B")',
           'horizontal_mask(self.kernel_size, "B")',
           breaks=("gated_receptive_field",), says="centre: it must be type A"),
    Mutant("horizontal_stack_without_the_residual", GATED,
           "            h_out = h + h_out\n", "            h_out = h_out\n",
           breaks=("gated_layer",), says="residual"),
    # The class bias only on the vertical stack: it reaches the output only through the link.
    Mutant("label_ignored", GATED,
           "        if label is not None and self.num_classes:",
           "        if False:",
           breaks=("gated_layer", "conditional_logits", "gated_trains"), says="embedding"),
    # The residual in the first layer too, where h = x: a shape error with C_in != filters,
    # and each pixel passed on to its own logit.
    Mutant("residual_in_the_first_layer", GATED,
           "        if not self.first:\n            h_out = h + h_out\n",
           "        h_out = h + h_out\n",
           breaks=("gated_layer", "gated_receptive_field"), says="first layer has no residual"),
    # down_shift a no-op: the link passes the vertical stack's own row, its right included.
    Mutant("down_shift_is_the_identity", GATED,
           "return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]", "return x",
           breaks=("gated_receptive_field", "down_shift"), says="right.*v_to_h\\(down_shift"),
    Mutant("embedding_before_the_link", GATED,
           "        h_pre = self.h_conv(h) + self.v_to_h(down_shift(v_pre))\n"
           "        if label is not None and self.num_classes:\n"
           "            v_pre = v_pre + self.v_embedding(label)[:, None, None, :]\n",
           "        if label is not None and self.num_classes:\n"
           "            v_pre = v_pre + self.v_embedding(label)[:, None, None, :]\n"
           "        h_pre = self.h_conv(h) + self.v_to_h(down_shift(v_pre))\n"
           "        if label is not None and self.num_classes:\n",
           breaks=("gated_layer",), says="after the link"),
    Mutant("gated_call_without_the_relu", GATED,
           "return self.output_1x1(self.hidden_1x1(tf.nn.relu(h)))",
           "return self.output_1x1(self.hidden_1x1(h))",
           breaks=("gated_call",), says="no ReLU"),
    Mutant("down_shift_moves_up", GATED,
           "return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]",
           "return tf.pad(x, [[0, 0], [0, 1], [0, 0], [0, 0]])[:, 1:]",
           breaks=("down_shift",), says="up"),
    Mutant("sample_class_ignores_the_label", GATED,
           "labels = np.full(len(uniform), label, dtype=np.int32)",
           "labels = np.zeros(len(uniform), dtype=np.int32)",
           breaks=("sample_class",)),
]
