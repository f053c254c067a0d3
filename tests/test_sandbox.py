"""The grading sandbox and the trusted verdicts, piece by piece (the whole attack suite is test_grading_attacks).

* the value channel between the student's kernel and the grader: what comes back is data
  (rebuilt without unpickling), never an object (the hostile cases are in test_grading_boundary);
* a kernel started through the sandbox's kernel provisioner: what it can see, reach and use;
* the command line: it refuses to run student code where there is no sandbox unless told
  ``--unsandboxed``, and then every report row says so; bad sandbox settings are one-line errors.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnkit.grading import sandbox, wire
from cnnkit.grading import report as rp
from cnnkit.grading.policy import sandbox_policy

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
needs_bwrap = pytest.mark.skipif(not sandbox.available(), reason=f"no usable sandbox: {sandbox.unavailable_reason()}")


# ------------------------------------------------------------------------------ the value channel
def _round_trip(value, tmp_path: Path):
    """What the grader's runner gets back when a student's function returns ``value``."""
    encoder = wire.Encoder()
    prefix = tmp_path / "ans-1"
    wire.write_answer(str(prefix), {"value": encoder.encode(value)}, encoder.arrays)
    data = wire.read_answer(prefix)
    return wire.Decoder(prefix, wire.Budget(1 << 30)).decode(data["value"])


def test_data_comes_back_by_value(tmp_path):
    value = {"a": np.arange(6.0).reshape(2, 3), "b": [1, 2.5, "x", None, True], "c": (np.int64(3), 2**80),
             "d": np.array([1 + 2j]), "e": np.zeros((0, 3), dtype=np.float32)}
    back = _round_trip(value, tmp_path)
    assert set(back) == set(value)
    np.testing.assert_array_equal(back["a"], value["a"])
    assert back["b"] == value["b"] and back["c"][1] == 2**80 and back["c"][0] == 3
    assert back["e"].shape == (0, 3) and back["e"].dtype == np.float32


def test_tensors_come_back_as_tensors(tmp_path):
    import torch

    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_()
    back = _round_trip({"t": t, "b": t.detach().to(torch.bfloat16)}, tmp_path)
    assert isinstance(back["t"], torch.Tensor) and back["t"].requires_grad and back["t"].dtype == torch.float32
    assert back["b"].dtype == torch.bfloat16
    torch.testing.assert_close(back["t"].detach(), t.detach())


def test_objects_are_not_data(tmp_path):
    """A function, a module, a generator of objects: the kernel can only say 'not data'."""
    for value in (len, np, object(), [lambda: 1], {"k": np.array([object()])}):
        with pytest.raises(wire.NotData):
            wire.Encoder().encode(value)


def test_exceptions_keep_their_builtin_type_only():
    assert isinstance(wire.exception_from({"type": "ValueError", "message": "m"}), ValueError)
    forged = wire.exception_from({"type": "os.system", "message": "m"})
    assert isinstance(forged, wire.RemoteError) and not isinstance(forged, (ValueError, TypeError))
    from cnnkit.integrity import IntegrityError

    assert isinstance(wire.exception_from({"type": "IntegrityError", "message": ""}), IntegrityError)


# ------------------------------------------------------------------------------ the sandbox itself
PROBE = r'''
import json, os, socket
seen = {}
seen["cwd"] = os.getcwd()
seen["root"] = sorted(os.listdir("/"))
seen["pids"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
seen["env"] = sorted(os.environ)
seen["pid1"] = open("/proc/1/cmdline", "rb").read().decode(errors="replace")
try:
    seen["pid1 env"] = open("/proc/1/environ", "rb").read().decode(errors="replace")
except OSError as exc:
    seen["pid1 env"] = ""
seen["fds"] = []
for fd in os.listdir("/proc/self/fd"):
    try:
        seen["fds"].append(os.readlink("/proc/self/fd/" + fd))
    except OSError:
        pass
seen["handed in"] = open("handed_in.txt").read()
for path in [REPO + "/solutions", REPO + "/README.md", os.path.expanduser("~root/.bashrc"), SECRET]:
    seen["exists " + path] = os.path.exists(path)
try:
    open("handed_in.txt", "a").write("x")
    seen["write handed-in file"] = "ok"
except OSError as exc:
    seen["write handed-in file"] = exc.strerror
open("scratch.txt", "w").write("mine")
seen["write new file"] = "ok"
s = socket.socket(); s.settimeout(3)
try:
    s.connect(("127.0.0.1", PORT)); seen["net"] = "connected"
except OSError as exc:
    seen["net"] = type(exc).__name__
try:
    import torch; seen["torch"] = "imported"
except ImportError as exc:
    seen["torch"] = str(exc)
try:
    bytearray(6 * 2**30); seen["6 GiB"] = "allocated"
except MemoryError:
    seen["6 GiB"] = "MemoryError"
written = 0
try:
    with open("/dev/shm/fill", "wb") as fh:
        for _ in range(64):
            fh.write(b"x" * 2**20); fh.flush(); written += 2**20
except OSError:
    pass
seen["shm"] = written
print("PROBE" + json.dumps(seen))
'''


@needs_bwrap
@pytest.mark.slow
def test_a_sandboxed_kernel_sees_only_its_own_folder(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("CNNKIT_TEST_CANARY", "instructor secret")
    from jupyter_client.manager import AsyncKernelManager

    from cnnkit.grading.policy import Limits
    from cnnkit.grading.provisioner import sandboxed_kernel_spec_manager
    from cnnkit.grading.sandbox import SandboxSpec

    import tempfile

    work, channel = tmp_path / "work", Path(tempfile.mkdtemp(prefix="cnnkit-test-")) / "c"  # as the grader does
    work.mkdir()
    (work / "handed_in.txt").write_text("original")
    secret = tmp_path / "secret.txt"
    secret.write_text("instructor only")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = PROBE.replace("REPO", repr(str(REPO))).replace("SECRET", repr(str(secret))).replace("PORT", str(port))

    async def run() -> str:
        spec = SandboxSpec(submission=work, channel_dir=channel, private_dir=tmp_path / "private",
                           hidden_modules=("torch",), limits=Limits(memory_bytes=2 << 30, scratch_bytes=32 << 20))
        spec.private_dir.mkdir(parents=True)
        (spec.private_dir / "spec.json").write_text(spec.to_json())
        channel.mkdir(parents=True, exist_ok=True)
        km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(channel / "kernel"),
                                connection_file=str(channel / "kernel.json"),
                                kernel_spec_manager=sandboxed_kernel_spec_manager(spec.private_dir / "spec.json",
                                                                                  tmp_path / "events.jsonl"))
        await km.start_kernel(cwd=str(work))
        client = km.client()
        client.start_channels()
        out = []
        try:
            await client.wait_for_ready(timeout=60)
            await client.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
                m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
        finally:
            client.stop_channels()
            await km.shutdown_kernel(now=True)
        return "".join(out)

    text = asyncio.run(run())
    seen = json.loads(text.split("PROBE", 1)[1])
    assert seen["cwd"] == "/submission" and seen["handed in"] == "original"
    assert str(tmp_path) not in seen["pid1"] and "instructor secret" not in seen["pid1 env"], seen["pid1"]
    assert not any("bwrap.args" in target or "private" in target for target in seen["fds"]), seen["fds"]
    assert not any(value for key, value in seen.items() if key.startswith("exists ")), seen
    assert len(seen["pids"]) <= 3, seen["pids"]  # its own PID namespace: bwrap's reaper and the kernel
    assert "CNNKIT_TEST_CANARY" not in seen["env"] and "HOSTNAME" not in seen["env"], seen["env"]
    assert seen["write handed-in file"] != "ok" and (work / "handed_in.txt").read_text() == "original"
    assert seen["write new file"] == "ok" and not (work / "scratch.txt").exists()  # a private layer
    assert seen["net"] != "connected"
    with pytest.raises(socket.timeout):
        server.accept()
    assert "not available" in seen["torch"]
    assert seen["6 GiB"] == "MemoryError"
    assert seen["shm"] <= 32 << 20  # /dev/shm is a bounded tmpfs of its own


# ------------------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    from cnnkit.grading import synthetic

    course = synthetic.make_course(tmp_path_factory.mktemp("course") / "c")
    synthetic.add_students(course, {"a01": "full marks", "a02": "mul wrong"})
    return course


def _grade(course: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=path or f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "cnnkit", "grade", "ps1", "--course", str(course), *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_without_a_sandbox_grading_refuses_to_run_student_code(tiny_course):
    before = sorted(p.name for p in tiny_course.iterdir())
    done = _grade(tiny_course, path=str(BIN))  # a PATH without bwrap
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bubblewrap" in lines[0] and "--unsandboxed" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tiny_course.iterdir()) == before  # nothing graded, nothing written


@pytest.mark.slow
def test_unsandboxed_grading_says_so_on_every_row(tiny_course):
    done = _grade(tiny_course, "--unsandboxed", "--force", path=str(BIN))
    assert done.returncode == 0, done.stderr
    reports = {r.student: r for r in rp.read_csv(tiny_course / "grading_report_ps1.csv")}
    assert {r.sandbox for r in reports.values()} == {rp.UNSANDBOXED}
    assert all("UNSANDBOXED" in r.detail for r in reports.values())
    assert reports["a01"].score == 5 and reports["a02"].score == 2  # verdicts still decided by the grader


def test_bad_sandbox_settings_are_one_line_errors(tiny_course, tmp_path):
    import shutil

    course = Path(shutil.copytree(tiny_course, tmp_path / "c"))
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.CnnkitGrader.hidden_modules = {'ps1': 'torch'}\n")
    done = _grade(course)
    assert done.returncode == 2 and "c.CnnkitGrader.hidden_modules" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_policy_defaults_and_validation():
    from traitlets.config import Config

    cfg = Config()
    assert sandbox_policy(cfg, "a1").hidden_modules == ()
    cfg.CnnkitGrader.hidden_modules = {"a1": ["torch"]}
    cfg.CnnkitGrader.memory_mb = 2048
    cfg.CnnkitGrader.answer_mb = 16
    policy = sandbox_policy(cfg, "a1")
    assert policy.hidden_modules == ("torch",) and policy.limits.memory_bytes == 2048 << 20
    assert policy.limits.answer_bytes == 16 << 20 and policy.limits.processes == 256  # the default, written once
    cfg.CnnkitGrader.max_processes = 0
    with pytest.raises(ValueError, match="max_processes"):
        sandbox_policy(cfg, "a1")


@pytest.mark.parametrize("name", ["cnnkit.ops.convv", "cnnkit.ops.conv.conv2d_backwards", "no_such_module"])
def test_a_hidden_module_that_resolves_to_nothing_is_an_error(name):
    from traitlets.config import Config

    cfg = Config()
    cfg.CnnkitGrader.hidden_modules = {"a1": ["torch", name]}
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        sandbox_policy(cfg, "a1")


def test_declared_names_are_checked():
    from cnnkit.grading.policy import declared_names

    names = declared_names({"cnnkit": {"graded": {"functions": ["train"], "values": ["losses"],
                                                  "updates": {"train": [0]}}}})
    assert names.functions == ("train",) and names.updates == {"train": [0]}
    for bad in ({}, {"cnnkit": {"graded": {"functions": ["not a name"]}}},
                {"cnnkit": {"graded": {"functions": ["f"], "updates": {"g": [0]}}}},
                {"cnnkit": {"graded": {"function": ["f"]}}}):
        with pytest.raises(ValueError, match="graded"):
            declared_names(bad)


def test_every_assignment_declares_its_students_names():
    """Each source notebook says which names its tests may take from the kernel, and they are defined there."""
    import nbformat

    from cnnkit.grading.policy import declared_names

    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        names = declared_names(nb.metadata, where=path.name)
        solution = "\n".join(c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
        for name in names.functions + names.factories:
            assert f"def {name}(" in solution or f"class {name}(" in solution, (path.name, name)


def test_the_courses_own_policy_hides_the_reference_from_numpy_assignments():
    from cnnkit.grading.nbgrader_glue import load_config

    cfg = load_config(REPO)
    for name in ("a1_convolution", "a2_pooling_normalization"):
        hidden = sandbox_policy(cfg, name).hidden_modules
        assert {"cnnkit.ops.conv", "cnnkit.ops.pool", "torch", "scipy.signal"} <= set(hidden), name
    assert "cnnkit.models" in sandbox_policy(cfg, "a4_resnet_gpu").hidden_modules


def test_a_hidden_function_leaves_the_rest_of_its_module_working():
    """a3 may use the kit's conv2d forward but not its backward: the sandbox shows conv.py without it."""
    import cnnkit.ops.conv as conv

    source = sandbox.without_functions(Path(conv.__file__).read_text(), ["conv2d_backward"])
    namespace = {"__name__": "cnnkit.ops.conv", "__package__": "cnnkit.ops"}
    exec(compile(source, conv.__file__, "exec"), namespace)  # noqa: S102
    x, w = np.random.default_rng(0).normal(size=(2, 3, 6, 6)), np.ones((4, 3, 3, 3))
    np.testing.assert_array_equal(namespace["conv2d"](x, w), conv.conv2d(x, w))
    with pytest.raises(ImportError, match="conv2d_backward is not available"):
        namespace["conv2d_backward"](np.ones((2, 4, 4, 4)), x, w)
    import ast

    hidden = next(node for node in ast.parse(source).body
                  if isinstance(node, ast.FunctionDef) and node.name == "conv2d_backward")
    assert len(hidden.body) == 1 and isinstance(hidden.body[0], ast.Raise)  # none of its code is shown


@pytest.mark.parametrize("case", ["not a course", "never generated", "unknown student"])
def test_bad_input_is_one_line_and_writes_nothing(case, tiny_course, tmp_path):
    if case == "not a course":
        folder = tmp_path / "photos"
        folder.mkdir()
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        done = subprocess.run([sys.executable, "-m", "cnnkit", "grade", "ps1", "--course", str(folder)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert list(folder.iterdir()) == []  # no gradebook.db, no .cnnkit-grade/ left in a random folder
        expected = "not an nbgrader course"
    elif case == "never generated":
        done = subprocess.run([sys.executable, "-m", "cnnkit", "grade", "ps9", "--course", str(tiny_course)],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"))
        assert not (tiny_course / ".cnnkit-grade" / "ps9").exists()
        expected = "nbgrader generate_assignment ps9"
    else:
        done = _grade(tiny_course, "--student", "a01", "nobody")
        expected = "no student 'nobody'"
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and expected in done.stderr and "Traceback" not in done.stderr
