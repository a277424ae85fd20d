"""The one exception the kernel-tree front end raises for bad input (exit 2)."""

from __future__ import annotations

from ..errors import BadInput


class KernelError(BadInput):
    """A kernel tree, config or definition cannot be read or is outside what pteverify handles.

    str() is one line, e.g. ``cannot extract pte_none at arch/x/include/asm/pgtable.h:40: a for loop
    is outside the subset (straight-line code, if/else, early returns, locals)``.
    """
