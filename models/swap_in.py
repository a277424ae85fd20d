"""Swap-in: mm/memory.c:do_swap_page(), the fault on a swap PTE.

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
  exclusive; an exclusive page under writeback on a SWP_STABLE_WRITES device is not (eacde32757c7
  fixed the inverted test); reuse if `exclusive || page_count(page) == 1`.
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
"""

from __future__ import annotations

from pteverify.model import FREE, GOTO, ModelError

from .mm import GARBAGE, NO_FOLIO, Ctx, Kernel, pte_present


def read_slot(mm, s) -> tuple[str, bool]:
    """swap_readpage(): what the read brings in, and whether it succeeded (PG_uptodate)."""
    if mm.swp_bad:
        return GARBAGE, False
    return getattr(s, mm.swp_data), True


def read_into_swap_cache(mm, s, d: dict) -> str:
    """__read_swap_cache_async() on a miss: a fresh folio enters the swap cache (SWAP_HAS_CACHE; one
    reference for the cache, one for the caller) and swap_readpage() fills it. Returns the folio."""
    data, ok = read_slot(mm, s)
    fid = mm.alloc_folio(s, d, ref=2, swapcache=True, data=data, uptodate=ok)
    d[mm.swp_has_cache] = True
    d[mm.swp_cache] = fid
    return fid


def emit_do_swap_page(ctx: Ctx, k: Kernel) -> None:
    mm = ctx.mm
    ctx.fault_locals()
    L = ctx.vars
    orig, fwrite, page, swc, excl, clear = (L["orig"], L["fwrite"], L["page"], L["swapcache"],
                                            L["excl"], L["clear"])
    ret = L["ret"]
    retry = list(ctx.retry_labels)
    pin_skip = k.synchronous_io and k.swapcache_prepare      # 13ddaf26be32's pin can be taken
    after = "dsp.swapcache_clear" if pin_skip else None
    ctx.after_fault = after
    locals_ = ctx.locals_fields(*Ctx.FAULT_LOCALS)
    folio_all = mm.all_folio()
    slot = mm.slot_fields()
    readpage = mm.swap_readpage_hook
    arch_set_pte = mm.set_pte_hook

    def leave(d, target=None, keep_clear=False, s=None):
        """Return from the fault: to `target`, or back to the faulting step (vmf->ret)."""
        if target is None:
            return ctx.leave_fault(s, d, keep_clear)
        ctx.reset(d, *[n for n in Ctx.FAULT_LOCALS if not (keep_clear and n == "clear")])
        d[GOTO] = target
        return d

    def undo_pin(s, d):
        """swapcache_clear(si, entry): drop the SWAP_HAS_CACHE pin of the skip-swapcache path."""
        if mm.v(s, d, clear):
            d[mm.swp_has_cache] = False
            d[clear] = False
            mm.maybe_free_slot(s, d)

    def out_page(s, d, target=None):
        """out_nomap / out_page: unlock and release the folio (and the skip-path pin)."""
        fid = getattr(s, page)
        d[mm.lock[fid]] = FREE
        mm.put_folio(s, d, fid)
        undo_pin(s, d)
        return leave(d, target, s=s)

    # -- non-swap entries ----------------------------------------------------------------------
    ctx.step("dsp.swapin_error",
             "mm/memory.c:do_swap_page: is_swapin_error_entry(entry) -> ret = VM_FAULT_SIGBUS",
             effect=lambda s: leave({}, "sigbus"), writes=locals_, branches=["sigbus"])

    # -- find the folio ----------------------------------------------------------------------------
    def skip_path(s):
        return k.synchronous_io and getattr(s, mm.swp_count) == 1

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
            if readpage:
                d[GOTO] = "dsp.lock"                   # no swap_readpage(): skip its hook steps
            return d
        if not mm.slot_in_use(s, d):
            # the entry was freed under us: swapin_readahead() returns NULL, pte_same() fails
            return leave(d, s=s)
        data, ok = read_slot(mm, s)
        if skip_path(s):
            if k.swapcache_prepare:
                if getattr(s, mm.swp_has_cache):
                    # swapcache_prepare() fails: schedule_timeout_uninterruptible(1); refault
                    return leave(d, s=s)
                d[mm.swp_has_cache] = True
                d[clear] = True
            fid = mm.alloc_folio(s, d, data=data, uptodate=ok)
            d[page] = fid
            return d
        fid = mm.alloc_folio(s, d, ref=2, swapcache=True, data=data, uptodate=ok)
        d[mm.swp_has_cache] = True
        d[mm.swp_cache] = fid
        d[page] = fid
        d[swc] = fid
        return d

    if k.synchronous_io:
        ref = ("mm/memory.c:do_swap_page: lookup_swap_cache(entry); miss && SWP_SYNCHRONOUS_IO && "
               "__swap_count(entry) == 1: " + ("swapcache_prepare(entry); " if k.swapcache_prepare else "")
               + "alloc_page_vma(); swap_readpage(page, true) [skip swapcache]")
    else:
        ref = ("mm/memory.c:do_swap_page: page = lookup_swap_cache(entry) ?: "
               "swapin_readahead(entry) [add_to_swap_cache(); swap_readpage()]")
    ctx.step("dsp.lookup", ref, guard=lookup_guard, effect=lookup,
             reads=[orig, ret] + slot + mm.ff("ref", "map", "swapcache"), writes=folio_all + slot + locals_,
             branches=retry + (["dsp.lock"] if readpage else []))
    if readpage:
        readpage(ctx, page, "dsp.")                     # its steps fall through to dsp.lock

    # -- lock it and re-check it is still the swap cache folio of this entry --------------------
    def lock_guard(s):
        return getattr(s, mm.lock[getattr(s, page)]) == FREE

    def lock(s):
        fid = getattr(s, page)
        cache_folio = getattr(s, swc)
        if cache_folio != NO_FOLIO and (not getattr(s, mm.f["swapcache"][fid])
                                        or getattr(s, mm.swp_cache) != fid):
            d = {}
            mm.put_folio(s, d, fid)
            undo_pin(s, d)
            return leave(d, s=s)
        return {mm.lock[fid]: ctx.owner}

    ctx.step("dsp.lock", "mm/memory.c:do_swap_page: lock_page_or_retry(page); "
             "PageSwapCache(page) && page_private(page) == entry.val",
             guard=lock_guard, effect=lock,
             reads=[page, swc, clear, ret, mm.swp_cache, mm.swp_count, mm.swp_has_cache] + mm.locks()
             + mm.ff("swapcache", "ref", "map"),
             writes=mm.locks() + folio_all + slot + locals_, branches=retry)

    # -- PTL, pte_same, uptodate ------------------------------------------------------------------
    def pte_same(s):
        d = {}
        if getattr(s, mm.pte) != getattr(s, orig):
            return out_page(s, d)
        if not getattr(s, mm.f["uptodate"][getattr(s, page)]):
            return out_page(s, d, "sigbus")            # ret = VM_FAULT_SIGBUS; goto out_nomap
        d[mm.ptl] = ctx.owner
        return d

    ctx.step("dsp.pte_same", "mm/memory.c:do_swap_page: pte_offset_map_lock(); "
             "pte_same(*vmf->pte, vmf->orig_pte); PageUptodate(page)",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_same,
             reads=[mm.ptl, mm.pte, orig, page, clear, ret, mm.swp_count, mm.swp_has_cache] + mm.locks()
             + mm.ff("uptodate", "ref", "map", "swapcache"),
             writes=[mm.ptl] + mm.locks() + folio_all + slot + locals_,
             branches=retry + ["sigbus"])

    # -- the exclusivity decision (v5.19+) ---------------------------------------------------------
    if k.anon_exclusive:
        def decide(s):
            fresh = getattr(s, swc) == NO_FOLIO
            e = getattr(s, orig).exclusive and k.swp_exclusive
            if fresh:
                e = True
            elif e and getattr(s, mm.f["writeback"][getattr(s, page)]) and k.stable_writes:
                e = False
            return {excl: e}

        if k.remember_exclusive:
            ref = ("mm/memory.c:do_swap_page: exclusive = pte_swp_exclusive(vmf->orig_pte); "
                   "page != swapcache -> exclusive = true; PageWriteback(page) && SWP_STABLE_WRITES "
                   "-> exclusive = false")
        else:
            ref = "mm/memory.c:do_swap_page: page != swapcache -> RMAP_EXCLUSIVE [no swp pte bit]"
        ctx.step("dsp.exclusive", ref, effect=decide, reads=[orig, swc, page] + mm.ff("writeback"),
                 writes=[excl])

    # -- arch_swap_restore (6dca4ac6fc91) ------------------------------------------------------------
    if k.swapin_arch_swap_restore:
        ctx.arch_swap_restore_step("dsp.arch_swap_restore", "mm/memory.c:do_swap_page: "
                                   "arch_swap_restore(entry, folio) [before swap_free()]", page)

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

    def emit_swap_free():
        if k.swap_free_before_map:
            ctx.step("dsp.swap_free", "mm/memory.c:do_swap_page: swap_free(entry); "
                     "should_try_to_free_swap() -> try_to_free_swap(page)" + mm.slot_free_ref(),
                     effect=free_swap,
                     reads=[page, fwrite] + slot + mm.ff("swapcache", "ref", "writeback", "map"),
                     writes=slot + folio_all)
        else:
            ctx.step("dsp.swap_free", "mm/memory.c:do_swap_page: swap_free(entry) [after set_pte_at(), "
                     "before c145e0b47c77]; mem_cgroup_swap_full(page) || VM_LOCKED || PageMlocked(page) "
                     "-> try_to_free_swap(page) [neither here]" + mm.slot_free_ref(),
                     effect=free_swap_after_map, reads=slot, writes=slot)

    if k.swap_free_before_map:
        emit_swap_free()

    # -- map it ---------------------------------------------------------------------------------------
    def set_pte(s):
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
        d = {}
        write = reuse and getattr(s, fwrite) and not o.uffd_wp
        if write:
            d[fwrite] = False
        if k.anon_exclusive and reuse:
            d[mm.f["excl"][fid]] = True                # RMAP_EXCLUSIVE
        d[mm.f["map"][fid]] = getattr(s, mm.f["map"][fid]) + 1
        new = pte_present(fid, write=write, dirty=write, soft_dirty=o.soft_dirty or write,
                          uffd_wp=o.uffd_wp)
        d[mm.pte] = new
        d[orig] = new                                   # vmf->orig_pte = pte
        if arch_set_pte:
            arch_set_pte.fn(s, d, fid, getattr(s, mm.pte), new)    # old: READ_ONCE(*ptep), the swap PTE
        return d

    if k.anon_exclusive:
        ref = ("mm/memory.c:do_swap_page: exclusive || page_count(page) == 1 -> "
               "maybe_mkwrite(pte_mkdirty()), RMAP_EXCLUSIVE; page_add_anon_rmap(); set_pte_at()")
    elif k.swap_free_before_map:
        ref = ("mm/memory.c:do_swap_page: FAULT_FLAG_WRITE && (page != swapcache || "
               "page_count(page) == 1) -> maybe_mkwrite(pte_mkdirty()); do_page_add_anon_rmap(); "
               "set_pte_at()")
    else:
        ref = ("mm/memory.c:do_swap_page: pte = mk_pte(page, vma->vm_page_prot) [FAULT_FLAG_WRITE && "
               "reuse_swap_page(page): read faults only in this form]; set_pte_at(); do_page_add_anon_rmap()")
    set_pte_reads = [page, orig, excl, swc, fwrite] + mm.ff("ref", "map")
    set_pte_writes = [fwrite, orig, mm.pte] + mm.ff("excl", "map")
    if arch_set_pte:
        ref += " [" + arch_set_pte.ref + "]"
        set_pte_reads += [mm.pte] + list(arch_set_pte.reads)
        set_pte_writes += list(arch_set_pte.writes)
    ctx.step("dsp.set_pte", ref, effect=set_pte, reads=set_pte_reads, writes=set_pte_writes)
    if not k.swap_free_before_map:
        emit_swap_free()

    # -- unlock; a write fault that could not map writable continues in do_wp_page --------------------
    def unlock(s):
        d = {mm.lock[getattr(s, page)]: FREE}
        if getattr(s, fwrite):
            d[GOTO] = "wp.entry"                        # do_wp_page(vmf), PTL still held
            return d
        d[mm.ptl] = FREE
        if after:
            return {**d, GOTO: after}
        return leave(d, s=s)

    ctx.step("dsp.unlock", "mm/memory.c:do_swap_page: unlock_page(page); FAULT_FLAG_WRITE -> "
             "do_wp_page(vmf), else pte_unmap_unlock()",
             effect=unlock, reads=[page, fwrite, ret], writes=[mm.ptl] + mm.locks() + locals_,
             branches=["wp.entry"] + ([after] if after else retry))

    if pin_skip:
        def swapcache_clear(s):
            d = {}
            undo_pin(s, d)
            return leave(d, s=s)

        ctx.step("dsp.swapcache_clear", "mm/memory.c:do_swap_page: need_clear_cache -> "
                 "swapcache_clear(si, entry) [after the PTL unlock]",
                 effect=swapcache_clear, reads=[clear, ret] + slot, writes=locals_ + slot, branches=retry)

