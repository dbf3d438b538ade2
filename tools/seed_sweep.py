"""Execute a notebook once per seed (without saving it) and report every TrainResult it made.

This is how the accuracy floors in the notebooks were chosen: a floor must hold for every seed
swept here, at the scale it guards. Example:

    .venv/bin/python -m tools.seed_sweep notebooks/23-lenet.ipynb --scale quick --seeds 0 1 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools import nbrun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--scale", default="quick", choices=nbrun.SCALES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--show", nargs="*", type=int, default=[],
                        help="indices of cells whose printed output to report as well")
    args = parser.parse_args()
    for path in args.notebooks:
        for seed in args.seeds:
            # allow_errors: a missed floor is reported with the accuracies instead of stopping
            nb, run = nbrun.execute(path.resolve(), args.scale, seed, args.timeout, report=True,
                                    allow_errors=True)
            shown = [run.summary()] + [  # cells whose printed results matter beyond TrainResults
                f"cell {i}: " + "".join(o.get("text", "") for o in nb.cells[i].outputs).strip()
                for i in args.show]
            print("; ".join(shown), flush=True)


if __name__ == "__main__":
    main()
