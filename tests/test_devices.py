"""Device helpers on a machine with or without accelerators."""

import torch

from d2lutils import devices


def test_cpu_fallback_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert devices.try_gpu() == torch.device("cpu")
    assert devices.try_gpu(3) == torch.device("cpu")
    assert devices.try_all_gpus() == [torch.device("cpu")]
    assert devices.num_gpus() == 0


def test_cuda_devices_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.try_gpu(1) == torch.device("cuda:1")
    assert devices.try_gpu(2) == torch.device("cpu")
    assert devices.try_all_gpus() == [torch.device("cuda:0"), torch.device("cuda:1")]
    assert devices.num_gpus() == 2


def test_mps_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert devices.try_gpu() == torch.device("mps")
    assert devices.try_gpu(1) == torch.device("cpu")
    assert devices.try_all_gpus() == [torch.device("mps")]
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
