"""Hidden checks of lab03_optimization: fresh shapes, hyperparameters, a learning-rate
schedule driving the optimizers, another condition number, BatchNorm on feature maps (with
its input gradient) and the schedule against keras.optimizers.schedules.CosineDecay.
References come live from the solution."""
import numpy as np

from autograder.api import check
from autograder.checks.lab03_optimization.probes import (
    batchnorm_training_probe,
    convergence_probe,
    depth_variances,
    judge_batchnorm_gradients,
    judge_batchnorm_output,
    judge_convergence,
    judge_depth,
    judge_standardize,
    judge_trajectory,
    optimizer_probe,
    scale_problem,
    schedule_values,
)
from autograder.verdicts import expect_close, expect_true


def fresh_shapes(rng):
    """A scalar, a vector, and a 3-D tensor of random sizes."""
    return ((), (int(rng.integers(1, 9)),), tuple(int(v) for v in rng.integers(1, 5, size=3)))


def fresh_hyperparameters(rng):
    return {
        "sgd": {"momentum": float(rng.uniform(0.3, 0.95)), "nesterov": False},
        "nesterov": {"momentum": float(rng.uniform(0.3, 0.95)), "nesterov": True},
        "adagrad": {"initial_accumulator_value": float(rng.uniform(0.01, 1.0)),
                    "epsilon": float(10 ** rng.uniform(-4, -1))},
        "rmsprop": {"rho": float(rng.uniform(0.5, 0.99)),
                    "epsilon": float(10 ** rng.uniform(-4, -1))},
        "adam": {"beta_1": float(rng.uniform(0.5, 0.95)), "beta_2": float(rng.uniform(0.9, 0.999)),
                 "epsilon": float(10 ** rng.uniform(-4, -2))},
    }


CLASSES = {"sgd": ("MomentumSGD", "SGD"), "nesterov": ("MomentumSGD", "SGD"),
           "adagrad": ("AdaGrad", "Adagrad"), "rmsprop": ("RMSProp", "RMSprop"),
           "adam": ("Adam", "Adam")}
DECAY = {"initial_learning_rate": 0.08, "decay_steps": 2, "decay_rate": 0.5}


@check(points=2, uses="optimizers",
       hint="every optimizer must follow Keras's update for any variable shape (scalars and "
            "3-D tensors too), any hyperparameters, and the learning_rate passed to update_step "
            "(it follows a schedule)")
def optimizers_on_fresh_shapes(lab, rng):
    import keras
    shapes = fresh_shapes(rng)
    out = {"hyper": {}}
    for kind, arguments in fresh_hyperparameters(rng).items():
        mine, theirs = CLASSES[kind]

        def schedule():  # a fresh schedule object for each optimizer
            return keras.optimizers.schedules.ExponentialDecay(**DECAY)

        out[kind] = optimizer_probe(
            lambda: getattr(lab.optimizers, mine)(learning_rate=schedule(), **arguments),
            lambda: getattr(keras.optimizers, theirs)(learning_rate=schedule(), **arguments),
            rng, shapes=shapes, steps=6)
        out["hyper"][kind] = arguments
    out["shapes"] = str(shapes)
    return out


@optimizers_on_fresh_shapes.verdict
def _(student, reference):
    rates = [DECAY["initial_learning_rate"] * DECAY["decay_rate"] ** (t / DECAY["decay_steps"])
             for t in range(6)]
    for kind, (name, _) in CLASSES.items():
        hyper = {**reference["hyper"][kind], "learning_rates": rates}
        judge_trajectory(student[kind], reference[kind],
                         f"{name}({reference['hyper'][kind]}) with an ExponentialDecay learning "
                         f"rate on variables of shapes {reference['shapes']}", kind, hyper)


@check(points=1, uses="optimizers",
       hint="WarmupCosineDecay(peak, W, D, final) equals keras.optimizers.schedules.CosineDecay("
            "0.0, D, alpha=final / peak, warmup_target=peak, warmup_steps=W), also for W = 0")
def schedule_matches_keras_cosine_decay(lab, rng):
    import keras
    out = {}
    for warmup in (0, int(rng.integers(1, 30))):
        peak = float(rng.uniform(0.01, 1.0))
        final = float(peak * rng.uniform(0.0, 0.5))
        decay = int(rng.integers(5, 100))
        steps = sorted({0, 1, max(warmup - 1, 0), warmup, warmup + 1, warmup + decay // 2,
                        warmup + decay, warmup + decay + 7})
        mine = lab.optimizers.WarmupCosineDecay(peak, warmup, decay, final)
        theirs = keras.optimizers.schedules.CosineDecay(
            0.0, decay, alpha=final / peak, warmup_target=peak, warmup_steps=warmup)
        out[f"warmup_{warmup > 0}"] = {
            "student": schedule_values(mine, steps)[1],
            "keras": schedule_values(theirs, steps)[1],
            "what": f"WarmupCosineDecay({peak:.3g}, {warmup}, {decay}, {final:.3g}) at {steps}"}
    return out


@schedule_matches_keras_cosine_decay.verdict
def _(student, reference):
    for key in ("warmup_False", "warmup_True"):
        expect_close(student[key]["student"], reference[key]["keras"],
                     f"{reference[key]['what']}, against Keras's CosineDecay with warmup",
                     rtol=1e-5, atol=1e-7)


QUADRATIC = {"dim": 16, "kappa": 400.0, "tolerance": 1e-5, "max_steps": 5000}


@check(points=1, uses="optimizers",
       hint="momentum's advantage grows like sqrt(kappa): on a worse-conditioned quadratic "
            "MomentumSGD must still match the reference's step counts")
def momentum_on_another_quadratic(lab, rng):
    return convergence_probe(lab, rng, QUADRATIC)


@momentum_on_another_quadratic.verdict
def _(student, reference):
    judge_convergence(student, reference, QUADRATIC)


@check(points=1, uses="conditioning",
       hint="standardize and the step-size rules must work for any (N, D)")
def conditioning_on_fresh_shapes(lab, rng):
    dim = int(rng.integers(3, 9))
    x_train, x_test = scale_problem(rng, int(rng.integers(10, 50)), int(rng.integers(1, 9)), dim)
    train, test = lab.conditioning.standardize(x_train, x_test)
    # The Hessian of standardized inputs the checks scale themselves: each function is
    # judged on its own.
    varying = x_train[:, [0] + list(range(2, dim))]
    scaled = (varying - varying.mean(axis=0)) / varying.std(axis=0)
    hessian = lab.conditioning.least_squares_hessian(scaled)
    hessian = hessian + 0.05 * np.eye(len(hessian))  # keep it positive definite
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = np.concatenate([[-rng.uniform(0.1, 3.0)], rng.uniform(-3.0, 3.0, dim - 1)])
    return {"train": train, "test": test, "x_train": x_train, "x_test": x_test,
            "kappa": lab.conditioning.condition_number(hessian),
            "kappa_indefinite": lab.conditioning.condition_number(
                (rotation * eigenvalues) @ rotation.T),
            "gradient_descent": list(lab.conditioning.gradient_descent_parameters(hessian)),
            "heavy_ball": list(lab.conditioning.heavy_ball_parameters(hessian))}


@conditioning_on_fresh_shapes.verdict
def _(student, reference):
    judge_standardize(student, reference, f"standardize(x_train {reference['x_train'].shape}, "
                      f"x_test {reference['x_test'].shape})")
    expect_close(np.float64(student["kappa"]), np.float64(reference["kappa"]),
                 "condition_number of a standardized least-squares Hessian", rtol=1e-6)
    expect_true(float(np.asarray(student["kappa_indefinite"]).reshape(-1)[0]) == np.inf,
                f"condition_number of a symmetric {len(reference['x_train'][0])}x"
                f"{len(reference['x_train'][0])} matrix with a negative eigenvalue is "
                f"{float(np.asarray(student['kappa_indefinite']).reshape(-1)[0]):.4g}, expected "
                "np.inf (no minimum)")
    for method in ("gradient_descent", "heavy_ball"):
        expect_close(np.asarray(student[method], dtype=np.float64), reference[method],
                     f"{method}_parameters of a standardized least-squares Hessian", rtol=1e-6)


DEPTH = {"inputs": 48, "width": 384, "layers": 8, "batch": 256, "networks": 4}


@check(points=1, uses="initialization",
       hint="the variances through depth must match the reference for other widths too")
def activation_variance_other_widths(lab, rng):
    return {"he_relu": depth_variances(lab, rng, DEPTH, "he", "relu"),
            "glorot_tanh": depth_variances(lab, rng, DEPTH, "glorot", "tanh")}


@activation_variance_other_widths.verdict
def _(student, reference):
    judge_depth(student, reference, DEPTH)


@check(points=2, uses="batchnorm",
       hint="on (N, H, W, C) feature maps, statistics are per channel over N, H and W; in "
            "training the gradient flows through the batch mean and variance too")
def batchnorm_on_feature_maps(lab, rng):
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 5)),
             int(rng.integers(1, 6)))
    return batchnorm_training_probe(
        lab, rng, shape, ("training", "gradients", "connected", "moving", "inference"),
        momentum=0.9, epsilon=1e-2, catch=True)


@batchnorm_on_feature_maps.verdict
def _(student, reference):
    where = f"for feature maps of shape {reference['shape']}"
    judge_batchnorm_output(student, reference, where)
    judge_batchnorm_gradients(student, reference, where)
    mine, theirs = student["student"], reference["keras"]
    for index, name in enumerate(("moving_mean", "moving_variance")):
        expect_close(mine["moving"][index], theirs["moving"][index],
                     f"{name} after one training call {where}")
    expect_close(mine["inference"], theirs["inference"], f"BatchNorm(x, training=False) {where}")
