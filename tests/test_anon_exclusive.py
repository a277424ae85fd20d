"""Anon-exclusive I: swap-out, swap-in and swapoff against GUP references.

Every scenario x variant of the issue gives its expected verdict with and without reduction; each
buggy variant's counterexample shows the kernel steps of the race in order; each fixed variant really
exercises the window the fix closes; the mm vocabulary and the invariants' predicates fail where the
kernel's statements say they must.
"""

import pytest

from pteverify.explore import HOLDS, VIOLATED, explore
from pteverify.model import FREE, Knobs, Model, ModelError, check_footprints
from pteverify.models import invariants
from pteverify.models import mm as mmv
from pteverify.models.gup import emit_gup
from pteverify.models.mm import (MM, NO_FOLIO, PTE_SWAPIN_ERROR, Kernel, Pte, holds_write, pte_present,
                                 pte_same_as_swp, pte_swap, written)
from pteverify.models.memory import emit_fault_handlers
from pteverify.scenario import get_scenario
from pteverify.trace import race_table, trace_steps

from scenario_helpers import run, first, reachable, check_registry, invariant_on

EXPECTED = {
    "odirect-swapout": {"v5.18": "no_lost_write", "1493a1913e34^": "no_lost_write", "1493a1913e34": None,
                        "v5.19-x86-32": "no_lost_write", "1493a1913e34-stable-writes": None,
                        "seeded-no-stable-writes-check": "stable_page_not_writable_under_writeback",
                        "foll-pin-x86-32": None, "mainline-2026": None},
    "vmsplice-swapout": {"v5.18": "exclusive_page_not_replaced",
                         "1493a1913e34^": "exclusive_page_not_replaced", "1493a1913e34": None,
                         "v5.19-x86-32": "exclusive_page_not_replaced", "mainline-2026": None},
    "swapin-two-faults": {"v6.7": "no_lost_write", "13ddaf26be32": None, "no-synchronous-io": None,
                          "seeded-no-swp-soft-dirty": "soft_dirty_survives_swap", "mainline-2026": None},
    "swapoff-bits": {"14a762dd1977^": "uffd_wp_survives_swap", "14a762dd1977": None,
                     "14a762dd1977^-soft-dirty": "soft_dirty_survives_swap", "14a762dd1977-soft-dirty": None,
                     "mainline-2026": None, "seeded-swapin-ignores-uffd-wp": "uffd_wp_store_traps"},
    "swapoff-read-error": {"9f186f9e5fa9^": "no_unread_data_mapped", "9f186f9e5fa9": None, "mainline-2026": None},
}
CASES = [(sc, v) for sc, vs in EXPECTED.items() for v in vs]





# --------------------------------------------------------------------------------------------
# Registry and verdicts


def test_registry_has_the_issue_variants():
    check_registry(EXPECTED)




def test_knob_override_from_the_command_line_reopens_the_loss():
    """The fixed kernel on an architecture without the swp exclusive bit (`--set`)."""
    r = run("odirect-swapout", "1493a1913e34", overrides={"arch.swp_exclusive": "false"})
    assert r.verdict == VIOLATED and r.invariant == "no_lost_write"


# --------------------------------------------------------------------------------------------
# The buggy variants' races, step by step


@pytest.mark.parametrize("variant", ["v5.18", "1493a1913e34^", "v5.19-x86-32"])
def test_odirect_race_reads_like_the_kernel(variant):
    r = run("odirect-swapout", variant)
    t = trace_steps(r)
    gup = first(t, "odirect", "follow_page")
    assert t[gup].changes["odirect_gup"] == (NO_FOLIO, "A")            # the GUP reference is taken
    unmap = first(t, "reclaim", "unmap.set", gup)
    old, new = t[unmap].changes["pte"]
    assert new.is_swap and not new.exclusive                          # swap PTE without the bit
    refault = first(t, "writer", "dsp.set_pte", unmap)
    assert t[refault].changes["pte"][1] == pte_present("A", soft_dirty=True)   # mapped R/O
    copy = first(t, "writer", "wp.copy_user", refault)                 # the COW copy
    new_folio = t[copy].changes["writer_new"][1]
    dma = first(t, "odirect", "dma", copy)
    assert t[dma].changes["A_data"] == ("old", "old+dma")             # the DMA lands in the old page
    switch = first(t, "writer", "wp.copy_pte", dma)
    assert t[switch].changes["pte"][1].folio == new_folio != "A"
    table = "".join(race_table(r).split())           # the table wraps long kernel references
    for i in (gup, unmap, refault, copy, dma, switch):
        func = t[i].kernel_ref.split(": ", 1)[-1]      # the table may drop the source-file prefix
        assert "".join(func.split()) in table
    for text in ("follow_page_pte(FOLL_GET|FOLL_WRITE)", "set_pte_at(swp_pte)", "cow_user_page",
                 "device:DMA", "invariantno_lost_writeviolated"):
        assert text.replace(" ", "") in table


def test_odirect_dma_into_the_unmapped_page():
    """Checked alone, gup_page_is_mapped_page catches the variant of the race in which the COW
    completes first and the DMA lands in the page no longer mapped."""
    sc = get_scenario("odirect-swapout")
    cm = sc.build(sc.variant("1493a1913e34^"))
    cm.invariants = [i for i in cm.invariants if i.name == "gup_page_is_mapped_page"]
    r = explore(cm, reduction=False)
    assert r.verdict == VIOLATED and r.invariant == "gup_page_is_mapped_page"
    t = trace_steps(r)
    switch = first(t, "writer", "wp.copy_pte")
    dma = first(t, "odirect", "dma", switch)
    assert t[dma].changes["dma_landed_in"] == ("-", "A (not mapped)")


def test_vmsplice_page_replaced_during_cow():
    t = trace_steps(run("vmsplice-swapout", "1493a1913e34^"))
    pin = first(t, "test", "follow_page")
    unmap = first(t, "test", "unmap.set", pin)
    assert not t[unmap].changes["pte"][1].exclusive
    keep = first(t, "test", "pageout", unmap)
    assert "swp_data" not in t[keep].changes               # the pipe's reference: PAGE_KEEP, no I/O
    first(t, "test", "wp.copy_user", keep)
    cow = first(t, "test", "wp.copy_pte", keep)
    assert t[cow].changes["pte"][1].folio != "A"
    assert t[-1] is t[cow]


def test_two_faults_aba_on_pte_same():
    r = run("swapin-two-faults", "v6.7")
    t = trace_steps(r)
    look0 = first(t, "fault0", "dsp.lookup")
    stale = t[look0].changes["fault0_page"][1]
    store = next(i for i in range(look0, len(t)) if "cpu_stored" in t[i].changes)
    assert (t[store].thread, t[store].label) == ("fault1", "access")
    reswap = first(t, "reclaim", "unmap.set", store)
    reused = t[reswap].changes["pte"][1]
    assert reused == pte_swap(exclusive=True, soft_dirty=True)       # the same swap PTE value again
    same = first(t, "fault0", "dsp.pte_same", reswap)                # passes: ABA
    install = first(t, "fault0", "dsp.set_pte", same)
    assert t[install].changes["pte"] == (reused, pte_present(stale, soft_dirty=True))
    assert "skip swapcache" in t[look0].kernel_ref and "swapcache_prepare" not in t[look0].kernel_ref


def test_swapoff_drops_uffd_wp():
    t = trace_steps(run("swapoff-bits", "14a762dd1977^"))
    i = first(t, "swapoff", "set_pte")
    old, new = t[i].changes["pte"]
    assert old.uffd_wp and old.soft_dirty and new.present and not new.uffd_wp and not new.soft_dirty
    assert i == len(t) - 1


def test_swapoff_maps_garbage():
    r = run("swapoff-read-error", "9f186f9e5fa9^")
    t = trace_steps(r)
    read = first(t, "swapoff", "lookup")
    assert t[read].changes["A_data"] == ("-", "garbage") and "A_uptodate" not in t[read].changes
    mapped = first(t, "swapoff", "set_pte", read)
    assert t[mapped].changes["pte"][1] == pte_present("A")


# --------------------------------------------------------------------------------------------
# The fixed variants explore the window the fix closes



def test_fixed_odirect_swaps_out_the_referenced_page():
    # the GUP reference is held while the page sits behind an exclusive swap PTE, and the writer's
    # refault maps that same page writable
    def window(cm, s):
        return s.odirect_gup == "A" and s.pte == pte_swap(exclusive=True, soft_dirty=True)

    def refault_reuses(cm, s):
        return (s.odirect_gup == "A" and s.pte.present and s.pte.folio == "A" and s.pte.write
                and s.cpu_stored and not s.dma_done)

    assert reachable("odirect-swapout", "1493a1913e34", window)
    assert reachable("odirect-swapout", "1493a1913e34", refault_reuses)


def test_fixed_two_faults_back_off_on_the_pinned_entry():
    def contended(cm, s):
        return (cm.label_at(1, s) == "dsp.lookup" and s.swp_has_cache and s.swp_cache == NO_FOLIO
                and s.fault0_clear)

    assert reachable("swapin-two-faults", "13ddaf26be32", contended)


def test_fixed_swapoff_installs_the_error_entry_and_the_reader_gets_sigbus():
    def sigbus_after_error_entry(cm, s):
        return s.pte == PTE_SWAPIN_ERROR and s.reader_result == "SIGBUS"

    assert reachable("swapoff-read-error", "9f186f9e5fa9", sigbus_after_error_entry)


def test_fixed_swapoff_writer_reaches_the_uffd_monitor():
    def userfault(cm, s):
        return s.writer_result == "userfault" and s.pte.present and s.pte.uffd_wp

    assert reachable("swapoff-bits", "14a762dd1977", userfault)


def test_fixed_swapoff_store_lands_after_swapoff_with_soft_dirty_kept():
    """Without uffd-wp the store is not trapped: unuse_pte() maps the page read-only, the store's write
    fault reuses it (the writer's own do_swap_page would map it writable, so do_wp_page's reuse means
    swapoff mapped it) and the stored PTE keeps the soft-dirty bit."""
    sc = get_scenario("swapoff-bits")
    r = explore(sc.build(sc.variant("14a762dd1977-soft-dirty")), reduction=False, coverage=True)
    assert r.verdict == "holds" and r.coverage.fired("writer", "wp.reuse") > 0

    def landed(cm, s):
        return s.cpu_stored and s.pte.present and s.pte.write and s.pte.soft_dirty

    assert reachable("swapoff-bits", "14a762dd1977-soft-dirty", landed)


def test_fixed_vmsplice_write_fault_reuses_the_exclusive_page():
    """The fixed kernel: the read-back maps the page read-only with PG_anon_exclusive from the swap
    PTE; the store's write fault goes through do_wp_page and reuses the page the pipe holds."""
    def reused(cm, s):
        return s.cpu_stored and s.pte.present and s.pte.folio == "A" and s.pte.write

    assert reachable("vmsplice-swapout", "1493a1913e34", reused)


# --------------------------------------------------------------------------------------------
# GUP unshare: a R/O FOLL_PIN of a page that is not PG_anon_exclusive


def _unshare_model(extra_ref: bool) -> Model:
    k = Kernel()
    m = Model("unshare", "R/O FOLL_PIN of a non-exclusive page", Knobs(()))
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A"))
    mm.add_folios(A={"ref": 2 if extra_ref else 1, "map": 1, "swapbacked": True, "uptodate": True,
                     "data": "old"})
    mm.add_swap_slot()
    t = mm.thread("pin")
    emit_gup(t, k, write=False, pin=True, cont="done")
    emit_fault_handlers(t, k)
    invariants.inv_pinned_mapped_page_is_exclusive(mm)
    invariants.inv_writable_pte_maps_exclusive_page(mm)
    return m


@pytest.mark.parametrize("extra_ref,label", [(False, "wp.reuse"), (True, "wp.copy_pte")])
def test_gup_unshare(extra_ref, label):
    cm = _unshare_model(extra_ref).compile()
    assert check_footprints(cm) == []
    r = explore(cm, reduction=False)
    assert r.verdict == HOLDS
    s, fired = cm.initial, []
    while not cm.all_done(s):
        (ti, n), = cm.successors(s)
        fired.append(cm.label_at(ti, s))
        s = n
    assert label in fired and fired.count("follow_page") == 2
    assert s.pte.present and not s.pte.write
    assert getattr(s, f"{s.pte.folio}_pin") == 1 and getattr(s, f"{s.pte.folio}_excl")
    assert (s.pte.folio == "A") != extra_ref


# --------------------------------------------------------------------------------------------
# The mm vocabulary


def test_written_is_canonical():
    assert written(written("old", "dma"), "cpu") == written(written("old", "cpu"), "dma") == "old+cpu+dma"
    assert holds_write("old+cpu+dma", "dma") and not holds_write("old+cpu", "dma")
    assert not holds_write("garbage", "cpu") and not holds_write(None, "cpu")


def test_pte_values():
    assert str(pte_present("A", write=True, dirty=True)) == "present(A, rw, dirty)"
    assert str(pte_swap(exclusive=True, uffd_wp=True)) == "swap(slot0, excl, uffd-wp)"
    assert pte_swap(exclusive=True) != pte_swap()                              # pte_same()
    assert pte_same_as_swp(pte_swap(exclusive=True, soft_dirty=True), pte_swap())  # flags cleared
    assert not pte_same_as_swp(pte_present("A"), pte_swap())
    assert str(Pte("none")) == "none"


def _bare_mm():
    m = Model("t", "", Knobs(()))
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A"))
    mm.add_folios(A={"ref": 1, "map": 1, "uptodate": True, "data": "old"})
    mm.add_swap_slot()
    m.thread("t").step("x", "noop")
    return mm, m.compile()


def test_folio_pool_allocation_and_free():
    mm, cm = _bare_mm()
    s = cm.initial
    d = {}
    assert mm.alloc_folio(s, d, data="old") == "B"
    with pytest.raises(ModelError):
        mm.alloc_folio(s, d)
    d = {}
    with pytest.raises(ModelError):          # mapped folios are never freed
        mm.put_folio(s, d, "A")
    d = {"A_map": 0}
    mm.put_folio(s, d, "A")
    assert d["A_ref"] == 0 and d["A_data"] == "-" and not d["A_uptodate"]


def test_swap_slot_lifetime():
    mm, cm = _bare_mm()
    s = cm.make_state({"swp_count": 1, "swp_data": "old", "pte": pte_swap()})
    d = {}
    mm.swap_free(s, d)
    assert d == {"swp_count": 0, "swp_data": "-"}                    # last reference: slot freed
    cached = {"swp_count": 1, "swp_has_cache": True, "swp_cache": "A", "swp_data": "old",
              "A_swapcache": True, "A_ref": 2, "A_map": 0, "pte": pte_swap()}
    s = cm.make_state(dict(cached, A_lock=1))
    d = {}
    mm.swap_free(s, d)
    assert d == {"swp_count": 0}                                      # the swap cache still pins it
    assert mm.try_to_free_swap(s, d, "A") and d["swp_data"] == "-" and d["A_dirty"]
    # folio_free_swap() / try_to_free_swap() assert the folio lock (VM_BUG_ON_FOLIO)
    with pytest.raises(ModelError, match="not locked"):
        mm.try_to_free_swap(cm.make_state(cached), {"swp_count": 0}, "A")
    assert mm.try_to_free_swap(cm.make_state(cached), {"swp_count": 0}, "A", lock_taken_here=True)
    with pytest.raises(ModelError):
        mm.swap_free(cm.make_state({"swp_count": 0}), {})


_predicate = invariant_on


@pytest.mark.parametrize("build,bad,good,ghosts", [
    (invariants.inv_writable_pte_maps_exclusive_page,
     {"pte": pte_present("A", write=True)}, {"pte": pte_present("A", write=True), "A_excl": True}, {}),
    (invariants.inv_pinned_mapped_page_is_exclusive,
     {"pte": pte_present("A"), "A_pin": 1}, {"pte": pte_present("A"), "A_pin": 1, "A_excl": True}, {}),
    (invariants.inv_swap_pte_page_not_exclusive,
     {"pte": pte_swap(), "swp_cache": "A", "A_excl": True}, {"pte": pte_swap(), "swp_cache": "A"}, {}),
    (invariants.inv_no_unread_data_mapped,
     {"pte": pte_present("A")}, {"pte": pte_present("A"), "A_uptodate": True}, {}),
    (invariants.inv_uffd_wp_survives_swap,
     {"pte": pte_present("A")}, {"pte": pte_swap(uffd_wp=True)}, {"armed": True}),
    (invariants.inv_soft_dirty_survives_swap,
     {"pte": pte_swap()}, {"pte": pte_present("A", soft_dirty=True)}, {"written": True}),
    (lambda mm, g: invariants.inv_no_lost_write(mm, {"cpu": g}),
     {"pte": pte_present("B"), "A_data": "old+cpu", "B_data": "old", "g": True},
     {"pte": pte_swap(), "swp_data": "old+cpu", "g": True}, {"g": False}),
    (lambda mm, g: invariants.inv_gup_page_is_mapped_page(mm, g), {"g": "A (not mapped)"}, {"g": "A (mapped)"},
     {"g": "-"}),
    (lambda mm, g: invariants.inv_exclusive_page_not_replaced(mm, g),
     {"pte": pte_present("B"), "g": "A"}, {"pte": pte_present("A"), "g": "A"}, {"g": NO_FOLIO}),
])
def test_invariant_predicates(build, bad, good, ghosts):
    assert not _predicate(build, bad, **ghosts)
    assert _predicate(build, good, **ghosts)


def test_no_lost_write_waits_for_a_consistent_page_table():
    """Inside a PTL-held section the data may be in flight (do_swap_page between swap_free and
    set_pte_at): the invariant judges only states with the PTL free."""
    state = {"pte": pte_swap(), "swp_data": "-", "g": True, "ptl": 1}
    assert _predicate(lambda mm, g: invariants.inv_no_lost_write(mm, {"cpu": g}), state, g=False)
    state["ptl"] = FREE
    assert not _predicate(lambda mm, g: invariants.inv_no_lost_write(mm, {"cpu": g}), state, g=False)
