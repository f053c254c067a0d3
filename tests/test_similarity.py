"""The similarity report of `cnnkit grade`: normalisation, fingerprints, the cases of tests/similarity_cases, the page."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cnnkit.grading import report as rp
from cnnkit.grading.policy import similarity_threshold
from cnnkit.grading.similarity import Settings, check_class, compare, flag_text
from cnnkit.grading.similarity.compare import kgram_hashes
from cnnkit.grading.similarity.normalize import LOCAL, STRING, units_from_code
from cnnkit.grading.similarity.page import highlight, render
from similarity_cases.load import ASSIGNMENT, HELDOUT, class_of_cases, handed_in, load_cases, write_course

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NP = {"np": "numpy"}


def unit(code: str, name: str | None = None, source: str = "student s", kind: str = "student"):
    units = units_from_code(textwrap.dedent(code), source=source, kind=kind, aliases=NP)
    return units[0] if name is None else next(u for u in units if u.name == name)


def same_fingerprints(a, b, k: int = 8) -> bool:
    return np.array_equal(kgram_hashes(a, k), kgram_hashes(b, k))


# ---------------------------------------------------------------- normalisation

ORIGINAL = '''
def correlate2d(image, kernel):
    """Valid correlation."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape            # kernel size
    out_h = image.shape[0] - kh + 1
    out_w = image.shape[1] - kw + 1
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        for n in range(out_w):
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
    return out
'''

DISGUISED = '''
import numpy
def correlate2d(image, kernel):
    # my own work!
    image = numpy.asarray(image, dtype=float)
    kernel = numpy.asarray(kernel, dtype=float)
    rows, cols = kernel.shape
    width_out = image.shape[1] - cols + 1     # swapped with the next line: independent
    height_out = (image.shape[0]
                  - rows + 1)
    result = numpy.zeros(
        (height_out, width_out)
    )
    for a in range(height_out):
        for b in range(width_out):
            result[a, b] = numpy.sum(kernel * image[a:a + rows, b:b + cols])  # weighted sum
    return result
'''


def test_renaming_comments_docstrings_formatting_and_independent_order_change_nothing():
    a, b = unit(ORIGINAL), unit(DISGUISED)
    assert a.tokens == b.tokens
    assert a.variables == b.variables
    assert same_fingerprints(a, b)
    assert "#" not in a.display and "Valid correlation" not in a.display


PADDED = '''
def correlate2d(image, kernel):
    image = np.asarray(image, dtype=float)
    print("loading")
    kernel = np.asarray(kernel, dtype=float)
    spare = kernel.copy()
    kh, kw = kernel.shape
    "the output shrinks by the kernel size"
    out_h = image.shape[0] - kh + 1
    steps = 0
    out_w = image.shape[1] - kw + 1
    pass
    out = np.zeros((out_h, out_w))
    for m in range(out_h):
        row_note = m * 2
        for n in range(out_w):
            steps += 1
            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])
            check = out[m, n]
    return out
'''


def test_dead_statements_between_the_lines_of_a_copy_change_nothing():
    """Padding a copy with statements that compute nothing (unread variables, print, pass, bare strings)."""
    a, b = unit(ORIGINAL), unit(PADDED)
    assert a.tokens == b.tokens and same_fingerprints(a, b)
    assert "spare" not in b.display and "steps" not in b.display and "print" not in b.display


def test_dependent_statements_keep_their_order():
    first = unit("def f(x):\n    a = x + 1\n    b = a * 2\n    return b\n")
    swapped = unit("def f(x):\n    b = x * 2\n    a = b + 1\n    return a\n")
    assert first.tokens != swapped.tokens


def test_variables_are_one_token_but_which_is_which_still_counts():
    """Renaming keeps the fingerprints; using another variable in the same place changes them."""
    base = unit("def f(x):\n    i = x.shape[0]\n    j = x.shape[1]\n    return x[i, j] + x[j, i]\n")
    renamed = unit("def f(x):\n    p = x.shape[0]\n    q = x.shape[1]\n    return x[p, q] + x[q, p]\n")
    crossed = unit("def f(x):\n    i = x.shape[0]\n    j = x.shape[1]\n    return x[i, j] + x[i, j]\n")
    assert base.tokens == crossed.tokens and LOCAL in base.tokens
    assert same_fingerprints(base, renamed, k=6)
    assert not same_fingerprints(base, crossed, k=6)


def test_import_aliases_strings_and_argument_checks():
    a = unit("from numpy import pad\ndef f(x):\n    if x.ndim != 2:\n        raise ValueError(f'bad {x}')\n"
             "    y = pad(x, 1, mode='constant')\n    return y + len('a b')\n")
    assert a.tokens[a.tokens.index("=") + 1:][:3] == ("numpy", ".", "pad")
    assert "'constant'" in a.tokens and STRING in a.tokens           # code-like string kept, the message not
    assert "raise" not in a.tokens and "ndim" not in a.tokens        # the argument check is left out
    assert a.tokens[:4] == ("def", "f", "(", "a0")                  # arguments by position


def test_spans_point_into_the_shown_text():
    a = unit(DISGUISED)
    for token, (start, end) in zip(a.tokens, a.spans):
        if token not in (LOCAL, STRING, "{", "}", "numpy") and not token.startswith("a"):
            assert a.display[start:end] == token


def test_magics_and_broken_code():
    assert units_from_code("%matplotlib inline\ndef f(x):\n    return x\n", source="s", kind="student")
    assert units_from_code("def f(x:\n    return x\n", source="s", kind="student") == []
    loose = units_from_code("import numpy as np\nx = np.ones(3)\nprint(x)\n", source="lectures/l.ipynb",
                            kind="kit", loose_code=True, cell="cell 3")
    assert [u.name for u in loose] == ["cell 3"]


def test_fingerprints_are_the_same_in_every_process():
    """Python's str hash changes per process; the grader's fingerprints must not."""
    code = ("from cnnkit.grading.similarity.compare import kgram_hashes\n"
            "print(list(kgram_hashes(('def', 'f', '(', 'a0', ')', ':', '{', 'v', '=', 'a0', '}'), 5)))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1


# ---------------------------------------------------------------- comparison

TEMPLATE = '''
def correlate2d(image, kernel):
    """Valid correlation."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    raise NotImplementedError()
'''


def test_compare_flags_a_disguised_copy_and_not_the_template_or_a_tiny_function():
    template = units_from_code(TEMPLATE, source="release", kind="template", aliases=NP)
    kit = unit(ORIGINAL.replace("correlate2d", "reference_corr"), source="cnnkit/ops/x.py", kind="kit")
    students = [unit(DISGUISED, source="student bob"), unit(TEMPLATE, source="student tom"),
                unit("def correlate2d(image, kernel):\n    return image[:1] * kernel[0, 0]\n", source="student ann")]
    result = compare(students, [kit], template, Settings(threshold=0.5, min_tokens=20))
    flags = result.flags()
    assert list(flags) == ["bob"]
    (match,) = flags["bob"]
    assert match.score > 0.95 and match.other.label == "cnnkit/ops/x.py: reference_corr"
    assert flag_text(flags["bob"]) == f"correlate2d: {match.score:.0%} like cnnkit/ops/x.py: reference_corr"
    assert [(s.student, s.function) for s in result.skipped] == [("ann", "correlate2d")]   # tom: template only


WINDOW_SUM = """
def f(image, kernel):
    kh = kernel.shape[0]
    oh = image.shape[0] - kh + 1
    out = np.zeros(oh)
    for m in range(oh):
        out[m] = np.sum(kernel * image[m:m + kh])
    return out
"""

SHIFT_AND_ADD = """
def f(image, kernel):
    kh = kernel.shape[0]
    oh = image.shape[0] - kh + 1
    out = np.zeros(oh)
    for i in range(kh):
        out += kernel[i] * image[i:i + oh]
    return out
"""


def test_a_variables_earlier_use_tells_a_window_from_a_shift():
    """``image[m:m + kh]`` (kernel-sized window at output m) and ``image[i:i + oh]`` (output-sized shift by tap i)
    are the same tokens; within reach of the loops that define them they are different fingerprints."""
    window, shift = unit(WINDOW_SUM), unit(SHIFT_AND_ADD)
    renamed = unit(WINDOW_SUM.replace("kh", "rows").replace("out", "acc"))

    def shared(a, b, reach):
        return len(set(kgram_hashes(a, 8, reach).tolist()) & set(kgram_hashes(b, 8, reach).tolist()))

    assert shared(window, shift, reach=24) < shared(window, shift, reach=0)
    assert same_fingerprints(window, renamed) and np.array_equal(kgram_hashes(window, 8, 0), kgram_hashes(renamed, 8, 0))


def test_an_idiom_the_kit_writes_in_many_files_weighs_little():
    """A student's function shares its set-up with the solution but not its core: flagged while the set-up is
    found nowhere else, not once four other files of the kit write the same set-up (each token weighs
    1 / (1 + the number of other places holding it))."""
    setup = "    kh = kernel.shape[0]\n    kw = kernel.shape[1]\n    oh = image.shape[0] - kh + 1\n" \
            "    ow = image.shape[1] - kw + 1\n    out = np.zeros((oh, ow))\n"
    student = unit("def correlate2d(image, kernel):\n" + setup
                   + "    for i in range(kh):\n        for j in range(kw):\n"
                   "            out += kernel[i, j] * image[i:i + oh, j:j + ow]\n    return out\n")
    solution = unit("def correlate2d(image, kernel):\n" + setup
                    + "    for m in range(oh):\n        for n in range(ow):\n"
                    "            out[m, n] = np.sum(kernel * image[m:m + kh, n:n + kw])\n    return out\n",
                    source="solutions/a1/a1.ipynb", kind="solution")
    idiom = [unit(f"def helper_{i}(image, kernel):\n" + setup + f"    return out * {i}\n",
                  source=f"cnnkit/file_{i}.py", kind="kit") for i in range(4)]
    settings = Settings(threshold=0.4, min_tokens=20)
    alone = compare([student], [solution], [], settings)
    assert [m.other.source for m in alone.matches] == ["solutions/a1/a1.ipynb"]
    among_idioms = compare([student], [solution] + idiom, [], settings)
    assert among_idioms.matches == [] or all(m.score < alone.matches[0].score for m in among_idioms.matches)
    assert not [m for m in among_idioms.matches if m.other.source.startswith("solutions")]
    copy = unit(solution.original.replace("out", "result"))        # the solution's core copied: still flagged
    flagged = compare([copy], [solution] + idiom, [], settings)
    assert flagged.matches and flagged.matches[0].other.source == "solutions/a1/a1.ipynb" \
        and flagged.matches[0].score > 0.9


def test_students_are_compared_on_the_same_function_only():
    a = unit(ORIGINAL, source="student a")
    b = unit(ORIGINAL.replace("def correlate2d", "def conv2d"), source="student b")
    c = unit(DISGUISED, source="student c")
    result = compare([a, b, c], [], [], Settings(threshold=0.5, min_tokens=10))
    pairs = {(m.student, m.other.source) for m in result.matches}
    assert pairs == {("a", "student c"), ("c", "student a")}


def test_what_most_of_a_large_class_writes_alike_is_not_a_copy():
    """Twelve students write the taught loop the same way (as short functions are): more than
    common_students hold it, so nobody is flagged for it; two who share an unusual version still are."""
    natural = [unit(ORIGINAL.replace("out", f"out{i}").replace("kh", f"rows{i}"), source=f"student n{i:02d}")
               for i in range(12)]
    shared = [unit(SHIFT_AND_ADD.replace("def f", "def correlate2d").replace("out", name), source=f"student {name}")
              for name in ("ann", "ben")]
    settings = Settings(threshold=0.4, min_tokens=20, common_students=10)
    flags = compare(natural + shared, [], [], settings).flags()
    assert sorted(flags) == ["ann", "ben"]
    few = compare(natural[:5], [], [], settings).flags()       # five alike in a class of five: shown, as MOSS would
    assert len(few) == 5


def test_settings_and_the_course_setting_reject_nonsense():
    for bad in (0, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="threshold"):
            Settings(threshold=bad)
        with pytest.raises(ValueError, match="similarity_threshold"):
            similarity_threshold({"CnnkitGrader": {"similarity_threshold": bad}})
    assert similarity_threshold({}) == Settings().threshold
    with pytest.raises(ValueError, match="min_tokens"):
        Settings(min_tokens=0)
    with pytest.raises(ValueError, match="reach"):
        Settings(reach=-1)
    with pytest.raises(ValueError, match="common_students"):
        Settings(common_students=0)


def test_page_escapes_student_code_and_highlights_the_match():
    hostile = DISGUISED.replace("# my own work!", "x = '</pre><script>alert(1)</script>'") \
        .replace("def correlate2d", "def correlate2d")
    students = [unit(hostile, source="student <b>eve</b>"), unit(ORIGINAL, source="student a")]
    result = compare(students, [], [], Settings(threshold=0.5, min_tokens=10))
    page = render(result, ASSIGNMENT)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;eve&lt;/b&gt;" in page
    assert page.count("<mark>") >= 2 and "<script" not in page.lower()
    marked = highlight(result.matches[0].unit, result.matches[0].marked)
    assert marked.startswith("def correlate2d") and "<mark>" in marked


def test_report_column_round_trips_and_shows_in_the_table(tmp_path):
    row = rp.StudentReport("bob", 20.0, 30.0, rp.GRADED, similarity="conv2d: 92% like student ann")
    path = tmp_path / "r.csv"
    path.write_text(rp.reports_to_csv([row]))
    assert rp.read_csv(path)[0].similarity == "conv2d: 92% like student ann"
    assert "similar to other code: conv2d: 92% like student ann" in rp.format_table([row])


def test_a_failing_comparison_leaves_the_grades_alone(tmp_path, capsys):
    """No solution notebook: after_grading says so on stderr, leaves the rows and files as they were."""
    from types import SimpleNamespace

    from cnnkit.grading.similarity import after_grading

    row = rp.StudentReport("bob", 20.0, 30.0, rp.GRADED)
    dirs = SimpleNamespace(submitted_directory="submitted", source_directory="solutions",
                           release_directory="assignments")
    assert after_grading(tmp_path, ASSIGNMENT, [row], dirs, 0.5) is None
    assert "no similarity report" in capsys.readouterr().err
    assert row.similarity == "" and not list(tmp_path.iterdir())


# ---------------------------------------------------------------- the red team's ways around the report

WRAPPED = '''
def _work(picture, weights):
    picture = np.asarray(picture, dtype=float)
    weights = np.asarray(weights, dtype=float)
    rows, cols = weights.shape
    tall = picture.shape[0] - rows + 1
    wide = picture.shape[1] - cols + 1
    result = np.zeros((tall, wide))
    for a in range(tall):
        for b in range(wide):
            result[a, b] = np.sum(weights * picture[a:a + rows, b:b + cols])
    return result


def correlate2d(image, kernel):
    return _work(image, kernel)
'''


def test_a_copy_behind_a_wrapper_an_alias_or_an_imported_module_is_still_the_copy(tmp_path):
    """The red team moved a copy into a helper called by a one-line correlate2d, bound correlate2d to another
    function, and put it in a module handed in beside the notebook: each is compared as the copy."""
    mine = ORIGINAL.replace("def correlate2d", "def _mine")
    method = "class _Impl:\n    @staticmethod\n" + textwrap.indent(mine.strip("\n"), "    ") + "\n"
    factory = "def _make():\n" + textwrap.indent(mine.strip("\n"), "    ") + "\n    return _mine\n"
    hand_ins = {"alice": {"correlate2d": ORIGINAL},
                "wrapper": {"correlate2d": WRAPPED},
                "aliaser": {"correlate2d": mine + "\n\ncorrelate2d = _mine\n"},
                "tuple": {"correlate2d": mine + "\n\ncorrelate2d, _unused = _mine, None\n"},      # the second red team's
                "method": {"correlate2d": method + "\n\ncorrelate2d = _Impl._mine\n"},
                "factory": {"correlate2d": factory + "\n\ncorrelate2d = _make()\n"},
                "importer": {"correlate2d": "from mylib import correlate2d\n"},
                "package": {"correlate2d": "from mylib.ops import correlate2d\n"}}
    course = write_course(tmp_path / "course", REPO, hand_ins)
    copy = "import numpy as np\n" + DISGUISED.replace("import numpy\n", "")
    (course / "submitted" / "importer" / ASSIGNMENT / "mylib.py").write_text(copy)
    (course / "submitted" / "package" / ASSIGNMENT / "mylib").mkdir()
    (course / "submitted" / "package" / ASSIGNMENT / "mylib" / "ops.py").write_text(copy)
    flags = check_class(course, ASSIGNMENT).flags
    for student in set(hand_ins) - {"alice"}:
        assert "correlate2d: " in flags.get(student, ""), (student, flags)


def test_links_and_pipes_in_a_submission_folder_are_never_read(tmp_path):
    """A notebook that is a link to a classmate's (to frame them) or a FIFO (to hang the grader) is not read."""
    course = write_course(tmp_path / "course", REPO, {"alice": {"correlate2d": ORIGINAL},
                                                      "framer": {"conv2d": "def conv2d(x, w, b=None):\n    return x\n"}})
    framer = course / "submitted" / "framer" / ASSIGNMENT
    (framer / "notes.ipynb").symlink_to(course / "submitted" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    os.mkfifo(framer / "pipe.ipynb")
    check = check_class(course, ASSIGNMENT)
    assert not any("framer" in m.student or "framer" in m.other.source for m in check.result.matches)
    from cnnkit.grading.findings import read_regular_file

    assert read_regular_file(framer / "pipe.ipynb", 2**20) is None and read_regular_file(framer / "notes.ipynb", 2**20) is None


def test_a_function_padded_with_thousands_of_statements_is_not_compared_and_says_so(tmp_path):
    """The red team's 'simbomb': 30,000 statements made the report quadratic (minutes per hand-in). Such a
    function is left out at once, with the reason in the student's flag."""
    padding = "".join(f"    v{i} = {i} % 7\n" for i in range(30_000))
    bomb = "def edge_strength(image):\n" + padding + "    return image\n"
    literal = "def conv_param_count(c_in, c_out, k, bias=True):\n    table = [" + ", ".join(["0"] * 200_000) \
        + "]\n    return table[0] + c_in\n"
    course = write_course(tmp_path / "course", REPO, {"bomber": {"edge_strength": bomb},
                                                      "lister": {"conv_param_count": literal},
                                                      "alice": {"correlate2d": ORIGINAL},
                                                      "bob": {"correlate2d": DISGUISED.replace("import numpy\n", "")}})
    check = check_class(course, ASSIGNMENT)
    assert "statements, more than" in check.flags["bomber"] and "not compared" in check.flags["bomber"]
    assert "syntax nodes" in check.flags["lister"]
    assert "bob" in check.flags.get("alice", "") or "alice" in check.flags.get("bob", "")


# ---------------------------------------------------------------- the cases: honest, copied from the kit, shared



def _reference_outputs():
    from cnnkit import arith, ops
    from cnnkit.ops import filters

    rng = np.random.default_rng(0)
    img, ker = rng.normal(size=(7, 9)), rng.normal(size=(3, 2))
    x, w, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    return filters, {
        "correlate2d": (lambda f: f(img, ker), ops.correlate2d(img, ker)),
        "convolve2d": (lambda f: f(img, ker), ops.convolve2d(img, ker)),
        "conv2d": (lambda f: f(x, w, b, stride=2, padding=1), ops.conv2d(x, w, b, stride=2, padding=1)),
        "conv_output_size": (lambda f: [f(32, 5), f(227, 11, stride=4), f(7, 3, 2, 1)],
                             [arith.conv_output_size(32, 5), 55, arith.conv_output_size(7, 3, 2, 1)]),
        "conv_param_count": (lambda f: [f(3, 64, (3, 3)), f(1, 100, 10, bias=False)], [1792, 10_000]),
        "edge_strength": (lambda f: f(img), np.hypot(ops.correlate2d(img, filters.sobel_x()),
                                                      ops.correlate2d(img, filters.sobel_y()))),
    }


def test_every_case_is_a_correct_solution():
    """The cases are real hand-ins: each one computes what the assignment asks."""
    from cnnkit import ops

    filters, expected = _reference_outputs()
    cases = load_cases()
    assert {c.function for c in cases if c.kind == "honest"} == set(expected)
    assert all(sum(c.kind == "honest" and c.function == name for c in cases) >= 5 for name in expected)
    heldout = load_cases(HELDOUT)
    assert len(heldout) == 30 and {c.kind for c in heldout} == {"honest", "copied_from_kit", "shared"}
    for case in cases + heldout:
        namespace = {"np": np, "filters": filters, "correlate2d": ops.correlate2d}
        exec(compile(case.source, f"{case.kind}/{case.name}", "exec"), namespace)
        call, want = expected[case.function]
        np.testing.assert_allclose(call(namespace[case.function]), want, atol=1e-9, err_msg=case.name)


@pytest.fixture(scope="module")
def cases_checked(tmp_path_factory):
    course = write_course(tmp_path_factory.mktemp("cases"), REPO, class_of_cases(load_cases()))
    folder = course / "submitted" / "shared_ben" / ASSIGNMENT      # a renamed notebook is read too
    (folder / f"{ASSIGNMENT}.ipynb").rename(folder / f"{ASSIGNMENT} (1).ipynb")
    return check_class(course, ASSIGNMENT, package_dir=REPO / "cnnkit", lecture_dirs=[REPO / "lectures"])


@pytest.mark.slow   # reads and normalises the whole kit: about 15 s on 2 cores
def test_the_cases_every_copy_flagged_no_honest_function_flagged(cases_checked):
    flagged = {(m.student, m.function): m for matches in cases_checked.result.flags().values() for m in matches}
    copies = {(s, f) for s, functions in class_of_cases(load_cases()).items() if not s.startswith("honest")
              for f in functions}
    compared = copies - {(s.student, s.function) for s in cases_checked.result.skipped}
    missed = compared - set(flagged)
    assert not missed, f"copies not flagged: {sorted(missed)}"
    for student, function in copies & set(flagged):
        match = flagged[(student, function)]
        if student.startswith("shared_"):
            assert match.other.source.startswith("student shared_"), (student, function, match.other.label)
    false_positives = {(key, round(m.score, 2), m.other.label) for key, m in flagged.items() if key[0].startswith("honest")}
    assert not false_positives, sorted(false_positives)
    page = cases_checked.page.read_text()
    assert "kitcopy_conv2d_ops_conv2d_naive" in page and "cnnkit/ops/conv.py" in page


#: What the default settings get wrong on the held-out cases (tests/similarity_cases/heldout, written by
#: someone who had seen neither the detector nor the first cases), as measured and reported in the README.
#: Copies missed (4 of 9 compared): the solution with every tuple assignment split and temporaries added
#: (39 %, 38 %), the kit's im2col conv2d with its helpers inlined (40 %, just under) and lecture 02's
#: nested comprehension generalised to a rectangular kernel (32 %). Honest functions flagged (2 of 14):
#: two "natural" loops, the way the lecture teaches them, against another student's natural loop (77 %)
#: and against the solution (62 %). A test, so that a change of the detector that makes either list
#: longer is seen; one that makes them shorter should shorten them here and in the README.
HELDOUT_MISSED = {("kitcopy_conv2d_solution_b", "conv2d"), ("kitcopy_correlate2d_solution_b", "correlate2d"),
                  ("kitcopy_conv2d_kit_conv2d_im2col", "conv2d"), ("kitcopy_correlate2d_lecture02_by_hand", "correlate2d")}
HELDOUT_FLAGGED_HONEST = {("honest_3", "correlate2d"), ("honest_4", "conv2d")}


@pytest.mark.slow   # reads and normalises the whole kit
def test_the_heldout_cases_fail_only_where_the_readme_says(tmp_path):
    students = class_of_cases(load_cases(HELDOUT))
    check = check_class(write_course(tmp_path, REPO, students), ASSIGNMENT, package_dir=REPO / "cnnkit",
                        lecture_dirs=[REPO / "lectures"])
    flagged = {(m.student, m.function) for matches in check.result.flags().values() for m in matches}
    skipped = {(s.student, s.function) for s in check.result.skipped}
    copies = {(s, f) for s, functions in students.items() if not s.startswith("honest") for f in functions} - skipped
    honest = {(s, f) for s, functions in students.items() if s.startswith("honest") for f in functions} - skipped
    assert copies - flagged == HELDOUT_MISSED
    assert honest & flagged == HELDOUT_FLAGGED_HONEST
    for student in ("shared_cid", "shared_dee"):    # the shared pair: each flagged against the other
        partner = "shared_dee" if student == "shared_cid" else "shared_cid"
        for function in ("correlate2d", "conv2d"):
            assert any(m.student == student and m.function == function and m.other.source == f"student {partner}"
                       for m in check.result.matches), (student, function)


# ---------------------------------------------------------------- end to end: the real command

def _env() -> dict:
    return {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.slow
def test_grade_writes_the_flag_and_the_page(tmp_path):
    """`cnnkit grade` on three a1 hand-ins: two students share conv2d and correlate2d, one is on their own."""
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    done = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", ASSIGNMENT, "--force"], cwd=root,
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    release = json.loads((root / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    cases = {(c.kind, c.function, c.name): c.source for c in load_cases()}
    hand_ins = {
        "ann": {f: cases[("shared", f, "ann")] for f in ("correlate2d", "conv2d")},
        "ben": {f: cases[("shared", f, "ben")] for f in ("correlate2d", "conv2d")},
        "cid": {"correlate2d": cases[("honest", "correlate2d", "stacked_columns_matmul")],
                "conv2d": cases[("honest", "conv2d", "windows_einsum")]},
    }
    for student, functions in hand_ins.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
        (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(handed_in(release, functions)))
    graded = subprocess.run([sys.executable, "-m", "cnnkit", "grade", ASSIGNMENT, "--course", str(root),
                             "--jobs", "2", "--cell-timeout", "300"], cwd=root, env=_env(), capture_output=True,
                            text=True, timeout=1500)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    rows = {r["student"]: r for r in csv.DictReader((root / f"grading_report_{ASSIGNMENT}.csv").open())}
    assert "correlate2d: " in rows["ann"]["similarity"] and "like student ben" in rows["ann"]["similarity"]
    assert "conv2d: " in rows["ben"]["similarity"] and "like student ann" in rows["ben"]["similarity"]
    assert rows["cid"]["similarity"] == ""
    assert float(rows["ann"]["score"]) > 0                      # points are the grader's, not the report's
    page = (root / f"similarity_{ASSIGNMENT}.html").read_text()
    assert "ann" in page and "ben" in page and "<mark>" in page and "<script" not in page.lower()
    assert "similar to other code" in (root / f"grading_report_{ASSIGNMENT}.txt").read_text()

    again = subprocess.run([sys.executable, "-m", "cnnkit", "grade", ASSIGNMENT, "--course", str(root),
                            "--no-similarity"], cwd=root, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = {r["student"]: r for r in csv.DictReader((root / f"grading_report_{ASSIGNMENT}.csv").open())}
    assert all(r["similarity"] == "" for r in rows.values())


def test_one_unreadable_hand_in_does_not_switch_the_report_off_for_the_class(tmp_path):
    """The red team's 'simbreak': a 600-term sum inside a function overflows the parser's recursion;
    that student is marked 'not compared' and the copies of the others are still flagged. (The sum is
    used: an unused one is dead code, left out before anything recurses into it.)"""
    body = ORIGINAL.replace('    """Valid correlation."""\n', '    """Valid correlation."""\n    offset = '
                            + "+".join(["0"] * 600) + "\n").replace("    return out\n", "    return out + offset\n")
    copy = DISGUISED.replace("import numpy\n", "")
    course = write_course(tmp_path / "course", REPO, {"breaker": {"correlate2d": body},
                                                      "alice": {"correlate2d": ORIGINAL},
                                                      "bob": {"correlate2d": copy}})
    import sys as _sys

    limit = _sys.getrecursionlimit()
    _sys.setrecursionlimit(400)  # the grader's own limit may be higher: make the parser overflow here
    try:
        check = check_class(course, ASSIGNMENT)
    finally:
        _sys.setrecursionlimit(limit)
    assert "not compared" in check.flags["breaker"]
    assert "bob" in check.flags.get("alice", "") or "alice" in check.flags.get("bob", "")


def test_a_module_with_form_feeds_switches_nothing_off(tmp_path):
    """The third red team: ``str.splitlines`` splits at a form feed, Python's parser does not; a handed-in
    module starting ``#\\x0c\\x0c\\x0c`` raised IndexError and the report was gone for the whole class."""
    course = write_course(tmp_path / "course", REPO, {"alice": {"correlate2d": ORIGINAL},
                                                      "bob": {"correlate2d": DISGUISED.replace("import numpy\n", "")},
                                                      "mallory": {"conv2d": "from mylib import A\n"}})
    (course / "submitted" / "mallory" / ASSIGNMENT / "mylib.py").write_text(
        "#\x0c\x0c\x0c\nclass A:\n    def conv2d(self):\n        pass\n")
    check = check_class(course, ASSIGNMENT)
    assert "bob" in check.flags.get("alice", "") or "alice" in check.flags.get("bob", "")


def test_bad_arguments_are_named():
    from cnnkit.grading.similarity.normalize import code_lines

    for bad in ({"k": 0}, {"k": 2.5}, {"reach": -1}, {"reach": True}):
        args = {"k": 8, "reach": 24, **bad}
        with pytest.raises(ValueError, match=next(iter(bad))):
            kgram_hashes(("a",) * 10, args["k"], args["reach"])
    with pytest.raises(TypeError, match="code must be a str"):
        code_lines(b"x = 1\n")


def test_a_copy_behind_a_table_or_an_indirect_call_is_still_the_copy(tmp_path):
    """The fourth red team: ``_IMPL = {"loop": _copy}`` and a one-line conv2d calling ``_IMPL["loop"](...)``
    left the copy out of the comparison; so would ``globals()["_copy"](...)``."""
    mine = ORIGINAL.replace("def correlate2d", "def _mine")
    table = mine + '\n\n_IMPL = {"loop": _mine}\n\n\ndef correlate2d(image, kernel):\n    return _IMPL["loop"](image, kernel)\n'
    lookup = mine + '\n\ndef correlate2d(image, kernel):\n    return globals()["_mine"](image, kernel)\n'
    course = write_course(tmp_path / "course", REPO, {"alice": {"correlate2d": DISGUISED.replace("import numpy\n", "")},
                                                      "table": {"correlate2d": table}, "lookup": {"correlate2d": lookup}})
    flags = check_class(course, ASSIGNMENT).flags
    for student in ("table", "lookup"):
        assert "correlate2d: " in flags.get(student, ""), (student, flags)


def test_names_bound_to_each_other_are_each_followed_once(monkeypatch):
    """The fourth red team's four-line hang: twenty copies of two names bound to each other made the
    search for what a name stands for branch twenty ways, eight deep. Each name is now visited once."""
    from cnnkit.grading.similarity import corpus

    code = corpus._Code()
    code.add(ORIGINAL)
    code.add("_p = None\n_q = (" + "_p, " * 20 + ")\n_p = (" + "_q, " * 20 + ")\ncorrelate2d = correlate2d if _p else _q\n")
    calls = []
    real = corpus._Code.references
    monkeypatch.setattr(corpus._Code, "references", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    code.resolve("correlate2d")
    names = 1 + 2 * 20 + 2                  # each name occurrence looked up once at most (it was 20 ** 8)
    assert len(calls) <= names, len(calls)
