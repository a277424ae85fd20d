"""Lazyfree reclaim and MAP_DROPPABLE.

Every scenario x variant gives its expected verdict with and without reduction, in well under 10 s;
each buggy variant's counterexample shows the kernel's own steps in order; each fixed variant really
reaches the window its fix closes; every invariant's predicate fails where the kernel's statement says
it must.
"""

import pytest

from pteverify.explore import VIOLATED
from pteverify.model import FREE
from pteverify.models import invariants as lf
from pteverify.models.mm import ZERO, Lazy
from pteverify.models.mm import NO_FOLIO, PTE_NONE, Kernel, pte_present, pte_swap
from pteverify.models.vmscan import Lazyfree
from pteverify.trace import race_table, trace_steps

from scenario_helpers import build, run, first, reachable, check_registry, invariant_on, KILLED_BY_MUTANTS, assert_valid_trace

EXPECTED = {
    "droppable-reclaim": {"v22": "droppable_never_swapbacked", "9651fcedf7b9": None, "newest": None,
                          "v22-classic-lru": None, "9651fcedf7b9-dropped": "dirty_droppable_dropped",
                          "newest-dropped": None, "9651fcedf7b9-pressure": "reclaim_round_ends",
                          "newest-pressure": None, "mainline-2026": None},
    "droppable-ksm": {"v22": "droppable_never_swapbacked", "9651fcedf7b9": None, "mainline-2026": None},
    "droppable-uffd-move": {"v22": "droppable_never_swapbacked", "9651fcedf7b9": "droppable_never_swapbacked",
                            "v6.17": None, "mainline-2026": None},
    "droppable-fork": {"9651fcedf7b9": None, "seeded-keeponfork": "read_sees_last_write_or_zero",
                       "seeded-rmap-swapbacked": "child_droppable_never_swapbacked", "mainline-2026": None},
    "lazyfree-redirty": {"v6.17": None, "v5.17": None, "seeded-no-tlb-flush": "write_after_madv_free_kept",
                         "seeded-ignore-dirty": "write_after_madv_free_kept", "mainline-2026": None},
    "lazyfree-gup": {"6c8e2a256915^": "referenced_folio_not_discarded",
                     "6c8e2a256915": "clean_lazyfree_not_swapbacked", "v6.17": None,
                     "9651fcedf7b9-droppable": None, "v6.17-arm64": None,
                     "v6.17-arm64-no-smp_mb": "referenced_folio_not_discarded", "v6.17-tso-no-smp_mb": None, "mainline-2026": None},
}
CASES = [(sc, v) for sc, vs in EXPECTED.items() for v in vs]







# --------------------------------------------------------------------------------------------
# Registry and verdicts


def test_registry_has_the_issue_variants():
    check_registry(EXPECTED)




def test_every_invariant_is_violated_by_a_shipped_variant():
    defined = set()
    for name, variants in EXPECTED.items():
        for v in variants:
            cm = build(name, v)
            defined |= {i.name for i in cm.invariants} | {f.name for f in cm.finals}
    violated = {inv for vs in EXPECTED.values() for inv in vs.values() if inv}
    # the two checked only through a focused run below
    violated |= {"droppable_never_swapped", "gup_page_is_mapped_page"}
    violated |= KILLED_BY_MUTANTS
    assert defined <= violated, defined - violated


# --------------------------------------------------------------------------------------------
# Reclaim is the shared model of models/vmscan.py (shrink_folio_list), models/rmap.py (try_to_unmap_one)
# and models/swap_state.py (add_to_swap)


SHRINK = ["trylock", "add_to_swap", "unmap.clear", "unmap.lazyfree", "unmap.share", "unmap.set", "pageout",
          "swap_writepage", "writeback_done", "remove", "keep"]


@pytest.mark.parametrize("scenario,variant,front,back", [
    ("lazyfree-gup", "v6.17", ["isolate"], []),
    ("droppable-reclaim", "newest", ["walk_pte_range", "sort_folio", "isolate"], ["end"]),
])
def test_reclaim_is_the_shared_swap_out_path(scenario, variant, front, back):
    """One shrink_folio_list / try_to_unmap_one serves the anonymous swap-out scenarios and these: the
    MADV_FREE page check sits between clearing the PTE and swap_duplicate(), as in mm/rmap.c."""
    cm = build(scenario, variant)
    steps = cm.threads[cm.thread_names.index("reclaim")].steps
    assert [st.label for st in steps] == front + SHRINK + back
    assert {st.effect.__module__ for st in steps} == {"pteverify.models.vmscan", "pteverify.models.rmap",
                                                     "pteverify.models.swap_state"}   # add_to_swap


# --------------------------------------------------------------------------------------------
# droppable-reclaim: the sort_folio "dirty lazyfree" block


def test_v22_sort_folio_sets_swapbacked_on_the_droppable_folio():
    r = run("droppable-reclaim", "v22")
    t = trace_steps(r)
    walk = first(t, "reclaim", "walk_pte_range")
    assert t[walk].changes["A_dirty"] == (False, True)              # the PTE dirty bit moves to the folio
    sort = first(t, "reclaim", "sort_folio", walk)
    assert t[sort].changes["A_swapbacked"] == (False, True)         # folio_set_swapbacked()
    assert sort == len(t) - 1
    table = "".join(race_table(r).split())
    for text in ("walk_pte_range", "folio_mark_dirty", "/*dirtylazyfree*/", "folio_set_swapbacked()",
                 "invariantdroppable_never_swapbackedviolated"):
        assert text in table


def test_v22_droppable_folio_then_enters_the_swap_cache():
    """Checked alone, droppable_never_swapped shows where the swap-backed folio goes: the next pass
    isolates it from the anon list and add_to_swap() gives it a swap slot."""
    r = run("droppable-reclaim", "v22", reduction=False, only="droppable_never_swapped")
    assert r.verdict == VIOLATED and r.invariant == "droppable_never_swapped"
    t = trace_steps(r)
    sort = first(t, "reclaim", "sort_folio")
    assert t[sort].changes["A_swapbacked"] == (False, True)
    iso = first(t, "reclaim", "isolate", sort)
    swap = first(t, "reclaim", "add_to_swap", first(t, "reclaim", "trylock", iso))
    assert t[swap].changes["A_swapcache"] == (False, True) and t[swap].changes["swp_cache"] == ("-", "A")


def test_v22_with_classic_lru_drops_the_dirty_droppable_folio():
    def dropped_then_zero(cm, s):
        return s.user_seen == ZERO

    assert reachable("droppable-reclaim", "v22-classic-lru", dropped_then_zero)


def test_fixed_sort_folio_lets_try_to_unmap_one_drop_a_dirty_folio():
    def dropped_dirty(cm, s):
        # reclaim is past try_to_unmap_one, the PTE is gone and the folio it held was dirty
        return (cm.label_at(1, s) == "pageout" and s.pte == PTE_NONE and s.reclaim_pteval.dirty
                and s.A_dirty and not s.A_swapbacked)

    assert reachable("droppable-reclaim", "newest", dropped_dirty)


def test_v611_rotates_the_dirty_droppable_folio_forever():
    r = run("droppable-reclaim", "9651fcedf7b9-dropped")
    t = trace_steps(r)
    assert r.kind != "invariant"
    sorts = [i for i, st in enumerate(t) if st.label == "sort_folio"]
    assert len(sorts) == 2 and "isolate" not in [st.label for st in t]
    assert "waitingforwriteback" in "".join(t[sorts[0]].kernel_ref.split())
    final = r.states_in_trace[-1]
    assert final.pte.present and final.pte.folio == "A" and final.A_dirty


def test_v611_under_lasting_pressure_is_a_fair_lasso_that_never_drops_the_page():
    """The progress form of the finding: reclaim retries without bound, and the cycle is
    walk_pte_range -> sort_folio (rotated: waiting for writeback) ... -> end -> walk_pte_range."""
    r = run("droppable-reclaim", "9651fcedf7b9-pressure")
    assert r.verdict == VIOLATED and r.kind == "progress" and r.invariant == "reclaim_round_ends"
    assert r.lasso.cycle, "a cycle, not a stuck state"
    assert_valid_trace(r)                               # the path replays; the cycle closes
    t = trace_steps(r)
    cycle = [st.label for st in t[r.cycle_start:]]
    assert {st.thread for st in t[r.cycle_start:]} == {"reclaim"}
    assert {"walk_pte_range", "sort_folio", "end"} <= set(cycle)
    assert not {"isolate", "unmap.lazyfree", "remove"} & set(cycle)
    # the user thread is finished in the cycle: it is a fair run
    start = r.states_in_trace[r.cycle_start]
    assert start.pte.present and start.pte.folio == "A" and start.A_dirty
    assert "cycle: the steps below repeat forever" in race_table(r)


def test_newest_under_lasting_pressure_holds_and_retries():
    r = run("droppable-reclaim", "newest-pressure")
    assert r.verdict != VIOLATED, r.invariant
    # the progress check is not vacuous: the same model with the v6.11 sort_folio() breaks it (above),
    # and the final predicate it pairs with is checked on the same runs
    cm = build("droppable-reclaim", "newest-pressure")
    assert [p.name for p in cm.progress] == ["reclaim_round_ends"]
    assert "dirty_droppable_dropped" in {f.name for f in cm.finals}


# --------------------------------------------------------------------------------------------
# KSM and UFFDIO_MOVE


def test_v22_ksm_maps_the_swapbacked_ksm_page_in_the_droppable_vma():
    t = trace_steps(run("droppable-ksm", "v22"))
    madv = first(t, "madvise", "ksm_madvise")
    assert t[madv].changes["vm_mergeable"] == (False, True)
    wp = first(t, "ksmd", "write_protect_page", madv)
    assert t[wp].changes["pte"] == (pte_present("A", write=True, dirty=True), pte_present("A"))
    rep = first(t, "ksmd", "replace_page", wp)
    assert t[rep].changes["pte"][1] == pte_present("K") and rep == len(t) - 1


def test_ksm_user_write_wins_the_race_with_replace_page():
    """A store between write_protect_page() and replace_page() faults, copies the page into a new
    droppable folio and makes replace_page()'s pte_same() fail: no merge, nothing swap-backed."""
    def wp_copy_before_replace(cm, s):
        return (s.pte.present and s.pte.folio == "B" and s.pte.write and not s.B_swapbacked
                and s.ksmd_page == "A")

    assert reachable("droppable-ksm", "v22", wp_copy_before_replace)


@pytest.mark.parametrize("variant,text", [("v22", "vma_is_anonymous"),
                                          ("9651fcedf7b9", "vm_flags&=__VM_UFFD_FLAGS")])
def test_uffd_register_is_not_refused_and_move_installs_the_swapbacked_page(variant, text):
    r = run("droppable-uffd-move", variant)
    t = trace_steps(r)
    reg = first(t, "monitor", "uffdio_register")
    assert t[reg].changes["uffd_registered"] == (False, True)
    assert text in "".join(t[reg].kernel_ref.split())
    mv = first(t, "monitor", "uffdio_move", reg)
    assert t[mv].changes["pte"] == (PTE_NONE, pte_present("S", write=True, dirty=True))
    assert t[mv].changes["pte_src"][1] == PTE_NONE


def test_fixed_uffd_refuses_and_the_fault_gets_the_zero_page():
    def refused(cm, s):
        return s.monitor_result == "-EINVAL" and not s.uffd_registered and s.user_seen == ZERO

    assert reachable("droppable-uffd-move", "v6.17", refused)


def test_registered_fault_waits_for_the_monitor():
    def woken_by_move(cm, s):
        return s.uffd_registered and s.user_seen == "src" and s.pte_src == PTE_NONE

    assert reachable("droppable-uffd-move", "9651fcedf7b9", woken_by_move)


# --------------------------------------------------------------------------------------------
# fork


def test_keeponfork_copies_the_parent_page_into_the_child():
    t = trace_steps(run("droppable-fork", "seeded-keeponfork"))
    keep = first(t, "parent", "keeponfork")
    assert t[keep].changes["wipeonfork"] == (True, False)
    fork = first(t, "parent", "fork", keep)
    assert t[fork].changes["child_pte"] == (PTE_NONE, pte_present("A", dirty=True))
    load = first(t, "child", "load", fork)
    assert t[load].changes["child_seen"] == ("-", "old")
    assert t[load].changes["child_read_expected"] == ("-", ZERO)


def test_child_write_fault_in_the_inherited_droppable_vma():
    t = trace_steps(run("droppable-fork", "seeded-rmap-swapbacked"))
    zero = first(t, "child", "load.fault")
    assert t[zero].changes["child_pte"][1] == pte_present(ZERO)
    copy = first(t, "child", "store.wp", zero)
    new = t[copy].changes["child_pte"][1]
    assert new.write and t[copy].changes[f"{new.folio}_swapbacked"] == (False, True)


def test_fixed_fork_child_sees_zero_then_writes_a_droppable_folio():
    def child_wrote(cm, s):
        p = s.child_pte
        return (s.child_seen == ZERO and p.present and p.write and p.folio != ZERO
                and not getattr(s, f"{p.folio}_swapbacked") and s.parent_result == "-EINVAL")

    assert reachable("droppable-fork", "9651fcedf7b9", child_wrote)


# --------------------------------------------------------------------------------------------
# lazyfree-redirty


def test_no_tlb_flush_lets_the_store_bypass_the_pte_dirty_bit():
    t = trace_steps(run("lazyfree-redirty", "seeded-no-tlb-flush"))
    clean = first(t, "user", "madv.pte_range")
    assert t[clean].changes["pte"] == (pte_present("A", write=True, dirty=True), pte_present("A", write=True))
    assert "tlb" not in t[clean].changes
    store = first(t, "user", "store", clean)
    assert t[store].changes["A_data"] == ("old", "old+cpu") and "pte" not in t[store].changes
    clear = first(t, "reclaim", "unmap.clear", store)
    assert not t[clear].changes["reclaim_pteval"][1].dirty
    drop = first(t, "reclaim", "unmap.lazyfree", clear)
    assert t[drop].changes["A_map"] == (1, 0)


def test_ignore_dirty_discards_the_redirtied_folio():
    t = trace_steps(run("lazyfree-redirty", "seeded-ignore-dirty"))
    store = first(t, "user", "store")
    assert t[store].changes["pte"][1].dirty                       # the page walk set the dirty bit
    clear = first(t, "reclaim", "unmap.clear", store)
    assert t[clear].changes["A_dirty"] == (False, True)            # folio_mark_dirty()
    drop = first(t, "reclaim", "unmap.lazyfree", clear)
    assert t[drop].changes["A_map"] == (1, 0)


@pytest.mark.parametrize("variant", ["v6.17", "v5.17"])
def test_fixed_redirty_restores_and_sets_swapbacked(variant):
    def restored(cm, s):
        return (s.cpu_stored and s.pte.present and s.pte.folio == "A" and s.A_swapbacked and s.A_dirty
                and cm.label_at(1, s) == "keep")

    def refaulted(cm, s):
        # the store came after try_to_unmap_one() dropped the clean folio: it faulted in a new page
        return s.cpu_stored and s.pte.present and getattr(s, f"{s.pte.folio}_data") == "zero+cpu"

    assert reachable("lazyfree-redirty", variant, restored)
    assert reachable("lazyfree-redirty", variant, refaulted)


# --------------------------------------------------------------------------------------------
# lazyfree-gup


def test_pre_6c8e2a256915_discards_the_folio_under_the_gup_reference():
    r = run("lazyfree-gup", "6c8e2a256915^")
    t = trace_steps(r)
    b1 = first(t, "odirect", "gup_fast.read_pte")
    b3 = first(t, "odirect", "gup_fast.grab", b1)
    b4 = first(t, "odirect", "gup_fast.recheck", b3)
    assert t[b4].changes["odirect_gup"] == (NO_FOLIO, "A")          # the PTE did not change: success
    clear = first(t, "reclaim", "unmap.clear", b4)
    drop = first(t, "reclaim", "unmap.lazyfree", clear)
    assert t[drop].changes["A_map"] == (1, 0) and "smp_mb" not in t[drop].kernel_ref
    assert drop == len(t) - 1
    assert "invariantreferenced_folio_not_discardedviolated" in "".join(race_table(r).split())


def test_pre_6c8e2a256915_dma_lands_in_the_discarded_page():
    r = run("lazyfree-gup", "6c8e2a256915^", reduction=False, only="gup_page_is_mapped_page")
    assert r.verdict == VIOLATED
    t = trace_steps(r)
    drop = first(t, "reclaim", "unmap.lazyfree")
    dma = first(t, "odirect", "dma", drop)
    assert t[dma].changes["dma_landed_in"] == ("-", "A (not mapped)")


def test_6c8e2a256915_makes_the_clean_referenced_folio_swapbacked():
    """Any extra reference does it, even GUP-fast's speculative one before its B4 re-check."""
    t = trace_steps(run("lazyfree-gup", "6c8e2a256915"))
    b3 = first(t, "odirect", "gup_fast.grab")
    assert t[b3].changes["A_ref"] == (1, 2)
    back = first(t, "reclaim", "unmap.lazyfree", b3)
    ch = t[back].changes
    assert ch["pte"] == (PTE_NONE, pte_present("A", write=True)) and ch["A_swapbacked"] == (False, True)
    assert "smp_mb()" in t[back].kernel_ref
    assert back == len(t) - 1


def test_fixed_gup_fast_backs_off_on_the_cleared_pte():
    """GUP-fast read the PTE before reclaim cleared it and re-reads it inside the PTL section: it
    drops its reference and takes the slow path, which waits for the PTL."""
    def backed_off(cm, s):
        return cm.label_at(0, s) == "gup_slow" and s.ptl != FREE and s.A_ref >= 1

    def restored_for_reference(cm, s):
        return (s.odirect_gup == "A" and s.pte == pte_present("A", write=True) and not s.A_swapbacked
                and cm.label_at(1, s) == "keep")

    assert reachable("lazyfree-gup", "v6.17", backed_off)
    assert reachable("lazyfree-gup", "v6.17", restored_for_reference)


# --------------------------------------------------------------------------------------------
# The invariants' predicates


_predicate = invariant_on


@pytest.mark.parametrize("build_inv,bad,good,ghosts", [
    (lf.inv_droppable_never_swapbacked, {"A_swapbacked": True}, {"pte": pte_present(ZERO)}, {}),
    (lf.inv_droppable_never_swapped, {"pte": pte_swap()}, {"pte": PTE_NONE}, {}),
    (lf.inv_droppable_never_swapped, {"A_swapcache": True}, {"B_swapcache": True}, {}),
    (lambda mm, a, b: lf.inv_read_sees_last_write_or_zero(mm, a, b),
     {"seen": "old", "expect": "old+cpu"}, {"seen": ZERO, "expect": "old+cpu"}, {"seen": "-", "expect": "-"}),
    (lambda mm, g: lf.inv_write_after_madv_free_kept(mm, g),
     {"g": True, "pte": PTE_NONE}, {"g": True, "A_data": "old+cpu"}, {"g": False}),
    (lambda mm, g: lf.inv_referenced_folio_not_discarded(mm, g),
     {"g": "A", "pte": PTE_NONE}, {"g": "A", "pte": PTE_NONE, "ptl": 1}, {"g": NO_FOLIO}),
    (lambda mm, g: lf.inv_clean_lazyfree_not_swapbacked(mm, g),
     {"g": "A", "A_ref": 1, "A_swapbacked": True},
     {"g": "A", "A_ref": 1, "A_swapbacked": True, "pte": pte_present("A", dirty=True)}, {"g": NO_FOLIO}),
    (lambda mm, g: lf.final_dropped_under_pressure(mm, g, "old"),
     {"g": True, "A_data": "old+cpu"}, {"g": True, "A_data": "zero+cpu"}, {"g": False}),
])
def test_invariant_predicates(build_inv, bad, good, ghosts):
    assert not _predicate(build_inv, bad, **ghosts)
    assert _predicate(build_inv, good, **ghosts)


def test_lazy_rejects_an_unknown_sort_folio_form():
    with pytest.raises(ValueError, match="sort_folio form"):
        Lazy(sort_folio="v5.0")
    with pytest.raises(ValueError, match="sort_folio form"):
        Kernel(mglru_sort_folio="v5.0")
    with pytest.raises(ValueError, match="lru 'active_anon'"):
        Lazyfree(lru="active_anon")
    with pytest.raises(ValueError, match="passes"):
        Lazyfree(lru="mglru", passes=0)
    assert Lazy(droppable=True, droppable_aware=False).droppable_vma is False
    assert Lazy(ref_check=False, sort_folio="v6.11").kernel() == Kernel(lazyfree_ref_check=False,
                                                                        mglru_sort_folio="v6.11")
