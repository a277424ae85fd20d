"""mm/memory.c: the fault paths and the page-table copies and zaps.

* handle_mm_fault() -> handle_pte_fault() dispatch (`emit_fault_handlers`);
* do_swap_page() (`emit_do_swap_page`, labels `dsp.*`) and its migration_entry_wait() form
  (`wait_on_migration_entries`);
* do_wp_page() / wp_page_reuse() / wp_page_copy() (`emit_do_wp_page`, labels `hpf.wp`, `wp.*`; its
  one-step form for the lazyfree / MAP_DROPPABLE scenarios) and the v5.7 reuse_swap_page() rule
  (`use_mapcount_reuse`); do_anonymous_page() (`emit_do_anonymous_page`);
* copy_page_range() -> copy_pte_range() -> copy_present_ptes()/copy_nonpresent_pte() on fork
  (`emit_fork`: anonymous memory with the write_protect_seq and pinned-page copy, and its one-step
  form for swap-in error entries and uffd-wp markers; `copy_nonpresent_pte` shared by both); zap_pte_range() (`emit_zap`; with a MarkerKernel,
  a uffd-wp registered file VMA: zap_install_uffd_wp_if_needed()).

The per-function history follows.

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

----------------------------------------------------------------------------------------------------
Swap-in: mm/memory.c:do_swap_page(), the fault on a swap PTE.

Emitted into a faulting thread (user access or GUP fault-in) with the labels `dsp.*`. The caller sets
the thread's `orig` (vmf->orig_pte, read locklessly by handle_pte_fault) and `fwrite`
(FAULT_FLAG_WRITE) and `ret` (the step to retry) and jumps to `dsp.lookup`; the function returns to
that step (the access or follow_page is retried, as after any fault) or ends the thread at `sigbus`.

Historical behaviour (knobs, see `mm.Kernel`):

* v5.18, c145e0b47c77 "mm: streamline COW logic in do_swap_page()": swap_free() and
  try_to_free_swap() before mapping; the page is mapped writable only on a write fault and only if
  `page != swapcache || page_count(page) == 1`. There is no PG_anon_exclusive.
* 6c287605fd56 (v5.19): the same test, but it also decides RMAP_EXCLUSIVE (PG_anon_exclusive), on read
  faults too.
* 1493a1913e34 (v5.19) "mm/swap: remember PG_anon_exclusive via a swp pte bit": under the PTL,
  `exclusive = pte_swp_exclusive(vmf->orig_pte)`; a fresh page not exposed to the swap cache is
  exclusive; an exclusive page under writeback on a SWP_STABLE_WRITES device is not (the posted v2
  of the patch tested `!(flags & SWP_STABLE_WRITES)`, inverted; a -fix patch in the -mm tree corrected
  it before the merge; eacde32757c7 "mm/swap: avoid calling swp_swap_info when try to check
  SWP_STABLE_WRITES" later only read si->flags instead of swp_swap_info(entry)->flags); reuse if
  `exclusive || page_count(page) == 1`.
* skip-swapcache path (SWP_SYNCHRONOUS_IO && __swap_count(entry) == 1, eb085574a752): a private folio
  is read without entering the swap cache; 13ddaf26be32 (v6.8) "mm/swap: fix race when skipping
  swapcache" pins SWAP_HAS_CACHE with swapcache_prepare() first and clears it after the PTL unlock.
* before c145e0b47c77 (`Kernel.swap_free_before_map` false, v5.17 and older): set_pte_at() first, then
  swap_free(entry); try_to_free_swap() only on mem_cgroup_swap_full() or mlock (neither is modelled).
  That form is modelled for read faults only: its write-fault reuse_swap_page() is not.

Architecture hooks (see `mm.ArchHook`), none unless an extension registers them: 6dca4ac6fc91 (v6.4,
`Kernel.swapin_arch_swap_restore`) calls arch_swap_restore(entry, folio) after the exclusivity decision,
before swap_free() (step `dsp.arch_swap_restore`); set_pte_at()'s arch part runs in `dsp.set_pte`; the
slot-free hooks run wherever the slot is freed; `mm.swap_readpage_hook` steps follow a swap read.

Abstractions: the swap read completes inside the lookup step (the folio lock taken by
__read_swap_cache_async is dropped at I/O completion before anyone else can look); KSM, memcg, large
folios, readahead of other slots and the lru_add_drain() refcount tweak are not modelled.

----------------------------------------------------------------------------------------------------
Write faults on present PTEs: handle_pte_fault() -> do_wp_page(): reuse the anon page or copy it.

Emitted into a faulting thread with the labels `hpf.wp` (handle_pte_fault takes the PTL, re-checks
pte_same and calls do_wp_page) and `wp.*`; do_swap_page jumps to `wp.entry` with the PTL held when a
write fault could not map the page writable. The function returns to the faulting step (through
do_swap_page's swapcache_clear when do_swap_page called it).

Reuse rules per release (knob `mm.anon_exclusive`):

* v5.9-v5.18 (09854ba94c6a "do_wp_page: simplify reuse check" and the v5.18 refinements, read in the
  v5.18 source): `PageKsm || page_count > 3` -> copy; `page_count > 1 + PageSwapCache` -> copy;
  `!trylock_page` -> copy; in the swap cache -> try_to_free_swap(); `page_count != 1` -> copy;
  otherwise wp_page_reuse().
* v5.19+ (6c287605fd56): `PageAnonExclusive(page)` -> reuse without further checks; otherwise the same
  refcount rules, and a reused page gets PG_anon_exclusive (page_move_anon_rmap). FAULT_FLAG_UNSHARE
  (a R/O FOLL_PIN of a maybe-shared page) reuses without making the PTE writable, or copies R/O.

A userfaultfd-wp protected PTE (pte_uffd_wp) goes to handle_userfault(): the thread stops there, as
the faulting task would until the monitor resolves the fault.

Abstractions: the page is always on the LRU (no lru_add_drain() references), no KSM, small folios;
ptep_clear_flush() and set_pte_at() of wp_page_copy are one step (both under the PTL, and no lockless
PTE reader is modelled). On x86 pte_mkdirty() also sets soft-dirty, so every PTE a write fault makes
dirty is soft-dirty.

----------------------------------------------------------------------------------------------------
do_wp_page() reuse rules older than those of emit_do_wp_page, and user accesses that wait on a
migration entry.

emit_do_wp_page (Anon-exclusive I) implements do_wp_page with the page_count() rules of 09854ba94c6a
(v5.9-v5.18) and the PG_anon_exclusive rules with the FAULT_FLAG_UNSHARE fault of v5.19+. The
"COW can break either way" leak (CVE-2020-29374, fork-pin-leak) needs the rule before 09854ba94c6a:
v5.7's do_wp_page() reuses an anonymous page when `reuse_swap_page()` says the page is mapped once,
counting map and swap references only:

    if (!trylock_page(page)) { get_page(); unlock PTL; lock_page(); relock; pte_same() ... }
    if (reuse_swap_page(page, &total_map_swapcount)) {
        if (total_map_swapcount == 1) page_move_anon_rmap(page, vma);
        unlock_page(page); wp_page_reuse(vmf); return VM_FAULT_WRITE;
    }
    unlock_page(page);  ... copy

(read in the v5.7 do_wp_page of mm/memory.c and in the KSM patch mails that quote it).
`reuse_swap_page()` (mm/swapfile.c, v5.7, not re-read here: from its callers and its kernel-doc):
count = page_mapcount + swap count of the entry; a page in the swap cache with count == 1 and not
under writeback is deleted from the swap cache and dirtied; reuse iff count <= 1. GUP references are
not counted: that is the leak.

`use_mapcount_reuse(ctx)` rewrites the `wp.can_reuse` step that cow.emit_do_wp_page emitted for a
thread (the rest of do_wp_page, wp_page_reuse and wp_page_copy, is the same in v5.7). The contended
trylock path (sleeping in lock_page and re-checking pte_same) is taken as a copy: no modelled thread
holds the folio lock while another write-faults.

----------------------------------------------------------------------------------------------------
fork(): kernel/fork.c:dup_mmap -> mm/memory.c:copy_page_range -> copy_pte_range ->
copy_present_ptes / copy_nonpresent_pte, for the one modelled address; and the child process.

A second process needs its own PTE and PTL while sharing the folios and the swap slot: `child_view()`
returns an `MM` that is the parent's vocabulary with `pte` and `ptl` pointing at the child's fields,
so every path module (do_swap_page, do_wp_page, user accesses, GUP) runs unchanged in the child.

copy_page_range (is_cow_mapping, the mmap lock held for write):

* `fork.wp_seq_begin`: `raw_write_seqcount_begin(&src_mm->write_protect_seq)` (57efa1fe5957, v5.11);
* `fork.pte_alloc` (knob `fork.child_pte_table = "alloc"` only): the child's PTE table is allocated
  (`__pte_alloc()` -> `pmd_install()`: the PMD lock taken and dropped); by default the table is
  present (a VMA copied earlier in this fork() shares the PMD), the one case in which no lock is
  dropped between `raw_write_seqcount_begin()` and the pin check (docs/memory-models.md);
* `fork.copy`: `copy_pte_range()`: dst PTL (`pte_alloc_map_lock`), src PTL (`spin_lock_nested`); then
  on the parent's PTE
  - present anon page: `folio_try_dup_anon_rmap_pte()` (v5.19+): a maybe-pinned exclusive page fails
    (-EBUSY) and `copy_present_page()` gives the child an exclusive, writable copy, leaving the parent
    untouched; otherwise ClearPageAnonExclusive() and the mapcount is raised. v5.9-v5.18
    (70e806e4e645): `page_maybe_dma_pinned()` -> copy_present_page(); before: always shared;
  - swap entry: `copy_nonpresent_pte()`: `swap_duplicate()`; `pte_swp_exclusive(orig_pte)` ->
    `pte_swp_clear_exclusive()` in the parent (1493a1913e34); the child gets the same entry;
  - migration entry: writable or readable-exclusive -> readable in the parent, the child gets it;
* `fork.wrprotect` (shared present page): `__copy_present_ptes()`: a writable parent PTE is
  write-protected (`wrprotect_ptes`), the child's PTE is `pte_mkold(pte_wrprotect(pte))`, `set_ptes()`;
* `fork.unlock`: both PTLs dropped;
* `fork.done`: `raw_write_seqcount_end()`; dup_mmap returns, the child is woken (`wake_up_new_task`):
  the child's threads start only after this step.

Abstractions: the TLB flush of the parent after fork (flush_tlb_mm) is not a step (stores always go
through the current PTE: no stale TLB entries); uffd-wp and soft-dirty bits of the child follow the
parent's; RSS counters, mmlist and the swap-count continuation (-EIO) path are left out; mm->has_pinned
(MMF_HAS_PINNED) is taken as set (the process has pinned before), so only the per-page test decides.

----------------------------------------------------------------------------------------------------
Special non-present PTEs: the swap-in error entry / poison marker and PTE_MARKER_UFFD_WP.

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

from pteverify.memmodel import Mem
from pteverify.model import DONE, FREE, GOTO, ModelError

from .mm import (MM, NO_FOLIO, PTE_MARKER_UFFD_WP, PTE_NONE, ZERO, ArchHook, child_running, Ctx, Kernel,
    KernelII, LazyMM, MarkerKernel, Pte, pte_migration, pte_present, subpage_view)
from .swap_state import emit_swap_cache_add, read_slot, swap_read_folio
from .swapfile import emit_swap_put_entries_direct
from .zswap import zswap_fields
from .tlb import sync_fields


def emit_fault_handlers(ctx: Ctx, k: Kernel) -> None:
    """handle_mm_fault() for this thread, emitted once after every step that faults: do_swap_page,
    do_wp_page, and the SIGBUS / userfault ends of the thread."""
    ctx.fault_locals()
    result = ctx.vars["result"]
    emit_do_swap_page(ctx, k)
    emit_do_wp_page(ctx, k)
    ctx.step("sigbus", "VM_FAULT_SIGBUS: force_sig_fault(SIGBUS) for a user access, -EFAULT for GUP",
             effect=lambda s: {result: "SIGBUS", GOTO: DONE}, writes=[result], branches=[DONE])
    ctx.step("userfault", "fs/userfaultfd.c:handle_userfault(VM_UFFD_WP): the task waits for the "
             "uffd monitor", effect=lambda s: {GOTO: DONE}, branches=[DONE])


def emit_do_swap_page(ctx: Ctx, k: Kernel) -> None:
    mm = ctx.mm
    ctx.fault_locals()
    L = ctx.vars
    orig, fwrite, page, swc, excl, clear = (L["orig"], L["fwrite"], L["page"], L["swapcache"],
                                            L["excl"], L["clear"])
    ret = L["ret"]
    retry = list(ctx.retry_labels)
    st = k.swap_table                                        # the 2026 swap core
    skip_io = k.synchronous_io and not st                    # the skip-swapcache path exists
    pin_skip = skip_io and k.swapcache_prepare               # 13ddaf26be32's pin can be taken
    after = "dsp.swapcache_clear" if pin_skip else None
    ctx.after_fault = after
    # the -EEXIST wait of 13ddaf26be32's skip path as a step of its own where the scenario schedules
    # its tasks (Ctx.eexist_wait_step: the wait is where the task leaves the CPU)
    eexist_wait = pin_skip and ctx.eexist_wait_step
    # mTHP swap-in (a range of nr PTEs, the 2026 swap core, a SWP_SYNCHRONOUS_IO device)
    large = mm.nr > 1 and st and k.synchronous_io and k.mthp_swapin
    base = mm.base
    if large:
        order_ok = ctx.local("dsp_order", False, "do_swap_page: thp_swapin_suitable_orders() allowed the "
                             "folio's order (every PTE of the range a swap PTE of the next slot, same bits)")
        nr_pages = ctx.local("dsp_nr", 1, "do_swap_page: nr_pages (the PTEs set_ptes() maps)")
        ctx.FAULT_LOCALS = Ctx.FAULT_LOCALS + ("dsp_order", "dsp_nr")
    locals_ = ctx.locals_fields(*ctx.FAULT_LOCALS)
    folio_all = mm.all_folio()
    slot = mm.all_slot_fields() + mm.ff("nr") if mm.nr > 1 else mm.slot_fields()
    zswap_gate = large and k.mthp_zswap_fallback and bool(zswap_fields(mm))
    zswap_form = k.zswap_large_load
    if large:
        warned = base.ghosts.get("do_swap_page_warned") or base.ghost(
            "do_swap_page_warned", "-", "a VM_WARN of do_swap_page's large path fired: "
            "check_swap_exclusive() (a count != 1 under the PTL)")
        bad_put = base.ghosts.get("swap_put_of_free_slot") or base.ghost(
            "swap_put_of_free_slot", False, "folio_put_swap() dropped the count of a slot that had none "
            "(the kernel's swap_entries_put_map() WARNs: \"bad swap count\")")
    readpage = mm.swap_readpage_hook
    arch_set_pte = mm.set_pte_hook
    split = st and mm.memcg is not None and k.swapin_charge != "at-alloc"
    if split and readpage:
        raise ModelError("do_swap_page: the split swap-cache allocation (memcg charge forms) has no "
                         "swap_readpage hook point")

    def range_matches(s, d, orig_pte) -> bool:
        """pte_same(folio_pte, pte_move_swp_offset(orig_pte, -idx)) && swap_pte_batch() == nr: every
        PTE of the range is the swap PTE of its slot with exactly the faulting PTE's bits (the
        exclusive bit included)."""
        return all(mm.v(s, d, base.ptes[i]) == orig_pte._replace(slot=base.slots[i])
                   for i in range(base.nr))

    def leave(d, target=None, keep_clear=False, s=None):
        """Return from the fault: to `target`, or back to the faulting step (vmf->ret)."""
        if target is None:
            return ctx.leave_fault(s, d, keep_clear)
        ctx.reset(d, *[n for n in ctx.FAULT_LOCALS if not (keep_clear and n == "clear")])
        d[GOTO] = target
        return d

    def undo_pin(s, d):
        """swapcache_clear(si, entry): drop the SWAP_HAS_CACHE pin of the skip-swapcache path."""
        if mm.v(s, d, clear):
            d[mm.swp_has_cache] = False
            d[clear] = False
            mm.maybe_free_slot(s, d)

    def out_page(s, d, target=None):
        """out_nomap / out_page: unlock and release the folio (and the skip-path pin); the 2026 form
        first tries folio_free_swap() on a swap-cache folio."""
        fid = getattr(s, page)
        if st and getattr(s, mm.f["swapcache"][fid]):
            mm.try_to_free_swap(s, d, fid)
        d[mm.lock[fid]] = FREE
        mm.put_folio(s, d, fid)
        undo_pin(s, d)
        return leave(d, target, s=s)

    # -- non-swap entries ----------------------------------------------------------------------
    ctx.step("dsp.swapin_error",
             "mm/memory.c:do_swap_page: softleaf_is_marker(entry) -> handle_pte_marker(vmf) "
             "[PTE_MARKER_POISONED: VM_FAULT_HWPOISON, the fault fails]" if st else
             "mm/memory.c:do_swap_page: is_swapin_error_entry(entry) -> ret = VM_FAULT_SIGBUS",
             effect=lambda s: leave({}, "sigbus"), writes=locals_, branches=["sigbus"])

    # -- find the folio ----------------------------------------------------------------------------
    def skip_path(s):
        return skip_io and getattr(s, mm.swp_count) == 1

    def lookup_guard(s):
        # __read_swap_cache_async(): swapcache_prepare() == -EEXIST while another task is adding
        # the folio (or the skip path holds the pin): it waits and retries the lookup.
        return (getattr(s, mm.swp_cache) != NO_FOLIO or not getattr(s, mm.swp_has_cache)
                or skip_path(s))

    def lookup(s):
        d = {}
        if getattr(s, orig).slot != mm.slot:
            # run --arch: the swap PTE decodes to an entry no swap device holds: get_swap_device()
            # fails, do_swap_page() returns 0 and the access faults again (forever)
            return leave(d, s=s)
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.get_folio(s, d, cache)
            d[page] = cache
            d[swc] = cache
            if readpage or large:
                d[GOTO] = "dsp.lock"                   # no swap_readpage() / swapin_sync()
            return d
        if not mm.slot_in_use(s, d):
            # the entry was freed under us: swapin_readahead() returns NULL, pte_same() fails
            return leave(d, s=s)
        if split:
            # __swap_cache_alloc() / __swap_cache_prepare_and_add(): a folio allocated (and, in
            # 9acbe135588e's order, charged to the entry's swap_cgroup record) before it is added
            # to the swap cache in `dsp.add_cache`
            charge = mm.memcg_charge(s, d, mm.swp_memcg) if k.swapin_charge == "9acbe135588e" else {}
            d[page] = mm.alloc_folio(s, d, **charge)
            d[GOTO] = "dsp.add_cache"
            return d
        charge = mm.memcg_charge(s, d, mm.swp_memcg)    # mem_cgroup_swapin_charge_folio(entry)
        if large:
            # thp_swapin_suitable_orders(): !userfaultfd_armed(); !zswap_never_enabled() -> 0 (where
            # zswap is modelled it is enabled); under the PTL can_swapin_thp()
            d[order_ok] = not zswap_gate and range_matches(s, d, getattr(s, orig))
            d[GOTO] = "dsp.swapin_sync"
            return d
        data, ok = read_slot(mm, s)
        if skip_path(s):
            if k.swapcache_prepare:
                if getattr(s, mm.swp_has_cache):
                    # swapcache_prepare() fails: schedule_timeout_uninterruptible(1); refault
                    if eexist_wait:
                        d[GOTO] = "dsp.eexist_wait"
                        return d
                    return leave(d, s=s)
                d[mm.swp_has_cache] = True
                d[clear] = True
            fid = mm.alloc_folio(s, d, data=data, uptodate=ok, **charge)
            d[page] = fid
            return d
        fid = mm.alloc_folio(s, d, ref=2, swapcache=True, data=data, uptodate=ok, **charge)
        d[mm.swp_has_cache] = True
        d[mm.swp_cache] = fid
        d[page] = fid
        d[swc] = fid
        return d

    if st:
        ref = ("mm/memory.c:do_swap_page: swap_cache_get_folio(entry); miss: "
               + ("SWP_SYNCHRONOUS_IO -> alloc_swap_folio(vmf); swapin_folio(entry, folio)" if k.synchronous_io
                  else "swapin_readahead(entry)")
               + " [mm/swap_state.c: swap_cache_alloc_folio() adds the folio to the swap cache, -EEXIST "
               "-> the cached one; swap_read_folio()]")
    elif k.synchronous_io:
        ref = ("mm/memory.c:do_swap_page: lookup_swap_cache(entry); miss && SWP_SYNCHRONOUS_IO && "
               "__swap_count(entry) == 1: " + ("swapcache_prepare(entry); " if k.swapcache_prepare else "")
               + "alloc_page_vma(); swap_readpage(page, true) [skip swapcache]")
    else:
        ref = ("mm/memory.c:do_swap_page: page = lookup_swap_cache(entry) ?: "
               "swapin_readahead(entry) [add_to_swap_cache(); swap_readpage()]")
    if large:
        ref = ("mm/memory.c:do_swap_page: swap_cache_get_folio(entry); miss && SWP_SYNCHRONOUS_IO: orders = "
               "thp_swapin_suitable_orders(vmf) [pte_offset_map_lock(); can_swapin_thp(): pte_same(folio_pte, "
               "pte_move_swp_offset(orig_pte, -idx)), swap_pte_batch(ptep, nr, pte) == nr; unlock]"
               + (" [!zswap_never_enabled() -> no large order]" if zswap_gate else ""))
        lookup_guard_ = lookup_guard
        lookup_guard = lambda s: getattr(s, mm.ptl) == FREE and lookup_guard_(s)   # noqa: E731
    ctx.step("dsp.lookup", ref, guard=lookup_guard, effect=lookup,
             reads=[orig, ret] + slot + mm.ff("ref", "map", "swapcache") + mm.memcg_reads()
             + ([mm.ptl] + base.ptes if large else []),
             writes=folio_all + slot + locals_,
             branches=retry + (["dsp.lock"] if readpage or large else []) + (["dsp.add_cache"] if split else [])
             + (["dsp.swapin_sync"] if large else []) + (["dsp.eexist_wait"] if eexist_wait else []))
    if split:
        emit_swap_cache_add(ctx, k, page, swc, leave)
    if large:
        def swapin_sync(s):
            d = {}
            cache = getattr(s, mm.swp_cache)
            if cache != NO_FOLIO:                      # swap_cache_get_folio(entry) hit
                mm.get_folio(s, d, cache)
                d[page] = cache
                d[swc] = cache
                d[GOTO] = "dsp.lock"
                return d
            slots = base.slot_f
            # __swap_cache_alloc(order): __swap_cache_add_check() of the aligned range, twice; then, the
            # range pinned by the swap cache, zswap_is_present() -> -EBUSY (the 2026 form)
            zs = zswap_fields(mm)
            if (getattr(s, order_ok) and all(getattr(s, c) > 0 and getattr(s, fc) == NO_FOLIO
                                             for c, _, fc, _ in slots)
                    and not (zswap_form == "mainline-2026" and any(getattr(s, z) for z in zs))):
                data, ok, dirty = swap_read_folio(mm, s, d, base.nr, zswap_form)
                fid = mm.alloc_folio(s, d, ref=1 + base.nr, swapcache=True, data=data, uptodate=ok, nr=base.nr,
                                     dirty=dirty)
                for _, hc, fc, _ in slots:
                    d[hc] = True
                    d[fc] = fid
            elif getattr(s, mm.swp_count) == 0:
                return leave(d, s=s)                   # -ENOENT: the entry is gone; the PTE changed
            else:                                      # -EBUSY: order 0
                data, ok, dirty = swap_read_folio(mm, s, d)
                fid = mm.alloc_folio(s, d, ref=2, swapcache=True, data=data, uptodate=ok, dirty=dirty)
                d[mm.swp_has_cache] = True
                d[mm.swp_cache] = fid
            d[page] = fid
            d[swc] = fid
            d[GOTO] = "dsp.lock"
            return d

        ctx.step("dsp.swapin_sync", "mm/memory.c:do_swap_page: alloc_swap_folio(vmf) [the order "
                 "can_swapin_thp() allowed]; swapin_folio(entry, folio) [mm/swap_state.c: the aligned range "
                 "added to the swap cache when every slot is swapped and uncached (__swap_cache_add_check() in "
                 "the newest swapin_sync()), else order 0; -EEXIST: the cached folio; swap_read_folio()]"
                 + (("; zswap: " + {"mainline-2026": "__swap_cache_alloc(): order && zswap_is_present(entry, "
                                    "nr_pages) -> -EBUSY [the range pinned]; swap_read_folio() -> zswap_load()",
                                    "c63f210d4891": "swap_read_folio() -> zswap_load(): WARN_ON_ONCE("
                                    "folio_test_large()) -> return true, !uptodate",
                                    "c63f210d4891^": "swap_read_folio() -> zswap_load(): xa_load(folio->swap) "
                                    "only [first page]; else the device"}[zswap_form])
                    if zswap_fields(mm) else ""),
                 effect=swapin_sync, reads=[order_ok, ret] + slot + mm.ff("ref", "map", "swapcache"),
                 writes=folio_all + slot + locals_, branches=retry + ["dsp.lock"])
    if readpage:
        readpage(ctx, page, "dsp.")                     # its steps fall through to dsp.lock

    # -- lock it and re-check it is still the swap cache folio of this entry --------------------
    def lock_guard(s):
        return getattr(s, mm.lock[getattr(s, page)]) == FREE

    def lock(s):
        fid = getattr(s, page)
        if getattr(s, mm.ptl) == ctx.owner:
            # folio_lock() / lock_page() begin with might_sleep(): a sleeping lock is never taken
            # under the PTL spinlock ("BUG: sleeping function called from invalid context")
            raise ModelError("do_swap_page: the folio lock taken under the PTL (folio_lock_or_retry() "
                             "may sleep: might_sleep() in atomic context)")
        cache_folio = getattr(s, swc)
        if cache_folio != NO_FOLIO and (not getattr(s, mm.f["swapcache"][fid])
                                        or getattr(s, mm.swp_cache) != fid):
            d = {}
            mm.put_folio(s, d, fid)
            undo_pin(s, d)
            return leave(d, s=s)
        return {mm.lock[fid]: ctx.owner}

    ctx.step("dsp.lock", "mm/memory.c:do_swap_page: folio_lock_or_retry(folio, vmf); "
             "folio_matches_swap_entry(folio, entry)" if st else
             "mm/memory.c:do_swap_page: lock_page_or_retry(page); "
             "PageSwapCache(page) && page_private(page) == entry.val",
             guard=lock_guard, effect=lock,
             reads=[page, swc, clear, ret, mm.ptl, mm.swp_cache, mm.swp_count, mm.swp_has_cache] + mm.locks()
             + mm.ff("swapcache", "ref", "map") + (slot if mm.nr > 1 else []),
             writes=mm.locks() + folio_all + slot + locals_, branches=retry)

    # -- PTL, pte_same, uptodate ------------------------------------------------------------------
    def pte_same(s):
        d = {}
        if getattr(s, mm.pte) != getattr(s, orig):
            return out_page(s, d)
        if not getattr(s, mm.f["uptodate"][getattr(s, page)]):
            return out_page(s, d, "sigbus")            # ret = VM_FAULT_SIGBUS; goto out_nomap
        d[mm.ptl] = ctx.owner
        if large:
            fid = getattr(s, page)
            n = 1
            if getattr(s, mm.f["nr"][fid]) > 1 and getattr(s, mm.f["swapcache"][fid]):
                if not k.mthp_range_recheck or range_matches(s, d, getattr(s, orig)):
                    n = base.nr
            # check_folio: !folio_test_anon() && large && nr_pages != folio_nr_pages() ->
            # swap_cache_del_folio() [a clean folio], goto out_nomap
            if getattr(s, mm.f["map"][fid]) == 0 and getattr(s, mm.f["nr"][fid]) > n:
                if not getattr(s, mm.f["dirty"][fid]):
                    mm.delete_from_swap_cache(s, d, fid)
                d[mm.ptl] = FREE
                return out_page(s, d)
            d[nr_pages] = n
        return d

    ctx.step("dsp.pte_same", "mm/memory.c:do_swap_page: pte_offset_map_lock(); "
             + ("pte_same(ptep_get(vmf->pte), vmf->orig_pte); folio_test_uptodate(folio)" if st else
                "pte_same(*vmf->pte, vmf->orig_pte); PageUptodate(page)")
             + (("; large folio in the swap cache: folio_pte = ptep_get(vmf->pte - idx); pte_same(folio_pte, "
                 "pte_move_swp_offset(orig_pte, -idx)) && swap_pte_batch(folio_ptep, nr, folio_pte) == nr -> "
                 "nr_pages = nr" + ("" if k.mthp_range_recheck else " [seeded: not re-checked]")
                 + "; check_folio: !folio_test_anon() && nr_pages != folio_nr_pages() -> "
                 "swap_cache_del_folio(), out_nomap") if large else ""),
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_same,
             reads=[mm.ptl, mm.pte, orig, page, clear, ret, mm.swp_count, mm.swp_has_cache] + mm.locks()
             + mm.ff("uptodate", "ref", "map", "swapcache", "writeback")
             + (base.ptes + mm.ff("dirty") if large else []) + (slot if mm.nr > 1 else []),
             writes=[mm.ptl] + mm.locks() + folio_all + slot + locals_,
             branches=retry + ["sigbus"])

    # -- the exclusivity decision (v5.19+) ---------------------------------------------------------
    if k.anon_exclusive:
        def decide(s):
            fresh = getattr(s, swc) == NO_FOLIO
            e = getattr(s, orig).exclusive and k.swp_exclusive
            d = {}
            if large and e:
                # check_swap_exclusive(folio, entry, nr_pages): VM_WARN_ON_ONCE(__swap_count() != 1)
                n = getattr(s, nr_pages)
                counts = [base.slot_f[i][0] for i in range(base.nr)] if n > 1 else [mm.swp_count]
                if any(getattr(s, c) != 1 for c in counts):
                    d[warned] = "check_swap_exclusive"
            if fresh:
                e = True
            elif (e and getattr(s, mm.f["writeback"][getattr(s, page)]) and k.stable_writes
                  and k.stable_writes_check):
                e = False
            d[excl] = e
            return d

        if k.remember_exclusive and st:
            ref = ("mm/memory.c:do_swap_page: exclusive = pte_swp_exclusive(vmf->orig_pte) "
                   "[check_swap_exclusive()]; folio != swapcache -> exclusive = true; "
                   "folio_test_writeback(folio) && SWP_STABLE_WRITES -> exclusive = false")
        elif k.remember_exclusive:
            ref = ("mm/memory.c:do_swap_page: exclusive = pte_swp_exclusive(vmf->orig_pte); "
                   "page != swapcache -> exclusive = true; PageWriteback(page) && SWP_STABLE_WRITES "
                   "-> exclusive = false")
        else:
            ref = "mm/memory.c:do_swap_page: page != swapcache -> RMAP_EXCLUSIVE [no swp pte bit]"
        ctx.step("dsp.exclusive", ref, effect=decide, reads=[orig, swc, page] + mm.ff("writeback")
                 + ([nr_pages] + slot if large else []), writes=[excl] + ([warned] if large else []))

    # -- arch_swap_restore (6dca4ac6fc91) ------------------------------------------------------------
    if k.swapin_arch_swap_restore and not k.swapin_restore_after_free:
        ctx.arch_swap_restore_step("dsp.arch_swap_restore", "mm/memory.c:do_swap_page: "
                                   + ("arch_swap_restore(folio_swap(entry, folio), folio) [before "
                                      "folio_put_swap()]" if st else
                                      "arch_swap_restore(entry, folio) [before swap_free()]"), page)

    # -- swap_free + try_to_free_swap ---------------------------------------------------------------
    def free_swap(s):
        d = {}
        mm.swap_free(s, d)
        fid = getattr(s, page)
        # should_try_to_free_swap(): swap cache, and a write fault that is likely exclusive
        if (getattr(s, mm.f["swapcache"][fid]) and getattr(s, fwrite)
                and getattr(s, mm.f["ref"][fid]) == 2):
            mm.try_to_free_swap(s, d, fid)
        return d

    def free_swap_after_map(s):
        d = {}
        mm.swap_free(s, d)                              # mem_cgroup_swap_full() / mlock: not modelled
        return d

    def put_swap(s):
        d = {}
        fid = getattr(s, page)
        # folio_put_swap(): VM_WARN_ON_FOLIO(!folio_test_locked(folio)); !folio_test_swapcache(folio)
        mm.assert_folio_locked(s, fid, "folio_put_swap()")
        if not getattr(s, mm.f["swapcache"][fid]):
            raise ModelError("folio_put_swap(): the folio is not in the swap cache "
                             "(VM_WARN_ON_FOLIO(!folio_test_swapcache(folio)))")
        if large and getattr(s, nr_pages) > 1:
            for count, *_ in base.slot_f:               # folio_put_swap(folio, NULL): every slot
                c = getattr(s, count)
                if c == 0:
                    d[bad_put] = True
                else:
                    d[count] = c - 1
            return d
        mm.swap_free(s, d)                              # the swap cache still pins the slot
        return d

    def emit_swap_free():
        if st:
            ctx.step("dsp.swap_free", "mm/memory.c:do_swap_page: folio_put_swap(folio, "
                     + ("nr_pages == 1 ? page : NULL" if large else "page") + ") [folio locked; "
                     "the count drops, the swap cache keeps the slot]" + mm.slot_free_ref(),
                     effect=put_swap, reads=[page] + slot + mm.locks() + mm.ff("swapcache")
                     + ([nr_pages] if large else []), writes=slot + ([bad_put] if large else []))
        elif k.swap_free_before_map:
            ctx.step("dsp.swap_free", "mm/memory.c:do_swap_page: swap_free(entry); "
                     "should_try_to_free_swap() -> try_to_free_swap(page)" + mm.slot_free_ref(),
                     effect=free_swap,
                     reads=[page, fwrite] + slot + mm.locks() + mm.ff("swapcache", "ref", "writeback", "map"),
                     writes=slot + folio_all)
        else:
            ctx.step("dsp.swap_free", "mm/memory.c:do_swap_page: swap_free(entry) [after set_pte_at(), "
                     "before c145e0b47c77]; mem_cgroup_swap_full(page) || VM_LOCKED || PageMlocked(page) "
                     "-> try_to_free_swap(page) [neither here]" + mm.slot_free_ref(),
                     effect=free_swap_after_map, reads=slot, writes=slot)

    if k.swap_free_before_map and not st:
        emit_swap_free()

    # -- map it ---------------------------------------------------------------------------------------
    # The 2026 form (swap.table) in the kernel's order: the reuse decision and the rmap add
    # (`dsp.map`, which sets vmf->orig_pte to the new PTE), folio_put_swap() (`dsp.swap_free`), then
    # set_ptes() (`dsp.set_pte`). The older forms decide, add the rmap and set the PTE in one step.
    def map_folio(s, d):
        """The reuse decision, the rmap add and the refcount: the new PTE value (vmf->orig_pte)."""
        fid = getattr(s, page)
        o = getattr(s, orig)
        if not k.swap_free_before_map and getattr(s, fwrite):
            raise ModelError("do_swap_page before c145e0b47c77 (swap_free_before_map = false) is modelled "
                             "for read faults only: its write-fault reuse_swap_page() is not")
        count = getattr(s, mm.f["ref"][fid])
        if k.anon_exclusive:
            reuse = getattr(s, excl) or count == 1
        else:
            reuse = getattr(s, swc) == NO_FOLIO or count == 1
        wfault = getattr(s, fwrite)
        sd_wp = k.soft_dirty_tracking and not o.soft_dirty    # pte_needs_soft_dirty_wp()
        uffd_wp = o.uffd_wp and k.swapin_honours_uffd_wp      # userfaultfd_pte_wp()
        if k.swapin_map_writable:
            write = reuse and not uffd_wp and not sd_wp       # read faults too (v6.11)
        else:
            write = reuse and wfault and not uffd_wp
        dirty = write and wfault                        # pte_mkdirty() on a write fault only
        if dirty and not st:
            d[fwrite] = False                           # vmf->flags &= ~FAULT_FLAG_WRITE
        if k.anon_exclusive and reuse:
            d[mm.f["excl"][fid]] = True                # RMAP_EXCLUSIVE
        d[mm.f["map"][fid]] = getattr(s, mm.f["map"][fid]) + 1
        if "avma" in mm.f:
            d[mm.f["avma"][fid]] = mm.vma               # folio_add_new_anon_rmap(folio, vma) / same VMA
        new = pte_present(fid, write=write, dirty=dirty, soft_dirty=o.soft_dirty or dirty,
                          uffd_wp=o.uffd_wp)
        d[orig] = new                                   # vmf->orig_pte = pte
        if large and getattr(s, nr_pages) > 1:
            n = getattr(s, nr_pages)                    # folio_ref_add(nr_pages - 1); the rmap of nr
            if k.anon_exclusive and reuse:
                for i in range(n):
                    d[base.page_flag("excl", fid, i)] = True
            d[mm.f["map"][fid]] = getattr(s, mm.f["map"][fid]) + n
            d[mm.f["ref"][fid]] = getattr(s, mm.f["ref"][fid]) + n - 1
        return new

    def install(s, d, new):
        """set_ptes() (nr PTEs on the mTHP path) and the arch hook of each PTE set."""
        fid = getattr(s, page)
        d[mm.pte] = new
        if large and getattr(s, nr_pages) > 1:
            for i in range(getattr(s, nr_pages)):
                d[base.ptes[i]] = new
        if arch_set_pte and mm.nr > 1:
            # set_ptes(): the arch hook for each PTE set (arm64: mte_sync_tags(pte, nr_pages))
            mapped = range(getattr(s, nr_pages)) if large and getattr(s, nr_pages) > 1 else [mm.index]
            for i in mapped:
                arch_set_pte.fn(s, d, fid, getattr(s, base.ptes[i]), new, page=i)
        elif arch_set_pte:
            arch_set_pte.fn(s, d, fid, getattr(s, mm.pte), new)    # old: READ_ONCE(*ptep), the swap PTE

    def set_pte(s):
        d = {}
        install(s, d, map_folio(s, d))
        return d

    def map_only(s):
        d = {}
        map_folio(s, d)
        return d

    def set_ptes(s):
        d = {}
        install(s, d, getattr(s, orig))
        return d

    if k.anon_exclusive and st:
        ref = ("mm/memory.c:do_swap_page: pte = mk_pte(page, vma->vm_page_prot); exclusive || "
               "folio_ref_count(folio) == 1 -> (VM_WRITE && !userfaultfd_pte_wp() && "
               "!pte_needs_soft_dirty_wp()) pte_mkwrite() [+ pte_mkdirty() on FAULT_FLAG_WRITE], "
               "RMAP_EXCLUSIVE; folio_ref_add(folio, nr_pages - 1); vmf->orig_pte = pte; "
               "folio_add_anon_rmap_ptes() / folio_add_new_anon_rmap()")
    elif k.anon_exclusive and k.swapin_map_writable:
        ref = ("mm/memory.c:do_swap_page: exclusive || folio_ref_count(folio) == 1 -> (VM_WRITE && "
               "!userfaultfd_pte_wp() && !pte_needs_soft_dirty_wp()) pte_mkwrite() [+ pte_mkdirty() on "
               "FAULT_FLAG_WRITE], RMAP_EXCLUSIVE; folio_add_anon_rmap_ptes(); set_ptes()")
    elif k.anon_exclusive:
        ref = ("mm/memory.c:do_swap_page: exclusive || page_count(page) == 1 -> "
               "maybe_mkwrite(pte_mkdirty()), RMAP_EXCLUSIVE; page_add_anon_rmap(); set_pte_at()")
    elif k.swap_free_before_map:
        ref = ("mm/memory.c:do_swap_page: FAULT_FLAG_WRITE && (page != swapcache || "
               "page_count(page) == 1) -> maybe_mkwrite(pte_mkdirty()); do_page_add_anon_rmap(); "
               "set_pte_at()")
    else:
        ref = ("mm/memory.c:do_swap_page: pte = mk_pte(page, vma->vm_page_prot) [FAULT_FLAG_WRITE && "
               "reuse_swap_page(page): read faults only in this form]; set_pte_at(); do_page_add_anon_rmap()")
    map_reads = [page, orig, excl, swc, fwrite] + mm.ff("ref", "map") + ([nr_pages] if large else [])
    map_writes = [fwrite, orig] + mm.ff("excl", "map") + (mm.ff("avma") if "avma" in mm.f else [])
    if large:
        map_writes += base.excl_fields() + mm.ff("ref")
    pte_reads = [page] + ([nr_pages] if large else [])
    pte_writes = [mm.pte] + (base.ptes if large else [])
    set_ref = ""
    if arch_set_pte:
        set_ref = " [" + arch_set_pte.ref + "]"
        pte_reads += [mm.pte] + list(arch_set_pte.reads) + (base.ptes if mm.nr > 1 else [])
        pte_writes += list(arch_set_pte.writes)
    if st:
        ctx.step("dsp.map", ref, effect=map_only, reads=map_reads, writes=map_writes)
        emit_swap_free()
        ctx.step("dsp.set_pte", "mm/memory.c:do_swap_page: set_ptes(vma->vm_mm, address, ptep, pte, "
                 "nr_pages); arch_do_swap_page_nr()" + set_ref, effect=set_ptes,
                 reads=pte_reads + [orig], writes=pte_writes)
    else:
        ctx.step("dsp.set_pte", ref + set_ref, effect=set_pte, reads=map_reads + pte_reads,
                 writes=map_writes + pte_writes)
    if not k.swap_free_before_map and not st:
        emit_swap_free()

    if st:
        def free_after_map(s):
            d = {}
            fid = getattr(s, page)
            # should_try_to_free_swap(): SWP_SYNCHRONOUS_IO, or a write fault on an exclusive folio
            # (mem_cgroup_swap_full() and mlock are not modelled)
            if getattr(s, mm.f["swapcache"][fid]) and (k.synchronous_io or (getattr(s, fwrite)
                                                                           and getattr(s, excl))):
                mm.try_to_free_swap(s, d, fid)
            return d

        ctx.step("dsp.free_swap", "mm/memory.c:do_swap_page: should_try_to_free_swap(si, folio, vma, "
                 "exclusive, vmf->flags) -> folio_free_swap(folio) [after set_ptes(); count 0, no "
                 "writeback]" + mm.slot_free_ref(),
                 effect=free_after_map,
                 reads=[page, fwrite, excl] + slot + mm.locks() + mm.ff("swapcache", "ref", "writeback", "map"),
                 writes=slot + folio_all)
        if k.swapin_arch_swap_restore and k.swapin_restore_after_free:
            ctx.arch_swap_restore_step("dsp.arch_swap_restore", "mm/memory.c:do_swap_page: arch_swap_restore("
                                       "folio_swap(entry, folio), folio) [seeded: after folio_put_swap() and "
                                       "folio_free_swap()]", page)

    # -- unlock; a write fault that could not map writable continues in do_wp_page --------------------
    def unlock(s):
        d = {mm.lock[getattr(s, page)]: FREE}
        if getattr(s, fwrite) and not (st and getattr(s, orig).write):
            d[GOTO] = "wp.entry"                        # do_wp_page(vmf), PTL still held
            return d
        d[mm.ptl] = FREE
        if after:
            return {**d, GOTO: after}
        return leave(d, s=s)

    ctx.step("dsp.unlock", "mm/memory.c:do_swap_page: folio_unlock(folio); FAULT_FLAG_WRITE [still set: the PTE was "
             "not made writable above] -> do_wp_page(vmf), else pte_unmap_unlock()" if st else
             "mm/memory.c:do_swap_page: unlock_page(page); FAULT_FLAG_WRITE -> "
             "do_wp_page(vmf), else pte_unmap_unlock()",
             effect=unlock, reads=[page, fwrite, ret, orig], writes=[mm.ptl] + mm.locks() + locals_,
             branches=["wp.entry"] + ([after] if after else retry))

    if pin_skip:
        def swapcache_clear(s):
            d = {}
            undo_pin(s, d)
            return leave(d, s=s)

        ctx.step("dsp.swapcache_clear", "mm/memory.c:do_swap_page: need_clear_cache -> "
                 "swapcache_clear(si, entry) [after the PTL unlock]",
                 effect=swapcache_clear, reads=[clear, ret] + slot, writes=locals_ + slot, branches=retry)

    if eexist_wait:
        ctx.step("dsp.eexist_wait", "mm/memory.c:do_swap_page: swapcache_prepare(entry) failed: "
                 "schedule_timeout_uninterruptible(1); goto out [the fault returns, the access faults again]",
                 effect=lambda s: leave({}, s=s), reads=[ret], writes=locals_, branches=retry)


def emit_do_anonymous_page(ctx: Ctx, lzm: LazyMM, *, store: bool, pte: str, label: str, retry: str,
                           userfault: str | None = None, userfault_label: str | None = None) -> None:
    """do_anonymous_page() on the none PTE `pte` (a field of lzm.mm or of a child's view), one step
    under the PTL: a read fault maps the shared zero page, a write fault a new anon folio
    (lzm.new_anon_folio(): PG_swapbacked unless VM_DROPPABLE); a PTE no longer none retries. Returns to
    `retry` (the faulting access). `userfault`, a field True while the range is registered with
    userfaultfd (VM_UFFD_MISSING): the fault goes to handle_userfault() (step `userfault_label`)
    instead, which waits until the monitor resolved it."""
    mm = lzm.mm

    def anon_fault(s):
        p = getattr(s, pte)
        d = {GOTO: retry}
        if p.kind != "none":
            return d                                   # !pte_none(): update_mmu_tlb(), retry the access
        if not store:
            d[pte] = pte_present(ZERO)                 # read fault: the shared zero page, read-only
            return d
        fid = lzm.new_anon_folio(s, d)
        d[pte] = pte_present(fid, write=True, dirty=True)
        return d

    ctx.step(label, "mm/memory.c:do_anonymous_page: " + (
        "alloc_anon_folio(vmf) [order 0: folio_prealloc(need_zero)]; pte_mkwrite(pte_mkdirty(entry)); "
        "vmf_pte_changed() -> retry [PTL]; folio_add_new_anon_rmap(RMAP_EXCLUSIVE) [PG_swapbacked unless "
        "VM_DROPPABLE]; set_ptes()" if store and lzm.lz.alloc_anon_folio else
        "vma_alloc_zeroed_movable_folio(); folio_add_new_anon_rmap() [PG_swapbacked unless VM_DROPPABLE]; "
        "set_pte_at(pte_mkwrite(pte_mkdirty(entry))) [PTL; retry if !pte_none]" if store else
        "!FAULT_FLAG_WRITE: set_pte_at(my_zero_pfn) [PTL; retry if !pte_none]"),
        guard=lambda s: getattr(s, mm.ptl) == FREE, effect=anon_fault,
        reads=[mm.ptl, pte] + mm.ff("ref") + mm.memcg_reads(), writes=[pte] + mm.all_folio(), branches=[retry])

    if userfault:
        ctx.step(userfault_label, "mm/memory.c:do_anonymous_page: userfaultfd_missing(vma) -> "
                 "handle_userfault(vmf, VM_UFFD_MISSING) [sleeps until the monitor resolves the fault; retry]",
                 guard=lambda s: getattr(s, pte).kind != "none" or not getattr(s, userfault),
                 effect=lambda s: {GOTO: retry}, reads=[pte, userfault], branches=[retry])


def emit_do_set_pte(ctx: Ctx, page: str, mapped: str, *, label: str, arch_set_pte: ArchHook | None = None) -> None:
    """finish_fault() -> do_set_pte() of the file folio in local `page`, which ->fault returned locked
    by this thread (shmem_get_folio_gfp() locks a page-cache hit too; the step waits for that lock
    otherwise), at a PTE of the task's own mm that the model keeps no field of: `mapped` records the
    folio it now maps. folio_add_file_rmap (mapcount + 1), set_pte_at() of the none PTE with the
    architecture's hook (`arch_set_pte`: fn(s, d, folio, old_pte, new_pte)), the folio unlocked and
    `page` reset."""
    mm = ctx.mm

    def set_pte(s):
        fid = getattr(s, page)
        d = {mapped: fid, page: NO_FOLIO, mm.lock[fid]: FREE}
        if arch_set_pte:
            arch_set_pte.fn(s, d, fid, PTE_NONE, pte_present(fid))
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) + 1)
        return d

    ctx.step(label, "mm/memory.c:finish_fault -> do_set_pte(): set_pte_at()"
             + (" -> " + arch_set_pte.ref if arch_set_pte else "") + "; unlock_page()",
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) == ctx.owner, effect=set_pte,
             reads=[page] + mm.locks() + mm.ff("map") + list(arch_set_pte.reads if arch_set_pte else ()),
             writes=[mapped, page] + mm.locks() + mm.ff("map") + list(arch_set_pte.writes if arch_set_pte else ()))


def emit_do_wp_page(ctx: Ctx, k: Kernel | None, *, one_step: LazyMM | None = None, pte: str | None = None,
                    label: str = "wp", retry: str | None = None) -> None:
    """do_wp_page() on a write fault to a present read-only PTE: the fault-handler form (labels
    `hpf.wp`, `wp.*`, emitted by emit_fault_handlers()), or with `one_step` (a LazyMM) the one-step
    form of the lazyfree / MAP_DROPPABLE scenarios: under the PTL, an exclusive anon folio is reused
    (wp_page_reuse()), anything else (the zero page, a shared folio) copied into a new anon folio
    (wp_page_copy(), lzm.new_anon_folio()); no refcount-based reuse of a non-exclusive folio, no
    uffd-wp, no swap cache; `pte` is the PTE field, the step `label` returns to `retry`."""
    if one_step is not None:
        _emit_do_wp_page_one_step(ctx, one_step, pte or one_step.mm.pte, label, retry)
        return
    mm = ctx.mm
    ctx.fault_locals()
    L = ctx.vars
    orig, unshare, page, new, result = (L["orig"], L["unshare"], L["page"],
                                        L["new"], L["result"])
    ret = L["ret"]
    retry = list(ctx.retry_labels)
    after = getattr(ctx, "after_fault", None)     # do_swap_page's swapcache_clear, if any
    exits = [after] if after else retry
    locals_ = ctx.locals_fields(*ctx.FAULT_LOCALS)
    folio_all = mm.all_folio()
    slot = mm.slot_fields()

    def leave(s, d, target=None):
        """Return from the fault (through do_swap_page's swapcache_clear when it called us)."""
        if target is not None:
            ctx.reset(d, *ctx.FAULT_LOCALS)
            d[GOTO] = target
            return d
        if after:
            ctx.reset(d, *[n for n in ctx.FAULT_LOCALS if n not in ("clear", "ret")])
            d[GOTO] = after
            return d
        return ctx.leave_fault(s, d)

    # -- handle_pte_fault: present, not writable, write (or unshare) fault -----------------------
    def hpf(s):
        if getattr(s, mm.pte) != getattr(s, orig):
            return ctx.leave_fault(s, {})
        return {mm.ptl: ctx.owner, page: getattr(s, orig).folio}

    ctx.step("hpf.wp", "mm/memory.c:handle_pte_fault: spin_lock(vmf->ptl); pte_same(*vmf->pte, entry); "
             "!pte_write(entry) -> do_wp_page(vmf)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=hpf,
             reads=[mm.ptl, mm.pte, orig, ret], writes=[mm.ptl, page] + locals_, branches=retry)

    # -- do_wp_page -------------------------------------------------------------------------------
    def entry(s):
        o = getattr(s, orig)
        if o.uffd_wp and not getattr(s, unshare):
            d = {mm.ptl: FREE, result: "userfault"}
            return leave(s, d, "userfault")
        if k.anon_exclusive and getattr(s, mm.f["excl"][getattr(s, page)]):
            return {GOTO: "wp.reuse"}
        return None

    ref = "mm/memory.c:do_wp_page: userfaultfd_pte_wp() -> handle_userfault()"
    if k.anon_exclusive:
        ref += "; PageAnonExclusive(vmf->page) -> reuse"
    ctx.step("wp.entry", ref, effect=entry, reads=[orig, unshare, page] + mm.ff("excl"),
             writes=[mm.ptl, result] + locals_, branches=["userfault", "wp.reuse"])

    def can_reuse(s):
        fid = getattr(s, page)
        count = getattr(s, mm.f["ref"][fid])
        in_cache = 1 if getattr(s, mm.f["swapcache"][fid]) else 0
        if count > 3 or count > 1 + in_cache or getattr(s, mm.lock[fid]) != FREE:
            return {GOTO: "wp.copy"}
        d = {}
        if in_cache:
            mm.try_to_free_swap(s, d, fid, lock_taken_here=True)    # trylock_page() ... unlock_page()
        if mm.fv(s, d, "ref", fid) != 1:
            d[GOTO] = "wp.copy"
            return d
        if k.anon_exclusive:
            mm.fset(d, fid, excl=True)                 # page_move_anon_rmap()
        return d

    # k.swap_table: the linux-mm 2026 tree, whose do_wp_page()/wp_page_copy() use the folio API (the
    # same tests and order as v5.19's page_* forms; mm/memory.c @009857a22860)
    new_names = k.swap_table and k.anon_exclusive
    ctx.step("wp.can_reuse", ("mm/memory.c:do_wp_page -> wp_can_reuse_anon_folio: folio_test_ksm() || "
                              "folio_ref_count() > 3 -> false; folio_ref_count() > 1 + folio_test_swapcache() "
                              "-> false; folio_trylock(); folio_free_swap(); folio_ref_count() != 1 -> false; "
                              "folio_move_anon_rmap(); folio_unlock()") if new_names else
             "mm/memory.c:do_wp_page: page_count() > 3 || page_count() > 1 + "
             "PageSwapCache() -> copy; trylock_page(); try_to_free_swap(); page_count() != 1 -> copy"
             + ("; page_move_anon_rmap()" if k.anon_exclusive else ""),
             effect=can_reuse, reads=[page] + mm.locks() + slot + mm.ff("ref", "swapcache", "writeback", "map"),
             writes=folio_all + slot, branches=["wp.copy"])

    def reuse(s):
        d = {mm.ptl: FREE}
        if not getattr(s, unshare):
            # entry = maybe_mkwrite(pte_mkdirty(pte_mkyoung(vmf->orig_pte))): built from the PTE the
            # fault saw, which pte_same() under the PTL made the current one
            p = getattr(s, orig)
            d[mm.pte] = p._replace(write=True, dirty=True, soft_dirty=True)
        return leave(s, d)

    ctx.step("wp.reuse", "mm/memory.c:wp_page_reuse: ptep_set_access_flags(maybe_mkwrite(pte_mkdirty())); "
             "pte_unmap_unlock() [unshare: only unlock]",
             effect=reuse, reads=[unshare, orig, ret], writes=[mm.ptl, mm.pte] + locals_, branches=exits)

    def copy(s):
        d = {mm.ptl: FREE}
        mm.get_folio(s, d, getattr(s, page))
        return d

    ctx.step("wp.copy", "mm/memory.c:do_wp_page: " + ("folio_get(folio)" if new_names else "get_page(vmf->page)")
             + "; pte_unmap_unlock()",
             effect=copy, reads=[page] + mm.ff("ref"), writes=[mm.ptl] + mm.ff("ref"))

    def copy_user(s):
        d = {}
        old = getattr(s, page)
        d[new] = mm.alloc_folio(s, d, data=getattr(s, mm.f["data"][old]), uptodate=True)
        return d

    ctx.step("wp.copy_user", "mm/memory.c:wp_page_copy: " + (
             "new_folio = folio_prealloc(); __wp_page_copy_user(&new_folio->page, vmf->page, vmf)"
             if new_names else "new_page = alloc_page_vma(); cow_user_page(new_page, old_page)"),
             effect=copy_user, reads=[page] + mm.ff("data", "ref"), writes=[new] + folio_all)

    def copy_pte(s):
        old, nfid = getattr(s, page), getattr(s, new)
        d = {}
        if getattr(s, mm.pte) != getattr(s, orig):
            mm.put_folio(s, d, nfid)
            mm.put_folio(s, d, old)
            return leave(s, d)
        o = getattr(s, orig)
        d[mm.ptl] = ctx.owner
        mm.fset(d, nfid, map=1, excl=k.anon_exclusive)  # page_add_new_anon_rmap(): exclusive
        if getattr(s, unshare):
            d[mm.pte] = pte_present(nfid, soft_dirty=o.soft_dirty, uffd_wp=o.uffd_wp)
        else:
            d[mm.pte] = pte_present(nfid, write=True, dirty=True, soft_dirty=True)
        mm.fset(d, old, map=getattr(s, mm.f["map"][old]) - 1)   # page_remove_rmap(old_page)
        return d

    ctx.step("wp.copy_pte", ("mm/memory.c:wp_page_copy: pte_offset_map_lock(); pte_same(); entry = "
                             "folio_mk_pte(new_folio); maybe_mkwrite(pte_mkdirty(entry)); ptep_clear_flush(); "
                             "folio_add_new_anon_rmap(new_folio, RMAP_EXCLUSIVE); set_pte_at(entry); "
                             "folio_remove_rmap_pte(old_folio)") if new_names else
             "mm/memory.c:wp_page_copy: pte_offset_map_lock(); pte_same(); "
             "ptep_clear_flush(); page_add_new_anon_rmap(new_page); "
             "set_pte_at(maybe_mkwrite(pte_mkdirty(mk_pte(new_page)))); page_remove_rmap(old_page)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=copy_pte,
             reads=[mm.ptl, mm.pte, orig, page, new, unshare, ret] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.ptl, mm.pte] + folio_all + locals_, branches=exits)

    def copy_done(s):
        d = {mm.ptl: FREE}
        mm.put_folio(s, d, getattr(s, page), 2)
        return leave(s, d)

    ctx.step("wp.copy_done", ("mm/memory.c:wp_page_copy: pte_unmap_unlock(); folio_put(old_folio) "
                              "[new_folio = old_folio: the old mapping's and do_wp_page's references; "
                              "free_swap_cache(old_folio) before it is not modelled]") if new_names else
             "mm/memory.c:wp_page_copy: pte_unmap_unlock(); put_page(old_page) "
             "[the old mapping's and do_wp_page's references]",
             effect=copy_done, reads=[page, ret] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.ptl] + folio_all + locals_, branches=exits)


def _emit_do_wp_page_one_step(ctx: Ctx, lzm: LazyMM, pte: str, label: str, retry: str) -> None:
    mm = lzm.mm

    def wp_fault(s):
        p = getattr(s, pte)
        d = {GOTO: retry}
        if not p.present or p.write:
            return d                                   # !pte_same(): retry
        fid = p.folio
        if fid != ZERO and mm.fv(s, d, "excl", fid):
            d[pte] = p._replace(write=True, dirty=True)   # wp_page_reuse()
            return d
        new = lzm.new_anon_folio(s, d, data=lzm.data(s, d, fid))
        d[pte] = pte_present(new, write=True, dirty=True)
        if fid != ZERO:
            mm.fset(d, fid, map=mm.fv(s, d, "map", fid) - 1)
            mm.put_folio(s, d, fid)
        return d

    ctx.step(label, "mm/memory.c:do_wp_page: PageAnonExclusive -> wp_page_reuse(); else wp_page_copy(): "
             "new folio, folio_add_new_anon_rmap() [PG_swapbacked unless VM_DROPPABLE], "
             "ptep_clear_flush(); set_pte_at(); folio_remove_rmap_pte(old) [PTL]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=wp_fault,
             reads=[mm.ptl, pte] + mm.all_folio() + mm.memcg_reads(), writes=[pte] + mm.all_folio(),
             branches=[retry])


def use_mapcount_reuse(ctx: Ctx) -> None:
    mm = ctx.mm
    page = ctx.vars["page"]
    step = next((st for st in ctx.t.steps if st.label == "wp.can_reuse"), None)
    if step is None:
        raise ModelError(f"thread {ctx.name}: emit the fault handlers before use_mapcount_reuse()")
    slot = mm.slot_fields()

    def can_reuse(s):
        fid = getattr(s, page)
        if getattr(s, mm.lock[fid]) != FREE:
            return {GOTO: "wp.copy"}
        in_cache = getattr(s, mm.f["swapcache"][fid])
        count = getattr(s, mm.f["map"][fid]) + (getattr(s, mm.swp_count) if in_cache else 0)
        d = {}
        if count == 1 and in_cache and not getattr(s, mm.f["writeback"][fid]):
            mm.delete_from_swap_cache(s, d, fid)         # reuse_swap_page(): delete_from_swap_cache()
            mm.fset(d, fid, dirty=True)                 #   + SetPageDirty()
        if count > 1:
            d[GOTO] = "wp.copy"
        return d

    step.effect = can_reuse
    step.ref = ("mm/memory.c:do_wp_page: trylock_page(); reuse_swap_page(page, &total_map_swapcount) "
                "[page_mapcount + swap count <= 1; GUP references not counted] -> page_move_anon_rmap(); "
                "wp_page_reuse() | unlock_page(); copy")
    step.reads = frozenset([page, mm.swp_count] + mm.locks() + slot
                           + mm.ff("map", "swapcache", "writeback", "ref"))
    step.writes = frozenset(mm.all_folio() + slot)


def wait_on_migration_entries(ctx: Ctx, label: str) -> None:
    """A user access or GUP step of `ctx` that finds a migration entry sleeps in
    migration_entry_wait() (do_swap_page: is_migration_entry()) until remove_migration_pte() restored
    the PTE, then retries: the step is disabled while the PTE is a migration entry."""
    mm = ctx.mm
    step = next((st for st in ctx.t.steps if st.label == label), None)
    if step is None:
        raise ModelError(f"thread {ctx.name}: no step {label!r}")
    inner = step.guard

    def guard(s):
        return getattr(s, mm.pte).kind != "migration" and (inner is None or inner(s))

    step.guard = guard
    step.ref += " [migration entry: do_swap_page -> migration_entry_wait() until remove_migration_pte()]"
    step.reads = step.reads | {mm.pte}


def copy_nonpresent_pte(s, d: dict, mm: MM, src_field: str, dst_field: str, src: Pte, *,
                        clear_swp_exclusive: bool = True, dst_uffd_wp: bool = False,
                        marker: MarkerKernel | None = None) -> None:
    """mm/memory.c:copy_nonpresent_pte() for the entry `src` of field `src_field` (process `mm`) into
    the child's field `dst_field`, with both PTLs held: a swap entry takes a swap reference
    (swap_duplicate()), loses its exclusive bit in the parent and the child (pte_swp_clear_exclusive(),
    `clear_swp_exclusive`; off only as a seeded mutation) and its uffd-wp bit in the child unless the
    child's VMA is uffd-wp registered (`dst_uffd_wp`); a writable or exclusive migration entry becomes
    readable in both; with `marker` (a MarkerKernel): a swap-in error entry and a uffd-wp PTE marker in
    the forms of its knobs. Writes to `d`."""
    if src.kind == "swap":
        d[mm.swp_count] = getattr(s, mm.swp_count) + 1              # swap_duplicate()
        pte = src
        if src.exclusive and clear_swp_exclusive:
            pte = src._replace(exclusive=False)
            d[src_field] = pte                                      # set_pte_at(src_mm)
        d[dst_field] = pte._replace(uffd_wp=pte.uffd_wp and dst_uffd_wp)   # set_pte_at(dst_mm)
    elif src.kind == "migration":
        pte = src
        if src.write or src.exclusive:
            pte = pte_migration(src.folio, soft_dirty=src.soft_dirty, uffd_wp=src.uffd_wp)
            d[src_field] = pte
        d[dst_field] = pte
    elif src.kind == "swapin_error" and marker is not None:
        form = marker.fork_swapin_error
        if form == "seeded-swap-duplicate":
            d[mm.swp_count] = getattr(s, mm.swp_count) + 1          # swap_duplicate(entry) on a marker
            d[dst_field] = src
        elif form == "v6.1" and not dst_uffd_wp:
            pass                                                    # is_pte_marker_entry(): dropped
        else:
            d[dst_field] = src
    elif src.kind == "marker" and marker is not None:
        if dst_uffd_wp or not marker.fork_marker_checks_dst:
            d[dst_field] = src
    else:
        raise ModelError(f"copy_nonpresent_pte: entry {src} not modelled here")


def emit_fork(ctx: Ctx, k: Kernel | None, kf: KernelII | None, parent: MM, child: MM | None, *,
              cont: str | None = None, marker: MarkerKernel | None = None, child_pte: str | None = None,
              dst_uffd_wp: bool = False, forked: str | None = None) -> None:
    """fork() of the parent (the thread of `ctx`) for the modelled address: copy_page_range() ->
    copy_pte_range() -> copy_present_ptes() / copy_nonpresent_pte(), both PTLs held.

    The anonymous-memory form (`k`, `kf`, `child` a view of the child's page table): the
    write_protect_seq, the pinned-page copy, the write-protect of a COW mapping, steps `fork.*`.
    With `marker` (a MarkerKernel; `k`, `kf`, `child` None) the one-step form of the swap-in error
    entry and uffd-wp scenarios: the child's PTE is the field `child_pte`, its VMA is uffd-wp
    registered iff `dst_uffd_wp` (UFFD_FEATURE_EVENT_FORK), `forked` is set when the copy is done,
    the thread ends; a present PTE is copied with pte_clear_uffd_wp() unless `dst_uffd_wp` (the file
    mapping is shared: no COW write-protect), non-present entries by copy_nonpresent_pte()."""
    if marker is not None:
        _emit_fork_one_step(ctx, parent, marker, child_pte, dst_uffd_wp, forked)
        return
    _, seq = sync_fields(parent)
    running = child_running(parent)
    locks = [parent.ptl, child.ptl]

    if kf.write_protect_seq:
        ctx.step("fork.wp_seq_begin", "mm/memory.c:copy_page_range: mmap_write_lock held; "
                 "raw_write_seqcount_begin(&src_mm->write_protect_seq)"
                 + (" [what-if: smp_mb()]" if kf.fork_wp_seq_mb else ""),
                 effect=lambda s: {seq: getattr(s, seq) + 1}, reads=[seq], writes=[seq],
                 # do_raw_write_seqcount_begin(): s->sequence++ (a plain store); smp_wmb()
                 mem=Mem(stores=(seq,), after="mb" if kf.fork_wp_seq_mb else "wmb"))

    if kf.fork_child_table_alloc:
        populated = ctx.local("fork_pmd_populated", False, "the child's PMD entry points to a PTE table")
        # no `mem`: a lock operation orders everything under the memory models. The kernel's
        # spin_unlock() is a release (stlr on arm64) and the PTLs taken next are acquires: release
        # then acquire orders every earlier access before every later one on arm64 (RCsc), which
        # is what a full barrier gives the write_protect_seq store and the pin check here
        ctx.step("fork.pte_alloc", "mm/memory.c:copy_pte_range -> pte_alloc_map_lock() -> __pte_alloc(): "
                 "pte_alloc_one(); pmd_install(): spin_lock(pmd_lock()); pmd_none() -> mm_inc_nr_ptes(); "
                 "smp_wmb(); pmd_populate(); spin_unlock()",
                 effect=lambda s: {populated: True}, writes=[populated])

    if parent.nr > 1:
        _emit_copy_pte_range(ctx, k, kf, parent, child)
    else:
        copied = ctx.local("fork_folio", NO_FOLIO, "copy_present_ptes: the folio shared with the child")
        _emit_copy_pte(ctx, k, kf, parent, child, copied, locks)

    def done(s):
        d = {running: True}
        if kf.write_protect_seq:
            d[seq] = getattr(s, seq) + 1
        if cont:
            d[GOTO] = cont
        return d

    ctx.step("fork.done", "mm/memory.c:copy_page_range: "
             + ("raw_write_seqcount_end(&src_mm->write_protect_seq); " if kf.write_protect_seq else "")
             + "kernel/fork.c: dup_mmap() returns; wake_up_new_task(child)",
             effect=done, reads=[seq], writes=[seq, running], branches=[cont] if cont else [])


def _emit_copy_pte(ctx: Ctx, k: Kernel, kf: KernelII, parent: MM, child: MM, copied: str,
                   locks: list) -> None:
    """copy_pte_range() over the one modelled PTE (a small folio: copy_present_ptes() takes its
    folio_try_dup_anon_rmap_pte() path). A non-present entry is read in `fork.copy` (ptent =
    ptep_get(src_pte)) and copied by copy_nonpresent_pte() in `fork.copy_entry`, which writes what
    was read (the PTL held across both: nothing that takes it can change the entry in between)."""
    entry = ctx.local("fork_entry", PTE_NONE, "copy_pte_range: the non-present entry read (ptent) for "
                      "copy_nonpresent_pte()")

    def copy_pte(s):
        src = getattr(s, parent.pte)
        d = {parent.ptl: ctx.owner, child.ptl: ctx.owner}
        if src.kind == "none":
            return dict(d, **{GOTO: "fork.unlock"})
        if not src.present:
            return dict(d, **{entry: src, GOTO: "fork.copy_entry"})
        fid = src.folio
        pinned = getattr(s, parent.f["pin"][fid]) > 0               # folio_maybe_dma_pinned()
        if k.anon_exclusive:
            must_copy = pinned and getattr(s, parent.f["excl"][fid])
        else:
            must_copy = pinned and kf.fork_copy_pinned
        if must_copy:
            # copy_present_page(): the child gets its own exclusive, writable, dirty copy
            nfid = parent.alloc_folio(s, d, map=1, excl=k.anon_exclusive, uptodate=True,
                                      data=getattr(s, parent.f["data"][fid]))
            d[child.pte] = pte_present(nfid, write=True, dirty=True, soft_dirty=True)
            return dict(d, **{GOTO: "fork.unlock"})
        d[copied] = fid
        parent.fset(d, fid, ref=getattr(s, parent.f["ref"][fid]) + 1,       # folio_get()
                    map=getattr(s, parent.f["map"][fid]) + 1)               # dup rmap
        if k.anon_exclusive:
            parent.fset(d, fid, excl=False)                                 # ClearPageAnonExclusive()
        return d

    if k.anon_exclusive:
        dup = ("folio_try_dup_anon_rmap_pte(): exclusive && folio_maybe_dma_pinned() -> -EBUSY: "
               "copy_present_page(); else ClearPageAnonExclusive(), mapcount++")
    elif kf.fork_copy_pinned:
        dup = "page_maybe_dma_pinned() -> copy_present_page(); else get_page(); page_dup_rmap()"
    else:
        dup = "get_page(); page_dup_rmap()"
    ctx.step("fork.copy", "mm/memory.c:copy_pte_range [dst + src PTL]: ptent = ptep_get(src_pte); present: "
             + dup + "; set_pte_at(src_mm, dst_mm); non-present: copy_nonpresent_pte() (fork.copy_entry)",
             guard=lambda s: getattr(s, parent.ptl) == FREE and getattr(s, child.ptl) == FREE,
             effect=copy_pte,
             reads=locks + [parent.pte, parent.swp_count] + parent.ff("pin", "excl", "ref", "map", "data"),
             writes=locks + [parent.pte, child.pte, parent.swp_count, copied, entry] + parent.all_folio(),
             branches=["fork.unlock", "fork.copy_entry"],
             # spin_lock() is an acquire (arm64: casa); folio_maybe_dma_pinned() a plain load
             mem=Mem(loads=tuple(parent.ff("pin")), order="acquire"))

    def wrprotect(s):
        src = getattr(s, parent.pte)
        d = {child.pte: src._replace(write=False), copied: NO_FOLIO, GOTO: "fork.unlock"}
        if src.write:
            d[parent.pte] = src._replace(write=False)
        return d

    ctx.step("fork.wrprotect", "mm/memory.c:__copy_present_ptes: is_cow_mapping && pte_write -> "
             "wrprotect_ptes(src_mm); pte = pte_wrprotect(pte); pte = pte_mkold(pte); set_ptes(dst_mm)",
             effect=wrprotect, reads=[parent.pte], writes=[parent.pte, child.pte, copied],
             branches=["fork.unlock"])

    def copy_entry(s):
        d = {entry: PTE_NONE}
        copy_nonpresent_pte(s, d, parent, parent.pte, child.pte, getattr(s, entry),
                            clear_swp_exclusive=kf.fork_clear_swp_exclusive)
        return d

    swp = ("swap_duplicate(); pte_swp_exclusive() -> pte_swp_clear_exclusive()" if kf.fork_clear_swp_exclusive
           else "swap_duplicate() [swp exclusive bit kept: seeded mutation]")
    ctx.step("fork.copy_entry", f"mm/memory.c:copy_nonpresent_pte() [the entry fork.copy read]: swap: {swp}; "
             "migration: make_readable_migration_entry(); set_pte_at(src_mm, dst_mm)",
             effect=copy_entry, reads=[entry, parent.swp_count],
             writes=[entry, parent.pte, child.pte, parent.swp_count])

    ctx.step("fork.unlock", "mm/memory.c:copy_pte_range: pte_unmap_unlock(orig_dst_pte); "
             "spin_unlock(src_ptl)",
             effect=lambda s: {parent.ptl: FREE, child.ptl: FREE}, writes=locks)


def _emit_copy_pte_range(ctx: Ctx, k: Kernel, kf: KernelII, parent: MM, child: MM) -> None:
    """copy_pte_range() over the nr PTEs of a range mapping a large folio (the 2026 form, batching from
    "mm/memory: optimize fork() with PTE-mapped THP", v6.9):

    * `fork.copy` (dst + src PTL, taken on the first pass and after each -EAGAIN): the PTE at the
      cursor. Present and the folio large, no preallocated folio and more than one PTE left:
      folio_pte_batch_flags(FPB_MERGE_WRITE | FPB_RESPECT_DIRTY) counts the following PTEs mapping the
      following pages of the folio with the same dirty bit (write bits merged, soft-dirty ignored:
      the VMA does not track it); folio_ref_add(nr); folio_try_dup_anon_rmap_ptes() fails (-EBUSY) if
      the folio is maybe DMA-pinned and ANY page of the batch is PageAnonExclusive, else clears
      PageAnonExclusive on every page and raises the mapcount by nr. On failure copy_present_ptes()
      returns -EAGAIN: copy_pte_range() drops both PTLs, folio_prealloc()s a folio and starts again at
      the same PTE, now with a preallocated folio, so that PTE takes the per-PTE path
      (folio_try_dup_anon_rmap_pte(); a pinned exclusive page -> copy_present_page() gives the child a
      copy); the next PTE is batched again (the fallback is per PTE, not per folio). A swap PTE is
      copy_nonpresent_pte() as for one address;
    * `fork.wrprotect`: __copy_present_ptes(): wrprotect_ptes(src, nr) if the batched PTE is writable,
      set_ptes(dst, pte_wrprotect(pte), nr);
    * `fork.unlock`: both PTLs dropped: after the last PTE, or on -EAGAIN (then folio_prealloc() and
      `fork.copy` again)."""
    nr = parent.nr
    idx = ctx.local("fork_idx", 0, "copy_pte_range: the PTE of the range being copied (addr)")
    batch = ctx.local("fork_nr", 0, "copy_present_ptes: the PTEs batched for __copy_present_ptes()")
    prealloc = ctx.local("fork_prealloc", False, "copy_pte_range: `prealloc` holds a folio_prealloc()ed folio")
    again = ctx.local("fork_again", False, "copy_pte_range: -EAGAIN, the locks are dropped to preallocate")
    locks = [parent.ptl, child.ptl]
    mine = (FREE, ctx.owner)

    def next_pte(d, i):
        d[idx] = i + 1
        d[GOTO] = "fork.copy" if i + 1 < nr else "fork.unlock"
        return d

    def eagain(d):
        d[again] = True
        d[GOTO] = "fork.unlock"
        return d

    def copy(s):
        i = getattr(s, idx)
        src = getattr(s, parent.ptes[i])
        d = {parent.ptl: ctx.owner, child.ptl: ctx.owner, again: False}
        if src.kind == "none":
            return next_pte(d, i)
        if not src.present:
            copy_nonpresent_pte(s, d, parent, parent.ptes[i], child.ptes[i], src,
                                clear_swp_exclusive=kf.fork_clear_swp_exclusive)
            return next_pte(d, i)
        fid = src.folio
        pinned = getattr(s, parent.f["pin"][fid]) > 0                    # folio_needs_cow_for_dma()
        excl = [getattr(s, parent.page_flag("excl", fid, j)) for j in range(nr)]
        have = getattr(s, prealloc)
        if getattr(s, parent.f["nr"][fid]) > 1 and not have and nr - i > 1:
            n = 1                                                       # folio_pte_batch_flags()
            while i + n < nr:
                nxt = getattr(s, parent.ptes[i + n])
                if not (nxt.present and nxt.folio == fid and nxt.dirty == src.dirty):
                    break
                n += 1
            if pinned and kf.fork_batch_pin_check and any(excl[i:i + n]):
                return eagain(d)                                        # -EBUSY -> -EAGAIN
            parent.fset(d, fid, ref=getattr(s, parent.f["ref"][fid]) + n,
                        map=getattr(s, parent.f["map"][fid]) + n)
            for j in range(i, i + n):
                d[parent.page_flag("excl", fid, j)] = False             # ClearPageAnonExclusive()
            d[batch] = n
            return d
        if pinned and excl[i]:                                           # folio_try_dup_anon_rmap_pte()
            if not have:
                return eagain(d)                                        # copy_present_page(): -EAGAIN
            view = subpage_view(parent, i)
            nfid = view.alloc_folio(s, d, map=1, excl=True, uptodate=True,
                                    data=getattr(s, parent.f["data"][fid]))
            d[child.ptes[i]] = pte_present(nfid, write=True, dirty=True, soft_dirty=True)
            d[prealloc] = False
            return next_pte(d, i)
        parent.fset(d, fid, ref=getattr(s, parent.f["ref"][fid]) + 1, map=getattr(s, parent.f["map"][fid]) + 1)
        d[parent.page_flag("excl", fid, i)] = False
        d[batch] = 1
        d[prealloc] = False                                             # folio_put(prealloc): unused
        return d

    ctx.step("fork.copy", "mm/memory.c:copy_pte_range [dst + src PTL] -> copy_present_ptes(): large && "
             "!prealloc: folio_pte_batch_flags(); folio_ref_add(nr); folio_try_dup_anon_rmap_ptes()"
             + (" [no pin test: seeded mutation]" if not kf.fork_batch_pin_check else " [-EBUSY -> -EAGAIN]")
             + "; else folio_try_dup_anon_rmap_pte() / copy_present_page(prealloc); swap: "
             "copy_nonpresent_pte()",
             guard=lambda s: getattr(s, parent.ptl) in mine and getattr(s, child.ptl) in mine,
             effect=copy,
             reads=locks + [idx, prealloc] + parent.ptes + [parent.swp_count]
             + parent.ff("pin", "ref", "map", "data", "nr") + parent.excl_fields(),
             writes=locks + parent.ptes + child.ptes + [parent.swp_count, idx, batch, prealloc, again]
             + parent.all_folio(),
             branches=["fork.copy", "fork.unlock"])

    def wrprotect(s):
        i, n = getattr(s, idx), getattr(s, batch)
        first = getattr(s, parent.ptes[i])
        write = any(getattr(s, parent.ptes[j]).write for j in range(i, i + n))   # FPB_MERGE_WRITE
        d = {batch: 0}
        for j in range(i, i + n):
            src = getattr(s, parent.ptes[j])
            if write:
                d[parent.ptes[j]] = src._replace(write=False)                   # wrprotect_ptes()
            d[child.ptes[j]] = first._replace(write=False)                      # set_ptes(dst, nr)
        d[idx] = i + n
        d[GOTO] = "fork.copy" if i + n < nr else "fork.unlock"
        return d

    ctx.step("fork.wrprotect", "mm/memory.c:__copy_present_ptes: is_cow_mapping && pte_write(pte) -> "
             "wrprotect_ptes(src_mm, addr, src_pte, nr); pte = pte_wrprotect(pte); pte = pte_mkold(pte); "
             "set_ptes(dst_mm, addr, dst_pte, pte, nr)",
             effect=wrprotect, reads=[idx, batch] + parent.ptes,
             writes=[batch, idx] + parent.ptes + child.ptes, branches=["fork.copy", "fork.unlock"])

    def unlock(s):
        d = {parent.ptl: FREE, child.ptl: FREE}
        if getattr(s, again):
            d[again] = False
            d[prealloc] = True                          # folio_prealloc(); goto again
            d[GOTO] = "fork.copy"
        else:
            d[idx] = 0
        return d

    ctx.step("fork.unlock", "mm/memory.c:copy_pte_range: pte_unmap_unlock(orig_src_pte); "
             "pte_unmap_unlock(orig_dst_pte); ret == -EAGAIN -> prealloc = folio_prealloc(); goto again",
             effect=unlock, reads=[again], writes=locks + [again, prealloc, idx], branches=["fork.copy"])


def emit_zap(ctx: Ctx, cont: str = DONE, ghost: str | None = None, k: Kernel | None = None,
             tlb_flush: ArchHook | None = None, batch=None, flush_batched_pending: bool = True, *,
             marker: MarkerKernel | None = None, label: str = "zap", device=None,
             device_form: str | None = None) -> None:
    """madvise(MADV_DONTNEED) of the address: zap_pte_range() under the PTL (zap_details NULL, so no
    ZAP_FLAG_DROP_MARKER). A present PTE is cleared and its rmap removed; the page's reference is
    dropped after the TLB flush (tlb_finish_mmu), folded into the same step; a swap entry is freed
    (free_swap_and_cache()); other non-present entries are cleared (in an anonymous VMA a uffd-wp
    marker too; a file VMA's is kept). `ghost` (optional) is set True when the PTE has been zapped.
    `k` (optional): with the 2026 swap core (`k.swap_table`) the step names the 2026 calls
    (zap_nonpresent_ptes() -> swap_put_entries_direct()); the behaviour is the same. The zap holds
    only the PTL (and the mmap lock for read): no folio lock. Its swap-cache reclaim
    (swap_put_entries_cluster(..., reclaim_cache) -> __try_to_reclaim_swap(TTRS_UNMAPPED |
    TTRS_FULL), only when swap is more than half full) is not modelled: a cached folio stays until its
    owner frees it. `tlb_flush` (a CPU's TLB model, ArchHook): the mmu_gather's flush of a zapped
    present PTE (tlb_flush_mmu() before the folio is put); `batch` (rmap.TlbUnmapBatch with an
    mm->tlb_flush_batched field): zap_pte_range() first calls flush_tlb_batched_pending(mm) under the
    PTL (3ea277194daa; `flush_batched_pending = False`: before it).
    `marker` (a MarkerKernel): the VMA is file-backed (shmem) and registered with uffd-wp, so
    zap_install_uffd_wp_if_needed() leaves PTE_MARKER_UFFD_WP in place of a cleared uffd-wp PTE
    (999dad824c39; `marker.install_uffd_wp_marker`).
    `device` (a swapfile.SwapDevice; `ctx` is then a plain thread): swapoff-vs-alloc's zap of one swap
    PTE over the device's lifetime, in `device_form` (swapfile.SWAPOFF_DEVICE_FORMS): zap_pte_range()
    takes the PTL and clears the PTE and zap_nonpresent_ptes() frees the entry
    (swapfile.emit_swap_put_entries_direct(device=), steps `zap.put`, `zap.reclaim`, before 2026 as
    free_swap_and_cache() with `zap.huge_swapped`), then pte_unmap_unlock() (`zap.unlock`): the PTL is
    held across the whole put, which is what swapoff's unuse_pte() waits for."""
    if device is not None:
        if k or marker or tlb_flush or batch or ghost or cont != DONE:
            raise ModelError("zap_pte_range(device=): the device-lifetime zap takes no other option")
        emit_swap_put_entries_direct(ctx, None, form=device_form, device=device, prefix="zap",
                                     unlock="zap.unlock")
        ctx.step("zap.unlock", "mm/memory.c:zap_pte_range: pte_unmap_unlock()", release=device.ptl)
        return
    mm = ctx.mm
    hooks_r = (list(tlb_flush.reads) if tlb_flush else []) + (batch.mm_fields() if batch else [])
    hooks_w = (list(tlb_flush.writes) if tlb_flush else []) + (
        list(batch.hook.writes) + batch.mm_fields() if batch else [])

    def zap(s):
        pte = getattr(s, mm.pte)
        d = {GOTO: cont}
        if ghost:
            d[ghost] = True
        if batch and flush_batched_pending:
            batch.flush_batched_pending(s, d)          # flush_tlb_batched_pending(mm) [PTL held]
        if pte.kind == "marker" and marker is not None:
            return d                                   # file VMA: a uffd-wp marker is kept
        # ptep_get_and_clear_full(); zap_install_uffd_wp_if_needed()
        d[mm.pte] = pte_install_uffd_wp_if_needed(marker, pte) if marker else PTE_NONE
        if pte.present:
            if tlb_flush:
                tlb_flush.fn(s, d)                     # tlb_flush_mmu() before the folio is put
            fid = pte.folio
            mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)   # page_remove_rmap()
            mm.put_folio(s, d, fid)
        elif pte.kind == "swap":
            mm.swap_free(s, d)
        return d

    if marker is None:
        ref = ("mm/madvise.c:madvise_dontneed_single_vma -> mm/memory.c:zap_pte_range: "
               "flush_tlb_batched_pending(mm); present: get_and_clear_full_ptes(); "
               "folio_remove_rmap_ptes(); tlb_flush_mmu(): folio_put(); swap entry: "
               "zap_nonpresent_ptes(): swap_put_entries_direct(entry, nr) [the PTE cleared]"
               if k is not None and k.swap_table else
               "mm/madvise.c:madvise_dontneed_single_vma -> mm/memory.c:zap_pte_range: "
               + ("flush_tlb_batched_pending(mm); " if batch and flush_batched_pending else
                  "[no flush_tlb_batched_pending(): before 3ea277194daa] " if batch else "")
               + "ptep_get_and_clear_full(); page_remove_rmap(); tlb_flush_mmu(): folio_put() "
               "[swap entry: free_swap_and_cache()]")
    else:
        ref = ("mm/madvise.c:madvise_dontneed_single_vma -> mm/memory.c:zap_pte_range -> "
               "do_zap_pte_range -> zap_present_ptes -> zap_present_folio_ptes: get_and_clear_full_ptes(); "
               "zap_install_uffd_wp_if_needed(); folio_remove_rmap_ptes() [a PTE marker is kept: "
               "zap_nonpresent_ptes() drops a uffd-wp marker only in an anonymous VMA]"
               if marker.softleaf and marker.install_uffd_wp_marker else
               "mm/madvise.c:madvise_dontneed_single_vma -> mm/memory.c:zap_pte_range: "
               "ptep_get_and_clear_full(); " + ("zap_install_uffd_wp_if_needed(); " if marker.install_uffd_wp_marker
                                                else "") + "page_remove_rmap(); a PTE marker is kept")
    ctx.step(label, ref, guard=lambda s: getattr(s, mm.ptl) == FREE, effect=zap,
             reads=[mm.ptl, mm.pte] + mm.slot_fields() + mm.ff("map", "ref", "swapcache") + hooks_r,
             writes=[mm.pte] + mm.slot_fields() + mm.all_folio() + ([ghost] if ghost else []) + hooks_w,
             branches=[cont])


def _emit_fork_one_step(ctx: Ctx, mm: MM, k: MarkerKernel, child_pte: str, dst_uffd_wp: bool,
                        forked: str) -> None:
    def fork(s):
        pte = getattr(s, mm.pte)
        d = {forked: True, GOTO: DONE}
        if pte.present:
            mm.get_folio(s, d, pte.folio)
            mm.fset(d, pte.folio, map=getattr(s, mm.f["map"][pte.folio]) + 1)
            d[child_pte] = pte._replace(uffd_wp=pte.uffd_wp and dst_uffd_wp, dirty=False)
        elif pte.kind != "none":
            copy_nonpresent_pte(s, d, mm, mm.pte, child_pte, pte, dst_uffd_wp=dst_uffd_wp, marker=k)
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
    if k.softleaf and k.fork_swapin_error == "7e3ce3f8d2d2" and k.fork_marker_checks_dst:
        # linux-mm 2026 (mm/memory.c @009857a22860; copy_pte_marker() in include/linux/mm_inline.h)
        ref = ("mm/mmap.c:dup_mmap -> mm/memory.c:copy_page_range -> copy_pte_range [both PTLs] -> "
               "copy_nonpresent_pte: entry = softleaf_from_pte(orig_pte); softleaf_is_marker(entry) -> "
               "marker = copy_pte_marker(entry, dst_vma) [PTE_MARKER_POISONED always, PTE_MARKER_UFFD_WP "
               "only if userfaultfd_wp(dst_vma)]; if (marker) set_pte_at(dst_mm, addr, dst_pte, "
               "make_pte_marker(marker)) [a present PTE: copy_present_ptes() clears the uffd-wp bit unless "
               "userfaultfd_wp(dst_vma)]")
    else:
        ref = ("kernel/fork.c:dup_mmap -> mm/memory.c:copy_page_range -> "
               "copy_pte_range [both PTLs] -> copy_nonpresent_pte: " + parts[k.fork_swapin_error] + "; "
               + marker + "; copy_present_pte: !userfaultfd_wp(dst_vma) -> pte_clear_uffd_wp()")
    ctx.step("copy_page_range", ref,
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=fork,
             reads=[mm.pte, mm.ptl, mm.swp_count] + mm.ff("ref", "map"),
             writes=[forked, child_pte, mm.pte, mm.swp_count] + mm.ff("ref", "map"), branches=[DONE])


def pte_install_uffd_wp_if_needed(k: MarkerKernel, pteval: Pte) -> Pte:
    """pte_install_uffd_wp_if_needed(vma, addr, pte, pteval) for a file-backed VMA."""
    if k.install_uffd_wp_marker and pteval.uffd_wp and pteval.kind in ("present", "swap", "marker"):
        return PTE_MARKER_UFFD_WP
    return PTE_NONE
