"""User-space loads and stores through the PTE, faulting when the PTE does not allow the access.

The MMU check and the access are one step: a present PTE (writable, for a store) lets the access
through; otherwise the CPU faults and handle_mm_fault() -> handle_pte_fault() dispatches on the PTE it
read locklessly (vmf->orig_pte): a swap PTE to do_swap_page(), a present read-only PTE on a write to
do_wp_page(), a swap-in error entry to SIGBUS. After the fault returns the access is retried, as the
CPU re-executes the faulting instruction. While the PTE is transiently none (inside a PTL-held section
of try_to_unmap_one) the access waits: the fault it would take (do_anonymous_page) finds the PTE no
longer none under the PTL and returns, so waiting is the same behaviour.

A store writes its tag into the page content ("old" -> "old+cpu") and sets the PTE dirty bit, as the
MMU does; a load records what it saw.
"""

from __future__ import annotations

from pteverify.model import DONE, GOTO

from .cow import emit_do_wp_page
from .mm import Ctx, Kernel, written
from .swap_in import emit_do_swap_page


def emit_fault_handlers(ctx: Ctx, k: Kernel) -> None:
    """handle_mm_fault() for this thread, emitted once after every step that faults: do_swap_page,
    do_wp_page, and the SIGBUS / userfault ends of the thread."""
    ctx.fault_locals()
    result = ctx.vars["result"]
    emit_do_swap_page(ctx, k)
    emit_do_wp_page(ctx, k)
    ctx.step("sigbus", "VM_FAULT_SIGBUS: force_sig_fault(SIGBUS) for a user access, -EFAULT for GUP",
             effect=lambda s: {result: "SIGBUS", GOTO: DONE}, writes=[result], branches=[DONE])
    ctx.step("userfault", "mm/userfaultfd.c:handle_userfault(VM_UFFD_WP): the task waits for the "
             "uffd monitor", effect=lambda s: {GOTO: DONE}, branches=[DONE])


def emit_access(ctx: Ctx, k: Kernel, op: str, tag: str = "cpu", done_ghost: str | None = None,
                cont: str = DONE, label: str = "access") -> None:
    """One user access `op` ("store" or "load") at the modelled address, then `cont`. The thread's
    fault handlers are emitted afterwards with emit_fault_handlers()."""
    mm = ctx.mm
    ctx.caller(label)
    L = ctx.vars
    orig, fwrite, result, ret = L["orig"], L["fwrite"], L["result"], L["ret"]
    seen = ctx.local("seen", "-", "what the load read") if op == "load" else None
    store = op == "store"

    def access(s):
        pte = getattr(s, mm.pte)
        if pte.kind == "present":
            if not store:
                return {seen: getattr(s, mm.f["data"][pte.folio]), result: "read", GOTO: cont}
            if pte.write:
                d = {mm.f["data"][pte.folio]: written(getattr(s, mm.f["data"][pte.folio]), tag),
                     mm.pte: pte._replace(dirty=True), result: "stored", GOTO: cont}
                if done_ghost:
                    d[done_ghost] = True
                return d
            return {orig: pte, fwrite: True, ret: label, GOTO: "hpf.wp"}
        if pte.kind == "swap":
            return {orig: pte, fwrite: store, ret: label, GOTO: "dsp.lookup"}
        if pte.kind == "swapin_error":
            return {orig: pte, ret: label, GOTO: "dsp.swapin_error"}
        raise AssertionError(f"access: unexpected PTE {pte}")

    writes = [orig, fwrite, result, ret, mm.pte] + mm.ff("data") + ([done_ghost] if done_ghost else [])
    if seen:
        writes.append(seen)
    verb = "store to" if store else "load from"
    ctx.step(label, f"user space: {verb} the page (MMU: pte_present{' && pte_write' if store else ''}, "
             "else #PF -> handle_mm_fault -> handle_pte_fault)",
             guard=lambda s: getattr(s, mm.pte).kind != "none", effect=access,
             reads=[mm.pte] + mm.ff("data"), writes=writes,
             branches=[cont, "hpf.wp", "dsp.lookup", "dsp.swapin_error"])
