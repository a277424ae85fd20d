"""GUP-fast (mm/gup.c: gup_fast -> gup_fast_pte_range, `lockless_pages_from_mm` / `gup_pte_range`
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

from dataclasses import dataclass

from pteverify.model import DONE, GOTO

from .mm import MM, NO_FOLIO, PTE_NONE, Ctx


@dataclass(frozen=True)
class KernelII:
    """Historical behaviour of the paths of "Anon-exclusive II" (the Anon-exclusive I paths read
    `mm.Kernel`). Defaults are the current kernel on x86-64."""

    tlb_flush_ipi: bool = True            # arch: flush_tlb_range() IPIs and waits (x86); arm64: TLBI
    ordered_atomics: bool = True          # arch: folio_ref_add() is a full barrier (x86 lock prefix)
    gup_fast_barriers: bool = True        # 088b8aa537c2 (v6.0): smp_mb__after_atomic() after the pin,
                                          #   smp_mb() in page_try_share_anon_rmap(), deferred flush
                                          #   allowed for exclusive pages in try_to_unmap_one()
    clear_before_share: bool = True       # 6c287605fd56: PTE cleared before the pin check (False:
                                          #   seeded mutation, the races II/III of its message)
    write_protect_seq: bool = True        # 57efa1fe5957 (v5.11): fork vs FOLL_PIN GUP-fast
    fork_copy_pinned: bool = True         # 70e806e4e645 (v5.9): fork copies maybe-pinned pages
    fork_clear_swp_exclusive: bool = True  # 1493a1913e34: copy_nonpresent_pte clears the swp bit
    mprotect_readable_exclusive: bool = True  # 6c287605fd56: writable migration entry ->
                                              #   readable-exclusive (anon) in change_pte_range
    migration_rmap_exclusive: bool = True  # 6c287605fd56: remove_migration_pte sets RMAP_EXCLUSIVE
    wp_reuse: str = "anon_exclusive"      # do_wp_page reuse rule: "mapcount" (v5.7 reuse_swap_page),
                                          #   "page_count" (09854ba94c6a), "anon_exclusive" (v5.19)
    gup_cow_break: bool = False           # 17839856fd58 (v5.8): GUP on a COW mapping breaks COW

    @property
    def pin_may_lag(self) -> bool:
        """Can the FOLL_PIN pin become visible after GUP-fast's PTE re-check?"""
        return not (self.ordered_atomics or self.gup_fast_barriers)


# --------------------------------------------------------------------------------------------
# Shared fields: the IRQs-off window and mm->write_protect_seq


def sync_fields(mm: MM) -> tuple[str, str]:
    """Declare (once per model) the count of CPUs inside a GUP-fast IRQs-off window and
    mm->write_protect_seq; return their field names."""
    if not hasattr(mm.m, "_gup_fast_sync"):
        irqs = mm.m.field("gup_fast_irqs_off", 0, range(0, 4),
                          "CPUs inside GUP-fast with interrupts disabled (between local_irq_save() and "
                          "local_irq_restore()): they cannot acknowledge a TLB-flush IPI")
        seq = mm.m.field("write_protect_seq", 0, range(0, 8),
                         "mm->write_protect_seq: odd while fork() write-protects the parent's PTEs")
        mm.m._gup_fast_sync = (irqs, seq)
    return mm.m._gup_fast_sync


def emit_tlb_flush(ctx: Ctx, kf: KernelII, label: str, what: str, *, deferred: bool = False) -> None:
    """The TLB flush of the unmapping thread as a step of its own. With IPIs it is enabled only while
    no CPU is inside a GUP-fast IRQs-off window (the IPI is acknowledged after local_irq_restore())."""
    irqs, _ = sync_fields(ctx.mm)
    call = "try_to_unmap_flush() [the deferred batch: arch_tlbbatch_flush()]" if deferred else what
    if kf.tlb_flush_ipi:
        ref = (f"{call}: flush_tlb_range(): IPI to every CPU of mm_cpumask, wait for each to acknowledge "
               "[a CPU in GUP-fast acknowledges after local_irq_restore()]")
        ctx.step(label, ref, guard=lambda s: getattr(s, irqs) == 0, reads=[irqs])
    else:
        ref = f"{call}: flush_tlb_range(): broadcast TLBI; DSB [no IPI: does not wait for GUP-fast]"
        ctx.step(label, ref)


# --------------------------------------------------------------------------------------------
# GUP-fast


def emit_gup_fast(ctx: Ctx, kf: KernelII, *, write: bool, pin: bool = True, cont: str = DONE,
                  caller: str = "pin_user_pages_fast") -> str:
    """One GUP-fast of the modelled address by the process of `ctx.mm`; returns the local holding the
    page it returned (NO_FOLIO after a fallback)."""
    mm = ctx.mm
    irqs, seq = sync_fields(mm)
    L = dict(
        seq=ctx.local("gupf_seq", 0, "GUP-fast: the write_protect_seq value read at the start"),
        pte=ctx.local("gupf_pte", PTE_NONE, "GUP-fast: the PTE read by ptep_get_lockless() (B1)"),
        page=ctx.local("gupf_page", NO_FOLIO, "GUP-fast: the folio grabbed (B3)"),
        lag=ctx.local("gupf_pin_lag", False, "GUP-fast: the pin's folio_ref_add() not yet visible to "
                      "other CPUs (no barrier after it)"),
        held=ctx.local("gup", NO_FOLIO, "the page the GUP returned (pinned or referenced)"),
        result=ctx.local("gupf_result", "-", "how GUP-fast ended: pinned / fallback"),
    )
    seq_l, pte_l, page_l, lag_l, held, result = (L[n] for n in ("seq", "pte", "page", "lag", "held",
                                                                "result"))
    check_seq = pin and kf.write_protect_seq
    flags = ("FOLL_PIN" if pin else "FOLL_GET") + ("|FOLL_WRITE" if write else "")
    pin_f, ref_f = mm.f["pin"], mm.f["ref"]

    def begin(s):
        if check_seq and getattr(s, seq) & 1:
            return {result: "fallback", GOTO: cont}
        d = {irqs: getattr(s, irqs) + 1}
        if check_seq:
            d[seq_l] = getattr(s, seq)
        return d

    ctx.step("gupf.begin", f"mm/gup.c:gup_fast({flags}) [{caller}]: "
             + ("raw_seqcount_try_begin(&mm->write_protect_seq) [odd: return 0]; " if check_seq else "")
             + "local_irq_save()",
             effect=begin, reads=[seq, irqs], writes=[irqs, seq_l, result], branches=[cont])

    def read_pte(s):
        pte = getattr(s, mm.pte)
        if not pte.present or (write and not pte.write):
            return {GOTO: "gupf.irq_on"}
        return {pte_l: pte}

    ctx.step("gupf.read_pte", "mm/gup.c:gup_fast_pte_range: pte = ptep_get_lockless(ptep) (B1); "
             + ("!pte_access_permitted(pte, FOLL_WRITE) -> bail (B2)" if write
                else "!pte_present(pte) -> bail"),
             effect=read_pte, reads=[mm.pte], writes=[pte_l], branches=["gupf.irq_on"])

    def grab(s):
        fid = getattr(s, pte_l).folio
        if getattr(s, ref_f[fid]) == 0:
            return {GOTO: "gupf.irq_on"}                  # folio_ref_try_add() on a freed folio fails
        d = {page_l: fid, ref_f[fid]: getattr(s, ref_f[fid]) + 1}
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
    else:
        grab_ref = "mm/gup.c:try_grab_folio_fast(FOLL_GET): folio_ref_try_add() (B3)"
    ctx.step("gupf.grab", grab_ref, effect=grab, reads=[pte_l] + mm.ff("ref", "pin"),
             writes=[page_l, lag_l] + mm.ff("ref", "pin"), branches=["gupf.irq_on"])

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
            return drop(s, {GOTO: "gupf.irq_on"})
        return None

    ctx.step("gupf.recheck", "mm/gup.c:gup_fast_pte_range: pte_val(pte) != pte_val(ptep_get_lockless(ptep)) "
             "-> gup_put_folio() (B4)",
             effect=recheck, reads=[mm.pte, pte_l, page_l, lag_l] + mm.ff("ref", "pin", "map", "swapcache"),
             writes=[page_l, lag_l] + mm.all_folio(), branches=["gupf.irq_on"])

    if pin and not write:
        def unshare(s):
            if not getattr(s, pte_l).write and not getattr(s, mm.f["excl"][getattr(s, page_l)]):
                return drop(s, {})
            return None

        ctx.step("gupf.unshare", "mm/gup.c:gup_fast_pte_range: !pte_write(pte) && gup_must_unshare(): "
                 + ("smp_rmb(); " if kf.gup_fast_barriers else "") + "!PageAnonExclusive(page) -> "
                 "gup_put_folio() (B5)",
                 effect=unshare, reads=[pte_l, page_l, lag_l] + mm.ff("excl", "ref", "pin", "map", "swapcache"),
                 writes=[page_l, lag_l] + mm.all_folio())

    def irq_on(s):
        d = {irqs: getattr(s, irqs) - 1}
        if getattr(s, lag_l):
            fid = getattr(s, page_l)
            d[lag_l] = False
            d[pin_f[fid]] = getattr(s, pin_f[fid]) + 1
        return d

    ctx.step("gupf.irq_on", "mm/gup.c:gup_fast: local_irq_restore()"
             + (" [the pin's folio_ref_add() store is visible by now at the latest]" if pin and kf.pin_may_lag
                else ""),
             effect=irq_on, reads=[irqs, lag_l, page_l] + mm.ff("pin"), writes=[irqs, lag_l] + mm.ff("pin"))

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
        ctx.reset(d, "gupf_seq", "gupf_pte")
        return d

    ctx.step("gupf.seq_retry", "mm/gup.c:gup_fast: "
             + ("read_seqcount_retry(&mm->write_protect_seq, seq) -> gup_fast_unpin_user_pages(), "
                "return 0; else sanity_check_pinned_pages()" if check_seq
                else "return the pages" + (" [no mm->write_protect_seq check]" if pin else "")),
             effect=finish, reads=[seq, seq_l, page_l, lag_l] + mm.ff("ref", "pin", "map", "swapcache"),
             writes=[held, page_l, lag_l, result, seq_l, pte_l] + mm.all_folio(), branches=[cont])
    return held


__all__ = ["KernelII", "sync_fields", "emit_tlb_flush", "emit_gup_fast"]
