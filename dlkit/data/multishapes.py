"""Procedural images holding several shapes, with every shape's box and class (detection).

Each image holds 1 to `max_objects` circles, squares and triangles (the classes of
`make_shapes`) of random sizes, places and angles whose circumscribed circles do not
overlap, on a dark background or, with `texture`, a bright random texture. The same draw
gives every object's box and class, padded to `max_objects` rows, and the union of their
masks (segmentation).
"""
from __future__ import annotations

import numpy as np

from dlkit.data.shapes import SHAPE_CLASSES, _boxes_from_masks, _inside, background_texture

_TRIES = 20  # placements tried per object before the image keeps fewer objects


def make_multi_shapes(
    n: int,
    *,
    size: int = 32,
    seed: int = 0,
    max_objects: int = 4,
    min_scale: float = 0.25,
    max_scale: float = 0.5,
    texture: float = 0.0,
) -> dict[str, np.ndarray]:
    """Draw n grey images of 1 to max_objects non-overlapping shapes each.

    min_scale/max_scale: a shape's circumscribed diameter as a fraction of `size`. texture:
    as in `make_shapes` (0: flat dark background).
    Returns {"images": float32 (n, size, size, 1) in [0, 1],
             "boxes": float32 (n, max_objects, 4) as (y_min, x_min, y_max, x_max) in [0, 1],
                      rows past the image's count are zeros,
             "labels": int32 (n, max_objects), the class of each box, -1 past the count,
             "counts": int32 (n,), the number of objects of each image,
             "masks": float32 (n, size, size, 1), 1 on every object's pixels}.
    """
    if not 0.0 < min_scale <= max_scale <= 1.0:
        raise ValueError(f"need 0 < min_scale <= max_scale <= 1, got {min_scale}, {max_scale}")
    rng = np.random.default_rng(seed)
    boxes = np.zeros((n, max_objects, 4), dtype=np.float32)
    labels = np.full((n, max_objects), -1, dtype=np.int32)
    counts = np.zeros(n, dtype=np.int32)
    masks = np.zeros((n, size, size), dtype=bool)
    images = np.empty((n, size, size), dtype=np.float64)
    pixel_centres = np.arange(size) + 0.5
    for i in range(n):
        wanted = int(rng.integers(1, max_objects + 1))
        background = rng.uniform(0.0, 0.3)
        image = np.full((size, size), background)
        placed: list[tuple[float, float, float]] = []
        for _ in range(wanted):
            radius = rng.uniform(min_scale, max_scale) * size / 2
            for _ in range(_TRIES):
                centre = radius + rng.uniform(0.0, 1.0, 2) * (size - 2 * radius)
                if all(np.hypot(*(centre - (cy, cx))) >= radius + r + 1 for cy, cx, r in placed):
                    break
            else:
                continue
            placed.append((centre[0], centre[1], radius))
            label = int(rng.integers(len(SHAPE_CLASSES)))
            angle = rng.uniform(0.0, 2 * np.pi)
            dy = pixel_centres[:, None] - centre[0]
            dx = pixel_centres[None, :] - centre[1]
            u = np.cos(angle) * dx + np.sin(angle) * dy
            v = np.cos(angle) * dy - np.sin(angle) * dx
            inside = _inside(SHAPE_CLASSES[label], u[None], v[None], np.array([[[radius]]]))[0]
            inside[min(int(centre[0]), size - 1), min(int(centre[1]), size - 1)] = True
            k = counts[i]
            boxes[i, k] = _boxes_from_masks(inside[None])[0]
            labels[i, k] = label
            counts[i] += 1
            masks[i] |= inside
            image[inside] = rng.uniform(0.6, 1.0)
        images[i] = image
    if texture > 0:  # drawn after the shapes: the shapes do not depend on the texture
        pattern = background_texture(rng, n, size)
        images = np.where(masks, images, images + texture * pattern)
    return {
        "images": np.clip(images, 0.0, 1.0)[..., None].astype(np.float32),
        "boxes": boxes,
        "labels": labels,
        "counts": counts,
        "masks": masks[..., None].astype(np.float32),
    }
