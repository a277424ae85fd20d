"""Which explorer core runs the packed searches: the compiled one (verifier/_core.pyx, built by
Cython at install time where a C compiler is present) or the pure-Python loops of explore.py.

Both run the same search and give the same states, order, counts, verdicts and traces
(tests/test_core.py holds them together). `PTEVERIFY_CORE=python` forces the pure-Python core,
`PTEVERIFY_CORE=compiled` makes a missing compiled core an error (CI uses it where a compiler is
present, so a failed build cannot pass unnoticed)."""

from __future__ import annotations

import os
import sys

CORE_API = 4                   # must equal _core.CORE_API: a build of older source is not used

_core = None
why_not = ""
try:
    if sys.byteorder != "little":
        raise ImportError("the compiled core assumes a little-endian machine")
    from . import _core as _c
    if getattr(_c, "CORE_API", None) != CORE_API:
        raise ImportError(f"stale build (core API {getattr(_c, 'CORE_API', '?')}, expected {CORE_API}): "
                          f"rerun `pip install -e .`")
    _core = _c
except ImportError as e:                       # not built (no compiler at install time) or stale
    why_not = str(e)


def compiled():
    """The compiled module, or None when the pure-Python core is in use."""
    choice = os.environ.get("PTEVERIFY_CORE", "").strip().lower()
    if choice == "python":
        return None
    if choice == "compiled" and _core is None:
        from .errors import BadInput
        raise BadInput(f"PTEVERIFY_CORE=compiled: the compiled core is not available ({why_not})")
    return _core


def describe() -> str:
    """One line naming the core in use (for `pteverify --version` and `doctor`)."""
    if os.environ.get("PTEVERIFY_CORE", "").strip().lower() == "python":
        return "explorer core: pure Python (PTEVERIFY_CORE=python)"
    if _core is not None:
        return "explorer core: compiled (Cython)"
    return f"explorer core: pure Python (compiled core not available: {why_not})"
