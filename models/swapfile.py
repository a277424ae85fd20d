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


def emit_try_to_unuse(ctx: Ctx, k: Kernel | None, *, retry: bool = False, match: str = "pte_same_as_swp",
                      device: "SwapDevice | None" = None) -> None:
    """`retry`: try_to_unuse()'s outer loop, `if (READ_ONCE(si->inuse_pages)) goto retry` (no signal
    pending): after the tail, a slot still in use sends swapoff back to walk the page table again.
    `match`: how unuse_pte() compares the PTE with swp_entry_to_pte(entry): "pte_same_as_swp" (the swp
    flag bits ignored) or "maybe_same_pte-nosoftdirty" (179ef71cbc08's maybe_same_pte() on a
    CONFIG_HAVE_ARCH_SOFT_DIRTY=y, CONFIG_MEM_SOFT_DIRTY=n kernel: plain pte_same(), so a swap PTE with
    the soft-dirty bit never matches; Martin Schwidefsky's report: "'swapoff -a' will hang").

    `device` (a SwapDevice; `ctx` is then a plain thread and `k` None): the same walk over
    swapoff-vs-alloc's device-lifetime state, where a slot is "-", "cache" or "pte+cache" and no folio
    is modelled: `swapoff.unuse_mm` is unuse_pte_range() -> unuse_pte() of the one swap PTE under its
    PTL (the cached folio mapped, folio_put_swap(): slot 0 goes from "pte+cache" to "cache"),
    `swapoff.unuse_tail` is the tail (folio_free_swap() of every cached slot, no PTL) and the retry
    while a slot is still in use (swap_usage_in_pages(si))."""
    if device is not None:
        if k is not None or retry or match != "pte_same_as_swp":
            raise ModelError("try_to_unuse(device=): the device-lifetime walk takes no Kernel, retry or match")
        _emit_unuse_device(ctx, device)
        return
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
        if k.unuse_pte_recheck and not same(getattr(s, mm.pte), getattr(s, entry)):
            return {GOTO: "free_swap"}                 # ret = 0
        d = {mm.ptl: ctx.owner}
        if k.unuse_check_uptodate and not getattr(s, mm.f["uptodate"][getattr(s, page)]):
            d[GOTO] = "swapin_error"
        return d

    if not k.unuse_pte_recheck:
        recheck = "[seeded: no pte_same_as_swp() re-check under the PTL]"
    elif match == "pte_same_as_swp":
        recheck = "pte_same_as_swp(*pte, swp_entry_to_pte(entry))"
    else:
        recheck = ("maybe_same_pte(*pte, swp_entry_to_pte(entry)) [CONFIG_MEM_SOFT_DIRTY=n: pte_same(), the "
                   "swp soft-dirty bit not cleared]")
    ctx.step("unuse_pte", "mm/swapfile.c:unuse_pte: pte_offset_map_lock(); " + recheck
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
        if k.anon_exclusive and old.exclusive and k.swp_exclusive and k.unuse_rmap_exclusive:
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
    if not k.swp_exclusive:
        excl_ref = "RMAP_NONE"
    elif not k.unuse_rmap_exclusive:
        excl_ref = "RMAP_NONE [seeded: pte_swp_exclusive(old_pte) ignored]"
    else:
        excl_ref = ("RMAP_EXCLUSIVE if pte_swp_exclusive(old_pte)" if k.swap_table else
                    "RMAP_EXCLUSIVE if pte_swp_exclusive(*pte)")
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


def _emit_unuse_device(t, dev: "SwapDevice") -> None:
    """emit_try_to_unuse(device=dev): the walk over the device-lifetime state of swapoff-vs-alloc."""
    mm = dev.mm

    def unuse_mm(s):
        pte = getattr(s, dev.pte)
        if pte.kind != "swap":
            return {}
        fid = getattr(s, mm.swp_cache)                 # the swap-cache folio of the entry
        d = {dev.pte: pte_present(fid)}
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) + 1, ref=getattr(s, mm.f["ref"][fid]) + 1)
        dev.put_count(s, d, 0)                         # count 0, the folio still cached
        return d

    t.step("swapoff.unuse_mm", "mm/swapfile.c:try_to_unuse -> unuse_mm -> unuse_pte_range: a swap PTE "
           "[read without the PTL] -> unuse_pte(): pte_offset_map_lock(); pte_same_as_swp(); the swap-cache "
           "folio mapped; folio_put_swap() [count 0]; pte_unmap_unlock()",
           guard=lambda s: not getattr(s, dev.pte).is_swap or getattr(s, dev.ptl) == FREE, effect=unuse_mm,
           reads=[dev.ptl, dev.pte] + dev.slot[0], writes=[dev.pte] + dev.slot[0])

    def tail(s):
        d = {}
        for k in range(len(dev.slot)):
            dev.free_swap(s, d, k)                     # folio_free_swap(): count 0 -> the slot freed
        if any(dev.in_use(s, d, k) for k in range(len(dev.slot))):
            d[GOTO] = "swapoff.unuse_mm"               # swap_usage_in_pages(si): goto retry
        return d

    t.step("swapoff.unuse_tail", "mm/swapfile.c:try_to_unuse: find_next_to_unuse(); swap_cache_get_folio(); "
           "folio_lock(); folio_wait_writeback(); folio_free_swap() [no PTL]; swap_usage_in_pages(si) -> "
           "goto retry",
           effect=tail, reads=dev.slot[0] + dev.slot[1], writes=dev.slot[0] + dev.slot[1],
           branches=["swapoff.unuse_mm"])


def emit_swapcache_prepare(t, label: str, has: str, page: str, *, ok: str, eexist: str,
                           put_page: bool) -> None:
    """swapcache_prepare(entry) (__swap_duplicate(entry, SWAP_HAS_CACHE)) as swapin-eexist-livelock's
    tasks call it in v5.17 (swap_state.emit_read_swap_cache_async, over one entry's fields): SWAP_HAS_CACHE
    (field `has`) set -> -EEXIST, the caller's page (field `page`, "" none) dropped (put_page() on the
    readahead path) and the thread goes to `eexist`; else it sets SWAP_HAS_CACHE and goes to `ok`."""
    def prepare(s):
        if getattr(s, has):
            return {page: "", GOTO: eexist}                     # -EEXIST: put_page(page)
        return {has: True, GOTO: ok}

    t.step(label, "mm/swapfile.c:swapcache_prepare(entry) [__swap_duplicate(entry, "
           "SWAP_HAS_CACHE)]: SWAP_HAS_CACHE already set -> -EEXIST"
           + ("; put_page(page)" if put_page else ""),
           effect=prepare, reads=[has], writes=[has, page], branches=[eexist, ok])


# --------------------------------------------------------------------------------------------
# The swap table's count and its overflow (mm, swap: use the swap table to track the swap count,
# 0d6af9bcf383, first merged in v7.1-rc1)


EXTEND_TABLE_FORMS = ("leaky", "posted-fix", "recheck")
"""How swap_dup_entries_cluster() / swap_extend_table_alloc() / __swap_cluster_put_entry() treat the
extend table across the ci->lock drop: `leaky` (linux-mm mm/swapfile.c @849929c21817: the allocation
installs a table whenever none is attached, only the put that brings an overflowed count back to
SWP_TB_COUNT_MAX - 1 and the dup's failure path try to free it), `posted-fix` (the leaky form plus
David Carlier's posted patch: swap_extend_table_try_free() on the dup's success path and
kfree(ci->extend_table) in swap_cluster_free_table(); dropped by its author as redundant with the
next form), `recheck` (linux-mm mm/swapfile.c @000bd100acdb, "mm, swap: avoid leaving unused extend
table after alloc race": swap_extend_table_alloc() re-checks under ci->lock that the cluster's table
is there, the slot is still at SWP_TB_COUNT_MAX - 1 or above and no table was attached, and frees its
allocation otherwise; __swap_cluster_put_entry() tries to free the table when a put leaves the count
at SWP_TB_COUNT_MAX - 2 or SWP_TB_COUNT_MAX - 1)."""


def _extend_form(form: str) -> str:
    if form not in EXTEND_TABLE_FORMS:
        raise ModelError(f"extend table form {form!r} not one of {', '.join(EXTEND_TABLE_FORMS)}")
    return form


def emit_swap_dup_entry_direct(t, sc: SwapCluster, *, form: str,
                               cont: str = DONE, prefix: str = "dup") -> None:
    """swap_dup_entry_direct(entry) -> swap_dup_entries_cluster(si, offset, 1) on the modelled slot
    (copy_nonpresent_pte() of fork, under the PTLs): under ci->lock, __swap_cluster_dup_entry(); at
    SWP_TB_COUNT_MAX - 1 without an extend table it fails with -ENOMEM, the function drops ci->lock,
    swap_extend_table_alloc() allocates a zeroed table and takes ci->lock to install it, then
    swap_dup_entries_cluster() re-takes ci->lock and restarts at the same slot. `form` (see
    EXTEND_TABLE_FORMS) says what the allocation re-checks and whether the success path frees an
    unused table. The GFP_ATOMIC kzalloc() is modelled as succeeding: its failure path (put back,
    swap_extend_table_try_free(), -ENOMEM -> copy_pte_range()'s swap_retry_table_alloc(GFP_KERNEL)
    and retry) is not."""
    form = _extend_form(form)
    top = sc.max
    free_on_success = form == "posted-fix"
    recheck = form == "recheck"

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
               + ("swap_extend_table_try_free(ci) [the posted fix]; " if free_on_success else "")
               + "swap_cluster_unlock(ci)",
               guard=lambda s: getattr(s, sc.lock) == FREE, effect=try_dup,
               reads=[sc.lock, sc.count, sc.extend, sc.extend_cnt],
               writes=[sc.count, sc.extend, sc.extend_cnt],
               branches=[cont, f"{prefix}.extend_alloc"])

    def alloc(s):
        d = {GOTO: f"{prefix}.dup"}
        if getattr(s, sc.extend):
            return d                                   # a table is attached: kfree(table)
        if recheck:
            count = getattr(s, sc.count)
            # the one modelled slot is the cluster: a free slot means a freed cluster table
            if count == 0 or count < top - 1:
                return d                               # goto out_free: kfree(table)
        d[sc.extend] = True                            # ci->extend_table = table (zeroed)
        d[sc.extend_cnt] = 0
        return d

    if recheck:
        ref = ("mm/swapfile.c:swap_extend_table_alloc(si, ci, ci_off, GFP_ATOMIC): kzalloc(); "
               "spin_lock(&ci->lock); !cluster_table_is_alloced(ci) -> out_free; "
               "swp_tb_get_count(__swap_table_get(ci, ci_off)) < SWP_TB_COUNT_MAX - 1 -> out_free; "
               "ci->extend_table -> out_free; ci->extend_table = table; spin_unlock(&ci->lock) "
               "[out_free: spin_unlock(&ci->lock) then kfree(table)]; [swap_dup_entries_cluster: "
               "spin_lock(&ci->lock); goto restart]")
    else:
        ref = ("mm/swapfile.c:swap_extend_table_alloc(si, ci, GFP_ATOMIC): "
               "kzalloc(); spin_lock(&ci->lock); !ci->extend_table -> ci->extend_table = table, "
               "spin_unlock() [else spin_unlock() then] kfree(table); [swap_dup_entries_cluster: "
               "spin_lock(&ci->lock); goto restart]")
    t.step(f"{prefix}.extend_alloc", ref,
           guard=lambda s: getattr(s, sc.lock) == FREE, effect=alloc,
           reads=[sc.lock, sc.extend] + ([sc.count] if recheck else []),
           writes=[sc.extend, sc.extend_cnt], branches=[f"{prefix}.dup"])


def emit_swap_put_entries_direct(t, sc: SwapCluster | None, *, form: str, cont: str = DONE,
                                 prefix: str = "put", device: "SwapDevice | None" = None,
                                 unlock: str | None = None) -> None:
    """swap_put_entries_direct(entry, 1) -> swap_put_entries_cluster(si, offset, 1, true) on the
    modelled slot (zap_nonpresent_ptes(), under the PTL): under ci->lock, a count of 1 on an uncached
    slot frees it (__swap_cluster_free_entries()); otherwise __swap_cluster_put_entry(): at
    SWP_TB_COUNT_MAX the count lives in extend_table[ci_off], which drops back into the table word
    when it reaches SWP_TB_COUNT_MAX - 1. The `leaky` and `posted-fix` forms call
    swap_extend_table_try_free() there only; the `recheck` form calls it after any put that leaves
    the count at SWP_TB_COUNT_MAX - 2 or SWP_TB_COUNT_MAX - 1 (a pending dup may just have attached
    a table).

    `device` (a SwapDevice, swapoff-vs-alloc; `sc` None, `form` one of SWAPOFF_DEVICE_FORMS): the same
    call as the zap of memory.emit_zap(device=) makes it, over the device's lifetime instead of the
    cluster's count word: `{prefix}.put` takes the PTL, clears the swap PTE and pins the device
    (get_swap_device()) before the put (v6.8: free_swap_and_cache() with _swap_info_get(), no pin;
    82b1c07a0af6: with get_swap_device()); the older forms read the swap map again
    (`{prefix}.huge_swapped`, swap_page_trans_huge_swapped()); `{prefix}.reclaim` is
    __try_to_reclaim_swap() of the cached folio and put_swap_device(); a PTE that is not a swap entry
    or a dead device goes straight to `unlock` (the caller's pte_unmap_unlock())."""
    if device is not None:
        if sc is not None or unlock is None:
            raise ModelError("swap_put_entries_direct(device=): no SwapCluster, and the caller's unlock label")
        _emit_put_device(t, device, form=form, prefix=prefix, unlock=unlock)
        return
    form = _extend_form(form)
    top = sc.max
    recheck = form == "recheck"

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
        if recheck and count - 1 == top - 2:
            sc.try_free(s, d)
        return d

    if recheck:
        ref = ("mm/swapfile.c:swap_put_entries_cluster: swap_cluster_lock(); [count != 1 || cached ->] "
               "__swap_cluster_put_entry() [SWP_TB_COUNT_MAX -> --extend_table[ci_off], back to "
               "SWP_TB_COUNT_MAX - 1 -> extend_table[ci_off] = 0 and the count into the table word; "
               "else --count in the table word; then count == SWP_TB_COUNT_MAX - 2 || count == "
               "SWP_TB_COUNT_MAX - 1 -> swap_extend_table_try_free(ci)]; [count == 1 && !cached ->] "
               "__swap_cluster_free_entries(); swap_cluster_unlock()")
    else:
        ref = ("mm/swapfile.c:swap_put_entries_cluster: swap_cluster_lock(); [count != 1 || cached ->] "
               "__swap_cluster_put_entry() [SWP_TB_COUNT_MAX -> --extend_table[ci_off], back to "
               "SWP_TB_COUNT_MAX - 1 -> swap_extend_table_try_free(ci)]; [count == 1 && !cached ->] "
               "__swap_cluster_free_entries(); swap_cluster_unlock()")
    t.step(f"{prefix}.put", ref,
           guard=lambda s: getattr(s, sc.lock) == FREE, effect=put,
           reads=[sc.lock, sc.count, sc.extend, sc.extend_cnt] + sc.free_reads(),
           writes=[sc.count, sc.extend, sc.extend_cnt] + sc.free_writes(), branches=[cont])


def _emit_put_device(t, dev: "SwapDevice", *, form: str, prefix: str, unlock: str) -> None:
    """emit_swap_put_entries_direct(device=): the zap of the swap PTE (zap_pte_range() -> zap_nonpresent_ptes(), the PTL held throughout):
    v6.8 free_swap_and_cache(): _swap_info_get() [no reference], __swap_entry_free() [count 0, the
    cached folio keeps SWAP_HAS_CACHE], swap_page_trans_huge_swapped() [reads swap_map],
    __try_to_reclaim_swap(); 82b1c07a0af6 (CVE-2024-26960) wraps it in get_swap_device() /
    put_swap_device(); 2026: swap_put_entries_direct() -> get_swap_device();
    swap_put_entries_cluster(..., reclaim_cache) -> __try_to_reclaim_swap(); put_swap_device()."""
    pinned = form != "v6.8"
    st = form == "mainline-2026"

    mm = dev.mm

    def zap(s):
        d = {}
        pte = getattr(s, dev.pte)
        d[dev.pte] = PTE_NONE
        if not pte.is_swap:
            if pte.present:                            # zap_present_ptes(): no swap entry to put
                fid = pte.folio
                mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)
                mm.put_folio(s, d, fid)                # folio_remove_rmap_pte(); the mmu_gather's put
            d[GOTO] = unlock
            return d
        if pinned:
            if getattr(s, dev.dead):
                d[GOTO] = unlock                 # get_swap_device() fails: WARN_ON_ONCE(!si)
                return d
            d[dev.users] = getattr(s, dev.users) + 1
        dev.touch(s, d)
        dev.put_count(s, d, 0)                         # count 0, the folio still in the swap cache
        return d

    if st:
        ref = ("mm/memory.c:zap_nonpresent_ptes -> mm/swapfile.c:swap_put_entries_direct(entry, 1): "
               "get_swap_device(); swap_put_entries_cluster(): __swap_cluster_put_entry() [count 0, "
               "cached: need_reclaim]")
    elif pinned:
        ref = ("mm/memory.c:zap_pte_range -> mm/swapfile.c:free_swap_and_cache(entry): p = "
               "get_swap_device(entry); WARN_ON(!p->swap_map[offset]); count = __swap_entry_free(p, entry) "
               "[SWAP_HAS_CACHE]")
    else:
        ref = ("mm/memory.c:zap_pte_range -> mm/swapfile.c:free_swap_and_cache(entry): p = "
               "_swap_info_get(entry) [no reference]; count = __swap_entry_free(p, entry) [SWAP_HAS_CACHE]")
    t.step(f"{prefix}.put", ref, acquire=dev.ptl, effect=zap,
           reads=[dev.pte, dev.dead, dev.users, dev.freed] + dev.slot[0],
           writes=[dev.pte, dev.users, dev.uaf] + dev.slot[0], branches=[unlock])

    if not st:
        def huge_swapped(s):
            d = {}
            dev.touch(s, d)                            # reads p->swap_map / cluster_info
            return d

        t.step(f"{prefix}.huge_swapped", "mm/swapfile.c:free_swap_and_cache: count == SWAP_HAS_CACHE && "
               "!swap_page_trans_huge_swapped(p, entry) [reads p->swap_map, lock_cluster_or_swap_info()]",
               effect=huge_swapped, reads=[dev.freed], writes=[dev.uaf])

    def reclaim(s):
        d = {}
        dev.touch(s, d)
        dev.free_swap(s, d, 0)                         # folio_free_swap(): the slot freed
        if pinned:
            d[dev.users] = getattr(s, dev.users) - 1   # put_swap_device()
        return d

    t.step(f"{prefix}.reclaim", ("mm/swapfile.c:swap_put_entries_cluster: __try_to_reclaim_swap(si, offset, "
                           "TTRS_UNMAPPED | TTRS_FULL) [folio_trylock(); folio_free_swap()]; "
                           "swap_put_entries_direct: put_swap_device(si)") if st else
           ("mm/swapfile.c:free_swap_and_cache: __try_to_reclaim_swap(p, offset, TTRS_UNMAPPED | TTRS_FULL)"
            + ("; put_swap_device(p)" if pinned else "")),
           effect=reclaim, reads=[dev.freed, dev.users] + dev.slot[0], writes=[dev.uaf, dev.users] + dev.slot[0])


# --------------------------------------------------------------------------------------------
# The swap device's lifetime: swapoff(2) against the paths that use the device without an entry's
# count or a locked swap-cache folio pinning it: the zap's free_swap_and_cache() /
# swap_put_entries_direct() (CVE-2024-26960) and swap slot allocation (5f843a9a3a1e).
# The zap (memory.emit_zap(device=) -> emit_swap_put_entries_direct(device=)) and swapoff's walk
# (emit_try_to_unuse(device=)) are forms of those emitters over this state and an MM's slots.

SWAPOFF_DEVICE_FORMS = ("v6.8", "82b1c07a0af6", "5f843a9a3a1e", "0ec8bc9e880e", "mainline-2026")


class SwapDevice:
    """The swap_info_struct of the one swap device as swapoff and its racers see it: SWP_WRITEOK,
    the SWP_SCANNING count (allocators inside scan_swap_map_slots() / cluster_alloc_swap()),
    `si->users` (get_swap_device() references; percpu_ref_tryget_live() fails once swapoff killed
    the ref), whether swapoff freed the swap map and cluster info; `uaf` (a ghost) is set when a path
    reads or writes the device's structures after swapoff freed them.

    The entries, folios and the PTE are the mm vocabulary's, an `MM` with a range of two slots of
    this device (`mm`): slot 0 is the entry of the swap PTE (`mm.pte`, the zapped one) and its folio
    A is in the swap cache (count 1; 0 once the PTE is zapped or unused, A still cached); slot 1 is
    free until an allocation puts another folio, B (reclaim's, isolated), in the swap cache on it. A
    slot is in use while it has a count or a cached folio (MM.slot_in_use)."""

    def __init__(self, mm):
        self.mm = mm
        m = self.m = mm.m
        self.writeok = m.field("si_writeok", True, (False, True), "si->flags & SWP_WRITEOK")
        self.scanning = m.field("si_scanning", 0, range(0, 2), "allocators scanning the device "
                                "(si->flags >= SWP_SCANNING)")
        self.users = m.field("si_users", 0, range(0, 3), "si->users: get_swap_device() references")
        self.dead = m.field("si_users_dead", False, (False, True), "percpu_ref_kill(&si->users) done")
        self.freed = m.field("si_freed", False, (False, True), "swapoff freed the swap map / cluster info")
        self.uaf = m.field("si_uaf", False, (False, True),
                           "(ghost) a path touched the device's structures after swapoff freed them", ghost=True)
        self.ptl = mm.ptl
        self.pte = mm.pte
        # per slot: its fields and its folio's (the footprint of a step that changes the slot)
        self.slot = [list(fs) + mm.ff(*mm.folio_flags, folios=[fid])
                     for fs, fid in zip(mm.base.slot_f, mm.folios)]

    def touch(self, s, d: dict) -> None:
        """A read or write of si->swap_map / the cluster info: after swapoff freed them, a use after free."""
        if getattr(s, self.freed):
            d[self.uaf] = True

    def in_use(self, s, d: dict, k: int) -> bool:
        """Slot k holds a swap count or a swap-cache folio."""
        count, has_cache, *_ = self.mm.base.slot_f[k]
        return self.mm.v(s, d, count) > 0 or self.mm.v(s, d, has_cache)

    def free_swap(self, s, d: dict, k: int) -> None:
        """folio_free_swap() of slot k's swap-cache folio once the slot has no count: the folio leaves
        the swap cache (the slot is free) and is dirtied."""
        mm = self.mm
        count, _, cache, _ = mm.base.slot_f[k]
        fid = mm.v(s, d, cache)
        if fid != NO_FOLIO and mm.v(s, d, count) == 0:
            mm.fset(d, fid, dirty=True)                # folio_set_dirty(): its data only in RAM now
            mm.swap_cache_del(s, d, fid, k)            # (the put frees a folio no one else holds)

    def put_count(self, s, d: dict, k: int) -> None:
        """One swap count less on slot k (__swap_entry_free() / folio_put_swap() /
        __swap_cluster_put_entry()); the cached folio keeps the slot in use."""
        count = self.mm.base.slot_f[k][0]
        d[count] = self.mm.v(s, d, count) - 1


def emit_swapoff(t, dev: SwapDevice, *, form: str) -> None:
    """SYSCALL swapoff: del_from_avail_list(p, true) clears SWP_WRITEOK under si->lock; [2026]
    wait_for_allocation(); try_to_unuse(): unuse_mm() -> unuse_pte() under the PTL, then the tail
    (find_next_to_unuse(); folio_lock(); folio_free_swap()) without it, again while
    si->inuse_pages; percpu_ref_kill(&p->users); synchronize_rcu(); wait_for_completion(&p->comp);
    [v6.8-v6.12] the wait for SWP_SCANNING; the swap map and cluster info freed."""
    st = form == "mainline-2026"
    t.step("swapoff.del_avail", "mm/swapfile.c:swapoff: spin_lock(&p->lock); del_from_avail_list(p, true) "
           "[si->flags &= ~SWP_WRITEOK]; spin_unlock()",
           effect=lambda s: {dev.writeok: False}, writes=[dev.writeok])
    if st:
        # the allocation's SWP_WRITEOK test and its allocation are one step under ci->lock here, so
        # passing every cluster lock waits for nothing more: the step stays for the kernel's order
        t.step("swapoff.wait_alloc", "mm/swapfile.c:swapoff: wait_for_allocation(p) [swap_cluster_lock(); "
               "swap_cluster_unlock() on every cluster]")

    emit_try_to_unuse(t, None, device=dev)
    t.step("swapoff.kill", "mm/swapfile.c:swapoff: percpu_ref_kill(&p->users); synchronize_rcu()",
           effect=lambda s: {dev.dead: True}, writes=[dev.dead])
    t.step("swapoff.wait_users", "mm/swapfile.c:swapoff: wait_for_completion(&p->comp) [the last "
           "put_swap_device()]", guard=lambda s: getattr(s, dev.users) == 0, reads=[dev.users])
    if not st:
        t.step("swapoff.wait_scan", "mm/swapfile.c:swapoff: while (p->flags >= SWP_SCANNING) "
               "schedule_timeout_uninterruptible(1) [wait for any scan]",
               guard=lambda s: getattr(s, dev.scanning) == 0, reads=[dev.scanning])
    t.step("swapoff.free", "mm/swapfile.c:swapoff: p->swap_map = NULL; p->cluster_info = NULL; "
           "vfree(swap_map); free_swap_cluster_info(cluster_info)" if not st else
           "mm/swapfile.c:swapoff: p->cluster_info = NULL; p->max = 0; zswap_swapoff(); "
           "free_swap_cluster_info(cluster_info, maxpages)",
           effect=lambda s: {dev.freed: True}, writes=[dev.freed])


def emit_folio_alloc_swap(t, dev: SwapDevice, *, form: str) -> None:
    """Reclaim allocating a slot for another folio (shrink_folio_list() -> folio_alloc_swap()):
    v6.8 (82b1c07a0af6 too) get_swap_pages() -> scan_swap_map_slots(): SWP_WRITEOK tested under
    si->lock, si->flags += SWP_SCANNING, si->lock dropped for reclaim or discard, SWP_WRITEOK tested
    again before the slot is taken; 5f843a9a3a1e (v6.11) cluster_alloc_swap(): no SWP_SCANNING and no
    second SWP_WRITEOK test; 0ec8bc9e880e puts both back (cluster_alloc_range() tests SWP_WRITEOK);
    2026: swap_alloc_fast()/swap_alloc_slow() take get_swap_device_info() [percpu_ref_tryget_live()],
    __swap_cluster_alloc_entries() tests SWP_WRITEOK under ci->lock."""
    st = form == "mainline-2026"
    scan_flag = form in ("v6.8", "82b1c07a0af6", "0ec8bc9e880e")
    recheck = form != "5f843a9a3a1e"

    def start(s):
        d = {}
        if st:
            if getattr(s, dev.dead):
                d[GOTO] = DONE                         # get_swap_device_info() fails
                return d
            d[dev.users] = getattr(s, dev.users) + 1
            return d
        if not getattr(s, dev.writeok):
            d[GOTO] = DONE                             # !(si->flags & SWP_WRITEOK): next device
            return d
        dev.touch(s, d)
        if scan_flag:
            d[dev.scanning] = getattr(s, dev.scanning) + 1
        return d

    t.step("alloc.start", "mm/swapfile.c:swap_alloc_slow: get_swap_device_info(si) "
           "[percpu_ref_tryget_live(&si->users)]" if st else
           ("mm/swapfile.c:get_swap_pages: spin_lock(&si->lock); SWP_WRITEOK; scan_swap_map_slots()"
            + (": si->flags += SWP_SCANNING" if scan_flag else " -> cluster_alloc_swap() [no SWP_SCANNING]")),
           effect=start, reads=[dev.dead, dev.users, dev.writeok, dev.scanning, dev.freed],
           writes=[dev.users, dev.scanning, dev.uaf], branches=[DONE])

    def take(s):
        d = {}
        dev.touch(s, d)
        if (not recheck or getattr(s, dev.writeok)) and not dev.in_use(s, d, 1):
            dev.mm.swap_cache_add(s, d, dev.mm.folios[1], 1)   # the folio enters the swap cache on slot 1
        if st:
            d[dev.users] = getattr(s, dev.users) - 1   # put_swap_device()
        if scan_flag:
            d[dev.scanning] = getattr(s, dev.scanning) - 1
        return d

    if st:
        ref = ("mm/swapfile.c:cluster_alloc_swap_entry -> alloc_swap_scan_cluster -> "
               "__swap_cluster_alloc_entries(): swap_cluster_lock(); SWP_WRITEOK else fail; "
               "__swap_cache_add_folio(); swap_range_alloc(); swap_cluster_unlock(); put_swap_device(si)")
    elif form == "5f843a9a3a1e":
        ref = ("mm/swapfile.c:cluster_alloc_swap -> cluster_alloc_swap_entry -> alloc_swap_scan_cluster -> "
               "cluster_alloc_range() [after si->lock was dropped for reclaim; no SWP_WRITEOK test]")
    elif form == "0ec8bc9e880e":
        ref = ("mm/swapfile.c:cluster_alloc_range: !(si->flags & SWP_WRITEOK) -> false; ...; "
               "cluster_alloc_swap: si->flags -= SWP_SCANNING")
    else:
        ref = ("mm/swapfile.c:scan_swap_map_slots: spin_lock(&si->lock) again; checks: "
               "!(si->flags & SWP_WRITEOK) -> no_page; the slot taken; si->flags -= SWP_SCANNING")
    t.step("alloc.take", ref, effect=take,
           reads=[dev.freed, dev.writeok, dev.users, dev.scanning] + dev.slot[1],
           writes=[dev.uaf, dev.users, dev.scanning] + dev.slot[1])
