"""swapoff-progress: try_to_unuse()'s retry loop under weak fairness.

The maybe_same_pte() form (179ef71cbc08 on a CONFIG_MEM_SOFT_DIRTY=n kernel) gives a lasso whose cycle
is swapoff alone going round unuse_pte_range -> unuse_pte (no match) -> tail -> retry; the
pte_same_as_swp() form maps the page, frees the slot and finishes.
"""

import pytest

from pteverify.explore import HOLDS, VIOLATED
from pteverify.trace import race_table, trace_steps

from scenario_helpers import assert_valid_trace, build, run


def test_maybe_same_pte_retries_forever():
    r = run("swapoff-progress", "179ef71cbc08-nosoftdirty")
    assert r.verdict == VIOLATED and r.kind == "progress" and r.invariant == "swapoff_finishes"
    assert r.lasso.cycle, "a cycle, not a stuck state"
    assert_valid_trace(r)                               # the path replays; the cycle closes
    start = r.states_in_trace[r.cycle_start]
    cycle = [st.label for st in trace_steps(r)[r.cycle_start:]]
    assert {"unuse_pte", "free_swap", "tail", "unuse_pte_range"} <= set(cycle)
    assert "set_pte" not in cycle, "the PTE never matches"
    assert start.pte.is_swap and start.pte.soft_dirty and start.swp_count == 1
    assert "goto retry" in race_table(r)


@pytest.mark.parametrize("variant", ["pte_same_as_swp", "mainline-2026"])
def test_pte_same_as_swp_finishes(variant):
    r = run("swapoff-progress", variant)
    assert r.verdict == HOLDS, r.invariant
    cm = build("swapoff-progress", variant)
    assert [p.name for p in cm.progress] == ["swapoff_finishes"]

