"""arm64 MTE: allocation tags of a swapped page, their store by swap entry, and the paths that restore them.

Read for this model (kernel-paths.md section 10 and the sources it names):

* arch/arm64/mm/mteswap.c (torvalds/linux @ 031616c434db, the 5.x form): `mte_save_tags()` (called by
  `arch_prepare_to_swap()` from swap_writepage()) allocates a tag storage and `xa_store(&mte_pages,
  entry.val, storage)`; `mte_restore_tags()` is `tags = xa_load(&mte_pages, entry.val)` then
  `mte_restore_page_tags(page_address(page), tags)` with no lock between the two; `mte_invalidate_tags()`
  (`arch_swap_invalidate_page()`, called from mm/swapfile.c:swap_range_free() when a slot is really
  freed) is `xa_erase()` + `mte_free_tag_storage()` (kfree).
* 6.2-6.5 `mte_restore_tags()`: `if (try_page_mte_tagging(page)) { mte_restore_page_tags();
  set_page_mte_tagged(); }`; v6.6 ("arm64: mte: simplify swap tag restoration logic"):
  `WARN_ON_ONCE(!try_page_mte_tagging(page))` then restore and set (the folio lock serialises it).
* arch/arm64/include/asm/pgtable.h `__set_pte_at()` and arch/arm64/kernel/mte.c `mte_sync_tags()`:
  - 5.14-6.5: `if (system_supports_mte() && pte_access_permitted(pte, false) && !pte_special(pte))
    { old_pte = READ_ONCE(*ptep); if (pte_tagged(pte) || is_swap_pte(old_pte)) mte_sync_tags(old_pte,
    pte); }`; `mte_sync_tags()` calls, for a page without PG_mte_tagged, `mte_sync_page_tags()`:
    restore from the swap entry of `old_pte` (not for a non_swap_entry such as a migration entry), then
    for a tagged PTE zero the tags of a still untagged page (`try_page_mte_tagging();
    mte_clear_page_tags(); set_page_mte_tagged()`); before c4c597f1b367 ("arm64: mte: Do not set
    PG_mte_tagged if tags were not initialized", v6.4-rc3, Fixes e059853d14ca of v6.1) the loop then
    called `set_page_mte_tagged(page)` unconditionally;
  - v6.6: `if (... && pte_tagged(pte)) mte_sync_tags(pte)`: zero the tags of an untagged page only;
    no restore from swap any more (read from the v3 patch and its review by Steven Price).
* arch_swap_restore() callers: mm/memory.c:do_swap_page() before swap_free() since 6dca4ac6fc91
  ("mm: call arch_swap_restore() from do_swap_page()", v6.4, Fixes c145e0b47c77, read in the 6.3
  stable backport); mm/swapfile.c:unuse_pte() before set_pte_at()/swap_free() since "mm: call
  arch_swap_restore() from unuse_pte()" (queued for v6.6; its mainline id was not verified);
  mm/shmem.c:shmem_swapin_folio() since the 5.10 hook series.
* arm64 copy_highpage() (used by migration): tags are copied, and the destination marked
  PG_mte_tagged, only if the source page is PG_mte_tagged.

Tags are a value per folio: "T" (the tags the program set on the page before it was swapped out),
"zero" (initialised by mte_clear_page_tags()), "garbage" (never initialised: a fresh page's stale tag
storage). A freed folio loses PG_mte_tagged and its tags become garbage again. One swap slot means one
xarray index: `mte_xa` says whether `xa_load()` finds a storage for it, `tag_storage` what that kmalloc
buffer holds, or "freed" once mte_invalidate_tags() kfree()d it.

Abstractions: MTE is always supported (system_supports_mte()); small folios only; the PTE of a PROT_MTE
VMA is tagged (`pte_tagged()`, MT_NORMAL_TAGGED), tracked by `pte_tagged` next to `pte`; the folio
lock of a freshly read skip-swapcache folio is private to its fault (never contended).
"""

from __future__ import annotations

from dataclasses import dataclass

from pteverify.model import FREE, GOTO

from .mm import MM, NO_FOLIO, PTE_NONE, Ctx, Pte, pte_present, pte_same_as_swp
from .swap_in import read_slot

SAVED = "T"            # the tags the page carried when it was swapped out
ZERO = "zero"          # tags initialised by mte_clear_page_tags()
GARBAGE = "garbage"    # tags never initialised
NO_TAGS = "-"
BUF = "buf"            # xa_load() finds the tag storage of the slot
FREED = "freed"        # the tag storage was kfree()d by mte_invalidate_tags()
TAG_VALUES = (SAVED, ZERO, GARBAGE)


@dataclass(frozen=True)
class MteKernel:
    """Which historical behaviour the MTE paths follow (defaults: v6.6 and later)."""

    swap_free_first: bool = True            # c145e0b47c77 (v5.18): swap_free() before set_pte_at()
    restore_before_swap_free: bool = True   # 6dca4ac6fc91 (v6.4): arch_swap_restore() in do_swap_page()
    unuse_restore: bool = True              # v6.6: arch_swap_restore() in unuse_pte()
    set_pte_restores: bool = False          # until v6.6: set_pte_at() restores tags from a swap PTE
    sync_sets_tagged: bool = False          # before c4c597f1b367: mte_sync_tags() sets PG_mte_tagged always
    readpage_restore: bool = False          # review proposal: restore the tags in swap_readpage()
    synchronous_io: bool = True             # SWP_SYNCHRONOUS_IO (zram): skip the swap cache if count == 1


class MTE:
    """The MTE state added to a model built on `MM`: VMA and PTE tagging, per-folio PG_mte_tagged and
    tags, the tag store of the swap slot, and ghosts for what user space observed."""

    def __init__(self, mm: MM, *, vm_mte: bool = True, pte_tagged: bool = False,
                 folio_tags: dict | None = None, saved: bool = True):
        m = mm.m
        self.mm = mm
        self.vm_mte = m.field("vm_mte", vm_mte, (False, True),
                              "VM_MTE: the VMA is PROT_MTE (vma->vm_page_prot has MT_NORMAL_TAGGED)")
        self.pte_tagged = m.field("pte_tagged", pte_tagged, (False, True),
                                  "pte_tagged(): the present PTE's memory type is MT_NORMAL_TAGGED")
        self.tagged: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        for fid in mm.folios:
            tagged, tags = (folio_tags or {}).get(fid, (False, GARBAGE))
            self.tagged[fid] = m.field(f"{fid}_mte_tagged", tagged, (False, True),
                                       f"folio {fid}: PG_mte_tagged (page_mte_tagged())")
            self.tags[fid] = m.field(f"{fid}_tags", tags, TAG_VALUES,
                                     f"folio {fid}: its allocation tags")
        self.xa = m.field("mte_xa", BUF if saved else NO_TAGS, (NO_TAGS, BUF),
                          "xa_load(&mte_pages, entry.val) for the swap slot: the tag storage saved by "
                          "arch_prepare_to_swap(), or none")
        self.storage = m.field("tag_storage", SAVED if saved else NO_TAGS,
                               (NO_TAGS, FREED) + TAG_VALUES,
                               "the kmalloc()ed tag storage of the slot: the tags it holds, or freed")
        self.uaf = m.field("tag_storage_uaf", False, (False, True),
                           "(ghost) mte_restore_page_tags() read a tag storage after it was kfree()d")
        self.seen: list[str] = []

    # -- field lists ---------------------------------------------------------------------------
    def folio_fields(self) -> list[str]:
        return list(self.tagged.values()) + list(self.tags.values())

    def store_fields(self) -> list[str]:
        return [self.xa, self.storage]

    # -- folio lifetime ----------------------------------------------------------------------------
    def alloc(self, s, d: dict, **flags) -> str:
        """alloc_page_vma(): a fresh folio, not PG_mte_tagged, its tag storage uninitialised."""
        fid = self.mm.alloc_folio(s, d, **flags)
        d[self.tagged[fid]] = False
        d[self.tags[fid]] = GARBAGE
        return fid

    def put(self, s, d: dict, fid: str, n: int = 1) -> None:
        """folio_put(): a freed folio loses PG_mte_tagged (page flags are reset on free)."""
        self.mm.put_folio(s, d, fid, n)
        if self.mm.fv(s, d, "ref", fid) == 0:
            d[self.tagged[fid]] = False
            d[self.tags[fid]] = GARBAGE

    # -- the tag store by swap entry ---------------------------------------------------------------
    def swap_range_free(self, s, d: dict) -> bool:
        """mm/swapfile.c:swap_range_free() -> arch_swap_invalidate_page() -> mte_invalidate_tags():
        xa_erase(); mte_free_tag_storage(). Runs when the slot is really freed: no swap count and no
        SWAP_HAS_CACHE left."""
        mm = self.mm
        if mm.slot_in_use(s, d) or mm.v(s, d, self.xa) != BUF:
            return False
        d[self.xa] = NO_TAGS
        d[self.storage] = FREED
        return True

    def restore(self, s, d: dict, fid: str) -> bool:
        """mte_restore_tags(entry, page) as one step: xa_load(); if a storage is found and
        try_page_mte_tagging(page) succeeds, mte_restore_page_tags() and set_page_mte_tagged()."""
        mm = self.mm
        if mm.v(s, d, self.xa) != BUF:
            return False
        if mm.v(s, d, self.tagged[fid]):
            return False                                   # already tagged: not overwritten
        d[self.tags[fid]] = mm.v(s, d, self.storage)
        d[self.tagged[fid]] = True
        return True

    def sync_tags(self, s, d: dict, k: MteKernel, fid: str, old: Pte, tagged_pte: bool) -> None:
        """arm64 __set_pte_at() -> mte_sync_tags(), in the form of the release `k` stands for."""
        mm = self.mm
        if k.set_pte_restores:
            is_swap_pte = old.kind not in ("none", "present")
            if not (tagged_pte or is_swap_pte):
                return
            if mm.v(s, d, self.tagged[fid]):
                return                                     # "tags have already been initialised"
            if old.kind == "swap":                         # !non_swap_entry(entry)
                self.restore(s, d, fid)
            if tagged_pte and not mm.v(s, d, self.tagged[fid]):
                d[self.tags[fid]] = ZERO                   # try_page_mte_tagging(); mte_clear_page_tags()
                d[self.tagged[fid]] = True
            if k.sync_sets_tagged:
                d[self.tagged[fid]] = True                 # set_page_mte_tagged(page), tags or not
            return
        if tagged_pte and not mm.v(s, d, self.tagged[fid]):
            d[self.tags[fid]] = ZERO
            d[self.tagged[fid]] = True

    @staticmethod
    def set_pte_ref(k: MteKernel) -> str:
        if k.set_pte_restores:
            return ("set_pte_at() -> mte_sync_tags(old_pte, pte): !page_mte_tagged -> "
                    "mte_restore_tags(swp entry of old_pte) ?: mte_clear_page_tags()"
                    + ("; set_page_mte_tagged()" if k.sync_sets_tagged else ""))
        return "set_pte_at() -> mte_sync_tags(pte): try_page_mte_tagging() -> mte_clear_page_tags()"

    # -- what user space observes ------------------------------------------------------------------
    def seen_field(self, ctx: Ctx) -> str:
        f = ctx.local("tags_seen", NO_TAGS, "the allocation tags a tag-checked access found (ldg)")
        if f not in self.seen:
            self.seen.append(f)
        return f


# ------------------------------------------------------------------------------------------------
# Invariants


def inv_tags_survive_swap(mte: MTE) -> None:
    seen = list(mte.seen)
    mte.mm.m.invariant(
        "mte_tags_survive_swap", lambda s: all(getattr(s, f) in (NO_TAGS, SAVED) for f in seen), seen,
        "the tags of a page mapped PROT_MTE equal the tags it had when it was swapped out: a "
        "tag-checked access after swap-in finds the saved tags (else SEGV_MTESERR)")


def inv_no_uninitialised_tags(mte: MTE) -> None:
    seen = list(mte.seen)
    mte.mm.m.invariant(
        "no_uninitialised_tags_exposed", lambda s: all(getattr(s, f) != GARBAGE for f in seen), seen,
        "no user-space access through a PROT_MTE mapping observes tags that were never initialised "
        "(PG_mte_tagged is set only once the tags were restored or zeroed)")


def inv_no_freed_tag_storage_read(mte: MTE) -> None:
    mte.mm.m.invariant("no_freed_tag_storage_read", lambda s: not getattr(s, mte.uaf), [mte.uaf],
                       "a tag storage is never read after mte_invalidate_tags() freed it: the restore "
                       "of a swap entry's tags completes before swap_range_free() can run for it")


# ------------------------------------------------------------------------------------------------
# User space: a tag-checked load


def emit_tag_checked_load(ctx: Ctx, mte: MTE, k: MteKernel, label: str = "load") -> None:
    """A load through the PROT_MTE mapping: the MMU checks the pointer's tag against the allocation
    tags of the page (the model records them); a swap PTE faults into do_swap_page() and the load is
    retried. A migration entry makes the fault wait (migration_entry_wait)."""
    mm = mte.mm
    seen = mte.seen_field(ctx)
    orig = ctx.local("orig", PTE_NONE, "vmf->orig_pte")

    def access(s):
        pte = getattr(s, mm.pte)
        if pte.present:
            tags = getattr(s, mte.tags[pte.folio]) if getattr(s, mte.pte_tagged) else NO_TAGS
            return {seen: tags, GOTO: "done"}
        return {orig: pte, GOTO: "dsp.lookup"}

    ctx.step(label, "user space: tag-checked load (ldr with TCF0 checks; ldg reads the allocation tag) "
             "[#PF on a swap PTE -> handle_pte_fault -> do_swap_page]",
             guard=lambda s: getattr(s, mm.pte).kind in ("present", "swap"), effect=access,
             reads=[mm.pte, mte.pte_tagged] + list(mte.tags.values()), writes=[seen, orig],
             branches=["done", "dsp.lookup"])
    emit_do_swap_page_mte(ctx, mte, k, retry=label)


# ------------------------------------------------------------------------------------------------
# do_swap_page, as far as the tags are concerned


def emit_do_swap_page_mte(ctx: Ctx, mte: MTE, k: MteKernel, retry: str) -> None:
    """mm/memory.c:do_swap_page() for a read fault on an anonymous PROT_MTE page.

    v5.7-v5.17 order: ... pte_same -> mk_pte; set_pte_at() [mte_sync_tags restores from the swap PTE]
    -> swap_free(entry). c145e0b47c77 (v5.18): swap_free(entry); try_to_free_swap() moved before
    mk_pte/set_pte_at. 6dca4ac6fc91 (v6.4): arch_swap_restore(entry, folio) right before swap_free().
    The skip-swapcache path (SWP_SYNCHRONOUS_IO && __swap_count(entry) == 1) is the pre-v6.8 form,
    without swapcache_prepare(). should_try_to_free_swap() is false for these read faults (no
    swap-full, no mlock)."""
    mm = mte.mm
    orig = ctx.vars["orig"]
    page = ctx.local("page", NO_FOLIO, "do_swap_page: folio")
    swc = ctx.local("swapcache", False, "do_swap_page: folio == swapcache (not the skip path)")
    tagsp = ctx.local("tagsp", NO_TAGS, "mte_restore_tags: tags = xa_load() (a pointer)")
    folio_all = mm.all_folio() + mte.folio_fields()
    slot = mm.slot_fields()
    store = mte.store_fields()

    def leave(d):
        d[GOTO] = retry
        d[page] = NO_FOLIO
        d[swc] = False
        d[orig] = PTE_NONE
        return d

    def skip_path(s):
        return k.synchronous_io and getattr(s, mm.swp_count) == 1 and getattr(s, mm.swp_cache) == NO_FOLIO

    def lookup(s):
        d = {}
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.get_folio(s, d, cache)
            d[page] = cache
            d[swc] = True
            d[GOTO] = "dsp.lock"
            return d
        if not mm.slot_in_use(s, d):
            return leave(d)                                # the entry was freed under us
        data, ok = read_slot(mm, s)
        if skip_path(s):
            fid = mte.alloc(s, d, data=data, uptodate=ok)
            d[page] = fid
        else:
            fid = mte.alloc(s, d, ref=2, swapcache=True, data=data, uptodate=ok)
            d[mm.swp_has_cache] = True
            d[mm.swp_cache] = fid
            d[page] = fid
            d[swc] = True
        d[GOTO] = "dsp.readpage_xa_load" if k.readpage_restore else "dsp.lock"
        return d

    ref = ("mm/memory.c:do_swap_page: lookup_swap_cache(entry); miss && SWP_SYNCHRONOUS_IO && "
           "__swap_count(entry) == 1: alloc_page_vma(); swap_readpage(page, true) [skip swapcache]; "
           "else swapin_readahead()" if k.synchronous_io else
           "mm/memory.c:do_swap_page: page = lookup_swap_cache(entry) ?: swapin_readahead(entry) "
           "[add_to_swap_cache(); swap_readpage()]")
    ctx.step("dsp.lookup", ref,
             guard=lambda s: getattr(s, mm.swp_cache) != NO_FOLIO or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=[orig] + slot + mm.ff("ref", "map", "swapcache"),
             writes=folio_all + slot + [page, swc, orig],
             branches=[retry, "dsp.lock", "dsp.readpage_xa_load"] if k.readpage_restore
             else [retry, "dsp.lock"])

    if k.readpage_restore:
        # The hook proposed in review: restore inside swap_readpage(), i.e. when the page is read,
        # before the fault has locked it, rechecked the PTE or taken the PTL.
        ctx.step("dsp.readpage_xa_load", "mm/page_io.c:swap_readpage -> arch_swap_readpage -> "
                 "mte_restore_tags(): tags = xa_load(&mte_pages, entry.val)",
                 effect=lambda s: {tagsp: getattr(s, mte.xa)}, reads=[mte.xa], writes=[tagsp])

        def readpage_restore(s):
            d = {tagsp: NO_TAGS}
            fid = getattr(s, page)
            if getattr(s, tagsp) == BUF and not getattr(s, mte.tagged[fid]):
                held = getattr(s, mte.storage)
                if held == FREED:
                    d[mte.uaf] = True
                    held = GARBAGE
                d[mte.tags[fid]] = held
                d[mte.tagged[fid]] = True
            return d

        ctx.step("dsp.readpage_restore", "mm/page_io.c:swap_readpage -> arch_swap_readpage -> "
                 "mte_restore_tags(): try_page_mte_tagging(); mte_restore_page_tags(page_address(page), "
                 "tags); set_page_mte_tagged()",
                 effect=readpage_restore, reads=[tagsp, page, mte.storage] + mte.folio_fields(),
                 writes=[tagsp, mte.uaf] + mte.folio_fields())

    def lock(s):
        fid = getattr(s, page)
        if getattr(s, swc) and (not getattr(s, mm.f["swapcache"][fid]) or getattr(s, mm.swp_cache) != fid):
            d = {}
            mte.put(s, d, fid)
            return leave(d)
        return {mm.lock[fid]: ctx.owner}

    ctx.step("dsp.lock", "mm/memory.c:do_swap_page: lock_page_or_retry(page); "
             "PageSwapCache(page) && page_private(page) == entry.val",
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) == FREE, effect=lock,
             reads=[page, swc, mm.swp_cache] + mm.locks() + mm.ff("swapcache", "ref", "map"),
             writes=mm.locks() + folio_all + [page, swc, orig], branches=[retry])

    def pte_same(s):
        fid = getattr(s, page)
        if getattr(s, mm.pte) != getattr(s, orig):
            d = {mm.lock[fid]: FREE}                       # out_nomap: unlock_page(); put_page()
            mte.put(s, d, fid)
            return leave(d)
        return {mm.ptl: ctx.owner}

    ctx.step("dsp.pte_same", "mm/memory.c:do_swap_page: pte_offset_map_lock(); "
             "pte_same(*vmf->pte, vmf->orig_pte) [else out_nomap: unlock_page(); put_page()]",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_same,
             reads=[mm.ptl, mm.pte, orig, page] + mm.ff("ref", "map", "swapcache"),
             writes=[mm.ptl] + mm.locks() + folio_all + [page, swc, orig], branches=[retry])

    if k.restore_before_swap_free:
        def arch_swap_restore(s):
            d = {}
            mte.restore(s, d, getattr(s, page))
            return d

        ctx.step("dsp.arch_swap_restore", "mm/memory.c:do_swap_page: arch_swap_restore(entry, folio) "
                 "[before swap_free()] -> mte_restore_tags(): xa_load(); mte_restore_page_tags(); "
                 "set_page_mte_tagged()",
                 effect=arch_swap_restore, reads=[page] + store + mte.folio_fields(),
                 writes=mte.folio_fields())

    def swap_free(s):
        d = {}
        mm.swap_free(s, d)
        mte.swap_range_free(s, d)
        return d

    swap_free_ref = ("mm/memory.c:do_swap_page: swap_free(entry) [last reference, no SWAP_HAS_CACHE: "
                     "mm/swapfile.c:swap_range_free() -> arch_swap_invalidate_page() -> "
                     "mte_invalidate_tags(): xa_erase(); mte_free_tag_storage()]")

    def set_pte(s):
        fid = getattr(s, page)
        old = getattr(s, mm.pte)                           # READ_ONCE(*ptep): still the swap PTE
        tagged = getattr(s, mte.vm_mte)
        d = {}
        mte.sync_tags(s, d, k, fid, old, tagged)
        d[mm.f["map"][fid]] = getattr(s, mm.f["map"][fid]) + 1
        d[mm.pte] = pte_present(fid, soft_dirty=old.soft_dirty, uffd_wp=old.uffd_wp)
        d[mte.pte_tagged] = tagged
        return d

    set_pte_ref = ("mm/memory.c:do_swap_page: pte = mk_pte(page, vma->vm_page_prot); "
                   "do_page_add_anon_rmap(); arch/arm64: " + MTE.set_pte_ref(k))
    set_pte_reads = [page, mm.pte, mte.vm_mte] + store + mte.folio_fields() + mm.ff("map")
    set_pte_writes = [mm.pte, mte.pte_tagged] + mte.folio_fields() + mm.ff("map")
    if k.swap_free_first:
        ctx.step("dsp.swap_free", swap_free_ref, effect=swap_free, reads=slot + store,
                 writes=slot + store)
        ctx.step("dsp.set_pte", set_pte_ref, effect=set_pte, reads=set_pte_reads, writes=set_pte_writes)
    else:
        ctx.step("dsp.set_pte", set_pte_ref, effect=set_pte, reads=set_pte_reads, writes=set_pte_writes)
        ctx.step("dsp.swap_free", swap_free_ref, effect=swap_free, reads=slot + store,
                 writes=slot + store)

    def unlock(s):
        d = {mm.lock[getattr(s, page)]: FREE, mm.ptl: FREE}
        return leave(d)

    ctx.step("dsp.unlock", "mm/memory.c:do_swap_page: unlock_page(page); pte_unmap_unlock() "
             "[the fault's reference is now the mapping's]",
             effect=unlock, reads=[page], writes=[mm.ptl] + mm.locks() + [page, swc, orig],
             branches=[retry])


# ------------------------------------------------------------------------------------------------
# swapoff: unuse_pte, as far as the tags are concerned


def emit_unuse_pte_mte(ctx: Ctx, mte: MTE, k: MteKernel) -> None:
    """mm/swapfile.c:try_to_unuse() -> unuse_pte_range() -> unuse_pte() for a PROT_MTE page.

    unuse_pte(): PTL; pte_same_as_swp(); [v6.6: arch_swap_restore(entry, page_folio(page))];
    new_pte = pte_mkold(mk_pte(page, vma->vm_page_prot)); set_pte_at(new_pte) [-> mte_sync_tags];
    swap_free(entry). The caller then try_to_free_swap(page): delete_from_swap_cache() drops
    SWAP_HAS_CACHE, the slot is freed and swap_range_free() invalidates the tags."""
    mm = mte.mm
    page = ctx.local("page", NO_FOLIO, "unuse_pte_range: page")
    entry = ctx.local("entry", PTE_NONE, "unuse_pte_range: the swap PTE found")
    folio_all = mm.all_folio() + mte.folio_fields()
    slot = mm.slot_fields()
    store = mte.store_fields()

    def scan(s):
        pte = getattr(s, mm.pte)
        if pte.is_swap and pte.slot == mm.slot:
            return {entry: pte}
        return {GOTO: "done"}

    ctx.step("unuse_pte_range", "mm/swapfile.c:unuse_pte_range: is_swap_pte(*pte) && "
             "swp_type(entry) == type [no PTL]",
             effect=scan, reads=[mm.pte], writes=[entry], branches=["done"])

    def lookup(s):
        d = {}
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.get_folio(s, d, cache)
            d[page] = cache
            return d
        if not mm.slot_in_use(s, d):
            d[entry] = PTE_NONE
            d[GOTO] = "done"
            return d
        data, ok = read_slot(mm, s)
        fid = mte.alloc(s, d, ref=2, swapcache=True, data=data, uptodate=ok)
        d[mm.swp_has_cache] = True
        d[mm.swp_cache] = fid
        d[page] = fid
        return d

    ctx.step("lookup", "mm/swapfile.c:unuse_pte_range: page = lookup_swap_cache(entry) ?: "
             "swapin_readahead(entry)",
             guard=lambda s: getattr(s, mm.swp_cache) != NO_FOLIO or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=slot + mm.ff("ref", "map", "swapcache"),
             writes=[page, entry] + slot + folio_all, branches=["done"])

    ctx.step("lock", "mm/swapfile.c:unuse_pte_range: lock_page(page); wait_on_page_writeback(page)",
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) == FREE,
             effect=lambda s: {mm.lock[getattr(s, page)]: ctx.owner}, reads=[page] + mm.locks(),
             writes=mm.locks())

    def pte_same(s):
        if not pte_same_as_swp(getattr(s, mm.pte), getattr(s, entry)):
            return {GOTO: "free_swap"}
        return {mm.ptl: ctx.owner}

    ctx.step("unuse_pte", "mm/swapfile.c:unuse_pte: pte_offset_map_lock(); "
             "pte_same_as_swp(*pte, swp_entry_to_pte(entry))",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=pte_same,
             reads=[mm.ptl, mm.pte, entry], writes=[mm.ptl], branches=["free_swap"])

    if k.unuse_restore:
        def arch_swap_restore(s):
            d = {}
            mte.restore(s, d, getattr(s, page))
            return d

        ctx.step("unuse_pte.arch_swap_restore", "mm/swapfile.c:unuse_pte: arch_swap_restore(entry, "
                 "page_folio(page)) [before swap_free()] -> mte_restore_tags()",
                 effect=arch_swap_restore, reads=[page] + store + mte.folio_fields(),
                 writes=mte.folio_fields())

    def set_pte(s):
        fid = getattr(s, page)
        old = getattr(s, mm.pte)
        tagged = getattr(s, mte.vm_mte)
        d = {mm.ptl: FREE, GOTO: "free_swap"}
        mte.sync_tags(s, d, k, fid, old, tagged)
        mm.get_folio(s, d, fid)
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) + 1)
        d[mm.pte] = pte_present(fid, soft_dirty=old.soft_dirty, uffd_wp=old.uffd_wp)
        d[mte.pte_tagged] = tagged
        mm.swap_free(s, d)
        mte.swap_range_free(s, d)
        return d

    ctx.step("set_pte", "mm/swapfile.c:unuse_pte: get_page(); page_add_anon_rmap(); new_pte = "
             "pte_mkold(mk_pte(page, vma->vm_page_prot)); arch/arm64: " + MTE.set_pte_ref(k)
             + "; swap_free(entry); pte_unmap_unlock()",
             effect=set_pte, reads=[page, mm.pte, mte.vm_mte] + slot + store + mte.folio_fields()
             + mm.ff("ref", "map"),
             writes=[mm.ptl, mm.pte, mte.pte_tagged] + slot + store + folio_all, branches=["free_swap"])

    def free_swap(s):
        fid = getattr(s, page)
        d = {mm.lock[fid]: FREE, entry: PTE_NONE, page: NO_FOLIO, GOTO: "done"}
        mm.try_to_free_swap(s, d, fid)
        mte.swap_range_free(s, d)
        mte.put(s, d, fid)
        return d

    ctx.step("free_swap", "mm/swapfile.c:unuse_pte_range: try_to_free_swap(page) [delete_from_swap_cache()"
             " -> put_swap_page() -> swap_range_free() -> arch_swap_invalidate_page()]; unlock_page(); "
             "put_page()",
             effect=free_swap, reads=[page] + slot + store + mm.ff("swapcache", "writeback", "ref", "map"),
             writes=[entry, page] + mm.locks() + slot + store + folio_all, branches=["done"])


# ------------------------------------------------------------------------------------------------
# Page migration of an untagged page and mprotect(PROT_MTE)


def emit_migrate_page_mte(ctx: Ctx, mte: MTE, k: MteKernel) -> None:
    """kcompactd migrates the folio mapped at the address: try_to_migrate_one() replaces the PTE with
    a migration entry, move_to_new_folio() copies data (arm64 copy_highpage(): tags and PG_mte_tagged
    only from a PG_mte_tagged source), remove_migration_pte() installs the new folio with
    set_pte_at(mk_pte(new, vma->vm_page_prot)) -- old_pte is the migration entry, is_swap_pte() but a
    non_swap_entry()."""
    mm = mte.mm
    src = ctx.local("src", NO_FOLIO, "migrate_pages: the source folio")
    dst = ctx.local("dst", NO_FOLIO, "migrate_pages: the destination folio")

    def unmap(s):
        pte = getattr(s, mm.pte)
        fid = pte.folio
        d = {src: fid, mm.pte: Pte("migration", fid, write=pte.write), mte.pte_tagged: False}
        mm.get_folio(s, d, fid)                                # isolate_lru_page
        mm.fset(d, fid, map=getattr(s, mm.f["map"][fid]) - 1)  # page_remove_rmap
        return d

    ctx.step("try_to_migrate_one", "mm/rmap.c:try_to_migrate_one: ptep_clear_flush(); "
             "set_pte_at(swp_entry_to_pte(make_readable/writable_migration_entry())) [PTL]",
             guard=lambda s: getattr(s, mm.pte).present and getattr(s, mm.ptl) == FREE, effect=unmap,
             reads=[mm.pte, mm.ptl] + mm.ff("ref", "map"), writes=[src, mm.pte, mte.pte_tagged] + mm.ff("ref", "map"))

    def copy(s):
        old = getattr(s, src)
        d = {}
        new = mte.alloc(s, d, data=getattr(s, mm.f["data"][old]), uptodate=True)
        d[dst] = new
        if getattr(s, mte.tagged[old]):
            d[mte.tags[new]] = getattr(s, mte.tags[old])
            d[mte.tagged[new]] = True
        return d

    ctx.step("move_to_new_folio", "mm/migrate.c:move_to_new_folio -> folio_migrate_copy -> arch/arm64 "
             "copy_highpage(): page_mte_tagged(from) -> mte_copy_page_tags(); set_page_mte_tagged(to)",
             effect=copy, reads=[src] + mm.ff("data", "ref") + mte.folio_fields(),
             writes=[dst] + mm.all_folio() + mte.folio_fields())

    def remove(s):
        old, new = getattr(s, src), getattr(s, dst)
        mig = getattr(s, mm.pte)
        tagged = getattr(s, mte.vm_mte)
        d = {src: NO_FOLIO, dst: NO_FOLIO}
        mte.sync_tags(s, d, k, new, mig, tagged)
        mm.fset(d, new, map=1, ref=1)
        d[mm.pte] = pte_present(new, write=mig.write)
        d[mte.pte_tagged] = tagged
        mte.put(s, d, old, 2)                              # the mapping's and the isolation reference
        return d

    ctx.step("remove_migration_pte", "mm/migrate.c:remove_migration_pte: pte = mk_pte(new, "
             "vma->vm_page_prot); arch/arm64: " + MTE.set_pte_ref(k) + " [old_pte: the migration entry, "
             "a non_swap_entry]; put the old folio",
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=remove,
             reads=[src, dst, mm.pte, mm.ptl, mte.vm_mte] + mte.store_fields() + mte.folio_fields()
             + mm.ff("ref", "map", "swapcache"),
             writes=[src, dst, mm.pte, mte.pte_tagged] + mte.folio_fields() + mm.all_folio())


def emit_mprotect_mte(ctx: Ctx, mte: MTE, k: MteKernel, cont: str) -> None:
    """mprotect(PROT_READ|PROT_MTE): mprotect_fixup() sets VM_MTE and vma->vm_page_prot (mmap_lock held
    for write), then change_pte_range() rewrites a present PTE under the PTL: ptep_modify_prot_start();
    pte_modify(); ptep_modify_prot_commit() -> set_pte_at() [-> mte_sync_tags]. A non-present entry
    (the migration entry) keeps its value; remove_migration_pte() will use the new vm_page_prot."""
    mm = mte.mm

    ctx.step("mprotect_fixup", "mm/mprotect.c:mprotect_fixup: vm_flags |= VM_MTE; "
             "vma_set_page_prot(vma) [mmap_lock for write]",
             effect=lambda s: {mte.vm_mte: True}, writes=[mte.vm_mte])

    def change(s):
        pte = getattr(s, mm.pte)
        d = {mm.ptl: FREE, GOTO: cont}
        if pte.present:
            mte.sync_tags(s, d, k, pte.folio, pte, True)
            d[mte.pte_tagged] = True
        return d

    ctx.step("change_pte_range", "mm/mprotect.c:change_pte_range: pte_offset_map_lock(); pte_present -> "
             "ptep_modify_prot_commit(pte_modify(oldpte, newprot)) -> arch/arm64: " + MTE.set_pte_ref(k),
             guard=lambda s: getattr(s, mm.ptl) == FREE, effect=change,
             reads=[mm.pte, mm.ptl] + mte.store_fields() + mte.folio_fields(),
             writes=[mm.ptl, mte.pte_tagged] + mte.folio_fields(), branches=[cont])


__all__ = ["MTE", "MteKernel", "SAVED", "ZERO", "GARBAGE", "NO_TAGS", "BUF", "FREED",
           "inv_tags_survive_swap", "inv_no_uninitialised_tags", "inv_no_freed_tag_storage_read",
           "emit_tag_checked_load", "emit_do_swap_page_mte", "emit_unuse_pte_mte",
           "emit_migrate_page_mte", "emit_mprotect_mte"]
