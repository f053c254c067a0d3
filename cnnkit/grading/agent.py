"""The student kernel's end of grading: answers one request of the grader's test runner at a time.

While a notebook is graded, its test cells run in the grader's test runner
(:mod:`cnnkit.grading.runner`), out of the notebook's reach. When a test needs one of the
student's names, the runner asks this module, inside the student's kernel, for it:

* ``value``: the current value of a declared name (``losses``, ``test_acc``), as data;
* ``call``: call a declared function with the test's arguments (copies sent by the grader) and
  send back what it returned, as data, with the arguments the function is declared to update;
* objects (a PyTorch model) stay here under a number the *runner* chose; the runner calls them
  and their methods, and each answer is data again.

Requests come as pickles written by the grader (this side trusts the grader, never the other way
round); answers go back through :mod:`cnnkit.grading.wire` as JSON plus ``.npy`` files, so a
submission can send values but never code or objects into the grader. Everything here runs with
the student's code, so a student can replace it: that changes only the data the runner receives,
which it then judges itself.
"""
from __future__ import annotations

import pickle
import sys
from typing import Any

from .wire import Encoder, NotData, type_name, write_answer

#: Objects the runner holds a handle on, by the number the runner gave them.
_objects: dict[int, Any] = {}


def resolve(ref: int) -> Any:
    """The object behind a handle the runner sent as an argument (used by the request's unpickler)."""
    return _objects[ref]


def student_name(name: str) -> Any:
    """A declared function passed as an argument (``check(train, loss_and_grads=...)`` style calls)."""
    return _namespace()[name]


def _namespace() -> dict:
    try:
        return get_ipython().user_ns  # noqa: F821 - defined inside an IPython kernel
    except NameError:
        return sys.modules["__main__"].__dict__


def _call(func: Any, request: dict) -> Any:
    args, kwargs = request.get("args", ()), request.get("kwargs", {})
    watched = request.get("watched")
    if not watched:
        return func(*args, **kwargs)
    from cnnkit import integrity

    with integrity.forbid(*watched, allowed=tuple(request.get("allowed") or ())):
        return func(*args, **kwargs)


def _handle(request: dict) -> Any:
    op = request["op"]
    if op == "value":
        return _namespace()[request["name"]]
    if op == "hold":  # keep a declared object (the student's model) under the runner's number
        _objects[request["ref"]] = _namespace()[request["name"]]
        return None
    if op == "call":
        func = _namespace()[request["name"]]
        result = _call(func, request)
        if request.get("hold") is not None:  # a factory: the result stays here
            _objects[request["hold"]] = result
            return None
        updates = request.get("updates") or ()
        if updates:
            args = request.get("args", ())
            return {"result": result, "updated": [args[i] if i < len(args) else None for i in updates]}
        return result
    target = _objects[request["ref"]]
    if op == "call_object":
        return _call(target, request)
    if op == "method":
        name = request["name"]
        result = _call(getattr(target, name), request)
        return {"$self": True} if result is target else result
    if op == "layer_kinds":
        return [type(m).__name__ for m in target.modules()]
    raise ValueError(f"unknown request {op!r}")


def serve(request_path: str, answer_prefix: str) -> None:
    """Answer the request in ``request_path`` with ``answer_prefix.json`` (+ ``answer_prefix-K.npy``)."""
    encoder = Encoder()
    try:
        with open(request_path, "rb") as fh:
            request = pickle.load(fh)  # noqa: S301 - written by the grader for this kernel
        value = _handle(request)
        if isinstance(value, dict) and value.get("$self") is True and len(value) == 1:
            answer: dict = {"self": True}
        else:
            answer = {"value": encoder.encode(value)}
    except NotData as exc:
        encoder.arrays.clear()
        answer = {"notdata": str(exc)[:200]}
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the grader as data
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        encoder.arrays.clear()
        answer = {"raise": {"type": type_name(exc), "message": str(exc)[:4000]}}
    write_answer(answer_prefix, answer, encoder.arrays)
