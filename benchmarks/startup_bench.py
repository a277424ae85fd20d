"""Start-up and end-to-end wall time of the commands users type, side by side with `python -c pass`:
`pteverify run odirect-swapout` (default and --no-reduction) and `pteverify check --no-layouts
--jobs 2` (with an empty baseline, so nothing is skipped as cached).

    python benchmarks/startup_bench.py [--repeat N] [--against PATH ...] [--phases]

Each command runs --repeat times (default 5) in a fresh process; the best wall time and the best
CPU time (user + system of the process and its children) are printed. Byte-code is written and
used as on an installed copy (PYTHONDONTWRITEBYTECODE is unset for the runs), so the first run
warms it. --against PATH runs the same commands with PATH first on PYTHONPATH (a directory with
another version of the `pteverify` package, e.g. an exported older commit), for a before/after
in one run; it may be given several times (one column per tree, e.g. one export per change).
The commands of one row run tree after tree, round by round, so a drift in the machine's load
touches every column alike.

--phases also prints, per tree, where `check --no-layouts`'s CPU goes, measured in one process
(best of --repeat): importing the CLI, planning, running every job serially (the work that --jobs
spreads over processes), and writing the report.
"""

from __future__ import annotations

import argparse
import json
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


def once(args: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process and its children) of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, *[a.format(tmp=tmp) for a in args]], env=env,
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.exit(f"startup_bench: {' '.join(args)} failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def best(args: list[str], envs: list[dict], repeat: int) -> list[tuple[float, float]]:
    """Per tree, the best wall and the best CPU seconds of `repeat` runs, the trees taking turns
    round by round; the first round (which writes the byte-code) is not counted."""
    runs: list[list[tuple[float, float]]] = [[] for _ in envs]
    for i in range(repeat + 1):
        for k, env in enumerate(envs):
            r = once(args, env)
            if i:
                runs[k].append(r)
    return [(min(w for w, _ in rs), min(c for _, c in rs)) for rs in runs]


PHASES = """
import json, sys, time
t = [time.process_time()]
from pteverify import check as C, cli
t.append(time.process_time())
jobs = C.plan(include_layouts=False, max_seconds=600.0)
t.append(time.process_time())
results = C.run_jobs(jobs, 1)
t.append(time.process_time())
text = C.report_text(C.report_json(results, 0.0, 1)) if hasattr(C, "report_text") else \
    json.dumps(C.report_json(results, 0.0, 1), indent=1)
t.append(time.process_time())
print(json.dumps([b - a for a, b in zip(t, t[1:])] + [len(jobs)]))
"""


def phases(env: dict, repeat: int) -> list[float]:
    """CPU seconds of (import, plan, jobs, report) in one process, each the best of `repeat`."""
    runs = []
    for i in range(repeat + 1):
        p = subprocess.run([sys.executable, "-c", PHASES], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"startup_bench: --phases failed: {p.stderr.strip()[-500:]}")
        if i:
            runs.append(json.loads(p.stdout))
    return [min(r[k] for r in runs) for k in range(4)] + [runs[0][4]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--against", metavar="PATH", action="append", default=[],
                    help="also run with PATH first on PYTHONPATH (repeatable)")
    ap.add_argument("--phases", action="store_true", help="also break check's CPU down by phase")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = [("this tree", env)] + [(path, dict(env, PYTHONPATH=path)) for path in a.against]
    print(f"best of {a.repeat}; load average now {os.getloadavg()[0]:.1f}")
    print(f"  {'command':46} " + " ".join(f"{name[-24:]:>24}" for name, _ in trees))
    print(f"  {'':46} " + " ".join(f"{'wall s':>11} {'cpu s':>12}" for _ in trees))
    for label, args in COMMANDS:
        cells = [f"{wall:>11.3f} {cpu:>12.3f}" for wall, cpu in best(args, [e for _, e in trees], a.repeat)]
        print(f"  {label:46} " + " ".join(cells))
    if a.phases:
        print("check --no-layouts in one process, cpu s (best of each):")
        print(f"  {'phase':46} " + " ".join(f"{name[-24:]:>24}" for name, _ in trees))
        cols = [phases(e, a.repeat) for _, e in trees]
        for k, name in enumerate(("import the CLI", "plan the jobs", "run every job (serially)",
                                  "write the report")):
            print(f"  {name:46} " + " ".join(f"{c[k]:>24.3f}" for c in cols))
        print(f"  {'jobs':46} " + " ".join(f"{c[4]:>24}" for c in cols))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
