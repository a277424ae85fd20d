"""The lockless core of fork() vs FOLL_PIN GUP-fast as a litmus program (scenario litmus-fork-wpseq).

fork-vs-gup-fast's arm64 result reduced to the accesses that decide it (docs/memory-models.md,
"fork's write_protect_seq"):

* P0, fork (mm/memory.c copy_page_range -> copy_pte_range -> copy_present_ptes in the 2026 tree):
  `raw_write_seqcount_begin(&src_mm->write_protect_seq)` is `s->sequence++; smp_wmb();`; then the PTLs
  are taken (`spin_lock()`: an acquire) and `folio_try_dup_anon_rmap_pte()` reads the pin count
  (`folio_maybe_dma_pinned()`: a plain load). With knob `fork.child_pte_table = "alloc"` the child's
  PTE table is allocated first: `pmd_install()` takes and drops the PMD lock before the PTLs.
* P1, GUP-fast (mm/gup.c try_grab_folio_fast, gup_fast): the pin (`atomic_add()` /
  `folio_ref_add()`), `smp_mb__after_atomic()`, then `read_seqcount_retry()` reads the sequence.

`exists (0:r0=0 /\\ 1:r0=0)`: fork sees no pin and GUP-fast sees the sequence unchanged, so the pin
is kept on a page fork() then shares with the child. GUP-fast's PTE re-check (B4) is left out: in this
outcome it reads the PTE before fork's write-protect, which is consistent with any memory model
(fork's write-protect follows its pin check), so it cannot forbid the outcome.
"""

from __future__ import annotations

from pteverify.litmus import Op, Program, build
from pteverify.model import Knob, builder

K_TABLE = Knob("fork.child_pte_table", "present",
               "present: copy_pte_range() finds the child's PTE table and only takes the PTLs; alloc: "
               "pmd_install() takes and drops the PMD lock first (a release before the PTL acquires)",
               domain=("present", "alloc"))
K_MB = Knob("fork.wp_seq_mb", False, "what-if: smp_mb() instead of smp_wmb() after the sequence store")


def program(table: str = "present", mb: bool = False) -> Program:
    fork = [Op("W", "seq", 1), Op("F", fence="mb" if mb else "wmb")]
    if table == "alloc":
        fork += [Op("L", "pmdl"), Op("U", "pmdl")]
    fork += [Op("L", "ptl"), Op("R", "pin", reg="r0"), Op("U", "ptl")]
    gup = [Op("W", "pin", 1), Op("F", fence="mb"), Op("R", "seq", reg="r0")]
    name = "fork-wpseq" + ("+alloc" if table == "alloc" else "") + ("+mb" if mb else "")
    doc = ("fork() vs FOLL_PIN GUP-fast: write_protect_seq store, smp_" + ("mb" if mb else "wmb")
           + "(), " + ("pmd_install() lock/unlock, " if table == "alloc" else "")
           + "PTL spin_lock(), pin check;\npin, smp_mb__after_atomic(), read_seqcount_retry()")
    return Program(name, [fork, gup], [(0, "r0", 0), (1, "r0", 0)], doc)


@builder(K_TABLE, K_MB)
def fork_wpseq(knobs):
    """fork's write_protect_seq vs GUP-fast's pin: the store-buffering core of fork-vs-gup-fast."""
    return build(program(knobs["fork.child_pte_table"], knobs["fork.wp_seq_mb"]), knobs)
