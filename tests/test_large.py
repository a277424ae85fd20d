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
    ("fork-large-pin", "no-batch-pin-check", 4, "violated", "pinned_mapped_page_is_exclusive"),
    ("lazyfree-batch-gup", "mainline-2026", 4, "holds", None),
    ("lazyfree-batch-gup", "29f40594a281^", 4, "violated", "soft_dirty_kept"),
    ("large-swapin-range", "mainline-2026", 4, "holds", None),
    ("large-swapin-range", "no-range-recheck", 4, "violated", "do_swap_page_no_warning"),
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
