"""No vacuous "holds": step coverage (`run --coverage`) and the race steps a scenario declares
(`race = [...]`), which `check` requires to fire in every holding variant."""

import contextlib
import io
import json
from collections import Counter

import pytest

from pteverify import check as chk
from pteverify.cli import main
from pteverify.explore import HOLDS, VIOLATED, explore
from pteverify.model import GOTO, Model
from pteverify.scenario import ScenarioError, get_scenario, load_scenarios, resolve_race, specs_dir


def pteverify(*args):
    """The command line in this process (the console entry point, exit code and both streams)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 0
    return rc, out.getvalue(), err.getvalue()


def _toy(bad_reachable=False) -> Model:
    """t0 loops over two steps; t1 sets a flag, then a step guarded on a value nobody writes."""
    m = Model("toy")
    m.field("c", 0, (0, 1))
    m.field("flag", 0, (0, 1))
    m.field("never", 0, (0, 1))
    t0 = m.thread("t0")
    t0.step("up", "c = 1", effect=lambda s: {"c": 1}, writes=["c"])
    t0.step("down", "c = 0", effect=lambda s: {"c": 0, GOTO: "up"}, writes=["c"], branches=["up"])
    t1 = m.thread("t1")
    t1.step("set", "flag = 1", effect=lambda s: {"flag": 1}, writes=["flag"])
    t1.step("stuck", "wait for never", guard=lambda s: s.never == 1 or bad_reachable, reads=["never"])
    return m


def test_counts_equal_the_transitions_of_the_explored_graph():
    for bad in (False, True):
        cm = _toy(bad).compile()
        r = explore(cm, reduction=False, coverage=True, graph=True)
        by_label = Counter((cm.thread_names[ti], cm.label_at(ti, s)) for s, ti, _ in r.edges)
        assert {(t, lab): n for t, lab, n in r.coverage.steps() if n} == dict(by_label)
        assert sum(n for *_, n in r.coverage.steps()) == r.stats.transitions
        assert r.coverage.complete == (r.verdict == HOLDS)
    # t0 never ends, so t1 waiting forever is no deadlock: a vacuous "holds" coverage shows
    cm = _toy().compile()
    r = explore(cm, reduction=False, coverage=True)
    assert r.verdict == HOLDS and r.coverage.complete
    assert r.coverage.never_fired() == [("t1", "stuck")]
    assert r.coverage.fired("t1", "set") == 2 and r.coverage.fired("t0", "up") == 2
    # a search stopped by a violation counted only what it explored
    m = _toy()
    m.invariant("flag_clear", lambda s: s.flag == 0, ["flag"])
    r = explore(m.compile(), reduction=False, coverage=True)
    assert r.verdict == VIOLATED and not r.coverage.complete


def test_coverage_does_not_change_the_search():
    sc = get_scenario("odirect-swapout")
    cm = sc.build(sc.variant("1493a1913e34"))
    a = explore(cm, reduction=False)
    b = explore(cm, reduction=False, coverage=True)
    assert (a.verdict, a.stats.states, a.stats.transitions) == (b.verdict, b.stats.states, b.stats.transitions)
    assert a.coverage is None and b.coverage.complete


def test_coverage_needs_the_unreduced_search():
    with pytest.raises(ValueError, match="unreduced"):
        explore(_toy().compile(), reduction=True, coverage=True)


def test_run_coverage_text_and_json():
    rc, out, err = pteverify("run", "droppable-reclaim", "--variant", "newest", "--coverage")
    assert rc == 0, err
    assert "reduction off" in out and "Coverage (transitions fired per step):" in out
    assert "never fired: " in out and "reclaim.add_to_swap" in out
    rc, out, _ = pteverify("run", "droppable-reclaim", "--variant", "newest", "--coverage", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["reduction"] is False
    cov = doc["coverage"]
    steps = {f"{t['name']}.{s['label']}": s["fired"] for t in cov["threads"] for s in t["steps"]}
    assert cov["complete"] is True
    assert sorted(cov["never_fired"]) == sorted(k for k, n in steps.items() if n == 0)
    assert sum(steps.values()) == doc["transitions"]


# -- race declarations -------------------------------------------------------------------------

def test_race_names_resolve_against_the_model():
    sc = get_scenario("odirect-swapout")
    cm = sc.build(sc.variant("1493a1913e34"))
    # labels may contain dots: "writer.dsp.lookup" is thread writer's step dsp.lookup
    assert resolve_race(cm, ["writer.dsp.lookup", "pageout", "reclaim.pageout"], "W") == \
        [("writer", "dsp.lookup"), ("reclaim", "pageout"), ("reclaim", "pageout")]
    for names, msg in ((["dsp.lookup"], "ambiguous: write one of odirect.dsp.lookup, writer.dsp.lookup"),
                       (["writer.nope"], "thread writer has no step 'nope'"),
                       (["nope"], "no thread has a step 'nope'")):
        with pytest.raises(ScenarioError, match=msg.replace(".", r"\.")):
            resolve_race(cm, names, "W")


def _scenario(tmp_path, race_line="", variant_race="", expect="holds", name="tmp-race"):
    """A scenario file over the shipped droppable-reclaim model."""
    d = tmp_path / "scenarios"
    d.mkdir(parents=True, exist_ok=True)
    f = d / f"{name}.toml"
    f.write_text(f'''name = "{name}"
model = "pteverify.models.scenarios.lazyfree:droppable_reclaim"
threads = ["user", "reclaim"]
{race_line}

[[variants]]
name = "newest"
knobs = {{ "mglru.sort_folio" = "newest" }}
expect = "{expect}"
{'invariant = "droppable_never_swapbacked"' if expect == "violated" else ""}
{variant_race}
''')
    return d, f


@pytest.mark.parametrize("race_line,variant_race,expect,fragment", [
    ('race = ["reclaim.no_such_step"]', "", "holds", "thread reclaim has no step 'no_such_step'"),
    ('race = ["nobody.isolate"]', "", "holds", "no thread has a step 'nobody.isolate'"),
    ('race = "isolate"', "", "holds", "race: must be a list of step labels"),
    ('race = ["isolate", "isolate"]', "", "holds", "race names isolate twice"),
    ("", 'race = ["isolate"]', "violated", "race applies to holding variants"),
])
def test_bad_race_declaration_is_one_line_exit_2(tmp_path, race_line, variant_race, expect, fragment):
    d, f = _scenario(tmp_path, race_line, variant_race, expect)
    for args in (("run", str(f), "--coverage"),
                 ("check", "--scenarios", str(d), "--no-layouts", "--baseline", str(tmp_path / "b.json"))):
        rc, out, err = pteverify(*args)
        assert rc == 2, (args, out, err)
        assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_check_fails_a_holding_variant_whose_race_step_never_fires(tmp_path):
    # newest sort_folio: the dirty droppable folio is dropped, never added to the swap cache
    d, f = _scenario(tmp_path, 'race = ["reclaim.unmap.lazyfree"]', 'race = ["walk_pte_range", "add_to_swap"]')
    rc, out, err = pteverify("check", "--scenarios", str(d), "--no-layouts", "--baseline", str(tmp_path / "b.json"))
    assert rc == 1, out + err
    assert "FAIL tmp-race:newest" in out
    assert "race step reclaim.add_to_swap never fired: the holds is vacuous for it" in out
    rc, out, _ = pteverify("run", str(f), "--coverage")
    assert rc == 0 and "race steps: 1/2 fired; never fired: reclaim.add_to_swap" in out
    # the scenario-level declaration (a variant without its own) fires: the check passes
    d, _ = _scenario(tmp_path / "ok", 'race = ["reclaim.unmap.lazyfree", "user.store"]')
    rc, out, err = pteverify("check", "--scenarios", str(d), "--no-layouts", "--baseline", str(tmp_path / "b.json"))
    assert rc == 0, out + err


def test_race_check_on_an_unreduced_check_uses_its_own_search(tmp_path):
    _, f = _scenario(tmp_path, 'race = ["reclaim.add_to_swap"]')
    for reduction in (True, False):
        [res] = chk.run_job(chk.Job("scenario", "tmp-race", str(f), "newest", reduction=reduction))
        assert res.status == chk.FAIL and "reclaim.add_to_swap never fired" in res.message
        assert res.details == {"race": {"reclaim.add_to_swap": 0}}


# -- every shipped holding variant earns its "holds" ---------------------------------------------

HOLDING = [(sc.name, v.name) for sc in load_scenarios().values() for v in sc.variants if v.expect == "holds"]


@pytest.mark.parametrize("scenario,variant", HOLDING, ids=[f"{s}:{v}" for s, v in HOLDING])
def test_every_shipped_holding_variant_fires_its_race_steps(scenario, variant):
    sc = get_scenario(scenario)
    v = sc.variant(variant)
    assert sc.race_of(v), f"{scenario}:{variant} declares no race steps"
    cm = sc.build(v)
    race = sc.race_steps(v, cm)
    r = explore(cm, reduction=False, coverage=True, max_states=sc.max_states)
    assert r.verdict == HOLDS and r.coverage.complete
    never = [f"{t}.{lab}" for t, lab in race if r.coverage.fired(t, lab) == 0]
    assert not never, f"{scenario}:{variant}: race steps never fired: {never}"


def test_show_lists_the_race_steps():
    rc, out, _ = pteverify("show", "swapoff-bits", "--variant", "14a762dd1977-soft-dirty")
    assert rc == 0 and "Race steps (must fire in variant 14a762dd1977-soft-dirty): swapoff.unuse_pte," in out
    rc, out, _ = pteverify("show", "swapoff-bits", "--variant", "14a762dd1977^", "--json")
    assert rc == 0 and json.loads(out)["race"] == []          # a violated variant declares none
