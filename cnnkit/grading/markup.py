"""A hand-in's Markdown and raw cells made safe to show: no script reaches the formgrader or the feedback.

nbgrader's formgrader and feedback templates render a notebook's Markdown cells with
``cell.source | markdown2html`` and no cleaning, whatever ``HTMLExporter.sanitize_html`` says (that
setting reaches nbconvert's own templates, not nbgrader's). A student's answer cell holding
``<script>``, ``<img onerror=...>`` or ``[x](javascript:...)`` would run in the instructor's browser,
in the Jupyter server's origin, with the instructor's rights (the red team did it). So before a hand-in
is graded, each Markdown cell is looked at: one with no raw HTML and no link of another scheme than
http(s), mailto or attachment is left exactly as written (its checksum, which nbgrader compares with the
release, unchanged); any other is rendered, cleaned with bleach (the sanitiser nbconvert itself uses) and
replaced by the cleaned HTML, which shows the same words. A raw cell is shown as text. The instructor's
own Markdown is never touched.
"""
from __future__ import annotations

import html
import re

#: What Markdown renders to, and nothing that runs: no script, style, iframe, svg, form, event handler.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "u", "ul"})
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title"], "th": ["align"], "td": ["align"],
                      "code": ["class"], "span": ["class"], "div": ["class"]}
#: A Markdown cell longer than this is shown as text without being rendered: 120 KB of ``<b>`` took the
#: renderer and html5lib a minute (the fourth red team); an answer is a few KB.
MAX_MARKDOWN_CHARS = 20_000
#: Link and image schemes kept (``attachment:`` is how a notebook refers to an image it carries).
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "attachment"})


def _require_text(name: str, value) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text (str), got {type(value).__name__}")


class Unrenderable(Exception):
    """nbconvert cannot render this Markdown cell (a broken attachment...): the formgrader page would fail."""


def safe_markdown(source: str, attachments: dict | None = None) -> str | None:
    """``None`` when ``source`` renders to nothing that runs; else the cleaned HTML to show instead.

    ``attachments`` are the cell's own (images it carries), which the rendering needs. A cell is kept as
    written only when (1) it renders the same with raw HTML escaped (its ``<`` became text or math),
    (2) what the template makes of it -- ``markdown2html``, then ``strip_files_prefix``, which turns
    ``files/javascript:`` into ``javascript:`` -- holds only allowed tags, attributes and links, and
    (3) it :func:`closes` everything it opens, so no quote or tag left open swallows the page around it
    (a ```mermaid fence passes its text through unescaped). Anything else is cleaned with bleach and
    checked the same way. The checks parse as a browser does (html5lib), never with a parser that
    reads HTML otherwise (the red teams' ``<![CDATA[ ><img onerror=...>``). Raises
    :class:`Unrenderable` when nbconvert cannot render the cell at all.
    """
    import bleach

    _require_text("source", source)
    if attachments is not None and not isinstance(attachments, dict):
        raise TypeError(f"attachments must be a dict (a cell's attachments) or None, got {type(attachments).__name__}")
    if len(source) > MAX_MARKDOWN_CHARS:      # the parsers are quadratic in some inputs: shown as text, at once
        return f"<pre>{html.escape(source)}</pre>"
    try:
        rendered = _render(source, attachments)
        escaped = _render(source, attachments, escape=True)
    except Exception as exc:  # noqa: BLE001 - a broken attachment, a renderer bug: the template would fail too
        raise Unrenderable(str(exc)) from exc
    if rendered == escaped and _shown_safely(rendered):
        return None
    cleaned = bleach.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                           protocols=ALLOWED_PROTOCOLS | {"data"}, strip=False)
    try:
        again = _render(cleaned, attachments)           # the templates render the cleaned HTML again
    except Exception:  # noqa: BLE001
        again = None
    if again is None or not _shown_safely(again) or not _shown_safely(cleaned):
        return f"<pre>{html.escape(source)}</pre>"
    return cleaned


def _shown_safely(rendered: str) -> bool:
    """Whether the HTML the template shows for ``rendered`` runs nothing and closes what it opens."""
    from nbconvert.filters.strings import strip_files_prefix

    shown = strip_files_prefix(rendered)
    return not runs(shown) and closes(shown)


def closes(text: str) -> bool:
    """Whether ``text`` leaves the HTML parser where it found it: not inside a tag, a quoted attribute, a
    comment or a raw-text element (textarea, xmp, plaintext...), which would swallow the page after it
    -- the next cell's text turned into attributes of this cell's ``<a>``, the third red team's way.

    An element named by a random token, drawn per call (a cell could carry a fixed one itself: the
    fourth red team's way), is appended; the text closes when that element comes out of the parser
    whole and last.
    """
    import secrets

    from bleach._vendor import html5lib

    _require_text("text", text)
    token = secrets.token_hex(8)
    fragment = html5lib.parseFragment(f'{text}<b id="end-{token}">{token}</b>', namespaceHTMLElements=False)
    elements = [element for element in fragment.iter() if isinstance(element.tag, str)]
    last = elements[-1] if elements else None
    return last is not None and last.tag == "b" and last.get("id") == f"end-{token}" and last.text == token \
        and not last.tail


def _render(source: str, attachments: dict | None, escape: bool = False) -> str:
    """The HTML nbgrader's templates make of a Markdown cell (nbconvert's mistune renderer; with ``escape``,
    raw HTML shown as text)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=escape, attachments=attachments or {})
    return MarkdownWithMath(renderer=renderer).render(source)


#: What Markdown itself adds to the allowed: a heading's anchor id, a code block's language class.
_RENDERER_ATTRIBUTES = {"id", "class"}


def runs(text: str) -> bool:
    """Whether ``text``, parsed as a browser parses HTML (html5lib, which bleach ships), holds a tag, an
    attribute or a link scheme outside the allowed ones."""
    from bleach._vendor import html5lib

    _require_text("text", text)
    fragment = html5lib.parseFragment(text, namespaceHTMLElements=False)
    for element in fragment.iter():
        tag = element.tag
        if not isinstance(tag, str) or tag == "DOCUMENT_FRAGMENT":
            continue                                     # comments and the fragment itself
        if tag not in ALLOWED_TAGS:
            return True
        allowed = set(ALLOWED_ATTRIBUTES.get(tag, ())) | _RENDERER_ATTRIBUTES
        for name, value in element.attrib.items():
            if name not in allowed:
                return True
            if name in ("href", "src"):
                scheme = re.sub(r"[\x00-\x20]", "", value).split(":", 1)
                if len(scheme) == 2 and not re.search(r"[/?#]", scheme[0]) \
                        and scheme[0].lower() not in ALLOWED_PROTOCOLS \
                        and not (tag == "img" and scheme[0].lower() == "data"):
                    return True
    return False


def sanitise_text_cells(cells, trusted: frozenset[str] = frozenset()) -> list[str]:
    """Clean every Markdown and raw cell of a notebook's ``cells`` in place; return what was changed, in words.

    A cell whose text is one of ``trusted`` (the instructor's own Markdown, from the source notebook) is
    left alone: it is the course's, and cleaning it would flag every student.
    """
    changed = []
    for index, cell in enumerate(cells):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if source in trusted:
            continue
        if cell.get("cell_type") == "markdown":
            try:
                cleaned = safe_markdown(source, cell.get("attachments"))
            except Unrenderable as exc:       # the formgrader page would fail: shown as text, without attachments
                cell["source"] = f"<pre>{html.escape(source)}</pre>"
                cell.pop("attachments", None)
                changed.append(f"cell {index}: Markdown nbconvert cannot render ({str(exc)[:80]}), shown as text")
                continue
            if cleaned is not None:
                cell["source"] = cleaned
                changed.append(f"cell {index}: Markdown with raw HTML or an unusual link, shown cleaned "
                               "(no script, event handler or javascript: link reaches the page)")
        elif cell.get("cell_type") == "raw" and source.strip():
            escaped = html.escape(source)
            if escaped != source:
                cell["source"] = escaped
                changed.append(f"cell {index}: raw cell shown as text")
    return changed
