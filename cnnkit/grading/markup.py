"""A hand-in's Markdown and raw cells made safe to show: no script reaches the formgrader or the feedback.

nbgrader's formgrader and feedback templates render a notebook's Markdown cells with
``cell.source | markdown2html`` and no cleaning, whatever ``HTMLExporter.sanitize_html`` says (that
setting reaches nbconvert's own templates, not nbgrader's). A student's answer cell holding
``<script>``, ``<img onerror=...>`` or ``[x](javascript:...)`` would run in the instructor's browser,
in the Jupyter server's origin, with the instructor's rights (the red team did it). So before a hand-in
is graded, each Markdown cell is rendered and cleaned with bleach (the sanitiser nbconvert itself
uses): a cell with nothing to remove is left exactly as written (its checksum, which nbgrader compares
with the release, unchanged); a cell that had something removed is replaced by the cleaned HTML, which
shows the same text. A raw cell is shown as text.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

#: What Markdown renders to, and nothing that runs: no script, style, iframe, svg, form, event handler.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "u", "ul"})
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title"], "th": ["align"], "td": ["align"],
                      "code": ["class"], "span": ["class"], "div": ["class"]}
#: Link and image schemes kept (``attachment:`` is how a notebook refers to an image it carries).
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "attachment"})


def safe_markdown(source: str, attachments: dict | None = None) -> str | None:
    """``None`` when ``source`` renders to nothing that runs; else the cleaned HTML to show instead.

    ``attachments`` are the cell's own (images it carries), which the rendering needs.
    """
    import bleach

    rendered = _render(source, attachments)
    if not _Inspector.finds_danger(rendered):
        return None
    cleaned = bleach.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                           protocols=ALLOWED_PROTOCOLS | {"data"}, strip=False)
    if _Inspector.finds_danger(_render(cleaned, attachments)):   # as the templates will render it again
        return f"<pre>{html.escape(source)}</pre>"
    return cleaned


def _render(source: str, attachments: dict | None) -> str:
    """The HTML nbgrader's templates make of a Markdown cell (nbconvert's mistune renderer)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    try:
        return MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments or {})).render(source)
    except Exception:  # a broken attachment...: judge the text as HTML, the strictest reading
        return source


class _Inspector(HTMLParser):
    """Finds a tag, an attribute or a link scheme outside the allowed ones in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.danger = False

    @classmethod
    def finds_danger(cls, text: str) -> bool:
        inspector = cls()
        try:
            inspector.feed(text)
            inspector.close()
        except Exception:  # HTMLParser is lenient; whatever it cannot read is not shown as it is
            return True
        return inspector.danger

    def handle_starttag(self, tag: str, attrs) -> None:
        allowed = ALLOWED_ATTRIBUTES.get(tag, [])
        if tag not in ALLOWED_TAGS:
            self.danger = True
        for name, value in attrs:
            if name not in allowed:
                self.danger = True
            elif name in ("href", "src") and value is not None:
                scheme = re.sub(r"[\x00-\x20]", "", value).split(":", 1)
                if len(scheme) == 2 and "/" not in scheme[0] and scheme[0].lower() not in ALLOWED_PROTOCOLS \
                        and not (tag == "img" and scheme[0].lower() == "data"):
                    self.danger = True

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        self.danger = True                                   # <!-- --> can hide conditional markup


def sanitise_text_cells(cells) -> list[str]:
    """Clean every Markdown and raw cell of a notebook's ``cells`` in place; return what was changed, in words."""
    changed = []
    for index, cell in enumerate(cells):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            cleaned = safe_markdown(source, cell.get("attachments"))
            if cleaned is not None:
                cell["source"] = cleaned
                changed.append(f"cell {index}: Markdown with HTML that runs (script, event handler or "
                               "javascript: link) shown as cleaned text")
        elif cell.get("cell_type") == "raw" and source.strip():
            escaped = html.escape(source)
            if escaped != source:
                cell["source"] = escaped
                changed.append(f"cell {index}: raw cell shown as text")
    return changed
