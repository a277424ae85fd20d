"""Memory models: `sc`, `tso` and `arm64`, as a transformation of a model before it is explored.

A model's steps are atomic and sequentially consistent. A step may declare, with `mem=Mem(...)`,
which of its accesses are lockless (READ_ONCE/WRITE_ONCE, ptep_get_lockless, relaxed atomics) and
which barriers surround them; `transform(model, "tso" | "arm64")` returns a model whose threads may
then execute those accesses out of order, as the memory model allows. The explorer, the reduction,
the traces and the checks run on the transformed model unchanged: it is an ordinary model whose
extra fields (store buffers, early loads) and extra threads (one store-propagation thread per CPU
thread that buffers stores) declare their footprints like any other.

Vocabulary of `Mem` (field names; a field touched by one thread only is a register of it):

* `loads`: fields the step reads with plain lockless loads (READ_ONCE, ptep_get_lockless);
* `stores`: fields it writes with plain stores (WRITE_ONCE, set_pte on a lockless path, the write
  of a relaxed xchg whose other writers are excluded by a lock; with order="release", the unlock of
  a lock field);
* `adds`: fields it changes with value-less relaxed atomics (atomic_add, folio_ref_add): the change
  is buffered as a delta, so the add stays atomic when it lands;
* any other shared field the step touches is accessed atomically when the step runs (a fully
  performed atomic, a load whose result the step needs at once);
* `order`: "relaxed" | "acquire" (smp_load_acquire, *_acquire atomics) | "release"
  (smp_store_release, *_release) | "mb" (value-returning atomics: fully ordered);
* `before`, `after`: a barrier in program order before / after the step's accesses: "mb"
  (smp_mb, smp_mb__after_atomic, a DSB), "rmb", "wmb".

A step without `mem` (locks, code under a lock) is a full barrier for its thread: it runs only once
the thread's stores are visible, and nothing of the thread moves across it.

The operational model (one for both relaxed models; SC is the identity):

* Each CPU thread that stores locklessly has a store buffer: its `stores`/`adds` enter the buffer
  when the step runs and become visible to all other threads at once when a propagation step of the
  thread `<T>~sb` takes them out (flat memory: multi-copy atomic). The thread's own loads read
  through its buffer (store-to-load forwarding). TSO: the buffer drains in order (FIFO), every
  atomic RMW and smp_mb waits for it to be empty (x86's locked instructions). arm64: entries drain
  in any order except that entries of one location drain in program order and a wmb/release marker
  separates earlier entries from later ones; a release store also drains after every earlier store,
  and an acquire waits for the thread's pending release stores (RCsc, stlr -> ldar).
* arm64 only: a load may be satisfied early (the step's `loads` are read ahead of program order into
  a snapshot used when the thread reaches the step), and a pure store step (no loads, no branches)
  may be executed ahead of program order, both only past steps it is not ordered after by the
  preserved program order `ppo` below; a taken branch discards early loads (speculation squashed).
  ppo(X, B), X earlier than B: X or B has no `mem`; they share a location; B depends on a register
  X writes (address/data dependency; for an early store also anti- and output dependencies of
  registers); X is an acquire or fully ordered; B is a release or fully ordered; X is a release
  and B an acquire; an mb between them, an rmb between them when X loads, a wmb between them when
  both store; for an early store: X branches or waits (control dependency), or X loads and a step
  between them depends on X ([R]; addr; [M]; po; [W]).

Why this gives the axiomatic models' outcomes. TSO: FIFO store buffers with forwarding and fences
that drain them are x86-TSO (Owens, Sarkar, Sewell, TPHOLs 2009), equivalent to the axiomatic x86
model. ARMv8 is other-multi-copy-atomic; Pulte et al. (POPL 2018, "Simplifying ARM concurrency")
show that the Flat model, a thread executing its memory events out of order against one flat
memory, subject to dependencies, same-location order and barriers, with forwarding of its own
stores, allows exactly the outcomes of the axiomatic ARMv8 model. The machine above is that
execution restricted to the reorderings a two-step window of straight-line lockless code can show:
early loads (R->R, W->R), buffered stores propagating out of order (W->W, W->R), early stores
(R->W: load buffering). tests/test_memmodel.py checks, for SB, MP, LB, WRC, IRIW, 2+2W, S and R with
and without barriers and dependencies, that every memory model gives the published verdicts
(herd7's aarch64 model and the kernel's tools/memory-model litmus tests).

What is not modelled (each can only hide an arm64 outcome, never invent one, unless noted):
* step granularity: a step's accesses happen together (its buffered stores excepted); a barrier
  after a step is taken to wait for every earlier store of the thread before the step runs;
* loads after a store to the same location of the same thread wait for it, so no outcome needs a
  load to read its own thread's store early past another thread's (SB+rfi-pos, n6 shapes): the
  buffer forwards, but an early load does not pass the store; `forwarding_pairs()` lists such pairs;
* no access moves across a step without `mem` (locked code, lock operations: conservative), and an
  early store never moves across a branch; control dependencies with isb and mixed-size accesses
  are not modelled. A lock operation may instead carry `mem`: spin_lock() as an acquire step that
  writes the lock field (it does not wait for the thread's plain stores on arm64; on x86 it is a
  locked instruction and does), spin_unlock() as a release step (it waits for the thread's earlier
  stores; later loads may still be satisfied before it; on x86 the unlock of a lock no other thread
  touches is a plain store that waits for nothing);
* LKMM is not multi-copy atomic and its release/acquire and unlock+lock are RCpc: where it allows more
  than ARMv8 (IRIW with rmb or address dependencies in the readers, some WRC shapes, a store before
  an unlock and a load after a lock) the arm64 model gives ARMv8's verdict; `lkmm_differences()`
  lists where a model's lockless steps depend on one of these (docs/memory-models.md, "LKMM").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import DONE, GOTO, Model, ModelError, Step
from .progress import FINISHES

__all__ = ["Mem", "MEMORY_MODELS", "transform", "forwarding_pairs", "check_memory_model", "lkmm_differences"]

MEMORY_MODELS = ("sc", "tso", "arm64")
ORDERS = ("relaxed", "acquire", "release", "mb")
FENCES = ("", "mb", "rmb", "wmb")


@dataclass(frozen=True)
class Mem:
    """A step's lockless accesses and barriers (see the module doc)."""

    loads: tuple = ()
    stores: tuple = ()
    adds: tuple = ()
    order: str = "relaxed"
    before: str = ""
    after: str = ""

    def __post_init__(self):
        for k in ("loads", "stores", "adds"):
            v = getattr(self, k)
            object.__setattr__(self, k, (v,) if isinstance(v, str) else tuple(v))
        if self.order not in ORDERS:
            raise ModelError(f"Mem(order={self.order!r}): one of {', '.join(ORDERS)}")
        for k in ("before", "after"):
            if getattr(self, k) not in FENCES:
                raise ModelError(f"Mem({k}={getattr(self, k)!r}): one of mb, rmb, wmb")


def check_memory_model(name: str) -> str:
    from .errors import BadInput
    if name not in MEMORY_MODELS:
        raise BadInput(f"memory model {name!r}: one of {', '.join(MEMORY_MODELS)}")
    return name


# --------------------------------------------------------------------------------------------
# values kept in the new fields (printed in race tables)


class Buffer(tuple):
    """A store buffer: entries (field, op, value, release, xchg) with op "=" or "+", and "|"
    markers; `xchg`: the store of an atomic exchange, whose read already happened."""

    __slots__ = ()

    def __str__(self):
        if not self:
            return "[]"
        out = []
        for e in self:
            if e == "|":
                out.append("|")
            else:
                f, op, v, rel, rmw = e
                out.append(f"{f}{'+=' if op == '+' else '='}{v}{' (release)' if rel else ''}"
                           f"{' (xchg)' if rmw else ''}")
        return "[" + ", ".join(out) + "]"


class Early(tuple):
    """Steps of a thread executed ahead of program order: (pc, label, snapshot | None)."""

    __slots__ = ()

    def __str__(self):
        if not self:
            return "none"
        out = []
        for pc, label, snap in self:
            if snap is None:
                out.append(f"{label} done early")
            else:
                out.append(f"{label} loaded " + ", ".join(f"{f}={_fmt(v)}" for f, v in snap) + " early")
        return "; ".join(out)


def _fmt(v):
    return str(v).lower() if isinstance(v, bool) else str(v)


EMPTY_BUF = Buffer()
NO_EARLY = Early()


class _Overlay:
    """A step's view with some fields replaced (forwarded stores, early loads)."""

    __slots__ = ("_base", "_over")

    def __init__(self, base, over):
        self._base = base
        self._over = over

    def __getattr__(self, name):
        over = self._over
        if name in over:
            return over[name]
        return getattr(self._base, name)


def _xchg_pending(buf, name) -> bool:
    return any(e != "|" and e[0] == name and e[4] for e in buf)


def _through(buf, name, value):
    """The value of `name` as the buffer's owner sees it: memory, then its own pending stores."""
    for e in buf:
        if e != "|" and e[0] == name:
            value = e[2] if e[1] == "=" else value + e[2]
    return value


def _normalise(entries) -> Buffer:
    out = []
    for e in entries:
        if e == "|" and (not out or out[-1] == "|"):       # leading or repeated markers order nothing
            continue
        out.append(e)
    while out and out[-1] == "|":
        out.pop()
    return Buffer(out)


# --------------------------------------------------------------------------------------------
# static analysis of a thread


class _Info:
    """What the transformation needs to know about one step."""

    def __init__(self, st: Step, shared: set, lock_fields: set):
        self.st = st
        m = st.mem if isinstance(st.mem, Mem) else None
        if st.mem is not None and m is None:
            raise ModelError(f"thread {st.thread}, step {st.label}: mem must be a Mem(...)")
        if m is not None and (st.acquire or st.release):
            m = None            # lock operations order everything: treated as unmarked
        self.mem = m
        reads = set(st.reads)
        writes = set(st.writes)
        self.reg_r = reads - shared
        self.reg_w = writes - shared
        self.shared = (reads | writes) & shared
        if m is None:
            self.loads = self.stores = self.adds = frozenset()
            self.atomic = self.shared
        else:
            for f in m.loads + m.stores + m.adds:
                if f not in st.reads | st.writes:
                    raise ModelError(f"thread {st.thread}, step {st.label}: Mem names {f!r} outside the "
                                     f"step's footprint")
            self.loads = frozenset(m.loads) & shared
            self.stores = frozenset(m.stores) & shared
            self.adds = frozenset(m.adds) & shared
            for f in self.adds:
                if f not in st.reads:
                    raise ModelError(f"thread {st.thread}, step {st.label}: an add of {f!r} must read it")
            self.atomic = self.shared - self.loads - self.stores - self.adds
        # a lock word written at once (taken or dropped inside the step): the step waits for the
        # thread's stores, unless on arm64 it is a lock taken with order="acquire" (spin_lock() is an
        # acquire RMW there, a locked instruction on x86); an unlock declared in `stores` with
        # order="release" is buffered instead
        self.lock_write = bool(writes & lock_fields - self.stores)
        # the unlock (order="release") of a lock no other thread touches: on x86 a plain store,
        # invisible to the others, so it need not wait for the store buffer there (on arm64 it still
        # does: the release must come after the earlier stores for a later acquire to order them)
        self.private_unlock = (self.lock_write and m is not None and m.order == "release"
                               and not (writes & lock_fields & shared))
        self.is_r = bool(self.loads or (self.atomic & reads))
        self.is_w = bool(self.stores or self.adds or (self.atomic & writes))
        self.order = m.order if m else "mb"
        self.before = m.before if m else "mb"
        self.after = m.after if m else "mb"
        self.branches = bool(st.branches)
        self.guarded = st.guard is not None


def _ppo(infos, x: int, b: int, early_store: bool) -> bool:
    """Is step b (later) ordered after step x by arm64's preserved program order? (module doc)"""
    X, B = infos[x], infos[b]
    if X.mem is None or B.mem is None:
        return True
    if X.shared & B.shared:
        return True
    if X.reg_w & B.reg_r:
        return True
    if early_store and (X.reg_w & B.reg_w or X.reg_r & B.reg_w):
        return True
    if X.order in ("acquire", "mb") or B.order in ("release", "mb"):
        return True
    if X.order == "release" and B.order == "acquire":
        return True
    b_r = not early_store            # an early load orders as a load, an early store as a store
    b_w = early_store
    fences = [X.after] + [f for y in range(x + 1, b) for f in (infos[y].before, infos[y].after)] + [B.before]
    for f in fences:
        if f == "mb" or (f == "rmb" and X.is_r) or (f == "wmb" and X.is_w and b_w):
            return True
    del b_r
    if early_store:
        if X.branches or X.guarded:
            return True
        if X.is_r and any(X.reg_w & infos[y].reg_r for y in range(x + 1, b)):
            return True
    return False


def forwarding_pairs(model: Model) -> list:
    """(thread, store step, load step) pairs of lockless steps where a load follows a store of the
    same location in straight-line code: outcomes in which the load reads the store early (before
    other threads see it) need store-to-load forwarding past the store, which is not modelled."""
    out = []
    shared = _shared_fields(model)
    for t in model.threads:
        steps = t.steps
        for i, st in enumerate(steps):
            m = st.mem
            if not isinstance(m, Mem):
                continue
            stored = (set(m.stores) | set(m.adds)) & shared
            for j in range(i + 1, len(steps)):
                if not isinstance(steps[j].mem, Mem):
                    break
                if stored & set(steps[j].mem.loads):
                    out.append((t.name, st.label, steps[j].label))
    return out


def lkmm_differences(model: Model) -> list:
    """Where a verdict of `model` (before the transformation) under `arm64` may rely on an ordering
    that the Linux-kernel memory model (LKMM) does not give. Three shapes, each a sentence:

    * a thread's lockless store and later lockless load with no full barrier between, ordered on
      arm64 only by a release then an acquire (RCsc on arm64, RCpc in LKMM) or only by steps without
      `mem` (the model takes them as full barriers: right for a TLB flush's DSB on arm64, not for
      lock operations under LKMM, whose spin_unlock()+spin_lock() orders no store before a load);
    * a thread that reads another's lockless store and passes it on with a lockless store that a third
      thread reads, without a cumulative barrier (WRC: ARMv8 is other-multi-copy-atomic, LKMM is not);
    * a thread that reads two fields stored locklessly by two different threads without a full
      barrier between (IRIW, the same reason).
    An empty list: the model's lockless steps use no ordering on which arm64 and LKMM differ (the
    litmus table in docs/memory-models.md: for the other two-thread shapes LKMM's verdicts are ARMv8's)."""
    shared = _shared_fields(model)
    locks = {n for n, f in model.fields.items() if f.is_lock}
    plans = []
    for t in model.threads:
        plans.append((t, [_Info(st, shared, locks) for st in t.steps]))
    buffered = {}
    lockless_loads = {}
    for t, infos in plans:
        for i in infos:
            if i.mem is not None:
                for f in i.stores | i.adds:
                    buffered.setdefault(f, set()).add(t.name)
                for f in i.loads:
                    lockless_loads.setdefault(f, set()).add(t.name)
    out = []
    for t, infos in plans:
        n = len(infos)
        for a in range(n):
            A = infos[a]
            if A.mem is None or not (A.stores or A.adds) or A.order == "mb" or A.after == "mb":
                continue
            for b in range(a + 1, n):
                B = infos[b]
                if B.mem is None or not B.loads:
                    continue
                between = infos[a + 1:b]
                fences = [A.after] + [f for y in between if y.mem is not None for f in (y.before, y.after)] + [B.before]
                if "mb" in fences or B.order == "mb" or any(y.mem is not None and y.order == "mb" for y in between):
                    continue
                why = []
                unmarked = [y.st.label for y in between if y.mem is None]
                if unmarked:
                    why.append("only the unmarked step(s) " + ", ".join(unmarked) + ", which the model takes "
                               "as full barriers")
                rel = [k for k, y in enumerate([A] + between) if y.mem is not None and y.order == "release"]
                acq = [k for k, y in enumerate(between + [B]) if y.mem is not None and y.order == "acquire"]
                if rel and acq and min(rel) <= max(acq):
                    why.append("a release then an acquire (RCsc on arm64, RCpc in LKMM)")
                if why:
                    out.append(f"{t.name}: {A.st.label} (store) before {B.st.label} (load): " + "; ".join(why))
    # other-multi-copy atomicity: a thread that reads another thread's lockless store and passes it
    # on with a lockless store a third thread reads locklessly, ordered only by what is not cumulative
    # in LKMM (dependencies, a plain po, an acquire)
    for t, infos in plans:
        n = len(infos)
        for a in range(n):
            A = infos[a]
            if A.mem is None:
                continue
            seen = {f for f in A.loads if buffered.get(f, set()) - {t.name}}
            if not seen:
                continue
            writers = set().union(*(buffered[f] - {t.name} for f in seen))
            for b in range(a + 1, n):
                B = infos[b]
                if B.mem is None:
                    break
                if not (B.stores | B.adds):
                    continue
                between = infos[a + 1:b]
                fences = [A.after] + [f for y in between for f in (y.before, y.after)] + [B.before]
                if "mb" in fences or B.order in ("release", "mb") or A.order == "mb":
                    continue
                readers = set().union(*(lockless_loads.get(f, set()) for f in B.stores | B.adds)) - {t.name} - writers
                if readers:
                    out.append(f"{t.name}: {A.st.label} reads {', '.join(sorted(seen))} stored locklessly by "
                               f"{', '.join(sorted(writers))} and {B.st.label} passes it on to "
                               f"{', '.join(sorted(readers))} without a cumulative barrier (multi-copy atomicity)")
    # independent reads of independent writes: a thread that loads two fields, each stored
    # locklessly by a different other thread, ordered only by an rmb, a dependency or an acquire
    for t, infos in plans:
        n = len(infos)
        for a in range(n):
            A = infos[a]
            if A.mem is None:
                continue
            for b in range(a + 1, n):
                B = infos[b]
                if B.mem is None:
                    break
                between = infos[a + 1:b]
                fences = [A.after] + [f for y in between for f in (y.before, y.after)] + [B.before]
                if "mb" in fences or A.order == "mb" or B.order == "mb":
                    continue
                for x in A.loads:
                    for y in B.loads - {x}:
                        wx, wy = buffered.get(x, set()) - {t.name}, buffered.get(y, set()) - {t.name}
                        if wx and wy and (wx | wy) - (wx & wy):
                            out.append(f"{t.name}: {A.st.label} and {B.st.label} read {x} and {y}, stored "
                                       f"locklessly by different threads, without a full barrier between "
                                       f"(multi-copy atomicity)")
    return sorted(set(out))


def _shared_fields(model: Model) -> set:
    who: dict[str, set] = {}
    for ti, t in enumerate(model.threads):
        for st in t.steps:
            for n in st.reads | st.writes:
                who.setdefault(n, set()).add(ti)
    return {n for n, ts in who.items() if len(ts) > 1}


# --------------------------------------------------------------------------------------------
# the transformation


def transform(model: Model, memory_model: str) -> Model:
    """`model` under `memory_model` (see the module doc); "sc" returns it unchanged."""
    check_memory_model(memory_model)
    if memory_model == "sc":
        return model
    arm = memory_model == "arm64"
    shared = _shared_fields(model)
    locks = {n for n, f in model.fields.items() if f.is_lock}
    out = Model(model.name, model.doc, model.knobs)
    out.fields = dict(model.fields)
    out.invariants = list(model.invariants)
    out.progress = list(model.progress)
    out.memoise = model.memoise
    out.locks_released_at_exit = model.locks_released_at_exit
    out.anchor_names = dict(model.anchor_names)
    out.memory_model = memory_model
    out.litmus = getattr(model, "litmus", None)
    plans = []
    for t in model.threads:
        infos = [_Info(st, shared, locks) for st in t.steps]
        if not any(i.mem is not None for i in infos):
            plans.append((t, None))
            continue
        buffered = sorted({f for i in infos for f in (i.stores | i.adds)})
        names = {}
        for key in ("storebuf", "early", "exited"):
            name = f"{t.name}_{key}".replace("-", "_").replace(".", "_")
            if name in out.fields:
                raise ModelError(f"memory model: field {name!r} already exists")
            names[key] = name
        out.field(names["storebuf"], EMPTY_BUF, doc=f"{t.name}: stores not yet visible to other CPUs")
        out.field(names["early"], NO_EARLY, doc=f"{t.name}: steps executed ahead of program order")
        out.field(names["exited"], False, doc=f"{t.name}: the thread has finished (its buffer may not)")
        plans.append((t, (infos, buffered, names)))
    # symmetric thread groups (verifier/symmetry.py) are kept only if no thread got a store buffer
    # or early steps (their new fields would have to be permuted with them)
    out.symmetries = list(getattr(model, "symmetries", [])) if all(p is None for _, p in plans) else []
    for t, plan in plans:
        nt = out.thread(t.name, t.doc)
        if plan is None:
            for st in t.steps:
                nt.steps.append(_copy(st))
            continue
        infos, buffered, names = plan
        _wrap_thread(nt, t, infos, names, arm)
    # atomic exchanges whose store is buffered (arm64): fields per thread, and their buffers
    xchg = {}
    for t, plan in plans:
        if plan is not None and plan[1] and arm:
            fs = {f for i in plan[0] if i.mem is not None for f in i.stores if f in i.st.reads}
            if fs:
                xchg[t.name] = (plan[2]["storebuf"], frozenset(fs))
    must_finish = {p.thread for p in model.progress if p.kind == FINISHES}
    for t, plan in plans:
        if plan is not None and plan[1]:
            others = tuple(v for k, v in xchg.items() if k != t.name)
            _propagation_thread(out, t, plan[1], plan[2], arm, others)
            if t.name in must_finish:
                # a thread that must finish must also publish its stores: every buffered store
                # becomes visible in finite time (x86 and ARMv8 both guarantee it); a run in which
                # the buffer never drains hides the thread's stores from every other CPU forever
                out.eventually_finishes(f"{t.name}_stores_become_visible", f"{t.name}~sb",
                                        f"every store {t.name} buffers eventually becomes visible to the "
                                        "other CPUs (its store buffer drains once it has finished)")
    if xchg:
        _guard_xchg_writers(out, xchg)
    return out


def _guard_xchg_writers(out: Model, xchg: dict) -> None:
    """While a thread's exchange of field f has its store in the buffer, no other thread's step
    writes f (its store would fall between the exchange's read and write)."""
    for t in out.threads:
        if t.name.endswith("~sb"):
            continue                     # propagation threads check it per entry
        conflicts = tuple((sb, frozenset(fs)) for k, (sb, fs) in xchg.items() if k != t.name)
        for st in t.steps:
            cs = tuple((sb, fs & st.writes) for sb, fs in conflicts if fs & st.writes)
            if not cs:
                continue
            old = st.guard

            def guard(s, cs=cs, old=old):
                for sb, fs in cs:
                    if any(_xchg_pending(getattr(s, sb), f) for f in fs):
                        return False
                return old is None or old(s)

            st.guard = guard
            st.reads = frozenset(st.reads | {sb for sb, _ in cs})


def _copy(st: Step, **kw) -> Step:
    d = dict(label=st.label, ref=st.ref, guard=st.guard, effect=st.effect, reads=st.reads,
             writes=st.writes, acquire=st.acquire, release=st.release, branches=st.branches, doc=st.doc,
             thread=st.thread, index=st.index, anchors=st.anchors, mem=st.mem)
    d.update(kw)
    return Step(**d)


def _wrap_thread(nt, t, infos, names, arm: bool) -> None:
    steps = t.steps
    n = len(steps)
    sb, early, exited = names["storebuf"], names["early"], names["exited"]
    labels = [st.label for st in steps] + [DONE]
    # candidates[p]: steps that may run (early) while the thread is at p: [(b, kind)]
    cand = [[] for _ in range(n)]
    if arm:
        for p in range(n):
            for b in range(p + 1, n):
                if infos[b - 1].mem is None:
                    break
                B = infos[b]
                if B.mem is None:
                    break
                if B.loads:
                    cand[p].append((b, "load"))
                elif ((B.stores or B.adds) and not B.atomic and not B.branches and not B.st.acquire
                      and not B.stores & B.st.reads):
                    cand[p].append((b, "store"))
    for p, st in enumerate(steps):
        info = infos[p]
        nxt = labels[p + 1]
        extra_r = {sb, early, exited}
        extra_w = {sb, early, exited}
        for b, kind in cand[p]:
            extra_r |= infos[b].st.reads
            if kind == "store":
                extra_w |= infos[b].st.writes - infos[b].stores - infos[b].adds
        code = _StepWrap(st, info, infos, p, nxt, sb, early, exited, arm, cand[p])
        direct_w = set(st.writes)          # buffered fields too: a barrier or TSO's locked add writes them at once
        new = _copy(st, guard=None if info.mem is not None else code.guard, effect=code.effect,
                    reads=frozenset(st.reads | extra_r),
                    writes=frozenset(direct_w | extra_w),
                    branches=tuple(dict.fromkeys(tuple(st.branches) + ((st.label,) if cand[p] else ()))))
        if info.mem is None:
            new.guard = code.guard
        nt.steps.append(new)


class _StepWrap:
    def __init__(self, st, info, infos, p, nxt, sb, early, exited, arm, cand):
        self.st, self.info, self.infos, self.p, self.nxt = st, info, infos, p, nxt
        self.sb, self.early, self.exited, self.arm, self.cand = sb, early, exited, arm, cand
        self.last = p == len(infos) - 1
        # TSO: an atomic read-modify-write (a value-less atomic, an xchg of a stored field, any atomic
        # write) is a locked instruction: it waits for the store buffer and writes memory at once
        self.tso_locked = (not arm and info.mem is not None
                           and bool(info.adds or (info.stores & st.reads) or (info.atomic and info.is_w)))

    # an unmarked step: a full barrier
    def guard(self, s):
        if getattr(s, self.sb):
            return False
        return self.st.guard is None or self.st.guard(s)

    def _finish(self, d: dict, s, e: Early) -> dict:
        target = d.get(GOTO, self.nxt)
        if target != self.nxt:
            if any(snap is None for _, _, snap in e):
                raise ModelError(f"memory model: thread {self.st.thread} branches at {self.st.label} past "
                                 f"a store executed early")
            e = NO_EARLY
        if e != getattr(s, self.early):
            d[self.early] = Early(e)
        if target == DONE:
            d[self.exited] = True
        return d

    def _may_run(self, s, buf) -> bool:
        info = self.info
        if info.mem is None:
            return not buf
        if buf and (info.before == "mb" or info.after == "mb" or info.order == "mb" or self.tso_locked
                    or (info.lock_write and not (self.arm and info.order == "acquire")
                        and not (not self.arm and info.private_unlock))):
            return False
        for e in buf:
            if e == "|":
                continue
            if e[0] in info.atomic:
                return False
            if self.arm and info.order == "acquire" and e[3]:
                return False
        return True

    def _buffers(self) -> bool:
        info = self.info
        if info.mem is None or info.order == "mb" or info.after == "mb" or self.tso_locked:
            return False
        return True

    def _run(self, s, view, buf, e: Early, snap) -> list:
        """The step itself at its program point: outcomes as dicts."""
        st, info = self.st, self.info
        over = {}
        if buf:
            pending = {e[0] for e in buf if e != "|"}
            for f in st.reads:
                if f in pending:
                    over[f] = _through(buf, f, getattr(s, f))
        if snap is not None:
            over.update(dict(snap))
        v = _Overlay(view, over) if over else view
        if st.guard is not None and not st.guard(v):
            if snap is not None:          # a stale early load: read again
                return self._run(s, view, buf, e, None)
            return []
        d = st.effect(v) if st.effect is not None else None
        outs = []
        buffers = self._buffers()
        for o in (d if isinstance(d, list) else [d]):
            o = dict(o or {})
            entries = list(buf)
            if buffers and (info.stores or info.adds):
                if self.arm and (info.order == "release" or info.before == "wmb"):
                    entries.append("|")
                rel = self.arm and info.order == "release"
                for f in sorted(info.stores):
                    if f in o:
                        entries.append((f, "=", o.pop(f), rel, f in st.reads))
                for f in sorted(info.adds):
                    if f in o:
                        delta = o.pop(f) - getattr(v, f)
                        if delta:
                            entries.append((f, "+", delta, rel, False))
                if self.arm and info.after == "wmb":
                    entries.append("|")
            elif self.arm and info.after == "wmb":
                entries.append("|")
            nb = _normalise(entries)
            if nb != buf:
                o[self.sb] = nb
            outs.append(self._finish(o, s, e))
        return outs

    def effect(self, s):
        buf = getattr(s, self.sb)
        e = getattr(s, self.early)
        info = self.info
        if info.mem is None:
            d = self.st.effect(s) if self.st.effect is not None else None
            return [self._finish(dict(o or {}), s, e) for o in (d if isinstance(d, list) else [d])]
        outs = []
        mine = [x for x in e if x[0] == self.p]
        rest = Early(x for x in e if x[0] != self.p)
        if mine and mine[0][2] is None:                   # executed early: just move on
            outs.append(self._finish({}, s, rest))
        elif self._may_run(s, buf):
            outs.extend(self._run(s, s, buf, rest, mine[0][2] if mine else None))
        # early actions of later steps
        done_early = {x[0] for x in e}
        for b, kind in self.cand:
            if b in done_early:
                continue
            pending = [x for x in range(self.p, b) if not any(y[0] == x and y[2] is None for y in e)]
            if any(_ppo(self.infos, x, b, kind == "store") for x in pending):
                continue
            B = self.infos[b]
            if kind == "load":
                snap = tuple((f, _through(buf, f, getattr(s, f))) for f in sorted(B.loads))
                ne = Early(sorted(e + ((b, B.st.label, snap),)))
                outs.append({self.early: ne, GOTO: self.st.label})
            else:
                for o in self._early_store(s, buf, B):
                    o[self.early] = Early(sorted(e + ((b, B.st.label, None),)))
                    o[GOTO] = self.st.label
                    outs.append(o)
        return outs

    def _early_store(self, s, buf, B) -> list:
        st = B.st
        if buf:
            over = {f: _through(buf, f, getattr(s, f)) for f in st.reads}
            v = _Overlay(s, over)
        else:
            v = s
        if st.guard is not None and not st.guard(v):
            return []
        d = st.effect(v) if st.effect is not None else None
        if isinstance(d, list):
            raise ModelError(f"memory model: step {st.label} has several outcomes: it cannot run early")
        o = dict(d or {})
        if GOTO in o:
            return []
        entries = list(buf)
        for f in sorted(B.stores):
            if f in o:
                entries.append((f, "=", o.pop(f), False, False))
        for f in sorted(B.adds):
            if f in o:
                delta = o.pop(f) - getattr(v, f)
                if delta:
                    entries.append((f, "+", delta, False, False))
        nb = _normalise(entries)
        if nb != buf:
            o[self.sb] = nb
        return [o]


def _propagation_thread(out: Model, t, buffered, names, arm: bool, others=()) -> None:
    """`others`: (store buffer, xchg fields) of the other threads: a store to a field another
    thread has exchanged, its store still buffered, waits (an atomic exchange reads the value its
    store replaces: no other store may come between them in the coherence order)."""
    sb, exited = names["storebuf"], names["exited"]
    name = f"{t.name}~sb"
    pt = out.thread(name, f"{t.name}'s store buffer: a buffered store becomes visible to every other CPU")
    pt.lock_owner = [x.name for x in out.threads].index(t.name) + 1    # a buffered unlock is t's

    def propagate(s):
        buf = getattr(s, sb)
        if not buf:
            return {GOTO: DONE} if getattr(s, exited) else []
        outs = []
        for i, e in enumerate(buf):
            if e == "|":
                if arm:
                    break          # nothing after a marker before what precedes it
                continue
            f, op, v, rel, _ = e
            if any(x != "|" and x[0] == f for x in buf[:i]):
                continue
            if any(_xchg_pending(getattr(s, osb), f) for osb, fs in others if f in fs):
                continue
            if rel and any(x != "|" for x in buf[:i]):
                continue
            new = getattr(s, f)
            new = v if op == "=" else new + v
            outs.append({f: new, sb: _normalise(buf[:i] + buf[i + 1:]), GOTO: "propagate"})
            if not arm:
                break              # TSO: first in, first out
        return outs

    pt.step("propagate", f"[{'arm64' if arm else 'TSO'}: a store of {t.name} becomes visible to other CPUs]",
            effect=propagate, reads=[sb, exited] + list(buffered) + [osb for osb, _ in others],
            writes=[sb] + list(buffered),
            branches=["propagate", DONE])
