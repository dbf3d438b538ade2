"""benchmarks/chapters.py: chapters run as plain scripts; their own assertions decide the status."""

import importlib.util
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("chapters", REPO / "benchmarks" / "chapters.py")
chapters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chapters)


def write_notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)
    return path


def test_chapter_results_are_collected(tmp_path):
    nb = write_notebook(
        tmp_path / "90-demo.ipynb",
        "import os\nfrom d2lutils.training import TrainResult\nscale = os.environ['D2L_SCALE']",
        "run = TrainResult(0.5, 0.8, 0.75, examples_per_sec=1000.0, train_seconds=2.0)\n"
        "assert scale == 'smoke'")
    row = chapters.run_chapter(nb, "smoke", timeout=120)
    assert row["ok"] and row["error"] == ""
    assert row["results"] == {"run": {"test_acc": 0.75, "train_seconds": 2.0,
                                      "examples_per_sec": 1000.0}}
    table = chapters.markdown([row], "python benchmarks/chapters.py --scale smoke")
    assert "| 90-demo | `run` | 0.750 | 2.0 | 1,000 | cpu | passed |" in table


def test_a_failing_floor_marks_the_chapter_failed(tmp_path):
    nb = write_notebook(tmp_path / "91-floor.ipynb", "acc = 0.5",
                        "assert acc >= 0.8, f'test accuracy {acc} is under the floor 0.8'")
    row = chapters.run_chapter(nb, "smoke", timeout=120)
    assert not row["ok"] and "under the floor 0.8" in row["error"]
    assert "FAILED: AssertionError: test accuracy 0.5" in chapters.markdown([row], "cmd")


def test_default_chapters_are_the_training_ones():
    script = chapters.notebook_script(REPO / "notebooks" / "13-dropout.ipynb")
    assert "train_ch3" in script and chapters.MARKER in script
    assert {"09", "13", "23", "29"} <= set(chapters.CHAPTERS)
