"""The swap-in -EEXIST retry as a progress property, on one CPU with real-time priorities.

* `swapin_eexist_livelock`: two real-time tasks bound to one core fault on the same swapped-out
  address. The low-priority task is preempted in the middle of its swap-in; the high-priority task
  then meets what the low-priority one left behind, and must not wait for it without leaving the
  CPU (029c4628b2eb "mm: swap: get rid of livelock in swapin readahead": "multiple real-time tasks are
  bound to the same core, and the task in the livelock is the highest priority task of the core").
  Three forms of the swap-in, knob `swapin.path`:

  - `readahead` (v5.17): swapin_readahead() -> __read_swap_cache_async() (models/swap_state.py):
    the low-priority task won swapcache_prepare() (SWAP_HAS_CACHE) and has not yet added its page to
    the swap cache; the high-priority task gets -EEXIST and retries after cond_resched() (empty on a
    preemptive kernel: a livelock) or, since 029c4628b2eb, after schedule_timeout_uninterruptible(1).
  - `do_swap_page`: mm/memory.c's do_swap_page() (the one model, models/memory.py) in the release the
    kernel knobs name. With `swap.table` off and `swap_in.swapcache_prepare` on (13ddaf26be32, v6.8)
    the SWP_SYNCHRONOUS_IO path pins the entry with swapcache_prepare() and a racer sleeps a jiffy in
    `dsp.eexist_wait` before it faults again. With `swap.table` on (the 2026 swap core) there is no
    pin: the swap cache is the only serialisation, a folio is added to it under the cluster lock in
    the same critical section that checked the slot (swap_cache_alloc_folio(): -EEXIST means the
    folio is already there and swap_cache_get_folio() returns it), so the loser never waits for a
    pin; it waits only in folio_lock_or_retry() for the winner's locked folio, a sleeping wait.

The scheduler (this scenario only): `sched_high` is the high-priority task's state: "off" (not yet
runnable: the low-priority task has the core), "run" (runnable: it has the core, the low-priority
task is preempted and none of its steps is enabled), "sleep" (in schedule_timeout_uninterruptible(1)
or asleep on a folio lock) or "done". It becomes runnable at a preemption point of the low-priority
task: never inside a spinlock section (the PTL: spin_lock() disables preemption), so it never spins on
a lock the preempted task holds. Its timer fires once the low-priority task has run a step during the
sleep (a jiffy is far longer than any step of the model) or has nothing left to run; a folio-lock
sleeper wakes when the folio is unlocked.
"""

from __future__ import annotations

from pteverify.model import DONE, GOTO, Knob, Model, ModelError, builder

from ..invariants import final_nothing_leaked
from ..memory import emit_fault_handlers
from ..mm import MM, ORIGINAL, pte_swap
from ..swap_state import WAITS, emit_read_swap_cache_async
from ..user import emit_access
from .anon_exclusive import K_MAP_WRITABLE, K_PREPARE, K_SWAP_TABLE, K_SYNC, _exclusive_invariants, _kernel

PATHS = ("readahead", "do_swap_page")

K_WAIT = Knob("swapin.eexist_wait", "schedule_timeout",
              "what the retry does after swapcache_prepare() returned -EEXIST: cond_resched() (before "
              "029c4628b2eb; a seeded mutation of 13ddaf26be32's do_swap_page wait) or "
              "schedule_timeout_uninterruptible(1) (029c4628b2eb, 13ddaf26be32)", WAITS)
K_PATH = Knob("swapin.path", "do_swap_page",
              "readahead: swapin_readahead() -> __read_swap_cache_async() (v5.17, its own model in "
              "models/swap_state.py); do_swap_page: mm/memory.c's do_swap_page() as the kernel knobs say "
              "(13ddaf26be32's skip-swapcache pin, or the 2026 swap cache)", PATHS)
K_FOLIO_WAIT = Knob("sched.folio_lock_wait", "sleep",
                    "how a task waits for a locked folio in folio_lock_or_retry(): it sleeps "
                    "(folio_wait_locked_killable(), the kernel) or spins on a trylock (seeded mutation)",
                    ("sleep", "spin"))


@builder(K_WAIT, K_PATH, K_FOLIO_WAIT, K_SYNC, K_PREPARE, K_SWAP_TABLE, K_MAP_WRITABLE)
def swapin_eexist_livelock(knobs) -> Model:
    """Two RT tasks on one core swap in the same entry; the high-priority one must not spin on the
    preempted low-priority one."""
    m = Model("swapin-eexist-livelock", "a swap-in retrying on -EEXIST eventually returns", knobs)
    sched = m.field("sched_high", "off", ("off", "run", "sleep", "done"),
                    doc="the high-priority task: not yet runnable, running, asleep, finished")
    ran = m.field("low_ran", False, doc="the low-priority task ran a step since the high-priority one slept")
    low_done = m.field("low_done", False, doc="the low-priority task has returned from the fault")
    clash = m.field("core_clash", False, ghost=True,
                    doc="a step of the low-priority task ran while the high-priority one was runnable")
    if knobs["swapin.path"] == "readahead":
        low, high, preemptible, finish = _readahead_tasks(m, knobs)
    else:
        low, high, preemptible, finish = _do_swap_page_tasks(m, knobs, sched)
    _schedule(m, low, high, knobs, sched, ran, low_done, clash, preemptible)

    m.eventually_finishes("high_finishes", "high", "the high-priority task's fault returns: its wait for "
                          "the other task's swap-in ends (its page reaches the swap cache or is mapped, "
                          "its pin is cleared, its folio unlocked)")
    m.eventually_finishes("low_finishes", "low", "the low-priority task's fault returns")
    m.invariant("one_task_on_the_core", lambda s: not getattr(s, clash), [clash],
                "the core runs the low-priority task only while the high-priority one is not runnable")
    finish()
    return m


def _readahead_tasks(m: Model, knobs):
    """v5.17's __read_swap_cache_async() over one entry's fields (SWAP_HAS_CACHE, the swap-cache page,
    the count, the PTE)."""
    wait = knobs["swapin.eexist_wait"]
    has = m.field("swp_has_cache", False, doc="SWAP_HAS_CACHE in swap_map[offset]")
    cache = m.field("swp_cache", "", doc="the page in the swap cache for the entry (\"\": none)")
    count = m.field("swp_count", 1, doc="the entry's swap count (the one PTE)")
    pte = m.field("pte", "swap", doc="the PTE of the address both tasks fault on: the swap entry, or the page mapped")
    tasks = {}
    for name in ("low", "high"):
        tasks[name] = {"name": "P" + name[0].upper(), "has_cache": has, "cache": cache, "count": count,
                       "pte": pte,
                       "got": m.field(f"{name}_got", "", doc=f"the page the {name}-priority task's swap-in returned"),
                       "page": m.field(f"{name}_page", "", doc=f"the page the {name}-priority task allocated")}
    low = m.thread("low", "a low-priority RT task faulting on the address (do_swap_page -> swapin)")
    emit_read_swap_cache_async(low, tasks["low"], wait)
    high = m.thread("high", "the highest-priority RT task of the core, faulting on the same address")
    _emit_wake(high)
    emit_read_swap_cache_async(high, tasks["high"], wait)

    def finish():
        def one_page(s):
            a, b = getattr(s, tasks["low"]["got"]), getattr(s, tasks["high"]["got"])
            return not (a and b) or a == b

        m.invariant("one_page_per_entry", one_page, [tasks["low"]["got"], tasks["high"]["got"]],
                    "the two swap-ins of one entry return the same page (SWAP_HAS_CACHE lets one task read it)")
        m.final("both_faults_get_the_page",
                lambda s: bool(getattr(s, tasks["low"]["got"])) and bool(getattr(s, tasks["high"]["got"])),
                [tasks["low"]["got"], tasks["high"]["got"]],
                "both faults end with the entry's page (the slot stays in use until one maps it)")
        m.final("swap_has_cache_iff_cached", lambda s: getattr(s, has) == bool(getattr(s, cache)), [has, cache],
                "at the end SWAP_HAS_CACHE is set exactly when the entry has a page in the swap cache")
    return low, high, None, finish


def _do_swap_page_tasks(m: Model, knobs, sched):
    """Both tasks are threads of one process loading from the swapped-out page: do_swap_page() of
    models/memory.py, over the MM vocabulary."""
    k = _kernel(knobs)
    mm = MM(m, folios=("A", "B"))
    mm.add_pte(pte_swap(exclusive=k.swp_exclusive, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)
    low = mm.thread("low", "a low-priority RT task loading from the address (do_swap_page)")
    low.eexist_wait_step = True
    emit_access(low, k, "load")
    emit_fault_handlers(low, k)
    high = mm.thread("high", "the highest-priority RT task of the core, loading from the same address")
    high.eexist_wait_step = True
    _emit_wake(high.t)
    emit_access(high, k, "load")
    emit_fault_handlers(high, k)
    spin = knobs["sched.folio_lock_wait"] == "spin"

    # the high-priority task's folio_lock_or_retry(): asleep until the folio is unlocked
    lk = next(st for st in high.t.steps if st.label == "dsp.lock")
    g, e = lk.guard, lk.effect
    if not spin:
        def lock_effect(s, g=g, e=e):
            if not g(s):
                return {sched: "sleep", GOTO: "sched.lock_wait"}
            return e(s)

        lk.guard = None
        lk.effect = lock_effect
        lk.writes = frozenset(lk.writes | {sched})
        lk.branches = tuple(lk.branches) + ("sched.lock_wait",)
        high.t.step("sched.lock_wait", "mm/filemap.c:__folio_lock_or_retry: folio_wait_locked_killable(folio) "
                    "[asleep: the other task has the core until folio_unlock() wakes it]; VM_FAULT_RETRY "
                    "[the retried fault finds the same folio in the swap cache: folded]",
                    guard=g, effect=lambda s: {sched: "run", GOTO: "dsp.lock"},
                    reads=sorted(lk.reads), writes=[sched], branches=["dsp.lock"])
    else:
        def spin_effect(s, g=g, e=e):
            if not g(s):
                return {GOTO: "dsp.lock"}          # folio_trylock() failed: try again, keep the CPU
            return e(s)

        lk.guard = None
        lk.effect = spin_effect
        lk.branches = tuple(lk.branches) + ("dsp.lock",)
        lk.ref = lk.ref + " [seeded: waits for the folio lock by spinning on folio_trylock()]"

    def preemptible(s):
        """A preemption point of the low-priority task: it holds no spinlock (the PTL)."""
        return getattr(s, mm.ptl) != low.owner

    def finish():
        _exclusive_invariants(mm, k)
        final_nothing_leaked(mm)

        seen = [low.vars["seen"], high.vars["seen"]]
        # (that the address ends mapped follows: a load completes only through a present PTE, and
        # nothing here unmaps it afterwards)
        m.final("both_loads_read_the_data", lambda s: all(getattr(s, f) == ORIGINAL for f in seen), seen,
                "each task's load, retried after its fault, read the swapped-out data")
    return low.t, high.t, ([mm.ptl], preemptible), finish


def _emit_wake(high) -> None:
    """The high-priority task's first step, emitted before its swap-in; _schedule() gives it its guard
    (a preemption point of the other task) and its effect (runnable)."""
    high.step("sched.wake", "kernel/sched: the high-priority task becomes runnable and preempts the "
              "low-priority one (bound to the same core) at a preemption point")


def _each_outcome(e, fn):
    """An effect that runs `e` and passes each of its outcomes (a dict, or one dict of a list) through
    `fn(d)`, which changes the copy it is given."""
    def effect(s):
        out = e(s) if e is not None else {}
        res = []
        for d in (out if isinstance(out, list) else [out]):
            d = dict(d or {})
            fn(s, d)
            res.append(d)
        return res if isinstance(out, list) else res[0]
    return effect


def _schedule(m: Model, low, high, knobs, sched, ran, low_done, clash, preemptible) -> None:
    """Wrap both threads' steps with the one-core real-time scheduler (see the module's docstring)."""
    wait = knobs["swapin.eexist_wait"]
    last_low = low.steps[-1]
    for st in low.steps:                                # runs only while the high-priority task does not
        g, e = st.guard, st.effect

        def guard(s, g=g):
            return getattr(s, sched) != "run" and (g is None or g(s))

        def mark(s, d, last=st is last_low):
            d[ran] = True
            if getattr(s, sched) == "run":
                d[clash] = True
            if d.get(GOTO) == DONE or (last and GOTO not in d):
                d[low_done] = True

        st.guard, st.effect = guard, _each_outcome(e, mark)
        st.reads = frozenset(st.reads | {sched})
        st.writes = frozenset(st.writes | {ran, low_done, clash})

    pre_reads, pre = preemptible if preemptible else ([], None)

    def at_preemption_point(s):
        return pre is None or pre(s)

    last_high = [st for st in high.steps if not st.label.startswith("sched.")][-1]
    for st in high.steps:                               # it runs only while runnable
        if st.label.startswith("sched."):
            continue
        g = st.guard
        st.guard = (lambda s, g=g: getattr(s, sched) == "run" and (g is None or g(s)))
        st.reads = frozenset(st.reads | {sched})
        e = st.effect
        last = st is last_high
        if DONE in st.branches or last:
            def leave(s, d, last=last):
                if d.get(GOTO) == DONE or (last and GOTO not in d):
                    d[GOTO] = "sched.exit"             # the fault returns: off the core

            st.effect = _each_outcome(e, leave)
            st.branches = tuple(b if b != DONE else "sched.exit" for b in st.branches) + (("sched.exit",) if last else ())
    wake = next(st for st in high.steps if st.label == "sched.wake")
    wake.guard = lambda s: at_preemption_point(s)
    wake.effect = lambda s: {sched: "run"}
    wake.reads = frozenset(pre_reads)
    wake.writes = frozenset({sched})
    lw = [st for st in high.steps if st.label == "sched.lock_wait"]
    for st in lw:
        g = st.guard
        st.guard = lambda s, g=g: g(s) and at_preemption_point(s)
        st.reads = frozenset(st.reads | set(pre_reads))
    waits = [st for st in high.steps if st.label in ("swapin.wait", "dsp.eexist_wait")]
    if wait == "schedule_timeout" and waits:
        w = waits[0]
        # the wait's own target (the lookup or the faulting access) comes back after the timer
        if len(set(w.branches)) != 1:
            raise ModelError(f"{w.label}: one target after the wait expected, got {sorted(set(w.branches))}")
        target = w.branches[0]

        def sleep(s, d):
            d.update({sched: "sleep", ran: False, GOTO: "sched.timer"})

        w.effect = _each_outcome(w.effect, sleep)
        w.writes = frozenset(w.writes | {sched, ran})
        w.branches = ("sched.timer",)
        high.step("sched.timer", "kernel/time: the one-jiffy timeout expires (the low-priority task had "
                  "the core meanwhile): the task is runnable again and preempts it",
                  guard=lambda s: (getattr(s, ran) or getattr(s, low_done)) and at_preemption_point(s),
                  effect=lambda s: {sched: "run", GOTO: target},
                  reads=[ran, low_done] + list(pre_reads), writes=[sched], branches=[target])
    high.step("sched.exit", "the fault returns; the task goes on (and off the core)",
              effect=lambda s: {sched: "done", GOTO: DONE}, writes=[sched], branches=[DONE])
