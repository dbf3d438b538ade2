"""Device helpers on a machine with or without accelerators."""

import torch

from d2lutils import devices


def accelerator(monkeypatch, kind: str | None, count: int = 0) -> None:
    """Make torch.accelerator report `count` devices of `kind` (None: no accelerator)."""
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: kind is not None)
    monkeypatch.setattr(torch.accelerator, "current_accelerator",
                        lambda check_available=False: torch.device(kind) if kind else None)
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: count)


def test_cpu_fallback_without_accelerators(monkeypatch):
    accelerator(monkeypatch, None)
    assert devices.try_gpu() == torch.device("cpu")
    assert devices.try_gpu(3) == torch.device("cpu")
    assert devices.try_all_gpus() == [torch.device("cpu")]
    assert devices.num_gpus() == 0


def test_cuda_devices_when_present(monkeypatch):
    accelerator(monkeypatch, "cuda", 2)
    assert devices.try_gpu(1) == torch.device("cuda:1")
    assert devices.try_gpu(2) == torch.device("cpu")
    assert devices.try_all_gpus() == [torch.device("cuda:0"), torch.device("cuda:1")]
    assert devices.num_gpus() == 2


def test_mps_when_present(monkeypatch):
    accelerator(monkeypatch, "mps", 1)
    assert devices.try_gpu() == torch.device("mps:0")
    assert devices.try_gpu(1) == torch.device("cpu")
    assert devices.try_all_gpus() == [torch.device("mps:0")]
    assert devices.num_gpus() == 1


def test_workers_never_exceed_cores():
    cores = devices.cpu_count()
    assert cores >= 1
    assert devices.dataloader_workers(4) == min(4, cores)
    assert devices.dataloader_workers(10_000) == cores
    assert devices.dataloader_workers(0) == 0


def test_device_name():
    assert devices.device_name("cpu") == "cpu"
    assert devices.device_name(torch.device("cpu")) == "cpu"
