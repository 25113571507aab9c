"""Public checks of lab04_regularization, part 3: the early-stopping callback
(early_stopping.py), against keras.callbacks.EarlyStopping on scripted validation losses
and inside fit."""
import numpy as np

from autograder.api import check
from autograder.checks.lab04_regularization.probes import (
    early_stopping_probe,
    judge_early_stopping,
)
from autograder.verdicts import expect_true

# Validation-loss scripts and settings: (losses, patience, min_delta, restore_best_weights).
SCRIPTS = [
    ([1.0, 0.8, 0.7, 0.72, 0.71, 0.69, 0.75, 0.8, 0.9, 1.0], 2, 0.0, True),
    ([1.0, 0.8, 0.7, 0.68, 0.67, 0.66, 0.75, 0.8, 0.9, 1.0], 2, 0.05, True),
    ([1.0, 0.9, 0.95, 0.85, 0.85, 0.84, 0.9, 0.91, 0.92, 0.93], 0, 0.0, True),
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], 1, 0.0, True),
    ([0.5, 0.6, 0.4, 0.45, 0.46, 0.47, 0.48, 0.3], 3, 0.0, False),
    ([0.9, 0.88, 0.87, 0.9, 0.86, 0.86, 0.95, 0.85, 0.99, 0.99, 0.99, 0.99], 3, 0.01, True),
]


@check(points=3, uses="early_stopping", task="`EarlyStopping` (early_stopping.py)",
       hint="improvement: current < best - min_delta; wait counts epochs since the last one; "
            "stop when wait >= patience; keep model.get_weights() of the best epoch and "
            "set_weights it in on_train_end")
def early_stopping_on_scripted_losses(lab, rng):
    """Six scripted validation-loss sequences (patience 0-3, min_delta 0-0.05, with and
    without restoring): the epochs run and the final weights, against Keras's callback."""
    return early_stopping_probe(lab, SCRIPTS)


@early_stopping_on_scripted_losses.verdict
def _(student, reference):
    judge_early_stopping(student, reference, SCRIPTS)


FIT_SCRIPT = [1.0, 0.7, 0.6, 0.65, 0.55, 0.58, 0.6, 0.62, 0.7, 0.8, 0.9, 1.0]


@check(points=1, uses="early_stopping", task="`EarlyStopping`",
       hint="inside fit, the callback stops training with self.model.stop_training = True and "
            "restores the best epoch's weights in on_train_end")
def early_stopping_in_fit(lab, rng):
    """Inside `model.fit` (patience 3, restoring) on a scripted val_loss: the epochs run and
    the weights training ends with."""
    import keras

    class ScriptedValidationLoss(keras.callbacks.Callback):
        """Writes the scripted val_loss into the logs the later callbacks see."""
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = FIT_SCRIPT[epoch]

    class WeightRecorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    recorder = WeightRecorder()
    stopper = lab.early_stopping.EarlyStopping(patience=3, restore_best_weights=True)
    history = model.fit(x, y, batch_size=32, epochs=len(FIT_SCRIPT), verbose=0,
                        callbacks=[ScriptedValidationLoss(), recorder, stopper])
    final = model.get_weights()
    matches = [i for i, w in enumerate(recorder.weights)
               if all(np.allclose(a, b) for a, b in zip(w, final))]
    return {"epochs": len(history.history["loss"]), "weights_from": matches[-1] if matches else -1}


@early_stopping_in_fit.verdict
def _(student, reference):
    what = f"fit with EarlyStopping(patience=3, restore_best_weights=True) on val_loss {FIT_SCRIPT}"
    expect_true(student["epochs"] == reference["epochs"],
                f"{what} ran {student['epochs']} epochs, expected {reference['epochs']}")
    got = student["weights_from"]
    expect_true(got == reference["weights_from"],
                f"{what} ends with the weights of "
                f"{'no epoch seen' if got < 0 else f'epoch {got}'}, expected those of epoch "
                f"{reference['weights_from']} (the best one, counted from 0)")

