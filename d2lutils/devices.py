"""Devices: a GPU (CUDA), an Apple-silicon GPU (MPS) or another accelerator, else the CPU.

Chosen when asked, never at import time, through `torch.accelerator`, which answers for whatever
accelerator this PyTorch build can use.
"""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["cpu_count", "dataloader_workers", "device_name", "has_float64", "num_gpus",
           "synchronize", "try_all_gpus", "try_gpu"]


def _accelerator() -> str | None:
    """The type of the accelerator PyTorch can use here ('cuda', 'mps', ...), or None."""
    if not torch.accelerator.is_available():
        return None
    return torch.accelerator.current_accelerator().type


def num_gpus() -> int:
    """Number of accelerators PyTorch can use (CUDA devices, or 1 for Apple MPS)."""
    return torch.accelerator.device_count() if _accelerator() else 0


def try_gpu(i: int = 0) -> torch.device:
    """Return accelerator `i` if it exists, else the CPU (the book's helper)."""
    kind = _accelerator()
    if kind and i < num_gpus():
        return torch.device(kind, i)
    return torch.device("cpu")


def try_all_gpus() -> list[torch.device]:
    """Return every accelerator, or `[cpu]` when there is none (the book's helper)."""
    kind = _accelerator()
    if kind is None:
        return [torch.device("cpu")]
    return [torch.device(kind, i) for i in range(num_gpus())]


def synchronize(device: torch.device | str) -> None:
    """Wait until `device` has finished its queued work.

    A GPU runs asynchronously: a clock read without this measures only the launches.
    """
    device = torch.device(device)
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


def has_float64(device: torch.device | str) -> bool:
    """Whether `device` computes in float64 (Apple's MPS does not)."""
    try:
        torch.zeros((), dtype=torch.float64, device=device)
    except (TypeError, RuntimeError):
        return False
    return True


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
