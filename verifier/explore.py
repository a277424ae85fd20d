"""Exhaustive breadth-first exploration of every interleaving of a model's threads.

Breadth-first, so the first violation found has a shortest trace (with reduction: shortest in the
reduced graph; `shortest=True` then re-searches without reduction up to that depth, so the printed
trace is a shortest one of the full graph). The visited store keys on the full state, not a
fingerprint, so no state is ever lost to a hash collision. Invariants are checked on every new state;
a state with no enabled step is terminal: a deadlock if some thread has not finished, otherwise the
final predicates are checked. A search cut short by `max_states`, `max_seconds` or `max_depth` ends
in verdict "incomplete", never "holds". Threads are tried in declaration order and outcomes of a
step in the order the model lists them, so the same input gives the same trace.

Coverage (`coverage=True`, unreduced search only): how many transitions each step fired. It is
counted by wrapping the per-step successor functions, so the hot loop itself is the same with or
without it and costs nothing when coverage is not asked for. It needs the full search: partial-order
reduction may legitimately fire an independent step in one order only, or not at all in a state
where another thread's step is chosen, so counts under reduction would not say what the model does.
"""

from __future__ import annotations

import itertools
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from .model import CompiledModel, ModelError
from .reduce import Reducer

HOLDS, VIOLATED, INCOMPLETE = "holds", "violated", "incomplete"
DEADLOCK = "deadlock"


@dataclass
class Stats:
    states: int = 0
    transitions: int = 0
    max_depth: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    reduced_expansions: int = 0       # states expanded through one thread's step only (ample set)
    reduction_used: bool = False      # reduction asked for and some step of the model can reduce
    progress_states: int = 0          # states of the full graph the progress properties were checked on
    symmetry_used: bool = False       # states stored as representatives of their symmetry orbits

    @property
    def states_per_s(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float(self.states)

    def to_json(self) -> dict:
        return {"states": self.states, "transitions": self.transitions, "max_depth": self.max_depth,
                "seconds": round(self.seconds, 4), "states_per_s": round(self.states_per_s),
                "peak_rss_mb": round(self.peak_rss_mb, 1)}


@dataclass
class Result:
    model: CompiledModel
    verdict: str
    reduction: bool
    stats: Stats
    kind: str | None = None           # "invariant" | "deadlock" | "final" | "progress"
    invariant: str | None = None      # name of what broke ("deadlock" for a deadlock)
    path: list = field(default_factory=list)   # [(thread index, state after)], from the initial state
    bound: str | None = None          # which bound made the search incomplete
    trace_note: str = ""
    cycle_start: int | None = None    # progress: path[cycle_start:] is the cycle that repeats forever
    coverage: "Coverage | None" = None  # with explore(coverage=True): transitions fired per step
    full_coverage: "Coverage | None" = None  # from the progress check's full graph, when it ran
    fingerprints: dict | None = None  # with explore(fingerprints=BITS): bits, omission_probability

    @property
    def states_in_trace(self) -> list:
        return [self.model.initial] + [s for _, s in self.path]


def unreached_outcomes(result: Result) -> list[str]:
    """The model's reachable outcomes (`Model.reachable`) that no terminal state of `result`'s
    search met. Meaningful for a complete search that visited every terminal state: a holding,
    unreduced one without symmetry (a reduced or symmetry-reduced search may stand one terminal
    state for another: callers re-search unreduced, as for race coverage)."""
    cm = result.model
    return [w.name for w in getattr(cm, "witnesses", ()) if w.name not in cm.witnessed]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Coverage:
    """Transitions fired per step of each thread during an unreduced search. `counts[ti][pc]` is the
    number of transitions of thread `ti`'s step at index `pc` (into new or already seen states).
    A search that stops at a violation or a bound has counted only what it explored."""

    def __init__(self, cm: CompiledModel):
        self.model = cm
        self.counts = [[0] * len(t.steps) for t in cm.threads]
        self.complete = False         # the search explored every reachable state

    def counting(self, fires: list) -> list:
        """The successor-function table `fires[ti][pc]` with every function wrapped to count."""
        def wrap(f, row, pc):
            def fire(s):
                out = f(s)
                row[pc] += len(out)
                return out
            return fire
        return [tuple(None if f is None else wrap(f, self.counts[ti], pc) for pc, f in enumerate(table))
                for ti, table in enumerate(fires)]

    def steps(self):
        """(thread name, step label, transitions fired) in thread and step order."""
        for ti, t in enumerate(self.model.threads):
            for st in t.steps:
                yield t.name, st.label, self.counts[ti][st.index]

    def fired(self, thread: str, label: str) -> int:
        ti = self.model.thread_names.index(thread)
        st = next(st for st in self.model.threads[ti].steps if st.label == label)
        return self.counts[ti][st.index]

    def never_fired(self) -> list:
        """(thread, label) of the steps no explored transition fired."""
        return [(t, lab) for t, lab, n in self.steps() if n == 0]

    def to_json(self) -> dict:
        return {"complete": self.complete,
                "threads": [{"name": t.name,
                             "steps": [{"label": st.label, "fired": self.counts[ti][st.index]}
                                       for st in t.steps]}
                            for ti, t in enumerate(self.model.threads)],
                "never_fired": [f"{t}.{lab}" for t, lab in self.never_fired()]}


class _Bound(Exception):
    def __init__(self, which: str):
        self.which = which


def explore(cm: CompiledModel, *, reduction: bool = True, max_states: int | None = None,
            max_seconds: float | None = None, max_depth: int | None = None, shortest: bool = True,
            progress: Callable[[Stats], None] | None = None, graph: bool = False,
            coverage: bool = False, packed: bool = True, reset_dead: bool = False,
            fingerprints: int | None = None, core: str | None = None,
            symmetry: bool = False) -> Result:
    """Explore `cm`; return the verdict with statistics and, on a violation, the path to it.

    With `graph=True` the result carries `edges` (state, thread index, state) for DOT export; with
    `coverage=True` (only without reduction) `coverage`, the transitions fired per step.
    Without `graph` the search runs on packed states (verifier/packed.py); `packed=False` runs the
    same search on tuple states (the reference the tests compare it with), reduced or not.
    `reset_dead=True` explores `cm.with_dead_reset()` (dead-variable reduction; the result's model
    is that one, so the trace shows the resets).
    `fingerprints=BITS` (unreduced only) stores a BITS-bit fingerprint of each state instead of the
    state (see `_fingerprint_search`): a "holds" is then probabilistic, with the bound on the
    probability that a state was omitted in `result.fingerprints`.
    `core` chooses who runs the packed searches: "compiled" (verifier/_core.pyx), "python" (the
    loops below), or None: the compiled core where it was built, unless PTEVERIFY_CORE=python
    (verifier/core.py). Both give the same result.
    `symmetry=True` stores one representative per orbit of the model's declared symmetric thread
    groups (verifier/symmetry.py; nothing changes for a model that declares none); the trace is
    replayed from the real initial state."""
    if reset_dead:
        cm = cm.with_dead_reset()
    cm.witnessed = set()          # the reachable outcomes (Model.reachable) this search's terminal states meet
    sym = cm.symmetry if symmetry else None
    if sym is not None:
        if fingerprints is not None or coverage:
            raise ValueError("symmetry reduction is for the exact search without coverage")
        from .symmetry import validate
        validate(cm)
    if fingerprints is not None:
        if reduction or coverage or graph:
            raise ValueError("fingerprints are for the plain unreduced search")
        if cm.progress:
            raise ModelError("--fingerprints checks safety only, and this model declares progress "
                             "properties (they need the full graph): run without --fingerprints")
        return _fingerprint_search(cm, fingerprints, max_states, max_seconds, max_depth, progress)
    if coverage and reduction:
        raise ValueError("coverage is counted on the unreduced search: pass reduction=False")
    cov = Coverage(cm) if coverage else None
    t0 = time.perf_counter()
    stats = Stats()
    parent: dict = {cm.initial: None}
    edges: list | None = [] if graph else None
    result = None
    pk = None
    red = Reducer(cm) if reduction else None
    stats.reduction_used = red is not None and red.useful
    stats.symmetry_used = sym is not None
    canon = canon_t = None
    try:
        if graph or not packed:
            # the tuple search, which records the edges
            if sym is not None:
                canon_t = sym.tuple_canon(cm.packed())
                parent = {canon_t(cm.initial): None}
            result = _bfs_full(cm, parent, stats, t0, max_states, max_seconds, max_depth, progress, edges,
                               cov, red=red if stats.reduction_used else None, canon=canon_t)
        else:
            pk = cm.packed()
            cc = _compiled_core(core)
            if cc is not None:
                # the compiled core calls `canon` on every successor (and the initial state) before
                # the visited lookup, and in the reduced search's proviso, as the Python loops do
                eng = cc.Engine(pk, sym.packed_canon(pk) if sym is not None else None)
                parent = eng.store
                result = _bfs_compiled(cm, pk, eng, red if stats.reduction_used else None, stats, t0,
                                       max_states, max_seconds, max_depth, progress, cov)
            else:
                init = pk.initial
                if sym is not None:
                    canon = sym.packed_canon(pk)
                    init = canon(init)
                parent = {init: None}
                if stats.reduction_used:
                    result = _bfs_reduced_packed(cm, red, pk, parent, stats, t0, max_states, max_seconds,
                                                 max_depth, progress, canon)
                else:
                    result = _bfs_packed(cm, pk, parent, stats, t0, max_states, max_seconds, max_depth,
                                         progress, cov, canon)
    except _Bound as b:
        result = Result(cm, INCOMPLETE, reduction, stats, bound=b.which)
    if result.verdict == HOLDS and cm.progress:
        result = _progress(cm, result, stats, max_states, reduction, core)
    if cov is not None:
        cov.complete = result.verdict == HOLDS
        result.coverage = cov
    stats.states = len(parent)
    stats.seconds = time.perf_counter() - t0
    stats.peak_rss_mb = _peak_rss_mb()
    result.stats = stats
    result.reduction = reduction
    if result.verdict == VIOLATED and result.kind == "progress":
        pass                                     # the lasso is the path already
    elif result.verdict == VIOLATED:
        if pk is not None:
            states = []
            s = result._bad
            while s is not None:
                states.append(s)
                s = parent[s]
            states = [pk.unpack(x) for x in reversed(states)]
        else:
            states = []
            s = result._bad
            while s is not None:
                states.append(s)
                s = parent[s]
            states.reverse()
        if sym is not None:
            from .symmetry import decanonicalise
            result.path = decanonicalise(cm, canon_t or sym.tuple_canon(cm.packed()), states)
        else:
            result.path = _path_through(cm, states)
        if stats.reduction_used and shortest and result.path:
            _shorten(cm, result, max_seconds)
    if graph:
        result.edges = edges
        result.parent = parent
    return result


def _progress(cm, result, stats, max_states, reduction, core=None) -> Result:
    """Safety holds: check the progress properties on the full graph (verifier/progress.py)."""
    from .progress import check
    lasso, g = check(cm, cm.progress, max_states, core)
    stats.progress_states = len(g)
    if g.complete:
        # the progress graph is the full reachable graph: it counts every step's transitions, so a
        # caller that needs unreduced coverage (check's race steps) need not search again
        full = Coverage(cm)
        full.counts = g.step_counts()
        full.complete = True
        result.full_coverage = full
    note = f"progress properties checked on the full graph ({len(g)} states, no reduction)"
    if not g.complete:
        r = Result(cm, INCOMPLETE, reduction, stats, bound="max_states")
        r.trace_note = note
        return r
    if lasso is None:
        result.trace_note = note
        return result
    r = Result(cm, VIOLATED, reduction, stats, kind="progress", invariant=lasso.prop.name,
               path=lasso.prefix + lasso.cycle)
    r.cycle_start = len(lasso.prefix)
    r.lasso = lasso
    r.trace_note = note
    return r


def _violation(cm, reduction, stats, kind, name, bad) -> Result:
    r = Result(cm, VIOLATED, reduction, stats, kind=kind, invariant=name)
    r._bad = bad
    return r


def _path(cm: CompiledModel, parent: dict, s) -> list:
    """The path from the initial state to `s`, as (thread index, state) pairs. The parent store
    keeps only the predecessor; the thread is found again by firing each thread from it."""
    states = []
    while s is not None:
        states.append(s)
        s = parent[s]
    states.reverse()
    return _path_through(cm, states)


def _path_through(cm: CompiledModel, states: list) -> list:
    out = []
    for prev, nxt in zip(states, states[1:]):
        ti = next(ti for ti in range(len(cm.threads)) if nxt in cm.fire(ti, prev))
        out.append((ti, nxt))
    return out


def _shorten(cm: CompiledModel, result: Result, max_seconds: float | None) -> None:
    """Replace a reduced-search trace by a shortest one: an unreduced search to the same depth
    must find a violation at that depth or earlier (the reduced trace is a witness)."""
    depth = len(result.path)
    full = explore(cm, reduction=False, max_depth=depth, max_seconds=max_seconds, shortest=False)
    if full.verdict == VIOLATED and len(full.path) <= depth:
        result.path = full.path
        result.kind, result.invariant = full.kind, full.invariant
        result.trace_note = f"shortest trace: confirmed by an unreduced search to depth {depth}"
    else:
        result.trace_note = "trace from the reduced search (the unreduced re-search was cut short)"


def _check_new(cm, reduction, stats, s):
    inv = cm.check_invariants(s)
    if inv is not None:
        return _violation(cm, reduction, stats, "invariant", inv.name, s)
    return None


def _terminal(cm, reduction, stats, s):
    if not cm.all_done(s):
        return _violation(cm, reduction, stats, "deadlock", DEADLOCK, s)
    inv = cm.check_finals(s)
    if inv is not None:
        return _violation(cm, reduction, stats, "final", inv.name, s)
    return None


def _invariant_broken(cm, reduction, stats, frontier, start, bad, name, depth, unpack=None):
    """Invariant `name` broke in state `bad`, at depth + 1. A terminal state of the level being
    expanded that breaks something (a deadlock, a final predicate) has a shorter trace: it is
    reported instead, so the first violation reported is a shortest one whatever its kind."""
    threads = range(len(cm.threads))
    pk = getattr(unpack, "__self__", None)          # packed states: ask the steps' memos
    for s in itertools.islice(frontier, start, None):
        if pk is not None:
            if _enabled_packed(pk, s):
                continue
            st = unpack(s)
        else:
            st = unpack(s) if unpack is not None else s
            if any(cm.fire(ti, st) for ti in threads):
                continue
        found = _terminal(cm, reduction, stats, st)
        if found:
            found._bad = s
            stats.max_depth = depth
            return found
    stats.max_depth = depth + 1
    return _violation(cm, reduction, stats, "invariant", name, bad)


def _enabled_packed(pk, s: int) -> bool:
    """Whether some thread can move at packed state `s` (its step's outcomes, from the memo)."""
    for sh, m, entries in pk.threads:
        e = entries[(s >> sh) & m]
        if e is None:
            continue
        outs = e[4](s & e[0])
        if outs is None:
            outs = e[2](s)
        if outs:
            return True
    return False


def _checkpoint(stats, transitions, depth, parent, limit, t0, max_seconds, progress):
    """Every 4096 expansions, or once the state bound is passed: bounds, then the progress line."""
    stats.transitions = transitions
    stats.max_depth = depth
    if len(parent) > limit:
        raise _Bound("max_states")
    now = time.perf_counter()
    if max_seconds is not None and now - t0 > max_seconds:
        raise _Bound("max_seconds")
    if progress is not None:
        stats.states = len(parent)
        stats.seconds = now - t0
        progress(stats)


def _bfs_full(cm, parent, stats, t0, max_states, max_seconds, max_depth, progress, edges, cov=None,
              red=None, canon=None):
    """The search on tuple states: the reference the packed searches are held to, and the one that
    records edges for graphs. Coverage swaps in counting successor functions; with `red` (a
    Reducer that `useful`), a state is expanded through one thread's step when that step forms an
    ample set (see reduce.py), and fully otherwise."""
    reduced = red is not None
    init = cm.initial if canon is None else canon(cm.initial)
    bad = _check_new(cm, reduced, stats, init)
    if bad:
        return bad
    fires = cm._fire if cov is None else cov.counting(cm._fire)
    pcs = list(enumerate(cm.pc_index))
    ample = _ample_chooser(red, fires, pcs, parent, stats, canon) if reduced else None
    has_inv = bool(cm.invariants)
    check_inv = cm.check_invariants
    limit = max_states if max_states is not None else float("inf")
    frontier = [init]
    depth = 0
    transitions = 0
    expanded = 0
    while frontier:
        if max_depth is not None and depth > max_depth:
            stats.transitions = transitions
            stats.max_depth = depth
            raise _Bound("max_depth")
        nxt = []
        append = nxt.append
        for i, s in enumerate(frontier):
            groups = ample(s) if ample is not None else None
            if groups is None:
                # lazily: a thread is fired (and counted for coverage) only once the ones before it
                # are done, as in the packed search
                groups = ((ti, f(s)) for ti, pci in pcs if (f := fires[ti][s[pci]]) is not None)
            enabled = False
            for ti, outs in groups:
                for n in outs:
                    enabled = True
                    transitions += 1
                    if canon is not None:
                        n = canon(n)
                    if edges is not None:
                        edges.append((s, ti, n))
                    if n in parent:
                        continue
                    if len(parent) >= limit:
                        raise _Bound("max_states")
                    parent[n] = s
                    if has_inv:
                        broken = check_inv(n)
                        if broken is not None:
                            stats.transitions = transitions
                            return _invariant_broken(cm, reduced, stats, frontier, i + 1, n, broken.name,
                                                     depth)
                    append(n)
            if not enabled:
                bad = _terminal(cm, reduced, stats, s)
                if bad:
                    stats.transitions = transitions
                    stats.max_depth = depth
                    return bad
            expanded += 1
            if not expanded & 0xFFF or len(parent) > limit:
                _checkpoint(stats, transitions, depth, parent, limit, t0, max_seconds, progress)
        frontier = nxt
        if frontier:
            depth += 1
    stats.transitions = transitions
    stats.max_depth = depth
    return Result(cm, HOLDS, reduced, stats)


def _ample_chooser(red, fires, pcs, parent, stats, canon=None):
    """`ample(s)`: ((thread, successors),) for the first thread whose step forms an ample set at `s`
    (C0-C3 of reduce.py, in thread order, so the choice is deterministic), or None: expand fully."""
    # threads that have a step able to form an ample set, each with the other threads' pc slots
    cands = [(ti, pci, red.compatible[ti], [(tj, pcj) for tj, pcj in pcs if tj != ti])
             for ti, pci in pcs if any(c is not None for c in red.compatible[ti])]

    def ample(s):
        for ti, pci, compatible, others in cands:
            comp = compatible[s[pci]]
            if comp is None:
                continue
            for tj, pcj in others:                   # C1: independent of their futures
                if not (comp[tj] >> s[pcj]) & 1:
                    break
            else:                                    # C2 holds by construction of `compatible`
                outs = fires[ti][s[pci]](s)
                # C0: enabled; C3 (breadth-first proviso): every successor undiscovered
                if outs and all((n if canon is None else canon(n)) not in parent for n in outs):
                    stats.reduced_expansions += 1
                    return ((ti, outs),)
        return None

    return ample


def _bfs_packed(cm, pk, parent, stats, t0, max_states, max_seconds, max_depth, progress, cov=None,
                canon=None):
    """The unreduced search over packed states (verifier/packed.py): the same states in the same
    order as _bfs_full, with memoised steps and invariants. The hot loop of the explorer. Coverage
    is counted per step entry (entry[3]) only when asked for."""
    counting = cov is not None
    if counting:
        for _, e in pk._entries:
            e[3] = 0
    try:
        return _bfs_packed_loop(cm, pk, parent, stats, t0, max_states, max_seconds, max_depth, progress,
                                counting, canon)
    finally:
        if counting:
            for sc, e in pk._entries:
                cov.counts[sc.ti][sc.step.index] = e[3]


def _bfs_packed_loop(cm, pk, parent, stats, t0, max_states, max_seconds, max_depth, progress, counting,
                     canon=None):
    init = pk.initial if canon is None else canon(pk.initial)
    inv = pk.inv
    has_inv = bool(cm.invariants)
    inv_miss = pk.inv_miss
    inv_get = inv[1].get
    if has_inv:
        ok = inv_miss(init)
        if ok is not True:
            return _violation(cm, False, stats, "invariant", ok.name, init)
    threads = pk.threads
    pc_mask, done_bits = pk.pc_mask, pk.done_bits
    limit = max_states if max_states is not None else sys.maxsize
    frontier = [init]
    depth = 0
    transitions = 0
    expanded = 0
    while frontier:
        if max_depth is not None and depth > max_depth:
            stats.transitions = transitions
            stats.max_depth = depth
            raise _Bound("max_depth")
        nxt = []
        append = nxt.append
        for i, s in enumerate(frontier):
            before = transitions
            for sh, m, entries in threads:
                e = entries[(s >> sh) & m]
                if e is None:
                    continue
                outs = e[4](s & e[0])
                if outs is None:
                    outs = e[2](s)
                if not outs:
                    continue
                transitions += len(outs)
                if counting:
                    e[3] += len(outs)
                for out in outs:
                    n = (s & out[0]) | out[1]
                    if canon is not None:
                        n = canon(n)
                    if n in parent:
                        continue
                    if len(parent) >= limit:
                        raise _Bound("max_states")
                    parent[n] = s
                    if has_inv:
                        ok = inv_get(n & inv[0])
                        if ok is None:
                            ok = inv_miss(n)
                        if ok is not True:
                            # transitions up to this one, as the tuple search counts them
                            stats.transitions = transitions - len(outs) + outs.index(out) + 1
                            return _invariant_broken(cm, False, stats, frontier, i + 1, n, ok.name, depth,
                                                     pk.unpack)
                    append(n)
            if transitions == before:
                if (s & pc_mask) != done_bits:
                    bad = _violation(cm, False, stats, "deadlock", DEADLOCK, s)
                else:
                    bad = _terminal(cm, False, stats, pk.unpack(s))
                    if bad:
                        bad._bad = s
                if bad:
                    stats.transitions = transitions
                    stats.max_depth = depth
                    return bad
            expanded += 1
            if not expanded & 0xFFF or len(parent) > limit:
                _checkpoint(stats, transitions, depth, parent, limit, t0, max_seconds, progress)
        frontier = nxt
        if frontier:
            depth += 1
    stats.transitions = transitions
    stats.max_depth = depth
    return Result(cm, HOLDS, False, stats)


def _compiled_core(core: str | None):
    """The compiled core module to run the packed search with, or None for the Python loops."""
    from . import core as which
    if core is None:
        return which.compiled()
    if core == "python":
        return None
    if core == "compiled":
        if which._core is None:
            raise ModelError(f"the compiled core is not available ({which.why_not})")
        return which._core
    raise ValueError(f"core: {core!r} is not 'compiled' or 'python'")


def _bfs_compiled(cm, pk, eng, red, stats, t0, max_states, max_seconds, max_depth, progress, cov):
    """_bfs_packed_loop (red None) or _bfs_reduced_packed (red a useful Reducer), run by the
    compiled core (verifier/_core.pyx): the same states in the same order, the same counts, the
    same verdicts. `eng.store` is the parent map."""
    cc = __import__(type(eng).__module__, fromlist=["x"])
    reduced = red is not None
    if reduced:
        eng.set_reduction(red)
    store = eng.store
    limit = max_states if max_states is not None else sys.maxsize

    def terminal(s):
        bad = _terminal(cm, reduced, stats, pk.unpack(s))
        if bad:
            bad._bad = s
        return bad

    def checkpoint(transitions, depth):
        _checkpoint(stats, transitions, depth, store, limit, t0, max_seconds, progress)

    counting = cov is not None
    try:
        out = eng.run(pk.initial, max_states if max_states is not None else -1,
                      max_depth if max_depth is not None else -1, counting, terminal, checkpoint)
    finally:
        stats.reduced_expansions += eng.reduced_expansions
        if counting:
            counts = eng.counts()
            e = 0
            for sh, m, entries in pk.threads:
                for ent in entries:
                    if ent is not None:
                        ent[3] = counts[e]
                    e += 1
            for sc, ent in pk._entries:
                cov.counts[sc.ti][sc.step.index] = ent[3]
    what = out[0]
    if what == cc.HOLDS:
        stats.transitions, stats.max_depth = out[1], out[2]
        return Result(cm, HOLDS, reduced, stats)
    if what == cc.INVARIANT:
        _, j, bad_i, at, transitions, depth, level_end = out
        name = cm.invariants[j].name
        if at < 0:                                   # the initial state
            return _violation(cm, reduced, stats, "invariant", name, store.state(bad_i))
        stats.transitions = transitions
        # the rest of the level being expanded (store indices at+1 .. level_end-1)
        rest = store.states_between(at + 1, level_end)
        return _invariant_broken(cm, reduced, stats, rest, 0, store.state(bad_i), name, depth, pk.unpack)
    if what == cc.DEADLOCK:
        _, i, transitions, depth = out
        stats.transitions, stats.max_depth = transitions, depth
        return _violation(cm, reduced, stats, "deadlock", DEADLOCK, store.state(i))
    if what == cc.TERMINAL:
        _, bad, i, transitions, depth = out
        stats.transitions, stats.max_depth = transitions, depth
        return bad
    if what == cc.BOUND_STATES:
        raise _Bound("max_states")
    if what == cc.BOUND_DEPTH:
        stats.transitions, stats.max_depth = out[1], out[2]
        raise _Bound("max_depth")
    raise AssertionError(f"compiled core: unknown outcome {out!r}")


FINGERPRINT_BITS = range(16, 129)
_FP_WIDTH = 2048                       # packed states up to this many bits are fingerprinted
# a fixed odd multiplier of _FP_WIDTH + 128 bits (from a fixed seed, so runs are reproducible)
_FP_MULT = int.from_bytes(__import__("hashlib").shake_256(b"pteverify fingerprints").digest(
    (_FP_WIDTH + 128) // 8), "little") | 1


def _fingerprint_search(cm, bits, max_states, max_seconds, max_depth, progress) -> Result:
    """The unreduced search storing only a `bits`-bit fingerprint of each packed state (as SPIN's
    hash-compact and TLC's fingerprint sets do): h(s) = (a * s mod 2^(W + bits)) >> W, Dietzfelbinger's
    multiply-shift hash, for which two distinct states collide with probability at most 2 / 2^bits
    over the choice of the odd multiplier a. A collision can only make the search skip a state, so a
    violation is real; a "holds" comes with the bound n(n-1) / 2^bits on the probability that some
    state of the n visited was omitted (a union bound over the pairs), computed from the state count.
    This build uses one fixed multiplier, so the same input gives the same run. There are no parent
    links: a violation's shortest trace comes from an exact search to the depth it was found at."""
    if bits not in FINGERPRINT_BITS:
        raise ValueError(f"fingerprints: {bits} bits is not in {FINGERPRINT_BITS.start}..{FINGERPRINT_BITS.stop - 1}")
    t0 = time.perf_counter()
    stats = Stats()
    pk = cm.packed()
    shift = _FP_WIDTH
    mask = (1 << (_FP_WIDTH + bits)) - 1
    a = _FP_MULT & mask
    init = pk.initial
    seen = {((init * a) & mask) >> shift}
    inv, inv_miss = pk.inv, pk.inv_miss
    inv_get = inv[1].get
    has_inv = bool(cm.invariants)
    threads = pk.threads
    pc_mask, done_bits = pk.pc_mask, pk.done_bits
    limit = max_states if max_states is not None else sys.maxsize
    frontier = [init]
    depth = transitions = expanded = 0
    bad = None
    try:
        if has_inv and inv_miss(init) is not True:
            bad = (0, init)
        while frontier and bad is None:
            if max_depth is not None and depth > max_depth:
                raise _Bound("max_depth")
            if pk.top > _FP_WIDTH:      # checked per level: a field widens at most a few times
                raise ModelError(f"--fingerprints: this model's states need more than {_FP_WIDTH} bits")
            nxt = []
            for s in frontier:
                before = transitions
                for sh, m, entries in threads:
                    e = entries[(s >> sh) & m]
                    if e is None:
                        continue
                    outs = e[4](s & e[0])
                    if outs is None:
                        outs = e[2](s)
                    transitions += len(outs)
                    for out in outs:
                        n = (s & out[0]) | out[1]
                        fp = ((n * a) & mask) >> shift
                        if fp in seen:
                            continue
                        if len(seen) >= limit:
                            raise _Bound("max_states")
                        seen.add(fp)
                        if has_inv:
                            ok = inv_get(n & inv[0])
                            if ok is None:
                                ok = inv_miss(n)
                            if ok is not True:
                                bad = (depth + 1, n)
                                break
                        nxt.append(n)
                    if bad:
                        break
                if bad:
                    break
                if transitions == before and ((s & pc_mask) != done_bits
                                              or _terminal(cm, False, stats, pk.unpack(s))):
                    bad = (depth, s)
                    break
                expanded += 1
                if not expanded & 0xFFF or len(seen) > limit:
                    _checkpoint(stats, transitions, depth, seen, limit, t0, max_seconds, progress)
            frontier = nxt
            if frontier and bad is None:
                depth += 1
    except _Bound as b:
        result = Result(cm, INCOMPLETE, False, stats, bound=b.which)
    else:
        if bad is None:
            result = Result(cm, HOLDS, False, stats)
        else:
            # a real violation at depth bad[0]: an exact search to that depth finds a shortest trace
            result = explore(cm, reduction=False, max_depth=bad[0], max_seconds=max_seconds)
            if result.verdict != VIOLATED:       # cannot happen unless the exact search was cut short
                result = Result(cm, INCOMPLETE, False, stats, bound=result.bound or "max_seconds")
            else:
                result.trace_note = f"trace from an exact search to depth {bad[0]}"
    n = len(seen)
    stats.states = n
    stats.transitions = transitions
    stats.max_depth = depth
    stats.seconds = time.perf_counter() - t0
    stats.peak_rss_mb = _peak_rss_mb()
    result.stats = stats
    result.reduction = False
    result.fingerprints = {"bits": bits, "omission_probability": min(1.0, n * (n - 1) / 2.0 ** bits)}
    return result


def _bfs_reduced_packed(cm, red, pk, parent, stats, t0, max_states, max_seconds, max_depth, progress,
                        canon=None):
    """The reduced _bfs_full over packed states with memoised steps: the same states in the same order (the
    random-model differential test holds the two together). Program counters are the lowest bits
    of a packed state, and a pc's code is the pc itself."""
    init = pk.initial if canon is None else canon(pk.initial)
    inv = pk.inv
    has_inv = bool(cm.invariants)
    inv_miss = pk.inv_miss
    inv_get = inv[1].get
    if has_inv:
        ok = inv_miss(init)
        if ok is not True:
            return _violation(cm, True, stats, "invariant", ok.name, init)
    threads = list(enumerate(pk.threads))
    cands = [(ti, sh, m, entries, red.compatible[ti],
              [(tj, shj, mj) for tj, (shj, mj, _) in threads if tj != ti])
             for ti, (sh, m, entries) in threads if any(c is not None for c in red.compatible[ti])]
    pc_mask, done_bits = pk.pc_mask, pk.done_bits
    limit = max_states if max_states is not None else sys.maxsize
    frontier = [init]
    depth = 0
    transitions = 0
    expanded = 0
    while frontier:
        if max_depth is not None and depth > max_depth:
            stats.transitions = transitions
            stats.max_depth = depth
            raise _Bound("max_depth")
        nxt = []
        append = nxt.append
        for i, s in enumerate(frontier):
            groups = None
            for ti, sh, m, entries, compatible, others in cands:
                pc = (s >> sh) & m
                comp = compatible[pc]
                if comp is None:
                    continue
                for tj, shj, mj in others:               # C1: independent of their futures
                    if not (comp[tj] >> ((s >> shj) & mj)) & 1:
                        break
                else:                                    # C2 holds by construction of `compatible`
                    e = entries[pc]
                    outs = e[4](s & e[0])
                    if outs is None:
                        outs = e[2](s)
                    # C0: enabled; C3 (breadth-first proviso): every successor undiscovered
                    if outs and all((((s & clear) | setb) if canon is None else canon((s & clear) | setb))
                                    not in parent for clear, setb in outs):
                        groups = (outs,)
                        stats.reduced_expansions += 1
                        break
            if groups is None:
                groups = []
                for _, (sh, m, entries) in threads:
                    e = entries[(s >> sh) & m]
                    if e is not None:
                        outs = e[4](s & e[0])
                        if outs is None:
                            outs = e[2](s)
                        if outs:
                            groups.append(outs)
                if not groups:
                    if (s & pc_mask) != done_bits:
                        bad = _violation(cm, True, stats, "deadlock", DEADLOCK, s)
                    else:
                        bad = _terminal(cm, True, stats, pk.unpack(s))
                        if bad:
                            bad._bad = s
                    if bad:
                        stats.transitions = transitions
                        stats.max_depth = depth
                        return bad
            for outs in groups:
                for clear, setb in outs:
                    n = (s & clear) | setb
                    if canon is not None:
                        n = canon(n)
                    transitions += 1
                    if n in parent:
                        continue
                    if len(parent) >= limit:
                        raise _Bound("max_states")
                    parent[n] = s
                    if has_inv:
                        ok = inv_get(n & inv[0])
                        if ok is None:
                            ok = inv_miss(n)
                        if ok is not True:
                            stats.transitions = transitions
                            return _invariant_broken(cm, True, stats, frontier, i + 1, n, ok.name, depth,
                                                     pk.unpack)
                    append(n)
            expanded += 1
            if not expanded & 0xFFF or len(parent) > limit:
                _checkpoint(stats, transitions, depth, parent, limit, t0, max_seconds, progress)
        frontier = nxt
        if frontier:
            depth += 1
    stats.transitions = transitions
    stats.max_depth = depth
    return Result(cm, HOLDS, True, stats)
