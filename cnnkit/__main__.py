"""The command line: ``python -m cnnkit COMMAND ...``.

Each command lives in the module that does the work and is imported only when used,
so ``python -m cnnkit info`` stays quick. Bad input is one line on stderr and exit status 2
(:mod:`cnnkit.cli`).
"""
from __future__ import annotations

import importlib
import sys

# command -> (module, function, one-line help). Each function takes argv (a list of
# strings after the command) and returns an exit status.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": ("cnnkit.__main__", "info_main", "versions, training device and data cache folder"),
    "summary": ("cnnkit.summary.cli", "main", "per-layer shapes, parameters, FLOPs and receptive fields of a model"),
    "rf": ("cnnkit.summary.cli", "rf_main", "receptive field table of a model"),
    "train": ("cnnkit.train", "main", "train a model on a data set (digits offline, MNIST, CIFAR-10)"),
    "grade": ("cnnkit.grading", "main", "collect, autograde, give feedback and export grades for an assignment"),
    "report": ("cnnkit.grading.class_report", "main", "class report: scores, mistakes, what to reteach, LMS exports"),
    "lab": ("cnnkit.launch", "lab_main", "open the course in JupyterLab (what make lab does)"),
    "test": ("cnnkit.launch", "suite_main", "run the course's test suite (what make test does)"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: python -m cnnkit COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "python -m cnnkit COMMAND --help shows the options of one command."]
    return "\n".join(lines)


def info_main(argv: list[str] | None = None) -> int:
    """Print the versions the kit runs on, the training device and the data cache folder."""
    import platform

    from cnnkit.cli import ArgumentParser

    ArgumentParser(prog="python -m cnnkit info", description=info_main.__doc__).parse_args(argv)
    import numpy

    import cnnkit
    from cnnkit.config import data_root

    rows = [
        ("cnnkit", cnnkit.__version__),
        ("python", platform.python_version()),
        ("numpy", numpy.__version__),
    ]
    try:
        import torch

        from cnnkit.config import resolve_device

        device = resolve_device("auto")
        detail = ""
        if device.type == "cuda":
            detail = f" ({torch.cuda.get_device_name(device)}, {torch.cuda.device_count()} visible)"
        rows += [("torch", torch.__version__), ("device", f"{device.type}{detail}"),
                 ("cpu threads", str(torch.get_num_threads()))]
    except ImportError:
        rows += [("torch", "not installed"), ("device", "unknown (torch missing)")]
    rows.append(("data cache", str(data_root())))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        from cnnkit.cli import fail

        return fail("python -m cnnkit", f"unknown command {command!r}; choose one of: {', '.join(COMMANDS)} "
                                        "(python -m cnnkit --help describes them)")
    module_name, func_name, _ = COMMANDS[command]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(rest) or 0)
    except ModuleNotFoundError as error:  # the light install has no PyTorch: one line, not a traceback
        from cnnkit.optional import TorchMissing, is_torch_missing

        if not is_torch_missing(error):
            raise
        from cnnkit.cli import fail

        return fail(f"python -m cnnkit {command}", TorchMissing(f"'{command}'"), status=1)


if __name__ == "__main__":
    sys.exit(main())
