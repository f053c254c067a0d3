"""A piece of Python as the fingerprinter sees it: one token stream that cosmetic edits do not change.

What a copier changes without changing the code, and what this file does about it:

* **formatting and comments** -- the code is parsed with :mod:`ast` and written back with
  :func:`ast.unparse`, so spacing, line breaks, parentheses style and comments are gone; docstrings
  are dropped too;
* **names** -- every variable the code binds itself (assignments, loop and comprehension variables,
  nested functions) becomes the token ``v``, as in MOSS, and only which uses are of one variable is
  kept (:attr:`Unit.variables`); a function's arguments become ``a0``, ``a1``, ... by position (the
  assignment fixes the signature). Names the code only reads from outside (``numpy``, ``range``, the
  graded functions) keep their meaning, with import aliases resolved (``np`` and ``numpy`` are both
  ``numpy``);
* **string texts** -- every string with spaces or punctuation (error messages, f-strings) is one token
  ``S``; a short word-like string (``"constant"``, an einsum spec ``"ijkl,kl->ij"``) is code and stays;
* **order of independent statements** -- inside each block, statements that neither read nor write
  what another writes may be swapped; they are put in one canonical order (a topological order of
  their dependencies, smallest normalised text first), so ``kh, kw = ...`` before or after the
  argument checks gives the same stream. Statements with effects the analysis cannot see (a bare
  call, ``return``, ``raise`` outside a guard, ``try``, ``with``) stay where they are;
* **dead code** -- ``pass``, bare constants, ``print`` calls and assignments nothing reads are left
  out of functions (inserted between a copy's lines they would only break its fingerprints);
* **argument checks** -- ``if <test>: raise ...`` and ``assert`` statements are left out of the stream
  (they stay in the text shown): the tests ask for them, so every honest hand-in has them, worded
  alike, and in a short function they would weigh more than the computation.

Each token remembers where it sits in the reformatted text (:attr:`Unit.display`), so the report can
highlight matched regions in code a person can read.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

#: The token every variable the code binds becomes.
LOCAL = "v"
#: The token every string literal becomes.
STRING = "S"
#: Tokens that open and close a block (the body of a ``for``, ``if``, ``def``, ...).
OPEN, CLOSE = "{", "}"
ARGS_BY_POSITION = True

_SKIPPED = {tokenize.ENCODING, tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
            tokenize.COMMENT, tokenize.ENDMARKER}
_BARRIERS = (ast.Return, ast.Raise, ast.Expr, ast.Delete, ast.Global, ast.Nonlocal, ast.Import, ast.ImportFrom,
             ast.Try, ast.With, ast.AsyncWith, ast.Break, ast.Continue, ast.FunctionDef, ast.AsyncFunctionDef,
             ast.ClassDef, ast.While, ast.Pass) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())
_MAGIC = re.compile(r"^\s*[%!]")
_CODE_LIKE = re.compile(r"^[\w,.\->]{1,24}$")


@dataclass(frozen=True)
class Unit:
    """One piece of code to compare: a function (or a notebook cell's loose code), normalised.

    ``source`` says where it comes from (``student bob``, ``cnnkit/ops/conv.py``, ...), ``name`` is
    the function's name (or ``cell 7``), ``kind`` one of ``student``, ``kit``, ``solution``,
    ``template``. ``tokens`` is the normalised stream in canonical order and ``spans[i]`` the
    characters of ``display`` that token ``i`` stands for (``(0, 0)`` for block markers).
    ``variables[i]`` tells which variable a ``v`` token is (a number, the same for every use of one
    variable; -1 for any other token): the fingerprints use it only *relatively*, as the distance
    back to the same variable's previous use (Baker's parameterised matching), so a renamed or an
    added variable changes nothing but the k-grams around it.
    """

    source: str
    name: str
    kind: str
    tokens: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    display: str
    original: str = field(default="", compare=False)
    variables: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """``student bob``, ``cnnkit/ops/conv.py: conv2d_naive``: how the report names it."""
        return self.source if self.kind == "student" else f"{self.source}: {self.name}"


def strip_magics(source: str) -> str:
    """Notebook code as Python: IPython ``%magic`` and ``!shell`` lines become blank (line numbers kept)."""
    if source.lstrip().startswith("%%"):
        return ""
    return "".join(("\n" if line.endswith("\n") else "") if _MAGIC.match(line) else line
                   for line in code_lines(source))


def import_aliases(tree: ast.AST) -> dict[str, str]:
    """What each imported name stands for: ``{"np": "numpy", "pad": "numpy.pad"}`` (relative imports kept as written)."""
    aliases = {}
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _statements(tree: ast.AST):
    """Every statement of a tree, nested ones too, without walking into expressions (cheaper than ast.walk)."""
    stack = list(getattr(tree, "body", [tree]))
    while stack:
        node = stack.pop()
        yield node
        for block in _child_blocks(node):
            stack.extend(block)


def top_level_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """The functions a module or cell defines at its top level, and the methods of its top-level classes."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node)
        elif isinstance(node, ast.ClassDef):
            found += [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return found


#: A function with more statements than this is not compared (a graded function has tens): the
#: ordering below is quadratic in a block's length, and a hand-in padded with 30,000 statements held
#: the whole class's report for minutes (the red team's "simbomb").
MAX_STATEMENTS = 3000
#: A function of more syntax nodes than this is not compared either (the second red team's literal list of a
#: million items took half a minute per hand-in).
MAX_NODES = 50_000
#: A block longer than this keeps its own order (canonical ordering compares every pair of statements).
MAX_REORDERED = 300


class TooLarge(ValueError):
    """A piece of code too large to compare (see MAX_STATEMENTS)."""


def normalise(node: ast.AST, *, source: str, name: str, kind: str, aliases: dict[str, str] | None = None,
              original: str = "") -> Unit:
    """The :class:`Unit` of one function definition, or of a module holding a cell's loose statements.

    ``node`` loses its docstrings (it is changed in place: pass a tree parsed for the purpose).
    Raises :class:`TooLarge` for code of more than ``MAX_STATEMENTS`` statements.
    """
    count = sum(1 for _ in _statements(node))
    if count > MAX_STATEMENTS:
        raise TooLarge(f"{name}: {count} statements, more than {MAX_STATEMENTS}")
    size = 0
    for size, _ in enumerate(ast.walk(node), 1):
        if size > MAX_NODES:
            raise TooLarge(f"{name}: more than {MAX_NODES} syntax nodes (a literal of a million items...)")
    _drop_docstrings(node)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        _drop_dead_code(node)          # a cell's loose code is read by later cells: only functions
    display = ast.unparse(node)
    tree = ast.parse(display)
    top = tree.body[0] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else tree
    every = list(ast.walk(tree))
    locals_ = _bound_names(top, every)
    arguments = _arguments(top) if top is not tree and ARGS_BY_POSITION else {}
    lines = _LineIndex(display)
    tokens = _tokens(display)
    names = _name_tokens(every, lines, locals_, arguments, aliases or {})
    strings = _string_spans(every, lines)
    normalised = _normalise_tokens(tokens, names, strings, keep_def_name=top is not tree)
    body = top.body if top is not tree else tree.body
    order = _Orderer(normalised, lines)
    if top is tree:
        stream = order.block(body)
    else:
        stream = order.statement(top)
    numbers: dict[str, int] = {}
    tokens_out, variables = [], []
    for token, _ in stream:
        if token.startswith(LOCAL + "\0"):
            variables.append(numbers.setdefault(token[2:], len(numbers)))
            tokens_out.append(LOCAL)
        else:
            variables.append(-1)
            tokens_out.append(token)
    return Unit(source=source, name=name, kind=kind, tokens=tuple(tokens_out),
                spans=tuple(s for _, s in stream), display=display, original=original or display,
                variables=tuple(variables))


def units_from_code(code: str, *, source: str, kind: str, names: set[str] | None = None,
                    loose_code: bool = False, cell: str = "", aliases: dict[str, str] | None = None,
                    tree: ast.Module | None = None) -> list[Unit]:
    """Every top-level function of ``code`` (only those in ``names`` when given) as a :class:`Unit`.

    With ``loose_code`` the statements outside functions become one more unit, named ``cell``.
    ``aliases`` are imports made elsewhere (a notebook's other cells); the code's own imports win.
    Code that does not parse gives no unit (SyntaxError is not raised: a broken cell compares to nothing).
    """
    code = strip_magics(code)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    aliases = {**(aliases or {}), **import_aliases(tree)}
    units: dict[str, Unit] = {}
    lines = code_lines(code)
    for node in top_level_functions(tree):
        if names is not None and node.name not in names:
            continue
        original = source_lines(lines, node)
        units[node.name] = normalise(node, source=source, name=node.name, kind=kind, aliases=aliases,
                                     original=original)   # a later definition replaces an earlier one
    result = list(units.values())
    if loose_code:
        rest = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                           ast.Import, ast.ImportFrom))]
        if rest:
            module = ast.Module(body=rest, type_ignores=[])
            result.append(normalise(module, source=source, name=cell or "cell", kind=kind, aliases=aliases,
                                    original=code))
    return result


def code_lines(code: str) -> list[str]:
    """The lines of ``code`` as Python's parser counts them (line breaks ``\\n``, ``\\r\\n``, ``\\r`` only).

    ``str.splitlines`` also splits at a form feed, ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028: a handed-in
    module starting ``#\\x0c\\x0c`` shifted every line number, and the IndexError that followed switched the
    similarity report off for the whole class (the third red team's find).
    """
    if not isinstance(code, str):
        raise TypeError(f"code must be a str, got {type(code).__name__}")
    parts = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def source_lines(lines: list[str], node: ast.AST) -> str:
    """The whole lines a node spans, decorators included (``ast.get_source_segment`` re-splits the file per call)."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "".join(lines[first - 1:node.end_lineno])


# ---------------------------------------------------------------- the steps of normalise()

def _drop_docstrings(node: ast.AST) -> ast.AST:
    """Remove the docstrings of ``node`` and of the functions and classes in it, in place (an emptied body gets ``pass``)."""
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = item.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                item.body = body[1:] or [ast.Pass()]
    return node


def _drop_dead_code(function: ast.AST) -> ast.AST:
    """Remove, in place, statements that cannot change what a function computes.

    ``pass``, a bare constant or name, a ``print(...)`` call, and an assignment whose targets are names
    nothing reads -- repeated, since removing one can leave another unread. Inserted between the lines
    of a copy, such statements would otherwise break its fingerprints (and shift every variable's
    distance to its previous use, see compare.kgram_hashes) without changing the code.
    """
    while True:
        read = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        read |= {name for n in ast.walk(function) if isinstance(n, (ast.Global, ast.Nonlocal)) for name in n.names}
        changed = False
        for item in ast.walk(function):
            for part in ("body", "orelse", "finalbody"):
                block = getattr(item, part, None)
                if not (isinstance(block, list) and block and all(isinstance(st, ast.stmt) for st in block)):
                    continue
                kept = [st for st in block if not _is_dead(st, read)]
                if len(kept) < len(block) and kept != []:
                    setattr(item, part, kept)
                    changed = True
                elif not kept and not (len(block) == 1 and isinstance(block[0], ast.Pass)):
                    setattr(item, part, [ast.Pass()])
                    changed = True
        if not changed:
            return function


def _is_dead(stmt: ast.stmt, read: set[str]) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        return isinstance(value, (ast.Constant, ast.Name)) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "print")
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] \
        if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) else None
    if not targets:
        return False
    names = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
    return all(isinstance(t, ast.Name) and t.id not in read for t in names)


def _bound_names(top: ast.AST, every: list[ast.AST]) -> set[str]:
    """Names the code binds itself: arguments, stores, loop and ``with``/``except`` targets, nested defs.

    ``every`` is the list of all nodes of the tree (one walk serves every step).
    """
    bound = set()
    released = set()
    for node in every:
        if isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not top:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            released.update(node.names)
    return bound - released


class _LineIndex:
    """Turns the ast's (line, byte column) positions into character offsets of the text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True) or [""]
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, byte_col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def _tokens(text: str) -> list[tuple[int, str, int, int]]:
    """``(type, text, start, end)`` of every meaningful token, offsets in characters."""
    lines = _LineIndex(text)
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in _SKIPPED:
            continue
        start = lines.starts[tok.start[0] - 1] + tok.start[1]
        end = lines.starts[tok.end[0] - 1] + tok.end[1]
        found.append((tok.type, tok.string, start, end))
    return found


def _arguments(function: ast.AST) -> dict[str, str]:
    """A function's arguments by position: ``{"image": "a0", "kernel": "a1"}``."""
    args = function.args
    every = args.posonlyargs + args.args + ([args.vararg] if args.vararg else []) + args.kwonlyargs \
        + ([args.kwarg] if args.kwarg else [])
    return {arg.arg: f"a{i}" for i, arg in enumerate(every)}


def _name_tokens(every: list[ast.AST], lines: _LineIndex, locals_: set[str], arguments: dict[str, str],
                 aliases: dict[str, str]) -> dict[int, list[str]]:
    """The normalised tokens of each variable name, keyed by its character offset.

    A local variable's token carries its name after a NUL (``v\\0name``) until numbering.
    """
    names: dict[int, list[str]] = {}
    for node in every:
        if isinstance(node, ast.Name):
            ident = node.id
        elif isinstance(node, ast.arg):
            ident = node.arg
        else:
            continue
        at = lines.offset(node.lineno, node.col_offset)
        if ident in arguments:
            names[at] = [arguments[ident]]
        elif ident in locals_:
            names[at] = [LOCAL + "\0" + ident]
        elif ident in aliases:
            names[at] = _dotted(aliases[ident])
        else:
            names[at] = [ident]
    return names


def _dotted(name: str) -> list[str]:
    parts = name.split(".")
    tokens = [parts[0]]
    for part in parts[1:]:
        tokens += [".", part]
    return tokens


def _string_spans(every: list[ast.AST], lines: _LineIndex) -> list[tuple[int, int]]:
    """Character spans of the outermost string literals (f-strings whole)."""
    spans = []
    inner = set()
    for node in every:
        if isinstance(node, ast.JoinedStr):
            inner.update(id(n) for n in ast.walk(node) if n is not node)
    for node in every:
        if id(node) in inner:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _CODE_LIKE.match(node.value):
            continue                                   # "ijkl,kl->ij", "constant": code, kept as written
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))):
            spans.append((lines.offset(node.lineno, node.col_offset), lines.offset(node.end_lineno, node.end_col_offset)))
    return sorted(spans)


def _normalise_tokens(tokens, names, strings, *, keep_def_name: bool) -> list[tuple[list[str], int, int]]:
    """Each source token with its normalised form (a list: an alias can stand for ``numpy . pad``)."""
    result = []
    string_index, previous, defs_seen = 0, "", 0
    for kind, text, start, end in tokens:
        while string_index < len(strings) and strings[string_index][1] <= start:
            string_index += 1
        if string_index < len(strings) and strings[string_index][0] <= start < strings[string_index][1]:
            span = strings[string_index]
            if result and result[-1][1] == span[0]:
                continue                                   # the rest of the same string literal
            result.append(([STRING], span[0], span[1]))
            continue
        if kind == tokenize.NAME and start in names:
            form = names[start]
        elif kind == tokenize.NAME and previous in ("def", "class"):
            defs_seen += 1
            form = [text] if keep_def_name and defs_seen == 1 else [LOCAL + "\0" + text]
        else:
            form = [text]
        result.append((form, start, end))
        previous = text
    return result


class _Orderer:
    """Emits a block's statements in canonical order, each as ``(token, span)`` pairs with block markers."""

    def __init__(self, tokens: list[tuple[list[str], int, int]], lines: _LineIndex) -> None:
        self.tokens = tokens
        self.starts = [t[1] for t in tokens]
        self.lines = lines

    def _span(self, node: ast.AST) -> tuple[int, int]:
        return (self.lines.offset(node.lineno, node.col_offset), self.lines.offset(node.end_lineno, node.end_col_offset))

    def statement(self, node: ast.stmt) -> list[tuple[str, tuple[int, int]]]:
        start, end = self._span(node)
        blocks = sorted((self._span(b[0])[0], self._span(b[-1])[1], b) for b in _child_blocks(node))
        out: list[tuple[str, tuple[int, int]]] = []
        i = _first_at(self.starts, start)
        while i < len(self.tokens) and self.tokens[i][1] < end:
            if blocks and self.tokens[i][1] >= blocks[0][0]:
                _, block_end, stmts = blocks.pop(0)
                out.append((OPEN, (0, 0)))
                out += self.block(stmts)
                out.append((CLOSE, (0, 0)))
                i = _first_at(self.starts, block_end)
                continue
            form, s, e = self.tokens[i]
            out += [(t, (s, e)) for t in form]
            i += 1
        for _, _, stmts in blocks:                       # a block with no token left before it (cannot happen)
            out += [(OPEN, (0, 0))] + self.block(stmts) + [(CLOSE, (0, 0))]
        return out

    def block(self, stmts: list[ast.stmt]) -> list[tuple[str, tuple[int, int]]]:
        emitted = [self.statement(s) for s in stmts]
        keys = [" ".join(t.split("\0")[0] for t, _ in e) for e in emitted]
        effects = [_effects(s) for s in stmts]
        order = _canonical_order(keys, effects)
        return [pair for i in order if not _is_check(stmts[i]) for pair in emitted[i]]


def _first_at(starts: list[int], offset: int) -> int:
    import bisect

    return bisect.bisect_left(starts, offset)


def _child_blocks(node: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists directly inside a compound statement (body, else, handlers' bodies, cases)."""
    blocks = []
    for name in node._fields:
        value = getattr(node, name, None)
        if not isinstance(value, list) or not value:
            continue
        if all(isinstance(v, ast.stmt) for v in value):
            blocks.append(value)
        else:
            blocks += [v.body for v in value if isinstance(v, (ast.ExceptHandler,)) and v.body]
            blocks += [v.body for v in value if type(v).__name__ == "match_case" and v.body]
    return blocks


@dataclass
class _Effects:
    reads: set[str]
    writes: set[str]
    barrier: bool


def _effects(node: ast.stmt) -> _Effects:
    """What a statement reads and writes (names), and whether it must stay where it is."""
    reads, writes = set(), set()
    barrier = isinstance(node, _BARRIERS)
    if isinstance(node, ast.If) and _is_guard(node):
        barrier = False
    for item in ast.walk(node):
        if isinstance(item, ast.Name):
            (reads if isinstance(item.ctx, ast.Load) else writes).add(item.id)
        elif isinstance(item, (ast.Subscript, ast.Attribute)) and isinstance(item.ctx, (ast.Store, ast.Del)):
            base = _base_name(item)
            if base:
                writes.add(base)
        elif isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute):
            base = _base_name(item.func.value)
            if base:                                     # x.append(...), out.fill(0): x may change
                writes.add(base)
        elif isinstance(item, ast.AugAssign):
            base = _base_name(item.target)
            if base:
                reads.add(base)
        elif isinstance(item, (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom,
                               ast.Global, ast.Nonlocal)) and not (isinstance(node, ast.If) and _is_guard(node)):
            barrier = True
    return _Effects(reads, writes, barrier)


def _is_check(node: ast.stmt) -> bool:
    """An argument check (``if <test>: raise ...``, ``assert``): left out of the stream, see the module doc."""
    return isinstance(node, ast.Assert) or (isinstance(node, ast.If) and _is_guard(node))


def _is_guard(node: ast.If) -> bool:
    """``if <test>: raise ...`` with no else: an argument check, which may be reordered among the others."""
    return not node.orelse and all(isinstance(s, ast.Raise) for s in node.body)


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _conflict(a: _Effects, b: _Effects) -> bool:
    return (a.barrier or b.barrier or bool(a.writes & (b.reads | b.writes)) or bool(b.writes & a.reads))


def _canonical_order(keys: list[str], effects: list[_Effects]) -> list[int]:
    """A topological order of the statements' dependencies, the smallest key first among those ready.

    Two statements depend on each other when one writes what the other reads or writes, or either is
    a barrier; the order is the same for any reordering of independent statements.
    """
    n = len(keys)
    if n > MAX_REORDERED:
        return list(range(n))
    before = [{j for j in range(i) if _conflict(effects[j], effects[i])} for i in range(n)]
    done: set[int] = set()
    order = []
    while len(order) < n:
        ready = [i for i in range(n) if i not in done and before[i] <= done]
        pick = min(ready, key=lambda i: (keys[i], i))
        order.append(pick)
        done.add(pick)
    return order
