"""mm/gup.c: get_user_pages (the slow path: follow_page_pte() under the PTL, faultin_page()), the
device's DMA write through the reference and its release, and GUP-fast (gup_fast_pte_range).

One model of GUP-fast, `emit_gup_fast`: FOLL_PIN / FOLL_GET with the write_protect_seq and the
IPI/barrier memory-order abstraction of the anon-exclusive scenarios, and (`fallback=`) its folded
FOLL_GET form for the direct-I/O read against lazyfree reclaim (`emit_dio_read`: GUP-fast, the
one-step slow path `emit_gup_write_slow`, the DMA write and bio_release_pages()).

----------------------------------------------------------------------------------------------------
GUP slow path (mm/gup.c: __get_user_pages -> follow_page_pte / faultin_page), the device write
through the reference, and its release.

follow_page_pte() runs under the PTL: a present PTE that allows the access gives a reference
(try_grab_page: FOLL_GET takes a page reference, FOLL_PIN a pin, here a pin count next to the
refcount: folio_maybe_dma_pinned() is `pin > 0`); FOLL_WRITE on a read-only PTE, or FOLL_PIN without
FOLL_WRITE on a page that is not PG_anon_exclusive (gup_must_unshare), returns NULL / -EMLINK and
faultin_page() raises a write or unshare fault (handle_mm_fault with FAULT_FLAG_WRITE or
FAULT_FLAG_UNSHARE), after which follow_page_pte() is retried; a swap PTE faults with do_swap_page.

The device write ("dma") is the data of an O_DIRECT read landing in the page the reference holds.
Its release is bio_release_pages() (a static inline in include/linux/bio.h calling block/bio.c:
__bio_release_pages(): the folio marked dirty under its lock, then put_page()) (FOLL_GET) or
unpin_user_pages_dirty_lock() (FOLL_PIN).

Abstractions: GUP-fast is not modelled (the slow path is what faults pages in); FOLL_TOUCH's
set_page_dirty/mark_page_accessed are left out. The device write is placed outside PTL-held sections
(try_to_unmap_one between ptep_clear_flush and set_pte_at, do_swap_page between swap_free and
set_pte_at): no step inside such a section reads or writes page content, so the write commutes with
them, and "the page mapped at the address" is well defined when the device writes.

----------------------------------------------------------------------------------------------------
GUP-fast (mm/gup.c: gup_fast -> gup_fast_pte_range, `lockless_pages_from_mm` / `gup_pte_range`
before v6.9) and the TLB flush it synchronises with.

GUP-fast walks the page table without the PTL, the mmap lock or the folio lock, with interrupts off.
Per PTE (labels B1-B5 of the comment in include/linux/rmap.h, __folio_try_share_anon_rmap):

* `gupf.begin`: FOLL_PIN: `raw_seqcount_try_begin(&mm->write_protect_seq)` (57efa1fe5957, v5.11;
  odd: a fork is write-protecting, fall back to the slow path); `local_irq_save()`;
* `gupf.read_pte` (B1, B2): `ptep_get_lockless()`; a non-present PTE, or FOLL_WRITE on a read-only
  one, bails out;
* `gupf.grab` (B3): `try_grab_folio_fast()`: `folio_ref_try_add()` (a fully ordered add-unless-zero),
  then for FOLL_PIN `folio_ref_add(GUP_PIN_COUNTING_BIAS - 1)`, a value-less atomic: ordered on x86
  (lock prefix), relaxed on arm64 until 088b8aa537c2 (v6.0) added `smp_mb__after_atomic()`;
* `gupf.recheck` (B4): the PTE is re-read; a changed PTE drops the reference (`gup_put_folio`);
* `gupf.unshare` (B5, R/O FOLL_PIN only): `!pte_write(pte) && gup_must_unshare()` (`smp_rmb()`;
  `!PageAnonExclusive(page)`) drops the pin;
* `gupf.irq_on`: `local_irq_restore()`;
* `gupf.seq_retry`: FOLL_PIN: `read_seqcount_retry(&mm->write_protect_seq, seq)` unpins everything
  and falls back; otherwise `sanity_check_pinned_pages()` and the pages are returned.

The TLB flush (`emit_tlb_flush`) is a step of the unmapping thread. On x86 `flush_tlb_range()` IPIs
every CPU of mm_cpumask and waits for each to acknowledge; a CPU inside GUP-fast takes the IPI only
after `local_irq_restore()`, so the flush cannot complete while a GUP-fast is between its PTE read and
its re-check: that is what 6c287605fd56's "clear/invalidate+flush" bought (its race II and III).
arm64 flushes with broadcast TLBI instructions and no IPI ("RCU GUP-fast", 2667f50e8b81): the flush
does not wait, and until 088b8aa537c2 nothing ordered the pin before the PTE re-check.

Memory order, abstracted: the model is sequentially consistent except for the one reordering the
kernel's own analysis (088b8aa537c2) names: without a barrier the pin of B3 may become visible to the
unmapper's `folio_maybe_dma_pinned()` only after B4 re-read the PTE. `gupf.grab` then chooses between
the pin becoming visible at once and it staying in the store buffer until `gupf.irq_on` (the latest
point: the acknowledgement of a flush IPI and the return to the caller order it). Intermediate drain
points are not modelled separately: a reader that sees the pin earlier backs off (A2 fails, fork
copies), the behaviour of the "visible at once" branch. The unmapper's PTE clear is ordered before its
pin check in every modelled kernel (ptep_clear_flush's DSB / x86 xchg before 088b8aa537c2, its
smp_mb() after), so it is not reordered; the seeded mutation `clear_before_share = False` checks the
pins with the PTE still present instead (the races as 6c287605fd56's message states them).

Only one PTE is walked (`nr_pages = 1`); gup_fast_folio_allowed (secretmem, long-term file pins), the
PMD re-check, devmap and the slow-path fallback itself are not modelled: a fallback ends the thread
with result "fallback" (the slow path then faults the page in under the mmap lock).
"""

from __future__ import annotations

from pteverify.memmodel import Mem
from pteverify.model import DONE, FREE, GOTO, ModelError

from .mm import NO_FOLIO, PTE_NONE, ZERO, Ctx, Kernel, KernelII, LazyMM, pte_present, written
from .tlb import sync_fields


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


def emit_gup_release(ctx: Ctx, held: str, pin: bool, cont: str = DONE, *, dirty: bool = True,
                     put_ref: str | None = None) -> None:
    """The release of the page reference in `held` (reset to NO_FOLIO): unpin_user_pages_dirty_lock()
    (FOLL_PIN) or bio_release_pages() (FOLL_GET) after a DMA into it, which dirty the page under its
    folio lock. `dirty=False`: a reference released without dirtying the page (no folio lock):
    unpin_user_page() for FOLL_PIN, or for FOLL_GET the holder's put_page(), named by `put_ref`
    (e.g. a pipe buffer's release of a vmsplice()d page)."""
    mm = ctx.mm

    def release(s):
        fid = getattr(s, held)
        d = {held: NO_FOLIO, GOTO: cont}
        if dirty:
            mm.fset(d, fid, dirty=True)                # set_page_dirty_lock(page)
        if pin:
            mm.fset(d, fid, pin=getattr(s, mm.f["pin"][fid]) - 1)
        mm.put_folio(s, d, fid)
        return d

    if not dirty:
        if pin:
            ref = "mm/gup.c:unpin_user_page(page): gup_put_folio(FOLL_PIN) [pincount, refcount]"
        elif put_ref is None:
            raise ModelError("emit_gup_release(dirty=False, pin=False): name the holder's put_page() (put_ref)")
        else:
            ref = put_ref
        ctx.step("release", ref, effect=release, reads=[held] + mm.ff("pin", "ref", "map", "swapcache"),
                 writes=[held] + mm.all_folio(), branches=[cont])
        return
    ref = ("mm/gup.c:unpin_user_pages_dirty_lock(): set_page_dirty_lock(page); unpin_user_page(page)"
           if pin else "include/linux/bio.h:bio_release_pages(bio, mark_dirty) -> block/bio.c:"
           "__bio_release_pages: folio_lock(folio); folio_mark_dirty(folio); folio_unlock(folio); "
           "bio_release_page(bio, page) [FOLL_GET: put_page(); set_page_dirty_lock() and put_page() "
           "before the folio conversion]")
    ctx.step("release", ref, guard=lambda s: getattr(s, mm.lock[getattr(s, held)]) == FREE,
             effect=release, reads=[held] + mm.locks() + mm.ff("ref", "pin", "map", "swapcache"),
             writes=[held] + mm.all_folio(), branches=[cont])


def emit_gup_fast(ctx: Ctx, kf: KernelII | None, *, write: bool, pin: bool = True, cont: str = DONE,
                  caller: str = "pin_user_pages_fast", unshare: bool = True, fallback: str | None = None,
                  prefix: str = "gupf") -> str:
    """One GUP-fast of the modelled address by the process of `ctx.mm`; returns the local holding the
    page it returned (NO_FOLIO after a fallback). `unshare=False`: seeded mutation without B5.

    `fallback` (a label of the caller: its slow path) selects the folded form used against lazyfree
    reclaim (FOLL_GET only, `kf` may be None): the interrupts-off window is folded into the PTE read
    (local_irq_save()) and the re-check (local_irq_restore()), no write_protect_seq is read (FOLL_GET
    does not), no CPU's IRQs-off count is kept (no IPI flush is modelled there) and a bail-out jumps
    to `fallback`, a success to `cont`. Its steps carry no memory-model annotations (they order like
    locked sections under --memory-model, as before the merge). Labels are `{prefix}.*`."""
    mm = ctx.mm
    folded = fallback is not None
    if folded and pin:
        raise ModelError("GUP-fast: the folded form (fallback=) models FOLL_GET only")
    p = prefix
    pte_l = ctx.local(f"{p}_pte", PTE_NONE, "GUP-fast: the PTE read by ptep_get_lockless() (B1)")
    page_l = ctx.local(f"{p}_page", NO_FOLIO, "GUP-fast: the folio grabbed (B3), not yet validated")
    held = ctx.local("gup", NO_FOLIO, "the page the GUP returned (pinned or referenced)")
    if folded:
        irqs = seq = seq_l = lag_l = result = None
        bail = fallback
    else:
        irqs, seq = sync_fields(mm)
        seq_l = ctx.local(f"{p}_seq", 0, "GUP-fast: the write_protect_seq value read at the start")
        lag_l = ctx.local(f"{p}_pin_lag", False, "GUP-fast: the pin's folio_ref_add() not yet visible to "
                          "other CPUs (no barrier after it)")
        result = ctx.local(f"{p}_result", "-", "how GUP-fast ended: pinned / fallback")
        bail = f"{p}.irq_on"
    check_seq = pin and kf.write_protect_seq
    flags = ("FOLL_PIN" if pin else "FOLL_GET") + ("|FOLL_WRITE" if write else "")
    pin_f = mm.f["pin"]

    if not folded:
        def begin(s):
            if check_seq and getattr(s, seq) & 1:
                return {result: "fallback", GOTO: cont}
            d = {irqs: getattr(s, irqs) + 1}
            if check_seq:
                d[seq_l] = getattr(s, seq)
            return d

        ctx.step(f"{p}.begin", f"mm/gup.c:gup_fast({flags}) [{caller}]: "
                 + ("raw_seqcount_try_begin(&mm->write_protect_seq) [odd: return 0]; " if check_seq else "")
                 + "local_irq_save()",
                 effect=begin, reads=[seq, irqs], writes=[irqs, seq_l, result], branches=[cont],
                 mem=Mem(loads=(seq,), after="rmb") if check_seq else Mem())

    def read_pte(s):
        pte = getattr(s, mm.pte)
        # !pte_access_permitted(pte, flags & FOLL_WRITE); pte_special() (the zero page): bail
        if not pte.present or (write and not pte.write) or pte.folio == ZERO:
            return {GOTO: bail}
        return {pte_l: pte}

    if folded:
        ctx.step(f"{p}.read_pte", "mm/gup.c:gup_fast_pte_range: local_irq_save(); pte = "
                 "ptep_get_lockless(ptep) [B1]; pte_access_permitted(pte, FOLL_WRITE) [B2]",
                 effect=read_pte, reads=[mm.pte], writes=[pte_l], branches=[bail])
    else:
        ctx.step(f"{p}.read_pte", "mm/gup.c:gup_fast_pte_range: pte = ptep_get_lockless(ptep) (B1); "
                 + ("!pte_access_permitted(pte, FOLL_WRITE) -> bail (B2)" if write
                    else "!pte_present(pte) -> bail"),
                 effect=read_pte, reads=[mm.pte], writes=[pte_l], branches=[bail],
                 mem=Mem(loads=(mm.pte,)))

    # under --memory-model: the pin's folio_ref_add() is a relaxed atomic (buffered), unless a
    # barrier follows it (088b8aa537c2's smp_mb__after_atomic(), or a lock-prefixed add)
    pins = tuple(mm.ff("pin")) if pin else ()
    pin_mb = not folded and (kf.gup_fast_barriers or kf.ordered_atomics)

    def grab(s):
        fid = getattr(s, pte_l).folio
        if getattr(s, mm.f["ref"][fid]) == 0:          # folio_ref_try_add() on a freed folio fails
            return {GOTO: bail, pte_l: PTE_NONE} if folded else {GOTO: bail}
        d = {page_l: fid}
        mm.get_folio(s, d, fid)
        if not pin:
            return d
        now = dict(d, **{pin_f[fid]: getattr(s, pin_f[fid]) + 1})
        if kf.pin_may_lag:
            return [now, dict(d, **{lag_l: True})]
        return now

    if pin:
        grab_ref = ("mm/gup.c:try_grab_folio_fast(FOLL_PIN): folio_ref_try_add(); "
                    "folio_ref_add(GUP_PIN_COUNTING_BIAS - 1)"
                    + ("; smp_mb__after_atomic()" if kf.gup_fast_barriers else
                       (" [lock-prefixed: a full barrier]" if kf.ordered_atomics else
                        " [relaxed atomic, no barrier: may become visible after B4]")) + " (B3)")
    elif folded:
        grab_ref = "mm/gup.c:try_grab_folio_fast(FOLL_GET) -> try_get_folio(): folio_ref_try_add() [B3]"
    else:
        grab_ref = "mm/gup.c:try_grab_folio_fast(FOLL_GET): folio_ref_try_add() (B3)"
    if folded:
        ctx.step(f"{p}.grab", grab_ref, effect=grab, reads=[pte_l] + mm.ff("ref"),
                 writes=[page_l, pte_l] + mm.ff("ref"), branches=[bail])
    else:
        ctx.step(f"{p}.grab", grab_ref, effect=grab, reads=[pte_l] + mm.ff("ref", "pin"),
                 writes=[page_l, lag_l] + mm.ff("ref", "pin"), branches=[bail],
                 mem=Mem(adds=pins, before="mb", after="mb" if pin_mb or not pin else ""))

    def drop(s, d):
        """gup_put_folio(): drop what B3 took (a lagging pin store and its undo cancel out)."""
        fid = getattr(s, page_l)
        if pin:
            if mm.v(s, d, lag_l):
                d[lag_l] = False
            else:
                mm.fset(d, fid, pin=mm.fv(s, d, "pin", fid) - 1)
        mm.put_folio(s, d, fid)
        d[page_l] = NO_FOLIO
        return d

    def recheck(s):
        if getattr(s, mm.pte) != getattr(s, pte_l):
            d = {GOTO: bail}
            if folded:
                d[pte_l] = PTE_NONE
            return drop(s, d)
        if folded:                                     # local_irq_restore(); return the page
            return {held: getattr(s, page_l), page_l: NO_FOLIO, pte_l: PTE_NONE, GOTO: cont}
        return None

    if folded:
        ctx.step(f"{p}.recheck", "mm/gup.c:gup_fast_pte_range: pte_val(pte) != "
                 "pte_val(ptep_get_lockless(ptep)) -> gup_put_folio() [B4]; local_irq_restore()",
                 effect=recheck, reads=[page_l, pte_l, mm.pte] + mm.ff("ref", "map", "swapcache"),
                 writes=[held, page_l, pte_l] + mm.all_folio(), branches=[bail, cont])
        return held
    ctx.step(f"{p}.recheck", "mm/gup.c:gup_fast_pte_range: pte_val(pte) != pte_val(ptep_get_lockless(ptep)) "
             "-> gup_put_folio() (B4)",
             effect=recheck, reads=[mm.pte, pte_l, page_l, lag_l] + mm.ff("ref", "pin", "map", "swapcache"),
             writes=[page_l, lag_l] + mm.all_folio(), branches=[bail],
             mem=Mem(loads=(mm.pte,), adds=pins))

    if pin and not write and unshare:
        def unshare_(s):
            if not getattr(s, pte_l).write and not getattr(s, mm.f["excl"][getattr(s, page_l)]):
                return drop(s, {})
            return None

        ctx.step(f"{p}.unshare", "mm/gup.c:gup_fast_pte_range: !pte_write(pte) && gup_must_unshare(): "
                 + ("smp_rmb(); " if kf.gup_fast_barriers else "") + "!PageAnonExclusive(page) -> "
                 "gup_put_folio() (B5)",
                 effect=unshare_, reads=[pte_l, page_l, lag_l] + mm.ff("excl", "ref", "pin", "map", "swapcache"),
                 writes=[page_l, lag_l] + mm.all_folio(),
                 mem=Mem(loads=tuple(mm.ff("excl")), adds=pins, before="rmb" if kf.gup_fast_barriers else ""))

    def irq_on(s):
        d = {irqs: getattr(s, irqs) - 1}
        if getattr(s, lag_l):
            fid = getattr(s, page_l)
            d[lag_l] = False
            d[pin_f[fid]] = getattr(s, pin_f[fid]) + 1
        return d

    ctx.step(f"{p}.irq_on", "mm/gup.c:gup_fast: local_irq_restore()"
             + (" [the pin's folio_ref_add() store is visible by now at the latest]" if pin and kf.pin_may_lag
                else ""),
             effect=irq_on, reads=[irqs, lag_l, page_l] + mm.ff("pin"), writes=[irqs, lag_l] + mm.ff("pin"),
             # local_irq_restore() is no memory barrier, but with IPI TLB flushes the pending flush IPI
             # is taken here and acknowledged (csd unlock, a release) after the CPU's earlier stores
             mem=Mem(adds=pins, before="mb" if kf.tlb_flush_ipi else ""))

    def finish(s):
        fid = getattr(s, page_l)
        d = {GOTO: cont}
        if fid == NO_FOLIO:
            d[result] = "fallback"
        elif check_seq and getattr(s, seq) != getattr(s, seq_l):
            drop(s, d)
            d[result] = "fallback"
        else:
            d[held] = fid
            d[page_l] = NO_FOLIO
            d[result] = "pinned" if pin else "referenced"
        ctx.reset(d, f"{p}_seq", f"{p}_pte")
        return d

    ctx.step(f"{p}.seq_retry", "mm/gup.c:gup_fast: "
             + ("read_seqcount_retry(&mm->write_protect_seq, seq) -> gup_fast_unpin_user_pages(), "
                "return 0; else sanity_check_pinned_pages()" if check_seq
                else "return the pages" + (" [no mm->write_protect_seq check]" if pin else "")),
             effect=finish, reads=[seq, seq_l, page_l, lag_l] + mm.ff("ref", "pin", "map", "swapcache"),
             writes=[held, page_l, lag_l, result, seq_l, pte_l] + mm.all_folio(), branches=[cont],
             mem=Mem(loads=(seq,), adds=pins, before="rmb") if check_seq else Mem(adds=pins))
    return held


def emit_gup_write_slow(ctx: Ctx, lzm: LazyMM, held: str, *, label: str = "gup_slow", cont: str = "dma") -> None:
    """__get_user_pages(FOLL_GET | FOLL_WRITE) after GUP-fast bailed out, in one step under the PTL,
    for the lazyfree scenarios (no fault handlers emitted): follow_page_pte() takes a reference on a
    writable PTE's folio; a none PTE is faulted in (faultin_page() -> do_anonymous_page(), lzm's
    new anon folio); a read-only PTE of an exclusive subpage of a large folio is reused
    (do_wp_page() -> wp_page_reuse())."""
    mm = lzm.mm

    def slow(s):
        p = getattr(s, mm.pte)
        d = {GOTO: cont}
        if p.present and p.write and p.folio != ZERO:
            fid = p.folio
        elif p.kind == "none":
            fid = lzm.new_anon_folio(s, d)             # faultin_page() -> do_anonymous_page()
            d[mm.pte] = pte_present(fid, write=True, dirty=True)
        elif mm.nr > 1 and p.present and not p.write and p.folio != ZERO and getattr(s, mm.f["excl"][p.folio]):
            # faultin_page(FOLL_WRITE) -> do_wp_page() -> wp_page_reuse(): pte_mkdirty() (soft-dirty on x86)
            fid = p.folio
            d[mm.pte] = p._replace(write=True, dirty=True, soft_dirty=True)
        else:
            raise AssertionError(f"gup slow path: PTE {p} not modelled")
        d[held] = fid
        mm.get_folio(s, d, fid)
        return d

    ctx.step(label, "mm/gup.c:__get_user_pages: follow_page_pte() [PTL] -> try_grab_folio(); "
             "no page: faultin_page() -> handle_mm_fault() -> do_anonymous_page(); retry",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=slow,
             reads=[mm.ptl, mm.pte] + mm.ff("ref") + (mm.ff("excl") if mm.nr > 1 else []),
             writes=[held, mm.pte] + mm.all_folio(), branches=[cont])


def emit_dio_read(ctx: Ctx, lzm: LazyMM, done_ghost: str, target_ghost: str, cont: str = DONE) -> str:
    """An O_DIRECT read into the page (iov_iter_extract_pages() -> get_user_pages_fast(FOLL_WRITE), a
    FOLL_GET reference): GUP-fast in its folded form, the slow path when it bails out, the device's
    DMA write and bio_release_pages(). Returns the local holding the page."""
    held = emit_gup_fast(ctx, None, write=True, pin=False, cont="dma", fallback="gup_slow", prefix="gup_fast")
    emit_gup_write_slow(ctx, lzm, held)
    emit_dma_write(ctx, held, done_ghost, target_ghost)
    emit_gup_release(ctx, held, pin=False, cont=cont)
    return held
