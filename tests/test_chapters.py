"""tools/nbrun.py and the commands on it: scale and seed reach the notebook, its training runs
are recorded, its own assertions decide the status, and the training chapters find themselves."""

import json

import nbformat
import pytest

from tools import chapters, layout, nbrun

RESULT_CELL = ("import os\nimport torch\nfrom torch import nn\n\nimport d2lutils as d2l\n\n"
               "scale, seed = os.environ['D2L_SCALE'], os.environ.get('D2L_SEED')\n"
               "X, y = torch.rand(8, 1, 2, 2), torch.arange(8) % 2\n"
               "for label in ('tiny', None):  # a labelled run, then one without a label\n"
               "    d2l.train_ch6(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), [(X, y)], "
               "[(X, y)], 2, 0.1, 'cpu', animate=False, verbose=False, label=label)")


def check_recorded(results: list[dict]) -> None:
    """Both training runs came back, in order, with what a run record keeps."""
    assert [r["label"] for r in results] == ["tiny", None]
    for r in results:
        assert 0 <= r["test_acc"] <= 1 and r["epochs"] == 2 and r["device"] == "cpu"
        assert r["train_seconds"] > 0 and r["examples_per_sec"] > 0


def write_notebook(path, *cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)
    return path


def outputs(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return json.dumps([cell.outputs for cell in nb.cells if cell.cell_type == "code"])


def test_a_script_run_records_each_training_run(tmp_path):
    nb = write_notebook(tmp_path / "90-demo.ipynb", RESULT_CELL,
                        "assert (scale, seed) == ('smoke', '3')")
    run = nbrun.run_script(nb, "smoke", seed=3, timeout=120)
    assert run.ok and run.error == ""
    check_recorded(run.results)
    assert run.device == nbrun.describe_machine()
    table = chapters.markdown([run], "python -m tools.chapters --scale smoke")
    acc = f"{run.results[0]['test_acc']:.3f}"
    assert f"| 90-demo | tiny | {acc} |" in table and "| 90-demo | run 2 |" in table


def test_a_failing_floor_marks_the_chapter_failed_and_keeps_its_results(tmp_path):
    nb = write_notebook(tmp_path / "91-floor.ipynb", RESULT_CELL, "acc = 0.5",
                        "assert acc >= 0.8, f'test accuracy {acc} is under the floor 0.8'")
    run = nbrun.run_script(nb, "smoke", timeout=120)
    assert not run.ok and "under the floor 0.8" in run.error
    check_recorded(run.results)  # what ran before the assertion is still reported
    assert "FAILED: AssertionError: test accuracy 0.5" in chapters.markdown([run], "cmd")


def test_a_kernel_run_gets_the_scale_and_seed_and_records(tmp_path):
    nb_path = write_notebook(tmp_path / "92-kernel.ipynb", RESULT_CELL, "print(scale, seed)",
                             "assert False, 'a missed floor'")
    nb, run = nbrun.execute(nb_path, "quick", seed=7, timeout=120, allow_errors=True)
    assert len(nb.cells) == 4  # nothing was added to the notebook
    assert nb.cells[2].outputs[0].text == "quick 7\n"
    check_recorded(run.results)
    assert not run.ok and run.error == "cell 3 (AssertionError: a missed floor)"
    assert run.summary().startswith("92-kernel quick seed 7: FAILED cell 3")


def test_records_keep_each_scale_and_seed_apart(tmp_path):
    nb = nbformat.v4.new_notebook()
    result = {"label": None, "test_acc": 0.81234, "epochs": 3, "train_seconds": 12.345,
              "examples_per_sec": 1234.5, "device": "cpu"}
    for scale, seed, seconds in (("quick", None, 150), ("full", None, 600), ("quick", 2, 90),
                                 ("quick", 10, 80)):
        nbrun.record(nb, nbrun.Run("x", scale, seed, True, "", seconds, "cpu (x86_64, 2 cores)",
                                   [result]))
    meta = nb.metadata["d2l"]
    assert meta["runs"]["quick"]["minutes"] == 2.5 and meta["runs"]["full"]["minutes"] == 10.0
    assert meta["runs"]["quick"]["results"][0]["test_acc"] == 0.812
    assert list(meta["seeds"]["quick"]) == ["2", "10"] and meta["seeds"]["quick"]["2"]["ok"]


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
