"""Helpers the scenario-specific tests share: cached runs, trace navigation, reachability.

Verdicts with and without reduction, footprints and golden counts of every scenario variant are
checked once, generically, by test_scenarios.py; the per-issue test files check what is specific to
their races (the kernel's steps in order, the fixed kernel's window being reached)."""

from pteverify.explore import HOLDS, VIOLATED, explore
from pteverify.model import Knobs, Model
from pteverify.models.mm import MM, pte_present
from pteverify.scenario import get_scenario

_cache = {}


def build(scenario, variant, overrides=None, only=None):
    """The compiled model of a variant; `only`: check just this invariant (or final predicate)."""
    sc = get_scenario(scenario)
    cm = sc.build(sc.variant(variant), overrides)
    if only:
        cm.invariants = [i for i in cm.invariants if i.name == only]
        cm.finals = [f for f in cm.finals if f.name == only]
    return cm


def run(scenario, variant, reduction=True, overrides=None, only=None):
    key = (scenario, variant, reduction, tuple(sorted((overrides or {}).items())), only)
    if key not in _cache:
        _cache[key] = explore(build(scenario, variant, overrides, only), reduction=reduction)
    return _cache[key]


def first(trace, thread, label, start=0, where=None):
    """Index of the first step `thread.label` at or after `start` (whose changes satisfy `where`)."""
    for i in range(start, len(trace)):
        t = trace[i]
        if t.thread == thread and t.label == label and (where is None or where(t.changes)):
            return i
    raise AssertionError(f"{thread}.{label} not in the trace after step {start}: "
                         + ", ".join(f"{t.thread}.{t.label}" for t in trace))


def labels(trace):
    return [f"{t.thread}.{t.label}" for t in trace]


def reachable(scenario, variant, pred):
    """Is a state satisfying pred(cm, s) reachable (unreduced, every interleaving)?"""
    cm = build(scenario, variant)
    seen, todo = {cm.initial}, [cm.initial]
    while todo:
        s = todo.pop()
        if pred(cm, s):
            return True
        for _, n in cm.successors(s):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return False


# Checks no shipped variant violates but mutants do (tests/test_mutate.py: test_exit_checks_kill_leaks,
# test_a_leaked_unlock_is_killed_at_exit): what a correct kernel guarantees at exit.
KILLED_BY_MUTANTS = {"nothing_leaked", "swapoff_leaves_no_swap_reference", "locks_released",
                     # tests/test_mutate.py::test_new_checks_kill_their_mutants
                     "tag_checked_loads_checked", "shmem_nothing_leaked", "shmem_mapped_folio_in_page_cache",
                     "shmem_add_to_page_cache_locked", "both_loads_read_the_data",
                     "uffd_wp_fork_keeps_protection", "writer_store_returns", "no_zram_double_copy",
                     "last_store_visible", "parent_store_visible", "child_store_visible", "child_load_read",
                     "load_read_the_page", "migration_keeps_data", "dma_data_visible",
                     "swap_count_matches_references", "pipe_reads_the_write",
                     "writeback_ends", "parent_store_lands", "child_store_lands", "writer_store_lands",
                     "user_store_lands", "child_range_zapped", "pipe_reads_fork_time_data",
                     "writable_pte_only_in_vm_write",
                     # tests/test_mutate.py::test_checks_of_the_2026_scenarios_kill_their_mutants
                     "store_after_dontneed_on_zero_page", "store_lands_on_old_contents",
                     "move_enoent_only_for_a_hole", "move_returned",
                     # tests/test_mutate.py::test_checks_of_the_fork_and_migration_scenarios_kill_their_mutants
                     "exclusive_page_mapped_once", "write_protect_seq_closed",
                     "child_inherits_the_page", "page_migrated", "store_without_write_fault",
                     # tests/test_mutate.py::test_checks_of_session_4_kill_their_mutants
                     "batched_pte_change_has_flush_pending", "cleared_pte_stays_none_under_ptl",
                     "unmapped_until_refault"}


def check_registry(expected: dict, ordered: bool = False) -> None:
    """The scenario files hold exactly the variants the issue's tests expect, each naming the commit
    or release it stands for, with the expected verdict and invariant (a second, independent record
    of the expectations test_scenarios.py reads from the files)."""
    for name, variants in expected.items():
        sc = get_scenario(name)
        got = [v.name for v in sc.variants]
        assert (got == list(variants)) if ordered else (set(got) == set(variants)), name
        for v in sc.variants:
            assert v.stands_for, f"{name}:{v.name} names no commit or release"
            assert v.expect == (VIOLATED if variants[v.name] else HOLDS)
            assert v.invariant == variants[v.name]


def invariant_on(build_inv, state, **ghosts):
    """Evaluate one invariant (or final predicate) built by `build_inv(mm, *ghost_fields)` on a bare
    mm (PTE, folios A and B, one swap slot, the given ghosts) in the state `state` (field -> value)."""
    m = Model("p", "", Knobs(()))
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_present("A"))
    mm.add_folios()
    mm.add_swap_slot()
    names = {g: mm.ghost(g, v, g) for g, v in ghosts.items()}
    build_inv(mm, *names.values())
    m.thread("t").step("x", "noop")
    cm = m.compile()
    checks = [c for c in cm.invariants + cm.finals if c.name != "locks_released"]    # not the engine's
    assert len(checks) == 1
    return checks[0].fn(cm.make_state(state))


def assert_valid_trace(r):
    """Replay the path: every step is a transition of its thread, and the end state breaks what the
    result says broke."""
    cm = r.model
    prev = cm.initial
    for ti, s in r.path:
        assert s in cm.fire(ti, prev), f"step by {cm.thread_names[ti]} is not a transition"
        prev = s
    if r.kind == "invariant":
        inv = next(i for i in cm.invariants if i.name == r.invariant)
        assert not inv.fn(prev)
        for s in r.states_in_trace[:-1]:
            assert cm.check_invariants(s) is None, "violation should be first on the path"
    elif r.kind == "deadlock":
        assert not cm.successors(prev) and not cm.all_done(prev)
    elif r.kind == "progress":
        assert r.invariant in {p.name for p in cm.progress}
        if r.lasso.cycle:
            assert prev == r.states_in_trace[r.cycle_start], "the lasso's cycle ends where it starts"
            assert len(r.path) > r.cycle_start
        else:
            assert not cm.successors(prev)
    else:
        inv = next(i for i in cm.finals if i.name == r.invariant)
        assert not cm.successors(prev) and cm.all_done(prev) and not inv.fn(prev)
