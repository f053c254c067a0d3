"""The explorers in a real browser: JupyterLab + headless Chromium (Debian's), driven by Playwright.

Starts ``jupyter lab`` on a free port in a temporary root holding a copy of
``lectures/03b_explorers.ipynb``, opens it, runs every cell, focuses the conv explorer's first
slider (input size), presses ArrowRight and checks that the output size shown changes
(7 -> 8 with K = 3: 5 x 5 -> 6 x 6). A screenshot lands in ``test-artifacts/``.
The server (and its kernels) is always torn down, and every wait has a deadline.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, chromium_path

NOTEBOOK = REPO / "lectures" / "03b_explorers.ipynb"
ARTIFACTS = REPO / "test-artifacts"
SERVER_START_S = 120
RENDER_S = 120  # kernel start, imports and every explorer's first draw, on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and the kernels it started (its own process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


#: Server extensions this test does not need: skipping them saves seconds of start-up on a busy machine.
UNUSED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list",
    "jupyter_lsp", "jupyter_server_terminals", "notebook",
)


def _quiet_config(config_dir: Path) -> None:
    """A private Jupyter config: no unused server extensions, no nbgrader panel, no news pop-up."""
    (config_dir / "labconfig").mkdir(parents=True)
    server = {"ServerApp": {"jpserver_extensions": {name: False for name in UNUSED_SERVER_EXTENSIONS}}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server))
    page = {"disabledExtensions": {"@jupyter/nbgrader": True, "@jupyterlab/apputils-extension:announcements": True}}
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(page))


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port whose root holds the explorers notebook; yields its URL."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env.update({
        "CNNKIT_SIZE": "small", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        # keep the user's Jupyter settings and workspaces out, and ours out of theirs
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "IPYTHONDIR": str(tmp_path / "ipython"),
    })
    _quiet_config(tmp_path / "config")
    port = _free_port()
    log = tmp_path / "jupyter.log"
    command = [str(bin_dir / "jupyter-lab"), "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", "--ServerApp.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root"]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        _wait_for_server(url, proc, log)
        _log(started, "jupyter lab answers")
        yield url
    finally:
        stopping = time.monotonic()
        _stop(proc)
        _log(stopping, "server stopped")


def _log(start: float, what: str) -> None:
    print(f"[browser test] {time.monotonic() - start:5.1f} s  {what}")


def _run_all_cells(page) -> None:
    """Run > Run All Cells from JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


@pytest.mark.browser
@pytest.mark.slow
def test_conv_explorer_slider_in_jupyterlab(lab):
    from playwright.sync_api import expect, sync_playwright

    start = time.monotonic()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(RENDER_S * 1000)
            page.goto(f"{lab}/lab/tree/{NOTEBOOK.name}")
            _log(start, "page loaded")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            # run only once the kernel is up, or the run request can be lost while it starts
            page.get_by_text("| Idle").first.wait_for()
            page.locator(".jp-Notebook").first.click()  # focus the notebook so its menu commands apply
            _run_all_cells(page)
            _log(start, "cells queued")

            size = page.locator(".cnnkit-conv-explorer .cnnkit-output-size").first
            try:
                expect(size).to_have_text("5 x 5", timeout=RENDER_S * 1000)
                _log(start, "conv explorer drawn")
                handle = page.locator(".cnnkit-conv-explorer .widget-slider .noUi-handle").first
                handle.focus()
                page.keyboard.press("ArrowRight")  # input size 7 -> 8
                expect(page.locator(".cnnkit-conv-explorer .widget-readout").first).to_have_text("8")
                # the kernel answers after the cells queued before the key press
                expect(size).to_have_text("6 x 6", timeout=RENDER_S * 1000)
                _log(start, "output size changed")
                size.scroll_into_view_if_needed()
            finally:
                page.screenshot(path=str(ARTIFACTS / "browser_conv_explorer.png"), full_page=False)
        finally:
            browser.close()
    _log(start, "browser closed")
