"""mm/shmem.c: a fault on a shmem page whose page-cache slot holds a swap entry
(`emit_shmem_get_folio`), over the mm vocabulary's shmem mapping (`mm.ShmemMapping`: the page cache's
entries, backed by an `MM`'s swap slots, swap cache and folios): an order-0 entry with the MTE tags,
or a large swap entry over two indices; shmem_writeout() of the large folio.

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
mapping's index (`xa0`: the swap entry or the folio), the swap cache and the swap slot. The
skip-swapcache shmem swapin (SWAP_CACHE_BYPASS, v6.14+) is not modelled. arch_swap_restore() and the
slot-free callback are the architecture hooks of the shared mm (`mm.ArchHook`, registered by `MTE`);
the swap_readpage() hook of the review proposal is not run here.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .arm64_mteswap import MTE, NO_TAGS
from .memory import emit_do_set_pte
from .mm import NO_FOLIO, Ctx, ShmemMapping, pages_data
from .swap_state import read_into_swap_cache


def emit_shmem_get_folio(ctx: Ctx, mapping: ShmemMapping, *, index: int = 0, cont: str = DONE,
                         mte: MTE | None = None, restore_after_swap_free: bool = False, swap_table: bool = False,
                         form: str = "mainline-2026", large_ok: bool = False):
    """shmem_fault() -> shmem_get_folio_gfp() at `index` of the shmem `mapping` (mm.ShmemMapping, the
    page cache of the thread's MM): repeat: filemap_get_entry(); a swap entry (xa_is_value) ->
    shmem_swapin_folio(); -EEXIST -> repeat; the fault maps the folio it returns.

    Two bodies over the same state (the mapping's entries, the MM's slots, swap cache and folios), one
    per scenario family:

    * a mapping of one index holding an order-0 swap entry, and `mte` the PROT_MTE state of the
      shared mapping (mte-shmem): arch_swap_restore() restores the tags, finish_fault() ->
      do_set_pte() (memory.emit_do_set_pte) syncs them, and the task then does a tag-checked load
      through its new PTE and ends. Returns the task's `mapped` field (the folio its PTE maps).
      `restore_after_swap_free` is a seeded mutation (not a kernel): arch_swap_restore() moved after
      swap_free(). `swap_table`: the steps name the linux-mm 2026 calls (mm/shmem.c @01f9445dd484: the
      cache miss reads into the swap cache through shmem_swap_alloc_folio() -> swapin_sync() or
      shmem_swapin_cluster(); folio_matches_swap_entry(); folio_put_swap(folio, NULL) and
      swap_cache_del_folio() after shmem_add_to_page_cache()); the order of the steps, and what they
      do to the modelled state, is the same as in v6.6.
    * a mapping of two indices under one large swap entry (shmem-large-swap-entry, an MM range of
      nr = 2 slots): order-0 and order-1 swap-ins, the splits of the entry, in the release `form`
      (SHMEM_LARGE_FORMS); `large_ok`: this task's order-1 swap-in allocation succeeds (otherwise it
      fails, as under memory pressure, and the swap-in falls back to order 0); the thread continues
      at `cont`. Returns (the ghost field of the page the fault got, `index`)."""
    if len(mapping.xa) == 2:
        if mte is not None:
            raise ModelError("shmem_get_folio_gfp: the large swap entry model has no MTE state")
        return _emit_swapin_large(ctx, mapping, form=form, index=index, large_ok=large_ok, cont=cont)
    if mte is None or index != 0 or cont != DONE:
        raise ModelError("shmem_get_folio_gfp of a one-index mapping: the PROT_MTE fault of index 0 only "
                         "(mte=, then the tag-checked load ends the thread)")
    return _emit_swapin_mm(ctx, mte, mapping, restore_after_swap_free=restore_after_swap_free,
                           swap_table=swap_table)


def _emit_swapin_mm(ctx: Ctx, mte: MTE, sh: ShmemMapping, *, restore_after_swap_free: bool,
                    swap_table: bool) -> str:
    """The one-index form of emit_shmem_get_folio() (the PROT_MTE fault of mte-shmem)."""
    mm = mte.mm
    entry = sh.xa[0]
    swap_entry = mm.slot
    if mm.swap_readpage_hook is not None:
        raise ModelError("shmem_swapin_folio: the swap_readpage() hook is not modelled on this path")
    page = ctx.local("page", NO_FOLIO, "shmem_swapin_folio: folio")
    mapped = ctx.local("mapped", NO_FOLIO, "the folio this task's PTE maps (finish_fault)")
    seen = mte.seen_field(ctx)
    folio_all = mm.all_folio() + mte.folio_fields()
    slot = mm.slot_fields()

    def lookup(s):
        d = {}
        e = getattr(s, entry)
        if e != swap_entry:
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

    ctx.step("shmem.lookup",
             ("mm/shmem.c:shmem_get_folio_gfp [filemap_get_entry(): xa_is_value] -> shmem_swapin_folio: "
              "swap_cache_get_folio(swap) ?: SWP_SYNCHRONOUS_IO ? shmem_swap_alloc_folio() [swapin_sync(): "
              "into the swap cache] : shmem_swapin_cluster() [swap_read_folio()]") if swap_table else
             ("mm/shmem.c:shmem_get_folio_gfp: filemap_get_entry(); xa_is_value -> "
              "shmem_swapin_folio: swap_cache_get_folio(swap) ?: shmem_swapin_cluster() "
              "[add_to_swap_cache(); swap_read_folio()]"),
             guard=lambda s: getattr(s, entry) != swap_entry or getattr(s, mm.swp_cache) != NO_FOLIO
             or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=[entry] + slot + mm.ff("ref", "map", "swapcache"),
             writes=[page] + slot + folio_all, branches=["shmem.finish_fault"])

    def lock(s):
        fid = getattr(s, page)
        if (not getattr(s, mm.f["swapcache"][fid]) or getattr(s, mm.swp_cache) != fid
                or getattr(s, entry) != swap_entry):
            d = {page: NO_FOLIO, GOTO: "shmem.lookup"}     # -EEXIST: repeat
            mm.put_folio(s, d, fid)
            return d
        return {mm.lock[fid]: ctx.owner}

    ctx.step("shmem.lock", "mm/shmem.c:shmem_swapin_folio: folio_lock(folio); "
             + ("!folio_matches_swap_entry(folio, swap) || shmem_confirm_swap() < 0 -> -EEXIST" if swap_table
                else "!folio_test_swapcache || folio->swap.val != swap.val || !shmem_confirm_swap() -> -EEXIST"),
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) == FREE, effect=lock,
             reads=[page, entry, mm.swp_cache] + mm.locks() + mm.ff("swapcache", "ref", "map"),
             writes=[page] + mm.locks() + folio_all, branches=["shmem.lookup"])

    restore_ref = ("mm/shmem.c:shmem_swapin_folio: folio_wait_writeback(); arch_swap_restore("
                   + ("folio_swap(swap, folio)" if swap_table else "swap") + ", folio)")
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
             + ("swp_to_radix_entry(swap)); folio_put_swap(folio, NULL); swap_cache_del_folio(folio); "
                "folio_mark_dirty()" if swap_table else
                "swp_to_radix_entry(swap)); delete_from_swap_cache(folio); folio_mark_dirty(); swap_free(swap)")
             + mm.slot_free_ref(),
             effect=add_to_page_cache, reads=[page] + slot, writes=[entry] + slot + mm.ff("swapcache", "dirty"))

    if restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref + " [seeded: after swap_free()]",
                                   page)

    emit_do_set_pte(ctx, page, mapped, label="shmem.finish_fault", arch_set_pte=mte.set_pte_hook_unrecorded())

    def load(s):
        fid = getattr(s, mapped)
        return {seen: getattr(s, mte.tags[fid]) if getattr(s, mte.vm_mte) else NO_TAGS, GOTO: DONE}

    ctx.step("load", "user space: tag-checked load through the new PTE (ldg reads the allocation tag)",
             effect=load, reads=[mapped, mte.vm_mte] + list(mte.tags.values()), writes=[seen],
             branches=[DONE])
    mte.loads.append((seen, None))
    return mapped


# --------------------------------------------------------------------------------------------
# Large swap entries in the shmem mapping ("mm: shmem: support large folio swap out",
# 809bc86517cc): shmem_swapin_folio() against a large swap entry, an order-0 readahead folio and a
# split by a racing swap-in.

SHMEM_LARGE_FORMS = ("809bc86517cc", "058313515d5a", "v6.17", "mainline-2026")


def _emit_swapin_large(ctx: Ctx, sh: ShmemMapping, *, form: str, index: int, large_ok: bool,
                       cont: str = DONE) -> tuple[str, int]:
    """The large-entry form of emit_shmem_get_folio(): indices 0 and 1 of `sh`, swapped out as one
    order-1 folio, backed by the MM's slots 0 and 1 (a range of nr = 2), the folios of the MM's pool
    (order = folio_nr_pages(), content = the pages they hold)."""
    if form not in SHMEM_LARGE_FORMS:
        raise ValueError(f"shmem large-entry form {form!r} not in {SHMEM_LARGE_FORMS}")
    mm = ctx.mm
    slots = mm.base.slots
    slot_f = mm.base.slot_f
    counts = [fs[0] for fs in slot_f]
    caches = [fs[2] for fs in slot_f]
    n = ctx.name
    entry = ctx.local("entry", NO_FOLIO, "index_entry, the mapping's value")
    order = ctx.local("order", 0, "order (shmem_confirm_swap() / xa_get_order())")
    swap = ctx.local("swap", NO_FOLIO, "swap, the entry of the index")
    folio = ctx.local("folio", NO_FOLIO, "folio")
    base = ctx.local("index", index, "index (rounded down by a large folio)")
    got = mm.m.field(f"{n}_got", "-", ("-", "p0", "p1"), f"(ghost) the page {n}'s fault returned for index "
                     f"{index}", ghost=True)
    vm_bug = mm.ghosts.get("shmem_vm_bug") or mm.ghost(
        "shmem_vm_bug", False, "shmem_add_to_page_cache() ran on a folio its caller had not locked")
    local_names = ("entry", "order", "swap", "folio", "index")
    locals_ = [entry, order, swap, folio, base]
    new = form in ("v6.17", "mainline-2026")
    ffields = mm.all_folio()
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
        d[GOTO] = "lookup"
        return d

    def lookup(s):
        val = getattr(s, sh.xa[index])
        if val in mm.folios:
            return {GOTO: cont, got: sh.content(s, index)}     # in the page cache: the fault maps it
        o = sh.order(s)
        # v6.17+: "index may point to the middle of a large entry, get the sub entry"; before, swap
        # is the entry's value (the head) until a split recomputes it
        return {entry: val, order: o, swap: slots[index] if (o and new) else val}

    ctx.step("lookup", "mm/shmem.c:shmem_get_folio_gfp: repeat: filemap_get_entry(mapping, index); "
             "xa_is_value -> shmem_swapin_folio(): order = shmem_confirm_swap() [xa_get_order()]; "
             "in a large entry, swap = the entry of the index",
             effect=lookup, reads=sh.fields() + ffields, writes=[entry, order, swap, got],
             branches=[cont])

    def read(s, d, sw, o):
        """A swap-in allocation of order `o` for `sw` that enters the swap cache with our reference
        and the cache's; None if the slots are no longer in use or already cached (the caller
        retries)."""
        if o == 1:
            if any(getattr(s, c) != NO_FOLIO for c in caches) or not all(getattr(s, c) for c in counts):
                return None
            f = mm.alloc_folio(s, d, nr=2, uptodate=True, data=pages_data([getattr(s, fs[3]) for fs in slot_f]))
            mm.swap_cache_add(s, d, f, 0, refs=1 + 2)
            return f
        k = slots.index(sw)
        if getattr(s, caches[k]) != NO_FOLIO or not getattr(s, counts[k]):
            return None
        f = mm.alloc_folio(s, d, uptodate=True, data=getattr(s, slot_f[k][3]))
        mm.swap_cache_add(s, d, f, k, refs=1 + 1)
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
                d[GOTO] = "split"
            return d
        o = getattr(s, order)
        if o == 1 and form == "058313515d5a" and not large_ok:
            d[GOTO] = "fallback_split"                 # the large allocation failed
            return d
        f = None
        if o == 1 and large_ok and form != "809bc86517cc":
            f = read(s, d, slots[0], 1)
        if f is None:
            if not getattr(s, counts[k]):
                return again(s, d)                     # freed under us: confirm fails, -EEXIST
            f = read(s, d, sw, 0)
            if f is None:
                return again(s, d)
        d[folio] = f
        if form == "058313515d5a":
            d[GOTO] = "split"                          # past the fallback
        return d

    if form == "mainline-2026":
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
    ctx.step("cache", ref, effect=cache, reads=[swap, order, folio] + slot_fields + ffields,
             writes=locals_ + cache_fields + ffields,
             branches=["lookup"] + (["fallback_split", "split"] if form == "058313515d5a" else []))

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

    if form == "058313515d5a":
        def fallback(s):
            d = {}
            if not split_entry(s, d):
                return again(s, d)
            d[order] = 0
            d[GOTO] = "cache"                          # shmem_swapin_cluster(swap): order 0, or the cached folio
            return d

        ctx.step("fallback_split", "mm/shmem.c:shmem_swapin_folio: the large allocation failed -> "
                 "split_order = shmem_split_large_entry(inode, index, swap, gfp); shmem_swapin_cluster(swap)",
                 effect=fallback, reads=split_reads, writes=split_writes, branches=["lookup", "cache"])

    if form != "809bc86517cc":
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

        ctx.step("split", ("mm/shmem.c:shmem_swapin_folio: order > folio_order(folio) -> "
                           "shmem_split_large_entry(); folio_nr_pages(folio) > 1 -> swap and index rounded "
                           "down by the folio size") if new else
                 "mm/shmem.c:shmem_swapin_folio: order != folio_order(folio) -> shmem_split_large_entry()",
                 effect=split, reads=split_reads, writes=split_writes, branches=["lookup"])

    ctx.step("lock", "mm/shmem.c:shmem_swapin_folio: folio_lock(folio)",
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

    ctx.step("check", ("mm/shmem.c:shmem_swapin_folio: !folio_matches_swap_entry(folio, swap) || "
                       "shmem_confirm_swap(mapping, index, swap) < 0 -> -EEXIST") if new else
             ("mm/shmem.c:shmem_swapin_folio: !folio_test_swapcache(folio) || folio->swap.val != swap.val || "
              "!shmem_confirm_swap(mapping, index, swap)"
              + (" || xa_get_order(&mapping->i_pages, index) != folio_order(folio)"
                 if form == "058313515d5a" else "") + " -> -EEXIST"),
             effect=check, reads=[folio, swap, base] + sh.fields() + caches + ffields,
             writes=locals_ + locks + ffields, branches=["lookup"])

    def add(s):
        d = {}
        f = getattr(s, folio)
        fo = 1 if large(s, f) else 0
        b = getattr(s, base)
        sw = getattr(s, swap)
        xo = sh.order(s)
        xa0, xa1 = (getattr(s, x) for x in sh.xa)
        if new:
            # shmem_add_to_page_cache(): the whole range [index, index + nr) holds the expected,
            # consecutive swap entries (xas_for_each_conflict; iter.val += 1 << xas_get_order())
            if fo == 1:
                ok = xa0 == slots[0] and (xo == 1 or xa1 == slots[1])
            else:
                ok = xo == 0 and getattr(s, sh.xa[b]) == sw
        elif fo == 1:
            # XA_STATE_ORDER(index, 1): expected == xas_find_conflict() and no second conflict
            ok = xo == 1 and xa0 == sw
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
        # folio_put_swap() / swap_free_nr(): the one count of each of the folio's slots (the entry the
        # page cache held); swap_cache_del_folio(): the slots are free, the swap cache's references go
        for fs in mm.folio_slots(s, d, f):
            d[fs[0]] = 0
        mm.swap_cache_del(s, d, f)
        nr = 2 if fo == 1 else 1
        mm.get_folio(s, d, f, nr - 1)                  # the page cache's nr references: ours is one of them
        mm.fset(d, f, dirty=True)                      # folio_mark_dirty()
        d[mm.lock[f]] = FREE                           # returned locked to the fault, which maps it
        d[got] = sh.page_of(s, f, index)
        ctx.reset(d, *local_names)
        d[GOTO] = cont
        return d

    ctx.step("add", ("mm/shmem.c:shmem_add_to_page_cache(folio, mapping, index, swp_to_radix_entry(swap)): "
                     "the range must hold the expected entries; folio_put_swap(); swap_cache_del_folio()"
                     if new else
                     "mm/shmem.c:shmem_add_to_page_cache(folio, mapping, index, swp_to_radix_entry(swap)): "
                     "expected == xas_find_conflict(); xas_store(); delete_from_swap_cache(); swap_free_nr()")
             + "; folio_mark_dirty(); [the fault maps the folio and unlocks it]",
             effect=add, reads=[folio, base, swap] + sh.fields() + slot_fields + ffields + locks,
             writes=sh.fields() + slot_fields + locals_ + locks + ffields + [got, vm_bug],
             branches=["lookup", cont])
    return got, index


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
