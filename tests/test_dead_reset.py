"""Dead-variable reduction (explore(reset_dead=True)): a thread's private fields that no step it can
still take reads, and no invariant or final predicate reads, are reset to their initial value. It
must give the verdict of the full search on every shipped variant, with no more states."""

from __future__ import annotations

from pteverify.explore import explore
from pteverify.model import GOTO, Model
from pteverify.scenario import load_scenarios


def test_dead_reset_is_verdict_equal_on_every_shipped_variant():
    saved = 0
    for sc in load_scenarios().values():
        for v in sc.variants:
            cm = sc.build(v)
            full = explore(cm, reduction=False)
            for reduction in (False, True):
                dead = explore(cm, reduction=reduction, reset_dead=True)
                where = f"{sc.name}:{v.name} reduction={reduction}"
                assert (dead.verdict, dead.invariant) == (full.verdict, full.invariant), where
                if full.verdict == "holds" and not reduction:
                    assert dead.stats.states <= full.stats.states, where
                    saved += full.stats.states - dead.stats.states
            if dead.verdict == "violated":       # the trace replays in the reduced model
                s = dead.model.initial
                for ti, nxt in dead.path:
                    assert nxt in dead.model.fire(ti, s), where
                    s = nxt
    assert saved > 0            # it merges states somewhere


def _scratch(read_late: bool):
    """t0 computes a private scratch value, uses it once (or again at the end), then works on."""
    m = Model("scratch")
    m.field("scratch", 0, range(4))
    m.field("shared", 0, range(4))
    m.field("out", 0, range(4))
    t0 = m.thread("t0")
    t0.step("compute", "scratch = shared", effect=lambda s: {"scratch": s.shared},
            reads=["shared"], writes=["scratch"])
    t0.step("use", "out = scratch > 1", effect=lambda s: {"out": int(s.scratch > 1)}, reads=["scratch"],
            writes=["out"])
    t0.step("work", "out = out", effect=lambda s: {"out": s.out}, reads=["out"], writes=["out"])
    if read_late:
        t0.step("reuse", "out = scratch", effect=lambda s: {"out": s.scratch}, reads=["scratch"],
                writes=["out"])
    t1 = m.thread("t1")
    t1.step("bump", "shared++", effect=lambda s: {"shared": s.shared + 1} if s.shared < 3 else {GOTO: "done"},
            reads=["shared"], writes=["shared"], branches=["done"])
    t1.step("again", "loop", effect=lambda s: {GOTO: "bump"}, branches=["bump"])
    m.final("out_small", lambda s: s.out <= 3, ["out"])
    return m.compile()


def test_dead_fields_are_reset_only_where_no_step_reads_them_again():
    cm = _scratch(read_late=False)
    dead = cm.with_dead_reset().dead[0]          # per pc of t0: (slot, init) to reset
    i = cm.index["scratch"]
    assert [bool(r) for r in dead] == [False, False, True, True]     # after `use`, scratch is dead
    assert all(slot == i for r in dead for slot, _ in r)
    full, red = explore(cm, reduction=False), explore(cm, reduction=False, reset_dead=True)
    assert full.verdict == red.verdict == "holds" and red.stats.states < full.stats.states
    late = _scratch(read_late=True)
    assert not any(late.with_dead_reset().dead[0][:4])           # read again at the end: live
    # shared fields, invariant fields and locks are never reset
    assert all(slot == i for t in cm.with_dead_reset().dead for r in t for slot, _ in r)
