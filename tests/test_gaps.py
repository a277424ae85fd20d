"""The three races of issue 11 §4 that nothing checked before (models/scenarios/gaps.py):
unuse_pte()'s RMAP_EXCLUSIVE with a GUP reference held across swapoff, a PTE writer holding only the
PTL (MADV_DONTNEED's zap) racing swapoff's unuse_pte(), and a store through a stale TLB entry after
reclaim deferred its flush. Verdicts and golden counts are checked by test_scenarios.py; here: the
expected variants, the kernel steps of each counterexample in order, the race reached on the fixed
kernels, and the named mutants the new checks kill."""

from pteverify import mutate as mut
from pteverify.explore import HOLDS, VIOLATED
from pteverify.models.mm import NO_FOLIO
from pteverify.scenario import load_scenarios
from pteverify.trace import trace_steps

from scenario_helpers import check_registry, first, labels, reachable, run

EXPECTED = {
    "swapoff-gup-exclusive": {
        "mainline-2026": None,
        "1493a1913e34": None,
        "1493a1913e34^": "no_lost_write",
        "seeded-unuse-rmap-none": "no_lost_write",
    },
    "swapoff-vs-dontneed": {
        "mainline-2026": None,
        "v6.1": None,
        "seeded-no-recheck": "zapped_pte_stays_zapped",
    },
    "reclaim-deferred-flush": {
        "mainline-2026": None,
        "d950c9477d51": None,
        "72b252aed506": None,
        "72b252aed506^": None,
        "seeded-no-flush-dirty": "no_lost_write",
    },
    "dontneed-deferred-flush": {
        "mainline-2026": None,
        "3ea277194daa": None,
        "3ea277194daa^": "store_after_dontneed_on_zero_page",
    },
}


def test_registry():
    check_registry(EXPECTED)


# -- 1. unuse_pte()'s RMAP_EXCLUSIVE with a GUP reference held across swapoff -------------------------

def test_unuse_pte_without_rmap_exclusive_loses_the_dma():
    r = run("swapoff-gup-exclusive", "seeded-unuse-rmap-none")
    assert r.verdict == VIOLATED and r.invariant == "no_lost_write"
    tr = trace_steps(r)
    gup = first(tr, "odirect", "follow_page")
    unmap = first(tr, "reclaim", "unmap.set", gup)
    mapped = first(tr, "swapoff", "set_pte", unmap)
    assert "A_excl" not in tr[mapped].changes, "mapped without RMAP_EXCLUSIVE"
    copy = first(tr, "writer", "wp.copy_pte", mapped)
    dma = first(tr, "odirect", "dma", gup)
    assert dma > first(tr, "writer", "wp.copy_user", mapped), "the DMA lands after the COW copy"
    assert copy > mapped
    last = r.states_in_trace[-1]
    assert last.pte.folio != "A" and last.A_ref >= 1, "the GUP reference still holds the replaced page"


def test_unuse_pte_restores_exclusive_and_the_write_fault_reuses():
    """mainline: the race is reached: swapoff maps the page while the GUP reference is held, and the
    write fault then reuses it (PG_anon_exclusive came back from the swap PTE)."""
    assert run("swapoff-gup-exclusive", "mainline-2026").verdict == HOLDS

    def mapped_by_swapoff_with_gup(cm, s):
        return (s.pte.kind == "present" and s.pte.folio == "A" and not s.pte.write
                and s.odirect_gup == "A" and s.A_excl and not s.dma_done)

    assert reachable("swapoff-gup-exclusive", "mainline-2026", mapped_by_swapoff_with_gup)


def test_remember_exclusive_before_1493a1913e34_loses_the_dma_too():
    r = run("swapoff-gup-exclusive", "1493a1913e34^")
    assert r.verdict == VIOLATED
    assert "writer.wp.copy_pte" in labels(trace_steps(r))


# -- 2. MADV_DONTNEED (PTL only) vs swapoff's unuse_pte() --------------------------------------------

def test_no_recheck_maps_the_zapped_page_back():
    r = run("swapoff-vs-dontneed", "seeded-no-recheck")
    assert r.verdict == VIOLATED and r.invariant == "zapped_pte_stays_zapped"
    tr = trace_steps(r)
    assert labels(tr) == ["swapoff.unuse_pte_range", "swapoff.lookup", "swapoff.lock", "dontneed.zap",
                          "swapoff.unuse_pte", "swapoff.set_pte"]
    last = r.states_in_trace[-1]
    assert last.zapped and last.pte.kind == "present"
    assert last.swap_put_of_free_entry, "the zap's swap count dropped a second time"


def test_recheck_backs_off_after_the_zap():
    assert run("swapoff-vs-dontneed", "mainline-2026").verdict == HOLDS

    def backed_off(cm, s):
        return s.zapped and s.pte.kind == "none" and s.swapoff_page != NO_FOLIO and s.ptl == 0

    assert reachable("swapoff-vs-dontneed", "mainline-2026", backed_off)


def test_ptl_only_writer_kills_unuse_pte_mutants():
    """The mutants swapoff-bits must declare equivalent (its other PTE writers take the folio lock)
    are killed here by the zap, which holds only the PTL."""
    (rep,) = mut.mutate_scenarios([load_scenarios()["swapoff-vs-dontneed"]])
    by = {m.id: m for m in rep.mutants}
    for mid in ("swapoff.unuse_pte:drop-lock:ptl", "swapoff.unuse_pte:swap-next", "dontneed.zap:drop-guard"):
        assert by[mid].status == mut.KILLED and by[mid].how == "zapped_pte_stays_zapped", (mid, by[mid].how)
    assert not [m for m in rep.mutants if m.status == mut.SURVIVED]


# -- 3. a store through a stale TLB entry after reclaim deferred its flush ---------------------------

def test_no_flush_dirty_lets_a_stale_store_land_after_pageout():
    r = run("reclaim-deferred-flush", "seeded-no-flush-dirty")
    assert r.verdict == VIOLATED and r.invariant == "no_lost_write"
    tr = trace_steps(r)
    clear = first(tr, "reclaim", "unmap.clear", where=lambda c: c.get("reclaim_tlb_ubc_writable") == (False, True))
    write = first(tr, "reclaim", "swap_writepage", clear)
    store = first(tr, "writer", "access", write)
    freed = first(tr, "reclaim", "remove", store)
    assert tr[freed].changes.get("tlb") == ("A:dirty", "-"), "try_to_unmap_flush() only at free_it: too late"
    before = r.states_in_trace[store]
    assert before.tlb == "A:dirty" and before.pte.kind == "swap", "the store went through the stale entry"


def test_flush_dirty_ends_the_stale_entry_before_pageout():
    """mainline: a store through the stale entry after the PTE was cleared is reached, and the
    entry is gone before swap_writepage() takes the data."""
    assert run("reclaim-deferred-flush", "mainline-2026").verdict == HOLDS

    def stored_through_stale_entry(cm, s):
        return s.tlb == "A:dirty" and s.pte.kind == "swap" and s.cpu_stored

    def stale_under_writeback(cm, s):
        mapped = s.pte.kind == "present" and s.pte.folio == "A"
        return s.tlb == "A:dirty" and not mapped and s.A_writeback

    assert reachable("reclaim-deferred-flush", "mainline-2026", stored_through_stale_entry)
    assert not reachable("reclaim-deferred-flush", "mainline-2026", stale_under_writeback)
    assert reachable("reclaim-deferred-flush", "seeded-no-flush-dirty", stale_under_writeback)


def test_72b252aed506_flushes_a_dirty_pte_at_once():
    def deferred_dirty(cm, s):
        return s.tlb == "A:dirty" and s.pte.kind != "present"

    assert not reachable("reclaim-deferred-flush", "72b252aed506", deferred_dirty)
    assert not reachable("reclaim-deferred-flush", "72b252aed506^", deferred_dirty)
    assert reachable("reclaim-deferred-flush", "d950c9477d51", deferred_dirty)


def test_dontneed_without_flush_batched_pending_stores_through_the_stale_entry():
    r = run("dontneed-deferred-flush", "3ea277194daa^")
    assert r.verdict == VIOLATED and r.invariant == "store_after_dontneed_on_zero_page"
    tr = trace_steps(r)
    clear = first(tr, "reclaim", "unmap.clear")
    zap = first(tr, "user", "zap", clear)
    store = first(tr, "user", "store", zap)
    assert r.states_in_trace[store].tlb == "A:dirty", "the store after madvise() used the stale entry"
    assert "user.store.fault" not in labels(tr), "it never faulted in a new page"
    last = r.states_in_trace[-1]
    assert last.pte.kind == "none" and last.last_written == "old+cpu"
    assert r.kind == "final"


def test_zap_flushes_the_batched_flush_pending():
    assert run("dontneed-deferred-flush", "mainline-2026").verdict == HOLDS

    def zapped_after_deferred_flush(cm, s):
        return s.pte.kind == "none" and s.tlb == "-" and not s.tlb_flush_batched and s.reclaim_tlb_ubc_flush_required

    assert reachable("dontneed-deferred-flush", "mainline-2026", zapped_after_deferred_flush)
