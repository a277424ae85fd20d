"""A kernel source tree: files on disk, or the same paths at a git revision of that tree.

`gate` compares a tree with its state at a base revision, so every reader goes through `GitTree`
(`read(path)`), never straight to the file system.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput


class TreeError(BadInput):
    """The tree or revision a user named cannot be read (bad input, exit code 2)."""


def _git(root: Path, *args: str, check: bool = True) -> str:
    try:
        p = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise TreeError("git is not installed: `gate` needs it to compare revisions") from None
    if check and p.returncode != 0:
        msg = (p.stderr.strip().splitlines() or ["git failed"])[-1]
        raise TreeError(f"{root}: git {' '.join(args)}: {msg}")
    return p.stdout


@dataclass
class GitTree:
    root: Path
    rev: str | None = None            # None: the working tree on disk

    def __post_init__(self):
        self.root = Path(self.root)
        if not self.root.is_dir():
            raise TreeError(f"kernel tree {self.root}: no such directory")
        self._cache: dict[str, str | None] = {}

    def __str__(self) -> str:
        return f"{self.root}" + (f"@{self.rev}" if self.rev else "")

    def read(self, path: str) -> str | None:
        """The text of `path` (relative to the root), None when the tree has no such file."""
        if path not in self._cache:
            if self.rev is None:
                p = self.root / path
                self._cache[path] = p.read_text(errors="replace") if p.is_file() else None
            else:
                out = subprocess.run(["git", "-C", str(self.root), "show", f"{self.rev}:{path}"],
                                     capture_output=True)
                self._cache[path] = out.stdout.decode(errors="replace") if out.returncode == 0 else None
        return self._cache[path]

    def at(self, rev: str) -> "GitTree":
        """The same tree at git revision `rev` (checked to exist)."""
        resolve(self.root, rev)
        return GitTree(self.root, rev)


def resolve(root: Path, rev: str) -> str:
    if not (Path(root) / ".git").exists() and _git(root, "rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
        raise TreeError(f"{root} is not a git work tree (gate compares against a base revision)")
    return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def changed_lines(root: Path, base: str) -> dict[str, list[tuple[int, int]]]:
    """Files changed between `base` and the working tree (committed or not), each with the line
    ranges (first, last) of the new text its hunks touch; a deleted file maps to []."""
    resolve(root, base)
    out = _git(root, "diff", "--no-color", "--no-ext-diff", "-U0", "--no-renames", base, "--")
    changed: dict[str, list[tuple[int, int]]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = None if name == "/dev/null" else name[2:] if name.startswith("b/") else name
            if current is not None:
                changed.setdefault(current, [])
        elif line.startswith("--- "):
            name = line[4:]
            if name != "/dev/null":
                changed.setdefault(name[2:] if name.startswith("a/") else name, [])
        elif current is not None:
            m = _HUNK.match(line)
            if m:
                first, count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
                # a pure deletion (count 0) touches the line it was removed after
                changed[current].append((first, first + max(count, 1) - 1))
    for name in _git(root, "ls-files", "--others", "--exclude-standard").splitlines():
        text = (Path(root) / name).read_text(errors="replace") if (Path(root) / name).is_file() else ""
        changed[name] = [(1, max(1, text.count("\n")))]
    return changed
