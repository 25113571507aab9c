"""Mutants of lab21_explainability: the mistakes students make explaining models.

SmoothGrad and integrated gradients are graded on a stand-in input_gradients and
guided_backprop on a stand-in guided_relu, so a mistake there breaks its own check only."""
from tests.mutants import Mutant

GRADIENTS = "gradients.py"
SHAPLEY = "shapley.py"

MUTANTS = [
    # The softmax probability explained instead of the target logit.
    Mutant("input_gradients_of_the_probability", GRADIENTS,
           "total = tf.reduce_sum(target_scores(model(x, training=False), target))",
           "total = tf.reduce_sum(target_scores(tf.nn.softmax(model(x, training=False)), target))",
           breaks=("input_gradients",), says="probability"),
    # abs after the max: a large negative gradient is lost to a small positive one.
    Mutant("saliency_abs_of_the_max", GRADIENTS,
           "return np.abs(np.asarray(gradients)).max(axis=-1)",
           "return np.abs(np.asarray(gradients).max(axis=-1))",
           breaks=("saliency_map",), says="abs after max"),
    Mutant("saliency_mean_over_channels", GRADIENTS,
           "return np.abs(np.asarray(gradients)).max(axis=-1)",
           "return np.abs(np.asarray(gradients)).mean(axis=-1)",
           breaks=("saliency_map",), says="MEAN"),
    # The noise std taken as sigma itself, not sigma times each image's range.
    Mutant("smoothgrad_absolute_sigma", GRADIENTS,
           "scale = (sigma * value_range).reshape(-1, *([1] * (x.ndim - 1)))",
           "scale = (sigma + 0 * value_range).reshape(-1, *([1] * (x.ndim - 1)))",
           breaks=("smoothgrad",), says="sigma itself"),
    # The ordinary ReLU backward pass: negative gradients pass too.
    Mutant("guided_relu_is_a_plain_relu", GRADIENTS,
           "keep = tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)",
           "keep = tf.cast(x > 0, upstream.dtype)",
           breaks=("guided_relu",), says="ordinary ReLU"),
    # The model called whole: its ReLU layers are never swapped.
    Mutant("guided_backprop_never_swaps_the_relus", GRADIENTS,
           "is_relu = isinstance(step, keras.layers.ReLU)",
           "is_relu = False",
           breaks=("guided_backprop",), says="in place of every"),
    # The layers run in training mode: Dropout and BatchNormalization change the output.
    Mutant("guided_backprop_in_training_mode", GRADIENTS,
           "h = guided_relu(h) if is_relu else step(h, training=False)",
           "h = guided_relu(h) if is_relu else step(h, training=True)",
           breaks=("guided_backprop",), says="training mode"),
    # The left Riemann sum.
    Mutant("ig_left_riemann_sum", GRADIENTS,
           "alpha = (k + 0.5) / steps",
           "alpha = k / steps",
           breaks=("integrated_gradients", "completeness"), says="LEFT Riemann"),
    Mutant("ig_forgets_x_minus_baseline", GRADIENTS,
           "return (x - baseline) * total / steps",
           "return total / steps",
           breaks=("integrated_gradients", "completeness"), says="x - baseline"),
    Mutant("completeness_gap_sign_flipped", GRADIENTS,
           "return total - (score_x - score_b)",
           "return (score_x - score_b) - total",
           breaks=("completeness",), says="sign is flipped"),
    # The model evaluated on the background mean: f(mean b) is not mean f(b).
    Mutant("value_function_averages_the_background_first", SHAPLEY,
           "z = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])",
           "z = np.where(masks[:, None, :], x[None, None, :], "
           "background.mean(axis=0)[None, None, :] + 0 * background[None, :, :])",
           breaks=("masked_value_function",), says="BEFORE the model"),
    # The where's branches swapped: the coalition takes the background, the others x.
    Mutant("value_function_swaps_the_where", SHAPLEY,
           "z = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])",
           "z = np.where(masks[:, None, :], background[None, :, :], x[None, None, :])",
           breaks=("masked_value_function",), says="swapped"),
    # 1/M for every coalition size: not divided by the number of coalitions of that size.
    Mutant("shapley_weight_uniform_over_sizes", SHAPLEY,
           "weights = [math.factorial(int(s)) * math.factorial(n_players - int(s) - 1)\n"
           "               / math.factorial(n_players) for s in sizes.reshape(-1)]",
           "weights = [1.0 / n_players for s in sizes.reshape(-1)]",
           breaks=("shapley_weight", "exact_shapley")),
    # Player i's gain taken against the full coalition (row r) without subtracting v(S).
    Mutant("exact_shapley_without_the_marginal", SHAPLEY,
           "gains = values[without + 2 ** i] - values[without]",
           "gains = values[without + 2 ** i]",
           breaks=("exact_shapley",), says="efficiency"),
    # One order reused for every sample: the estimate never improves.
    Mutant("permutation_shapley_one_order", SHAPLEY,
           "orders = [rng.permutation(n_players) for _ in range(permutations)]",
           "orders = [rng.permutation(n_players)] * permutations",
           breaks=("permutation_shapley", "permutation_error_shrinks")),
    # The gain of the j-th player to join credited to player j, not to player order[j].
    Mutant("permutation_shapley_credits_the_position", SHAPLEY,
           "phi[order] += np.diff(values[p])",
           "phi += np.diff(values[p])",
           breaks=("permutation_shapley", "permutation_error_shrinks"), says="POSITION"),
    Mutant("shapley_kernel_without_the_binomial", SHAPLEY,
           "(n_players - 1) / (math.comb(n_players, int(s)) * int(s) * (n_players - int(s)))",
           "(n_players - 1) / (int(s) * (n_players - int(s)))",
           breaks=("shapley_kernel", "kernel_shap"), says="binomial"),
    # The efficiency constraint dropped: the last player solved freely with an intercept.
    Mutant("kernel_shap_without_efficiency", SHAPLEY,
           "return np.append(head, total - head.sum())",
           "return np.append(head, 0.0)",
           breaks=("kernel_shap",), says="sum to"),
    # Ordinary least squares: the kernel weights forgotten.
    Mutant("kernel_shap_unweighted", SHAPLEY,
           "root = np.sqrt(shapley_kernel(n_players, z.sum(axis=1).astype(int)))",
           "root = np.ones(len(z))",
           breaks=("kernel_shap",), says="ORDINARY least squares"),
]
