"""The README's command transcripts are the tool's real output.

Every fenced block in README.md that starts with `$ pteverify ...` is run, and its output must match
the block, up to timings (seconds and states/s vary from run to run). To refresh the blocks after a
deliberate change of output: PTEVERIFY_UPDATE_README=1 python -m pytest tests/test_readme.py
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```\n\$ (pteverify [^\n]*)\n(.*?)```", re.S)
TIMING = [
    (re.compile(r"\d+\.\d+ s \([\d,]+ states/s\)"), "<secs> s (<rate> states/s)"),
    (re.compile(r"\d+\.\d+s"), "<secs>s"),
    (re.compile(r"\(\d+\.\d+ s, "), "(<secs> s, "),
]


def normalise(text: str) -> str:
    for pattern, repl in TIMING:
        text = pattern.sub(repl, text)
    return text.rstrip()


def run(command: str) -> str:
    args = shlex.split(command)[1:]
    p = subprocess.run([sys.executable, "-m", "pteverify", *args], capture_output=True, text=True,
                       cwd=README.parent, env={**os.environ, "NO_COLOR": "1"})
    return p.stdout.rstrip()


def blocks():
    return [m.group(1) for m in BLOCK.finditer(README.read_text())]


def test_readme_has_transcripts():
    assert len(blocks()) >= 5


@pytest.mark.parametrize("command", blocks())
def test_readme_transcript(command):
    text = README.read_text()
    m = next(m for m in BLOCK.finditer(text) if m.group(1) == command)
    actual = run(command)
    if os.environ.get("PTEVERIFY_UPDATE_README"):
        README.write_text(text[:m.start(2)] + actual + "\n" + text[m.end(2):])
        return
    assert normalise(m.group(2)) == normalise(actual)
