"""Public checks of lab03_optimization.

The optimizers are run side by side with Keras's own on the same starting values and the
same gradient sequence; the verdict compares the student's variables after every step with
the Keras trajectory the reference run recorded, and names the usual slip when the
student's numbers match one (computed here in numpy). BatchNorm is compared with
keras.layers.BatchNormalization holding the same weights.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import trajectory
from autograder.verdicts import (
    expect_at_least,
    expect_close,
    expect_equal,
    expect_finite,
    expect_shape,
    expect_true,
)

# ---------------------------------------------------------------------------------------------
# Optimizers: trajectories on a fixed gradient sequence
# ---------------------------------------------------------------------------------------------

STEPS = 5
SHAPES = ((3, 4), (5,))


def gradient_problem(rng, shapes, steps):
    """Starting values and a gradient sequence whose entries span three orders of magnitude,
    so that where epsilon sits (inside or outside a square root) shows."""
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    gradients = [[(rng.normal(size=s) * 10.0 ** rng.uniform(-2.5, 0.5, size=s)).astype("float32")
                  for s in shapes] for _ in range(steps)]
    return initial, gradients


def optimizer_probe(make_student, make_keras, rng, shapes=SHAPES, steps=STEPS):
    initial, gradients = gradient_problem(rng, shapes, steps)
    return {"initial": initial, "gradients": gradients,
            "student": trajectory(make_student(), initial, gradients),
            "keras": trajectory(make_keras(), initial, gradients)}


def simulate(kind, hyper, initial, gradients, **slip):
    """The update rule of `kind` in float64 numpy, optionally with a named slip; for the
    diagnosis of a wrong trajectory only (the verdict compares with Keras's numbers)."""
    w = np.concatenate([np.ravel(v) for v in initial]).astype(np.float64)
    slot = np.zeros_like(w)
    second = np.zeros_like(w)
    if kind == "adagrad":
        slot += 0.0 if slip.get("accumulator_from_zero") else hyper["initial_accumulator_value"]
    lr, eps = hyper.get("learning_rate"), hyper.get("epsilon", 0.0)
    out = []
    for t, step in enumerate(gradients, start=1):
        g = np.concatenate([np.ravel(x) for x in step]).astype(np.float64)
        lr_t = hyper["learning_rates"][t - 1] if "learning_rates" in hyper else lr
        if kind == "sgd":
            mu = 0.0 if slip.get("no_momentum") else hyper["momentum"]
            slot = mu * slot - lr_t * g
            nesterov = (hyper["nesterov"] or slip.get("nesterov")) and not slip.get("heavy_ball")
            w = w + (mu * slot - lr_t * g if nesterov else slot)
        elif kind in ("adagrad", "rmsprop"):
            if kind == "adagrad":
                slot = slot + g ** 2
            else:
                rho = 1.0 - hyper["rho"] if slip.get("rho_swapped") else hyper["rho"]
                slot = rho * slot + (1.0 - rho) * g ** 2
            scale = np.sqrt(slot) + eps if slip.get("epsilon_outside") else np.sqrt(slot + eps)
            w = w - lr_t * g / scale
        elif kind == "adam":
            b1, b2 = hyper["beta_1"], hyper["beta_2"]
            slot = b1 * slot + (1 - b1) * g
            second = b2 * second + (1 - b2) * g ** 2
            if slip.get("no_bias_correction"):
                w = w - lr_t * slot / (np.sqrt(second) + eps)
            elif slip.get("textbook"):
                w = w - lr_t * (slot / (1 - b1 ** t)) / (np.sqrt(second / (1 - b2 ** t)) + eps)
            else:
                alpha = lr_t * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                scale = np.sqrt(second + eps) if slip.get("epsilon_inside") else \
                    np.sqrt(second) + eps
                w = w - alpha * slot / scale
        out.append(w.copy())
    return np.stack(out)


SLIPS = {
    "sgd": {"no_momentum": "plain gradient descent: the velocity is not used",
            "nesterov": "Nesterov's look-ahead step, but nesterov=False asks for the heavy ball"},
    "nesterov": {"heavy_ball": "the plain heavy-ball step w <- w + v, but Nesterov's step is "
                               "w <- w + mu * v - lr * g, with the v just updated"},
    "adagrad": {"epsilon_outside": "an update with epsilon added outside the square root "
                                   "(Keras: sqrt(a + eps))",
                "accumulator_from_zero": "an accumulator starting at 0 instead of "
                                         "initial_accumulator_value"},
    "rmsprop": {"epsilon_outside": "an update with epsilon added outside the square root "
                                   "(Keras: sqrt(s + eps))",
                "rho_swapped": "a moving average with rho and 1 - rho swapped"},
    "adam": {"no_bias_correction": "Adam without the bias correction of m and v",
             "textbook": "the textbook form lr * m_hat / (sqrt(v_hat) + eps), but Keras adds "
                         "eps to sqrt(v) and puts the corrections into alpha_t = lr * "
                         "sqrt(1 - beta_2^t) / (1 - beta_1^t)",
             "epsilon_inside": "an update with epsilon inside the square root (Adam: "
                               "sqrt(v) + eps)"},
}


def diagnose(kind, hyper, reference, actual):
    """The name of the slip whose numbers `actual` matches, if any."""
    for slip, meaning in SLIPS[kind].items():
        variant = simulate("sgd" if kind == "nesterov" else kind, hyper, reference["initial"],
                           reference["gradients"], **{slip: True})
        if np.allclose(actual, variant, rtol=1e-3, atol=1e-4):
            return meaning
    return None


def judge_trajectory(student, reference, what, kind, hyper):
    """The student's variables after each step against Keras's (from the reference run)."""
    expected = np.asarray(reference["keras"])
    actual = expect_shape(student["student"], expected.shape,
                          f"the variables after each of the {len(expected)} steps of {what}")
    expect_finite(actual, f"the variables during {what}")
    for step in range(len(expected)):
        if np.allclose(actual[step], expected[step], rtol=2e-4, atol=2e-5):
            continue
        slip = diagnose(kind, hyper, reference, actual)
        if slip:
            raise CheckFailed(f"{what}: the variables match {slip} (they leave Keras's "
                              f"trajectory at step {step + 1} of {len(expected)})")
        expect_close(actual[step], expected[step],
                     f"{what}: the variables after step {step + 1} of {len(expected)} "
                     f"(against the Keras optimizer on the same gradients)")


SGD = {"learning_rate": 0.05, "momentum": 0.8, "nesterov": False}
NESTEROV = {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}
ADAGRAD = {"learning_rate": 0.1, "initial_accumulator_value": 0.05, "epsilon": 1e-2}
RMSPROP = {"learning_rate": 0.02, "rho": 0.8, "epsilon": 1e-2}
ADAM = {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3}


@check(points=2, uses="optimizers",
       hint="build: one zero velocity per variable (self.add_variable_from_reference); "
            "update_step: v <- momentum * v - lr * g, then w <- w + v (self.assign, "
            "self.assign_add); momentum=0 is plain gradient descent")
def sgd_momentum(lab, rng):
    import keras
    plain = {**SGD, "momentum": 0.0}
    with_momentum = optimizer_probe(lambda: lab.optimizers.MomentumSGD(**SGD),
                                    lambda: keras.optimizers.SGD(**SGD), rng)
    without = optimizer_probe(lambda: lab.optimizers.MomentumSGD(**plain),
                              lambda: keras.optimizers.SGD(**plain), rng)
    return {"momentum": with_momentum, "plain": without}


@sgd_momentum.verdict
def _(student, reference):
    judge_trajectory(student["plain"], reference["plain"],
                     "MomentumSGD(learning_rate=0.05, momentum=0)", "sgd",
                     {**SGD, "momentum": 0.0})
    judge_trajectory(student["momentum"], reference["momentum"],
                     "MomentumSGD(learning_rate=0.05, momentum=0.8)", "sgd", SGD)


@check(points=1, uses="optimizers",
       hint="nesterov=True: after v <- momentum * v - lr * g, step w <- w + momentum * v - "
            "lr * g (not w + v)")
def sgd_nesterov(lab, rng):
    import keras
    return optimizer_probe(lambda: lab.optimizers.MomentumSGD(**NESTEROV),
                           lambda: keras.optimizers.SGD(**NESTEROV), rng)


@sgd_nesterov.verdict
def _(student, reference):
    judge_trajectory(student, reference,
                     "MomentumSGD(learning_rate=0.05, momentum=0.8, nesterov=True)",
                     "nesterov", NESTEROV)


@check(points=2, uses="optimizers",
       hint="the accumulator starts at initial_accumulator_value (keras.initializers.Constant); "
            "a <- a + g^2; w <- w - lr * g / sqrt(a + epsilon)")
def adagrad(lab, rng):
    import keras
    return optimizer_probe(lambda: lab.optimizers.AdaGrad(**ADAGRAD),
                           lambda: keras.optimizers.Adagrad(**ADAGRAD), rng)


@adagrad.verdict
def _(student, reference):
    judge_trajectory(student, reference, "AdaGrad(learning_rate=0.1, "
                     "initial_accumulator_value=0.05, epsilon=0.01)", "adagrad", ADAGRAD)


@check(points=2, uses="optimizers",
       hint="s <- rho * s + (1 - rho) * g^2 (s starts at 0); w <- w - lr * g / sqrt(s + epsilon): "
            "epsilon INSIDE the square root, as Keras does")
def rmsprop(lab, rng):
    import keras
    return optimizer_probe(lambda: lab.optimizers.RMSProp(**RMSPROP),
                           lambda: keras.optimizers.RMSprop(**RMSPROP), rng)


@rmsprop.verdict
def _(student, reference):
    judge_trajectory(student, reference, "RMSProp(learning_rate=0.02, rho=0.8, epsilon=0.01)",
                     "rmsprop", RMSPROP)


@check(points=2, uses="optimizers",
       hint="t = iterations + 1; m and v moving averages of g and g^2; alpha_t = lr * "
            "sqrt(1 - beta_2^t) / (1 - beta_1^t); w <- w - alpha_t * m / (sqrt(v) + epsilon)")
def adam(lab, rng):
    import keras
    return optimizer_probe(lambda: lab.optimizers.Adam(**ADAM),
                           lambda: keras.optimizers.Adam(**ADAM), rng)


@adam.verdict
def _(student, reference):
    judge_trajectory(student, reference,
                     "Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=0.001)",
                     "adam", ADAM)


# The student's class, its Keras counterpart, and non-default arguments for each.
CONFIGS = {
    "MomentumSGD": ("SGD", {"learning_rate": 0.05, "momentum": 0.7, "nesterov": True}),
    "AdaGrad": ("Adagrad", {"learning_rate": 0.2, "initial_accumulator_value": 0.3,
                            "epsilon": 1e-4}),
    "RMSProp": ("RMSprop", {"learning_rate": 0.03, "rho": 0.85, "epsilon": 1e-5}),
    "Adam": ("Adam", {"learning_rate": 0.02, "beta_1": 0.85, "beta_2": 0.99, "epsilon": 1e-6}),
}


def hyperparameters(config, names):
    return {name: config.get(name) for name in names}


@check(points=1, uses="optimizers",
       hint="get_config returns {**super().get_config(), <every constructor argument>}; the "
            "defaults are Keras's (e.g. AdaGrad: initial_accumulator_value=0.1, epsilon=1e-7)")
def optimizer_configs(lab, rng):
    import keras
    out = {}
    for name, (keras_name, arguments) in CONFIGS.items():
        cls = getattr(lab.optimizers, name)
        config = cls(**arguments).get_config()
        rebuilt = cls.from_config(config).get_config()
        out[name] = json.dumps({
            "config": hyperparameters(config, arguments),
            "rebuilt": hyperparameters(rebuilt, arguments),
            "defaults": hyperparameters(cls().get_config(), arguments),
            "keras_defaults": hyperparameters(getattr(keras.optimizers, keras_name)().get_config(),
                                              arguments)})
    # The optimizer's slots travel with a model saved as .keras.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=lab.optimizers.Adam(learning_rate=0.01, beta_1=0.8), loss="mse")
    model.optimizer.build(model.trainable_variables)
    for _ in range(2):
        model.optimizer.apply([rng.normal(size=v.shape).astype("float32")
                               for v in model.trainable_variables], model.trainable_variables)
    path = lab.tmpdir / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    out["saved"] = {"class": type(loaded.optimizer).__name__,
                    "beta_1": float(loaded.optimizer.beta_1),
                    "slots": [v.numpy() for v in model.optimizer.variables],
                    "loaded_slots": [v.numpy() for v in loaded.optimizer.variables]}
    return out


@optimizer_configs.verdict
def _(student, reference):
    for name, (keras_name, arguments) in CONFIGS.items():
        mine, theirs = json.loads(student[name]), json.loads(reference[name])
        call = f"{name}({', '.join(f'{k}={v}' for k, v in arguments.items())})"
        for key, value in arguments.items():
            got = mine["config"][key]
            expect_true(got is not None and np.isclose(float(got), float(value), rtol=1e-6),
                        f"{call}.get_config()[{key!r}] is {got!r}, expected {value!r}")
            expect_true(mine["rebuilt"][key] == mine["config"][key],
                        f"{name}.from_config(config).get_config()[{key!r}] is "
                        f"{mine['rebuilt'][key]!r}, expected {mine['config'][key]!r}")
            default, wanted = mine["defaults"][key], theirs["keras_defaults"][key]
            expect_true(default is not None and np.isclose(float(default), float(wanted),
                                                           rtol=1e-6),
                        f"{name}() has {key}={default!r} by default; keras.optimizers."
                        f"{keras_name}() has {wanted!r}")
    saved = student["saved"]
    expect_true(saved["class"] == "Adam" and np.isclose(saved["beta_1"], 0.8),
                f"a model compiled with your Adam(beta_1=0.8) reloads from .keras with a "
                f"{saved['class']} optimizer (beta_1={saved['beta_1']})")
    expect_true(len(saved["loaded_slots"]) == len(saved["slots"]),
                f"the reloaded optimizer has {len(saved['loaded_slots'])} variables, the saved "
                f"one {len(saved['slots'])}")
    for index, (before, after) in enumerate(zip(saved["slots"], saved["loaded_slots"])):
        expect_close(after, before, f"optimizer variable {index} after saving and reloading "
                     "the model")


# ---------------------------------------------------------------------------------------------
# The learning-rate schedule
# ---------------------------------------------------------------------------------------------

SCHEDULE = {"peak_learning_rate": 0.1, "warmup_steps": 10, "decay_steps": 40,
            "final_learning_rate": 0.005}
SCHEDULE_STEPS = [0, 1, 5, 9, 10, 11, 20, 30, 49, 50, 51, 200]


def schedule_values(schedule, steps):
    """The schedule at each step, called eagerly with ints and inside a tf.function with an
    int64 tensor (as an optimizer calls it)."""
    import tensorflow as tf
    eager = [float(schedule(step)) for step in steps]
    compiled = tf.function(lambda step: schedule(step))
    traced = [float(compiled(tf.constant(step, dtype=tf.int64))) for step in steps]
    return np.array(eager), np.array(traced)


@check(points=2, uses="optimizers",
       hint="lr = peak * step / W before step W; then final + (peak - final) * (1 + cos(pi * p)) "
            "/ 2 with p = min(step - W, D) / D; keras.ops only (ops.where, not a Python if)")
def warmup_cosine_schedule(lab, rng):
    schedule = lab.optimizers.WarmupCosineDecay(**SCHEDULE)
    eager, traced = schedule_values(schedule, SCHEDULE_STEPS)
    rebuilt = lab.optimizers.WarmupCosineDecay.from_config(schedule.get_config())
    return {"eager": eager, "traced": traced, "rebuilt": schedule_values(rebuilt, [15])[0]}


@warmup_cosine_schedule.verdict
def _(student, reference):
    what = ("WarmupCosineDecay(peak 0.1, warmup 10, decay 40, final 0.005) at steps "
            f"{SCHEDULE_STEPS}")
    expect_close(student["eager"], reference["eager"], what)
    expect_close(student["traced"], reference["traced"],
                 what + " inside a tf.function, with the step an int64 tensor")
    expect_close(student["rebuilt"], reference["rebuilt"],
                 "the schedule rebuilt with from_config(get_config()), at step 15")


# ---------------------------------------------------------------------------------------------
# A short training run with the student's Adam
# ---------------------------------------------------------------------------------------------

TRAIN = {"hidden": 64, "learning_rate": 1e-2, "batch_size": 64, "epochs": 5}
ACCURACY_MARGIN = 0.03


def standardized_digits():
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    x_test, y_test = load_digits("test", flatten=True)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return (x - mean) / std, y, (x_test - mean) / std, y_test


@check(points=2, uses="optimizers", timeout=60,
       hint="Adam must train a Keras model through compile/fit as well as Keras's own does; "
            "if the adam check passes, look at build (one m and one v per variable)")
def adam_trains_digits(lab, rng):
    import keras
    x, y, x_test, y_test = standardized_digits()
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(TRAIN["hidden"], activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=lab.optimizers.Adam(TRAIN["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=11)
    history = model.fit(x, y, batch_size=TRAIN["batch_size"], epochs=TRAIN["epochs"],
                        verbose=0).history
    logits = np.asarray(model(x_test))
    return {"test_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test)),
            "losses": np.asarray(history["loss"], dtype=np.float64)}


@adam_trains_digits.verdict
def _(student, reference):
    expect_finite(student["losses"], "the training losses with your Adam")
    expect_at_least(student["test_accuracy"], reference["test_accuracy"] - ACCURACY_MARGIN,
                    f"the digits test accuracy of a 64-{TRAIN['hidden']}-10 MLP after "
                    f"{TRAIN['epochs']} epochs with your Adam({TRAIN['learning_rate']}) "
                    f"(reference {reference['test_accuracy']:.3f}, margin {ACCURACY_MARGIN})")


# ---------------------------------------------------------------------------------------------
# conditioning.py
# ---------------------------------------------------------------------------------------------

def quadratic(rng, dim, kappa):
    """A random symmetric Hessian with eigenvalues from 1 to kappa (geometrically spaced),
    and a linear term: f(w) = 1/2 w^T A w - b^T w."""
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = np.geomspace(1.0, kappa, dim)
    return (rotation * eigenvalues) @ rotation.T, rng.normal(size=dim)


@check(points=1, uses="conditioning",
       hint="least_squares_hessian: x.T @ x / N; condition_number: largest over smallest "
            "eigenvalue (np.linalg.eigvalsh for a symmetric matrix)")
def hessian_and_condition_number(lab, rng):
    x = rng.normal(size=(40, 5)) * np.array([0.1, 1.0, 3.0, 10.0, 1.0]) + 2.0
    hessian, _ = quadratic(rng, 6, 250.0)
    return {"hessian": lab.conditioning.least_squares_hessian(x),
            "kappa": lab.conditioning.condition_number(hessian),
            "kappa_of_inputs": lab.conditioning.condition_number(x.T @ x / len(x))}


@hessian_and_condition_number.verdict
def _(student, reference):
    expect_close(student["hessian"], reference["hessian"], "least_squares_hessian(x) for x (40, 5)")
    expect_close(student["kappa"], reference["kappa"],
                 "condition_number(A) of a 6x6 Hessian with eigenvalues from 1 to 250",
                 rtol=1e-6)
    expect_close(student["kappa_of_inputs"], reference["kappa_of_inputs"],
                 "condition_number(x.T @ x / N)", rtol=1e-6)


@check(points=2, uses="conditioning",
       hint="with L, mu the extreme eigenvalues and kappa = L / mu: gradient descent lr = "
            "2 / (L + mu), rate (kappa - 1) / (kappa + 1); heavy ball lr = 4 / (sqrt(L) + "
            "sqrt(mu))^2, momentum = rate^2 with rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)")
def step_size_rules(lab, rng):
    hessian, _ = quadratic(rng, 5, 50.0)
    hessian *= 3.0  # eigenvalues from 3 to 150: lr must depend on L and mu, not only kappa
    return {"gradient_descent": list(lab.conditioning.gradient_descent_parameters(hessian)),
            "heavy_ball": list(lab.conditioning.heavy_ball_parameters(hessian))}


@step_size_rules.verdict
def _(student, reference):
    names = {"gradient_descent": ("learning_rate", "rate"),
             "heavy_ball": ("learning_rate", "momentum", "rate")}
    for method, fields in names.items():
        got = student[method]
        expect_true(len(got) == len(fields),
                    f"{method}_parameters(A) returned {len(got)} values, expected "
                    f"{len(fields)}: {fields}")
        for field, mine, theirs in zip(fields, got, reference[method]):
            expect_close(np.float64(mine), np.float64(theirs),
                         f"the {field} of {method}_parameters(A) for eigenvalues 3 to 150",
                         rtol=1e-6)


def steps_to_converge(optimizer, hessian, target, tolerance, max_steps):
    """Steps until ||w - w*|| <= tolerance * ||w0 - w*|| from w0 = 0, with the gradient
    A w - b applied by `optimizer` (float64); max_steps + 1 if it never gets there."""
    import keras
    import tensorflow as tf
    solution = np.linalg.solve(hessian, target)
    w = keras.Variable(np.zeros_like(target), dtype="float64")
    optimizer.build([w])
    a, b, w_star = (tf.constant(v) for v in (hessian, target, solution))
    goal = tolerance * float(np.linalg.norm(solution))

    @tf.function
    def run():
        def step(t, _distance):
            optimizer.apply([tf.linalg.matvec(a, w.value) - b], [w])
            return t + 1, tf.norm(w.value - w_star)
        return tf.while_loop(lambda t, d: (t <= max_steps) & (d > goal), step,
                             [tf.constant(0), tf.norm(w.value - w_star)])[0]
    return int(run())


QUADRATIC = {"dim": 10, "kappa": 100.0, "tolerance": 1e-4, "max_steps": 2000}


def convergence_probe(lab, rng, setting):
    dim, kappa = setting["dim"], setting["kappa"]
    hessian, target = quadratic(rng, dim, kappa)
    largest, smallest = kappa, 1.0
    root = np.sqrt(kappa)
    gd = lab.optimizers.MomentumSGD(learning_rate=2.0 / (largest + smallest))
    heavy_ball = lab.optimizers.MomentumSGD(
        learning_rate=4.0 / (np.sqrt(largest) + np.sqrt(smallest)) ** 2,
        momentum=((root - 1.0) / (root + 1.0)) ** 2)
    return {"gd_steps": steps_to_converge(gd, hessian, target, setting["tolerance"],
                                          setting["max_steps"]),
            "heavy_ball_steps": steps_to_converge(heavy_ball, hessian, target,
                                                  setting["tolerance"], setting["max_steps"])}


def judge_convergence(student, reference, setting):
    where = (f"on a {setting['dim']}-d quadratic with condition number {setting['kappa']:g} "
             f"(to {setting['tolerance']:g} of the starting distance)")
    for key, name in (("gd_steps", "gradient descent (MomentumSGD, momentum=0, lr=2/(L+mu))"),
                      ("heavy_ball_steps", "heavy ball (MomentumSGD with Polyak's lr and "
                                           "momentum)")):
        got, expected = int(student[key]), int(reference[key])
        expect_true(got <= setting["max_steps"],
                    f"{name} did not converge in {setting['max_steps']} steps {where}; the "
                    f"reference needs {expected}")
        slack = max(2, int(0.05 * expected))
        expect_true(abs(got - expected) <= slack,
                    f"{name} needs {got} steps {where}, the reference {expected} "
                    f"(allowed: +-{slack})")
    expect_true(student["heavy_ball_steps"] < student["gd_steps"],
                "momentum should converge faster than gradient descent on an ill-conditioned "
                "quadratic")


@check(points=2, uses="optimizers",
       hint="with the right momentum, MomentumSGD needs about sqrt(kappa) times fewer steps "
            "than gradient descent; if sgd_momentum passes, the update itself is right")
def momentum_on_ill_conditioned_quadratic(lab, rng):
    return convergence_probe(lab, rng, QUADRATIC)


@momentum_on_ill_conditioned_quadratic.verdict
def _(student, reference):
    judge_convergence(student, reference, QUADRATIC)


def scale_problem(rng, n_train, n_test, dim):
    """Features with wildly different offsets and scales, one of them constant in training."""
    offsets = rng.uniform(-50, 50, size=dim)
    scales = 10.0 ** rng.uniform(-2, 2, size=dim)
    x_train = offsets + scales * rng.normal(size=(n_train, dim))
    x_test = offsets + scales * rng.normal(size=(n_test, dim))
    x_train[:, 1] = 3.0  # an always-on pixel: std 0
    return x_train, x_test


@check(points=1, uses="conditioning",
       hint="the mean and std of x_train (axis 0) scale BOTH sets; a std of 0 becomes 1")
def standardize(lab, rng):
    x_train, x_test = scale_problem(rng, 30, 12, 6)
    train, test = lab.conditioning.standardize(x_train, x_test)
    return {"train": train, "test": test, "x_test": x_test}


@standardize.verdict
def _(student, reference):
    expect_finite(student["train"], "standardize(x_train, x_test)[0] (x_train has a constant "
                  "feature, column 1)")
    expect_close(student["train"], reference["train"], "standardize(x_train, x_test)[0]")
    x_test = reference["x_test"]
    own = (x_test - x_test.mean(axis=0)) / x_test.std(axis=0)  # column 1 is skipped below
    test = np.asarray(student["test"], dtype=np.float64)
    varying = [j for j in range(own.shape[1]) if j != 1]
    if test.shape == own.shape and np.allclose(test[:, varying], own[:, varying]):
        raise CheckFailed("standardize scaled x_test with x_test's own mean and std: use the "
                          "training statistics for both sets")
    expect_close(student["test"], reference["test"], "standardize(x_train, x_test)[1]")


# ---------------------------------------------------------------------------------------------
# initialization.py
# ---------------------------------------------------------------------------------------------

FAN_SHAPES = [(64, 32), (3, 3, 16, 8), (5, 4, 2), (7,), (2, 2, 2, 3, 5)]


@check(points=2, uses="initialization",
       hint="compute_fans: receptive field = product of all but the last two sizes; glorot_std "
            "= sqrt(2 / (fan_in + fan_out)); he_std = sqrt(2 / fan_in)")
def fans_and_stds(lab, rng):
    init = lab.initialization
    pairs = rng.integers(1, 600, size=(4, 2))
    return {"fans": [list(init.compute_fans(shape)) for shape in FAN_SHAPES],
            "glorot": [init.glorot_std(int(a), int(b)) for a, b in pairs],
            "he": [init.he_std(int(a)) for a, _ in pairs], "pairs": pairs}


@fans_and_stds.verdict
def _(student, reference):
    for shape, mine, theirs in zip(FAN_SHAPES, student["fans"], reference["fans"]):
        expect_equal(np.asarray(mine).astype(np.int64), theirs,
                     f"compute_fans({shape}) (fan_in, fan_out)")
    pairs = [tuple(int(v) for v in p) for p in reference["pairs"]]
    expect_close(np.asarray(student["glorot"], dtype=np.float64), reference["glorot"],
                 f"glorot_std(fan_in, fan_out) for (fan_in, fan_out) in {pairs}")
    expect_close(np.asarray(student["he"], dtype=np.float64), reference["he"],
                 f"he_std(fan_in) for fan_in in {[p[0] for p in pairs]}")


INITIALIZER_SHAPES = {"he": (400, 300), "glorot": (3, 3, 64, 32)}


@check(points=1, uses="initialization",
       hint="ScaledNormal.__call__: std from compute_fans(shape) and he_std(fan_in) or "
            "glorot_std(fan_in, fan_out); keras.random.normal(shape, stddev=std, dtype=dtype, "
            "seed=self.seed)")
def scaled_normal_samples(lab, rng):
    import keras
    out = {}
    for mode, shape in INITIALIZER_SHAPES.items():
        values = np.asarray(lab.initialization.ScaledNormal(mode)(shape, dtype="float32"))
        out[mode] = {"shape": list(values.shape), "dtype": str(values.dtype),
                     "std": float(values.std()), "mean": float(values.mean())}
    seeded = lab.initialization.ScaledNormal("he", seed=7)
    out["same_seed_same_values"] = bool(np.array_equal(np.asarray(seeded((20, 10))),
                                                       np.asarray(seeded((20, 10)))))
    out["is_initializer"] = isinstance(seeded, keras.initializers.Initializer)
    return out


@scaled_normal_samples.verdict
def _(student, reference):
    expect_true(student["is_initializer"],
                "ScaledNormal must subclass keras.initializers.Initializer")
    for mode, shape in INITIALIZER_SHAPES.items():
        mine, theirs = student[mode], reference[mode]
        call = f'ScaledNormal("{mode}")({shape})'
        expect_true(tuple(mine["shape"]) == shape and mine["dtype"] == "float32",
                    f"{call} returned shape {tuple(mine['shape'])} and dtype {mine['dtype']}, "
                    f"expected {shape} and float32")
        # About 1e5 draws: the sample std is within 0.5 % of the true one.
        ratio = mine["std"] / theirs["std"]
        expect_true(abs(ratio - 1.0) < 0.03,
                    f"the standard deviation of {call} is {mine['std']:.4g}, the reference's "
                    f"{theirs['std']:.4g} (ratio {ratio:.3f}): check which fan the formula uses")
        size = float(np.prod(shape))
        expect_true(abs(mine["mean"]) < 5.0 * theirs["std"] / np.sqrt(size),
                    f"the mean of {call} is {mine['mean']:.3g}: the weights must be zero-mean")
    expect_true(student["same_seed_same_values"],
                'ScaledNormal("he", seed=7) gave different values on two calls: an int seed '
                "must give the same values every time (pass seed=self.seed to keras.random)")


DEPTH = {"inputs": 64, "width": 512, "layers": 10, "batch": 256, "networks": 4}
# Over network draws, the per-layer variance (averaged over 4 networks) stays within 30 %
# of another draw's; a wrong fan or a missing factor 2 is off by 2x to 1000x.
VARIANCE_FACTOR = 1.6


def depth_variances(lab, rng, setting, mode, activation):
    """Mean square of every layer's pre-activations in ReLU/tanh MLPs initialised with the
    student's ScaledNormal, averaged over a few independent networks: (layers,)."""
    import keras
    x = rng.normal(size=(setting["batch"], setting["inputs"])).astype("float32")
    totals = np.zeros(setting["layers"])
    for _ in range(setting["networks"]):
        h = x
        for layer in range(setting["layers"]):
            dense = keras.layers.Dense(setting["width"], use_bias=False,
                                       kernel_initializer=lab.initialization.ScaledNormal(mode))
            pre = np.asarray(dense(h))
            totals[layer] += float(np.mean(pre.astype(np.float64) ** 2))
            h = np.maximum(pre, 0.0) if activation == "relu" else np.tanh(pre)
    return totals / setting["networks"]


def judge_depth(student, reference, setting):
    for key, name in (("he_relu", 'ScaledNormal("he") with ReLU'),
                      ("glorot_tanh", 'ScaledNormal("glorot") with tanh')):
        mine = expect_shape(student[key], (setting["layers"],), f"variances for {name}")
        expect_finite(mine, f"the activation variances of a deep MLP with {name}")
        ratio = mine / reference[key]
        worst = int(np.argmax(np.abs(np.log(np.maximum(ratio, 1e-300)))))
        expect_true(np.all((ratio < VARIANCE_FACTOR) & (ratio > 1.0 / VARIANCE_FACTOR)),
                    f"through a {setting['inputs']}-{setting['width']}x{setting['layers']} MLP "
                    f"with {name}, the pre-activation variance of layer {worst + 1} is "
                    f"{mine[worst]:.3g}, the reference's {reference[key][worst]:.3g} (layer by "
                    f"layer: {np.array2string(mine, precision=3)} against "
                    f"{np.array2string(reference[key], precision=3)})")


@check(points=2, uses="initialization",
       hint="with He initialisation the variance of a ReLU network's pre-activations stays "
            "about constant with depth; a wrong fan or scale makes it shrink or grow layer "
            "after layer")
def activation_variance_through_depth(lab, rng):
    return {"he_relu": depth_variances(lab, rng, DEPTH, "he", "relu"),
            "glorot_tanh": depth_variances(lab, rng, DEPTH, "glorot", "tanh")}


@activation_variance_through_depth.verdict
def _(student, reference):
    judge_depth(student, reference, DEPTH)


# ---------------------------------------------------------------------------------------------
# batchnorm.py
# ---------------------------------------------------------------------------------------------

def twin_batchnorms(lab, rng, input_shape, momentum=0.99, epsilon=1e-3):
    """The student's BatchNorm and keras.layers.BatchNormalization, built on the same shape
    and holding the same random gamma, beta and moving statistics."""
    import keras
    mine = lab.batchnorm.BatchNorm(momentum=momentum, epsilon=epsilon)
    theirs = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    mine.build(input_shape)
    theirs.build(input_shape)
    channels = input_shape[-1]
    values = {"gamma": rng.uniform(0.5, 2.0, size=channels),
              "beta": rng.normal(size=channels),
              "moving_mean": rng.normal(size=channels),
              "moving_variance": rng.uniform(0.5, 3.0, size=channels)}
    for name, value in values.items():
        getattr(mine, name).assign(value.astype("float32"))
        getattr(theirs, name).assign(value.astype("float32"))
    return mine, theirs


def features(rng, shape):
    """Inputs whose channels have their own offsets and scales."""
    channels = shape[-1]
    return (rng.uniform(-3, 3, size=channels)
            + rng.uniform(0.2, 4.0, size=channels) * rng.normal(size=shape)).astype("float32")


def moving_statistics(layer):
    return [np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)]


@check(points=2, uses="batchnorm",
       hint="training=True: per-channel mean and (biased) variance of the batch, over every "
            "axis but the last; y = gamma * (x - mean) / sqrt(var + epsilon) + beta")
def batchnorm_training(lab, rng):
    x = features(rng, (32, 6))
    mine, theirs = twin_batchnorms(lab, rng, x.shape)
    return {"trainable": sorted(w.name for w in mine.trainable_weights),
            "non_trainable": sorted(w.name for w in mine.non_trainable_weights),
            "student": mine(x, training=True), "keras": theirs(x, training=True)}


@batchnorm_training.verdict
def _(student, reference):
    expect_true(student["trainable"] == ["beta", "gamma"]
                and student["non_trainable"] == ["moving_mean", "moving_variance"],
                f"BatchNorm's trainable weights are {student['trainable']} and its "
                f"non-trainable ones {student['non_trainable']}; expected ['beta', 'gamma'] "
                "and ['moving_mean', 'moving_variance']")
    expect_close(student["student"], reference["keras"],
                 "BatchNorm()(x, training=True) for x (32, 6), against "
                 "keras.layers.BatchNormalization with the same gamma and beta")


@check(points=2, uses="batchnorm",
       hint="training=False: normalise with moving_mean and moving_variance, not with the "
            "batch's statistics, and do not update them")
def batchnorm_inference(lab, rng):
    x = features(rng, (16, 5))
    mine, theirs = twin_batchnorms(lab, rng, x.shape)
    before = moving_statistics(mine)
    out = mine(x, training=False)
    return {"student": out, "keras": theirs(x, training=False),
            "batch_statistics": theirs(x, training=True), "default": mine(x),
            "alone": mine(x[:1], training=False),
            "moved": max(float(np.max(np.abs(a - b)))
                         for a, b in zip(before, moving_statistics(mine)))}


@batchnorm_inference.verdict
def _(student, reference):
    if np.allclose(student["student"], reference["batch_statistics"], rtol=1e-3, atol=1e-4):
        raise CheckFailed("BatchNorm()(x, training=False) normalises with the batch's own mean "
                          "and variance: at inference use moving_mean and moving_variance")
    expect_close(student["student"], reference["keras"],
                 "BatchNorm()(x, training=False) for x (16, 5), against "
                 "keras.layers.BatchNormalization with the same weights and moving statistics")
    expect_close(student["default"], reference["keras"],
                 "BatchNorm()(x) (training defaults to False: inference)")
    expect_close(student["alone"], np.asarray(reference["keras"])[:1],
                 "BatchNorm()(x[:1], training=False): at inference an example's output must "
                 "not depend on the rest of its batch")
    expect_true(student["moved"] == 0.0, "a call with training=False changed moving_mean or "
                f"moving_variance (by up to {student['moved']:.3g}): only training updates them")


@check(points=2, uses="batchnorm",
       hint="each training call: moving <- momentum * moving + (1 - momentum) * batch "
            "statistic, for the mean and the (biased) variance")
def batchnorm_moving_statistics(lab, rng):
    import keras
    mine, theirs = twin_batchnorms(lab, rng, (24, 4), momentum=0.8)
    # What momentum and 1 - momentum swapped give, for the diagnosis.
    swapped = keras.layers.BatchNormalization(momentum=0.2)
    swapped.build((24, 4))
    swapped.set_weights(theirs.get_weights())
    for _ in range(5):
        x = features(rng, (24, 4))
        for layer in (mine, theirs, swapped):
            layer(x, training=True)
    return {"student": moving_statistics(mine), "keras": moving_statistics(theirs),
            "swapped": moving_statistics(swapped)}


@batchnorm_moving_statistics.verdict
def _(student, reference):
    if all(np.allclose(a, b, rtol=1e-3, atol=1e-4)
           for a, b in zip(student["student"], reference["swapped"])):
        raise CheckFailed("after 5 training calls of BatchNorm(momentum=0.8), the moving "
                          "statistics are those of momentum=0.2: momentum weighs the OLD "
                          "moving value, (1 - momentum) the batch's")
    for index, name in enumerate(("moving_mean", "moving_variance")):
        expect_close(student["student"][index], reference["keras"][index],
                     f"{name} after 5 training calls of BatchNorm(momentum=0.8), against "
                     "keras.layers.BatchNormalization")


@check(points=1, uses="batchnorm", reference=False,
       hint="get_config returns {**super().get_config(), 'momentum': ..., 'epsilon': ...}, so "
            "a model with BatchNorm reloads from .keras with its moving statistics")
def batchnorm_saves(lab, rng):
    import keras
    norm = lab.batchnorm.BatchNorm(momentum=0.7, epsilon=0.01)
    norm.build((None, 4))  # here, so that an error in build is reported as it is
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), norm])
    for _ in range(3):
        model(features(rng, (16, 5)), training=True)
    x = features(rng, (8, 5))
    path = lab.tmpdir / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.layers[-1]
    return {"outputs": model(x), "loaded_outputs": loaded(x), "class": type(layer).__name__,
            "config": [float(getattr(layer, "momentum", -1)), float(getattr(layer, "epsilon", -1))]}


@batchnorm_saves.verdict
def _(student, _reference):
    expect_true(student["class"] == "BatchNorm",
                f"the reloaded model's last layer is a {student['class']}, not a BatchNorm")
    expect_close(student["config"], np.array([0.7, 0.01]),
                 "(momentum, epsilon) of BatchNorm(momentum=0.7, epsilon=0.01) after reloading")
    expect_close(student["loaded_outputs"], student["outputs"],
                 "a model with BatchNorm, reloaded from .keras, at inference")
