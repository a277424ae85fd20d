"""mm/vmscan.c: reclaim of the folio mapped at the address: isolation (LRU or MGLRU walk_pte_range
aging and sort_folio()), shrink_folio_list() with add_to_swap(), try_to_unmap() (rmap.py),
pageout() -> swap_writepage() and __remove_mapping(), and the lazyfree branches.

----------------------------------------------------------------------------------------------------
Swap-out: mm/vmscan.c:shrink_page_list() on the folio mapped at the address, with
mm/rmap.c:try_to_unmap_one() (anonymous swap path), pageout() and __remove_mapping().

One pass of reclaim over one folio, as kswapd, direct reclaim or MADV_PAGEOUT would make it:

1. isolation takes a reference (isolate_lru_pages / isolate_lru_page);
2. trylock_page (a locked folio is kept); a maybe-pinned folio is kept before it enters the swap cache
   (folio_maybe_dma_pinned() -> keep_locked, as in the ~6.13 shrink_folio_list read for the reference);
3. add_to_swap(): a swap slot with SWAP_HAS_CACHE, the folio in the swap cache (one more reference),
   set_page_dirty();
4. try_to_unmap_one() under the PTL: read anon_exclusive, ptep_clear_flush(), swap_duplicate(),
   page_try_share_anon_rmap() (fails, restoring the PTE, when the page may be pinned; since
   6c287605fd56), the swap PTE with pte_swp_mkexclusive() if the page was exclusive (1493a1913e34;
   a no-op on an architecture without __HAVE_ARCH_PTE_SWP_EXCLUSIVE), soft-dirty and uffd-wp copied,
   set_pte_at(), page_remove_rmap(), put_page();
5. pageout(): is_page_cache_freeable() (only the isolation and swap-cache references: any other
   reference, e.g. an O_DIRECT FOLL_GET, keeps the page: PAGE_KEEP), clear_page_dirty_for_io(),
   swap_writepage() (set_page_writeback(), unlock_page()); end_swap_bio_write() ->
   end_page_writeback();
6. a later pass: trylock_page, dirty or writeback -> keep; __remove_mapping(): folio_ref_freeze(folio,
   1 + nr) fails with any extra reference, PageDirty after the freeze -> unfreeze; otherwise the folio
   leaves the swap cache and is freed.

Lazyfree folios (`lazyfree=Lazyfree(...)`; off by default, so the anonymous swap path above is all
that is emitted). An anonymous folio without PG_swapbacked (madvise(MADV_FREE), or any folio of a
VM_DROPPABLE mapping) sits on the file LRU and is discarded instead of swapped. With the option the
same function models the kernel's lazyfree branches (mm/vmscan.c shrink_folio_list ≈6.13, intel-lab-lkp
@ d01dc4e8; mm/rmap.c try_to_unmap_one, intel-lab-lkp @ 453fb339), the historical forms selected by
`Kernel` fields:

* how reclaim reaches the folio (`Lazyfree.lru`): the active/inactive LRU isolating it from the
  inactive file list (isolate_lru_folios(LRU_INACTIVE_FILE)), or MGLRU: the aging walk
  walk_pte_range() (`pte_dirty && !folio_test_dirty && !(anon && swapbacked && !swapcache)` ->
  folio_mark_dirty()), then up to `passes` eviction passes of sort_folio() before isolate_folio():
  - `Kernel.mglru_sort_folio == "v6.10"` (v6.1..v6.10 and the MAP_DROPPABLE series up to v22): the
    "dirty lazyfree" block `type == LRU_GEN_FILE && folio_test_anon(folio) && folio_test_dirty(folio)`
    -> folio_set_swapbacked(); lruvec_add_folio_tail(); it cannot tell a droppable folio from a
    MADV_FREE one (no VMA there); removed by 9651fcedf7b9 ("The chunk removed reenables the
    swapbacked flag, which we don't want for VM_DROPPABLE");
  - "v6.11": "waiting for writeback": `locked || writeback || (type == LRU_GEN_FILE && dirty)` ->
    folio_inc_gen(), the folio stays on the list;
  - "newest" (linux-mm 2026): neither block, the folio is isolated;
* shrink_folio_list: only an `anon && swapbacked && !swapcache` folio goes through the pinned check
  and add_to_swap(); after try_to_unmap(), `folio_maybe_dma_pinned()` -> activate_locked; a dirty
  file-LRU folio (a lazyfree one) -> folio_set_reclaim(), activate_locked; the lazyfree block
  `folio_ref_freeze(folio, 1)` [else keep_locked] -> PGLAZYFREED, free_it (before 6c8e2a256915 it
  also re-checked PageDirty after the freeze: page_ref_unfreeze(); keep_locked);
* try_to_unmap_one, after ptep_clear_flush() and `pte_dirty(pteval) -> folio_mark_dirty()`, the anon
  branch `!folio_test_swapbacked(folio)` ("MADV_FREE page check") before swap_duplicate():
  - before 6c8e2a256915 (`Kernel.lazyfree_ref_check` off, v5.17): `!PageDirty` -> discard, else
    set_pte_at(pteval) + SetPageSwapBacked;
  - 6c8e2a256915 (v5.18): smp_mb() (pairs with GUP-fast: "clear PTE; barrier; read refcount"
    against "inc refcount; barrier; read PTE"), ref_count, map_count, smp_rmb();
    `ref_count == 1 + map_count && !folio_test_dirty` -> discard, otherwise restore and
    folio_set_swapbacked(); 9651fcedf7b9 (v6.11): discard also when dirty if VM_DROPPABLE, restore
    sets swapbacked only `if (!(vma->vm_flags & VM_DROPPABLE))`;
  - Barry Song's "set folio swapbacked iff folios are dirty" (`Kernel.lazyfree_swapbacked_iff_dirty`,
    v6.17-rc3): `folio_test_dirty && !VM_DROPPABLE` -> set_ptes(pteval) + folio_set_swapbacked();
    else `ref_count != 1 + map_count` -> set_ptes(pteval) only; else discard:
    folio_remove_rmap_pte(); folio_put().
  The `swapbacked != swapcache` WARN_ON_ONCE of that branch is a model assertion in try_to_unmap_one's
  clearing step (madvise_free_pte_range() frees the swap cache before clearing PG_swapbacked, so no
  faithful path reaches it: a mutant that unmaps before add_to_swap() does).

`tlb_flush` (an `ArchHook`; none by default) is run by ptep_clear_flush() in try_to_unmap_one: a
scenario that models a CPU's TLB entry (mm.LazyMM) drops it there.

Abstractions: one swap slot, so add_to_swap() fails (activate) while the slot is in use, where the
kernel would pick another slot; the data written to the slot is the page content when the write is
submitted; TLB flushes are immediate (no deferred batch flush); the walk over other mappings of the
folio is not modelled (one mm, one address); the post-unmap folio_maybe_dma_pinned() test is emitted
only with the lazyfree option (on the anonymous swap path a pinned page's extra reference makes
is_page_cache_freeable() / folio_ref_freeze() keep it anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from pteverify.model import DONE, FREE, GOTO, ModelError

from .mm import NO_FOLIO, PTE_NONE, ZERO, ArchHook, Ctx, Kernel, KernelII, LazyMM, pte_swap
from .rmap import TlbUnmapBatch, emit_try_to_unmap_one
from .swap_state import emit_add_to_swap
from .tlb import emit_tlb_flush


LRUS = ("pte", "inactive_file", "mglru")


LOCALS = ("page", "anon_excl", "pteval", "pass")


@dataclass(frozen=True)
class Lazyfree:
    """emit_shrink_page_list(lazyfree=...): the scenario's folio may be lazyfree (!PG_swapbacked).

    `lru`: how reclaim reaches the folio mapped at the address: "pte" (wait until the PTE maps a folio
    and isolate it, as without the option), "inactive_file" (the active/inactive LRU isolates it from
    the inactive file list, where folio_mark_lazyfree() or a VM_DROPPABLE folio_add_new_anon_rmap()
    put it; nothing to do when the address maps no such folio), "mglru" (walk_pte_range() aging, then
    up to `passes` sort_folio() eviction passes). `droppable_vma`: try_to_unmap_one() sees VM_DROPPABLE
    on the VMA. `evicted`: a ghost field set when an eviction pass (or the inactive-file isolation)
    meets the folio dirty on the file LRU. `seeded_ignore_dirty`: seeded mutation, the lazyfree branch
    of try_to_unmap_one() ignores PG_dirty. `retry` (MGLRU only): the pressure persists, so a round
    whose passes all sorted the folio back is followed by another aging walk and eviction round,
    without bound (kswapd's balance_pgdat() loop; try_to_shrink_lruvec() calling get_nr_to_scan(),
    which ages, and evict_folios() again); the rounds carry no state, so the loop is a cycle."""

    lru: str = "pte"
    passes: int = 2
    droppable_vma: bool = False
    evicted: str | None = None
    seeded_ignore_dirty: bool = False
    retry: bool = False

    def __post_init__(self):
        if self.lru not in LRUS:
            raise ValueError(f"lazyfree reclaim: lru {self.lru!r} not in {LRUS}")
        if self.passes < 1:
            raise ValueError(f"lazyfree reclaim: passes must be at least 1, not {self.passes}")


def emit_shrink_page_list(ctx: Ctx, k: Kernel, *, isolate: bool = True,
                          cont: str = DONE, lazyfree: Lazyfree | None = None,
                          tlb_flush: ArchHook | None = None, tlb_batch: TlbUnmapBatch | None = None,
                          isolated: tuple[str, str] | None = None, kf: KernelII | None = None,
                          deferred_flush: bool = False) -> None:
    """`tlb_batch` (rmap.TlbUnmapBatch): reclaim unmaps with TTU_BATCH_FLUSH: try_to_unmap_one() may
    defer the flush; shrink_folio_list() calls try_to_unmap_flush_dirty() before pageout() and
    try_to_unmap_flush() before the folios are freed (free_unref_folios()) and at the end of the list
    (the `keep` path).

    `isolate=False`: the caller isolated the folio into local `page` (madvise(MADV_PAGEOUT):
    madvise.emit_madvise_pageout) and reclaim_pages() hands it to shrink_folio_list().

    `isolated` = (folio, holder): the pass starts at try_to_unmap(): reclaim already isolated `folio`
    (local `page` starts there) and add_to_swap() put it in the swap cache; `holder` is a ghost field
    naming the folio whose isolation reference reclaim holds, cleared when `keep` drops it. pageout()
    is then not modelled further (step `pageout` ends the pass at `cont`, the isolation reference kept),
    and the folio lock reclaim holds is not modelled (no other thread of such a scenario takes it).
    `kf` (with `isolated`, the GUP-fast scenarios): try_to_unmap_one()'s TLB flush is a step of its own
    racing GUP-fast (`unmap.flush`); `deferred_flush`: that flush is the deferred batch,
    try_to_unmap_flush(), after try_to_unmap()."""
    mm = ctx.mm
    lf = lazyfree
    lru = lf.lru if lf else "pte"
    if isolated and (lf or tlb_flush or tlb_batch or not isolate):
        raise ModelError("shrink_folio_list from try_to_unmap() (isolated=): the anonymous swap path without "
                         "lazyfree, TLB hooks or a caller's isolation")
    if (kf or deferred_flush) and not isolated:
        raise ModelError("shrink_folio_list: kf/deferred_flush only with isolated= (the GUP-fast scenarios)")
    page = ctx.local("page", isolated[0] if isolated else NO_FOLIO, "the folio reclaim isolated")
    holder = isolated[1] if isolated else None
    excl = ctx.local("anon_excl", False, "try_to_unmap_one: anon_exclusive")
    pteval = ctx.local("pteval", PTE_NONE, "try_to_unmap_one: pteval (the cleared PTE)")
    npass = ctx.local("pass", 0, "MGLRU eviction passes made") if lru == "mglru" else None
    evicted = lf.evicted if lf else None
    folio_all = mm.all_folio()
    slot = mm.slot_fields()
    locals_ = ctx.locals_fields(*LOCALS)
    lazy_reads = mm.ff("swapbacked") if lf else []
    flush_reads = list(tlb_flush.reads) if tlb_flush else []
    flush_writes = list(tlb_flush.writes) if tlb_flush else []
    batch_reads = tlb_batch.reads() if tlb_batch else []
    batch_writes = tlb_batch.fields() if tlb_batch else []

    def keep(s, d, locked: bool = True):
        """The folio is not reclaimed: continue at the `keep` step (unlock, putback)."""
        d[GOTO] = "keep"
        return d

    def lru_folio(p) -> bool:
        """Does the PTE map a folio of the pool (one on an LRU list; not the shared zero page)?"""
        return p.present and p.folio != ZERO

    if lf is not None and not isolate:
        raise ModelError("shrink_folio_list: a caller's isolation (isolate=False) is modelled for the "
                         "anonymous swap path only")
    if not isolated:
        # -- isolation --------------------------------------------------------------------------------
        if not isolate:
            pass                                       # the caller's step (MADV_PAGEOUT)
        elif lru == "pte":
            def isolate(s):
                return mm.isolate_mapped(s, page)

            ctx.step("isolate", "mm/vmscan.c:isolate_lru_pages: folio_try_get(); "
                     "folio_test_clear_lru() [the folio mapped at the address]",
                     guard=lambda s: lru_folio(getattr(s, mm.pte)), effect=isolate,
                     reads=[mm.pte] + mm.ff("ref"), writes=[page] + mm.ff("ref"))
        elif lru == "inactive_file":
            def isolate_file(s):
                p = getattr(s, mm.pte)
                if not lru_folio(p):
                    return {GOTO: cont}                    # nothing on the LRU for this address
                fid = p.folio
                d = {page: fid}
                mm.get_folio(s, d, fid)
                if evicted and mm.fv(s, d, "dirty", fid):
                    d[evicted] = True
                return d

            def on_file_lru(s):
                p = getattr(s, mm.pte)
                return not lru_folio(p) or not getattr(s, mm.f["swapbacked"][p.folio])

            ctx.step("isolate", "mm/vmscan.c:isolate_lru_folios(LRU_INACTIVE_FILE): "
                     "folio_try_get(); folio_test_clear_lru() [the lazyfree folio mapped at the address]",
                     guard=on_file_lru, effect=isolate_file, reads=[mm.pte] + mm.ff("ref", "swapbacked", "dirty"),
                     writes=[page] + mm.ff("ref") + ([evicted] if evicted else []), branches=[cont])
        else:
            _emit_mglru(ctx, k, lf, page, npass, cont)

        # -- shrink_folio_list ----------------------------------------------------------------------------
        def trylock(s):
            fid = getattr(s, page)
            if getattr(s, mm.lock[fid]) != FREE:
                return keep(s, {}, locked=False)
            d = {mm.lock[fid]: ctx.owner}
            if lf and not (getattr(s, mm.f["swapbacked"][fid]) and not getattr(s, mm.f["swapcache"][fid])):
                d[GOTO] = "unmap.clear"                    # lazyfree or in the swap cache: no add_to_swap()
                return d
            if k.pinned_swapout_check and getattr(s, mm.f["pin"][fid]):
                return keep(s, d)
            return d

        pinned = "folio_maybe_dma_pinned() -> keep_locked" if k.pinned_swapout_check else ""
        if lf:
            trylock_ref = ("mm/vmscan.c:shrink_folio_list: folio_trylock(folio) [else keep]; anon && swapbacked "
                           "&& !swapcache: " + (pinned + ", " if pinned else "") + "add_to_swap() [a lazyfree "
                           "or swap-cache folio goes straight to try_to_unmap()]")
        else:
            trylock_ref = "mm/vmscan.c:shrink_page_list: trylock_page(page)" + ("; " + pinned if pinned else "")
        ctx.step("trylock", trylock_ref,
                 effect=trylock, reads=[page] + mm.locks() + mm.ff("pin", "ref", "map", "swapcache") + lazy_reads,
                 writes=mm.locks() + folio_all + locals_, branches=["keep"] + (["unmap.clear"] if lf else []))

        emit_add_to_swap(ctx, k, page, fail="keep", writes=locals_)

    # -- try_to_unmap() -> mm/rmap.c:try_to_unmap_one ------------------------------------------------
    if isolated:
        emit_try_to_unmap_one(ctx, k, page, fail="keep", kf=kf, deferred_flush=deferred_flush)
        if deferred_flush:
            emit_tlb_flush(ctx, kf, "unmap.flush", "", deferred=True)
        _emit_pageout_not_modelled(ctx, page, holder, cont)
        return
    emit_try_to_unmap_one(ctx, k, page, fail="keep", done="pageout", lazyfree=lf, tlb_flush=tlb_flush,
                          folio_locked=True, tlb_batch=tlb_batch)

    # -- pageout ------------------------------------------------------------------------------------
    def pageout(s):
        fid = getattr(s, page)
        if getattr(s, mm.f["map"][fid]):
            return keep(s, {})                         # still mapped: activate_locked
        if lf and getattr(s, mm.f["pin"][fid]):
            return keep(s, {})                         # folio_maybe_dma_pinned(): activate_locked
        if not getattr(s, mm.f["dirty"][fid]):
            return {GOTO: "remove"}                    # clean: straight to __remove_mapping()
        if lf and not getattr(s, mm.f["swapbacked"][fid]):
            return keep(s, {})                         # dirty file-LRU folio: folio_set_reclaim()
        d = {}
        if tlb_batch:
            tlb_batch.flush_dirty(s, d)                # try_to_unmap_flush_dirty() before pageout()
        if getattr(s, mm.f["ref"][fid]) != 2:
            return keep(s, d)                          # !is_page_cache_freeable(): PAGE_KEEP
        return d or None

    if lf:
        pageout_ref = ("mm/vmscan.c:shrink_folio_list: folio_mapped() -> activate_locked; "
                       "folio_maybe_dma_pinned() -> activate_locked; folio_test_dirty(): folio_is_file_lru() "
                       "[lazyfree] -> folio_set_reclaim(), activate_locked; else pageout(): "
                       "is_page_cache_freeable() [only the isolation and swap-cache references, else PAGE_KEEP]")
    else:
        pageout_ref = ("mm/vmscan.c:shrink_page_list: PageDirty() -> pageout(): "
                       "is_page_cache_freeable() [only the isolation and swap-cache references, else PAGE_KEEP]")
    if tlb_batch:
        pageout_ref = ("mm/vmscan.c:shrink_folio_list: folio_mapped() -> activate_locked; "
                       "folio_maybe_dma_pinned() -> activate_locked; folio_test_dirty(): "
                       + ("[seeded: no try_to_unmap_flush_dirty()] " if tlb_batch.form == "seeded-no-flush-dirty"
                          else "try_to_unmap_flush_dirty() [tlb_ubc->writable -> try_to_unmap_flush()]; "
                          if tlb_batch.form == "d950c9477d51" else "")
                       + "pageout(): is_page_cache_freeable() [only the isolation and swap-cache references, "
                       "else PAGE_KEEP]")
    ctx.step("pageout", pageout_ref,
             effect=pageout, reads=[page] + mm.ff("map", "dirty", "ref") + (mm.ff("pin") if lf else []) + lazy_reads
             + batch_reads, writes=batch_writes,
             branches=["keep", "remove"])

    def writepage(s):
        fid = getattr(s, page)
        d = {mm.swp_data: getattr(s, mm.f["data"][fid]), mm.lock[fid]: FREE}
        mm.fset(d, fid, dirty=False, writeback=True)
        return d

    ctx.step("swap_writepage", "mm/vmscan.c:pageout: clear_page_dirty_for_io(); mm/page_io.c:"
             "swap_writepage(): set_page_writeback(); unlock_page(); submit_bio()",
             effect=writepage, reads=[page] + mm.ff("data"),
             writes=[mm.swp_data] + mm.locks() + mm.ff("dirty", "writeback"))

    ctx.step("writeback_done", "mm/page_io.c:end_swap_bio_write: end_page_writeback(page)",
             effect=lambda s: {mm.f["writeback"][getattr(s, page)]: False},
             reads=[page], writes=mm.ff("writeback"))

    def remove(s):
        fid = getattr(s, page)
        lk = getattr(s, mm.lock[fid])
        if lk not in (FREE, ctx.owner):
            return keep(s, {}, locked=False)           # trylock_page() fails: keep
        d = {mm.lock[fid]: ctx.owner}
        if lf and not getattr(s, mm.f["swapbacked"][fid]):
            # the lazyfree block: folio_ref_freeze(folio, 1) [+ PageDirty -> unfreeze before 6c8e2a256915]
            if getattr(s, mm.f["ref"][fid]) != 1 or (
                    not k.lazyfree_ref_check and getattr(s, mm.f["dirty"][fid])):
                return keep(s, d)
            d[mm.lock[fid]] = FREE                     # PGLAZYFREED; folio_unlock(); free_it
            if tlb_batch:
                tlb_batch.flush(s, d)                  # try_to_unmap_flush() before free_unref_folios()
            mm.put_folio(s, d, fid)
            ctx.reset(d, *LOCALS)
            d[GOTO] = cont
            return d
        if (getattr(s, mm.f["dirty"][fid]) or getattr(s, mm.f["writeback"][fid])
                or getattr(s, mm.f["map"][fid]) or getattr(s, mm.f["ref"][fid]) != 2):
            return keep(s, d)                          # redirtied / remapped / folio_ref_freeze() fails
        # __delete_from_swap_cache(); put_swap_page(); the frozen folio is freed
        d[mm.swp_cache] = NO_FOLIO
        d[mm.swp_has_cache] = False
        mm.fset(d, fid, swapcache=False)
        if tlb_batch:
            tlb_batch.flush(s, d)                      # try_to_unmap_flush() before free_unref_folios()
        mm.put_folio(s, d, fid, 2)
        d[mm.lock[fid]] = FREE
        mm.maybe_free_slot(s, d)
        ctx.reset(d, *LOCALS)
        d[GOTO] = cont
        return d

    remove_ref = ("mm/vmscan.c:shrink_page_list: trylock_page(); PageDirty/PageWriteback -> keep; "
                  "__remove_mapping(): folio_ref_freeze(folio, 2) [fails with extra references]; "
                  "PageDirty() -> unfreeze; __delete_from_swap_cache(); put_swap_page(); free the folio")
    if lf:
        remove_ref += ("; lazyfree (anon && !swapbacked): folio_ref_freeze(folio, 1) [else keep_locked]"
                       + ("; PageDirty() -> page_ref_unfreeze(), keep_locked" if not k.lazyfree_ref_check
                          else " [the dirty flag not re-checked]")
                       + "; PGLAZYFREED; folio_unlock(); free_it")
    if tlb_batch:
        remove_ref = ("mm/vmscan.c:shrink_folio_list: folio_trylock(); folio_test_dirty/writeback -> keep; "
                      "__remove_mapping(): folio_ref_freeze(folio, 2) [fails with extra references]; "
                      "__swap_cache_del_folio(); folio_unlock(); free_it: try_to_unmap_flush(); "
                      "free_unref_folios()")
    ctx.step("remove", remove_ref,
             effect=remove, reads=[page] + mm.locks() + slot + mm.ff("dirty", "writeback", "map", "ref", "swapcache")
             + lazy_reads + batch_reads,
             writes=mm.locks() + slot + folio_all + locals_ + batch_writes, branches=["keep", cont])

    def keep_step(s):
        fid = getattr(s, page)
        d = {GOTO: cont}
        if getattr(s, mm.lock[fid]) == ctx.owner:
            d[mm.lock[fid]] = FREE
        if tlb_batch:
            tlb_batch.flush(s, d)                      # the end of the list: try_to_unmap_flush()
        mm.put_folio(s, d, fid)
        ctx.reset(d, *LOCALS)
        return d

    ctx.step("keep", "mm/vmscan.c:shrink_folio_list: keep_locked / activate_locked: folio_unlock(); the end "
             "of the list: try_to_unmap_flush(); free_unref_folios(); shrink_inactive_list: "
             "move_folios_to_lru() [drops the isolation reference]" if tlb_batch else
             "mm/vmscan.c:shrink_page_list: keep_locked / activate_locked: unlock_page(); "
             "putback_lru_page() [drops the isolation reference]",
             effect=keep_step, reads=[page] + mm.locks() + mm.ff("ref", "map", "swapcache") + batch_reads,
             writes=mm.locks() + folio_all + locals_ + batch_writes, branches=[cont])

    if lru == "mglru":
        again = "walk_pte_range" if lf.retry else cont

        def end(s):
            d = {GOTO: again}
            ctx.reset(d, *LOCALS)
            return d

        ctx.step("end", "mm/vmscan.c:evict_folios: the folio was sorted back (not isolated) in every pass"
                 + ("; the pressure persists: balance_pgdat() -> try_to_shrink_lruvec(): get_nr_to_scan() "
                    "ages again (walk_pte_range), evict_folios() again" if lf.retry else ""),
                 effect=end, writes=locals_, branches=[again])


def _emit_pageout_not_modelled(ctx: Ctx, page: str, holder: str, cont: str) -> None:
    """emit_shrink_page_list(isolated=...): after try_to_unmap(), pageout() ends the pass (not modelled
    further); a failed try_to_unmap() puts the folio back."""
    mm = ctx.mm
    ctx.step("pageout", "mm/vmscan.c:shrink_folio_list: !folio_mapped() -> pageout() [not modelled "
             "further]", effect=lambda s: {page: NO_FOLIO, GOTO: cont}, writes=[page], branches=[cont])

    def keep(s):
        d = {page: NO_FOLIO, holder: NO_FOLIO, GOTO: cont}
        mm.put_folio(s, d, getattr(s, page))
        return d

    ctx.step("keep", "mm/vmscan.c:shrink_folio_list: try_to_unmap() failed -> activate_locked: "
             "folio_unlock(); folio_putback_lru() [isolation reference]",
             effect=keep, reads=[page] + mm.ff("ref", "map", "swapcache"),
             writes=[page, holder] + mm.all_folio(), branches=[cont])


def _emit_mglru(ctx: Ctx, k: Kernel, lf: Lazyfree, page: str, npass: str, cont: str) -> None:
    """MGLRU: the aging walk over the PTE, then `lf.passes` eviction passes of sort_folio()."""
    mm = ctx.mm
    evicted = lf.evicted

    def walk(s):
        p = getattr(s, mm.pte)
        if not (p.present and p.folio != ZERO):
            return {GOTO: cont}                        # nothing on the LRU for this address
        fid = p.folio
        d = {page: fid}
        skipped = dict(d)                              # the aging pass does not visit the PTE
        if getattr(s, mm.ptl) != FREE:
            return skipped                             # spin_trylock(ptl) failed
        if (p.dirty and not getattr(s, mm.f["dirty"][fid])
                and not (getattr(s, mm.f["swapbacked"][fid]) and not getattr(s, mm.f["swapcache"][fid]))):
            mm.fset(d, fid, dirty=True)                # folio_mark_dirty()
        return [d, skipped] if d != skipped else d

    # The aging walk visits the PTE, or it does not: the PTL is a per-page-table lock that any other
    # CPU working in the same 2 MiB may hold (spin_trylock fails, walk_pte_range returns false), and
    # should_skip_mm() skips an mm that did not run since the last walk or has fewer than
    # MIN_LRU_BATCH pages; eviction then meets the folio as it was, its PTE dirty bit not moved.
    ctx.step("walk_pte_range", "mm/vmscan.c:walk_pte_range (MGLRU aging): spin_trylock(ptl) [fails: "
             "return false]; pte_young() [else skip]; ptep_test_and_clear_young(); pte_dirty && "
             "!folio_test_dirty && !(anon && swapbacked && !swapcache) -> folio_mark_dirty(folio) "
             "[or this aging pass does not reach the PTE: should_skip_mm(), PTL contended]",
             effect=walk,
             reads=[mm.ptl, mm.pte] + mm.ff("dirty", "swapbacked", "swapcache"),
             writes=[page] + mm.ff("dirty"), branches=[cont])

    def sort(s):
        fid = getattr(s, page)
        file_type = not getattr(s, mm.f["swapbacked"][fid])   # folio_is_file_lru()
        dirty = getattr(s, mm.f["dirty"][fid])
        d = {npass: getattr(s, npass) + 1}
        again = "sort_folio" if getattr(s, npass) + 1 < lf.passes else "end"
        if evicted and file_type and dirty:
            d[evicted] = True
        if k.mglru_sort_folio == "v6.10" and file_type and dirty:
            mm.fset(d, fid, swapbacked=True)           # "dirty lazyfree": folio_set_swapbacked()
            d[GOTO] = again
            return d
        locked = getattr(s, mm.lock[fid]) != FREE
        if k.mglru_sort_folio in ("v6.10", "v6.11") and (
                locked or getattr(s, mm.f["writeback"][fid]) or (file_type and dirty)):
            d[GOTO] = again                            # folio_inc_gen()
            return d
        d[GOTO] = "isolate"
        return d

    blocks = {"v6.10": "/* dirty lazyfree */ type == LRU_GEN_FILE && anon && dirty -> "
                       "folio_set_swapbacked(); lruvec_add_folio_tail(); return true; "
                       "/* waiting for writeback */ locked || writeback || (FILE && dirty) -> "
                       "folio_inc_gen()",
              "v6.11": "/* waiting for writeback */ locked || writeback || (type == LRU_GEN_FILE && "
                       "dirty) -> folio_inc_gen(); return true",
              "newest": "unevictable/promoted/protected/ineligible only"}
    ctx.step("sort_folio", f"mm/vmscan.c:sort_folio ({k.mglru_sort_folio}): {blocks[k.mglru_sort_folio]}; "
             "else return false -> isolate_folio()",
             effect=sort, reads=[page, npass] + mm.locks() + mm.ff("swapbacked", "dirty", "writeback"),
             writes=[npass] + mm.ff("swapbacked") + ([evicted] if evicted else []),
             branches=["sort_folio", "end", "isolate"])

    def isolate(s):
        d = {}
        mm.get_folio(s, d, getattr(s, page))
        return d

    ctx.step("isolate", "mm/vmscan.c:isolate_folio: folio_try_get(); folio_test_clear_lru(); "
             "lru_gen_del_folio()",
             effect=isolate, reads=[page] + mm.ff("ref"), writes=mm.ff("ref"))


def emit_reclaim(ctx: Ctx, lzm: LazyMM, *, mglru: bool, passes: int = 2, cont: str = DONE,
                 evicted: str | None = None, retry: bool = False) -> None:
    """One reclaimer working on the folio mapped at the address when it starts: the shared
    shrink_folio_list (here) / try_to_unmap_one (models/rmap.py) with their lazyfree branches. With
    `mglru`: walk_pte_range() aging, then up to `passes` eviction passes of sort_folio() before
    isolation; otherwise the active/inactive LRU isolates the folio from the inactive file list where
    folio_mark_lazyfree() (or folio_add_new_anon_rmap() of a droppable mapping) put it. `evicted`, a
    ghost, records that an eviction pass met the folio dirty on the file LRU (pass it for a droppable
    VMA: the folio is then dirty and droppable)."""
    lz = lzm.lz
    emit_shrink_page_list(ctx, lz.kernel(), cont=cont, tlb_flush=lzm.flush_hook(),
                          lazyfree=Lazyfree(lru="mglru" if mglru else "inactive_file", passes=passes,
                                            droppable_vma=lz.droppable_vma, evicted=evicted,
                                            seeded_ignore_dirty=lz.seeded_ignore_dirty, retry=retry))
