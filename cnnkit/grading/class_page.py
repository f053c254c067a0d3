"""The class report as one static HTML page: tables of numbers and matplotlib plots as PNG data URIs.

The page loads nothing (no script, stylesheet, font or image from anywhere: everything is inline) and
needs no JavaScript; every plot is an ``<img>`` with alt text that says what it shows in numbers, and
every number a plot shows is also in a table. Table cells carry ``data-*`` attributes so a test (or a
script) can read the numbers back.
"""
from __future__ import annotations

import base64
import html
import io

from .class_report import ClassReport, MistakeSummary, Stats

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}img{max-width:100%;height:auto;display:block;margin:.5rem 0}
pre{background:#f7f7f7;padding:.5rem;white-space:pre-wrap;font-size:.85rem;max-height:14rem;overflow:auto}
.note{background:#fff6dd;padding:.4rem .7rem;border-left:4px solid #e0b000}
.muted{color:#666;font-size:.9rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _pct(share: float) -> str:
    return f"{100 * share:.0f} %"


def render_page(report: ClassReport) -> str:
    """The whole page, as text."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>Class report: {_e(report.assignment)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Class report: {_e(report.assignment)}</h1>",
             f"<p class=\"muted\">Built {_e(report.generated_at)} from the gradebook and the grader's diagnoses. "
             + ("Student ids are shown (--names): do not show this page to the class."
                if report.names_included else "No student is named: counts and anonymised examples only.")
             + "</p>"]
    parts += [f"<p class=\"note\">{_e(n)}</p>" for n in report.notes]
    parts += _overview(report) + _scores(report) + _reteach(report) + _cells(report) + _functions(report)
    parts += _statuses(report)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _overview(r: ClassReport) -> list[str]:
    return ["<table id=\"overview\">",
            f"<tr><th>on the roster</th><td class=\"n\" data-key=\"roster\">{r.roster}</td></tr>",
            f"<tr><th>submitted</th><td class=\"n\" data-key=\"submitted\">{r.submitted}</td></tr>",
            f"<tr><th>diagnosed (shares below are of these)</th><td class=\"n\" data-key=\"diagnosed\">"
            f"{r.diagnosed}</td></tr>", "</table>"]


def _stats_row(name: str, key: str, s: Stats, top: float) -> str:
    cells = "".join(f"<td class=\"n\" data-key=\"{key}-{f}\">{_num(getattr(s, f))}</td>"
                    for f in ("median", "q1", "q3", "mean", "min", "max"))
    return f"<tr><th>{_e(name)} (of {top:g})</th><td class=\"n\" data-key=\"{key}-n\">{s.n}</td>{cells}</tr>"


def _scores(r: ClassReport) -> list[str]:
    t = r.total
    alt = (f"Histogram of the total scores of {t.n} students, out of {r.max_points:g} points: median "
           f"{_num(t.median)}, quartiles {_num(t.q1)} and {_num(t.q3)}.")
    parts_alt = (f"Two histograms: autograded points (out of {r.auto_max:g}, median {_num(r.auto.median)}) and "
                 f"points given by hand (out of {r.manual_max:g}, median {_num(r.manual.median)}).")
    rows = [_stats_row("total", "total", t, r.max_points), _stats_row("autograded", "auto", r.auto, r.auto_max),
            _stats_row("by hand, fully graded", "manual", r.manual, r.manual_max)]
    bins = "".join(f"<tr><td>[{lo:g}, {hi:g}{']' if i == len(r.histogram['counts']) - 1 else ')'}</td>"
                   f"<td class=\"n\" data-key=\"bin\">{n}</td></tr>"
                   for i, (lo, hi, n) in enumerate(zip(r.histogram["edges"], r.histogram["edges"][1:],
                                                      r.histogram["counts"])))
    pending = (f"<p>{r.manual_pending_students} students have answers still to be graded by hand.</p>"
               if r.manual_pending_students else "")
    return ["<h2 id=\"scores\">Scores</h2>",
            _img(_plot_histogram(r), alt, "plot-scores"), _img(_plot_parts(r), parts_alt, "plot-parts"),
            "<table id=\"score-stats\"><tr><th></th><th>students</th><th>median</th><th>first quartile</th>"
            "<th>third quartile</th><th>mean</th><th>min</th><th>max</th></tr>", *rows, "</table>", pending,
            "<details><summary>Histogram bins</summary><table id=\"histogram\"><tr><th>points</th><th>students</th>"
            f"</tr>{bins}</table></details>"]


def _lecture(m: MistakeSummary) -> str:
    if m.link:
        return f"<a href=\"{_e(m.link)}\">{_e(m.lecture)}</a>"
    return _e(m.lecture) or "<span class=\"muted\">no section given</span>"


def _reteach(r: ClassReport) -> list[str]:
    if not r.reteach:
        return ["<h2 id=\"reteach\">What to reteach</h2><p>No catalogued mistake cost the class points.</p>"]
    items = "".join(f"<li data-mistake=\"{_e(m.id)}\"><strong>{_e(m.title)}</strong> (<code>{_e(m.id)}</code>): "
                    f"<span data-key=\"points_lost\">{m.points_lost:g}</span> points lost by "
                    f"<span data-key=\"students\">{m.students}</span> students ({_pct(m.share)}). "
                    f"Read: {_lecture(m)}</li>" for m in r.reteach)
    return ["<h2 id=\"reteach\">What to reteach</h2>",
            "<p>The mistakes that cost the class the most points, with the section that teaches each.</p>",
            f"<ol id=\"reteach-list\">{items}</ol>"]


def _cells(r: ClassReport) -> list[str]:
    rows = "".join(
        f"<tr data-cell=\"{_e(c.cell)}\"><td><code>{_e(c.cell)}</code></td><td>{'by hand' if c.by_hand else 'auto'}"
        f"</td><td class=\"n\">{c.max_points:g}</td>"
        + "".join(f"<td class=\"n\" data-key=\"{k}\">{getattr(c, k)}</td>" for k in ("full", "partial", "none",
                                                                                   "pending"))
        + f"<td class=\"n\">{_pct(c.full / c.students) if c.students else '–'}</td></tr>" for c in r.cells)
    alt = ("Stacked bars, one per graded cell, of the share of students with full, partial and no points "
           "(and answers pending): " + "; ".join(
               f"{c.cell} {c.full} full, {c.partial} partial, {c.none} none" for c in r.cells) + ".")
    return ["<h2 id=\"cells\">Per graded cell</h2>", _img(_plot_cells(r), alt, "plot-cells"),
            "<table id=\"cells-table\"><tr><th>cell</th><th>graded</th><th>points</th><th>full</th><th>partial</th>"
            f"<th>none</th><th>pending</th><th>full share</th></tr>{rows}</table>"]


def _functions(r: ClassReport) -> list[str]:
    out = ["<h2 id=\"mistakes\">Mistakes per graded function</h2>"]
    top = sorted((m for f in r.functions for m in f.mistakes), key=lambda m: (-m.students, m.id))[:15]
    if top:
        alt = "Bars of the students who made each mistake, the most frequent first: " + "; ".join(
            f"{m.id} {m.students}" for m in top) + "."
        out.append(_img(_plot_mistakes(top), alt, "plot-mistakes"))
    for f in r.functions:
        out.append(f"<section class=\"function\" data-function=\"{_e(f.function)}\"><h3><code>{_e(f.function)}"
                   f"</code></h3><p><span data-key=\"failed\">{f.students_failed}</span> of "
                   f"<span data-key=\"checked\">{f.students_checked}</span> diagnosed students failed a check.</p>")
        if f.mistakes:
            out.append("<table class=\"mistakes\"><tr><th>mistake</th><th>students</th><th>share</th>"
                       "<th>points lost</th><th>cells</th><th>taught in</th>"
                       + ("<th>students</th>" if r.names_included else "") + "</tr>")
            for m in f.mistakes:
                names = f"<td>{_e(', '.join(m.names or []))}</td>" if r.names_included else ""
                out.append(f"<tr data-mistake=\"{_e(m.id)}\"><td>{_e(m.title)}<br><code>{_e(m.id)}</code></td>"
                           f"<td class=\"n\" data-key=\"students\">{m.students}</td><td class=\"n\">{_pct(m.share)}"
                           f"</td><td class=\"n\" data-key=\"points_lost\">{m.points_lost:g}</td>"
                           f"<td>{_e(' '.join(m.cells))}</td><td>{_lecture(m)}</td>{names}</tr>")
            out.append("</table>")
        if f.undiagnosed:
            out.append("<p>Failures the catalogue does not name, by their first failing check "
                       "(a mistake to add to the catalogue?):</p><table class=\"undiagnosed\"><tr><th>first failing "
                       "check</th><th>students</th><th>share</th><th>points lost</th><th>an example (anonymised)</th>"
                       + ("<th>students</th>" if r.names_included else "") + "</tr>")
            for u in f.undiagnosed:
                label = ("every check passed; the cell failed: " if u.kind == "cell" else "") + u.first_check
                names = f"<td>{_e(', '.join(u.names or []))}</td>" if r.names_included else ""
                out.append(f"<tr data-kind=\"{_e(u.kind)}\"><td>{_e(label)}</td><td class=\"n\" data-key=\"students\">"
                           f"{u.students}</td><td class=\"n\">{_pct(u.share)}</td><td class=\"n\" "
                           f"data-key=\"points_lost\">{u.points_lost:g}</td><td><pre>{_e(u.example)}</pre></td>"
                           f"{names}</tr>")
            out.append("</table>")
        if not f.mistakes and not f.undiagnosed:
            out.append("<p>No failure.</p>")
        out.append("</section>")
    return out


def _statuses(r: ClassReport) -> list[str]:
    rows = "".join(f"<tr data-status=\"{_e(s)}\"><td>{_e(s)}</td><td class=\"n\" data-key=\"count\">{n}</td></tr>"
                   for s, n in sorted(r.statuses.items(), key=lambda kv: (-kv[1], kv[0])))
    out = ["<h2 id=\"statuses\">Statuses and similarity flags</h2>",
           "<p class=\"muted\">From the grading report; a student with several problems counts under the worst.</p>",
           f"<table id=\"statuses-table\"><tr><th>status</th><th>students</th></tr>{rows}</table>",
           f"<p>Similarity flags: <span data-key=\"similarity\">{r.similarity_flags}</span> students.</p>"]
    if r.similarity_by_function:
        out.append("<table id=\"similarity-functions\"><tr><th>function</th><th>students flagged</th></tr>" + "".join(
            f"<tr data-function=\"{_e(f)}\"><td><code>{_e(f)}</code></td><td class=\"n\" data-key=\"count\">{n}</td></tr>"
            for f, n in r.similarity_by_function.items()) + "</table>")
    if r.similarity:
        out.append("<table id=\"similarity\"><tr><th>student</th><th>flag</th></tr>" + "".join(
            f"<tr><td>{_e(s['student'])}</td><td>{_e(s['flag'])}</td></tr>" for s in r.similarity) + "</table>")
    return out


# ---------------------------------------------------------------- plots

def _img(png: bytes, alt: str, ident: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img id=\"{ident}\" src=\"data:image/png;base64,{data}\" alt=\"{_e(alt)}\">"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _bars(ax, histogram: dict, color: str) -> None:
    edges, counts = histogram["edges"], histogram["counts"]
    ax.bar(edges[:-1], counts, width=[b - a for a, b in zip(edges, edges[1:])], align="edge", color=color,
           edgecolor="white")


def _plot_histogram(r: ClassReport) -> bytes:
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    _bars(ax, r.histogram, "#4c72b0")
    for value, style, label in ((r.total.q1, ":", "quartiles"), (r.total.median, "-", "median"),
                                (r.total.q3, ":", None)):
        if value is not None:
            ax.axvline(value, color="#c44e52", linestyle=style, label=label)
    ax.set(xlabel=f"total points (of {r.max_points:g})", ylabel="students", xlim=(0, max(r.max_points, 1)))
    if r.total.n:
        ax.legend(loc="upper left")
    return _png(fig)


def _plot_parts(r: ClassReport) -> bytes:
    fig = _figure(7.5, 2.8)
    for i, (histogram, stats, top, label) in enumerate(((r.histogram_auto, r.auto, r.auto_max, "autograded"),
                                                        (r.histogram_manual, r.manual, r.manual_max,
                                                         "by hand (fully graded)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        _bars(ax, histogram, "#55a868")
        if stats.median is not None:
            ax.axvline(stats.median, color="#c44e52", label="median")
            ax.legend(loc="upper left")
        ax.set(xlabel=f"{label} points (of {top:g})", ylabel="students", xlim=(0, max(top, 1)))
    return _png(fig)


def _plot_cells(r: ClassReport) -> bytes:
    fig = _figure(7.5, 0.45 * len(r.cells) + 1.0)
    ax = fig.add_subplot()
    names = [c.cell for c in r.cells][::-1]
    left = [0.0] * len(names)
    for key, color in (("full", "#55a868"), ("partial", "#dd8452"), ("none", "#c44e52"), ("pending", "#bbbbbb")):
        shares = [getattr(c, key) / c.students if c.students else 0.0 for c in r.cells][::-1]
        ax.barh(names, shares, left=left, color=color, label=key)
        left = [a + b for a, b in zip(left, shares)]
    ax.set(xlim=(0, 1), xlabel="share of the students with a submission")
    ax.legend(ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)


def _plot_mistakes(top: list[MistakeSummary]) -> bytes:
    fig = _figure(7.5, 0.35 * len(top) + 1.0)
    ax = fig.add_subplot()
    ax.barh([m.id for m in top][::-1], [m.students for m in top][::-1], color="#8172b3")
    ax.set(xlabel="students")
    return _png(fig)
