"""The error policy: what is the user's fault (exit 2), what is pteverify's (exit 4), what is a bound.

Every command raises `BadInput` (or a subclass: ScenarioError, KnobError, ModelError, LayoutError)
for a mistake of the user's: a wrong argument, a malformed file, a model of their own that does
something wrong. `cli.main` prints it as one line, `pteverify: <what and where>`, and exits 2.
Anything else escaping a command is a defect of pteverify: one line, exit 4, the traceback with
`--debug`. An exception raised by a user's own code (a model module loaded from a file, its
builder, a step's effect) is the user's fault even when it is a plain TypeError: `user_location`
finds the innermost frame of code outside pteverify and the CLI names that file and line.

`TimeLimit` is a bound, not an error: a `--max-seconds` alarm that went off while a user's model was
being imported or built, or inside one step (exit 3, "incomplete": nothing was proved). It derives
from BaseException so that a model's own `except Exception:` cannot swallow it.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import sysconfig
import traceback
from pathlib import Path

EXIT_OK, EXIT_VIOLATED, EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_INTERNAL = 0, 1, 2, 3, 4


class BadInput(Exception):
    """A user's mistake: printed as one line, exit code 2."""


class TimeLimit(BaseException):
    """The --max-seconds alarm went off outside the explorer's own checks (exit 3)."""

    def __init__(self, seconds: float, during: str):
        self.seconds = seconds
        self.during = during
        super().__init__(f"time limit of {seconds:g} s reached while {during}: nothing proved")


def one_line(text: str) -> str:
    """Messages are one line: a multi-line exception text is joined."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


# ------------------------------------------------------------------------------------------
# Whose fault: a frame in pteverify's own code, the standard library or an installed package is
# ours; any other frame (a user's model file, a helper it imports) is the user's.

def _own_dirs() -> tuple[str, ...]:
    here = Path(__file__).resolve().parent          # the engine (pteverify)
    dirs = {str(here)}
    for mod in ("pteverify.models", "pteverify.specs"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__file__", None):
            dirs.add(str(Path(m.__file__).resolve().parent))
    dirs.add(str(here.parent / "models"))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            dirs.add(str(Path(p).resolve()))
    return tuple(d + os.sep for d in dirs)


def is_user_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False                                 # generated code (<string>), frozen importlib
    try:
        full = str(Path(filename).resolve())
    except OSError:
        return False
    return not full.startswith(_own_dirs())


def user_location(exc: BaseException) -> str | None:
    """`file:line (function)` of the innermost frame of user code in exc's traceback, or None."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if is_user_file(frame.filename):
            found = frame
    if found is None and isinstance(exc, SyntaxError) and exc.filename and is_user_file(exc.filename):
        return f"{exc.filename}:{exc.lineno}"
    if found is None:
        return None
    return f"{found.filename}:{found.lineno} (in {found.name})"


def describe_user_exception(exc: BaseException, what: str) -> str:
    """One line for an exception raised by a user's code: where, what raised it, the message."""
    where = user_location(exc)
    if isinstance(exc, SystemExit):
        detail = f"called sys.exit({exc.code!r})"
    else:
        msg = one_line(exc)
        detail = f"raised {type(exc).__name__}" + (f": {msg}" if msg else "")
    return f"{where + ': ' if where else ''}{what} {detail}"


# ------------------------------------------------------------------------------------------
# Time limits around code that has no checkpoints of its own (a user's import, builder, step)

@contextlib.contextmanager
def time_limit(seconds: float | None, during: str):
    """Raise TimeLimit in this thread after `seconds` of wall-clock time.

    A SIGALRM interval timer: Python runs the handler between bytecodes, so it stops a pure-Python
    `while True: pass` in a user's model (it cannot stop one long C call, e.g. a huge `2 ** n`).
    Works in the main thread of a process (the CLI, and each `check --jobs` worker); elsewhere, or
    with no bound, it does nothing. Nested limits keep the earlier deadline."""
    if (seconds is None or not math.isfinite(seconds) or seconds <= 0
            or not hasattr(signal, "setitimer")
            or sys.modules.get("threading") and __import__("threading").current_thread()
            is not __import__("threading").main_thread()):
        yield
        return
    old_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    if old_remaining and old_remaining <= seconds:
        yield                                    # an outer, earlier deadline already covers this
        return

    def on_alarm(signum, frame):
        raise TimeLimit(seconds, during)

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_remaining:
            signal.setitimer(signal.ITIMER_REAL, old_remaining)


# ------------------------------------------------------------------------------------------
# Reading the user's files

def read_text(path, error=BadInput) -> str:
    """A user's text file as UTF-8; unreadable or not UTF-8 is `error` (one line with file:line)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise error(f"{p}: cannot read: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise error(f"{p}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at column {col}); "
                    f"save the file as UTF-8") from None
