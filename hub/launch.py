"""Start a real JupyterHub for a trial class of the cnnkit course; stop it with Ctrl+C.

    python hub/launch.py [--state .hub] [--port 8000] [--students 3] ...   (what `make hub` runs)
    python hub/launch.py clean [--state .hub]                             (what `make hub-clean` runs)
    python hub/launch.py grant-access [--state .hub]                      (root: let the class reach Python)

One instructor and a few students log in with the passwords printed at start. As root they are
real Unix accounts (``useradd``, PAM, each server running as its user); otherwise everyone runs as
you, with separate homes in the state folder. The instructor's home holds the course (a copy of this
repository's ``nbgrader_config.py``, ``solutions/``, ``assignments/``, ``lectures/``, owned by the
instructor, the gradebook made by ``nbgrader generate_assignment``); the students' homes hold the
lectures; the nbgrader exchange is ``<state>/exchange`` (world-writable, sticky). Every server runs
cnnkit's environment (the Python that runs this script) with nbgrader's formgrader and course list
for the instructor only, the assignment list and validation for everyone.

Everything lives under the state folder, except the Unix accounts (removed by ``clean``) and, with
``--grant-access``, the search permission (``o+x``) added to folders above the Python installation
that the accounts could not enter (restored by ``clean``).
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
REPO = HUB_DIR.parent
CONFIG = HUB_DIR / "jupyterhub_config.py"
COURSE_ITEMS = ("nbgrader_config.py", "solutions", "assignments", "lectures")
DEFAULT_PORT = 8000
MARK = "# written by cnnkit's trial hub (hub/launch.py)"
#: What a state folder may hold; `clean` refuses to delete a folder with anything else in it.
STATE_ENTRIES = {"class.json", "home", "exchange", "etc", "hub", "logs", "node", ".gitignore", "launcher.pid"}
START_S = 180       # the hub (and its proxy) must answer within this
STOP_S = 60         # the hub must be gone this long after Ctrl+C, or it is killed


# ------------------------------------------------------------------------------------------ helpers
def say(*lines: str) -> None:
    print("\n".join(lines), flush=True)


def fail(message: str, code: int = 2) -> "NoReturn":  # noqa: F821
    print(f"cnnkit hub: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int, ip: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def load_record(state: Path) -> dict:
    path = state / "class.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def save_record(state: Path, record: dict) -> None:
    path = state / "class.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.chmod(0o600)
    os.replace(tmp, path)


def proxy_command(state: Path, given: str | None) -> str | None:
    """configurable-http-proxy: given, else installed by `make hub` under <state>/node or .hub/node, else PATH."""
    if given:
        return given
    for node_dir in (state / "node", REPO / ".hub" / "node"):
        found = node_dir / "node_modules" / ".bin" / "configurable-http-proxy"
        if found.exists():
            return str(found)
    return shutil.which("configurable-http-proxy")


def course_id(course_config: Path) -> str:
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader(course_config.name, path=str(course_config.parent)).load_config()
    return str(cfg.CourseDirectory.get("course_id") or "course")


def blocked_dirs(paths: list[Path]) -> list[Path]:
    """Folders on the way to ``paths`` that other users may not enter (no o+x)."""
    blocked: list[Path] = []
    for path in paths:
        path = path.resolve()
        for folder in [*reversed(path.parents), path]:
            try:
                mode = folder.stat().st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH and folder not in blocked:
                blocked.append(folder)
    return blocked


def needed_paths(state: Path) -> list[Path]:
    """What every account must reach: the interpreter, the environment, cnnkit's source, the state folder."""
    import cnnkit

    return [Path(sys.executable).resolve().parent, Path(sys.base_prefix), Path(sys.prefix),
            Path(cnnkit.__file__).resolve().parent, state]


def grant(state: Path, record: dict, folders: list[Path]) -> None:
    granted = record.setdefault("granted", {})
    for folder in folders:
        mode = stat.S_IMODE(folder.stat().st_mode)
        granted.setdefault(str(folder), mode)
        folder.chmod(mode | stat.S_IXOTH)
        say(f"granted o+x on {folder} (was {mode:04o}; `clean` restores it) so the class's accounts can reach Python")
    save_record(state, record)


# ------------------------------------------------------------------------------------------- users
class Users:
    """The class's accounts: Unix users (system mode) or names with homes in the state folder (local)."""

    def __init__(self, state: Path, record: dict, venv_bin: Path):
        self.state, self.record, self.venv_bin = state, record, venv_bin
        self.mode = record["mode"]

    @property
    def roles(self) -> dict[str, str]:
        return {name: u["role"] for name, u in self.record["users"].items()}

    def home(self, name: str) -> Path:
        return self.state / "home" / name

    def config_path(self, name: str) -> str:
        etc = self.state / "etc" / "jupyter"
        return os.pathsep.join([str(etc / self.roles[name]), str(etc / "common")])

    def env(self, name: str) -> dict[str, str]:
        """A clean login-like environment for ``name`` (as their server and their terminal have it)."""
        return {"HOME": str(self.home(name)), "USER": name, "LOGNAME": name, "LANG": "C.UTF-8", "SHELL": "/bin/bash",
                "PATH": os.pathsep.join([str(self.venv_bin), "/usr/local/bin", "/usr/bin", "/bin"]),
                "JUPYTER_CONFIG_PATH": self.config_path(name)}

    def command(self, name: str, argv: list[str]) -> list[str]:
        """``argv`` run as ``name`` with that user's environment."""
        env = [f"{k}={v}" for k, v in self.env(name).items()]
        prefix = ["runuser", "-u", name, "--"] if self.mode == "system" else []
        return prefix + ["env", "-i", *env, *argv]

    def run(self, name: str, argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(name, argv), cwd=cwd, capture_output=True, text=True, timeout=timeout)

    def chown(self, name: str, path: Path) -> None:
        if self.mode != "system":
            return
        pw = pwd.getpwnam(name)
        for folder, dirs, files in os.walk(path):
            for entry in [folder, *(os.path.join(folder, d) for d in dirs), *(os.path.join(folder, f) for f in files)]:
                os.lchown(entry, pw.pw_uid, pw.pw_gid)

    def ensure(self) -> None:
        """Make the accounts and their homes (once), set the passwords, write each ``.profile``."""
        (self.state / "home").mkdir(exist_ok=True)
        (self.state / "home").chmod(0o755)
        for name, user in self.record["users"].items():
            home = self.home(name)
            if self.mode == "system":
                try:
                    pw = pwd.getpwnam(name)
                except KeyError:
                    pw = None
                if pw is None:
                    subprocess.run(["useradd", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/bash",
                                    "--user-group", "--comment", "cnnkit trial hub", name], check=True)
                    user["created"] = True
                    save_record(self.state, self.record)
                elif not user.get("created") or pw.pw_dir != str(home):
                    fail(f"a Unix user {name!r} already exists and was not made for this state folder: "
                         f"choose another --prefix")
                subprocess.run(["chpasswd"], input=f"{name}:{user['password']}\n", text=True, check=True)
            home.mkdir(exist_ok=True)
            profile = home / ".profile"
            if not profile.exists() or profile.read_text().startswith(MARK):
                profile.write_text(f"{MARK}\nexport PATH=\"{self.venv_bin}:$PATH\"\n"
                                   f"export JUPYTER_CONFIG_PATH=\"{self.config_path(name)}\"\n")
            if self.mode == "system":
                pw = pwd.getpwnam(name)
                os.chown(home, pw.pw_uid, pw.pw_gid)
                os.chown(profile, pw.pw_uid, pw.pw_gid)
                home.chmod(0o700)

    def uids(self) -> set[int]:
        if self.mode != "system":
            return set()
        found = set()
        for name in self.record["users"]:
            try:
                found.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        return found


# ---------------------------------------------------------------------------------- the state folder
def write_jupyter_config(state: Path, course: Path, exchange: Path, cid: str) -> None:
    """Per-role Jupyter config folders (put on JUPYTER_CONFIG_PATH of each server and login)."""
    etc = state / "etc" / "jupyter"
    roots = {role: etc / role for role in ("common", "instructor", "student")}
    for folder in roots.values():
        (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    for folder in [state / "etc", etc, *roots.values(), *(f / "labconfig" for f in roots.values())]:
        folder.chmod(0o755)

    def write(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o644)

    # everyone: where the exchange is and which course it serves; no news or update checks (offline)
    write(roots["common"] / "nbgrader_config.py",
          f"{MARK}\nc = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = {cid!r}\n")
    write(roots["common"] / "jupyter_server_config.json", json.dumps(
        {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}, indent=1))
    write(roots["common"] / "labconfig" / "page_config.json", json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}, indent=1))
    # the instructor: the course folder (the formgrader finds it here), and every nbgrader extension
    write(roots["instructor"] / "nbgrader_config.py",
          f"{MARK}\nc = get_config()\nload_subconfig({str(course / 'nbgrader_config.py')!r})\n"
          f"c.CourseDirectory.root = {str(course)!r}\n")
    nbgrader = "nbgrader.server_extensions."
    everything = {nbgrader + name: True for name in ("formgrader", "course_list", "assignment_list",
                                                      "validate_assignment")}
    write(roots["instructor"] / "jupyter_server_config.json",
          json.dumps({"ServerApp": {"jpserver_extensions": everything}}, indent=1))
    write(roots["instructor"] / "labconfig" / "page_config.json", json.dumps({"disabledExtensions": {}}, indent=1))
    # students: the assignment list and validation only
    students = dict(everything, **{nbgrader + "formgrader": False, nbgrader + "course_list": False})
    write(roots["student"] / "jupyter_server_config.json",
          json.dumps({"ServerApp": {"jpserver_extensions": students}}, indent=1))
    write(roots["student"] / "labconfig" / "page_config.json", json.dumps({"disabledExtensions": {
        "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True,
        "@jupyter/nbgrader:create-assignment": True}}, indent=1))


GENERATE = """
import sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader
course, names = sys.argv[1], sys.argv[2:]
c = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
c.CourseDirectory.root = course
api = NbGraderAPI(CourseDirectory(config=c), config=c)
for name in names:
    result = api.generate_assignment(name, force=True)
    if not result["success"]:
        sys.exit(f"nbgrader generate_assignment {name} failed:\\n{result.get('error') or result.get('log')}")
    print("  generated", name, flush=True)
"""


def prepare_course(users: Users, instructor: str, assignments: list[str], record: dict) -> Path:
    """The course folder in the instructor's home, with a gradebook for ``assignments`` (made once)."""
    course = users.home(instructor) / "course"
    if not (course / "nbgrader_config.py").exists():
        course.mkdir(exist_ok=True)
        ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        for item in COURSE_ITEMS:
            src = REPO / item
            if src.is_dir():
                shutil.copytree(src, course / item, ignore=ignore, dirs_exist_ok=True)
            elif src.is_file():
                shutil.copy2(src, course / item)
        users.chown(instructor, course)
    todo = [a for a in assignments if a not in record.get("generated", [])]
    if todo:
        say(f"preparing the gradebook of {', '.join(todo)} as {instructor} (once) ...")
        done = users.run(instructor, [str(users.venv_bin / "python"), "-c", GENERATE, str(course), *todo], cwd=course)
        if done.returncode != 0:
            fail(f"could not prepare the course:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        record["generated"] = sorted(set(record.get("generated", [])) | set(todo))
        save_record(users.state, record)
    return course


def prepare_students(users: Users) -> None:
    for name, role in users.roles.items():
        lectures = users.home(name) / "lectures"
        if role == "student" and not lectures.exists():
            shutil.copytree(REPO / "lectures", lectures, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            users.chown(name, lectures)


def check_reachable(users: Users, instructor: str) -> None:
    """The instructor's account can run cnnkit's Python and import what the hub and the grader need."""
    probe = "import cnnkit.grading, jupyterhub.singleuser, jupyterlab, nbgrader"
    done = users.run(instructor, [str(users.venv_bin / "python"), "-c", probe], cwd=Path("/"), timeout=120)
    if done.returncode != 0:
        fail(f"the account {instructor!r} cannot run cnnkit's environment ({users.venv_bin / 'python'}):\n"
             f"{done.stderr.strip()[-1500:]}\nInstall it where every account can read it, or pass --grant-access.")


# ------------------------------------------------------------------------------------------- process
def class_processes(state: Path, uids: set[int]) -> list[int]:
    """Live processes of the class: run by its accounts, or carrying the state folder's mark."""
    mark = f"CNNKIT_HUB_STATE={state}".encode()
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue  # a zombie holds nothing; its parent reaps it
            if os.stat(f"/proc/{entry}").st_uid in uids:
                found.append(int(entry))
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.append(int(entry))
        except (OSError, IndexError):
            continue
    return found


def sweep(state: Path, uids: set[int]) -> list[int]:
    """Stop whatever the class left running (TERM, then KILL); return what is still there."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        pids = class_processes(state, uids)
        if not pids:
            return []
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and class_processes(state, uids):
            time.sleep(0.2)
    return class_processes(state, uids)


def wait_for_hub(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"jupyterhub exited with {proc.returncode}; the end of {log}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}hub/api/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    proc.terminate()
    fail(f"jupyterhub did not answer within {START_S} s; the end of {log}:\n{log.read_text()[-4000:]}")


def launcher_running(state: Path) -> int | None:
    try:
        pid = int((state / "launcher.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"launch.py" in cmdline and pid != os.getpid() else None


# ---------------------------------------------------------------------------------------- commands
def start(args) -> int:
    state = Path(args.state).resolve()
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        fail("JupyterHub is not installed in this environment: `make hub` installs it (pip install -e '.[hub]')")
    proxy = proxy_command(state, args.proxy)
    if proxy is None or shutil.which("node") is None:
        fail("configurable-http-proxy (node) is missing: `make hub` installs it with "
             "`npm install --prefix .hub/node configurable-http-proxy@5.3.0`")
    if launcher_running(state):
        fail(f"a hub is already running on {state} (pid {launcher_running(state)})")
    root = os.geteuid() == 0
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    if not (state / ".gitignore").exists():
        (state / ".gitignore").write_text("*\n")
    record = load_record(state)

    # system accounts where we are root and they can reach Python; else one account, separate homes
    blocked = blocked_dirs(needed_paths(state)) if root else []
    mode = args.users
    if mode == "system" and not root:
        fail("--users system needs root (useradd, PAM, switching user)")
    if mode == "auto":
        mode = "system" if root and (not blocked or args.grant_access) else "local"
        if root and mode == "local":
            say("NOTE: real Unix accounts need these folders to be enterable by other users: "
                + ", ".join(map(str, blocked)) + ". Starting the class without accounts (every server runs as "
                "root). `make hub HUB_ARGS=--grant-access` adds o+x to them (`make hub-clean` restores).")
    if record.get("users") and (record["mode"] != mode or record["prefix"] != args.prefix):
        fail(f"{state} was made for mode {record['mode']!r}, prefix {record['prefix']!r}: "
             f"`python hub/launch.py clean --state {state}` (make hub-clean) first")
    if not record.get("users"):  # a new class (`grant-access` may have recorded permissions already)
        names = {f"{args.prefix}instructor": "instructor"}
        names.update({f"{args.prefix}student{i}": "student" for i in range(1, args.students + 1)})
        record.update({"mode": mode, "prefix": args.prefix, "granted": record.get("granted", {}),
                       "users": {n: {"role": r, "password": secrets.token_urlsafe(9)} for n, r in names.items()}})
        save_record(state, record)
    if mode == "system" and blocked:
        if not args.grant_access:
            fail("these folders keep the class's accounts from cnnkit's Python: " + ", ".join(map(str, blocked))
                 + "; pass --grant-access (adds o+x, `clean` restores) or install the environment elsewhere")
        grant(state, record, blocked)

    venv_bin = Path(sys.executable).parent
    users = Users(state, record, venv_bin)
    instructor = next(n for n, r in users.roles.items() if r == "instructor")
    exchange = state / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)  # what nbgrader documents: everyone writes, nobody removes another's files
    for folder in ("hub", "logs"):
        (state / folder).mkdir(exist_ok=True)
        (state / folder).chmod(0o700)
    users.ensure()
    if mode == "system":
        check_reachable(users, instructor)
    course_dir = users.home(instructor) / "course"
    cid = course_id(REPO / "nbgrader_config.py")
    write_jupyter_config(state, course_dir, exchange, cid)
    assignments = args.assignments or sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
    prepare_course(users, instructor, assignments, record)
    prepare_students(users)

    # the hub
    ip = args.ip
    port = args.port
    if port is None:
        port = DEFAULT_PORT if port_is_free(DEFAULT_PORT, ip) else free_port()
    elif port == 0:
        port = free_port()
    elif not port_is_free(port, ip):
        fail(f"port {port} is in use: pick another (make hub HUB_PORT=...)")
    settings = {"mode": mode, "ip": ip, "port": port, "hub_port": free_port(), "proxy_api_port": free_port(),
                "proxy_command": proxy, "state": str(state), "hub_dir": str(state / "hub"),
                "home_root": str(state / "home"), "venv_bin": str(venv_bin), "roles": users.roles,
                "passwords_file": str(state / "hub" / "passwords.json"),
                "jupyter_config": {role: str(state / "etc" / "jupyter" / role)
                                   for role in ("common", "instructor", "student")}}
    passwords = state / "hub" / "passwords.json"
    passwords.write_text(json.dumps({n: u["password"] for n, u in record["users"].items()}))
    passwords.chmod(0o600)
    (state / "hub" / "settings.json").write_text(json.dumps(settings, indent=1))
    env = dict(os.environ)
    env.update({"CNNKIT_HUB_SETTINGS": str(state / "hub" / "settings.json"), "CNNKIT_HUB_STATE": str(state),
                "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
                "PATH": os.pathsep.join([str(venv_bin), str(Path(proxy).parent), env.get("PATH", "/usr/bin:/bin")])})
    log = state / "logs" / "jupyterhub.log"
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    (state / "launcher.pid").write_text(str(os.getpid()))
    with open(log, "a") as out:
        proc = subprocess.Popen([str(venv_bin / "jupyterhub"), "-f", str(CONFIG)], cwd=state / "hub", env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        host = "127.0.0.1" if ip in ("0.0.0.0", "", "127.0.0.1") else ip
        url = f"http://{host}:{port}/"
        wait_for_hub(url, proc, log)
        width = max(len(n) for n in users.roles) + 2
        lines = [f"cnnkit trial hub ({'Unix accounts, PAM' if mode == 'system' else 'no Unix accounts'}) "
                 f"is up: {url}hub/login", f"  {'role':<11} {'user':<{width}} password"]
        lines += [f"  {role:<11} {name:<{width}} {record['users'][name]['password']}"
                  for name, role in users.roles.items()]
        lines += [f"formgrader (instructor, open it in its own tab): {url}user/{instructor}/formgrader",
                  f"course folder: {course_dir} (owned by {instructor if mode == 'system' else 'you'})",
                  f"exchange:      {exchange} (mode 1777)   course id: {cid}",
                  f"hub log:       {log}",
                  "Stop with Ctrl+C: every server and kernel of the class stops with it."]
        say(*lines)
        while proc.poll() is None and stop["signal"] is None:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            say("stopping the hub, its proxy and every server ...")
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        left = sweep(state, users.uids())
        (state / "launcher.pid").unlink(missing_ok=True)
        if left:
            say(f"WARNING: processes still running after the stop: {left}")
        else:
            say("stopped: no process of the class is left.")
    if stop["signal"] is None:
        say(f"jupyterhub exited with {proc.returncode}; the end of {log}:", log.read_text()[-3000:])
        return 1
    return 0


def clean(args) -> int:
    """Stop what is left, delete the accounts made for the class, restore permissions, remove the folder."""
    state = Path(args.state).resolve()
    if not state.exists():
        say(f"{state}: nothing to clean")
        return 0
    if launcher_running(state):
        fail(f"the hub on {state} is running (pid {launcher_running(state)}): stop it with Ctrl+C first")
    unknown = sorted(p.name for p in state.iterdir() if p.name not in STATE_ENTRIES)
    if unknown:
        fail(f"{state} holds things the hub did not make ({', '.join(unknown)}): not deleting it")
    record = load_record(state)
    uids = set()
    for name, user in record.get("users", {}).items():
        if record.get("mode") == "system" and user.get("created"):
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
    left = sweep(state, uids)
    if left:
        fail(f"processes of the class would not stop: {left}")
    for name, user in record.get("users", {}).items():
        if record.get("mode") == "system" and user.get("created"):
            try:
                pwd.getpwnam(name)
            except KeyError:
                continue
            subprocess.run(["userdel", name], check=True)
            say(f"deleted the Unix account {name}")
    for folder, mode in record.get("granted", {}).items():
        try:
            os.chmod(folder, mode)
            say(f"restored {folder} to {mode:04o}")
        except OSError as exc:
            say(f"could not restore {folder}: {exc}")
    shutil.rmtree(state)
    say(f"removed {state}")
    return 0


def grant_access(args) -> int:
    """As root: add o+x to the folders that keep other accounts from cnnkit's Python (CI runs this)."""
    if os.geteuid() != 0:
        fail("grant-access is for root (it changes folder permissions for the class's accounts)")
    state = Path(args.state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    if not (state / ".gitignore").exists():
        (state / ".gitignore").write_text("*\n")
    blocked = blocked_dirs(needed_paths(state))
    if not blocked:
        say("every account can already reach cnnkit's Python")
        return 0
    grant(state, load_record(state), blocked)  # recorded in the state folder: `clean` restores
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python hub/launch.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", default="start", choices=["start", "clean", "grant-access"])
    parser.add_argument("--state", default=str(REPO / ".hub"), help="state folder (default: .hub/)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"public port (default {DEFAULT_PORT}, or a free one if taken; 0: a free one)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--users", choices=["auto", "system", "local"], default="auto",
                        help="system: real Unix accounts (root); local: everyone runs as you; auto: system when "
                             "root and the accounts can reach cnnkit's Python")
    parser.add_argument("--prefix", default="cnk-", help="prefix of the account names (default cnk-)")
    parser.add_argument("--students", type=int, default=3, help="how many students (default 3)")
    parser.add_argument("--assignments", nargs="+", default=None,
                        help="assignments to put in the gradebook (default: every one in solutions/)")
    parser.add_argument("--grant-access", action="store_true",
                        help="root: add o+x to folders above cnnkit's Python that the accounts cannot enter")
    parser.add_argument("--proxy", default=None, help="configurable-http-proxy command (default: .hub/node's)")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")
    if args.action == "clean":
        return clean(args)
    if args.action == "grant-access":
        return grant_access(args)
    return start(args)


if __name__ == "__main__":
    sys.exit(main())
