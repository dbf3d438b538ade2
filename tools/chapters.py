"""Run the training chapters as plain Python on a GPU node (no Jupyter needed) and tabulate them.

    python -m tools.chapters                      # every training chapter at full scale
    python -m tools.chapters --scale smoke notebooks/23-lenet.ipynb

A training chapter is a notebook that calls `d2l.train_ch3` or `d2l.train_ch6`; the notebooks
themselves say which they are, so a new chapter is found without a list to update. It needs only
the course's run-time packages and d2lutils (`pip install --no-deps -e .` in a clone). Each
chapter's code cells run top to bottom in a fresh interpreter (matplotlib off-screen), so its own
assertions, accuracy floors included, decide whether the chapter passed. Every `TrainResult` the
chapter trains is reported, by a failed chapter too: test accuracy, training seconds,
examples/second and device; `--record` also keeps them in the notebook's metadata.
Writes build/chapters/<scale>.json and, with --markdown, the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from tools import layout, nbrun


def markdown(runs: list[nbrun.Run], command: str) -> str:
    """One table row per training run; chapters that failed say why."""
    lines = ["| chapter | run | test acc | training s | examples/s | device | status |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        status = "passed" if run.ok else f"FAILED: {run.error}"
        if not run.results:
            lines.append(f"| {run.notebook} | - | - | - | - | {run.device} | {status} |")
        for i, r in enumerate(run.results):
            lines.append(f"| {run.notebook} | {nbrun.result_name(r, i)} | {r['test_acc']:.3f} | "
                         f"{r['train_seconds']:.1f} | {r['examples_per_sec']:,.0f} | "
                         f"{r['device']} | {status} |")
    total = sum(r["train_seconds"] for run in runs for r in run.results)
    lines += ["", f"Total training time: {total:.0f} s. Produced by `{command}`."]
    return "\n".join(lines)


def record(path: Path, run: nbrun.Run) -> None:
    """Keep a run in the notebook's run record at its scale; its stored outputs stay as they are."""
    import nbformat  # only here: a GPU node may run the chapters without Jupyter's packages

    nb = nbformat.read(path, as_version=4)
    nbrun.record(nb, run)
    nbformat.write(nb, path)


def import_runs(path: Path) -> list[nbrun.Run]:
    """Record the runs a chapters or GPU-check JSON file holds (made on another machine)."""
    runs = [nbrun.Run(**fields) for fields in json.loads(path.read_text(encoding="utf-8"))]
    for run in runs:
        record(layout.LECTURES / f"{run.notebook}.ipynb", run)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--scale", default="full", choices=nbrun.SCALES)
    parser.add_argument("--seed", type=int,
                        help="D2L_SEED for every chapter (default: as set outside)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per chapter")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--record", action="store_true",
                        help="record each chapter's minutes and results in its metadata "
                             "(README index, RESULTS.md), as make course does")
    parser.add_argument("--import", dest="imported", type=Path,
                        help="record the runs of a JSON file written on another machine "
                             "(build/chapters/<scale>.json, or the GPU check's full.json)")
    args = parser.parse_args()
    if args.imported:
        for run in import_runs(args.imported):
            print(f"recorded {run.summary()}")
        return
    runs = []
    for path in args.notebooks or nbrun.training_chapters():
        runs.append(nbrun.run_script(path.resolve(), args.scale, args.seed, args.timeout))
        print(runs[-1].summary(), flush=True)
        if args.record:
            record(path, runs[-1])
    out = layout.BUILD / "chapters"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.scale}.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    table = markdown(runs, " ".join(["python -m tools.chapters", *sys.argv[1:]]))
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    sys.exit(0 if all(r.ok for r in runs) else 1)


if __name__ == "__main__":
    main()
