"""mm/migrate.c: migrate_pages() of the folio mapped at the address (the unmap is
try_to_migrate_one() in rmap.py) and remove_migration_pte(); with the MTE state
(`emit_migrate_pages(mte=)`) kcompactd's migration in three steps, the tag copy of arm64's
copy_highpage() included.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .arm64_mteswap import MTE
from .mm import MM, NO_FOLIO, Ctx, entry_type, Kernel, KernelII, pte_present
from .rmap import emit_try_to_migrate_one


def emit_migrate_pages(ctx: Ctx, k: Kernel, kf: KernelII | None, procs: list[MM], *, cont: str = DONE,
                       mte: MTE | None = None) -> None:
    """migrate_pages() of the folio mapped at the address by procs[0] (the isolating process):
    unmap (try_to_migrate), move or fail, remove_migration_ptes() over every process of `procs`.

    `mte` (arm64, one process, `kf` None): kcompactd's migration in the MTE scenarios, in three steps
    (`try_to_migrate_one`, `move_to_new_folio`, `remove_migration_pte`): isolate_lru_page() is part
    of the unmap step (rmap.emit_try_to_migrate_one(mte=)), the copy takes the tags with the data
    (arm64 copy_highpage(): tags and PG_mte_tagged only from a PG_mte_tagged source), and
    remove_migration_pte() -- whose set_pte_at() runs the arch hook, mte_sync_tags() with old_pte the
    migration entry (is_swap_pte() but a non_swap_entry()) -- also ends migrate_pages()
    (emit_remove_migration_pte(done=True)). No GUP reference is held there: the unmap never backs
    off and the move never fails (no putback)."""
    mm = procs[0]
    if mte is not None and (len(procs) != 1 or kf is not None):
        raise ModelError("migrate_pages with the MTE state: one process, no GUP-fast state")
    if mte is None:
        page = ctx.local("page", NO_FOLIO, "the folio migration isolated (src)")
        dst = ctx.local("dst", NO_FOLIO, "the folio migration copied to (dst), or src after a failure")

        def isolate(s):
            return mm.isolate_mapped(s, page)

        ctx.step("mig.isolate", "mm/migrate.c:migrate_pages <- isolate_lru_page(): folio_try_get() "
                 "[the folio mapped at the address]; folio_lock()",
                 guard=lambda s: getattr(s, mm.pte).present, effect=isolate,
                 reads=[mm.pte] + mm.ff("ref"), writes=[page] + mm.ff("ref"))
    else:
        page = ctx.local("src", NO_FOLIO, "migrate_pages: the source folio")
        dst = ctx.local("dst", NO_FOLIO, "migrate_pages: the destination folio")

    emit_try_to_migrate_one(ctx, k, kf, page, fail="mig.putback", mte=mte)

    def move(s):
        fid = getattr(s, page)
        if getattr(s, mm.f["ref"][fid]) != 1:
            return {dst: fid}                          # -EAGAIN: an extra reference (pin, FOLL_GET)
        d = {}
        nfid = mm.alloc_folio(s, d, data=getattr(s, mm.f["data"][fid]), uptodate=True,
                              dirty=getattr(s, mm.f["dirty"][fid]))
        d[dst] = nfid
        if mte is not None and getattr(s, mte.tagged[fid]):    # copy_highpage(): page_mte_tagged(from)
            d[mte.tags[nfid]] = getattr(s, mte.tags[fid])
            d[mte.tagged[nfid]] = True
        return d

    if mte is None:
        ctx.step("mig.move", "mm/migrate.c:migrate_folio_move -> folio_migrate_mapping(): folio_ref_count(src) "
                 "!= expected_count -> -EAGAIN [after the retries: fail, restore src]; else "
                 "folio_migrate_copy(dst, src)",
                 effect=move, reads=[page] + mm.ff("ref", "data", "dirty"),
                 writes=[dst] + mm.all_folio())
    else:
        ctx.step("move_to_new_folio", "mm/migrate.c:move_to_new_folio -> folio_migrate_copy -> arch/arm64 "
                 "copy_highpage(): page_mte_tagged(from) -> mte_copy_page_tags(); set_page_mte_tagged(to)",
                 effect=move, reads=[page] + mm.ff("data", "ref", "dirty") + mte.folio_fields(),
                 writes=[dst] + mm.all_folio() + mte.folio_fields())
        emit_remove_migration_pte(ctx, k, kf, mm, page, dst, label="remove_migration_pte", done=True)
        return

    for i, proc in enumerate(procs):
        emit_remove_migration_pte(ctx, k, kf, proc, page, dst, label=f"mig.remove{i}")

    def done(s):
        d = {GOTO: cont}
        _migrate_done(mm, s, d, page, dst)
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


def _migrate_done(mm: MM, s, d: dict, page: str, dst: str) -> None:
    """migrate_folio_done() / migrate_folio_undo_src(): folio_put(dst) [migration's allocation
    reference, unless the move failed and dst is src]; folio_put(src) [the isolation reference: frees
    it after a successful move]; the locals reset."""
    fid, nfid = mm.v(s, d, page), mm.v(s, d, dst)
    if nfid != fid:
        mm.put_folio(s, d, nfid)
    mm.put_folio(s, d, fid)
    d[page] = d[dst] = NO_FOLIO


def emit_remove_migration_pte(ctx: Ctx, k: Kernel, kf: KernelII | None, proc: MM, page: str, dst: str, *,
                              label: str, done: bool = False) -> None:
    """remove_migration_pte() for one process's PTE (an rmap_walk hit): the migration entry of `page`
    becomes a present PTE of `dst`, writable if the entry was, and (6c287605fd56) PG_anon_exclusive
    set again from a readable-exclusive or writable entry. Its set_pte_at() runs the architecture's
    hook (`proc.set_pte_hook`: arm64 mte_sync_tags(), the old PTE being the migration entry).

    `done` (migrate_pages' one-step MTE form, `kf` None: PG_anon_exclusive is not modelled there):
    the step also ends migrate_pages(): the new mapping's reference is dst's allocation reference
    (folio_get() and migrate_folio_done()'s folio_put(dst) folded), src's isolation reference is
    dropped (src is freed), the locals reset."""
    arch_set_pte = proc.set_pte_hook

    def remove(s):
        pte = getattr(s, proc.pte)
        if pte.kind != "migration" or pte.folio != getattr(s, page):
            return None
        nfid = getattr(s, dst)
        new = pte_present(nfid, write=pte.write, soft_dirty=pte.soft_dirty, uffd_wp=pte.uffd_wp)
        d = {}
        if arch_set_pte:
            arch_set_pte.fn(s, d, nfid, pte, new)      # old: the migration entry
        d[proc.pte] = new
        if done:
            # folio_get(new) and migrate_folio_done()'s folio_put(dst) [after a failure: the put of
            # src's isolation reference] cancel; src's isolation reference goes (and frees it)
            proc.fset(d, nfid, map=proc.fv(s, d, "map", nfid) + 1)
            old = getattr(s, page)
            if nfid != old:
                proc.put_folio(s, d, old)
            d[page] = d[dst] = NO_FOLIO
            return d
        exclusive = k.anon_exclusive and kf.migration_rmap_exclusive and entry_type(pte) != "read"
        proc.fset(d, nfid, map=proc.fv(s, d, "map", nfid) + 1, ref=proc.fv(s, d, "ref", nfid) + 1)
        if exclusive:
            proc.fset(d, nfid, excl=True)
        return d

    if done:
        ref = "mm/migrate.c:remove_migration_pte: pte = mk_pte(new, vma->vm_page_prot); "
        if arch_set_pte:
            ref += arch_set_pte.ref + " [old_pte: the migration entry, a non_swap_entry]"
        else:
            ref += "set_pte_at()"
        ref += "; put the old folio"
    else:
        ref = ("mm/migrate.c:remove_migration_pte(): page_vma_mapped_walk() [PTL]; folio_get(); "
               "pte = mk_pte(new); is_writable_migration_entry() -> maybe_mkwrite(); ")
        if k.anon_exclusive and kf is not None:
            ref += ("!is_readable_migration_entry() -> rmap_flags |= RMAP_EXCLUSIVE; "
                    if kf.migration_rmap_exclusive else "[no RMAP_EXCLUSIVE: seeded mutation] ")
        ref += "page_add_anon_rmap(); set_pte_at()"
        if arch_set_pte:
            ref += " [" + arch_set_pte.ref + "]"
    hook_reads = list(arch_set_pte.reads) if arch_set_pte else []
    hook_writes = list(arch_set_pte.writes) if arch_set_pte else []
    if done:
        reads = [page, dst, proc.pte, proc.ptl] + hook_reads + proc.ff("ref", "map", "swapcache")
        writes = [page, dst, proc.pte] + hook_writes + proc.all_folio()
    else:
        reads = [proc.ptl, proc.pte, page, dst] + proc.ff("map", "ref") + hook_reads
        writes = [proc.pte] + proc.ff("map", "ref", "excl") + hook_writes
    ctx.step(label, ref, guard=lambda s: getattr(s, proc.ptl) == FREE, effect=remove,
             reads=reads, writes=writes)
