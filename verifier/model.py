"""The modelling API: interleavable transition systems built from threads of labelled atomic steps.

A model is a flat record of named fields (the state schema), a set of threads, invariants that must
hold in every reachable state and final predicates that must hold when every thread has finished.
A thread is a sequence of labelled steps, as in PlusCal: a step is atomic, has a guard (is it
enabled?), an effect (the fields it changes, optionally a jump to another label, or a list of
alternative outcomes for a nondeterministic choice), a declared footprint (the fields it reads and
writes; partial-order reduction relies on it, and `check_footprints` verifies it) and the kernel
reference it models (`mm/memory.c:do_swap_page: swap_free(entry)`).

Locks are first-class: a lock is a field holding its owner; a step that acquires a lock is enabled
only while the lock is free, so holding a lock across steps makes a region atomic for every other
step that takes the same lock.

Knobs select historical kernel behaviour; a model builder is a function of the knob values, and a
variant (in the scenario registry) is a named knob set standing for a kernel commit or release.

Hot path: a state is a tuple subclass (one slot per field, then one program counter per thread) with
read-only properties per field name, so model code reads `s.pte` while the explorer hashes plain
tuples. Effects return a dict of the fields they change; a compiled step applies it to a list copy.
"""

from __future__ import annotations

import functools

import inspect
from dataclasses import dataclass, field as dc_field
from operator import itemgetter
from typing import Any, Callable, Iterable, Mapping, Sequence

from .kref import KernelRef, parse_ref

__all__ = [
    "GOTO", "DONE", "FREE", "Knob", "Knobs", "Model", "Thread", "Step", "Invariant",
    "CompiledModel", "ModelError", "KnobError", "builder", "check_footprints", "KernelRef",
]

GOTO = "goto"        # key of an effect's dict that names the label to jump to
from .errors import BadInput

DONE = "done"        # the label a thread ends at
FREE = 0             # value of a lock field that nobody holds
_MISSING = object()


class ModelError(BadInput):
    """A model is malformed: a user's model is bad input (exit 2); the shipped models are tested
    so that they never raise it."""


class KnobError(BadInput, ValueError):
    """A knob name or value a user gave is not valid for the model."""


# --------------------------------------------------------------------------------------------
# Knobs


@dataclass(frozen=True)
class Knob:
    """A switch selecting historical behaviour, e.g. `swap_out.remember_exclusive` (bool)."""

    name: str
    default: Any
    doc: str = ""
    domain: tuple = ()          # allowed values; empty means bool
    # the order of two anchor calls this knob chooses (`pteverify anchors` says which value a kernel
    # tree corresponds to): pairs of call names, e.g. (("arch_swap_restore", "swap_free"),)
    orders: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "orders", tuple(tuple(p) for p in self.orders))
        if any(len(p) != 2 or not all(isinstance(n, str) and n.isidentifier() for n in p) for p in self.orders):
            raise ModelError(f"knob {self.name}: orders must be pairs of call names")
        if not self.domain:
            if not isinstance(self.default, bool):
                raise ModelError(f"knob {self.name}: a non-bool knob needs a domain")
            object.__setattr__(self, "domain", (False, True))
        if self.default not in self.domain:
            raise ModelError(f"knob {self.name}: default {self.default!r} not in its domain")

    def parse(self, text: str) -> Any:
        """Parse a command-line value (`--set name=text`)."""
        if isinstance(text, str):
            low = text.strip().lower()
            for value in self.domain:
                if isinstance(value, bool):
                    if low in (("true", "1", "yes", "on") if value else ("false", "0", "no", "off")):
                        return value
                elif str(value).lower() == low:
                    return value
        elif text in self.domain:
            return text
        allowed = ", ".join(_fmt_value(v) for v in self.domain)
        raise KnobError(f"knob {self.name}: value {text!r} is not one of {allowed}")

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) != all(isinstance(v, bool) for v in self.domain) or value not in self.domain:
            return self.parse(value if not isinstance(value, bool) else str(value))
        return value


def _fmt_value(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


class Knobs(Mapping):
    """The knob values a model is built with: defaults overridden by a variant and by `--set`."""

    def __init__(self, declared: Sequence[Knob], values: Mapping[str, Any] | None = None):
        self.arch = None        # a swap-PTE layout the model encodes its swap PTEs with (run --arch)
        self.memory_model = "sc"  # the memory model the built model runs under (verifier/memmodel.py)
        self.declared = {k.name: k for k in declared}
        self._values = {k.name: k.default for k in declared}
        for name, value in (values or {}).items():
            self.set(name, value)

    def set(self, name: str, value: Any) -> None:
        knob = self.declared.get(name)
        if knob is None:
            known = ", ".join(sorted(self.declared)) or "none"
            raise KnobError(f"unknown knob {name!r} (this scenario's knobs: {known})")
        self._values[name] = knob.check(value)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise ModelError(f"model reads undeclared knob {name!r}") from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def non_default(self) -> dict:
        return {n: v for n, v in self._values.items() if v != self.declared[n].default}


def builder(*knobs: Knob, arch: bool = False):
    """Mark a function `build(knobs) -> Model` as a model builder with the knobs it reads; `arch`:
    it honours `knobs.arch` (a swap-PTE layout to encode its swap PTEs with)."""

    def mark(fn):
        fn.knobs = tuple(knobs)
        fn.arch_aware = arch
        return fn

    return mark


# --------------------------------------------------------------------------------------------
# Schema, steps, threads


@dataclass
class FieldDef:
    name: str
    init: Any
    domain: tuple | None
    doc: str
    is_lock: bool = False
    ghost: bool = False          # an observation for the checks (what happened), not modelled state


@dataclass
class Step:
    """One atomic step of a thread."""

    label: str
    ref: str                                  # kernel function and call it models
    guard: Callable | None = None             # state -> bool; None: always enabled
    effect: Callable | None = None            # state -> dict | list[dict] | None
    reads: frozenset = frozenset()
    writes: frozenset = frozenset()
    acquire: tuple = ()                       # locks taken (step waits while any is held)
    release: tuple = ()                       # locks dropped
    branches: tuple = ()                      # labels the effect may jump to with GOTO
    doc: str = ""
    thread: str = ""
    index: int = -1
    anchors: KernelRef | None = None          # explicit structure of `ref` (else parsed from it)
    mem: Any = None                           # lockless accesses and barriers (verifier/memmodel.Mem)

    @property
    def kernel(self) -> KernelRef | None:
        """File, function and anchor calls of the kernel code this step models (None: not kernel
        code, e.g. a user-space access)."""
        return self.anchors if self.anchors is not None else parse_ref(self.ref)

    @property
    def footprint_reads(self) -> frozenset:
        return self.reads | frozenset(self.acquire) | frozenset(self.release)

    @property
    def footprint_writes(self) -> frozenset:
        return self.writes | frozenset(self.acquire) | frozenset(self.release)


class Thread:
    def __init__(self, model: "Model", name: str, doc: str = ""):
        self.model = model
        self.name = name
        self.doc = doc
        self.steps: list[Step] = []

    def step(self, label: str, ref: str, *, guard: Callable | None = None,
             effect: Callable | None = None, reads: Iterable[str] = (), writes: Iterable[str] = (),
             acquire: str | Iterable[str] = (), release: str | Iterable[str] = (),
             branches: Iterable[str] = (), doc: str = "", anchors: KernelRef | None = None,
             mem: Any = None) -> "Thread":
        """Append a step. `reads`/`writes` are the fields the guard and effect touch (locks named in
        `acquire`/`release` are added to the footprint automatically). `anchors`: the kernel file,
        function and calls the step stands for, where `ref` is not of the regular form. `mem`: the
        step's lockless accesses and barriers (verifier/memmodel.Mem); without it the step is
        ordered like a locked section under every memory model."""
        acquire = (acquire,) if isinstance(acquire, str) else tuple(acquire)
        release = (release,) if isinstance(release, str) else tuple(release)
        # the labels so far, kept beside the list (rebuilt if the list was replaced or grown directly)
        seen = self.__dict__.get("_labels")
        if seen is None or seen[0] is not self.steps or len(seen[1]) != len(self.steps):
            seen = self._labels = (self.steps, {st.label for st in self.steps})
        if label in seen[1]:
            raise ModelError(f"thread {self.name}: duplicate label {label!r}")
        seen[1].add(label)
        self.steps.append(Step(label=label, ref=ref, guard=guard, effect=effect,
                               reads=frozenset(reads), writes=frozenset(writes),
                               acquire=acquire, release=release, branches=tuple(branches), doc=doc,
                               thread=self.name, index=len(self.steps), anchors=anchors, mem=mem))
        return self


@dataclass
class Invariant:
    name: str
    fn: Callable
    reads: frozenset
    doc: str = ""
    final: bool = False          # checked only on terminal states where every thread is done
    witness: bool = False        # a reachable outcome: SOME terminal state satisfies it (Model.reachable)


class Model:
    """A model under construction. Call `compile()` (done by the explorer) to freeze it."""

    def __init__(self, name: str, doc: str = "", knobs: Knobs | None = None):
        self.name = name
        self.doc = doc
        self.knobs = knobs
        self.fields: dict[str, FieldDef] = {}
        self.threads: list[Thread] = []
        self.invariants: list[Invariant] = []
        # Steps' guards and effects read only their declared footprint, so their outcomes are
        # memoised by it. A model whose steps look at more (instrumented or mutated copies built by
        # verifier/mutate.py) sets this to False: its steps then see, and run on, every state.
        self.memoise = True
        # a thread never ends holding a lock: checked on terminal states (final `locks_released`)
        self.locks_released_at_exit = True
        self.anchor_names: dict[str, tuple] = {}     # call -> the names it has in other kernels
        self.progress: list = []      # progress properties (verifier/progress.py), weak fairness
        self.symmetries: list = []    # symmetric thread groups (verifier/symmetry.py), `symmetric()`

    def renamed(self, call: str, *names: str) -> None:
        """Anchor call `call` is called `names` in other kernels (`swap_free` became
        `folio_put_swap`): a tree calling any of them has the anchor."""
        if not all(isinstance(n, str) and n.isidentifier() for n in (call,) + names):
            raise ModelError(f"renamed({call!r}, ...): call names must be C identifiers")
        self.anchor_names[call] = tuple(dict.fromkeys(self.anchor_names.get(call, ()) + names))

    def field(self, name: str, init: Any, domain: Iterable | None = None, doc: str = "",
              ghost: bool = False) -> str:
        """A state field; `ghost`: it records what happened for the invariants to read (a completed
        write, the page a DMA landed in) rather than modelling kernel state (mutate keeps its writes
        when it removes a call's effect)."""
        if not name.isidentifier() or name.startswith("_") or name in (GOTO,):
            raise ModelError(f"field name {name!r} must be an identifier not starting with _")
        if name in self.fields:
            raise ModelError(f"duplicate field {name!r}")
        dom = tuple(domain) if domain is not None else None
        if dom is not None and init not in dom:
            raise ModelError(f"field {name}: initial value {init!r} not in its domain")
        self.fields[name] = FieldDef(name, init, dom, doc, ghost=ghost)
        return name

    def lock(self, name: str, doc: str = "") -> str:
        """A lock: the field holds FREE or the 1-based index of the owning thread."""
        self.field(name, FREE, None, doc)
        self.fields[name].is_lock = True
        return name

    def thread(self, name: str, doc: str = "") -> Thread:
        if any(t.name == name for t in self.threads):
            raise ModelError(f"duplicate thread {name!r}")
        t = Thread(self, name, doc)
        self.threads.append(t)
        return t

    def invariant(self, name: str, fn: Callable, reads: Iterable[str], doc: str = "") -> None:
        self.invariants.append(Invariant(name, fn, frozenset(reads), doc or (fn.__doc__ or "").strip()))

    def final(self, name: str, fn: Callable, reads: Iterable[str], doc: str = "") -> None:
        """A predicate on terminal states in which every thread has finished."""
        self.invariants.append(Invariant(name, fn, frozenset(reads), doc or (fn.__doc__ or "").strip(),
                                         final=True))

    def reachable(self, name: str, fn: Callable, reads: Iterable[str], doc: str = "") -> None:
        """A reachable outcome: some terminal state in which every thread has finished satisfies
        `fn` (an existential property, the dual of `final`). It does not change the verdict of a
        search: the explorer records which outcomes its terminal states meet
        (`CompiledModel.witnessed`) and `check` / `mutate` fail a holding variant in which one is
        never reached (`unreached_outcomes()` in verifier/explore.py): the model is then stronger
        than what it stands for (a litmus test that misses an outcome its memory model allows)."""
        self.invariants.append(Invariant(name, fn, frozenset(reads), doc or (fn.__doc__ or "").strip(),
                                         final=True, witness=True))

    def eventually_finishes(self, name: str, thread: str, doc: str = "") -> None:
        """Progress: under weak fairness, every run takes `thread` to its end (no retry loop
        keeps it forever)."""
        from .progress import FINISHES, ProgressProperty
        self.progress.append(ProgressProperty(name, FINISHES, thread=thread, doc=doc))

    def eventually_fires(self, name: str, thread: str, label: str, doc: str = "") -> None:
        """Progress: under weak fairness, every run fires step `thread.label`."""
        from .progress import FIRES, ProgressProperty
        self.progress.append(ProgressProperty(name, FIRES, thread=thread, label=label, doc=doc))

    def no_progress_cycle(self, name: str, progress: Iterable[tuple[str, str]], doc: str = "") -> None:
        """Progress: no fair infinite run avoids every step in `progress` [(thread, label)] from some
        point on (SPIN's non-progress cycles, with progress labels)."""
        from .progress import NPC, ProgressProperty
        self.progress.append(ProgressProperty(name, NPC, progress=tuple(tuple(p) for p in progress),
                                              doc=doc))

    def symmetric(self, threads: Sequence[str], fields: Iterable[Sequence[str]] = ()) -> None:
        """Declare `threads` interchangeable: the same code on the same data, each with its own copy
        of the per-thread `fields` (one tuple per local, the field of each thread in `threads` order:
        `[("fault0_page", "fault1_page"), ...]`). Lock fields owned by one of them are permuted with
        them. Invariants and final predicates must not tell them apart. Used by
        `explore(symmetry=True)`; checked by verifier/symmetry.py (see there)."""
        from .symmetry import SymmetryGroup
        self.symmetries.append(SymmetryGroup(tuple(threads), tuple(tuple(f) for f in fields)))

    def compile(self, reset_dead: bool = False) -> "CompiledModel":
        """Freeze the model. `reset_dead`: dead-variable reduction (see CompiledModel.dead_resets)."""
        return CompiledModel(self, reset_dead)


# --------------------------------------------------------------------------------------------
# The frozen model the explorer runs


class CompiledModel:
    """A frozen model: state class, compiled steps, successor function."""

    def __init__(self, model: Model, reset_dead: bool = False):
        self.model = model
        self.reset_dead = reset_dead
        self._dead_variant = None
        self.name = model.name
        self.fields = list(model.fields.values())
        self.field_names = [f.name for f in self.fields]
        self.threads = list(model.threads)
        self.thread_names = [t.name for t in self.threads]
        if not self.threads:
            raise ModelError(f"model {self.name} has no threads")
        nf = len(self.fields)
        self.index = {n: i for i, n in enumerate(self.field_names)}
        self.pc_index = [nf + i for i in range(len(self.threads))]
        self.invariants = [i for i in model.invariants if not i.final]
        self.finals = [i for i in model.invariants if i.final and not i.witness] + self._lock_final(model)
        self.witnesses = [i for i in model.invariants if i.witness]
        self.witnessed: set = set()     # names of the witnesses met by the last search's terminal states
        self._validate()
        self.progress = list(getattr(model, "progress", ()))
        if self.progress:
            from .progress import validate
            for prop in self.progress:
                validate(self, prop)
        self.State = self._state_class()
        self.done_pc = [len(t.steps) for t in self.threads]
        self.initial = self.State(tuple(f.init for f in self.fields) + (0,) * len(self.threads))
        self.dead = self.dead_resets() if reset_dead else None
        # per thread, per pc: the compiled step (StepCode; `_fire` is the table of their fire functions)
        self._field_set = frozenset(self.field_names)
        self.code = []
        for ti, t in enumerate(self.threads):
            labels = {st.label: st.index for st in t.steps}
            labels[DONE] = len(t.steps)
            self.code.append([self._compile_step(ti, st, labels) for st in t.steps])
        self._packed = None
        self._inv_idx = tuple(sorted({self.index[n] for inv in self.invariants for n in inv.reads}))
        self._InvView = _view_class("invariant_view", [self.field_names[i] for i in self._inv_idx])
        self._inv_key = (itemgetter(*self._inv_idx) if self._inv_idx else (lambda s: ()))
        self._inv_memo: dict = {}
        self.steps = [st for t in self.threads for st in t.steps]
        # declared symmetric thread groups, checked (verifier/symmetry.py); None: none declared
        self.symmetry = None
        if getattr(model, "symmetries", None):
            from .symmetry import Symmetry
            self.symmetry = Symmetry(self)

    def _lock_final(self, model: Model) -> list:
        """Once every thread has finished no lock may be held: a lock left taken (an unlock missed
        on some path) would hang the next task that takes it, so it is a violation here already."""
        locks = [i for i, f in enumerate(self.fields) if f.is_lock]
        if not locks or not getattr(model, "locks_released_at_exit", True):
            return []
        names = frozenset(self.field_names[i] for i in locks)

        def released(s):
            return all(s[i] == FREE for i in locks)

        return [Invariant("locks_released", released, names,
                          "every lock is free once every thread has finished", final=True)]

    # -- validation -------------------------------------------------------------------------
    def _validate(self) -> None:
        names = set(self.field_names)
        for t in self.threads:
            labels = {st.label for st in t.steps} | {DONE}
            for st in t.steps:
                where = f"model {self.name}, thread {t.name}, step {st.label}"
                for n in st.reads | st.writes:
                    if n not in names:
                        raise ModelError(f"{where}: footprint names unknown field {n!r}")
                for n in st.acquire + st.release:
                    if n not in names or not self.model.fields[n].is_lock:
                        raise ModelError(f"{where}: {n!r} is not a lock")
                for b in st.branches:
                    if b not in labels:
                        raise ModelError(f"{where}: branch to unknown label {b!r}")
                if not st.ref:
                    raise ModelError(f"{where}: missing kernel reference")
        for inv in self.model.invariants:
            for n in inv.reads:
                if n not in names:
                    raise ModelError(f"invariant {inv.name}: reads unknown field {n!r}")

    # -- state class ------------------------------------------------------------------------
    def _state_class(self):
        ns: dict[str, Any] = {"__slots__": ()}
        for i, n in enumerate(self.field_names):
            ns[n] = property(itemgetter(i))
        cm = self

        def as_dict(self):
            return dict(zip(cm.field_names, self))

        def __repr__(self):
            pcs = ", ".join(f"{t}@{cm.label_at(ti, self)}" for ti, t in enumerate(cm.thread_names))
            return f"<{cm.name} {as_dict(self)} {pcs}>"

        ns["as_dict"] = as_dict
        ns["__repr__"] = __repr__
        return type(f"{self.name.replace('-', '_')}_State", (tuple,), ns)

    def make_state(self, values: Mapping[str, Any], pcs: Sequence[int] | None = None):
        row = [values.get(n, f.init) for n, f in zip(self.field_names, self.fields)]
        return self.State(tuple(row) + tuple(pcs or (0,) * len(self.threads)))

    # -- step compilation -------------------------------------------------------------------
    def _compile_step(self, ti: int, st: Step, labels: dict | None = None):
        """Compile one step into a `StepCode`: its outcomes are a function of the values of the
        fields it declares it reads, so they are computed once per distinct read-set value (on a
        read-only view that has only those fields) and then applied from a memo."""
        return StepCode(self, ti, st, labels, getattr(self, "_field_set", None))

    # -- dead-variable reduction -------------------------------------------------------------
    def dead_resets(self) -> list[list[tuple]]:
        """Per thread and program counter, the (slot, initial value) of the thread's private fields
        that are dead there: no step the thread can still take reads them, no other thread's step
        touches them and no invariant or final predicate reads them. Resetting them merges states
        that differ only in values nothing will look at again (SPIN's dead-variable reduction).
        Declared writes are may-writes, so a write never kills a value: dead means no future read."""
        touched: dict[str, set] = {}
        for ti, t in enumerate(self.threads):
            for st in t.steps:
                for n in st.footprint_reads | st.footprint_writes:
                    touched.setdefault(n, set()).add(ti)
        observed = {n for inv in self.model.invariants for n in inv.reads}
        out = []
        for ti, t in enumerate(self.threads):
            private = [n for n, who in touched.items() if who == {ti} and n not in observed
                       and not self.model.fields[n].is_lock]
            labels = {st.label: st.index for st in t.steps}
            succ = [{st.index + 1} | {labels.get(b, len(t.steps)) for b in st.branches} for st in t.steps]
            # reads[pc]: private fields read by a step reachable from pc (pc included); fixpoint
            reads = [set() for _ in range(len(t.steps) + 1)]
            changed = True
            while changed:
                changed = False
                for st in reversed(t.steps):
                    r = {n for n in private if n in st.footprint_reads}
                    for x in succ[st.index]:
                        r |= reads[x]
                    if r != reads[st.index]:
                        reads[st.index] = r
                        changed = True
            out.append([tuple((self.index[n], self.model.fields[n].init) for n in private if n not in reads[pc])
                        for pc in range(len(t.steps) + 1)])
        return out

    def with_dead_reset(self) -> "CompiledModel":
        """This model compiled with dead-variable reduction (built once)."""
        if self.reset_dead:
            return self
        if self._dead_variant is None:
            dead = CompiledModel(self.model, reset_dead=True)
            # what was attached to this compiled model after compile (a scenario file's [[progress]]
            # properties, a test's choice of checks) holds for the reduced form too
            dead.progress = list(self.progress)
            dead.invariants = list(self.invariants)
            dead.finals = list(self.finals)
            dead.witnesses = list(self.witnesses)
            self._dead_variant = dead
        return self._dead_variant

    # -- queries the explorer uses ----------------------------------------------------------
    @functools.cached_property
    def _fire(self) -> list:
        """Per thread: tuple indexed by pc of `fire(state) -> list of successors` (the tuple-state
        searches'; built on first use: the packed searches never need it)."""
        return [tuple(c.fire for c in codes) + (None,) for codes in self.code]

    def packed(self):
        """The packed-state form of this model (verifier/packed.py), built once; its memos live
        as long as this compiled model."""
        if self._packed is None:
            from .packed import PackedModel
            self._packed = PackedModel(self)
        return self._packed

    def successors(self, s) -> list:
        """All (thread index, successor) pairs of state `s`."""
        out = []
        for ti, pci in enumerate(self.pc_index):
            f = self._fire[ti][s[pci]]
            if f is not None:
                for n in f(s):
                    out.append((ti, n))
        return out

    def fire(self, ti: int, s) -> list:
        f = self._fire[ti][s[self.pc_index[ti]]]
        return f(s) if f is not None else []

    def step_at(self, ti: int, s) -> Step | None:
        pc = s[self.pc_index[ti]]
        steps = self.threads[ti].steps
        return steps[pc] if pc < len(steps) else None

    def label_at(self, ti: int, s) -> str:
        st = self.step_at(ti, s)
        return st.label if st else DONE

    def all_done(self, s) -> bool:
        return all(s[p] == d for p, d in zip(self.pc_index, self.done_pc))

    def check_invariants(self, s) -> Invariant | None:
        """The first invariant that breaks at `s`, or None; memoised by the values of the fields
        the invariants declare they read (they are given a view with only those)."""
        key = self._inv_key(s)
        r = self._inv_memo.get(key, _MISSING)
        if r is _MISSING:
            view = tuple.__new__(self._InvView, key if len(self._inv_idx) != 1 else (key,))
            r = None
            for inv in self.invariants:
                try:
                    ok = inv.fn(view)
                except AttributeError as e:
                    if getattr(e, "name", None) in self.index:
                        raise ModelError(f"invariant {inv.name}: reads field {e.name!r} outside its "
                                         f"declared reads") from None
                    raise
                if not ok:
                    r = inv
                    break
            if len(self._inv_memo) < 1 << 17:
                self._inv_memo[key] = r
        return r

    def check_finals(self, s) -> Invariant | None:
        """The first final predicate terminal state `s` breaks, or None; records the reachable
        outcomes (`witnesses`) `s` meets in `witnessed`."""
        for w in self.witnesses:
            if w.name not in self.witnessed and w.fn(s):
                self.witnessed.add(w.name)
        for inv in self.finals:
            if not inv.fn(s):
                return inv
        return None

    def describe_value(self, name: str, value: Any) -> str:
        if self.model.fields[name].is_lock:
            return "free" if value == FREE else f"held by {self.thread_names[value - 1]}"
        return _fmt_value(value)


# --------------------------------------------------------------------------------------------
# Compiled steps


def _view_class(name: str, names: Sequence[str]):
    """A tuple subclass with one read-only property per name: what a guard or effect sees. Built
    once per (name, names): the variants of a scenario share their steps' views."""
    return _view_class_of(name, tuple(names))


@functools.lru_cache(maxsize=4096)
def _view_class_of(name: str, names: tuple):
    ns: dict[str, Any] = {"__slots__": ()}
    for j, n in enumerate(names):
        ns[n] = property(itemgetter(j))
    return type(name, (tuple,), ns)


class StepCode:
    """One step, compiled. A step's guard and effect may read only the fields of its declared
    footprint (check_footprints verifies it on the model's states, and the view they are given has
    no other field), so its outcomes are a function of those fields' values: `outcomes(view)`
    computes them once per distinct read-set value, as (slot, value) writes with the new program
    counter, and both searches apply them from a memo. `fire(state)` gives the successor states."""

    def __init__(self, cm: "CompiledModel", ti: int, st: Step, labels: dict | None = None,
                 field_names: frozenset | None = None):
        t = cm.threads[ti]
        index = cm.index
        self.step = st
        self.ti = ti
        self.where = f"thread {t.name}, step {st.label}"
        if labels is None:                      # shared by the steps of a thread (read only)
            labels = {s.label: s.index for s in t.steps}
            labels[DONE] = len(t.steps)
        self.labels = labels
        self.branches = frozenset(st.branches)
        self.pc_slot = cm.pc_index[ti]
        self.next_pc = st.index + 1
        self.field_names = field_names if field_names is not None else frozenset(cm.field_names)
        self.read_names = tuple(sorted(st.footprint_reads, key=index.__getitem__))
        self.read_idx = tuple(index[n] for n in self.read_names)
        self.View = _view_class(f"{st.label}_view", self.read_names)
        self.acq_view = tuple(self.read_names.index(n) for n in st.acquire)
        self.acq_idx = tuple(index[n] for n in st.acquire)
        locks = set(st.acquire) | set(st.release)
        # a lock the step takes or drops is written by the lock machinery, not by the effect
        # (a lock taken and dropped by the same step ends free: one write per lock slot, so the
        # tuple and the packed successors agree)
        self.lock_writes = (tuple((index[n], ti + 1) for n in st.acquire if n not in st.release)
                            + tuple((index[n], FREE) for n in st.release))
        self.writes = tuple((n, index[n]) for n in sorted(st.writes, key=index.__getitem__) if n not in locks)
        self.write_slots = frozenset([i for _, i in self.writes] + [i for i, _ in self.lock_writes]
                                     + [self.pc_slot])
        self.memo: dict = {}
        # dead-variable reduction: per target pc, the private fields to reset (see dead_resets)
        self.dead = cm.dead[ti] if cm.dead is not None else None
        self.memoise = cm.model.memoise
        self._State = cm.State

    @functools.cached_property
    def fire(self):
        """`fire(state) -> list of successor states` (built on first use: only the tuple-state
        searches and trace reconstruction call it)."""
        return self._make_fire(self._State) if self.memoise else self._raw_fire(self._State)

    # the guard and effect, on a view (or, for check_footprints, any object with the fields)
    def evaluate(self, s) -> tuple:
        st = self.step
        try:
            if st.guard is not None and not st.guard(s):
                return ()
            d = st.effect(s) if st.effect is not None else None
        except AttributeError as e:
            name = getattr(e, "name", None)
            if name in self.field_names and name not in self.read_names:
                raise ModelError(f"{self.where}: reads field {name!r} outside its declared footprint "
                                 f"(reads: {', '.join(self.read_names) or 'none'})") from None
            raise
        out = []
        for d in (d if d.__class__ is list else (d,)):
            pc = self.next_pc
            w = []
            if d:
                if GOTO in d:
                    target = d[GOTO]
                    if target not in self.branches:
                        raise ModelError(f"{self.where}: jump to undeclared label {target!r}")
                    pc = self.labels[target]
                for n, i in self.writes:
                    if n in d:
                        w.append((i, d[n]))
            w.extend(self.lock_writes)
            if self.dead is not None and self.dead[pc]:
                resets = self.dead[pc]
                slots = {i for i, _ in resets}
                w = [x for x in w if x[0] not in slots]
                w.extend(resets)
            w.append((self.pc_slot, pc))
            out.append(tuple(w))
        return tuple(out)

    def outcomes(self, view) -> tuple:
        """The step's outcomes at a state whose read-set values are `view` (empty: disabled)."""
        for j in self.acq_view:
            if view[j] != FREE:
                return ()
        return self.evaluate(view)

    def raw_outcomes(self, s) -> tuple:
        """The same on a full state, with no memo and no view (check_footprints explores a model
        whose footprints may be wrong with this)."""
        for i in self.acq_idx:
            if s[i] != FREE:
                return ()
        return self.evaluate(s)

    def _make_fire(self, State):
        memo = self.memo
        outcomes = self.outcomes
        View = self.View
        new = tuple.__new__
        ridx = self.read_idx
        if not ridx:
            getkey, wrap = (lambda s: ()), (lambda k: k)
        elif len(ridx) == 1:
            getkey, wrap = itemgetter(ridx[0]), (lambda k: (k,))
        else:
            getkey, wrap = itemgetter(*ridx), (lambda k: k)

        def fire(s):
            key = getkey(s)
            outs = memo.get(key)
            if outs is None:
                outs = memo[key] = outcomes(new(View, wrap(key)))
            res = []
            for w in outs:
                row = list(s)
                for i, v in w:
                    row[i] = v
                res.append(new(State, row))
            return res

        return fire

    def _raw_fire(self, State):
        raw = self.raw_outcomes
        new = tuple.__new__

        def fire(s):
            res = []
            for w in raw(s):
                row = list(s)
                for i, v in w:
                    row[i] = v
                res.append(new(State, row))
            return res

        return fire

    def __call__(self, s) -> list:
        return self.fire(s)


# --------------------------------------------------------------------------------------------
# Footprint checking: no step may touch a field outside its declared footprint


class _Recorder:
    """Reads a state by field name and records which fields were read."""

    __slots__ = ("_s", "_reads", "_index")

    def __init__(self, s, index):
        self._s = s
        self._reads = set()
        self._index = index

    def __getattr__(self, name):
        i = self._index.get(name)
        if i is None:
            raise AttributeError(name)
        self._reads.add(name)
        return self._s[i]

    def __getitem__(self, key):
        raise ModelError("model code must read fields by name, not by index")


@dataclass
class FootprintViolation:
    thread: str
    label: str
    kind: str           # "read" | "write" | "domain" | "lock"
    fields: tuple
    state: Any = dc_field(repr=False, default=None)

    def __str__(self):
        return f"{self.thread}.{self.label}: undeclared {self.kind} of {', '.join(self.fields)}"


def check_footprints(cm: CompiledModel, max_states: int = 20000) -> list[FootprintViolation]:
    """Explore up to `max_states` states and run every step's guard and effect through a recorder;
    report reads and writes outside the declared footprint, values outside a field's domain, and
    invariants reading undeclared fields."""
    found: dict[tuple, FootprintViolation] = {}

    def note(v: FootprintViolation):
        found.setdefault((v.thread, v.label, v.kind, v.fields), v)

    seen = {cm.initial}
    queue = [cm.initial]
    head = 0
    while head < len(queue) and len(seen) <= max_states:
        s = queue[head]
        head += 1
        for inv in cm.model.invariants:
            r = _Recorder(s, cm.index)
            inv.fn(r)
            extra = r._reads - inv.reads
            if extra:
                note(FootprintViolation("invariant", inv.name, "read", tuple(sorted(extra)), s))
        for ti, t in enumerate(cm.threads):
            st = cm.step_at(ti, s)
            if st is None:
                continue
            if any(s[cm.index[lk]] != FREE for lk in st.acquire):
                continue
            for lk in st.release:
                if s[cm.index[lk]] != ti + 1 and lk not in st.acquire:     # taken and dropped in one step
                    note(FootprintViolation(t.name, st.label, "lock", (lk,), s))
            r = _Recorder(s, cm.index)
            if st.guard is not None and not st.guard(r):
                extra = r._reads - st.footprint_reads
                if extra:
                    note(FootprintViolation(t.name, st.label, "read", tuple(sorted(extra)), s))
                continue
            d = st.effect(r) if st.effect is not None else None
            extra = r._reads - st.footprint_reads
            if extra:
                note(FootprintViolation(t.name, st.label, "read", tuple(sorted(extra)), s))
            for out in (d if isinstance(d, list) else [d]):
                keys = set((out or {}).keys()) - {GOTO}
                bad = keys - st.writes
                if bad:
                    note(FootprintViolation(t.name, st.label, "write", tuple(sorted(bad)), s))
                for k in keys & set(cm.index):
                    dom = cm.model.fields[k].domain
                    if dom is not None and out[k] not in dom:
                        note(FootprintViolation(t.name, st.label, "domain", (f"{k}={out[k]!r}",), s))
        for n in _raw_successors(cm, s):
            if n not in seen:
                seen.add(n)
                queue.append(n)
    return list(found.values())


def _raw_successors(cm: CompiledModel, s) -> list:
    """Successors computed on the full state, without memo or read view: the footprint checker
    explores models whose declared footprints may be wrong."""
    out = []
    for ti, pci in enumerate(cm.pc_index):
        pc = s[pci]
        if pc < cm.done_pc[ti]:
            for w in cm.code[ti][pc].raw_outcomes(s):
                row = list(s)
                for i, v in w:
                    row[i] = v
                out.append(cm.State(row))
    return out


def builder_knobs(fn: Callable) -> tuple:
    """The knobs a builder declared with @builder (none if it declared none)."""
    return getattr(fn, "knobs", ())


def describe_callable(fn: Callable | None) -> str:
    if fn is None:
        return ""
    try:
        return inspect.getsource(fn).strip()
    except (OSError, TypeError):
        return repr(fn)
