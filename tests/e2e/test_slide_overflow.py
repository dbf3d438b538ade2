"""No slide of any deck overflows a 1280x720 screen.

Every exported deck is opened at 1280x720 and every slide visited with all its fragments shown;
after the slide's transition (and MathJax's re-render) the slide's content height (scrollHeight) is
compared with the slide height reveal.js lays out (Reveal.getComputedSlideSize().height), and its
content width with the slide width. Every offender is reported by notebook, slide (h.v, reveal.js
indices from 0) and the notebook cell that starts the slide, with a screenshot in
build/e2e-artifacts/overflow/ and the whole list in build/e2e-artifacts/overflow.json.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import (
    ARTIFACTS,
    REPO,
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

TOLERANCE_PX = 2  # layout rounding; nobody sees a pixel or two

# Visit the slides inside the page: one round trip per deck instead of several per slide.
MEASURE_ALL_JS = """async (slides) => {
    const settle = """ + SETTLE_JS + """;
    const out = [];
    for (const [h, v] of slides) {
        Reveal.slide(h, v, 999);  // 999: all fragments shown
        await settle();
        const slide = Reveal.getCurrentSlide(), size = Reveal.getComputedSlideSize();
        const at = Reveal.getIndices();
        out.push({h: at.h, v: at.v || 0, height: slide.scrollHeight, width: slide.scrollWidth,
                  maxHeight: size.height, maxWidth: size.width});
    }
    return out;
}"""


def test_no_slide_overflows(deck_server, browser):
    notebooks = deck_notebooks()
    if not notebooks:
        pytest.skip("no notebooks yet")
    shots = clean_dir(ARTIFACTS / "overflow")
    context = browser.new_context(viewport={"width": 1280, "height": 720}, device_scale_factor=1)
    context.set_default_timeout(120_000)
    offenders, counted = [], 0
    try:
        page = context.new_page()
        for nb in notebooks:
            deck_for(nb)
            open_deck(page, f"{deck_server}/{deck_name(nb)}")
            slides = slide_map(nb)
            sizes = page.evaluate(MEASURE_ALL_JS, [[s.h, s.v] for s in slides])
            counted += len(sizes)
            for slide, m in zip(slides, sizes, strict=True):
                assert (m["h"], m["v"]) == (slide.h, slide.v), f"{nb.name}: deck is out of date"
                if (m["height"] - m["maxHeight"] <= TOLERANCE_PX
                        and m["width"] - m["maxWidth"] <= TOLERANCE_PX):
                    continue
                shot = shots / f"{deck_id(nb)}-{slide.h:02d}.{slide.v:02d}.png"
                page.evaluate(f"Reveal.slide({slide.h}, {slide.v}, 999)")
                page.evaluate(SETTLE_JS)
                page.screenshot(path=str(shot))
                offenders.append({
                    "notebook": str(nb.relative_to(REPO)), "slide": f"{slide.h}.{slide.v}",
                    "cell": slide.cell,
                    "title": slide.title, "label": slide.label,
                    "height": m["height"], "width": m["width"],
                    "max_height": m["maxHeight"], "max_width": m["maxWidth"],
                    "screenshot": str(shot.relative_to(REPO)),
                })
    finally:
        context.close()
        (ARTIFACTS / "overflow.json").write_text(
            json.dumps({"decks": len(notebooks), "slides": counted, "offenders": offenders},
                       ensure_ascii=False, indent=1), encoding="utf-8")

    lines = [f"{o['notebook']} {o['label']}: {o['height']}x{o['width']} px content in a "
             f"{o['max_height']}x{o['max_width']} slide" for o in offenders]
    print(f"\noverflow: {len(offenders)} of {counted} slides in {len(notebooks)} decks overflow "
          "1280x720" + "".join(f"\n  {line}" for line in lines))
    if offenders:
        pytest.fail(f"{len(offenders)} of {counted} slides overflow 1280x720 (split the slide "
                    "with a subslide, or shorten it):\n  " + "\n  ".join(lines), pytrace=False)
