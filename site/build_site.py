"""Build the course site: every lecture run at the small size, rendered to static HTML that works offline.

    python site/build_site.py                  # what `make site` runs: all of lectures/*.ipynb -> _site/
    python site/build_site.py --only 00 03     # a subset (file names containing "00" or "03")
    python site/build_site.py --force          # re-execute even the notebooks whose source did not change

What lands in ``_site/``::

    index.html               the course map: lectures in order, titles, intros and learning goals
    NAME.html                one page per lecture: its cells, figures (PNG data URIs) and outputs
    notebooks/NAME.ipynb     the lecture as committed (no outputs), for the download links
    site.css                 the site's own styles
    mathjax/                 MathJax 2 (from the jupyter-server-mathjax package), so formulas render offline
    .build/                  the executed notebooks and their source hashes (the cache; not for publishing)

How it works. Lectures are found by globbing ``lectures/*.ipynb`` (sorted). Each is executed with
nbclient in a ``python3`` kernel of this interpreter's environment, with ``CNNKIT_SIZE=small`` and
matplotlib's headless inline backend (Agg rendering to PNG outputs: with ``MPLBACKEND=Agg`` itself a
``plt.show()`` would show nothing); a cell that raises fails the build, naming the notebook and the cell. The
executed notebook is cached under ``.build/`` with the SHA-256 of its source (and the size and this
builder's cache version): the next build reuses it while the source is unchanged. nbclient stores
the widgets' state in the executed notebook; ``static_widgets`` turns every widget view into plain
HTML (the explorers' SVG, images, disabled controls showing their values), so a page shows each
explorer as it was when the notebook finished, without a kernel and without the widget manager's
JavaScript. Pages are rendered by nbconvert's HTMLExporter through ``templates/cnnkit_site``, the
``lab`` template minus everything it would load from a CDN (require.js, the widget html-manager,
mermaid, MathJax), plus the site's navigation; MathJax is served from the site itself.
``find_remote_references`` checks every written page: a page that would load anything from the
network fails the build.

Two things nbconvert alone gets wrong for these lectures. An exercise's answer is markdown inside
``<details><summary>Answer</summary> ... </details>``; nbconvert closes the ``<details>`` right after
its summary, so every answer would show. ``fold_answers`` renders the markdown inside first and
writes the element as one HTML block: folded until its summary is clicked. And a page is centred,
at most ``PAGE_WIDTH_PX`` wide, its figures at most ``FIGURE_WIDTH_PX``: the width the kit's
figures are drawn for (``tests/test_figures.py`` checks their text is readable there).

Links: "Open in JupyterLab" points at ``/lab/tree/lectures/NAME.ipynb`` (a path on the server the
site is served from; ``--lab-url`` changes the prefix, e.g. for a JupyterHub), "Download" at the
copy in ``notebooks/``.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import fnmatch
import hashlib
import html
import json
import os
import re
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable

SITE_DIR = Path(__file__).resolve().parent
REPO = SITE_DIR.parent
if str(SITE_DIR) not in sys.path:  # static_widgets sits beside this file (site/ is not a package)
    sys.path.insert(0, str(SITE_DIR))

from static_widgets import staticize  # noqa: E402

#: Bump to invalidate every cached execution (e.g. when what is stored in .build/ changes).
CACHE_VERSION = 1
DEFAULT_LAB_URL = "/lab/tree/lectures/"
DEFAULT_TITLE = "cnnkit: convolutional neural networks"
CELL_TIMEOUT_S = 600
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
BUILD_DIR = ".build"
STATIC_NOTE = ("Static snapshot of an interactive explorer, as the notebook left it. "
               "Open the notebook in JupyterLab to move its controls.")

#: MathJax 2 from the site's own copy; configured as Jupyter's classic notebook did (STIX web fonts,
#: which the jupyter-server-mathjax package ships). The page marks <html data-mathjax="done"> when
#: MathJax has typeset everything, so a check can wait for it. The style rule keeps the hidden MathML
#: that MathJax adds for screen readers in the page's font: in Chromium its \mathcal / \mathbb letters
#: would otherwise ask for MathJax's TeX .otf fonts, which the package does not ship (a 404).
MATHJAX_HEAD = """<style>.MJX_Assistive_MathML, .MJX_Assistive_MathML * {font-family: inherit !important;}</style>
<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {
    inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
    displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
    processEscapes: true,
    processEnvironments: true
  },
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], imageFont: null, preferredFont: null, webFont: "STIX-Web",
               linebreaks: {automatic: true}},
  displayAlign: "center",
  messageStyle: "none"
});
MathJax.Hub.Register.StartupHook("End", function () {
  document.documentElement.setAttribute("data-mathjax", "done");
});
</script>
<script src="{mathjax_src}"></script>"""


#: The site's content width. A lecture page is at most PAGE_WIDTH_PX wide (centred) and shows a figure at
#: most FIGURE_WIDTH_PX wide: a wider PNG is scaled down to it. Figures are drawn to be read there
#: (tests/test_figures.py renders the kit's figures at this width and checks their text size).
PAGE_WIDTH_PX = 1000
FIGURE_WIDTH_PX = 860
LAYOUT_CSS = f"""<style>
body.jp-Notebook {{ max-width: {PAGE_WIDTH_PX}px; margin: 0 auto; }}
body.jp-Notebook .jp-RenderedImage img {{ max-width: min(100%, {FIGURE_WIDTH_PX}px); height: auto; }}
details.cnnkit-answer > summary {{ cursor: pointer; color: var(--jp-brand-color1, #1565c0); }}
</style>"""


class BuildError(RuntimeError):
    """The site could not be built (a lecture failed, a page would reach the network...)."""


# --------------------------------------------------------------------------- reading a lecture
@dataclass
class LectureInfo:
    """What the course map shows of a lecture, read from the markdown cells before its first code cell."""

    title: str
    intro: str = ""  # markdown between the title and the learning goals
    goals_lead: str = ""  # e.g. "After this notebook you can"
    goals: list[str] = field(default_factory=list)  # markdown, one item each


_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+(.*)$")


def _prettify(stem: str) -> str:
    return re.sub(r"[_\s]+", " ", stem).strip()


def lecture_info(nb, fallback: str) -> LectureInfo:
    """Title, intro and learning goals of a lecture notebook (its "first cells").

    The title is the first heading of the markdown cells that come before the first code cell
    (``fallback``, prettified, if there is none); the goals are the list items under the first
    heading that starts with "Learning goals", up to the next heading.
    """
    text_cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            break
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            text_cells.append("".join(source) if isinstance(source, list) else source)
    lines = "\n\n".join(text_cells).splitlines()

    title, title_at = None, -1
    for i, line in enumerate(lines):
        match = _HEADING.match(line)
        if match:
            title, title_at = match.group(2).strip(), i
            break
    info = LectureInfo(title=title or _prettify(fallback))

    goals_at = next((i for i, line in enumerate(lines)
                     if (m := _HEADING.match(line)) and m.group(2).strip().lower().startswith("learning goals")), None)
    intro_end = goals_at if goals_at is not None else len(lines)
    intro_lines = []
    for line in lines[title_at + 1:intro_end]:
        if _HEADING.match(line):
            break
        intro_lines.append(line)
    info.intro = "\n".join(intro_lines).strip()
    if goals_at is None:
        return info

    lead, items, blank = [], [], False
    for line in lines[goals_at + 1:]:
        if _HEADING.match(line):
            break
        item = _ITEM.match(line)
        if not line.strip():
            blank = True
        elif item:
            items.append(item.group(1).strip())
        elif not items:
            lead.append(line.strip())
        elif line[:1].isspace() or not blank:
            items[-1] += " " + line.strip()  # the item goes on (indented, or a lazy continuation line)
        else:
            break  # a paragraph after the list: the goals are over
        if line.strip():
            blank = False
    info.goals_lead = " ".join(lead).rstrip(":").strip()
    info.goals = items
    return info


def discover(lectures_dir: Path, only: Iterable[str] = ()) -> list[Path]:
    """``lectures_dir/*.ipynb`` sorted by name; ``only`` keeps those whose name contains or matches one pattern.

    Names starting with ``_`` or ``.`` are left out: editors' and tools' temporary copies.
    """
    found = sorted(p for p in Path(lectures_dir).glob("*.ipynb") if p.is_file() and not p.name.startswith(("_", ".")))
    patterns = [p for p in only if p]
    if patterns:
        found = [p for p in found if any(pat in p.name or fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    return found


def source_key(source: bytes | Path, size: str) -> str:
    """The cache key of a lecture: SHA-256 of its bytes, the run size and the cache version."""
    data = Path(source).read_bytes() if isinstance(source, Path) else source
    return f"v{CACHE_VERSION}-{size}-{hashlib.sha256(data).hexdigest()}"


def kit_fingerprint(root: Path = REPO / "cnnkit") -> str:
    """A hash of the kit's Python sources: outputs cached before a change of the kit may be stale."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:  # removed while we looked
            continue
    return digest.hexdigest()


# --------------------------------------------------------------------------- executing
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _failing_cell(nb) -> tuple[str, str]:
    """Where the cell that raised is ("cell 7 (code cell 4)") and its source: the first cell with an
    error output, else the last cell that ran (a timeout or a dead kernel leave no error output)."""
    last = ("an unknown cell", "<unknown cell>")
    code_number = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code_number += 1
        where = f"cell {index} (code cell {code_number})"
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return where, cell.source
        if cell.get("execution_count"):
            last = (where, cell.source)
    return last


def kernel_environment(size: str, threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["CNNKIT_SIZE"] = size
    # Matplotlib's inline backend: Agg underneath (headless), and it turns every figure a cell shows
    # into an image/png output. Plain "Agg" would drop the figures of plt.show(): a kernel keeps the
    # MPLBACKEND it is given, and lectures 01-04 rely on the kernel's default inline backend.
    env["MPLBACKEND"] = INLINE_BACKEND
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    # the kernel is this interpreter's environment: its bin/ first on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


async def _execute(path: Path, source: bytes, env: dict[str, str], timeout: int, kernel_name: str):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.reads(source.decode("utf-8"), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        await client.async_execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        where, source = _failing_cell(nb)
        raise BuildError(f"{path.name}: {where} failed\n--- source ---\n{source}\n--- error ---\n"
                         f"{_ANSI.sub('', str(exc)).strip()}") from None
    return nb


async def _execute_all(paths: list[Path], sources: dict[Path, bytes], env: dict[str, str], jobs: int, timeout: int,
                       kernel_name: str, log: Callable[[str], None]) -> tuple[dict, dict, dict]:
    """Run the notebooks, ``jobs`` at a time; returns (executed nbs, seconds, errors) keyed by path."""
    semaphore = asyncio.Semaphore(max(1, jobs))
    done, seconds, errors = {}, {}, {}

    async def one(path: Path) -> None:
        async with semaphore:
            log(f"  run   {path.name}")
            start = time.monotonic()
            try:
                done[path] = await _execute(path, sources[path], env, timeout, kernel_name)
            except BuildError as exc:
                errors[path] = str(exc)
                log(f"  FAIL  {path.name} ({time.monotonic() - start:.1f} s)")
                return
            seconds[path] = time.monotonic() - start
            log(f"  done  {path.name} ({seconds[path]:.1f} s)")

    await asyncio.gather(*(one(p) for p in paths))
    return done, seconds, errors


# --------------------------------------------------------------------------- the offline check
#: Attributes through which a browser loads something by itself (an <a href> is only followed on a click).
_LOADING_ATTRS = {"src", "srcset", "poster", "background", "data", "manifest", "codebase", "archive"}
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //host, ws://...
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:[a-z][a-z0-9+.-]*:)?//[^'")\s]*)""", re.IGNORECASE)
_JS_REMOTE = re.compile(r"""['"`]((?:https?:|wss?:)?//[^'"`\s]+)""", re.IGNORECASE)
#: The XML namespaces SVG and MathML name with an http URL: identifiers, never fetched.
_NAMESPACES = re.compile(r"^https?://www\.w3\.org/(?:2000/svg|1999/xlink|1999/xhtml|1998/Math/MathML)")


class _RemoteFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if value is None:
                continue
            loads = (name in _LOADING_ATTRS or (name in ("href", "xlink:href") and tag in ("link", "image", "use",
                                                                                        "feimage", "script"))
                     or (name == "content" and tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh"))
            if loads:
                for part in value.split(","):
                    url = part.strip().split(" ")[0]
                    if _REMOTE.match(url) and not _NAMESPACES.match(url):
                        self.found.append(f"<{tag} {name}={url}>")
            if name == "style":
                self.found += [f"<{tag} style: {u}>" for u in _CSS_URL.findall(value)]
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.found += [f"<style>: {u}" for u in _CSS_URL.findall(data)]
        elif self._in == "script":
            self.found += [f"<script>: {u}" for u in _JS_REMOTE.findall(data) if not _NAMESPACES.match(u)]


def find_remote_references(page_html: str) -> list[str]:
    """Everything in a page that a browser would fetch from another host: remote src/srcset, <link href>,
    CSS ``url()`` / ``@import``, URLs in scripts. Plain links (``<a href>``) are not fetches and pass."""
    finder = _RemoteFinder()
    finder.feed(page_html)
    finder.close()
    return finder.found


# --------------------------------------------------------------------------- rendering
def _markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


def _inline_markdown(text: str) -> str:
    """Markdown of one list item, without the <p> wrapper."""
    out = _markdown(text).strip()
    match = re.fullmatch(r"<p>(.*)</p>", out, flags=re.DOTALL)
    return match.group(1) if match else out


#: An answer folded in ``<details>``: its summary line, the markdown inside, the closing tag on its own line.
_DETAILS = re.compile(r"^(?P<indent>[ \t]*)<details(?P<attrs>[^>]*)>[ \t]*<summary>(?P<summary>.*?)</summary>"
                      r"(?P<body>.*?)^[ \t]*</details>[ \t]*$", re.MULTILINE | re.DOTALL)


def fold_answers(markdown: str) -> str:
    """Each ``<details><summary>..</summary> markdown </details>`` of a cell as one block of HTML.

    The notebooks write an exercise's answer as markdown between ``<details>`` and ``</details>`` (JupyterLab
    renders that folded). nbconvert would not: its renderer closes the ``<details>`` right after the summary
    and leaves the answer below it, open. Rendering the markdown inside first and writing the whole element
    on one line (newlines as ``&#10;``) keeps it one HTML block, folded, with its formatting.
    """
    def one(match: re.Match) -> str:
        body = textwrap.dedent(match.group("body").strip("\n"))
        inner = _markdown(body).strip().replace("\n", "&#10;")
        summary = _inline_markdown(match.group("summary").strip())
        return f'{match.group("indent")}<details class="cnnkit-answer"{match.group("attrs")}><summary>{summary}</summary>{inner}</details>'

    return _DETAILS.sub(one, markdown)


def mathjax_head(prefix: str = "") -> str:
    src = f"{prefix}mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
    return MATHJAX_HEAD.replace("{mathjax_src}", html.escape(src, quote=True))


def render_lecture(executed_nb, *, title: str, filename: str, size: str, lab_href: str, download_href: str,
                   prev_link: dict | None = None, next_link: dict | None = None, source_dir: Path | None = None,
                   lecture_stems: Iterable[str] = ()) -> tuple[str, dict]:
    """The HTML page of one executed lecture (widgets made static); returns (html, widget counts).

    Images that the markdown cells take from files (relative to ``source_dir``) are embedded as data
    URIs; links to another lecture's notebook (``NAME.ipynb``, a stem in ``lecture_stems``) point at
    its page instead.
    """
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(executed_nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "<details" in cell.source:
            cell.source = fold_answers(cell.source)
    counts = staticize(nb, note=html.escape(STATIC_NOTE))
    exporter = HTMLExporter(template_name="cnnkit_site", extra_template_basedirs=[str(SITE_DIR / "templates")],
                            embed_images=True)
    resources = {
        "metadata": {"name": title, "path": str(source_dir or REPO / "lectures")},
        "cnnkit_site": {
            "head_html": LAYOUT_CSS + "\n" + mathjax_head(), "css_href": "site.css", "index_href": "index.html",
            "lab_href": lab_href, "download_href": download_href, "filename": filename, "size": size,
            "prev": prev_link, "next": next_link,
        },
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    stems = "|".join(re.escape(stem) for stem in lecture_stems)
    if stems:
        body = re.sub(rf'href="(?:\./|\.\./lectures/)?({stems})\.ipynb(#[^"]*)?"', r'href="\1.html\2"', body)
    return body, counts


def render_course_map(entries: list[dict], *, course_title: str, size: str) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SITE_DIR / "templates")),
                             autoescape=False, keep_trailing_newline=True)
    return env.get_template("course_map.html.j2").render(lectures=entries, course_title=course_title, size=size,
                                                         head_html=mathjax_head())


def mathjax_source() -> Path:
    """The MathJax 2 files the jupyter-server-mathjax package ships."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise BuildError("the course site needs MathJax from the jupyter-server-mathjax package: "
                         "pip install -e '.[dev]' (or pip install jupyter-server-mathjax)") from None
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():
        raise BuildError(f"MathJax.js not found in {static}")
    return static


def _copy_mathjax(out_dir: Path) -> None:
    source = mathjax_source()
    target = out_dir / "mathjax"
    stamp = f"{source}:{(source / 'MathJax.js').stat().st_mtime_ns}"
    marker = target / ".copied-from"
    if marker.is_file() and marker.read_text() == stamp:
        return
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    marker.write_text(stamp)


# --------------------------------------------------------------------------- the build
@dataclass
class BuildReport:
    out_dir: Path
    pages: list[Path] = field(default_factory=list)
    executed: dict[str, float] = field(default_factory=dict)  # notebook name -> seconds
    cached: list[str] = field(default_factory=list)
    widgets: dict[str, dict] = field(default_factory=dict)  # notebook name -> static widget counts
    seconds: float = 0.0


def build(lectures_dir: Path = REPO / "lectures", out_dir: Path = REPO / "_site", *, size: str = "small",
          jobs: int = 1, threads: int | None = None, force: bool = False, only: Iterable[str] = (),
          lab_url: str = DEFAULT_LAB_URL, course_title: str = DEFAULT_TITLE, timeout: int = CELL_TIMEOUT_S,
          kernel_name: str = "python3", log: Callable[[str], None] = print) -> BuildReport:
    """Execute (or reuse) every lecture and write the site; raises :class:`BuildError` on any failure."""
    start = time.monotonic()
    import nbformat

    lectures_dir, out_dir = Path(lectures_dir).resolve(), Path(out_dir).resolve()
    paths = discover(lectures_dir, only)
    if not paths:
        raise BuildError(f"no lecture notebooks in {lectures_dir}" + (f" matching {list(only)}" if only else ""))
    report = BuildReport(out_dir=out_dir)
    cache = out_dir / BUILD_DIR
    cache.mkdir(parents=True, exist_ok=True)
    kit = kit_fingerprint()

    # 1. which lectures must run: those whose source (or size, or cache version) changed. Each source is
    #    read once: what is hashed is what runs, is shown and is offered for download.
    sources = {p: p.read_bytes() for p in paths}
    keys = {p: source_key(sources[p], size) for p in paths}
    executed_nbs, to_run, stale_kit = {}, [], []
    for path in paths:
        meta_file, nb_file = cache / f"{path.stem}.json", cache / f"{path.stem}.ipynb"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        if not force and meta.get("key") == keys[path] and nb_file.is_file():
            executed_nbs[path] = nbformat.read(nb_file, as_version=4)
            report.cached.append(path.name)
            if meta.get("kit") != kit:
                stale_kit.append(path.name)
        else:
            to_run.append(path)
    if stale_kit:
        log(f"  note  {len(stale_kit)} cached lecture(s) ran before the last change to cnnkit/: "
            f"{', '.join(stale_kit)} (--force re-runs them)")
    log(f"{len(paths)} lectures: {len(report.cached)} unchanged (cached), {len(to_run)} to run "
        f"(CNNKIT_SIZE={size}, {jobs} at a time)")

    # 2. run them; a failure fails the build, after the others finished (and were cached)
    if to_run:
        env = kernel_environment(size, threads)
        done, seconds, errors = asyncio.run(_execute_all(to_run, sources, env, jobs, timeout, kernel_name, log))
        for path, nb in done.items():
            nbformat.write(nb, cache / f"{path.stem}.ipynb")
            (cache / f"{path.stem}.json").write_text(json.dumps(
                {"key": keys[path], "kit": kit, "seconds": round(seconds[path], 2), "size": size}, indent=1))
            executed_nbs[path] = nb
            report.executed[path.name] = seconds[path]
        if errors:
            raise BuildError("\n\n".join(errors[p] for p in to_run if p in errors))

    # 3. pages, the course map, the downloads, MathJax and the stylesheet
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    shutil.copy2(SITE_DIR / "static" / "site.css", out_dir / "site.css")
    _copy_mathjax(out_dir)
    infos = {p: lecture_info(nbformat.reads(sources[p].decode("utf-8"), as_version=4), p.stem) for p in paths}
    links = [{"href": f"{p.stem}.html", "label": infos[p].title} for p in paths]
    entries, written = [], []
    for i, path in enumerate(paths):
        info = infos[path]
        if not info.goals:
            log(f"  warn  {path.name}: no 'Learning goals' list found in its first cells")
        lab_href = f"{lab_url}{path.name}"
        download_href = f"notebooks/{path.name}"
        page, counts = render_lecture(executed_nbs[path], title=info.title, filename=path.name, size=size,
                                      lab_href=lab_href, download_href=download_href,
                                      prev_link=links[i - 1] if i > 0 else None,
                                      next_link=links[i + 1] if i + 1 < len(paths) else None,
                                      source_dir=lectures_dir, lecture_stems=[p.stem for p in paths])
        remote = find_remote_references(page)
        if remote:
            raise BuildError(f"{path.name}: the page would load from the network: {remote[:5]}")
        if counts["missing"]:
            log(f"  warn  {path.name}: {counts['missing']} widget view(s) without stored state (shown as text)")
        report.widgets[path.name] = counts
        target = out_dir / f"{path.stem}.html"
        target.write_text(page, encoding="utf-8")
        (out_dir / "notebooks" / path.name).write_bytes(sources[path])
        written += [target.name, f"notebooks/{path.name}"]
        report.pages.append(target)
        entries.append({"stem": path.stem, "filename": path.name, "page": f"{path.stem}.html",
                        "title": info.title, "intro_html": _markdown(info.intro) if info.intro else "",
                        "goals_lead": info.goals_lead, "goals_html": [_inline_markdown(g) for g in info.goals],
                        "lab_href": lab_href, "download_href": download_href})
    index = render_course_map(entries, course_title=course_title, size=size)
    remote = find_remote_references(index)
    if remote:
        raise BuildError(f"index.html would load from the network: {remote[:5]}")
    (out_dir / "index.html").write_text(index, encoding="utf-8")

    # 4. pages of lectures that are gone (renamed, removed) go too; their cache stays harmless
    manifest = cache / "manifest.json"
    before = json.loads(manifest.read_text()) if manifest.is_file() else []
    if not list(only):  # a partial build keeps the other pages
        for stale in set(before) - set(written):
            (out_dir / stale).unlink(missing_ok=True)
        manifest.write_text(json.dumps(sorted(written), indent=1))
    else:
        manifest.write_text(json.dumps(sorted(set(before) | set(written)), indent=1))

    report.seconds = time.monotonic() - start
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lectures", type=Path, default=REPO / "lectures", help="folder of lecture notebooks")
    parser.add_argument("--out", type=Path, default=REPO / "_site", help="output folder (default: _site)")
    parser.add_argument("--size", default=os.environ.get("SITE_SIZE", "small"), help="CNNKIT_SIZE for the runs")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("SITE_JOBS", "1")),
                        help="notebooks run at once (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP/MKL threads per kernel (default: the library's own choice)")
    parser.add_argument("--force", action="store_true", help="re-execute every notebook, cached or not")
    parser.add_argument("--only", nargs="*", default=[], help="build only lectures whose file name contains one of these")
    parser.add_argument("--lab-url", default=os.environ.get("SITE_LAB_URL", DEFAULT_LAB_URL),
                        help=f"prefix of the 'Open in JupyterLab' links (default {DEFAULT_LAB_URL})")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the course map's heading")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds a cell may run")
    args = parser.parse_args(argv)
    try:
        report = build(args.lectures, args.out, size=args.size, jobs=args.jobs, threads=args.threads,
                       force=args.force, only=args.only, lab_url=args.lab_url, course_title=args.title,
                       timeout=args.timeout)
    except BuildError as exc:
        print(f"\nsite build FAILED: {exc}", file=sys.stderr)
        return 1
    ran = sum(report.executed.values())
    print(f"site built in {report.seconds:.1f} s: {len(report.pages)} lecture pages + index.html in {report.out_dir} "
          f"({len(report.executed)} executed in {ran:.1f} s of kernel time, {len(report.cached)} from cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
