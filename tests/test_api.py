"""The package's public API is what the notebooks use, reached one way: `d2l.name`."""

import re
from pathlib import Path

import nbformat

import d2lutils
from tools import layout

NOTEBOOKS = layout.lectures()
# The worked solutions follow the same style, but no export may exist for them alone: a course
# that deletes solutions/ must still pass test_every_export_has_a_notebook_that_uses_it.
SOLUTIONS = layout.solutions()
IMPORT = re.compile(r"^\s*(?:from|import)\s+d2lutils\b.*$", re.MULTILINE)
USE = re.compile(r"\bd2l\.(\w+)")
# Exported though no notebook calls them: book helpers a student meets in the book's own code,
# and the type train_ch3 / train_ch6 return.
BOOK_ONLY = {"Accumulator", "set_figsize", "TrainResult"}


def code(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_notebooks_import_the_package_one_way():
    for path in NOTEBOOKS + SOLUTIONS:
        imports = [line.strip() for line in IMPORT.findall(code(path))]
        assert imports == ["import d2lutils as d2l"], (path.name, imports)


def test_every_name_a_notebook_uses_is_exported():
    for path in NOTEBOOKS + SOLUTIONS:
        used = set(USE.findall(code(path)))
        # a module such as d2l.data is not exported: `d2l.data.x` is the style this rules out
        assert used <= set(d2lutils.__all__), (path.name, sorted(used - set(d2lutils.__all__)))


def test_every_export_has_a_notebook_that_uses_it():
    used = set().union(*(USE.findall(code(path)) for path in NOTEBOOKS))
    assert set(d2lutils.__all__) - used == BOOK_ONLY
    assert all(hasattr(d2lutils, name) for name in d2lutils.__all__)
