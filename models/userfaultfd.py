"""mm/userfaultfd.c and fs/userfaultfd.c: UFFDIO_REGISTER (vma_can_userfault()) and UFFDIO_MOVE of a
present PTE (move_pages() -> move_pages_pte() -> move_present_pte()).
"""

from __future__ import annotations

from pteverify.memmodel import Mem
from pteverify.model import DONE, FREE, GOTO

from .mm import MM, NO_FOLIO, PTE_NONE, ZERO, Ctx, LazyMM, pte_present
from .tlb import emit_tlb_flush


# vma_can_userfault()'s VM_DROPPABLE test: "none" (the MAP_DROPPABLE series up to v22), "masked"
# (9651fcedf7b9: the masked requested flags are tested), "vma" (vma->vm_flags tested; the static inline
# of include/linux/userfaultfd_k.h read in v6.17-rc3), "mainline-2026" (the same test in the function
# now in mm/userfaultfd.c, after vma_uffd_ops() and before ops->can_userfault(); read at @01730ada6dd5)
UFFD_CHECKS = ("none", "masked", "vma", "mainline-2026")


def emit_uffd_monitor(ctx: Ctx, lzm: LazyMM, registered: str, src_pte: str, *, check: str,
                      cont: str = DONE) -> None:
    mm = lzm.mm
    assert check in UFFD_CHECKS
    result = ctx.local("result", "-", "the last ioctl's return")

    def register(s):
        d = {}
        refused = check in ("vma", "mainline-2026") and lzm.lz.droppable
        # "masked": vm_flags &= __VM_UFFD_FLAGS leaves only VM_UFFD_MISSING: the VM_DROPPABLE test is dead
        if refused:
            d[result] = "-EINVAL"
        else:
            d[registered] = True
            d[result] = "0"
        return d

    tests = {"none": "", "masked": "vm_flags &= __VM_UFFD_FLAGS; if (vm_flags & VM_DROPPABLE) return false "
             "[the requested flags: never true]; ", "vma": "if (vma->vm_flags & VM_DROPPABLE) return false; "}
    if check == "mainline-2026":
        register_ref = ("fs/userfaultfd.c:userfaultfd_register(UFFDIO_REGISTER_MODE_MISSING) -> "
                        "mm/userfaultfd.c:vma_can_userfault: ops = vma_uffd_ops(vma); vm_flags &= "
                        "__VM_UFFD_FLAGS; if (vma->vm_flags & VM_DROPPABLE) return false; "
                        "ops->can_userfault(vma, vm_flags) -> vm_flags |= VM_UFFD_MISSING")
    else:
        register_ref = ("fs/userfaultfd.c:userfaultfd_register(UFFDIO_REGISTER_MODE_MISSING) -> "
                        f"include/linux/userfaultfd_k.h:vma_can_userfault: {tests[check]}vma_is_anonymous() "
                        "-> vm_flags |= VM_UFFD_MISSING")
    ctx.step("uffdio_register", register_ref,
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
# UFFDIO_MOVE of a swap PTE: move_pages_ptes() -> move_swap_pte()

MOVE_SWAP_FORMS = ("adef440691ba", "c50f8e6053b0", "0ea148a79919", "mainline-2026")


def emit_move_swap_pte(ctx: Ctx, src: MM, dst: MM, *, form: str, cont: str = DONE) -> None:
    """UFFDIO_MOVE of the one page from `src`'s PTE to `dst`'s (two VMAs of one mm, so both views share
    the folios and the swap slot), on a swap PTE, in the forms:

    * "adef440691ba" ("userfaultfd: UFFDIO_MOVE uABI", v6.8): move_swap_pte() moves the swap PTE under
      double_pt_lock() after is_pte_pages_stable(); a folio in the swap cache keeps the source VMA's anon
      rmap and index;
    * "c50f8e6053b0" ("mm: fix kernel BUG when userfaultfd_move encounters swapcache"): a lockless
      filemap_get_folio(swap_address_space(entry)) lookup; a folio found is trylocked and
      folio_move_anon_rmap()ed to the destination under the PTLs;
    * "0ea148a79919" ("mm: userfaultfd: fix race of userfaultfd_move and swap cache", Fixes
      adef440691ba): after the folio lock, !folio_test_swapcache || folio->swap != entry -> -EAGAIN;
      without a folio, SWAP_HAS_CACHE in swap_map under the PTLs -> -EAGAIN;
    * "mainline-2026" (linux-mm mm/userfaultfd.c @ c5dfa74d): swap_cache_get_folio(); the same checks,
      the second one as swap_cache_has_folio(entry).

    -EAGAIN restarts at the PTE read (move_pages() retries). Abstractions: a present source PTE ends the
    thread (move_present_ptes() is another scenario); the folio is small (a large one is -EBUSY);
    pte_swp_exclusive() is required (-EBUSY otherwise, the thread ends); the folio lock is taken as a
    blocking step (the kernel trylocks, drops the PTEs and folio_lock()s before retrying)."""
    assert form in MOVE_SWAP_FORMS
    mm = src
    orig = ctx.local("move_orig", PTE_NONE, "move_pages_ptes: orig_src_pte")
    folio = ctx.local("move_folio", NO_FOLIO, "move_pages_ptes: src_folio (swap cache folio, referenced)")
    result = ctx.local("move_result", "-", "UFFDIO_MOVE's return")
    has_lookup = form != "adef440691ba"
    recheck = form in ("0ea148a79919", "mainline-2026")
    lookup_fn = {"c50f8e6053b0": "filemap_get_folio(swap_address_space(entry), swap_cache_index(entry))",
                 "0ea148a79919": "filemap_get_folio(swap_address_space(entry), swap_cache_index(entry))",
                 "mainline-2026": "swap_cache_get_folio(entry)"}.get(form, "")

    def read(s):
        sp, dp = getattr(s, src.pte), getattr(s, dst.pte)
        if dp.kind != "none":
            return {result: "-EEXIST", GOTO: cont}
        if sp.kind != "swap":
            return {result: "not a swap PTE (not modelled)" if sp.kind != "none" else "-ENOENT", GOTO: cont}
        if not sp.exclusive:
            return {result: "-EBUSY", GOTO: cont}
        return {orig: sp}

    ctx.step("move.read", "mm/userfaultfd.c:move_pages_ptes: spin_lock(dst_ptl); orig_dst_pte = ptep_get(); "
             "pte_none -> spin_lock(src_ptl); orig_src_pte = ptep_get(); !pte_present: softleaf_is_swap; "
             "pte_swp_exclusive(orig_src_pte) else -EBUSY; get_swap_device(entry)",
             guard=lambda s: getattr(s, src.ptl) == FREE and getattr(s, dst.ptl) == FREE, effect=read,
             reads=[src.ptl, dst.ptl, src.pte, dst.pte], writes=[orig, result], branches=[cont])

    if has_lookup:
        def lookup(s):
            cache = getattr(s, mm.swp_cache)
            if cache == NO_FOLIO or getattr(s, orig).slot != mm.slot:
                return {GOTO: "move.pte"}
            d = {folio: cache}
            mm.get_folio(s, d, cache)
            return d

        ctx.step("move.lookup", f"mm/userfaultfd.c:move_pages_ptes: folio = {lookup_fn} [lockless]",
                 effect=lookup, reads=[orig, mm.swp_cache] + mm.ff("ref"), writes=[folio] + mm.ff("ref"),
                 branches=["move.pte"])

        def lock(s):
            return {mm.lock[getattr(s, folio)]: ctx.owner}

        ctx.step("move.lock", "mm/userfaultfd.c:move_pages_ptes: folio_trylock(src_folio) [else unmap the "
                 "PTEs, folio_lock(), retry]",
                 guard=lambda s: getattr(s, mm.lock[getattr(s, folio)]) == FREE, effect=lock,
                 reads=[folio] + mm.locks(), writes=mm.locks())

    def release(s, d):
        fid = getattr(s, folio)
        if fid != NO_FOLIO:
            d[mm.lock[fid]] = FREE
            mm.put_folio(s, d, fid)
        ctx.reset(d, "move_orig", "move_folio")

    def move(s):
        d = {}
        fid = getattr(s, folio)
        o = getattr(s, orig)
        if recheck and fid != NO_FOLIO and (not getattr(s, mm.f["swapcache"][fid])
                                            or getattr(s, mm.swp_cache) != fid or o.slot != mm.slot):
            release(s, d)
            d[GOTO] = "move.read"                      # -EAGAIN: the folio left the swap cache
            return d
        if getattr(s, src.pte) != o or getattr(s, dst.pte).kind != "none":
            release(s, d)
            d[GOTO] = "move.read"                      # !is_pte_pages_stable(): -EAGAIN
            return d
        if fid != NO_FOLIO:
            # folio_move_anon_rmap(): VM_BUG_ON_FOLIO(!folio_test_locked(folio))
            mm.assert_folio_locked(s, fid, "folio_move_anon_rmap()")
            mm.fset(d, fid, avma=dst.vma)              # folio_move_anon_rmap(src_folio, dst_vma); ->index
        elif recheck and getattr(s, mm.swp_cache) != NO_FOLIO:
            release(s, d)
            d[GOTO] = "move.read"                      # a swap cache folio appeared: -EAGAIN
            return d
        d[src.pte] = PTE_NONE                          # ptep_get_and_clear(src)
        d[dst.pte] = o._replace(soft_dirty=True)       # pte_swp_mksoft_dirty(); set_pte_at(dst)
        d[result] = "moved"
        release(s, d)
        d[GOTO] = cont
        return d

    parts = ["mm/userfaultfd.c:move_swap_pte: "]
    if recheck:
        parts.append("src_folio && (!folio_test_swapcache(src_folio) || entry.val != src_folio->swap.val) "
                     "-> -EAGAIN; ")
    parts.append("double_pt_lock(dst_ptl, src_ptl); is_pte_pages_stable() else -EAGAIN; ")
    if has_lookup:
        parts.append("src_folio -> folio_move_anon_rmap(src_folio, dst_vma), src_folio->index = "
                     "linear_page_index(dst_vma, dst_addr)")
        if form == "0ea148a79919":
            parts.append("; else READ_ONCE(si->swap_map[offset]) & SWAP_HAS_CACHE -> -EAGAIN")
        elif form == "mainline-2026":
            parts.append("; else swap_cache_has_folio(entry) -> -EAGAIN")
        parts.append("; ")
    parts.append("ptep_get_and_clear(src); pte_swp_mksoft_dirty(); set_pte_at(dst); double_pt_unlock(); "
                 "folio_unlock(); folio_put()")
    ctx.step("move.pte", "".join(parts),
             guard=lambda s: getattr(s, src.ptl) == FREE and getattr(s, dst.ptl) == FREE, effect=move,
             reads=[src.ptl, dst.ptl, src.pte, dst.pte, orig, folio, mm.swp_cache] + mm.locks()
             + mm.ff("swapcache", "ref", "map"),
             writes=[src.pte, dst.pte, result, orig, folio] + mm.locks() + mm.all_folio(),
             branches=["move.read", cont])


# --------------------------------------------------------------------------------------------
# UFFDIO_MOVE of a present PTE against GUP-fast: move_present_ptes()

MOVE_PRESENT_FORMS = ("v6.17", "mainline-2026", "seeded-no-recheck", "seeded-batch-no-recheck")


def emit_move_present_pte(ctx: Ctx, src: MM, dst: MM, kf, *, form: str, cont: str = DONE,
                          mb_before_recheck: bool = False, batch: int = 1) -> None:
    """UFFDIO_MOVE of the page mapped at `src`'s PTE to `dst`'s (one mm, two VMAs; the folio small,
    locked and referenced by move_pages_ptes() before), as a CPU running GUP-fast sees it:

    * "v6.17" (move_present_pte() before the batched move, as the batching patch's diff shows it):
      under double_pt_lock(), folio_maybe_dma_pinned(src_folio) || !PageAnonExclusive -> -EBUSY, then
      ptep_clear_flush(src) and again folio_maybe_dma_pinned() -> set_pte_at(src), -EBUSY ("Folio got
      pinned from under us"), folio_move_anon_rmap(), set_pte_at(dst, pte_mkwrite(pte_mkdirty()));
    * "mainline-2026" (move_present_ptes(), linux-mm mm/userfaultfd.c @ c5dfa74d, the batched move):
      the same check, then per PTE orig_src_pte = ptep_get_and_clear(src) and again
      folio_maybe_dma_pinned(src_folio) -> set_pte_at(src, orig_src_pte), -EBUSY ("Folio got pinned
      from under us"); flush_tlb_range() once after the loop;
    * "seeded-no-recheck": a seeded mutation of the 2026 form without the second test;
    * "seeded-batch-no-recheck" (with `batch` = 2): a seeded mutation of the 2026 form whose later
      iterations (the folios check_ptes_for_batched_move() admitted) skip the second test.

    No barrier between ptep_get_and_clear() and the second folio_maybe_dma_pinned() (read in
    linux-mm mm/userfaultfd.c @ c5dfa74d): the steps are annotated for `--memory-model`.

    `batch` = 2 (the batched forms only): the range holds two small folios, A at `src.ptes[0]` (the
    one move_pages_ptes() locked and referenced) and B at `src.ptes[1]`, moved to `dst.ptes[0]` and
    `dst.ptes[1]` under the same double_pt_lock(). After A is moved, the loop unlocks A and asks
    check_ptes_for_batched_move() for the next folio (dst PTE none, src PTE present and not the zero
    page, vm_normal_folio(), folio_trylock(), PageAnonExclusive(), !folio_test_large()): B is not
    tested for folio_maybe_dma_pinned() before its PTE is cleared and no reference is taken ("the
    whole operation is within PTL's critical section"), so only the post-clear test stops a pin on B.
    A -EBUSY of the first iteration breaks out before the next folio; one of the second returns the
    bytes moved (A's page)."""
    assert form in MOVE_PRESENT_FORMS and batch in (1, 2)
    assert batch == 1 or form != "v6.17", "v6.17's move_present_pte() moves one PTE"
    mm = src
    fid_l = ctx.local("move_folio", NO_FOLIO, "move_pages_ptes: src_folio")
    orig = ctx.local("move_orig", PTE_NONE, "move_present_ptes: orig_src_pte")
    result = ctx.local("move_result", "-", "UFFDIO_MOVE's return")
    batched = form != "v6.17"
    recheck = form != "seeded-no-recheck"
    recheck_later = recheck and form != "seeded-batch-no-recheck"
    flush = "move.flush"

    def check(s):
        p = getattr(s, src.pte)
        if not p.present or getattr(s, dst.pte).kind != "none":
            return {result: "-EAGAIN (not modelled)", GOTO: cont}
        fid = p.folio
        if getattr(s, mm.f["pin"][fid]) or not getattr(s, mm.f["excl"][fid]):
            return {result: "-EBUSY", GOTO: cont}
        return {fid_l: fid, orig: p, src.ptl: ctx.owner, dst.ptl: ctx.owner}

    ctx.step("move.check", "mm/userfaultfd.c:" + ("move_present_ptes" if batched else "move_present_pte")
             + ": double_pt_lock(dst_ptl, src_ptl); is_pte_pages_stable(); folio_maybe_dma_pinned(src_folio) "
             "|| !PageAnonExclusive(&src_folio->page) -> -EBUSY",
             guard=lambda s: getattr(s, src.ptl) == FREE and getattr(s, dst.ptl) == FREE, effect=check,
             reads=[src.ptl, dst.ptl, src.pte, dst.pte] + mm.ff("pin", "excl"),
             writes=[fid_l, orig, result, src.ptl, dst.ptl], branches=[cont])

    ctx.step("move.clear", "mm/userfaultfd.c:" + ("move_present_ptes: orig_src_pte = ptep_get_and_clear(mm, "
             "src_addr, src_pte)" if batched else "move_present_pte: orig_src_pte = ptep_clear_flush(src_vma, "
             "src_addr, src_pte)"), effect=lambda s: {src.pte: PTE_NONE}, reads=[src.pte], writes=[src.pte],
             # under a memory model: an xchg (relaxed on arm64, locked on x86) whose store may wait in
             # the store buffer; v6.17's ptep_clear_flush() is followed by the flush step (a barrier)
             mem=Mem(stores=(src.pte,)))
    if not batched:
        emit_tlb_flush(ctx, kf, "move.flush", "mm/userfaultfd.c:move_present_pte: ptep_clear_flush()")

    def finish(s):
        fid = getattr(s, fid_l)
        o = getattr(s, orig)
        d = {}
        if recheck and getattr(s, mm.f["pin"][fid]):
            d[src.pte] = o                              # set_pte_at(src, orig_src_pte): -EBUSY
            d[result] = "-EBUSY"
            if batch > 1:
                d[GOTO] = flush                         # break: no next folio
        else:
            d[dst.pte] = pte_present(fid, write=True, dirty=True, soft_dirty=True)  # folio_move_anon_rmap()
            d[result] = "moved"
        ctx.reset(d, "move_folio", "move_orig")
        return d

    ctx.step("move.set", "mm/userfaultfd.c:" + ("move_present_ptes: " if batched else "move_present_pte: ")
             + ("[what-if: smp_mb()] " if mb_before_recheck else "")
             + ("folio_maybe_dma_pinned(src_folio) -> set_pte_at(src, orig_src_pte), -EBUSY; else "
                if recheck else "[seeded: no second folio_maybe_dma_pinned()] ")
             + "folio_move_anon_rmap(src_folio, dst_vma); set_pte_at(dst, pte_mkwrite(pte_mkdirty()))"
             + (" [double_pt_unlock()]" if batch == 1 else ""),
             effect=finish, reads=[fid_l, orig] + mm.ff("pin"), writes=[src.pte, dst.pte, result, fid_l, orig],
             branches=[flush] if batch > 1 else (),
             # folio_maybe_dma_pinned(): a plain load, no barrier after ptep_get_and_clear() (2026);
             # set_pte_at(): plain stores
             mem=Mem(loads=tuple(mm.ff("pin")), stores=(src.pte, dst.pte), before="mb" if mb_before_recheck else ""))
    if batch > 1:
        _emit_move_next_folio(ctx, src, dst, fid_l, orig, result, flush=flush, recheck=recheck_later,
                              mb_before_recheck=mb_before_recheck)
    if batched:
        emit_tlb_flush(ctx, kf, "move.flush", "mm/userfaultfd.c:move_present_ptes: flush_tlb_range(src_vma, "
                       "src_start, src_addr) [after the loop]")
    if batch > 1:
        def unlock(s):
            d = {src.ptl: FREE, dst.ptl: FREE, GOTO: cont}
            for fid in mm.folios:                       # if (src_folio) folio_unlock(src_folio)
                if getattr(s, mm.lock[fid]) == ctx.owner:
                    d[mm.lock[fid]] = FREE
            return d

        ctx.step("move.unlock", "mm/userfaultfd.c:move_present_ptes: if (src_folio) folio_unlock(src_folio) "
                 "[the folio check_ptes_for_batched_move() locked]; double_pt_unlock(dst_ptl, src_ptl)",
                 effect=unlock, reads=list(mm.lock.values()), writes=[src.ptl, dst.ptl] + list(mm.lock.values()),
                 branches=[cont])
        return
    ctx.step("move.unlock", "mm/userfaultfd.c:" + ("move_present_ptes" if batched else "move_present_pte")
             + ": double_pt_unlock(dst_ptl, src_ptl)",
             effect=lambda s: {src.ptl: FREE, dst.ptl: FREE, GOTO: cont}, writes=[src.ptl, dst.ptl],
             branches=[cont])


def _emit_move_next_folio(ctx: Ctx, src: MM, dst: MM, fid_l: str, orig: str, result: str, *, flush: str,
                          recheck: bool, mb_before_recheck: bool) -> None:
    """The second iteration of move_present_ptes()' loop (linux-mm mm/userfaultfd.c @ c5dfa74d): the
    next PTE pair of the range, its folio admitted by check_ptes_for_batched_move() alone."""
    mm = src
    src1, dst1 = src.ptes[1], dst.ptes[1]

    def next_folio(s):
        d = {}
        p = getattr(s, src1)
        if getattr(s, dst1).kind != "none":             # !pte_none(orig_dst_pte)
            d[GOTO] = flush
            return d
        if not p.present or p.folio == ZERO:            # !pte_present() || is_zero_pfn()
            d[GOTO] = flush
            return d
        fid = p.folio                                    # vm_normal_folio()
        if getattr(s, mm.lock[fid]) != FREE:             # !folio_trylock(folio)
            d[GOTO] = flush
            return d
        if not getattr(s, mm.page_flag("excl", fid, 1)) or mm.is_large(s, d, fid):
            d[GOTO] = flush                              # folio_unlock(folio); return NULL
            return d
        d[fid_l] = fid
        d[mm.lock[fid]] = ctx.owner                      # returned locked, no reference taken
        return d

    locks = list(mm.lock.values())
    # the step is anchored in check_ptes_for_batched_move() itself: move_present_ptes()' own part of it
    # (the loop's tail) is the note; its order against the loop's ptep_get_and_clear() is the back edge.
    # No `mem`: under a memory model it is a full barrier for the mover (code under the PTLs; it only
    # hides outcomes, and none of B's: its clear and pin test come after it)
    ctx.step("move.next", "mm/userfaultfd.c:move_present_ptes [src_addr += PAGE_SIZE, != src_end; "
             "folio_unlock(src_folio); src_folio = check_ptes_for_batched_move(); NULL: break] -> "
             "check_ptes_for_batched_move: !pte_none(ptep_get(dst_pte)) -> NULL; !pte_present(ptep_get(src_pte)) "
             "|| is_zero_pfn(pte_pfn()) -> NULL; vm_normal_folio(); !folio_trylock(folio) -> NULL; "
             "!PageAnonExclusive(&folio->page) || folio_test_large(folio) -> folio_unlock(folio), NULL "
             "[no folio_maybe_dma_pinned(), no reference: the PTLs are held]",
             effect=next_folio, reads=[src1, dst1] + locks + mm.excl_fields(1) + mm.ff("nr"),
             writes=[fid_l] + locks, branches=[flush])

    ctx.step("move.clear1", "mm/userfaultfd.c:move_present_ptes: orig_src_pte = ptep_get_and_clear(mm, "
             "src_addr, src_pte) [the next folio]",
             effect=lambda s: {orig: getattr(s, src1), src1: PTE_NONE}, reads=[src1], writes=[src1, orig],
             mem=Mem(stores=(src1,)))

    def finish(s):
        fid = getattr(s, fid_l)
        d = {}
        if recheck and getattr(s, mm.f["pin"][fid]):
            d[src1] = getattr(s, orig)                  # set_pte_at(src, orig_src_pte); err = -EBUSY
            d[result] = "moved 1 of 2 (-EBUSY dropped: PAGE_SIZE returned)"
        else:
            d[dst1] = pte_present(fid, write=True, dirty=True, soft_dirty=True)  # folio_move_anon_rmap()
            d[result] = "moved 2 of 2"
        ctx.reset(d, "move_folio", "move_orig")
        return d

    ctx.step("move.set1", "mm/userfaultfd.c:move_present_ptes: "
             + ("[what-if: smp_mb()] " if mb_before_recheck else "")
             + ("folio_maybe_dma_pinned(src_folio) -> set_pte_at(src, orig_src_pte), -EBUSY, break; else "
                if recheck else "[seeded: no second folio_maybe_dma_pinned() for the next folio] ")
             + "folio_move_anon_rmap(src_folio, dst_vma); set_pte_at(dst, pte_mkwrite(pte_mkdirty())); "
             "src_addr == src_end -> break",
             effect=finish, reads=[fid_l, orig] + mm.ff("pin"), writes=[src1, dst1, result, fid_l, orig],
             mem=Mem(loads=tuple(mm.ff("pin")), stores=(src1, dst1), before="mb" if mb_before_recheck else ""))
