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
    """The full reachable graph: for each state its successors [(thread, step index, state)] and the
    set of threads enabled there. Built breadth-first, in the explorer's order."""

    def __init__(self, cm: CompiledModel, max_states: int | None = None):
        self.cm = cm
        limit = max_states if max_states is not None else float("inf")
        succ: dict = {cm.initial: None}
        order = [cm.initial]
        head = 0
        n_edges = 0
        self.complete = True
        while head < len(order):
            s = order[head]
            head += 1
            out = []
            for ti, pci in enumerate(cm.pc_index):
                pc = s[pci]
                f = cm._fire[ti][pc]
                if f is None:
                    continue
                for n in f(s):
                    out.append((ti, pc, n))
                    if n not in succ:
                        if len(succ) >= limit:
                            self.complete = False
                            succ[s] = out
                            self.succ, self.order, self.edges = succ, order, n_edges
                            return
                        succ[n] = None
                        order.append(n)
            n_edges += len(out)
            succ[s] = out
        self.succ, self.order, self.edges = succ, order, n_edges

    def enabled(self, s) -> frozenset:
        return frozenset(ti for ti, _, _ in self.succ[s] or ())


def check(cm: CompiledModel, props, max_states: int | None = None) -> tuple[Lasso | None, Graph]:
    """The first declared property with a counterexample (as a lasso), or None; and the graph."""
    g = Graph(cm, max_states)
    if not g.complete:
        return None, g
    for prop in props:
        lasso = _check_one(g, prop)
        if lasso is not None:
            return lasso, g
    return None, g


def _restriction(g: Graph, prop: ProgressProperty):
    cm = g.cm
    names = cm.thread_names
    if prop.kind == FINISHES:
        ti = names.index(prop.thread)
        pci, done = cm.pc_index[ti], cm.done_pc[ti]
        return (lambda s: s[pci] != done), (lambda ti_, pc, n: True)
    if prop.kind == FIRES:
        tt = names.index(prop.thread)
        idx = next(st.index for st in cm.threads[tt].steps if st.label == prop.label)
        return (lambda s: True), (lambda ti_, pc, n: not (ti_ == tt and pc == idx))
    marks = set()
    for t, lab in prop.progress:
        tt = names.index(t)
        marks.add((tt, next(st.index for st in cm.threads[tt].steps if st.label == lab)))
    return (lambda s: True), (lambda ti_, pc, n: (ti_, pc) not in marks)


def _check_one(g: Graph, prop: ProgressProperty) -> Lasso | None:
    cm = g.cm
    keep_state, keep_edge = _restriction(g, prop)
    if not keep_state(cm.initial):
        return None
    # the restricted reachable subgraph, breadth-first (parents give shortest prefixes)
    parent = {cm.initial: None}
    order = [cm.initial]
    adj: dict = {}
    queue = deque([cm.initial])
    while queue:
        s = queue.popleft()
        out = [(ti, n) for ti, pc, n in g.succ[s] if keep_edge(ti, pc, n) and keep_state(n)]
        adj[s] = out
        for ti, n in out:
            if n not in parent:
                parent[n] = (s, ti)
                order.append(n)
                queue.append(n)
    if prop.kind == FIRES:
        for s in order:
            if not g.succ[s]:                       # nobody can move: the step never fired
                return Lasso(prop, _prefix(parent, s), [], len(g.succ), g.edges)
    rank = {s: i for i, s in enumerate(order)}
    for comp in sorted(_sccs(order, adj), key=lambda c: min(rank[s] for s in c)):
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
            return Lasso(prop, _prefix(parent, entry), _cycle(entry, inside, adj, witnesses),
                         len(g.succ), g.edges)
    return None


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


def _sccs(order: list, adj: dict) -> list:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out = []
    counter = 0
    for root in order:
        if root in index:
            continue
        work = [(root, iter(adj[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for _, w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(adj[w])))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out
