"""Training: the book's loops (train_ch3, train_ch6) with metrics kept on the device.

The loops read metrics from the device once per epoch, not once per batch, so a GPU never waits
for the host; printed summaries keep the book's format so results compare with its tables.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from .devices import device_name
from .plotting import Animator


class Accumulator:
    """Sums `n` running values (the book's helper)."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args: float) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


class Timer:
    """Records several running times (the book's helper)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        self.tik = time.perf_counter()

    def stop(self) -> float:
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def cumsum(self) -> list[float]:
        out, total = [], 0.0
        for t in self.times:
            total += t
            out.append(total)
        return out


# --------------------------------------------------------------------------- chapter 8 helpers

def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The linear regression model Xw + b."""
    return X @ w + b


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half squared error per example."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params: Iterable[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch SGD on a loss summed over the batch (hence the division by batch_size)."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad = None


# --------------------------------------------------------------------------- metrics

def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions, as a tensor on the device (no host synchronisation)."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return (y_hat.to(y.dtype) == y).sum()


def _model_device(net: nn.Module) -> torch.device | None:
    param = next(iter(net.parameters()), None)
    return param.device if param is not None else None


@torch.no_grad()
def evaluate_accuracy(net: Callable, data_iter: Iterable, device: torch.device | str | None = None,
                      ) -> float:
    """Accuracy of `net` over `data_iter`, in eval mode, read from the device once at the end."""
    was_training = isinstance(net, nn.Module) and net.training
    if isinstance(net, nn.Module):
        net.eval()
        device = device or _model_device(net)
    correct, count = None, 0
    for X, y in data_iter:
        if device is not None:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        hits = accuracy(net(X), y)
        correct = hits if correct is None else correct + hits
        count += y.numel()
    if was_training:
        net.train()
    return float(correct) / count if count else 0.0


evaluate_accuracy_gpu = evaluate_accuracy  # the book's chapter-6 name


@torch.no_grad()
def evaluate_loss(net: Callable, data_iter: Iterable, loss: Callable) -> float:
    """Mean of a per-example loss over `data_iter`."""
    total, count = None, 0
    for X, y in data_iter:
        out = loss(net(X), y.reshape(-1, 1) if y.ndim == 1 and loss is squared_loss else y)
        total = out.sum() if total is None else total + out.sum()
        count += out.numel()
    return float(total) / count


# --------------------------------------------------------------------------- chapter 9 loop

@dataclass
class TrainResult:
    """What a training run measured: final metrics, speed and the per-epoch history."""

    train_loss: float
    train_acc: float
    test_acc: float
    examples_per_sec: float = 0.0
    train_seconds: float = 0.0
    device: str = "cpu"
    history: list[tuple[float, float, float]] = field(default_factory=list)

    def summary(self) -> str:
        """The book's two summary lines."""
        return (f"loss {self.train_loss:.3f}, train acc {self.train_acc:.3f}, "
                f"test acc {self.test_acc:.3f}\n"
                f"{self.examples_per_sec:.1f} examples/sec on {self.device}")


def _step(net, X, y, loss, updater) -> tuple[torch.Tensor, torch.Tensor]:
    y_hat = net(X)
    per_example = loss(y_hat, y)
    if isinstance(updater, torch.optim.Optimizer):
        updater.zero_grad(set_to_none=True)
        per_example.mean().backward()
        updater.step()
    else:
        per_example.sum().backward()
        updater(X.shape[0])
    batch_loss = per_example.detach().sum() if per_example.ndim else per_example.detach() * len(y)
    return batch_loss, accuracy(y_hat.detach(), y)


def train_epoch_ch3(net: Callable, train_iter: Iterable, loss: Callable,
                    updater: torch.optim.Optimizer | Callable[[int], None],
                    ) -> tuple[float, float]:
    """One epoch; returns (mean training loss, training accuracy) (the book's helper)."""
    if isinstance(net, nn.Module):
        net.train()
    loss_sum = correct = None
    count = 0
    for X, y in train_iter:
        batch_loss, hits = _step(net, X, y, loss, updater)
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = hits if correct is None else correct + hits
        count += y.numel()
    return float(loss_sum) / count, float(correct) / count


def train_ch3(net: Callable, train_iter: Iterable, test_iter: Iterable, loss: Callable,
              num_epochs: int, updater, animate: bool = True) -> TrainResult:
    """Train a classifier for `num_epochs`, plotting loss and accuracies (the book's helper)."""
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"]) if animate else None
    result = TrainResult(0.0, 0.0, 0.0)
    timer = Timer()
    examples = 0
    for epoch in range(num_epochs):
        timer.start()
        train_loss, train_acc = train_epoch_ch3(net, train_iter, loss, updater)
        timer.stop()
        examples += getattr(train_iter, "num_examples", 0)
        test_acc = evaluate_accuracy(net, test_iter)
        result.history.append((train_loss, train_acc, test_acc))
        if animator:
            animator.add(epoch + 1, (train_loss, train_acc, test_acc))
    result.train_loss, result.train_acc, result.test_acc = result.history[-1]
    result.train_seconds = timer.sum()
    result.examples_per_sec = examples / result.train_seconds if examples else 0.0
    return result


def predict_ch3(net: Callable, test_iter: Iterable, n: int = 6):
    """Show the first `n` test images with true and predicted labels (the book's helper)."""
    from .data import get_fashion_mnist_labels
    from .plotting import show_images

    X, y = next(iter(test_iter))
    with torch.no_grad():
        preds = get_fashion_mnist_labels(net(X).argmax(dim=1))
    trues = get_fashion_mnist_labels(y)
    titles = [f"{t}\n{p}" for t, p in zip(trues, preds)]
    return show_images(X[:n].reshape(n, 28, 28), 1, n, titles=titles[:n])


# --------------------------------------------------------------------------- chapter 6 loop

def init_xavier(module: nn.Module) -> None:
    """Xavier-uniform init for Linear and Conv2d weights, as the book's train_ch6 does."""
    if isinstance(module, (nn.Linear, nn.Conv2d)) and not isinstance(
            module.weight, nn.parameter.UninitializedParameter):
        nn.init.xavier_uniform_(module.weight)


def _materialize(net: nn.Module, train_iter: Iterable, device: torch.device) -> None:
    """Run one batch through a net with lazy layers so their shapes exist before init."""
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in net.parameters()):
        X, _ = next(iter(train_iter))
        with torch.no_grad():
            net.eval()
            net(X[:2].to(device))
            net.train()


# by name, so a scale profile can pick the optimizer as a plain hyperparameter
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"sgd": torch.optim.SGD,
                                                      "adam": torch.optim.Adam}
# by name too, built as SCHEDULES[name](optimizer, num_epochs) and stepped once an epoch
SCHEDULES: dict[str, type[LRScheduler]] = {"cosine": CosineAnnealingLR}


def train_ch6(net: nn.Module, train_iter: Iterable, test_iter: Iterable, num_epochs: int,
              lr: float, device: torch.device | str,
              optimizer: torch.optim.Optimizer | str | None = None,
              schedule: str | None = None, init: bool = True, amp: bool | None = None,
              channels_last: bool | None = None, animate: bool = True,
              verbose: bool = True) -> TrainResult:
    """Train a classifier with cross-entropy on `device` (the book's helper, SGD by default).

    `channels_last` (default on for CUDA and CPU) stores images and conv weights channel-minor,
    the layout oneDNN and cuDNN convolve fastest: LeNet trains 2x faster on a 2-core CPU. `amp`
    (bf16 autocast, default on CUDA only) speeds up GPUs; pass False for exact float32.
    `optimizer` is an optimizer or a name in OPTIMIZERS, built with `lr` (default: the book's SGD);
    `schedule` names a learning-rate schedule in SCHEDULES (default: a constant `lr`).
    """
    optimizer = optimizer or "sgd"
    if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of: {', '.join(OPTIMIZERS)}")
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; use one of: {', '.join(SCHEDULES)}")
    device = torch.device(device)
    amp = device.type == "cuda" if amp is None else amp
    channels_last = device.type in ("cuda", "cpu") if channels_last is None else channels_last
    net.to(device)
    _materialize(net, train_iter, device)
    if init:
        net.apply(init_xavier)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer](net.parameters(), lr=lr)  # after lazy layers exist
    scheduler = SCHEDULES[schedule](optimizer, num_epochs) if schedule else None
    loss = nn.CrossEntropyLoss()
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp else (
        contextlib.nullcontext)
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs],
                        legend=["train loss", "train acc", "test acc"]) if animate else None
    result = TrainResult(0.0, 0.0, 0.0, device=device_name(device))
    timer, examples = Timer(), 0
    for epoch in range(num_epochs):
        net.train()
        timer.start()
        loss_sum = correct = None
        count = 0
        for X, y in train_iter:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if channels_last and X.dim() == 4:
                X = X.contiguous(memory_format=torch.channels_last)
            with autocast():
                y_hat = net(X)
                batch_loss = loss(y_hat, y)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimizer.step()
            weighted = batch_loss.detach() * y.numel()
            hits = accuracy(y_hat.detach(), y)
            loss_sum = weighted if loss_sum is None else loss_sum + weighted
            correct = hits if correct is None else correct + hits
            count += y.numel()
        train_loss, train_acc = float(loss_sum) / count, float(correct) / count  # one sync an epoch
        timer.stop()
        if scheduler is not None:
            scheduler.step()
        examples += count
        with autocast():
            test_acc = evaluate_accuracy(net, test_iter, device)
        result.history.append((train_loss, train_acc, test_acc))
        if animator:
            animator.add(epoch + 1, (train_loss, train_acc, test_acc))
    result.train_loss, result.train_acc, result.test_acc = result.history[-1]
    result.train_seconds = timer.sum()
    result.examples_per_sec = examples / result.train_seconds
    if verbose:
        print(result.summary())
    return result
