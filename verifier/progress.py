"""Progress properties under weak fairness, with lasso counterexamples.

A model declares (Model.eventually_finishes / eventually_fires / no_progress_cycle):

* `finishes`  thread T eventually finishes (reaches `done`);
* `fires`     step S of thread T eventually fires;
* `npc`       no cycle without progress: every infinite run fires one of the declared progress steps
              infinitely often (SPIN's non-progress cycles, with its progress labels).

Fairness is weak fairness of threads: a run in which a thread is enabled from some point on and never
moves again is not a run the kernel can make (the scheduler runs it; a spinning CPU does not stop
another from running). Each property is checked on the full reachable graph (no partial-order
reduction: ample sets preserve stuttering-equivalent runs but need a stronger cycle condition for
liveness than the breadth-first proviso gives, so the progress search is always unreduced and says so).

The check: restrict the graph to what the property forbids (states where T has not finished; edges
other than S; edges other than a progress step), keep what is reachable from the initial state, and
look for
  - a state where no thread can move (a finite maximal run; for `fires` only: for the other two a
    stuck state is a deadlock, which the safety search reports), or
  - a strongly connected component C with at least one edge that is *fair*: for every thread j, some
    edge of C is j's, or j is disabled (or finished) in some state of C. A walk through all of C is
    then a fair run that stays in the restriction forever, and if C fails the test for some j, every
    cycle inside C fails it too (j is enabled throughout and never moves), so the test is exact.
The counterexample is a lasso: the shortest prefix to C's first reached state, then a cycle from it
through one witness per thread (a step of j, or a state where j cannot move) back to it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .model import CompiledModel, ModelError

FINISHES, FIRES, NPC = "finishes", "fires", "npc"


@dataclass(frozen=True)
class ProgressProperty:
    name: str
    kind: str                  # FINISHES | FIRES | NPC
    thread: str = ""           # FINISHES, FIRES
    label: str = ""            # FIRES
    progress: tuple = ()       # NPC: ((thread, label), ...)
    doc: str = ""

    def describe(self) -> str:
        if self.kind == FINISHES:
            return f"thread {self.thread} eventually finishes"
        if self.kind == FIRES:
            return f"step {self.thread}.{self.label} eventually fires"
        steps = ", ".join(f"{t}.{lab}" for t, lab in self.progress)
        return f"no cycle without progress (progress steps: {steps})"


@dataclass
class Lasso:
    prop: ProgressProperty
    prefix: list               # [(thread index, state)] from the initial state
    cycle: list                # [(thread index, state)], ending where it starts; empty: a stuck state
    states: int
    edges: int


def validate(cm: CompiledModel, prop: ProgressProperty) -> None:
    names = cm.thread_names

    def step_of(thread: str, label: str) -> None:
        if thread not in names:
            raise ModelError(f"progress property {prop.name}: unknown thread {thread!r}")
        if not any(st.label == label for st in cm.threads[names.index(thread)].steps):
            raise ModelError(f"progress property {prop.name}: thread {thread} has no step {label!r}")

    if prop.kind == FINISHES:
        if prop.thread not in names:
            raise ModelError(f"progress property {prop.name}: unknown thread {prop.thread!r}")
    elif prop.kind == FIRES:
        step_of(prop.thread, prop.label)
    elif prop.kind == NPC:
        if not prop.progress:
            raise ModelError(f"progress property {prop.name}: no progress steps")
        for t, lab in prop.progress:
            step_of(t, lab)
    else:
        raise ModelError(f"progress property {prop.name}: unknown kind {prop.kind!r}")


class Graph:
    """The full reachable graph, built breadth-first in the explorer's order on the packed states of
    the model's PackedModel (whose step memos the safety search has filled), on integer ids: state
    i (0 the initial state) is `state(i)`, `succ[i]` its successors [(thread, step index, id)].

    With the compiled core (verifier/_core.pyx) the graph is recorded by the compiled unreduced
    search as arrays, and `violates(prop)` decides a property there; `succ` is then built only
    when a lasso is to be drawn (`decides` is True). Without it the graph is built here and every
    property goes through _check_one. Both give the same graph, ids and answers (tests/test_core.py)."""

    def __init__(self, cm: CompiledModel, max_states: int | None = None, core: str | None = None):
        from .explore import _compiled_core
        self.cm = cm
        self.pk = pk = cm.packed()
        self.complete = True
        self._succ = None
        cc = _compiled_core(core)
        self.decides = cc is not None
        if cc is not None:
            eng = self._eng = cc.Engine(pk)
            eng.record_graph()
            out = eng.run(pk.initial, max_states if max_states is not None else -1, -1, True,
                          lambda s: None, lambda transitions, depth: None)
            if out[0] == cc.BOUND_STATES:
                self.complete = False
            elif out[0] != cc.HOLDS:
                raise AssertionError(f"compiled core: the progress graph search gave {out!r}")
            self.n, self.edges = eng.graph_size()
            counts = eng.counts()
            self._counts = []
            e = 0
            for _, _, entries in pk.threads:
                self._counts.append(counts[e:e + len(entries) - 1])
                e += len(entries)
            return
        self._eng = None
        limit = max_states if max_states is not None else float("inf")
        init = pk.initial
        ids: dict = {init: 0}
        states = [init]
        succ: list = []
        n_edges = 0
        threads = [(ti, sh, m, entries) for ti, (sh, m, entries) in enumerate(pk.threads)]
        head = 0
        while head < len(states):
            s = states[head]
            head += 1
            out = []
            for ti, sh, m, entries in threads:
                pc = (s >> sh) & m
                e = entries[pc]
                if e is None:
                    continue
                outs = e[4](s & e[0])
                if outs is None:
                    outs = e[2](s)
                for clear, setb in outs:
                    n = (s & clear) | setb
                    j = ids.get(n)
                    if j is None:
                        if len(ids) >= limit:
                            self.complete = False
                            succ.append(out)
                            self._packed, self._succ, self.edges, self.n = states, succ, n_edges, len(states)
                            return
                        j = ids[n] = len(states)
                        states.append(n)
                    out.append((ti, pc, j))
            n_edges += len(out)
            succ.append(out)
        self._packed, self._succ, self.edges, self.n = states, succ, n_edges, len(states)

    def __len__(self) -> int:
        return self.n

    @property
    def succ(self) -> list:
        if self._succ is None:
            self._succ = self._eng.graph_edges()
        return self._succ

    def packed(self, i: int) -> int:
        return self._eng.store.state(i) if self._eng is not None else self._packed[i]

    def state(self, i: int):
        """State i as the model's state tuple."""
        return self.pk.unpack(self.packed(i))

    def pc(self, i: int, ti: int) -> int:
        sh, m, _ = self.pk.threads[ti]
        return (self.packed(i) >> sh) & m

    def enabled(self, i: int) -> frozenset:
        return frozenset(ti for ti, _, _ in self.succ[i])

    def step_counts(self) -> list:
        """Edges per step: counts[thread][step index] (the unreduced search's coverage)."""
        if self._eng is not None:
            return [list(c) for c in self._counts]
        counts = [[0] * len(t.steps) for t in self.cm.threads]
        for out in self._succ:
            for ti, pc, _ in out:
                counts[ti][pc] += 1
        return counts

    def violates(self, prop: "ProgressProperty") -> bool:
        """Whether `prop` has a counterexample (compiled core only: see `decides`)."""
        alive, banned = _restriction(self, prop, packed=True)
        ti, done = alive if alive is not None else (-1, -1)
        return self._eng.graph_violates(ti, done, banned, prop.kind == FIRES)


def check(cm: CompiledModel, props, max_states: int | None = None,
          core: str | None = None) -> tuple[Lasso | None, Graph]:
    """The first declared property with a counterexample (as a lasso), or None; and the graph."""
    g = Graph(cm, max_states, core)
    if not g.complete:
        return None, g
    for prop in props:
        if g.decides and not g.violates(prop):
            continue
        lasso = _check_one(g, prop)
        if lasso is not None:
            return lasso, g
        if g.decides:
            raise AssertionError(f"progress property {prop.name}: the compiled core found a "
                                 f"counterexample that the lasso search does not")
    return None, g


def _restriction(g: Graph, prop: ProgressProperty, packed: bool = False):
    """(alive, banned): which states the restriction keeps (None: all), and which (thread, step
    index) edges it drops. With `packed`, alive is (thread, done pc) instead of a list."""
    cm = g.cm
    names = cm.thread_names
    if prop.kind == FINISHES:
        ti = names.index(prop.thread)
        done = cm.done_pc[ti]
        if packed:
            return (ti, done), frozenset()
        return [g.pc(i, ti) != done for i in range(len(g))], frozenset()
    if prop.kind == FIRES:
        tt = names.index(prop.thread)
        idx = next(st.index for st in cm.threads[tt].steps if st.label == prop.label)
        return None, frozenset({(tt, idx)})
    marks = set()
    for t, lab in prop.progress:
        tt = names.index(t)
        marks.add((tt, next(st.index for st in cm.threads[tt].steps if st.label == lab)))
    return None, frozenset(marks)


def _check_one(g: Graph, prop: ProgressProperty) -> Lasso | None:
    cm = g.cm
    alive, banned = _restriction(g, prop)
    if alive is not None and not alive[0]:
        return None
    # the restricted reachable subgraph, breadth-first (parents give shortest prefixes)
    n_all = len(g)
    parent: list = [None] * n_all
    seen = bytearray(n_all)
    seen[0] = 1
    order = [0]
    adj: list = [None] * n_all
    succ = g.succ
    head = 0
    while head < len(order):
        s = order[head]
        head += 1
        if banned:
            out = [(ti, n) for ti, pc, n in succ[s] if (ti, pc) not in banned and (alive is None or alive[n])]
        elif alive is not None:
            out = [(ti, n) for ti, pc, n in succ[s] if alive[n]]
        else:
            out = [(ti, n) for ti, pc, n in succ[s]]
        adj[s] = out
        for ti, n in out:
            if not seen[n]:
                seen[n] = 1
                parent[n] = (s, ti)
                order.append(n)
    states = g
    if prop.kind == FIRES:
        for s in order:
            if not succ[s]:                         # nobody can move: the step never fired
                return Lasso(prop, _named(_prefix(parent, s), states), [], n_all, g.edges)
    rank = [0] * n_all
    for i, s in enumerate(order):
        rank[s] = i
    for comp in sorted(_sccs(order, adj, n_all), key=lambda c: min(rank[s] for s in c)):
        inside = set(comp)
        internal = [(s, ti, n) for s in comp for ti, n in adj[s] if n in inside]
        if not internal:
            continue
        witnesses = []
        for tj in range(len(cm.threads)):
            e = next(((s, n) for s, ti, n in internal if ti == tj), None)
            if e is not None:
                witnesses.append(("edge", tj, e))
                continue
            s = next((s for s in comp if tj not in g.enabled(s)), None)
            if s is None:
                break                               # tj enabled throughout, never moves: unfair
            witnesses.append(("state", tj, s))
        else:
            entry = min(comp, key=rank.__getitem__)
            return Lasso(prop, _named(_prefix(parent, entry), states),
                         _named(_cycle(entry, inside, adj, witnesses), states), n_all, g.edges)
    return None


def _named(path: list, g: Graph) -> list:
    """[(thread, id)] -> [(thread, state)]."""
    return [(ti, g.state(i)) for ti, i in path]


def _prefix(parent: dict, s) -> list:
    """The path to `s` through a parent map ({state: (predecessor, thread)}, None at the start),
    as [(thread, state)]."""
    out = []
    while parent[s] is not None:
        p, ti = parent[s]
        out.append((ti, s))
        s = p
    out.reverse()
    return out


def _walk(a, b, inside: set, adj: dict) -> list:
    """A shortest path a -> b inside the component, as [(thread, state)] (empty when a == b)."""
    if a == b:
        return []
    prev = {a: None}
    queue = deque([a])
    while queue:
        s = queue.popleft()
        for ti, n in adj[s]:
            if n in inside and n not in prev:
                prev[n] = (s, ti)
                if n == b:
                    return _prefix(prev, b)
                queue.append(n)
    raise AssertionError("states of one strongly connected component are mutually reachable")


def _cycle(entry, inside: set, adj: dict, witnesses: list) -> list:
    """From `entry` through every witness (a thread's step, or a state where it cannot move) and back
    to `entry`, with at least one step."""
    path = []
    at = entry
    for kind, tj, w in witnesses:
        if kind == "edge":
            s, n = w
            path += _walk(at, s, inside, adj)
            path.append((tj, n))
            at = n
        else:
            path += _walk(at, w, inside, adj)
            at = w
    path += _walk(at, entry, inside, adj)
    if not path:                                    # every witness was `entry` itself: one lap
        ti, n = next((ti, n) for ti, n in adj[entry] if n in inside)
        path = [(ti, n)] + _walk(n, entry, inside, adj)
    return path


def _sccs(order: list, adj: list, n: int) -> list:
    """Tarjan's strongly connected components of the states in `order` (ids below n), iteratively
    (no recursion limit)."""
    index = [-1] * n
    low = [0] * n
    on_stack = bytearray(n)
    stack: list = []
    out = []
    counter = 0
    for root in order:
        if index[root] >= 0:
            continue
        work = [(root, iter(adj[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        while work:
            v, it = work[-1]
            advanced = False
            for _, w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = 1
                    work.append((w, iter(adj[w])))
                    advanced = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out
