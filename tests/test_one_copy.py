"""One copy of each kernel function (issue 12 §1): every kernel function that shipped model steps name
is emitted by ONE emitter function, in the module named after its kernel file (mm/memory.c ->
models/memory.py).

Every shipped variant is built with Thread.step instrumented: a step's kernel function is
`Step.kernel` (the last function of its reference's call chain), its emitter the innermost frame of
the module named after the kernel file (a shared helper such as tlb.emit_tlb_flush emits the flush
step *of* try_to_unmap_one: the rmap.py frame that called it is the emitter), else the innermost
frame in models/. Nested helpers (`<locals>`) count as their enclosing function, and a module's
private helpers (`_emit_unmap_lazyfree`) as the public emitter of that module that called them: a
helper shared by two public emitters shows up as two emitters.

The known exceptions are listed below with the reason each is not merged; an entry that no longer
applies fails the test too (the list only shrinks)."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pytest

import pteverify.model as model_api
import pteverify.models as models_pkg
from pteverify.scenario import load_scenarios

MODELS = Path(models_pkg.__file__).resolve().parent

# kernel function -> emitters: more than one emitter, not merged (yet). Each names why.
SEVERAL_EMITTERS: dict[str, str] = {
}

# kernel function -> the module that emits it although the kernel keeps it in another file
ELSEWHERE: dict[str, str] = {
}


def _expected_module(kfile: str) -> str | None:
    """models/<name>.py for mm/<name>.c and kernel/fork.c, if that module exists."""
    path = Path(kfile)
    if path.parts[0] not in ("mm", "kernel") or len(path.parts) != 2:
        return None
    return path.stem if (MODELS / f"{path.stem}.py").is_file() else None


def _emitter(frame, root: Path, expected: str | None):
    """(module, function) of the step's emitter: the innermost frame in `expected` (a module stem),
    else the innermost frame under `root` that is not the Ctx.step plumbing of models/mm.py."""
    fallback = None
    while frame is not None:
        code = frame.f_code
        path = Path(code.co_filename).resolve()
        if root in path.parents and not (path.name == "mm.py" and code.co_name in ("step", "arch_swap_restore_step")):
            mod = path.relative_to(root).with_suffix("").as_posix()
            where = (mod, code.co_qualname.split(".<locals>")[0])
            if expected is None or mod == expected:
                if not where[1].startswith("_"):
                    return where                      # a module's private helpers are part of its caller
            fallback = fallback or where
        frame = frame.f_back
    return fallback


def collect(builds, root: Path = MODELS) -> dict:
    """Run the callables in `builds` with Thread.step instrumented: {kernel function: {emitter:
    [labels]}} for every step with a kernel reference whose emitter is under `root`."""
    found: dict = defaultdict(lambda: defaultdict(set))
    orig = model_api.Thread.step

    def step(self, label, ref, **kw):
        orig(self, label, ref, **kw)
        kref = self.steps[-1].kernel
        if kref is not None:
            key = f"{kref.file}:{kref.function}"
            where = _emitter(sys._getframe(1), root, _expected_module(kref.file) if root == MODELS else None)
            if where is not None:
                found[key][where].add(label)
        return self

    model_api.Thread.step = step
    try:
        for build in builds:
            build()
    finally:
        model_api.Thread.step = orig
    return found


def violations(found: dict, several: dict, elsewhere: dict) -> list[str]:
    out = []
    for key, emitters in sorted(found.items()):
        names = sorted(f"{m}.{f}" for m, f in emitters)
        if len(emitters) > 1 and key not in several:
            out.append(f"{key} has {len(emitters)} emitters: {', '.join(names)}")
        expected = _expected_module(key.split(":")[0])
        misplaced = sorted(f"{m}.{f}" for m, f in emitters if expected and m != expected)
        if misplaced and key not in elsewhere:
            out.append(f"{key} is emitted outside models/{expected}.py: {', '.join(misplaced)}")
    for key in several:
        if len(found.get(key, ())) < 2:
            out.append(f"SEVERAL_EMITTERS[{key!r}] is stale: one emitter now (remove the entry)")
    for key in elsewhere:
        expected = _expected_module(key.split(":")[0])
        if not any(m != expected for m, _ in found.get(key, {})):
            out.append(f"ELSEWHERE[{key!r}] is stale: emitted from models/{expected}.py only (remove the entry)")
    return out


def _shipped_builds():
    for name, sc in sorted(load_scenarios().items()):
        if sc.kind != "mm":
            continue
        for v in sc.variants:
            yield lambda sc=sc, v=v: sc.build(v)


@pytest.fixture(scope="module")
def shipped():
    return collect(_shipped_builds())


def test_one_emitter_per_kernel_function(shipped):
    assert len(shipped) > 60, "the instrumentation found too few kernel functions"
    assert violations(shipped, SEVERAL_EMITTERS, ELSEWHERE) == []


def test_a_second_copy_is_found(tmp_path):
    """The check can fail: a kernel function emitted by two functions, one of them in a module not
    named after its file, and a stale exception."""
    from pteverify.model import Model

    def emit_a(t):
        t.step("a", "mm/memory.c:do_swap_page: swap_free(entry)")

    def emit_b(t):
        t.step("b", "mm/memory.c:do_swap_page: set_pte_at()")

    def build():
        m = Model("two-copies", "test")
        t = m.thread("t")
        emit_a(t)
        emit_b(t)

    here = Path(__file__).resolve().parent
    found = collect([build], root=here)
    assert set(found["mm/memory.c:do_swap_page"]) == {("test_one_copy", "test_a_second_copy_is_found")}
    # nested helpers count as their enclosing function: one emitter here. Now two module-level ones:
    found = collect([lambda: two_emitters_build()], root=here)
    v = violations(found, {"mm/rmap.c:try_to_unmap_one": "stale"}, {})
    assert any("do_swap_page has 2 emitters" in x for x in v), v
    assert any("outside models/memory.py" in x for x in v), v
    assert any("try_to_unmap_one" in x and "stale" in x for x in v), v


def emit_first(t):
    t.step("a", "mm/memory.c:do_swap_page: swap_free(entry)")


def emit_second(t):
    t.step("b", "mm/memory.c:do_swap_page: set_pte_at()")


def two_emitters_build():
    from pteverify.model import Model
    m = Model("two-copies", "test")
    t = m.thread("t")
    emit_first(t)
    emit_second(t)
