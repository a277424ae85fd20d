"""The command transcripts of README.md and docs/*.md are the tool's real output.

Every fenced block that starts with `$ pteverify ...` is a transcript: the command is run (from the
repository root, NO_COLOR=1, COLUMNS=100) and its stdout is the block's body. Timings (seconds,
states/s) vary from run to run and are compared as placeholders.

    python scripts/transcripts.py            # list the transcripts that differ (exit 1 if any)
    python scripts/transcripts.py --update   # regenerate every transcript in place

tests/test_readme.py runs the same comparison in the default test run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```\n\$ (pteverify [^\n]*)\n(.*?)```", re.S)
TIMING = [
    (re.compile(r"\d+\.\d+ s \([\d,]+ states/s\)"), "<secs> s (<rate> states/s)"),
    (re.compile(r"\d+\.\d+s"), "<secs>s"),
    (re.compile(r"\(\d+\.\d+ s, "), "(<secs> s, "),
]


def documents() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def normalise(text: str) -> str:
    for pattern, repl in TIMING:
        text = pattern.sub(repl, text)
    return text.rstrip()


def run(command: str) -> str:
    args = shlex.split(command)[1:]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    p = subprocess.run([sys.executable, "-m", "pteverify", *args], capture_output=True, text=True,
                       cwd=ROOT, env=env)
    return p.stdout.rstrip()


def transcripts(doc: Path) -> list[tuple[str, str]]:
    """(command, body as written) of every transcript in doc, in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(doc.read_text())]


def update(doc: Path) -> int:
    """Regenerate doc's transcripts; returns how many changed."""
    text = doc.read_text()
    out, pos, changed = [], 0, 0
    for m in BLOCK.finditer(text):
        actual = run(m.group(1))
        if normalise(actual) == normalise(m.group(2)):
            actual = m.group(2).rstrip("\n")         # only timings differ: keep the block as it is
        else:
            changed += 1
        out.append(text[pos:m.start(2)] + (actual + "\n" if actual else ""))
        pos = m.end(2)
    out.append(text[pos:])
    doc.write_text("".join(out))
    return changed


def main(argv: list[str]) -> int:
    if "--update" in argv:
        for doc in documents():
            n = update(doc)
            print(f"{doc.relative_to(ROOT)}: {n} transcript(s) regenerated")
        return 0
    bad = 0
    for doc in documents():
        for command, body in transcripts(doc):
            if normalise(run(command)) != normalise(body):
                print(f"{doc.relative_to(ROOT)}: differs: $ {command}")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
