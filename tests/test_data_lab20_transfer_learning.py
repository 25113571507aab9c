"""Tests of dlkit.data.domains, the offline data of lab20_transfer_learning."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlkit.data import (
    SHIFTS,
    load_digits,
    make_domains,
    paired_domains,
    shift_images,
    transfer_task,
)


def test_transfer_task_splits_the_classes():
    task = transfer_task(labelled_per_class=4, seed=1)
    assert task["source_x"].shape[1:] == (8, 8, 1) and task["source_x"].dtype == np.float32
    assert set(np.unique(task["source_y"])) == {0, 1, 2, 3, 4}
    assert np.bincount(task["target_y"]).tolist() == [4] * 5
    assert set(np.unique(task["test_y"])) == {0, 1, 2, 3, 4}
    assert task["target_y"].dtype == np.int32 and len(task["test_x"]) == len(task["test_y"])
    # The target images are digits 5-9: none of them is a source image.
    source = {x.tobytes() for x in task["source_x"]}
    assert not any(x.tobytes() in source for x in task["target_x"])


@pytest.mark.parametrize("shift", SHIFTS)
def test_shifts_stay_in_range_and_change_the_images(shift):
    x, _ = load_digits("test")
    shifted = shift_images(x[:50], shift, seed=3)
    assert shifted.shape == (50, 8, 8, 1) and shifted.dtype == np.float32
    assert shifted.min() >= 0.0 and shifted.max() <= 1.0
    assert np.abs(shifted - x[:50]).mean() > 0.05
    np.testing.assert_array_equal(shifted, shift_images(x[:50], shift, seed=3))


def test_known_shifts_are_what_they_say():
    x, _ = load_digits("test")
    np.testing.assert_allclose(shift_images(x[:5], "invert"), 1.0 - x[:5])
    np.testing.assert_array_equal(shift_images(x[:5], "rotate"), np.rot90(x[:5], 1, axes=(1, 2)))
    with pytest.raises(ValueError, match="shift must be one of"):
        shift_images(x[:5], "blur")


def test_domains_are_disjoint_halves_and_seeded():
    a, b, c = make_domains("texture", seed=0), make_domains("texture", seed=0), \
        make_domains("texture", seed=1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["target_x"], c["target_x"])
    train_x, _ = load_digits("train")
    assert len(a["source_x"]) + len(a["target_x"]) == len(train_x)
    assert len(a["test_x"]) == len(load_digits("test")[0])
    assert np.bincount(a["few_y"]).tolist() == [3] * 10
    # few_x are target images (shifted), with their labels.
    for image, label in zip(a["few_x"], a["few_y"]):
        match = np.flatnonzero((a["target_x"] == image).all(axis=(1, 2, 3)))
        assert len(match) >= 1 and label in a["target_y"][match]


def test_pairs_hold_a_source_and_a_target_image():
    d = make_domains("invert", seed=0)
    x, y = paired_domains(d["source_x"], d["source_y"], d["target_x"], seed=4)
    assert x.shape == (len(d["source_x"]), 2, 8, 8, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], d["source_x"])
    np.testing.assert_array_equal(y, d["source_y"])
    target = {t.tobytes() for t in d["target_x"]}
    assert all(t.tobytes() in target for t in x[:, 1])


def test_importing_the_module_does_not_import_tensorflow():
    code = "import dlkit.data.domains, sys; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
