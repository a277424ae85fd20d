"""Lazily freeable anonymous memory: madvise(MADV_FREE), MAP_DROPPABLE and the reclaim paths that
discard such folios instead of swapping them.

A lazyfree folio is an anonymous folio without PG_swapbacked: it sits on the file LRU
(folio_is_file_lru() is !swapbacked) and reclaim may drop it instead of writing it to swap.
Two things make a folio lazyfree:

* `madvise(MADV_FREE)`, mm/madvise.c:madvise_free_pte_range(): under the PTL, a dirty (or swap-cache)
  folio is trylocked and folio_clear_dirty()'d, the PTE is made clean and old (its TLB entry queued on
  the mmu_gather) and folio_mark_lazyfree() -> lru_lazyfree() clears PG_swapbacked; the batched TLB
  flush happens in tlb_finish_mmu();
* a VM_DROPPABLE mapping (MAP_DROPPABLE, 9651fcedf7b9, v6.11): mm/rmap.c:folio_add_new_anon_rmap()
  sets PG_swapbacked only `if (!(vma->vm_flags & VM_DROPPABLE))`, so every folio faulted into the
  mapping is lazyfree from birth, dirty or not.

Reclaim is the shared model of models/swap_out.py: emit_shrink_page_list() with its lazyfree option
(`emit_reclaim()` below translates `Lazy` into `Kernel` fields and a `swap_out.Lazyfree`). One function
has both branches, as in the kernel: MGLRU aging (walk_pte_range) and eviction (sort_folio() in its
v6.10 / v6.11 / newest forms) or the inactive file LRU; shrink_folio_list (add_to_swap only for a
swap-backed folio outside the swap cache, the dirty file-LRU activation, the lazyfree
`folio_ref_freeze(folio, 1)` block); try_to_unmap_one with the MADV_FREE page check before the swap
path, in the forms of v5.17, 6c8e2a256915 (v5.18), 9651fcedf7b9 (v6.11, VM_DROPPABLE) and Barry Song's
"mm: set folio swapbacked iff folios are dirty in try_to_unmap_one" (Fixes: 6c8e2a256915; read in
v6.17-rc3); a folio made swap-backed again (the v6.10 sort_folio block) takes the anonymous swap path
(add_to_swap, swap_duplicate, pageout, __remove_mapping). See that module's docstring for the steps.

User accesses follow the x86 MMU: a store through a cached TLB entry that is already dirty writes the
page without touching the PTE; otherwise the page walk sets the PTE dirty bit (or faults when the PTE
is not present/writable). That is why MADV_FREE must flush the TLB after cleaning the PTE, and why
99baac21e458 ("mm: fix MADV_[FREE|DONTNEED] TLB flush miss problem", v4.13) makes tlb_finish_mmu()
flush when another thread's gather is pending (mm_tlb_flush_nested): "a thread has stable TLB entry
can fail to flush the TLB by observing pte_none|!pte_dirty". The TLB of the one CPU that stores is
modelled only in the scenarios that need it (`tlb=True`).

Abstractions: one PTE, small folios (no batched lazyfree unmap of large folios, no THP PMD path), the
accessed bit is not modelled (every mapped PTE counts as young; MADV_FREE clears young and dirty
together), lru_lazyfree() runs at folio_mark_lazyfree() rather than at the per-CPU batch drain,
try_to_unmap_one flushes immediately (ptep_clear_flush; TTU_BATCH_FLUSH's deferred flush is not
modelled), one pass of shrink_folio_list over the one folio.
"""

from __future__ import annotations

from dataclasses import dataclass

from pteverify.model import DONE, FREE, GOTO, Knob

from .mm import MM, NO_FOLIO, SORT_FOLIO_FORMS, ZERO, ArchHook, Ctx, Kernel, pte_present, written
from .swap_out import Lazyfree, emit_shrink_page_list

NO_TLB = "-"


@dataclass(frozen=True)
class Lazy:
    """The kernel being modelled. Defaults are the newest kernel read."""

    droppable: bool = False             # the VMA at the address is VM_DROPPABLE (MAP_DROPPABLE)
    droppable_aware: bool = True        # 9651fcedf7b9 (and the series from v1 on): rmap/unmap test VM_DROPPABLE
    sort_folio: str = "newest"          # "v6.10" (dirty lazyfree block), "v6.11", "newest"
    mglru: bool = True                  # CONFIG_LRU_GEN enabled (else classic LRU isolation)
    ref_check: bool = True              # 6c8e2a256915 (v5.18): ref_count == 1 + map_count
    swapbacked_iff_dirty: bool = True   # Barry Song's fix: extra reference -> restore only
    nested_flush: bool = True           # 99baac21e458 (v4.13): tlb_finish_mmu flushes if nested
    seeded_ignore_dirty: bool = False   # seeded mutation: the lazyfree branch ignores PG_dirty
    seeded_no_flush: bool = False       # seeded mutation: MADV_FREE cleans the PTE without a TLB flush
    tlb: bool = False                   # model the storing CPU's TLB entry

    def __post_init__(self):
        if self.sort_folio not in SORT_FOLIO_FORMS:
            raise ValueError(f"sort_folio form {self.sort_folio!r} not in {SORT_FOLIO_FORMS}")

    @property
    def droppable_vma(self) -> bool:
        """VM_DROPPABLE as the paths see it (a kernel without MAP_DROPPABLE has no such VMA)."""
        return self.droppable and self.droppable_aware

    def kernel(self) -> Kernel:
        """The shared paths' view of the release modelled (swap_out's try_to_unmap_one, sort_folio)."""
        return Kernel(lazyfree_ref_check=self.ref_check, lazyfree_swapbacked_iff_dirty=self.swapbacked_iff_dirty,
                      mglru_sort_folio=self.sort_folio)


# Knobs shared by the scenario builders (lazyfree_scenarios.py)
K_SORT_FOLIO = Knob("mglru.sort_folio", "newest",
                    "the form of mm/vmscan.c:sort_folio(): v6.10 (the \"dirty lazyfree\" block that calls "
                    "folio_set_swapbacked(), as in the MAP_DROPPABLE series up to v22), v6.11 (block "
                    "removed by 9651fcedf7b9; dirty file-LRU folios rotate as \"waiting for writeback\"), "
                    "newest (neither)", SORT_FOLIO_FORMS)
K_MGLRU = Knob("mglru.enabled", True, "CONFIG_LRU_GEN with /sys/kernel/mm/lru_gen/enabled (else the "
               "active/inactive LRU isolates the folio from the inactive file list)")
K_REF_CHECK = Knob("unmap.lazyfree_ref_check", True,
                   "try_to_unmap_one() leaves a lazyfree folio alone unless ref_count == 1 + map_count "
                   "(6c8e2a256915, v5.18)")
K_IFF_DIRTY = Knob("unmap.swapbacked_iff_dirty", True,
                   "try_to_unmap_one() sets PG_swapbacked only when the folio is dirty (and not "
                   "droppable); an extra reference only restores the PTE (Barry Song, Fixes: "
                   "6c8e2a256915)")
K_NESTED_FLUSH = Knob("tlb.nested_flush", True,
                      "tlb_finish_mmu() flushes when mm_tlb_flush_nested(): another thread batches PTE "
                      "changes of the same mm (99baac21e458, v4.13)")
K_IGNORE_DIRTY = Knob("seeded.unmap_ignores_dirty", False,
                      "seeded mutation: try_to_unmap_one() discards a lazyfree folio without looking at "
                      "PG_dirty, as if every VMA were VM_DROPPABLE")
K_NO_FLUSH = Knob("seeded.madv_free_no_tlb_flush", False,
                  "seeded mutation: madvise_free_pte_range() cleans the PTE without tlb_remove_tlb_entry(), "
                  "so madvise() returns with the caller's dirty TLB entry still cached (the TLB flush "
                  "miss 99baac21e458 closed for concurrent madvise() calls, reduced to one thread)")
K_DROPPABLE_AWARE = Knob("droppable.rmap_checks_vma", True,
                         "folio_add_new_anon_rmap() and try_to_unmap_one() test VM_DROPPABLE (the MAP_"
                         "DROPPABLE series); false is a seeded mutation: the v6.10 rmap code in a "
                         "droppable mapping")
K_LIVENESS = Knob("check.dropped_under_pressure", False,
                  "also check, when every thread has finished, that the dirty droppable folio reclaim "
                  "evicted has left the page table (guarantee b of MAP_DROPPABLE, a liveness property "
                  "bounded by the reclaim passes modelled)")


def lazy_from_knobs(knobs, **fixed) -> Lazy:
    mapping = {"mglru.sort_folio": "sort_folio", "mglru.enabled": "mglru",
               "unmap.lazyfree_ref_check": "ref_check", "unmap.swapbacked_iff_dirty": "swapbacked_iff_dirty",
               "tlb.nested_flush": "nested_flush", "seeded.unmap_ignores_dirty": "seeded_ignore_dirty",
               "seeded.madv_free_no_tlb_flush": "seeded_no_flush",
               "droppable.rmap_checks_vma": "droppable_aware"}
    values = dict(fixed)
    for knob, attr in mapping.items():
        if knob in knobs.declared:
            values[attr] = knobs[knob]
    return Lazy(**values)


# --------------------------------------------------------------------------------------------
# Shared state and helpers


class LazyMM:
    """The mm vocabulary plus what lazyfree paths need: the storing CPU's TLB entry, the mmu_gather
    pending counter, and folio helpers that know the zero page."""

    def __init__(self, mm: MM, lz: Lazy, *, tlb_init: str = NO_TLB):
        self.mm = mm
        self.lz = lz
        m = mm.m
        self.tlb = m.field("tlb", tlb_init, doc="the storing CPU's TLB entry for the address "
                           "(\"<folio>:dirty\" lets stores through without a page walk)") if lz.tlb else None
        self.flush_pending = (m.field("tlb_flush_pending", 0, range(0, 3),
                                      "mm->tlb_flush_pending: mmu_gathers in progress (inc/dec_tlb_flush_pending)")
                              if lz.tlb else None)

    # folio content, knowing the zero page
    def data(self, s, d: dict, fid: str) -> str:
        return ZERO if fid == ZERO else self.mm.fv(s, d, "data", fid)

    def tlb_fields(self) -> list[str]:
        return [self.tlb] if self.tlb else []

    def flush(self, d: dict) -> None:
        """flush_tlb_range(): the storing CPU drops its cached entry."""
        if self.tlb:
            d[self.tlb] = NO_TLB

    def flush_hook(self) -> ArchHook | None:
        """flush() as a hook of the shared paths (try_to_unmap_one's ptep_clear_flush())."""
        return ArchHook(fn=lambda s, d: self.flush(d), writes=(self.tlb,)) if self.tlb else None

    def new_anon_folio(self, s, d: dict, data: str = ZERO) -> str:
        """vma_alloc_zeroed_movable_folio() + folio_add_new_anon_rmap(folio, vma, addr, RMAP_EXCLUSIVE):
        PG_swapbacked unless VM_DROPPABLE (9651fcedf7b9), PG_anon_exclusive, mapcount 1."""
        swapbacked = not self.lz.droppable_vma
        return self.mm.alloc_folio(s, d, ref=1, map=1, excl=True, swapbacked=swapbacked,
                                   uptodate=True, data=data)


# --------------------------------------------------------------------------------------------
# User accesses (x86 MMU semantics) with do_anonymous_page() and a minimal do_wp_page()


def emit_access(ctx: Ctx, lzm: LazyMM, op: str, *, tag: str = "cpu", done: str | None = None,
                last: str | None = None, seen_expect: str | None = None, label: str = "access",
                cont: str = DONE, pte: str | None = None, userfault: str | None = None) -> None:
    """A user load or store at the address, then `cont`. `last` is a ghost holding the content the
    last completed store left (stores update it; a load records it in `seen_expect` next to what it
    read). `userfault`, a field that is True while the range is registered with userfaultfd
    (VM_UFFD_MISSING), sends a fault on pte_none to handle_userfault()."""
    mm = lzm.mm
    pte = pte or mm.pte
    store = op == "store"
    seen = ctx.local("seen", "-", "what the load read") if not store else None
    fault = f"{label}.fault"
    wp = f"{label}.wp"
    uf = f"{label}.userfault"
    tlb = lzm.tlb

    def access(s):
        p = getattr(s, pte)
        d = {}
        if store and tlb:
            entry = getattr(s, tlb)
            if entry.endswith(":dirty"):
                fid = entry.split(":")[0]
                new = written(lzm.data(s, d, fid), tag)
                d[mm.f["data"][fid]] = new
                return _stored(d, new)
        if p.kind == "none":
            return {GOTO: uf if userfault and getattr(s, userfault) else fault}
        if p.kind != "present":
            raise AssertionError(f"{label}: PTE {p} is not modelled here")
        fid = p.folio
        if not store:
            d[seen] = lzm.data(s, d, fid)
            if seen_expect:
                d[seen_expect] = getattr(s, last)
            if tlb and getattr(s, tlb) == NO_TLB:
                d[tlb] = f"{fid}:{'dirty' if p.dirty else 'clean'}"
            d[GOTO] = cont
            return d
        if not p.write:
            return {GOTO: wp}
        new = written(lzm.data(s, d, fid), tag)
        d[mm.f["data"][fid]] = new
        d[pte] = p._replace(dirty=True)                # the page walk sets the dirty bit
        if tlb:
            d[tlb] = f"{fid}:dirty"
        return _stored(d, new)

    def _stored(d, new):
        if done:
            d[done] = True
        if last:
            d[last] = new
        d[GOTO] = cont
        return d

    reads = [pte] + mm.ff("data") + lzm.tlb_fields() + ([last] if last else []) + ([userfault] if userfault else [])
    writes = [pte] + mm.ff("data") + lzm.tlb_fields() + [x for x in (done, last, seen, seen_expect) if x]
    verb = "store to" if store else "load from"
    ctx.step(label, f"user space: {verb} the page (x86 MMU: a dirty TLB entry lets a store through; "
             "else the page walk needs pte_present" + (" && pte_write and sets the dirty bit" if store else "")
             + ", else #PF)",
             guard=lambda s: getattr(s, pte).kind != "swap", effect=access, reads=reads, writes=writes,
             branches=[cont, fault, wp] + ([uf] if userfault else []))

    # do_anonymous_page(): pte_offset_map_lock(); the PTE must still be none
    def anon_fault(s):
        p = getattr(s, pte)
        d = {GOTO: label}
        if p.kind != "none":
            return d                                   # !pte_none(): update_mmu_tlb(), retry the access
        if not store:
            d[pte] = pte_present(ZERO)                 # read fault: the shared zero page, read-only
            return d
        fid = lzm.new_anon_folio(s, d)
        d[pte] = pte_present(fid, write=True, dirty=True)
        return d

    ctx.step(fault, "mm/memory.c:do_anonymous_page: " + (
        "vma_alloc_zeroed_movable_folio(); folio_add_new_anon_rmap() [PG_swapbacked unless VM_DROPPABLE]; "
        "set_pte_at(pte_mkwrite(pte_mkdirty(entry))) [PTL; retry if !pte_none]" if store else
        "!FAULT_FLAG_WRITE: set_pte_at(my_zero_pfn) [PTL; retry if !pte_none]"),
        guard=lambda s: getattr(s, mm.ptl) == FREE, effect=anon_fault,
        reads=[mm.ptl, pte] + mm.ff("ref"), writes=[pte] + mm.all_folio(), branches=[label])

    # do_wp_page(): reuse an exclusive anon folio, else wp_page_copy()
    def wp_fault(s):
        p = getattr(s, pte)
        d = {GOTO: label}
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

    ctx.step(wp, "mm/memory.c:do_wp_page: PageAnonExclusive -> wp_page_reuse(); else wp_page_copy(): "
             "new folio, folio_add_new_anon_rmap() [PG_swapbacked unless VM_DROPPABLE], "
             "ptep_clear_flush(); set_pte_at(); folio_remove_rmap_pte(old) [PTL]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=wp_fault,
             reads=[mm.ptl, pte] + mm.all_folio(), writes=[pte] + mm.all_folio(), branches=[label])

    if userfault:
        ctx.step(uf, "mm/memory.c:do_anonymous_page -> userfaultfd_missing(vma) -> "
                 "handle_userfault(VM_UFFD_MISSING): sleep until the monitor resolves the fault, retry",
                 guard=lambda s: getattr(s, pte).kind != "none" or not getattr(s, userfault),
                 effect=lambda s: {GOTO: label}, reads=[pte, userfault], branches=[label])


# --------------------------------------------------------------------------------------------
# madvise(MADV_FREE)


def emit_madvise_free(ctx: Ctx, lzm: LazyMM, *, prefix: str = "madv", cont: str = DONE,
                      lazy_ghost: str | None = None) -> None:
    """madvise_free_single_vma(): tlb_gather_mmu(); madvise_free_pte_range(); tlb_finish_mmu()."""
    mm, lz = lzm.mm, lzm.lz
    batched = ctx.local("tlb_batched", False, "the mmu_gather holds a TLB entry to flush")
    pending = lzm.flush_pending

    if pending:
        ctx.step(f"{prefix}.gather", "mm/mmu_gather.c:tlb_gather_mmu()"
                 + ("; inc_tlb_flush_pending(mm)" if lz.nested_flush else ""),
                 effect=lambda s: {pending: getattr(s, pending) + 1} if lz.nested_flush else None,
                 reads=[pending], writes=[pending])

    def pte_range(s):
        p = getattr(s, mm.pte)
        d = {}
        if p.kind != "present" or p.folio == ZERO:
            return d                                   # pte_none / non-present / zero page: skip
        fid = p.folio
        if mm.fv(s, d, "swapcache", fid) or mm.fv(s, d, "dirty", fid):
            if getattr(s, mm.lock[fid]) != FREE:
                return d                               # !folio_trylock(): continue (nothing done)
            if mm.fv(s, d, "map", fid) != 1:
                return d                               # shared folio: skip
            if mm.fv(s, d, "swapcache", fid) and not mm.try_to_free_swap(s, d, fid):
                return d
            mm.fset(d, fid, dirty=False)               # folio_clear_dirty()
        if p.dirty:                                    # pte_young || pte_dirty: clean + old, queue flush
            d[mm.pte] = p._replace(dirty=False)
            if not lz.seeded_no_flush:
                d[batched] = True
        if mm.fv(s, d, "swapbacked", fid) and not mm.fv(s, d, "swapcache", fid):
            mm.fset(d, fid, swapbacked=False)          # folio_mark_lazyfree() -> lru_lazyfree()
        if lazy_ghost:
            d[lazy_ghost] = fid
        return d

    ctx.step(f"{prefix}.pte_range", "mm/madvise.c:madvise_free_pte_range: pte_offset_map_lock(); "
             "swapcache||dirty: folio_trylock(), folio_clear_dirty(); pte_young||pte_dirty: "
             "ptep_get_and_clear_full(); pte_mkold(pte_mkclean()); set_pte_at(); "
             + ("[seeded: no tlb_remove_tlb_entry()]; " if lz.seeded_no_flush else "tlb_remove_tlb_entry(); ")
             + "folio_mark_lazyfree() [clears PG_swapbacked]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_range,
             reads=[mm.ptl, mm.pte] + mm.locks() + mm.all_folio() + mm.slot_fields(),
             writes=[mm.pte, batched] + mm.all_folio() + mm.slot_fields() + ([lazy_ghost] if lazy_ghost else []))

    def finish(s):
        d = {GOTO: cont}
        force = bool(pending) and lz.nested_flush and getattr(s, pending) > 1
        if getattr(s, batched) or force:
            lzm.flush(d)
        if pending and lz.nested_flush:
            d[pending] = getattr(s, pending) - 1
        ctx.reset(d, "tlb_batched")
        return d

    ctx.step(f"{prefix}.finish", "mm/mmu_gather.c:tlb_finish_mmu(): "
             + ("force = mm_tlb_flush_nested(mm); tlb_flush_mmu() [if batched || force]; "
                "dec_tlb_flush_pending(mm)" if lz.nested_flush else
                "tlb_flush_mmu() [only if this gather batched a PTE]"),
             effect=finish, reads=[batched] + ([pending] if pending else []),
             writes=[batched] + lzm.tlb_fields() + ([pending] if pending else []), branches=[cont])


# --------------------------------------------------------------------------------------------
# Reclaim: MGLRU aging and eviction, shrink_folio_list, try_to_unmap_one


def emit_reclaim(ctx: Ctx, lzm: LazyMM, *, mglru: bool, passes: int = 2, cont: str = DONE,
                 evicted: str | None = None) -> None:
    """One reclaimer working on the folio mapped at the address when it starts: the shared
    shrink_folio_list / try_to_unmap_one of models/swap_out.py with its lazyfree branches. With
    `mglru`: walk_pte_range() aging, then up to `passes` eviction passes of sort_folio() before
    isolation; otherwise the active/inactive LRU isolates the folio from the inactive file list where
    folio_mark_lazyfree() (or folio_add_new_anon_rmap() of a droppable mapping) put it. `evicted`, a
    ghost, records that an eviction pass met the folio dirty on the file LRU (pass it for a droppable
    VMA: the folio is then dirty and droppable)."""
    lz = lzm.lz
    emit_shrink_page_list(ctx, lz.kernel(), cont=cont, tlb_flush=lzm.flush_hook(),
                          lazyfree=Lazyfree(lru="mglru" if mglru else "inactive_file", passes=passes,
                                            droppable_vma=lz.droppable_vma, evicted=evicted,
                                            seeded_ignore_dirty=lz.seeded_ignore_dirty))


# --------------------------------------------------------------------------------------------
# Invariants, in the kernel's own terms


def inv_droppable_never_swapbacked(mm: MM, pte: str | None = None, name: str = "droppable_never_swapbacked",
                                   who: str = "") -> None:
    pte = pte or mm.pte

    def ok(s):
        p = getattr(s, pte)
        return not p.present or p.folio == ZERO or not getattr(s, mm.f["swapbacked"][p.folio])

    mm.m.invariant(name, ok, [pte] + mm.ff("swapbacked"),
                   f"a folio mapped by a VM_DROPPABLE mapping{who} is never PG_swapbacked "
                   "(folio_add_new_anon_rmap: `if (!(vma->vm_flags & VM_DROPPABLE)) "
                   "__folio_set_swapbacked(folio)`; David Hildenbrand in the v22 review: \"we have to make "
                   "sure that no folio_set_swapbacked() would ever get performed on these folios\")")


def inv_droppable_never_swapped(mm: MM) -> None:
    def ok(s):
        p = getattr(s, mm.pte)
        if p.kind == "swap":
            return False
        return not (p.present and p.folio != ZERO and getattr(s, mm.f["swapcache"][p.folio]))

    mm.m.invariant("droppable_never_swapped", ok, [mm.pte] + mm.ff("swapcache"),
                   "a VM_DROPPABLE page never gets a swap slot: it is never in the swap cache and its PTE "
                   "never becomes a swap entry (\"a) It never is written out to swap.\")")


def inv_read_sees_last_write_or_zero(mm: MM, seen: str, expected: str) -> None:
    mm.m.invariant("read_sees_last_write_or_zero",
                   lambda s: getattr(s, seen) in ("-", ZERO, getattr(s, expected)), [seen, expected],
                   "a load from a droppable or lazyfree page returns the value last written or zero, "
                   "nothing else (\"b) Under memory pressure, mm can just drop the pages (so that they're "
                   "zero when read back again).\")")


def inv_write_after_madv_free_kept(mm: MM, done: str, tag: str = "cpu") -> None:
    def ok(s):
        if not getattr(s, done) or getattr(s, mm.ptl) != FREE:
            return True
        p = getattr(s, mm.pte)
        if p.present and p.folio != ZERO:
            return tag in getattr(s, mm.f["data"][p.folio]).split("+")[1:]
        if p.kind == "swap":
            return tag in getattr(s, mm.swp_data).split("+")[1:]
        return False

    mm.m.invariant("write_after_madv_free_kept", ok, [done, mm.ptl, mm.pte, mm.swp_data] + mm.ff("data"),
                   "data written after MADV_FREE returned is never lost: once the store completed, the "
                   "address resolves to a page holding it (the folio is never discarded with its new data)")


def inv_referenced_folio_not_discarded(mm: MM, held: str) -> None:
    def ok(s):
        fid = getattr(s, held)
        if fid == NO_FOLIO or getattr(s, mm.ptl) != FREE:
            return True
        p = getattr(s, mm.pte)
        return p.present and p.folio == fid

    mm.m.invariant("referenced_folio_not_discarded", ok, [held, mm.ptl, mm.pte],
                   "a lazyfree folio with an extra reference (a GUP / direct-I/O read in flight) is never "
                   "discarded: while the reference is held the folio stays mapped at its address "
                   "(try_to_unmap_one: ref_count != 1 + map_count -> set_pte_at(pteval))")


def inv_clean_lazyfree_not_swapbacked(mm: MM, lazy: str) -> None:
    def ok(s):
        fid = getattr(s, lazy)
        if fid == NO_FOLIO or getattr(s, mm.f["ref"][fid]) == 0:
            return True
        if not getattr(s, mm.f["swapbacked"][fid]) or getattr(s, mm.f["dirty"][fid]):
            return True
        p = getattr(s, mm.pte)
        return p.present and p.folio == fid and p.dirty

    mm.m.invariant("clean_lazyfree_not_swapbacked", ok, [lazy, mm.pte] + mm.ff("ref", "swapbacked", "dirty"),
                   "a clean MADV_FREE folio stays lazyfree: PG_swapbacked comes back only when the folio or "
                   "its PTE is dirty (\"we only reset 'swapbacked' when we are certain the folio is dirty "
                   "and not droppable\")")


def final_dropped_under_pressure(mm: MM, evicted: str, original: str) -> None:
    """`original`: the content the page held before the pressure; a page faulted in after the drop
    starts from ZERO, so a mapped page whose content still derives from `original` was never dropped."""
    def ok(s):
        if not getattr(s, evicted):
            return True
        p = getattr(s, mm.pte)
        if not p.present or p.folio == ZERO:
            return True
        return getattr(s, mm.f["data"][p.folio]).split("+")[0] != original

    mm.m.final("dirty_droppable_dropped", ok, [evicted, mm.pte] + mm.ff("data"),
               "a dirty droppable folio that MGLRU eviction reached is dropped from the page table by "
               "the passes modelled (\"b) Under memory pressure, mm can just drop the pages\")")


__all__ = ["Lazy", "LazyMM", "ZERO", "emit_access", "emit_madvise_free", "emit_reclaim", "lazy_from_knobs"]
