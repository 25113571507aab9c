"""Tests of dlkit.data.tabular, the offline data of lab21_explainability."""
from __future__ import annotations

import numpy as np
import pytest

from dlkit.data import TABULAR_FEATURES, TABULAR_RELEVANT, make_tabular, tabular_target


def test_make_tabular_is_seeded_and_shaped():
    data = make_tabular(200, seed=3)
    assert data["x"].shape == (200, len(TABULAR_FEATURES)) and data["x"].dtype == np.float32
    assert data["y"].shape == (200,) and data["y"].dtype == np.float32
    np.testing.assert_array_equal(data["x"], make_tabular(200, seed=3)["x"])
    assert not np.array_equal(data["x"], make_tabular(200, seed=4)["x"])
    labels = make_tabular(500, task="classification", seed=0)["y"]
    assert labels.dtype == np.int32 and 0.3 < labels.mean() < 0.7


def test_target_has_the_stated_effects():
    x = np.zeros((2, 8))
    x[1, 5:] = 3.0  # the irrelevant features change nothing
    np.testing.assert_allclose(tabular_target(x), [0.0, 0.0])
    x = np.zeros((1, 8))
    x[0, 3], x[0, 4] = 2.0, 1.0  # the interaction: 1.5 x3 x4
    np.testing.assert_allclose(tabular_target(x), [3.0])
    assert TABULAR_RELEVANT == (0, 1, 2, 3, 4)
    data = make_tabular(100, noise=0.0, seed=1)
    np.testing.assert_allclose(data["y"], data["target"], rtol=1e-6)


def test_bad_arguments_fail():
    with pytest.raises(ValueError):
        make_tabular(0)
    with pytest.raises(ValueError):
        make_tabular(5, task="ranking")
