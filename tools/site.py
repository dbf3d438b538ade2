"""Build the course as a static HTML site that opens offline (the backend of `make site`).

    python -m tools.site            # build/site/ from the stored notebooks (never executed)
    python -m tools.site --force    # rebuild it even when it is up to date

The site is mkdocs-material with mkdocs-jupyter (docs/site.md says why). Nothing is written into
notebooks/ or solutions/: the sources are prepared in build/site-src/ (each lecture and solution
without its "skip" and "notes" cells, outputs as stored, with a line of links under its title; the
README as the home page, its course index linking every lecture's solution and deck; docs/*.md and
the pages they link to), then `mkdocs build` writes build/site/. The decks the pages link to are
built by `make slides` into build/slides/ (this command brings missing or stale ones up to date).
MathJax comes from the decks' npm install, the iframe-worker polyfill (search from file://) from
tools/site_vendor/; there are no web fonts. tools/site_hooks.py calls the functions below that
give headings Unicode anchors, share styles and shape the Chinese search. A build whose prepared
sources, tools and packages have not changed is skipped; mkdocs-jupyter caches every converted
notebook by content, so after a change only the notebooks that changed are converted again.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

from tools import layout, slides

HERE = Path(__file__).resolve().parent
HOOKS = HERE / "site_hooks.py"
NPM_DIR = HERE / "site_vendor"  # package.json and package-lock.json (committed): iframe-worker
SRC = layout.BUILD / "site-src"  # mkdocs.yml and pages/, prepared here, never in the repository
PAGES = "pages"  # mkdocs' docs_dir inside SRC (mkdocs.yml may not sit inside its docs_dir)
OUT = layout.BUILD / "site"
CACHE = layout.BUILD / "site-cache"  # mkdocs-jupyter's converted notebooks, keyed by content
NPM_OUT = layout.BUILD / "site-vendor"
SLIDES = slides.DEFAULT_OUT
STAMP = ".d2l-site-stamp"  # in OUT: the digest of what the site was built from

HIDDEN = {"skip", "notes"}  # slide types that exist for the tests or the presenter only
README = layout.REPO / "README.md"
DOCS = layout.REPO / "docs"
# Markdown pages the site carries besides docs/*.md: the README and the pages the docs link to,
# each at its path in the repository so that relative links between them keep working.
EXTRA_PAGES = ["CONTRIBUTING.md", "benchmarks/RESULTS.md", "data/README.md"]
INDEX_START, INDEX_END = "<!-- course-index:start -->", "<!-- course-index:end -->"
# The search splits Chinese text into words with jieba at build time, and the browser splits a
# query into the index's own words. jieba's dictionary cuts these course terms in two (交叉熵 ->
# 交叉 + 熵), so a search for 交叉熵 ranked 18 (a heading 交叉相关) above 09; kept whole, each
# term finds its lecture first. The cost: a word inside a term (池化 in 平均池化) matches no more.
TERMS = """批量归一化 批量规范化 交叉熵 独热编码 平均池化 最大池化 全局平均池化 丢弃法 暂退法
权重衰退 权重衰减 残差块 残差网络 残差连接 卷积层 卷积核 互相关 多层感知机 激活函数 梯度下降
随机梯度下降 学习率 过拟合 欠拟合 正则化 反向传播 前向传播 自动微分 计算图 线性回归 均方误差
损失函数 超参数 验证集 训练集 测试集 训练误差 泛化误差 交叉验证 梯度消失 梯度爆炸 数值稳定性
输入通道 输出通道 特征图 感受野 汇聚层 数据增强 图像增广 迁移学习 预训练 数据并行 模型并行
广播机制 矩阵乘法 雅可比 分布式训练 参数服务器 全连接层 批量大小 并行连结 协变量偏移
内部协变量偏移 标签平滑 隐藏层 隐藏单元 输出层 输入层 逐元素 移动平均 梯度裁剪 权重共享
平移不变性 逻辑回归""".split()
TERMS_FILE = "jieba-terms.txt"  # in SRC: jieba's user dictionary, one term a line
LECTURE_BOOST = 2  # a lecture ranks above its own solution for the same words

# MathJax 2.7.7 from the decks' vendor folder, trimmed to what the notebooks' CommonHTML output
# loads (4 MB of its 70 MB); every notebook page sits one folder below the site's root.
MATHJAX_SRC = SLIDES / slides.VENDOR / "mathjax"
MATHJAX_DEST = "assets/mathjax"
MATHJAX_KEEP = ["MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions",
                "jax/input/TeX", "jax/element", "jax/output/CommonHTML",
                "fonts/HTML-CSS/TeX/woff", "localization/zh-hans"]
MATHJAX_URL = f"../{MATHJAX_DEST}/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
IFRAME_WORKER = "node_modules/iframe-worker/shim/index.js"
IFRAME_WORKER_DEST = "assets/javascripts/iframe-worker-shim.js"


def log(msg: str) -> None:
    """Print a progress line."""
    print(f"site: {msg}", flush=True)


def shown(path: Path) -> Path:
    """A path as a person reads it: relative to the repository where it is inside."""
    return path.relative_to(layout.REPO) if path.is_relative_to(layout.REPO) else path


# --- the notebooks as the site shows them -----------------------------------------------------

def slide_type(cell: dict) -> str:
    """A cell's RISE slide type ("-" where it has none)."""
    return (cell.get("metadata", {}).get("slideshow") or {}).get("slide_type") or "-"


def reading_cells(cells: list[dict]) -> list[dict]:
    """The cells a reader sees: not those kept for the tests ("skip") or the presenter ("notes")."""
    return [c for c in cells if slide_type(c) not in HIDDEN]


def folder(path: Path) -> str:
    """The site folder of a notebook's page: notebooks/ for lectures, solutions/ for solutions."""
    return layout.SOLUTIONS.name if layout.is_solution(path) else layout.LECTURES.name


def page_url(path: Path) -> str:
    """A notebook's page, relative to the site's root."""
    return f"{folder(path)}/{path.stem}.html"


def deck_href(path: Path, out: Path = OUT, decks: Path = SLIDES) -> str:
    """The link from a notebook's page to its deck in build/slides/, relative to the page."""
    return Path(os.path.relpath(decks / layout.deck_name(path), out / folder(path))).as_posix()


def solution_of(lecture: Path) -> Path:
    """The worked solution of a lecture (it may not exist)."""
    return layout.SOLUTIONS / lecture.name


def links_line(path: Path, out: Path = OUT, decks: Path = SLIDES) -> str:
    """The line under a page's title: lecture -> deck, solution; solution -> lecture, deck."""
    deck = f"[幻灯片]({deck_href(path, out, decks)})"
    if layout.is_solution(path):
        lecture = layout.lecture_of(path)
        return f"[讲义]({'../' + page_url(lecture)}) · {deck}"
    solution = solution_of(path)
    return f"{deck} · [练习解答]({'../' + page_url(solution)})" if solution.is_file() else deck


def with_links(cells: list[dict], line: str) -> list[dict]:
    """The cells with `line` under the first cell's title (or in a Markdown cell of its own)."""
    first = cells[0] if cells else None
    if first and first["cell_type"] == "markdown":
        source = "".join(first["source"])
        title, _, rest = source.partition("\n")
        if title.startswith("# "):
            new = {**first, "source": f"{title}\n\n{line}\n\n{rest.lstrip()}".rstrip()}
            return [new, *cells[1:]]
    return [{"cell_type": "markdown", "id": "site-links", "metadata": {}, "source": line}, *cells]


def site_notebook(path: Path, out: Path = OUT, decks: Path = SLIDES) -> dict:
    """A lecture or solution as its page shows it: reading cells only, links under the title."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"] = with_links(reading_cells(nb["cells"]), links_line(path, out, decks))
    return nb


def notebook_title(path: Path) -> str:
    """A notebook's first heading, without its Markdown."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if cell["cell_type"] == "markdown" and line.startswith("# "):
                return re.sub(r"[`*_$]", "", line[2:]).strip()
    return path.stem


# --- headings: anchors that work for Chinese ---------------------------------------------------

HEADING = re.compile(r"<h([1-6])\b([^>]*)>(.*?)</h\1>", re.DOTALL)
ANCHOR_LINK = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.DOTALL)


def slug(text: str, separator: str = "-") -> str:
    """A heading's anchor: its words in any script (Chinese kept), lower case, hyphenated."""
    text = re.sub(r"[^\w\s-]", "", unicodedata.normalize("NFKC", text)).strip().lower()
    return re.sub(r"[-\s]+", separator, text)


def unique(anchor: str, seen: set[str]) -> str:
    """`anchor`, or anchor_1, anchor_2, ... where a heading of the page already has it."""
    candidate, n = anchor or "_", 0
    while candidate in seen:
        n += 1
        candidate = f"{anchor}_{n}"
    seen.add(candidate)
    return candidate


def heading_text(inner: str) -> str:
    """A heading's text from its HTML, without the pilcrow link nbconvert appends."""
    return html.unescape(re.sub(r"<[^>]+>", "", ANCHOR_LINK.sub("", inner))).strip()


def nest(flat: list[dict]) -> list[dict]:
    """Flat heading tokens as a tree: each heading under the last one of a higher level."""
    root: list[dict] = []
    stack: list[dict] = []
    for token in flat:
        while stack and stack[-1]["level"] >= token["level"]:
            stack.pop()
        (stack[-1]["children"] if stack else root).append(token)
        stack.append(token)
    return root


def anchor_headings(page: str) -> tuple[str, list[dict]]:
    """A rendered notebook with Unicode heading ids, and its table of contents as mkdocs tokens.

    mkdocs-jupyter's slugify keeps ASCII only, so a Chinese heading got an empty id; its table of
    contents also came from another rendering that drops inline code. Both are made here from the
    page's own headings, so that every contents link has its target.
    """
    seen: set[str] = set()
    flat: list[dict] = []

    def fix(match: re.Match) -> str:
        level, attrs, inner = match.groups()
        name = heading_text(inner)
        anchor = unique(slug(name), seen)
        ref = html.escape(anchor, quote=True)
        inner = ANCHOR_LINK.sub(lambda _: f'<a class="anchor-link" href="#{ref}">¶</a>', inner)
        attrs = re.sub(r'\sid="[^"]*"', "", attrs)
        flat.append({"level": int(level), "id": anchor, "name": html.escape(name),
                     "children": []})
        return f'<h{level} id="{ref}"{attrs}>{inner}</h{level}>'

    return HEADING.sub(fix, page), nest(flat)


# --- what every notebook page repeats ---------------------------------------------------------

STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
MODULE_SCRIPT = re.compile(r'<script type="module">.*?</script>', re.DOTALL)
SHARED_CSS = "assets/notebook"  # in the site: the notebook pages' common styles, one file each
LARGE_STYLE = 10_000  # characters: JupyterLab's and Pygments' styles, the same on every page


def shared_styles(page: str) -> tuple[str, dict[str, str]]:
    """A notebook page with its large inline styles as links to shared files {name: css}.

    mkdocs-jupyter inlines about 600 KB of JupyterLab CSS into every page; written once and
    linked, the site is half the size and the browser caches it.
    """
    files: dict[str, str] = {}

    def link(match: re.Match) -> str:
        css = match.group(1)
        if len(css) < LARGE_STYLE:
            return match.group(0)
        name = f"{hashlib.sha256(css.encode()).hexdigest()[:16]}.css"
        files[name] = css
        return f'<link rel="stylesheet" href="../{SHARED_CSS}/{name}">'

    return STYLE.sub(link, page), files


def without_mermaid(page: str) -> str:
    """A page without nbconvert's mermaid loader, which imports from a CDN (none draws one)."""
    return MODULE_SCRIPT.sub(lambda m: "" if "mermaid" in m.group(0) else m.group(0), page)


# --- what the search indexes of a notebook page ------------------------------------------------

# A code cell's input (highlighted code, the copy button and its hidden copy of the code) and
# its outputs: each a nest of divs that starts so.
CODE_AND_OUTPUTS = ('<div class="jp-CodeMirrorEditor', '<div class="jp-Cell-outputWrapper">')
DIV = re.compile(r"<div\b|</div>")


def without_blocks(page: str, starts: tuple[str, ...]) -> str:
    """A page without the div blocks (with all they nest) whose opening tag begins with starts."""
    parts, at = [], 0
    while (found := [i for i in (page.find(s, at) for s in starts) if i >= 0]):
        start, depth, end = min(found), 0, len(page)
        for match in DIV.finditer(page, start):
            depth += 1 if match.group() == "<div" else -1
            if depth == 0:
                end = match.end()
                break
        parts.append(page[at:start])
        at = end
    return "".join(parts) + page[at:]


def searchable(page: str) -> str:
    """What the search indexes of a notebook page: its prose (the Markdown cells). The search
    plugin files code and outputs under the page's first section, where they crowded out the
    prose in the results; the prose names the code it is about."""
    return without_blocks(page, CODE_AND_OUTPUTS)


# --- the search worker's query segmentation ----------------------------------------------------

# Material 9.8's worker splits a Chinese query into the index's own words, but its loop stops one
# character short (upstream src/.../search/query/segment: `j < query.length`, and `q <
# query.length - 1`): 交叉熵 became 交叉 alone, even where 交叉熵 is a word of the index. The built
# worker is patched to consider the whole query; each fix must match exactly once.
WORKER_GLOB = "assets/javascripts/workers/search.*.min.js"
WORKER_FIXES = [("for(let o=s+1;o<t.length;o++)t.slice(s,o)in e",
                 "for(let o=s+1;o<=t.length;o++)t.slice(s,o)in e"),
                ("n[a]&&a<t.length-1&&(i[s++]=a)", "n[a]&&a<t.length&&(i[s++]=a)")]


def fixed_worker(source: str) -> str:
    """Material's search worker with whole-query segmentation (see WORKER_FIXES)."""
    for old, new in WORKER_FIXES:
        if source.count(old) != 1:
            raise RuntimeError(f"site: Material's search worker changed, cannot apply {new!r}; "
                               "check WORKER_FIXES in tools/site.py against the new version")
        source = source.replace(old, new)
    return source


# --- the Markdown pages -----------------------------------------------------------------------

def home_page(readme: str, out: Path = OUT, decks: Path = SLIDES) -> str:
    """The README as the home page: its course index also links each solution and deck."""
    start, end = readme.find(INDEX_START), readme.find(INDEX_END)
    if start < 0 or end < 0:
        return readme
    rows = []
    for line in readme[start + len(INDEX_START):end].strip().splitlines():
        cells = line.strip().strip("|").split("|")
        match = re.search(r"\]\(notebooks/([^)]+\.ipynb)\)", line)
        if match:
            lecture = layout.LECTURES / match.group(1)
            solution = solution_of(lecture)
            extra = [f"[练习解答]({layout.SOLUTIONS.name}/{solution.name})"
                     if solution.is_file() else "",
                     # raw HTML: the deck lies outside the site, where mkdocs does not look
                     f'<a href="{html.escape(deck_href(lecture, out, decks)[3:])}">幻灯片</a>']
        elif set(line) <= set("|- "):
            extra = ["---", "---"]
        else:
            extra = ["练习解答", "slides"]
        rows.append("| " + " | ".join(c.strip() for c in [*cells[:2], *extra, *cells[2:]]) + " |")
    index = "\n".join(rows)
    return f"{readme[:start]}{INDEX_START}\n{index}\n{readme[end:]}"


# --- preparing the sources --------------------------------------------------------------------

def write_if_changed(path: Path, text: str) -> bool:
    """Write a file unless it already holds `text` (keeps mtimes for what did not change)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def notebooks() -> list[Path]:
    """Every lecture, then every worked solution."""
    return layout.lectures() + layout.solutions()


def markdown_pages() -> dict[str, Path]:
    """Every Markdown page of the site by its path there (README -> index.md)."""
    pages = {"index.md": README}
    pages |= {f"docs/{p.name}": p for p in sorted(DOCS.glob("*.md"))}
    pages |= {name: layout.REPO / name for name in EXTRA_PAGES if (layout.REPO / name).is_file()}
    return pages


def nav() -> list[dict]:
    """The site's navigation: home, lectures, solutions, the course's documents."""
    def entries(paths: list[Path]) -> list[dict]:
        return [{notebook_title(p): f"{folder(p)}/{p.name}"} for p in paths]

    sections = [{"首页": "index.md"}, {"讲义": entries(layout.lectures())}]
    if layout.solutions():
        sections.append({"练习解答": entries(layout.solutions())})
    sections.append({"课程文档": [p for p in markdown_pages() if p != "index.md"]})
    return sections


def mkdocs_config(src: Path = SRC, out: Path = OUT) -> dict:
    """mkdocs.yml: Material, Chinese search, offline, notebooks rendered from stored outputs."""
    return {
        "site_name": "动手学深度学习 v2 · PyTorch 课程",
        "docs_dir": str(src / PAGES), "site_dir": str(out),
        "use_directory_urls": False,  # pages are files: the site opens from file:// too
        "theme": {"name": "material", "language": "zh", "font": False,  # no web fonts
                  "features": ["navigation.tabs", "navigation.top", "search.highlight"]},
        "extra": {"polyfills": [IFRAME_WORKER_DEST]},  # the offline plugin's shim, local
        "markdown_extensions": ["tables", "toc", "admonition"],
        "plugins": [
            {"search": {"lang": "zh", "jieba_dict_user": str(src / TERMS_FILE)}},
            "offline",
            {"mkdocs-jupyter": {"include": ["*.ipynb"], "execute": False, "no_prompt": True,
                                "custom_mathjax_url": MATHJAX_URL, "cache_dir": str(CACHE)}},
        ],
        "hooks": [str(HOOKS)],
        "nav": nav(),
        "validation": {"links": {"not_found": "warn", "anchors": "info"}},
    }


def prepare(src: Path = SRC, out: Path = OUT, decks: Path = SLIDES) -> int:
    """Write the site's sources into `src`; drop what no longer exists; return files written."""
    wanted: dict[Path, str] = {}
    pages = src / PAGES
    for path in notebooks():
        nb = site_notebook(path, out, decks)
        wanted[pages / folder(path) / path.name] = json.dumps(nb, ensure_ascii=False, indent=1)
    for name, path in markdown_pages().items():
        text = path.read_text(encoding="utf-8")
        wanted[pages / name] = home_page(text, out, decks) if name == "index.md" else text
    wanted[src / TERMS_FILE] = "\n".join(TERMS) + "\n"
    # JSON is YAML: mkdocs reads it as its mkdocs.yml
    wanted[src / "mkdocs.yml"] = json.dumps(mkdocs_config(src, out), ensure_ascii=False, indent=1)
    written = sum(write_if_changed(path, text) for path, text in wanted.items())
    for stale in [p for p in src.rglob("*") if p.is_file() and p.suffix in (".md", ".ipynb")]:
        if stale not in wanted:
            stale.unlink()
    return written


def copy_tree(src: Path, dest: Path) -> None:
    """Copy a file or folder, replacing what was there."""
    if dest.exists():
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dest)


def npm_install(npm_dir: Path, dest: Path) -> None:
    """`npm ci` the pinned packages of npm_dir into dest unless they are there already."""
    digest = hashlib.sha256(b"".join((npm_dir / n).read_bytes()
                                     for n in ("package.json", "package-lock.json"))).hexdigest()
    stamp = dest / ".installed"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("site: npm is needed once, to fetch the iframe-worker polyfill (see docs/site.md)")
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(npm_dir / name, dest / name)
    cmd = [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts",
           "--loglevel=error"]
    if subprocess.run(cmd, cwd=dest).returncode != 0:
        sys.exit("site: `npm ci` failed (see above); it needs the npm registry or a warm cache")
    stamp.write_text(digest + "\n")


def vendor(src: Path = SRC) -> None:
    """Put the local MathJax and the iframe-worker polyfill among the site's assets."""
    npm_install(NPM_DIR, NPM_OUT)
    mathjax = src / PAGES / MATHJAX_DEST
    stamp, want = mathjax / ".copied", "\n".join([slides.lock_digest(), *MATHJAX_KEEP]) + "\n"
    if not stamp.is_file() or stamp.read_text() != want:
        shutil.rmtree(mathjax, ignore_errors=True)
        for part in MATHJAX_KEEP:
            copy_tree(MATHJAX_SRC / part, mathjax / part)
        stamp.write_text(want)
    write_if_changed(src / PAGES / IFRAME_WORKER_DEST,
                     (NPM_OUT / IFRAME_WORKER).read_text(encoding="utf-8"))


def digest(src: Path) -> str:
    """What a build depends on: every prepared file, this tool, its hooks and the site packages."""
    hasher = hashlib.sha256()
    for path in sorted([*(p for p in src.rglob("*") if p.is_file()), Path(__file__), HOOKS]):
        hasher.update(str(path).encode() + b"\0" + path.read_bytes())
    for package in ("mkdocs", "mkdocs-material", "mkdocs-jupyter", "jieba"):
        hasher.update(f"{package}=={importlib.metadata.version(package)}".encode())
    return hasher.hexdigest()


def mkdocs_build(src: Path = SRC) -> None:
    """Run `mkdocs build --strict` on the prepared sources; print its warnings, not its INFO."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(src / "mkdocs.yml")]
    env = {**os.environ, "PYTHONPATH": str(layout.REPO),  # the hooks import tools.site
           "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life notice: docs/site.md has it
    proc = subprocess.run(cmd, cwd=layout.REPO, env=env, capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        if not line.startswith("INFO") or "Documentation built" in line:
            print(f"  {line}", flush=True)
    if proc.returncode != 0:
        sys.exit("site: mkdocs build failed (see above)")


def open_command(out: Path = OUT) -> str:
    """The one command that opens the site in a browser (from file://: no server needed)."""
    return f"python3 -m webbrowser {(out / 'index.html').as_uri()}"


def main(argv: list[str] | None = None) -> int:
    """Bring the decks up to date beside the site, and build the site unless it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    start = time.monotonic()
    if not layout.lectures():
        sys.exit("site: no lectures in notebooks/")
    slides.ensure_vendor(SLIDES)  # npm, once: the decks' MathJax is the site's too
    # The decks the pages link to, exported meanwhile on the other core (missing or stale only).
    decks = subprocess.Popen([sys.executable, "-m", "tools.slides"], cwd=layout.REPO)
    vendor(SRC)
    written = prepare(SRC, OUT, SLIDES)
    stamp, want = OUT / STAMP, digest(SRC)
    if args.force or not stamp.is_file() or stamp.read_text().strip() != want:
        log(f"{written} sources changed; mkdocs build -> {shown(OUT)}")
        mkdocs_build(SRC)
        stamp.write_text(want + "\n")
    else:
        log(f"{shown(OUT)} is up to date")
    if decks.wait() != 0:
        sys.exit("site: the decks failed to build (see above); the pages link to them")
    log(f"done in {time.monotonic() - start:.1f} s; open it (offline, no server needed):")
    print(f"  {open_command(OUT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
