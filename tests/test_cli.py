"""The command line answers bad input with one line on stderr and exit status 2, never a traceback.

Every subcommand of ``python -m cnnkit`` (info, summary, rf, train, lab) is run in a fresh process with
bad values; each answer must name the argument and what it allows.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: (arguments, what the line must name: the argument, then what is allowed).
BAD_INPUT = [
    (["frobnicate"], ["unknown command 'frobnicate'", "info, summary, rf, train"]),
    (["info", "--verbose"], ["unrecognized arguments: --verbose", "--help"]),
    (["summary"], ["argument model", "lenet5", "resnet20"]),
    (["summary", "nope"], ["argument model", "unknown model name='nope'", "Known: lenet5"]),
    (["summary", "lenet5", "--input", "3by32"], ["argument --input", "'3x224x224'"]),
    (["summary", "lenet5", "--input", "0x32x32"], ["argument --input", "positive ints"]),
    (["summary", "lenet5", "--num-classes", "0"], ["argument --num-classes", "a positive int"]),
    (["summary", "lenet5", "--num-classes", "ten"], ["argument --num-classes", "an int, got 'ten'"]),
    (["summary", "lenet5", "--device", "cuda"], ["argument --device", "'cpu', 'meta'"]),
    (["summary", "alexnet", "--input", "3x32x32", "--device", "meta"], ["features.", "input size (3, 32, 32)"]),
    (["rf", "resnet20", "--depth", "0"], ["argument --depth", "a positive int"]),
    (["rf", "resnet20", "--depth", "deep"], ["argument --depth", "an int, got 'deep'"]),
    (["rf", "resnet21"], ["argument model", "Did you mean", "resnet20"]),
    (["train", "--model", "nope"], ["argument --model", "unknown model name='nope'", "Known: lenet5"]),
    (["train", "--epochs", "-1"], ["argument --epochs", "a positive int"]),
    (["train", "--compile", "fast"], ["argument --compile", "reduce-overhead"]),
    (["train", "--epochs", "two"], ["argument --epochs", "a positive int"]),
    (["train", "--lr", "0"], ["argument --lr", "a number > 0"]),
    (["train", "--lr", "nan"], ["argument --lr", "a number > 0"]),
    (["train", "--batch-size", "0"], ["argument --batch-size", "a positive int"]),
    (["train", "--weight-decay", "-1"], ["argument --weight-decay", "a number >= 0"]),
    (["train", "--size", "0"], ["argument --size", "a positive int"]),
    (["train", "--limit", "-3"], ["argument --limit", "a positive int"]),
    (["train", "--seed", "1.5"], ["argument --seed", "an int"]),
    (["train", "--data", "imagenet"], ["argument --data", "'cifar10', 'digits', 'mnist'"]),
    (["train", "--optimizer", "rmsprop"], ["argument --optimizer", "'sgd', 'adam', 'adamw'"]),
    (["train", "--schedule", "step"], ["argument --schedule", "'onecycle', 'cosine', 'constant'"]),
    (["train", "--augment", "rotate"], ["argument --augment", "'none', 'crop', 'crop_flip'"]),
    (["train", "--amp", "maybe"], ["argument --amp", "auto, on or off"]),
    (["train", "--device", "tpu"], ["argument --device", "'auto', 'cuda', 'mps', 'cpu'"]),
    (["train", "--resume"], ["argument --resume", "--checkpoint PATH"]),
    (["lab", "--course", "/nonexistent/course"], ["argument --course", "holds no lectures/ folder"]),
    (["lab", "--port", "0"], ["argument --port", "a port number 1..65535"]),
    (["lab", "--port", "web"], ["argument --port", "invalid int value: 'web'"]),
]


@pytest.mark.parametrize("args, named", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_status_2(args, named):
    env = {**os.environ, "CNNKIT_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "cnnkit", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err and proc.stdout == "", err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("python -m cnnkit"), err
    for text in named:
        assert text in err, (text, err)


def test_a_failed_run_is_one_line_and_status_1(tmp_path):
    """Not bad input but a run that cannot finish (a checkpoint under a file, not a folder): one line, status 1."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "cnnkit", "train", "--epochs", "1", "--limit", "40",
                           "--no-progress", "--checkpoint", str(blocker / "run.pt")],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(blocker) in proc.stderr
