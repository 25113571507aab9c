"""Point clouds sampled from procedural 3-D shapes, with a class per cloud and a part label
per point, generated on the fly from a seed (numpy only).

Five shapes, each with its parts, z up:

    sphere    north (z > 0), south
    cube      top face, bottom face, side faces
    cylinder  side, caps (top and bottom)
    cone      side, base
    torus     outer half (further from the axis than the tube's centre line), inner half

Points are drawn uniformly over each surface (by area), then every cloud gets a random scale,
a random rotation about the up axis (or none, or any rotation), is centred and scaled into
the unit ball, and gets Gaussian jitter. Part ids are global (PART_NAMES), so one
segmentation head covers every shape.
"""
from __future__ import annotations

import numpy as np

from dlkit.data.pipelines import arrays_dataset

POINT_CLOUD_CLASSES = ("sphere", "cube", "cylinder", "cone", "torus")
PARTS = {"sphere": ("north", "south"), "cube": ("top", "bottom", "side"),
         "cylinder": ("side", "caps"), "cone": ("side", "base"), "torus": ("outer", "inner")}
PART_NAMES = tuple(f"{shape}/{part}" for shape in POINT_CLOUD_CLASSES for part in PARTS[shape])
ROTATIONS = ("z", "any", None)
TARGETS = ("labels", "parts")


def _part_offset(kind: str) -> int:
    return PART_NAMES.index(f"{kind}/{PARTS[kind][0]}")


def _surface(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points on one shape's surface, uniform by area, and their local part ids."""
    if kind == "sphere":
        points = rng.normal(size=(n, 3))
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        return points, (points[:, 2] <= 0).astype(np.int32)
    if kind == "cube":
        face = rng.integers(0, 6, n)             # 0..5: +x, -x, +y, -y, +z, -z
        points = rng.uniform(-1.0, 1.0, (n, 3))
        axis, sign = face // 2, np.where(face % 2 == 0, 1.0, -1.0)
        points[np.arange(n), axis] = sign
        parts = np.where(face == 4, 0, np.where(face == 5, 1, 2))
        return points * 0.8, parts.astype(np.int32)
    if kind == "cylinder":
        radius, half_height = 0.7, 0.8
        side_area, cap_area = 2 * np.pi * radius * 2 * half_height, 2 * np.pi * radius ** 2
        on_side = rng.uniform(size=n) < side_area / (side_area + cap_area)
        angle = rng.uniform(0.0, 2 * np.pi, n)
        r = np.where(on_side, radius, radius * np.sqrt(rng.uniform(size=n)))
        z = np.where(on_side, rng.uniform(-half_height, half_height, n),
                     np.where(rng.uniform(size=n) < 0.5, half_height, -half_height))
        points = np.stack([r * np.cos(angle), r * np.sin(angle), z], axis=1)
        return points, (~on_side).astype(np.int32)
    if kind == "cone":
        radius, height = 0.9, 1.6
        slant = np.hypot(radius, height)
        side_area, base_area = np.pi * radius * slant, np.pi * radius ** 2
        on_side = rng.uniform(size=n) < side_area / (side_area + base_area)
        angle = rng.uniform(0.0, 2 * np.pi, n)
        # On the side, the radius at a uniform-by-area point is radius * sqrt(u).
        r = radius * np.sqrt(rng.uniform(size=n))
        z = np.where(on_side, height * (1 - r / radius), 0.0) - height / 3
        points = np.stack([r * np.cos(angle), r * np.sin(angle), z], axis=1)
        return points, (~on_side).astype(np.int32)
    if kind == "torus":
        major, minor = 0.7, 0.3
        # Rejection sampling: the area element is proportional to major + minor cos(v).
        v = np.empty(0)
        while len(v) < n:
            draws = rng.uniform(0.0, 2 * np.pi, 2 * n)
            keep = rng.uniform(0.0, major + minor, 2 * n) < major + minor * np.cos(draws)
            v = np.concatenate([v, draws[keep]])
        v = v[:n]
        u = rng.uniform(0.0, 2 * np.pi, n)
        ring = major + minor * np.cos(v)
        points = np.stack([ring * np.cos(u), ring * np.sin(u), minor * np.sin(v)], axis=1)
        return points, (np.cos(v) < 0).astype(np.int32)
    raise ValueError(f"unknown shape {kind!r}; choose from {POINT_CLOUD_CLASSES}")


def _rotations(n: int, rotate, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) rotation matrices: about z, uniform over SO(3), or identities."""
    if rotate is None:
        return np.tile(np.eye(3), (n, 1, 1))
    if rotate == "z":
        angle = rng.uniform(0.0, 2 * np.pi, n)
        cos, sin = np.cos(angle), np.sin(angle)
        rotation = np.zeros((n, 3, 3))
        rotation[:, 0, 0], rotation[:, 0, 1] = cos, -sin
        rotation[:, 1, 0], rotation[:, 1, 1] = sin, cos
        rotation[:, 2, 2] = 1.0
        return rotation
    if rotate == "any":
        q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
        q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
        q[np.linalg.det(q) < 0, :, 0] *= -1   # a rotation, not a reflection
        return q
    raise ValueError(f"rotate must be one of {ROTATIONS}, got {rotate!r}")


def make_point_clouds(
    n: int,
    *,
    num_points: int = 128,
    seed: int = 0,
    classes: tuple[str, ...] = POINT_CLOUD_CLASSES,
    rotate: str | None = "z",
    jitter: float = 0.01,
    min_scale: float = 0.6,
) -> dict[str, np.ndarray]:
    """Draw n point clouds of num_points points each.

    classes: shape names; label i means classes[i] (balanced counts). rotate: "z" (about
    the up axis), "any" (uniform over rotations) or None. jitter: std of the Gaussian noise
    added to every coordinate. min_scale: each shape is scaled by U(min_scale, 1) before
    the cloud is centred and put in the unit ball (its furthest point at distance 1).
    Returns {"points": float32 (n, num_points, 3), "labels": int32 (n,),
             "parts": int32 (n, num_points), global ids into PART_NAMES}.
    """
    if not 0.0 < min_scale <= 1.0:
        raise ValueError(f"need 0 < min_scale <= 1, got {min_scale}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes)).astype(np.int32)
    points = np.empty((n, num_points, 3))
    parts = np.empty((n, num_points), dtype=np.int32)
    for class_id, kind in enumerate(classes):
        chosen = np.flatnonzero(labels == class_id)
        for i in chosen:
            points[i], local = _surface(kind, num_points, rng)
            parts[i] = local + _part_offset(kind)
    points *= rng.uniform(min_scale, 1.0, (n, 1, 1))
    points = np.einsum("nij,npj->npi", _rotations(n, rotate, rng), points)
    points -= points.mean(axis=1, keepdims=True)
    points /= np.linalg.norm(points, axis=2).max(axis=1)[:, None, None]
    if jitter > 0:
        points += jitter * rng.standard_normal(points.shape)
    return {"points": points.astype(np.float32), "labels": labels, "parts": parts}


def point_clouds_dataset(
    n: int,
    *,
    batch_size: int = 32,
    seed: int = 0,
    target: str = "labels",
    shuffle: bool = True,
    repeat: bool = False,
    **cloud_options,
):
    """make_point_clouds(n, ...) as a tf.data.Dataset of (points, target) batches.

    target: "labels" (batch,) int32 for classification, "parts" (batch, num_points) int32
    for part segmentation. cloud_options: passed to make_point_clouds.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    data = make_point_clouds(n, seed=seed, **cloud_options)
    return arrays_dataset((data["points"], data[target]), batch_size=batch_size,
                          shuffle=shuffle, seed=seed, repeat=repeat)
