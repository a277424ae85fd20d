"""Semantic diff of two layouts (`pteverify layout diff`): each macro the prover uses, compared with
Z3 over all inputs (every PTE value, every swap entry, every type and offset, every allowed value
of the [symbols]); equal, or the first input where the two differ."""

from __future__ import annotations

from dataclasses import dataclass

import z3

from .backends import Z3Backend
from .cexpr import Value
from .errors import LayoutError, UndefinedBehaviour
from .model import FLAG_NAMES, Layout
from .semantics import Semantics


@dataclass
class MacroDiff:
    name: str
    verdict: str          # 'equal', 'differs', 'only-left', 'only-right', 'unknown'
    detail: str = ""

    def to_json(self):
        return {"macro": self.name, "verdict": self.verdict, "detail": self.detail}


def _fmt(v: int, bits: int) -> str:
    return f"0x{v:0{max(1, bits // 4)}x}"


def diff_layouts(left: Layout, right: Layout, timeout_s: float = 30.0) -> list[MacroDiff]:
    out: list[MacroDiff] = []
    a, b = Semantics(left, Z3Backend()), Semantics(right, Z3Backend())
    for what, l, r in (("width", left.width, right.width), ("long_bits", left.long_bits, right.long_bits)):
        if l != r:
            out.append(MacroDiff(what, "differs", f"{l} vs {r}"))
    if out:
        return out
    for what in ("page_shift", "max_physmem_bits"):
        l, r = getattr(left, what), getattr(right, what)
        if l != r:
            out.append(MacroDiff(what, "differs", f"{l} vs {r}"))
    pbits = a.pte_storage.bits
    sbits = (a.swp_t.storage if a.swp_t.is_struct else a.swp_t).bits
    sbits_r = (b.swp_t.storage if b.swp_t.is_struct else b.swp_t).bits
    pte_v = z3.BitVec("pte", pbits)
    ent_v = z3.BitVec("entry", sbits)
    ty_v = z3.BitVec("type", 32)
    off_v = z3.BitVec("offset", left.long_bits)
    inputs = {"pte": (pte_v, pbits), "entry": (ent_v, sbits), "type": (ty_v, 32), "offset": (off_v, left.long_bits)}
    if sbits != sbits_r:
        out.append(MacroDiff("swp_entry_t", "differs", f"{sbits} vs {sbits_r} bits"))
        return out

    def pte(sem):
        return Value(sem.pte_t, pte_v)

    def ent(sem):
        return Value(sem.swp_t, ent_v)

    checks = [
        ("__swp_type(entry)", "bits", lambda s: s.to_ulong(s.call("__swp_type", ent(s)), "__swp_type")),
        ("__swp_offset(entry)", "bits", lambda s: s.to_ulong(s.call("__swp_offset", ent(s)), "__swp_offset")),
        ("__swp_entry(type, offset)", "bits", lambda s: s.arch_entry(s.uint(ty_v), s.ulong(off_v))),
        ("__swp_entry_to_pte(entry)", "bits", lambda s: s._expect(s.call("__swp_entry_to_pte", ent(s)), s.pte_t, "__swp_entry_to_pte")),
        ("__pte_to_swp_entry(pte)", "bits", lambda s: s._expect(s.call("__pte_to_swp_entry", pte(s)), s.swp_t, "__pte_to_swp_entry")),
        ("pte_present(pte)", "bool", lambda s: s.present(pte(s))),
        ("pte_none(pte)", "bool", lambda s: s.none(pte(s))),
    ]
    for f in sorted(set(left.flags) | set(right.flags), key=FLAG_NAMES.index):
        checks += [(f"pte_swp_mk{f}(pte)", "bits", lambda s, f=f: s.mk(f, pte(s))),
                   (f"pte_swp_clear_{f}(pte)", "bits", lambda s, f=f: s.clear(f, pte(s))),
                   (f"pte_swp_{f}(pte)", "bool", lambda s, f=f: s.test(f, pte(s)))]
    lp, rp = "__swp_entry_to_pmd" in left.macros, "__swp_entry_to_pmd" in right.macros
    if lp and rp and a.pmd_storage.bits == b.pmd_storage.bits:
        pmd_v = z3.BitVec("pmd", a.pmd_storage.bits)
        inputs["pmd"] = (pmd_v, a.pmd_storage.bits)

        def pmd(sem):
            return Value(sem.pmd_t, pmd_v)
        checks += [
            ("__swp_entry_to_pmd(entry)", "bits", lambda s: s._expect(s.call("__swp_entry_to_pmd", ent(s)), s.pmd_t, "__swp_entry_to_pmd")),
            ("__pmd_to_swp_entry(pmd)", "bits", lambda s: s._expect(s.call("__pmd_to_swp_entry", pmd(s)), s.swp_t, "__pmd_to_swp_entry")),
            ("pmd_present(pmd)", "bool", lambda s: s.pmd_present(pmd(s))),
            ("pmd_none(pmd)", "bool", lambda s: s.pmd_none(pmd(s))),
        ]
        for f in sorted(set(left.pmd_flags) | set(right.pmd_flags), key=FLAG_NAMES.index):
            checks += [(f"pmd_swp_mk{f}(pmd)", "bits", lambda s, f=f: s.pmd_mk(f, pmd(s))),
                       (f"pmd_swp_clear_{f}(pmd)", "bits", lambda s, f=f: s.pmd_clear(f, pmd(s))),
                       (f"pmd_swp_{f}(pmd)", "bool", lambda s, f=f: s.pmd_test(f, pmd(s)))]
    elif lp != rp:
        out.append(MacroDiff("PMD forms", "only-left" if lp else "only-right",
                             "__swp_entry_to_pmd/__pmd_to_swp_entry given on one side only"))
    elif lp and rp:
        out.append(MacroDiff("pmd_width", "differs", f"{a.pmd_storage.bits} vs {b.pmd_storage.bits}"))

    for f in FLAG_NAMES:
        for side, lay, other in (("only-left", left, right), ("only-right", right, left)):
            if f in lay.flags and f not in other.flags:
                out.append(MacroDiff(f"[flags] {f}", side, "the swp flag exists on one side only"))
    for name, kind, fn in checks:
        flag = name.split("(")[0]
        missing = [side for side, lay in (("left", left), ("right", right))
                   if any(f"_{f}" in flag and f not in lay.flags and f not in lay.pmd_flags for f in FLAG_NAMES)]
        if missing:
            continue
        try:
            va, vb = fn(a), fn(b)
        except UndefinedBehaviour as e:
            out.append(MacroDiff(name, "unknown", e.describe()))
            continue
        except LayoutError as e:
            out.append(MacroDiff(name, "unknown", str(e)))
            continue
        solver = z3.Solver()
        solver.set("timeout", int(timeout_s * 1000))
        solver.add(a.symbol_constraint(), b.symbol_constraint())
        if kind == "bool":
            solver.add(va != vb)
        else:
            x, y = va.v, vb.v
            if isinstance(x, int):
                x = z3.BitVecVal(x, y.size() if z3.is_bv(y) else 64)
            if isinstance(y, int):
                y = z3.BitVecVal(y, x.size())
            if x.size() != y.size():
                out.append(MacroDiff(name, "differs", f"results of {x.size()} vs {y.size()} bits"))
                continue
            solver.add(x != y)
        r = solver.check()
        if r == z3.unsat:
            out.append(MacroDiff(name, "equal"))
        elif r == z3.unknown:
            out.append(MacroDiff(name, "unknown", "solver timeout"))
        else:
            m = solver.model()
            arg = name[name.index("(") + 1:-1]
            shown = []
            for part in [p.strip() for p in arg.split(",")]:
                if part in inputs:
                    var, bits = inputs[part]
                    shown.append(f"{part} = {_fmt(m.eval(var, model_completion=True).as_long(), bits)}")
            for sym in sorted(set(left.symbols) | set(right.symbols)):
                sv = m.eval(z3.BitVec(f"symbol_{sym}", left.symbols.get(sym, right.symbols.get(sym)).ctype.bits), model_completion=True)
                shown.append(f"{sym} = {hex(sv.as_long())}")
            if kind == "bool":
                res = f"{z3.is_true(m.eval(va, model_completion=True))} vs {z3.is_true(m.eval(vb, model_completion=True))}"
            else:
                bits = va.v.size() if z3.is_bv(va.v) else 64
                res = (f"{_fmt(m.eval(va.v, model_completion=True).as_long(), bits)} vs "
                       f"{_fmt(m.eval(vb.v, model_completion=True).as_long(), bits)}")
            out.append(MacroDiff(name, "differs", f"first differing input: {', '.join(shown)}: {res}"))
    return out
