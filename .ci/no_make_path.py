#!/usr/bin/env python3
"""CI: the course's door without make, on a PATH that has no make, in fresh virtual environments.

student  a venv with ``pip install -e ".[student]"`` (no PyTorch): ``cnnkit lab`` serves the lecture
         tree (checked over HTTP), lectures 01-04 and a1's solution execute, a torch command says in one
         line what to install, and ``nbgrader validate`` passes a1 (after adding the grading extra).
colab    a venv with only what Colab preinstalls (torch==2.13.0, numpy, matplotlib, ipywidgets, ...),
         no cnnkit: a copy of lecture 05 with the cells of tools/colab_cells.py, alone in a folder,
         executed top to bottom at the small size, its first cell installing the kit from a wheel
         built from this checkout (CNNKIT_INSTALL_SPEC).

Prints the install time and size of each environment. Standard library only; run it with the
Python the course needs (3.10+): ``python3 .ci/no_make_path.py [--part student|colab|all]``.
pip's cache is reused; the environments live in a temporary folder (``--work`` to keep them).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # pinned first: a bare torch requirement resolves to a multi-GB CUDA build
#: What Colab preinstalls that the notebooks use (plus ipykernel and nbclient to run a notebook here).
COLAB_PACKAGES = ["numpy", "matplotlib", "ipywidgets", "ipykernel", "scikit-learn", "tqdm", "nbclient"]
#: The numpy lectures the student install runs top to bottom, and how many PyTorch parts each skips in one line.
NUMPY_LECTURES = {"01_motivations": 1, "02_convolutional_layer": 3, "03_pooling": 0, "03b_explorers": 0,
                  "04_normalization_and_the_full_system": 3}


def say(message: str) -> None:
    print(f"== {message}", flush=True)


class Door:
    """One run: a work folder, a PATH without make, and the commands run on it."""

    def __init__(self, work: Path) -> None:
        self.work = work
        tools = work / "bin"
        tools.mkdir(parents=True, exist_ok=True)
        python = tools / "python3"
        if not python.exists():
            python.symlink_to(sys.executable)
        self.path = str(tools)  # nothing but python3: no make, no compiler, no git
        assert shutil.which("make", path=self.path) is None

    def env(self, venv: Path | None = None, **extra: str) -> dict[str, str]:
        """The environment of a shell with ``venv`` activated and no make on PATH."""
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env["PATH"] = os.pathsep.join([str(venv / "bin"), self.path] if venv else [self.path])
        if venv:
            env["VIRTUAL_ENV"] = str(venv)
        env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
        return env

    def run(self, args: list[str], venv: Path | None = None, cwd: Path = REPO, check: bool = True,
            **extra: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, cwd=cwd, env=self.env(venv, **extra), capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise SystemExit(f"FAILED ({proc.returncode}): {' '.join(args)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def venv(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        self.run(["python3", "-m", "venv", str(path)])
        return path

    def pip(self, venv: Path, *args: str) -> float:
        """Seconds ``pip install args`` took."""
        start = time.perf_counter()
        self.run(["python", "-m", "pip", "install", "--quiet", *args], venv=venv)
        return time.perf_counter() - start


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except OSError:
        return 0, b""


def check_lab(door: Door, venv: Path) -> None:
    """``cnnkit lab`` started from lectures/ finds the course and serves the lecture tree."""
    port = free_port()
    log = (door.work / "lab.log").open("w")
    proc = subprocess.Popen(["cnnkit", "lab", "--port", str(port), "--ServerApp.token=", "--ServerApp.password="],
                            cwd=REPO / "lectures", env=door.env(venv), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            status, _ = get(f"http://127.0.0.1:{port}/lab/tree/lectures")
            if status == 200:
                break
            time.sleep(1)
        if status != 200:
            raise SystemExit(f"FAILED: cnnkit lab did not serve /lab/tree/lectures:\n{(door.work / 'lab.log').read_text()[-3000:]}")
        status, body = get(f"http://127.0.0.1:{port}/api/contents/lectures")
        names = {item["name"] for item in json.loads(body)["content"]} if status == 200 else set()
        assert "01_motivations.ipynb" in names, f"the lecture tree lists {sorted(names)}"
        say(f"cnnkit lab served the lecture tree ({len(names)} entries) on port {port}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def execute(door: Door, venv: Path, notebook: Path, cwd: Path, **extra: str) -> dict:
    """Run ``notebook`` top to bottom with ``venv``'s kernel; return the executed notebook."""
    out = door.work / "executed" / notebook.name
    out.parent.mkdir(exist_ok=True)
    code = ("import sys, nbformat, nbclient\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': sys.argv[3]}}).execute()\n"
            "nbformat.write(nb, sys.argv[2])\n")
    start = time.perf_counter()
    door.run(["python", "-c", code, str(notebook), str(out), str(cwd)], venv=venv, cwd=cwd, CNNKIT_SIZE="small", **extra)
    say(f"{notebook.name} executed top to bottom in {time.perf_counter() - start:.0f} s")
    return json.loads(out.read_text())


def student(door: Door) -> None:
    say("student: a fresh venv, pip install -e '.[student]' (no PyTorch), no make on PATH")
    venv = door.venv("student")
    seconds = door.pip(venv, "-e", f"{REPO}[student]")
    say(f"student install: {seconds:.0f} s, {size_mb(venv):.0f} MB")
    torch = door.run(["python", "-c", "import torch"], venv=venv, check=False)
    assert torch.returncode != 0, "the student install must not bring PyTorch"
    train = door.run(["cnnkit", "train", "--epochs", "1"], venv=venv, check=False)
    assert train.returncode == 1 and len(train.stderr.strip().splitlines()) == 1, train.stderr
    assert "needs PyTorch" in train.stderr and "Traceback" not in train.stderr, train.stderr
    say(f"a torch command says: {train.stderr.strip()}")
    check_lab(door, venv)
    for name, torch_parts in NUMPY_LECTURES.items():
        lecture = execute(door, venv, REPO / "lectures" / f"{name}.ipynb", REPO / "lectures")
        text = "".join("".join(o.get("text", "")) for c in lecture["cells"] for o in c.get("outputs", []))
        skipped = [line for line in text.splitlines() if "needs PyTorch" in line]
        assert len(skipped) == torch_parts and "Traceback" not in text, (
            f"{name}: each of its {torch_parts} PyTorch parts should say in one line that it was skipped: {skipped}")
    execute(door, venv, REPO / "solutions" / "a1_convolution" / "a1_convolution.ipynb", REPO / "solutions" / "a1_convolution")
    door.pip(venv, "-e", f"{REPO}[student,grading]")
    copy = door.work / "validate" / "a1_convolution.ipynb"
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(REPO / "solutions" / "a1_convolution" / "a1_convolution.ipynb", copy)
    proc = door.run(["nbgrader", "validate", str(copy)], venv=venv, cwd=copy.parent, CNNKIT_SIZE="small")
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout[-2000:]
    say("nbgrader validate: a1 passes")


def colab(door: Door) -> None:
    say(f"colab: a fresh venv with Colab's packages ({TORCH}, {', '.join(COLAB_PACKAGES)}), no cnnkit")
    venv = door.venv("colab")
    seconds = door.pip(venv, TORCH) + door.pip(venv, *COLAB_PACKAGES)
    say(f"Colab-like environment: {seconds:.0f} s, {size_mb(venv):.0f} MB")
    wheels = door.work / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    door.run(["python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)], venv=venv)
    wheel = next(wheels.glob("cnnkit-*.whl"))
    sys.path.insert(0, str(REPO / "tools"))
    import colab_cells

    folder = door.work / "colab-session"  # a Colab session: the notebook alone, no course around it
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    source = next((REPO / "lectures").glob("05_*.ipynb"))
    relative = source.relative_to(REPO).as_posix()
    notebook = colab_cells.with_colab_cells(json.loads(source.read_text()), relative,
                                            colab_cells._course.COURSE_REPOSITORY, colab_cells._course.COURSE_BRANCH)
    copy = folder / source.name
    copy.write_text(colab_cells.dumps(notebook))
    before = door.run(["python", "-c", "import torch; print(torch.__version__)"], venv=venv).stdout.strip()
    ran = execute(door, venv, copy, folder, CNNKIT_INSTALL_SPEC=str(wheel))
    install = next(c for c in ran["cells"] if c["id"] == colab_cells.INSTALL_ID)
    printed = "".join("".join(o.get("text", "")) for o in install["outputs"])
    assert f"installing the course kit: pip install {wheel}" in printed, printed
    after = door.run(["python", "-c", "import cnnkit, torch; print(torch.__version__)"], venv=venv).stdout.strip()
    assert after == before, f"installing the kit changed torch from {before} to {after}"
    say(f"the install cell installed cnnkit from {wheel.name}; torch stayed {after}")
    # cnnkit importable now: the same two cells again are a no-op (pip is not run: nothing is printed)
    first = folder / "colab_cells_again.ipynb"
    first.write_text(colab_cells.dumps({**notebook, "cells": [c for c in notebook["cells"] if colab_cells._ours(c)]}))
    again = execute(door, venv, first, folder)
    install = next(c for c in again["cells"] if c["id"] == colab_cells.INSTALL_ID)
    assert install["outputs"] == [], install["outputs"]
    say("run again with cnnkit installed: the install cell printed nothing and installed nothing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["student", "colab", "all"], default="all")
    parser.add_argument("--work", type=Path, help="keep the environments here (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="cnnkit-door-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        door = Door(work.resolve())
        if args.part in ("student", "all"):
            student(door)
        if args.part in ("colab", "all"):
            colab(door)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    say("the course opens without make")
    return 0


if __name__ == "__main__":
    sys.exit(main())
