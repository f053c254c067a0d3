"""The CPU a benchmark ran on, by name: figures from Intel and AMD machines of one kind differ."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """``AMD EPYC ...`` / ``Intel(R) Xeon(R) ...`` from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
