"""The engine on classic models: exact state counts against reference enumerators, bounds,
reduction soundness details, footprint checking that can fail."""

import itertools

import pytest

from pteverify.explore import HOLDS, INCOMPLETE, VIOLATED, explore
from pteverify.model import GOTO, Knob, Knobs, KnobError, Model, ModelError, builder, check_footprints
from pteverify.models.scenarios import classic
from pteverify.scenario import get_scenario


def build(fn, **values):
    return fn(Knobs(fn.knobs, values)).compile()


def reference_states(cm):
    """A naive reference enumerator: depth-first, recursive-free, no reduction, no shortcuts."""
    seen = {cm.initial}
    stack = [cm.initial]
    while stack:
        s = stack.pop()
        for _, n in cm.successors(s):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


def counters_by_hand(n, k):
    """The counters model written directly over tuples, independent of the modelling API."""
    init = (0,) * n
    seen = {init}
    frontier = [init]
    while frontier:
        nxt = []
        for s in frontier:
            for i in range(n):
                if s[i] < k:
                    t = s[:i] + (s[i] + 1,) + s[i + 1:]
                    if t not in seen:
                        seen.add(t)
                        nxt.append(t)
        frontier = nxt
    return len(seen)


@pytest.mark.parametrize("n,k", [(1, 0), (1, 5), (2, 3), (3, 4), (4, 3), (3, 20)])
def test_counters_exact_count(n, k):
    cm = build(classic.counters, **{"counter.threads": n, "counter.increments": k})
    r = explore(cm, reduction=False)
    assert r.verdict == HOLDS
    assert r.stats.states == (k + 1) ** n == counters_by_hand(n, k) == len(reference_states(cm))
    # every state has one transition per thread that has not finished
    assert r.stats.transitions == sum(sum(1 for c in s if c < k)
                                      for s in itertools.product(range(k + 1), repeat=n))


def test_counters_visible_to_the_invariant_are_not_reduced():
    cm = build(classic.counters, **{"counter.threads": 3, "counter.increments": 4})
    r = explore(cm, reduction=True)
    full = explore(cm, reduction=False)
    # the counters are independent but every step writes what the invariant reads (C2): no singleton
    # can be used, the explorer sees that statically and runs the full search
    assert not r.stats.reduction_used
    assert (r.stats.states, r.stats.transitions) == (full.stats.states, full.stats.transitions) == (125, 300)


def test_lost_update_reference_count():
    cm = build(classic.lost_update)
    full = explore(cm, reduction=False, shortest=False)
    assert full.verdict == VIOLATED and full.invariant == "no_lost_update"
    # a full search without stopping at the violation reaches the reference count
    seen = reference_states(cm)
    assert len(seen) == 75
    finals = {s.x for s in seen if cm.all_done(s)}
    assert finals == {2, 3, 4}


@pytest.mark.parametrize("fn,values,expect,broken", [
    (classic.peterson, {}, HOLDS, None),
    (classic.peterson, {"peterson.flag_before_turn": False}, VIOLATED, "mutual_exclusion"),
    (classic.peterson, {"peterson.rounds_forever": False}, HOLDS, None),
    (classic.philosophers, {}, VIOLATED, "deadlock"),
    (classic.philosophers, {"philosophers.count": 5}, VIOLATED, "deadlock"),
    (classic.philosophers, {"philosophers.ordered": True}, HOLDS, None),
    (classic.philosophers, {"philosophers.ordered": True, "philosophers.count": 5}, HOLDS, None),
    (classic.lost_update, {"lost_update.atomic": True}, HOLDS, None),
])
@pytest.mark.parametrize("reduction", [False, True])
def test_classic_verdicts(fn, values, expect, broken, reduction):
    r = explore(build(fn, **values), reduction=reduction)
    assert r.verdict == expect and r.invariant == broken


def test_reduced_states_are_reachable():
    for fn, values in [(classic.peterson, {}), (classic.philosophers, {"philosophers.ordered": True}),
                       (classic.lost_update, {"lost_update.atomic": True})]:
        cm = build(fn, **values)
        r = explore(cm, reduction=True, graph=True)
        assert set(r.parent) <= reference_states(cm)


def test_peterson_deadlock_free_and_cyclic():
    cm = build(classic.peterson)
    states = reference_states(cm)
    assert all(cm.successors(s) for s in states), "Peterson never deadlocks"
    assert explore(cm, reduction=False).stats.states == len(states) == 20


def test_bounds_give_incomplete_never_holds():
    cm = build(classic.counters, **{"counter.increments": 30})
    r = explore(cm, reduction=False, max_states=1000)
    assert r.verdict == INCOMPLETE and r.bound == "max_states"
    r = explore(cm, reduction=True, max_states=1000)
    assert r.verdict == INCOMPLETE
    r = explore(cm, reduction=False, max_seconds=1e-9)
    assert r.verdict == INCOMPLETE and r.bound == "max_seconds"


def test_shortest_trace_under_reduction():
    cm = build(classic.peterson, **{"peterson.flag_before_turn": False})
    a = explore(cm, reduction=False)
    b = explore(cm, reduction=True)
    assert len(a.path) == len(b.path) == 6


def _bad_footprint_model(knobs):
    m = Model("bad-footprint")
    m.field("x", 0, (0, 1))
    m.field("y", 0, (0, 1))
    t = m.thread("t")
    t.step("write_y_undeclared", "y = x", effect=lambda s: {"y": s.x}, reads=[], writes=["x"])
    t.step("out_of_domain", "x = 2", effect=lambda s: {"x": 2}, writes=["x"])
    m.invariant("reads_y", lambda s: s.y == 0 or True, [], "reads y without declaring it")
    return m


def test_footprint_checker_reports_violations():
    cm = _bad_footprint_model(None).compile()
    found = {(v.label, v.kind, v.fields) for v in check_footprints(cm)}
    assert ("write_y_undeclared", "read", ("x",)) in found
    assert ("write_y_undeclared", "write", ("y",)) in found
    assert ("out_of_domain", "domain", ("x=2",)) in found
    assert ("reads_y", "read", ("y",)) in found


def test_undeclared_write_cannot_leak():
    """The compiled step copies undeclared fields: an effect cannot change what it did not declare."""
    m = Model("leaky-write")
    m.field("x", 0, (0, 1))
    m.field("y", 0, (0, 1))
    m.thread("t").step("write_y_undeclared", "x = 1; y = 1", effect=lambda s: {"x": 1, "y": 1},
                       writes=["x"])
    for reduction in (False, True):
        r = explore(m.compile(), reduction=reduction, graph=True)
        assert {(s.x, s.y) for s in r.parent} == {(0, 0), (1, 0)}
    (_, s1), = m.compile().successors(m.compile().initial)
    assert (s1.x, s1.y) == (1, 0)


def test_undeclared_read_is_a_model_error():
    """Guards and effects see only their declared reads (their outcomes are memoised by them), so an
    undeclared read is reported at run time, naming the step and the field."""
    cm = _bad_footprint_model(None).compile()
    with pytest.raises(ModelError, match="write_y_undeclared: reads field 'x' outside its declared"):
        cm.successors(cm.initial)


def test_goto_to_undeclared_label_is_an_error():
    m = Model("bad-goto")
    m.field("x", 0)
    t = m.thread("t")
    t.step("a", "jump", effect=lambda s: {GOTO: "nowhere"}, branches=["a"])
    cm = m.compile()
    with pytest.raises(ModelError):
        cm.successors(cm.initial)


def test_model_validation():
    m = Model("v")
    m.field("x", 0)
    m.thread("t").step("a", "", effect=lambda s: {})
    with pytest.raises(ModelError, match="kernel reference"):
        m.compile()
    with pytest.raises(ModelError):
        Model("w").field("_x", 0)


def test_knob_parsing():
    k = Knob("a.b", False, "doc")
    assert k.parse("true") is True and k.parse("0") is False
    with pytest.raises(KnobError):
        k.parse("maybe")
    n = Knob("n", 3, "doc", domain=(2, 3, 4))
    assert n.parse("4") == 4
    with pytest.raises(KnobError):
        Knobs([n], {"n": "9"})
    with pytest.raises(KnobError, match="unknown knob"):
        Knobs([n], {"m": 1})


def test_lock_blocks_other_thread():
    @builder()
    def two_lockers(knobs):
        m = Model("locks")
        m.lock("ptl")
        m.field("inside", 0, (0, 1, 2))
        for name in ("a", "b"):
            t = m.thread(name)
            t.step("lock", "spin_lock(ptl)", acquire="ptl",
                   effect=lambda s: {"inside": s.inside + 1}, reads=["inside"], writes=["inside"])
            t.step("unlock", "spin_unlock(ptl)", release="ptl",
                   effect=lambda s: {"inside": s.inside - 1}, reads=["inside"], writes=["inside"])
        m.invariant("exclusive", lambda s: s.inside <= 1, ["inside"])
        return m
    for red in (False, True):
        assert explore(two_lockers(None).compile(), reduction=red).verdict == HOLDS


def test_registry_expectations_are_known_verdicts():
    sc = get_scenario("peterson")
    assert {v.name: v.expect for v in sc.variants} == {"correct": "holds", "one-round": "holds",
                                                       "broken-order": "violated"}


@pytest.mark.parametrize("kw", [dict(reduction=False), dict(reduction=False, packed=False),
                                dict(reduction=True), dict(reduction=True, packed=False)],
                         ids=["packed", "tuple", "reduced-packed", "reduced-tuple"])
def test_max_states_is_never_exceeded(kw):
    """--max-states N stores at most N states in every search (checked at each insertion, not only
    between expansions)."""
    visible = build(classic.counters, **{"counter.threads": 3, "counter.increments": 30})
    private = Model("private")                  # nothing visible: the reduction applies
    for i in range(3):
        private.field(f"c{i}", 0, range(51))
    for i in range(3):
        t = private.thread(f"t{i}")
        for j in range(50):
            t.step(f"inc{j}", "c++", effect=(lambda f: lambda s: {f: getattr(s, f) + 1})(f"c{i}"),
                   reads=[f"c{i}"], writes=[f"c{i}"])
    for cm in (visible, private.compile()):
        for n in (1, 2, 7, 100):
            r = explore(cm, max_states=n, **kw)
            assert r.verdict == INCOMPLETE and r.bound == "max_states" and r.stats.states <= n
