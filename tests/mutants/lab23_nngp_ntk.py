"""Mutants of lab23_nngp_ntk: the mistakes students make with the arc-cosine kernel, the
NNGP and NTK recursions, GP regression, the NTK parameterisation and kernel gradient flow.

The network checks run on the checks' own MLP (Dense without biases and a Rescaling) and,
for the drift, with Keras's fit and a gradient loop standing in for train_full_batch and
empirical_ntk, so a mistake in one function breaks that function's checks only."""
from tests.mutants import Mutant

KERNELS = "kernels.py"

MUTANTS = [
    # The arc-cosine kernel of degree 1 with 1/pi: right for the kernel of sqrt(2) relu, twice
    # the covariance of relu itself.
    Mutant("arccos_one_over_pi", KERNELS,
           "e_relu = norms / (2.0 * np.pi) *",
           "e_relu = norms / np.pi *",
           breaks=("relu_expectations", "nngp_kernel", "ntk_kernel"), says="1/pi"),
    # The derivative's expectation with the angle instead of its complement.
    Mutant("step_expectation_uses_theta", KERNELS,
           "e_step = (np.pi - theta) / (2.0 * np.pi)",
           "e_step = theta / (2.0 * np.pi)",
           breaks=("relu_expectations", "ntk_kernel"), says="theta / \\(2 pi\\)"),
    # The first layer without the 1/d of the NTK parameterisation's sigma_w / sqrt(d).
    Mutant("first_layer_not_divided_by_dim", KERNELS,
           "k12 = bias_var + weight_var * (x1 @ x2.T) / dim\n"
           "    k11 = bias_var + weight_var * np.sum(x1 * x1, axis=1) / dim\n"
           "    k22 = bias_var + weight_var * np.sum(x2 * x2, axis=1) / dim",
           "k12 = bias_var + weight_var * (x1 @ x2.T)\n"
           "    k11 = bias_var + weight_var * np.sum(x1 * x1, axis=1)\n"
           "    k22 = bias_var + weight_var * np.sum(x2 * x2, axis=1)",
           breaks=("nngp_kernel", "ntk_kernel"), says="random ReLU networks"),
    # No clip before arccos: the cosine of equal vectors rounds a few ulps past 1 and gives nan.
    Mutant("arccos_without_the_clip", KERNELS,
           "cos = np.clip(k12 / norms, -1.0, 1.0)",
           "cos = k12 / norms",
           breaks=("relu_expectations", "ntk_kernel"), says="clip cos\\(theta\\)"),
    # The diagonals K(x, x) left at the first layer's: every later layer's cosine is wrong.
    Mutant("diagonals_not_propagated", KERNELS,
           "        k11 = bias_var + weight_var * k11 / 2.0   # E[relu(u)^2] = k / 2\n"
           "        k22 = bias_var + weight_var * k22 / 2.0\n",
           "",
           breaks=("nngp_kernel", "ntk_kernel"), says="nngp_kernel"),
    # The NTK recursion without the NNGP term of the layer's own weights.
    Mutant("ntk_without_the_nngp_term", KERNELS,
           "ntk = k12 + weight_var * e_step * ntk",
           "ntk = weight_var * e_step * ntk",
           breaks=("ntk_kernel",), says="random networks"),
    # The observation noise added to the variance of f(x*).
    Mutant("gp_variance_adds_the_noise", KERNELS,
           "var = np.asarray(k_test_diag, dtype=np.float64) - np.sum(v * v, axis=0)",
           "var = np.asarray(k_test_diag, dtype=np.float64) - np.sum(v * v, axis=0) + noise_var",
           breaks=("gp_posterior",), says="noise_var added"),
    # The Cholesky factor of K alone: the observation noise ignored.
    Mutant("gp_ignores_the_noise", KERNELS,
           "chol = np.linalg.cholesky(k_train + noise_var * np.eye(len(k_train)))",
           "chol = np.linalg.cholesky(k_train)",
           breaks=("gp_posterior",), says="noise_var is left out"),
    # The layer scaled by the variances instead of the standard deviations.
    Mutant("ntk_dense_scales_by_variance", KERNELS,
           "float(np.sqrt(self.weight_var / self.fan_in))\n"
           "                + self.bias * float(np.sqrt(self.bias_var)))",
           "float(self.weight_var / self.fan_in)\n"
           "                + self.bias * float(self.bias_var))",
           breaks=("ntk_dense",), says="square roots"),
    # Every layer with the same seed.
    Mutant("ntk_mlp_one_seed_for_all_layers", KERNELS,
           "NTKDense(width, weight_var, bias_var, seed=seed + k)",
           "NTKDense(width, weight_var, bias_var, seed=seed)",
           breaks=("ntk_mlp",)),
    # A ReLU after the output layer as well: the outputs are never negative.
    Mutant("relu_on_the_output", KERNELS,
           "    layers.append(NTKDense(1, weight_var, bias_var, seed=seed + depth))\n",
           "    layers += [NTKDense(1, weight_var, bias_var, seed=seed + depth), keras.layers.ReLU()]\n",
           breaks=("ntk_mlp",), says="no activation after it"),
    # The Jacobian of the kernels only.
    Mutant("empirical_ntk_forgets_the_biases", KERNELS,
           "for p in parts],",
           "for p in parts if len(p.shape) > 2],",
           breaks=("empirical_ntk",), says="biases are missing"),
    # The mean squared error: the flow runs n times slower than du/dt = -eta Theta (u - y).
    Mutant("train_on_the_mean_loss", KERNELS,
           "loss = 0.5 * tf.reduce_sum(",
           "loss = 0.5 * tf.reduce_mean(",
           breaks=("train_full_batch",), says="MEAN of the squared errors"),
    # The flow started from zero outputs.
    Mutant("flow_ignores_u0", KERNELS,
           "start = vectors.T @ (np.asarray(u0, dtype=np.float64) - y)",
           "start = vectors.T @ (-y)",
           breaks=("kernel_gradient_flow",), says="u0 is ignored"),
    # The outputs before the first step not recorded: steps rows, not steps + 1.
    Mutant("train_forgets_the_initial_outputs", KERNELS,
           "    outputs = [model(x)[:, 0].numpy()]\n",
           "    outputs = []\n",
           breaks=("train_full_batch",), says="the first row is the output before any training"),
    # The flow at time t without the learning rate.
    Mutant("flow_without_the_learning_rate", KERNELS,
           "decay = np.exp(-learning_rate * np.outer(",
           "decay = np.exp(-np.outer(",
           breaks=("kernel_gradient_flow",), says="learning rate is missing"),
    # The change measured relative to the trained NTK.
    Mutant("drift_relative_to_the_trained_ntk", KERNELS,
           "np.linalg.norm(after - before) / np.linalg.norm(before)",
           "np.linalg.norm(after - before) / np.linalg.norm(after)",
           breaks=("ntk_drift",), says="Theta_after"),
]
