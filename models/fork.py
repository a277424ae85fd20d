"""fork(): kernel/fork.c:dup_mmap -> mm/memory.c:copy_page_range -> copy_pte_range ->
copy_present_ptes / copy_nonpresent_pte, for the one modelled address; and the child process.

A second process needs its own PTE and PTL while sharing the folios and the swap slot: `child_view()`
returns an `MM` that is the parent's vocabulary with `pte` and `ptl` pointing at the child's fields,
so every path module (do_swap_page, do_wp_page, user accesses, GUP) runs unchanged in the child.

copy_page_range (is_cow_mapping, the mmap lock held for write):

* `fork.wp_seq_begin`: `raw_write_seqcount_begin(&src_mm->write_protect_seq)` (57efa1fe5957, v5.11);
* `fork.copy`: `copy_pte_range()`: dst PTL (`pte_alloc_map_lock`), src PTL (`spin_lock_nested`); then
  on the parent's PTE
  - present anon page: `folio_try_dup_anon_rmap_pte()` (v5.19+): a maybe-pinned exclusive page fails
    (-EBUSY) and `copy_present_page()` gives the child an exclusive, writable copy, leaving the parent
    untouched; otherwise ClearPageAnonExclusive() and the mapcount is raised. v5.9-v5.18
    (70e806e4e645): `page_maybe_dma_pinned()` -> copy_present_page(); before: always shared;
  - swap entry: `copy_nonpresent_pte()`: `swap_duplicate()`; `pte_swp_exclusive(orig_pte)` ->
    `pte_swp_clear_exclusive()` in the parent (1493a1913e34); the child gets the same entry;
  - migration entry: writable or readable-exclusive -> readable in the parent, the child gets it;
* `fork.wrprotect` (shared present page): `__copy_present_ptes()`: a writable parent PTE is
  write-protected (`wrprotect_ptes`), the child's PTE is `pte_wrprotect(pte_mkold(pte))`, `set_ptes()`;
* `fork.unlock`: both PTLs dropped;
* `fork.done`: `raw_write_seqcount_end()`; dup_mmap returns, the child is woken (`wake_up_new_task`):
  the child's threads start only after this step.

Abstractions: the TLB flush of the parent after fork (flush_tlb_mm) is not a step (stores always go
through the current PTE: no stale TLB entries); uffd-wp and soft-dirty bits of the child follow the
parent's; RSS counters, mmlist and the swap-count continuation (-EIO) path are left out; mm->has_pinned
(MMF_HAS_PINNED) is taken as set (the process has pinned before), so only the per-page test decides.
"""

from __future__ import annotations

import copy

from pteverify.model import DONE, FREE, GOTO

from .gup_fast import KernelII, sync_fields
from .migrate import pte_migration
from .mm import MM, NO_FOLIO, PTE_NONE, Ctx, Kernel, Pte, pte_present

CHILD_PTE = "child_pte"
CHILD_PTL = "child_ptl"


def child_view(mm: MM, init: Pte = PTE_NONE) -> MM:
    """The child process: its PTE at the address (`child_pte`) and page-table lock (`child_ptl`);
    folios, swap slot and ghosts are the parent's."""
    view = copy.copy(mm)
    view.pte = mm.m.field(CHILD_PTE, init, doc="the child's PTE at the modelled user address")
    view.ptl = mm.m.lock(CHILD_PTL, "the child's page-table lock")
    view.ctxs = []
    return view


def child_thread(view: MM, name: str, doc: str = "") -> Ctx:
    """A thread of the child process (it runs once fork has returned; see `emit_child_start`)."""
    ctx = Ctx(view, name, doc)
    view.ctxs.append(ctx)
    return ctx


def child_running(mm: MM) -> str:
    if not hasattr(mm.m, "_child_running"):
        mm.m._child_running = mm.m.field("child_running", False, (False, True),
                                         "(ghost) fork() has returned: the child has been woken")
    return mm.m._child_running


def emit_child_start(ctx: Ctx) -> None:
    running = child_running(ctx.mm)
    ctx.step("child.start", "kernel/fork.c:kernel_clone: wake_up_new_task(child) -> the child returns "
             "from fork()", guard=lambda s: getattr(s, running), reads=[running])


def emit_fork(ctx: Ctx, k: Kernel, kf: KernelII, parent: MM, child: MM, *, cont: str | None = None) -> None:
    """fork() of the parent (the thread of `ctx`) for the modelled address."""
    _, seq = sync_fields(parent)
    running = child_running(parent)
    copied = ctx.local("fork_folio", NO_FOLIO, "copy_present_ptes: the folio shared with the child")
    locks = [parent.ptl, child.ptl]

    if kf.write_protect_seq:
        ctx.step("fork.wp_seq_begin", "mm/memory.c:copy_page_range: mmap_write_lock held; "
                 "raw_write_seqcount_begin(&src_mm->write_protect_seq)",
                 effect=lambda s: {seq: getattr(s, seq) + 1}, reads=[seq], writes=[seq])

    def copy_pte(s):
        src = getattr(s, parent.pte)
        d = {parent.ptl: ctx.owner, child.ptl: ctx.owner}
        if src.kind == "none":
            return dict(d, **{GOTO: "fork.unlock"})
        if src.kind == "swap":
            d[parent.swp_count] = getattr(s, parent.swp_count) + 1          # swap_duplicate()
            pte = src
            if src.exclusive and kf.fork_clear_swp_exclusive:
                pte = src._replace(exclusive=False)
                d[parent.pte] = pte                                     # set_pte_at(src_mm)
            d[child.pte] = pte                                          # set_pte_at(dst_mm)
            return dict(d, **{GOTO: "fork.unlock"})
        if src.kind == "migration":
            pte = src
            if src.write or src.exclusive:
                pte = pte_migration(src.folio, soft_dirty=src.soft_dirty, uffd_wp=src.uffd_wp)
                d[parent.pte] = pte
            d[child.pte] = pte
            return dict(d, **{GOTO: "fork.unlock"})
        assert src.present, src
        fid = src.folio
        pinned = getattr(s, parent.f["pin"][fid]) > 0               # folio_maybe_dma_pinned()
        if k.anon_exclusive:
            must_copy = pinned and getattr(s, parent.f["excl"][fid])
        else:
            must_copy = pinned and kf.fork_copy_pinned
        if must_copy:
            # copy_present_page(): the child gets its own exclusive, writable, dirty copy
            nfid = parent.alloc_folio(s, d, map=1, excl=k.anon_exclusive, uptodate=True,
                                      data=getattr(s, parent.f["data"][fid]))
            d[child.pte] = pte_present(nfid, write=True, dirty=True, soft_dirty=True)
            return dict(d, **{GOTO: "fork.unlock"})
        d[copied] = fid
        parent.fset(d, fid, ref=getattr(s, parent.f["ref"][fid]) + 1,       # folio_get()
                    map=getattr(s, parent.f["map"][fid]) + 1)               # dup rmap
        if k.anon_exclusive:
            parent.fset(d, fid, excl=False)                                 # ClearPageAnonExclusive()
        return d

    if k.anon_exclusive:
        dup = ("folio_try_dup_anon_rmap_pte(): exclusive && folio_maybe_dma_pinned() -> -EBUSY: "
               "copy_present_page(); else ClearPageAnonExclusive(), mapcount++")
    elif kf.fork_copy_pinned:
        dup = "page_maybe_dma_pinned() -> copy_present_page(); else get_page(); page_dup_rmap()"
    else:
        dup = "get_page(); page_dup_rmap()"
    swp = ("swap_duplicate(); pte_swp_exclusive() -> pte_swp_clear_exclusive()" if kf.fork_clear_swp_exclusive
           else "swap_duplicate() [swp exclusive bit kept: seeded mutation]")
    ctx.step("fork.copy", "mm/memory.c:copy_pte_range [dst + src PTL]: present: " + dup
             + f"; copy_nonpresent_pte(): swap: {swp}; migration: make_readable_migration_entry(); "
             "set_pte_at(src_mm, dst_mm)",
             guard=lambda s: getattr(s, parent.ptl) == FREE and getattr(s, child.ptl) == FREE,
             effect=copy_pte,
             reads=locks + [parent.pte, parent.swp_count] + parent.ff("pin", "excl", "ref", "map", "data"),
             writes=locks + [parent.pte, child.pte, parent.swp_count, copied] + parent.all_folio(),
             branches=["fork.unlock"])

    def wrprotect(s):
        src = getattr(s, parent.pte)
        d = {child.pte: src._replace(write=False), copied: NO_FOLIO}
        if src.write:
            d[parent.pte] = src._replace(write=False)
        return d

    ctx.step("fork.wrprotect", "mm/memory.c:__copy_present_ptes: is_cow_mapping && pte_write -> "
             "wrprotect_ptes(src_mm); pte = pte_wrprotect(pte_mkold(pte)); set_ptes(dst_mm)",
             effect=wrprotect, reads=[parent.pte], writes=[parent.pte, child.pte, copied])

    ctx.step("fork.unlock", "mm/memory.c:copy_pte_range: pte_unmap_unlock(orig_dst_pte); "
             "spin_unlock(src_ptl)",
             effect=lambda s: {parent.ptl: FREE, child.ptl: FREE}, writes=locks)

    def done(s):
        d = {running: True}
        if kf.write_protect_seq:
            d[seq] = getattr(s, seq) + 1
        if cont:
            d[GOTO] = cont
        return d

    ctx.step("fork.done", "mm/memory.c:copy_page_range: "
             + ("raw_write_seqcount_end(&src_mm->write_protect_seq); " if kf.write_protect_seq else "")
             + "kernel/fork.c: dup_mmap() returns; wake_up_new_task(child)",
             effect=done, reads=[seq], writes=[seq, running], branches=[cont] if cont else [])


def emit_zap(ctx: Ctx, cont: str = DONE) -> None:
    """madvise(MADV_DONTNEED) of the address: zap_pte_range() under the PTL; the page's reference is
    dropped after the TLB flush (tlb_finish_mmu), folded into the same step."""
    mm = ctx.mm

    def zap(s):
        pte = getattr(s, mm.pte)
        d = {mm.pte: PTE_NONE, GOTO: cont}
        if pte.present:
            fid = pte.folio
            mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)
            mm.put_folio(s, d, fid)
        elif pte.kind == "swap":
            mm.swap_free(s, d)
        return d

    ctx.step("zap", "mm/madvise.c:madvise_dontneed_single_vma -> mm/memory.c:zap_pte_range: "
             "ptep_get_and_clear_full(); page_remove_rmap(); tlb_flush_mmu(): folio_put() "
             "[swap entry: free_swap_and_cache()]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=zap,
             reads=[mm.ptl, mm.pte] + mm.slot_fields() + mm.ff("map", "ref", "swapcache"),
             writes=[mm.pte] + mm.slot_fields() + mm.all_folio(), branches=[cont])


__all__ = ["CHILD_PTE", "CHILD_PTL", "child_view", "child_thread", "child_running", "emit_child_start",
           "emit_fork", "emit_zap"]
