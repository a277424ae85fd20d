import pytest

from pteverify.scenario import load_scenarios


def scenario_variants(kinds=None):
    """(scenario, variant) pairs of every shipped scenario, as pytest params."""
    out = []
    for sc in load_scenarios().values():
        if kinds and sc.kind not in kinds:
            continue
        for v in sc.variants:
            out.append(pytest.param(sc, v, id=f"{sc.name}:{v.name}"))
    return out


# Test profiles: the default run keeps .ci/run within its budget; the nightly profile
# (PTEVERIFY_TEST_PROFILE=deep) draws far more random models and inputs.
import os

DEEP = os.environ.get("PTEVERIFY_TEST_PROFILE") == "deep"


def examples(default: int, deep: int) -> int:
    """How many examples a property test draws under the current profile."""
    return deep if DEEP else default


def pytest_terminal_summary(terminalreporter):
    """The fuzz suite's count of inputs tried (tests/test_fuzz.py), for the record."""
    import sys
    fuzz = sys.modules.get("test_fuzz")
    if fuzz is not None and sum(fuzz.TRIED.values()):
        t = fuzz.TRIED
        terminalreporter.write_line(f"fuzz: {sum(t.values())} malformed inputs tried ({t['layout']} layout files, "
                                    f"{t['scenario']} scenario files with models, {t['cli']} argument lists); exit codes: "
                                    + ", ".join(f"{c}: {n}" for c, n in sorted(fuzz.EXITS.items())))
