"""Every shipped scenario and variant gives its expected verdict, with and without partial-order
reduction; on a violation, the trace is a real path of the model that ends in the violation."""

import pytest

from pteverify.explore import VIOLATED, explore
from pteverify.model import check_footprints

from conftest import scenario_variants
from scenario_helpers import assert_valid_trace

_results = {}


def _run(sc, v, reduction):
    key = (sc.name, v.name, reduction)
    if key not in _results:
        _results[key] = explore(sc.build(v), reduction=reduction)
    return _results[key]


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
