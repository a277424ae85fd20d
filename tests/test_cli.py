"""The command line: exit codes, one-line errors, the JSON contract, DOT export."""

import json
import subprocess
from pathlib import Path
import sys

import pytest

from pteverify.scenario import load_scenarios


def run(*args):
    p = subprocess.run([sys.executable, "-m", "pteverify", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def test_run_holds_exit_0():
    rc, out, err = run("run", "peterson")
    assert rc == 0 and "HOLDS" in out


def test_run_violation_exit_1_with_race_table():
    rc, out, err = run("run", "peterson", "--variant", "broken-order")
    assert rc == 1
    assert "VIOLATED (mutual_exclusion)" in out
    assert "while (flag[1] && turn == 1) ;" in out and "cs0: 0 -> 1" in out
    assert "=> invariant mutual_exclusion violated" in out


def test_run_json_contract():
    rc, out, _ = run("run", "lost-update", "--json")
    assert rc == 1
    doc = json.loads(out)
    for key in ("scenario", "variant", "verdict", "states", "transitions", "seconds", "reduction",
                "invariant", "trace"):
        assert key in doc
    assert doc["verdict"] == "violated" and doc["invariant"] == "no_lost_update"
    assert doc["reduction"] is True
    step = doc["trace"][0]
    assert set(step) >= {"thread", "label", "kernel_ref", "changes"}
    rc, out, _ = run("run", "lost-update", "--variant", "atomic", "--json", "--no-reduction")
    doc = json.loads(out)
    assert rc == 0 and doc["verdict"] == "holds" and doc["reduction"] is False and "trace" not in doc


def test_incomplete_exit_3():
    rc, out, _ = run("run", "counters", "--set", "counter.increments=50", "--max-states", "100", "--json")
    assert rc == 3 and json.loads(out)["verdict"] == "incomplete"


@pytest.mark.parametrize("args,fragment", [
    (("run", "no-such-scenario"), "unknown scenario 'no-such-scenario'"),
    (("run", "peterson", "--variant", "v9"), "has no variant 'v9'"),
    (("run", "peterson", "--set", "nope=1"), "unknown knob 'nope'"),
    (("run", "peterson", "--set", "peterson.flag_before_turn=perhaps"), "is not one of false, true"),
    (("run", "peterson", "--set", "novalue"), "expected KNOB=VALUE"),
    (("run", "peterson", "--max-states", "-4"), "--max-states"),
    (("run", "peterson", "--frobnicate"), "No such option"),
    (("show", "no-such-scenario"), "unknown scenario"),
    (("explode",), "No such command"),
])
def test_bad_input_one_line_exit_2(args, fragment):
    rc, out, err = run(*args)
    assert rc == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_list_json():
    rc, out, _ = run("list", "--json")
    doc = json.loads(out)
    assert rc == 0 and "layouts" in doc
    names = {s["name"] for s in doc["scenarios"]}
    assert names == set(load_scenarios())
    peterson = next(s for s in doc["scenarios"] if s["name"] == "peterson")
    assert {v["name"]: v["expect"] for v in peterson["variants"]} == {"correct": "holds", "one-round": "holds",
                                                                      "broken-order": "violated"}


def test_show_lists_steps_with_references():
    rc, out, _ = run("show", "philosophers")
    assert rc == 0
    assert "take_first" in out and "[takes fork0]" in out and "philosophers.ordered" in out
    assert "naive: expect violated (deadlock)" in out


def test_dot_export(tmp_path):
    dot = tmp_path / "g.dot"
    rc, out, _ = run("run", "philosophers", "--no-reduction", "--dot", str(dot))
    assert rc == 1
    text = dot.read_text()
    assert text.startswith('digraph "philosophers"') and "->" in text and "color=red" in text
    # one node line per explored state
    assert sum(1 for line in text.splitlines() if "[label=" in line and "->" not in line) == 20


def test_malformed_layout_file_is_one_line_exit_2(tmp_path):
    good = (Path(__file__).parent / "layouts" / "fixture-ok.toml").read_text()
    assert '"__swp_offset(x)" = "((x).val >> SWP_OFFSET_SHIFT)"' in good
    bad = tmp_path / "fixture-ok.toml"
    bad.write_text(good.replace('"__swp_offset(x)" = "((x).val >> SWP_OFFSET_SHIFT)"',
                                '"__swp_offset(x)" = "((x).val >> (SWP_OFFSET_SHIFT +)"'))
    rc, out, err = run("prove", "--layout-file", str(bad))
    assert rc == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert str(bad) in err and '__swp_offset(x)' in err and "column" in err


def test_unknown_layout_and_arch_are_exit_2():
    for args in (("prove", "no-such-arch"), ("layout", "show", "no-such-arch"),
                 ("run", "odirect-swapout", "--arch", "no-such-arch")):
        rc, _, err = run(*args)
        assert rc == 2 and "unknown layout 'no-such-arch'" in err and len(err.strip().splitlines()) == 1


def test_help_summaries_wrap_not_cut():
    """`pteverify --help` (and a subgroup's) lists every command's whole summary, wrapped to a
    narrow terminal, never cut with '...'."""
    import os
    import subprocess
    import sys
    for args in (["--help"], ["layout", "--help"], ["extract", "--help"]):
        p = subprocess.run([sys.executable, "-m", "pteverify", *args], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "60"})
        assert p.returncode == 0
        body = p.stdout.split("Commands:", 1)[1]
        assert not any(line.rstrip().endswith("...") for line in body.splitlines()), body
    assert "order, against a kernel tree." in " ".join(
        subprocess.run([sys.executable, "-m", "pteverify", "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "60"}).stdout.split())
