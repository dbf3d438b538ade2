"""Helpers shared by the browser tests (see conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tools import layout
from tools.layout import REPO

SLIDES = layout.BUILD / "slides"
ARTIFACTS = layout.BUILD / "e2e-artifacts"
CHROMIUM = Path(os.environ.get("D2L_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CHROMIUM_HINT = ("install Debian's Chromium and a CJK font: sudo apt-get install -y chromium "
                 "fonts-noto-cjk (or set D2L_CHROMIUM to a Chromium or Chrome binary)")
PLAYWRIGHT_HINT = ("pip install playwright (make test-e2e does it); it drives the system Chromium, "
                   "so never run `playwright install`")


def export_decks(*notebooks: Path) -> None:
    """Run the `make slides` backend (fast for decks that are up to date)."""
    proc = subprocess.run([sys.executable, "-m", "tools.slides", *map(str, notebooks)],
                          cwd=REPO, timeout=1800, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"tools.slides failed:\n{proc.stdout}\n{proc.stderr}")


deck_name = layout.deck_name


def deck_id(nb: Path) -> str:
    """A name for reports and screenshots, distinct for a lecture and its solution."""
    return f"solutions-{nb.stem}" if layout.is_solution(nb) else nb.stem


def deck_for(nb: Path) -> Path:
    """The notebook's deck, re-exported first if the notebook changed since (it is being edited)."""
    deck = SLIDES / deck_name(nb)
    if not deck.exists() or deck.stat().st_mtime < nb.stat().st_mtime:
        export_decks(nb)
    return deck


def deck_notebooks() -> list[Path]:
    """The notebooks that get a deck, found at each run: chapters keep arriving, lectures first."""
    return layout.lectures() + layout.solutions()


# --- what a deck should contain, computed from the notebook's slide_type metadata ---------------

@dataclass
class Slide:
    h: int           # reveal.js horizontal index
    v: int           # reveal.js vertical index
    cell: int        # index of the notebook cell the slide starts with
    title: str       # first line of that cell, to name the slide in reports

    @property
    def label(self) -> str:
        return f"slide {self.h}.{self.v} (cell {self.cell}: {self.title!r})"


def slide_map(nb_path: Path) -> list[Slide]:
    """Every (sub)slide nbconvert's reveal exporter makes of a notebook, in order.

    The first visible cell always starts a slide; after it a "slide" cell starts the next horizontal
    slide and a "subslide" cell the next vertical one; "fragment" and "-" continue the current one;
    "skip" cells are dropped and "notes" cells become speaker notes.
    """
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    slides: list[Slide] = []
    h = v = -1
    for i, cell in enumerate(cells):
        kind = (cell.get("metadata", {}).get("slideshow") or {}).get("slide_type", "-")
        if not slides:
            if kind in ("notes", "skip"):
                continue
            kind = "slide"
        if kind not in ("slide", "subslide"):
            continue
        h, v = (h + 1, 0) if kind == "slide" else (h, v + 1)
        src = "".join(cell.get("source", "")).strip().splitlines()
        slides.append(Slide(h, v, i, (src[0][:60] if src else "")))
    return slides


# --- network guard ----------------------------------------------------------------------------

@dataclass
class Guard:
    """Aborts every request that leaves the machine, and remembers it so that a test can fail."""
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        local = (parts.scheme in ("file", "data", "blob", "about")
                 or (parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOOPBACK))
        if local:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def attach(self, page) -> None:
        page.route("**/*", self.route)
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))


def open_deck(page, url: str) -> None:
    """Open a deck and wait until reveal.js (loaded through require.js) is ready."""
    page.goto(url, wait_until="load", timeout=60_000)
    try:
        page.wait_for_function("() => window.Reveal && window.Reveal.isReady()", timeout=60_000)
    except Exception as exc:  # playwright's TimeoutError, without importing playwright here
        raise AssertionError(f"{url}: reveal.js did not start within 60 s") from exc
    # MathJax typesets asynchronously; wait until its queue is empty so that layout is final.
    page.evaluate("""() => new Promise(done => {
        if (!window.MathJax || !MathJax.Hub) return done();
        MathJax.Hub.Queue(() => done());
    })""")


SETTLE_JS = """async () => {
    // Wait for the slide transition to end (reveal.js reports none when transition is 'none'),
    // then for MathJax's re-render of the new slide, then for two frames of layout.
    const transition = Reveal.getConfig().transition;
    if (transition && transition !== 'none') await new Promise(r => setTimeout(r, 900));
    if (window.MathJax && MathJax.Hub) await new Promise(r => MathJax.Hub.Queue(r));
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""


def clean_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path
