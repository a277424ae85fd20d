"""Scenario builders for issue "Anon-exclusive I": swap-out, swap-in and swapoff against GUP references.

Each builder is a function of its knobs (see specs/scenarios/<name>.toml for the variants, i.e. the
knob sets standing for kernel commits) that wires the path modules into threads:

* `odirect_swapout`: an O_DIRECT read holds an R/W FOLL_GET reference and DMAs into the page while
  reclaim swaps the page out and another thread writes elsewhere in the page, refaulting it. The loss
  fixed by 1493a1913e34 "mm/swap: remember PG_anon_exclusive via a swp pte bit".
* `vmsplice_swapout`: David Hildenbrand's test_swp_exclusive: vmsplice() takes a R/O FOLL_GET
  reference, MADV_PAGEOUT swaps the page out, a write faults it back: the page must not be replaced.
* `swapin_two_faults`: two threads of one mm fault on the same swapped-out page on a
  SWP_SYNCHRONOUS_IO device (skip-swapcache swapin) while reclaim swaps it out again: the ABA on
  pte_same() fixed by 13ddaf26be32 "mm/swap: fix race when skipping swapcache".
* `swapoff_bits`: swapoff against a uffd-wp protected, soft-dirty swapped-out page and a writer: the
  bits lost before 14a762dd1977 "mm/swapfile: fix lost swap bits in unuse_pte()".
* `swapoff_read_error`: swapoff reads a bad swap slot while a thread loads from the page: the garbage
  mapped before 9f186f9e5fa9 "mm/swapfile: unuse_pte can map random data if swap read fails".
"""

from __future__ import annotations

from pteverify.model import GOTO, Knob, Model, builder

from ..gup import emit_dma_write, emit_gup, emit_gup_release
from ..invariants import (final_nothing_leaked, final_writeback_ends, progress_every_thread_finishes, final_swapoff_leaves_no_swap_reference,
    inv_exclusive_page_not_replaced, inv_gup_page_is_mapped_page, inv_no_lost_write,
    inv_no_unread_data_mapped, inv_pinned_mapped_page_is_exclusive, inv_soft_dirty_survives_swap,
    inv_stable_page_not_writable_under_writeback, inv_swap_pte_page_not_exclusive, inv_uffd_wp_store_traps,
    inv_uffd_wp_survives_swap, inv_writable_pte_maps_exclusive_page)
from ..memory import emit_fault_handlers
from ..mm import MM, NO_FOLIO, ORIGINAL, ArchSwap, Kernel, holds_write, pte_present, pte_swap
from ..swapfile import emit_try_to_unuse
from ..user import emit_access
from ..madvise import emit_madvise_pageout
from ..vmscan import emit_shrink_page_list


K_ANON_EXCLUSIVE = Knob("mm.anon_exclusive", True,
                        "PG_anon_exclusive exists (6c287605fd56, v5.19): set when a page is mapped "
                        "exclusively, cleared by page_try_share_anon_rmap(), reused by do_wp_page()")


K_REMEMBER = Knob("swap_out.remember_exclusive", True,
                  "try_to_unmap_one() stores PG_anon_exclusive in the swap PTE (pte_swp_mkexclusive) and "
                  "do_swap_page()/unuse_pte() restore it (1493a1913e34, v5.19)")


K_ARCH = Knob("arch.swp_exclusive", True,
              "the architecture implements __HAVE_ARCH_PTE_SWP_EXCLUSIVE (x86-64, arm64, s390x, ppc64 "
              "book3s since v5.19; all architectures with swap since v6.3)")


K_STABLE = Knob("swap.stable_writes", False,
                "the swap device needs stable pages during writeback (SWP_STABLE_WRITES): do_swap_page() "
                "drops the exclusive marker of a page under writeback")


K_STABLE_CHECK = Knob("swap_in.stable_writes_check", True,
                      "do_swap_page() drops the exclusive marker of a folio under writeback on a "
                      "SWP_STABLE_WRITES device (1493a1913e34; off: a seeded mutation of that test)")


K_PIN = Knob("gup.foll_pin", False,
             "the O_DIRECT read takes FOLL_PIN instead of FOLL_GET (what-if: pinned pages are never "
             "swapped out)")


K_SYNC = Knob("swap.synchronous_io", True,
              "the swap device has SWP_SYNCHRONOUS_IO (zram, pmem): do_swap_page() skips the swap cache "
              "when __swap_count(entry) == 1")


K_PREPARE = Knob("swap_in.swapcache_prepare", True,
                 "the skip-swapcache swapin pins SWAP_HAS_CACHE with swapcache_prepare() and clears it "
                 "after the PTL unlock (13ddaf26be32, v6.8)")


K_KEEP_BITS = Knob("swapoff.keep_swp_bits", True,
                   "unuse_pte() carries soft-dirty and uffd-wp from the swap PTE (14a762dd1977, v5.19)")


K_SWP_SOFT_DIRTY = Knob("swap_out.swp_soft_dirty", True,
                        "try_to_unmap_one() carries the PTE's soft-dirty bit into the swap PTE "
                        "(pte_swp_mksoft_dirty, 179ef71cbc08, 2013)")
K_UFFD = Knob("uffd.wp_armed", True, "the page is write-protected with UFFDIO_WRITEPROTECT")


K_SWAPIN_UFFD_WP = Knob("swap_in.honours_uffd_wp", True,
                        "do_swap_page() maps a uffd-wp swap PTE write-protected (userfaultfd_pte_wp() before "
                        "pte_mkwrite(); pte_mkuffd_wp()); false is a seeded mutation: the bit is carried over "
                        "but the PTE is made writable, so an armed store completes")


K_CHECK_UPTODATE = Knob("swapoff.check_uptodate", True,
                        "unuse_pte() installs a swap-in error entry instead of mapping a !PageUptodate "
                        "page (9f186f9e5fa9, v5.19)")


K_SWAP_TABLE = Knob("swap.table", True,
                    "the 2026 swap core (linux-mm 2026 tree, the swap table series): the swap cache is the "
                    "only serialisation of swap-in (no skip-swapcache path, no SWAP_HAS_CACHE pin); "
                    "do_swap_page() drops the count with folio_put_swap() before set_ptes() and frees the "
                    "swap cache with folio_free_swap() after it; steps name the 2026 API (folio_alloc_swap, "
                    "folio_dup_swap, folio_put_swap, folio_free_swap, folio_try_share_anon_rmap_pte; and the "
                    "folio API of do_wp_page()/wp_page_copy(): wp_can_reuse_anon_folio(), folio_prealloc(), "
                    "folio_add_new_anon_rmap(), folio_remove_rmap_pte())")
K_MAP_WRITABLE = Knob("swap_in.map_exclusive_writable", True,
                      "do_swap_page() maps an exclusive folio writable on read faults too (v6.11, \"mm: swap: "
                      "reuse exclusive folio directly instead of wp page faults\")")

EXCLUSIVE_KNOBS = (K_ANON_EXCLUSIVE, K_REMEMBER, K_ARCH, K_SWAP_TABLE, K_MAP_WRITABLE)
KERNEL_2026_KNOBS = {"swap.table": "swap_table", "swap_in.map_exclusive_writable": "swapin_map_writable"}


def _kernel(knobs, **fixed) -> Kernel:
    values = dict(fixed)
    mapping = {"mm.anon_exclusive": "anon_exclusive", "swap_out.remember_exclusive": "remember_exclusive",
               "arch.swp_exclusive": "arch_swp_exclusive", "swap.stable_writes": "stable_writes",
               "swap_in.stable_writes_check": "stable_writes_check",
               "swap.synchronous_io": "synchronous_io", "swap_in.swapcache_prepare": "swapcache_prepare",
               "swapoff.keep_swp_bits": "unuse_keep_swp_bits",
               "swap_out.swp_soft_dirty": "swapout_swp_soft_dirty",
               "swapoff.check_uptodate": "unuse_check_uptodate",
               "swap_in.honours_uffd_wp": "swapin_honours_uffd_wp", **KERNEL_2026_KNOBS}
    for knob, attr in mapping.items():
        if knob in knobs.declared:
            values[attr] = knobs[knob]
    if getattr(knobs, "arch", None) is not None:
        # run --arch: the layout, not the knob, says whether swap PTEs have an exclusive bit
        values["arch"] = ArchSwap(knobs.arch)
        values["arch_swp_exclusive"] = "exclusive" in values["arch"].has
    return Kernel(**values)


def _exclusive_invariants(mm: MM, k: Kernel) -> None:
    if k.anon_exclusive:
        inv_writable_pte_maps_exclusive_page(mm)
        inv_pinned_mapped_page_is_exclusive(mm)
        inv_swap_pte_page_not_exclusive(mm)


def _mapped_exclusive(k: Kernel, **extra) -> dict:
    """An anonymous page faulted in and written by the process: mapped once, exclusive."""
    return dict({"ref": 1, "map": 1, "excl": k.anon_exclusive, "swapbacked": True, "uptodate": True,
                 "data": ORIGINAL}, **extra)

@builder(*EXCLUSIVE_KNOBS, K_STABLE, K_STABLE_CHECK, K_PIN, arch=True)
def odirect_swapout(knobs) -> Model:
    """O_DIRECT read (R/W GUP reference + DMA) vs swap-out, refault and a CPU write elsewhere in the page."""
    k = _kernel(knobs, synchronous_io=False)
    pin = knobs["gup.foll_pin"]
    m = Model("odirect-swapout", "O_DIRECT read vs swap-out: the DMA must land in the mapped page", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    dma_done = mm.ghost("dma_done", False, "the device finished writing the O_DIRECT data")
    dma_target = mm.ghost("dma_landed_in", "-", "the page the DMA wrote, and whether it was the page "
                          "mapped at the address then")
    cpu_done = mm.ghost("cpu_stored", False, "the writer's store completed")

    odirect = mm.thread("odirect", "O_DIRECT read(): GUP of the user buffer, DMA, completion")
    held = emit_gup(odirect, k, write=True, pin=pin,
                    ref=f"block/bio.c:bio_iov_iter_get_pages -> mm/gup.c:follow_page_pte("
                        f"{'FOLL_PIN' if pin else 'FOLL_GET'}|FOLL_WRITE): pte_offset_map_lock(); "
                        "can_follow_write_pte(); try_grab_page(); pte_unmap_unlock() [else faultin_page()]")
    emit_dma_write(odirect, held, dma_done, dma_target)
    emit_gup_release(odirect, held, pin)
    emit_fault_handlers(odirect, k)

    reclaim = mm.thread("reclaim", "kswapd: shrink_page_list() on the page")
    emit_shrink_page_list(reclaim, k)

    writer = mm.thread("writer", "another thread of the process reads, then writes elsewhere in the page")
    emit_access(writer, k, "load", label="load", cont="store")
    emit_access(writer, k, "store", "cpu", cpu_done, label="store")
    emit_fault_handlers(writer, k)

    _exclusive_invariants(mm, k)
    inv_no_lost_write(mm, {"dma": dma_done, "cpu": cpu_done})
    inv_gup_page_is_mapped_page(mm, dma_target)
    if k.stable_writes:
        inv_stable_page_not_writable_under_writeback(mm)
    final_nothing_leaked(mm)
    final_writeback_ends(mm)
    progress_every_thread_finishes(m)
    return m

@builder(*EXCLUSIVE_KNOBS, arch=True)
def vmsplice_swapout(knobs) -> Model:
    """test_swp_exclusive: vmsplice() reference, MADV_PAGEOUT, write: the page must not be replaced."""
    k = _kernel(knobs, synchronous_io=False)
    m = Model("vmsplice-swapout", "test_swp_exclusive: an exclusive page swapped out and back in is "
              "reused by the next write fault", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A=_mapped_exclusive(k))
    mm.add_swap_slot()
    cpu_done = mm.ghost("cpu_stored", False, "the test's store completed")

    test = mm.thread("test", "the test program: vmsplice(); madvise(MADV_PAGEOUT); write")
    held = emit_gup(test, k, write=False, pin=False, cont="isolate",
                    ref="fs/splice.c:vmsplice_to_pipe -> iov_iter_get_pages -> mm/gup.c:follow_page_pte("
                        "FOLL_GET): try_grab_page() [the pipe holds the page]")
    emit_madvise_pageout(test, k, cont="readback",
                         ref="mm/madvise.c:madvise_cold_or_pageout_pte_range(MADV_PAGEOUT): "
                             "isolate_lru_page(page) -> reclaim_pages -> shrink_page_list")
    # Two programs: the write refaults the page (do_swap_page maps it writable if exclusive), or the
    # test reads it back first (do_swap_page maps it read-only, the swap PTE's exclusivity with it)
    # and the write faults through do_wp_page, whose reuse is what PG_anon_exclusive is for.
    readback = test.local("read_back", "-", "the test reads the page back before writing it")
    test.step("readback", "user space: the test reads the page back before writing it, or does not",
              effect=lambda s: [{readback: "yes", GOTO: "load"}, {readback: "no", GOTO: "access"}],
              writes=[readback], branches=["load", "access"])
    emit_access(test, k, "load", label="load", cont="access")
    emit_access(test, k, "store", "cpu", cpu_done)
    emit_fault_handlers(test, k)

    _exclusive_invariants(mm, k)
    inv_exclusive_page_not_replaced(mm, held)
    inv_no_lost_write(mm, {"cpu": cpu_done})
    final_nothing_leaked(mm, holders=(held,))       # the pipe keeps its page

    def pipe_reads_the_write(s):
        fid = getattr(s, held)
        return fid != NO_FOLIO and holds_write(getattr(s, mm.f["data"][fid]), "cpu")

    m.final("pipe_reads_the_write", pipe_reads_the_write, [held] + mm.ff("data"),
            "read(pipe) after the write returns the written data: the pipe references the page the "
            "test wrote (the observable side of \"page was not replaced during COW\")")
    final_writeback_ends(mm)
    progress_every_thread_finishes(m)
    return m

@builder(K_SYNC, K_PREPARE, K_SWP_SOFT_DIRTY, K_SWAP_TABLE, K_MAP_WRITABLE)
def swapin_two_faults(knobs) -> Model:
    """Two threads fault on one swapped-out page (skip-swapcache swapin) while reclaim swaps it out again."""
    k = _kernel(knobs)
    m = Model("swapin-two-faults", "two threads of one mm fault on the same swapped-out page", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_swap(exclusive=k.swp_exclusive, soft_dirty=True, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    cpu_done = mm.ghost("cpu_stored", False, "fault1's store completed")
    sd = mm.ghost("written_since_clear_refs", True, "the page was written since the last clear_refs")

    t0 = mm.thread("fault0", "thread 0 of the process loads from the page")
    emit_access(t0, k, "load")
    emit_fault_handlers(t0, k)
    t1 = mm.thread("fault1", "thread 1 of the process stores to the page")
    emit_access(t1, k, "store", "cpu", cpu_done)
    emit_fault_handlers(t1, k)
    reclaim = mm.thread("reclaim", "kswapd swaps the page out again once it is mapped")
    emit_shrink_page_list(reclaim, k)

    _exclusive_invariants(mm, k)
    inv_no_lost_write(mm, {"cpu": cpu_done})
    inv_soft_dirty_survives_swap(mm, sd)            # swap-out again: pte_swp_mksoft_dirty
    final_nothing_leaked(mm)
    final_writeback_ends(mm)
    progress_every_thread_finishes(m)
    return m

@builder(K_KEEP_BITS, K_UFFD, K_SWAP_TABLE, K_MAP_WRITABLE, K_SWAPIN_UFFD_WP)
def swapoff_bits(knobs) -> Model:
    """swapoff vs a uffd-wp protected, soft-dirty swapped-out page and a writer."""
    k = _kernel(knobs, soft_dirty_tracking=True)       # clear_refs cleared VM_SOFTDIRTY
    armed = knobs["uffd.wp_armed"]
    m = Model("swapoff-bits", "soft-dirty and uffd-wp survive swapoff", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap(exclusive=True, soft_dirty=True, uffd_wp=armed, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    wp = mm.ghost("uffd_wp_armed", armed, "UFFDIO_WRITEPROTECT is in force on the page")
    sd = mm.ghost("written_since_clear_refs", True, "the page was written since the last clear_refs")
    cpu_done = mm.ghost("cpu_stored", False, "the writer's store completed")

    swapoff = mm.thread("swapoff", "swapoff(2): try_to_unuse()")
    emit_try_to_unuse(swapoff, k)
    writer = mm.thread("writer", "a thread of the process stores to the page")
    emit_access(writer, k, "store", "cpu", cpu_done)
    emit_fault_handlers(writer, k)

    _exclusive_invariants(mm, k)
    inv_uffd_wp_survives_swap(mm, wp)
    inv_uffd_wp_store_traps(mm, wp, cpu_done)
    inv_soft_dirty_survives_swap(mm, sd)
    inv_no_lost_write(mm, {"cpu": cpu_done})
    final_nothing_leaked(mm)
    final_swapoff_leaves_no_swap_reference(mm)
    m.eventually_finishes("writer_store_ends", "writer",
                          "the store ends: it completes, or traps to the uffd monitor (handle_userfault()); "
                          "each fault maps the page or makes the PTE writable and the store is retried")
    return m

@builder(K_CHECK_UPTODATE, K_KEEP_BITS, K_SWAP_TABLE, K_MAP_WRITABLE)
def swapoff_read_error(knobs) -> Model:
    """swapoff reads a bad swap slot while a thread loads from the page."""
    k = _kernel(knobs)
    m = Model("swapoff-read-error", "a failed swap read during swapoff never maps the page's garbage", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap(exclusive=True, soft_dirty=True, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL, bad=True)

    swapoff = mm.thread("swapoff", "swapoff(2): try_to_unuse()")
    emit_try_to_unuse(swapoff, k)
    reader = mm.thread("reader", "a thread of the process loads from the page")
    emit_access(reader, k, "load")
    emit_fault_handlers(reader, k)

    _exclusive_invariants(mm, k)
    inv_no_unread_data_mapped(mm)
    final_nothing_leaked(mm)
    final_swapoff_leaves_no_swap_reference(mm)
    return m
