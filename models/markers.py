"""Special non-present PTEs: the swap-in error entry / poison marker and PTE_MARKER_UFFD_WP.

Read for this model:

* Swap-in error entry: make_swapin_error_entry() (v5.19, SWP_SWAPIN_ERROR swap type, a
  non_swap_entry), converted to a PTE marker (PTE_MARKER_SWAPIN_ERROR, later PTE_MARKER_POISONED) in
  v6.1. do_swap_page() on it returns VM_FAULT_SIGBUS (newest: handle_pte_marker(): POISONED ->
  VM_FAULT_HWPOISON); the data of the slot is gone, an access must never return data.
* mm/madvise.c:madvise_free_pte_range(), 7b49514fa1db "mm/madvise: free hwpoison and swapin error
  entry in madvise_free_pte_range" (v5.19, patch mail read): before it `if (non_swap_entry(entry))
  continue;` kept the error entry, so an access after a successful MADV_FREE still got SIGBUS ("There is
  no reason to kill the process if it has called MADV_FREE on the range"); since, `is_hwpoison_entry ||
  is_swapin_error_entry -> pte_clear_not_present_full()`.
* mm/memory.c:copy_nonpresent_pte() (fork): v5.19/v6.0 copied any other non-swap entry with
  set_pte_at(dst); v6.1 handled the swap-in error marker in the `is_pte_marker_entry()` branch, which
  copied only `if (userfaultfd_wp(dst_vma))` (after 49d6d7fb6313), so a child without uffd-wp lost it
  and read a zero page; 7e3ce3f8d2d2 "mm: fix a few rare cases of using swapin error pte marker" (v6.2,
  diff read in David Hildenbrand's reply): `if (is_swapin_error_entry(entry) || userfaultfd_wp(dst_vma))
  set_pte_at(dst_mm, addr, dst_pte, pte)`.
* PTE_MARKER_UFFD_WP, 999dad824c39 "mm/shmem: persist uffd-wp bit across zapping for file-backed"
  (v5.19, patch v5 10/26 read): pte_install_uffd_wp_if_needed() installs the marker in place of a
  cleared uffd-wp file PTE, called from zap_pte_range() (zap_install_uffd_wp_if_needed(), unless
  ZAP_FLAG_DROP_MARKER: whole-VMA unmap, hole punch) and from try_to_unmap_one(); zap_pte_range() keeps
  an existing marker. A fault on the marker: handle_pte_marker() -> pte_marker_handle_uffd_wp() ->
  do_fault(); do_set_pte() maps `pte_mkuffd_wp(pte_wrprotect(entry))`, so the write faults again and
  do_wp_page() -> userfaultfd_pte_wp() -> handle_userfault().
* copy_nonpresent_pte() for a uffd-wp marker: before 49d6d7fb6313 "mm/uffd: fix pte marker when fork()
  without fork event" (v6.2-rc, stable 5.19+, read in the 6.1 stable backport):
  `WARN_ON_ONCE(!userfaultfd_wp(dst_vma)); set_pte_at(dst_mm, addr, dst_pte, pte);` -- without
  UFFD_FEATURE_EVENT_FORK the child VMA has no VM_UFFD_WP and got the marker anyway (syzkaller,
  bugzilla 216808); since, `if (userfaultfd_wp(dst_vma)) set_pte_at(...)`. For a present PTE,
  copy_present_pte() clears the uffd-wp bit when the child VMA is not uffd-wp.

Abstractions: one address, the parent's PTE and the child's PTE; TLB flushes immediate; the fork copies
the one PTE under both PTLs in one step; page contents are not tracked in the uffd-wp scenario (only
whether a store completed); a fault on a none PTE of an anonymous VMA maps the zero page (read) --
do_anonymous_page()'s zero-fill is what "returns data" means after a swap-in error.
"""

from __future__ import annotations

from dataclasses import dataclass

from pteverify.model import DONE, FREE, GOTO

from .mm import MM, PTE_NONE, Ctx, Pte, pte_present

PTE_MARKER_UFFD_WP = Pte("marker", uffd_wp=True)     # make_pte_marker(PTE_MARKER_UFFD_WP)
FORK_FORMS = ("v5.19", "v6.1", "7e3ce3f8d2d2", "seeded-swap-duplicate")


@dataclass(frozen=True)
class MarkerKernel:
    madvise_frees_error: bool = True          # 7b49514fa1db (v5.19)
    fork_swapin_error: str = "7e3ce3f8d2d2"   # how copy_nonpresent_pte() treats the error entry
    install_uffd_wp_marker: bool = True       # 999dad824c39 (v5.19)
    fork_marker_checks_dst: bool = True       # 49d6d7fb6313 (v6.2)


def is_swap_pte(pte: Pte) -> bool:
    """is_swap_pte(): !pte_none && !pte_present -- true for markers and error entries too."""
    return pte.kind not in ("none", "present")


# ------------------------------------------------------------------------------------------------
# Invariants


def inv_no_data_after_swapin_error(m, loads: list[str], discarded: str) -> None:
    def ok(s):
        return getattr(s, discarded) or all(getattr(s, f) != "data" for f in loads)

    m.invariant("no_data_after_swapin_error", ok, loads + [discarded],
                "after a failed swap read, no access to the address returns data (it gets SIGBUS), "
                "unless the range was discarded (MADV_FREE) first")


def inv_madvise_free_discards_error(m, loads: list[str], discarded_by: str) -> None:
    def ok(s):
        return not getattr(s, discarded_by) or all(getattr(s, f) != "SIGBUS" for f in loads)

    m.invariant("madvise_free_discards_swapin_error", ok, loads + [discarded_by],
                "once MADV_FREE succeeded over the range, an access may see zero-fill but is never "
                "killed by a stale swap-in error entry")


def inv_marker_not_swap_entry(mm: MM, ptes: list[str]) -> None:
    def ok(s):
        return getattr(s, mm.swp_count) == sum(1 for p in ptes if getattr(s, p).kind == "swap")

    mm.m.invariant("marker_not_swap_entry", ok, [mm.swp_count] + ptes,
                   "a marker / error entry is never taken for a swap entry: the slot's swap count equals "
                   "the number of swap PTEs that reference it (no swap_duplicate()/swap_free() of a marker)")


def inv_uffd_wp_write_traps(m, stored: str) -> None:
    m.invariant("uffd_wp_write_traps", lambda s: not getattr(s, stored), [stored],
                "a uffd-wp protected address never accepts a write without a userfault: across zap and "
                "swap-out the protection lives on in PTE_MARKER_UFFD_WP")


def inv_uffd_wp_marker_in_uffd_wp_vma(m, child_pte: str, dst_uffd_wp: bool) -> None:
    m.invariant("uffd_wp_marker_in_uffd_wp_vma",
                lambda s: dst_uffd_wp or getattr(s, child_pte).kind != "marker", [child_pte],
                "a PTE_MARKER_UFFD_WP lives only in a VMA registered for uffd-wp "
                "(copy_nonpresent_pte: WARN_ON_ONCE(!userfaultfd_wp(dst_vma)))")


# ------------------------------------------------------------------------------------------------
# Accesses


def emit_marker_load(ctx: Ctx, mm: MM, pte_field: str, result: str, *, label: str = "load",
                     cont: str = DONE, guard_field: str | None = None) -> None:
    """A load from an anonymous page: present -> data; a swap-in error entry -> do_swap_page():
    VM_FAULT_SIGBUS; none -> do_anonymous_page() maps the zero page (the load reads zero-fill)."""

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
    ctx.step(label, "user space: load [#PF: swap-in error entry -> do_swap_page(): VM_FAULT_SIGBUS; "
             "none -> do_anonymous_page(): zero page]",
             guard=(lambda s: bool(getattr(s, guard_field))) if guard_field else None,
             effect=load, reads=reads, writes=[result], branches=[cont])


def emit_madvise_free(ctx: Ctx, mm: MM, k: MarkerKernel, discarded: str, cont: str) -> None:
    def madvise_free(s):
        pte = getattr(s, mm.pte)
        d = {GOTO: cont, discarded: True}
        if pte.kind == "swapin_error" and k.madvise_frees_error:
            d[mm.pte] = PTE_NONE                           # pte_clear_not_present_full()
        return d

    ref = ("mm/madvise.c:madvise_free_pte_range: pte_offset_map_lock(); !pte_present: "
           + ("is_hwpoison_entry || is_swapin_error_entry -> pte_clear_not_present_full()"
              if k.madvise_frees_error else "non_swap_entry(entry) -> continue"))
    ctx.step("madvise_free", ref, guard=lambda s: getattr(s, mm.ptl) == FREE, effect=madvise_free,
             reads=[mm.pte, mm.ptl], writes=[mm.pte, discarded], branches=[cont])


def emit_fork_copy(ctx: Ctx, mm: MM, k: MarkerKernel, child_pte: str, dst_uffd_wp: bool,
                   forked: str) -> None:
    """fork(): copy_page_range() -> copy_pte_range() -> copy_nonpresent_pte()/copy_present_pte() for the
    address, under both PTLs."""

    def fork(s):
        pte = getattr(s, mm.pte)
        d = {forked: True, GOTO: DONE}
        if pte.kind == "swapin_error":
            form = k.fork_swapin_error
            if form == "seeded-swap-duplicate":
                d[mm.swp_count] = getattr(s, mm.swp_count) + 1   # swap_duplicate(entry) on a marker
                d[child_pte] = pte
            elif form == "v6.1" and not dst_uffd_wp:
                pass                                       # is_pte_marker_entry(): dropped
            else:
                d[child_pte] = pte
        elif pte.kind == "marker":
            if dst_uffd_wp or not k.fork_marker_checks_dst:
                d[child_pte] = pte
        elif pte.kind == "swap":
            d[mm.swp_count] = getattr(s, mm.swp_count) + 1
            d[child_pte] = pte._replace(exclusive=False, uffd_wp=pte.uffd_wp and dst_uffd_wp)
        elif pte.present:
            mm.get_folio(s, d, pte.folio)
            mm.fset(d, pte.folio, map=getattr(s, mm.f["map"][pte.folio]) + 1)
            d[child_pte] = pte._replace(uffd_wp=pte.uffd_wp and dst_uffd_wp, dirty=False)
        return d

    parts = {
        "v5.19": "swapin error entry: a non_swap_entry -> set_pte_at(dst_mm, dst_pte, pte)",
        "v6.1": "is_pte_marker_entry(entry): if (userfaultfd_wp(dst_vma)) set_pte_at(dst)",
        "7e3ce3f8d2d2": "is_pte_marker_entry(entry): if (is_swapin_error_entry(entry) || "
                        "userfaultfd_wp(dst_vma)) set_pte_at(dst)",
        "seeded-swap-duplicate": "[seeded] the error entry taken for a swap entry: swap_duplicate(entry)",
    }
    marker = ("uffd-wp marker: if (userfaultfd_wp(dst_vma)) set_pte_at(dst)" if k.fork_marker_checks_dst
              else "uffd-wp marker: WARN_ON_ONCE(!userfaultfd_wp(dst_vma)); set_pte_at(dst)")
    ctx.step("copy_page_range", "kernel/fork.c:dup_mmap -> mm/memory.c:copy_page_range -> "
             "copy_pte_range [both PTLs] -> copy_nonpresent_pte: " + parts[k.fork_swapin_error] + "; "
             + marker + "; copy_present_pte: !userfaultfd_wp(dst_vma) -> pte_clear_uffd_wp()",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=fork,
             reads=[mm.pte, mm.ptl, mm.swp_count] + mm.ff("ref", "map"),
             writes=[forked, child_pte, mm.swp_count] + mm.ff("ref", "map"), branches=[DONE])


# ------------------------------------------------------------------------------------------------
# uffd-wp on file memory: zap, swap-out unmap, and the writer


def _install_marker(k: MarkerKernel, pteval: Pte) -> Pte:
    """pte_install_uffd_wp_if_needed(vma, addr, pte, pteval) for a file-backed VMA."""
    if k.install_uffd_wp_marker and pteval.uffd_wp and pteval.kind in ("present", "swap", "marker"):
        return PTE_MARKER_UFFD_WP
    return PTE_NONE


def emit_zap(ctx: Ctx, mm: MM, k: MarkerKernel) -> None:
    """madvise(MADV_DONTNEED) -> zap_page_range -> zap_pte_range() without ZAP_FLAG_DROP_MARKER."""

    def zap(s):
        pte = getattr(s, mm.pte)
        d = {GOTO: DONE}
        if pte.present:
            d[mm.pte] = _install_marker(k, pte)            # ptep_get_and_clear_full(); zap_install_...
            fid = pte.folio
            mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)   # page_remove_rmap()
            mm.put_folio(s, d, fid)
        return d                                           # a marker is kept; none is skipped

    ctx.step("zap_pte_range", "mm/madvise.c:madvise_dontneed_single_vma -> mm/memory.c:zap_pte_range: "
             "ptep_get_and_clear_full(); " + ("zap_install_uffd_wp_if_needed(); " if k.install_uffd_wp_marker
                                              else "") + "page_remove_rmap(); a PTE marker is kept",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=zap,
             reads=[mm.pte, mm.ptl] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.pte] + mm.all_folio(), branches=[DONE])


def emit_unmap_file(ctx: Ctx, mm: MM, k: MarkerKernel) -> None:
    """shrink_folio_list() on the shmem folio: try_to_unmap() -> try_to_unmap_one() (file page)."""

    def unmap(s):
        pte = getattr(s, mm.pte)
        d = {GOTO: DONE}
        if pte.present:
            d[mm.pte] = _install_marker(k, pte)            # ptep_clear_flush(); pte_install_uffd_wp_...
            fid = pte.folio
            mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)
            mm.put_folio(s, d, fid)
        return d

    ctx.step("try_to_unmap_one", "mm/vmscan.c:shrink_folio_list -> mm/rmap.c:try_to_unmap_one [file folio]: "
             "pteval = ptep_clear_flush(); " + ("pte_install_uffd_wp_if_needed(vma, address, pvmw.pte, "
                                                "pteval); " if k.install_uffd_wp_marker else "")
             + "page_remove_rmap() [then shmem_writepage() moves the data to swap]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=unmap,
             reads=[mm.pte, mm.ptl] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.pte] + mm.all_folio(), branches=[DONE])


def emit_uffd_wp_store(ctx: Ctx, mm: MM, stored: str, result: str, page_cache: str) -> None:
    """The protected task stores to the address, faulting as the kernel makes it.
    `page_cache`: the folio the shmem file holds at this index (what do_fault() maps)."""

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
             writes=[mm.pte, stored, result] + mm.ff("ref", "map"), branches=[DONE, "store"])


__all__ = ["PTE_MARKER_UFFD_WP", "FORK_FORMS", "MarkerKernel", "is_swap_pte",
           "inv_no_data_after_swapin_error", "inv_madvise_free_discards_error", "inv_marker_not_swap_entry",
           "inv_uffd_wp_write_traps", "inv_uffd_wp_marker_in_uffd_wp_vma", "emit_marker_load",
           "emit_madvise_free", "emit_fork_copy", "emit_zap", "emit_unmap_file", "emit_uffd_wp_store"]
