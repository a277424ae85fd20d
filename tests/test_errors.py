"""The error policy (issue 16): one line and exit 2 for bad input, exit 4 for pteverify's own defects,
exit 3 for a bound; never a traceback, never 0 or 1 on an error. One test per reproducer class."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GOOD_MODEL = '''
from pteverify.model import Model, builder

@builder()
def build(knobs):
    m = Model("tiny")
    x = m.field("x", 0, range(3))
    t = m.thread("t")
    t.step("inc", "tiny.c:inc: x++", effect=lambda s: {"x": s.x + 1}, reads={"x"}, writes={"x"})
    m.invariant("small", lambda s: s.x < 2, reads={"x"})
    return m
'''

SCENARIO = '''
name = "{name}"
model = "{module}:build"

[[variants]]
name = "v1"
expect = "holds"
'''


def run(*args, timeout=120, cwd=None):
    p = subprocess.run([sys.executable, "-m", "pteverify", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def assert_one_line(rc, err, code=2, fragment=None):
    assert rc == code, err
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    if fragment:
        assert fragment in err, err


def user_scenario(tmp_path, model_src, name="mine", extra=""):
    (tmp_path / f"{name}_model.py").write_text(textwrap.dedent(model_src))
    sc = tmp_path / f"{name}.toml"
    sc.write_text(SCENARIO.format(name=name, module=f"{name}_model.py") + extra)
    return sc


def test_good_user_model_runs(tmp_path):
    rc, out, err = run("run", user_scenario(tmp_path, GOOD_MODEL))
    assert rc == 0, err


# 1: files that are not UTF-8
@pytest.mark.parametrize("cmd", ["run", "show", "prove", "layout-show", "run-arch", "check"])
def test_not_utf8(tmp_path, cmd):
    layout = tmp_path / "x86_64.toml"
    layout.write_bytes((Path(__file__).parent.parent / "specs/arch/x86_64.toml").read_bytes()
                       + 'notes = "caf\xe9"\n'.encode("latin-1"))
    sc = tmp_path / "mine.toml"
    sc.write_bytes(b'name = "mine"\ndescription = "\xff\xfe"\n')
    args = {"run": ("run", sc), "show": ("show", sc), "prove": ("prove", "--layout-file", layout),
            "layout-show": ("layout", "show", layout), "run-arch": ("run", "odirect-swapout", "--arch", layout),
            "check": ("check", "--scenarios", tmp_path, "--no-layouts")}[cmd]
    rc, _, err = run(*args)
    assert_one_line(rc, err, 2, "not UTF-8")


# 4: nan / inf time bounds
@pytest.mark.parametrize("args", [("prove", "x86_64", "--timeout", "nan"), ("prove", "x86_64", "--timeout", "inf"),
                                  ("run", "peterson", "--max-seconds", "nan"),
                                  ("check", "--max-seconds", "inf")])
def test_non_finite_seconds(args):
    rc, _, err = run(*args)
    assert_one_line(rc, err, 2, "finite")


# 5: a baseline that is not a check report
@pytest.mark.parametrize("text", ['{"results": [', "[1,2,3]", '{"results": 5}', '{"results": [7]}'])
def test_bad_baseline(tmp_path, text):
    b = tmp_path / "b.json"
    b.write_text(text)
    rc, _, err = run("check", "--only", "peterson*", "--no-layouts", "--changed-only", "--baseline", b)
    assert_one_line(rc, err, 2, "not a check report")


# 7: a user model that raises at import, a builder that raises, build = 42, an effect that raises
@pytest.mark.parametrize("src,fragment", [
    ("raise RuntimeError('import boom')\n", "import boom"),
    ("def build(knobs):\n    raise ValueError('builder boom')\n", "builder boom"),
    ("build = 42\n", "not a builder function"),
    (GOOD_MODEL.replace('lambda s: {"x": s.x + 1}', 'lambda s: {"x": 1 // 0}'), "ZeroDivisionError"),
    ("def build(:\n", "SyntaxError"),
])
def test_user_model_raises(tmp_path, src, fragment):
    sc = user_scenario(tmp_path, src)
    rc, out, err = run("run", sc)
    assert_one_line(rc, err, 2, fragment)
    assert "mine_model.py" in err          # where: the user's file
    rc, out, err = run("check", "--scenarios", tmp_path, "--no-layouts", "--baseline", tmp_path / "b.json")
    assert rc == 2 and "Traceback" not in err, err
    assert "mine:v1" in out and fragment in out


# 8: sys.exit(0) at import must not be a silent green CI
def test_user_model_sys_exit(tmp_path):
    user_scenario(tmp_path, "import sys\nsys.exit(0)\n")
    rc, out, err = run("check", "--scenarios", tmp_path, "--no-layouts", "--baseline", tmp_path / "b.json")
    assert rc == 2 and "sys.exit(0)" in out, (out, err)
    rc, out, err = run("run", tmp_path / "mine.toml")
    assert_one_line(rc, err, 2, "sys.exit(0)")


# 9: --max-seconds covers the import and the build of a user's model
@pytest.mark.parametrize("src", ["while True:\n    pass\n",
                                 "def build(knobs):\n    while True:\n        pass\n"])
def test_max_seconds_covers_import_and_build(tmp_path, src):
    sc = user_scenario(tmp_path, src)
    rc, out, err = run("run", sc, "--max-seconds", "1", timeout=60)
    assert_one_line(rc, err, 3, "time limit of 1 s")


# 10: --jobs is capped by the number of jobs (and the machine)
def test_jobs_capped():
    rc, out, err = run("check", "--only", "peterson*", "--no-layouts", "--jobs", "100000", "--json",
                       "--baseline", "/dev/null")
    assert rc == 0, err
    assert json.loads(out)["summary"]["jobs"] <= 2


# 11: output paths are checked before the work starts
@pytest.mark.parametrize("opt", ["--junit", "--sarif", "--markdown"])
def test_output_path_checked_first(opt):
    rc, out, err = run("check", "--only", "peterson*", "--no-layouts", opt, "/nonexistent/x.xml")
    assert_one_line(rc, err, 2, "/nonexistent/x.xml")
    assert out == ""                       # nothing ran


def test_dot_path_checked_first():
    rc, out, err = run("run", "peterson", "--dot", "/proc/x")
    assert_one_line(rc, err, 2, "/proc/x")
    assert out == ""


def test_unwritable_output_names_the_file():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    rc, out, err = run("check", "--only", "peterson*", "--no-layouts", "--junit", "/dev/full",
                       "--baseline", "/dev/null")
    assert_one_line(rc, err, 2, "/dev/full")
    assert "expectations met" in out       # the summary is not lost


# the policy itself
def test_bare_pteverify_prints_short_usage():
    rc, out, err = run()
    assert_one_line(rc, err, 2, "usage: pteverify")


def test_internal_error_is_exit_4_with_debug_traceback(tmp_path, monkeypatch):
    code = ("import sys, pteverify.cli as c\n"
            "def boom(*a, **k):\n    raise KeyError('engine bug')\n"
            "c.load_scenarios = boom\n"
            "sys.argv = ['pteverify'] + sys.argv[1:]\nc.main()\n")
    for args, traceback in ((["list"], False), (["--debug", "list"], True)):
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert p.returncode == 4
        assert "internal error: KeyError: 'engine bug'" in p.stderr
        assert ("Traceback" in p.stderr) == traceback


# 6: scenario files are validated against a declared schema: types, ranges, known keys, names
GOOD_SCENARIO = 'name = "mine"\nmodel = "mine_model.py:build"\n\n[[variants]]\nname = "v1"\nexpect = "holds"\n'


@pytest.mark.parametrize("edit,fragment", [
    (("[[variants]]\nname = \"v1\"\nexpect = \"holds\"\n", "variants = 5\n"), "variants: must be an array"),
    (('expect = "holds"', 'expect = "holds"\nknobs = "abc"'), "variants[0].knobs: must be a table"),
    (('model = "mine_model.py:build"', 'model = "mine_model.py:build"\nthreads = 5'), "threads: must be an array"),
    (('model = "mine_model.py:build"', "model = 5"), "model: must be a string"),
    (('model = "mine_model.py:build"', 'model = ""'), "model: '' is not of the form"),
    (('model = "mine_model.py:build"', 'model = "mine_model.py:build"\nmax_states = "abc"'), "max_states: must be an integer"),
    (('model = "mine_model.py:build"', 'model = "mine_model.py:build"\nmax_states = -5'), "max_states: must be at least 1"),
    (('expect = "holds"', 'expect = "violated"\ninvariant = "no_such"'), "invariant 'no_such' is not checked"),
    (('expect = "holds"', 'expect = "holds"\nstates = true'), "variants[0].states: must be an integer, not true"),
    (('name = "mine"', "name = 7"), "name: must be a string"),
    (('name = "mine"', 'name = "mine"\ncolour = "red"'), "colour: unknown key"),
    (('expect = "holds"', 'expect = "maybe"'), "variants[0].expect: must be one of holds, violated"),
])
def test_scenario_schema(tmp_path, edit, fragment):
    (tmp_path / "mine_model.py").write_text(textwrap.dedent(GOOD_MODEL))
    f = tmp_path / "mine.toml"
    f.write_text(GOOD_SCENARIO.replace(*edit))
    rc, _, err = run("run", f)
    assert_one_line(rc, err, 2, fragment)
    assert str(f) in err


def test_schema_line_numbers_and_json_schema_export():
    jsonschema = pytest.importorskip("jsonschema")
    import tomllib
    from pteverify.schema import line_of, to_json_schema
    from pteverify.scenario import SCENARIO_SCHEMA, specs_dir
    raw = 'name = "x"\n\n[[variants]]\nname = "a"\n\n[[variants]]\nname = "b"\nknobs = 5\n'
    assert line_of(raw, "variants[1].knobs") == 8 and line_of(raw, "name") == 1
    schema = to_json_schema(SCENARIO_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(schema)
    for p in sorted((specs_dir() / "scenarios").glob("*.toml")):
        jsonschema.validate(tomllib.loads(p.read_text()), schema)


def test_prove_all_known_findings_exit_0():
    rc, out, err = run("prove", "--all")
    assert rc == 0, err
    assert "known kernel findings disproved as expected" in out.splitlines()[-1]
    rc, out, err = run("prove", "--layout-file", Path(__file__).parent / "layouts" / "broken-collision.toml")
    assert rc == 1                         # a disproof nobody declared


def test_empty_variant_is_bad_input():
    rc, _, err = run("run", "peterson", "--variant", "")
    assert_one_line(rc, err, 2, "empty variant name")


def test_race_table_fits_the_width():
    for width in (60, 100):
        rc, out, _ = run("run", "odirect-swapout", "--variant", "v5.18", "--width", width)
        assert rc == 1
        table = out.splitlines()[3:]          # after the verdict and statistics lines
        assert table and max(len(line) for line in table) <= width
    assert "dma_landed_in" in out             # wrapped, not cut
