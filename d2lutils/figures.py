"""Schematics the book draws, drawn with matplotlib from the real tensors and modules, so a
picture can never disagree with the code beside it.

Every number, shape and layer name in these figures is computed from the arguments with torch
(a convolution, a forward pass, an all-reduce, an autograd graph), never typed in. Each function
returns the pyplot figure it drew, sized for a 1280x720 slide (at most 9 x 4 inches, fonts of
8 pt or more); like `plot`, it is shown when the cell ends, so write `_ = d2l.draw_...(...)` or
keep it (`fig = ...`) to read the values it computed (`fig.d2l_shapes`, `fig.d2l_result`, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path
from matplotlib.textpath import text_to_path
from torch import nn
from torch.nn import functional as F

from .plotting import use_png_display

__all__ = ["draw_autograd_graph", "draw_branches", "draw_conv2d", "draw_mlp",
           "draw_multichannel", "draw_network", "draw_parallelism", "draw_pooling",
           "draw_ring_allreduce"]

# A slide is 1280x720 pixels and shows a figure at about 100 dpi: 9 x 4 inches leave room for
# the cell's code above it. Sizes below are in inches and points; every text is >= MIN_FONT.
MAX_W, MAX_H = 9.0, 4.0
MARGIN = 0.12
FONT, SMALL, MIN_FONT, TITLE = 10.0, 9.0, 8.0, 11.0
INK, GREY, LINE = "#222222", "#777777", "#444444"
WINDOW, WINDOW_FILL = "#1f66b3", "#cfe0f3"  # the window and the output cell it produces
PAD_FILL = "#e4e4e4"  # zero padding
ADD_FILL, COPY_FILL = "#fdd5a5", "#c9e8c0"  # ring all-reduce: a chunk added, a chunk copied
FORWARD, BACKWARD = "#333333", "#d0402b"
FILLS = {"conv": "#d6e6f5", "pool": "#dcefd6", "linear": "#fde3cc", "norm": "#ebdff2",
         "block": "#f6eec4", "other": "#ececec", "input": "#ffffff"}
ACTIVATIONS = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Mish,
               nn.Softplus, nn.Softmax, nn.LogSoftmax, nn.ReLU6, nn.PReLU, nn.SELU, nn.Hardswish)


# ---------------------------------------------------------------- text, canvas and shapes


def _text_width(text: str, size: float) -> float:
    """Width of one line of text in inches, measured with matplotlib's own font metrics."""
    width, _, _ = text_to_path.get_text_width_height_descent(text, FontProperties(size=size),
                                                              ismath=False)
    return width / 72


def _line_height(size: float) -> float:
    return size * 1.3 / 72


def _num(value: float) -> str:
    """A number as a figure shows it: integers without decimals, else at most two."""
    if math.isinf(value) or math.isnan(value):
        return "nan" if math.isnan(value) else "−∞" if value < 0 else "∞"
    if abs(value - round(value)) < 1e-6 * max(1.0, abs(value)):
        return str(int(round(value)))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _factor(value: float) -> str:
    """A factor of a product, in parentheses when negative so that `2×(-1)` reads right."""
    text = _num(value)
    return f"({text})" if text.startswith("-") else text


def _dims(shape: Sequence[int]) -> str:
    return "×".join(str(int(d)) for d in shape)


def _canvas(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure whose data coordinates are inches from its top-left corner (y grows down)."""
    use_png_display()
    assert width <= MAX_W + 1e-6 and height <= MAX_H + 0.5, (width, height)
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return fig, ax


def _text(ax: Axes, x: float, y: float, text: str, size: float = FONT, **kwargs: Any) -> None:
    assert size >= MIN_FONT, size
    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "center")
    kwargs.setdefault("color", INK)
    ax.text(x, y, text, fontsize=size, **kwargs)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str = LINE,
           style: str = "-|>", **kwargs: Any) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, color=color, lw=1.0,
                                 mutation_scale=9, shrinkA=0, shrinkB=0, **kwargs))


def _path_arrow(ax: Axes, points: list[tuple[float, float]], color: str = LINE) -> None:
    ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", color=color, lw=1.0,
                                 mutation_scale=9, shrinkA=0, shrinkB=0))


def _box(ax: Axes, x: float, y: float, w: float, h: float, fill: str, *,
         dashed: bool = False, rounded: bool = True, edge: str = LINE) -> None:
    """A box with top-left corner (x, y)."""
    style = "round,pad=0,rounding_size=0.05" if rounded else "square,pad=0"
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, facecolor=fill, edgecolor=edge,
                                lw=1.0, linestyle="--" if dashed else "-"))


def _lines_in_box(ax: Axes, cx: float, y: float, h: float, lines: list[str], size: float,
                  last_grey: bool = False) -> None:
    """Centre lines of text in a box of height h whose top is y (the last one grey if asked)."""
    lh = _line_height(size)
    top = y + (h - lh * len(lines)) / 2
    for i, line in enumerate(lines):
        grey = last_grey and i == len(lines) - 1 and len(lines) > 1
        _text(ax, cx, top + (i + 0.5) * lh, line, size, color=GREY if grey else INK)


def _wrap(label: str, width: float, size: float) -> list[str] | None:
    """Break a layer label after its commas and before ' + ', to fit width; None if it cannot."""
    pieces = [p for p in re.split(r"(?<=, )|(?= \+ )", label) if p]
    lines: list[str] = []
    for piece in pieces:
        if lines and _text_width((lines[-1] + piece).strip(), size) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    lines = [line.strip() for line in lines]
    return lines if all(_text_width(line, size) <= width for line in lines) else None


def _check_matrix(M: Any, name: str) -> torch.Tensor:
    if not isinstance(M, torch.Tensor) or M.ndim != 2 or M.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 2-D tensor, got "
                         f"{tuple(M.shape) if isinstance(M, torch.Tensor) else type(M).__name__}")
    return M.detach().cpu()


def _pair(value: int | Sequence[int], name: str, low: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= low for v in pair):
        raise ValueError(f"{name} must be an int >= {low} or a pair of them, got {value!r}")
    return pair[0], pair[1]


def _floats(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """The tensors in one floating dtype: conv2d and pooling have no integer kernels."""
    dtype = torch.float32
    for t in tensors:
        if t.is_floating_point():
            dtype = torch.promote_types(dtype, t.dtype)
    return [t.to(dtype) for t in tensors]


def _index(highlight: Sequence[int], shape: Sequence[int]) -> tuple[int, int]:
    if len(highlight) != 2:
        raise ValueError(f"highlight must be a (row, column) pair, got {highlight!r}")
    i, j = highlight
    if not (-shape[0] <= i < shape[0] and -shape[1] <= j < shape[1]):
        raise ValueError(f"highlight {tuple(highlight)} is outside the output of shape "
                         f"{_dims(shape)}")
    return i % shape[0], j % shape[1]


def _equation(groups: list[list[str]], tail: str, size: float, width: float) -> list[str]:
    """One or two lines `a + b + ... = tail` that fit width; terms in the middle become ⋯."""
    terms = [t for group in groups for t in group]

    def lines_of(items: list[str]) -> list[str]:
        lines = [items[0]]
        for item in items[1:]:
            if _text_width(f"{lines[-1]} + {item}", size) <= width:
                lines[-1] += f" + {item}"
            else:
                lines.append(f"+ {item}")
        lines[-1] += f" = {tail}"
        return lines

    lines = lines_of(terms)
    keep = len(terms)
    while (len(lines) > 2 or any(_text_width(s, size) > width for s in lines)) and keep > 2:
        keep -= 1  # leave out middle terms until it fits, saying how many products there were
        lines = lines_of([*terms[:keep - 1], "⋯", terms[-1]])
        lines[-1] += f"   ({len(terms)} products)"
    return lines


# ---------------------------------------------------------------- grids of numbers


def _grid(ax: Axes, texts: list[list[str]], x: float, y: float, cell: float, size: float,
          fills: dict[tuple[int, int], str] | None = None,
          greys: set[tuple[int, int]] | None = None) -> None:
    """A matrix of numbers, one square cell each, top-left corner at (x, y)."""
    fills, greys = fills or {}, greys or set()
    for r, row in enumerate(texts):
        for c, text in enumerate(row):
            fill = fills.get((r, c), PAD_FILL if (r, c) in greys else "white")
            ax.add_patch(Rectangle((x + c * cell, y + r * cell), cell, cell, facecolor=fill,
                                   edgecolor=LINE, lw=0.8))
            _text(ax, x + (c + 0.5) * cell, y + (r + 0.5) * cell, text, size,
                  color=GREY if (r, c) in greys else INK)


def _outline(ax: Axes, x: float, y: float, w: float, h: float) -> None:
    ax.add_patch(Rectangle((x, y), w, h, facecolor="none", edgecolor=WINDOW, lw=2.4, zorder=5))


def _cell_size(texts: list[str], cols: float, rows: float, free_w: float, free_h: float,
               largest: float = 0.5) -> tuple[float, float]:
    """The side of a grid cell that fits the free space, and the font its numbers fit in."""
    cell = min(largest, free_w / cols, free_h / rows)
    widest = max(_text_width(t, 10.0) for t in texts) / 10.0  # inches per point of font size
    size = min(12.0, 0.68 * cell / widest, 0.5 * cell * 72)
    if size < MIN_FONT and 0.85 * cell / widest >= MIN_FONT:
        size = MIN_FONT  # rather a snug cell than a font below the minimum
    if size < MIN_FONT:
        raise ValueError(f"too many cells ({cols:g} across, {rows:g} down) or too long numbers "
                         "to draw legibly on a slide; use smaller tensors")
    return cell, math.floor(size * 2) / 2


def _texts(M: torch.Tensor) -> list[list[str]]:
    return [[_num(v) for v in row] for row in M.tolist()]


def _window_figure(panels: list[dict[str, Any]], ops: list[str], title: str,
                   equation: list[list[str]], tail: str) -> Figure:
    """Grids side by side with operators between them, a title above and an equation below."""
    gap = 0.5  # the room an operator sign takes between two grids
    cols = sum(len(p["texts"][0]) for p in panels)
    rows = max(len(p["texts"]) for p in panels)
    eq_w = MAX_W - 2 * MARGIN
    eq = _equation(equation, tail, FONT, eq_w)
    head = _line_height(TITLE) + _line_height(SMALL) + 0.12
    foot = 0.1 + len(eq) * _line_height(FONT)
    all_texts = [t for p in panels for row in p["texts"] for t in row]
    cell, size = _cell_size(all_texts, cols, rows, MAX_W - 2 * MARGIN - gap * len(ops),
                            MAX_H - 2 * MARGIN - head - foot)
    grids_w = cols * cell + gap * len(ops)
    width = min(MAX_W, max(grids_w, _text_width(title, TITLE) + 0.1,
                           max(_text_width(s, FONT) for s in eq) + 0.1) + 2 * MARGIN)
    height = 2 * MARGIN + head + rows * cell + foot
    fig, ax = _canvas(width, height)
    _text(ax, width / 2, MARGIN + _line_height(TITLE) / 2, title, TITLE)
    x, top = (width - grids_w) / 2, MARGIN + head
    for k, panel in enumerate(panels):
        h, w = len(panel["texts"]), len(panel["texts"][0])
        y = top + (rows - h) * cell / 2
        _text(ax, x + w * cell / 2, y - 0.05 - _line_height(SMALL) / 2, panel["label"], SMALL)
        _grid(ax, panel["texts"], x, y, cell, size, panel.get("fills"), panel.get("greys"))
        if panel.get("window"):
            r, c, wh, ww = panel["window"]
            _outline(ax, x + c * cell, y + r * cell, ww * cell, wh * cell)
        x += w * cell
        if k < len(ops):
            _text(ax, x + gap / 2, top + rows * cell / 2, ops[k], 16.0)
            x += gap
    y = top + rows * cell + 0.1
    for line in eq:
        _text(ax, width / 2, y + _line_height(FONT) / 2, line, FONT)
        y += _line_height(FONT)
    return fig


def draw_conv2d(X: torch.Tensor, K: torch.Tensor, padding: int | Sequence[int] = 0,
                stride: int | Sequence[int] = 1, highlight: Sequence[int] = (0, 0)) -> Figure:
    """Input, kernel and output of a 2-D cross-correlation, one window worked out (ch. 18-19).

    The output is `F.conv2d`'s; zero padding is drawn as grey cells; the equation under the grids
    sums the products of the outlined window, which equal the shaded output cell.
    """
    X, K = _check_matrix(X, "X"), _check_matrix(K, "K")
    (ph, pw), (sh, sw) = _pair(padding, "padding", 0), _pair(stride, "stride", 1)
    X, K = _floats(X, K)
    P = F.pad(X, (pw, pw, ph, ph))
    (kh, kw) = K.shape
    if P.shape[0] < kh or P.shape[1] < kw:
        raise ValueError(f"kernel {_dims(K.shape)} is larger than the padded input "
                         f"{_dims(P.shape)}")
    Y = F.conv2d(X[None, None], K[None, None], padding=(ph, pw), stride=(sh, sw))[0, 0]
    i, j = _index(highlight, Y.shape)
    window = P[i * sh:i * sh + kh, j * sw:j * sw + kw]
    assert torch.allclose((window * K).sum(), Y[i, j], rtol=1e-5, atol=1e-5)
    terms = [f"{_factor(a)}×{_factor(b)}" for a, b in zip(window.flatten().tolist(),
                                                          K.flatten().tolist())]
    greys = {(r, c) for r in range(P.shape[0]) for c in range(P.shape[1])
             if not (ph <= r < ph + X.shape[0] and pw <= c < pw + X.shape[1])}
    cells = {(r, c): WINDOW_FILL for r in range(i * sh, i * sh + kh)
             for c in range(j * sw, j * sw + kw) if (r, c) not in greys}
    title = f"input {_dims(X.shape)}, kernel {_dims(K.shape)}"
    title += f", padding {ph if ph == pw else (ph, pw)}" if ph or pw else ""
    title += f", stride {sh if sh == sw else (sh, sw)}" if sh != 1 or sw != 1 else ""
    title += f" → output {_dims(Y.shape)}"
    panels = [dict(label="input, padded" if ph or pw else "input", texts=_texts(P), greys=greys,
                   fills=cells, window=(i * sh, j * sw, kh, kw)),
              dict(label="kernel", texts=_texts(K)),
              dict(label="output", texts=_texts(Y), fills={(i, j): WINDOW_FILL},
                   window=(i, j, 1, 1))]
    fig = _window_figure(panels, ["∗", "="], title, [terms], _num(Y[i, j].item()))
    fig.d2l_output = Y
    return fig


def draw_pooling(X: torch.Tensor, pool_size: int | Sequence[int] = 2,
                 stride: int | Sequence[int] | None = None, padding: int | Sequence[int] = 0,
                 mode: str = "max", highlight: Sequence[int] = (0, 0)) -> Figure:
    """Input and output of max or average pooling, one window worked out (chapter 21).

    The output is `F.max_pool2d` / `F.avg_pool2d`'s (stride defaults to the pool size, as there);
    max pooling pads with -∞, average pooling with zeros that count in the mean, as PyTorch does.
    """
    X = _floats(_check_matrix(X, "X"))[0]
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    kh, kw = _pair(pool_size, "pool_size", 1)
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding {padding} is more than half the pool size {pool_size} "
                         "(PyTorch does not allow it)")
    P = F.pad(X, (pw, pw, ph, ph), value=-math.inf if mode == "max" else 0.0)
    if P.shape[0] < kh or P.shape[1] < kw:
        raise ValueError(f"pool {kh}×{kw} is larger than the padded input {_dims(P.shape)}")
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    Y = pool(X[None, None], (kh, kw), (sh, sw), (ph, pw))[0, 0]
    i, j = _index(highlight, Y.shape)
    window = P[i * sh:i * sh + kh, j * sw:j * sw + kw]
    value = window.max() if mode == "max" else window.mean()
    assert torch.allclose(value, Y[i, j])
    greys = {(r, c) for r in range(P.shape[0]) for c in range(P.shape[1])
             if not (ph <= r < ph + X.shape[0] and pw <= c < pw + X.shape[1])}
    cells = {(r, c): WINDOW_FILL for r in range(i * sh, i * sh + kh)
             for c in range(j * sw, j * sw + kw) if (r, c) not in greys}
    name = "max" if mode == "max" else "average"
    title = f"{name} pooling {kh}×{kw}, stride {sh if sh == sw else (sh, sw)}"
    title += f", padding {ph if ph == pw else (ph, pw)}" if ph or pw else ""
    title += f": input {_dims(X.shape)} → output {_dims(Y.shape)}"
    panels = [dict(label="input, padded" if ph or pw else "input", texts=_texts(P), greys=greys,
                   fills=cells, window=(i * sh, j * sw, kh, kw)),
              dict(label="output", texts=_texts(Y), fills={(i, j): WINDOW_FILL},
                   window=(i, j, 1, 1))]
    values = [_num(v) for v in window.flatten().tolist()]
    fn = "max" if mode == "max" else "mean"
    call, tail = f"{fn}({', '.join(values)})", _num(Y[i, j].item())
    keep = len(values)
    while _text_width(f"{call} = {tail}", FONT) > MAX_W - 2 * MARGIN:
        keep -= 1  # a large window: its middle values give way to '…'
        call = f"{fn}({', '.join(values[:keep - 1])}, …, {values[-1]})"
        tail = f"{_num(Y[i, j].item())}   ({len(values)} values)"
    fig = _window_figure(panels, ["→"], title, [[call]], tail)
    fig.d2l_output = Y
    return fig


def draw_multichannel(X: torch.Tensor, K: torch.Tensor, highlight: Sequence[int] = (0, 0)
                      ) -> Figure:
    """Cross-correlation with several input channels: one result per channel, summed (ch. 20).

    X is (channels, h, w) and K (channels, kh, kw). The output is `F.conv2d` on all channels at
    once, checked here to equal the sum of the per-channel results that the figure shows.
    """
    if not (isinstance(X, torch.Tensor) and isinstance(K, torch.Tensor)
            and X.ndim == 3 and K.ndim == 3):
        raise ValueError("X must be (channels, h, w) and K (channels, kh, kw), 3-D tensors")
    c = X.shape[0]
    if c > 3 or c < 1:
        raise ValueError(f"draw_multichannel draws 1 to 3 input channels legibly; X has {c}")
    if K.shape[0] != c:
        raise ValueError(f"X has {c} channels but K has {K.shape[0]}: one kernel per channel")
    if K.shape[1] > X.shape[1] or K.shape[2] > X.shape[2]:
        raise ValueError(f"kernel {_dims(K.shape[1:])} is larger than the input "
                         f"{_dims(X.shape[1:])}")
    X, K = _floats(X.detach().cpu(), K.detach().cpu())
    Y = F.conv2d(X[None], K[None])[0, 0]
    per = [F.conv2d(X[k][None, None], K[k][None, None])[0, 0] for k in range(c)]
    assert torch.allclose(Y, torch.stack(per).sum(0), rtol=1e-5, atol=1e-5)
    i, j = _index(highlight, Y.shape)
    kh, kw = K.shape[1:]
    h, w = X.shape[1:]
    oh, ow = Y.shape
    groups = [[f"{_factor(a)}×{_factor(b)}"
               for a, b in zip(X[k, i:i + kh, j:j + kw].flatten().tolist(),
                               K[k].flatten().tolist())] for k in range(c)]
    sums = " + ".join(_factor(p[i, j].item()) for p in per)  # (−7), as the products show it
    total = _num(Y[i, j].item())
    # All products on one line if they fit, else a line per channel (two at most), else the sums.
    full = " + ".join(f"({' + '.join(g)})" for g in groups) + f" = {sums} = {total}"
    per_line = [f"channel {k}: " + " + ".join(g) + f" = {_num(per[k][i, j].item())}"
                for k, g in enumerate(groups)] + [f"sum over channels: {sums} = {total}"]
    short = [f"per-channel results at {(i, j)}: {sums} = {total}"]
    eq = next(lines for lines in ([full], per_line if c <= 2 else short, short)
              if all(_text_width(line, FONT) <= MAX_W - 2 * MARGIN for line in lines))

    gap, row_gap = 0.5, 0.24
    head = _line_height(TITLE) + _line_height(SMALL) + 0.12
    foot = 0.1 + len(eq) * _line_height(FONT)
    row_cells = max(h, kh, oh)
    cols = w + kw + 2 * ow
    texts = [_num(v) for M in (X, K, Y, *per) for v in M.flatten().tolist()]
    label_w = _text_width("channel 0", SMALL) + 0.1
    cell, size = _cell_size(texts, cols, c * row_cells, MAX_W - 2 * MARGIN - 3 * gap - label_w,
                            MAX_H - 2 * MARGIN - head - foot - (c - 1) * row_gap)
    grids_w = label_w + cols * cell + 3 * gap
    width = min(MAX_W, max(grids_w, max(_text_width(s, FONT) for s in eq) + 0.1) + 2 * MARGIN)
    rows_h = c * row_cells * cell + (c - 1) * row_gap
    height = 2 * MARGIN + head + rows_h + foot
    fig, ax = _canvas(width, height)
    title = (f"{c} input channels {_dims((h, w))}, kernel {c}×{_dims((kh, kw))}"
             f" → output {_dims(Y.shape)} (one channel)")
    _text(ax, width / 2, MARGIN + _line_height(TITLE) / 2, title, TITLE)
    x0, top = (width - grids_w) / 2 + label_w, MARGIN + head
    xs = [x0, x0 + w * cell + gap, x0 + (w + kw) * cell + 2 * gap]  # input, kernel, per channel
    label_y = top - 0.05 - _line_height(SMALL) / 2
    for x, n, label in zip(xs, (w, kw, ow), ("input", "kernel", "per channel")):
        _text(ax, x + n * cell / 2, label_y, label, SMALL)
    for k in range(c):
        ry = top + k * (row_cells * cell + row_gap)
        mid = ry + row_cells * cell / 2
        _text(ax, x0 - 0.08, mid, f"channel {k}", SMALL, ha="right")
        fills = {(r, q): WINDOW_FILL for r in range(i, i + kh) for q in range(j, j + kw)}
        for x, M, f in ((xs[0], X[k], fills), (xs[1], K[k], None),
                        (xs[2], per[k], {(i, j): WINDOW_FILL})):
            _grid(ax, _texts(M), x, mid - M.shape[0] * cell / 2, cell, size, f)
        _outline(ax, xs[0] + j * cell, mid - h * cell / 2 + i * cell, kw * cell, kh * cell)
        _text(ax, xs[0] + w * cell + gap / 2, mid, "∗", 16.0)
        _text(ax, xs[1] + kw * cell + gap / 2, mid, "=", 16.0)
        if k:  # the per-channel results are summed: a plus between consecutive ones
            _text(ax, xs[2] + ow * cell / 2, ry - row_gap / 2, "+", 14.0)
    xo = xs[2] + ow * cell + gap
    mid = top + rows_h / 2
    _text(ax, xo - gap / 2, mid, "=", 16.0)
    _text(ax, xo + ow * cell / 2, mid - oh * cell / 2 - 0.05 - _line_height(SMALL) / 2,
          "output", SMALL)
    _grid(ax, _texts(Y), xo, mid - oh * cell / 2, cell, size, {(i, j): WINDOW_FILL})
    _outline(ax, xo + j * cell, mid - oh * cell / 2 + i * cell, cell, cell)
    y = top + rows_h + 0.1
    for line in eq:
        _text(ax, width / 2, y + _line_height(FONT) / 2, line, FONT)
        y += _line_height(FONT)
    fig.d2l_output = Y
    return fig


# ---------------------------------------------------------------- an MLP's units


def draw_mlp(net_or_sizes: nn.Module | Sequence[int], max_units: int = 6) -> Figure:
    """The neurons-and-connections picture of an MLP, from its Linear layers or sizes (ch. 10).

    A layer wider than max_units shows max_units units around a '⋮' and its true width below.
    """
    activations: list[str] = []
    if isinstance(net_or_sizes, nn.Module):
        modules = list(net_or_sizes.modules())
        linears = [m for m in modules if isinstance(m, nn.Linear)]
        if not linears or any(nn.parameter.is_lazy(m.weight) for m in linears):
            raise ValueError("the net needs initialised nn.Linear layers (run a lazy one once)")
        sizes = [linears[0].in_features] + [m.out_features for m in linears]
        for m in linears[:-1]:  # the activation that follows each hidden layer, if any
            after = modules[modules.index(m) + 1:]
            nxt = next((a for a in after if isinstance(a, (*ACTIVATIONS, nn.Linear))), None)
            activations.append(type(nxt).__name__ if isinstance(nxt, ACTIVATIONS) else "")
    else:
        sizes = [int(n) for n in net_or_sizes]
        activations = [""] * (len(sizes) - 2)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"an MLP needs at least two layers of positive size, got {sizes}")
    if not 2 <= max_units <= 12:
        raise ValueError(f"max_units must be between 2 and 12, got {max_units}")
    n_layers = len(sizes)
    slots = max(min(n, max_units) + (n > max_units) for n in sizes)
    hidden = ["hidden layer"] if n_layers == 3 else [
        f"hidden layer {k}" for k in range(1, n_layers - 1)]
    names = ["input layer", *hidden, "output layer"]
    counts = ([f"{sizes[0]:,} input{'s' * (sizes[0] > 1)}"]
              + [f"{n:,} hidden" + (f", {a}" if a else "")
                 for n, a in zip(sizes[1:-1], activations)]
              + [f"{sizes[-1]:,} output{'s' * (sizes[-1] > 1)}"])
    col_w = max(1.3, max(_text_width(s, SMALL) for s in counts) + 0.2)
    col_w = min(col_w, (MAX_W - 2 * MARGIN) / n_layers)
    if any(_text_width(s, SMALL) > col_w for s in counts):
        raise ValueError(f"{n_layers} layers are too many to label on a slide")
    head, foot = _line_height(SMALL) + 0.1, _line_height(SMALL) + 0.1
    pitch = min(0.42, (MAX_H - 2 * MARGIN - head - foot) / slots)
    radius = 0.34 * pitch
    width, height = 2 * MARGIN + n_layers * col_w, 2 * MARGIN + head + foot + slots * pitch
    fig, ax = _canvas(width, height)
    fills = ["#cfe0f3"] + ["#d8eed2"] * (n_layers - 2) + ["#fde0c5"]
    centres: list[list[tuple[float, float]]] = []
    for k, n in enumerate(sizes):
        x = MARGIN + (k + 0.5) * col_w
        shown = min(n, max_units)
        rows = list(range(shown)) if n <= max_units else (
            list(range((shown + 1) // 2)) + list(range((shown + 1) // 2 + 1, shown + 1)))
        top = MARGIN + head + (slots - (shown + (n > max_units))) * pitch / 2
        centres.append([(x, top + (r + 0.5) * pitch) for r in rows])
        if n > max_units:
            _text(ax, x, top + ((shown + 1) // 2 + 0.5) * pitch, "⋮", 14.0)
        _text(ax, x, MARGIN + head / 2, names[k], SMALL)
        _text(ax, x, height - MARGIN - foot / 2, counts[k], SMALL)
    # Every unit feeds every unit of the next layer.
    ax.add_collection(LineCollection(
        [[(x0 + radius, y0), (x1 - radius, y1)] for left, right in zip(centres, centres[1:])
         for x0, y0 in left for x1, y1 in right], colors="#9a9a9a", linewidths=0.6, zorder=1))
    for k, column in enumerate(centres):
        for x, y in column:
            ax.add_patch(Circle((x, y), radius, facecolor=fills[k], edgecolor=LINE, lw=1.0,
                                zorder=2))
    fig.d2l_sizes = sizes
    return fig


# ---------------------------------------------------------------- layers, boxes and shapes


def _kind(m: nn.Module) -> str:
    if isinstance(m, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(m, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                      nn.modules.pooling._AdaptiveAvgPoolNd,
                      nn.modules.pooling._AdaptiveMaxPoolNd)):
        return "pool"
    if isinstance(m, (nn.Linear, nn.Bilinear)):
        return "linear"
    if isinstance(m, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)):
        return "norm"
    return "block" if list(m.children()) else "other"


def _size(value: Any, square: bool) -> str:
    """A kernel size as 5×5, or a stride or padding as 2 when it is the same on every side."""
    values = tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else (
        value,)
    if isinstance(values[0], str):
        return values[0]
    if len(set(values)) == 1 and not square:
        return str(values[0])
    if len(values) == 1 and square:
        return f"{values[0]}×{values[0]}"
    return "×".join(str(v) for v in values)


def _label(m: nn.Module) -> str:
    """What a layer box says: the layer's kind and the hyperparameters a reader needs."""
    name = type(m).__name__
    if isinstance(m, nn.modules.conv._ConvNd):
        parts = [f"{name} {_size(m.kernel_size, True)}", f"{m.in_channels}→{m.out_channels}"]
        if any(s != 1 for s in m.stride):
            parts.append(f"stride {_size(m.stride, False)}")
        if isinstance(m.padding, str) or any(m.padding):
            parts.append(f"pad {_size(m.padding, False)}")
        return ", ".join(parts)
    if isinstance(m, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        label = f"{name} {_size(m.kernel_size, True)}, stride {_size(m.stride, False)}"
        pad = m.padding if isinstance(m.padding, Sequence) else (m.padding,)
        return label + (f", pad {_size(m.padding, False)}" if any(pad) else "")
    if isinstance(m, (nn.modules.pooling._AdaptiveAvgPoolNd,
                      nn.modules.pooling._AdaptiveMaxPoolNd)):
        return f"{name} → {_size(m.output_size, True)}"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}→{m.out_features}"
    if isinstance(m, nn.modules.batchnorm._NormBase):
        return f"{name} {m.num_features}"
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return f"{name} {m.p:g}"
    inner = list(m.children())
    if isinstance(m, nn.Sequential) and inner and list(inner[0].children()) and len(
            {type(c) for c in inner}) == 1:
        return f"Sequential: {len(inner)} × {type(inner[0]).__name__}"
    if inner:
        leaves = [x for x in m.modules()
                  if not list(x.children()) and not isinstance(x, ACTIVATIONS)]
        return f"{name} ({len(leaves)} layer{'s' if len(leaves) != 1 else ''})"
    return name


def _groups(modules: Sequence[nn.Module], merge: tuple[type, ...]) -> list[list[nn.Module]]:
    """Consecutive modules, each activation (or other `merge` type) joined to the one before."""
    groups: list[list[nn.Module]] = []
    for m in modules:
        if groups and isinstance(m, merge):
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups


def _group_label(group: list[nn.Module]) -> str:
    rest = [type(m).__name__.lower() if isinstance(m, ACTIVATIONS) else _label(m)
            for m in group[1:]]
    return " + ".join([_label(group[0]), *rest])


def _run(owners: Sequence[nn.Module], chains: list[list[list[nn.Module]]], x: torch.Tensor
         ) -> tuple[list[list[tuple[int, ...]]], list[torch.Tensor]]:
    """Each chain run on x in eval mode without grad: its shape after each group, and its output.

    The pass also initialises lazy layers (as the book's first `net(X)` does), so labels read
    after it show their real sizes. Training flags are restored afterwards.
    """
    flags = {m: m.training for owner in owners for m in owner.modules()}
    try:
        for owner in owners:
            owner.eval()
        shapes: list[list[tuple[int, ...]]] = []
        outputs: list[torch.Tensor] = []
        with torch.no_grad():
            for chain in chains:
                y, out = x, []
                for group in chain:
                    for m in group:
                        try:
                            y = m(y)
                        except RuntimeError as err:
                            raise ValueError(f"{_label(m)} cannot take an input of shape "
                                             f"{_dims(y.shape)}: {err}") from err
                        if not isinstance(y, torch.Tensor):
                            raise ValueError(f"{_label(m)} returns {type(y).__name__}, "
                                             "not one tensor")
                    out.append(tuple(y.shape))
                shapes.append(out)
                outputs.append(y)
        return shapes, outputs
    finally:
        for m, training in flags.items():
            m.training = training


def _zeros(modules: Sequence[nn.Module], input_shape: Sequence[int]) -> torch.Tensor:
    """A zero input with the dtype and device of the modules' parameters."""
    params = [p for m in modules for p in m.parameters()]
    dtype = params[0].dtype if params and params[0].is_floating_point() else torch.float32
    device = params[0].device if params else torch.device("cpu")
    if not input_shape or min(input_shape) < 1:
        raise ValueError(f"input_shape must be a tuple of positive sizes, got {input_shape}")
    return torch.zeros(tuple(input_shape), dtype=dtype, device=device)


def _fit_boxes(labels: list[str], size: float, box_w: float) -> list[list[str]] | None:
    wrapped = [_wrap(label, box_w - 0.16, size) for label in labels]
    return None if any(w is None for w in wrapped) else wrapped


def draw_network(net: nn.Module, input_shape: Sequence[int], title: str | None = None, *,
                 merge: tuple[type, ...] = ACTIVATIONS) -> Figure:
    """A network's stack of layers, one box per child of net, with each box's output shape.

    The shapes come from a forward pass of zeros of input_shape through the children (ch. 23-29);
    an activation (any `merge` type) joins the box before it as '+ relu'. A nested block is one
    box. Boxes run top to bottom in as many columns as a slide needs; `fig.d2l_shapes` holds the
    shapes and `fig.d2l_labels` the labels, one per box.
    """
    if not isinstance(net, nn.Sequential) or not len(net):
        raise ValueError(f"draw_network draws a non-empty nn.Sequential (its children run in "
                         f"order), got {type(net).__name__}")
    groups = _groups(list(net.children()), merge)
    x = _zeros([net], input_shape)
    # Running the children in order is the Sequential's forward; it also sets up lazy layers.
    shapes = _run([net], [groups], x)[0][0]
    labels = ["input", *(_group_label(g) for g in groups)]
    shape_texts = [_dims(x.shape), *(_dims(s) for s in shapes)]
    fills = [FILLS["input"], *(FILLS[_kind(g[0])] for g in groups)]
    n = len(labels)
    pad_y = 0.05
    title_h = _line_height(TITLE) + 0.08 if title else 0.0
    # Roomy first; a long stack gets the smaller font, then tighter gaps, before giving up.
    for size, gutter, vgap in ((SMALL, 0.46, 0.17), (MIN_FONT, 0.46, 0.17),
                               (MIN_FONT, 0.3, 0.12)):
        widest = max(_text_width(s, size) for s in labels + shape_texts) + 0.2
        for ncol in range(1, 8):
            per = math.ceil(n / ncol)
            box_w = min(max(widest, 1.4), (MAX_W - 2 * MARGIN - (ncol - 1) * gutter) / ncol)
            wrapped = _fit_boxes(labels, size, box_w)
            if wrapped is None or max(_text_width(s, size) for s in shape_texts) > box_w - 0.1:
                continue
            lines = max(len(w) for w in wrapped) + 1
            box_h = lines * _line_height(size) + 2 * pad_y
            top = MARGIN + title_h + (0.1 if ncol > 1 else 0.0)  # room to route between columns
            height = top + per * box_h + (per - 1) * vgap + MARGIN + (0.1 if ncol > 1 else 0.0)
            if height <= MAX_H:
                break
        else:
            continue
        break
    else:
        raise ValueError(f"{n - 1} boxes are too many to draw legibly on a slide; draw a part "
                         "of the network (a slice of the Sequential) instead")
    width = 2 * MARGIN + ncol * box_w + (ncol - 1) * gutter
    fig, ax = _canvas(width, height)
    if title:
        _text(ax, width / 2, MARGIN + _line_height(TITLE) / 2, title, TITLE)
    spots = []
    for k in range(n):
        col, row = divmod(k, per)
        x0 = MARGIN + col * (box_w + gutter)
        y0 = top + row * (box_h + vgap)
        spots.append((x0, y0))
        _box(ax, x0, y0, box_w, box_h, fills[k], dashed=k == 0)
        _lines_in_box(ax, x0 + box_w / 2, y0, box_h, [*wrapped[k], shape_texts[k]], size,
                      last_grey=True)
    low = top + per * box_h + (per - 1) * vgap + 0.1
    for k in range(n - 1):
        (x0, y0), (x1, y1) = spots[k], spots[k + 1]
        cx0, cx1 = x0 + box_w / 2, x1 + box_w / 2
        if x0 == x1:
            _arrow(ax, (cx0, y0 + box_h), (cx1, y1))
        else:  # to the next column: down, across the gutter, up and over, into its first box
            gx = x0 + box_w + gutter / 2
            _path_arrow(ax, [(cx0, y0 + box_h), (cx0, low), (gx, low), (gx, top - 0.1),
                             (cx1, top - 0.1), (cx1, y1)])
    fig.d2l_shapes = shapes
    fig.d2l_labels = labels[1:]
    return fig


def draw_branches(branches: dict[str, Sequence[nn.Module]], merge: str,
                  input_shape: Sequence[int], title: str | None = None, *,
                  after: Sequence[nn.Module] = ()) -> Figure:
    """Parallel paths from one input, merged by channel concatenation or addition (ch. 27, 29).

    `branches` maps a name to the modules applied in turn (an empty list is the identity
    shortcut); merge is "concat" (an Inception block) or "add" (a residual block), and `after`
    the modules applied to the merged result (the residual block's final ReLU). Every shape is
    from a forward pass of zeros; incompatible branch outputs raise ValueError.
    `fig.d2l_shapes` maps each branch to its output shape; `fig.d2l_output_shape` is the block's.
    """
    if merge not in ("concat", "add"):
        raise ValueError(f"merge must be 'concat' or 'add', got {merge!r}")
    if not branches:
        raise ValueError("branches is empty: give at least one path")
    names = list(branches)
    modules = [list(branches[name]) for name in names]
    owners = [nn.ModuleList(ms) for ms in modules] + [nn.ModuleList(after)]
    x = _zeros(owners, input_shape)
    chains = [_groups(ms, ACTIVATIONS) for ms in modules]
    per_box, ys = _run(owners, chains, x)
    outs = [tuple(y.shape) for y in ys]
    listed = ", ".join(f"{n} {_dims(s)}" for n, s in zip(names, outs))
    if merge == "concat":
        if len({(len(s), s[:1] + s[2:]) for s in outs}) != 1 or len(outs[0]) < 2:
            raise ValueError("cannot concatenate along channels (dim 1): the branches' outputs "
                             f"differ in another dimension: {listed}")
        merged = torch.cat(ys, dim=1)
    else:
        if len(set(outs)) != 1:  # no broadcasting: a residual's two paths must match exactly
            raise ValueError(f"cannot add the branches: their outputs differ in shape: {listed}")
        merged = torch.stack(ys).sum(0)
    tail = list(after)
    lead = []  # activations right after the merge join its node, as in '+ then relu'
    while tail and isinstance(tail[0], ACTIVATIONS):
        lead.append(tail.pop(0))
    after_groups = _groups(tail, ACTIVATIONS)
    chain = ([lead] if lead else []) + after_groups
    shapes, final = _run(owners[-1:], [chain], merged)
    tail_shapes = shapes[0][1:] if lead else shapes[0]

    sign = "concat along channels" if merge == "concat" else "+"
    merge_label = sign + "".join(f" then {type(m).__name__.lower()}" for m in lead)
    merge_shape = tuple(merged.shape)
    labels = [[_group_label(g) for g in c] or ["identity"] for c in chains]
    shape_texts = [[_dims(s) for s in boxes] or [_dims(x.shape)] for boxes in per_box]
    nb, rows = len(names), max(len(b) for b in labels)
    lane_gap, lane_pad, vgap, pad_y, link = 0.14, 0.07, 0.15, 0.05, 0.24
    title_h = _line_height(TITLE) + 0.06 if title else 0.0
    bar_texts = [f"input {_dims(x.shape)}", f"{merge_label} → {_dims(merge_shape)}"]
    for size in (SMALL, MIN_FONT):
        head = _line_height(size) + 0.06
        widest = max(max(_text_width(s, size) for s in sum(labels + shape_texts, [])),
                     max(_text_width(n, size) * 1.1 for n in names)) + 0.2  # names are bold
        box_w = min(max(widest, 1.2),
                    (MAX_W - 2 * MARGIN - (nb - 1) * lane_gap) / nb - 2 * lane_pad)
        wrapped = [_fit_boxes(b, size, box_w) for b in labels]
        if any(w is None for w in wrapped):
            continue
        box_h = max(len(w) for ws in wrapped for w in ws) * _line_height(size) + _line_height(
            size) + 2 * pad_y
        bar_h = _line_height(size) + 2 * pad_y + 0.04
        lane_h = head + rows * box_h + (rows - 1) * vgap + lane_pad
        height = (2 * MARGIN + title_h + 2 * bar_h + 2 * link + lane_h
                  + len(after_groups) * (box_h + link))
        content_w = nb * (box_w + 2 * lane_pad) + (nb - 1) * lane_gap
        bar_w = max(content_w, max(_text_width(s, size) for s in bar_texts) + 0.3)
        fits = all(_text_width(n, size) * 1.1 <= box_w for n in names)
        if fits and height <= MAX_H and bar_w <= MAX_W - 2 * MARGIN:
            break
    else:
        raise ValueError(f"{nb} branches of up to {rows} layers are too many to draw legibly "
                         "on a slide")
    width = 2 * MARGIN + bar_w
    fig, ax = _canvas(width, height)
    if title:
        _text(ax, width / 2, MARGIN + _line_height(TITLE) / 2, title, TITLE)
    y = MARGIN + title_h
    x_bar = (width - bar_w) / 2
    _box(ax, x_bar, y, bar_w, bar_h, FILLS["input"], dashed=True)
    _lines_in_box(ax, width / 2, y, bar_h, [bar_texts[0]], size)
    lanes_y = y + bar_h + link
    x_lanes = (width - content_w) / 2
    for b, name in enumerate(names):
        lx = x_lanes + b * (box_w + 2 * lane_pad + lane_gap)
        cx = lx + lane_pad + box_w / 2
        _arrow(ax, (cx, y + bar_h), (cx, lanes_y))
        _box(ax, lx, lanes_y, box_w + 2 * lane_pad, lane_h, "#f7f7f7", edge="#bbbbbb")
        _text(ax, cx, lanes_y + head / 2 + 0.02, name, size, fontweight="bold")
        by = lanes_y + head
        for r, lines in enumerate(wrapped[b]):
            fill = FILLS[_kind(chains[b][r][0])] if chains[b] else "white"
            _box(ax, lx + lane_pad, by, box_w, box_h, fill, dashed=not chains[b])
            _lines_in_box(ax, cx, by, box_h, [*lines, shape_texts[b][r]], size, last_grey=True)
            if r + 1 < len(wrapped[b]):
                _arrow(ax, (cx, by + box_h), (cx, by + box_h + vgap))
            by += box_h + vgap
        _arrow(ax, (cx, by - vgap), (cx, lanes_y + lane_h + link), color=LINE)
    y = lanes_y + lane_h + link
    _box(ax, x_bar, y, bar_w, bar_h, "#fff4d6")
    _lines_in_box(ax, width / 2, y, bar_h, [bar_texts[1]], size)
    y += bar_h
    for group, shape in zip(after_groups, tail_shapes):
        _arrow(ax, (width / 2, y), (width / 2, y + link))
        y += link
        bx = (width - box_w) / 2
        _box(ax, bx, y, box_w, box_h, FILLS[_kind(group[0])])
        _lines_in_box(ax, width / 2, y, box_h, [_group_label(group), _dims(shape)], size,
                      last_grey=True)
        y += box_h
    fig.d2l_shapes = dict(zip(names, outs))
    fig.d2l_output_shape = tuple(final[0].shape)
    return fig


# ---------------------------------------------------------------- parallelism


def _short(m: nn.Module, width: float, size: float) -> str:
    """A layer's name, with its channels or features when they fit the width."""
    name = type(m).__name__
    if isinstance(m, nn.modules.conv._ConvNd) and not nn.parameter.is_lazy(m.weight):
        long = f"{name} {m.in_channels}→{m.out_channels}"
    elif isinstance(m, nn.Linear) and not nn.parameter.is_lazy(m.weight):
        long = f"{name} {m.in_features}→{m.out_features}"
    else:
        long = name
    for text in (long, name):
        if _text_width(text, size) <= width:
            return text
    while len(name) > 2 and _text_width(name + "…", size) > width:
        name = name[:-1]
    return name + "…"


def _abbreviate(lines: list[str], most: int, width: float, size: float) -> list[str]:
    """At most `most` lines: the first and last layers around a '⋮' (with the count if it fits)."""
    if len(lines) <= most:
        return lines
    head = (most - 1) // 2 + (most - 1) % 2
    dots = f"⋮ ({len(lines)} in all)"
    dots = dots if _text_width(dots, size) <= width else "⋮"
    return [*lines[:head], dots, *lines[len(lines) - (most - 1 - head):]]


def draw_parallelism(net: nn.Module, batch_size: int, num_devices: int) -> Figure:
    """Data parallelism beside model parallelism, for a real net, batch and device count (ch. 33).

    Left: the batch split into shards (`torch.arange(batch_size).chunk(num_devices)`), every
    device holding a full replica, gradients all-reduced. Right: the layers split into
    consecutive stages, one per device, activations passed forward. `fig.d2l_shards` holds the
    shard sizes and `fig.d2l_stages` each stage's layer indices.
    """
    layers = list(net.children()) or [net]
    if not 1 <= num_devices <= 6:
        raise ValueError(f"draws 1 to 6 devices legibly on a slide, got {num_devices}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if len(layers) < num_devices:
        raise ValueError(f"model parallelism needs a layer per device: net has {len(layers)} "
                         f"layers, {num_devices} devices")
    shards = list(torch.arange(batch_size).chunk(num_devices))
    shards += [torch.arange(0)] * (num_devices - len(shards))  # chunk can give fewer pieces
    stages = [idx.tolist() for idx in torch.arange(len(layers)).tensor_split(num_devices)]
    size, most = (8.5, 6) if num_devices <= 4 else (MIN_FONT, 6)
    gap, mid = (0.16 if num_devices <= 4 else 0.1), 0.3  # between devices; between the panels
    panel_w = (MAX_W - 2 * MARGIN - mid) / 2
    box_w = (panel_w - (num_devices - 1) * gap) / num_devices
    inner = box_w - 0.08
    replica = _abbreviate([_short(m, inner, size) for m in layers], most, inner, size)
    staged = [_abbreviate([_short(layers[i], inner, size) for i in s], most, inner, size)
              for s in stages]
    lh = _line_height(size)
    box_h = (1 + max(len(replica), *(len(s) for s in staged))) * lh + 0.12
    title_h, bar_h, link, below = _line_height(TITLE) + 0.06, 0.3, 0.26, 0.62
    cap_h = _line_height(SMALL) + 0.02
    height = 2 * MARGIN + title_h + cap_h + bar_h + link + box_h + below
    fig, ax = _canvas(MAX_W, height)
    top = MARGIN + title_h
    ax.plot([MARGIN + panel_w + mid / 2] * 2, [MARGIN, height - MARGIN], color="#cccccc", lw=1)
    boxes_y = top + cap_h + bar_h + link
    for p, (name, contents) in enumerate((("data parallelism", [replica] * num_devices),
                                          ("model parallelism", staged))):
        x0 = MARGIN + p * (panel_w + mid)
        _text(ax, x0 + panel_w / 2, MARGIN + _line_height(TITLE) / 2, name, TITLE,
              fontweight="bold")
        for d, lines in enumerate(contents):
            bx = x0 + d * (box_w + gap)
            _box(ax, bx, boxes_y, box_w, box_h, "#eef3fa")
            _text(ax, bx + box_w / 2, boxes_y + 0.06 + lh / 2, f"device {d}", size,
                  fontweight="bold")
            for k, line in enumerate(lines):
                _text(ax, bx + box_w / 2, boxes_y + 0.06 + (k + 1.5) * lh, line, size)
    # Left: the batch as a bar of shards, each going down to its device.
    x0 = MARGIN
    _text(ax, x0 + panel_w / 2, top + cap_h / 2, f"batch of {batch_size} examples, split",
          SMALL)
    for d, shard in enumerate(shards):
        bx = x0 + d * (box_w + gap)
        label = f"{shard[0]}–{shard[-1]}" if len(shard) > 1 else (
            str(int(shard[0])) if len(shard) else "idle")
        if _text_width(f"examples {label}", size) < box_w - 0.06:
            label = f"examples {label}"
        _box(ax, bx, top + cap_h, box_w, bar_h, "#fde3cc", rounded=False)
        _text(ax, bx + box_w / 2, top + cap_h + bar_h / 2, label, size)
        _arrow(ax, (bx + box_w / 2, top + cap_h + bar_h), (bx + box_w / 2, boxes_y))
    ybar = boxes_y + box_h + 0.22
    if num_devices > 1:
        for d in range(num_devices):
            cx = x0 + d * (box_w + gap) + box_w / 2
            _arrow(ax, (cx, boxes_y + box_h), (cx, ybar), style="<|-|>")
        ax.plot([x0 + box_w / 2, x0 + (num_devices - 1) * (box_w + gap) + box_w / 2],
                [ybar, ybar], color=BACKWARD, lw=2)
    _text(ax, x0 + panel_w / 2, ybar + 0.08 + _line_height(SMALL) / 2,
          "all-reduce gradients: every replica gets their sum" if num_devices > 1 else
          "one device: nothing to all-reduce", SMALL, color=BACKWARD)
    # Right: the whole batch enters the first stage; activations go forward stage by stage.
    x0 = MARGIN + panel_w + mid
    batch = f"{batch_size} examples"
    batch_w = max(box_w, _text_width(batch, size) + 0.16)
    _text(ax, x0 + batch_w / 2, top + cap_h / 2, "whole batch", SMALL)
    _box(ax, x0, top + cap_h, batch_w, bar_h, "#fde3cc", rounded=False)
    _text(ax, x0 + batch_w / 2, top + cap_h + bar_h / 2, batch, size)
    _arrow(ax, (x0 + box_w / 2, top + cap_h + bar_h), (x0 + box_w / 2, boxes_y))
    for d in range(num_devices - 1):
        a = x0 + d * (box_w + gap) + box_w / 2
        b = a + box_w + gap
        ax.add_patch(FancyArrowPatch((a, boxes_y + box_h), (b, boxes_y + box_h),
                                     connectionstyle="arc3,rad=0.35", arrowstyle="-|>",
                                     color=FORWARD, lw=1.0, mutation_scale=9, shrinkA=0,
                                     shrinkB=0))
        _text(ax, (a + b) / 2, boxes_y + box_h + 0.35 * (b - a) / 2 + 0.04 + lh / 2,
              "activations", size)
    fig.d2l_shards = [len(s) for s in shards]
    fig.d2l_stages = stages
    return fig


def _ring_allreduce(chunks: torch.Tensor) -> tuple[list[torch.Tensor], list[dict[int, int]]]:
    """Sum k workers' k chunks around a ring; every state, and which chunk each worker received.

    Reduce-scatter step s: worker w sends chunk (w - s) mod k to worker w + 1, which adds it;
    after k - 1 steps worker w holds the whole sum of chunk w + 1. All-gather step s: worker w
    sends chunk (w + 1 - s) mod k on, and the next worker copies it.
    """
    data, k = chunks.clone(), chunks.shape[0]
    states, received = [data.clone()], [{}]
    for step in range(2 * (k - 1)):
        gather = step >= k - 1
        s = step - (k - 1) if gather else step
        index = [((w + 1 - s) if gather else (w - s)) % k for w in range(k)]
        sent = [data[w, index[w]].clone() for w in range(k)]  # all workers send at once
        for w in range(k):
            if gather:
                data[(w + 1) % k, index[w]] = sent[w]
            else:
                data[(w + 1) % k, index[w]] += sent[w]
        states.append(data.clone())
        received.append({(w + 1) % k: index[w] for w in range(k)})
    return states, received


def draw_ring_allreduce(chunks: Sequence[torch.Tensor]) -> Figure:
    """Ring all-reduce run for real, step by step: each worker's k chunks after every step (ch. 35).

    chunks[w] is worker w's tensor of k numbers (one per chunk). Rows are the steps (k - 1 of
    reduce-scatter, k - 1 of all-gather), columns the workers; a shaded number was just received
    (orange: added, green: copied). `fig.d2l_result` holds every worker's final tensor, checked
    here to be the elementwise sum of all inputs.
    """
    k = len(chunks)
    if k < 2:
        raise ValueError(f"a ring needs at least 2 workers, got {k}")
    if any(not isinstance(c, torch.Tensor) or c.shape != (k,) for c in chunks):
        raise ValueError(f"with {k} workers, each worker's tensor must have shape ({k},): "
                         "one number per chunk")
    data = torch.stack([c.detach().cpu() for c in chunks])
    states, received = _ring_allreduce(data)
    total = data.sum(0)
    result = [states[-1][w].clone() for w in range(k)]
    assert all(torch.allclose(r.double(), total.double()) for r in result)
    labels = (["initial"] + [f"reduce-scatter {s}" for s in range(1, k)]
              + [f"all-gather {s}" for s in range(1, k)])
    texts = [_num(v) for v in torch.stack(states).flatten().tolist()]
    label_w = max(_text_width(s, SMALL) for s in labels) + 0.15
    worker_gap, row_gap = 0.22, 0.07
    title = f"ring all-reduce over {k} workers: {k - 1} reduce-scatter + {k - 1} all-gather steps"
    legend = "shaded: the chunk just received, added (orange) or copied (green)"
    head = _line_height(TITLE) + 0.06 + _line_height(SMALL) + 0.04
    foot = _line_height(SMALL) + 0.1
    rows = len(states)
    free_w = MAX_W - 2 * MARGIN - label_w - (k - 1) * worker_gap
    free_h = MAX_H - 2 * MARGIN - head - foot - (rows - 1) * row_gap
    cell, size = _cell_size(texts, k * k, rows, free_w, free_h, largest=0.4)
    block = k * cell
    grid_w = label_w + k * block + (k - 1) * worker_gap
    width = min(MAX_W, max(grid_w, _text_width(title, TITLE) + 0.1) + 2 * MARGIN)
    height = 2 * MARGIN + head + rows * cell + (rows - 1) * row_gap + foot
    fig, ax = _canvas(width, height)
    _text(ax, width / 2, MARGIN + _line_height(TITLE) / 2, title, TITLE)
    x0, top = (width - grid_w) / 2 + label_w, MARGIN + head
    for w in range(k):
        _text(ax, x0 + w * (block + worker_gap) + block / 2, top - 0.04 - _line_height(SMALL) / 2,
              f"worker {w}", SMALL)
    for r, (state, got) in enumerate(zip(states, received)):
        y = top + r * (cell + row_gap)
        _text(ax, x0 - 0.1, y + cell / 2, labels[r], SMALL, ha="right")
        fill = COPY_FILL if r >= k else ADD_FILL
        for w in range(k):
            fills = {(0, got[w]): fill} if w in got else None
            _grid(ax, [[_num(v) for v in state[w].tolist()]], x0 + w * (block + worker_gap), y,
                  cell, size, fills)
        if r in (0, k - 1):  # a rule under the initial state and between the two phases
            ax.plot([x0 - label_w, x0 + k * block + (k - 1) * worker_gap],
                    [y + cell + row_gap / 2] * 2, color="#bbbbbb", lw=0.8)
    _text(ax, width / 2, height - MARGIN - foot / 2 + 0.03, legend, SMALL)
    fig.d2l_result = result
    fig.d2l_states = states
    return fig


# ---------------------------------------------------------------- the autograd graph


def _clip(centre: tuple[float, float], towards: tuple[float, float], w: float,
          h: float) -> tuple[float, float]:
    """Where the segment from a box's centre towards a point leaves the box."""
    dx, dy = towards[0] - centre[0], towards[1] - centre[1]
    t = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    return centre[0] + t * dx, centre[1] + t * dy


def _shifted(points: list[tuple[float, float]], by: float) -> list[tuple[float, float]]:
    """A polyline moved sideways (to its left, seen along it) by `by` inches."""
    out = []
    for k, (x, y) in enumerate(points):
        (ax_, ay), (bx, by_) = points[max(k - 1, 0)], points[min(k + 1, len(points) - 1)]
        length = math.hypot(bx - ax_, by_ - ay) or 1.0
        out.append((x + (by_ - ay) / length * by, y - (bx - ax_) / length * by))
    return out


def _backward_graph(output: torch.Tensor) -> tuple[dict[int, Any], dict[int, list[int]],
                                                   list[int]]:
    """The nodes under output.grad_fn (by id), each node's inputs, and the order found in."""
    root = output.grad_fn
    fns, inputs, order, stack = {id(root): root}, {}, [], [root]
    while stack:
        fn = stack.pop()
        order.append(id(fn))
        inputs[id(fn)] = []
        children = [child for child, _ in fn.next_functions if child is not None]
        for child in children:
            if id(child) not in inputs[id(fn)]:
                inputs[id(fn)].append(id(child))
        for child in reversed(children):  # popped first to last: the first input comes first
            if id(child) not in fns:
                fns[id(child)] = child
                stack.append(child)
    return fns, inputs, order


def _longest_path_layers(inputs: dict[int, list[int]], root: int) -> dict[int, int]:
    """Each node's layer: 0 for a leaf, else one more than its furthest input."""
    layer: dict[int, int] = {}
    pending = [root]
    while pending:
        n = pending[-1]
        todo = [i for i in inputs[n] if i not in layer]
        if todo:
            pending.extend(todo)
        else:
            layer[n] = 1 + max((layer[i] for i in inputs[n]), default=-1)
            pending.pop()
    return layer


def _order(by_layer: list[list[Any]], inputs: dict[Any, list[Any]]) -> None:
    """Reorder each layer in place to cross fewer edges: barycentre sweeps, both ways, 4 times."""
    users: dict[Any, list[Any]] = {}
    for n, ins in inputs.items():
        for i in ins:
            users.setdefault(i, []).append(n)

    def sweep(layers: list[list[Any]], neighbours: dict[Any, list[Any]]) -> None:
        for before, nodes in zip(layers, layers[1:]):
            rank = {n: r for r, n in enumerate(before)}
            mean = {}
            for r, n in enumerate(nodes):
                near = [rank[m] for m in neighbours.get(n, []) if m in rank]
                mean[n] = sum(near) / len(near) if near else r
            nodes.sort(key=lambda n: mean[n])

    for _ in range(4):
        sweep(by_layer, inputs)
        sweep(by_layer[::-1], users)


def _place(by_layer: list[list[Any]], inputs: dict[Any, list[Any]], pitch: float
           ) -> dict[Any, float]:
    """Heights: each node level with the mean of its inputs, neighbours pushed apart by pitch."""
    y: dict[Any, float] = {}
    for k, nodes in enumerate(by_layer):
        wanted = {n: (sum(y[i] for i in inputs[n]) / len(inputs[n]) if k else r * pitch)
                  for r, n in enumerate(nodes)}
        placed = nodes  # in the order _order chose; heights only spread them apart
        got = {placed[0]: wanted[placed[0]]}
        for a, b in zip(placed, placed[1:]):
            got[b] = max(wanted[b], got[a] + pitch)
        drift = sum(got[n] - wanted[n] for n in nodes) / len(nodes)
        y.update({n: got[n] - drift for n in nodes})  # keep the layer centred where it wanted
    return y


def draw_autograd_graph(output: torch.Tensor, names: dict[torch.Tensor, str] | None = None
                        ) -> Figure:
    """The autograd graph behind output, read from grad_fn and next_functions (chapter 7).

    Nodes are the backward functions; leaves are the tensors their AccumulateGrad nodes hold,
    named by `names` (tensor -> name, matched with `is`; a named intermediate result labels its
    grad_fn). Forward runs left to right, leaves first, in layers by longest path; the backward
    pass is drawn in red the other way. `fig.d2l_nodes` lists the backward functions' names and
    `fig.d2l_leaves` the leaves' labels.
    """
    names = names or {}
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        raise ValueError("output has no grad_fn: compute it from tensors with "
                         "requires_grad=True, outside torch.no_grad()")

    def name_of(t: torch.Tensor) -> str | None:
        return next((n for key, n in names.items() if key is t), None)

    fns, inputs, order = _backward_graph(output)
    layer = _longest_path_layers(inputs, id(output.grad_fn))
    out_id = -1  # the output tensor itself, right of its grad_fn
    layer[out_id], inputs[out_id] = layer[id(output.grad_fn)] + 1, [id(output.grad_fn)]
    labels: dict[int, list[str]] = {}
    leaves: list[str] = []
    for n in order:
        fn = fns[n]
        var = getattr(fn, "variable", None)
        if var is not None:  # AccumulateGrad: the leaf whose .grad it fills
            labels[n] = [name_of(var) or "leaf",
                         "scalar" if var.ndim == 0 else f"shape {_dims(var.shape)}"]
            leaves.append(labels[n][0])
        else:
            named = next((nm for key, nm in names.items()
                          if key is not output and key.grad_fn is fn), None)
            labels[n] = [type(fn).__name__] + ([f"({named})"] if named else [])
    value = f"= {_num(output.item())}" if output.numel() == 1 else f"shape {_dims(output.shape)}"
    labels[out_id] = [name_of(output) or "output", value]
    # An edge across several layers passes through a point in each (a "dummy"), so that it is
    # placed like a node and never runs through a box.
    links: dict[Any, list[Any]] = {n: [] for n in inputs}
    paths: list[list[Any]] = []
    for n, ins in inputs.items():
        for i in ins:
            path = [i, *((i, n, k) for k in range(layer[i] + 1, layer[n])), n]
            for a, b in zip(path, path[1:]):
                links.setdefault(b, []).append(a)
                if isinstance(b, tuple):
                    layer[b] = b[2]
            paths.append(path)
    n_layers = layer[out_id] + 1
    by_layer: list[list[Any]] = [[] for _ in range(n_layers)]
    for n in [*order, out_id, *(p for path in paths for p in path[1:-1])]:
        by_layer[layer[n]].append(n)

    for size, pad in ((SMALL, 0.08), (MIN_FONT, 0.05)):  # a deep graph gets the small font
        widths = [max([_text_width(s, size) + 2 * pad for n in nodes if n in labels
                       for s in labels[n]], default=0.3) for nodes in by_layer]
        hgap = min(0.42, (MAX_W - 2 * MARGIN - sum(widths)) / max(n_layers - 1, 1))
        if hgap >= 0.22:  # room for two arrows with their heads between layers
            break
    else:
        raise ValueError(f"the graph is {n_layers} layers deep: too deep to draw legibly on a "
                         "slide; draw a smaller expression")
    box_h = 2 * _line_height(size) + 0.08
    _order(by_layer, links)
    y = _place(by_layer, links, box_h + 0.2)
    low, high = min(y.values()), max(y.values())
    legend_h = _line_height(SMALL) + 0.12
    height = 2 * MARGIN + (high - low) + box_h + legend_h
    if height > MAX_H:
        raise ValueError(f"the graph has {max(map(len, by_layer))} nodes side by side: too many "
                         "to draw legibly on a slide")
    legend = ["forward: inputs → result", "backward: gradients, via next_functions"]
    graph_w = sum(widths) + hgap * (n_layers - 1)
    width = 2 * MARGIN + max(graph_w, sum(_text_width(t, SMALL) for t in legend) + 1.5)
    fig, ax = _canvas(width, height)
    xs = [(width - graph_w) / 2 + sum(widths[:k]) + hgap * k + widths[k] / 2
          for k in range(n_layers)]
    centre = {n: (xs[layer[n]], MARGIN + box_h / 2 + y[n] - low) for n in y}
    for n in labels:
        (cx, cy), w = centre[n], widths[layer[n]]
        kind = "leaf" if layer[n] == 0 else "out" if n == out_id else "op"
        fill = {"leaf": "#d8eed2", "out": "#fde3cc", "op": "#d6e6f5"}[kind]
        _box(ax, cx - w / 2, cy - box_h / 2, w, box_h, fill)
        _lines_in_box(ax, cx, cy - box_h / 2, box_h, labels[n], size, last_grey=kind != "op")
    for path in paths:
        points = [centre[p] for p in path]
        points[0] = _clip(points[0], points[1], widths[layer[path[0]]], box_h)
        points[-1] = _clip(points[-1], points[-2], widths[layer[path[-1]]], box_h)
        # Forward and backward run side by side, each 0.05 inch off the edge's centre line.
        _path_arrow(ax, _shifted(points, 0.05), FORWARD)
        _path_arrow(ax, _shifted(points[::-1], 0.05), BACKWARD)
    handles = [Line2D([], [], color=FORWARD, lw=1.2), Line2D([], [], color=BACKWARD, lw=1.2)]
    ax.legend(handles, legend, loc="lower center", ncol=2, frameon=False, fontsize=SMALL,
              bbox_to_anchor=(0.5, 0.0))
    fig.d2l_nodes = [labels[n][0] for n in order if getattr(fns[n], "variable", None) is None]
    fig.d2l_leaves = leaves
    return fig
