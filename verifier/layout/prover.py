"""Properties of a swap-PTE layout, proved for all values with Z3.

Every property is written once over semantics.Semantics, which runs on either back end: with Z3
terms it is proved (the negation is unsatisfiable within the property's domain), with plain
integers it re-checks the counterexample Z3 found, so a reported violation is always confirmed by
direct evaluation of the file's expressions.

Domain of every property: swap types 0..2**MAX_SWAPFILES_SHIFT-1 (the kernel hands out all 32:
swap files from 0 up, the special device/migration/hwpoison/PTE-marker types from the top), offsets
0..limit-1 where limit is the layout's `offset_bits` if it states one, else the kernel's own
generic_max_swapfile_size() evaluated on the layout, never above SWP_OFFSET_MASK + 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from .backends import PY, Z3Backend
from .cexpr import Value
from .errors import LayoutError, UndefinedBehaviour
from .model import Layout
from .generic import GENERIC_PROPERTIES, prove_generic
from .semantics import Semantics

PROPERTY_NAMES: tuple[str, ...] = (
    "round_trip", "not_present_not_none", "flag_independent", "reserved_bits",
    "pmd_round_trip", "pmd_not_present_not_none", "pmd_flag_independent", "capacity",
    # the generic layer above the arch encoding (generic.py)
    "pfn_round_trip", "migration_ad_bits", "empty_reads_none",
)
PMD_PROPERTIES = ("pmd_round_trip", "pmd_not_present_not_none", "pmd_flag_independent")

# Capacity verdict: an offset field narrower than this is a capacity failure even when it round
# trips (2**16 pages = 256 MiB of swap with 4 KiB pages; every mainline layout has 19 bits or more).
MIN_OFFSET_BITS = 16

SLOT_EXCEPTION = ("type 0 with offset 0 or offset >= UINT_MAX excepted: type 0 is always a swap device "
                  "(the special types take the top values), offset 0 is its header page, and "
                  "read_swap_header() caps a device at UINT_MAX pages (32-bit last_page), so the "
                  "kernel never creates those entries")
UINT_MAX = 2 ** 32 - 1


def never_created(sem: Semantics, t, o):
    """The swap entries the kernel never creates (see SLOT_EXCEPTION), as a back-end boolean."""
    be = sem.be
    lb = sem.L.long_bits
    off_excepted = be.eq(o, be.const(0, lb))
    if lb > 32:
        off_excepted = be.or_(off_excepted, be.not_(be.ult(o, be.const(UINT_MAX, lb))))
    return be.and_(be.eq(t, be.const(0, 32)), off_excepted)


@dataclass
class PropertyResult:
    name: str
    verdict: str                      # 'proved' | 'disproved' | 'unknown'
    seconds: float
    counterexample: dict | None = None
    detail: str = ""                  # one line for humans (domain, exception, measurement)
    marks: dict = field(default_factory=dict)   # for the diagram: {'pte': int, 'bits': {bit: why}, ...}
    exception: str | None = None      # the entries excepted from the domain (never created), if any
    same_as: str | None = None        # an earlier disproved property this failure repeats
    notes: list = field(default_factory=list)   # lines printed under the counterexample (prove --confirm)

    def to_json(self) -> dict:
        d = {"name": self.name, "verdict": self.verdict, "seconds": round(self.seconds, 4)}
        if self.exception:
            d["exception"] = self.exception
        if self.same_as:
            d["same_failure_as"] = self.same_as
        elif self.verdict == "disproved" and self.marks.get("own_cause"):
            d["independent_of"] = list(self.marks["own_cause"])
        if self.counterexample is not None:
            d["counterexample"] = self.counterexample
        return d


@dataclass
class LayoutReport:
    layout: Layout
    properties: list[PropertyResult]
    capacity: dict                    # {'type_bits': int|None, 'offset_bits': int|None}
    kernel_max_offset: int
    offset_limit: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        verdicts = {p.verdict for p in self.properties}
        if "disproved" in verdicts:
            return "disproved"
        if "unknown" in verdicts:
            return "unknown"
        return "proved"

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.properties)

    def to_json(self) -> dict:
        return {
            "layout": self.layout.name,
            "source": list(self.layout.source),
            "width": self.layout.width,
            "properties": [p.to_json() for p in self.properties],
            "capacity": dict(self.capacity),
            **({"known_findings": dict(self.layout.known_findings)} if self.layout.known_findings else {}),
        }


# ---------------------------------------------------------------------------------------------
# Inputs

class Inputs:
    """The free values of a property: type, offset, one boolean per swp flag and per PMD swp flag,
    the bits hardware sets, and the file's [symbols] (held by the Semantics). Z3 variables on the
    symbolic side, Python values on the concrete side."""

    def __init__(self, sem: Semantics, values: dict | None = None):
        self.sem = sem
        L = sem.L
        if sem.be.symbolic:
            self.t = z3.BitVec("type", 32)
            self.o = z3.BitVec("offset", L.long_bits)
            self.flags = {f: z3.Bool(f"flag_{f}") for f in sem.flags()}
            self.pmd_flags = {f: z3.Bool(f"pmd_flag_{f}") for f in sem.pmd_flags()}
            self.hw = z3.BitVec("hardware_bits", sem.pte_storage.bits)
        else:
            v = values or {}
            self.t = v.get("type", 0)
            self.o = v.get("offset", 0)
            self.flags = {f: bool(v.get("flags", {}).get(f, False)) for f in sem.flags()}
            self.pmd_flags = {f: bool(v.get("pmd_flags", {}).get(f, False)) for f in sem.pmd_flags()}
            self.hw = v.get("hardware_bits", 0)

    @property
    def type_value(self) -> Value:
        return self.sem.uint(self.t)

    @property
    def offset_value(self) -> Value:
        return self.sem.ulong(self.o)

    def concrete(self, model) -> dict:
        def num(x, bits):
            v = model.eval(x, model_completion=True)
            return v.as_long()
        out = {
            "type": num(self.t, 32),
            "offset": num(self.o, self.sem.L.long_bits),
            "flags": {f: z3.is_true(model.eval(b, model_completion=True)) for f, b in self.flags.items()},
            "hardware_bits": num(self.hw, self.sem.pte_storage.bits),
        }
        if self.pmd_flags:
            out["pmd_flags"] = {f: z3.is_true(model.eval(b, model_completion=True))
                                for f, b in self.pmd_flags.items()}
        if self.sem.symbols:
            out["symbols"] = {n: num(v.v, v.ctype.bits) for n, v in self.sem.symbols.items()}
        return out


def _domain(sem: Semantics, inp: Inputs, offset_limit: int, type_limit: int, except_slot: bool):
    be = sem.be
    lb = sem.L.long_bits
    conds = [be.ult(inp.t, be.const(type_limit, 32)) if type_limit < 2 ** 32 else be.true()]
    if offset_limit < 2 ** lb:
        conds.append(be.ult(inp.o, be.const(offset_limit, lb)))
    if except_slot:
        conds.append(be.not_(never_created(sem, inp.t, inp.o)))
    conds.append(sem.symbol_constraint())
    return be.and_(*conds)


# ---------------------------------------------------------------------------------------------
# Property bodies: each returns [(description, condition)], every condition must hold.

def _same_entry(sem: Semantics, inp: Inputs, pte: Value, what: str, pmd: bool = False):
    be = sem.be
    ktype, koff = sem.decode(pte, pmd=pmd)
    return [
        (f"{what}: type reads back wrong", be.eq(ktype, inp.t)),
        (f"{what}: offset reads back wrong", be.eq(koff, inp.o)),
    ]


def obligations_round_trip(sem: Semantics, inp: Inputs):
    pte = sem.encode(inp.type_value, inp.offset_value)
    return _same_entry(sem, inp, pte, "pte_to_swp_entry(swp_entry_to_pte(entry)) != entry")


def obligations_not_present_not_none(sem: Semantics, inp: Inputs):
    be = sem.be
    pte = sem.with_flags(sem.encode(inp.type_value, inp.offset_value), inp.flags)
    return [
        ("the swap PTE reads present (pte_present)", be.not_(sem.present(pte))),
        ("the swap PTE reads none (pte_none)", be.not_(sem.none(pte))),
    ]


def _flag_obligations(sem: Semantics, inp: Inputs, flag: str, pmd: bool):
    """Each swp flag (of a PTE, or of a PMD swap entry): __swp_entry_to_pte/pmd() gives it clear,
    every flag reads back, setting / clearing it reads back and leaves the other flags and the
    decoded entry unchanged."""
    be = sem.be
    if pmd:
        encode, with_flags, mk, clear, test = (sem.encode_pmd, sem.pmd_with_flags, sem.pmd_mk,
                                               sem.pmd_clear, sem.pmd_test)
        flags, values, kind, other = sem.pmd_flags(), inp.pmd_flags, "pmd", "PMD "
    else:
        encode, with_flags, mk, clear, test = sem.encode, sem.with_flags, sem.mk, sem.clear, sem.test
        flags, values, kind, other = sem.flags(), inp.flags, "pte", ""
    fresh = encode(inp.type_value, inp.offset_value)
    base = with_flags(fresh, values)
    set_ = mk(flag, base)
    cleared = clear(flag, base)
    out = [(f"__swp_entry_to_{kind}() produces {flag} set", be.not_(test(flag, fresh)))]
    for g in flags:
        out.append((f"{other}{g} does not read back after setting the flags", be.iff(test(g, base), values[g])))
    out.append((f"{kind}_swp_mk{flag}() does not read back as set", test(flag, set_)))
    out.append((f"{kind}_swp_clear_{flag}() does not read back as clear", be.not_(test(flag, cleared))))
    for g in flags:
        if g == flag:
            continue
        for label, v in ((f"{kind}_swp_mk{flag}()", set_), (f"{kind}_swp_clear_{flag}()", cleared)):
            out.append((f"{label} changes {other}{g}", be.iff(test(g, v), values[g])))
    out += _same_entry(sem, inp, set_, f"after {kind}_swp_mk{flag}()", pmd=pmd)
    out += _same_entry(sem, inp, cleared, f"after {kind}_swp_clear_{flag}()", pmd=pmd)
    return out


def obligations_flag(sem: Semantics, inp: Inputs, flag: str):
    return _flag_obligations(sem, inp, flag, pmd=False)


def _bits_value(sem: Semantics, key: str):
    toks = getattr(sem.L, key)
    if not toks:
        return None
    val = sem.L.eval_tokens(sem.ctx, ("bits", key), toks, f"[bits] {key}")
    from .cexpr import convert
    return convert(sem.ctx, val, sem.pte_storage, toks[0]).v


def obligations_reserved(sem: Semantics, inp: Inputs, reference: int):
    be = sem.be
    bits = sem.pte_storage.bits
    zero = be.const(0, bits)
    pte = sem.with_flags(sem.encode(inp.type_value, inp.offset_value), inp.flags)
    out = []
    mbz = _bits_value(sem, "must_be_zero")
    if mbz is not None:
        out.append(("a must_be_zero bit is set in the swap PTE", be.eq(be.band(pte.v, mbz, bits), zero)))
    hw = _bits_value(sem, "hardware_may_set")
    if hw is not None:
        ref = be.const(reference, bits)
        out.append(("type, offset or a flag drives a hardware_may_set bit",
                    be.eq(be.band(pte.v, hw, bits), be.band(ref, hw, bits))))
        h = be.band(inp.hw, hw, bits)
        touched = Value(pte.ctype, be.bor(pte.v, h, bits))
        out += _same_entry(sem, inp, touched, "with hardware_may_set bits set by hardware")
        for f in sem.flags():
            out.append((f"hardware_may_set bits change {f}", be.iff(sem.test(f, touched), inp.flags[f])))
        # the (type 0, offset 0) exception of not_present_not_none applies here too
        not_slot = be.not_(never_created(sem, inp.t, inp.o))
        out.append(("with hardware_may_set bits set the swap PTE reads present",
                    be.implies(not_slot, be.not_(sem.present(touched)))))
        out.append(("with hardware_may_set bits set the swap PTE reads none",
                    be.implies(not_slot, be.not_(sem.none(touched)))))
    return out


def obligations_pmd_round_trip(sem: Semantics, inp: Inputs):
    pmd = sem.encode_pmd(inp.type_value, inp.offset_value)
    return _same_entry(sem, inp, pmd, "pmd_to_swp_entry(swp_entry_to_pmd(entry)) != entry", pmd=True)


def obligations_pmd_not_present_not_none(sem: Semantics, inp: Inputs):
    be = sem.be
    pmd = sem.pmd_with_flags(sem.encode_pmd(inp.type_value, inp.offset_value), inp.pmd_flags)
    out = []
    if "pmd_present" in sem.L.macros:
        out.append(("the swap PMD reads present (pmd_present)", be.not_(sem.pmd_present(pmd))))
    if "pmd_none" in sem.L.macros:
        out.append(("the swap PMD reads none (pmd_none)", be.not_(sem.pmd_none(pmd))))
    return out


def obligations_pmd_flag(sem: Semantics, inp: Inputs, flag: str):
    """As obligations_flag, for a PMD swap entry and its PMD swp flags."""
    return _flag_obligations(sem, inp, flag, pmd=True)


def obligations_arch_round_trip(sem: Semantics, inp: Inputs):
    """Capacity's notion: the arch macros alone give back type and offset exactly."""
    be = sem.be
    pte = sem.encode(inp.type_value, inp.offset_value)
    ty, off = sem.decode_arch(pte)
    t_long = be.zext(inp.t, 32, sem.L.long_bits) if sem.L.long_bits > 32 else inp.t
    return [("__swp_type() reads back wrong", be.eq(ty.v, t_long)),
            ("__swp_offset() reads back wrong", be.eq(off.v, inp.o))]


# ---------------------------------------------------------------------------------------------
# Solving

class _Query:
    """One property check: (UB reachable?) then (some obligation false?) within the domain."""

    def __init__(self, layout: Layout, deadline: float):
        self.layout = layout
        self.deadline = deadline

    def run(self, build, domain_args: dict, values_hint=None, assume=()):
        """build(sem, inputs) -> obligations. Returns ('proved'|'disproved'|'unknown', concrete
        inputs or None, failed descriptions, ub description or None). assume: (build, domain_args)
        of other properties taken to hold on the same inputs (within their own domains): the
        search is then for a failure those properties do not already explain."""
        sem = Semantics(self.layout, Z3Backend())
        inp = Inputs(sem)
        obligations = build(sem, inp)
        domain = _domain(sem, inp, **domain_args)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return "unknown", None, [], None
        solver = z3.SolverFor("QF_BV")
        solver.set("timeout", max(1, int(remaining * 1000)))
        solver.add(domain)
        if sem.ctx.ub:
            solver.push()
            solver.add(z3.Or(*[c for c, _ in sem.ctx.ub]))
            r = solver.check()
            if r == z3.sat:
                m = solver.model()
                which = [d for c, d in sem.ctx.ub if z3.is_true(m.eval(c, model_completion=True))]
                return "disproved", inp.concrete(m), [], which[0] if which else sem.ctx.ub[0][1]
            if r == z3.unknown:
                return "unknown", None, [], None
            solver.pop()
        conds = [c for _, c in obligations]
        goal = z3.simplify(z3.Not(z3.And(*conds))) if conds else z3.BoolVal(False)
        solver.add(goal)
        for other, other_domain in assume:
            held = [c for _, c in other(sem, inp)]
            if held:
                solver.add(z3.Implies(_domain(sem, inp, **other_domain), z3.And(*held)))
        r = solver.check()
        if r == z3.unsat:
            return "proved", None, [], None
        if r == z3.unknown:
            return "unknown", None, [], None
        values = inp.concrete(solver.model())
        return "disproved", values, None, None


def _confirm(layout: Layout, build, values: dict):
    """Evaluates the property with plain integers at the counterexample; returns the
    descriptions of the obligations that fail (or the UB met)."""
    sem = Semantics(layout, PY, values.get("symbols"))
    inp = Inputs(sem, values)
    try:
        obligations = build(sem, inp)
    except UndefinedBehaviour as ub:
        return [ub.describe()]
    return [d for d, c in obligations if not c]


def _limits(layout: Layout):
    sem = Semantics(layout, PY)
    try:
        kmax = sem.kernel_max_offset()
    except UndefinedBehaviour:
        kmax = 0
    cap = sem.offset_mask + 1
    if layout.offset_bits is not None:
        limit = min(1 << layout.offset_bits, cap)
    else:
        limit = min(kmax, cap) if kmax else cap
    return kmax, limit, sem


def _fmt_limit(n: int) -> str:
    if n and n & (n - 1) == 0:
        return f"2^{n.bit_length() - 1}"
    return f"{n:#x}"


def _counterexample(layout: Layout, values: dict, failed: list[str], extra: dict | None = None,
                    pmd: bool = False) -> dict:
    """The counterexample as concrete values: the entry, the flags set, the PTE (for a PMD
    property: the PMD) in hex and what the arch macros decode from it, and any [symbols] values."""
    sem = Semantics(layout, PY, values.get("symbols"))
    inp = Inputs(sem, values)
    ce = {"type": values["type"], "offset": values["offset"],
          "flags": dict(inp.pmd_flags if pmd else inp.flags)}
    if values.get("hardware_bits") and not pmd:
        ce["hardware_bits"] = f"{values['hardware_bits']:#x}"
    if values.get("symbols"):
        ce["symbols"] = {n: f"{v:#x}" for n, v in values["symbols"].items()}
    try:
        if pmd:
            entry = sem.pmd_with_flags(sem.encode_pmd(inp.type_value, inp.offset_value), inp.pmd_flags)
            ce["pmd"] = f"{entry.v:#0{sem.pmd_storage.bits // 4 + 2}x}"
        else:
            entry = sem.with_flags(sem.encode(inp.type_value, inp.offset_value), inp.flags)
            ce["pte"] = f"{entry.v:#0{sem.pte_storage.bits // 4 + 2}x}"
        ty, off = sem.decode_arch(entry, pmd=pmd)
        ce["decoded_type"] = ty.v
        ce["decoded_offset"] = off.v
    except UndefinedBehaviour:
        pass
    ce["violation"] = "; ".join(failed)
    if extra:
        ce.update(extra)
    return ce


def _fails_at(layout: Layout, build, domain_args: dict, values: dict) -> list[str]:
    """The obligations of a property that fail at these concrete inputs, if they are in its domain."""
    sem = Semantics(layout, PY, values.get("symbols"))
    inp = Inputs(sem, values)
    try:
        if not _domain(sem, inp, **domain_args):
            return []
        return [d for d, c in build(sem, inp) if not c]
    except UndefinedBehaviour as ub:
        return [ub.describe()]


def _check(layout: Layout, name: str, build, domain_args: dict, deadline: float, detail: str,
           extra_fn=None, earlier: list | None = None) -> PropertyResult:
    """earlier: (name, build, domain_args) of the properties already disproved. When this
    property's counterexample also breaks one of them, the search is repeated assuming they hold:
    no failure left means this one repeats theirs (same_as); a failure left is one of its own and
    becomes the counterexample."""
    start = time.monotonic()
    verdict, values, failed, ub = _Query(layout, deadline).run(build, domain_args)
    ce = None
    marks = {}
    same_as = None
    if verdict == "disproved" and ub is None and earlier:
        also = [e for e in earlier if _fails_at(layout, e[1], e[2], values)]
        if not also:
            marks["own_cause"] = [n for n, _, _ in earlier]
        else:
            v2, values2, _, ub2 = _Query(layout, deadline).run(
                build, domain_args, assume=[(b, d) for _, b, d in earlier])
            if v2 == "proved":
                same_as = [n for n, _, _ in also]
            elif v2 == "disproved" and ub2 is None:
                values = values2
                marks["own_cause"] = [n for n, _, _ in also]
        marks["repeat_checked"] = True       # the counterexample breaks no earlier property, or was re-searched
    if verdict == "disproved":
        if ub is not None:
            failed = [ub]
        else:
            failed = _confirm(layout, build, values)
            if not failed:
                verdict = "unknown"
                detail = ("internal inconsistency: Z3 found a counterexample that plain evaluation "
                          f"does not confirm ({values}); please report")
        if verdict == "disproved":
            extra = extra_fn(values) if extra_fn else None
            ce = _counterexample(layout, values, failed, extra, pmd=name in PMD_PROPERTIES)
            marks.update({"values": values, "property": name, "ub": ub is not None})
    r = PropertyResult(name, verdict, time.monotonic() - start, ce, detail, marks)
    if verdict == "disproved" and same_as:
        r.same_as = same_as[0]
        names = " and ".join(same_as)
        r.detail = (f"same failure as {names} (every counterexample of this property also breaks "
                    f"{'it' if len(same_as) == 1 else 'one of them'}); {detail}")
    elif verdict == "disproved" and marks.get("own_cause"):
        r.detail = (f"a failure of its own, not only {' and '.join(marks['own_cause'])}'s "
                    f"(this counterexample satisfies {'it' if len(marks['own_cause']) == 1 else 'them'}); {detail}")
    return r


def _capacity(layout: Layout, kmax: int, limit: int, deadline: float) -> tuple[PropertyResult, dict]:
    """Largest type width (offset 0) and offset width (all 2**MAX_SWAPFILES_SHIFT types) that the
    arch macros give back exactly. Guessed by plain evaluation of single-bit values, then proved
    with Z3 (the next width up fails at the concrete value the guess found)."""
    start = time.monotonic()
    mss = layout.max_swapfiles_shift
    sem = Semantics(layout, PY)

    def concrete_ok(t, o):
        try:
            return all(c for _, c in obligations_arch_round_trip(sem, Inputs(sem, {"type": t, "offset": o})))
        except UndefinedBehaviour:
            return False

    def prove_width(kind, k, type_limit):
        if kind == "type":
            args = dict(offset_limit=1, type_limit=1 << k, except_slot=False)
        else:
            args = dict(offset_limit=1 << k, type_limit=type_limit, except_slot=False)
        verdict, values, _, ub = _Query(layout, deadline).run(obligations_arch_round_trip, args)
        return verdict, values

    def measure(kind, max_width, type_limit):
        # guess: the first single bit (or all-ones prefix) that does not come back
        guess = max_width
        for b in range(max_width):
            if kind == "type":
                ok = concrete_ok(1 << b, 0) and concrete_ok((2 << b) - 1, 0)
            else:
                ok = all(concrete_ok(t, o) for t in {0, type_limit - 1} for o in (1 << b, (2 << b) - 1))
            if not ok:
                guess = b
                break
        lo, hi = -1, guess + 1     # P(lo) holds (vacuous at -1), P(hi) fails (concrete witness)
        k = guess
        while True:
            if k < 0:
                return 0, "proved"
            verdict, _ = prove_width(kind, k, type_limit)
            if verdict == "unknown":
                return None, "unknown"
            if verdict == "proved":
                lo = k
            else:
                hi = k
            if hi - lo <= 1:
                return max(lo, 0), "proved"
            k = (lo + hi) // 2

    type_bits, tv = measure("type", 32, None)
    offset_bits, ov = (None, "unknown")
    if type_bits is not None:
        offset_bits, ov = measure("offset", layout.long_bits, 1 << min(mss, type_bits))
    capacity = {"type_bits": type_bits, "offset_bits": offset_bits}
    seconds = time.monotonic() - start
    if "unknown" in (tv, ov):
        return PropertyResult("capacity", "unknown", seconds, None, "solver timeout while measuring"), capacity
    problems = []
    if type_bits < mss:
        problems.append(f"type field holds {type_bits} bits, the kernel needs MAX_SWAPFILES_SHIFT = {mss}")
    needed = (limit - 1).bit_length() if limit > 1 else 0
    if offset_bits < needed:
        problems.append(f"offset field holds {offset_bits} bits, below the {needed} bits of the offsets "
                        f"the kernel uses (limit {_fmt_limit(limit)})")
    if layout.offset_bits is not None and offset_bits < layout.offset_bits:
        problems.append(f"offset field holds {offset_bits} bits, the layout states offset_bits = {layout.offset_bits}")
    if offset_bits < MIN_OFFSET_BITS:
        problems.append(f"offset field holds {offset_bits} bits, below the floor of {MIN_OFFSET_BITS}")
    detail = (f"type {type_bits} bits, offset {offset_bits} bits; kernel max swap offset "
              f"(generic_max_swapfile_size) {_fmt_limit(kmax) if kmax else 0}")
    if not problems:
        return PropertyResult("capacity", "proved", seconds, None, detail), capacity
    ce = {"type_bits": type_bits, "offset_bits": offset_bits, "violation": "; ".join(problems)}
    # a concrete entry that does not come back at the first width missing
    witness = None
    if type_bits < mss:
        witness = {"type": 1 << type_bits, "offset": 0}
    elif offset_bits < layout.long_bits:
        witness = {"type": (1 << min(mss, type_bits)) - 1, "offset": 1 << offset_bits}
        for t in (0, (1 << min(mss, type_bits)) - 1):
            for o in (1 << offset_bits, (2 << offset_bits) - 1):
                if not concrete_ok(t, o):
                    witness = {"type": t, "offset": o}
                    break
            else:
                continue
            break
    marks = {}
    if witness is not None:
        values = {"type": witness["type"], "offset": witness["offset"], "flags": {}}
        wce = _counterexample(layout, values, _confirm(layout, obligations_arch_round_trip, values))
        ce.update({k: wce[k] for k in ("type", "offset", "pte", "decoded_type", "decoded_offset") if k in wce})
        marks = {"values": values, "property": "capacity"}
    return PropertyResult("capacity", "disproved", seconds, ce, detail, marks), capacity


def _symbols_detail(layout: Layout) -> str:
    if not layout.symbols:
        return ""
    parts = []
    for sd in layout.symbols.values():
        rng = "" if (sd.lo, sd.hi) == (0, (1 << sd.ctype.bits) - 1) else f" in [{sd.lo:#x}, {sd.hi:#x}]"
        parts.append(f"{sd.name} (any multiple of {sd.align:#x}{rng})")
    return "; for every " + ", ".join(parts)


def _check_each_flag(layout: Layout, name: str, flags, obligation, domain_args: dict, deadline,
                     detail: str, check=None) -> PropertyResult:
    """One property over every flag: proved when each flag's obligation is; the first failing flag
    is the counterexample (named in it and in the diagram's marks)."""
    start = time.monotonic()
    r = None
    for f in flags:
        r = (check or _check)(layout, name, lambda s, i, f=f: obligation(s, i, f), domain_args, deadline(), detail)
        if r.verdict != "proved":
            if r.counterexample is not None:
                r.counterexample["flag"] = f
                r.marks["flag"] = f
            break
    r.seconds = time.monotonic() - start
    return r


def prove_layout(layout: Layout, properties: list[str] | None = None,
                 timeout_s: float = 30.0, exception: bool = True) -> LayoutReport:
    """Proves the named properties (all applicable ones by default) of one layout. timeout_s
    bounds each property; a timeout is verdict 'unknown'. exception=False drops the "never
    created" exception (type 0 with offset 0 or >= UINT_MAX) from the present/none properties."""
    wanted = list(PROPERTY_NAMES) if properties is None else list(properties)
    for p in wanted:
        if p not in PROPERTY_NAMES:
            raise LayoutError(f"unknown property '{p}' (known: {', '.join(PROPERTY_NAMES)})")
    kmax, limit, sem = _limits(layout)
    mss = layout.max_swapfiles_shift
    types = 1 << mss
    base_domain = dict(offset_limit=limit, type_limit=types, except_slot=False)
    slot_domain = dict(offset_limit=limit, type_limit=types, except_slot=exception)
    slot_text = SLOT_EXCEPTION if exception else "no exception (--no-exception): every entry"
    stated = (f"offset_bits = {layout.offset_bits}" if layout.offset_bits is not None
              else "generic_max_swapfile_size()")
    dom = f"types < {types}, offsets < {_fmt_limit(limit)} ({stated}){_symbols_detail(layout)}"
    results: list[PropertyResult] = []
    skipped: list[tuple[str, str]] = []
    capacity = {"type_bits": None, "offset_bits": None}
    has_pmd = "__swp_entry_to_pmd" in layout.macros

    def deadline():
        return time.monotonic() + timeout_s

    failures: list = []          # (name, build, domain_args) of the properties disproved so far

    def check(layout, name, build, domain_args, deadline_at, detail, extra_fn=None):
        r = _check(layout, name, build, domain_args, deadline_at, detail, extra_fn, earlier=failures)
        if r.verdict == "disproved" and not r.marks.get("ub"):
            failures.append((name, build, domain_args))
        return r

    for name in PROPERTY_NAMES:
        if name not in wanted:
            continue
        if name == "round_trip":
            results.append(check(layout, name, obligations_round_trip, base_domain, deadline(), dom))
        elif name == "not_present_not_none":
            flags = ", any swp flags" if sem.flags() else ""
            r = check(layout, name, obligations_not_present_not_none, slot_domain, deadline(),
                       f"{dom}{flags}; {slot_text}")
            r.exception = SLOT_EXCEPTION if exception else None
            results.append(r)
        elif name == "flag_independent":
            if not sem.flags():
                skipped.append((name, "no swp flags declared in [flags]"))
                continue
            results.append(_check_each_flag(layout, name, sem.flags(), obligations_flag, base_domain,
                                            deadline, f"{', '.join(sem.flags())}; {dom}, any other flags", check))
        elif name == "reserved_bits":
            if layout.must_be_zero is None and layout.hardware_may_set is None:
                skipped.append((name, "no [bits] must_be_zero or hardware_may_set declared"))
                continue
            try:
                ref = sem.encode(sem.uint(1), sem.ulong(1)).v
            except UndefinedBehaviour:
                ref = 0
            parts = [k for k in ("must_be_zero", "hardware_may_set") if getattr(layout, k) is not None]
            results.append(check(layout, name, lambda s, i: obligations_reserved(s, i, ref), base_domain,
                                  deadline(), f"{' and '.join(parts)}; {dom}, any swp flags, any hardware bits"))
        elif name == "pmd_round_trip":
            if not has_pmd:
                skipped.append((name, "no PMD forms (__swp_entry_to_pmd) in this layout"))
                continue
            results.append(check(layout, name, obligations_pmd_round_trip, base_domain, deadline(), dom))
        elif name == "pmd_not_present_not_none":
            if not has_pmd or not ("pmd_present" in layout.macros or "pmd_none" in layout.macros):
                skipped.append((name, "no PMD forms with pmd_present/pmd_none in this layout"))
                continue
            flags = ", any PMD swp flags" if sem.pmd_flags() else ""
            r = check(layout, name, obligations_pmd_not_present_not_none, slot_domain,
                       deadline(), f"{dom}{flags}; {slot_text}")
            r.exception = SLOT_EXCEPTION if exception else None
            results.append(r)
        elif name == "pmd_flag_independent":
            if not has_pmd or not sem.pmd_flags():
                skipped.append((name, "no PMD swp flags declared in [pmd_flags]" if has_pmd else
                                "no PMD forms (__swp_entry_to_pmd) in this layout"))
                continue
            results.append(_check_each_flag(layout, name, sem.pmd_flags(), obligations_pmd_flag, base_domain,
                                            deadline, f"{', '.join(sem.pmd_flags())}; {dom}, any other PMD swp flags", check))
        elif name == "capacity":
            r, capacity = _capacity(layout, kmax, limit, deadline())
            results.append(r)
        elif name in GENERIC_PROPERTIES:
            r = prove_generic(layout, name, limit, deadline, check, skipped)
            if r is not None:
                results.append(r)
    if "capacity" not in wanted:
        # the JSON contract always carries the capacity: measure it even when not asked to judge it
        _, capacity = _capacity(layout, kmax, limit, deadline())
    _mark_repeats(results)
    return LayoutReport(layout, results, capacity, kmax, limit, skipped)


def _mark_repeats(results: list[PropertyResult]) -> None:
    """A follow-on failure that repeats an earlier one ("with hardware_may_set bits set by hardware:
    offset reads back wrong" after round_trip's "offset reads back wrong") says so."""
    seen: list[tuple[str, set[str]]] = []
    for r in results:
        if r.verdict != "disproved" or not r.counterexample:
            continue
        if r.marks.get("repeat_checked"):
            # decided by the solver (_check): a repeat, or a failure of its own
            reasons = {v.split(": ")[-1].strip() for v in str(r.counterexample.get("violation", "")).split("; ") if v}
            seen.append((r.name, reasons))
            continue
        reasons = {v.split(": ")[-1].strip() for v in str(r.counterexample.get("violation", "")).split("; ") if v}
        for name, earlier in seen:
            if reasons and reasons <= earlier:
                r.same_as = name
                r.detail = f"same failure as {name} ({'; '.join(sorted(reasons))}); {r.detail}"
                break
        seen.append((r.name, reasons))
