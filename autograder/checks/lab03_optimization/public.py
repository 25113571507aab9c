"""Public checks of lab03_optimization, part 1: the optimizers and the schedule.

The optimizers are run side by side with Keras's own on the same starting values and the
same gradient sequence; the verdict compares the student's variables after every step with
the Keras trajectory the reference run recorded, and names the usual slip when the
student's numbers match one (see probes.py).
"""
import json

import numpy as np

from autograder.api import check
from autograder.check_helpers import build_for_fit
from autograder.checks.lab03_optimization.probes import (
    judge_trajectory,
    optimizer_probe,
    schedule_values,
)
from autograder.verdicts import expect_at_least, expect_close, expect_finite, expect_true

SGD = {"learning_rate": 0.05, "momentum": 0.8, "nesterov": False}
NESTEROV = {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}
ADAGRAD = {"learning_rate": 0.1, "initial_accumulator_value": 0.05, "epsilon": 1e-2}
RMSPROP = {"learning_rate": 0.02, "rho": 0.8, "epsilon": 1e-2}
ADAM = {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-3}


@check(points=2, uses="optimizers", task="`MomentumSGD.build`, `update_step`",
       hint="build: one zero velocity per variable (self.add_variable_from_reference); "
            "update_step: v <- momentum * v - lr * g, then w <- w + v (self.assign, "
            "self.assign_add); momentum=0 is plain gradient descent")
def sgd_momentum(lab, rng):
    """Five steps against `keras.optimizers.SGD` on the same gradients, with momentum 0
    and 0.8."""
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


@check(points=1, uses="optimizers", task="the Nesterov branch of `MomentumSGD.update_step`",
       hint="nesterov=True: after v <- momentum * v - lr * g, step w <- w + momentum * v - "
            "lr * g (not w + v)")
def sgd_nesterov(lab, rng):
    """Five steps against `keras.optimizers.SGD(nesterov=True)`."""
    import keras
    return optimizer_probe(lambda: lab.optimizers.MomentumSGD(**NESTEROV),
                           lambda: keras.optimizers.SGD(**NESTEROV), rng)


@sgd_nesterov.verdict
def _(student, reference):
    judge_trajectory(student, reference,
                     "MomentumSGD(learning_rate=0.05, momentum=0.8, nesterov=True)",
                     "nesterov", NESTEROV)


@check(points=2, uses="optimizers", task="`AdaGrad.build`, `update_step`",
       hint="the accumulator starts at initial_accumulator_value (keras.initializers.Constant); "
            "a <- a + g^2; w <- w - lr * g / sqrt(a + epsilon)")
def adagrad(lab, rng):
    """Five steps against `keras.optimizers.Adagrad` (a non-default starting accumulator)."""
    import keras
    return optimizer_probe(lambda: lab.optimizers.AdaGrad(**ADAGRAD),
                           lambda: keras.optimizers.Adagrad(**ADAGRAD), rng)


@adagrad.verdict
def _(student, reference):
    judge_trajectory(student, reference, "AdaGrad(learning_rate=0.1, "
                     "initial_accumulator_value=0.05, epsilon=0.01)", "adagrad", ADAGRAD)


@check(points=2, uses="optimizers", task="`RMSProp.build`, `update_step`",
       hint="s <- rho * s + (1 - rho) * g^2 (s starts at 0); w <- w - lr * g / sqrt(s + epsilon): "
            "epsilon INSIDE the square root, as Keras does")
def rmsprop(lab, rng):
    """Five steps against `keras.optimizers.RMSprop`."""
    import keras
    return optimizer_probe(lambda: lab.optimizers.RMSProp(**RMSPROP),
                           lambda: keras.optimizers.RMSprop(**RMSPROP), rng)


@rmsprop.verdict
def _(student, reference):
    judge_trajectory(student, reference, "RMSProp(learning_rate=0.02, rho=0.8, epsilon=0.01)",
                     "rmsprop", RMSPROP)


@check(points=2, uses="optimizers", task="`Adam.build`, `update_step`",
       hint="t = iterations + 1; m and v moving averages of g and g^2; alpha_t = lr * "
            "sqrt(1 - beta_2^t) / (1 - beta_1^t); w <- w - alpha_t * m / (sqrt(v) + epsilon)")
def adam(lab, rng):
    """Five steps against `keras.optimizers.Adam`, with an epsilon large enough that its
    place shows."""
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


@check(points=1, uses="optimizers", task="every optimizer's `get_config`",
       hint="get_config returns {**super().get_config(), <every constructor argument>}; the "
            "defaults are Keras's (e.g. AdaGrad: initial_accumulator_value=0.1, epsilon=1e-7)")
def optimizer_configs(lab, rng):
    """Configs and Keras's defaults of the four optimizers, and a model compiled with your
    Adam saved to `.keras` and reloaded with its slots."""
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


@check(points=2, uses="optimizers", task="`WarmupCosineDecay.__call__`, `get_config`",
       hint="lr = peak * step / W before step W; then final + (peak - final) * (1 + cos(pi * p)) "
            "/ 2 with p = min(step - W, D) / D; keras.ops only (ops.where, not a Python if)")
def warmup_cosine_schedule(lab, rng):
    """The schedule's values through warmup, decay and after it, eagerly and inside a
    `tf.function`, and rebuilt from its config."""
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
# The run is deterministic: a correct Adam written another way (the textbook form, rsqrt)
# repeats the reference's epoch losses to 1e-6, with or without oneDNN. 2 % leaves room for
# another machine's float32 arithmetic and nothing more.
LOSS_RTOL = 0.02


def standardized_digits():
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    x_test, y_test = load_digits("test", flatten=True)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return (x - mean) / std, y, (x_test - mean) / std, y_test


@check(points=2, uses="optimizers", timeout=60, task="(your `Adam`, through `fit`)",
       hint="Adam must train a Keras model through compile/fit as well as Keras's own does; "
            "if the adam check passes, look at build (one m and one v per variable)")
def adam_trains_digits(lab, rng):
    """A digits MLP trained by `fit` with your Adam: its loss per epoch (same weights, data
    order and budget as the reference) and its test accuracy."""
    import keras
    x, y, x_test, y_test = standardized_digits()
    model = keras.Sequential([keras.Input((64,)),
                              keras.layers.Dense(TRAIN["hidden"], activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=lab.optimizers.Adam(TRAIN["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=11)
    build_for_fit(model)
    history = model.fit(x, y, batch_size=TRAIN["batch_size"], epochs=TRAIN["epochs"],
                        verbose=0).history
    logits = np.asarray(model(x_test))
    return {"test_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test)),
            "losses": np.asarray(history["loss"], dtype=np.float64)}


@adam_trains_digits.verdict
def _(student, reference):
    expect_finite(student["losses"], "the training losses with your Adam")
    expect_close(student["losses"], reference["losses"],
                 f"the training loss after each of the {TRAIN['epochs']} epochs of fit with "
                 f"your Adam({TRAIN['learning_rate']}) (the same initial weights, data order "
                 "and budget as the reference's)", rtol=LOSS_RTOL, atol=1e-4)
    expect_at_least(student["test_accuracy"], reference["test_accuracy"] - ACCURACY_MARGIN,
                    f"the digits test accuracy of a 64-{TRAIN['hidden']}-10 MLP after "
                    f"{TRAIN['epochs']} epochs with your Adam({TRAIN['learning_rate']}) "
                    f"(reference {reference['test_accuracy']:.3f}, margin {ACCURACY_MARGIN})")
