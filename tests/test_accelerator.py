"""tools/accelerator.py: the simulated device behaves as a GPU does, and `make test-portable
PORTABLE=accelerator` fails on the bugs a GPU server or a Mac would hit, and passes their fixes."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat

from tools import portable
from tools.layout import REPO


def test_the_device_checks_pass_in_a_process_of_their_own():
    """Installing the device is for good, so its checks (tests/accelerator_checks.py) run apart."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(REPO / "tests" / "accelerator_checks.py")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout

# --------------------------------------------------------------------------- planted bugs

DATA = "X = torch.rand(8, 3, device=d2l.try_gpu())\ny = torch.arange(8) % 2\n"
PLANTED = {  # the three bugs a GPU server meets, each with its fix
    "cpu-model": (
        "net = nn.Linear(3, 2)\nassert net(X).shape == (8, 2)",
        "net = nn.Linear(3, 2).to(d2l.try_gpu())\nassert net(X).shape == (8, 2)"),
    "equal-across-devices": (
        "assert not torch.equal(torch.ones(8, 3), X)",
        "assert not torch.equal(torch.ones(8, 3), X.cpu())"),
    "helper-keeps-batches": (
        "@torch.no_grad()\ndef mean_loss(net, batches):\n"
        "    return sum(float(nn.functional.cross_entropy(net(X), y)) for X, y in batches)\n"
        "net = nn.Linear(3, 2).to(d2l.try_gpu())\n"
        "assert mean_loss(net, [(X.cpu(), y)]) > 0",
        "@torch.no_grad()\ndef mean_loss(net, batches):\n"
        "    device = next(net.parameters()).device\n"
        "    return sum(float(nn.functional.cross_entropy(net(X.to(device)), y.to(device)))\n"
        "               for X, y in batches)\n"
        "net = nn.Linear(3, 2).to(d2l.try_gpu())\n"
        "assert mean_loss(net, [(X.cpu(), y)]) > 0"),
}


def planted_notebook(path, body: str):
    """A two-cell notebook whose stored outputs are the CPU's: nothing printed."""
    cells = [nbformat.v4.new_code_cell("import torch\nfrom torch import nn\n\n"
                                       "import d2lutils as d2l\n\n" + DATA, execution_count=1),
             nbformat.v4.new_code_cell(body, execution_count=2)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def failing_notebooks(config: list[str], folder, tmp_path) -> set[str]:
    """Run nbval over `folder` in the given portable configuration; the notebooks that failed."""
    report = tmp_path / f"report-{'-'.join(config) or 'cpu'}.xml"
    args = ["--", str(folder), "--nbval", "--nbval-current-env", "-q", "-p", "no:cacheprovider",
            f"--junitxml={report}"]
    options = [a for name in config for a in ("--config", name)]
    if options:
        portable.main([*options, *args])
    else:  # the machine as it is: a CPU
        subprocess.call([sys.executable, "-m", "pytest", *args[1:]])
    return {case.get("classname").removesuffix(".ipynb").rsplit(".", 1)[-1]  # folder.name.ipynb
            for case in ET.parse(report).getroot().iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None}


def test_the_configuration_catches_each_planted_bug_and_passes_its_fix(tmp_path):
    folder = tmp_path / "planted"
    folder.mkdir()
    for name, (bug, fix) in PLANTED.items():
        planted_notebook(folder / f"{name}-bug.ipynb", bug)
        planted_notebook(folder / f"{name}-fixed.ipynb", fix)
    assert failing_notebooks([], folder, tmp_path) == set(), "on the CPU every bug is invisible"
    failed = failing_notebooks(["accelerator"], folder, tmp_path)
    assert failed == {f"{name}-bug" for name in PLANTED}, failed
