"""The CI gate: every scenario variant against its expected verdict, every layout property proved.

The unit of work is a `Job` (one scenario variant, or one layout); `run_job` is a pure function of it
returning plain `CheckResult`s, so jobs can be fanned out over a local process pool (`run_jobs`) or,
unchanged, over a cluster engine: a job and its results pickle and serialise to JSON, and a job
carries file paths and names only, never live objects.

Each result carries a content hash of what it depends on (the scenario file, the source of every model
module its builder imports, the engine's version and source digest; for layouts the layout file and
the prover's source), so CI can tell which results a change can affect: `changed_only` reruns only the
jobs whose hash differs from a baseline report. Golden state counts (`states` beside `expect` in a
scenario's variant) make drift in a model a failed expectation with a clear message.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib.util
import json
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__

PASS, FAIL = "pass", "fail"


@dataclass(frozen=True)
class Job:
    """One unit of work: a scenario variant (optionally on an arch layout), or one layout's proofs."""

    kind: str                          # "scenario" | "layout"
    name: str                          # scenario or layout name
    path: str                          # the scenario or layout file
    variant: str = ""                  # scenario variant
    arch: str = ""                     # scenario: the layout file its swap PTEs are encoded with
    reduction: bool = True
    max_seconds: float | None = None
    hash: str = ""
    symmetry: bool = False             # scenario: symmetry reduction (verifier/symmetry.py)
    memory_model: str = ""             # scenario: run under this memory model (check --memory-model)
    weight: int = field(default=0, compare=False)   # expected cost (the golden state count): a pool
                                                     # starts the heaviest jobs first

    @property
    def id(self) -> str:
        if self.kind == "scenario":
            return (f"scenario/{self.name}/{self.variant}" + (f"@{Path(self.arch).stem}" if self.arch else "")
                    + (f"~{self.memory_model}" if self.memory_model else ""))
        return f"layout/{self.name}"


@dataclass
class CheckResult:
    id: str
    kind: str                          # "scenario" | "layout-property"
    name: str                          # scenario or layout
    item: str                          # variant or property
    file: str
    status: str                        # pass | fail
    verdict: str                       # holds | violated | incomplete | proved | disproved | unknown | error
    expect: str
    message: str = ""
    seconds: float = 0.0
    hash: str = ""
    arch: str = ""
    states: int | None = None
    transitions: int | None = None
    golden_states: int | None = None
    invariant: str | None = None
    stands_for: str = ""
    details: dict = field(default_factory=dict)     # trace (scenarios) or counterexample (layouts)
    cached: bool = False
    error: str = ""                    # verdict "error": "bad-input" (exit 2) or "internal" (exit 4)

    def to_json(self) -> dict:
        # the fields as they are (asdict would deep-copy every trace): the result is serialised, not kept
        d = {k: getattr(self, k) for k in _RESULT_FIELDS}
        return {k: v for k, v in d.items() if v not in (None, "", {}) or k in ("status", "verdict")}


_RESULT_FIELDS = tuple(CheckResult.__dataclass_fields__)


# --------------------------------------------------------------------------------------------
# Content hashes


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()[:16]


_ENGINE_DIGEST: str | None = None


def engine_digest() -> str:
    """The engine's version and a digest of its sources (a change in the explorer can change results)."""
    global _ENGINE_DIGEST
    if _ENGINE_DIGEST is None:
        here = Path(__file__).parent
        files = sorted(here.glob("*.py"))
        _ENGINE_DIGEST = __version__ + "+" + _sha(*(f.read_bytes() for f in files))
    return _ENGINE_DIGEST


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def model_modules(root: str, root_file: Path | None = None) -> list[Path]:
    """The source files of `root` and every module of the same top-level package (or of
    pteverify.models) it imports, transitively (found by reading the imports, not by importing).
    `root_file`: a user's model module given by path."""
    top = root.split(".")[0]
    seen: dict[str, Path] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = root_file if (root_file is not None and name == root) else _module_file(name)
        if path is None:
            continue
        seen[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for t in _imports(path, package):
            if t.split(".")[0] == top and t != "pteverify" and not t.startswith("pteverify.") or \
                    t.startswith("pteverify.models"):
                todo.append(t)
    return [seen[k] for k in sorted(seen)]


_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]*)", re.M)


@functools.lru_cache(maxsize=None)
def _imports(path: Path, package: str) -> tuple:
    """The modules a source file imports (absolute names), read once per process (a check plans
    every scenario's model closure, and the closures share most of models/). Import statements are
    found by their shape at the start of a line, not by parsing: an import-like line in a string
    only adds a module to the hash, and one that does not exist is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()           # the job reports it when it imports the module; its bytes are hashed
    out = []
    for dots, module, names in _FROM_IMPORT.findall(text):
        if dots:
            base = package.split(".")
            base = base[:len(base) - len(dots) + 1]
            mod = ".".join(base + ([module] if module else []))
        else:
            mod = module
        out.append(mod)
        for n in names.strip("() \t\n").replace("\n", " ").split(","):
            n = n.split()[0] if n.split() else ""
            if n.isidentifier():
                out.append(f"{mod}.{n}")
    for names in _IMPORT.findall(text):
        for n in names.split(","):
            n = n.split()[0] if n.split() else ""
            if n:
                out.append(n)
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _models_digest(module: str, user_file: Path | None) -> str:
    # one planning pass hashes the same model modules for every variant: read and parse them once
    files = model_modules("__user_model__", user_file) if user_file else model_modules(module)
    return _sha(*(_read_or_empty(p) for p in files))


def _read_or_empty(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError:
        return b""          # a missing model file: the job reports it


@functools.lru_cache(maxsize=None)
def _prover_digest() -> str:
    prover = Path(__file__).parent / "layout"
    return _sha(*(p.read_bytes() for p in sorted(prover.glob("*.py"))))


def scenario_hash(scenario_path: Path, model_ref: str, arch: str = "") -> str:
    module = model_ref.partition(":")[0]
    user_file = (scenario_path.parent / module).resolve() if module.endswith(".py") else None
    parts = [scenario_path.read_bytes(), engine_digest().encode(), _models_digest(module, user_file).encode()]
    if arch:
        parts.append(Path(arch).read_bytes())
    return _sha(*parts)


def layout_hash(layout_path: Path) -> str:
    return _sha(layout_path.read_bytes(), engine_digest().encode(), _prover_digest().encode())


# --------------------------------------------------------------------------------------------
# Planning


def plan(scenarios_dir: Path | None = None, layouts_dir: Path | None = None, only: tuple = (),
         arch: tuple = (), reduction: bool = True, max_seconds: float | None = None,
         include_layouts: bool = True, symmetry: bool = False, memory_model: str = "") -> list[Job]:
    """The jobs of a check, in a fixed order (scenarios by name and variant order, then layouts).
    `only`: glob patterns matched against job ids and names; `arch`: layout files to run the
    arch-aware scenarios on (each variant once per layout); `memory_model`: run the variants that
    name no memory model of their own under this one."""
    from .scenario import load_scenarios, specs_dir
    scenarios = load_scenarios(scenarios_dir)
    jobs: list[Job] = []
    for sc in scenarios.values():
        archs = [""]
        if arch and sc.supports_arch:
            archs = [str(a) for a in arch]
        for a in archs:
            for v in (sc.arch_variants() if a else sc.variants):
                job = Job("scenario", sc.name, str(sc.path), v.name, a, reduction, max_seconds,
                          symmetry=symmetry,
                          memory_model=memory_model if memory_model and not v.memory_model else "",
                          weight=v.states or 0)
                if _selected(job, only):
                    jobs.append(replace(job, hash=scenario_hash(sc.path, sc.model_ref, a)))
    if include_layouts:
        layouts = layouts_dir or specs_dir() / "arch"
        for p in sorted(Path(layouts).glob("*.toml")):
            job = Job("layout", p.stem, str(p))
            if _selected(job, only):
                jobs.append(replace(job, hash=layout_hash(p)))
    return jobs


def _selected(job: Job, only: tuple) -> bool:
    if not only:
        return True
    keys = [job.id, job.name, f"{job.name}:{job.variant}" if job.variant else job.name]
    return any(fnmatch.fnmatch(k, pat) for pat in only for k in keys)


# --------------------------------------------------------------------------------------------
# Running one job


def run_job(job: Job) -> list[CheckResult]:
    """Run one job. A job that cannot run is a failed expectation with verdict "error", reported in
    its row, never a crash of the whole check: `error` says whose fault it is ("bad-input": a
    malformed file or a user's model that raised; "internal": pteverify's own defect), and the CLI
    exits 2 or 4 after printing the table. The job's `max_seconds` also bounds the import and build
    of its model (errors.time_limit): a model that never returns is "incomplete", not a hang."""
    from .errors import BadInput, TimeLimit, describe_user_exception, one_line, time_limit, user_location
    t0 = time.perf_counter()
    item = job.variant if job.kind == "scenario" else "load"
    kind = job.kind if job.kind == "scenario" else "layout-property"

    def failed(verdict, message, error=""):
        return [CheckResult(job.id, kind, job.name, item, job.path, FAIL, verdict, "", message,
                            time.perf_counter() - t0, job.hash, Path(job.arch).stem if job.arch else "",
                            error=error)]
    try:
        if job.kind == "scenario":
            backstop = None if job.max_seconds is None else job.max_seconds * 1.5 + 5
            with time_limit(backstop, f"running {job.id}"):
                return [_run_scenario(job)]
        return _run_layout(job)
    except KeyboardInterrupt:
        raise
    except TimeLimit as e:
        return failed("incomplete", str(e))
    except BadInput as e:
        where = user_location(e)
        msg = one_line(e)
        return failed("error", msg + (f" (at {where})" if where and where not in msg else ""), "bad-input")
    except BaseException as e:       # noqa: BLE001 - a job that cannot run is reported in its row
        if user_location(e) is not None:
            return failed("error", describe_user_exception(e, "the model"), "bad-input")
        return failed("error", f"internal error: {type(e).__name__}: {one_line(e)}", "internal")


@functools.lru_cache(maxsize=None)
def _arch_layout(path: str):
    """A layout loaded once per process: every arch-aware variant of a check runs on it."""
    from .layout import load_layout
    return load_layout(path)


def _run_scenario(job: Job) -> CheckResult:
    from .explore import HOLDS, INCOMPLETE, VIOLATED, explore
    from .scenario import get_scenario
    from .trace import trace_json
    sc = get_scenario(job.path)
    v = sc.variant(job.variant)
    arch_layout = _arch_layout(job.arch) if job.arch else None
    cm = sc.build(v, arch=arch_layout, memory_model=job.memory_model or None)
    race = sc.race_steps(v, cm)          # an unknown race step is the file's mistake: before searching
    with sc.user_model_errors("exploring the model"):
        r = explore(cm, reduction=job.reduction, max_states=sc.max_states, max_seconds=job.max_seconds,
                    coverage=bool(race) and not job.reduction and not job.symmetry, symmetry=job.symmetry)
    res = CheckResult(job.id, "scenario", sc.name, v.name, job.path, PASS, r.verdict, v.expect,
                      seconds=r.stats.seconds, hash=job.hash, arch=Path(job.arch).stem if job.arch else "",
                      states=r.stats.states, transitions=r.stats.transitions,
                      golden_states=(None if job.arch or job.memory_model or not job.reduction or job.symmetry
                                     else v.states),
                      invariant=r.invariant, stands_for=v.stands_for)
    problems = []
    if r.verdict == INCOMPLETE:
        problems.append(f"search cut short by {r.bound}: nothing proved")
    elif r.verdict != v.expect:
        if r.verdict == VIOLATED:
            problems.append(f"unexpected violation of {r.invariant} (expected the variant to hold)")
        else:
            problems.append(f"expected a violation of {v.invariant}, none found")
    elif r.verdict == VIOLATED and v.invariant and r.invariant != v.invariant:
        problems.append(f"violated {r.invariant}, expected {v.invariant}")
    if not problems and race and r.verdict == HOLDS:
        problems += _race_problems(cm, r, race, sc.max_states, job.max_seconds, res)
    if not problems and cm.witnesses and r.verdict == HOLDS:
        problems += _outcome_problems(cm, r, job.reduction or job.symmetry, sc.max_states, job.max_seconds)
    if not problems and res.golden_states is not None and r.stats.states != v.states:
        problems.append(f"state count drift: {r.stats.states} states, the golden count is {v.states} "
                        f"(the model or the engine changed; if intended, run `pteverify check "
                        f"--update-golden`)")
    if r.verdict == VIOLATED:
        res.details = {"trace": trace_json(r)}
    if problems:
        res.status = FAIL
        res.message = "; ".join(problems)
    else:
        res.message = (f"{r.verdict}" + (f" ({r.invariant})" if r.invariant else "") + " as expected")
    return res


def _race_problems(cm, r, race, max_states, max_seconds, res) -> list[str]:
    """A holding variant must fire each of its race steps: counted on the unreduced search (the
    check's own search if it was unreduced, else a second one)."""
    from .explore import HOLDS, explore
    cov = r.coverage or getattr(r, "full_coverage", None)
    if cov is None:
        full = explore(cm, reduction=False, coverage=True, max_states=max_states, max_seconds=max_seconds)
        if full.verdict != HOLDS:
            return [f"the unreduced search for race coverage gave {full.verdict}"
                    + (f" ({full.bound})" if full.bound else f" ({full.invariant})" if full.invariant else "")]
        cov = full.coverage
    fired = {f"{t}.{lab}": cov.fired(t, lab) for t, lab in race}
    res.details = {"race": fired}
    never = [name for name, n in fired.items() if n == 0]
    if never:
        return [f"race step{'s' if len(never) > 1 else ''} {', '.join(never)} never fired: the holds is "
                f"vacuous for {'them' if len(never) > 1 else 'it'} (`pteverify run {res.name} --variant "
                f"{res.item} --coverage`)"]
    return []


def _outcome_problems(cm, r, reduced: bool, max_states, max_seconds) -> list[str]:
    """A holding variant must reach each of its model's reachable outcomes (`Model.reachable`):
    met by the terminal states of the unreduced search (the check's own if it was unreduced,
    else a second one)."""
    from .explore import HOLDS, explore, unreached_outcomes
    if reduced:
        r = explore(cm, reduction=False, max_states=max_states, max_seconds=max_seconds)
        if r.verdict != HOLDS:
            return [f"the unreduced search for the reachable outcomes gave {r.verdict}"]
    never = unreached_outcomes(r)
    if never:
        return [f"outcome{'s' if len(never) > 1 else ''} {', '.join(never)} never reached: the model "
                f"allows less than it stands for"]
    return []


def _run_layout(job: Job) -> list[CheckResult]:
    from .layout import load_layout, prove_layout
    lay = load_layout(job.path)
    rep = prove_layout(lay)
    expected = {prop: "disproved" for prop in lay.known_findings}
    out = []
    for p in rep.properties:
        exp = expected.get(p.name, "proved")
        res = CheckResult(f"{job.id}/{p.name}", "layout-property", lay.name, p.name, job.path,
                          PASS if p.verdict == exp else FAIL, p.verdict, exp, seconds=p.seconds,
                          hash=job.hash)
        if p.counterexample:
            res.details = {"counterexample": p.counterexample}
        if p.verdict == exp:
            res.message = f"{p.verdict} as expected"
        elif p.verdict == "unknown":
            res.message = "solver gave up (unknown): nothing proved"
        else:
            res.message = f"{p.verdict}, expected {exp}" + (f": {p.detail}" if p.detail else "")
        out.append(res)
    return out


# --------------------------------------------------------------------------------------------
# Running many


EXECUTORS = ("local", "dask", "ray")


def run_jobs(jobs: list[Job], n_jobs: int = 1, progress=None, executor: str = "local",
             scheduler: str | None = None) -> list[CheckResult]:
    """Run `jobs`, serially or over `n_jobs` processes; results come back in job order, so a
    parallel run reports exactly what a serial one does. `executor="dask"` runs the same jobs on a
    dask.distributed cluster (see `_run_dask`), `executor="ray"` on a ray cluster (`_run_ray`)."""
    if executor == "dask":
        return _run_dask(jobs, n_jobs, progress, scheduler)
    if executor == "ray":
        return _run_ray(jobs, n_jobs, progress, scheduler)
    if executor != "local":
        raise ValueError(f"unknown executor {executor!r}")
    results: list[list[CheckResult]] = [None] * len(jobs)      # type: ignore[list-item]
    if n_jobs <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            results[i] = run_job(job)
            if progress:
                progress(i + 1, len(jobs), job)
    else:
        # the heaviest first (by golden state count), so that no long job starts last while the
        # other workers idle; results go back to their places, so the report's order does not
        # change. (Batching several jobs per task saved the parent some CPU but lengthened the
        # tail: measured slower end to end.)
        heaviest = sorted(range(len(jobs)), key=lambda i: -jobs[i].weight)
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = {pool.submit(run_job, jobs[i]): i for i in heaviest}
            done = 0
            from concurrent.futures import as_completed
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                done += 1
                if progress:
                    progress(done, len(jobs), jobs[i])
    return [r for rs in results for r in rs]


def _run_dask(jobs: list[Job], n_jobs: int, progress, scheduler: str | None) -> list[CheckResult]:
    """The jobs on a dask.distributed cluster: the scheduler at `scheduler` (its workers need this
    version of pteverify installed; a job names files by path, so they need the same files at the
    same paths, e.g. a shared checkout), or, without one, a LocalCluster of `n_jobs` worker
    processes started for this check. Jobs are pure functions of picklable data, so the results are
    the ones a local run gives, put back in job order."""
    try:
        import logging

        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from .errors import BadInput
        raise BadInput("--executor dask needs dask.distributed: pip install 'pteverify[dask]'") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as e:
            from .errors import BadInput
            raise BadInput(f"--scheduler {scheduler}: cannot reach a dask scheduler ({e})") from None
    else:
        cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    results: list[list[CheckResult]] = [None] * len(jobs)      # type: ignore[list-item]
    try:
        futures = client.map(run_job, jobs, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        done = 0
        for fut in as_completed(futures):
            i = index[fut.key]
            results[i] = fut.result()
            done += 1
            if progress:
                progress(done, len(jobs), jobs[i])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [r for rs in results for r in rs]


def reuse_unchanged(jobs: list[Job], baseline: dict) -> tuple[list[Job], list[CheckResult]]:
    """Split jobs into those to run and the baseline results still valid for the others (same hash,
    and they passed: a failed result is always rerun)."""
    by_hash: dict[str, list[dict]] = {}
    for r in baseline.get("results", []):
        by_hash.setdefault(r.get("hash", ""), []).append(r)
    to_run, kept = [], []
    for job in jobs:
        old = [r for r in by_hash.get(job.hash, []) if r["id"] == job.id or r["id"].startswith(job.id + "/")]
        if job.hash and old and all(r["status"] == PASS for r in old):
            for r in old:
                fields = {k: r.get(k) for k in CheckResult.__dataclass_fields__ if k in r}
                fields.setdefault("details", {})
                kept.append(CheckResult(**{**fields, "cached": True}))
        else:
            to_run.append(job)
    return to_run, kept


def in_plan_order(results: list[CheckResult], order: dict[str, int]) -> list[CheckResult]:
    """Results in the order of the jobs that made them (cached and fresh ones mixed)."""
    def key(r):
        return order.get(r.id, order.get(r.id.rpartition("/")[0], len(order)))
    return sorted(results, key=key)


def summary(results: list[CheckResult], seconds: float, n_jobs: int) -> dict:
    failed = [r for r in results if r.status != PASS]
    return {"total": len(results), "passed": len(results) - len(failed), "failed": len(failed),
            "cached": sum(1 for r in results if r.cached), "seconds": round(seconds, 3), "jobs": n_jobs,
            "ok": not failed}


def report_json(results: list[CheckResult], seconds: float, n_jobs: int) -> dict:
    return {"engine": engine_digest(), "summary": summary(results, seconds, n_jobs),
            "results": [r.to_json() for r in results]}


def report_text(report: dict) -> str:
    """A report as the JSON text of the baseline file: one result a line. (json.dumps with an indent
    runs the encoder in Python; this way each result is encoded by the C encoder, several times
    faster for a report of a few hundred traces.)"""
    head = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in report.items() if k != "results")
    rows = ",\n".join(json.dumps(r) for r in report.get("results", []))
    return "{" + head + (", " if head else "") + '"results": [\n' + rows + "\n]}\n"


# --------------------------------------------------------------------------------------------
# Golden state counts


def update_golden(scenarios_dir: Path | None = None, only: tuple = ()) -> list[tuple[str, str, int | None, int]]:
    """Run every scenario variant (reduction on, as `check` does) and write its state count as
    `states = N` into the variant's block of the scenario file. Returns (scenario, variant, old, new)."""
    from .explore import explore
    from .scenario import load_scenarios
    changes = []
    for sc in load_scenarios(scenarios_dir).values():
        text = sc.path.read_text()
        blocks = _variant_blocks(text)
        if len(blocks) != len(sc.variants):
            raise ValueError(f"{sc.path}: cannot map [[variants]] blocks to variants")
        new_text = text
        for (start, end), v in reversed(list(zip(blocks, sc.variants))):
            if only and not any(fnmatch.fnmatch(f"{sc.name}:{v.name}", p) or fnmatch.fnmatch(sc.name, p)
                                for p in only):
                continue
            r = explore(sc.build(v), reduction=True, max_states=sc.max_states)
            n = r.stats.states
            block = new_text[start:end]
            if re.search(r"^states\s*=.*$", block, re.M):
                block2 = re.sub(r"^states\s*=.*$", f"states = {n}", block, count=1, flags=re.M)
            else:
                m = re.search(r"^expect\s*=.*$", block, re.M)
                block2 = block[:m.end()] + f"\nstates = {n}" + block[m.end():]
            if block2 != block:
                changes.append((sc.name, v.name, v.states, n))
            new_text = new_text[:start] + block2 + new_text[end:]
        if new_text != text:
            sc.path.write_text(new_text)
    return list(reversed(changes)) if changes else changes


def _variant_blocks(text: str) -> list[tuple[int, int]]:
    starts = [m.start() for m in re.finditer(r"^\[\[variants\]\]\s*$", text, re.M)]
    ends = starts[1:] + [len(text)]
    out = []
    for s, e in zip(starts, ends):
        body = text.index("\n", s) + 1 if "\n" in text[s:e] else e
        nxt = re.search(r"^\[", text[body:e], re.M)       # a table after the variant's keys ends it
        out.append((s, body + nxt.start() if nxt else e))
    return out


def load_baseline(path: Path) -> dict:
    """The previous report `--changed-only` compares with ({} when there is none yet). A file that
    is not a check report (truncated, another JSON document) is bad input naming the file."""
    from .errors import BadInput
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise BadInput(f"--baseline {path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise BadInput(f"--baseline {path}: not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise BadInput(f"--baseline {path}:{e.lineno}: not a check report: invalid JSON ({e.msg})") from None
    problem = None
    if not isinstance(doc, dict):
        problem = f"a JSON {type(doc).__name__}, not an object"
    elif not isinstance(doc.get("results", []), list):
        problem = "'results' is not a list"
    else:
        for i, r in enumerate(doc.get("results", [])):
            if not isinstance(r, dict):
                problem = f"results[{i}] is not an object"
            elif not all(isinstance(r.get(k), str) for k in ("id", "status")):
                problem = f"results[{i}] has no string 'id' and 'status'"
            elif any(k in r and not isinstance(r[k], t) for k, t in _RESULT_TYPES.items()):
                problem = f"results[{i}]: a field has the wrong type"
            if problem:
                break
    if problem:
        raise BadInput(f"--baseline {path}: not a check report: {problem}")
    return doc


_RESULT_TYPES = {"kind": str, "name": str, "item": str, "file": str, "verdict": str, "expect": str,
                 "message": str, "seconds": (int, float), "hash": str, "arch": str,
                 "states": int, "transitions": int, "golden_states": int, "invariant": str,
                 "stands_for": str, "details": dict, "cached": bool, "error": str}


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _run_ray(jobs: list[Job], n_jobs: int, progress, scheduler: str | None) -> list[CheckResult]:
    """The jobs as ray tasks, the same pure `run_job` as the other executors: on the cluster at
    `scheduler` (a ray address: "auto", "host:6379" or "ray://host:10001"; its nodes need this
    version of pteverify and the same files at the same paths), or, without one, a local ray
    instance of `n_jobs` CPUs started for this check and shut down after it. A ray instance already
    initialised in this process (a caller's) is used as it is and left running."""
    try:
        import ray
    except ImportError:
        from .errors import BadInput
        raise BadInput("--executor ray needs ray: pip install 'pteverify[ray]'") from None
    started = False
    if not ray.is_initialized():
        opts = dict(log_to_driver=False, configure_logging=True, logging_level="ERROR")
        try:
            if scheduler:
                ray.init(address=scheduler, **opts)
            else:
                ray.init(num_cpus=n_jobs, include_dashboard=False, **opts)
        except (ConnectionError, RuntimeError, ValueError) as e:
            from .errors import BadInput, one_line
            raise BadInput(f"--scheduler {scheduler}: cannot reach a ray cluster ({one_line(e)})"
                           if scheduler else f"--executor ray: cannot start a local ray instance ({one_line(e)})") from None
        started = True
    results: list[list[CheckResult]] = [None] * len(jobs)      # type: ignore[list-item]
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_job)
        refs = [task.remote(job) for job in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        done = 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                i = index[ref]
                results[i] = ray.get(ref)
                done += 1
                if progress:
                    progress(done, len(jobs), jobs[i])
    finally:
        if started:
            ray.shutdown()
    return [r for rs in results for r in rs]
