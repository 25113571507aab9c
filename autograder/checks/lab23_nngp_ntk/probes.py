"""Helpers shared by the checks of lab23_nngp_ntk: independent references, never the lab's
algorithms. Random wide networks are drawn in numpy and differentiated by hand (the lab
uses recursions and autodiff); the per-example gradient loop is the slow way the lab's
Jacobian replaces; the check's Keras MLP has no biases (not the lab's NTKDense)."""
import numpy as np

from autograder.verdicts import expect_close, expect_true


def unit_inputs(rng, n, dim):
    """n points on the unit sphere of R^dim, float64."""
    x = rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_network_kernels(x, depth, width, weight_var, bias_var, nets, rng):
    """Per-network estimates, over `nets` random ReLU networks of `width` units in the NTK
    parameterisation, of the output covariance (averaged over the readout's random weights,
    which makes it sigma_b^2 + sigma_w^2 relu(h)·relu(h')/width exactly) and of the NTK (by
    backpropagation written out). Returns (covariances, ntks), each (nets, n, n)."""
    covariances, ntks = [], []
    for _ in range(nets):
        acts, pres, weights = [x], [], []
        a = x
        for layer in range(depth + 1):
            units = width if layer < depth else 1
            w = rng.normal(size=(a.shape[1], units))
            b = rng.normal(size=units)
            h = np.sqrt(weight_var / a.shape[1]) * a @ w + np.sqrt(bias_var) * b
            weights.append(w)
            pres.append(h)
            if layer < depth:
                a = np.maximum(h, 0.0)
                acts.append(a)
        last = acts[-1]
        covariances.append(bias_var + weight_var * last @ last.T / last.shape[1])
        delta = np.ones((len(x), 1))
        ntk = np.zeros((len(x), len(x)))
        for layer in range(depth, -1, -1):
            a_in = acts[layer]
            ntk += (weight_var * a_in @ a_in.T / a_in.shape[1] + bias_var) * (delta @ delta.T)
            if layer > 0:
                delta = ((delta @ weights[layer].T) * np.sqrt(weight_var / a_in.shape[1])
                         * (pres[layer - 1] > 0))
        ntks.append(ntk)
    return np.asarray(covariances), np.asarray(ntks)


def judge_monte_carlo(value, samples, what, against, *, spread=5.0, bias=0.02):
    """value (n, n) against the mean of per-network samples (nets, n, n): within `spread`
    standard errors plus `bias` of the largest entry (the finite width's own offset)."""
    mean = samples.mean(axis=0)
    error = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    tolerance = spread * error + bias * np.abs(mean).max()
    value = np.asarray(value, dtype=np.float64)
    worst = np.unravel_index(np.argmax(np.abs(value - mean) - tolerance), mean.shape)
    expect_true(value.shape == mean.shape and bool(np.all(np.abs(value - mean) <= tolerance)),
                f"{what}[{worst[0]}, {worst[1]}] = {value[worst]:.4g}, but {against} "
                f"({len(samples)} random networks) give {mean[worst]:.4g} ± "
                f"{tolerance[worst]:.2g}" if value.shape == mean.shape else
                f"{what} has shape {value.shape}, expected {mean.shape}")


def independent_expectations(k12, k11, k22, points=120):
    """E[relu(u) relu(v)] by Gauss-Hermite quadrature on a grid, and E[step(u) step(v)] =
    P(u > 0, v > 0) from scipy's bivariate normal CDF."""
    from scipy.stats import multivariate_normal
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    weights = weights / weights.sum()
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights)
    e_relu, e_step = [], []
    for a, b, c in zip(np.ravel(k12), np.ravel(k11), np.ravel(k22)):
        u = np.sqrt(b) * z1
        rho = float(np.clip(a / np.sqrt(b * c), -1.0, 1.0))
        v = np.sqrt(c) * (rho * z1 + np.sqrt(max(1.0 - rho * rho, 0.0)) * z2)
        e_relu.append(np.sum(w * np.maximum(u, 0) * np.maximum(v, 0)))
        if abs(rho) > 0.9999:   # a degenerate Gaussian: u and v share their sign or not
            e_step.append(0.5 if rho > 0 else 0.0)
        else:
            e_step.append(multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]]).cdf(
                [0.0, 0.0]))
    return np.asarray(e_relu), np.asarray(e_step)


def loop_ntk(model, x1, x2):
    """The empirical NTK from one tf.GradientTape per example (the slow, obvious way)."""
    import tensorflow as tf

    def gradients(x):
        rows = []
        for point in np.asarray(x, dtype=np.float32):
            with tf.GradientTape() as tape:
                out = model(point[None])[0, 0]
            grads = tape.gradient(out, model.trainable_variables)
            rows.append(np.concatenate([np.ravel(g.numpy()) for g in grads]))
        return np.asarray(rows, dtype=np.float64)

    return gradients(x1) @ gradients(x2).T


def check_mlp(input_dim, width, depth, seed, activation="relu"):
    """The check's own MLP in the NTK parameterisation without biases: Dense(use_bias=False)
    with N(0, 1) kernels, each followed by a Rescaling by sqrt(2 / fan_in)."""
    import keras
    stack = [keras.Input((input_dim,))]
    fan_in = input_dim
    for k in range(depth + 1):
        units = width if k < depth else 1
        stack += [keras.layers.Dense(units, use_bias=False, kernel_initializer=keras.
                                      initializers.RandomNormal(stddev=1.0, seed=seed + k)),
                   keras.layers.Rescaling(float(np.sqrt(2.0 / fan_in)))]
        if k < depth:
            stack.append(keras.layers.Activation(activation))
        fan_in = units
    return keras.Sequential(stack)


def keras_fit_trainer(model, x, y, learning_rate, steps):
    """A stand-in for train_full_batch: Keras's own fit with SGD, the full batch `steps` times from tf.data,
    on the summed half squared error. Returns the outputs before and after, (2, n)."""
    import keras
    import tensorflow as tf
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    before = np.asarray(model(x))[:, 0]
    # The summed squared error has twice the gradient of the half sum: half the step.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate / 2.0),
                  loss=keras.losses.MeanSquaredError(reduction="sum"))
    batches = tf.data.Dataset.from_tensors((x, y[:, None])).repeat(steps)
    model.fit(batches, epochs=1, shuffle=False, verbose=0)
    return np.stack([before, np.asarray(model(x))[:, 0]]).astype(np.float64)


def judge_tight(student, reference, what, rtol=1e-6, atol=1e-8):
    expect_close(np.asarray(student, dtype=np.float64), np.asarray(reference, np.float64),
                 what, rtol=rtol, atol=atol)
