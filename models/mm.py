"""The shared mm vocabulary every kernel model in pteverify is built from: the state of a page,
folio, PTE and swap slot, the locks, the knob sets saying which kernel is modelled (`Kernel`,
`KernelII`, `Lazy`, `MarkerKernel`), the PTE kinds (present, swap, migration entry, PTE marker,
swap-in error entry) and a second process's view of the address (`child_view`).

The kernel paths live in one module per kernel source file (memory.py, rmap.py, vmscan.py, ...); the
invariants in invariants.py; the scenario compositions in models/scenarios/.

----------------------------------------------------------------------------------------------------
The shared mm vocabulary every kernel model in pteverify is built from.

One process (one mm), one user address, one page-table entry at that address: the races modelled here
are about what that PTE, the folios behind it and the swap slot do while several kernel paths run.
`MM` adds the fields to a `pteverify.model.Model`:

* the **PTE** at the address, a `Pte` value: none, present (pfn = folio id, write, dirty, soft-dirty,
  uffd-wp), swap (slot plus the swp bits exclusive, soft-dirty, uffd-wp), migration, PTE marker or
  swap-in-error entry. Comparing two `Pte` values is `pte_same()`;
* a small pool of **folios** ("A", "B", ...), each with refcount, mapcount, GUP pin count,
  PG_anon_exclusive, PG_swapcache, PG_swapbacked, PG_dirty, PG_uptodate, PG_writeback, the folio lock
  and its content. Content is the set of writes that reached the page ("old+dma+cpu"), so a lost write
  is visible; "garbage" is what a folio whose swap read failed holds;
* one **swap slot**: its swap count (swap_map without SWAP_HAS_CACHE), SWAP_HAS_CACHE, the folio the
  swap cache holds for it, and what the swap device holds; with a range of nr > 1 PTEs, nr contiguous
  slots (`add_swap_slots`) and large folios (`<folio>_nr`, a PG_anon_exclusive per page), which enter
  and leave the swap cache at all their slots with nr references (`swap_cache_add` / `swap_cache_del`);
* a **shmem mapping** (`add_shmem_mapping`, `ShmemMapping`): the page cache of a shmem file at one or
  two indices, each holding a swap entry (one of the slots) or a folio, and the order of a multi-index
  entry over two indices;
* the **page-table lock** (PTL) and the folio locks, first-class locks whose value is the owner.

A free folio has refcount 0 and every flag clear; allocation takes the first free folio of the pool
(deterministically, so symmetric states are not told apart by folio name) and `put_folio` frees a
folio whose refcount drops to zero. Per-thread locals of the kernel functions (vmf->orig_pte, the page
a fault holds, `exclusive`) are fields named after the thread and are reset when the function returns,
so finished work leaves no trace in the state.

The path families live in their own modules (swap_out, swap_in, swapoff, gup, cow, user); each step
names the kernel function and call it models.

Architecture hooks (`ArchHook`; none by default, so every path runs the kernel's generic no-op stubs and
behaves exactly as without them): an extension such as arm64 MTE (models/arm64_mteswap.py) registers

* `add_slot_free_hook()`: run by `maybe_free_slot()` when a slot is really freed (mm/swapfile.c:
  swap_range_free() -> arch_swap_invalidate_page()); every step that declares a write of the swap
  count or SWAP_HAS_CACHE (the only ways a slot gets freed) has the hook's fields in its footprint;
* `swap_restore_hook`: arch_swap_restore(entry, folio), a step of its own where the generic code calls
  it (do_swap_page, unuse_pte; `Kernel` says in which releases);
* `set_pte_hook`: the arch part of set_pte_at() installing a present PTE (arm64 __set_pte_at() ->
  mte_sync_tags()), run inside the step that installs it (do_swap_page, unuse_pte);
* `swap_readpage_hook`: steps run right after swap_readpage() read a folio (a what-if hook point: the
  kernel has no arch call there);
* `add_folio_flag()`: a per-folio field of the extension (PG_mte_tagged), reset when a folio is freed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple
from pteverify.model import FREE, GOTO, Model, ModelError


NO_FOLIO = "-"


ORIGINAL = "old"          # the page's content before the scenario starts


GARBAGE = "garbage"       # content of a folio whose swap read failed (!PG_uptodate)


NO_DATA = "-"             # a free folio / an unused swap slot


SLOT = "slot0"


ZERO = "zero"             # the shared zero page (a read fault on pte_none maps my_zero_pfn) and its


def written(data: str, tag: str) -> str:
    """`data` after a write `tag` landed in it; canonical (sorted) so equal contents are equal states."""
    if data in (NO_DATA, GARBAGE):
        base, tags = data, set()
    else:
        base, *rest = data.split("+")
        tags = set(rest)
    tags.add(tag)
    return "+".join([base] + sorted(tags))


def holds_write(data: str | None, tag: str) -> bool:
    return data is not None and tag in data.split("+")[1:]


SORT_FOLIO_FORMS = ("v6.10", "v6.11", "newest")


SWAPIN_CHARGE_FORMS = ("at-alloc", "9acbe135588e", "2732acda82c9", "mainline-2026")


NO_MEMCG = "-"            # a folio not charged to any memory cgroup / a slot without a swap_cgroup record
LAZYFREE_BATCH_FORMS = ("off", "ignore-bits", "29f40594a281")


@dataclass(frozen=True)
class Kernel:
    """Which historical behaviour each path follows. Defaults are the current kernel; scenario builders
    fill this from their knobs (a knob a scenario does not declare keeps the default)."""

    anon_exclusive: bool = True        # 6c287605fd56 (v5.19): PG_anon_exclusive exists
    remember_exclusive: bool = True    # 1493a1913e34 (v5.19): try_to_unmap_one sets the swp bit,
                                       #   do_swap_page/unuse_pte honour pte_swp_exclusive()
    arch_swp_exclusive: bool = True    # the arch implements __HAVE_ARCH_PTE_SWP_EXCLUSIVE
    stable_writes: bool = False        # the swap device has SWP_STABLE_WRITES
    stable_writes_check: bool = True   # 1493a1913e34: do_swap_page drops `exclusive` for a folio under
                                       #   writeback on such a device (off: a seeded mutation)
    synchronous_io: bool = False       # the swap device has SWP_SYNCHRONOUS_IO (skip-swapcache swapin)
    swapcache_prepare: bool = True     # 13ddaf26be32 (v6.8): the skip path pins SWAP_HAS_CACHE
    unuse_keep_swp_bits: bool = True   # 14a762dd1977 (v5.19): unuse_pte keeps soft-dirty / uffd-wp
    swapout_swp_soft_dirty: bool = True  # 179ef71cbc08 "mm: save soft-dirty bits on swapped
                                       #   pages", 2013): try_to_unmap_one carries pte_soft_dirty into the swap PTE
    unuse_check_uptodate: bool = True  # 9f186f9e5fa9 (v5.19): unuse_pte maps no !uptodate page
    unuse_rmap_exclusive: bool = True  # 1493a1913e34's unuse_pte() hunk: RMAP_EXCLUSIVE if
                                       #   pte_swp_exclusive() (false: a seeded mutation dropping that
                                       #   hunk alone; swap-out and do_swap_page keep the marker)
    unuse_pte_recheck: bool = True     # unuse_pte() re-checks pte_same_as_swp() under the PTL (false:
                                       #   a seeded mutation trusting unuse_pte_range()'s lockless read)
    swap_free_before_map: bool = True  # c145e0b47c77 (v5.18): do_swap_page calls swap_free() before
                                       #   set_pte_at() (before: after it; read faults only)
    swapin_arch_swap_restore: bool = True  # 6dca4ac6fc91 (v6.4): do_swap_page calls
                                       #   arch_swap_restore() before swap_free() (if the arch has one)
    unuse_arch_swap_restore: bool = True   # "mm: call arch_swap_restore() from unuse_pte()" (v6.6)
    pinned_swapout_check: bool = True  # shrink_folio_list: folio_maybe_dma_pinned() -> keep
    lazyfree_ref_check: bool = True    # 6c8e2a256915 (v5.18): try_to_unmap_one discards a lazyfree
                                       #   folio only if ref_count == 1 + map_count (smp_mb() pairing
                                       #   with GUP-fast); before it shrink_page_list re-checked
                                       #   PageDirty after page_ref_freeze(page, 1)
    lazyfree_mb: bool = True           # 6c8e2a256915's smp_mb() before folio_ref_count() (memory models)
    lazyfree_swapbacked_iff_dirty: bool = True  # Barry Song, "mm: set folio swapbacked iff folios are
                                       #   dirty in try_to_unmap_one" (Fixes: 6c8e2a256915; in v6.17-rc3)
    swap_table: bool = True            # the 2026 swap core (Kairui Song's swap table series, linux-mm
                                       #   2026 tree): the swap cache is the only serialisation of swap-in
                                       #   ("mm, swap: never bypass the swap cache even for
                                       #   SWP_SYNCHRONOUS_IO": no skip-swapcache path, no SWAP_HAS_CACHE
                                       #   pin), folio_put_swap() before set_ptes() and folio_free_swap()
                                       #   after it ("mm, swap: free the swap cache after folio is mapped";
                                       #   always tried on SWP_SYNCHRONOUS_IO devices), reuse decided by
                                       #   `exclusive` alone; the swap API of the series (folio_alloc_swap,
                                       #   folio_dup_swap, folio_put_swap, folio_free_swap)
    swapin_charge: str = "at-alloc"    # when do_swap_page's swap-in charges the new folio to the memcg
                                       #   recorded for the entry (only where the scenario models memcg,
                                       #   MM.add_memcg): "at-alloc" (with the allocation: the older forms,
                                       #   one step here), "9acbe135588e" (mem_cgroup_swapin_charge_folio()
                                       #   before swap_cache_add_folio()), "2732acda82c9" (after it),
                                       #   "mainline-2026" (__swap_cache_alloc(): added under ci->lock with
                                       #   the entry's memcg id, then charged); see SWAPIN_CHARGE_FORMS
    swapin_map_writable: bool = True   # "mm: swap: reuse exclusive folio directly instead of wp page
                                       #   faults" (v6.11): an exclusive folio is mapped writable on read
                                       #   faults too (VM_WRITE, not uffd-wp, no soft-dirty wrprotect)
    swapin_honours_uffd_wp: bool = True    # do_swap_page(): no pte_mkwrite() while userfaultfd_pte_wp()
                                           #   (pte_swp_uffd_wp(vmf->orig_pte)); false: seeded mutation
    mthp_swapin: bool = True           # 242d12c98174 (v6.12, "mm: support large folios swap-in for sync io
                                       #   devices"): do_swap_page() swaps in a large folio on a
                                       #   SWP_SYNCHRONOUS_IO device (only with a range of nr > 1 PTEs)
    mthp_range_recheck: bool = True    # do_swap_page() re-checks the whole range under the PTL
                                       #   (pte_same + swap_pte_batch) before mapping nr pages
                                       #   (false: seeded mutation)
    mthp_zswap_fallback: bool = True   # 242d12c98174's alloc_swap_folio() (2026: thp_swapin_suitable_orders()):
                                       #   !zswap_never_enabled() -> order 0 (only where zswap is modelled)
    swapin_restore_after_free: bool = False  # seeded: do_swap_page() calls arch_swap_restore() after
                                       #   folio_put_swap() and folio_free_swap() (the slots' metadata freed)
    zswap_large_load: str = "mainline-2026"  # zswap_load() of a large folio and __swap_cache_alloc()'s
                                       #   zswap_is_present() range check (models/zswap.py
                                       #   ZSWAP_LARGE_LOAD_FORMS)
    soft_dirty_tracking: bool = False  # the VMA tracks soft-dirty (clear_refs cleared VM_SOFTDIRTY):
                                       #   pte_needs_soft_dirty_wp() keeps a clean swap-in read-only
    lazyfree_batch: str = "29f40594a281"  # try_to_unmap_one's folio_unmap_pte_batch() for a lazyfree large
                                       #   folio: "off" (one PTE per walk step, before 354dffd29575),
                                       #   "ignore-bits" (write and soft-dirty ignored: the restore
                                       #   set_ptes(pteval, nr) gives every PTE the first one's bits),
                                       #   "29f40594a281" (FPB_RESPECT_WRITE | FPB_RESPECT_SOFT_DIRTY)
    mglru_sort_folio: str = "newest"   # MGLRU sort_folio(): "v6.10" (the "dirty lazyfree" block),
                                       #   "v6.11" (block removed by 9651fcedf7b9), "newest" (linux-mm 2026)
    arch: "ArchSwap | None" = None     # run --arch: swap PTEs are bit patterns of this arch layout

    def __post_init__(self):
        if self.mglru_sort_folio not in SORT_FOLIO_FORMS:
            raise ValueError(f"sort_folio form {self.mglru_sort_folio!r} not in {SORT_FOLIO_FORMS}")
        if self.swapin_charge not in SWAPIN_CHARGE_FORMS:
            raise ValueError(f"swap-in charge form {self.swapin_charge!r} not in {SWAPIN_CHARGE_FORMS}")
        if self.swapin_charge not in ("at-alloc",) and not self.swap_table:
            raise ValueError(f"swap-in charge form {self.swapin_charge!r} needs the swap table core")
        if self.lazyfree_batch not in LAZYFREE_BATCH_FORMS:
            raise ValueError(f"lazyfree batch form {self.lazyfree_batch!r} not in {LAZYFREE_BATCH_FORMS}")

    @property
    def swp_exclusive(self) -> bool:
        """Does a swap PTE carry the exclusive marker at all?"""
        return self.anon_exclusive and self.remember_exclusive and self.arch_swp_exclusive


class Pte(NamedTuple):
    """The PTE at the modelled address. Equality is pte_same(); `str()` is what race tables print."""

    kind: str                   # none | present | swap | migration | marker | swapin_error
    folio: str = NO_FOLIO       # present / migration: the folio the pfn points to
    write: bool = False         # present: pte_write(); migration: writable entry
    dirty: bool = False         # present: pte_dirty()
    soft_dirty: bool = False    # pte_soft_dirty() / pte_swp_soft_dirty()
    uffd_wp: bool = False       # pte_uffd_wp() / pte_swp_uffd_wp()
    exclusive: bool = False     # swap: pte_swp_exclusive(); migration: readable-exclusive
    slot: str = ""              # swap: the swap entry (type/offset)
    raw: str = ""               # swap under run --arch: the PTE value in the arch's encoding (hex)

    @property
    def present(self) -> bool:
        return self.kind == "present"

    @property
    def is_swap(self) -> bool:
        return self.kind == "swap"

    def __str__(self) -> str:
        bits = []
        if self.kind == "present":
            bits = [self.folio, "rw" if self.write else "ro"] + (["dirty"] if self.dirty else [])
        elif self.kind == "swap":
            bits = [self.slot] + (["excl"] if self.exclusive else [])
        elif self.kind == "migration":
            bits = [self.folio, "write" if self.write else ("read-excl" if self.exclusive else "read")]
        bits += (["soft-dirty"] if self.soft_dirty else []) + (["uffd-wp"] if self.uffd_wp else [])
        bits += [f"pte={self.raw}"] if self.raw else []
        return f"{self.kind}({', '.join(bits)})" if bits else self.kind


PTE_NONE = Pte("none")


PTE_SWAPIN_ERROR = Pte("swapin_error")     # make_swapin_error_entry() (later a PTE marker)


def pte_present(folio: str, write: bool = False, dirty: bool = False, soft_dirty: bool = False,
                uffd_wp: bool = False) -> Pte:
    return Pte("present", folio, write, dirty, soft_dirty, uffd_wp)


def pte_swap(slot: str = SLOT, exclusive: bool = False, soft_dirty: bool = False,
             uffd_wp: bool = False, arch: "ArchSwap | None" = None) -> Pte:
    """swp_entry_to_pte(entry) with the swp bits set (pte_swp_mkexclusive() etc.). With an arch
    codec the PTE is the arch's real bit pattern, and what it reads back is what it decodes to."""
    if arch is not None:
        return arch.make(slot, exclusive=exclusive, soft_dirty=soft_dirty, uffd_wp=uffd_wp)
    return Pte("swap", soft_dirty=soft_dirty, uffd_wp=uffd_wp, exclusive=exclusive, slot=slot)


class ArchSwap:
    """Swap PTEs as bit patterns of one arch layout (`pteverify run --arch LAYOUT`).

    Swap-out encodes with the layout's own macros, evaluated plainly (the C expressions the prover
    proves): `__swp_entry_to_pte(__swp_entry(type, offset))`, then the arch's `pte_swp_mkexclusive()`,
    `pte_swp_mksoft_dirty()`, `pte_swp_mkuffd_wp()` for the bits wanted (a bit the arch does not have is
    simply not set: the kernel's generic stubs are no-ops). What swap-in, swapoff and fork then see is
    decoded from that value with the arch's `pte_swp_exclusive()` etc. and `pte_to_swp_entry()`: a
    lost or colliding bit shows up as a wrong flag or a different swap entry. The modelled slot is swap
    type 0 at the largest offset the kernel uses on the layout (every offset bit set), so a collision
    with any offset bit is exercised."""

    def __init__(self, layout):
        from pteverify.layout.backends import PY
        from pteverify.layout.semantics import Semantics
        from pteverify.layout.prover import _limits
        self.layout = layout
        self.sem = Semantics(layout, PY)
        _, limit, _ = _limits(layout)
        self.entry = (0, min(limit, 0xFFFFFFFF) - 1)   # type 0, the largest offset read_swap_header() allows
        self.has = set(self.sem.flags())

    @property
    def name(self) -> str:
        return self.layout.name

    def make(self, slot: str, exclusive: bool, soft_dirty: bool, uffd_wp: bool) -> Pte:
        sem = self.sem
        t, o = self.entry if slot == SLOT else self._entry_of(slot)
        pte = sem.encode(sem.uint(t), sem.ulong(o))
        for flag, want in (("exclusive", exclusive), ("soft_dirty", soft_dirty), ("uffd_wp", uffd_wp)):
            if want and flag in self.has:
                pte = sem.mk(flag, pte)
        return self.read(pte)

    def read(self, pte) -> Pte:
        sem = self.sem
        t, o = sem.decode(pte)
        slot = SLOT if (t, o) == self.entry else f"entry({t}, {o:#x})"
        flag = {f: bool(sem.test(f, pte)) if f in self.has else False
                for f in ("exclusive", "soft_dirty", "uffd_wp")}
        width = sem.pte_storage.bits // 4
        return Pte("swap", soft_dirty=flag["soft_dirty"], uffd_wp=flag["uffd_wp"],
                   exclusive=flag["exclusive"], slot=slot, raw=f"{pte.v:#0{width + 2}x}")

    def _entry_of(self, slot: str) -> tuple[int, int]:
        if slot.startswith("entry("):
            t, o = slot[6:-1].split(",")
            return int(t), int(o, 16)
        raise ModelError(f"--arch: the model uses swap slot {slot!r}, which has no arch encoding")


def pte_same_as_swp(pte: Pte, swp: Pte) -> bool:
    """mm/swapfile.c:pte_same_as_swp(): pte_same() after pte_swp_clear_flags(), so the exclusive,
    soft-dirty and uffd-wp swp bits are ignored."""
    return pte.kind == "swap" and swp.kind == "swap" and pte.slot == swp.slot


FOLIO_FLAGS = ("ref", "map", "pin", "excl", "swapcache", "swapbacked", "dirty", "uptodate",
               "writeback", "data")


FOLIO_DOC = {
    "ref": "folio_ref_count(): mappings, swap cache, GUP and temporary references",
    "map": "folio_mapcount()",
    "pin": "GUP pins (FOLL_PIN); folio_maybe_dma_pinned() is pin > 0",
    "excl": "PageAnonExclusive()",
    "swapcache": "folio_test_swapcache()",
    "swapbacked": "folio_test_swapbacked()",
    "dirty": "folio_test_dirty()",
    "uptodate": "folio_test_uptodate()",
    "writeback": "folio_test_writeback()",
    "data": "content: which writes reached the page",
}


FREE_FOLIO = {"ref": 0, "map": 0, "pin": 0, "excl": False, "swapcache": False, "swapbacked": False,
              "dirty": False, "uptodate": False, "writeback": False, "data": NO_DATA}


@dataclass(frozen=True)
class ArchHook:
    """An architecture callback the shared paths run where the generic kernel code calls it.

    `fn(s, d, ...)` adds its changes to the effect's dict `d` (read the state through `MM.v()` so
    earlier changes of the same step are seen); `reads` / `writes` are the fields it touches, added to
    the footprint of every step that runs it; `ref` (the arch functions it models) is appended to the
    kernel reference of those steps. The same shape serves a scenario's CPU model where a shared path
    flushes the TLB (vmscan.emit_shrink_page_list(tlb_flush=...): rmap.py try_to_unmap_one's
    ptep_clear_flush())."""

    fn: Callable
    reads: tuple = ()
    writes: tuple = ()
    ref: str = ""
    per_slot: bool = False      # a slot-free hook of a range: fn(s, d, i) with the slot's index i


class MM:
    """Adds the mm vocabulary to a model and offers the helpers the path modules share."""

    def __init__(self, m: Model, folios: Iterable[str] = ("A", "B"), slot: str = SLOT, nr: int = 1):
        self.m = m
        self.folios = tuple(folios)
        self.nr = nr                               # PTEs of the modelled range (1: one address)
        self.ptes: list[str] = []                  # their fields; ptes[0] is `pte`
        self.index = 0                             # which PTE of the range `pte` is (subpage_view)
        self.base = self                           # the whole range (a subpage_view's origin)
        self.slot = slot
        self.f = {k: {} for k in FOLIO_FLAGS}      # self.f["ref"]["A"] == "A_ref"
        self.lock = {}                             # self.lock["A"] == "A_lock"
        self.ptl = m.lock("ptl", "the page-table lock (pte_offset_map_lock / page_vma_mapped_walk)")
        self.pte = None
        self.ctxs: list[Ctx] = []
        # ghosts read by invariants (defaults; scenarios override with mm.ghost())
        self.ghosts: dict[str, str] = {}
        self.folio_flags = FOLIO_FLAGS             # + extension flags (add_folio_flag)
        self.free_folio = dict(FREE_FOLIO)
        # architecture hooks (see ArchHook and the module docstring); none: the generic no-op stubs
        self.slot_free_hooks: list[ArchHook] = []  # fn(s, d)
        self.swap_restore_hook: ArchHook | None = None    # fn(s, d, folio)
        self.set_pte_hook: ArchHook | None = None         # fn(s, d, folio, old_pte, new_pte)
        self.swap_readpage_hook: Callable | None = None   # emit(ctx, page_field, label_prefix)
        self.vma = "vma"                                # the VMA this view's PTE belongs to (anon rmap)
        self.memcg = None                               # add_memcg(): the mm's memory cgroup field
        self.swap_put_underflow = None                  # invariants.inv_no_swap_put_of_free_entry()
        self.swp_memcg = None                           # add_memcg(): the slot's swap_cgroup record

    # -- schema ----------------------------------------------------------------------------
    def add_pte(self, init: Pte) -> str:
        self.pte = self.m.field("pte", init, doc="the PTE at the modelled user address")
        self.ptes = [self.pte]
        return self.pte

    def add_ptes(self, init: list) -> list[str]:
        """The `nr` PTEs of a range the size of a large folio (field `pte` is the first, `pte<i>` the
        i-th); each PTE has its own write, dirty, soft-dirty, uffd-wp and swp-exclusive bits."""
        if len(init) != self.nr:
            raise ModelError(f"add_ptes: {len(init)} initial PTEs for a range of {self.nr}")
        self.add_pte(init[0])
        for i in range(1, self.nr):
            self.ptes.append(self.m.field(f"pte{i}", init[i], doc=f"the PTE of subpage {i} of the range"))
        return self.ptes

    def add_folios(self, **init: dict) -> None:
        """Declare the folio pool; `init` maps a folio id to its initial flags (others start free)."""
        for fid in self.folios:
            values = dict(FREE_FOLIO, **init.get(fid, {}))
            for flag in FOLIO_FLAGS:
                self.f[flag][fid] = self.m.field(f"{fid}_{flag}", values[flag],
                                                 doc=f"folio {fid}: {FOLIO_DOC[flag]}")
            self.lock[fid] = self.m.lock(f"{fid}_lock", f"folio {fid}: the folio lock (PG_locked)")
        if self.nr > 1:
            self._add_large_folio_flags(init)

    def _add_large_folio_flags(self, init: dict) -> None:
        """With a range of nr > 1 PTEs: `folio_nr_pages()` per folio (field `<folio>_nr`, 1 for a small
        folio) and PG_anon_exclusive per page (`<folio>_excl` is page 0, `<folio>_excl<i>` page i).

        A page is named by its folio and the PTE of the range that maps it: the large folio is
        naturally aligned (page i at PTE i, as alloc_swap_folio()/alloc_anon_folio() place it) and a
        small folio is only ever mapped at the one address it was allocated for, so per-(folio, PTE)
        flags are exactly per-page flags."""
        self.add_folio_flag("nr", 1, (1, self.nr), "folio_nr_pages()",
                            init={fid: v.get("nr", 1) for fid, v in init.items()})
        for i in range(1, self.nr):
            self.add_folio_flag(f"excl{i}", False, (False, True), f"PageAnonExclusive() of page {i}",
                                init={fid: v.get(f"excl{i}", v.get("excl", False)) for fid, v in init.items()})

    def page_flag(self, flag: str, fid: str, i: int) -> str:
        """The field of a per-page flag (only "excl" is per page) of page `i` of folio `fid`."""
        return self.f[flag if i == 0 or flag != "excl" else f"excl{i}"][fid]

    def excl_fields(self, i: int | None = None) -> list[str]:
        """PG_anon_exclusive of every page (or of page `i`) of every folio."""
        pages = range(self.nr) if i is None else [i]
        return [self.page_flag("excl", fid, j) for j in pages for fid in self.folios]

    def add_swap_slot(self, count: int = 0, has_cache: bool = False, cache: str = NO_FOLIO,
                      data: str = NO_DATA, bad: bool = False) -> None:
        m = self.m
        self.swp_count = m.field("swp_count", count, range(0, 4),
                                 "swap_count(si->swap_map[offset]): swap PTEs referencing the slot")
        self.swp_has_cache = m.field("swp_has_cache", has_cache, (False, True),
                                     "SWAP_HAS_CACHE in swap_map: the slot is pinned by the swap cache")
        self.swp_cache = m.field("swp_cache", cache, (NO_FOLIO,) + self.folios,
                                 "the folio the swap cache holds for the slot")
        self.swp_data = m.field("swp_data", data, doc="what the swap device holds in the slot")
        self.swp_bad = bad      # a bad sector: swap_readpage() fails, the folio stays !uptodate
        self.slots = [self.slot]
        self.slot_extra: dict[str, list[str]] = {}     # per-slot extension fields (add_slot_field)
        self.slot_f = [(self.swp_count, self.swp_has_cache, self.swp_cache, self.swp_data)]

    def add_swap_slots(self, counts: list, data: list, caches: list | None = None) -> None:
        """The nr contiguous swap slots a large folio was swapped out to (slot i backs PTE i): slot 0's
        fields are `swp_count` etc., slot i's `swp_count<i>` etc. A subpage_view(i) sees slot i as its
        slot, so the one-slot helpers (swap_free, page_at_address, ...) work per slot. `caches`: the
        folio each slot's swap cache entry starts with (NO_FOLIO: none)."""
        caches = caches or [NO_FOLIO] * self.nr
        if len(counts) != self.nr or len(data) != self.nr or len(caches) != self.nr:
            raise ModelError(f"add_swap_slots: {len(counts)} counts / {len(data)} data / {len(caches)} "
                             f"caches for {self.nr} slots")
        self.add_swap_slot(count=counts[0], data=data[0], has_cache=caches[0] != NO_FOLIO, cache=caches[0])
        m = self.m
        for i in range(1, self.nr):
            self.slots.append(f"slot{i}")
            self.slot_f.append((
                m.field(f"swp_count{i}", counts[i], range(0, 4), f"swap count of slot {i} of the range"),
                m.field(f"swp_has_cache{i}", caches[i] != NO_FOLIO, (False, True),
                        f"slot {i}: a folio is in the swap cache"),
                m.field(f"swp_cache{i}", caches[i], (NO_FOLIO,) + self.folios,
                        f"the folio the swap cache holds for slot {i}"),
                m.field(f"swp_data{i}", data[i], doc=f"what the swap device holds in slot {i}")))

    def all_slot_fields(self) -> list[str]:
        """Every field of every slot of the range (extension fields included)."""
        return [f for fs in self.base.slot_f for f in fs] + [f for fs in self.base.slot_extra.values() for f in fs]

    def add_slot_field(self, attr: str, fields: list[str]) -> None:
        """A per-slot extension field of the range (e.g. zswap's tree entry): `fields[i]` is slot i's;
        the view of subpage i (and the whole range, for slot 0) sees its own as attribute `attr`."""
        if len(fields) != len(self.base.slots):
            raise ModelError(f"add_slot_field({attr!r}): {len(fields)} fields for {len(self.base.slots)} slots")
        self.base.slot_extra[attr] = list(fields)
        setattr(self.base, attr, fields[0])

    def slot_index(self) -> int:
        """The index in the range of this view's slot."""
        slots = getattr(self.base, "slots", [])
        return slots.index(self.slot) if self.slot in slots else 0

    def run_slot_free_hooks(self, s, d: dict, i: int) -> None:
        """swap_range_free() of slot `i` of the range: the slot-free hooks (per-slot hooks get i)."""
        for hook in self.slot_free_hooks:
            if hook.per_slot:
                hook.fn(s, d, i)
            else:
                hook.fn(s, d)

    def add_memcg(self, memcgs: Iterable[str], owner: str, record: str = NO_MEMCG,
                  charged: dict | None = None) -> None:
        """Memory cgroups: the cgroup the process is charged to (mm->owner's memcg, moved by a write
        to cgroup.procs), the slot's swap_cgroup record (mm/swap_cgroup.c: set when a folio's swap
        entry is charged, mem_cgroup_try_charge_swap(); cleared when the entry is freed) and each
        folio's memcg (folio_memcg(), "-" while uncharged). `charged` maps folio ids to their
        initial memcg."""
        self._before_steps("memcg")
        domain = (NO_MEMCG,) + tuple(memcgs)
        self.memcg = self.m.field("mm_memcg", owner, domain, "the memory cgroup the process belongs to "
                                  "(get_mem_cgroup_from_mm(): new anonymous folios are charged to it)")
        self.swp_memcg = self.m.field("swp_memcg", record, domain, "the slot's swap_cgroup record "
                                      "(lookup_swap_cgroup_id(entry): the memcg its swapped-out page "
                                      "belonged to)")
        self.add_folio_flag("memcg", NO_MEMCG, domain, "folio_memcg(): the memcg the folio is charged to",
                            init=charged)

    def memcg_charge(self, s, d: dict, source: str) -> dict:
        """The `memcg=` flag of a folio charged from `source` (a field: the mm's memcg or the slot's
        swap_cgroup record); nothing when the scenario does not model memcg."""
        return {"memcg": self.v(s, d, source)} if source else {}

    def add_shmem_mapping(self, entries: list[str], order: int = 0) -> "ShmemMapping":
        """A shmem file's page cache at indices 0..len(entries)-1 (see ShmemMapping); `entries` are
        their initial values (slot names for swap entries), `order` that of the entry at index 0."""
        self.shmem = ShmemMapping(self, entries, order)
        return self.shmem

    def ghost(self, name: str, init: Any, doc: str) -> str:
        self.ghosts[name] = self.m.field(name, init, doc=f"(ghost) {doc}", ghost=True)
        return self.ghosts[name]

    def _before_steps(self, what: str) -> None:
        if any(ctx.t.steps for ctx in self.ctxs):
            raise ModelError(f"{what}: register it before any thread emits steps")

    def add_folio_flag(self, flag: str, free: Any, domain: Iterable | None = None, doc: str = "",
                       init: dict | None = None) -> None:
        """A per-folio field of an extension (field `<folio>_<flag>`): part of `all_folio()`, and set
        to `free` when the folio is freed (page flags are reset on free). `init` maps a folio id to its
        initial value (others start at `free`)."""
        self._before_steps(f"folio flag {flag!r}")
        if flag in self.f or not self.lock:
            raise ModelError(f"folio flag {flag!r}: duplicate, or add_folios() not called yet")
        self.f[flag] = {fid: self.m.field(f"{fid}_{flag}", (init or {}).get(fid, free), domain,
                                          f"folio {fid}: {doc}") for fid in self.folios}
        self.folio_flags = self.folio_flags + (flag,)
        self.free_folio[flag] = free

    def add_slot_free_hook(self, hook: ArchHook) -> None:
        """Run `hook.fn(s, d)` whenever `maybe_free_slot()` frees the slot."""
        self._before_steps("slot-free hook")
        if not hasattr(self, "swp_count"):
            raise ModelError("slot-free hook: add_swap_slot() not called yet")
        self.slot_free_hooks.append(hook)

    def slot_free_ref(self) -> str:
        """What the slot-free hooks add to the kernel reference of a step that frees the slot."""
        refs = [h.ref for h in self.slot_free_hooks if h.ref]
        return (" [slot freed: mm/swapfile.c:swap_range_free() -> " + "; ".join(refs) + "]") if refs else ""

    # -- field lists for footprints --------------------------------------------------------
    def ff(self, *flags: str, folios: Iterable[str] | None = None) -> list[str]:
        """Field names of `flags` for every folio (or the given ones)."""
        return [self.f[fl][fid] for fl in flags for fid in (folios or self.folios)]

    def all_folio(self) -> list[str]:
        return self.ff(*self.folio_flags)

    def locks(self) -> list[str]:
        return [self.lock[fid] for fid in self.folios]

    def slot_fields(self) -> list[str]:
        return [self.swp_count, self.swp_has_cache, self.swp_cache, self.swp_data] + (
            [self.swp_memcg] if self.swp_memcg else []) + (
            [self.swap_put_underflow] if self.swap_put_underflow else [])

    def memcg_reads(self) -> list[str]:
        """The memcg fields a charging step reads (none when memcg is not modelled)."""
        return ([self.memcg, self.swp_memcg] + self.ff("memcg")) if self.memcg else []

    # -- state helpers (effects accumulate their changes in a dict `d`) --------------------
    @staticmethod
    def v(s, d: dict, name: str) -> Any:
        """A field's value as the effect has changed it so far."""
        return d[name] if name in d else getattr(s, name)

    def fv(self, s, d: dict, flag: str, fid: str) -> Any:
        return self.v(s, d, self.f[flag][fid])

    def fset(self, d: dict, fid: str, **flags: Any) -> None:
        for flag, value in flags.items():
            d[self.f[flag][fid]] = value

    def alloc_folio(self, s, d: dict, **flags: Any) -> str:
        """Take the first free folio of the pool (refcount 0) and give it `flags` (ref defaults to 1)."""
        for fid in self.folios:
            if self.fv(s, d, "ref", fid) == 0:
                self.fset(d, fid, **dict({"ref": 1, "swapbacked": True}, **flags))
                return fid
        raise ModelError(f"folio pool {self.folios} exhausted: the scenario needs a larger pool")

    def get_folio(self, s, d: dict, fid: str, n: int = 1) -> None:
        self.fset(d, fid, ref=self.fv(s, d, "ref", fid) + n)

    def isolate_mapped(self, s, local: str) -> dict:
        """folio_try_get() on the folio mapped at the address (migration's and reclaim's isolation):
        the folio into the thread's `local`, one reference more."""
        fid = getattr(s, self.pte).folio
        d = {local: fid}
        self.get_folio(s, d, fid)
        return d

    def put_folio(self, s, d: dict, fid: str, n: int = 1) -> None:
        """folio_put(): drop `n` references; the last one frees the folio."""
        ref = self.fv(s, d, "ref", fid) - n
        if ref < 0:
            raise ModelError(f"folio {fid}: refcount underflow")
        if ref == 0:
            if self.fv(s, d, "map", fid) or self.fv(s, d, "swapcache", fid):
                raise ModelError(f"folio {fid}: freed while mapped or in the swap cache")
            self.fset(d, fid, **self.free_folio)
        else:
            self.fset(d, fid, ref=ref)

    def slot_in_use(self, s, d: dict) -> bool:
        return self.v(s, d, self.swp_count) > 0 or self.v(s, d, self.swp_has_cache)

    def maybe_free_slot(self, s, d: dict) -> None:
        """swap_range_free(): once neither a swap PTE nor the swap cache references the slot, its
        content is gone (the slot can be handed out again) and the slot-free hooks run
        (arch_swap_invalidate_page()). Called right after a swap count or SWAP_HAS_CACHE was dropped."""
        if not self.slot_in_use(s, d):
            d[self.swp_data] = NO_DATA
            if self.swp_memcg:
                d[self.swp_memcg] = NO_MEMCG           # swap_cgroup_clear(), mem_cgroup_uncharge_swap()
            self.run_slot_free_hooks(s, d, self.slot_index())

    def swap_free(self, s, d: dict) -> None:
        """swap_free(entry): drop one swap-map reference."""
        count = self.v(s, d, self.swp_count)
        if count <= 0:
            if self.swap_put_underflow:
                d[self.swap_put_underflow] = True      # a ghost the scenario's invariant reads
                return
            raise ModelError("swap_free() of a free swap entry")
        d[self.swp_count] = count - 1
        self.maybe_free_slot(s, d)

    def is_large(self, s, d: dict, fid: str) -> bool:
        return "nr" in self.f and self.fv(s, d, "nr", fid) > 1

    def folio_slots(self, s, d: dict, fid: str) -> list[tuple]:
        """The slots (count, has_cache, cache, data fields) whose swap cache entry is `fid`."""
        return [fs for fs in self.base.slot_f if self.v(s, d, fs[2]) == fid]

    def folio_swap(self, s, d: dict, fid: str) -> str | None:
        """folio->swap of a folio in the swap cache: the first slot of the range whose cache entry it
        is (None when it is in none)."""
        base = self.base
        for name, fs in zip(base.slots, base.slot_f):
            if self.v(s, d, fs[2]) == fid:
                return name
        return None

    def swap_cache_add(self, s, d: dict, fid: str, k: int = 0, refs: int | None = None) -> None:
        """The folio enters the swap cache at slots k..k+nr-1 of the range (nr = folio_nr_pages()):
        each slot's cache entry is the folio (SWAP_HAS_CACHE), the folio is PG_swapcache, and the swap
        cache holds nr references (swap_cache_add_folio(): folio_ref_add(folio, nr)); `refs`: the
        folio's references are set to that instead (a folio just allocated for the cache)."""
        nr = self.fv(s, d, "nr", fid) if "nr" in self.f else 1
        for count, has_cache, cache, data in self.base.slot_f[k:k + nr]:
            d[cache] = fid
            d[has_cache] = True
        self.fset(d, fid, swapcache=True)
        if refs is None:
            self.get_folio(s, d, fid, nr)
        else:
            self.fset(d, fid, ref=refs)

    def folio_put_swap(self, s, d: dict, fid: str) -> None:
        """folio_put_swap(folio, NULL) (before 2026: swap_free_nr(swap, nr)) of a folio in the swap
        cache: one swap count less on every slot it occupies; the slots are freed once the folio
        leaves the swap cache too (`swap_cache_del`)."""
        for count, *_ in self.folio_slots(s, d, fid):
            c = self.v(s, d, count)
            if c <= 0:
                if self.swap_put_underflow:
                    d[self.swap_put_underflow] = True  # a ghost the scenario's invariant reads
                    continue
                raise ModelError("folio_put_swap() of a free swap entry")
            d[count] = c - 1

    def swap_cache_del(self, s, d: dict, fid: str, k: int | None = None) -> None:
        """swap_cache_del_folio(): the folio leaves every slot of the range it occupies and drops the
        swap cache's reference per slot; a slot left with no swap count is free (swap_range_free():
        its content goes, the slot-free hooks run). `k`: the folio's first slot (folio->swap), known to
        the caller (else every slot's cache entry is looked at)."""
        if k is None:
            slots = self.folio_slots(s, d, fid)
        else:
            nr = self.fv(s, d, "nr", fid) if "nr" in self.f else 1
            slots = self.base.slot_f[k:k + nr]
        self.fset(d, fid, swapcache=False)
        for count, has_cache, cache, data in slots:
            d[cache] = NO_FOLIO
            d[has_cache] = False
            if self.v(s, d, count) == 0:
                d[data] = NO_DATA                      # swap_range_free()
                self.run_slot_free_hooks(s, d, self.base.slot_f.index((count, has_cache, cache, data)))
        self.put_folio(s, d, fid, len(slots))

    def delete_from_swap_cache(self, s, d: dict, fid: str) -> None:
        """delete_from_swap_cache() + put_swap_page(): the folio leaves the swap cache, drops the
        cache reference, and the slot loses SWAP_HAS_CACHE. A large folio (swap_cache_del_folio())
        leaves every slot it occupies and drops one reference per slot (`swap_cache_del`)."""
        if self.is_large(s, d, fid):
            self.swap_cache_del(s, d, fid)
            return
        self.fset(d, fid, swapcache=False)
        d[self.swp_cache] = NO_FOLIO
        d[self.swp_has_cache] = False
        self.put_folio(s, d, fid)
        self.maybe_free_slot(s, d)

    def assert_folio_locked(self, s, fid: str, call: str) -> None:
        """The kernel's own check that the caller holds the folio lock (VM_BUG_ON_FOLIO /
        VM_WARN_ON_FOLIO(!folio_test_locked(folio)) in `call`): a ModelError when the folio's lock is
        free in the state the step starts from. Like folio_test_locked() it does not ask who holds it.
        The step must declare the folio locks (`locks()`) among its reads."""
        if getattr(s, self.lock[fid]) == FREE:
            raise ModelError(f"{call}: folio {fid} is not locked "
                             "(VM_BUG_ON_FOLIO/VM_WARN_ON_FOLIO(!folio_test_locked(folio)))")

    def try_to_free_swap(self, s, d: dict, fid: str, lock_taken_here: bool = False) -> bool:
        """try_to_free_swap() / folio_free_swap() with the folio locked: only when the folio is in the
        swap cache, not under writeback and no swap PTE references the slot; the data now lives only
        in RAM, so the folio is dirtied. Both assert the folio lock (try_to_free_swap():
        VM_BUG_ON_PAGE(!PageLocked(page)); folio_free_swap() -> folio_swapcache_freeable():
        VM_BUG_ON_FOLIO(!folio_test_locked(folio))); `lock_taken_here`: the calling step takes and
        drops the lock itself (a trylock inside one atomic step), so there is nothing to check."""
        if not lock_taken_here:
            self.assert_folio_locked(s, fid, "folio_free_swap()")
        if not self.fv(s, d, "swapcache", fid) or self.fv(s, d, "writeback", fid):
            return False
        if self.is_large(s, d, fid):
            if any(self.v(s, d, count) for count, *_ in self.folio_slots(s, d, fid)):
                return False                           # folio_swapped(): a slot still has a count
        elif self.v(s, d, self.swp_count) != 0:
            return False
        self.delete_from_swap_cache(s, d, fid)
        self.fset(d, fid, dirty=True)
        return True

    def page_at_address(self, s) -> str | None:
        """The page the address resolves to: the present PTE's folio, or the swap cache folio of the
        swap PTE's slot. None while no page backs the address (none, error entry, slot on disk)."""
        pte = getattr(s, self.pte)
        if pte.kind == "present":
            return pte.folio
        if pte.kind == "swap":
            cache = getattr(s, self.swp_cache)
            # a swap PTE that decodes to another entry (run --arch) finds nothing in the swap cache
            return None if cache == NO_FOLIO or pte.slot != self.slot else cache
        return None

    def content_at_address(self, s) -> str | None:
        """What a load from the address would see once faulted in."""
        pte = getattr(s, self.pte)
        page = self.page_at_address(s)
        if page is not None:
            return getattr(s, self.f["data"][page])
        if pte.kind == "swap":
            # the entry the PTE decodes to holds the data only if it is the modelled slot
            return getattr(s, self.swp_data) if pte.slot == self.slot else NO_DATA
        return None

    def address_reads(self) -> list[str]:
        return [self.pte, self.swp_cache, self.swp_data] + self.ff("data")

    # -- threads -------------------------------------------------------------------------------
    def thread(self, name: str, doc: str = "") -> "Ctx":
        ctx = Ctx(self, name, doc)
        self.ctxs.append(ctx)
        return ctx

    def symmetric(self, *ctxs: "Ctx") -> None:
        """Declare threads that ran the same emitters on the same data symmetric (explore with
        symmetry=True permutes them): their locals are the per-thread fields. Call it once their
        steps are emitted (locals are created by the steps that use them)."""
        names = list(ctxs[0].vars)
        for c in ctxs[1:]:
            if set(c.vars) != set(names):
                raise ModelError(f"symmetric threads {ctxs[0].name} and {c.name} have different locals")
        self.m.symmetric([c.name for c in ctxs], [tuple(c.vars[n] for c in ctxs) for n in names])


class Ctx:
    """A thread plus the locals of the kernel functions it runs (fields named `<thread>_<local>`)."""

    def __init__(self, mm: MM, name: str, doc: str = ""):
        self.mm = mm
        self.name = name
        self.t = mm.m.thread(name, doc)
        self.owner = len(mm.m.threads)          # value of a lock field this thread holds
        self.vars: dict[str, str] = {}         # local name -> field name
        self._defaults: dict[str, Any] = {}
        self.retry_labels: list[str] = []      # labels a fault returns to (the faulting callers)
        # do_swap_page: 13ddaf26be32's -EEXIST wait as a step of its own (dsp.eexist_wait), for a
        # scenario that schedules its tasks; else the wait is folded into the refault
        self.eexist_wait_step = False

    def local(self, name: str, init: Any, doc: str) -> str:
        if name not in self.vars:
            self.vars[name] = self.mm.m.field(f"{self.name}_{name}", init, doc=f"{self.name}: {doc}")
            self._defaults[name] = init
        return self.vars[name]

    def reset(self, d: dict, *names: str) -> None:
        """Reset locals on return from a kernel function (keeps the state space canonical)."""
        for n in names:
            if n in self.vars:
                d[self.vars[n]] = self._defaults[n]

    def arch_swap_restore_step(self, label: str, ref: str, page: str) -> None:
        """The step of an arch_swap_restore(entry, folio) call site (`ref`) on the folio in local field
        `page`; nothing without a `swap_restore_hook` (the generic stub is a no-op)."""
        hook = self.mm.swap_restore_hook
        if hook is None:
            return

        def arch_swap_restore(s):
            d = {}
            hook.fn(s, d, getattr(s, page))
            return d

        self.step(label, ref + hook.ref, effect=arch_swap_restore, reads=[page] + list(hook.reads),
                  writes=list(hook.writes))

    def locals_fields(self, *names: str) -> list[str]:
        return [self.vars[n] for n in names if n in self.vars]

    def step(self, label: str, ref: str, **kw) -> None:
        """Append a step. With slot-free hooks registered, a step that declares a write of the swap
        count or of SWAP_HAS_CACHE may free the slot, so the hooks' fields join its footprint."""
        mm = self.mm
        writes = list(kw.get("writes", ()))
        if mm.slot_free_hooks and {mm.swp_count, mm.swp_has_cache} & set(writes):
            kw["reads"] = list(kw.get("reads", ())) + [f for h in mm.slot_free_hooks for f in h.reads]
            kw["writes"] = writes + [f for h in mm.slot_free_hooks for f in h.writes]
        self.t.step(label, ref, **kw)

    # the fault locals shared by do_swap_page and do_wp_page
    def fault_locals(self) -> None:
        self.local("orig", PTE_NONE, "vmf->orig_pte")
        self.local("fwrite", False, "FAULT_FLAG_WRITE (cleared once the fault mapped the page writable)")
        self.local("unshare", False, "FAULT_FLAG_UNSHARE (GUP R/O pin of a maybe-shared anon page)")
        self.local("page", NO_FOLIO, "the folio the fault holds a reference on (vmf->page / folio)")
        self.local("swapcache", NO_FOLIO, "do_swap_page: `swapcache` (NO_FOLIO on the skip-swapcache path)")
        self.local("excl", False, "do_swap_page: `exclusive`")
        self.local("clear", False, "do_swap_page: need_clear_cache (swapcache_prepare() pin taken)")
        self.local("new", NO_FOLIO, "wp_page_copy: new_page")
        self.local("result", "-", "how the thread's last operation ended")
        self.local("ret", "-", "where handle_mm_fault() returns to (the access or GUP step to retry)")

    FAULT_LOCALS = ("orig", "fwrite", "unshare", "page", "swapcache", "excl", "clear", "new", "ret")

    def caller(self, label: str) -> None:
        """Register `label` as a step that raises faults and is retried after them."""
        self.fault_locals()
        if label not in self.retry_labels:
            self.retry_labels.append(label)

    def leave_fault(self, s, d: dict, keep_clear: bool = False) -> dict:
        """Return from handle_mm_fault(): reset the fault locals, jump back to the faulting step."""
        d[GOTO] = self.mm.v(s, d, self.vars["ret"])
        self.reset(d, *[n for n in self.FAULT_LOCALS if not (keep_clear and n == "clear")])
        return d


def pages_data(pages: list[str]) -> str:
    """The content of a large folio whose pages hold `pages` (page i the i-th): one value when every
    page holds the same (the anonymous scenarios' large folios), else the pages' contents joined by "|"
    (a shmem folio covering several file indices)."""
    return pages[0] if all(p == pages[0] for p in pages) else "|".join(pages)


def page_data(data: str, i: int) -> str:
    """The content of page i of a folio whose content is `data` (see pages_data())."""
    parts = data.split("|")
    return parts[i] if len(parts) > 1 else data


class ShmemMapping:
    """mm/shmem.c: a shmem file's page cache (mapping->i_pages, one xarray for folios and swap entries)
    at the file indices 0..n-1 a scenario models, part of an `MM` whose swap slots back its swap entries
    and whose folio pool holds its folios (`MM.add_shmem_mapping`).

    * `xa[i]` (field `xa<i>`): what index i holds: a swap entry (xa_is_value(); its value is the name
      of the MM slot it encodes), a folio (its id) or nothing (NO_FOLIO);
    * `xa_order` (field, only with two indices): the order of the entry at index 0 (xa_get_order()): 1
      while one multi-index entry covers indices 0 and 1; its value (the entry of the first slot, or
      the large folio) is then stored at both indices.

    A swap entry the mapping holds is one swap count of its slot (of every slot of a large entry);
    the page cache holds folio_nr_pages() references on a folio (shmem_add_to_page_cache():
    folio_ref_add(folio, nr)). The page of index i is the content of slot i ("p<i>" in
    shmem-large-swap-entry); a large folio holds its pages' contents (`pages_data`)."""

    def __init__(self, mm: "MM", entries: list[str], order: int = 0):
        if not 1 <= len(entries) <= 2 or (order and len(entries) != 2):
            raise ModelError("shmem mapping: one index, or two under an entry of order 0 or 1")
        self.mm = mm
        m = mm.m
        values = (NO_FOLIO,) + tuple(mm.base.slots) + mm.folios
        self.xa = [m.field(f"xa{i}", e, values, f"the shmem mapping at index {i}: a swap entry "
                           "(xa_is_value: its slot) or a folio") for i, e in enumerate(entries)]
        self.xa_order = (m.field("xa_order", order, (0, 1), "the order of the mapping's entry at index 0 "
                                 "(1: one multi-index entry covers indices 0 and 1)")
                         if len(entries) == 2 else None)

    def fields(self) -> list[str]:
        return ([self.xa_order] if self.xa_order else []) + self.xa

    def order(self, s) -> int:
        return getattr(s, self.xa_order) if self.xa_order else 0

    def referenced(self, s, k: int) -> bool:
        """Does the mapping hold slot k's swap entry (its own order-0 entry, or the large entry over
        both indices)?"""
        slots = self.mm.base.slots
        if self.order(s):
            return getattr(s, self.xa[0]) == slots[0]
        return getattr(s, self.xa[k]) == slots[k]

    def page_of(self, s, fid: str, i: int) -> str:
        """The content of the page of folio `fid` at index i (a large folio starts at index 0)."""
        data = getattr(s, self.mm.f["data"][fid])
        return page_data(data, i) if self.mm.is_large(s, {}, fid) else data

    def content(self, s, i: int) -> str | None:
        """What index i reads once faulted in: None while it holds a swap entry."""
        val = getattr(s, self.xa[i])
        return self.page_of(s, val, i) if val in self.mm.folios else None


MPROTECT_WRITABLE_FORMS = ("v5.19", "64fe24a3e05e", "mainline-2026")


@dataclass(frozen=True)
class KernelII:
    """Historical behaviour of the paths of "Anon-exclusive II" (the Anon-exclusive I paths read
    `mm.Kernel`). Defaults are the current kernel on x86-64."""

    tlb_flush_ipi: bool = True            # arch: flush_tlb_range() IPIs and waits (x86); arm64: TLBI
    ordered_atomics: bool = True          # arch: folio_ref_add() is a full barrier (x86 lock prefix)
    gup_fast_barriers: bool = True        # 088b8aa537c2 (v6.0): smp_mb__after_atomic() after the pin,
                                          #   smp_mb() in page_try_share_anon_rmap(), deferred flush
                                          #   allowed for exclusive pages in try_to_unmap_one()
    clear_before_share: bool = True       # 6c287605fd56: PTE cleared before the pin check (False:
                                          #   seeded mutation, the races II/III of its message)
    write_protect_seq: bool = True        # 57efa1fe5957 (v5.11): fork vs FOLL_PIN GUP-fast
    fork_copy_pinned: bool = True         # 70e806e4e645 (v5.9): fork copies maybe-pinned pages
    fork_batch_pin_check: bool = True     # folio_try_dup_anon_rmap_ptes() refuses a batch of a maybe
                                          #   pinned folio with an exclusive page (false: seeded mutation)
    fork_clear_swp_exclusive: bool = True  # 1493a1913e34: copy_nonpresent_pte clears the swp bit
    mprotect_readable_exclusive: bool = True  # 6c287605fd56: writable migration entry ->
                                              #   readable-exclusive (anon) in change_pte_range
    mprotect_try_change_writable: str = "mainline-2026"  # change_pte_range(PROT_READ|PROT_WRITE) on a
                                          #   present private anon PTE (MPROTECT_WRITABLE_FORMS): "v5.19"
                                          #   (left write-protected, the next store faults), "64fe24a3e05e"
                                          #   (v6.0: can_change_pte_writable() maps a dirty exclusive page
                                          #   writable), "mainline-2026" (change_present_ptes() ->
                                          #   set_write_prot_commit_flush_ptes(): clean or dirty)
    mprotect_writable_needs_exclusive: bool = True  # the writable upgrade reads PageAnonExclusive()
                                          #   (false: seeded mutation, a shared page made writable)
    migration_rmap_exclusive: bool = True  # 6c287605fd56: remove_migration_pte sets RMAP_EXCLUSIVE
    wp_reuse: str = "anon_exclusive"      # do_wp_page reuse rule: "mapcount" (v5.7 reuse_swap_page),
                                          #   "page_count" (09854ba94c6a), "anon_exclusive" (v5.19)
    gup_cow_break: bool = False           # 17839856fd58 (v5.8): GUP on a COW mapping breaks COW
    fork_wp_seq_mb: bool = False          # what-if: smp_mb() after fork's raw_write_seqcount_begin()
                                          #   (the kernel has smp_wmb() only; memory models only)
    fork_child_table_alloc: bool = False  # copy_pte_range() allocates the child's PTE table
                                          #   (pmd_install(): spin_unlock() before the PTLs are taken)
    pin_lag_by_hand: bool = True          # the SC-era abstraction of the late pin (gupf.grab chooses);
                                          #   False: left to run --memory-model (verifier/memmodel.py)

    def __post_init__(self):
        if self.mprotect_try_change_writable not in MPROTECT_WRITABLE_FORMS:
            raise ValueError(f"mprotect writable form {self.mprotect_try_change_writable!r} not in "
                             f"{MPROTECT_WRITABLE_FORMS}")

    @property
    def pin_may_lag(self) -> bool:
        """Can the FOLL_PIN pin become visible after GUP-fast's PTE re-check?"""
        return self.pin_lag_by_hand and not (self.ordered_atomics or self.gup_fast_barriers)


def pte_migration(folio: str, *, write: bool = False, exclusive: bool = False,
                  soft_dirty: bool = False, uffd_wp: bool = False) -> Pte:
    """A migration entry: writable, readable-exclusive (anon only) or readable."""
    return Pte("migration", folio, write=write, exclusive=exclusive and not write, soft_dirty=soft_dirty,
               uffd_wp=uffd_wp)


def entry_type(pte: Pte) -> str:
    return "write" if pte.write else ("read-excl" if pte.exclusive else "read")


CHILD_PTE = "child_pte"


CHILD_PTL = "child_ptl"


def child_view(mm: MM, init: Pte = PTE_NONE, *, pte: str = CHILD_PTE, ptl: str = CHILD_PTL,
               what: str = "the child's") -> MM:
    """The child process: its PTE at the address (`child_pte`) and page-table lock (`child_ptl`);
    folios, swap slot and ghosts are the parent's. With other field names, a second address of the
    same mm (UFFDIO_MOVE's destination)."""
    view = copy.copy(mm)
    view.pte = mm.m.field(pte, init, doc=f"{what} PTE at the modelled user address")
    view.ptes = [view.pte] + [mm.m.field(f"{pte}{i}", init, doc=f"{what} PTE of subpage {i} of the range")
                              for i in range(1, mm.nr)]
    view.ptl = mm.m.lock(ptl, f"{what} page-table lock")
    view.ctxs = []
    return view


def subpage_view(mm: MM, i: int) -> MM:
    """The process's view of subpage `i` of the range: `pte` is the i-th PTE and PG_anon_exclusive
    (`f["excl"]`) that of page i, so every path written for one address (user accesses, do_wp_page,
    GUP-fast, ...) runs unchanged on it. Folio-wide state (refcount, mapcount, pins, the lock) is
    shared; the PTL is the same page table's."""
    if not 0 <= i < mm.nr:
        raise ModelError(f"subpage {i} outside a range of {mm.nr} PTEs")
    view = copy.copy(mm)
    view.pte = mm.ptes[i]
    view.index = i
    view.f = dict(mm.f)
    view.f["excl"] = {fid: mm.page_flag("excl", fid, i) for fid in mm.folios}
    if len(getattr(mm, "slot_f", ())) == mm.nr:
        view.slot = mm.slots[i]
        view.swp_count, view.swp_has_cache, view.swp_cache, view.swp_data = mm.slot_f[i]
        for attr, fields in mm.slot_extra.items():
            setattr(view, attr, fields[i])
    if i:
        # page 0's flag under a name of its own, so that freeing a folio in this view resets it too
        view.f["excl0"] = mm.f["excl"]
        view.folio_flags = mm.folio_flags + ("excl0",)
        view.free_folio = dict(mm.free_folio, excl0=False)
    view.ctxs = []
    return view


def child_thread(view: MM, name: str, doc: str = "") -> Ctx:
    """A thread of the child process (it runs once fork has returned; see `emit_child_start`)."""
    ctx = Ctx(view, name, doc)
    view.ctxs.append(ctx)
    return ctx


def child_running(mm: MM) -> str:
    if not hasattr(mm.m, "_child_running"):
        mm.m._child_running = mm.m.field("child_running", False, (False, True),
                                         "(ghost) fork() has returned: the child has been woken",
                                         ghost=True)
    return mm.m._child_running


PTE_MARKER_UFFD_WP = Pte("marker", uffd_wp=True)     # make_pte_marker(PTE_MARKER_UFFD_WP)


FORK_FORMS = ("v5.19", "v6.1", "7e3ce3f8d2d2", "seeded-swap-duplicate")


@dataclass(frozen=True)
class MarkerKernel:
    madvise_frees_error: bool = True          # 7b49514fa1db (v5.19)
    fork_swapin_error: str = "7e3ce3f8d2d2"   # how copy_nonpresent_pte() treats the error entry
    install_uffd_wp_marker: bool = True       # 999dad824c39 (v5.19)
    fork_marker_checks_dst: bool = True       # 49d6d7fb6313 (v6.2)
    softleaf: bool = False                    # the linux-mm 2026 names (step texts only): leaf entries read
                                              #   through softleaf_from_pte()/softleaf_is_marker(), the swap-in
                                              #   error entry is PTE_MARKER_POISONED (af19487f00f3), fork's marker
                                              #   copy is copy_pte_marker(), dup_mmap() is in mm/mmap.c


def is_swap_pte(pte: Pte) -> bool:
    """is_swap_pte(): !pte_none && !pte_present -- true for markers and error entries too."""
    return pte.kind not in ("none", "present")


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
    unmap_batch: str = "29f40594a281"   # Kernel.lazyfree_batch
    alloc_anon_folio: bool = True       # do_anonymous_page() -> alloc_anon_folio() (19eaf44954df)
    madvise_batch: bool = True          # madvise_free_pte_range(): clear_young_dirty_ptes() +
                                        #   tlb_remove_tlb_entries() (the 2024 mTHP lazyfree series)
    lazyfree_mb: bool = True            # 6c8e2a256915: smp_mb() between the PTE clear and the
                                        #   ref_count read (matters only under --memory-model)

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
                      mglru_sort_folio=self.sort_folio, lazyfree_batch=self.unmap_batch,
                      lazyfree_mb=self.lazyfree_mb)


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
                                   uptodate=True, data=data, **self.mm.memcg_charge(s, d, self.mm.memcg))


# --------------------------------------------------------------------------------------------
# The 2026 swap table: the count word of one slot and its cluster's overflow table


class SwapCluster:
    """The swap table word of the modelled slot and its cluster's `extend_table`, as "mm, swap: use the
    swap table to track the swap count" (0d6af9bcf383, v7.1-rc1) keeps them: the count lives in the
    table word's top bits up to SWP_TB_COUNT_MAX; at SWP_TB_COUNT_MAX the real count is in
    `ci->extend_table[ci_off]`, a kzalloc()ed per-cluster array that exists only while some slot
    overflows. Everything is under `ci->lock`.

    `max` is an abstract SWP_TB_COUNT_MAX (3 by default): what matters is the boundary
    SWP_TB_COUNT_MAX - 1 -> SWP_TB_COUNT_MAX, not the real bit width. The cluster holds the one modelled
    slot, so freeing the slot empties the cluster (`free_cluster()`: swap_cluster_free_table(), which
    with `teardown_frees_extend` also frees a leftover extend table)."""

    def __init__(self, m: Model, *, count: int, max: int = 3, teardown_frees_extend: bool = False):
        if not 0 < count <= max:
            raise ModelError(f"swap count {count} outside 1..{max}")
        self.m = m
        self.max = max
        self.teardown_frees_extend = teardown_frees_extend
        self.lock = m.lock("ci_lock", "ci->lock: the swap cluster lock")
        self.count = m.field("swp_tb_count", count, range(0, max + 1),
                             "the swap count in the slot's swap table word (SWP_TB_COUNT_MAX = "
                             f"{max} means: see extend_table)")
        self.extend = m.field("extend_table", False, (False, True), "ci->extend_table is allocated")
        self.extend_cnt = m.field("extend_cnt", 0, range(0, max + 3), "ci->extend_table[ci_off]")
        self.freed_with_extend = m.field("cluster_freed_with_extend_table", False, (False, True),
                                         "ghost: the cluster was freed while ci->extend_table was attached")

    def try_free(self, s, d: dict) -> None:
        """swap_extend_table_try_free(ci): free the extend table when no slot uses it."""
        if MM.v(s, d, self.extend) and MM.v(s, d, self.extend_cnt) == 0:
            d[self.extend] = False

    def free_cluster(self, s, d: dict) -> None:
        """__swap_cluster_free_entries() of the cluster's last slot -> free_cluster():
        swap_cluster_assert_empty() and swap_cluster_free_table()."""
        if MM.v(s, d, self.extend):
            d[self.freed_with_extend] = True
            if self.teardown_frees_extend:
                d[self.extend] = False
                d[self.extend_cnt] = 0

    def free_reads(self) -> list[str]:
        return [self.extend, self.extend_cnt]

    def free_writes(self) -> list[str]:
        return [self.freed_with_extend, self.extend, self.extend_cnt]
