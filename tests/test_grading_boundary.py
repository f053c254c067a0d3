"""The kernel-to-grader boundary carries data only: a hostile kernel earns nothing and runs nothing.

The test runner (``cnnkit.grading.runner``) reads a student's answers from files the kernel wrote
(``cnnkit.grading.wire``). Here the kernel is replaced by a hostile one: for every request the runner
sends, it writes random, malformed, oversized, recursive or booby-trapped answer files. The runner
then runs real assertions of the kind a test cell makes. Properties, over many generated answers:

* a test that compares the student's result with the truth never passes on a hostile answer;
* nothing the kernel wrote is executed: pickles with a payload, ``$module`` / ``$ref`` markers naming
  grader objects, object arrays never run (a canary file would appear);
* every failure is an error of the cell (a clear message), never a crash of the runner: the next cell,
  and so the grading of others, goes on.
"""
from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnkit.grading import wire
from cnnkit.grading.messages import CellDone, KernelReply, Prepare, RunCell
from cnnkit.grading.runner import Runner


class HostileKernel:
    """Stands in for the worker + kernel: each request is answered by ``answer(prefix)``, which writes files."""

    def __init__(self, folder: Path, answer) -> None:
        self.folder, self.answer, self.requests = folder, answer, []
        self._pending = None

    def send(self, message) -> None:
        self.requests.append(message)
        prefix = self.folder / f"ans-{len(self.requests):08d}"
        self.answer(prefix)
        self._pending = KernelReply("ok", str(prefix))

    def receive(self, *kinds):
        reply, self._pending = self._pending, None
        assert reply is not None and KernelReply in kinds
        return reply


def make_runner(folder: Path, answer, **declared) -> tuple[Runner, HostileKernel]:
    kernel = HostileKernel(folder, answer)
    prepare = Prepare(channel=str(folder), functions=declared.get("functions", ["conv2d"]),
                      values=declared.get("values", ["losses"]), objects=[], factories=[], updates={},
                      answer_bytes=declared.get("answer_bytes", 8 << 20), salt=declared.get("salt", 12345),
                      hidden_begin="BEGIN HIDDEN TESTS", hidden_end="END HIDDEN TESTS")
    return Runner(kernel, prepare), kernel


SETUP = "import numpy as np\nx = np.arange(12.0).reshape(3, 4)\n"
#: Test cells whose assertions hold only for the right answer (and a value read by name).
TESTS = [
    "np.testing.assert_allclose(conv2d(x), x * 2)",
    "assert conv2d(x).shape == (3, 4) and float(conv2d(x).sum()) == 132.0",
    "assert losses == [1.0, 0.5]",
    "r = conv2d(x)\nassert isinstance(r, np.ndarray) and r.dtype == np.float64 and np.array_equal(r, x * 2)",
]

CANARY_ENV = "CNNKIT_BOUNDARY_CANARY"


class _Boom:
    """A pickle that, if loaded, creates the canary file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _json(data) -> bytes:
    return json.dumps(data).encode()


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=30)
markers = st.sampled_from(["$array", "$scalar", "$tensor", "$tuple", "$dict", "$int", "$float", "$complex",
                           "$module", "$ref", "$self", "raise", "notdata", "value", "self"])
marked = st.builds(lambda key, value: {key: value}, markers, json_value)
answer_doc = st.one_of(json_value, st.builds(lambda v: {"value": v}, st.one_of(json_value, marked)),
                       st.builds(lambda v: {"value": {"$dict": v}}, st.lists(st.lists(json_value, max_size=3),
                                                                          max_size=3)))


def _npy_variants(canary: str) -> list[bytes]:
    """.npy files a hostile kernel might write next to its JSON."""
    out = []
    for array in (np.array([_Boom(canary)], dtype=object), np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
                  np.array(["text"]), np.zeros((2, 2), dtype="V8")):
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=True)
        out.append(buf.getvalue())
    huge = io.BytesIO()  # a header that declares 10**12 complex128 values, with 16 bytes of data
    np.lib.format.write_array_header_1_0(huge, {"descr": "<c16", "fortran_order": False, "shape": (10**12,)})
    out.append(huge.getvalue() + b"\0" * 16)
    wrong = io.BytesIO()  # a header whose shape does not match the data
    np.lib.format.write_array_header_1_0(wrong, {"descr": "<f8", "fortran_order": False, "shape": (3, 4)})
    out.append(wrong.getvalue() + np.zeros(5).tobytes())
    out.append(b"\x93NUMPY garbage")
    out.append(pickle.dumps(_Boom(canary)))
    return out


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "something the kernel sent was executed in the grader"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=answer_doc, npy=st.integers(min_value=-1, max_value=7), raw=st.booleans())
def test_hostile_answers_earn_nothing_and_run_nothing(tmp_path, canary, doc, npy, raw):
    variants = _npy_variants(str(canary))

    def answer(prefix: Path) -> None:
        data = _json(doc) if not raw else pickle.dumps(_Boom(str(canary)))
        Path(f"{prefix}.json").write_bytes(data)
        if npy >= 0:
            for index in range(3):
                Path(f"{prefix}-{index}.npy").write_bytes(variants[npy % len(variants)])

    runner, _ = make_runner(tmp_path, answer)
    assert runner.run(RunCell("setup", SETUP, False)).error is None
    for index, test in enumerate(TESTS):
        done = runner.run(RunCell(f"t{index}", test, True))
        assert isinstance(done, CellDone)
        assert done.error is not None, f"a hostile answer passed {test!r}: {doc!r}"


@pytest.mark.parametrize("variant", range(8))
def test_hostile_array_files_are_refused_before_they_are_read(tmp_path, canary, variant):
    """Object, structured, string and void arrays, oversized headers, mismatched sizes, pickles: all refused."""
    data = _npy_variants(str(canary))[variant]

    def answer(prefix: Path) -> None:
        Path(f"{prefix}.json").write_bytes(_json({"value": {"$array": 0}}))
        Path(f"{prefix}-0.npy").write_bytes(data)

    runner, _ = make_runner(tmp_path, answer)
    runner.run(RunCell("setup", SETUP, False))
    done = runner.run(RunCell("t", "r = conv2d(x)", True))
    assert done.error is not None and done.error["ename"] == "BadAnswer", done.error


def test_links_and_pipes_are_not_followed(tmp_path, canary):
    secret = tmp_path / "secret.npy"
    np.save(secret, np.arange(3.0))

    def answer(prefix: Path) -> None:
        Path(f"{prefix}.json").write_bytes(_json({"value": {"$array": 0}}))
        os.symlink(secret, f"{prefix}-0.npy")

    runner, _ = make_runner(tmp_path, answer)
    runner.run(RunCell("setup", SETUP, False))
    done = runner.run(RunCell("t", "r = conv2d(x)", True))
    assert done.error["ename"] == "BadAnswer"

    def fifo(prefix: Path) -> None:
        os.mkfifo(f"{prefix}.json")

    runner, _ = make_runner(tmp_path / "f" if (tmp_path / "f").mkdir() is None else tmp_path, fifo)
    runner.run(RunCell("setup", SETUP, False))
    assert runner.run(RunCell("t", "r = conv2d(x)", True)).error["ename"] == "BadAnswer"


def test_the_budget_bounds_all_answers_of_a_submission_together(tmp_path):
    def answer(prefix: Path) -> None:
        Path(f"{prefix}.json").write_bytes(_json({"value": {"$array": 0}}))
        np.save(f"{prefix}-0.npy", np.zeros(100_000))  # 800 kB each

    runner, _ = make_runner(tmp_path, answer, answer_bytes=2 << 20)
    runner.run(RunCell("setup", SETUP, False))
    results = [runner.run(RunCell(f"t{i}", "r = conv2d(x)", True)).error for i in range(4)]
    assert results[:2] == [None, None]
    assert results[2]["ename"] == "BadAnswer" and "budget" in results[2]["evalue"]


def test_data_comes_back_as_data(tmp_path):
    """The honest path: arrays, scalars, tuples and dicts rebuilt exactly; exceptions by name."""
    values = iter([np.arange(6.0).reshape(2, 3), (1, 2.5, "a", None, True), {"w": np.ones(2), (1, 2): [3]},
                   np.float32(1.5), 2**70])

    def answer(prefix: Path) -> None:
        encoder = wire.Encoder()
        wire.write_answer(str(prefix), {"value": encoder.encode(next(values))}, encoder.arrays)

    runner, _ = make_runner(tmp_path, answer)
    runner.run(RunCell("setup", SETUP, False))
    cell = ("a = conv2d(x); b = conv2d(x); c = conv2d(x); d = conv2d(x); e = conv2d(x)\n"
            "assert a.shape == (2, 3) and a.flags.writeable and a[1, 2] == 5.0\n"
            "assert b == (1, 2.5, 'a', None, True)\n"
            "assert c[(1, 2)] == [3] and np.array_equal(c['w'], np.ones(2))\n"
            "assert d.dtype == np.float32 and d == 1.5\n"
            "assert e == 2**70\n")
    assert runner.run(RunCell("t", cell, True)).error is None


def test_a_raised_exception_arrives_by_name_only(tmp_path):
    def answer(prefix: Path) -> None:
        Path(f"{prefix}.json").write_bytes(_json({"raise": {"type": "ValueError", "message": "bad shape"}}))

    runner, _ = make_runner(tmp_path, answer)
    runner.run(RunCell("setup", SETUP, False))
    cell = "try:\n    conv2d(x)\nexcept ValueError as e:\n    assert str(e) == 'bad shape'\nelse:\n    raise AssertionError"
    assert runner.run(RunCell("t", cell, True)).error is None

    def forged(prefix: Path) -> None:  # an exception 'type' naming a grader class is just a name
        Path(f"{prefix}.json").write_bytes(_json({"raise": {"type": "os.system", "module": "os", "message": "x"}}))

    runner, _ = make_runner(tmp_path, forged)
    runner.run(RunCell("setup", SETUP, False))
    done = runner.run(RunCell("t", "conv2d(x)", True))
    assert done.error["ename"] == "RemoteError"


def test_only_declared_names_reach_the_kernel(tmp_path):
    """``np`` comes from the set-up cell, never from the kernel; an undeclared name is a NameError."""
    runner, kernel = make_runner(tmp_path, lambda prefix: Path(f"{prefix}.json").write_bytes(_json({"value": 1})))
    runner.run(RunCell("setup", SETUP, False))
    done = runner.run(RunCell("t", "assert np.pi > 3\nhelper_of_the_student()", True))
    assert done.error["ename"] == "NameError"
    assert kernel.requests == []


def test_a_value_that_is_not_data_fails_the_call_with_a_clear_message(tmp_path):
    def answer(prefix: Path) -> None:
        Path(f"{prefix}.json").write_bytes(_json({"notdata": "a function"}))

    runner, _ = make_runner(tmp_path, answer)
    runner.run(RunCell("setup", SETUP, False))
    done = runner.run(RunCell("t", "r = conv2d(x)", True))
    assert done.error["ename"] == "NotData" and "not data" in done.error["evalue"]
    # and a test that expects a ValueError is not satisfied by it
    done = runner.run(RunCell("t2", "try:\n    conv2d(x)\nexcept (ValueError, TypeError):\n    pass", True))
    assert done.error is not None


def test_the_kernel_never_learns_more_than_it_is_asked(tmp_path):
    """What the runner sends is the declared name, the arguments and the integrity settings: no test source."""
    runner, kernel = make_runner(tmp_path, lambda p: Path(f"{p}.json").write_bytes(_json({"value": None})))
    runner.run(RunCell("setup", SETUP, False))
    runner.run(RunCell("t", "SECRET_HIDDEN_TEST = 42\nconv2d(x)", True))
    import base64

    (call,) = kernel.requests
    request = pickle.loads(base64.b64decode(call.payload))
    assert request["op"] == "call" and request["name"] == "conv2d"
    assert b"SECRET_HIDDEN_TEST" not in base64.b64decode(call.payload)


def _requests(kernel) -> list[dict]:
    import base64

    return [pickle.loads(base64.b64decode(call.payload)) for call in kernel.requests]


def test_seeds_of_the_tests_are_salted_for_each_grading(tmp_path):
    """The inputs a hidden test draws from a fixed seed differ from one grading to the next, so a table of
    answers harvested in one run is worth nothing in the next; visible tests and the kit's own seeded cases
    keep their seeds."""
    cell = ("conv2d(np.random.default_rng(1234).normal(size=3))\n### BEGIN HIDDEN TESTS\n"
            "_rng = np.random.default_rng(1234)\nconv2d(_rng.normal(size=3))\n### END HIDDEN TESTS\n")
    seen = []
    for salt in (1, 2):
        runner, kernel = make_runner(tmp_path, lambda p: Path(f"{p}.json").write_bytes(_json({"value": None})),
                                     salt=salt)
        runner.run(RunCell("setup", SETUP, False))
        assert runner.run(RunCell("t", cell, True)).error is None
        visible, hidden = (r["args"][0] for r in _requests(kernel))
        seen.append(hidden)
        np.testing.assert_array_equal(visible, np.random.Generator(np.random.PCG64(1234)).normal(size=3))
    assert not np.allclose(seen[0], seen[1])
    np.testing.assert_array_equal(np.random.default_rng(1234).normal(size=3),
                                  np.random.Generator(np.random.PCG64(1234)).normal(size=3))


def test_a_failed_hidden_assertion_keeps_its_values_to_itself(tmp_path):
    runner, _ = make_runner(tmp_path, lambda p: Path(f"{p}.json").write_bytes(_json({"value": {"$float": "1.0"}})))
    runner.run(RunCell("setup", SETUP, False))
    visible = runner.run(RunCell("v", "np.testing.assert_allclose(conv2d(x), 2.5)", True)).error
    assert "2.5" in visible["evalue"]
    cell = "x0 = 1\n### BEGIN HIDDEN TESTS\nnp.testing.assert_allclose(conv2d(x), 31.4159)\n### END HIDDEN TESTS\n"
    hidden = runner.run(RunCell("h", cell, True)).error
    assert hidden["ename"] == "AssertionError" and "31.41" not in json.dumps(hidden)


def test_a_prerequisites_verdict_is_decided_once(tmp_path):
    """check(correlate2d) in a later cell gives the verdict of correlate2d's own cell, even if the function
    now misbehaves (a stateful 'echo' that fails on purpose where a dependent function is judged)."""
    from cnnkit.checks import check as real_check

    calls = iter(range(10**6))

    def answer(prefix: Path) -> None:
        n = next(calls)
        Path(f"{prefix}.json").write_bytes(_json({"value": 0} if n > 40 else {"raise": {"type": "ValueError"}}))

    runner, kernel = make_runner(tmp_path, answer, functions=["conv_output_size"])
    runner.run(RunCell("setup", SETUP + "from cnnkit.checks import check\n", False))
    first = runner.run(RunCell("a", "r1 = check(conv_output_size)\nprint(r1.passed)", True))
    later = runner.run(RunCell("b", "r2 = check(conv_output_size)\nprint(r2.passed)", True))
    assert first.stdout == later.stdout
    assert real_check is not runner.namespace["check"]
