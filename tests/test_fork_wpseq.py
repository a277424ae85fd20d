"""fork's write_protect_seq vs GUP-fast under the memory models (docs/memory-models.md, candidate
finding): the litmus program with spin_lock()/spin_unlock(), and the fork-vs-gup-fast knob that adds
pmd_install()'s lock/unlock before the PTLs."""

from __future__ import annotations

import pytest

from pteverify import litmus
from pteverify.explore import explore
from pteverify.memmodel import transform
from pteverify.model import Knobs, check_footprints
from pteverify.models.scenarios.litmus_fork import fork_wpseq, program

# (fork.child_pte_table, fork.wp_seq_mb) -> verdicts under sc, tso, arm64 (A: allowed, F: forbidden)
TABLE = {
    ("present", False): ("F", "F", "A"),
    ("alloc", False): ("F", "F", "F"),
    ("present", True): ("F", "F", "F"),
    ("alloc", True): ("F", "F", "F"),
}


def _model(table, mb, mm):
    return transform(fork_wpseq(Knobs(fork_wpseq.knobs, {"fork.child_pte_table": table, "fork.wp_seq_mb": mb})), mm)


@pytest.mark.parametrize("key", list(TABLE), ids=[f"{t}{'+mb' if mb else ''}" for t, mb in TABLE])
def test_fork_wpseq_verdicts(key):
    for mm, want in zip(("sc", "tso", "arm64"), TABLE[key]):
        m = _model(*key, mm)
        red = explore(m.compile(), reduction=True)
        full = explore(m.compile(), reduction=False)
        assert red.verdict == full.verdict, (key, mm)
        assert ("A" if red.verdict == "violated" else "F") == want, (key, mm)
        assert check_footprints(m.compile()) == [], (key, mm)


def _sb(p0: list) -> litmus.Program:
    """SB with P0's accesses `p0` (lock operations between its store and load), P1 with smp_mb()."""
    return litmus.Program("SB+lock", [p0, [litmus.W("y"), litmus.Op("F", fence="mb"), litmus.R("r0", "x")]],
                          [(0, "r0", 0), (1, "r0", 0)])


L, U = (lambda v: litmus.Op("L", v)), (lambda v: litmus.Op("U", v))
Wx, Ry = litmus.W("x"), litmus.R("r0", "y")


@pytest.mark.parametrize("p0, tso, arm", [
    # a store before spin_lock() and a load after it (include/linux/spinlock.h, smp_mb__after_spinlock())
    ([Wx, L("s"), Ry, U("s")], "F", "A"),
    # a store and a load after spin_unlock(): the unlock is a release, not a full barrier
    ([L("s"), Wx, U("s"), Ry], "A", "A"),
    # spin_unlock(a); spin_lock(b): release then acquire, ordered on arm64 (RCsc) and x86
    ([Wx, L("a"), U("a"), L("b"), Ry, U("b")], "F", "F"),
], ids=["W-lock-R", "W-unlock-R", "W-unlock-lock-R"])
def test_lock_operations_in_store_buffering(p0, tso, arm):
    prog = _sb(p0)
    for mm, want in (("sc", "F"), ("tso", tso), ("arm64", arm)):
        m = transform(litmus.build(prog), mm)
        r = explore(m.compile())
        assert ("A" if r.verdict == "violated" else "F") == want, (mm, r.verdict, getattr(r, "invariant", None))
        if r.verdict == "violated":
            assert r.invariant == "exists_not_reached"


def test_fork_wpseq_c_litmus_declares_the_locks():
    text = litmus.to_c(program("alloc"))
    assert "P0(int *pin, int *seq, spinlock_t *pmdl, spinlock_t *ptl)" in text
    assert "spin_lock(pmdl);\n\tspin_unlock(pmdl);\n\tspin_lock(ptl);" in text
    assert "\tint pin;\n\tint seq;\n}" in text               # locks are not in the initial state
    assert text.rstrip().endswith("exists (0:r0=0 /\\ 1:r0=0)")


def test_fork_vs_gup_fast_child_table_knob():
    from pteverify.models.scenarios.anon_exclusive_ii import fork_vs_gup_fast
    base = {"arch": "arm64", "gup_fast.pin_lag_by_hand": False}
    present = fork_vs_gup_fast(Knobs(fork_vs_gup_fast.knobs, base))
    alloc = fork_vs_gup_fast(Knobs(fork_vs_gup_fast.knobs, dict(base, **{"fork.child_pte_table": "alloc"})))
    labels = [st.label for st in alloc.threads[0].steps]
    assert labels[:3] == ["fork.wp_seq_begin", "fork.pte_alloc", "fork.copy"]
    assert "fork.pte_alloc" not in [st.label for st in present.threads[0].steps]
    assert explore(transform(present, "arm64").compile()).verdict == "violated"
    assert explore(transform(alloc, "arm64").compile()).verdict == "holds"
    # the arm64 outcome needs GUP-fast's barrier too: without 088b8aa537c2 the table does not matter
    old = fork_vs_gup_fast(Knobs(fork_vs_gup_fast.knobs, dict(base, **{"fork.child_pte_table": "alloc",
                                                                        "gup_fast.barriers": False})))
    assert explore(transform(old, "arm64").compile()).verdict == "violated"


# -- where arm64 and LKMM may differ (verifier/memmodel.py lkmm_differences) -----------------------

LKMM_FLAGGED = {
    # fork.pte_alloc (pmd_install()'s unlock before the PTL's lock) is the only thing between the
    # write_protect_seq store and the pin load: arm64's RCsc, not LKMM
    ("fork-vs-gup-fast", "088b8aa537c2-arm64-child-table-alloc"): "only the unmarked step(s) fork.pte_alloc",
    ("litmus-fork-wpseq", "alloc-arm64"): "a release then an acquire",
    # v6.17's ptep_clear_flush(): the TLB flush is a DSB on arm64 (a full barrier), not an LKMM primitive
    ("uffd-move-batch-pin", "v6.17"): "only the unmarked step(s) move.flush",
    ("uffd-move-batch-pin", "v6.17-arm64-memory-model"): "only the unmarked step(s) move.flush",
}


def test_lkmm_differences_of_the_shipped_models():
    """The mm models' lockless steps rely on no ordering where ARMv8 and LKMM differ, except the
    listed variants (docs/memory-models.md, "LKMM"); the WRC and IRIW litmus shapes are flagged."""
    from pteverify.memmodel import lkmm_differences
    from pteverify.scenario import load_scenarios
    flagged = {}
    for name, sc in sorted(load_scenarios().items()):
        if sc.kind == "engine-validation" and not name.startswith("litmus-"):
            continue
        for v in sc.variants:
            model = sc.build(v, memory_model="sc").model
            if not any(st.mem is not None for t in model.threads for st in t.steps):
                break                       # no lockless step in this scenario's model
            d = lkmm_differences(model)
            if d:
                flagged[(name, v.name)] = d
    mm = {k: v for k, v in flagged.items() if not k[0].startswith(("litmus-wrc", "litmus-iriw"))}
    assert set(mm) == set(LKMM_FLAGGED), sorted(mm)
    for k, why in LKMM_FLAGGED.items():
        assert len(mm[k]) == 1 and why in mm[k][0], mm[k]
    assert any("multi-copy" in x for k, v in flagged.items() if k[0] == "litmus-wrc" for x in v)
    assert any("IRIW" in x or "different threads" in x for k, v in flagged.items() if k[0] == "litmus-iriw"
               for x in v)


def test_check_footprints_accepts_a_lock_taken_and_dropped_in_one_step():
    from pteverify.model import Model
    m = Model("atomic-section")
    m.field("g", 0, range(2))
    m.lock("L")
    m.thread("a").step("s", "spin_lock(L); g = 1; spin_unlock(L)", effect=lambda s: {"g": 1}, writes=["g"],
                       acquire=("L",), release=("L",))
    m.thread("b").step("s", "g = 0", effect=lambda s: {"g": 0}, writes=["g"])
    assert check_footprints(m.compile()) == []
