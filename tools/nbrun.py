"""Running a notebook: its scale and seed, what the run used, and the results it produced.

Three commands run notebooks, each for its own purpose, and all of them through this module:
`run_notebooks.py` (`make course`) executes notebooks in a Jupyter kernel and stores the outputs,
`seed_sweep.py` executes one once per seed and reports its results, and `chapters.py`
(`make chapters`) runs the training chapters' code as plain scripts, so that a GPU node needs no
Jupyter. A run's results are the training runs its notebook made: `train_ch3` and `train_ch6`
append each to the file named by $D2L_RESULTS, which the runner sets and reads back.
"""
from __future__ import annotations

import ast
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
from d2lutils.scales import ENV_VAR, SCALES, SEED_VAR, ScaleError
from d2lutils.training import RESULTS_VAR
from tools import layout

# The book's loops that return a TrainResult: a notebook that calls one is a training chapter.
TRAINS = re.compile(r"\bd2l\.train_ch[36]\(")


def code_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells, read as plain JSON so no Jupyter is needed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code"]


def is_training_chapter(path: Path) -> bool:
    """True when the notebook's code calls train_ch3 or train_ch6, whose results it reports."""
    return any(TRAINS.search(source) for source in code_cells(path))


def scale_checks(path: Path) -> list[dict]:
    """Each `d2l.by_scale(...)` check's values by scale, and whether its cell is hidden (a cell
    that slides and the site skip: slide type "skip")."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        hidden = cell["metadata"].get("slideshow", {}).get("slide_type") == "skip"
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "by_scale":
                values = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
                found.append(values | {"hidden": hidden})
    return found


def training_chapters() -> list[Path]:
    """The chapters `make chapters` runs, found from the notebooks themselves."""
    return [path for path in layout.lectures() if is_training_chapter(path)]


def run_env(scale: str, seed: int | None = None, results: Path | None = None) -> dict[str, str]:
    """The variables a run sets: its scale, its seed if given, and where to record results."""
    if scale not in SCALES:
        raise ScaleError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}")
    env = {ENV_VAR: scale}
    if seed is not None:
        env[SEED_VAR] = str(seed)
    if results is not None:
        env[RESULTS_VAR] = str(results)
    return env


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

def read_results(path: Path) -> list[dict]:
    """The training runs a notebook recorded (one JSON line each), in the order they ran."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def result_name(result: dict, i: int) -> str:
    """A run's label, or its place in the notebook where it has none."""
    return result.get("label") or f"run {i + 1}"


@dataclass
class Run:
    """One run of one notebook: whether it passed, how long it took, and its training runs."""

    notebook: str
    scale: str
    seed: int | None
    ok: bool
    error: str
    seconds: float
    device: str = field(default_factory=describe_machine)
    results: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the notebook, the run, its status and each result's test accuracy."""
        seed = "" if self.seed is None else f" seed {self.seed}"
        status = "ok" if self.ok else f"FAILED {self.error}"
        accs = ", ".join(f"{result_name(r, i)} {r['test_acc']:.3f}"
                         for i, r in enumerate(self.results))
        return f"{self.notebook} {self.scale}{seed}: {status} ({self.seconds:.0f} s) {accs}".strip()


# --------------------------------------------------------------------------- two ways to run

def execute(path: Path, scale: str, seed: int | None = None, timeout: int = 3600,
            allow_errors: bool = False):
    """Execute a notebook in a Jupyter kernel, in its own folder; return it with its Run.

    `allow_errors` runs on past a failing cell, which the Run then names, instead of raising
    CellExecutionError.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        start = time.perf_counter()
        client.execute(env=os.environ | run_env(scale, seed, results))
        seconds = time.perf_counter() - start
        found = read_results(results)
    errors = [f"cell {i} ({o.ename}: {o.evalue[:200]})" for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    return nb, Run(path.stem, scale, seed, not errors, "; ".join(errors), seconds,
                   results=found)


def run_script(path: Path, scale: str, seed: int | None = None, timeout: int = 3600,
               prelude: str = "") -> Run:
    """Run a notebook's code cells as one script in a fresh interpreter, no Jupyter needed.

    It runs in the notebook's folder with matplotlib off-screen; the notebook's own assertions,
    accuracy floors included, decide whether it passed. What it trained before a failed
    assertion is still recorded. `prelude` runs first, with the repository root importable
    (the GPU check's simulated accelerator).
    """
    with tempfile.TemporaryDirectory() as tmp:
        script, results = Path(tmp) / f"{path.stem}.py", Path(tmp) / "results.jsonl"
        script.write_text("\n\n".join([prelude, *code_cells(path)]) + "\n", encoding="utf-8")
        env = os.environ | run_env(scale, seed, results) | {"MPLBACKEND": "Agg"}
        if prelude:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(layout.REPO),
                                                              env.get("PYTHONPATH")]))
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(script)], cwd=path.parent, env=env,
                                  text=True, capture_output=True, timeout=timeout)
            ok = proc.returncode == 0
            last = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            error = "" if ok else last[0]
        except subprocess.TimeoutExpired:
            ok, error = False, f"timed out after {timeout} s"
        seconds = time.perf_counter() - start
        found = read_results(results)
    return Run(path.stem, scale, seed, ok, error, seconds, results=found)


# --------------------------------------------------------------------------- run records

def _rounded(result: dict) -> dict:
    """A result as a notebook's metadata keeps it: the digits that are shown, no more."""
    return {"label": result.get("label"), "test_acc": round(result["test_acc"], 3),
            "epochs": result["epochs"], "train_seconds": round(result["train_seconds"], 1),
            "examples_per_sec": round(result["examples_per_sec"]), "device": result["device"]}


def record(nb, run: Run) -> None:
    """Keep a run's minutes and results in the notebook's metadata, under its scale.

    `make course`, `make chapters` and the seed sweep record here; the README's index and
    RESULTS.md's tables are written from these records (`python -m tools.results`).
    """
    meta = nb.metadata.setdefault("d2l", {})
    entry = {"device": run.device, "minutes": round(run.seconds / 60, 1),
             "results": [_rounded(r) for r in run.results]}
    if run.seed is None:
        meta.setdefault("runs", {})[run.scale] = entry
    else:
        seeds = meta.setdefault("seeds", {}).setdefault(run.scale, {})
        seeds[str(run.seed)] = {"ok": run.ok, **entry}
        meta["seeds"][run.scale] = dict(sorted(seeds.items(), key=lambda kv: int(kv[0])))
