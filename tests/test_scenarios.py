"""Every shipped scenario and variant gives its expected verdict, with and without partial-order
reduction; on a violation, the trace is a real path of the model that ends in the violation."""

import pytest

from pteverify.explore import VIOLATED, explore
from pteverify.model import check_footprints

from conftest import scenario_variants

_results = {}


def _run(sc, v, reduction):
    key = (sc.name, v.name, reduction)
    if key not in _results:
        _results[key] = explore(sc.build(v), reduction=reduction)
    return _results[key]


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


@pytest.mark.parametrize("reduction", [False, True], ids=["full", "reduced"])
@pytest.mark.parametrize("sc,v", scenario_variants())
def test_expected_verdict(sc, v, reduction, record_property):
    r = _run(sc, v, reduction)
    record_property("states", r.stats.states)
    assert r.verdict == v.expect, f"{sc.name}:{v.name} gave {r.verdict} ({r.invariant})"
    if reduction and v.states is not None:
        assert r.stats.states == v.states, "state count drifted from the golden count in the scenario file"
    if r.verdict == VIOLATED:
        assert r.invariant == v.invariant
        assert_valid_trace(r)


@pytest.mark.parametrize("sc,v", scenario_variants())
def test_reduction_agrees_and_shrinks(sc, v):
    full, red = _run(sc, v, False), _run(sc, v, True)
    assert full.verdict == red.verdict and full.invariant == red.invariant
    if full.verdict == VIOLATED:
        # the reduced search's trace was re-searched to a shortest one
        assert len(red.path) == len(full.path)
    else:
        assert red.stats.states <= full.stats.states
        assert red.stats.transitions <= full.stats.transitions


@pytest.mark.parametrize("sc,v", scenario_variants())
def test_footprints_are_declared(sc, v):
    """No step (or invariant) of a shipped model touches a field outside its declared footprint."""
    assert check_footprints(sc.build(v), max_states=20000) == []


@pytest.mark.parametrize("sc,v", scenario_variants())
def test_deterministic(sc, v):
    a = explore(sc.build(v), reduction=True, max_states=50000)
    b = explore(sc.build(v), reduction=True, max_states=50000)
    assert (a.verdict, a.stats.states, a.path) == (b.verdict, b.stats.states, b.path)
