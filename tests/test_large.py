"""Large folios (nr PTEs per folio): the vocabulary (MM(nr=), subpage_view, per-slot swap state), the
three large-folio scenarios at nr = 2 and nr = 4, and checks that can fail."""

from __future__ import annotations

import pytest

from pteverify.explore import explore
from pteverify.model import Model, ModelError
from pteverify.models.mm import MM, SLOT, pte_present, pte_swap, subpage_view
from pteverify.scenario import get_scenario


def _mm(nr: int = 2) -> MM:
    m = Model("t", "t")
    mm = MM(m, folios=("A", "B"), nr=nr)
    mm.add_ptes([pte_present("A", write=True)] * nr)
    mm.add_folios(A={"ref": nr, "map": nr, "excl": True, "nr": nr})
    mm.add_swap_slots([0] * nr, ["-"] * nr)
    return mm


def test_range_fields_and_per_page_exclusive():
    mm = _mm(4)
    assert mm.ptes == ["pte", "pte1", "pte2", "pte3"]
    assert mm.page_flag("excl", "A", 0) == "A_excl" and mm.page_flag("excl", "A", 3) == "A_excl3"
    assert mm.slots == [SLOT, "slot1", "slot2", "slot3"]
    init = {f.name: f.init for f in mm.m.fields.values()}
    assert init["A_excl3"] is True and init["A_nr"] == 4 and init["B_excl3"] is False and init["B_nr"] == 1


def test_subpage_view_maps_pte_exclusive_and_slot_of_its_page():
    mm = _mm(2)
    v = subpage_view(mm, 1)
    assert (v.pte, v.f["excl"]["A"], v.slot, v.swp_count) == ("pte1", "A_excl1", "slot1", "swp_count1")
    assert v.base is mm and mm.pte == "pte" and mm.f["excl"]["A"] == "A_excl"
    # freeing a folio through the view resets every page's flag, page 0's included
    assert "excl0" in v.folio_flags and v.f["excl0"]["A"] == "A_excl"
    with pytest.raises(ModelError):
        subpage_view(mm, 2)


def test_add_ptes_refuses_a_wrong_count():
    m = Model("t", "t")
    mm = MM(m, nr=2)
    with pytest.raises(ModelError):
        mm.add_ptes([pte_swap(SLOT)])


@pytest.mark.parametrize("name,variant,nr,verdict,invariant", [
    ("fork-large-pin", "mainline-2026", 2, "holds", None),
    ("fork-large-pin", "mainline-2026", 4, "holds", None),
    ("fork-large-pin", "seeded-no-batch-pin-check", 4, "violated", "pinned_mapped_page_is_exclusive"),
    ("lazyfree-batch-gup", "mainline-2026", 4, "holds", None),
    ("lazyfree-batch-gup", "29f40594a281^", 4, "violated", "soft_dirty_kept"),
    ("large-swapin-range", "mainline-2026", 4, "holds", None),
    ("large-swapin-range", "seeded-no-range-recheck", 4, "violated", "do_swap_page_no_warning"),
])
def test_large_scenarios_at_nr(name, variant, nr, verdict, invariant):
    sc = get_scenario(name)
    r = explore(sc.build(sc.variant(variant), overrides={"folio.nr": nr}))
    assert r.verdict == verdict
    if invariant:
        assert r.invariant == invariant


def test_nr_changes_the_state_space():
    sc = get_scenario("lazyfree-batch-gup")
    v = sc.variant("354dffd29575^")
    two = explore(sc.build(v, overrides={"folio.nr": 2})).stats.states
    four = explore(sc.build(v, overrides={"folio.nr": 4})).stats.states
    assert four > two


def test_the_child_range_has_its_own_ptes():
    sc = get_scenario("fork-large-pin")
    cm = sc.build(sc.variant("mainline-2026"), overrides={"folio.nr": 4})
    assert {"child_pte", "child_pte3", "pte3", "A_excl3", "A_nr", "fork_fork_prealloc"} <= set(cm.model.fields)


def test_nr_knob_domain_is_checked():
    from pteverify.model import KnobError
    sc = get_scenario("fork-large-pin")
    with pytest.raises(KnobError):
        sc.build(sc.variant("mainline-2026"), overrides={"folio.nr": 3})


LARGE_SCENARIOS = ("fork-large-pin", "lazyfree-batch-gup", "large-swapin-range", "large-swapin-zswap",
                   "mte-large-folio")


def test_seeded_variants_are_labelled_as_seeded():
    """A variant that no kernel ran (a seeded mutation or a combination never shipped) says so: its name
    starts with "seeded-" and it stands for the release it was seeded into, "(seeded)", not for a
    commit whose code it is not."""
    for name in LARGE_SCENARIOS:
        for v in get_scenario(name).variants:
            seeded = v.name.startswith("seeded") or v.description.startswith("seeded")
            assert seeded == v.name.startswith("seeded-"), (name, v.name)
            if seeded:
                assert v.commit is None and v.release and v.release.endswith("(seeded)"), (name, v.name)


# -- large-swapin-zswap --------------------------------------------------------------------------------

def _zswap_model(variant: str, nr: int = 2, **knobs):
    sc = get_scenario("large-swapin-zswap")
    return sc.build(sc.variant(variant), overrides=dict({"folio.nr": nr}, **knobs))


def test_zswap_entries_are_per_slot_and_seen_through_subpage_views():
    from pteverify.models.zswap import STALE, add_zswap_entries, zswap_fields
    m = Model("t", "t")
    mm = MM(m, folios=("A",), nr=4)
    mm.add_ptes([pte_swap(SLOT if i == 0 else f"slot{i}") for i in range(4)])
    mm.add_folios()
    mm.add_swap_slots([1] * 4, ["old", STALE, STALE, STALE])
    zs = add_zswap_entries(mm, [False, True, True, True])
    assert zs == ["zswap_entry", "zswap_entry1", "zswap_entry2", "zswap_entry3"] == zswap_fields(mm)
    assert subpage_view(mm, 2).zswap_entry == "zswap_entry2" and mm.zswap_entry == "zswap_entry"
    assert set(zs) <= set(mm.all_slot_fields())


@pytest.mark.parametrize("form,expect", [
    ("c63f210d4891^", ("garbage", True, False)),       # the whole folio from the device: a stale page
    ("c63f210d4891", ("-", False, False)),             # WARN, not uptodate: an I/O error
    ("mainline-2026", ("-", False, False)),            # -EIO: part of the range is in zswap
])
def test_zswap_load_of_a_large_folio_partly_in_zswap(form, expect):
    from types import SimpleNamespace
    from pteverify.models.swap_state import swap_read_folio
    from pteverify.models.zswap import STALE, add_zswap_entries
    m = Model("t", "t")
    mm = MM(m, folios=("A",), nr=2)
    mm.add_ptes([pte_swap(SLOT), pte_swap("slot1")])
    mm.add_folios()
    mm.add_swap_slots([1, 1], ["old", STALE])
    add_zswap_entries(mm, [False, True])
    s = SimpleNamespace(**{f.name: f.init for f in m.fields.values()})
    assert swap_read_folio(mm, s, {}, 2, form) == expect
    d = {}
    assert swap_read_folio(subpage_view(mm, 1), s, d, 1, form) == ("old", True, True)   # order 0: zswap
    assert d == {"zswap_entry1": False}                                                  # exclusive load


@pytest.mark.parametrize("variant,nr,verdict,invariant", [
    ("mainline-2026", 2, "holds", None),
    ("mainline-2026", 4, "holds", None),
    ("mainline-2026-no-fallback", 2, "holds", None),
    ("mainline-2026-no-fallback", 4, "holds", None),
    ("seeded-no-fallback-c63f210d4891^", 4, "violated", "load_sees_swapped_data"),
    ("seeded-no-fallback-c63f210d4891", 4, "violated", "no_sigbus"),
])
def test_large_swapin_zswap_at_nr(variant, nr, verdict, invariant):
    r = explore(_zswap_model(variant, nr))
    assert r.verdict == verdict
    if invariant:
        assert r.invariant == invariant


def _values(cm, field: str) -> set:
    r = explore(cm, reduction=False, graph=True)
    idx = cm.index[field]
    return {s[idx] for a, _, b in r.edges for s in (a, b)}


def test_the_what_if_swaps_the_range_in_large_once_zswap_holds_none_of_it():
    """Without the zswap_never_enabled() gate the large order is refused while a slot is in zswap and
    taken once writeback emptied zswap of the range: both happen (the checks are not vacuous); with
    the gate no fault ever maps more than one page."""
    assert _values(_zswap_model("mainline-2026-no-fallback", 2), "fault_dsp_nr") == {1, 2}
    assert _values(_zswap_model("mainline-2026", 2), "fault_dsp_nr") == {1}


def test_mainline_gate_never_swaps_in_large_with_zswap():
    """With zswap in use the 2026 thp_swapin_suitable_orders() allows no large order; without the gate
    and with the v6.10 zswap_load() the range is read whole from the device."""
    bad = explore(_zswap_model("seeded-no-fallback-c63f210d4891^", 2))
    assert bad.verdict == "violated"
    gate = explore(_zswap_model("seeded-no-fallback-c63f210d4891^", 2, **{"swap_in.mthp_zswap_fallback": True}))
    assert gate.verdict == "holds"


# -- mte-large-folio -----------------------------------------------------------------------------------

def _mte_model(variant: str, nr: int = 2, **knobs):
    sc = get_scenario("mte-large-folio")
    return sc.build(sc.variant(variant), overrides=dict({"folio.nr": nr}, **knobs))


@pytest.mark.parametrize("variant,nr,verdict,invariant", [
    ("mainline-2026", 2, "holds", None),
    ("mainline-2026", 4, "holds", None),
    ("seeded-restore-first-page-only", 4, "violated", "mte_tags_restored_before_slot_freed"),
    ("seeded-restore-after-free", 4, "violated", "mte_tags_restored_before_slot_freed"),
])
def test_mte_large_folio_at_nr(variant, nr, verdict, invariant):
    r = explore(_mte_model(variant, nr))
    assert r.verdict == verdict
    if invariant:
        assert r.invariant == invariant


def test_mte_tags_and_tag_storage_are_per_page_and_per_slot():
    cm = _mte_model("mainline-2026", 4)
    fields = set(cm.model.fields)
    assert {"A_tags", "A_tags3", "A_mte_tagged3", "mte_xa3", "tag_storage3"} <= fields
    assert cm.model.fields["tag_storage2"].init == "T2" and cm.model.fields["tag_storage"].init == "T"


def test_mte_large_folio_maps_the_folio_partly_and_whole():
    """The zap makes some faults map fewer PTEs than the folio has pages, others map the range whole;
    both restore the tags (the subpage invariant is not vacuous)."""
    assert _values(_mte_model("mainline-2026", 2), "fault_dsp_nr") == {1, 2}


def test_first_page_restore_also_breaks_the_loads_and_the_mapped_pages():
    """With the slot-free check filtered out, the first-page-only restore is still caught: by the mapped
    subpages' tags and by what a tag-checked load of the last subpage sees."""
    from pteverify.model import CompiledModel
    for name in ("subpage_tags_restored", "mte_tags_survive_swap"):
        cm = _mte_model("seeded-restore-first-page-only", 2)
        m = cm.model
        m.invariants = [inv for inv in m.invariants if inv.name == name]
        r = explore(CompiledModel(m))
        assert r.verdict == "violated" and r.invariant == name, name
