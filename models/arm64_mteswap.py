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
storage). A freed folio loses PG_mte_tagged and its tags become garbage again (both are folio flags of
the shared folio pool, `mm.add_folio_flag`). One swap slot means one xarray index: `mte_xa` says whether
`xa_load()` finds a storage for it, `tag_storage` what that kmalloc buffer holds, or "freed" once
mte_invalidate_tags() kfree()d it.

The swap paths are the shared ones (models/memory.py do_swap_page, models/swapfile.py unuse_pte); `MTE`
registers arm64's callbacks as their architecture hooks (`mm.ArchHook`): arch_swap_invalidate_page() on
slot free, arch_swap_restore(), the mte_sync_tags() part of set_pte_at() in the form of the release
(`MteKernel`), and, for the review proposal only, a restore after swap_readpage(). Where the generic
code calls arch_swap_restore() (do_swap_page since 6dca4ac6fc91, unuse_pte since v6.6) and the order of
swap_free() and set_pte_at() (c145e0b47c77) are the shared paths' `Kernel` fields.

Abstractions: MTE is always supported (system_supports_mte()); small folios only; the PTE of a PROT_MTE
VMA is tagged (`pte_tagged()`, MT_NORMAL_TAGGED), tracked by `pte_tagged` next to `pte`; the folio
lock of a freshly read skip-swapcache folio is private to its fault (never contended).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from pteverify.model import ModelError

from .mm import MM, ArchHook, Ctx, is_swap_pte, Pte


SAVED = "T"            # the tags the page carried when it was swapped out


ZERO = "zero"          # tags initialised by mte_clear_page_tags()


GARBAGE = "garbage"    # tags never initialised


NO_TAGS = "-"


BUF = "buf"            # xa_load() finds the tag storage of the slot


FREED = "freed"        # the tag storage was kfree()d by mte_invalidate_tags()


TAG_VALUES = (SAVED, ZERO, GARBAGE)


def saved_tags(i: int) -> str:
    """The tags saved for slot i of a range (a large folio's page i): page 0's are SAVED, so a range of
    one is the one-page model; distinct values per page make a restore from the wrong slot visible."""
    return SAVED if i == 0 else f"{SAVED}{i}"


MTE_RESTORE_LARGE_FORMS = ("every-page", "first-page")


@dataclass(frozen=True)
class MteKernel:
    """Which historical arm64 behaviour the MTE hooks follow (defaults: v6.6 and later)."""

    set_pte_restores: bool = False          # until v6.6: set_pte_at() restores tags from a swap PTE
    sync_sets_tagged: bool = False          # before c4c597f1b367: mte_sync_tags() sets PG_mte_tagged always
    readpage_restore: bool = False          # review proposal: restore the tags in swap_readpage()
    restore_large: str = "every-page"       # arch_swap_restore() of a large folio: "every-page" (the
                                            #   loop over folio_nr_pages() of "arm64: mm: swap: support
                                            #   THP_SWAP on hardware with MTE", v6.9+), "first-page"
                                            #   (the older mte_restore_tags(entry, &folio->page))


class MTE:
    """The MTE state added to a model built on `MM`: VMA and PTE tagging, per-folio PG_mte_tagged and
    tags, the tag store of the swap slot, ghosts for what user space observed; and arm64's hooks into
    the shared paths. Create it after `mm.add_folios()` / `mm.add_swap_slot()` and before any thread
    emits steps."""

    def __init__(self, mm: MM, k: MteKernel, *, vm_mte: bool = True, pte_tagged: bool = False,
                 folio_tags: dict | None = None, saved: bool = True):
        m = mm.m
        self.mm = mm
        self.k = k
        self.vm_mte = m.field("vm_mte", vm_mte, (False, True),
                              "VM_MTE: the VMA is PROT_MTE (vma->vm_page_prot has MT_NORMAL_TAGGED)")
        self.pte_tagged = m.field("pte_tagged", pte_tagged, (False, True),
                                  "pte_tagged(): the present PTE's memory type is MT_NORMAL_TAGGED")
        init = folio_tags or {}
        nr = mm.nr
        values = tuple(saved_tags(i) for i in range(nr)) + (ZERO, GARBAGE)
        mm.add_folio_flag("mte_tagged", False, (False, True), "PG_mte_tagged (page_mte_tagged())",
                          init={fid: tagged for fid, (tagged, _) in init.items()})
        mm.add_folio_flag("tags", GARBAGE, values, "its allocation tags",
                          init={fid: tags for fid, (_, tags) in init.items()})
        # a range of nr > 1 PTEs: tags and PG_mte_tagged per page, named like PG_anon_exclusive by the
        # folio and the PTE of the range that maps the page (mm.MM._add_large_folio_flags())
        for i in range(1, nr):
            mm.add_folio_flag(f"mte_tagged{i}", False, (False, True), f"PG_mte_tagged of page {i}")
            mm.add_folio_flag(f"tags{i}", GARBAGE, values, f"the allocation tags of page {i}")
        self.page_tagged = [mm.f["mte_tagged" if i == 0 else f"mte_tagged{i}"] for i in range(nr)]
        self.page_tags = [mm.f["tags" if i == 0 else f"tags{i}"] for i in range(nr)]
        self.tagged: dict[str, str] = mm.f["mte_tagged"]
        self.tags: dict[str, str] = mm.f["tags"]
        self.slot_xa = [m.field("mte_xa" if i == 0 else f"mte_xa{i}", BUF if saved else NO_TAGS, (NO_TAGS, BUF),
                                "xa_load(&mte_pages, entry.val) for the swap slot" + (f" {i} of the range" if i else "")
                                + ": the tag storage saved by arch_prepare_to_swap(), or none")
                        for i in range(nr)]
        self.slot_storage = [m.field("tag_storage" if i == 0 else f"tag_storage{i}",
                                     saved_tags(i) if saved else NO_TAGS, (NO_TAGS, FREED) + values,
                                     "the kmalloc()ed tag storage of the slot" + (f" {i}" if i else "")
                                     + ": the tags it holds, or freed")
                             for i in range(nr)]
        self.xa, self.storage = self.slot_xa[0], self.slot_storage[0]
        self.lost = m.field("tags_freed_unrestored", "-", None,
                            "(ghost) the slot whose tag storage mte_invalidate_tags() freed while the page "
                            "it backs was mapped without the tags saved for it", ghost=True) if nr > 1 else None
        self.uaf = m.field("tag_storage_uaf", False, (False, True),
                           "(ghost) mte_restore_page_tags() read a tag storage after it was kfree()d",
                           ghost=True)
        self.seen: list[str] = []
        self.loads: list[tuple[str, str | None]] = []   # (tags seen, how the access ended)
        store, folio = self.store_fields(), self.folio_fields()
        if nr > 1:
            # per slot: the freed slot's own tag storage; the restore walks the folio's slots
            checked = mm.ptes + mm.all_slot_fields()
            mm.add_slot_free_hook(ArchHook(
                self.invalidate_slot, reads=tuple(store + folio + checked), writes=tuple(store + [self.lost]),
                ref="arch_swap_invalidate_page() -> mte_invalidate_tags(): xa_erase(); mte_free_tag_storage()",
                per_slot=True))
            mm.swap_restore_hook = ArchHook(
                self.restore_folio, reads=tuple(store + folio + mm.all_slot_fields() + mm.ff("nr")),
                writes=tuple(folio),
                ref=(" -> arch/arm64 arch_swap_restore(): for each of folio_nr_pages(folio) pages: "
                     "mte_restore_tags(entry, folio_page(folio, i)); entry.val++ [xa_load(); "
                     "try_page_mte_tagging() -> mte_restore_page_tags(); set_page_mte_tagged()]"
                     if k.restore_large == "every-page" else
                     " -> arch/arm64 arch_swap_restore(): mte_restore_tags(entry, &folio->page) [the first "
                     "page only: before THP_SWAP on MTE hardware]"))
        else:
            mm.add_slot_free_hook(ArchHook(
                self.invalidate, reads=tuple(store), writes=tuple(store),
                ref="arch_swap_invalidate_page() -> mte_invalidate_tags(): xa_erase(); mte_free_tag_storage()"))
            mm.swap_restore_hook = ArchHook(
                self.restore, reads=tuple(store + folio), writes=tuple(folio),
                ref=" -> arch/arm64 mte_restore_tags(): xa_load(); try_page_mte_tagging() -> "
                    "mte_restore_page_tags(); set_page_mte_tagged()")
        mm.set_pte_hook = ArchHook(
            self._set_pte, reads=tuple([self.vm_mte] + store + folio), writes=tuple([self.pte_tagged] + folio),
            ref="arch/arm64: " + self.set_pte_ref(k))
        if k.readpage_restore:
            mm.swap_readpage_hook = self._emit_readpage_restore

    # -- field lists ---------------------------------------------------------------------------
    def folio_fields(self) -> list[str]:
        return [f for fs in self.page_tagged + self.page_tags for f in fs.values()]

    def store_fields(self) -> list[str]:
        return self.slot_xa + self.slot_storage

    def subpage(self, view: MM) -> "MTE":
        """The MTE state seen through `view` = mm.subpage_view(mm, i): the tags and PG_mte_tagged of the
        page at PTE i, the tag store of slot i (for emit_tag_checked_load() on subpage i)."""
        other = copy.copy(self)
        i = view.index
        other.mm = view
        other.tagged, other.tags = self.page_tagged[i], self.page_tags[i]
        other.xa, other.storage = self.slot_xa[i], self.slot_storage[i]
        return other

    # -- a range of slots (large folios) ------------------------------------------------------------
    def invalidate_slot(self, s, d: dict, i: int) -> None:
        """mte_invalidate_tags() of slot i of the range; the check of this model's invariant
        `mte_tags_restored_before_slot_freed`: the page slot i backs, if a present PTE maps it, holds
        the tags saved for it (a restore after the free finds no storage)."""
        mm = self.mm.base
        if mm.v(s, d, self.slot_xa[i]) == BUF:
            d[self.slot_xa[i]] = NO_TAGS
            d[self.slot_storage[i]] = FREED
        pte = mm.v(s, d, mm.ptes[i])
        if pte.present and mm.v(s, d, self.page_tags[i][pte.folio]) != saved_tags(i):
            d[self.lost] = mm.slots[i]

    def restore_folio(self, s, d: dict, fid: str) -> bool:
        """arch_swap_restore(folio_swap(entry, folio), folio) on a folio of the range: page k of the
        folio from the k-th slot it occupies in the swap cache (a large folio is naturally aligned, a
        small one sits in its one slot); "first-page": the first page only."""
        mm = self.mm.base
        slots = [i for i, fs in enumerate(mm.slot_f) if mm.v(s, d, fs[2]) == fid]
        if self.k.restore_large == "first-page":
            slots = slots[:1]
        done = False
        for i in slots:                                # the page at PTE i is page i - slots[0] of fid
            if mm.v(s, d, self.slot_xa[i]) != BUF or mm.v(s, d, self.page_tagged[i][fid]):
                continue
            d[self.page_tags[i][fid]] = mm.v(s, d, self.slot_storage[i])
            d[self.page_tagged[i][fid]] = True
            done = True
        return done

    # -- the tag store by swap entry ---------------------------------------------------------------
    def invalidate(self, s, d: dict) -> None:
        """The slot-free hook: mm/swapfile.c:swap_range_free() -> arch_swap_invalidate_page() ->
        mte_invalidate_tags(): xa_erase(); mte_free_tag_storage(). `MM.maybe_free_slot()` runs it when
        the slot is really freed (no swap count and no SWAP_HAS_CACHE left)."""
        if self.mm.v(s, d, self.xa) == BUF:
            d[self.xa] = NO_TAGS
            d[self.storage] = FREED

    def restore(self, s, d: dict, fid: str) -> bool:
        """arch_swap_restore() -> mte_restore_tags(entry, page) as one step: xa_load(); if a storage is
        found and try_page_mte_tagging(page) succeeds, mte_restore_page_tags() and set_page_mte_tagged()."""
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

    def _set_pte(self, s, d: dict, fid: str, old: Pte, new: Pte, page: int | None = None) -> None:
        """The set_pte_at() hook: the new PTE of the PROT_MTE VMA is tagged (mk_pte() with
        vma->vm_page_prot); old is the entry it overwrites (READ_ONCE(*ptep)). `page`: the PTE of the
        range set (set_ptes() calls it for each; mte_sync_tags() zeroes every untagged page)."""
        tagged = self.mm.v(s, d, self.vm_mte)
        if page is None or self.mm.nr == 1:
            self.sync_tags(s, d, self.k, fid, old, tagged)
        else:
            self.subpage_sync(s, d, page, fid, tagged)
        d[self.pte_tagged] = tagged

    def set_pte_hook_unrecorded(self) -> ArchHook:
        """The set_pte_at() hook for a PTE the model keeps no field of (a shmem task's own PTE):
        mte_sync_tags() with the VMA's tagging, as `mm.set_pte_hook`, without recording pte_tagged()."""
        return ArchHook(lambda s, d, fid, old, new: self.sync_tags(s, d, self.k, fid, old, self.mm.v(s, d, self.vm_mte)),
                        reads=tuple([self.vm_mte] + self.store_fields() + self.folio_fields()),
                        writes=tuple(self.folio_fields()), ref="arch/arm64: " + self.set_pte_ref(self.k))

    def subpage_sync(self, s, d: dict, i: int, fid: str, tagged_pte: bool) -> None:
        """mte_sync_tags(pte, nr_pages) (v6.6+) on the page at PTE i: a tagged PTE of a page without
        PG_mte_tagged zeroes its tags (try_page_mte_tagging(); mte_clear_page_tags())."""
        if self.k.set_pte_restores:
            raise ModelError("mte_sync_tags()'s restore from the swap PTE (before v6.6) is modelled for "
                             "one page only")
        if tagged_pte and not self.mm.v(s, d, self.page_tagged[i][fid]):
            d[self.page_tags[i][fid]] = ZERO
            d[self.page_tagged[i][fid]] = True

    @staticmethod
    def set_pte_ref(k: MteKernel) -> str:
        if k.set_pte_restores:
            return ("set_pte_at() -> mte_sync_tags(old_pte, pte): !page_mte_tagged -> "
                    "mte_restore_tags(swp entry of old_pte) ?: mte_clear_page_tags()"
                    + ("; set_page_mte_tagged()" if k.sync_sets_tagged else ""))
        return "set_pte_at() -> mte_sync_tags(pte): try_page_mte_tagging() -> mte_clear_page_tags()"

    def _emit_readpage_restore(self, ctx: Ctx, page: str, prefix: str) -> None:
        """The swap_readpage() hook proposed in review (never merged): arch_swap_readpage() ->
        mte_restore_tags() right after the read, before the fault has locked the folio, rechecked the
        PTE or taken the PTL. xa_load() and the copy are two steps: nothing keeps the storage alive
        between them."""
        tagsp = ctx.local("tagsp", NO_TAGS, "mte_restore_tags: tags = xa_load() (a pointer)")
        ctx.step(prefix + "readpage_xa_load", "mm/page_io.c:swap_readpage -> arch_swap_readpage -> "
                 "mte_restore_tags(): tags = xa_load(&mte_pages, entry.val)",
                 effect=lambda s: {tagsp: getattr(s, self.xa)}, reads=[self.xa], writes=[tagsp])

        def readpage_restore(s):
            d = {tagsp: NO_TAGS}
            fid = getattr(s, page)
            if getattr(s, tagsp) == BUF and not getattr(s, self.tagged[fid]):
                held = getattr(s, self.storage)
                if held == FREED:
                    d[self.uaf] = True
                    held = GARBAGE
                d[self.tags[fid]] = held
                d[self.tagged[fid]] = True
            return d

        ctx.step(prefix + "readpage_restore", "mm/page_io.c:swap_readpage -> arch_swap_readpage -> "
                 "mte_restore_tags(): try_page_mte_tagging(); mte_restore_page_tags(page_address(page), "
                 "tags); set_page_mte_tagged()",
                 effect=readpage_restore, reads=[tagsp, page, self.storage] + self.folio_fields(),
                 writes=[tagsp, self.uaf] + self.folio_fields())

    # -- what user space observes ------------------------------------------------------------------
    def seen_field(self, ctx: Ctx) -> str:
        f = ctx.local("tags_seen", NO_TAGS, "the allocation tags a tag-checked access found (ldg)")
        if f not in self.seen:
            self.seen.append(f)
        return f


def inv_tags_survive_swap(mte: MTE) -> None:
    seen = list(mte.seen)
    mte.mm.m.invariant(
        "mte_tags_survive_swap", lambda s: all(getattr(s, f) in (NO_TAGS, SAVED) for f in seen), seen,
        "the tags of a page mapped PROT_MTE equal the tags it had when it was swapped out: a "
        "tag-checked access after swap-in finds the saved tags (else SEGV_MTESERR)")


def final_tag_checked_loads(mte: MTE) -> None:
    """A final predicate: every tag-checked load returned data (no SIGBUS: the swap slots of these
    scenarios are readable) and went through a tagged PTE
    (MT_NORMAL_TAGGED) and so was checked against the page's allocation tags (ldg found tags). With
    mte_tags_survive_swap / no_uninitialised_tags_exposed, which say what the tags must be, this
    says that the access looked at all: a PROT_MTE mapping that lost its tagged memory type (a
    swap-in, set_pte_at() or mprotect() that does not make the PTE tagged) passes those silently."""
    loads = list(mte.loads)
    reads = [f for pair in loads for f in pair if f]

    def ok(s):
        return all(getattr(s, seen) != NO_TAGS and (result is None or getattr(s, result) != "SIGBUS")
                   for seen, result in loads)

    mte.mm.m.final("tag_checked_loads_checked", ok, reads,
                   "every tag-checked load returned data through a tagged PTE and found allocation tags "
                   "(no slot of these scenarios is unreadable, so no load ends in SIGBUS)")


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
