"""A layout extracted from a kernel tree's headers (`pteverify extract layout`).

The arch's asm/pgtable.h is preprocessed with the config (verifier/kernel/cpp.py); the macros the
layout needs (__swp_type ... pte_none, the PMD forms, the swp flag accessors) and everything they use
are collected: object-like macros become [constants], function-like macros [macros] with the
header's own text, and `static inline` functions are translated from their C bodies (parsed with
pycparser: straight-line statements, if/else, early returns, locals) into one expression each,
keyed by their C prototype. Anything else is refused: "cannot extract NAME at FILE:LINE: reason".
"""

from __future__ import annotations

import copy
import inspect
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel import Config, KernelError, KernelTree
from ..kernel.cparse import BUILTIN_TYPEDEFS, CFrontEnd, Decl
from ..kernel.cpp import COMPILE_TIME_ZERO, CONFIG_TESTS, Macro, Preprocessor, join_tokens
from .model import FLAG_ACCESSORS, FLAG_NAMES, PMD_MACROS, REQUIRED_MACROS

PMD_OPTIONAL = ("pmd_present", "pmd_none")
THP_MIGRATION = "CONFIG_ARCH_ENABLE_THP_MIGRATION"
C_WORDS = {"unsigned", "signed", "long", "int", "short", "char", "void", "const", "volatile",
           "struct", "union", "enum", "sizeof", "_Bool", "static", "inline", "return", "if", "else",
           "register", "restrict", "__restrict"}
_BASE_SIZES = {"char": 8, "short": 16, "int": 32, "long long": 64}
_FIXED = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "s8": 8, "s16": 16, "s32": 32, "s64": 64,
          "__u8": 8, "__u16": 16, "__u32": 32, "__u64": 64, "__s8": 8, "__s16": 16, "__s32": 32,
          "__s64": 64, "bool": 8, "_Bool": 8, "__be16": 16, "__be32": 32, "__be64": 64, "__le16": 16,
          "__le32": 32, "__le64": 64, "u128": 128, "s128": 128, "__u128": 128, "__s128": 128,
          "__int128": 128, "__uint128_t": 128, "__int128_t": 128}
# The byte-order types of include/uapi/linux/types.h (typedef __u64 __bitwise __be64, ...): the
# layout gets them as the plain unsigned types (cpu_to_be64() and friends are the header's business).
_BYTE_ORDER_TYPES = {"__be16": "unsigned short", "__be32": "unsigned int", "__be64": "unsigned long long",
                     "__le16": "unsigned short", "__le32": "unsigned int", "__le64": "unsigned long long"}


# sparse's address-space and cast annotations (include/linux/compiler_types.h): empty outside
# __CHECKER__; a macro body such as ((__force __be64)(__u64)(x)) gets them dropped.
_SPARSE_ANNOTATIONS = {"__force", "__bitwise", "__user", "__iomem", "__kernel", "__rcu", "__percpu", "__nocast"}


def _fail(what: str, where: str, reason: str) -> KernelError:
    return KernelError(f"cannot extract {what} at {where}: {reason}")



def _compound_literal(typename, init):
    """A compound literal node. pycparser 3.1 added a `storage` argument (C23 storage-class
    specifiers on compound literals); 2.x and 3.0 have none: build it for either."""
    from pycparser import c_ast
    if "storage" in inspect.signature(c_ast.CompoundLiteral.__init__).parameters:
        return c_ast.CompoundLiteral(typename, init, [])
    return c_ast.CompoundLiteral(typename, init)

@dataclass
class Extracted:
    """What extraction found: the layout as a TOML-shaped dict, where each entry came from, notes."""
    data: dict
    where: dict[str, str] = field(default_factory=dict)      # name -> file:line
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Extractor:
    def __init__(self, tree_dir, arch: str, config: Config, entry: str | None = None,
                 assume: dict[str, str] | None = None):
        self.tree = KernelTree(tree_dir, arch)
        self.config = config
        self.arch = arch
        self.assume = dict(assume or {})
        self.pp = Preprocessor(self.tree, config, self.tree.predefined(config))
        for k, v in self.assume.items():
            self.pp.define_text(k, v, "<assume>", 0)
        self.pp.fixed = set(re.match(r"[A-Za-z_]\w*", k).group() for k in self.assume)
        entry = entry or f"arch/{arch}/include/asm/pgtable.h"
        self.pp.run_file(entry)
        self.fe = CFrontEnd(self.pp)
        self.constants: dict[str, str] = {}
        self.macros: dict[str, str] = {}
        self.where: dict[str, str] = {}
        self.types_used: set[str] = set()
        self.symbols: dict[str, Decl] = {}
        self.used_files: set[str] = set()
        self._done: set[str] = set()
        self._inline: set[str] | None = None

    # --- lookup -------------------------------------------------------------------------------------

    def defined(self, name: str) -> bool:
        m = self.pp.macros.get(name)
        if m is not None and not (m.params is None and [t.text for t in m.body] == [name]):
            return True
        return name in self.fe.functions or name in self.fe.enums

    def is_type(self, name: str) -> bool:
        return name in self.fe.typedefs or name in BUILTIN_TYPEDEFS or name == "swp_entry_t"

    def need(self, name: str, by: str):
        """Adds a name and what it uses (transitively)."""
        todo = [(name, by)]
        while todo:
            n, by = todo.pop()
            if n in self._done:
                continue
            self._done.add(n)
            todo.extend((d, n) for d in self._add(n, by))

    def _add(self, name: str, by: str) -> list[str]:
        m = self.pp.macros.get(name)
        if m is not None and m.params is None and [t.text for t in m.body] == [name]:
            m = None            # `#define pte_none pte_none`: the function is the definition
        if m is not None:
            self.where[name] = m.where
            self.used_files.add(m.file)
            body = self._body(m)
            if m.params is None:
                if len(body) == 1 and body[0].kind == "id" and body[0].text in self.fe.functions:
                    # `#define foo bar` naming a function: foo(x) is bar(x)
                    return [body[0].text] + self._alias(name, m)
                fm = self.pp.macros.get(body[0].text) if len(body) == 1 and body[0].kind == "id" else None
                if fm is not None and fm.params is not None and not fm.variadic and fm.name != name:
                    # `#define cpu_to_be64 __cpu_to_be64` naming a function-like macro: the same call
                    ps = ", ".join(fm.params)
                    self.macros[f"{name}({ps})"] = f"{fm.name}({ps})"
                    return [fm.name]
                if not body:
                    raise _fail(name, m.where, "it is defined empty (a marker, not a value)")
                self.constants[name] = join_tokens(body)
            else:
                if m.variadic:
                    raise _fail(name, m.where, "a variadic macro is outside the subset")
                self.macros[f"{name}({', '.join(m.params)})"] = join_tokens(body)
            return self._idents(body, set(m.params or ()))
        if name in self.fe.functions:
            d = self.fe.functions[name]
            self.where[name] = d.where
            self.used_files.add(d.file)
            key, expr, deps = _FunctionTranslator(self, d).run()
            self.macros[key] = expr
            return deps
        if name in self.fe.enums:
            value, where = self.fe.enums[name]
            self.where[name] = where
            self.used_files.add(where.rsplit(":", 1)[0])
            self.constants[name] = str(value)
            return []
        if self.is_type(name):
            self.types_used.add(name)
            return []
        if name in self.fe.externs:
            self.symbols[name] = self.fe.externs[name]
            self.where[name] = self.fe.externs[name].where
            return []
        skipped = ", ".join(sorted(self.pp.skipped)) or "none"
        raise KernelError(f"cannot extract {by} at {self.where.get(by, '?')}: it uses '{name}', which no header "
                          f"read with this config defines (headers skipped: {skipped})")

    def _body(self, m: Macro):
        """A macro's body as the layout gets it: the header's tokens, with the config tests
        (IS_ENABLED(CONFIG_X) -> 0/1) and the object-like macros that are not expressions (a cast
        prefix such as `#define _ULCAST_ (unsigned long)`, or nothing) replaced by what they are."""
        if self._inline is None:
            self._inline = self.fe.cast_prefixes()
        body = [t for t in m.body if not (t.kind == "id" and t.text in _SPARSE_ANNOTATIONS
                                          and t.text not in self.pp.macros)]
        names = {t.text for t in body if t.kind == "id"}
        if not (names & (self._inline | set(CONFIG_TESTS) | set(COMPILE_TIME_ZERO))):
            return body
        keep = (set(self.pp.macros) - self._inline) | (set(m.params or ()))
        return self.pp.expand(body, keep)

    def _int_macro(self, name: str) -> int | None:
        """The value of an object-like macro that is an integer constant expression, or None."""
        from ..kernel.cpp import _IfEval
        m = self.pp.macros.get(name)
        if m is None or m.params is not None:
            return None
        toks = self.pp.expand(list(m.body))
        if any(t.kind == "id" for t in toks):
            return None
        try:
            val = _IfEval(toks, m.file, m.line).run()
        except KernelError:
            return None
        self.where[name] = m.where
        self.used_files.add(m.file)
        return val

    def _accessors(self, prefix: str, flag: str):
        """[(FORMAT name, the header's name)] of a swp flag's three accessors, or [] if the header
        lacks one. uffd-wp accessors renamed in the 2026 mm tree (pte_swp_mkuffd, pmd_swp_uffd)
        are found under their new names too."""
        out = []
        for pat in FLAG_ACCESSORS:
            name = pat.format(p=prefix, f=flag)
            cands = [name] + ([name[:-3]] if flag == "uffd_wp" else [])
            hit = next((c for c in cands if self.defined(c)), None)
            if hit is None:
                return []
            out.append((name, hit))
        return out

    def _alias(self, name, m: Macro) -> list[str]:
        target = m.body[0].text
        fd = self.fe.functions[target]
        n = _count_params(fd)
        ps = ", ".join(f"a{i}" for i in range(n))
        self.macros[f"{name}({ps})"] = f"{target}({ps})"
        return []

    def _idents(self, toks, params: set[str]) -> list[str]:
        out = []
        skip_to = -1
        for i, t in enumerate(toks):
            if i <= skip_to:
                continue
            if t.kind != "id" or t.text in params or t.text in C_WORDS:
                continue
            m = self.pp.macros.get(t.text)
            if (m is not None and m.file == "<assume>" and m.params is not None and i + 1 < len(toks)
                    and toks[i + 1].text == "(" and not any(b.text in m.params for b in m.body)):
                # an assumed run-time condition ignores its arguments (CPU feature names)
                depth = 0
                for j in range(i + 1, len(toks)):
                    depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
                    if depth == 0:
                        skip_to = j
                        break
            if i > 0 and toks[i - 1].text in (".", "->", "struct", "union", "enum", "#"):
                continue
            if (m is not None and m.params is not None and i + 1 < len(toks) and toks[i + 1].text == "("
                    and self._pasted_params(m)):
                # M(1, UL) with M pasting its second parameter (_AC(X,Y) -> X##Y): the pasted
                # argument is a token spelling, not a use of a name
                skip, close = self._pasted_args(toks, i + 1, m), self._close(toks, i + 1)
                out.append(t.text)
                out.extend(self._idents([toks[j] for j in range(i + 2, close) if j not in skip], params))
                skip_to = close
                continue
            if t.text == "__VA_ARGS__":
                continue
            fm = self.pp.macros.get(t.text)
            if fm is not None and fm.params is not None and (i + 1 >= len(toks) or toks[i + 1].text != "("):
                continue        # a function-like macro's name not followed by '(' is not a use of it
            out.append(t.text)
        return out

    @staticmethod
    def _close(toks, k: int) -> int:
        """The index of the ')' matching the '(' at k (the last token if unbalanced)."""
        depth = 0
        for j in range(k, len(toks)):
            depth += {"(": 1, ")": -1}.get(toks[j].text, 0)
            if depth == 0:
                return j
        return len(toks) - 1

    def _pasted_params(self, m: Macro, _seen=None) -> set[int]:
        """Positions of a function-like macro's parameters that reach its expansion only as an
        operand of ## (directly, or passed on in such a position of another macro)."""
        memo = self.__dict__.setdefault("_pasted_memo", {})
        if m.name in memo:
            return memo[m.name]
        seen = (_seen or set()) | {m.name}
        memo[m.name] = set()            # a recursive reference pastes nothing
        body = m.body
        pasted, used = set(), set()
        # the parameters passed to another macro in pasted positions
        via: dict[int, bool] = {}
        for k, t in enumerate(body):
            inner = self.pp.macros.get(t.text) if t.kind == "id" else None
            if (inner is not None and inner.params is not None and inner.name not in seen
                    and k + 1 < len(body) and body[k + 1].text == "("):
                inner_pasted = self._pasted_params(inner, seen)
                depth, arg = 0, 0
                for j in range(k + 1, self._close(body, k + 1) + 1):
                    x = body[j].text
                    if x == "(":
                        depth += 1
                        if depth == 1:
                            continue
                    elif x == ")":
                        depth -= 1
                    elif x == "," and depth == 1:
                        arg += 1
                        continue
                    if depth >= 1 and body[j].kind == "id" and arg in inner_pasted:
                        via[j] = True
        for k, t in enumerate(body):
            if t.kind != "id" or t.text not in m.params:
                continue
            near = (k > 0 and body[k - 1].text == "##") or (k + 1 < len(body) and body[k + 1].text == "##")
            (pasted if (near or via.get(k)) else used).add(m.params.index(t.text))
        memo[m.name] = pasted - used
        return memo[m.name]

    def _pasted_args(self, toks, k: int, m: Macro) -> set[int]:
        """Token indexes of the arguments of the call whose '(' is at k that m pastes."""
        which = self._pasted_params(m)
        out, depth, arg = set(), 0, 0
        for j in range(k, self._close(toks, k) + 1):
            x = toks[j].text
            if x == "(":
                depth += 1
                if depth == 1:
                    continue
            elif x == ")":
                depth -= 1
            elif x == "," and depth == 1:
                arg += 1
                continue
            if depth >= 1 and arg in which:
                out.add(j)
        return out

    # --- the layout ---------------------------------------------------------------------------------

    def run(self, name: str, preset: dict | None) -> Extracted:
        start = time.perf_counter()
        for n in REQUIRED_MACROS:
            if not self.defined(n):
                raise KernelError(f"cannot extract {n}: arch/{self.arch} with this config does not define it "
                                  f"(read {len(self.pp.order)} headers; skipped: {', '.join(sorted(self.pp.skipped)) or 'none'})")
            self.need(n, n)
        pmd = all(self.defined(n) for n in PMD_MACROS) and all(self.defined(n) for n in PMD_OPTIONAL)
        pmd_skipped = None
        if pmd and not self.config.enabled(THP_MIGRATION):
            # swapops.h builds PMD swap entries (swp_entry_to_pmd, set_pmd_migration_entry) only
            # under this symbol; without it the header's PMD forms are never used
            pmd, pmd_skipped = False, (f"PMD swap forms not taken: {THP_MIGRATION} is off in this config "
                                       "(the kernel creates PMD swap entries only with it)")
        if pmd:
            for n in PMD_MACROS + PMD_OPTIONAL:
                self.need(n, n)
        flags, pmd_flags = [], []
        for f in FLAG_NAMES:
            for prefix, out, ok in (("pte", flags, True), ("pmd", pmd_flags, pmd)):
                if not ok:
                    continue
                found = self._accessors(prefix, f)
                if found:
                    out.append(f)
                    for fname, actual in found:
                        if actual != fname:
                            self.macros[f"{fname}({prefix})"] = f"{actual}({prefix})"
                            self.where[fname] = f"renamed {actual}"
                        self.need(actual, fname)
        data = self._assemble(name, preset, flags, pmd_flags, pmd)
        ex = Extracted(data, dict(self.where), list(self.pp.notes) + ([pmd_skipped] if pmd_skipped else []),
                       sorted(self.used_files))
        ex.seconds = time.perf_counter() - start
        return ex

    def _assemble(self, name, preset, flags, pmd_flags, pmd) -> dict:
        preset = preset or {}
        data: dict = {
            "layout": name, "arch": self.arch,
            "description": preset.get("description", f"extracted from arch/{self.arch} with the given config"),
            "source": sorted(self.used_files),
            "kernel": "",
            "config": self.config.as_table(),
            **({"assume": dict(self.assume)} if self.assume else {}),
            "width": 0,
            "long_bits": 64 if self.config.is_64bit else 32,
        }
        for k in ("max_swapfiles_shift", "offset_bits", "phys_addr_bits"):
            if k in preset:
                data[k] = preset[k]
        # the generic layer: PAGE_SHIFT (vdso/page.h: CONFIG_PAGE_SHIFT) and MAX_PHYSMEM_BITS
        # (asm/sparsemem.h) from the tree where it defines them, else the preset's
        for key, macro in (("page_shift", "PAGE_SHIFT"), ("max_physmem_bits", "MAX_PHYSMEM_BITS")):
            val = self._int_macro(macro)
            if val is None and key == "page_shift" and isinstance(self.config.values.get("CONFIG_PAGE_SHIFT"), str) \
                    and self.config.values["CONFIG_PAGE_SHIFT"].isdigit():
                val, self.where[macro] = int(self.config.values["CONFIG_PAGE_SHIFT"]), "CONFIG_PAGE_SHIFT"
            if val is None and key in preset:
                val, self.where[macro] = preset[key], f"preset {preset.get('layout')}"
            if val is not None:
                data[key] = val
        # The flag masks matter only where an accessor is not given; every accessor is extracted,
        # so the mask is the preset's name for it (documentation, evaluated over the tree) or the
        # bits pte_swp_mk<flag>() sets in an empty PTE.
        if flags:
            data["flags"] = {f: self._mask_text(preset.get("flags", {}).get(f), f"pte_val(pte_swp_mk{f}(__pte(0)))") for f in flags}
        if pmd_flags:
            data["pmd_flags"] = {f: self._mask_text(preset.get("pmd_flags", {}).get(f), f"pmd_val(pmd_swp_mk{f}(__pmd(0)))") for f in pmd_flags}
        bits = preset.get("bits")
        if bits:
            data["bits"] = {k: v for k, v in bits.items() if k in ("must_be_zero", "hardware_may_set", "names", "pmd_names")}
            for k in ("must_be_zero", "hardware_may_set"):
                for ident in re.findall(r"[A-Za-z_]\w*", str(data["bits"].get(k, ""))):
                    if ident in C_WORDS or self.is_type(ident):
                        continue
                    if not self.defined(ident):
                        raise KernelError(f"cannot extract [bits] {k}: the preset names '{ident}', which no header read with this config defines")
                    self.need(ident, f"[bits] {k}")
        types, structs, sizes = self._types(pmd)
        data["width"] = sizes["pte_t"]
        if pmd and sizes.get("pmd_t") and sizes["pmd_t"] != sizes["pte_t"]:
            data["pmd_width"] = sizes["pmd_t"]
        if types:
            data["types"] = types
        data["structs"] = structs
        data["constants"] = dict(self.constants)
        data["macros"] = dict(self.macros)
        if self.symbols:
            psym = preset.get("symbols", {})
            data["symbols"] = {s: dict(psym.get(s, {})) for s in sorted(self.symbols)}
        return data

    def _mask_text(self, preset_text, fallback: str) -> str:
        if preset_text is not None:
            text = str(preset_text)
            idents = re.findall(r"[A-Za-z_]\w*", text)
            if all(self.defined(i) or i in C_WORDS or self.is_type(i) for i in idents):
                for i in idents:
                    if not self.is_type(i) and i not in C_WORDS:
                        self.need(i, "[flags]")
                return text
        for i in re.findall(r"[A-Za-z_]\w*", fallback):
            if self.defined(i):
                self.need(i, "[flags]")
        return fallback

    def _types(self, pmd: bool):
        """[types] and [structs] for the type names used, and the bits of pte_t (and pmd_t)."""
        types: dict[str, str] = {}
        structs: dict = {}
        sizes: dict[str, int] = {}
        want = set(self.types_used) | {"pte_t", "swp_entry_t"} | ({"pmd_t"} if pmd else set())
        long_bits = 64 if self.config.is_64bit else 32
        done: set[str] = set()
        while want - done:
            n = sorted(want - done)[0]
            done.add(n)
            if n in _BYTE_ORDER_TYPES and n not in self.fe.typedefs:
                types[n] = _BYTE_ORDER_TYPES[n]
                continue
            if n in BUILTIN_TYPEDEFS and n not in self.fe.typedefs:
                continue
            d = self.fe.typedefs.get(n)
            if d is None:
                if n == "swp_entry_t":
                    structs[n] = "unsigned long"   # include/linux/mm_types.h: struct { unsigned long val; }
                    continue
                raise KernelError(f"cannot extract type {n}: no typedef of it in the headers read (skipped: "
                                  f"{', '.join(sorted(self.pp.skipped)) or 'none'})")
            self.used_files.add(d.file)
            kind, val, deps = _typedef_shape(self.fe, d, long_bits)
            want |= {x for x in deps if x not in _BASE_WORDS}
            (structs if kind == "struct" else types)[n] = val
        for n in ("pte_t", "pmd_t"):
            if n in want:
                sizes[n] = _type_bits(n, types, structs, long_bits)
        return types, structs, sizes


_BASE_WORDS = {"unsigned", "signed", "long", "int", "short", "char", "_Bool"}


def _count_params(d: Decl) -> int:
    depth, n, seen = 0, 0, False
    for t in d.toks:
        if t.text == "(":
            depth += 1
            if depth == 1:
                continue
        elif t.text == ")":
            depth -= 1
            if depth == 0:
                break
        if depth == 1:
            if t.text == ",":
                n += 1
            elif t.text != "void":
                seen = True
    return n + 1 if seen else 0


def _typedef_shape(fe: CFrontEnd, d: Decl, long_bits: int):
    """('type', 'unsigned long', deps) or ('struct', member-type | {type, members}, deps)."""
    from pycparser import c_ast, c_generator
    ast = fe.parse(d, f"type {d.name}")
    td = ast.ext[-1]
    if not isinstance(td, c_ast.Typedef):
        raise _fail(f"type {d.name}", d.where, "not a typedef")
    t = td.type
    gen = c_generator.CGenerator()
    if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.IdentifierType):
        names = t.type.names
        return "type", " ".join(names), names
    if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, (c_ast.Struct, c_ast.Union)):
        su = t.type
        if not su.decls:
            raise _fail(f"type {d.name}", d.where, "a struct without members (defined elsewhere)")
        scalars = []          # (name, ctype words) of plain members
        for m in su.decls:
            mt = m.type
            if isinstance(mt, c_ast.TypeDecl) and isinstance(mt.type, c_ast.IdentifierType):
                scalars.append((m.name, " ".join(mt.type.names)))
            elif (isinstance(mt, c_ast.Struct) or isinstance(mt, c_ast.TypeDecl) and isinstance(mt.type, c_ast.Struct)) \
                    and m.name is None and isinstance(su, c_ast.Union):
                # union { struct { a, b }; whole } (x86 PAE, MIPS XPA): packed halves
                inner = mt if isinstance(mt, c_ast.Struct) else mt.type
                halves = []
                off = 0
                for h in inner.decls or []:
                    ht = h.type
                    if not (isinstance(ht, c_ast.TypeDecl) and isinstance(ht.type, c_ast.IdentifierType)):
                        raise _fail(f"type {d.name}", d.where, "a member that is not an integer")
                    words = " ".join(ht.type.names)
                    bits = _word_bits(words, {}, long_bits)
                    halves.append([h.name, off, bits, words])
                    off += bits
                scalars.append((None, halves))
            else:
                raise _fail(f"type {d.name}", d.where, f"member {m.name} is not an integer ({gen.visit(mt)})")
        plain = [s for s in scalars if s[0] is not None]
        packed = [s for s in scalars if s[0] is None]
        if isinstance(su, c_ast.Struct) and len(plain) == 1 and not packed:
            return "struct", plain[0][1], plain[0][1].split()
        if isinstance(su, c_ast.Union) and packed and len(plain) == 1:
            members = [[h[0], h[1], h[2]] + ([h[3]] if h[3] not in ("unsigned int", "unsigned long") or h[2] != 32 else [])
                       for h in packed[0][1]]
            return "struct", {"type": plain[0][1], "members": members}, plain[0][1].split() + [w for h in packed[0][1] for w in h[3].split()]
        raise _fail(f"type {d.name}", d.where, "a struct or union of this shape is outside the subset "
                    "(one integer member, or a union of one integer and a struct of integer halves)")
    raise _fail(f"type {d.name}", d.where, f"a typedef of this kind is outside the subset ({gen.visit(t)})")


def _word_bits(words: str, types: dict, long_bits: int) -> int:
    w = words.split()
    if len(w) == 1 and w[0] in _FIXED:
        return _FIXED[w[0]]
    if len(w) == 1 and w[0] in types:
        return _word_bits(types[w[0]], types, long_bits)
    core = " ".join(x for x in w if x not in ("unsigned", "signed", "int") or x == "int" and len(w) == 1)
    if "long" in w:
        return 64 if w.count("long") == 2 else long_bits
    if "short" in w:
        return 16
    if "char" in w:
        return 8
    if core in ("", "int") or "int" in w or w in (["unsigned"], ["signed"]):
        return 32
    raise KernelError(f"cannot size type '{words}'")


def _type_bits(name: str, types: dict, structs: dict, long_bits: int) -> int:
    if name in structs:
        s = structs[name]
        return _type_bits_words(s["type"] if isinstance(s, dict) else s, types, long_bits)
    return _type_bits_words(types[name], types, long_bits)


def _type_bits_words(words: str, types: dict, long_bits: int) -> int:
    return _word_bits(words, types, long_bits)


# ---------------------------------------------------------------------------------------------
# static inline bodies -> one expression

class _FunctionTranslator:
    """Translates a parsed static inline function into (prototype key, expression, names used)."""

    def __init__(self, ex: Extractor, decl: Decl):
        self.ex = ex
        self.decl = decl
        self.name = decl.name
        self.deps: list[str] = []

    def fail(self, node, reason: str):
        where = f"{node.coord.file}:{node.coord.line}" if node is not None and node.coord else self.decl.where
        return _fail(self.name, where, reason)

    def run(self):
        from pycparser import c_ast, c_generator
        self.c_ast = c_ast
        self.gen = c_generator.CGenerator()
        ast = self.ex.fe.parse(self.decl, self.name)
        fd = ast.ext[-1]
        if not isinstance(fd, c_ast.FuncDef):
            raise self.fail(None, "not a function definition")
        ftype = fd.decl.type
        ret = ftype.type
        if not isinstance(ret, c_ast.TypeDecl):
            raise self.fail(fd, "it returns a pointer or array")
        ret_text = self._type_text(ret)
        if ret_text == "void":
            raise self.fail(fd, "it returns void (no value to translate)")
        self.ret_type = ret
        params = []
        env = {}
        self.types = {}
        for p in (ftype.args.params if ftype.args else []):
            if isinstance(p, c_ast.Typename) and self._type_text(p.type) == "void":
                continue
            if not isinstance(p, c_ast.Decl) or not isinstance(p.type, c_ast.TypeDecl):
                raise self.fail(p, "a pointer, array or unnamed parameter is outside the subset")
            ptext = self._type_text(p.type)
            params.append(f"{ptext} {p.name}")
            env[p.name] = c_ast.ID(p.name)
            self.types[p.name] = p.type
            self._note_type(p.type)
        self._note_type(ret)
        self.params = set(env)
        expr = self.block(list(fd.body.block_items or []), env)
        key = f"{ret_text} {self.name}({', '.join(params)})"
        return key, self.gen.visit(expr), self.deps

    # --- types ------------------------------------------------------------------------------------

    def _type_text(self, tnode) -> str:
        c_ast = self.c_ast
        if isinstance(tnode, c_ast.TypeDecl):
            inner = tnode.type
            quals = [q for q in (tnode.quals or []) if q not in ("const", "volatile")]
            if isinstance(inner, c_ast.IdentifierType):
                return " ".join(quals + inner.names)
            if isinstance(inner, (c_ast.Struct, c_ast.Union)):
                raise self.fail(tnode, f"a struct type ({inner.name}) that is not a typedef is outside the subset")
        raise self.fail(tnode, "a pointer or array type is outside the subset")

    def _note_type(self, tnode):
        for n in self._type_text(tnode).split():
            if n not in C_WORDS and n not in _BASE_WORDS:
                self.deps.append(n)

    def _is_struct(self, tnode) -> bool:
        words = self._type_text(tnode).split()
        if len(words) != 1:
            return False
        d = self.ex.fe.typedefs.get(words[0])
        if d is None:
            return words[0] == "swp_entry_t"
        return any(t.text in ("struct", "union") for t in d.toks)

    def _typename(self, tnode):
        t = copy.deepcopy(tnode)
        t.declname = None
        return self.c_ast.Typename(None, [], None, t)

    def _cast(self, tnode, expr):
        if self._is_struct(tnode):
            return expr
        return self.c_ast.Cast(self._typename(tnode), expr)

    # --- statements -------------------------------------------------------------------------------

    def block(self, items: list, env: dict):
        c_ast = self.c_ast
        while True:
            if not items:
                raise self.fail(None, "control reaches the end of the function without a return")
            s, items = items[0], items[1:]
            if isinstance(s, c_ast.Return):
                if s.expr is None:
                    raise self.fail(s, "a return without a value")
                return self._cast(self.ret_type, self.expr(s.expr, env))
            if isinstance(s, c_ast.Compound):
                inner = list(s.block_items or [])
                for x in inner:
                    if isinstance(x, c_ast.Decl) and x.name in env:
                        raise self.fail(x, f"a block-scope '{x.name}' shadowing an outer name is outside the subset")
                items = inner + items
                continue
            if isinstance(s, c_ast.EmptyStatement):
                continue
            if isinstance(s, c_ast.Decl):
                if s.storage or not isinstance(s.type, c_ast.TypeDecl):
                    raise self.fail(s, f"the declaration of '{s.name}' is outside the subset (static, pointer or array)")
                if s.name in env:
                    raise self.fail(s, f"'{s.name}' declared twice")
                self._note_type(s.type)
                self.types[s.name] = s.type
                env = dict(env)
                if s.init is None:
                    env[s.name] = None
                elif isinstance(s.init, c_ast.InitList):
                    lit = _compound_literal(self._typename(s.type), s.init)
                    env[s.name] = self.expr(lit, env)
                else:
                    env[s.name] = self._cast(s.type, self.expr(s.init, env))
                continue
            if isinstance(s, c_ast.Assignment):
                env = self._assign(s, env)
                continue
            if isinstance(s, c_ast.UnaryOp) and s.op in ("p++", "p--", "++", "--"):
                one = c_ast.Constant("int", "1")
                env = self._assign(c_ast.Assignment("+=" if "+" in s.op else "-=", s.expr, one, coord=s.coord), env)
                continue
            if isinstance(s, c_ast.If):
                cond = self.expr(s.cond, env)
                a = self.block([s.iftrue] + items, env)
                b = self.block(([s.iffalse] if s.iffalse is not None else []) + items, env)
                return c_ast.TernaryOp(cond, a, b)
            kind = type(s).__name__
            words = {"For": "a for loop", "While": "a while loop", "DoWhile": "a do-while loop",
                     "Switch": "a switch", "Goto": "a goto", "FuncCall": "a call whose value is discarded",
                     "Label": "a label", "Break": "a break", "Continue": "a continue"}
            raise self.fail(s, f"{words.get(kind, 'a ' + kind + ' statement')} is outside the subset "
                               "(straight-line code, if/else, early returns, locals)")

    def _assign(self, s, env):
        c_ast = self.c_ast
        lhs = s.lvalue
        if isinstance(lhs, c_ast.ID) and lhs.name in env:
            var, member = lhs.name, None
        elif isinstance(lhs, c_ast.StructRef) and lhs.type == "." and isinstance(lhs.name, c_ast.ID) and lhs.name.name in env:
            var, member = lhs.name.name, lhs.field.name
        else:
            raise self.fail(s, "an assignment to something other than a local or a member of a local is outside the subset")
        cur = env[var]
        if cur is None and s.op != "=":
            raise self.fail(s, f"'{var}' is read before it is set")
        rhs = self.expr(s.rvalue, env)
        if member is None:
            val = rhs if s.op == "=" else c_ast.BinaryOp(s.op[:-1], cur, rhs)
            env = dict(env)
            env[var] = self._cast(self.types[var], val)
            return env
        old = c_ast.StructRef(cur, ".", c_ast.ID(member)) if cur is not None else None
        val = rhs if s.op == "=" else c_ast.BinaryOp(s.op[:-1], old, rhs)
        tnode = self.types[var]
        shape = self._struct_members(tnode, s)
        if len(shape) != 1 and cur is None:
            raise self.fail(s, f"'{var}' is read before it is set (a member of a struct not yet set)")
        if len(shape) != 1:
            inits = [c_ast.NamedInitializer([c_ast.ID(m)], val if m == member else c_ast.StructRef(cur, ".", c_ast.ID(m)))
                     for m in shape]
        else:
            inits = [val]
        env = dict(env)
        env[var] = _compound_literal(self._typename(tnode), c_ast.InitList(inits))
        return env

    def _struct_members(self, tnode, at) -> list[str]:
        words = self._type_text(tnode).split()
        d = self.ex.fe.typedefs.get(words[0]) if len(words) == 1 else None
        if d is None:
            raise self.fail(at, f"assigning a member of '{' '.join(words)}', which is not a known struct")
        kind, val, _ = _typedef_shape(self.ex.fe, d, 64)
        if kind != "struct":
            raise self.fail(at, f"'{words[0]}' is not a struct")
        if isinstance(val, dict):
            return [m[0] for m in val["members"]]
        return ["__only"]

    # --- expressions ------------------------------------------------------------------------------

    def expr(self, n, env):
        c_ast = self.c_ast
        if isinstance(n, c_ast.Constant):
            if n.type not in ("int", "unsigned int", "long int", "unsigned long int", "long long int",
                              "unsigned long long int") and not n.type.endswith("int"):
                raise self.fail(n, f"a {n.type} constant is outside the subset")
            return copy.copy(n)
        if isinstance(n, c_ast.ID):
            if n.name in env:
                if env[n.name] is None:
                    raise self.fail(n, f"'{n.name}' is read before it is set")
                return env[n.name]
            if n.name in ("true", "false"):
                return c_ast.Constant("int", "1" if n.name == "true" else "0")
            self.deps.append(n.name)
            return c_ast.ID(n.name)
        if isinstance(n, c_ast.UnaryOp):
            if n.op == "sizeof":
                if isinstance(n.expr, c_ast.Typename):
                    for w in self._type_text(n.expr.type).split():
                        if w not in C_WORDS:
                            self.deps.append(w)
                    return copy.deepcopy(n)
                return c_ast.UnaryOp("sizeof", self.expr(n.expr, env))
            if n.op not in ("-", "+", "~", "!"):
                raise self.fail(n, f"the operator '{n.op}' is outside the subset")
            return c_ast.UnaryOp(n.op, self.expr(n.expr, env))
        if isinstance(n, c_ast.BinaryOp):
            return c_ast.BinaryOp(n.op, self.expr(n.left, env), self.expr(n.right, env))
        if isinstance(n, c_ast.TernaryOp):
            return c_ast.TernaryOp(self.expr(n.cond, env), self.expr(n.iftrue, env), self.expr(n.iffalse, env))
        if isinstance(n, c_ast.Cast):
            self._note_type(n.to_type.type)
            return c_ast.Cast(copy.deepcopy(n.to_type), self.expr(n.expr, env))
        if isinstance(n, c_ast.StructRef):
            if n.type != ".":
                raise self.fail(n, "'->' (a pointer) is outside the subset")
            return c_ast.StructRef(self.expr(n.name, env), ".", c_ast.ID(n.field.name))
        if isinstance(n, c_ast.FuncCall):
            if not isinstance(n.name, c_ast.ID):
                raise self.fail(n, "a call through a pointer is outside the subset")
            callee = n.name.name
            if callee == "__builtin_expect" and n.args and len(n.args.exprs) == 2:
                return self.expr(n.args.exprs[0], env)       # its value is its first argument
            if callee not in self.ex.fe.functions and callee not in self.ex.pp.macros:
                if callee.startswith("__builtin"):
                    raise self.fail(n, f"the builtin {callee}() is outside the subset")
                self.deps.append(callee)   # reported as undefined by the extractor
            else:
                self.deps.append(callee)
            args = [self.expr(a, env) for a in (n.args.exprs if n.args else [])]
            return c_ast.FuncCall(c_ast.ID(callee), c_ast.ExprList(args) if args else None)
        if isinstance(n, c_ast.CompoundLiteral):
            self._note_type(n.type.type)
            init = n.init
            exprs = []
            for e in init.exprs or []:
                if isinstance(e, c_ast.NamedInitializer):
                    exprs.append(c_ast.NamedInitializer(e.name, self.expr(e.expr, env)))
                else:
                    exprs.append(self.expr(e, env))
            return _compound_literal(copy.deepcopy(n.type), c_ast.InitList(exprs))
        if isinstance(n, c_ast.ExprList):
            raise self.fail(n, "the comma operator is outside the subset")
        if isinstance(n, c_ast.Assignment):
            raise self.fail(n, "an assignment inside an expression is outside the subset")
        raise self.fail(n, f"a {type(n).__name__} expression is outside the subset")


# ---------------------------------------------------------------------------------------------
# entry points


def extract(tree_dir, arch: str, config: Config, name: str, preset: dict | None = None,
            kernel: str | None = None, assume: dict | None = None) -> Extracted:
    ex = Extractor(tree_dir, arch, config, assume=assume)
    out = ex.run(name, preset)
    out.data["kernel"] = kernel or _describe_tree(Path(tree_dir))
    return out


def _describe_tree(root: Path) -> str:
    """`<dir>@<git commit>` when the tree is a git checkout, else the directory."""
    import subprocess
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            return f"{root.resolve().name}@{r.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"tree at {root}"


def to_toml(data: dict) -> str:
    """A layout dict in the shipped file's format (keys in the usual order)."""
    lines = []
    scalars = ["layout", "arch", "description", "source", "kernel", "width", "long_bits", "pmd_width",
               "swp_entry_bits", "max_swapfiles_shift", "offset_bits", "page_shift", "max_physmem_bits",
               "phys_addr_bits", "notes"]
    for k in scalars:
        if k in data:
            lines.append(f"{k} = {_toml_value(data[k])}")
    if data.get("config"):
        lines.append("config = { " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in data["config"].items()) + " }")
    if data.get("assume"):
        lines.append("assume = " + _toml_value(data["assume"]))
    for table in ("types", "structs", "constants", "macros", "flags", "pmd_flags", "bits", "symbols", "known_findings"):
        if table in data and data[table]:
            lines.append("")
            lines.append(f"[{table}]")
            for k, v in data[table].items():
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def preset_data(name: str) -> dict:
    """A shipped layout file's data (its `config` is the preset), by layout name."""
    import tomllib
    from .model import shipped_layout_paths
    paths = shipped_layout_paths()
    if name not in paths:
        raise KernelError(f"unknown preset '{name}' (a shipped layout name: {', '.join(sorted(paths))})")
    data = tomllib.loads(paths[name].read_text(encoding="utf-8"))
    if "config" not in data:
        raise KernelError(f"preset '{name}': {paths[name].name} names no config (add `config = {{...}}`)")
    return data


def build_config(config_file=None, sets=(), preset: dict | None = None) -> Config:
    """The config: the preset's, then a .config file, then each --set (later wins)."""
    from ..kernel.tree import load_config, parse_set
    cfg = Config()
    if preset is not None:
        for k, v in preset.get("config", {}).items():
            cfg.set(k, v, f"preset {preset.get('layout')}")
    if config_file:
        cfg.update(load_config(config_file))
    for item in sets:
        k, v = parse_set(item)
        cfg.set(k, v, f"--set {item}")
    return cfg


def extract_layout(tree_dir, arch: str | None, config_file=None, sets=(), preset: str | None = None,
                   name: str | None = None, defines=()):
    """(Extracted, Layout): the layout of a tree, validated as a layout file is. A layout the
    loader refuses is reported at the header line of the definition it came from."""
    from .errors import LayoutError
    from .model import load_layout_data
    pdata = preset_data(preset) if preset else None
    arch = arch or (pdata or {}).get("arch")
    if not arch:
        raise KernelError("give --arch ARCH (or --preset NAME)")
    cfg = build_config(config_file, sets, pdata)
    name = name or preset or arch
    assume = dict((pdata or {}).get("assume", {}))
    for d in defines:
        k, eq, v = d.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_]\w*(\([^()]*\))?", k.strip()):
            raise KernelError(f"--assume {d}: expected NAME=VALUE or NAME(args)=BODY")
        assume[k.strip()] = v.strip()
    ex = extract(tree_dir, arch, cfg, name, pdata, assume=assume)
    raw = to_toml(ex.data)
    try:
        lay = load_layout_data(ex.data, raw, Path(f"{name}.toml"))
    except LayoutError as e:
        field = e.field or ""
        m = re.search(r'"([^"]*)"', field)
        key = m.group(1) if m else field.split()[-1] if field else ""
        km = re.search(r"([A-Za-z_]\w*)\s*\(", key)
        n = km.group(1) if km else key
        where = ex.where.get(n)
        if where:
            raise KernelError(f"cannot extract {n} at {where}: {e.message}") from None
        raise KernelError(f"cannot extract the layout: {e.message} ({field or 'layout'})") from None
    if pdata is not None:
        lay.known_findings = dict(pdata.get("known_findings", {}))
    return ex, lay
