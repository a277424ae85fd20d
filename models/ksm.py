"""mm/ksm.c: ksm_madvise() (MADV_MERGEABLE, vma_ksm_compatible()) and ksmd merging the page into a
KSM page (try_to_merge_one_page(): write_protect_page(), replace_page()).

----------------------------------------------------------------------------------------------------
The paths that could let a MAP_DROPPABLE page escape its guarantees, and GUP-fast against lazyfree
reclaim.

* KSM: madvise(MADV_MERGEABLE) -> mm/ksm.c:ksm_madvise(): `if (!vma_ksm_compatible(vma)) return 0`
  ("just ignore the advice"); 9651fcedf7b9 adds VM_DROPPABLE to the flags vma_ksm_compatible() refuses.
  ksmd: scan_get_next_rmap_item() visits only VM_MERGEABLE VMAs; cmp_and_merge_page() ->
  stable_tree_search() finds a KSM page with the same content -> try_to_merge_with_ksm_page() ->
  try_to_merge_one_page(): folio_trylock(); write_protect_page() (under the PTL: ptep_clear_flush();
  `folio_mapcount(folio) + 1 + swapped != folio_ref_count(folio)` -> restore, "no O_DIRECT or similar
  I/O"; anon_exclusive && folio_try_share_anon_rmap_pte() -> restore; pte_dirty -> folio_mark_dirty;
  set_pte_at(wrprotect(mkclean))), pages_identical(), replace_page() (under the PTL: pte_same(orig_pte);
  folio_get(kfolio); folio_add_anon_rmap_pte(kfolio, ..., RMAP_NONE); set_pte_at(mk_pte(kpage),
  read-only); folio_remove_rmap_pte(folio); folio_put(folio)). The KSM page keeps its PG_swapbacked,
  so before the refusal the droppable address ends up mapping a swap-backed folio (David Hildenbrand,
  v22 review: "We don't want to suddenly get pages that are swapbacked"). The mm/ksm.c steps follow
  the v6.x source as the KSM literature and the v22 review describe it; mm/ksm.c itself was not
  re-read for this model.
* userfaultfd: UFFDIO_REGISTER -> userfaultfd_register() -> vma_can_userfault(vma, vm_flags, ...):
  - the MAP_DROPPABLE series up to v22: no VM_DROPPABLE test;
  - 9651fcedf7b9 (v6.11): `vm_flags &= __VM_UFFD_FLAGS; if (vm_flags & VM_DROPPABLE) return false;`,
    a test of the *requested* flags after they were masked to the uffd bits, so it never fires
    (Tal Zussman, "userfaultfd: correctly prevent registering VM_DROPPABLE regions", June 2025,
    Fixes: 9651fcedf7b9);
  - that fix (present in v6.17-rc3): `if (vma->vm_flags & VM_DROPPABLE) return false;`.
  UFFDIO_MOVE -> move_pages(): validate_move_areas() requires the destination VMA registered with
  the context; move_pages_pte() requires pte_none at the destination (-EEXIST) and a present source
  PTE; move_present_pte(): double_pt_lock(); `folio_maybe_dma_pinned(src_folio) ||
  !PageAnonExclusive(&src_folio->page)` -> -EBUSY; ptep_clear_flush(src); folio_move_anon_rmap(
  src_folio, dst_vma); folio_mk_pte(); pte_mkwrite(pte_mkdirty()); set_pte_at(dst). The moved folio
  keeps its PG_swapbacked: "someone could place swapbacked pages in there (using UFFDIO_MOVE)".
* fork: do_mmap(MAP_DROPPABLE) sets VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
  dup_mmap() copies the VMA flags (the child's VMA is droppable too) and calls copy_page_range() only
  `if (!(tmp->vm_flags & VM_WIPEONFORK))`; madvise(MADV_KEEPONFORK) returns -EINVAL on a droppable
  VMA since 9651fcedf7b9. Without the wipe, copy_present_pte() shares the anon folio:
  folio_try_dup_anon_rmap_pte() (clears PageAnonExclusive), both PTEs write-protected.
* GUP-fast (mm/gup.c:gup_fast_pte_range, FOLL_GET | FOLL_WRITE as the blkdev direct-I/O read of
  6c8e2a256915 used it): B1 ptep_get_lockless(); B2 pte_access_permitted(FOLL_WRITE); B3
  try_grab_folio_fast() (folio_ref_try_add, fails on a freed folio); B4 re-read the PTE, on change
  gup_put_folio() and fall back to the slow path. The slow path (__get_user_pages: follow_page_pte()
  under the PTL; faultin_page() -> do_anonymous_page() for pte_none, then retry) is one step here.
  The device write and the release reuse models/gup.py (emit_dma_write, emit_gup_release:
  bio_release_pages() -> set_page_dirty_lock(); put_page()).

The second user address of KSM / UFFDIO_MOVE (the KSM page's own mapping, the move's source) is a
second PTE field; both PTEs are covered by the one modelled PTL (move_present_pte takes both
PTLs with double_pt_lock(), so its section is atomic either way).
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .mm import NO_FOLIO, PTE_NONE, ZERO, Ctx, LazyMM, pte_present


def emit_ksm_madvise(ctx: Ctx, lzm: LazyMM, mergeable: str, *, refuse_droppable: bool,
                     cont: str = DONE) -> None:
    def madv(s):
        d = {GOTO: cont}
        if not (refuse_droppable and lzm.lz.droppable):
            d[mergeable] = True
        return d

    ctx.step("ksm_madvise", "mm/ksm.c:ksm_madvise(MADV_MERGEABLE): vma_ksm_compatible() ["
             + ("VM_SHARED|...|VM_MIXEDMAP|VM_DROPPABLE -> ignore the advice" if refuse_droppable else
                "VM_SHARED|VM_MAYSHARE|VM_PFNMAP|VM_IO|VM_DONTEXPAND|VM_HUGETLB|VM_MIXEDMAP")
             + "]; vm_flags |= VM_MERGEABLE; __ksm_enter()",
             effect=madv, writes=[mergeable], branches=[cont])


def emit_ksmd(ctx: Ctx, lzm: LazyMM, mergeable: str, kpage: str, cont: str = DONE) -> None:
    """ksmd merging the droppable page into the stable KSM page `kpage` with the same content."""
    mm = lzm.mm
    page = ctx.local("page", NO_FOLIO, "cmp_and_merge_page: the page scanned (get_mergeable_page ref)")
    orig = ctx.local("orig_pte", PTE_NONE, "try_to_merge_one_page: orig_pte from write_protect_page")
    folio_all = mm.all_folio()

    def scan(s):
        p = getattr(s, mm.pte)
        if not getattr(s, mergeable) or not p.present or p.folio in (ZERO, kpage):
            return {GOTO: cont}                        # no VM_MERGEABLE VMA / nothing to merge
        fid = p.folio
        if getattr(s, mm.f["data"][fid]) != getattr(s, mm.f["data"][kpage]):
            return {GOTO: cont}                        # stable_tree_search(): no identical KSM page
        d = {page: fid}
        mm.get_folio(s, d, fid)                        # get_mergeable_page(): folio_get()
        return d

    ctx.step("scan", "mm/ksm.c:ksm_do_scan -> scan_get_next_rmap_item() [VM_MERGEABLE VMAs only]; "
             "get_mergeable_page(); cmp_and_merge_page -> stable_tree_search() [pages_identical()]",
             effect=scan, reads=[mergeable, mm.pte] + mm.ff("data", "ref"),
             writes=[page] + mm.ff("ref"), branches=[cont])

    def wrprotect(s):
        fid = getattr(s, page)
        if getattr(s, mm.lock[fid]) != FREE:
            return {GOTO: "put"}                       # !folio_trylock()
        d = {mm.lock[fid]: ctx.owner}
        p = getattr(s, mm.pte)
        if not (p.present and p.folio == fid):
            d[GOTO] = "put"
            return d
        if p.write or p.dirty or mm.fv(s, d, "excl", fid):
            swapped = 1 if mm.fv(s, d, "swapcache", fid) else 0
            if mm.fv(s, d, "map", fid) + 1 + swapped != mm.fv(s, d, "ref", fid):
                d[GOTO] = "put"                        # O_DIRECT in flight: set_pte_at(entry) back
                return d
            if mm.fv(s, d, "excl", fid):
                if mm.fv(s, d, "pin", fid):
                    d[GOTO] = "put"
                    return d
                mm.fset(d, fid, excl=False)            # folio_try_share_anon_rmap_pte()
            if p.dirty:
                mm.fset(d, fid, dirty=True)
            p = p._replace(write=False, dirty=False)
            d[mm.pte] = p
            lzm.flush(d)
        d[orig] = p
        return d

    ctx.step("write_protect_page", "mm/ksm.c:try_to_merge_one_page: folio_trylock(); write_protect_page(): "
             "[PTL] ptep_clear_flush(); mapcount + 1 + swapped != refcount -> restore; anon_exclusive && "
             "folio_try_share_anon_rmap_pte(); pte_dirty -> folio_mark_dirty(); "
             "set_pte_at(pte_wrprotect(pte_mkclean()))",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=wrprotect,
             reads=[page, mm.ptl, mm.pte] + mm.locks() + mm.all_folio(),
             writes=mm.locks() + [mm.pte, orig] + mm.ff("excl", "dirty") + lzm.tlb_fields(), branches=["put"])

    def replace(s):
        fid = getattr(s, page)
        d = {GOTO: "put"}
        if getattr(s, mm.pte) != getattr(s, orig):
            return d                                   # !pte_same(): the page changed, no merge
        mm.get_folio(s, d, kpage)                      # folio_get(kfolio)
        mm.fset(d, kpage, map=mm.fv(s, d, "map", kpage) + 1)   # folio_add_anon_rmap_pte(RMAP_NONE)
        d[mm.pte] = pte_present(kpage)                 # set_pte_at(mk_pte(kpage)) read-only
        lzm.flush(d)
        mm.fset(d, fid, map=mm.fv(s, d, "map", fid) - 1)       # folio_remove_rmap_pte(folio)
        mm.put_folio(s, d, fid)
        return d

    ctx.step("replace_page", "mm/ksm.c:replace_page: [PTL] pte_same(orig_pte); folio_get(kfolio); "
             "folio_add_anon_rmap_pte(kfolio, kpage, vma, addr, RMAP_NONE); ptep_clear_flush(); "
             "set_pte_at(mk_pte(kpage)); folio_remove_rmap_pte(folio); folio_put(folio)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=replace,
             reads=[page, orig, mm.ptl, mm.pte] + mm.all_folio(),
             writes=[mm.pte] + folio_all + lzm.tlb_fields(), branches=["put"])

    def put(s):
        fid = getattr(s, page)
        d = {GOTO: cont}
        if getattr(s, mm.lock[fid]) == ctx.owner:
            d[mm.lock[fid]] = FREE
        mm.put_folio(s, d, fid)
        ctx.reset(d, "page", "orig_pte")
        return d

    ctx.step("put", "mm/ksm.c:try_to_merge_one_page: folio_unlock(); cmp_and_merge_page: folio_put()",
             effect=put, reads=[page] + mm.locks() + mm.ff("ref", "map", "swapcache"),
             writes=mm.locks() + folio_all + [page, orig], branches=[cont])
