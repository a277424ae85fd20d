"""Scenario builders for three races no earlier scenario reached (issue 11 §4's list of what nothing
checked): each composes the shared kernel paths (one copy of each kernel function, in models/) into
threads; the variants are in specs/scenarios/<name>.toml.

* `swapoff_gup_exclusive`: an O_DIRECT read holds an R/W FOLL_GET reference on an exclusive anonymous
  page across swap-out and swapoff. unuse_pte() restores PG_anon_exclusive from the swap PTE's
  exclusive marker (`folio_add_anon_rmap_pte(..., RMAP_EXCLUSIVE)` when `pte_swp_exclusive(old_pte)`,
  1493a1913e34); without it the page is mapped "maybe shared", and the next write fault cannot prove
  it exclusive (wp_can_reuse_anon_folio(): the GUP reference raises the refcount) and replaces it by a
  copy: the DMA then lands in a page the process no longer maps.
* `swapoff_vs_dontneed`: swapoff against madvise(MADV_DONTNEED) of the swapped-out page. The zap
  (zap_pte_range() -> zap_nonpresent_ptes() -> swap_put_entries_direct()) holds only the PTL: no
  folio lock, and the mmap lock only for read, as swapoff's unuse_mm(). unuse_pte() must re-check
  the PTE under the PTL (pte_same_as_swp()) after unuse_pte_range() found the swap PTE without it.
* `dontneed_deferred_flush`: the same deferred flush against madvise(MADV_DONTNEED) by the CPU that
  caches the entry: the zap finds the PTE reclaim already cleared, so without flush_tlb_batched_pending()
  (3ea277194daa) it flushes nothing, and the program's next store goes through the stale entry into
  the page reclaim is taking away instead of faulting in a zero page.
* `reclaim_deferred_flush`: a CPU holds a dirty (writable) TLB entry for the page while reclaim
  unmaps it with TTU_BATCH_FLUSH: try_to_unmap_one() clears the PTE and defers the flush
  (set_tlb_ubc_flush_pending()), so that CPU can still store to the page until the batch is flushed;
  shrink_folio_list() calls try_to_unmap_flush_dirty() before pageout() (d950c9477d51) so no store
  lands after the data went to swap.
"""

from __future__ import annotations

from pteverify.model import Knob, Model, builder

from ..gup import emit_dma_write, emit_gup, emit_gup_release
from ..invariants import (final_nothing_leaked, final_swapoff_leaves_no_swap_reference, final_writeback_ends,
                          inv_cached_writable_translation_is_live, inv_gup_page_is_mapped_page, inv_no_lost_write,
                          inv_no_swap_put_of_free_entry, inv_zapped_pte_stays_zapped,
                          final_store_after_dontneed_on_zero_page, progress_every_thread_finishes)
from ..memory import emit_fault_handlers, emit_zap
from ..mm import MM, ORIGINAL, Lazy, LazyMM, pte_present, pte_swap
from ..rmap import TLB_BATCH_FORMS, TlbUnmapBatch, mm_tlb_flush_batched
from ..swapfile import emit_try_to_unuse
from ..user import emit_access, emit_access_tlb
from ..vmscan import emit_shrink_page_list
from .anon_exclusive import (EXCLUSIVE_KNOBS, K_MAP_WRITABLE, K_SWAP_TABLE, _exclusive_invariants, _kernel,
                             _mapped_exclusive)


K_UNUSE_RMAP_EXCLUSIVE = Knob("swapoff.rmap_exclusive", True,
                              "unuse_pte() maps the folio with RMAP_EXCLUSIVE when the swap PTE carries the "
                              "exclusive marker (1493a1913e34's unuse_pte() hunk; false: a seeded mutation "
                              "dropping that hunk alone, swap-out and do_swap_page() keep theirs)")


K_UNUSE_RECHECK = Knob("swapoff.pte_same_recheck", True,
                       "unuse_pte() re-checks pte_same_as_swp() under the PTL (false: a seeded mutation "
                       "trusting unuse_pte_range()'s lockless read of the swap PTE)")


K_TLB_BATCH = Knob("reclaim.tlb_batch", "d950c9477d51",
                   "how try_to_unmap_one() flushes the TLB for reclaim (TTU_BATCH_FLUSH): \"off\" "
                   "(ptep_clear_flush(), before 72b252aed506), \"72b252aed506\" (the flush deferred for "
                   "clean PTEs only: a dirty one is flushed at once, \"potentially writable TLBs must be "
                   "flushed before IO\"), \"d950c9477d51\" (every flush deferred; a dirty PTE marks the "
                   "batch writable and shrink_folio_list() calls try_to_unmap_flush_dirty() before "
                   "pageout()), \"seeded-no-flush-dirty\" (seeded mutation: deferred, but no "
                   "try_to_unmap_flush_dirty() before pageout())", domain=TLB_BATCH_FORMS)


@builder(*EXCLUSIVE_KNOBS, K_UNUSE_RMAP_EXCLUSIVE, arch=True)
def swapoff_gup_exclusive(knobs) -> Model:
    """O_DIRECT read (R/W FOLL_GET + DMA) held across swap-out and swapoff, and a CPU write."""
    k = _kernel(knobs, synchronous_io=False, unuse_rmap_exclusive=knobs["swapoff.rmap_exclusive"])
    m = Model("swapoff-gup-exclusive", "a GUP reference held across swapoff: unuse_pte() restores "
              "PG_anon_exclusive, so the next write fault reuses the page the DMA writes", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    dma_done = mm.ghost("dma_done", False, "the device finished writing the O_DIRECT data")
    dma_target = mm.ghost("dma_landed_in", "-", "the page the DMA wrote, and whether it was the page "
                          "mapped at the address then")
    cpu_done = mm.ghost("cpu_stored", False, "the writer's store completed")

    odirect = mm.thread("odirect", "O_DIRECT read(): GUP of the user buffer, DMA, completion")
    held = emit_gup(odirect, k, write=True, pin=False,
                    ref="block/bio.c:bio_iov_iter_get_pages -> mm/gup.c:follow_page_pte(FOLL_GET|FOLL_WRITE): "
                        "pte_offset_map_lock(); can_follow_write_pte(); try_grab_folio(); pte_unmap_unlock() "
                        "[else faultin_page()]")
    emit_dma_write(odirect, held, dma_done, dma_target)
    emit_gup_release(odirect, held, False)
    emit_fault_handlers(odirect, k)

    reclaim = mm.thread("reclaim", "kswapd: shrink_folio_list() on the page")
    emit_shrink_page_list(reclaim, k)

    swapoff = mm.thread("swapoff", "swapoff(2): try_to_unuse()")
    emit_try_to_unuse(swapoff, k)

    writer = mm.thread("writer", "another thread of the process writes elsewhere in the page")
    emit_access(writer, k, "store", "cpu", cpu_done)
    emit_fault_handlers(writer, k)

    _exclusive_invariants(mm, k)
    inv_no_lost_write(mm, {"dma": dma_done, "cpu": cpu_done})
    inv_gup_page_is_mapped_page(mm, dma_target)
    final_nothing_leaked(mm)
    final_writeback_ends(mm)
    progress_every_thread_finishes(m)
    return m


@builder(K_UNUSE_RECHECK, *EXCLUSIVE_KNOBS)
def swapoff_vs_dontneed(knobs) -> Model:
    """swapoff vs madvise(MADV_DONTNEED) of the swapped-out page (a PTE writer holding only the PTL)."""
    k = _kernel(knobs, unuse_pte_recheck=knobs["swapoff.pte_same_recheck"])
    m = Model("swapoff-vs-dontneed", "swapoff's unuse_pte() never maps back a PTE MADV_DONTNEED zapped",
              knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap(exclusive=k.swp_exclusive, soft_dirty=True, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    zapped = mm.ghost("zapped", False, "madvise(MADV_DONTNEED) zapped the PTE")
    inv_zapped_pte_stays_zapped(mm, zapped)
    inv_no_swap_put_of_free_entry(mm)

    swapoff = mm.thread("swapoff", "swapoff(2): try_to_unuse() -> unuse_mm() [mmap_read_lock()]")
    emit_try_to_unuse(swapoff, k)
    dontneed = mm.thread("dontneed", "madvise(MADV_DONTNEED) on the page [mmap_read_lock()]")
    emit_zap(dontneed, ghost=zapped, k=k)

    _exclusive_invariants(mm, k)
    final_nothing_leaked(mm)
    final_swapoff_leaves_no_swap_reference(mm)
    progress_every_thread_finishes(m)
    return m


def _tlb_cached_page(m: Model, k):
    """Page A mapped writable, dirty and exclusive, with a swap slot free for it; the CPU that stored
    to it before still caches the dirty, writable translation in its TLB."""
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A", write=True, dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    return mm, LazyMM(mm, Lazy(tlb=True), tlb_init="A:dirty")


@builder(K_TLB_BATCH, K_SWAP_TABLE, K_MAP_WRITABLE)
def reclaim_deferred_flush(knobs) -> Model:
    """Reclaim unmaps with a deferred TLB flush while another CPU caches a writable translation."""
    k = _kernel(knobs, synchronous_io=False)
    m = Model("reclaim-deferred-flush", "no store through a stale TLB entry is lost after reclaim deferred "
              "its flush", knobs)
    mm, lzm = _tlb_cached_page(m, k)
    cpu_done = mm.ghost("cpu_stored", False, "the writer's store completed")

    reclaim = mm.thread("reclaim", "kswapd: shrink_folio_list() with TTU_BATCH_FLUSH on the page")
    batch = TlbUnmapBatch(reclaim, knobs["reclaim.tlb_batch"], lzm.flush_hook())
    emit_shrink_page_list(reclaim, k, tlb_batch=batch)
    writer = mm.thread("writer", "a thread of the process on another CPU, whose TLB caches the page's "
                       "dirty translation, stores to the page")
    emit_access(writer, k, "store", "cpu", cpu_done, tlb=lzm.tlb)
    emit_fault_handlers(writer, k)

    _exclusive_invariants(mm, k)
    inv_no_lost_write(mm, {"cpu": cpu_done})
    inv_cached_writable_translation_is_live(mm, lzm.tlb)
    final_nothing_leaked(mm)
    final_writeback_ends(mm)
    progress_every_thread_finishes(m)
    return m


K_FLUSH_BATCHED = Knob("zap.flush_batched_pending", True,
                       "zap_pte_range() calls flush_tlb_batched_pending(mm) under the PTL, flushing a TLB "
                       "flush reclaim deferred for this mm (3ea277194daa, v4.12)")


@builder(K_FLUSH_BATCHED, K_SWAP_TABLE, K_MAP_WRITABLE)
def dontneed_deferred_flush(knobs) -> Model:
    """madvise(MADV_DONTNEED) then a store, on the CPU whose TLB caches the page, vs reclaim's deferred flush."""
    k = _kernel(knobs, synchronous_io=False)
    m = Model("dontneed-deferred-flush", "MADV_DONTNEED flushes the TLB flush reclaim deferred: the next store "
              "faults in a new page", knobs)
    mm, lzm = _tlb_cached_page(m, k)
    last = mm.ghost("last_written", ORIGINAL, "the content the last completed store left in the page")
    batched = mm_tlb_flush_batched(mm)

    reclaim = mm.thread("reclaim", "kswapd: shrink_folio_list() with TTU_BATCH_FLUSH on the page")
    batch = TlbUnmapBatch(reclaim, "d950c9477d51", lzm.flush_hook(), mm_batched=batched)
    emit_shrink_page_list(reclaim, k, tlb_batch=batch)
    user = mm.thread("user", "the program, on the CPU whose TLB caches the page's dirty translation: "
                     "madvise(MADV_DONTNEED), then a store to the page")
    emit_zap(user, cont="store", k=k, tlb_flush=lzm.flush_hook(), batch=batch,
             flush_batched_pending=knobs["zap.flush_batched_pending"])
    emit_access_tlb(user, lzm, "store", last=last, label="store", swapin=k)
    emit_fault_handlers(user, k)

    inv_cached_writable_translation_is_live(mm, lzm.tlb)
    final_store_after_dontneed_on_zero_page(mm)
    final_nothing_leaked(mm)
    final_writeback_ends(mm)
    progress_every_thread_finishes(m)
    return m
