"""Training speed of chapters 24-29's own networks per input size and width, for `quick`.

The `quick` profiles were chosen from these numbers: on a 2-core CPU a notebook has a few minutes,
so a network must see all 60,000 images several times at a size and width it can train fast.
The models are the chapters' networks as `d2lutils.models` keeps them (each lecture checks that
its own network is that one), trained for a few Adam steps on random images in channels-last
layout, as `train_ch6` trains them.

    .venv/bin/python -m benchmarks.levers            # every chapter, about 3 minutes on 2 cores
    .venv/bin/python -m benchmarks.levers 29-resnet  # one chapter
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

import d2lutils as d2l
from d2lutils.devices import describe_machine

# VGG as the book trains it: VGG-11's blocks with a quarter of the channels.
SMALL_VGG_ARCH = tuple((convs, channels // 4) for convs, channels in d2l.VGG11_ARCH)


def small_vgg(**kwargs) -> nn.Module:
    return d2l.vgg(SMALL_VGG_ARCH, **kwargs)


# chapter -> (the network's builder, [(label, builder kwargs, input size)]): the book's setting
# first, then the candidates for quick; the last row is what quick trains.
LEVERS: dict[str, tuple[Callable[..., nn.Module], list[tuple[str, dict, int]]]] = {
    "24-alexnet": (d2l.alexnet, [("book width", {}, 68), ("width 1/4", {"width": 0.25}, 96),
                                 ("width 1/4", {"width": 0.25}, 68)]),
    "25-vgg": (small_vgg, [("book 1/4 channels, dense 4096", {}, 32),
                           ("dense 1024", {"dense": 1024}, 32)]),
    "26-nin": (d2l.nin, [("book width", {}, 68), ("width 1/2", {"width": 0.5}, 68),
                         ("width 1/4", {"width": 0.25}, 68), ("width 3/8", {"width": 0.375}, 68)]),
    "27-googlenet": (d2l.googlenet, [("book width", {}, 32), ("width 1/4", {"width": 0.25}, 32),
                                     ("width 1/2", {"width": 0.5}, 32)]),
    "28-batch-norm": (d2l.lenet_bn, [("book", {}, 28)]),
    "29-resnet": (d2l.resnet18, [("book width 64", {}, 28), ("width 16", {"width": 16}, 28),
                                 ("width 16, stem stride 1", {"width": 16, "stem_stride": 1},
                                  28)]),
}


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
        for label, kwargs, size in rows:
            torch.manual_seed(0)
            speed = images_per_second(build(**kwargs), size, args.batch, args.steps)
            print(f"| {chapter} | {label} | {size} px | {speed:,.0f} | {60_000 / speed:,.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
