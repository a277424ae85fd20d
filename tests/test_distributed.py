"""The hash-partitioned prototype (verifier/distributed.py) finds what the single-process search
finds: the same reachable states (holding variants), the same verdict and violation depth."""

from __future__ import annotations

import pytest

from pteverify.distributed import explore_partitioned
from pteverify.explore import HOLDS, VIOLATED, explore
from pteverify.scenario import get_scenario


@pytest.mark.parametrize("scenario,variant", [("odirect-swapout", None), ("counters", None),
                                              ("mte-readpage-race", "readpage-hook"),
                                              ("philosophers", None)])
def test_partitioned_search_agrees_with_one_process(scenario, variant):
    sc = get_scenario(scenario)
    cm = sc.build(sc.variant(variant))
    one = explore(cm, reduction=False)
    d = explore_partitioned(cm, workers=2)
    assert d.verdict == one.verdict
    if one.verdict == HOLDS:
        assert (d.states, d.transitions, d.depth) == (one.stats.states, one.stats.transitions, one.stats.max_depth)
        assert sum(d.per_worker) == d.states and min(d.per_worker) > 0
    else:
        assert (d.kind, d.invariant) == (one.kind, one.invariant)
        assert d.result.verdict == VIOLATED and len(d.result.path) == len(one.path)
