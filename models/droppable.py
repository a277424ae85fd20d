"""The paths that could let a MAP_DROPPABLE page escape its guarantees, and GUP-fast against lazyfree
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

from .gup import emit_dma_write, emit_gup_release
from .lazyfree import ZERO, LazyMM
from .mm import NO_FOLIO, PTE_NONE, Ctx, pte_present


# --------------------------------------------------------------------------------------------
# KSM


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


# --------------------------------------------------------------------------------------------
# userfaultfd


UFFD_CHECKS = ("none", "masked", "vma")


def emit_uffd_monitor(ctx: Ctx, lzm: LazyMM, registered: str, src_pte: str, *, check: str,
                      cont: str = DONE) -> None:
    mm = lzm.mm
    assert check in UFFD_CHECKS
    result = ctx.local("result", "-", "the last ioctl's return")

    def register(s):
        d = {}
        refused = check == "vma" and lzm.lz.droppable
        # "masked": vm_flags &= __VM_UFFD_FLAGS leaves only VM_UFFD_MISSING: the VM_DROPPABLE test is dead
        if refused:
            d[result] = "-EINVAL"
        else:
            d[registered] = True
            d[result] = "0"
        return d

    tests = {"none": "", "masked": "vm_flags &= __VM_UFFD_FLAGS; if (vm_flags & VM_DROPPABLE) return false "
             "[the requested flags: never true]; ", "vma": "if (vma->vm_flags & VM_DROPPABLE) return false; "}
    ctx.step("uffdio_register", "fs/userfaultfd.c:userfaultfd_register(UFFDIO_REGISTER_MODE_MISSING) -> "
             f"vma_can_userfault(): {tests[check]}vma_is_anonymous() -> vm_flags |= VM_UFFD_MISSING",
             effect=register, writes=[registered, result])

    def move(s):
        d = {GOTO: cont}
        if not getattr(s, registered):
            d[result] = "-EINVAL"                      # validate_move_areas(): dst_vma not registered
            return d
        dst, src = getattr(s, mm.pte), getattr(s, src_pte)
        if dst.kind != "none":
            d[result] = "-EEXIST"
            return d
        if not src.present:
            d[result] = "-ENOENT"
            return d
        fid = src.folio
        if getattr(s, mm.lock[fid]) != FREE:
            d[result] = "-EAGAIN"                      # folio_trylock() failed: retried by user space
            return d
        if mm.fv(s, d, "pin", fid) or not mm.fv(s, d, "excl", fid):
            d[result] = "-EBUSY"
            return d
        d[src_pte] = PTE_NONE                          # ptep_clear_flush(src)
        lzm.flush(d)
        # folio_move_anon_rmap(src_folio, dst_vma): the folio keeps PG_swapbacked
        d[mm.pte] = pte_present(fid, write=True, dirty=True)
        d[result] = "0"
        return d

    ctx.step("uffdio_move", "mm/userfaultfd.c:move_pages: validate_move_areas() [dst registered]; "
             "move_pages_pte: pte_none(dst) else -EEXIST; move_present_pte: double_pt_lock(); "
             "folio_maybe_dma_pinned || !PageAnonExclusive -> -EBUSY; ptep_clear_flush(src); "
             "folio_move_anon_rmap(src_folio, dst_vma); set_pte_at(dst, pte_mkwrite(pte_mkdirty())); "
             "wake_userfault()",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=move,
             reads=[registered, mm.ptl, mm.pte, src_pte] + mm.locks() + mm.ff("pin", "excl"),
             writes=[result, src_pte, mm.pte] + lzm.tlb_fields(), branches=[cont])


# --------------------------------------------------------------------------------------------
# fork of a VM_DROPPABLE | VM_WIPEONFORK mapping


def emit_keeponfork(ctx: Ctx, lzm: LazyMM, wipe: str, *, refuse: bool) -> None:
    result = ctx.local("result", "-", "madvise() return")

    def madv(s):
        if refuse and lzm.lz.droppable:
            return {result: "-EINVAL"}
        return {wipe: False, result: "0"}

    ctx.step("keeponfork", "mm/madvise.c:madvise_vma_behavior(MADV_KEEPONFORK): "
             + ("VM_DROPPABLE -> -EINVAL; " if refuse else "") + "new_flags &= ~VM_WIPEONFORK",
             effect=madv, writes=[wipe, result])


def emit_fork(ctx: Ctx, lzm: LazyMM, wipe: str, child_pte: str, forked: str, cont: str = DONE) -> None:
    mm = lzm.mm

    def fork(s):
        d = {forked: True, GOTO: cont}
        if getattr(s, wipe):
            return d                                   # VM_WIPEONFORK: no copy_page_range()
        p = getattr(s, mm.pte)
        if p.present:
            if p.folio != ZERO:
                fid = p.folio
                mm.get_folio(s, d, fid)
                mm.fset(d, fid, map=mm.fv(s, d, "map", fid) + 1, excl=False)
            shared = p._replace(write=False)
            d[mm.pte] = shared
            d[child_pte] = shared
            lzm.flush(d)
        return d

    ctx.step("fork", "kernel/fork.c:dup_mmap: vm_area_dup() [VM_DROPPABLE inherited]; "
             "if (!(tmp->vm_flags & VM_WIPEONFORK)) copy_page_range() -> copy_present_pte(): "
             "folio_try_dup_anon_rmap_pte(); ptep_set_wrprotect() in parent and child [PTL]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=fork,
             reads=[wipe, mm.ptl, mm.pte] + mm.ff("ref", "map"),
             writes=[forked, mm.pte, child_pte] + mm.ff("ref", "map", "excl") + lzm.tlb_fields(),
             branches=[cont])


# --------------------------------------------------------------------------------------------
# GUP-fast (FOLL_GET | FOLL_WRITE), slow-path fallback, device write and release


def emit_gup_fast(ctx: Ctx, lzm: LazyMM, done_ghost: str, target_ghost: str, cont: str = DONE) -> str:
    mm = lzm.mm
    spec = ctx.local("gup_spec", NO_FOLIO, "gup_fast_pte_range: the folio grabbed at B3, not yet validated")
    held = ctx.local("gup", NO_FOLIO, "the page the GUP reference holds (returned by GUP)")
    seen = ctx.local("gup_pte", PTE_NONE, "gup_fast_pte_range: the PTE read at B1")

    def read_pte(s):
        p = getattr(s, mm.pte)
        if not (p.present and p.write) or p.folio == ZERO:
            return {GOTO: "gup_slow"}                  # !pte_access_permitted(FOLL_WRITE): slow path
        return {seen: p}

    ctx.step("gup_fast.read_pte", "mm/gup.c:gup_fast_pte_range: local_irq_save(); pte = "
             "ptep_get_lockless(ptep) [B1]; pte_access_permitted(pte, FOLL_WRITE) [B2]",
             effect=read_pte, reads=[mm.pte], writes=[seen], branches=["gup_slow"])

    def grab(s):
        fid = getattr(s, seen).folio
        if getattr(s, mm.f["ref"][fid]) == 0:
            return {GOTO: "gup_slow", seen: PTE_NONE}  # folio_ref_try_add() on a freed folio fails
        d = {spec: fid}
        mm.get_folio(s, d, fid)
        return d

    ctx.step("gup_fast.grab", "mm/gup.c:try_grab_folio_fast(FOLL_GET) -> try_get_folio(): "
             "folio_ref_try_add() [B3]",
             effect=grab, reads=[seen] + mm.ff("ref"), writes=[spec, seen] + mm.ff("ref"), branches=["gup_slow"])

    def recheck(s):
        fid = getattr(s, spec)
        if getattr(s, mm.pte) != getattr(s, seen):
            d = {spec: NO_FOLIO, seen: PTE_NONE, GOTO: "gup_slow"}
            mm.put_folio(s, d, fid)                    # gup_put_folio(); fall back
            return d
        return {held: fid, spec: NO_FOLIO, seen: PTE_NONE, GOTO: "dma"}

    ctx.step("gup_fast.recheck", "mm/gup.c:gup_fast_pte_range: pte_val(pte) != "
             "pte_val(ptep_get_lockless(ptep)) -> gup_put_folio() [B4]; local_irq_restore()",
             effect=recheck, reads=[spec, seen, mm.pte] + mm.ff("ref", "map", "swapcache"),
             writes=[held, spec, seen] + mm.all_folio(), branches=["gup_slow", "dma"])

    def slow(s):
        p = getattr(s, mm.pte)
        d = {GOTO: "dma"}
        if p.present and p.write and p.folio != ZERO:
            fid = p.folio
        elif p.kind == "none":
            fid = lzm.new_anon_folio(s, d)             # faultin_page() -> do_anonymous_page()
            d[mm.pte] = pte_present(fid, write=True, dirty=True)
        else:
            raise AssertionError(f"gup slow path: PTE {p} not modelled")
        d[held] = fid
        mm.get_folio(s, d, fid)
        return d

    ctx.step("gup_slow", "mm/gup.c:__get_user_pages: follow_page_pte() [PTL] -> try_grab_folio(); "
             "no page: faultin_page() -> handle_mm_fault() -> do_anonymous_page(); retry",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=slow,
             reads=[mm.ptl, mm.pte] + mm.ff("ref"), writes=[held, mm.pte] + mm.all_folio(), branches=["dma"])

    emit_dma_write(ctx, held, done_ghost, target_ghost)
    emit_gup_release(ctx, held, pin=False, cont=cont)
    return held


__all__ = ["emit_ksm_madvise", "emit_ksmd", "emit_uffd_monitor", "emit_keeponfork", "emit_fork",
           "emit_gup_fast", "UFFD_CHECKS"]
