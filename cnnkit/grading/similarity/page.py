"""``similarity_NAME.html``: the pairs above the threshold, side by side, matched code highlighted.

One static page with its style inline: no script, no link out, opens offline. Everything that comes
from a notebook (code, student ids, file names) is untrusted and goes through :func:`html.escape`.
"""
from __future__ import annotations

import html
from collections import Counter

from .compare import Match, Result
from .normalize import Unit

#: Pairs drawn side by side at most (the summary table lists them all).
MAX_PAIRS_DRAWN = 400

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table.summary { border-collapse: collapse; margin: 1em 0; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; }
section { border-top: 2px solid #999; margin-top: 2em; }
.side { display: flex; gap: 1em; }
.side > div { flex: 1; min-width: 0; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
mark { background: #ffd27f; }
.note { color: #555; }
"""


def render(result: Result, assignment: str) -> str:
    """The whole page for one assignment's comparison."""
    pairs = _pairs(result.matches)
    s = result.settings
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Similarity report: {_e(assignment)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Similarity report: {_e(assignment)}</h1>",
        "<p>Each graded function of each hand-in was compared with every function of the cnnkit package, "
        "the lectures' code cells, the instructor's solutions and the same function of every other student. "
        "A score is the share of the student's own code (the released template never counts) found in the "
        "other code, after normalisation: comments, docstrings, formatting, the names of variables and the "
        "order of independent statements make no difference. Code weighs by how rare it is: a passage also "
        "found in other files of the kit or in other students' hand-ins (shape unpacking, an output-size "
        "formula, a loop over output positions) counts for less than one found only in the pair. "
        "Points are not changed: you decide.</p>",
        f"<p>Threshold {s.threshold:.0%}; functions with fewer than {s.min_tokens} tokens of their own are "
        f"not compared (a one-line formula looks the same in every honest hand-in); fingerprints of "
        f"{s.k} tokens, winnowing window {s.window} (a shared run of {s.k + s.window - 1} tokens or more is "
        f"always found). {len(result.students)} students, {result.compared} functions compared against "
        f"{result.references} pieces of reference code.</p>",
        "<p class=\"note\">Code is shown reformatted (comments and docstrings removed, in its own order; the "
        "comparison also ignores the order of independent statements and the argument checks); the hand-in "
        "as written is under each side. Matched code is <mark>highlighted</mark>.</p>",
    ]
    parts += _skipped(result)
    if not pairs:
        parts.append("<p><strong>No pair above the threshold.</strong></p>")
    else:
        parts.append(_summary(pairs))
        for number, (match, back) in enumerate(pairs[:MAX_PAIRS_DRAWN], 1):
            parts.append(_section(number, match, back))
        if len(pairs) > MAX_PAIRS_DRAWN:
            parts.append(f"<p>{len(pairs) - MAX_PAIRS_DRAWN} more pairs are in the table above but not drawn.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _pairs(matches: list[Match]) -> list[tuple[Match, Match | None]]:
    """Each pair once, most similar first: two students' mutual matches become one pair."""
    seen: dict[tuple, int] = {}
    pairs: list[tuple[Match, Match | None]] = []
    for match in matches:   # already sorted, most similar first
        key = frozenset({(match.unit.source, match.unit.name), (match.other.source, match.other.name)})
        if match.other.kind == "student" and key in seen:
            first, _ = pairs[seen[key]]
            pairs[seen[key]] = (first, match)
            continue
        seen[key] = len(pairs)
        pairs.append((match, None))
    return pairs


def _summary(pairs: list[tuple[Match, Match | None]]) -> str:
    rows = ["<table class=\"summary\"><tr><th>#</th><th>student</th><th>function</th><th>similar</th>"
            "<th>like</th><th>the other way</th></tr>"]
    for number, (match, back) in enumerate(pairs, 1):
        other_way = back.score if back else match.other_score
        rows.append(f'<tr><td class="num"><a href="#pair-{number}">{number}</a></td><td>{_e(match.student)}</td>'
                    f"<td>{_e(match.function)}</td><td class=\"num\">{match.score:.0%}</td>"
                    f"<td>{_e(match.other.label)}</td><td class=\"num\">{other_way:.0%}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _skipped(result: Result) -> list[str]:
    if not result.skipped:
        return []
    counts = Counter(s.function for s in result.skipped)
    items = "".join(f"<li>{_e(name)}: {n} hand-in(s)</li>" for name, n in sorted(counts.items()))
    return [f"<p>Not compared (fewer than {result.settings.min_tokens} tokens of their own):</p><ul>{items}</ul>"]


def _section(number: int, match: Match, back: Match | None) -> str:
    other_way = back.score if back else match.other_score
    head = (f'<section id="pair-{number}"><h2>{number}. {_e(match.student)}: {_e(match.function)} '
            f"&mdash; {match.score:.0%} like {_e(match.other.label)}</h2>"
            f"<p>{other_way:.0%} of the other side is found in {_e(match.student)}'s."
            + (f" Other functions of the same file hold parts too: {_e(', '.join(match.also[:5]))}"
               + (" ..." if len(match.also) > 5 else "") + "." if match.also else "") + "</p>")
    left = _side(f"student {match.student}", match.unit, match.marked)
    right = _side(match.other.label, match.other, match.other_marked)
    return f'{head}<div class="side">{left}{right}</div></section>'


def _side(title: str, unit: Unit, marked: frozenset[int]) -> str:
    code = highlight(unit, marked)
    original = (f"<details><summary>as written</summary><pre>{_e(unit.original)}</pre></details>"
                if unit.original and unit.original != unit.display else "")
    return f"<div><h3>{_e(title)}</h3><pre>{code}</pre>{original}</div>"


def highlight(unit: Unit, marked: frozenset[int] | set[int]) -> str:
    """``unit.display`` escaped, the characters of the ``marked`` tokens inside ``<mark>``."""
    spans = sorted(unit.spans[i] for i in marked if unit.spans[i][1] > unit.spans[i][0])
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and (start <= merged[-1][1] or not unit.display[merged[-1][1]:start].strip()):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out.append(_e(unit.display[at:start]))
        out.append(f"<mark>{_e(unit.display[start:end])}</mark>")
        at = end
    out.append(_e(unit.display[at:]))
    return "".join(out)


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
