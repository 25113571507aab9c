"""Tests of dlkit.data.translation, the offline data of lab13b_image_translation: sketches,
silhouettes and paintings of shapes, paired and unpaired."""
from __future__ import annotations

import numpy as np

from dlkit.data import make_shapes, make_translation_pairs, make_unpaired_translation
from dlkit.data.translation import INK, PAPER, PENCIL, SKY, STRIPES, outline


def test_pairs_contract_and_colours():
    data = make_translation_pairs(60, size=16, seed=3)
    sketches, paintings = data["sketches"], data["paintings"]
    assert sketches.shape == paintings.shape == data["silhouettes"].shape == (60, 16, 16, 3)
    assert sketches.dtype == paintings.dtype == data["silhouettes"].dtype == np.float32
    for images in data.values():   # no colour a sigmoid could only reach by saturating
        assert images.min() >= 0.1 and images.max() <= 0.95
    drawn = np.all(np.isclose(sketches, PENCIL), axis=-1)
    # The pencil lines are exactly the painting's ink outline; inside it the stripes
    # alternate by row, and everything else is sky.
    np.testing.assert_array_equal(drawn, np.all(np.isclose(paintings, INK), axis=-1))
    for parity, colour in enumerate(STRIPES):
        striped = np.all(np.isclose(paintings, colour), axis=-1)
        assert striped.any() and not striped[:, 1 - parity::2].any()
    sky = np.all(np.isclose(paintings, SKY), axis=-1)
    assert np.all(sky | drawn | np.any([np.all(np.isclose(paintings, c), -1) for c in STRIPES], 0))
    # Every shape has an outline and an inside; the silhouette covers both.
    assert drawn.sum(axis=(1, 2)).min() > 0 and (~sky & ~drawn).sum(axis=(1, 2)).min() > 0
    np.testing.assert_array_equal(np.all(np.isclose(data["silhouettes"], PENCIL), -1), ~sky)
    assert np.all(np.isclose(data["silhouettes"][sky], PAPER))


def test_outline_is_the_masks_border():
    masks = np.zeros((1, 6, 6), dtype=bool)
    masks[0, 1:5, 1:5] = True
    edges = outline(masks)[0]
    assert edges.sum() == 12 and not edges[2:4, 2:4].any() and not edges[0].any()
    shapes = make_shapes(20, size=16, seed=1, min_scale=0.55, max_scale=0.95)["masks"][..., 0] > 0
    assert np.all(outline(shapes) <= shapes)


def test_seeded_and_unpaired():
    a, b = make_translation_pairs(30, seed=5), make_translation_pairs(30, seed=5)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["sketches"], make_translation_pairs(30, seed=6)["sketches"])
    unpaired = make_unpaired_translation(30, seed=5)
    again = make_unpaired_translation(30, seed=5)
    np.testing.assert_array_equal(unpaired["paintings"], again["paintings"])
    # No painting is the translation of the sketch beside it.
    inked = np.all(np.isclose(unpaired["paintings"], INK), axis=-1)
    drawn = np.all(np.isclose(unpaired["sketches"], PENCIL), axis=-1)
    assert sum(np.array_equal(i, d) for i, d in zip(inked, drawn)) == 0
    filled = np.all(np.isclose(unpaired["silhouettes"], PENCIL), axis=-1)
    assert np.all(drawn <= filled)   # the silhouettes are of the sketches' shapes


def test_translation_dataset_batches():
    import pytest

    from dlkit.data import translation_dataset
    sources, paintings = next(iter(translation_dataset(40, source="silhouettes", paired=False,
                                                       batch_size=8, seed=2)))
    assert tuple(sources.shape) == tuple(paintings.shape) == (8, 16, 16, 3)
    with pytest.raises(ValueError, match="source"):
        translation_dataset(8, source="photos")
