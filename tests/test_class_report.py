"""The class report (issue 25): every number equals the one planted in a synthetic class, no name leaks,
the page works offline in Chromium, the exports have Canvas's and Moodle's layout, the commands run.

The synthetic class (tests/class_synthetic.py) is a1_convolution with 72 students who hand in the
instructor's solution with catalogued mutants, unknown mistakes or a failing hidden test in it; the
gradebook is written with nbgrader's API and the diagnoses by running cnnkit.checks.check() on those
functions. The last test grades a small class with the real `cnnkit grade` and then runs `cnnkit report`.
"""
from __future__ import annotations

import csv
import functools
import html
import http.server
import inspect
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import class_synthetic as synth
from conftest import REPO, chromium_path

from cnnkit.grading import class_report as cr
from cnnkit.grading import exports
from cnnkit.grading.class_data import (
    ClassGrades,
    GradedCell,
    Person,
    Submission,
    parse_diagnoses,
    read_statuses,
)

BIN = Path(sys.executable).parent
A1 = synth.ASSIGNMENT
N_STUDENTS = 72


def _env() -> dict:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg")


def _cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnkit", *args], cwd=cwd or REPO, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------- the diagnoses file

def _diagnoses(**cell) -> dict:
    entry = {"points": 3.0, "max_points": 5.0, "failure": "AssertionError: conv2d: wrong",
             "checks": [{"function": "conv2d", "passed": False, "mistake": "conv2d.no_bias",
                         "title": "the bias is never added", "lecture": "lecture 02, section 'x'",
                         "message": "conv2d: wrong result"}]}
    entry.update(cell)
    return {"version": 1, "assignment": A1, "students": {"s1": {A1: {"test_conv2d_basic": entry}}}}


def test_diagnoses_file_is_read_and_validated():
    found = parse_diagnoses(_diagnoses(), A1)
    cell = found.students["s1"][(A1, "test_conv2d_basic")]
    assert (cell.points, cell.max_points, cell.failure) == (3.0, 5.0, "AssertionError: conv2d: wrong")
    assert cell.checks[0].mistake == "conv2d.no_bias" and cell.checks[0].passed is False
    empty = parse_diagnoses({"version": 1, "assignment": A1, "students": {}})
    assert empty.students == {}


@pytest.mark.parametrize("change, match", [
    ({"version": 2}, "'version' must be 1"),
    ({"assignment": "a2_pooling_normalization"}, "but the report is for 'a1_convolution'"),
    ({"students": []}, "'students' must be an object"),
    ({"cell": {"points": -1}}, r"\['points'\] must be a number >= 0"),
    ({"cell": {"points": 7.0}}, "above max_points"),
    ({"cell": {"max_points": float("nan")}}, r"\['max_points'\] must be a number"),
    ({"cell": {"failure": 3}}, r"\['failure'\] must be a string or null"),
    ({"cell": {"checks": {}}}, r"\['checks'\] must be a list"),
    ({"cell": {"checks": [{"function": "conv2d", "passed": "no"}]}}, r"\['passed'\] must be true or false"),
    ({"cell": {"checks": [{"function": "", "passed": False}]}}, r"\['function'\] must be a name"),
    ({"cell": {"checks": [{"function": "f", "passed": False, "mistake": 1}]}}, r"\['mistake'\] must be a string"),
])
def test_a_malformed_diagnoses_file_names_the_bad_entry(change, match):
    data = _diagnoses(**change.pop("cell", {}))
    data.update(change)
    with pytest.raises(ValueError, match=match):
        parse_diagnoses(data, A1, source="grading_diagnoses_a1_convolution.json")


def test_statuses_are_read_by_column_with_a_similarity_flag(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("student,score,status,detail,similarity\na,1,graded,,\nb,0,late,2 h late,similar to a (0.9)\n"
                    "c,0,graded,,no\n")
    rows = read_statuses(path)
    assert [(r.student, r.status, r.flagged) for r in rows] == [("a", "graded", False), ("b", "late", True),
                                                                ("c", "graded", False)]
    assert read_statuses(tmp_path / "absent.csv") == []
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match="needs the columns student and status"):
        read_statuses(tmp_path / "bad.csv")


# ---------------------------------------------------------------- links into the course site

def _lecture_headings() -> dict[str, str]:
    """lecture text of every catalogued mistake -> its heading (as the catalogue's section names it)."""
    from cnnkit.checks import MISTAKES

    found = {}
    for m in MISTAKES:
        match = re.match(r"lecture (\w+), section '", m.lecture)
        if match:
            found[m.lecture] = match.group(1)
    return found


def test_mistake_sections_link_to_the_site_pages_and_their_nbconvert_anchors(tmp_path):
    """A fake site whose pages hold each lecture's real headings, rendered by nbconvert as `make site` does."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    site = tmp_path / "_site"
    site.mkdir()
    numbers = set(_lecture_headings().values())
    for path in sorted((REPO / "lectures").glob("*.ipynb")):
        number = path.stem.split("_")[0]
        if number not in numbers:
            continue
        nb = json.loads(path.read_text())
        markdown = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        headings = "\n\n".join(line for line in markdown.splitlines() if re.match(r"^#{1,6} ", line))
        (site / f"{path.stem}.html").write_text(f"<html><body>{markdown2html_mistune(headings)}</body></html>")
    links = cr._LectureLinks(site, tmp_path)
    for lecture, number in _lecture_headings().items():
        href = links.href(lecture)
        page = next(site.glob(f"{number}_*.html"))
        assert href is not None and href.startswith(f"_site/{page.name}#"), (lecture, href)
        anchor = href.split("#", 1)[1]
        text = html.unescape(page.read_text())
        heading = re.search(rf'<h\d id="{re.escape(anchor)}">(.*?)<a ', text)
        assert heading, (lecture, anchor)
        assert lecture.split("section '", 1)[1].startswith(heading.group(1) + "'"), (lecture, heading.group(1))
    assert cr._LectureLinks(tmp_path / "no_site", tmp_path).href("lecture 02, section '6. Multiple'") is None
    assert links.href("somewhere else") is None


def test_heading_anchor_is_nbconverts():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    for heading in ("6. Multiple channels and multiple filters", "2. Correlation, by the numbers: the lecture's box "
                    "filter", "5. Kinship with SIFT -> k-means -> pyramid pooling -> SVM"):
        rendered = markdown2html_mistune(f"## {heading}")
        assert f'id="{cr.heading_anchor(heading)}"' in rendered.replace("&#x27;", "'"), rendered


# ---------------------------------------------------------------- exports, in memory

def _tiny_class() -> ClassGrades:
    cells = [GradedCell("nb", "test_a", 5.0, False), GradedCell("nb", "q", 2.0, True)]
    roster = {"ada": Person("ada", "Ada", "Lovelace", "ada@uni.example", "101"),
              "bob": Person("bob", "Bob", "Byte", "bob@uni.example", "102"),
              "cy": Person("cy")}
    subs = {"ada": Submission("ada", {("nb", "test_a"): 5.0, ("nb", "q"): 1.5}, late_penalty=0.5),
            "bob": Submission("bob", {("nb", "test_a"): 0.0, ("nb", "q"): None})}
    return ClassGrades("a1_convolution", cells, roster, subs)


def test_canvas_export_has_canvas_gradebook_import_layout():
    rows = list(csv.reader(io.StringIO(exports.canvas_csv(_tiny_class()))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a1_convolution"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "7"]
    assert rows[2:] == [["Lovelace, Ada", "101", "", "ada", "", "6"], ["Byte, Bob", "102", "", "bob", "", "0"],
                        ["cy", "", "", "cy", "", "0"]]


def test_moodle_export_has_an_identifier_column_and_the_grade_column():
    rows = list(csv.reader(io.StringIO(exports.moodle_csv(_tiny_class()))))
    assert rows[0] == ["Username", "Email address", "ID number", "a1_convolution"]
    assert rows[1:] == [["ada", "ada@uni.example", "101", "6"], ["bob", "bob@uni.example", "102", "0"],
                        ["cy", "", "", "0"]]


def test_report_options_and_the_command_line_refuse_bad_input(tmp_path, capsys):
    with pytest.raises(ValueError, match="format must be one of html, csv"):
        cr.ReportOptions(format="pdf")
    with pytest.raises(ValueError, match="exports must be a list of canvas, moodle"):
        cr.ReportOptions(exports=("blackboard",))
    with pytest.raises(TypeError, match="names must be True or False"):
        cr.ReportOptions(names="yes")
    for argv, words in ((["a1", "--format", "pdf"], "argument --format"),
                        (["a1", "--export", "sakai"], "argument --export"),
                        (["a1", "--course", str(tmp_path / "nowhere")], "argument --course: must be an existing")):
        with pytest.raises(SystemExit) as caught:
            cr.main(argv)
        err = capsys.readouterr().err
        assert caught.value.code == 2 and words in err and len(err.strip().splitlines()) == 1, (argv, err)
    for argv, words in ((["a1", "--course", str(tmp_path)], "has no gradebook"),
                        (["../a1", "--course", str(tmp_path)], "assignment must be a folder name")):
        status = cr.main(argv)
        err = capsys.readouterr().err
        assert status == 2 and words in err and len(err.strip().splitlines()) == 1, (argv, err)


# ---------------------------------------------------------------- the synthetic class

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """72 students (and 3 on the roster who handed in nothing) with their report built: (course, planted)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # as the grader does: jsonschema's slow optional import
    course = tmp_path_factory.mktemp("classreport") / "course"
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's add_submission: SQLAlchemy autoflush warnings
        patch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        planted = synth.build_class(course, N_STUDENTS)
    (course / "nbgrader_config.py").write_text(f'c = get_config()  # noqa: F821\n'
                                               f'c.CourseDirectory.course_id = "{synth.COURSE_ID}"\n')
    report, written = cr.write_class_report(A1, course, cr.ReportOptions(exports=("canvas", "moodle")))
    return course, planted, report


def _mistakes(report: cr.ClassReport) -> dict[str, cr.MistakeSummary]:
    return {m.id: m for f in report.functions for m in f.mistakes}


@pytest.mark.slow
def test_every_count_equals_the_planted_one(synthetic):
    course, planted, report = synthetic
    assert sum(planted.mistakes.values()) > 40 and len(planted.mistakes) > 20  # a real spread of mistakes
    assert (report.roster, report.submitted, report.diagnosed) == (N_STUDENTS + 3, N_STUDENTS, N_STUDENTS)
    found = _mistakes(report)
    assert {k: m.students for k, m in found.items()} == dict(planted.mistakes)
    for mistake, lost in planted.lost.items():
        assert found[mistake].points_lost == pytest.approx(lost)
        assert found[mistake].share == pytest.approx(planted.mistakes[mistake] / N_STUDENTS, abs=1e-4)
    top = sorted(planted.lost, key=lambda k: (-planted.lost[k], -planted.mistakes[k], k))[:3]
    assert [m.id for m in report.reteach] == top
    assert all(m.lecture.startswith("lecture ") for m in report.reteach)

    unknown = {f.function: [u for u in f.undiagnosed if u.kind == "check"] for f in report.functions}
    for function, count in planted.unknown.items():
        assert [u.students for u in unknown[function]] == [count], function
        assert unknown[function][0].first_check.startswith(f"{function}: wrong result")
    hidden = [u for f in report.functions for u in f.undiagnosed if u.kind == "cell"]
    assert [(u.function, u.students, u.first_check) for u in hidden] == [
        ("conv_output_size", planted.hidden_failures, synth.HIDDEN_FAILURE[1])]
    assert hidden[0].points_lost == 2 * planted.hidden_failures

    assert report.statuses == dict(planted.statuses) and report.similarity_flags == planted.similarity_flags
    assert report.similarity_by_function == dict(planted.similarity_by_function)
    for cell in report.cells:
        outcomes = planted.cell_outcomes[cell.cell]
        assert (cell.full, cell.partial, cell.none, cell.pending) == tuple(
            outcomes[k] for k in ("full", "partial", "none", "pending")), cell.cell
    totals = np.array([planted.totals[s] for s in planted.students])
    q1, median, q3 = np.percentile(totals, [25, 50, 75])
    assert (report.total.median, report.total.q1, report.total.q3) == (median, q1, q3)
    assert sum(report.histogram["counts"]) == N_STUDENTS
    by_hand = [v for v in planted.by_hand.values() if v is not None]
    assert (report.manual.n, report.manual.median) == (len(by_hand), float(np.median(by_hand)))
    assert report.manual_pending_students == N_STUDENTS - len(by_hand) > 0
    assert report.histogram["counts"] == list(np.histogram(totals, bins=report.histogram["edges"])[0])


@pytest.mark.slow
def test_scores_are_the_gradebooks_own(synthetic):
    """Totals as nbgrader computes them (its SubmittedAssignment.score less the late penalty), and the exports."""
    from nbgrader.api import Gradebook

    course, planted, report = synthetic
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", synth.COURSE_ID) as gb:
        nbgrader_totals = {s.student.id: max(0.0, s.score - s.late_submission_penalty)
                           for s in gb.find_assignment(A1).submissions}
        max_score = gb.find_assignment(A1).max_score
    assert nbgrader_totals == pytest.approx(planted.totals)
    assert report.max_points == max_score == 30
    assert report.total.median == float(np.median(list(nbgrader_totals.values())))
    canvas = list(csv.DictReader(io.StringIO((course / f"grades_canvas_{A1}.csv").read_text())))
    assert canvas[0]["Student"] == exports.CANVAS_POINTS_ROW and float(canvas[0][A1]) == 30
    by_login = {r["SIS Login ID"]: float(r[A1]) for r in canvas[1:]}
    assert by_login == pytest.approx({**nbgrader_totals, **{s: 0.0 for s in planted.missing}})
    moodle = list(csv.DictReader(io.StringIO((course / f"grades_moodle_{A1}.csv").read_text())))
    assert {r["Email address"]: float(r[A1]) for r in moodle} == pytest.approx(
        {planted.people[s][2]: by_login[s] for s in by_login})


def _identifying(planted) -> list[str]:
    return [w for s, (first, last, email) in planted.people.items() for w in (s, first, last, email)]


@pytest.mark.slow
def test_no_student_is_named_unless_asked(synthetic, tmp_path):
    course, planted, report = synthetic
    page = (course / f"class_report_{A1}.html").read_text()
    data = (course / f"class_report_{A1}.json").read_text()
    cr.write_class_report(A1, course, cr.ReportOptions(format="csv"))
    table = (course / f"class_report_{A1}.csv").read_text()
    for word in _identifying(planted):
        for name, text in (("page", page), ("json", data), ("csv", table)):
            assert not re.search(rf"(?<![\w@.]){re.escape(word)}(?![\w@])", text), (name, word)
    named, _ = cr.write_class_report(A1, course, cr.ReportOptions(names=True))
    for mistake in _mistakes(named).values():
        assert mistake.names == sorted(s for s, ids in planted.by_student.items() if mistake.id in ids)
    assert len(named.similarity) == planted.similarity_flags
    assert all(s["student"] in planted.students for s in named.similarity)
    cr.write_class_report(A1, course)  # leave the anonymous page for the other tests


def test_undiagnosed_examples_are_anonymised():
    grades = _tiny_class()
    anonymise = cr._anonymiser(grades)
    text = "conv2d of ada (Ada Lovelace, ada@uni.example) failed in /home/ada/x; so did bob's; adamant stays"
    assert anonymise(text) == ("conv2d of <student> (<student> <student>, <student>) failed in /home/<student>/x; "
                               "so did <student>'s; adamant stays")


@pytest.mark.slow
def test_csv_format_has_one_row_per_student_function_and_mistake(synthetic):
    course, planted, _ = synthetic
    cr.write_class_report(A1, course, cr.ReportOptions(format="csv"))
    rows = list(csv.DictReader(io.StringIO((course / f"class_report_{A1}.csv").read_text())))
    assert tuple(rows[0]) == cr.CSV_COLUMNS
    assert Counter(r["mistake"] for r in rows if r["mistake"]) == planted.mistakes
    students = {r["student"] for r in rows}
    assert len(students) == N_STUDENTS and all(re.fullmatch(r"student-\d{3}", s) for s in students)
    functions = {f for calls in synth.CELL_CHECKS.values() for f, _, _ in calls}
    for student in students:  # every graded function of every student: passed, or its mistakes
        assert {r["function"] for r in rows if r["student"] == student} == functions
    passed = [r for r in rows if r["passed"] == "True"]
    assert all(not r["mistake"] and not r["undiagnosed"] and float(r["points_lost"]) == 0 for r in passed)
    unknown = Counter(r["function"] for r in rows if r["undiagnosed"].startswith(r["function"] + ": wrong result"))
    assert unknown == planted.unknown
    assert sum(r["undiagnosed"] == synth.HIDDEN_FAILURE[1] for r in rows) == planted.hidden_failures
    lost = Counter()
    for r in rows:
        if r["mistake"]:
            lost[r["mistake"]] += float(r["points_lost"])
    assert lost == pytest.approx(planted.lost)
    cr.write_class_report(A1, course)


@pytest.mark.slow
def test_report_command_rebuilds_from_the_stored_files(synthetic):
    course, planted, report = synthetic
    (course / f"class_report_{A1}.html").unlink()
    done = _cli("report", A1, "--course", str(course), "--export", "canvas")
    assert done.returncode == 0, done.stderr
    assert f"{N_STUDENTS} submitted of {N_STUDENTS + 3}" in done.stdout and "what to reteach" in done.stdout
    assert report.reteach[0].id in done.stdout
    assert (course / f"class_report_{A1}.html").is_file()
    data = json.loads((course / f"class_report_{A1}.json").read_text())
    assert data["reteach"][0]["id"] == report.reteach[0].id and data["names_included"] is False
    bad = _cli("report", A1, "--course", str(course), "--format", "xls")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--format" in bad.stderr


# ---------------------------------------------------------------- the page in Chromium

@pytest.fixture(scope="module")
def served(synthetic):
    course = synthetic[0]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(course)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.browser
def test_page_reads_offline_in_chromium_with_the_gradebooks_numbers(synthetic, served):
    from nbgrader.api import Gradebook
    from playwright.sync_api import sync_playwright

    course, planted, _ = synthetic
    blocked = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            context = browser.new_context(java_script_enabled=True)

            def route(r):
                if r.request.url.startswith((served, "data:")):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.goto(served + f"class_report_{A1}.html", wait_until="load")
            page.wait_for_function("[...document.images].every(i => i.complete)")
            seen = page.evaluate("""() => ({
                images: [...document.images].map(i => ({alt: i.alt, ok: i.naturalWidth > 0,
                                                         data: i.src.startsWith('data:image/png;base64,')})),
                scripts: document.scripts.length,
                text: document.body.innerText,
                value: Object.fromEntries([...document.querySelectorAll('#score-stats [data-key]')]
                                          .map(e => [e.dataset.key, e.innerText])),
                mistakes: [...document.querySelectorAll('table.mistakes tr[data-mistake]')].map(r => [
                    r.dataset.mistake, r.querySelector('[data-key=students]').innerText,
                    r.querySelector('[data-key=points_lost]').innerText]),
                statuses: [...document.querySelectorAll('#statuses-table tr[data-status]')].map(r => [
                    r.dataset.status, r.querySelector('[data-key=count]').innerText]),
                similarity: document.querySelector('[data-key=similarity]').innerText,
                reteach: [...document.querySelectorAll('#reteach-list li')].map(li => li.dataset.mistake),
            })""")
        finally:
            browser.close()
    assert not blocked, f"the page reached for the network: {blocked}"
    assert seen["scripts"] == 0
    assert len(seen["images"]) == 4 and all(i["ok"] and i["data"] and len(i["alt"]) > 40 for i in seen["images"])

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", synth.COURSE_ID) as gb:
        totals = [max(0.0, s.score - s.late_submission_penalty) for s in gb.find_assignment(A1).submissions]
    q1, median, q3 = np.percentile(totals, [25, 50, 75])
    assert [float(seen["value"][k]) for k in ("total-median", "total-q1", "total-q3", "total-n")] == [
        median, q1, q3, len(totals)]
    assert float(seen["value"]["total-mean"]) == pytest.approx(np.mean(totals), abs=1e-4)
    assert {m: int(n) for m, n, _ in seen["mistakes"]} == dict(planted.mistakes)
    assert {m: float(lost) for m, _, lost in seen["mistakes"]} == pytest.approx(dict(planted.lost), abs=1e-3)
    assert {s: int(n) for s, n in seen["statuses"]} == dict(planted.statuses)
    assert int(seen["similarity"]) == planted.similarity_flags
    assert seen["reteach"] == sorted(planted.lost, key=lambda k: (-planted.lost[k], -planted.mistakes[k], k))[:3]
    for word in _identifying(planted):
        assert not re.search(rf"(?<![\w@.]){re.escape(word)}(?![\w@])", seen["text"]), word


# ---------------------------------------------------------------- end to end: the real grader

def _as_student_function(function, name: str) -> str:
    """A mutant's (or an unknown mistake's) source, renamed to the function the notebook asks for."""
    source = inspect.getsource(function)
    return re.sub(r"^def \w+\(", f"def {name}(", source, count=1, flags=re.M)


@pytest.mark.slow
def test_grade_then_report_on_a_small_real_class(tmp_path):
    """`cnnkit grade` on three a1 hand-ins (right, a catalogued mistake, an unknown one), then `cnnkit report`."""
    import nbformat

    from nbhelpers import nbg, solved

    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / A1, root / "solutions" / A1)
    done = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", A1, "--force"], cwd=root, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    source_nb = nbformat.read(root / "solutions" / A1 / f"{A1}.ipynb", as_version=4)
    release_nb = nbformat.read(root / "assignments" / A1 / f"{A1}.ipynb", as_version=4)
    no_bias = synth.mutant_catalogue()["conv2d.no_bias"]
    replaced = {"right": {}, "nobias": {"conv2d": _as_student_function(no_bias.mutant, "conv2d")},
                "unknown": {"correlate2d": _as_student_function(synth._unknown_correlate2d, "correlate2d")}}
    for student, cells in replaced.items():
        nb = solved(source_nb, release_nb)
        for cell in nb.cells:
            if nbg(cell).get("grade_id") in cells:
                cell.source = cells[nbg(cell)["grade_id"]]
        folder = root / "submitted" / student / A1
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
        nbformat.write(nb, folder / f"{A1}.ipynb")

    graded = _cli("grade", A1, "--course", str(root), "--jobs", "2", "--cell-timeout", "300", "--export", "moodle",
                  cwd=root, timeout=1500)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    assert (root / f"grading_diagnoses_{A1}.json").is_file(), "the grader wrote no diagnoses file"
    assert (root / f"class_report_{A1}.html").is_file() and "what to reteach" in graded.stdout
    assert (root / f"grades_moodle_{A1}.csv").is_file()

    done = _cli("report", A1, "--course", str(root), "--format", "csv", cwd=root)
    assert done.returncode == 0, done.stderr
    data = json.loads((root / f"class_report_{A1}.json").read_text())
    assert (data["submitted"], data["diagnosed"]) == (3, 3)
    mistakes = {m["id"]: m["students"] for f in data["functions"] for m in f["mistakes"]}
    assert mistakes == {"conv2d.no_bias": 1}
    unknown = [(f["function"], u["students"]) for f in data["functions"] for u in f["undiagnosed"]]
    assert unknown == [("correlate2d", 1)]
    assert [m["id"] for m in data["reteach"]] == ["conv2d.no_bias"]
    rows = list(csv.DictReader(io.StringIO((root / f"class_report_{A1}.csv").read_text())))
    assert sorted(r["mistake"] for r in rows if r["mistake"]) == ["conv2d.no_bias"]
