"""Structure of every course notebook: valid, executed, slide-ready, listed in the README, and
checking what it teaches."""

import ast
import re

import nbformat
import pytest

from d2lutils.scales import SCALES, scale_values
from tools import layout, nbrun
from tools.layout import REPO

NOTEBOOKS = layout.lectures()
TRAINING = nbrun.training_chapters()
TEMPLATE = REPO / "tools" / "chapter-template.ipynb"  # where CONTRIBUTING.md starts a chapter
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "skip", "notes"}
IGNORE = "# NBVAL_IGNORE_OUTPUT"
DEBUG = re.compile(r"^\s*(breakpoint\(\)|import pdb|%debug|%pdb)", re.MULTILINE)


def load(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_readme_index_matches_notebooks():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\(notebooks/([0-9]{2}-[a-z0-9-]+\.ipynb)\)", readme))
    assert linked == {p.name for p in NOTEBOOKS}
    assert len(NOTEBOOKS) >= 5


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def nb(request):
    return load(request.param)


def test_valid_with_python_kernel(nb):
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.kernelspec.language == "python"


def test_slide_metadata_on_every_cell(nb):
    assert nb.metadata.rise.theme == "white"
    for i, cell in enumerate(nb.cells):
        kind = cell.metadata.get("slideshow", {}).get("slide_type")
        assert kind in SLIDE_TYPES, f"cell {i} has slide_type {kind!r}"
    assert nb.cells[0].metadata.slideshow.slide_type == "slide"


def test_lecture_shape(nb):
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# 第")
    assert "学习目标" in first.source
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## 小结" in markdown and "## 练习" in markdown
    guard = code_cells(nb)[0].source
    assert "except ModuleNotFoundError" in guard and "pip install -e" in guard


def test_executed_top_to_bottom_without_errors(nb):
    counts = [c.execution_count for c in code_cells(nb) if c.source.strip()]
    assert None not in counts, "every code cell has stored outputs from a run"
    assert counts == list(range(1, len(counts) + 1)), "executed once, in order"
    assert nb.metadata.d2l.scale in SCALES
    for i, cell in enumerate(code_cells(nb)):
        for out in cell.outputs:
            assert out.output_type != "error", f"code cell {i} stored an error"
            assert not (out.output_type == "stream" and out.name == "stderr"), (
                f"code cell {i} wrote to stderr: {out.text[:200]!r}")
            assert "image/svg+xml" not in out.get("data", {}), "figures are stored as PNG"


def test_no_debug_leftovers_or_empty_cells(nb):
    for i, cell in enumerate(nb.cells):
        assert cell.source.strip(), f"cell {i} is empty"
        assert not DEBUG.search(cell.source), f"cell {i} has a debugging leftover"


def test_most_cells_are_compared_by_nbval(nb):
    cells = [c for c in code_cells(nb) if c.source.strip()]
    ignored = [c for c in cells if c.source.lstrip().startswith(IGNORE)]
    assert len(ignored) <= len(cells) // 2, f"{len(ignored)} of {len(cells)} cells ignored"


def test_outputs_leak_no_local_paths(nb):
    for i, cell in enumerate(code_cells(nb)):
        for out in cell.outputs:
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "/root/" not in text and "/home/" not in text, f"code cell {i}: {text[:200]}"


# --------------------------------------------------------------------------- what they check

def asserts(source: str) -> list[tuple[str, bool]]:
    """Each assert in a cell, and whether it runs at every scale (is under no `if`)."""
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Assert):
                found.append((ast.unparse(child.test), not guarded))
            visit(child, guarded or isinstance(child, ast.If))

    visit(ast.parse(source), False)
    return found


def test_checks_run_at_every_scale(nb):
    """An assert under no `if` runs at smoke scale too: nbval then checks the lesson's facts
    (shapes, formulas), not only that the code runs."""
    assert any(always for c in code_cells(nb) for _, always in asserts(c.source))


def hparams_by_scale(nb) -> dict[str, dict]:
    """The notebook's d2l.hparams(full=..., quick=..., smoke=...) values at each scale."""
    for cell in code_cells(nb):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "hparams":
                given = {k.arg: {kw.arg: ast.literal_eval(kw.value) for kw in k.value.keywords}
                         for k in node.keywords}
                return {scale: scale_values(given, scale) for scale in SCALES}
    raise AssertionError("no d2l.hparams(...) call")


@pytest.mark.parametrize("path", TRAINING, ids=lambda p: p.stem)
def test_training_chapters_assert_a_falling_loss_and_floors(path):
    """The design's promise: a loss that falls at every scale, accuracy floors at quick and full
    (none at smoke, where accuracy is noise) in a check cell that slides and the site skip. The
    chapter runner's pass/fail rests on these."""
    nb = load(path)
    found = [a for c in code_cells(nb) for a in asserts(c.source)]
    assert any(always and re.search(r"\[-1\].* < .*\[0\]", test) for test, always in found)
    checks = nbrun.scale_checks(path)
    if checks:
        assert any("quick" in c and "full" in c for c in checks), "no floor at quick and full"
        assert all("smoke" not in c and c["hidden"] for c in checks), checks
        return
    # the older form, while notebooks move to d2l.by_scale: a floor among the hyperparameters
    floors = {m.group(1) for test, always in found if not always
              for m in [re.search(r" >= .*\bhp\.(\w+)", test)] if m}
    assert floors, "no accuracy floor"
    values = hparams_by_scale(nb)
    for name in floors:
        assert values["smoke"][name] is None, name
        assert values["quick"][name] is not None and values["full"][name] is not None, name


def test_the_template_follows_the_conventions():
    """CONTRIBUTING.md's starting point passes every check that applies before its first run."""
    nb = load(TEMPLATE)
    for check in (test_valid_with_python_kernel, test_slide_metadata_on_every_cell,
                  test_lecture_shape, test_no_debug_leftovers_or_empty_cells,
                  test_most_cells_are_compared_by_nbval, test_checks_run_at_every_scale):
        check(nb)
    assert nbrun.is_training_chapter(TEMPLATE)
    test_training_chapters_assert_a_falling_loss_and_floors(TEMPLATE)


# Words of the test machinery. A lecture's reader sees the lesson: its markdown, the comments of
# its visible code and its visible outputs never speak of these (check cells, slide type "skip",
# hold the thresholds). The floor *function* of a formula (\lfloor, floor(x)) is not matched.
PLUMBING = re.compile(r"\bfloors?\b(?!\s*\()|toleran|checks? passed|\bseeds?\b|\bCI\b|nbval|"
                      r"\bsmoke\b|下限|种子|容差", re.IGNORECASE)
SCALES_LECTURE = "03-environment"  # explains the course's scales to students: it may name them


def visible_text(nb) -> list[tuple[int, str]]:
    """(cell index, text) for what a reader sees: markdown, code comments and outputs."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("slideshow", {}).get("slide_type") == "skip":
            continue
        if cell.cell_type == "markdown":
            found.append((i, cell.source))
            continue
        found += [(i, line.split("#", 1)[1]) for line in cell.source.splitlines()
                  if "#" in line and not line.lstrip().startswith("# NBVAL_")]
        for out in cell.get("outputs", []):
            found.append((i, out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_test_plumbing_in_view(path):
    for i, text in visible_text(load(path)):
        hits = {m.group(0).lower() for m in PLUMBING.finditer(text)}
        if path.stem == SCALES_LECTURE:
            hits -= {"smoke"}
        assert not hits, f"cell {i} speaks of {sorted(hits)}: {text[:160]!r}"
