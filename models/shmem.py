"""shmem: a fault on a shmem page whose page-cache slot holds a swap entry, as far as the MTE tags need it.

shmem_fault() -> shmem_get_folio_gfp(): filemap_get_entry() finds either the folio or a swap entry
(xa_is_value); for a swap entry shmem_swapin_folio() (mm/shmem.c, ~v6.6 form, read from a copy of that
function and from kernel-paths.md section 8):

1. swap_cache_get_folio(swap) ?: shmem_swapin_cluster() (add_to_swap_cache(); swap_read_folio());
2. folio_lock(folio) "to prevent races"; `!folio_test_swapcache(folio) || folio->swap.val != swap.val
   || !shmem_confirm_swap(mapping, index, swap)` -> -EEXIST: unlock, put, and shmem_get_folio_gfp()
   repeats the lookup (it now finds the folio in the page cache);
3. !folio_test_uptodate -> -EIO (not modelled: the read succeeds); folio_wait_writeback();
4. arch_swap_restore(swap, folio) [the 5.10 hook position: under the folio lock, before the folio
   enters the page cache and before the swap entry is dropped];
5. shmem_add_to_page_cache() (an xarray replace of the expected swap entry); delete_from_swap_cache();
   folio_mark_dirty(); swap_free(swap) -> the slot is freed -> swap_range_free() ->
   arch_swap_invalidate_page();
6. the folio is returned locked; finish_fault() maps it: set_pte_at() -> mte_sync_tags(); unlock.

Each task maps the page in its own mm (its own PTE, a local here); the shared state is the shmem
mapping's slot (`shmem_entry`: the swap entry or the folio), the swap cache and the swap slot. The
skip-swapcache shmem swapin (SWAP_CACHE_BYPASS, v6.14+) is not modelled. arch_swap_restore() and the
slot-free callback are the architecture hooks of the shared mm (`mm.ArchHook`, registered by `MTE`);
the swap_readpage() hook of the review proposal is not run here.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .arm64_mteswap import MTE, NO_TAGS, MteKernel
from .mm import NO_FOLIO, PTE_NONE, Ctx
from .swap_state import read_into_swap_cache


SWAP_ENTRY = "swap"


def add_shmem_entry(mte: MTE) -> str:
    mm = mte.mm
    return mm.m.field("shmem_entry", SWAP_ENTRY, (SWAP_ENTRY,) + mm.folios,
                      "the shmem mapping's page-cache slot for the index: the swap entry (xa_is_value) "
                      "or the folio")


def emit_shmem_fault_mte(ctx: Ctx, mte: MTE, k: MteKernel, entry: str, *,
                         restore_after_swap_free: bool = False) -> str:
    """shmem_fault() on a PROT_MTE shared mapping, then a tag-checked load through the new PTE.
    Returns the thread's `mapped` field (the folio its PTE maps once the fault is done).
    `restore_after_swap_free` is a seeded mutation (not a kernel): arch_swap_restore() moved after
    swap_free()."""
    mm = mte.mm
    if mm.swap_readpage_hook is not None:
        raise ModelError("shmem_swapin_folio: the swap_readpage() hook is not modelled on this path")
    page = ctx.local("page", NO_FOLIO, "shmem_swapin_folio: folio")
    mapped = ctx.local("mapped", NO_FOLIO, "the folio this task's PTE maps (finish_fault)")
    seen = mte.seen_field(ctx)
    folio_all = mm.all_folio() + mte.folio_fields()
    slot = mm.slot_fields()
    store = mte.store_fields()

    def lookup(s):
        d = {}
        e = getattr(s, entry)
        if e != SWAP_ENTRY:
            mm.get_folio(s, d, e)                          # filemap_get_entry(): the folio
            d[page] = e
            d[GOTO] = "shmem.finish_fault"
            return d
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.get_folio(s, d, cache)
            d[page] = cache
            return d
        d[page] = read_into_swap_cache(mm, s, d)
        return d

    ctx.step("shmem.lookup", "mm/shmem.c:shmem_get_folio_gfp: filemap_get_entry(); xa_is_value -> "
             "shmem_swapin_folio: swap_cache_get_folio(swap) ?: shmem_swapin_cluster() "
             "[add_to_swap_cache(); swap_read_folio()]",
             guard=lambda s: getattr(s, entry) != SWAP_ENTRY or getattr(s, mm.swp_cache) != NO_FOLIO
             or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=[entry] + slot + mm.ff("ref", "map", "swapcache"),
             writes=[page] + slot + folio_all, branches=["shmem.finish_fault"])

    def lock(s):
        fid = getattr(s, page)
        if (not getattr(s, mm.f["swapcache"][fid]) or getattr(s, mm.swp_cache) != fid
                or getattr(s, entry) != SWAP_ENTRY):
            d = {page: NO_FOLIO, GOTO: "shmem.lookup"}     # -EEXIST: repeat
            mm.put_folio(s, d, fid)
            return d
        return {mm.lock[fid]: ctx.owner}

    ctx.step("shmem.lock", "mm/shmem.c:shmem_swapin_folio: folio_lock(folio); "
             "!folio_test_swapcache || folio->swap.val != swap.val || !shmem_confirm_swap() -> -EEXIST",
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) == FREE, effect=lock,
             reads=[page, entry, mm.swp_cache] + mm.locks() + mm.ff("swapcache", "ref", "map"),
             writes=[page] + mm.locks() + folio_all, branches=["shmem.lookup"])

    restore_ref = "mm/shmem.c:shmem_swapin_folio: folio_wait_writeback(); arch_swap_restore(swap, folio)"
    if not restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref, page)

    def add_to_page_cache(s):
        fid = getattr(s, page)
        d = {entry: fid}
        # delete_from_swap_cache(): the swap cache's reference becomes the page cache's
        mm.fset(d, fid, swapcache=False, dirty=True)
        d[mm.swp_cache] = NO_FOLIO
        d[mm.swp_has_cache] = False
        mm.swap_free(s, d)                                 # the slot is freed: the slot-free hooks run
        return d

    ctx.step("shmem.add_to_page_cache", "mm/shmem.c:shmem_swapin_folio: shmem_add_to_page_cache(folio, "
             "swp_to_radix_entry(swap)); delete_from_swap_cache(folio); folio_mark_dirty(); "
             "swap_free(swap)" + mm.slot_free_ref(),
             effect=add_to_page_cache, reads=[page] + slot, writes=[entry] + slot + mm.ff("swapcache", "dirty"))

    if restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref + " [seeded: after swap_free()]",
                                   page)

    def finish_fault(s):
        fid = getattr(s, page)
        d = {mapped: fid, page: NO_FOLIO, mm.lock[fid]: FREE}
        mte.sync_tags(s, d, k, fid, PTE_NONE, getattr(s, mte.vm_mte))
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) + 1)
        return d

    ctx.step("shmem.finish_fault", "mm/memory.c:finish_fault -> do_set_pte(): set_pte_at() -> arch/arm64: "
             + MTE.set_pte_ref(k) + "; unlock_page()",
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) in (FREE, ctx.owner), effect=finish_fault,
             reads=[page, mte.vm_mte] + mm.locks() + store + mte.folio_fields() + mm.ff("map"),
             writes=[mapped, page] + mm.locks() + mte.folio_fields() + mm.ff("map"))

    def load(s):
        fid = getattr(s, mapped)
        return {seen: getattr(s, mte.tags[fid]) if getattr(s, mte.vm_mte) else NO_TAGS, GOTO: DONE}

    ctx.step("load", "user space: tag-checked load through the new PTE (ldg reads the allocation tag)",
             effect=load, reads=[mapped, mte.vm_mte] + list(mte.tags.values()), writes=[seen],
             branches=[DONE])
    mte.loads.append((seen, None))
    return mapped
