"""mm/shmem.c: a fault on a shmem page whose page-cache slot holds a swap entry
(`emit_shmem_get_folio`), over an `MM` as far as the MTE tags need it, or over a large swap entry
(`ShmemLarge`, below); shmem_writeout() of the large folio.

shmem_fault() -> shmem_get_folio_gfp(): filemap_get_entry() finds either the folio or a swap entry
(xa_is_value); for a swap entry shmem_swapin_folio() (mm/shmem.c, ~v6.6 form, read from a copy of that
function and from kernel-paths.md section 8):

1. swap_cache_get_folio(swap) ?: shmem_swapin_cluster() (add_to_swap_cache(); swap_read_folio());
2. folio_lock(folio) "to prevent races"; `!folio_test_swapcache(folio) || folio->swap.val != swap.val
   || !shmem_confirm_swap(mapping, index, swap)` -> -EEXIST: unlock, put, and shmem_get_folio_gfp()
   repeats the lookup (it now finds the folio in the page cache);
3. !folio_test_uptodate -> -EIO (not modelled: the read succeeds); folio_wait_writeback();
4. arch_swap_restore(swap, folio) [the 5.10 hook position: under the folio lock, before the folio
   enters the page cache and before the swap entry is dropped];
5. shmem_add_to_page_cache() (an xarray replace of the expected swap entry); delete_from_swap_cache();
   folio_mark_dirty(); swap_free(swap) -> the slot is freed -> swap_range_free() ->
   arch_swap_invalidate_page();
6. the folio is returned locked; finish_fault() maps it: set_pte_at() -> mte_sync_tags(); unlock.

Each task maps the page in its own mm (its own PTE, a local here); the shared state is the shmem
mapping's slot (`shmem_entry`: the swap entry or the folio), the swap cache and the swap slot. The
skip-swapcache shmem swapin (SWAP_CACHE_BYPASS, v6.14+) is not modelled. arch_swap_restore() and the
slot-free callback are the architecture hooks of the shared mm (`mm.ArchHook`, registered by `MTE`);
the swap_readpage() hook of the review proposal is not run here.
"""

from __future__ import annotations

from pteverify.model import DONE, FREE, GOTO, ModelError

from .arm64_mteswap import MTE, NO_TAGS
from .memory import emit_do_set_pte
from .mm import NO_FOLIO, Ctx
from .swap_state import read_into_swap_cache


SWAP_ENTRY = "swap"


def add_shmem_entry(mte: MTE) -> str:
    mm = mte.mm
    return mm.m.field("shmem_entry", SWAP_ENTRY, (SWAP_ENTRY,) + mm.folios,
                      "the shmem mapping's page-cache slot for the index: the swap entry (xa_is_value) "
                      "or the folio")


def emit_shmem_get_folio(ctx: Ctx, mapping: "str | ShmemLarge", *, index: int = 0, cont: str = DONE,
                         mte: MTE | None = None, restore_after_swap_free: bool = False, swap_table: bool = False,
                         form: str = "mainline-2026", owner: int | None = None, large_ok: bool = False) -> str | None:
    """shmem_fault() -> shmem_get_folio_gfp() at `index`: repeat: filemap_get_entry(); a swap entry
    (xa_is_value) -> shmem_swapin_folio(); -EEXIST -> repeat; the fault maps the folio it returns.

    One model of the two functions over two abstractions of the mapping, one per scenario family:

    * `mapping` the `shmem_entry` field of an `MM` model (add_shmem_entry(): index 0, an order-0 swap
      entry backed by the MM's swap slot, swap cache and folios, with the architecture's hooks), and
      `mte` the PROT_MTE state of the shared mapping (mte-shmem): arch_swap_restore() restores the
      tags, finish_fault() -> do_set_pte() (memory.emit_do_set_pte) syncs them, and the task then does
      a tag-checked load through its new PTE and ends. Returns the task's `mapped` field (the folio
      its PTE maps). `restore_after_swap_free` is a seeded mutation (not a kernel): arch_swap_restore()
      moved after swap_free(). `swap_table`: the steps name the linux-mm 2026 calls (mm/shmem.c
      @01f9445dd484: the cache miss reads into the swap cache through shmem_swap_alloc_folio() ->
      swapin_sync() or shmem_swapin_cluster(); folio_matches_swap_entry(); folio_put_swap(folio,
      NULL) and swap_cache_del_folio() after shmem_add_to_page_cache()); the order of the steps, and
      what they do to the modelled state, is the same as in v6.6.
    * `mapping` a `ShmemLarge` (shmem-large-swap-entry): indices 0 and 1 under one large swap entry,
      order-0 and order-1 swap-ins, the splits of the entry, in the release `form`
      (SHMEM_LARGE_FORMS); `large_ok`: this task's order-1 swap-in allocation succeeds (otherwise it
      fails, as under memory pressure, and the swap-in falls back to order 0); `owner`: the value of
      a folio lock this thread holds; the thread continues at `cont`."""
    if isinstance(mapping, ShmemLarge):
        if mte is not None:
            raise ModelError("shmem_get_folio_gfp: the large swap entry model has no MTE state")
        _emit_swapin_large(ctx, mapping, owner=owner, form=form, index=index, large_ok=large_ok, cont=cont)
        return None
    if mte is None or index != 0 or cont != DONE:
        raise ModelError("shmem_get_folio_gfp over an MM: the PROT_MTE fault of index 0 only (mte=, then "
                         "the tag-checked load ends the thread)")
    return _emit_swapin_mm(ctx, mte, mapping, restore_after_swap_free=restore_after_swap_free,
                           swap_table=swap_table)


def _emit_swapin_mm(ctx: Ctx, mte: MTE, entry: str, *, restore_after_swap_free: bool,
                    swap_table: bool) -> str:
    """The MM form of emit_shmem_get_folio() (the PROT_MTE fault of mte-shmem)."""
    mm = mte.mm
    if mm.swap_readpage_hook is not None:
        raise ModelError("shmem_swapin_folio: the swap_readpage() hook is not modelled on this path")
    page = ctx.local("page", NO_FOLIO, "shmem_swapin_folio: folio")
    mapped = ctx.local("mapped", NO_FOLIO, "the folio this task's PTE maps (finish_fault)")
    seen = mte.seen_field(ctx)
    folio_all = mm.all_folio() + mte.folio_fields()
    slot = mm.slot_fields()

    def lookup(s):
        d = {}
        e = getattr(s, entry)
        if e != SWAP_ENTRY:
            mm.get_folio(s, d, e)                          # filemap_get_entry(): the folio
            d[page] = e
            d[GOTO] = "shmem.finish_fault"
            return d
        cache = getattr(s, mm.swp_cache)
        if cache != NO_FOLIO:
            mm.get_folio(s, d, cache)
            d[page] = cache
            return d
        d[page] = read_into_swap_cache(mm, s, d)
        return d

    ctx.step("shmem.lookup",
             ("mm/shmem.c:shmem_get_folio_gfp [filemap_get_entry(): xa_is_value] -> shmem_swapin_folio: "
              "swap_cache_get_folio(swap) ?: SWP_SYNCHRONOUS_IO ? shmem_swap_alloc_folio() [swapin_sync(): "
              "into the swap cache] : shmem_swapin_cluster() [swap_read_folio()]") if swap_table else
             ("mm/shmem.c:shmem_get_folio_gfp: filemap_get_entry(); xa_is_value -> "
              "shmem_swapin_folio: swap_cache_get_folio(swap) ?: shmem_swapin_cluster() "
              "[add_to_swap_cache(); swap_read_folio()]"),
             guard=lambda s: getattr(s, entry) != SWAP_ENTRY or getattr(s, mm.swp_cache) != NO_FOLIO
             or not getattr(s, mm.swp_has_cache),
             effect=lookup, reads=[entry] + slot + mm.ff("ref", "map", "swapcache"),
             writes=[page] + slot + folio_all, branches=["shmem.finish_fault"])

    def lock(s):
        fid = getattr(s, page)
        if (not getattr(s, mm.f["swapcache"][fid]) or getattr(s, mm.swp_cache) != fid
                or getattr(s, entry) != SWAP_ENTRY):
            d = {page: NO_FOLIO, GOTO: "shmem.lookup"}     # -EEXIST: repeat
            mm.put_folio(s, d, fid)
            return d
        return {mm.lock[fid]: ctx.owner}

    ctx.step("shmem.lock", "mm/shmem.c:shmem_swapin_folio: folio_lock(folio); "
             + ("!folio_matches_swap_entry(folio, swap) || shmem_confirm_swap() < 0 -> -EEXIST" if swap_table
                else "!folio_test_swapcache || folio->swap.val != swap.val || !shmem_confirm_swap() -> -EEXIST"),
             guard=lambda s: getattr(s, mm.lock[getattr(s, page)]) == FREE, effect=lock,
             reads=[page, entry, mm.swp_cache] + mm.locks() + mm.ff("swapcache", "ref", "map"),
             writes=[page] + mm.locks() + folio_all, branches=["shmem.lookup"])

    restore_ref = ("mm/shmem.c:shmem_swapin_folio: folio_wait_writeback(); arch_swap_restore("
                   + ("folio_swap(swap, folio)" if swap_table else "swap") + ", folio)")
    if not restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref, page)

    def add_to_page_cache(s):
        fid = getattr(s, page)
        d = {entry: fid}
        # delete_from_swap_cache(): the swap cache's reference becomes the page cache's
        mm.fset(d, fid, swapcache=False, dirty=True)
        d[mm.swp_cache] = NO_FOLIO
        d[mm.swp_has_cache] = False
        mm.swap_free(s, d)                                 # the slot is freed: the slot-free hooks run
        return d

    ctx.step("shmem.add_to_page_cache", "mm/shmem.c:shmem_swapin_folio: shmem_add_to_page_cache(folio, "
             + ("swp_to_radix_entry(swap)); folio_put_swap(folio, NULL); swap_cache_del_folio(folio); "
                "folio_mark_dirty()" if swap_table else
                "swp_to_radix_entry(swap)); delete_from_swap_cache(folio); folio_mark_dirty(); swap_free(swap)")
             + mm.slot_free_ref(),
             effect=add_to_page_cache, reads=[page] + slot, writes=[entry] + slot + mm.ff("swapcache", "dirty"))

    if restore_after_swap_free:
        ctx.arch_swap_restore_step("shmem.arch_swap_restore", restore_ref + " [seeded: after swap_free()]",
                                   page)

    emit_do_set_pte(ctx, page, mapped, label="shmem.finish_fault", arch_set_pte=mte.set_pte_hook_unrecorded())

    def load(s):
        fid = getattr(s, mapped)
        return {seen: getattr(s, mte.tags[fid]) if getattr(s, mte.vm_mte) else NO_TAGS, GOTO: DONE}

    ctx.step("load", "user space: tag-checked load through the new PTE (ldg reads the allocation tag)",
             effect=load, reads=[mapped, mte.vm_mte] + list(mte.tags.values()), writes=[seen],
             branches=[DONE])
    mte.loads.append((seen, None))
    return mapped


# --------------------------------------------------------------------------------------------
# Large swap entries in the shmem mapping ("mm: shmem: support large folio swap out",
# 809bc86517cc): shmem_swapin_folio() against a large swap entry, an order-0 readahead folio and a
# split by a racing swap-in.

SHMEM_LARGE_FORMS = ("809bc86517cc", "058313515d5a", "v6.17", "mainline-2026")
SLOTS = ("s0", "s1")


class ShmemLarge:
    """Indices 0 and 1 of a shmem file swapped out as one order-1 folio: the mapping holds one large
    swap entry (order 1, value s0) over both, backed by slots s0 and s1 (holding pages p0 and p1).
    State: the mapping (`xa_order`: 1 while one multi-index entry covers both indices, and the value
    at each index: a swap entry or a folio), each slot's swap count and swap-cache folio, and a pool
    of folios with their order, the slot their data came from (`src`: an order-1 folio holds p0 and
    p1, an order-0 folio the page of its slot) and a reference count (swap cache, page cache and the
    tasks holding them)."""

    def __init__(self, m, folios=("A", "B", "C")):
        self.m = m
        self.folios = tuple(folios)
        vals = ("-",) + SLOTS + self.folios
        self.xa_order = m.field("xa_order", 1, (0, 1), "the order of the mapping's entry at index 0 "
                                "(1: one multi-index entry covers indices 0 and 1)")
        self.xa = [m.field(f"xa{i}", "s0", vals, f"the shmem mapping at index {i}: a swap entry "
                           "(xa_is_value) or a folio") for i in (0, 1)]
        self.cnt = [m.field(f"{s}_count", 1, (0, 1), f"the swap count of slot {s}") for s in SLOTS]
        self.sc = [m.field(f"{s}_cache", "-", ("-",) + self.folios, f"the swap-cache folio of slot {s}")
                   for s in SLOTS]
        self.order = {f: m.field(f"{f}_order", "-", ("-", 0, 1), f"folio {f}: its order (- while free)")
                      for f in self.folios}
        self.src = {f: m.field(f"{f}_src", "-", ("-",) + SLOTS, f"folio {f}: the slot its data came "
                               "from (folio->swap of its head)") for f in self.folios}
        self.ref = {f: m.field(f"{f}_ref", 0, range(0, 4), f"folio {f}: references") for f in self.folios}
        self.lock = {f: m.lock(f"{f}_lock", f"folio {f}: the folio lock") for f in self.folios}
        self.vm_bug = m.field("shmem_vm_bug", False, (False, True), "(ghost) shmem_add_to_page_cache() ran on "
                              "a folio its caller had not locked", ghost=True)
        self.got = {}                                  # thread -> (ghost field, index) of its fault's page

    def referenced(self, s, k):
        """Does the mapping refer to slot k (its own order-0 entry, or the large entry over both)?"""
        if getattr(s, self.xa_order):
            return getattr(s, self.xa[0]) == "s0"
        return getattr(s, self.xa[k]) == SLOTS[k]

    def folio_fields(self):
        return list(self.order.values()) + list(self.src.values()) + list(self.ref.values())

    def mapping_fields(self):
        return [self.xa_order] + self.xa

    def slot_fields(self):
        return self.cnt + self.sc

    @staticmethod
    def v(s, d, name):
        return d[name] if name in d else getattr(s, name)

    def alloc(self, s, d, order, src, refs):
        for f in self.folios:
            if self.v(s, d, self.ref[f]) == 0:
                d[self.order[f]] = order
                d[self.src[f]] = src
                d[self.ref[f]] = refs
                return f
        raise ModelError("shmem large entry: the folio pool is exhausted")

    def put(self, s, d, f, n=1):
        r = self.v(s, d, self.ref[f]) - n
        if r < 0:
            raise ModelError(f"folio {f}: refcount underflow")
        d[self.ref[f]] = r
        if r == 0:
            d[self.order[f]] = "-"
            d[self.src[f]] = "-"

    def content(self, s, i):
        """What index i reads once faulted in: None while it is swapped out."""
        val = getattr(s, self.xa[i])
        if val not in self.folios:
            return None
        if getattr(s, self.order[val]) == 1:
            return f"p{i}"
        return "p" + getattr(s, self.src[val])[1:]


def _emit_swapin_large(t, sh: ShmemLarge, *, owner: int, form: str, index: int,
                       large_ok: bool, cont: str = DONE) -> None:
    """The ShmemLarge form of emit_shmem_get_folio()."""
    if form not in SHMEM_LARGE_FORMS:
        raise ValueError(f"shmem large-entry form {form!r} not in {SHMEM_LARGE_FORMS}")
    m = sh.m
    n = t.name
    entry = m.field(f"{n}_entry", "-", ("-",) + SLOTS, f"{n}: index_entry, the mapping's value")
    order = m.field(f"{n}_order", 0, (0, 1), f"{n}: order (shmem_confirm_swap() / xa_get_order())")
    swap = m.field(f"{n}_swap", "-", ("-",) + SLOTS, f"{n}: swap, the entry of the index")
    folio = m.field(f"{n}_folio", "-", ("-",) + sh.folios, f"{n}: folio")
    base = m.field(f"{n}_index", index, (0, 1), f"{n}: index (rounded down by a large folio)")
    got = m.field(f"{n}_got", "-", ("-", "p0", "p1"), f"(ghost) the page {n}'s fault returned for index "
                  f"{index}", ghost=True)
    sh.got[n] = (got, index)
    locals_ = [entry, order, swap, folio, base]
    new = form in ("v6.17", "mainline-2026")
    ffields = sh.folio_fields()
    locks = list(sh.lock.values())

    def again(s, d, unlock=False):
        """-EEXIST: unlock and put the folio; shmem_get_folio_gfp() repeats."""
        f = sh.v(s, d, folio)
        if f != "-":
            if unlock:
                d[sh.lock[f]] = FREE
            sh.put(s, d, f)
        d.update({entry: "-", order: 0, swap: "-", folio: "-", base: index, GOTO: "lookup"})
        return d

    def lookup(s):
        val = getattr(s, sh.xa[index])
        if val in sh.folios:
            return {GOTO: cont, got: sh.content(s, index)}     # in the page cache: the fault maps it
        o = getattr(s, sh.xa_order)
        # v6.17+: "index may point to the middle of a large entry, get the sub entry"; before, swap
        # is the entry's value (the head) until a split recomputes it
        return {entry: val, order: o, swap: f"s{index}" if (o and new) else val}

    t.step("lookup", "mm/shmem.c:shmem_get_folio_gfp: repeat: filemap_get_entry(mapping, index); "
           "xa_is_value -> shmem_swapin_folio(): order = shmem_confirm_swap() [xa_get_order()]; "
           "in a large entry, swap = the entry of the index",
           effect=lookup, reads=sh.mapping_fields() + sh.folio_fields(), writes=[entry, order, swap, got],
           branches=[cont])

    def read(s, d, sw, o):
        """A swap-in allocation of order `o` for `sw` that enters the swap cache; None if the
        slots are no longer in use or already cached (the caller retries)."""
        if o == 1:
            if any(getattr(s, c) != "-" for c in sh.sc) or not all(getattr(s, c) for c in sh.cnt):
                return None
            f = sh.alloc(s, d, 1, "s0", 2)             # ours + the swap cache's
            for c in sh.sc:
                d[c] = f
            return f
        k = SLOTS.index(sw)
        if getattr(s, sh.sc[k]) != "-" or not getattr(s, sh.cnt[k]):
            return None
        f = sh.alloc(s, d, 0, sw, 2)
        d[sh.sc[k]] = f
        return f

    def cache(s):
        d = {}
        sw = getattr(s, swap)
        cached = getattr(s, sh.sc[SLOTS.index(sw)])
        if cached != "-":
            d[sh.ref[cached]] = getattr(s, sh.ref[cached]) + 1     # swap_cache_get_folio()
            d[folio] = cached
            if form == "058313515d5a":
                d[GOTO] = "split"
            return d
        o = getattr(s, order)
        if o == 1 and form == "058313515d5a" and not large_ok:
            d[GOTO] = "fallback_split"                 # the large allocation failed
            return d
        f = None
        if o == 1 and large_ok and form != "809bc86517cc":
            f = read(s, d, "s0", 1)
        if f is None:
            if not getattr(s, sh.cnt[SLOTS.index(sw)]):
                return again(s, d)                     # freed under us: confirm fails, -EEXIST
            f = read(s, d, sw, 0)
            if f is None:
                return again(s, d)
        d[folio] = f
        if form == "058313515d5a":
            d[GOTO] = "split"                          # past the fallback
        return d

    if form == "mainline-2026":
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap); miss -> shmem_swap_alloc_folio(): "
               "swapin_sync(entry, BIT(order)), order 0 when the large allocation fails [into the swap "
               "cache; swap_read_folio()]")
    elif form == "v6.17":
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap, NULL, 0); miss -> "
               "shmem_swap_alloc_folio(order), order 0 when the large allocation fails")
    elif form == "058313515d5a":
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap, NULL, 0); order = "
               "xa_get_order(); miss -> shmem_swap_alloc_folio(order); a failed large allocation -> "
               "the split, then shmem_swapin_cluster(swap) [order 0]")
    else:
        ref = ("mm/shmem.c:shmem_swapin_folio: swap_cache_get_folio(swap, NULL, 0); miss -> "
               "shmem_swapin_cluster(swap) [order 0]")
    t.step("cache", ref, effect=cache, reads=[swap, order, folio] + sh.slot_fields() + ffields,
           writes=locals_ + sh.sc + ffields,
           branches=["lookup"] + (["fallback_split", "split"] if form == "058313515d5a" else []))

    def split_entry(s, d):
        """shmem_split_large_entry(inode, index, index_entry): -EEXIST (False) unless the mapping
        still holds the entry; an order-1 entry becomes the order-0 entries s0, s1."""
        if getattr(s, sh.xa[index]) != getattr(s, entry):
            return False
        if getattr(s, sh.xa_order):
            d[sh.xa_order] = 0
            d[sh.xa[0]] = "s0"
            d[sh.xa[1]] = "s1"
            if not new:
                d[swap] = f"s{index}"                  # split_order > 0: swap = entry + offset in the old order
        return True

    split_reads = [entry, order, folio] + sh.mapping_fields() + ffields
    split_writes = sh.mapping_fields() + locals_ + ffields

    if form == "058313515d5a":
        def fallback(s):
            d = {}
            if not split_entry(s, d):
                return again(s, d)
            d[order] = 0
            d[GOTO] = "cache"                          # shmem_swapin_cluster(swap): order 0, or the cached folio
            return d

        t.step("fallback_split", "mm/shmem.c:shmem_swapin_folio: the large allocation failed -> "
               "split_order = shmem_split_large_entry(inode, index, swap, gfp); shmem_swapin_cluster(swap)",
               effect=fallback, reads=split_reads, writes=split_writes, branches=["lookup", "cache"])

    if form != "809bc86517cc":
        def split(s):
            d = {}
            fo = getattr(s, sh.order[getattr(s, folio)])
            o = getattr(s, order)
            if (o > fo if new else o != fo) and not split_entry(s, d):
                return again(s, d)
            if fo == 1:
                d[swap] = "s0"                         # v6.17: round_down(swap.val, nr_pages)
                d[base] = 0                            # round_down(index, nr_pages) [before: XA_STATE_ORDER]
            return d

        t.step("split", ("mm/shmem.c:shmem_swapin_folio: order > folio_order(folio) -> "
                         "shmem_split_large_entry(); folio_nr_pages(folio) > 1 -> swap and index rounded "
                         "down by the folio size") if new else
               "mm/shmem.c:shmem_swapin_folio: order != folio_order(folio) -> shmem_split_large_entry()",
               effect=split, reads=split_reads, writes=split_writes, branches=["lookup"])

    t.step("lock", "mm/shmem.c:shmem_swapin_folio: folio_lock(folio)",
           guard=lambda s: getattr(s, sh.lock[getattr(s, folio)]) == FREE,
           effect=lambda s: {sh.lock[getattr(s, folio)]: owner}, reads=[folio] + locks, writes=locks)

    def check(s):
        d = {}
        f = getattr(s, folio)
        sw = getattr(s, swap)
        fo = getattr(s, sh.order[f])
        src = getattr(s, sh.src[f])
        matches = getattr(s, sh.sc[SLOTS.index(src)]) == f and src == sw    # in the swap cache, ->swap
        confirm = getattr(s, sh.xa[getattr(s, base)]) == sw                 # shmem_confirm_swap()
        ok = matches and confirm
        if form == "058313515d5a":
            ok = ok and getattr(s, sh.xa_order) == fo  # xa_get_order(&mapping->i_pages, index)
        if not ok:
            return again(s, d, unlock=True)
        return d

    t.step("check", ("mm/shmem.c:shmem_swapin_folio: !folio_matches_swap_entry(folio, swap) || "
                     "shmem_confirm_swap(mapping, index, swap) < 0 -> -EEXIST") if new else
           ("mm/shmem.c:shmem_swapin_folio: !folio_test_swapcache(folio) || folio->swap.val != swap.val || "
            "!shmem_confirm_swap(mapping, index, swap)"
            + (" || xa_get_order(&mapping->i_pages, index) != folio_order(folio)"
               if form == "058313515d5a" else "") + " -> -EEXIST"),
           effect=check, reads=[folio, swap, base] + sh.mapping_fields() + sh.sc + ffields,
           writes=locals_ + locks + ffields, branches=["lookup"])

    def add(s):
        d = {}
        f = getattr(s, folio)
        fo = getattr(s, sh.order[f])
        b = getattr(s, base)
        sw = getattr(s, swap)
        xo = getattr(s, sh.xa_order)
        if new:
            # shmem_add_to_page_cache(): the whole range [index, index + nr) holds the expected,
            # consecutive swap entries (xas_for_each_conflict; iter.val += 1 << xas_get_order())
            if fo == 1:
                ok = getattr(s, sh.xa[0]) == "s0" and (xo == 1 or getattr(s, sh.xa[1]) == "s1")
            else:
                ok = xo == 0 and getattr(s, sh.xa[b]) == sw
        elif fo == 1:
            # XA_STATE_ORDER(index, 1): expected == xas_find_conflict() and no second conflict
            ok = xo == 1 and getattr(s, sh.xa[0]) == sw
        else:
            ok = getattr(s, sh.xa[b]) == sw            # expected == xas_find_conflict()
        if not ok:
            return again(s, d, unlock=True)
        if getattr(s, sh.lock[f]) != owner:
            d[sh.vm_bug] = True                        # VM_BUG_ON_FOLIO(!folio_test_locked(folio), folio)
        if fo == 1 or xo == 1:
            d[sh.xa_order] = 1 if fo == 1 or not new else 0
            d[sh.xa[0]] = d[sh.xa[1]] = f              # an order-0 store over a multi-index entry replaces it
        else:
            d[sh.xa[b]] = f
        # folio_put_swap() / swap_free_nr(); swap_cache_del_folio(); the swap cache's reference goes
        slots = SLOTS if fo == 1 else (getattr(s, sh.src[f]),)
        for sl in slots:
            k = SLOTS.index(sl)
            d[sh.cnt[k]] = 0
            d[sh.sc[k]] = "-"
        sh.put(s, d, f)                                # the swap cache's reference
        d[sh.lock[f]] = FREE                           # returned locked to the fault, which maps it
        d[got] = f"p{index}" if fo == 1 else "p" + getattr(s, sh.src[f])[1:]
        d.update({entry: "-", order: 0, swap: "-", folio: "-", base: index, GOTO: cont})
        return d                                       # our reference becomes the page cache's

    t.step("add", ("mm/shmem.c:shmem_add_to_page_cache(folio, mapping, index, swp_to_radix_entry(swap)): "
                   "the range must hold the expected entries; folio_put_swap(); swap_cache_del_folio()"
                   if new else
                   "mm/shmem.c:shmem_add_to_page_cache(folio, mapping, index, swp_to_radix_entry(swap)): "
                   "expected == xas_find_conflict(); xas_store(); delete_from_swap_cache(); swap_free_nr()")
           + "; folio_mark_dirty(); [the fault maps the folio and unlocks it]",
           effect=add, reads=[folio, base, swap] + sh.mapping_fields() + ffields + locks,
           writes=sh.mapping_fields() + sh.slot_fields() + locals_ + locks + ffields + [got, sh.vm_bug],
           branches=["lookup", cont])


def emit_shmem_writeout_large(t, sh: ShmemLarge) -> None:
    """shmem_writeout() of the order-1 folio at indices 0..1 (kswapd / MADV_PAGEOUT): folio_alloc_swap()
    gives it slots s0, s1 (free), the mapping gets the large swap entry back (shmem_delete_from_page_cache
    + xa store of the swap entry, order 1), the write completes and the clean folio stays in the swap
    cache. Nothing happens unless the mapping holds an order-1 folio and both slots are free."""
    def writeout(s):
        f = getattr(s, sh.xa[0])
        if (f not in sh.folios or getattr(s, sh.order[f]) != 1
                or any(getattr(s, c) for c in sh.cnt) or any(getattr(s, c) != "-" for c in sh.sc)):
            return {}
        d = {sh.xa_order: 1, sh.xa[0]: "s0", sh.xa[1]: "s0", sh.src[f]: "s0"}
        for k in range(2):
            d[sh.cnt[k]] = 1
            d[sh.sc[k]] = f
        return d                                       # the page cache's reference becomes the swap cache's

    t.step("writeout", "mm/shmem.c:shmem_writeout: folio_alloc_swap(folio); shmem_delete_from_page_cache(); "
           "the large swap entry stored; swap_writeout() [the folio stays in the swap cache once clean]",
           guard=lambda s: all(getattr(s, lk) == FREE for lk in sh.lock.values()),
           effect=writeout, reads=sh.mapping_fields() + sh.slot_fields() + sh.folio_fields()
           + list(sh.lock.values()), writes=sh.mapping_fields() + sh.slot_fields() + sh.folio_fields())
