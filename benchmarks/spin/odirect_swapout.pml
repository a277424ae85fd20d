/*
 * odirect-swapout in Promela: the pteverify scenario of the same name, written a second time for
 * SPIN so both checkers can be run side by side (benchmarks/spin_compare.py).
 *
 * Source of truth: models/anon_exclusive.py (builder odirect_swapout) with models/mm.py,
 * gup.py, swap_out.py, swap_in.py, cow.py and user.py; the variants are
 * specs/scenarios/odirect-swapout.toml.  `pteverify show odirect-swapout` prints the same steps
 * with the same kernel references as the comments below.
 *
 * An O_DIRECT read holds an R/W FOLL_GET reference on a user page and the device writes the
 * read's data into it, while kswapd swaps the page out and another thread of the process writes
 * elsewhere in the page, refaulting it.  Without PG_anon_exclusive stored in the swap PTE the
 * refault cannot tell that the page is exclusive (the GUP reference raises page_count),
 * do_wp_page() copies it, and the DMA lands in the old page: the read's data is lost.
 *
 * Correspondence with the Python model:
 *   - one proctype per pteverify thread, started by init in the same order (odirect, reclaim,
 *     writer); a lock holds the same 1-based thread index as owner that pteverify uses;
 *   - one `atomic { guard -> effect }` per pteverify step, at a label named after the step
 *     (dsp.lookup -> dsp_lookup), with the step's kernel reference above it.  The first statement
 *     of each atomic is the step's guard (`true` for a step without one); nothing after it can
 *     block, so every step is one indivisible transition and SPIN's DFS stores no state inside it.
 *     A step's GOTO is a `goto` leaving the atomic; without one it falls through to the next step,
 *     as in pteverify;
 *   - every field of the Python state is a global here (folio pool A/B/C, swap slot, PTE, locks,
 *     ghosts) or a local of the proctype that owns it (the `<thread>_<local>` fields), with the
 *     same values and the same resets on return from a kernel function.  The encodings below are
 *     injective on the values this scenario reaches, so the state spaces correspond one to one;
 *   - a finished thread (pteverify's DONE) waits at `end_done`, a valid end state, instead of
 *     terminating; a state where no step is enabled and some thread is not at `end_done` is an
 *     invalid end state, which is pteverify's deadlock;
 *   - the invariants are assertions evaluated at the end of every step, i.e. in every state a step
 *     produces, and at the end of init on the initial state (pteverify checks every new state,
 *     the initial one included), in pteverify's order.  Each is first computed into a variable
 *     named after it (a function of the rest of the state, so it splits no state), so that pan
 *     reports e.g. "assertion violated no_lost_write";
 *   - pteverify's ModelError checks (refcount underflow, freeing a mapped folio, folio pool
 *     exhausted, swap_free of a free entry, unexpected PTE) are plain assertions.
 * Checked, not just intended: `benchmarks/spin_compare.py --crosscheck` prints every SPIN state
 * (BEGIN_STEP / DONE_HOOK below), program counters as step labels, and compares the set with the
 * pteverify model's reachable states, field by field: identical for all six variants, SPIN having
 * one state more (before init runs) and two transitions more (init's, and the root it counts).
 *
 * Where the Promela is narrower than the Python (no reachable state of this scenario differs):
 *   - the Python builder fixes swap.synchronous_io = false for this scenario, so the
 *     skip-swapcache branch of do_swap_page(), its swapcache_prepare() pin (the `clear` local) and
 *     the dsp.swapcache_clear step do not exist in the built model and are not written here;
 *   - the swap slot is never bad in this scenario (mm.swp_bad = False): swap_readpage() always
 *     succeeds, so the GARBAGE content is declared but never produced;
 *   - `unshare` (FAULT_FLAG_UNSHARE) is kept as a local and tested where the Python tests it, but
 *     only a R/O FOLL_PIN raises it and this scenario's GUP is FOLL_WRITE, so it stays false;
 *   - the PTE's swap slot field is implied by its kind (one slot: every swap PTE names slot0);
 *   - `pteverify run --arch LAYOUT` (swap PTEs as an arch layout's bit patterns) and the
 *     architecture hooks of models/mm.py (ArchHook; none in this scenario) are not mirrored: the
 *     PTE here is the abstract one, with the swp exclusive bit as the ARCH_SWP_EXCLUSIVE knob.
 *
 * What SPIN does to the state space on its own (verdicts are unaffected):
 *   - data-flow optimisation (on unless `spin -o1`): locals that are never read again (`result`,
 *     `seen`, a reset fault local) are treated as dead and merged, so SPIN stores fewer states
 *     than pteverify (1241 against 1378 for 1493a1913e34); with -o1 the counts match (+1);
 *   - PG_swapbacked is written but never read, so SPIN keeps it out of the state vector (it is
 *     `ref > 0` in every reachable state, so this merges nothing);
 *   - partial-order reduction finds nothing to reduce: every step touches globals;
 *   - pan -DBFS also stores the states inside atomic sequences (it still runs them without
 *     interleaving) and reports the states between steps apart, as "nominal states
 *     (stored-atomic)": that count equals its DFS count;
 *   - pan's depth counts statements (inside atomic sequences too), pteverify's counts steps.
 *
 * Knobs (pass -DNAME=0/1 to spin; defaults are the knob defaults, i.e. variant 1493a1913e34):
 *   ANON_EXCLUSIVE      mm.anon_exclusive           PG_anon_exclusive exists (6c287605fd56)
 *   REMEMBER_EXCLUSIVE  swap_out.remember_exclusive pte_swp_mkexclusive() on swap-out (1493a1913e34)
 *   ARCH_SWP_EXCLUSIVE  arch.swp_exclusive          __HAVE_ARCH_PTE_SWP_EXCLUSIVE
 *   STABLE_WRITES       swap.stable_writes          SWP_STABLE_WRITES swap device
 *   FOLL_PIN            gup.foll_pin                the read takes FOLL_PIN instead of FOLL_GET
 * Variant 1493a1913e34^ is -DREMEMBER_EXCLUSIVE=0.
 * NO_INVARIANTS (-DNO_INVARIANTS) drops the invariant assertions, to compare whole state spaces.
 */

#ifndef ANON_EXCLUSIVE
#define ANON_EXCLUSIVE 1
#endif
#ifndef REMEMBER_EXCLUSIVE
#define REMEMBER_EXCLUSIVE 1
#endif
#ifndef ARCH_SWP_EXCLUSIVE
#define ARCH_SWP_EXCLUSIVE 1
#endif
#ifndef STABLE_WRITES
#define STABLE_WRITES 0
#endif
#ifndef FOLL_PIN
#define FOLL_PIN 0
#endif

/* mm.Kernel.swp_exclusive: does a swap PTE carry the exclusive marker at all? */
#if ANON_EXCLUSIVE && REMEMBER_EXCLUSIVE && ARCH_SWP_EXCLUSIVE
#define SWP_EXCLUSIVE 1
#else
#define SWP_EXCLUSIVE 0
#endif

/* ------------------------------------------------------------------------------------------ */
/* Encodings                                                                                   */

#define FREE 0                 /* a lock nobody holds; otherwise the owner's thread index     */
#define T_ODIRECT 1
#define T_RECLAIM 2
#define T_WRITER  3

#define NOF 0                  /* NO_FOLIO "-"; folios A, B, C are 1, 2, 3 (index 0 unused)    */
#define FA 1
#define FB 2
#define FC 3

/* Folio content (mm.written/holds_write): a base (which page it started as) plus the set of
 * writes that reached it.  "old+dma" is D_OLD|W_DMA. */
#define D_NONE    0            /* NO_DATA "-": a free folio / an unused swap slot              */
#define D_OLD     1            /* ORIGINAL "old"                                               */
#define D_GARBAGE 2            /* GARBAGE: never produced here (the slot is never bad)         */
#define W_DMA     4
#define W_CPU     8

/* The PTE (mm.Pte) packed into one short; equality is pte_same(). */
#define K_NONE         0
#define K_PRESENT      1
#define K_SWAP         2
#define K_SWAPIN_ERROR 5
#define PTE_KIND(p)       ((p) & 7)
#define PTE_FOLIO(p)      (((p) >> 3) & 3)
#define PTE_WRITE(p)      (((p) >> 5) & 1)
#define PTE_DIRTY(p)      (((p) >> 6) & 1)
#define PTE_SOFT_DIRTY(p) (((p) >> 7) & 1)
#define PTE_UFFD_WP(p)    (((p) >> 8) & 1)
#define PTE_SWP_EXCL(p)   (((p) >> 9) & 1)
#define B_WRITE      32
#define B_DIRTY      64
#define B_SOFT_DIRTY 128
#define PTE_NONE 0
#define MK_PRESENT(f, w, d, sd, uw) \
        (K_PRESENT | ((f) << 3) | ((w) << 5) | ((d) << 6) | ((sd) << 7) | ((uw) << 8))
#define MK_SWAP(ex, sd, uw)  (K_SWAP | ((sd) << 7) | ((uw) << 8) | ((ex) << 9))

/* `ret` (where handle_mm_fault() returns to) and `result` (how the last operation ended) */
#define R_NONE        0
#define R_FOLLOW_PAGE 1
#define R_LOAD        2
#define R_STORE       3
#define RES_NONE      0
#define RES_READ      1
#define RES_STORED    2
#define RES_SIGBUS    3
#define RES_USERFAULT 4

/* the dma_landed_in ghost: "-" or "<folio> (mapped)" / "<folio> (not mapped)" */
#define DMA_NOT_MAPPED 4

/* ------------------------------------------------------------------------------------------ */
/* State (mm.MM)                                                                                */

short pte = MK_PRESENT(FA, 1, 1, 1, 0);   /* present(A, rw, dirty, soft-dirty)                */
byte ptl = FREE;                           /* the page-table lock                               */

/* the folio pool: folio_ref_count, mapcount, GUP pins, PG_anon_exclusive, PG_swapcache,
 * PG_swapbacked, PG_dirty, PG_uptodate, PG_writeback, content, the folio lock (PG_locked).
 * A starts mapped once, exclusive, written by the process (_mapped_exclusive). */
byte ref[4];
byte map[4];
byte pin[4];
bool excl[4];
bool swapcache[4];
bool swapbacked[4];
bool dirty[4];
bool uptodate[4];
bool writeback[4];
byte data[4];
byte flock[4];

/* the swap slot: swap_count, SWAP_HAS_CACHE, the swap cache folio, the device's content */
byte swp_count = 0;
bool swp_has_cache = false;
byte swp_cache = NOF;
byte swp_data = D_NONE;

/* ghosts */
bool dma_done = false;       /* the device finished writing the O_DIRECT data                  */
byte dma_landed_in = 0;      /* the page the DMA wrote, and whether it was mapped then          */
bool cpu_stored = false;     /* the writer's store completed                                   */

/* Invariant values, recomputed at the end of every step.  They are functions of the rest of the
 * state, so they split no state; they are plain globals rather than `hidden` because pan's
 * breadth-first search (-DBFS) refuses hidden variables. */
bool writable_pte_maps_exclusive_page = true;
bool pinned_mapped_page_is_exclusive = true;
bool swap_pte_page_not_exclusive = true;
bool no_lost_write = true;
bool gup_page_is_mapped_page = true;

/* do_swap_page's `reuse` and `write` (dsp.set_pte): scratch values of one atomic step, back to
 * false when the step ends so that they split no state */
bool t_reuse = false;
bool t_write = false;

/* ------------------------------------------------------------------------------------------ */
/* Invariants (mm.inv_*), checked in pteverify's order                                         */

/* mm.MM.page_at_address / content_at_address */
#define PAGE_AT_ADDRESS \
        (PTE_KIND(pte) == K_PRESENT -> PTE_FOLIO(pte) : (PTE_KIND(pte) == K_SWAP -> swp_cache : NOF))
#define CONTENT_KNOWN   (PAGE_AT_ADDRESS != NOF || PTE_KIND(pte) == K_SWAP)
#define CONTENT_AT_ADDRESS (PAGE_AT_ADDRESS != NOF -> data[PAGE_AT_ADDRESS] : swp_data)

#if ANON_EXCLUSIVE
#define CHECK_EXCLUSIVE_INVARIANTS \
    /* a writable present PTE maps a PG_anon_exclusive page (do_swap_page: \
       VM_BUG_ON(pte_write(pte) && !PageAnonExclusive(page))) */ \
    writable_pte_maps_exclusive_page = \
        (!(PTE_KIND(pte) == K_PRESENT && PTE_WRITE(pte)) || excl[PTE_FOLIO(pte)]); \
    assert(writable_pte_maps_exclusive_page); \
    /* a GUP-pinned anonymous page mapped by a present PTE is PG_anon_exclusive \
       (gup_must_unshare() / sanity_check_pinned_pages()) */ \
    pinned_mapped_page_is_exclusive = \
        (!(PTE_KIND(pte) == K_PRESENT && pin[PTE_FOLIO(pte)] > 0) || excl[PTE_FOLIO(pte)]); \
    assert(pinned_mapped_page_is_exclusive); \
    /* a swap PTE never points at a PG_anon_exclusive page in the swap cache \
       (do_swap_page: BUG_ON(PageAnon(page) && PageAnonExclusive(page))) */ \
    swap_pte_page_not_exclusive = \
        (PTE_KIND(pte) != K_SWAP || swp_cache == NOF || !excl[swp_cache]); \
    assert(swap_pte_page_not_exclusive);
#else
#define CHECK_EXCLUSIVE_INVARIANTS
#endif

#ifdef NO_INVARIANTS
#define CHECK_INVARIANTS skip
#else
#define CHECK_INVARIANTS \
    d_step { \
    CHECK_EXCLUSIVE_INVARIANTS \
    /* no write, by the CPU or by DMA through a GUP reference, is lost: whenever the page table \
       is consistent (PTL free), every completed write is in the page the address resolves to */ \
    no_lost_write = (ptl != FREE || !CONTENT_KNOWN || \
                     ((!dma_done || (CONTENT_AT_ADDRESS & W_DMA)) && \
                      (!cpu_stored || (CONTENT_AT_ADDRESS & W_CPU)))); \
    assert(no_lost_write); \
    /* the page the R/W FOLL_GET reference holds is the page mapped at its address */ \
    gup_page_is_mapped_page = ((dma_landed_in & DMA_NOT_MAPPED) == 0); \
    assert(gup_page_is_mapped_page) \
    }
#endif

/* return from handle_mm_fault(): the fault locals go back to their initial values (Ctx.reset of
 * Ctx.FAULT_LOCALS; `result`, `seen` and `gup` are not fault locals) */
#define RESET_FAULT_LOCALS \
    d_step { orig = PTE_NONE; fwrite = false; unshare = false; page = NOF; swc = NOF; \
             dexcl = false; newp = NOF; ret = R_NONE }

/* Hooks for a file that includes this one (benchmarks/spin_compare.py --crosscheck defines them
 * as c_code printing the state, to compare the state spaces of the two tools); empty otherwise.
 * BEGIN_STEP runs right after a step's guard (the state before the step), DONE_HOOK before a
 * thread finishes (the state after its last step). */
#ifndef BEGIN_STEP
#define BEGIN_STEP
#endif
#ifndef DONE_HOOK
#define DONE_HOOK
#endif

/* end of a step: check the new state, then fall through (NEXT), jump (JUMP) or finish the thread
 * (FINISH: pteverify's GOTO DONE) */
#define NEXT      CHECK_INVARIANTS
#define JUMP(l)   CHECK_INVARIANTS; goto l
#define FINISH    CHECK_INVARIANTS; DONE_HOOK goto end_done

/* ------------------------------------------------------------------------------------------ */
/* Helpers shared by the paths (mm.MM methods); they act on the state as changed so far         */

/* folio_put(): drop n references; the last one frees the folio */
inline put_folio(f, n) {
    d_step {
        assert(f != NOF && ref[f] >= n);             /* ModelError: refcount underflow */
        ref[f] = ref[f] - n;
        if
        :: ref[f] == 0 ->
            assert(map[f] == 0 && !swapcache[f]);    /* ModelError: freed while mapped or cached */
            pin[f] = 0; excl[f] = false; swapcache[f] = false; swapbacked[f] = false;
            dirty[f] = false; uptodate[f] = false; writeback[f] = false; data[f] = D_NONE
        :: else -> skip
        fi
    }
}

/* alloc_folio(): the first free folio of the pool (deterministic), with ref, swapcache, data;
 * swapbacked and uptodate as every allocation in this scenario sets them */
inline alloc_folio(fid, r, sc, d) {
    d_step {
        if
        :: ref[FA] == 0 -> fid = FA
        :: else ->
            if
            :: ref[FB] == 0 -> fid = FB
            :: else ->
                if
                :: ref[FC] == 0 -> fid = FC
                :: else -> assert(false)             /* ModelError: folio pool exhausted */
                fi
            fi
        fi;
        ref[fid] = r; swapbacked[fid] = true; swapcache[fid] = sc; data[fid] = d;
        uptodate[fid] = true
    }
}

#define SLOT_IN_USE (swp_count > 0 || swp_has_cache)

/* swap_range_free(): once nothing references the slot its content is gone */
inline maybe_free_slot() {
    if
    :: !SLOT_IN_USE -> swp_data = D_NONE
    :: else -> skip
    fi
}

/* swap_free(entry) */
inline swap_free() {
    assert(swp_count > 0);                           /* ModelError: swap_free() of a free entry */
    swp_count--;
    maybe_free_slot()
}

/* delete_from_swap_cache() + put_swap_page() */
inline delete_from_swap_cache(f) {
    swapcache[f] = false;
    swp_cache = NOF;
    swp_has_cache = false;
    put_folio(f, 1);
    maybe_free_slot()
}

/* try_to_free_swap() with the folio locked: in the swap cache, not under writeback, no swap PTE
 * left; the data now lives only in RAM, so the folio is dirtied */
inline try_to_free_swap(f) {
    if
    :: swapcache[f] && !writeback[f] && swp_count == 0 ->
        delete_from_swap_cache(f);
        dirty[f] = true
    :: else -> skip
    fi
}

/* ------------------------------------------------------------------------------------------ */
/* odirect: O_DIRECT read(): GUP of the user buffer, DMA, completion                           */

proctype odirect()
{
    /* fault locals (Ctx.fault_locals) and the GUP reference */
    short orig = PTE_NONE;     /* vmf->orig_pte                                               */
    bool fwrite = false;       /* FAULT_FLAG_WRITE                                            */
    bool unshare = false;      /* FAULT_FLAG_UNSHARE                                          */
    byte page = NOF;           /* the folio the fault holds a reference on                    */
    byte swc = NOF;            /* do_swap_page: `swapcache`                                   */
    bool dexcl = false;        /* do_swap_page: `exclusive`                                   */
    byte newp = NOF;           /* wp_page_copy: new_page                                      */
    byte result = RES_NONE;    /* how the thread's last operation ended                       */
    byte ret = R_NONE;         /* where handle_mm_fault() returns to                          */
    byte gup = NOF;            /* the page the GUP reference holds                            */

#define ME T_ODIRECT
#define RETURN_FROM_FAULT \
    if \
    :: ret == R_FOLLOW_PAGE -> RESET_FAULT_LOCALS; JUMP(follow_page) \
    :: else -> assert(false) \
    fi

    /* block/bio.c:bio_iov_iter_get_pages -> mm/gup.c:follow_page_pte(FOLL_GET|FOLL_WRITE):
     * pte_offset_map_lock(); can_follow_write_pte(); try_grab_page(); pte_unmap_unlock()
     * [else faultin_page()]    (FOLL_PIN|FOLL_WRITE with -DFOLL_PIN=1) */
follow_page:
    atomic { ptl == FREE -> BEGIN_STEP
        if
        :: PTE_KIND(pte) == K_PRESENT && !PTE_WRITE(pte) ->
            /* FOLL_WRITE on a read-only PTE: faultin_page() with FAULT_FLAG_WRITE */
            orig = pte; fwrite = true; ret = R_FOLLOW_PAGE; JUMP(hpf_wp)
            /* (FOLL_PIN without FOLL_WRITE would test gup_must_unshare() here; this GUP writes) */
        :: PTE_KIND(pte) == K_PRESENT && PTE_WRITE(pte) ->
            gup = PTE_FOLIO(pte);
            ref[gup]++;
#if FOLL_PIN
            pin[gup]++;
#endif
            JUMP(dma)
        :: PTE_KIND(pte) == K_SWAP ->
            orig = pte; fwrite = true; ret = R_FOLLOW_PAGE; JUMP(dsp_lookup)
        :: PTE_KIND(pte) == K_SWAPIN_ERROR ->
            orig = pte; ret = R_FOLLOW_PAGE; JUMP(dsp_swapin_error)
        :: else -> assert(false)                     /* follow_page_pte: unexpected PTE */
        fi
    }

    /* device: DMA of the O_DIRECT read writes the page through the GUP reference */
dma:
    atomic { ptl == FREE -> BEGIN_STEP
        dma_landed_in = gup | (PAGE_AT_ADDRESS == gup -> 0 : DMA_NOT_MAPPED);
        data[gup] = data[gup] | W_DMA;
        dma_done = true;
        NEXT
    }

    /* block/bio.c:bio_release_pages(bio, mark_dirty): set_page_dirty_lock(page); put_page(page)
     * (FOLL_PIN: mm/gup.c:unpin_user_pages_dirty_lock(): set_page_dirty_lock(page);
     *  unpin_user_page(page)) */
release:
    atomic { flock[gup] == FREE -> BEGIN_STEP
        dirty[gup] = true;
#if FOLL_PIN
        pin[gup]--;
#endif
        put_folio(gup, 1);
        gup = NOF;
        FINISH
    }

#include "fault_handlers.pml"
#undef ME
#undef RETURN_FROM_FAULT
}

/* ------------------------------------------------------------------------------------------ */
/* reclaim: kswapd: shrink_page_list() on the page                                              */

proctype reclaim()
{
    byte page = NOF;           /* the folio reclaim isolated                                  */
    bool anon_excl = false;    /* try_to_unmap_one: anon_exclusive                            */
    short pteval = PTE_NONE;   /* try_to_unmap_one: pteval (the cleared PTE)                  */

    /* mm/vmscan.c:isolate_lru_pages: folio_try_get(); folio_test_clear_lru()
     * [the folio mapped at the address] */
isolate:
    atomic { PTE_KIND(pte) == K_PRESENT -> BEGIN_STEP
        page = PTE_FOLIO(pte);
        ref[page]++;
        NEXT
    }

    /* mm/vmscan.c:shrink_page_list: trylock_page(page); folio_maybe_dma_pinned() -> keep_locked */
trylock:
    atomic { true -> BEGIN_STEP
        if
        :: flock[page] != FREE -> JUMP(keep)
        :: else ->
            flock[page] = T_RECLAIM;
            if
            :: pin[page] > 0 -> JUMP(keep)
            :: else -> NEXT
            fi
        fi
    }

    /* mm/swap_state.c:add_to_swap: get_swap_page(); add_to_swap_cache(); set_page_dirty(page) */
add_to_swap:
    atomic { true -> BEGIN_STEP
        if
        :: swapcache[page] -> NEXT                   /* already in the swap cache */
        :: !swapcache[page] && SLOT_IN_USE -> JUMP(keep)   /* get_swap_page() fails: activate */
        :: else ->
            swp_has_cache = true;
            swp_cache = page;
            swapcache[page] = true;
            dirty[page] = true;
            ref[page]++;
            NEXT
        fi
    }

    /* mm/rmap.c:try_to_unmap_one: page_vma_mapped_walk() [PTL];
     * anon_exclusive = PageAnonExclusive(subpage); pteval = ptep_clear_flush();
     * pte_dirty(pteval) -> set_page_dirty(page) */
unmap_clear:
    atomic { ptl == FREE -> BEGIN_STEP
        if
        :: !(PTE_KIND(pte) == K_PRESENT && PTE_FOLIO(pte) == page) ->
            JUMP(pageout)                            /* page_vma_mapped_walk() finds no mapping */
        :: else ->
            ptl = T_RECLAIM;
            pteval = pte;
            pte = PTE_NONE;
#if ANON_EXCLUSIVE
            anon_excl = excl[page];
#endif
            if
            :: PTE_DIRTY(pteval) -> dirty[page] = true
            :: else -> skip
            fi;
            NEXT
        fi
    }

    /* mm/rmap.c:try_to_unmap_one: swap_duplicate(entry); anon_exclusive &&
     * page_try_share_anon_rmap(subpage) [fails if maybe pinned] */
unmap_dup:
    atomic { true -> BEGIN_STEP
        swp_count++;
#if ANON_EXCLUSIVE
        if
        :: anon_excl && pin[page] > 0 ->
            /* page_try_share_anon_rmap() fails: swap_free(entry); set_pte_at(pteval); abort */
            swp_count--;
            pte = pteval;
            ptl = FREE;
            JUMP(keep)
        :: anon_excl && pin[page] == 0 ->
            excl[page] = false                       /* ClearPageAnonExclusive() */
        :: else -> skip
        fi;
#endif
        NEXT
    }

    /* mm/rmap.c:try_to_unmap_one: swp_pte = swp_entry_to_pte(entry);
     * if (anon_exclusive) swp_pte = pte_swp_mkexclusive(swp_pte) [1493a1913e34; a no-op without
     * __HAVE_ARCH_PTE_SWP_EXCLUSIVE]; pte_swp_mksoft_dirty/mkuffd_wp; set_pte_at(swp_pte);
     * page_remove_rmap(); put_page() [drops PTL] */
unmap_set:
    atomic { true -> BEGIN_STEP
        ptl = FREE;
        pte = MK_SWAP(anon_excl && SWP_EXCLUSIVE, PTE_SOFT_DIRTY(pteval), PTE_UFFD_WP(pteval));
        map[page]--;
        put_folio(page, 1);
        anon_excl = false;
        pteval = PTE_NONE;
        NEXT
    }

    /* mm/vmscan.c:shrink_page_list: PageDirty() -> pageout(): is_page_cache_freeable()
     * [only the isolation and swap-cache references, else PAGE_KEEP] */
pageout:
    atomic { true -> BEGIN_STEP
        if
        :: map[page] > 0 -> JUMP(keep)               /* still mapped: activate_locked */
        :: map[page] == 0 && !dirty[page] -> JUMP(remove)   /* clean: __remove_mapping() */
        :: map[page] == 0 && dirty[page] && ref[page] != 2 -> JUMP(keep)   /* PAGE_KEEP */
        :: else -> NEXT
        fi
    }

    /* mm/vmscan.c:pageout: clear_page_dirty_for_io(); mm/page_io.c:swap_writepage():
     * set_page_writeback(); unlock_page(); submit_bio() */
swap_writepage:
    atomic { true -> BEGIN_STEP
        swp_data = data[page];
        flock[page] = FREE;
        dirty[page] = false;
        writeback[page] = true;
        NEXT
    }

    /* mm/page_io.c:end_swap_bio_write: end_page_writeback(page) */
writeback_done:
    atomic { true -> BEGIN_STEP
        writeback[page] = false;
        NEXT
    }

    /* mm/vmscan.c:shrink_page_list: trylock_page(); PageDirty/PageWriteback -> keep;
     * __remove_mapping(): folio_ref_freeze(folio, 2) [fails with extra references];
     * PageDirty() -> unfreeze; __delete_from_swap_cache(); put_swap_page(); free the folio */
remove:
    atomic { true -> BEGIN_STEP
        if
        :: flock[page] != FREE && flock[page] != T_RECLAIM -> JUMP(keep)   /* trylock fails */
        :: else ->
            flock[page] = T_RECLAIM;
            if
            :: dirty[page] || writeback[page] || map[page] > 0 || ref[page] != 2 ->
                JUMP(keep)             /* redirtied / remapped / folio_ref_freeze() fails */
            :: else ->
                swp_cache = NOF;
                swp_has_cache = false;
                swapcache[page] = false;
                put_folio(page, 2);
                flock[page] = FREE;
                maybe_free_slot();
                page = NOF;
                FINISH
            fi
        fi
    }

    /* mm/vmscan.c:shrink_page_list: keep_locked / activate_locked: unlock_page();
     * putback_lru_page() [drops the isolation reference] */
keep:
    atomic { true -> BEGIN_STEP
        if
        :: flock[page] == T_RECLAIM -> flock[page] = FREE
        :: else -> skip
        fi;
        put_folio(page, 1);
        page = NOF;
        anon_excl = false;
        pteval = PTE_NONE;
        FINISH
    }

end_done:
    false
}

/* ------------------------------------------------------------------------------------------ */
/* writer: another thread of the process reads, then writes elsewhere in the page               */

proctype writer()
{
    short orig = PTE_NONE;
    bool fwrite = false;
    bool unshare = false;
    byte page = NOF;
    byte swc = NOF;
    bool dexcl = false;
    byte newp = NOF;
    byte result = RES_NONE;
    byte ret = R_NONE;
    byte seen = D_NONE;        /* what the load read ("-" before it)                          */

#define ME T_WRITER
#define RETURN_FROM_FAULT \
    if \
    :: ret == R_LOAD -> RESET_FAULT_LOCALS; JUMP(load) \
    :: ret == R_STORE -> RESET_FAULT_LOCALS; JUMP(store) \
    :: else -> assert(false) \
    fi

    /* user space: load from the page (MMU: pte_present, else #PF -> handle_mm_fault ->
     * handle_pte_fault) */
load:
    atomic { PTE_KIND(pte) != K_NONE -> BEGIN_STEP
        if
        :: PTE_KIND(pte) == K_PRESENT ->
            seen = data[PTE_FOLIO(pte)]; result = RES_READ; JUMP(store)
        :: PTE_KIND(pte) == K_SWAP ->
            orig = pte; fwrite = false; ret = R_LOAD; JUMP(dsp_lookup)
        :: PTE_KIND(pte) == K_SWAPIN_ERROR ->
            orig = pte; ret = R_LOAD; JUMP(dsp_swapin_error)
        :: else -> assert(false)                     /* access: unexpected PTE */
        fi
    }

    /* user space: store to the page (MMU: pte_present && pte_write, else #PF -> handle_mm_fault
     * -> handle_pte_fault) */
store:
    atomic { PTE_KIND(pte) != K_NONE -> BEGIN_STEP
        if
        :: PTE_KIND(pte) == K_PRESENT && PTE_WRITE(pte) ->
            data[PTE_FOLIO(pte)] = data[PTE_FOLIO(pte)] | W_CPU;
            pte = pte | B_DIRTY;
            result = RES_STORED;
            cpu_stored = true;
            FINISH
        :: PTE_KIND(pte) == K_PRESENT && !PTE_WRITE(pte) ->
            orig = pte; fwrite = true; ret = R_STORE; JUMP(hpf_wp)
        :: PTE_KIND(pte) == K_SWAP ->
            orig = pte; fwrite = true; ret = R_STORE; JUMP(dsp_lookup)
        :: PTE_KIND(pte) == K_SWAPIN_ERROR ->
            orig = pte; ret = R_STORE; JUMP(dsp_swapin_error)
        :: else -> assert(false)                     /* access: unexpected PTE */
        fi
    }

#include "fault_handlers.pml"
#undef ME
#undef RETURN_FROM_FAULT
}

/* ------------------------------------------------------------------------------------------ */
/* The initial state: folio A faulted in and written by the process, mapped once, exclusive     */
/* (anon_exclusive._mapped_exclusive); B and C free.  Promela initialises an array to one value  */
/* only, so init sets A's fields and starts the three threads in one atomic sequence: SPIN's     */
/* state space has one more state than pteverify's (the one before init runs) and one more      */
/* transition.  The invariants are checked on the initial state here, as pteverify does.        */

init {
    atomic {
        ref[FA] = 1; map[FA] = 1; excl[FA] = ANON_EXCLUSIVE; swapbacked[FA] = true;
        uptodate[FA] = true; data[FA] = D_OLD;
        run odirect(); run reclaim(); run writer();
        CHECK_INVARIANTS
    }
}
