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
    k12, k11, k22 = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (k12, k11, k22)))
    scale = np.sqrt(k11 * k22)
    c = np.minimum(np.maximum(k12 / scale, -1.0), 1.0)
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    theta = np.arctan2(s, c)
    e_relu = scale * (s + (np.pi - theta) * c) / (2.0 * np.pi)
    e_step = 0.5 - theta / (2.0 * np.pi)
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
    x1 = np.atleast_2d(np.asarray(x1, dtype=np.float64))
    x2 = np.atleast_2d(np.asarray(x2, dtype=np.float64))
    d = x1.shape[-1]
    def first(a, b):
        return bias_var + weight_var * np.einsum("id,jd->ij", a, b) / d
    k12 = first(x1, x2)
    k11 = np.diag(first(x1, x1)).copy()
    k22 = np.diag(first(x2, x2)).copy()
    theta_l = k12
    for layer in range(depth):
        e12, step12 = relu_expectations(k12, k11[:, None], k22[None, :])
        e11, _ = relu_expectations(k11, k11, k11)
        e22, _ = relu_expectations(k22, k22, k22)
        k12 = bias_var + weight_var * e12
        theta_l = k12 + weight_var * step12 * theta_l
        k11 = bias_var + weight_var * e11
        k22 = bias_var + weight_var * e22
    ntk = theta_l
    return k12, ntk


# ---- GP regression -------------------------------------------------------------------------

def gp_posterior(k_train, k_cross, k_test_diag, y_train, noise_var):
    """The GP posterior of f at test points, given noisy training targets.

    k_train: (n, n) K(X, X); k_cross: (m, n) K(X*, X); k_test_diag: (m,) K(x*, x*);
    y_train: (n,); noise_var: the variance of the observation noise. Returns (mean, var),
    both (m,) float64: mean = K* (K + noise I)^-1 y, var = diag(K**) - diag(K* (K + noise I)^-1
    K*^T), the variance of f(x*) itself (no noise added).
    """
    from scipy.linalg import cho_factor, cho_solve
    k_train = np.asarray(k_train, dtype=np.float64)
    k_cross = np.asarray(k_cross, dtype=np.float64)
    y_train = np.asarray(y_train, dtype=np.float64)
    factor = cho_factor(k_train + noise_var * np.eye(len(k_train)), lower=True)
    mean = k_cross @ cho_solve(factor, y_train)
    var = np.asarray(k_test_diag, dtype=np.float64) - np.einsum(
        "ij,ji->i", k_cross, cho_solve(factor, k_cross.T))
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
        kernel = self.kernel * tf.sqrt(tf.cast(self.weight_var / self.fan_in, self.kernel.dtype))
        bias = self.bias * tf.sqrt(tf.cast(self.bias_var, self.bias.dtype))
        return tf.matmul(x, kernel) + bias

    def get_config(self):
        return {**super().get_config(), "units": self.units, "weight_var": self.weight_var,
                "bias_var": self.bias_var, "seed": self.seed}


def ntk_mlp(input_dim, width, depth, weight_var=2.0, bias_var=0.1, seed=0):
    """A keras.Sequential of `depth` NTKDense(width) layers, each followed by a ReLU, and an
    NTKDense(1) output (no activation), built for inputs (None, input_dim). Layer k gets
    seed + k, so the same seed gives the same network."""
    model = keras.Sequential(name="ntk_mlp")
    model.add(keras.Input(shape=(input_dim,)))
    for k in range(depth):
        model.add(NTKDense(width, weight_var=weight_var, bias_var=bias_var, seed=seed + k))
        model.add(keras.layers.Activation("relu"))
    model.add(NTKDense(1, weight_var=weight_var, bias_var=bias_var, seed=seed + depth))
    return model


# ---- the empirical NTK and training --------------------------------------------------------

def empirical_ntk(model, x1, x2):
    """The empirical NTK of a one-output model: Theta[i, j] = <df(x1_i)/dw, df(x2_j)/dw>,
    summed over every trainable weight. Returns (n1, n2) float64."""
    x1 = np.asarray(x1, dtype=np.float32)
    x2 = np.asarray(x2, dtype=np.float32)
    n1 = len(x1)
    x = tf.constant(np.concatenate([x1, x2], axis=0))
    with tf.GradientTape(persistent=True) as tape:
        f = model(x)[:, 0]
    blocks = []
    for var in model.trainable_variables:
        j = tape.jacobian(f, var)
        blocks.append(tf.reshape(j, (tf.shape(j)[0], -1)))
    del tape
    J = tf.concat(blocks, axis=1).numpy().astype(np.float64)
    return J[:n1] @ J[n1:].T


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
    for step in range(steps):
        with tf.GradientTape() as tape:
            residual = keras.ops.squeeze(model(x), axis=-1) - y
            loss = 0.5 * keras.ops.sum(keras.ops.square(residual))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        outputs.append(np.asarray(model(x))[:, 0])
    return np.asarray(outputs, dtype=np.float64)


def ntk_relative_change(model, x, y, learning_rate, steps):
    """How far the empirical NTK on x moves while train_full_batch trains the model:
    ||Theta_after - Theta_before||_F / ||Theta_before||_F (a float)."""
    theta0 = empirical_ntk(model, x, x)
    _ = train_full_batch(model, x, y, learning_rate, steps)
    theta1 = empirical_ntk(model, x, x)
    return float(np.sqrt(np.sum((theta1 - theta0) ** 2)) / np.sqrt(np.sum(theta0 ** 2)))


def kernel_gradient_flow(theta, y, u0, learning_rate, times):
    """Gradient flow of the outputs under a fixed kernel: the solution of
    du/dt = -learning_rate * Theta (u - y), u(0) = u0, which is
    u(t) = y + exp(-learning_rate * Theta * t) (u0 - y).

    theta: (n, n) symmetric PSD; y, u0: (n,); times: (T,). Returns (T, n) float64.
    """
    lam, V = np.linalg.eigh(np.asarray(theta, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64)
    r0 = np.asarray(u0, dtype=np.float64) - y
    rows = []
    for t in np.asarray(times, dtype=np.float64).ravel():
        rows.append(y + V @ (np.exp(-learning_rate * t * lam) * (V.T @ r0)))
    return np.stack(rows).reshape(len(rows), len(y))
