"""Issue 6: MTE tag restore ordering, swap-in error entries and uffd-wp PTE markers.

Every scenario x variant gives its expected verdict with and without reduction; each buggy variant's
counterexample shows the kernel's own steps in order; each fixed variant reaches the window its fix
closes; the MTE helpers follow the per-release forms of mte_sync_tags()/mte_restore_tags().
"""

import pytest

from pteverify.model import Knobs, Model
from pteverify.models.mm import MM, PTE_NONE, PTE_SWAPIN_ERROR, pte_present, pte_swap
from pteverify.models.mm import PTE_MARKER_UFFD_WP, is_swap_pte
from pteverify.models.arm64_mteswap import BUF, FREED, GARBAGE, MTE, NO_TAGS, SAVED, ZERO, MteKernel
from pteverify.scenario import get_scenario
from pteverify.trace import race_table, trace_steps

from scenario_helpers import run, first, reachable, check_registry, KILLED_BY_MUTANTS

EXPECTED = {
    "mte-swapin": {"v5.17": None, "c145e0b47c77": "mte_tags_survive_swap", "c145e0b47c77-swapcache": None,
                   "6dca4ac6fc91": None, "v6.6": None, "mainline-2026": None},
    "mte-swapoff": {"v6.5": None, "simplify-without-unuse-restore": "mte_tags_survive_swap", "v6.6": None, "mainline-2026": None},
    "mte-shmem": {"v6.1": None, "v6.6": None, "seeded-restore-after-swap-free": "mte_tags_survive_swap",
                  "mainline-2026": None},
    "mte-readpage-race": {"readpage-hook": "no_freed_tag_storage_read", "6dca4ac6fc91": None, "mainline-2026": None},
    "mte-uninit-tags": {"c4c597f1b367^": "no_uninitialised_tags_exposed", "c4c597f1b367": None, "v6.6": None, "mainline-2026": None},
    "swapin-error-marker": {"7b49514fa1db^": "madvise_free_discards_swapin_error", "7b49514fa1db": None,
                            "7e3ce3f8d2d2^": "no_data_after_swapin_error", "7e3ce3f8d2d2": None,
                            "seeded-fork-swap-duplicate": "marker_not_swap_entry", "mainline-2026": None},
    "uffd-wp-marker": {"999dad824c39^": "uffd_wp_write_traps", "49d6d7fb6313^": "uffd_wp_marker_in_uffd_wp_vma",
                       "49d6d7fb6313": None, "49d6d7fb6313-fork-event": None, "mainline-2026": None},
}
CASES = [(sc, v) for sc, vs in EXPECTED.items() for v in vs]





# --------------------------------------------------------------------------------------------
# Registry, verdicts, footprints


def test_registry_has_the_issue_variants():
    check_registry(EXPECTED)




def test_every_invariant_is_violated_by_some_variant():
    violated = {inv for vs in EXPECTED.values() for inv in vs.values() if inv} | KILLED_BY_MUTANTS
    for name in EXPECTED:
        sc = get_scenario(name)
        for v in sc.variants:
            cm = sc.build(v)
            for inv in cm.invariants + cm.finals:
                assert inv.name in violated, f"{name}: invariant {inv.name} fails in no shipped variant"


# --------------------------------------------------------------------------------------------
# The buggy variants' races, step by step


def test_c145e0b47c77_frees_the_tags_before_the_restore():
    r = run("mte-swapin", "c145e0b47c77")
    t = trace_steps(r)
    free = next(i for i, st in enumerate(t) if st.label == "dsp.swap_free")
    thread = t[free].thread
    assert t[free].changes["swp_count"] == (1, 0)
    assert t[free].changes["mte_xa"] == (BUF, NO_TAGS)                 # xa_erase()
    assert t[free].changes["tag_storage"] == (SAVED, FREED)            # mte_free_tag_storage()
    assert "arch_swap_invalidate_page" in t[free].kernel_ref and "swap_free(entry)" in t[free].kernel_ref
    setpte = first(t, thread, "dsp.set_pte", free)
    fid = t[setpte].changes["pte"][1].folio
    assert t[setpte].changes[f"{fid}_tags"] == (GARBAGE, ZERO)         # nothing to restore: zeroed
    assert "mte_restore_tags" in t[setpte].kernel_ref
    assert not any(st.label == "dsp.arch_swap_restore" for st in t)
    assert t[-1].changes[next(c for c in t[-1].changes if c.endswith("_tags_seen"))] == (NO_TAGS, ZERO)
    table = "".join(race_table(r).split())
    assert table.index("arch_swap_invalidate_page") < table.index("mte_sync_tags(old_pte,pte)")


def test_6dca4ac6fc91_restores_before_swap_free():
    def restored_then_freed(cm, s):
        return s.A_tags == SAVED and s.A_mte_tagged and s.tag_storage == FREED and s.pte.present

    assert reachable("mte-swapin", "6dca4ac6fc91", restored_then_freed)
    sc = get_scenario("mte-swapin")
    labels = [st.label for st in sc.build(sc.variant("6dca4ac6fc91")).threads[0].steps]
    assert labels.index("dsp.arch_swap_restore") < labels.index("dsp.swap_free") < labels.index("dsp.set_pte")
    labels = [st.label for st in sc.build(sc.variant("v5.17")).threads[0].steps]
    assert labels.index("dsp.set_pte") < labels.index("dsp.swap_free")


def test_readpage_hook_restores_from_freed_storage():
    t = trace_steps(run("mte-readpage-race", "readpage-hook"))
    loads = [i for i, st in enumerate(t) if st.label == "dsp.readpage_xa_load"]
    free = next(i for i, st in enumerate(t) if st.label == "dsp.swap_free")
    uaf = next(i for i, st in enumerate(t) if "tag_storage_uaf" in st.changes)
    assert t[uaf].label == "dsp.readpage_restore"
    late = t[uaf].thread
    # the late thread took the pointer before the other thread's swap_free() freed the storage
    assert any(t[i].thread == late and i < free for i in loads)
    assert t[free].thread != late and t[free].changes["tag_storage"] == (SAVED, FREED)
    assert free < uaf


def test_readpage_fixed_second_fault_backs_off():
    def backed_off(cm, s):
        return s.fault0_tags_seen == SAVED and s.fault1_tags_seen == SAVED and s.B_ref == 0

    assert reachable("mte-readpage-race", "6dca4ac6fc91", backed_off)


def test_swapoff_seeded_loses_the_tags_in_set_pte_at():
    t = trace_steps(run("mte-swapoff", "simplify-without-unuse-restore"))
    i = next(i for i, st in enumerate(t) if st.thread == "swapoff" and st.label == "set_pte")
    fid = t[i].changes["pte"][1].folio
    assert t[i].changes[f"{fid}_tags"] == (GARBAGE, ZERO)


@pytest.mark.parametrize("variant,step", [("v6.5", "set_pte"), ("v6.6", "unuse_pte.arch_swap_restore")])
def test_swapoff_fixed_restores(variant, step):
    sc = get_scenario("mte-swapoff")
    cm = sc.build(sc.variant(variant))
    assert step in [st.label for st in cm.threads[0].steps]

    def mapped_by_swapoff(cm, s):
        return cm.label_at(0, s) == "free_swap" and s.pte.present and getattr(s, f"{s.pte.folio}_tags") == SAVED

    assert reachable("mte-swapoff", variant, mapped_by_swapoff)


def test_shmem_loser_gets_eexist_and_finds_the_page_cache():
    def eexist(cm, s):
        # task1 re-looks up after task0 replaced the swap entry by the folio
        return cm.label_at(1, s) == "shmem.lookup" and s.xa0 != "slot0" and s.task1_folio == "-" \
            and s.task0_tags_seen == SAVED

    assert reachable("mte-shmem", "v6.6", eexist)
    t = trace_steps(run("mte-shmem", "seeded-restore-after-swap-free"))
    add = next(i for i, st in enumerate(t) if st.label == "shmem.add_to_page_cache")
    assert t[add].changes["tag_storage"] == (SAVED, FREED)


def test_uninit_tags_set_by_remove_migration_pte():
    t = trace_steps(run("mte-uninit-tags", "c4c597f1b367^"))
    rm = first(t, "kcompactd", "remove_migration_pte")
    new = t[rm].changes["pte"][1].folio
    assert t[rm].changes[f"{new}_mte_tagged"] == (False, True) and f"{new}_tags" not in t[rm].changes
    change = first(t, "task", "change_pte_range", rm)
    assert f"{new}_tags" not in t[change].changes                      # page_mte_tagged(): skipped
    assert t[-1].changes["task_tags_seen"] == (NO_TAGS, GARBAGE)


def test_uninit_fixed_zeroes_at_mprotect():
    def zeroed(cm, s):
        return s.task_tags_seen == ZERO and s.pte.folio == "B"

    assert reachable("mte-uninit-tags", "c4c597f1b367", zeroed)


def test_madvise_free_kept_the_error_entry():
    t = trace_steps(run("swapin-error-marker", "7b49514fa1db^"))
    mf = first(t, "parent", "madvise_free")
    assert "pte" not in t[mf].changes and "non_swap_entry(entry) -> continue" in t[mf].kernel_ref
    assert t[first(t, "parent", "load", mf)].changes["parent_result"] == ("-", "SIGBUS")


def test_fork_dropped_the_error_marker():
    t = trace_steps(run("swapin-error-marker", "7e3ce3f8d2d2^"))
    fork = first(t, "fork", "copy_page_range")
    assert "child_pte" not in t[fork].changes                          # dropped: the child PTE stays none
    assert t[first(t, "child", "load", fork)].changes["child_result"] == ("-", "data")

    def child_sigbus(cm, s):
        return s.child_pte == PTE_SWAPIN_ERROR and s.child_result == "SIGBUS"

    assert reachable("swapin-error-marker", "7e3ce3f8d2d2", child_sigbus)


def test_seeded_swap_duplicate_of_a_marker():
    t = trace_steps(run("swapin-error-marker", "seeded-fork-swap-duplicate"))
    assert t[-1].label == "copy_page_range" and t[-1].changes["swp_count"] == (0, 1)


def test_zap_without_marker_accepts_the_write():
    t = trace_steps(run("uffd-wp-marker", "999dad824c39^"))
    clear = next(i for i, st in enumerate(t) if st.label in ("zap_pte_range", "try_to_unmap_one"))
    assert t[clear].changes["pte"] == (pte_present("A", uffd_wp=True), PTE_NONE)
    assert t[-1].thread == "writer" and t[-1].changes["writer_result"] == ("-", "stored")


def test_fork_copies_marker_into_unregistered_vma():
    t = trace_steps(run("uffd-wp-marker", "49d6d7fb6313^"))
    fork = first(t, "fork", "copy_page_range")
    assert t[fork].changes["child_pte"] == (PTE_NONE, PTE_MARKER_UFFD_WP)
    assert "WARN_ON_ONCE(!userfaultfd_wp(dst_vma))" in t[fork].kernel_ref


@pytest.mark.parametrize("clearer", ["zap_pte_range", "try_to_unmap_one"])
def test_marker_makes_the_write_trap(clearer):
    sc = get_scenario("uffd-wp-marker")
    cm = sc.build(sc.variant("49d6d7fb6313"))
    ti = [t.name for t in cm.threads].index("madvise" if clearer == "zap_pte_range" else "reclaim")

    def marker_then_trap(cm, s):
        return s.pte == PTE_MARKER_UFFD_WP and cm.label_at(ti, s) == "done"

    assert reachable("uffd-wp-marker", "49d6d7fb6313", marker_then_trap)

    # from the marker, every way the writer's store can end is a userfault
    names = [t.name for t in cm.threads]
    pcs = [len(t.steps) if t.name in ("madvise", "reclaim") else 0 for t in cm.threads]
    start = cm.make_state({**cm.initial.as_dict(), "pte": PTE_MARKER_UFFD_WP, "A_map": 0, "A_ref": 1}, pcs)
    seen, todo, ends = {start}, [start], set()
    while todo:
        s = todo.pop()
        if cm.label_at(names.index("writer"), s) == "done":
            ends.add(s.writer_result)
        for _, n in cm.successors(s):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    assert ends == {"userfault"}

    def child_keeps_marker(cm, s):
        return s.child_pte == PTE_MARKER_UFFD_WP

    assert reachable("uffd-wp-marker", "49d6d7fb6313-fork-event", child_keeps_marker)
    assert not reachable("uffd-wp-marker", "49d6d7fb6313", child_keeps_marker)


# --------------------------------------------------------------------------------------------
# The MTE helpers, per release


def _mte(k=MteKernel(), **kw):
    m = Model("t", "", Knobs(()))
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap())
    mm.add_folios()
    mm.add_swap_slot(count=1, data="old")
    mte = MTE(mm, k, **kw)
    m.thread("t").step("x", "noop")
    return mm, mte, m.compile()


@pytest.mark.parametrize("k,old,tagged_pte,saved,want", [
    (MteKernel(set_pte_restores=True), pte_swap(), True, True, (True, SAVED)),      # 5.14-6.5 restore
    (MteKernel(set_pte_restores=True), pte_swap(), True, False, (True, ZERO)),      # freed: zeroed
    (MteKernel(set_pte_restores=False), pte_swap(), True, True, (True, ZERO)),      # v6.6: no restore
    (MteKernel(set_pte_restores=True), PTE_NONE, False, True, (False, GARBAGE)),    # nothing to do
    (MteKernel(set_pte_restores=True, sync_sets_tagged=True), pte_swap()._replace(kind="migration"),
     False, True, (True, GARBAGE)),                                                 # the c4c597f1b367 bug
    (MteKernel(set_pte_restores=True), pte_swap()._replace(kind="migration"), False, True, (False, GARBAGE)),
])
def test_sync_tags_forms(k, old, tagged_pte, saved, want):
    mm, mte, cm = _mte(saved=saved)
    d = {}
    mte.sync_tags(cm.initial, d, k, "A", old, tagged_pte)
    s = cm.make_state(d)
    assert (s.A_mte_tagged, s.A_tags) == want


def test_tag_store_lifetime():
    mm, mte, cm = _mte(saved=True)
    s = cm.make_state({"swp_has_cache": True, "swp_cache": "A", "A_swapcache": True, "A_ref": 1,
                       "A_mte_tagged": True, "A_tags": SAVED})
    d = {}
    mm.swap_free(s, d)
    assert "mte_xa" not in d and "tag_storage" not in d             # SWAP_HAS_CACHE keeps the slot
    mm.delete_from_swap_cache(s, d, "A")                            # put_swap_page(): the slot is freed
    assert d["mte_xa"] == NO_TAGS and d["tag_storage"] == FREED     # swap_range_free() hook
    assert d["A_ref"] == 0 and d["A_mte_tagged"] is False and d["A_tags"] == GARBAGE   # folio freed
    d = {}
    mm.swap_free(cm.initial, d)                                     # the last swap reference
    assert d["swp_count"] == 0 and d["mte_xa"] == NO_TAGS and d["tag_storage"] == FREED
    d = {}
    assert mte.restore(cm.initial, d, "A") and d == {"A_tags": SAVED, "A_mte_tagged": True}
    tagged = cm.make_state({"A_mte_tagged": True, "A_tags": ZERO})
    assert not mte.restore(tagged, {}, "A")                          # try_page_mte_tagging() fails


def test_mte_runs_on_the_shared_paths():
    """arm64's hooks join the shared do_swap_page / unuse_pte at the kernel's call sites, and every
    step that can free the slot carries arch_swap_invalidate_page() in its footprint."""
    sc = get_scenario("mte-swapin")
    fault = sc.build(sc.variant("v6.6")).threads[0]
    labels = [st.label for st in fault.steps]
    assert labels.index("dsp.pte_same") < labels.index("dsp.exclusive") < labels.index("dsp.arch_swap_restore") \
        < labels.index("dsp.swap_free") < labels.index("dsp.set_pte")
    steps = {st.label: st for st in fault.steps}
    assert {"mte_xa", "tag_storage"} <= steps["dsp.swap_free"].writes
    assert "mte_sync_tags" in steps["dsp.set_pte"].ref and "A_tags" in steps["dsp.set_pte"].writes
    sc = get_scenario("mte-swapoff")
    swapoff = sc.build(sc.variant("v6.6")).threads[0]
    labels = [st.label for st in swapoff.steps]
    assert labels[labels.index("unuse_pte") + 1:labels.index("set_pte")] == ["unuse_pte.arch_swap_restore"]
    for st in swapoff.steps:
        if {"swp_count", "swp_has_cache"} & st.writes:
            assert {"mte_xa", "tag_storage"} <= st.writes, st.label
    assert "unuse_pte.arch_swap_restore" not in [st.label for st in sc.build(sc.variant("v6.5")).threads[0].steps]
    # without the hooks the shared paths have no trace of MTE
    sc = get_scenario("swapin-two-faults")
    cm = sc.build(sc.variants[0])
    assert not any("mte" in f or "tag" in f for f in cm.field_names)
    assert not any("arch_swap" in st.label or "arch_swap" in st.ref for st in cm.steps)


def test_marker_helpers():
    assert is_swap_pte(PTE_MARKER_UFFD_WP) and is_swap_pte(PTE_SWAPIN_ERROR) and not is_swap_pte(PTE_NONE)
    assert PTE_MARKER_UFFD_WP != PTE_NONE and PTE_MARKER_UFFD_WP.kind != "swap"


def test_prot_mte_change_pte_range_names_the_2026_calls():
    """mte-uninit-tags' mprotect(PROT_MTE) step: the 2026 tree's change_pte_range() calls
    (change_present_ptes(), arm64's modify_prot_commit_ptes() -> set_ptes() in the note) in the
    mainline-2026 variant, ptep_modify_prot_commit() -> set_pte_at() in the older ones."""
    from scenario_helpers import build

    def kernel(variant):
        cm = build("mte-uninit-tags", variant)
        [st] = [st for th in cm.model.threads for st in th.steps if st.label == "change_pte_range"]
        return st.ref, st.kernel.calls

    ref, calls = kernel("mainline-2026")
    assert calls == ("pte_offset_map_lock", "ptep_get", "vm_normal_page", "mprotect_folio_pte_batch",
                     "change_present_ptes", "pte_unmap_unlock")
    assert "modify_prot_commit_ptes() -> set_ptes()" in ref and "mte_sync_tags(" in ref
    ref, calls = kernel("v6.6")
    assert "ptep_modify_prot_commit" in calls and "change_present_ptes" not in calls
