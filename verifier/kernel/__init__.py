"""Reading a Linux kernel tree: include resolution, a C preprocessor driven by a kernel config,
and a C parser front end (pycparser) for the definitions found there.

Shared by the layout extractor (verifier/layout/extract.py) and the model anchors checker. Nothing
here knows about mm: it reads C.
"""

from .errors import KernelError
from .tree import Config, KernelTree, load_config

__all__ = ["Config", "KernelError", "KernelTree", "load_config"]
