/*
 * handle_mm_fault() for one faulting thread: do_swap_page() (models/swap_in.py), do_wp_page()
 * (models/cow.py) and the SIGBUS / userfault ends of the thread (models/user.py,
 * emit_fault_handlers).  Included into the body of every proctype that faults (odirect and
 * writer), as pteverify emits the same steps into both threads.  The includer defines
 *   ME                 its thread index (the value a lock it holds takes), and
 *   RETURN_FROM_FAULT  the jump back to the faulting step named by `ret` (Ctx.leave_fault),
 * and declares the fault locals orig, fwrite, unshare, page, swc, dexcl, newp, result, ret.
 * This file is not a model on its own.
 */

    /* mm/memory.c:do_swap_page: is_swapin_error_entry(entry) -> ret = VM_FAULT_SIGBUS */
dsp_swapin_error:
    atomic { true -> BEGIN_STEP
        RESET_FAULT_LOCALS;
        JUMP(sigbus)
    }

    /* mm/memory.c:do_swap_page: page = lookup_swap_cache(entry) ?: swapin_readahead(entry)
     * [add_to_swap_cache(); swap_readpage()]
     * guard: __read_swap_cache_async(): swapcache_prepare() == -EEXIST while another task is
     * adding the folio: it waits and retries the lookup */
dsp_lookup:
    atomic { (swp_cache != NOF || !swp_has_cache) -> BEGIN_STEP
        if
        :: swp_cache != NOF ->
            ref[swp_cache]++;
            page = swp_cache;
            swc = swp_cache;
            NEXT
        :: swp_cache == NOF && !SLOT_IN_USE ->
            /* the entry was freed under us: swapin_readahead() returns NULL, pte_same() fails */
            RETURN_FROM_FAULT
        :: else ->
            /* a new folio in the swap cache (one reference for the cache, one for us), read
             * from the slot; the read completes inside this step */
            alloc_folio(page, 2, true, swp_data);
            swp_has_cache = true;
            swp_cache = page;
            swc = page;
            NEXT
        fi
    }

    /* mm/memory.c:do_swap_page: lock_page_or_retry(page); PageSwapCache(page) &&
     * page_private(page) == entry.val */
dsp_lock:
    atomic { flock[page] == FREE -> BEGIN_STEP
        if
        :: swc != NOF && (!swapcache[page] || swp_cache != page) ->
            put_folio(page, 1);
            RETURN_FROM_FAULT
        :: else ->
            flock[page] = ME;
            NEXT
        fi
    }

    /* mm/memory.c:do_swap_page: pte_offset_map_lock(); pte_same(*vmf->pte, vmf->orig_pte);
     * PageUptodate(page) */
dsp_pte_same:
    atomic { ptl == FREE -> BEGIN_STEP
        if
        :: pte != orig ->                            /* out_nomap: unlock, release the folio */
            flock[page] = FREE;
            put_folio(page, 1);
            RETURN_FROM_FAULT
        :: pte == orig && !uptodate[page] ->         /* ret = VM_FAULT_SIGBUS; goto out_nomap */
            flock[page] = FREE;
            put_folio(page, 1);
            RESET_FAULT_LOCALS;
            JUMP(sigbus)
        :: else ->
            ptl = ME;
            NEXT
        fi
    }

#if ANON_EXCLUSIVE
    /* mm/memory.c:do_swap_page: exclusive = pte_swp_exclusive(vmf->orig_pte);
     * page != swapcache -> exclusive = true; PageWriteback(page) && SWP_STABLE_WRITES ->
     * exclusive = false
     * (without the swp pte bit, 6c287605fd56 before 1493a1913e34: page != swapcache ->
     * RMAP_EXCLUSIVE; pte_swp_exclusive() is then always false) */
dsp_exclusive:
    atomic { true -> BEGIN_STEP
        if
        :: swc == NOF -> dexcl = true
        :: swc != NOF && PTE_SWP_EXCL(orig) && SWP_EXCLUSIVE && writeback[page] && STABLE_WRITES ->
            dexcl = false
        :: else -> dexcl = (PTE_SWP_EXCL(orig) && SWP_EXCLUSIVE)
        fi;
        NEXT
    }
#endif

    /* mm/memory.c:do_swap_page: swap_free(entry); should_try_to_free_swap() ->
     * try_to_free_swap(page) */
dsp_swap_free:
    atomic { true -> BEGIN_STEP
        swap_free();
        if
        :: swapcache[page] && fwrite && ref[page] == 2 -> try_to_free_swap(page)
        :: else -> skip
        fi;
        NEXT
    }

    /* mm/memory.c:do_swap_page: exclusive || page_count(page) == 1 ->
     * maybe_mkwrite(pte_mkdirty()), RMAP_EXCLUSIVE; page_add_anon_rmap(); set_pte_at()
     * (v5.18: FAULT_FLAG_WRITE && (page != swapcache || page_count(page) == 1) ->
     * maybe_mkwrite(pte_mkdirty()); do_page_add_anon_rmap(); set_pte_at()) */
dsp_set_pte:
    atomic { true -> BEGIN_STEP
#if ANON_EXCLUSIVE
        t_reuse = (dexcl || ref[page] == 1);
#else
        t_reuse = (swc == NOF || ref[page] == 1);
#endif
        t_write = (t_reuse && fwrite && !PTE_UFFD_WP(orig));
        if
        :: t_write -> fwrite = false                 /* the fault is done: no do_wp_page() */
        :: else -> skip
        fi;
#if ANON_EXCLUSIVE
        if
        :: t_reuse -> excl[page] = true              /* RMAP_EXCLUSIVE */
        :: else -> skip
        fi;
#endif
        map[page]++;
        pte = MK_PRESENT(page, t_write, t_write, (PTE_SOFT_DIRTY(orig) || t_write),
                         PTE_UFFD_WP(orig));
        orig = pte;                                  /* vmf->orig_pte = pte */
        t_reuse = false;
        t_write = false;
        NEXT
    }

    /* mm/memory.c:do_swap_page: unlock_page(page); FAULT_FLAG_WRITE -> do_wp_page(vmf),
     * else pte_unmap_unlock() */
dsp_unlock:
    atomic { true -> BEGIN_STEP
        flock[page] = FREE;
        if
        :: fwrite -> JUMP(wp_entry)                  /* do_wp_page(vmf), PTL still held */
        :: else ->
            ptl = FREE;
            RETURN_FROM_FAULT
        fi
    }

    /* mm/memory.c:handle_pte_fault: spin_lock(vmf->ptl); pte_same(*vmf->pte, entry);
     * !pte_write(entry) -> do_wp_page(vmf) */
hpf_wp:
    atomic { ptl == FREE -> BEGIN_STEP
        if
        :: pte != orig -> RETURN_FROM_FAULT
        :: else ->
            ptl = ME;
            page = PTE_FOLIO(orig);
            NEXT
        fi
    }

    /* mm/memory.c:do_wp_page: userfaultfd_pte_wp() -> handle_userfault();
     * PageAnonExclusive(vmf->page) -> reuse */
wp_entry:
    atomic { true -> BEGIN_STEP
        if
        :: PTE_UFFD_WP(orig) && !unshare ->
            ptl = FREE;
            result = RES_USERFAULT;
            RESET_FAULT_LOCALS;
            JUMP(userfault)
#if ANON_EXCLUSIVE
        :: !(PTE_UFFD_WP(orig) && !unshare) && excl[page] -> JUMP(wp_reuse)
#endif
        :: else -> NEXT
        fi
    }

    /* mm/memory.c:do_wp_page: page_count() > 3 || page_count() > 1 + PageSwapCache() -> copy;
     * trylock_page(); try_to_free_swap(); page_count() != 1 -> copy; page_move_anon_rmap()
     * (the folio lock is taken and dropped inside the step) */
wp_can_reuse:
    atomic { true -> BEGIN_STEP
        if
        :: ref[page] > 3 || ref[page] > 1 + swapcache[page] || flock[page] != FREE ->
            JUMP(wp_copy)
        :: else ->
            if
            :: swapcache[page] -> try_to_free_swap(page)
            :: else -> skip
            fi;
            if
            :: ref[page] != 1 -> JUMP(wp_copy)
            :: else ->
#if ANON_EXCLUSIVE
                excl[page] = true;                   /* page_move_anon_rmap() */
#endif
                NEXT
            fi
        fi
    }

    /* mm/memory.c:wp_page_reuse: ptep_set_access_flags(maybe_mkwrite(pte_mkdirty()));
     * pte_unmap_unlock() [unshare: only unlock] */
wp_reuse:
    atomic { true -> BEGIN_STEP
        ptl = FREE;
        if
        :: !unshare -> pte = pte | B_WRITE | B_DIRTY | B_SOFT_DIRTY
        :: else -> skip
        fi;
        RETURN_FROM_FAULT
    }

    /* mm/memory.c:do_wp_page: get_page(vmf->page); pte_unmap_unlock() */
wp_copy:
    atomic { true -> BEGIN_STEP
        ptl = FREE;
        ref[page]++;
        NEXT
    }

    /* mm/memory.c:wp_page_copy: new_page = alloc_page_vma(); cow_user_page(new_page, old_page) */
wp_copy_user:
    atomic { true -> BEGIN_STEP
        alloc_folio(newp, 1, false, data[page]);
        NEXT
    }

    /* mm/memory.c:wp_page_copy: pte_offset_map_lock(); pte_same(); ptep_clear_flush();
     * page_add_new_anon_rmap(new_page); set_pte_at(maybe_mkwrite(pte_mkdirty(mk_pte(new_page))));
     * page_remove_rmap(old_page) */
wp_copy_pte:
    atomic { ptl == FREE -> BEGIN_STEP
        if
        :: pte != orig ->
            put_folio(newp, 1);
            put_folio(page, 1);
            RETURN_FROM_FAULT
        :: else ->
            ptl = ME;
            map[newp] = 1;
            excl[newp] = ANON_EXCLUSIVE;             /* page_add_new_anon_rmap(): exclusive */
            if
            :: unshare -> pte = MK_PRESENT(newp, 0, 0, PTE_SOFT_DIRTY(orig), PTE_UFFD_WP(orig))
            :: else -> pte = MK_PRESENT(newp, 1, 1, 1, 0)
            fi;
            map[page]--;                             /* page_remove_rmap(old_page) */
            NEXT
        fi
    }

    /* mm/memory.c:wp_page_copy: pte_unmap_unlock(); put_page(old_page) [the old mapping's and
     * do_wp_page's references] */
wp_copy_done:
    atomic { true -> BEGIN_STEP
        ptl = FREE;
        put_folio(page, 2);
        RETURN_FROM_FAULT
    }

    /* VM_FAULT_SIGBUS: force_sig_fault(SIGBUS) for a user access, -EFAULT for GUP */
sigbus:
    atomic { true -> BEGIN_STEP
        result = RES_SIGBUS;
        FINISH
    }

    /* mm/userfaultfd.c:handle_userfault(VM_UFFD_WP): the task waits for the uffd monitor */
userfault:
    atomic { true -> BEGIN_STEP
        FINISH
    }

    /* pteverify's DONE: the thread has finished (a valid end state) */
end_done:
    false
