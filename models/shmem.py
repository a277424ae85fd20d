"""mm/shmem.c: a fault on a shmem page whose page-cache slot holds a swap entry
(`emit_shmem_get_folio`), over the mm vocabulary's shmem mapping (`mm.ShmemMapping`: the page cache's
entries, backed by an `MM`'s swap slots, swap cache and folios), for an order-0 entry or a large swap
entry over two indices; shmem_writeout() of the large folio.

shmem_fault() -> shmem_get_folio_gfp(): filemap_get_entry() finds either the folio or a swap entry
(xa_is_value); for a swap entry shmem_swapin_folio() (mm/shmem.c; read in v6.6, after 809bc86517cc,
058313515d5a and v6.17, and in linux-mm 2026 @01f9445dd484):

1. the order of the entry (shmem_confirm_swap() -> xa_get_order()) and, in a large entry, the swap
   entry of the index; swap_cache_get_folio(swap) ?: a folio read into the swap cache
   (shmem_swapin_cluster(), order 0; shmem_swap_alloc_folio() -> swapin_sync() on a
   SWP_SYNCHRONOUS_IO device, of the entry's order when the allocation succeeds);
2. an entry larger than the folio is split (shmem_split_large_entry()); a large folio rounds swap and
   index down to its first page;
3. folio_lock(folio) "to prevent races"; the folio must still be the swap cache's folio of the entry
   and the mapping must still hold the entry (folio_matches_swap_entry(), shmem_confirm_swap()), else
   -EEXIST: unlock, put, and shmem_get_folio_gfp() repeats the lookup;
4. !folio_test_uptodate -> -EIO (not modelled: the read succeeds); folio_wait_writeback();
   arch_swap_restore(swap, folio) [under the folio lock, before the folio enters the page cache and
   before the swap entry is dropped];
5. shmem_add_to_page_cache() (an xarray replace of the expected swap entries); the slots' counts go
   (swap_free_nr(); 2026: folio_put_swap()) and the folio leaves the swap cache
   (delete_from_swap_cache(); 2026: swap_cache_del_folio()) -> the slots are freed ->
   swap_range_free() -> arch_swap_invalidate_page(); folio_mark_dirty();
6. the folio is returned locked; finish_fault() maps it: set_pte_at() -> mte_sync_tags(); unlock.

Each task maps the page in its own mm (its own PTE, a local here); the shared state is the shmem
mapping's entries, the swap cache and the swap slots. The skip-swapcache shmem swapin
(SWAP_CACHE_BYPASS, v6.14-v6.17) is not modelled: the large swap-in goes through the swap cache in
every form. arch_swap_restore() and the slot-free callback are the architecture hooks of the shared
mm (`mm.ArchHook`, registered by `MTE`); the swap_readpage() hook of the review proposal is not run
here.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .arm64_mteswap import MTE, NO_TAGS
from .memory import emit_do_set_pte
from .mm import GARBAGE, NO_FOLIO, Ctx, ShmemMapping, pages_data


SHMEM_LARGE_FORMS = ("809bc86517cc", "058313515d5a", "v6.17", "mainline-2026")
SHMEM_FORMS = ("v6.6",) + SHMEM_LARGE_FORMS


def emit_shmem_get_folio(ctx: Ctx, mapping: ShmemMapping, *, index: int = 0, cont: str = DONE,
                         mte: MTE | None = None, restore_after_swap_free: bool = False,
                         form: str = "mainline-2026", large_ok: bool = False):
    """shmem_fault() -> shmem_get_folio_gfp() at `index` of the shmem `mapping` (mm.ShmemMapping, the
    page cache of the thread's MM), in the release `form` (SHMEM_FORMS): repeat: filemap_get_entry();
    a swap entry (xa_is_value) -> shmem_swapin_folio(); -EEXIST -> repeat; the fault maps the folio
    it returns. One body over both kinds of mapping; what differs is the kernel's:

    * the entry: a mapping of two indices may hold one large swap entry over both (an MM range of
      nr = 2 slots): the order of the entry, its split (shmem_split_large_entry(): 058313515d5a on an
      order mismatch, from v6.17 when the entry is larger than the folio) and the range checks of
      shmem_add_to_page_cache(); `large_ok`: this task's order-1 swap-in allocation succeeds
      (otherwise it fails, as under memory pressure, and the swap-in falls back to order 0). Forms
      before 809bc86517cc (v6.6) have no large entries;
    * the architecture: with `mte` (the PROT_MTE state of the shared mapping, mte-shmem; one index),
      arch_swap_restore() restores the tags (a step of its own where the arch has the hook),
      finish_fault() -> do_set_pte() (memory.emit_do_set_pte) syncs them, and the task then does a
      tag-checked load through its new PTE and ends: returns the task's `mapped` field (the folio its
      PTE maps). `restore_after_swap_free` is a seeded mutation (not a kernel): arch_swap_restore()
      moved after the slot is freed.

    Without `mte` the fault's mapping is not modelled: the folio's return to the fault, its mapping
    and unlock end shmem_add_to_page_cache()'s step (the fault's own reference goes with that
    mapping), a ghost records the page the fault got, and the thread continues at `cont`; returns
    (that ghost field, `index`)."""
    if form not in SHMEM_FORMS:
        raise ValueError(f"shmem swap-in form {form!r} not in {SHMEM_FORMS}")
    if mapping.xa_order is not None and form not in SHMEM_LARGE_FORMS:
        raise ModelError(f"shmem_swapin_folio {form}: no large swap entries before 809bc86517cc")
    if mte is not None and (mapping.xa_order is not None or index != 0 or cont != DONE):
        raise ModelError("shmem_get_folio_gfp(mte=): the PROT_MTE fault of a one-index mapping, whose "
                         "tag-checked load ends the thread")
    return _emit_swapin(ctx, mapping, form=form, index=index, large_ok=large_ok, cont=cont, mte=mte,
                        restore_after_swap_free=restore_after_swap_free)


def _emit_swapin(ctx: Ctx, sh: ShmemMapping, *, form: str, index: int, large_ok: bool, cont: str,
                 mte: MTE | None, restore_after_swap_free: bool):
    """The body of emit_shmem_get_folio()."""
    mm = ctx.mm
    if mm.swap_readpage_hook is not None:
        raise ModelError("shmem_swapin_folio: the swap_readpage() hook is not modelled on this path")
    slots = mm.base.slots
    slot_f = mm.base.slot_f
    counts = [fs[0] for fs in slot_f]
    caches = [fs[2] for fs in slot_f]
    new = form in ("v6.17", "mainline-2026")
    st = form == "mainline-2026"
    mapped_by_fault = mte is not None
    n = ctx.name
    entry = ctx.local("entry", NO_FOLIO, "index_entry, the mapping's value")
    order = ctx.local("order", 0, "order (shmem_confirm_swap() / xa_get_order())")
    swap = ctx.local("swap", NO_FOLIO, "swap, the entry of the index")
    folio = ctx.local("folio", NO_FOLIO, "folio")
    base = ctx.local("index", index, "index (rounded down by a large folio)")
    local_names = ("entry", "order", "swap", "folio", "index")
    locals_ = [entry, order, swap, folio, base]
    if mapped_by_fault:
        mapped = ctx.local("mapped", NO_FOLIO, "the folio this task's PTE maps (finish_fault)")
        seen = mte.seen_field(ctx)
        got = None
    else:
        got = mm.m.field(f"{n}_got", "-", ("-", "p0", "p1"), f"(ghost) the page {n}'s fault returned for "
                         f"index {index}", ghost=True)
    vm_bug = mm.ghosts.get("shmem_vm_bug") or mm.ghost(
        "shmem_vm_bug", False, "shmem_add_to_page_cache() ran on a folio its caller had not locked")
    ffields = mm.all_folio() + (mte.folio_fields() if mte else [])
    slot_fields = mm.all_slot_fields()
    cache_fields = caches + [fs[1] for fs in slot_f]
    locks = mm.locks()

    def large(s, f):
        return mm.is_large(s, {}, f)

    def again(s, d, unlock=False):
        """-EEXIST: unlock and put the folio; shmem_get_folio_gfp() repeats."""
        f = mm.v(s, d, folio)
        if f != NO_FOLIO:
            if unlock:
                d[mm.lock[f]] = FREE
            mm.put_folio(s, d, f)
        ctx.reset(d, *local_names)
        d[GOTO] = "shmem.lookup"
        return d

    finish = "shmem.finish_fault" if mapped_by_fault else cont

    def lookup(s):
        val = getattr(s, sh.xa[index])
        if val in mm.folios:                           # in the page cache: the fault maps it
            if not mapped_by_fault:
                return {GOTO: cont, got: sh.content(s, index)}
            d = {folio: val, GOTO: "shmem.lock_cached"}
            mm.get_folio(s, d, val)                    # filemap_get_entry(): folio_try_get()
            return d
        o = sh.order(s)
        # v6.17+: "index may point to the middle of a large entry, get the sub entry"; before, swap
        # is the entry's value (the head) until a split recomputes it
        d = {entry: val, order: o, swap: slots[index] if (o and new) else val}
        if mapped_by_fault:
            d[GOTO] = "shmem.cache"
        return d

    ctx.step("shmem.lookup",
             "mm/shmem.c:shmem_get_folio_gfp: filemap_get_entry(); xa_is_value -> shmem_swapin_folio"
             if form == "v6.6" else
             "mm/shmem.c:shmem_get_folio_gfp: repeat: filemap_get_entry(mapping, index); "
             "xa_is_value -> shmem_swapin_folio(): order = shmem_confirm_swap() [xa_get_order()]; "
             "in a large entry, swap = the entry of the index",
             effect=lookup, reads=sh.fields() + ffields,
             writes=[entry, order, swap] + ([got] if got else [folio] + mm.ff("ref")),
             branches=[cont] if got else ["shmem.lock_cached", "shmem.cache"])

    if mapped_by_fault:
        ctx.step("shmem.lock_cached", "mm/shmem.c:shmem_get_folio_gfp: folio_lock(folio); folio->mapping == "
                 "inode->i_mapping [a page-cache hit, returned locked]",
                 guard=lambda s: getattr(s, mm.lock[getattr(s, folio)]) == FREE,
                 effect=lambda s: {mm.lock[getattr(s, folio)]: ctx.owner, GOTO: finish},
                 reads=[folio] + locks, writes=locks, branches=[finish])

    def read(s, d, k, nr):
        """A swap-in folio of nr pages for slots k..k+nr-1 that enters the swap cache with our
        reference and the cache's nr; None if a slot is no longer in use or already cached (the
        caller retries)."""
        rng = range(k, k + nr)
        if any(getattr(s, caches[j]) != NO_FOLIO for j in rng) or not all(getattr(s, counts[j]) for j in rng):
            return None
        data = GARBAGE if mm.swp_bad else pages_data([getattr(s, slot_f[j][3]) for j in rng])
        f = mm.alloc_folio(s, d, uptodate=not mm.swp_bad, data=data, **({"nr": nr} if nr > 1 else {}))
        mm.swap_cache_add(s, d, f, k, refs=1 + nr)     # swap_read_folio() once it is in the swap cache
        return f

    def cache(s):
        d = {}
        sw = getattr(s, swap)
        k = slots.index(sw)
        cached = getattr(s, caches[k])
        if cached != NO_FOLIO:
            mm.get_folio(s, d, cached)                 # swap_cache_get_folio()
            d[folio] = cached
            if form == "058313515d5a":
                d[GOTO] = "shmem.split"
            return d
        o = getattr(s, order)
        if o == 1 and form == "058313515d5a" and not large_ok:
            d[GOTO] = "shmem.fallback_split"           # the large allocation failed
            return d
        f = None
        if o == 1 and large_ok and form != "809bc86517cc":
            f = read(s, d, 0, 2)
        if f is None:
            f = read(s, d, k, 1)
            if f is None:
                return again(s, d)                     # freed or cached under us: -EEXIST
        d[folio] = f
        if form == "058313515d5a":
            d[GOTO] = "shmem.split"                    # past the fallback
        return d

    if sh.xa_order is None:
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap) ?: SWP_SYNCHRONOUS_IO ? "
               "shmem_swap_alloc_folio() [swapin_sync(): into the swap cache] : shmem_swapin_cluster() "
               "[swap_read_folio()]" if st else
               "mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap) ?: shmem_swapin_cluster() "
               "[add_to_swap_cache(); swap_read_folio()]")
    elif form == "mainline-2026":
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap); miss -> shmem_swap_alloc_folio(): "
               "swapin_sync(entry, BIT(order)), order 0 when the large allocation fails [into the swap "
               "cache; swap_read_folio()]")
    elif form == "v6.17":
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap, NULL, 0); miss -> "
               "shmem_swap_alloc_folio(order), order 0 when the large allocation fails")
    elif form == "058313515d5a":
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap, NULL, 0); order = "
               "xa_get_order(); miss -> shmem_swap_alloc_folio(order); a failed large allocation -> "
               "the split, then shmem_swapin_cluster(swap) [order 0]")
    else:
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap, NULL, 0); miss -> "
               "shmem_swapin_cluster(swap) [order 0]")
    ctx.step("shmem.cache", ref, effect=cache, reads=[swap, order, folio] + slot_fields + ffields,
             writes=locals_ + cache_fields + ffields,
             branches=["shmem.lookup"] + (["shmem.fallback_split", "shmem.split"] if form == "058313515d5a" else []))

    def split_entry(s, d):
        """shmem_split_large_entry(inode, index, index_entry): -EEXIST (False) unless the mapping
        still holds the entry; an order-1 entry becomes the order-0 entries of slots 0 and 1."""
        if getattr(s, sh.xa[index]) != getattr(s, entry):
            return False
        if sh.order(s):
            d[sh.xa_order] = 0
            d[sh.xa[0]] = slots[0]
            d[sh.xa[1]] = slots[1]
            if not new:
                d[swap] = slots[index]                 # split_order > 0: swap = entry + offset in the old order
        return True

    split_reads = [entry, order, folio] + sh.fields() + ffields
    split_writes = sh.fields() + locals_ + ffields

    if sh.xa_order is not None and form == "058313515d5a":
        def fallback(s):
            d = {}
            if not split_entry(s, d):
                return again(s, d)
            d[order] = 0
            d[GOTO] = "shmem.cache"                    # shmem_swapin_cluster(swap): order 0, or the cached folio
            return d

        ctx.step("shmem.fallback_split", "mm/shmem.c:shmem_swapin_folio: the large allocation failed -> "
                 "split_order = shmem_split_large_entry(inode, index, swap, gfp); shmem_swapin_cluster(swap)",
                 effect=fallback, reads=split_reads, writes=split_writes, branches=["shmem.lookup", "shmem.cache"])

    if sh.xa_order is not None and form != "809bc86517cc":
        def split(s):
            d = {}
            fo = 1 if large(s, getattr(s, folio)) else 0
            o = getattr(s, order)
            if (o > fo if new else o != fo) and not split_entry(s, d):
                return again(s, d)
            if fo == 1:
                d[swap] = slots[0]                     # v6.17: round_down(swap.val, nr_pages)
                d[base] = 0                            # round_down(index, nr_pages) [before: XA_STATE_ORDER]
            return d

        ctx.step("shmem.split", ("mm/shmem.c:shmem_swapin_folio: order > folio_order(folio) -> "
                                 "shmem_split_large_entry(); folio_nr_pages(folio) > 1 -> swap and index "
                                 "rounded down by the folio size") if new else
                 "mm/shmem.c:shmem_swapin_folio: order != folio_order(folio) -> shmem_split_large_entry()",
                 effect=split, reads=split_reads, writes=split_writes, branches=["shmem.lookup"])

    ctx.step("shmem.lock", "mm/shmem.c:shmem_swapin_folio: folio_lock(folio)",
             guard=lambda s: getattr(s, mm.lock[getattr(s, folio)]) == FREE,
             effect=lambda s: {mm.lock[getattr(s, folio)]: ctx.owner}, reads=[folio] + locks, writes=locks)

    def check(s):
        d = {}
        f = getattr(s, folio)
        sw = getattr(s, swap)
        matches = mm.folio_swap(s, d, f) == sw         # in the swap cache, folio->swap == swap
        confirm = getattr(s, sh.xa[getattr(s, base)]) == sw                 # shmem_confirm_swap()
        ok = matches and confirm
        if form == "058313515d5a":
            ok = ok and sh.order(s) == (1 if large(s, f) else 0)    # xa_get_order(&mapping->i_pages, index)
        if not ok:
            return again(s, d, unlock=True)
        return d

    ctx.step("shmem.check", ("mm/shmem.c:shmem_swapin_folio: !folio_matches_swap_entry(folio, swap) || "
                             "shmem_confirm_swap(mapping, index, swap) < 0 -> -EEXIST") if new else
             ("mm/shmem.c:shmem_swapin_folio: !folio_test_swapcache(folio) || folio->swap.val != swap.val || "
              "!shmem_confirm_swap(mapping, index, swap)"
              + (" || xa_get_order(&mapping->i_pages, index) != folio_order(folio)"
                 if form == "058313515d5a" else "") + " -> -EEXIST"),
             effect=check, reads=[folio, swap, base] + sh.fields() + caches + ffields,
             writes=locals_ + locks + ffields, branches=["shmem.lookup"])

    restore_ref = ("mm/shmem.c:shmem_swapin_folio: folio_wait_writeback(); arch_swap_restore("
                   + ("folio_swap(swap, folio)" if st else "swap") + ", folio)")
    if not restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref, folio)

    def add(s):
        d = {}
        f = getattr(s, folio)
        fo = 1 if large(s, f) else 0
        b = getattr(s, base)
        sw = getattr(s, swap)
        xo = sh.order(s)
        if new:
            # shmem_add_to_page_cache(): the whole range [index, index + nr) holds the expected,
            # consecutive swap entries (xas_for_each_conflict; iter.val += 1 << xas_get_order())
            if fo == 1:
                ok = getattr(s, sh.xa[0]) == slots[0] and (xo == 1 or getattr(s, sh.xa[1]) == slots[1])
            else:
                ok = xo == 0 and getattr(s, sh.xa[b]) == sw
        elif fo == 1:
            # XA_STATE_ORDER(index, 1): expected == xas_find_conflict() and no second conflict
            ok = xo == 1 and getattr(s, sh.xa[0]) == sw
        else:
            ok = getattr(s, sh.xa[b]) == sw            # expected == xas_find_conflict()
        if not ok:
            return again(s, d, unlock=True)
        if getattr(s, mm.lock[f]) != ctx.owner:
            d[vm_bug] = True                           # VM_BUG_ON_FOLIO(!folio_test_locked(folio), folio)
        if fo == 1 or xo == 1:
            d[sh.xa_order] = 1 if fo == 1 or not new else 0
            d[sh.xa[0]] = d[sh.xa[1]] = f              # an order-0 store over a multi-index entry replaces it
        else:
            d[sh.xa[b]] = f
        mm.folio_put_swap(s, d, f)                     # the counts the mapping's entries held
        mm.swap_cache_del(s, d, f)                     # the slots are free; the swap cache's references go
        mm.get_folio(s, d, f, 1 + fo)                  # the page cache's (folio_nr_pages())
        mm.fset(d, f, dirty=True)                      # folio_mark_dirty()
        ctx.reset(d, "entry", "order", "swap", "index")
        if not mapped_by_fault:
            mm.put_folio(s, d, f)                      # the fault's own, which goes with its mapping
            d[mm.lock[f]] = FREE                       # returned locked to the fault, which maps it
            d[got] = sh.page_of(s, f, index)
            ctx.reset(d, "folio")
            d[GOTO] = cont
        return d

    if new:
        ref = ("mm/shmem.c:shmem_swapin_folio: shmem_add_to_page_cache(folio, mapping, index, "
               "swp_to_radix_entry(swap)) [the range must hold the expected entries]; folio_put_swap(folio, "
               "NULL); swap_cache_del_folio(folio); folio_mark_dirty()")
    else:
        ref = ("mm/shmem.c:shmem_swapin_folio: shmem_add_to_page_cache(folio, mapping, index, "
               "swp_to_radix_entry(swap)) [expected == xas_find_conflict(); xas_store()]; "
               "delete_from_swap_cache(folio); folio_mark_dirty(); "
               + ("swap_free(swap)" if form == "v6.6" else "swap_free_nr(swap, nr_pages)"))
    ctx.step("shmem.add_to_page_cache",
             ref + ("" if mapped_by_fault else "; [the fault maps the folio and unlocks it]") + mm.slot_free_ref(),
             effect=add, reads=[folio, base, swap] + sh.fields() + slot_fields + ffields + locks,
             writes=sh.fields() + slot_fields + locals_ + locks + ffields + ([got] if got else []) + [vm_bug],
             branches=["shmem.lookup"] + ([] if mapped_by_fault else [cont]))

    if restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref + " [seeded: after swap_free()]",
                                   folio)
    if not mapped_by_fault:
        return got, index

    emit_do_set_pte(ctx, folio, mapped, label="shmem.finish_fault", arch_set_pte=mte.set_pte_hook_unrecorded())

    def load(s):
        fid = getattr(s, mapped)
        return {seen: getattr(s, mte.tags[fid]) if getattr(s, mte.vm_mte) else NO_TAGS, GOTO: DONE}

    ctx.step("load", "user space: tag-checked load through the new PTE (ldg reads the allocation tag)",
             effect=load, reads=[mapped, mte.vm_mte] + list(mte.tags.values()), writes=[seen],
             branches=[DONE])
    mte.loads.append((seen, None))
    return mapped


def emit_shmem_writeout_large(ctx: Ctx, sh: ShmemMapping) -> None:
    """shmem_writeout() of the order-1 folio at indices 0..1 (kswapd / MADV_PAGEOUT): folio_alloc_swap()
    gives it slots 0 and 1 of the range (free), the mapping gets the large swap entry back
    (shmem_delete_from_page_cache + xa store of the swap entry, order 1), the write completes and the
    clean folio stays in the swap cache. Nothing happens unless the mapping holds an order-1 folio and
    both slots are free."""
    mm = ctx.mm
    slots = mm.base.slots
    slot_f = mm.base.slot_f

    def writeout(s):
        f = getattr(s, sh.xa[0])
        if (f not in mm.folios or not mm.is_large(s, {}, f)
                or any(getattr(s, fs[0]) for fs in slot_f) or any(getattr(s, fs[2]) != NO_FOLIO for fs in slot_f)):
            return {}
        d = {sh.xa_order: 1, sh.xa[0]: slots[0], sh.xa[1]: slots[0]}
        for k, fs in enumerate(slot_f):
            d[fs[0]] = 1
            d[fs[3]] = sh.page_of(s, f, k)             # swap_writeout(): page k written to slot k
        # the page cache's references become the swap cache's
        mm.swap_cache_add(s, d, f, 0, refs=getattr(s, mm.f["ref"][f]))
        mm.fset(d, f, dirty=False)
        return d

    ctx.step("writeout", "mm/shmem.c:shmem_writeout: folio_alloc_swap(folio); shmem_delete_from_page_cache(); "
             "the large swap entry stored; swap_writeout() [the folio stays in the swap cache once clean]",
             guard=lambda s: all(getattr(s, lk) == FREE for lk in mm.locks()),
             effect=writeout, reads=sh.fields() + mm.all_slot_fields() + mm.all_folio() + mm.locks(),
             writes=sh.fields() + mm.all_slot_fields() + mm.all_folio())
