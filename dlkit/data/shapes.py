"""Procedural shape images with labels, masks and boxes, generated on the fly from a seed.

One shape per image: a circle, square or triangle at a random position, size and (for the
polygons) rotation, on a darker background. The same draw gives the class (classification),
the mask (segmentation) and the box (detection), so the three CNN tasks share one data set.
"""
from __future__ import annotations

import numpy as np

from dlkit.data.pipelines import arrays_dataset

SHAPE_CLASSES = ("circle", "square", "triangle")
TARGETS = ("labels", "masks", "boxes", "all")


def _inside(kind: str, u: np.ndarray, v: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Which points (u, v), in the shape's own rotated frame, fall inside the shape.

    u, v: (n, H, W) offsets from the shape centre; radius: (n, 1, 1) circumradius.
    Every shape fits inside the circle of that radius, so it never leaves the image.
    """
    if kind == "circle":
        return u**2 + v**2 <= radius**2
    if kind == "square":
        half_side = radius / np.sqrt(2.0)
        return (np.abs(u) <= half_side) & (np.abs(v) <= half_side)
    if kind == "triangle":
        # Equilateral, corners on the circle: inside when on the inner side of all 3 edges,
        # each edge at distance radius/2 from the centre along its outward normal.
        inside = np.ones(u.shape, dtype=bool)
        for k in range(3):
            normal_angle = np.pi / 2 + np.pi / 3 + 2 * np.pi * k / 3
            inside &= u * np.cos(normal_angle) + v * np.sin(normal_angle) <= radius / 2
        return inside
    raise ValueError(f"unknown shape {kind!r}; choose from {SHAPE_CLASSES}")


def background_texture(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """n seeded (size, size) patterns in [0, 1]: half a sinusoidal grating of random
    orientation, period (2.5 to 5 pixels) and phase, half per-pixel uniform speckle. Its
    pixels are bright and dark within a few pixels, unlike a flat shape."""
    angle = rng.uniform(0.0, np.pi, (n, 1, 1))
    period = rng.uniform(2.5, 5.0, (n, 1, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1, 1))
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    along = np.cos(angle) * rows[None] + np.sin(angle) * cols[None]
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * along / period + phase)
    return 0.5 * stripes + 0.5 * rng.uniform(0.0, 1.0, (n, size, size))


def _boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """masks: (n, H, W) bool, none empty. Returns (n, 4) (y_min, x_min, y_max, x_max) in [0, 1].

    Box edges are pixel edges, so the box is the tightest one covering every mask pixel.
    """
    n, height, width = masks.shape
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    y_min = rows.argmax(axis=1)
    y_max = height - rows[:, ::-1].argmax(axis=1)
    x_min = cols.argmax(axis=1)
    x_max = width - cols[:, ::-1].argmax(axis=1)
    scale = np.array([height, width, height, width], dtype=np.float32)
    return np.stack([y_min, x_min, y_max, x_max], axis=1).astype(np.float32) / scale


def make_shapes(
    n: int,
    *,
    size: int = 32,
    seed: int = 0,
    classes: tuple[str, ...] = SHAPE_CLASSES,
    channels: int = 1,
    noise: float = 0.0,
    min_scale: float = 0.3,
    max_scale: float = 0.8,
    texture: float = 0.0,
) -> dict[str, np.ndarray]:
    """Draw n one-shape images.

    classes: shape names; label i means classes[i] (balanced counts). channels: 1 (grey) or
    3 (random colours). noise: std of Gaussian pixel noise. min_scale/max_scale: the shape's
    circumscribed diameter as a fraction of `size`. texture: 0 (default) keeps the flat dark
    background; above 0, `texture` times a seeded random pattern (stripes and speckle, see
    `background_texture`) brightens it, as bright as the shapes in places, so that no
    brightness threshold separates shape from background.
    Returns {"images": float32 (n, size, size, channels) in [0, 1],
             "labels": int32 (n,), "masks": float32 (n, size, size, 1) of 0/1,
             "boxes": float32 (n, 4) as (y_min, x_min, y_max, x_max) in [0, 1]}.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if not 0.0 < min_scale <= max_scale <= 1.0:
        raise ValueError(f"need 0 < min_scale <= max_scale <= 1, got {min_scale}, {max_scale}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes)).astype(np.int32)
    radius = rng.uniform(min_scale, max_scale, n) * size / 2
    # Centre anywhere the circumscribed circle stays inside the image.
    center = radius[:, None] + rng.uniform(0.0, 1.0, (n, 2)) * (size - 2 * radius[:, None])
    angle = rng.uniform(0.0, 2 * np.pi, n)

    pixel_centres = np.arange(size) + 0.5
    dy = pixel_centres[None, :, None] - center[:, 0, None, None]  # (n, H, 1)
    dx = pixel_centres[None, None, :] - center[:, 1, None, None]  # (n, 1, W)
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * dx + sin * dy, cos * dy - sin * dx  # pixel offsets in the shape's frame
    r = radius[:, None, None]

    masks = np.zeros((n, size, size), dtype=bool)
    for class_id, kind in enumerate(classes):
        chosen = labels == class_id
        masks[chosen] = _inside(kind, u[chosen], v[chosen], r[chosen])
    # The centre pixel is inside every shape; forcing it keeps tiny shapes non-empty.
    cy, cx = np.minimum(center.astype(int), size - 1).T
    masks[np.arange(n), cy, cx] = True

    background = rng.uniform(0.0, 0.3, (n, 1, 1, channels))
    foreground = rng.uniform(0.6, 1.0, (n, 1, 1, channels))
    if texture > 0:  # drawn after everything else: texture=0 leaves the old draws untouched
        background = background + texture * background_texture(rng, n, size)[..., None]
    images = np.where(masks[..., None], foreground, background)
    if noise > 0:
        images = images + noise * rng.standard_normal(images.shape)
    return {
        "images": np.clip(images, 0.0, 1.0).astype(np.float32),
        "labels": labels,
        "masks": masks[..., None].astype(np.float32),
        "boxes": _boxes_from_masks(masks),
    }


def shapes_dataset(
    n: int,
    *,
    batch_size: int = 64,
    seed: int = 0,
    target: str = "labels",
    size: int = 32,
    shuffle: bool = True,
    repeat: bool = False,
    **shape_options,
):
    """make_shapes(n, ...) as a tf.data.Dataset of (images, target) batches.

    target: "labels" (batch,) int32, "masks" (batch, size, size, 1), "boxes" (batch, 4), or
    "all": a dict {"labels", "masks", "boxes"} for multi-output models (e.g. box + class).
    shape_options: passed to make_shapes (classes, channels, noise, min_scale, max_scale).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    data = make_shapes(n, size=size, seed=seed, **shape_options)
    if target == "all":
        y = {key: data[key] for key in ("labels", "masks", "boxes")}
    else:
        y = data[target]
    return arrays_dataset((data["images"], y), batch_size=batch_size, shuffle=shuffle,
                          seed=seed, repeat=repeat)
