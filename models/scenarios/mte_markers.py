"""Scenario builders for issue 6: MTE tag restore ordering, swap-in error entries and uffd-wp PTE markers.

The MTE builders compose the shared paths (models/memory.py do_swap_page through models/memory.py's
fault handlers, models/swapfile.py try_to_unuse) with arm64's hooks (`MTE` in models/arm64_mteswap.py). Every MTE
variant stands for a kernel older than v6.8, so the skip-swapcache swapin has no swapcache_prepare().

* `mte_swapin`: two threads of a PROT_MTE process fault on a swapped-out page on a zram device
  (SWP_SYNCHRONOUS_IO, skip-swapcache swapin): the tags lost after c145e0b47c77 moved swap_free()
  before set_pte_at(), and restored before swap_free() since 6dca4ac6fc91.
* `mte_swapoff`: swapoff's unuse_pte() against a faulting thread: the restore in set_pte_at() and the
  arch_swap_restore() added to unuse_pte() for v6.6.
* `mte_shmem`: two tasks fault on a swapped-out shmem page: shmem_swapin_folio() restores the tags under
  the folio lock before the slot is freed.
* `mte_readpage_race`: the restore hooked into swap_readpage() (proposed in review of the fix series)
  against two faults on the same entry: use of freed tag storage.
* `mte_uninit_tags`: migration of an untagged page, then mprotect(PROT_MTE): PG_mte_tagged set on
  uninitialised tags before c4c597f1b367.
* `swapin_error_marker`: a swap-in error entry under MADV_FREE and fork.
* `uffd_wp_marker`: a uffd-wp protected shmem PTE under zap, swap-out unmap and fork.
"""

from __future__ import annotations

from pteverify.model import Knob, Model, builder

from ..arm64_mteswap import (MTE, final_tag_checked_loads, inv_no_freed_tag_storage_read, inv_no_uninitialised_tags,
    inv_tags_survive_swap, MteKernel)
from ..invariants import (final_nothing_leaked, final_shmem_nothing_leaked, final_swapoff_leaves_no_swap_reference,
                          final_no_zram_double_copy, inv_shmem_add_to_page_cache_locked, inv_shmem_mapped_in_page_cache,
    inv_madvise_free_discards_error, inv_marker_not_swap_entry,
    inv_no_data_after_swapin_error, inv_uffd_wp_marker_in_uffd_wp_vma, inv_uffd_wp_write_traps, inv_unmapped_until_refault)
from ..madvise import emit_madvise_free
from ..memory import emit_fork, emit_zap
from ..migrate import emit_migrate_pages
from ..mm import (FORK_FORMS, MM, ORIGINAL, PTE_NONE, PTE_SWAPIN_ERROR, Kernel, MarkerKernel, pte_present,
    pte_swap)
from ..mprotect import emit_mprotect
from ..rmap import emit_try_to_unmap_one
from .anon_exclusive import K_ANON_EXCLUSIVE, K_MAP_WRITABLE, K_SWAP_TABLE, KERNEL_2026_KNOBS
from ..shmem import emit_shmem_get_folio
from ..swapfile import emit_try_to_unuse
from ..user import emit_marker_load, emit_tag_checked_load, emit_uffd_wp_store


K_SWAP_FREE_FIRST = Knob("swap_in.swap_free_first", True,
                         "do_swap_page() calls swap_free() before set_pte_at() (c145e0b47c77, v5.18)",
                         orders=(("swap_free", "set_pte_at"),))


K_RESTORE = Knob("swap_in.arch_swap_restore", True,
                 "do_swap_page() calls arch_swap_restore() before swap_free() (6dca4ac6fc91, v6.4)",
                 orders=(("arch_swap_restore", "swap_free"),))


K_SET_PTE_RESTORES = Knob("arm64.set_pte_restores", False,
                          "arm64 set_pte_at() -> mte_sync_tags(old_pte, pte) restores tags from a swap PTE "
                          "(v5.14-v6.5; removed by \"arm64: mte: simplify swap tag restoration logic\", v6.6)")


K_SYNC_SETS_TAGGED = Knob("arm64.sync_sets_tagged", False,
                          "mte_sync_tags() sets PG_mte_tagged even when mte_sync_page_tags() initialised no "
                          "tags (e059853d14ca v6.1 .. c4c597f1b367 v6.4-rc3)")


K_UNUSE_RESTORE = Knob("swapoff.arch_swap_restore", True,
                       "unuse_pte() calls arch_swap_restore() before swap_free() (\"mm: call "
                       "arch_swap_restore() from unuse_pte()\", v6.6)",
                       orders=(("arch_swap_restore", "swap_free"),))


K_READPAGE = Knob("swap_in.readpage_restore", False,
                  "the tags are restored inside swap_readpage() (arch_swap_readpage, proposed in review of "
                  "the 2023 fix series; never merged)")


K_SYNC_IO = Knob("swap.synchronous_io", True,
                 "the swap device has SWP_SYNCHRONOUS_IO (zram): do_swap_page() skips the swap cache when "
                 "__swap_count(entry) == 1 (pre-v6.8 form, without swapcache_prepare())")


K_SYNC_IO_OFF = Knob("swap.synchronous_io", False, K_SYNC_IO.doc)


K_SHMEM_LATE = Knob("shmem.restore_after_swap_free", False,
                    "seeded mutation (no kernel): shmem_swapin_folio() calls arch_swap_restore() after "
                    "swap_free()", orders=(("arch_swap_restore", "swap_free"),))


K_MADV = Knob("madvise.free_swapin_error", True,
              "madvise_free_pte_range() clears hwpoison and swap-in error entries (7b49514fa1db, v5.19)")


K_FORK_ERR = Knob("fork.swapin_error", "7e3ce3f8d2d2",
                  "how copy_nonpresent_pte() copies a swap-in error entry: v5.19 (generic non-swap entry, "
                  "copied), v6.1 (PTE marker, copied only into a uffd-wp VMA), 7e3ce3f8d2d2 (always "
                  "copied, v6.2), seeded-swap-duplicate (seeded: taken for a swap entry)",
                  domain=FORK_FORMS)


K_INSTALL_MARKER = Knob("uffd.install_marker", True,
                        "zap_pte_range()/try_to_unmap_one() replace a cleared uffd-wp file PTE with "
                        "PTE_MARKER_UFFD_WP (999dad824c39, v5.19)")


K_FORK_MARKER = Knob("fork.marker_checks_dst", True,
                     "copy_nonpresent_pte() copies a uffd-wp marker only into a VMA with VM_UFFD_WP "
                     "(49d6d7fb6313, v6.2; before: WARN_ON_ONCE + copy)")


K_SOFTLEAF = Knob("marker.softleaf_api", False,
                  "the linux-mm 2026 leaf-entry code, step names only (the outcomes for the modelled entries "
                  "are the same): softleaf_from_pte()/softleaf_is_marker()/softleaf_is_poison_marker(), the "
                  "swap-in error entry is the PTE_MARKER_POISONED marker (af19487f00f3, a fault on it returns "
                  "VM_FAULT_HWPOISON), copy_nonpresent_pte() -> copy_pte_marker(), dup_mmap() in mm/mmap.c, "
                  "the batched zap and unmap (get_and_clear_full_ptes(), folio_remove_rmap_ptes())")


K_FORK_EVENT = Knob("uffd.fork_event", False,
                    "the uffd monitor enabled UFFD_FEATURE_EVENT_FORK: the child VMA keeps VM_UFFD_WP")


def _from_knobs(cls, mapping: dict, knobs, fixed: dict):
    values = dict(fixed)
    for knob, attr in mapping.items():
        if knob in knobs.declared:
            values[attr] = knobs[knob]
    return cls(**values)


def _mte_kernel(knobs) -> MteKernel:
    """arm64's behaviour (the MTE hooks)."""
    return _from_knobs(MteKernel, {"arm64.set_pte_restores": "set_pte_restores",
                                   "arm64.sync_sets_tagged": "sync_sets_tagged",
                                   "swap_in.readpage_restore": "readpage_restore"}, knobs, {})


def _kernel(knobs, **fixed) -> Kernel:
    """The generic mm paths' behaviour: every MTE variant is older than v6.8 (no swapcache_prepare()
    on the skip-swapcache swapin)."""
    return _from_knobs(Kernel, {"mm.anon_exclusive": "anon_exclusive",
                                "swap_in.swap_free_first": "swap_free_before_map",
                                "swap_in.arch_swap_restore": "swapin_arch_swap_restore",
                                "swapoff.arch_swap_restore": "unuse_arch_swap_restore",
                                "swap.synchronous_io": "synchronous_io", **KERNEL_2026_KNOBS},
                       knobs, dict({"swapcache_prepare": False}, **fixed))


def _swapped_out_mte(name: str, doc: str, knobs, k: Kernel, folios=("A", "B")) -> tuple[Model, MM, MTE]:
    """A PROT_MTE anonymous page swapped out: its swap PTE (exclusive where the release remembers
    PG_anon_exclusive in it), the slot holding its data, and the tags arch_prepare_to_swap() saved in
    mte_pages under the slot's swap entry."""
    m = Model(name, doc, knobs)
    mm = MM(m, folios=folios)
    mm.add_pte(pte_swap(exclusive=k.swp_exclusive))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    mte = MTE(mm, _mte_kernel(knobs), vm_mte=True, saved=True)
    return m, mm, mte

@builder(K_SWAP_FREE_FIRST, K_RESTORE, K_SET_PTE_RESTORES, K_SYNC_IO, K_ANON_EXCLUSIVE, K_SWAP_TABLE, K_MAP_WRITABLE)
def mte_swapin(knobs) -> Model:
    """Two tag-checked loads fault on a swapped-out PROT_MTE page."""
    k = _kernel(knobs)
    m, mm, mte = _swapped_out_mte("mte-swapin", "the tags of a swapped-in PROT_MTE page are restored",
                                  knobs, k)
    faults = []
    for name in ("fault0", "fault1"):
        t = mm.thread(name, f"thread {name[-1]} of the process: a tag-checked load from the page")
        emit_tag_checked_load(t, mte, k)
        faults.append(t)
    mm.symmetric(*faults)           # the same load on the same page (explore --symmetry)
    inv_tags_survive_swap(mte)
    inv_no_uninitialised_tags(mte)
    final_tag_checked_loads(mte)
    final_nothing_leaked(mm)
    if k.synchronous_io:
        final_no_zram_double_copy(mm)
    return m

@builder(K_UNUSE_RESTORE, K_SET_PTE_RESTORES, K_SYNC_IO_OFF, K_SWAP_TABLE, K_MAP_WRITABLE)
def mte_swapoff(knobs) -> Model:
    """swapoff's unuse_pte() against a tag-checked load of the page."""
    k = _kernel(knobs)
    m, mm, mte = _swapped_out_mte("mte-swapoff", "unuse_pte() restores the tags of a PROT_MTE page",
                                  knobs, k)
    swapoff = mm.thread("swapoff", "swapoff(2): try_to_unuse()")
    emit_try_to_unuse(swapoff, k)
    task = mm.thread("task", "a thread of the process: a tag-checked load from the page")
    emit_tag_checked_load(task, mte, k)
    inv_tags_survive_swap(mte)
    inv_no_uninitialised_tags(mte)
    final_tag_checked_loads(mte)
    final_nothing_leaked(mm)
    final_swapoff_leaves_no_swap_reference(mm)
    return m

@builder(K_SET_PTE_RESTORES, K_SHMEM_LATE, K_SWAP_TABLE)
def mte_shmem(knobs) -> Model:
    """Two tasks fault on a swapped-out shmem page mapped PROT_MTE."""
    k = _mte_kernel(knobs)
    m = Model("mte-shmem", "shmem_swapin_folio() restores the tags before the slot is freed", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    mte = MTE(mm, k, vm_mte=True, saved=True)
    sh = mm.add_shmem_mapping([mm.slot])
    entry = sh.xa[0]
    tasks, mapped = [], []
    for name in ("task0", "task1"):
        t = mm.thread(name, f"{name}: a process mapping the shmem file PROT_MTE faults on the index, then loads")
        mapped.append(emit_shmem_get_folio(t, sh, mte=mte,
                                           restore_after_swap_free=knobs["shmem.restore_after_swap_free"],
                                           form="mainline-2026" if knobs["swap.table"] else "v6.6"))
        tasks.append(t)
    mm.symmetric(*tasks)
    inv_tags_survive_swap(mte)
    inv_no_uninitialised_tags(mte)
    final_tag_checked_loads(mte)
    inv_shmem_mapped_in_page_cache(mm, entry)
    inv_shmem_add_to_page_cache_locked(mm)
    final_shmem_nothing_leaked(mm, entry, tasks=len(mapped))
    return m

@builder(K_READPAGE, K_RESTORE, K_SET_PTE_RESTORES, K_SWAP_TABLE, K_MAP_WRITABLE)
def mte_readpage_race(knobs) -> Model:
    """Two faults on the same swap entry read it into private folios (zram, skip swapcache)."""
    k = _kernel(knobs, synchronous_io=True)
    m, mm, mte = _swapped_out_mte("mte-readpage-race", "the tags are restored from live tag storage",
                                  knobs, k)
    faults = []
    for name in ("fault0", "fault1"):
        t = mm.thread(name, f"thread {name[-1]} of the process: a tag-checked load from the page")
        emit_tag_checked_load(t, mte, k)
        faults.append(t)
    mm.symmetric(*faults)           # the same load on the same page (explore --symmetry)
    inv_no_freed_tag_storage_read(mte)
    inv_tags_survive_swap(mte)
    inv_no_uninitialised_tags(mte)
    final_tag_checked_loads(mte)
    final_nothing_leaked(mm)
    final_no_zram_double_copy(mm)
    return m

@builder(K_SYNC_SETS_TAGGED, K_SET_PTE_RESTORES, K_SWAP_TABLE, K_MAP_WRITABLE)
def mte_uninit_tags(knobs) -> Model:
    """kcompactd migrates an untagged page while the task mprotect()s it PROT_MTE and loads from it."""
    k = _kernel(knobs)
    mtek = _mte_kernel(knobs)
    m = Model("mte-uninit-tags", "PG_mte_tagged is never set on uninitialised tags", knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A"))
    mm.add_folios(A={"ref": 1, "map": 1, "excl": True, "swapbacked": True, "uptodate": True,
                     "data": ORIGINAL})
    mm.add_swap_slot()
    mte = MTE(mm, mtek, vm_mte=False, pte_tagged=False, saved=False)
    migrate = mm.thread("kcompactd", "compaction migrates the page mapped at the address")
    emit_migrate_pages(migrate, k, None, [mm], mte=mte)
    task = mm.thread("task", "the program: mprotect(PROT_READ|PROT_MTE), then a tag-checked load")
    emit_mprotect(task, k, None, writable=False, mte=mte, mte_k=mtek, cont="load")
    emit_tag_checked_load(task, mte, k)
    inv_no_uninitialised_tags(mte)
    final_tag_checked_loads(mte)
    m.final("migration_keeps_data",
            lambda s: not getattr(s, mm.pte).present or getattr(s, mm.f["data"][getattr(s, mm.pte).folio]) == ORIGINAL,
            [mm.pte] + mm.ff("data"),
            "once compaction and the task are done the page mapped at the address holds the data it held "
            "before the migration (folio_migrate_copy() copied it with the tags)")
    final_nothing_leaked(mm)
    return m

@builder(K_MADV, K_FORK_ERR, K_SOFTLEAF)
def swapin_error_marker(knobs) -> Model:
    """A swap-in error entry (left by a failed swap read) under MADV_FREE and fork."""
    k = MarkerKernel(madvise_frees_error=knobs["madvise.free_swapin_error"],
                        fork_swapin_error=knobs["fork.swapin_error"], softleaf=knobs["marker.softleaf_api"])
    m = Model("swapin-error-marker", "a swap-in error entry is never read as data", knobs)
    mm = MM(m, folios=("A",))
    mm.add_pte(PTE_SWAPIN_ERROR)
    mm.add_folios()
    mm.add_swap_slot()
    child_pte = m.field("child_pte", PTE_NONE, doc="the child's PTE at the address after fork()")
    forked = mm.ghost("forked", False, "fork() copied the page tables")
    madv = mm.ghost("madv_free_done", False, "madvise(MADV_FREE) over the address returned")
    parent_res = mm.ghost("parent_result", "-", "what the parent's load got")
    child_res = mm.ghost("child_result", "-", "what the child's load got")

    parent = mm.thread("parent", "the process: madvise(MADV_FREE) over the page, then a load")
    emit_madvise_free(parent, marker=k, discarded=madv, label="madvise_free", cont="load")
    emit_marker_load(parent, mm, mm.pte, parent_res, poisoned=k.softleaf)
    fork = mm.thread("fork", "another thread of the process calls fork()")
    emit_fork(fork, None, None, mm, None, marker=k, child_pte=child_pte, dst_uffd_wp=False, forked=forked)
    child = mm.thread("child", "the child loads from the page")
    emit_marker_load(child, mm, child_pte, child_res, guard_field=forked, poisoned=k.softleaf)

    inv_no_data_after_swapin_error(m, [parent_res, child_res], madv)
    inv_madvise_free_discards_error(m, [parent_res], madv)
    inv_marker_not_swap_entry(mm, [mm.pte, child_pte])
    final_nothing_leaked(mm, ptes=[mm.pte, child_pte])
    return m

@builder(K_INSTALL_MARKER, K_FORK_MARKER, K_FORK_EVENT, K_SOFTLEAF)
def uffd_wp_marker(knobs) -> Model:
    """A uffd-wp protected PTE of a shmem page under MADV_DONTNEED, swap-out and fork, and a writer."""
    k = MarkerKernel(install_uffd_wp_marker=knobs["uffd.install_marker"],
                        fork_marker_checks_dst=knobs["fork.marker_checks_dst"], softleaf=knobs["marker.softleaf_api"])
    fork_event = knobs["uffd.fork_event"]
    m = Model("uffd-wp-marker", "uffd-wp protection of file memory survives zap, swap-out and fork", knobs)
    mm = MM(m, folios=("A",))
    mm.add_pte(pte_present("A", uffd_wp=True))
    mm.add_folios(A={"ref": 2, "map": 1, "swapbacked": True, "uptodate": True, "data": ORIGINAL})
    mm.add_swap_slot()
    cache = m.field("shmem_folio", "A", ("A",), "the folio the shmem file holds at the index (page cache)")
    child_pte = m.field("child_pte", PTE_NONE, doc="the child's PTE at the address after fork()")
    forked = mm.ghost("forked", False, "fork() copied the page tables")
    stored = mm.ghost("stored_while_protected", False,
                      "a store completed while UFFDIO_WRITEPROTECT is in force (never resolved here)")
    result = mm.ghost("writer_result", "-", "how the writer's store ended")
    unmapped = mm.ghost("unmapped", False, "the last change of the PTE took the page out of the address "
                        "(a zap or try_to_unmap_one()), no fault has mapped it again since")

    madvise = mm.thread("madvise", "madvise(MADV_DONTNEED) over the address")
    emit_zap(madvise, ghost=unmapped, marker=k, label="zap_pte_range")
    reclaim = mm.thread("reclaim", "kswapd reclaims the shmem folio")
    emit_try_to_unmap_one(reclaim, k, None, file=True, unmapped=unmapped)
    fork = mm.thread("fork", "the process forks" + (" (UFFD_FEATURE_EVENT_FORK)" if fork_event else ""))
    emit_fork(fork, None, None, mm, None, marker=k, child_pte=child_pte, dst_uffd_wp=fork_event, forked=forked)
    writer = mm.thread("writer", "the protected process stores to the address")
    emit_uffd_wp_store(writer, mm, stored, result, cache, unmapped=unmapped)

    inv_uffd_wp_write_traps(m, stored)
    inv_unmapped_until_refault(mm, unmapped)
    inv_uffd_wp_marker_in_uffd_wp_vma(m, child_pte, fork_event)
    if fork_event:
        # vma_needs_copy(): userfaultfd_wp(dst_vma) -> copy the PTEs; copy_present_pte() keeps the
        # uffd-wp bit and copy_nonpresent_pte() the marker for a uffd-wp child VMA
        m.invariant("uffd_wp_fork_keeps_protection",
                    lambda s: not getattr(s, forked) or getattr(s, child_pte).kind == "marker"
                    or (getattr(s, child_pte).present and getattr(s, child_pte).uffd_wp),
                    [forked, child_pte],
                    "with UFFD_FEATURE_EVENT_FORK the child's VMA is registered for uffd-wp and fork() "
                    "copies the protection: the child's PTE is a uffd-wp PTE or the marker, so a store "
                    "of the child traps too")
    m.eventually_finishes("writer_store_returns", "writer",
                          "the protected store ends: it completes or reaches handle_userfault(); a fault "
                          "on a marker or none PTE maps the page, and the retried store ends there")
    return m
