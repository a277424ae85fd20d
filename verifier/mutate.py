"""Mutation testing of models: does breaking the path a model describes break one of its checks?

Mutants are derived from the modelling API itself, never by editing source: a mutant is a built
`Model` with one step transformed, compiled and explored like any other model. Operators, per step
of a thread (a step is named `thread.label`):

* `skip-effect`   the call removed: the step still runs (same guard, same jump, same locks, same
                  writes to its thread's private fields: arguments, return labels, values read into
                  locals, and to ghost fields: the record that the call happened, which the checks
                  read), but the shared fields its effect writes keep their values;
* `drop-guard`    the wait or re-check removed: the step is enabled whenever the locks it takes are
                  free (a lock wait stays: leaving a lock out is `drop-lock`);
* `swap-next`     the step exchanged with the next step of its thread (labels move with their steps,
                  as labelled statements do in C);
* `drop-lock:L`   a step that takes lock L runs without taking it (nor waiting for it), and the unlock
                  paired with it is left out too (a release of L by the thread is skipped while the
                  thread does not hold L);
* `drop-unlock:L` a step that releases lock L keeps holding it;
* `drop-outcome:K` a step with alternative outcomes (its effect returns a list) loses outcome K
                  whenever it has more than one.

Which operators apply to a step is learnt from the model, not declared: an unreduced exploration of
each holding variant records, per step, whether the thread ever reaches it, whether it ever falls
through to the next step, which locks it takes and releases (first-class `acquire`/`release`, or an
effect writing a lock field: the mm models take the page-table lock that way), whether its guard ever
blocks for a reason other than a lock wait, whether its effect ever changes a field, and how many
outcomes it returns at most. A mutant that could not change anything the scenario reaches is not
generated; the steps no holding variant reaches are counted as `unreached`.

A mutant is run against every holding variant of its scenario (the unreduced search, bounded). It is

* `killed`     when a holding variant stops holding: an invariant or final predicate is violated,
               the mutant deadlocks, the model's own assertions raise a ModelError, one of the
               variant's declared race steps never fires (`check` fails it: the holds is vacuous),
               or one of the model's reachable outcomes (`Model.reachable`: a litmus test's SC
               outcomes) is never reached (`check` fails that too).
               Dropping an outcome only removes behaviour, so no safety check can kill it; a race
               step that needs the outcome can;
* `survived`   when every holding variant still holds; an "explained" survivor is one the scenario
               file records as a known gap (`[[survivor]]`, same keys, the reason naming what check
               or interleaving would kill it): still counted as survived;
* `equivalent` when it survived and the scenario file says why it cannot be killed
               (`[[equivalent]]` with `step`, `operator`, `reason`);
* `invalid`    when the operator itself made the model malformed: a swap that moves the target of a
               jump from outside the pair (jumps entering at the first step would now skip the
               second), a lock released or taken against its owner, or model code failing with an
               exception other than ModelError on a state only the mutant reaches;
* `incomplete` when a search hit the bounds (max states or seconds): nothing is known.

The score is killed / (mutants - equivalent - invalid): an incomplete mutant counts as not killed.
"""

from __future__ import annotations

import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .model import FREE, GOTO, CompiledModel, Model, ModelError, Step, Thread

OPERATORS = ("skip-effect", "drop-guard", "swap-next", "drop-lock", "drop-unlock", "drop-outcome")
KILLED, SURVIVED, EQUIVALENT, INVALID, INCOMPLETE = "killed", "survived", "equivalent", "invalid", "incomplete"
STATUSES = (KILLED, SURVIVED, EQUIVALENT, INVALID, INCOMPLETE)

DEFAULT_STATE_FACTOR = 50          # a mutant may explore this many times its variant's states ...
DEFAULT_MIN_STATES = 20_000        # ... and at least this many
DEFAULT_MAX_SECONDS = 60.0         # per mutant and variant


class MutantInvalid(Exception):
    """Raised inside a mutant's step when the operator broke the model's structure."""


# --------------------------------------------------------------------------------------------
# Profiles: what each step does in a holding variant


@dataclass
class StepProfile:
    thread: str
    label: str
    index: int
    ref: str
    reached: bool = False             # the thread's pc is at this step in some reachable state
    fired: bool = False
    falls_through: bool = False       # some transition of this step goes on to the next step
    has_guard: bool = False
    has_effect: bool = False
    changes: bool = False             # the effect changes a shared (not lock, not thread-private) field
    takes: set = field(default_factory=set)        # locks the step takes
    releases: set = field(default_factory=set)     # locks the step releases
    max_outcomes: int = 0             # most alternatives its effect returned at once
    guard_waits: set = field(default_factory=set)  # taken locks the guard waits for (never true while held)
    guard_blocks: bool = False        # the guard is false in some reached state for another reason
    # internal: locks held by another thread while the guard was true / guard values seen
    _true_while_held: set = field(default_factory=set, repr=False)
    _guard_seen: set = field(default_factory=set, repr=False)

    @property
    def name(self) -> str:
        return f"{self.thread}.{self.label}"


@dataclass
class VariantProfile:
    variant: str
    states: int
    transitions: int
    steps: dict                        # "thread.label" -> StepProfile
    order: list                        # step names in thread/step order
    jump_targets: dict                 # "thread.label" -> set of step names that may jump to it


def _lock_fields(model: Model) -> list[str]:
    return [n for n, f in model.fields.items() if f.is_lock]


def ghost_fields(model: Model) -> set:
    """Fields declared ghost: observations for the checks, kept when a call's effect is removed (the
    caller still believes the call happened: a store that completed, a DMA that landed)."""
    return {n for n, f in model.fields.items() if getattr(f, "ghost", False)}


def private_fields(model: Model) -> dict:
    """thread name -> the fields only that thread's steps touch and no invariant reads: its locals
    (arguments, return labels, values read into registers), which carry control flow, not effects."""
    users: dict[str, set] = {}
    for t in model.threads:
        for st in t.steps:
            for n in st.reads | st.writes:
                users.setdefault(n, set()).add(t.name)
    seen = {n for inv in model.invariants for n in inv.reads}
    locks = set(_lock_fields(model))
    out: dict[str, set] = {}
    for n, ts in users.items():
        if len(ts) == 1 and n not in seen and n not in locks:
            out.setdefault(next(iter(ts)), set()).add(n)
    return {t: frozenset(v) for t, v in out.items()}


def _instrument(model: Model, profiles: dict) -> Model:
    """A copy of `model` whose guards and effects record what they do into `profiles`."""
    field_index = {n: i for i, n in enumerate(model.fields)}
    locks = [(n, field_index[n]) for n in _lock_fields(model)]
    lock_names = {n for n, _ in locks}
    private = private_fields(model)
    ghosts = ghost_fields(model)
    threads = []
    for ti, t in enumerate(model.threads):
        owner = ti + 1
        mine = private.get(t.name, frozenset()) | ghosts
        steps = []
        for st in t.steps:
            p = profiles[f"{t.name}.{st.label}"]
            p.has_guard = st.guard is not None
            p.has_effect = st.effect is not None
            p.takes.update(st.acquire)
            p.releases.update(st.release)
            guard, effect = st.guard, st.effect

            def g(s, guard=guard, p=p, owner=owner):
                ok = guard(s)
                held = frozenset(n for n, i in locks if s[i] not in (FREE, owner))
                p._guard_seen.add((bool(ok), held))
                if ok:
                    p._true_while_held.update(held)
                return ok

            def e(s, effect=effect, p=p, owner=owner, mine=mine):
                out = effect(s)
                p.fired = True
                outs = out if out.__class__ is list else [out]
                if out.__class__ is list:
                    p.max_outcomes = max(p.max_outcomes, len(out))
                for d in outs:
                    for k, v in (d or {}).items():
                        if k == GOTO:
                            continue
                        if k in lock_names:
                            old = s[field_index[k]]
                            if v != FREE and old == FREE:
                                p.takes.add(k)
                            elif v == FREE and old != FREE:
                                p.releases.add(k)
                        elif k not in mine and getattr(s, k) != v:
                            p.changes = True
                return out

            steps.append(replace(st, guard=g if guard is not None else None,
                                 effect=e if effect is not None else None))
        threads.append(_thread_with(model, t, steps))
    return _model_with(model, threads)


def _thread_with(model: Model, t: Thread, steps: list) -> Thread:
    nt = Thread(model, t.name, t.doc)
    nt.steps = [s if s.index == i else replace(s, index=i) for i, s in enumerate(steps)]
    if hasattr(t, "lock_owner"):
        nt.lock_owner = t.lock_owner
    return nt


def _model_with(model: Model, threads: list) -> Model:
    m = Model(model.name, model.doc, model.knobs)
    m.memoise = False           # the wrapped guards and effects look at the whole state
    m.fields = model.fields
    m.invariants = model.invariants
    m.progress = list(getattr(model, "progress", ()))      # progress properties are checks too
    m.locks_released_at_exit = getattr(model, "locks_released_at_exit", True)
    for t in threads:
        t.model = m
    m.threads = threads
    return m


def profile(model: Model, variant: str, max_states: int | None = None) -> VariantProfile:
    """Explore `model` (unreduced) and record what each step does. Raises ModelError if the model
    itself fails, and returns None-free data only for a complete exploration."""
    profiles: dict[str, StepProfile] = {}
    order = []
    targets: dict[str, set] = {}
    for t in model.threads:
        for st in t.steps:
            name = f"{t.name}.{st.label}"
            profiles[name] = StepProfile(t.name, st.label, st.index, st.ref)
            order.append(name)
            targets.setdefault(name, set())
        for st in t.steps:
            for b in st.branches:
                if b != "done":
                    targets.setdefault(f"{t.name}.{b}", set()).add(f"{t.name}.{st.label}")
    cm = _instrument(model, profiles).compile()
    seen = {cm.initial}
    frontier = [cm.initial]
    transitions = 0
    limit = max_states if max_states is not None else float("inf")
    while frontier:
        nxt = []
        for s in frontier:
            for ti, pci in enumerate(cm.pc_index):
                pc = s[pci]
                steps = cm.threads[ti].steps
                if pc >= len(steps):
                    continue
                p = profiles[f"{cm.threads[ti].name}.{steps[pc].label}"]
                p.reached = True
                for n in cm.fire(ti, s):
                    transitions += 1
                    p.fired = True
                    if n[pci] == pc + 1:
                        p.falls_through = True
                    if n not in seen:
                        seen.add(n)
                        nxt.append(n)
                        if len(seen) > limit:
                            raise ModelError(f"profiling {variant}: more than {max_states} states")
        frontier = nxt
    for p in profiles.values():
        # a taken lock the guard is never true against is a lock wait inside the guard
        p.guard_waits = {lk for lk in p.takes if lk not in p._true_while_held} - set()
        p.guard_blocks = any(ok != (not (held & p.guard_waits)) for ok, held in p._guard_seen)
    return VariantProfile(variant, len(seen), transitions, profiles, order, targets)


# --------------------------------------------------------------------------------------------
# Mutants


@dataclass(frozen=True)
class MutantSpec:
    step: str                          # "thread.label"
    operator: str                      # one of OPERATORS
    detail: str = ""                   # the lock (drop-lock/-unlock) or outcome index (drop-outcome)

    @property
    def id(self) -> str:
        return f"{self.step}:{self.operator}" + (f":{self.detail}" if self.detail else "")

    @property
    def op(self) -> str:
        return self.operator + (f":{self.detail}" if self.detail else "")


def candidate_mutants(p: StepProfile, nxt: StepProfile | None, targets: dict) -> list:
    """The mutants of one step in one variant, with the reason a swap is invalid (or "")."""
    out = []
    if not p.reached:
        return out
    if p.has_effect and p.changes:
        out.append((MutantSpec(p.name, "skip-effect"), ""))
    if p.has_guard and p.guard_blocks:
        out.append((MutantSpec(p.name, "drop-guard"), ""))
    if nxt is not None and p.falls_through:
        outside = sorted(targets.get(p.name, set()) - {p.name, nxt.name})
        why = ""
        if outside:
            why = (f"{p.name} is the target of a jump from {outside[0]}: after the swap that jump "
                   f"would skip {nxt.label}")
        out.append((MutantSpec(p.name, "swap-next"), why))
    for lk in sorted(p.takes):
        out.append((MutantSpec(p.name, "drop-lock", lk), ""))
    for lk in sorted(p.releases):
        out.append((MutantSpec(p.name, "drop-unlock", lk), ""))
    if p.max_outcomes > 1:
        for k in range(p.max_outcomes):
            out.append((MutantSpec(p.name, "drop-outcome", str(k)), ""))
    return out


def _view(s, i):
    """`s` with field i read as FREE (a lock left out looks free to the step that skips it)."""
    return tuple.__new__(type(s), s[:i] + (FREE,) + s[i + 1:])


def apply_mutant(model: Model, spec: MutantSpec, sp: StepProfile) -> Model:
    """A new model: `model` with the mutant's transformation applied (the original is untouched).
    Every step of the mutant checks lock discipline: a lock released while another thread holds
    it, or taken while held, makes the mutant invalid."""
    thread_name, _, label = spec.step.partition(".")
    field_index = {n: i for i, n in enumerate(model.fields)}
    locks = {n for n, f in model.fields.items() if f.is_lock}
    threads = []
    for ti, t in enumerate(model.threads):
        # a store-buffer thread (verifier/memmodel.py) makes its CPU thread's buffered unlock visible
        owner = getattr(t, "lock_owner", ti + 1)
        steps = list(t.steps)
        if t.name == thread_name:
            i = next((j for j, st in enumerate(steps) if st.label == label), None)
            if i is None:
                raise ModelError(f"mutant {spec.id}: no step {label!r} in thread {thread_name}")
            steps = _mutate_thread(steps, i, spec, sp, field_index, owner,
                                   private_fields(model).get(t.name, frozenset()), ghost_fields(model))
        steps = [_checked(st, owner, locks, field_index) for st in steps]
        threads.append(_thread_with(model, t, steps))
    return _model_with(model, threads)


def _mutate_thread(steps: list, i: int, spec: MutantSpec, p: StepProfile, field_index: dict,
                   owner: int, private: frozenset, ghosts: set = frozenset()) -> list:
    st = steps[i]
    op = spec.operator
    if op == "skip-effect":
        effect = st.effect
        keep = {GOTO} | (set(st.writes) & (p.takes | p.releases | set(private) | ghosts))

        def strip(d):
            return {k: v for k, v in d.items() if k in keep} if d else d

        def skipped(s):
            out = effect(s)
            return [strip(d) for d in out] if out.__class__ is list else strip(out)

        steps[i] = replace(st, effect=skipped)
    elif op == "drop-guard":
        waits = tuple(field_index[lk] for lk in sorted(p.guard_waits))
        steps[i] = replace(st, guard=(lambda s: all(s[j] == FREE for j in waits)) if waits else None)
    elif op == "swap-next":
        steps[i], steps[i + 1] = steps[i + 1], steps[i]
    elif op == "drop-outcome":
        k = int(spec.detail)
        effect = st.effect

        def dropped(s):
            out = effect(s)
            if out.__class__ is list and len(out) > 1 and k < len(out):
                return out[:k] + out[k + 1:]
            return out

        steps[i] = replace(st, effect=dropped)
    elif op == "drop-unlock":
        lk = spec.detail
        if lk in st.release:
            steps[i] = replace(st, release=tuple(x for x in st.release if x != lk))
        else:
            steps[i] = _filter_effect(st, lambda d: {k: v for k, v in d.items() if not (k == lk and v == FREE)})
    elif op == "drop-lock":
        lk = spec.detail
        li = field_index[lk]
        guard, effect = st.guard, st.effect
        new = replace(st, acquire=tuple(x for x in st.acquire if x != lk))
        if guard is not None:
            new = replace(new, guard=lambda s: guard(_view(s, li)))
        if effect is not None:
            def unlocked(s):
                out = effect(_view(s, li))
                if out.__class__ is list:
                    return [_without_take(d, lk) for d in out]
                return _without_take(out, lk)
            new = replace(new, effect=unlocked)
        steps[i] = new
        # the paired unlock is left out too: a release of lk while the thread does not hold it
        for j, other in enumerate(steps):
            if j != i and (lk in other.release or lk in other.writes):
                steps[j] = _release_if_held(other, lk, li, owner)
    else:
        raise ModelError(f"unknown mutation operator {op!r}")
    return steps


def _without_take(d, lk):
    if d and lk in d and d[lk] != FREE:
        d = dict(d)
        del d[lk]
    return d


def _filter_effect(st: Step, fn) -> Step:
    effect = st.effect
    if effect is None:
        return st

    def filtered(s):
        out = effect(s)
        if out.__class__ is list:
            return [fn(d) if d else d for d in out]
        return fn(out) if out else out

    return replace(st, effect=filtered)


def _release_if_held(st: Step, lk: str, li: int, owner: int) -> Step:
    if lk in st.release:
        effect = st.effect

        def rel(s):
            out = effect(s) if effect is not None else None
            if s[li] != owner:
                return out
            add = {lk: FREE}
            if out.__class__ is list:
                return [{**(d or {}), **add} for d in out]
            return {**(out or {}), **add}

        return replace(st, release=tuple(x for x in st.release if x != lk), effect=rel,
                       reads=st.reads | {lk}, writes=st.writes | {lk})
    effect = st.effect
    if effect is None:
        return st

    def rel2(s):
        out = effect(s)
        if s[li] == owner:
            return out
        strip = (lambda d: {k: v for k, v in d.items() if not (k == lk and v == FREE)} if d else d)
        return [strip(d) for d in out] if out.__class__ is list else strip(out)

    return replace(st, effect=rel2)


def _checked(st: Step, owner: int, locks: set, field_index: dict) -> Step:
    """Wrap a mutant's step so that breaking lock discipline raises MutantInvalid."""
    touched = [(lk, field_index[lk]) for lk in sorted(locks & st.writes)]
    rel = [(lk, field_index[lk]) for lk in st.release]
    if not touched and not rel:
        return st
    effect = st.effect
    where = f"{st.thread}.{st.label}"

    def check(s, d):
        for lk, i in touched:
            if d and lk in d:
                v, old = d[lk], s[i]
                if v == FREE and old not in (FREE, owner):
                    raise MutantInvalid(f"{where} releases {lk}, held by another thread")
                if v != FREE and old not in (FREE, v):
                    raise MutantInvalid(f"{where} takes {lk}, held by another thread")

    def checked(s):
        for lk, i in rel:
            if s[i] != owner:
                raise MutantInvalid(f"{where} releases {lk}, which it does not hold")
        out = effect(s) if effect is not None else None
        for d in (out if out.__class__ is list else [out]):
            check(s, d)
        return out

    return replace(st, effect=checked)


# --------------------------------------------------------------------------------------------
# Running


@dataclass
class MutantResult:
    scenario: str
    step: str
    operator: str
    ref: str = ""
    status: str = SURVIVED
    variant: str = ""                  # the variant that killed it (or made it invalid/incomplete)
    how: str = ""                      # invariant name, "deadlock", "model assertion: ...", reason
    reason: str = ""                   # equivalent: the scenario file's reason
    unchanged: bool = False            # survived with the original state and transition counts
    seconds: float = 0.0
    stale: bool = False                # marked equivalent (or a known survivor) in the scenario file but killed
    explained: bool = False            # survived, and the scenario file's [[survivor]] says why
    marked: str = ""                   # "equivalent" or "survivor": how the scenario file marks it

    @property
    def id(self) -> str:
        return f"{self.step}:{self.operator}"

    def to_json(self) -> dict:
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in ("", False, None) or k in ("status",)}


@dataclass
class _Job:
    path: str                          # scenario file
    spec: MutantSpec
    ref: str
    variants: tuple                    # (variant, states, transitions, StepProfile) per holding variant it applies to
    factor: int
    min_states: int
    max_seconds: float | None


_MODELS: dict = {}


def _built(path: str, variant: str) -> tuple:
    """The variant's model (built once per process) and its race steps [(thread, label)]."""
    key = (path, variant)
    if key not in _MODELS:
        from .scenario import get_scenario
        sc = get_scenario(path)
        v = sc.variant(variant)
        cm = sc.build(v)
        _MODELS[key] = (cm.model, sc.race_steps(v, cm), sc)
    return _MODELS[key]


def run_mutant(job: _Job) -> MutantResult:
    """Run one mutant against the holding variants it applies to (stops at the first kill)."""
    from .explore import INCOMPLETE as INC, VIOLATED, explore, unreached_outcomes
    t0 = time.perf_counter()
    res = MutantResult("", job.spec.step, job.spec.op, job.ref)
    unchanged = True
    for vname, states, transitions, sp in job.variants:
        model, race, sc = _built(job.path, vname)
        bound = max(job.min_states, job.factor * states)
        try:
            cm = apply_mutant(model, job.spec, sp).compile()
            if sc.progress:                            # the scenario file's [[progress]] entries
                cm.progress = cm.progress + sc._progress_properties(cm)
            r = explore(cm, reduction=False, max_states=bound, max_seconds=job.max_seconds, shortest=False,
                        coverage=bool(race))
        except MutantInvalid as e:
            res.status, res.variant, res.how = INVALID, vname, str(e)
            break
        except ModelError as e:
            if _raised_by_engine(e):
                res.status, res.variant, res.how = INVALID, vname, f"model malformed: {e}"
            else:
                res.status, res.variant, res.how = KILLED, vname, f"model assertion: {e}"
            break
        except Exception as e:     # model code failing on a state only the mutant reaches
            res.status, res.variant = INVALID, vname
            res.how = f"model code raised {type(e).__name__}: {e}"
            break
        if r.verdict == VIOLATED:
            res.status, res.variant, res.how = KILLED, vname, r.invariant or r.kind or "violated"
            break
        if r.verdict == INC:
            res.status, res.variant, res.how = INCOMPLETE, vname, f"search cut short by {r.bound}"
            break
        never = [f"{t}.{lab}" for t, lab in race if r.coverage.fired(t, lab) == 0]
        if never:      # the variant no longer passes `check`: the race it is about never happens
            res.status, res.variant = KILLED, vname
            res.how = f"race step {', '.join(never)} never fires"
            break
        missed = unreached_outcomes(r)
        if missed:     # nor when an outcome the model must reach (Model.reachable) is never reached
            res.status, res.variant = KILLED, vname
            res.how = f"outcome {', '.join(missed)} never reached"
            break
        if (r.stats.states, r.stats.transitions) != (states, transitions):
            unchanged = False
    if res.status == SURVIVED:
        res.unchanged = unchanged
    res.seconds = time.perf_counter() - t0
    return res


def _raised_by_engine(e: BaseException) -> bool:
    """A ModelError from the engine's own structural checks (compile, jumps), not a model assertion."""
    tb = e.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and (last == "<string>" or Path(last).resolve().parent == Path(__file__).resolve().parent)


@dataclass
class ScenarioReport:
    scenario: str
    kind: str
    holding: list                      # holding variants used
    steps: int = 0                     # steps of the holding variants' models
    unreached: list = field(default_factory=list)
    mutants: list = field(default_factory=list)    # MutantResult
    note: str = ""
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for m in self.mutants if m.status == status)

    @property
    def score(self) -> float | None:
        denom = len(self.mutants) - self.count(EQUIVALENT) - self.count(INVALID)
        return self.count(KILLED) / denom if denom > 0 else None

    def summary(self) -> dict:
        return {"mutants": len(self.mutants), **{s: self.count(s) for s in STATUSES},
                "score": None if self.score is None else round(self.score, 4)}

    def to_json(self) -> dict:
        return {"scenario": self.scenario, "kind": self.kind, "holding_variants": self.holding,
                "steps": self.steps, "unreached_steps": self.unreached, **self.summary(),
                "stale_equivalent": [m.id for m in self.mutants if m.stale],
                "note": self.note, "seconds": round(self.seconds, 3),
                "results": [m.to_json() for m in self.mutants]}


def _equivalents(sc, profiles: list, key: str = "equivalent") -> dict:
    """The scenario's `[[equivalent]]` (or `[[survivor]]`) entries, validated against the steps and
    operators of its holding variants: {(step, operator, detail or ""): reason}. Raises ScenarioError."""
    from .scenario import ScenarioError
    steps = {}
    for vp in profiles:
        steps.update(vp.steps)
    out = {}
    for i, e in enumerate(getattr(sc, key, []) or []):
        where = f"{sc.path}: {key}[{i}]"
        step, op = e["step"], e["operator"]
        base, _, detail = op.partition(":")
        if base not in OPERATORS:
            raise ScenarioError(f"{where}: unknown operator {op!r} (operators: {', '.join(OPERATORS)})")
        if step not in steps:
            raise ScenarioError(f"{where}: no step {step!r} in the holding variants' models "
                                f"(steps are named thread.label)")
        out[(step, base, detail)] = e["reason"]
    return out


def _match_equivalent(equiv: dict, spec: MutantSpec) -> tuple | None:
    for key in ((spec.step, spec.operator, spec.detail), (spec.step, spec.operator, "")):
        if key in equiv:
            return key
    return None


def plan_scenario(sc, max_states: int | None = None, operators: tuple = ()):
    """Profile the holding variants of `sc` and derive its mutants, in step order.
    Returns (ScenarioReport, entries, ({equivalent key: reason}, {survivor key: reason})), an entry
    being either a `_Job`
    argument tuple (spec, ref, variants) or a MutantResult already decided (a statically invalid swap)."""
    from .explore import HOLDS, explore
    holding = [v for v in sc.variants if v.expect == "holds"]
    rep = ScenarioReport(sc.name, sc.kind, [v.name for v in holding])
    if not holding:
        rep.note = "no holding variant: nothing a mutant could break"
        return rep, [], (_equivalents(sc, []), _equivalents(sc, [], "survivor"))
    profiles = []
    for v in holding:
        cm = sc.build(v)
        r = explore(cm, reduction=False, max_states=max_states or sc.max_states, shortest=False)
        if r.verdict != HOLDS:
            raise ModelError(f"scenario {sc.name}: variant {v.name} is expected to hold but gives "
                             f"{r.verdict}" + (f" ({r.invariant})" if r.invariant else "")
                             + ": run `pteverify check` first")
        profiles.append(profile(cm.model, v.name, max_states or sc.max_states))
    equiv = (_equivalents(sc, profiles), _equivalents(sc, profiles, "survivor"))
    order: list[str] = []
    for vp in profiles:
        for n in vp.order:
            if n not in order:
                order.append(n)
    rep.steps = len(order)
    specs: dict[MutantSpec, list] = {}
    invalid: dict[MutantSpec, str] = {}
    refs: dict[str, str] = {}
    reached = set()
    for vp in profiles:
        names = vp.order
        for j, n in enumerate(names):
            p = vp.steps[n]
            refs.setdefault(n, p.ref)
            if p.reached:
                reached.add(n)
            nxt = vp.steps[names[j + 1]] if j + 1 < len(names) else None
            if nxt is not None and nxt.thread != p.thread:
                nxt = None
            for spec, why in candidate_mutants(p, nxt, vp.jump_targets):
                if operators and spec.operator not in operators:
                    continue
                if why:
                    invalid.setdefault(spec, why)
                else:
                    specs.setdefault(spec, []).append((vp.variant, vp.states, vp.transitions, _slim(p)))
    rep.unreached = [n for n in order if n not in reached]
    for v in specs.values():
        v.sort(key=lambda x: x[1])       # smallest variant first: a kill is found sooner
    entries = []
    for spec in sorted(set(specs) | set(invalid),
                       key=lambda m: (order.index(m.step), OPERATORS.index(m.operator), m.detail)):
        if spec in specs:      # runnable in some variant: run it there (a swap invalid elsewhere is skipped there)
            entries.append((spec, refs[spec.step], tuple(specs[spec])))
        else:
            entries.append(MutantResult(sc.name, spec.step, spec.op, refs[spec.step], INVALID,
                                        how=invalid[spec]))
    return rep, entries, equiv


def _slim(p: StepProfile) -> StepProfile:
    return replace(p, _true_while_held=set(), _guard_seen=set())


def mutate_scenarios(scenarios: list, n_jobs: int = 1, factor: int = DEFAULT_STATE_FACTOR,
                     min_states: int = DEFAULT_MIN_STATES, max_seconds: float | None = DEFAULT_MAX_SECONDS,
                     operators: tuple = (), progress=None) -> list[ScenarioReport]:
    """Mutate every scenario in `scenarios` and run the mutants (over `n_jobs` processes).
    Raises ScenarioError for an `[[equivalent]]` entry naming no mutant."""
    from .scenario import ScenarioError
    plans, jobs = [], []
    for sc in scenarios:
        t0 = time.perf_counter()
        rep, entries, equiv = plan_scenario(sc, operators=operators)
        rep.seconds = time.perf_counter() - t0
        slots = []
        for e in entries:
            if isinstance(e, MutantResult):
                slots.append(e)
            else:
                spec, ref, variants = e
                slots.append(len(jobs))
                jobs.append(_Job(str(sc.path), spec, ref, variants, factor, min_states, max_seconds))
        plans.append((sc, rep, equiv, slots))
    results = _run_all(jobs, n_jobs, progress)
    reports = []
    for sc, rep, equiv, slots in plans:
        muts = [results[x] if isinstance(x, int) else x for x in slots]
        equiv, surv = equiv
        used, used_s = set(), set()
        for m in muts:
            m.scenario = sc.name
            if isinstance(m, MutantResult) and m.seconds:
                rep.seconds += m.seconds
            base, _, detail = m.operator.partition(":")
            spec = MutantSpec(m.step, base, detail)
            key = _match_equivalent(equiv, spec)
            skey = _match_equivalent(surv, spec)
            if key is not None and skey is not None:
                raise ScenarioError(f"{sc.path}: {m.step} {m.operator} is marked both [[equivalent]] "
                                    f"and [[survivor]]")
            if skey is not None:
                used_s.add(skey)
                m.marked = "survivor"
                if m.status == SURVIVED:
                    m.explained, m.reason = True, surv[skey]
                elif m.status == KILLED:
                    m.stale, m.reason = True, surv[skey]
                continue
            if key is None:
                continue
            used.add(key)
            m.marked = "equivalent"
            if m.status == SURVIVED:
                m.status, m.reason = EQUIVALENT, equiv[key]
            elif m.status == KILLED:
                m.stale, m.reason = True, equiv[key]
        for what, marks, seen in (("equivalent", equiv, used), ("survivor", surv, used_s)):
            unused = [k for k in marks if k not in seen and not (operators and k[1] not in operators)]
            if unused:
                step, op, detail = unused[0]
                raise ScenarioError(f"{sc.path}: {what} {step} {op + (':' + detail if detail else '')}: "
                                    f"no such mutant (the operator does not apply to that step here)")
        rep.mutants = muts
        reports.append(rep)
    return reports


def _run_all(jobs: list, n_jobs: int, progress) -> list[MutantResult]:
    if n_jobs <= 1 or len(jobs) <= 1:
        out = []
        for i, j in enumerate(jobs):
            out.append(run_mutant(j))
            if progress:
                progress(i + 1, len(jobs))
        return out
    out = []
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        # group a scenario's mutants in chunks so each worker builds a model once per variant
        for i, r in enumerate(pool.map(run_mutant, jobs, chunksize=max(1, min(32, len(jobs) // (4 * n_jobs) or 1)))):
            out.append(r)
            if progress:
                progress(i + 1, len(jobs))
    return out


def totals(reports: list[ScenarioReport], kinds: tuple | None = None) -> dict:
    rs = [r for r in reports if kinds is None or r.kind in kinds]
    mutants = [m for r in rs for m in r.mutants]
    counts = {s: sum(1 for m in mutants if m.status == s) for s in STATUSES}
    denom = len(mutants) - counts[EQUIVALENT] - counts[INVALID]
    return {"scenarios": len(rs), "mutants": len(mutants), **counts,
            "score": round(counts[KILLED] / denom, 4) if denom > 0 else None,
            "stale_equivalent": sum(1 for m in mutants if m.stale),
            "unexplained_survivors": sum(1 for m in mutants if m.status == SURVIVED and not m.explained)}


def format_traceback(e: BaseException) -> str:
    return "".join(traceback.format_exception(e))


def markdown_table(reports: list[ScenarioReport]) -> str:
    """The per-scenario table (mm scenarios, then the engine-validation ones), with totals, as Markdown."""
    def pct(x):
        return "-" if x is None else f"{x * 100:.1f} %"

    lines = ["| scenario | mutants | killed | survived (explained) | equivalent | invalid | incomplete | score |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kinds, label in ((("mm",), "mm scenarios"), (None, "engine-validation scenarios")):
        rs = [r for r in reports if (r.kind in kinds if kinds else r.kind != "mm")]
        if not rs:
            continue
        for r in rs:
            c = r.summary()
            known = sum(1 for m in r.mutants if m.explained)
            lines.append(f"| {r.scenario} | {c['mutants']} | {c['killed']} | {c['survived']} ({known}) | "
                         f"{c['equivalent']} | {c['invalid']} | {c['incomplete']} | {pct(r.score)} |")
        t = totals(rs)
        known = t["survived"] - t["unexplained_survivors"]
        lines.append(f"| **{label}** | **{t['mutants']}** | **{t['killed']}** | **{t['survived']} ({known})** | "
                     f"**{t['equivalent']}** | **{t['invalid']}** | **{t['incomplete']}** | **{pct(t['score'])}** |")
    return "\n".join(lines) + "\n"
