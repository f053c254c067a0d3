"""A whole class on a real JupyterHub: release, fetch, submit, collect, grade, feedback, by hand.

The hub is started by ``hub/launch.py``, the launcher of ``make hub``, in a state folder of its
own with real Unix accounts (an instructor and three students, names with a random prefix), PAM
passwords read from what the launcher prints, configurable-http-proxy from npm and cnnkit's
environment for every server. Then, as people do it:

* every account logs in over HTTP with its printed password; only the instructor's server has the
  formgrader, and the students' JupyterLab has nbgrader's instructor panels disabled;
* the instructor releases ``a1_convolution`` (``nbgrader release_assignment``, in a login shell);
* student 1 logs in with Chromium, sees the assignment in the Assignments tab, clicks Fetch,
  answers (the solution, written through her own server), clicks Validate and sees success,
  clicks Submit; then runs the explorers lecture (``lectures/*explorers*.ipynb``) in her lab;
* student 2 fetches and submits from a shell, with a ``conv2d`` that returns zeros;
* the instructor sets a due date that has just passed; student 3 submits the solution late;
* the instructor collects, grades with ``python -m cnnkit grade a1_convolution --jobs 2`` (in the
  bubblewrap sandbox, as the non-root instructor) and releases feedback; each student fetches it:
  right score, no hidden test, nobody else's answers; the late one is ``late`` in the report;
* the instructor gives a free-text answer 2 points through the formgrader's HTTP API, and the
  export (``python -m cnnkit grade`` again) carries them into ``grades.csv``;
* Ctrl+C (SIGINT) stops the hub and leaves no process of the class (checked with ``ps``).

Screenshots and the hub's log land in a pytest temporary folder whose path is printed.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import html
import importlib.util
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO, chromium_path
from nbhelpers import nbg, strip_markers

ASSIGNMENT = "a1_convolution"
SOLUTION = REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
LAUNCHER = REPO / "hub" / "launch.py"
START_S = 300       # the launcher's first start: accounts, the course's gradebook, the hub and its proxy
STOP_S = 90         # Ctrl+C to nothing left
UI_S = 120          # any one wait in the browser
RENDER_S = 150      # kernel start, imports and the explorers' first draw, on a busy 2-core machine
AUTO_POINTS = 26.0  # a1's autograded points


def _launcher():
    spec = importlib.util.spec_from_file_location("cnnkit_hub_launch", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _skip_reason() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux: the class's students are real Unix accounts (useradd, PAM, runuser)"
    for tool in ("useradd", "userdel", "chpasswd", "runuser", "su"):
        if shutil.which(tool) is None:
            return f"needs {tool} (the class's Unix accounts)"
    if importlib.util.find_spec("jupyterhub") is None or importlib.util.find_spec("requests") is None:
        return "needs JupyterHub in the environment: `make hub-deps` (pip install -e '.[hub]'); .ci/run does it"
    if shutil.which("node") is None:
        return "needs node (configurable-http-proxy)"
    if shutil.which("bwrap") is None:
        return "needs bubblewrap: the grader's sandbox (apt-get install bubblewrap)"
    launch = _launcher()
    if launch.proxy_command(REPO / ".hub", None) is None:
        return "needs configurable-http-proxy: `make hub-deps` installs it into .hub/node; .ci/run does it"
    blocked = launch.blocked_dirs(launch.needed_paths(Path(tempfile.gettempdir())))
    if blocked:
        return (f"the class's accounts cannot enter {', '.join(map(str, blocked))} on the way to cnnkit's Python: "
                f"`.venv/bin/python hub/launch.py grant-access` adds o+x there (.ci/run does it)")
    return None


SKIP = _skip_reason()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


# ------------------------------------------------------------------------------------------ the hub
@dataclass
class Hub:
    url: str
    state: Path
    proc: subprocess.Popen
    out: Path
    passwords: dict
    roles: dict
    artifacts: Path
    started: float = field(default_factory=time.monotonic)
    stop_code: int | None = None

    @property
    def instructor(self) -> str:
        return next(n for n, r in self.roles.items() if r == "instructor")

    @property
    def students(self) -> list[str]:
        return sorted(n for n, r in self.roles.items() if r == "student")

    @property
    def course(self) -> Path:
        return self.state / "home" / self.instructor / "course"

    def home(self, name: str) -> Path:
        return self.state / "home" / name

    def log(self, what: str) -> None:
        print(f"[hub test] {time.monotonic() - self.started:6.1f} s  {what}", flush=True)

    def stop(self) -> int:
        """Ctrl+C to the launcher; its exit status (it is killed with its group past STOP_S)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if self.stop_code is None:
            self.stop_code = self.proc.returncode
        return self.stop_code


def su(user: str, script: str, *, stdin: str | None = None, timeout: float = 300, check: bool = True):
    """``script`` in a login shell of ``user`` (``su - user -c``), as in a terminal on the hub."""
    done = subprocess.run(["su", "-", user, "-c", script], input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"as {user}: {script} exited with {done.returncode}:\n{done.stdout[-3000:]}\n"
                             f"{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub for one class, started like `make hub`; always stopped, its accounts and folder removed."""
    artifacts = tmp_path_factory.mktemp("hub-artifacts")
    print(f"\n[hub test] screenshots and logs go to {artifacts}")
    state = Path(tempfile.mkdtemp(prefix="cnnkit-hub-test-"))  # the accounts must enter it: not pytest's 0700 tmp
    state.chmod(0o755)
    prefix = f"t{secrets.token_hex(2)}-"
    out = artifacts / "launcher.out"
    command = [sys.executable, str(LAUNCHER), "--state", str(state), "--port", "0", "--users", "system",
               "--prefix", prefix, "--students", "3", "--assignments", ASSIGNMENT]
    with open(out, "w") as sink:
        proc = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    hub = None
    try:
        deadline = time.monotonic() + START_S
        text = ""
        while time.monotonic() < deadline:
            text = out.read_text()
            if "Stop with Ctrl+C" in text or proc.poll() is not None:
                break
            time.sleep(0.5)
        assert "Stop with Ctrl+C" in text, f"the launcher did not report a running hub:\n{text[-4000:]}"
        url = re.search(r"is up: (http://\S+?/)hub/login", text).group(1)
        found = re.findall(r"^  (instructor|student)\s+(\S+)\s+(\S+)$", text, re.M)
        hub = Hub(url=url, state=state, proc=proc, out=out, passwords={n: p for _, n, p in found},
                  roles={n: r for r, n, _ in found}, artifacts=artifacts)
        assert len(hub.students) == 3 and hub.instructor.startswith(prefix), text
        hub.log(f"hub up at {url}")
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        elif proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in (state / "logs").glob("*.log"):
            shutil.copy(log, artifacts / log.name)
        clean = subprocess.run([sys.executable, str(LAUNCHER), "clean", "--state", str(state)],
                               capture_output=True, text=True, timeout=120)
        print(f"[hub test] clean: {clean.stdout.strip()} {clean.stderr.strip()}")
        print(f"[hub test] screenshots and logs: {artifacts}")


# ------------------------------------------------------------------------------------------ helpers
def _xsrf(cookies, path_prefix: str) -> str:
    """The ``_xsrf`` cookie of one path (the hub's, or a user server's): requests' jar or Playwright's dicts."""
    for c in cookies:
        name, path, value = (c["name"], c["path"], c["value"]) if isinstance(c, dict) else (c.name, c.path, c.value)
        if name == "_xsrf" and path.startswith(path_prefix):
            return value
    raise AssertionError(f"no _xsrf cookie for {path_prefix}")


def login(hub: Hub, name: str, *, spawn: bool = True):
    """A requests session logged in to the hub with the printed password (and into the user's server)."""
    import requests

    session = requests.Session()
    session.get(hub.url + "hub/login", timeout=60).raise_for_status()
    answer = session.post(hub.url + "hub/login", allow_redirects=False, timeout=60,
                          data={"username": name, "password": hub.passwords[name],
                                "_xsrf": _xsrf(session.cookies, "/hub")})
    assert answer.status_code == 302, f"{name} could not log in: {answer.status_code} {answer.text[:500]}"
    if spawn:  # where the login leads: /hub/spawn starts the server; the lab then completes its OAuth
        session.get(hub.url + answer.headers["Location"].lstrip("/"), timeout=120)
        deadline = time.monotonic() + START_S
        while True:
            page = session.get(hub.url + f"user/{name}/lab", timeout=120)
            if page.status_code == 200 and page.url.rstrip("/").endswith(f"/user/{name}/lab"):
                break
            assert time.monotonic() < deadline, f"{name}'s server did not start: {page.status_code} {page.url}"
            time.sleep(1)
        session.lab_page = page.text
        session.headers["X-XSRFToken"] = _xsrf(session.cookies, f"/user/{name}")
    return session


def page_config(lab_html: str) -> dict:
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab_html, re.S)
    return json.loads(found.group(1))


def hidden_test_lines() -> list[str]:
    """Lines inside the solution's hidden-test blocks that appear nowhere else in it (not ``except ValueError:``)."""
    source = json.loads(SOLUTION.read_text())
    hidden, shown, inside = [], [], False
    for cell in source["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if line.strip() == "### BEGIN HIDDEN TESTS":
                inside = True
            elif line.strip() == "### END HIDDEN TESTS":
                inside = False
            elif inside and len(line.strip()) > 8:
                hidden.append(line.strip())
            elif not inside:
                shown.append(line)
    elsewhere = "\n".join(shown)
    return [line for line in hidden if line not in elsewhere]


ZERO_CONV2D = '''def conv2d(x, w, b=None, stride=1, padding=0):
    """Forward pass of a 2-D convolutional layer: not done yet, zeros of the right shape."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    n, _, height, width = x.shape
    f, _, kh, kw = w.shape
    return np.zeros((n, f, (height + 2 * padding - kh) // stride + 1, (width + 2 * padding - kw) // stride + 1))
'''


def answered(release: dict, author: str, *, zero_conv2d: bool = False) -> dict:
    """The released notebook with every answer filled in from the solution (markers stripped).

    ``author`` signs the free-text answer to ``q_filters``, so each student's feedback can be told apart.
    """
    solution = json.loads(SOLUTION.read_text())
    answers = {nbg(c)["grade_id"]: "".join(c["source"]) for c in solution["cells"]
               if nbg(c).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        meta = nbg(cell)
        if meta.get("solution"):
            text = strip_markers(answers[meta["grade_id"]])
            if meta["grade_id"] == "conv2d" and zero_conv2d:
                text = ZERO_CONV2D
            if meta["grade_id"] == "q_filters":
                text += f"\n\n(written by {author})"
            cell["source"] = text
    return nb


def released_notebook(hub: Hub) -> dict:
    return json.loads((hub.state / "exchange" / "cnnkit" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())


def hand_in(hub: Hub, student: str, nb: dict) -> None:
    """Fetch (unless done), write the answers as the student, submit: all in the student's login shell."""
    if not (hub.home(student) / ASSIGNMENT).exists():
        su(student, f"nbgrader fetch_assignment {ASSIGNMENT}")
    su(student, f"cat > {ASSIGNMENT}/{ASSIGNMENT}.ipynb", stdin=json.dumps(nb))
    su(student, f"nbgrader submit {ASSIGNMENT}")


def feedback_html(hub: Hub, student: str) -> str:
    pages = sorted((hub.home(student) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert pages, f"{student} fetched no feedback"
    return pages[-1].read_text()


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def total_score(page: str) -> tuple[float, float]:
    found = re.search(r"Score: ([\d.]+) / ([\d.]+)\)", page)
    assert found, "no score in the feedback"
    return float(found.group(1)), float(found.group(2))


# --------------------------------------------------------------------------------------------- tests
ROUND: dict = {}  # what the tests hand on: who submitted in the browser, the grading run's results


def test_logins_and_roles(hub):
    """Every printed password logs in over HTTP; only the instructor gets the formgrader."""
    import requests

    for name in hub.students[1:]:
        login(hub, name, spawn=False)
    bad = requests.Session()
    bad.get(hub.url + "hub/login", timeout=60)
    refused = bad.post(hub.url + "hub/login", allow_redirects=False, timeout=60,
                       data={"username": hub.students[0], "password": "not-" + hub.passwords[hub.students[0]],
                             "_xsrf": _xsrf(bad.cookies, "/hub")})
    assert refused.status_code == 403

    teacher = login(hub, hub.instructor)
    assert teacher.get(hub.url + f"user/{hub.instructor}/formgrader", timeout=60).status_code == 200
    listed = teacher.get(hub.url + f"user/{hub.instructor}/formgrader/api/assignments", timeout=60)
    assert listed.status_code == 200 and ASSIGNMENT in [a["name"] for a in listed.json()]
    disabled = page_config(teacher.lab_page).get("disabledExtensions", [])
    assert not [name for name in disabled if name.startswith("@jupyter/nbgrader")], disabled

    student = login(hub, hub.students[0])
    assert student.get(hub.url + f"user/{hub.students[0]}/formgrader", timeout=60).status_code == 404
    courses = student.get(hub.url + f"user/{hub.students[0]}/assignments?course_id=cnnkit", timeout=60)
    assert courses.status_code == 200 and courses.json()["success"], courses.text[:500]
    disabled = page_config(student.lab_page).get("disabledExtensions", [])
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                   "@jupyter/nbgrader:create-assignment"):
        assert plugin in disabled, disabled
    hub.log("logins and roles checked")


@pytest.fixture(scope="module")
def released(hub):
    """The instructor releases the assignment to the exchange, from a login shell in the course folder."""
    su(hub.instructor, f"cd course && nbgrader release_assignment {ASSIGNMENT}")
    assert (hub.state / "exchange" / "cnnkit" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    hub.log("released")


@pytest.mark.browser
def test_student_fetches_validates_and_submits_in_the_browser(hub, released):
    """Student 1, in Chromium: Assignments tab, Fetch, answers, Validate (success), Submit; the explorers."""
    from playwright.sync_api import expect, sync_playwright

    alice = hub.students[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(UI_S * 1000)
        step = "log in"
        try:
            page.goto(hub.url + "hub/login")
            page.fill("#username_input", alice)
            page.fill("#password_input", hub.passwords[alice])
            page.click("#login_submit")
            page.wait_for_url(re.compile(rf".*/user/{alice}/lab.*"))
            hub.log("student 1 in her lab")

            step = "the Nbgrader menu"
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
            menu = page.locator(".lm-Menu-content").first
            expect(menu).to_contain_text("Assignment List")
            assert "Formgrader" not in menu.inner_text()
            page.locator(".lm-Menu-itemLabel", has_text="Assignment List").first.click()

            step = "fetch"
            panel = page.locator("#nbgrader-assignment-list")
            offered = panel.locator("#released_assignments_list")
            expect(offered).to_contain_text(ASSIGNMENT)
            offered.get_by_role("button", name="Fetch").click()
            fetched = panel.locator("#fetched_assignments_list")
            expect(fetched.get_by_text(ASSIGNMENT).first).to_be_visible()
            hub.log("fetched in the Assignments tab")

            step = "answer (through her own server)"
            api = hub.url + f"user/{alice}/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
            headers = {"X-XSRFToken": _xsrf(context.cookies(), f"/user/{alice}")}
            mine = page.request.get(api, headers=headers)
            assert mine.ok, mine.text()[:500]
            body = {"type": "notebook", "format": "json", "content": answered(mine.json()["content"], alice)}
            saved = page.request.put(api, data=json.dumps(body),
                                     headers={**headers, "Content-Type": "application/json"})
            assert saved.ok, saved.text()[:500]

            step = "validate"
            fetched.locator("a.assignment-notebooks-link").first.click()
            fetched.locator(".nested_list_item button", has_text="Validate").first.click()
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_contain_text("Success! Your notebook passes all the tests.", timeout=RENDER_S * 1000)
            hub.log("validated: success")
            dialog.locator(".jp-Dialog-button").last.click()
            expect(dialog).to_have_count(0)

            step = "submit"
            fetched.get_by_role("button", name="Submit").first.click()
            expect(panel.locator("#submitted_assignments_list")).to_contain_text(ASSIGNMENT)
            ROUND["submitted_in_browser"] = alice
            hub.log("submitted in the Assignments tab")

            step = "the explorers"
            explorers = sorted((REPO / "lectures").glob("*explorers*.ipynb"))
            assert explorers, "no explorers lecture in lectures/"
            page.goto(hub.url + f"user/{alice}/lab/tree/lectures/{explorers[0].name}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            page.get_by_text("| Idle").first.wait_for(timeout=RENDER_S * 1000)
            page.locator(".jp-Notebook").first.click()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            size = page.locator(".cnnkit-conv-explorer .cnnkit-output-size").first
            expect(size).to_have_text("5 x 5", timeout=RENDER_S * 1000)
            handle = page.locator(".cnnkit-conv-explorer .widget-slider .noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")
            expect(size).to_have_text("6 x 6", timeout=RENDER_S * 1000)
            hub.log("the explorers render and react in her lab")
        except Exception:
            slug = re.sub(r"\W+", "-", step).strip("-")
            shot = hub.artifacts / f"browser-{slug}.png"
            page.screenshot(path=str(shot), full_page=False)
            print(f"[hub test] failed at {step!r}; screenshot: {shot}")
            raise
        finally:
            browser.close()


@pytest.fixture(scope="module")
def graded(hub, released):
    """The rest of the class hands in, the instructor grades and releases feedback, students fetch it."""
    alice, bob, carol = hub.students
    release = released_notebook(hub)
    if ROUND.get("submitted_in_browser") != alice:  # no browser here: she works from a terminal
        hand_in(hub, alice, answered(release, alice))
    hand_in(hub, bob, answered(release, bob, zero_conv2d=True))
    hub.log("students 1 and 2 submitted")

    due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)).replace(microsecond=0)
    su(hub.instructor, f"cd course && nbgrader db assignment add {ASSIGNMENT} "
                       f"--duedate='{due.strftime('%Y-%m-%d %H:%M:%S')} UTC'")
    time.sleep(max(0.0, (due - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1.0)
    hand_in(hub, carol, answered(release, carol))
    hub.log("student 3 submitted after the due date")

    su(hub.instructor, f"cd course && nbgrader collect {ASSIGNMENT}")
    started = time.monotonic()
    grading = su(hub.instructor, f"cd course && python -m cnnkit grade {ASSIGNMENT} --jobs 2", timeout=900)
    hub.log(f"graded in {time.monotonic() - started:.0f} s:\n{grading.stdout}")
    su(hub.instructor, f"cd course && nbgrader release_feedback {ASSIGNMENT}")
    for student in hub.students:
        su(student, f"nbgrader fetch_feedback {ASSIGNMENT}")
    hub.log("feedback released and fetched")
    report = list(csv.DictReader(io.StringIO((hub.course / f"grading_report_{ASSIGNMENT}.csv").read_text())))
    return {"report": {row["student"]: row for row in report}, "grading_output": grading.stdout}


def test_feedback_has_the_right_scores_and_nothing_it_should_not(hub, graded):
    alice, bob, carol = hub.students
    hidden = hidden_test_lines()
    assert hidden, "the solution notebook has no hidden tests: this check would prove nothing"
    autograded = json.loads((hub.course / "autograded" / alice / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    graded_source = "\n".join("".join(cell["source"]) for cell in autograded["cells"])
    assert [line for line in hidden if line in graded_source], "the hidden tests were not graded"
    pages = {s: feedback_html(hub, s) for s in hub.students}
    for student, page in pages.items():
        text = visible_text(page)
        assert "assert" in text and "conv2d" in text, "the feedback text was not read right"
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{student}'s feedback shows hidden tests: {leaked[:3]}"
        assert f"(written by {student})" in text
        others = [other for other in hub.students if other != student and other in text]
        assert not others, f"{student}'s feedback names {others}"
    score, top = total_score(pages[alice])
    assert score == AUTO_POINTS and top == 30.0, (score, top)
    assert total_score(pages[carol])[0] == AUTO_POINTS
    assert total_score(pages[bob])[0] < AUTO_POINTS
    report = graded["report"]
    assert float(report[alice]["auto_score"]) == AUTO_POINTS and float(report[bob]["auto_score"]) < AUTO_POINTS
    assert all(report[s]["sandbox"] == "bwrap" for s in hub.students), report

    # and nobody reads another's work, the hand-ins in the exchange or the course
    for target in (hub.home(bob) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                   hub.state / "exchange" / "cnnkit" / "inbound", hub.course / "gradebook.db"):
        peek = su(alice, f"ls -l '{target}' && head -c 100 '{target}'", check=False)
        assert peek.returncode != 0, f"student 1 can read {target}:\n{peek.stdout[:300]}"


def test_the_late_submission_is_reported_late(hub, graded):
    alice, bob, carol = hub.students
    report = graded["report"]
    assert report[carol]["status"] == "late", report[carol]
    assert "late" in report[carol]["detail"]
    assert report[alice]["status"] == "graded" and report[bob]["status"] == "graded", (report[alice], report[bob])


def test_manual_grade_in_the_formgrader_reaches_grades_csv(hub, graded):
    alice = hub.students[0]
    teacher = login(hub, hub.instructor)
    api = hub.url + f"user/{hub.instructor}/formgrader/api/"
    submissions = teacher.get(api + f"submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}", timeout=60)
    assert submissions.status_code == 200, submissions.text[:500]
    mine = next(s for s in submissions.json() if s["student"] == alice)
    grades = teacher.get(api + "grades", params={"submission_id": mine["id"]}, timeout=60).json()
    answer = next(g for g in grades if g["name"] == "q_corr_vs_conv")
    given = teacher.put(api + f"grade/{answer['id']}", data=json.dumps({"manual_score": 2}), timeout=60)
    assert given.status_code == 200 and given.json()["manual_score"] == 2, given.text[:500]
    hub.log("2 points given by hand in the formgrader")

    su(hub.instructor, f"cd course && python -m cnnkit grade {ASSIGNMENT}", timeout=300)  # re-exports, regrades nobody
    rows = list(csv.DictReader(io.StringIO((hub.course / "grades.csv").read_text())))
    row = next(r for r in rows if r["student_id"] == alice and r["assignment"] == ASSIGNMENT)
    assert float(row["score"]) == AUTO_POINTS + 2, row
    hub.log("grades.csv carries the hand-given points")


def test_ctrl_c_stops_the_whole_class(hub):
    code = hub.stop()
    said = hub.out.read_text()
    assert code == 0, said[-3000:]
    assert "stopped: no process of the class is left." in said
    prefix = hub.instructor.split("-")[0] + "-"
    deadline = time.monotonic() + 15  # a process that just died may wait a moment to be reaped
    while True:
        listing = subprocess.run(["ps", "-eo", "user:40,pid,stat,args", "--no-headers"], capture_output=True,
                                 text=True).stdout
        left = [line for line in listing.splitlines() if line.split()[0].startswith(prefix) or str(hub.state) in line]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    running = [line for line in left if not line.split()[2].startswith("Z")]
    assert not running, "still running after Ctrl+C:\n" + "\n".join(left)
    hub.log("Ctrl+C left no process" + (f" (not yet reaped: {left})" if left else ""))
