"""Structure of the worked solutions (solutions/NN-slug.ipynb): one per lecture, same name, one
`## 练习 k` per numbered exercise of the lecture, in order, and the lectures' conventions.

The folder is optional: a course that hands out only the lectures deletes solutions/, and then
these tests find nothing to check (and nothing else in the repository depends on it).
"""

import re

import pytest
import test_notebooks as lecture

from tools import layout, slides
from tools.layout import REPO

SOLUTIONS = layout.solutions()
HEADING = re.compile(r"^## 练习 (\d+)\s*$", re.MULTILINE)
NUMBERED = re.compile(r"^(\d+)\. ", re.MULTILINE)  # a top-level item of a numbered list


lecture_of = layout.lecture_of


def lecture_exercises(nb) -> list[int]:
    """The numbers of the lecture's exercises: the numbered list under its last `## 练习`."""
    cells = [c.source for c in nb.cells if c.cell_type == "markdown" and "## 练习" in c.source]
    assert cells, "the lecture has no ## 练习"
    after = cells[-1].split("## 练习", 1)[1]
    after = re.split(r"^#", after, maxsplit=1, flags=re.MULTILINE)[0]  # up to the next heading
    return [int(n) for n in NUMBERED.findall(after)]


def solution_headings(nb) -> list[int]:
    """The k of every `## 练习 k` heading, in order; each must open its cell (its own slide)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for m in HEADING.finditer(cell.source):
            assert cell.source.startswith(m.group(0)), f"cell {i}: {m.group(0)!r} opens no cell"
            found.append(int(m.group(1)))
    return found


@pytest.fixture(params=SOLUTIONS, ids=lambda p: p.stem)
def solution(request):
    return request.param


def test_every_solution_has_its_lecture(solution):
    assert lecture_of(solution).is_file(), f"no notebooks/{solution.name} for {solution.name}"


def test_one_heading_per_exercise_in_order(solution):
    expected = lecture_exercises(lecture.load(lecture_of(solution)))
    assert expected == list(range(1, len(expected) + 1)), f"lecture numbers {expected}"
    assert solution_headings(lecture.load(solution)) == expected


def test_title_and_goals(solution):
    nb, lec = lecture.load(solution), lecture.load(lecture_of(solution))
    chapter, title = re.match(r"# (第\d+讲) (.+)", lec.cells[0].source.splitlines()[0]).groups()
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.splitlines()[0] == f"# {chapter} 练习解答：{title}"
    assert "**学习目标**" in first.source


def test_import_guard_first(solution):
    guard = lecture.code_cells(lecture.load(solution))[0].source
    assert "except ModuleNotFoundError" in guard and "pip install -e" in guard


def test_rise_metadata_and_kernel_like_the_template(solution):
    nb = lecture.load(solution)
    assert nb.metadata.rise == lecture.load(lecture.TEMPLATE).metadata.rise
    lecture.test_valid_with_python_kernel(nb)
    lecture.test_slide_metadata_on_every_cell(nb)


def test_conventions_of_the_lectures(solution):
    """Executed in order without errors, no leftovers, mostly compared, no local paths, and at
    least one assert under no `if` (the smoke run checks the answers, not only that they run)."""
    nb = lecture.load(solution)
    for check in (lecture.test_executed_top_to_bottom_without_errors,
                  lecture.test_no_debug_leftovers_or_empty_cells,
                  lecture.test_most_cells_are_compared_by_nbval,
                  lecture.test_outputs_leak_no_local_paths,
                  lecture.test_checks_run_at_every_scale):
        check(nb)


def test_live_slides_get_the_course_styles():
    """Live RISE reads rise.css beside the notebook: solutions/ has the lectures' one."""
    if not SOLUTIONS:
        pytest.skip("no solutions/ in this course")
    ours, theirs = REPO / "solutions" / "rise.css", REPO / "notebooks" / "rise.css"
    assert ours.read_bytes() == theirs.read_bytes()


def test_the_heading_checks_themselves():
    """The parsers above on a small lecture and solution (runs without solutions/ too)."""
    import nbformat

    md = nbformat.v4.new_markdown_cell
    lec = nbformat.v4.new_notebook(cells=[md("## 小结\n\n- a\n\n## 练习\n\n1. one\n2. two\n"
                                             "   continued\n3. three\n")])
    assert lecture_exercises(lec) == [1, 2, 3]
    sol = nbformat.v4.new_notebook(cells=[md("# t"), md("## 练习 1\n\nx"), md("## 练习 2"),
                                          md("## 练习 3\n\n1. a step")])
    assert solution_headings(sol) == [1, 2, 3]
    with pytest.raises(AssertionError):
        solution_headings(nbformat.v4.new_notebook(cells=[md("text\n\n## 练习 1")]))


def test_a_course_without_solutions(tmp_path, monkeypatch):
    """Deleting solutions/ leaves the tools working: they glob for it and find nothing."""
    monkeypatch.setattr(layout, "SOLUTIONS", tmp_path / "solutions")
    assert layout.solutions() == []
    out = tmp_path / "slides"
    out.mkdir()
    (out / "04-x.slides.html").touch()
    slides.write_index(out, [out / "04-x.slides.html"], [])
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "04-x.slides.html" in page and "练习解答" not in page


def test_solution_decks_have_their_own_section(tmp_path):

    out = tmp_path / "slides"
    lec = slides.deck_path(out, REPO / "notebooks" / "04-x.ipynb")
    sol = slides.deck_path(out, REPO / "solutions" / "04-x.ipynb")
    assert lec == out / "04-x.slides.html" and sol == out / "solutions" / "04-x.slides.html"
    out.mkdir()
    slides.write_index(out, [lec], [sol])
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.index('href="04-x.slides.html"') < page.index("练习解答")
    assert page.index("练习解答") < page.index('href="solutions/04-x.slides.html"')
