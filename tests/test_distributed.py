"""The torchrun entry point: sharding, and real 2-process gloo runs on this machine."""

import subprocess
import sys

import torch

from d2lutils import data, models, torchrun


def test_shards_partition_one_permutation():
    parts = [data.shard(10, rank, 3, epoch=1) for rank in range(3)]
    joined = torch.cat(parts)
    assert all(len(p) == 3 for p in parts)  # 10 - 10 % 3 = 9 examples, 3 per rank
    assert len(set(joined.tolist())) == 9 and joined.max() < 10
    assert torch.equal(data.shard(10, 0, 3, epoch=1), parts[0])
    assert not torch.equal(data.shard(10, 0, 3, epoch=2), parts[0])


def test_torchrun_command_single_and_multi_node():
    single = torchrun.torchrun_command(2, ["train"])
    assert "--standalone" in single and single[-3:] == ["-m", "d2lutils.distributed", "train"]
    multi = torchrun.torchrun_command(1, ["train"], nnodes=2, node_rank=1,
                                      endpoint="127.0.0.1:29500")
    assert "--node-rank=1" in multi and "--rdzv-endpoint=127.0.0.1:29500" in multi


def test_entry_point_runs_without_warnings():
    # runpy warns when importing the package has already imported the module it is to run
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "d2lutils.distributed", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and "allreduce" in proc.stdout


def test_corr2d_matches_conv2d():
    X, K = torch.randn(6, 7), torch.randn(2, 3)
    expected = torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0]
    assert torch.allclose(models.corr2d(X, K), expected, atol=1e-6)


def test_small_resnet_shapes():
    net = models.resnet18_small(width=4)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    block = models.Residual(3, 6, use_1x1conv=True, stride=2)
    assert block(torch.zeros(1, 3, 8, 8)).shape == (1, 6, 4, 4)


def test_two_process_gloo_training_and_allreduce():
    result = torchrun.launch(2, ["train", "--epochs", "1", "--n-train", "256", "--n-test", "128",
                                 "--width", "4", "--batch-size", "64"], timeout=240)
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    assert len(result["epoch_seconds"]) == 1
    first, second = result["replica_checksums"]  # DDP kept the two replicas identical
    assert first == second and first != 0.0
    assert (result["test_acc"] * 128).is_integer()  # rank 0 tested on exactly --n-test images
    timing = torchrun.launch(2, ["allreduce", "--sizes", "10", "1000", "--repeats", "2"],
                             timeout=120)
    assert set(timing["seconds"]) == {"10", "1000"}  # the workers assert the reduced values


def test_two_node_ranks_meet_over_loopback():
    result = torchrun.launch(1, ["allreduce", "--sizes", "100", "--repeats", "1"], nnodes=2,
                             timeout=120)
    assert result["world_size"] == 2


def test_nccl_only_when_every_process_has_a_gpu(monkeypatch):
    monkeypatch.delenv(torchrun.SHARED_GPUS, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert torchrun.dist_backend(1) == "nccl"
    assert torchrun.dist_backend(2) == "gloo"  # NCCL refuses two processes on one GPU
    monkeypatch.setenv(torchrun.SHARED_GPUS, "1")  # node ranks of one machine share its GPUs
    assert torchrun.dist_backend(1) == "gloo"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(torchrun.SHARED_GPUS)
    assert torchrun.dist_backend(1) == "gloo"
    assert torchrun._env(2)[torchrun.SHARED_GPUS] == "1"
    assert torchrun.SHARED_GPUS not in torchrun._env(1)
