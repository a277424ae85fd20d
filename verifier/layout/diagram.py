"""Bit diagrams of a swap-PTE layout, in the style of the comments in the kernel's pgtable headers,
and the human-readable proof report.

The diagram is derived from the encoding itself: each type bit, offset bit and swp flag is toggled
(at several base entries) and the PTE bits that change are the bits it drives. `[bits] names` only
labels bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backends import PY
from .errors import UndefinedBehaviour
from .model import Layout
from .prover import Inputs, LayoutReport, _limits, _symbols_detail
from .semantics import Semantics

FLAG_LETTERS = {"exclusive": "E", "soft_dirty": "S", "uffd_wp": "U"}
FLAG_MACROS = {"exclusive": "_PAGE_SWP_EXCLUSIVE", "soft_dirty": "_PAGE_SWP_SOFT_DIRTY",
               "uffd_wp": "_PAGE_SWP_UFFD_WP"}

_RED, _GREEN, _YELLOW, _BOLD, _DIM, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[2m", "\x1b[0m"


@dataclass
class Analysis:
    width: int
    owners: dict            # pte bit -> sorted list of (kind, index) kind in 'type', 'offset', 'flag:<name>'
    base: int               # PTE of (type 0, offset 0), no flags
    inverted: set           # PTE bits holding a field bit inverted
    undriven_inputs: list   # ('type'|'offset', i) that change no PTE bit
    must_be_zero: int
    hardware_may_set: int
    type_bits: int
    offset_bits: int
    pmd: bool = False


def _bits_of(v: int):
    i = 0
    while v:
        if v & 1:
            yield i
        v >>= 1
        i += 1


def analyse(layout: Layout, pmd: bool = False) -> Analysis:
    """Which PTE bits each type bit, offset bit and flag drives (plain evaluation)."""
    sem = Semantics(layout, PY)
    _, limit, _ = _limits(layout)
    mss = layout.max_swapfiles_shift
    nt = mss
    no = max((limit - 1).bit_length(), 1)
    width = layout.pmd_width if pmd else sem.pte_storage.bits

    def enc(t, o):
        try:
            if pmd:
                return sem.encode_pmd(sem.uint(t), sem.ulong(o)).v
            return sem.encode(sem.uint(t), sem.ulong(o)).v
        except UndefinedBehaviour:
            return None

    tmax, omax = (1 << nt) - 1, limit - 1
    pattern = int("01" * 32, 2)
    bases = [(0, 0), (tmax, omax), (pattern & tmax, pattern & omax),
             ((~pattern) & tmax, (~pattern) & omax)]
    owners: dict[int, set] = {}
    undriven = []
    for kind, n in (("type", nt), ("offset", no)):
        for i in range(n):
            driven = 0
            for t, o in bases:
                t2, o2 = (t ^ (1 << i), o) if kind == "type" else (t, o ^ (1 << i))
                if o2 > omax or t2 > tmax:
                    continue
                a, b = enc(t, o), enc(t2, o2)
                if a is not None and b is not None:
                    driven |= a ^ b
            if not driven:
                undriven.append((kind, i))
            for b in _bits_of(driven):
                owners.setdefault(b, set()).add((kind, i))
    base = enc(0, 0) or 0
    for f in (sem.pmd_flags() if pmd else sem.flags()):
        driven = 0
        for t, o in bases:
            try:
                if pmd:
                    p = sem.encode_pmd(sem.uint(t), sem.ulong(o))
                    driven |= sem.pmd_mk(f, p).v ^ sem.pmd_clear(f, p).v
                else:
                    p = sem.encode(sem.uint(t), sem.ulong(o))
                    driven |= sem.mk(f, p).v ^ sem.clear(f, p).v
            except UndefinedBehaviour:
                pass
        for b in _bits_of(driven):
            owners.setdefault(b, set()).add((f"flag:{f}", 0))
    inverted = {b for b, os in owners.items() if (base >> b) & 1 and all(k in ("type", "offset") for k, _ in os)}
    masks = {}
    for key in ("must_be_zero", "hardware_may_set"):
        masks[key] = 0
        toks = getattr(layout, key)
        if toks and not pmd:
            from .cexpr import convert
            val = layout.eval_tokens(sem.ctx, ("bits", key), toks, f"[bits] {key}")
            masks[key] = convert(sem.ctx, val, sem.pte_storage, toks[0]).v
    return Analysis(width, {b: sorted(o) for b, o in owners.items()}, base, inverted, undriven,
                    masks["must_be_zero"], masks["hardware_may_set"], nt, no, pmd)


def _char(a: Analysis, b: int) -> str:
    os = a.owners.get(b)
    if not os:
        return str((a.base >> b) & 1)
    if len(os) > 1:
        return "!"
    kind = os[0][0]
    if kind == "type":
        return "t"
    if kind == "offset":
        return "o"
    return FLAG_LETTERS.get(kind[5:], "F")


def _describe_owner(kind: str, idx_hi: int, idx_lo: int, masks: dict | None = None) -> str:
    """masks: flag name -> the mask expression as written in the file ([flags] or [pmd_flags])."""
    if kind in ("type", "offset"):
        rng = f"{idx_lo}" if idx_hi == idx_lo else f"{idx_lo}-{idx_hi}"
        return f"swap {kind} bit{'s' if idx_hi != idx_lo else ''} {rng}"
    f = kind[5:]
    return f"{f} ({(masks or {}).get(f) or FLAG_MACROS.get(f, f)})"


def _flag_texts(layout: Layout, pmd: bool) -> dict:
    section = "pmd_flags" if pmd else "flags"
    return {f: text for (sec, f), text in layout.flag_text.items() if sec == section}


def render(layout: Layout, a: Analysis, marks: dict | None = None, pte: int | None = None,
           color: bool = False, title: str | None = None) -> str:
    """The diagram: a column ruler (bit numbers, one character per bit, MSB left) with the field
    of each bit, then a list of bit ranges like the kernel's header comments. marks maps PTE bits
    to the reason they are marked."""
    marks = dict(marks or {})
    ftext = _flag_texts(layout, a.pmd)
    for b, os in a.owners.items():
        if len(os) > 1:
            marks.setdefault(b, "collision: " + " and ".join(_describe_owner(k, i, i, ftext) for k, i in os))
    w = a.width
    red = (lambda s: f"{_RED}{_BOLD}{s}{_RESET}") if color else (lambda s: s)
    lines = []
    if title:
        lines.append(title)
    order = list(range(w - 1, -1, -1))
    tens = "".join(str(b // 10 % 10) for b in order)
    ones = "".join(str(b % 10) for b in order)
    row = "".join(red(_char(a, b)) if b in marks else _char(a, b) for b in order)
    if w > 100:          # 128-bit entries: a hundreds row
        lines.append("  bit   " + "".join(str(b // 100) if b >= 100 else " " for b in order))
        lines.append(f"        {tens}")
    else:
        lines.append(f"  bit   {tens}")
    lines.append(f"        {ones}")
    lines.append(f"  swp   {row}")
    if a.must_be_zero or a.hardware_may_set:
        rsv = "".join("z" if (a.must_be_zero >> b) & 1 else "h" if (a.hardware_may_set >> b) & 1 else " "
                      for b in order)
        lines.append(f"  rsv   {rsv.rstrip()}")
    if pte is not None:
        val = "".join(red(str((pte >> b) & 1)) if b in marks else str((pte >> b) & 1) for b in order)
        lines.append(f"  {'pmd' if a.pmd else 'pte'}   {val}")
    if marks:
        lines.append("        " + "".join(red("^") if b in marks else " " for b in order).rstrip())
    legend = "  t type, o offset"
    present = {FLAG_LETTERS.get(k[5:], "F") + " " + k[5:] for os in a.owners.values() for k, _ in os
               if k.startswith("flag:")}
    if present:
        legend += ", " + ", ".join(sorted(present))
    legend += ", 0/1 fixed"
    if any(len(os) > 1 for os in a.owners.values()):
        legend += ", ! collision"
    rsv = [x for x, m in (("z must be zero", a.must_be_zero), ("h hardware may set", a.hardware_may_set)) if m]
    if rsv:
        legend += "; " + ", ".join(rsv)
    lines.append(legend)

    # ranges, high to low
    def key(b):
        os = a.owners.get(b)
        mbz = (a.must_be_zero >> b) & 1
        hw = (a.hardware_may_set >> b) & 1
        mark = marks.get(b)
        if not os:
            return ("fixed", (a.base >> b) & 1, mbz, hw, mark)
        if len(os) > 1 or os[0][0].startswith("flag:"):
            return ("single", b)
        return ("field", os[0][0], b in a.inverted, mbz, hw, mark)

    runs = []
    for b in order:
        k = key(b)
        if runs and runs[-1]["key"] == k and k[0] != "single":
            r = runs[-1]
            if k[0] == "fixed" or a.owners[b][0][1] == a.owners[r["lo"]][0][1] - 1:
                r["lo"] = b
                continue
        runs.append({"key": k, "hi": b, "lo": b})
    names = layout.bit_names
    if a.pmd and layout.pmd_bit_names is not None:
        names = layout.pmd_bit_names
    for r in runs:
        hi, lo, k = r["hi"], r["lo"], r["key"]
        span = f"bit  {lo:>2}   " if hi == lo else f"bits {lo:>2}-{hi:<2}"
        os = a.owners.get(hi)
        if k[0] == "fixed":
            what = f"{k[1]}"
        elif len(os) > 1:
            what = "COLLISION: " + " + ".join(_describe_owner(kk, i, i, ftext) for kk, i in os)
        elif os[0][0].startswith("flag:"):
            what = _describe_owner(os[0][0], 0, 0, ftext)
        else:
            what = _describe_owner(os[0][0], os[0][1], a.owners[lo][0][1])
            if hi in a.inverted:
                what += " (stored inverted)"
        attrs = []
        if (a.must_be_zero >> hi) & 1:
            attrs.append("must be zero")
        if (a.hardware_may_set >> hi) & 1:
            attrs.append("hardware may set")
        labels = [names[b] for b in range(hi, lo - 1, -1) if b in names]
        text = f"  {span}  {what}"
        if labels:
            text += f"  [{' '.join(labels)}]"
        if attrs:
            text += f"  ({', '.join(attrs)})"
        reasons = sorted({marks[b] for b in range(lo, hi + 1) if b in marks})
        if reasons:
            text += red("  <-- " + "; ".join(reasons))
        lines.append(text)
    for kind in ("type", "offset"):
        idx = [i for k, i in a.undriven_inputs if k == kind]
        spans = []
        for i in idx:
            if spans and spans[-1][1] == i - 1:
                spans[-1][1] = i
            else:
                spans.append([i, i])
        for lo, hi in spans:
            what = f"swap {kind} bit {lo} is" if lo == hi else f"swap {kind} bits {lo}-{hi} are"
            lines.append(red(f"  {what} not stored: no PTE bit depends on {'it' if lo == hi else 'them'}"))
    return "\n".join(lines)


def render_layout(layout: Layout, color: bool = False) -> str:
    """The diagram of a layout, for `pteverify layout show`."""
    a = analyse(layout)
    kmax, limit, _ = _limits(layout)
    title = (f"{layout.name}: {a.width}-bit swap PTE ({layout.description})\n"
             f"  from {', '.join(layout.source)} ({layout.kernel})")
    out = [render(layout, a, color=color, title=title)]
    if "__swp_entry_to_pmd" in layout.macros:
        pa = analyse(layout, pmd=True)
        title = f"{layout.name}: swap PMD ({pa.width} bits)"
        if layout.pmd_bit_names == {}:
            title += "; PMD bit labels not given"
        out.append(render(layout, pa, color=color, title=title))
    return "\n\n".join(out)


# ---------------------------------------------------------------------------------------------
# Marks for a counterexample

def counterexample_marks(layout: Layout, prop: str, values: dict, a: Analysis) -> tuple[dict, int | None]:
    """PTE bits to mark for a failed property at the counterexample, and the PTE to print."""
    sem = Semantics(layout, PY, values.get("symbols"))
    inp = Inputs(sem, values)
    marks: dict[int, str] = {}
    pmd = prop.startswith("pmd_")
    try:
        if pmd:
            pte = sem.pmd_with_flags(sem.encode_pmd(inp.type_value, inp.offset_value), inp.pmd_flags)
        else:
            pte = sem.with_flags(sem.encode(inp.type_value, inp.offset_value), inp.flags)
    except UndefinedBehaviour:
        return marks, None
    t, o = values["type"], values["offset"]

    def mark_inputs(lost_t: int, lost_o: int):
        for b, os in a.owners.items():
            for kind, i in os:
                if (kind == "type" and (lost_t >> i) & 1) or (kind == "offset" and (lost_o >> i) & 1):
                    marks[b] = f"{kind} bit {i} lost"

    flag = values.get("flag")
    try:
        if prop in ("round_trip", "pmd_round_trip", "flag_independent", "pmd_flag_independent",
                    "reserved_bits"):
            probe = pte
            if prop == "flag_independent" and flag:
                probe = sem.mk(flag, pte)
            if prop == "pmd_flag_independent" and flag:
                probe = sem.pmd_mk(flag, pte)
            if prop == "reserved_bits" and a.hardware_may_set:
                probe = type(pte)(pte.ctype, pte.v | (values.get("hardware_bits", 0) & a.hardware_may_set))
            kt, ko = sem.decode(probe, pmd=pmd)
            mark_inputs(kt ^ t, ko ^ o)
        if prop == "capacity":
            ty, off = sem.decode_arch(pte)
            mark_inputs(ty.v ^ t, off.v ^ o)
        if prop in ("flag_independent", "pmd_flag_independent") and flag:
            for b, os in a.owners.items():
                if (f"flag:{flag}", 0) in os:
                    marks.setdefault(b, f"{flag} bit")
        if prop in ("not_present_not_none", "pmd_not_present_not_none"):
            present = sem.pmd_present if pmd else sem.present
            none = sem.pmd_none if pmd else sem.none
            has_present = "pmd_present" in layout.macros if pmd else True
            if has_present and present(pte):
                for b in _bits_of(pte.v):
                    if not present(type(pte)(pte.ctype, pte.v & ~(1 << b))):
                        marks[b] = "makes it read present"
            if ("pmd_none" in layout.macros if pmd else True) and none(pte):
                for b in _bits_of(pte.v):
                    marks[b] = "ignored by " + ("pmd_none()" if pmd else "pte_none()")
                if not pte.v:
                    marks.setdefault(0, "the PTE is zero")
        if prop == "reserved_bits":
            for b in _bits_of(pte.v & a.must_be_zero):
                marks[b] = "must be zero"
            for b in _bits_of(a.hardware_may_set):
                if b in a.owners:
                    marks[b] = "hardware may set it"
            for b in _bits_of(values.get("hardware_bits", 0) & a.hardware_may_set):
                marks.setdefault(b, "set by hardware")
    except UndefinedBehaviour:
        pass
    return marks, pte.v


# ---------------------------------------------------------------------------------------------

def _fmt_ce(ce: dict) -> list[str]:
    lines = []
    if "violation" in ce:
        lines.append(ce["violation"])
    if "type" in ce and "offset" in ce:
        flags = [f for f, v in ce.get("flags", {}).items() if v]
        label = "PMD swp flags" if "pmd" in ce else "flags"
        s = f"type {ce['type']}, offset {ce['offset']:#x}, {label}: {', '.join(flags) or 'none'}"
        if "flag" in ce:
            s += f" (flag under test: {ce['flag']})"
        if "pte" in ce:
            s += f" -> pte {ce['pte']}"
        if "pmd" in ce:
            s += f" -> pmd {ce['pmd']}"
        if "decoded_type" in ce:
            s += f" -> __swp_type {ce['decoded_type']}, __swp_offset {ce['decoded_offset']:#x}"
        lines.append(s)
    if ce.get("symbols"):
        lines.append("with " + ", ".join(f"{n} = {v}" for n, v in ce["symbols"].items()))
    return lines


def format_report(report: LayoutReport, color: bool = False) -> str:
    """Compact text: a header, one line per property, counterexample and diagram on failure."""
    L = report.layout
    paint = {"proved": _GREEN, "disproved": _RED, "unknown": _YELLOW}

    def c(s, code):
        return f"{code}{s}{_RESET}" if color else s

    lines = [f"{c(L.name, _BOLD)}  {L.width}-bit PTE, long {L.long_bits}  {c(report.verdict, paint[report.verdict])}"
             f"  ({report.seconds:.2f}s)"]
    limit = report.offset_limit
    lim = f"2^{limit.bit_length() - 1}" if limit & (limit - 1) == 0 else f"{limit:#x}"
    dropped = any(p.name in ("not_present_not_none", "pmd_not_present_not_none") and not p.exception
                  for p in report.properties)
    exc = ("no exception (--no-exception)" if dropped
           else "type 0 with offset 0 or >= UINT_MAX excepted (never created)")
    lines.append(f"  domain: types 0-{(1 << L.max_swapfiles_shift) - 1}, offsets < {lim} "
                 f"({'offset_bits' if L.offset_bits is not None else 'generic_max_swapfile_size()'})"
                 f"; present/none: {exc}"
                 f"{_symbols_detail(L)}")
    analysis = None
    w = max(len(n) for n in ["pmd_not_present_not_none"])
    for p in report.properties:
        verdict = c(f"{p.verdict:<9}", paint[p.verdict])
        extra = ""
        if p.name == "capacity":
            extra = f"  {p.detail}"
        elif p.verdict == "unknown":
            extra = f"  {p.detail or 'solver timeout'}"
        if p.name in L.known_findings:
            extra += f"  (known finding: {L.known_findings[p.name]})"
        if getattr(p, "same_as", None):
            extra += f"  (same failure as {p.same_as})"
        elif p.verdict == "disproved" and p.marks.get("own_cause"):
            extra += f"  (a failure of its own: this counterexample satisfies {' and '.join(p.marks['own_cause'])})"
        lines.append(f"  {verdict} {p.name:<{w}} {p.seconds:6.2f}s{extra}")
        if p.verdict == "disproved" and p.counterexample is not None:
            for s in _fmt_ce(p.counterexample) + p.notes:
                lines.append(f"      {s}")
            if p.marks.get("values") and not p.marks.get("ub"):
                pmd = p.name.startswith("pmd_")
                try:
                    a = analyse(L, pmd=pmd) if pmd else (analysis or analyse(L))
                    if not pmd:
                        analysis = a
                    values = dict(p.marks["values"])
                    if "flag" in p.marks:
                        values["flag"] = p.marks["flag"]
                    marks, pte = counterexample_marks(L, p.name, values, a)
                    lines.append(render(L, a, marks, pte, color=color))
                except UndefinedBehaviour:
                    pass
    for name, why in report.skipped:
        lines.append(f"  {c('n/a', _DIM):<9} {name:<{w}}          {why}" if color else
                     f"  {'n/a':<9} {name:<{w}}          {why}")
    return "\n".join(lines)
