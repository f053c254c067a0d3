"""Build the students' mistake catalogue (cnnkit/checks/catalogue.json) from the instructor's mutants.

    python instructor/build_catalogue.py            # rewrite the file
    python instructor/build_catalogue.py --check    # exit 1 (one line saying what) when it is out of date

Each mutant in ``instructor/mistakes/`` is a solution with one mistake, so it never ships. What
``check()`` needs to recognise the mistake is what the mutant returns on the check's fixed, seeded
cases; this script runs every mutant on them and writes those outcomes as data (the observed
entries, the text of a malformed result, or the exception's name), together with each mistake's
id, title and lecture section and a fingerprint of the cases. Two kinds of mutant need more than
their own code, and are recorded where everything else is fixed:

* the 2x2 max-pool pair: a forward mutant runs with the correct backward that reads its cache
  (and is also recorded as ``check(max_pool2x2_backward, forward=...)`` sees it), a backward
  mutant with the correct forward;
* ``train``'s mutants call the notebook's ``loss_and_grads``: they are recorded on the a3
  network built from the kit's reference ops, which a student's right network reproduces.

Run it after changing a mutant, a title, or a check's cases; ``tests/test_no_answer_key.py`` fails
while the file is out of date.
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from cnnkit import ops  # noqa: E402
from cnnkit.checks import _SPECS  # noqa: E402
from cnnkit.checks._catalogue import FILE, FORMAT  # noqa: E402
from cnnkit.checks._core import Spec, default_run, fingerprint, invoke, summarize  # noqa: E402
from cnnkit.cli import ArgumentParser, fail  # noqa: E402
from instructor.mistakes import MUTANTS, Mutant  # noqa: E402

TARGET = ROOT / "cnnkit" / "checks" / FILE
#: Stored floats are compared with this relative tolerance: a rebuild on another CPU or BLAS may
#: differ in the last bits, and check() compares with tolerances of 1e-6 and wider.
RTOL = 1e-9


def reference_loss_and_grads(params: dict, x, y):
    """The a3 network (conv 3x3 pad 1 -> ReLU -> 2x2 max pool -> linear -> softmax loss), from the kit's ops."""
    a = ops.conv2d(x, params["w1"], params["b1"], padding=1)
    r = ops.relu(a)
    p, pool_cache = ops.max_pool2d(r, 2, 2, return_cache=True)
    flat = p.reshape(len(x), -1)
    loss, dscores = ops.softmax_cross_entropy(flat @ params["w2"] + params["b2"], y)
    dp = (dscores @ params["w2"].T).reshape(p.shape)
    da = ops.relu_backward(ops.max_pool2d_backward(dp, pool_cache), a)
    _, dw1, db1 = ops.conv2d_backward(da, x, params["w1"], padding=1)
    return loss, {"w1": dw1, "b1": db1, "w2": flat.T @ dscores, "b2": dscores.sum(axis=0)}


#: The notebook globals a mutant may call, as the graded notebook defines them.
NOTEBOOK = {"loss_and_grads": reference_loss_and_grads}


def _outcomes(spec: Spec, func: Callable, helpers: dict) -> list[dict | None]:
    run = spec.run or default_run
    return [summarize(spec, invoke(lambda: run(func, case, helpers))) if all(h in helpers for h in case.needs)
            else None for case in spec.cases()]


def observed(m: Mutant) -> dict[str, list[dict | None]]:
    """Per check that can see the mistake, the mutant's outcome on each of its cases."""
    own = _SPECS[m.function]
    companions = dict(m.helpers)
    base = {name: NOTEBOOK[name] for name in own.required if name in NOTEBOOK}
    func = m.in_notebook(**NOTEBOOK) if m.needs else m.mutant
    found = {m.function: _outcomes(own, func, {**base, **companions})}
    for spec in _SPECS.values():  # the pair: a mistake of one function, seen from its partner's check
        if m.function in spec.related and spec.role in companions:
            found[spec.name] = _outcomes(spec, companions[spec.role], {spec.related[m.function]: m.mutant})
    return found


def build() -> str:
    """The catalogue file's text: one mistake per line, so that a change reads well in a diff."""
    fingerprints = {name: fingerprint(spec.cases()) for name, spec in sorted(_SPECS.items())}
    lines = []
    for m in MUTANTS:
        entry = {"id": m.id, "function": m.function, "assignment": m.assignment, "title": m.title,
                 "lecture": m.lecture, "observed": observed(m)}
        lines.append(json.dumps(entry, sort_keys=True, allow_nan=True))
    return ('{"format": %d,\n "fingerprints": %s,\n "mistakes": [\n%s\n]}\n'
            % (FORMAT, json.dumps(fingerprints, sort_keys=True), ",\n".join(lines)))


def _differ(a: Any, b: Any, where: str) -> str | None:
    """Where two decoded JSON values differ (floats within RTOL), or None."""
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return f"{where}: {a!r} != {b!r}"
        if math.isnan(a) and math.isnan(b):
            return None
        return None if math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12) else f"{where}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where}: keys {sorted(set(a) ^ set(b))} differ"
        return next((d for k in sorted(a) for d in [_differ(a[k], b[k], f"{where}.{k}")] if d), None)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) for d in [_differ(x, y, f"{where}[{i}]")] if d), None)
    return None if a == b else f"{where}: {a!r} != {b!r}"


def difference(stored: str, built: str) -> str | None:
    """The first difference between the stored file and a fresh build, in words, or None."""
    a, b = json.loads(stored), json.loads(built)
    ids_a = [m["id"] for m in a.get("mistakes", [])]
    ids_b = [m["id"] for m in b.get("mistakes", [])]
    if ids_a != ids_b:
        gone, new = sorted(set(ids_a) - set(ids_b)), sorted(set(ids_b) - set(ids_a))
        return f"the mistakes differ (stale: {gone}, missing: {new})" if gone or new else "the mistakes' order differs"
    return _differ(a, b, "catalogue")


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # readable like any other file of the package
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="build_catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    args = parser.parse_args(argv)
    built = build()
    if args.check:
        if not TARGET.exists():
            return fail(parser.prog, f"{TARGET} is missing: run python instructor/build_catalogue.py", 1)
        diff = difference(TARGET.read_text(encoding="utf-8"), built)
        if diff:
            return fail(parser.prog, f"{TARGET.name} is out of date ({diff}): run python "
                                     "instructor/build_catalogue.py", 1)
        print(f"{TARGET.name} is up to date ({len(MUTANTS)} mistakes)")
        return 0
    _write(TARGET, built)
    print(f"wrote {TARGET} ({len(MUTANTS)} mistakes, {len(built) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
