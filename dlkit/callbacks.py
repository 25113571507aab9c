"""Keras callbacks that write TensorBoard event files: losses and generated image samples.

Importing this module imports TensorFlow (the classes subclass Keras's); `dlkit.training`
imports it only when a callback is asked for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from dlkit.backend import keras, tensorflow

tf = tensorflow()
_keras = keras()


TensorBoard = _keras.callbacks.TensorBoard


class ImageSamplesCallback(_keras.callbacks.Callback):
    """Every n-th epoch, draw images with sample_fn and log them to TensorBoard.

    sample_fn: () -> images (N, H, W, C) or (N, H, W), values in [0, 1] (numpy or tensor),
    e.g. decoded latent samples of a VAE or a GAN generator's output on fixed noise.
    Writes tag `tag` to <logdir> with the epoch number (0-based) as step.
    """

    def __init__(self, sample_fn: Callable[[], np.ndarray], logdir, *, every_n_epochs: int = 1,
                 max_images: int = 16, tag: str = "samples"):
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.sample_fn = sample_fn
        self.logdir = Path(logdir)
        self.every_n_epochs = every_n_epochs
        self.max_images = max_images
        self.tag = tag
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        images = np.asarray(self.sample_fn(), dtype=np.float32)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
            raise ValueError("sample_fn must return images (N, H, W, C) with C in {1, 3, 4}, "
                             f"got shape {images.shape}")
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.logdir))
        with self._writer.as_default():
            tf.summary.image(self.tag, np.clip(images, 0.0, 1.0), step=epoch,
                                max_outputs=self.max_images)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
