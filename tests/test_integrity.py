"""cnnkit.integrity: a student function that calls watched code is caught, however it was imported."""
from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnkit import integrity


@pytest.fixture()
def fake_packages(tmp_path, monkeypatch):
    """Two throw-away packages: ``refpkg`` (to be watched) and ``refpkg_other`` (a name that merely starts alike)."""
    for name in ("refpkg", "refpkg_other"):
        pkg = tmp_path / name
        (pkg / "sub").mkdir(parents=True)
        (pkg / "__init__.py").write_text("from .sub.core import square, cube, Layer\n")
        (pkg / "sub" / "__init__.py").write_text("")
        (pkg / "sub" / "core.py").write_text(textwrap.dedent(
            """
            def square(x):
                return x * x

            def cube(x):
                return square(x) * x

            class Layer:
                def forward(self, x):
                    return x + 1
            """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("refpkg", "refpkg_other"):
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    yield importlib.import_module("refpkg"), importlib.import_module("refpkg_other")
    for name in list(sys.modules):
        if name.split(".")[0] in ("refpkg", "refpkg_other"):
            del sys.modules[name]


def own_square(x):
    return x * x


def test_plain_numpy_code_is_clean():
    x = np.arange(6.0).reshape(2, 3)
    with integrity.CallRecorder() as rec:
        own_square(x).sum()
        np.pad(x, 1)
    assert rec.clean, rec.report()
    assert rec.calls == []


def test_aliased_import_is_still_caught(fake_packages):
    from refpkg.sub.core import square as innocent_name  # aliasing must not hide the call

    def student(x):
        return innocent_name(x)

    with integrity.CallRecorder("refpkg") as rec:
        assert student(3) == 9
    assert not rec.clean
    assert [c.name for c in rec.calls] == ["square"]
    assert rec.calls[0].module == "refpkg.sub.core"
    assert "square" in rec.report()


def test_only_the_outermost_watched_call_is_recorded(fake_packages):
    refpkg, _ = fake_packages
    with integrity.CallRecorder("refpkg") as rec:
        assert refpkg.cube(2) == 8
        refpkg.square(1)
    assert [c.name for c in rec.calls] == ["cube", "square"]


def test_methods_of_watched_classes_are_caught(fake_packages):
    refpkg, _ = fake_packages
    layer = refpkg.Layer()  # made outside: only the call inside the block counts
    with integrity.CallRecorder("refpkg") as rec:
        layer.forward(1)
    assert [c.name for c in rec.calls] == ["Layer.forward"]


def test_allowed_modules_inside_a_watched_package_pass(fake_packages):
    refpkg, _ = fake_packages
    with integrity.CallRecorder("refpkg", allowed=("refpkg.sub.core",)) as rec:
        refpkg.square(3)
    assert rec.clean, rec.report()
    with integrity.CallRecorder("refpkg", allowed=()) as rec:
        refpkg.square(3)
    assert not rec.clean


def test_the_lecture_filter_bank_is_allowed_by_default():
    filters = pytest.importorskip("cnnkit.ops.filters")
    with integrity.forbid():
        filters.sobel_x()
        filters.box(3)


def test_package_prefix_does_not_match_a_longer_name(fake_packages):
    _, other = fake_packages
    with integrity.CallRecorder("refpkg") as rec:
        other.square(2)
    assert rec.clean, rec.report()


def test_forbid_raises_naming_the_call(fake_packages):
    refpkg, _ = fake_packages
    with pytest.raises(integrity.IntegrityError, match="square"):
        with integrity.forbid("refpkg"):
            refpkg.square(4)


def test_forbid_lets_the_block_s_own_exception_through(fake_packages):
    refpkg, _ = fake_packages
    with pytest.raises(ZeroDivisionError):
        with integrity.forbid("refpkg"):
            refpkg.square(4)
            1 / 0
    assert sys.getprofile() is None


def test_torch_builtins_and_tensor_methods_are_caught():
    torch = pytest.importorskip("torch")
    x = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    w = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    with integrity.CallRecorder("torch") as rec:
        torch.nn.functional.conv2d(x, w)
    assert any(c.kind == "c" and c.name == "conv2d" for c in rec.calls), rec.calls
    with integrity.CallRecorder("torch") as rec:
        x.sum()
    assert any(c.kind == "c" and c.name == "sum" for c in rec.calls), rec.calls
    with integrity.CallRecorder("torch") as rec:
        torch.from_numpy(np.zeros(3))
    assert [c.name for c in rec.calls] == ["from_numpy"]


def test_scipy_signal_is_caught_by_default():
    signal = pytest.importorskip("scipy.signal")
    a = np.random.default_rng(0).normal(size=(5, 5))
    with pytest.raises(integrity.IntegrityError, match="correlate2d"):
        integrity.call_clean(lambda img: signal.correlate2d(img, np.ones((3, 3)), mode="valid"), a)


def test_call_clean_returns_the_result_of_clean_code():
    assert integrity.call_clean(own_square, 5) == 25
    assert integrity.call_clean(lambda *, k: k + 1, k=1) == 2


def test_kit_reference_ops_are_caught_when_present():
    ops = pytest.importorskip("cnnkit.ops")
    conv = getattr(ops, "correlate2d", None)
    if conv is None:
        pytest.skip("cnnkit.ops.correlate2d not written yet")
    from cnnkit.ops import correlate2d as c  # noqa: F401 - the alias is the point

    img = np.random.default_rng(1).normal(size=(6, 6))
    with pytest.raises(integrity.IntegrityError, match="correlate2d"):
        with integrity.forbid():
            c(img, np.ones((3, 3)))


def test_switching_the_profiler_off_is_reported():
    def sneaky():
        sys.setprofile(None)
        return 1

    with pytest.raises(integrity.IntegrityError, match="switched off"):
        with integrity.forbid("numpy"):
            sneaky()
    assert sys.getprofile() is None


def test_an_existing_profiler_is_chained_and_restored():
    seen = []

    def outer(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)

    sys.setprofile(outer)
    try:
        with integrity.CallRecorder("numpy"):
            own_square(2)
        assert sys.getprofile() is outer
    finally:
        sys.setprofile(None)
    assert "own_square" in seen


def test_a_recorder_cannot_be_nested_in_itself():
    rec = integrity.CallRecorder("numpy")
    with rec:
        with pytest.raises(RuntimeError, match="already active"):
            rec.__enter__()
    assert sys.getprofile() is None


@pytest.mark.parametrize("bad", [(), ("",), (3,)])
def test_bad_watched_arguments_are_refused(bad):
    with pytest.raises(ValueError, match="watched"):
        integrity.CallRecorder(bad)


def test_call_clean_refuses_a_non_callable():
    with pytest.raises(TypeError, match="callable"):
        integrity.call_clean(42)


def test_absent_modules_are_ignored_not_fatal():
    with integrity.CallRecorder(("no_such_module_xyz", "numpy")) as rec:
        np.zeros(3).sum()
    assert any(c.module.startswith("numpy") for c in rec.calls)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["own", "square", "cube", "other", "numpy"]), max_size=8))
def test_exactly_the_outermost_watched_calls_are_recorded(fake_packages, steps):
    """Any mix of own code, watched, unwatched and library calls: the record lists the watched ones, in order."""
    refpkg, other = fake_packages
    actions = {"own": lambda: own_square(2), "square": lambda: refpkg.square(2), "cube": lambda: refpkg.cube(2),
               "other": lambda: other.cube(2), "numpy": lambda: np.ones(2).sum()}

    def student():
        for step in steps:
            actions[step]()

    with integrity.CallRecorder("refpkg") as rec:
        student()
    assert [c.name for c in rec.calls] == [s for s in steps if s in ("square", "cube")]
    assert rec.clean == (not any(s in ("square", "cube") for s in steps))


def test_a_single_allowed_function_passes_while_its_module_stays_watched():
    """a3 tells students to use the kit's conv2d forward inside their backward pass, not its backward."""
    import numpy as np

    from cnnkit import integrity, ops

    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))
    with integrity.CallRecorder(allowed=("cnnkit.ops.conv.conv2d", "cnnkit.ops.filters")) as rec:
        ops.conv2d(x, w)
    assert rec.clean, rec.report()
    with integrity.CallRecorder(allowed=("cnnkit.ops.conv.conv2d",)) as rec:
        ops.conv2d_backward(np.ones((1, 1, 3, 3)), x, w)
    assert not rec.clean and "conv2d_backward" in rec.report()
