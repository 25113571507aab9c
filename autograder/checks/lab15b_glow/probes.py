"""Helpers that the checks of lab15b_glow share: probes run in the worker (they import
TensorFlow inside), verdicts in the grader.

Layers are judged by invariants that need no reference: inverse(forward(x)) == x, and the
log-determinant against the one autodiff computes from the full Jacobian of a tiny input
(tf.GradientTape.batch_jacobian, then slogdet). The Glow model's checks run its code on the
checks' own layers (`StandIn`: an elementwise sinh-arcsinh map from TFP, not the lab's
layers) and tf.nn.space_to_depth as the squeeze. The reverse-KL checks run on flows made of
TFP bijectors, whose density TFP computes itself.
"""
from __future__ import annotations

import json

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import pair
from autograder.verdicts import expect_at_most, expect_close, expect_shape, expect_true

LOG_DET = {"rtol": 1e-4, "atol": 2e-4}
ROUND_TRIP = {"rtol": 1e-4, "atol": 1e-4}


def autodiff_log_det(fn, x):
    """log |det d fn(x) / dx| per example, from the full Jacobian of the flattened values.
    x: (N, ...). Returns (N,) float64."""
    import tensorflow as tf
    x = tf.constant(np.asarray(x, dtype="float32"))
    n = int(x.shape[0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.reshape(fn(x), [n, -1])
    jacobian = tape.batch_jacobian(y, x, experimental_use_pfor=False)
    if jacobian is None:
        raise ValueError("the output does not depend on the input through TensorFlow ops "
                         "(numpy inside the flow?), so autodiff cannot take its Jacobian")
    jacobian = tf.reshape(jacobian, [n, y.shape[1], -1])
    return tf.linalg.slogdet(tf.cast(jacobian, tf.float64))[1].numpy()


def flow_invariants(layer, x, z, what):
    """forward/inverse of a flow layer at x and z, both round trips, autodiff log-dets."""
    fz, f_log_det = pair(layer.forward(x), f"{what}.forward(x)")
    ix, i_log_det = pair(layer.inverse(z), f"{what}.inverse(z)")
    return {"x": x, "z": z, "forward": fz, "forward_log_det": f_log_det,
            "inverse": ix, "inverse_log_det": i_log_det,
            "round_trip_x": pair(layer.inverse(fz), f"{what}.inverse(z)")[0],
            "round_trip_z": pair(layer.forward(ix), f"{what}.forward(x)")[0],
            "autodiff_forward": autodiff_log_det(lambda t: layer.forward(t)[0], x),
            "autodiff_inverse": autodiff_log_det(lambda t: layer.inverse(t)[0], z)}


def judge_invariants(out, what):
    shape = np.shape(out["x"])
    expect_shape(out["forward"], shape, f"the z of {what}.forward(x) for x {shape}")
    expect_shape(out["inverse"], np.shape(out["z"]), f"the x of {what}.inverse(z)")
    expect_close(out["round_trip_x"], out["x"], f"{what}.inverse(forward(x)) (must give x back)",
                 **ROUND_TRIP)
    expect_close(out["round_trip_z"], out["z"], f"{what}.forward(inverse(z)) (must give z back)",
                 **ROUND_TRIP)
    n = shape[0]
    for direction, jac in (("forward", "dz/dx"), ("inverse", "dx/dz")):
        log_det = expect_shape(out[f"{direction}_log_det"], (n,),
                               f"the log_det of {what}.{direction} (one value per example)")
        expect_close(log_det.astype(np.float32), out[f"autodiff_{direction}"].astype(np.float32),
                     f"the log_det of {what}.{direction}, against log|det {jac}| from the "
                     "autodiff Jacobian", **LOG_DET)


# ---- The Glow model's stand-in layers -------------------------------------------------------

_CLASSES: dict = {}


def stand_in_class():
    """A flow layer of known behaviour for the Glow model checks: x = sinh((asinh(z) + skew)
    * tail) per value (TFP's SinhArcsinh as the generative map), skew and tail drawn per
    channel from a seed the layer is built with. Accepts any constructor arguments, like the
    lab's three layers it stands in for; ActNorm-style initialize() does nothing."""
    if _CLASSES:
        return _CLASSES["StandIn"]
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp
    tfb = tfp.bijectors

    class StandIn(keras.layers.Layer):
        count = 0
        outputs = None  # a list to collect what forward returns, when a check sets one

        def __init__(self, *args, **kwargs):
            super().__init__(name=kwargs.get("name"))
            StandIn.count += 1
            self.index = StandIn.count

        def build(self, input_shape):
            rng = np.random.default_rng(1000 + self.index)
            c = input_shape[-1]
            self.skew = tf.constant(rng.normal(scale=0.4, size=c).astype("float32"))
            self.tail = tf.constant(np.exp(rng.normal(scale=0.2, size=c)).astype("float32"))
            self.built = True

        def bijector(self):
            return tfb.SinhArcsinh(skewness=self.skew, tailweight=self.tail)

        def initialize(self, x):
            pass

        def forward(self, x):
            g = self.bijector()
            z = g.inverse(x)
            if StandIn.outputs is not None:
                StandIn.outputs.append(z)
            return z, g.inverse_log_det_jacobian(x, event_ndims=3)

        def inverse(self, z):
            g = self.bijector()
            return g.forward(z), g.forward_log_det_jacobian(z, event_ndims=3)

    _CLASSES["StandIn"] = StandIn
    return StandIn


def glow_stand_ins(lab):
    """The replacements (for check_helpers.standing_in) that build lab.glow.Glow from StandIn
    layers, with TensorFlow's own space_to_depth as its squeeze: only Glow's own methods are
    the student's."""
    import tensorflow as tf
    stand_in = stand_in_class()
    stand_in.count = 0
    return {"ActNorm": stand_in, "InvertibleConv1x1": stand_in, "AffineCoupling": stand_in,
            "squeeze": lambda x: tf.nn.space_to_depth(x, 2),
            "unsqueeze": lambda z: tf.nn.depth_to_space(z, 2)}


# ---- Data and baselines -----------------------------------------------------------------------

def digit_data(lab, seed):
    """Dequantised digits (train, test), dequantised by the checks with numpy (so the
    training check does not depend on the student's dequantize): float32 images in [0, 1)."""
    from dlkit.data import load_digits
    train, _ = load_digits("train")
    test, _ = load_digits("test")
    rng = np.random.default_rng(seed)
    levels = [np.round(x * 16.0) for x in (train, test)]
    return [((lv + rng.uniform(size=lv.shape)) / 17.0).astype("float32") for lv in levels]


def gaussian_baseline_bits(train, test, full=True):
    """Bits per dimension of a Gaussian fitted to the dequantised training pixels (numpy), on
    the test images: full covariance, or (full=False) independent pixels, the baseline a
    trained Glow must beat."""
    a = train.reshape(len(train), -1).astype(np.float64)
    b = test.reshape(len(test), -1).astype(np.float64)
    mean = a.mean(axis=0)
    cov = np.cov(a.T) + 1e-4 * np.eye(a.shape[1])
    if not full:
        cov = np.diag(np.diag(cov))
    sign, logdet = np.linalg.slogdet(2 * np.pi * cov)
    centred = b - mean
    log_p = -0.5 * (np.einsum("ni,ij,nj->n", centred, np.linalg.inv(cov), centred) + logdet)
    d = a.shape[1]
    return float(np.mean(-log_p / d / np.log(2.0) + np.log2(17.0)))


def categorical_baseline_bits(train, test):
    """Bits per dimension of independent per-pixel categorical models over the 17 levels
    (counts + 1), on the test images: what a pixel-by-pixel histogram does."""
    a = np.floor(train.reshape(len(train), -1) * 17).astype(int)
    b = np.floor(test.reshape(len(test), -1) * 17).astype(int)
    counts = np.stack([(a == k).sum(axis=0) for k in range(17)], axis=1) + 1.0
    p = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log2(p[np.arange(a.shape[1])[None, :], b])))


def judge_logged(logged_json, what):
    logged = json.loads(logged_json)
    expect_true(logged == ["loss"], f"fit() logged {logged}; {what}.train_step must return "
                "exactly {'loss': ...} (the tracker's result)")


def judge_relative(reached, reference, margin, what, unit):
    if not np.isfinite(reached):
        raise CheckFailed(f"{what} is {reached} after training: training diverged")
    expect_at_most(reached, reference + margin, f"{what} (the reference reaches "
                   f"{reference:.3f} with the same training)", unit=unit)
