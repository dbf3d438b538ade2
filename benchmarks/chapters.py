"""Run the training chapters as plain Python on a GPU node (no Jupyter needed) and tabulate them.

    python benchmarks/chapters.py                      # chapters 09-13 and 23-29 at full scale
    python benchmarks/chapters.py --scale smoke notebooks/23-lenet.ipynb

It needs only the course's run-time packages (torch, torchvision, numpy, pandas, matplotlib) and
d2lutils (`pip install --no-deps -e .` in a clone). Each notebook's code cells run top to bottom
in a fresh interpreter (matplotlib off-screen), so its own assertions, accuracy floors included,
decide whether the chapter passed. Every
`TrainResult` the chapter leaves behind is recorded: test accuracy, training seconds,
examples/second and device. Writes build/chapters/<scale>.json and, with --markdown, the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = ("09", "10", "11", "12", "13", "23", "24", "25", "26", "27", "28", "29")
MARKER = "CHAPTER-RESULTS "

# Appended to each chapter: report every TrainResult by the variable that holds it.
REPORT = f"""
import json as _json
import torch as _torch
print({MARKER!r} + _json.dumps({{
    "device": _torch.cuda.get_device_name(0) if _torch.cuda.is_available() else "cpu",
    "results": {{_k: {{"test_acc": _v.test_acc, "train_seconds": _v.train_seconds,
                      "examples_per_sec": _v.examples_per_sec}}
                for _k, _v in list(globals().items()) if type(_v).__name__ == "TrainResult"}},
}}))
"""


def notebook_script(path: Path) -> str:
    """The notebook's code cells as one script, followed by the results report."""
    nb = json.loads(path.read_text(encoding="utf-8"))  # plain JSON: no Jupyter packages needed
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return "\n\n".join(cells) + "\n" + REPORT


def run_chapter(path: Path, scale: str, timeout: int) -> dict:
    """Run one chapter in a child interpreter; return its results, wall time and status."""
    env = dict(os.environ, D2L_SCALE=scale, MPLBACKEND="Agg")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as f:
        f.write(notebook_script(path))
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, f.name], cwd=path.parent, env=env, text=True,
                              capture_output=True, timeout=timeout)
        output, ok = proc.stdout, proc.returncode == 0
        error = proc.stderr.strip().splitlines()[-1] if not ok and proc.stderr.strip() else ""
    except subprocess.TimeoutExpired:
        output, ok, error = "", False, f"timed out after {timeout} s"
    finally:
        os.unlink(f.name)
    row = {"chapter": path.stem, "scale": scale, "ok": ok, "error": error,
           "wall_seconds": time.perf_counter() - start, "device": None, "results": {}}
    for line in output.splitlines():
        if line.startswith(MARKER):
            row.update(json.loads(line[len(MARKER):]))
    return row


def markdown(rows: list[dict], command: str) -> str:
    """One table row per TrainResult; chapters that failed say why."""
    lines = ["| chapter | result | test acc | training s | examples/s | device | status |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        status = "passed" if row["ok"] else f"FAILED: {row['error']}"
        for name, r in row["results"].items() or [("-", None)]:
            if r is None:
                lines.append(f"| {row['chapter']} | - | - | - | - | {row['device']} | {status} |")
                continue
            lines.append(f"| {row['chapter']} | `{name}` | {r['test_acc']:.3f} | "
                         f"{r['train_seconds']:.1f} | {r['examples_per_sec']:,.0f} | "
                         f"{row['device']} | {status} |")
    total = sum(r["train_seconds"] for row in rows for r in row["results"].values())
    lines += ["", f"Total training time: {total:.0f} s. Produced by `{command}`."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--scale", default="full", choices=("smoke", "quick", "full"))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per chapter")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    paths = args.notebooks or sorted(p for n in CHAPTERS
                                     for p in (REPO / "notebooks").glob(f"{n}-*.ipynb"))
    rows = []
    for path in paths:
        row = run_chapter(path.resolve(), args.scale, args.timeout)
        accs = ", ".join(f"{k} {v['test_acc']:.3f}" for k, v in row["results"].items())
        print(f"{path.stem}: {'ok' if row['ok'] else 'FAILED ' + row['error']} "
              f"({row['wall_seconds']:.0f} s) {accs}", flush=True)
        rows.append(row)
    out = REPO / "build" / "chapters"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.scale}.json").write_text(json.dumps(rows, indent=1))
    command = "python benchmarks/chapters.py " + " ".join(sys.argv[1:])
    table = markdown(rows, command.strip())
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
