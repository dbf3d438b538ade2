"""tools/gpu_check.py: the one-call GPU check, tested on the CPU with the simulated accelerator."""

import gzip
import hashlib

import nbformat
import pytest

from d2lutils import data
from tools import gpu_check


def test_the_data_travels_as_a_bundle_and_arrives_verified(tmp_path, monkeypatch):
    payload = b"fashion" * 1000
    source = tmp_path / "source.gz"
    source.write_bytes(gzip.compress(payload))
    spec = data.DataFile(name="demo/file.bin", algo="sha256",
                         digest=hashlib.sha256(payload).hexdigest(), system_paths=(str(source),))
    monkeypatch.setattr(data, "FILES", {spec.name: spec})
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "here"))
    gpu_check.bundle(tmp_path / "bundle")
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "there"))
    gpu_check.unbundle(tmp_path / "bundle")
    assert data.ensure(spec.name).read_bytes() == payload


def test_a_notebook_runs_as_a_script_on_the_simulated_device(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import torch\nimport d2lutils as d2l\n"
        "X = torch.ones(2, device=d2l.try_gpu())\nassert X.device.type == 'sim'")])
    nbformat.write(nb, tmp_path / "90-probe.ipynb")
    [run] = gpu_check.run_all([tmp_path / "90-probe.ipynb"], "smoke", gpu_check.SIMULATE, 1, 120)
    assert run.ok, run.error


def test_without_a_gpu_it_says_so(capsys):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    assert gpu_check.main(["--out", "/nonexistent/never-written"]) == 2
    assert "--simulate" in capsys.readouterr().err
