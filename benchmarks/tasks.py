"""One benchmark task on one side, in its own process: `python tasks.py TASK SIDE ARG [SEED]`.

Sides: `book` uses the book's package d2l==1.0.3 (torchvision Dataset, PIL transforms, 4 DataLoader
workers, its train_ch6 and Animator); `ours` uses d2lutils. Prints one JSON line with the result.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent


def lenet() -> nn.Sequential:
    """The book's LeNet (sigmoid, average pooling), identical on both sides."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def loaders(side: str, batch_size: int, resize: int | None):
    if side == "book":
        from d2l import torch as d2l

        os.chdir(HERE)  # the book reads ../data, which is the course's cache from here
        return d2l.load_data_fashion_mnist(batch_size, resize=resize)
    import d2lutils

    return d2lutils.load_data_fashion_mnist(batch_size, resize=resize, device="cpu")


def task_data(side: str, size: int, seed: int) -> dict:
    """Images per second of one pass over the 60,000 training images at `size` px."""
    torch.manual_seed(seed)
    resize = None if size == 28 else size
    train_iter, _ = loaders(side, 256, resize)
    start = time.perf_counter()
    n = 0
    for X, y in train_iter:
        n += len(y)
        width = X.shape[-1]
    seconds = time.perf_counter() - start
    assert n == 60000 and width == size
    return {"images": n, "seconds": seconds, "images_per_sec": n / seconds}


def task_lenet(side: str, epochs: int, seed: int) -> dict:
    """The book's LeNet settings (batch 256, lr 0.9): one warm-up epoch, then `epochs` timed.

    `seed` fixes the initial weights and the shuffling of the timed run. The two sides shuffle
    through different code, so one seed is one draw per side, not the same run twice.
    """
    train_iter, test_iter = loaders(side, 256, None)
    device = torch.device("cpu")
    if side == "book":
        from d2l import torch as d2l

        train = d2l.train_ch6
    else:
        import d2lutils

        train = d2lutils.train_ch6
    torch.manual_seed(1000 + seed)
    train(lenet(), train_iter, test_iter, 1, 0.9, device)  # warm-up: workers, kernels, caches
    torch.manual_seed(seed)
    net = lenet()
    start = time.perf_counter()
    train(net, train_iter, test_iter, epochs, 0.9, device)
    wall = time.perf_counter() - start
    acc = evaluate(net, test_iter)
    return {"epochs": epochs, "wall_seconds": wall, "seconds_per_epoch": wall / epochs,
            "examples_per_sec": 60000 * epochs / wall, "test_acc": acc}


def task_cnn(side: str, batches: int, seed: int) -> dict:
    """ResNet-18 (the course's chapter 29 model) at 96 px: examples/sec over `batches` batches."""
    import torchvision

    torch.manual_seed(seed)
    train_iter, _ = loaders(side, 64, 96)
    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    loss = nn.CrossEntropyLoss()
    it = iter(train_iter)
    n = 0
    for i in range(batches + 2):
        if i == 2:  # two warm-up batches
            start = time.perf_counter()
        X, y = next(it)
        optimizer.zero_grad(set_to_none=True)
        loss(net(X), y).backward()
        optimizer.step()
        n += len(y) if i >= 2 else 0
    seconds = time.perf_counter() - start
    return {"examples": n, "seconds": seconds, "examples_per_sec": n / seconds}


@torch.no_grad()
def evaluate(net: nn.Module, test_iter) -> float:
    net.eval()
    correct = total = 0
    for X, y in test_iter:
        correct += int((net(X).argmax(1) == y).sum())
        total += len(y)
    return correct / total


def main() -> None:
    task, side, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    import contextlib
    import io

    sink = io.StringIO()  # both sides' progress output is produced (and timed) but not shown
    with contextlib.redirect_stdout(sink):
        result = {"data": task_data, "lenet": task_lenet, "cnn": task_cnn}[task](side, arg, seed)
    print(json.dumps({"task": task, "side": side, "arg": arg, "seed": seed, **result}))


if __name__ == "__main__":
    main()
