"""pyproject.toml, environment.yml and constraints.txt stay in step."""

import re
import tomllib

from tools.layout import REPO

CONDA_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib"}  # conda name -> pip name
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject_packages() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        names |= {_name(r) for r in extra}
    return names


def conda_packages() -> set[str]:
    text = (REPO / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1]
    names = {_name(line.strip()[2:]) for line in deps.splitlines() if line.strip().startswith("- ")}
    return {CONDA_NAMES.get(n, n) for n in names} - CONDA_ONLY


def test_environment_yml_lists_what_pyproject_lists():
    assert conda_packages() == pyproject_packages()


def test_runtime_dependencies_are_lower_bounds_only():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert ">=" in requirement and "==" not in requirement and "<" not in requirement
    assert {_name(r) for r in project["dependencies"]} == {
        "torch", "torchvision", "numpy", "pandas", "matplotlib"}


def test_constraints_pin_every_declared_package():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    missing = {n for n in pyproject_packages() if n.replace("_", "-") not in pins}
    assert not missing, f"constraints.txt lacks {sorted(missing)}"
