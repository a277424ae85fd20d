"""A C preprocessor for kernel headers: #include in the tree's include paths, #if/#ifdef/#elif
evaluated with a kernel config, the macro table, and macro expansion (hide sets, as C11 6.10.3.4).

It keeps what the layout extractor and the anchors checker need: every #define with its file and
line, and the active (non-directive) tokens of each file, also with file and line, for the C front
end (cparse.py) to split into declarations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KernelError

# ---------------------------------------------------------------------------------------------
# Tokens

_PP_TOKEN = re.compile(r"""
   (?P<ws>[ \t\f\v\r]+)
  |(?P<num>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*)
  |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
  |(?P<str>L?"(?:[^"\\\n]|\\.)*")
  |(?P<char>L?'(?:[^'\\\n]|\\.)*')
  |(?P<punct>\.\.\.|<<=|>>=|\#\#|<<|>>|<=|>=|==|!=|&&|\|\||->|\+\+|--|[-+*/%&|^]=|[-+*/%~!&|^<>?:(){}\[\],.\#=;])
  |(?P<other>.)
""", re.X)


class Tok:
    """A preprocessing token. ``hs`` is its hide set (macro names not to expand again)."""
    __slots__ = ("kind", "text", "file", "line", "hs", "space")

    def __init__(self, kind, text, file, line, hs=frozenset(), space=False):
        self.kind = kind
        self.text = text
        self.file = file
        self.line = line
        self.hs = hs
        self.space = space     # whitespace before it (for re-joining text)

    def copy(self, **kw) -> "Tok":
        t = Tok(self.kind, self.text, self.file, self.line, self.hs, self.space)
        for k, v in kw.items():
            setattr(t, k, v)
        return t

    def __repr__(self):
        return f"Tok({self.text!r} {self.file}:{self.line})"


def tokenize_line(text: str, file: str, line: int) -> list[Tok]:
    out: list[Tok] = []
    pos, space = 0, False
    while pos < len(text):
        m = _PP_TOKEN.match(text, pos)
        kind = m.lastgroup
        if kind == "ws":
            space = True
        else:
            out.append(Tok(kind, m.group(), file, line, frozenset(), space))
            space = False
        pos = m.end()
    return out


def join_tokens(toks: list[Tok]) -> str:
    """Tokens back to text, one space where the source had whitespace (or where needed)."""
    parts = []
    prev = None
    for t in toks:
        if prev is not None and (t.space or (_wordy(prev) and _wordy(t))):
            parts.append(" ")
        parts.append(t.text)
        prev = t
    return "".join(parts)


def _wordy(t: Tok) -> bool:
    return t.kind in ("id", "num", "str", "char")


def logical_lines(text: str, file: str) -> list[tuple[int, str]]:
    """Source text to logical lines (comments removed, backslash-newlines joined), each with its
    first physical line number."""
    out = []
    cur: list[str] = []
    start = None
    i, n, line = 0, len(text), 1
    in_block = False
    buf = []
    # strip comments, keeping newlines (and strings/char literals intact)
    while i < n:
        c = text[i]
        if in_block:
            if text.startswith("*/", i):
                in_block = False
                buf.append(" ")
                i += 2
                continue
            if c == "\n":
                buf.append("\n")
            i += 1
            continue
        if text.startswith("/*", i):
            in_block = True
            i += 2
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            buf.append(text[i:j + 1])
            i = j + 1
            continue
        buf.append(c)
        i += 1
    for phys in "".join(buf).split("\n"):
        if start is None:
            start = line
        if phys.endswith("\\"):
            cur.append(phys[:-1])
        else:
            cur.append(phys)
            out.append((start, "".join(cur)))
            cur, start = [], None
        line += 1
    if cur:
        out.append((start, "".join(cur)))
    return out


# ---------------------------------------------------------------------------------------------
# Macros

@dataclass
class Macro:
    name: str
    params: list[str] | None        # None: object-like
    body: list[Tok]
    file: str
    line: int
    variadic: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def text(self) -> str:
        return join_tokens(self.body)


# Kernel compile-time checks whose value is 0 when they pass (a compile would stop otherwise):
# the extractor gives them that value instead of expanding the sizeof(struct{int:-!!e;}) tricks.
COMPILE_TIME_ZERO = ("BUILD_BUG_ON_ZERO", "BUILD_BUG_ON_ZERO_MSG", "GENMASK_INPUT_CHECK",
                     "__BUILD_BUG_ON_ZERO_MSG")
CONFIG_TESTS = ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE")


class Preprocessor:
    """Runs #include/#if/#define over headers of a KernelTree with a Config."""

    def __init__(self, tree, config, predefined: dict[str, str] | None = None):
        self.tree = tree
        self.config = config
        self.macros: dict[str, Macro] = {}
        self.code: dict[str, list[Tok]] = {}      # file -> active non-directive tokens
        self.order: list[str] = []                # files in the order first read
        self.skipped: dict[str, str] = {}         # '<asm/x.h>' -> why (generated / absent)
        self.notes: list[str] = []
        self._once: set[str] = set()
        self._depth = 0
        self.fixed: set[str] = set()       # names a header must not redefine (run-time assumptions)
        for name, val in config.macros().items():
            self.define_text(name, val, "<config>", 0)
        for name, val in (predefined or {}).items():
            self.define_text(name, val, "<predefined>", 0)

    # --- definitions ---------------------------------------------------------------------------

    def define_text(self, name: str, body: str, file: str, line: int):
        params = None
        m = re.fullmatch(r"([A-Za-z_]\w*)\(([^)]*)\)", name)
        if m:
            name = m.group(1)
            params = [p.strip() for p in m.group(2).split(",") if p.strip()]
        self.macros[name] = Macro(name, params, tokenize_line(body, file, line), file, line)

    def _define(self, toks: list[Tok], file: str, line: int):
        if not toks or toks[0].kind != "id":
            raise KernelError(f"{file}:{line}: #define without a name")
        name = toks[0].text
        if name in self.fixed:
            return
        rest = toks[1:]
        params = None
        variadic = False
        if rest and rest[0].text == "(" and not rest[0].space:
            params = []
            i = 1
            while i < len(rest) and rest[i].text != ")":
                t = rest[i]
                if t.text == "...":
                    variadic = True
                    params.append("__VA_ARGS__")
                elif t.kind == "id":
                    if i + 1 < len(rest) and rest[i + 1].text == "...":
                        variadic = True
                        i += 1
                    params.append(t.text)
                elif t.text != ",":
                    raise KernelError(f"{file}:{line}: malformed parameter list of macro {name}")
                i += 1
            if i >= len(rest):
                raise KernelError(f"{file}:{line}: unterminated parameter list of macro {name}")
            rest = rest[i + 1:]
        if rest:
            rest = [rest[0].copy(space=False)] + rest[1:]
        self.macros[name] = Macro(name, params, rest, file, line, variadic)

    # --- files -----------------------------------------------------------------------------------

    def run_file(self, relpath: str):
        """Preprocesses one file of the tree (a path relative to the tree's root)."""
        path = self.tree.root / relpath
        if not path.is_file():
            raise KernelError(f"{relpath}: no such file in the kernel tree {self.tree.root}")
        self._process(relpath, path)

    def _process(self, rel: str, path: Path):
        if rel in self._once:
            return
        self._depth += 1
        if self._depth > 200:
            raise KernelError(f"{rel}: #include nested too deeply (a cycle?)")
        if rel not in self.code:
            self.code[rel] = []
            self.order.append(rel)
        code = self.code[rel]
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise KernelError(f"{rel}: cannot read: {e.strerror}") from None
        # conditional stack entries: [active_now, any_taken, parent_active]
        stack: list[list[bool]] = []
        active = True
        for line, ltext in logical_lines(text, rel):
            stripped = ltext.lstrip()
            if stripped.startswith("#"):
                toks = tokenize_line(stripped[1:], rel, line)
                if not toks:
                    continue
                d = toks[0].text
                args = toks[1:]
                if d in ("if", "ifdef", "ifndef"):
                    if not active:
                        stack.append([False, True, False])
                        continue
                    if d == "if":
                        val = self.eval_if(args, rel, line)
                    else:
                        if not args or args[0].kind != "id":
                            raise KernelError(f"{rel}:{line}: #{d} without a name")
                        val = (args[0].text in self.macros) == (d == "ifdef")
                    stack.append([val, val, True])
                    active = val
                elif d == "elif" or d == "elifdef" or d == "elifndef":
                    if not stack:
                        raise KernelError(f"{rel}:{line}: #{d} without #if")
                    top = stack[-1]
                    if not top[2] or top[1]:
                        top[0] = False
                    else:
                        if d == "elif":
                            val = self.eval_if(args, rel, line)
                        else:
                            val = (bool(args) and args[0].text in self.macros) == (d == "elifdef")
                        top[0] = val
                        top[1] = val
                    active = top[0]
                elif d == "else":
                    if not stack:
                        raise KernelError(f"{rel}:{line}: #else without #if")
                    top = stack[-1]
                    top[0] = top[2] and not top[1]
                    top[1] = True
                    active = top[0]
                elif d == "endif":
                    if not stack:
                        raise KernelError(f"{rel}:{line}: #endif without #if")
                    stack.pop()
                    active = stack[-1][0] if stack else True
                elif not active:
                    continue
                elif d == "define":
                    self._define(args, rel, line)
                elif d == "undef":
                    if args:
                        self.macros.pop(args[0].text, None)
                elif d == "include" or d == "include_next":
                    self._include(args, rel, line)
                elif d == "pragma":
                    if args and args[0].text == "once":
                        self._once.add(rel)
                elif d == "error":
                    if stack and self.skipped:
                        # a bare tree lacks generated headers (generated/bounds.h ...): a sanity check
                        # like page-flags-layout.h's "Not enough bits" then tests undefined names
                        # (0); a build would not stop here, so neither does the extraction
                        self.notes.append(f"#error at {rel}:{line} not taken as fatal: its #if may test names "
                                          f"from the headers this tree lacks ({', '.join(sorted(self.skipped))})")
                        continue
                    raise KernelError(f"{rel}:{line}: #error {join_tokens(args)} (with this config)")
                # #warning, #line, null directives: nothing to do
            elif active:
                code.extend(tokenize_line(ltext, rel, line))
        if stack:
            raise KernelError(f"{rel}: unterminated #if at the end of the file")
        self._depth -= 1

    def _include(self, args: list[Tok], rel: str, line: int):
        if args and args[0].kind == "id":
            args = self.expand(args)
        if not args:
            raise KernelError(f"{rel}:{line}: #include without a file")
        if args[0].kind == "str":
            name, quoted = args[0].text[1:-1], True
        elif args[0].text == "<":
            name = "".join(t.text for t in args[1:-1])
            quoted = False
        else:
            raise KernelError(f"{rel}:{line}: malformed #include")
        found = self.tree.resolve_include(name, rel if quoted else None)
        if found is None:
            key = f"<{name}>"
            if key not in self.skipped:
                why = self.tree.why_missing(name)
                self.skipped[key] = why
                self.notes.append(f"skipped {key} ({why}), included from {rel}:{line}")
            return
        self._process(found, self.tree.root / found)

    # --- #if ---------------------------------------------------------------------------------------

    def eval_if(self, toks: list[Tok], file: str, line: int) -> bool:
        # defined X / defined(X) before expansion
        out = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.text == "defined":
                if i + 1 < len(toks) and toks[i + 1].text == "(":
                    name = toks[i + 2].text if i + 2 < len(toks) else ""
                    i += 4
                else:
                    name = toks[i + 1].text if i + 1 < len(toks) else ""
                    i += 2
                out.append(Tok("num", "1" if name in self.macros else "0", file, line))
                continue
            out.append(t)
            i += 1
        exp = self.expand(out)
        try:
            return _IfEval(exp, file, line).run() != 0
        except KernelError:
            raise
        except (IndexError, ValueError, ZeroDivisionError) as e:
            raise KernelError(f"{file}:{line}: cannot evaluate #if {join_tokens(toks)}: {e}") from None

    # --- expansion ---------------------------------------------------------------------------------

    def expand(self, toks: list[Tok], keep: set[str] | frozenset = frozenset()) -> list[Tok]:
        """Fully macro-expands tokens (names in ``keep`` are left as they are)."""
        out: list[Tok] = []
        work = list(reversed(toks))          # a stack: the next token is work[-1]
        steps = 0
        while work:
            t = work.pop()
            steps += 1
            if steps > 2_000_000:
                raise KernelError(f"{t.file}:{t.line}: macro expansion does not terminate")
            if t.kind != "id" or t.text in t.hs or t.text in keep:
                out.append(t)
                continue
            name = t.text
            if name in CONFIG_TESTS or name in COMPILE_TIME_ZERO:
                args, rparen = self._collect_args(work, t)
                if args is None:
                    out.append(t)
                    continue
                if name in COMPILE_TIME_ZERO:
                    val = "0"
                else:
                    sym = "".join(x.text for x in args[0]) if args else ""
                    val = "1" if self.config.test(name, sym) else "0"
                out.append(Tok("num", val, t.file, t.line, t.hs, t.space))
                continue
            m = self.macros.get(name)
            if m is None:
                out.append(t)
                continue
            if m.params is None:
                hs = t.hs | {name}
                body = [b.copy(file=t.file, line=t.line, hs=b.hs | hs) for b in m.body]
                body = self._paste(body, {}, m)
                if body:
                    body[0] = body[0].copy(space=t.space)
                work.extend(reversed(body))
                continue
            args, rparen = self._collect_args(work, t)
            if args is None:
                out.append(t)
                continue
            if len(args) == 1 and not args[0] and not m.params:
                args = []
            if m.variadic:
                n = len(m.params) - 1
                if len(args) < n:
                    raise KernelError(f"{t.file}:{t.line}: macro {name} ({m.where}) takes at least {n} arguments, given {len(args)}")
                va = []
                for j, a in enumerate(args[n:]):
                    if j:
                        va.append(Tok("punct", ",", t.file, t.line))
                    va.extend(a)
                args = args[:n] + [va]
            elif len(args) != len(m.params):
                raise KernelError(f"{t.file}:{t.line}: macro {name} ({m.where}) takes {len(m.params)} arguments, given {len(args)}")
            hs = (t.hs & rparen.hs) | {name}
            body = self._substitute(m, dict(zip(m.params, args)), t)
            body = [b.copy(hs=b.hs | hs) for b in body]
            if body:
                body[0] = body[0].copy(space=t.space)
            work.extend(reversed(body))
        return out

    def _collect_args(self, work: list[Tok], at: Tok):
        if not work or work[-1].text != "(":
            return None, None
        work.pop()
        args: list[list[Tok]] = [[]]
        depth = 0
        while True:
            if not work:
                raise KernelError(f"{at.file}:{at.line}: unterminated call of macro {at.text}")
            t = work.pop()
            if t.text == "(":
                depth += 1
            elif t.text == ")":
                if depth == 0:
                    return args, t
                depth -= 1
            elif t.text == "," and depth == 0:
                args.append([])
                continue
            args[-1].append(t)

    def _substitute(self, m: Macro, args: dict[str, list[Tok]], at: Tok) -> list[Tok]:
        body = m.body
        out: list[Tok] = []
        i = 0
        while i < len(body):
            b = body[i]
            if b.text == "#" and i + 1 < len(body) and body[i + 1].text in args:
                s = join_tokens(args[body[i + 1].text]).replace("\\", "\\\\").replace('"', '\\"')
                out.append(Tok("str", f'"{s}"', at.file, at.line, space=b.space))
                i += 2
                continue
            if b.kind == "id" and b.text in args:
                raw = args[b.text]
                next_paste = i + 1 < len(body) and body[i + 1].text == "##"
                prev_paste = i > 0 and body[i - 1].text == "##"
                rep = raw if (next_paste or prev_paste) else self.expand(raw)
                rep = [r.copy(file=at.file, line=at.line) for r in rep]
                if rep:
                    rep[0] = rep[0].copy(space=b.space)
                else:
                    rep = [Tok("placemarker", "", at.file, at.line)]
                out.extend(rep)
                i += 1
                continue
            out.append(b.copy(file=at.file, line=at.line))
            i += 1
        out = self._paste(out, args, m)
        return [t for t in out if t.kind != "placemarker"]

    def _paste(self, toks: list[Tok], args, m: Macro) -> list[Tok]:
        if not any(t.text == "##" for t in toks):
            return toks
        out: list[Tok] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.text == "##" and out and i + 1 < len(toks):
                left = out.pop()
                right = toks[i + 1]
                text = left.text + right.text
                if left.kind == "placemarker":
                    new = right
                elif right.kind == "placemarker":
                    new = left
                else:
                    rt = tokenize_line(text, left.file, left.line)
                    if len(rt) != 1:
                        raise KernelError(f"{m.where}: pasting '{left.text}' and '{right.text}' in macro {m.name} does not give a token")
                    new = rt[0].copy(hs=left.hs, space=left.space)
                out.append(new)
                i += 2
                continue
            out.append(t)
            i += 1
        return out


# ---------------------------------------------------------------------------------------------
# #if expressions (intmax_t arithmetic; unknown identifiers are 0)

_INT = re.compile(r"(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)\Z")
_BIN = {
    "*": (10, lambda a, b: a * b), "/": (10, None), "%": (10, None),
    "+": (9, lambda a, b: a + b), "-": (9, lambda a, b: a - b),
    "<<": (8, lambda a, b: a << b), ">>": (8, lambda a, b: a >> b),
    "<": (7, lambda a, b: int(a < b)), ">": (7, lambda a, b: int(a > b)),
    "<=": (7, lambda a, b: int(a <= b)), ">=": (7, lambda a, b: int(a >= b)),
    "==": (6, lambda a, b: int(a == b)), "!=": (6, lambda a, b: int(a != b)),
    "&": (5, lambda a, b: a & b), "^": (4, lambda a, b: a ^ b), "|": (3, lambda a, b: a | b),
    "&&": (2, None), "||": (1, None),
}


def _wrap(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


class _IfEval:
    def __init__(self, toks: list[Tok], file: str, line: int):
        self.t = toks
        self.i = 0
        self.file, self.line = file, line

    def fail(self, msg):
        raise KernelError(f"{self.file}:{self.line}: cannot evaluate #if: {msg}")

    def peek(self):
        return self.t[self.i].text if self.i < len(self.t) else None

    def run(self) -> int:
        if not self.t:
            self.fail("empty expression")
        v = self.cond()
        if self.i != len(self.t):
            self.fail(f"unexpected '{self.t[self.i].text}'")
        return v

    def cond(self) -> int:
        c = self.binary(1)
        if self.peek() == "?":
            self.i += 1
            a = self.cond()
            if self.peek() != ":":
                self.fail("'?' without ':'")
            self.i += 1
            b = self.cond()
            return a if c else b
        return c

    def binary(self, minp: int) -> int:
        left = self.unary()
        while True:
            op = self.peek()
            if op not in _BIN or _BIN[op][0] < minp:
                return left
            prec, fn = _BIN[op]
            self.i += 1
            right = self.binary(prec + 1)
            if op == "&&":
                left = int(bool(left) and bool(right))
            elif op == "||":
                left = int(bool(left) or bool(right))
            elif op in ("/", "%"):
                if right == 0:
                    self.fail("division by zero")
                q = abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
                left = q if op == "/" else left - q * right
            else:
                left = _wrap(fn(left, right))

    def unary(self) -> int:
        tok = self.t[self.i] if self.i < len(self.t) else None
        if tok is None:
            self.fail("expression ends early")
        self.i += 1
        if tok.text == "(":
            v = self.cond()
            if self.peek() != ")":
                self.fail("missing ')'")
            self.i += 1
            return v
        if tok.text == "!":
            return int(not self.unary())
        if tok.text == "~":
            return _wrap(~self.unary())
        if tok.text == "-":
            return _wrap(-self.unary())
        if tok.text == "+":
            return self.unary()
        if tok.kind == "num":
            m = _INT.match(tok.text)
            if not m:
                self.fail(f"not an integer: {tok.text}")
            d = m.group(1)
            base = 16 if d[:2] in ("0x", "0X") else 2 if d[:2] in ("0b", "0B") else 8 if d.startswith("0") and len(d) > 1 else 10
            return _wrap(int(d[2:] if base in (16, 2) else d, base))
        if tok.kind == "char":
            body = tok.text.strip("L")[1:-1]
            return ord(body[-1]) if body else 0
        if tok.kind == "id":
            if self.peek() == "(":        # an undefined function-like name: 0, its arguments skipped
                self.fail(f"'{tok.text}(...)' is not a defined macro")
            return 0
        self.fail(f"unexpected '{tok.text}'")
