"""The sandbox a student's notebook runs in while it is graded: bubblewrap, no network, bounded.

A submission is untrusted code. Its Jupyter kernel is started inside `bubblewrap
<https://github.com/containers/bubblewrap>`_ (``bwrap``, what Flatpak uses), which gives it

* its own mount namespace showing only, read-only, what Python needs (``/usr``, a few files of
  ``/etc``, the Python installation, the virtual environment, the cnnkit package, the data-set
  cache) and, writable, a size-limited scratch layer over the student's own autograded folder:
  the original files are bound read-only, new files land in a private tmpfs that vanishes with
  the kernel. ``solutions/``, the gradebook, the other students, the instructor's home and the
  course's release metadata are simply not there;
* no network (its own network namespace), its own PID namespace and ``/proc`` (it sees no
  other process), no capabilities, a new session (no terminal injection), and a clean
  environment (no variable of the grader's leaks in);
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

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait

#: Files of /etc a Python kernel reads (dynamic loader, users, time zone, locale); nothing else of /etc.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime",
             "hosts", "mime.types", "locale.alias", "fonts")
#: Where the kernel's own files live inside the sandbox (a tmpfs).
SANDBOX_HOME = "/tmp/home"
SANDBOX_MPLCONFIG = "/tmp/matplotlib"


@dataclass(frozen=True)
class Limits:
    """Resource bounds of one sandboxed kernel (and everything it starts)."""

    memory_bytes: int = 4 << 30      # address space of each process
    processes: int = 256             # processes and threads together
    cpu_seconds: int = 3600          # CPU time of each process
    file_bytes: int = 1 << 30        # largest file a process may write
    scratch_bytes: int = 512 << 20   # the writable tmpfs over the student's folder, and /tmp

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "processes", "cpu_seconds", "file_bytes", "scratch_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandbox shows: the student's folder, the grader's socket folder, modules to hide."""

    workdir: Path                     # the student's autograded folder: the kernel's cwd
    channel_dir: Path                 # read-write: kernel sockets, connection file, grader messages
    hidden_modules: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    stub_dir: Path | None = None      # where stub files are written (default: channel_dir/../stubs)


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


def bwrap_command(spec: SandboxSpec, command: list[str], *, pids_cgroup: Path | None = None) -> list[str]:
    """The full command line that runs ``command`` inside the sandbox described by ``spec``."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(unavailable_reason() or "bwrap not found")
    limits = spec.limits
    workdir, channel = spec.workdir.resolve(), spec.channel_dir.resolve()
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--hostname", "grading"]
    args += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
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
    args += ["--size", str(limits.scratch_bytes), "--tmpfs", str(workdir)]
    for entry in sorted(workdir.iterdir()) if workdir.is_dir() else []:
        if entry.is_symlink():
            continue  # a link handed in could point anywhere: it is simply not shown
        args += ["--ro-bind-try", str(entry), str(entry)]
    args += ["--bind", str(channel), str(channel)]
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
    args += ["--chdir", str(workdir), "--"]
    limited = ["prlimit", f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
               f"--fsize={limits.file_bytes}", "--core=0"]
    if pids_cgroup is None:
        limited.append(f"--nproc={limits.processes}")
    limited.append("--")
    outer = limited + args + command
    if pids_cgroup is not None:
        # join the cgroup first, then become the sandbox: nothing runs outside the bound
        outer = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(pids_cgroup)] + outer
    return outer


def _hide_modules(spec: SandboxSpec) -> list[str]:
    """bwrap arguments that put an ImportError stub in place of each hidden module."""
    args: list[str] = []
    if not spec.hidden_modules:
        return args
    stub_dir = (spec.stub_dir or spec.channel_dir.parent / "stubs").resolve()
    stub_dir.mkdir(parents=True, exist_ok=True)
    for name in spec.hidden_modules:
        found = module_location(name)
        if found is None:
            continue  # not installed: nothing to hide
        path, is_package = found
        stub = stub_dir / f"{name}.py"
        stub.write_text(_stub_source(name))
        if is_package:
            args += ["--tmpfs", str(path), "--ro-bind", str(stub), str(path / "__init__.py")]
        else:
            args += ["--ro-bind", str(stub), str(path)]
    return args


def make_pids_cgroup(limit: int) -> Path | None:
    """A fresh pids cgroup capped at ``limit`` (cgroup v2 or v1), or None where the grader may not make one."""
    candidates = [Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")]
    for root in candidates:
        if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
            continue
        group = root / f"cnnkit-grade-{uuid.uuid4().hex[:10]}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:
            try:
                group.rmdir()
            except OSError:
                pass
    return None


def remove_cgroup(group: Path | None) -> None:
    """Kill whatever is left in a cgroup and remove it."""
    if group is None:
        return
    import signal
    import time

    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            return
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


class SandboxKernelManager(AsyncKernelManager):
    """A KernelManager whose kernel runs in the sandbox of :attr:`spec`, reached over Unix sockets."""

    spec = AnyTrait(None, allow_none=True, help="the SandboxSpec of this kernel")

    def __init__(self, **kwargs):
        spec = kwargs.pop("spec")
        super().__init__(**kwargs)
        self.spec = spec
        channel = Path(spec.channel_dir).resolve()
        channel.mkdir(parents=True, exist_ok=True)
        self.transport = "ipc"
        self.ip = str(channel / "kernel")
        self.connection_file = str(channel / "kernel.json")
        self._cgroup: Path | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        # interrupts go over the control channel: bwrap does not pass signals on to the kernel
        self.kernel_spec.interrupt_mode = "message"
        remove_cgroup(self._cgroup)
        self._cgroup = make_pids_cgroup(self.spec.limits.processes)
        return bwrap_command(self.spec, command, pids_cgroup=self._cgroup)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        remove_cgroup(self._cgroup)
        self._cgroup = None

    def limits_in_force(self) -> str:
        """A short account of the bounds, for the report (e.g. ``processes <= 256 (cgroup)``)."""
        limits = self.spec.limits
        how = "cgroup" if self._cgroup is not None else "rlimit"
        return (f"memory <= {limits.memory_bytes >> 20} MiB, processes <= {limits.processes} ({how}), "
                f"CPU <= {limits.cpu_seconds} s")
