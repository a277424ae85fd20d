"""Mutation testing (`pteverify mutate`): operators, kills, equivalents, the command line."""

import json
import subprocess
import sys
import textwrap

import pytest

from pteverify import mutate as mut
from pteverify.explore import HOLDS, explore
from pteverify.model import Model
from pteverify.scenario import ScenarioError, get_scenario, load_scenarios

# A toy bank: two depositors add 1 to a balance under a lock (load into a local, store, unlock); an
# auditor waits for a deposit and then flips a coin (two outcomes). The strong scenario checks
# the final balance and declares the coin's second outcome a race step; the weak one checks nothing
# that a lost deposit breaks.
TOY = textwrap.dedent('''
    from pteverify.model import Model, builder

    @builder()
    def build(knobs):
        m = Model("toy", "a locked counter", knobs)
        m.lock("L")
        m.field("bal", 0, range(4))
        m.field("coin", 0, (0, 1, 2))
        for name in ("a", "b"):
            t = m.thread(name)
            r = m.field(name + "_r", 0, range(4))
            t.step("lock", "spin_lock(&L)", acquire="L")
            t.step("load", "r = bal", effect=lambda s, r=r: {r: s.bal}, reads=["bal"], writes=[r])
            t.step("store", "bal = r + 1", effect=lambda s, r=r: {"bal": getattr(s, r) + 1},
                   reads=[r], writes=["bal"])
            t.step("unlock", "spin_unlock(&L)", release="L")
        t = m.thread("audit")
        t.step("wait", "wait_event(bal > 0)", guard=lambda s: s.bal > 0, reads=["bal"])
        t.step("flip", "coin = 1 or 2", effect=lambda s: [{"coin": 1}, {"coin": 2}], writes=["coin"])
        m.final("deposits_kept", lambda s: s.bal == 2, ["bal"], "no deposit is lost")
        m.invariant("sane", lambda s: s.bal <= 3 and s.coin <= 2, ["bal", "coin"])
        return m
''')


def _scenario(tmp_path, name, extra="", invariants=None):
    (tmp_path / "toy.py").write_text(TOY)
    inv = f"invariants = {json.dumps(invariants)}\n" if invariants is not None else ""
    text = (f'name = "{name}"\nmodel = "toy.py:build"\n{inv}{extra}\n'
            '[[variants]]\nname = "base"\nexpect = "holds"\n')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _ids(report):
    return [m.id for m in report.mutants]


def test_operators_derive_the_expected_mutants(tmp_path):
    sc = get_scenario(str(_scenario(tmp_path, "toy-strong")))
    rep, entries, _ = mut.plan_scenario(sc)
    got = [e.id if isinstance(e, mut.MutantResult) else e[0].id for e in entries]
    expected = []
    for t in ("a", "b"):
        # load writes only the thread's local: no skip-effect; unlock is the last step: no swap
        expected += [f"{t}.lock:swap-next", f"{t}.lock:drop-lock:L", f"{t}.load:swap-next",
                     f"{t}.store:skip-effect", f"{t}.store:swap-next", f"{t}.unlock:drop-unlock:L"]
    expected += ["audit.wait:drop-guard", "audit.wait:swap-next", "audit.flip:skip-effect",
                 "audit.flip:drop-outcome:0", "audit.flip:drop-outcome:1"]
    assert got == expected
    assert rep.unreached == []


def test_apply_mutant_leaves_the_original_alone(tmp_path):
    sc = get_scenario(str(_scenario(tmp_path, "toy-strong")))
    v = sc.variants[0]
    model = sc.build(v).model
    prof = mut.profile(model, v.name)
    spec = mut.MutantSpec("a.lock", "swap-next")
    m2 = mut.apply_mutant(model, spec, prof.steps["a.lock"])
    assert [s.label for s in m2.threads[0].steps] == ["load", "lock", "store", "unlock"]
    assert [s.index for s in m2.threads[0].steps] == [0, 1, 2, 3]
    assert [s.label for s in model.threads[0].steps] == ["lock", "load", "store", "unlock"]
    # the unlocked critical section loses a deposit: the mutant is killed by the final predicate
    m3 = mut.apply_mutant(model, mut.MutantSpec("a.lock", "drop-lock", "L"), prof.steps["a.lock"])
    r = explore(m3.compile(), reduction=False)
    assert r.verdict == "violated" and r.invariant == "deposits_kept"


def test_weak_scenario_lets_a_mutant_survive_strong_one_kills_it(tmp_path):
    weak = get_scenario(str(_scenario(tmp_path, "toy-weak", invariants=["sane"])))
    strong = get_scenario(str(_scenario(tmp_path, "toy-strong", extra='race = ["audit.flip"]')))
    (rw,) = mut.mutate_scenarios([weak])
    (rs,) = mut.mutate_scenarios([strong])
    w = {m.id: m for m in rw.mutants}
    s = {m.id: m for m in rs.mutants}
    # without the lock a deposit is lost: only the final predicate sees it
    assert w["a.lock:drop-lock:L"].status == mut.SURVIVED
    assert s["a.lock:drop-lock:L"].status == mut.KILLED and s["a.lock:drop-lock:L"].how == "deposits_kept"
    # a store that never happens: the weak scenario cannot tell
    assert w["a.store:skip-effect"].status == mut.SURVIVED
    assert s["a.store:skip-effect"].status == mut.KILLED
    # a dropped outcome only removes behaviour: no safety check can kill it, but the auditor's
    # dropped wait lets the store of a leaked lock ... no: dropping the coin flip's outcome is
    # survived by both (a race step fires with either outcome)
    assert w["audit.flip:drop-outcome:0"].status == mut.SURVIVED
    assert s["audit.flip:drop-outcome:0"].status == mut.SURVIVED
    # the leaked lock deadlocks the other depositor in both
    assert w["a.unlock:drop-unlock:L"].status == mut.KILLED and w["a.unlock:drop-unlock:L"].how == "deadlock"
    # swapping lock and load reads the balance outside the lock: a lost deposit
    assert s["a.lock:swap-next"].status == mut.KILLED
    # swapping store and unlock is harmless here: nobody else reads bal under the lock in between ...
    assert s["a.store:swap-next"].status == mut.KILLED       # ... but the other depositor stores in between
    assert rs.score > rw.score
    assert rs.count(mut.INVALID) == 0


def test_race_step_kills_a_mutant_that_skips_it(tmp_path):
    strong = get_scenario(str(_scenario(tmp_path, "toy-race", extra='race = ["audit.flip"]')))
    (rs,) = mut.mutate_scenarios([strong], operators=("drop-guard", "swap-next"))
    s = {m.id: m for m in rs.mutants}
    # without its wait the auditor flips before both deposits: still fires, not killed by coverage;
    # deposits are kept either way
    assert s["audit.wait:drop-guard"].status == mut.SURVIVED
    assert all(m.operator.startswith(("drop-guard", "swap-next")) for m in rs.mutants)


def test_invalid_swap_breaks_a_lock_pairing():
    # lock discipline broken by the operator is invalid, not killed: swap take_second/put_down
    (rep,) = mut.mutate_scenarios([load_scenarios()["philosophers"]], operators=("swap-next",))
    m = {x.id: x for x in rep.mutants}["phil0.take_second:swap-next"]
    assert m.status == mut.INVALID and "does not hold" in m.how


def test_equivalent_entries(tmp_path):
    eq = ('[[equivalent]]\nstep = "a.lock"\noperator = "drop-lock:L"\nreason = "a weak check"\n')
    (rep,) = mut.mutate_scenarios([get_scenario(str(_scenario(tmp_path, "toy-eq", extra=eq,
                                                                invariants=["sane"])))],
                                  operators=("drop-lock",))
    m = {x.id: x for x in rep.mutants}["a.lock:drop-lock:L"]
    assert m.status == mut.EQUIVALENT and m.reason == "a weak check"
    assert rep.score == 0.0                           # b's drop-lock survives, a's is equivalent
    # marked equivalent but killed by the strong scenario: stale
    (rep,) = mut.mutate_scenarios([get_scenario(str(_scenario(tmp_path, "toy-stale", extra=eq)))],
                                  operators=("drop-lock",))
    m = {x.id: x for x in rep.mutants}["a.lock:drop-lock:L"]
    assert m.status == mut.KILLED and m.stale


def test_survivor_entries_explain_without_changing_the_score(tmp_path):
    sv = ('[[survivor]]\nstep = "a.lock"\noperator = "drop-lock:L"\nreason = "needs a final balance check"\n')
    path = _scenario(tmp_path, "toy-sv", extra=sv, invariants=["sane"])
    (rep,) = mut.mutate_scenarios([get_scenario(str(path))], operators=("drop-lock",))
    m = {x.id: x for x in rep.mutants}
    assert m["a.lock:drop-lock:L"].status == mut.SURVIVED and m["a.lock:drop-lock:L"].explained
    assert m["a.lock:drop-lock:L"].reason == "needs a final balance check"
    assert not m["b.lock:drop-lock:L"].explained
    assert rep.score == 0.0                           # a known survivor still counts against the score
    assert mut.totals([rep])["unexplained_survivors"] == 1
    # --explained fails on b's unexplained survivor, and says so
    p = subprocess.run([sys.executable, "-m", "pteverify", "mutate", str(path), "--operator", "drop-lock",
                        "-j", "1", "--explained"], capture_output=True, text=True)
    assert p.returncode == 1 and "1 survivor(s) without a [[survivor]] reason" in p.stdout
    assert "known gap: needs a final balance check" in p.stdout
    # a known survivor that a check now kills is stale, like a killed equivalent
    (rep,) = mut.mutate_scenarios([get_scenario(str(_scenario(tmp_path, "toy-sv-stale", extra=sv)))],
                                  operators=("drop-lock",))
    m = {x.id: x for x in rep.mutants}["a.lock:drop-lock:L"]
    assert m.status == mut.KILLED and m.stale and m.marked == "survivor"
    # one mutant cannot be both
    both = sv + sv.replace("[[survivor]]", "[[equivalent]]")
    with pytest.raises(ScenarioError, match="both"):
        mut.mutate_scenarios([get_scenario(str(_scenario(tmp_path, "toy-both", extra=both)))],
                             operators=("drop-lock",))


@pytest.mark.parametrize("entry,fragment", [
    ('step = "a.nope"\noperator = "skip-effect"\nreason = "x"', "no step 'a.nope'"),
    ('step = "a.lock"\noperator = "frob"\nreason = "x"', "unknown operator 'frob'"),
    ('step = "a.lock"\noperator = "skip-effect"\nreason = "x"', "no such mutant"),
    ('step = "a.lock"\noperator = "skip-effect"', "needs exactly step, operator and reason"),
])
def test_bad_equivalent_entries_are_bad_input(tmp_path, entry, fragment):
    path = _scenario(tmp_path, "toy-bad", extra="[[equivalent]]\n" + entry + "\n")
    with pytest.raises(ScenarioError, match=fragment.replace("(", r"\(")):
        mut.mutate_scenarios([get_scenario(str(path))])
    p = subprocess.run([sys.executable, "-m", "pteverify", "mutate", str(path)], capture_output=True, text=True)
    assert p.returncode == 2 and fragment in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_lock_discipline_checks_pass_on_every_unmutated_model():
    """The checks that class a mutant invalid (a lock released or taken against its owner) never
    fire on the shipped models themselves: a mutant is invalid because of its operator."""
    for sc in load_scenarios().values():
        for v in sc.variants:
            if v.expect != "holds":
                continue
            model = sc.build(v).model
            locks = {n for n, f in model.fields.items() if f.is_lock}
            index = {n: i for i, n in enumerate(model.fields)}
            threads = [mut._thread_with(model, t, [mut._checked(st, getattr(t, "lock_owner", ti + 1), locks, index)
                                                   for st in t.steps])
                       for ti, t in enumerate(model.threads)]
            r = explore(mut._model_with(model, threads).compile(), reduction=False, max_states=sc.max_states)
            assert r.verdict == HOLDS, f"{sc.name}:{v.name}"


def test_cli_json_on_small_scenarios():
    p = subprocess.run([sys.executable, "-m", "pteverify", "mutate", "swapin-error-marker", "peterson",
                        "--json", "-j", "1"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    by = {s["scenario"]: s for s in doc["scenarios"]}
    assert set(by) == {"swapin-error-marker", "peterson"}
    for s in by.values():
        assert s["mutants"] == sum(s[k] for k in mut.STATUSES)
        for r in s["results"]:
            assert r["status"] in mut.STATUSES and r["step"] and r["operator"]
    assert doc["totals"]["mm"]["scenarios"] == 1 and doc["totals"]["other"]["scenarios"] == 1
    assert by["peterson"]["kind"] == "engine-validation"


def test_cli_min_score_and_usage():
    p = subprocess.run([sys.executable, "-m", "pteverify", "mutate", "lazyfree-gup", "--min-score", "100",
                        "-j", "1"], capture_output=True, text=True)
    assert p.returncode == 1 and "below --min-score" in p.stdout
    p = subprocess.run([sys.executable, "-m", "pteverify", "mutate"], capture_output=True, text=True)
    assert p.returncode == 2 and "nothing to mutate" in p.stderr


def test_a_mutant_cut_short_is_incomplete_not_killed(tmp_path):
    sc = get_scenario(str(_scenario(tmp_path, "toy-bounded")))
    (full,) = mut.mutate_scenarios([sc], operators=("drop-lock",))
    (cut,) = mut.mutate_scenarios([sc], operators=("drop-lock",), factor=1, min_states=1)
    m = {x.id: x for x in cut.mutants}["a.lock:drop-lock:L"]
    assert m.status == mut.INCOMPLETE and "max_states" in m.how
    assert full.count(mut.KILLED) > cut.count(mut.KILLED) and cut.score < full.score


def test_markdown_table(tmp_path):
    sc = get_scenario(str(_scenario(tmp_path, "toy-md")))
    reports = mut.mutate_scenarios([sc], operators=("drop-lock",))
    table = mut.markdown_table(reports)
    assert "| toy-md | 2 | 2 | 0 (0) | 0 | 0 | 0 | 100.0 % |" in table


def test_a_thread_ending_with_a_lock_held_violates_locks_released():
    m = Model("leak")
    m.lock("L")
    t = m.thread("t")
    t.step("lock", "spin_lock(&L)", acquire="L")
    t.step("work", "nothing", effect=lambda s: {})
    r = explore(m.compile(), reduction=False)
    assert r.verdict == "violated" and r.invariant == "locks_released" and r.kind == "final"
    m.locks_released_at_exit = False
    assert explore(m.compile(), reduction=False).verdict == HOLDS
    t.step("unlock", "spin_unlock(&L)", release="L")
    m.locks_released_at_exit = True
    assert explore(m.compile(), reduction=False).verdict == HOLDS


def test_a_leaked_unlock_is_killed_at_exit(tmp_path):
    # one depositor only: nobody waits for the lock it forgets to drop, yet the mutant is killed
    (tmp_path / "one.py").write_text(TOY.replace('("a", "b")', '("a",)').replace("s.bal == 2", "s.bal == 1"))
    path = tmp_path / "one.toml"
    path.write_text('name = "one"\nmodel = "one.py:build"\n[[variants]]\nname = "base"\nexpect = "holds"\n')
    (rep,) = mut.mutate_scenarios([get_scenario(str(path))], operators=("drop-unlock",))
    m = {x.id: x for x in rep.mutants}["a.unlock:drop-unlock:L"]
    assert m.status == mut.KILLED and m.how == "locks_released"


def test_exit_checks_kill_leaks():
    """The final predicates nothing_leaked and swapoff_leaves_no_swap_reference each kill a mutant:
    swapoff skipping try_to_free_swap()/unlock/put_page leaks the swap cache folio, and swapoff
    skipping the swap-in error entry leaves the swap PTE behind."""
    (rep,) = mut.mutate_scenarios([load_scenarios()["swapoff-read-error"]], operators=("skip-effect",))
    by = {m.id: m for m in rep.mutants}
    assert by["swapoff.free_swap:skip-effect"].how == "nothing_leaked"
    assert by["swapoff.swapin_error:skip-effect"].how == "swapoff_leaves_no_swap_reference"


def test_skip_effect_keeps_ghost_writes():
    """Removing a call's effect keeps its ghost writes (the record that the call happened), so a
    check comparing the record with the state sees the call's effect missing."""
    m = Model("ghosted")
    m.field("data", 0, (0, 1))
    m.field("stored", False, (False, True), "(ghost) the store completed", ghost=True)
    m.thread("t").step("store", "data = 1", effect=lambda s: {"data": 1, "stored": True},
                       writes=["data", "stored"])
    m.invariant("no_lost_store", lambda s: not s.stored or s.data == 1, ["stored", "data"])
    prof = mut.profile(m, "base")
    assert prof.steps["t.store"].changes
    mutant = mut.apply_mutant(m, mut.MutantSpec("t.store", "skip-effect"), prof.steps["t.store"])
    r = explore(mutant.compile(), reduction=False)
    assert r.verdict == "violated" and r.invariant == "no_lost_store"


RETRY = textwrap.dedent('''
    from pteverify.model import DONE, GOTO, Model, builder

    @builder()
    def build(knobs):
        m = Model("retry", "a waiter retries until a flag is set", knobs)
        m.field("flag", False, (False, True))
        m.thread("setter").step("set", "flag = true", effect=lambda s: {"flag": True}, writes=["flag"])
        m.thread("waiter").step("try", "if (!flag) goto try",
                                effect=lambda s: {GOTO: DONE} if s.flag else {GOTO: "try"},
                                reads=["flag"], branches=[DONE, "try"])
        if knobs_progress_in_model:
            m.eventually_finishes("waiter_finishes", "waiter", "the retry loop ends")
        return m
''')


@pytest.mark.parametrize("where", ["model", "file"])
def test_progress_properties_kill_mutants(tmp_path, where):
    """A progress property is a check like any other: a setter whose store is removed leaves the
    waiter retrying forever, which only the progress property sees (declared by the builder or by
    the scenario file's [[progress]])."""
    (tmp_path / "retry.py").write_text(RETRY.replace("knobs_progress_in_model", str(where == "model")))
    extra = ('[[progress]]\nname = "waiter_finishes"\nfinishes = "waiter"\n' if where == "file" else "")
    path = tmp_path / "retry.toml"
    path.write_text(f'name = "retry"\nmodel = "retry.py:build"\n\n{extra}\n'
                    '[[variants]]\nname = "base"\nexpect = "holds"\n')
    (rep,) = mut.mutate_scenarios([get_scenario(str(path))], operators=("skip-effect",))
    m = {x.id: x for x in rep.mutants}["setter.set:skip-effect"]
    assert m.status == mut.KILLED and m.how == "waiter_finishes"


def test_new_checks_kill_their_mutants():
    """Each check added to kill survivors kills a mutant (remove the check and this fails); together
    with test_exit_checks_kill_leaks they back scenario_helpers.KILLED_BY_MUTANTS: the folio-lock
    assertion of the swap core (folio_put_swap() in unuse_pte on the 2026 kernel), the MTE load that
    must go through a tagged PTE, the shmem accounting and page-cache checks, the uffd-wp fork
    protection and the protected store that must end (a progress property)."""
    want = [
        ("swapoff-bits", "swapoff.lock:drop-lock:A_lock", "model assertion"),
        ("mte-uninit-tags", "task.change_pte_range:skip-effect", "tag_checked_loads_checked"),
        ("mte-shmem", "task0.shmem.finish_fault:skip-effect", "shmem_nothing_leaked"),
        ("mte-shmem", "task0.shmem.add_to_page_cache:skip-effect", "shmem_mapped_folio_in_page_cache"),
        ("mte-shmem", "task0.shmem.lock:drop-lock:A_lock", "shmem_add_to_page_cache_locked"),
        ("uffd-wp-marker", "fork.copy_page_range:skip-effect", "uffd_wp_fork_keeps_protection"),
        ("uffd-wp-marker", "writer.store:skip-effect", "writer_store_returns"),
        ("mte-readpage-race", "fault0.dsp.free_swap:skip-effect", "no_zram_double_copy"),
        ("droppable-ksm", "user.store:skip-effect", "last_store_visible"),
        ("droppable-fork", "parent.store:skip-effect", "parent_store_visible"),
        ("droppable-fork", "child.store:skip-effect", "child_store_visible"),
        ("droppable-fork", "child.load:skip-effect", "child_load_read"),
        ("droppable-fork", "child.load.fault:skip-effect", "child_finishes"),
        ("droppable-reclaim", "user.load:skip-effect", "load_read_the_page"),
        ("droppable-reclaim", "user.store.fault:skip-effect", "user_accesses_end"),
        ("droppable-uffd-move", "user.access.fault:skip-effect", "user_load_ends"),
        ("lazyfree-redirty", "user.store.fault:skip-effect", "user_finishes"),
        ("swapoff-bits", "writer.wp.reuse:skip-effect", "writer_store_ends"),
        ("mte-uninit-tags", "kcompactd.move_to_new_folio:skip-effect", "migration_keeps_data"),
        ("lazyfree-gup", "odirect.dma:skip-effect", "dma_data_visible"),
        ("uffd-move-swapcache", "mover.move.lock:drop-lock:A_lock", "model assertion: folio_move_anon_rmap()"),
        ("swap-count-overflow", "zap0.put.put:skip-effect", "swap_count_matches_references"),
    ]
    names = sorted({n for n, _, _ in want})
    reps = {r.scenario: {x.id: x for x in r.mutants}
            for r in mut.mutate_scenarios([load_scenarios()[n] for n in names])}
    for name, mid, how in want:
        m = reps[name][mid]
        assert m.status == mut.KILLED and m.how.startswith(how), (name, mid, m.status, m.how)


def test_anon_exclusive_checks_kill_named_mutants():
    """The checks added to kill survivors each kill a named mutant of vmsplice-swapout: the folio-lock
    assertion of the swap cache (add_to_swap() without trylock_page()), try_to_unmap_one()'s
    swapbacked != swapcache WARN (unmap before add_to_swap()), the pipe's read-back (vmsplice()
    taking no reference), and the progress property (wp_page_reuse() not making the PTE writable:
    the store faults forever)."""
    (rep,) = mut.mutate_scenarios([load_scenarios()["vmsplice-swapout"]],
                                  operators=("skip-effect", "drop-lock", "swap-next"))
    by = {m.id: m for m in rep.mutants}
    for m in ("test.trylock:drop-lock:A_lock", "test.trylock:swap-next"):
        assert by[m].how.startswith("model assertion") and "not locked" in by[m].how, by[m].how
    assert "folio_test_swapbacked(folio) != folio_test_swapcache(folio)" in by["test.add_to_swap:swap-next"].how
    assert by["test.follow_page:skip-effect"].how == "pipe_reads_the_write"
    assert by["test.wp.reuse:skip-effect"].how == "test_finishes"


def test_anon_exclusive_ii_checks_kill_named_mutants():
    """gup-fast-vs-unmap's exit check (reclaim's putback and the swap PTE are accounted for) and
    fork-pin-leak's exit checks (MADV_DONTNEED unmapped the child's address; the pipe holds the page
    as it was at fork; the parent's store is what its address reads) each kill a named mutant."""
    reps = mut.mutate_scenarios([load_scenarios()[n] for n in ("gup-fast-vs-unmap", "fork-pin-leak")],
                                operators=("skip-effect",))
    by = {m.id: m for rep in reps for m in rep.mutants}
    assert by["reclaim.keep:skip-effect"].how == "nothing_leaked"
    assert by["reclaim.unmap.set:skip-effect"].how == "nothing_leaked"
    assert by["child.zap:skip-effect"].how == "child_range_zapped"
    assert by["child.follow_page:skip-effect"].how == "pipe_reads_fork_time_data"
    assert by["parent.access:skip-effect"].how == "parent_store_lands"



def assert_killed_by(want):
    """Each (scenario, mutant id, check) in `want`: the mutant is killed, by that check."""
    names = sorted({n for n, _, _ in want})
    # the operator is the first ":"-field that names one (a litmus step label has a ":" of its own)
    ops = tuple(sorted({next(f for f in mid.split(":") if f in mut.OPERATORS) for _, mid, _ in want}))
    reps = {r.scenario: {x.id: x for x in r.mutants}
            for r in mut.mutate_scenarios([load_scenarios()[n] for n in names], operators=ops)}
    for name, mid, how in want:
        m = reps[name][mid]
        assert m.status == mut.KILLED and m.how.startswith(how), (name, mid, m.status, m.how)


def test_checks_of_the_2026_scenarios_kill_their_mutants():
    """The checks and scenario shapes added to kill the survivors of the 2026 swap-core scenarios each
    kill a named mutant (remove one and this fails): MADV_DONTNEED's zero-fill read-back and the end
    of writeback (swap-entry-aba), the old contents surviving zswap writeback (a decompress moved
    after the write), the exclusive-marker invariants and UFFDIO_MOVE's -ENOENT-only-for-a-hole and
    its return (uffd-move-swapcache), the folio lock never taken under the PTL (do_swap_page's
    folio_lock_or_retry() moved after pte_offset_map_lock(): might_sleep()), the fault alone on a
    large shmem entry that must split it and fork alone that must allocate the extend table
    (progress), and a memory-model store buffer that must drain."""
    want = [
        ("swap-entry-aba", "user.zap:skip-effect", "store_after_dontneed_on_zero_page"),
        ("swap-entry-aba", "user.writeback_done:skip-effect", "writeback_ends"),
        ("zswap-writeback-swapin", "zswap.wb.decompress:swap-next", "store_lands_on_old_contents"),
        ("uffd-move-swapcache", "user.unmap.clear:skip-effect", "writable_pte_maps_exclusive_page"),
        ("uffd-move-swapcache", "user.unmap.share:swap-next", "swap_pte_page_not_exclusive"),
        ("uffd-move-swapcache", "mover.move.read:drop-guard", "move_enoent_only_for_a_hole"),
        ("uffd-move-swapcache", "mover.move.read:skip-effect", "move_returned"),
        ("uffd-move-swapcache", "user.dsp.lock:swap-next", "model assertion: do_swap_page: the folio lock "
                                                           "taken under the PTL"),
        ("shmem-large-swap-entry", "fault.shmem.split:skip-effect", "fault_finishes"),
        ("swap-count-overflow", "fork.dup.extend_alloc:skip-effect", "fork_dup_ends"),
        ("uffd-move-batch-pin", "gup_fast~sb.propagate:skip-effect", "gup_fast_stores_become_visible"),
    ]
    assert_killed_by(want)


def test_checks_of_the_fork_and_migration_scenarios_kill_their_mutants():
    """The checks and shapes added to kill the survivors of the fork / migration / GUP-fast scenarios
    each kill a named mutant (remove one and this fails): a PG_anon_exclusive page mapped twice
    (try_to_migrate_one() setting the entry before folio_try_share_anon_rmap_pte(), so a pinned
    page's exclusive flag survives fork's copy of its migration entry), write_protect_seq left odd
    (raw_write_seqcount_end() skipped, or the begin moved past the swap-entry copy's jump), a child
    running before wake_up_new_task() (its store lands in a new zeroed page), do_wp_page()'s reuse
    without the PTL against fork's share and write-protect (the soft-dirty-cleared start),
    remove_migration_pte() without the PTL between fork's read of the writable entry and
    copy_nonpresent_pte()'s write of the readable one, a fork that copies no entry to the child,
    and a migration that can never succeed (the move before the migration entry: page_migrated unreached)."""
    want = [
        ("migration-exclusive", "migrate.mig.share:swap-next", "exclusive_page_mapped_once"),
        ("gup-fast-vs-migrate-fork", "fork.fork.done:skip-effect", "write_protect_seq_closed"),
        ("gup-fast-vs-migrate-fork", "migrate.mig.remove0:drop-guard", "exclusive_page_mapped_once"),
        ("gup-fast-vs-migrate-fork", "fork.fork.copy_entry:skip-effect", "child_inherits_the_page"),
        ("gup-fast-vs-migrate-fork", "migrate.mig.set:swap-next", "outcome page_migrated never reached"),
        ("fork-swap-entry", "parent.fork.wp_seq_begin:swap-next", "write_protect_seq_closed"),
        ("fork-swap-entry", "child.child.start:drop-guard", "child_store_lands"),
        ("fork-swap-entry", "child.child.start:swap-next", "child_store_lands"),
        ("fork-vs-gup-fast", "writer.hpf.wp:drop-lock:ptl", "writable_pte_maps_exclusive_page"),
        # mprotect(PROT_READ|PROT_WRITE) that leaves the exclusive page read-only (the v5.19 form in a
        # 2026 variant): the store always faults
        ("migration-exclusive", "user.mprotect_rw:skip-effect", "outcome store_without_write_fault"),
    ]
    assert_killed_by(want)


def test_checks_of_session_4_kill_their_mutants():
    """The checks added for the last unexplained survivors each kill a named mutant (remove one and
    this fails): mm->tlb_flush_pending raised before the PTE change it covers (tlb_gather_mmu() moved
    after madvise_free_pte_range()), the PTE try_to_unmap_one() cleared not refilled while it holds
    the PTL (a fault that does not wait for the PTL), the address unmapped after MADV_DONTNEED's zap
    and reclaim's try_to_unmap_one() until a fault maps it again; in the engine-validation models,
    every increment counted, every meal ended, a process that left lowering its flag (one round:
    else the other waits forever) and the litmus SC outcomes (Model.reachable); and both RT tasks'
    loads reading the swapped-out data (swapin-eexist-livelock)."""
    want = [
        ("lazyfree-redirty", "user.madv.gather:swap-next", "batched_pte_change_has_flush_pending"),
        ("lazyfree-redirty", "user.store.fault:drop-guard", "cleared_pte_stays_none_under_ptl"),
        ("uffd-wp-marker", "madvise.zap_pte_range:skip-effect", "unmapped_until_refault"),
        ("uffd-wp-marker", "reclaim.try_to_unmap_one:skip-effect", "unmapped_until_refault"),
        ("counters", "t0.inc0:skip-effect", "every_increment_counted"),
        ("philosophers", "phil0.take_second:skip-effect", "everyone_done_eating"),
        ("peterson", "p0.leave:skip-effect", "deadlock"),
        # swapin-eexist-livelock's do_swap_page variants: a load that never happens
        ("swapin-eexist-livelock", "low.access:skip-effect", "both_loads_read_the_data"),
        ("litmus-2+2w", "P0.0:Wx:skip-effect", "outcome sc_outcome[x=2 /\\ y=1] never reached"),
    ]
    assert_killed_by(want)
