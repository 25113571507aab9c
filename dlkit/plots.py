"""Plots the labs save as PNG files: image grids, 2-D point sets, densities, loss curves.

Every function renders with matplotlib's Agg (file-only) canvas, creates the parent
folders, writes one PNG and returns its path. Figures are built without pyplot, so no
window opens on a headless CI runner, nothing stays registered in pyplot's figure list (no
leak over hundreds of calls), and a notebook's own plotting backend is left untouched.
Inside a Jupyter kernel each PNG is also shown below the cell that wrote it; a script run
shows nothing. `save_figure` does the same for a figure a notebook drew itself.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PathLike = str | os.PathLike


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)  # attach the Agg canvas: PNG rendering, no display needed
    return figure


def _save(figure: Figure, path: PathLike) -> Path:
    path = save_figure(figure, path, format="png")
    figure.clear()  # drop the artists now rather than at garbage collection
    return path


def save_figure(figure: Figure, path: PathLike, **savefig_kwargs) -> Path:
    """Save a figure a notebook drew itself (pyplot or not), creating the parent folders;
    inside a Jupyter kernel, also show it below the cell. savefig_kwargs go to
    figure.savefig (dpi=..., bbox_inches=...). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, **savefig_kwargs)
    _show_in_jupyter(path)
    return path


def _show_in_jupyter(path: Path) -> None:
    """Display the PNG at path below the running cell when inside a Jupyter kernel."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; a script never pays for it
    shell = ipython.get_ipython() if ipython else None
    if getattr(shell, "kernel", None) is None:  # a script, or a terminal IPython: no cell
        return
    from IPython.display import Image, display
    display(Image(data=path.read_bytes(), format="png"))


def _grid_points(limits, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A resolution x resolution grid over limits (x_min, x_max, y_min, y_max).

    Returns xs (R,), ys (R,), points float32 (R*R, 2) in row-major order (y outer, x inner).
    """
    x_min, x_max, y_min, y_max = limits
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def save_image_grid(images, path: PathLike, *, ncols: int = 8, titles=None, cmap: str = "gray",
                    vmin: float = 0, vmax: float = 1, title: str | None = None) -> Path:
    """Save images as a grid. images: (N, H, W) or (N, H, W, C) with C in {1, 3, 4}.

    titles: optional N short captions (e.g. labels). Values are shown between vmin and vmax.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C) with N > 0, got {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    if images.ndim == 4:  # colour: imshow wants values in [0, 1] and ignores vmin/vmax
        images = np.clip((images - vmin) / (vmax - vmin), 0.0, 1.0)
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    figure = _figure(1.2 * ncols, 1.2 * nrows + (0.4 if title else 0))
    if titles is None:
        # One mosaic, one imshow: a subplot per image costs ~13 ms each.
        ax = figure.subplots()
        ax.set_axis_off()
        ax.imshow(_mosaic(images, ncols), cmap=cmap, vmin=vmin, vmax=vmax,
                  interpolation="nearest")
    else:
        axes = figure.subplots(nrows, ncols, squeeze=False)
        for index, ax in enumerate(axes.ravel()):
            ax.set_axis_off()
            if index >= len(images):
                continue
            ax.imshow(images[index], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def _mosaic(images: np.ndarray, ncols: int) -> np.ndarray:
    """Tile (N, H, W[, C]) images into one array, rows of ncols, a 1-pixel gap between them.
    Gaps are NaN in grey images (drawn blank) and white in colour ones (values in [0, 1])."""
    n, h, w = images.shape[:3]
    nrows = math.ceil(n / ncols)
    gap = 1.0 if images.ndim == 4 else np.nan
    canvas = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1) + images.shape[3:], gap,
                     dtype=np.float32)
    for index, image in enumerate(images):
        row, col = divmod(index, ncols)
        canvas[row * (h + 1):row * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = image
    return canvas


def save_scatter_2d(sets: Mapping[str, np.ndarray], path: PathLike, *, title: str | None = None,
                    limits=None) -> Path:
    """Overlay labelled 2-D point sets, e.g. {"data": x_real, "model": x_fake}.

    sets: name -> (M, 2) points. limits: (x_min, x_max, y_min, y_max), default: fit the data.
    """
    figure = _figure(5, 5)
    ax = figure.subplots()
    for name, points in sets.items():
        points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6, label=f"{name} ({len(points)})")
    if limits is not None:
        ax.set_xlim(limits[0], limits[1])
        ax.set_ylim(limits[2], limits[3])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3, fontsize=8)
    if title:
        ax.set_title(title)
    return _save(figure, path)


def save_density_2d(log_prob_fn: Callable[[np.ndarray], np.ndarray], path: PathLike, *,
                    limits=(-4, 4, -4, 4), resolution: int = 200, samples=None,
                    title: str | None = None) -> Path:
    """Show the density p = exp(log_prob_fn(points)) over a grid, optionally with samples.

    log_prob_fn: float32 (M, 2) points -> (M,) log densities (numpy or tensor).
    samples: optional (S, 2) points drawn on top.
    """
    xs, ys, points = _grid_points(limits, resolution)
    log_prob = np.asarray(log_prob_fn(points), dtype=np.float64).reshape(-1)
    if log_prob.shape != (len(points),):
        raise ValueError(f"log_prob_fn must map ({len(points)}, 2) points to ({len(points)},) "
                         f"log densities, got shape {np.shape(log_prob)}")
    density = np.exp(np.nan_to_num(log_prob, nan=-np.inf)).reshape(resolution, resolution)
    figure = _figure(5, 5)
    ax = figure.subplots()
    ax.imshow(density, origin="lower", extent=limits, cmap="viridis", aspect="equal")
    if samples is not None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1, 2)
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="white", alpha=0.5)
        ax.set_xlim(limits[0], limits[1])
        ax.set_ylim(limits[2], limits[3])
    if title:
        ax.set_title(title)
    return _save(figure, path)


def save_loss_curves(history, path: PathLike, *, title: str | None = None,
                     logy: bool = False) -> Path:
    """Plot training curves against epochs.

    history: {name: [value per epoch]} or a keras History (its .history is used). Each
    "val_<name>" curve is drawn dashed in the colour of "<name>".
    """
    history = getattr(history, "history", history)
    curves = {name: np.asarray(values, dtype=np.float64).reshape(-1)
              for name, values in history.items() if len(values)}
    if not curves:
        raise ValueError("history has no curves to plot")
    figure = _figure(6, 4)
    ax = figure.subplots()
    colours = {}
    for name in sorted(curves, key=lambda key: (key.startswith("val_"), key)):
        base = name.removeprefix("val_")
        colour = colours.setdefault(base, f"C{len(colours) % 10}")
        values = curves[name]
        ax.plot(np.arange(1, len(values) + 1), values, color=colour,
                linestyle="--" if name.startswith("val_") else "-", label=name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _save(figure, path)


def _class_ids(scores: np.ndarray) -> np.ndarray:
    """Class ids from a classifier's output: ids (M,), probabilities (M,)/(M, 1), scores (M, K)."""
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    scores = scores.reshape(-1)
    if np.issubdtype(scores.dtype, np.integer) or np.issubdtype(scores.dtype, np.bool_):
        return scores.astype(np.int64)
    return (scores >= 0.5).astype(np.int64)


def save_decision_boundary(predict_fn: Callable[[np.ndarray], np.ndarray], x, y, path: PathLike,
                           *, limits=None, resolution: int = 200,
                           title: str | None = None) -> Path:
    """Colour the plane by a 2-D classifier's decision, with the labelled points on top.

    predict_fn: float32 (M, 2) -> class ids (M,) int, class scores (M, K) (argmax is used),
    or binary probabilities (M,)/(M, 1) float (thresholded at 0.5; for logits pass
    `lambda p: model(p) > 0`). x: (N, 2) points, y: (N,) int labels.
    limits: (x_min, x_max, y_min, y_max), default: the data range plus a margin.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1, 2)
    y = np.asarray(y).reshape(-1)
    if limits is None:
        low, high = x.min(axis=0), x.max(axis=0)
        margin = 0.1 * (high - low) + 0.1
        limits = (low[0] - margin[0], high[0] + margin[0], low[1] - margin[1], high[1] + margin[1])
    xs, ys, points = _grid_points(limits, resolution)
    regions = _class_ids(np.asarray(predict_fn(points)))
    if regions.shape != (len(points),):
        raise ValueError(f"predict_fn must give one decision per point for ({len(points)}, 2) "
                         f"inputs, got {regions.shape}")
    n_classes = int(max(regions.max(), y.max())) + 1
    figure = _figure(5, 5)
    ax = figure.subplots()
    ax.contourf(xs, ys, regions.reshape(resolution, resolution),
                levels=np.arange(n_classes + 1) - 0.5, cmap="tab10", vmin=0, vmax=9, alpha=0.3)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=8, edgecolors="k",
               linewidths=0.2)
    ax.set_xlim(limits[0], limits[1])
    ax.set_ylim(limits[2], limits[3])
    if title:
        ax.set_title(title)
    return _save(figure, path)
