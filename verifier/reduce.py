"""Partial-order reduction from step footprints: ample (persistent) sets plus sleep sets.

Two steps of different threads are *independent* when neither writes a field the other reads or
writes (guards count as reads, locks as read+write). Independent steps commute and cannot enable or
disable each other, so exploring one order suffices.

Ample sets (conditions C0-C3 of Clarke, Grumberg and Peled, for safety properties):
  C0  the ample set is empty only if no step is enabled: we take all of one thread's enabled step;
  C1  the chosen step is independent of every step any other thread can still execute from its
      current program counter (its future in the control-flow graph, branches included), so no
      dependent step can run before it;
  C2  the chosen step is invisible: it writes no field an invariant reads (final predicates are
      checked on terminal states, which persistent sets preserve);
  C3  cycle proviso for breadth-first search: if a successor through the ample set was already
      visited, the state is expanded fully.
Sleep sets (Godefroid): after exploring step t from s, a later sibling's successor need not explore
t again if t is independent of the sibling. With state caching, a state re-reached with a smaller
sleep set is expanded again for the steps that were asleep.
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
        self.n = len(cm.threads)
        # per thread, per pc: (reads mask, writes mask, visible?) of the step there
        self.rw: list[list[tuple[int, int]]] = []
        self.invisible: list[list[bool]] = []
        # per thread, per pc: union of reads / writes of every step reachable from pc (pc included)
        self.future: list[list[tuple[int, int]]] = []
        for t in cm.threads:
            rws = [(mask(st.footprint_reads), mask(st.footprint_writes)) for st in t.steps]
            self.rw.append(rws)
            self.invisible.append([(w & inv_reads) == 0 for _, w in rws])
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
                fut.append((r, w))
            fut.append((0, 0))       # done
            self.future.append(fut)
        self.pc_index = cm.pc_index
        self.done_pc = cm.done_pc

    @staticmethod
    def conflict(a: tuple[int, int], b: tuple[int, int]) -> bool:
        (ra, wa), (rb, wb) = a, b
        return bool(wa & (rb | wb) or ra & wb)

    def step_rw(self, ti: int, s) -> tuple[int, int]:
        return self.rw[ti][s[self.pc_index[ti]]]

    def ample_thread(self, s, enabled: list[int]) -> int | None:
        """A thread whose current step alone is an ample set at `s` (C0-C2), or None."""
        pcs = [s[p] for p in self.pc_index]
        for ti in enabled:
            pc = pcs[ti]
            if not self.invisible[ti][pc]:
                continue
            r, w = self.rw[ti][pc]
            ok = True
            for tj in range(self.n):
                if tj == ti:
                    continue
                fr, fw = self.future[tj][pcs[tj]]
                if w & (fr | fw) or r & fw:
                    ok = False
                    break
            if ok:
                return ti
        return None

    def independent(self, ti: int, tj: int, s) -> bool:
        return not self.conflict(self.step_rw(ti, s), self.step_rw(tj, s))
