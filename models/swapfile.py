"""mm/swapfile.c: swapoff (try_to_unuse() -> unuse_pte()).

----------------------------------------------------------------------------------------------------
swapoff: mm/swapfile.c:try_to_unuse() -> unuse_mm() -> unuse_pte_range() -> unuse_pte().

Read from torvalds/linux mm/swapfile.c @ 000085b9af9f (~v6.1, the fixed form):

unuse_pte_range(): a swap PTE of this swap type (read without the PTL) -> lookup_swap_cache() or
swapin_readahead() (nothing: `*swap_map == 0` -> next) -> lock_page() -> wait_on_page_writeback() ->
unuse_pte() -> try_to_free_swap() -> unlock_page() -> put_page().

unuse_pte(): pte_offset_map_lock(); pte_same_as_swp() (ignores the swp flag bits) else return 0;
[9f186f9e5fa9] `!PageUptodate(page)`: set_pte_at(swp_entry_to_pte(make_swapin_error_entry(page))),
swap_free(entry), return 0; otherwise get_page(); page_add_anon_rmap(page, RMAP_EXCLUSIVE if
pte_swp_exclusive(*pte) [1493a1913e34]); new_pte = pte_mkold(mk_pte(page, vma->vm_page_prot)) (never
writable: do_wp_page decides later); [14a762dd1977] soft-dirty and uffd-wp carried over from the swap
PTE; set_pte_at(); swap_free(entry); pte_unmap_unlock().

Before 9f186f9e5fa9 ("mm/swapfile: unuse_pte can map random data if swap read fails") a folio whose
swap read failed was mapped; before 14a762dd1977 ("mm/swapfile: fix lost swap bits in unuse_pte()") the
new PTE was `pte_mkold(mk_pte(page, vma->vm_page_prot))` with no soft-dirty or uffd-wp bit.

The tail of try_to_unuse() (find_next_to_unuse -> folio_lock -> folio_wait_writeback ->
folio_free_swap) releases a swap-cache folio left behind by a racing fault. One mm with one swap PTE
is walked once; the retry loop while `si->inuse_pages` is not modelled (nothing re-swaps here).

Architecture hooks (see `mm.ArchHook`), none unless an extension registers them: "mm: call
arch_swap_restore() from unuse_pte()" (v6.6, `Kernel.unuse_arch_swap_restore`) calls
arch_swap_restore(entry, page_folio(page)) after the PageUptodate check, before set_pte_at() and
swap_free() (step `unuse_pte.arch_swap_restore`); set_pte_at()'s arch part runs in `set_pte`; the
slot-free hooks run wherever the slot is freed; `mm.swap_readpage_hook` steps follow a swap read.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .mm import NO_FOLIO, PTE_NONE, PTE_SWAPIN_ERROR, Ctx, Kernel, pte_present, pte_same_as_swp
from .swap_state import read_into_swap_cache


def emit_try_to_unuse(ctx: Ctx, k: Kernel, *, retry: bool = False, match: str = "pte_same_as_swp") -> None:
    """`retry`: try_to_unuse()'s outer loop, `if (READ_ONCE(si->inuse_pages)) goto retry` (no signal
    pending): after the tail, a slot still in use sends swapoff back to walk the page table again.
    `match`: how unuse_pte() compares the PTE with swp_entry_to_pte(entry): "pte_same_as_swp" (the swp
    flag bits ignored) or "maybe_same_pte-nosoftdirty" (179ef71cbc08's maybe_same_pte() on a
    CONFIG_HAVE_ARCH_SOFT_DIRTY=y, CONFIG_MEM_SOFT_DIRTY=n kernel: plain pte_same(), so a swap PTE with
    the soft-dirty bit never matches; Martin Schwidefsky's report: "'swapoff -a' will hang")."""
    if match not in ("pte_same_as_swp", "maybe_same_pte-nosoftdirty"):
        raise ValueError(f"try_to_unuse: match {match!r}")
    mm = ctx.mm
    page = ctx.local("page", NO_FOLIO, "unuse_pte_range: page")
    entry = ctx.local("entry", PTE_NONE, "unuse_pte_range: the swap PTE found (swp_entry_to_pte(entry))")
    folio_all = mm.all_folio()
    slot = mm.slot_fields()
    readpage = mm.swap_readpage_hook
    arch_set_pte = mm.set_pte_hook
    freed = mm.slot_free_ref()

    def scan(s):
        pte = getattr(s, mm.pte)
        if pte.is_swap and pte.slot == mm.slot:
            return {entry: pte}
        return {GOTO: "tail"}

    ctx.step("unuse_pte_range", "mm/swapfile.c:unuse_pte_range: is_swap_pte(*pte) && "
             "swp_type(entry) == type [no PTL]",
             effect=scan, reads=[mm.pte], writes=[entry], branches=["tail"])

    def lookup(s):
        d = {}
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.get_folio(s, d, cache)
            d[page] = cache
            if readpage:
                d[GOTO] = "lock"                       # no swap_readpage(): skip its hook steps
            return d
        if not mm.slot_in_use(s, d):
            d[entry] = PTE_NONE
            d[GOTO] = "tail"                           # *swap_map == 0 -> try_next
            return d
        d[page] = read_into_swap_cache(mm, s, d)
        return d

    ctx.step("lookup", "mm/swapfile.c:unuse_pte_range: page = lookup_swap_cache(entry) ?: "
             "swapin_readahead(entry)",
             guard=lambda s: getattr(s, mm.swp_cache) != NO_FOLIO or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=slot + mm.ff("ref", "map", "swapcache"),
             writes=[page, entry] + slot + folio_all, branches=["tail"] + (["lock"] if readpage else []))
    if readpage:
        readpage(ctx, page, "unuse.")                   # its steps fall through to lock

    def lock_guard(s):
        fid = getattr(s, page)
        return getattr(s, mm.lock[fid]) == FREE and not getattr(s, mm.f["writeback"][fid])

    ctx.step("lock", "mm/swapfile.c:unuse_pte_range: lock_page(page); wait_on_page_writeback(page)",
             guard=lock_guard, effect=lambda s: {mm.lock[getattr(s, page)]: ctx.owner},
             reads=[page] + mm.locks() + mm.ff("writeback"), writes=mm.locks())

    def same(pte, swp) -> bool:
        if match == "pte_same_as_swp":
            return pte_same_as_swp(pte, swp)
        return pte_same_as_swp(pte, swp) and not pte.soft_dirty    # pte_same(*pte, clean swp pte)

    def pte_same(s):
        if not same(getattr(s, mm.pte), getattr(s, entry)):
            return {GOTO: "free_swap"}                 # ret = 0
        d = {mm.ptl: ctx.owner}
        if k.unuse_check_uptodate and not getattr(s, mm.f["uptodate"][getattr(s, page)]):
            d[GOTO] = "swapin_error"
        return d

    ctx.step("unuse_pte", "mm/swapfile.c:unuse_pte: pte_offset_map_lock(); "
             + ("pte_same_as_swp(*pte, swp_entry_to_pte(entry))" if match == "pte_same_as_swp" else
                "maybe_same_pte(*pte, swp_entry_to_pte(entry)) [CONFIG_MEM_SOFT_DIRTY=n: pte_same(), the "
                "swp soft-dirty bit not cleared]")
             + ("; PageUptodate(page)" if k.unuse_check_uptodate else ""),
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_same,
             reads=[mm.ptl, mm.pte, entry, page] + mm.ff("uptodate"), writes=[mm.ptl],
             branches=["free_swap", "swapin_error"] if k.unuse_check_uptodate else ["free_swap"])

    if k.unuse_arch_swap_restore:
        ctx.arch_swap_restore_step("unuse_pte.arch_swap_restore", "mm/swapfile.c:unuse_pte: "
                                   "arch_swap_restore(entry, page_folio(page)) [before set_pte_at() and "
                                   "swap_free()]", page)

    def set_pte(s):
        fid = getattr(s, page)
        old = getattr(s, mm.pte)
        d = {mm.ptl: FREE, GOTO: "free_swap"}
        mm.get_folio(s, d, fid)
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) + 1)
        if k.anon_exclusive and old.exclusive and k.swp_exclusive:
            mm.fset(d, fid, excl=True)                 # rmap_flags |= RMAP_EXCLUSIVE
        keep = k.unuse_keep_swp_bits
        new = pte_present(fid, soft_dirty=keep and old.soft_dirty, uffd_wp=keep and old.uffd_wp)
        d[mm.pte] = new
        if arch_set_pte:
            arch_set_pte.fn(s, d, fid, old, new)
        mm.swap_free(s, d)
        return d

    bits = ("new_pte = pte_mkold(mk_pte(page)); pte_swp_soft_dirty -> pte_mksoft_dirty; "
            "pte_swp_uffd_wp -> pte_mkuffd_wp; set_pte_at(new_pte)" if k.unuse_keep_swp_bits
            else "set_pte_at(pte_mkold(mk_pte(page, vma->vm_page_prot)))")
    excl_ref = "RMAP_EXCLUSIVE if pte_swp_exclusive(*pte)" if k.swp_exclusive else "RMAP_NONE"
    if arch_set_pte:
        bits += " [" + arch_set_pte.ref + "]"
    ctx.step("set_pte", f"mm/swapfile.c:unuse_pte: get_page(page); page_add_anon_rmap(page, "
             f"{excl_ref}); {bits}; swap_free(entry); pte_unmap_unlock()" + freed,
             effect=set_pte, reads=[page, mm.pte] + slot + mm.ff("ref", "map")
             + list(arch_set_pte.reads if arch_set_pte else ()),
             writes=[mm.ptl, mm.pte] + slot + folio_all + list(arch_set_pte.writes if arch_set_pte else ()),
             branches=["free_swap"])

    if k.unuse_check_uptodate:
        def swapin_error(s):
            d = {mm.ptl: FREE, mm.pte: PTE_SWAPIN_ERROR}
            mm.swap_free(s, d)
            return d

        ctx.step("swapin_error", "mm/swapfile.c:unuse_pte: !PageUptodate(page) -> "
                 "set_pte_at(swp_entry_to_pte(make_swapin_error_entry(page))); swap_free(entry); "
                 "pte_unmap_unlock()" + freed,
                 effect=swapin_error, reads=slot, writes=[mm.ptl, mm.pte] + slot)

    def free_swap(s):
        fid = getattr(s, page)
        d = {mm.lock[fid]: FREE, entry: PTE_NONE, page: NO_FOLIO}
        mm.try_to_free_swap(s, d, fid)
        mm.put_folio(s, d, fid)
        return d

    ctx.step("free_swap", "mm/swapfile.c:unuse_pte_range: try_to_free_swap(page); unlock_page(page); "
             "put_page(page)" + freed,
             effect=free_swap, reads=[page] + slot + mm.ff("swapcache", "writeback", "ref", "map"),
             writes=[entry, page] + mm.locks() + slot + folio_all)

    def tail_guard(s):
        cache = getattr(s, mm.swp_cache)
        return cache == NO_FOLIO or (getattr(s, mm.lock[cache]) == FREE
                                     and not getattr(s, mm.f["writeback"][cache]))

    def tail(s):
        d = {GOTO: DONE}
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.try_to_free_swap(s, d, cache)           # folio_free_swap() only frees stale folios
        if retry and mm.slot_in_use(s, d):
            d[GOTO] = "unuse_pte_range"                # si->inuse_pages: goto retry
        return d

    ctx.step("tail", "mm/swapfile.c:try_to_unuse: find_next_to_unuse(); folio_lock(); "
             "folio_wait_writeback(); folio_free_swap(); folio_unlock()" + freed
             + ("; READ_ONCE(si->inuse_pages) && !signal_pending(current) -> goto retry" if retry else ""),
             guard=tail_guard, effect=tail,
             reads=slot + mm.locks() + mm.ff("writeback", "swapcache", "ref", "map"),
             writes=slot + folio_all, branches=[DONE] + (["unuse_pte_range"] if retry else []))
