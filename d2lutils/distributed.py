"""Data-parallel training and collective benchmarks on torch.distributed, launched by torchrun.

The same entry point runs on one laptop (several CPU processes, gloo) and on a GPU cluster (NCCL):

    torchrun --nproc-per-node=2 -m d2lutils.distributed train --epochs 2
    torchrun --nnodes=2 --node-rank=0 --nproc-per-node=8 \\
        --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 -m d2lutils.distributed train
    torchrun --nproc-per-node=4 -m d2lutils.distributed allreduce --sizes 1000 1000000

Rank 0 prints one line `RESULT {json}`; `d2lutils.torchrun.launch` runs torchrun from Python and
parses it. The package never imports this module: it is what torchrun runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .devices import synchronize
from .torchrun import RESULT, dist_backend


def _setup() -> tuple[int, int, torch.device]:
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cpu")
    if torch.cuda.is_available():  # processes beyond the GPU count share GPUs (over gloo)
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    dist.init_process_group(dist_backend(int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
    return dist.get_rank(), dist.get_world_size(), device


def train(args: argparse.Namespace) -> dict:
    """Data-parallel training of the small ResNet-18 on Fashion-MNIST with DDP."""
    from .data import TensorBatches, fashion_mnist_tensors, shard
    from .models import resnet18_small
    from .training import evaluate_accuracy

    rank, world, device = _setup()
    if args.batch_size % world:
        raise SystemExit(f"total batch {args.batch_size} does not split over {world} processes")
    images, labels = fashion_mnist_tensors(True)
    images, labels = images[:args.n_train], labels[:args.n_train]
    torch.manual_seed(args.seed)  # the same initial weights everywhere (DDP also broadcasts them)
    net = resnet18_small(width=args.width).to(device)
    ids = [device.index] if device.type == "cuda" else None
    model = DistributedDataParallel(net, device_ids=ids)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss = nn.CrossEntropyLoss()
    local_batch = args.batch_size // world
    epoch_seconds = []
    for epoch in range(args.epochs):
        idx = shard(len(labels), rank, world, epoch, args.seed)
        idx = idx[:len(idx) - len(idx) % local_batch]  # full batches keep the ranks in step
        batches = TensorBatches(images[idx], labels[idx], local_batch, shuffle=False,
                                resize=args.resize, device=device)
        dist.barrier()
        start = time.perf_counter()
        model.train()
        for X, y in batches:
            optimizer.zero_grad(set_to_none=True)
            loss(model(X), y).backward()  # DDP all-reduces (averages) the gradients here
            optimizer.step()
        synchronize(device)
        dist.barrier()
        epoch_seconds.append(time.perf_counter() - start)
    # DDP's promise: every replica took the same steps. One checksum per rank shows that it held.
    checksum = torch.stack([p.detach().double().sum() for p in net.parameters()]).sum()
    checksums = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(checksums, checksum)
    result = {"world_size": world, "backend": dist.get_backend(), "epochs": args.epochs,
              "batch_size": args.batch_size, "lr": args.lr, "epoch_seconds": epoch_seconds,
              "replica_checksums": [c.item() for c in checksums]}
    if rank == 0:
        test_images, test_labels = fashion_mnist_tensors(False)
        test = TensorBatches(test_images[:args.n_test], test_labels[:args.n_test], 256,
                             shuffle=False, resize=args.resize, device=device)
        result["test_acc"] = evaluate_accuracy(net, test)
    return result


def allreduce(args: argparse.Namespace) -> dict:
    """Median seconds of all_reduce (sum) over float32 tensors of the given sizes."""
    rank, world, device = _setup()
    timings = {}
    for size in args.sizes:
        x = torch.ones(size, device=device)
        seconds = []
        for _ in range(args.repeats + 1):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(x)
            synchronize(device)
            seconds.append(time.perf_counter() - start)
        # ones summed `repeats + 1` times, each a sum over the ranks
        assert x[0].item() == world ** (args.repeats + 1)
        timings[str(size)] = sorted(seconds[1:])[len(seconds[1:]) // 2]
    return {"world_size": world, "backend": dist.get_backend(), "seconds": timings}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m d2lutils.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="data-parallel ResNet-18 on Fashion-MNIST")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=256, help="total over all processes")
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--n-train", type=int, default=60000)
    t.add_argument("--n-test", type=int, default=10000)
    t.add_argument("--resize", type=int, default=None)
    t.add_argument("--width", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    a = sub.add_parser("allreduce", help="time all_reduce for several tensor sizes")
    a.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    a.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        result = {"train": train, "allreduce": allreduce}[args.command](args)
        if dist.get_rank() == 0:
            print(RESULT + json.dumps(result), flush=True)
        # Rank 0 evaluates alone; the others wait here, so no rank tears down a connection that
        # another is still using.
        dist.barrier()
    finally:
        if dist.is_initialized():
            gc.collect()  # drop the DDP reducer's hold on the process group before destroying it
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    code = main()
    # A finished run skips the interpreter's finalization: gloo's worker threads can abort it
    # (SIGABRT, "terminate called without an active exception") after the result was printed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
