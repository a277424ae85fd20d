"""The packed-state search (verifier/packed.py) against the tuple search it replaces on the hot path:
same verdict, same state and transition counts, same depth and the same trace, on every shipped
variant and on models built to stress the packing (fields that outgrow their bits, blind writes)."""

from __future__ import annotations

import pytest

from pteverify.explore import explore
from pteverify.model import GOTO, Model, ModelError
from pteverify.scenario import load_scenarios


def _key(r):
    return (r.verdict, r.kind, r.invariant, r.stats.states, r.stats.transitions, r.stats.max_depth,
            [(ti, tuple(s)) for ti, s in r.path], r.coverage and r.coverage.counts)


def _both(cm, **kw):
    """The tuple search and the packed one, both counting coverage."""
    tuple_search = explore(cm, reduction=False, packed=False, coverage=True, **kw)
    packed_search = explore(cm, reduction=False, coverage=True, **kw)
    return tuple_search, packed_search


def test_packed_search_equals_tuple_search_on_every_shipped_variant():
    for sc in load_scenarios().values():
        for v in sc.variants:
            a, b = _both(sc.build(v))
            assert _key(a) == _key(b), f"{sc.name}:{v.name}"
            # a second search of the same compiled model runs on warm memos
            cm = sc.build(v)
            assert _key(explore(cm, reduction=False))[:-1] == _key(b)[:-1]
            assert _key(explore(cm, reduction=False, coverage=True)) == _key(b)


def _growing(n: int, bad_at: int | None):
    """A field with no declared domain that takes n values (so it outgrows its first bits several
    times), written blind by one thread while another reads it."""
    m = Model("growing")
    m.field("x", "v0")
    m.field("seen", ("none",))
    m.field("k", 0, range(n + 1))
    w = m.thread("writer")
    w.step("bump", "k++; x = 'v' + k (blind write)",
           effect=lambda s: {"k": s.k + 1, "x": f"v{s.k + 1}"} if s.k < n else {GOTO: "done"},
           reads=["k"], writes=["k", "x"], branches=["done"])
    w.step("loop", "again", effect=lambda s: {GOTO: "bump"}, branches=["bump"])
    r = m.thread("reader")
    r.step("look", "seen = (x,) twice", effect=lambda s: [{"seen": (s.x,)}, {"seen": (s.x, s.x)}],
           reads=["x"], writes=["seen"])
    r.step("again", "look again", effect=lambda s: {GOTO: "look"}, branches=["look"])
    if bad_at is not None:
        m.invariant("never_bad", lambda s: s.seen != (f"v{bad_at}",), ["seen"])
    return m.compile()


@pytest.mark.parametrize("n", [1, 3, 4, 9, 40])
def test_packing_survives_fields_outgrowing_their_bits(n):
    a, b = _both(_growing(n, None))
    assert a.verdict == "holds" and _key(a) == _key(b)
    a, b = _both(_growing(n, n))
    assert a.verdict == "violated" and _key(a) == _key(b)
    assert b.path[-1][1].seen == (f"v{n}",)


def test_bounds_and_unhashable_values():
    cm = _growing(40, None)
    r = explore(cm, reduction=False, max_states=50)
    assert r.verdict == "incomplete" and r.bound == "max_states"
    m = Model("unhashable")
    m.field("x", 0)
    m.thread("t").step("set", "x = []", effect=lambda s: {"x": []}, writes=["x"])
    with pytest.raises(ModelError, match="not hashable"):
        explore(m.compile(), reduction=False)


def test_undeclared_reads_are_model_errors_in_the_packed_search():
    m = Model("sneaky")
    m.field("x", 0, (0, 1))
    m.field("y", 0, (0, 1))
    m.thread("t").step("peek", "y = x", effect=lambda s: {"y": s.x}, writes=["y"])
    with pytest.raises(ModelError, match="peek: reads field 'x' outside"):
        explore(m.compile(), reduction=False)
    m = Model("sneaky-invariant")
    m.field("x", 0, (0, 1))
    m.thread("t").step("set", "x = 1", effect=lambda s: {"x": 1}, writes=["x"])
    m.invariant("peeks", lambda s: s.x == 0 or True, [])
    with pytest.raises(ModelError, match="invariant peeks: reads field 'x'"):
        explore(m.compile(), reduction=False)
