"""The layout properties: every shipped layout is proved, every property fails on a seeded broken
layout, and each counterexample really violates the property under plain evaluation."""

import json
from pathlib import Path

import pytest

from pteverify.layout import (PROPERTY_NAMES, LayoutError, format_report, load_layout, prove_layout,
                              render_layout, resolve, shipped_layout_paths)
from pteverify.layout.backends import PY
from pteverify.layout.errors import UndefinedBehaviour
from pteverify.layout.semantics import Semantics

FIXTURES = Path(__file__).parent / "layouts"
SHIPPED = shipped_layout_paths()

# Properties that the kernel headers themselves violate, as transcribed faithfully by the layout
# files: each file's [known_findings] table (a candidate kernel bug, see the file's notes).
# test_known_kernel_findings asserts each is disproved with a counterexample that plain evaluation
# confirms; if the header or the transcription changes so that the property holds, the table must go.
KNOWN_FINDINGS = {(name, prop): why for name, path in SHIPPED.items()
                  for prop, why in load_layout(path).known_findings.items()}


def _shipped_cases():
    for name, path in sorted(SHIPPED.items()):
        for prop in PROPERTY_NAMES:
            marks = []
            if (name, prop) in KNOWN_FINDINGS:
                continue            # asserted disproved by test_known_kernel_findings
            yield pytest.param(name, prop, marks=marks, id=f"{name}-{prop}")


_REPORTS = {}


def _report(name):
    if name not in _REPORTS:
        _REPORTS[name] = prove_layout(load_layout(SHIPPED[name]))
    return _REPORTS[name]


@pytest.mark.parametrize("name, prop", list(_shipped_cases()))
def test_shipped_layout_proved(name, prop):
    report = _report(name)
    results = {p.name: p for p in report.properties}
    if prop not in results:
        assert prop in {n for n, _ in report.skipped}
        return
    r = results[prop]
    assert r.verdict == "proved", f"{name} {prop}: {r.verdict} {r.counterexample}"


# ---------------------------------------------------------------------------------------------
# Seeded broken layouts: (file, property that must fail)

BROKEN = [
    ("broken-flag-on-offset", "flag_independent"),
    ("broken-flag-on-offset", "round_trip"),          # pte_to_swp_entry clears the flag: offset bit lost
    ("broken-flag-set-by-encode", "flag_independent"),
    ("broken-reads-present", "not_present_not_none"),
    ("broken-reads-present", "reserved_bits"),
    ("broken-mask-bit-count", "round_trip"),
    ("broken-mask-bit-count", "capacity"),
    ("broken-truncated-offset", "round_trip"),
    ("broken-truncated-offset", "capacity"),
    ("broken-hardware-bit", "reserved_bits"),
    ("broken-pmd", "pmd_round_trip"),
    ("broken-pmd", "pmd_not_present_not_none"),
    ("broken-pmd-flag-present", "pmd_not_present_not_none"),
    ("broken-pmd-flag-on-offset", "pmd_flag_independent"),
    ("broken-pmd-flag-on-offset", "pmd_round_trip"),  # the PMD decode clears uffd-wp: offset bit 0 lost
    ("broken-symbol", "pmd_not_present_not_none"),
    ("broken-collision", "round_trip"),
    ("broken-tiny-offset", "capacity"),
    ("broken-shift-ub", "round_trip"),
    ("broken-pfn-short", "pfn_round_trip"),
    ("broken-mig-ad-present", "migration_ad_bits"),
    ("broken-empty-hw", "empty_reads_none"),
]


def _violations(layout, prop, ce):
    """Independent plain-evaluation check of a counterexample: the list of ways it violates prop."""
    symbols = {n: int(v, 16) for n, v in ce.get("symbols", {}).items()}
    for n, v in symbols.items():
        assert layout.symbols[n].allows(v), f"symbol {n} = {v:#x} outside its declared range"
    sem = Semantics(layout, PY, symbols)
    t, o = ce["type"], ce["offset"]
    out = []
    if prop.startswith("pmd_"):
        pflags = {f: ce.get("flags", {}).get(f, False) for f in sem.pmd_flags()}
        try:
            fresh = sem.encode_pmd(sem.uint(t), sem.ulong(o))
        except UndefinedBehaviour as ub:
            return [str(ub)]
        pmd = sem.pmd_with_flags(fresh, pflags)
        assert ce["pmd"] == f"{pmd.v:#0{sem.pmd_storage.bits // 4 + 2}x}", "the reported PMD is not the encoding"
        if prop == "pmd_round_trip":
            if sem.decode(fresh, pmd=True) != (t, o):
                out.append("pmd round trip")
        elif prop == "pmd_not_present_not_none":
            assert (t, o) != (0, 0)
            if "pmd_present" in layout.macros and sem.pmd_present(pmd):
                out.append("pmd present")
            if "pmd_none" in layout.macros and sem.pmd_none(pmd):
                out.append("pmd none")
        elif prop == "pmd_flag_independent":
            f = ce["flag"]
            if sem.pmd_test(f, fresh):
                out.append("encode sets the PMD flag")
            for variant in (sem.pmd_mk(f, pmd), sem.pmd_clear(f, pmd)):
                if sem.decode(variant, pmd=True) != (t, o):
                    out.append("decode changed")
                for g in sem.pmd_flags():
                    if g != f and bool(sem.pmd_test(g, variant)) != pflags[g]:
                        out.append(f"{g} changed")
            if not sem.pmd_test(f, sem.pmd_mk(f, pmd)) or sem.pmd_test(f, sem.pmd_clear(f, pmd)):
                out.append("does not read back")
        return out
    flags = {f: ce.get("flags", {}).get(f, False) for f in sem.flags()}
    if prop == "empty_reads_none":
        hw = layout.eval_expr(" ".join(x.text for x in layout.hardware_may_set)).v
        h = int(ce.get("hardware_bits", "0"), 16) & hw
        from pteverify.layout.cexpr import Value
        empty = Value(sem.pte_t, h)
        if not sem.none(empty) or sem.present(empty):
            out.append("empty PTE with hardware bits is not none")
        if layout.pmd_hardware_may_set:
            phw = layout.eval_expr(" ".join(x.text for x in layout.pmd_hardware_may_set)).v
            if not sem.pmd_none(type(empty)(sem.pmd_t, int(ce.get("hardware_bits", "0"), 16) & phw)):
                out.append("empty PMD with hardware bits is not none")
        return out
    try:
        fresh = sem.encode(sem.uint(t), sem.ulong(o))
    except UndefinedBehaviour as ub:
        return [str(ub)]
    pte = sem.with_flags(fresh, flags)
    assert ce["pte"] == f"{pte.v:#0{sem.pte_storage.bits // 4 + 2}x}", "the reported PTE is not the encoding"
    if prop == "round_trip":
        kt, ko = sem.decode(fresh)
        if (kt, ko) != (t, o):
            out.append("round trip")
    elif prop == "not_present_not_none":
        assert (t, o) != (0, 0)
        if sem.present(pte):
            out.append("present")
        if sem.none(pte):
            out.append("none")
    elif prop == "flag_independent":
        f = ce["flag"]
        if sem.test(f, fresh):
            out.append("encode sets the flag")
        for variant in (sem.mk(f, pte), sem.clear(f, pte)):
            if sem.decode(variant) != (t, o):
                out.append("decode changed")
        if not sem.test(f, sem.mk(f, pte)) or sem.test(f, sem.clear(f, pte)):
            out.append("does not read back")
    elif prop == "reserved_bits":
        mbz = layout.eval_expr(" ".join(x.text for x in layout.must_be_zero)).v if layout.must_be_zero else 0
        hw = layout.eval_expr(" ".join(x.text for x in layout.hardware_may_set)).v if layout.hardware_may_set else 0
        if pte.v & mbz:
            out.append("must_be_zero bit set")
        ref = sem.encode(sem.uint(1), sem.ulong(1)).v
        if (pte.v & hw) != (ref & hw):
            out.append("field or flag drives a hardware bit")
        touched = type(pte)(pte.ctype, pte.v | (int(ce.get("hardware_bits", "0"), 16) & hw))
        if sem.decode(touched) != (t, o):
            out.append("hardware bits change decode")
        if sem.present(touched) or sem.none(touched):
            out.append("hardware bits make it present or none")
    elif prop in ("pfn_round_trip", "migration_ad_bits"):
        mbz = layout.eval_expr(" ".join(x.text for x in layout.must_be_zero)).v if layout.must_be_zero else 0
        if sem.decode(pte) != (t, o):
            out.append("PFN entry does not round-trip")
        if sem.present(pte) or sem.none(pte):
            out.append("PFN entry reads present or none")
        if pte.v & mbz:
            out.append("must_be_zero bit set")
        if "__swp_entry_to_pmd" in layout.macros:
            pflags = {f: ce.get("pmd_flags", {}).get(f, False) for f in sem.pmd_flags()}
            pmd = sem.pmd_with_flags(sem.encode_pmd(sem.uint(t), sem.ulong(o)), pflags)
            if sem.decode(pmd, pmd=True) != (t, o) or sem.pmd_present(pmd) or sem.pmd_none(pmd):
                out.append("PFN PMD entry")
    elif prop == "capacity":
        ty, off = sem.decode_arch(fresh)
        if (ty.v, off.v) != (t, o) or ce["offset_bits"] < 16 or ce["type_bits"] < 5:
            out.append("capacity")
    return out


@pytest.mark.parametrize("fixture, prop", BROKEN, ids=[f"{f}-{p}" for f, p in BROKEN])
def test_seeded_breakage_is_disproved(fixture, prop):
    layout = load_layout(FIXTURES / f"{fixture}.toml")
    report = prove_layout(layout, [prop])
    [r] = report.properties
    assert r.verdict == "disproved"
    assert report.verdict == "disproved"
    ce = r.counterexample
    assert ce and ce["violation"]
    assert _violations(layout, prop, ce), f"counterexample {ce} does not violate {prop} under plain evaluation"
    text = format_report(report, color=False)
    assert prop in text and "disproved" in text


def test_every_property_has_a_seeded_failure():
    assert {p for _, p in BROKEN} == set(PROPERTY_NAMES)


def test_fixture_ok_is_proved():
    report = prove_layout(load_layout(FIXTURES / "fixture-ok.toml"))
    assert report.verdict == "proved"
    assert [p.name for p in report.properties] == list(PROPERTY_NAMES)
    assert report.capacity == {"type_bits": 5, "offset_bits": 50}


def test_pmd_flag_counterexamples_name_the_flag_and_the_bit():
    report = prove_layout(load_layout(FIXTURES / "broken-pmd-flag-present.toml"), ["pmd_not_present_not_none"])
    [r] = report.properties
    ce = r.counterexample
    assert ce["flags"]["soft_dirty"] is True and "pte" not in ce
    assert int(ce["pmd"], 16) & (1 << 7)
    text = format_report(report, color=False)
    assert "bit   7     soft_dirty (_PAGE_PSE)  [PSE]  <-- makes it read present" in text
    report = prove_layout(load_layout(FIXTURES / "broken-pmd-flag-on-offset.toml"), ["pmd_flag_independent"])
    [r] = report.properties
    text = format_report(report, color=False)
    assert "COLLISION: uffd_wp ((_AT(pteval_t, 1) << 14)) + swap offset bit 0" in text


def test_riscv_pmd_soft_dirty_reads_present():
    """The groupA example, by plain evaluation of the shipped file: a PMD migration entry
    (type 30, offset 0x1234) is 0x1234f00; with soft-dirty 0x1234f08, and pmd_present() holds."""
    layout = load_layout(SHIPPED["riscv"])
    sem = Semantics(layout, PY)
    pmd = sem.encode_pmd(sem.uint(30), sem.ulong(0x1234))
    assert pmd.v == 0x1234f00 and not sem.pmd_present(pmd)
    sd = sem.pmd_mk("soft_dirty", pmd)
    assert sd.v == 0x1234f08 and sem.pmd_present(sd)
    assert sem.decode(sd, pmd=True) == (30, 0x1234)


def test_symbol_is_quantified_over_every_allowed_value(tmp_path):
    """fixture-symbol: pmd_none() compares with an opaque table address, proved for every 4096-aligned
    address at or above its min. Without the min, some aligned address equals a swap PMD: disproved,
    and the counterexample gives that address, which plain evaluation confirms."""
    ok = load_layout(FIXTURES / "fixture-symbol.toml")
    assert prove_layout(ok).verdict == "proved"
    report = prove_layout(load_layout(FIXTURES / "broken-symbol.toml"), ["pmd_not_present_not_none"])
    [r] = report.properties
    ce = r.counterexample
    addr = int(ce["symbols"]["empty_pte_table"], 16)
    assert addr % 4096 == 0 and addr == int(ce["pmd"], 16)
    assert "the swap PMD reads none (pmd_none)" in ce["violation"]
    assert "with empty_pte_table = " in format_report(report, color=False)


def test_pmd_names_label_the_pmd_diagram():
    s390 = render_layout(load_layout(SHIPPED["s390"]))
    pte_part, pmd_part = s390.split("swap PMD")
    assert "bits  6-10  swap type bits 0-4  [FC R NX]" in pmd_part      # segment-table entry bits
    assert "bits  4-5   1  [I CS]" in pmd_part
    assert "bit   1     soft_dirty (_SEGMENT_ENTRY_SOFT_DIRTY)  [SD]" in pmd_part
    assert "bits  9-10  1  [I R]" in pte_part                            # the PTE keeps its own names
    assert "[s w r d y]" in pte_part and "[s w r d y]" not in pmd_part


def test_collision_diagram_marks_the_colliding_bit():
    report = prove_layout(load_layout(FIXTURES / "broken-collision.toml"), ["round_trip"])
    text = format_report(report, color=False)
    assert "COLLISION: swap offset bit 0 + swap type bit 4" in text
    ruler = [line for line in text.splitlines() if line.startswith("  swp   ")][0][8:]
    assert ruler[63 - 13] == "!"      # bit 13, MSB first


def test_ub_shift_is_reported_not_valued():
    report = prove_layout(load_layout(FIXTURES / "broken-shift-ub.toml"), ["round_trip"])
    [r] = report.properties
    assert r.verdict == "disproved"
    assert "shift count 59 out of range for 'unsigned int'" in r.counterexample["violation"]
    assert '[macros] "__swp_entry(type, offset)"' in r.counterexample["violation"]


def test_timeout_is_unknown_never_proved():
    report = prove_layout(load_layout(FIXTURES / "fixture-ok.toml"), timeout_s=0)
    assert {p.verdict for p in report.properties} == {"unknown"}
    assert report.verdict == "unknown"


def test_json_contract():
    report = prove_layout(load_layout(FIXTURES / "broken-collision.toml"))
    doc = json.loads(json.dumps(report.to_json()))
    assert set(doc) == {"layout", "source", "width", "properties", "capacity"}
    assert doc["layout"] == "broken-collision" and doc["width"] == 64
    assert set(doc["capacity"]) == {"type_bits", "offset_bits"}
    for p in doc["properties"]:
        assert set(p) <= {"name", "verdict", "seconds", "counterexample", "exception", "same_failure_as", "independent_of"}
        assert p["verdict"] in ("proved", "disproved", "unknown")
        assert ("counterexample" in p) == (p["verdict"] == "disproved")
    rt = [p for p in doc["properties"] if p["name"] == "round_trip"][0]
    assert rt["counterexample"]["pte"].startswith("0x")


def test_render_layout_derives_fields_from_the_encoding():
    text = render_layout(load_layout(FIXTURES / "fixture-ok.toml"))
    assert "bits 14-63  swap offset bits 0-49" in text
    assert "bits  9-13  swap type bits 0-4" in text
    assert "bit   3     exclusive (_PAGE_SWP_EXCLUSIVE)" in text
    assert "swap PMD" in text


def test_resolve_and_unknown_property():
    name = sorted(SHIPPED)[0]
    [layout] = resolve([name])
    assert layout.name == name and layout.path == SHIPPED[name]
    with pytest.raises(LayoutError) as e:
        resolve(["no-such-layout"])
    assert str(e.value) == "unknown layout 'no-such-layout' (see `pteverify list`)"
    with pytest.raises(LayoutError, match="unknown property"):
        prove_layout(layout, ["bogus"])


@pytest.mark.parametrize("name, prop", sorted(KNOWN_FINDINGS), ids=lambda x: str(x))
def test_known_kernel_findings(name, prop):
    """The candidate kernel bugs stay found: disproved, with a counterexample that really violates
    the property when the header's expressions are evaluated plainly."""
    report = _report(name)
    r = {p.name: p for p in report.properties}[prop]
    assert r.verdict == "disproved"
    assert _violations(report.layout, prop, r.counterexample), r.counterexample
    assert report.verdict == "disproved"


def test_known_findings_are_listed():
    assert {name for name, _ in KNOWN_FINDINGS} == {"nios2", "hexagon", "mips32-huge", "riscv", "loongarch"}
