"""User space: loads and stores through the PTE, faulting when the PTE does not allow the access.
Not a kernel file: the workload the kernel paths run against.

* `emit_access`: the MMU check and the access in one step, faults through handle_mm_fault() (memory.py);
* `emit_access_tlb`: x86 MMU semantics with the storing CPU's TLB entry; its faults are
  memory.emit_do_anonymous_page() and the one-step form of memory.emit_do_wp_page() (the lazyfree /
  MAP_DROPPABLE scenarios);
* `emit_tag_checked_load`: an arm64 MTE tag-checked load;
* `emit_marker_load`, `emit_uffd_wp_store`: accesses meeting PTE markers and swap-in error entries.

----------------------------------------------------------------------------------------------------
User-space loads and stores through the PTE, faulting when the PTE does not allow the access.

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

from pteverify.model import DONE, FREE, GOTO

from .arm64_mteswap import MTE, NO_TAGS
from .memory import emit_do_anonymous_page, emit_do_wp_page, emit_fault_handlers
from .mm import MM, NO_TLB, Ctx, Kernel, LazyMM, pte_present, written


def emit_access(ctx: Ctx, k: Kernel, op: str, tag: str = "cpu", done_ghost: str | None = None,
                cont: str = DONE, label: str = "access", on_none: str | None = None,
                tlb: str | None = None, fault_ghost: str | None = None) -> None:
    """One user access `op` ("store" or "load") at the modelled address, then `cont`. The thread's
    fault handlers are emitted afterwards with emit_fault_handlers(). `on_none`: where the thread goes
    when the PTE is none (the page was moved or zapped away: the fault would map a fresh page, which
    the scenario does not follow); without it the access waits for a PTE. `tlb` (a field: this CPU's
    TLB entry for the address, as mm.LazyMM keeps it): x86 MMU semantics for stores: a cached dirty
    (writable) entry "<folio>:dirty" lets the store through without a page walk, whatever the PTE
    says now, until a TLB flush drops it; a store through a present writable PTE caches one.
    `fault_ghost`: a ghost set True when the store takes a write fault on a present read-only PTE
    (handle_pte_fault() -> do_wp_page()), for checks that a store needs none."""
    mm = ctx.mm
    ctx.caller(label)
    L = ctx.vars
    orig, fwrite, result, ret = L["orig"], L["fwrite"], L["result"], L["ret"]
    seen = ctx.local("seen", "-", "what the load read") if op == "load" else None
    store = op == "store"

    def stale(s) -> str | None:
        """The folio a cached dirty TLB entry still translates the address to."""
        if store and tlb:
            entry = getattr(s, tlb)
            if entry.endswith(":dirty"):
                return entry.split(":")[0]
        return None

    def access(s):
        fid = stale(s)
        if fid is not None:
            d = {mm.f["data"][fid]: written(getattr(s, mm.f["data"][fid]), tag), result: "stored", GOTO: cont}
            if done_ghost:
                d[done_ghost] = True
            return d
        pte = getattr(s, mm.pte)
        if pte.kind == "none" and on_none:
            return {result: "none", GOTO: on_none}
        if pte.kind == "present":
            if not store:
                return {seen: getattr(s, mm.f["data"][pte.folio]), result: "read", GOTO: cont}
            if pte.write:
                d = {mm.f["data"][pte.folio]: written(getattr(s, mm.f["data"][pte.folio]), tag),
                     mm.pte: pte._replace(dirty=True), result: "stored", GOTO: cont}
                if done_ghost:
                    d[done_ghost] = True
                if tlb:
                    d[tlb] = f"{pte.folio}:dirty"      # the page walk fills the TLB
                return d
            return {orig: pte, fwrite: True, ret: label, GOTO: "hpf.wp", **({fault_ghost: True} if fault_ghost else {})}
        if pte.kind == "swap":
            return {orig: pte, fwrite: store, ret: label, GOTO: "dsp.lookup"}
        if pte.kind == "swapin_error":
            return {orig: pte, ret: label, GOTO: "dsp.swapin_error"}
        raise AssertionError(f"access: unexpected PTE {pte}")

    writes = ([orig, fwrite, result, ret, mm.pte] + mm.ff("data") + ([done_ghost] if done_ghost else [])
              + ([fault_ghost] if fault_ghost else []))
    if seen:
        writes.append(seen)
    if tlb:
        writes.append(tlb)
    verb = "store to" if store else "load from"
    mmu = (f"MMU: pte_present{' && pte_write' if store else ''}, else #PF -> handle_mm_fault -> handle_pte_fault"
           if not (store and tlb) else
           "x86 MMU: a cached dirty TLB entry lets the store through without a page walk; else pte_present "
           "&& pte_write (the walk caches the entry), else #PF -> handle_mm_fault -> handle_pte_fault")
    ctx.step(label, f"user space: {verb} the page ({mmu})",
             guard=(lambda s: True) if on_none else (lambda s: stale(s) is not None or getattr(s, mm.pte).kind != "none"),
             effect=access, reads=[mm.pte] + mm.ff("data") + ([tlb] if tlb else []), writes=writes,
             branches=[cont, "hpf.wp", "dsp.lookup", "dsp.swapin_error"] + ([on_none] if on_none else []))


def emit_access_tlb(ctx: Ctx, lzm: LazyMM, op: str, *, tag: str = "cpu", done: str | None = None,
                last: str | None = None, seen_expect: str | None = None, label: str = "access",
                cont: str = DONE, pte: str | None = None, userfault: str | None = None,
                swapin: Kernel | None = None) -> None:
    """A user load or store at the address, then `cont`. `last` is a ghost holding the content the
    last completed store left (stores update it; a load records it in `seen_expect` next to what it
    read). `userfault`, a field that is True while the range is registered with userfaultfd
    (VM_UFFD_MISSING), sends a fault on pte_none to handle_userfault(). `swapin` (a Kernel): a swap
    PTE faults into the shared do_swap_page() (emit the thread's fault handlers afterwards with
    emit_fault_handlers()); without it the access waits while the PTE is a swap PTE."""
    mm = lzm.mm
    pte = pte or mm.pte
    if swapin is not None:
        if pte != mm.pte:
            raise AssertionError("emit_access_tlb(swapin=): only the address's own PTE")
        ctx.caller(label)
        fault_locals = ctx.vars
    store = op == "store"
    seen = ctx.local("seen", "-", "what the load read") if not store else None
    fault = f"{label}.fault"
    wp = f"{label}.wp"
    uf = f"{label}.userfault"
    tlb = lzm.tlb

    def access(s):
        p = getattr(s, pte)
        d = {}
        if store and tlb:
            entry = getattr(s, tlb)
            if entry.endswith(":dirty"):
                fid = entry.split(":")[0]
                new = written(lzm.data(s, d, fid), tag)
                d[mm.f["data"][fid]] = new
                return _stored(d, new)
        if p.kind == "none":
            return {GOTO: uf if userfault and getattr(s, userfault) else fault}
        if p.kind == "swap" and swapin is not None:
            L = fault_locals                           # handle_pte_fault() -> do_swap_page()
            return {L["orig"]: p, L["fwrite"]: store, L["ret"]: label, GOTO: "dsp.lookup"}
        if p.kind != "present":
            raise AssertionError(f"{label}: PTE {p} is not modelled here")
        fid = p.folio
        if not store:
            d[seen] = lzm.data(s, d, fid)
            if seen_expect:
                d[seen_expect] = getattr(s, last)
            if tlb and getattr(s, tlb) == NO_TLB:
                d[tlb] = f"{fid}:{'dirty' if p.dirty else 'clean'}"
            d[GOTO] = cont
            return d
        if not p.write:
            return {GOTO: wp}
        new = written(lzm.data(s, d, fid), tag)
        d[mm.f["data"][fid]] = new
        d[pte] = p._replace(dirty=True)                # the page walk sets the dirty bit
        if tlb:
            d[tlb] = f"{fid}:dirty"
        return _stored(d, new)

    def _stored(d, new):
        if done:
            d[done] = True
        if last:
            d[last] = new
        d[GOTO] = cont
        return d

    reads = [pte] + mm.ff("data") + lzm.tlb_fields() + ([last] if last else []) + ([userfault] if userfault else [])
    writes = [pte] + mm.ff("data") + lzm.tlb_fields() + [x for x in (done, last, seen, seen_expect) if x]
    if swapin is not None:
        writes += [fault_locals["orig"], fault_locals["fwrite"], fault_locals["ret"]]
    verb = "store to" if store else "load from"
    ctx.step(label, f"user space: {verb} the page (x86 MMU: a dirty TLB entry lets a store through; "
             "else the page walk needs pte_present" + (" && pte_write and sets the dirty bit" if store else "")
             + ", else #PF)",
             guard=lambda s: swapin is not None or getattr(s, pte).kind != "swap", effect=access, reads=reads,
             writes=writes, branches=[cont, fault, wp] + ([uf] if userfault else [])
             + (["dsp.lookup"] if swapin is not None else []))

    emit_do_anonymous_page(ctx, lzm, store=store, pte=pte, label=fault, retry=label, userfault=userfault,
                           userfault_label=uf)
    emit_do_wp_page(ctx, None, one_step=lzm, pte=pte, label=wp, retry=label)


def emit_tag_checked_load(ctx: Ctx, mte: MTE, k: Kernel, label: str = "load", on_none: str | None = None) -> None:
    """A load through the PROT_MTE mapping, then the thread's fault handlers (emit it last): the MMU
    checks the pointer's tag against the allocation tags of the page (the model records them); a swap
    PTE faults into the shared do_swap_page() (models/memory.py, with arm64's hooks) and the load is
    retried; a swap-in error entry ends in SIGBUS. A migration entry makes the fault wait
    (migration_entry_wait). `on_none`: where a load of a none PTE goes (the page was zapped: the fault
    would map a fresh zero-filled page, not modelled); None: the load waits for the PTE."""
    mm = mte.mm
    ctx.caller(label)
    L = ctx.vars
    orig, ret = L["orig"], L["ret"]
    seen = mte.seen_field(ctx)

    def access(s):
        pte = getattr(s, mm.pte)
        if pte.present:
            tags = getattr(s, mte.tags[pte.folio]) if getattr(s, mte.pte_tagged) else NO_TAGS
            return {seen: tags, GOTO: DONE}
        if pte.kind == "swap":
            return {orig: pte, ret: label, GOTO: "dsp.lookup"}
        if pte.kind == "none":
            return {GOTO: on_none}
        return {orig: pte, ret: label, GOTO: "dsp.swapin_error"}

    ctx.step(label, "user space: tag-checked load (ldr with TCF0 checks; ldg reads the allocation tag) "
             "[#PF on a swap PTE -> handle_pte_fault -> do_swap_page]",
             guard=lambda s: getattr(s, mm.pte).kind in ("present", "swap", "swapin_error")
             + (("none",) if on_none else ()), effect=access,
             reads=[mm.pte, mte.pte_tagged] + list(mte.tags.values()), writes=[seen, orig, ret],
             branches=[DONE, "dsp.lookup", "dsp.swapin_error"] + ([on_none] if on_none and on_none != DONE else []))
    emit_fault_handlers(ctx, k)
    mte.loads.append((seen, ctx.vars["result"]))


def emit_marker_load(ctx: Ctx, mm: MM, pte_field: str, result: str, *, label: str = "load",
                     cont: str = DONE, guard_field: str | None = None, poisoned: bool = False) -> None:
    """A load from an anonymous page: present -> data; a swap-in error entry -> do_swap_page():
    VM_FAULT_SIGBUS; none -> do_anonymous_page() maps the zero page (the load reads zero-fill).
    `poisoned`: the entry is PTE_MARKER_POISONED (af19487f00f3), handle_pte_marker() returns
    VM_FAULT_HWPOISON: the task is killed with SIGBUS all the same (the text only)."""

    def load(s):
        pte = getattr(s, pte_field)
        if pte.kind == "swapin_error":
            return {result: "SIGBUS", GOTO: cont}
        if pte.kind == "none":
            return {result: "data", GOTO: cont}
        if pte.present:
            return {result: "data", GOTO: cont}
        raise AssertionError(f"load: unexpected PTE {pte}")

    reads = [pte_field] + ([guard_field] if guard_field else [])
    ctx.step(label, ("user space: load [#PF: PTE_MARKER_POISONED -> do_swap_page(): softleaf_is_marker() -> "
                     "handle_pte_marker(): VM_FAULT_HWPOISON (SIGBUS); none -> do_anonymous_page(): zero page]")
             if poisoned else "user space: load [#PF: swap-in error entry -> do_swap_page(): VM_FAULT_SIGBUS; "
             "none -> do_anonymous_page(): zero page]",
             guard=(lambda s: bool(getattr(s, guard_field))) if guard_field else None,
             effect=load, reads=reads, writes=[result], branches=[cont])


def emit_uffd_wp_store(ctx: Ctx, mm: MM, stored: str, result: str, page_cache: str,
                       unmapped: str | None = None) -> None:
    """The protected task stores to the address, faulting as the kernel makes it.
    `page_cache`: the folio the shmem file holds at this index (what do_fault() maps); `unmapped`
    (a ghost: the page was unmapped from the address) is cleared when the fault maps it again."""

    def store(s):
        pte = getattr(s, mm.pte)
        if pte.present:
            if pte.uffd_wp:
                return {result: "userfault", GOTO: DONE}   # do_wp_page: userfaultfd_pte_wp()
            if pte.write:
                return {stored: True, result: "stored", GOTO: DONE}
            return {mm.pte: pte._replace(write=True, dirty=True), GOTO: "store"}   # wp_page_shared
        fid = getattr(s, page_cache)
        d = {GOTO: "store"}                                # the store is retried after the fault
        mm.get_folio(s, d, fid)
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) + 1)
        if unmapped:
            d[unmapped] = False
        if pte.kind == "marker" and pte.uffd_wp:
            d[mm.pte] = pte_present(fid, uffd_wp=True)     # do_set_pte: pte_mkuffd_wp(pte_wrprotect())
        else:
            d[mm.pte] = pte_present(fid, write=True, dirty=True)         # do_shared_fault
        return d

    ctx.step("store", "user space: store [#PF: present uffd-wp -> do_wp_page(): userfaultfd_pte_wp() -> "
             "handle_userfault(VM_UFFD_WP); marker -> handle_pte_marker() -> pte_marker_handle_uffd_wp() -> "
             "do_fault() -> do_set_pte(pte_mkuffd_wp(pte_wrprotect())); none -> do_shared_fault()]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=store,
             reads=[mm.pte, mm.ptl, page_cache] + mm.ff("ref", "map"),
             writes=[mm.pte, stored, result] + mm.ff("ref", "map") + ([unmapped] if unmapped else []),
             branches=[DONE, "store"])
