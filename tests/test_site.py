"""The course site (``make site``, ``site/build_site.py``): built offline, and whole in a real browser.

Fast tests check the builder's pieces without a kernel: the course map's titles and learning
goals, the offline check, a page rendered from a hand-made executed notebook (widgets made static,
MathJax local, nothing from a CDN) and the templates themselves. Slow tests run kernels: the
cache (an unchanged lecture is not run again) and a failing cell naming its notebook and cell.

The browser test builds the site once (module fixture) from a subset of the lectures: the
explorers and two cheap lectures with figures and formulas, 20-40 s. All nine took 1.5 min on 2
quiet cores but 6-7 min on 2 busy ones (beside the rest of the suite), too close to the 6 min this
test may take; ``CNNKIT_SITE_TEST_ALL=1`` builds and checks every lecture, as ``make site`` builds
them. The site is served on 127.0.0.1 and the course map and every lecture page are opened in
headless Chromium, with a route handler that aborts and records every request
not for that server. Each page must render its images, its explorers' SVG, its formulas, and no
error output; the course map must link every lecture; nothing may have reached for the network.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from conftest import REPO, chromium_path

sys.path.insert(0, str(REPO / "site"))
import build_site  # noqa: E402
import static_widgets  # noqa: E402

LECTURES_DIR = REPO / "lectures"
ARTIFACTS = REPO / "test-artifacts"
#: What the browser test builds unless CNNKIT_SITE_TEST_ALL=1: every explorer, figures, formulas.
SUBSET = ("explorers", "01_", "03_")
PAGE_TIMEOUT_MS = 60_000
#: A 1x1 PNG.
PIXEL_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def _notebook(cells: list, **metadata) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata.update(metadata)
    return nb


def _md(text: str):
    return nbformat.v4.new_markdown_cell(text)


def _code(text: str, outputs: list | None = None):
    cell = nbformat.v4.new_code_cell(text)
    cell.outputs = outputs or []
    return cell


# --------------------------------------------------------------------------- the course map's data
def test_lecture_info_reads_title_intro_and_goals():
    nb = _notebook([
        _md("# 04 · Local contrast normalization\n\n*Part 4.* We build it.\n\n## Learning goals\n"
            "After this notebook you can\n\n- write LCN, $h' = (h - m_N) / \\sigma_N$, and compute it with\n"
            "  `cnnkit.ops.local_contrast_norm`;\n- train a **whole** network.\n\nA closing remark.\n"),
        _md("## Not part of the map"),
        _code("import cnnkit"),
        _md("## Learning goals\n- not this one"),
    ])
    info = build_site.lecture_info(nb, "04_local")
    assert info.title == "04 · Local contrast normalization"
    assert info.intro == "*Part 4.* We build it."
    assert info.goals_lead == "After this notebook you can"
    assert info.goals == ["write LCN, $h' = (h - m_N) / \\sigma_N$, and compute it with "
                          "`cnnkit.ops.local_contrast_norm`;", "train a **whole** network."]


def test_lecture_info_without_heading_or_goals_falls_back():
    info = build_site.lecture_info(_notebook([_code("x = 1"), _md("# Late title")]), "09_extra_topic")
    assert (info.title, info.goals, info.intro) == ("09 extra topic", [], "")
    numbered = build_site.lecture_info(_notebook([_md("# T\n### Learning goals:\n1. one\n2) two\n")]), "x")
    assert numbered.goals == ["one", "two"]


def test_every_lecture_has_a_title_and_goals_for_the_map():
    paths = build_site.discover(LECTURES_DIR)
    assert paths == sorted(p for p in LECTURES_DIR.glob("[!_.]*.ipynb")) and paths, "lectures are globbed and sorted"
    for path in paths:
        info = build_site.lecture_info(nbformat.read(path, as_version=4), path.stem)
        assert info.title and not info.title.startswith("#"), path.name
        assert len(info.goals) >= 2, f"{path.name}: goals read as {info.goals}"
        assert all(g.strip() and not g.lstrip().startswith(("-", "*")) for g in info.goals), path.name


def test_discover_filters_and_the_cache_key_follows_the_source(tmp_path):
    for name in ("02_b.ipynb", "00_a.ipynb", "03b_explorers.ipynb", "notes.txt", "_tmp_02_b.ipynb", ".~00_a.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in build_site.discover(tmp_path)] == ["00_a.ipynb", "02_b.ipynb", "03b_explorers.ipynb"]
    assert [p.name for p in build_site.discover(tmp_path, ["explorers", "00_*"])] == ["00_a.ipynb",
                                                                                     "03b_explorers.ipynb"]
    path = tmp_path / "00_a.ipynb"
    key = build_site.source_key(path, "small")
    assert key == build_site.source_key(path, "small") != build_site.source_key(path, "full")
    path.write_text('{"changed": 1}')
    assert build_site.source_key(path, "small") != key


# --------------------------------------------------------------------------- the offline check
def test_find_remote_references_flags_fetches_not_links():
    page = """<html><head>
      <script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>
      <link rel="stylesheet" href="//fonts.example.org/css">
      <style>@import "https://x.example/a.css"; .a {background: url(http://x.example/b.png)}</style>
      <script>import("https://cdn.example/mermaid.mjs")</script>
    </head><body>
      <a href="https://doi.org/10.1109/5.726791">LeCun et al. 1998</a>
      <img src="data:image/png;base64,AAAA"> <img srcset="a.png 1x, https://x.example/c.png 2x">
      <svg xmlns="http://www.w3.org/2000/svg"><image href="https://x.example/d.svg"/></svg>
      <div style="background-image: url('https://x.example/e.png')"></div>
      <script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"></script>
    </body></html>"""
    found = build_site.find_remote_references(page)
    assert len(found) == 8, found
    for host in ("cdnjs.cloudflare.com", "fonts.example.org", "x.example/a.css", "x.example/b.png",
                 "cdn.example/mermaid", "x.example/c.png", "x.example/d.svg", "x.example/e.png"):
        assert any(host in f for f in found), (host, found)
    assert not any("doi.org" in f or "w3.org" in f or "mathjax/" in f for f in found)


def test_templates_and_styles_name_no_remote_asset():
    for path in list((REPO / "site" / "templates").rglob("*")) + list((REPO / "site" / "static").rglob("*")):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path
            assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), path


# --------------------------------------------------------------------------- widgets made static
def _widget_state() -> dict:
    """A tiny explorer as nbclient stores it: a VBox of an HTML (SVG), an IntSlider and an Image."""
    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
                "state": {"_model_name": name, **state}}

    image = model("ImageModel", format="png", layout="IPY_MODEL_lay")
    image["buffers"] = [{"data": PIXEL_PNG, "encoding": "base64", "path": ["value"]}]
    return {
        "root": model("VBoxModel", _dom_classes=["cnnkit-conv-explorer"], layout="IPY_MODEL_lay",
                      children=["IPY_MODEL_svg", "IPY_MODEL_slider", "IPY_MODEL_img", "IPY_MODEL_tog"]),
        "svg": model("HTMLModel", value='<svg class="cnnkit-svg" width="20" height="20"><rect width="9" '
                                        'height="9"/></svg>', layout="IPY_MODEL_lay"),
        "slider": model("IntSliderModel", description="input size N", value=7, min=1, max=16, step=1,
                        readout=True, layout="IPY_MODEL_lay"),
        "img": image,
        "tog": model("ToggleButtonsModel", description="pooling", _options_labels=["max", "L2"], index=1,
                     layout="IPY_MODEL_lay"),
        "lay": {"model_name": "LayoutModel", "state": {"width": "300px",
                                                       "height": "1px; background: url(http://x.example/a.png)"}},
        "bar": model("FloatProgressModel", value=3, max=3, layout="IPY_MODEL_lay"),
    }


def _view(model_id: str, text: str = "Widget(...)") -> dict:
    return nbformat.v4.new_output("execute_result", execution_count=1, data={
        "text/plain": text, static_widgets.WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0,
                                                              "model_id": model_id}})


def _executed_notebook() -> nbformat.NotebookNode:
    state = {static_widgets.WIDGET_STATE_MIME: {"version_major": 2, "version_minor": 0, "state": _widget_state()}}
    return _notebook([
        _md("# 00 · A test lecture\n\n## Learning goals\n- see $a^2 + b^2 = c^2$ typeset"),
        _code("explorer", [_view("root")]),
        _code("bar", [_view("bar")]),
        _code("gone", [_view("not-stored", "ConvExplorer(children=...)")]),
        _code("plot", [nbformat.v4.new_output("display_data", data={"image/png": PIXEL_PNG,
                                                                   "text/plain": "<Figure>"})]),
        _code("print('hi')", [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]),
    ], widgets=state)


def test_staticize_turns_widget_views_into_html():
    nb = _executed_notebook()
    counts = static_widgets.staticize(nb, note="snapshot")
    assert counts == {"views": 3, "missing": 1}
    assert "widgets" not in nb.metadata
    explorer = nb.cells[1].outputs[0]["data"]
    assert static_widgets.WIDGET_VIEW_MIME not in explorer and explorer["text/plain"] == "Widget(...)"
    html = explorer["text/html"]
    assert html.startswith('<div class="cnnkit-static-widget"><div class="cnnkit-static-note">snapshot</div>')
    assert 'class="sw sw-vbox cnnkit-conv-explorer"' in html and '<svg class="cnnkit-svg"' in html
    assert 'type="range" min="1" max="16" step="1" value="7" disabled' in html and ">input size N<" in html
    assert f'src="data:image/png;base64,{PIXEL_PNG}"' in html
    assert 'aria-pressed="true">L2</button>' in html
    assert "width: 300px" in html and "x.example" not in html  # only plain CSS values from a layout
    bar = nb.cells[2].outputs[0]["data"]["text/html"]
    assert '<progress value="3" max="3">' in bar and "cnnkit-static-note" not in bar  # no controls, no note
    assert "ConvExplorer(children=...)" in nb.cells[3].outputs[0]["data"]["text/html"]


def test_rendered_page_is_offline_with_static_widgets_and_local_mathjax():
    page, counts = build_site.render_lecture(
        _executed_notebook(), title="00 · A test lecture", filename="00_test.ipynb", size="small",
        lab_href="/lab/tree/lectures/00_test.ipynb", download_href="notebooks/00_test.ipynb",
        next_link={"href": "01_next.html", "label": "01 · Next"})
    assert counts["views"] == 3
    assert build_site.find_remote_references(page) == []
    assert not re.search(r"cdnjs|unpkg|jsdelivr|require\.min\.js|html-manager|mermaid", page)
    assert 'src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"' in page
    assert "application/vnd.jupyter.widget-view+json" not in page
    assert page.count("cnnkit-static-widget") >= 3 and '<svg class="cnnkit-svg"' in page
    assert f"data:image/png;base64,{PIXEL_PNG}" in page  # the figure, embedded
    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one("a.cnnkit-open-lab")["href"] == "/lab/tree/lectures/00_test.ipynb"
    download = soup.select_one("a.cnnkit-download")
    assert download["href"] == "notebooks/00_test.ipynb" and download.has_attr("download")
    assert soup.select_one("a[rel=next]")["href"] == "01_next.html" and not soup.select("a[rel=prev]")
    assert soup.select_one("a.cnnkit-site-home")["href"] == "index.html"
    assert soup.select_one('link[rel="stylesheet"]')["href"] == "site.css"
    assert soup.title.string == "00 · A test lecture"


def test_error_outputs_are_marked_for_the_checks():
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=["Traceback", "ValueError: bad"])
    expected = _code("raise ValueError('bad')", [error])
    expected.metadata["tags"] = ["raises-exception"]
    nb = _notebook([_md("# T"), _code("1/0", [error]), expected])
    page, _ = build_site.render_lecture(nb, title="T", filename="t.ipynb", size="small", lab_href="/lab/tree/t",
                                        download_href="notebooks/t.ipynb")
    assert page.count("cnnkit-error-output") == 1 and page.count("cnnkit-expected-error") == 1


# --------------------------------------------------------------------------- folded answers
ANSWER_MD = ("1. What is $2 + 2$?\n\n   <details><summary>Answer</summary>\n\n   **Four**: `2 + 2` is $4$.\n\n"
             "   - a list item inside the answer\n\n   </details>\n\n2. Next question.\n")


def _answers(page: str) -> list:
    return BeautifulSoup(page, "html.parser").select("details.cnnkit-answer")


def test_fold_answers_keeps_the_markdown_inside_the_details():
    folded = build_site.fold_answers(ANSWER_MD)
    assert folded.count("<details") == 1 and folded.count("</details>") == 1
    line = next(line for line in folded.splitlines() if "<details" in line)
    assert line.startswith("   <details") and line.endswith("</details>")  # one line: one HTML block
    page, _ = build_site.render_lecture(_notebook([_md("# T"), _md(ANSWER_MD)]), title="T", filename="t.ipynb",
                                        size="small", lab_href="/lab/tree/t", download_href="notebooks/t.ipynb")
    (answer,) = _answers(page)
    assert answer.summary.get_text() == "Answer" and not answer.has_attr("open")
    assert answer.find("strong").get_text() == "Four" and answer.find("code").get_text() == "2 + 2"
    assert "$4$" in answer.get_text() and answer.find("li").get_text() == "a list item inside the answer"
    assert "Next question" not in answer.get_text()


def test_every_lecture_answer_is_inside_its_details():
    """nbconvert alone closes each <details> right after its summary; the builder keeps the answers inside."""
    for path in build_site.discover(LECTURES_DIR):
        nb = nbformat.read(path, as_version=4)
        expected = sum(c.source.count("<details") for c in nb.cells if c.cell_type == "markdown")
        page, _ = build_site.render_lecture(nb, title="T", filename=path.name, size="small",
                                            lab_href="/lab/tree/t", download_href="notebooks/t")
        answers = _answers(page)
        assert len(answers) == expected, path.name
        for answer in answers:
            text = answer.get_text(" ", strip=True)
            assert len(text) > len("Answer") + 20, f"{path.name}: an empty answer: {answer}"


@pytest.mark.browser
def test_answers_stay_folded_until_their_summary_is_clicked(tmp_path):
    """In Chromium an answer's text is hidden until its summary is clicked (all of lecture 02's, and a made-up one)."""
    from playwright.sync_api import sync_playwright

    pages = {"made_up.html": _notebook([_md("# T"), _md(ANSWER_MD)]),
             "lecture_02.html": nbformat.read(build_site.discover(LECTURES_DIR, ["02_"])[0], as_version=4)}
    expected = {}
    for name, nb in pages.items():
        page, _ = build_site.render_lecture(nb, title="T", filename="t.ipynb", size="small", lab_href="/lab/tree/t",
                                            download_href="notebooks/t.ipynb")
        (tmp_path / name).write_text(page, encoding="utf-8")
        expected[name] = len(_answers(page))
    assert expected["made_up.html"] == 1 and expected["lecture_02.html"] >= 4
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                       else r.abort())
            for name, count in expected.items():
                page.goto((tmp_path / name).as_uri(), wait_until="load")
                answers = page.locator("details.cnnkit-answer")
                assert answers.count() == count, name
                for i in range(count):
                    answer = answers.nth(i)
                    body = answer.locator(":scope > :not(summary)").first
                    assert answer.locator("summary").is_visible()
                    assert not body.is_visible(), f"{name}: answer {i + 1} shows before its summary is clicked"
                    answer.locator("summary").click()
                    assert body.is_visible(), f"{name}: answer {i + 1} still hidden after a click"
                    assert answer.evaluate("d => d.open")
        finally:
            browser.close()


# --------------------------------------------------------------------------- kernels: cache and failures
def _write(path: Path, cells: list) -> None:
    nbformat.write(_notebook(cells, kernelspec={"name": "python3", "display_name": "Python 3",
                                                "language": "python"}), path)


@pytest.mark.slow
def test_cache_skips_unchanged_lectures_and_a_failing_cell_is_named(tmp_path):
    lectures, out = tmp_path / "lectures", tmp_path / "_site"
    lectures.mkdir()
    _write(lectures / "00_intro.ipynb", [_md("# 00 · Intro\n## Learning goals\n- a\n- b"),
                                         _code("import os\nprint(os.environ['CNNKIT_SIZE'])")])
    _write(lectures / "01_plot.ipynb", [_md("# 01 · Plot\n## Learning goals\n- c\n- d"),
                                        _code("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")])
    quiet = []
    first = build_site.build(lectures, out, log=quiet.append)
    assert sorted(first.executed) == ["00_intro.ipynb", "01_plot.ipynb"] and first.cached == []
    assert (out / "index.html").is_file() and (out / "mathjax" / "MathJax.js").is_file()
    executed = nbformat.read(out / ".build" / "00_intro.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "small\n"
    plot = nbformat.read(out / ".build" / "01_plot.ipynb", as_version=4)
    assert any("image/png" in o.get("data", {}) for o in plot.cells[1].outputs), "plt.show() must give a PNG"

    second = build_site.build(lectures, out, log=quiet.append)
    assert second.executed == {} and sorted(second.cached) == ["00_intro.ipynb", "01_plot.ipynb"]

    _write(lectures / "01_plot.ipynb", [_md("# 01 · Plot, renamed\n## Learning goals\n- c"), _code("print(2)")])
    (lectures / "00_intro.ipynb").rename(lectures / "02_intro.ipynb")
    third = build_site.build(lectures, out, log=quiet.append)
    assert sorted(third.executed) == ["01_plot.ipynb", "02_intro.ipynb"]
    assert not (out / "00_intro.html").exists() and not (out / "notebooks" / "00_intro.ipynb").exists()
    index = (out / "index.html").read_text()
    assert index.index('href="01_plot.html"') < index.index('href="02_intro.html"') and "renamed" in index

    _write(lectures / "03_bad.ipynb", [_md("# 03 · Bad"), _code("x = 1"), _md("text"),
                                       _code("raise ValueError('broken on purpose')")])
    with pytest.raises(build_site.BuildError, match=r"03_bad\.ipynb: cell 3 \(code cell 2\) failed(?s:.*)broken on purpose"):
        build_site.build(lectures, out, log=quiet.append)
    assert not (out / ".build" / "03_bad.json").exists(), "a failed run must not be cached"
    assert build_site.main(["--lectures", str(lectures), "--out", str(out), "--only", "03_"]) == 1


# --------------------------------------------------------------------------- the browser
def _selected() -> list[Path]:
    if os.environ.get("CNNKIT_SITE_TEST_ALL"):
        return build_site.discover(LECTURES_DIR)
    return build_site.discover(LECTURES_DIR, SUBSET) or build_site.discover(LECTURES_DIR)[:2]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built once from the selected lectures; yields (folder, report, build seconds)."""
    out = tmp_path_factory.mktemp("site") / "_site"
    paths = _selected()
    start = time.monotonic()
    report = build_site.build(LECTURES_DIR, out, only=[p.name for p in paths], log=print)
    seconds = time.monotonic() - start
    print(f"[site test] built {len(paths)} lectures in {seconds:.1f} s")
    return out, report, seconds


@pytest.fixture(scope="module")
def served(site):
    """``site`` served by http.server on 127.0.0.1; yields its base URL."""
    root = site[0]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser_page(served):
    """A Chromium page whose every request not for the local server is aborted and recorded."""
    from playwright.sync_api import sync_playwright

    blocked, failed = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900})

            def route(r):
                url = r.request.url
                if url.startswith(served) or url.startswith(("data:", "blob:", "about:")):
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            yield page, blocked, failed
        finally:
            browser.close()


def _load(page, url: str) -> dict:
    page.goto(url, wait_until="load")
    page.wait_for_function("document.documentElement.dataset.mathjax === 'done'", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=PAGE_TIMEOUT_MS)
    return page.evaluate("""() => ({
        images: document.images.length,
        brokenImages: [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
        math: document.querySelectorAll('.MathJax, .MathJax_Display').length,
        mathErrors: document.querySelectorAll('.MathJax_Error, .merror').length
                    + (document.body.innerText.includes('Math Processing Error') ? 1 : 0),
        rawMath: document.querySelectorAll('.jp-MarkdownOutput, .cnnkit-lecture').length
                 ? [...document.querySelectorAll('.jp-MarkdownOutput p, .jp-MarkdownOutput li, .cnnkit-lecture li')]
                     .filter(e => /\\$[^$\\s][^$]*\\$/.test(e.innerText)).length : 0,
        errors: document.querySelectorAll('.cnnkit-error-output').length,
        traceback: document.body.innerText.includes('Traceback'),
        widgets: document.querySelectorAll('.cnnkit-static-widget').length,
        explorers: [...document.querySelectorAll('.cnnkit-static-widget [class*="-explorer"]')].map(e => ({
            cls: [...e.classList].find(c => c.endsWith('-explorer')),
            drawn: [...e.querySelectorAll('svg, img')].filter(g => {
                const r = g.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length})),
        widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
        lab: [...document.querySelectorAll('a.cnnkit-open-lab')].map(a => a.getAttribute('href')),
        download: [...document.querySelectorAll('a.cnnkit-download')].map(a => a.getAttribute('href')),
        lectureLinks: [...document.querySelectorAll('a.cnnkit-lecture-link')].map(a => a.getAttribute('href')),
        goals: [...document.querySelectorAll('.cnnkit-lecture')].map(li => li.querySelectorAll('.cnnkit-goals li').length),
    })""")


def _expects_figures(nb) -> bool:
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return bool(re.search(r"plt\.show\(|viz\.|plt\.(imshow|plot|subplots)\(", code))


@pytest.mark.slow
@pytest.mark.browser
def test_site_renders_offline_in_chromium(site, served, browser_page):
    out, report, seconds = site
    page, blocked, failed = browser_page
    paths = _selected()
    # each selected lecture was executed (at the small size: build() is called with its default), none twice
    assert sorted(report.executed) == sorted(p.name for p in paths) or set(report.cached) & {p.name for p in paths}
    assert [p.name for p in report.pages] == [f"{p.stem}.html" for p in paths]
    ARTIFACTS.mkdir(exist_ok=True)

    index = _load(page, served + "index.html")
    page.screenshot(path=str(ARTIFACTS / "site-index.png"), full_page=True)
    assert index["lectureLinks"] == [f"{p.stem}.html" for p in paths], "the course map must link every lecture, in order"
    assert all(n >= 2 for n in index["goals"]), f"learning goals per lecture: {index['goals']}"
    assert index["lab"] == [f"/lab/tree/lectures/{p.name}" for p in paths]
    assert index["download"] == [f"notebooks/{p.name}" for p in paths]
    titles = [build_site.lecture_info(nbformat.read(p, as_version=4), p.stem).title for p in paths]
    assert page.eval_on_selector_all("a.cnnkit-lecture-link", "as => as.map(a => a.innerText)") == titles
    assert index["mathErrors"] == 0 and index["rawMath"] == 0

    problems = []
    for path in paths:
        info = _load(page, served + f"{path.stem}.html")
        if "explorers" in path.name:
            page.screenshot(path=str(ARTIFACTS / "site-explorers.png"), full_page=True)
        source = nbformat.read(path, as_version=4)
        has_math = any(c.cell_type == "markdown" and re.search(r"\$[^$\s][^$]*\$", c.source) for c in source.cells)
        calls_explorers = "_explorer(" in "\n".join(c.source for c in source.cells if c.cell_type == "code")
        checks = {
            "broken images": info["brokenImages"],
            "no figures although the notebook plots": _expects_figures(source) and info["images"] == 0,
            "error outputs": info["errors"], "Traceback in the page": info["traceback"],
            "MathJax errors": info["mathErrors"], "formulas left as $...$": info["rawMath"],
            "no typeset formula": has_math and info["math"] == 0,
            "explorers without a drawing": [e for e in info["explorers"] if e["drawn"] == 0],
            "no static explorer although the notebook makes one": calls_explorers and not info["explorers"],
            "widget views left for a widget manager": info["widgetViews"],
            "lab link": info["lab"] != [f"/lab/tree/lectures/{path.name}"],
            "download link": info["download"] != [f"notebooks/{path.name}"],
        }
        problems += [f"{path.name}: {what}: {value}" for what, value in checks.items() if value]
        downloaded = page.request.get(served + f"notebooks/{path.name}")
        if not downloaded.ok or json.loads(downloaded.body())["cells"][0]["cell_type"] != "markdown":
            problems.append(f"{path.name}: the download link does not serve the notebook")
    assert not problems, "\n".join(problems)
    assert not blocked, f"the site reached for the network: {blocked}"
    assert not failed, f"files missing from the site: {failed}"


@pytest.mark.slow
def test_built_pages_load_nothing_remote(site):
    """The same offline check the builder makes, on the files as written, plus no CDN host named anywhere."""
    out = site[0]
    pages = sorted(out.glob("*.html"))
    assert out / "index.html" in pages and len(pages) == len(_selected()) + 1
    for page in pages:
        text = page.read_text()
        assert build_site.find_remote_references(text) == [], page.name
        assert not re.search(r"cdnjs|unpkg\.com|jsdelivr|googleapis|require\.min\.js", text), page.name
        for ref in re.findall(r'(?:src|href)="([^"#?]+)', text):  # every local reference exists
            if not re.match(r"(?:[a-z]+:|/)", ref):
                assert (out / ref).exists(), f"{page.name} refers to a missing {ref}"
