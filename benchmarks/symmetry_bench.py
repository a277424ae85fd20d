"""What symmetry reduction and the hash-partitioned prototype save and cost, side by side in one run.

    python benchmarks/symmetry_bench.py [--repeat N] [--scenario NAME[:VARIANT] ...]

1. Every shipped variant whose model declares symmetric threads: states and search CPU time without
   and with `symmetry=True` (partial-order reduction on in both, as `run` does), and the ratios.
   The symmetric search runs on the Python loops (the compiled core has no canonicalisation hook
   yet), so the time ratio is against the Python core; the compiled core's time is shown beside.
2. counters with more threads (the orbits are multisets: (K+1)^N states become C(N+K, N)).
3. The distributed prototype (verifier/distributed.py) on a few models: wall time with 1 and 2
   worker processes against the single-process unreduced search, and the partition's balance.

Times are the minimum of --repeat runs; the distributed figures are wall times (several processes).
"""

from __future__ import annotations

import argparse
import time

from pteverify.distributed import explore_partitioned
from pteverify.explore import explore
from pteverify.scenario import get_scenario, load_scenarios


def cpu(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.process_time()
        r = fn()
        dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    return r, best


def wall(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return r, best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", action="append", default=[])
    a = ap.parse_args()
    print("1. shipped variants declaring symmetric threads (reduction on in both)")
    print(f"{'variant':44s} {'states':>7s} {'sym':>7s} {'ratio':>6s} {'py s':>7s} {'sym s':>7s} {'ratio':>6s} {'C s':>7s}")
    tf = ts = sf = ss = tc = 0
    todo = []
    for name, sc in load_scenarios().items():
        for v in sc.variants:
            todo.append((sc, v))
    for spec in a.scenario:
        name, _, var = spec.partition(":")
        sc = get_scenario(name)
        todo.append((sc, sc.variant(var or None)))
    for sc, v in todo:
        cm = sc.build(v)
        if cm.symmetry is None:
            continue
        full, t1 = cpu(lambda: explore(cm, core="python"), a.repeat)
        _, t3 = cpu(lambda: explore(cm), a.repeat)
        sym, t2 = cpu(lambda: explore(cm, symmetry=True), a.repeat)
        tc += t3
        assert sym.verdict == full.verdict
        sf += full.stats.states
        ss += sym.stats.states
        tf += t1
        ts += t2
        print(f"{sc.name + ':' + v.name:44s} {full.stats.states:7d} {sym.stats.states:7d} "
              f"{sym.stats.states / full.stats.states:6.2f} {t1:7.3f} {t2:7.3f} {t2 / max(t1, 1e-9):6.2f} {t3:7.3f}")
    print(f"{'total':44s} {sf:7d} {ss:7d} {ss / sf:6.2f} {tf:7.3f} {ts:7.3f} {ts / max(tf, 1e-9):6.2f} {tc:7.3f}")

    print("\n2. counters, N threads x K increments (unreduced and with symmetry)")
    sc = get_scenario("counters")
    for n, k in ((3, 20), (4, 10), (5, 6)):
        cm = sc.build(sc.variant(None), {"counter.threads": n, "counter.increments": k})
        full, t1 = cpu(lambda: explore(cm, reduction=False, core="python"), a.repeat)
        _, t3 = cpu(lambda: explore(cm, reduction=False), a.repeat)
        sym, t2 = cpu(lambda: explore(cm, reduction=False, symmetry=True), a.repeat)
        print(f"  N={n} K={k}: {full.stats.states} -> {sym.stats.states} states "
              f"({sym.stats.states / full.stats.states:.3f}x), Python core {t1:.3f} -> {t2:.3f} s cpu "
              f"({t2 / t1:.2f}x; compiled core without symmetry {t3:.3f} s)")

    print("\n3. distributed prototype: wall seconds, 1 process vs W worker processes")
    for name, var, over in (("odirect-swapout", None, None), ("counters", None,
                                                                {"counter.threads": 4, "counter.increments": 10})):
        sc = get_scenario(name)
        cm = sc.build(sc.variant(var), over)
        one, t1 = wall(lambda: explore(cm, reduction=False), a.repeat)
        tup, t1t = wall(lambda: explore(cm, reduction=False, packed=False), a.repeat)
        line = f"  {name}: {one.stats.states} states; one process {t1:.3f} s (tuple states {t1t:.3f} s)"
        for w in (1, 2):
            d, tw = wall(lambda: explore_partitioned(cm, w), a.repeat)
            assert d.states == one.stats.states
            line += f"; {w} worker{'s' if w > 1 else ''} {tw:.3f} s ({tw / t1t:.1f}x tuple, balance {d.per_worker}, {d.shipped} shipped)"
        print(line)


if __name__ == "__main__":
    main()
