"""mm/zswap.c: zswap writeback (zswap_writeback_entry()) and its completion.

Read from linux-mm mm/zswap.c and mm/swap_state.c @ 008bbb62 (2026) and from the v6.17-rc3 form of
mm/zswap.c (Kingxukai/linux):

zswap_writeback_entry(entry, swpentry), called by the shrinker (shrink_memcg_cb()) for the coldest
zswap entry, "resumes" the swap-out zswap_store() intercepted:

1. `__swap_cache_alloc_folio(swpentry, ...)` (2026; v6.17: `__read_swap_cache_async(...,
   skip_if_exists)`): a new folio, locked, in the swap cache. A folio already cached (a swap-in got
   there first: -EEXIST, v6.17 `!folio_was_allocated`) or a freed entry (-ENOENT) ends the writeback.
2. `entry != xa_load(tree, offset)` -> the zswap entry was invalidated (the slot freed and reused):
   `swap_cache_del_folio(); folio_unlock(); folio_put()`. Otherwise `zswap_decompress()`,
   `xa_erase()`, `zswap_entry_free()`, `folio_mark_uptodate()`.
3. 2026: `folio_set_dropbehind(folio)`, `folio_put(folio)` (the swap cache holds the only reference),
   `__swap_writeout()`: PG_writeback set, folio unlocked, bio submitted. v6.17: `folio_set_reclaim()`
   (rotate to the inactive tail when the write ends), `__swap_writepage()`, `folio_put()`.
4. Completion: `folio_end_writeback()` takes a reference and clears PG_writeback; for a dropbehind
   swap cache folio the reference is donated to `swap_writeback_dropbehind_folio()` (task context):
   `folio_lock()`; `if (!folio_test_swapcache(folio) || folio_test_writeback(folio) ||
   !remove_mapping_set_shadow(swap_address_space(folio->swap), folio, memcg))` -> "Raced: the folio
   is now owned by the swapin": `folio_clear_dropbehind(); folio_add_lru()`; `folio_unlock();
   folio_put()`. The folio_test_swapcache() gate exists because "a racing swapin may have freed the
   swap slot (folio_free_swap()) and dropped the folio from the cache, and it must not run on a
   non-swapcache folio (it would trip __remove_mapping()'s mapping == folio_mapping() check)".
   `remove_mapping_set_shadow()` -> `__remove_mapping()`: `folio_ref_freeze(folio, 1 + nr)` (the
   caller's and the swap cache's references) and not dirty, else it fails; then
   `__swap_cache_del_folio()` leaves a shadow, and the frozen folio is freed by the final put.

Abstractions: the zswap tree entry of the one modelled slot is a flag (`zswap_entry`: the slot's
content is held compressed by zswap); its content is the slot's content (`swp_data`), so decompress
and the device write move no data the model tells apart; the shrinker's LRU walk, the second-chance
`referenced` bit and the objcg accounting are not modelled; the completion runs in the writeback
thread after the write (bio completion and the task-context drop are later steps of that thread).
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .mm import GARBAGE, NO_DATA, NO_FOLIO, ORIGINAL, ArchHook, Ctx
from .swap_state import emit_swap_writeback_dropbehind_folio

ZSWAP_WRITEBACK_FORMS = ("v6.17", "seeded-no-swapcache-gate", "mainline-2026")

# zswap_load() of a large folio (and __swap_cache_alloc()'s range check), see `zswap_load()` below
ZSWAP_LARGE_LOAD_FORMS = ("c63f210d4891^", "c63f210d4891", "mainline-2026")

STALE = "stale"         # a device slot zswap_store() intercepted: never written, it holds older data


def add_zswap_entry(mm, present: bool = True) -> str:
    """The zswap tree entry of the modelled slot (xa_load(swap_zswap_tree(entry), offset)), dropped
    when the slot is freed (swap_range_free() -> zswap_invalidate()); and PG_dropbehind."""
    mm.zswap_entry = mm.m.field("zswap_entry", present, (False, True),
                                "zswap holds the slot's content (an entry in swap_zswap_tree())")
    mm.add_slot_free_hook(ArchHook(fn=lambda s, d: d.__setitem__(mm.zswap_entry, False),
                                   writes=(mm.zswap_entry,), ref="zswap_invalidate()"))
    mm.add_folio_flag("dropbehind", False, (False, True), "PG_dropbehind (drop the folio once its "
                      "writeback completes)")
    return mm.zswap_entry


def emit_zswap_writeback_entry(ctx: Ctx, *, form: str, bug: str) -> None:
    """The shrinker writing back the modelled slot's zswap entry, then the write's completion.
    `form`: "v6.17" (folio_set_reclaim(): the folio stays in the swap cache after the write),
    "mainline-2026" (dropbehind, with swap_writeback_dropbehind_folio()'s folio_test_swapcache() gate)
    or "seeded-no-swapcache-gate" (the 2026 drop without that test). `bug`: a ghost set when
    __remove_mapping() runs on a folio that is not in the mapping it removes it from."""
    if form not in ZSWAP_WRITEBACK_FORMS:
        raise ValueError(f"zswap writeback form {form!r} not in {ZSWAP_WRITEBACK_FORMS}")
    mm = ctx.mm
    st = form != "v6.17"
    folio = ctx.local("folio", NO_FOLIO, "zswap_writeback_entry: the swap cache folio written back")
    # a slot of a range (subpage_view): freeing a large folio's cache reads every slot and its order
    slot = mm.all_slot_fields() + mm.ff("nr") if mm.nr > 1 else mm.slot_fields()
    folio_all = mm.all_folio()

    def alloc(s):
        if getattr(s, mm.swp_cache) != NO_FOLIO or not mm.slot_in_use(s, {}):
            return {GOTO: DONE}                        # -EEXIST (raced with swap-in) / -ENOENT (freed)
        if not st and getattr(s, mm.swp_has_cache):
            return {GOTO: DONE}                        # swapcache_prepare() fails: skip_if_exists
        d = {}
        fid = mm.alloc_folio(s, d, ref=2, swapcache=True, uptodate=False, data="-")
        d[mm.swp_cache] = fid
        d[mm.swp_has_cache] = True
        d[mm.lock[fid]] = ctx.owner
        d[folio] = fid
        return d

    ctx.step("wb.alloc", ("mm/zswap.c:zswap_writeback_entry: get_swap_device(); "
                          "__swap_cache_alloc_folio(swpentry, GFP_KERNEL, BIT(0), ...) [mm/swap_state.c: "
                          "a locked folio added to the swap cache; -EEXIST cached, -ENOENT freed -> return]")
             if st else
             ("mm/zswap.c:zswap_writeback_entry: __read_swap_cache_async(swpentry, ..., "
              "&folio_was_allocated, true) [skip_if_exists]; !folio_was_allocated -> -EEXIST"),
             effect=alloc, reads=slot + mm.ff("ref"), writes=slot + folio_all + mm.locks() + [folio],
             branches=[DONE])

    def decompress(s):
        fid = getattr(s, folio)
        d = {}
        if not getattr(s, mm.zswap_entry):
            # entry != xa_load(tree, offset): swap_cache_del_folio(); folio_unlock(); folio_put()
            mm.delete_from_swap_cache(s, d, fid)
            d[mm.lock[fid]] = FREE
            mm.put_folio(s, d, fid)
            d[folio] = NO_FOLIO
            d[GOTO] = DONE
            return d
        d[mm.zswap_entry] = False                      # xa_erase(); zswap_entry_free()
        # the entry's content: the slot's data (one-slot scenarios) or, with per-slot entries
        # (add_zswap_entries()), the data the page was swapped out with
        mm.fset(d, fid, data=ORIGINAL if zswap_fields(mm) else getattr(s, mm.swp_data), uptodate=True)
        if st:
            mm.fset(d, fid, dropbehind=True)
            mm.put_folio(s, d, fid)                    # the swap cache holds the only reference
        return d

    ctx.step("wb.decompress", "mm/zswap.c:zswap_writeback_entry: entry == xa_load(tree, offset) else "
             "swap_cache_del_folio(), folio_unlock(), folio_put(); zswap_decompress(); xa_erase(); "
             "zswap_entry_free(); folio_mark_uptodate(); "
             + ("folio_set_dropbehind(folio); folio_put(folio)" if st else
                "folio_set_reclaim(folio) [rotate after end_writeback]"),
             effect=decompress, reads=[folio, mm.zswap_entry, mm.swp_data] + slot + mm.ff("ref", "map",
                                                                                         "swapcache"),
             writes=[folio, mm.zswap_entry] + slot + folio_all + mm.locks(), branches=[DONE])

    def writeout(s):
        fid = getattr(s, folio)
        d = {mm.swp_data: getattr(s, mm.f["data"][fid]), mm.lock[fid]: FREE}
        mm.fset(d, fid, dirty=False, writeback=True)
        if not st:
            mm.put_folio(s, d, fid)                    # zswap_writeback_entry(): folio_put()
        return d

    ctx.step("wb.writeout", ("mm/zswap.c:zswap_writeback_entry: __swap_writeout(&ctx, folio); "
                             "swap_write_submit() [mm/page_io.c: folio_start_writeback(); folio_unlock()]")
             if st else
             ("mm/zswap.c:zswap_writeback_entry: __swap_writepage(folio, NULL) [folio_start_writeback(); "
              "folio_unlock()]; folio_put(folio)"),
             effect=writeout, reads=[folio] + mm.ff("data", "ref", "map", "swapcache"),
             writes=[mm.swp_data] + mm.locks() + folio_all)

    def end_writeback(s):
        fid = getattr(s, folio)
        d = {}
        mm.fset(d, fid, writeback=False)
        if st and getattr(s, mm.f["dropbehind"][fid]):
            mm.get_folio(s, d, fid)                    # the reference donated to the drop
            return d
        d[folio] = NO_FOLIO
        d[GOTO] = DONE
        return d

    ctx.step("wb.end", "mm/page_io.c:end_swap_bio_write -> mm/filemap.c:folio_end_writeback(): "
             "folio_get(); __folio_end_writeback() [PG_writeback cleared]"
             + ("; folio_test_dropbehind() -> swap_writeback_dropbehind_folio(folio) [the reference "
                "donated]" if st else "; folio_test_reclaim() -> folio_rotate_reclaimable(); folio_put()"),
             effect=end_writeback, reads=[folio] + mm.ff("ref", "dropbehind"),
             writes=[folio] + mm.ff("ref", "writeback"), branches=[DONE])

    if not st:
        return

    emit_swap_writeback_dropbehind_folio(ctx, folio, bug, gate=form == "mainline-2026", slot=slot)


def add_zswap_entries(mm, present: list[bool]) -> list[str]:
    """Per-slot zswap tree entries of a range of slots (large-folio scenarios): field `zswap_entry` is
    slot 0's, `zswap_entry<i>` slot i's; a subpage_view(i) sees slot i's as `mm.zswap_entry`, so
    emit_zswap_writeback_entry() runs unchanged on one slot of the range. An entry holds the data the
    slot was swapped out with (ORIGINAL); the device copy of a slot zswap_store() intercepted is STALE
    until zswap writeback writes it. Freeing a slot drops its entry (swap_range_free() ->
    zswap_invalidate()). Reads go through `zswap_load()` (mm/page_io.c swap_read_folio() ->
    zswap_load() first, the device only on -ENOENT)."""
    base = mm.base
    fields = [base.m.field("zswap_entry" if i == 0 else f"zswap_entry{i}", p, (False, True),
                           f"zswap holds slot {i}'s content (an entry in swap_zswap_tree())")
              for i, p in enumerate(present)]
    base.add_slot_field("zswap_entry", fields)

    def invalidate(s, d, i):
        d[fields[i]] = False

    base.add_slot_free_hook(ArchHook(fn=invalidate, reads=tuple(fields), writes=tuple(fields),
                                     ref="zswap_invalidate()", per_slot=True))
    base.add_folio_flag("dropbehind", False, (False, True), "PG_dropbehind (drop the folio once its "
                        "writeback completes)")
    return fields


def zswap_fields(mm) -> list[str]:
    return list(getattr(mm.base, "slot_extra", {}).get("zswap_entry", ()))


def zswap_load(mm, s, d: dict, nr: int, form: str = "mainline-2026") -> tuple[str, bool, bool] | None:
    """mm/page_io.c:swap_read_folio() -> zswap_load() on a folio of `nr` pages starting at this view's
    slot (a large folio starts at slot 0 of the range). Returns (data, uptodate, dirty), or None when
    zswap does not hold the folio (-ENOENT: the caller reads the device). Forms:

    * order 0 (every form): the slot's entry is decompressed, folio_mark_uptodate(),
      folio_mark_dirty() and the entry erased (an exclusive load: the swap cache owns the data now);
    * "c63f210d4891^" (v6.10 and older): zswap_load() looks up folio->swap only: when slot 0 is in
      zswap it decompresses into the first page and the other pages are never filled; otherwise
      -ENOENT and the whole folio is read from the device, stale where a slot is in zswap ("silent data
      corruption", c63f210d4891's message);
    * "c63f210d4891" ("mm: zswap: handle incorrect attempts to load large folios", v6.11):
      WARN_ON_ONCE(folio_test_large(folio)) -> return true without folio_mark_uptodate(): the fault
      gets an I/O error (SIGBUS);
    * "mainline-2026" (linux-mm mm/zswap.c @ 008bbb62): a large folio scans its range
      (zswap_is_present()): any entry -> WARN_ON_ONCE, -EIO (not uptodate); none -> -ENOENT."""
    zs = zswap_fields(mm)
    if not zs:
        return None
    if nr == 1:
        z = zs[mm.slot_index()]
        if not mm.v(s, d, z):
            return None
        d[z] = False                                   # xa_erase(); zswap_entry_free()
        return ORIGINAL, True, True
    present = [mm.v(s, d, z) for z in zs[:nr]]
    if form == "c63f210d4891^":
        if not present[0]:
            return None
        d[zs[0]] = False
        return GARBAGE, True, True                     # pages 1.. never filled
    if form == "c63f210d4891":
        return NO_DATA, False, False
    if any(present):
        return NO_DATA, False, False                   # -EIO
    return None
