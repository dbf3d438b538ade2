"""Devices: CUDA, Apple MPS or the CPU, chosen when asked, never at import time."""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["cpu_count", "dataloader_workers", "device_name", "num_gpus", "try_all_gpus", "try_gpu"]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def num_gpus() -> int:
    """Number of accelerators PyTorch can use (CUDA devices, or 1 for Apple MPS)."""
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1 if _mps_available() else 0


def try_gpu(i: int = 0) -> torch.device:
    """Return accelerator `i` if it exists, else the CPU (the book's helper)."""
    if torch.cuda.is_available() and i < torch.cuda.device_count():
        return torch.device(f"cuda:{i}")
    if i == 0 and _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def try_all_gpus() -> list[torch.device]:
    """Return every accelerator, or `[cpu]` when there is none (the book's helper)."""
    if torch.cuda.is_available():
        return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    if _mps_available():
        return [torch.device("mps")]
    return [torch.device("cpu")]


def cpu_count() -> int:
    """Cores this process may use (respects CPU affinity, unlike os.cpu_count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def dataloader_workers(wanted: int = 4) -> int:
    """DataLoader workers: the book's 4, but never more than the cores, so no warning is raised."""
    return max(0, min(wanted, cpu_count()))


def device_name(device: torch.device | str) -> str:
    """Human-readable name of a device, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu'."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def describe_machine() -> str:
    """What a run ran on, for its records: the accelerator's name, else the CPU and its cores."""
    device = try_gpu()
    if device.type == "cuda":
        return device_name(device)
    return f"{device.type} ({platform.machine()}, {cpu_count()} cores)"
