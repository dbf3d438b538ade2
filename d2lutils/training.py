"""Training: the book's loops (train_ch3, train_ch6) over one epoch core, metrics on the device.

Both loops run the same epoch (`_train_epoch`) and the same bookkeeping (`_fit`); train_ch6 only
adds its device, initialisation, memory format, optimizer and schedule. Metrics are read from the
device once per epoch, not once per batch, so a GPU never waits for the host; printed summaries
keep the book's format so results compare with its tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from .devices import device_name
from .plotting import Animator
from .scales import HParams, seed_everything

# A runner (make course, make chapters, the seed sweep) names a file here to have every training
# run appended to it as one JSON line, which it reads back: results are recorded, not scraped.
RESULTS_VAR = "D2L_RESULTS"
# Points per epoch on the training curves (the book's helpers draw five); the host reads the
# running sums from the device only at these points.
POINTS_PER_EPOCH = 5

__all__ = ["Accumulator", "Timer", "TrainResult", "accuracy", "evaluate_accuracy", "evaluate_loss",
           "first_epoch_with_book_optimizer", "init_xavier", "linreg", "predict_ch3", "sgd",
           "squared_loss", "train_ch3", "train_ch6", "train_epoch_ch3"]


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


@torch.no_grad()
def evaluate_loss(net: Callable, data_iter: Iterable, loss: Callable,
                  device: torch.device | str | None = None) -> float:
    """Mean of a per-example loss over `data_iter`, in eval mode, on the net's device."""
    was_training = isinstance(net, nn.Module) and net.training
    if isinstance(net, nn.Module):
        net.eval()  # dropout off, batch norm on its running statistics (which stay unchanged)
        device = device or _model_device(net)
    total, count = None, 0
    for X, y in data_iter:
        if device is not None:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        out = loss(net(X), y)
        total = out.sum() if total is None else total + out.sum()
        count += out.numel()
    if was_training:
        net.train()
    return float(total) / count


# --------------------------------------------------------------------------- the epoch core

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

    def record(self, label: str | None = None) -> dict:
        """The run as one JSON-ready dict: its label, final metrics, speed, device, epochs."""
        return {"label": label, "test_acc": self.test_acc, "train_loss": self.train_loss,
                "train_acc": self.train_acc, "train_seconds": self.train_seconds,
                "examples_per_sec": self.examples_per_sec, "device": self.device,
                "epochs": len(self.history)}

    def summary(self) -> str:
        """The book's two summary lines."""
        return (f"loss {self.train_loss:.3f}, train acc {self.train_acc:.3f}, "
                f"test acc {self.test_acc:.3f}\n"
                f"{self.examples_per_sec:.1f} examples/sec on {self.device}")


class EpochStats(NamedTuple):
    """One pass over the training data: mean loss, accuracy, and what it ran on."""

    loss: float
    accuracy: float
    examples: int  # counted batch by batch, so any iterator (a wrapper too) reports its speed
    device: torch.device


def _update(per_example: torch.Tensor, updater, batch_size: int) -> None:
    """Backpropagate and step: an optimizer on the mean loss, the book's updater on the sum."""
    if isinstance(updater, torch.optim.Optimizer):
        updater.zero_grad(set_to_none=True)
        per_example.mean().backward()  # the mean of a scalar (reduced) loss is that loss
        updater.step()
    else:  # a from-scratch updater such as d2l.sgd divides by the batch size itself
        per_example.sum().backward()
        updater(batch_size)


def _train_epoch(net: Callable, train_iter: Iterable, loss: Callable, updater,
                 device: torch.device | None = None, channels_last: bool = False,
                 autocast: Callable = contextlib.nullcontext,
                 progress: Callable[[float, float, float], None] | None = None) -> EpochStats:
    """One epoch for both loops; sums stay on the device and are read once, at the end.

    `device` moves each batch there; `channels_last` and `autocast` are train_ch6's speed-ups.
    `progress(fraction, loss, accuracy)` is called POINTS_PER_EPOCH - 1 times within the epoch
    (where the iterator has a length), the only other moments the host reads the sums.
    """
    if isinstance(net, nn.Module):
        net.train()
    batches = len(train_iter) if progress and hasattr(train_iter, "__len__") else 0
    marks = {round(k * batches / POINTS_PER_EPOCH) for k in range(1, POINTS_PER_EPOCH)}
    loss_sum = correct = None
    examples = 0
    for i, (X, y) in enumerate(train_iter, 1):
        if device is not None:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last and X.dim() == 4:
            X = X.contiguous(memory_format=torch.channels_last)
        with autocast():
            y_hat = net(X)
            per_example = loss(y_hat, y)
        _update(per_example, updater, len(y))
        # a reduced loss is a batch mean: weigh it by the batch so the epoch mean stays exact
        batch_loss = (per_example.detach().sum() if per_example.ndim
                      else per_example.detach() * len(y))
        hits = accuracy(y_hat.detach(), y)
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = hits if correct is None else correct + hits
        examples += len(y)
        if i in marks and i < batches:
            progress(i / batches, float(loss_sum) / examples, float(correct) / examples)
    return EpochStats(float(loss_sum) / examples, float(correct) / examples, examples,
                      y_hat.device)


def _fit(net: Callable, train_iter: Iterable, test_iter: Iterable, loss: Callable, updater,
         num_epochs: int, animator: Animator | None, device: torch.device | None = None,
         channels_last: bool = False, autocast: Callable = contextlib.nullcontext,
         scheduler: LRScheduler | None = None) -> TrainResult:
    """Both loops' bookkeeping: time each epoch, test after it, plot, and sum up the run."""
    history, timer, drawing, examples = [], Timer(), Timer(), 0
    for epoch in range(num_epochs):
        def progress(fraction: float, loss_value: float, acc: float, epoch: int = epoch) -> None:
            drawing.start()
            animator.add(epoch + fraction, (loss_value, acc, None))
            drawing.stop()

        drawing.times.clear()
        timer.start()
        stats = _train_epoch(net, train_iter, loss, updater, device, channels_last, autocast,
                             progress if animator else None)
        timer.stop()
        timer.times[-1] -= drawing.sum()  # the epoch's training time, without redrawing curves
        if scheduler is not None:
            scheduler.step()
        examples += stats.examples
        with autocast():
            test_acc = evaluate_accuracy(net, test_iter, device)
        history.append((stats.loss, stats.accuracy, test_acc))
        if animator:
            animator.add(epoch + 1, history[-1])
    return TrainResult(*history[-1], examples_per_sec=examples / timer.sum(),
                       train_seconds=timer.sum(), device=device_name(stats.device),
                       history=history)


def _record(result: TrainResult, label: str | None) -> TrainResult:
    """Append the run to the JSON-lines file named by $D2L_RESULTS, where a runner asks for it."""
    path = os.environ.get(RESULTS_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(result.record(label)) + "\n")
    return result


def _animator(num_epochs: int, ylim: list[float] | None = None) -> Animator:
    return Animator(xlabel="epoch", xlim=[0, num_epochs], ylim=ylim,
                    legend=["train loss", "train acc", "test acc"])


# --------------------------------------------------------------------------- chapter 9 loop

def train_epoch_ch3(net: Callable, train_iter: Iterable, loss: Callable,
                    updater: torch.optim.Optimizer | Callable[[int], None],
                    ) -> tuple[float, float]:
    """One epoch; returns (mean training loss, training accuracy) (the book's helper)."""
    stats = _train_epoch(net, train_iter, loss, updater)
    return stats.loss, stats.accuracy


def train_ch3(net: Callable, train_iter: Iterable, test_iter: Iterable, loss: Callable,
              num_epochs: int, updater, *, animate: bool = True,
              label: str | None = None) -> TrainResult:
    """Train a classifier for `num_epochs`, plotting loss and accuracies (the book's helper).

    `label` names the run where a runner records it (`make course`, `make chapters`).
    """
    animator = _animator(num_epochs, ylim=[0.3, 0.9]) if animate else None
    return _record(_fit(net, train_iter, test_iter, loss, updater, num_epochs, animator), label)


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


def _by_name(table: dict, name: str, kind: str):
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; use one of: {', '.join(table)}")
    return table[name]


def _optimizer(net: nn.Module, optimizer: torch.optim.Optimizer | str | None, lr: float,
               schedule: str | None, num_epochs: int,
               ) -> tuple[torch.optim.Optimizer, LRScheduler | None]:
    """train_ch6's optimizer (given, or named in OPTIMIZERS and built with `lr`) and schedule."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = _by_name(OPTIMIZERS, optimizer or "sgd", "optimizer")(net.parameters(), lr=lr)
    if schedule is None:
        return optimizer, None
    return optimizer, _by_name(SCHEDULES, schedule, "schedule")(optimizer, num_epochs)


def train_ch6(net: nn.Module, train_iter: Iterable, test_iter: Iterable, num_epochs: int,
              lr: float, device: torch.device | str, *,
              optimizer: torch.optim.Optimizer | str | None = None,
              schedule: str | None = None, init: bool = True, amp: bool | None = None,
              channels_last: bool | None = None, animate: bool = True,
              verbose: bool = True, label: str | None = None) -> TrainResult:
    """Train a classifier with cross-entropy on `device` (the book's helper, SGD by default).

    `channels_last` (default on for CUDA and CPU) stores images and conv weights channel-minor,
    the layout oneDNN and cuDNN convolve fastest: LeNet trains 2x faster on a 2-core CPU. `amp`
    (bf16 autocast, default on CUDA only) speeds up GPUs; pass False for exact float32.
    `optimizer` is an optimizer or a name in OPTIMIZERS, built with `lr` (default: the book's SGD);
    `schedule` names a learning-rate schedule in SCHEDULES (default: a constant `lr`).
    `label` names the run where a runner records it (`make course`, `make chapters`).
    """
    device = torch.device(device)
    amp = device.type == "cuda" if amp is None else amp
    channels_last = device.type in ("cuda", "cpu") if channels_last is None else channels_last
    net.to(device)
    _materialize(net, train_iter, device)
    if init:
        net.apply(init_xavier)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    # built only now: a lazy layer has no parameters to optimize until it has seen a batch
    optimizer, scheduler = _optimizer(net, optimizer, lr, schedule, num_epochs)
    autocast = (partial(torch.autocast, device.type, dtype=torch.bfloat16) if amp
                else contextlib.nullcontext)
    result = _record(_fit(net, train_iter, test_iter, nn.CrossEntropyLoss(), optimizer,
                          num_epochs, _animator(num_epochs) if animate else None, device,
                          channels_last, autocast, scheduler), label)
    if verbose:
        print(result.summary())
    return result


def first_epoch_with_book_optimizer(make_net: Callable[[], nn.Module], hp: HParams,
                                    train_iter: Iterable, test_iter: Iterable,
                                    device: torch.device | str,
                                    result: TrainResult) -> TrainResult | None:
    """Train a fresh `make_net()` one epoch with the book's optimizer and lr, beside `result`.

    Where a scale trains with another optimizer than the book (hp.book), this shows in two
    printed lines what the book's own setting does at the scale's sizes; None where it doesn't.
    """
    book_optimizer, book_lr = hp.book["optimizer"], hp.book["lr"]
    if hp.optimizer == book_optimizer:
        return None
    seed_everything()  # the run's seed, so that the fresh net starts like the scale's run did
    book = train_ch6(make_net(), train_iter, test_iter, 1, book_lr, device,
                     optimizer=book_optimizer, animate=False, verbose=False,
                     label=f"book's {book_optimizer}, 1 epoch")
    for name, lr, (loss, _, test_acc) in ((f"book's {book_optimizer}", book_lr, book.history[0]),
                                          (hp.optimizer, hp.lr, result.history[0])):
        print(f"epoch 1, {name:<10} lr {lr:<6g}: loss {loss:.3f}, test acc {test_acc:.3f}")
    return book
