"""Launching the course's torch.distributed entry point (`d2lutils.distributed`) from Python.

`torchrun_command` is the command line a student types on one machine or on several; `launch`
runs it (every node rank on this machine) and returns rank 0's result. It lives apart from the
entry point so that importing d2lutils never imports the module torchrun is about to run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["dist_backend", "launch", "torchrun_command"]

RESULT = "RESULT "  # rank 0 prints its result on one line after this marker
# Set by `launch` for a multi-node run on one machine, whose "nodes" share the same GPUs.
SHARED_GPUS = "D2L_DIST_SHARED_GPUS"


def dist_backend(local_processes: int) -> str:
    """The backend of a run with this many processes per machine: NCCL if each has its own GPU.

    NCCL refuses two processes on one GPU; gloo accepts them (and CPU tensors), so a machine with
    fewer GPUs than processes still runs the course's 2-process lessons.
    """
    import torch

    enough = torch.cuda.is_available() and torch.cuda.device_count() >= local_processes
    return "nccl" if enough and os.environ.get(SHARED_GPUS) != "1" else "gloo"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(nproc: int, args: Sequence[str], nnodes: int = 1, node_rank: int = 0,
                     endpoint: str | None = None) -> list[str]:
    """The torchrun command line for the entry point; a rendezvous endpoint for multi-node runs."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
           f"--nnodes={nnodes}"]
    if nnodes > 1:
        cmd += [f"--node-rank={node_rank}", "--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}",
                "--rdzv-id=d2l"]
    else:
        cmd += ["--standalone"]
    return [*cmd, "-m", "d2lutils.distributed", *args]


def _env(nnodes: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # several processes share the cores
    env["PYTHONUNBUFFERED"] = "1"
    if nnodes > 1:
        env[SHARED_GPUS] = "1"
    return env


def launch(nproc: int, args: Sequence[str], nnodes: int = 1, timeout: float = 300) -> dict:
    """Run the entry point under torchrun (all node ranks on this machine); return rank 0's result.

    Multi-node runs start one torchrun per node rank, meeting at a rendezvous on 127.0.0.1; their
    node ranks share this machine's GPUs, so they communicate with gloo.
    Every process is killed if the run exceeds `timeout` seconds; a failure raises with its log.
    """
    endpoint = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen(torchrun_command(nproc, args, nnodes, rank, endpoint),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=_env(nnodes), start_new_session=True)
             for rank in range(nnodes)]
    logs = []
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            logs.append(out)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"torchrun did not finish within {timeout:.0f} s; stopped it") from err
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    failed = [i for i, p in enumerate(procs) if p.returncode != 0]
    if failed:
        raise RuntimeError(f"torchrun node {failed[0]} exited with {procs[failed[0]].returncode}:"
                           f"\n{logs[failed[0]][-3000:]}")
    for log in logs:
        for line in log.splitlines():
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT):])
    raise RuntimeError(f"no result line in the output:\n{logs[0][-3000:]}")
