"""Run the notebooks under nbval again as they would run on other students' machines.

A compared output is a fact of the lesson, so it must not change with the CPU a student has: its
SIMD level (ATen's kernels, oneDNN's convolutions, MKL's BLAS), its number of threads (which
changes the order of float reductions), or a CPU without AVX at all. Nor may a notebook fail on a
GPU server or a Mac, where `d2l.try_gpu()` is an accelerator and mixing it with the CPU raises.
Each configuration below imitates one such machine on this one; a cell whose output changes under
it, or that raises, is a portability bug.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from d2lutils.scales import ENV_VAR as SCALE_VAR
from tools.layout import REPO

# nbval's rules for outputs that name the device, added under the simulated accelerator.
ACCELERATOR_SANITIZE = REPO / "tests" / "nbval_sanitize_accelerator.cfg"


@dataclass(frozen=True)
class Config:
    """One imitated machine: what it imitates, its environment, and whether it has a GPU."""

    imitates: str
    env: dict[str, str] = field(default_factory=dict)
    accelerator: bool = False  # try_gpu() answers the simulated device of tools/accelerator.py


# The x86 kernel levels are dropped on other CPUs, where only the thread count can be varied.
CONFIGS: dict[str, Config] = {
    "scalar-1thread": Config(
        "a CPU without AVX, one thread: ATen's scalar kernels, SSE-only oneDNN and MKL",
        {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
         "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OMP_NUM_THREADS": "1"}),
    "avx2-3threads": Config(
        "an AVX2 laptop (no AVX-512) with an odd thread count",
        {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
         "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OMP_NUM_THREADS": "3"}),
    "native-8threads": Config(
        "this CPU's own kernels with many threads, as on an 8-core laptop",
        {"OMP_NUM_THREADS": "8"}),
    "accelerator": Config(
        "a GPU server or a Mac: d2l.try_gpu() is an accelerator, and mixing it with the CPU "
        "raises", accelerator=True),
}
X86_ONLY = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def settings(name: str) -> dict[str, str]:
    """The environment of one configuration on this machine's architecture."""
    env = dict(CONFIGS[name].env)
    if platform.machine().lower() not in ("x86_64", "amd64"):
        env = {k: v for k, v in env.items() if k not in X86_ONLY}
    if "OMP_NUM_THREADS" in env:
        env["MKL_NUM_THREADS"] = env["OMP_NUM_THREADS"]
    return env


def kernel_startup(ipython_dir: Path, config: Config, env: dict[str, str]) -> Path:
    """An IPython profile whose kernels start as the configuration's machine would.

    torch caps OMP_NUM_THREADS at the number of cores, so a machine with more cores than this
    one is imitated by torch.set_num_threads in each notebook kernel before its first cell; an
    accelerator is installed there too, leaving no name behind in the notebook's namespace.
    """
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    if "OMP_NUM_THREADS" in env:
        (startup / "00-d2l-threads.py").write_text(
            f"import torch\n\ntorch.set_num_threads({int(env['OMP_NUM_THREADS'])})\n")
    if config.accelerator:
        (startup / "01-d2l-accelerator.py").write_text(
            '__import__("tools.accelerator").accelerator.install()\n')
    return ipython_dir


def with_sanitize_rules(pytest_args: list[str], extra: Path, folder: Path) -> list[str]:
    """The pytest arguments with `extra`'s rules appended to nbval's sanitize file (one only)."""
    option = "--nbval-sanitize-with"
    if option not in pytest_args:
        return [*pytest_args, option, str(extra)]
    i = pytest_args.index(option) + 1
    combined = folder / "sanitize.cfg"
    combined.write_text(Path(pytest_args[i]).read_text() + "\n" + extra.read_text())
    return [*pytest_args[:i], str(combined), *pytest_args[i + 1:]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog="configurations: " + "; ".join(
            f"{name}: {config.imitates}" for name, config in CONFIGS.items()))
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS),
                        help="run only this configuration (repeatable; default: all)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER,
                        help="after --: the pytest arguments (paths, nbval options)")
    args = parser.parse_args(argv)
    pytest_args = [a for a in args.pytest_args if a != "--"] or ["notebooks", "--nbval"]
    results = []
    for name in args.config or list(CONFIGS):
        config, env = CONFIGS[name], settings(name)
        print(f"\n== {name}: {config.imitates}\n   "
              + " ".join(f"{k}={v}" for k, v in env.items()), flush=True)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run_env = {**os.environ, SCALE_VAR: "smoke", **env,
                       "IPYTHONDIR": str(kernel_startup(Path(tmp) / "ipython", config, env))}
            run_args = pytest_args
            if config.accelerator:  # the kernels import tools.accelerator from the repository
                run_env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
                run_args = with_sanitize_rules(pytest_args, ACCELERATOR_SANITIZE, Path(tmp))
            code = subprocess.call([sys.executable, "-m", "pytest", *run_args], env=run_env)
        results.append((name, code, time.perf_counter() - start))
    print()
    for name, code, seconds in results:
        print(f"portable {name}: {'passed' if code == 0 else 'FAILED'} in {seconds / 60:.1f} min")
    return max(code for _, code, _ in results)


if __name__ == "__main__":
    sys.exit(main())
