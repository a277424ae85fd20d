"""mm/mprotect.c: change_protection() -> change_pte_range() on the modelled PTE: write-protecting a
present PTE, a writable migration entry made readable(-exclusive), and the arm64 MTE PROT_MTE case
(`emit_mprotect(mte=)`), one model.
"""

from __future__ import annotations

from pteverify.model import FREE, GOTO, KnobError

from .arm64_mteswap import MTE, MteKernel
from .mm import Ctx, Kernel, KernelII, pte_migration


def emit_mprotect(ctx: Ctx, k: Kernel, kf: KernelII | None, *, writable: bool, label: str = "change_pte_range",
                  vm_write: str | None = None, mte: MTE | None = None, mte_k: MteKernel | None = None,
                  cont: str | None = None) -> None:
    """mprotect(): mprotect_fixup() -> change_protection() -> change_pte_range() on the PTE of `ctx.mm`.

    PROT_READ write-protects a present PTE (PG_anon_exclusive is untouched); a writable migration
    entry becomes readable-exclusive for an anon page (6c287605fd56; readable before it, and in the
    seeded mutation) whatever the new protection ("a protection check is difficult so just be safe
    and disable write").

    PROT_READ|PROT_WRITE on a present private anon PTE, by `kf.mprotect_try_change_writable`:
    "v5.19" leaves it write-protected (only dirty-accountable shared PTEs were made writable; the
    next store faults); since 64fe24a3e05e (v6.0) mprotect_fixup() passes MM_CP_TRY_CHANGE_WRITABLE
    (vma_wants_manual_pte_write_upgrade(): a private VMA with VM_WRITE) and the PTE is made writable
    when its page is PageAnonExclusive() and neither soft-dirty tracking (pte_needs_soft_dirty_wp())
    nor uffd-wp (userfaultfd_pte_wp()) needs the write fault: "64fe24a3e05e" in change_pte_range()'s
    can_change_pte_writable(), which also wanted pte_dirty(); "mainline-2026" (linux-mm 2026) in
    change_present_ptes() -> set_write_prot_commit_flush_ptes(): maybe_change_pte_writable() &&
    folio_test_anon() -> commit_anon_folio_batch() -> prot_commit_flush_ptes(set_write =
    PageAnonExclusive()), clean or dirty (Nadav Amit's "mm/mprotect: allow clean exclusive anon
    pages to be writable"). `kf.mprotect_writable_needs_exclusive` false: the seeded mutation that
    does not read PageAnonExclusive() (a shared page is made writable).

    `vm_write`: a (ghost) field recording VM_WRITE of the VMA, which mprotect_fixup() sets or clears
    (mmap_lock held for write) before change_protection() rewrites the PTEs.

    `mte` (arm64, with `mte_k`): PROT_MTE: mprotect_fixup() sets VM_MTE and vma->vm_page_prot (a step
    of its own, `mprotect_fixup`), and the rewritten present PTE goes through
    ptep_modify_prot_commit() -> set_pte_at() -> mte_sync_tags() (2026, `k.swap_table`:
    change_present_ptes() -> prot_commit_flush_ptes() -> modify_prot_commit_ptes(), arm64's
    set_ptes() -> __sync_cache_and_tags() -> mte_sync_tags()); a non-present entry keeps its
    value (remove_migration_pte() will use the new vm_page_prot). Then the thread goes to `cont`."""
    mm = ctx.mm
    if mte is not None:
        ctx.step("mprotect_fixup", "mm/mprotect.c:mprotect_fixup: vm_flags |= VM_MTE; "
                 "vma_set_page_prot(vma) [mmap_lock for write]",
                 effect=lambda s: {mte.vm_mte: True}, writes=[mte.vm_mte])
    readable_exclusive = k.anon_exclusive and (kf.mprotect_readable_exclusive if kf else True)
    form = kf.mprotect_try_change_writable if kf else "v5.19"
    needs_exclusive = kf.mprotect_writable_needs_exclusive if kf else True
    if not needs_exclusive and form == "v5.19":
        raise KnobError("knob mprotect.writable_needs_exclusive: applies to a form that makes PTEs writable "
                        "(mprotect.try_change_writable = 64fe24a3e05e or mainline-2026)")
    if form != "v5.19" and not k.anon_exclusive:
        raise KnobError(f"knob mprotect.try_change_writable: {form} reads PageAnonExclusive() "
                        "(needs mm.anon_exclusive = true)")
    try_writable = writable and form != "v5.19"    # MM_CP_TRY_CHANGE_WRITABLE

    def upgrade(s, pte) -> bool:
        """May change_pte_range() make the (write-protected) present PTE writable?"""
        if k.soft_dirty_tracking and not pte.soft_dirty:     # pte_needs_soft_dirty_wp()
            return False
        if pte.uffd_wp:                                      # userfaultfd_pte_wp()
            return False
        if form == "64fe24a3e05e" and not pte.dirty:         # can_change_pte_writable(): pte_dirty()
            return False
        return not needs_exclusive or getattr(s, mm.f["excl"][pte.folio])     # PageAnonExclusive()

    def change(s):
        d = {vm_write: writable} if vm_write else {}
        if cont:
            d[GOTO] = cont
        pte = getattr(s, mm.pte)
        if pte.kind == "migration" and pte.write:
            d[mm.pte] = pte_migration(pte.folio, exclusive=readable_exclusive, soft_dirty=pte.soft_dirty,
                                      uffd_wp=pte.uffd_wp)
        elif pte.present:
            if pte.write and not writable:
                d[mm.pte] = pte._replace(write=False)
            elif try_writable and not pte.write and upgrade(s, pte):
                d[mm.pte] = pte._replace(write=True)         # prot_commit_flush_ptes(): pte_mkwrite()
            if mte is not None:                        # set_pte_at() -> mte_sync_tags()
                mte.sync_tags(s, d, mte_k, pte.folio, pte, True)
                d[mte.pte_tagged] = True
        return d or None

    if mte is not None and k.swap_table:       # the 2026 tree's names (text only)
        ref = ("mm/mprotect.c:change_pte_range: pte_offset_map_lock(); ptep_get(); present: vm_normal_page(); "
               "mprotect_folio_pte_batch() [1: small folio]; change_present_ptes() [modify_prot_start_ptes(); "
               "pte_modify(oldpte, newprot); prot_commit_flush_ptes() -> arch/arm64/mm/mmu.c: "
               "modify_prot_commit_ptes() -> set_ptes() -> __set_ptes() -> __sync_cache_and_tags() -> "
               + MTE.set_pte_ref(mte_k).split(" -> ", 1)[1] + "]; pte_unmap_unlock()")
    elif mte is not None:
        ref = ("mm/mprotect.c:change_pte_range: pte_offset_map_lock(); pte_present -> "
               "ptep_modify_prot_commit(pte_modify(oldpte, newprot)) -> arch/arm64: " + MTE.set_pte_ref(mte_k))
    else:
        ref = _change_pte_range_ref(form, writable, readable_exclusive, needs_exclusive)
    mte_reads = mte.store_fields() + mte.folio_fields() if mte is not None else []
    mte_writes = [mte.pte_tagged] + mte.folio_fields() if mte is not None else []
    excl_reads = mm.ff("excl") if try_writable and needs_exclusive else []
    ctx.step(label, ref, guard=lambda s: getattr(s, mm.ptl) == FREE, effect=change,
             reads=[mm.ptl, mm.pte] + excl_reads + mte_reads,
             writes=[mm.pte] + ([vm_write] if vm_write else []) + mte_writes, branches=[cont] if cont else [])


def _change_pte_range_ref(form: str, writable: bool, readable_exclusive: bool, needs_exclusive: bool) -> str:
    """The reference text of change_pte_range() in each form (see emit_mprotect)."""
    prot = "PROT_READ|PROT_WRITE" if writable else "PROT_READ"
    mig = ("make_readable_exclusive_migration_entry() [anon]" if readable_exclusive
           else "make_readable_migration_entry()")
    if form == "mainline-2026":
        if writable:
            check = "PageAnonExclusive()" if needs_exclusive else "PageAnonExclusive() not read: seeded"
            head = f"mm/mprotect.c:change_pte_range({prot}) [MM_CP_TRY_CHANGE_WRITABLE]: "
            commit = ("set_write_prot_commit_flush_ptes(): maybe_change_pte_writable() [VM_WRITE; no "
                      "soft-dirty or uffd-wp tracking] && folio_test_anon() -> commit_anon_folio_batch(): "
                      f"{check} -> prot_commit_flush_ptes(): pte_mkwrite(); modify_prot_commit_ptes()")
        else:
            head = f"mm/mprotect.c:change_pte_range({prot}): "
            commit = "prot_commit_flush_ptes(): modify_prot_commit_ptes()"
        return (head + "pte_offset_map_lock(); ptep_get(); present: vm_normal_page(); "
                "mprotect_folio_pte_batch() [1: small folio]; change_present_ptes() [modify_prot_start_ptes(); "
                f"pte_modify(): write-protected (private VMA); {commit}]; writable migration entry: "
                f"change_softleaf_pte() [{mig}]; pte_unmap_unlock()")
    if form == "64fe24a3e05e" and writable:
        check = ("PageAnonExclusive()" if needs_exclusive else "PageAnonExclusive() not read: seeded")
        return (f"mm/mprotect.c:change_pte_range({prot}) [MM_CP_TRY_CHANGE_WRITABLE]: pte_offset_map_lock(); "
                "present: oldpte = ptep_modify_prot_start(); ptent = pte_modify(); !pte_write(ptent) && "
                f"can_change_pte_writable() [pte_dirty(); soft-dirty; userfaultfd_pte_wp(); vm_normal_page(): "
                f"{check}] -> pte_mkwrite(); ptep_modify_prot_commit(); is_writable_migration_entry() -> {mig}; "
                "set_pte_at(); pte_unmap_unlock()")
    return (f"mm/mprotect.c:change_pte_range({prot}): pte_offset_map_lock(); present: "
            + ("ptent = pte_modify() [private anon stays write-protected]" if writable
               else "ptent = pte_wrprotect(pte_modify())")
            + f"; is_writable_migration_entry() -> {mig}; set_pte_at(); pte_unmap_unlock()")
