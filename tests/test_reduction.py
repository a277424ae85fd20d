"""The partial-order reduction is verdict-equal to the full search.

- The reproducer of the old unsound combination (ample sets + sleep sets under the breadth-first
  cycle proviso said "holds" on a violated model).
- A differential property test over random models (tests/random_models.py): the packed and the
  tuple searches agree state for state, reduced and unreduced; reduced and unreduced searches give the same verdict; a reduced trace replays step by step to a state that breaks what
  the result says broke; the shortened trace is as short as the unreduced search's.
- The static decision: a model in which no step can ever reduce runs the unreduced search.
- The same random models under dead-variable reduction (explore(reset_dead=True)).
- Random models with lockless (`Mem`) steps transformed for x86-TSO and arm64 (verifier/memmodel.py):
  the same differential (packed = tuple, reduced = unreduced, traces replay), exact footprints.

Profiles: the default run draws PTEVERIFY_DIFF_EXAMPLES (2,000) models; the nightly profile
(`PTEVERIFY_TEST_PROFILE=deep python -m pytest tests/test_reduction.py`) draws 100,000.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pteverify.explore import HOLDS, INCOMPLETE, VIOLATED, explore
from pteverify.memmodel import transform
from pteverify.model import GOTO, Model, check_footprints
from pteverify.reduce import Reducer

from conftest import examples
from random_models import ModelSpec, StepSpec, build, model_specs
from scenario_helpers import assert_valid_trace

MAX_STATES = 20_000


def sleeping_ample_thread_model(k: int = 6) -> Model:
    """t0 loops over k private steps; t1 writes a private field, then the field the invariant reads."""
    m = Model("probe")
    m.field("c0", 0, range(k))
    m.field("c1", 0, range(2))
    m.field("bad", 0, (0, 1))
    t0 = m.thread("t0")
    for j in range(k):
        last = j == k - 1
        eff = (lambda s: {"c0": 0, GOTO: "inc0"}) if last else (lambda j: lambda s: {"c0": j + 1})(j)
        t0.step(f"inc{j}", "c0++", effect=eff, reads=["c0"], writes=["c0"],
                branches=["inc0"] if last else [])
    t1 = m.thread("t1")
    t1.step("local", "c1 = 1", effect=lambda s: {"c1": 1}, writes=["c1"])
    t1.step("set_bad", "bad = 1", effect=lambda s: {"bad": 1}, writes=["bad"])
    m.invariant("never_bad", lambda s: s.bad == 0, ["bad"])
    return m


@pytest.mark.parametrize("k", [1, 2, 3, 6, 9])
def test_sleeping_ample_thread_regression(k):
    cm = sleeping_ample_thread_model(k).compile()
    full = explore(cm, reduction=False)
    red = explore(cm, reduction=True, shortest=False)
    assert full.verdict == red.verdict == VIOLATED
    assert red.stats.reduction_used and red.stats.reduced_expansions > 0
    assert_valid_trace(red)


def differential(spec, memory_model: str | None = None, max_states: int = 0) -> tuple:
    MAX_STATES = max_states or globals()["MAX_STATES"]
    model = build(spec)
    if memory_model is not None:
        model = transform(model, memory_model)
    cm = model.compile()
    full = explore(cm, reduction=False, max_states=MAX_STATES, shortest=False)
    if full.verdict == INCOMPLETE:
        return full, None
    # the unreduced search runs on packed states; the tuple search (used for coverage and graphs)
    # must visit the same states in the same order
    tup = explore(cm, reduction=False, max_states=MAX_STATES, shortest=False, packed=False)
    assert (tup.verdict, tup.kind, tup.invariant, tup.stats.states, tup.stats.transitions, tup.path) == \
        (full.verdict, full.kind, full.invariant, full.stats.states, full.stats.transitions, full.path)
    red = explore(cm, reduction=True, max_states=MAX_STATES, shortest=False)
    red_tup = explore(cm, reduction=True, max_states=MAX_STATES, shortest=False, packed=False)
    assert (red_tup.verdict, red_tup.kind, red_tup.stats.states, red_tup.stats.transitions, red_tup.path) == \
        (red.verdict, red.kind, red.stats.states, red.stats.transitions, red.path)
    assert red.verdict == full.verdict, (red.verdict, red.invariant, full.verdict, full.invariant)
    if full.verdict == VIOLATED:
        assert_valid_trace(red)
        assert_valid_trace(full)
        shortest = explore(cm, reduction=True, max_states=MAX_STATES)
        assert len(shortest.path) == len(full.path)
        assert_valid_trace(shortest)
    else:
        assert red.stats.states <= full.stats.states
    # dead-variable reduction (opt-in, explore(reset_dead=True); with partial-order reduction too it
    # is held to the full search on the shipped variants, tests/test_dead_reset.py): the same verdict,
    # a trace that replays in the reset model and is as short as the full search's (merged states have
    # the same futures), no more states
    dead = explore(cm, reduction=False, reset_dead=True, max_states=MAX_STATES, shortest=False)
    assert dead.verdict == full.verdict, (dead.verdict, dead.invariant, full.invariant)
    if full.verdict == VIOLATED:
        assert_valid_trace(dead)
        assert len(dead.path) == len(full.path)
    else:
        assert dead.stats.states <= full.stats.states
    return full, red


@settings(max_examples=examples(2_000, 100_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_specs())
def test_reduction_is_verdict_equal_on_random_models(spec):
    differential(spec)


MEM_MAX_STATES = 1_500      # store buffers multiply states: a bound keeps every example a small search


@settings(max_examples=examples(40, 10_000), deadline=None, database=None, derandomize=examples(True, False),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_specs(max_threads=3, max_steps=4, mem=True), st.sampled_from(["tso", "arm64"]))
def test_reduction_is_verdict_equal_on_random_models_under_memory_models(spec, memory_model):
    differential(spec, memory_model, MEM_MAX_STATES)


def test_random_memory_models_are_not_vacuous():
    """The lockless steps matter: many drawn models get store buffers, their footprints stay exact
    after the transformation, and the generator's vocabulary expresses store buffering (the SB shape
    written as a ModelSpec: forbidden under SC, allowed under TSO and arm64, forbidden with mb)."""
    seen = {"total": 0, "complete": 0, "buffered": 0}

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(model_specs(max_threads=3, max_steps=4, mem=True))
    def sample(spec):
        seen["total"] += 1
        m = transform(build(spec), "arm64")
        cm = m.compile()
        r = explore(cm, reduction=False, max_states=MEM_MAX_STATES, shortest=False)
        if r.verdict == INCOMPLETE:
            return
        seen["complete"] += 1
        if any(t.name.endswith("~sb") for t in m.threads):
            seen["buffered"] += 1
            assert check_footprints(cm, max_states=2_000) == [], spec

    sample()
    assert seen["complete"] >= 0.8 * seen["total"], seen
    assert seen["buffered"] >= 0.2 * seen["total"], seen

    def sb(fence):
        mem = lambda loads, stores, **kw: (loads, stores, (), "relaxed", kw.get("before", ""), "")  # noqa: E731
        t0 = [StepSpec(outcomes=[[("g0", "const", 1)]], mem=mem((), ("g0",))),
              StepSpec(outcomes=[[("p0", "copy", "g1")]], mem=mem(("g1",), (), before=fence))]
        t1 = [StepSpec(outcomes=[[("g1", "const", 1)]], mem=mem((), ("g1",))),
              StepSpec(outcomes=[[("p1", "copy", "g0")]], mem=mem(("g0",), (), before=fence))]
        return ModelSpec({"g0": 2, "g1": 2, "p0": 2, "p1": 2}, [("t0", t0), ("t1", t1)], [], [],
                         [("both_zero", [("p0", 0), ("p1", 0)])])

    def allowed(spec, mm):
        full, red = differential(spec, mm)
        return full.verdict == VIOLATED

    assert not allowed(sb(""), None)
    assert allowed(sb(""), "tso") and allowed(sb(""), "arm64")
    assert not allowed(sb("mb"), "tso") and not allowed(sb("mb"), "arm64")


def test_random_models_exercise_the_reduction():
    """The generator is not vacuous: most drawn models are searched to the end, a good share can
    reduce and do, and both verdicts (and each kind of violation) occur."""
    seen = {"total": 0, "complete": 0, "reduced": 0, HOLDS: 0, "invariant": 0, "deadlock": 0, "final": 0,
            "cyclic": 0}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(model_specs())
    def sample(spec):
        full, red = differential(spec)
        seen["total"] += 1
        if red is None:
            return
        seen["complete"] += 1
        seen[full.kind or HOLDS] += 1
        if red.stats.reduced_expansions and red.stats.states < full.stats.states:
            seen["reduced"] += 1
        if any(sp.jump and sp.jump[0] is None for _, steps in spec.threads for sp in steps):
            seen["cyclic"] += 1

    sample()
    total = seen["total"]
    assert seen["complete"] >= 0.9 * total, seen
    assert seen["reduced"] >= 0.2 * total, seen
    for k in (HOLDS, "invariant", "deadlock", "final", "cyclic"):
        assert seen[k] >= 0.01 * total, seen


def test_static_decision_runs_the_full_search_when_nothing_can_reduce():
    """Every step writes the field the invariant reads: no singleton can ever be invisible."""
    m = Model("visible")
    m.field("x", 0, range(4))
    for name in ("a", "b"):
        t = m.thread(name)
        t.step("inc", "x++", effect=lambda s: {"x": (s.x + 1) % 4}, reads=["x"], writes=["x"])
    m.invariant("small", lambda s: s.x < 4, ["x"])
    cm = m.compile()
    assert not Reducer(cm).useful
    red, full = explore(cm, reduction=True), explore(cm, reduction=False)
    assert not red.stats.reduction_used
    assert (red.stats.states, red.stats.transitions) == (full.stats.states, full.stats.transitions)


def test_independent_private_steps_reduce_to_one_interleaving():
    """Three threads each stepping a private counter, nothing visible: one interleaving remains."""
    m = Model("private")
    n, k = 3, 4
    for i in range(n):
        m.field(f"c{i}", 0, range(k + 1))
    for i in range(n):
        t = m.thread(f"t{i}")
        for j in range(k):
            t.step(f"inc{j}", "c++", effect=(lambda f: lambda s: {f: getattr(s, f) + 1})(f"c{i}"),
                   reads=[f"c{i}"], writes=[f"c{i}"])
    cm = m.compile()
    red, full = explore(cm, reduction=True), explore(cm, reduction=False)
    assert red.verdict == full.verdict == HOLDS
    assert full.stats.states == (k + 1) ** n
    assert red.stats.states == n * k + 1


# ------------------------------------------------------------------------------------------
# Symmetry reduction (verifier/symmetry.py) on random models with symmetric thread groups: the
# same verdict as the full search, alone and with partial-order reduction, packed and tuple
# searches storing the same representatives, traces that replay from the real initial state and
# are as short as the full search's, and never more states.

def symmetric_differential(spec):
    from pteverify.symmetry import check_symmetry
    cm = build(spec).compile()
    assert cm.symmetry is not None
    full = explore(cm, reduction=False, max_states=MAX_STATES, shortest=False)
    if full.verdict == INCOMPLETE:
        return full, None
    assert check_symmetry(cm) == [], "the generator's copies must be symmetric"
    out = None
    for red in (False, True):
        sym = explore(cm, reduction=red, symmetry=True, max_states=MAX_STATES, shortest=False)
        tup = explore(cm, reduction=red, symmetry=True, max_states=MAX_STATES, shortest=False, packed=False)
        assert (tup.verdict, tup.kind, tup.stats.states, tup.stats.transitions, tup.path) == \
            (sym.verdict, sym.kind, sym.stats.states, sym.stats.transitions, sym.path)
        assert sym.verdict == full.verdict, (red, sym.verdict, sym.invariant, full.verdict, full.invariant)
        if full.verdict == VIOLATED:
            assert_valid_trace(sym)
            if not red:
                assert len(sym.path) == len(full.path), "a symmetric search's trace is a shortest one"
        else:
            assert sym.stats.states <= full.stats.states
        out = out or sym
    return full, out


@settings(max_examples=examples(400, 20_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_specs(symmetric=True))
def test_symmetry_is_verdict_equal_on_random_models(spec):
    symmetric_differential(spec)


def test_random_symmetric_models_reduce():
    """The symmetric generator is not vacuous: orbits merge states in most complete models, and both
    verdicts occur."""
    seen = {"total": 0, "complete": 0, "merged": 0, HOLDS: 0, VIOLATED: 0}

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(model_specs(symmetric=True))
    def sample(spec):
        full, sym = symmetric_differential(spec)
        seen["total"] += 1
        if sym is None:
            return
        seen["complete"] += 1
        seen[full.verdict] += 1
        if sym.stats.states < full.stats.states:
            seen["merged"] += 1

    sample()
    assert seen["complete"] >= 0.9 * seen["total"], seen
    assert seen["merged"] >= 0.5 * seen["complete"], seen
    assert seen[HOLDS] >= 0.05 * seen["total"] and seen[VIOLATED] >= 0.05 * seen["total"], seen
