"""Where the course keeps its things: the repository, lectures, solutions and their decks.

Every tool, test and benchmark finds a notebook or a folder through this module, so the names
below are the only place the layout is written down.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LECTURES = REPO / "notebooks"
# Optional: a course that hands out only the lectures deletes solutions/, and every command and
# test then finds no solutions rather than failing.
SOLUTIONS = REPO / "solutions"
BUILD = REPO / "build"
# A chapter's notebook is NN-slug.ipynb, NN the chapter of the notes; a solution has its name.
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
DECK_SUFFIX = ".slides.html"


def lectures() -> list[Path]:
    """Every chapter's lecture notebook, in chapter order."""
    return sorted(LECTURES.glob(NOTEBOOK_GLOB))


def solutions() -> list[Path]:
    """Every worked solution, in chapter order (none where solutions/ was deleted)."""
    return sorted(SOLUTIONS.glob(NOTEBOOK_GLOB))


def is_solution(path: Path) -> bool:
    """A worked solution (solutions/NN-slug.ipynb) rather than a lecture."""
    return path.resolve().parent.name == SOLUTIONS.name


def lecture_of(solution: Path) -> Path:
    """The lecture a worked solution answers: the notebook of the same name."""
    return LECTURES / solution.name


def deck_name(path: Path) -> str:
    """A notebook's deck inside the slides folder: solutions' decks have a folder of their own."""
    folder = f"{SOLUTIONS.name}/" if is_solution(path) else ""
    return f"{folder}{path.stem}{DECK_SUFFIX}"
