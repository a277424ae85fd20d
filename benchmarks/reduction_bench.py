"""What partial-order reduction costs and saves, measured side by side in one run.

    python benchmarks/reduction_bench.py [--repeat N]

1. Nothing reduces, decided statically: counters (every step visible to the invariant), 1,000,000
   states. The reduced search must cost no more than the unreduced one (bar: <= 1.1x time).
2. Nothing reduces at run time, though a step could: counters plus one thread whose private step is
   invisible but never independent of the others' futures while they run; measures the per-state cost
   of looking for an ample set that never qualifies.
3. Everything reduces: private counters no invariant reads (one interleaving is left).
4. Every shipped scenario variant: states, transitions and time with and without reduction, totals.

Times are CPU seconds of the search (less disturbed than wall time by other load on the machine),
the minimum of --repeat runs, reduced and unreduced alternating; each search runs in a child process,
so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

from pteverify.explore import explore
from pteverify.model import GOTO, Knobs, Model
from pteverify.models.scenarios import classic
from pteverify.scenario import load_scenarios


def counters(n=3, k=99):
    return classic.counters(Knobs(classic.counters.knobs, {"counter.threads": n,
                                                           "counter.increments": k})).compile()


def counters_with_blocked_candidate(n=3, k=60):
    """The counters (visible to the invariant), plus a thread whose one step writes `shared`, which
    no invariant reads and only t0's last step reads: the step is invisible and independent of t1..,
    so the reduction applies statically, but it can be taken only once t0 has finished."""
    m = Model("counters+candidate")
    for i in range(n):
        m.field(f"c{i}", 0, range(k + 1))
    m.field("shared", 0, range(2))
    m.field("seen", 0, range(2))
    for i in range(n):
        t = m.thread(f"t{i}")
        f = f"c{i}"
        t.step("inc", "c++", reads=[f], writes=[f], branches=["inc"],
               effect=(lambda f: lambda s: {f: getattr(s, f) + 1, GOTO: "inc"} if getattr(s, f) + 1 < k
                       else {f: getattr(s, f) + 1})(f))
        if i == 0:
            t.step("read_shared", "seen = shared", reads=["shared"], writes=["seen"],
                   effect=lambda s: {"seen": s.shared})
    tz = m.thread("z")
    tz.step("touch", "shared = 1", effect=lambda s: {"shared": 1}, writes=["shared"])
    m.invariant("bounded", lambda s: all(getattr(s, f"c{i}") <= k for i in range(n)),
                [f"c{i}" for i in range(n)])
    return m.compile()


def private_counters(n=3, k=40):
    m = Model("private-counters")
    for i in range(n):
        m.field(f"c{i}", 0, range(k + 1))
    for i in range(n):
        t = m.thread(f"t{i}")
        for j in range(k):
            t.step(f"inc{j}", "c++", effect=(lambda f: lambda s: {f: getattr(s, f) + 1})(f"c{i}"),
                   reads=[f"c{i}"], writes=[f"c{i}"])
    return m.compile()


def _child(make, reduction, q):
    cm = make()
    c0 = time.process_time()
    r = explore(cm, reduction=reduction)
    cpu = time.process_time() - c0
    q.put((r.stats.states, r.stats.transitions, cpu,
           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, r.stats.reduction_used))


def measure(make, reduction):
    q = mp.Queue()
    p = mp.Process(target=_child, args=(make, reduction, q))
    p.start()
    out = q.get()
    p.join()
    return out


def side_by_side(name, make, repeat):
    best = {False: None, True: None}
    for _ in range(repeat):
        for red in (False, True):
            out = measure(make, red)
            if best[red] is None or out[2] < best[red][2]:
                best[red] = out
    f, r = best[False], best[True]
    print(f"{name}")
    print(f"  unreduced: {f[0]:>9,} states {f[1]:>10,} transitions {f[2]:7.2f} s CPU  peak {f[3]:6.0f} MB")
    print(f"  reduced:   {r[0]:>9,} states {r[1]:>10,} transitions {r[2]:7.2f} s CPU  peak {r[3]:6.0f} MB"
          f"  ({'ample sets possible' if r[4] else 'statically nothing to reduce: full search'})")
    print(f"  ratio reduced/unreduced: time {r[2] / f[2]:.2f}x, memory {r[3] / f[3]:.2f}x, "
          f"states {r[0] / f[0]:.3f}, transitions {r[1] / f[1]:.3f}")


def shipped():
    tot = {False: [0, 0, 0.0], True: [0, 0, 0.0]}
    applies = 0
    n = 0
    for sc in load_scenarios().values():
        for v in sc.variants:
            cm = sc.build(v)
            n += 1
            for red in (False, True):
                r = explore(cm, reduction=red, max_states=sc.max_states, shortest=False)
                tot[red][0] += r.stats.states
                tot[red][1] += r.stats.transitions
                tot[red][2] += r.stats.seconds
                if red and r.stats.reduction_used:
                    applies += 1
    f, r = tot[False], tot[True]
    print(f"every shipped variant ({n}; reduction applicable to {applies}):")
    print(f"  unreduced: {f[0]:,} states, {f[1]:,} transitions, {f[2]:.2f} s")
    print(f"  reduced:   {r[0]:,} states, {r[1]:,} transitions, {r[2]:.2f} s")
    print(f"  saved: {1 - r[0] / f[0]:.1%} of states, {1 - r[1] / f[1]:.1%} of transitions; "
          f"time ratio {r[2] / f[2]:.2f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    side_by_side("1. counters 3x99 (every step visible: nothing can reduce)", counters, args.repeat)
    side_by_side("2. counters 3x60 + an invisible step that is never independent (candidate never taken)",
                 counters_with_blocked_candidate, args.repeat)
    side_by_side("3. private counters 3x40, nothing visible (one interleaving left)", private_counters,
                 args.repeat)
    shipped()


if __name__ == "__main__":
    main()
