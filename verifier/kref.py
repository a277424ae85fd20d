"""Structured kernel references: the file, the function and the calls ("anchors") a step stands for.

A step's `ref` is prose for the trace (`mm/memory.c:do_swap_page: swap_free(entry); set_pte_at()`).
Where it is regular, the structure is read from it:

    [FILE:]FUNC[ (qualifier)][ [note]] [-> [FILE:]FUNC ...]: body

The modelled function is the last of a `->` call chain (`mm/vmscan.c:shrink_folio_list ->
mm/rmap.c:try_to_unmap_one [file folio]: ...` models try_to_unmap_one in mm/rmap.c). The anchors are
the calls written in the body, `name(`, in the order they complete (arguments first); text in square brackets is a note about callees or
locking and gives no anchor, and the body ends where it names another file (`...; mm/page_io.c:
swap_writepage(): ...` continues in another function) or describes a callee (`wp_page_copy(): new
folio, ...`: wp_page_copy is an anchor, what follows happens inside it). A reference that does not start with a
`file.c:function` (user space, a hardware action) has no structure. Irregular references give the
structure explicitly: `thread.step(..., anchors=KernelRef("mm/memory.c", "do_swap_page",
("swap_free", "set_pte_at")))`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KernelRef", "parse_ref", "ref_calls"]


@dataclass(frozen=True)
class KernelRef:
    file: str                     # path in the kernel tree, e.g. mm/memory.c
    function: str                 # the function the step is a part of
    calls: tuple = ()             # the calls it stands for, in the order the model assumes
    # per call, the index in `calls` of the call it is an argument of (-1: a statement of its own).
    # An argument is computed before its call, at no fixed point relative to the calls before it:
    # `set_pte_at(pte_mkdirty(entry))` and `entry = pte_mkdirty(entry); ...; set_pte_at(entry)`
    # are the same code.
    within: tuple = ()

    def __post_init__(self):
        if not re.fullmatch(r"[\w.+/-]+\.[chS]", self.file or ""):
            raise ValueError(f"kernel reference: {self.file!r} is not a kernel source path")
        if not re.fullmatch(r"[A-Za-z_]\w*", self.function or ""):
            raise ValueError(f"kernel reference: {self.function!r} is not a C function name")
        object.__setattr__(self, "calls", tuple(self.calls))
        within = tuple(self.within) or (-1,) * len(self.calls)
        if len(within) != len(self.calls) or any(not (-1 <= w < len(self.calls)) for w in within):
            raise ValueError(f"kernel reference {self.function}: `within` must give one call index per call")
        object.__setattr__(self, "within", within)
        for c in self.calls:
            if not re.fullmatch(r"[A-Za-z_]\w*", c):
                raise ValueError(f"kernel reference {self.function}: anchor {c!r} is not a C name")

    def __str__(self) -> str:
        return f"{self.file}:{self.function}: " + "; ".join(f"{c}()" for c in self.calls)


_FILE = r"[\w.+-]+(?:/[\w.+-]+)+\.[chS]"
_QUAL = r"(?:\s*\([^()]*\))?(?:\s*\[[^\]]*\])?"
_ELEM = rf"(?:(?P<file{{i}}>{_FILE}):)?(?P<func{{i}}>[A-Za-z_]\w*){_QUAL}"
_HEAD = re.compile(rf"^\s*(?P<chain>{_FILE}:[A-Za-z_]\w*{_QUAL}(?:\s*->\s*(?:{_FILE}:)?[A-Za-z_]\w*{_QUAL})*)\s*:\s")
_CHAIN_ELEM = re.compile(rf"(?:(?P<file>{_FILE}):)?(?P<func>[A-Za-z_]\w*){_QUAL}")
# another file's code: `mm/page_io.c:swap_writepage()`, or a directory and a function (`-> arch/arm64
# mte_restore_tags(): ...`, an arch hook's body)
_OTHER_FILE = re.compile(rf"(?<![\w/])(?:{_FILE}:|[\w.+-]+(?:/[\w.+-]+)+\s+[A-Za-z_]\w*\()")
_CALL = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\(")
# `name(...): details` describes what the callee `name` does: the details are not this function's
_CALLEE_DETAIL = re.compile(r"(?<![\w.>])[A-Za-z_]\w*\((?:[^()]|\([^()]*\))*\):\s")
_NOT_CALLS = {"if", "while", "for", "switch", "return", "sizeof", "typeof", "__typeof__", "defined", "else"}


def _strip_brackets(text: str) -> str:
    out, depth = [], 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def ref_calls(body: str) -> tuple:
    """The anchors of a reference body: calls in order, minus notes and other files' text."""
    return tuple(n for n, _ in _ref_calls(body))


def _ref_calls(body: str) -> list:
    """(name, index of the enclosing call or -1) of the anchors of a reference body."""
    body = _strip_brackets(body)
    m = _OTHER_FILE.search(body)
    if m:
        body = body[:m.start()]
    m = _CALLEE_DETAIL.search(body)
    if m:
        body = body[:m.end() - 2]
    return _in_call_order(body)


def _in_call_order(body: str) -> list:
    """Calls in the order they complete: arguments before the call they are passed to
    (`set_pte_at(pte_mkold(mk_pte()))` is mk_pte, pte_mkold, set_pte_at), as C evaluates them; each
    with the index of the call it is an argument of (-1 for none)."""
    done: list = []                   # (name, open-id of the enclosing call or None)
    stack: list = []                  # open parentheses: (name or None for grouping, open id)
    ids: dict = {}                    # open id -> index in `done` once closed
    i = 0
    n_open = 0

    def enclosing():
        for name, oid in reversed(stack):
            if name is not None:
                return oid
        return None

    def close(name, oid):
        parent = enclosing()
        if name not in _NOT_CALLS:
            ids[oid] = len(done)
            done.append((name, parent))
        else:                        # `if (...)`: its contents belong to what encloses it
            for k, (nm, par) in enumerate(done):
                if par == oid:
                    done[k] = (nm, parent)
    while i < len(body):
        m = _CALL.match(body, i) if (i == 0 or not (body[i - 1].isalnum() or body[i - 1] in "_.>")) else None
        if m:
            stack.append((m.group(1), n_open))
            n_open += 1
            i = m.end()
            continue
        ch = body[i]
        if ch == "(":
            stack.append((None, n_open))
            n_open += 1
        elif ch == ")" and stack:
            name, oid = stack.pop()
            if name is not None:
                close(name, oid)
        i += 1
    while stack:                      # unclosed prose: innermost first
        name, oid = stack.pop()
        if name is not None:
            close(name, oid)
    return [(name, ids.get(parent, -1) if parent is not None else -1) for name, parent in done]


def parse_ref(ref: str) -> KernelRef | None:
    """The structure of a regular reference, or None (no `file.c:function` head)."""
    m = _HEAD.match(ref or "")
    if not m:
        return None
    file = func = None
    for em in _CHAIN_ELEM.finditer(m.group("chain")):
        if em.group("file"):
            file = em.group("file")
        func = em.group("func")
    calls = _ref_calls(ref[m.end():])
    return KernelRef(file, func, tuple(n for n, _ in calls), tuple(w for _, w in calls))
