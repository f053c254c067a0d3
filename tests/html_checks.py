"""What in a piece of HTML could run in a browser: for the tests of what the grader shows an instructor."""
from __future__ import annotations

import re
from html.parser import HTMLParser

RUNNING_TAGS = {"script", "svg", "iframe", "style", "object", "embed", "form", "details", "math", "link", "meta",
                "base", "frame", "frameset", "applet", "template"}


class _Elements(HTMLParser):
    """Every element and attribute of a piece of HTML, as a browser would build them (not its text)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str]] = []
        self.comments = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, "", ""))
        self.found += [(tag, name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.comments += 1


def runs(html: str) -> list:
    """What in ``html`` could run: a scripting element, an event handler, a script: link, a comment."""
    parsed = _Elements(html)
    bad = [(t, n, v) for t, n, v in parsed.found if t in RUNNING_TAGS or n.startswith("on") or n == "srcdoc"
           or (n in ("href", "src", "action", "data") and re.sub(r"[\x00-\x20]", "", v).lower().startswith(
               ("javascript:", "vbscript:", "data:text")))]
    return bad + ["comment"] * parsed.comments
