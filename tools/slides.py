"""Export the notebooks to reveal.js slide decks that open offline (the backend of `make slides`).

    python -m tools.slides                       # every lecture and worked solution
    python -m tools.slides notebooks/08-*.ipynb  # some of them (solutions/08-*.ipynb likewise)
    python -m tools.slides --force               # also re-export the decks that are up to date

Writes build/slides/NN-slug.slides.html (one per lecture), build/slides/solutions/
NN-slug.slides.html (one per worked solution, where solutions/ exists), build/slides/index.html
(the lectures' decks, then the solutions' under 练习解答), build/slides/rise.css and
build/slides/solutions/rise.css (copies of notebooks/rise.css) and build/slides/vendor/
(reveal.js, require.js, jQuery and MathJax, from the npm packages pinned in
tools/slides_vendor/package-lock.json). Every URL in a deck is relative, so the folder opens from
a local file, from any web server, or copied elsewhere as a whole; nothing comes from the network.

The first run installs the npm packages (about 80 MB; needs `npm` and the npm registry, or a warm
npm cache); later runs skip that, and skip every deck newer than its notebook, the template and
this script. Slide settings come from each notebook's `rise` metadata (width, height, theme,
transition, scroll, slideNumber), the ones live RISE uses too; cells with slide_type "notes"
become reveal.js speaker notes (press S in a deck).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tools import layout
from tools.layout import REPO, is_solution

HERE = Path(__file__).resolve().parent
RISE_CSS = layout.LECTURES / "rise.css"
NPM_DIR = HERE / "slides_vendor"  # package.json and package-lock.json (committed)
TEMPLATE = HERE / "slides_template" / "offline.html.j2"
DEFAULT_OUT = layout.BUILD / "slides"

# Relative to the output folder; the decks' URLs are made of these.
VENDOR = "vendor/node_modules"
REVEAL_PREFIX = f"{VENDOR}/reveal.js"
REQUIRE_JS = f"{VENDOR}/requirejs/require.js"
JQUERY = f"{VENDOR}/jquery/dist/jquery.min.js"
# Not latest.js: that one asks the CDN for the newest MathJax.
MATHJAX = f"{VENDOR}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
VENDOR_FILES = [
    f"{REVEAL_PREFIX}/dist/reveal.js",
    f"{REVEAL_PREFIX}/dist/reveal.css",
    f"{REVEAL_PREFIX}/dist/theme/white.css",
    f"{REVEAL_PREFIX}/plugin/notes/notes.js",
    REQUIRE_JS,
    JQUERY,
    MATHJAX.split("?")[0],
]
# reveal.js themes that load no web fonts from the network (the others @import Google Fonts).
OFFLINE_THEMES = {"white", "black"}
DEFAULTS = {"width": 1280, "height": 720, "theme": "white", "transition": "none",
            "scroll": True, "slideNumber": True}


def log(msg: str) -> None:
    print(f"slides: {msg}", flush=True)


def shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def lock_digest() -> str:
    data = (NPM_DIR / "package.json").read_bytes() + (NPM_DIR / "package-lock.json").read_bytes()
    return hashlib.sha256(data).hexdigest()


def ensure_vendor(out: Path) -> None:
    """Install the pinned npm packages into out/vendor unless they are there already."""
    vendor = out / "vendor"
    stamp = vendor / ".installed"
    digest = lock_digest()
    if (stamp.is_file() and stamp.read_text().strip() == digest
            and all((out / f).is_file() for f in VENDOR_FILES)):
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("slides: npm is needed once, to fetch reveal.js and MathJax for offline decks. "
                 "Install Node.js (Debian/Ubuntu: sudo apt-get install npm; macOS: brew install "
                 "node; conda: conda install -c conda-forge nodejs), then run make slides again.")
    vendor.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(NPM_DIR / name, vendor / name)
    log(f"installing reveal.js, require.js, jQuery and MathJax from npm into {shown(vendor)} "
        "(once, about 80 MB)")
    cmd = [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts",
           "--loglevel=error"]
    if subprocess.run(cmd, cwd=vendor).returncode != 0:
        sys.exit("slides: `npm ci` failed (see above); it needs the npm registry or a warm cache")
    missing = [f for f in VENDOR_FILES if not (out / f).is_file()]
    if missing:
        sys.exit(f"slides: the npm packages lack {missing}; check tools/slides_vendor/package.json")
    stamp.write_text(digest + "\n")


def rise_settings(nb: dict) -> dict:
    """The notebook's RISE settings with the course defaults filled in, made safe offline."""
    meta = nb.get("metadata", {})
    rise = {**DEFAULTS, **meta.get("livereveal", {}), **meta.get("rise", {})}
    if rise["theme"] not in OFFLINE_THEMES:
        log(f"theme {rise['theme']!r} loads web fonts from the network; using 'white'")
        rise["theme"] = "white"
    return rise


def make_exporter(up: str = ""):
    """The reveal.js exporter for decks `up` (e.g. "../") below the output folder's vendor/."""
    from nbconvert import SlidesExporter

    return SlidesExporter(
        template_file=str(TEMPLATE),  # nbconvert's reveal template without mermaid, plus rise.css
        reveal_url_prefix=up + REVEAL_PREFIX,
        require_js_url=up + REQUIRE_JS,
        jquery_url=up + JQUERY,
        mathjax_url=up + MATHJAX,
        language_code="zh",  # lets the browser pick Simplified Chinese glyphs
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def export(exporter, nb_path: Path, dest: Path) -> None:
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    rise = rise_settings(nb)
    number = rise["slideNumber"]
    exporter.reveal_theme = rise["theme"]
    exporter.reveal_transition = rise["transition"]
    exporter.reveal_scroll = bool(rise["scroll"])
    exporter.reveal_number = "c/t" if number is True else (number or "")
    exporter.reveal_width = str(rise["width"])
    exporter.reveal_height = str(rise["height"])
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": nb_path.stem}})
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(dest)  # atomic: a reader never sees half a deck


def deck_path(out: Path, nb_path: Path) -> Path:
    """Where a notebook's deck goes: solutions get their own folder, beside the lectures'."""
    return out / layout.deck_name(nb_path)


def _links(out: Path, decks: list[Path]) -> str:
    return "\n".join(f'<li><a href="{html.escape(d.relative_to(out).as_posix())}">'
                     f'{html.escape(d.name.removesuffix(layout.DECK_SUFFIX))}</a></li>'
                     for d in decks)


def write_index(out: Path, decks: list[Path], solution_decks: list[Path] = ()) -> None:
    solutions = (f"\n<h2>练习解答 / Solutions</h2>\n<ul>\n{_links(out, solution_decks)}\n</ul>"
                 if solution_decks else "")
    page = f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><title>Slides</title>
<style>body {{ font: 20px/1.6 sans-serif; margin: 2em; }}</style></head>
<body><h1>Slides / 幻灯片</h1>
<p>Space or the arrow keys move, S opens the speaker notes, Esc the overview.</p>
<h2>讲义 / Lectures</h2>
<ul>
{_links(out, decks)}
</ul>{solutions}</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to export (default: every lecture and solution)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--force", action="store_true", help="re-export up-to-date decks too")
    args = parser.parse_args(argv)

    paths = args.notebooks or layout.lectures() + layout.solutions()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"slides: no such notebook: {', '.join(missing)}")
    if not paths:
        sys.exit("slides: no notebooks to export")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    ensure_vendor(out)
    shutil.copyfile(RISE_CSS, out / "rise.css")
    solutions_out = out / layout.SOLUTIONS.name  # the solutions' decks, one folder down
    if any(is_solution(p) for p in paths):
        solutions_out.mkdir(exist_ok=True)
        shutil.copyfile(RISE_CSS, solutions_out / "rise.css")

    if not args.notebooks:  # a full run also drops the decks of notebooks that are gone
        wanted = {deck_path(out, p) for p in paths}
        for deck in [*out.glob(f"*{layout.DECK_SUFFIX}"),
                     *solutions_out.glob(f"*{layout.DECK_SUFFIX}")]:
            if deck not in wanted:
                deck.unlink()

    inputs_mtime = max(p.stat().st_mtime for p in (TEMPLATE, Path(__file__)))
    exported = skipped = 0
    start = time.monotonic()
    exporters: dict[bool, object] = {}
    for nb_path in paths:
        dest = deck_path(out, nb_path)
        if (not args.force and dest.is_file()
                and dest.stat().st_mtime >= max(inputs_mtime, nb_path.stat().st_mtime)):
            skipped += 1
            continue
        solution = is_solution(nb_path)
        if solution not in exporters:  # a solution's deck reaches vendor/ one folder up
            exporters[solution] = make_exporter("../" if solution else "")
        log(f"{shown(nb_path)} -> {shown(dest)}")
        try:
            export(exporters[solution], nb_path, dest)
        except Exception as exc:  # name the notebook, whatever nbformat or nbconvert raised
            sys.exit(f"slides: cannot export {shown(nb_path)}: {type(exc).__name__}: {exc}")
        exported += 1
    write_index(out, sorted(out.glob(f"*{layout.DECK_SUFFIX}")),
                sorted(solutions_out.glob(f"*{layout.DECK_SUFFIX}")))
    log(f"{exported} exported, {skipped} up to date, in {time.monotonic() - start:.1f} s; "
        f"open {shown(out)}/index.html (works offline, also from file://)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
