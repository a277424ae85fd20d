"""mm/migrate.c: migrate_pages() of the folio mapped at the address (the unmap is
try_to_migrate_one() in rmap.py), remove_migration_pte(), and the MTE tag copy of
folio_migrate_flags() on arm64 (`emit_migrate_page_mte`).
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .arm64_mteswap import MTE, MteKernel
from .mm import MM, NO_FOLIO, Ctx, entry_type, Kernel, KernelII, Pte, pte_present
from .rmap import emit_try_to_migrate_one


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

    emit_try_to_migrate_one(ctx, k, kf, page, fail="mig.putback")

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

    ref = ("mm/migrate.c:remove_migration_pte(): page_vma_mapped_walk() [PTL]; folio_get(); "
           "pte = mk_pte(new); is_writable_migration_entry() -> maybe_mkwrite(); ")
    if k.anon_exclusive:
        ref += ("!is_readable_migration_entry() -> rmap_flags |= RMAP_EXCLUSIVE; "
                if kf.migration_rmap_exclusive else "[no RMAP_EXCLUSIVE: seeded mutation] ")
    ref += "page_add_anon_rmap(); set_pte_at()"
    ctx.step(label, ref, guard=lambda s: getattr(s, proc.ptl) == FREE, effect=remove,
             reads=[proc.ptl, proc.pte, page, dst] + proc.ff("map", "ref"),
             writes=[proc.pte] + proc.ff("map", "ref", "excl"))


def emit_migrate_page_mte(ctx: Ctx, mte: MTE, k: MteKernel) -> None:
    """kcompactd migrates the folio mapped at the address: try_to_migrate_one() replaces the PTE with
    a migration entry, move_to_new_folio() copies data (arm64 copy_highpage(): tags and PG_mte_tagged
    only from a PG_mte_tagged source), remove_migration_pte() installs the new folio with
    set_pte_at(mk_pte(new, vma->vm_page_prot)) -- old_pte is the migration entry, is_swap_pte() but a
    non_swap_entry()."""
    mm = mte.mm
    src = ctx.local("src", NO_FOLIO, "migrate_pages: the source folio")
    dst = ctx.local("dst", NO_FOLIO, "migrate_pages: the destination folio")

    def unmap(s):
        pte = getattr(s, mm.pte)
        fid = pte.folio
        d = {src: fid, mm.pte: Pte("migration", fid, write=pte.write), mte.pte_tagged: False}
        mm.get_folio(s, d, fid)                                # isolate_lru_page
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)  # page_remove_rmap
        return d

    ctx.step("try_to_migrate_one", "mm/rmap.c:try_to_migrate_one: ptep_clear_flush(); "
             "set_pte_at(swp_entry_to_pte(make_readable_migration_entry() [or make_writable_migration_entry()])) [PTL]",
             guard=lambda s: getattr(s, mm.pte).present and getattr(s, mm.ptl) == FREE, effect=unmap,
             reads=[mm.pte, mm.ptl] + mm.ff("ref", "map"), writes=[src, mm.pte, mte.pte_tagged] + mm.ff("ref", "map"))

    def copy(s):
        old = getattr(s, src)
        d = {}
        new = mm.alloc_folio(s, d, data=getattr(s, mm.f["data"][old]), uptodate=True)  # untagged
        d[dst] = new
        if getattr(s, mte.tagged[old]):
            d[mte.tags[new]] = getattr(s, mte.tags[old])
            d[mte.tagged[new]] = True
        return d

    ctx.step("move_to_new_folio", "mm/migrate.c:move_to_new_folio -> folio_migrate_copy -> arch/arm64 "
             "copy_highpage(): page_mte_tagged(from) -> mte_copy_page_tags(); set_page_mte_tagged(to)",
             effect=copy, reads=[src] + mm.ff("data", "ref") + mte.folio_fields(),
             writes=[dst] + mm.all_folio() + mte.folio_fields())

    def remove(s):
        old, new = getattr(s, src), getattr(s, dst)
        mig = getattr(s, mm.pte)
        tagged = getattr(s, mte.vm_mte)
        d = {src: NO_FOLIO, dst: NO_FOLIO}
        mte.sync_tags(s, d, k, new, mig, tagged)
        mm.fset(d, new, map=1, ref=1)
        d[mm.pte] = pte_present(new, write=mig.write)
        d[mte.pte_tagged] = tagged
        mm.put_folio(s, d, old, 2)                         # the mapping's and the isolation reference
        return d

    ctx.step("remove_migration_pte", "mm/migrate.c:remove_migration_pte: pte = mk_pte(new, "
             "vma->vm_page_prot); arch/arm64: " + MTE.set_pte_ref(k) + " [old_pte: the migration entry, "
             "a non_swap_entry]; put the old folio",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=remove,
             reads=[src, dst, mm.pte, mm.ptl, mte.vm_mte] + mte.store_fields() + mte.folio_fields()
             + mm.ff("ref", "map", "swapcache"),
             writes=[src, dst, mm.pte, mte.pte_tagged] + mte.folio_fields() + mm.all_folio())
