"""What the graded notebooks need still imports when the reference ops and torch are hidden.

The grading sandbox replaces cnnkit/ops/{conv,pool,norm,activations}.py, cnnkit/nn.py and
torch by stubs that raise ImportError. Each check runs in a fresh interpreter, so the
modules this test process already imported cannot hide a problem.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: A ``sys.meta_path`` finder that makes torch and the reference modules unimportable.
_BLOCK = textwrap.dedent("""
    import sys

    BLOCKED = ("torch", "cnnkit.ops.conv", "cnnkit.ops.pool", "cnnkit.ops.norm", "cnnkit.ops.activations",
               "cnnkit.nn")

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"{name} is hidden in this sandbox")
            return None

    sys.meta_path.insert(0, Blocker())
""")


def _run(code: str, *, block: bool) -> str:
    """Run ``code`` in a fresh interpreter (behind the blocker if ``block``) and return its stdout."""
    source = (_BLOCK if block else "") + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


_SAMPLE = """
    import json
    import cnnkit
    img = cnnkit.data.sample_image(gray=True, size=32)
    print(json.dumps({"shape": list(img.shape), "dtype": str(img.dtype), "values": img.ravel().tolist()}))
"""


def test_notebook_imports_work_without_torch_and_reference_ops():
    out = _run("""
        import json
        import cnnkit, cnnkit.ops.filters, cnnkit.ops.gradcheck, cnnkit.config
        from cnnkit.ops import filters
        from cnnkit.ops.gradcheck import numeric_gradient, rel_error

        assert isinstance(cnnkit.__version__, str)
        assert cnnkit.config.run_size() in ("small", "full")
        assert callable(numeric_gradient) and callable(rel_error) and filters is cnnkit.ops.filters
        try:
            import torch  # noqa: F401
        except ImportError:
            pass
        else:
            raise AssertionError("the blocker let torch through")
        errors = {}
        for attempt in ("cnnkit.ops.conv2d", "cnnkit.ops.max_pool2d", "cnnkit.ops.relu"):
            try:
                eval(attempt)
            except ImportError as err:
                errors[attempt] = str(err)
        try:
            from cnnkit.ops import conv2d  # noqa: F401
        except ImportError as err:
            errors["from-import"] = str(err)
        hidden = sorted(m for m in sys.modules
                        if m == "torch" or m.startswith("torch.") or m in ("cnnkit.ops.conv", "cnnkit.nn"))
        print(json.dumps({"errors": errors, "hidden": hidden}))
    """, block=True)
    report = json.loads(out)
    assert report["hidden"] == []
    # The submodule's own ImportError comes through, not a generic AttributeError.
    assert report["errors"] == {
        "cnnkit.ops.conv2d": "cnnkit.ops.conv is hidden in this sandbox",
        "cnnkit.ops.max_pool2d": "cnnkit.ops.pool is hidden in this sandbox",
        "cnnkit.ops.relu": "cnnkit.ops.activations is hidden in this sandbox",
        "from-import": "cnnkit.ops.conv is hidden in this sandbox",
    }


def test_sample_image_without_torch_matches_a_normal_process():
    blocked = json.loads(_run(_SAMPLE, block=True).splitlines()[-1])
    normal = json.loads(_run(_SAMPLE, block=False).splitlines()[-1])
    assert blocked["shape"] == [32, 32] and blocked["dtype"] == "float32"
    assert blocked == normal
    assert np.isfinite(blocked["values"]).all()


def test_import_ops_is_lazy_but_complete():
    out = _run("""
        import sys
        import cnnkit.ops
        lazy = [m for m in ("cnnkit.ops.conv", "cnnkit.ops.pool", "cnnkit.ops.norm", "cnnkit.ops.activations")
                if m in sys.modules]
        assert lazy == [], lazy
        assert "conv2d" in dir(cnnkit.ops) and "filters" in dir(cnnkit.ops)
        conv2d = cnnkit.ops.conv2d
        import cnnkit.ops.conv
        assert conv2d is cnnkit.ops.conv.conv2d
        from cnnkit.ops import max_pool2d
        assert max_pool2d is cnnkit.ops.pool.max_pool2d
        for name in cnnkit.ops.__all__:
            assert getattr(cnnkit.ops, name) is not None, name
        try:
            cnnkit.ops.no_such_op
        except AttributeError:
            pass
        else:
            raise AssertionError("expected AttributeError")
        print("ok")
    """, block=False)
    assert out.strip() == "ok"


def test_import_data_does_not_import_torch():
    out = _run("""
        import sys
        import cnnkit.data
        assert "torch" not in sys.modules and "cnnkit.data.loader" not in sys.modules
        assert "DeviceLoader" in dir(cnnkit.data)
        from cnnkit.data import DeviceLoader
        from cnnkit.data.loader import DeviceLoader as original
        assert DeviceLoader is original and cnnkit.data.random_crop is cnnkit.data.loader.random_crop
        print("ok")
    """, block=False)
    assert out.strip() == "ok"


def test_the_light_install_imports_what_the_numpy_notebooks_use():
    """Without PyTorch (pip install "cnnkit[student]"), every module lectures 01-04 and a1-a3 import loads, the
    explorers and the photo work, and the torch modules fail as a missing torch (shown as one line, cnnkit.optional)."""
    out = _run("""
        import importlib, json, sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoTorch())
        numpy_side = ["cnnkit.arith", "cnnkit.checks", "cnnkit.data", "cnnkit.data.digits", "cnnkit.diagrams",
                      "cnnkit.integrity", "cnnkit.nn", "cnnkit.ops.conv", "cnnkit.ops.pool", "cnnkit.ops.norm",
                      "cnnkit.ops.batchnorm", "cnnkit.ops.activations", "cnnkit.ops.filters",
                      "cnnkit.ops.gradcheck", "cnnkit.viz", "cnnkit.widgets", "cnnkit.config", "cnnkit.launch"]
        for name in numpy_side:
            importlib.import_module(name)
        import cnnkit
        from cnnkit.data.digits import read_digits
        assert cnnkit.data.sample_image(gray=True, size=32).shape == (32, 32)
        assert cnnkit.widgets.conv_explorer() is not None and cnnkit.widgets.pooling_explorer() is not None
        assert read_digits() is not None
        missing = {}
        for name in ("cnnkit.models", "cnnkit.train", "cnnkit.summary"):
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as error:
                missing[name] = cnnkit.optional.is_torch_missing(error)
        print(json.dumps({"torch": "torch" in sys.modules, "missing": missing}))
    """, block=False)
    report = json.loads(out.splitlines()[-1])
    assert report == {"torch": False, "missing": {"cnnkit.models": True, "cnnkit.train": True, "cnnkit.summary": True}}
