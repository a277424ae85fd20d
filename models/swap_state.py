"""mm/swap_state.c and mm/page_io.c: reading a swap slot into a folio in the swap cache
(__read_swap_cache_async() / swap_read_folio()), shared by do_swap_page, unuse_pte and shmem.
"""

from __future__ import annotations


from pteverify.model import DONE, GOTO

from .mm import GARBAGE


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


# --------------------------------------------------------------------------------------------
# the -EEXIST retry of one task swapping one entry in

WAITS = ("cond_resched", "schedule_timeout")
PATHS = ("readahead", "skip_swapcache")


def emit_swapin_retry(t, f: dict, path: str, wait: str, cont: str = DONE) -> None:
    """mm/swap_state.c: __read_swap_cache_async()'s -EEXIST retry, and do_swap_page()'s skip-swapcache
    retry of 13ddaf26be32 (mm/memory.c), for one swap entry.

    `emit_swapin_retry(t, f, path, wait)`, the steps of one task swapping the entry in:

    * `swapin.lookup`: the swap cache is looked up; a hit returns the page (readahead path:
      `find_get_page(swap_address_space(entry))`; skip path: `lookup_swap_cache()`, or the PTE no longer
      holds the entry: `pte_same()` fails and the fault returns, the access finds the page); an unused
      slot (`!__swp_swapcount(entry)`) returns NULL; else a page is allocated (`alloc_page_vma()`);
    * `swapin.prepare`: `swapcache_prepare(entry)` sets SWAP_HAS_CACHE; -EEXIST when another task has set
      it and not yet added its page to the swap cache (or, on the skip path, not yet cleared it);
    * `swapin.wait` (-EEXIST): `cond_resched()` (before 029c4628b2eb: "an empty function in the
      preemptive system") or `schedule_timeout_uninterruptible(1)` (029c4628b2eb; the skip path's since
      13ddaf26be32), then the lookup again (the skip path returns from the fault, and the access faults
      again);
    * `swapin.add` (readahead path): `__SetPageLocked()`, `mem_cgroup_swapin_charge_page()`,
      `add_to_swap_cache()`, `workingset_refault()`, `lru_cache_add()`: the page is in the swap cache and
      returned (the caller's `swap_readpage()` is not modelled: nothing here waits on it);
      `swapin.map` (skip path): the page read synchronously, `pte_same()` under the PTL, `set_pte_at()`,
      `swap_free()`; then `swapin.clear`: `swapcache_clear()` after the PTL unlock (13ddaf26be32).

    Fields of `f`: `has_cache` (SWAP_HAS_CACHE), `cache` (the page in the swap cache, "" none), `count`
    (the swap count), `pte` ("swap" or the page mapped), `got` (the page this task returned, "" none),
    `page` (this task's allocated page's name).
    """
    has, cache, count, pte, got, page = (f[k] for k in ("has_cache", "cache", "count", "pte", "got", "page"))
    mine = f["name"]

    def lookup(s):
        if path == "readahead":
            c = getattr(s, cache)
            if c:
                return {got: c, GOTO: cont}                     # find_get_page(): hit
        else:
            if getattr(s, pte) != "swap":
                return {got: getattr(s, pte), GOTO: cont}       # pte_same() fails: the page is mapped
        if getattr(s, count) == 0:
            return {GOTO: cont}                                 # !__swp_swapcount(entry): NULL
        return {page: mine}                                     # alloc_page_vma()

    if path == "readahead":
        ref = ("mm/swap_state.c:__read_swap_cache_async: get_swap_device(entry); page = find_get_page("
               "swap_address_space(entry), swp_offset(entry)) -> return page; !__swp_swapcount(entry) -> "
               "return NULL; page = alloc_page_vma()")
    else:
        ref = ("mm/memory.c:do_swap_page: page = lookup_swap_cache(entry); miss: SWP_SYNCHRONOUS_IO && "
               "__swap_count(entry) == 1 [skip swapcache]; alloc_page_vma() [a mapped PTE: pte_same() "
               "fails, the fault returns]")
    t.step("swapin.lookup", ref, effect=lookup, reads=[cache, count, pte], writes=[got, page],
           branches=[cont])

    def prepare(s):
        if getattr(s, has):
            return {page: "", GOTO: "swapin.wait"}              # -EEXIST: put_page(page)
        return {has: True, GOTO: "swapin.add" if path == "readahead" else "swapin.map"}

    t.step("swapin.prepare", "mm/swapfile.c:swapcache_prepare(entry) [__swap_duplicate(entry, "
           "SWAP_HAS_CACHE)]: SWAP_HAS_CACHE already set -> -EEXIST"
           + ("; put_page(page)" if path == "readahead" else ""),
           effect=prepare, reads=[has], writes=[has, page],
           branches=["swapin.wait", "swapin.add" if path == "readahead" else "swapin.map"])

    if wait == "cond_resched":
        wref = ("mm/swap_state.c:__read_swap_cache_async: -EEXIST: cond_resched() [empty on a PREEMPT "
                "kernel: the task keeps the CPU]; retry the loop")
    elif path == "readahead":
        wref = ("mm/swap_state.c:__read_swap_cache_async: -EEXIST: schedule_timeout_uninterruptible(1) "
                "[the task sleeps a jiffy, off the run queue]; retry the loop")
    else:
        wref = ("mm/memory.c:do_swap_page: swapcache_prepare() failed: schedule_timeout_uninterruptible(1); "
                "goto out [the fault returns and the access faults again]")
    t.step("swapin.wait", wref, effect=lambda s: {GOTO: "swapin.lookup"}, branches=["swapin.lookup"])

    if path == "readahead":
        def add(s):
            return {cache: getattr(s, page), got: getattr(s, page), GOTO: cont}

        t.step("swapin.add", "mm/swap_state.c:__read_swap_cache_async: __SetPageLocked(page); "
               "mem_cgroup_swapin_charge_page(); add_to_swap_cache(page, entry); workingset_refault(); "
               "lru_cache_add(page); return page [read_swap_cache_async(): swap_readpage()]",
               effect=add, reads=[page], writes=[cache, got], branches=[cont])
    else:
        def mapit(s):
            if getattr(s, pte) != "swap":
                return {page: ""}                               # !pte_same(): out_nomap
            return {pte: getattr(s, page), count: getattr(s, count) - 1, got: getattr(s, page)}

        t.step("swapin.map", "mm/memory.c:do_swap_page: swap_readpage(page, true); "
               "pte_offset_map_lock(); pte_same() [else out_nomap]; set_pte_at(pte); swap_free(entry); "
               "pte_unmap_unlock()",
               effect=mapit, reads=[page, count, pte], writes=[pte, count, got, page])

        def clear(s):
            # the fault returns; one that did not map the page faults again
            return {has: False, GOTO: cont if getattr(s, got) else "swapin.lookup"}

        t.step("swapin.clear", "mm/memory.c:do_swap_page: out: if (need_clear_cache) "
               "swapcache_clear(si, entry) [SWAP_HAS_CACHE cleared after the PTL unlock]; return "
               "[out_nomap: the access faults again]",
               effect=clear, reads=[got], writes=[has], branches=[cont, "swapin.lookup"])
