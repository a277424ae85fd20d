"""mm/madvise.c: madvise_free_pte_range() (MADV_FREE), one model (`emit_madvise_free`) of both
branches: a present PTE (folio_clear_dirty(), clean and old PTE, folio_mark_lazyfree(), the
mmu_gather flush) and a non-present swap-in error entry (pte_clear_not_present_full(), 7b49514fa1db);
madvise_vma_behavior(MADV_KEEPONFORK) on a droppable VMA (`emit_keeponfork`); MADV_PAGEOUT's
isolation in madvise_cold_or_pageout_pte_range() before reclaim_pages() (`emit_madvise_pageout`).

----------------------------------------------------------------------------------------------------
Lazily freeable anonymous memory: madvise(MADV_FREE), MAP_DROPPABLE and the reclaim paths that
discard such folios instead of swapping them.

A lazyfree folio is an anonymous folio without PG_swapbacked: it sits on the file LRU
(folio_is_file_lru() is !swapbacked) and reclaim may drop it instead of writing it to swap.
Two things make a folio lazyfree:

* `madvise(MADV_FREE)`, mm/madvise.c:madvise_free_pte_range(): under the PTL, a dirty (or swap-cache)
  folio is trylocked and folio_clear_dirty()'d, the PTE is made clean and old (its TLB entry queued on
  the mmu_gather) and folio_mark_lazyfree() -> lru_lazyfree() clears PG_swapbacked; the batched TLB
  flush happens in tlb_finish_mmu();
* a VM_DROPPABLE mapping (MAP_DROPPABLE, 9651fcedf7b9, v6.11): mm/rmap.c:folio_add_new_anon_rmap()
  sets PG_swapbacked only `if (!(vma->vm_flags & VM_DROPPABLE))`, so every folio faulted into the
  mapping is lazyfree from birth, dirty or not.

Reclaim is the shared model of models/vmscan.py: emit_shrink_page_list() with its lazyfree option
(`emit_reclaim()` below translates `Lazy` into `Kernel` fields and a `vmscan.Lazyfree`). One function
has both branches, as in the kernel: MGLRU aging (walk_pte_range) and eviction (sort_folio() in its
v6.10 / v6.11 / newest forms) or the inactive file LRU; shrink_folio_list (add_to_swap only for a
swap-backed folio outside the swap cache, the dirty file-LRU activation, the lazyfree
`folio_ref_freeze(folio, 1)` block); try_to_unmap_one with the MADV_FREE page check before the swap
path, in the forms of v5.17, 6c8e2a256915 (v5.18), 9651fcedf7b9 (v6.11, VM_DROPPABLE) and Barry Song's
"mm: set folio swapbacked iff folios are dirty in try_to_unmap_one" (Fixes: 6c8e2a256915; read in
v6.17-rc3); a folio made swap-backed again (the v6.10 sort_folio block) takes the anonymous swap path
(add_to_swap, swap_duplicate, pageout, __remove_mapping). See that module's docstring for the steps.

User accesses follow the x86 MMU: a store through a cached TLB entry that is already dirty writes the
page without touching the PTE; otherwise the page walk sets the PTE dirty bit (or faults when the PTE
is not present/writable). That is why MADV_FREE must flush the TLB after cleaning the PTE, and why
99baac21e458 ("mm: fix MADV_[FREE|DONTNEED] TLB flush miss problem", v4.13) makes tlb_finish_mmu()
flush when another thread's gather is pending (mm_tlb_flush_nested): "a thread has stable TLB entry
can fail to flush the TLB by observing pte_none|!pte_dirty". The TLB of the one CPU that stores is
modelled only in the scenarios that need it (`tlb=True`).

Abstractions: one PTE, small folios (no batched lazyfree unmap of large folios, no THP PMD path), the
accessed bit is not modelled (every mapped PTE counts as young; MADV_FREE clears young and dirty
together), lru_lazyfree() runs at folio_mark_lazyfree() rather than at the per-CPU batch drain,
try_to_unmap_one flushes immediately (ptep_clear_flush; TTU_BATCH_FLUSH's deferred flush is not
modelled), one pass of shrink_folio_list over the one folio.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .mm import NO_FOLIO, PTE_NONE, ZERO, Ctx, Kernel, LazyMM, MarkerKernel
from .vmscan import emit_shrink_page_list


def emit_madvise_free(ctx: Ctx, lzm: LazyMM | None = None, *, prefix: str = "madv", cont: str = DONE,
                      lazy_ghost: str | None = None, marker: MarkerKernel | None = None,
                      discarded: str | None = None, label: str | None = None) -> None:
    """madvise_free_single_vma(): tlb_gather_mmu(); madvise_free_pte_range(); tlb_finish_mmu().

    madvise_free_pte_range() under the PTL: a present PTE of an anon folio (with `lzm`, the lazyfree
    state and the storing CPU's TLB): folio_clear_dirty(), the PTE made clean and old (queued on the
    mmu_gather), folio_mark_lazyfree(); a swap-in error entry (with `marker`, a MarkerKernel):
    pte_clear_not_present_full() since 7b49514fa1db (`marker.madvise_frees_error`), before it skipped
    as a non_swap_entry; other non-present entries and the zero page are skipped. Without `lzm` no
    TLB is modelled: the mmu_gather steps are left out and the one step (`label`, default
    `{prefix}.pte_range`) returns to `cont`. `lazy_ghost` gets the folio made lazyfree, `discarded`
    is set True when the call returned."""
    mm = lzm.mm if lzm is not None else ctx.mm
    lz = lzm.lz if lzm is not None else None
    label = label or f"{prefix}.pte_range"
    batched = ctx.local("tlb_batched", False, "the mmu_gather holds a TLB entry to flush") if lzm else None
    pending = lzm.flush_pending if lzm else None

    if pending:
        ctx.step(f"{prefix}.gather", "mm/mmu_gather.c:tlb_gather_mmu()"
                 + ("; inc_tlb_flush_pending(mm)" if lz.nested_flush else ""),
                 effect=lambda s: {pending: getattr(s, pending) + 1} if lz.nested_flush else None,
                 reads=[pending], writes=[pending])

    def lazyfree(s, d, p):
        """The present-PTE branch."""
        if lzm is None:
            raise ModelError(f"{label}: a present PTE needs the lazyfree state (emit_madvise_free(lzm))")
        fid = p.folio
        if mm.fv(s, d, "swapcache", fid) or mm.fv(s, d, "dirty", fid):
            if getattr(s, mm.lock[fid]) != FREE:
                return d                               # !folio_trylock(): continue (nothing done)
            if mm.fv(s, d, "map", fid) != 1:
                return d                               # shared folio: skip
            if mm.fv(s, d, "swapcache", fid) and not mm.try_to_free_swap(s, d, fid, lock_taken_here=True):
                return d
            mm.fset(d, fid, dirty=False)               # folio_clear_dirty()
        if p.dirty:                                    # pte_young || pte_dirty: clean + old, queue flush
            d[mm.pte] = p._replace(dirty=False)
            if not lz.seeded_no_flush:
                d[batched] = True
        if mm.fv(s, d, "swapbacked", fid) and not mm.fv(s, d, "swapcache", fid):
            mm.fset(d, fid, swapbacked=False)          # folio_mark_lazyfree() -> lru_lazyfree()
        if lazy_ghost:
            d[lazy_ghost] = fid
        return d

    def pte_range(s):
        p = getattr(s, mm.pte)
        d = {} if lzm else {GOTO: cont}
        if discarded:
            d[discarded] = True
        if p.kind == "swapin_error":
            if marker is not None and marker.madvise_frees_error:
                d[mm.pte] = PTE_NONE                   # pte_clear_not_present_full()
            return d                                   # else non_swap_entry(entry): continue
        if p.kind != "present" or p.folio == ZERO:
            return d                                   # pte_none / other non-present / zero page: skip
        return lazyfree(s, d, p)

    if lzm is not None:
        if lz.madvise_batch:
            ref = ("mm/madvise.c:madvise_free_pte_range: pte_offset_map_lock(); flush_tlb_batched_pending(); "
                   "vm_normal_folio(); swapcache||dirty: folio_trylock(), folio_mapcount() == nr, "
                   "folio_free_swap(), folio_clear_dirty(), folio_unlock(); pte_young||pte_dirty: "
                   "clear_young_dirty_ptes(); "
                   + ("[seeded: no tlb_remove_tlb_entries()]; " if lz.seeded_no_flush
                      else "tlb_remove_tlb_entries(); ")
                   + "folio_mark_lazyfree() [clears PG_swapbacked]")
        else:
            ref = ("mm/madvise.c:madvise_free_pte_range: pte_offset_map_lock(); "
                   "swapcache||dirty: folio_trylock(), folio_clear_dirty(); pte_young||pte_dirty: "
                   "ptep_get_and_clear_full(); pte_mkold(pte_mkclean()); set_pte_at(); "
                   + ("[seeded: no tlb_remove_tlb_entry()]; " if lz.seeded_no_flush else "tlb_remove_tlb_entry(); ")
                   + "folio_mark_lazyfree() [clears PG_swapbacked]")
        ctx.step(label, ref, guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_range,
                 reads=[mm.ptl, mm.pte] + mm.locks() + mm.all_folio() + mm.slot_fields(),
                 writes=[mm.pte, batched] + mm.all_folio() + mm.slot_fields()
                 + [x for x in (lazy_ghost, discarded) if x])
    else:
        frees = marker is not None and marker.madvise_frees_error
        ref = ("mm/madvise.c:madvise_free_pte_range: pte_offset_map_lock(); !pte_present: "
               + ("entry = softleaf_from_pte(ptent); softleaf_is_hwpoison(entry) || "
                  "softleaf_is_poison_marker(entry) -> pte_clear()" if frees and marker.softleaf else
                  "is_hwpoison_entry || is_swapin_error_entry -> pte_clear_not_present_full()"
                  if frees else "non_swap_entry(entry) -> continue"))
        # no present PTE reaches a caller without the lazyfree state: the folio fields stay out of
        # the footprint (the present branch raises ModelError instead)
        ctx.step(label, ref, guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_range,
                 reads=[mm.pte, mm.ptl], writes=[mm.pte] + ([discarded] if discarded else []), branches=[cont])
        return

    def finish(s):
        d = {GOTO: cont}
        force = bool(pending) and lz.nested_flush and getattr(s, pending) > 1
        if getattr(s, batched) or force:
            lzm.flush(d)
        if pending and lz.nested_flush:
            d[pending] = getattr(s, pending) - 1
        ctx.reset(d, "tlb_batched")
        return d

    ctx.step(f"{prefix}.finish", "mm/mmu_gather.c:tlb_finish_mmu(): "
             + ("force = mm_tlb_flush_nested(mm); tlb_flush_mmu() [if batched || force]; "
                "dec_tlb_flush_pending(mm)" if lz.nested_flush else
                "tlb_flush_mmu() [only if this gather batched a PTE]"),
             effect=finish, reads=[batched] + ([pending] if pending else []),
             writes=[batched] + lzm.tlb_fields() + ([pending] if pending else []), branches=[cont])


def emit_keeponfork(ctx: Ctx, lzm: LazyMM, wipe: str, *, refuse: bool) -> None:
    """madvise(MADV_KEEPONFORK) -> madvise_vma_behavior(): clears VM_WIPEONFORK (the field `wipe`);
    `refuse`: a VM_DROPPABLE VMA refuses it with -EINVAL (the mapping must stay wiped on fork)."""
    result = ctx.local("result", "-", "madvise() return")

    def madv(s):
        if refuse and lzm.lz.droppable:
            return {result: "-EINVAL"}
        return {wipe: False, result: "0"}

    ctx.step("keeponfork", "mm/madvise.c:madvise_vma_behavior(MADV_KEEPONFORK): "
             + ("VM_DROPPABLE -> -EINVAL; " if refuse else "") + "new_flags &= ~VM_WIPEONFORK",
             effect=madv, writes=[wipe, result])


def emit_madvise_pageout(ctx: Ctx, k: Kernel, *, ref: str, cont: str = DONE) -> None:
    """madvise(MADV_PAGEOUT) over the address -> madvise_cold_or_pageout_pte_range(): the folio the
    PTE maps (not the zero page) is isolated from its LRU with a reference (step `isolate`; `ref`
    names the release's calls), then reclaim_pages() -> shrink_folio_list() reclaims it
    (vmscan.emit_shrink_page_list(isolate=False)); the thread continues at `cont`."""
    mm = ctx.mm
    page = ctx.local("page", NO_FOLIO, "the folio reclaim isolated")

    def isolate(s):
        return mm.isolate_mapped(s, page)

    ctx.step("isolate", ref, guard=lambda s: getattr(s, mm.pte).present and getattr(s, mm.pte).folio != ZERO,
             effect=isolate, reads=[mm.pte] + mm.ff("ref"), writes=[page] + mm.ff("ref"))
    emit_shrink_page_list(ctx, k, isolate=False, cont=cont)
