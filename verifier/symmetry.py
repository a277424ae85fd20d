"""Symmetry reduction: threads that run the same code on the same data are interchangeable.

A model declares a group of threads as symmetric (`Model.symmetric(threads, fields)`), with the
per-thread fields that belong to each of them (the locals of the kernel functions they run). A
permutation pi of the group acts on a state by moving every thread's program counter and per-thread
fields to the thread it is mapped to, and by renaming the owner held in every lock field. When pi
is an automorphism of the transition system (s -t-> n iff pi(s) -pi(t)-> pi(n)) that preserves the
invariants, the final predicates and the initial state's orbit, two states in one orbit have the
same future up to renaming: the search stores one representative per orbit, `canon(s)`, and a
violation is reachable iff a violating representative is (Emerson and Sistla, "Symmetry and model
checking", FMSD 9, 1996; Ip and Dill, "Better verification through symmetry", FMSD 9, 1996). The
invariants are checked on representatives, which is enough because they cannot tell orbit members
apart. Progress properties are checked on the full graph (verifier/progress.py), never here.

What is checked, and how:

- Structure (when the model compiles): the threads of a group have the same labels, branches and
  locks step for step, each step's declared footprint is the image of the first thread's under the
  field renaming, a per-thread field is touched by no other thread, fields of one orbit have the same
  domain and initial value, and the fields the invariants and finals read are closed under the
  renaming (an orbit is read whole or not at all).
- Behaviour (`check_symmetry`): on the reachable states (all of them in the tests of every shipped
  symmetric variant; the first `CHECK_STATES` when `explore(symmetry=True)` starts), successors,
  invariants and final predicates commute with the group's generators. A guard or effect that looks at
  a thread's identity some other way (a value naming the thread, a per-thread constant) fails here
  with the state and the step, as a ModelError: the declaration is wrong, not the search.

The canonical form: each thread of a group has a signature, the codes of its program counter, its
per-thread fields and which locks it owns; the representative orders the group's threads by
signature (a stable sort). Two states of one orbit get the same representative: if two threads have
equal signatures they own no lock (a lock has one owner) and hold equal values, so swapping them
changes nothing. The choice depends only on the orbit's bits of a packed state (program counters,
per-thread fields, locks), so it is memoised by them: canonicalising a state costs a mask, a dict
look-up and an or. Per-thread fields of one orbit share their value codes in the packed layout
(verifier/packed.py), so comparing and moving codes needs no decoding.

Counterexamples: the parent links join representatives; `decanonicalise` replays the path from the
real initial state, choosing at each step the successor whose representative is the next one (it
exists because pi is an automorphism), so a printed trace replays step by step in the model.

With partial-order reduction (reduce.py). Let R be the graph the search builds: nodes are
representatives, and a node c is expanded either through the ample set ample(c) of reduce.py or
fully; the breadth-first proviso takes ample(c) only if the representative of every successor is
undiscovered. Define on the full graph M the reduced graph M': at a state s with pi(s) = c, the
ample set is A(s) = pi^-1(ample(c)). Because pi is an automorphism preserving the invariants, it
preserves enabledness, independence and invisibility, so A(s) meets C0-C2 in M at s since ample(c)
meets them at c. Each edge s -> n of M' projects to the edge c -> canon(n) of R, so a cycle of M'
projects to a closed walk of R; every ample edge of R goes to a node first discovered by it, one level
deeper, so a closed walk of R leaves some fully expanded node, and the corresponding state of the
M'-cycle is fully expanded (pi^-1 of all enabled steps is all enabled steps): C3 holds in M'. By the
ample-set theorem M' reaches an invariant violation iff M does (and every deadlock of M is reachable
in M' through persistent sets), and the representatives of M'-reachable states are nodes of R (by
induction along an M' path), whose invariants are those of the states they stand for. So the
combination is verdict-equal to the full search; tests/test_symmetry.py and the random-model
differential test (tests/test_reduction.py) check it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

CHECK_STATES = 2000         # states explore(symmetry=True) checks the declaration on before the search
MEMO_LIMIT = 1 << 18


@dataclass(frozen=True)
class SymmetryGroup:
    threads: tuple
    fields: tuple          # per local: the field of each thread, in `threads` order


class Symmetry:
    """A model's validated symmetry: per group, the thread indices and the slot classes (program
    counter first, then the per-thread fields), each class one slot per thread."""

    def __init__(self, cm):
        from .model import ModelError
        self.cm = cm
        m = cm.model
        names = cm.thread_names
        self.groups: list[tuple[tuple[int, ...], list[tuple[int, ...]]]] = []
        in_group: set[int] = set()
        per_thread_field: dict[str, int] = {}
        self.rename: dict[int, dict[str, str]] = {}        # thread index -> field map from its group's first
        for g in m.symmetries:
            where = f"model {cm.name}: symmetric group {', '.join(map(str, g.threads))}"
            if len(g.threads) < 2:
                raise ModelError(f"{where}: a symmetric group needs at least two threads")
            tis = []
            for t in g.threads:
                if t not in names:
                    raise ModelError(f"{where}: unknown thread {t!r}")
                ti = names.index(t)
                if ti in in_group or ti in tis:
                    raise ModelError(f"{where}: thread {t!r} is in more than one symmetric group")
                tis.append(ti)
            in_group.update(tis)
            classes = [tuple(cm.pc_index[ti] for ti in tis)]
            for row in g.fields:
                if len(row) != len(tis):
                    raise ModelError(f"{where}: fields {row!r} name one field per thread ({len(tis)})")
                defs = []
                for j, f in enumerate(row):
                    fd = m.fields.get(f)
                    if fd is None:
                        raise ModelError(f"{where}: unknown field {f!r}")
                    if fd.is_lock:
                        raise ModelError(f"{where}: {f!r} is a lock (locks are permuted by owner, not listed)")
                    if f in per_thread_field:
                        raise ModelError(f"{where}: field {f!r} listed twice")
                    per_thread_field[f] = tis[j]
                    defs.append(fd)
                if any((d.domain, d.init) != (defs[0].domain, defs[0].init) for d in defs):
                    raise ModelError(f"{where}: fields {', '.join(row)} differ in domain or initial value")
                classes.append(tuple(cm.index[f] for f in row))
            for j, ti in enumerate(tis):
                self.rename[ti] = {row[0]: row[j] for row in g.fields}
            self.groups.append((tuple(tis), classes))
            self._check_structure(tis, where, ModelError)
        # a per-thread field is touched by its own thread only
        for ti, t in enumerate(cm.threads):
            for st in t.steps:
                for f in st.footprint_reads | st.footprint_writes:
                    owner = per_thread_field.get(f)
                    if owner is not None and owner != ti:
                        raise ModelError(f"model {cm.name}: per-thread field {f!r} of thread "
                                         f"{names[owner]} is touched by {t.name}.{st.label}")
        # the invariants and finals read whole orbits or none of their fields
        orbit_of = {}
        for _, classes in self.groups:
            for cls in classes[1:]:
                for i in cls:
                    orbit_of[i] = cls
        for inv in m.invariants:
            idx = {cm.index[n] for n in inv.reads}
            for i in idx:
                if i in orbit_of and not set(orbit_of[i]) <= idx:
                    raise ModelError(f"model {cm.name}: {'final' if inv.final else 'invariant'} {inv.name} "
                                     f"reads {cm.field_names[i]} but not the other threads' copies: it "
                                     f"can tell symmetric threads apart")
        self.lock_slots = tuple(i for i, f in enumerate(cm.fields) if f.is_lock)
        self.classes = [cls for _, classes in self.groups for cls in classes]
        self._checked = False

    def _check_structure(self, tis, where, ModelError):
        cm = self.cm
        first = cm.threads[tis[0]]
        for ti in tis[1:]:
            t = cm.threads[ti]
            ren = self.rename[ti]
            if len(t.steps) != len(first.steps):
                raise ModelError(f"{where}: {t.name} has {len(t.steps)} steps, {first.name} {len(first.steps)}")
            for a, b in zip(first.steps, t.steps):
                here = f"{where}: {first.name}.{a.label} / {t.name}.{b.label}"
                if (a.label, a.branches, a.acquire, a.release) != (b.label, b.branches, b.acquire, b.release):
                    raise ModelError(f"{here}: labels, branches or locks differ")
                for kind in ("reads", "writes"):
                    fa = {ren.get(f, f) for f in getattr(a, kind)}
                    if fa != set(getattr(b, kind)):
                        raise ModelError(f"{here}: declared {kind} are not the renamed ones "
                                         f"({', '.join(sorted(fa ^ set(getattr(b, kind))))})")

    # -- permutations on tuple states -----------------------------------------------------------
    def generators(self):
        """Per group, the permutations (as position maps) that generate its symmetric group: the
        swap of the first two threads and the rotation of all of them."""
        for gi, (tis, _) in enumerate(self.groups):
            n = len(tis)
            yield gi, tuple([1, 0] + list(range(2, n)))
            if n > 2:
                yield gi, tuple(list(range(1, n)) + [0])

    def apply(self, s, gi: int, perm: tuple):
        """pi(s) for the permutation `perm` of group `gi` (position j's thread goes to position perm[j])."""
        tis, classes = self.groups[gi]
        row = list(s)
        for cls in classes:
            for j, slot in enumerate(cls):
                row[cls[perm[j]]] = s[slot]
        owner = {ti + 1: tis[perm[j]] + 1 for j, ti in enumerate(tis)}
        for L in self.lock_slots:
            v = s[L]
            row[L] = owner.get(v, v)
        return tuple.__new__(self.cm.State, row)

    def thread_image(self, gi: int, perm: tuple) -> list[int]:
        tis, _ = self.groups[gi]
        img = list(range(len(self.cm.threads)))
        for j, ti in enumerate(tis):
            img[ti] = tis[perm[j]]
        return img

    # -- the canonical form on packed states ---------------------------------------------------
    def packed_canon(self, pk):
        """canon(packed state) -> packed representative of its orbit (see the module docstring).
        Re-planned whenever a field of the layout widens; built once per packed model."""
        cached = getattr(self, "_canon", None)
        if cached is not None and cached[0] is pk:
            return cached[1]
        canon = self._packed_canon(pk)
        self._canon = (pk, canon)
        return canon

    def _packed_canon(self, pk):
        cm = self.cm
        n_threads = len(cm.threads)
        for L in self.lock_slots:          # intern every owner value up front
            for v in range(n_threads + 1):
                pk.code_of(L, v)
        plan: list = [0, -1, {}.get, None]

        def replan():
            mask = 0
            for cls in self.classes:
                for slot in cls:
                    mask |= pk.slot_mask(slot)
            for L in self.lock_slots:
                mask |= pk.slot_mask(L)
            memo: dict = {}
            plan[0], plan[1], plan[2], plan[3] = mask, ~mask, memo.get, memo

        pk.on_widen.append(replan)
        replan()
        segs = pk.segs

        def code(s, slot):
            c = off = 0
            for sh, w in segs[slot]:
                c |= ((s >> sh) & ((1 << w) - 1)) << off
                off += w
            return c

        def enc(slot, c):
            bits = off = 0
            for sh, w in segs[slot]:
                bits |= ((c >> off) & ((1 << w) - 1)) << sh
                off += w
            return bits

        lock_vals = [(L, pk.values[L]) for L in self.lock_slots]
        groups = self.groups

        def miss(k):
            out = k
            owners = [vals[code(k, L)] for L, vals in lock_vals]
            remap = {}
            for tis, classes in groups:
                sigs = []
                for j, ti in enumerate(tis):
                    sig = tuple(code(k, cls[j]) for cls in classes) + tuple(o == ti + 1 for o in owners)
                    sigs.append(sig)
                order = sorted(range(len(tis)), key=sigs.__getitem__)
                if order == list(range(len(tis))):
                    continue
                for cls in classes:
                    for p, j in enumerate(order):      # position p gets thread order[p]'s values
                        out = (out & ~pk.slot_mask(cls[p])) | enc(cls[p], code(k, cls[j]))
                for p, j in enumerate(order):
                    remap[tis[j] + 1] = tis[p] + 1
            if remap:
                codes = pk.codes
                for (L, _), o in zip(lock_vals, owners):
                    if o in remap:
                        out = (out & ~pk.slot_mask(L)) | enc(L, codes[L][remap[o]])
            memo = plan[3]
            if len(memo) < MEMO_LIMIT:
                memo[k] = out
            return out

        def canon(s):
            k = s & plan[0]
            r = plan[2](k)
            if r is None:
                r = miss(k)
            return (s & plan[1]) | r

        return canon

    def tuple_canon(self, pk):
        """The same canonical form on tuple states (through the packed layout, so the tuple and
        the packed searches store the same representatives)."""
        canon = self.packed_canon(pk)
        return lambda s: pk.unpack(canon(pk.pack(s)))


def symmetry_of(cm) -> Symmetry | None:
    return cm.symmetry


def decanonicalise(cm, canon_t, reps: list) -> list:
    """A path of representatives [c0, ..., ck] (c0 the initial state's) -> the real path
    [(thread, state)] from cm.initial whose states have those representatives."""
    out = []
    s = cm.initial
    for c in reps[1:]:
        for ti, n in cm.successors(s):
            if canon_t(n) == c:
                out.append((ti, n))
                s = n
                break
        else:                       # cannot happen when the symmetry is an automorphism
            from .model import ModelError
            raise ModelError(f"model {cm.name}: a symmetric trace does not replay: the declared "
                             f"symmetry is not one of the model (run check_symmetry)")
    return out


def check_symmetry(cm, max_states: int | None = None) -> list[str]:
    """Explore (unreduced, tuple states) up to `max_states` states and check that the group
    generators commute with every thread's successors and preserve the invariants and finals.
    Returns the problems found (empty: none), each naming a state and a step."""
    sym = cm.symmetry
    if sym is None:
        return []
    problems: list[str] = []
    gens = list(sym.generators())
    images = [(gi, perm, sym.thread_image(gi, perm)) for gi, perm in gens]
    seen = {cm.initial}
    queue = [cm.initial]
    head = 0
    nthreads = len(cm.threads)
    while head < len(queue) and (max_states is None or head < max_states) and not problems:
        s = queue[head]
        head += 1
        succ = [cm.fire(ti, s) for ti in range(nthreads)]
        for gi, perm, img in images:
            p = sym.apply(s, gi, perm)
            inv_s, inv_p = cm.check_invariants(s), cm.check_invariants(p)
            if (inv_s is None) != (inv_p is None):
                problems.append(f"invariant {(inv_s or inv_p).name} holds in one of two symmetric states: {s!r} / {p!r}")
                break
            if not any(succ):
                if cm.all_done(s) and (cm.check_finals(s) is None) != (cm.check_finals(p) is None):
                    problems.append(f"a final predicate tells symmetric states apart: {s!r} / {p!r}")
                    break
            for ti in range(nthreads):
                mine = {sym.apply(n, gi, perm) for n in succ[ti]}
                theirs = set(cm.fire(img[ti], p))
                if mine != theirs:
                    st = cm.step_at(ti, s)
                    problems.append(f"step {cm.thread_names[ti]}.{st.label if st else 'done'} and "
                                    f"{cm.thread_names[img[ti]]}'s copy disagree at {s!r}")
                    break
            if problems:
                break
        for row in succ:
            for n in row:
                if n not in seen:
                    seen.add(n)
                    queue.append(n)
    return problems


def validate(cm, max_states: int | None = CHECK_STATES) -> None:
    """check_symmetry on the first `max_states` states, once per compiled model; ModelError if broken."""
    sym = cm.symmetry
    if sym is None or sym._checked:
        return
    problems = check_symmetry(cm, max_states)
    if problems:
        from .model import ModelError
        raise ModelError(f"model {cm.name}: declared symmetry is not one of the model: {problems[0]}")
    sym._checked = True


__all__ = ["SymmetryGroup", "Symmetry", "check_symmetry", "decanonicalise", "validate", "CHECK_STATES"]
_ = itertools
