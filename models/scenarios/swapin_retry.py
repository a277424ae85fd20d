"""The swap-in -EEXIST retry as a progress property, on one CPU with real-time priorities.

* `swapin_eexist_livelock`: two real-time tasks bound to one core fault on the same swapped-out
  address. The low-priority task wins swapcache_prepare() (SWAP_HAS_CACHE) and is preempted before it
  adds its page to the swap cache; the high-priority task then gets -EEXIST on every attempt. With
  cond_resched() in the retry (an empty function on a preemptive kernel) the high-priority task never
  leaves the CPU, the low-priority one never runs again, and the high-priority fault never returns
  (029c4628b2eb "mm: swap: get rid of livelock in swapin readahead": "multiple real-time tasks are bound
  to the same core, and the task in the livelock is the highest priority task of the core");
  schedule_timeout_uninterruptible(1) takes it off the run queue for a jiffy, in which the
  low-priority task runs. 13ddaf26be32 ("mm/swap: fix race when skipping swapcache") gave the
  skip-swapcache path the same -EEXIST retry with the same sleep, citing this livelock.

The scheduler (this scenario only): `sched_high` is the high-priority task's state: "off" (not yet
runnable: the low-priority task has the core), "run" (runnable: it has the core, the low-priority
task is preempted and none of its steps is enabled), "sleep" (in schedule_timeout_uninterruptible(1))
or "done". Its timer fires once the low-priority task has run a step during the sleep (a jiffy is
far longer than any step of the model) or has nothing left to run.
"""

from __future__ import annotations

from pteverify.model import DONE, GOTO, Knob, Model, builder

from ..swap_state import PATHS, WAITS, emit_swapin_retry

K_WAIT = Knob("swapin.eexist_wait", "schedule_timeout",
              "what the retry does after swapcache_prepare() returned -EEXIST: cond_resched() (before "
              "029c4628b2eb) or schedule_timeout_uninterruptible(1) (029c4628b2eb, 13ddaf26be32)", WAITS)
K_PATH = Knob("swapin.path", "readahead",
              "readahead: swapin_readahead() -> __read_swap_cache_async() (v5.17); skip_swapcache: "
              "do_swap_page()'s SWP_SYNCHRONOUS_IO path with swapcache_prepare() (13ddaf26be32, v6.8)", PATHS)


@builder(K_WAIT, K_PATH)
def swapin_eexist_livelock(knobs) -> Model:
    """Two RT tasks on one core swap in the same entry; the high-priority one retries on -EEXIST."""
    path, wait = knobs["swapin.path"], knobs["swapin.eexist_wait"]
    m = Model("swapin-eexist-livelock", "a swap-in retrying on -EEXIST eventually returns", knobs)
    has = m.field("swp_has_cache", False, doc="SWAP_HAS_CACHE in swap_map[offset]")
    cache = m.field("swp_cache", "", doc="the page in the swap cache for the entry (\"\": none)")
    count = m.field("swp_count", 1, doc="the entry's swap count (the one PTE)")
    pte = m.field("pte", "swap", doc="the PTE of the address both tasks fault on: the swap entry, or the page mapped")
    sched = m.field("sched_high", "off", ("off", "run", "sleep", "done"),
                    doc="the high-priority task: not yet runnable, running, in schedule_timeout(), finished")
    ran = m.field("low_ran", False, doc="the low-priority task ran a step since the high-priority one slept")
    low_done = m.field("low_done", False, doc="the low-priority task has returned from the fault")
    clash = m.field("core_clash", False, ghost=True,
                    doc="a step of the low-priority task ran while the high-priority one was runnable")
    tasks = {}
    for name in ("low", "high"):
        f = {"name": "P" + name[0].upper(), "has_cache": has, "cache": cache, "count": count, "pte": pte,
             "got": m.field(f"{name}_got", "", doc=f"the page the {name}-priority task's swap-in returned"),
             "page": m.field(f"{name}_page", "", doc=f"the page the {name}-priority task allocated")}
        tasks[name] = f

    low = m.thread("low", "a low-priority RT task faulting on the address (do_swap_page -> swapin)")
    emit_swapin_retry(low, tasks["low"], path, wait)
    for st in low.steps:                                # runs only while the high-priority task does not
        g, e = st.guard, st.effect

        def guard(s, g=g):
            return getattr(s, sched) != "run" and (g is None or g(s))

        def effect(s, e=e):
            out = e(s) if e is not None else {}
            hit = getattr(s, sched) == "run"
            outs = out if isinstance(out, list) else [out]
            res = []
            for d in outs:
                d = dict(d or {})
                d[ran] = True
                if hit:
                    d[clash] = True
                if d.get(GOTO) == DONE:
                    d[low_done] = True
                res.append(d)
            return res if isinstance(out, list) else res[0]

        st.guard, st.effect = guard, effect
        st.reads = frozenset(st.reads | {sched})
        st.writes = frozenset(st.writes | {ran, low_done, clash})

    high = m.thread("high", "the highest-priority RT task of the core, faulting on the same address")
    high.step("sched.wake", "kernel/sched: the high-priority task becomes runnable and preempts the "
              "low-priority one (bound to the same core)", effect=lambda s: {sched: "run"}, writes=[sched])
    emit_swapin_retry(high, tasks["high"], path, wait, cont="sched.exit")
    if wait == "schedule_timeout":
        w = next(st for st in high.steps if st.label == "swapin.wait")
        w.effect = lambda s: {sched: "sleep", ran: False, GOTO: "sched.timer"}
        w.writes = frozenset(w.writes | {sched, ran})
        w.branches = ("sched.timer",)
        high.step("sched.timer", "kernel/time: the one-jiffy timeout expires (the low-priority task had "
                  "the core meanwhile): the task is runnable again and preempts it",
                  guard=lambda s: getattr(s, ran) or getattr(s, low_done),
                  effect=lambda s: {sched: "run", GOTO: "swapin.lookup"},
                  reads=[ran, low_done], writes=[sched], branches=["swapin.lookup"])
    for st in high.steps:                               # it runs only while runnable
        if st.label in ("sched.wake", "sched.timer"):
            continue
        g = st.guard
        st.guard = (lambda s, g=g: getattr(s, sched) == "run" and (g is None or g(s)))
        st.reads = frozenset(st.reads | {sched})
    high.step("sched.exit", "the fault returns; the task goes on (and off the core)",
              effect=lambda s: {sched: "done", GOTO: DONE}, writes=[sched], branches=[DONE])

    m.eventually_finishes("high_finishes", "high", "the high-priority task's fault returns: its -EEXIST "
                          "retry ends (the other task's page reaches the swap cache, or its pin is cleared)")
    m.eventually_finishes("low_finishes", "low", "the low-priority task's fault returns")

    m.invariant("one_task_on_the_core", lambda s: not getattr(s, clash), [clash],
                "the core runs the low-priority task only while the high-priority one is not runnable")

    def one_page(s):
        a, b = getattr(s, tasks["low"]["got"]), getattr(s, tasks["high"]["got"])
        return not (a and b) or a == b

    m.invariant("one_page_per_entry", one_page, [tasks["low"]["got"], tasks["high"]["got"]],
                "the two swap-ins of one entry return the same page (SWAP_HAS_CACHE lets one task read it)")

    def both_got(s):
        return bool(getattr(s, tasks["low"]["got"])) and bool(getattr(s, tasks["high"]["got"]))

    m.final("both_faults_get_the_page", both_got, [tasks["low"]["got"], tasks["high"]["got"]],
            "both faults end with the entry's page (the slot stays in use until one maps it)")
    def pin_matches_cache(s):
        return getattr(s, has) == bool(getattr(s, cache))

    m.final("swap_has_cache_iff_cached", pin_matches_cache, [has, cache],
            "at the end SWAP_HAS_CACHE is set exactly when the entry has a page in the swap cache (the "
            "skip path's swapcache_clear() undid its pin)")
    return m
