"""Classic concurrency models that validate the engine (not mm): their verdicts and, for the counter
models, their exact reachable-state counts are known independently of pteverify.
"""

from __future__ import annotations

from pteverify.model import GOTO, Knob, Model, builder


@builder(Knob("peterson.flag_before_turn", True,
              "set flag[me] before turn = other (the algorithm); false is the classic broken order"),
         Knob("peterson.rounds_forever", True,
              "each process re-enters forever (a cyclic state space); false: one round each"))
def peterson(knobs) -> Model:
    """Peterson's mutual exclusion for two processes."""
    m = Model("peterson", "Peterson's algorithm, two processes", knobs)
    m.field("flag0", 0, (0, 1))
    m.field("flag1", 0, (0, 1))
    m.field("turn", 0, (0, 1))
    # cs0/cs1 are ghost (auxiliary) variables: they record where a process is for the invariant to
    # read, the algorithm itself never reads them
    m.field("cs0", 0, (0, 1), "process 0 is in its critical section", ghost=True)
    m.field("cs1", 0, (0, 1), "process 1 is in its critical section", ghost=True)
    for me in (0, 1):
        other = 1 - me
        flag, oflag, cs = f"flag{me}", f"flag{other}", f"cs{me}"
        t = m.thread(f"p{me}")
        set_flag = dict(label="set_flag", ref=f"flag[{me}] = true", writes=[flag],
                        effect=lambda s, flag=flag: {flag: 1})
        set_turn = dict(label="set_turn", ref=f"turn = {other}", writes=["turn"],
                        effect=lambda s, other=other: {"turn": other})
        for st in ((set_flag, set_turn) if knobs["peterson.flag_before_turn"] else (set_turn, set_flag)):
            t.step(**st)
        t.step("await", f"while (flag[{other}] && turn == {other}) ;",
               guard=lambda s, oflag=oflag, other=other: not (getattr(s, oflag) and s.turn == other),
               effect=lambda s, cs=cs: {cs: 1}, reads=[oflag, "turn"], writes=[cs])
        forever = knobs["peterson.rounds_forever"]
        t.step("leave", f"critical section; flag[{me}] = false",
               effect=(lambda s, cs=cs, flag=flag: {cs: 0, flag: 0, GOTO: t.steps[0].label}) if forever
               else (lambda s, cs=cs, flag=flag: {cs: 0, flag: 0}),
               writes=[cs, flag], branches=[t.steps[0].label] if forever else [])
    m.invariant("mutual_exclusion", lambda s: not (s.cs0 and s.cs1), ["cs0", "cs1"],
                "at most one process is in its critical section")
    return m

@builder(Knob("philosophers.count", 3, "number of philosophers (and forks)", domain=(2, 3, 4, 5)),
         Knob("philosophers.ordered", False,
              "the last philosopher takes its right fork first (resource ordering): no deadlock"))
def philosophers(knobs) -> Model:
    """Dining philosophers with forks as first-class locks."""
    n = knobs["philosophers.count"]
    m = Model("philosophers", f"{n} dining philosophers", knobs)
    forks = [m.lock(f"fork{i}") for i in range(n)]
    m.field("eating", 0, range(n + 1), "philosophers eating")
    for i in range(n):
        left, right = forks[i], forks[(i + 1) % n]
        first, second = (right, left) if knobs["philosophers.ordered"] and i == n - 1 else (left, right)
        t = m.thread(f"phil{i}")
        t.step("take_first", f"take {first}", acquire=first)
        t.step("take_second", f"take {second}", acquire=second,
               effect=lambda s: {"eating": s.eating + 1}, reads=["eating"], writes=["eating"])
        t.step("put_down", f"put {left} and {right} down", release=(left, right),
               effect=lambda s: {"eating": s.eating - 1}, reads=["eating"], writes=["eating"])
    m.invariant("neighbours_never_eat_together", lambda s: s.eating <= n // 2, ["eating"],
                "at most floor(n/2) philosophers eat at once")
    m.final("everyone_done_eating", lambda s: s.eating == 0, ["eating"],
            "once every philosopher has put the forks down, nobody is eating: each meal that began "
            "(both forks taken) ended")
    return m

@builder(Knob("counter.threads", 3, "threads, each incrementing its own counter", domain=tuple(range(1, 7))),
         Knob("counter.increments", 4, "increments per thread", domain=tuple(range(0, 1000))))
def counters(knobs) -> Model:
    """N threads, each incrementing a private counter K times: exactly (K+1)^N reachable states."""
    n, k = knobs["counter.threads"], knobs["counter.increments"]
    m = Model("counters", f"{n} threads x {k} private increments", knobs)
    for i in range(n):
        m.field(f"c{i}", 0, range(k + 1))
    for i in range(n):
        c = f"c{i}"
        t = m.thread(f"t{i}")
        inc = (lambda c: lambda s: {c: getattr(s, c) + 1})(c)
        for j in range(k):
            t.step(f"inc{j}", f"{c}++ (#{j + 1})", effect=inc, reads=[c], writes=[c])
    # spelled out rather than a loop over getattr: this model is the explorer's benchmark
    bounded = eval("lambda s: " + " and ".join(f"s.c{i} <= {k}" for i in range(n)))
    m.invariant("bounded", bounded, [f"c{i}" for i in range(n)], "no counter exceeds K")
    m.final("every_increment_counted", eval("lambda s: " + " and ".join(f"s.c{i} == {k}" for i in range(n))),
            [f"c{i}" for i in range(n)], "when every thread has finished each counter is K: no increment "
            "is lost")
    # the threads are the same code on their own counters (the invariant reads all of them)
    if n > 1:
        m.symmetric([f"t{i}" for i in range(n)], [tuple(f"c{i}" for i in range(n))])
    return m

@builder(Knob("lost_update.atomic", False, "the increment is one atomic read-modify-write"),
         Knob("lost_update.increments", 2, "increments per thread", domain=(1, 2, 3)))
def lost_update(knobs) -> Model:
    """Two threads increment a shared counter through a register: updates can be lost."""
    k = knobs["lost_update.increments"]
    m = Model("lost-update", "two threads, x++ as load/store", knobs)
    m.field("x", 0, range(2 * k + 1))
    for i in (0, 1):
        reg = m.field(f"r{i}", 0, range(2 * k + 1), f"thread {i}'s register")
        t = m.thread(f"t{i}")
        for j in range(k):
            if knobs["lost_update.atomic"]:
                t.step(f"inc{j}", "atomic_inc(&x)", effect=lambda s: {"x": s.x + 1},
                       reads=["x"], writes=["x"])
            else:
                t.step(f"load{j}", "r = READ_ONCE(x)", effect=(lambda reg: lambda s: {reg: s.x})(reg),
                       reads=["x"], writes=[reg])
                t.step(f"store{j}", "WRITE_ONCE(x, r + 1)",
                       effect=(lambda reg: lambda s: {"x": getattr(s, reg) + 1})(reg),
                       reads=[reg], writes=["x"])
    m.final("no_lost_update", lambda s: s.x == 2 * k, ["x"], "every increment is counted")
    m.symmetric(["t0", "t1"], [("r0", "r1")])
    return m
