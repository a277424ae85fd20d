"""Swap-PTE layout proofs: the C expression front end, the layout files and the Z3 prover.

Public API (used by pteverify.cli):
    LayoutError, Layout, load_layout, shipped_layout_paths, resolve,
    PROPERTY_NAMES, prove_layout, LayoutReport, format_report, render_layout
"""

from .errors import LayoutError
from .model import Layout, load_layout, resolve, shipped_layout_paths
from .prover import PROPERTY_NAMES, LayoutReport, PropertyResult, prove_layout
from .diagram import format_report, render_layout

__all__ = ["LayoutError", "Layout", "load_layout", "shipped_layout_paths", "resolve",
           "PROPERTY_NAMES", "prove_layout", "LayoutReport", "PropertyResult", "format_report",
           "render_layout"]
