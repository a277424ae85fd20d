"""Temporary unmapping of an exclusive anonymous page: mm/rmap.c:try_to_migrate_one() and
try_to_unmap_one() (swap) with their TLB flush, mm/migrate.c:migrate_pages() and
remove_migration_pte(), and mprotect()'s change_pte_range() on a migration entry.

Both unmappers follow the rule of 6c287605fd56 as the comment of __folio_try_share_anon_rmap()
states it (A1-A4), under the PTL:

* A1 `*.clear`: `anon_exclusive = PageAnonExclusive(subpage)`; `pteval = ptep_clear_flush()` (or
  `ptep_get_and_clear()` + `set_tlb_ubc_flush_pending()` when the flush is deferred); the flush is the
  next step (`*.flush`, see gup_fast.emit_tlb_flush);
* A2/A3 `*.share`: `anon_exclusive && page_try_share_anon_rmap(subpage)`: a maybe-pinned page backs off
  (the PTE is restored, the walk aborts), otherwise ClearPageAnonExclusive(); try_to_unmap_one first
  takes the swap reference (`swap_duplicate`, dropped again on the back-off);
* A4 `*.set`: the swap PTE (`pte_swp_mkexclusive()` if anon_exclusive, 1493a1913e34) or the migration
  entry: writable if the PTE was writable, else readable-exclusive if anon_exclusive, else readable;
  `page_remove_rmap()`, `folio_put()`, PTL unlock.

The seeded mutation `KernelII.clear_before_share = False` performs A2/A3 with the PTE still present and
clears it only together with A4: "try_to_migrate()/try_to_unmap() places a migration/swap entry after
checking for GUP pins" without the clear/invalidate+flush in between (races II and III of
6c287605fd56's message).

Migration (`migrate_pages` after the unmap): `folio_migrate_mapping()` needs the folio's refcount to be
the isolation reference only (`folio_ref_freeze` / expected_count); an extra reference (a GUP pin or
FOLL_GET) makes it fail after its retries, and `remove_migration_ptes(src, src)` restores the old
page; on success the data is copied to the new folio and `remove_migration_ptes(src, dst)` maps that.
`remove_migration_pte()` (one step per process mapping the page) restores exclusivity from the entry
type: `!is_readable_migration_entry(entry)` -> RMAP_EXCLUSIVE (6c287605fd56); a writable entry gives
`maybe_mkwrite()`.

Abstractions: one address, mapped by the parent and possibly a child (remove_migration_ptes walks
both); the isolation reference is taken before the scenario starts (isolate_lru_page); no deferred
batch flush for migration (try_to_migrate_one always flushed until the v6.4 batching); young/dirty
bits of migration entries are not modelled; the folio lock is held by the migrating thread across the
whole operation and no other modelled thread takes it, so it is not a field.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .gup_fast import KernelII, emit_tlb_flush
from .mm import MM, NO_FOLIO, PTE_NONE, Ctx, Kernel, Pte, pte_present, pte_swap


def pte_migration(folio: str, *, write: bool = False, exclusive: bool = False,
                  soft_dirty: bool = False, uffd_wp: bool = False) -> Pte:
    """A migration entry: writable, readable-exclusive (anon only) or readable."""
    return Pte("migration", folio, write=write, exclusive=exclusive and not write, soft_dirty=soft_dirty,
               uffd_wp=uffd_wp)


def entry_type(pte: Pte) -> str:
    return "write" if pte.write else ("read-excl" if pte.exclusive else "read")


def emit_unmap_one(ctx: Ctx, k: Kernel, kf: KernelII, page: str, *, kind: str, fail: str,
                   cont: str | None = None, deferred_flush: bool = False) -> None:
    """try_to_unmap_one (kind "swap") or try_to_migrate_one (kind "migrate") on the PTE of `ctx.mm`,
    for the folio in local `page`. Backing off jumps to `fail`; success continues at `cont` (or the
    next step)."""
    mm = ctx.mm
    assert kind in ("swap", "migrate")
    fn = "try_to_unmap_one" if kind == "swap" else "try_to_migrate_one"
    p = "unmap" if kind == "swap" else "mig"
    excl = ctx.local("anon_excl", False, f"{fn}: anon_exclusive")
    pteval = ctx.local("pteval", PTE_NONE, f"{fn}: pteval (the PTE it cleared)")
    locals_ = [excl, pteval]
    early = kf.clear_before_share

    # -- A1 -------------------------------------------------------------------------------------
    def clear(s):
        fid = getattr(s, page)
        pte = getattr(s, mm.pte)
        if not (pte.present and pte.folio == fid):
            return {GOTO: fail}                        # page_vma_mapped_walk() finds no mapping
        d = {mm.ptl: ctx.owner, pteval: pte}
        if k.anon_exclusive:
            d[excl] = getattr(s, mm.f["excl"][fid])
        if early:
            d[mm.pte] = PTE_NONE
        return d

    if not early:
        how = "[no clear/invalidate+flush before the pin check: seeded mutation]"
    elif deferred_flush:
        how = "pteval = ptep_get_and_clear(); set_tlb_ubc_flush_pending() (A1)"
    else:
        how = "pteval = ptep_clear_flush(): ptep_get_and_clear() (A1)"
    ctx.step(f"{p}.clear", f"mm/rmap.c:{fn}: page_vma_mapped_walk() [PTL]; "
             + ("anon_exclusive = PageAnonExclusive(subpage); " if k.anon_exclusive else "") + how,
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=clear,
             reads=[mm.ptl, mm.pte, page] + mm.ff("excl"), writes=[mm.ptl, mm.pte] + locals_,
             branches=[fail])
    if early and not deferred_flush:
        emit_tlb_flush(ctx, kf, f"{p}.flush", f"mm/rmap.c:{fn}: ptep_clear_flush()")

    # -- A2/A3 ------------------------------------------------------------------------------------
    def share(s):
        fid = getattr(s, page)
        d = {}
        if kind == "swap":
            d[mm.swp_count] = getattr(s, mm.swp_count) + 1          # swap_duplicate(entry)
        if k.anon_exclusive and getattr(s, excl):
            if getattr(s, mm.f["pin"][fid]):
                # -EBUSY: swap_free(entry); set_pte_at(pteval); walk aborted, PTL dropped
                d = {mm.pte: getattr(s, pteval), mm.ptl: FREE, GOTO: fail}
                ctx.reset(d, "anon_excl", "pteval")
                return d
            mm.fset(d, fid, excl=False)                # ClearPageAnonExclusive()
        return d

    barrier = "smp_mb(); " if kf.gup_fast_barriers else ""
    ref = f"mm/rmap.c:{fn}: " + ("swap_duplicate(entry); " if kind == "swap" else "")
    if k.anon_exclusive:
        ref += (f"anon_exclusive && page_try_share_anon_rmap(subpage): {barrier}folio_maybe_dma_pinned() "
                "-> restore pteval, abort (A2); ClearPageAnonExclusive() (A3)")
    ctx.step(f"{p}.share", ref, effect=share,
             reads=[page, excl, pteval] + ([mm.swp_count] if kind == "swap" else []) + mm.ff("pin"),
             writes=[mm.pte, mm.ptl] + ([mm.swp_count] if kind == "swap" else []) + mm.ff("excl") + locals_,
             branches=[fail])

    # -- A4 ---------------------------------------------------------------------------------------
    def set_entry(s):
        fid = getattr(s, page)
        pv = getattr(s, pteval)
        ax = getattr(s, excl)
        if kind == "swap":
            new = pte_swap(mm.slot, exclusive=ax and k.swp_exclusive, soft_dirty=pv.soft_dirty,
                           uffd_wp=pv.uffd_wp)
        else:
            new = pte_migration(fid, write=pv.write, exclusive=ax, soft_dirty=pv.soft_dirty,
                                uffd_wp=pv.uffd_wp)
        d = {mm.pte: new, mm.ptl: FREE}
        if pv.dirty:
            mm.fset(d, fid, dirty=True)                 # pte_dirty(pteval) -> folio_mark_dirty()
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)   # page_remove_rmap()
        mm.put_folio(s, d, fid)                          # folio_put(): the mapping's reference
        ctx.reset(d, "anon_excl", "pteval")
        if cont:
            d[GOTO] = cont
        return d

    if kind == "swap":
        mk = ("swp_pte = swp_entry_to_pte(entry); if (anon_exclusive) swp_pte = pte_swp_mkexclusive(swp_pte); "
              if k.swp_exclusive else "swp_pte = swp_entry_to_pte(entry); ")
    else:
        mk = ("entry = writable ? make_writable_migration_entry() : anon_exclusive ? "
              "make_readable_exclusive_migration_entry() : make_readable_migration_entry(); ")
    ctx.step(f"{p}.set", f"mm/rmap.c:{fn}: " + ("" if early else "ptep_get_and_clear(); ") + mk
             + "set_pte_at() (A4); page_remove_rmap(); folio_put() [PTL unlock]",
             effect=set_entry, reads=[page, pteval, excl] + mm.ff("map", "ref", "swapcache"),
             writes=[mm.pte, mm.ptl] + mm.all_folio() + locals_, branches=[cont] if cont else [])
    if not early:
        emit_tlb_flush(ctx, kf, f"{p}.flush", f"mm/rmap.c:{fn}: flush_tlb_page()")


def emit_migrate_pages(ctx: Ctx, k: Kernel, kf: KernelII, procs: list[MM], *, cont: str = DONE) -> None:
    """migrate_pages() of the folio mapped at the address by procs[0] (the isolating process):
    unmap (try_to_migrate), move or fail, remove_migration_ptes() over every process of `procs`."""
    mm = procs[0]
    page = ctx.local("page", NO_FOLIO, "the folio migration isolated (src)")
    dst = ctx.local("dst", NO_FOLIO, "the folio migration copied to (dst), or src after a failure")

    def isolate(s):
        fid = getattr(s, mm.pte).folio
        d = {page: fid}
        mm.get_folio(s, d, fid)
        return d

    ctx.step("mig.isolate", "mm/migrate.c:migrate_pages <- isolate_lru_page(): folio_try_get() "
             "[the folio mapped at the address]; folio_lock()",
             guard=lambda s: getattr(s, mm.pte).present, effect=isolate,
             reads=[mm.pte] + mm.ff("ref"), writes=[page] + mm.ff("ref"))

    emit_unmap_one(ctx, k, kf, page, kind="migrate", fail="mig.putback")

    def move(s):
        fid = getattr(s, page)
        if getattr(s, mm.f["ref"][fid]) != 1:
            return {dst: fid}                          # -EAGAIN: an extra reference (pin, FOLL_GET)
        d = {}
        nfid = mm.alloc_folio(s, d, data=getattr(s, mm.f["data"][fid]), uptodate=True,
                              dirty=getattr(s, mm.f["dirty"][fid]))
        d[dst] = nfid
        return d

    ctx.step("mig.move", "mm/migrate.c:migrate_folio_move -> folio_migrate_mapping(): folio_ref_count(src) "
             "!= expected_count -> -EAGAIN [after the retries: fail, restore src]; else "
             "folio_migrate_copy(dst, src)",
             effect=move, reads=[page] + mm.ff("ref", "data", "dirty"),
             writes=[dst] + mm.all_folio())

    for i, proc in enumerate(procs):
        emit_remove_migration_pte(ctx, k, kf, proc, page, dst, label=f"mig.remove{i}")

    def done(s):
        fid, nfid = getattr(s, page), getattr(s, dst)
        d = {GOTO: cont}
        if nfid != fid:
            mm.put_folio(s, d, nfid)                   # dst: migration's allocation reference
        mm.put_folio(s, d, fid)                        # src: the isolation reference (frees it after
        ctx.reset(d, "page", "dst")                    #   a successful move)
        return d

    ctx.step("mig.done", "mm/migrate.c:migrate_folio_done / migrate_folio_undo_src: folio_unlock(); "
             "folio_put(src) [isolation reference]; folio_put(dst)",
             effect=done, reads=[page, dst] + mm.ff("ref", "map", "swapcache"),
             writes=[page, dst] + mm.all_folio(), branches=[cont])

    def putback(s):
        d = {GOTO: cont}
        mm.put_folio(s, d, getattr(s, page))
        ctx.reset(d, "page", "dst")
        return d

    ctx.step("mig.putback", "mm/migrate.c:migrate_pages: try_to_migrate() failed (folio still mapped): "
             "folio_unlock(); putback_lru_page() [isolation reference]",
             effect=putback, reads=[page] + mm.ff("ref", "map", "swapcache"),
             writes=[page, dst] + mm.all_folio(), branches=[cont])


def emit_remove_migration_pte(ctx: Ctx, k: Kernel, kf: KernelII, proc: MM, page: str, dst: str, *,
                              label: str) -> None:
    """remove_migration_pte() for one process's PTE (an rmap_walk hit)."""

    def remove(s):
        pte = getattr(s, proc.pte)
        if pte.kind != "migration" or pte.folio != getattr(s, page):
            return None
        nfid = getattr(s, dst)
        d = {proc.pte: pte_present(nfid, write=pte.write, soft_dirty=pte.soft_dirty,
                                   uffd_wp=pte.uffd_wp)}
        exclusive = k.anon_exclusive and kf.migration_rmap_exclusive and entry_type(pte) != "read"
        proc.fset(d, nfid, map=proc.fv(s, d, "map", nfid) + 1, ref=proc.fv(s, d, "ref", nfid) + 1)
        if exclusive:
            proc.fset(d, nfid, excl=True)
        return d

    ref = ("mm/migrate.c:remove_migration_pte(): page_vma_mapped_walk() [PTL]; pte = mk_pte(new); "
           "is_writable_migration_entry() -> maybe_mkwrite(); ")
    if k.anon_exclusive:
        ref += ("!is_readable_migration_entry() -> rmap_flags |= RMAP_EXCLUSIVE; "
                if kf.migration_rmap_exclusive else "[no RMAP_EXCLUSIVE: seeded mutation] ")
    ref += "folio_get(); page_add_anon_rmap(); set_pte_at()"
    ctx.step(label, ref, guard=lambda s: getattr(s, proc.ptl) == FREE, effect=remove,
             reads=[proc.ptl, proc.pte, page, dst] + proc.ff("map", "ref"),
             writes=[proc.pte] + proc.ff("map", "ref", "excl"))


def emit_mprotect(ctx: Ctx, k: Kernel, kf: KernelII, *, writable: bool, label: str) -> None:
    """mprotect(): change_protection() -> change_pte_range() on the PTE of `ctx.mm`.

    PROT_READ write-protects a present PTE (PG_anon_exclusive is untouched); a writable migration
    entry becomes readable-exclusive for an anon page (6c287605fd56; readable before it, and in the
    seeded mutation) whatever the new protection ("a protection check is difficult so just be safe
    and disable write"). PROT_READ|PROT_WRITE leaves a private anon PTE write-protected (v5.19:
    only dirty-accountable shared PTEs are made writable; the next store faults)."""
    mm = ctx.mm

    def change(s):
        pte = getattr(s, mm.pte)
        if pte.kind == "migration" and pte.write:
            keep = k.anon_exclusive and kf.mprotect_readable_exclusive
            return {mm.pte: pte_migration(pte.folio, exclusive=keep, soft_dirty=pte.soft_dirty,
                                          uffd_wp=pte.uffd_wp)}
        if pte.present and pte.write and not writable:
            return {mm.pte: pte._replace(write=False)}
        return None

    mig = ("make_readable_exclusive_migration_entry() [anon]" if k.anon_exclusive and
           kf.mprotect_readable_exclusive else "make_readable_migration_entry()")
    prot = "PROT_READ|PROT_WRITE" if writable else "PROT_READ"
    ctx.step(label, f"mm/mprotect.c:change_pte_range({prot}): pte_offset_map_lock(); present: "
             + ("ptent = pte_modify() [private anon stays write-protected]" if writable
                else "ptent = pte_wrprotect(pte_modify())")
             + f"; is_writable_migration_entry() -> {mig}; set_pte_at(); pte_unmap_unlock()",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=change,
             reads=[mm.ptl, mm.pte], writes=[mm.pte])


__all__ = ["pte_migration", "entry_type", "emit_unmap_one", "emit_migrate_pages",
           "emit_remove_migration_pte", "emit_mprotect"]
