"""Hidden checks of lab21_explainability: fresh shapes and games; guided backpropagation
(the student's guided_relu inside the student's guided_backprop) against its definition on a
tiny network; integrated gradients on a ReLU network with the student's own input_gradients;
Kernel SHAP of a model through masked_value_function against shap.KernelExplainer on the
same model and background. References from the solution."""
import numpy as np

from autograder.api import check
from autograder.checks.lab21_explainability.probes import (
    judge_shapley,
    layerwise_gradient,
    table_game,
    tiny_convnet,
)
from autograder.verdicts import expect_close


def _guided_backward(layer_input, upstream):
    """The definition (Springenberg et al.): a positive input AND a positive gradient."""
    import tensorflow as tf
    keep = tf.logical_and(layer_input > 0, upstream > 0)
    return tf.where(keep, upstream, tf.zeros_like(upstream))


@check(points=1, uses="gradients", hint="input gradients for any image size and channels")
def input_gradients_fresh(lab, rng):
    model = tiny_convnet(rng, size=6, channels=2)
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32")
    target = rng.integers(0, 3, size=4)
    return {"grad": lab.gradients.input_gradients(model, x, target)}


@input_gradients_fresh.verdict
def _(student, reference):
    expect_close(student["grad"], reference["grad"], "input_gradients on 6x6x2 images",
                 rtol=1e-4, atol=1e-5)


@check(points=2, uses="gradients", hint="guided_relu inside guided_backprop must give the "
       "definition: at each ReLU, keep the gradient where the input AND the gradient are > 0")
def guided_backprop_definition(lab, rng):
    model = tiny_convnet(rng, size=6, channels=1)
    x = rng.normal(size=(3, 6, 6, 1)).astype("float32")
    target = rng.integers(0, 3, size=3)
    return {"guided": lab.gradients.guided_backprop(model, x, target),
            "definition": layerwise_gradient(model, x, target, _guided_backward)}


@guided_backprop_definition.verdict
def _(student, reference):
    what = "guided_backprop(model, x, target) with the student's guided_relu"
    expect_close(student["guided"], student["definition"], f"{what} (against the definition)",
                 rtol=1e-4, atol=1e-5)
    expect_close(student["guided"], reference["guided"], what, rtol=1e-4, atol=1e-5)


@check(points=1, uses="gradients", hint="integrated_gradients with the student's own "
       "input_gradients on a ReLU network")
def integrated_gradients_relu_net(lab, rng):
    model = tiny_convnet(rng, size=5)
    x = rng.normal(size=(2, 5, 5, 1)).astype("float32")
    ig = lab.gradients.integrated_gradients(model, x, np.array([0, 1]), None, steps=32)
    return {"ig": ig, "gap": lab.gradients.completeness_gap(model, x, np.array([0, 1]), ig)}


@integrated_gradients_relu_net.verdict
def _(student, reference):
    expect_close(student["ig"], reference["ig"], "integrated_gradients on a ReLU CNN, 32 steps",
                 rtol=1e-3, atol=1e-5)
    expect_close(student["gap"], reference["gap"], "its completeness gap", rtol=1e-2, atol=1e-4)


@check(points=1, uses="shapley", hint="exact Shapley values for any number of players")
def exact_shapley_six_players(lab, rng):
    table = rng.normal(size=64)
    return {"table": table, "phi": lab.shapley.exact_shapley(table_game(table), 6)}


@exact_shapley_six_players.verdict
def _(student, reference):
    judge_shapley(student["phi"], student["table"], "exact_shapley(value_fn, 6)")


def _mlp(params):
    def model_fn(z):
        z = np.asarray(z, dtype=np.float64)
        return np.tanh(z @ params["w1"] + params["b1"]) @ params["w2"] + z[:, 0] * z[:, 3]
    return model_fn


@check(points=2, uses="shapley", hint="kernel_shap of masked_value_function(model_fn, x, "
       "background) must equal shap.KernelExplainer(model_fn, background) with every coalition")
def kernel_shap_against_shap(lab, rng):
    params = {"w1": rng.normal(size=(6, 5)), "b1": rng.normal(size=5), "w2": rng.normal(size=5)}
    x, background = rng.normal(size=6), rng.normal(size=(8, 6))
    value_fn = lab.shapley.masked_value_function(_mlp(params), x, background)
    return params | {"x": x, "background": background,
                     "kernel": np.asarray(lab.shapley.kernel_shap(value_fn, 6), dtype=np.float64),
                     "exact": np.asarray(lab.shapley.exact_shapley(value_fn, 6), dtype=np.float64)}


@kernel_shap_against_shap.verdict
def _(student, reference):
    import shap
    explainer = shap.KernelExplainer(_mlp(student), student["background"])
    expected = np.asarray(explainer.shap_values(student["x"][None], nsamples=2 ** 6,
                                                silent=True)).reshape(-1)
    expect_close(student["kernel"], expected, "kernel_shap(masked_value_function(model_fn, x, "
                 "background), 6) against shap.KernelExplainer", rtol=1e-7, atol=1e-9)
    expect_close(student["exact"], expected, "exact_shapley(masked_value_function(...), 6) "
                 "against shap.KernelExplainer", rtol=1e-7, atol=1e-9)
    expect_close(student["kernel"], reference["kernel"], "kernel_shap of the model", rtol=1e-8,
                 atol=1e-10)
