"""Partial-order reduction from step footprints: ample sets with a breadth-first cycle proviso.

Two steps of different threads are *independent* when neither writes a field the other reads or
writes (guards count as reads, locks as read+write). Independent steps commute and cannot enable or
disable each other, so exploring one order suffices.

At a state s the search either expands every enabled step, or only the step of one thread t (all
of its outcomes), when the conditions of Clarke, Grumberg and Peled hold for that singleton
(Model Checking, MIT Press 1999, section 10.5, conditions C0-C3):

  C0  the set is empty only if nothing is enabled: t's step is enabled at s;
  C1  no step dependent on t's step can run before it on any path from s: t cannot move without
      taking it (one step per program counter), and it is independent of every step each other
      thread can still execute from its current program counter (its future in the thread's control
      flow graph, branches and back-edges included, a static over-approximation);
  C2  t's step is invisible: it writes no field an invariant reads;
  C3  every cycle of the reduced graph contains a fully expanded state. Breadth-first proviso: the
      singleton is taken only if every successor through it is a state the search has not yet
      discovered. A reduced edge s -> n then first discovers n, so depth(n) = depth(s) + 1, and a
      cycle cannot consist of depth-increasing edges alone: one of its edges leaves a fully
      expanded state.

With C0-C3 the reduced graph is stuttering-equivalent to the full one for properties of the visible
fields (CGP chapter 10: ample sets preserve LTL without next-time), so an invariant is violated in the
reduced graph iff it is violated in the full one. Terminal states (deadlocks, and the states final
predicates are checked on) need only C0 and C1: the singleton is a persistent set, and every deadlock
reachable from a state is reachable through persistent sets (Godefroid, Partial-Order Methods for the
Verification of Concurrent Systems, LNCS 1032, chapter 4). That proof inducts on the length of a path
to the deadlock, so it holds with cycles and with a visited store, since every stored state is
expanded exactly once. C3's depth argument above is self-contained: it needs only that the search is
breadth-first and that a reduced expansion's successors are all undiscovered when it is taken.

Sleep sets were dropped. The previous search combined them with these ample sets under the BFS
proviso and was unsound: a state fully expanded by the proviso passed a looping thread to its
successor's sleep set, the successor's ample set then chose that sleeping thread, and nothing was
explored there (the reproducer is tests/test_reduction.py::test_sleeping_ample_thread_regression).
The known arguments for sleep sets with persistent sets are for stateless or depth-first search
with a stack proviso; we know of none we trust for this breadth-first variant. Sleep sets only ever
saved transitions (never states) here, so correctness costs little.

Static decision: a step can ever form a singleton smaller than the enabled set only if it is
invisible and independent of the future of some other thread at some not-finished program counter.
`Reducer.useful` is False when no step of the model qualifies (most mm models: nearly every step
writes a field some invariant reads); the explorer then runs the unreduced search, which visits the
same graph, so the reduction never costs more than a table look-up at start.
"""

from __future__ import annotations

from .model import CompiledModel


class Reducer:
    def __init__(self, cm: CompiledModel):
        self.cm = cm
        idx = cm.index

        def mask(names) -> int:
            m = 0
            for n in names:
                m |= 1 << idx[n]
            return m

        inv_reads = 0
        for inv in cm.invariants:
            inv_reads |= mask(inv.reads)
        self.n = n = len(cm.threads)
        rw: list[list[tuple[int, int]]] = []
        # per thread, per pc (done included): (reads | writes, writes) of every step reachable from pc
        future: list[list[tuple[int, int]]] = []
        for t in cm.threads:
            rws = [(mask(st.footprint_reads), mask(st.footprint_writes)) for st in t.steps]
            rw.append(rws)
            labels = {st.label: st.index for st in t.steps}
            succ = []
            for st in t.steps:
                nxt = {st.index + 1} | {labels.get(b, len(t.steps)) for b in st.branches}
                succ.append({x for x in nxt if x < len(t.steps)})
            fut = []
            for pc in range(len(t.steps)):
                seen, stack = {pc}, [pc]
                while stack:
                    for x in succ[stack.pop()]:
                        if x not in seen:
                            seen.add(x)
                            stack.append(x)
                r = w = 0
                for x in seen:
                    r |= rws[x][0]
                    w |= rws[x][1]
                fut.append((r | w, w))
            fut.append((0, 0))       # done: no future
            future.append(fut)
        self.rw = rw
        self.future = future
        # compatible[ti][pc][tj]: bitmask over tj's pcs (done included) whose future is independent
        # of ti's step at pc; None where ti's step at pc is visible or can never be a singleton
        self.compatible: list[list[tuple[int, ...] | None]] = []
        useful = False
        for ti in range(n):
            row = []
            for pc, (r, w) in enumerate(rw[ti]):
                if w & inv_reads:
                    row.append(None)
                    continue
                per = []
                some_other_running = False
                for tj in range(n):
                    bits = 0
                    if tj != ti:
                        for pcj, (fany, fw) in enumerate(future[tj]):
                            if not (w & fany or r & fw):
                                bits |= 1 << pcj
                                if pcj < len(future[tj]) - 1:
                                    some_other_running = True
                    per.append(bits)
                if some_other_running:
                    row.append(tuple(per))
                    useful = True
                else:
                    row.append(None)
            row.append(None)         # done
            self.compatible.append(row)
        self.useful = useful
        self.pc_index = cm.pc_index
