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

from pteverify.model import DONE, FREE, GOTO, ModelError

from .mm import NO_FOLIO, PTE_NONE, PTE_SWAPIN_ERROR, Ctx, Kernel, SwapCluster, pte_present, pte_same_as_swp
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

    ctx.step("lookup", "mm/swapfile.c:unuse_pte_range: folio = swap_cache_get_folio(entry) ?: "
             "swapin_readahead(entry)" if k.swap_table else
             "mm/swapfile.c:unuse_pte_range: page = lookup_swap_cache(entry) ?: "
             "swapin_readahead(entry)",
             guard=lambda s: getattr(s, mm.swp_cache) != NO_FOLIO or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=slot + mm.ff("ref", "map", "swapcache"),
             writes=[page, entry] + slot + folio_all, branches=["tail"] + (["lock"] if readpage else []))
    if readpage:
        readpage(ctx, page, "unuse.")                   # its steps fall through to lock

    def lock_guard(s):
        fid = getattr(s, page)
        return getattr(s, mm.lock[fid]) == FREE and not getattr(s, mm.f["writeback"][fid])

    ctx.step("lock", "mm/swapfile.c:unuse_pte_range: folio_lock(folio); folio_wait_writeback(folio)"
             if k.swap_table else
             "mm/swapfile.c:unuse_pte_range: lock_page(page); wait_on_page_writeback(page)",
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
                                   + ("arch_swap_restore(folio_swap(entry, folio), folio) [before "
                                      "folio_put_swap()]" if k.swap_table else
                                      "arch_swap_restore(entry, page_folio(page)) [before set_pte_at() and "
                                      "swap_free()]"), page)

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
        if k.swap_table:
            mm.assert_folio_locked(s, fid, "unuse_pte: folio_put_swap()")
        mm.swap_free(s, d)
        return d

    bits = ("new_pte = pte_mkold(mk_pte(page)); pte_swp_soft_dirty -> pte_mksoft_dirty; "
            "pte_swp_uffd_wp -> pte_mkuffd_wp; set_pte_at(new_pte)" if k.unuse_keep_swp_bits
            else "set_pte_at(pte_mkold(mk_pte(page, vma->vm_page_prot)))")
    excl_ref = "RMAP_EXCLUSIVE if pte_swp_exclusive(*pte)" if k.swp_exclusive else "RMAP_NONE"
    if arch_set_pte:
        bits += " [" + arch_set_pte.ref + "]"
    ctx.step("set_pte", (f"mm/swapfile.c:unuse_pte: folio_get(folio); folio_add_anon_rmap_pte(folio, page, "
                         f"{excl_ref}); {bits}; folio_put_swap(swapcache, page); pte_unmap_unlock()"
                         if k.swap_table else
                         f"mm/swapfile.c:unuse_pte: get_page(page); page_add_anon_rmap(page, "
                         f"{excl_ref}); {bits}; swap_free(entry); pte_unmap_unlock()") + freed,
             effect=set_pte, reads=[page, mm.pte] + slot + mm.locks() + mm.ff("ref", "map")
             + list(arch_set_pte.reads if arch_set_pte else ()),
             writes=[mm.ptl, mm.pte] + slot + folio_all + list(arch_set_pte.writes if arch_set_pte else ()),
             branches=["free_swap"])

    if k.unuse_check_uptodate:
        def swapin_error(s):
            d = {mm.ptl: FREE, mm.pte: PTE_SWAPIN_ERROR}
            if k.swap_table:
                mm.assert_folio_locked(s, getattr(s, page), "unuse_pte: folio_put_swap()")
            mm.swap_free(s, d)
            return d

        ctx.step("swapin_error", ("mm/swapfile.c:unuse_pte: !folio_test_uptodate(folio) -> "
                                  "set_pte_at(swp_entry_to_pte(make_poisoned_swp_entry())); "
                                  "folio_put_swap(swapcache, page); pte_unmap_unlock()" if k.swap_table else
                                  "mm/swapfile.c:unuse_pte: !PageUptodate(page) -> "
                                  "set_pte_at(swp_entry_to_pte(make_swapin_error_entry(page))); swap_free(entry); "
                                  "pte_unmap_unlock()") + freed,
                 effect=swapin_error, reads=[page] + slot + mm.locks(), writes=[mm.ptl, mm.pte] + slot)

    def free_swap(s):
        fid = getattr(s, page)
        d = {mm.lock[fid]: FREE, entry: PTE_NONE, page: NO_FOLIO}
        mm.try_to_free_swap(s, d, fid)
        mm.put_folio(s, d, fid)
        return d

    ctx.step("free_swap", ("mm/swapfile.c:unuse_pte_range: folio_free_swap(folio); folio_unlock(folio); "
                           "folio_put(folio)" if k.swap_table else
                           "mm/swapfile.c:unuse_pte_range: try_to_free_swap(page); unlock_page(page); "
                           "put_page(page)") + freed,
             effect=free_swap, reads=[page] + slot + mm.locks() + mm.ff("swapcache", "writeback", "ref", "map"),
             writes=[entry, page] + mm.locks() + slot + folio_all)

    def tail_guard(s):
        cache = getattr(s, mm.swp_cache)
        return cache == NO_FOLIO or (getattr(s, mm.lock[cache]) == FREE
                                     and not getattr(s, mm.f["writeback"][cache]))

    def tail(s):
        d = {GOTO: DONE}
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.try_to_free_swap(s, d, cache, lock_taken_here=True)    # only frees stale folios
        if retry and mm.slot_in_use(s, d):
            d[GOTO] = "unuse_pte_range"                # si->inuse_pages: goto retry
        return d

    ctx.step("tail", "mm/swapfile.c:try_to_unuse: find_next_to_unuse(); folio_lock(); "
             "folio_wait_writeback(); folio_free_swap(); folio_unlock()" + freed
             + ("; READ_ONCE(si->inuse_pages) && !signal_pending(current) -> goto retry" if retry else ""),
             guard=tail_guard, effect=tail,
             reads=slot + mm.locks() + mm.ff("writeback", "swapcache", "ref", "map"),
             writes=slot + folio_all, branches=[DONE] + (["unuse_pte_range"] if retry else []))


# --------------------------------------------------------------------------------------------
# The swap table's count and its overflow (mm, swap: use the swap table to track the swap count,
# 0d6af9bcf383, first merged in v7.1-rc1)


def emit_swap_dup_entry_direct(t, sc: SwapCluster, *, free_on_success: bool,
                               cont: str = DONE, prefix: str = "dup") -> None:
    """swap_dup_entry_direct(entry) -> swap_dup_entries_cluster(si, offset, 1) on the modelled slot
    (copy_nonpresent_pte() of fork, under the PTLs): under ci->lock, __swap_cluster_dup_entry(); at
    SWP_TB_COUNT_MAX - 1 without an extend table it fails with -ENOMEM, the function drops ci->lock,
    swap_extend_table_alloc() installs a zeroed table (under ci->lock, unless one is there), re-takes
    ci->lock and restarts at the same slot. `free_on_success`: the fix for 0d6af9bcf383's leak
    (David Carlier, syzbot deedf22929084640666f) calls swap_extend_table_try_free() on the success
    path too, as the failure path does."""
    top = sc.max

    def try_dup(s):
        count = getattr(s, sc.count)
        d = {}
        if count == 0:
            raise ModelError("swap_dup_entries_cluster() of a free slot (the PTE still holds the entry)")
        if count < top - 1:
            d[sc.count] = count + 1
        elif count == top - 1:
            if not getattr(s, sc.extend):
                d[GOTO] = f"{prefix}.extend_alloc"    # -ENOMEM: spin_unlock(&ci->lock)
                return d
            d[sc.extend_cnt] = top
            d[sc.count] = top
        else:
            d[sc.extend_cnt] = getattr(s, sc.extend_cnt) + 1
        if free_on_success:
            sc.try_free(s, d)
        d[GOTO] = cont
        return d

    t.step(f"{prefix}.dup", "mm/swapfile.c:swap_dup_entries_cluster: swap_cluster_lock(); "
               "__swap_cluster_dup_entry(ci, ci_off): count < SWP_TB_COUNT_MAX - 1 -> count + 1; "
               "== SWP_TB_COUNT_MAX - 1: ci->extend_table ? extend_table[ci_off] = SWP_TB_COUNT_MAX : "
               "-ENOMEM -> spin_unlock(&ci->lock); == SWP_TB_COUNT_MAX -> ++extend_table[ci_off]; "
               + ("swap_extend_table_try_free(ci) [the leak fix]; " if free_on_success else "")
               + "swap_cluster_unlock(ci)",
               guard=lambda s: getattr(s, sc.lock) == FREE, effect=try_dup,
               reads=[sc.lock, sc.count, sc.extend, sc.extend_cnt],
               writes=[sc.count, sc.extend, sc.extend_cnt],
               branches=[cont, f"{prefix}.extend_alloc"])

    def alloc(s):
        d = {GOTO: f"{prefix}.dup"}
        if not getattr(s, sc.extend):
            d[sc.extend] = True                        # ci->extend_table = table (zeroed)
            d[sc.extend_cnt] = 0
        return d                                       # else kfree(table)

    t.step(f"{prefix}.extend_alloc", "mm/swapfile.c:swap_extend_table_alloc(si, ci, GFP_ATOMIC): "
               "kzalloc(); spin_lock(&ci->lock); !ci->extend_table -> ci->extend_table = table, "
               "spin_unlock() [else spin_unlock() then] kfree(table); [swap_dup_entries_cluster: "
               "spin_lock(&ci->lock); goto restart]",
               guard=lambda s: getattr(s, sc.lock) == FREE, effect=alloc,
               reads=[sc.lock, sc.extend], writes=[sc.extend, sc.extend_cnt], branches=[f"{prefix}.dup"])


def emit_swap_put_entries_direct(t, sc: SwapCluster, *, cont: str = DONE,
                                 prefix: str = "put") -> None:
    """swap_put_entries_direct(entry, 1) -> swap_put_entries_cluster(si, offset, 1, true) on the
    modelled slot (zap_nonpresent_ptes(), under the PTL): under ci->lock, a count of 1 on an uncached
    slot frees it (__swap_cluster_free_entries()); otherwise __swap_cluster_put_entry(): at
    SWP_TB_COUNT_MAX the count lives in extend_table[ci_off], which drops back into the table word
    (and swap_extend_table_try_free()) when it reaches SWP_TB_COUNT_MAX - 1."""
    top = sc.max

    def put(s):
        count = getattr(s, sc.count)
        d = {GOTO: cont}
        if count <= 0:
            raise ModelError("swap_put_entries_direct() of a free slot")
        if count == 1:
            d[sc.count] = 0                            # __swap_cluster_free_entries()
            sc.free_cluster(s, d)
            return d
        if count == top:
            c = getattr(s, sc.extend_cnt) - 1
            if c == top - 1:
                d[sc.extend_cnt] = 0
                d[sc.count] = top - 1
                sc.try_free(s, d)
            else:
                d[sc.extend_cnt] = c
            return d
        d[sc.count] = count - 1
        return d

    t.step(f"{prefix}.put", "mm/swapfile.c:swap_put_entries_cluster: swap_cluster_lock(); [count != 1 || cached ->] "
               "__swap_cluster_put_entry() [SWP_TB_COUNT_MAX -> --extend_table[ci_off], back to "
               "SWP_TB_COUNT_MAX - 1 -> swap_extend_table_try_free(ci)]; [count == 1 && !cached ->] "
               "__swap_cluster_free_entries(); swap_cluster_unlock()",
               guard=lambda s: getattr(s, sc.lock) == FREE, effect=put,
               reads=[sc.lock, sc.count, sc.extend, sc.extend_cnt] + sc.free_reads(),
               writes=[sc.count, sc.extend, sc.extend_cnt] + sc.free_writes(), branches=[cont])
