"""The patch gate (`pteverify gate --kernel-tree DIR --base REV`): what a kernel change touches,
re-checked.

The files changed between REV and the working tree decide the work:

- a changed header that a layout lists in its `source` re-proves that layout as the tree's headers
  define it (extracted with the shipped file's configuration; where extraction refuses, the shipped
  file, with a note saying why);
- a changed function that a scenario's steps stand for re-checks that scenario's anchors, in the
  tree and at REV, so the gate tells a drift this change introduces ("this patch reorders X and Y")
  from one the tree already had;
- each such scenario then runs with the knob values the tree corresponds to (an order-choosing
  knob, see anchors.py) on top of its default variant; a violation fails the gate with its trace.

Results are `check.CheckResult`s, so the text, JSON, JUnit and SARIF reports are check's; anchor
results carry the kernel file and line they point at (`details["location"]`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .anchors import MATCHES, check_scenario, load_names, model_paths, same_call
from .check import FAIL, PASS, CheckResult, Job, layout_hash, run_job
from .errors import BadInput
from .kernel.functions import defined_functions
from .kernel.git import GitTree, changed_lines


@dataclass
class GateReport:
    base: str
    changed: dict                                   # file -> touched line ranges
    results: list = field(default_factory=list)
    layouts: list = field(default_factory=list)     # layouts re-proved
    scenarios: list = field(default_factory=list)   # scenarios whose paths changed
    touched: dict = field(default_factory=dict)     # scenario -> ["file:function", ...]
    knobs: dict = field(default_factory=dict)       # scenario -> {knob: value} the tree corresponds to
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status == PASS for r in self.results)

    def to_json(self) -> dict:
        return {"base": self.base, "ok": self.ok, "changed_files": sorted(self.changed),
                "layouts": self.layouts, "scenarios": self.scenarios, "touched": self.touched,
                "knobs": self.knobs, "notes": self.notes, "seconds": round(self.seconds, 3),
                "results": [r.to_json() for r in self.results]}


def _touched_functions(tree: GitTree, changed: dict) -> set:
    """(file, function) of every function definition a hunk touches (C files only)."""
    out = set()
    for path, ranges in changed.items():
        if not path.endswith(".c"):
            continue
        text = tree.read(path)
        if text is None:
            continue
        for name, first, last in defined_functions(text):
            if any(a <= last and b >= first for a, b in ranges):
                out.add((path, name))
    return out


def _layouts_for(changed: dict, layouts_dir: Path | None) -> list[Path]:
    from .layout import load_layout
    from .scenario import specs_dir
    root = Path(layouts_dir) if layouts_dir else specs_dir() / "arch"
    out = []
    for p in sorted(root.glob("*.toml")):
        lay = load_layout(p)
        if any(src in changed for src in lay.source):
            out.append(p)
    return out


def run_gate(root: Path, base: str, scenarios_dir: Path | None = None, layouts_dir: Path | None = None,
             only: tuple = (), max_seconds: float | None = 600.0) -> GateReport:
    from .explore import INCOMPLETE, VIOLATED, explore
    from .scenario import load_scenarios
    from .trace import trace_json
    t0 = time.perf_counter()
    head = GitTree(root)
    changed = changed_lines(Path(root), base)
    before = head.at(base)
    rep = GateReport(base, changed)
    names = load_names()

    # -- layouts ------------------------------------------------------------------------------
    for p in _layouts_for(changed, layouts_dir):
        rep.layouts.append(p.stem)
        results, note = _prove_extracted(Path(root), p)
        if results is None:
            rep.notes.append(f"layout {p.stem}: not extracted from the tree ({note}); the shipped file is proved")
            results = run_job(Job("layout", p.stem, str(p), hash=layout_hash(p)))
        src = next((s for s in _load_sources(p) if s in changed), None)
        for r in results:
            if src:
                r.details = {**r.details, "location": {"file": src, "line": _first_line(changed[src])}}
            rep.results.append(r)

    # -- anchors and scenarios ----------------------------------------------------------------
    touched_fns = _touched_functions(head, changed) | _touched_functions(before, {
        f: [(1, 10 ** 9)] for f, rng in changed.items() if head.read(f) is None})
    for sc in load_scenarios(scenarios_dir).values():
        if only and sc.name not in only:
            continue
        if sc.kind != "mm":
            continue
        paths, _ = model_paths(sc.build(sc.variant(None)), names)
        hit = sorted(k for k in paths if k in touched_fns)
        if not hit:
            continue
        rep.scenarios.append(sc.name)
        rep.touched[sc.name] = [f"{f}:{fn}" for f, fn in hit]
        now = check_scenario(sc, head, names=names)
        then = check_scenario(sc, before, names=names)
        dv_now, dv_then = now.default, then.default
        old = {(p.file, p.function): p for p in dv_then.paths}
        for p in dv_now.paths:
            if (p.file, p.function) not in hit:
                continue
            rep.results.append(_anchor_result(sc, dv_now, p, old.get((p.file, p.function)), now.knobs, names))
        # the knob values the tree corresponds to, on top of the default variant
        knobs = {}
        for k in now.knobs:
            if len(k.values) == 1:
                knobs.setdefault(k.knob, k.values[0])
        variant = sc.variant(None)
        knobs = {k: v for k, v in knobs.items() if variant.knobs.get(k, _default(sc, k)) != v}
        rep.knobs[sc.name] = knobs
        cm = sc.build(variant, knobs)
        r = explore(cm, max_states=sc.max_states, max_seconds=max_seconds)
        set_text = ", ".join(f"{k}={_fmt(v)}" for k, v in knobs.items())
        item = f"{variant.name}" + (f" with {set_text}" if set_text else "")
        res = CheckResult(f"gate/scenario/{sc.name}", "scenario", sc.name, item, str(sc.path),
                          PASS, r.verdict, "holds", seconds=r.stats.seconds, states=r.stats.states,
                          transitions=r.stats.transitions, invariant=r.invariant,
                          stands_for="the tree" + (f" ({set_text})" if set_text else ""))
        # where the tree decides: the order a knob value was read from, else the changed function
        loc = next(({"file": k.file, "line": k.line} for k in now.knobs
                    if k.knob in knobs and k.line and (k.file, k.function) in hit), None) or _location_of(now, hit)
        if r.verdict == VIOLATED:
            res.status = FAIL
            res.message = (f"the tree's {', '.join(rep.touched[sc.name])} with {item}: "
                           f"{r.invariant} is violated")
            res.details = {"trace": trace_json(r)}
        elif r.verdict == INCOMPLETE:
            res.status = FAIL
            res.message = f"search cut short by {r.bound}: nothing proved"
        else:
            res.message = f"holds with {item}"
        if loc:
            res.details = {**res.details, "location": loc}
        rep.results.append(res)
    if not rep.results:
        rep.notes.append("nothing pteverify models changed: no layout source header, no modelled function")
    rep.seconds = time.perf_counter() - t0
    return rep


def _prove_extracted(root: Path, shipped: Path):
    """The layout read from the tree's headers with the shipped file's configuration (its
    `config` table), proved with the shipped file's expectations; (None, why) when it cannot be
    extracted (no extractor, a construct it refuses, a layout without a configuration)."""
    try:
        from .layout import load_layout, prove_layout
        from .layout.extract import extract_layout
    except ImportError as e:
        return None, f"no extractor: {e}"
    from .layout.model import shipped_layout_paths
    filed = load_layout(shipped)
    try:
        if shipped_layout_paths().get(shipped.stem) == shipped:
            _, lay = extract_layout(root, None, preset=shipped.stem)
        elif filed.config:                # a layout file of the user's own: its arch and config
            sets = tuple(f"{k}={v}" for k, v in filed.config.items())
            _, lay = extract_layout(root, filed.arch, sets=sets, name=shipped.stem)
        else:
            return None, f"{shipped.name} names no config"
    except BadInput as e:
        return None, str(e)
    expected = {prop: "disproved" for prop in filed.known_findings}
    out = []
    for prop in prove_layout(lay).properties:
        exp = expected.get(prop.name, "proved")
        r = CheckResult(f"gate/layout/{shipped.stem}/{prop.name}", "layout-property", f"{shipped.stem} (extracted)",
                        prop.name, str(shipped), PASS if prop.verdict == exp else FAIL, prop.verdict, exp,
                        seconds=prop.seconds)
        if prop.counterexample:
            r.details = {"counterexample": prop.counterexample}
        r.message = (f"{prop.verdict} as expected" if prop.verdict == exp else
                     f"{prop.verdict}, expected {exp}" + (f": {prop.detail}" if prop.detail else ""))
        out.append(r)
    return out, ""


def _anchor_result(sc, dv, p, old, knob_findings, names=None) -> CheckResult:
    names = names or {}
    res = CheckResult(f"gate/anchors/{sc.name}/{p.function}", "anchors", sc.name, f"{p.file}:{p.function}",
                      p.file, PASS, p.status, MATCHES, stands_for=dv.variant)
    line = p.line or 1
    msgs = []
    if p.drifts:
        old_pairs = {(d.before, d.after) for d in (old.drifts if old else [])}
        new = [d for d in p.drifts if (d.before, d.after) not in old_pairs]
        explained = []
        for d in new:
            ks = [k for k in knob_findings if k.values and (k.file, k.function) == (p.file, p.function) and (
                (same_call(names, k.before, d.before) and same_call(names, k.after, d.after))
                or (same_call(names, k.before, d.after) and same_call(names, k.after, d.before)))]
            if ks:
                explained.append(f"{d.message} ({ks[0].message}; the scenario runs with it)")
            else:
                msgs.append(d.message + " (this change; no knob models it)")
        msgs += explained
        if any(not [k for k in knob_findings if {k.before, k.after} == {d.before, d.after} and k.values]
               for d in new):
            res.status = FAIL
        pre = [d for d in p.drifts if (d.before, d.after) in old_pairs]
        msgs += [d.message + " (already at the base revision)" for d in pre]
        line = (new or p.drifts)[0].line
    # a reverse order this change adds on some path, while another path keeps the model's order
    old_rev = {(x, y) for x, y, _, bwd in (old.pair_orders if old else []) if bwd}
    drifted = {(d.before, d.after) for d in p.drifts}
    for x, y, fwd, bwd in p.pair_orders:
        if bwd and fwd and (x, y) not in old_rev and (x, y) not in drifted and old is not None:
            res.status = FAIL
            msgs.append(f"drift at {p.file}:{bwd[0]}: this change makes the tree call {bwd[2]} before {bwd[3]} "
                        f"on one path (line {bwd[1]}; another path keeps {x} before {y} at line {fwd}); "
                        f"the model (variant {dv.variant}) assumes {x} before {y}")
            line = bwd[0]
    new_missing = [a for a in p.missing if old is not None and a not in old.missing]
    if new_missing:
        res.status = FAIL
        msgs.append(f"this change removes {', '.join(new_missing)} from {p.function}, which the model "
                    f"(variant {dv.variant}) stands for")
    old_missing = [a for a in p.missing if a not in new_missing]
    if old_missing:
        msgs.append(f"the model's {', '.join(old_missing)} not called in {p.function} (already at the base "
                    f"revision: the model names another kernel)")
    if p.line is None:
        msgs.append(p.note)
    res.message = "; ".join(msgs) or (f"matches: {p.orders_matched} orders of {len(p.anchors)} anchors hold")
    res.details = {"location": {"file": p.file, "line": line}, "path": p.to_json()}
    return res


def _location_of(anchors_report, hit) -> dict | None:
    for p in anchors_report.default.paths:
        if (p.file, p.function) in hit and p.line:
            return {"file": p.file, "line": p.line}
    return None


def _default(sc, name):
    for k in sc.knobs:
        if k.name == name:
            return k.default
    return None


def _fmt(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _load_sources(p: Path) -> list:
    from .layout import load_layout
    return load_layout(p).source


def _first_line(ranges) -> int:
    return ranges[0][0] if ranges else 1
