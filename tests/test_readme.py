"""The command transcripts in README.md and docs/*.md are the tool's real output.

Every fenced block that starts with `$ pteverify ...` is run, and its output must match the block, up
to timings (seconds and states/s vary from run to run). To refresh the blocks after a deliberate
change of output: `python scripts/transcripts.py --update`.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("transcripts", ROOT / "scripts" / "transcripts.py")
transcripts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(transcripts)


def cases():
    out = []
    for doc in transcripts.documents():
        for i, (command, body) in enumerate(transcripts.transcripts(doc)):
            out.append(pytest.param(command, body, id=f"{doc.relative_to(ROOT)}#{i}: {command}"))
    return out


def test_readme_has_transcripts():
    readme = transcripts.transcripts(ROOT / "README.md")
    assert len(readme) >= 5
    assert (ROOT / "docs" / "scenarios.md").exists()


def test_readme_is_a_guide():
    # the per-scenario catalogue lives in docs/scenarios.md: no scenario has its own README section
    from pteverify.scenario import load_scenarios
    readme = (ROOT / "README.md").read_text()
    for name in load_scenarios():
        if name in ("peterson", "philosophers", "lost-update", "counters"):
            continue                       # engine validation, described in the README
        assert f"### {name}:" not in readme, name


@pytest.mark.parametrize("command,body", cases())
def test_transcript(command, body):
    assert transcripts.normalise(body) == transcripts.normalise(transcripts.run(command))
