"""Time `pteverify check` over everything shipped: serially and with --jobs 2 (and --arch all).

    python benchmarks/check_bench.py [--arch-all]

Runs the real command in a subprocess, so start-up and report writing are counted; the verdicts
and counts of both runs must be identical.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(jobs: int, extra: list[str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "pteverify", "check", "--jobs", str(jobs), "--json",
                            "--baseline", str(Path(d) / "b.json"), *extra], capture_output=True, text=True)
        secs = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit(f"pteverify check failed to run: {p.stderr.strip()}")
    return secs, json.loads(p.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch-all", action="store_true", help="also run the arch-aware scenarios on every layout")
    a = ap.parse_args()
    extra = ["--arch", "all"] if a.arch_all else []
    s1, r1 = run(1, extra)
    s2, r2 = run(2, extra)
    key = lambda r: [(x["id"], x["status"], x["verdict"], x.get("states")) for x in r["results"]]
    assert key(r1) == key(r2), "a parallel check must report exactly what a serial one does"
    summ = r1["summary"]
    print(f"pteverify check{' --arch all' if extra else ''}: {summ['total']} expectations "
          f"({summ['passed']} met), identical serial and parallel")
    print(f"  serial:    {s1:6.1f} s")
    print(f"  --jobs 2:  {s2:6.1f} s  (speed-up {s1 / s2:.2f}x)")


if __name__ == "__main__":
    main()
