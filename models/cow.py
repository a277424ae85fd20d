"""Write faults on present PTEs: handle_pte_fault() -> do_wp_page(): reuse the anon page or copy it.

Emitted into a faulting thread with the labels `hpf.wp` (handle_pte_fault takes the PTL, re-checks
pte_same and calls do_wp_page) and `wp.*`; do_swap_page jumps to `wp.entry` with the PTL held when a
write fault could not map the page writable. The function returns to the faulting step (through
do_swap_page's swapcache_clear when do_swap_page called it).

Reuse rules per release (knob `mm.anon_exclusive`):

* v5.9-v5.18 (09854ba94c6a "do_wp_page: simplify reuse check" and the v5.18 refinements, read in the
  v5.18 source): `PageKsm || page_count > 3` -> copy; `page_count > 1 + PageSwapCache` -> copy;
  `!trylock_page` -> copy; in the swap cache -> try_to_free_swap(); `page_count != 1` -> copy;
  otherwise wp_page_reuse().
* v5.19+ (6c287605fd56): `PageAnonExclusive(page)` -> reuse without further checks; otherwise the same
  refcount rules, and a reused page gets PG_anon_exclusive (page_move_anon_rmap). FAULT_FLAG_UNSHARE
  (a R/O FOLL_PIN of a maybe-shared page) reuses without making the PTE writable, or copies R/O.

A userfaultfd-wp protected PTE (pte_uffd_wp) goes to handle_userfault(): the thread stops there, as
the faulting task would until the monitor resolves the fault.

Abstractions: the page is always on the LRU (no lru_add_drain() references), no KSM, small folios;
ptep_clear_flush() and set_pte_at() of wp_page_copy are one step (both under the PTL, and no lockless
PTE reader is modelled). On x86 pte_mkdirty() also sets soft-dirty, so every PTE a write fault makes
dirty is soft-dirty.
"""

from __future__ import annotations

from pteverify.model import FREE, GOTO

from .mm import Ctx, Kernel, pte_present


def emit_do_wp_page(ctx: Ctx, k: Kernel) -> None:
    mm = ctx.mm
    ctx.fault_locals()
    L = ctx.vars
    orig, unshare, page, new, result = (L["orig"], L["unshare"], L["page"],
                                        L["new"], L["result"])
    ret = L["ret"]
    retry = list(ctx.retry_labels)
    after = getattr(ctx, "after_fault", None)     # do_swap_page's swapcache_clear, if any
    exits = [after] if after else retry
    locals_ = ctx.locals_fields(*Ctx.FAULT_LOCALS)
    folio_all = mm.all_folio()
    slot = mm.slot_fields()

    def leave(s, d, target=None):
        """Return from the fault (through do_swap_page's swapcache_clear when it called us)."""
        if target is not None:
            ctx.reset(d, *Ctx.FAULT_LOCALS)
            d[GOTO] = target
            return d
        if after:
            ctx.reset(d, *[n for n in Ctx.FAULT_LOCALS if n not in ("clear", "ret")])
            d[GOTO] = after
            return d
        return ctx.leave_fault(s, d)

    # -- handle_pte_fault: present, not writable, write (or unshare) fault -----------------------
    def hpf(s):
        if getattr(s, mm.pte) != getattr(s, orig):
            return ctx.leave_fault(s, {})
        return {mm.ptl: ctx.owner, page: getattr(s, orig).folio}

    ctx.step("hpf.wp", "mm/memory.c:handle_pte_fault: spin_lock(vmf->ptl); pte_same(*vmf->pte, entry); "
             "!pte_write(entry) -> do_wp_page(vmf)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=hpf,
             reads=[mm.ptl, mm.pte, orig, ret], writes=[mm.ptl, page] + locals_, branches=retry)

    # -- do_wp_page -------------------------------------------------------------------------------
    def entry(s):
        o = getattr(s, orig)
        if o.uffd_wp and not getattr(s, unshare):
            d = {mm.ptl: FREE, result: "userfault"}
            return leave(s, d, "userfault")
        if k.anon_exclusive and getattr(s, mm.f["excl"][getattr(s, page)]):
            return {GOTO: "wp.reuse"}
        return None

    ref = "mm/memory.c:do_wp_page: userfaultfd_pte_wp() -> handle_userfault()"
    if k.anon_exclusive:
        ref += "; PageAnonExclusive(vmf->page) -> reuse"
    ctx.step("wp.entry", ref, effect=entry, reads=[orig, unshare, page] + mm.ff("excl"),
             writes=[mm.ptl, result] + locals_, branches=["userfault", "wp.reuse"])

    def can_reuse(s):
        fid = getattr(s, page)
        count = getattr(s, mm.f["ref"][fid])
        in_cache = 1 if getattr(s, mm.f["swapcache"][fid]) else 0
        if count > 3 or count > 1 + in_cache or getattr(s, mm.lock[fid]) != FREE:
            return {GOTO: "wp.copy"}
        d = {}
        if in_cache:
            mm.try_to_free_swap(s, d, fid)             # folio lock taken and dropped by trylock_page
        if mm.fv(s, d, "ref", fid) != 1:
            d[GOTO] = "wp.copy"
            return d
        if k.anon_exclusive:
            mm.fset(d, fid, excl=True)                 # page_move_anon_rmap()
        return d

    ctx.step("wp.can_reuse", "mm/memory.c:do_wp_page: page_count() > 3 || page_count() > 1 + "
             "PageSwapCache() -> copy; trylock_page(); try_to_free_swap(); page_count() != 1 -> copy"
             + ("; page_move_anon_rmap()" if k.anon_exclusive else ""),
             effect=can_reuse, reads=[page] + mm.locks() + slot + mm.ff("ref", "swapcache", "writeback", "map"),
             writes=folio_all + slot, branches=["wp.copy"])

    def reuse(s):
        d = {mm.ptl: FREE}
        if not getattr(s, unshare):
            p = getattr(s, mm.pte)
            d[mm.pte] = p._replace(write=True, dirty=True, soft_dirty=True)
        return leave(s, d)

    ctx.step("wp.reuse", "mm/memory.c:wp_page_reuse: ptep_set_access_flags(maybe_mkwrite(pte_mkdirty())); "
             "pte_unmap_unlock() [unshare: only unlock]",
             effect=reuse, reads=[unshare, mm.pte, ret], writes=[mm.ptl, mm.pte] + locals_, branches=exits)

    def copy(s):
        d = {mm.ptl: FREE}
        mm.get_folio(s, d, getattr(s, page))
        return d

    ctx.step("wp.copy", "mm/memory.c:do_wp_page: get_page(vmf->page); pte_unmap_unlock()",
             effect=copy, reads=[page] + mm.ff("ref"), writes=[mm.ptl] + mm.ff("ref"))

    def copy_user(s):
        d = {}
        old = getattr(s, page)
        d[new] = mm.alloc_folio(s, d, data=getattr(s, mm.f["data"][old]), uptodate=True)
        return d

    ctx.step("wp.copy_user", "mm/memory.c:wp_page_copy: new_page = alloc_page_vma(); "
             "cow_user_page(new_page, old_page)",
             effect=copy_user, reads=[page] + mm.ff("data", "ref"), writes=[new] + folio_all)

    def copy_pte(s):
        old, nfid = getattr(s, page), getattr(s, new)
        d = {}
        if getattr(s, mm.pte) != getattr(s, orig):
            mm.put_folio(s, d, nfid)
            mm.put_folio(s, d, old)
            return leave(s, d)
        o = getattr(s, orig)
        d[mm.ptl] = ctx.owner
        mm.fset(d, nfid, map=1, excl=k.anon_exclusive)  # page_add_new_anon_rmap(): exclusive
        if getattr(s, unshare):
            d[mm.pte] = pte_present(nfid, soft_dirty=o.soft_dirty, uffd_wp=o.uffd_wp)
        else:
            d[mm.pte] = pte_present(nfid, write=True, dirty=True, soft_dirty=True)
        mm.fset(d, old, map=getattr(s, mm.f["map"][old]) - 1)   # page_remove_rmap(old_page)
        return d

    ctx.step("wp.copy_pte", "mm/memory.c:wp_page_copy: pte_offset_map_lock(); pte_same(); "
             "ptep_clear_flush(); page_add_new_anon_rmap(new_page); "
             "set_pte_at(maybe_mkwrite(pte_mkdirty(mk_pte(new_page)))); page_remove_rmap(old_page)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=copy_pte,
             reads=[mm.ptl, mm.pte, orig, page, new, unshare, ret] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.ptl, mm.pte] + folio_all + locals_, branches=exits)

    def copy_done(s):
        d = {mm.ptl: FREE}
        mm.put_folio(s, d, getattr(s, page), 2)
        return leave(s, d)

    ctx.step("wp.copy_done", "mm/memory.c:wp_page_copy: pte_unmap_unlock(); put_page(old_page) "
             "[the old mapping's and do_wp_page's references]",
             effect=copy_done, reads=[page, ret] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.ptl] + folio_all + locals_, branches=exits)
