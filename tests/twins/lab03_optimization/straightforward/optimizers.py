"""Lab 03, part 1: optimizers and a learning-rate schedule, as Keras 3 objects.

Every optimizer here is a `keras.optimizers.Optimizer` subclass that follows the exact
conventions of its Keras counterpart (same arguments, same defaults, same update rule), so
the checks can compare them step by step with keras.optimizers.SGD / Adagrad / RMSprop /
Adam. The Keras 3 optimizer API:

    build(var_list)      once, before the first step: call super().build(var_list), then
                         create one slot variable per model variable with
                         self.add_variable_from_reference(variable, name, initializer)
    update_step(gradient, variable, learning_rate)
                         one step for ONE variable; find its slots with
                         self._get_variable_index(variable) (the index of the variable in
                         var_list); update them and the variable with self.assign,
                         self.assign_add, self.assign_sub; compute with keras.ops
    get_config()         the constructor arguments, so the optimizer saves with a model

`self.iterations` counts the steps already applied (0 during the first update_step).
Shapes: every slot has the shape and dtype of its variable; gradient and variable too.
"""
import math

import keras
from keras import ops

PACKAGE = "dlkit_lab03_optimization"


@keras.saving.register_keras_serializable(package=PACKAGE)
class MomentumSGD(keras.optimizers.Optimizer):
    """Gradient descent with (optionally Nesterov) momentum, as keras.optimizers.SGD.

    With velocity v (zeros at the start), momentum mu and learning rate lr, each step does

        v <- mu * v - lr * g
        w <- w + v                      (heavy ball, nesterov=False)
        w <- w + mu * v - lr * g        (Nesterov, with the v just updated)

    momentum=0 is plain gradient descent.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="momentum_sgd",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.velocities = [self.add_variable_from_reference(v, "velocity") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self.momentum, variable.dtype)
        v = self.velocities[self._get_variable_index(variable)]
        self.assign(v, momentum * v - learning_rate * gradient)
        if self.nesterov:
            self.assign_add(variable, momentum * v - learning_rate * gradient)
        else:
            self.assign_add(variable, v)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaGrad(keras.optimizers.Optimizer):
    """AdaGrad, as keras.optimizers.Adagrad: a per-coordinate step that shrinks with the
    sum of all squared gradients seen so far.

        a <- a + g^2                    (a starts at initial_accumulator_value, not 0)
        w <- w - lr * g / sqrt(a + eps) (epsilon INSIDE the square root)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        init = keras.initializers.Constant(self.initial_accumulator_value)
        self.accumulators = [self.add_variable_from_reference(v, "accumulator", initializer=init)
                             for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        a = self.accumulators[self._get_variable_index(variable)]
        self.assign_add(a, ops.square(gradient))
        self.assign_sub(variable, learning_rate * gradient / ops.sqrt(a + self.epsilon))

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class RMSProp(keras.optimizers.Optimizer):
    """RMSProp, as keras.optimizers.RMSprop (no momentum, not centred): AdaGrad with a
    moving average of squared gradients instead of their sum, so steps do not die out.

        s <- rho * s + (1 - rho) * g^2  (s starts at 0)
        w <- w - lr * g / sqrt(s + eps) (epsilon INSIDE the square root)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.mean_squares = [self.add_variable_from_reference(v, "mean_square") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        rho = ops.cast(self.rho, variable.dtype)
        s = self.mean_squares[self._get_variable_index(variable)]
        self.assign(s, rho * s + (1.0 - rho) * ops.square(gradient))
        self.assign_sub(variable, learning_rate * gradient / ops.sqrt(s + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Adam(keras.optimizers.Optimizer):
    """Adam, as keras.optimizers.Adam: momentum on the gradient, RMSProp on its scale, and
    a correction of both moving averages for starting at 0.

    At step t = iterations + 1 (m and v start at 0):

        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g^2
        alpha_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)      (the bias correction)
        w <- w - alpha_t * m / (sqrt(v) + eps)                  (epsilon OUTSIDE the root)

    This is the "efficient" form of Kingma & Ba (end of their section 2), the one Keras
    uses; it equals lr * m_hat / (sqrt(v_hat) + eps_hat) with m_hat = m / (1 - beta_1^t),
    v_hat = v / (1 - beta_2^t) and eps_hat = eps / sqrt(1 - beta_2^t).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.first_moments = [self.add_variable_from_reference(v, "first_moment") for v in var_list]
        self.second_moments = [self.add_variable_from_reference(v, "second_moment")
                               for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        beta_1 = ops.cast(self.beta_1, variable.dtype)
        beta_2 = ops.cast(self.beta_2, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        index = self._get_variable_index(variable)
        m, v = self.first_moments[index], self.second_moments[index]
        self.assign(m, beta_1 * m + (1.0 - beta_1) * gradient)
        self.assign(v, beta_2 * v + (1.0 - beta_2) * ops.square(gradient))
        alpha = learning_rate * ops.sqrt(1.0 - ops.power(beta_2, step)) / (1.0 - ops.power(beta_1, step))
        self.assign_sub(variable, alpha * m / (ops.sqrt(v) + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to peak_learning_rate, then a half cosine down to
    final_learning_rate, then constant:

        step < W:           lr = peak * step / W
        W <= step:          p = min(step - W, D) / D
                            lr = final + (peak - final) * (1 + cos(pi * p)) / 2

    with W = warmup_steps and D = decay_steps. The optimizer calls the schedule with its
    `iterations` (an integer tensor) inside a compiled step, so use keras.ops only: no
    Python `if` on the step. step: a scalar (int or tensor). Returns lr: a float32 scalar.
    (The same numbers as keras.optimizers.schedules.CosineDecay(0.0, D, alpha=final/peak,
    warmup_target=peak, warmup_steps=W).)
    """

    def __init__(self, peak_learning_rate, warmup_steps, decay_steps, final_learning_rate=0.0):
        if decay_steps <= 0 or warmup_steps < 0:
            raise ValueError("need decay_steps > 0 and warmup_steps >= 0, got "
                             f"{decay_steps} and {warmup_steps}")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.final_learning_rate = final_learning_rate

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = ops.cast(self.peak_learning_rate, "float32")
        final = ops.cast(self.final_learning_rate, "float32")
        warmup_steps = ops.cast(self.warmup_steps, "float32")
        decay_steps = ops.cast(self.decay_steps, "float32")
        warmup = peak * step / ops.maximum(warmup_steps, 1.0)
        progress = ops.minimum(ops.maximum(step - warmup_steps, 0.0), decay_steps) / decay_steps
        cosine = final + (peak - final) * (1.0 + ops.cos(math.pi * progress)) / 2.0
        return ops.where(step < warmup_steps, warmup, cosine)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps,
                "decay_steps": self.decay_steps, "final_learning_rate": self.final_learning_rate}
