"""Tests of dlkit.data.point_clouds, the offline data of lab09_point_clouds."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlkit.data import PART_NAMES, POINT_CLOUD_CLASSES, make_point_clouds
from dlkit.data.point_clouds import PARTS


def test_contract_dtypes_shapes_and_balance():
    data = make_point_clouds(20, num_points=50, seed=3)
    assert data["points"].shape == (20, 50, 3) and data["points"].dtype == np.float32
    assert data["labels"].shape == (20,) and data["labels"].dtype == np.int32
    assert data["parts"].shape == (20, 50) and data["parts"].dtype == np.int32
    assert np.bincount(data["labels"]).tolist() == [4] * len(POINT_CLOUD_CLASSES)


def test_clouds_are_centred_in_the_unit_ball():
    points = make_point_clouds(30, num_points=64, seed=1, jitter=0.0)["points"]
    assert np.abs(points.mean(axis=1)).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(points, axis=2).max(axis=1), 1.0, atol=1e-5)


def test_each_cloud_has_its_own_shapes_parts_only():
    data = make_point_clouds(25, num_points=200, seed=2)
    for label, parts in zip(data["labels"], data["parts"]):
        shape = POINT_CLOUD_CLASSES[label]
        names = {PART_NAMES[p] for p in np.unique(parts)}
        assert names == {f"{shape}/{part}" for part in PARTS[shape]}, (shape, names)


def test_same_seed_same_clouds_other_seed_other_clouds():
    a, b = make_point_clouds(10, seed=5), make_point_clouds(10, seed=5)
    c = make_point_clouds(10, seed=6)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a["points"], c["points"])


def test_rotation_about_z_keeps_the_up_axis():
    # A cylinder's caps stay horizontal: all cap points share one of two heights.
    data = make_point_clouds(5, num_points=300, seed=0, classes=("cylinder",), jitter=0.0)
    caps = data["parts"] == PART_NAMES.index("cylinder/caps")
    for points, cap in zip(data["points"], caps):
        heights = np.unique(np.round(points[cap, 2], 5))
        assert len(heights) == 2
    tilted = make_point_clouds(5, num_points=300, seed=0, classes=("cylinder",), jitter=0.0,
                               rotate="any")
    assert len(np.unique(np.round(tilted["points"][0][caps[0], 2], 5))) > 2


def test_rejects_bad_options():
    with pytest.raises(ValueError):
        make_point_clouds(4, classes=("sphere", "pyramid"))
    with pytest.raises(ValueError):
        make_point_clouds(4, rotate="x")


def test_numpy_only_at_import_and_dataset_batches():
    code = ("import sys; import dlkit.data.point_clouds as p; "
            "assert 'tensorflow' not in sys.modules; "
            "from dlkit.data import point_clouds_dataset; "
            "x, y = next(iter(point_clouds_dataset(20, batch_size=8, target='parts', "
            "num_points=32))); print(tuple(x.shape), tuple(y.shape), y.dtype.name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "(8, 32, 3) (8, 32) int32"
