"""Random models for the differential tests of the explorer's reductions.

A model is drawn as data (threads of step specifications over shared and private fields and
locks), then built with the modelling API, so every step's footprint is exactly what it touches (plus,
sometimes, an extra declared read, which only makes the reduction more careful). What the generator
covers: 2-4 threads of 1-6 steps; back-edges (a step that jumps to an earlier label, making cycles);
conditional jumps; guards; locks taken in one step and released in a later one (so held across steps),
in orders that can deadlock; nondeterministic steps with two outcomes; private fields (one thread
only: the steps a reduction can pick) and shared fields; invariants over shared fields; final
predicates. Values stay in each field's domain (arithmetic modulo its size).

With `mem=True` some single-outcome steps that take or drop no lock carry a `Mem` annotation
(verifier/memmodel.py): lockless loads of the shared fields they read, buffered stores of the shared
fields they write (not as adds: the generator's increments wrap around the domain), an ordering and
barriers before and after; the differential test runs such models transformed for x86-TSO and arm64.

With `symmetric=True` some threads are copies of another (the same steps, its private field renamed
to theirs) and the model declares each such group symmetric (Model.symmetric): the symmetry
reduction's differential test (tests/test_reduction.py) draws these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from pteverify.memmodel import Mem
from pteverify.model import GOTO, Model


@dataclass
class StepSpec:
    guard: tuple | None = None            # (field, "==" | "!=", value)
    outcomes: list = field(default_factory=list)   # each a list of (target, "const" | "copy" | "inc", arg)
    jump: tuple | None = None             # (field or None, value, label index): if field == value
    acquire: str | None = None
    release: str | None = None
    extra_read: str | None = None
    mem: tuple | None = None              # (loads, stores, adds, order, before, after)


@dataclass
class ModelSpec:
    domains: dict                          # field -> domain size
    threads: list                          # list of (name, [StepSpec]) ; private field f"p{i}"
    locks: list
    invariants: list                       # (name, [(field, value)]): violated when all hold
    finals: list
    symmetric: list = field(default_factory=list)   # groups of thread indices declared symmetric


@st.composite
def model_specs(draw, max_threads: int = 4, max_steps: int = 6, symmetric: bool = False,
                mem: bool = False) -> ModelSpec:
    n_threads = draw(st.integers(2, max_threads))
    n_shared = draw(st.integers(1, 3))
    domains = {f"g{i}": draw(st.integers(2, 3)) for i in range(n_shared)}
    for i in range(n_threads):
        domains[f"p{i}"] = draw(st.integers(2, 3))
    locks = [f"L{i}" for i in range(draw(st.integers(0, 2)))]
    shared = [f for f in domains if f.startswith("g")]
    threads = []
    for ti in range(n_threads):
        mine = shared + [f"p{ti}"]
        # private fields more often: they are what a reduction can use (with lockless steps, shared
        # fields as often: stores to them are what a store buffer holds)
        pick = st.sampled_from(mine) if mem else st.one_of(st.sampled_from(mine), st.just(f"p{ti}"))
        n_steps = draw(st.integers(1, max_steps))
        steps = []
        held = None
        for si in range(n_steps):
            spec = StepSpec()
            if draw(st.integers(0, 3)) == 0:
                g = draw(pick)
                spec.guard = (g, draw(st.sampled_from(["==", "!="])), draw(st.integers(0, domains[g] - 1)))
            n_out = draw(st.sampled_from([1, 1, 1, 2]))
            for _ in range(n_out):
                assigns = []
                for _ in range(draw(st.integers(0, 2))):
                    tgt = draw(pick)
                    kind = draw(st.sampled_from(["const", "copy", "inc"]))
                    if kind == "const":
                        arg = draw(st.integers(0, domains[tgt] - 1))
                    else:
                        arg = draw(st.sampled_from(mine))
                    assigns.append((tgt, kind, arg))
                spec.outcomes.append(assigns)
            if locks:
                if held is None and draw(st.integers(0, 2)) == 0:
                    held = spec.acquire = draw(st.sampled_from(locks))
                    if draw(st.booleans()) and draw(st.booleans()):
                        spec.release, held = held, None        # a lock-protected atomic step
                elif held is not None and draw(st.booleans()):
                    spec.release, held = held, None
            r = draw(st.integers(0, 5))
            if r == 0 and si > 0:
                spec.jump = (None, 0, draw(st.integers(0, si)))                  # back-edge: a cycle
            elif r == 1:
                c = draw(pick)
                spec.jump = (c, draw(st.integers(0, domains[c] - 1)), draw(st.integers(0, n_steps)))
            if draw(st.integers(0, 5)) == 0:
                spec.extra_read = draw(st.sampled_from(mine))
            if mem and len(spec.outcomes) == 1 and spec.acquire is None and spec.release is None \
                    and draw(st.integers(0, 3)) > 0:
                spec.mem = _draw_mem(draw, spec, shared)
            steps.append(spec)
        threads.append((f"t{ti}", steps))
    groups = []
    if symmetric:
        # threads 1..g-1 (and maybe a second group) become copies of the group's first thread
        g = draw(st.integers(2, n_threads))
        groups.append(list(range(g)))
        if n_threads - g >= 2 and draw(st.booleans()):
            groups.append(list(range(g, n_threads)))
        for grp in groups:
            base = grp[0]
            for ti in grp[1:]:
                domains[f"p{ti}"] = domains[f"p{base}"]
                ren = {f"p{base}": f"p{ti}"}
                threads[ti] = (f"t{ti}", [_renamed(sp, ren) for sp in threads[base][1]])

    def conj():
        # with lockless steps the private fields too: they hold what a thread loaded (its registers)
        fs = draw(st.lists(st.sampled_from(list(domains) if mem else shared), min_size=1, max_size=2,
                           unique=True))
        return [(f, draw(st.integers(0, domains[f] - 1))) for f in fs]

    invariants = [(f"inv{i}", conj()) for i in range(draw(st.integers(0, 2)))]
    finals = [(f"final{i}", conj()) for i in range(draw(st.integers(0, 1)))]
    return ModelSpec(domains, threads, locks, invariants, finals, groups)


def _draw_mem(draw, spec: StepSpec, shared: list) -> tuple:
    """A Mem annotation for a single-outcome step: which of its shared accesses are lockless."""
    reads, writes, selfinc = set(), set(), set()
    if spec.guard is not None:
        reads.add(spec.guard[0])
    if spec.jump is not None and spec.jump[0] is not None:
        reads.add(spec.jump[0])
    if spec.extra_read:
        reads.add(spec.extra_read)
    for tgt, kind, arg in spec.outcomes[0]:
        writes.add(tgt)
        if kind != "const":
            reads.add(arg)
        if kind == "inc" and arg == tgt:
            selfinc.add(tgt)
    sh = set(shared)
    every = draw(st.integers(0, 3)) > 0                 # mostly: all its shared accesses lockless
    loads = sorted(f for f in reads & sh if every or draw(st.booleans()))
    adds = []     # an `inc` here is modulo the field's domain, not an atomic add: never buffered as a delta
    stores = sorted(f for f in (writes & sh) - set(adds) if every or draw(st.booleans()))
    order = draw(st.sampled_from(["relaxed", "relaxed", "relaxed", "acquire", "release", "mb"]))
    fences = st.sampled_from(["", "", "", "mb", "rmb", "wmb"])
    return (tuple(loads), tuple(stores), tuple(adds), order, draw(fences), draw(fences))


def _renamed(sp: StepSpec, ren: dict) -> StepSpec:
    r = lambda f: ren.get(f, f)                                  # noqa: E731
    return StepSpec(
        guard=None if sp.guard is None else (r(sp.guard[0]),) + tuple(sp.guard[1:]),
        outcomes=[[(r(t), k, r(a) if k != "const" else a) for t, k, a in assigns] for assigns in sp.outcomes],
        jump=None if sp.jump is None else ((r(sp.jump[0]) if sp.jump[0] else None),) + tuple(sp.jump[1:]),
        acquire=sp.acquire, release=sp.release,
        extra_read=None if sp.extra_read is None else r(sp.extra_read),
        mem=None if sp.mem is None else (tuple(r(f) for f in sp.mem[0]), tuple(r(f) for f in sp.mem[1]),
                                         tuple(r(f) for f in sp.mem[2])) + tuple(sp.mem[3:]))


def _value(s, kind, arg, size):
    if kind == "const":
        return arg
    v = getattr(s, arg)
    return (v + 1) % size if kind == "inc" else v % size


def build(spec: ModelSpec) -> Model:
    m = Model("random")
    for f, size in spec.domains.items():
        m.field(f, 0, range(size))
    for lk in spec.locks:
        m.lock(lk)
    for name, steps in spec.threads:
        t = m.thread(name)
        n = len(steps)
        for si, sp in enumerate(steps):
            reads, writes = set(), set()
            guard = None
            if sp.guard is not None:
                gf, op, gv = sp.guard
                reads.add(gf)
                guard = ((lambda gf, gv: lambda s: getattr(s, gf) == gv) if op == "==" else
                         (lambda gf, gv: lambda s: getattr(s, gf) != gv))(gf, gv)
            for assigns in sp.outcomes:
                for tgt, kind, arg in assigns:
                    writes.add(tgt)
                    if kind != "const":
                        reads.add(arg)
            branches = []
            jump = None
            if sp.jump is not None:
                jf, jv, target = sp.jump
                label = f"s{target}" if target < n else "done"
                branches.append(label)
                if jf is not None:
                    reads.add(jf)
                jump = (jf, jv, label)
            if sp.extra_read:
                reads.add(sp.extra_read)
            mem = None
            if sp.mem is not None:
                loads, stores, adds, order, before, after = sp.mem
                mem = Mem(loads=loads, stores=stores, adds=adds, order=order, before=before, after=after)
            t.step(f"s{si}", f"random:{name}.s{si}", guard=guard,
                   effect=_effect(sp.outcomes, jump, spec.domains), reads=reads, writes=writes,
                   acquire=sp.acquire or (), release=sp.release or (), branches=branches, mem=mem)
    for name, conj in spec.invariants:
        m.invariant(name, _not_all(conj), [f for f, _ in conj])
    for name, conj in spec.finals:
        m.final(name, _not_all(conj), [f for f, _ in conj])
    for grp in spec.symmetric:
        m.symmetric([f"t{ti}" for ti in grp], [tuple(f"p{ti}" for ti in grp)])
    return m


def _effect(outcomes, jump, domains):
    def one(s, assigns):
        d = {}
        for tgt, kind, arg in assigns:
            d[tgt] = _value(s, kind, arg, domains[tgt])
        if jump is not None:
            jf, jv, label = jump
            if jf is None or getattr(s, jf) == jv:
                d[GOTO] = label
        return d

    if len(outcomes) == 1:
        return lambda s: one(s, outcomes[0])
    return lambda s: [one(s, a) for a in outcomes]


def _not_all(conj):
    return lambda s: not all(getattr(s, f) == v for f, v in conj)
