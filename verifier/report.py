"""Machine-readable reports. `pteverify run --json` prints `run_json`: the contract other tools and
CI parse (scenario, variant, verdict, states, transitions, seconds, reduction, and on a violation the
invariant and the trace)."""

from __future__ import annotations

from .explore import VIOLATED, Result
from .trace import trace_json


def run_json(scenario, variant, result: Result, overrides: dict | None = None) -> dict:
    st = result.stats
    out = {
        "scenario": scenario.name,
        "variant": variant.name,
        "stands_for": variant.stands_for,
        "knobs": {k: v for k, v in result.model.model.knobs.items()} if result.model.model.knobs else {},
        "overrides": dict(overrides or {}),
        "verdict": result.verdict,
        "expect": variant.expect,
        "states": st.states,
        "transitions": st.transitions,
        "max_depth": st.max_depth,
        "seconds": round(st.seconds, 4),
        "states_per_s": round(st.states_per_s),
        "peak_rss_mb": round(st.peak_rss_mb, 1),
        "reduction": result.reduction,
        "reduction_applies": result.stats.reduction_used,
        "reduced_expansions": result.stats.reduced_expansions,
    }
    knobs = result.model.model.knobs
    if knobs is not None and knobs.arch is not None:
        out["arch"] = knobs.arch.name
    out["memory_model"] = getattr(result.model, "memory_model", "sc")
    if result.bound:
        out["bound"] = result.bound
    if result.fingerprints is not None:
        out["fingerprints"] = dict(result.fingerprints)
        if result.verdict == "holds":
            out["verdict"] = "holds (probabilistic)"
    if result.verdict == VIOLATED:
        out["invariant"] = result.invariant
        out["kind"] = result.kind
        out["trace"] = trace_json(result)
        if result.kind == "progress":
            out["cycle_start"] = result.cycle_start
        if result.trace_note:
            out["trace_note"] = result.trace_note
    return out


# --------------------------------------------------------------------------------------------
# Reports of `pteverify check`: JUnit XML, SARIF 2.1.0, Markdown (the JSON is check.report_json)

import os as _os
import re as _re
import xml.etree.ElementTree as _ET
from pathlib import Path as _Path

from . import __version__ as _VERSION

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rel(path: str) -> str:
    try:
        return _os.path.relpath(path)
    except ValueError:
        return path


def junit_xml(results, seconds: float) -> str:
    """One <testsuite> per scenario and per layout, one <testcase> per scenario variant and per
    layout property; an unmet expectation is a <failure> with the reason."""
    root = _ET.Element("testsuites", name="pteverify check", tests=str(len(results)),
                       failures=str(sum(r.status != "pass" for r in results)), errors="0",
                       time=f"{seconds:.3f}")
    suites: dict[str, _ET.Element] = {}
    for r in results:
        kind = r.kind if r.kind in ("scenario", "anchors") else "layout"
        suite_name = f"{kind}.{r.name}" + (f"@{r.arch}" if r.arch else "")
        suite = suites.get(suite_name)
        if suite is None:
            suite = suites[suite_name] = _ET.SubElement(root, "testsuite", name=suite_name, tests="0",
                                                        failures="0", errors="0", skipped="0", time="0")
        suite.set("tests", str(int(suite.get("tests")) + 1))
        suite.set("time", f"{float(suite.get('time')) + r.seconds:.3f}")
        case = _ET.SubElement(suite, "testcase", name=r.item, classname=suite_name, time=f"{r.seconds:.3f}",
                              file=_rel(r.file))
        if r.status != "pass":
            suite.set("failures", str(int(suite.get("failures")) + 1))
            fail = _ET.SubElement(case, "failure", message=r.message, type=r.verdict)
            fail.text = _detail_text(r)
        out = _ET.SubElement(case, "system-out")
        out.text = (f"verdict {r.verdict}, expected {r.expect}"
                    + (f", {r.states} states" if r.states is not None else "") + f"; hash {r.hash}")
    _ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _ET.tostring(root, encoding="unicode") + "\n"


def _detail_text(r) -> str:
    if "trace" in r.details:
        return "\n".join(f"{s['thread']}: {s['kernel_ref']}" for s in r.details["trace"])
    if "counterexample" in r.details:
        return "\n".join(f"{k}: {v}" for k, v in r.details["counterexample"].items())
    return r.message


def _find_line(path: str, patterns: list[str]) -> int:
    try:
        lines = _Path(path).read_text().splitlines()
    except OSError:
        return 1
    for pat in patterns:
        rx = _re.compile(pat)
        for i, line in enumerate(lines, 1):
            if rx.search(line):
                return i
    return 1


def sarif(results) -> dict:
    """SARIF 2.1.0: every violation found and every disproof is a result at the scenario variant's or
    the layout's line; unmet expectations are errors, expected ones (known historical bugs, known
    findings) notes."""
    rules: dict[str, dict] = {}
    out = []
    for r in results:
        bad = r.verdict in ("violated", "disproved", "incomplete", "unknown", "error", "drift") or r.status != "pass"
        if not bad:
            continue
        if r.kind == "anchors":
            rule_id = f"anchors/{r.verdict}"
            line = 1
            text = f"{r.name}: {r.item}: {r.message}"
        elif r.kind == "scenario":
            rule_id = f"invariant/{r.invariant or r.verdict}"
            line = _find_line(r.file, [rf'^name\s*=\s*"{_re.escape(r.item)}"'])
            text = (f"{r.name} variant {r.item}" + (f" on {r.arch}" if r.arch else "") + f": {r.message}")
        else:
            rule_id = f"layout/{r.item}"
            line = _find_line(r.file, [rf"^{_re.escape(r.item)}\s*=", r"^\[known_findings\]", r"^\[macros\]"])
            text = f"{r.name}: {r.item} {r.verdict}: {r.message}"
        rules.setdefault(rule_id, {"id": rule_id, "shortDescription": {"text": rule_id.replace("/", ": ")}})
        uri = _Path(_rel(r.file)).as_posix()
        loc = r.details.get("location")          # `gate`: the kernel file and line the result is about
        if loc:
            uri, line = loc["file"], loc["line"]
        out.append({
            "ruleId": rule_id,
            "level": "error" if r.status != "pass" else "note",
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                                "region": {"startLine": line}}}],
            "partialFingerprints": {"pteverify/v1": r.hash or r.id},
            "properties": {"id": r.id, "verdict": r.verdict, "expect": r.expect, "status": r.status},
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "pteverify", "version": _VERSION,
                                      "informationUri": "https://example.invalid/pteverify",
                                      "rules": list(rules.values())}},
                  "results": out}],
    }


def markdown(results, seconds: float, n_jobs: int) -> str:
    """A summary fit to paste into a review reply."""
    failed = [r for r in results if r.status != "pass"]
    scen = [r for r in results if r.kind == "scenario"]
    lay = [r for r in results if r.kind != "scenario"]
    head = "**pteverify check: " + ("all expectations met**" if not failed else f"{len(failed)} unmet**")
    lines = [head, "",
             f"{len(scen)} scenario variants, {len({r.name for r in lay})} layouts "
             f"({len(lay)} properties); {seconds:.1f} s with {n_jobs} job(s).", ""]
    if failed:
        lines += ["| what | verdict | expected | why |", "| --- | --- | --- | --- |"]
        for r in failed:
            lines.append(f"| `{r.id}` | {r.verdict} | {r.expect} | {r.message} |")
        lines.append("")
    lines += ["| scenario | variant | stands for | verdict | states |", "| --- | --- | --- | --- | --- |"]
    for r in scen:
        mark = "" if r.status == "pass" else " :x:"
        arch = f" @{r.arch}" if r.arch else ""
        verdict = r.verdict + (f" ({r.invariant})" if r.invariant else "")
        lines.append(f"| {r.name}{arch} | {r.item} | {r.stands_for} | {verdict}{mark} | {r.states} |")
    if lay:
        by_layout: dict[str, list] = {}
        for r in lay:
            by_layout.setdefault(r.name, []).append(r)
        lines += ["", "| layout | proved | disproved (expected) | unmet |", "| --- | --- | --- | --- |"]
        for name, rs in by_layout.items():
            proved = sum(r.verdict == "proved" for r in rs)
            known = [r.item for r in rs if r.verdict == "disproved" and r.status == "pass"]
            unmet = [r.item for r in rs if r.status != "pass"]
            lines.append(f"| {name} | {proved} | {', '.join(known) or '-'} | {', '.join(unmet) or '-'} |")
    return "\n".join(lines) + "\n"
