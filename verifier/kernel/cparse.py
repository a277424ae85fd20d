"""C front end over preprocessed kernel code: top-level declarations found by name, parsed with
pycparser into an AST whose coordinates are the kernel file and line.

Why pycparser: it is a complete C99 parser in pure Python (no compiled grammar to build, already a
dependency of cffi on most machines), it tracks typedef names as C requires (so `(pte_t)x` is a
cast and `f(x)` a call, without guessing), and every node carries file:line through `#line`
markers. tree-sitter-c tolerates errors by design, which is the opposite of what an extractor that
must refuse what it does not understand wants. Kernel-only syntax that pycparser does not know
(`__attribute__((...))`, `asm goto`, statement expressions) is either stripped where it carries no
value (attributes, annotations such as `__always_inline`) or refused with the definition's
location.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cpp import Preprocessor, Tok, join_tokens
from .errors import KernelError

# Annotations that expand to attributes (or nothing) in the kernel; stripped before parsing.
ANNOTATIONS = {
    "inline", "__inline", "__inline__", "__always_inline", "noinline", "__attribute_const__",
    "__pure", "__must_check", "notrace", "__init", "__initdata", "noinstr", "__maybe_unused",
    "__used", "__cold", "__hot", "__section", "__force", "__user", "__iomem", "__kernel",
    "__rcu", "__percpu", "__nocast", "__bitwise", "__always_unused", "__flatten", "__noreturn",
    "__no_kasan_or_inline", "__no_sanitize_address", "__no_kcsan", "__latent_entropy",
    "__randomize_layout", "__packed", "__aligned", "__nocfi", "__visible", "__weak",
    "__attribute__", "__attribute", "__signed__", "__extension__", "__page_aligned_bss",
    "__page_aligned_data", "__ro_after_init", "__read_mostly", "asmlinkage",
}
# Annotations taking a parenthesised argument.
_ANNOTATIONS_WITH_ARGS = {"__attribute__", "__attribute", "__section", "__aligned", "__printf",
                          "__scanf", "__alloc_size", "__diagnose_as", "__counted_by"}

# Struct typedefs of the generic headers an arch header uses without including them (a bare arch
# tree read alone lacks include/linux/mm_types.h): swp_entry_t is struct { unsigned long val; }.
# Known as type names so that `static inline unsigned long __swp_type(swp_entry_t entry)` parses.
GENERIC_STRUCT_TYPEDEFS = ("swp_entry_t",)

# Type names every kernel build knows (include/linux/types.h, uapi/asm-generic/int-ll64.h).
BUILTIN_TYPEDEFS = (
    "bool", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "__u8", "__u16", "__u32", "__u64",
    "__s8", "__s16", "__s32", "__s64", "size_t", "ssize_t", "uint8_t", "uint16_t", "uint32_t",
    "uint64_t", "int8_t", "int16_t", "int32_t", "int64_t", "uintptr_t", "phys_addr_t",
    "resource_size_t", "gfp_t", "__le32", "__le64", "__be32", "__be64", "pgoff_t", "atomic_t",
    "atomic64_t", "atomic_long_t", "loff_t", "dma_addr_t", "spinlock_t", "pid_t", "vm_flags_t",
    "fmode_t", "vm_fault_t", "ulong", "uint", "__kernel_size_t",
    "u128", "s128", "__u128", "__s128", "__uint128_t", "__int128_t",
)


@dataclass
class Decl:
    """One top-level declaration or definition of the active code."""
    name: str | None
    kind: str            # 'function' (with a body), 'typedef', 'prototype', 'other'
    toks: list[Tok]
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def is_static_inline(self) -> bool:
        words = {t.text for t in self.toks[:12]}
        return "static" in words


class CFrontEnd:
    """Top-level declarations of the files a Preprocessor read, by name."""

    def __init__(self, pp: Preprocessor):
        self.pp = pp
        self.functions: dict[str, Decl] = {}
        self.typedefs: dict[str, Decl] = {}
        self.externs: dict[str, Decl] = {}
        self._value_macros: set[str] | None = None
        self.enums: dict[str, tuple[int, str]] = {}     # enumerator -> (value, file:line)
        for f in pp.order:
            for d in self._split(pp.code[f], f):
                self._record(d)

    # --- splitting --------------------------------------------------------------------------------

    def _split(self, toks: list[Tok], file: str, depth_limit: int = 3) -> list[Decl]:
        out: list[Decl] = []
        cur: list[Tok] = []
        depth = 0
        i = 0
        while i < len(toks):
            t = toks[i]
            cur.append(t)
            if t.text in "([":
                depth += 1
            elif t.text in ")]":
                depth -= 1
            elif t.text == "{":
                if depth == 0 and self._starts_body(cur):
                    # a function definition: up to its matching brace
                    bd = 1
                    i += 1
                    while i < len(toks) and bd:
                        cur.append(toks[i])
                        if toks[i].text == "{":
                            bd += 1
                        elif toks[i].text == "}":
                            bd -= 1
                        i += 1
                    out.append(self._decl(cur, file, "function"))
                    cur = []
                    continue
                depth += 1
            elif t.text == "}":
                depth -= 1
            elif t.text == ";" and depth == 0:
                out.extend(self._finish(cur, file, depth_limit))
                cur = []
            i += 1
        if cur:
            out.extend(self._finish(cur, file, depth_limit))
        return out

    @staticmethod
    def _starts_body(cur: list[Tok]) -> bool:
        """`{` after a parameter list `)` (possibly followed by annotations) opens a function body."""
        j = len(cur) - 2
        while j >= 0 and cur[j].kind == "id" and cur[j].text in ANNOTATIONS:
            j -= 1
        return j >= 0 and cur[j].text == ")" and cur[0].text != "typedef"

    def _finish(self, cur: list[Tok], file: str, depth_limit: int) -> list[Decl]:
        # a top-level macro call that generates definitions (FOO_BIT_FUNC(...);)
        if cur and cur[0].kind == "id":
            m = self.pp.macros.get(cur[0].text)
            if m is not None and m.params is not None and depth_limit > 0:
                exp = self.pp.expand(cur)
                if join_tokens(exp) != join_tokens(cur):
                    return self._split(exp, file, depth_limit - 1)
        return [self._decl(cur, file, None)]

    def _decl(self, toks: list[Tok], file: str, kind: str | None) -> Decl:
        line = toks[0].line if toks else 0
        file = toks[0].file if toks else file
        if kind == "function":
            return Decl(_declarator_name(toks), "function", toks, file, line)
        if toks and toks[0].text == "typedef":
            return Decl(_typedef_name(toks), "typedef", toks, file, line)
        name = _declarator_name(toks)
        words = [t.text for t in toks]
        if name in words and "extern" in words:
            k = words.index(name)
            if words[k + 1:k + 2] != ["("]:
                return Decl(name, "extern", toks, file, line)
        if name and "(" in words:
            return Decl(name, "prototype", toks, file, line)
        return Decl(name, "other", toks, file, line)

    def _record(self, d: Decl):
        words = [t.text for t in d.toks[:4]]
        if "enum" in words and "{" in [t.text for t in d.toks]:
            self._enum(d)
        if d.name is None:
            return
        if d.kind == "function":
            self.functions[d.name] = d
        elif d.kind == "typedef":
            self.typedefs[d.name] = d
        elif d.kind == "extern":
            self.externs[d.name] = d

    def _enum(self, d: Decl):
        """Enumerator values (C: each is the previous + 1 unless given)."""
        from .cpp import Tok, _IfEval
        texts = [t.text for t in d.toks]
        start = texts.index("{")
        depth, end = 0, len(d.toks)
        for i in range(start, len(d.toks)):
            if texts[i] == "{":
                depth += 1
            elif texts[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        items: list[list[Tok]] = [[]]
        depth = 0
        for t in d.toks[start + 1:end]:
            if t.text in "([":
                depth += 1
            elif t.text in ")]":
                depth -= 1
            if t.text == "," and depth == 0:
                items.append([])
            else:
                items[-1].append(t)
        nxt = 0
        for it in items:
            if not it or it[0].kind != "id":
                continue
            name = it[0].text
            if len(it) > 2 and it[1].text == "=":
                expr = self.pp.expand(it[2:])
                expr = [Tok("num", str(self.enums[x.text][0]), x.file, x.line) if x.text in self.enums else x
                        for x in expr]
                try:
                    nxt = _IfEval(expr, it[0].file, it[0].line).run()
                except KernelError:
                    return          # not a constant we can evaluate: leave the rest unknown
            self.enums[name] = (nxt, f"{it[0].file}:{it[0].line}")
            nxt += 1

    # --- parsing ----------------------------------------------------------------------------------

    def value_macros(self) -> set[str]:
        """Object-like macros left unexpanded in a parsed body (so that the translation keeps the
        header's names): those whose text is a plain expression (no type names, no braces)."""
        if self._value_macros is None:
            types = self.type_names()
            keep = set()
            for name, m in self.pp.macros.items():
                if m.params is not None or not m.body or name in ANNOTATIONS:
                    continue
                texts = [t.text for t in m.body]
                if any(x in types or x in _TYPE_WORDS or x in "{};" for x in texts) or texts == [name]:
                    continue
                casts = self.cast_prefixes()
                if any(x in self.pp.macros and self.pp.macros[x].params is None and x not in keep and x != name
                       and x not in casts and not _plain(self.pp.macros[x], types) for x in texts):
                    continue
                keep.add(name)
            self._value_macros = keep
        return self._value_macros

    def cast_prefixes(self) -> set[str]:
        """Object-like macros that are a cast prefix or nothing (`#define _ULCAST_ (unsigned long)`,
        `#define __force`): not expressions of their own."""
        if getattr(self, "_casts", None) is None:
            words = _TYPE_WORDS | self.type_names()
            self._casts = set()
            for n, m in self.pp.macros.items():
                if m.params is not None:
                    continue
                t = [x.text for x in m.body]
                if not t or (len(t) >= 3 and t[0] == "(" and t[-1] == ")" and all(x in words for x in t[1:-1])):
                    self._casts.add(n)
        return self._casts

    def type_names(self) -> set[str]:
        return set(self.typedefs) | set(BUILTIN_TYPEDEFS) | set(GENERIC_STRUCT_TYPEDEFS)

    def parse(self, decl: Decl, what: str):
        """The pycparser AST (a FileAST holding one external declaration) of a declaration, with
        macros expanded and annotations stripped; coordinates are the kernel's file:line."""
        from pycparser import c_parser
        toks = self.pp.expand(decl.toks, self.value_macros())
        toks = strip_annotations(toks, what, decl)
        for k, t in enumerate(toks):
            if t.text in ("asm", "__asm__", "typeof", "__typeof__", "__builtin_choose_expr"):
                raise KernelError(f"cannot extract {what} at {t.file}:{t.line}: '{t.text}' is outside the subset")
            if t.text == "{" and k > 0 and toks[k - 1].text == "(":
                raise KernelError(f"cannot extract {what} at {t.file}:{t.line}: a statement expression ({{ ... }}) is outside the subset")
        prelude = "".join(f"typedef int {n};\n" for n in sorted(self.type_names()) if n != decl.name or decl.kind != "typedef")
        text = prelude + _with_lines(toks)
        parser = c_parser.CParser()
        try:
            return parser.parse(text, filename=decl.file)
        except Exception as e:       # pycparser raises ParseError (and, on odd input, others)
            msg = str(e)
            loc, _, rest = msg.partition(": ")
            if ":" in loc:
                return_where = loc.rsplit(":", 1)[0] if loc.count(":") >= 2 else loc
                raise KernelError(f"cannot extract {what} at {return_where}: C syntax pycparser does not accept: {rest.strip()}") from None
            raise KernelError(f"cannot extract {what} at {decl.where}: C syntax pycparser does not accept: {msg}") from None


_TYPE_WORDS = {"unsigned", "signed", "long", "int", "short", "char", "void", "struct", "union",
               "enum", "const", "volatile", "_Bool", "typeof", "__typeof__", "do", "while", "if",
               "return", "asm", "__asm__"}


def _plain(m, types) -> bool:
    return not any(t.text in types or t.text in _TYPE_WORDS or t.text in "{};" for t in m.body)


def strip_annotations(toks: list[Tok], what: str, decl: Decl) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "id" and (t.text in ANNOTATIONS or t.text in _ANNOTATIONS_WITH_ARGS):
            i += 1
            if i < len(toks) and toks[i].text == "(" and (t.text in _ANNOTATIONS_WITH_ARGS or t.text.startswith("__attribute")):
                depth = 0
                while i < len(toks):
                    if toks[i].text == "(":
                        depth += 1
                    elif toks[i].text == ")":
                        depth -= 1
                        if depth == 0:
                            i += 1
                            break
                    i += 1
            continue
        out.append(t)
        i += 1
    return out


def _with_lines(toks: list[Tok]) -> str:
    """Tokens as text with #line markers, so that pycparser's coordinates are the kernel's."""
    parts: list[str] = []
    cur = (None, None)
    for t in toks:
        if (t.file, t.line) != cur:
            parts.append(f'\n# {t.line} "{t.file}"\n')
            cur = (t.file, t.line)
        elif parts:
            parts.append(" ")
        parts.append(t.text)
    parts.append("\n")
    return "".join(parts)


def _declarator_name(toks: list[Tok]) -> str | None:
    """The name a declaration declares: the identifier before the first top-level '(' (a
    function), else the last identifier before '=', '[', ';' or ':' at top level."""
    depth = 0
    last = None
    for i, t in enumerate(toks):
        if t.text == "(" and depth == 0:
            if last is not None and last.text not in ANNOTATIONS and i > 0 and toks[i - 1] is last:
                return last.text
            depth += 1
            continue
        if t.text in "([{":
            depth += 1
        elif t.text in ")]}":
            depth -= 1
        elif depth == 0 and t.text in ("=", "[", ";", ":", ","):
            return last.text if last is not None else None
        elif depth == 0 and t.kind == "id":
            last = t
    return last.text if last is not None else None


def _typedef_name(toks: list[Tok]) -> str | None:
    """typedef ... NAME;  typedef struct {...} NAME;  typedef T (*NAME)(...);"""
    depth = 0
    last = None
    for i, t in enumerate(toks):
        if t.text in "([{":
            if t.text == "(" and depth == 0 and i + 1 < len(toks) and toks[i + 1].text == "*":
                # function pointer: typedef T (*NAME)(...)
                return toks[i + 2].text if i + 2 < len(toks) and toks[i + 2].kind == "id" else None
            depth += 1
        elif t.text in ")]}":
            depth -= 1
        elif depth == 0 and t.kind == "id" and t.text not in ANNOTATIONS:
            last = t
        elif depth == 0 and t.text in (";", "["):
            break
    return last.text if last is not None else None
