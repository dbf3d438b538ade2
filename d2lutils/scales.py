"""Scale profiles: one notebook, three sizes of work (smoke, quick, full)."""

from __future__ import annotations

import os
import random
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from .devices import try_gpu

__all__ = ["SCALES", "ScaleError", "by_scale", "get_scale", "hparams", "scale_note",
           "seed_everything"]

# Smallest first. A scale's hyperparameters start from the next larger scale's: smoke from quick,
# quick from full (the book's values); `scale_values` is the one place that rule is written.
SCALES = ("smoke", "quick", "full")
ENV_VAR = "D2L_SCALE"
SEED_VAR = "D2L_SEED"


class ScaleError(ValueError):
    """Raised for a D2L_SCALE value that is not one of SCALES."""


class SeedError(ValueError):
    """Raised for a D2L_SEED value that is not a whole number a generator accepts."""


def default_scale() -> str:
    """Return `full` when a CUDA GPU is present and `quick` otherwise."""
    return "full" if torch.cuda.is_available() else "quick"


def get_scale() -> str:
    """Return the active scale from D2L_SCALE, validated, or the machine's default."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return default_scale()
    if value not in SCALES:
        raise ScaleError(
            f"{ENV_VAR}={value!r} is not a known scale; use one of: {', '.join(SCALES)}"
        )
    return value


def _check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ScaleError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}")
    return scale


def scale_values(overrides: dict[str, dict[str, Any] | None], scale: str) -> dict[str, Any]:
    """The values at `scale`: the largest scale's, then each smaller one's overrides down to it."""
    values: dict[str, Any] = {}
    for name in reversed(SCALES[SCALES.index(_check_scale(scale)):]):
        values.update(overrides.get(name) or {})
    return values


def by_scale(**values: Any) -> Any:
    """The value given for the active scale, or None where none is given: a check's threshold.

    Unlike hyperparameters, checks are not inherited: `d2l.by_scale(quick=0.79, full=0.5)` is an
    accuracy floor at quick and full and none at smoke, where accuracy is noise.
    """
    for name in values:
        _check_scale(name)
    return values.get(get_scale())


class HParams(SimpleNamespace):
    """A run's hyperparameters as attributes; `book` keeps the full-scale (book) values apart."""

    __slots__ = ("book",)  # outside __dict__, so vars(hp) and print(hp) show the run's values


# Names of checks rather than settings: a scale note leaves them out.
_CHECKS = ("floor", "tol", "timeout", "check")


def hparams(full: dict[str, Any], quick: dict[str, Any] | None = None,
            smoke: dict[str, Any] | None = None, scale: str | None = None) -> HParams:
    """Book hyperparameters first, with overrides for the smaller scales; returns the active set.

    `smoke` inherits the `quick` overrides, so a notebook lists only what changes again.
    """
    scale = _check_scale(scale or get_scale())
    for name, overrides in (("quick", quick), ("smoke", smoke)):
        unknown = set(overrides or {}) - set(full)
        if unknown:
            raise KeyError(f"{name} overrides unknown hyperparameters: {sorted(unknown)}")
    hp = HParams(scale=scale, **scale_values({"full": full, "quick": quick, "smoke": smoke}, scale))
    hp.book = dict(full)
    return hp


def scale_note(hp: HParams, device: torch.device | str | None = None) -> str:
    """One line for a slide: the run's scale and each setting in which it departs from the book.

    On a CUDA `device` (default: `try_gpu()`, where the lectures train) it also says that
    train_ch6 computes in bf16 autocast there, where the book computes in float32.
    """
    def show(name: str, value: Any) -> str:
        if value is None:  # n_train=None keeps every example; schedule=None is none at all
            return "all" if name.startswith("n_") else "none"
        return f"{value:g}" if isinstance(value, float) else str(value)

    changed = [f"{name} {show(name, getattr(hp, name))} (book {show(name, book)})"
               for name, book in hp.book.items()
               if getattr(hp, name) != book and not any(c in name for c in _CHECKS)]
    if torch.device(device or try_gpu()).type == "cuda":
        changed.append("bf16 autocast on the GPU (book float32)")
    if not changed:
        return f"{hp.scale} scale: the book's hyperparameters"
    return f"{hp.scale} scale, departing from the book: " + ", ".join(changed)


def get_seed() -> int:
    """Return the run's seed from D2L_SEED, validated, or 0."""
    value = os.environ.get(SEED_VAR, "").strip()
    if not value:
        return 0
    # NumPy takes seeds in [0, 2**32); reject the rest here, with the variable's name.
    if not value.isdigit() or int(value) >= 2**32:
        raise SeedError(f"{SEED_VAR}={value!r} is not a seed; use a whole number from 0 to "
                        f"{2**32 - 1}, e.g. {SEED_VAR}=1")
    return int(value)


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and PyTorch (all devices); the default is $D2L_SEED, else 0.

    Checking an accuracy floor over several seeds is then `D2L_SEED=1 make course ...`.
    """
    seed = get_seed() if seed is None else seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed
