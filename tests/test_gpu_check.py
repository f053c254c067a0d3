"""What the GPU check relies on, tested without a GPU: synthetic data, the notebook runner, the benchmark."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnkit import config
from cnnkit.data import load, synthetic

REPO = Path(__file__).resolve().parents[1]


def _script(name: str):
    """Import benchmarks/NAME.py (benchmarks/ is a folder of scripts, not a package: a script imports
    its siblings from its own folder, first on sys.path when it runs)."""
    folder = str(REPO / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- synthetic data switch
@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("0", None), ("off", None), ("1", 0),
                                             ("true", 0), ("full", 0), (" 640 ", 640)])
def test_synthetic_switch_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(config.SYNTHETIC_ENV, raising=False)
    else:
        monkeypatch.setenv(config.SYNTHETIC_ENV, value)
    assert config.synthetic_data() == expected


@pytest.mark.parametrize("value", ["maybe", "-3", "1.5"])
def test_synthetic_switch_rejects_nonsense(monkeypatch, value):
    monkeypatch.setenv(config.SYNTHETIC_ENV, value)
    with pytest.raises(ValueError, match="CNNKIT_SYNTHETIC_DATA"):
        config.synthetic_data()


@pytest.mark.parametrize("name, shape, train, test, classes", [
    ("cifar10", (3, 32, 32), 100, 20, ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                       "ship", "truck"]),
    ("mnist", (1, 28, 28), 120, 20, [str(d) for d in range(10)]),
])
def test_load_returns_synthetic_sets_of_the_real_shapes_offline(monkeypatch, tmp_path, name, shape, train, test,
                                                                 classes):
    monkeypatch.setenv(config.SYNTHETIC_ENV, str(train))
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))  # empty: nothing to read, nothing may be downloaded
    with pytest.warns(UserWarning, match="synthetic stand-in"):
        bundle = load(name)
    (x, y), (xt, yt) = bundle.train, bundle.test
    assert x.shape == (train, *shape) and xt.shape == (test, *shape)
    assert x.dtype == xt.dtype == torch.float32 and y.dtype == yt.dtype == torch.int64
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.equal(torch.round(x * 255) / 255, x), "pixels should be bytes / 255, as the real files give"
    assert bundle.classes == classes and set(y.tolist()) == set(range(10))
    assert list(tmp_path.iterdir()) == [], "the synthetic set must not touch the cache folder"
    with pytest.warns(UserWarning):
        again = load(name, limit=7, size=16)
    assert again.train[0].shape == (7, shape[0], 16, 16)  # limit and size apply as to the real sets
    assert torch.equal(again.train[1], y[:7]), "seeded: the same labels on every call"


def test_synthetic_full_size_and_digits_untouched(monkeypatch):
    assert synthetic.split_sizes("cifar10", 0) == (50_000, 10_000)
    assert synthetic.split_sizes("mnist", 0) == (60_000, 10_000)
    assert synthetic.split_sizes("cifar10", 1280) == (1280, 256)
    monkeypatch.setenv(config.SYNTHETIC_ENV, "1")
    digits = load("digits")  # bundled with scikit-learn: never replaced
    assert digits.train[0].shape[1:] == (1, 8, 8) and len(digits.train[0]) + len(digits.test[0]) == 1797


def test_synthetic_classes_are_learnable():
    """The mean image of each class differs from the others' far more than noise does (a CNN can learn it)."""
    (x, y), _, _ = synthetic.make("cifar10", 2000)
    means = np.stack([x[y == k].mean(0) for k in range(10)])
    between = np.abs(means[:, None] - means[None]).mean((2, 3, 4))[~np.eye(10, dtype=bool)]
    within = np.abs(x[y == 0][:100] - x[y == 0][100:200]).mean()
    assert between.min() > 0.01 and within > between.max()  # distinct classes, yet not trivially separable


# ----------------------------------------------------------------------------- notebook runner
def _notebook(path: Path, cells: list[str]) -> Path:
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# title"]}] +
                   [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": src.splitlines(True)} for src in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


CELLS = [
    "%matplotlib inline\nimport os\nfiles = !ls\nx = 20\nif x:\n    %time y = 1\n",
    "%%bash\necho this cell is skipped\n",
    "import matplotlib.pyplot as plt\nfig = plt.figure()\ndisplay(fig, x)\nx + 22",
    "def half(v):\n    return v / 0\n\nhalf(x)",
    "print('after the failure', x)",
]


def test_run_notebook_runs_cells_and_names_the_failing_one(tmp_path, capsys):
    runner = _script("run_notebook")
    path = _notebook(tmp_path / "tiny.ipynb", CELLS)
    report = runner.run_notebook(path)
    status = [(c.index, c.status) for c in report.cells]
    assert status == [(1, "ok"), (2, "skipped"), (3, "ok"), (4, "failed"), (5, "skipped")]
    failed = report.failed[0]
    assert failed.error.startswith("ZeroDivisionError") and 'File "<cell 4>", line 2, in half' in failed.traceback
    assert "return v / 0" in failed.traceback, "the traceback should quote the cell's own line"
    out, err = capsys.readouterr()
    assert "42" in out and "20" in out, "display() and the last expression should print"
    assert "FAILED: cell 4" in err and "half(x)" in err
    assert "FAILED tiny.ipynb" in runner.summary_line(report)

    going = runner.run_notebook(path, keep_going=True)
    assert [c.status for c in going.cells][-1] == "ok"
    assert "after the failure 20" in capsys.readouterr().out


def test_run_notebook_command_line_exit_status_and_json(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", CELLS[:3])
    bad = _notebook(tmp_path / "bad.ipynb", CELLS)
    script = str(REPO / "benchmarks" / "run_notebook.py")
    env_run = lambda *args: subprocess.run([sys.executable, script, *map(str, args)], capture_output=True,  # noqa: E731
                                           text=True, timeout=120)
    ok = env_run(good, "--json", tmp_path / "good.json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "good.json").read_text())["ok"] is True
    failed = env_run(bad, "--keep-going", "--json", tmp_path / "bad.json")
    assert failed.returncode == 1 and "FAILED bad.ipynb" in failed.stdout
    assert json.loads((tmp_path / "bad.json").read_text())["failed_cells"] == [4]
    assert env_run(tmp_path / "missing.ipynb").returncode == 2
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert env_run(tmp_path / "broken.ipynb").returncode == 2


def test_run_notebook_cell_timeout(tmp_path):
    runner = _script("run_notebook")
    path = _notebook(tmp_path / "slow.ipynb", ["import time\ntime.sleep(5)", "done = True"])
    report = runner.run_notebook(path, keep_going=True, cell_timeout=0.3)
    assert report.cells[0].status == "failed" and "CellTimeout" in report.cells[0].error
    assert report.cells[1].status == "ok"

    path = _notebook(tmp_path / "slow2.ipynb", ["import time\ntime.sleep(0.1)", "time.sleep(5)", "done = True"])
    report = runner.run_notebook(path, keep_going=True, time_limit_s=0.5)  # the whole notebook's limit
    assert [c.status for c in report.cells] == ["ok", "failed", "skipped"]
    assert "CellTimeout" in report.cells[1].error and "time-limit" in report.cells[2].error


# ----------------------------------------------------------------------------- benchmark
def test_benchmark_settings_parse():
    bench = _script("gpu_check")
    s = bench.Setting.parse("bf16_cl_compile")
    assert (s.amp, s.channels_last, s.compile, s.cudnn_benchmark) == (True, True, True, False)
    assert bench.Setting.parse("fp32").amp is False
    with pytest.raises(ValueError, match="fp32|bf16"):
        bench.Setting.parse("fp16_cl")


@pytest.mark.slow
def test_benchmark_on_the_cpu_writes_json_markdown_and_profile(tmp_path):
    bench = _script("gpu_check")
    torch.set_num_threads(1)
    rc = bench.main(["--device", "cpu", "--images", "128", "--test-images", "32", "--batch-size", "64",
                     "--epochs", "1", "--settings", "fp32,fp32_compile", "--budget", "60", "--profile-steps", "1",
                     "--out", str(tmp_path)])
    assert rc == 0
    report = json.loads((tmp_path / bench.JSON_NAME).read_text())
    assert set(report) >= {"meta", "config", "results", "extras", "profile", "elapsed_s"}
    assert {"torch", "cuda", "device", "device_name"} <= set(report["meta"])
    assert report["config"]["batch_size"] == 64 and report["config"]["images"] == 128
    fp32, compiled = report["results"]
    assert fp32["status"] == "ok", fp32
    assert {"epoch_s", "images_per_s", "eval_s", "first_epoch_s", "peak_mib"} <= set(fp32["fit"])
    assert {"epoch_s", "images_per_s"} <= set(fp32["plain"]) and fp32["fit_over_plain"] > 0
    assert compiled["status"] == "skipped" and "budget" in compiled["note"]  # a guessed compile does not fit in 60 s
    assert report["profile"]["status"] == "ok"
    assert "aten::" in (tmp_path / bench.PROFILE_NAME).read_text()
    table = (tmp_path / bench.MD_NAME).read_text()
    assert "| fp32 |" in table and "fit / plain" in table
