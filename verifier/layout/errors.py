"""The one exception the layout engine raises for bad input."""

from __future__ import annotations

from ..errors import BadInput


class LayoutError(BadInput):
    """A layout file is malformed, or one of its expressions is.

    str() is one line: ``path:line: field, column N: message`` (parts left out when unknown), e.g.
    ``specs/arch/x86_64.toml:48: [macros] "__swp_offset(x)", column 12: unknown name 'SWP_SHIFT'``.
    """

    def __init__(self, message: str, *, path=None, line: int | None = None,
                 field: str | None = None, column: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(f"{self.path}:{self.line}" if self.line else f"{self.path}")
        loc = []
        if self.field:
            loc.append(self.field)
        if self.column:
            loc.append(f"column {self.column}")
        head = ": ".join(where + ([", ".join(loc)] if loc else []))
        return f"{head}: {self.message}" if head else self.message


class UndefinedBehaviour(Exception):
    """Plain evaluation reached C undefined behaviour (shift count out of range, division by zero)."""

    def __init__(self, what: str, field: str | None, column: int | None):
        self.what = what
        self.field = field
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        loc = ", ".join(x for x in (self.field, f"column {self.column}" if self.column else None) if x)
        return f"undefined behaviour: {self.what}" + (f" at {loc}" if loc else "")
