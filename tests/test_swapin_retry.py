"""swapin-eexist-livelock: the swap-in -EEXIST retry under weak fairness, two RT tasks on one core.

Before 029c4628b2eb the retry's cond_resched() keeps the highest-priority task on the core: the lasso's
cycle is that task alone (lookup, swapcache_prepare() -> -EEXIST, cond_resched()) while the
SWAP_HAS_CACHE holder cannot run; schedule_timeout_uninterruptible(1) lets it run and the retry ends.
13ddaf26be32's skip-swapcache pin and the 2026 swap cache are do_swap_page() of models/memory.py
(the one model of it) under the same scheduler: the 2026 loser waits only asleep on a folio lock.
"""

import pytest

from pteverify.explore import HOLDS, VIOLATED
from pteverify.trace import trace_steps

from scenario_helpers import assert_valid_trace, build, run

# variant -> (the holder's steps before the preemption, the spinning task's cycle, the cycle's start)
LASSOS = {
    "029c4628b2eb^": ({("low", "swapin.prepare"), ("high", "sched.wake")},
                      {"swapin.lookup", "swapin.prepare", "swapin.wait"},
                      lambda s: s.swp_has_cache and not s.low_got),
    "13ddaf26be32-no-sleep": ({("low", "dsp.lookup"), ("high", "sched.wake")},
                              {"access", "dsp.lookup", "dsp.eexist_wait"},
                              lambda s: s.swp_has_cache and s.swp_cache == "-" and s.low_page == "A"),
    "seeded-folio-lock-spin": ({("low", "dsp.lookup"), ("low", "dsp.lock"), ("high", "sched.wake")},
                               {"dsp.lock"},
                               lambda s: s.swp_cache == "A" and s.A_lock != 0 and s.high_page == "A"),
}


@pytest.mark.parametrize("variant", sorted(LASSOS))
def test_a_spinning_waiter_retries_forever(variant):
    before, spin, start_ok = LASSOS[variant]
    r = run("swapin-eexist-livelock", variant)
    assert r.verdict == VIOLATED and r.kind == "progress" and r.invariant == "high_finishes"
    assert r.lasso.cycle, "a cycle, not a stuck state"
    assert_valid_trace(r)                               # the path replays; the cycle closes
    start = r.states_in_trace[r.cycle_start]
    steps = trace_steps(r)
    prefix = {(st.thread, st.label) for st in steps[:r.cycle_start]}
    cycle = [(st.thread, st.label) for st in steps[r.cycle_start:]]
    assert before <= prefix
    assert {t for t, _ in cycle} == {"high"}, "the holder never runs again"
    assert {lab for _, lab in cycle} == spin
    assert start.sched_high == "run" and start_ok(start)


@pytest.mark.parametrize("variant", ["029c4628b2eb", "13ddaf26be32", "mainline-2026"])
def test_a_sleeping_waiter_lets_the_holder_finish(variant):
    r = run("swapin-eexist-livelock", variant)
    assert r.verdict == HOLDS, r.invariant
    assert sorted(p.name for p in build("swapin-eexist-livelock", variant).progress) == ["high_finishes",
                                                                                       "low_finishes"]


def test_holder_preempted_between_prepare_and_add():
    """The livelock needs the preemption inside the SWAP_HAS_CACHE window: with the high-priority
    task waking only after the holder added its page, the retry never starts."""
    cm = build("swapin-eexist-livelock", "029c4628b2eb^")
    low = cm.thread_names.index("low")
    s = cm.initial
    for _ in range(3):                                # lookup, prepare, add: the low task alone
        (s,) = cm.fire(low, s)
    assert s.swp_cache == "PL" and s.low_got == "PL"


def test_do_swap_page_is_the_one_model():
    """The do_swap_page variants run memory.py's steps; only 13ddaf26be32's pin has the -EEXIST wait,
    the 2026 swap core has no pin to wait for."""
    for variant, wait in (("13ddaf26be32", True), ("mainline-2026", False)):
        cm = build("swapin-eexist-livelock", variant)
        for t in cm.threads:
            labels = {st.label for st in t.steps}
            assert {"dsp.lookup", "dsp.lock", "dsp.pte_same"} <= labels
            assert ("dsp.eexist_wait" in labels) == wait
            assert ("dsp.swapcache_clear" in labels) == wait


def test_the_high_task_never_preempts_a_spinlock_holder():
    """sched.wake, the timer and the folio-lock wake-up happen at a preemption point: never while the
    low-priority task holds the PTL (spin_lock() disables preemption)."""
    cm = build("swapin-eexist-livelock", "mainline-2026")
    high = cm.thread_names.index("high")
    wake = next(st for st in cm.threads[high].steps if st.label == "sched.wake")
    low_owner = cm.thread_names.index("low") + 1
    assert not wake.guard(cm.make_state({"ptl": low_owner}))
    assert wake.guard(cm.make_state({}))
