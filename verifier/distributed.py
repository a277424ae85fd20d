"""A prototype: one model explored by several worker processes, hash-partitioned (docs/distributed.md).

Level-synchronous breadth-first search. Each of W workers owns the states whose stable hash falls in
its partition (`owner(s) = hash(s) % W`) and keeps them, with their parent, in its own store. A level:
the coordinator tells every worker to expand its part of the frontier; a worker computes the
successors of its states with the same compiled model (built before the workers fork, so every worker
runs the same code and memos) and returns them batched per owner; the coordinator forwards each batch
to its owner (a star, not a mesh: the prototype's simplification); each owner stores the states it
had not seen, checks the invariants on them and makes them its next frontier; the level ends when
every worker has answered (the barrier). The search ends when no worker has a frontier.

The answer is the single-process one: the same reachable states (their count is compared in
tests/test_distributed.py), the same verdict, and a violation is found at the same level, because a
level's states are all stored before the next level starts. A trace comes from an exact search to
that depth (as the fingerprint search does), so it is a shortest one.

Limits of the prototype, measured in docs/distributed.md: states travel as tuples of field values
(pickled), since each worker's packed codes are its own; every successor crosses the coordinator
twice; it runs on one machine (multiprocessing, fork start method, so the string hashes agree across
workers). A cluster version would give each worker a fixed value-code table per field (or exchange
canonical byte encodings) and send batches directly between owners.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass

from .explore import DEADLOCK, HOLDS, INCOMPLETE, VIOLATED, explore


@dataclass
class DistributedResult:
    verdict: str
    states: int
    transitions: int
    depth: int
    seconds: float
    workers: int
    kind: str | None = None
    invariant: str | None = None
    per_worker: tuple = ()          # states stored by each worker (the partition's balance)
    messages: int = 0               # batches the coordinator forwarded
    shipped: int = 0                # successor states sent to owners (duplicates included)
    result: object = None           # on a violation: the exact search's Result, with its shortest trace


def _worker(cm, me: int, w: int, conn) -> None:
    """Own the states with hash % w == me: store, check, expand on request."""
    store: dict = {}
    frontier: list = []
    State = cm.State
    threads = range(len(cm.threads))
    while True:
        msg = conn.recv()
        op = msg[0]
        if op == "insert":                         # ("insert", [(state tuple, parent tuple)])
            bad = None
            new = 0
            for row, par in msg[1]:
                s = tuple.__new__(State, row)
                if s in store:
                    continue
                store[s] = par
                new += 1
                frontier.append(s)
                if bad is None:
                    inv = cm.check_invariants(s)
                    if inv is not None:
                        bad = ("invariant", inv.name)
            conn.send((new, bad))
        elif op == "expand":
            out = [[] for _ in range(w)]
            transitions = 0
            bad = None
            for s in frontier:
                succ = [n for ti in threads for n in cm.fire(ti, s)]
                transitions += len(succ)
                if not succ and bad is None:
                    if not cm.all_done(s):
                        bad = ("deadlock", DEADLOCK)
                    else:
                        inv = cm.check_finals(s)
                        if inv is not None:
                            bad = ("final", inv.name)
                plain = tuple(s)
                for n in succ:
                    row = tuple(n)
                    out[hash(row) % w].append((row, plain))
            frontier = []
            conn.send((out, transitions, bad))
        elif op == "size":
            conn.send(len(store))
        else:
            conn.close()
            return


def explore_partitioned(cm, workers: int = 2, max_states: int | None = None) -> DistributedResult:
    """Explore `cm` (unreduced) over `workers` processes; see the module docstring."""
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    conns, procs = [], []
    for me in range(workers):
        a, b = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(cm, me, workers, b), daemon=True)
        p.start()
        conns.append(a)
        procs.append(p)
    states = transitions = depth = messages = shipped = 0
    bad = None
    bad_depth = 0
    try:
        init = tuple(cm.initial)
        owner = hash(init) % workers
        conns[owner].send(("insert", [(init, None)]))
        new, bad = conns[owner].recv()
        states += new
        bad_depth = 0
        while bad is None:
            for c in conns:
                c.send(("expand",))
            batches = [[] for _ in range(workers)]
            level_new = 0
            for c in conns:
                out, tr, b = c.recv()
                transitions += tr
                if b is not None and bad is None:
                    bad, bad_depth = b, depth
                for j, batch in enumerate(out):
                    if batch:
                        batches[j].extend(batch)
                        messages += 1
                        shipped += len(batch)
            if bad is not None:
                break
            for j, c in enumerate(conns):
                c.send(("insert", batches[j]))
            for c in conns:
                new, b = c.recv()
                level_new += new
                if b is not None and bad is None:
                    bad, bad_depth = b, depth + 1
            states += level_new
            if level_new == 0 and bad is None:
                break
            depth += 1
            if max_states is not None and states > max_states:
                break
        per = []
        for c in conns:
            c.send(("size",))
            per.append(c.recv())
    finally:
        for c in conns:
            try:
                c.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
        for p in procs:
            p.join(timeout=5)
    seconds = time.perf_counter() - t0
    if bad is None:
        verdict = INCOMPLETE if max_states is not None and states > max_states else HOLDS
        return DistributedResult(verdict, states, transitions, depth, seconds, workers, per_worker=tuple(per),
                                 messages=messages, shipped=shipped)
    exact = explore(cm, reduction=False, max_depth=bad_depth)
    return DistributedResult(VIOLATED if exact.verdict == VIOLATED else INCOMPLETE, states, transitions,
                             bad_depth, seconds, workers, kind=bad[0], invariant=bad[1],
                             per_worker=tuple(per), messages=messages, shipped=shipped, result=exact)
