"""The ground every other part stands on: layout, install files, CLI, lazy import, clean notebooks."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nbrun import NotebookError, run_notebook

REPO = Path(__file__).resolve().parents[1]


def test_top_level_layout():
    for name in ("lectures", "assignments", "solutions", "cnnkit", "tests", "environment.yml",
                 "README.md", "pyproject.toml", "nbgrader_config.py", "Makefile", ".ci/run"):
        assert (REPO / name).exists(), name


def test_nbgrader_config_points_at_solutions_and_assignments():
    text = (REPO / "nbgrader_config.py").read_text()
    assert re.search(r'source_directory\s*=\s*"solutions"', text)
    assert re.search(r'release_directory\s*=\s*"assignments"', text)


def test_environment_yml_in_step_with_pyproject():
    """Every dependency of pyproject (core and extras) is named in environment.yml."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = list(meta["dependencies"])
    for extra, items in meta["optional-dependencies"].items():
        deps += [d for d in items if not d.startswith("cnnkit")]
    env = (REPO / "environment.yml").read_text().lower()
    conda_names = {"torch": "pytorch"}
    for dep in deps:
        name = re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower()
        assert conda_names.get(name, name) in env, f"{name} is in pyproject.toml but not environment.yml"
    assert "python>=3.10" in env.replace(" ", "")


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci/run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^make test\s*$", ci, re.M)


def test_import_is_lazy():
    """`import cnnkit` loads none of the heavy libraries (what makes it fast; speed itself is not asserted)."""
    code = ("import sys; import cnnkit; "
            "print(sorted(m for m in ('torch','matplotlib','ipywidgets','sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", f"import cnnkit imported heavy modules: {out[0]}"


def test_lazy_submodule_access_and_unknown_name():
    import cnnkit

    assert cnnkit.config.data_root("/tmp/x") == Path("/tmp/x")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cnnkit.nope  # noqa: B018


def test_info_command(tmp_path):
    env = {"CNNKIT_DATA": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "info"], capture_output=True, text=True, env=env,
                          cwd=REPO, check=True)
    out = proc.stdout
    import numpy
    import torch

    import cnnkit

    assert re.search(rf"^cnnkit\s+{re.escape(cnnkit.__version__)}$", out, re.M)
    assert re.search(rf"^numpy\s+{re.escape(numpy.__version__)}$", out, re.M)
    assert re.search(rf"^torch\s+{re.escape(torch.__version__)}$", out, re.M)
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert re.search(rf"^device\s+{expected_device}", out, re.M)
    assert str(tmp_path / "cache") in out


def test_unknown_command_is_refused():
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "frobnicate"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "unknown command 'frobnicate'" in proc.stderr and "info" in proc.stderr


def test_run_size_switch(monkeypatch):
    from cnnkit.config import run_size

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("CNNKIT_SIZE", "full")
    assert run_size() == "full"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert run_size() == "small"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.setenv("CNNKIT_SIZE", "huge")
    with pytest.raises(ValueError, match="CNNKIT_SIZE.*'small', 'full'"):
        run_size()


def test_resolve_device_errors():
    from cnnkit.config import resolve_device

    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")
    assert resolve_device("cpu").type == "cpu"
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")


def committed_notebooks() -> list[Path]:
    """Notebooks git tracks, plus every notebook of the course folders (tracked or about to be)."""
    out = subprocess.run(["git", "ls-files", "*.ipynb"], capture_output=True, text=True, cwd=REPO).stdout.split()
    paths = {REPO / p for p in out}
    for folder in ("lectures", "solutions", "assignments"):
        paths.update((REPO / folder).glob("**/*.ipynb"))
    return sorted(paths)


def test_committed_notebooks_carry_no_outputs():
    dirty = []
    for path in committed_notebooks():
        if ".ipynb_checkpoints" in path.parts or not path.exists():
            continue
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(str(path.relative_to(REPO)))
                break
    assert not dirty, f"strip outputs from: {dirty}"


def test_notebook_runner_names_the_failing_cell(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom ' + str(x))")]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(NotebookError) as info:
        run_notebook(path, timeout=60)
    message = str(info.value)
    assert "cell 1 failed" in message and "raise ValueError" in message and "boom 1" in message


@pytest.mark.slow
def test_make_lab_serves_the_course(tmp_path):
    """The README's first command: JupyterLab answers on its port and lists the lectures."""
    import json
    import os
    import signal
    import socket
    import time
    import urllib.request

    if not (REPO / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("make lab needs the .venv that make test creates")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["make", "lab", f"PORT={port}", "LAB_ARGS=--IdentityProvider.token= --ServerApp.ip=127.0.0.1"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        listing = None
        while time.monotonic() < deadline and listing is None:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/lectures", timeout=5) as r:
                    listing = json.load(r)
            except OSError:
                time.sleep(1)
        assert listing is not None, "JupyterLab did not answer within 120 s"
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in (REPO / "lectures").glob("*.ipynb")} <= names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
