"""The README's index and RESULTS.md's tables are written from the notebooks' run records."""

from tools import layout, results


def test_the_tables_agree_with_the_run_records():
    """A changed record (a re-run) or a hand-edited number makes this fail: run the generator."""
    assert results.main(["--check"]) == 0, "run: .venv/bin/python -m tools.results"


def test_every_lecture_is_indexed_from_its_metadata():
    index = results.course_index()
    assert all(f"(notebooks/{p.name})" in index for p in layout.lectures())
    assert index.count("\n") == len(layout.lectures()) + 1


def test_a_cell_shows_minutes_device_and_the_labelled_runs():
    run = {"minutes": 3.04, "device": "NVIDIA H100 80GB HBM3",
           "results": [{"label": None, "test_acc": 0.5}, {"label": "scratch", "test_acc": 0.8912},
                       {"label": "concise", "test_acc": 0.9}]}
    assert results.index_cell(run, True) == "3.0 on NVIDIA H100 80GB HBM3 (test acc 0.891 / 0.900)"
    first_only = {**run, "results": run["results"][:1]}
    assert results.index_cell(first_only, False) == "3.0 (test acc 0.500)"
    assert results.index_cell(None, False) == "n/m"


def test_the_readme_starts_with_the_course_and_stays_short():
    readme = (layout.REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.split()) < 1200
    lines = readme.splitlines()
    assert lines.index("<!-- course-index:start -->") < 25  # the index is on the first screen


def test_a_seed_row_names_each_runs_lowest_and_the_failed_seeds():
    run = {"minutes": 1.0, "results": [{"label": "Adam", "test_acc": 0.86},
                                       {"label": "SGD", "test_acc": 0.75}]}
    seeds = {"0": {**run, "ok": True},
             "1": {"ok": False, "minutes": 1.3,
                   "results": [{"label": "Adam", "test_acc": 0.10},
                               {"label": "SGD", "test_acc": 0.80}]}}
    row = results.seed_row("23-lenet", seeds, [0.8, True])
    assert row == ("| 23-lenet | 0, 1 | 0.860 / 0.750; 0.100 / 0.800 | Adam 0.100; SGD 0.750 | "
                   "0.8, ✓ | 1 | 1.3 |")
