"""GPU checks: what every lab's `gpu.py` shares.

A GPU check trains at the scale only a GPU affords in a grading run (a real data set, a
larger model, a longer budget) and judges a number that means something at that scale,
against the solution trained the same way on the same device:

    @gpu_check(points=3, minutes=2.0, datasets=("mnist",), task="`MLP`")
    def mlp_on_mnist(lab, rng):
        x, y = lab.gpu.images("mnist", "train", 60_000)
        ...train for lab.gpu.steps(3_000) steps, compiled with lab.gpu.compile(...)

`minutes` is the check's budget on one T4-class GPU, estimated from the FLOPs and steps it
runs (the README's GPU table adds them up per lab). `datasets` are the TFDS data sets it
reads: when one is not prepared, the check is skipped with the command that prepares it.
In the probe, `lab.gpu` is a `GpuRun`: the profile's settings (the worker has already set
the mixed-precision policy when they ask for it: GpuRun.policy) and the smoke-test switch
that shrinks the data and the steps (profiles.py).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from autograder.api import check

SMOKE_STEPS = 3        # training steps of a GPU check under DLKIT_GPU_SMOKE
SMOKE_EXAMPLES = 96    # examples it reads of each split


def gpu_check(points: float, *, minutes: float, datasets: tuple[str, ...] = (),
              hint: str = "", uses: str | tuple[str, ...] | None = None, task: str = "",
              reference: bool = True, name: str | None = None):
    """Declare a GPU check: skipped on the cpu profile, its reference computed live."""
    if minutes <= 0:
        raise ValueError("a GPU check states its budget in minutes on a T4-class GPU")
    # Generous on a slower card than the one the budget was measured for, and on a CPU
    # under the smoke test, where a first step builds the model and traces it.
    timeout = max(180.0, 4 * 60 * minutes)
    return check(points, hint=hint, timeout=timeout, requires_gpu=True, uses=uses, task=task,
                 reference=reference, name=name, datasets=tuple(datasets), minutes=minutes)


# -- the grader's side: is the data there? --------------------------------------------

def data_dir() -> Path:
    """The TFDS folder GPU checks read: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    from dlkit.data.tfds_real import default_data_dir
    return Path(os.path.realpath(default_data_dir()))


def missing_datasets(names: tuple[str, ...]) -> list[str]:
    """The data sets of `names` that are not prepared in `data_dir()` (file checks only)."""
    from dlkit.data.tfds_real import DatasetNotAvailable, find_prepared
    missing = []
    for name in names:
        try:
            find_prepared(name, data_dir())
        except (DatasetNotAvailable, ValueError):
            missing.append(name)
    return missing


def skip_message(missing: list[str]) -> str:
    listed = " ".join(missing)
    return (f"needs the TFDS data set{'s' if len(missing) > 1 else ''} {listed}, not prepared "
            f"in {data_dir()}: run `python -m dlkit.data prepare {listed}` on a machine with "
            "network (the GPU CI templates do), or point TFDS_DATA_DIR at a folder holding it")


# -- the worker's side: lab.gpu ---------------------------------------------------------

@contextlib.contextmanager
def without_op_determinism():
    """Op determinism off for the block, back as it was after. Keras refuses XLA
    (`jit_compile=True`) while it is on: it warns and trains without it."""
    from tensorflow.python.framework import config
    was_on = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    try:
        yield
    finally:
        if was_on:
            config.enable_op_determinism()


@dataclass(frozen=True)
class GpuRun:
    """How a GPU check's probe trains: `lab.gpu`."""
    mixed_precision: bool = True
    xla: bool = True
    smoke: bool = False

    def policy(self) -> str:
        """The dtype policy the worker sets when mixed_precision is asked for: mixed_float16,
        as a GPU runner trains; in the smoke test on a machine with no GPU, mixed_bfloat16.
        Its casts are the same (float32 weights, half-precision compute), and a CPU runs them
        on its own kernels, where a float16 convolution's gradient is emulated hundreds of
        times slower (a 3x3 convolution of 96 digits: 28 s against 0.03 s). Loss scaling,
        which only float16 needs, is judged by the readiness checks."""
        if self.smoke:
            import tensorflow as tf
            if not tf.config.list_physical_devices("GPU"):
                return "mixed_bfloat16"
        return "mixed_float16"

    def steps(self, full: int) -> int:
        """Training steps: `full` on a GPU runner, a handful in the smoke test."""
        return min(full, SMOKE_STEPS) if self.smoke else full

    def examples(self, full: int) -> int:
        return min(full, SMOKE_EXAMPLES) if self.smoke else full

    def compile(self, model, optimizer, **kwargs) -> None:
        """model.compile with XLA when the profile asks for it. The smoke test runs its few
        steps eagerly: tracing them would cost seconds per check and show nothing more (the
        readiness checks trace every train_step, and a GPU runner traces for real)."""
        model.compile(optimizer=optimizer, jit_compile=self.xla, run_eagerly=self.smoke,
                      **kwargs)

    def fit(self, model, x, y, *, epochs: int, batch: int) -> None:
        """model.fit for `steps(epochs * len(x) // batch)` steps, in whole epochs when it can.
        In the smoke test the batch shrinks so that its few examples make those steps in
        batches of one shape."""
        steps = self.steps(epochs * len(x) // batch)
        batch = min(batch, max(1, len(x) // steps))
        epochs = max(1, min(epochs, steps * batch // len(x)))
        model.fit(x, y, batch_size=batch, epochs=epochs, steps_per_epoch=steps // epochs,
                  verbose=0)

    @staticmethod
    def outputs(model, x, batch: int = 500):
        """The model's outputs on x, float32, from eager calls in chunks: predict() would
        trace once more, seconds in the smoke test."""
        import numpy as np
        return np.concatenate([np.asarray(model(x[i:i + batch], training=False), "float32")
                               for i in range(0, len(x), batch)])

    def accuracy(self, model, x, y) -> float:
        """Share of x whose largest logit is at the label y."""
        import numpy as np
        return float(np.mean(np.argmax(self.outputs(model, x), axis=-1) == y))

    def images(self, name: str, split: str, count: int):
        """The first `examples(count)` images of a prepared TFDS split: (x float32 in [0, 1],
        NHWC; y int32), read in one pass."""
        import numpy as np

        from dlkit.data.tfds_real import load_tfds
        dataset = load_tfds(name, split).take(self.examples(count)).batch(4096)
        xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
        return (np.concatenate(xs).astype("float32") / 255.0,
                np.concatenate(ys).astype("int32"))

    def digit_classifier(self, x, y, epochs: int):
        """A small CNN trained for `epochs` on the MNIST digits (x, y): a model returning its
        128 penultimate features and its logits, a fixed judge of generated digits."""
        import keras
        from keras import layers
        inputs = keras.Input((28, 28, 1))
        h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
        h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
        features = layers.Dense(128, activation="relu")(layers.Flatten()(h))
        model = keras.Model(inputs, layers.Dense(10)(features))
        self.compile(model, keras.optimizers.Adam(1e-3),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=128, epochs=1,
                  steps_per_epoch=self.steps(epochs * len(x) // 128), verbose=0)
        return keras.Model(inputs, [features, model.outputs[0]])

    def text(self, name: str, split: str) -> str:
        """A TFDS text split (one or more records of a `text` feature) as one string; the
        smoke test keeps its first 4000 characters."""
        from dlkit.data.tfds_real import load_tfds
        records = load_tfds(name, split, as_supervised=False)
        text = "".join(record["text"].numpy().decode("utf-8") for record in records)
        return text[:4000] if self.smoke else text
