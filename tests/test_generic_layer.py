"""The generic swapops.h layer above the arch encoding (issue 13 part 2): PFN swap entries,
migration A/D bits, empty entries with hardware-set bits. Seeded bugs on small synthetic layouts
(written for these tests) are each disproved; the unseeded layout proves."""

from __future__ import annotations

import json

import pytest

from pteverify.cli import main
from pteverify.layout import load_layout, prove_layout

# A 64-bit made-up arch: P bit 0, A bit 5, D bit 6, type in bits 7-11, offset from bit 12 (48 bits).
BASE = """\
layout = "toy64"
arch = "toy"
description = "a made-up 64-bit arch for the generic-layer tests"
source = ["arch/toy/include/asm/pgtable.h"]
kernel = "synthetic"
width = 64
long_bits = 64
page_shift = 12
max_physmem_bits = MAXPHYS

[structs]
pte_t = "unsigned long"
pmd_t = "unsigned long"
swp_entry_t = "unsigned long"

[constants]
_PAGE_PRESENT = "(1UL << 0)"
_PAGE_ACCESSED = "(1UL << 5)"
_PAGE_DIRTY = "(1UL << 6)"
OFF_MASK = "((1UL << OFFBITS) - 1)"

[macros]
"pte_val(x)" = "((x).pte)"
"__pte(x)" = "((pte_t) { (x) })"
"pmd_val(x)" = "((x).pmd)"
"__pmd(x)" = "((pmd_t) { (x) })"
"__swp_type(x)" = "(((x).val >> 7) & 0x1f)"
"__swp_offset(x)" = "(((x).val >> 12) & OFF_MASK)"
"__swp_entry(type, offset)" = "((swp_entry_t) { (((type) & 0x1f) << 7) | (((offset) & OFF_MASK) << 12) })"
"__pte_to_swp_entry(pte)" = "((swp_entry_t) { pte_val(pte) })"
"__swp_entry_to_pte(x)" = "__pte((x).val)"
"__pmd_to_swp_entry(pmd)" = "((swp_entry_t) { pmd_val(pmd) })"
"__swp_entry_to_pmd(x)" = "__pmd((x).val)"
"pte_present(pte)" = "(pte_val(pte) & PRESENT_TEST)"
"pte_none(pte)" = "NONE_TEST"
"pmd_present(pmd)" = "(pmd_val(pmd) & _PAGE_PRESENT)"
"pmd_none(pmd)" = "(!(pmd_val(pmd) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)))"

[bits]
must_be_zero = "_PAGE_PRESENT"
hardware_may_set = "_PAGE_ACCESSED | _PAGE_DIRTY"
pmd_hardware_may_set = "_PAGE_ACCESSED | _PAGE_DIRTY"
"""

GOOD = dict(MAXPHYS="46", OFFBITS="48", PRESENT_TEST="_PAGE_PRESENT",
            NONE_TEST="(!(pte_val(pte) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)))")


def layout(tmp_path, **over):
    text = BASE
    for k, v in {**GOOD, **over}.items():
        text = text.replace(k, v)
    p = tmp_path / "toy64.toml"
    p.write_text(text)
    return load_layout(p)


def verdicts(lay, props):
    rep = prove_layout(lay, props)
    return {r.name: r for r in rep.properties}, dict(rep.skipped)


GENERIC = ["pfn_round_trip", "migration_ad_bits", "empty_reads_none"]


def test_unseeded_layout_proves_the_generic_properties(tmp_path):
    by, skipped = verdicts(layout(tmp_path), GENERIC + ["round_trip", "not_present_not_none"])
    assert {n: r.verdict for n, r in by.items()} == dict.fromkeys(by, "proved")
    assert set(by) == set(GENERIC) | {"round_trip", "not_present_not_none"}
    assert "SWP_PFN_BITS = MAX_PHYSMEM_BITS 46 - PAGE_SHIFT 12" in by["pfn_round_trip"].detail


def test_pfn_field_one_bit_short_is_disproved(tmp_path):
    # 34 offset bits, SWP_PFN_BITS = 47 - 12 = 35: real swap offsets fit (round_trip proves),
    # a PFN of the top bit does not
    lay = layout(tmp_path, MAXPHYS="47", OFFBITS="34")
    by, _ = verdicts(lay, ["round_trip", "pfn_round_trip"])
    assert by["round_trip"].verdict == "proved"
    r = by["pfn_round_trip"]
    assert r.verdict == "disproved"
    assert r.counterexample["offset"] >> 34 == 1
    assert "offset reads back wrong" in r.counterexample["violation"]


def test_migration_young_bit_on_the_present_bit_is_disproved(tmp_path):
    # SWP_PFN_BITS = 46 - 12 = 34: the young bit is offset bit 34 = PTE bit 46, which this
    # pte_present() reads
    lay = layout(tmp_path, PRESENT_TEST="(_PAGE_PRESENT | (1UL << 46))")
    by, _ = verdicts(lay, ["migration_ad_bits", "pfn_round_trip"])
    assert by["pfn_round_trip"].verdict == "proved"       # PFNs alone stay below bit 46
    r = by["migration_ad_bits"]
    assert r.verdict == "disproved"
    assert "reads present" in r.counterexample["violation"]
    assert (r.counterexample["offset"] >> 34) & 1 == 1


def test_migration_ad_bits_not_applicable_when_the_swapfile_is_too_small(tmp_path):
    lay = layout(tmp_path, MAXPHYS="46", OFFBITS="35")     # 2^35 < 2^(34 + 2)
    by, skipped = verdicts(lay, ["migration_ad_bits"])
    assert "migration_ad_bits" not in by
    assert "migration_entry_supports_ad() is false" in skipped["migration_ad_bits"]


def test_empty_pte_whose_hardware_bits_read_non_none_is_disproved(tmp_path):
    lay = layout(tmp_path, NONE_TEST="(pte_val(pte) == 0)")
    by, _ = verdicts(lay, ["empty_reads_none"])
    r = by["empty_reads_none"]
    assert r.verdict == "disproved"
    assert int(r.counterexample.get("hardware_bits", "0"), 16) & 0x60 != 0
    assert "empty PTE" in r.counterexample["violation"]


def test_empty_pmd_whose_hardware_bits_read_non_none_is_disproved(tmp_path):
    lay = layout(tmp_path)
    text = lay.path.read_text().replace('"(!(pmd_val(pmd) & ~(_PAGE_ACCESSED | _PAGE_DIRTY)))"', '"(!pmd_val(pmd))"')
    lay.path.write_text(text)
    by, _ = verdicts(load_layout(lay.path), ["empty_reads_none"])
    assert by["empty_reads_none"].verdict == "disproved"
    assert "empty PMD" in by["empty_reads_none"].counterexample["violation"]


def test_never_created_exception_is_stated_and_can_be_turned_off(tmp_path, capsys):
    lay_path = tmp_path / "toy64.toml"
    layout(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["prove", "--layout-file", str(lay_path), "--property", "not_present_not_none", "--json"])
    out = json.loads(capsys.readouterr().out)
    prop = out["layouts"][0]["properties"][0]
    assert e.value.code == 0
    assert "never creates" in prop["exception"]
    # without the exception, (type 0, offset 0) is an all-zero PTE: it reads none
    with pytest.raises(SystemExit) as e:
        main(["prove", "--layout-file", str(lay_path), "--property", "not_present_not_none", "--json",
              "--no-exception"])
    out = json.loads(capsys.readouterr().out)
    prop = out["layouts"][0]["properties"][0]
    assert e.value.code == 1
    assert prop["verdict"] == "disproved" and "exception" not in prop


def test_follow_on_failure_names_the_earlier_one(tmp_path):
    # offset field too narrow for the kernel's limit is impossible here (the limit is measured),
    # so break the decode instead: __swp_offset drops bit 0; round_trip and reserved_bits (with
    # hardware bits set) then fail for the same reason
    lay = layout(tmp_path)
    text = lay.path.read_text().replace('"(((x).val >> 12) & OFF_MASK)"', '"(((x).val >> 13) << 1 & OFF_MASK)"')
    lay.path.write_text(text)
    lay = load_layout(lay.path)
    rep = prove_layout(lay, ["round_trip", "reserved_bits"])
    by = {r.name: r for r in rep.properties}
    assert by["round_trip"].verdict == "disproved"
    assert by["reserved_bits"].verdict == "disproved"
    assert "same failure as round_trip" in by["reserved_bits"].detail


def test_follow_on_failure_with_a_cause_of_its_own_is_not_called_a_repeat(tmp_path):
    # round_trip fails on odd offsets (decode drops offset bit 0); the hardware may also set PTE bit
    # 14, offset bit 2: reserved_bits then fails on even offsets too, with the same words ("offset
    # reads back wrong") but another cause. It is searched again assuming round_trip holds, and the
    # counterexample shown is one round_trip does not explain
    lay = layout(tmp_path)
    text = lay.path.read_text().replace('"(((x).val >> 12) & OFF_MASK)"', '"(((x).val >> 13) << 1 & OFF_MASK)"')
    text = text.replace('hardware_may_set = "_PAGE_ACCESSED | _PAGE_DIRTY"\n',
                        'hardware_may_set = "_PAGE_ACCESSED | _PAGE_DIRTY | (1UL << 14)"\n')
    lay.path.write_text(text)
    lay = load_layout(lay.path)
    rep = prove_layout(lay, ["round_trip", "reserved_bits"])
    by = {r.name: r for r in rep.properties}
    assert by["round_trip"].verdict == "disproved" and by["round_trip"].counterexample["offset"] % 2 == 1
    rb = by["reserved_bits"]
    assert rb.verdict == "disproved" and rb.same_as is None
    assert rb.marks["own_cause"] == ["round_trip"] and "a failure of its own" in rb.detail
    assert rb.counterexample["offset"] % 2 == 0          # round_trip holds on it
    assert rb.to_json()["independent_of"] == ["round_trip"]
    # without the hardware bit on the offset, every reserved_bits failure is round_trip's (proved so)
    lay.path.write_text(text.replace(" | (1UL << 14)", ""))
    rep = prove_layout(load_layout(lay.path), ["round_trip", "reserved_bits"])
    rb = {r.name: r for r in rep.properties}["reserved_bits"]
    assert rb.same_as == "round_trip" and "every counterexample of this property also breaks it" in rb.detail


def test_text_report_states_the_exception_choice_and_repeats(tmp_path, capsys):
    lay = layout(tmp_path)
    with pytest.raises(SystemExit):
        main(["prove", "--layout-file", str(lay.path), "--property", "not_present_not_none", "--no-exception"])
    out = capsys.readouterr().out
    assert "present/none: no exception (--no-exception)" in out
    text = lay.path.read_text().replace('"(((x).val >> 12) & OFF_MASK)"', '"(((x).val >> 13) << 1 & OFF_MASK)"')
    lay.path.write_text(text)
    with pytest.raises(SystemExit):
        main(["prove", "--layout-file", str(lay.path), "--property", "round_trip", "--property", "reserved_bits"])
    out = capsys.readouterr().out
    assert "(same failure as round_trip)" in out
