"""Anon-exclusive II: GUP-fast, fork, COW isolation and migration entries.

Every scenario x variant of the issue gives its expected verdict (with and without reduction: see
test_scenarios.py); each buggy variant's counterexample shows the kernel's own steps in order -- for
races II and III the numbered steps of 6c287605fd56's message; each fixed variant really reaches the
window its fix closes; the building blocks (the flush that waits for GUP-fast, the child's view of the
mm, knob validation) behave as documented.
"""

import pytest

from pteverify.explore import VIOLATED, explore
from pteverify.model import FREE, KnobError, Knobs, Model, check_footprints
from pteverify.models.scenarios import anon_exclusive_ii as ae2
from pteverify.models.mm import child_view
from pteverify.models.mm import KernelII
from pteverify.models.tlb import emit_tlb_flush, sync_fields
from pteverify.models.mm import pte_migration
from pteverify.models.mm import MM, NO_FOLIO, pte_present, pte_swap
from pteverify.scenario import get_scenario
from pteverify.trace import race_table, trace_steps

from scenario_helpers import build, run, first, reachable, check_registry, KILLED_BY_MUTANTS

EXPECTED = {
    "gup-fast-vs-unmap": {"v5.19-x86-64": None, "088b8aa537c2^-arm64": "pinned_page_is_exclusive",
                          "088b8aa537c2": None, "ipi-weak-v5.19": None,
                          "no-clear-before-share": "pinned_page_is_exclusive", "mainline-2026": None,
                          # the same under --memory-model (tests/test_memmodel.py): the reordering
                          # follows from the arm64 memory model, not from the hand-written late pin
                          "088b8aa537c2^-arm64-memory-model": "pinned_page_is_exclusive",
                          "088b8aa537c2^-arm64-sc": None, "088b8aa537c2-arm64-memory-model": None,
                          "mainline-2026-arm64-memory-model": None},
    "gup-fast-vs-migrate-fork": {"v5.19-x86-64": None, "088b8aa537c2^-arm64": "pinned_mapped_page_is_exclusive",
                                 "088b8aa537c2": None, "ipi-weak-v5.19": None,
                                 "no-clear-before-share": "pinned_mapped_page_is_exclusive", "mainline-2026": None},
    "fork-vs-gup-fast": {"57efa1fe5957^": "pinned_page_is_mapped_page", "57efa1fe5957": None, "v5.19": None,
                         "v5.19-no-write-protect-seq": "pinned_mapped_page_is_exclusive",
                         "v5.19-read-only-pin": None,
                         "v5.19-read-only-pin-no-unshare": "pinned_mapped_page_is_exclusive",
                         "v5.19-arm64-memory-model": "pinned_mapped_page_is_exclusive",
                         "088b8aa537c2-arm64-memory-model": "pinned_mapped_page_is_exclusive",
                         "088b8aa537c2-tso": None, "088b8aa537c2-arm64-fork-smp_mb": None, "mainline-2026": None,
                         "mainline-2026-soft-dirty-cleared": None,
                         "mainline-2026-arm64-memory-model": "pinned_mapped_page_is_exclusive",
                         "088b8aa537c2-arm64-child-table-alloc": None},
    "fork-pin-leak": {"v5.7": "cow_isolation", "17839856fd58": None, "v5.9": None, "v5.19": None,
                      "v5.19-foll-pin": None, "mainline-2026": None},
    "fork-swap-entry": {"v5.18": None, "1493a1913e34": None,
                        "fork-keeps-swp-exclusive": "swap_pte_page_not_exclusive", "mainline-2026": None},
    "migration-exclusive": {"v5.18": "exclusive_page_not_replaced", "6c287605fd56": None,
                            "mprotect-readable": "exclusive_page_not_replaced",
                            "no-rmap-exclusive": "writable_pte_maps_exclusive_page",
                            "6c287605fd56-pinned-fork": None, "mprotect-readable-pinned-fork": None, "mainline-2026": None,
                            "mainline-2026-pinned-fork": None,
                            "seeded-mprotect-writable-shared": "writable_page_not_shared"},
}
CASES = [(sc, v) for sc, vs in EXPECTED.items() for v in vs]





def at(cm, s, thread):
    return cm.label_at(cm.thread_names.index(thread), s)


# --------------------------------------------------------------------------------------------
# Registry, verdicts, speed


def test_registry_has_the_issue_variants():
    check_registry(EXPECTED, ordered=True)
    for name in EXPECTED:
        for v in get_scenario(name).variants:
            if v.description.startswith("seeded mutation"):
                assert v.commit, "a seeded mutation names the commit it mutates"



def test_every_invariant_of_the_issue_can_fail():
    broken = {inv for vs in EXPECTED.values() for inv in vs.values() if inv}
    assert broken == {"pinned_page_is_exclusive", "pinned_mapped_page_is_exclusive",
                      "pinned_page_is_mapped_page", "cow_isolation", "swap_pte_page_not_exclusive",
                      "exclusive_page_not_replaced", "writable_pte_maps_exclusive_page", "writable_page_not_shared"}
    defined = set()
    for name in EXPECTED:
        sc = get_scenario(name)
        for v in sc.variants:
            defined |= {i.name for i in sc.build(v).model.invariants}
    assert defined - KILLED_BY_MUTANTS == broken


# --------------------------------------------------------------------------------------------
# Race III (6c287605fd56, section III), step by step


def _pin_lands(t):
    return "A_pin" in t.changes and t.changes["A_pin"][1] > t.changes["A_pin"][0]


def test_race_iii_arm64_reads_like_the_commit_message():
    """1. try_to_unmap() places a swap entry after checking for GUP pins and clears exclusivity
    information on the page. 2. GUP-fast pins the page due to lack of synchronization."""
    r = run("gup-fast-vs-unmap", "088b8aa537c2^-arm64")
    t = trace_steps(r)
    b1 = first(t, "gup_fast", "gupf.read_pte")
    b3 = first(t, "gup_fast", "gupf.grab", b1, lambda c: c.get("gup_fast_gupf_pin_lag") == (False, True))
    b4 = first(t, "gup_fast", "gupf.recheck", b3)                      # passes: PTE still present
    a1 = first(t, "reclaim", "unmap.clear", b4)
    first(t, "reclaim", "unmap.flush", a1)                            # TLBI: does not wait for GUP-fast
    step1 = first(t, "reclaim", "unmap.share", a1, lambda c: c.get("A_excl") == (True, False))
    entry = first(t, "reclaim", "unmap.set", step1)
    assert t[entry].changes["pte"][1] == pte_swap(exclusive=True, soft_dirty=True)
    step2 = next(i for i in range(len(t)) if _pin_lands(t[i]))
    assert t[step2].thread == "gup_fast" and step2 > entry > step1 > b4
    ret = first(t, "gup_fast", "gupf.seq_retry", step2)
    assert t[ret].changes["gup_fast_gup"] == (NO_FOLIO, "A") and ret == len(t) - 1
    table = "".join(race_table(r).split())
    for text in ("broadcastTLBI", "relaxedatomic", "page_try_share_anon_rmap", "pte_swp_mkexclusive",
                 "local_irq_restore()", "invariantpinned_page_is_exclusiveviolated"):
        assert text in table


def test_race_iii_without_clear_and_flush():
    t = trace_steps(run("gup-fast-vs-unmap", "no-clear-before-share"))
    step1 = first(t, "reclaim", "unmap.share", where=lambda c: c.get("A_excl") == (True, False))
    assert "pte" not in t[step1].changes                              # the PTE is still present
    pin = next(i for i in range(len(t)) if _pin_lands(t[i]))
    b4 = first(t, "gup_fast", "gupf.recheck", pin)
    entry = first(t, "reclaim", "unmap.set", b4)
    assert step1 < pin < b4 < entry and t[entry].changes["pte"][1].is_swap


# --------------------------------------------------------------------------------------------
# Race II (6c287605fd56, section II), step by step


@pytest.mark.parametrize("variant", ["088b8aa537c2^-arm64", "no-clear-before-share"])
def test_race_ii_shows_the_five_steps_in_order(variant):
    r = run("gup-fast-vs-migrate-fork", variant)
    t = trace_steps(r)
    # 1. try_to_migrate() checks for GUP pins and marks the page possibly shared ...
    s1 = first(t, "migrate", "mig.share", where=lambda c: c.get("A_excl") == (True, False))
    # 2. GUP-fast pins the page (its pin becomes visible after the check)
    s2 = next(i for i in range(len(t)) if _pin_lands(t[i]))
    assert t[s2].thread == "gup_fast"
    first(t, "gup_fast", "gupf.seq_retry", s2, lambda c: c.get("gup_fast_gup") == (NO_FOLIO, "A"))
    # ... and places a migration entry (before fork can copy it: both hold the PTL)
    entry = first(t, "migrate", "mig.set", s1)
    assert t[entry].changes["pte"][1] == pte_migration("A", write=True, soft_dirty=True)
    # 3. fork() converts the writable migration entry into a readable one, in parent and child
    # (fork.copy reads the entry under both PTLs, copy_nonpresent_pte() writes it: fork.copy_entry)
    s3 = first(t, "fork", "fork.copy_entry", first(t, "fork", "fork.copy", entry))
    readable = pte_migration("A", soft_dirty=True)
    assert t[s3].changes["pte"][1] == readable and t[s3].changes["child_pte"][1] == readable
    # 4. migration fails due to the pin (the refcount cannot be frozen): dst is src
    s4 = first(t, "migrate", "mig.move", s3)
    assert t[s4].changes == {"migrate_dst": (NO_FOLIO, "A")}
    # 5. the migration entries are restored; PG_anon_exclusive is lost
    s5 = first(t, "migrate", "mig.remove0", s4)
    assert t[s5].changes["pte"][1] == pte_present("A", soft_dirty=True) and "A_excl" not in t[s5].changes
    assert s1 < s2 < s3 < s4 < s5 == len(t) - 1
    table = "".join(race_table(r).split())
    for text in ("make_readable_migration_entry()", "folio_ref_count(src)!=expected_count",
                 "!is_readable_migration_entry()->rmap_flags|=RMAP_EXCLUSIVE",
                 "invariantpinned_mapped_page_is_exclusiveviolated"):
        assert text in table


# --------------------------------------------------------------------------------------------
# fork vs GUP-fast, COW isolation, swap entries, mprotect


def test_fork_vs_gup_fast_pin_between_dup_and_wrprotect():
    t = trace_steps(run("fork-vs-gup-fast", "57efa1fe5957^"))
    b1 = first(t, "gup_fast", "gupf.read_pte")
    dup = first(t, "fork", "fork.copy")
    pin = first(t, "gup_fast", "gupf.grab", max(b1, dup))                # after fork found no pin
    assert t[pin].changes["A_pin"] == (0, 1)
    b4 = first(t, "gup_fast", "gupf.recheck", pin)
    wp = first(t, "fork", "fork.wrprotect", b4)                          # the re-check came too early
    assert t[wp].changes["pte"][1] == pte_present("A", dirty=True, soft_dirty=True)
    ret = first(t, "gup_fast", "gupf.seq_retry", pin)
    assert "no mm->write_protect_seq check" in t[ret].kernel_ref
    cow = first(t, "writer", "wp.copy_pte", max(ret, wp))
    assert t[cow].changes["pte"][1].folio != "A"                         # the COW took the parent away


def test_write_protect_seq_backs_off():
    """57efa1fe5957: a GUP-fast that grabbed the page while fork ran gives its pin back."""

    def backed_off(cm, s):
        return s.gup_fast_gupf_result == "fallback" and s.write_protect_seq == 2 and s.A_pin == 0
    assert reachable("fork-vs-gup-fast", "v5.19", lambda cm, s: at(cm, s, "gup_fast") == "gupf.seq_retry"
                     and s.gup_fast_gupf_page == "A" and s.write_protect_seq != s.gup_fast_gupf_seq)
    assert reachable("fork-vs-gup-fast", "v5.19", backed_off)
    # and the child gets a copy of a page pinned before fork (folio_try_dup_anon_rmap() -EBUSY)
    assert reachable("fork-vs-gup-fast", "v5.19",
                     lambda cm, s: s.child_pte.present and s.child_pte.folio != "A" and s.gup_fast_gup == "A")


def test_fork_pin_leak_v57():
    t = trace_steps(run("fork-pin-leak", "v5.7"))
    ref = first(t, "child", "follow_page")
    assert t[ref].changes["child_gup"] == (NO_FOLIO, "A")
    zap = first(t, "child", "zap", ref)
    assert t[zap].changes["A_map"] == (2, 1)
    reuse = first(t, "parent", "wp.reuse", zap)
    assert t[reuse].changes["pte"][1].folio == "A"                       # reused by mapcount
    store = first(t, "parent", "access", reuse, lambda c: "A_data" in c)
    assert t[store].changes["A_data"] == ("old", "old+parent") and store == len(t) - 1
    assert "reuse_swap_page" in t[first(t, "parent", "wp.can_reuse")].kernel_ref


@pytest.mark.parametrize("variant", ["v5.9", "v5.19"])
def test_fork_pin_leak_fixed_kernels_reach_the_cve_window(variant):
    """The child's R/O FOLL_GET takes its reference without a fault (gup_must_unshare() is for
    FOLL_PIN only), so the child's fault handlers never run in these kernels; the race the variants
    are about does: the parent's write fault decides reuse-or-copy with the child's mapping zapped and
    the pipe's reference held, and copies."""
    def window(cm, s):
        return (at(cm, s, "parent") == "wp.can_reuse" and s.child_gup == "A" and not s.child_pte.present
                and s.A_map == 1)

    assert reachable("fork-pin-leak", variant, window)
    assert reachable("fork-pin-leak", variant,
                     lambda cm, s: s.child_gup == "A" and s.pte.present and s.pte.folio != "A" and s.pte.write)


def test_fork_pin_leak_unshare_pins_the_childs_copy():
    assert reachable("fork-pin-leak", "v5.19-foll-pin",
                     lambda cm, s: s.child_gup not in (NO_FOLIO, "A") and s.child_unshare is False
                     and getattr(s, s.child_gup + "_excl"))


def test_fork_swap_entry_keeps_the_bit():
    t = trace_steps(run("fork-swap-entry", "fork-keeps-swp-exclusive"))
    copy = first(t, "parent", "fork.copy_entry", first(t, "parent", "fork.copy"))
    assert t[copy].changes["child_pte"][1] == pte_swap(exclusive=True, soft_dirty=True)
    mapped = first(t, "parent", "dsp.set_pte", copy)
    assert t[mapped].changes["pte"][1].present and t[-1] is t[mapped]


def test_fork_clears_the_swp_bit_in_both():
    def cleared(cm, s):
        return s.pte == s.child_pte == pte_swap(soft_dirty=True) and s.swp_count == 2
    assert reachable("fork-swap-entry", "1493a1913e34", cleared)


def test_mprotect_downgrade_loses_exclusivity():
    t = trace_steps(run("migration-exclusive", "mprotect-readable"))
    entry = first(t, "migrate", "mig.set")
    assert t[entry].changes["pte"][1] == pte_migration("A", write=True, soft_dirty=True)
    ro = first(t, "user", "mprotect_ro", entry)
    assert t[ro].changes["pte"][1] == pte_migration("A", soft_dirty=True)       # readable, not -excl
    restore = first(t, "migrate", "mig.remove0", ro)
    assert "A_excl" not in t[restore].changes
    copy = first(t, "user", "wp.copy_pte", restore)
    assert t[copy].changes["pte"][1].folio != "A"


def test_mprotect_keeps_readable_exclusive():
    def kept(cm, s):
        return s.pte == pte_migration("A", exclusive=True, soft_dirty=True)
    assert reachable("migration-exclusive", "6c287605fd56", kept)
    # ... and the restored page is exclusive again, mapped read-only
    assert reachable("migration-exclusive", "6c287605fd56",
                     lambda cm, s: s.pte == pte_present("A", soft_dirty=True) and s.A_excl
                     and at(cm, s, "migrate") == "mig.done")


def test_pinned_page_never_gets_a_migration_entry():
    for variant in ("6c287605fd56-pinned-fork", "mprotect-readable-pinned-fork"):
        # while the pin is held, try_to_migrate_one() backs off and fork() copies the pinned page
        assert not reachable("migration-exclusive", variant,
                             lambda cm, s: s.pte.kind == "migration" and s.pipe_page != NO_FOLIO)
        assert not reachable("migration-exclusive", variant,
                             lambda cm, s: s.pipe_page != NO_FOLIO and s.child_pte.present
                             and s.child_pte.folio == s.pipe_page)
        assert reachable("migration-exclusive", variant,
                         lambda cm, s: at(cm, s, "migrate") == "mig.putback" and s.A_pin == 1)


def test_unpinned_page_migrates_and_fork_write_protects_it():
    """Once the pin is released the race the variants are about runs: fork() write-protects the shared
    page, the migration entry exists while mprotect() changes it, and the knob decides its type."""
    for variant, entry in (("6c287605fd56-pinned-fork", pte_migration("A", exclusive=True, soft_dirty=True)),
                           ("mprotect-readable-pinned-fork", pte_migration("A", soft_dirty=True))):
        assert reachable("migration-exclusive", variant,
                         lambda cm, s: s.pipe_page == NO_FOLIO and s.pte == entry
                         and at(cm, s, "user") == "mprotect_rw")
        assert reachable("migration-exclusive", variant,
                         lambda cm, s: s.child_pte.present and s.pte.present and not s.pte.write
                         and s.child_pte.folio == s.pte.folio)


def _mprotect_rw(variant, overrides=None):
    """Every transition user.mprotect_rw takes on a present PTE, as (write, dirty, PageAnonExclusive
    before) -> write after, and the step's reference text."""
    cm = build("migration-exclusive", variant, overrides)
    user = cm.thread_names.index("user")
    out, refs, seen, todo = set(), set(), {cm.initial}, [cm.initial]
    while todo:
        s = todo.pop()
        for t, n in cm.successors(s):
            if t == user and cm.label_at(t, s) == "mprotect_rw":
                refs.add(cm.step_at(t, s).ref)
                if s.pte.present:
                    out.add(((s.pte.write, s.pte.dirty, getattr(s, f"{s.pte.folio}_excl")), n.pte.write))
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return out, refs


def test_2026_mprotect_makes_an_exclusive_pte_writable_and_leaves_a_shared_one_read_only():
    """Since 64fe24a3e05e mprotect(PROT_READ|PROT_WRITE) maps a read-only PTE of a PageAnonExclusive
    page writable itself (the 2026 form clean or dirty, 64fe24a3e05e's only dirty); a page fork()
    shared stays read-only; v5.19 left every private anon PTE read-only; the seeded mutation makes
    the shared page writable."""
    now, refs = _mprotect_rw("mainline-2026-pinned-fork")
    assert ((False, True, True), True) in now and ((False, False, True), True) in now    # exclusive
    assert ((False, True, False), False) in now                                          # shared
    assert not any(after for before, after in now if not before[2])
    assert any("set_write_prot_commit_flush_ptes()" in r and "commit_anon_folio_batch()" in r for r in refs)
    v519, refs = _mprotect_rw("6c287605fd56-pinned-fork")
    assert ((False, True, True), False) in v519 and not any(after for before, after in v519 if not before[0])
    assert all("private anon stays write-protected" in r for r in refs)
    v60, refs = _mprotect_rw("mainline-2026-pinned-fork", {"mprotect.try_change_writable": "64fe24a3e05e"})
    assert ((False, True, True), True) in v60 and ((False, False, True), False) in v60     # pte_dirty()
    assert all("can_change_pte_writable()" in r for r in refs)
    seeded, _ = _mprotect_rw("seeded-mprotect-writable-shared")
    assert ((False, True, False), True) in seeded


def test_2026_mprotect_store_lands_without_a_fault():
    """mainline-2026: a run in which the store lands without a write fault in the page the vmsplice()
    reference holds (reachable outcome store_without_write_fault); the seeded mutation's trace: fork
    shares the unpinned page, mprotect() makes the parent's PTE writable over the child's mapping."""
    assert reachable("migration-exclusive", "mainline-2026",
                     lambda cm, s: cm.label_at(1, s) == "done" and not s.store_faulted
                     and s.pte.present and s.pte.folio == "A" and s.A_excl)
    t = trace_steps(run("migration-exclusive", "seeded-mprotect-writable-shared"))
    share = first(t, "user", "fork.copy", 0, lambda c: c.get("A_excl") == (True, False))
    rw = first(t, "user", "mprotect_rw", share)
    assert t[rw].changes["pte"] == (pte_present("A", dirty=True, soft_dirty=True),
                                    pte_present("A", write=True, dirty=True, soft_dirty=True))
    assert rw == len(t) - 1


def test_mprotect_writable_knobs_are_validated():
    with pytest.raises(KnobError, match="mprotect.writable_needs_exclusive"):
        build("migration-exclusive", "6c287605fd56", {"mprotect.writable_needs_exclusive": False})
    with pytest.raises(KnobError, match="mm.anon_exclusive"):
        build("migration-exclusive", "v5.18", {"mprotect.try_change_writable": "mainline-2026"})


# --------------------------------------------------------------------------------------------
# The fixed variants reach the window their fix closes


def test_ipi_flush_waits_for_gup_fast():
    """x86: a GUP-fast inside its IRQs-off window holds try_to_unmap_one's flush back."""
    assert reachable("gup-fast-vs-unmap", "v5.19-x86-64",
                     lambda cm, s: at(cm, s, "reclaim") == "unmap.flush" and s.gup_fast_irqs_off == 1
                     and at(cm, s, "gup_fast") == "gupf.irq_on" and s.gup_fast_gupf_page == "A")
    # the what-if arch with relaxed atomics: the late pin is visible to the pin check
    assert reachable("gup-fast-vs-unmap", "ipi-weak-v5.19",
                     lambda cm, s: at(cm, s, "reclaim") == "keep" and s.pte.present and s.A_pin == 1)


@pytest.mark.parametrize("scenario", ["gup-fast-vs-unmap", "gup-fast-vs-migrate-fork"])
def test_088b8aa537c2_both_back_offs(scenario):
    """Either GUP-fast sees the cleared PTE (B4) or the unmapper sees the pin (A2)."""
    unmapper = "reclaim" if scenario == "gup-fast-vs-unmap" else "migrate"
    fail = "keep" if unmapper == "reclaim" else "mig.putback"
    assert reachable(scenario, "088b8aa537c2",
                     lambda cm, s: s.gup_fast_gupf_result == "fallback" and s.A_pin == 0
                     and s.pte.kind in ("swap", "migration"))
    assert reachable(scenario, "088b8aa537c2",
                     lambda cm, s: at(cm, s, unmapper) == fail and s.gup_fast_gup == "A" and s.A_excl)


def test_fork_copies_a_migration_entry_as_readable():
    assert reachable("gup-fast-vs-migrate-fork", "088b8aa537c2",
                     lambda cm, s: s.child_pte == pte_migration("A", soft_dirty=True))


# --------------------------------------------------------------------------------------------
# Building blocks


def _flush_model(arch_ipi):
    m = Model("flush")
    mm = MM(m, folios=("A",))
    mm.add_pte(pte_present("A", write=True))
    mm.add_folios(A={"ref": 1, "map": 1})
    mm.add_swap_slot()
    irqs, _ = sync_fields(mm)
    cpu = mm.thread("cpu")
    cpu.step("irq_off", "local_irq_save()", effect=lambda s: {irqs: 1}, writes=[irqs])
    flusher = mm.thread("flusher")
    emit_tlb_flush(flusher, KernelII(tlb_flush_ipi=arch_ipi), "flush", "ptep_clear_flush()")
    return m.compile(), irqs


def test_flush_ipi_cannot_complete_inside_the_window():
    cm, irqs = _flush_model(True)
    s = cm.make_state({irqs: 1})
    assert not cm.fire(1, s)
    assert cm.fire(1, cm.make_state({irqs: 0}))
    cm, irqs = _flush_model(False)                    # arm64: TLBI broadcast does not wait
    assert cm.fire(1, cm.make_state({irqs: 1}))


def test_child_view_shares_folios_not_the_pte():
    m = Model("v")
    mm = MM(m, folios=("A",))
    mm.add_pte(pte_present("A"))
    mm.add_folios(A={"ref": 1, "map": 1})
    mm.add_swap_slot()
    child = child_view(mm)
    assert (child.pte, child.ptl) == ("child_pte", "child_ptl") and (mm.pte, mm.ptl) == ("pte", "ptl")
    assert child.f is mm.f and child.swp_cache == mm.swp_cache
    assert m.fields["child_ptl"].is_lock


def test_knob_combinations_are_checked():
    with pytest.raises(KnobError, match="cow.reuse_by_mapcount"):
        ae2.fork_pin_leak(Knobs(ae2.fork_pin_leak.knobs, {"cow.reuse_by_mapcount": True}))
    with pytest.raises(KnobError, match="migration.fork"):
        ae2.migration_exclusive(Knobs(ae2.migration_exclusive.knobs, {"migration.fork": True}))
    sc = get_scenario("gup-fast-vs-unmap")
    with pytest.raises(KnobError, match="arch"):
        sc.build(sc.variant(None), {"arch": "sparc"})


def test_override_reopens_race_iii():
    """`--set arch=arm64 --set gup_fast.barriers=false` on the fixed variant is the buggy one."""
    sc = get_scenario("gup-fast-vs-unmap")
    r = explore(sc.build(sc.variant("088b8aa537c2"), {"gup_fast.barriers": "false"}))
    assert r.verdict == VIOLATED and r.invariant == "pinned_page_is_exclusive"


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_footprints(scenario):
    sc = get_scenario(scenario)
    for v in sc.variants:
        assert check_footprints(sc.build(v)) == [], v.name


def test_states_are_canonical_after_the_threads_finish():
    """Finished work leaves no locals behind (the state space stays small and honest)."""
    sc = get_scenario("fork-vs-gup-fast")
    cm = sc.build(sc.variant("v5.19"))
    r = explore(cm, reduction=False, graph=True)
    finals = [s for s in r.parent if cm.all_done(s)]
    assert finals
    for s in finals:
        assert s.gup_fast_gupf_page == NO_FOLIO and s.gup_fast_gupf_pin_lag is False
        assert s.ptl == FREE and s.child_ptl == FREE
