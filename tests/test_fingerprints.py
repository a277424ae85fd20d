"""--fingerprints BITS: the unreduced search storing a fingerprint per state. A violation is real and
its trace is a shortest one; a "holds" is probabilistic and says with what probability a state may
have been omitted (so a tiny fingerprint must show omissions)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pteverify.explore import explore
from pteverify.model import ModelError
from pteverify.model import Knobs
from pteverify.models.scenarios import classic
from pteverify.scenario import load_scenarios


def test_fingerprint_search_agrees_with_the_exact_search_on_every_shipped_variant():
    for sc in load_scenarios().values():
        for v in sc.variants:
            cm = sc.build(v)
            exact = explore(cm, reduction=False)
            if cm.progress:                      # progress needs the full graph: refused
                with pytest.raises(ModelError, match="progress"):
                    explore(cm, reduction=False, fingerprints=64)
                continue
            fp = explore(cm, reduction=False, fingerprints=64)
            where = f"{sc.name}:{v.name}"
            assert (fp.verdict, fp.invariant, fp.kind) == (exact.verdict, exact.invariant, exact.kind), where
            assert [(t, tuple(s)) for t, s in fp.path] == [(t, tuple(s)) for t, s in exact.path], where
            if exact.verdict == "holds":
                assert fp.stats.states == exact.stats.states, where
                assert 0 < fp.fingerprints["omission_probability"] < 1e-9, where


def test_a_small_fingerprint_omits_states_and_says_so():
    """125,000 states cannot have distinct 16-bit fingerprints: some are omitted, and it says so."""
    cm = classic.counters(Knobs(classic.counters.knobs, {"counter.threads": 3,
                                                         "counter.increments": 49})).compile()
    fp = explore(cm, reduction=False, fingerprints=16)
    assert fp.verdict == "holds" and fp.stats.states <= 2 ** 16 < 50 ** 3
    assert fp.fingerprints == {"bits": 16, "omission_probability": 1.0}


def _run(*args):
    return subprocess.run([sys.executable, "-m", "pteverify", "run", *args], capture_output=True, text=True)


def test_cli_fingerprints():
    p = _run("peterson", "--variant", "correct", "--fingerprints", "64")
    assert p.returncode == 0 and "HOLDS (probabilistic: 64-bit fingerprints" in p.stdout
    p = _run("peterson", "--variant", "correct", "--fingerprints", "64", "--json")
    out = json.loads(p.stdout)
    assert out["verdict"] == "holds (probabilistic)" and out["fingerprints"]["bits"] == 64
    p = _run("peterson", "--variant", "broken-order", "--fingerprints", "64", "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["verdict"] == "violated" and out["trace"]
    p = _run("peterson", "--fingerprints", "8")
    assert p.returncode == 2
    # a model with progress properties (every thread of odirect-swapout finishes) is refused
    p = _run("odirect-swapout", "--variant", "1493a1913e34", "--fingerprints", "64")
    assert p.returncode == 2 and "progress" in p.stderr
