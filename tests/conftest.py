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
