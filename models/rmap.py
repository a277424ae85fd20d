"""mm/rmap.c: unmapping a folio: try_to_unmap_one() (anonymous swap-out, lazyfree discard, file
folio with the uffd-wp marker) and try_to_migrate_one() (also in one step, for the MTE scenarios'
kcompactd), with __folio_try_share_anon_rmap()'s pin check (A1-A4 of the comment in
include/linux/rmap.h).

----------------------------------------------------------------------------------------------------
Temporary unmapping of an exclusive anonymous page: mm/rmap.c:try_to_migrate_one() and
try_to_unmap_one() (swap) with their TLB flush, mm/migrate.c:migrate_pages() and
remove_migration_pte(), and mprotect()'s change_pte_range() on a migration entry.

Both unmappers follow the rule of 6c287605fd56 as the comment of __folio_try_share_anon_rmap()
states it (A1-A4), under the PTL:

* A1 `*.clear`: `anon_exclusive = PageAnonExclusive(subpage)`; `pteval = ptep_clear_flush()` (or
  `ptep_get_and_clear()` + `set_tlb_ubc_flush_pending()` when the flush is deferred); the flush is the
  next step (`*.flush`, see tlb.emit_tlb_flush);
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

from typing import TYPE_CHECKING

from pteverify.memmodel import Mem
from pteverify.model import DONE, FREE, GOTO, ModelError

from .memory import pte_install_uffd_wp_if_needed
from .mm import MM, PTE_NONE, ArchHook, Ctx, Kernel, KernelII, MarkerKernel, pte_migration, pte_swap
from .tlb import emit_tlb_flush

if TYPE_CHECKING:
    from .arm64_mteswap import MTE


TLB_BATCH_FORMS = ("off", "72b252aed506", "d950c9477d51", "seeded-no-flush-dirty")


def mm_tlb_flush_batched(mm: MM) -> str:
    """Declare (once per model) mm->tlb_flush_batched; return its field name."""
    if not hasattr(mm.m, "_tlb_flush_batched"):
        mm.m._tlb_flush_batched = mm.m.field(
            "tlb_flush_batched", False, (False, True),
            "mm->tlb_flush_batched: reclaim deferred a TLB flush of this mm that no "
            "flush_tlb_batched_pending() has flushed yet")
    return mm.m._tlb_flush_batched


class TlbUnmapBatch:
    """`current->tlb_ubc` of a reclaiming task (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH): the TLB
    flushes try_to_unmap_one() defers under TTU_BATCH_FLUSH (should_defer_flush(): x86 defers when
    another CPU may cache the mm's translations) and the calls that flush them, all in mm/rmap.c:

    * set_tlb_ubc_flush_pending(mm, pteval): `flush_required = true`; a dirty pteval ("best to assume
      it's writable") sets `writable`;
    * try_to_unmap_flush(): if flush_required, arch_tlbbatch_flush(); both flags cleared;
    * try_to_unmap_flush_dirty(): try_to_unmap_flush() only if `writable` (shrink_folio_list() calls
      it before pageout(), so no CPU stores to the folio once its data is queued for I/O).

    `form` (TLB_BATCH_FORMS): "off" flushes at once (ptep_clear_flush(), before 72b252aed506);
    "72b252aed506" defers clean PTEs only and flushes a dirty one at once ("Potentially writable TLBs
    must be flushed before IO"); "d950c9477d51" defers every flush, the form of today's kernel;
    "seeded-no-flush-dirty" defers every flush but shrink_folio_list() skips try_to_unmap_flush_dirty()
    (a seeded mutation). `flush` is the CPU model's hook (the stale TLB entry dropped). The batch's
    flags are the reclaiming thread's locals; x86's arch_tlbbatch_flush() IPIs and waits, so a flush
    step ends every stale entry at once. The batch-full flush inside try_to_unmap_one() is not modelled.

    `mm_batched` (optional, a field of the mm: `mm_tlb_flush_batched()`): mm->tlb_flush_batched,
    set by set_tlb_ubc_flush_pending() (3ea277194daa; today a pending/flushed generation pair, here
    "pending != flushed"), tested and cleared under the PTL by flush_tlb_batched_pending(mm), which
    zap_pte_range(), change_pte_range(), move_ptes() and madvise_free_pte_range() call so that they
    never return while a stale entry reclaim left behind can still write."""

    def __init__(self, ctx: Ctx, form: str, flush: ArchHook, mm_batched: str | None = None):
        if form not in TLB_BATCH_FORMS:
            raise ModelError(f"TLB batch form {form!r} not in {TLB_BATCH_FORMS}")
        self.form = form
        self.hook = flush
        self.mm_batched = mm_batched
        self.required = ctx.local("tlb_ubc_flush_required", False, "current->tlb_ubc.flush_required")
        self.writable = ctx.local("tlb_ubc_writable", False, "current->tlb_ubc.writable (a dirty PTE "
                                  "was cleared with its flush deferred)")

    def fields(self) -> list[str]:
        return [self.required, self.writable] + list(self.hook.writes) + self.mm_fields()

    def reads(self) -> list[str]:
        return [self.required, self.writable] + list(self.hook.reads) + self.mm_fields()

    def mm_fields(self) -> list[str]:
        return [self.mm_batched] if self.mm_batched else []

    def flush_batched_pending(self, s, d: dict) -> None:
        """flush_tlb_batched_pending(mm), called under the PTL by a PTE writer of the same mm."""
        if self.mm_batched and MM.v(s, d, self.mm_batched):
            self.hook.fn(s, d)                         # arch_flush_tlb_batched_pending(mm)
            d[self.mm_batched] = False

    def cleared(self, s, d: dict, pteval) -> None:
        """try_to_unmap_one() cleared `pteval`: flush now, or defer it."""
        if self.form == "off" or (self.form == "72b252aed506" and pteval.dirty):
            self.hook.fn(s, d)                         # ptep_clear_flush() / flush_tlb_page()
            return
        d[self.required] = True                        # set_tlb_ubc_flush_pending()
        if self.mm_batched:
            d[self.mm_batched] = True                  # mm->tlb_flush_batched: pending
        if pteval.dirty and self.form != "72b252aed506":
            d[self.writable] = True

    def flush(self, s, d: dict) -> None:
        """try_to_unmap_flush()."""
        if MM.v(s, d, self.required):
            self.hook.fn(s, d)                         # arch_tlbbatch_flush()
            d[self.required] = False
            d[self.writable] = False

    def flush_dirty(self, s, d: dict) -> None:
        """try_to_unmap_flush_dirty() (none before d950c9477d51; skipped by the seeded form)."""
        if self.form == "d950c9477d51" and MM.v(s, d, self.writable):
            self.flush(s, d)

    def clear_ref(self) -> str:
        return {"off": "pteval = ptep_clear_flush() (A1) [no batching: before 72b252aed506]",
                "72b252aed506": "pteval = ptep_get_and_clear() (A1); should_defer_flush(): pte_dirty(pteval) "
                                "-> flush_tlb_page() [potentially writable TLBs flushed before IO], else "
                                "set_tlb_ubc_flush_pending(mm, page)",
                "d950c9477d51": "pteval = get_and_clear_ptes() (A1); should_defer_flush(mm, TTU_BATCH_FLUSH) -> "
                                "set_tlb_ubc_flush_pending(mm, pteval, address, end_addr) [pte_dirty(pteval) -> "
                                "tlb_ubc->writable = true]",
                "seeded-no-flush-dirty": "pteval = get_and_clear_ptes() (A1); should_defer_flush(mm, "
                                         "TTU_BATCH_FLUSH) -> set_tlb_ubc_flush_pending(mm, pteval, address, "
                                         "end_addr) [pte_dirty(pteval) -> tlb_ubc->writable = true]"}[self.form]


def emit_try_to_unmap_one(ctx: Ctx, k: Kernel | MarkerKernel, page: str | None, *, fail: str = DONE,
                          done: str | None = None, cont: str | None = None, kf: KernelII | None = None,
                          deferred_flush: bool = False, lazyfree=None, tlb_flush: ArchHook | None = None,
                          folio_locked: bool = False, tlb_batch: TlbUnmapBatch | None = None,
                          file: bool = False, unmapped: str | None = None) -> None:
    """mm/rmap.c:try_to_unmap_one() of the anonymous folio in local `page` from the PTE of `ctx.mm`:
    the swap path (swap_duplicate(), the pin check, the swap PTE) and, with `lazyfree` (a
    vmscan.Lazyfree), the MADV_FREE page check of a folio without PG_swapbacked.

    Backing off (a maybe-pinned exclusive page, or a lazyfree folio restored) jumps to `fail`; a PTE
    that does not map the folio, and a discarded lazyfree folio, continue at `done` (default `fail`);
    the swap PTE written, the thread continues at `cont` (or the next step). The TLB flush of
    ptep_clear_flush() is either a hook run inside the clearing step (`tlb_flush`, a CPU's TLB entry)
    or, with `kf` (the GUP-fast scenarios), a step of its own racing GUP-fast (tlb.emit_tlb_flush).
    `folio_locked`: the caller is try_to_unmap() from shrink_folio_list(), whose kernel-doc says
    "Context: Caller must hold the folio lock": the walk asserts it (on 2026 kernels
    folio_dup_swap() checks it too, VM_WARN_ON_FOLIO(!folio_test_locked(folio))). `tlb_batch` (a
    TlbUnmapBatch, reclaim's TTU_BATCH_FLUSH): the clearing step flushes or defers as its form says.
    `file`: the folio is a shmem (file) folio and `k` a MarkerKernel: the one step `try_to_unmap_one`
    clears the PTE, leaves PTE_MARKER_UFFD_WP when the VMA tracks uffd-wp
    (pte_install_uffd_wp_if_needed(), `k.install_uffd_wp_marker`) and removes the rmap; `page` is
    None (the folio the PTE maps), the thread ends (shmem_writepage() is not modelled further);
    `unmapped` (a ghost, file branch only) is set True when the step has run."""
    if unmapped is not None and not file:
        raise ModelError("try_to_unmap_one: the `unmapped` ghost is for the file branch")
    _emit_unmap(ctx, k, page, kind="file" if file else "swap", fail=fail, done=done, cont=cont, kf=kf,
                deferred_flush=deferred_flush, lazyfree=lazyfree, tlb_flush=tlb_flush,
                folio_locked=folio_locked, tlb_batch=tlb_batch, unmapped=unmapped)


def emit_try_to_migrate_one(ctx: Ctx, k: Kernel, kf: KernelII | None, page: str, *, fail: str = DONE,
                            cont: str | None = None, mte: MTE | None = None) -> None:
    """mm/rmap.c:try_to_migrate_one(): the migration entry in place of the PTE mapping `page`.

    `mte` (an arm64_mteswap.MTE: kcompactd's migration in the MTE scenarios, `kf` None) selects the
    one-step form: the walk's clear (A1) and set (A4) in one step under the PTL, writing the folio the
    PTE maps into `page` (migrate_pages()' isolate_lru_page() reference is taken in the same step)
    and clearing the present PTE's tagged memory type (`mte.pte_tagged`). Its scenarios hold no GUP
    reference, so the pin check (A2/A3) cannot back off and is not modelled, nor is
    PG_anon_exclusive: the entry is writable or readable, as the PTE was."""
    _emit_unmap(ctx, k, page, kind="migrate", fail=fail, cont=cont, kf=kf, mte=mte)


def _emit_unmap(ctx: Ctx, k: Kernel, page: str, *, kind: str, fail: str, done: str | None = None,
                cont: str | None = None, kf: KernelII | None = None, deferred_flush: bool = False,
                lazyfree=None, tlb_flush: ArchHook | None = None, folio_locked: bool = False,
                tlb_batch: TlbUnmapBatch | None = None, mte: MTE | None = None,
                unmapped: str | None = None) -> None:
    """The walk both unmappers share, A1-A4 under the PTL (steps `unmap.*` / `mig.*`); the file
    folio's branch (kind "file") and the MTE scenarios' migration (`mte`) are one step each."""
    mm = ctx.mm
    assert kind in ("swap", "migrate", "file")
    if tlb_batch is not None and (tlb_flush is not None or kf is not None or lazyfree is not None):
        raise ModelError("try_to_unmap_one: a TLB batch replaces the tlb_flush hook (anonymous swap path only)")

    def remove_rmap(s, d, fid):
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)   # folio_remove_rmap_pte()
        mm.put_folio(s, d, fid)                                 # folio_put(): the mapping's reference

    if kind == "file":
        _emit_unmap_file(ctx, k, remove_rmap, done=cont or done or DONE, unmapped=unmapped)
        return
    if mte is not None:
        if kind != "migrate" or kf is not None or mm.nr > 1:
            raise ModelError("try_to_migrate_one: the one-step MTE form is modelled for one PTE, without "
                             "GUP-fast's TLB flush step")
        _emit_migrate_one_step(ctx, mte, page, remove_rmap)
        return
    if mm.nr > 1:
        if kind != "swap" or lazyfree is None or kf is not None or tlb_flush is not None:
            raise ModelError(f"{kind} unmap of a range of {mm.nr} PTEs: only reclaim's lazyfree batch is "
                             "modelled for large folios")
        _emit_unmap_range(ctx, k, lazyfree, page, fail=fail, done=done or fail)
        return
    lf = lazyfree
    done = done or fail
    fn = "try_to_unmap_one" if kind == "swap" else "try_to_migrate_one"
    p = "unmap" if kind == "swap" else "mig"
    excl = ctx.local("anon_excl", False, f"{fn}: anon_exclusive")
    pteval = ctx.local("pteval", PTE_NONE, f"{fn}: pteval (the PTE it cleared)")
    locals_ = [excl, pteval]
    early = kf.clear_before_share if kf else True
    lazy_reads = mm.ff("swapbacked") if lf else []
    flush_reads = list(tlb_flush.reads) if tlb_flush else (tlb_batch.reads() if tlb_batch else [])
    flush_writes = list(tlb_flush.writes) if tlb_flush else (tlb_batch.fields() if tlb_batch else [])
    # the anon branch's `folio_test_swapbacked(folio) != folio_test_swapcache(folio)` -> WARN_ON_ONCE(1),
    # walk_abort: a model assertion (checked with the PTE cleared, where the kernel checks it)
    warn = kind == "swap"
    warn_reads = mm.ff("swapbacked", "swapcache") if warn else []

    # -- A1 -------------------------------------------------------------------------------------
    def clear(s):
        fid = getattr(s, page)
        if folio_locked:
            mm.assert_folio_locked(s, fid, "try_to_unmap() [Context: caller must hold the folio lock]")
        pte = getattr(s, mm.pte)
        if not (pte.present and pte.folio == fid):
            return {GOTO: done}                        # page_vma_mapped_walk() finds no mapping
        d = {mm.ptl: ctx.owner, pteval: pte}
        if k.anon_exclusive:
            d[excl] = getattr(s, mm.f["excl"][fid])
        if early:
            d[mm.pte] = PTE_NONE
            if tlb_batch:
                tlb_batch.cleared(s, d, pte)           # flushed now, or set_tlb_ubc_flush_pending()
            elif tlb_flush:
                tlb_flush.fn(s, d)                     # ptep_clear_flush(): flush_tlb_page()
            if pte.dirty:
                mm.fset(d, fid, dirty=True)            # pte_dirty(pteval) -> folio_mark_dirty()
        if warn and getattr(s, mm.f["swapbacked"][fid]) != getattr(s, mm.f["swapcache"][fid]):
            raise ModelError(f"{fn}: folio {fid}: folio_test_swapbacked(folio) != "
                             "folio_test_swapcache(folio) (WARN_ON_ONCE(1))")
        if lf and getattr(s, mm.f["swapbacked"][fid]):
            d[GOTO] = f"{p}.share"                     # not lazyfree: the swap path
        return d

    if not early:
        how = "[no clear/invalidate+flush before the pin check: seeded mutation]"
    elif tlb_batch:
        how = tlb_batch.clear_ref() + "; pte_dirty(pteval) -> folio_mark_dirty(folio)"
    elif deferred_flush:
        how = "pteval = ptep_get_and_clear(); set_tlb_ubc_flush_pending() (A1)"
    else:
        how = ("pteval = ptep_clear_flush() (A1); pte_dirty(pteval) -> "
               + ("folio_mark_dirty(folio)" if lf else "set_page_dirty(page)"))
    if lf:
        how += "; !folio_test_swapbacked -> the MADV_FREE page check, else the swap path"
    ctx.step(f"{p}.clear", f"mm/rmap.c:{fn}: page_vma_mapped_walk() [PTL]; "
             + ((("anon_exclusive = folio_test_anon && PageAnonExclusive(subpage); " if lf else
                  "anon_exclusive = PageAnonExclusive(subpage); ")) if k.anon_exclusive else "")
             + how + (tlb_flush.ref if tlb_flush else ""),
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=clear,
             reads=[mm.ptl, mm.pte, page] + mm.ff("excl") + lazy_reads + flush_reads + warn_reads
             + (mm.locks() if folio_locked else []),
             writes=[mm.ptl, mm.pte] + locals_ + (mm.ff("dirty") if early else []) + flush_writes,
             branches=[done] + ([f"{p}.share"] if lf else []),
             # under a memory model (lazyfree path only): get_and_clear_ptes() is a relaxed xchg whose
             # store may wait in the store buffer; reclaim defers the TLB flush (no DSB here)
             mem=Mem(stores=(mm.pte,)) if lf and early else None)
    if early and not deferred_flush and kf is not None:
        emit_tlb_flush(ctx, kf, f"{p}.flush", f"mm/rmap.c:{fn}: ptep_clear_flush()")
    if lf:
        _emit_unmap_lazyfree(ctx, k, lf, page, pteval, fail=fail, done=done)

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

    barrier = "smp_mb(); " if kf and kf.gup_fast_barriers else ""
    if k.swap_table:
        ref = f"mm/rmap.c:{fn}: " + ("folio_dup_swap(folio, subpage); " if kind == "swap" else "")
        if k.anon_exclusive:
            ref += (f"anon_exclusive && folio_try_share_anon_rmap_pte(folio, subpage): {barrier}"
                    "folio_maybe_dma_pinned() -> " + ("folio_put_swap(folio, subpage), " if kind == "swap" else "")
                    + "set_pte_at(pteval), abort (A2); ClearPageAnonExclusive() (A3)")
    else:
        ref = f"mm/rmap.c:{fn}: " + ("swap_duplicate(entry); " if kind == "swap" else "")
        if k.anon_exclusive:
            ref += (f"anon_exclusive && page_try_share_anon_rmap(subpage): {barrier}"
                    "folio_maybe_dma_pinned() -> swap_free(entry), set_pte_at(pteval), abort (A2); "
                    "ClearPageAnonExclusive() (A3)")
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
            new = pte_swap(mm.slot, exclusive=ax and k.swp_exclusive,
                           soft_dirty=pv.soft_dirty and k.swapout_swp_soft_dirty, uffd_wp=pv.uffd_wp, arch=k.arch)
        else:
            new = pte_migration(fid, write=pv.write, exclusive=ax, soft_dirty=pv.soft_dirty,
                                uffd_wp=pv.uffd_wp)
        d = {mm.pte: new, mm.ptl: FREE}
        if pv.dirty and not early:
            mm.fset(d, fid, dirty=True)                 # pte_dirty(pteval) -> folio_mark_dirty()
        remove_rmap(s, d, fid)
        ctx.reset(d, "anon_excl", "pteval")
        if cont:
            d[GOTO] = cont
        return d

    if kind == "swap":
        if k.swp_exclusive:
            mk = "swp_pte = swp_entry_to_pte(entry); if (anon_exclusive) swp_pte = pte_swp_mkexclusive(swp_pte); "
        elif k.anon_exclusive and k.remember_exclusive:
            mk = "swp_pte = swp_entry_to_pte(entry); pte_swp_mkexclusive(): no swp exclusive bit on this arch; "
        else:
            mk = "swp_pte = swp_entry_to_pte(entry); "
        mk += ("pte_swp_mksoft_dirty/mkuffd_wp; " if k.swapout_swp_soft_dirty else "pte_swp_mkuffd_wp; ")
    else:
        mk = ("entry = writable ? make_writable_migration_entry() : anon_exclusive ? "
              "make_readable_exclusive_migration_entry() : make_readable_migration_entry(); ")
    ctx.step(f"{p}.set", f"mm/rmap.c:{fn}: " + ("" if early else "ptep_get_and_clear(); ") + mk
             + ("set_pte_at(swp_pte)" if kind == "swap" else "set_pte_at()")
             + " (A4); " + ("folio_remove_rmap_pte()" if k.swap_table else "page_remove_rmap()")
             + "; folio_put() [PTL unlock]",
             effect=set_entry, reads=[page, pteval, excl] + mm.ff("map", "ref", "swapcache"),
             writes=[mm.pte, mm.ptl] + mm.all_folio() + locals_, branches=[cont] if cont else [])
    if not early:
        emit_tlb_flush(ctx, kf, f"{p}.flush", f"mm/rmap.c:{fn}: flush_tlb_page()")


def _emit_unmap_lazyfree(ctx: Ctx, k: Kernel, lf, page: str, pteval: str, *, fail: str, done: str) -> None:
    """try_to_unmap_one(): the anon branch's MADV_FREE page check, for a folio without PG_swapbacked."""
    mm = ctx.mm

    def discard(s, d, fid):
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)   # folio_remove_rmap_pte()
        mm.put_folio(s, d, fid)
        d[mm.ptl] = FREE
        d[GOTO] = done
        return d

    def restore(s, d, fid, set_swapbacked):
        d[mm.pte] = getattr(s, pteval)                 # set_ptes(pteval): walk_abort
        if set_swapbacked:
            mm.fset(d, fid, swapbacked=True)
        d[mm.ptl] = FREE
        d[GOTO] = fail                                 # folio_mapped(): activate_locked
        return d

    def unmap_lazyfree(s):
        fid = getattr(s, page)
        d = {}
        # smp_mb(); ref_count, map_count; smp_rmb(); dirty
        ref, mapc = getattr(s, mm.f["ref"][fid]), getattr(s, mm.f["map"][fid])
        dirty = getattr(s, mm.f["dirty"][fid]) and not lf.seeded_ignore_dirty
        drop_dirty = lf.droppable_vma
        extra = k.lazyfree_ref_check and ref != 1 + mapc
        if k.lazyfree_swapbacked_iff_dirty and k.lazyfree_ref_check:
            if dirty and not drop_dirty:
                return restore(s, d, fid, True)
            if extra:
                return restore(s, d, fid, False)
            return discard(s, d, fid)
        if not extra and (not dirty or drop_dirty):
            return discard(s, d, fid)
        return restore(s, d, fid, not lf.droppable_vma)

    if k.lazyfree_swapbacked_iff_dirty and k.lazyfree_ref_check:
        branch = ("folio_test_dirty && !VM_DROPPABLE -> set_ptes(pteval); folio_set_swapbacked(); "
                  "else ref_count != 1 + map_count -> set_ptes(pteval) [swapbacked untouched]; else discard")
    elif k.lazyfree_ref_check:
        # the VM_DROPPABLE tests exist from 9651fcedf7b9 on: shown when the VMA is droppable
        branch = ("ref_count == 1 + map_count && (!folio_test_dirty" + (" || VM_DROPPABLE" if lf.droppable_vma else "")
                  + ") -> discard; else set_pte_at(pteval); folio_set_swapbacked()"
                  + (" [unless VM_DROPPABLE]" if lf.droppable_vma else ""))
    else:
        branch = "!PageDirty -> discard; else set_pte_at(pteval); SetPageSwapBacked()"
    if lf.seeded_ignore_dirty:
        branch += " [seeded: PG_dirty ignored]"
    mb = k.lazyfree_ref_check and k.lazyfree_mb
    barrier = (("smp_mb(); " if mb else "[no smp_mb()] ") + "ref_count = folio_ref_count(); "
               "map_count = folio_mapcount(); smp_rmb(); ") if k.lazyfree_ref_check else ""
    ctx.step("unmap.lazyfree", "mm/rmap.c:try_to_unmap_one: !folio_test_swapbacked (MADV_FREE page "
             f"check): {barrier}{branch}; discard: folio_remove_rmap_pte(); folio_put() [drops PTL]",
             effect=unmap_lazyfree, reads=[page, pteval] + mm.ff("ref", "map", "dirty", "swapcache"),
             writes=[mm.pte, mm.ptl] + mm.all_folio(), branches=[done, fail],
             # the loads after smp_mb(); set_ptes() and the unlock are buffered, the unlock a release
             mem=Mem(loads=tuple(mm.ff("ref", "map", "dirty")), stores=(mm.pte, mm.ptl), order="release",
                     before="mb" if mb else ""))


def _emit_unmap_range(ctx: Ctx, k: Kernel, lf, page: str, *, fail: str, done: str) -> None:
    """try_to_unmap_one() walking the nr PTEs of a range that map a large lazyfree folio (linux-mm
    2026 mm/rmap.c): page_vma_mapped_walk() stops at each PTE mapping the folio (the PTL is held
    across the walk); folio_unmap_pte_batch() batches only a lazyfree (anon, !swapbacked) folio: the
    PTEs from there that map the following pages of the folio (folio_pte_batch_flags() with
    FPB_RESPECT_WRITE | FPB_RESPECT_SOFT_DIRTY since 29f40594a281; before it the write and soft-dirty
    bits were ignored; before 354dffd29575 no batching at all); get_and_clear_ptes() returns the first
    PTE with the dirty bits of the batch accumulated; flush_tlb_range(); pte_dirty -> folio_mark_dirty().
    The MADV_FREE page check then either restores all nr PTEs with set_ptes(pteval, nr) (dirty or an
    extra reference: every PTE gets pteval's bits) and aborts the walk, or discards the batch
    (folio_remove_rmap_ptes(nr), folio_put_refs(nr)) and continues the walk with the next PTE.

    Steps `unmap.clear` (one batch) and `unmap.lazyfree` (the check). Swap-out of a large swap-backed
    folio (one slot per page) is not modelled here: a swap-backed folio reaching the walk is refused."""
    mm = ctx.mm
    nr = mm.nr
    form = k.lazyfree_batch
    idx = ctx.local("unmap_idx", 0, "try_to_unmap_one: the PTE page_vma_mapped_walk() stopped at")
    batch = ctx.local("unmap_nr", 0, "try_to_unmap_one: nr_pages = folio_unmap_pte_batch()")
    pteval = ctx.local("pteval", PTE_NONE, "try_to_unmap_one: pteval (get_and_clear_ptes() of the batch)")
    mine = (FREE, ctx.owner)

    def walk_done(d):
        d[mm.ptl] = FREE
        d[GOTO] = done
        ctx.reset(d, "unmap_idx", "unmap_nr", "pteval")
        return d

    def clear(s):
        fid = getattr(s, page)
        d = {mm.ptl: ctx.owner}
        first = next((i for i in range(getattr(s, idx), nr)
                      if getattr(s, mm.ptes[i]).present and getattr(s, mm.ptes[i]).folio == fid), None)
        if first is None:
            return walk_done(d)                        # page_vma_mapped_walk(): no more mappings
        if getattr(s, mm.f["swapbacked"][fid]):
            raise ModelError("try_to_unmap_one of a swap-backed folio over a range of PTEs: swap-out of a "
                             "large folio is not modelled")
        head = getattr(s, mm.ptes[first])
        n = 1
        if form != "off" and getattr(s, mm.f["nr"][fid]) > 1:
            while first + n < nr:                      # folio_pte_batch_flags()
                nxt = getattr(s, mm.ptes[first + n])
                if not (nxt.present and nxt.folio == fid):
                    break
                if form == "29f40594a281" and (nxt.write != head.write or nxt.soft_dirty != head.soft_dirty):
                    break
                n += 1
        dirty = any(getattr(s, mm.ptes[j]).dirty for j in range(first, first + n))
        d[pteval] = head._replace(dirty=dirty)         # get_and_clear_ptes(): A/D accumulated
        for j in range(first, first + n):
            d[mm.ptes[j]] = PTE_NONE
        if dirty:
            mm.fset(d, fid, dirty=True)                # pte_dirty(pteval) -> folio_mark_dirty()
        d[idx] = first
        d[batch] = n
        return d

    bits = {"off": "nr_pages = 1 [before 354dffd29575: no batching]",
            "ignore-bits": "nr_pages = folio_unmap_pte_batch() [folio_pte_batch(): write and soft-dirty "
                           "ignored, before 29f40594a281]",
            "29f40594a281": "nr_pages = folio_unmap_pte_batch() [lazyfree only; folio_pte_batch_flags("
                            "FPB_RESPECT_WRITE | FPB_RESPECT_SOFT_DIRTY)]"}[form]
    ctx.step("unmap.clear", "mm/rmap.c:try_to_unmap_one: page_vma_mapped_walk() [PTL]; " + bits
             + "; pteval = get_and_clear_ptes(nr_pages); flush_tlb_range(); pte_dirty(pteval) -> "
             "folio_mark_dirty()",
             guard=lambda s: getattr(s, mm.ptl) in mine, effect=clear,
             reads=[mm.ptl, page, idx] + mm.ptes + mm.ff("swapbacked", "nr"),
             writes=[mm.ptl, idx, batch, pteval] + mm.ptes + mm.ff("dirty"), branches=[done])

    def lazyfree_check(s):
        fid = getattr(s, page)
        i, n, pv = getattr(s, idx), getattr(s, batch), getattr(s, pteval)
        d = {}
        ref, mapc = getattr(s, mm.f["ref"][fid]), getattr(s, mm.f["map"][fid])
        dirty = getattr(s, mm.f["dirty"][fid]) and not lf.seeded_ignore_dirty
        extra = k.lazyfree_ref_check and ref != 1 + mapc
        restore = (dirty and not lf.droppable_vma) or extra
        if restore:
            for j in range(i, i + n):
                d[mm.ptes[j]] = pv                     # set_ptes(mm, address, pvmw.pte, pteval, nr_pages)
            if dirty and not lf.droppable_vma:
                mm.fset(d, fid, swapbacked=True)       # folio_set_swapbacked()
            d[mm.ptl] = FREE
            d[GOTO] = fail                             # walk_abort
            ctx.reset(d, "unmap_idx", "unmap_nr", "pteval")
            return d
        mm.fset(d, fid, map=mapc - n)                  # folio_remove_rmap_ptes(nr_pages)
        mm.put_folio(s, d, fid, n)                     # folio_put_refs(nr_pages)
        if n == getattr(s, mm.f["nr"][fid]):
            return walk_done(d)                        # the whole folio in one batch: walk_done
        d[idx] = i + n
        d[batch] = 0
        d[GOTO] = "unmap.clear"                        # continue the walk
        return d

    if not k.lazyfree_ref_check:
        raise ModelError("the lazyfree batch (nr > 1) is modelled with the ref_count check of 6c8e2a256915")
    ctx.step("unmap.lazyfree", "mm/rmap.c:try_to_unmap_one: !folio_test_swapbacked (MADV_FREE page check): "
             "smp_mb(); ref_count = folio_ref_count(); map_count = folio_mapcount(); smp_rmb(); "
             "folio_test_dirty && !VM_DROPPABLE -> set_ptes(pteval, nr_pages); folio_set_swapbacked(); "
             "else ref_count != 1 + map_count -> set_ptes(pteval, nr_pages); else discard: "
             "folio_remove_rmap_ptes(nr_pages); folio_put_refs(nr_pages); nr_pages == folio_nr_pages -> "
             "walk_done, else continue the walk",
             effect=lazyfree_check, reads=[page, idx, batch, pteval] + mm.ff("ref", "map", "dirty", "swapcache", "nr"),
             writes=[mm.ptl, idx, batch, pteval] + mm.ptes + mm.all_folio(), branches=[done, fail, "unmap.clear"])


def _emit_migrate_one_step(ctx: Ctx, mte: MTE, page: str, remove_rmap) -> None:
    """try_to_migrate_one() in one step, for kcompactd's migration in the MTE scenarios."""
    mm = ctx.mm

    def unmap(s):
        pte = getattr(s, mm.pte)
        fid = pte.folio
        d = {page: fid, mm.pte: pte_migration(fid, write=pte.write), mte.pte_tagged: False}
        mm.get_folio(s, d, fid)                        # migrate_pages: isolate_lru_page() [folio_get()]
        remove_rmap(s, d, fid)
        return d

    ctx.step("try_to_migrate_one", "mm/rmap.c:try_to_migrate_one: ptep_clear_flush(); "
             "set_pte_at(swp_entry_to_pte(make_readable_migration_entry() [or make_writable_migration_entry()])) [PTL]",
             guard=lambda s: getattr(s, mm.pte).present and getattr(s, mm.ptl) == FREE, effect=unmap,
             reads=[mm.pte, mm.ptl] + mm.ff("ref", "map"), writes=[page, mm.pte, mte.pte_tagged] + mm.ff("ref", "map"))


def _emit_unmap_file(ctx: Ctx, k: MarkerKernel, remove_rmap, *, done: str, unmapped: str | None = None) -> None:
    """try_to_unmap_one() of a file folio, from shrink_folio_list() on the shmem folio."""
    mm = ctx.mm

    def unmap(s):
        pte = getattr(s, mm.pte)
        d = {GOTO: done}
        if unmapped:
            d[unmapped] = True
        if pte.present:
            d[mm.pte] = pte_install_uffd_wp_if_needed(k, pte)            # ptep_clear_flush(); pte_install_uffd_wp_...
            remove_rmap(s, d, pte.folio)
        return d

    ctx.step("try_to_unmap_one", ("mm/vmscan.c:shrink_folio_list -> mm/rmap.c:try_to_unmap_one [file folio]: "
             "pteval = get_and_clear_ptes(); flush_tlb_range() [or deferred]; pte_install_uffd_wp_if_needed("
             "vma, address, pvmw.pte, pteval); folio_remove_rmap_ptes(); folio_put_refs() [then "
             "shmem_writeout() moves the data to swap]") if k.softleaf and k.install_uffd_wp_marker else
             "mm/vmscan.c:shrink_folio_list -> mm/rmap.c:try_to_unmap_one [file folio]: "
             "pteval = ptep_clear_flush(); " + ("pte_install_uffd_wp_if_needed(vma, address, pvmw.pte, "
                                                "pteval); " if k.install_uffd_wp_marker else "")
             + "page_remove_rmap() [then shmem_writepage() moves the data to swap]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=unmap,
             reads=[mm.pte, mm.ptl] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.pte] + mm.all_folio() + ([unmapped] if unmapped else []), branches=[done])
