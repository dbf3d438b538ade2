"""Running a notebook: its scale and seed, what the run used, and the results it produced.

Three commands run notebooks, each for its own purpose, and all of them through this module:
`run_notebooks.py` (`make course`) executes notebooks in a Jupyter kernel and stores the outputs,
`seed_sweep.py` executes one once per seed and reports its results, and `chapters.py`
(`make chapters`) runs the training chapters' code as plain scripts, so that a GPU node needs no
Jupyter. A run's results are the `TrainResult`s its notebook leaves behind.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from d2lutils.devices import describe_machine
from d2lutils.scales import SCALES, ScaleError
from tools import layout

MARKER = "D2L-RESULTS "
# The book's loops that return a TrainResult: a notebook that calls one is a training chapter.
TRAINS = re.compile(r"\bd2l\.train_ch[36]\(")


def code_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells, read as plain JSON so no Jupyter is needed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code"]


def is_training_chapter(path: Path) -> bool:
    """True when the notebook's code calls train_ch3 or train_ch6, whose results it reports."""
    return any(TRAINS.search(source) for source in code_cells(path))


def training_chapters() -> list[Path]:
    """The chapters `make chapters` runs, found from the notebooks themselves."""
    return [path for path in layout.lectures() if is_training_chapter(path)]


def run_env(scale: str, seed: int | None = None) -> dict[str, str]:
    """The variables a run sets: D2L_SCALE, and D2L_SEED when a seed is given."""
    if scale not in SCALES:
        raise ScaleError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}")
    return {"D2L_SCALE": scale} | ({} if seed is None else {"D2L_SEED": str(seed)})


def run_info(scale: str) -> dict[str, str]:
    """What a run used, for a notebook's metadata: scale, device, Python and library versions.

    No timestamps, so a re-run changes only what really changed.
    """
    import matplotlib
    import numpy
    import pandas
    import torch
    import torchvision

    return {"scale": scale, "device": describe_machine(), "python": platform.python_version(),
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": numpy.__version__, "pandas": pandas.__version__,
            "matplotlib": matplotlib.__version__}


# --------------------------------------------------------------------------- results

def _report_results(namespace: dict, marker: str) -> None:
    """Print every TrainResult in a notebook's namespace as one JSON line after `marker`.

    Its source runs as the notebook's last cell, so it imports what it needs itself. Results
    held in a tuple, list or dict (chapter 36 returns them with other figures) are found too.
    """
    import json

    from d2lutils.devices import describe_machine
    from d2lutils.training import TrainResult

    found, seen = {}, set()
    for name, value in list(namespace.items()):
        if name.startswith("_") or name in ("In", "Out"):  # IPython's history holds copies
            continue
        if isinstance(value, dict):
            candidates = [(f"{name}[{key!r}]", item) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            candidates = [(f"{name}[{i}]", item) for i, item in enumerate(value)]
        else:
            candidates = [(name, value)]
        for label, item in candidates:
            if isinstance(item, TrainResult) and id(item) not in seen:
                seen.add(id(item))
                found[label] = {"test_acc": item.test_acc, "train_seconds": item.train_seconds,
                                "examples_per_sec": item.examples_per_sec}
    print(marker + json.dumps({"device": describe_machine(), "results": found}), flush=True)


_SOURCE = inspect.getsource(_report_results)
REPORT = f"{_SOURCE}\n_report_results(globals(), {MARKER!r})\n"  # a notebook's last cell
# A script reports at exit, after a failed assertion too: a chapter that misses one floor still
# records its other results and timings.
SCRIPT_REPORT = (f"{_SOURCE}\nimport atexit as _atexit\n\n"
                 f"_atexit.register(_report_results, globals(), {MARKER!r})\n")


def read_report(text: str) -> dict:
    """The device and results a report printed into `text`, or empty ones if it never ran."""
    lines = [line for line in text.splitlines() if line.startswith(MARKER)]
    return json.loads(lines[-1][len(MARKER):]) if lines else {"device": None, "results": {}}


@dataclass
class Run:
    """One run of one notebook: whether it passed, how long it took, and its TrainResults."""

    notebook: str
    scale: str
    seed: int | None
    ok: bool
    error: str
    seconds: float
    device: str | None = None
    results: dict[str, dict] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: the notebook, the run, its status and each result's test accuracy."""
        seed = "" if self.seed is None else f" seed {self.seed}"
        status = "ok" if self.ok else f"FAILED {self.error}"
        accs = ", ".join(f"{name} {r['test_acc']:.3f}" for name, r in self.results.items())
        return f"{self.notebook} {self.scale}{seed}: {status} ({self.seconds:.0f} s) {accs}".strip()


# --------------------------------------------------------------------------- two ways to run

def execute(path: Path, scale: str, seed: int | None = None, timeout: int = 3600,
            report: bool = False, allow_errors: bool = False):
    """Execute a notebook in a Jupyter kernel, in its own folder; return it with its Run.

    `report` collects its TrainResults (from a last cell, removed again); `allow_errors` runs
    on past a failing cell, which the Run then names, instead of raising CellExecutionError.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if report:
        nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=os.environ | run_env(scale, seed))
    seconds = time.perf_counter() - start
    found = {}
    if report:
        found = read_report("".join(o.get("text", "") for o in nb.cells.pop().outputs))
    errors = [f"cell {i} ({o.ename}: {o.evalue[:200]})" for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    return nb, Run(path.stem, scale, seed, not errors, "; ".join(errors), seconds, **found)


def run_script(path: Path, scale: str, seed: int | None = None, timeout: int = 3600) -> Run:
    """Run a notebook's code cells as one script in a fresh interpreter, no Jupyter needed.

    It runs in the notebook's folder with matplotlib off-screen; the notebook's own assertions,
    accuracy floors included, decide whether it passed.
    """
    env = os.environ | run_env(scale, seed) | {"MPLBACKEND": "Agg"}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as f:
        f.write("\n\n".join([SCRIPT_REPORT, *code_cells(path)]) + "\n")
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, f.name], cwd=path.parent, env=env, text=True,
                              capture_output=True, timeout=timeout)
        output, ok = proc.stdout, proc.returncode == 0
        last = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        error = "" if ok else last[0]
    except subprocess.TimeoutExpired:
        output, ok, error = "", False, f"timed out after {timeout} s"
    finally:
        os.unlink(f.name)
    return Run(path.stem, scale, seed, ok, error, time.perf_counter() - start,
               **read_report(output))
