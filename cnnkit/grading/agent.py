"""The student kernel's end of the trusted test runner: answers one request of the grader at a time.

While a notebook is graded, its test cells do not run in the student's kernel: they run in the
grader's own process (:mod:`cnnkit.grading.trusted`), where nothing the notebook did can
reach them. When a test needs a name the student defined (``conv2d``, ``params``), the grader
asks this module, inside the student's kernel, for it; when a test calls a student function,
the grader sends the arguments here and this module calls the function and sends back what it
returned. Requests come as pickles written by the grader (this side trusts the grader); answers
go back as JSON plus ``.npy`` files that the grader reads without unpickling, so a submission can
send values but never code or objects into the grader.

Everything here runs with the student's code, so a student can replace it: that changes only
the values the grader receives, which it then judges itself.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import types
from typing import Any

#: Objects the grader holds a reference to (functions, class instances, ...), by id.
_registry: dict[int, Any] = {}
#: Longest list an iterator is turned into, and deepest nesting sent back.
MAX_ITEMS = 100_000
MAX_DEPTH = 50
_SCALAR_KINDS = "biufc"


def resolve(ref: int) -> Any:
    """The object behind a reference the grader sent back (used by the request's unpickler)."""
    return _registry[ref]


def _namespace() -> dict:
    try:
        return get_ipython().user_ns  # noqa: F821 - defined inside an IPython kernel
    except NameError:
        return sys.modules["__main__"].__dict__


def _register(obj: Any) -> int:
    ref = id(obj)
    _registry[ref] = obj
    return ref


def _qualified(obj: Any) -> list[str]:
    return [str(getattr(obj, "__module__", "") or ""), str(getattr(obj, "__qualname__", "") or "")]


class _Encoder:
    """Turns Python values into JSON-able data plus a list of arrays."""

    def __init__(self) -> None:
        self.arrays: list[Any] = []

    def _array(self, array) -> int:
        self.arrays.append(array)
        return len(self.arrays) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("value nested too deeply to send to the grader")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return {"$int": str(value)} if abs(value) > 2**53 else value
        if isinstance(value, float):
            return {"$float": repr(value)}
        if isinstance(value, complex):
            return {"$complex": [repr(value.real), repr(value.imag)]}
        numpy = sys.modules.get("numpy")
        torch = sys.modules.get("torch")
        if numpy is not None:
            if isinstance(value, numpy.ndarray) and value.dtype.kind in _SCALAR_KINDS:
                return {"$array": self._array(numpy.ascontiguousarray(value))}
            if isinstance(value, numpy.generic) and numpy.asarray(value).dtype.kind in _SCALAR_KINDS:
                return {"$scalar": self._array(numpy.asarray(value))}
        if torch is not None and isinstance(value, torch.Tensor) and not value.is_complex():
            tensor = value.detach().cpu()
            dtype = str(tensor.dtype)
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.float()
            return {"$tensor": self._array(tensor.numpy()), "dtype": dtype,
                    "requires_grad": bool(value.requires_grad), "parameter": isinstance(value, torch.nn.Parameter)}
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"$tuple": [self.encode(v, depth + 1) for v in value]}
        if type(value) is list:
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, dict) and type(value).__module__ in ("builtins", "collections"):
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, (set, frozenset)):
            return {"$set": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, types.ModuleType):
            return {"$module": value.__name__, "$ref": _register(value)}
        if isinstance(value, (types.GeneratorType, map, filter, zip, enumerate, reversed)):
            items = []
            for item in value:
                items.append(item)
                if len(items) > MAX_ITEMS:
                    raise ValueError("iterator too long to send to the grader")
            return [self.encode(v, depth + 1) for v in items]
        return {"$ref": _register(value), "type": _qualified(type(value)), "callable": callable(value),
                "defined": _qualified(value) if isinstance(value, (types.FunctionType, type)) else None}


def _call(request: dict) -> Any:
    func = _registry[request["ref"]]
    args, kwargs = request.get("args", ()), request.get("kwargs", {})
    watched = request.get("watched")
    if not watched:
        return func(*args, **kwargs)
    from cnnkit import integrity

    with integrity.forbid(*watched, allowed=tuple(request.get("allowed") or ())):
        return func(*args, **kwargs)


def _handle(request: dict) -> Any:
    op = request["op"]
    if op == "lookup":
        namespace = _namespace()
        return {name: namespace[name] for name in request["names"] if name in namespace}
    if op == "call":
        result = _call(request)
        # arguments the function changed in place go back too (``train(params, ...)`` updates params)
        return {"result": result, "args": list(request.get("args", ())), "kwargs": dict(request.get("kwargs", {}))}
    target = _registry[request["ref"]]
    if op == "getattr":
        return getattr(target, request["name"])
    if op == "getitem":
        return target[request["key"]]
    if op == "len":
        return len(target)
    if op == "iter":
        return list(iter(target))[:MAX_ITEMS + 1]
    if op == "contains":
        return request["item"] in target
    raise ValueError(f"unknown request {op!r}")


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def serve(request_path: str, answer_prefix: str) -> None:
    """Answer the request in ``request_path``: ``answer_prefix.json`` plus ``answer_prefix-K.npy`` files."""
    import numpy

    encoder = _Encoder()
    try:
        with open(request_path, "rb") as fh:
            request = pickle.load(fh)
        value = _handle(request)
        if request["op"] == "lookup":
            answer = {"values": {name: encoder.encode(v) for name, v in value.items()}}
        else:
            answer = {"value": encoder.encode(value)}
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the grader as data
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        encoder.arrays.clear()
        answer = {"raise": {"type": type(exc).__name__, "module": type(exc).__module__,
                            "message": str(exc)[:4000]}}
    for index, array in enumerate(encoder.arrays):
        with open(f"{answer_prefix}-{index}.npy.tmp", "wb") as fh:
            numpy.save(fh, array, allow_pickle=False)
        os.replace(f"{answer_prefix}-{index}.npy.tmp", f"{answer_prefix}-{index}.npy")
    _write(f"{answer_prefix}.json", json.dumps(answer).encode())
