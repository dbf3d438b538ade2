"""The course site (make site): pages render offline, the search finds lectures, links resolve.

The site is built once per session by its backend (`python -m tools.site`, seconds when it is up to
date) and opened in headless Chromium with every request that leaves 127.0.0.1 blocked: its pages
over a loopback server of build/ (the decks lie beside the site, in build/slides/), the search from
file://, as a reader who opens index.html without a server. Screenshots go to
build/e2e-artifacts/site/: lecture.png (a figure and math), search.png (the results for
批量归一化) and search-hit.png (the lecture it opens, the term highlighted).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from e2e_support import ARTIFACTS, REPO, VIEWPORT, Guard, clean_dir

from tools import layout, site

pytestmark = pytest.mark.e2e

# A course term and the lecture a search for it must list first.
SEARCHES = {"批量归一化": "28", "交叉熵": "09", "独热编码": "04", "平均池化": "21", "丢弃法": "13",
            "填充": "19", "微调": "37", "残差": "29", "过拟合": "11", "自动微分": "07",
            "多层感知机": "10", "数据增强": "36"}
LINK_TEXTS = ("幻灯片", "练习解答", "讲义")  # the line under a notebook page's title

# Once a page has loaded: MathJax done, images decoded, then what the test checks.
PAGE_JS = """async (linkTexts) => {
    if (window.MathJax && MathJax.Hub) await new Promise(done => MathJax.Hub.Queue(done));
    const figures = [...document.querySelectorAll('.jupyter-wrapper .jp-OutputArea img')];
    await Promise.all(figures.map(i => i.decode().catch(() => null)));
    const article = document.querySelector('article');
    const headings = [...article.querySelectorAll('h1, h2, h3, h4, h5, h6')];
    return {
        title: document.title,
        h1: (article.querySelector('h1') || {innerText: ''}).innerText.replace('¶', '').trim(),
        figures: figures.length,
        broken: figures.filter(i => !i.complete || !i.naturalWidth).length,
        math: article.querySelectorAll('.MathJax_CHTML').length,
        mathErrors: article.querySelectorAll('.MathJax_Error, .mjx-merror').length,
        headingIds: headings.map(h => h.id),
        tocMissing: [...document.querySelectorAll('.md-nav--secondary a.md-nav__link')]
            .map(a => decodeURIComponent(a.hash.slice(1)))
            .filter(id => !id || !document.getElementById(id)),
        links: [...article.querySelectorAll('a')]
            .filter(a => linkTexts.includes(a.innerText.trim()))
            .map(a => [a.innerText.trim(), a.href]),
    };
}"""

# A figure with math in the same screenful, scrolled into view: the lecture screenshot.
FIGURE_AND_MATH_JS = """() => {
    const math = [...document.querySelectorAll('article .MathJax_CHTML')];
    for (const img of document.querySelectorAll('.jupyter-wrapper .jp-OutputArea img')) {
        const r = img.getBoundingClientRect();
        const near = math.find(m => {
            const q = m.getBoundingClientRect();
            return Math.min(q.top, r.top) + 620 > Math.max(q.bottom, r.bottom); });
        if (near) {
            const q = near.getBoundingClientRect();
            window.scrollBy(0, Math.min(q.top, r.top) - 120);
            return true;
        }
    }
    return false;
}"""


@dataclass
class Page:
    url: str          # relative to the site's root
    title: str        # what its <title> and its first heading show
    figures: int = 0  # stored image outputs in its reading cells
    math: bool = False
    notebook: Path | None = None


def expected_pages() -> list[Page]:
    """Every page of the site and what it must show, from the notebooks and Markdown files."""
    pages = []
    for name, path in site.markdown_pages().items():
        heading = next((line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines()
                        if line.startswith("# ")), "")
        url = re.sub(r"(^|/)README$", r"\1index", name.removesuffix(".md")) + ".html"  # as mkdocs
        pages.append(Page(url, re.sub(r"[`*_]", "", heading)))
    for path in site.notebooks():
        cells = site.reading_cells(json.loads(path.read_text(encoding="utf-8"))["cells"])
        figures = sum(1 for c in cells for o in c.get("outputs", [])
                      if any(k.startswith("image/") for k in o.get("data", {})))
        math = any(re.search(r"\$[^$]+\$", "".join(c["source"]))
                   for c in cells if c["cell_type"] == "markdown")
        pages.append(Page(site.page_url(path), site.notebook_title(path), figures, math, path))
    return pages


def expected_links(nb: Path) -> dict[str, str]:
    """What the links under a notebook page's title point to, relative to build/."""
    deck = f"{site.SLIDES.name}/{layout.deck_name(nb)}"
    if layout.is_solution(nb):
        return {"讲义": f"{site.OUT.name}/{site.page_url(layout.lecture_of(nb))}", "幻灯片": deck}
    links = {"幻灯片": deck}
    if site.solution_of(nb).is_file():
        links["练习解答"] = f"{site.OUT.name}/{site.page_url(site.solution_of(nb))}"
    return links


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a browser that closed a connection early
        pass


@pytest.fixture(scope="session")
def built_site(browser) -> Path:
    """Run the `make site` backend once per session (it also brings the decks up to date)."""
    proc = subprocess.run([sys.executable, "-m", "tools.site"], cwd=REPO, timeout=1800,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"tools.site failed:\n{proc.stdout}\n{proc.stderr}")
    return site.OUT


@pytest.fixture(scope="session")
def build_server(built_site):
    """Serve build/ (the site and the decks beside it) on a free loopback port; yields its URL."""
    handler = functools.partial(_QuietHandler, directory=str(layout.BUILD))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_page_renders_offline_with_its_figures_math_and_anchors(build_server, browser):
    """Each page over loopback: title, stored figures, math, anchors; no request leaves."""
    pages = expected_pages()
    shots = clean_dir(ARTIFACTS / "site")
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(60_000)
    guard, problems, links, missing = Guard(), [], {}, []
    page = context.new_page()
    guard.attach(page)
    page.on("response", lambda r: r.status >= 400 and missing.append(f"{r.status} {r.url}"))
    shot, fallback = False, None
    try:
        for expected in pages:
            response = page.goto(f"{build_server}/{site.OUT.name}/{expected.url}")
            say = functools.partial(lambda url, msg: problems.append(f"{url}: {msg}"), expected.url)
            if not response or not response.ok:
                say(f"not served ({response and response.status})")
                continue
            got = page.evaluate(PAGE_JS, list(LINK_TEXTS))
            if got["h1"] != expected.title or expected.notebook and expected.title not in \
                    got["title"]:
                say(f"title {got['title']!r}, first heading {got['h1']!r}, expected "
                    f"{expected.title!r}")
            if got["figures"] < expected.figures or got["broken"]:
                say(f"{got['figures']} figures shown ({got['broken']} broken), "
                    f"{expected.figures} stored")
            if expected.math and not got["math"] or got["mathErrors"]:
                say(f"{got['math']} formulas typeset, {got['mathErrors']} MathJax errors")
            if "" in got["headingIds"] or len(set(got["headingIds"])) < len(got["headingIds"]):
                say(f"headings without a unique anchor: {got['headingIds']}")
            if expected.notebook and not any(re.search(r"[\u4e00-\u9fff]", i)
                                             for i in got["headingIds"]):
                say(f"no Chinese heading anchor among {got['headingIds']}")
            if got["tocMissing"]:
                say(f"contents links without a target: {got['tocMissing']}")
            if not expected.notebook:
                continue
            links[expected.notebook] = got["links"]
            lecture = not layout.is_solution(expected.notebook)
            if lecture and expected.figures and not shot:
                fallback = fallback or expected.url
                if expected.math and page.evaluate(FIGURE_AND_MATH_JS):
                    page.wait_for_timeout(1000)  # the header's title fades to the page's
                    page.screenshot(path=str(shots / "lecture.png"))
                    shot = True
        if not shot and fallback:  # no figure with math beside it: a figure alone
            page.goto(f"{build_server}/{site.OUT.name}/{fallback}")
            page.evaluate(PAGE_JS, list(LINK_TEXTS))
            page.locator(".jupyter-wrapper .jp-OutputArea img").first.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "lecture.png"))
    finally:
        context.close()
    (ARTIFACTS / "site-links.json").write_text(json.dumps(
        {str(k.relative_to(REPO)): v for k, v in links.items()}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    assert not guard.blocked, f"the site asked the network for: {sorted(set(guard.blocked))}"
    assert not missing, f"requests that failed: {missing}"
    assert not guard.console_errors, f"console errors: {guard.console_errors}"
    assert not problems, f"{len(problems)} problems in {len(pages)} pages:\n  " + "\n  ".join(
        problems)

    # Every deck and solution link is where it should point, and is there.
    base = urlsplit(build_server)
    for nb, found in links.items():
        got = {text: unquote(urlsplit(href).path).lstrip("/") for text, href in found}
        assert got == expected_links(nb), f"{nb.relative_to(REPO)}: links {found}"
        assert all(urlsplit(href).netloc == base.netloc for _, href in found)
        for target in got.values():
            assert (layout.BUILD / target).is_file(), f"{nb.relative_to(REPO)} links {target}"


def test_deck_and_solution_links_open_in_the_browser(build_server, guarded_page):
    """Follow a lecture's links as a reader does: to its solution, back, then to its deck."""
    page, guard = guarded_page
    lectures = layout.lectures()  # one in the middle: the 讲义 tab links the first
    lecture = next((p for p in lectures[len(lectures) // 2:] if site.solution_of(p).is_file()),
                   lectures[-1])
    page.goto(f"{build_server}/{site.OUT.name}/{site.page_url(lecture)}")
    if site.solution_of(lecture).is_file():
        page.locator("article").get_by_role("link", name="练习解答", exact=True).first.click()
        page.wait_for_url(f"**/{site.page_url(site.solution_of(lecture))}")
        assert page.locator("article h1").first.inner_text().startswith(
            site.notebook_title(site.solution_of(lecture)))
        page.locator("article").get_by_role("link", name="讲义", exact=True).first.click()
        page.wait_for_url(f"**/{site.page_url(lecture)}")
    page.locator("article").get_by_role("link", name="幻灯片", exact=True).first.click()
    page.wait_for_url(f"**/{layout.deck_name(lecture)}")
    page.wait_for_function("() => window.Reveal && window.Reveal.isReady()", timeout=60_000)
    assert not guard.blocked, f"asked the network for: {guard.blocked}"


def test_every_local_link_and_asset_of_the_site_exists(built_site):
    """Every href and src in every page that is not a web address points at a file.

    404.html is left out: a web server shows it for any missing path, so its links are absolute.
    """
    missing = []
    for html in sorted(set(built_site.rglob("*.html")) - {built_site / "404.html"}):
        for ref in re.findall(r'(?:href|src)="([^"#?]+)[^"]*"', html.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", ref):  # https:, data:, mailto:, javascript:
                continue
            if not (html.parent / unquote(ref)).exists():
                missing.append(f"{html.relative_to(built_site)} -> {ref}")
    assert not missing, f"{len(missing)} links to nothing:\n  " + "\n  ".join(missing[:40])


def test_search_finds_the_lecture_of_each_term_from_a_local_file(built_site, guarded_page):
    """From file:// (no server), as the docs promise: each term lists its lecture first."""
    page, guard = guarded_page
    page.goto((built_site / "index.html").as_uri())
    box = page.locator("input[data-md-component=search-query]")
    meta_js = "document.querySelector('.md-search-result__meta').innerText"
    initial = page.evaluate(meta_js)
    box.click()  # the index is built when the search box is first used
    page.wait_for_function(f"t => {meta_js} !== t", arg=initial, timeout=120_000)
    ready = page.evaluate(meta_js)  # "type to start searching"
    (ARTIFACTS / "site").mkdir(parents=True, exist_ok=True)
    firsts, wrong = {}, []
    lectures = {p.name[:2]: p for p in layout.lectures()}
    for term, number in SEARCHES.items():
        if number not in lectures:
            continue  # a course without that chapter
        box.fill(term)
        box.press("End")  # the search listens to keyup
        page.wait_for_function(f"t => {meta_js} !== t", arg=ready)
        hrefs = page.locator(".md-search-result__item > a").evaluate_all(
            "els => els.map(e => e.href)")
        first = unquote(urlsplit(hrefs[0]).path).split("/")[-2:] if hrefs else []
        firsts[term] = "/".join(first)
        if first != [layout.LECTURES.name, f"{lectures[number].stem}.html"]:
            wrong.append(f"{term}: first {firsts[term] or 'nothing'}, expected lecture {number}")
        if term == "批量归一化":
            page.screenshot(path=str(ARTIFACTS / "site" / "search.png"))
            search_page = page.url
            page.locator(".md-search-result__item > a").first.click()
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "site" / "search-hit.png"))
            page.goto(search_page)
            box.click()
            page.wait_for_function(f"t => {meta_js} === t", arg=ready, timeout=120_000)
        box.fill("")
        box.press("End")
        page.wait_for_function(f"t => {meta_js} === t", arg=ready)
    (ARTIFACTS / "site-search.json").write_text(json.dumps(firsts, ensure_ascii=False, indent=1),
                                                encoding="utf-8")
    assert not wrong, "\n".join(wrong)
    assert not guard.blocked, f"the search asked the network for: {guard.blocked}"
    assert not guard.console_errors, f"console errors: {guard.console_errors}"
