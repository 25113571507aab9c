"""Image-to-image translation data: a shape drawn three ways.

A *sketch* is a shape's outline in pencil on paper; a *silhouette* is the shape filled in
pencil on paper; its *painting* is the same shape filled with a striped texture (orange on
even rows, yellow on odd rows), outlined in brown ink, on a sky-blue background. The
painting is a deterministic function of the sketch, but not a local one: whether a pixel
lies inside the outline depends on the whole shape, and the stripes depend on the row's
parity. From a silhouette it is a restyling that keeps the shape: colours, an outline along
the border, the stripes. No colour is pure black or white (values within [0.1, 0.95]), so a
sigmoid output reaches every one without saturating.

- make_translation_pairs: the three drawings of the same shapes, aligned (Pix2Pix learns
  sketch -> painting from them; held-out pairs measure any translation).
- make_unpaired_translation: sketches and silhouettes of one draw of shapes, paintings of
  another (CycleGAN: no painting is the translation of any silhouette).
- translation_dataset: (sources, paintings) batches of either, as a seeded tf.data pipeline.

The shapes are dlkit.data.shapes' circles, squares and triangles, large enough (at least
0.55 of the image across) to have an inside. Numpy only, but translation_dataset.
"""
from __future__ import annotations

import numpy as np

from dlkit.data.pipelines import arrays_dataset
from dlkit.data.shapes import make_shapes

PAPER = (0.92, 0.9, 0.85)
PENCIL = (0.25, 0.25, 0.3)
SKY = (0.55, 0.75, 0.92)
INK = (0.35, 0.2, 0.1)
STRIPES = ((0.92, 0.55, 0.15), (0.9, 0.78, 0.3))  # even rows, odd rows
SOURCES = ("sketches", "silhouettes")


def outline(masks: np.ndarray) -> np.ndarray:
    """masks: (n, H, W) bool. The mask pixels with a 4-neighbour outside the mask (or on the
    image's border): (n, H, W) bool."""
    padded = np.pad(masks, ((0, 0), (1, 1), (1, 1)), constant_values=False)
    interior = (padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1]
                & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:])
    return masks & ~interior


def sketch(masks: np.ndarray) -> np.ndarray:
    """The shapes' outlines in pencil on paper: (n, H, W, 3) float32 in [0, 1]."""
    edges = outline(masks)[..., None]
    return np.where(edges, PENCIL, PAPER).astype(np.float32)


def silhouette(masks: np.ndarray) -> np.ndarray:
    """The shapes filled in pencil on paper: (n, H, W, 3) float32 in [0, 1]."""
    return np.where(masks[..., None], PENCIL, PAPER).astype(np.float32)


def paint(masks: np.ndarray) -> np.ndarray:
    """The shapes painted: striped inside, outlined in ink, on sky. (n, H, W, 3) float32."""
    n, height, width = masks.shape
    parity = (np.arange(height) % 2)[None, :, None, None]            # (1, H, 1, 1)
    stripes = np.where(parity == 0, STRIPES[0], STRIPES[1])           # (1, H, 1, 3)
    inside = (masks & ~outline(masks))[..., None]
    images = np.where(masks[..., None], INK, SKY)
    images = np.where(inside, np.broadcast_to(stripes, (n, height, width, 3)), images)
    return images.astype(np.float32)


def _masks(n: int, size: int, seed: int) -> np.ndarray:
    return make_shapes(n, size=size, seed=seed, min_scale=0.55, max_scale=0.95)["masks"][..., 0] > 0.5


def make_translation_pairs(n: int, *, size: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """n shapes drawn three ways: {"sketches", "silhouettes", "paintings"}, each
    (n, size, size, 3) float32 in [0, 1]; paintings[i] is sketches[i] (and silhouettes[i])
    translated."""
    masks = _masks(n, size, seed)
    return {"sketches": sketch(masks), "silhouettes": silhouette(masks), "paintings": paint(masks)}


def make_unpaired_translation(n: int, *, size: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """n sketches and silhouettes of one draw of shapes, n paintings of another (seeded): the
    two domains of CycleGAN, with no pairs. Same keys and shapes as make_translation_pairs."""
    source_seed, paint_seed = np.random.default_rng(seed).integers(1 << 30, size=2)
    masks = _masks(n, size, int(source_seed))
    return {"sketches": sketch(masks), "silhouettes": silhouette(masks),
            "paintings": paint(_masks(n, size, int(paint_seed)))}


def translation_dataset(n: int, *, source: str = "sketches", paired: bool = True,
                        batch_size: int = 32, size: int = 16, seed: int = 0,
                        shuffle: bool = True, repeat: bool = False):
    """make_translation_pairs (paired=True) or make_unpaired_translation (paired=False) as a
    tf.data.Dataset of (sources, paintings) batches, each (batch, size, size, 3); source:
    "sketches" or "silhouettes"."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    make = make_translation_pairs if paired else make_unpaired_translation
    data = make(n, size=size, seed=seed)
    return arrays_dataset((data[source], data["paintings"]), batch_size=batch_size,
                          shuffle=shuffle, seed=seed, repeat=repeat)
