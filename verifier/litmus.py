"""Litmus tests: the classic shapes as models, and any litmus program as a C litmus test for herd7.

A litmus program is a list of threads of memory operations (WRITE_ONCE, READ_ONCE,
smp_store_release, smp_load_acquire, smp_mb/smp_rmb/smp_wmb, a store under `if (r)`, a load whose
address depends on a register) and an `exists` clause over final registers and memory. `build()`
turns it into a model whose steps carry `Mem` annotations (verifier/memmodel.py) and whose one final
predicate says the `exists` outcome is never reached: under a memory model, `violated` means the
outcome is allowed, `holds` that it is forbidden. `to_c()` writes the same program in the format of
the Linux kernel's tools/memory-model litmus tests, which herd7 reads (`herd7 -conf linux-kernel.cfg`).

The eight shapes (SB, MP, LB, WRC, IRIW, 2+2W, S, R) are builders with one knob per thread, its
ordering between the thread's two accesses: `po` (nothing), `mb`, `rmb`, `wmb`, `acquire` (the
first access is smp_load_acquire), `release` (the second is smp_store_release) or `dep` (the second
depends on the first: an address dependency for a load, a control dependency for a store).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .memmodel import Mem
from .model import FREE, Knob, Model, builder

ORDERINGS = ("po", "mb", "rmb", "wmb", "acquire", "release", "dep")


@dataclass
class Op:
    kind: str                 # "W" | "R" | "F" | "L" (spin_lock) | "U" (spin_unlock)
    var: str = ""
    value: int = 0
    reg: str = ""             # R: the register loaded into
    order: str = "once"       # once | acquire | release
    fence: str = ""           # F: mb | rmb | wmb
    dep: str = ""             # R: address depends on this register; W: control dependency on it

    def c(self) -> str:
        if self.kind == "L":
            return f"spin_lock({self.var});"
        if self.kind == "U":
            return f"spin_unlock({self.var});"
        if self.kind == "F":
            return f"smp_{self.fence}();"
        if self.kind == "R":
            addr = f"*({self.var} + ({self.dep} & 0))" if self.dep else f"*{self.var}"
            if self.order == "acquire":
                return f"{self.reg} = smp_load_acquire({self.var});"
            return f"{self.reg} = READ_ONCE({addr});"
        store = (f"smp_store_release({self.var}, {self.value});" if self.order == "release"
                 else f"WRITE_ONCE(*{self.var}, {self.value});")
        return f"if ({self.dep}) {store}" if self.dep else store


@dataclass
class Program:
    name: str
    threads: list                                   # [[Op]]
    exists: list                                    # [(thread index | None, reg or var, value)]
    doc: str = ""
    variables: list = field(default_factory=list)

    def __post_init__(self):
        if not self.variables:
            self.variables = sorted({op.var for t in self.threads for op in t
                                     if op.var and op.kind not in "LU"})

    @property
    def locks(self) -> list:
        return sorted({op.var for t in self.threads for op in t if op.kind in "LU"})

    def exists_c(self) -> str:
        return " /\\ ".join(f"{t}:{n}={v}" if t is not None else f"{n}={v}" for t, n, v in self.exists)


def to_c(prog: Program) -> str:
    """The program as a C litmus test (the kernel's tools/memory-model style, read by herd7)."""
    out = [f"C {prog.name}", ""]
    if prog.doc:
        out += ["(*", *[f" * {line}".rstrip() for line in prog.doc.splitlines()], " *)", ""]
    out += ["{"] + [f"\tint {v};" for v in prog.variables] + ["}", ""]
    for i, ops in enumerate(prog.threads):
        used = sorted({op.var for op in ops if op.var and op.kind not in "LU"})
        locks = sorted({op.var for op in ops if op.kind in "LU"})
        out.append(f"P{i}(" + ", ".join([f"int *{v}" for v in used] + [f"spinlock_t *{v}" for v in locks]) + ")")
        out.append("{")
        regs = sorted({op.reg for op in ops if op.reg})
        out += [f"\tint {r};" for r in regs]
        if regs:
            out.append("")
        out += [f"\t{op.c()}" for op in ops]
        out.append("}")
        out.append("")
    out.append(f"exists ({prog.exists_c()})")
    return "\n".join(out) + "\n"


def build(prog: Program, knobs=None) -> Model:
    """The model of a litmus program: one thread per process, one step per access."""
    m = Model(prog.name, prog.doc or prog.name, knobs)
    for v in prog.variables:
        m.field(v, 0, doc=f"int {v}")
    for v in prog.locks:
        m.lock(v, doc=f"spinlock_t {v}")
    regs = {}
    for i, ops in enumerate(prog.threads):
        for op in ops:
            if op.reg:
                regs[(i, op.reg)] = m.field(f"P{i}_{op.reg}", 0, doc=f"P{i}: int {op.reg}")
    for i, ops in enumerate(prog.threads):
        t = m.thread(f"P{i}")
        pending_fence = ""
        n_acc = sum(op.kind != "F" for op in ops)
        k = -1
        for j, op in enumerate(ops):
            if op.kind == "F":
                pending_fence = op.fence
                continue
            k += 1
            after = ""
            if k == n_acc - 1:                         # a fence at the end of a thread
                rest = [o for o in ops[j + 1:] if o.kind == "F"]
                after = rest[0].fence if rest else ""
            label = f"{k}:{op.kind}{op.var}"
            order = {"once": "relaxed"}.get(op.order, op.order)
            dep = regs[(i, op.dep)] if op.dep else None
            if op.kind == "L":
                # spin_lock(): an acquire read-modify-write of the lock word (arm64: casa or
                # ldaxr/stxr; x86: a locked cmpxchg, so the memory model makes it wait for the
                # store buffer there); a lock field written at once, not buffered
                t.step(label, op.c(), guard=(lambda s, v=op.var: getattr(s, v) == FREE),
                       effect=(lambda s, v=op.var, me=i + 1: {v: me}), reads=[op.var], writes=[op.var],
                       mem=Mem(order="acquire", before=pending_fence, after=after))
            elif op.kind == "U":
                # spin_unlock(): smp_store_release() of the lock word; it waits for the thread's
                # earlier stores (a release publishes them), later accesses are not held back
                t.step(label, op.c(), effect=(lambda s, v=op.var: {v: FREE}), writes=[op.var],
                       mem=Mem(order="release", before=pending_fence, after=after))
            elif op.kind == "R":
                reg = regs[(i, op.reg)]
                t.step(label, op.c(), effect=(lambda s, v=op.var, r=reg: {r: getattr(s, v)}),
                       reads=[op.var] + ([dep] if dep else []), writes=[reg],
                       mem=Mem(loads=(op.var,), order=order, before=pending_fence, after=after))
            else:
                if dep:
                    eff = (lambda s, v=op.var, val=op.value, r=dep: {v: val} if getattr(s, r) else {})
                else:
                    eff = (lambda s, v=op.var, val=op.value: {v: val})
                t.step(label, op.c(), effect=eff, reads=[dep] if dep else [], writes=[op.var],
                       mem=Mem(stores=(op.var,), order=order, before=pending_fence, after=after))
            pending_fence = ""

    names = [regs[(t, n)] if t is not None else n for t, n, _ in prog.exists]
    want = [v for _, _, v in prog.exists]

    def outcome_not_reached(s):
        return not all(getattr(s, n) == v for n, v in zip(names, want))

    m.final("exists_not_reached", outcome_not_reached, names,
            f"the outcome exists ({prog.exists_c()}) is never reached")
    # every memory model allows every sequentially consistent execution (SC is a subset of x86-TSO
    # and of ARMv8): each SC outcome of the exists clause's locations must be reached, so a model
    # that loses an access (or a store that never becomes visible) fails instead of holding
    for outcome in sc_outcomes(prog):
        text = outcome_c(prog, outcome)
        m.reachable(f"sc_outcome[{text}]",
                    (lambda vals: lambda s: all(getattr(s, n) == v for n, v in zip(names, vals)))(outcome),
                    names, f"the sequentially consistent outcome {text} is reached (every memory model "
                    f"allows the outcomes of an interleaving)")
    m.litmus = prog
    return m


def outcome_c(prog: Program, values: tuple) -> str:
    """An outcome of the exists clause's locations in herd7's notation (`1:r0=1 /\\ x=2`)."""
    return " /\\ ".join(f"{t}:{n}={v}" if t is not None else f"{n}={v}"
                         for (t, n, _), v in zip(prog.exists, values))


def sc_outcomes(prog: Program) -> list[tuple]:
    """The values of the exists clause's locations at the end of every interleaving of `prog`'s
    threads, each access atomic and in program order (sequential consistency), computed here by
    enumerating the interleavings, independently of the models and of verifier/memmodel.py: a
    fence is a no-op, a store with a control dependency runs when its register is nonzero, a
    spin_lock() waits until the lock is free. Sorted."""
    lock_names = set(prog.locks)
    start = (tuple(0 for _ in prog.threads), tuple(sorted((v, 0) for v in prog.variables)),
             tuple(sorted((v, 0) for v in lock_names)), tuple())
    seen, todo, out = {start}, [start], set()
    while todo:
        pcs, mem, locks, regs = todo.pop()
        memd, lockd, regd = dict(mem), dict(locks), dict(regs)
        moved = False
        for i, ops in enumerate(prog.threads):
            if pcs[i] == len(ops):
                continue
            op = ops[pcs[i]]
            m2, l2, r2 = dict(memd), dict(lockd), dict(regd)
            if op.kind == "L":
                if lockd[op.var]:
                    continue
                l2[op.var] = i + 1
            elif op.kind == "U":
                l2[op.var] = 0
            elif op.kind == "R":
                r2[(i, op.reg)] = memd[op.var]
            elif op.kind == "W":
                if not op.dep or regd.get((i, op.dep), 0):
                    m2[op.var] = op.value
            moved = True
            nxt = (pcs[:i] + (pcs[i] + 1,) + pcs[i + 1:], tuple(sorted(m2.items())),
                   tuple(sorted(l2.items())), tuple(sorted(r2.items())))
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
        if not moved and all(pc == len(ops) for pc, ops in zip(pcs, prog.threads)):
            out.add(tuple(regd.get((t, n), 0) if t is not None else memd[n] for t, n, _ in prog.exists))
    return sorted(out)


# --------------------------------------------------------------------------------------------
# the classic shapes


def W(var, value=1):
    return Op("W", var, value)


def R(reg, var):
    return Op("R", var, reg=reg)


def _order(ops: list, how: str, where: str) -> list:
    """Apply one thread's ordering knob to its two accesses."""
    if how == "po":
        return ops
    a, b = ops
    if how in ("mb", "rmb", "wmb"):
        return [a, Op("F", fence=how), b]
    if how == "acquire":
        if a.kind != "R":
            raise ValueError(f"{where}: acquire needs a load first")
        return [Op("R", a.var, reg=a.reg, order="acquire"), b]
    if how == "release":
        if b.kind != "W":
            raise ValueError(f"{where}: release needs a store second")
        return [a, Op("W", b.var, b.value, order="release")]
    if how == "dep":
        if a.kind != "R":
            raise ValueError(f"{where}: a dependency needs a load first")
        return [a, Op(b.kind, b.var, b.value, reg=b.reg, dep=a.reg)]
    raise ValueError(f"{where}: unknown ordering {how!r}")


@dataclass
class Shape:
    name: str
    threads: list           # [[Op]]: one or two accesses each
    exists: list
    doc: str


SHAPES = {
    "SB": Shape("SB", [[W("x"), R("r0", "y")], [W("y"), R("r0", "x")]],
                [(0, "r0", 0), (1, "r0", 0)], "store buffering: each thread stores, then loads the other's location"),
    "MP": Shape("MP", [[W("x"), W("y")], [R("r0", "y"), R("r1", "x")]],
                [(1, "r0", 1), (1, "r1", 0)], "message passing: data then flag; flag then data"),
    "LB": Shape("LB", [[R("r0", "x"), W("y")], [R("r0", "y"), W("x")]],
                [(0, "r0", 1), (1, "r0", 1)], "load buffering: each thread loads, then stores the other's location"),
    "WRC": Shape("WRC", [[W("x")], [R("r0", "x"), W("y")], [R("r0", "y"), R("r1", "x")]],
                 [(1, "r0", 1), (2, "r0", 1), (2, "r1", 0)], "write-to-read causality: MP with the data store on a third CPU"),
    "IRIW": Shape("IRIW", [[W("x")], [R("r0", "x"), R("r1", "y")], [W("y")], [R("r0", "y"), R("r1", "x")]],
                  [(1, "r0", 1), (1, "r1", 0), (3, "r0", 1), (3, "r1", 0)],
                  "independent reads of independent writes: do two readers agree on the order of two stores?"),
    "2+2W": Shape("2+2W", [[W("x", 2), W("y", 1)], [W("y", 2), W("x", 1)]],
                  [(None, "x", 2), (None, "y", 2)], "two threads store to two locations in opposite orders"),
    "S": Shape("S", [[W("x", 2), W("y", 1)], [R("r0", "y"), W("x", 1)]],
               [(None, "x", 2), (1, "r0", 1)], "S: a store ordered after a load of a flag vs the flag's writer"),
    "R": Shape("R", [[W("x"), W("y")], [W("y", 2), R("r0", "x")]],
               [(None, "y", 2), (1, "r0", 0)], "R: store-store vs store-load through a coherence order"),
}


def shape_program(shape: str, orderings: dict) -> Program:
    sh = SHAPES[shape]
    threads = []
    tags = []
    for i, ops in enumerate(sh.threads):
        how = orderings.get(f"P{i}", "po")
        if len(ops) == 1:
            threads.append(list(ops))
            continue
        threads.append(_order(list(ops), how, f"{shape} P{i}"))
        tags.append(how)
    name = sh.name + ("+" + "+".join(tags) if any(t != "po" for t in tags) else "+po")
    return Program(name, threads, list(sh.exists), sh.doc)


def _shape_builder(shape: str):
    sh = SHAPES[shape]
    knobs = [Knob(f"P{i}", "po", f"ordering between P{i}'s two accesses", domain=ORDERINGS)
             for i, ops in enumerate(sh.threads) if len(ops) == 2]

    @builder(*knobs)
    def build_shape(knobs) -> Model:
        from .model import KnobError
        try:
            prog = shape_program(shape, {k: knobs[k] for k in knobs})
        except ValueError as e:
            raise KnobError(str(e)) from None
        return build(prog, knobs)

    build_shape.__name__ = f"litmus_{shape.lower().replace('+', '_')}"
    build_shape.__doc__ = f"The {shape} litmus shape: {sh.doc}."
    return build_shape


sb = _shape_builder("SB")
mp = _shape_builder("MP")
lb = _shape_builder("LB")
wrc = _shape_builder("WRC")
iriw = _shape_builder("IRIW")
two_plus_two_w = _shape_builder("2+2W")
s = _shape_builder("S")
r = _shape_builder("R")
