"""kernel/fork.c: dup_mmap() as far as the modelled address needs it: the child starting after fork
(`emit_child_start`) and VM_WIPEONFORK of a MAP_DROPPABLE mapping (`emit_dup_mmap`; the flag is
madvise(MADV_KEEPONFORK)'s in madvise.py). The page-table copy itself is mm/memory.c:copy_page_range()
in memory.py.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .mm import ZERO, child_running, Ctx, LazyMM


def emit_child_start(ctx: Ctx) -> None:
    running = child_running(ctx.mm)
    ctx.step("child.start", "kernel/fork.c:kernel_clone: wake_up_new_task(child) [the child returns "
             "from fork()]", guard=lambda s: getattr(s, running), reads=[running])


def emit_dup_mmap(ctx: Ctx, lzm: LazyMM, wipe: str, child_pte: str, forked: str, cont: str = DONE, *,
                  in_mm: bool = False) -> None:
    """`in_mm`: dup_mmap() is in mm/mmap.c (linux-mm 2026, \"mm: move dup_mmap() to mm\"), and
    copy_page_range() copies the range with copy_present_ptes() (the step text only)."""
    mm = lzm.mm

    def fork(s):
        if getattr(s, child_pte).kind != "none":
            # dup_mmap() fills the page tables of the mm that mm_init() just created: nothing can
            # have mapped anything there (no task runs in it before copy_process() returns)
            raise ModelError("dup_mmap: the child's page table is not empty before the copy")
        d = {forked: True, GOTO: cont}
        if getattr(s, wipe):
            return d                                   # VM_WIPEONFORK: no copy_page_range()
        p = getattr(s, mm.pte)
        if p.present:
            if p.folio != ZERO:
                fid = p.folio
                mm.get_folio(s, d, fid)
                mm.fset(d, fid, map=mm.fv(s, d, "map", fid) + 1, excl=False)
            shared = p._replace(write=False)
            d[mm.pte] = shared
            d[child_pte] = shared
            lzm.flush(d)
        return d

    ctx.step("fork", ("mm/mmap.c:dup_mmap: vm_area_dup() [VM_DROPPABLE inherited]; VM_WIPEONFORK -> "
                      "tmp->anon_vma = NULL; if (!(tmp->vm_flags & VM_WIPEONFORK)) copy_page_range() "
                      "[-> copy_present_ptes(): folio_try_dup_anon_rmap_ptes(); wrprotect_ptes() in parent and "
                      "child, PTL]") if in_mm else
             "kernel/fork.c:dup_mmap: vm_area_dup() [VM_DROPPABLE inherited]; "
             "if (!(tmp->vm_flags & VM_WIPEONFORK)) copy_page_range() -> copy_present_pte(): "
             "folio_try_dup_anon_rmap_pte(); ptep_set_wrprotect() in parent and child [PTL]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=fork,
             reads=[wipe, mm.ptl, mm.pte, child_pte] + mm.ff("ref", "map"),
             writes=[forked, mm.pte, child_pte] + mm.ff("ref", "map", "excl") + lzm.tlb_fields(),
             branches=[cont])
