"""The sandbox a student's notebook runs in while it is graded: bubblewrap, no network, bounded.

A submission is untrusted code. Its Jupyter kernel is started inside `bubblewrap
<https://github.com/containers/bubblewrap>`_ (``bwrap``, what Flatpak uses), which gives it

* its own mount namespace showing only, read-only, what Python needs (``/usr``, a few files of
  ``/etc``, the Python installation, the virtual environment, the cnnkit package, the data-set
  cache) and its working folder ``/submission``: a size-limited private tmpfs in which the files
  the student handed in (regular files only, never their notebooks, whose graded copies hold the
  hidden tests) are bound read-only; whatever the kernel writes vanishes with it.
  ``solutions/``, the gradebook, the other students, the instructor's home and the course's
  release metadata are simply not there, and not even the course's path is: the handed-in files
  are bound from a copy outside the course, and bwrap reads its arguments from a file descriptor,
  so ``/proc/1/cmdline`` shows none of them;
* no network (its own network namespace), its own PID namespace and ``/proc`` (it sees no
  other process), no capabilities, a new session (no terminal injection), and a clean
  environment: bwrap itself starts with an empty one, so even ``/proc/1/environ`` holds nothing
  of the grader's;
* resource bounds: address space, CPU seconds, file size (``prlimit``), and a process count
  (a pids cgroup where the machine lets the grader make one, else ``RLIMIT_NPROC``);
* modules an assignment forbids (the kit's reference ops, torch, scipy.signal, ...) replaced by
  stubs that raise ImportError, so a student function cannot delegate to them.

The kernel talks to the grader over Unix sockets in a folder bound into the sandbox
(jupyter_client's ``ipc`` transport), since a separate network namespace cannot reach TCP
ports on the host. ipykernel's parent poller is kept off (no ``JPY_PARENT_PID``): in its own PID
namespace the kernel's parent is bwrap's reaper, which the poller would take for a dead parent.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .policy import Limits, resolve_hidden

#: Files of /etc a Python kernel reads (dynamic loader, users, time zone, locale); nothing else of /etc.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime",
             "hosts", "mime.types", "locale.alias", "fonts")
#: Where the kernel's own files live inside the sandbox (a tmpfs).
SANDBOX_HOME = "/tmp/home"
SANDBOX_WORKDIR = "/submission"
SANDBOX_MPLCONFIG = "/tmp/matplotlib"


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandbox shows: the student's files, the channel folder, modules to hide.

    The student's kernel gets the channel read-write (its sockets and answers); the test runner
    gets it read-only (``channel_readonly``): it reads the kernel's answers and writes nothing.
    """

    submission: Path | None           # a folder of the student's handed-in files (shown at /submission)
    channel_dir: Path                 # the kernel's sockets and answers
    private_dir: Path                 # never shown: module stubs, bwrap's argument file
    hidden_modules: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    channel_readonly: bool = False

    def to_json(self) -> str:
        """The spec as JSON (the kernel provisioner reads it from a file)."""
        import json
        from dataclasses import asdict

        data = asdict(self)
        data.update(submission=str(self.submission) if self.submission else None, channel_dir=str(self.channel_dir),
                    private_dir=str(self.private_dir), hidden_modules=list(self.hidden_modules))
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "SandboxSpec":
        import json

        data = json.loads(text)
        return cls(submission=Path(data["submission"]) if data["submission"] else None,
                   channel_dir=Path(data["channel_dir"]), private_dir=Path(data["private_dir"]),
                   hidden_modules=tuple(data["hidden_modules"]), limits=Limits(**data["limits"]),
                   channel_readonly=bool(data["channel_readonly"]))


class SandboxUnavailable(RuntimeError):
    """This machine cannot run the sandbox (no bwrap, or bwrap cannot create namespaces here)."""


_probe_cache: dict[str, str | None] = {}


def unavailable_reason() -> str | None:
    """None when bubblewrap works on this machine, else a one-line reason (checked once per process)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (Debian/Ubuntu) or "
                "`dnf install bubblewrap`")
    if bwrap not in _probe_cache:
        try:
            done = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--proc", "/proc",
                                   "--die-with-parent", "--", "/bin/true"],
                                  capture_output=True, text=True, timeout=30)
            _probe_cache[bwrap] = None if done.returncode == 0 else (
                f"bwrap cannot create a sandbox here: {(done.stderr or '').strip()[:200]}")
        except (OSError, subprocess.SubprocessError) as exc:
            _probe_cache[bwrap] = f"bwrap cannot run here: {exc}"
    return _probe_cache[bwrap]


def available() -> bool:
    """True when submissions can be graded sandboxed on this machine."""
    return unavailable_reason() is None


def module_location(name: str) -> tuple[Path, bool] | None:
    """``(path, is_package)`` of an installed module, found without running it; None when absent."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        locations = list(spec.submodule_search_locations)
        return (Path(locations[0]).resolve(), True) if locations else None
    if spec.origin and spec.origin not in ("built-in", "frozen") and spec.origin.endswith(".py"):
        return Path(spec.origin).resolve(), False
    return None


def _stub_source(name: str) -> str:
    return (f'raise ImportError("{name} is not available in this assignment while it is graded: the graded '
            f'functions must be your own code (see the instructions at the top of the notebook).", '
            f'name="{name}")\n')


def _readonly_roots() -> list[Path]:
    """Folders the kernel's Python needs, read-only: the interpreter, the venv, the kit, the data cache."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}
    for name in ("cnnkit",):
        found = module_location(name)
        if found:
            roots.add(found[0])
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if path.is_dir() and (path.name in ("site-packages", "dist-packages") or "python3" in path.name):
            roots.add(path)
    return sorted(roots)


def data_cache() -> Path | None:
    """The course's data-set cache, if it exists (shown read-only)."""
    from ..config import data_root

    path = Path(data_root()).resolve()
    return path if path.is_dir() else None


def _matplotlib_fontlists() -> list[Path]:
    """The grader's matplotlib font list: shown read-only so a kernel does not rebuild it (seconds)."""
    try:
        import matplotlib

        cache = Path(matplotlib.get_cachedir())
    except Exception:  # noqa: BLE001 - matplotlib missing or unusable: the kernel builds its own
        return []
    return sorted(cache.glob("fontlist-*.json"))


def bwrap_command(spec: SandboxSpec, command: list[str], *, cgroups: list[Path] = ()) -> list[str]:
    """The command line that runs ``command`` inside the sandbox described by ``spec``.

    bwrap's own arguments go into a file in ``spec.private_dir``, read through file descriptor 3
    (``--args 3``), so the sandbox's ``/proc/1/cmdline`` names no path of the grader's. The
    command joins ``cgroups`` (see :func:`make_cgroups`) before anything of the sandbox runs.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(unavailable_reason() or "bwrap not found")
    limits = spec.limits
    channel = spec.channel_dir.resolve()
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--hostname", "grading"]
    args += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
             # --dev leaves /dev/shm a folder of an unbounded tmpfs: give it a bounded one of its own
             "--size", str(limits.scratch_bytes), "--tmpfs", "/dev/shm"]
    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"),
                         ("/lib32", "usr/lib32")):
        if os.path.islink(link):
            args += ["--symlink", target, link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--size", str(limits.scratch_bytes), "--tmpfs", "/tmp",
             "--dir", SANDBOX_HOME, "--dir", SANDBOX_MPLCONFIG]
    for root in _readonly_roots():
        args += ["--ro-bind", str(root), str(root)]
    cache = data_cache()
    if cache is not None:
        args += ["--ro-bind", str(cache), str(cache), "--setenv", "CNNKIT_DATA", str(cache)]
    for fontlist in _matplotlib_fontlists():
        args += ["--ro-bind", str(fontlist), f"{SANDBOX_MPLCONFIG}/{fontlist.name}"]
    # the student's folder: a private writable layer, the handed-in files read-only inside it
    args += ["--size", str(limits.scratch_bytes), "--tmpfs", SANDBOX_WORKDIR]
    for entry in _shown_files(spec.submission):
        args += ["--ro-bind", str(entry), f"{SANDBOX_WORKDIR}/{entry.name}"]
    args += ["--ro-bind" if spec.channel_readonly else "--bind", str(channel), str(channel)]
    args += _hide_modules(spec)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": SANDBOX_HOME,
           "LANG": "C.UTF-8", "MPLCONFIGDIR": SANDBOX_MPLCONFIG, "MPLBACKEND": "agg",
           "CNNKIT_OFFLINE": "1", "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"),
           "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    for name in ("CNNKIT_SIZE", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    if os.environ.get("NBGRADER_EXECUTION"):
        env["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    args += ["--chdir", SANDBOX_WORKDIR]
    spec.private_dir.mkdir(parents=True, exist_ok=True)
    args_file = spec.private_dir / "bwrap.args"
    args_file.write_bytes(b"".join(arg.encode() + b"\0" for arg in args))
    limited = ["prlimit", f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
               f"--fsize={limits.file_bytes}", "--core=0"]
    if not any((group / "pids.max").exists() for group in cgroups):
        # RLIMIT_NPROC counts every process and thread of the grading account, not only the
        # sandbox's: allow what the account already runs, plus the sandbox's own bound
        limited.append(f"--nproc={_threads_of_this_user() + limits.processes}")
    # open the argument file as fd 3, join the cgroups (nothing runs outside the bounds), go
    script = ('exec 3<"$1" || exit 1; shift; while [ "$1" != "--" ]; do echo $$ > "$1/cgroup.procs" || exit 1; '
              'shift; done; shift; exec "$@"')
    return (["/bin/sh", "-c", script, "sh", str(args_file), *[str(g) for g in cgroups], "--"]
            + limited + ["--", bwrap, "--args", "3", "--"] + command)


def _threads_of_this_user() -> int:
    """Processes and threads the grading account runs now (what RLIMIT_NPROC counts)."""
    import psutil

    uid, count = os.getuid(), 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        try:
            if proc.info["uids"] is not None and proc.info["uids"].real == uid:
                count += proc.info["num_threads"] or 1
        except (psutil.Error, TypeError):
            continue
    return count


def _shown_files(folder: Path | None) -> list[Path]:
    """The handed-in entries the kernel sees: regular files and folders, no links, no notebooks."""
    if folder is None or not folder.is_dir():
        return []
    shown = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() or entry.suffix == ".ipynb" or not (entry.is_file() or entry.is_dir()):
            continue
        shown.append(entry)
    return shown


def _hide_modules(spec: SandboxSpec) -> list[str]:
    """bwrap arguments that put an ImportError stub in place of each hidden module or function.

    A module (``"torch"``, ``"cnnkit.ops.pool"``) is replaced whole. A function
    (``"cnnkit.ops.conv.conv2d_backward"``) is hidden by showing its module with that function's
    body replaced by a ``raise ImportError``: the rest of the module (the forward a student is told
    to use) still works, and the hidden code is nowhere in the sandbox.
    """
    args: list[str] = []
    if not spec.hidden_modules:
        return args
    stub_dir = (spec.private_dir / "stubs").resolve()
    stub_dir.mkdir(parents=True, exist_ok=True)
    functions: dict[Path, list[str]] = {}
    pycache_dirs: set[Path] = set()
    hidden_packages: list[Path] = []
    for name in spec.hidden_modules:
        resolved = resolve_hidden(name)
        if resolved is None:
            raise ValueError(f"hidden module {name!r} is no installed module and no function of one")
        module, func = resolved
        if func is not None:
            path = module_location(module)[0]
            functions.setdefault(path, []).append(func)
            pycache_dirs.add(path.parent / "__pycache__")
            continue
        found = module_location(name)
        if found is None:  # a compiled module: nothing to stub by file
            raise ValueError(f"hidden module {name!r} is not a Python source module; it cannot be hidden")
        path, is_package = found
        stub = stub_dir / f"{name}.py"
        stub.write_text(_stub_source(name))
        if is_package:
            hidden_packages.append(path)
            args += ["--tmpfs", str(path), "--ro-bind", str(stub), str(path / "__init__.py")]
        else:
            args += ["--ro-bind", str(stub), str(path)]
            pycache_dirs.add(path.parent / "__pycache__")
    for index, (path, names) in enumerate(sorted(functions.items())):
        stub = stub_dir / f"partial-{index}-{path.name}"
        stub.write_text(without_functions(path.read_text(encoding="utf-8"), names))
        args += ["--ro-bind", str(stub), str(path)]
    # compiled copies of a hidden file sit in its folder's __pycache__: hide those folders too (the other
    # modules there are compiled again when imported: nothing is written, PYTHONDONTWRITEBYTECODE)
    for folder in sorted(pycache_dirs):
        if folder.is_dir() and not any(str(folder).startswith(str(hidden) + os.sep) for hidden in hidden_packages):
            args += ["--tmpfs", str(folder)]
    return args


def without_functions(source: str, names: list[str]) -> str:
    """``source`` with the body of each top-level function in ``names`` replaced by ``raise ImportError``."""
    import ast

    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            message = (f"{node.name} is not available in this assignment while it is graded: the graded "
                       "functions must be your own code (see the instructions at the top of the notebook).")
            node.body = [ast.parse(f"raise ImportError({message!r})").body[0]]
    return ast.unparse(tree) + "\n"


_CGROUP_ROOTS = {"pids": (Path("/sys/fs/cgroup/pids"),), "memory": (Path("/sys/fs/cgroup/memory"),)}
_CGROUP_V2 = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


def make_cgroups(limits: Limits) -> list[Path]:
    """Fresh cgroups bounding one sandbox as a whole: processes (``pids.max``) and memory of all its
    processes together, tmpfs pages included (``memory.max`` on cgroup v2, ``memory.limit_in_bytes`` on v1).

    Returns the groups made (none where the grader may not make them: then only the per-process
    bounds of :func:`bwrap_command` hold, as the README says).
    """
    groups: list[Path] = []
    for root in _CGROUP_V2:  # v2: one group with both controllers, where the parent delegates them
        try:
            controllers = (root / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if not os.access(root, os.W_OK) or not {"pids", "memory"} <= set(controllers):
            continue
        group = _new_group(root, {"pids.max": str(limits.processes), "memory.max": str(limits.memory_bytes),
                                  "memory.swap.max": "0"})
        if group is not None:
            return [group]
    for kind, settings in (("pids", {"pids.max": str(limits.processes)}),
                           ("memory", {"memory.limit_in_bytes": str(limits.memory_bytes)})):
        for root in _CGROUP_ROOTS[kind]:
            if (root / "cgroup.procs").exists() and os.access(root, os.W_OK):
                group = _new_group(root, settings)
                if group is not None:
                    groups.append(group)
                break
    return groups


def _new_group(root: Path, settings: dict[str, str]) -> Path | None:
    _remove_stale_cgroups(root)
    group = root / f"cnnkit-grade-{uuid.uuid4().hex[:10]}"
    try:
        group.mkdir()
        for name, value in settings.items():
            if name == "memory.swap.max" and not (group / name).exists():
                continue
            (group / name).write_text(value)
        return group
    except OSError:
        try:
            group.rmdir()
        except OSError:
            pass
        return None


def _remove_stale_cgroups(root: Path, age: float = 600.0) -> None:
    """Remove empty groups an interrupted grader left behind (a group with processes cannot be removed)."""
    import time

    for group in root.glob("cnnkit-grade-*"):
        try:
            if time.time() - group.stat().st_mtime > age:
                group.rmdir()
        except OSError:
            pass


def _counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def limit_events(groups: list[Path], limits: Limits) -> list[str]:
    """The bounds the sandbox ran into, in words: ``processes (54 forks refused)``, ``memory (...)``."""
    events = []
    for group in groups:
        refused = _counter(group / "pids.events", "max")
        if refused:
            events.append(f"processes ({refused} forks refused)")
        killed = _counter(group / "memory.events", "oom_kill") or _counter(group / "memory.oom_control", "oom_kill")
        if killed:
            events.append(f"memory ({killed} process(es) killed at the {limits.memory_bytes >> 20} MiB bound)")
    return events


def remove_cgroups(groups: list[Path]) -> None:
    """Kill whatever is left in the groups and remove them."""
    import signal
    import time

    for group in groups:
        for _ in range(50):
            try:
                pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
        try:
            group.rmdir()
        except OSError:
            pass
