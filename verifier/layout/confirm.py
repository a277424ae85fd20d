"""A second opinion from a real C compiler (`pteverify prove --confirm`).

pteverify's proofs rest on its own implementation of C's integer semantics (cexpr.py). This module
asks the system C compiler the same questions: for each layout it writes one C program from the
layout's own definitions (constants and macros emitted as C macros, as written, so that the
compiler's preprocessor and its typing rules do the work), compiles it at -O0 and -O2 (no -fwrapv),
feeds it the inputs on stdin and compares every line it prints with what the plain evaluator says:

  - every counterexample the prover found: the program prints the PTE (PMD) and the decoded type
    and offset in the tool's own words, which must equal the tool's line;
  - a deterministic sample per macro the prover uses (edges: 0, 1, all-ones, each single bit, the
    type and offset limits; plus pseudo-random values), comparing the result's value *and* its C
    type (width and signedness);
  - where the tool says "undefined behaviour", the program built with -fsanitize=undefined runs
    that input alone (in a forked child, since UBSan reports each source location once) and must
    report a runtime error too.

Widths: the host compiler is LP64, the layout may be ILP32 (long_bits = 32). The generated text
maps the layout's types onto the host's at the layout's widths, by token rewriting that keeps
C's rules in the compiler's hands: in a specifier list with one `long`, `long` becomes `int`
(ILP32's long and int have the same width and signedness, so every promotion and usual arithmetic
conversion gives the same width and signedness), and an integer literal's single `l`/`L` suffix is
dropped (on ILP32 the candidate types of `0x80000000L` are long, unsigned long, long long, unsigned
long long: the same widths as an unsuffixed hex literal on LP64; likewise for decimal and `UL`).
`sizeof` is cast to the layout's size_t. Plain char is unsigned (-funsigned-char, as the kernel).

Signed overflow: the tool wraps (the kernel builds with -fno-strict-overflow). The programs are
built without -fwrapv, as asked, so a value the tool gives for ISO C undefined behaviour could
differ at -O2 (reported as a disagreement); UBSan reports of signed overflow or of a left shift
into the sign bit on inputs the tool gives a value for are listed as notes ("defined by the
kernel's -fno-strict-overflow"), any other UBSan report there is a disagreement.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import cexpr
from .backends import PY
from .cexpr import Token, Value
from .ctypes_ import BASE_KEYWORDS
from .errors import LayoutError, UndefinedBehaviour
from .model import Layout
from .semantics import Semantics

DEFAULT_SAMPLES = 2000          # pseudo-random inputs per macro, on top of the edge values
UB_PER_OP = 8                   # sampled undefined-behaviour inputs run under UBSan, per macro
OPT_LEVELS = ("-O0", "-O2")
BASE_FLAGS = ["-std=gnu11", "-funsigned-char", "-w"]
# UBSan messages for what the kernel's -fno-strict-overflow defines and the tool wraps
_KERNEL_DEFINED = re.compile(r"signed integer overflow|cannot be represented in type|left shift of negative value|"
                             r"negation of .* cannot be represented")


class ConfirmError(Exception):
    """The confirmation cannot run (no compiler, or a layout the C program cannot express)."""


# ---------------------------------------------------------------------------------------------
# The compiler


@dataclass
class Compiler:
    path: str
    version: str

    @property
    def name(self) -> str:
        return self.version or os.path.basename(self.path)


def find_compiler(cc: str | None = None) -> Compiler:
    """The C compiler to use: `cc` as given (a path or a name on PATH), else $CC, cc, gcc, clang.
    Raises ConfirmError (one line) when there is none."""
    candidates = [cc] if cc else [c for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c]
    for c in candidates:
        path = shutil.which(c) if os.sep not in c else (c if os.access(c, os.X_OK) else None)
        if path:
            try:
                out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
            except OSError:
                continue
            first = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
            return Compiler(path, first.strip())
    if cc:
        raise ConfirmError(f"--confirm: no C compiler at '{cc}'")
    raise ConfirmError("--confirm: no C compiler found (looked for $CC, cc, gcc, clang); install one "
                       "(e.g. apt-get install gcc) or give --cc PATH")


# ---------------------------------------------------------------------------------------------
# Text of the layout, as C

_SUFFIX_L = re.compile(r"^(.*?)([uU]?)([lL])([uU]?)$")
_PASTED_L = {"L", "l", "UL", "Ul", "uL", "ul", "LU", "Lu", "lU", "lu"}
_KERNEL_TYPEDEFS = [
    ("u8", "unsigned char"), ("u16", "unsigned short"), ("u32", "unsigned int"), ("u64", "unsigned long long"),
    ("s8", "signed char"), ("s16", "short"), ("s32", "int"), ("s64", "long long"),
    ("__u8", "unsigned char"), ("__u16", "unsigned short"), ("__u32", "unsigned int"), ("__u64", "unsigned long long"),
    ("__s8", "signed char"), ("__s16", "short"), ("__s32", "int"), ("__s64", "long long"),
    ("uint8_t", "unsigned char"), ("uint16_t", "unsigned short"), ("uint32_t", "unsigned int"),
    ("uint64_t", "unsigned long long"), ("int8_t", "signed char"), ("int16_t", "short"), ("int32_t", "int"),
    ("int64_t", "long long"), ("size_t", "unsigned long"), ("ssize_t", "long"), ("uintptr_t", "unsigned long"),
    ("bool", "_Bool"),
]


class CText:
    """Token rewriting of the layout's expressions into host C at the layout's widths."""

    def __init__(self, layout: Layout):
        self.L = layout
        self.ilp32 = layout.long_bits == 32
        self.declared = (set(layout.constants) | set(layout.macros) | set(layout.typedefs)
                         | set(layout.structs) | set(layout.symbols))

    def tokens(self, toks: list[Token], rename: dict[str, str] | None = None) -> str:
        out: list[str] = []
        i = 0
        n = len(toks)
        while i < n:
            t = toks[i]
            after_dot = bool(out) and out[-1] == "."
            if t.kind == "id" and t.text in BASE_KEYWORDS and not after_dot:
                j = i
                words = []
                while j < n and toks[j].kind == "id" and toks[j].text in BASE_KEYWORDS:
                    words.append(toks[j].text)
                    j += 1
                out.append(self.specifiers(words))
                i = j
                continue
            text = t.text
            if t.kind == "num" and self.ilp32:
                m = _SUFFIX_L.match(text)
                if m and not text.lower().endswith("ll") and m.group(3):
                    text = m.group(1) + m.group(2) + m.group(4)
            elif t.kind == "id" and not after_dot:
                if rename and text in rename:
                    text = rename[text]
                elif self.ilp32 and text in _PASTED_L and text not in self.declared:
                    text = "U" if "u" in text.lower() else ""      # the suffix half of _AC(1, UL)
                elif text == "sizeof" and self.ilp32:
                    text = "(unsigned int)sizeof"
            if text:
                out.append(text)
            i += 1
        return _join(out)

    def specifiers(self, words: list[str]) -> str:
        if words.count("bool"):
            words = ["_Bool" if w == "bool" else w for w in words]
        if self.ilp32 and words.count("long") == 1:
            words = [w for w in words if w != "int"]
            words = ["int" if w == "long" else w for w in words]
        return " ".join(words)

    def type_text(self, text: str) -> str:
        return self.tokens(cexpr.tokenize(text, None))


def _join(parts: list[str]) -> str:
    """Tokens as text, with a space where leaving it out could change the tokens or reads badly."""
    s = ""
    prev = ""
    for p in parts:
        tight = (prev in ("(", "[", ".", "~", "!") or p in (")", "]", ",", ".")
                 or (p == "(" and (prev == ")" or prev[-1:].isalnum() or prev[-1:] == "_")))
        if s and not tight:
            s += " "
        s += p
        prev = p
    return s


# ---------------------------------------------------------------------------------------------
# Operations: what the program evaluates, each with the tool's own evaluation of it


@dataclass
class Op:
    name: str               # what a report calls it: "__swp_entry(type, offset)"
    args: tuple             # kinds of the inputs: 'uint', 'ulong', 'swp', 'pte', 'pmd', 'flags'
    c_body: list[str]       # C statements; the result is printed with __pv_typed/__pv_hex/__pv_bool
    py: object              # (sem, *ints) -> expected output text
    index: int = 0
    first_line: int = 0
    last_line: int = 0


@dataclass
class Record:
    op: int
    args: tuple
    expect: str | None      # None: the tool says undefined behaviour
    ub: str | None = None
    label: str = ""         # for counterexamples: the property


@dataclass
class Disagreement:
    what: str               # the macro or counterexample
    input: str
    tool: str
    cc: str
    build: str

    def line(self) -> str:
        return f"{self.what} at {self.input}: pteverify {self.tool}, cc {self.build} {self.cc}"

    def to_json(self) -> dict:
        return {"macro": self.what, "input": self.input, "pteverify": self.tool, "cc": self.cc,
                "build": self.build}


@dataclass
class ConfirmResult:
    layout: str
    compiler: str = ""
    flags: list = field(default_factory=list)
    evaluations: int = 0            # sampled macro evaluations compared, per build
    builds: int = 0                 # optimisation levels each was compared at
    counterexamples: int = 0        # counterexamples the compiled program reproduced
    counterexample_lines: dict = field(default_factory=dict)   # property -> the program's own line
    ub_expected: int = 0            # inputs the tool says are undefined behaviour
    ub_checked: int = 0             # of those, run under -fsanitize=undefined
    ub_confirmed: int = 0           # ... and reported by it
    notes: list = field(default_factory=list)          # UBSan reports on what the kernel defines
    disagreements: list = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""               # why this layout was not compiled (128-bit entries)

    @property
    def ok(self) -> bool:
        return not self.disagreements

    def to_json(self) -> dict:
        return {
            "compiler": self.compiler, "flags": list(self.flags), "agrees": self.ok,
            "evaluations": self.evaluations, "builds": self.builds,
            "counterexamples": self.counterexamples,
            "counterexample_output": {k: dict(v) for k, v in self.counterexample_lines.items()},
            "undefined_behaviour": {"expected": self.ub_expected, "checked": self.ub_checked,
                                    "reported_by_ubsan": self.ub_confirmed},
            "notes": list(self.notes),
            "disagreements": [d.to_json() for d in self.disagreements],
            "seconds": round(self.seconds, 3),
        } | ({"not_compared": self.skipped} if self.skipped else {})

    def summary(self) -> str:
        if self.skipped:
            return f"cc: not compared ({self.skipped})"
        if not self.ok:
            return f"cc DISAGREES ({len(self.disagreements)}):"
        s = (f"cc -O0/-O2 agrees: {self.evaluations} macro evaluations"
             + (f", {self.counterexamples} counterexample{'s' if self.counterexamples != 1 else ''}" if self.counterexamples else ""))
        if self.ub_expected:
            s += f", undefined behaviour reported by -fsanitize=undefined on {self.ub_confirmed}/{self.ub_checked} checked"
        return s


def _typed(val: Value) -> str:
    t = val.ctype
    bits = 1 if t.name == "_Bool" else t.bits
    return f"{bits}{'s' if t.signed else 'u'}{val.v:x}"


class Program:
    """The C program of one layout and the operations it evaluates."""

    def __init__(self, layout: Layout, ctext: CText | None = None):
        self.L = layout
        self.ct = ctext or CText(layout)
        self.sem = Semantics(layout, PY)
        sem = self.sem
        self.pte_t, self.swp_t, self.pmd_t = sem.pte_t, sem.swp_t, sem.pmd_t
        self.has_pmd = "__swp_entry_to_pmd" in layout.macros
        self.ops: list[Op] = []
        self.lines: list[str] = []      # this layout's section of the program
        self.renamed: list[str] = []    # its type, symbol and function names (made unique per layout)
        self.undefined: list[str] = []  # its macros (#undef after the section)
        self.labels: dict[int, str] = {}  # line of the section -> what it defines (for UBSan reports)
        self._define_ops()
        self._generate()

    # --- helpers ------------------------------------------------------------------------------

    def storage(self, t):
        return t.storage if t.is_struct else t

    def mk(self, t, v: int) -> Value:
        return Value(t, v)

    # --- the operations ---------------------------------------------------------------------

    def _define_ops(self):
        L, sem = self.L, self.sem
        ops = self.ops

        def add(name, args, body, py):
            ops.append(Op(name, args, body, py, len(ops)))

        for cname in L.constants:
            add(f"[constants] {cname}", (), [f"__PV_TYPED({cname});"],
                lambda s, n=cname: _typed(L.eval_tokens(s.ctx, ("const", n), L.constants[n].body, L.constants[n].field)))
        for kind, table in (("flags", L.flags), ("pmd_flags", L.pmd_flags)):
            for f, toks in table.items():
                add(f"[{kind}] {f}", (), [f"__PV_TYPED(__pv_{kind}_{f});"],
                    lambda s, k=kind, f=f, toks=toks: _typed(L.eval_tokens(s.ctx, (k[:-1], f), toks, f"[{k}] {f}")))
        for key in ("must_be_zero", "hardware_may_set"):
            toks = getattr(L, key)
            if toks:
                add(f"[bits] {key}", (), [f"__PV_TYPED(__pv_bits_{key});"],
                    lambda s, k=key, toks=toks: _typed(L.eval_tokens(s.ctx, ("bits", k), toks, f"[bits] {k}")))

        add("__swp_entry(type, offset)", ("uint", "ulong"),
            ["swp_entry_t __pv_r = __swp_entry(__pv_t, __pv_o);", "__pv_hex_swp(__pv_r);"],
            lambda s, t, o: f"{s.arch_entry(s.uint(t), s.ulong(o)).v:x}")
        add("__swp_type(e)", ("swp",), ["__PV_TYPED(__swp_type(__pv_e));"],
            lambda s, e: _typed(s.call("__swp_type", Value(s.swp_t, e))))
        add("__swp_offset(e)", ("swp",), ["__PV_TYPED(__swp_offset(__pv_e));"],
            lambda s, e: _typed(s.call("__swp_offset", Value(s.swp_t, e))))
        for p in ("pte", "pmd") if self.has_pmd else ("pte",):
            pt = f"{p}_t"
            add(f"__swp_entry_to_{p}(e)", ("swp",),
                [f"{pt} __pv_r = __swp_entry_to_{p}(__pv_e);", f"__pv_hex_{p}(__pv_r);"],
                lambda s, e, p=p: f"{s._expect(s.call(f'__swp_entry_to_{p}', Value(s.swp_t, e)), getattr(s, p + '_t'), f'__swp_entry_to_{p}').v:x}")
            add(f"__{p}_to_swp_entry({p})", (p,),
                [f"swp_entry_t __pv_r = __{p}_to_swp_entry(__pv_{p});", "__pv_hex_swp(__pv_r);"],
                lambda s, v, p=p: f"{s._expect(s.call(f'__{p}_to_swp_entry', Value(getattr(s, p + '_t'), v)), s.swp_t, f'__{p}_to_swp_entry').v:x}")
            for m in (f"{p}_present", f"{p}_none"):
                if m in L.macros:
                    add(f"{m}({p})", (p,), [f"__PV_TYPED({m}(__pv_{p}));"],
                        lambda s, v, m=m, p=p: _typed(s.call(m, Value(getattr(s, p + '_t'), v))))
            flags = sem.flags() if p == "pte" else sem.pmd_flags()
            for f in flags:
                for acc, what in ((f"{p}_swp_mk{f}", "mk"), (f"{p}_swp_clear_{f}", "clear")):
                    fn = (sem.mk if what == "mk" else sem.clear) if p == "pte" else (sem.pmd_mk if what == "mk" else sem.pmd_clear)
                    add(f"{acc}({p})", (p,), [f"{pt} __pv_r = {self._acc(acc)}(__pv_{p});", f"__pv_hex_{p}(__pv_r);"],
                        lambda s, v, fn=fn, f=f, p=p: f"{fn(f, Value(getattr(s, p + '_t'), v)).v:x}")
                test = f"{p}_swp_{f}"
                if test in L.macros:
                    add(f"{test}({p})", (p,), [f"__PV_TYPED({test}(__pv_{p}));"],
                        lambda s, v, m=test, p=p: _typed(s.call(m, Value(getattr(s, p + '_t'), v))))
                else:
                    tfn = sem.test if p == "pte" else sem.pmd_test
                    add(f"{test}({p})", (p,), [f"__pv_bool({self._acc(test)}(__pv_{p}));"],
                        lambda s, v, tfn=tfn, f=f, p=p: str(int(bool(tfn(f, Value(getattr(s, p + '_t'), v))))))
        # the kernel's generic code over them
        add("swp_entry_to_pte(swp_entry(type, offset))", ("uint", "ulong"),
            ["pte_t __pv_r = __pv_encode(__pv_t, __pv_o);", "__pv_hex_pte(__pv_r);"],
            lambda s, t, o: f"{s.encode(s.uint(t), s.ulong(o)).v:x}")
        add("pte_to_swp_entry(pte): __swp_type, __swp_offset", ("pte",),
            ["__pv_decode_pte(__pv_pte);"],
            lambda s, v: " ".join(f"{x.v:x}" for x in s.decode_arch(Value(s.pte_t, v))))
        if self.has_pmd:
            add("swp_entry_to_pmd(swp_entry(type, offset))", ("uint", "ulong"),
                ["pmd_t __pv_r = __pv_encode_pmd(__pv_t, __pv_o);", "__pv_hex_pmd(__pv_r);"],
                lambda s, t, o: f"{s.encode_pmd(s.uint(t), s.ulong(o)).v:x}")
            add("softleaf_from_pmd(pmd): __swp_type, __swp_offset", ("pmd",),
                ["__pv_decode_pmd(__pv_pmd);"],
                lambda s, v: " ".join(f"{x.v:x}" for x in s.decode_arch(Value(s.pmd_t, v), pmd=True)))
        # counterexamples: the program's own line, in the tool's words
        self.ce_op = {}
        for p in ("pte", "pmd") if self.has_pmd else ("pte",):
            self.ce_op[p] = len(ops)
            add(f"counterexample ({p})", ("uint", "ulong", "flags"), [f"__pv_counterexample_{p}(__pv_t, __pv_o, __pv_flags);"],
                None)

    def _acc(self, name: str) -> str:
        """A flag accessor: the layout's own, or the default (set, test, clear the mask)."""
        return name if name in self.L.macros else f"__pv_{name}"

    # --- the C text ---------------------------------------------------------------------------

    def _generate(self):
        L, ct = self.L, self.ct
        raw = tomllib.loads(L.raw_text)
        out = self.lines
        w = out.append
        w(f"/* ==== layout {L.name} ({L.path.name}): its definitions as C at its widths (long is {L.long_bits} bits) ==== */")
        w("/* the kernel's fixed-width types */")
        for name, text in _KERNEL_TYPEDEFS:
            if name not in L.typedefs and name not in L.structs:
                w(f"typedef {ct.type_text(text)} {name};")
                self.renamed.append(name)
        w(f"typedef {ct.type_text('unsigned long')} __pv_ulong;")
        w("/* [types] */")
        types_raw = raw.get("types", {})
        for name in L.typedefs:          # resolution order: dependencies first
            w(f"typedef {ct.type_text(types_raw[name])} {name};")
            self.renamed.append(name)
        w("/* [structs]: one member (any member name reads the whole value) or packed members */")
        members = self._member_names()
        clash = members & set(L.constants)
        if clash:
            raise ConfirmError(f"{L.path}: member name '{sorted(clash)[0]}' is also a constant: the C preprocessor "
                               f"would expand it where pteverify does not")
        structs_raw = raw.get("structs", {})
        for name, st in L.structs.items():
            self.renamed.append(name)
            spec = structs_raw[name]
            storage = ct.type_text(spec if isinstance(spec, str) else spec["type"])
            names = ["__pv_whole"] + sorted(members)
            if not st.members:
                w(f"typedef union {{ {' '.join(f'{storage} {m};' for m in names)} }} {name};")
                continue
            body = []
            pos = 0
            for (mname, lo, bits, mtype), mspec in zip(st.members, spec["members"]):
                if lo != pos or bits not in (8, 16, 32, 64) or lo % bits:
                    raise ConfirmError(f"{L.path}: [structs] {name}: member '{mname}' at bits {lo}..{lo + bits - 1}: the C "
                                       "program needs members in bit order, without gaps, of 8/16/32/64 bits")
                mt = ct.type_text(mspec[3]) if len(mspec) == 4 else {8: "unsigned char", 16: "unsigned short",
                                                                     32: "unsigned int", 64: "unsigned long long"}[bits]
                body.append(f"{mt} {mname};")
                pos += bits
            if pos != st.storage.bits:
                raise ConfirmError(f"{L.path}: [structs] {name}: members cover {pos} of {st.storage.bits} bits")
            listed = {m[0] for m in st.members}
            whole = [m for m in names if m not in listed]
            w(f"typedef union {{ struct {{ {' '.join(body)} }}; {' '.join(f'{storage} {m};' for m in whole)} }} {name};")
        w("/* [symbols]: opaque link-time values, set by the driver */")
        for name, sd in L.symbols.items():
            w(f"static {ct.type_text(sd.ctype.name)} {name};")
            self.renamed.append(name)
        w("/* [constants] */")
        for name, c in L.constants.items():
            w(f"#define {name} {ct.tokens(c.body)}")
            self.undefined.append(name)
            self.labels[len(out)] = c.field
        w("/* [macros] */")
        functions = []
        for name, m in L.macros.items():
            text = self._macro(m)
            if text.startswith("#define"):
                self.undefined.append(name)
                w(text)
                self.labels[len(out)] = m.field
            else:
                self.renamed.append(name)
                functions.append((m, text))
        # inline functions after every macro (a function body expands the macros it uses where it is
        # written, cpp does not look ahead), each declared before any is defined (they call each other
        # in the header's order, which need not be the order of the file)
        for m, text in functions:
            w(text.split(" {", 1)[0] + ";")
        for m, text in functions:
            w(text)
            self.labels[len(out)] = m.field
        w("/* [flags], [pmd_flags], [bits] */")
        for kind, table in (("flags", L.flags), ("pmd_flags", L.pmd_flags)):
            for f, toks in table.items():
                w(f"#define __pv_{kind}_{f} ({ct.tokens(toks)})")
        for key in ("must_be_zero", "hardware_may_set"):
            toks = getattr(L, key)
            if toks:
                w(f"#define __pv_bits_{key} ({ct.tokens(toks)})")
        self._driver(w)

    def _member_names(self) -> set[str]:
        L = self.L
        names = set()
        lists = [c.body for c in L.constants.values()] + [m.body for m in L.macros.values()]
        lists += list(L.flags.values()) + list(L.pmd_flags.values())
        lists += [t for t in (L.must_be_zero, L.hardware_may_set) if t]
        for toks in lists:
            for a, b in zip(toks, toks[1:]):
                if a.kind == "punct" and a.text == "." and b.kind == "id":
                    names.add(b.text)
        return names

    def _macro(self, m) -> str:
        ct = self.ct
        typed = [t is not None for t in m.param_types]
        if m.params and all(typed) and m.return_type is not None:
            params = ", ".join(f"{ct.type_text(t)} {p}" for p, t in zip(m.params, m.param_types))
            return f"static inline {ct.type_text(m.return_type)} {m.name}({params}) {{ return {ct.tokens(m.body)}; }}"
        # a macro; a parameter that the body also uses as a member name (after '.') is renamed,
        # since cpp would substitute it there and pteverify does not
        member_uses = {b.text for a, b in zip(m.body, m.body[1:]) if a.text == "." and b.kind == "id"}
        rename = {}
        pnames = []
        locals_ = []
        for p, t in zip(m.params, m.param_types):
            if t is not None:
                arg = f"__pv_a_{p}"
                rename[p] = f"__pv_l_{m.name}_{p}"
                locals_.append(f"{ct.type_text(t)} {rename[p]} = ({arg});")
                pnames.append(arg)
            elif p in member_uses:
                rename[p] = f"__pv_p_{p}"
                pnames.append(rename[p])
            else:
                pnames.append(p)
        body = ct.tokens(m.body, rename)
        if m.return_type is not None:
            body = f"{ct.type_text(m.return_type)} __pv_ret = ({body}); __pv_ret;"
        if locals_ or m.return_type is not None:
            if m.return_type is None:
                body = f"{body};"
            body = f"({{ {' '.join(locals_)} {body} }})"
        head = f"{m.name}({', '.join(pnames)})" if m.params else f"{m.name}()"
        return f"#define {head} {body}"

    def _driver(self, w):
        L, sem = self.L, self.sem
        pte_whole = ".__pv_whole" if self.pte_t.is_struct else ""
        pmd_whole = (".__pv_whole" if self.pmd_t.is_struct else "") if self.has_pmd else ""
        w("/* ---- driver ---- */")
        for p, t, whole in (("pte", self.pte_t, pte_whole), ("swp", self.swp_t, ".__pv_whole"),
                            ("pmd", self.pmd_t, pmd_whole)):
            if p == "pmd" and not self.has_pmd:
                continue
            tname = "swp_entry_t" if p == "swp" else f"{p}_t"
            bits = self.storage(t).bits
            w(f'static void __pv_hex_{p}({tname} x) {{ printf(" %llx", (__pv_u64)x{whole} & __pv_mask({bits})); }}')
            if t.is_struct:
                w(f"static {tname} __pv_mk_{p}(__pv_u64 v) {{ {tname} x; __builtin_memset(&x, 0, sizeof x); "
                  f"x.__pv_whole = v; return x; }}")
            else:
                w(f"static {tname} __pv_mk_{p}(__pv_u64 v) {{ return ({tname})v; }}")
        # default flag accessors: pte_val(pte) | mask, & ~mask, & mask (the mask at the PTE's type)
        for p, flags, whole, kind in (("pte", sem.flags(), pte_whole, "flags"),
                                      ("pmd", sem.pmd_flags() if self.has_pmd else [], pmd_whole, "pmd_flags")):
            t = self.pte_t if p == "pte" else self.pmd_t
            for f in flags:
                st = self.ct.type_text(self.storage(t).name) if not self.storage(t).name.startswith("unsigned:") else None
                cast = f"({st})" if st else ""
                if f"{p}_swp_mk{f}" not in L.macros:
                    self.labels[len(self.lines) + 1] = f"{p}_swp_mk{f}() (default)"
                    w(f"static {p}_t __pv_{p}_swp_mk{f}({p}_t x) {{ x{whole} = x{whole} | {cast}(__pv_{kind}_{f}); return x; }}")
                if f"{p}_swp_clear_{f}" not in L.macros:
                    self.labels[len(self.lines) + 1] = f"{p}_swp_clear_{f}() (default)"
                    w(f"static {p}_t __pv_{p}_swp_clear_{f}({p}_t x) {{ x{whole} = x{whole} & ~{cast}(__pv_{kind}_{f}); return x; }}")
                if f"{p}_swp_{f}" not in L.macros:
                    self.labels[len(self.lines) + 1] = f"{p}_swp_{f}() (default)"
                    w(f"static int __pv_{p}_swp_{f}({p}_t x) {{ return (x{whole} & {cast}(__pv_{kind}_{f})) != 0; }}")
        w("/* the kernel's generic code (include/linux/swapops.h, leafops.h) */")
        self.labels[len(self.lines) + 1] = "swp_entry_to_pte(): __swp_entry_to_pte(__swp_entry(type, offset))"
        self.labels[len(self.lines) + 2] = "pte_swp_clear_flags()"
        self.labels[len(self.lines) + 3] = "the swp flags set on the counterexample's PTE"
        self.labels[len(self.lines) + 4] = "pte_to_swp_entry(): __swp_type, __swp_offset of __pte_to_swp_entry()"
        w("static pte_t __pv_encode(unsigned int t, __pv_ulong o) { swp_entry_t e = __swp_entry(t, o); "
          "pte_t r = __swp_entry_to_pte(e); return r; }")
        w("static pte_t __pv_pte_clear_flags(pte_t pte) {"
          + "".join(f" if ({self._acc(f'pte_swp_{f}')}(pte)) pte = {self._acc(f'pte_swp_clear_{f}')}(pte);"
                    for f in sem.flags()) + " return pte; }")
        w("static pte_t __pv_pte_with_flags(pte_t pte, __pv_u64 m) {"
          + "".join(f" if (m & {1 << i}) pte = {self._acc(f'pte_swp_mk{f}')}(pte);" for i, f in enumerate(sem.flags()))
          + " return pte; }")
        w("static void __pv_decode_arch_pte(pte_t pte, __pv_ulong *t, __pv_ulong *o) { "
          "pte_t c = __pv_pte_clear_flags(pte); swp_entry_t e = __pte_to_swp_entry(c); *t = __swp_type(e); *o = __swp_offset(e); }")
        w('static void __pv_decode_pte(pte_t pte) { __pv_ulong t, o; __pv_decode_arch_pte(pte, &t, &o); '
          'printf(" %llx %llx", (__pv_u64)t, (__pv_u64)o); }')
        pte_bits = self.storage(self.pte_t).bits
        w(f"static void __pv_counterexample_pte(unsigned int ty, __pv_ulong off, __pv_u64 flags) {{ "
          f"pte_t pte = __pv_pte_with_flags(__pv_encode(ty, off), flags); __pv_ulong t, o; "
          f"__pv_decode_arch_pte(pte, &t, &o); "
          f'printf("pte 0x%0{pte_bits // 4}llx -> __swp_type %llu, __swp_offset 0x%llx", '
          f"(__pv_u64)pte{pte_whole} & __pv_mask({pte_bits}), (__pv_u64)t, (__pv_u64)o); }}")
        if self.has_pmd:
            dec = [f for f in sem.pmd_flags() if f in ("soft_dirty", "uffd_wp")]
            pmd_bits = self.storage(self.pmd_t).bits
            self.labels[len(self.lines) + 1] = "swp_entry_to_pmd(): __swp_entry_to_pmd(__swp_entry(type, offset))"
            self.labels[len(self.lines) + 2] = "softleaf_from_pmd(): clearing soft-dirty, uffd-wp"
            self.labels[len(self.lines) + 3] = "the PMD swp flags set on the counterexample's PMD"
            self.labels[len(self.lines) + 4] = "softleaf_from_pmd(): __swp_type, __swp_offset of __pmd_to_swp_entry()"
            w("static pmd_t __pv_encode_pmd(unsigned int t, __pv_ulong o) { swp_entry_t e = __swp_entry(t, o); "
              "pmd_t r = __swp_entry_to_pmd(e); return r; }")
            w("static pmd_t __pv_pmd_clear_flags(pmd_t pmd) {"
              + "".join(f" if ({self._acc(f'pmd_swp_{f}')}(pmd)) pmd = {self._acc(f'pmd_swp_clear_{f}')}(pmd);" for f in dec)
              + " return pmd; }")
            w("static pmd_t __pv_pmd_with_flags(pmd_t pmd, __pv_u64 m) {"
              + "".join(f" if (m & {1 << i}) pmd = {self._acc(f'pmd_swp_mk{f}')}(pmd);"
                        for i, f in enumerate(sem.pmd_flags())) + " return pmd; }")
            w("static void __pv_decode_arch_pmd(pmd_t pmd, __pv_ulong *t, __pv_ulong *o) { "
              "pmd_t c = __pv_pmd_clear_flags(pmd); swp_entry_t e = __pmd_to_swp_entry(c); *t = __swp_type(e); *o = __swp_offset(e); }")
            w('static void __pv_decode_pmd(pmd_t pmd) { __pv_ulong t, o; __pv_decode_arch_pmd(pmd, &t, &o); '
              'printf(" %llx %llx", (__pv_u64)t, (__pv_u64)o); }')
            w(f"static void __pv_counterexample_pmd(unsigned int ty, __pv_ulong off, __pv_u64 flags) {{ "
              f"pmd_t pmd = __pv_pmd_with_flags(__pv_encode_pmd(ty, off), flags); __pv_ulong t, o; "
              f"__pv_decode_arch_pmd(pmd, &t, &o); "
              f'printf("pmd 0x%0{pmd_bits // 4}llx -> __swp_type %llu, __swp_offset 0x%llx", '
              f"(__pv_u64)pmd{pmd_whole} & __pv_mask({pmd_bits}), (__pv_u64)t, (__pv_u64)o); }}")
        w("static __pv_u64 __pv_a[4];")
        decl = {"uint": "unsigned int __pv_t = (unsigned int)__pv_a[{i}];",
                "ulong": "__pv_ulong __pv_o = (__pv_ulong)__pv_a[{i}];",
                "swp": "swp_entry_t __pv_e = __pv_mk_swp(__pv_a[{i}]);",
                "pte": "pte_t __pv_pte = __pv_mk_pte(__pv_a[{i}]);",
                "pmd": "pmd_t __pv_pmd = __pv_mk_pmd(__pv_a[{i}]);",
                "flags": "__pv_u64 __pv_flags = __pv_a[{i}];"}
        for op in self.ops:
            op.first_line = len(self.lines) + 1
            w(f"static void __pv_op{op.index}(void) /* {op.name} */ {{")
            for i, k in enumerate(op.args):
                w("    " + decl[k].format(i=i))
            for s in op.c_body:
                w("    " + s)
            w("}")
            op.last_line = len(self.lines)
        w("static const int __pv_nargs[] = {" + ", ".join(str(len(op.args)) for op in self.ops) + "};")
        w("static void __pv_run(int op) { switch (op) {")
        for op in self.ops:
            w(f"    case {op.index}: __pv_op{op.index}(); break;")
        w("} }")
        syms = list(L.symbols)
        w("static void __pv_setsym(int i, __pv_u64 v) {" + "".join(f" if (i == {j}) {n} = v;" for j, n in enumerate(syms))
          + " (void)i; (void)v; }")

    def label_at(self, line: int) -> str:
        return self.labels.get(line, f"line {line} of {self.L.name}'s section of the program")

    def op_at_line(self, line: int) -> Op | None:
        """line: within this layout's section (1-based)."""
        for op in self.ops:
            if op.first_line <= line <= op.last_line:
                return op
        return None


_SHARED = re.compile(r"\b__pv_(?=u64\b|mask\b|typed_out\b|bool\b)")
_PREFIX = re.compile(r"\b__pv_")


class Batch:
    """One C program for several layouts: each layout's section between #defines that make its
    type, symbol and function names unique and #undefs of its macros, so that one compiler run per
    optimisation level covers them all (the layouts' text stays as written)."""

    def __init__(self, programs: list[Program]):
        self.programs = programs
        self.offsets: list[int] = []
        out = [
            "/* Generated by `pteverify prove --confirm`: each layout's definitions as C, and a driver that reads",
            "   inputs on stdin ('-2 i': layout i; '-1 v...': its [symbols]; 'op a...': evaluate) and prints one line each. */",
            "int printf(const char *, ...);",
            "int scanf(const char *, ...);",
            "int fflush(void *);",
            "int fork(void);",
            "int waitpid(int, int *, int);",
            "void _exit(int);",
            "typedef unsigned long long __pv_u64;",
            '_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "struct members are laid out for a little-endian host");',
            "static __pv_u64 __pv_mask(int bits) { return bits >= 64 ? ~0ULL : (1ULL << bits) - 1; }",
            'static void __pv_typed_out(int bits, int sgn, __pv_u64 v) { printf(" %d%c%llx", bits, sgn ? \'s\' : \'u\', v & __pv_mask(bits)); }',
            "#define __PV_TYPED(X) do { __typeof__(X) __pv_v = (X); __pv_typed_out("
            "__builtin_types_compatible_p(__typeof__(__pv_v), _Bool) ? 1 : (int)sizeof(__pv_v) * 8, "
            "(__typeof__(__pv_v))-1 < (__typeof__(__pv_v))0, (__pv_u64)__pv_v); } while (0)",
            'static void __pv_bool(int c) { printf(" %d", c != 0); }',
        ]
        for i, prog in enumerate(programs):
            for n in prog.renamed:
                out.append(f"#define {n} __pv{i}L_{n}")
            self.offsets.append(len(out))
            for line in prog.lines:
                out.append(_PREFIX.sub(f"__pv{i}_", _SHARED.sub("__PVSHARED_", line)).replace("__PVSHARED_", "__pv_"))
            for n in prog.renamed + prog.undefined:
                out.append(f"#undef {n}")
        k = len(programs)
        out.append("static void (*const __pv_runs[])(int) = {" + ", ".join(f"__pv{i}_run" for i in range(k)) + "};")
        out.append("static const int *const __pv_nargs[] = {" + ", ".join(f"__pv{i}_nargs" for i in range(k)) + "};")
        out.append("static __pv_u64 *const __pv_args[] = {" + ", ".join(f"__pv{i}_a" for i in range(k)) + "};")
        out.append("static void (*const __pv_setsyms[])(int, __pv_u64) = {" + ", ".join(f"__pv{i}_setsym" for i in range(k)) + "};")
        out.append("static const int __pv_nops[] = {" + ", ".join(str(len(p.ops)) for p in programs) + "};")
        out += [
            "int main(int argc, char **argv) {",
            "    int op, i, cur = 0, n = 0; __pv_u64 v; (void)argv;",
            "    while (scanf(\"%d\", &op) == 1) {",
            f"        if (op == -2) {{ if (scanf(\"%d\", &cur) != 1 || cur < 0 || cur >= {k}) return 3; continue; }}",
            "        if (op == -1) { int k; if (scanf(\"%d\", &k) != 1) return 3;",
            "            for (i = 0; i < k; i++) { if (scanf(\"%llx\", &v) != 1) return 3; __pv_setsyms[cur](i, v); } continue; }",
            "        if (op >= __pv_nops[cur]) return 3;",
            "        for (i = 0; i < __pv_nargs[cur][op]; i++) if (scanf(\"%llx\", &__pv_args[cur][i]) != 1) return 3;",
            "        if (argc > 1) {   /* one child per input: UBSan reports each source location once per process */",
            "            int st; printf(\"@%d\\n\", n); fflush(0);",
            "            if (fork() == 0) { __pv_runs[cur](op); printf(\"\\n\"); fflush(0); _exit(0); }",
            "            waitpid(-1, &st, 0);",
            "        } else { __pv_runs[cur](op); printf(\"\\n\"); }",
            "        n++;",
            "    }",
            "    fflush(0); return 0;",
            "}",
        ]
        self.lines = out

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"

    def locate(self, line: int):
        """(program index, op or None) of a line of the whole program."""
        for i in range(len(self.programs) - 1, -1, -1):
            if line > self.offsets[i]:
                return i, self.programs[i].op_at_line(line - self.offsets[i])
        return None, None


# ---------------------------------------------------------------------------------------------
# Inputs


def _edges(bits: int) -> list[int]:
    vals = {0, 1, (1 << bits) - 1}
    vals.update(1 << i for i in range(bits))
    return sorted(vals)


class Sampler:
    """Deterministic inputs per operation: edges, then pseudo-random values."""

    def __init__(self, prog: Program, samples: int, limit: int):
        self.p = prog
        self.sem = prog.sem
        self.n = samples
        self.limit = limit
        L = prog.L
        self.types = 1 << L.max_swapfiles_shift
        lb = L.long_bits
        tmax = self.types
        self.type_edges = sorted(set(_edges(32)) | {tmax - 1, tmax, tmax + 1})
        om = self.sem.offset_mask
        self.offset_edges = sorted(set(_edges(lb)) | {v & ((1 << lb) - 1) for v in (limit - 1, limit, om, om + 1)})

    def rng(self, op: Op) -> random.Random:
        return random.Random(f"{self.p.L.name}:{op.name}")

    def pairs(self, op: Op):
        out = [(t, 0) for t in self.type_edges] + [(0, o) for o in self.offset_edges]
        out += [(self.types - 1, o) for o in self.offset_edges] + [(t, self.limit - 1) for t in self.type_edges]
        r = self.rng(op)
        lb = self.p.L.long_bits
        for i in range(self.n):
            if i % 4 == 3:
                out.append((r.getrandbits(32), r.getrandbits(lb)))
            else:
                out.append((r.randrange(self.types), r.randrange(max(self.limit, 1))))
        return out

    def entries(self, op: Op, kind: str):
        """Whole values of a swp_entry_t, pte_t or pmd_t: edges, encodings of in-domain entries
        (with random flags), random bit patterns."""
        p, sem = self.p, self.sem
        t = {"swp": p.swp_t, "pte": p.pte_t, "pmd": p.pmd_t}[kind]
        bits = p.storage(t).bits
        out = list(_edges(bits))
        r = self.rng(op)
        flags = sem.flags() if kind == "pte" else sem.pmd_flags() if kind == "pmd" else []
        for i in range(self.n):
            if i % 2:
                out.append(r.getrandbits(bits))
                continue
            ty, off = r.randrange(self.types), r.randrange(max(self.limit, 1))
            try:
                if kind == "swp":
                    out.append(sem.arch_entry(sem.uint(ty), sem.ulong(off)).v)
                elif kind == "pte":
                    v = sem.encode(sem.uint(ty), sem.ulong(off))
                    v = sem.with_flags(v, {f: bool(r.getrandbits(1)) for f in flags})
                    out.append(v.v)
                else:
                    v = sem.encode_pmd(sem.uint(ty), sem.ulong(off))
                    v = sem.pmd_with_flags(v, {f: bool(r.getrandbits(1)) for f in flags})
                    out.append(v.v)
            except UndefinedBehaviour:
                out.append(r.getrandbits(bits))
        return out

    def inputs(self, op: Op):
        if not op.args:
            return [()]
        if op.args == ("uint", "ulong"):
            return self.pairs(op)
        (kind,) = op.args
        return [(v,) for v in self.entries(op, kind)]


def _describe_input(op: Op, args: tuple) -> str:
    if not op.args:
        return "(constant)"
    names = {"uint": "type", "ulong": "offset", "swp": "entry", "pte": "pte", "pmd": "pmd", "flags": "flags"}
    return ", ".join(f"{names[k]} {v:#x}" for k, v in zip(op.args, args))


# ---------------------------------------------------------------------------------------------
# Running


def _compile(cc: Compiler, src: Path, exe: Path, flags: list[str]):
    return subprocess.Popen([cc.path, *BASE_FLAGS, *flags, str(src), "-o", str(exe)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return line.strip()
    return (text.strip().splitlines() or ["(no message)"])[0]


_UBSAN = re.compile(r"^[^:\n]*:(\d+):(\d+): runtime error: (.*)$", re.M)


def confirm_layout(layout: Layout, report=None, cc: Compiler | None = None, samples: int = DEFAULT_SAMPLES,
                   workdir: str | None = None) -> ConfirmResult:
    """confirm_layouts for one layout."""
    return confirm_layouts([(layout, report)], cc, samples, workdir)[0]


def confirm_layouts(items, cc: Compiler | None = None, samples: int = DEFAULT_SAMPLES,
                    workdir: str | None = None) -> list[ConfirmResult]:
    """items: [(layout, report)], report the LayoutReport of prove_layout (its counterexamples are
    checked) or None (the sample only). Builds one program for all the layouts (three compiler
    runs: -O0, -O2, -O0 -fsanitize=undefined), computes the tool's values while they compile, runs
    them and compares. Raises ConfirmError when a layout cannot be written as C."""
    start = time.monotonic()
    cc = cc or find_compiler()
    flags = list(OPT_LEVELS) + ["-fsanitize=undefined"] + BASE_FLAGS
    wide = [i for i, (L, _) in enumerate(items) if max(L.width, L.pmd_width) > 64]
    if wide:
        # the program reads and prints every value as one unsigned long long: 128-bit entries
        # (u128, CONFIG_ARM64_D128) are proved, not compared
        rest = [it for i, it in enumerate(items) if i not in wide]
        done = iter(confirm_layouts(rest, cc, samples, workdir) if rest else [])
        return [ConfirmResult(L.name, compiler=cc.name, flags=flags,
                              skipped=f"{max(L.width, L.pmd_width)}-bit entries: the generated program's values "
                                      "are 64-bit; the entry is proved, not compiled")
                if i in wide else next(done) for i, (L, _) in enumerate(items)]
    results = [ConfirmResult(L.name, compiler=cc.name, flags=flags) for L, _ in items]
    progs = [Program(L) for L, _ in items]
    with tempfile.TemporaryDirectory(prefix="pteverify-cc-", dir=workdir) as tmp:
        d = Path(tmp)
        live = list(range(len(progs)))
        records = None
        while True:
            batch = Batch([progs[i] for i in live])
            src = d / "layouts.c"
            src.write_text(batch.source)
            builds = {lvl: d / f"prog{lvl}" for lvl in OPT_LEVELS}
            builds["ubsan"] = d / "prog-ubsan"
            procs = {lvl: _compile(cc, src, exe, [lvl]) for lvl, exe in builds.items() if lvl != "ubsan"}
            procs["ubsan"] = _compile(cc, src, builds["ubsan"], ["-O0", "-fsanitize=undefined"])
            if records is None:     # meanwhile: the tool's values
                records = {i: _records(progs[i], items[i][1], samples) for i in live}
            outs = {lvl: p.communicate()[0] for lvl, p in procs.items()}
            failed = [lvl for lvl in OPT_LEVELS if procs[lvl].returncode != 0]
            if not failed:
                if procs["ubsan"].returncode != 0:
                    raise ConfirmError(f"--confirm: {cc.path} cannot build with -fsanitize=undefined (is libubsan "
                                       f"installed?): {_first_error(outs['ubsan'])}")
                if not all(exe.exists() for exe in builds.values()):
                    raise ConfirmError(f"--confirm: {cc.path} compiled without error but wrote no program")
                break
            out = outs[failed[0]]
            # find the layouts the compiler rejects, report them, go on with the others
            for i in list(live):
                one = d / "one.c"
                one.write_text(Batch([progs[i]]).source)
                r = subprocess.run([cc.path, *BASE_FLAGS, "-fsyntax-only", str(one)], capture_output=True, text=True)
                if r.returncode != 0:
                    results[i].disagreements.append(Disagreement(
                        "the generated program", items[i][0].name, "accepts the layout",
                        f"rejects it: {_first_error(r.stdout + r.stderr)}", "-fsyntax-only"))
                    live.remove(i)
            if not live or len(live) == len(progs) and not any(r.disagreements for r in results):
                if live:        # the batch fails but no layout alone does: report it on all
                    for i in live:
                        results[i].disagreements.append(Disagreement(
                            "the generated program", items[i][0].name, "accepts the layouts",
                            f"rejects them together: {_first_error(out)}", "batch"))
                live = []
            if not live:
                break
        if live:
            _run_values(batch, live, records, builds, results)
            _run_ub(batch, live, records, builds["ubsan"], results)
    elapsed = time.monotonic() - start
    for i in live:
        results[i].builds = len(OPT_LEVELS)
    for r in results:
        r.seconds = elapsed / max(len(results), 1)
    return results


def _records(prog: Program, report, samples: int) -> list[Record]:
    sem = prog.sem
    from .prover import _limits
    _, limit, _ = _limits(prog.L)
    sampler = Sampler(prog, samples, limit)
    records: list[Record] = []
    defaults = tuple(sd.default for sd in prog.L.symbols.values())
    if defaults:    # the values plain evaluation uses (each symbol's smallest allowed value)
        records.append(Record(-1, defaults, None, label="symbols"))
    if report is not None:
        for pr in report.properties:
            ce = pr.counterexample
            if pr.verdict != "disproved" or not ce or "type" not in ce or "offset" not in ce:
                continue
            pmd = "pmd" in ce or pr.name.startswith("pmd_")
            names = sem.pmd_flags() if pmd else sem.flags()
            mask = sum(1 << i for i, f in enumerate(names) if ce.get("flags", {}).get(f))
            if ce.get("symbols"):
                records.append(Record(-1, tuple(int(ce["symbols"][n], 16) for n in prog.L.symbols), None, label="symbols"))
            if "decoded_type" in ce:
                kind = "pmd" if pmd else "pte"
                expect = f"{kind} {ce[kind]} -> __swp_type {ce['decoded_type']}, __swp_offset {ce['decoded_offset']:#x}"
                records.append(Record(prog.ce_op["pmd" if pmd else "pte"], (ce["type"], ce["offset"], mask), expect,
                                      label=pr.name))
            else:       # the tool found undefined behaviour on the way
                records.append(Record(prog.ce_op["pmd" if pmd else "pte"], (ce["type"], ce["offset"], mask), None,
                                      ub=ce.get("violation", "undefined behaviour"), label=pr.name))
            if ce.get("symbols"):   # back to the defaults for the sample
                records.append(Record(-1, tuple(sd.default for sd in prog.L.symbols.values()), None, label="symbols"))
    for op in prog.ops:
        if op.py is None:
            continue
        for args in sampler.inputs(op):
            try:
                records.append(Record(op.index, args, op.py(sem, *args)))
            except UndefinedBehaviour as ub:
                records.append(Record(op.index, args, None, ub=ub.describe()))
    return records


def _feed(live: list[int], records: dict, keep) -> tuple[str, list]:
    """The input text for the records kept, layout by layout, and [(layout, record)] in the order
    of the lines the program prints."""
    parts, order = [], []
    for bi, i in enumerate(live):
        parts.append(f"-2 {bi}\n")
        for r in records[i]:
            if r.op == -1:
                parts.append(f"-1 {len(r.args)} " + " ".join(f"{a:x}" for a in r.args) + "\n")
            elif keep(r):
                parts.append(f"{r.op} " + " ".join(f"{a:x}" for a in r.args) + "\n")
                order.append((i, r))
    return "".join(parts), order


def _run(exe: Path, data: str, args=(), merge=False) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merge else subprocess.PIPE, text=True, timeout=3600)


def _what(prog: Program, r: Record) -> str:
    return f"{r.label} counterexample" if r.label else prog.ops[r.op].name


def _run_values(batch: Batch, live: list[int], records: dict, builds: dict, results: list[ConfirmResult]):
    """Value records (the tool gives a value) through the -O0 and -O2 builds."""
    progs = batch.programs
    data, order = _feed(live, records, lambda r: r.expect is not None)
    prog_of = {i: progs[bi] for bi, i in enumerate(live)}
    for lvl in OPT_LEVELS:
        p = _run(builds[lvl], data)
        lines = p.stdout.split("\n")
        if p.returncode != 0 or len(lines) < len(order):
            k = max(min(len(lines) - 1, len(order) - 1), 0)
            i, r = order[k]
            results[i].disagreements.append(Disagreement(
                _what(prog_of[i], r), _describe_input(prog_of[i].ops[r.op], r.args), r.expect or "",
                f"the program stopped (exit status {p.returncode}) at this input", lvl))
            continue
        shown: dict = {}
        for (i, r), line in zip(order, lines):
            res, prog = results[i], prog_of[i]
            got = line.strip()
            is_ce = bool(r.label)
            if is_ce:
                res.counterexample_lines.setdefault(r.label, {})[lvl] = got
                if lvl == OPT_LEVELS[-1] and all(res.counterexample_lines[r.label].get(x) == r.expect for x in OPT_LEVELS):
                    res.counterexamples += 1
            elif lvl == OPT_LEVELS[0]:
                res.evaluations += 1
            if got != r.expect:
                key = (i, r.op, lvl)
                shown[key] = shown.get(key, 0) + 1
                if shown[key] > 3:          # the first three per macro and build are enough to read
                    continue
                res.disagreements.append(Disagreement(_what(prog, r), _describe_input(prog.ops[r.op], r.args),
                                                      r.expect, got, lvl))


def _run_ub(batch: Batch, live: list[int], records: dict, exe: Path, results: list[ConfirmResult]):
    """Under -fsanitize=undefined: (1) the value records, whose UBSan reports are notes (what the
    kernel's -fno-strict-overflow defines) or disagreements (anything else); (2) each input the tool
    says is undefined behaviour, alone in a child, which must get a report."""
    progs = batch.programs
    data, _ = _feed(live, records, lambda r: r.expect is not None)
    p = _run(exe, data)
    seen: dict = {}
    for m in _UBSAN.finditer(p.stderr):
        line, msg = int(m.group(1)), m.group(3)
        bi, op = batch.locate(line)
        if bi is None:
            continue
        i = live[bi]
        where = op.name if op else progs[bi].label_at(line - batch.offsets[bi])
        if (i, where, msg) in seen:
            continue
        seen[(i, where, msg)] = True
        if _KERNEL_DEFINED.search(msg):
            results[i].notes.append({"where": where, "ubsan": msg})
        else:
            results[i].disagreements.append(Disagreement(where, "sampled inputs", "a value (no undefined behaviour)",
                                                         f"UBSan: {msg}", "-fsanitize=undefined"))
    # the tool's undefined behaviour: every counterexample, a few sampled inputs per macro
    for i in live:
        results[i].ub_expected = sum(1 for r in records[i] if r.ub is not None)
    chosen = {}
    for i in live:
        counts: dict = {}
        sel = []
        for r in records[i]:
            if r.op == -1:
                sel.append(r)
            elif r.ub is not None and (r.label or counts.get(r.op, 0) < UB_PER_OP):
                counts[r.op] = counts.get(r.op, 0) + 1
                sel.append(r)
        chosen[i] = sel
    data, order = _feed(live, chosen, lambda r: r.ub is not None)
    if not order:
        return
    merged = _run(exe, data, ["fork"], merge=True).stdout
    parts = re.split(r"^@(\d+)\n", merged, flags=re.M)
    by_index = {int(parts[k]): parts[k + 1] for k in range(1, len(parts) - 1, 2)}
    prog_of = {i: progs[bi] for bi, i in enumerate(live)}
    for k, (i, r) in enumerate(order):
        res = results[i]
        res.ub_checked += 1
        out = by_index.get(k, "")
        if "runtime error" in out:
            res.ub_confirmed += 1
            if r.label:
                msg = _UBSAN.search(out)
                res.counterexample_lines.setdefault(r.label, {})["ubsan"] = f"UBSan: {msg.group(3)}" if msg else "UBSan"
        else:
            res.disagreements.append(Disagreement(
                _what(prog_of[i], r), _describe_input(prog_of[i].ops[r.op], r.args), r.ub,
                "no UBSan report" + (f" (printed {out.strip()!r})" if out.strip() else ""), "-fsanitize=undefined"))


# ---------------------------------------------------------------------------------------------
# Reporting


def attach(report, res: ConfirmResult) -> None:
    """Puts the compiled program's own line under each counterexample of the report (in
    PropertyResult.notes, which format_report prints), aligned with the prover's."""
    from .diagram import _fmt_ce
    for pr in report.properties:
        got = res.counterexample_lines.get(pr.name)
        if not got or pr.counterexample is None:
            continue
        tool = next((s for s in _fmt_ce(pr.counterexample) if s.startswith("type ")), "")
        if "ubsan" in got:
            pr.notes.append(f"compiled with cc -fsanitize=undefined: {got['ubsan']}")
            continue
        values = [got.get(lvl, "") for lvl in OPT_LEVELS]
        col = max(tool.find("-> pte "), tool.find("-> pmd ")) + 3
        if len(set(values)) == 1:
            pairs = [(f"compiled, cc {' and '.join(OPT_LEVELS)}:", values[0])]
        else:
            pairs = [(f"compiled, cc {lvl}:", v) for lvl, v in zip(OPT_LEVELS, values)]
        for head, v in pairs:
            pr.notes.append(f"{head.ljust(max(col, len(head) + 1))}{v}")


def format_confirm(res: ConfirmResult, indent: str = "  ") -> list[str]:
    """The confirmation of one layout as text lines: the summary, notes, disagreements."""
    lines = [f"{indent}{res.summary()}"]
    for n in _grouped_notes(res.notes):
        lines.append(f"{indent}  note: {n}")
    for d in res.disagreements:
        lines.append(f"{indent}  {d.line()}")
    return lines


def _grouped_notes(notes: list[dict]) -> list[str]:
    """UBSan reports on values pteverify gives, one line per message with the places."""
    groups: dict = {}
    for n in notes:
        groups.setdefault(n["ubsan"], []).append(n["where"])
    return [f"UBSan: {msg}, in {', '.join(places)}: ISO C undefined behaviour, defined by the kernel's "
            "-fno-strict-overflow (which pteverify follows)" for msg, places in groups.items()]


def confirm_summary(results: list[ConfirmResult]) -> str:
    """One line for a whole run."""
    skipped = [r for r in results if r.skipped]
    results = [r for r in results if not r.skipped]
    bad = [r for r in results if not r.ok]
    ev = sum(r.evaluations for r in results)
    ce = sum(r.counterexamples for r in results)
    ub_c = sum(r.ub_confirmed for r in results)
    ub_k = sum(r.ub_checked for r in results)
    secs = sum(r.seconds for r in results)
    n = len(results)
    head = (f"cc disagrees on {len(bad)} of {n} layout{'s' if n != 1 else ''}" if bad
            else f"cc agrees on {n} layout{'s' if n != 1 else ''}")
    s = (f"{head}: {ev} macro evaluations compared at {' and '.join(OPT_LEVELS)}, "
         f"{ce} counterexample{'s' if ce != 1 else ''} reproduced")
    if ub_k:
        s += f", {ub_c}/{ub_k} undefined behaviours reported by -fsanitize=undefined"
    if skipped:
        s += f"; {len(skipped)} not compared (128-bit entries)"
    return s + f"; {secs:.2f}s"
