"""GUP slow path (mm/gup.c: __get_user_pages -> follow_page_pte / faultin_page), the device write
through the reference, and its release.

follow_page_pte() runs under the PTL: a present PTE that allows the access gives a reference
(try_grab_page: FOLL_GET takes a page reference, FOLL_PIN a pin, here a pin count next to the
refcount: folio_maybe_dma_pinned() is `pin > 0`); FOLL_WRITE on a read-only PTE, or FOLL_PIN without
FOLL_WRITE on a page that is not PG_anon_exclusive (gup_must_unshare), returns NULL / -EMLINK and
faultin_page() raises a write or unshare fault (handle_mm_fault with FAULT_FLAG_WRITE or
FAULT_FLAG_UNSHARE), after which follow_page_pte() is retried; a swap PTE faults with do_swap_page.

The device write ("dma") is the data of an O_DIRECT read landing in the page the reference holds.
Its release is block/bio.c:bio_release_pages(): set_page_dirty_lock() then put_page() (FOLL_GET) or
unpin_user_pages_dirty_lock() (FOLL_PIN).

Abstractions: GUP-fast is not modelled (the slow path is what faults pages in); FOLL_TOUCH's
set_page_dirty/mark_page_accessed are left out. The device write is placed outside PTL-held sections
(try_to_unmap_one between ptep_clear_flush and set_pte_at, do_swap_page between swap_free and
set_pte_at): no step inside such a section reads or writes page content, so the write commutes with
them, and "the page mapped at the address" is well defined when the device writes.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO

from .mm import NO_FOLIO, Ctx, Kernel, written


def emit_gup(ctx: Ctx, k: Kernel, *, write: bool, pin: bool, ref: str | None = None,
             cont: str = "dma") -> str:
    """follow_page_pte with fault-in (the thread's fault handlers are emitted afterwards with
    user.emit_fault_handlers); returns the local holding the referenced folio."""
    mm = ctx.mm
    ctx.caller("follow_page")
    L = ctx.vars
    orig, fwrite, unshare, ret = L["orig"], L["fwrite"], L["unshare"], L["ret"]
    held = ctx.local("gup", NO_FOLIO, "the page the GUP reference holds")
    flags = ("FOLL_PIN" if pin else "FOLL_GET") + ("|FOLL_WRITE" if write else "")

    def follow(s):
        pte = getattr(s, mm.pte)
        if pte.kind == "present":
            fid = pte.folio
            if write and not pte.write:
                return {orig: pte, fwrite: True, ret: "follow_page", GOTO: "hpf.wp"}  # FAULT_FLAG_WRITE
            if (pin and not write and not pte.write and k.anon_exclusive
                    and not getattr(s, mm.f["excl"][fid])):
                return {orig: pte, unshare: True, ret: "follow_page", GOTO: "hpf.wp"}  # -EMLINK: UNSHARE
            d = {held: fid, GOTO: cont}
            mm.get_folio(s, d, fid)
            if pin:
                mm.fset(d, fid, pin=getattr(s, mm.f["pin"][fid]) + 1)
            return d
        if pte.kind == "swap":
            return {orig: pte, fwrite: write, ret: "follow_page", GOTO: "dsp.lookup"}
        if pte.kind == "swapin_error":
            return {orig: pte, ret: "follow_page", GOTO: "dsp.swapin_error"}
        raise AssertionError(f"follow_page_pte: unexpected PTE {pte}")

    ctx.step("follow_page", ref or f"mm/gup.c:follow_page_pte({flags}): pte_offset_map_lock(); "
             "can_follow_write_pte() / gup_must_unshare(); try_grab_page(); pte_unmap_unlock() "
             "[no page: faultin_page()]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=follow,
             reads=[mm.ptl, mm.pte] + mm.ff("excl", "ref", "pin"),
             writes=[held, orig, fwrite, unshare, ret] + mm.ff("ref", "pin"),
             branches=[cont, "hpf.wp", "dsp.lookup", "dsp.swapin_error"])
    return held


def emit_dma_write(ctx: Ctx, held: str, done_ghost: str, target_ghost: str, tag: str = "dma") -> None:
    """The device writes through the GUP reference; `target_ghost` records whether it hit the page
    mapped at the address."""
    mm = ctx.mm

    def dma(s):
        fid = getattr(s, held)
        at = mm.page_at_address(s)
        return {mm.f["data"][fid]: written(getattr(s, mm.f["data"][fid]), tag), done_ghost: True,
                target_ghost: f"{fid} (mapped)" if at == fid else f"{fid} (not mapped)"}

    ctx.step("dma", "device: DMA of the O_DIRECT read writes the page through the GUP reference",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=dma,
             reads=[held, mm.ptl, mm.pte, mm.swp_cache] + mm.ff("data"),
             writes=mm.ff("data") + [done_ghost, target_ghost])


def emit_gup_release(ctx: Ctx, held: str, pin: bool, cont: str = DONE) -> None:
    mm = ctx.mm

    def release(s):
        fid = getattr(s, held)
        d = {held: NO_FOLIO, GOTO: cont}
        mm.fset(d, fid, dirty=True)                    # set_page_dirty_lock(page)
        if pin:
            mm.fset(d, fid, pin=getattr(s, mm.f["pin"][fid]) - 1)
        mm.put_folio(s, d, fid)
        return d

    ref = ("mm/gup.c:unpin_user_pages_dirty_lock(): set_page_dirty_lock(page); unpin_user_page(page)"
           if pin else "block/bio.c:bio_release_pages(bio, mark_dirty): set_page_dirty_lock(page); "
           "put_page(page)")
    ctx.step("release", ref, guard=lambda s: getattr(s, mm.lock[getattr(s, held)]) == FREE,
             effect=release, reads=[held] + mm.locks() + mm.ff("ref", "pin", "map", "swapcache"),
             writes=[held] + mm.all_folio(), branches=[cont])
