"""Memory models (verifier/memmodel.py) on the classic litmus shapes, against published verdicts.

Sources of the expected verdicts ("A" allowed, "F" forbidden):
* LKMM: the "Result:" lines of the Linux kernel's tools/memory-model/litmus-tests/*.litmus, named in
  the LKMM column where such a test exists (None: no published test for that exact variant);
* ARMv8: the herd7 aarch64 model / Pulte et al., POPL 2018 (other-multi-copy-atomic: IRIW and WRC
  with dependencies or dmb ld are forbidden; coherence order is part of ordered-before, so R with
  dmb st + dmb is forbidden);
* x86-TSO (Owens, Sarkar, Sewell 2009): only store->load reordering (SB, R).
SC forbids every one of these outcomes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pteverify import litmus
from pteverify.cli import cli
from pteverify.explore import explore
from pteverify.memmodel import Mem, forwarding_pairs, transform
from pteverify.model import Knobs, ModelError, check_footprints

BUILDERS = {"SB": litmus.sb, "MP": litmus.mp, "LB": litmus.lb, "WRC": litmus.wrc, "IRIW": litmus.iriw,
            "2+2W": litmus.two_plus_two_w, "S": litmus.s, "R": litmus.r}

# (shape, orderings, TSO, ARMv8, LKMM as published (test name, result) or None)
TABLE = [
    ("SB", {}, "A", "A", ("SB+poonceonces", "A")),
    ("SB", {"P0": "mb", "P1": "mb"}, "F", "F", ("SB+fencembonceonces", "F")),
    ("SB", {"P0": "mb"}, "A", "A", None),
    ("SB", {"P0": "wmb", "P1": "wmb"}, "A", "A", None),
    ("SB", {"P0": "rmb", "P1": "rmb"}, "A", "A", None),
    ("MP", {}, "F", "A", ("MP+poonceonces", "A")),
    ("MP", {"P0": "wmb", "P1": "rmb"}, "F", "F", ("MP+fencewmbonceonce+fencermbonceonce", "F")),
    ("MP", {"P0": "release", "P1": "acquire"}, "F", "F", ("MP+pooncerelease+poacquireonce", "F")),
    ("MP", {"P0": "wmb", "P1": "dep"}, "F", "F", None),
    ("MP", {"P0": "wmb"}, "F", "A", None),
    ("MP", {"P1": "rmb"}, "F", "A", None),
    ("LB", {}, "F", "A", ("LB+poonceonces", "A")),
    ("LB", {"P0": "dep", "P1": "mb"}, "F", "F", ("LB+fencembonceonce+ctrlonceonce", "F")),
    ("LB", {"P0": "acquire", "P1": "release"}, "F", "F", ("LB+poacquireonce+pooncerelease", "F")),
    ("LB", {"P0": "dep", "P1": "dep"}, "F", "F", None),
    ("LB", {"P0": "dep"}, "F", "A", None),
    ("WRC", {}, "F", "A", ("WRC+poonceonces+Once", "A")),
    ("WRC", {"P1": "release", "P2": "rmb"}, "F", "F", ("WRC+pooncerelease+fencermbonceonce+Once", "F")),
    ("WRC", {"P1": "dep", "P2": "dep"}, "F", "F", None),
    ("WRC", {"P2": "rmb"}, "F", "A", None),
    ("IRIW", {}, "F", "A", ("IRIW+poonceonces+OnceOnce", "A")),
    ("IRIW", {"P1": "mb", "P3": "mb"}, "F", "F", ("IRIW+fencembonceonces+OnceOnce", "F")),
    ("IRIW", {"P1": "dep", "P3": "dep"}, "F", "F", None),
    ("IRIW", {"P1": "rmb", "P3": "rmb"}, "F", "F", None),
    ("IRIW", {"P1": "acquire", "P3": "acquire"}, "F", "F", None),
    ("IRIW", {"P1": "rmb"}, "F", "A", None),
    ("2+2W", {}, "F", "A", None),
    ("2+2W", {"P0": "wmb", "P1": "wmb"}, "F", "F", None),
    ("2+2W", {"P0": "mb", "P1": "mb"}, "F", "F", None),
    ("2+2W", {"P0": "release", "P1": "release"}, "F", "F", None),
    ("2+2W", {"P0": "wmb"}, "F", "A", None),
    ("S", {}, "F", "A", ("S+poonceonces", "A")),
    ("S", {"P0": "wmb", "P1": "acquire"}, "F", "F", ("S+fencewmbonceonce+poacquireonce", "F")),
    ("S", {"P0": "wmb", "P1": "dep"}, "F", "F", None),
    ("S", {"P0": "wmb"}, "F", "A", None),
    ("S", {"P1": "acquire"}, "F", "A", None),
    ("R", {}, "A", "A", ("R+poonceonces", "A")),
    ("R", {"P0": "mb", "P1": "mb"}, "F", "F", ("R+fencembonceonces", "F")),
    ("R", {"P0": "wmb", "P1": "mb"}, "F", "F", None),
    ("R", {"P1": "mb"}, "F", "A", None),
    ("R", {"P0": "wmb"}, "A", "A", None),
]


def _model(shape, orderings, mm):
    b = BUILDERS[shape]
    return transform(b(Knobs(b.knobs, orderings)), mm)


def _verdict(shape, orderings, mm, reduction=True):
    r = explore(_model(shape, orderings, mm).compile(), reduction=reduction)
    return "A" if r.verdict == "violated" else "F"


def _id(row):
    shape, orderings = row[0], row[1]
    return shape + "+" + ("+".join(f"{k}={v}" for k, v in orderings.items()) or "po")


@pytest.mark.parametrize("row", TABLE, ids=[_id(r) for r in TABLE])
def test_litmus_verdicts_as_published(row):
    shape, orderings, tso, arm, lkmm = row
    assert _verdict(shape, orderings, "sc") == "F"
    assert _verdict(shape, orderings, "tso") == tso
    assert _verdict(shape, orderings, "arm64") == arm
    if lkmm is not None and lkmm[1] == "F":
        # where LKMM forbids an outcome, ARMv8 (stronger: multi-copy atomic) forbids it too
        assert arm == "F", lkmm[0]


def test_every_shape_allowed_on_arm64_without_barriers_and_only_store_load_on_tso():
    for shape in BUILDERS:
        assert _verdict(shape, {}, "arm64") == "A", shape
        assert _verdict(shape, {}, "tso") == ("A" if shape in ("SB", "R") else "F"), shape


@pytest.mark.parametrize("mm", ["tso", "arm64"])
def test_reduced_and_unreduced_agree_and_footprints_are_exact(mm):
    for shape, orderings, *_ in TABLE:
        m = _model(shape, orderings, mm)
        cm = m.compile()
        full = explore(cm, reduction=False)
        red = explore(m.compile(), reduction=True)
        assert full.verdict == red.verdict, (shape, orderings)
        assert check_footprints(cm) == [], (shape, orderings)


def test_sc_is_the_identity():
    m = litmus.mp(Knobs(litmus.mp.knobs))
    assert transform(m, "sc") is m


def test_mem_is_validated():
    with pytest.raises(ModelError):
        Mem(order="seq_cst")
    with pytest.raises(ModelError):
        Mem(before="dsb")


def test_forwarding_pairs_are_listed():
    prog = litmus.Program("CoWR", [[litmus.W("x"), litmus.R("r0", "x")], [litmus.W("x", 2)]],
                          [(0, "r0", 2)])
    assert forwarding_pairs(litmus.build(prog)) == [("P0", "0:Wx", "1:Rx")]


def test_propagation_thread_only_for_threads_that_store():
    m = _model("MP", {}, "arm64")
    assert [t.name for t in m.threads] == ["P0", "P1", "P0~sb"]


# -- C litmus output ---------------------------------------------------------------------------

_THREAD = re.compile(r"^P(\d+)\(([^)]*)\)\n\{\n(.*?)^\}\n", re.M | re.S)


def _parse_c(text: str) -> dict:
    """A small reader of the kernel's C litmus format: name, init block, threads, exists clause."""
    lines = text.splitlines()
    assert lines[0].startswith("C ") and " " not in lines[0][2:]
    init = re.search(r"^\{\n(.*?)^\}\n", text, re.M | re.S)
    assert init, "no initial-state block"
    threads = {}
    for m in _THREAD.finditer(text):
        body = [ln.strip() for ln in m.group(3).splitlines() if ln.strip()]
        params = [p.strip() for p in m.group(2).split(",")]
        assert all(re.fullmatch(r"int \*\w+", p) for p in params), params
        decls = [b for b in body if b.startswith("int ")]
        stmts = [b for b in body if not b.startswith("int ")]
        assert all(s.endswith(";") for s in stmts), stmts
        threads[int(m.group(1))] = stmts
    ex = re.search(r"^exists \((.*)\)$", text, re.M)
    assert ex, "no exists clause"
    return {"name": lines[0][2:], "threads": threads, "exists": ex.group(1)}


@pytest.mark.parametrize("shape", list(BUILDERS))
def test_c_litmus_output_parses(shape):
    prog = litmus.shape_program(shape, {"P1": "rmb"} if shape in ("MP", "IRIW", "WRC") else {})
    c = _parse_c(litmus.to_c(prog))
    assert sorted(c["threads"]) == list(range(len(prog.threads)))
    for i, ops in enumerate(prog.threads):
        assert c["threads"][i] == [op.c() for op in ops]
    assert c["exists"] == prog.exists_c()


def test_c_litmus_matches_the_kernels_mp_test():
    text = litmus.to_c(litmus.shape_program("MP", {"P0": "wmb", "P1": "rmb"}))
    c = _parse_c(text)
    assert c["threads"][0] == ["WRITE_ONCE(*x, 1);", "smp_wmb();", "WRITE_ONCE(*y, 1);"]
    assert c["threads"][1] == ["r0 = READ_ONCE(*y);", "smp_rmb();", "r1 = READ_ONCE(*x);"]
    assert c["exists"] == "1:r0=1 /\\ 1:r1=0"


@pytest.mark.skipif(shutil.which("herd7") is None, reason="herd7 is not installed (herdtools7 is not packaged "
                    "for Debian; install it with opam to cross-check)")
def test_herd7_agrees(tmp_path):
    for shape, orderings, _, arm, lkmm in TABLE:
        if lkmm is None:
            continue
        f = tmp_path / "t.litmus"
        f.write_text(litmus.to_c(litmus.shape_program(shape, orderings)))
        out = subprocess.run(["herd7", "-conf", "linux-kernel.cfg", str(f)], capture_output=True, text=True).stdout
        assert ("Never" in out) == (lkmm[1] == "F"), (shape, orderings, out)


# -- command line ------------------------------------------------------------------------------

def test_cli_litmus_writes_file(tmp_path):
    out = tmp_path / "mp.litmus"
    r = CliRunner().invoke(cli, ["litmus", "litmus-mp", "--variant", "wmb+rmb-arm64", "-o", str(out)])
    assert r.exit_code == 0, r.output
    c = _parse_c(out.read_text())
    assert c["name"] == "MP+wmb+rmb"


def test_cli_litmus_refuses_a_model_that_is_not_a_litmus_program():
    p = subprocess.run([sys.executable, "-m", "pteverify", "litmus", "counters"], capture_output=True, text=True)
    assert p.returncode == 2 and "not a litmus program" in p.stderr and len(p.stderr.splitlines()) == 1


def test_cli_run_memory_model_overrides_the_variants():
    r = CliRunner().invoke(cli, ["run", "litmus-sb", "--variant", "po+po-tso", "--memory-model", "sc"])
    assert r.exit_code == 0 and "memory model sc: HOLDS" in r.output
    r = CliRunner().invoke(cli, ["run", "litmus-mp", "--variant", "po+po-sc", "--memory-model", "arm64"])
    assert r.exit_code == 1 and "memory model arm64: VIOLATED" in r.output
    assert "P0~sb" in r.output


def test_cli_check_memory_model_runs_unpinned_variants_under_it():
    r = CliRunner().invoke(cli, ["check", "--only", "counters", "--no-layouts", "--memory-model", "arm64",
                                 "--baseline", "/dev/null"])
    assert r.exit_code == 0, r.output
    assert "~arm64" in r.output or "counters" in r.output


# -- the lockless mm paths under the memory models ---------------------------------------------

MM_VARIANTS = [("gup-fast-vs-unmap", "088b8aa537c2^-arm64-memory-model"),
               ("gup-fast-vs-unmap", "mainline-2026-arm64-memory-model"),
               ("lazyfree-gup", "v6.17-arm64-no-smp_mb"), ("lazyfree-gup", "v6.17-tso-no-smp_mb"),
               ("uffd-move-batch-pin", "mainline-2026-arm64-memory-model"),
               ("uffd-move-batch-pin", "mainline-2026-tso"),
               ("fork-vs-gup-fast", "088b8aa537c2-arm64-memory-model"), ("fork-vs-gup-fast", "088b8aa537c2-tso")]


@pytest.mark.parametrize("name,variant", MM_VARIANTS)
def test_mm_paths_under_memory_models_footprints_and_reduction(name, variant):
    from pteverify.scenario import get_scenario
    sc = get_scenario(name)
    v = sc.variant(variant)
    cm = sc.build(v)
    assert v.memory_model in ("tso", "arm64") and cm.memory_model == v.memory_model
    assert check_footprints(cm) == []
    assert forwarding_pairs(cm.model) == []          # no outcome needs forwarding past a store
    full = explore(sc.build(v), reduction=False)
    red = explore(sc.build(v), reduction=True)
    assert full.verdict == red.verdict == v.expect
    if v.expect == "violated":
        assert full.invariant == red.invariant == v.invariant


def test_the_reordering_comes_from_the_memory_model():
    """gup-fast-vs-unmap without the hand-written late pin: SC holds, arm64 breaks, TSO holds."""
    from pteverify.scenario import get_scenario
    sc = get_scenario("gup-fast-vs-unmap")
    v = sc.variant("088b8aa537c2^-arm64-memory-model")
    verdicts = {mm: explore(sc.build(v, memory_model=mm)).verdict for mm in ("sc", "tso", "arm64")}
    assert verdicts == {"sc": "holds", "tso": "holds", "arm64": "violated"}



# -- reachable outcomes: a litmus test asserts every SC outcome, not only that one is forbidden --

def test_sc_outcomes_are_the_interleavings_outcomes():
    sb = litmus.shape_program("SB", {})
    assert litmus.sc_outcomes(sb) == [(0, 1), (1, 0), (1, 1)]           # (0, 0) needs a reordering
    mp = litmus.shape_program("MP", {})
    assert litmus.sc_outcomes(mp) == [(0, 0), (0, 1), (1, 1)]           # (1, 0) needs one
    assert len(litmus.sc_outcomes(litmus.shape_program("IRIW", {}))) == 15
    assert litmus.outcome_c(mp, (1, 1)) == "1:r0=1 /\\ 1:r1=1"


@pytest.mark.parametrize("mm", ["sc", "tso", "arm64"])
def test_every_forbidding_variant_reaches_every_sc_outcome(mm):
    from pteverify.explore import HOLDS, unreached_outcomes
    for shape, orderings, *_ in TABLE:
        r = explore(_model(shape, orderings, mm).compile(), reduction=False)
        if r.verdict == HOLDS:
            assert unreached_outcomes(r) == [], (shape, orderings, mm)


def test_a_model_that_loses_an_outcome_fails_check_and_mutate():
    from pteverify import mutate as mut
    from pteverify.check import _outcome_problems
    from pteverify.explore import HOLDS, unreached_outcomes
    from pteverify.model import Model
    m = Model("toy", "one store, an outcome it can never reach")
    m.field("x", 0, (0, 1, 2))
    m.thread("t").step("w", "WRITE_ONCE(x, 1)", effect=lambda s: {"x": 1}, writes=["x"])
    m.reachable("x_is_2", lambda s: s.x == 2, ["x"], "x ends as 2")
    m.reachable("x_is_1", lambda s: s.x == 1, ["x"], "x ends as 1")
    r = explore(m.compile(), reduction=False)
    assert r.verdict == HOLDS and unreached_outcomes(r) == ["x_is_2"]
    assert "outcome x_is_2 never reached" in _outcome_problems(r.model, r, False, None, None)[0]
    # litmus MP: skipping P1's load of the flag loses the outcome 1:r0=1 /\ 1:r1=1
    from pteverify.scenario import load_scenarios
    (rep,) = mut.mutate_scenarios([load_scenarios()["litmus-mp"]], operators=("skip-effect",))
    how = {m.step: m.how for m in rep.mutants if m.status == mut.KILLED}
    assert "outcome sc_outcome[1:r0=1 /\\ 1:r1=1] never reached" in how["P1.0:Ry"]
