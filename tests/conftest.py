"""Shared test machinery: the `gpu` and `browser` markers skip cleanly where absent."""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def chromium_path() -> str | None:
    """Debian's chromium (what CI installs), or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    gpu_reason = None if _has_cuda() else "needs a CUDA GPU; none is visible to torch"
    browser_reason = None
    if chromium_path() is None:
        browser_reason = "needs Debian's chromium (apt-get install chromium); .ci/run installs it"
    elif importlib.util.find_spec("playwright") is None:
        browser_reason = "needs the playwright package (pip install -e '.[dev]')"
    for item in items:
        if gpu_reason and "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=gpu_reason))
        if browser_reason and "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=browser_reason))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _small_runs(monkeypatch):
    """Everything in the test suite runs at the CPU size."""
    monkeypatch.setenv("CNNKIT_SIZE", os.environ.get("CNNKIT_TEST_SIZE", "small"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
