"""Training helpers: loss trackers and compile for custom train_steps, TensorBoard callbacks,
run folders.

Importing this module does not import TensorFlow; the trackers and callbacks do on use.

A model with a custom train_step reports its losses through LossTrackers (Keras 3):

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.trackers = LossTrackers("loss", "reconstruction", "kl")

        @property
        def metrics(self):
            # Keras resets exactly these at the start of every epoch, so each logged
            # value is that epoch's mean, not a running mean since the first epoch.
            return self.trackers.metrics

        def train_step(self, data):
            ...  # the lab's own step: losses under a tape, scaled, applied
            self.trackers.update(loss=loss, reconstruction=reconstruction, kl=kl)
            return self.trackers.results()  # {name: mean so far}

Do not report losses through `self.compiled_metrics.update_state`: in Keras 3 it logs a wrong
loss without any error.

Its optimizer comes through `compile`, built there (see OneOptimizer and OptimizerPerNetwork),
and a loop of a known count inside train_step is `keras.ops.fori_loop(0, n, body, state)`:
Keras 3 traces train_step with AutoGraph off, so a Python `for _ in tf.range(n)` there
does not become a graph loop.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from dlkit.backend import keras

_REPO_ROOT = Path(__file__).resolve().parents[1]


class LossTrackers:
    """Named `keras.metrics.Mean` trackers, one per loss term.

    LossTrackers("loss", "reconstruction", "kl"): `.update(loss=..., kl=...)` adds a batch
    value to the named trackers only; `.metrics` lists them (return it from the model's
    `metrics` property); `.results()` gives {name: current mean} to return from train_step.
    """

    def __init__(self, *names: str):
        if not names or len(set(names)) != len(names):
            raise ValueError(f"give one or more distinct tracker names, got {names}")
        mean = keras().metrics.Mean
        self._trackers = {name: mean(name=name) for name in names}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._trackers)

    @property
    def metrics(self) -> list:
        return list(self._trackers.values())

    def __getitem__(self, name: str):
        return self._trackers[name]

    def update(self, **values) -> None:
        """Add one batch value (scalar tensor or float) per given name."""
        unknown = sorted(set(values) - set(self._trackers))
        if unknown:
            raise KeyError(f"no tracker named {unknown}; trackers are {list(self._trackers)}")
        for name, value in values.items():
            self._trackers[name].update_state(value)

    def results(self) -> dict:
        """{name: mean since the last reset} (scalar tensors inside train_step)."""
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def reset(self) -> None:
        """Reset all trackers (Keras does this each epoch via the model's `metrics`)."""
        for tracker in self._trackers.values():
            tracker.reset_state()


class OneOptimizer:
    """Mixin for a keras.Model with its own train_step and one optimizer: write
    `class VAE(OneOptimizer, keras.Model)`.

    `compile(optimizer="adam", ...)` builds the optimizer's slots for the model's weights at
    once (built inside the first traced train_step instead, they make TensorFlow trace that
    step twice), and `keras.saving.load_model` compiles the loaded model the same way, so its
    optimizer state is restored too. The model's weights must exist at compile time.
    """

    def compile(self, optimizer="adam", **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips this for a model with its own compile unless the model defines it.
        self.compile(**keras().saving.deserialize_keras_object(config))


class OptimizerPerNetwork:
    """Mixin for a keras.Model that trains each of its networks with its own optimizer (GAN,
    WGAN): `class GAN(OptimizerPerNetwork, keras.Model)` with

        OPTIMIZERS = {"d_optimizer": "discriminator", "g_optimizer": "generator"}

    ({compile argument: the attribute holding the network it trains}). Then
    `gan.compile(d_optimizer=..., g_optimizer=...)` sets `gan.d_optimizer` and
    `gan.g_optimizer`, builds each for its own network's weights, and `load_model` restores
    both optimizers and their state.
    """

    OPTIMIZERS: dict[str, str] = {}

    def compile(self, **kwargs):
        missing = sorted(set(self.OPTIMIZERS) - set(kwargs))
        if missing:
            raise TypeError(f"compile() needs {', '.join(missing)}")
        optimizers = {name: kwargs.pop(name) for name in self.OPTIMIZERS}
        super().compile(**kwargs)   # the rest (steps_per_execution, jit_compile...) is Keras's
        for name, network in self.OPTIMIZERS.items():
            setattr(self, name, optimizers[name])
            optimizers[name].build(getattr(self, network).trainable_variables)

    def get_compile_config(self):
        # Saved with the model, so that load_model gives back a model ready to train on.
        if any(getattr(self, name, None) is None for name in self.OPTIMIZERS):
            return None
        serialize = keras().saving.serialize_keras_object
        return {name: serialize(getattr(self, name)) for name in self.OPTIMIZERS}

    def compile_from_config(self, config):
        deserialize = keras().saving.deserialize_keras_object
        self.compile(**{name: deserialize(value) for name, value in config.items()})


def tensorboard_callbacks(logdir, *, sample_fn: Callable | None = None, every_n_epochs: int = 1,
                          max_images: int = 16, **tensorboard_options) -> list:
    """Callbacks that log a fit to TensorBoard under `logdir`.

    Always a Keras TensorBoard callback (epoch losses in <logdir>/train and
    <logdir>/validation); with sample_fn, also an ImageSamplesCallback writing
    sample_fn() -> (N, H, W, C) images in [0, 1] to <logdir>/samples every n-th epoch.
    tensorboard_options: passed to keras.callbacks.TensorBoard (e.g. update_freq).
    """
    from dlkit.callbacks import ImageSamplesCallback, TensorBoard

    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    callbacks = [TensorBoard(log_dir=str(logdir), **tensorboard_options)]
    if sample_fn is not None:
        callbacks.append(ImageSamplesCallback(sample_fn, logdir / "samples",
                                              every_n_epochs=every_n_epochs,
                                              max_images=max_images))
    return callbacks


def outputs_root() -> Path:
    """<repo>/outputs (git-ignored), or $DLKIT_OUTPUT_DIR when set (tests, CI artefacts)."""
    return Path(os.environ.get("DLKIT_OUTPUT_DIR") or _REPO_ROOT / "outputs")


def run_dir(lab: str, name: str) -> Path:
    """Create and return <outputs>/<lab>/<name>, where a notebook companion writes its PNGs
    and TensorBoard logs, e.g. run_dir("lab11_vae", "beta4")."""
    for part in (lab, name):
        if not part or part in (".", "..") or "/" in part or os.sep in part:
            raise ValueError(f"lab and name must be plain folder names, got {part!r}")
    folder = outputs_root() / lab / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def __getattr__(name: str):
    # The callback classes subclass Keras's, so they exist only once TF is imported.
    if name in ("ImageSamplesCallback", "TensorBoard"):
        from dlkit import callbacks

        return getattr(callbacks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
