"""The GPU check in one call: every notebook at smoke on the GPU, then chapters 23-29 at full.

Made for a lent GPU machine with PyTorch but no Jupyter and no network (the command lines to
start it are in docs/tests.md). It runs every lecture and worked solution as a plain script at
`smoke` on the GPU, several at once since the GPU is idle most of a smoke run; then the training
chapters 23-29 at `full`, one after another, as `make chapters` does. It writes what it found to
`--out` (JSON of every run, and a markdown summary), so the results can be recorded here:
`python -m tools.chapters --import OUT/full.json` puts the full-scale rows into the notebooks'
run records, from which RESULTS.md and the README's index are written.

    python -m tools.gpu_check --bundle .gpu             # here: the data, compressed, to carry
    python3 -m tools.gpu_check --from-bundle .gpu --out "$OUT"   # there, from the root
    python -m tools.gpu_check --simulate --out /tmp/g   # on a CPU: the simulated accelerator

With `--simulate` every script first installs the simulated device (tools/accelerator.py) and
the training chapters run at `smoke`, so the command is tested end to end on a machine without
a GPU before a GPU's minutes are spent on it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tools import layout, nbrun
from tools.chapters import markdown

SIMULATE = '__import__("tools.accelerator").accelerator.install()\n'


def architecture_chapters() -> list[Path]:
    """Chapters 23-29, the CNNs whose book results a GPU reproduces at full scale."""
    return [p for p in nbrun.training_chapters() if 23 <= int(p.name[:2]) <= 29]


def run_all(paths: list[Path], scale: str, prelude: str, workers: int,
            timeout: int) -> list[nbrun.Run]:
    """Run notebooks as scripts, `workers` at a time, printing each one's line as it ends."""
    def one(path: Path) -> nbrun.Run:
        run = nbrun.run_script(path, scale, timeout=timeout, prelude=prelude)
        where = "solutions/" if layout.is_solution(path) else ""
        print(f"{where}{run.summary()}", flush=True)
        return run

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))


def bundle(folder: Path) -> None:
    """The verified data cache, gzipped, for a machine that cannot fetch it (under 35 MB)."""
    from d2lutils.data import FILES, ensure

    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        with ensure(name).open("rb") as src, gzip.open(folder / f"{Path(name).name}.gz",
                                                       "wb") as dst:
            shutil.copyfileobj(src, dst)


def unbundle(folder: Path) -> None:
    """Put a bundle's files into the data cache, where d2lutils verifies them by checksum."""
    from d2lutils.data import FILES, data_root

    for name in FILES:
        target = data_root() / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(folder / f"{Path(name).name}.gz", "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=layout.BUILD / "gpu-check")
    parser.add_argument("--simulate", action="store_true",
                        help="on a CPU: the simulated accelerator, training chapters at smoke")
    parser.add_argument("--workers", type=int, default=6, help="smoke scripts at once")
    parser.add_argument("--skip-smoke", action="store_true", help="only the full-scale chapters")
    parser.add_argument("--timeout", type=int, default=240, help="seconds per smoke script")
    parser.add_argument("--bundle", type=Path, help="write the data bundle to carry, and stop")
    parser.add_argument("--from-bundle", type=Path, help="fill the data cache from a bundle first")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="smoke-run only these (default: every lecture and solution)")
    args = parser.parse_args(argv)
    if args.bundle:
        bundle(args.bundle)
        return 0
    if args.from_bundle:
        unbundle(args.from_bundle)
    prelude = SIMULATE if args.simulate else ""
    if not args.simulate:
        import torch

        if not torch.cuda.is_available():
            print("gpu_check: no CUDA GPU here; use --simulate on a CPU", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    everything = [p.resolve() for p in args.notebooks] or layout.lectures() + layout.solutions()
    smoke = [] if args.skip_smoke else run_all(everything, "smoke", prelude, args.workers,
                                               args.timeout)
    smoke_seconds = time.perf_counter() - start
    full_scale = "smoke" if args.simulate else "full"
    full = run_all(architecture_chapters(), full_scale, prelude, 1, 1800)
    for name, runs in (("smoke", smoke), ("full", full)):
        (args.out / f"{name}.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    failed = [r for r in smoke + full if not r.ok]
    device = "the simulated accelerator" if args.simulate else nbrun.describe_machine()
    summary = [f"# GPU check on {device}", "",
               f"Smoke: {sum(r.ok for r in smoke)} of {len(smoke)} notebooks passed in "
               f"{smoke_seconds / 60:.1f} min.", *[f"- FAILED {r.summary()}" for r in failed],
               "", f"Chapters 23-29 at {full_scale}:", "",
               markdown(full, " ".join(["python -m tools.gpu_check", *(argv or sys.argv[1:])]))]
    (args.out / "summary.md").write_text("\n".join(summary) + "\n")
    print("\n".join(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
