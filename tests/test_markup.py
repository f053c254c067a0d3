"""A hand-in's Markdown and raw cells as the formgrader will show them (cnnkit.grading.markup)."""
from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
from nbconvert.filters import markdown2html  # noqa: E402  (what nbgrader's formgrade template applies)
from nbconvert.filters.strings import strip_files_prefix  # noqa: E402

from cnnkit.grading.markup import safe_markdown, sanitise_text_cells  # noqa: E402
from html_checks import runs  # noqa: E402

HOSTILE = [
    "Answer <script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)></svg>",
    "[click](javascript:alert(4))",
    "[click](&#106;avascript:alert(5))",
    "[click](JaVaScRiPt:alert(6))",
    '<a href="java\tscript:alert(7)">x</a>',
    "<iframe srcdoc='<script>alert(8)</script>'></iframe>",
    "<style>body { display: none }</style>",
    "<object data=x></object><embed src=x>",
    "<form action=https://evil><button>go</button></form>",
    "<details open ontoggle=alert(9)>",
    "![x](javascript:alert(10))",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "x\n\n<!--><script>alert(11)</script>-->",
    "text\n\n<div>\n\n<script>alert(12)</script>\n\n</div>",
    # round 4 (the second red team): read otherwise by Python's HTMLParser than by a browser
    "Symmetric kernels. <![CDATA[ x ><img src=x onerror=alert(13)> ]]>",
    "text\n\n<details open ontoggle=alert(14) ",
    # round 5 (a third red team): the template's strip_files_prefix, and a mermaid fence passed through raw
    "My answer: see [the derivation](files/javascript:alert(15)).",
    "[x][r]\n\n[r]: /files/javascript:alert(16)",
    "<a href='files/javascript:alert(17)'>x</a>",
    'My answer.\n\n```mermaid\n<img src=x onerror=alert(18)// title="\n```',
]

PLAIN = [
    "YOUR ANSWER HERE",
    "Symmetric kernels: $K = K^{180}$, so $a < b$ and `x < y` hold.",
    "**bold**, *italic*, a [link](https://example.org) and ![a figure](https://example.org/a.png)",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "```python\nprint('<script>')\n```",
    "$$\\frac{a}{b} < c$$",
    "- one\n- two\n\n1. first",
    "![a figure](files/figure.png) and ```mermaid``` text",
    "```mermaid\ngraph TD; A-->B\n```",
]


def page(source: str) -> str:
    """What nbgrader's formgrade template makes of a Markdown cell, with some of the page around it."""
    return f'<div class="text_cell_render">{strip_files_prefix(markdown2html(source))}</div>' \
        '<div class="panel-footer" title="footer">next</div>'


@pytest.mark.parametrize("source", HOSTILE)
def test_markdown_that_runs_is_cleaned_as_the_template_renders_it(source):
    cleaned = safe_markdown(source)
    assert cleaned is not None, source
    assert runs(page(source)), source                 # the attack is real: as written it would run
    assert not runs(page(cleaned)), (source, page(cleaned))


def test_a_quote_left_open_cannot_join_the_next_cell():
    """The third red team: cell A, a mermaid fence holding ``<a title='``, kept as written, turned cell B's
    text into attributes of A's link. A cell that leaves a quote, a tag or a comment open is cleaned."""
    first, second = "```mermaid\n<a title='\n```", "' onmouseover=alert(1) style=position:fixed x"
    assert runs(page(first) + page(second))              # as written
    assert safe_markdown(second) is None                  # B alone is plain text
    assert not runs(page(safe_markdown(first)) + page(second))


@pytest.mark.parametrize("attachments", [None, {"a.png": {}}, {"a.png": "str"}])
def test_a_cell_nbconvert_cannot_render_is_shown_as_text(attachments):
    """A broken attachment made the formgrader's page (and the feedback) fail for that student."""
    cell = nbformat.v4.new_markdown_cell("![x](attachment:a.png) answer")
    if attachments is not None:
        cell["attachments"] = attachments
    notes = sanitise_text_cells([cell])
    assert notes and "cannot render" in notes[0] and "attachments" not in cell
    assert "answer" in markdown2html(cell.source) and not runs(page(cell.source))


@pytest.mark.parametrize("source", PLAIN)
def test_plain_markdown_is_left_exactly_as_written(source):
    """A cell with nothing to remove keeps its text (and so the checksum nbgrader compares with the release)."""
    assert safe_markdown(source) is None


def test_the_cleaned_answer_keeps_its_words():
    cleaned = safe_markdown("Flip the kernel <script>steal()</script> then **slide** it.")
    shown = markdown2html(cleaned)
    assert "Flip the kernel" in shown and "slide" in shown and not runs(shown)


def test_a_notebooks_cells_are_cleaned_in_place_and_reported():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("fine"),
        nbformat.v4.new_markdown_cell("<img src=x onerror=alert(1)>"),
        nbformat.v4.new_raw_cell("<script>alert(2)</script>"),
        nbformat.v4.new_code_cell("x = '<script>'"),
    ])
    notes = sanitise_text_cells(nb.cells)
    assert [n.split(":")[0] for n in notes] == ["cell 1", "cell 2"]
    assert nb.cells[0].source == "fine" and nb.cells[3].source == "x = '<script>'"
    assert "onerror" not in nb.cells[1].source and "<script" not in nb.cells[2].source


def test_bad_arguments_are_named():
    from cnnkit.grading.markup import closes, runs as markup_runs

    with pytest.raises(TypeError, match="source must be text"):
        safe_markdown(None)
    with pytest.raises(TypeError, match="attachments must be a dict"):
        safe_markdown("x", attachments=["a.png"])
    for check in (closes, markup_runs):
        with pytest.raises(TypeError, match="text must be text"):
            check(b"<b>")


def test_a_cell_cannot_plant_the_end_marker_of_the_check():
    """The fourth red team: cell 1 carried the closing check's own (then fixed) end element before a quote it
    left open, so the check found it and kept the cell; the next cell's text became attributes of its link."""
    first = '```mermaid\n<b id="cnnkit-end">end</b><a href="https://x" title=\'\n```\n'
    second = "' onmouseover='alert(1)' style='display:block;position:fixed;inset:0' x=y"
    assert runs(page(first) + page(second))
    cleaned = safe_markdown(first)
    assert cleaned is not None and not runs(page(cleaned) + page(second))


def test_a_huge_cell_is_shown_as_text_without_being_parsed(monkeypatch):
    """120 KB of ``<b>`` took the renderer and html5lib a minute per cell: past MAX_MARKDOWN_CHARS nothing parses it."""
    import cnnkit.grading.markup as markup

    def no_render(*args, **kwargs):
        raise AssertionError("rendered")

    monkeypatch.setattr(markup, "_render", no_render)
    shown = safe_markdown("<b>" * 40_000)
    assert shown.startswith("<pre>&lt;b&gt;") and not runs(shown)
