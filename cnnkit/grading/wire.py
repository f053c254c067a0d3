"""What may cross from a student's kernel to the grader: data, and nothing else.

A test calls a student's function; the function runs in the student's (sandboxed) kernel and its
result comes back through files the kernel writes: one JSON document plus one ``.npy`` file per
array. :func:`encode` (run by the kernel's agent) turns a value into that form;
:func:`decode` (run by the grader's test runner) rebuilds it and accepts only

* ``None``, ``bool``, ``int``, ``float``, ``complex`` and ``str`` (bounded);
* numeric or boolean arrays (numpy, or PyTorch tensors), whose dtype, shape and size are read
  from the ``.npy`` header and checked against a byte budget *before* the data is read;
* tuples, lists and dicts of those (bounded depth);
* or the name of the exception the function raised.

Nothing the kernel writes is unpickled, imported, or resolved to an object of the grader's;
no attribute of a student object (``__module__``, ``__qualname__``) is ever sent or read.
A value that is not data is answered with its type's name only, and the test's call fails
with :class:`NotData`.
"""
from __future__ import annotations

import json
import math
import os
import stat
import sys
import types
from pathlib import Path
from typing import Any

#: Deepest nesting of tuples / lists / dicts in an answer.
MAX_DEPTH = 40
#: Longest string, and most items in one list, tuple or dict.
MAX_STR = 100_000
MAX_ITEMS = 1_000_000
#: Most digits of an integer beyond 2**53.
MAX_INT_DIGITS = 400
#: Largest JSON document of one answer.
MAX_JSON_BYTES = 32 << 20
#: Array element kinds that are data: bool, signed / unsigned int, float, complex.
ARRAY_KINDS = "biufc"
#: Exceptions a test may catch as themselves (``except ValueError``); any other arrives as RemoteError.
PASSED_THROUGH = ("ValueError", "TypeError", "IndexError", "KeyError", "ZeroDivisionError", "ArithmeticError",
                  "OverflowError", "NotImplementedError", "RuntimeError", "AttributeError", "AssertionError",
                  "NameError", "RecursionError", "MemoryError", "LookupError", "FloatingPointError",
                  "StopIteration", "OSError", "UnboundLocalError", "ImportError", "ModuleNotFoundError")


class NotData(Exception):
    """A student's function returned something that is not data (a function, a module, a model...)."""


class BadAnswer(Exception):
    """The kernel's answer is malformed, too large, or of a kind the grader does not accept.

    Neither this nor :class:`NotData` is a ValueError or TypeError: a test that expects the student's
    function to raise one of those is never satisfied by a broken answer.
    """


class RemoteError(Exception):
    """A student function raised an exception the grader does not recreate (its name is in the message)."""


# ---------------------------------------------------------------- the kernel's side

class Encoder:
    """Turns one value into JSON-able data plus a list of arrays (kernel side)."""

    def __init__(self) -> None:
        self.arrays: list[Any] = []

    def _array(self, array: Any) -> int:
        self.arrays.append(array)
        return len(self.arrays) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        """JSON-able form of ``value``; :class:`NotData` names the first part that is not data."""
        if depth > MAX_DEPTH:
            raise NotData(f"a value nested more than {MAX_DEPTH} levels deep")
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            if len(value) > MAX_STR:
                raise NotData(f"a string of {len(value)} characters (at most {MAX_STR})")
            return str(value)
        if isinstance(value, int):
            value = int(value)
            return {"$int": str(value)} if abs(value) > 2**53 else value
        if isinstance(value, float):
            return {"$float": repr(float(value))}
        if isinstance(value, complex):
            return {"$complex": [repr(value.real), repr(value.imag)]}
        numpy, torch = sys.modules.get("numpy"), sys.modules.get("torch")
        if numpy is not None:
            if isinstance(value, numpy.ndarray) and value.dtype.kind in ARRAY_KINDS and value.dtype.fields is None:
                return {"$array": self._array(numpy.ascontiguousarray(value))}
            if isinstance(value, numpy.generic) and numpy.asarray(value).dtype.kind in ARRAY_KINDS:
                return {"$scalar": self._array(numpy.asarray(value))}
        if torch is not None and isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            dtype = str(tensor.dtype).replace("torch.", "")
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.float()
            return {"$tensor": self._array(tensor.resolve_conj().numpy()), "dtype": dtype,
                    "requires_grad": bool(value.requires_grad)}
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in self._bounded(value)]}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in self._bounded(value)]
        if isinstance(value, dict):
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                              for k, v in self._bounded(list(value.items()))]}
        if isinstance(value, (types.GeneratorType, map, filter, zip, enumerate, reversed)):
            items = []
            for item in value:
                items.append(item)
                if len(items) > MAX_ITEMS:
                    raise NotData(f"an iterator of more than {MAX_ITEMS} items")
            return [self.encode(v, depth + 1) for v in items]
        raise NotData(f"a {type_name(value)}")

    @staticmethod
    def _bounded(items: Any) -> Any:
        if len(items) > MAX_ITEMS:
            raise NotData(f"a collection of {len(items)} items (at most {MAX_ITEMS})")
        return items


def type_name(value: Any) -> str:
    """A short, printable name of a value's type, for messages only (never used to decide anything)."""
    name = getattr(type(value), "__name__", "object")
    name = name if isinstance(name, str) else "object"
    return "".join(c for c in name if c.isalnum() or c in "_.")[:60] or "object"


def write_answer(prefix: str, answer: dict, arrays: list[Any]) -> None:
    """Write ``prefix.json`` and ``prefix-K.npy`` (each renamed into place when complete, JSON last)."""
    import numpy

    for index, array in enumerate(arrays):
        tmp = f"{prefix}-{index}.npy.tmp"
        with open(tmp, "wb") as fh:
            numpy.save(fh, array, allow_pickle=False)
        os.replace(tmp, f"{prefix}-{index}.npy")
    with open(f"{prefix}.json.tmp", "w", encoding="utf-8") as fh:
        json.dump(answer, fh)
    os.replace(f"{prefix}.json.tmp", f"{prefix}.json")


# ---------------------------------------------------------------- the grader's side

class Budget:
    """Bytes of array data the grader still accepts from one submission (all its answers together)."""

    def __init__(self, limit: int) -> None:
        self.limit = self.left = int(limit)

    def charge(self, nbytes: int) -> None:
        if nbytes > self.left:
            raise BadAnswer(f"the answers of this submission exceed the grader's budget of {self.limit >> 20} MiB "
                            "of array data")
        self.left -= nbytes


def _open_regular(path: Path, max_bytes: int) -> tuple[Any, int]:
    """Open a file the kernel wrote, refusing links, devices and pipes; return it and its size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BadAnswer(f"the kernel's answer cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BadAnswer("the kernel's answer is not a regular file")
    if info.st_size > max_bytes:
        os.close(fd)
        raise BadAnswer(f"the kernel's answer is larger than {max_bytes >> 20} MiB")
    return os.fdopen(fd, "rb"), info.st_size


def read_array(path: Path, budget: Budget) -> Any:
    """One ``.npy`` file, its header checked (dtype, shape, size) before a byte of data is read."""
    import numpy as np
    from numpy.lib import format as npy

    fh, size = _open_regular(path, 1 << 62)  # its size is charged to the budget once the header is checked
    with fh:
        try:
            version = npy.read_magic(fh)
            reader = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
            if reader is None:
                raise BadAnswer(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader(fh, max_header_size=4096)
        except (ValueError, SyntaxError, TypeError, OSError) as exc:
            raise BadAnswer(f"malformed array in the kernel's answer ({type(exc).__name__})") from None
        if (dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None
                or dtype.kind not in ARRAY_KINDS or dtype.itemsize > 16):
            raise BadAnswer(f"the kernel sent an array of type {dtype.str!r}: only numbers and booleans are data")
        if not isinstance(shape, tuple) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
            raise BadAnswer("malformed array shape in the kernel's answer")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes != size - fh.tell():
            raise BadAnswer("the kernel's array file does not match its header")
        budget.charge(nbytes)
        data = bytearray(nbytes)
        if fh.readinto(data) != nbytes:
            raise BadAnswer("the kernel's array file is cut short")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def read_answer(prefix: Path) -> dict:
    """The JSON document of one answer (bounded in size and depth)."""
    fh, _ = _open_regular(Path(f"{prefix}.json"), MAX_JSON_BYTES)
    with fh:
        raw = fh.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadAnswer("the kernel's answer is not well-formed JSON") from None
    if not isinstance(data, dict):
        raise BadAnswer("the kernel's answer is not a JSON object")
    return data


class Decoder:
    """Rebuilds one answer's value from its JSON and ``.npy`` files (grader side; never unpickles)."""

    def __init__(self, prefix: Path, budget: Budget) -> None:
        self.prefix, self.budget = prefix, budget

    def _array(self, index: Any) -> Any:
        if type(index) is not int or not 0 <= index < 100_000:
            raise BadAnswer("bad array index in the kernel's answer")
        try:
            return read_array(Path(f"{self.prefix}-{index}.npy"), self.budget)
        except FileNotFoundError:
            raise BadAnswer("an array of the kernel's answer is missing") from None

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH + 2:
            raise BadAnswer("the kernel's answer is nested too deeply")
        if data is None or type(data) is bool:
            return data
        if type(data) is int:
            return data
        if type(data) is str:
            if len(data) > MAX_STR:
                raise BadAnswer("a string in the kernel's answer is too long")
            return data
        if type(data) is list:
            if len(data) > MAX_ITEMS:
                raise BadAnswer("a list in the kernel's answer is too long")
            return [self.decode(item, depth + 1) for item in data]
        if type(data) is not dict or len(data) > 4:
            raise BadAnswer("malformed value in the kernel's answer")
        if "$float" in data:
            return float(self._text(data["$float"], 40))
        if "$int" in data:
            return int(self._text(data["$int"], MAX_INT_DIGITS + 1))
        if "$complex" in data:
            parts = data["$complex"]
            if type(parts) is not list or len(parts) != 2:
                raise BadAnswer("malformed complex number in the kernel's answer")
            return complex(float(self._text(parts[0], 40)), float(self._text(parts[1], 40)))
        if "$array" in data:
            return self._array(data["$array"]).copy()
        if "$scalar" in data:
            array = self._array(data["$scalar"])
            if array.ndim != 0:
                raise BadAnswer("a scalar in the kernel's answer has a shape")
            return array[()]
        if "$tensor" in data:
            return self._tensor(data)
        if "$tuple" in data and type(data["$tuple"]) is list:
            return tuple(self.decode(item, depth + 1) for item in data["$tuple"])
        if "$dict" in data and type(data["$dict"]) is list:
            out = {}
            for pair in data["$dict"]:
                if type(pair) is not list or len(pair) != 2:
                    raise BadAnswer("malformed dict in the kernel's answer")
                key = self.decode(pair[0], depth + 1)
                if not _hashable_data(key):
                    raise BadAnswer("a dict key in the kernel's answer is not a number, string or tuple")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        raise BadAnswer("malformed value in the kernel's answer")

    def _tensor(self, data: dict) -> Any:
        import torch

        array = self._array(data["$tensor"])
        tensor = torch.from_numpy(array.copy())
        name = data.get("dtype")
        dtype = getattr(torch, name, None) if isinstance(name, str) and name.isidentifier() else None
        if isinstance(dtype, torch.dtype) and tensor.dtype != dtype:
            tensor = tensor.to(dtype)
        if data.get("requires_grad") is True and (tensor.is_floating_point() or tensor.is_complex()):
            tensor.requires_grad_(True)
        return tensor

    @staticmethod
    def _text(value: Any, limit: int) -> str:
        if type(value) is not str or len(value) > limit:
            raise BadAnswer("malformed number in the kernel's answer")
        return value


def _hashable_data(key: Any) -> bool:
    if key is None or type(key) in (bool, int, float, complex, str):
        return True
    return type(key) is tuple and all(_hashable_data(k) for k in key)


def exception_from(info: Any) -> BaseException:
    """The exception a student's function raised, as the test sees it: by name, never by import."""
    from ..integrity import IntegrityError

    if not isinstance(info, dict):
        return RemoteError("the student's code failed")
    name = info.get("type")
    message = info.get("message")
    name = name if type(name) is str and name.isidentifier() else "Exception"
    message = message[:4000] if type(message) is str else ""
    if name == "IntegrityError":
        return IntegrityError(message)
    if name in PASSED_THROUGH:
        import builtins

        return getattr(builtins, name)(message)
    return RemoteError(f"{name}: {message}")
