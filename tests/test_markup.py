"""A hand-in's Markdown and raw cells as the formgrader will show them (cnnkit.grading.markup)."""
from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
from nbconvert.filters import markdown2html  # noqa: E402  (what nbgrader's formgrade template applies)

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
]

PLAIN = [
    "YOUR ANSWER HERE",
    "Symmetric kernels: $K = K^{180}$, so $a < b$ and `x < y` hold.",
    "**bold**, *italic*, a [link](https://example.org) and ![a figure](https://example.org/a.png)",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "```python\nprint('<script>')\n```",
    "$$\\frac{a}{b} < c$$",
    "- one\n- two\n\n1. first",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_markdown_that_runs_is_cleaned_as_the_template_renders_it(source):
    cleaned = safe_markdown(source)
    assert cleaned is not None, source
    shown = markdown2html(cleaned)
    assert runs(markdown2html(source)), source                 # the attack is real: as written it would run
    assert not runs(shown), (source, shown)


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
