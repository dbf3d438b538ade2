"""Write the README's course index and RESULTS.md's tables from the notebooks' run records.

`make course`, `make chapters --record` and the seed sweep keep each run's minutes and results in
its notebook's metadata (`d2l.runs` per scale, `d2l.seeds` per scale and seed). The numbers in the
README and in benchmarks/RESULTS.md are written from there, between marker comments, and never by
hand; `--check` (run by the tests) fails when a file and the records disagree.

    .venv/bin/python -m tools.results          # rewrite the tables
    .venv/bin/python -m tools.results --check  # exit 1 if a table is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from tools import layout, nbrun

README = layout.REPO / "README.md"
RESULTS = layout.REPO / "benchmarks" / "RESULTS.md"
# The book's final test accuracy minus 0.01 for the chapters whose setting a GPU reproduces
# (book-results: the Chinese edition 2.0.0 on V100s). `make chapters SCALE=full` is compared
# with these; the lectures themselves assert only what any run must show.
BOOK_FLOORS = {"09-softmax-regression": 0.818, "10-mlp": 0.813, "13-dropout": 0.834,
               "23-lenet": 0.769, "24-alexnet": 0.873, "25-vgg": 0.910, "26-nin": 0.780,
               "27-googlenet": 0.876, "28-batch-norm": 0.797, "29-resnet": 0.883}


def metadata(path: Path) -> dict:
    return nbformat.read(path, as_version=4).metadata.get("d2l", {})


def title(path: Path) -> str:
    """The lecture's title: its first heading without the "第N讲" prefix."""
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return re.sub(r"^#\s*第\d+讲\s*", "", first).strip()


def headline(results: list[dict]) -> list[dict]:
    """The runs a table shows: those the notebook labelled, else its first run."""
    labelled = [r for r in results if r.get("label")]
    return labelled or results[:1]


def short_device(device: str) -> str:
    return "the CPU" if device.startswith("cpu") else device


def accs(results: list[dict]) -> str:
    return " / ".join(f"{r['test_acc']:.3f}" for r in headline(results))


def index_cell(run: dict | None, name_device: bool) -> str:
    """Minutes of a scale's stored run, with its device where asked and its test accuracy."""
    if run is None:
        return "n/m"
    text = f"{run['minutes']:.1f}"
    if name_device:
        text += f" on {short_device(run['device'])}"
    return text + (f" (test acc {accs(run['results'])})" if run["results"] else "")


def course_index() -> str:
    """The README's index: each lecture, and the minutes (and accuracy) of its runs."""
    rows = ["| 讲 | notebook | minutes at quick (2-core CPU) | minutes at full |",
            "|---|---|---|---|"]
    for path in layout.lectures():
        runs = metadata(path).get("runs", {})
        rows.append(f"| {int(path.name[:2])} | [{title(path)}](notebooks/{path.name}) | "
                    f"{index_cell(runs.get('quick'), False)} | "
                    f"{index_cell(runs.get('full'), True)} |")
    return "\n".join(rows)


def check_value(value: float | bool) -> str:
    """A check's threshold as the table shows it; a check that is only switched on shows a tick."""
    return "✓" if isinstance(value, bool) else f"{value:g}"


def seed_row(name: str, seeds: dict[str, dict], checks: list[float | bool]) -> str:
    """One chapter's row: test accuracy seed by seed, each run's lowest, its checks, failures."""
    per_seed = [accs(run["results"]) for run in seeds.values()]
    lowest: dict[str, float] = {}  # each labelled run's lowest test accuracy over the seeds
    for run in seeds.values():
        for i, r in enumerate(headline(run["results"])):
            label = nbrun.result_name(r, i)
            lowest[label] = min(lowest.get(label, 1.0), r["test_acc"])
    failed = [seed for seed, run in seeds.items() if not run["ok"]]
    cells = [name, ", ".join(seeds), "; ".join(per_seed),
             "; ".join(f"{label} {acc:.3f}" for label, acc in lowest.items()),
             ", ".join(check_value(c) for c in checks) or "-", ", ".join(failed) or "none",
             f"{max(run['minutes'] for run in seeds.values()):.1f}"]
    return "| " + " | ".join(cells) + " |"


def seed_table(scale: str = "quick") -> str:
    """Every training chapter's test accuracy at `scale`, seed by seed (a row per chapter)."""
    rows = []
    for path in nbrun.training_chapters():
        seeds = metadata(path).get("seeds", {}).get(scale, {})
        if seeds:
            checks = [c[scale] for c in nbrun.scale_checks(path) if scale in c]
            rows.append(seed_row(path.stem, seeds, checks))
    header = ["chapter", "seeds", "test acc by seed", "lowest, run by run", "checks",
              "failed seeds", "most minutes"]
    return "\n".join(["| " + " | ".join(header) + " |", "|---" * len(header) + "|", *rows])


def full_table() -> str:
    """The recorded full-scale runs of the training chapters, beside the book's floors."""
    rows = []
    for path in nbrun.training_chapters():
        run = metadata(path).get("runs", {}).get("full")
        if run is None or not run["results"]:
            continue
        book = BOOK_FLOORS.get(path.stem)
        for i, r in enumerate(run["results"]):
            verdict = "-" if book is None else ("met" if r["test_acc"] >= book else "below")
            rows.append(f"| {path.stem} | {nbrun.result_name(r, i)} | {r['test_acc']:.3f} | "
                        f"{book if book is not None else '-'} | {verdict} | "
                        f"{r['train_seconds']:.1f} | {r['examples_per_sec']:,} | {r['device']} |")
    return "\n".join(["| chapter | run | test acc | book floor | | training s | examples/s | "
                      "device |", "|---|---|---|---|---|---|---|---|", *rows])


TABLES = {README: {"course-index": course_index},
          RESULTS: {"quick-seeds": seed_table, "full-scale": full_table}}


def rendered(text: str, tables: dict) -> str:
    """`text` with each marked table replaced by its freshly written version."""
    for name, make in tables.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        marked = pattern.search(text)
        if marked is None:
            raise SystemExit(f"results: no <!-- {name}:start/end --> markers")
        start, end = marked.span()
        text = text[:start] + marked.group(1) + make() + "\n" + marked.group(2) + text[end:]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report tables out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, tables in TABLES.items():
        old = path.read_text(encoding="utf-8")
        new = rendered(old, tables)
        if new != old:
            stale.append(path.relative_to(layout.REPO))
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run python -m tools.results",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
