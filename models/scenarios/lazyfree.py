"""Scenario builders for issue "Lazyfree reclaim and MAP_DROPPABLE" (specs/scenarios/<name>.toml).

* `droppable_reclaim`: a written MAP_DROPPABLE page through MGLRU aging and eviction while the
  program stores and loads; the "dirty lazyfree" block of sort_folio() (v6.1..v6.10, still in the
  MAP_DROPPABLE series' v22) makes the droppable folio swap-backed.
* `droppable_ksm`: MADV_MERGEABLE on a droppable mapping and ksmd merging its page into a KSM page.
* `droppable_uffd_move`: UFFDIO_REGISTER on a droppable range and UFFDIO_MOVE of a normal anonymous
  page into it, against a thread faulting on the range.
* `droppable_fork`: fork of a droppable mapping (VM_WIPEONFORK), MADV_KEEPONFORK, the child's faults.
* `lazyfree_redirty`: two threads call MADV_FREE on the page, one then writes it, reclaim runs: the
  TLB-flush miss fixed by 99baac21e458.
* `lazyfree_gup`: a direct-I/O read (GUP-fast FOLL_GET) into a lazyfree page against reclaim: the race
  fixed by 6c8e2a256915, and the extra reference that made a clean lazyfree folio swap-backed until
  Barry Song's "set folio swapbacked iff folios are dirty".
"""

from __future__ import annotations

from pteverify.model import Knob, Model, builder

from ..fork import emit_dup_mmap
from ..gup import emit_dio_read
from ..invariants import (inv_batched_pte_change_has_flush_pending, inv_cleared_pte_stays_none_under_ptl,
    final_dropped_under_pressure, final_last_store_visible, final_load_read,
    final_dma_visible, final_nothing_leaked, inv_clean_lazyfree_not_swapbacked,
    inv_droppable_never_swapbacked, inv_droppable_never_swapped, inv_gup_page_is_mapped_page,
    inv_read_sees_last_write_or_zero, inv_referenced_folio_not_discarded, inv_write_after_madv_free_kept)
from ..ksm import emit_ksm_madvise, emit_ksmd
from ..madvise import emit_keeponfork, emit_madvise_free
from ..mm import MM, NO_FOLIO, ORIGINAL, PTE_NONE, SORT_FOLIO_FORMS, ZERO, Lazy, LazyMM, pte_present
from ..user import emit_access_tlb
from ..userfaultfd import UFFD_CHECKS, emit_uffd_monitor
from ..vmscan import emit_reclaim


# Knobs shared by the scenario builders (below)
K_SORT_FOLIO = Knob("mglru.sort_folio", "newest",
                    "the form of mm/vmscan.c:sort_folio(): v6.10 (the \"dirty lazyfree\" block that calls "
                    "folio_set_swapbacked(), as in the MAP_DROPPABLE series up to v22), v6.11 (block "
                    "removed by 9651fcedf7b9; dirty file-LRU folios rotate as \"waiting for writeback\"), "
                    "newest (neither)", SORT_FOLIO_FORMS)


K_MGLRU = Knob("mglru.enabled", True, "CONFIG_LRU_GEN with /sys/kernel/mm/lru_gen/enabled (else the "
               "active/inactive LRU isolates the folio from the inactive file list)")


K_REF_CHECK = Knob("unmap.lazyfree_ref_check", True,
                   "try_to_unmap_one() leaves a lazyfree folio alone unless ref_count == 1 + map_count "
                   "(6c8e2a256915, v5.18)")


K_IFF_DIRTY = Knob("unmap.swapbacked_iff_dirty", True,
                   "try_to_unmap_one() sets PG_swapbacked only when the folio is dirty (and not "
                   "droppable); an extra reference only restores the PTE (Barry Song, Fixes: "
                   "6c8e2a256915)")


K_NESTED_FLUSH = Knob("tlb.nested_flush", True,
                      "tlb_finish_mmu() flushes when mm_tlb_flush_nested(): another thread batches PTE "
                      "changes of the same mm (99baac21e458, v4.13)")


K_IGNORE_DIRTY = Knob("seeded.unmap_ignores_dirty", False,
                      "seeded mutation: try_to_unmap_one() discards a lazyfree folio without looking at "
                      "PG_dirty, as if every VMA were VM_DROPPABLE")


K_NO_FLUSH = Knob("seeded.madv_free_no_tlb_flush", False,
                  "seeded mutation: madvise_free_pte_range() cleans the PTE without tlb_remove_tlb_entry(), "
                  "so madvise() returns with the caller's dirty TLB entry still cached (the TLB flush "
                  "miss 99baac21e458 closed for concurrent madvise() calls, reduced to one thread)")


K_MADV_BATCH = Knob("madvise.free_batch", True,
                     "madvise_free_pte_range() cleans a PTE with clear_young_dirty_ptes() and queues the "
                     "flush with tlb_remove_tlb_entries() (Lance Yang's 2024 mTHP lazyfree series, read in "
                     "the 2026 tree); false: the older ptep_get_and_clear_full(); pte_mkold(pte_mkclean()); "
                     "set_pte_at(); tlb_remove_tlb_entry(). The step texts differ; on one PTE the effect is "
                     "the same")


K_ALLOC_ANON = Knob("fault.alloc_anon_folio", True,
                     "do_anonymous_page() allocates with alloc_anon_folio() (19eaf44954df, mTHP for "
                     "anonymous memory; order 0 here) and tests vmf_pte_changed(); false: the older "
                     "vma_alloc_zeroed_movable_folio() and !pte_none(). The step texts differ; on an "
                     "order-0 folio the effect is the same")


K_DROPPABLE_AWARE = Knob("droppable.rmap_checks_vma", True,
                         "folio_add_new_anon_rmap() and try_to_unmap_one() test VM_DROPPABLE (the MAP_"
                         "DROPPABLE series); false is a seeded mutation: the v6.10 rmap code in a "
                         "droppable mapping")


K_LIVENESS = Knob("check.dropped_under_pressure", False,
                  "also check, when every thread has finished, that the dirty droppable folio reclaim "
                  "evicted has left the page table (guarantee b of MAP_DROPPABLE, a liveness property "
                  "bounded by the reclaim passes modelled)")


def lazy_from_knobs(knobs, **fixed) -> Lazy:
    mapping = {"mglru.sort_folio": "sort_folio", "mglru.enabled": "mglru",
               "unmap.lazyfree_ref_check": "ref_check", "unmap.swapbacked_iff_dirty": "swapbacked_iff_dirty",
               "tlb.nested_flush": "nested_flush", "seeded.unmap_ignores_dirty": "seeded_ignore_dirty",
               "seeded.madv_free_no_tlb_flush": "seeded_no_flush",
               "droppable.rmap_checks_vma": "droppable_aware", "unmap.lazyfree_mb": "lazyfree_mb",
               "madvise.free_batch": "madvise_batch", "fault.alloc_anon_folio": "alloc_anon_folio"}
    values = dict(fixed)
    for knob, attr in mapping.items():
        if knob in knobs.declared:
            values[attr] = knobs[knob]
    return Lazy(**values)


K_LAZY_MB = Knob("unmap.lazyfree_mb", True,
                 "try_to_unmap_one()'s smp_mb() between get_and_clear_ptes() (a relaxed xchg on arm64; the "
                 "TLB flush is deferred, so no DSB) and the folio_ref_count() read, pairing with GUP-fast's "
                 "fully ordered folio_ref_try_add() then PTE re-read (6c8e2a256915); false: dropped (it "
                 "matters only under a weak memory model)")


K_DROPPABLE = Knob("vma.droppable", False, "the page lives in a MAP_DROPPABLE (VM_DROPPABLE) mapping")


K_KSM_REFUSE = Knob("ksm.refuse_droppable", True,
                    "vma_ksm_compatible() refuses VM_DROPPABLE, so MADV_MERGEABLE is ignored "
                    "(9651fcedf7b9, v6.11; proposed in the v22 review)")


K_UFFD_CHECK = Knob("uffd.droppable_check", "vma",
                    "vma_can_userfault()'s VM_DROPPABLE test: none (the series up to v22), masked "
                    "(9651fcedf7b9: tests the requested flags after `vm_flags &= __VM_UFFD_FLAGS`, never "
                    "true), vma (Tal Zussman's fix: tests vma->vm_flags), mainline-2026 (the same test, "
                    "vma_can_userfault() moved to mm/userfaultfd.c and dispatching to vma_uffd_ops())",
                    UFFD_CHECKS)


K_KEEPONFORK = Knob("madvise.keeponfork_refuses_droppable", True,
                    "madvise(MADV_KEEPONFORK) returns -EINVAL on a VM_DROPPABLE VMA (9651fcedf7b9); false "
                    "is a seeded mutation")


def _droppable_folio(**extra) -> dict:
    """A folio do_anonymous_page() faulted into a VM_DROPPABLE mapping and the program wrote."""
    return dict({"ref": 1, "map": 1, "excl": True, "swapbacked": False, "uptodate": True,
                 "data": ORIGINAL}, **extra)


def _anon_folio(**extra) -> dict:
    return dict({"ref": 1, "map": 1, "excl": True, "swapbacked": True, "uptodate": True,
                 "data": ORIGINAL}, **extra)


def _reader_ghosts(mm: MM):
    last = mm.ghost("last_written", ORIGINAL, "the content the last completed store left in the page")
    expect = mm.ghost("read_expected", "-", "last_written when the load ran")
    return last, expect

K_PRESSURE = Knob("reclaim.pressure_persists", False,
                  "the memory pressure lasts: kswapd ages and evicts again, without bound, after a round "
                  "that sorted the folio back (balance_pgdat()/try_to_shrink_lruvec() loops), and the "
                  "progress property reclaim_round_ends is checked with the final dirty_droppable_dropped "
                  "(every fair run ends the round, and a round that ends has dropped the page): the "
                  "unbounded form of check.dropped_under_pressure")


@builder(K_SORT_FOLIO, K_MGLRU, K_DROPPABLE_AWARE, K_LIVENESS, K_PRESSURE)
def droppable_reclaim(knobs) -> Model:
    """A dirty droppable folio through MGLRU aging and eviction while the program writes and reads it."""
    lz = lazy_from_knobs(knobs, droppable=True)
    m = Model("droppable-reclaim", "a dirty MAP_DROPPABLE folio through reclaim is dropped, never "
              "made swap-backed", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A", write=True, dirty=True))
    mm.add_folios(A=_droppable_folio())
    mm.add_swap_slot()
    lzm = LazyMM(mm, lz)
    last, expect = _reader_ghosts(mm)
    evicted = mm.ghost("evicted_dirty", False, "an eviction pass met the droppable folio dirty")

    user = mm.thread("user", "the vDSO getrandom() state: a store, then a load")
    emit_access_tlb(user, lzm, "store", last=last, label="store", cont="load")
    emit_access_tlb(user, lzm, "load", last=last, seen_expect=expect, label="load")
    reclaim = mm.thread("reclaim", "kswapd: MGLRU aging walk, then eviction" if lz.mglru else
                        "kswapd: shrink_inactive_list() on the inactive file LRU")
    pressure = knobs["reclaim.pressure_persists"]
    emit_reclaim(reclaim, lzm, mglru=lz.mglru, evicted=evicted, retry=pressure)

    inv_droppable_never_swapbacked(mm)
    inv_droppable_never_swapped(mm)
    inv_read_sees_last_write_or_zero(mm, user.vars["seen"], expect)
    if knobs["check.dropped_under_pressure"] or pressure:
        final_dropped_under_pressure(mm, evicted, ORIGINAL)
    if pressure:
        # the liveness half; the final predicate above (implied by this knob) says the round that ends
        # has dropped the page, so together: every fair run drops it
        m.eventually_finishes("reclaim_round_ends", "reclaim",
                              "while the pressure lasts, kswapd's eviction eventually gets past the "
                              "dirty droppable folio: it isolates it (and drops it) instead of sorting it "
                              "back forever (\"b) Under memory pressure, mm can just drop the pages\")")
    else:
        # without the unbounded pressure each access ends: a fault maps the page and the access retries
        m.eventually_finishes("user_accesses_end", "user",
                              "the program's store and load end: a fault maps the page (or the zero page) "
                              "and the retried access goes through")
    final_load_read(mm, user.vars["seen"])
    final_nothing_leaked(mm)
    return m

@builder(K_KSM_REFUSE)
def droppable_ksm(knobs) -> Model:
    """MADV_MERGEABLE and ksmd against a droppable page while the program writes it."""
    lz = Lazy(droppable=True)
    m = Model("droppable-ksm", "KSM never merges a MAP_DROPPABLE page into a swap-backed KSM page", knobs)
    mm = MM(m, folios=("A", "K", "B"))
    mm.add_pte(pte_present("A", write=True, dirty=True))
    # K: a KSM page in the stable tree with the same content, mapped (read-only) by another mergeable
    # private mapping; it was an ordinary anonymous folio, so it is swap-backed
    mm.add_folios(A=_droppable_folio(), K=_anon_folio(excl=False))
    mm.add_swap_slot()
    lzm = LazyMM(mm, lz)
    mergeable = m.field("vm_mergeable", False, doc="VM_MERGEABLE on the droppable VMA")
    last, _ = _reader_ghosts(mm)

    madv = mm.thread("madvise", "the program: madvise(MADV_MERGEABLE) over the droppable range")
    emit_ksm_madvise(madv, lzm, mergeable, refuse_droppable=knobs["ksm.refuse_droppable"])
    ksmd = mm.thread("ksmd", "ksmd: one scan of the mergeable VMAs")
    emit_ksmd(ksmd, lzm, mergeable, "K")
    user = mm.thread("user", "another thread of the program stores to the droppable page")
    emit_access_tlb(user, lzm, "store", last=last, label="store")

    inv_droppable_never_swapbacked(mm)
    final_last_store_visible(mm, last)
    return m

@builder(K_UFFD_CHECK)
def droppable_uffd_move(knobs) -> Model:
    """UFFDIO_REGISTER + UFFDIO_MOVE into a droppable range while a thread faults on it."""
    lz = Lazy(droppable=True)
    m = Model("droppable-uffd-move", "UFFDIO_MOVE never places a swap-backed page in a MAP_DROPPABLE "
              "mapping", knobs)
    mm = MM(m, folios=("S", "B"))
    mm.add_pte(PTE_NONE)                               # the droppable destination, never touched
    mm.add_folios(S=_anon_folio(data="src"))
    mm.add_swap_slot()
    src = m.field("pte_src", pte_present("S", write=True, dirty=True),
                  doc="the PTE of the UFFDIO_MOVE source address (a MAP_PRIVATE|MAP_ANONYMOUS mapping)")
    registered = m.field("uffd_registered", False, doc="VM_UFFD_MISSING on the droppable VMA")
    lzm = LazyMM(mm, lz)
    last, expect = _reader_ghosts(mm)

    monitor = mm.thread("monitor", "the uffd monitor: UFFDIO_REGISTER the droppable range, UFFDIO_MOVE a page in")
    emit_uffd_monitor(monitor, lzm, registered, src, check=knobs["uffd.droppable_check"])
    user = mm.thread("user", "a thread of the program loads from the droppable range")
    emit_access_tlb(user, lzm, "load", last=last, seen_expect=expect, userfault=registered)

    inv_droppable_never_swapbacked(mm)
    final_load_read(mm, user.vars["seen"])
    m.eventually_finishes("user_load_ends", "user", "the load ends: the monitor resolves the missing fault "
                          "(or the range is not registered yet) and the fault maps a page")
    final_nothing_leaked(mm, ptes=[mm.pte, src])
    return m

K_DUP_MMAP_MM = Knob("fork.dup_mmap_in_mm", False,
                     "dup_mmap() is in mm/mmap.c (linux-mm 2026, Lorenzo Stoakes' \"mm: move dup_mmap() to "
                     "mm\"; kernel/fork.c before) and copy_page_range() batches with copy_present_ptes(): "
                     "step names only")


@builder(K_KEEPONFORK, K_DROPPABLE_AWARE, K_DUP_MMAP_MM)
def droppable_fork(knobs) -> Model:
    """fork() of a written droppable mapping; the child reads, then writes."""
    lz = lazy_from_knobs(knobs, droppable=True)
    m = Model("droppable-fork", "the child of fork() sees zeroes in a MAP_DROPPABLE mapping, and the "
              "mapping stays droppable", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_present("A", write=True, dirty=True))
    mm.add_folios(A=_droppable_folio())
    mm.add_swap_slot()
    lzm = LazyMM(mm, lz)
    child_pte = m.field("child_pte", PTE_NONE, doc="the child's PTE at the same address")
    wipe = m.field("wipeonfork", True, doc="VM_WIPEONFORK on the parent's VMA (set by MAP_DROPPABLE)")
    forked = m.field("forked", False, doc="fork() has returned")
    last = mm.ghost("last_written", ORIGINAL, "the content the parent's last completed store left")
    # the child's view: VM_WIPEONFORK promises a zeroed mapping, so its "last write" starts as zero
    child_last = mm.ghost("child_last_written", ZERO, "the content the child's view of the page must "
                          "hold: zero after a wiping fork, then the child's own stores")
    child_expect = mm.ghost("child_read_expected", "-", "child_last_written when the child's load ran")

    parent = mm.thread("parent", "the parent: madvise(MADV_KEEPONFORK), fork(), a store")
    emit_keeponfork(parent, lzm, wipe, refuse=knobs["madvise.keeponfork_refuses_droppable"])
    emit_dup_mmap(parent, lzm, wipe, child_pte, forked, cont="store", in_mm=knobs["fork.dup_mmap_in_mm"])
    emit_access_tlb(parent, lzm, "store", last=last, label="store")

    child = mm.thread("child", "the child: a load, then a store")
    child.step("wait", "kernel/fork.c: the child runs once copy_process() returned",
               guard=lambda s: getattr(s, forked), reads=[forked])
    emit_access_tlb(child, lzm, "load", pte=child_pte, last=child_last, seen_expect=child_expect,
                label="load", cont="store")
    emit_access_tlb(child, lzm, "store", pte=child_pte, last=child_last, label="store")

    inv_droppable_never_swapbacked(mm)
    inv_droppable_never_swapbacked(mm, pte=child_pte, name="child_droppable_never_swapbacked",
                                      who=" (the child's copy of the VMA)")
    inv_read_sees_last_write_or_zero(mm, child.vars["seen"], child_expect)
    final_last_store_visible(mm, last, name="parent_store_visible", who=" (the parent's)")
    final_last_store_visible(mm, child_last, pte=child_pte, name="child_store_visible", who=" (the child's)")
    final_load_read(mm, child.vars["seen"], name="child_load_read", who=" of the child")
    for who in ("parent", "child"):
        m.eventually_finishes(f"{who}_finishes", who, f"the {who}'s accesses end: a fault maps the page "
                              "and the retried access goes through")
    final_nothing_leaked(mm, ptes=[mm.pte, child_pte])
    return m

@builder(K_REF_CHECK, K_IFF_DIRTY, K_NO_FLUSH, K_IGNORE_DIRTY, K_MADV_BATCH, K_ALLOC_ANON)
def lazyfree_redirty(knobs) -> Model:
    """madvise(MADV_FREE), then a store, against one pass of reclaim."""
    lz = lazy_from_knobs(knobs, tlb=True)
    m = Model("lazyfree-redirty", "data written after MADV_FREE is never discarded", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A", write=True, dirty=True))
    mm.add_folios(A=_anon_folio())
    mm.add_swap_slot()
    lzm = LazyMM(mm, lz, tlb_init="A:dirty")          # the writer's CPU wrote the page before
    done = mm.ghost("cpu_stored", False, "the store after MADV_FREE completed")
    lazy = mm.ghost("lazyfree_folio", NO_FOLIO, "the folio MADV_FREE made lazyfree")

    user = mm.thread("user", "the program: madvise(MADV_FREE), then a store to the page")
    emit_madvise_free(user, lzm, cont="store", lazy_ghost=lazy)
    emit_access_tlb(user, lzm, "store", done=done, label="store")
    reclaim = mm.thread("reclaim", "kswapd: shrink_inactive_list() on the inactive file LRU")
    emit_reclaim(reclaim, lzm, mglru=False)

    inv_write_after_madv_free_kept(mm, done)
    inv_clean_lazyfree_not_swapbacked(mm, lazy)
    inv_cleared_pte_stays_none_under_ptl(mm, reclaim.owner, reclaim.vars["pteval"], "reclaim")
    if lz.nested_flush and not lz.seeded_no_flush:
        inv_batched_pte_change_has_flush_pending(mm, lzm.flush_pending, user.vars["tlb_batched"],
                                                 "madvise(MADV_FREE)")
    m.eventually_finishes("user_finishes", "user", "madvise() returns and the store ends: a fault maps "
                          "the page and the retried store goes through")
    final_nothing_leaked(mm)
    return m

@builder(K_REF_CHECK, K_IFF_DIRTY, K_DROPPABLE, K_LAZY_MB)
def lazyfree_gup(knobs) -> Model:
    """A direct-I/O read (GUP-fast FOLL_GET|FOLL_WRITE, DMA, release) into a lazyfree page vs reclaim."""
    lz = lazy_from_knobs(knobs, droppable=knobs["vma.droppable"])
    m = Model("lazyfree-gup", "a lazyfree folio with a GUP reference is never discarded", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A", write=True))          # MADV_FREE left it clean, still writable
    mm.add_folios(A=_droppable_folio())                # lazyfree: !PG_swapbacked, clean
    mm.add_swap_slot()
    lzm = LazyMM(mm, lz)
    dma_done = mm.ghost("dma_done", False, "the device finished writing the read's data")
    dma_target = mm.ghost("dma_landed_in", "-", "the page the DMA wrote, and whether it was mapped then")
    lazy = mm.ghost("lazyfree_folio", "A", "the folio MADV_FREE made lazyfree")

    odirect = mm.thread("odirect", "read(O_DIRECT) on a block device: GUP-fast, DMA, bio completion")
    held = emit_dio_read(odirect, lzm, dma_done, dma_target)
    reclaim = mm.thread("reclaim", "kswapd: shrink_inactive_list() on the inactive file LRU")
    emit_reclaim(reclaim, lzm, mglru=False)

    inv_referenced_folio_not_discarded(mm, held)
    inv_gup_page_is_mapped_page(mm, dma_target)
    if not lz.droppable:
        inv_clean_lazyfree_not_swapbacked(mm, lazy)
    final_dma_visible(mm, dma_done, may_drop=lz.droppable)
    final_nothing_leaked(mm)
    return m
