"""Scenario builders for large folios (issue 12 §3): a folio of nr pages mapped by the nr PTEs of a
range, nr a knob (`folio.nr`, 2 or 4) that a scenario file sets per variant (`knobs = { "folio.nr" = 4 }`)
or a user sets with `--set folio.nr=4`.

* `fork_large_pin`: fork() of a PTE-mapped large anonymous folio (copy_present_ptes() batching with
  folio_try_dup_anon_rmap_ptes() and its per-PTE fallback, wrprotect_ptes() under
  mm->write_protect_seq) vs a FOLL_PIN GUP-fast of one subpage and a store to it;
* `lazyfree_batch_gup`: reclaim's batched unmap of a lazyfree large folio (folio_unmap_pte_batch())
  vs a GUP-fast FOLL_GET of one subpage and the device write into it.

Each PTE of the range has its own write / dirty / soft-dirty / uffd-wp / swp-exclusive bits and each
page its own PG_anon_exclusive (mm.MM(nr=...), mm.subpage_view()); the invariants are stated for every
subpage.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, Knob, Model, builder

from ..gup import emit_dio_read, emit_gup_fast
from ..invariants import (final_nothing_leaked, inv_gup_page_is_mapped_page, inv_referenced_folio_not_discarded,
    inv_write_after_madv_free_kept)
from ..memory import emit_fault_handlers, emit_fork, emit_zap
from ..mm import (LAZYFREE_BATCH_FORMS, MM, NO_DATA, NO_FOLIO, ORIGINAL, SLOT, ZERO, Kernel, Lazy, LazyMM, child_view,
    holds_write, pte_present, pte_swap, subpage_view)
from ..user import emit_access, emit_access_tlb
from ..vmscan import emit_reclaim
from ..arm64_mteswap import MTE, MTE_RESTORE_LARGE_FORMS, NO_TAGS, MteKernel, inv_no_uninitialised_tags, saved_tags
from ..user import emit_tag_checked_load
from ..zswap import STALE, ZSWAP_LARGE_LOAD_FORMS, add_zswap_entries, emit_zswap_writeback_entry
from .lazyfree import K_DROPPABLE, K_DROPPABLE_AWARE
from ..tlb import sync_fields
from ..user import emit_access
from .anon_exclusive_ii import K_WPSEQ, _fault_handlers, _kernels


K_NR = Knob("folio.nr", 2, "folio_nr_pages() of the large folio, and the PTEs of the modelled range "
            "(a scenario parameter: the shipped scenarios run with 2 and 4)", domain=(2, 4))


K_FORK_BATCH_PIN = Knob("fork.batch_pin_check", True,
                        "folio_try_dup_anon_rmap_ptes() fails a batch of a maybe-DMA-pinned folio when any "
                        "of its pages is PageAnonExclusive (copy_present_ptes() then falls back per PTE); "
                        "false: seeded mutation, the batch is shared without the pin check")


def _settled(s, proc: MM) -> bool:
    return getattr(s, proc.ptl) == FREE


def _large_exclusive(nr: int) -> dict:
    """A large anonymous folio faulted in and written by the process (do_anonymous_page() with an
    mTHP order: folio_ref_add(nr - 1), folio_add_new_anon_rmap(RMAP_EXCLUSIVE), set_ptes(nr)): every
    page exclusive, one reference and one mapping per PTE."""
    return dict({"ref": nr, "map": nr, "excl": True, "swapbacked": True, "uptodate": True, "data": ORIGINAL,
                 "nr": nr}, **{f"excl{i}": True for i in range(1, nr)})


# -- invariants over every subpage of the range ---------------------------------------------------------

def inv_writable_ptes_map_exclusive_pages(m: Model, procs: list[MM]) -> None:
    mm = procs[0]

    def ok(s):
        for p in procs:
            if not _settled(s, p):
                continue
            for i, field in enumerate(p.ptes):
                pte = getattr(s, field)
                if pte.present and pte.write and not getattr(s, mm.page_flag("excl", pte.folio, i)):
                    return False
        return True

    m.invariant("writable_pte_maps_exclusive_page", ok,
                [x for p in procs for x in p.ptes + [p.ptl]] + mm.excl_fields(),
                "every writable present PTE of the range, in any process, maps a PG_anon_exclusive page "
                "(do_swap_page / wp_page_reuse: VM_BUG_ON(pte_write(pte) && !PageAnonExclusive(page))); "
                "judged with that process's PTL free")


def inv_exclusive_page_not_shared(m: Model, procs: list[MM]) -> None:
    mm = procs[0]

    def ok(s):
        if any(not _settled(s, p) for p in procs):
            return True
        for i in range(mm.nr):
            users = [getattr(s, p.ptes[i]) for p in procs]
            folios = [pte.folio for pte in users if pte.present]
            for fid in set(folios):
                if folios.count(fid) > 1 and getattr(s, mm.page_flag("excl", fid, i)):
                    return False
        return True

    m.invariant("exclusive_page_not_shared", ok,
                [x for p in procs for x in p.ptes + [p.ptl]] + mm.excl_fields(),
                "no PG_anon_exclusive page, of any subpage, is mapped by two processes (fork clears the "
                "flag of every page it shares: folio_try_dup_anon_rmap_ptes())")


def inv_pinned_subpage_is_exclusive(m: Model, procs: list[MM], held: str, index: int) -> None:
    mm = procs[0]

    def ok(s):
        fid = getattr(s, held)
        if fid == NO_FOLIO:
            return True
        for p in procs:
            pte = getattr(s, p.ptes[index])
            if pte.present and pte.folio == fid and _settled(s, p) and not getattr(s, mm.page_flag("excl", fid, index)):
                return False
        return True

    m.invariant("pinned_mapped_page_is_exclusive", ok,
                [held] + [x for p in procs for x in (p.ptes[index], p.ptl)] + mm.excl_fields(index),
                f"the FOLL_PIN'd subpage {index} of the large folio, mapped by a present PTE of any process, "
                "is PG_anon_exclusive (gup_must_unshare(); sanity_check_pinned_pages())")


def inv_pinned_subpage_is_mapped_page(m: Model, proc: MM, held: str, index: int) -> None:
    def ok(s):
        fid = getattr(s, held)
        pte = getattr(s, proc.ptes[index])
        return fid == NO_FOLIO or not pte.present or not _settled(s, proc) or pte.folio == fid

    m.invariant("pinned_page_is_mapped_page", ok, [held, proc.ptes[index], proc.ptl],
                f"a FOLL_PIN|FOLL_WRITE pin of subpage {index} is reliable: while it is held, the pinning "
                "process's PTE of that subpage maps the pinned folio (no COW copies the page away from "
                "the DMA)")


def final_store_landed(m: Model, proc: MM, index: int, tag: str) -> None:
    def ok(s):
        pte = getattr(s, proc.ptes[index])
        return pte.present and holds_write(getattr(s, proc.f["data"][pte.folio]), tag)

    m.final("store_landed", ok, [proc.ptes[index]] + proc.ff("data"),
            f"once every task is done, the process's store to subpage {index} is in the page its PTE maps "
            "(no COW or fork step lost it)")


def final_write_protect_seq_balanced(m: Model, mm: MM) -> None:
    _, seq = sync_fields(mm)
    m.final("write_protect_seq_balanced", lambda s: getattr(s, seq) % 2 == 0, [seq],
            "once fork() is done, mm->write_protect_seq is even: every raw_write_seqcount_begin() has its "
            "raw_write_seqcount_end() (an odd count makes every later FOLL_PIN GUP-fast fall back)")


# -- builders ----------------------------------------------------------------------------------------------

@builder(K_NR, K_WPSEQ, K_FORK_BATCH_PIN)
def fork_large_pin(knobs) -> Model:
    """fork() of a PTE-mapped large folio vs pin_user_pages_fast(FOLL_PIN|FOLL_WRITE) of its last
    subpage and a store to that subpage."""
    nr = knobs["folio.nr"]
    k, kf = _kernels(knobs, fork_batch_pin_check=knobs["fork.batch_pin_check"])
    m = Model("fork-large-pin", "fork of a large anon folio vs a FOLL_PIN GUP-fast of one subpage", knobs)
    # the large folio, a copy per pinned exclusive page fork may make, and the writer's COW copy
    mm = MM(m, folios=("A",) + tuple("BCDEF"[:nr + 1]), nr=nr)
    mm.add_ptes([pte_present("A", write=True, dirty=True, soft_dirty=True)] * nr)
    mm.add_folios(A=_large_exclusive(nr))
    mm.add_swap_slot()
    child = child_view(mm)
    j = nr - 1                                      # the pinned subpage: not the batch's first

    parent = mm.thread("fork", "a thread of the process calls fork()")
    emit_fork(parent, k, kf, mm, child)
    sub = subpage_view(mm, j)
    gup = sub.thread("gup_fast", f"a thread of the process: pin_user_pages_fast(FOLL_PIN|FOLL_WRITE) of "
                     f"subpage {j}")
    held = emit_gup_fast(gup, kf, write=True)
    writer = sub.thread("writer", f"a thread of the process stores to subpage {j}")
    emit_access(writer, k, "store", "parent")
    _fault_handlers(writer, k, kf)

    procs = [mm, child]
    inv_pinned_subpage_is_exclusive(m, procs, held, j)
    inv_pinned_subpage_is_mapped_page(m, mm, held, j)
    inv_writable_ptes_map_exclusive_pages(m, procs)
    inv_exclusive_page_not_shared(m, procs)
    final_nothing_leaked(mm, ptes=mm.ptes + child.ptes, holders=(held,))
    final_store_landed(m, mm, j, "parent")
    if kf.write_protect_seq:
        final_write_protect_seq_balanced(m, mm)
    return m


K_UNMAP_BATCH = Knob("unmap.lazyfree_batch", "29f40594a281",
                     "try_to_unmap_one()'s batch of a lazyfree large folio: \"off\" (one PTE per walk step, "
                     "before 354dffd29575), \"ignore-bits\" (folio_pte_batch() ignoring the write and "
                     "soft-dirty bits, so the restore's set_ptes(pteval, nr) gives every PTE the first PTE's "
                     "bits), \"29f40594a281\" (FPB_RESPECT_WRITE | FPB_RESPECT_SOFT_DIRTY)",
                     domain=LAZYFREE_BATCH_FORMS)


def inv_soft_dirty_kept(m: Model, mm: MM, written: list[str]) -> None:
    """`written[i]`: ghost, page i was written since the last clear_refs."""
    def ok(s):
        for i, w in enumerate(written):
            pte = getattr(s, mm.ptes[i])
            if (getattr(s, w) and pte.present and getattr(s, mm.f["nr"][pte.folio]) > 1
                    and not pte.soft_dirty):
                return False
        return True

    m.invariant("soft_dirty_kept", ok, mm.ptes + list(written) + mm.ff("nr"),
                "a page of the large folio written since the last clear_refs is soft-dirty while a present "
                "PTE maps it: a PTE restored by set_ptes(pteval, nr) keeps its own soft-dirty bit "
                "(/proc/pid/pagemap would miss the write). Judged on the large folio's PTEs: the model's "
                "minimal do_anonymous_page() does not set soft-dirty on a new small folio")


def inv_dma_write_kept(m: Model, mm: MM, done: str) -> None:
    def ok(s):
        if not getattr(s, done) or getattr(s, mm.ptl) != FREE:
            return True
        p = getattr(s, mm.pte)
        return p.present and holds_write(getattr(s, mm.f["data"][p.folio]), "dma")

    m.invariant("dma_write_kept", ok, [done, mm.ptl, mm.pte] + mm.ff("data"),
                "the direct-I/O read's data is never lost: once the device wrote it, the subpage's address "
                "resolves to a page holding it (a referenced folio is restored, a released one is dirty: "
                "bio_release_pages() -> set_page_dirty_lock())")


def _lazyfree_large(nr: int) -> dict:
    """A large anonymous folio after MADV_FREE (madvise_free_pte_range(): the PTEs cleaned,
    folio_mark_lazyfree(): !PG_swapbacked, on the file LRU), not dirty."""
    return dict(_large_exclusive(nr), swapbacked=False)


def inv_droppable_range_never_swapbacked(m: Model, mm: MM) -> None:
    def ok(s):
        for field in mm.ptes:
            p = getattr(s, field)
            if p.present and p.folio != ZERO and getattr(s, mm.f["swapbacked"][p.folio]):
                return False
        return True

    m.invariant("droppable_never_swapbacked", ok, mm.ptes + mm.ff("swapbacked"),
                "no folio mapped by any PTE of the VM_DROPPABLE range is PG_swapbacked (a restored batch "
                "of a dirty droppable folio is not folio_set_swapbacked(): 9651fcedf7b9)")


@builder(K_NR, K_UNMAP_BATCH, K_DROPPABLE, K_DROPPABLE_AWARE)
def lazyfree_batch_gup(knobs) -> Model:
    """Reclaim's batched unmap of a lazyfree large folio vs a direct-I/O read (GUP-fast FOLL_GET) into
    its last subpage and a store to that subpage."""
    nr = knobs["folio.nr"]
    droppable = knobs["vma.droppable"]
    lz = Lazy(unmap_batch=knobs["unmap.lazyfree_batch"], droppable=droppable,
              droppable_aware=knobs["droppable.rmap_checks_vma"])
    m = Model("lazyfree-batch-gup", "batched lazyfree unmap vs GUP-fast on one subpage", knobs)
    mm = MM(m, folios=("A", "B"), nr=nr)
    half = nr // 2
    # clear_refs, then the upper half written (write fault: writable, soft-dirty), then MADV_FREE
    # (pte_mkclean, pte_mkold): the lower half read-only and not soft-dirty, the upper half writable
    # and soft-dirty
    mm.add_ptes([pte_present("A")] * half + [pte_present("A", write=True, soft_dirty=True)] * (nr - half))
    mm.add_folios(A=_lazyfree_large(nr))
    mm.add_swap_slot()
    written = [mm.ghost(f"written_since_clear{i}", i >= half,
                        f"subpage {i} was written since the last clear_refs") for i in range(nr)]
    lzm = LazyMM(mm, lz)
    j = nr - 1
    sub = subpage_view(mm, j)
    slzm = LazyMM(sub, lz)
    dma_done = mm.ghost("dma_done", False, "the device finished writing the read's data")
    dma_target = mm.ghost("dma_landed_in", "-", "the page the DMA wrote, and whether it was mapped then")
    stored = mm.ghost("cpu_stored", False, f"the store to subpage {j} after MADV_FREE completed")

    odirect = sub.thread("odirect", f"read(O_DIRECT) into subpage {j}: GUP-fast FOLL_GET|FOLL_WRITE, DMA, "
                         "bio completion")
    held = emit_dio_read(odirect, slzm, dma_done, dma_target)
    writer = sub.thread("writer", f"a thread stores to subpage {j} after MADV_FREE")
    emit_access_tlb(writer, slzm, "store", done=stored, label="store")
    reclaim = mm.thread("reclaim", "kswapd: shrink_inactive_list() on the inactive file LRU")
    emit_reclaim(reclaim, lzm, mglru=False)

    inv_referenced_folio_not_discarded(sub, held)
    inv_gup_page_is_mapped_page(sub, dma_target)
    if droppable:
        inv_droppable_range_never_swapbacked(m, mm)     # a droppable folio's data may be dropped
    else:
        inv_write_after_madv_free_kept(sub, stored)
        inv_dma_write_kept(m, sub, dma_done)
    inv_soft_dirty_kept(m, mm, written)
    inv_writable_ptes_map_exclusive_pages(m, [mm])
    m.eventually_finishes("store_finishes", "writer",
                          "the store eventually completes: every fault it takes makes progress")
    final_nothing_leaked(mm, ptes=mm.ptes)
    return m


K_RECHECK = Knob("swap_in.mthp_range_recheck", True,
                 "do_swap_page() re-checks the whole range under the PTL (pte_same() of the first PTE, "
                 "swap_pte_batch() == nr) before mapping a large swap-cache folio with nr PTEs, else maps "
                 "the faulting page only; false: seeded mutation")


K_MTHP = Knob("swap_in.mthp", True,
              "mTHP swap-in on a SWP_SYNCHRONOUS_IO device (242d12c98174, v6.12); false: order-0 swap-in only")


def inv_zapped_stays_zapped(m: Model, mm: MM, index: int, zapped: str) -> None:
    m.invariant("zapped_pte_stays_none", lambda s: not getattr(s, zapped) or getattr(s, mm.ptes[index]).kind == "none",
                [zapped, mm.ptes[index]],
                f"once MADV_DONTNEED zapped subpage {index}, its PTE stays none: no swap-in of the range "
                "maps the page's old data (or a freed slot) there again")


def inv_range_consistent(m: Model, mm: MM) -> None:
    """The page table of the range, the folios and the slots agree whenever the PTL is free."""
    base = mm.base

    def ok(s):
        if getattr(s, mm.ptl) != FREE:
            return True
        ptes = [getattr(s, p) for p in base.ptes]
        for fid in base.folios:
            if getattr(s, base.f["map"][fid]) != sum(1 for p in ptes if p.present and p.folio == fid):
                return False
        for i, p in enumerate(ptes):
            count, _, cache, data = base.slot_f[i]
            if p.kind == "swap":
                if getattr(s, count) < 1:
                    return False                        # a swap PTE whose slot has no count
                if getattr(s, data) == NO_DATA and getattr(s, cache) == NO_FOLIO:
                    return False                        # ... or whose data is nowhere
            elif p.present:
                f = p.folio
                if not getattr(s, base.f["uptodate"][f]) or getattr(s, base.f["data"][f]) != ORIGINAL:
                    return False                        # mapped: the swapped data, read
        return True

    reads = [mm.ptl] + base.ptes + base.all_slot_fields() + base.ff("map", "uptodate", "data")
    m.invariant("range_consistent", ok, reads,
                "with the PTL free, the range is consistent: each folio's mapcount is the PTEs mapping it, a "
                "swap PTE's slot has a count and its data (on the device or in the swap cache), a present PTE "
                "maps an uptodate folio holding the data that was swapped out")


def inv_load_sees_data(m: Model, seen: list[str]) -> None:
    m.invariant("load_sees_swapped_data", lambda s: all(getattr(s, x) in ("-", ORIGINAL) for x in seen), seen,
                "a load from the range returns the data that was swapped out")


def inv_large_swapin_warnings(m: Model, mm: MM) -> None:
    """The ghosts do_swap_page()'s large path sets, as invariants (where that path was emitted)."""
    if "do_swap_page_warned" in mm.ghosts:
        warned = mm.ghosts["do_swap_page_warned"]
        m.invariant("do_swap_page_no_warning", lambda s: getattr(s, warned) == "-", [warned],
                    "no assertion of do_swap_page()'s large path fires: check_swap_exclusive() "
                    "(VM_WARN_ON_ONCE(__swap_count(entry) != 1) for an exclusive range under the PTL)")
    if "swap_put_of_free_slot" in mm.ghosts:
        bad = mm.ghosts["swap_put_of_free_slot"]
        m.invariant("swap_count_never_underflows", lambda s: not getattr(s, bad), [bad],
                    "no swap count is dropped below zero: folio_put_swap() only puts slots the mapping "
                    "holds (swap_entries_put_map(): \"bad swap count\")")


@builder(K_NR, K_MTHP, K_RECHECK)
def large_swapin_range(knobs) -> Model:
    """mTHP swap-in of a range (a load of its first subpage) vs MADV_DONTNEED of its last subpage and a
    load of that subpage by another thread."""
    nr = knobs["folio.nr"]
    k = Kernel(synchronous_io=True, mthp_swapin=knobs["swap_in.mthp"],
               mthp_range_recheck=knobs["swap_in.mthp_range_recheck"])
    m = Model("large-swapin-range", "mTHP swap-in vs a zap and a swap-in of one slot of the range", knobs)
    mm = MM(m, folios=("A", "B", "C"), nr=nr)
    # a large exclusive folio was swapped out to nr contiguous slots and freed after writeback
    mm.add_ptes([pte_swap(SLOT if i == 0 else f"slot{i}", exclusive=True) for i in range(nr)])
    mm.add_folios()
    mm.add_swap_slots([1] * nr, [ORIGINAL] * nr)
    j = nr - 1
    zapped = mm.ghost("zapped", False, f"MADV_DONTNEED zapped subpage {j}")

    head = subpage_view(mm, 0)
    fault = head.thread("fault", "a load from subpage 0: do_swap_page() swaps the range in")
    emit_access(fault, k, "load")
    emit_fault_handlers(fault, k)
    tail = subpage_view(mm, j)
    zap = tail.thread("zap", f"madvise(MADV_DONTNEED) of subpage {j}")
    emit_zap(zap, ghost=zapped)
    other = tail.thread("fault_tail", f"a load from subpage {j} by another thread")
    emit_access(other, k, "load", on_none=DONE)
    emit_fault_handlers(other, k)

    inv_zapped_stays_zapped(m, mm, j, zapped)
    inv_range_consistent(m, mm)
    inv_load_sees_data(m, [fault.vars["seen"], other.vars["seen"]])
    results = [fault.vars["result"], other.vars["result"]]
    m.invariant("no_sigbus", lambda s: all(getattr(s, r) != "SIGBUS" for r in results), results,
                "no load from the range ends in SIGBUS: the swapped-out data is readable (do_swap_page() "
                "returns VM_FAULT_SIGBUS only for a failed read or an error entry)")
    inv_large_swapin_warnings(m, mm)
    inv_writable_ptes_map_exclusive_pages(m, [mm])
    final_nothing_leaked(mm, ptes=mm.ptes)
    return m


# -- large-swapin-zswap ------------------------------------------------------------------------------

K_ZSWAP_FALLBACK = Knob("swap_in.mthp_zswap_fallback", True,
                        "alloc_swap_folio() (242d12c98174; 2026: thp_swapin_suitable_orders()): "
                        "!zswap_never_enabled() -> order 0; false: the mTHP swap-in also where zswap "
                        "is in use")


K_ZSWAP_LARGE_LOAD = Knob("zswap.large_load", "mainline-2026",
                          "zswap_load() of a large folio: \"c63f210d4891^\" (folio->swap's entry only: the "
                          "first page, or the whole folio from the device), \"c63f210d4891\" (WARN, not "
                          "uptodate: an I/O error), \"mainline-2026\" (__swap_cache_alloc() refuses a "
                          "large order while zswap_is_present() over the pinned range; zswap_load() scans "
                          "the range: -EIO)", domain=ZSWAP_LARGE_LOAD_FORMS)


def inv_swapped_data_kept(m: Model, mm: MM, zs: list[str]) -> None:
    """The data of every swap PTE of the range is somewhere: in zswap, on the device, or in the swap
    cache folio of its slot."""
    base = mm.base

    def ok(s):
        for i, p in enumerate(base.ptes):
            pte = getattr(s, p)
            if pte.kind != "swap":
                continue
            _, _, cache, data = base.slot_f[i]
            fid = getattr(s, cache)
            if getattr(s, zs[i]) or getattr(s, data) == ORIGINAL:
                continue
            if fid != NO_FOLIO and getattr(s, base.f["data"][fid]) == ORIGINAL:
                continue
            return False
        return True

    m.invariant("swapped_data_kept", ok, base.ptes + base.all_slot_fields() + base.ff("data"),
                "the data of every swap PTE of the range is kept: in zswap (its tree entry), on the swap "
                "device, or in the swap cache folio of its slot (no exclusive zswap load or writeback "
                "drops the only copy)")


def final_zswap_entries_freed(m: Model, mm: MM, zs: list[str]) -> None:
    base = mm.base

    def ok(s):
        return all(not getattr(s, zs[i]) or getattr(s, c) > 0 or getattr(s, hc)
                   for i, (c, hc, _, _) in enumerate(base.slot_f))

    m.final("zswap_entries_freed", ok, base.all_slot_fields(),
            "once every task is done, no zswap entry is left for a freed slot (swap_range_free() -> "
            "zswap_invalidate())")


@builder(K_NR, K_ZSWAP_FALLBACK, K_ZSWAP_LARGE_LOAD)
def large_swapin_zswap(knobs) -> Model:
    """mTHP swap-in of a range (a load of its first subpage) whose first slot zswap already wrote back
    to the device while the others are still in zswap, vs zswap writeback of the last slot and a load
    of the last subpage by another thread."""
    nr = knobs["folio.nr"]
    form = knobs["zswap.large_load"]
    k = Kernel(synchronous_io=True, mthp_swapin=True, mthp_zswap_fallback=knobs["swap_in.mthp_zswap_fallback"],
               zswap_large_load=form)
    m = Model("large-swapin-zswap", "mTHP swap-in of a range partly in zswap vs zswap writeback", knobs)
    mm = MM(m, folios=("A", "B", "C", "D"), nr=nr)
    # a large folio was swapped out to nr contiguous slots, every page stored by zswap_store() (the
    # device slots never written: STALE); the shrinker has since written slot 0 back
    mm.add_ptes([pte_swap(SLOT if i == 0 else f"slot{i}", exclusive=True) for i in range(nr)])
    mm.add_folios()
    mm.add_swap_slots([1] * nr, [ORIGINAL] + [STALE] * (nr - 1))
    zs = add_zswap_entries(mm, [False] + [True] * (nr - 1))
    j = nr - 1
    bug = mm.ghost("remove_mapping_not_swapcache", False, "__remove_mapping() ran on a folio outside the swap "
                   "cache (its BUG_ON(mapping != folio_mapping(folio)))")

    head = subpage_view(mm, 0)
    fault = head.thread("fault", "a load from subpage 0: do_swap_page() swaps the range in")
    emit_access(fault, k, "load")
    emit_fault_handlers(fault, k)
    tail = subpage_view(mm, j)
    wb = tail.thread("zswap", f"the zswap shrinker writes slot {j}'s entry back (zswap_writeback_entry()), "
                     "then the write completes")
    emit_zswap_writeback_entry(wb, form="mainline-2026", bug=bug)
    other = tail.thread("fault_tail", f"a load from subpage {j} by another thread")
    emit_access(other, k, "load")
    emit_fault_handlers(other, k)

    inv_range_consistent(m, mm)
    inv_swapped_data_kept(m, mm, zs)
    inv_load_sees_data(m, [fault.vars["seen"], other.vars["seen"]])
    results = [fault.vars["result"], other.vars["result"]]
    m.invariant("no_sigbus", lambda s: all(getattr(s, r) != "SIGBUS" for r in results), results,
                "no load from the range ends in SIGBUS: the swapped-out data is readable (an I/O error "
                "from zswap_load() on a large folio is a SIGBUS)")
    m.invariant("remove_mapping_on_swapcache_folio", lambda s: not getattr(s, bug), [bug],
                "swap_writeback_dropbehind_folio() calls remove_mapping_set_shadow() only on a swap cache "
                "folio")
    inv_large_swapin_warnings(m, mm)
    inv_writable_ptes_map_exclusive_pages(m, [mm])
    final_nothing_leaked(mm, ptes=mm.ptes)
    final_zswap_entries_freed(m, mm, zs)
    m.final("writeback_ended", lambda s: not any(getattr(s, w) for w in mm.ff("writeback")), mm.ff("writeback"),
            "once every task is done, no folio is under writeback: every folio_start_writeback() of "
            "zswap's __swap_writeout() has its folio_end_writeback()")
    m.eventually_finishes("loads_finish", "fault", "the load from subpage 0 eventually completes")
    return m


# -- mte-large-folio -----------------------------------------------------------------------------------

K_MTE_RESTORE_LARGE = Knob("mte.restore_large", "every-page",
                           "arm64 arch_swap_restore() of a large folio: \"every-page\" (mte_restore_tags() for "
                           "each of folio_nr_pages() pages, entry.val++: \"arm64: mm: swap: support THP_SWAP on "
                           "hardware with MTE\"), \"first-page\" (the older mte_restore_tags(entry, "
                           "&folio->page): seeded on a large folio)", domain=MTE_RESTORE_LARGE_FORMS)


K_RESTORE_AFTER_FREE = Knob("swap_in.restore_after_free", False,
                            "seeded: do_swap_page() calls arch_swap_restore() after folio_put_swap() and "
                            "folio_free_swap() instead of before (the slots' tag storage is freed first)")


def inv_subpage_tags_restored(m: Model, mm: MM, mte) -> None:
    base = mm.base

    def ok(s):
        if getattr(s, base.ptl) != FREE or not getattr(s, mte.vm_mte):
            return True
        for i, p in enumerate(base.ptes):
            pte = getattr(s, p)
            if pte.present and (not getattr(s, mte.page_tagged[i][pte.folio])
                                or getattr(s, mte.page_tags[i][pte.folio]) != saved_tags(i)):
                return False
        return True

    m.invariant("subpage_tags_restored", ok, [base.ptl, mte.vm_mte] + base.ptes + mte.folio_fields(),
                "with the PTL free, every present PTE of the PROT_MTE range maps a page that is "
                "PG_mte_tagged with the tags saved for its own swap slot (arch_swap_restore() restored "
                "every subpage, from the right entry)")


def inv_subpage_loads_see_saved_tags(m: Model, loads: list[tuple[str, int]]) -> None:
    fields = [f for f, _ in loads]
    m.invariant("mte_tags_survive_swap",
                lambda s: all(getattr(s, f) in (NO_TAGS, saved_tags(i)) for f, i in loads), fields,
                "a tag-checked load of subpage i after swap-in finds the tags page i had when it was "
                "swapped out (else SEGV_MTESERR)")


@builder(K_NR, K_MTE_RESTORE_LARGE, K_RESTORE_AFTER_FREE)
def mte_large_folio(knobs) -> Model:
    """mTHP swap-in of a PROT_MTE range (a tag-checked load of its first subpage) vs MADV_DONTNEED of
    its last subpage and a tag-checked load of that subpage by another thread."""
    nr = knobs["folio.nr"]
    k = Kernel(synchronous_io=True, mthp_swapin=True, swapin_restore_after_free=knobs["swap_in.restore_after_free"])
    mk = MteKernel(restore_large=knobs["mte.restore_large"])
    m = Model("mte-large-folio", "arm64 MTE tags of every subpage of a large folio restored before its slot "
              "is freed", knobs)
    mm = MM(m, folios=("A", "B", "C"), nr=nr)
    # a PROT_MTE large folio was swapped out to nr contiguous slots: arch_prepare_to_swap() saved each
    # page's tags under its own swap entry (mte_save_tags() per page)
    mm.add_ptes([pte_swap(SLOT if i == 0 else f"slot{i}", exclusive=True) for i in range(nr)])
    mm.add_folios()
    mm.add_swap_slots([1] * nr, [ORIGINAL] * nr)
    mte = MTE(mm, mk, vm_mte=True, saved=True)
    j = nr - 1
    zapped = mm.ghost("zapped", False, f"MADV_DONTNEED zapped subpage {j}")

    head = subpage_view(mm, 0)
    fault = head.thread("fault", "a tag-checked load from subpage 0: do_swap_page() swaps the range in")
    emit_tag_checked_load(fault, mte.subpage(head), k)
    tail = subpage_view(mm, j)
    zap = tail.thread("zap", f"madvise(MADV_DONTNEED) of subpage {j}")
    emit_zap(zap, ghost=zapped)
    other = tail.thread("fault_tail", f"a tag-checked load from subpage {j} by another thread")
    emit_tag_checked_load(other, mte.subpage(tail), k, on_none=DONE)

    loads = [(fault.vars["tags_seen"], 0), (other.vars["tags_seen"], j)]
    inv_subpage_loads_see_saved_tags(m, loads)
    inv_no_uninitialised_tags(mte)
    inv_subpage_tags_restored(m, mm, mte)
    m.invariant("mte_tags_restored_before_slot_freed", lambda s: getattr(s, mte.lost) == "-", [mte.lost],
                "no slot's tag storage is freed (mte_invalidate_tags()) while a present PTE maps the page it "
                "backs without the tags saved for it: arch_swap_restore() runs before folio_put_swap() / "
                "folio_free_swap() free the slots")
    inv_zapped_stays_zapped(m, mm, j, zapped)
    inv_range_consistent(m, mm)
    results = [fault.vars["result"], other.vars["result"]]
    m.invariant("no_sigbus", lambda s: all(getattr(s, r) != "SIGBUS" for r in results), results,
                "no tag-checked load from the range ends in SIGBUS")
    inv_large_swapin_warnings(m, mm)
    inv_writable_ptes_map_exclusive_pages(m, [mm])
    seen0, seen_j = fault.vars["tags_seen"], other.vars["tags_seen"]
    m.final("tag_checked_load_checked", lambda s: getattr(s, seen0) != NO_TAGS, [seen0],
            "the load from subpage 0 went through a tagged PTE and found allocation tags")
    m.final("tail_load_checked", lambda s: getattr(s, seen_j) != NO_TAGS or getattr(s, zapped), [seen_j, zapped],
            f"the load from subpage {j} found allocation tags, unless MADV_DONTNEED zapped the subpage first")
    m.eventually_finishes("load_finishes", "fault", "the load from subpage 0 eventually completes")
    final_nothing_leaked(mm, ptes=mm.ptes)
    return m
