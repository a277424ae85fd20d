"""Reading a Linux kernel tree: include resolution, a C preprocessor driven by a kernel config,
and a C parser front end (pycparser) for the definitions found there.

Shared by the layout extractor (verifier/layout/extract.py) and the model anchors checker. Nothing
here knows about mm: it reads C. For anchors, functions.py reads un-preprocessed .c files with
tree-sitter-c (function definitions, their calls, lines and branch arms) and git.py reads a tree at
a git revision and the lines a change touches (`pteverify gate`).
"""

from .errors import KernelError
from .tree import Config, KernelTree, load_config

__all__ = ["Config", "KernelError", "KernelTree", "load_config"]
