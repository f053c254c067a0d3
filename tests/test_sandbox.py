"""The grading sandbox and the trusted verdicts, piece by piece (the whole attack suite is test_grading_attacks).

* the value channel between the student's kernel and the grader: what comes back is data
  (rebuilt without unpickling) or an inert handle that cannot claim to equal anything;
* a kernel started by :class:`SandboxKernelManager`: what it can see, reach and use;
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

from cnnkit.grading import agent, remote, sandbox
from cnnkit.grading import report as rp
from cnnkit.grading.policy import sandbox_policy

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
needs_bwrap = pytest.mark.skipif(not sandbox.available(), reason=f"no usable sandbox: {sandbox.unavailable_reason()}")


# ------------------------------------------------------------------------------ the value channel
class _FakeSession:
    """Stands in for a kernel session: decoding needs one only to make handles."""


def _round_trip(value, tmp_path: Path):
    """Encode as the student's kernel does, write the files, decode as the grader does."""
    encoder = agent._Encoder()
    data = encoder.encode(value)
    prefix = tmp_path / "ans"
    for index, array in enumerate(encoder.arrays):
        np.save(f"{prefix}-{index}.npy", array, allow_pickle=False)
    data = json.loads(json.dumps(data))
    return remote._Decoder(_FakeSession(), prefix, [remote.MAX_ANSWER_BYTES]).decode(data)


def test_data_comes_back_by_value(tmp_path):
    value = {"w": np.arange(6.0).reshape(2, 3), "n": 3, "x": 0.1, "big": 2**70, "name": "conv",
             ("plain", 8): [1.5, float("nan")], "shape": (2, 3), "flag": np.bool_(True), "z": 1 + 2j,
             "i32": np.int32(7), "nested": [{"a": (None, True)}]}
    back = _round_trip(value, tmp_path)
    assert set(back) == set(value)
    np.testing.assert_array_equal(back["w"], value["w"])
    assert back["w"].dtype == np.float64 and back["big"] == 2**70 and back["x"] == 0.1
    assert back[("plain", 8)][0] == 1.5 and np.isnan(back[("plain", 8)][1])
    assert back["shape"] == (2, 3) and back["z"] == 1 + 2j and back["nested"] == [{"a": (None, True)}]
    assert back["i32"] == 7 and back["i32"].dtype == np.int32 and bool(back["flag"]) is True


def test_tensors_come_back_as_tensors(tmp_path):
    import torch

    t = torch.arange(6.0).reshape(2, 3).requires_grad_(True)
    back = _round_trip({"t": t, "bf": torch.ones(2, dtype=torch.bfloat16), "p": torch.nn.Parameter(torch.zeros(3))},
                       tmp_path)
    assert torch.equal(back["t"], t.detach()) and back["t"].requires_grad
    assert back["bf"].dtype == torch.bfloat16 and isinstance(back["p"], torch.nn.Parameter)


def test_objects_come_back_as_inert_handles(tmp_path):
    class Liar:
        def __eq__(self, other):
            return True

        def __bool__(self):
            return True

    back = _round_trip({"liar": Liar(), "f": lambda x: x}, tmp_path)
    liar = back["liar"]
    assert isinstance(liar, remote.Remote)
    assert liar != 5 and not (liar == np.zeros(3)) and liar == liar
    with pytest.raises(TypeError, match="no truth value"):
        assert liar
    with pytest.raises(TypeError):
        liar.anything = 1


def test_the_kits_own_functions_are_taken_from_the_grader(tmp_path):
    """A student name bound to a reference op is the grader's copy, so the grader's integrity check sees it."""
    import cnnkit.ops

    back = _round_trip({"conv2d": cnnkit.ops.conv2d, "np": np, "os": os}, tmp_path)
    assert back["conv2d"] is cnnkit.ops.conv2d and back["np"] is np
    assert isinstance(back["os"], remote.Remote)  # not a trusted module: a handle, never imported here


def test_answers_that_are_not_plain_files_are_refused(tmp_path):
    (tmp_path / "ans-0.npy").symlink_to("/etc/passwd")
    decoder = remote._Decoder(_FakeSession(), tmp_path / "ans", [remote.MAX_ANSWER_BYTES])
    with pytest.raises(OSError):
        decoder.decode({"$array": 0})
    np.save(tmp_path / "big-0.npy", np.zeros(1000))
    with pytest.raises(ValueError, match="larger than"):
        remote._Decoder(_FakeSession(), tmp_path / "big", [100]).decode({"$array": 0})
    np.save(tmp_path / "obj-0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        remote._Decoder(_FakeSession(), tmp_path / "obj", [remote.MAX_ANSWER_BYTES]).decode({"$array": 0})


def test_arguments_changed_in_place_are_copied_back():
    params = {"w": np.zeros((2, 2)), "b": np.zeros(2)}
    w = params["w"]
    remote._copy_back(params, {"w": np.ones((2, 2)), "b": np.full(2, 3.0), "new": 1})
    assert w is params["w"] and np.all(w == 1) and np.all(params["b"] == 3) and params["new"] == 1
    losses = []
    remote._copy_back(losses, [1.0, 2.0])
    assert losses == [1.0, 2.0]


def test_student_exceptions_keep_their_builtin_type_only():
    assert isinstance(remote._exception({"type": "ValueError", "module": "builtins", "message": "m"}), ValueError)
    forged = remote._exception({"type": "ValueError", "module": "__main__", "message": "m"})
    assert isinstance(forged, remote.RemoteError) and not isinstance(forged, ValueError)
    from cnnkit.integrity import IntegrityError

    assert isinstance(remote._exception({"type": "IntegrityError", "module": "cnnkit.integrity", "message": ""}),
                      IntegrityError)


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
print("PROBE" + json.dumps(seen))
'''


@needs_bwrap
@pytest.mark.slow
def test_a_sandboxed_kernel_sees_only_its_own_folder(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("CNNKIT_TEST_CANARY", "instructor secret")
    from cnnkit.grading.sandbox import Limits, SandboxKernelManager, SandboxSpec

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
                           hidden_modules=("torch",), limits=Limits(memory_bytes=2 << 30))
        km = SandboxKernelManager(spec=spec, kernel_name="python3")
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
    policy = sandbox_policy(cfg, "a1")
    assert policy.hidden_modules == ("torch",) and policy.memory_mb == 2048
    cfg.CnnkitGrader.max_processes = 0
    with pytest.raises(ValueError, match="max_processes"):
        sandbox_policy(cfg, "a1")


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
