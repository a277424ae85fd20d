"""Today's kernel (issue 12): the 2026 swap core in do_swap_page(), the swap table's count overflow
(swap-count-overflow) and UFFDIO_MOVE of a swap PTE against the swap cache (uffd-move-swapcache).
Verdicts, golden counts and footprints of every variant are checked by test_scenarios.py; these tests
check that the races are the ones the kernel's messages describe and that the 2026 forms do what the
2026 tree does."""

import pytest

from pteverify.explore import HOLDS, VIOLATED, explore
from pteverify.model import FREE, KnobError, Model
from pteverify.models.memory import emit_fault_handlers
from pteverify.models.mm import MM, NO_FOLIO, ORIGINAL, Kernel, SwapCluster, pte_present, pte_swap
from pteverify.models.swapfile import emit_swap_dup_entry_direct, emit_swap_put_entries_direct
from pteverify.models.user import emit_access
from pteverify.trace import trace_steps

from scenario_helpers import build, check_registry, first, run

EXPECTED = {
    "swap-count-overflow": {"mainline-2026": None, "849929c21817": "extend_table_freed_when_unused",
                            "extend-table-leak-fix": None, "mainline-2026-alone": None,
                            "extend-table-leak-fix-alone": None},
    "uffd-move-swapcache": {"adef440691ba": "swapcache_folio_rmap_matches_pte",
                            "c50f8e6053b0": "swapcache_folio_rmap_matches_pte", "0ea148a79919": None,
                            "mainline-2026": None},
    "uffd-move-batch-pin": {"v6.17": None, "mainline-2026": None, "mainline-2026-arm64": None,
                            "seeded-no-recheck": "pinned_page_not_moved", "v6.17-arm64-memory-model": None,
                            "mainline-2026-arm64-memory-model": "pinned_page_not_moved",
                            "mainline-2026-tso": None, "mainline-2026-arm64-smp_mb": None,
                            "mainline-2026-batch2": None,
                            "mainline-2026-batch2-arm64-memory-model": "pinned_page_not_moved",
                            "mainline-2026-batch2-arm64-smp_mb": None, "mainline-2026-batch2-tso": None,
                            "seeded-batch-no-recheck": "pinned_page_not_moved"},
}


def test_registry_has_the_issue_variants():
    check_registry(EXPECTED)


# --------------------------------------------------------------------------------------------
# swap-count-overflow


def test_extend_table_leak_is_the_race_of_the_fix_message():
    """dup at SWP_TB_COUNT_MAX - 1 -> -ENOMEM, ci->lock dropped, table installed; the zap lowers the
    count; the restart increments in the table word and leaves the zeroed table attached."""
    t = trace_steps(run("swap-count-overflow", "849929c21817"))
    enomem = first(t, "fork", "dup.dup")
    assert t[enomem].changes == {}                                   # -ENOMEM: nothing changed yet
    alloc = first(t, "fork", "dup.extend_alloc", enomem)
    assert t[alloc].changes["extend_table"] == (False, True)
    put = first(t, "zap0", "put.put", alloc)
    assert t[put].changes["swp_tb_count"] == (2, 1)
    retry = first(t, "fork", "dup.dup", put)
    assert t[retry].changes["swp_tb_count"] == (1, 2) and retry == len(t) - 1


@pytest.mark.parametrize("fixed", [False, True])
def test_freeing_the_cluster_with_the_table_attached(fixed):
    """After the leak, the last references go: the cluster is freed with the zeroed extend table
    attached (swap_cluster_assert_empty() WARNs), unless swap_cluster_free_table() frees it."""
    m = Model("leak-then-free")
    sc = SwapCluster(m, count=2, max=3, teardown_frees_extend=fixed)
    emit_swap_dup_entry_direct(m.thread("fork"), sc, form="leaky")
    zap = m.thread("zap")
    emit_swap_put_entries_direct(zap, sc, form="leaky", cont="put1.put", prefix="put0")
    emit_swap_put_entries_direct(zap, sc, form="leaky", cont="put2.put", prefix="put1")
    emit_swap_put_entries_direct(zap, sc, form="leaky", prefix="put2")
    cm = m.compile()
    s = cm.initial
    for ti in (0, 0, 1, 0, 1, 1):      # dup -ENOMEM, alloc, put, dup (leaks), put, put (frees the slot)
        (s,) = [n for t, n in cm.successors(s) if t == ti]
    assert getattr(s, sc.count) == 0 and getattr(s, sc.freed_with_extend)
    assert getattr(s, sc.extend) == (not fixed)


def _dups(n, count, form):
    m = Model("dups")
    sc = SwapCluster(m, count=count, max=3)
    for i in range(n):
        emit_swap_dup_entry_direct(m.thread(f"fork{i}"), sc, form=form, prefix=f"dup{i}")
    return m.compile(), sc


@pytest.mark.parametrize("form", ["posted-fix", "recheck"])
def test_overflow_counts_in_the_extend_table(form):
    """Two dups from SWP_TB_COUNT_MAX - 1: the table word stops at SWP_TB_COUNT_MAX, the rest of the
    count is in extend_table[ci_off]; every interleaving ends with the same count (two dups racing
    for the allocation: the second finds the table attached and frees its own)."""
    cm, sc = _dups(2, 2, form)
    r = explore(cm, reduction=False, graph=True)
    finals = {s for s in r.parent if not cm.successors(s)}
    assert {(getattr(s, sc.count), getattr(s, sc.extend), getattr(s, sc.extend_cnt)) for s in finals} == {(3, True, 4)}


@pytest.mark.parametrize("form", ["posted-fix", "recheck"])
def test_put_brings_the_count_back_into_the_table_word(form):
    m = Model("put")
    sc = SwapCluster(m, count=2, max=3)
    emit_swap_dup_entry_direct(m.thread("fork"), sc, form=form)
    emit_swap_put_entries_direct(m.thread("zap"), sc, form=form, cont="done")
    cm = m.compile()
    # sequential: dup (-ENOMEM, alloc, dup to MAX with extend 3), then put: extend 3 -> MAX - 1 -> freed
    s = cm.initial
    for ti in (0, 0, 0, 1):
        (s,) = [n for t, n in cm.successors(s) if t == ti]
    assert (getattr(s, sc.count), getattr(s, sc.extend), getattr(s, sc.extend_cnt)) == (2, False, 0)


def _fork_vs_zap(dup_form, put_form):
    m = Model("fork-vs-zap")
    sc = SwapCluster(m, count=2, max=3)
    emit_swap_dup_entry_direct(m.thread("fork"), sc, form=dup_form)
    emit_swap_put_entries_direct(m.thread("zap"), sc, form=put_form)
    return m.compile(), sc


def _run(cm, order):
    s = cm.initial
    for ti in order:
        (s,) = [n for t, n in cm.successors(s) if t == ti]
    return s


def test_recheck_frees_the_table_when_the_put_came_first():
    """@000bd100: dup -ENOMEM, the zap puts the count to SWP_TB_COUNT_MAX - 2, then
    swap_extend_table_alloc() re-checks the count under ci->lock and frees its allocation."""
    cm, sc = _fork_vs_zap("recheck", "recheck")
    s = _run(cm, (0, 1, 0))                 # dup -ENOMEM, put 2 -> 1, alloc (re-check: count 1)
    assert (getattr(s, sc.count), getattr(s, sc.extend)) == (1, False)
    s = _run(cm, (0, 1, 0, 0))              # and the restart increments in the table word
    assert (getattr(s, sc.count), getattr(s, sc.extend)) == (2, False)


def test_recheck_put_frees_a_table_attached_just_before_it():
    """@000bd100: the table is installed at SWP_TB_COUNT_MAX - 1, then the put leaves the count at
    SWP_TB_COUNT_MAX - 2 and __swap_cluster_put_entry() frees the unused table."""
    cm, sc = _fork_vs_zap("recheck", "recheck")
    s = _run(cm, (0, 0, 1))                 # dup -ENOMEM, alloc installs, put 2 -> 1
    assert (getattr(s, sc.count), getattr(s, sc.extend)) == (1, False)


@pytest.mark.parametrize("dup_form,put_form", [("recheck", "leaky"), ("leaky", "recheck")])
def test_each_half_of_the_recheck_fix_alone_still_leaks(dup_form, put_form):
    """The re-check in swap_extend_table_alloc() alone misses a put right after the install; the
    put-side try-free alone misses a put before the install: both halves are needed."""
    cm, sc = _fork_vs_zap(dup_form, put_form)
    r = explore(cm, reduction=False, graph=True)
    finals = {s for s in r.parent if not cm.successors(s)}
    assert any(getattr(s, sc.extend) and getattr(s, sc.extend_cnt) == 0 for s in finals)
    cm, sc = _fork_vs_zap("recheck", "recheck")
    r = explore(cm, reduction=False, graph=True)
    finals = {s for s in r.parent if not cm.successors(s)}
    assert {(getattr(s, sc.count), getattr(s, sc.extend)) for s in finals} == {(2, False)}


def test_unknown_extend_table_form_is_a_model_error():
    from pteverify.model import ModelError
    m = Model("bad")
    sc = SwapCluster(m, count=2, max=3)
    with pytest.raises(ModelError, match="extend table form"):
        emit_swap_dup_entry_direct(m.thread("fork"), sc, form="fixed")


# --------------------------------------------------------------------------------------------
# uffd-move-swapcache


def test_move_without_its_folio_is_race_two_of_0ea148a79919():
    """The lookup finds no folio; the page is faulted in (a read fault: the folio stays in the swap
    cache) and swapped out again with the same entry; the move passes is_pte_pages_stable() and moves
    the swap PTE without the folio, whose anon rmap stays with the source VMA."""
    t = trace_steps(run("uffd-move-swapcache", "c50f8e6053b0"))
    lookup = first(t, "mover", "move.lookup")
    assert t[lookup].changes == {}                                   # no folio in the swap cache yet
    swapin = first(t, "user", "dsp.set_pte", lookup)
    assert t[swapin].changes["A_avma"] == ("-", "src")
    swapout = first(t, "user", "unmap.set", swapin)
    assert t[swapout].changes["pte"][1] == pte_swap(exclusive=True)   # the same entry again
    move = first(t, "mover", "move.pte", swapout)
    assert t[move].changes["dst_pte"][1].is_swap and "A_avma" not in t[move].changes
    assert move == len(t) - 1


def test_mainline_rechecks_the_swap_cache_under_the_ptls():
    from scenario_helpers import build
    cm = build("uffd-move-swapcache", "mainline-2026")
    steps = {st.label: st for st in cm.threads[cm.thread_names.index("mover")].steps}
    assert "swap_cache_has_folio(entry)" in steps["move.pte"].ref
    assert "swap_cache_get_folio(entry)" in steps["move.lookup"].ref


# --------------------------------------------------------------------------------------------
# do_swap_page: the 2026 form


def _one_fault(op, **kernel):
    k = Kernel(**kernel)
    m = Model("fault")
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap(exclusive=True))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    t = mm.thread("t")
    emit_access(t, k, op)
    emit_fault_handlers(t, k)
    cm = m.compile()
    r = explore(cm, reduction=False, graph=True)
    (end,) = [s for s in r.parent if not cm.successors(s)]
    return cm, mm, end


@pytest.mark.parametrize("writable", [True, False])
def test_read_fault_maps_an_exclusive_folio_writable_since_v6_11(writable):
    _, mm, s = _one_fault("load", swapin_map_writable=writable, synchronous_io=False)
    assert getattr(s, mm.pte) == pte_present("A", write=writable)
    assert getattr(s, mm.swp_cache) == "A" and getattr(s, mm.swp_count) == 0     # read fault: cached


def test_soft_dirty_tracking_keeps_a_clean_swap_in_read_only():
    _, mm, s = _one_fault("load", soft_dirty_tracking=True, synchronous_io=False)
    assert getattr(s, mm.pte) == pte_present("A")


@pytest.mark.parametrize("swap_table", [True, False])
def test_synchronous_io_swap_in_goes_through_the_swap_cache_in_2026(swap_table):
    """2026: SWP_SYNCHRONOUS_IO reads into the swap cache and folio_free_swap() after set_ptes()
    releases the slot; before: the skip-swapcache path never puts the folio in the swap cache."""
    cm, mm, s = _one_fault("load", synchronous_io=True, swap_table=swap_table, swapcache_prepare=True)
    labels = [st.label for st in cm.threads[0].steps]
    assert ("dsp.free_swap" in labels) == swap_table and ("dsp.swapcache_clear" in labels) != swap_table
    assert getattr(s, mm.swp_cache) == NO_FOLIO and getattr(s, mm.swp_count) == 0
    assert not getattr(s, mm.swp_has_cache) and getattr(s, mm.swp_data) == "-"   # the slot is free


# --------------------------------------------------------------------------------------------
# uffd-move-batch-pin


def test_second_pin_test_closes_the_window_between_test_and_clear():
    """Without the second folio_maybe_dma_pinned(): GUP-fast pins after the first test and re-reads the
    PTE before ptep_get_and_clear(); the pinned page moves to the destination."""
    t = trace_steps(run("uffd-move-batch-pin", "seeded-no-recheck"))
    check = first(t, "mover", "move.check")
    grab = first(t, "gup_fast", "gupf.grab", check)
    assert t[grab].changes["A_pin"] == (0, 1)
    recheck = first(t, "gup_fast", "gupf.recheck", grab)
    clear = first(t, "mover", "move.clear", recheck)
    moved = first(t, "mover", "move.set", clear)
    assert t[moved].changes["dst_pte"][1].folio == "A"


def test_mainline_restores_the_pte_when_a_pin_appeared():
    """In the 2026 form the same interleaving ends with the source PTE restored (-EBUSY)."""
    from scenario_helpers import reachable
    assert reachable("uffd-move-batch-pin", "mainline-2026",
                     lambda cm, s: s.mover_move_result == "-EBUSY" and s.pte.present and s.A_pin == 1)


def _label(cm, ti, s):
    return cm.label_at(ti, s)


def test_batch2_moves_b_only_after_check_ptes_for_batched_move():
    """Batch of two: B's PTE is cleared and B is mapped at the destination only by the second
    iteration (move.clear1 / move.set1), after check_ptes_for_batched_move() (move.next) returned B
    locked; B is never tested for a pin before its clear, and when GUP-fast's pin is there at the
    post-clear test, B's PTE is restored."""
    cm = build("uffd-move-batch-pin", "mainline-2026-batch2")
    labels_ = [st.label for st in cm.threads[0].steps]
    assert labels_.index("move.next") < labels_.index("move.clear1") < labels_.index("move.set1") \
        < labels_.index("move.flush")
    mover = cm.threads[0].name
    seen, todo = {cm.initial}, [cm.initial]
    restored = moved = 0
    while todo:
        s = todo.pop()
        for ti, n in cm.successors(s):
            label = _label(cm, ti, s)
            if s.pte1 != n.pte1 and cm.threads[ti].name == mover:
                if not n.pte1.present:                  # only the second ptep_get_and_clear() clears B
                    assert label == "move.clear1" and s.mover_move_folio == "B" and s.B_lock != FREE
                else:                                   # set_pte_at(src, orig_src_pte): -EBUSY
                    assert label == "move.set1" and n.B_pin == 1 and n.pte1 == s.mover_move_orig
                    restored += 1
            if n.dst_pte1.present and not s.dst_pte1.present:
                assert label == "move.set1" and s.mover_move_folio == "B" and s.B_pin == 0
                assert s.B_lock != FREE                    # locked by check_ptes_for_batched_move()
                moved += 1
            if n not in seen:
                seen.add(n)
                todo.append(n)
    assert restored and moved


def test_batch2_seeded_moves_the_pinned_second_folio():
    """Without the post-clear test in the later iteration: GUP-fast pins B after it was admitted and
    the pinned B moves to the destination."""
    t = trace_steps(run("uffd-move-batch-pin", "seeded-batch-no-recheck"))
    nxt = first(t, "mover", "move.next", where=lambda c: c.get("mover_move_folio", (None, None))[1] == "B")
    grab = first(t, "gup_fast", "gupf.grab")
    assert t[grab].changes["B_pin"] == (0, 1)
    moved = first(t, "mover", "move.set1", nxt)
    assert t[moved].changes["dst_pte1"][1].folio == "B" and moved > grab


def test_batch_knob_combinations_are_refused():
    for overrides in ({"uffd.move_batch": 2, "uffd.move_present_pte": "v6.17"},
                      {"uffd.move_present_pte": "seeded-batch-no-recheck"}):
        with pytest.raises(KnobError):
            build("uffd-move-batch-pin", "mainline-2026", overrides)
