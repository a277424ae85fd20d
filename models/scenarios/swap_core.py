"""Scenarios of the 2026 swap core (linux-mm 2026 tree): the swap table's count and its overflow, and
UFFDIO_MOVE of a swap PTE against the swap cache.

* `swap_count_overflow`: fork's copy_nonpresent_pte() duplicating a swap entry whose count sits at
  SWP_TB_COUNT_MAX - 1 (swap_dup_entry_direct() -> swap_dup_entries_cluster()) while a zap of another
  PTE holding the same entry puts one reference (swap_put_entries_direct()). The dup drops ci->lock to
  allocate ci->extend_table; the put lowers the count meanwhile. In linux-mm @849929c21817 (knob
  swap.extend_table=leaky) the allocation installs the table anyway, the retry takes the normal path
  and the zeroed table stays attached: only the failure path freed it (David Carlier's message,
  syzbot deedf22929084640666f; a cluster freed with it WARNs in swap_cluster_assert_empty() and
  leaks it). The newer linux-mm tree (@000bd100acdb, "mm, swap: avoid leaving unused extend table
  after alloc race"; knob value recheck, the default) re-checks the count under ci->lock before
  installing the table and frees it from __swap_cluster_put_entry() when a put leaves the count at
  SWP_TB_COUNT_MAX - 2 or - 1, so a table installed just before the put goes too.

* `uffd_move_swapcache`: UFFDIO_MOVE of an exclusive swap PTE while the page's own task faults it in
  and MADV_PAGEOUT swaps it out again with the same entry, the folio staying in the swap cache (the
  second race of 0ea148a79919's message: the lookup found no folio, the PTE check passes because the
  entry is the same, the swap PTE is moved without its folio, whose anon rmap stays with the source).

The swap-count invariants state what swap_cluster_assert_empty() (CONFIG_DEBUG_VM) and the fix's message require:
an empty cluster carries no extend table, and when every thread is done an allocated extend table
holds an overflowed count.
"""

from __future__ import annotations

from pteverify.model import Knob, KnobError, Model, builder

from pteverify.model import DONE

from ..invariants import (final_address_reads, final_nothing_leaked, final_store_after_dontneed_on_zero_page,
                          final_writeback_ends, inv_no_lost_write, inv_shmem_add_to_page_cache_locked,
                          inv_swap_pte_page_not_exclusive,
                          inv_writable_pte_maps_exclusive_page, progress_every_thread_finishes)
from ..memory import emit_fault_handlers, emit_zap
from ..mm import (MM, NO_DATA, NO_FOLIO, NO_MEMCG, ORIGINAL, SWAPIN_CHARGE_FORMS, Kernel, KernelII, Lazy, LazyMM,
                  SwapCluster, child_view, pte_present, pte_swap, subpage_view, written)
from ..shmem import SHMEM_LARGE_FORMS, emit_shmem_get_folio, emit_shmem_writeout_large
from ..swap_state import emit_swap_readahead_s0
from ..user import emit_access_tlb
from .lazyfree import K_ALLOC_ANON
from ..zswap import ZSWAP_WRITEBACK_FORMS, add_zswap_entry, emit_zswap_writeback_entry
from ..swapfile import (EXTEND_TABLE_FORMS, SWAPOFF_DEVICE_FORMS, SwapDevice, emit_folio_alloc_swap,
                        emit_swap_dup_entry_direct, emit_swap_put_entries_direct, emit_swapoff)
from ..user import emit_access
from ..gup import emit_gup_fast
from ..userfaultfd import MOVE_PRESENT_FORMS, MOVE_SWAP_FORMS, emit_move_present_pte, emit_move_swap_pte
from ..madvise import emit_madvise_pageout
from .anon_exclusive import K_MAP_WRITABLE, K_PREPARE, K_SWAP_TABLE, K_SYNC, _exclusive_invariants, _kernel
from .anon_exclusive_ii import ARCHES, K_ARCH as K_GUP_ARCH

K_EXTEND_TABLE = Knob("swap.extend_table", "recheck",
                      "the extend table across swap_dup_entries_cluster()'s ci->lock drop: leaky (linux-mm "
                      "mm/swapfile.c @849929c21817: the allocation installs a table whenever none is there), "
                      "posted-fix (leaky + swap_extend_table_try_free() on the dup's success path and "
                      "kfree(ci->extend_table) in swap_cluster_free_table(), David Carlier's patch, dropped), "
                      "recheck (linux-mm @000bd100acdb: swap_extend_table_alloc() re-checks the count under "
                      "ci->lock, __swap_cluster_put_entry() frees the table at SWP_TB_COUNT_MAX - 2 / - 1)",
                      domain=EXTEND_TABLE_FORMS)
K_COUNT_SETUP = Knob("swap_count.setup", "zap",
                     "who else holds the entry, whose count is SWP_TB_COUNT_MAX - 1: zap (a zap of another "
                     "PTE holding it runs beside fork) or alone (thread zap0 does nothing: fork must "
                     "allocate the extend table itself)", domain=("zap", "alone"))


@builder(K_EXTEND_TABLE, K_COUNT_SETUP)
def swap_count_overflow(knobs) -> Model:
    """fork duplicating a swap entry at SWP_TB_COUNT_MAX - 1 vs zaps putting references."""
    form = knobs["swap.extend_table"]
    m = Model("swap-count-overflow", "fork vs zap across the extend_table allocation that drops ci->lock",
              knobs)
    setup = knobs["swap_count.setup"]
    # SWP_TB_COUNT_MAX - 1 references: the parent's PTE (which fork copies) and the other PTEs
    start = 2
    sc = SwapCluster(m, count=start, max=3, teardown_frees_extend=form == "posted-fix")
    fork = m.thread("fork", "fork(): copy_nonpresent_pte() on the parent's swap PTE")
    emit_swap_dup_entry_direct(fork, sc, form=form)
    zap = setup == "zap"
    z = m.thread("zap0", "munmap()/exit of another PTE holding the entry: zap_nonpresent_ptes()"
                 if zap else "no zap: the thread does nothing")
    if zap:
        emit_swap_put_entries_direct(z, sc, form=form)

    m.invariant("empty_cluster_has_no_extend_table",
                lambda s: not getattr(s, sc.freed_with_extend), [sc.freed_with_extend],
                "a cluster whose slots are all freed has no ci->extend_table attached "
                "(swap_cluster_assert_empty(): WARN_ON_ONCE(nr == SWAPFILE_CLUSTER && ci->extend_table))")
    m.final("extend_table_freed_when_unused",
            lambda s: not getattr(s, sc.extend) or getattr(s, sc.extend_cnt) > 0, [sc.extend, sc.extend_cnt],
            "once no slot's count overflows, ci->extend_table is freed (swap_extend_table_try_free()); a "
            "zeroed table left attached is inherited by the cluster's next user")
    top = sc.max

    def references(s):
        count = getattr(s, sc.count)
        return getattr(s, sc.extend_cnt) if count == top else count

    # fork added one reference (the child's swap PTE), the zap dropped one
    want = start + 1 - zap
    m.final("swap_count_matches_references", lambda s: references(s) == want,
            [sc.count, sc.extend_cnt],
            "once fork and the zap are done the slot's swap count (the extend table's when the inline "
            "count is SWP_TB_COUNT_MAX) is its PTEs': the starting ones, plus the child's, minus the zapped")
    m.eventually_finishes("fork_dup_ends", "fork",
                          "swap_dup_entries_cluster() ends: after -ENOMEM at SWP_TB_COUNT_MAX - 1 the extend "
                          "table is allocated (or found) and the restart succeeds")
    return m


K_MOVE_FORM = Knob("uffd.move_swap_pte", "mainline-2026",
                   "UFFDIO_MOVE of a swap PTE: adef440691ba (no swap cache handling), c50f8e6053b0 (the swap "
                   "cache folio moved along, lockless lookup), 0ea148a79919 (re-checked after the folio "
                   "lock and under the PTLs), mainline-2026 (swap_cache_has_folio())", domain=MOVE_SWAP_FORMS)


@builder(K_MOVE_FORM, K_SWAP_TABLE, K_MAP_WRITABLE)
def uffd_move_swapcache(knobs) -> Model:
    """UFFDIO_MOVE of a swap PTE vs a swap-in and a swap-out reusing the entry."""
    form = knobs["uffd.move_swap_pte"]
    k = Kernel(synchronous_io=False, swap_table=knobs["swap.table"],
               swapin_map_writable=knobs["swap_in.map_exclusive_writable"])
    m = Model("uffd-move-swapcache", "UFFDIO_MOVE of a swap PTE vs swap-in and swap-out of its entry", knobs)
    src = MM(m, folios=("A", "B"))
    src.vma = "src"
    src.add_pte(pte_swap(exclusive=True))
    src.add_folios()
    src.add_swap_slot(count=1, data=ORIGINAL)
    src.add_folio_flag("avma", "-", ("-", "src", "dst"),
                       "the VMA its anon rmap belongs to (folio->mapping, folio->index)")
    dst = child_view(src, pte="dst_pte", ptl="dst_ptl", what="UFFDIO_MOVE's destination:")
    dst.vma = "dst"

    mover = src.thread("mover", "the uffd monitor: ioctl(UFFDIO_MOVE) of the page to the destination")
    emit_move_swap_pte(mover, src, dst, form=form)

    user = src.thread("user", "a thread touching the source page, then madvise(MADV_PAGEOUT) on it")
    emit_access(user, k, "load", cont="isolate", on_none=DONE)
    emit_madvise_pageout(user, k, ref="mm/madvise.c:madvise_cold_or_pageout_pte_range: folio_isolate_lru() "
                         "[the folio mapped at the address; then reclaim_pages()]")
    emit_fault_handlers(user, k)

    views = (src, dst)

    def ok(s):
        cache = getattr(s, src.swp_cache)
        if cache == NO_FOLIO:
            return True
        owner = getattr(s, src.f["avma"][cache])
        return all(not (getattr(s, v.pte).is_swap and getattr(s, v.pte).slot == src.slot)
                   or owner in ("-", v.vma) for v in views)

    m.invariant("swapcache_folio_rmap_matches_pte", ok, [src.pte, dst.pte, src.swp_cache] + src.ff("avma"),
                "the swap cache folio of a swap PTE's entry belongs to that PTE's VMA: a fault there maps it "
                "with folio_add_anon_rmap_ptes(), whose __folio_check_anon_rmap() requires "
                "page_pgoff(folio, page) == linear_page_index(vma, address) and the VMA's anon_vma (the "
                "BUG_ON of c50f8e6053b0, the rss-counter corruption of 0ea148a79919)")
    inv_writable_pte_maps_exclusive_page(src)
    inv_swap_pte_page_not_exclusive(src, [src, dst])
    result = "mover_move_result"
    m.final("move_enoent_only_for_a_hole",
            lambda s: getattr(s, result) != "-ENOENT" or getattr(s, src.pte).kind == "none",
            [result, src.pte],
            "UFFDIO_MOVE fails with -ENOENT only on a source hole (move_pages_ptes() reads orig_src_pte "
            "under spin_lock(src_ptl)); no thread here zaps the source or fills a hole again, so a "
            "-ENOENT while the source still maps the page is a PTE read in a PTL-held window "
            "(try_to_unmap_one()'s ptep_clear_flush() before the swap PTE is set)")
    m.final("move_returned", lambda s: getattr(s, result) != "-", [result],
            "the UFFDIO_MOVE ioctl returned (moved, or the error for what it found) once its thread finished")
    final_nothing_leaked(src, ptes=[src.pte, dst.pte])
    return m


K_MOVE_PRESENT = Knob("uffd.move_present_pte", "mainline-2026",
                      "UFFDIO_MOVE of a present PTE: v6.17 (folio_maybe_dma_pinned() before and after "
                      "ptep_clear_flush()), mainline-2026 (the batched move_present_ptes(): after "
                      "ptep_get_and_clear(), the TLB flushed once after the loop) or seeded-no-recheck "
                      "(a seeded mutation without the second test)", domain=MOVE_PRESENT_FORMS)


K_MOVE_MB = Knob("uffd.move_mb_before_recheck", False,
                 "what-if: an smp_mb() between ptep_get_and_clear() and the second folio_maybe_dma_pinned() "
                 "of the batched move (not in the 2026 tree; matters only under a weak memory model)")


K_MOVE_BATCH = Knob("uffd.move_batch", 1,
                    "small folios moved by one move_present_ptes() call: 1 (the first iteration: the folio "
                    "move_pages_ptes() locked, referenced and tested) or 2 (then the next PTE's folio, admitted "
                    "by check_ptes_for_batched_move() alone, with GUP-fast pinning that second folio)",
                    domain=(1, 2))


@builder(K_MOVE_PRESENT, K_GUP_ARCH, K_MOVE_MB, K_MOVE_BATCH)
def uffd_move_batch_pin(knobs) -> Model:
    """UFFDIO_MOVE of a present exclusive page vs pin_user_pages_fast() through the source address; with
    uffd.move_batch = 2, a batch of two small folios A and B (consecutive PTEs) with the pin on B."""
    k = Kernel(synchronous_io=False)
    kf = KernelII(**dict(zip(("tlb_flush_ipi", "ordered_atomics"), ARCHES[knobs["arch"]])))
    batch = knobs["uffd.move_batch"]
    form = knobs["uffd.move_present_pte"]
    if batch > 1 and form == "v6.17":
        raise KnobError("knob uffd.move_batch: v6.17's move_present_pte() moves one PTE per call (batch 1)")
    if batch == 1 and form == "seeded-batch-no-recheck":
        raise KnobError("knob uffd.move_present_pte: seeded-batch-no-recheck seeds the later iterations "
                        "(needs uffd.move_batch = 2)")
    m = Model("uffd-move-batch-pin", "UFFDIO_MOVE's ptep_get_and_clear() then folio_maybe_dma_pinned() vs "
              "a FOLL_PIN GUP-fast", knobs)
    folios = ("A", "B")[:batch]
    # batch 2: two small folios mapped by consecutive PTEs of one page table (a range of nr = 2 PTEs;
    # B's PG_anon_exclusive is the flag of page 1 of the range, see MM._add_large_folio_flags)
    src = MM(m, folios=folios, nr=batch)
    src.vma = "src"
    if batch == 1:
        src.add_pte(pte_present("A", write=True, dirty=True))
        src.add_folios(A={"ref": 2, "map": 1, "excl": True, "swapbacked": True, "uptodate": True,
                          "data": ORIGINAL})
    else:
        src.add_ptes([pte_present("A", write=True, dirty=True), pte_present("B", write=True, dirty=True)])
        # A: the mapping's reference and move_pages_ptes()' folio_get(); B: the mapping's only
        src.add_folios(A={"ref": 2, "map": 1, "excl": True, "swapbacked": True, "uptodate": True,
                          "data": ORIGINAL},
                       B={"ref": 1, "map": 1, "excl1": True, "swapbacked": True, "uptodate": True,
                          "data": ORIGINAL})
    src.add_swap_slot()
    dst = child_view(src, pte="dst_pte", ptl="dst_ptl", what="UFFDIO_MOVE's destination:")
    dst.vma = "dst"

    mover = src.thread("mover", "the uffd monitor: ioctl(UFFDIO_MOVE), the source folio locked and "
                       "referenced by move_pages_ptes()" + (" (A; B only as check_ptes_for_batched_move() "
                                                            "admits it)" if batch > 1 else ""))
    emit_move_present_pte(mover, src, dst, kf, form=form, mb_before_recheck=knobs["uffd.move_mb_before_recheck"],
                          batch=batch)
    pinned = src if batch == 1 else subpage_view(src, 1)     # the folio GUP-fast pins: A, or B in the batch
    gup = pinned.thread("gup_fast", "a thread of the process: pin_user_pages_fast(FOLL_PIN|FOLL_WRITE) of the "
                        "source address" + (" of the second folio (B)" if batch > 1 else ""))
    held = emit_gup_fast(gup, kf, write=True)

    def not_moved(s):
        fid = getattr(s, held)
        return fid == NO_FOLIO or not any(getattr(s, p).present and getattr(s, p).folio == fid
                                          for p in dst.ptes)

    m.invariant("pinned_page_not_moved", not_moved, [held] + dst.ptes,
                "UFFDIO_MOVE never moves a page pinned through the source address (move_present_ptes(): "
                "folio_maybe_dma_pinned() -> -EBUSY): the DMA into the pin would land in a page the source "
                "no longer maps")

    own_ref = {"A": 1, "B": 0}          # move_pages_ptes()' folio_get() of A; none for B (under the PTL)
    ptes = src.ptes + dst.ptes

    def accounted(s):
        for fid in folios:
            mapped = sum(1 for p in ptes if getattr(s, p).present and getattr(s, p).folio == fid)
            pinned_ = 1 if getattr(s, held) == fid else 0
            if not (getattr(s, src.f["map"][fid]) == mapped
                    and getattr(s, src.f["ref"][fid]) == mapped + own_ref[fid] + pinned_
                    and getattr(s, src.f["pin"][fid]) == pinned_):
                return False
        return True

    m.final("nothing_leaked", accounted, ptes + [held] + src.ff("map", "ref", "pin"),
            "once both are done each folio's mapcount is the PTEs mapping it, its references are those "
            "mappings', move_pages_ptes()' own (folio_get() of the first folio before the move, dropped after "
            "the modelled steps; check_ptes_for_batched_move() takes none) and the pin's, and its pin count is "
            "the pin GUP-fast returned: a PTE moved and lost, or a pin GUP-fast took and did not drop when it "
            "backed off, leaks (the folio lock check_ptes_for_batched_move() takes: the generic locks_released)")
    progress_every_thread_finishes(m)
    return m


K_CHARGE = Knob("swap_in.charge", "mainline-2026",
                "when the swap-in folio is charged to the memcg recorded for its entry: 9acbe135588e "
                "(mem_cgroup_swapin_charge_folio() before swap_cache_add_folio()), 2732acda82c9 (after it), "
                "mainline-2026 (__swap_cache_alloc(): added under ci->lock with the entry's memcg id, then "
                "charged), at-alloc (with the allocation: the forms before the swap table)",
                domain=SWAPIN_CHARGE_FORMS)


@builder(K_CHARGE, K_SWAP_TABLE, K_MAP_WRITABLE, K_SYNC, K_PREPARE, K_ALLOC_ANON)
def swap_entry_aba(knobs) -> Model:
    """A swap-in validating pte_same() against an entry that was freed and reused meanwhile."""
    k = _kernel(knobs, swapin_charge=knobs["swap_in.charge"])
    m = Model("swap-entry-aba", "a fault validates pte_same() against a swap entry freed and reused", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_swap(exclusive=True, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    mm.add_memcg(("memcg0", "memcg1"), owner="memcg0", record="memcg0")
    cpu_done = mm.ghost("cpu_stored", False, "the process's store to its fresh page completed")

    t0 = mm.thread("fault0", "a thread of the process (in memcg0) loads from the swapped-out page")
    emit_access(t0, k, "load", on_none=DONE)
    emit_fault_handlers(t0, k)

    user = mm.thread("user", "the process is moved to memcg1, drops the page with MADV_DONTNEED, stores "
                     "to the address again (a fresh page charged to memcg1) and swaps it out with "
                     "MADV_PAGEOUT, reusing the free slot")
    user.step("migrate", "kernel/cgroup/cgroup.c:cgroup_procs_write(): the process moves to memcg1 "
              "[get_mem_cgroup_from_mm() now returns memcg1; existing charges stay]",
              effect=lambda s: {mm.memcg: "memcg1"}, writes=[mm.memcg])
    emit_zap(user, cont="store")
    emit_access_tlb(user, LazyMM(mm, Lazy(alloc_anon_folio=knobs["fault.alloc_anon_folio"])), "store", done=cpu_done, label="store", cont="isolate")
    emit_madvise_pageout(user, k, ref="mm/madvise.c:madvise_cold_or_pageout_pte_range: folio_isolate_lru() "
                         "[the folio mapped at the address; then mm/vmscan.c:reclaim_pages()]")

    def charged_to_owner(s):
        cache = getattr(s, mm.swp_cache)
        if cache == NO_FOLIO:
            return True
        memcg = getattr(s, mm.f["memcg"][cache])
        return memcg == NO_MEMCG or memcg == getattr(s, mm.swp_memcg)

    m.invariant("swapin_charged_to_entry_owner", charged_to_owner,
                [mm.swp_cache, mm.swp_memcg] + mm.ff("memcg"),
                "a charged swap cache folio is charged to the memcg the entry's swap_cgroup records "
                "(mem_cgroup_swapin_charge_folio(folio, ..., entry) charges the owner of the swapped-out "
                "page; a folio charged before it pinned the slot can carry the charge of the entry's "
                "previous life: Kairui Song, \"mm, swap: fix potential race of charging into the wrong "
                "memcg\", 2026)")
    m.invariant("mapped_folio_charged",
                lambda s: all(getattr(s, mm.f["map"][f]) == 0 or getattr(s, mm.f["memcg"][f]) != NO_MEMCG
                              for f in mm.folios),
                mm.ff("map", "memcg"),
                "every mapped anonymous folio is charged to a memcg (do_anonymous_page() and the swap-in "
                "charge before mapping; an uncharged folio escapes the cgroup's limit)")
    inv_no_lost_write(mm, {"cpu": cpu_done})
    _exclusive_invariants(mm, k)
    final_store_after_dontneed_on_zero_page(mm)
    final_writeback_ends(mm)
    final_nothing_leaked(mm)
    return m


K_ZSWAP_WB = Knob("zswap.writeback", "mainline-2026",
                  "zswap_writeback_entry()'s folio after the write: v6.17 (folio_set_reclaim(), the folio "
                  "stays in the swap cache), mainline-2026 (dropbehind: swap_writeback_dropbehind_folio() "
                  "with its folio_test_swapcache() gate) or seeded-no-swapcache-gate (the 2026 drop "
                  "without that test)", domain=ZSWAP_WRITEBACK_FORMS)


@builder(K_ZSWAP_WB)
def zswap_writeback_swapin(knobs) -> Model:
    """zswap writeback of a slot and its dropbehind completion vs a write fault swapping the page in."""
    form = knobs["zswap.writeback"]
    st = form != "v6.17"
    k = Kernel(synchronous_io=False, swap_table=st, swapin_map_writable=st)
    m = Model("zswap-writeback-swapin", "zswap writeback's dropbehind completion vs a swap-in taking "
              "the folio", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap(exclusive=True))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    add_zswap_entry(mm)
    bug = mm.ghost("remove_mapping_bug", False, "__remove_mapping() ran on a folio outside the mapping "
                   "it removes it from")
    cpu_done = mm.ghost("cpu_stored", False, "the process's store completed")

    wb = mm.thread("zswap", "the zswap shrinker writes the slot's entry back (shrink_memcg_cb() -> "
                   "zswap_writeback_entry()), then the write completes")
    emit_zswap_writeback_entry(wb, form=form, bug=bug)
    fault = mm.thread("fault", "a thread of the process stores to the page")
    emit_access(fault, k, "store", "cpu", cpu_done)
    emit_fault_handlers(fault, k)

    m.invariant("remove_mapping_on_swapcache_folio", lambda s: not getattr(s, bug), [bug],
                "__remove_mapping() runs only on a folio in the mapping it removes it from "
                "(BUG_ON(mapping != folio_mapping(folio)) in mm/vmscan.c): the dropbehind completion "
                "never removes a folio a swap-in already took out of the swap cache")
    inv_no_lost_write(mm, {"cpu": cpu_done})
    _exclusive_invariants(mm, k)
    final_address_reads(mm, written(ORIGINAL, "cpu"), name="store_lands_on_old_contents",
                        doc="once every task is done the address reads the page's old contents with the "
                        "store on top: zswap writeback moves the contents to the device (decompressed "
                        "into an uptodate folio first) and the swap-in brings them back, neither loses "
                        "them nor fails the fault")
    final_writeback_ends(mm)
    final_nothing_leaked(mm)
    return m


K_DEVICE_FORM = Knob("swapoff.device_form", "mainline-2026",
                     "how the zap and the slot allocation keep swapoff from freeing the device under them: "
                     "v6.8 (free_swap_and_cache() without get_swap_device(), CVE-2024-26960), 82b1c07a0af6 "
                     "(get_swap_device() around it), 5f843a9a3a1e (v6.11 cluster allocation without "
                     "SWP_SCANNING and SWP_WRITEOK), 0ec8bc9e880e (both back), mainline-2026 (percpu ref and "
                     "SWP_WRITEOK under ci->lock, swap_put_entries_direct())", domain=SWAPOFF_DEVICE_FORMS)


K_SWAPOFF_ZAP = Knob("swapoff.zap_races", True,
                     "a zap of the swap PTE runs beside swapoff (false: thread zap does nothing, so "
                     "try_to_unuse() must unuse the swap PTE itself)")


@builder(K_DEVICE_FORM, K_SWAPOFF_ZAP)
def swapoff_vs_alloc(knobs) -> Model:
    """swapoff(2) vs a zap freeing a cached swap entry and vs slot allocation."""
    form = knobs["swapoff.device_form"]
    m = Model("swapoff-vs-alloc", "swapoff vs slot allocation and a zap of a swap entry", knobs)
    # two slots of the device: slot 0 the swap PTE's entry, its folio A in the swap cache; slot 1 free
    # until reclaim's folio B (isolated, dirty) gets it
    mm = MM(m, folios=("A", "B"), nr=2)
    mm.add_pte(pte_swap(mm.slot))
    mm.add_folios(A={"ref": 1, "swapcache": True, "swapbacked": True, "uptodate": True, "data": ORIGINAL},
                  B={"ref": 1, "swapbacked": True, "uptodate": True, "dirty": True, "data": ORIGINAL})
    mm.add_swap_slots(counts=[1, 0], data=[ORIGINAL, NO_DATA], caches=["A", NO_FOLIO])
    dev = SwapDevice(mm)
    emit_swapoff(m.thread("swapoff", "swapoff(2) of the device"), dev, form=form)
    zap = m.thread("zap", "munmap()/exit of a swap PTE whose folio is in the swap cache: zap_pte_range()"
                   if knobs["swapoff.zap_races"] else "no zap: the thread does nothing")
    if knobs["swapoff.zap_races"]:
        emit_zap(zap, device=dev, device_form=form)
    emit_folio_alloc_swap(m.thread("alloc", "reclaim allocating a swap slot for another folio "
                                   "(shrink_folio_list() -> folio_alloc_swap())"), dev, form=form)

    m.invariant("no_use_after_swapoff", lambda s: not getattr(s, dev.uaf), [dev.uaf],
                "no path reads or writes the device's swap map or cluster info after swapoff freed them "
                "(the KASAN use-after-free of CVE-2024-26960; \"ignored SWP_SCANNING and SWP_WRITEOK\", "
                "0ec8bc9e880e)")
    m.invariant("swapoff_frees_an_unused_device",
                lambda s: not getattr(s, dev.freed) or not any(dev.in_use(s, {}, k) for k in (0, 1)),
                [dev.freed] + dev.slot[0] + dev.slot[1],
                "when swapoff frees the device no slot is in use: no swap entry or swap-cache folio is left "
                "referring to a swap device that no longer exists")
    m.final("swapoff_freed_the_device", lambda s: getattr(s, dev.freed), [dev.freed],
            "swapoff returns having freed the swap map and cluster info")
    return m


K_SHMEM_LARGE = Knob("shmem.swapin_large", "mainline-2026",
                     "shmem_swapin_folio() against a large swap entry: 809bc86517cc (large swap-out, no "
                     "order check), 058313515d5a (split on an order mismatch, xa_get_order() == "
                     "folio_order() required under the folio lock), v6.17 (\"mm/shmem, swap: improve cached "
                     "mTHP handling and fix potential hang\": a larger cached folio accepted, the whole range "
                     "checked on insertion), mainline-2026 (the same over swapin_sync())",
                     domain=SHMEM_LARGE_FORMS)


K_SHMEM_OTHER = Knob("shmem.other_swapin", "order-1",
                     "the other task's fault on index 1: order-1 (its large allocation succeeds), "
                     "order-0 (it fails too: both tasks swap order-0 folios in over the large entry) or "
                     "none (no fault there: the fault on index 0 alone must split the entry)",
                     domain=("order-1", "order-0", "none"))


@builder(K_SHMEM_LARGE, K_SHMEM_OTHER)
def shmem_large_swap_entry(knobs) -> Model:
    """A shmem large swap entry vs an order-0 readahead folio and a racing swap-in, swap-out and split."""
    form = knobs["shmem.swapin_large"]
    m = Model("shmem-large-swap-entry", "shmem large swap entry vs an order-0 readahead folio and a split",
              knobs)
    # indices 0 and 1 of a tmpfs file swapped out as one order-1 folio: a range of two slots holding
    # pages p0 and p1, one large swap entry over both indices
    mm = MM(m, folios=("A", "B", "C"), nr=2)
    mm.add_folios()
    mm.add_swap_slots(counts=[1, 1], data=["p0", "p1"])
    sh = mm.add_shmem_mapping([mm.slots[0], mm.slots[0]], order=1)
    fault = mm.thread("fault", "a task faults on index 0 of the tmpfs file (its large allocation fails)")
    got = [emit_shmem_get_folio(fault, sh, form=form, index=0, large_ok=False)]
    other = mm.thread("other", "another task faults on index 1 (an order-1 swap-in), then reclaim swaps "
                      "the large folio out again (shmem_writeout())")
    if knobs["shmem.other_swapin"] != "none":
        got.append(emit_shmem_get_folio(other, sh, form=form, index=1,
                                        large_ok=knobs["shmem.other_swapin"] == "order-1", cont="writeout"))
    emit_shmem_writeout_large(other, sh)
    ra = mm.thread("readahead", "swap readahead around another fault reads slot 0 into an order-0 folio")
    emit_swap_readahead_s0(ra)
    counts = [fs[0] for fs in mm.slot_f]
    caches = [fs[2] for fs in mm.slot_f]

    m.invariant("shmem_index_reads_its_page",
                lambda s: all(sh.content(s, i) in (None, f"p{i}") for i in (0, 1)),
                sh.fields() + mm.all_folio(),
                "every index of the file resolves to its own page: a folio in the page cache at index i "
                "holds page i (an order-0 folio stored over a large entry would serve index 1 with page 0: "
                "the data corruption of 058313515d5a)")
    m.invariant("shmem_fault_returns_its_page",
                lambda s: all(getattr(s, g) in ("-", f"p{i}") for g, i in got),
                [g for g, _ in got],
                "a fault on index i returns page i (shmem_get_folio_gfp()'s folio covers the index)")
    inv_shmem_add_to_page_cache_locked(mm)
    m.invariant("shmem_swap_count_matches_mapping",
                lambda s: all(bool(getattr(s, counts[k])) == sh.referenced(s, k) for k in (0, 1)),
                sh.fields() + counts,
                "a slot is in use exactly while the mapping holds its swap entry (its own, or the large "
                "entry over both): a swap-in frees the slots it consumed, a swap-out takes them")
    m.final("shmem_faults_got_a_page",
            lambda s: all(getattr(s, g) != "-" for g, _ in got),
            [g for g, _ in got], "every fault ends with the page of its index")

    def refs_accounted(s):
        for f in mm.folios:
            nr = getattr(s, mm.f["nr"][f])
            held = nr * int(f in (getattr(s, sh.xa[0]), getattr(s, sh.xa[1])))
            held += nr * int(f in (getattr(s, caches[0]), getattr(s, caches[1])))
            if getattr(s, mm.f["ref"][f]) != held:
                return False
        return True

    m.final("shmem_folio_references_accounted", refs_accounted, sh.fields() + caches + mm.all_folio(),
            "once every task is done each folio's references are the page cache's and the swap cache's "
            "(folio_nr_pages() each)")
    return m
