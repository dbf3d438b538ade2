"""Execute a notebook once per seed (without saving its outputs) and report its training runs.

This is how the accuracy floors in the notebooks were chosen: a floor must hold for every seed
swept here, at the scale it guards. Each seed's minutes and results are also recorded in the
notebook's metadata (`d2l.seeds`), from which RESULTS.md's seed tables are written. Example:

    .venv/bin/python -m tools.seed_sweep notebooks/23-lenet.ipynb --scale quick --seeds 0 1 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from tools import nbrun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--scale", default="quick", choices=nbrun.SCALES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--show", nargs="*", type=int, default=[],
                        help="indices of cells whose printed output to report as well")
    parser.add_argument("--no-record", action="store_true",
                        help="leave the notebook's metadata as it is")
    args = parser.parse_args()
    for path in args.notebooks:
        for seed in args.seeds:
            # allow_errors: a missed floor is reported with the accuracies instead of stopping
            nb, run = nbrun.execute(path.resolve(), args.scale, seed, args.timeout,
                                    allow_errors=True)
            shown = [run.summary()] + [  # cells whose printed results matter beyond the runs
                f"cell {i}: " + "".join(o.get("text", "") for o in nb.cells[i].outputs).strip()
                for i in args.show]
            print("; ".join(shown), flush=True)
            if not args.no_record:  # re-read: only the metadata changes, never the outputs
                stored = nbformat.read(path, as_version=4)
                nbrun.record(stored, run)
                nbformat.write(stored, path)


if __name__ == "__main__":
    main()
