"""swapin-eexist-livelock: the swap-in -EEXIST retry under weak fairness, two RT tasks on one core.

Before 029c4628b2eb the retry's cond_resched() keeps the highest-priority task on the core: the lasso's
cycle is that task alone (lookup, swapcache_prepare() -> -EEXIST, cond_resched()) while the
SWAP_HAS_CACHE holder cannot run; schedule_timeout_uninterruptible(1) lets it run and the retry ends.
"""

import pytest

from pteverify.explore import HOLDS, VIOLATED
from pteverify.trace import trace_steps

from scenario_helpers import assert_valid_trace, build, run


@pytest.mark.parametrize("variant", ["029c4628b2eb^", "13ddaf26be32-no-sleep"])
def test_cond_resched_retries_forever(variant):
    r = run("swapin-eexist-livelock", variant)
    assert r.verdict == VIOLATED and r.kind == "progress" and r.invariant == "high_finishes"
    assert r.lasso.cycle, "a cycle, not a stuck state"
    assert_valid_trace(r)                               # the path replays; the cycle closes
    start = r.states_in_trace[r.cycle_start]
    steps = trace_steps(r)
    prefix = [(st.thread, st.label) for st in steps[:r.cycle_start]]
    cycle = [(st.thread, st.label) for st in steps[r.cycle_start:]]
    assert ("low", "swapin.prepare") in prefix and ("high", "sched.wake") in prefix
    assert {t for t, _ in cycle} == {"high"}, "the holder never runs again"
    assert {lab for _, lab in cycle} == {"swapin.lookup", "swapin.prepare", "swapin.wait"}
    assert start.swp_has_cache and start.sched_high == "run" and not start.low_got


@pytest.mark.parametrize("variant", ["029c4628b2eb", "13ddaf26be32"])
def test_schedule_timeout_lets_the_holder_finish(variant):
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
