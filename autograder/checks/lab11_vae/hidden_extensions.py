"""Hidden checks of lab11_vae for ppca.py and estimators.py: fresh shapes, parameters and
functions; references from the solution run live on the same inputs."""
import math

import numpy as np

from autograder.api import check
from autograder.verdicts import expect_close, expect_close_naming


@check(points=1, uses="ppca", hint="PPCA.fit must hold for any N, D and q < D")
def ppca_fit_other_shapes(lab, rng):
    n, d = int(rng.integers(25, 60)), int(rng.integers(4, 10))
    q = int(rng.integers(1, d - 1))
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    model = lab.ppca.PPCA(q).fit(x)
    weights = np.asarray(model.weights_, np.float64)
    # Each column's sign made positive on its largest entry: W is defined up to it.
    signs = np.sign(weights[np.argmax(np.abs(weights), axis=0), np.arange(weights.shape[1])])
    return {"mean": model.mean_, "weights": weights * signs,
            "noise_variance": model.noise_variance_}


@ppca_fit_other_shapes.verdict
def _(student, reference):
    for key in ("mean", "noise_variance", "weights"):
        expect_close(student[key], reference[key], f"PPCA.fit(x).{key}_ on another shape "
                     f"(D = {np.shape(reference['weights'])[0]}, q = "
                     f"{np.shape(reference['weights'])[1]})", rtol=1e-6, atol=1e-9)


@check(points=1, uses="ppca", hint="score_samples and transform must hold for any D and q")
def ppca_score_and_transform_other_shapes(lab, rng):
    d = int(rng.integers(3, 9))
    q = int(rng.integers(1, d))
    model = lab.ppca.PPCA(q)
    model.mean_ = rng.normal(size=d)
    model.weights_ = rng.normal(size=(d, q))
    model.noise_variance_ = float(rng.uniform(0.05, 2.0))
    x = rng.normal(size=(int(rng.integers(2, 9)), d)) * 2.0
    return {"scores": model.score_samples(x), "codes": model.transform(x)}


@ppca_score_and_transform_other_shapes.verdict
def _(student, reference):
    expect_close(student["scores"], reference["scores"], "PPCA.score_samples on other shapes",
                 rtol=1e-7, atol=1e-8)
    expect_close(student["codes"], reference["codes"], "PPCA.transform on other shapes",
                 rtol=1e-7, atol=1e-9)


@check(points=1, uses="estimators",
       hint="both estimators for any f, mu and log_sigma (a negative log_sigma included)")
def estimators_other_function(lab, rng):
    import tensorflow as tf

    def f(z):
        return tf.tanh(z) * tf.exp(0.3 * z)

    mu, log_sigma = float(rng.normal()), float(rng.uniform(-1.5, 0.8))
    epsilon = rng.standard_normal(int(rng.integers(5, 30)))
    est = lab.estimators
    values = np.asarray(f(tf.constant(mu + math.exp(log_sigma) * epsilon)))
    return {"reparameterisation": est.reparameterization_gradient(f, mu, log_sigma, epsilon),
            "score": est.score_function_gradient(f, mu, log_sigma, epsilon),
            "baseline": est.leave_one_out_baseline(values),
            "with_baseline": est.score_function_gradient(f, mu, log_sigma, epsilon,
                                                         est.leave_one_out_baseline(values))}


@estimators_other_function.verdict
def _(student, reference):
    for key, name in (("reparameterisation", "reparameterization_gradient"),
                      ("score", "score_function_gradient"),
                      ("baseline", "leave_one_out_baseline"),
                      ("with_baseline", "score_function_gradient with the leave-one-out "
                                        "baseline")):
        expected = np.asarray(reference[key], np.float64)
        mistakes = ((expected / len(expected), f"every estimate is divided by S = "
                     f"{len(expected)}: a mean instead of a sum"),) if key != "baseline" else ()
        expect_close_naming(student[key], expected, f"{name} for another f, mu and log_sigma",
                            mistakes, rtol=1e-6, atol=1e-9)
