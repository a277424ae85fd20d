"""mm/mprotect.c: change_protection() -> change_pte_range() on the modelled PTE: write-protecting a
present PTE, a writable migration entry made readable(-exclusive), and the arm64 MTE PROT_MTE case
(`emit_mprotect(mte=)`), one model.
"""

from __future__ import annotations

from pteverify.model import FREE, GOTO

from .arm64_mteswap import MTE, MteKernel
from .mm import Ctx, Kernel, KernelII, pte_migration


def emit_mprotect(ctx: Ctx, k: Kernel, kf: KernelII | None, *, writable: bool, label: str = "change_pte_range",
                  vm_write: str | None = None, mte: MTE | None = None, mte_k: MteKernel | None = None,
                  cont: str | None = None) -> None:
    """mprotect(): mprotect_fixup() -> change_protection() -> change_pte_range() on the PTE of `ctx.mm`.

    PROT_READ write-protects a present PTE (PG_anon_exclusive is untouched); a writable migration
    entry becomes readable-exclusive for an anon page (6c287605fd56; readable before it, and in the
    seeded mutation) whatever the new protection ("a protection check is difficult so just be safe
    and disable write"). PROT_READ|PROT_WRITE leaves a private anon PTE write-protected (v5.19:
    only dirty-accountable shared PTEs are made writable; the next store faults).

    `vm_write`: a (ghost) field recording VM_WRITE of the VMA, which mprotect_fixup() sets or clears
    (mmap_lock held for write) before change_protection() rewrites the PTEs.

    `mte` (arm64, with `mte_k`): PROT_MTE: mprotect_fixup() sets VM_MTE and vma->vm_page_prot (a step
    of its own, `mprotect_fixup`), and the rewritten present PTE goes through
    ptep_modify_prot_commit() -> set_pte_at() -> mte_sync_tags(); a non-present entry keeps its
    value (remove_migration_pte() will use the new vm_page_prot). Then the thread goes to `cont`."""
    mm = ctx.mm
    if mte is not None:
        ctx.step("mprotect_fixup", "mm/mprotect.c:mprotect_fixup: vm_flags |= VM_MTE; "
                 "vma_set_page_prot(vma) [mmap_lock for write]",
                 effect=lambda s: {mte.vm_mte: True}, writes=[mte.vm_mte])
    readable_exclusive = k.anon_exclusive and (kf.mprotect_readable_exclusive if kf else True)

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
            if mte is not None:                        # set_pte_at() -> mte_sync_tags()
                mte.sync_tags(s, d, mte_k, pte.folio, pte, True)
                d[mte.pte_tagged] = True
        return d or None

    if mte is not None:
        ref = ("mm/mprotect.c:change_pte_range: pte_offset_map_lock(); pte_present -> "
               "ptep_modify_prot_commit(pte_modify(oldpte, newprot)) -> arch/arm64: " + MTE.set_pte_ref(mte_k))
    else:
        mig = ("make_readable_exclusive_migration_entry() [anon]" if readable_exclusive
               else "make_readable_migration_entry()")
        prot = "PROT_READ|PROT_WRITE" if writable else "PROT_READ"
        ref = (f"mm/mprotect.c:change_pte_range({prot}): pte_offset_map_lock(); present: "
               + ("ptent = pte_modify() [private anon stays write-protected]" if writable
                  else "ptent = pte_wrprotect(pte_modify())")
               + f"; is_writable_migration_entry() -> {mig}; set_pte_at(); pte_unmap_unlock()")
    mte_reads = mte.store_fields() + mte.folio_fields() if mte is not None else []
    mte_writes = [mte.pte_tagged] + mte.folio_fields() if mte is not None else []
    ctx.step(label, ref, guard=lambda s: getattr(s, mm.ptl) == FREE, effect=change,
             reads=[mm.ptl, mm.pte] + mte_reads,
             writes=[mm.pte] + ([vm_write] if vm_write else []) + mte_writes, branches=[cont] if cont else [])
