"""Tests of the dlkit helper library.

TensorFlow costs ~3 s to import, so every dlkit test lives in this file and TF is imported
at most once per (xdist worker) process, through the module fixture `tf`. The xdist group
asks `--dist loadgroup` to keep the file on one worker (xdist 3.8 ignores it under pytest 9).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dlkit import plots
from dlkit.data import (
    CLASSIFICATION_NAMES,
    SHAPE_CLASSES,
    TOY2D_NAMES,
    DatasetNotAvailable,
    digits_dataset,
    find_prepared,
    load_digits,
    load_tfds,
    make_shapes,
    sample_toy2d,
    shapes_dataset,
    toy2d_classification,
    toy2d_dataset,
    toy2d_mode_counts,
    toy2d_modes,
)
from dlkit.data.digits import split_indices
from dlkit.training import (
    LossTrackers,
    OneOptimizer,
    OptimizerPerNetwork,
    outputs_root,
    run_dir,
    tensorboard_callbacks,
)

pytestmark = pytest.mark.xdist_group("dlkit")

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tf():
    from dlkit.backend import tensorflow

    return tensorflow()


@pytest.fixture(scope="module")
def keras(tf):
    from dlkit.backend import keras

    return keras()


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter with the repo importable and no TF settings inherited."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_png(path: Path) -> None:
    path = Path(path)
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    from matplotlib.image import imread

    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.std() > 0.01, f"{path} is a blank picture"


def events(logdir: Path, tf) -> list[tuple[int, object]]:
    """All (step, summary value) pairs of the event files directly inside logdir."""
    files = sorted(Path(logdir).glob("events.out.tfevents.*"))
    assert files, f"no event file in {logdir}"
    return [(event.step, value) for file in files
            for event in tf.compat.v1.train.summary_iterator(str(file))
            for value in event.summary.value]


# --- import hygiene -------------------------------------------------------------------

def test_tensorflow_is_imported_only_when_asked_and_quietly():
    # One fresh interpreter checks both: TF is imported by nothing but tensorflow(), and
    # that import prints nothing yet leaves stderr working.
    result = run_python("""
        import os, sys, tempfile
        import dlkit, dlkit.data, dlkit.plots, dlkit.training
        from dlkit.data import load_digits, sample_toy2d, make_shapes, toy2d_classification
        from dlkit.plots import save_scatter_2d
        load_digits("test"); sample_toy2d("ring", 10); make_shapes(4); toy2d_classification("xor", 8)
        save_scatter_2d({"a": sample_toy2d("moons", 10)}, os.path.join(tempfile.mkdtemp(), "a.png"))
        print(sorted(m for m in ("tensorflow", "keras", "tensorflow_datasets") if m in sys.modules))

        from dlkit.backend import tensorflow
        before = os.fstat(2)
        tf = tensorflow()
        after = os.fstat(2)
        print(tensorflow() is tf and "tensorflow" in sys.modules)
        print((before.st_dev, before.st_ino) == (after.st_dev, after.st_ino))
        print(os.environ["KERAS_BACKEND"], os.environ["TF_CPP_MIN_LOG_LEVEL"], dlkit.__version__)
        os.write(2, b"still-visible\\n")
    """)
    assert result.returncode == 0, result.stderr
    loaded, cached, restored, settings = result.stdout.split("\n")[:4]
    assert loaded == "[]", f"importing/using numpy parts of dlkit imported {loaded}"
    assert cached == "True", "tensorflow() must import TF once and return the cached module"
    assert restored == "True", "file descriptor 2 was not restored after the TF import"
    assert settings == "tensorflow 3 0.1.0"
    assert result.stderr == "still-visible\n", f"TF import was not quiet: {result.stderr!r}"


# --- backend --------------------------------------------------------------------------

def test_seed_everything_repeats_numpy_and_tensorflow_draws(tf):
    from dlkit.backend import seed_everything

    def draws(seed):
        seed_everything(seed)
        return np.random.rand(3), tf.random.uniform((3,)).numpy()

    first, again, other = draws(1), draws(1), draws(2)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_reset_keras_restores_float32_and_fresh_names(keras):
    from dlkit.backend import reset_keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    keras.config.set_floatx("float64")
    keras.layers.Dense(1), keras.layers.Dense(1)
    reset_keras(0)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert keras.config.floatx() == "float32"
    assert keras.layers.Dense(1).name == "dense"


def test_device_summary_reports_versions(tf):
    from dlkit.backend import device_summary

    summary = device_summary()
    assert set(summary) == {"device", "gpus", "tensorflow", "keras", "tensorflow_probability",
                            "python", "numpy"}
    assert summary["tensorflow"] == tf.__version__
    assert summary["python"] == ".".join(map(str, sys.version_info[:3]))
    assert summary["device"] == (f"GPU: {summary['gpus'][0]}" if summary["gpus"] else "CPU")


# --- digits ---------------------------------------------------------------------------

def test_digits_shapes_dtypes_and_ranges():
    x, y = load_digits("train")
    assert x.shape[1:] == (8, 8, 1) and x.dtype == np.float32
    assert y.shape == (len(x),) and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    flat, _ = load_digits("train", flatten=True)
    np.testing.assert_array_equal(flat, x.reshape(len(x), 64))
    binary, _ = load_digits("train", binarize=True)
    assert set(np.unique(binary)) == {0.0, 1.0}
    np.testing.assert_array_equal(binary, (x >= 0.5).astype(np.float32))


def test_digits_train_and_test_are_disjoint_stratified_and_cover_all():
    x_train, y_train = load_digits("train")
    x_test, y_test = load_digits("test")
    x_all, _ = load_digits("all")
    assert len(x_train) + len(x_test) == len(x_all) == 1797
    # The 1797 images are pairwise distinct, so distinct bytes means distinct samples.
    train_rows = {row.tobytes() for row in x_train.reshape(len(x_train), -1)}
    assert not any(row.tobytes() in train_rows for row in x_test.reshape(len(x_test), -1))
    test_counts = np.bincount(y_test, minlength=10)
    all_counts = test_counts + np.bincount(y_train, minlength=10)
    assert np.all(np.abs(test_counts / all_counts - 0.25) < 0.01), "split is not stratified"


def test_digits_split_is_reproducible_per_seed():
    same_a, same_b = load_digits("test", seed=3)[0], load_digits("test", seed=3)[0]
    other = load_digits("test", seed=4)[0]
    np.testing.assert_array_equal(same_a, same_b)
    assert not np.array_equal(same_a, other)
    train_idx, test_idx = split_indices(np.arange(40) % 4, 0.3, seed=0)
    assert len(np.intersect1d(train_idx, test_idx)) == 0 and len(test_idx) == 12


def test_digits_dataset_batches_and_order_is_seeded(tf):
    ds = digits_dataset("train", batch_size=32, seed=5)
    x, y = next(iter(ds))
    assert x.shape == (32, 8, 8, 1) and x.dtype == tf.float32 and y.dtype == tf.int32
    again = next(iter(digits_dataset("train", batch_size=32, seed=5)))[1]
    np.testing.assert_array_equal(y.numpy(), again.numpy())
    images_only = next(iter(digits_dataset("test", batch_size=16, flatten=True, with_labels=False)))
    assert images_only.shape == (16, 64)
    total = sum(int(b[1].shape[0]) for b in digits_dataset("test", batch_size=100, shuffle=False))
    assert total == len(load_digits("test")[0])


# --- 2-D toy sets ---------------------------------------------------------------------

@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_toy2d_sets_are_deterministic_float32_and_in_range(name):
    x = sample_toy2d(name, 2000, seed=0)
    assert x.shape == (2000, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, sample_toy2d(name, 2000, seed=0))
    assert not np.array_equal(x, sample_toy2d(name, 2000, seed=1))
    inside = np.mean(np.all(np.abs(x) <= 4.5, axis=1))
    assert inside > 0.999, f"{name}: only {inside:.3%} of points inside [-4.5, 4.5]^2"


def test_toy2d_modes_and_mode_counts():
    ring = toy2d_modes("ring")
    assert ring.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, rtol=1e-6)
    assert toy2d_modes("grid").shape == (25, 2)
    assert np.all(toy2d_mode_counts(sample_toy2d("ring", 800), "ring") > 50)
    collapsed = np.repeat(ring[:1], 100, axis=0)  # a generator stuck on one mode
    assert (toy2d_mode_counts(collapsed, "ring") > 0).sum() == 1
    assert toy2d_mode_counts(np.zeros((10, 2)), "ring").sum() == 0  # far from every mode
    with pytest.raises(ValueError):
        toy2d_modes("moons")


@pytest.mark.parametrize("name", CLASSIFICATION_NAMES)
def test_toy2d_classification_is_balanced(name):
    x, y = toy2d_classification(name, 300, seed=0)
    assert x.shape == (300, 2) and x.dtype == np.float32 and y.dtype == np.int32
    counts = np.bincount(y)
    assert len(counts) >= 2 and counts.max() - counts.min() <= 1


def test_toy2d_rejects_unknown_and_unlabelled_names(tf):
    with pytest.raises(ValueError, match="unknown"):
        sample_toy2d("banana", 10)
    with pytest.raises(ValueError, match="no class labels"):
        toy2d_classification("ring", 10)
    batch = next(iter(toy2d_dataset("grid", 100, batch_size=64)))
    assert batch.shape == (64, 2) and batch.dtype == tf.float32


# --- procedural shapes ----------------------------------------------------------------

def test_shapes_contract_and_speed():
    start = time.process_time()   # CPU time: a busy machine does not make it fail
    data = make_shapes(2000, size=32, seed=0)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"make_shapes(2000) took {elapsed:.2f} s of CPU"
    assert data["images"].shape == (2000, 32, 32, 1) and data["images"].dtype == np.float32
    assert data["masks"].shape == (2000, 32, 32, 1) and data["boxes"].shape == (2000, 4)
    assert data["labels"].dtype == np.int32 and data["boxes"].dtype == np.float32
    assert 0.0 <= data["images"].min() and data["images"].max() <= 1.0
    assert set(np.unique(data["masks"])) == {0.0, 1.0}
    counts = np.bincount(data["labels"], minlength=len(SHAPE_CLASSES))
    assert counts.max() - counts.min() <= 1
    again = make_shapes(2000, size=32, seed=0)
    for key in data:
        np.testing.assert_array_equal(data[key], again[key])
    assert not np.array_equal(data["masks"], make_shapes(2000, size=32, seed=1)["masks"])


def test_shape_masks_lie_inside_their_tight_boxes():
    size = 24
    data = make_shapes(300, size=size, seed=2, channels=3, noise=0.05)
    assert data["images"].shape == (300, size, size, 3)
    boxes = np.rint(data["boxes"] * size).astype(int)
    for mask, (y0, x0, y1, x1) in zip(data["masks"][..., 0], boxes):
        rows, cols = np.nonzero(mask)
        assert len(rows) > 0
        assert rows.min() == y0 and rows.max() == y1 - 1  # inside, and tight
        assert cols.min() == x0 and cols.max() == x1 - 1


def test_shape_images_are_bright_on_the_mask():
    data = make_shapes(100, seed=4)
    images, masks = data["images"][..., 0], data["masks"][..., 0].astype(bool)
    for image, mask in zip(images, masks):
        assert image[mask].min() > image[~mask].max()


def test_shapes_dataset_targets(tf):
    x, y = next(iter(shapes_dataset(40, batch_size=8, target="boxes", size=16)))
    assert x.shape == (8, 16, 16, 1) and y.shape == (8, 4)
    x, y = next(iter(shapes_dataset(40, batch_size=8, target="all")))
    assert set(y) == {"labels", "masks", "boxes"} and y["masks"].shape == (8, 32, 32, 1)
    with pytest.raises(ValueError):
        shapes_dataset(10, target="edges")


# --- TFDS, local only -----------------------------------------------------------------

def test_absent_tfds_dataset_fails_fast_with_instructions(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DatasetNotAvailable) as error:
        load_tfds("mnist", "train", data_dir=tmp_path)
    assert time.perf_counter() - start < 2.0
    message = str(error.value)
    assert str(tmp_path / "mnist") in message and "python -m dlkit.data prepare mnist" in message
    assert isinstance(error.value, RuntimeError)


def test_tfds_default_data_dir_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotAvailable, match=re.escape(str(tmp_path))):
        load_tfds("cifar10", "test")


def test_find_prepared_picks_newest_version_and_named_config(tmp_path):
    for version in ("1.0.0", "1.10.0", "1.2.0"):
        (tmp_path / "toy" / version).mkdir(parents=True)
        (tmp_path / "toy" / version / "dataset_info.json").write_text("{}")
    (tmp_path / "toy" / "2.0.0").mkdir()  # not prepared: no dataset_info.json
    assert find_prepared("toy", tmp_path).name == "1.10.0"
    assert find_prepared("toy:1.2.0", tmp_path).name == "1.2.0"
    with pytest.raises(DatasetNotAvailable, match="1.10.0"):
        find_prepared("toy:2.0.0", tmp_path)
    for config in ("a", "b"):
        (tmp_path / "multi" / config / "1.0.0").mkdir(parents=True)
        (tmp_path / "multi" / config / "1.0.0" / "dataset_info.json").write_text("{}")
    assert find_prepared("multi/b", tmp_path).parent.name == "b"
    with pytest.raises(ValueError, match="several configs"):
        find_prepared("multi", tmp_path)


def test_prepared_tfds_dataset_is_read_from_disk(tmp_path, tf):
    from dlkit.backend import tensorflow

    tensorflow()
    import tensorflow_datasets as tfds

    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(4, 4, 1)),
        "label": tfds.features.ClassLabel(num_classes=3),
    })
    version_dir = tmp_path / "tiny_digits" / "1.0.0"
    version_dir.mkdir(parents=True)
    for split, count in (("train", 6), ("test", 3)):
        shard = version_dir / f"tiny_digits-{split}.tfrecord-00000-of-00001"
        with tf.io.TFRecordWriter(str(shard)) as writer:
            for i in range(count):
                writer.write(features.serialize_example(
                    {"image": np.full((4, 4, 1), i, np.uint8), "label": i % 3}))
    tfds.folder_dataset.write_metadata(
        data_dir=str(version_dir), features=features, split_infos=None,
        filename_template="{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}",
        supervised_keys=("image", "label"))

    ds, info = load_tfds("tiny_digits", "train", data_dir=tmp_path, with_info=True)
    pairs = [(int(x[0, 0, 0]), int(y)) for x, y in ds]
    assert pairs == [(i, i % 3) for i in range(6)]
    assert info.splits["test"].num_examples == 3


# --- plots ----------------------------------------------------------------------------

def test_image_grid_png(tmp_path):
    grey = make_shapes(10, size=16)["images"]
    assert_png(plots.save_image_grid(grey, tmp_path / "new" / "dir" / "grey.png",
                                     ncols=4, titles=list(range(10))))
    assert_png(plots.save_image_grid(make_shapes(3, channels=3)["images"], tmp_path / "rgb.png"))
    assert_png(plots.save_image_grid(grey[..., 0], tmp_path / "hw.png"))
    with pytest.raises(ValueError):
        plots.save_image_grid(np.zeros((0, 4, 4)), tmp_path / "empty.png")


def test_scatter_and_density_png(tmp_path):
    sets = {"data": sample_toy2d("ring", 500), "model": sample_toy2d("gaussian", 500)}
    assert_png(plots.save_scatter_2d(sets, tmp_path / "scatter.png", title="ring",
                                     limits=(-4, 4, -4, 4)))

    def standard_normal_log_prob(points):
        assert points.shape == (50 * 50, 2) and points.dtype == np.float32
        return -0.5 * np.sum(points**2, axis=1) - np.log(2 * np.pi)

    path = plots.save_density_2d(standard_normal_log_prob, str(tmp_path / "density.png"),
                                 resolution=50, samples=sets["model"][:100])
    assert isinstance(path, Path)
    assert_png(path)
    with pytest.raises(ValueError, match="log densities"):
        plots.save_density_2d(lambda p: p, tmp_path / "bad.png", resolution=10)


def test_loss_curves_png_accepts_history_objects(tmp_path):
    class History:  # the shape of keras.callbacks.History
        history = {"loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.5, 2.2], "kl": [0.1, 0.2, 0.3]}

    assert_png(plots.save_loss_curves(History(), tmp_path / "curves.png", logy=True))
    assert_png(plots.save_loss_curves({"loss": [1.0]}, tmp_path / "one.png", title="one"))
    with pytest.raises(ValueError):
        plots.save_loss_curves({}, tmp_path / "none.png")


def test_decision_boundary_png_for_ids_scores_and_probabilities(tmp_path):
    x, y = toy2d_classification("xor", 200)
    ids = lambda p: (p[:, 0] * p[:, 1] < 0).astype(np.int32)  # noqa: E731
    scores = lambda p: np.stack([p[:, 0] * p[:, 1], -p[:, 0] * p[:, 1]], axis=1)  # noqa: E731
    probability = lambda p: (p[:, 0] * p[:, 1] < 0).astype(np.float32)[:, None]  # noqa: E731
    for name, fn in [("ids", ids), ("scores", scores), ("probability", probability)]:
        assert_png(plots.save_decision_boundary(fn, x, y, tmp_path / f"{name}.png",
                                                resolution=40))
    from dlkit.plots import _class_ids

    np.testing.assert_array_equal(_class_ids(np.array([[0.2], [0.7]])), [0, 1])
    np.testing.assert_array_equal(_class_ids(np.array([[1.0, 3.0], [2.0, 0.0]])), [1, 0])


# --- training helpers -----------------------------------------------------------------

def test_loss_trackers_report_per_epoch_means_in_a_custom_train_step(tf, keras):
    from dlkit.backend import reset_keras

    reset_keras(0)

    class Regressor(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.trackers = LossTrackers("loss", "step", "unused")

        @property
        def metrics(self):
            return self.trackers.metrics

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(self(x) - y))
                scaled = self.optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            self.trackers.update(loss=loss, step=tf.cast(self.optimizer.iterations, tf.float32))
            return self.trackers.results()

    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = Regressor()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), jit_compile=False)
    model(x[:1])
    expected_loss = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history

    np.testing.assert_allclose(history["loss"], [expected_loss] * 2, rtol=1e-5)
    # Steps 1-4 then 5-8: the second mean is 6.5 only if the trackers reset between epochs.
    np.testing.assert_allclose(history["step"], [2.5, 6.5])
    assert history["unused"] == [0.0, 0.0]
    with pytest.raises(KeyError, match="kl"):
        model.trackers.update(kl=1.0)


def test_loss_trackers_validate_names(keras):
    with pytest.raises(ValueError):
        LossTrackers("loss", "loss")
    trackers = LossTrackers("a", "b")
    trackers.update(a=1.0)
    trackers.update(a=3.0, b=5.0)
    assert {k: float(v) for k, v in trackers.results().items()} == {"a": 2.0, "b": 5.0}
    trackers.reset()
    assert float(trackers["a"].result()) == 0.0 and trackers.names == ("a", "b")


def test_optimizers_built_on_compile_come_back_from_a_saved_model(tmp_path, tf, keras):
    from dlkit.backend import reset_keras

    reset_keras(0)

    class Pair(OptimizerPerNetwork, keras.Model):
        OPTIMIZERS = {"first_optimizer": "first", "second_optimizer": "second"}

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first, self.second = keras.layers.Dense(2), keras.layers.Dense(1)
            self.first.build((None, 3))
            self.second.build((None, 2))

        def call(self, x):
            return self.second(self.first(x))

    class Single(OneOptimizer, keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(1)
            self.dense.build((None, 3))

        def call(self, x):
            return self.dense(x)

    pair = Pair()
    pair.compile(first_optimizer=keras.optimizers.Adam(0.1),
                 second_optimizer=keras.optimizers.SGD(0.2), jit_compile=False)
    # Built for its own network only: Adam's two slots per weight of `first`.
    assert len(pair.first_optimizer.variables) == 2 + 2 * len(pair.first.trainable_variables)
    with pytest.raises(TypeError, match="second_optimizer"):
        Pair().compile(first_optimizer="adam")
    single = Single()
    single.compile(optimizer=keras.optimizers.Adam(0.1))
    assert single.optimizer.built
    for model, name in ((pair, "pair"), (single, "single")):
        model.save(tmp_path / f"{name}.keras")
    custom = {"Pair": Pair, "Single": Single}
    loaded = keras.saving.load_model(tmp_path / "pair.keras", custom_objects=custom)
    assert isinstance(loaded.second_optimizer, keras.optimizers.SGD)
    assert float(loaded.second_optimizer.learning_rate) == pytest.approx(0.2)
    assert keras.saving.load_model(tmp_path / "single.keras", custom_objects=custom).optimizer.built


def test_tensorboard_callbacks_write_losses_and_image_samples(tmp_path, tf, keras):
    from dlkit.backend import reset_keras

    reset_keras(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    samples = lambda: np.random.default_rng(0).uniform(size=(20, 8, 8))  # noqa: E731
    callbacks = tensorboard_callbacks(tmp_path / "logs", sample_fn=samples, every_n_epochs=2,
                                      max_images=5)
    x, y = load_digits("test")
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=callbacks)

    losses = {step: float(tf.make_ndarray(value.tensor))
              for step, value in events(tmp_path / "logs" / "train", tf)
              if value.tag == "epoch_loss"}
    assert losses.keys() == {0, 1}
    np.testing.assert_allclose([losses[0], losses[1]], history.history["loss"], rtol=1e-5)

    images = events(tmp_path / "logs" / "samples", tf)
    assert [step for step, _ in images] == [1], "every_n_epochs=2 logs after the 2nd epoch only"
    value = images[0][1]
    assert value.tag == "samples" and value.metadata.plugin_data.plugin_name == "images"
    width, height, *pngs = value.tensor.string_val
    assert (width, height) == (b"8", b"8") and len(pngs) == 5
    assert all(png.startswith(PNG_SIGNATURE) for png in pngs)
    decoded = tf.image.decode_png(pngs[0]).numpy()
    np.testing.assert_allclose(decoded[..., 0] / 255.0, samples()[0], atol=1 / 255 + 1e-6)


def test_run_dir_creates_output_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("DLKIT_OUTPUT_DIR", raising=False)
    assert outputs_root() == REPO / "outputs"
    monkeypatch.setenv("DLKIT_OUTPUT_DIR", str(tmp_path))
    folder = run_dir("lab11_vae", "beta4")
    assert folder == tmp_path / "lab11_vae" / "beta4" and folder.is_dir()
    for bad in ("..", "a/b", ""):
        with pytest.raises(ValueError):
            run_dir("lab11_vae", bad)
