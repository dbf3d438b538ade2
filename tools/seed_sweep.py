"""Execute a notebook once per seed (without saving it) and report every TrainResult it made.

This is how the accuracy floors in the notebooks were chosen: a floor must hold for every seed
swept here, at the scale it guards. Example:

    .venv/bin/python tools/seed_sweep.py notebooks/23-lenet.ipynb --scale quick --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from chapters import MARKER, REPORT  # noqa: E402  (the same TrainResult report as the GPU runner)


def sweep_once(path: Path, scale: str, seed: int, timeout: int,
               show: list[int]) -> tuple[dict, float]:
    """Run the notebook at `scale` with D2L_SEED=seed; return test accuracies and seconds."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    os.environ.update(D2L_SCALE=scale, D2L_SEED=str(seed))
    start = time.perf_counter()
    # allow_errors: a missed floor is reported with the accuracies instead of stopping the sweep
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    failed = [f"{i} ({o.ename}: {o.evalue[:200]})" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    report = json.loads(text.split(MARKER, 1)[1])
    accs = {name: r["test_acc"] for name, r in report["results"].items()}
    if failed:
        accs["FAILED cells"] = failed
    for index in show:  # cells whose printed results matter beyond the TrainResults
        accs[f"cell {index}"] = "".join(o.get("text", "") for o in nb.cells[index].outputs).strip()
    return accs, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--show", nargs="*", type=int, default=[],
                        help="indices of cells whose printed output to report as well")
    args = parser.parse_args()
    for path in args.notebooks:
        for seed in args.seeds:
            accs, seconds = sweep_once(path.resolve(), args.scale, seed, args.timeout,
                                        args.show)
            shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in accs.items())
            print(f"{path.name} {args.scale} seed {seed}: {shown} ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
