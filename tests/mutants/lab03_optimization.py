"""Mutants of lab03_optimization: the slips of a first optimizer, initializer and batch norm."""
from tests.mutants import Mutant

OPTIMIZERS = "optimizers.py"
INITIALIZATION = "initialization.py"
BATCHNORM = "batchnorm.py"
CONDITIONING = "conditioning.py"

MUTANTS = [
    # The first steps are then too large (m / sqrt(v) starts near sqrt(1 - beta_2) / (1 -
    # beta_1) times the corrected ratio), but a short training run hardly notices: only the
    # step-by-step comparison catches it.
    Mutant("adam_without_bias_correction", OPTIMIZERS,
           "alpha = learning_rate * ops.sqrt(1.0 - ops.power(beta_2, step)) \\\n"
           "            / (1.0 - ops.power(beta_1, step))",
           "alpha = learning_rate",
           breaks=("adam",)),
    Mutant("rmsprop_epsilon_outside_the_root", OPTIMIZERS,
           "learning_rate * gradient / ops.sqrt(mean_square + self.epsilon)",
           "learning_rate * gradient / (ops.sqrt(mean_square) + self.epsilon)",
           breaks=("rmsprop",)),
    Mutant("nesterov_same_as_heavy_ball", OPTIMIZERS,
           "        if self.nesterov:\n"
           "            # Step from where the momentum is about to carry w: look ahead by mu * v.\n"
           "            self.assign_add(variable, momentum * velocity - learning_rate * gradient)\n"
           "        else:\n"
           "            self.assign_add(variable, velocity)\n",
           "        self.assign_add(variable, velocity)\n",
           breaks=("sgd_nesterov",)),
    # He's std with the wrong fan: sqrt(2 / fan_out). Square layers hide it; the 64 -> 512
    # first layer of the depth check starts every later layer 8 times too quiet.
    Mutant("he_init_with_fan_out", INITIALIZATION,
           'std = he_std(fan_in) if self.mode == "he"',
           'std = he_std(fan_out) if self.mode == "he"',
           breaks=("scaled_normal_samples", "activation_variance_through_depth")),
    Mutant("batchnorm_batch_statistics_at_inference", BATCHNORM,
           "            mean, variance = self.moving_mean, self.moving_variance\n",
           "            mean, variance = ops.moments(x, axes=batch_axes)\n",
           breaks=("batchnorm_inference",)),
    Mutant("batchnorm_moving_average_momentum_inverted", BATCHNORM,
           "            self.moving_mean.assign(self.momentum * self.moving_mean\n"
           "                                    + (1.0 - self.momentum) * mean)\n"
           "            self.moving_variance.assign(self.momentum * self.moving_variance\n"
           "                                        + (1.0 - self.momentum) * variance)\n",
           "            self.moving_mean.assign((1.0 - self.momentum) * self.moving_mean\n"
           "                                    + self.momentum * mean)\n"
           "            self.moving_variance.assign((1.0 - self.momentum) * self.moving_variance\n"
           "                                        + self.momentum * variance)\n",
           breaks=("batchnorm_moving_statistics",)),
    # np.linalg.cond is |lambda|_max / |lambda|_min: finite for an indefinite matrix, where
    # the docstring asks for np.inf (no minimum).
    Mutant("condition_number_by_linalg_cond", CONDITIONING,
           "    return float(largest / smallest) if smallest > 0 else float(np.inf)\n",
           "    return float(np.linalg.cond(np.asarray(hessian, dtype=np.float64)))\n",
           breaks=("hessian_and_condition_number",), says="np.linalg.cond"),
    # std + epsilon in the denominator changes the training set by 1e-8 relative, and blows
    # the test set's copy of a constant training feature up by 1e8.
    Mutant("standardize_epsilon_in_the_denominator", CONDITIONING,
           "    std = np.where(std > epsilon, std, 1.0)\n"
           "    return (x_train - mean) / std, (x_test - mean) / std\n",
           "    return (x_train - mean) / (std + epsilon), (x_test - mean) / (std + epsilon)\n",
           breaks=("standardize",), says="std \\+ epsilon"),
    Mutant("scaled_normal_truncated", INITIALIZATION,
           "return keras.random.normal(shape, stddev=std, dtype=dtype, seed=self.seed)",
           "return keras.random.truncated_normal(shape, stddev=std, dtype=dtype, seed=self.seed)",
           breaks=("scaled_normal_samples", "activation_variance_through_depth"),
           says="truncated"),
    Mutant("batchnorm_statistics_without_gradient", BATCHNORM,
           "            mean, variance = ops.moments(x, axes=batch_axes)\n",
           "            mean, variance = ops.moments(x, axes=batch_axes)\n"
           "            mean, variance = ops.stop_gradient(mean), ops.stop_gradient(variance)\n",
           breaks=("batchnorm_input_gradient",), says="as if the batch mean and variance"),
    # Right for (N, C) inputs only: on feature maps the statistics get the shape (H, W, C).
    Mutant("batchnorm_statistics_over_axis_0_only", BATCHNORM,
           "            mean, variance = ops.moments(x, axes=batch_axes)\n",
           "            mean, variance = ops.moments(x, axes=[0])\n",
           breaks=("batchnorm_training",), says="every axis but the last"),
]
