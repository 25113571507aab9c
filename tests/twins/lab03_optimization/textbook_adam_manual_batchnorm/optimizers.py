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
        self.velocities = []
        for variable in var_list:
            self.velocities.append(self.add_variable_from_reference(
                variable, "velocity", initializer="zeros"))

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self.momentum, variable.dtype)
        velocity = self.velocities[self._get_variable_index(variable)]
        plain_step = -learning_rate * gradient
        new_velocity = ops.add(ops.multiply(momentum, velocity), plain_step)
        self.assign(velocity, new_velocity)
        if self.nesterov:
            update = ops.add(ops.multiply(momentum, new_velocity), plain_step)
        else:
            update = new_velocity
        self.assign(variable, ops.add(variable, update))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


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
        self.accumulators = []
        for variable in var_list:
            self.accumulators.append(self.add_variable_from_reference(
                variable, "accumulator",
                initializer=keras.initializers.Constant(self.initial_accumulator_value)))

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self.accumulators[self._get_variable_index(variable)]
        new_accumulator = accumulator + gradient * gradient
        self.assign(accumulator, new_accumulator)
        epsilon = ops.cast(self.epsilon, variable.dtype)
        self.assign(variable, variable - learning_rate * gradient * ops.rsqrt(new_accumulator + epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config


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
        self.mean_squares = []
        for variable in var_list:
            self.mean_squares.append(self.add_variable_from_reference(
                variable, "mean_square", initializer="zeros"))

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        rho = ops.cast(self.rho, variable.dtype)
        mean_square = self.mean_squares[self._get_variable_index(variable)]
        # the moving average written as a step towards g^2
        new_mean_square = mean_square + (1.0 - rho) * (ops.square(gradient) - mean_square)
        self.assign(mean_square, new_mean_square)
        epsilon = ops.cast(self.epsilon, variable.dtype)
        self.assign(variable, variable - learning_rate * gradient / ops.sqrt(new_mean_square + epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config


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
        self.first_moments, self.second_moments = [], []
        for variable in var_list:
            self.first_moments.append(self.add_variable_from_reference(variable, "m"))
            self.second_moments.append(self.add_variable_from_reference(variable, "v"))

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        beta_1 = ops.cast(self.beta_1, variable.dtype)
        beta_2 = ops.cast(self.beta_2, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        index = self._get_variable_index(variable)
        m = beta_1 * self.first_moments[index] + (1.0 - beta_1) * gradient
        v = beta_2 * self.second_moments[index] + (1.0 - beta_2) * ops.square(gradient)
        self.assign(self.first_moments[index], m)
        self.assign(self.second_moments[index], v)
        # textbook form with the bias-corrected moments and the matching eps_hat
        correction_1 = 1.0 - ops.power(beta_1, step)
        correction_2 = 1.0 - ops.power(beta_2, step)
        m_hat = m / correction_1
        v_hat = v / correction_2
        eps_hat = ops.cast(self.epsilon, variable.dtype) / ops.sqrt(correction_2)
        self.assign_sub(variable, learning_rate * m_hat / (ops.sqrt(v_hat) + eps_hat))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


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
        warmup = self.peak_learning_rate * step / float(max(self.warmup_steps, 1))
        progress = ops.clip(step - self.warmup_steps, 0.0, float(self.decay_steps)) / self.decay_steps
        cosine_factor = 0.5 * (1.0 + ops.cos(ops.multiply(math.pi, progress)))
        cosine = self.final_learning_rate + (self.peak_learning_rate - self.final_learning_rate) * cosine_factor
        return ops.cast(ops.where(ops.less(step, self.warmup_steps), warmup, cosine), "float32")

    def get_config(self):
        return dict(peak_learning_rate=self.peak_learning_rate, warmup_steps=self.warmup_steps,
                    decay_steps=self.decay_steps, final_learning_rate=self.final_learning_rate)
