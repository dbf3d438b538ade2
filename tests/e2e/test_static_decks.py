"""Static decks (make slides): each opens offline, has its notebook's slides, steps through.

Screenshots: build/e2e-artifacts/static/<notebook>/<h>.<v>.png, one per slide with all its
fragments shown (h: horizontal index, v: vertical index, both from 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_support import (
    ARTIFACTS,
    SETTLE_JS,
    clean_dir,
    deck_for,
    deck_id,
    deck_name,
    deck_notebooks,
    open_deck,
    slide_map,
)

pytestmark = pytest.mark.e2e

# Once the current step has settled: [h, v, a fragment is still to come, this is the last slide].
STATE_JS = """async () => {
    await (""" + SETTLE_JS + """)();
    const at = Reveal.getIndices();
    return [at.h, at.v || 0, Reveal.availableFragments().next, Reveal.isLastSlide()];
}"""


def test_deck_opens_offline_and_steps_through(notebook: Path, deck_server, guarded_page):
    page, guard = guarded_page
    shots = clean_dir(ARTIFACTS / "static" / deck_id(notebook))
    deck_for(notebook)
    expected = slide_map(notebook)

    open_deck(page, f"{deck_server}/{deck_name(notebook)}")
    assert not guard.blocked, f"{notebook.name} asked the network for: {guard.blocked}"
    total = page.evaluate("Reveal.getTotalSlides()")
    horizontal = page.evaluate("Reveal.getHorizontalSlides().length")
    assert total == len(expected), (
        f"{notebook.name}: reveal.js has {total} slides, the notebook's slide_type metadata "
        f"asks for {len(expected)}")
    assert horizontal == len({s.h for s in expected})

    # Step through as a presenter does (Space: fragments, then down, then right) and check that
    # every slide is reached in order; one screenshot per slide, once all its fragments are shown.
    seen = []
    for _ in range(20 * len(expected) + 20):
        h, v, more, last = page.evaluate(STATE_JS)
        if not seen or seen[-1] != (h, v):
            seen.append((h, v))
        if not more:
            page.screenshot(path=str(shots / f"{h:02d}.{v:02d}.png"))
            if last:
                break
        page.keyboard.press("Space")
    assert seen == [(s.h, s.v) for s in expected], f"{notebook.name}: slides visited out of order"

    # Speaker notes cells became reveal.js notes (the S key shows them to the presenter).
    notes_cells = sum(
        1 for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        if (c.get("metadata", {}).get("slideshow") or {}).get("slide_type") == "notes")
    assert page.locator(".reveal aside.notes").count() == notes_cells

    assert not guard.blocked, f"{notebook.name} asked the network for: {guard.blocked}"
    assert not guard.console_errors, f"{notebook.name}: console errors: {guard.console_errors}"


def test_deck_opens_from_a_local_file(exported_decks, guarded_page):
    """A deck also works when double-clicked: file:// URL, MathJax fonts and all, no network."""
    page, guard = guarded_page
    notebooks = deck_notebooks()
    if not notebooks:
        pytest.skip("no notebooks yet")
    nb = notebooks[0]
    open_deck(page, deck_for(nb).as_uri())
    assert page.evaluate("Reveal.getTotalSlides()") == len(slide_map(nb))
    page.screenshot(path=str(clean_dir(ARTIFACTS / "file") / f"{nb.stem}.png"))
    assert not guard.blocked, f"{nb.name} asked the network for: {guard.blocked}"
    assert not guard.console_errors, f"{nb.name}: console errors: {guard.console_errors}"
