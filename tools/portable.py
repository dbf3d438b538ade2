"""Run the notebooks under nbval again with other CPU kernels and thread counts.

A compared output is a fact of the lesson, so it must not change with the CPU a student has: its
SIMD level (ATen's kernels, oneDNN's convolutions, MKL's BLAS), its number of threads (which
changes the order of float reductions), or a CPU without AVX at all. Each configuration below
imitates one such machine on this one; a cell whose output changes under it is a portability bug.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# What each configuration imitates, and the settings that do it. The x86 kernel levels are
# dropped on other CPUs, where only the thread count can be varied.
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "scalar-1thread": (
        "a CPU without AVX, one thread: ATen's scalar kernels, SSE-only oneDNN and MKL",
        {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
         "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OMP_NUM_THREADS": "1"},
    ),
    "avx2-3threads": (
        "an AVX2 laptop (no AVX-512) with an odd thread count",
        {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
         "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OMP_NUM_THREADS": "3"},
    ),
    "native-8threads": (
        "this CPU's own kernels with many threads, as on an 8-core laptop",
        {"OMP_NUM_THREADS": "8"},
    ),
}
X86_ONLY = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def settings(name: str) -> dict[str, str]:
    """The environment of one configuration on this machine's architecture."""
    env = dict(CONFIGS[name][1])
    if platform.machine().lower() not in ("x86_64", "amd64"):
        env = {k: v for k, v in env.items() if k not in X86_ONLY}
    env["MKL_NUM_THREADS"] = env["OMP_NUM_THREADS"]
    return env


def thread_startup(ipython_dir: Path, threads: str) -> Path:
    """An IPython profile whose kernels start with torch on `threads` threads.

    torch caps OMP_NUM_THREADS at the number of cores, so a machine with more cores than this
    one is imitated by torch.set_num_threads in each notebook kernel before its first cell.
    """
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-d2l-threads.py").write_text(
        f"import torch\n\ntorch.set_num_threads({int(threads)})\n")
    return ipython_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog="configurations: " + "; ".join(
            f"{name}: {what}" for name, (what, _) in CONFIGS.items()))
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS),
                        help="run only this configuration (repeatable; default: all)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER,
                        help="after --: the pytest arguments (paths, nbval options)")
    args = parser.parse_args(argv)
    pytest_args = [a for a in args.pytest_args if a != "--"] or ["notebooks", "--nbval"]
    results = []
    for name in args.config or list(CONFIGS):
        env = settings(name)
        print(f"\n== {name}: {CONFIGS[name][0]}\n   "
              + " ".join(f"{k}={v}" for k, v in env.items()), flush=True)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            ipython_dir = thread_startup(Path(tmp), env["OMP_NUM_THREADS"])
            code = subprocess.call([sys.executable, "-m", "pytest", *pytest_args],
                                   env={**os.environ, "D2L_SCALE": "smoke", **env,
                                        "IPYTHONDIR": str(ipython_dir)})
        results.append((name, code, time.perf_counter() - start))
    print()
    for name, code, seconds in results:
        print(f"portable {name}: {'passed' if code == 0 else 'FAILED'} in {seconds / 60:.1f} min")
    return max(code for _, code, _ in results)


if __name__ == "__main__":
    sys.exit(main())
