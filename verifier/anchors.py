"""Model anchors checked against a kernel tree (`pteverify anchors`).

Every step of a model names the kernel function it is a part of and the calls it stands for (its
anchors, `Step.kernel`). For each scenario and variant this module finds each function in the tree
(tree-sitter-c, no preprocessing), checks that each anchor is called in it, and that the order the
model assumes holds on a control-flow path of the function:

- within a step, its anchors in the order written (calls complete in C order: an argument before
  the call it is passed to, and at no fixed point relative to the calls written before);
- between steps: a step and each step that follows it in its thread on some run of the model (the
  model's own transitions, walked breadth-first) when both are in the same function: the last anchor
  of the first before the first anchor of the second;
- every pair a knob names (`Knob.orders`), in the model's order, where the function has both.

A modelled pair X before Y "matches" when some call of X reaches some call of Y on one path (the
order calls complete in the source, arguments first, same arm of every `if`/`?:`/`#if` both sit in, no `return`, or `goto` past Y, in between); it
is a "drift" when the tree only has Y reaching X (reported at Y's line), and "unordered" when X and Y
sit on exclusive arms (the model wrote alternatives in one step). An anchor the function never calls,
or a function the file does not define, is "missing": the model's kernel and the tree disagree on
names (a rename, a moved function, or a reference to fix).

A knob that chooses the order of two anchors says so (`Knob(..., orders=(("X", "Y"),))`); for
such a knob the report names the value the tree corresponds to: the model built with that value
orders X and Y as the tree does. A tree whose order matches no variant, or no value, is a finding,
reported; never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BadInput
from .kernel.functions import Function, functions
from .kernel.git import GitTree

MATCHES, DRIFT, MISSING = "matches", "drift", "missing"


@dataclass
class Drift:
    before: str          # the model's order: `before` then `after`
    after: str
    file: str
    line: int            # where the tree calls `after` (the call that comes first in the tree)
    other_line: int      # where it then calls `before`
    variant: str
    tree_before: str = ""   # the names the tree calls them by (a renamed anchor)
    tree_after: str = ""

    @property
    def message(self) -> str:
        return (f"drift at {self.file}:{self.line}: the tree calls {self.tree_after or self.after} before "
                f"{self.tree_before or self.before}; "
                f"the model (variant {self.variant}) assumes {self.before} before {self.after}")

    def to_json(self) -> dict:
        return {"before": self.before, "after": self.after, "file": self.file, "line": self.line,
                "other_line": self.other_line, "message": self.message}


@dataclass
class PathResult:
    """One kernel function a scenario's threads model, checked for one variant."""

    file: str
    function: str
    line: int | None                 # the definition's first line in the tree (None: not found)
    steps: list                      # "thread/label" of the steps in this function
    anchors: list                    # distinct anchor names the model uses here
    missing: list = field(default_factory=list)          # anchors the function does not call
    drifts: list = field(default_factory=list)
    orders_checked: int = 0
    orders_matched: int = 0
    unordered: list = field(default_factory=list)        # (X, Y) on exclusive arms
    # every checked pair: (X, Y, line where X reaches Y or None, (line of Y, line of X) where Y
    # reaches X on some path or None); `gate` compares them with the base revision's
    pair_orders: list = field(default_factory=list)
    note: str = ""

    @property
    def status(self) -> str:
        if self.drifts:
            return DRIFT
        if self.line is None or self.missing:
            return MISSING
        return MATCHES

    @property
    def where(self) -> str:
        return f"{self.file}:{self.function}"

    def to_json(self) -> dict:
        return {"file": self.file, "function": self.function, "line": self.line, "status": self.status,
                "steps": self.steps, "anchors": self.anchors, "missing": self.missing,
                "orders_checked": self.orders_checked, "orders_matched": self.orders_matched,
                "unordered": [list(p) for p in self.unordered],
                "drifts": [d.to_json() for d in self.drifts], **({"note": self.note} if self.note else {})}


@dataclass
class KnobFinding:
    """Which value of an order-choosing knob the tree corresponds to."""

    knob: str
    before: str
    after: str
    file: str
    function: str
    tree_order: str                  # "X before Y" | "Y before X" | "both" | "absent"
    line: int | None
    values: list                     # knob values whose model orders the pair as the tree does

    @property
    def message(self) -> str:
        if not self.values:
            return (f"knob {self.knob}: the tree ({self.tree_order} in {self.function}"
                    + (f" at {self.file}:{self.line}" if self.line else "") + ") matches no value of the knob")
        vals = " or ".join(_fmt(v) for v in self.values)
        return (f"knob {self.knob}: the tree corresponds to {vals} ({self.tree_order} in {self.function}"
                + (f" at {self.file}:{self.line}" if self.line else "") + ")")

    def to_json(self) -> dict:
        return {"knob": self.knob, "pair": [self.before, self.after], "file": self.file,
                "function": self.function, "tree_order": self.tree_order, "line": self.line,
                "values": self.values, "message": self.message}


def _fmt(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


@dataclass
class VariantResult:
    variant: str
    stands_for: str
    default: bool
    paths: list

    @property
    def status(self) -> str:
        st = {p.status for p in self.paths}
        return DRIFT if DRIFT in st else MISSING if MISSING in st else MATCHES

    def to_json(self) -> dict:
        return {"variant": self.variant, "stands_for": self.stands_for, "default": self.default,
                "status": self.status, "paths": [p.to_json() for p in self.paths]}


@dataclass
class ScenarioAnchors:
    scenario: str
    variants: list
    knobs: list
    unstructured: int                # steps with no kernel structure (user space, hardware)

    @property
    def default(self) -> VariantResult:
        return next(v for v in self.variants if v.default)

    def to_json(self) -> dict:
        return {"scenario": self.scenario, "default_status": self.default.status,
                "unstructured_steps": self.unstructured,
                "variants": [v.to_json() for v in self.variants],
                "knobs": [k.to_json() for k in self.knobs]}


# --------------------------------------------------------------------------------------------
# The model side: which functions, which anchors, which orders


@dataclass
class _ModelPath:
    file: str
    function: str
    steps: list = field(default_factory=list)       # (step id, KernelRef)
    aliases: dict = field(default_factory=dict)     # anchor -> its names in other kernels
    pairs: list = field(default_factory=list)       # (X, Y, step id of X, step id of Y, within-step?)
    sequence: list = field(default_factory=list)    # anchors in the threads' step order


STEP_EDGE_STATES = 20_000      # states visited to learn which step follows which


def step_edges(cm, limit: int = STEP_EDGE_STATES) -> tuple[list, bool]:
    """For each thread, the (pc, next pc) pairs the model really takes: a breadth-first walk of the
    model's own transitions (at most `limit` states). A step that always jumps elsewhere is not
    followed by the step written after it, so that pair gives no order. Returns (edges per thread,
    complete?); an incomplete walk only gives fewer orders to check, never a wrong one."""
    edges = [set() for _ in cm.threads]
    seen = {cm.initial}
    frontier = [cm.initial]
    complete = True
    while frontier:
        nxt = []
        for s in frontier:
            for ti, pci in enumerate(cm.pc_index):
                fire = cm._fire[ti][s[pci]]
                if fire is None:
                    continue
                try:
                    succs = fire(s)
                except Exception:           # a model error shows in `run`; here it only ends the walk
                    continue
                for n in succs:
                    edges[ti].add((s[pci], n[pci]))
                    if n not in seen:
                        if len(seen) >= limit:
                            complete = False
                            continue
                        seen.add(n)
                        nxt.append(n)
        frontier = nxt
    return edges, complete


def model_paths(cm, names: dict | None = None) -> dict:
    """(file, function) -> _ModelPath for a compiled model; `names`: renamed anchors."""
    aliases = dict(names or {})
    for call, new in cm.model.anchor_names.items():
        aliases[call] = tuple(dict.fromkeys(aliases.get(call, ()) + new))
    paths: dict[tuple, _ModelPath] = {}
    unstructured = 0
    taken, _ = step_edges(cm)
    for ti, t in enumerate(cm.threads):
        kref = [s.kernel for s in t.steps]
        for s, k in zip(t.steps, kref):
            if k is None:
                unstructured += 1
                continue
            mp = paths.setdefault((k.file, k.function),
                                  _ModelPath(k.file, k.function, aliases=aliases))
            sid = f"{t.name}/{s.label}"
            mp.steps.append((sid, k))
            mp.sequence.extend(k.calls)
            succ = sorted(j for i, j in taken[ti] if i == s.index)
            for j in succ:
                if j < len(t.steps) and kref[j] is not None and (kref[j].file, kref[j].function) == (k.file, k.function) \
                        and j != s.index:
                    mp.pairs.append((s.index, j, sid, f"{t.name}/{t.steps[j].label}", k, kref[j]))
    return paths, unstructured


# --------------------------------------------------------------------------------------------
# The tree side


def tree_functions(tree: GitTree, file: str, function: str, names: dict | None = None) -> list[Function] | None:
    """The definitions of `function` in `file`; where the file defines none, those of its new
    names in the rename table (`shrink_page_list = ["shrink_folio_list"]`), marked `renamed_from`."""
    text = tree.read(file)
    if text is None:
        return None
    defs = functions(text, file, function)
    if not defs:
        for new in (names or {}).get(function, ()):
            defs = functions(text, file, new)
            if defs:
                for fn in defs:
                    fn.renamed_from = function
                break
    return defs


def _names(aliases: dict, call: str) -> tuple:
    return (call,) + tuple(aliases.get(call, ()))


def _find(fn: Function, aliases: dict, call: str) -> list:
    names = set(_names(aliases, call))
    return [c for c in fn.calls if c.name in names]


def _order(fn: Function, x: str, y: str, aliases: dict | None = None):
    """(forward, backward): the first pair of calls with x reaching y, and with y reaching x
    (under any of their names)."""
    xs, ys = _find(fn, aliases or {}, x), _find(fn, aliases or {}, y)
    fwd = next(((a, b) for a in xs for b in ys if fn.reaches(a, b)), None)
    bwd = next(((b, a) for a in xs for b in ys if fn.reaches(b, a)), None)
    return fwd, bwd


def _check_path(mp: _ModelPath, defs: list[Function] | None, variant: str, extra: tuple = ()) -> PathResult:
    anchors = list(dict.fromkeys(mp.sequence))
    res = PathResult(mp.file, mp.function, None, [sid for sid, _ in mp.steps], anchors)
    if defs is None:
        res.note = f"the tree has no file {mp.file}"
        res.missing = anchors
        return res
    if not defs:
        res.note = f"{mp.file} defines no function {mp.function}"
        res.missing = anchors
        return res
    best = None
    for fn in defs:                           # one definition per #if arm: take the one that fits best
        r = _check_def(mp, fn, anchors, variant, extra)
        key = (len(r.drifts), len(r.missing))
        if best is None or key < best[0]:
            best = (key, r)
    return best[1]


def _check_def(mp: _ModelPath, fn: Function, anchors: list, variant: str, extra: tuple = ()) -> PathResult:
    res = PathResult(mp.file, mp.function, fn.line, [sid for sid, _ in mp.steps], anchors)
    notes = []
    if getattr(fn, "renamed_from", None):
        notes.append(f"the tree calls it {fn.name}")
    if fn.config:
        notes.append(f"definition under #if {fn.config}")
    res.note = "; ".join(notes)
    names = {c.name for c in fn.calls}
    called = {a for a in anchors if any(n in names for n in _names(mp.aliases, a))}
    res.missing = [a for a in anchors if a not in called]
    pairs: list[tuple[str, str]] = []
    for _, k in mp.steps:
        # statements in order; an argument only before the call it is passed to
        top = [c for c, w in zip(k.calls, k.within) if w < 0 and c in called]
        # a call the step names twice is two calls (`a() -> x(); else x()`): nothing is ordered
        # against its second mention
        pairs += [(x, y) for i, (x, y) in enumerate(zip(top, top[1:])) if y not in top[:i + 1]]
        pairs += [(c, k.calls[w]) for c, w in zip(k.calls, k.within)
                  if w >= 0 and c in called and k.calls[w] in called]
    for _, _, _, _, ka, kb in mp.pairs:
        pa = [c for c, w in zip(ka.calls, ka.within) if w < 0 and c in called]
        pb = [c for c, w in zip(kb.calls, kb.within) if w < 0 and c in called]
        # a step that begins with a call the step before it already made is not a continuation
        # of it: a new invocation or loop iteration (the rmap walk's next VMA, a second
        # mprotect(), `while (page_vma_mapped_walk())`), or the inside of a call it named
        # (`ptep_clear_flush(): flush_tlb_range()` after `pteval = ptep_clear_flush()`)
        if pa and pb and pb[0] not in ka.calls:
            pairs.append((pa[-1], pb[0]))
    # the orders knobs choose (Knob.orders), in the model's order, wherever the model has both calls
    # (under the names the model uses here: a knob written for swap_free() also orders the
    # folio_put_swap() of a 2026 step)
    for x, y in extra:
        ix, iy = _seq_index(mp, x), _seq_index(mp, y)
        if ix is None or iy is None:
            continue
        x, y = mp.sequence[ix], mp.sequence[iy]
        if x in called and y in called:
            pairs.append((x, y) if ix < iy else (y, x))
    seen_drift = set()
    for x, y in dict.fromkeys(pairs):
        if set(_names(mp.aliases, x)) & set(_names(mp.aliases, y)):
            continue                     # one call in the tree (two anchors merged into one)
        res.orders_checked += 1
        fwd, bwd = _order(fn, x, y, mp.aliases)
        res.pair_orders.append((x, y, fwd[0].line if fwd else None,
                                (bwd[0].line, bwd[1].line, bwd[0].name, bwd[1].name) if bwd else None))
        if fwd is not None:
            res.orders_matched += 1
        elif bwd is not None:
            if (x, y) not in seen_drift:
                seen_drift.add((x, y))
                res.drifts.append(Drift(x, y, mp.file, bwd[0].line, bwd[1].line, variant,
                                        bwd[1].name, bwd[0].name))
        else:
            res.unordered.append((x, y))
    return res


def tree_order(fn: Function, x: str, y: str, aliases: dict | None = None) -> tuple[str, int | None]:
    fwd, bwd = _order(fn, x, y, aliases)
    if fwd and bwd:
        return "both", fwd[0].line
    if fwd:
        return f"{x} before {y}", fwd[0].line
    if bwd:
        return f"{y} before {x}", bwd[0].line
    if _find(fn, aliases or {}, x) and _find(fn, aliases or {}, y):
        return "unordered", None
    return "absent", None


def same_call(aliases: dict, a: str, b: str) -> bool:
    """Do anchors `a` and `b` name one call (a name and its rename: swap_free / folio_put_swap)?"""
    return bool(set(_names(aliases, a)) & set(_names(aliases, b)))


def _seq_index(mp: _ModelPath, x: str) -> int | None:
    """Where the model first calls `x`, under any of its names."""
    return next((i for i, c in enumerate(mp.sequence) if same_call(mp.aliases, c, x)), None)


def _model_order(mp: _ModelPath | None, x: str, y: str) -> str:
    ix = _seq_index(mp, x) if mp is not None else None
    iy = _seq_index(mp, y) if mp is not None else None
    if ix is None or iy is None:
        return "absent"
    return f"{x} before {y}" if ix < iy else f"{y} before {x}"


# --------------------------------------------------------------------------------------------
# A scenario


class NamesError(BadInput):
    """A names file is malformed (bad input)."""


def load_names(path=None) -> dict:
    """The rename table (`[renamed] call = ["new_name", ...]`): the shipped specs/anchor-names.toml
    unless `path` names another file."""
    import tomllib
    from pathlib import Path
    if path is None:
        from .scenario import specs_dir
        path = specs_dir() / "anchor-names.toml"
        if not Path(path).exists():
            return {}
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise NamesError(f"{path}: {e}") from None
    unknown = set(data) - {"renamed"}
    if unknown:
        raise NamesError(f"{path}: unknown key(s) {sorted(unknown)} (expected a [renamed] table)")
    table = data.get("renamed", {})
    for k, v in table.items():
        if not (k.isidentifier() and isinstance(v, list) and v and all(isinstance(n, str) and n.isidentifier() for n in v)):
            raise NamesError(f"{path}: renamed.{k}: expected a list of C function names")
    return {k: tuple(v) for k, v in table.items()}


def check_scenario(sc, tree: GitTree, variants: list | None = None, names: dict | None = None) -> ScenarioAnchors:
    """Every variant of scenario `sc` (or those named) against `tree`; `names`: renamed anchors
    (load_names()) on top of the model's own (Model.renamed)."""
    results = []
    unstructured = 0
    chosen = [sc.variant(v) for v in variants] if variants else list(sc.variants)
    if not any(v.name == sc.default_variant for v in chosen):
        chosen.insert(0, sc.variant(None))
    def_cache: dict[tuple, list | None] = {}
    knob_pairs = tuple(p for k in sc.knobs for p in k.orders)
    for v in chosen:
        cm = sc.build(v)
        paths, unstructured = model_paths(cm, names)
        out = []
        for key, mp in paths.items():
            if key not in def_cache:
                def_cache[key] = tree_functions(tree, *key, names)
            out.append(_check_path(mp, def_cache[key], v.name, knob_pairs))
        results.append(VariantResult(v.name, v.stands_for, v.name == sc.default_variant, out))
    knobs = _knob_findings(sc, tree, def_cache, names)
    return ScenarioAnchors(sc.name, results, knobs, unstructured)


def _knob_findings(sc, tree, def_cache, names) -> list[KnobFinding]:
    out = []
    default = sc.variant(None)
    for knob in sc.knobs:
        if not knob.orders:
            continue
        by_value = {}
        for value in knob.domain:
            try:
                cm = sc.build(default, {knob.name: value})
            except (BadInput, ValueError):
                continue                          # a value the builder refuses with these knobs
            by_value[value] = model_paths(cm, names)[0]
        for x, y in knob.orders:
            keys = {k for paths in by_value.values() for k, mp in paths.items()
                    if _seq_index(mp, x) is not None or _seq_index(mp, y) is not None}
            for key in sorted(keys):
                if key not in def_cache:
                    def_cache[key] = tree_functions(tree, *key, names)
                defs = def_cache[key] or []
                if not defs:
                    continue
                model_orders = {val: _model_order(paths.get(key), x, y) for val, paths in by_value.items()}
                if len(set(model_orders.values())) < 2:
                    continue                      # the knob does not choose this function's order
                fn = defs[0]
                aliases = next((p[key].aliases for p in by_value.values() if key in p), {})
                order, line = tree_order(fn, x, y, aliases)
                if order == "both" or order == "unordered":
                    values = []
                else:
                    values = [val for val, mo in model_orders.items() if mo == order]
                out.append(KnobFinding(knob.name, x, y, key[0], key[1], order, line, values))
    return out


def summary(reports: list[ScenarioAnchors]) -> dict:
    """Figures over the default variants: paths, steps, anchors and orders checked, statuses."""
    d = {"scenarios": len(reports), "paths": 0, "steps": 0, "anchors": 0, "anchors_found": 0,
         "orders_checked": 0, "orders_matched": 0, "drifts": 0,
         "status": {MATCHES: 0, DRIFT: 0, MISSING: 0}}
    for r in reports:
        dv = r.default
        d["status"][dv.status] += 1
        for p in dv.paths:
            d["paths"] += 1
            d["steps"] += len(p.steps)
            d["anchors"] += len(p.anchors)
            d["anchors_found"] += len(p.anchors) - len(p.missing)
            d["orders_checked"] += p.orders_checked
            d["orders_matched"] += p.orders_matched
            d["drifts"] += len(p.drifts)
    return d
