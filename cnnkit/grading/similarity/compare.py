"""Which students' functions match other code: winnowed k-gram fingerprints of normalised token streams.

The fingerprinting is MOSS's (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for document
fingerprinting", SIGMOD 2003), with the robust winnowing of the ``copydetect`` package: every run of
``k`` tokens is hashed, and of every ``window`` consecutive hashes the smallest is kept, so any match of
``k + window - 1`` tokens or more is always found and a match shorter than ``k`` tokens never counts.

Why copydetect's winnowing but not its whole pipeline: copydetect's own tokeniser works on text with
pygments and turns *every* name into ``V`` (``np.sum`` and ``np.pad`` look the same, which makes honest
numpy solutions alike), keeps statement order, and compares whole files. Here the unit is one graded
function, normalised by :mod:`.normalize` (names the code binds become ``v``, the library names it
calls stay, independent statements in canonical order), and the k-gram hashes are computed from the
tokens with a fixed hash (Python's ``hash`` changes from one process to the next, so copydetect's
would make two runs of the grader disagree by a few percent).

A student's function is scored against another unit as the share of its *own* tokens -- those not
covered by a k-gram of the released template, which is boilerplate -- that fall in fingerprints the
two share, each token weighted by its rarity (:class:`_Rarity`): honest loop solutions share the
instructor's set-up (shape unpacking, output size, ``np.zeros``, the loops over output positions),
which the kit and the class write in many places, and differ in the core, which a copy shares. A
function with fewer own tokens than ``min_tokens`` is not compared at all: a one-line formula is
written the same way by every honest student.

Measured on tests/similarity_cases (benchmarks/bench_similarity.py): with plain token shares no
threshold told the honest functions from the copies (honest up to 72 %, adapted kit copies down to
55 %); with the reach of :func:`kgram_hashes`, no runs reaching into the template and the rarity
weights, honest functions score at most 32 % and copies at least 42 %, hence the default 0.4.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .normalize import OPEN, Unit

#: Share of a function's own tokens found in another unit above which the pair is reported.
DEFAULT_THRESHOLD = 0.4
#: Functions with fewer own tokens (template excluded) are not compared.
DEFAULT_MIN_TOKENS = 50
#: k-gram length in tokens: a shared run shorter than this never counts.
DEFAULT_K = 8
#: Winnowing window: any shared run of K + WINDOW - 1 tokens is certain to be found.
DEFAULT_WINDOW = 4
#: How far back (in tokens) a variable's previous use still shapes a k-gram's hash (see kgram_hashes).
DEFAULT_REACH = 24
#: A fingerprint found in this many different files of reference code (kit modules, lecture and
#: solution notebooks) is an idiom, not a copy: it is ignored, as MOSS ignores passages common to
#: many programs (its ``-m``).
DEFAULT_COMMON_FILES = 6
#: A fingerprint found in the same function of more than this many students is how the class writes
#: it, not a copy: it is ignored (MOSS's ``-m``, whose default is 10). Only a class larger than this
#: can have such passages; a ring of copiers smaller than it is always compared.
DEFAULT_COMMON_STUDENTS = 10


@dataclass(frozen=True)
class Settings:
    """How similar is too similar, and how the fingerprints are taken."""

    threshold: float = DEFAULT_THRESHOLD
    min_tokens: int = DEFAULT_MIN_TOKENS
    k: int = DEFAULT_K
    window: int = DEFAULT_WINDOW
    common_files: int = DEFAULT_COMMON_FILES
    common_students: int = DEFAULT_COMMON_STUDENTS
    reach: int = DEFAULT_REACH

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) \
                or not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be a fraction in (0, 1] such as 0.6 (60 %), got {self.threshold!r}")
        for name, least in (("min_tokens", 1), ("k", 1), ("window", 1), ("common_files", 1), ("common_students", 1),
                            ("reach", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


@dataclass
class Match:
    """A student's function and another unit that holds most of it.

    ``score`` is the share of the student's own tokens found in ``other``; ``other_score`` the share of
    ``other``'s tokens found in the student's function; ``marked`` / ``other_marked`` the token indices
    of each that the match covers (for highlighting).
    """

    unit: Unit
    other: Unit
    score: float
    other_score: float
    marked: frozenset[int] = field(repr=False)
    other_marked: frozenset[int] = field(repr=False)
    also: tuple[str, ...] = ()    # other functions of the same file that hold parts of the student's

    @property
    def student(self) -> str:
        return self.unit.source.removeprefix("student ")

    @property
    def function(self) -> str:
        return self.unit.name


@dataclass
class Skipped:
    """A student's function that was not compared, and why."""

    student: str
    function: str
    reason: str


@dataclass
class Result:
    """Every pair above the threshold (most similar first), what was not compared, and the settings."""

    settings: Settings
    matches: list[Match]
    skipped: list[Skipped]
    compared: int
    students: list[str]
    functions: list[str]
    references: int

    def flags(self) -> dict[str, list[Match]]:
        """Each flagged student's best match per function, in the order of the assignment's functions."""
        best: dict[tuple[str, str], Match] = {}
        for match in self.matches:
            key = (match.student, match.function)
            if key not in best or match.score > best[key].score:
                best[key] = match
        by_student: dict[str, list[Match]] = defaultdict(list)
        order = {name: i for i, name in enumerate(self.functions)}
        for (student, _), match in sorted(best.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 0))):
            by_student[student].append(match)
        return dict(by_student)


class _Prints:
    """The fingerprints of one unit: its k-gram hashes, the winnowed ones, and which tokens are boilerplate."""

    def __init__(self, unit: Unit, settings: Settings, boilerplate: set[int]) -> None:
        self.unit = unit
        self.size = len(unit.tokens)
        hashes = kgram_hashes(unit, settings.k, settings.reach)
        self.hashes = hashes
        self.distinct = np.unique(hashes)             # sorted: membership by binary search (see holds)
        self.boiler = np.zeros(self.size, dtype=bool)
        header = unit.tokens.index(OPEN) + 1 if unit.tokens[:1] == ("def",) and OPEN in unit.tokens else 0
        self.boiler[:header] = True                   # the signature: the assignment gives it
        if boilerplate and len(hashes):
            for pos in np.flatnonzero(np.isin(hashes, list(boilerplate))):
                self.boiler[pos:pos + settings.k] = True
        self.own = int(self.size - self.boiler.sum())
        self.positions: dict[int, list[int]] = defaultdict(list)
        for pos in winnowed(hashes, settings.window):
            value = int(hashes[pos])
            if value not in boilerplate and not self.boiler[pos:pos + settings.k].any():
                self.positions[value].append(int(pos))   # a run reaching into the template is no evidence

    def weights(self, seen_elsewhere: np.ndarray, k: int) -> np.ndarray:
        """Each token's weight, ``1 / (1 + c)``, with ``c`` the fewest other places any run of ``k`` tokens
        holding it is also found (``seen_elsewhere[i]``: how many for the run starting at token ``i``)."""
        runs = len(seen_elsewhere)
        if runs == 0:
            return np.ones(self.size)
        fewest = np.full(self.size, np.iinfo(np.int64).max, dtype=np.int64)
        for offset in range(k):                       # runs - 1 + k == size: every token is in some run
            np.minimum(fewest[offset:offset + runs], seen_elsewhere, out=fewest[offset:offset + runs])
        return 1.0 / (1.0 + fewest)

    def drop(self, common: set[int]) -> None:
        """Forget the fingerprints in ``common`` (idioms): they match nothing any more."""
        for value in common & self.positions.keys():
            del self.positions[value]

    def covered(self, shared, k: int) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        for value in shared:
            for pos in self.positions[value]:
                mask[pos:pos + k] = True
        return mask & ~self.boiler


def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


_TOKEN_HASHES: dict[str, int] = {}


def kgram_hashes(unit_or_tokens, k: int, reach: int = DEFAULT_REACH) -> np.ndarray:
    """A fixed 53-bit hash of every run of ``k`` consecutive tokens (the same in every process).

    A variable's token ``v`` is hashed with the distance back to the same variable's previous use,
    when that use lies inside the run or at most ``reach`` tokens back (0 otherwise): Baker's
    parameterised matching, which keeps *which* variable stands where without caring what the
    variables are called or which number they got. The reach beyond the run is what tells
    ``image[m:m + kh]`` (a window at output position ``m``, kernel-sized) from ``image[i:i + oh]``
    (an output-sized shift by kernel tap ``i``): the tokens are the same, the variables' last uses
    are not.
    """
    for name, value, least in (("k", k, 1), ("reach", reach, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    if isinstance(unit_or_tokens, Unit):
        tokens, variables = unit_or_tokens.tokens, unit_or_tokens.variables
    else:
        tokens, variables = tuple(unit_or_tokens), ()
    n = len(tokens)
    if n < k:
        return np.zeros(0, dtype=np.int64)
    ids = np.array([_id(t) for t in tokens], dtype=np.uint64)
    back = np.zeros(n, dtype=np.int64)          # distance to the previous use of the same variable
    if variables:
        last: dict[int, int] = {}
        for i, var in enumerate(variables):
            if var >= 0:
                back[i] = i - last[var] if var in last else 0
                last[var] = i
    is_var = back > 0
    combined = np.zeros(n - k + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(k):
            part = ids[offset:n - k + 1 + offset].copy()
            dist = back[offset:n - k + 1 + offset]
            inside = is_var[offset:n - k + 1 + offset] & ((dist <= offset) | (dist <= reach))
            part[inside] = part[inside] + _DISTANCE_SALT * dist[inside].astype(np.uint64)
            combined = combined * np.uint64(1_000_003) + part
    return (combined >> np.uint64(11)).astype(np.int64)   # exact in copydetect's float64 window buffer


_DISTANCE_SALT = np.uint64(0x9E3779B97F4A7C15)


def _id(token: str) -> int:
    value = _TOKEN_HASHES.get(token)
    if value is None:
        value = _TOKEN_HASHES[token] = _token_hash(token)
    return value


def winnowed(hashes: np.ndarray, window: int) -> np.ndarray:
    """Positions of the hashes robust winnowing keeps (copydetect's implementation)."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    from copydetect.utils import winnow

    _, positions = winnow(hashes, window, remove_duplicates=False)
    return np.asarray(positions, dtype=np.int64)


def compare(students: list[Unit], references: list[Unit], boilerplate: list[Unit],
            settings: Settings = Settings(), functions: list[str] | None = None) -> Result:
    """Score every student's function against the references and against the other students' same function.

    ``students`` are units of kind ``student`` (``source`` is ``student <id>``, ``name`` the graded
    function), ``references`` the kit's code and the instructor's solutions, ``boilerplate`` the
    released template (never counts). Returns the pairs whose score reaches ``settings.threshold``.
    """
    k = settings.k
    template = {int(h) for unit in boilerplate for h in kgram_hashes(unit, k, settings.reach)}
    prints = [_Prints(unit, settings, template) for unit in students]
    refs = [_Prints(unit, settings, template) for unit in references]
    files: dict[int, set[str]] = defaultdict(set)
    for ref in refs:
        for value in ref.positions:
            files[value].add(ref.unit.source)
    common = {value for value, where in files.items() if len(where) >= settings.common_files}
    for p in refs:
        p.drop(common)
    holders: dict[tuple[str, int], set[str]] = defaultdict(set)
    for p in prints:
        for value in p.positions:
            holders[(p.unit.name, value)].add(p.unit.source)
    class_common: dict[str, set[int]] = defaultdict(set)
    for (name, value), who in holders.items():
        if len(who) > settings.common_students:
            class_common[name].add(value)
    for p in prints:
        p.drop(common | class_common[p.unit.name])
    ref_index: dict[int, list[int]] = defaultdict(list)
    for i, ref in enumerate(refs):
        for value in ref.positions:
            ref_index[value].append(i)
    peer_index: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, p in enumerate(prints):
        for value in p.positions:
            peer_index[(p.unit.name, value)].append(i)
    rarity = _Rarity(prints, refs)

    matches: list[Match] = []
    skipped: list[Skipped] = []
    compared = 0
    small = {i for i, p in enumerate(prints) if p.own < settings.min_tokens}
    for i, p in enumerate(prints):
        if i in small:
            if p.own == 0:
                continue                              # the template as released: nothing handed in
            skipped.append(Skipped(p.unit.source.removeprefix("student "), p.unit.name,
                                   f"{p.own} own tokens, fewer than {settings.min_tokens}: not compared"))
            continue
        compared += 1
        in_refs, in_peers = rarity.elsewhere(p)
        by_file: dict[str, dict[int, set[int]]] = defaultdict(dict)
        for j, shared in _candidates(p, ref_index, settings, bound=False).items():
            by_file[refs[j].unit.source][j] = shared
        for source, units in by_file.items():
            weights = p.weights(in_refs - rarity.in_file(p, source), k)
            match = _score_file(p, [(refs[j], shared) for j, shared in units.items()], weights, settings)
            if match:
                matches.append(match)
        peers = _candidates(p, peer_index, settings, key=p.unit.name)
        for j, shared in peers.items():
            if j == i or j in small or prints[j].unit.source == p.unit.source:
                continue
            weights = p.weights(in_refs + in_peers - holds(prints[j].distinct, p.hashes), k)
            match = _score(p, prints[j], shared, weights, settings)
            if match:
                matches.append(match)
    matches.sort(key=lambda m: (-m.score, m.student, m.function, m.other.label))
    return Result(settings, matches, skipped, compared,
                  sorted({u.source.removeprefix("student ") for u in students}),
                  functions or sorted({u.name for u in students}), len(references))


def _candidates(p: _Prints, index, settings: Settings, key: str | None = None, bound: bool = True
                ) -> dict[int, set[int]]:
    """Units sharing fingerprints with ``p`` (with ``bound``, enough to possibly reach the threshold), with the
    shared hashes."""
    shared: dict[int, set[int]] = defaultdict(set)
    weight: dict[int, int] = defaultdict(int)
    for value, positions in p.positions.items():
        for j in index.get(value if key is None else (key, value), ()):
            shared[j].add(value)
            weight[j] += len(positions)
    # The weighted score can exceed the plain share of covered tokens (rare code matched, common code
    # not), so the bound prunes only what could not reach half the threshold even unweighted.
    need = settings.threshold / 2 * max(p.own, 1) if bound else 0
    return {j: s for j, s in shared.items() if weight[j] * settings.k >= need}


class _Rarity:
    """How common each run of ``k`` tokens is: in how many reference files, and in how many students' same function.

    A passage found in many other places is an idiom (shape unpacking, an output-size formula, a loop
    over output positions): matching it says little about copying. Each student's token weighs
    ``1 / (1 + c)`` in the score, ``c`` the number of other places that hold a run of ``k`` tokens
    containing it, the compared one excluded: other reference files, when the student is compared with
    a reference (two students who copied one kit function must not dilute each other's evidence), and
    other reference files and other students' same function, when compared with another student.
    Only relative weights matter: code a whole class shares is discounted evenly and changes no score.
    """

    def __init__(self, prints: list[_Prints], refs: list[_Prints]) -> None:
        self.files: dict[int, set[str]] = defaultdict(set)
        by_file: dict[str, set[int]] = defaultdict(set)
        for ref in refs:
            values = set(ref.hashes.tolist())
            by_file[ref.unit.source] |= values
            for value in values:
                self.files[value].add(ref.unit.source)
        self.by_file = {source: np.unique(np.fromiter(values, dtype=np.int64, count=len(values)))
                        for source, values in by_file.items()}
        self.students: dict[tuple[str, int], int] = defaultdict(int)
        for p in prints:
            for value in set(p.hashes.tolist()):
                self.students[(p.unit.name, value)] += 1

    def elsewhere(self, p: _Prints) -> tuple[np.ndarray, np.ndarray]:
        """For each run of ``p``: how many reference files hold it, and how many other students."""
        name, hashes = p.unit.name, p.hashes.tolist()
        return (np.array([len(self.files.get(h, ())) for h in hashes], dtype=np.int64),
                np.array([self.students.get((name, h), 1) - 1 for h in hashes], dtype=np.int64))

    def in_file(self, p: _Prints, source: str) -> np.ndarray:
        """1 where reference file ``source`` holds the run: that file is the one compared, not elsewhere."""
        return holds(self.by_file[source], p.hashes)


def holds(distinct: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """1 where ``hashes[i]`` is in the sorted array ``distinct``, else 0 (``np.isin`` without its sort)."""
    if len(distinct) == 0:
        return np.zeros(len(hashes), dtype=np.int64)
    at = np.minimum(np.searchsorted(distinct, hashes), len(distinct) - 1)
    return (distinct[at] == hashes).astype(np.int64)


def _weighted(mask: np.ndarray, p: _Prints, weights: np.ndarray) -> float:
    """The share of ``p``'s own tokens (weighted by rarity) that ``mask`` covers."""
    total = float(weights[~p.boiler].sum())
    return float(weights[mask].sum()) / total if total > 0 else 0.0


def _score_file(p: _Prints, units: list[tuple[_Prints, set[int]]], weights: np.ndarray, settings: Settings
                ) -> Match | None:
    """``p`` against one file of reference code: the union of what its functions hold of ``p``.

    A copier often inlines a module's helpers into one function (``conv2d`` with ``_im2col``); the
    other side shown is the function that holds the most, the others are named in ``also``.
    """
    union = set().union(*(shared for _, shared in units))
    mask = p.covered(union, settings.k)
    score = _weighted(mask, p, weights)
    if score < settings.threshold:
        return None
    ranked = sorted(units, key=lambda u: -len(u[1]))          # the most shared fingerprints first
    best, shared = ranked[0]
    other = best.covered(shared, settings.k)
    match = Match(p.unit, best.unit, score, float(other.sum()) / max(best.own, 1),
                  frozenset(np.flatnonzero(mask).tolist()), frozenset(np.flatnonzero(other).tolist()))
    match.also = tuple(u.unit.name for u, s in ranked[1:])
    return match


def _score(p: _Prints, q: _Prints, shared: set[int], weights: np.ndarray, settings: Settings) -> Match | None:
    mask = p.covered(shared, settings.k)
    score = _weighted(mask, p, weights)
    if score < settings.threshold:
        return None
    other = q.covered(shared, settings.k)
    other_score = float(other.sum()) / max(q.own, 1)
    return Match(p.unit, q.unit, score, other_score, frozenset(np.flatnonzero(mask).tolist()),
                 frozenset(np.flatnonzero(other).tolist()))
