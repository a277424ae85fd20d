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
    }
    if result.bound:
        out["bound"] = result.bound
    if result.verdict == VIOLATED:
        out["invariant"] = result.invariant
        out["kind"] = result.kind
        out["trace"] = trace_json(result)
        if result.trace_note:
            out["trace_note"] = result.trace_note
    return out
