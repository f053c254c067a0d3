"""What the grader allows each assignment: hidden modules, resource bounds, the student's names.

Set in the course's ``nbgrader_config.py`` (the instructor's file, never seen by a submission)::

    c.CnnkitGrader.hidden_modules = {"a1_convolution": ["cnnkit.ops.conv", "torch"]}
    c.CnnkitGrader.memory_mb = 4096        # memory of one sandbox, all its processes together
    c.CnnkitGrader.max_processes = 256     # processes and threads in one sandbox
    c.CnnkitGrader.similarity_threshold = 0.4   # similarity report: flag a function this much like other code
    c.CnnkitGrader.cpu_seconds = 3600      # CPU time of each sandboxed process
    c.CnnkitGrader.scratch_mb = 512        # each writable tmpfs of a sandbox (/tmp, /dev/shm, the work folder)
    c.CnnkitGrader.answer_mb = 512         # array data one submission may send to the grader, all answers together

A hidden module is replaced, inside that assignment's sandbox only, by a stub that raises
ImportError: a graded function cannot hand its work to it, whatever the notebook does to the
kit's in-kernel integrity check. Hide only what the notebook itself does not need; a name that
resolves to no installed module or function is an error (a typo would hide nothing).

The names a test may take from the student's kernel are declared by the assignment, in the
source notebook's metadata (see :func:`declared_names`), never inferred from the notebook.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Resource bounds of one sandbox (the student's kernel, or the test runner), and of what it may send."""

    memory_bytes: int = 4 << 30      # all processes of the sandbox together (memory cgroup) and each one (RLIMIT_AS)
    processes: int = 256             # processes and threads together
    cpu_seconds: int = 3600          # CPU time of each process
    file_bytes: int = 1 << 30        # largest file a process may write
    scratch_bytes: int = 512 << 20   # each writable tmpfs: /tmp, /dev/shm, the student's folder
    answer_bytes: int = 512 << 20    # array data one submission sends to the grader, all answers together

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{item.name} must be a positive integer, got {value!r}")


#: ``c.CnnkitGrader`` setting -> (Limits field, unit in bytes, smallest value allowed).
_SETTINGS = {"memory_mb": ("memory_bytes", 1 << 20, 64), "max_processes": ("processes", 1, 16),
             "cpu_seconds": ("cpu_seconds", 1, 10), "scratch_mb": ("scratch_bytes", 1 << 20, 8),
             "answer_mb": ("answer_bytes", 1 << 20, 1)}


@dataclass(frozen=True)
class SandboxPolicy:
    """The sandbox settings of one assignment."""

    hidden_modules: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


def sandbox_policy(cfg: Any, assignment: str) -> SandboxPolicy:
    """Read ``c.CnnkitGrader.*`` from a course config; ValueError names the setting that is wrong."""
    section = cfg.get("CnnkitGrader", {})
    hidden = section.get("hidden_modules", {})
    if not isinstance(hidden, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(m, str) and m for m in v)
            for k, v in hidden.items()):
        raise ValueError("c.CnnkitGrader.hidden_modules must map assignment names to lists of module names, "
                         f"such as {{'a1_convolution': ['cnnkit.ops.conv', 'torch']}}, got {hidden!r}")
    chosen = {}
    for setting, (name, unit, minimum) in _SETTINGS.items():
        if setting not in section:
            continue
        value = section[setting]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"c.CnnkitGrader.{setting} must be an integer >= {minimum}, got {value!r}")
        chosen[name] = value * unit
    modules = tuple(hidden.get(assignment, ()))
    unresolved = [name for name in modules if resolve_hidden(name) is None]
    if unresolved:
        raise ValueError(f"c.CnnkitGrader.hidden_modules[{assignment!r}] names {', '.join(unresolved)}, which "
                         "is no installed module and no function of one: check the spelling (a name that "
                         "resolves to nothing hides nothing)")
    return SandboxPolicy(hidden_modules=modules, limits=Limits(**chosen))


def resolve_hidden(name: str) -> tuple[str, str | None] | None:
    """``(module, None)`` for an installed module, ``(module, function)`` for a top-level function of one
    module file, None when ``name`` is neither. Nothing is imported (only found)."""
    import ast

    if _find(name) is not None:
        return name, None
    module, _, func = name.rpartition(".")
    spec = _find(module) if module else None
    if spec is None or not spec.origin or not spec.origin.endswith(".py") or spec.submodule_search_locations:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError):
        return None
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return (module, func) if func in defined else None


def _find(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


@dataclass(frozen=True)
class DeclaredNames:
    """The names of a notebook that are the student's: the only ones a test may take from the kernel.

    ``functions`` are called with copies of the test's arguments and return data; ``updates`` maps a
    function to the positions of the arguments it changes in place (returned as data in its answer);
    ``values`` are read as data at the start of each cell that uses them; ``objects`` (a trained model)
    and the results of ``factories`` (a model class) stay in the kernel as handles.
    """

    functions: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    updates: dict = field(default_factory=dict)

    @property
    def all(self) -> set[str]:
        return set(self.functions) | set(self.values) | set(self.objects) | set(self.factories)


def declared_names(metadata: Any, where: str = "the notebook") -> DeclaredNames:
    """Read ``metadata["cnnkit"]["graded"]`` of a source notebook; ValueError says what is wrong.

    The form::

        {"cnnkit": {"graded": {"functions": ["conv2d", "train"], "values": ["losses"],
                               "objects": ["model"], "factories": ["ResidualBlock"],
                               "updates": {"train": [0]}}}}
    """
    graded = (metadata or {}).get("cnnkit", {}).get("graded") if isinstance(metadata, dict) else None
    if not isinstance(graded, dict):
        raise ValueError(f"{where} declares no graded names: add metadata.cnnkit.graded = "
                         "{'functions': [...], 'values': [...]} to the source notebook")
    unknown = sorted(set(graded) - {"functions", "values", "objects", "factories", "updates"})
    if unknown:
        raise ValueError(f"{where}: metadata.cnnkit.graded has unknown key(s) {', '.join(unknown)}")
    lists = {}
    for key in ("functions", "values", "objects", "factories"):
        names = graded.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise ValueError(f"{where}: metadata.cnnkit.graded.{key} must be a list of Python names, got {names!r}")
        lists[key] = tuple(names)
    updates = graded.get("updates", {})
    if not isinstance(updates, dict) or not all(
            k in lists["functions"] and isinstance(v, list) and all(type(i) is int and 0 <= i < 64 for i in v)
            for k, v in updates.items()):
        raise ValueError(f"{where}: metadata.cnnkit.graded.updates must map declared functions to argument "
                         f"positions, such as {{'train': [0]}}, got {updates!r}")
    return DeclaredNames(updates=dict(updates), **lists)


DEFAULT_SIMILARITY_THRESHOLD = 0.4   # = similarity.compare.DEFAULT_THRESHOLD (a test keeps them equal)


def similarity_threshold(cfg) -> float:
    """``c.CnnkitGrader.similarity_threshold``: the share of a function found in other code that flags it."""
    value = cfg.get("CnnkitGrader", {}).get("similarity_threshold", DEFAULT_SIMILARITY_THRESHOLD)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"c.CnnkitGrader.similarity_threshold must be a fraction in (0, 1] such as 0.4 (40 %), "
                         f"got {value!r}")
    return float(value)
