"""The invariants the scenarios check, stated in the kernel's own terms (each names the kernel check or
comment it comes from). A scenario builder picks the ones its threads can break; `pteverify show`
lists them with their footprints. The arm64 MTE invariants live with the MTE state in
arm64_mteswap.py; invariants over several processes with the scenarios that build them.
"""

from __future__ import annotations

from pteverify.model import FREE

from .mm import MM, NO_FOLIO, ZERO, holds_write, written


def inv_writable_pte_maps_exclusive_page(mm: MM) -> None:
    def ok(s):
        pte = getattr(s, mm.pte)
        return not (pte.present and pte.write) or getattr(s, mm.f["excl"][pte.folio])

    mm.m.invariant("writable_pte_maps_exclusive_page", ok, [mm.pte] + mm.ff("excl"),
                   "a writable present PTE maps a PG_anon_exclusive page "
                   "(do_swap_page: VM_BUG_ON(pte_write(pte) && !PageAnonExclusive(page)))")


def inv_pinned_mapped_page_is_exclusive(mm: MM) -> None:
    def ok(s):
        pte = getattr(s, mm.pte)
        return not (pte.present and getattr(s, mm.f["pin"][pte.folio])) or getattr(s, mm.f["excl"][pte.folio])

    mm.m.invariant("pinned_mapped_page_is_exclusive", ok, [mm.pte] + mm.ff("pin", "excl"),
                   "a GUP-pinned (FOLL_PIN) anonymous page mapped by a present PTE is PG_anon_exclusive "
                   "(gup_must_unshare() / sanity_check_pinned_pages())")


def inv_swap_pte_page_not_exclusive(mm: MM, procs: list[MM] | None = None) -> None:
    """No swap PTE (of `procs`, default `mm`) points at a PG_anon_exclusive folio in the swap cache,
    in every state where that PTE's PTL is free. The kernel states it as do_swap_page()'s
    BUG_ON(folio_test_anon(folio) && PageAnonExclusive(page)), made under the PTL after pte_same():
    inside a PTL critical section the two may disagree for a moment (the 2026 do_swap_page adds the
    rmap with RMAP_EXCLUSIVE, then folio_put_swap(), then set_ptes()), and nothing that needs the
    PTL can see that."""
    procs = procs or [mm]

    def ok(s):
        cache = getattr(s, mm.swp_cache)
        if cache == NO_FOLIO or not getattr(s, mm.f["excl"][cache]):
            return True
        return not any(getattr(s, p.pte).is_swap and getattr(s, p.ptl) == FREE for p in procs)

    mm.m.invariant("swap_pte_page_not_exclusive", ok,
                   [p.pte for p in procs] + [p.ptl for p in procs] + [mm.swp_cache] + mm.ff("excl"),
                   ("no swap PTE of any process" if len(procs) > 1 else "a swap PTE never")
                   + " points at a PG_anon_exclusive page in the swap cache outside its PTL "
                   "(do_swap_page: BUG_ON(PageAnon(page) && PageAnonExclusive(page)), under the PTL)")


def inv_stable_page_not_writable_under_writeback(mm: MM) -> None:
    def ok(s):
        pte = getattr(s, mm.pte)
        return not (pte.present and pte.write) or not getattr(s, mm.f["writeback"][pte.folio])

    mm.m.invariant("stable_page_not_writable_under_writeback", ok, [mm.pte] + mm.ff("writeback"),
                   "on a SWP_STABLE_WRITES swap device no writable PTE maps a folio under writeback (do_swap_page: "
                   "\"we must not set the page exclusive, otherwise we can map it writable without further "
                   "checks and modify it while still under writeback\")")


def inv_gup_page_is_mapped_page(mm: MM, dma_target: str) -> None:
    mm.m.invariant("gup_page_is_mapped_page", lambda s: not getattr(s, dma_target).endswith("(not mapped)"),
                   [dma_target],
                   "with an R/W FOLL_GET reference and no fork, the page the GUP reference holds is the "
                   "page mapped at its address: the device's DMA write lands in the mapped page")


def inv_no_lost_write(mm: MM, writes: dict[str, str]) -> None:
    """`writes` maps a write tag ("cpu", "dma") to the ghost field that is True once it completed."""
    ghosts = list(writes.values())

    def ok(s):
        # Inside a PTL-held section the page data may be in flight (do_swap_page has dropped the
        # swap reference but not yet installed its folio): judge consistent page tables only.
        if getattr(s, mm.ptl) != FREE:
            return True
        content = mm.content_at_address(s)
        if content is None:
            return True
        return all(holds_write(content, tag) for tag, g in writes.items() if getattr(s, g))

    mm.m.invariant("no_lost_write", ok, [mm.ptl] + mm.address_reads() + ghosts,
                   "no write, by the CPU or by DMA through a GUP reference, is lost: whenever the page "
                   "table is consistent (PTL free), every completed write is in the page the address "
                   "resolves to (present PTE, or the swap cache / swap slot behind the swap PTE)")


def inv_uffd_wp_survives_swap(mm: MM, armed: str) -> None:
    def ok(s):
        pte = getattr(s, mm.pte)
        return not getattr(s, armed) or pte.kind not in ("present", "swap") or pte.uffd_wp

    mm.m.invariant("uffd_wp_survives_swap", ok, [mm.pte, armed],
                   "uffd-wp protection survives swap: while UFFDIO_WRITEPROTECT is in force the PTE, "
                   "present or swap, carries the uffd-wp bit (pte_uffd_wp / pte_swp_uffd_wp)")


def inv_soft_dirty_survives_swap(mm: MM, written_since_clear: str) -> None:
    def ok(s):
        pte = getattr(s, mm.pte)
        return not getattr(s, written_since_clear) or pte.kind not in ("present", "swap") or pte.soft_dirty

    mm.m.invariant("soft_dirty_survives_swap", ok, [mm.pte, written_since_clear],
                   "a page written since the last clear_refs stays soft-dirty across swap-out, swap-in "
                   "and swapoff (pte_soft_dirty / pte_swp_soft_dirty), or /proc/pid/pagemap misses it")


def inv_no_unread_data_mapped(mm: MM) -> None:
    def ok(s):
        pte = getattr(s, mm.pte)
        return not pte.present or getattr(s, mm.f["uptodate"][pte.folio])

    mm.m.invariant("no_unread_data_mapped", ok, [mm.pte] + mm.ff("uptodate"),
                   "no data of a non-uptodate folio is ever mapped: a present PTE maps only a "
                   "PG_uptodate folio (a failed swap read must never reach user space)")


def inv_exclusive_page_not_replaced(mm: MM, held: str) -> None:
    """`held`: a local holding the folio the pipe (vmsplice) references."""

    def ok(s):
        fid = getattr(s, held)
        pte = getattr(s, mm.pte)
        return fid == NO_FOLIO or not pte.present or pte.folio == fid

    mm.m.invariant("exclusive_page_not_replaced", ok, [held, mm.pte],
                   "an exclusive anonymous page that was swapped out and faulted back in is reused, not "
                   "replaced, by the next write fault: the page vmsplice() holds stays the page mapped "
                   "(test_swp_exclusive: \"PASS: page was not replaced during COW\")")


def inv_droppable_never_swapbacked(mm: MM, pte: str | None = None, name: str = "droppable_never_swapbacked",
                                   who: str = "") -> None:
    pte = pte or mm.pte

    def ok(s):
        p = getattr(s, pte)
        return not p.present or p.folio == ZERO or not getattr(s, mm.f["swapbacked"][p.folio])

    mm.m.invariant(name, ok, [pte] + mm.ff("swapbacked"),
                   f"a folio mapped by a VM_DROPPABLE mapping{who} is never PG_swapbacked "
                   "(folio_add_new_anon_rmap: `if (!(vma->vm_flags & VM_DROPPABLE)) "
                   "__folio_set_swapbacked(folio)`; David Hildenbrand in the v22 review: \"we have to make "
                   "sure that no folio_set_swapbacked() would ever get performed on these folios\")")


def inv_droppable_never_swapped(mm: MM) -> None:
    def ok(s):
        p = getattr(s, mm.pte)
        if p.kind == "swap":
            return False
        return not (p.present and p.folio != ZERO and getattr(s, mm.f["swapcache"][p.folio]))

    mm.m.invariant("droppable_never_swapped", ok, [mm.pte] + mm.ff("swapcache"),
                   "a VM_DROPPABLE page never gets a swap slot: it is never in the swap cache and its PTE "
                   "never becomes a swap entry (\"a) It never is written out to swap.\")")


def inv_read_sees_last_write_or_zero(mm: MM, seen: str, expected: str) -> None:
    mm.m.invariant("read_sees_last_write_or_zero",
                   lambda s: getattr(s, seen) in ("-", ZERO, getattr(s, expected)), [seen, expected],
                   "a load from a droppable or lazyfree page returns the value last written or zero, "
                   "nothing else (\"b) Under memory pressure, mm can just drop the pages (so that they're "
                   "zero when read back again).\")")


def inv_write_after_madv_free_kept(mm: MM, done: str, tag: str = "cpu") -> None:
    def ok(s):
        if not getattr(s, done) or getattr(s, mm.ptl) != FREE:
            return True
        p = getattr(s, mm.pte)
        if p.present and p.folio != ZERO:
            return tag in getattr(s, mm.f["data"][p.folio]).split("+")[1:]
        if p.kind == "swap":
            return tag in getattr(s, mm.swp_data).split("+")[1:]
        return False

    mm.m.invariant("write_after_madv_free_kept", ok, [done, mm.ptl, mm.pte, mm.swp_data] + mm.ff("data"),
                   "data written after MADV_FREE returned is never lost: once the store completed, the "
                   "address resolves to a page holding it (the folio is never discarded with its new data)")


def inv_referenced_folio_not_discarded(mm: MM, held: str) -> None:
    def ok(s):
        fid = getattr(s, held)
        if fid == NO_FOLIO or getattr(s, mm.ptl) != FREE:
            return True
        p = getattr(s, mm.pte)
        return p.present and p.folio == fid

    mm.m.invariant("referenced_folio_not_discarded", ok, [held, mm.ptl, mm.pte],
                   "a lazyfree folio with an extra reference (a GUP / direct-I/O read in flight) is never "
                   "discarded: while the reference is held the folio stays mapped at its address "
                   "(try_to_unmap_one: ref_count != 1 + map_count -> set_pte_at(pteval))")


def inv_clean_lazyfree_not_swapbacked(mm: MM, lazy: str) -> None:
    def ok(s):
        fid = getattr(s, lazy)
        if fid == NO_FOLIO or getattr(s, mm.f["ref"][fid]) == 0:
            return True
        if not getattr(s, mm.f["swapbacked"][fid]) or getattr(s, mm.f["dirty"][fid]):
            return True
        p = getattr(s, mm.pte)
        return p.present and p.folio == fid and p.dirty

    mm.m.invariant("clean_lazyfree_not_swapbacked", ok, [lazy, mm.pte] + mm.ff("ref", "swapbacked", "dirty"),
                   "a clean MADV_FREE folio stays lazyfree: PG_swapbacked comes back only when the folio or "
                   "its PTE is dirty (\"we only reset 'swapbacked' when we are certain the folio is dirty "
                   "and not droppable\")")


def final_dropped_under_pressure(mm: MM, evicted: str, original: str) -> None:
    """`original`: the content the page held before the pressure; a page faulted in after the drop
    starts from ZERO, so a mapped page whose content still derives from `original` was never dropped."""
    def ok(s):
        if not getattr(s, evicted):
            return True
        p = getattr(s, mm.pte)
        if not p.present or p.folio == ZERO:
            return True
        return getattr(s, mm.f["data"][p.folio]).split("+")[0] != original

    mm.m.final("dirty_droppable_dropped", ok, [evicted, mm.pte] + mm.ff("data"),
               "a dirty droppable folio that MGLRU eviction reached is dropped from the page table by "
               "the passes modelled (\"b) Under memory pressure, mm can just drop the pages\")")


def inv_no_data_after_swapin_error(m, loads: list[str], discarded: str) -> None:
    def ok(s):
        return getattr(s, discarded) or all(getattr(s, f) != "data" for f in loads)

    m.invariant("no_data_after_swapin_error", ok, loads + [discarded],
                "after a failed swap read, no access to the address returns data (it gets SIGBUS), "
                "unless the range was discarded (MADV_FREE) first")


def inv_madvise_free_discards_error(m, loads: list[str], discarded_by: str) -> None:
    def ok(s):
        return not getattr(s, discarded_by) or all(getattr(s, f) != "SIGBUS" for f in loads)

    m.invariant("madvise_free_discards_swapin_error", ok, loads + [discarded_by],
                "once MADV_FREE succeeded over the range, an access may see zero-fill but is never "
                "killed by a stale swap-in error entry")


def inv_marker_not_swap_entry(mm: MM, ptes: list[str]) -> None:
    def ok(s):
        return getattr(s, mm.swp_count) == sum(1 for p in ptes if getattr(s, p).kind == "swap")

    mm.m.invariant("marker_not_swap_entry", ok, [mm.swp_count] + ptes,
                   "a marker / error entry is never taken for a swap entry: the slot's swap count equals "
                   "the number of swap PTEs that reference it (no swap_duplicate()/swap_free() of a marker)")


def inv_uffd_wp_write_traps(m, stored: str) -> None:
    m.invariant("uffd_wp_write_traps", lambda s: not getattr(s, stored), [stored],
                "a uffd-wp protected address never accepts a write without a userfault: across zap and "
                "swap-out the protection lives on in PTE_MARKER_UFFD_WP")


def inv_uffd_wp_marker_in_uffd_wp_vma(m, child_pte: str, dst_uffd_wp: bool) -> None:
    m.invariant("uffd_wp_marker_in_uffd_wp_vma",
                lambda s: dst_uffd_wp or getattr(s, child_pte).kind != "marker", [child_pte],
                "a PTE_MARKER_UFFD_WP lives only in a VMA registered for uffd-wp "
                "(copy_nonpresent_pte: WARN_ON_ONCE(!userfaultfd_wp(dst_vma)))")


def final_nothing_leaked(mm: MM, ptes: list[str] | None = None, holders: tuple = ()) -> None:
    """A final predicate: once every thread has finished, every folio reference is accounted for by a
    mapping (mapcount), the swap cache, or a reference a thread keeps on purpose (`holders`: fields
    naming the folio a finished thread still holds, e.g. the pipe's page of vmsplice); each folio's
    mapcount is the number of PTEs (`ptes`, default the address's PTE) mapping it; every swap count
    is a swap PTE's, and SWAP_HAS_CACHE is set exactly while a folio is in the swap cache. A get
    without its put, a swap_free() never called, a swap cache never deleted all leak."""
    ptes = list(ptes or [mm.pte])
    has_slot = hasattr(mm, "swp_count")
    slots = [(name, fs) for name, fs in zip(mm.base.slots, mm.base.slot_f)] if has_slot else []
    slot_fields = [f for _, fs in slots for f in fs[:3]]
    large = "nr" in mm.f                    # a large folio holds one swap-cache reference per slot
    holders = list(holders)

    def ok(s):
        vals = [getattr(s, p) for p in ptes]
        held = [getattr(s, h) for h in holders]
        for fid in mm.folios:
            mapped = sum(1 for p in vals if p.kind in ("present", "migration") and p.folio == fid)
            mapcount = getattr(s, mm.f["map"][fid])
            if mapcount != mapped:
                return False
            incache = bool(getattr(s, mm.f["swapcache"][fid]))
            cache_refs = incache * (getattr(s, mm.f["nr"][fid]) if large else 1)
            if getattr(s, mm.f["ref"][fid]) != mapcount + cache_refs + held.count(fid):
                return False
        for name, (count, has_cache, cache_f, _) in slots:
            if getattr(s, count) != sum(1 for p in vals if p.kind == "swap" and p.slot == name):
                return False
            cache = getattr(s, cache_f)
            if bool(getattr(s, has_cache)) != (cache != NO_FOLIO):
                return False
            if cache != NO_FOLIO and not getattr(s, mm.f["swapcache"][cache]):
                return False
        return True

    mm.m.final("nothing_leaked", ok, ptes + holders + slot_fields + mm.ff("ref", "map", "swapcache")
               + (mm.ff("nr") if large else []),
               "once every task is done nothing leaked: each folio's references are its mappings, the "
               "swap cache's and those a task keeps on purpose; each swap count is a swap PTE's; "
               "SWAP_HAS_CACHE is set exactly while a folio is in the swap cache")


def final_swapoff_leaves_no_swap_reference(mm: MM) -> None:
    """A final predicate for swapoff scenarios: once try_to_unuse() and every fault are done, nothing
    refers to the device any more: no swap PTE, no swap count, no swap cache folio (try_to_unuse()
    loops until swap_usage_in_pages(si) == 0; a reference left behind fails swapoff or, worse, is
    resolved against a device that is gone)."""
    def ok(s):
        return (getattr(s, mm.pte).kind != "swap" and getattr(s, mm.swp_count) == 0
                and not getattr(s, mm.swp_has_cache) and getattr(s, mm.swp_cache) == NO_FOLIO)

    mm.m.final("swapoff_leaves_no_swap_reference", ok, [mm.pte, mm.swp_count, mm.swp_has_cache, mm.swp_cache],
               "after swapoff no swap PTE, swap count or swap cache folio refers to the device")


def final_shmem_nothing_leaked(mm: MM, entry: str, tasks: int) -> None:
    """A final predicate for `tasks` shmem faults on one index (`entry`: the page-cache slot, the swap
    entry or a folio), each of which ends mapping the index once: once every task is done, the
    folios are mapped `tasks` times in all, and only the page cache's folio (a folio mapped through a
    shmem VMA is the file's); each folio's references are the page cache's, the swap cache's and one
    per mapping; the swap slot is referenced only while the page-cache slot still holds the swap
    entry (shmem_swapin_folio(): swap_free() once the folio replaced it), and SWAP_HAS_CACHE is set
    exactly while a folio is in the swap cache."""
    slot_fields = [mm.swp_count, mm.swp_has_cache, mm.swp_cache]

    def ok(s):
        e = getattr(s, entry)
        total = 0
        for fid in mm.folios:
            mapcount = getattr(s, mm.f["map"][fid])
            total += mapcount
            if mapcount and e != fid:
                return False
            want = mapcount + (e == fid) + bool(getattr(s, mm.f["swapcache"][fid]))
            if getattr(s, mm.f["ref"][fid]) != want:
                return False
        if total != tasks:
            return False
        if getattr(s, mm.swp_count) != (1 if e not in mm.folios else 0):
            return False
        cache = getattr(s, mm.swp_cache)
        return bool(getattr(s, mm.swp_has_cache)) == (cache != NO_FOLIO)

    mm.m.final("shmem_nothing_leaked", ok, [entry] + slot_fields + mm.ff("ref", "map", "swapcache"),
               "once every task is done nothing leaked: each task maps the page cache's folio once; each "
               "folio's references are the page cache's, the swap cache's and its mappings'; the swap "
               "slot is referenced only while the page cache still holds the swap entry")


def inv_shmem_mapped_in_page_cache(mm: MM, entry: str) -> None:
    """A folio mapped through the shmem VMA is the file's folio at the index: finish_fault() maps what
    shmem_get_folio() returned, and shmem_swapin_folio() puts the folio in the page cache
    (shmem_add_to_page_cache()) before it returns it."""
    mm.m.invariant("shmem_mapped_folio_in_page_cache",
                   lambda s: all(getattr(s, mm.f["map"][fid]) == 0 or getattr(s, entry) == fid
                                 for fid in mm.folios),
                   [entry] + mm.ff("map"),
                   "a folio mapped through the shmem VMA is the one the page cache holds at the index "
                   "(shmem_add_to_page_cache() before the fault maps it)")


def inv_shmem_add_to_page_cache_locked(mm: MM) -> None:
    """shmem_add_to_page_cache()'s VM_BUG_ON_FOLIO(!folio_test_locked(folio), folio), over the ghost
    the shmem swap-in (shmem.emit_shmem_get_folio) sets when it adds a folio its caller had not
    locked."""
    bug = mm.ghosts["shmem_vm_bug"]
    mm.m.invariant("shmem_add_to_page_cache_locked", lambda s: not getattr(s, bug), [bug],
                   "shmem_add_to_page_cache() runs on a folio its caller locked "
                   "(VM_BUG_ON_FOLIO(!folio_test_locked(folio), folio))")


def final_no_zram_double_copy(mm: MM) -> None:
    """A final predicate for a SWP_SYNCHRONOUS_IO device (zram): once every fault is done, no folio is
    left in the swap cache for a slot that no swap PTE references. Before the 2026 swap core the
    skip-swapcache path never put it there; since, do_swap_page() frees it right after mapping
    (should_try_to_free_swap(): SWP_SYNCHRONOUS_IO -> folio_free_swap()). Otherwise the page is held
    twice, once in RAM and once compressed in zram, for as long as the folio stays cached."""
    mm.m.final("no_zram_double_copy",
               lambda s: getattr(s, mm.swp_cache) == NO_FOLIO or getattr(s, mm.swp_count) > 0,
               [mm.swp_cache, mm.swp_count],
               "on a SWP_SYNCHRONOUS_IO device no swapped-in folio stays in the swap cache once no swap "
               "PTE references its slot (no second copy in zram)")


def _visible(s, mm: MM, pte: str):
    """What a load through `pte` returns: the mapped folio's content, zero for the zero page or a
    none PTE of an anonymous VMA (do_anonymous_page() maps the zero page), None otherwise."""
    p = getattr(s, pte)
    if p.present:
        return ZERO if p.folio == ZERO else getattr(s, mm.f["data"][p.folio])
    return ZERO if p.kind == "none" else None


def final_last_store_visible(mm: MM, last: str, *, pte: str | None = None, may_drop: bool = False,
                             name: str = "last_store_visible", who: str = "") -> None:
    """A final predicate: once every thread is done, a load through `pte` (default the address's PTE)
    would return what the last completed store wrote (the ghost `last`): the store went into the page
    that stays mapped. `may_drop`: a MAP_DROPPABLE page that reclaim may drop reads zero instead."""
    pte = pte or mm.pte

    def ok(s):
        v = _visible(s, mm, pte)
        return v == getattr(s, last) or (may_drop and v == ZERO)

    mm.m.final(name, ok, [pte, last] + mm.ff("data"),
               f"once every thread is done the page{who} holds what the last completed store wrote"
               + (" (or zero: a droppable page may be dropped)" if may_drop else ""))


def final_load_read(mm: MM, seen: str, *, name: str = "load_read_the_page", who: str = "") -> None:
    """A final predicate: the load of a finished thread returned something (the page's content or
    zero): with the invariants that say what it may return, this says that it looked at all."""
    mm.m.final(name, lambda s: getattr(s, seen) != "-", [seen],
               f"the load{who} returned the page's content or zero once its thread finished")


def inv_uffd_wp_store_traps(mm: MM, armed: str, stored: str) -> None:
    """While UFFDIO_WRITEPROTECT is in force no store to the page completes: whatever maps the page
    (do_swap_page(), unuse_pte()) maps it write-protected, and the write fault goes to
    handle_userfault(). uffd_wp_survives_swap only asks that the bit is kept; a PTE that carries the bit
    but is writable passes it."""
    mm.m.invariant("uffd_wp_store_traps", lambda s: not (getattr(s, armed) and getattr(s, stored)),
                   [armed, stored],
                   "a store to a uffd-wp protected page never completes while the protection is in force: "
                   "it traps to the monitor (do_swap_page(): userfaultfd_pte_wp() -> no pte_mkwrite())")


def final_dma_visible(mm: MM, done: str, tag: str = "dma", may_drop: bool = False) -> None:
    """A final predicate for a direct-I/O read into the page: once it completed (`done`) and every
    thread is done, the data the device wrote is what a load from the address returns (the GUP
    reference kept the page from being discarded; its release dirtied it). `may_drop`: a
    MAP_DROPPABLE page may be dropped afterwards and read back as zero."""
    def ok(s):
        if not getattr(s, done):
            return True
        v = _visible(s, mm, mm.pte)
        return (v is not None and v != ZERO and tag in v.split("+")[1:]) or (may_drop and v == ZERO)

    mm.m.final("dma_data_visible", ok, [done, mm.pte] + mm.ff("data"),
               "once the O_DIRECT read completed and every thread is done, a load from the address returns "
               "the data the device wrote" + (" (or zero: a droppable page may be dropped after the I/O)"
                                              if may_drop else ""))


def progress_every_thread_finishes(m) -> None:
    """Progress (weak fairness): every thread of the scenario eventually finishes. The kernel paths
    modelled here retry (a fault returns and the access faults again, a lookup waits for the swap
    cache) but a retry must end: a fault handler that returns without changing what made the access
    fault (wp_page_reuse() not making the PTE writable, a swap-in that never maps the page) is a
    livelock the safety checks cannot see."""
    for t in m.threads:
        m.eventually_finishes(f"{t.name}_finishes", t.name,
                              f"thread {t.name} eventually finishes: its faults and retries end")


def final_store_lands(mm: MM, tag: str, who: str) -> None:
    """A final predicate: once every thread is done, the store tagged `tag` (the only store to the
    address through `mm`'s PTE) is in the page the address resolves to. The faults, COW copies,
    migrations and swap-ins in between may move the page but never lose the store."""
    def ok(s):
        return holds_write(mm.content_at_address(s), tag)

    mm.m.final(f"{who}_store_lands", ok, mm.address_reads(),
               f"after the {who}'s store and everything else finished, a load from the {who}'s address "
               "returns the stored data (the page it resolves to holds the store)")


def final_writeback_ends(mm: MM) -> None:
    """A final predicate: every writeback that started has ended once every task is done (the bio
    completes: end_swap_bio_write() -> folio_end_writeback()); a folio left under PG_writeback blocks
    every folio_wait_writeback() forever."""
    mm.m.final("writeback_ends", lambda s: not any(getattr(s, f) for f in mm.ff("writeback")),
               mm.ff("writeback"),
               "once every task is done no folio is under writeback: each swap_writepage() is "
               "completed by end_swap_bio_write() -> folio_end_writeback()")


def inv_no_swap_put_of_free_entry(mm: MM) -> None:
    """Register a ghost that `MM.swap_free()` sets instead of raising when a path puts a swap entry
    whose count is already 0, and an invariant over it: every folio_put_swap() / swap_free() drops a
    reference some swap PTE held (a put of a free entry is the kernel's swap count underflow: the
    slot's count corrupted, a later allocation or put on it wrong). Call before any thread emits."""
    mm._before_steps("swap-put underflow ghost")
    mm.swap_put_underflow = mm.ghost("swap_put_of_free_entry", False,
                                     "a path dropped a swap count that was already 0")
    mm.m.invariant("no_swap_put_of_free_entry", lambda s: not getattr(s, mm.swap_put_underflow),
                   [mm.swap_put_underflow],
                   "every swap count a path drops (folio_put_swap() / swap_free()) is one a swap PTE "
                   "held: no swap count underflows")


def inv_zapped_pte_stays_zapped(mm: MM, zapped: str) -> None:
    """MADV_DONTNEED's promise: once zap_pte_range() ran (`zapped`, a ghost) and until the program
    touches the address again (it does not in the scenarios using this), the PTE is none, so a later
    load would read a zero page: nothing maps the discarded data again."""
    def ok(s):
        return not getattr(s, zapped) or getattr(s, mm.pte).kind == "none"

    mm.m.invariant("zapped_pte_stays_zapped", ok, [zapped, mm.pte],
                   "after madvise(MADV_DONTNEED) returned the PTE stays none until the program touches "
                   "the address: no path maps the discarded page (or its swap entry) back")


def inv_cached_writable_translation_is_live(mm: MM, tlb: str) -> None:
    """A CPU's cached writable translation (`tlb`: "<folio>:dirty", a TLB entry a store uses without a
    page walk) points at an allocated folio: the TLB flush that ends it (try_to_unmap_flush() before
    free_unref_folios() in shrink_folio_list()) comes before the folio is freed, so no store lands in
    a freed page."""
    def ok(s):
        entry = getattr(s, tlb)
        if not entry.endswith(":dirty"):
            return True
        fid = entry.split(":")[0]
        return fid not in mm.f["ref"] or getattr(s, mm.f["ref"][fid]) > 0

    mm.m.invariant("cached_writable_translation_is_live", ok, [tlb] + mm.ff("ref"),
                   "a CPU's cached writable (dirty) TLB entry always translates to an allocated page: "
                   "the deferred flush runs before the folio is freed")


def final_store_after_dontneed_on_zero_page(mm: MM, tag: str = "cpu") -> None:
    """A final predicate for a program that calls madvise(MADV_DONTNEED) and then stores to the page:
    once every thread is done the address resolves (present, or through the swap cache or slot) to
    zero-fill plus that store: nothing of the discarded data comes back and the store is not lost in
    the discarded page."""
    want = written(ZERO, tag)

    def ok(s):
        return mm.content_at_address(s) == want

    mm.m.final("store_after_dontneed_on_zero_page", ok, mm.address_reads(),
               "after madvise(MADV_DONTNEED) and a store, a load from the address returns zero-fill plus "
               "the store: the discarded data stays discarded and the store is in the page the address "
               "resolves to")


def final_address_reads(mm: MM, expected: str, *, name: str, doc: str) -> None:
    """A final predicate: once every thread is done, a load from the address (faulting it in if it
    is swapped out: the swap cache's folio or the slot) returns exactly `expected`, a content such
    as written(ZERO, "cpu"): what the scenario's user program guarantees it reads back."""
    mm.m.final(name, lambda s: mm.content_at_address(s) == expected, mm.address_reads(), doc)


def final_write_protect_seq_closed(mm: MM) -> None:
    """A final predicate: once every thread is done, mm->write_protect_seq is even. copy_page_range()
    opens the write section with raw_write_seqcount_begin() and must close it with
    raw_write_seqcount_end() before fork() returns: a sequence left odd makes every later GUP-fast's
    raw_seqcount_try_begin() fail (gup_fast() returns 0 for ever and every pin_user_pages_fast() takes
    the slow path), and a reader that waited for an even value would wait for ever."""
    from .tlb import sync_fields
    _, seq = sync_fields(mm)
    mm.m.final("write_protect_seq_closed", lambda s: getattr(s, seq) % 2 == 0, [seq],
               "once every task is done mm->write_protect_seq is even: each raw_write_seqcount_begin() "
               "in copy_page_range() was closed by its raw_write_seqcount_end()")


def inv_cleared_pte_stays_none_under_ptl(mm: MM, owner: int, pteval: str, who: str) -> None:
    """try_to_unmap_one() clears the PTE (ptep_get_and_clear / get_and_clear_ptes into `pteval`) and
    then, still under the PTL, either restores it (set_ptes(pteval): no re-check of what is there) or
    drops the folio: the PTL is what keeps every other PTE writer (a fault's set_pte_at(), GUP's
    faultin) out of that window. `owner`: the lock value of the unmapping thread, `pteval` its local."""
    def ok(s):
        if getattr(s, mm.ptl) != owner or not getattr(s, pteval).present:
            return True
        p = getattr(s, mm.pte)
        return p.kind == "none" or p == getattr(s, pteval)      # cleared, or its own restore

    mm.m.invariant("cleared_pte_stays_none_under_ptl", ok, [mm.ptl, pteval, mm.pte],
                   f"while {who} holds the PTL after clearing the PTE (try_to_unmap_one: pteval = "
                   "ptep_get_and_clear()), nothing but its own set_ptes(pteval) restore fills the slot: "
                   "its restore-or-discard decision is about a PTE only it can write")


def inv_batched_pte_change_has_flush_pending(mm: MM, pending: str, batched: str, who: str) -> None:
    """inc_tlb_flush_pending(mm) comes before the PTE changes it covers (include/linux/mm_types.h:
    "the increment is visible if the PTE modification is visible"): while an mmu_gather holds a
    changed PTE whose TLB entry is not yet flushed (`batched`), mm->tlb_flush_pending counts it, so
    mm_tlb_flush_pending()/mm_tlb_flush_nested() readers that see the PTE change see the flush owed."""
    def ok(s):
        return not getattr(s, batched) or getattr(s, pending) >= 1

    mm.m.invariant("batched_pte_change_has_flush_pending", ok, [pending, batched],
                   f"while {who}'s mmu_gather holds a changed PTE not yet flushed, mm->tlb_flush_pending "
                   "is raised (tlb_gather_mmu() -> inc_tlb_flush_pending() before the PTE change; "
                   "dec_tlb_flush_pending() after the flush)")


def inv_unmapped_until_refault(mm: MM, unmapped: str) -> None:
    """After madvise(MADV_DONTNEED)'s zap_pte_range() or reclaim's try_to_unmap_one() took the page
    out of the address (`unmapped`, a ghost the unmapping steps set and a fault that maps the page
    again clears), the address has no present PTE: none, or PTE_MARKER_UFFD_WP in a uffd-wp VMA. The
    page (and the uffd-wp protection the marker carries) comes back only through a fault."""
    def ok(s):
        return not getattr(s, unmapped) or not getattr(s, mm.pte).present

    mm.m.invariant("unmapped_until_refault", ok, [unmapped, mm.pte],
                   "after zap_pte_range() (MADV_DONTNEED) or try_to_unmap_one() unmapped the page, the PTE "
                   "is none or a PTE marker until a fault maps the page again: folio_mapped() is false for "
                   "this address, as shrink_folio_list() requires before writing the folio out")
