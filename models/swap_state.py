"""mm/swap_state.c and mm/page_io.c: the swap cache. Reading a swap slot into a folio in the swap
cache (__read_swap_cache_async() / swap_read_folio()), shared by do_swap_page, unuse_pte and shmem;
and the swap-cache steps their callers run: add_to_swap() of shrink_folio_list (vmscan.py), the
swap-in's folio entering the swap cache and its memcg charge (__swap_cache_prepare_and_add() /
__swap_cache_alloc(), do_swap_page in memory.py), swap_cluster_readahead()'s swap_cache_read_folio()
(shmem-large-swap-entry), the dropbehind completion of zswap writeback
(swap_writeback_dropbehind_folio(), zswap.py), and the -EEXIST retry of one task swapping one entry
in (swapin-eexist-livelock).
"""

from __future__ import annotations


from pteverify.model import DONE, FREE, GOTO

from .mm import GARBAGE, NO_FOLIO, Ctx, Kernel


def read_slot(mm, s) -> tuple[str, bool]:
    """swap_readpage(): what the read brings in, and whether it succeeded (PG_uptodate)."""
    if mm.swp_bad:
        return GARBAGE, False
    return getattr(s, mm.swp_data), True


def read_into_swap_cache(mm, s, d: dict) -> str:
    """__read_swap_cache_async() on a miss: a fresh folio enters the swap cache (SWAP_HAS_CACHE; one
    reference for the cache, one for the caller) and swap_readpage() fills it. Returns the folio."""
    data, ok = read_slot(mm, s)
    fid = mm.alloc_folio(s, d, ref=2, swapcache=True, data=data, uptodate=ok)
    d[mm.swp_has_cache] = True
    d[mm.swp_cache] = fid
    return fid


def swap_read_folio(mm, s, d: dict, nr: int = 1, zswap_form: str = "mainline-2026") -> tuple[str, bool, bool]:
    """mm/page_io.c:swap_read_folio() of a folio of `nr` pages from this view's slot (slot 0 of the
    range for a large folio): zswap_load() first where the scenario models per-slot zswap entries
    (models/zswap.py), else the device. Returns (data, uptodate, dirty). A large folio's content is
    ORIGINAL only when every page read it (the device copies of all its slots)."""
    from .zswap import zswap_load
    loaded = zswap_load(mm, s, d, nr, zswap_form)
    if loaded is not None:
        return loaded
    if nr == 1:
        data, ok = read_slot(mm, s)
        return data, ok, False
    base = mm.base
    pages = [mm.v(s, d, base.slot_f[i][3]) for i in range(nr)]
    data, ok = read_slot(mm, s)
    if not ok:
        return data, ok, False
    return (pages[0] if all(p == pages[0] for p in pages) else GARBAGE), True, False


def emit_add_to_swap(ctx: Ctx, k: Kernel, page: str, *, fail: str, writes: list[str] = ()) -> None:
    """shrink_folio_list()'s add_to_swap() of the locked folio in local `page` (step `add_to_swap`):
    mm/swap_state.c:add_to_swap() (get_swap_page(); add_to_swap_cache(); set_page_dirty()); with the
    2026 swap core (`k.swap_table`) add_to_swap() is gone and shrink_folio_list() calls
    folio_alloc_swap() (mm/swapfile.c) and folio_mark_dirty() itself, and the step names that call. One
    swap slot is modelled: while it is in use the allocation fails and reclaim goes to `fail`
    (activate_locked). A memcg-modelling scenario records the folio's memcg in the entry
    (mem_cgroup_try_charge_swap()). `writes`: the caller's locals the step declares written."""
    mm = ctx.mm
    slot = mm.slot_fields()

    def add_to_swap(s):
        fid = getattr(s, page)
        d = {}
        # folio_alloc_swap(): VM_BUG_ON_FOLIO(!folio_test_locked(folio)) (add_to_swap(): VM_BUG_ON_PAGE)
        mm.assert_folio_locked(s, fid, "folio_alloc_swap()" if k.swap_table else "add_to_swap()")
        if getattr(s, mm.f["swapcache"][fid]):
            return d                                   # already in the swap cache
        if mm.slot_in_use(s, d):
            d[GOTO] = fail                             # get_swap_page() fails -> activate_locked
            return d
        d[mm.swp_has_cache] = True
        d[mm.swp_cache] = fid
        if mm.swp_memcg:
            d[mm.swp_memcg] = getattr(s, mm.f["memcg"][fid])   # mem_cgroup_try_charge_swap()
        mm.fset(d, fid, swapcache=True, dirty=True)
        mm.get_folio(s, d, fid)
        return d

    ctx.step("add_to_swap", "mm/vmscan.c:shrink_folio_list: folio_alloc_swap(folio) [mm/swapfile.c: a slot "
             "with count 0, the folio in the swap cache" + ("; mem_cgroup_try_charge_swap() records "
             "folio_memcg() in the entry's swap_cgroup" if mm.swp_memcg else "") + "]; folio_mark_dirty(folio)"
             if k.swap_table else
             "mm/swap_state.c:add_to_swap: get_swap_page(); add_to_swap_cache(); "
             "set_page_dirty(page)",
             effect=add_to_swap, reads=[page] + slot + mm.locks() + mm.ff("swapcache", "ref", "map") + mm.memcg_reads(),
             writes=slot + mm.all_folio() + mm.locks() + list(writes), branches=[fail])


def emit_swap_cache_add(ctx: Ctx, k: Kernel, page: str, swc: str, leave) -> None:
    """mm/swap_state.c, the swap-in's folio entering the swap cache (memcg-modelling scenarios on the
    swap table core): `dsp.add_cache` adds the folio `page` the lookup allocated, and `dsp.charge`
    charges it afterwards where the form does (2732acda82c9, mainline-2026).

    * 9acbe135588e ("mm/swap: fix swap cache memcg accounting", March 2026): __swap_cache_prepare_and_add()
      calls mem_cgroup_swapin_charge_folio(folio, NULL, gfp, entry) first (done in the lookup step),
      then loops on swap_cache_add_folio(): -EEXIST with a cached folio returns that folio, any other
      error (the entry freed: -ENOENT) returns NULL;
    * 2732acda82c9 ("mm, swap: use swap cache as the swap in synchronize layer"): the folio is added
      first, then charged to the entry's record, which cannot change while the folio pins the slot;
    * mainline-2026 (linux-mm mm/swap_state.c @ 008bbb62, __swap_cache_alloc()): the range is checked
      under ci->lock, the folio allocated, checked again and added under ci->lock with the entry's
      memcg id read there (__swap_cache_add_check(..., &memcg_id)), then charged with that id."""
    mm = ctx.mm
    charge_after = k.swapin_charge in ("2732acda82c9", "mainline-2026")

    def add(s):
        d = {}
        fid = getattr(s, page)
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO or not mm.slot_in_use(s, d):
            mm.put_folio(s, d, fid)                    # failed: folio_put(); the cached folio or NULL
            if cache == NO_FOLIO:
                return leave(d, s=s)                   # entry freed: swapin returns NULL, refault
            mm.get_folio(s, d, cache)
            d[page] = cache
            d[swc] = cache
            d[GOTO] = "dsp.lock"
            return d
        data, ok = read_slot(mm, s)                    # swap_read_folio() once it is in the cache
        mm.fset(d, fid, ref=getattr(s, mm.f["ref"][fid]) + 1, swapcache=True, data=data, uptodate=ok)
        d[mm.swp_has_cache] = True
        d[mm.swp_cache] = fid
        d[swc] = fid
        if not charge_after:
            d[GOTO] = "dsp.lock"
        return d

    locals_ = ctx.locals_fields(*Ctx.FAULT_LOCALS)
    if k.swapin_charge == "mainline-2026":
        ref = ("mm/swap_state.c:__swap_cache_alloc: spin_lock(&ci->lock); __swap_cache_add_check(ci, "
               "targ_entry, nr_pages, &shadow, &memcg_id) [-EEXIST: cached, -ENOENT: freed]; "
               "__swap_cache_do_add_folio(); spin_unlock(); swap_read_folio() [the cached folio on -EEXIST, "
               "NULL on -ENOENT]")
    else:
        ref = ("mm/swap_state.c:__swap_cache_prepare_and_add: swap_cache_add_folio(folio, entry, &shadow) "
               "[-EEXIST -> swap_cache_get_folio(entry): the cached folio; other errors -> NULL]; "
               "swap_read_folio()")
    ctx.step("dsp.add_cache", ref, effect=add,
             reads=[page, ctx.vars["ret"]] + mm.slot_fields() + mm.ff("ref", "map", "swapcache"),
             writes=mm.all_folio() + mm.slot_fields() + locals_,
             branches=list(ctx.retry_labels) + ["dsp.lock"])

    if charge_after:
        def charge(s):
            d = {}
            mm.fset(d, getattr(s, page), **mm.memcg_charge(s, d, mm.swp_memcg))
            return d

        ctx.step("dsp.charge", "mm/swap_state.c:__swap_cache_alloc: mem_cgroup_swapin_charge_folio(folio, "
                 "memcg_id, mm, gfp) [the id read under ci->lock]; memcg1_swapin(folio)"
                 if k.swapin_charge == "mainline-2026" else
                 "mm/swap_state.c:__swap_cache_prepare_and_add: mem_cgroup_swapin_charge_folio(folio, NULL, gfp, "
                 "entry) [after the folio entered the swap cache]; memcg1_swapin()",
                 effect=charge, reads=[page, mm.swp_memcg], writes=mm.ff("memcg"))


def emit_swap_writeback_dropbehind_folio(ctx: Ctx, folio: str, bug: str, *, gate: bool, slot: list[str]) -> None:
    """mm/swap_state.c:swap_writeback_dropbehind_folio(), the dropbehind completion of zswap writeback
    (zswap.emit_zswap_writeback_entry) on the folio in local `folio`: under the folio lock, a folio
    still under writeback, or one that no longer freezes at the swap cache's and our references (or
    is dirty), gets its dropbehind flag cleared and goes back to the LRU; otherwise it leaves the swap
    cache with a shadow. `gate` (mainline-2026): `!folio_test_swapcache(folio)` is tested first; without
    it, __remove_mapping() on a folio that already left the swap cache sets the ghost `bug` (its
    BUG_ON(mapping != folio_mapping(folio))). `slot`: the slot fields the step may write."""
    mm = ctx.mm
    folio_all = mm.all_folio()

    def drop(s):
        fid = getattr(s, folio)
        d = {mm.lock[fid]: FREE, folio: NO_FOLIO, GOTO: DONE}
        in_cache = getattr(s, mm.f["swapcache"][fid])
        if gate and not in_cache:
            raced = True
        elif getattr(s, mm.f["writeback"][fid]):
            raced = True
        elif not in_cache:
            # remove_mapping_set_shadow(swap_address_space(folio->swap), folio): __remove_mapping()
            # on a folio that left the swap cache: BUG_ON(mapping != folio_mapping(folio))
            d[bug] = True
            raced = True
        else:
            # __remove_mapping(): folio_ref_freeze(folio, 1 + 1) [ours and the swap cache's]; dirty
            raced = getattr(s, mm.f["ref"][fid]) != 2 or getattr(s, mm.f["dirty"][fid])
            if not raced:
                mm.delete_from_swap_cache(s, d, fid)   # __swap_cache_del_folio(): a shadow is left
        if raced:
            mm.fset(d, fid, dropbehind=False)          # folio_clear_dropbehind(); folio_add_lru()
        mm.put_folio(s, d, fid)
        return d

    ctx.step("wb.dropbehind", "mm/swap_state.c:swap_writeback_dropbehind_folio: folio_lock(); "
             + ("!folio_test_swapcache(folio) || " if gate else "")
             + "folio_test_writeback(folio) || !remove_mapping_set_shadow(swap_address_space("
             "folio->swap), folio, memcg) [__remove_mapping(): folio_ref_freeze(folio, 2), !dirty, "
             "__swap_cache_del_folio()] -> folio_clear_dropbehind(), folio_add_lru(); folio_unlock(); "
             "folio_put()",
             guard=lambda s: getattr(s, mm.lock[getattr(s, folio)]) == FREE, effect=drop,
             reads=[folio] + mm.locks() + slot + mm.ff("swapcache", "writeback", "ref", "dirty", "map"),
             writes=[folio, bug] + mm.locks() + slot + folio_all, branches=[DONE])


def emit_swap_readahead_s0(ctx: Ctx) -> None:
    """Swap readahead (swap_cluster_readahead() of a neighbouring fault) reading slot 0 of the range
    into an order-0 folio in the swap cache, ignorant of the shmem mapping's large entry
    (shmem-large-swap-entry)."""
    mm = ctx.mm
    count, _, cache, data = mm.base.slot_f[0]

    def ra(s):
        if getattr(s, cache) != NO_FOLIO or not getattr(s, count):
            return {}
        d = {}
        f = mm.alloc_folio(s, d, uptodate=True, data=getattr(s, data))
        mm.swap_cache_add(s, d, f, 0, refs=1)          # the swap cache's reference only
        return d

    ctx.step("readahead", "mm/swap_state.c:swap_cluster_readahead -> swap_cache_read_folio(slot0): an "
             "order-0 folio added to the swap cache; swap_read_folio()",
             effect=ra, reads=mm.all_slot_fields() + mm.all_folio(), writes=mm.all_slot_fields() + mm.all_folio())


# --------------------------------------------------------------------------------------------
# the -EEXIST retry of one task swapping one entry in

WAITS = ("cond_resched", "schedule_timeout")


def emit_read_swap_cache_async(t, f: dict, wait: str, cont: str = DONE) -> None:
    """mm/swap_state.c: v5.17's __read_swap_cache_async() -EEXIST retry, for one swap entry (the
    swap-in of swapin_readahead(); do_swap_page() itself is models/memory.py's).

    The steps of one task swapping the entry in:

    * `swapin.lookup`: `find_get_page(swap_address_space(entry))`: a hit returns the page; an unused
      slot (`!__swp_swapcount(entry)`) returns NULL; else a page is allocated (`alloc_page_vma()`);
    * `swapin.prepare`: `swapcache_prepare(entry)` sets SWAP_HAS_CACHE; -EEXIST when another task has set
      it and not yet added its page to the swap cache;
    * `swapin.wait` (-EEXIST): `cond_resched()` (before 029c4628b2eb: "an empty function in the
      preemptive system") or `schedule_timeout_uninterruptible(1)` (029c4628b2eb), then the lookup again;
    * `swapin.add`: `__SetPageLocked()`, `mem_cgroup_swapin_charge_page()`, `add_to_swap_cache()`,
      `workingset_refault()`, `lru_cache_add()`: the page is in the swap cache and returned (the
      caller's `swap_readpage()` is not modelled: nothing here waits on it).

    Fields of `f`: `has_cache` (SWAP_HAS_CACHE), `cache` (the page in the swap cache, "" none), `count`
    (the swap count), `got` (the page this task returned, "" none), `page` (this task's allocated
    page's name), `name` (that page's value).
    """
    from .swapfile import emit_swapcache_prepare      # swapfile.py imports this module
    has, cache, count, got, page = (f[k] for k in ("has_cache", "cache", "count", "got", "page"))
    mine = f["name"]

    def lookup(s):
        c = getattr(s, cache)
        if c:
            return {got: c, GOTO: cont}                         # find_get_page(): hit
        if getattr(s, count) == 0:
            return {GOTO: cont}                                 # !__swp_swapcount(entry): NULL
        return {page: mine}                                     # alloc_page_vma()

    t.step("swapin.lookup", "mm/swap_state.c:__read_swap_cache_async: get_swap_device(entry); page = "
           "find_get_page(swap_address_space(entry), swp_offset(entry)) -> return page; "
           "!__swp_swapcount(entry) -> return NULL; page = alloc_page_vma()",
           effect=lookup, reads=[cache, count], writes=[got, page], branches=[cont])

    emit_swapcache_prepare(t, "swapin.prepare", has, page, ok="swapin.add", eexist="swapin.wait", put_page=True)

    if wait == "cond_resched":
        wref = ("mm/swap_state.c:__read_swap_cache_async: -EEXIST: cond_resched() [empty on a PREEMPT "
                "kernel: the task keeps the CPU]; retry the loop")
    else:
        wref = ("mm/swap_state.c:__read_swap_cache_async: -EEXIST: schedule_timeout_uninterruptible(1) "
                "[the task sleeps a jiffy, off the run queue]; retry the loop")
    t.step("swapin.wait", wref, effect=lambda s: {GOTO: "swapin.lookup"}, branches=["swapin.lookup"])

    def add(s):
        return {cache: getattr(s, page), got: getattr(s, page), GOTO: cont}

    t.step("swapin.add", "mm/swap_state.c:__read_swap_cache_async: __SetPageLocked(page); "
           "mem_cgroup_swapin_charge_page(); add_to_swap_cache(page, entry); workingset_refault(); "
           "lru_cache_add(page); return page [read_swap_cache_async(): swap_readpage()]",
           effect=add, reads=[page], writes=[cache, got], branches=[cont])
