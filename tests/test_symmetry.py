"""Symmetry reduction (verifier/symmetry.py): verdict-equal to the full search on every shipped
variant whose model declares symmetric threads (alone and with partial-order reduction, packed and
tuple searches), the declaration checked (structure at compile time, behaviour on every reachable
state), wrong declarations refused with the reason, and the CLI option. The random-model
differential test is in tests/test_reduction.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pteverify.explore import HOLDS, VIOLATED, explore
from pteverify.model import GOTO, Model, ModelError
from pteverify.scenario import get_scenario, load_scenarios
from pteverify.symmetry import check_symmetry

from scenario_helpers import assert_valid_trace

# the shipped scenarios whose models declare symmetric threads (a model that drops its declaration
# fails here)
SYMMETRIC = {"counters", "lost-update", "mte-swapin", "mte-readpage-race", "mte-shmem"}


def _variants():
    out = []
    for name in sorted(SYMMETRIC):
        sc = get_scenario(name)
        out += [(name, v.name) for v in sc.variants]
    return out


@pytest.mark.parametrize("scenario,variant", _variants())
def test_shipped_variant_verdict_equal_with_symmetry(scenario, variant):
    sc = get_scenario(scenario)
    cm = sc.build(sc.variant(variant))
    assert cm.symmetry is not None
    assert check_symmetry(cm) == []            # on every reachable state
    for red in (False, True):
        full = explore(cm, reduction=red)
        sym = explore(cm, reduction=red, symmetry=True)
        tup = explore(cm, reduction=red, symmetry=True, packed=False)
        assert (sym.verdict, sym.kind, sym.invariant) == (full.verdict, full.kind, full.invariant)
        assert (tup.verdict, tup.stats.states, tup.stats.transitions, tup.path) == \
            (sym.verdict, sym.stats.states, sym.stats.transitions, sym.path)
        assert sym.stats.symmetry_used
        if full.verdict == VIOLATED:
            assert_valid_trace(sym)
            assert len(sym.path) == len(full.path)
        else:
            assert sym.stats.states < full.stats.states


def test_every_symmetric_shipped_model_is_listed():
    """SYMMETRIC is the list of shipped models with a declaration (the default variant's build)."""
    found = set()
    for name, sc in load_scenarios().items():
        if sc.build(sc.variant(None)).symmetry is not None:
            found.add(name)
    assert found == SYMMETRIC


def test_counters_orbits_are_multisets():
    """N threads with private counters 0..K: the orbits are the multisets, C(N+K, N) of them."""
    from math import comb
    sc = get_scenario("counters")
    for n, k in ((3, 4), (4, 3), (2, 5)):
        cm = sc.build(sc.variant(None), {"counter.threads": n, "counter.increments": k})
        r = explore(cm, symmetry=True)
        assert r.verdict == HOLDS and r.stats.states == comb(n + k, n)
        assert explore(cm).stats.states == (k + 1) ** n


def _pair(who_writes_identity=False, reader_field=None):
    m = Model("pair")
    m.field("x", 0, range(3))
    m.field("who", "-", ("-", "a", "b"))
    m.field("la", 0, range(3))
    m.field("lb", 0, range(3))
    m.lock("L")
    for name, local in (("a", "la"), ("b", "lb")):
        t = m.thread(name)
        t.step("take", "lock", acquire="L", effect=(lambda f: lambda s: {f: s.x})(local),
               reads=["x"], writes=[local])
        eff = ((lambda f, me: lambda s: {"x": (getattr(s, f) + 1) % 3, "who": me})(local, name)
               if who_writes_identity else
               (lambda f: lambda s: {"x": (getattr(s, f) + 1) % 3})(local))
        t.step("put", "unlock", release="L", effect=eff, reads=[local], writes=["x", "who"])
    m.final("both", lambda s: s.x == 2, ["x"])
    return m


def test_a_correct_declaration_checks_and_reduces():
    m = _pair()
    m.symmetric(["a", "b"], [("la", "lb")])
    cm = m.compile()
    assert check_symmetry(cm) == []
    full, sym = explore(cm, reduction=False), explore(cm, reduction=False, symmetry=True)
    assert full.verdict == sym.verdict == HOLDS and sym.stats.states < full.stats.states


def test_a_step_that_names_its_thread_is_not_symmetric():
    """Structure passes (same labels, renamed footprints), behaviour does not: the check finds it
    and explore(symmetry=True) refuses to search."""
    m = _pair(who_writes_identity=True)
    m.symmetric(["a", "b"], [("la", "lb")])
    cm = m.compile()
    problems = check_symmetry(cm)
    assert problems and "disagree" in problems[0]
    with pytest.raises(ModelError, match="declared symmetry is not one of the model"):
        explore(cm, symmetry=True)


@pytest.mark.parametrize("threads,fields,match", [
    (["a"], [], "at least two threads"),
    (["a", "c"], [("la", "lb")], "unknown thread"),
    (["a", "b"], [], "declared (reads|writes) are not the renamed ones"),
    (["a", "b"], [("la", "who")], "differ in domain"),
    (["a", "b"], [("la", "lb"), ("la", "lb")], "listed twice"),
    (["a", "b"], [("L", "la")], "is a lock"),
])
def test_bad_declarations_are_refused(threads, fields, match):
    m = _pair()
    m.symmetric(threads, fields)
    with pytest.raises(ModelError, match=match):
        m.compile()


def test_an_invariant_reading_one_copy_is_refused():
    m = _pair()
    m.invariant("peek", lambda s: s.la < 3, ["la"])
    m.symmetric(["a", "b"], [("la", "lb")])
    with pytest.raises(ModelError, match="can tell symmetric threads apart"):
        m.compile()


def test_different_code_is_refused():
    """swapin-two-faults: fault0 loads, fault1 stores: not the same code."""
    sc = get_scenario("swapin-two-faults")
    m = sc.builder(sc.knob_values(sc.variant(None)))
    m.symmetric(["fault0", "fault1"], [(f, f.replace("fault0", "fault1")) for f in m.fields
                                       if f.startswith("fault0_") and f.replace("fault0", "fault1") in m.fields])
    with pytest.raises(ModelError):
        m.compile()


def test_symmetric_trace_shows_the_real_threads():
    """The trace is replayed from the real initial state (de-canonicalised): it may run either
    fault first, and each row is a step of the thread it names."""
    sc = get_scenario("mte-readpage-race")
    cm = sc.build(sc.variant("readpage-hook"))
    r = explore(cm, symmetry=True)
    assert r.verdict == VIOLATED
    assert_valid_trace(r)
    assert {cm.thread_names[ti] for ti, _ in r.path} == {"fault0", "fault1"}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pteverify", *args], capture_output=True, text=True,
                          env={"NO_COLOR": "1", "COLUMNS": "100", "PATH": "/usr/bin:/bin"})


def test_cli_run_symmetry():
    p = _cli("run", "mte-shmem", "--symmetry")
    assert p.returncode == 0, p.stderr
    assert "symmetry on (task0/task1: one state per orbit)" in p.stdout
    p = _cli("run", "mte-shmem", "--symmetry", "--coverage")
    assert p.returncode == 2 and "--symmetry" in p.stderr


def test_cli_check_symmetry():
    p = _cli("check", "--no-layouts", "--only", "mte-shmem*", "--symmetry", "--baseline", "/dev/null")
    assert p.returncode == 0, p.stdout + p.stderr
