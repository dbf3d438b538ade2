"""`make bench`: the course's helpers against the book's own (d2l==1.0.3), side by side.

Each measurement runs in a fresh process; pairs are interleaved (book, ours, book, ours) and the
median is reported, since timings on a shared machine are noisy. Repeat i uses seed i on both
sides, so LeNet's test accuracy is compared as a mean over seeds: one seed is one draw of a
training run whose result spreads by a few points (sigmoid LeNet at lr 0.9 is still mid-way).
Peak memory is the resident set of the whole process tree (DataLoader workers included), sampled
every 20 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import torch

from d2lutils.devices import describe_machine
from tools import layout

HERE = Path(__file__).resolve().parent
OUT = layout.BUILD / "bench"
SIDES = ("book", "ours")


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:  # the child has just exited
        return 0
    for p in family:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_one(task: str, side: str, arg: int, seed: int) -> dict:
    """Run one task in a child process; return its JSON result plus peak tree memory."""
    child = subprocess.Popen([sys.executable, str(HERE / "tasks.py"), task, side, str(arg),
                              str(seed)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    proc = psutil.Process(child.pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate(timeout=3600)
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{task}/{side} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


def measure(task: str, arg: int, repeats: int, metric: str) -> dict:
    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    for seed in range(repeats):
        for side in SIDES:  # interleaved: A B A B
            runs[side].append(run_one(task, side, arg, seed))
            print(f"  {task} {arg} {side}: {runs[side][-1][metric]:.2f} {metric}", flush=True)
    summary = {}
    for side in SIDES:  # timings: medians; accuracy: a mean over the seeds
        summary[side] = {key: (statistics.fmean if key == "test_acc" else statistics.median)(
                             r[key] for r in runs[side])
                         for key, value in runs[side][0].items() if isinstance(value, float)}
    return {"task": task, "arg": arg, "metric": metric, "runs": runs, "median": summary}


def table(results: list[dict]) -> str:
    rows = ["| benchmark | book (d2l 1.0.3) | ours (d2lutils) | ratio | peak MB book / ours |",
            "|---|---|---|---|---|"]
    for r in results:
        book, ours = r["median"]["book"], r["median"]["ours"]
        metric = r["metric"]
        faster = ours[metric] / book[metric] if metric != "seconds_per_epoch" else (
            book[metric] / ours[metric])
        unit = {"images_per_sec": "img/s", "examples_per_sec": "ex/s",
                "seconds_per_epoch": "s/epoch"}[metric]
        name = {"data": f"data pass, {r['arg']} px", "lenet": f"LeNet, {r['arg']} epochs",
                "cnn": f"ResNet-18 96 px, {r['arg']} batches"}[r["task"]]
        rows.append(f"| {name} | {book[metric]:,.1f} {unit} | {ours[metric]:,.1f} {unit} | "
                    f"{faster:.1f}x | {book['peak_rss_mb']:,.0f} / {ours['peak_rss_mb']:,.0f} |")
        if r["task"] == "lenet":
            accs = {side: " / ".join(f"{run['test_acc']:.3f}" for run in r["runs"][side])
                    for side in SIDES}
            rows.append(f"| LeNet test accuracy after {r['arg']} epochs, mean of "
                        f"{len(r['runs']['ours'])} seeds | {book['test_acc']:.3f} ({accs['book']}) "
                        f"| {ours['test_acc']:.3f} ({accs['ours']}) | "
                        f"diff {ours['test_acc'] - book['test_acc']:+.3f} | |")
    return "\n".join(rows)


def targets(results: list[dict]) -> list[str]:
    """The 2-core CI machine's targets, each with the measured value and met / MISSED."""
    lines = []

    def check(name: str, value: str, ok: bool) -> None:
        lines.append(f"- {name}: {value} ({'met' if ok else 'MISSED'})")

    for r in results:
        book, ours = r["median"]["book"], r["median"]["ours"]
        if r["task"] == "data" and r["arg"] == 28:
            ratio = ours["images_per_sec"] / book["images_per_sec"]
            check("data pass at 28 px >= 20x", f"{ratio:.1f}x", ratio >= 20)
        if r["task"] == "lenet":
            ratio = book["seconds_per_epoch"] / ours["seconds_per_epoch"]
            check("LeNet wall time per epoch >= 2.5x faster", f"{ratio:.1f}x", ratio >= 2.5)
            diff = ours["test_acc"] - book["test_acc"]
            check("LeNet mean test accuracy within 0.02", f"{diff:+.3f}", abs(diff) <= 0.02)
        check(f"peak memory ours <= book ({r['task']} {r['arg']})",
              f"{ours['peak_rss_mb']:,.0f} vs {book['peak_rss_mb']:,.0f} MB",
              ours["peak_rss_mb"] <= book["peak_rss_mb"])
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=["data", "lenet", "cnn"])
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved pairs per benchmark; repeat i uses seed i")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    plan = []
    if "data" in args.only:
        plan += [("data", size, "images_per_sec") for size in (28, 96, 224)]
    if "lenet" in args.only:
        plan.append(("lenet", args.epochs, "seconds_per_epoch"))
    if "cnn" in args.only:
        plan.append(("cnn", 20, "examples_per_sec"))
    machine = f"{describe_machine()}, torch {torch.__version__}"
    print(f"benchmarking on {machine}", flush=True)
    results = [measure(task, arg, args.repeats, metric) for task, arg, metric in plan]
    text = table(results)
    text += f"\n\nMedians of {args.repeats} interleaved runs each, on {machine}.\n\n"
    text += "\n".join(targets(results))
    print(f"\n{text}")
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"bench-{stamp}.json").write_text(json.dumps(
        {"machine": machine, "repeats": args.repeats, "results": results}, indent=1))
    (OUT / "latest.md").write_text(text + "\n")
    print(f"wrote {OUT / f'bench-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
