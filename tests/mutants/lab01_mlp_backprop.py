"""Mutants of lab01_mlp_backprop: the slips students make when they first do backprop by hand."""
from tests.mutants import Mutant

MUTANTS = [
    # exp(1000) overflows to inf, and inf / inf is NaN.
    Mutant("softmax_without_max_shift", "layers.py",
           "shifted = logits - np.max(logits, axis=1, keepdims=True)\n    exps",
           "shifted = logits\n    exps",
           breaks=("softmax",)),
    # softmax underflows to exactly 0 for logits 1000 apart, and log(0) = -inf.
    Mutant("cross_entropy_as_log_of_softmax", "layers.py",
           "log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))",
           "log_probs = np.log(softmax(logits))",
           breaks=("cross_entropy",)),
    # The loss grows with the batch size; the MLP reports that loss too.
    Mutant("cross_entropy_summed_not_averaged", "layers.py",
           "return float(-np.mean(log_probs",
           "return float(-np.sum(log_probs",
           breaks=("cross_entropy",)),
    # (M, D) instead of (D, M): the shapes of the chain rule were not matched.
    Mutant("dense_backward_transposed_weight_grad", "layers.py",
           "dw = x.T @ upstream",
           "dw = upstream.T @ x",
           breaks=("dense_backward",)),
    # At x == 0 the gradient leaks through the kink.
    Mutant("relu_backward_passes_zero_inputs", "layers.py",
           "return upstream * (x > 0)",
           "return upstream * (x >= 0)",
           breaks=("relu_backward",)),
    # First-order accurate: off by about h/2 * f''.
    Mutant("numerical_gradient_one_sided", "layers.py",
           "grad[index] = (plus - minus) / (2 * h)",
           "grad[index] = (plus - f(x)) / h",
           breaks=("numerical_gradient",)),
    # The ReLU mask applied to the logits' gradient as well.
    Mutant("mlp_backward_relu_on_last_layer", "mlp.py",
           "if index < len(params) - 1:\n            upstream = relu_backward",
           "if True:\n            upstream = relu_backward",
           breaks=("mlp_gradients",)),
    # The tape sees a linear network: no ReLU between the layers.
    Mutant("tape_forward_without_relu", "mlp.py",
           "            if index < len(variables) - 1:\n                out = tf.nn.relu(out)\n",
           "",
           breaks=("tape_train_step",)),
    # Raw logits read as probabilities: Keras's default from_logits=False.
    Mutant("keras_loss_not_from_logits", "mlp.py",
           "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
           "loss=keras.losses.SparseCategoricalCrossentropy()",
           breaks=("keras_mlp_compiled", "keras_mlp_training"), says="from_logits"),
    # B breakpoints counted as B regions.
    Mutant("region_count_off_by_one", "regions.py",
           "return int(len(activation_breakpoints(weights, biases, lo, hi)) + 1)",
           "return int(len(activation_breakpoints(weights, biases, lo, hi)))",
           breaks=("count_linear_regions",)),
    # Only the first layer's kinks: deeper layers' zero crossings are missed.
    Mutant("breakpoints_of_first_layer_only", "regions.py",
           "        pieces = split\n",
           "        pieces = split\n        break\n",
           breaks=("activation_breakpoints",)),
    # Evaluated at points where earlier entries are still shifted by -h.
    Mutant("numerical_gradient_never_restores_x", "layers.py",
           "        x[index] = saved\n",
           "",
           breaks=("numerical_gradient",), says=r"put x\[i\] back"),
    # |a + b| is ~0 where a ~ -b: the error explodes for entries of opposite signs.
    Mutant("relative_error_abs_of_sum", "layers.py",
           "np.maximum(np.abs(a) + np.abs(b), eps)",
           "np.maximum(np.abs(a + b), eps)",
           breaks=("relative_error",), says="opposite signs"),
    # SGD on the weights only: the biases stay at their initial zeros.
    Mutant("train_manual_never_updates_biases", "mlp.py",
           "params = [(w - learning_rate * dw, b - learning_rate * db)",
           "params = [(w - learning_rate * dw, b)",
           breaks=("mlp_manual_training",), says="biases must be updated"),
    # Probabilities out, then the loss applies softmax again (from_logits=True).
    Mutant("keras_mlp_softmax_on_logits", "mlp.py",
           "+ [Linear(num_classes)],",
           '+ [Linear(num_classes, activation="softmax")],',
           breaks=("keras_mlp_compiled",), says="probabilities"),
    # Adam's default learning rate 1e-3, whatever the caller asks for.
    Mutant("keras_mlp_ignores_learning_rate", "mlp.py",
           "optimizer=keras.optimizers.Adam(learning_rate)",
           'optimizer="adam"',
           breaks=("keras_mlp_compiled",), says="learning rate of 0.001"),
    # The breakpoints in the order the pieces were made, not sorted.
    Mutant("breakpoints_unsorted", "regions.py",
           "return np.array([start for start, _, _, _ in pieces[1:]], dtype=np.float64)",
           "return np.array([start for start, _, _, _ in pieces[1:]][::-1], dtype=np.float64)",
           breaks=("activation_breakpoints",), says="not sorted"),
]
