"""tools/nbrun.py and the commands on it: scale and seed reach the notebook, its TrainResults
come back, its own assertions decide the status, and the training chapters find themselves."""

import json

import nbformat
import pytest

from tools import chapters, layout, nbrun

RESULT_CELL = ("import os\nfrom d2lutils.training import TrainResult\n"
               "scale, seed = os.environ['D2L_SCALE'], os.environ.get('D2L_SEED')\n"
               "run = TrainResult(0.5, 0.8, 0.75, examples_per_sec=1000.0, train_seconds=2.0)\n"
               "pair = (run, TrainResult(0.4, 0.9, 0.85))  # the same run again, and one more")
RUN = {"test_acc": 0.75, "train_seconds": 2.0, "examples_per_sec": 1000.0}


def write_notebook(path, *cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)
    return path


def outputs(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return json.dumps([cell.outputs for cell in nb.cells if cell.cell_type == "code"])


def test_a_script_run_reports_each_train_result_once(tmp_path):
    nb = write_notebook(tmp_path / "90-demo.ipynb", RESULT_CELL,
                        "assert (scale, seed) == ('smoke', '3')")
    run = nbrun.run_script(nb, "smoke", seed=3, timeout=120)
    assert run.ok and run.error == ""
    assert run.results == {"run": RUN, "pair[1]": {"test_acc": 0.85, "train_seconds": 0.0,
                                                   "examples_per_sec": 0.0}}
    assert run.device == nbrun.describe_machine()
    table = chapters.markdown([run], "python -m tools.chapters --scale smoke")
    assert f"| 90-demo | `run` | 0.750 | 2.0 | 1,000 | {run.device} | passed |" in table


def test_a_failing_floor_marks_the_chapter_failed_and_keeps_its_results(tmp_path):
    nb = write_notebook(tmp_path / "91-floor.ipynb", RESULT_CELL, "acc = 0.5",
                        "assert acc >= 0.8, f'test accuracy {acc} is under the floor 0.8'")
    run = nbrun.run_script(nb, "smoke", timeout=120)
    assert not run.ok and "under the floor 0.8" in run.error
    assert run.results["run"] == RUN  # what ran before the assertion is still reported
    assert "FAILED: AssertionError: test accuracy 0.5" in chapters.markdown([run], "cmd")


def test_a_kernel_run_gets_the_scale_and_seed_and_reports(tmp_path):
    nb_path = write_notebook(tmp_path / "92-kernel.ipynb", RESULT_CELL, "print(scale, seed)",
                             "assert False, 'a missed floor'")
    nb, run = nbrun.execute(nb_path, "quick", seed=7, timeout=120, report=True,
                            allow_errors=True)
    assert len(nb.cells) == 4  # the report cell is gone again
    assert nb.cells[2].outputs[0].text == "quick 7\n"
    assert run.results["run"] == RUN and not run.ok
    assert run.error == "cell 3 (AssertionError: a missed floor)"
    assert run.summary().startswith("92-kernel quick seed 7: FAILED cell 3")


def test_unknown_scale_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="huge.*smoke, quick, full"):
        nbrun.run_script(write_notebook(tmp_path / "93-x.ipynb", "1"), "huge")


def test_training_chapters_are_the_notebooks_that_call_the_training_loops(tmp_path):
    trains = write_notebook(tmp_path / "94-a.ipynb", "r = d2l.train_ch6(net, a, b, 1, 0.1, dev)")
    mentions = write_notebook(tmp_path / "95-b.ipynb", "# compare d2l.train_ch3 with this loop")
    nb = json.loads(mentions.read_text())
    nb["cells"][0]["source"] = "`d2l.train_ch6(...)` in prose does not count"
    mentions.write_text(json.dumps(nb))
    assert nbrun.is_training_chapter(trains)
    assert not nbrun.is_training_chapter(mentions)
    # A second witness: the stored outputs of exactly these notebooks show the loops' summary.
    summarised = {p for p in layout.lectures() if "examples/sec on" in outputs(p)}
    assert set(nbrun.training_chapters()) == summarised
    assert {"36", "37"} <= {p.name[:2] for p in summarised}  # missing from the old hand list
