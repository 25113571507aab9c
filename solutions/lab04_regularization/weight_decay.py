"""Lab 04, part 1: weight decay, in the loss (L2) and in the optimizer (decoupled, AdamW).

Two ways to pull the weights towards zero with a coefficient lambda:

    L2 in the loss:    loss + (lambda / 2) * sum_w ||w||^2, so every gradient gains lambda * w
                       and the OPTIMIZER processes it like any other gradient;
    decoupled decay:   the optimizer shrinks the weights directly, w <- w - lr * lambda * w,
                       beside its update from the plain loss gradient (Loshchilov & Hutter).

For plain SGD these are the same update. For Adam they are not: Adam divides each
coordinate's gradient by sqrt(v), so an L2 gradient lambda * w is rescaled too and the
weights with large gradients are decayed the least. AdamW decays every weight at the same
rate, whatever its gradient history.

Shapes: weights is a list of tensors of any shapes; gradient, variable and every optimizer
slot have the same shape and dtype.
"""
import keras
from keras import ops

PACKAGE = "dlkit_lab04_regularization"


def l2_penalty(weights, coefficient):
    """The L2 penalty (coefficient / 2) * sum of the squares of every entry of every weight.

    Its gradient with respect to each weight w is coefficient * w.
    weights: a list of tensors (any shapes); coefficient: a float. Returns a float32 scalar.
    """
    # BEGIN SOLUTION sum ops.square(w) over every weight, times coefficient / 2
    total = sum(ops.sum(ops.square(ops.cast(w, "float32"))) for w in weights)
    return 0.5 * coefficient * total
    # END SOLUTION


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdamW(keras.optimizers.Adam):
    """Adam with decoupled weight decay, as keras.optimizers.AdamW.

    At step t = iterations + 1, with decay coefficient lambda and learning rate lr:

        w <- w - lr * lambda * w                      the decay: NOT through the gradient
        m <- beta_1 * m + (1 - beta_1) * g            Adam, from the plain loss gradient g
        v <- beta_2 * v + (1 - beta_2) * g^2
        w <- w - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + eps)

    The Adam part is Keras's own (this class extends keras.optimizers.Adam; lab 03 is where
    you write Adam); you write the decay. The decay is kept out of the base Optimizer (which
    also knows a weight_decay argument): this class applies it itself, in update_step.
    """

    def __init__(self, learning_rate=0.001, decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, name="adamw", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, name=name, **kwargs)
        self.decay = decay

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        decay = ops.cast(self.decay, variable.dtype)
        # BEGIN SOLUTION shrink the variable itself by learning_rate * decay * variable (self.assign_sub); leave the gradient alone
        self.assign_sub(variable, learning_rate * decay * variable)
        # END SOLUTION
        super().update_step(gradient, variable, learning_rate)   # Adam, from the gradient

    def get_config(self):
        return {**super().get_config(), "decay": self.decay}
