"""The door: the course opens without make (cnnkit lab / cnnkit test), the light student install
says in one line what a torch part needs, and the Colab cells of tools/colab_cells.py.

The fresh-environment checks (a venv without PyTorch running lecture 01 and a1, a Colab-like venv
installing the kit from a wheel) are .ci/no_make_path.py, run by .ci/run.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from cnnkit import _course
from cnnkit.launch import CourseNotFound, find_course, lab_command, pytest_command
from cnnkit.optional import TorchMissing, optional_torch, require_torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import colab_cells  # noqa: E402

#: Makes torch unimportable, as on the light install: ``import torch`` fails as it would there.
NO_TORCH = textwrap.dedent("""
    import sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTorch())
""")


def _python(code: str, *, no_torch: bool, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    source = (NO_TORCH if no_torch else "") + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


# ------------------------------------------------------------------------------ finding the course
def _course_folder(root: Path) -> Path:
    (root / "lectures").mkdir(parents=True)
    return root


def test_the_course_is_the_current_folder_or_one_above_it(tmp_path):
    course = _course_folder(tmp_path / "course")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert find_course(cwd=course, installed_from=elsewhere) == course.resolve()
    assert find_course(cwd=course / "lectures", installed_from=elsewhere) == course.resolve()


def test_else_the_checkout_the_package_was_installed_from(tmp_path):
    checkout = _course_folder(tmp_path / "checkout")
    (tmp_path / "here").mkdir()
    assert find_course(cwd=tmp_path / "here", installed_from=checkout) == checkout.resolve()
    assert find_course() == REPO  # this editable checkout, from the tests' folder or anywhere


def test_no_course_is_one_clear_error(tmp_path):
    (tmp_path / "here").mkdir()
    with pytest.raises(CourseNotFound, match=r"no course folder in .*here or above it .*--course DIR"):
        find_course(cwd=tmp_path / "here", installed_from=tmp_path / "site-packages")
    with pytest.raises(CourseNotFound, match=r"argument --course: .* holds no lectures/"):
        find_course(course=tmp_path / "here")


# ------------------------------------------------------------------------ what make lab / make test run
def test_lab_command_is_what_make_lab_ran():
    command = lab_command(port=8890, allow_root=False, extra=["--ServerApp.token="])
    assert command == [sys.executable, "-m", "jupyterlab", "--notebook-dir=.", "--port=8890", "--no-browser",
                       "--ServerApp.default_url=/lab/tree/lectures", "--ServerApp.token="]
    assert "--allow-root" in lab_command(allow_root=True)
    assert ("--allow-root" in lab_command()) == (hasattr(os, "geteuid") and os.geteuid() == 0)


def test_pytest_command_runs_two_workers_by_file_unless_told():
    assert pytest_command(["-x"], xdist=True) == [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-x"]
    assert pytest_command(["-n", "4", "-k", "door"], xdist=True) == [sys.executable, "-m", "pytest", "-n", "4", "-k", "door"]
    assert pytest_command(["-n0"], xdist=True)[3:] == ["-n0"]
    assert pytest_command(["--numprocesses=3"], xdist=True)[3:] == ["--numprocesses=3"]
    assert pytest_command([], xdist=False) == [sys.executable, "-m", "pytest"]


def test_make_calls_the_same_commands():
    makefile = (REPO / "Makefile").read_text()
    lab = re.search(r"^lab: venv\n\t(.*)$", makefile, re.M).group(1)
    test = re.search(r"^test: venv\n\t(.*)$", makefile, re.M).group(1)
    assert lab.startswith("$(BIN)/python -m cnnkit lab "), lab
    assert test.startswith("$(BIN)/python -m cnnkit test "), test
    assert re.search(r'pip install .*torch==\$\(TORCH_VERSION\)', makefile), "make venv installs the pinned torch first"


def test_cnnkit_is_a_console_script_with_lab_and_test():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["cnnkit"] == "cnnkit.__main__:main"
    from cnnkit.__main__ import COMMANDS

    assert COMMANDS["lab"][:2] == ("cnnkit.launch", "lab_main")
    assert COMMANDS["test"][:2] == ("cnnkit.launch", "suite_main")


def test_cnnkit_test_runs_pytest_in_the_course_from_anywhere(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "test", "--collect-only", "-q", "-n", "0",
                           "tests/test_door.py::test_pytest_command_runs_two_workers_by_file_unless_told"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tests/test_door.py::test_pytest_command_runs_two_workers_by_file_unless_told" in proc.stdout
    assert "1 test collected" in proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_cnnkit_lab_serves_the_lecture_tree():
    """Started from inside lectures/, the console script finds the course and opens on the lectures."""
    script = Path(sys.executable).parent / ("cnnkit.exe" if os.name == "nt" else "cnnkit")
    assert script.exists(), f"the console script is missing: {script}"
    port = _free_port()
    proc = subprocess.Popen([str(script), "lab", "--port", str(port), "--ServerApp.token=", "--ServerApp.password="],
                            cwd=REPO / "lectures", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        status, deadline = 0, time.monotonic() + 120
        while status != 200 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab/tree/lectures", timeout=5) as page:
                    status = page.status
            except OSError:
                pass
        assert status == 200, "cnnkit lab did not serve /lab/tree/lectures"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/lectures", timeout=5) as listing:
            names = {item["name"] for item in json.load(listing)["content"]}
        assert {p.name for p in (REPO / "lectures").glob("*.ipynb")} <= names
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert out.startswith(f"cnnkit lab: the course in {REPO}, at http://localhost:{port}/lab/tree/lectures"), out[:300]


# ----------------------------------------------------------------------------- the light install
def _extras() -> dict[str, set[str]]:
    """Each extra's requirement names, the kit's own extras resolved."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    raw = project["optional-dependencies"]

    def names(items: list[str]) -> set[str]:
        out = set()
        for item in items:
            match = re.fullmatch(r"cnnkit\[(.*)\]", item)
            if match:
                for extra in match.group(1).split(","):
                    out |= names(raw[extra.strip()])
            else:
                out.add(re.split(r"[<>=!~ \[]", item, maxsplit=1)[0].lower())
        return out

    core = names(project["dependencies"])
    return {"core": core, **{extra: core | names(items) for extra, items in raw.items()}}


def test_torch_is_an_extra_that_the_full_installs_include():
    extras = _extras()
    assert "torch" not in extras["core"] and "torch" not in extras["student"]
    assert {"matplotlib", "jupyterlab", "ipywidgets", "ipykernel"} <= extras["student"]
    for full in ("torch", "lab", "dev", "hub"):
        assert "torch" in extras[full], full
    assert extras["student"] <= extras["lab"] <= extras["dev"]


def test_a_torch_command_without_torch_is_one_line_and_status_1():
    proc = _python("import sys\nfrom cnnkit.__main__ import main\nsys.exit(main(['train', '--epochs', '1']))",
                   no_torch=True)
    assert proc.returncode == 1 and proc.stdout == "", (proc.returncode, proc.stdout, proc.stderr)
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    assert line.startswith("python -m cnnkit train: 'train' needs PyTorch") and "pip install torch" in line, line


def test_require_torch_names_what_needs_it():
    proc = _python("""
        from cnnkit.optional import TorchMissing, optional_torch, require_torch, torch_installed
        assert not torch_installed()
        try:
            require_torch("training")
        except ModuleNotFoundError as error:        # so `except ImportError` code keeps working
            assert isinstance(error, TorchMissing) and error.name == "torch"
            print(error)
        assert optional_torch("the cross-check") is None
    """, no_torch=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("training needs PyTorch, which is not installed here: pip install torch"), lines
    assert lines[1].startswith("skipped: the cross-check needs PyTorch"), lines
    assert len(lines) == 2
    # With torch installed both give torch itself.
    import torch

    assert require_torch() is torch and optional_torch("anything") is torch
    assert issubclass(TorchMissing, ModuleNotFoundError)


def test_in_a_notebook_without_torch_the_error_is_one_line():
    """An IPython shell: ``import torch`` (the lecture's or the kit's own) shows one line; the cell still fails;
    other errors keep their traceback."""
    proc = _python("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_cell("import cnnkit")
        print("@@torch")
        result = shell.run_cell("import torch")
        assert isinstance(result.error_in_exec, ModuleNotFoundError), result.error_in_exec
        print("@@models")
        result = shell.run_cell("cnnkit.models.get('lenet5')")
        assert isinstance(result.error_in_exec, ModuleNotFoundError), result.error_in_exec
        print("@@other")
        shell.run_cell("import no_such_module_here")
    """, no_torch=True)
    assert proc.returncode == 0, proc.stderr
    torch_part, models_part, other_part = re.split(r"@@\w+\n", proc.stdout)[1:]
    for shown in (torch_part, models_part):
        assert shown.strip().splitlines() == [
            "TorchMissing: this part needs PyTorch, which is not installed here: pip install torch "
            "(in a notebook: %pip install torch, then restart the kernel)"], shown
    assert "Traceback" in other_part and "no_such_module_here" in other_part, other_part


def test_with_torch_installed_the_notebook_hint_stays_off():
    proc = _python("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_cell("import cnnkit")
        print(shell.custom_exceptions)
    """, no_torch=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "()"


#: The numpy lectures the light install runs, and how many PyTorch parts each skips with one line.
NUMPY_LECTURES = {"01_motivations": 1, "02_convolutional_layer": 3, "03_pooling": 0, "03b_explorers": 0,
                  "04_normalization_and_the_full_system": 3}
SKIP_LINE = re.compile(r"skipped: .+ needs PyTorch, which is not installed here: pip install torch \(in a notebook: "
                       r"%pip install torch, then restart the kernel\)")


@pytest.mark.slow
@pytest.mark.parametrize("name", NUMPY_LECTURES)
def test_numpy_lectures_run_without_torch(name, tmp_path):
    """Lectures 01-04 run top to bottom where ``import torch`` fails: each PyTorch part is one line, no traceback."""
    import nbformat
    from nbrun import run_notebook

    nb = nbformat.read(REPO / "lectures" / f"{name}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(NO_TORCH))
    nb.cells.append(nbformat.v4.new_code_cell('assert "torch" not in sys.modules, "the lecture imported torch"'))
    copy = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, copy)
    done = run_notebook(copy, timeout=300, cwd=REPO / "lectures",
                        env={"CNNKIT_SIZE": "small", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
    outputs = [o for c in done.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], f"{name}: a cell raised"
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "Traceback" not in text, text
    skipped = [line for line in text.splitlines() if "needs PyTorch" in line]
    assert all(SKIP_LINE.fullmatch(line) for line in skipped), skipped
    assert len(skipped) == NUMPY_LECTURES[name], skipped


# ------------------------------------------------------------------------------- the Colab cells
@pytest.fixture
def course_copy(tmp_path) -> Path:
    """The torch notebooks, copied into a course folder of their own."""
    for path in colab_cells.notebooks(REPO):
        target = tmp_path / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    return tmp_path


def _tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "tools" / "colab_cells.py"), *args], capture_output=True,
                          text=True, timeout=120)


def _ours(cell: dict) -> bool:
    return "colab" in cell.get("metadata", {}).get("cnnkit", {})


def test_the_tool_inserts_the_cells_once_and_leaves_the_rest(course_copy):
    paths = colab_cells.notebooks(course_copy)
    assert len(paths) == len(_course.COLAB_NOTEBOOKS) == 6
    original = {p: json.loads(p.read_text()) for p in paths}
    check = _tool("--check", "--course", str(course_copy))
    already = {p for p in paths if any(_ours(c) for c in original[p]["cells"])}
    assert check.returncode == (0 if already == set(paths) else 1), check.stderr
    write = _tool("--write", "--course", str(course_copy))
    assert write.returncode == 0, write.stderr
    written = {p: p.read_bytes() for p in paths}
    again = _tool("--write", "--course", str(course_copy))
    assert again.returncode == 0 and again.stdout == "", again.stdout
    assert {p: p.read_bytes() for p in paths} == written, "a second --write changed a notebook"
    assert _tool("--check", "--course", str(course_copy)).returncode == 0
    for path in paths:
        nb = json.loads(path.read_text())
        theirs = [c for c in original[path]["cells"] if not _ours(c)]
        assert [c for c in nb["cells"] if not _ours(c)] == theirs, f"{path.name}: its own cells changed"
        assert [c["id"] for c in nb["cells"][1:3]] == [colab_cells.BADGE_ID, colab_cells.INSTALL_ID]
        assert nb["cells"][0] == theirs[0], "the title (or the assignment's header) stays first"
        assert sum(map(_ours, nb["cells"])) == 2
        badge, install = nb["cells"][1:3]
        assert "nbgrader" not in badge["metadata"] and "nbgrader" not in install["metadata"]
        assert install["outputs"] == [] and install["execution_count"] is None
        published = colab_cells.published_path(path.relative_to(course_copy).as_posix())
        url = f"https://colab.research.google.com/github/cnnkit/cnnkit/blob/main/{published}"
        assert _course.COURSE_REPOSITORY == "https://github.com/cnnkit/cnnkit" and url in "".join(badge["source"])
        assert published.startswith(("lectures/", "assignments/a4_"))
        assert f"git+{_course.COURSE_REPOSITORY}@{_course.COURSE_BRANCH}" in "".join(install["source"])


def test_a_fork_changes_one_place(course_copy):
    path = colab_cells.notebooks(course_copy)[0]
    colab_cells.update(path, course_copy, write=True)  # the committed notebooks may carry the cells already
    assert not colab_cells.update(path, course_copy, write=True)  # and a second write changes nothing
    assert colab_cells.update(path, course_copy, write=True, repository="https://github.com/someone/fork.git",
                              branch="spring")
    text = path.read_text()
    assert "github/someone/fork/blob/spring/lectures/" in text and "git+https://github.com/someone/fork@spring" in text
    assert "github/cnnkit/cnnkit" not in text
    assert sum(map(_ours, json.loads(text)["cells"])) == 2
    with pytest.raises(ValueError, match="COURSE_REPOSITORY must be https://github.com/OWNER/NAME"):
        colab_cells.update(path, course_copy, write=False, repository="gitlab.com/x/y")


def test_a_pattern_must_match_one_notebook(tmp_path):
    with pytest.raises(ValueError, match="matches 0 notebooks"):
        colab_cells.notebooks(tmp_path)
    proc = _tool("--check", "--course", str(tmp_path))
    assert proc.returncode == 2 and "matches 0 notebooks" in proc.stderr


def _install_cell_run(no_torch: bool, colab: bool, **env: str) -> subprocess.CompletedProcess:
    source = colab_cells.install_source(_course.COURSE_REPOSITORY, _course.COURSE_BRANCH)
    fake_colab = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n" if colab else ""
    return _python(fake_colab + "import subprocess\n"
                   "subprocess.run = lambda *a, **k: (_ for _ in ()).throw(AssertionError('pip was called'))\n"
                   f"exec(compile({source!r}, 'install-cell', 'exec'), {{}})\n"
                   "import os\nprint('size', os.environ.get('CNNKIT_SIZE'))\n", no_torch=no_torch, **env)


def test_the_install_cell_is_a_no_op_where_cnnkit_imports():
    run = _install_cell_run(no_torch=False, colab=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"size {os.environ.get('CNNKIT_SIZE')}"], run.stdout


def test_in_colab_without_a_gpu_the_cell_says_so_in_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the no-GPU line is not shown")
    run = _install_cell_run(no_torch=False, colab=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("No GPU in this Colab session: running small on the CPU"), lines


@pytest.mark.slow
def test_nbgrader_releases_the_cells_as_ordinary_cells(course_copy):
    """a4's source with the cells: nbgrader generates the release, the cells ordinary (unlocked, ungraded)."""
    assert _tool("--write", "--course", str(course_copy)).returncode == 0
    name = next(course_copy.glob("solutions/a4_*")).name
    bin_dir = Path(sys.executable).parent  # nbgrader shells out to alembic
    proc = subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", name, "--force"], cwd=course_copy,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    release = json.loads((course_copy / "assignments" / name / f"{name}.ipynb").read_text())
    ours = [c for c in release["cells"] if _ours(c)]
    assert [c["id"] for c in ours] == [colab_cells.BADGE_ID, colab_cells.INSTALL_ID]
    assert all("nbgrader" not in c["metadata"] for c in ours)
    assert f"blob/main/assignments/{name}/{name}.ipynb" in "".join(ours[0]["source"])


def test_the_torch_notebooks_carry_the_current_colab_cells():
    """The committed notebooks match cnnkit/_course.py (a fork that changes it reruns the tool)."""
    proc = _tool("--check")
    assert proc.returncode == 0, (f"{proc.stdout}{proc.stderr}run `python tools/colab_cells.py --write`, then "
                                  "`nbgrader generate_assignment a4_resnet_gpu --force` for the release")
