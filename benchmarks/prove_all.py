"""Proves every shipped swap-PTE layout (specs/arch/*.toml), all properties; prints the total time
and the slowest property. Bar: under 20 s for all of them.

    python benchmarks/prove_all.py [--repeat N]
"""

import argparse
import sys
import time

from pteverify.layout import load_layout, prove_layout, shipped_layout_paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="run N times, report the best total")
    args = ap.parse_args()
    best = None
    for _ in range(args.repeat):
        paths = shipped_layout_paths()
        start = time.perf_counter()
        rows = []
        slowest = (0.0, "", "")
        verdicts = {}
        for name, path in paths.items():
            t0 = time.perf_counter()
            report = prove_layout(load_layout(path))
            rows.append((name, time.perf_counter() - t0, report.verdict, len(report.properties)))
            verdicts[report.verdict] = verdicts.get(report.verdict, 0) + 1
            for p in report.properties:
                if p.seconds > slowest[0]:
                    slowest = (p.seconds, name, p.name)
        total = time.perf_counter() - start
        if best is None or total < best[0]:
            best = (total, rows, slowest, verdicts)
    total, rows, slowest, verdicts = best
    for name, secs, verdict, n in sorted(rows, key=lambda r: -r[1])[:5]:
        print(f"  {name:<28} {secs:6.3f}s  {verdict} ({n} properties)")
    print(f"layouts: {len(rows)}  properties: {sum(r[3] for r in rows)}  verdicts: "
          + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    print(f"total: {total:.2f}s (load + all properties)   bar: 20 s")
    print(f"slowest property: {slowest[1]} {slowest[2]} {slowest[0]:.3f}s")
    return 0 if total < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
