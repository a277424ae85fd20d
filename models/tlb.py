"""The TLB flush of an unmapping thread and the GUP-fast window it synchronises with: arch
flush_tlb_page()/flush_tlb_range() (arch/x86/mm/tlb.c: IPIs that a CPU with interrupts off
acknowledges only after GUP-fast's local_irq_restore(); arm64: broadcast TLBI, no IPI). See
gup.py for the GUP-fast side and its memory-order abstraction.
"""

from __future__ import annotations


from .mm import MM, Ctx, KernelII


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
