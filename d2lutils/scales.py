"""Scale profiles: one notebook, three sizes of work (smoke, quick, full)."""

from __future__ import annotations

import os
import random
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

__all__ = ["SCALES", "ScaleError", "get_scale", "hparams", "scale_note", "seed_everything"]

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
    scale = scale or get_scale()
    if scale not in SCALES:
        raise ScaleError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}")
    for name, overrides in (("quick", quick), ("smoke", smoke)):
        unknown = set(overrides or {}) - set(full)
        if unknown:
            raise KeyError(f"{name} overrides unknown hyperparameters: {sorted(unknown)}")
    values = dict(full)
    if scale in ("quick", "smoke"):
        values.update(quick or {})
    if scale == "smoke":
        values.update(smoke or {})
    hp = HParams(scale=scale, **values)
    hp.book = dict(full)
    return hp


def scale_note(hp: HParams) -> str:
    """One line for a slide: the run's scale and each setting in which it departs from the book.

    Checks (floors, tolerances, timeouts) are not settings and are left out.
    """
    def show(name: str, value: Any) -> str:
        if value is None:  # n_train=None keeps every example; schedule=None is none at all
            return "all" if name.startswith("n_") else "none"
        return f"{value:g}" if isinstance(value, float) else str(value)

    changed = [f"{name} {show(name, getattr(hp, name))} (book {show(name, book)})"
               for name, book in hp.book.items()
               if getattr(hp, name) != book and not any(c in name for c in _CHECKS)]
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
