"""Bounded work on any layout file (issue 16, class 2 and 3): deep nesting, long operator chains,
deep macro chains and exponentially expanding macros are one-line errors (exit 2), never a
RecursionError or a hang; just inside each limit still works."""

import subprocess
import sys
from pathlib import Path

import pytest

from pteverify.layout import LayoutError, load_layout
from pteverify.layout import cexpr

FIXTURE = (Path(__file__).parent / "layouts" / "fixture-ok.toml").read_text()


def layout_with(tmp_path, constants: str, name="deep"):
    text = FIXTURE.replace('layout = "fixture-ok"', f'layout = "{name}"').replace("[macros]\n", constants + "\n[macros]\n", 1)
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def chain(n):
    return "".join(f'C{i} = "(C{i - 1} + 1)"\n' if i else "C0 = 1\n" for i in range(n))


CASES = {
    "parentheses": ('DEEP = "' + "(" * 300 + "1" + ")" * 300 + '"\n', "nested deeper than 256"),
    "unary minus": ('DEEP = "' + "-" * 500 + '1"\n', "nested deeper than 256"),
    "operator chain": ('DEEP = "' + "+".join(["1"] * 1500) + '"\n', "deeper than 1000 levels"),
    "constant chain": (chain(1000), "macro expansion nested deeper than 256"),
    "exponential macros": ("".join(f'E{i} = "(E{i - 1}+E{i - 1})"\n' if i else "E0 = 1\n" for i in range(41)),
                           "exceeds 200,000 tokens"),
}


@pytest.mark.parametrize("case", CASES)
def test_limits_are_layout_errors(tmp_path, case):
    constants, fragment = CASES[case]
    with pytest.raises(LayoutError) as e:
        load_layout(layout_with(tmp_path, constants))
    assert fragment in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("constants,value", [
    ('DEEP = "' + "(" * 59 + "1" + ")" * 59 + '"\n', 1),
    ('DEEP = "' + "+".join(["1"] * 900) + '"\n', 900),
    ('DEEP = "' + "- " * 200 + '1"\n', 1),
    (chain(200).replace("C0 = 1", "C0 = 0") + 'DEEP = "C199"\n', 199),
])
def test_just_inside_the_limits(tmp_path, constants, value):
    lay = load_layout(layout_with(tmp_path, constants))
    assert lay.constant_value("DEEP") == value


def test_cli_exit_2_one_line(tmp_path):
    p = layout_with(tmp_path, CASES["exponential macros"][0])
    r = subprocess.run([sys.executable, "-m", "pteverify", "prove", "--layout-file", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_limits_are_far_above_the_shipped_layouts():
    assert cexpr.MAX_NESTING >= 4 * 33 and cexpr.MAX_EXPANSION_DEPTH >= 4 * 9
    assert cexpr.MAX_AST_DEPTH >= 4 * 17 and cexpr.MAX_EXPANSION_TOKENS >= 100 * 192
