"""Plotting: the book's figure helpers and an Animator that redraws one figure in place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import torch

__all__ = ["Animator", "plot", "set_figsize", "show_images", "use_png_display"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook 7, VS Code, nbclient, nbval)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def use_png_display() -> None:
    """Render inline figures as PNG: nbval skips PNG, while SVG output carries timestamps."""
    if in_notebook():
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


def set_figsize(figsize: tuple[float, float] = (3.5, 2.5)) -> None:
    """Set the default figure size for later plots (the book's helper)."""
    use_png_display()
    matplotlib.rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Label, limit and scale one matplotlib axes (the book's helper)."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid(True)


def _as_list(values: Any) -> list:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
    return list(values)


def plot(X, Y=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
         xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
         figsize=(3.5, 2.5), axes=None):
    """Plot one or several curves on one axes (the book's helper); returns the axes."""
    legend = legend or []
    set_figsize(figsize)
    axes = axes if axes is not None else plt.gca()

    def has_one_axis(values) -> bool:  # a single list or 1-D tensor, not a list of them
        return (hasattr(values, "ndim") and values.ndim == 1 or
                isinstance(values, list) and not hasattr(values[0], "__len__"))

    if has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts * len(Y)):
        if len(x):
            axes.plot(_as_list(x), _as_list(y), fmt)
        else:
            axes.plot(_as_list(y), fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
    return axes


def show_images(imgs, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5):
    """Show a grid of images (tensors C x H x W or H x W, or PIL images); returns the axes."""
    use_png_display()
    figsize = (num_cols * scale, num_rows * scale)
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        if isinstance(img, torch.Tensor):
            img = img.detach().cpu()
            if img.ndim == 3:
                img = img.squeeze(0) if img.shape[0] == 1 else img.permute(1, 2, 0)
            ax.imshow(img.numpy(), cmap="gray" if img.ndim == 2 else None)
        else:
            ax.imshow(img)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    return axes


class Animator:
    """Curves that grow as training runs, redrawn in one figure (or printed without a display)."""

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
                 nrows: int = 1, ncols: int = 1, figsize=(3.5, 2.5)) -> None:
        self.legend = list(legend or [])
        self.notebook = in_notebook()
        self.X: list[list[float]] = []
        self.Y: list[list[float]] = []
        self.fmts = fmts
        self.handle = None
        use_png_display()
        self.fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
        self.axes = axes.flatten()
        # Closed right away: pyplot would otherwise show it a second time when the cell ends.
        plt.close(self.fig)
        self.config_axes = lambda: set_axes(self.axes[0], xlabel, ylabel, xlim, ylim,
                                            xscale, yscale, self.legend)

    def add(self, x: float, y) -> None:
        """Append one point to each curve and redraw (points given as None are skipped)."""
        ys = list(y) if hasattr(y, "__len__") else [y]
        xs = list(x) if hasattr(x, "__len__") else [x] * len(ys)
        if not self.X:
            self.X = [[] for _ in ys]
            self.Y = [[] for _ in ys]
        for i, (a, b) in enumerate(zip(xs, ys)):
            if a is not None and b is not None:
                self.X[i].append(float(a))
                self.Y[i].append(float(b))
        if self.notebook:
            self._redraw()
        else:
            named = zip(self.legend or [f"y{i}" for i in range(len(ys))], ys)
            text = ", ".join(f"{n} {v:.3f}" for n, v in named if v is not None)
            print(f"{xs[0]:g}: {text}", flush=True)

    def _redraw(self) -> None:
        from IPython.display import display

        ax = self.axes[0]
        ax.cla()
        for x, y, fmt in zip(self.X, self.Y, self.fmts):
            ax.plot(x, y, fmt)
        self.config_axes()
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)
