"""tools/site.py, the backend of `make site`, without a browser or mkdocs.

tests/e2e/test_static_site.py opens the built site in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import layout, site

LECTURE = layout.LECTURES / "28-batch-norm.ipynb"
SOLUTION = layout.SOLUTIONS / "28-batch-norm.ipynb"
OUT = Path("/x/build/site")
DECKS = Path("/x/build/slides")


def cell(kind: str, source: str = "text", cell_type: str = "markdown") -> dict:
    return {"cell_type": cell_type, "metadata": {"slideshow": {"slide_type": kind}},
            "source": source}


def kinds(cells: list[dict]) -> list[str]:
    return [site.slide_type(c) for c in cells]


def test_skip_and_notes_cells_are_out_of_the_reading_flow():
    cells = [cell(k) for k in ["slide", "skip", "-", "notes", "fragment", "subslide", "skip"]]
    cells.append({"cell_type": "code", "metadata": {}, "source": "x = 1"})  # no slide type
    assert kinds(site.reading_cells(cells)) == ["slide", "-", "fragment", "subslide", "-"]


def test_links_go_under_the_title():
    cells = [cell("slide", "# 第28讲 批量归一化\n\n**学习目标**\n\n- a"), cell("-")]
    out = site.with_links(cells, "[幻灯片](x)")
    assert out[0]["source"] == "# 第28讲 批量归一化\n\n[幻灯片](x)\n\n**学习目标**\n\n- a"
    assert out[1:] == cells[1:] and cells[0]["source"].startswith("# 第28讲 批量归一化\n\n**")
    untitled = site.with_links([cell("slide", "no title")], "[幻灯片](x)")
    assert [c["source"] for c in untitled] == ["[幻灯片](x)", "no title"]


def test_a_lecture_links_its_deck_and_solution_a_solution_its_lecture_and_deck():
    assert site.deck_href(LECTURE, OUT, DECKS) == "../../slides/28-batch-norm.slides.html"
    assert site.deck_href(SOLUTION, OUT, DECKS) == (
        "../../slides/solutions/28-batch-norm.slides.html")
    if SOLUTION.is_file():
        assert site.links_line(LECTURE, OUT, DECKS) == (
            "[幻灯片](../../slides/28-batch-norm.slides.html) · "
            "[练习解答](../solutions/28-batch-norm.html)")
    assert site.links_line(SOLUTION, OUT, DECKS) == (
        "[讲义](../notebooks/28-batch-norm.html) · "
        "[幻灯片](../../slides/solutions/28-batch-norm.slides.html)")


@pytest.mark.parametrize("path", site.notebooks(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_page_keeps_the_reading_cells_and_their_stored_outputs(path: Path):
    stored = json.loads(path.read_text(encoding="utf-8"))["cells"]
    shown = site.site_notebook(path)["cells"]
    assert "skip" not in kinds(shown) and "notes" not in kinds(shown)
    kept = [c for c in stored if site.slide_type(c) not in site.HIDDEN]
    assert [c.get("outputs") for c in shown[1:]] == [c.get("outputs") for c in kept[1:]]
    assert site.links_line(path) in "".join(shown[0]["source"])


def test_slugs_keep_chinese():
    assert site.slug("第28讲 批量归一化") == "第28讲-批量归一化"
    assert site.slug("2. 用在哪里：全连接层与卷积层") == "2-用在哪里全连接层与卷积层"
    assert site.slug("残差网络（ResNet）") == "残差网络resnet"
    assert site.slug("与 nn.BatchNorm1d / nn.BatchNorm2d") == "与-nnbatchnorm1d-nnbatchnorm2d"


def test_headings_get_unique_unicode_anchors_and_a_matching_table_of_contents():
    page = ('<h1 id="28">第28讲 批量归一化<a class="anchor-link" href="#28">¶</a></h1>'
            '<p>x</p><h2 id="">小结<a class="anchor-link" href="#">¶</a></h2>'
            '<h3>用 <code>nn.BatchNorm2d</code></h3><h2 id="">小结</h2><h2>？</h2>')
    html, toc = site.anchor_headings(page)
    ids = ["第28讲-批量归一化", "小结", "用-nnbatchnorm2d", "小结_1", "_"]
    assert [f'id="{i}"' in html for i in ids] == [True] * 5
    assert 'href="#第28讲-批量归一化">¶</a>' in html and 'href="#小结">¶</a>' in html
    assert 'id=""' not in html
    [h1] = toc
    assert h1["id"] == ids[0] and [c["id"] for c in h1["children"]] == ["小结", "小结_1", "_"]
    assert h1["children"][0]["children"][0]["name"] == "用 nn.BatchNorm2d"


def test_large_styles_are_shared_and_the_cdn_mermaid_loader_is_dropped():
    css = "a{}" * site.LARGE_STYLE
    page = (f'<style type="text/css">{css}</style><style>b{{}}</style>'
            '<script type="module">import("https://cdn/mermaid.mjs")</script>'
            '<script type="module">other()</script>')
    shared, files = site.shared_styles(site.without_mermaid(page))
    [(name, text)] = files.items()
    assert text == css and f'<link rel="stylesheet" href="../{site.SHARED_CSS}/{name}">' in shared
    assert "<style>b{}</style>" in shared and "mermaid" not in shared and "other()" in shared


def test_the_search_worker_fix_applies_to_the_pinned_material():
    material = pytest.importorskip("material")
    [worker] = Path(material.__file__).parent.glob(f"templates/{site.WORKER_GLOB}")
    fixed = site.fixed_worker(worker.read_text(encoding="utf-8"))
    assert all(new in fixed for _, new in site.WORKER_FIXES)
    with pytest.raises(RuntimeError, match="search worker changed"):
        site.fixed_worker(fixed)


def test_home_page_links_every_lecture_its_solution_and_deck():
    readme = site.README.read_text(encoding="utf-8")
    home = site.home_page(readme, OUT, DECKS)
    index = home[home.index(site.INDEX_START):home.index(site.INDEX_END)].splitlines()[1:]
    assert len({row.count("|") for row in index}) == 1, "every row has the same columns"
    assert index[0].startswith("| 讲 | notebook | 练习解答 | slides |")
    for lecture in layout.lectures():
        [row] = [r for r in index if f"(notebooks/{lecture.name})" in r]
        assert f'<a href="../slides/{lecture.stem}.slides.html">幻灯片</a>' in row
        assert (f"(solutions/{lecture.name})" in row) == site.solution_of(lecture).is_file()
    for part in (lambda t: t.split(site.INDEX_START)[0], lambda t: t.split(site.INDEX_END)[1]):
        assert part(home) == part(readme), "the rest of the README is the home page as it is"


def test_config_navigates_every_page_searches_in_chinese_and_works_offline(tmp_path: Path):
    config = site.mkdocs_config(tmp_path, tmp_path / "site")
    nav = {next(iter(s)): next(iter(s.values())) for s in config["nav"]}
    assert [next(iter(e.values())) for e in nav["讲义"]] == [
        f"notebooks/{p.name}" for p in layout.lectures()]
    assert len(nav.get("练习解答", [])) == len(layout.solutions())
    plugins = {next(iter(p)) if isinstance(p, dict) else p: p for p in config["plugins"]}
    assert plugins["search"]["search"]["lang"] == "zh" and "offline" in plugins
    jupyter = plugins["mkdocs-jupyter"]["mkdocs-jupyter"]
    assert jupyter["execute"] is False and jupyter["custom_mathjax_url"].startswith("../assets/")
    assert config["theme"]["font"] is False and config["use_directory_urls"] is False
    assert all("://" not in p for p in config["extra"]["polyfills"])


def test_prepare_writes_the_sources_outside_the_repository(tmp_path: Path):
    before = {p: p.stat().st_mtime_ns for p in site.notebooks()}
    assert site.prepare(tmp_path, OUT, DECKS) > 0
    pages = tmp_path / site.PAGES
    assert (pages / "index.md").is_file() and (pages / "docs" / "site.md").is_file()
    assert sorted(p.name for p in (pages / "notebooks").iterdir()) == [
        p.name for p in layout.lectures()]
    assert json.loads((tmp_path / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    assert (tmp_path / site.TERMS_FILE).read_text(encoding="utf-8").split() == site.TERMS
    assert site.prepare(tmp_path, OUT, DECKS) == 0, "a second run writes nothing"
    assert {p: p.stat().st_mtime_ns for p in site.notebooks()} == before


def test_the_search_indexes_the_prose_not_the_code_and_outputs():
    page = ('<div class="jp-Cell"><div class="jp-RenderedMarkdown"><p>批量归一化</p></div></div>'
            '<div class="jp-Cell"><div class="jp-CodeMirrorEditor jp-Editor"><div><pre>x = 1'
            '</pre></div><div class="clipboard-copy-txt">x = 1</div></div>'
            '<div class="jp-Cell-outputWrapper"><div><div><pre>42</pre></div></div></div></div>'
            '<h2 id="a">小结</h2><p>after</p>')
    text = site.searchable(page)
    assert text == ('<div class="jp-Cell"><div class="jp-RenderedMarkdown"><p>批量归一化</p></div>'
                    '</div><div class="jp-Cell"></div><h2 id="a">小结</h2><p>after</p>')
