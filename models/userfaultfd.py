"""mm/userfaultfd.c and fs/userfaultfd.c: UFFDIO_REGISTER (vma_can_userfault()) and UFFDIO_MOVE of a
present PTE (move_pages() -> move_pages_pte() -> move_present_pte()).
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .mm import PTE_NONE, Ctx, LazyMM, pte_present


UFFD_CHECKS = ("none", "masked", "vma")


def emit_uffd_monitor(ctx: Ctx, lzm: LazyMM, registered: str, src_pte: str, *, check: str,
                      cont: str = DONE) -> None:
    mm = lzm.mm
    assert check in UFFD_CHECKS
    result = ctx.local("result", "-", "the last ioctl's return")

    def register(s):
        d = {}
        refused = check == "vma" and lzm.lz.droppable
        # "masked": vm_flags &= __VM_UFFD_FLAGS leaves only VM_UFFD_MISSING: the VM_DROPPABLE test is dead
        if refused:
            d[result] = "-EINVAL"
        else:
            d[registered] = True
            d[result] = "0"
        return d

    tests = {"none": "", "masked": "vm_flags &= __VM_UFFD_FLAGS; if (vm_flags & VM_DROPPABLE) return false "
             "[the requested flags: never true]; ", "vma": "if (vma->vm_flags & VM_DROPPABLE) return false; "}
    ctx.step("uffdio_register", "fs/userfaultfd.c:userfaultfd_register(UFFDIO_REGISTER_MODE_MISSING) -> "
             f"vma_can_userfault(): {tests[check]}vma_is_anonymous() -> vm_flags |= VM_UFFD_MISSING",
             effect=register, writes=[registered, result])

    def move(s):
        d = {GOTO: cont}
        if not getattr(s, registered):
            d[result] = "-EINVAL"                      # validate_move_areas(): dst_vma not registered
            return d
        dst, src = getattr(s, mm.pte), getattr(s, src_pte)
        if dst.kind != "none":
            d[result] = "-EEXIST"
            return d
        if not src.present:
            d[result] = "-ENOENT"
            return d
        fid = src.folio
        if getattr(s, mm.lock[fid]) != FREE:
            d[result] = "-EAGAIN"                      # folio_trylock() failed: retried by user space
            return d
        if mm.fv(s, d, "pin", fid) or not mm.fv(s, d, "excl", fid):
            d[result] = "-EBUSY"
            return d
        d[src_pte] = PTE_NONE                          # ptep_clear_flush(src)
        lzm.flush(d)
        # folio_move_anon_rmap(src_folio, dst_vma): the folio keeps PG_swapbacked
        d[mm.pte] = pte_present(fid, write=True, dirty=True)
        d[result] = "0"
        return d

    ctx.step("uffdio_move", "mm/userfaultfd.c:move_pages: validate_move_areas() [dst registered]; "
             "move_pages_pte: pte_none(dst) else -EEXIST; move_present_pte: double_pt_lock(); "
             "folio_maybe_dma_pinned || !PageAnonExclusive -> -EBUSY; ptep_clear_flush(src); "
             "folio_move_anon_rmap(src_folio, dst_vma); set_pte_at(dst, pte_mkwrite(pte_mkdirty())); "
             "wake_userfault()",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=move,
             reads=[registered, mm.ptl, mm.pte, src_pte] + mm.locks() + mm.ff("pin", "excl"),
             writes=[result, src_pte, mm.pte] + lzm.tlb_fields(), branches=[cont])
