"""Training speed of chapters 24-29's own networks per input size and width, for `quick`.

The `quick` profiles were chosen from these numbers: on a 2-core CPU a notebook has a few minutes,
so a network must see all 60,000 images several times at a size and width it can train fast.
The models are the notebooks' own code (their defining cells are executed here), trained for a
few Adam steps on random images in channels-last layout, as `train_ch6` trains them.

    .venv/bin/python -m benchmarks.levers            # every chapter, about 3 minutes on 2 cores
    .venv/bin/python -m benchmarks.levers 29-resnet  # one chapter
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import time

import torch
from torch import nn
from torch.nn import functional as F

import d2lutils as d2l
from d2lutils.devices import describe_machine
from tools import layout, nbrun


def built(name: str, *args: str):
    """A builder of the notebook's `name(*args, **kwargs)`; args name what the notebook defines."""
    def build(namespace: dict, **kwargs) -> nn.Module:
        return namespace[name](*(namespace[arg] for arg in args), **kwargs)
    build.names = (name, *args)
    return build


# chapter -> (the network's builder, [(label, builder kwargs, input size)]): the book's setting
# first, then the candidates for quick; the last row is what quick trains.
LEVERS = {
    "24-alexnet": (built("alexnet"), [("book width", {}, 68), ("width 1/4", {"width": 0.25}, 96),
                               ("width 1/4", {"width": 0.25}, 68)]),
    "25-vgg": (built("vgg", "small_conv_arch"), [("book 1/4 channels, dense 4096", {}, 32),
                       ("dense 1024", {"dense": 1024}, 32)]),
    "26-nin": (built("nin"), [("book width", {}, 68), ("width 1/2", {"width": 0.5}, 68),
                       ("width 1/4", {"width": 0.25}, 68), ("width 3/8", {"width": 0.375}, 68)]),
    "27-googlenet": (built("googlenet"), [("book width", {}, 32),
                                          ("width 1/4", {"width": 0.25}, 32),
                                          ("width 1/2", {"width": 0.5}, 32)]),
    "28-batch-norm": (built("lenet_bn"), [("book", {}, 28)]),
    "29-resnet": (built("resnet18"), [("book width 64", {}, 28), ("width 16", {"width": 16}, 28),
                               ("width 16, stem stride 1", {"width": 16, "stem_stride": 1},
                                28)]),
}


def notebook_models(chapter: str) -> dict:
    """What a chapter's notebook defines in its cells with a def or class (and no `hp.`).

    A cell may go on to a demo that needs an earlier plain cell; what it defined before that
    stays defined, so its error is ignored, and its printing is silenced.
    """
    path = layout.LECTURES / f"{chapter}.ipynb"
    namespace = {"torch": torch, "nn": nn, "F": F, "d2l": d2l}
    for source in nbrun.code_cells(path):
        if re.search(r"^(def|class) \w+", source, re.M) and "hp." not in source:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
                exec(compile(source, f"{chapter}.ipynb", "exec"), namespace)
    return namespace


def images_per_second(net: nn.Module, size: int, batch: int, steps: int) -> float:
    """Training images per second over `steps` Adam steps, after two warm-up steps."""
    X = torch.rand(batch, 1, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    with torch.no_grad():
        net(X[:2])  # sizes the lazy layers
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        optimizer.zero_grad()
        F.cross_entropy(net(X), y).backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")  # a demo cell may plot
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help=f"some of {', '.join(LEVERS)} (default: all)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    unknown = set(args.chapters) - set(LEVERS)
    if unknown:
        parser.error(f"unknown chapters {sorted(unknown)}; use some of: {', '.join(LEVERS)}")
    print(f"{describe_machine()}, {torch.get_num_threads()} threads, batch {args.batch}")
    print("| chapter | network | input | images/s | s per 60,000-image epoch |")
    print("|---|---|---|---|---|")
    for chapter in args.chapters or list(LEVERS):
        build, rows = LEVERS[chapter]
        models = notebook_models(chapter)
        missing = [name for name in build.names if name not in models]
        if missing:
            raise SystemExit(f"{chapter}.ipynb no longer defines {missing}: update LEVERS")
        for label, kwargs, size in rows:
            torch.manual_seed(0)
            speed = images_per_second(build(models, **kwargs), size, args.batch, args.steps)
            print(f"| {chapter} | {label} | {size} px | {speed:,.0f} | {60_000 / speed:,.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
