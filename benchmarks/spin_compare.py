"""SPIN and pteverify side by side on one scenario, odirect-swapout (O_DIRECT read vs swap-out).

The scenario is written twice: as a pteverify model (models/anon_exclusive.py:odirect_swapout) and
in Promela (benchmarks/spin/odirect_swapout.pml), step for step. This script runs both checkers on
the same variants (knob sets from specs/scenarios/odirect-swapout.toml) and prints verdicts, states,
transitions and seconds, and the pteverify/SPIN ratios.

    python benchmarks/spin_compare.py                  # variants 1493a1913e34^ and 1493a1913e34
    python benchmarks/spin_compare.py --all            # every variant of the scenario
    python benchmarks/spin_compare.py --crosscheck     # also prove the two state spaces identical

SPIN runs (each model compiled with `spin -a` and `gcc -O2 -DSAFETY`, in a temporary directory):
  dfs+por   pan's default depth-first search with SPIN's partial-order reduction
  dfs       the same with -DNOREDUCE
  bfs       -DBFS -DNOREDUCE: breadth-first, a shortest counterexample. In this mode pan also
            stores the states inside atomic sequences; the table shows its "nominal states
            (stored-atomic)", the states between steps, comparable with the DFS count, and its
            transitions as pan counts them (atomic steps included)
pteverify runs `python -m pteverify run odirect-swapout --variant V --json`, with and without
`--no-reduction` (both are breadth-first).

Which seconds: "search s" is each tool's own figure for the search (pan's "elapsed time", which has
a 10 ms resolution and reads <0.01 on this model; pteverify's JSON `seconds`); "wall s" is the tool's
process (./pan, run with -m10000 -w18 -n, so its start-up is about a millisecond; python -m
pteverify run, interpreter start-up and model build included); "build s" is spin -a plus gcc for
SPIN. Timings are medians of --repeat runs (default 5). The ratio lines divide pteverify's figures by SPIN's
(pteverify with reduction against dfs+por, without against dfs): states; search (pteverify's search
seconds against pan's whole wall time, an upper bound of SPIN's search, so the ratio is a lower
bound); wall against wall; and end to end (pteverify's wall against SPIN's build plus wall).

--crosscheck compiles the Promela once more per variant with its invariants left out, SPIN's
data-flow optimisation off (-o1: it would merge states that differ only in locals never read, e.g.
`result`) and a c_code hook printing every state, explores the pteverify model without invariants,
and compares the two sets of states field by field, program counters (step labels) included.

SPIN comes from Debian's `spin` package: when it is missing the script installs it with apt-get
(as root only), otherwise it prints one line saying why it skips and exits 0. Nothing is written in
the repository. Exit status: 0 when every verdict agrees with the scenario's expectation (and --crosscheck
found identical state spaces), 1 otherwise, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PML = HERE / "spin" / "odirect_swapout.pml"
PML_FILES = (PML, HERE / "spin" / "fault_handlers.pml")
SCENARIO = "odirect-swapout"
DEFAULT_VARIANTS = ("1493a1913e34^", "1493a1913e34")

# pteverify knob -> the Promela #define selecting the same behaviour
KNOB_DEFINES = {
    "mm.anon_exclusive": "ANON_EXCLUSIVE",
    "swap_out.remember_exclusive": "REMEMBER_EXCLUSIVE",
    "arch.swp_exclusive": "ARCH_SWP_EXCLUSIVE",
    "swap.stable_writes": "STABLE_WRITES",
    "gup.foll_pin": "FOLL_PIN",
}

SPIN_MODES = {
    "dfs+por": ["-DSAFETY"],
    "dfs": ["-DSAFETY", "-DNOREDUCE"],
    "bfs": ["-DSAFETY", "-DNOREDUCE", "-DBFS"],
}
# pan's DFS stack and hash table sized for this model (depth < 200, states < 20,000): with the
# defaults (-w24) pan spends ~80 ms clearing a 128 MB hash table, far more than the search; -n
# leaves out the listing of unreached code. A depth limit that is hit shows as "incomplete".
PAN_ARGS = ["-m10000", "-w18", "-n"]


def note(msg: str) -> None:
    print(f"spin_compare: {msg}", flush=True)


# ------------------------------------------------------------------------------------------
# Tools


def ensure_tools() -> None:
    """SPIN and a C compiler, or a one-line reason to skip (exit 0)."""
    if shutil.which("spin") is None:
        if os.geteuid() != 0:
            note("SPIN is not installed and this is not root, so it cannot be installed: skipping "
                 "(install Debian's `spin` package, e.g. `sudo apt-get install spin`)")
            sys.exit(0)
        if shutil.which("apt-get") is None:
            note("SPIN is not installed and there is no apt-get to install it with: skipping")
            sys.exit(0)
        note("SPIN is not installed: running apt-get update && apt-get install -y spin")
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "spin"]):
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            if r.returncode != 0:
                last = (r.stderr.strip().splitlines() or ["no message"])[-1]
                note(f"`{' '.join(cmd)}` failed (exit {r.returncode}: {last}): skipping")
                sys.exit(0)
        if shutil.which("spin") is None:
            note("apt-get installed `spin` but no spin command is on PATH: skipping")
            sys.exit(0)
    if shutil.which("gcc") is None:
        note("SPIN's verifiers are C programs and gcc is not installed: skipping")
        sys.exit(0)


def spin_version() -> str:
    r = subprocess.run(["spin", "-V"], capture_output=True, text=True)
    return r.stdout.strip() or r.stderr.strip()


# ------------------------------------------------------------------------------------------
# Variants


@dataclass
class Variant:
    name: str
    expect: str
    invariant: str | None
    knobs: dict          # every knob the model declares, variant values applied

    @property
    def defines(self) -> list[str]:
        return [f"-D{KNOB_DEFINES[k]}={int(bool(v))}" for k, v in sorted(self.knobs.items())]


def load_variants(names: list[str] | None) -> list[Variant]:
    from pteverify.scenario import ScenarioError, get_scenario

    sc = get_scenario(SCENARIO)
    chosen = [v.name for v in sc.variants] if names is None else names
    out = []
    for name in chosen:
        try:
            v = sc.variant(name)
        except ScenarioError as e:                 # names the known variants
            print(f"spin_compare: {e}", file=sys.stderr)
            sys.exit(2)
        knobs = dict(sc.knob_values(v).items())
        unknown = sorted(set(knobs) - set(KNOB_DEFINES))
        if unknown:
            raise SystemExit(f"spin_compare: {sc.path}: knob(s) {unknown} of {SCENARIO} have no "
                             f"#define in {PML.relative_to(HERE.parent)}: extend the Promela first")
        out.append(Variant(v.name, v.expect, v.invariant, knobs))
    return out


# ------------------------------------------------------------------------------------------
# Running SPIN


@dataclass
class Run:
    tool: str            # "spin" | "pteverify"
    mode: str
    variant: str
    verdict: str         # holds | violated | incomplete | error
    what: str            # the invariant that broke (or "deadlock"), "" when none
    states: int
    transitions: int
    depth: int           # counterexample length / search depth as the tool counts it
    search_s: float | None
    wall_s: float
    build_s: float | None = None


def _run(cmd, cwd=None, check=True) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if check and r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        raise SystemExit(f"spin_compare: `{' '.join(map(str, cmd))}` failed (exit {r.returncode}):\n{tail}")
    return r, secs


def spin_generate(workdir: Path, variant: Variant, model: Path, extra: list[str] = ()) -> float:
    """spin -a: pan.c for this variant in `workdir`; returns the seconds it took."""
    workdir.mkdir(parents=True, exist_ok=True)
    _, secs = _run(["spin", *extra, *variant.defines, "-a", str(model)], cwd=workdir)
    return secs


def gcc_pan(src_dir: Path, out: Path, flags: list[str], opt: str = "-O2") -> float:
    _, secs = _run(["gcc", "-w", opt, *flags, "-o", str(out), "pan.c"], cwd=src_dir)
    return secs


_ERR = re.compile(r"^pan:\d+: (assertion violated (.+?)|invalid end state)(?: \(at depth (\d+)\))?$", re.M)


def parse_pan(text: str) -> dict:
    def num(pattern, cast=int):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None

    errors = num(r"errors: (\d+)")
    stored = num(r"(\d+) states, stored")
    # pan -DBFS also stores the states inside atomic sequences and reports the others apart
    nominal = num(r"(\d+) nominal states \(stored-atomic\)")
    transitions = num(r"(\d+) transitions \(= stored\+matched\)")
    if errors is None or stored is None or transitions is None:
        raise SystemExit("spin_compare: cannot read pan's output:\n" + text[-2000:])
    elapsed = num(r"pan: elapsed time ([0-9.e+-]+) seconds", float)
    depth = num(r"depth reached (\d+)") or 0
    what = ""
    m = _ERR.search(text)
    if m:
        what = "deadlock" if m.group(1).startswith("invalid end state") else m.group(2).strip()
        depth = int(m.group(3)) if m.group(3) else depth
    if errors:
        verdict = "violated"
    elif "max search depth too small" in text or "Search not completed" in text:
        verdict = "incomplete"
    else:
        verdict = "holds"
    return {"verdict": verdict, "what": what, "states": nominal if nominal is not None else stored,
            "stored": stored, "transitions": transitions,
            "depth": depth, "elapsed": elapsed}


def spin_runs(variants: list[Variant], tmp: Path, repeat: int, jobs: int) -> list[Run]:
    builds = {}
    gen_s = {}
    for v in variants:
        d = tmp / f"spin-{len(gen_s)}"
        gen_s[v.name] = spin_generate(d, v, PML)
        for mode in SPIN_MODES:
            builds[(v.name, mode)] = d
    note(f"compiling {len(builds)} SPIN verifiers (gcc -O2, {jobs} at a time)")

    def build(key):
        vname, mode = key
        d = builds[key]
        return key, gcc_pan(d, d / f"pan-{mode.replace('+', '-')}", SPIN_MODES[mode])

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        gcc_s = dict(pool.map(build, list(builds)))

    runs = []
    for v in variants:
        for mode in SPIN_MODES:
            d = builds[(v.name, mode)]
            exe = d / f"pan-{mode.replace('+', '-')}"
            results, walls = [], []
            for _ in range(repeat):
                for trail in d.glob("*.trail"):
                    trail.unlink()
                r, secs = _run([str(exe), *PAN_ARGS], cwd=d, check=False)
                if r.returncode not in (0, 1):
                    raise SystemExit(f"spin_compare: {exe.name} exited {r.returncode}:\n{r.stdout[-2000:]}")
                results.append(parse_pan(r.stdout))
                walls.append(secs)
            first = results[0]
            if any((x["states"], x["verdict"]) != (first["states"], first["verdict"]) for x in results):
                raise SystemExit(f"spin_compare: SPIN {mode} on {v.name} gave different results on repeats")
            elapsed = [x["elapsed"] for x in results if x["elapsed"] is not None]
            runs.append(Run("spin", mode, v.name, first["verdict"], first["what"], first["states"],
                            first["transitions"], first["depth"],
                            statistics.median(elapsed) if elapsed else None, statistics.median(walls),
                            gen_s[v.name] + gcc_s[(v.name, mode)]))
    return runs


# ------------------------------------------------------------------------------------------
# Running pteverify


def pteverify_runs(variants: list[Variant], repeat: int) -> list[Run]:
    runs = []
    for v in variants:
        for mode, extra in (("por", []), ("full", ["--no-reduction"])):
            cmd = [sys.executable, "-m", "pteverify", "run", SCENARIO, "--variant", v.name, "--json", *extra]
            outs, walls = [], []
            for _ in range(repeat):
                r, secs = _run(cmd, check=False)
                if r.returncode not in (0, 1):
                    raise SystemExit(f"spin_compare: `{' '.join(cmd)}` exited {r.returncode}: "
                                     f"{(r.stderr.strip().splitlines() or [''])[-1]}")
                outs.append(json.loads(r.stdout))
                walls.append(secs)
            j = outs[0]
            if any((o["states"], o["verdict"]) != (j["states"], j["verdict"]) for o in outs):
                raise SystemExit(f"spin_compare: pteverify {mode} on {v.name} gave different results on repeats")
            runs.append(Run("pteverify", mode, v.name, j["verdict"], j.get("invariant") or "", j["states"],
                            j["transitions"], j.get("max_depth", 0),
                            statistics.median(o["seconds"] for o in outs), statistics.median(walls)))
    return runs


# ------------------------------------------------------------------------------------------
# Cross-check: the two state spaces, state by state

DUMP_C = r"""
c_code {
static void xc_proc_common(int orig, int fwrite, int unshare, int page, int swc, int dexcl, int newp,
                           int result, int ret)
{	printf(" %d %d %d %d %d %d %d %d %d", orig, fwrite, unshare, page, swc, dexcl, newp, result, ret);
}
void xc_dump(P0 *o, P1 *r, P2 *w, int done_pid)
{	int i;
	printf("XC %d %d", now.pte, now.ptl);
	for (i = 1; i < 4; i++)
		printf(" %d %d %d %d %d %d %d %d %d %d", now.ref[i], now.map[i], now.pin[i], now.excl[i],
		       now.swapcache[i], now.dirty[i], now.uptodate[i], now.writeback[i], now.data[i],
		       now.flock[i]);
	printf(" %d %d %d %d %d %d %d", now.swp_count, now.swp_has_cache, now.swp_cache, now.swp_data,
	       now.dma_done, now.dma_landed_in, now.cpu_stored);
	xc_proc_common(o->orig, o->fwrite, o->unshare, o->page, o->swc, o->dexcl, o->newp, o->result, o->ret);
	printf(" %d", o->gup);
	printf(" %d %d %d", r->page, r->anon_excl, r->pteval);
	xc_proc_common(w->orig, w->fwrite, w->unshare, w->page, w->swc, w->dexcl, w->newp, w->result, w->ret);
	printf(" %d", w->seen);
	printf(" | %d %d %d | %d\n", o->_p, r->_p, w->_p, done_pid);
}
}
#define BEGIN_STEP c_code { xc_dump((P0 *)pptr(1), (P1 *)pptr(2), (P2 *)pptr(3), -1); };
#define DONE_HOOK c_code { xc_dump((P0 *)pptr(1), (P1 *)pptr(2), (P2 *)pptr(3), ((P3 *)_this)->_pid); };
#include "@PML@"
"""

PROCS = ("odirect", "reclaim", "writer")     # pids 1, 2, 3 (init is 0); proctypes P0, P1, P2


def step_label(name: str) -> str:
    if name == "end_done":
        return "done"
    for prefix in ("dsp_", "wp_", "hpf_"):
        if name.startswith(prefix):
            return prefix[:-1] + "." + name[len(prefix):]
    return name


def promela_labels() -> dict:
    """(file name, line) of the first statement of every step -> pteverify's step label."""
    out = {}
    for path in PML_FILES:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\w+):\s*$", line)
            if not m:
                continue
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and re.match(r"^\s*(atomic \{|false\b)", lines[j]):
                out[(path.name, j + 1)] = step_label(m.group(1))
    return out


def pan_pc_map(pan_c: str, labels: dict) -> list[dict]:
    """Per proctype P0..P2: SPIN state number -> step label, from pan.c's source maps."""
    maps = []
    for t in range(3):
        m = re.search(r"short src_ln%d \[\] = \{(.*?)\};" % t, pan_c, re.S)
        lns = [int(x) for x in re.findall(r"-?\d+", m.group(1))]
        m = re.search(r"S_F_MAP src_file%d \[\] = \{(.*?)\n\};" % t, pan_c, re.S)
        ranges = [(Path(f).name, int(a), int(b))
                  for f, a, b in re.findall(r'\{ "([^"]*)", (\d+), (\d+) \}', m.group(1))]
        pcmap = {}
        for pc, line in enumerate(lns):
            fname = next((f for f, a, b in ranges if a <= pc <= b), None)
            if (fname, line) in labels:
                pcmap[pc] = labels[(fname, line)]
        maps.append(pcmap)
    return maps


KIND = {"none": 0, "present": 1, "swap": 2, "migration": 3, "marker": 4, "swapin_error": 5}
FOLIO = {"-": 0, "A": 1, "B": 2, "C": 3}
BASE = {"-": 0, "old": 1, "garbage": 2}
TAG = {"dma": 4, "cpu": 8}
RESULT = {"-": 0, "read": 1, "stored": 2, "SIGBUS": 3, "userfault": 4}
RET = {"-": 0, "follow_page": 1, "load": 2, "store": 3}


class NotComparable(Exception):
    pass


def enc_pte(p) -> int:
    if getattr(p, "raw", "") not in ("", None):
        raise NotComparable(f"PTE {p} carries an arch bit pattern")
    if (p.kind == "swap") != (p.slot == "slot0") or p.slot not in ("", "slot0"):
        raise NotComparable(f"PTE {p}: the Promela has one swap slot, slot0")
    return (KIND[p.kind] | FOLIO[p.folio] << 3 | int(p.write) << 5 | int(p.dirty) << 6
            | int(p.soft_dirty) << 7 | int(p.uffd_wp) << 8 | int(p.exclusive) << 9)


def enc_data(d: str) -> int:
    base, *tags = d.split("+")
    v = BASE[base]
    for t in tags:
        v |= TAG[t]
    return v


def enc_dma(d: str) -> int:
    if d == "-":
        return 0
    m = re.fullmatch(r"([ABC]) \((mapped|not mapped)\)", d)
    return FOLIO[m.group(1)] | (4 if m.group(2) == "not mapped" else 0)


def encode_py_state(cm, s) -> tuple:
    """A pteverify state as the tuple the Promela hook prints (program counters as labels)."""
    g = s.as_dict()
    used = set()

    def take(name):
        used.add(name)
        return g[name]

    row = [enc_pte(take("pte")), take("ptl")]
    for f in "ABC":
        row += [take(f"{f}_ref"), take(f"{f}_map"), take(f"{f}_pin"), int(take(f"{f}_excl")),
                int(take(f"{f}_swapcache")), int(take(f"{f}_dirty")), int(take(f"{f}_uptodate")),
                int(take(f"{f}_writeback")), enc_data(take(f"{f}_data")), take(f"{f}_lock")]
        # PG_swapbacked: SPIN drops this write-only array from its state vector; it is a function
        # of the refcount here (set by every allocation, cleared on free), so it splits no state
        if take(f"{f}_swapbacked") != (g[f"{f}_ref"] > 0):
            raise NotComparable(f"{f}_swapbacked is not refcount > 0 in {s!r}")
    row += [take("swp_count"), int(take("swp_has_cache")), FOLIO[take("swp_cache")],
            enc_data(take("swp_data")), int(take("dma_done")), enc_dma(take("dma_landed_in")),
            int(take("cpu_stored"))]
    for t in ("odirect", "writer"):
        if take(f"{t}_clear"):
            raise NotComparable(f"{t}_clear set: the skip-swapcache path is not in the Promela")
    for t in PROCS:
        if t == "reclaim":
            row += [FOLIO[take("reclaim_page")], int(take("reclaim_anon_excl")),
                    enc_pte(take("reclaim_pteval"))]
            continue
        row += [enc_pte(take(f"{t}_orig")), int(take(f"{t}_fwrite")), int(take(f"{t}_unshare")),
                FOLIO[take(f"{t}_page")], FOLIO[take(f"{t}_swapcache")], int(take(f"{t}_excl")),
                FOLIO[take(f"{t}_new")], RESULT[take(f"{t}_result")], RET[take(f"{t}_ret")]]
        row.append(FOLIO[take("odirect_gup")] if t == "odirect" else enc_data(take("writer_seen")))
    missing = sorted(set(cm.field_names) - used)
    if missing:
        raise NotComparable(f"pteverify fields without a Promela counterpart: {missing}")
    return tuple(row) + tuple(cm.label_at(ti, s) for ti in range(len(cm.threads)))


def py_state_space(variant: Variant):
    """Every reachable state of the pteverify model of `variant`, invariants left out."""
    from pteverify.scenario import get_scenario

    sc = get_scenario(SCENARIO)
    cm = sc.build(sc.variant(variant.name))
    if [t.name for t in cm.threads] != list(PROCS):
        raise NotComparable(f"threads {cm.thread_names}, the Promela has {list(PROCS)}")
    cm.invariants = []
    seen = {cm.initial}
    frontier = [cm.initial]
    edges = 0
    while frontier:
        nxt = []
        for s in frontier:
            for _, n in cm.successors(s):
                edges += 1
                if n not in seen:
                    seen.add(n)
                    nxt.append(n)
        frontier = nxt
    return {encode_py_state(cm, s) for s in seen}, len(seen), edges


def spin_state_space(variant: Variant, workdir: Path, labels: dict):
    workdir.mkdir(parents=True, exist_ok=True)
    wrapper = workdir / "crosscheck.pml"
    wrapper.write_text(DUMP_C.replace("@PML@", str(PML)))
    spin_generate(workdir, variant, wrapper, ["-o1", "-DNO_INVARIANTS"])
    gcc_pan(workdir, workdir / "pan", ["-DSAFETY", "-DNOREDUCE"], opt="-O1")
    r, _ = _run([str(workdir / "pan"), *PAN_ARGS], cwd=workdir, check=False)
    info = parse_pan(r.stdout)
    pcmaps = pan_pc_map((workdir / "pan.c").read_text(), labels)
    states = set()
    for line in r.stdout.splitlines():
        if not line.startswith("XC "):
            continue
        body, pcs, done = line[3:].split(" | ")
        row = tuple(int(x) for x in body.split())
        names = []
        for t, pc in enumerate(int(x) for x in pcs.split()):
            if int(done) == t + 1:
                names.append("done")
            elif pc in pcmaps[t]:
                names.append(pcmaps[t][pc])
            else:
                raise NotComparable(f"SPIN's {PROCS[t]} rests at its state {pc}, which is no step label")
        states.add(row + tuple(names))
    return states, info


def crosscheck(variants: list[Variant], tmp: Path) -> bool:
    labels = promela_labels()
    ok = True
    print("\nCross-check: reachable states without invariants (SPIN -o1 -DNOREDUCE, pteverify unreduced)")
    for i, v in enumerate(variants):
        try:
            py, n_py, e_py = py_state_space(v)
            sp, info = spin_state_space(v, tmp / f"xc-{i}", labels)
        except NotComparable as e:
            print(f"  {v.name:28} not comparable: {e}")
            ok = False
            continue
        # the encoding must be injective (one tuple per pteverify state) for `same` to mean anything
        same = py == sp and len(py) == n_py
        # SPIN stores one more state (before init runs) and counts init's transition and the root
        counts = info["states"] == n_py + 1 and info["transitions"] == e_py + 2
        good = same and counts and info["verdict"] == "holds"
        ok &= good
        print(f"  {v.name:28} pteverify {n_py:>6} states {e_py:>6} transitions | SPIN {info['states']:>6} "
              f"stored {info['transitions']:>6} transitions | {'identical' if good else 'DIFFERENT'}")
        if info["verdict"] != "holds":
            print(f"      SPIN found an error in the invariant-free model: {info['what']}")
        if not same:
            for side, extra in (("only pteverify", py - sp), ("only SPIN", sp - py)):
                for row in sorted(extra)[:3]:
                    print(f"      {side}: {row}")
                if extra:
                    print(f"      ({len(extra)} state(s) {side})")
    return ok


# ------------------------------------------------------------------------------------------
# Report


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "<0.01"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


def report(runs: list[Run], variants: list[Variant]) -> bool:
    print(f"\n{'tool':10} {'mode':8} {'variant':28} {'verdict':10} {'invariant':16} {'states':>8} "
          f"{'transitions':>11} {'depth':>6} {'search s':>9} {'wall s':>8} {'build s':>8}")
    for r in runs:
        print(f"{r.tool:10} {r.mode:8} {r.variant:28} {r.verdict:10} {r.what or '-':16} {r.states:>8} "
              f"{r.transitions:>11} {r.depth:>6} {fmt_s(r.search_s):>9} {fmt_s(r.wall_s):>8} "
              f"{fmt_s(r.build_s) if r.build_s is not None else '-':>8}")
    print("\nRatios pteverify / SPIN: states; search = pteverify search s / pan wall s (pan's wall bounds "
          "its search from above);\nwall = process wall times; end to end = pteverify wall / SPIN build + wall:")
    by = {(r.tool, r.mode, r.variant): r for r in runs}
    for v in variants:
        for pmode, smode in (("por", "dfs+por"), ("full", "dfs")):
            p, s = by[("pteverify", pmode, v.name)], by[("spin", smode, v.name)]
            print(f"  {v.name:28} pteverify {pmode:4} / spin {smode:7}: states {ratio(p.states, s.states):>6}"
                  f"  search {ratio(p.search_s, s.wall_s):>6}"
                  f"  wall {ratio(p.wall_s, s.wall_s):>6}"
                  f"  end to end {ratio(p.wall_s, (s.build_s or 0) + s.wall_s):>6}")
    ok = True
    print("\nVerdicts:")
    for v in variants:
        rows = [r for r in runs if r.variant == v.name]
        verdicts = {r.verdict for r in rows}
        agree = verdicts == {v.expect}
        whats = sorted({r.what for r in rows if r.what})
        detail = f" ({', '.join(whats)})" if whats else ""
        if agree and v.expect == "violated" and v.invariant and whats != [v.invariant]:
            detail += f"; expected invariant {v.invariant}"
            agree = False
        ok &= agree
        print(f"  {v.name:28} expected {v.expect:9} -> {'all agree' if agree else 'DISAGREE'}: "
              f"{', '.join(f'{r.tool} {r.mode} {r.verdict}' for r in rows) if not agree else v.expect}{detail}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", metavar="NAME",
                    help=f"variant of {SCENARIO} to run (repeatable; default: {', '.join(DEFAULT_VARIANTS)})")
    ap.add_argument("--all", action="store_true", help="run every variant of the scenario")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per tool and mode (median; default 5)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel gcc compiles")
    ap.add_argument("--crosscheck", action="store_true",
                    help="also compare the two tools' reachable state spaces state by state")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (printed)")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.jobs < 1:
        ap.error("--repeat and --jobs must be at least 1")

    ensure_tools()
    variants = load_variants(None if args.all else (args.variant or list(DEFAULT_VARIANTS)))
    note(f"{spin_version()}; gcc {subprocess.run(['gcc', '-dumpfullversion'], capture_output=True, text=True).stdout.strip()}; "
         f"python {sys.version.split()[0]}")
    tmp = Path(tempfile.mkdtemp(prefix="spin_compare-"))
    try:
        runs = spin_runs(variants, tmp, args.repeat, args.jobs)
        note("running pteverify")
        runs += pteverify_runs(variants, args.repeat)
        ok = report(runs, variants)
        if args.crosscheck:
            ok &= crosscheck(variants, tmp)
    finally:
        if args.keep:
            note(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
