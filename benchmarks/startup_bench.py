"""Start-up and end-to-end wall time of the commands users type, side by side with `python -c pass`:
`pteverify run odirect-swapout` (default and --no-reduction) and `pteverify check --no-layouts
--jobs 2` (with an empty baseline, so nothing is skipped as cached).

    python benchmarks/startup_bench.py [--repeat N] [--against PATH]

Each command runs --repeat times (default 5) in a fresh process; the best wall time and the best
CPU time (user + system of the process and its children) are printed. Byte-code is written and
used as on an installed copy (PYTHONDONTWRITEBYTECODE is unset for the runs), so the first run
warms it. --against PATH runs the same commands with PATH first on PYTHONPATH (a directory with
another version of the `pteverify` package, e.g. an exported older commit), for a before/after
in one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

COMMANDS = [
    ("python -c pass", ["-c", "pass"]),
    ("pteverify run odirect-swapout", ["-m", "pteverify", "run", "odirect-swapout"]),
    ("pteverify run odirect-swapout --no-reduction", ["-m", "pteverify", "run", "odirect-swapout",
                                                      "--no-reduction"]),
    ("pteverify check --no-layouts --jobs 2", ["-m", "pteverify", "check", "--no-layouts", "--jobs", "2",
                                               "--baseline", "{tmp}/baseline.json"]),
]


def best(args: list[str], env: dict, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for i in range(repeat + 1):
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, *[a.format(tmp=tmp) for a in args]], env=env,
                               capture_output=True, text=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode not in (0, 1):
            sys.exit(f"startup_bench: {' '.join(args)} failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
        if i:                       # the first run writes the byte-code
            walls.append(wall)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--against", metavar="PATH", help="also run with PATH first on PYTHONPATH")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = [("this tree", env)]
    if a.against:
        trees.append((a.against, dict(env, PYTHONPATH=a.against)))
    print(f"best of {a.repeat}; load average now {os.getloadavg()[0]:.1f}")
    print(f"  {'command':46} " + " ".join(f"{name[-24:]:>24}" for name, _ in trees))
    print(f"  {'':46} " + " ".join(f"{'wall s':>11} {'cpu s':>12}" for _ in trees))
    for label, args in COMMANDS:
        cells = []
        for _, e in trees:
            wall, cpu = best(args, e, a.repeat)
            cells.append(f"{wall:>11.3f} {cpu:>12.3f}")
        print(f"  {label:46} " + " ".join(cells))


if __name__ == "__main__":
    main()
