"""do_wp_page() reuse rules older than those of models/cow.py, and user accesses that wait on a
migration entry.

models/cow.py (Anon-exclusive I) implements do_wp_page with the page_count() rules of 09854ba94c6a
(v5.9-v5.18) and the PG_anon_exclusive rules with the FAULT_FLAG_UNSHARE fault of v5.19+. The
"COW can break either way" leak (CVE-2020-29374, fork-pin-leak) needs the rule before 09854ba94c6a:
v5.7's do_wp_page() reuses an anonymous page when `reuse_swap_page()` says the page is mapped once,
counting map and swap references only:

    if (!trylock_page(page)) { get_page(); unlock PTL; lock_page(); relock; pte_same() ... }
    if (reuse_swap_page(page, &total_map_swapcount)) {
        if (total_map_swapcount == 1) page_move_anon_rmap(page, vma);
        unlock_page(page); wp_page_reuse(vmf); return VM_FAULT_WRITE;
    }
    unlock_page(page);  ... copy

(read in the v5.7 do_wp_page of mm/memory.c and in the KSM patch mails that quote it).
`reuse_swap_page()` (mm/swapfile.c, v5.7, not re-read here: from its callers and its kernel-doc):
count = page_mapcount + swap count of the entry; a page in the swap cache with count == 1 and not
under writeback is deleted from the swap cache and dirtied; reuse iff count <= 1. GUP references are
not counted: that is the leak.

`use_mapcount_reuse(ctx)` rewrites the `wp.can_reuse` step that cow.emit_do_wp_page emitted for a
thread (the rest of do_wp_page, wp_page_reuse and wp_page_copy, is the same in v5.7). The contended
trylock path (sleeping in lock_page and re-checking pte_same) is taken as a copy: no modelled thread
holds the folio lock while another write-faults.
"""

from __future__ import annotations

from pteverify.model import FREE, GOTO, ModelError

from .mm import Ctx


def use_mapcount_reuse(ctx: Ctx) -> None:
    mm = ctx.mm
    page = ctx.vars["page"]
    step = next((st for st in ctx.t.steps if st.label == "wp.can_reuse"), None)
    if step is None:
        raise ModelError(f"thread {ctx.name}: emit the fault handlers before use_mapcount_reuse()")
    slot = mm.slot_fields()

    def can_reuse(s):
        fid = getattr(s, page)
        if getattr(s, mm.lock[fid]) != FREE:
            return {GOTO: "wp.copy"}
        in_cache = getattr(s, mm.f["swapcache"][fid])
        count = getattr(s, mm.f["map"][fid]) + (getattr(s, mm.swp_count) if in_cache else 0)
        d = {}
        if count == 1 and in_cache and not getattr(s, mm.f["writeback"][fid]):
            mm.delete_from_swap_cache(s, d, fid)         # reuse_swap_page(): delete_from_swap_cache()
            mm.fset(d, fid, dirty=True)                 #   + SetPageDirty()
        if count > 1:
            d[GOTO] = "wp.copy"
        return d

    step.effect = can_reuse
    step.ref = ("mm/memory.c:do_wp_page: trylock_page(); reuse_swap_page(page, &total_map_swapcount) "
                "[page_mapcount + swap count <= 1; GUP references not counted] -> page_move_anon_rmap(); "
                "wp_page_reuse() | unlock_page(); copy")
    step.reads = frozenset([page, mm.swp_count] + mm.locks() + slot
                           + mm.ff("map", "swapcache", "writeback", "ref"))
    step.writes = frozenset(mm.all_folio() + slot)


def wait_on_migration_entries(ctx: Ctx, label: str) -> None:
    """A user access or GUP step of `ctx` that finds a migration entry sleeps in
    migration_entry_wait() (do_swap_page: is_migration_entry()) until remove_migration_pte() restored
    the PTE, then retries: the step is disabled while the PTE is a migration entry."""
    mm = ctx.mm
    step = next((st for st in ctx.t.steps if st.label == label), None)
    if step is None:
        raise ModelError(f"thread {ctx.name}: no step {label!r}")
    inner = step.guard

    def guard(s):
        return getattr(s, mm.pte).kind != "migration" and (inner is None or inner(s))

    step.guard = guard
    step.ref += " [migration entry: do_swap_page -> migration_entry_wait() until remove_migration_pte()]"
    step.reads = step.reads | {mm.pte}


__all__ = ["use_mapcount_reuse", "wait_on_migration_entries"]
