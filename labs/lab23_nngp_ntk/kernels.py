"""Infinitely wide ReLU networks as kernels: the NNGP kernel, GP regression with it, the
empirical and the analytic neural tangent kernel (NTK), and gradient flow in kernel space.

Conventions (the handout explains them). A network of `depth` hidden ReLU layers in the
NTK parameterisation, inputs x of dimension d, widths n_l:

    h^1 = sigma_w / sqrt(d) W^1 x + sigma_b b^1
    h^{l+1} = sigma_w / sqrt(n_l) W^{l+1} relu(h^l) + sigma_b b^{l+1},   l = 1..depth
    f(x) = h^{depth+1}   (one output unit)

with every entry of W and b drawn from N(0, 1); weight_var = sigma_w^2, bias_var = sigma_b^2.
Kernel functions take and return float64 numpy arrays.
"""
from __future__ import annotations

import numpy as np

from dlkit import backend

keras = backend.keras()
tf = backend.tensorflow()


# ---- the arc-cosine kernel and the NNGP ------------------------------------------------------

def relu_expectations(k12, k11, k22):
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]).

    k12, k11, k22: arrays that broadcast together (k11, k22 > 0). Returns (e_relu, e_step),
    both float64 of the broadcast shape.
    """
    # TODO: with cos(theta) = k12 / sqrt(k11 k22) (clipped to [-1, 1]): e_relu = sqrt(k11 k22) / (2
    #       pi) * (sin(theta) + (pi - theta) cos(theta)), e_step = (pi - theta) / (2 pi)
    raise NotImplementedError("fill in the TODO above")
    return e_relu, e_step


def nngp_kernel(x1, x2, depth, weight_var=2.0, bias_var=0.1):
    """The NNGP kernel K(x1, x2) of the output of a ReLU network with `depth` hidden layers.

    x1: (n1, d), x2: (n2, d). Returns (n1, n2) float64: the covariance, over random
    initialisations, of f(x1_i) and f(x2_j) as every width goes to infinity.
    """
    return ntk_kernel(x1, x2, depth, weight_var, bias_var)[0]


def ntk_kernel(x1, x2, depth, weight_var=2.0, bias_var=0.1):
    """The NNGP kernel and the analytic NTK of the same network: returns (nngp, ntk), both
    (n1, n2) float64.

    K^1 = bias_var + weight_var x1 x2^T / d and Theta^1 = K^1; then, `depth` times,
    K^{l+1} = bias_var + weight_var E[relu relu] under K^l, and
    Theta^{l+1} = K^{l+1} + weight_var E[relu' relu'] under K^l * Theta^l.
    """
    # TODO: track the diagonals K(x1_i, x1_i) and K(x2_j, x2_j) with the cross kernel:
    #       relu_expectations(k12, k11[:, None], k22[None, :]) at every layer
    raise NotImplementedError("fill in the TODO above")
    return k12, ntk


# ---- GP regression -------------------------------------------------------------------------

def gp_posterior(k_train, k_cross, k_test_diag, y_train, noise_var):
    """The GP posterior of f at test points, given noisy training targets.

    k_train: (n, n) K(X, X); k_cross: (m, n) K(X*, X); k_test_diag: (m,) K(x*, x*);
    y_train: (n,); noise_var: the variance of the observation noise. Returns (mean, var),
    both (m,) float64: mean = K* (K + noise I)^-1 y, var = diag(K**) - diag(K* (K + noise I)^-1
    K*^T), the variance of f(x*) itself (no noise added).
    """
    # TODO: Cholesky factor L of K + noise I; alpha = L^-T L^-1 y; mean = K* alpha; v = L^-1 K*^T;
    #       var = k_test_diag - sum(v^2, axis=0). Never form the inverse.
    raise NotImplementedError("fill in the TODO above")
    return mean, var


# ---- finite networks in the NTK parameterisation -------------------------------------------

@keras.saving.register_keras_serializable(package="lab23")
class NTKDense(keras.layers.Layer):
    """A dense layer in the NTK parameterisation: kernel and bias drawn from N(0, 1), and
    call(x) = sqrt(weight_var / fan_in) x @ kernel + sqrt(bias_var) bias."""

    def __init__(self, units, weight_var=2.0, bias_var=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.weight_var = weight_var
        self.bias_var = bias_var
        self.seed = seed

    def build(self, input_shape):
        self.fan_in = int(input_shape[-1])
        # Two seeds: one initializer for both would make the bias a copy of the kernel's
        # first row, correlated with the weights of the first input.
        bias_seed = None if self.seed is None else self.seed + 7919
        self.kernel = self.add_weight(
            shape=(self.fan_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))
        self.bias = self.add_weight(
            shape=(self.units,), name="bias",
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=bias_seed))

    def call(self, x):
        # TODO: scale the product by sqrt(weight_var / fan_in) and the bias by sqrt(bias_var): the
        #       weights themselves stay N(0, 1)
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "units": self.units, "weight_var": self.weight_var,
                "bias_var": self.bias_var, "seed": self.seed}


def ntk_mlp(input_dim, width, depth, weight_var=2.0, bias_var=0.1, seed=0):
    """A keras.Sequential of `depth` NTKDense(width) layers, each followed by a ReLU, and an
    NTKDense(1) output (no activation), built for inputs (None, input_dim). Layer k gets
    seed + k, so the same seed gives the same network."""
    # TODO: keras.Input(shape=(input_dim,)), then [NTKDense(width, ..., seed=seed + k),
    #       keras.layers.ReLU()] * depth, then NTKDense(1, ..., seed=seed + depth)
    raise NotImplementedError("fill in the TODO above")


# ---- the empirical NTK and training --------------------------------------------------------

def empirical_ntk(model, x1, x2):
    """The empirical NTK of a one-output model: Theta[i, j] = <df(x1_i)/dw, df(x2_j)/dw>,
    summed over every trainable weight. Returns (n1, n2) float64."""
    # TODO: per-example Jacobians J (n, P) from tape.jacobian(model(x)[:, 0],
    #       model.trainable_variables), each flattened to (n, -1) and concatenated; Theta = J1 J2^T
    raise NotImplementedError("fill in the TODO above")


def train_full_batch(model, x, y, learning_rate, steps):
    """Full-batch gradient descent on loss = 0.5 * sum_i (f(x_i) - y_i)^2 (a SUM over the
    examples, so that the outputs follow du/dt = -learning_rate * Theta (u - y)).

    x: (n, d), y: (n,). Returns (steps + 1, n) float64: the outputs f(x) before the first
    step and after each step.
    """
    x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
    y = tf.convert_to_tensor(np.asarray(y, dtype=np.float32))
    optimizer = keras.optimizers.SGD(learning_rate)
    outputs = [model(x)[:, 0].numpy()]
    # TODO: `steps` times: the loss above inside a tf.GradientTape, its gradient with respect to
    #       model.trainable_variables, optimizer.apply(grads, variables); append the new outputs
    raise NotImplementedError("fill in the TODO above")
    return np.asarray(outputs, dtype=np.float64)


def ntk_relative_change(model, x, y, learning_rate, steps):
    """How far the empirical NTK on x moves while train_full_batch trains the model:
    ||Theta_after - Theta_before||_F / ||Theta_before||_F (a float)."""
    # TODO: empirical_ntk(model, x, x) before and after train_full_batch(model, x, y, learning_rate,
    #       steps); the Frobenius norm of the change over that of the first
    raise NotImplementedError("fill in the TODO above")


def kernel_gradient_flow(theta, y, u0, learning_rate, times):
    """Gradient flow of the outputs under a fixed kernel: the solution of
    du/dt = -learning_rate * Theta (u - y), u(0) = u0, which is
    u(t) = y + exp(-learning_rate * Theta * t) (u0 - y).

    theta: (n, n) symmetric PSD; y, u0: (n,); times: (T,). Returns (T, n) float64.
    """
    # TODO: eigendecompose the symmetric theta = V diag(lam) V^T (np.linalg.eigh); exp(-eta theta t)
    #       = V diag(exp(-eta lam t)) V^T
    raise NotImplementedError("fill in the TODO above")
