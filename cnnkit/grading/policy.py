"""What the grading sandbox allows each assignment: hidden modules and resource bounds.

Set in the course's ``nbgrader_config.py`` (the instructor's file, never seen by a submission)::

    c.CnnkitGrader.hidden_modules = {"a1_convolution": ["cnnkit.ops.conv", "torch"]}
    c.CnnkitGrader.memory_mb = 4096        # address space of each sandboxed process
    c.CnnkitGrader.max_processes = 256     # processes and threads in one sandbox

A hidden module is replaced, inside that assignment's sandbox only, by a stub that raises
ImportError: a graded function cannot hand its work to it, whatever the notebook does to the
kit's in-kernel integrity check. Hide only what the notebook itself does not need.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MEMORY_MB = 4096
DEFAULT_MAX_PROCESSES = 256


@dataclass(frozen=True)
class SandboxPolicy:
    """The sandbox settings of one assignment."""

    hidden_modules: tuple[str, ...] = ()
    memory_mb: int = DEFAULT_MEMORY_MB
    max_processes: int = DEFAULT_MAX_PROCESSES


def sandbox_policy(cfg, assignment: str) -> SandboxPolicy:
    """Read ``c.CnnkitGrader.*`` from a course config; ValueError names the setting that is wrong."""
    section = cfg.get("CnnkitGrader", {})
    hidden = section.get("hidden_modules", {})
    if not isinstance(hidden, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(m, str) and m for m in v)
            for k, v in hidden.items()):
        raise ValueError("c.CnnkitGrader.hidden_modules must map assignment names to lists of module names, "
                         f"such as {{'a1_convolution': ['cnnkit.ops.conv', 'torch']}}, got {hidden!r}")
    limits = {}
    for name, default in (("memory_mb", DEFAULT_MEMORY_MB), ("max_processes", DEFAULT_MAX_PROCESSES)):
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 16:
            raise ValueError(f"c.CnnkitGrader.{name} must be an integer >= 16, got {value!r}")
        limits[name] = value
    return SandboxPolicy(hidden_modules=tuple(hidden.get(assignment, ())), **limits)
