"""Fuzzing the error policy (issue 16): malformed layout files, scenario files (and the user models
they name) and command-line argument combinations, run through the real entry point `cli.main`.

Every input must end in exit 0, 1, 2 or 3; exit 2 must be exactly one line on stderr; no input may
give a traceback or exit 4 (pteverify's own defect). The default run draws a few hundred inputs
within the test budget; the nightly profile draws far more:

    PTEVERIFY_TEST_PROFILE=deep python -m pytest tests/test_fuzz.py

The number of inputs tried is printed in pytest's summary ("fuzz: N malformed inputs ...").
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from pteverify import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = (ROOT / "tests" / "layouts" / "fixture-ok.toml").read_text()
TRIED: dict[str, int] = {"layout": 0, "scenario": 0, "cli": 0}
EXITS: dict[int, int] = {}
_serial = itertools.count()

FUZZ = settings(max_examples=examples(60, 2000), deadline=None, derandomize=not os.environ.get("PTEVERIFY_TEST_PROFILE"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


def invoke(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run `pteverify ARGS` in this process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main([str(a) for a in args])
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def assert_policy(args, code, out, err):
    what = f"pteverify {' '.join(map(str, args))}"
    EXITS[code] = EXITS.get(code, 0) + 1
    assert "Traceback" not in err, f"{what}: traceback\n{err}"
    assert code in (0, 1, 2, 3), f"{what}: exit {code}: {err.strip()}"
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pteverify: "), f"{what}: exit 2 with {err!r}"


# ------------------------------------------------------------------------------------------
# TOML writing (the inputs are dicts of str/int/bool/float/list/dict, as tomllib reads them)

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else "nan"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def to_toml(doc: dict) -> str:
    lines = []
    tables = []
    for k, v in doc.items():
        if isinstance(v, dict) and v and all(not isinstance(x, dict) for x in v.values()):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            tables.append((k, v))
        else:
            lines.append(f"{_toml_value(str(k))} = {_toml_value(v)}")
    for k, v in tables:
        if isinstance(v, dict):
            lines.append(f"\n[{_toml_value(str(k))}]")
            lines += [f"{_toml_value(str(kk))} = {_toml_value(x)}" for kk, x in v.items()]
        else:
            for item in v:
                lines.append(f"\n[[{_toml_value(str(k))}]]")
                lines += [f"{_toml_value(str(kk))} = {_toml_value(x)}" for kk, x in item.items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# Strategies

scalars = st.one_of(st.integers(-2**70, 2**70), st.booleans(), st.text(max_size=12),
                    st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)

BASE_LAYOUT = tomllib.loads(FIXTURE)
NAMES = sorted(BASE_LAYOUT["constants"]) + ["x", "pte", "type", "offset", "pte_val", "__swp_type"]
C_TOKENS = ["(", ")", "+", "-", "~", "!", "<<", ">>", "&", "|", "^", "*", "/", "%", "?", ":", "==", "<",
            "&&", "||", ",", ".", "{", "}", "(unsigned long)", "(u8)", "sizeof", "1UL", "0x", "0xffffffffffffffffff",
            "07", "08", "1u", "1ull", "1lL", "-1", "32", "64", "#", "##", "'a'", "\"s\"", "@", "$"]


@st.composite
def c_expressions(draw, depth=0):
    """Random C expressions: mostly well-formed, with junk tokens mixed in."""
    kind = draw(st.integers(0, 9 if depth < 4 else 2))
    if kind == 0:
        return draw(st.sampled_from(NAMES))
    if kind == 1:
        return str(draw(st.integers(0, 2**66)))
    if kind == 2:
        return " ".join(draw(st.lists(st.sampled_from(C_TOKENS + NAMES), max_size=8)))
    if kind in (3, 4, 5):
        op = draw(st.sampled_from(["+", "-", "<<", ">>", "&", "|", "^", "*", "/", "%", "==", "&&", "||"]))
        return f"({draw(c_expressions(depth + 1))} {op} {draw(c_expressions(depth + 1))})"
    if kind == 6:
        return f"{draw(st.sampled_from(['-', '~', '!', '(unsigned int)', '(pteval_t)', 'sizeof']))}{draw(c_expressions(depth + 1))}"
    if kind == 7:
        return f"({draw(c_expressions(depth + 1))} ? {draw(c_expressions(depth + 1))} : {draw(c_expressions(depth + 1))})"
    if kind == 8:
        n = draw(st.integers(1, 400))
        return draw(st.sampled_from(["(" * n + "1" + ")" * n, "+".join(["1"] * n), "-" * n + "1", "(" * n]))
    return draw(st.text(max_size=20))


@st.composite
def layout_texts(draw):
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_LAYOUT.items()}
    doc["layout"] = "fuzz"
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.integers(0, 6))
        section = draw(st.sampled_from(["constants", "macros", "flags", "bits", "types", "structs"]))
        if how <= 2 and isinstance(doc.get(section), dict) and doc[section]:
            key = draw(st.sampled_from(sorted(doc[section])))
            doc[section][key] = draw(c_expressions())
        elif how == 3:
            key = draw(st.sampled_from(sorted(doc)))
            doc[key] = draw(values)
        elif how == 4:
            doc.pop(draw(st.sampled_from(sorted(doc))), None)
        elif how == 5 and isinstance(doc.get(section), dict):
            doc[section][draw(st.text(min_size=1, max_size=10))] = draw(st.one_of(c_expressions(), values))
        else:
            doc[draw(st.sampled_from(["width", "long_bits", "max_swapfiles_shift", "offset_bits", "pmd_width",
                                      "swp_entry_bits"]))] = draw(st.one_of(st.integers(-5, 200), values))
    text = to_toml(doc)
    damage = draw(st.integers(0, 9))
    if damage == 0:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    raw = text.encode()
    if damage == 1:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif damage == 2:
        raw = raw + 'notes = "caf\xe9"\n'.encode("latin-1")
    return raw


GOOD_MODEL = '''
from pteverify.model import Model, builder

@builder()
def build(knobs):
    m = Model("tiny")
    m.field("x", 0, range(3))
    t = m.thread("t")
    t.step("inc", "tiny.c:inc: x++", effect=lambda s: {"x": s.x + 1}, reads={"x"}, writes={"x"})
    m.invariant("small", lambda s: s.x < 2, reads={"x"})
    return m
'''

BAD_MODELS = [
    GOOD_MODEL,
    "raise RuntimeError('at import')\n",
    "import sys\nsys.exit(0)\n",
    "import sys\nsys.exit('bye')\n",
    "build = 42\n",
    "def build(:\n",
    "def build(knobs):\n    return 5\n",
    "def build(knobs):\n    raise KeyError('x')\n",
    "def build(knobs):\n    import sys\n    sys.exit(1)\n",
    GOOD_MODEL.replace('lambda s: {"x": s.x + 1}', 'lambda s: {"x": 1 // 0}'),
    GOOD_MODEL.replace('lambda s: {"x": s.x + 1}', 'lambda s: {"y": 1}'),
    GOOD_MODEL.replace('lambda s: {"x": s.x + 1}', 'lambda s: 5'),
    GOOD_MODEL.replace('lambda s: s.x < 2', 'lambda s: s.nope'),
    GOOD_MODEL.replace('range(3)', '5'),
    GOOD_MODEL.replace('m.field("x", 0, range(3))', 'm.field(5, 0)'),
    GOOD_MODEL.replace('"tiny.c:inc: x++"', 'None'),
    GOOD_MODEL.replace('reads={"x"}, writes={"x"}', 'reads=5'),
    "\xff\xfe".encode("latin-1").decode("latin-1"),
]

BASE_SCENARIO = {"name": "fuzz", "model": "fuzz_model.py:build",
                 "variants": [{"name": "v1", "expect": "holds"}, {"name": "v2", "expect": "violated", "invariant": "small"}]}
SCENARIO_KEYS = ["name", "title", "description", "model", "threads", "invariants", "default_variant", "variants",
                 "kind", "max_states", "race", "equivalent", "bogus"]
VARIANT_KEYS = ["name", "commit", "release", "description", "knobs", "expect", "invariant", "states", "race", "zzz"]


@st.composite
def scenario_inputs(draw):
    doc = {k: (list(v) if isinstance(v, list) else v) for k, v in BASE_SCENARIO.items()}
    doc["variants"] = [dict(v) for v in BASE_SCENARIO["variants"]]
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.integers(0, 3))
        if how == 0:
            doc[draw(st.sampled_from(SCENARIO_KEYS))] = draw(st.one_of(values, st.sampled_from(
                ["v1", "v2", "", "fuzz_model.py:build", "nope:build", "fuzz_model.py:", "/etc/passwd:x"])))
        elif how == 1 and isinstance(doc.get("variants"), list) and doc["variants"]:
            v = doc["variants"][draw(st.integers(0, len(doc["variants"]) - 1))]
            if isinstance(v, dict):
                v[draw(st.sampled_from(VARIANT_KEYS))] = draw(st.one_of(values, st.sampled_from(
                    ["holds", "violated", "small", "deadlock", "v1", "abc1234", {"nope": 1}])))
        elif how == 2:
            doc.pop(draw(st.sampled_from(sorted(doc))), None)
        else:
            doc["variants"] = draw(st.one_of(values, st.just([])))
    model = draw(st.sampled_from(BAD_MODELS))
    text = to_toml(doc).encode()
    if draw(st.integers(0, 9)) == 0:
        text = text[:draw(st.integers(0, len(text)))] + draw(st.binary(max_size=4))
    command = draw(st.sampled_from(["run", "show", "check", "run-bounded"]))
    return text, model, command


CLI_VALUES = ["", "0", "-1", "1", "3", "nan", "inf", "-inf", "1e400", "abc", "100000", "peterson", "x86_64",
              "lost-update", "broken-order", "correct", "/nonexistent/x", "/proc/x", "@OUT", "@DIR",
              "peterson.flag_before_turn=perhaps", "nope=1", "=", "counter.increments=3", "round_trip",
              "layout/x86*", "peterson*", "all", "v5.18"]
COMMANDS = {
    "list": ["--json"],
    "show": ["--variant", "--json"],
    "run": ["--variant", "--set", "--max-states", "--max-seconds", "--no-reduction", "--json", "--dot", "--arch",
            "--coverage"],
    "prove": ["--layout-file", "--property", "--timeout", "--json", "-v"],
    "layout show": ["--layout-file"],
    "check": ["--jobs", "--only", "--json", "--junit", "--sarif", "--markdown", "--max-seconds", "--changed-only",
              "--baseline", "--no-layouts"],
}
FLAGS = {"--json", "--no-reduction", "-v", "--changed-only", "--no-layouts", "--coverage"}


@st.composite
def cli_args(draw):
    command = draw(st.sampled_from(sorted(COMMANDS)))
    args = command.split()
    if command in ("show", "run"):
        args.append(draw(st.sampled_from(["peterson", "lost-update", "philosophers", "", "nope", "@DIR"])))
    elif command == "prove":
        args += draw(st.lists(st.sampled_from(["x86_64", "nios2", "nope", "--all", ""]), max_size=2))
    elif command == "layout show":
        args.append(draw(st.sampled_from(["x86_64", "nope", "", "@OUT"])))
    elif command == "check":
        args += ["--only", draw(st.sampled_from(["peterson*", "lost-update*", "layout/x86_64", "nomatch"])),
                 "--baseline", "@BASE"]
    for opt in draw(st.lists(st.sampled_from(COMMANDS[command] + ["--bogus", "--debug"]), max_size=4)):
        args.append(opt)
        if opt not in FLAGS and opt not in ("--bogus", "--debug"):
            args.append(draw(st.sampled_from(CLI_VALUES)))
    if "check" in args and "--no-layouts" not in args and "layout/" not in " ".join(args):
        args.append("--no-layouts")
    return args


# ------------------------------------------------------------------------------------------
# The tests

@FUZZ
@given(raw=layout_texts(), prove=st.booleans())
def test_fuzz_layout_files(tmp_path_factory, raw, prove):
    d = tmp_path_factory.mktemp("lay")
    f = d / "fuzz.toml"
    f.write_bytes(raw)
    args = ["prove", "--layout-file", f, "--property", "round_trip", "--timeout", "5"] if prove else \
        ["layout", "show", f]
    TRIED["layout"] += 1
    assert_policy(args, *invoke(args, d))


@FUZZ
@given(case=scenario_inputs())
def test_fuzz_scenario_files(tmp_path_factory, case):
    text, model, command = case
    d = tmp_path_factory.mktemp("sc")
    (d / "fuzz.toml").write_bytes(text)
    (d / "fuzz_model.py").write_text(model, encoding="latin-1")
    args = {"run": ["run", d / "fuzz.toml"], "show": ["show", d / "fuzz.toml"],
            "run-bounded": ["run", d / "fuzz.toml", "--max-states", "2", "--max-seconds", "5"],
            "check": ["check", "--scenarios", d, "--no-layouts", "--baseline", d / "b.json"]}[command]
    TRIED["scenario"] += 1
    assert_policy(args, *invoke(args, d))


@FUZZ
@given(args=cli_args())
def test_fuzz_cli_arguments(tmp_path_factory, args):
    d = tmp_path_factory.mktemp("cli")
    n = next(_serial)
    subst = {"@OUT": str(d / f"out{n}.x"), "@DIR": str(d), "@BASE": str(d / "b.json")}
    args = [subst.get(a, a) for a in args]
    TRIED["cli"] += 1
    assert_policy(args, *invoke(args, d))


def test_fuzz_counts_are_reported():
    # runs after the fuzz tests in file order: the counts reach the terminal summary (conftest)
    assert sum(TRIED.values()) >= 0
