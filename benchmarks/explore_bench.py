"""Explorer throughput on a model of a million states, without reduction, next to a naive
hand-written BFS over plain tuples on the same state space; then every shipped scenario's variants
with and without partial-order reduction (states, transitions, seconds).

    python benchmarks/explore_bench.py            # both parts
    python benchmarks/explore_bench.py --engine   # the million-state model only
"""

from __future__ import annotations

import argparse
import resource
import time

from pteverify.explore import explore
from pteverify.model import Knobs
from pteverify.models.scenarios import classic
from pteverify.scenario import load_scenarios


def naive_bfs(n: int, k: int) -> tuple[int, int, float]:
    """The reference point: n private counters of 0..k, BFS over tuples, no modelling API."""
    t0 = time.perf_counter()
    init = (0,) * n
    seen = {init}
    frontier = [init]
    transitions = 0
    while frontier:
        nxt = []
        for s in frontier:
            for i in range(n):
                if s[i] < k:
                    t = s[:i] + (s[i] + 1,) + s[i + 1:]
                    transitions += 1
                    if t not in seen:
                        seen.add(t)
                        nxt.append(t)
        frontier = nxt
    return len(seen), transitions, time.perf_counter() - t0


def engine(n: int = 3, k: int = 99) -> None:
    cm = classic.counters(Knobs(classic.counters.knobs, {"counter.threads": n,
                                                         "counter.increments": k})).compile()
    r = explore(cm, reduction=False)
    st = r.stats
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pteverify explore, counters {n}x{k}, no reduction: {st.states:,} states, "
          f"{st.transitions:,} transitions, {st.seconds:.2f} s")
    print(f"  {st.states / st.seconds:,.0f} states/s, {st.transitions / st.seconds:,.0f} transitions/s, "
          f"peak RSS {rss:,.0f} MB, verdict {r.verdict}")
    states, transitions, secs = naive_bfs(n, k)
    print(f"naive tuple BFS, same state space: {states:,} states, {transitions:,} transitions, "
          f"{secs:.2f} s, {states / secs:,.0f} states/s")


def scenarios(kinds=("mm",)) -> None:
    print(f"\n{'scenario:variant':44} {'verdict':>10} {'full states':>12} {'transitions':>12} {'s':>6} "
          f"{'reduced states':>15} {'transitions':>12} {'s':>6}")
    for sc in load_scenarios().values():
        if kinds and sc.kind not in kinds:
            continue
        for v in sc.variants:
            cm = sc.build(v)
            full = explore(cm, reduction=False)
            red = explore(cm, reduction=True)
            assert full.verdict == red.verdict
            print(f"{sc.name + ':' + v.name:44} {full.verdict:>10} {full.stats.states:>12,} "
                  f"{full.stats.transitions:>12,} {full.stats.seconds:>6.2f} {red.stats.states:>15,} "
                  f"{red.stats.transitions:>12,} {red.stats.seconds:>6.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", action="store_true", help="only the million-state model")
    ap.add_argument("--scenarios", action="store_true", help="only the scenarios table")
    a = ap.parse_args()
    if not a.scenarios:
        engine()
    if not a.engine:
        scenarios()
