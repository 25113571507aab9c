"""Lab 04, part 4: early stopping as a Keras callback. Fill in the TODOs.

Training longer keeps lowering the training loss, but the validation loss turns back up
once the network starts fitting noise. Early stopping watches the validation loss after
every epoch, stops when it has not improved for `patience` epochs in a row, and (with
restore_best_weights) puts back the weights of the best epoch seen.

The rules, exactly those of keras.callbacks.EarlyStopping(mode="min", baseline=None):

    an epoch IMPROVES when  current < best - min_delta     (the first epoch always does)
    on_epoch_end(epoch):    wait += 1
                            if it improves: best = current, best_epoch = epoch, wait = 0,
                                            and keep a copy of the weights (model.get_weights())
                            elif wait >= patience and epoch > 0: stopped_epoch = epoch,
                                            model.stop_training = True
    on_train_end:           with restore_best_weights, model.set_weights(the best copy)

So with patience p the run stops p epochs after the last improvement. Keras calls
on_train_begin, then on_epoch_end(epoch, logs) with logs[monitor] after each epoch, then
on_train_end; the callback reaches the model as self.model.
"""
import keras


class EarlyStopping(keras.callbacks.Callback):
    """Stop training when `monitor` (lower is better) stops improving."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0,
                 restore_best_weights=False):
        super().__init__()
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        # Reset everything, so that one callback can serve several fit() calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        self.wait += 1
        if self.best is None or current < self.best - self.min_delta:
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            self.wait = 0
        elif self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
