"""What step coverage costs: the unreduced search with and without `coverage=True`, side by side in
one run (alternating, best of N), on the counters model and on the largest shipped mm variants. The
search without coverage runs the explorer's hot loop unchanged; coverage swaps in counting
successor functions, one extra call per step evaluation.

    python benchmarks/coverage_bench.py [--repeat 5] [--counters 3x40]
"""

from __future__ import annotations

import argparse
import time

from pteverify.explore import explore
from pteverify.model import Knobs
from pteverify.models import classic
from pteverify.scenario import load_scenarios


def best(cm, coverage: bool, repeat: int) -> tuple[float, int]:
    times, states = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = explore(cm, reduction=False, coverage=coverage)
        times.append(time.perf_counter() - t0)
        states = r.stats.states
    return min(times), states


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--counters", default="3x40", help="threads x increments of the counters model")
    args = ap.parse_args()
    n, k = (int(x) for x in args.counters.split("x"))
    knobs = Knobs(classic.counters.knobs, {"counter.threads": n, "counter.increments": k})
    models = [(f"counters {args.counters}", classic.counters(knobs).compile())]
    sized = []
    for sc in load_scenarios().values():
        for v in sc.variants:
            cm = sc.build(v)
            sized.append((explore(cm, reduction=False).stats.states, f"{sc.name}:{v.name}", cm))
    models += [(name, cm) for _, name, cm in sorted(sized, key=lambda x: x[0], reverse=True)[:3]]
    print(f"{'model':<48} {'states':>8} {'plain s':>9} {'coverage s':>11} {'ratio':>6}")
    for name, cm in models:
        plain = cov = None
        for _ in range(2):              # alternate, so both see the same machine load
            p, states = best(cm, False, args.repeat)
            c, _ = best(cm, True, args.repeat)
            plain = p if plain is None else min(plain, p)
            cov = c if cov is None else min(cov, c)
        print(f"{name:<48} {states:>8} {plain:>9.3f} {cov:>11.3f} {cov / plain:>6.2f}")


if __name__ == "__main__":
    main()
