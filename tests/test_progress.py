"""Progress properties under weak fairness: lassos found where a retry loop can spin forever with
every thread treated fairly, none where only an unfair schedule spins; counterexamples replay."""

from __future__ import annotations

import pytest

from pteverify.explore import HOLDS, INCOMPLETE, VIOLATED, explore
from pteverify.model import GOTO, Model, ModelError
from pteverify.trace import race_table

from scenario_helpers import assert_valid_trace


def busy_wait(knobs=None) -> Model:
    """A spins until B sets the flag; B sets it once. The spin alone is unfair to B, so A finishes."""
    m = Model("busy-wait")
    m.field("flag", 0, (0, 1))
    a = m.thread("a")
    a.step("check", "while (!READ_ONCE(flag)) cpu_relax()", reads=["flag"], branches=["check"],
           effect=lambda s: {} if s.flag else {GOTO: "check"})
    b = m.thread("b")
    b.step("set", "WRITE_ONCE(flag, 1)", effect=lambda s: {"flag": 1}, writes=["flag"])
    m.eventually_finishes("a_finishes", "a")
    m.eventually_fires("b_sets", "b", "set")
    return m


def livelock() -> Model:
    """A retries while it sees `busy`; B flips `busy` forever. A fair run can have A look only
    while it is set: A never finishes (the shape of a fault retrying on a transient -EEXIST).
    The model is MODEL below, the same text the scenario-file tests load as a user's module."""
    ns: dict = {}
    exec(MODEL, ns)
    m = ns["build"](None)
    m.eventually_finishes("fault_finishes", "fault")
    return m


def test_unfair_spin_is_not_a_counterexample():
    r = explore(busy_wait().compile(), reduction=False)
    assert r.verdict == HOLDS, r.invariant
    assert "progress" in r.trace_note


def test_livelock_found_as_a_fair_lasso():
    r = explore(livelock().compile())
    assert r.verdict == VIOLATED and r.kind == "progress" and r.invariant == "fault_finishes"
    assert_valid_trace(r)
    cyc = {r.model.thread_names[ti] for ti, _ in r.path[r.cycle_start:]}
    assert cyc == {"fault", "splitter"}, "every thread moves in the cycle"
    table = race_table(r)
    assert "cycle: the steps below repeat forever" in table
    assert "progress property fault_finishes violated" in table


def test_step_that_never_fires_on_a_finished_run():
    m = Model("skip")
    m.field("x", 0, (0, 1))
    t = m.thread("t")
    t.step("choose", "x = 0 or 1", writes=["x"], effect=lambda s: [{"x": 0}, {"x": 1}])
    t.step("maybe", "if (x) goto out", reads=["x"], branches=["done"],
           effect=lambda s: {GOTO: "done"} if s.x else {})
    t.step("work", "do_work()")
    m.eventually_fires("works", "t", "work")
    r = explore(m.compile(), reduction=False)
    assert r.verdict == VIOLATED and r.kind == "progress" and r.lasso.cycle == []
    assert_valid_trace(r)
    assert "no thread can move any more" in race_table(r)


def test_non_progress_cycle():
    m = livelock()
    m.progress.clear()
    m.no_progress_cycle("npc", [("fault", "map")])
    r = explore(m.compile(), reduction=False)
    assert r.verdict == VIOLATED and r.kind == "progress" and r.invariant == "npc"
    assert_valid_trace(r)
    # with the splitter's drop counted as progress, the livelock makes progress forever
    m.progress.clear()
    m.no_progress_cycle("npc", [("fault", "map"), ("splitter", "drop")])
    assert explore(m.compile(), reduction=False).verdict == HOLDS


def test_fixed_retry_loop_holds():
    """The same loop where the splitter stops after one round: the fault gets through."""
    m = Model("fixed")
    m.field("busy", 1, (0, 1))
    a = m.thread("fault")
    a.step("lookup", "retry while busy", reads=["busy"], branches=["lookup"],
           effect=lambda s: {GOTO: "lookup"} if s.busy else {})
    b = m.thread("splitter")
    b.step("drop", "busy = 0", effect=lambda s: {"busy": 0}, writes=["busy"])
    m.eventually_finishes("fault_finishes", "fault")
    assert explore(m.compile()).verdict == HOLDS


def test_progress_bounded_search_is_incomplete():
    r = explore(livelock().compile(), reduction=False, max_states=2)
    assert r.verdict == INCOMPLETE


@pytest.mark.parametrize("bad", [lambda m: m.eventually_finishes("p", "nobody"),
                                 lambda m: m.eventually_fires("p", "fault", "nolabel"),
                                 lambda m: m.no_progress_cycle("p", [])])
def test_malformed_progress_property(bad):
    m = livelock()
    bad(m)
    with pytest.raises(ModelError):
        m.compile()


MODEL = '''
from pteverify.model import GOTO, Model

def build(knobs):
    m = Model("livelock")
    m.field("busy", 1, (0, 1))
    a = m.thread("fault")
    a.step("lookup", "shmem_swapin_folio: -EEXIST -> retry", reads=["busy"], branches=["lookup"],
           effect=lambda s: {GOTO: "lookup"} if s.busy else {})
    a.step("map", "set_pte_at()")
    b = m.thread("splitter")
    b.step("take", "busy = 1", effect=lambda s: {"busy": 1}, writes=["busy"])
    b.step("drop", "busy = 0", effect=lambda s: {"busy": 0, GOTO: "take"}, writes=["busy"],
           branches=["take"])
    return m
'''


def _scenario(tmp_path, progress: str, expect="violated", invariant="fault_finishes"):
    (tmp_path / "livelock_model.py").write_text(MODEL)
    inv = f'invariant = "{invariant}"\n' if expect == "violated" else ""
    (tmp_path / "livelock.toml").write_text(
        'name = "livelock"\nmodel = "livelock_model.py:build"\n' + progress +
        f'\n[[variants]]\nname = "v1"\nexpect = "{expect}"\n{inv}')
    return tmp_path / "livelock.toml"


def test_progress_declared_in_a_scenario_file(tmp_path):
    import json
    import subprocess
    import sys
    path = _scenario(tmp_path, '[[progress]]\nname = "fault_finishes"\nfinishes = "fault"\n'
                               'doc = "the fault gets through"\n')
    p = subprocess.run([sys.executable, "-m", "pteverify", "run", str(path), "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert doc["kind"] == "progress" and doc["invariant"] == "fault_finishes"
    assert 0 <= doc["cycle_start"] < len(doc["trace"])
    p = subprocess.run([sys.executable, "-m", "pteverify", "check", "--scenarios", str(tmp_path),
                        "--no-layouts"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("progress,what", [
    ('[[progress]]\nname = "p"\nfinishes = "nobody"\n', "no thread 'nobody'"),
    ('[[progress]]\nname = "p"\nfires = "fault.nolabel"\n', "nolabel"),
    ('[[progress]]\nname = "p"\n', "needs exactly one of finishes, fires, npc"),
    ('[[progress]]\nname = "p"\nfinishes = "fault"\nfires = "map"\n', "needs exactly one"),
])
def test_malformed_progress_in_a_scenario_file(tmp_path, progress, what):
    import subprocess
    import sys
    path = _scenario(tmp_path, progress, invariant="p")
    p = subprocess.run([sys.executable, "-m", "pteverify", "run", str(path)], capture_output=True, text=True)
    assert p.returncode == 2 and what in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
