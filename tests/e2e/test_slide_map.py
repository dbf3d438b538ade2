"""The slides the browser tests expect are the ones nbconvert makes (runs without a browser)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from e2e_support import slide_map


def test_slide_map_matches_nbconvert(notebook: Path):
    from nbconvert.exporters.slides import _RevealMetadataPreprocessor

    nb, _ = _RevealMetadataPreprocessor().preprocess(nbformat.read(notebook, as_version=4), {})
    starts = [i for i, c in enumerate(nb.cells) if c.metadata.get("subslide_start")]
    slides = slide_map(notebook)
    assert [s.cell for s in slides] == starts
    horizontal = [i for i, c in enumerate(nb.cells) if c.metadata.get("slide_start")]
    assert [s.cell for s in slides if s.v == 0] == horizontal


def test_slide_map_of_a_small_notebook(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    kinds = ["notes", "-", "fragment", "subslide", "skip", "slide", "-", "subslide", "subslide"]
    for kind in kinds:
        cell = nbformat.v4.new_markdown_cell(f"# {kind}")
        cell.metadata["slideshow"] = {"slide_type": kind}
        nb.cells.append(cell)
    path = tmp_path / "99-example.ipynb"
    nbformat.write(nb, path)
    assert [(s.h, s.v, s.cell) for s in slide_map(path)] == [
        (0, 0, 1), (0, 1, 3), (1, 0, 5), (1, 1, 7), (1, 2, 8)]
