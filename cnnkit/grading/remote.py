"""The grader's end of the trusted test runner: names and calls into the student's kernel, by value.

A test cell runs in the grader's process (:mod:`cnnkit.grading.trusted`). The student's
functions and variables stay in the student's (sandboxed) kernel; the test sees them through
this module:

* data come back **by value** and are rebuilt here from JSON and ``.npy`` files read with
  ``allow_pickle=False``: numbers, strings, arrays, tensors, tuples, lists, dicts;
* everything else (a function, a class, an ``nn.Module``, a random generator) comes back as a
  :class:`Remote` handle: calling it, or reading an attribute or an item, asks the kernel again.
  A handle has no truth value and never equals anything but itself, so a submission cannot make
  ``assert student_value == expected`` true with an object that claims to be equal;
* arguments a call changed in place (``train(params, ...)`` updating ``params``) are copied back
  into the test's own objects.

Whatever the kernel sends is only data: the comparisons, numpy, the reference implementations
and the integrity checks are this process's own, out of the submission's reach.
"""
from __future__ import annotations

import builtins
import importlib
import json
import os
import pickle
import stat
import sys
import time
import uuid
from pathlib import Path
from typing import Any

#: Packages whose functions the grader takes from its own installation when a student's name is
#: bound to one of them (``conv2d = cnnkit.ops.conv2d``): then the grader's own integrity check
#: sees the call into the reference code.
TRUSTED_FUNCTION_PACKAGES = ("cnnkit.ops", "cnnkit._geometry", "cnnkit.nn", "cnnkit.arith", "cnnkit.models",
                             "cnnkit.modules", "cnnkit.summary", "cnnkit.viz")
#: Top-level packages a module name coming from the kernel may be imported from in the grader.
TRUSTED_MODULES = ("numpy", "math", "cnnkit", "torch", "statistics", "itertools", "functools", "collections")
#: Classes a handle may claim to be an instance of (so ``isinstance(m, nn.Conv2d)`` works on a
#: student's model): only these packages' classes.
TRUSTED_CLASS_PACKAGES = ("torch.nn",)
#: Largest answer (all its files together) the grader reads from a kernel.
MAX_ANSWER_BYTES = 1 << 30
#: Exceptions a student function may raise that the test sees as themselves (``except ValueError``).
PASSED_THROUGH = {name: getattr(builtins, name) for name in (
    "ValueError", "TypeError", "IndexError", "KeyError", "ZeroDivisionError", "ArithmeticError",
    "OverflowError", "NotImplementedError", "RuntimeError", "AttributeError", "AssertionError", "NameError",
    "RecursionError", "MemoryError", "LookupError", "FloatingPointError", "StopIteration", "OSError",
    "UnboundLocalError", "BlockingIOError")}


class CellTimeoutError(TimeoutError):
    """A call into the student's kernel ran past the cell's time limit (it was interrupted)."""


class KernelDied(RuntimeError):
    """The student's kernel stopped answering while a test called into it."""


class RemoteError(Exception):
    """A student function raised an exception of a type the grader does not recreate."""


def _under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


class Remote:
    """A handle on an object that lives in the student's kernel."""

    __slots__ = ("_session", "_ref", "_type", "_callable", "_name")

    def __init__(self, session: "KernelSession", ref: int, type_name: list[str], is_callable: bool,
                 name: str = "") -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_callable", is_callable)
        object.__setattr__(self, "_name", name)

    @property
    def __name__(self) -> str:  # a student function's own name (``check(conv2d)`` reads it)
        if not self._name:
            raise AttributeError("__name__")
        return self._name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._session.request({"op": "getattr", "ref": self._ref, "name": name})

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a test cannot set attributes of an object in the student's kernel")

    def __getitem__(self, key: Any) -> Any:
        return self._session.request({"op": "getitem", "ref": self._ref, "key": key})

    def __len__(self) -> int:
        value = self._session.request({"op": "len", "ref": self._ref})
        if type(value) is not int:
            raise TypeError("len() of a student object did not give an integer")
        return value

    def __iter__(self):
        value = self._session.request({"op": "iter", "ref": self._ref})
        return iter(value if isinstance(value, list) else [])

    def __contains__(self, item: Any) -> bool:
        return self._session.request({"op": "contains", "ref": self._ref, "item": item}) is True

    def __bool__(self) -> bool:
        raise TypeError(f"a {self._type_name()} from the student's kernel has no truth value in a test; "
                        "compare its data instead")

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __ne__(self, other: Any) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return hash(("remote", self._ref))

    @property
    def __class__(self):  # isinstance(handle, torch.nn.Conv2d) for a student's model's layers
        module, qualname = self._type
        if _under(module, TRUSTED_CLASS_PACKAGES) and "<" not in qualname:
            try:
                found = _import_attr(module, qualname)
                if isinstance(found, type):
                    return found
            except (ImportError, AttributeError):
                pass
        return Remote

    def __reduce_ex__(self, protocol: int):
        from . import agent

        return (agent.resolve, (self._ref,))

    def _type_name(self) -> str:
        return ".".join(part for part in self._type if part) or "object"

    def __repr__(self) -> str:
        return f"<{self._type_name()} in the student's kernel>"


def _import_attr(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _open_answer_file(path: Path, budget: list[int]):
    """Open a file the kernel wrote, refusing links, devices and pipes, and charge its size."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError("the kernel's answer is not a regular file")
    budget[0] -= info.st_size
    if budget[0] < 0:
        os.close(fd)
        raise ValueError(f"the kernel's answer is larger than {MAX_ANSWER_BYTES >> 20} MiB")
    return os.fdopen(fd, "rb")


class _Decoder:
    """Rebuilds values from the JSON + ``.npy`` answer of :mod:`cnnkit.grading.agent`; never unpickles."""

    def __init__(self, session: "KernelSession", prefix: Path, budget: list[int]) -> None:
        self.session, self.prefix, self.budget = session, prefix, budget

    def _array(self, index: Any):
        import numpy as np

        if type(index) is not int or index < 0:
            raise ValueError("bad array index in the kernel's answer")
        with _open_answer_file(Path(f"{self.prefix}-{index}.npy"), self.budget) as fh:
            array = np.load(fh, allow_pickle=False)
        if array.dtype.kind not in "biufc":
            raise ValueError("the kernel sent an array of an unsupported type")
        return array

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > 60:
            raise ValueError("the kernel's answer is nested too deeply")
        if data is None or type(data) in (bool, int, str):
            return data
        if type(data) is list:
            return [self.decode(item, depth + 1) for item in data]
        if type(data) is not dict:
            raise ValueError("malformed answer from the kernel")
        if "$float" in data:
            return float(str(data["$float"]))
        if "$int" in data:
            return int(str(data["$int"]))
        if "$complex" in data:
            real, imag = data["$complex"]
            return complex(float(str(real)), float(str(imag)))
        if "$array" in data:
            return self._array(data["$array"])
        if "$scalar" in data:
            return self._array(data["$scalar"])[()]
        if "$tensor" in data:
            import torch

            tensor = torch.from_numpy(self._array(data["$tensor"]).copy())
            dtype = getattr(torch, str(data.get("dtype", "")).replace("torch.", ""), None)
            if isinstance(dtype, torch.dtype) and tensor.dtype != dtype:
                tensor = tensor.to(dtype)
            if data.get("parameter") is True:
                return torch.nn.Parameter(tensor, requires_grad=data.get("requires_grad") is True)
            if data.get("requires_grad") is True and tensor.is_floating_point():
                tensor.requires_grad_(True)
            return tensor
        if "$tuple" in data:
            return tuple(self.decode(item, depth + 1) for item in data["$tuple"])
        if "$set" in data:
            return {self.decode(item, depth + 1) for item in data["$set"]}
        if "$dict" in data:
            return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in data["$dict"]}
        if "$module" in data:
            name = str(data["$module"])
            if _under(name, TRUSTED_MODULES) and not _under(name, ("cnnkit.grading",)):
                try:
                    return importlib.import_module(name)
                except ImportError:
                    pass
            return Remote(self.session, int(data["$ref"]), [name, "module"], False)
        if "$ref" in data:
            defined = data.get("defined")
            if isinstance(defined, list) and len(defined) == 2 and _under(str(defined[0]), TRUSTED_FUNCTION_PACKAGES):
                try:  # the kit's own reference code: take the grader's copy, under the grader's eyes
                    return _import_attr(str(defined[0]), str(defined[1]))
                except (ImportError, AttributeError):
                    pass
            type_name = data.get("type")
            type_name = [str(t) for t in type_name] if isinstance(type_name, list) and len(type_name) == 2 else ["", ""]
            name = str(defined[1]).rpartition(".")[2] if isinstance(defined, list) and len(defined) == 2 else ""
            return Remote(self.session, int(data["$ref"]), type_name, data.get("callable") is True, name)
        raise ValueError("malformed answer from the kernel")


def _copy_back(mine: Any, theirs: Any) -> None:
    """Make the test's argument ``mine`` equal to what the student's function left in ``theirs``."""
    import numpy as np

    if isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray):
        if mine.shape == theirs.shape and mine.flags.writeable:
            try:
                np.copyto(mine, theirs, casting="unsafe")
            except (TypeError, ValueError):
                pass
    elif isinstance(mine, dict) and isinstance(theirs, dict):
        for key in list(mine):
            if key not in theirs:
                del mine[key]
        for key, value in theirs.items():
            if key in mine and isinstance(mine[key], (np.ndarray, dict, list)) and type(mine[key]) is type(value):
                _copy_back(mine[key], value)
                if isinstance(mine[key], np.ndarray) and mine[key].shape != value.shape:
                    mine[key] = value
            else:
                mine[key] = value
    elif isinstance(mine, list) and isinstance(theirs, list):
        mine[:] = theirs


class KernelSession:
    """Requests to the student's kernel over its own Jupyter channels, each answered through files."""

    def __init__(self, client, channel_dir: Path, interrupt) -> None:
        self.client = client
        self.channel_dir = Path(channel_dir)
        self.interrupt = interrupt
        self.deadline = float("inf")
        self._last_prefix = self.channel_dir / "ans-none"  # the files of the request under way

    def lookup(self, names: list[str]) -> dict[str, Any]:
        """The student's values of ``names`` (those that exist in the kernel's namespace)."""
        return self.request({"op": "lookup", "names": sorted(names)}, key="values")

    def call(self, target: Remote, args: tuple, kwargs: dict) -> Any:
        recorder = _active_recorder()
        request = {"op": "call", "ref": target._ref, "args": list(args), "kwargs": dict(kwargs),
                   "watched": list(recorder.watched) if recorder else None,
                   "allowed": list(recorder.allowed) if recorder else None}
        answer = self.request(request)
        if not isinstance(answer, dict) or "result" not in answer:
            raise ValueError("malformed call answer from the kernel")
        new_args, new_kwargs = answer.get("args"), answer.get("kwargs")
        if isinstance(new_args, list) and len(new_args) == len(args):
            for mine, theirs in zip(args, new_args):
                _copy_back(mine, theirs)
        if isinstance(new_kwargs, dict):
            for key, mine in kwargs.items():
                if key in new_kwargs:
                    _copy_back(mine, new_kwargs[key])
        return answer["result"]

    def request(self, request: dict, key: str = "value") -> Any:
        """Send one request; return the decoded answer, or raise what the student's code raised."""
        previous = sys.getprofile()
        sys.setprofile(None)  # the transport is the grader's business, not part of an integrity check
        try:
            data = self._exchange(request)
            if "raise" in data:
                raise _exception(data["raise"])
            decoder = _Decoder(self, self._last_prefix, [MAX_ANSWER_BYTES])
            if key == "values":  # a lookup: one value per name
                values = data.get("values")
                if not isinstance(values, dict):
                    raise RemoteError("malformed lookup answer from the student's kernel")
                return {str(name): decoder.decode(value) for name, value in values.items()}
            return decoder.decode(data.get(key))
        finally:
            self._cleanup()
            sys.setprofile(previous)

    def _exchange(self, request: dict) -> dict:
        token = uuid.uuid4().hex
        request_path = self.channel_dir / f"req-{token}.pkl"
        prefix = self.channel_dir / f"ans-{token}"
        self._last_prefix = prefix
        fd = os.open(request_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(request, fh, protocol=pickle.HIGHEST_PROTOCOL)
        code = (f"__import__('cnnkit.grading.agent', fromlist=['serve']).serve({str(request_path)!r}, "
                f"{str(prefix)!r})")
        msg_id = self.client.execute(code, silent=True, store_history=False, allow_stdin=False)
        self._wait_reply(msg_id)
        try:
            with _open_answer_file(Path(f"{prefix}.json"), [64 << 20]) as fh:
                data = json.loads(fh.read().decode("utf-8"))
        except FileNotFoundError:
            raise RemoteError("the student's kernel gave no answer (its grading agent was replaced or failed)")
        except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise RemoteError(f"unreadable answer from the student's kernel: {type(exc).__name__}")
        if not isinstance(data, dict):
            raise RemoteError("malformed answer from the student's kernel")
        return data

    def _wait_reply(self, msg_id: str) -> None:
        from queue import Empty

        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.interrupt()
                self._drain(msg_id, 10.0)
                raise CellTimeoutError("the student's code ran past the cell's time limit and was interrupted")
            try:
                reply = self.client.get_shell_msg(timeout=min(remaining, 5.0))
            except Empty:
                if not self.client.is_alive():
                    raise KernelDied("the student's kernel died") from None
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return

    def _drain(self, msg_id: str, seconds: float) -> None:
        from queue import Empty

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                reply = self.client.get_shell_msg(timeout=max(0.1, end - time.monotonic()))
            except Empty:
                return
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return

    def _cleanup(self) -> None:
        prefix = self._last_prefix
        for path in self.channel_dir.glob(f"{prefix.name}*"):
            try:
                path.unlink()
            except OSError:
                pass
        for path in self.channel_dir.glob("req-*.pkl"):
            try:
                path.unlink()
            except OSError:
                pass


def _active_recorder():
    """The integrity recorder running in this process right now, if any (its checks are forwarded)."""
    from ..integrity import CallRecorder

    hook = sys.getprofile()
    owner = getattr(hook, "__self__", None)
    return owner if isinstance(owner, CallRecorder) else None


def _exception(info: Any) -> BaseException:
    """The exception a student function raised, as the test should see it."""
    if not isinstance(info, dict):
        return RemoteError("the student's code failed")
    name, module = str(info.get("type", "")), str(info.get("module", ""))
    message = str(info.get("message", ""))[:4000]
    if module == "cnnkit.integrity" and name == "IntegrityError":
        from ..integrity import IntegrityError

        return IntegrityError(message)
    if module == "builtins" and name in PASSED_THROUGH:
        return PASSED_THROUGH[name](message)
    return RemoteError(f"{module}.{name}: {message}" if module else f"{name}: {message}")
