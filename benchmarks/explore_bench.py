"""Explorer throughput and memory, side by side in one run: pteverify's unreduced search (packed
states, run by the compiled core and by the pure-Python core, and the tuple-state search), a naive hand-written BFS over plain
tuples, and SPIN's pan on the same model (benchmarks/spin/counters.pml: the same 1,000,000 states
and 2,970,000 transitions); then bytes per stored state on an mm scenario; then every shipped
scenario's variants with and without partial-order reduction.

    python benchmarks/explore_bench.py                # all three parts
    python benchmarks/explore_bench.py --engine       # the million-state model, side by side
    python benchmarks/explore_bench.py --memory       # bytes per stored state, mm scenario
    python benchmarks/explore_bench.py --scenarios    # the scenario table
    python benchmarks/explore_bench.py --engine --k 49 --repeat 1   # a quicker run

Each pteverify and naive run is a fresh interpreter (so its peak RSS is its own); each is repeated
--repeat times and the fastest kept. Seconds are CPU seconds of the process (user + system): on a
shared machine wall time measures the neighbours; wall seconds are printed too. Bytes per state is
the peak RSS growth during the search over the states stored (pteverify, naive), and pan's own
"total actual memory usage" (states plus a hash table of 2-4 slots per state, -w) over its stored states for SPIN.

SPIN comes from Debian's `spin` package: when it is missing the script installs it with apt-get
(as root), and otherwise says that it runs without it. pan is built with gcc -O2 -DSAFETY
-DNOREDUCE (depth-first, SPIN's default search, without partial-order reduction) and with -DBFS
added (breadth-first, as pteverify searches).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COUNTERS_PML = HERE / "spin" / "counters.pml"


# ------------------------------------------------------------------------------------------
# the measured runs (each in its own interpreter: `--child WHAT K`)


def naive_bfs(n: int, k: int) -> tuple[int, int]:
    """The reference point: n private counters of 0..k, BFS over tuples, no modelling API."""
    init = (0,) * n
    parent = {init: None}
    frontier = [init]
    transitions = 0
    while frontier:
        nxt = []
        for s in frontier:
            for i in range(n):
                if s[i] < k:
                    t = s[:i] + (s[i] + 1,) + s[i + 1:]
                    transitions += 1
                    if t not in parent:
                        parent[t] = s
                        nxt.append(t)
        frontier = nxt
    return len(parent), transitions


def child(what: str, k: int) -> None:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if what == "naive":
        c0, w0 = time.process_time(), time.perf_counter()
        states, transitions = naive_bfs(3, k)
        verdict = "holds"
    else:
        from pteverify.explore import explore
        from pteverify.model import Knobs
        from pteverify.models.scenarios import classic

        cm = classic.counters(Knobs(classic.counters.knobs, {"counter.threads": 3,
                                                             "counter.increments": k})).compile()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        c0, w0 = time.process_time(), time.perf_counter()
        r = explore(cm, reduction=False, packed=what != "tuple",
                    core=what if what in ("compiled", "python") else None)
        states, transitions, verdict = r.stats.states, r.stats.transitions, r.verdict
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    print(json.dumps({"states": states, "transitions": transitions, "verdict": verdict, "cpu": cpu,
                      "wall": wall, "bytes_per_state": rss * 1024 / states}))


def measure(what: str, k: int, repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        p = subprocess.run([sys.executable, __file__, "--child", what, str(k)], capture_output=True,
                           text=True)
        if p.returncode != 0:
            sys.exit(f"explore_bench: the {what} run failed:\n{p.stderr.strip()}")
        r = json.loads(p.stdout)
        if best is None or r["cpu"] < best["cpu"]:
            best = r
    return best


# ------------------------------------------------------------------------------------------
# SPIN


def have_spin() -> str | None:
    """None when SPIN and gcc can be used, else the reason they cannot."""
    if shutil.which("spin") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("SPIN is not installed: apt-get install -y spin", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "spin"]):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if shutil.which("spin") is None:
        return "SPIN is not installed (Debian package `spin`)"
    if shutil.which("gcc") is None:
        return "gcc is not installed (SPIN's verifiers are C programs)"
    return None


def spin_measure(k: int, repeat: int, tmp: Path) -> dict[str, dict]:
    subprocess.run(["spin", f"-DK={k}", "-a", str(COUNTERS_PML)], cwd=tmp, check=True,
                   capture_output=True)
    out = {}
    hash_bits = max(16, ((k + 1) ** 3).bit_length() + 1)     # a hash table of 2-4 slots per state
    for mode, flags in (("dfs", ["-DSAFETY", "-DNOREDUCE"]), ("bfs", ["-DSAFETY", "-DNOREDUCE", "-DBFS"])):
        exe = tmp / f"pan-{mode}"
        subprocess.run(["gcc", "-w", "-O2", *flags, "-o", str(exe), "pan.c"], cwd=tmp, check=True)
        best = None
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0 = time.perf_counter()
            p = subprocess.run([str(exe), "-m100000", f"-w{hash_bits}", "-n"], cwd=tmp,
                               capture_output=True, text=True)
            wall = time.perf_counter() - w0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            text = p.stdout

            def num(pattern, cast=int):
                m = re.search(pattern, text)
                if not m:
                    sys.exit(f"explore_bench: cannot read pan's output:\n{text[-1500:]}")
                return cast(m.group(1))

            states = num(r"(\d+) states, stored")
            r = {"states": states, "transitions": num(r"(\d+) transitions \(= stored\+matched\)"),
                 "verdict": "holds" if num(r"errors: (\d+)") == 0 else "violated", "cpu": cpu,
                 "wall": wall,
                 "bytes_per_state": num(r"([0-9.]+)\s+total actual memory usage", float) * 2**20 / states}
            if best is None or r["cpu"] < best["cpu"]:
                best = r
        out[mode] = best
    return out


def engine(k: int, repeat: int) -> None:
    n = (k + 1) ** 3
    print(f"Explorer benchmark: counters, 3 threads x {k} increments ({n:,} states), no reduction; "
          f"best of {repeat}, CPU seconds (load average now {os.getloadavg()[0]:.1f})")
    from pteverify import core
    rows = []
    if core._core is not None:
        rows.append(("pteverify, compiled core", measure("compiled", k, repeat)))
    else:
        print(f"  compiled core: not run ({core.why_not})")
    rows += [("pteverify, pure-Python core", measure("python", k, repeat)),
             ("pteverify, tuple states (reference)", measure("tuple", k, repeat)),
            ("naive tuple BFS (no API, no invariant)", measure("naive", k, repeat))]
    why = have_spin()
    if why is None:
        with tempfile.TemporaryDirectory() as d:
            spin = spin_measure(k, repeat, Path(d))
        rows += [("SPIN pan, dfs (-DNOREDUCE)", spin["dfs"]), ("SPIN pan, bfs (-DNOREDUCE -DBFS)", spin["bfs"])]
    else:
        print(f"  SPIN: not run: {why}")
    print(f"  {'run':40} {'states':>10} {'transitions':>12} {'verdict':>8} {'cpu s':>7} {'wall s':>7} "
          f"{'states/s':>10} {'B/state':>8}")
    for name, r in rows:
        print(f"  {name:40} {r['states']:>10,} {r['transitions']:>12,} {r['verdict']:>8} {r['cpu']:>7.2f} "
              f"{r['wall']:>7.2f} {r['states'] / r['cpu']:>10,.0f} {r['bytes_per_state']:>8.0f}")
    packed = rows[0][1]
    if why is None:
        for mode in ("dfs", "bfs"):
            s = spin[mode]
            print(f"  pteverify/SPIN {mode}: states/s {s['cpu'] / packed['cpu']:.2f}x "
                  f"(target >= 0.5), bytes/state {packed['bytes_per_state'] / s['bytes_per_state']:.2f}x "
                  f"(target <= 1.5)")
    named = dict(rows)
    for name in ("pteverify, pure-Python core", "pteverify, tuple states (reference)",
                 "naive tuple BFS (no API, no invariant)"):
        if name != rows[0][0]:
            r = named[name]
            print(f"  {rows[0][0]} vs {name}: {r['cpu'] / packed['cpu']:.2f}x the speed, "
                  f"{packed['bytes_per_state'] / r['bytes_per_state']:.2f}x the bytes per state")


# ------------------------------------------------------------------------------------------
# bytes per stored state on an mm scenario


def store_bytes(parent: dict) -> float:
    """Bytes of the visited store per state: the dict, plus each key object (its values shared)."""
    return (sys.getsizeof(parent) + sum(sys.getsizeof(s) for s in parent)) / len(parent)


def memory(scenario: str = "odirect-swapout", variant: str = "1493a1913e34-stable-writes") -> None:
    from pteverify.explore import _bfs_full, _bfs_packed, Stats
    from pteverify.scenario import get_scenario

    sc = get_scenario(scenario)
    cm = sc.build(sc.variant(variant))
    pk = cm.packed()
    packed = {pk.initial: None}
    _bfs_packed(cm, pk, packed, Stats(), time.perf_counter(), None, None, None, None)
    tuples = {cm.initial: None}
    _bfs_full(cm, tuples, Stats(), time.perf_counter(), None, None, None, None, None)
    assert len(packed) == len(tuples)
    print(f"\nStored state, {scenario}:{variant} ({len(cm.fields)} fields, {len(cm.threads)} threads, "
          f"{len(packed):,} states; target <= 150 B):")
    from pteverify import core
    if core._core is not None:
        eng = core._core.Engine(sc.build(sc.variant(variant)).packed())
        eng.run(pk.initial, -1, -1, False, lambda s: None, lambda t, d: None)
        store = eng.store
        assert len(store) == len(packed)
        words = (pk.top + 63) // 64
        print(f"  compiled core: {store.bytes_used() / len(store):.0f} B/state allocated (the store's arrays "
              f"grow by doubling); {words * 8 + 4} B/state of state words and parent link plus 4-8 B of "
              f"hash table")
    else:
        print(f"  compiled core: not run ({core.why_not})")
    print(f"  pure-Python core: {store_bytes(packed):.0f} B/state (a {pk.top}-bit int and its dict entry)")
    print(f"  tuple states: {store_bytes(tuples):.0f} B/state")


# ------------------------------------------------------------------------------------------
# the scenario table


def scenarios(kinds=("mm",)) -> None:
    from pteverify.explore import explore
    from pteverify.scenario import load_scenarios

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
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", action="store_true", help="only the million-state model, side by side")
    ap.add_argument("--memory", action="store_true", help="only bytes per stored state on an mm scenario")
    ap.add_argument("--scenarios", action="store_true", help="only the scenarios table")
    ap.add_argument("--k", type=int, default=99, help="increments per thread (default 99: 1,000,000 states)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the fastest kept (default 3)")
    a = ap.parse_args()
    everything = not (a.engine or a.memory or a.scenarios)
    if everything or a.engine:
        engine(a.k, a.repeat)
    if everything or a.memory:
        memory()
    if everything or a.scenarios:
        scenarios()
