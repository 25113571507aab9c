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
    k12, k11, k22 = (np.asarray(a, dtype=np.float64) for a in (k12, k11, k22))
    norm = np.sqrt(k11 * k22)
    cos = np.clip(k12 / norm, -1.0, 1.0)
    theta = np.arccos(cos)
    e_relu = norm / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    e_step = (np.pi - theta) / (2 * np.pi)
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
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    d = x1.shape[1]
    k12 = bias_var + weight_var * x1 @ x2.T / d
    k11 = bias_var + weight_var * np.sum(x1 * x1, axis=1) / d
    k22 = bias_var + weight_var * np.sum(x2 * x2, axis=1) / d
    ntk = k12.copy()
    for _ in range(depth):
        e_relu, e_step = relu_expectations(k12, k11[:, None], k22[None, :])
        new_k12 = bias_var + weight_var * e_relu
        ntk = new_k12 + weight_var * e_step * ntk
        k12 = new_k12
        k11 = bias_var + weight_var * k11 / 2
        k22 = bias_var + weight_var * k22 / 2
    return k12, ntk


# ---- GP regression -------------------------------------------------------------------------

def gp_posterior(k_train, k_cross, k_test_diag, y_train, noise_var):
    """The GP posterior of f at test points, given noisy training targets.

    k_train: (n, n) K(X, X); k_cross: (m, n) K(X*, X); k_test_diag: (m,) K(x*, x*);
    y_train: (n,); noise_var: the variance of the observation noise. Returns (mean, var),
    both (m,) float64: mean = K* (K + noise I)^-1 y, var = diag(K**) - diag(K* (K + noise I)^-1
    K*^T), the variance of f(x*) itself (no noise added).
    """
    k_train = np.asarray(k_train, dtype=np.float64)
    k_cross = np.asarray(k_cross, dtype=np.float64)
    n = k_train.shape[0]
    L = np.linalg.cholesky(k_train + noise_var * np.eye(n))
    from scipy.linalg import solve_triangular
    z = solve_triangular(L, np.asarray(y_train, dtype=np.float64), lower=True)
    alpha = solve_triangular(L.T, z, lower=False)
    mean = k_cross @ alpha
    v = solve_triangular(L, k_cross.T, lower=True)
    var = np.asarray(k_test_diag, dtype=np.float64) - np.sum(v ** 2, axis=0)
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
        w_scale = (self.weight_var / self.fan_in) ** 0.5
        b_scale = self.bias_var ** 0.5
        return w_scale * keras.ops.matmul(x, self.kernel) + b_scale * self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units, "weight_var": self.weight_var,
                "bias_var": self.bias_var, "seed": self.seed}


def ntk_mlp(input_dim, width, depth, weight_var=2.0, bias_var=0.1, seed=0):
    """A keras.Sequential of `depth` NTKDense(width) layers, each followed by a ReLU, and an
    NTKDense(1) output (no activation), built for inputs (None, input_dim). Layer k gets
    seed + k, so the same seed gives the same network."""
    layers = [keras.Input(shape=(input_dim,))]
    for k in range(depth):
        layers += [NTKDense(width, weight_var, bias_var, seed=seed + k), keras.layers.ReLU()]
    layers.append(NTKDense(1, weight_var, bias_var, seed=seed + depth))
    return keras.Sequential(layers)


# ---- the empirical NTK and training --------------------------------------------------------

def empirical_ntk(model, x1, x2):
    """The empirical NTK of a one-output model: Theta[i, j] = <df(x1_i)/dw, df(x2_j)/dw>,
    summed over every trainable weight. Returns (n1, n2) float64."""
    def jac(x):
        x = tf.convert_to_tensor(np.asarray(x, dtype=np.float32))
        with tf.GradientTape() as tape:
            out = model(x)[:, 0]
        jacs = tape.jacobian(out, model.trainable_variables)
        n = x.shape[0]
        return np.concatenate([np.reshape(j.numpy(), (n, -1)).astype(np.float64) for j in jacs], axis=1)
    return jac(x1) @ jac(x2).T


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
    variables = model.trainable_variables
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_sum((model(x)[:, 0] - y) ** 2)
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)
        outputs.append(model(x)[:, 0].numpy())
    return np.asarray(outputs, dtype=np.float64)


def ntk_relative_change(model, x, y, learning_rate, steps):
    """How far the empirical NTK on x moves while train_full_batch trains the model:
    ||Theta_after - Theta_before||_F / ||Theta_before||_F (a float)."""
    before = empirical_ntk(model, x, x)
    train_full_batch(model, x, y, learning_rate, steps)
    after = empirical_ntk(model, x, x)
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))


def kernel_gradient_flow(theta, y, u0, learning_rate, times):
    """Gradient flow of the outputs under a fixed kernel: the solution of
    du/dt = -learning_rate * Theta (u - y), u(0) = u0, which is
    u(t) = y + exp(-learning_rate * Theta * t) (u0 - y).

    theta: (n, n) symmetric PSD; y, u0: (n,); times: (T,). Returns (T, n) float64.
    """
    theta = np.asarray(theta, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    u0 = np.asarray(u0, dtype=np.float64)
    lam, V = np.linalg.eigh(theta)
    c = V.T @ (u0 - y)
    times = np.asarray(times, dtype=np.float64)
    decay = np.exp(-learning_rate * lam[None, :] * times[:, None])
    return y[None, :] + (decay * c[None, :]) @ V.T
