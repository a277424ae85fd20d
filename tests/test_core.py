"""The compiled explorer core (verifier/_core.pyx) against the pure-Python loops it replaces
(verifier/explore.py's _bfs_packed_loop and _bfs_reduced_packed): the same verdict, kind, broken
property, state and transition counts, depth, trace, coverage counts and ample expansions, on every
shipped variant (reduced and not), on random models (tests/random_models.py), on models whose
fields outgrow their bits (past one 64-bit word), under bounds, on unmemoised models (mutate's), and under symmetry reduction (the canonicalisation hook).

Where the compiled core was not built (no C compiler at install time) the comparisons are skipped
with that reason; the pure-Python core is then what every other test runs. `.ci/run` fails when a
compiler is present and the core did not build, so CI always runs these."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings

from pteverify import core as which
from pteverify.explore import explore
from pteverify.model import GOTO, Model
from pteverify.scenario import load_scenarios

from conftest import examples
from random_models import build, model_specs

needs_compiled = pytest.mark.skipif(which._core is None,
                                    reason=f"the compiled core is not built: {which.why_not}")


def _key(r):
    return (r.verdict, r.kind, r.invariant, r.bound, r.stats.states, r.stats.transitions, r.stats.max_depth,
            r.stats.reduced_expansions, r.stats.reduction_used,
            [(ti, tuple(s)) for ti, s in r.path], r.coverage and r.coverage.counts, r.trace_note,
            r.stats.progress_states, r.cycle_start, r.full_coverage and r.full_coverage.counts)


def _same(build_cm, **kw):
    """Both cores on fresh compiled models (memos are per model): their keys, which must be equal."""
    a = explore(build_cm(), core="python", **kw)
    b = explore(build_cm(), core="compiled", **kw)
    assert _key(a) == _key(b)
    return a, b


@needs_compiled
def test_compiled_core_equals_python_core_on_every_shipped_variant():
    for sc in load_scenarios().values():
        for v in sc.variants:
            try:
                _same(lambda: sc.build(v), reduction=False, coverage=True)
                _same(lambda: sc.build(v), reduction=True)
                if sc.build(v).symmetry:            # the canonicalisation hook (verifier/symmetry.py)
                    _same(lambda: sc.build(v), reduction=False, symmetry=True)
                    _same(lambda: sc.build(v), reduction=True, symmetry=True)
            except AssertionError as e:
                raise AssertionError(f"{sc.name}:{v.name}: {e}") from None


@needs_compiled
@settings(max_examples=examples(150, 20_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_specs())
def test_compiled_core_equals_python_core_on_random_models(spec):
    for reduction in (False, True):
        _same(lambda: build(spec).compile(), reduction=reduction, max_states=5_000, shortest=False)
        _same(lambda: build(spec).compile(), reduction=reduction, max_states=7)
        _same(lambda: build(spec).compile(), reduction=reduction, max_depth=2)


def _lasso_key(lasso, g):
    return (None if lasso is None else
            (lasso.prop.name, [(ti, tuple(s)) for ti, s in lasso.prefix], [(ti, tuple(s)) for ti, s in lasso.cycle],
             lasso.states, lasso.edges),
            len(g), g.complete, g.complete and g.edges, g.step_counts() if g.complete else None)


@needs_compiled
@settings(max_examples=examples(150, 20_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_specs())
def test_progress_graph_and_decision_equal_on_random_models(spec):
    """The progress check on the graph the compiled core records (and decides there) against the
    graph and decision of the Python loop: every property kind, on models with back-edges (cycles),
    one property at a time and all together, complete and bounded."""
    from pteverify import progress
    cm = build(spec).compile()
    props = []
    for t in cm.threads:
        props.append(progress.ProgressProperty(f"fin_{t.name}", progress.FINISHES, thread=t.name))
        props.append(progress.ProgressProperty(f"fires_{t.name}", progress.FIRES, thread=t.name,
                                               label=t.steps[-1].label))
    props.append(progress.ProgressProperty("npc", progress.NPC,
                                           progress=((cm.threads[0].name, cm.threads[0].steps[0].label),)))
    for prop in props:
        a = progress.check(build(spec).compile(), [prop], core="python")
        b = progress.check(build(spec).compile(), [prop], core="compiled")
        assert _lasso_key(*a) == _lasso_key(*b), prop.name
    for bound in (None, 5):
        a = progress.check(build(spec).compile(), props, bound, core="python")
        b = progress.check(build(spec).compile(), props, bound, core="compiled")
        assert _lasso_key(*a) == _lasso_key(*b)


def _wide(n: int, bad_at: int | None, memoise: bool = True):
    """Three fields with no declared domain, each taking n values one after the other (so each
    outgrows its bits several times and, for large n, the state outgrows one 64-bit word), plus a
    reader whose memo keys on them; a violation when all three reach bad_at."""
    m = Model("wide")
    m.memoise = memoise
    for f in ("x", "y", "z"):
        m.field(f, "v0")
    m.field("k", 0, range(n + 1))
    m.field("seen", ())
    w = m.thread("writer")
    w.step("bump", "k++; x, y, z = names of k",
           effect=lambda s: ({"k": s.k + 1, "x": f"v{s.k + 1}", "y": ("y", s.k + 1), "z": s.k + 1001}
                             if s.k < n else {GOTO: "done"}),
           reads=["k"], writes=["k", "x", "y", "z"], branches=["done"])
    w.step("loop", "again", effect=lambda s: {GOTO: "bump"}, branches=["bump"])
    for r in ("r0", "r1"):
        t = m.thread(r)
        t.step("look", "seen = (x, z) or (y,)", effect=lambda s: [{"seen": (s.x, s.z)}, {"seen": (s.y,)}],
               reads=["x", "y", "z"], writes=["seen"])
        t.step("again", "look again", effect=lambda s: {GOTO: "look"}, branches=["look"])
    if bad_at is not None:
        m.invariant("never_bad", lambda s: s.seen != (f"v{bad_at}", bad_at + 1000), ["seen"])
    return m


@needs_compiled
@pytest.mark.parametrize("n", [1, 5, 40, 300])
def test_fields_outgrowing_their_bits_and_a_word(n):
    a, b = _same(lambda: _wide(n, None).compile(), reduction=False, coverage=True)
    assert a.verdict == "holds"
    if n == 300:
        assert b.model.packed().top > 64          # the compiled store was widened to two words
    a, b = _same(lambda: _wide(n, n).compile(), reduction=False)
    assert a.verdict == "violated" and b.path[-1][1].seen == (f"v{n}", n + 1000)
    _same(lambda: _wide(n, n).compile(), reduction=True)


@needs_compiled
def test_unmemoised_models_and_bounds():
    _same(lambda: _wide(9, 9, memoise=False).compile(), reduction=False, coverage=True)
    _same(lambda: _wide(9, None, memoise=False).compile(), reduction=True)
    for kw in ({"max_states": 1}, {"max_states": 2}, {"max_states": 100}, {"max_depth": 0}, {"max_depth": 5}):
        a, _ = _same(lambda: _wide(40, None).compile(), reduction=False, **kw)
        assert a.verdict == "incomplete"


@needs_compiled
def test_the_store_is_the_parent_map():
    cm = _wide(3, None).compile()
    pk = cm.packed()
    from pteverify import _core
    eng = _core.Engine(pk)
    out = eng.run(pk.initial, -1, -1, False, lambda s: None, lambda t, d: None)
    assert out[0] == _core.HOLDS
    store = eng.store
    ref = {pk.initial: None}
    from pteverify.explore import Stats, _bfs_packed
    import time
    _bfs_packed(cm, pk, ref, Stats(), time.perf_counter(), None, None, None, None)
    assert len(store) == len(ref)
    assert [store.state(i) for i in range(len(store))] == list(ref)
    assert all(store[s] == p for s, p in ref.items())
    assert -1 not in store and (1 << 4000) not in store
    with pytest.raises(KeyError):
        store[-5]


def test_the_core_in_use_is_named():
    env = dict(os.environ, PTEVERIFY_CORE="python")
    out = subprocess.run([sys.executable, "-m", "pteverify", "--version"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0 and "explorer core: pure Python (PTEVERIFY_CORE=python)" in out.stdout
    env.pop("PTEVERIFY_CORE")
    out = subprocess.run([sys.executable, "-m", "pteverify", "doctor"], capture_output=True, text=True, env=env)
    assert out.returncode == 0
    assert ("explorer core: compiled (Cython)" if which._core is not None
            else "explorer core: pure Python (compiled core not available") in out.stdout
    # forcing the python core runs the Python loops (the same result)
    cm = _wide(5, None).compile()
    assert isinstance(explore(cm, reduction=False, core="python"), object)
    with pytest.raises(ValueError):
        explore(cm, core="fortran")
