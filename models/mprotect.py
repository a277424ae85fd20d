"""mm/mprotect.c: change_protection() -> change_pte_range() on the modelled PTE: write-protecting a
present PTE, a writable migration entry made readable(-exclusive), and the arm64 MTE PROT_MTE case
(`emit_mprotect_mte`).
"""

from __future__ import annotations

from pteverify.model import FREE, GOTO

from .arm64_mteswap import MTE, MteKernel
from .mm import Ctx, Kernel, KernelII, pte_migration


def emit_mprotect(ctx: Ctx, k: Kernel, kf: KernelII, *, writable: bool, label: str,
                  vm_write: str | None = None) -> None:
    """mprotect(): change_protection() -> change_pte_range() on the PTE of `ctx.mm`.

    PROT_READ write-protects a present PTE (PG_anon_exclusive is untouched); a writable migration
    entry becomes readable-exclusive for an anon page (6c287605fd56; readable before it, and in the
    seeded mutation) whatever the new protection ("a protection check is difficult so just be safe
    and disable write"). PROT_READ|PROT_WRITE leaves a private anon PTE write-protected (v5.19:
    only dirty-accountable shared PTEs are made writable; the next store faults).

    `vm_write`: a (ghost) field recording VM_WRITE of the VMA, which mprotect_fixup() sets or clears
    (mmap_lock held for write) before change_protection() rewrites the PTEs."""
    mm = ctx.mm

    def change(s):
        d = {vm_write: writable} if vm_write else {}
        pte = getattr(s, mm.pte)
        if pte.kind == "migration" and pte.write:
            keep = k.anon_exclusive and kf.mprotect_readable_exclusive
            d[mm.pte] = pte_migration(pte.folio, exclusive=keep, soft_dirty=pte.soft_dirty,
                                      uffd_wp=pte.uffd_wp)
        elif pte.present and pte.write and not writable:
            d[mm.pte] = pte._replace(write=False)
        return d or None

    mig = ("make_readable_exclusive_migration_entry() [anon]" if k.anon_exclusive and
           kf.mprotect_readable_exclusive else "make_readable_migration_entry()")
    prot = "PROT_READ|PROT_WRITE" if writable else "PROT_READ"
    ctx.step(label, f"mm/mprotect.c:change_pte_range({prot}): pte_offset_map_lock(); present: "
             + ("ptent = pte_modify() [private anon stays write-protected]" if writable
                else "ptent = pte_wrprotect(pte_modify())")
             + f"; is_writable_migration_entry() -> {mig}; set_pte_at(); pte_unmap_unlock()",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=change,
             reads=[mm.ptl, mm.pte], writes=[mm.pte] + ([vm_write] if vm_write else []))


def emit_mprotect_mte(ctx: Ctx, mte: MTE, k: MteKernel, cont: str) -> None:
    """mprotect(PROT_READ|PROT_MTE): mprotect_fixup() sets VM_MTE and vma->vm_page_prot (mmap_lock held
    for write), then change_pte_range() rewrites a present PTE under the PTL: ptep_modify_prot_start();
    pte_modify(); ptep_modify_prot_commit() -> set_pte_at() [-> mte_sync_tags]. A non-present entry
    (the migration entry) keeps its value; remove_migration_pte() will use the new vm_page_prot."""
    mm = mte.mm

    ctx.step("mprotect_fixup", "mm/mprotect.c:mprotect_fixup: vm_flags |= VM_MTE; "
             "vma_set_page_prot(vma) [mmap_lock for write]",
             effect=lambda s: {mte.vm_mte: True}, writes=[mte.vm_mte])

    def change(s):
        pte = getattr(s, mm.pte)
        d = {mm.ptl: FREE, GOTO: cont}
        if pte.present:
            mte.sync_tags(s, d, k, pte.folio, pte, True)
            d[mte.pte_tagged] = True
        return d

    ctx.step("change_pte_range", "mm/mprotect.c:change_pte_range: pte_offset_map_lock(); pte_present -> "
             "ptep_modify_prot_commit(pte_modify(oldpte, newprot)) -> arch/arm64: " + MTE.set_pte_ref(k),
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=change,
             reads=[mm.pte, mm.ptl] + mte.store_fields() + mte.folio_fields(),
             writes=[mm.ptl, mte.pte_tagged] + mte.folio_fields(), branches=[cont])
