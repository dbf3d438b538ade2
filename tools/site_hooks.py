"""mkdocs hooks of the course site (the functions they call are in tools/site.py, and tested there).

Notebook pages get heading anchors that keep Chinese and a table of contents made from them, link
one shared copy of JupyterLab's styles, lose nbconvert's CDN mermaid loader, and are indexed for
the search without their outputs, lectures above solutions; the built search worker splits
Chinese queries whole. mkdocs loads this file by path (mkdocs.yml `hooks:`), in a process that
tools/site.py starts from the repository root.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jieba
import mkdocs_jupyter.plugin
from mkdocs.plugins import event_priority
from mkdocs.structure.toc import get_toc

from tools import site

jieba.setLogLevel(logging.WARNING)  # not its four lines about loading its dictionary


def _no_toc(path: str, toc_depth: int) -> tuple[list, None]:
    """mkdocs-jupyter's contents come from a second, Markdown, conversion: on_page_content redoes
    them from the page's headings, so that conversion (a third of a cold build) is skipped."""
    return [], None  # no title either: the page keeps its title from the nav


def on_config(config):
    """Markdown pages: anchors keep Chinese (Python-Markdown's default slugify keeps ASCII only)."""
    config.mdx_configs.setdefault("toc", {})["slugify"] = site.slug
    mkdocs_jupyter.plugin._get_nb_toc_tokens = _no_toc
    return config


def on_page_content(html, page, config, files):
    """Notebook pages: heading ids and contents from the rendered headings, styles shared; the
    search (on_page_context) sees the page without outputs, on_page_context below restores it."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    if page.file.src_uri.startswith(f"{site.layout.LECTURES.name}/"):
        page.meta["search"] = {"boost": site.LECTURE_BOOST}
    html, tokens = site.anchor_headings(html)
    page.toc = get_toc(tokens)
    html, styles = site.shared_styles(site.without_mermaid(html))
    folder = Path(config.site_dir) / site.SHARED_CSS
    for name, css in styles.items():
        if not (folder / name).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(css, encoding="utf-8")
    page.d2l_content = html
    return site.searchable(html)


@event_priority(-100)  # after the search plugin's
def on_page_context(context, page, config, nav):
    """A notebook page shows its whole content again once the search has indexed it."""
    if hasattr(page, "d2l_content"):
        page.content = page.d2l_content
    return context


def on_post_build(config):
    """Patch the search worker's query segmentation (site.WORKER_FIXES)."""
    workers = list(Path(config.site_dir).glob(site.WORKER_GLOB))
    if len(workers) != 1:
        raise RuntimeError(f"site: expected one search worker, found {workers}")
    workers[0].write_text(site.fixed_worker(workers[0].read_text(encoding="utf-8")),
                          encoding="utf-8")
