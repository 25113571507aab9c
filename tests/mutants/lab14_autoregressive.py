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
