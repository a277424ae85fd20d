"""Scenario builders for issue "Anon-exclusive II": GUP-fast, fork, COW isolation and migration entries.

* `gup_fast_vs_unmap`: race III of 6c287605fd56 ("mm: remember exclusively mapped anonymous pages
  with PG_anon_exclusive"): try_to_unmap_one() replaces the PTE of an exclusive page by a swap entry
  while pin_user_pages_fast() pins it;
* `gup_fast_vs_migrate_fork`: race II of the same message: try_to_migrate_one(), GUP-fast and fork;
* `fork_vs_gup_fast`: fork write-protecting the parent's PTE while a FOLL_PIN GUP-fast pins the page
  (57efa1fe5957 "mm/gup: prevent gup_fast from racing with COW during fork");
* `fork_pin_leak`: the child's read-only GUP reference after fork must never see the parent's later
  writes (the "COW can break either way" leak, CVE-2020-29374);
* `fork_swap_entry`: fork over a swapped-out exclusive page (copy_nonpresent_pte clears the swp
  exclusive bit, 1493a1913e34);
* `migration_exclusive`: an exclusive page migrated while mprotect() write-protects its migration
  entry and a vmsplice()/pin reference is held.

The invariants span both processes after a fork (`procs`): a present PTE is judged while its PTL is
free (inside a PTL-held section a PTE and its page's flags change in separate steps, e.g. fork's
folio_try_dup_anon_rmap and wrprotect_ptes).
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, Knob, KnobError, Model, builder

from ..fork import emit_child_start
from ..gup import emit_gup, emit_gup_fast, emit_gup_release
from ..memory import emit_fault_handlers, emit_fork, emit_zap, use_mapcount_reuse, wait_on_migration_entries
from ..migrate import emit_migrate_pages
from ..mm import (MM, MPROTECT_WRITABLE_FORMS, NO_FOLIO, ORIGINAL, child_thread, child_view, holds_write, Kernel,
    KernelII, pte_present, pte_swap)
from ..mprotect import emit_mprotect
from .anon_exclusive import K_ANON_EXCLUSIVE, K_MAP_WRITABLE, K_SWAP_TABLE, KERNEL_2026_KNOBS, _mapped_exclusive
from ..user import emit_access
from ..vmscan import emit_shrink_page_list
from ..invariants import (final_nothing_leaked, final_store_lands, final_write_protect_seq_closed,
    inv_swap_pte_page_not_exclusive, progress_every_thread_finishes)


ARCHES = {"x86-64": (True, True), "arm64": (False, False), "ipi-weak": (True, False)}


K_ARCH = Knob("arch", "x86-64",
              "x86-64: flush_tlb_range() IPIs and waits, folio_ref_add() is lock-prefixed (a full "
              "barrier); arm64: broadcast TLBI without IPI (RCU GUP-fast, 2667f50e8b81), relaxed "
              "atomics; ipi-weak (what-if): IPI flushes with relaxed atomics", domain=tuple(ARCHES))


K_BARRIERS = Knob("gup_fast.barriers", True,
                  "088b8aa537c2 (v6.0) \"mm: fix PageAnonExclusive clearing racing with concurrent RCU "
                  "GUP-fast\": smp_mb__after_atomic() after the pin, smp_mb() in "
                  "page_try_share_anon_rmap(); try_to_unmap_one() may defer the flush of exclusive pages")


K_LAG = Knob("gup_fast.pin_lag_by_hand", True,
             "the SC-era abstraction of arm64's late pin: gupf.grab chooses between the pin visible at once "
             "and visible at local_irq_restore(); false: no hand-written reordering. Under a memory model "
             "other than sc (run --memory-model, a variant's memory_model) it is off: the model decides")


K_WPSEQ_MB = Knob("fork.wp_seq_mb", False,
                  "what-if: a full smp_mb() after fork's raw_write_seqcount_begin(&src_mm->write_protect_seq) "
                  "(the kernel has its smp_wmb() only, then spin_lock(), an acquire on arm64); matters only "
                  "under a weak memory model")


K_CHILD_TABLE = Knob("fork.child_pte_table", "present",
                     "the child's PTE table when copy_pte_range() reaches the modelled PTE, the first of "
                     "the VMA's walk: present (a VMA copied earlier in this fork() shares the PMD: "
                     "pte_alloc_map_lock() only takes the PTLs, acquires) or alloc (__pte_alloc() -> "
                     "pmd_install() takes and drops the PMD lock first: a release before the acquires, "
                     "which orders the write_protect_seq store before the pin check on arm64)",
                     domain=("present", "alloc"))


K_CLEAR = Knob("rmap.clear_before_share", True,
               "try_to_unmap_one/try_to_migrate_one clear (invalidate + flush) the PTE before "
               "page_try_share_anon_rmap() checks the pins (6c287605fd56); false: seeded mutation")


K_WPSEQ = Knob("fork.write_protect_seq", True,
               "fork() brackets copy_page_range() with mm->write_protect_seq and FOLL_PIN GUP-fast "
               "backs off when it changed (57efa1fe5957, v5.11)")


K_FORK_COPY = Knob("fork.copy_pinned", True,
                   "fork() gives the child a copy of a maybe-DMA-pinned page (70e806e4e645, v5.9)")


K_FORK_SWP = Knob("fork.clear_swp_exclusive", True,
                  "copy_nonpresent_pte() clears the swp exclusive bit in the parent and the child "
                  "(1493a1913e34); false: seeded mutation")


K_MPROTECT = Knob("mprotect.readable_exclusive", True,
                  "change_pte_range() turns a writable migration entry of an anon page into a "
                  "readable-exclusive one (6c287605fd56); false: readable, as before it")


K_MPROTECT_WRITABLE = Knob("mprotect.try_change_writable", "mainline-2026",
                           "change_pte_range(PROT_READ|PROT_WRITE) on a present private anon PTE: v5.19 "
                           "(left write-protected: the next store faults), 64fe24a3e05e (v6.0, "
                           "MM_CP_TRY_CHANGE_WRITABLE: can_change_pte_writable() makes a dirty PTE of a "
                           "PageAnonExclusive page writable unless soft-dirty or uffd-wp tracking needs the "
                           "fault), mainline-2026 (linux-mm 2026: change_present_ptes() -> "
                           "set_write_prot_commit_flush_ptes() -> commit_anon_folio_batch(), clean or dirty)",
                           domain=MPROTECT_WRITABLE_FORMS)
K_MPROTECT_EXCL = Knob("mprotect.writable_needs_exclusive", True,
                       "the writable upgrade of change_pte_range() reads PageAnonExclusive() "
                       "(can_change_pte_writable() / commit_anon_folio_batch()); false: seeded mutation "
                       "that makes a possibly shared anon PTE writable")


K_MIG_EXCL = Knob("migration.rmap_exclusive", True,
                  "remove_migration_pte() restores PG_anon_exclusive from a writable or "
                  "readable-exclusive entry (6c287605fd56); false: seeded mutation")


K_REUSE_MAPCOUNT = Knob("cow.reuse_by_mapcount", False,
                        "do_wp_page() reuses a page mapped once (reuse_swap_page(), before "
                        "09854ba94c6a); needs mm.anon_exclusive = false")


K_COW_BREAK = Knob("gup.cow_break", False,
                   "GUP on a COW mapping breaks COW like FOLL_WRITE (17839856fd58, v5.8)")


K_FOLL_PIN = Knob("gup.foll_pin", False,
                  "the reference is a FOLL_PIN (pin_user_pages) instead of FOLL_GET (vmsplice)")


K_MIG_FORK = Knob("migration.fork", False, "the process forks before mprotect()")
K_GUPF_WRITE = Knob("gup_fast.write", True,
                    "pin_user_pages_fast() with FOLL_WRITE; false: a read-only FOLL_PIN, which must not "
                    "pin a possibly shared anon page (gup_must_unshare(), B5); needs mm.anon_exclusive")
K_SOFT_DIRTY_WP = Knob("pte.soft_dirty_cleared", False,
                       "the page's PTE starts write-protected with PG_anon_exclusive still set, as "
                       "clear_refs' CLEAR_REFS_SOFT_DIRTY leaves it (fs/proc/task_mmu.c:clear_soft_dirty(): "
                       "pte_wrprotect(), pte_clear_soft_dirty(); the page's flags are untouched): the "
                       "writer's store faults and do_wp_page() reuses the exclusive page, under the PTL "
                       "fork() takes to share it")
K_GUPF_UNSHARE = Knob("gup_fast.unshare", True,
                      "a read-only FOLL_PIN GUP-fast drops the pin of a !PageAnonExclusive page (B5) "
                      "and falls back to the slow path's unshare fault; false: seeded mutation")


def _kernels(knobs, **fixed) -> tuple[Kernel, KernelII]:
    ae = knobs["mm.anon_exclusive"] if "mm.anon_exclusive" in knobs.declared else True
    k = Kernel(anon_exclusive=ae, remember_exclusive=ae, synchronous_io=False,
               **{attr: knobs[knob] for knob, attr in KERNEL_2026_KNOBS.items() if knob in knobs.declared})
    values = dict(fixed)
    names = {"gup_fast.barriers": "gup_fast_barriers", "gup_fast.pin_lag_by_hand": "pin_lag_by_hand",
             "fork.wp_seq_mb": "fork_wp_seq_mb", "rmap.clear_before_share": "clear_before_share",
             "fork.write_protect_seq": "write_protect_seq", "fork.copy_pinned": "fork_copy_pinned",
             "fork.clear_swp_exclusive": "fork_clear_swp_exclusive",
             "mprotect.readable_exclusive": "mprotect_readable_exclusive",
             "mprotect.try_change_writable": "mprotect_try_change_writable",
             "mprotect.writable_needs_exclusive": "mprotect_writable_needs_exclusive",
             "migration.rmap_exclusive": "migration_rmap_exclusive", "gup.cow_break": "gup_cow_break"}
    for knob, attr in names.items():
        if knob in knobs.declared:
            values[attr] = knobs[knob]
    if getattr(knobs, "memory_model", "sc") != "sc":
        values["pin_lag_by_hand"] = False      # the memory model decides when the pin is visible
    if "fork.child_pte_table" in knobs.declared:
        values["fork_child_table_alloc"] = knobs["fork.child_pte_table"] == "alloc"
    if "arch" in knobs.declared:
        values["tlb_flush_ipi"], values["ordered_atomics"] = ARCHES[knobs["arch"]]
    if "cow.reuse_by_mapcount" in knobs.declared and knobs["cow.reuse_by_mapcount"]:
        if ae:
            raise KnobError("knob cow.reuse_by_mapcount: needs mm.anon_exclusive = false (v5.19's "
                            "do_wp_page reuses by PG_anon_exclusive)")
        values["wp_reuse"] = "mapcount"
    else:
        values["wp_reuse"] = "anon_exclusive" if ae else "page_count"
    return k, KernelII(**values)


def _fault_handlers(ctx, k: Kernel, kf: KernelII) -> None:
    emit_fault_handlers(ctx, k)
    if kf.wp_reuse == "mapcount":
        use_mapcount_reuse(ctx)


def _settled(s, proc: MM) -> bool:
    return getattr(s, proc.ptl) == FREE


def inv_writable_pte_maps_exclusive_page(m: Model, procs: list[MM]) -> None:
    mm = procs[0]

    def ok(s):
        for p in procs:
            pte = getattr(s, p.pte)
            if pte.present and pte.write and _settled(s, p) and not getattr(s, mm.f["excl"][pte.folio]):
                return False
        return True

    m.invariant("writable_pte_maps_exclusive_page", ok,
                [x for p in procs for x in (p.pte, p.ptl)] + mm.ff("excl"),
                "a writable present PTE of any process maps a PG_anon_exclusive page (do_swap_page: "
                "VM_BUG_ON(pte_write(pte) && !PageAnonExclusive(page))); judged with that PTE's PTL free")


def inv_pinned_mapped_page_is_exclusive(m: Model, procs: list[MM], pins: list[str]) -> None:
    """`pins`: the locals / ghosts holding the pages FOLL_PIN GUPs returned (a GUP-fast's pin in flight,
    between B3 and its back-off, is not one of them)."""
    mm = procs[0]

    def ok(s):
        pinned = {getattr(s, h) for h in pins} - {NO_FOLIO}
        for p in procs:
            pte = getattr(s, p.pte)
            if (pte.present and pte.folio in pinned and _settled(s, p)
                    and not getattr(s, mm.f["excl"][pte.folio])):
                return False
        return True

    m.invariant("pinned_mapped_page_is_exclusive", ok,
                [x for p in procs for x in (p.pte, p.ptl)] + list(pins) + mm.ff("excl"),
                "a FOLL_PIN'd anonymous page (pinned by a GUP that returned it) mapped by a present PTE "
                "of any process is PG_anon_exclusive (gup_must_unshare(); \"we have a pinned page that is "
                "not marked exclusive anymore\", 6c287605fd56)")


def inv_writable_page_not_shared(m: Model, procs: list[MM]) -> None:
    """A page one process can write without a fault is mapped by no other process (COW isolation)."""
    def ok(s):
        for p in procs:
            pte = getattr(s, p.pte)
            if pte.present and pte.write and _settled(s, p):
                if any(getattr(s, q.pte).folio == pte.folio and getattr(s, q.pte).kind in ("present", "migration")
                       for q in procs if q is not p):
                    return False
        return True

    m.invariant("writable_page_not_shared", ok, [x for p in procs for x in (p.pte, p.ptl)],
                "COW isolation: a page a process can write through a writable PTE (no fault) is mapped by no "
                "other process (present PTE or migration entry): after fork() shared it, only a write fault "
                "(do_wp_page(): reuse of an exclusive page, else a copy) may make it writable again, and "
                "mprotect()'s writable upgrade only for a PageAnonExclusive() page; a write through it "
                "would land in the other process's memory")


def inv_exclusive_page_mapped_once(m: Model, mm: MM) -> None:
    """PG_anon_exclusive means "mapped by exactly one process": a small exclusive folio is never
    mapped twice."""
    def ok(s):
        return not any(getattr(s, mm.f["excl"][f]) and getattr(s, mm.f["map"][f]) > 1 for f in mm.folios)

    m.invariant("exclusive_page_mapped_once", ok, mm.ff("excl", "map"),
                "a PG_anon_exclusive (small) page is mapped by at most one PTE: fork() clears the flag "
                "(folio_try_dup_anon_rmap_pte()) before it maps the page in the child, and "
                "__folio_add_anon_rmap() warns on an exclusive page that is already mapped "
                "(VM_WARN_ON_FOLIO(PageAnonExclusive(page) && folio->_mapcount > 0))")


def final_child_inherits_the_page(m: Model, child: MM) -> None:
    """A final predicate: the child's address is mapped once every task is done. No thread here
    unmaps it, so it holds what fork() copied: the parent's present PTE (shared or, pinned, a copy) or
    its migration entry (later restored by remove_migration_pte())."""
    m.final("child_inherits_the_page", lambda s: getattr(s, child.pte).kind != "none", [child.pte],
            "once every task is done the child's address is mapped: copy_pte_range() gave the child the "
            "parent's PTE, or copy_nonpresent_pte() its migration entry (the child's memory is a copy "
            "of the parent's; an address left empty would fault in a zeroed page)")


def reachable_page_migrated(m: Model, mm: MM, why: str) -> None:
    """A reachable outcome: migration can succeed. `why` says why only a successful migration leaves
    the process's address mapped by another folio than the original A in this scenario."""
    def migrated(s):
        pte = getattr(s, mm.pte)
        return pte.present and pte.folio != "A"

    m.reachable("page_migrated", migrated, [mm.pte],
                "in some run the page is migrated: once no other reference is left, "
                "folio_migrate_mapping() freezes the refcount and moves the folio, and "
                "remove_migration_pte() maps the new one (" + why + ")")


def inv_pinned_page_is_exclusive(m: Model, mm: MM, held: str) -> None:
    def ok(s):
        fid = getattr(s, held)
        return fid == NO_FOLIO or not _settled(s, mm) or getattr(s, mm.f["excl"][fid])

    m.invariant("pinned_page_is_exclusive", ok, [held, mm.ptl] + mm.ff("excl"),
                "a page that FOLL_PIN GUP returned is PG_anon_exclusive while pinned "
                "(mm/gup.c:sanity_check_pinned_pages(): VM_BUG_ON_PAGE(!PageAnonExclusive(page))); "
                "judged with the PTL free (page table consistent)")


def inv_pinned_page_is_mapped_page(m: Model, proc: MM, held: str) -> None:
    def ok(s):
        fid = getattr(s, held)
        pte = getattr(s, proc.pte)
        return fid == NO_FOLIO or not pte.present or not _settled(s, proc) or pte.folio == fid

    m.invariant("pinned_page_is_mapped_page", ok, [held, proc.pte, proc.ptl],
                "a FOLL_PIN|FOLL_WRITE pin is reliable: while it is held, the pinning process's present "
                "PTE maps the pinned page (a write fault never replaces it: the DMA and the process see "
                "the same page)")


def inv_cow_isolation(m: Model, procs: list[tuple[MM, str, list[str]]]) -> None:
    """`procs`: (process view, the tag of its writes, locals holding its GUP references)."""
    mm = procs[0][0]
    tags = [tag for _, tag, _ in procs]

    def visible(s, p: MM, held: list[str]):
        out = [getattr(s, h) for h in held if getattr(s, h) != NO_FOLIO]
        page = p.page_at_address(s)
        if page is not None:
            out.append(page)
        elif getattr(s, p.pte).is_swap:
            yield getattr(s, mm.swp_data)
        for fid in out:
            yield getattr(s, mm.f["data"][fid])

    def ok(s):
        if any(not _settled(s, p) for p, _, _ in procs):
            return True
        for p, tag, held in procs:
            for data in visible(s, p, held):
                if any(holds_write(data, other) for other in tags if other != tag):
                    return False
        return True

    reads = [x for p, _, held in procs for x in [p.pte, p.ptl] + held]
    m.invariant("cow_isolation", ok, reads + [mm.swp_cache, mm.swp_data] + mm.ff("data"),
                "COW isolation: no write one process makes after fork() is visible to another process, "
                "through its mapping (present PTE, or the swap cache / slot behind its swap PTE) or a "
                "GUP reference or pin it holds")


def inv_exclusive_page_not_replaced(m: Model, mm: MM, held: str) -> None:
    """`held`: the ghost naming the page the vmsplice() / pin reference holds."""

    def ok(s):
        fid = getattr(s, held)
        pte = getattr(s, mm.pte)
        return fid == NO_FOLIO or not pte.present or not _settled(s, mm) or pte.folio == fid

    m.invariant("exclusive_page_not_replaced", ok, [held, mm.pte, mm.ptl],
                "an exclusive anonymous page with a GUP reference (vmsplice) stays the page mapped at "
                "the address across migration and mprotect: the next write fault reuses it, it does "
                "not copy it away from the reference (as test_swp_exclusive checks for swap)")

@builder(K_ARCH, K_BARRIERS, K_CLEAR, K_SWAP_TABLE, K_LAG)
def gup_fast_vs_unmap(knobs) -> Model:
    """Race III: try_to_unmap_one() (swap-out) vs pin_user_pages_fast(FOLL_PIN|FOLL_WRITE)."""
    k, kf = _kernels(knobs)
    m = Model("gup-fast-vs-unmap", "swap-out's try_to_unmap_one vs a FOLL_PIN GUP-fast", knobs)
    mm = MM(m, folios=("A",))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    # reclaim isolated A (one reference) and add_to_swap() put it in the swap cache (another one)
    mm.add_folios(A=_mapped_exclusive(k, ref=3, swapcache=True, dirty=True))
    mm.add_swap_slot(has_cache=True, cache="A")

    reclaim = mm.thread("reclaim", "kswapd: shrink_folio_list() -> try_to_unmap() on the isolated, "
                        "locked folio, already in the swap cache")
    isolated = mm.ghost("reclaim_holds", "A", "the folio whose isolation reference reclaim holds (kept "
                        "through pageout(), which is not modelled further; dropped by putback)")
    emit_shrink_page_list(reclaim, k, isolated=("A", isolated), kf=kf,
                          deferred_flush=kf.gup_fast_barriers and kf.clear_before_share)

    gup = mm.thread("gup_fast", "a thread of the process: pin_user_pages_fast(FOLL_PIN|FOLL_WRITE) "
                    "of the page (io_uring fixed buffer, RDMA)")
    held = emit_gup_fast(gup, kf, write=True)

    inv_pinned_page_is_exclusive(m, mm, held)
    inv_pinned_mapped_page_is_exclusive(m, [mm], [held])
    inv_swap_pte_page_not_exclusive(mm)
    final_nothing_leaked(mm, holders=(held, isolated))
    progress_every_thread_finishes(m)
    return m

@builder(K_ARCH, K_BARRIERS, K_CLEAR, K_SWAP_TABLE)
def gup_fast_vs_migrate_fork(knobs) -> Model:
    """Race II: try_to_migrate_one(), pin_user_pages_fast() and fork()."""
    k, kf = _kernels(knobs)
    m = Model("gup-fast-vs-migrate-fork", "migration vs a FOLL_PIN GUP-fast and fork", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    child = child_view(mm)

    gup = mm.thread("gup_fast", "a thread of the process: pin_user_pages_fast(FOLL_PIN|FOLL_WRITE)")
    held = emit_gup_fast(gup, kf, write=True)
    parent = mm.thread("fork", "a thread of the process calls fork()")
    emit_fork(parent, k, kf, mm, child)
    migrate = mm.thread("migrate", "kcompactd / migrate_pages() of the page")
    emit_migrate_pages(migrate, k, kf, [mm, child])

    inv_pinned_mapped_page_is_exclusive(m, [mm, child], [held])
    inv_writable_pte_maps_exclusive_page(m, [mm, child])
    inv_exclusive_page_mapped_once(m, mm)
    final_nothing_leaked(mm, ptes=[mm.pte, child.pte], holders=(held,))
    if kf.write_protect_seq:
        final_write_protect_seq_closed(mm)
    final_child_inherits_the_page(m, child)
    reachable_page_migrated(m, mm, "the parent never stores here: nothing else replaces A in its PTE")
    progress_every_thread_finishes(m)
    return m


@builder(K_ANON_EXCLUSIVE, K_WPSEQ, K_FORK_COPY, K_GUPF_WRITE, K_GUPF_UNSHARE, K_ARCH, K_BARRIERS, K_LAG, K_WPSEQ_MB,
         K_CHILD_TABLE, K_SWAP_TABLE, K_SOFT_DIRTY_WP)
def fork_vs_gup_fast(knobs) -> Model:
    """fork() write-protecting the parent's PTE vs pin_user_pages_fast(FOLL_PIN[|FOLL_WRITE]) and a store."""
    k, kf = _kernels(knobs)
    write, unshare = knobs["gup_fast.write"], knobs["gup_fast.unshare"]
    if not write and not k.anon_exclusive:
        raise KnobError("knob gup_fast.write: a read-only FOLL_PIN is modelled with mm.anon_exclusive = true "
                        "(gup_must_unshare() reads PG_anon_exclusive)")
    if not unshare and write:
        raise KnobError("knob gup_fast.unshare: applies to a read-only FOLL_PIN (gup_fast.write = false)")
    m = Model("fork-vs-gup-fast", "fork vs a FOLL_PIN GUP-fast: the pin must stay the parent's page", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    if knobs["pte.soft_dirty_cleared"]:
        mm.add_pte(pte_present("A", write=False, dirty=True, soft_dirty=False))
    else:
        mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    child = child_view(mm)

    parent = mm.thread("fork", "a thread of the process calls fork()")
    emit_fork(parent, k, kf, mm, child)
    gup = mm.thread("gup_fast", "a thread of the process: pin_user_pages_fast(FOLL_PIN"
                    + ("|FOLL_WRITE)" if write else ") of a buffer only read by the device"))
    held = emit_gup_fast(gup, kf, write=write, unshare=unshare)
    writer = mm.thread("writer", "a thread of the process stores to the page")
    emit_access(writer, k, "store", "parent")
    _fault_handlers(writer, k, kf)

    if k.anon_exclusive:
        inv_pinned_mapped_page_is_exclusive(m, [mm, child], [held])
        inv_writable_pte_maps_exclusive_page(m, [mm, child])
        inv_exclusive_page_mapped_once(m, mm)
    inv_pinned_page_is_mapped_page(m, mm, held)
    final_nothing_leaked(mm, ptes=[mm.pte, child.pte], holders=(held,))
    final_store_lands(mm, "parent", "writer")
    if kf.write_protect_seq:
        final_write_protect_seq_closed(mm)
    progress_every_thread_finishes(m)
    return m

@builder(K_ANON_EXCLUSIVE, K_REUSE_MAPCOUNT, K_COW_BREAK, K_FOLL_PIN, K_FORK_COPY, K_WPSEQ, K_SWAP_TABLE)
def fork_pin_leak(knobs) -> Model:
    """After fork, the child's R/O GUP reference must never see the parent's later writes."""
    k, kf = _kernels(knobs)
    pin = knobs["gup.foll_pin"]
    m = Model("fork-pin-leak", "COW isolation: the child's read-only GUP reference after fork", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    child = child_view(mm)

    parent = mm.thread("parent", "the parent: fork(), then a store to the page")
    emit_fork(parent, k, kf, mm, child, cont="access")
    emit_access(parent, k, "store", "parent")
    _fault_handlers(parent, k, kf)

    kid = child_thread(child, "child", "the child: vmsplice() of the page into a pipe (a R/O GUP "
                       "reference), then madvise(MADV_DONTNEED)")
    emit_child_start(kid)
    flags = "FOLL_PIN" if pin else "FOLL_GET"
    if kf.gup_cow_break:
        ref = (f"fs/splice.c:vmsplice_to_pipe -> mm/gup.c:follow_page_pte({flags}): "
               "should_force_cow_break() -> FOLL_WRITE (17839856fd58); try_grab_page()")
    else:
        ref = (f"fs/splice.c:vmsplice_to_pipe -> mm/gup.c:follow_page_pte({flags}): "
               + ("gup_must_unshare() -> FAULT_FLAG_UNSHARE; " if pin and k.anon_exclusive else "")
               + "try_grab_page() [the pipe holds the page]")
    held = emit_gup(kid, k, write=kf.gup_cow_break, pin=pin, ref=ref, cont="zap")
    emit_zap(kid)
    _fault_handlers(kid, k, kf)

    inv_cow_isolation(m, [(mm, "parent", []), (child, "child", [held])])
    if k.anon_exclusive:
        inv_writable_pte_maps_exclusive_page(m, [mm, child])
    if k.anon_exclusive and pin:
        inv_pinned_mapped_page_is_exclusive(m, [mm, child], [held])
    final_nothing_leaked(mm, ptes=[mm.pte, child.pte], holders=(held,))    # the pipe keeps its page
    final_store_lands(mm, "parent", "parent")

    def child_unmapped(s):
        return getattr(s, child.pte).kind == "none"

    m.final("child_range_zapped", child_unmapped, [child.pte],
            "after madvise(MADV_DONTNEED) returned the child's address is unmapped (zap_pte_range() "
            "cleared the PTE; only a new fault could map it again, and the child makes none)")

    def pipe_reads_fork_time_data(s):
        fid = getattr(s, held)
        return fid != NO_FOLIO and not holds_write(getattr(s, mm.f["data"][fid]), "parent")

    m.final("pipe_reads_fork_time_data", pipe_reads_fork_time_data, [held] + mm.ff("data"),
            "read(pipe) in the child returns the page as it was at fork(): the pipe holds a page "
            "(vmsplice() took a reference) and the parent's later store is not in it")
    progress_every_thread_finishes(m)
    return m

@builder(K_ANON_EXCLUSIVE, K_FORK_SWP, K_SWAP_TABLE, K_MAP_WRITABLE)
def fork_swap_entry(knobs) -> Model:
    """fork() over a swapped-out exclusive page; both processes then store to it."""
    k, kf = _kernels(knobs)
    m = Model("fork-swap-entry", "fork over an exclusive swap entry: neither process may reuse the "
              "page the other still references", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_swap(exclusive=k.swp_exclusive, soft_dirty=True))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    child = child_view(mm)

    parent = mm.thread("parent", "the parent: fork(), then a store to the page")
    emit_fork(parent, k, kf, mm, child, cont="access")
    emit_access(parent, k, "store", "parent")
    _fault_handlers(parent, k, kf)
    kid = child_thread(child, "child", "the child stores to the page")
    emit_child_start(kid)
    emit_access(kid, k, "store", "child", on_none="child.no_pte")
    _fault_handlers(kid, k, kf)
    # A child that ran before copy_page_range() filled its page table would find the address
    # unmapped: do_anonymous_page() gives it a new zeroed page, not the memory it inherited, and its
    # store is not in the page its swap PTE (copied later) resolves to. Not followed further: the
    # thread ends with its store lost (child_store_lands fails).
    kid.step("child.no_pte", "the child's store finds no PTE (it runs before copy_page_range() filled its "
             "page table): the fault's do_anonymous_page() maps a new zeroed folio, not the inherited page "
             "[not followed: the store is lost]", effect=lambda s: {GOTO: DONE}, branches=[DONE])

    if k.anon_exclusive:
        inv_swap_pte_page_not_exclusive(mm, [mm, child])
        inv_writable_pte_maps_exclusive_page(m, [mm, child])
        inv_exclusive_page_mapped_once(m, mm)
    inv_cow_isolation(m, [(mm, "parent", []), (child, "child", [])])
    final_nothing_leaked(mm, ptes=[mm.pte, child.pte])
    final_store_lands(mm, "parent", "parent")
    final_store_lands(child, "child", "child")
    if kf.write_protect_seq:
        final_write_protect_seq_closed(mm)
    progress_every_thread_finishes(m)
    return m

@builder(K_ANON_EXCLUSIVE, K_MPROTECT, K_MIG_EXCL, K_FOLL_PIN, K_MIG_FORK, K_SWAP_TABLE, K_MPROTECT_WRITABLE,
         K_MPROTECT_EXCL)
def migration_exclusive(knobs) -> Model:
    """Migration of an exclusive page with a vmsplice()/pin reference, through mprotect() (and fork)."""
    k, kf = _kernels(knobs)
    pin, fork = knobs["gup.foll_pin"], knobs["migration.fork"]
    if fork and not pin:
        raise KnobError("knob migration.fork: needs gup.foll_pin = true (a FOLL_GET reference is not "
                        "reliable across fork: the parent's COW legitimately replaces the page)")
    m = Model("migration-exclusive", "migration entries keep PG_anon_exclusive through mprotect and fork",
              knobs)
    mm = MM(m, folios=("A", "B", "C", "D"))     # migration target, a COW copy, a child's copy
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k, ref=2, pin=1 if pin else 0))
    mm.add_swap_slot()
    ref_page = mm.ghost("pipe_page", "A", "the page the earlier vmsplice() (FOLL_GET) or "
                        "pin_user_pages(FOLL_PIN) reference holds")
    child = child_view(mm)

    migrate = mm.thread("migrate", "kcompactd / migrate_pages() of the page")
    emit_migrate_pages(migrate, k, kf, [mm, child])
    user = mm.thread("user", "the process: " + ("fork(); " if fork else "")
                     + "mprotect(PROT_READ); mprotect(PROT_READ|PROT_WRITE); a store to the page")
    if fork:
        emit_fork(user, k, kf, mm, child)
    vm_write = mm.ghost("vm_write", True, "VM_WRITE of the VMA (mprotect_fixup())")
    emit_mprotect(user, k, kf, writable=False, label="mprotect_ro", vm_write=vm_write)
    emit_mprotect(user, k, kf, writable=True, label="mprotect_rw", vm_write=vm_write)
    # Since 64fe24a3e05e mprotect(PROT_READ|PROT_WRITE) maps the exclusive page writable itself: the
    # store can land without a write fault (a ghost records whether it took one)
    try_writable = kf.mprotect_try_change_writable != "v5.19"
    faulted = (mm.ghost("store_faulted", False, "the store took a write fault (do_wp_page())")
               if try_writable else None)
    emit_access(user, k, "store", "parent", fault_ghost=faulted)
    wait_on_migration_entries(user, "access")
    _fault_handlers(user, k, kf)

    # The reference is dropped at any point: the pipe's reader consumes the vmsplice()d page, or the
    # pinning driver unpins its buffer. While it is held, migration backs off (and fork copies a
    # pinned page); after it, the migration entry, mprotect()'s change of it and fork's
    # write-protect of a shared page all run against the other threads.
    release = mm.thread("release", "the reference's owner: " + ("unpin_user_page() (io_uring buffer "
                        "unregistered)" if pin else "the pipe's reader consumes the page: put_page()"))

    emit_gup_release(release, ref_page, pin, dirty=False,
                     put_ref="fs/pipe.c:anon_pipe_buf_release: put_page(page)")

    if fork:
        inv_writable_page_not_shared(m, [mm, child])
    if k.anon_exclusive:
        inv_writable_pte_maps_exclusive_page(m, [mm, child])
        inv_exclusive_page_mapped_once(m, mm)
        if pin:
            inv_pinned_mapped_page_is_exclusive(m, [mm, child], [ref_page])
    if not fork:
        inv_exclusive_page_not_replaced(m, mm, ref_page)
    final_nothing_leaked(mm, ptes=[mm.pte, child.pte], holders=(ref_page,))
    final_store_lands(mm, "parent", "user")
    if fork and kf.write_protect_seq:
        final_write_protect_seq_closed(mm)
    if fork:
        final_child_inherits_the_page(m, child)
    if not fork:
        reachable_page_migrated(m, mm, "without fork() the store reuses the exclusive page (do_wp_page()), "
                                "so only migration replaces A")

    if faulted:
        m.reachable("store_without_write_fault", lambda s: not getattr(s, faulted), [faulted],
                    "some run stores to the page without a write fault: mprotect(PROT_READ|PROT_WRITE) "
                    "made the exclusive page's PTE writable again (change_present_ptes() -> "
                    "set_write_prot_commit_flush_ptes(), since 64fe24a3e05e), as a write fault's "
                    "do_wp_page() reuse would have")

    def writable_only_if_vm_write(s):
        pte = getattr(s, mm.pte)
        return getattr(s, vm_write) or not (pte.present and pte.write)

    m.invariant("writable_pte_only_in_vm_write", writable_only_if_vm_write, [vm_write, mm.pte],
                "no PTE of the process's VMA is writable while it lacks VM_WRITE (the child's VMA is its own): mprotect(PROT_READ) write-protects the "
                "present PTE and makes a writable migration entry readable, and remove_migration_pte() "
                "maps writable only through maybe_mkwrite(vma)")
    progress_every_thread_finishes(m)
    return m
