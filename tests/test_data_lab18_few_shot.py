"""Tests of dlkit.data.glyphs, the offline data of lab18_few_shot."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from dlkit.data import NUM_GLYPH_CLASSES, glyph_classes, make_glyphs, sinusoid_tasks


def test_contract_dtypes_shapes_and_split():
    data = make_glyphs(3, split="test", seed=1)
    test = glyph_classes("test")
    assert data["images"].shape == (3 * len(test), 12, 12, 1)
    assert data["images"].dtype == np.float32 and data["labels"].dtype == np.int32
    assert 0.0 <= data["images"].min() and data["images"].max() <= 1.0
    assert np.unique(data["labels"]).tolist() == test.tolist()
    assert not set(glyph_classes("train")) & set(test)
    assert len(glyph_classes("all")) == NUM_GLYPH_CLASSES


def test_seeded_and_splits_independent():
    a, b = make_glyphs(2, seed=4), make_glyphs(2, seed=4)
    np.testing.assert_array_equal(a["images"], b["images"])
    assert not np.array_equal(a["images"], make_glyphs(2, seed=5)["images"])
    test_only = make_glyphs(2, split="test", seed=4)
    np.testing.assert_array_equal(test_only["images"], a["images"][-len(test_only["images"]):])


def test_samples_of_a_class_are_closer_than_other_classes():
    data = make_glyphs(10, seed=0)
    x = data["images"].reshape(len(data["images"]), -1)
    means = np.stack([x[data["labels"] == c].mean(0) for c in range(NUM_GLYPH_CLASSES)])
    nearest = ((x[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == data["labels"]).mean() > 0.8      # classes are distinct...
    assert np.abs(x[0] - x[1]).max() > 0.1               # ...and samples are not copies


def test_sinusoid_tasks():
    tasks = sinusoid_tasks(4, 7, seed=2)
    assert tasks["x"].shape == tasks["y"].shape == (4, 7, 1)
    expected = tasks["amplitude"][:, None, None] * np.sin(tasks["x"] - tasks["phase"][:, None, None])
    np.testing.assert_allclose(tasks["y"], expected, rtol=1e-5, atol=1e-5)


def test_import_needs_numpy_only():
    code = ("import sys, dlkit.data.glyphs; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
