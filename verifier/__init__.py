"""pteverify: a model checker for the Linux kernel's page-table and swap code.

The engine (this package) knows transition systems, Z3 and reports, and nothing of mm; the kernel
models live in `pteverify.models`, the scenarios and arch layouts in `pteverify.specs`.
"""

__version__ = "0.1.0"
