"""Counterexamples: the violating path as a race table, as JSON, and the explored graph as DOT.

The race table follows the style of races posted on the kernel mailing lists: one column per thread,
time downwards; each row is one atomic step in its thread's column (the kernel function and call it
models), with the fields it changed (old -> new) beneath it; the table closes with what broke.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .explore import Result
from .model import CompiledModel

if TYPE_CHECKING:           # networkx is imported only to draw a graph (0.15 s of start-up otherwise)
    import networkx as nx


@dataclass
class TraceStep:
    thread: str
    label: str
    kernel_ref: str
    changes: dict            # field -> (old, new), in schema order

    def to_json(self) -> dict:
        return {"thread": self.thread, "label": self.label, "kernel_ref": self.kernel_ref,
                "changes": {k: [_jsonable(a), _jsonable(b)] for k, (a, b) in self.changes.items()}}


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (bool, int, str, float)) or v is None else str(v)


def trace_steps(result: Result) -> list[TraceStep]:
    cm = result.model
    out = []
    prev = cm.initial
    for ti, s in result.path:
        st = cm.step_at(ti, prev)
        changes = {}
        for i, name in enumerate(cm.field_names):
            if prev[i] != s[i] and not cm.model.fields[name].is_lock:
                changes[name] = (prev[i], s[i])
        out.append(TraceStep(cm.thread_names[ti], st.label, _lock_note(cm, st, ti), changes))
        prev = s
    return out


def _lock_note(cm: CompiledModel, st, ti: int) -> str:
    ref = st.ref
    extra = []
    if st.acquire:
        extra.append("takes " + ", ".join(st.acquire))
    if st.release:
        extra.append("drops " + ", ".join(st.release))
    return ref + (f" [{'; '.join(extra)}]" if extra else "")


def _fmt(cm: CompiledModel, name: str, v: Any) -> str:
    return cm.describe_value(name, v)


def broken_doc(result: Result) -> str:
    if result.kind == "deadlock":
        cm = result.model
        last = result.states_in_trace[-1]
        stuck = [f"{t} at {cm.label_at(ti, last)}" for ti, t in enumerate(cm.thread_names)
                 if cm.step_at(ti, last) is not None]
        return "no thread can move: " + ", ".join(stuck)
    for inv in result.model.model.invariants:
        if inv.name == result.invariant:
            return inv.doc
    return ""


_FILE_PREFIX = re.compile(r"^[\w./-]+\.[chS]:(?=\w)")


def short_ref(ref: str) -> str:
    """The kernel reference without its leading source path (`mm/memory.c:do_swap_page: ...` ->
    `do_swap_page: ...`): the table's columns are narrow, and the function names the file to a
    kernel developer; `pteverify show` and the JSON trace keep the full reference."""
    return _FILE_PREFIX.sub("", ref, count=1)


def race_table(result: Result, max_width: int = 40, width: int | None = None) -> str:
    """Render the violating path: one column per thread, time downwards. With `width` (the
    terminal's, COLUMNS or --width) the columns share it: narrow columns wrap, long words too,
    nothing is cut."""
    cm = result.model
    steps = trace_steps(result)
    threads = cm.thread_names
    fit = width is not None
    if fit:
        n = len(threads)
        num_w = len(str(len(steps)))
        avail = width - num_w - 2 - 3 * (n - 1)
        max_width = max(12, min(max_width, avail // n))
    cells: list[tuple[int, list[str]]] = []
    for st in steps:
        col = threads.index(st.thread)
        lines = textwrap.wrap(short_ref(st.kernel_ref), max_width, subsequent_indent="  ",
                              break_on_hyphens=False, break_long_words=fit)
        for name, (old, new) in st.changes.items():
            text = f"{name}: {_fmt(cm, name, old)} -> {_fmt(cm, name, new)}"
            lines += textwrap.wrap(text, max_width, initial_indent="    ", subsequent_indent="      ",
                                   break_long_words=fit)
        cells.append((col, lines))
    widths = [max([len(t)] + [len(x) for c, ls in cells if c == i for x in ls]) for i, t in enumerate(threads)]
    num_w = len(str(len(cells)))
    gap = "   "

    def row(cols: list[str], num: str = "") -> str:
        return (num.rjust(num_w) + "  " + gap.join(c.ljust(w) for c, w in zip(cols, widths))).rstrip()

    out = [row(threads), row(["-" * len(t) for t in threads])]
    cycle = result.cycle_start if result.kind == "progress" else None
    for n, (col, lines) in enumerate(cells, 1):
        if cycle is not None and n == cycle + 1:
            out.append(" " * num_w + "  ~~ cycle: the steps below repeat forever ~~")
        for k, line in enumerate(lines):
            cols = [""] * len(threads)
            cols[col] = line
            out.append(row(cols, str(n) if k == 0 else ""))
    if result.kind == "deadlock":
        out.append(f"=> deadlock: {broken_doc(result)}")
    elif result.kind == "progress":
        prop = result.lasso.prop
        how = ("every thread runs when it can (weak fairness)" if result.lasso.cycle
               else "no thread can move any more")
        out.append(f"=> progress property {prop.name} violated: {prop.describe()}; {how}"
                   + (f": {prop.doc}" if prop.doc else ""))
    else:
        what = "final predicate" if result.kind == "final" else "invariant"
        doc = broken_doc(result)
        out.append(f"=> {what} {result.invariant} violated" + (f": {doc}" if doc else ""))
    if fit:
        out[-1:] = textwrap.wrap(out[-1], width, subsequent_indent="   ", break_on_hyphens=False)
    return "\n".join(out)


def trace_json(result: Result) -> list[dict]:
    return [s.to_json() for s in trace_steps(result)]


# --------------------------------------------------------------------------------------------
# DOT export of the explored graph (small runs)


def explored_graph(result: Result) -> "nx.DiGraph":
    """The explored state graph (needs `explore(..., graph=True)`)."""
    import networkx as nx
    cm = result.model
    g = nx.DiGraph()
    ids: dict = {}

    def node(s) -> int:
        if s not in ids:
            ids[s] = len(ids)
            fields = ", ".join(f"{n}={_fmt(cm, n, v)}" for n, v in zip(cm.field_names, s))
            pcs = ", ".join(f"{t}@{cm.label_at(ti, s)}" for ti, t in enumerate(cm.thread_names))
            g.add_node(ids[s], label=str(ids[s]), tooltip=f"{fields}; {pcs}")
        return ids[s]

    node(cm.initial)
    for s, ti, n in result.edges:
        st = cm.step_at(ti, s)
        g.add_edge(node(s), node(n), label=f"{cm.thread_names[ti]}: {st.label}")
    g.nodes[ids[cm.initial]]["initial"] = True
    if result.path:
        prev = cm.initial
        for _, s in result.path:
            if s in ids and prev in ids and g.has_edge(ids[prev], ids[s]):
                g.edges[ids[prev], ids[s]]["trace"] = True
            prev = s
        if prev in ids:
            g.nodes[ids[prev]]["violation"] = True
    return g


def to_dot(g: "nx.DiGraph", name: str) -> str:
    def q(x: Any) -> str:
        return '"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [f"digraph {q(name)} {{", "  node [shape=circle, fontsize=10];", "  edge [fontsize=8];"]
    for n, a in g.nodes(data=True):
        attrs = [f"label={q(a.get('label', n))}", f"tooltip={q(a.get('tooltip', ''))}"]
        if a.get("initial"):
            attrs.append("shape=doublecircle")
        if a.get("violation"):
            attrs.append("color=red, style=filled, fillcolor=mistyrose")
        out.append(f"  {n} [{', '.join(attrs)}];")
    for u, v, a in g.edges(data=True):
        attrs = [f"label={q(a.get('label', ''))}"]
        if a.get("trace"):
            attrs.append("color=red, penwidth=2")
        out.append(f"  {u} -> {v} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"
