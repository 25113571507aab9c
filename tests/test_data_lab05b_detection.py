"""Tests of dlkit.data.multishapes and the texture option of make_shapes, the offline data of
lab05b_detection."""
from __future__ import annotations

import hashlib

import numpy as np

from dlkit.data import SHAPE_CLASSES, background_texture, make_multi_shapes, make_shapes


def test_multi_shapes_contract():
    data = make_multi_shapes(200, size=32, seed=3)
    assert data["images"].shape == (200, 32, 32, 1) and data["images"].dtype == np.float32
    assert data["boxes"].shape == (200, 4, 4) and data["labels"].shape == (200, 4)
    assert data["masks"].shape == (200, 32, 32, 1) and data["counts"].shape == (200,)
    assert data["counts"].min() >= 1 and data["counts"].max() <= 4
    assert set(np.bincount(data["counts"])[1:].nonzero()[0] + 1) >= {1, 2, 3}
    for image in range(200):
        k = data["counts"][image]
        assert np.all(data["labels"][image, :k] >= 0) and np.all(data["labels"][image, k:] == -1)
        assert np.all(data["labels"][image, :k] < len(SHAPE_CLASSES))
        assert np.all(data["boxes"][image, k:] == 0)
        boxes = data["boxes"][image, :k]
        assert np.all((boxes >= 0) & (boxes <= 1))
        assert np.all(boxes[:, 2:] > boxes[:, :2])
        # Every mask pixel lies in some box; every box holds mask pixels on its edges.
        rows, cols = np.nonzero(data["masks"][image, ..., 0])
        y, x = (rows + 0.5) / 32, (cols + 0.5) / 32
        inside = ((y[:, None] > boxes[:, 0]) & (y[:, None] < boxes[:, 2])
                  & (x[:, None] > boxes[:, 1]) & (x[:, None] < boxes[:, 3]))
        assert inside.any(axis=1).all()
    assert set(np.unique(data["labels"])) == {-1, 0, 1, 2}


def test_multi_shapes_are_seeded_and_apart():
    a, b = make_multi_shapes(50, seed=1), make_multi_shapes(50, seed=1)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], make_multi_shapes(50, seed=2)["images"])
    # Objects do not overlap: boxes of one image may touch at most a little.
    for boxes, k in zip(a["boxes"], a["counts"]):
        for i in range(k):
            for j in range(i + 1, k):
                top, left = np.maximum(boxes[i, :2], boxes[j, :2])
                bottom, right = np.minimum(boxes[i, 2:], boxes[j, 2:])
                overlap = max(bottom - top, 0) * max(right - left, 0)
                assert overlap <= 0.25 * np.prod(boxes[i, 2:] - boxes[i, :2])


def test_texture_is_off_by_default_and_lab05s_data_unchanged():
    plain = make_shapes(500, size=16, seed=3, noise=0.1)
    digest = hashlib.sha1(b"".join(v.tobytes() for v in plain.values())).hexdigest()
    assert digest == "14f2ea6edca2109509370c261f8eeabc1e4a5a10"  # before the option existed
    same = make_shapes(500, size=16, seed=3, noise=0.1, texture=0.0)
    for key in plain:
        np.testing.assert_array_equal(plain[key], same[key])


def test_texture_overlaps_the_shapes_brightness():
    data = make_shapes(300, size=16, seed=5, texture=0.7)
    textured = make_shapes(300, size=16, seed=5, texture=0.7)
    np.testing.assert_array_equal(data["images"], textured["images"])
    plain = make_shapes(300, size=16, seed=5)
    for key in ("labels", "masks", "boxes"):  # the texture changes the background only
        np.testing.assert_array_equal(data[key], plain[key])
    shape = data["masks"][..., 0] > 0.5
    background = data["images"][..., 0][~shape]
    assert np.mean(background > 0.6) > 0.2  # as bright as the shapes in places
    best = 0.0
    for threshold in np.linspace(0.05, 0.95, 19):
        guess = data["images"][..., 0] > threshold
        iou = np.sum(guess & shape) / np.sum(guess | shape)
        best = max(best, iou)
    assert best < 0.6
    pattern = background_texture(np.random.default_rng(0), 4, 16)
    assert pattern.shape == (4, 16, 16) and pattern.min() >= 0 and pattern.max() <= 1
    textured_multi = make_multi_shapes(20, seed=2, texture=0.7)
    np.testing.assert_array_equal(textured_multi["boxes"], make_multi_shapes(20, seed=2)["boxes"])
