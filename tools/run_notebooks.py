"""Re-execute notebooks in place (`make course`) so their stored outputs come from a real run.

Lectures (notebooks/NN-slug.ipynb) and worked solutions (solutions/NN-slug.ipynb) alike: each runs
in its own folder, `make course SCALE=quick NB=solutions/04-*.ipynb` for some.

Each notebook records the scale, device and library versions of that run in its metadata
(`d2l`), with its minutes and training results under its scale (`d2l.runs`), and no timestamps,
so a re-run changes only what really changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from tools import layout, nbrun


def merge_streams(outputs: list) -> list:
    """Join consecutive chunks of one stream, which a busy kernel may send split."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.output_type == "stream" and prev is not None and prev.output_type == "stream"
                and prev.name == out.name):
            prev.text += out.text
        else:
            merged.append(out)
    return merged


def refresh(path: Path, scale: str, info: dict[str, str], timeout: int) -> float:
    """Execute one notebook at `scale`; write it back only if every cell succeeded."""
    nb, run = nbrun.execute(path, scale, timeout=timeout)  # a failing cell raises
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nb.metadata["d2l"] = nb.metadata.get("d2l", {}) | info
    nbrun.record(nb, run)
    nbformat.write(nb, path)
    return run.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="quick", choices=nbrun.SCALES)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    # Every notebook by default: the chapters, then their worked solutions (where there are any).
    paths = args.notebooks or layout.lectures() + layout.solutions()
    info = nbrun.run_info(args.scale)
    failed = []
    for path in paths:
        try:
            seconds = refresh(path, args.scale, info, args.timeout)
            print(f"{path.name}: {seconds:.1f} s at {args.scale}", flush=True)
        except Exception as err:  # report every failure, keep the notebook as it was
            failed.append(path.name)
            print(f"{path.name}: FAILED ({type(err).__name__}: {str(err)[-2000:]})", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed, left unchanged: {', '.join(failed)}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
