"""Omniglot-like glyphs for few-shot learning, drawn offline from a seed (numpy only).

Each of NUM_GLYPH_CLASSES classes is a template of 2 to 4 strokes (quadratic Bezier curves)
on the unit square, fixed by `template_seed`. A sample of a class is one rendering of its
template through a small random affine warp (rotation, scale, shear, shift), with its own
stroke width and pixel noise, so two samples of a class look alike but never identical.
The classes are split once: the first NUM_TRAIN_GLYPH_CLASSES are for training, the rest
are held out (the "unseen" classes few-shot episodes are drawn from).

Also the sinusoid regression tasks of MAML (Finn et al., 2017): y = A sin(x - phase).
"""
from __future__ import annotations

import numpy as np

NUM_GLYPH_CLASSES = 64
NUM_TRAIN_GLYPH_CLASSES = 48
GLYPH_SIZE = 12
_POINTS_PER_STROKE = 24


def glyph_classes(split: str = "train") -> np.ndarray:
    """The class ids of a split: "train" (0..47), "test" (48..63, held out) or "all"."""
    if split == "train":
        return np.arange(NUM_TRAIN_GLYPH_CLASSES)
    if split == "test":
        return np.arange(NUM_TRAIN_GLYPH_CLASSES, NUM_GLYPH_CLASSES)
    if split == "all":
        return np.arange(NUM_GLYPH_CLASSES)
    raise ValueError(f"unknown split {split!r}; choose 'train', 'test' or 'all'")


def glyph_templates(template_seed: int = 0) -> list[np.ndarray]:
    """One template per class: an array (strokes, 3, 2) of Bezier control points in [0.15, 0.85]^2."""
    rng = np.random.default_rng(template_seed)
    templates = []
    for _ in range(NUM_GLYPH_CLASSES):
        strokes = rng.integers(2, 5)
        start = rng.uniform(0.15, 0.85, size=(strokes, 2))
        end = rng.uniform(0.15, 0.85, size=(strokes, 2))
        # Strokes at least a third of the canvas long, so no class is a dot.
        short = np.linalg.norm(end - start, axis=1) < 0.35
        end[short] = np.clip(start[short] + 0.4 * np.sign(0.5 - start[short]), 0.15, 0.85)
        bend = rng.uniform(0.15, 0.85, size=(strokes, 2))
        control = 0.5 * (start + end) + 0.6 * (bend - 0.5 * (start + end))
        templates.append(np.stack([start, control, end], axis=1))
    return templates


def _stroke_points(template: np.ndarray) -> np.ndarray:
    """(strokes * P, 2) points along the template's Bezier curves."""
    t = np.linspace(0.0, 1.0, _POINTS_PER_STROKE)[None, :, None]
    p0, p1, p2 = template[:, None, 0], template[:, None, 1], template[:, None, 2]
    return ((1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2).reshape(-1, 2)


def render_glyphs(template: np.ndarray, n: int, rng: np.random.Generator, *,
                  size: int = GLYPH_SIZE, jitter: float = 1.0) -> np.ndarray:
    """n jittered renderings of one template: (n, size, size) float32 in [0, 1]."""
    points = _stroke_points(template) - 0.5                       # centred on the canvas
    angle = jitter * rng.uniform(-0.25, 0.25, size=n)
    scale = 1.0 + jitter * rng.uniform(-0.12, 0.12, size=(n, 2))
    shear = jitter * rng.uniform(-0.15, 0.15, size=n)
    shift = jitter * rng.uniform(-0.06, 0.06, size=(n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    shearing = np.tile(np.eye(2), (n, 1, 1))
    shearing[:, 0, 1] = shear
    warp = rotation @ shearing * scale[:, None, :]
    warped = np.einsum("nij,pj->npi", warp, points) + 0.5 + shift[:, None, :]
    centres = (np.arange(size) + 0.5) / size
    grid = np.stack(np.meshgrid(centres, centres, indexing="xy"), -1).reshape(-1, 2)
    # Distance from each pixel centre to the nearest stroke point, in pixels.
    distance = np.sqrt(((grid[None, :, None] - warped[:, None]) ** 2).sum(-1)).min(-1) * size
    width = 0.4 + jitter * rng.uniform(-0.1, 0.2, size=(n, 1))   # half-width, pixels
    ink = np.clip((width + 0.6 - distance) / 0.6, 0.0, 1.0)
    ink = ink + jitter * rng.normal(scale=0.05, size=ink.shape)
    return np.clip(ink, 0.0, 1.0).reshape(n, size, size).astype(np.float32)


def make_glyphs(samples_per_class: int = 20, *, split: str = "all", seed: int = 0,
                size: int = GLYPH_SIZE, template_seed: int = 0,
                jitter: float = 1.0) -> dict[str, np.ndarray]:
    """Samples of every class of `split`, class by class.

    Returns {"images": (C * samples_per_class, size, size, 1) float32 in [0, 1],
             "labels": (C * samples_per_class,) int32 global class ids}. The templates
    depend on `template_seed` only, the renderings on `seed` (and the class), so a split's
    samples do not change when another split is drawn."""
    templates = glyph_templates(template_seed)
    images, labels = [], []
    for label in glyph_classes(split):
        rng = np.random.default_rng([seed, int(label)])
        images.append(render_glyphs(templates[label], samples_per_class, rng, size=size,
                                    jitter=jitter))
        labels.append(np.full(samples_per_class, label, dtype=np.int32))
    return {"images": np.concatenate(images)[..., None], "labels": np.concatenate(labels)}


def sinusoid_tasks(num_tasks: int, num_points: int, *, seed: int = 0,
                   amplitude=(0.1, 5.0), phase=(0.0, np.pi),
                   x_range=(-5.0, 5.0)) -> dict[str, np.ndarray]:
    """Sinusoid regression tasks of the MAML paper: y = A sin(x - phase) per task.

    Returns {"x": (T, num_points, 1), "y": (T, num_points, 1) float32,
             "amplitude": (T,), "phase": (T,)}."""
    rng = np.random.default_rng(seed)
    amp = rng.uniform(*amplitude, size=num_tasks)
    ph = rng.uniform(*phase, size=num_tasks)
    x = rng.uniform(*x_range, size=(num_tasks, num_points, 1))
    y = amp[:, None, None] * np.sin(x - ph[:, None, None])
    return {"x": x.astype(np.float32), "y": y.astype(np.float32),
            "amplitude": amp.astype(np.float32), "phase": ph.astype(np.float32)}
