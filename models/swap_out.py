"""Swap-out: mm/vmscan.c:shrink_page_list() on the folio mapped at the address, with
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

Abstractions: one swap slot, so add_to_swap() fails (activate) while the slot is in use, where the
kernel would pick another slot; the data written to the slot is the page content when the write is
submitted; TLB flushes are immediate (no deferred batch flush); the walk over other mappings of the
folio is not modelled (one mm, one address).
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .mm import NO_FOLIO, PTE_NONE, Ctx, Kernel, pte_swap


def emit_shrink_page_list(ctx: Ctx, k: Kernel, *, isolate_ref: str | None = None,
                          cont: str = DONE) -> None:
    mm = ctx.mm
    page = ctx.local("page", NO_FOLIO, "the folio reclaim isolated")
    excl = ctx.local("anon_excl", False, "try_to_unmap_one: anon_exclusive")
    pteval = ctx.local("pteval", PTE_NONE, "try_to_unmap_one: pteval (the cleared PTE)")
    folio_all = mm.all_folio()
    slot = mm.slot_fields()
    locals_ = [page, excl, pteval]

    def keep(s, d, locked: bool = True):
        """The folio is not reclaimed: continue at the `keep` step (unlock, putback)."""
        d[GOTO] = "keep"
        return d

    def isolate(s):
        fid = getattr(s, mm.pte).folio
        d = {page: fid}
        mm.get_folio(s, d, fid)
        return d

    ctx.step("isolate", isolate_ref or "mm/vmscan.c:isolate_lru_pages: folio_try_get(); "
             "folio_test_clear_lru() [the folio mapped at the address]",
             guard=lambda s: getattr(s, mm.pte).present, effect=isolate,
             reads=[mm.pte] + mm.ff("ref"), writes=[page] + mm.ff("ref"))

    def trylock(s):
        fid = getattr(s, page)
        if getattr(s, mm.lock[fid]) != FREE:
            return keep(s, {}, locked=False)
        d = {mm.lock[fid]: ctx.owner}
        if k.pinned_swapout_check and getattr(s, mm.f["pin"][fid]):
            return keep(s, d)
        return d

    ctx.step("trylock", "mm/vmscan.c:shrink_page_list: trylock_page(page)"
             + ("; folio_maybe_dma_pinned() -> keep_locked" if k.pinned_swapout_check else ""),
             effect=trylock, reads=[page] + mm.locks() + mm.ff("pin", "ref", "map", "swapcache"),
             writes=mm.locks() + folio_all + locals_, branches=["keep"])

    def add_to_swap(s):
        fid = getattr(s, page)
        d = {}
        if getattr(s, mm.f["swapcache"][fid]):
            return d                                   # already in the swap cache
        if mm.slot_in_use(s, d):
            return keep(s, d)                          # get_swap_page() fails -> activate_locked
        d[mm.swp_has_cache] = True
        d[mm.swp_cache] = fid
        mm.fset(d, fid, swapcache=True, dirty=True)
        mm.get_folio(s, d, fid)
        return d

    ctx.step("add_to_swap", "mm/swap_state.c:add_to_swap: get_swap_page(); add_to_swap_cache(); "
             "set_page_dirty(page)",
             effect=add_to_swap, reads=[page] + slot + mm.ff("swapcache", "ref", "map"),
             writes=slot + folio_all + mm.locks() + locals_, branches=["keep"])

    # -- try_to_unmap_one ---------------------------------------------------------------------------
    def unmap_clear(s):
        fid = getattr(s, page)
        pte = getattr(s, mm.pte)
        if not (pte.present and pte.folio == fid):
            return {GOTO: "pageout"}                   # page_vma_mapped_walk() finds no mapping
        d = {mm.ptl: ctx.owner, pteval: pte, mm.pte: PTE_NONE}
        if k.anon_exclusive:
            d[excl] = getattr(s, mm.f["excl"][fid])
        if pte.dirty:
            mm.fset(d, fid, dirty=True)                # set_page_dirty() for a dirty pteval
        return d

    ctx.step("unmap_clear", "mm/rmap.c:try_to_unmap_one: page_vma_mapped_walk() [PTL]; "
             + ("anon_exclusive = PageAnonExclusive(subpage); " if k.anon_exclusive else "")
             + "pteval = ptep_clear_flush(); pte_dirty(pteval) -> set_page_dirty(page)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=unmap_clear,
             reads=[mm.ptl, mm.pte, page] + mm.ff("excl"),
             writes=[mm.ptl, pteval, mm.pte, excl] + mm.ff("dirty"), branches=["pageout"])

    def unmap_dup(s):
        fid = getattr(s, page)
        d = {mm.swp_count: getattr(s, mm.swp_count) + 1}     # swap_duplicate(entry)
        if k.anon_exclusive and getattr(s, excl):
            if getattr(s, mm.f["pin"][fid]):
                # page_try_share_anon_rmap() fails: swap_free(entry); set_pte_at(pteval); abort
                d[mm.swp_count] = getattr(s, mm.swp_count)
                d[mm.pte] = getattr(s, pteval)
                d[mm.ptl] = FREE
                return keep(s, d)
            mm.fset(d, fid, excl=False)                 # ClearPageAnonExclusive()
        return d

    ctx.step("unmap_dup", "mm/rmap.c:try_to_unmap_one: swap_duplicate(entry)"
             + ("; anon_exclusive && page_try_share_anon_rmap(subpage) [fails if maybe pinned]"
                if k.anon_exclusive else ""),
             effect=unmap_dup, reads=[page, excl, pteval, mm.swp_count] + mm.ff("pin", "ref", "map", "swapcache"),
             writes=[mm.swp_count, mm.pte, mm.ptl] + folio_all + mm.locks() + locals_, branches=["keep"])

    def unmap_set(s):
        fid = getattr(s, page)
        pv = getattr(s, pteval)
        d = {mm.ptl: FREE,
             mm.pte: pte_swap(mm.slot, exclusive=getattr(s, excl) and k.swp_exclusive,
                              soft_dirty=pv.soft_dirty, uffd_wp=pv.uffd_wp, arch=k.arch)}
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)    # page_remove_rmap()
        mm.put_folio(s, d, fid)
        ctx.reset(d, "anon_excl", "pteval")
        return d

    if k.swp_exclusive:
        mk = "if (anon_exclusive) swp_pte = pte_swp_mkexclusive(swp_pte); "
    elif k.anon_exclusive and k.remember_exclusive:
        mk = "pte_swp_mkexclusive(): no swp exclusive bit on this arch; "
    else:
        mk = ""
    ctx.step("unmap_set", "mm/rmap.c:try_to_unmap_one: swp_pte = swp_entry_to_pte(entry); " + mk
             + "pte_swp_mksoft_dirty/mkuffd_wp; set_pte_at(swp_pte); page_remove_rmap(); put_page() "
             "[drops PTL]",
             effect=unmap_set, reads=[page, pteval, excl] + mm.ff("map", "ref", "swapcache"),
             writes=[mm.ptl, mm.pte, excl, pteval] + folio_all)

    # -- pageout ------------------------------------------------------------------------------------
    def pageout(s):
        fid = getattr(s, page)
        if getattr(s, mm.f["map"][fid]):
            return keep(s, {})                         # still mapped: activate_locked
        if not getattr(s, mm.f["dirty"][fid]):
            return {GOTO: "remove"}                    # clean: straight to __remove_mapping()
        if getattr(s, mm.f["ref"][fid]) != 2:
            return keep(s, {})                         # !is_page_cache_freeable(): PAGE_KEEP
        return None

    ctx.step("pageout", "mm/vmscan.c:shrink_page_list: PageDirty() -> pageout(): "
             "is_page_cache_freeable() [only the isolation and swap-cache references, else PAGE_KEEP]",
             effect=pageout, reads=[page] + mm.ff("map", "dirty", "ref"), branches=["keep", "remove"])

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
        if (getattr(s, mm.f["dirty"][fid]) or getattr(s, mm.f["writeback"][fid])
                or getattr(s, mm.f["map"][fid]) or getattr(s, mm.f["ref"][fid]) != 2):
            return keep(s, d)                          # redirtied / remapped / folio_ref_freeze() fails
        # __delete_from_swap_cache(); put_swap_page(); the frozen folio is freed
        d[mm.swp_cache] = NO_FOLIO
        d[mm.swp_has_cache] = False
        mm.fset(d, fid, swapcache=False)
        mm.put_folio(s, d, fid, 2)
        d[mm.lock[fid]] = FREE
        mm.maybe_free_slot(s, d)
        ctx.reset(d, "page")
        d[GOTO] = cont
        return d

    ctx.step("remove", "mm/vmscan.c:shrink_page_list: trylock_page(); PageDirty/PageWriteback -> keep; "
             "__remove_mapping(): folio_ref_freeze(folio, 2) [fails with extra references]; "
             "PageDirty() -> unfreeze; __delete_from_swap_cache(); put_swap_page(); free the folio",
             effect=remove, reads=[page] + mm.locks() + slot + mm.ff("dirty", "writeback", "map", "ref", "swapcache"),
             writes=mm.locks() + slot + folio_all + locals_, branches=["keep", cont])

    def keep_step(s):
        fid = getattr(s, page)
        d = {GOTO: cont}
        if getattr(s, mm.lock[fid]) == ctx.owner:
            d[mm.lock[fid]] = FREE
        mm.put_folio(s, d, fid)
        ctx.reset(d, "page", "anon_excl", "pteval")
        return d

    ctx.step("keep", "mm/vmscan.c:shrink_page_list: keep_locked / activate_locked: unlock_page(); "
             "putback_lru_page() [drops the isolation reference]",
             effect=keep_step, reads=[page] + mm.locks() + mm.ff("ref", "map", "swapcache"),
             writes=mm.locks() + folio_all + locals_, branches=[cont])
