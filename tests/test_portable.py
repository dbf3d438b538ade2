"""tools/portable.py: each configuration really changes the CPU kernels and thread count."""

import platform
from pathlib import Path

import nbformat
import pytest

from tools import portable
from tools.layout import REPO

X86 = platform.machine().lower() in ("x86_64", "amd64")


def test_ci_configuration_exists_and_threads_match():
    ci = (REPO / ".ci" / "run").read_text()
    for name in ("scalar-1thread", "accelerator"):  # a CPU unlike this one, and a GPU
        assert f"make test-portable PORTABLE={name}" in ci and name in portable.CONFIGS
    for name in portable.CONFIGS:
        env = portable.settings(name)
        assert env.get("MKL_NUM_THREADS") == env.get("OMP_NUM_THREADS")


def test_other_cpus_vary_only_the_thread_count(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert portable.settings("scalar-1thread") == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def notebook_printing(path: Path, stored: str) -> Path:
    """A one-cell notebook that prints torch's kernel level and threads, with a stored output."""
    cell = nbformat.v4.new_code_cell(
        "import torch\nprint(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())",
        execution_count=1, outputs=[nbformat.v4.new_output("stream", name="stdout", text=stored)])
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.skipif(not X86, reason="ATen's kernel levels are x86 names")
def test_notebook_kernels_get_the_configured_kernels_and_threads(tmp_path):
    nb = notebook_printing(tmp_path / "probe.ipynb", "AVX2 3\n")
    args = ["--", str(nb), "--nbval", "--nbval-current-env", "-q", "-p", "no:cacheprovider"]
    assert portable.main(["--config", "avx2-3threads", *args]) == 0
    assert portable.main(["--config", "scalar-1thread", *args]) != 0


def test_the_accelerator_adds_its_sanitize_rules_to_the_given_ones(tmp_path):
    base = tmp_path / "base.cfg"
    base.write_text("[speed]\nregex: x\nreplace: y\n")
    args = portable.with_sanitize_rules(["nb", "--nbval-sanitize-with", str(base), "-q"],
                                        portable.ACCELERATOR_SANITIZE, tmp_path)
    combined = args[args.index("--nbval-sanitize-with") + 1]
    assert args[0] == "nb" and args[-1] == "-q" and combined != str(base)
    text = Path(combined).read_text()
    assert "[speed]" in text and "[accelerator_tensor]" in text
