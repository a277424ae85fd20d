"""A kernel source tree (include paths of one arch) and a kernel config."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import KernelError

# Headers a configured build generates (include/generated/, arch/*/include/generated/) or that
# Kbuild makes from asm-generic: a bare tree lacks them.
_GENERATED_PREFIXES = ("generated/", "config/", "asm/asm-offsets.h", "linux/compile.h",
                       "linux/utsrelease.h", "linux/version.h", "asm/syscall_table", "asm/unistd_")

# What the compiler defines for each arch (the subset headers test), by CONFIG_64BIT.
_ARCH_PREDEFINES = {
    "x86": ({"__i386__": "1"}, {"__x86_64__": "1"}),
    "arm64": ({}, {"__aarch64__": "1"}),
    "arm": ({"__arm__": "1"}, {}),
    "riscv": ({"__riscv": "1", "__riscv_xlen": "32"}, {"__riscv": "1", "__riscv_xlen": "64"}),
    "loongarch": ({"__loongarch__": "1", "__loongarch_grlen": "32"}, {"__loongarch__": "1", "__loongarch_grlen": "64", "__loongarch64": "1"}),
    "mips": ({"__mips__": "1", "_MIPS_SZLONG": "32", "_MIPS_SIM": "1", "_MIPS_SIM_ABI32": "1"},
             {"__mips__": "1", "__mips64": "1", "_MIPS_SZLONG": "64", "_MIPS_SIM": "3", "_MIPS_SIM_ABI32": "1", "_MIPS_SIM_ABI64": "3"}),
    "powerpc": ({"__powerpc__": "1"}, {"__powerpc__": "1", "__powerpc64__": "1"}),
    "s390": ({"__s390__": "1"}, {"__s390__": "1", "__s390x__": "1"}),
    "parisc": ({"__hppa__": "1"}, {"__hppa__": "1", "__LP64__": "1"}),
    "hexagon": ({"__hexagon__": "1"}, {}),
    "nios2": ({"__nios2__": "1"}, {}),
    "sparc": ({"__sparc__": "1"}, {"__sparc__": "1", "__sparc_v9__": "1", "__arch64__": "1"}),
}


class Config:
    """A kernel configuration: CONFIG_ symbol -> 'y', 'm', or a value (int or string). Symbols not
    given are off (as an unset bool is)."""

    def __init__(self, values: dict[str, object] | None = None, origin: str = "--set"):
        self.values: dict[str, object] = {}
        self.origin: dict[str, str] = {}
        for k, v in (values or {}).items():
            self.set(k, v, origin)

    def set(self, name: str, value, origin: str = "--set"):
        if not re.fullmatch(r"CONFIG_[A-Za-z0-9_]+", name):
            raise KernelError(f"{origin}: '{name}' is not a CONFIG_ symbol")
        if isinstance(value, bool):
            value = "y" if value else "n"
        if value == "n" or value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value
        self.origin[name] = origin

    def update(self, other: "Config"):
        for k in other.origin:
            self.set(k, other.values.get(k, "n"), other.origin[k])

    def enabled(self, name: str) -> bool:
        return self.values.get(name) in ("y", "m")

    def test(self, which: str, name: str) -> bool:
        v = self.values.get(name)
        if which == "IS_BUILTIN":
            return v == "y"
        if which == "IS_MODULE":
            return v == "m"
        return v in ("y", "m")        # IS_ENABLED, IS_REACHABLE (built in)

    def macros(self) -> dict[str, str]:
        """The #defines a build gets from include/generated/autoconf.h."""
        out = {}
        for k, v in self.values.items():
            if v == "y":
                out[k] = "1"
            elif v == "m":
                out[k + "_MODULE"] = "1"
            elif isinstance(v, int):
                out[k] = str(v)
            elif isinstance(v, str) and re.fullmatch(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)", v):
                out[k] = v
            else:
                out[k] = '"' + str(v).replace('"', '\\"') + '"'
        return out

    def as_table(self) -> dict[str, str]:
        return {k: (v if isinstance(v, str) else str(v)) for k, v in sorted(self.values.items())}

    @property
    def is_64bit(self) -> bool:
        return self.enabled("CONFIG_64BIT")


def load_config(path) -> Config:
    """Reads a .config file (CONFIG_X=y|m|value, '# CONFIG_X is not set')."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise KernelError(f"{path}: cannot read: {e.strerror}") from None
    cfg = Config()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"#\s*(CONFIG_\w+) is not set", line)
        if m:
            cfg.set(m.group(1), "n", f"{path}:{n}")
            continue
        if line.startswith("#"):
            continue
        m = re.fullmatch(r"(CONFIG_\w+)=(.*)", line)
        if not m:
            raise KernelError(f"{path}:{n}: not a config line: {line[:60]}")
        val = m.group(2)
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        cfg.set(m.group(1), val, f"{path}:{n}")
    return cfg


def parse_set(item: str) -> tuple[str, str]:
    """--set CONFIG_X=y (or CONFIG_X alone for y)."""
    name, eq, val = item.partition("=")
    name = name.strip()
    if not name.startswith("CONFIG_"):
        raise KernelError(f"--set {item}: expected CONFIG_X=VALUE")
    return name, (val.strip() if eq else "y")


class KernelTree:
    """The include paths of one arch in a kernel source tree."""

    def __init__(self, root, arch: str):
        self.root = Path(root)
        if not self.root.is_dir():
            raise KernelError(f"{root}: not a directory (--kernel-tree)")
        self.arch = arch
        if not (self.root / "arch" / arch).is_dir():
            raise KernelError(f"{root}: no arch/{arch}/ in this tree (--arch)")
        self.include_dirs = [f"arch/{arch}/include", f"arch/{arch}/include/uapi",
                             "include", "include/uapi"]
        self._generic = self._kbuild_generic()

    def _kbuild_generic(self) -> set[str]:
        """asm/ headers Kbuild generates as wrappers of asm-generic/ (generic-y, mandatory-y)."""
        names: set[str] = set()
        for kb in (f"arch/{self.arch}/include/asm/Kbuild", "include/asm-generic/Kbuild"):
            p = self.root / kb
            if p.is_file():
                for m in re.finditer(r"^(?:generic|mandatory)-y\s*\+?=\s*(\S+)", p.read_text(errors="replace"), re.M):
                    names.add(m.group(1))
        return names

    def resolve_include(self, name: str, from_file: str | None) -> str | None:
        """Tree-relative path of an #include, or None if the tree lacks it."""
        if from_file is not None:
            cand = (Path(from_file).parent / name).as_posix()
            if (self.root / cand).is_file():
                return _normal(cand)
        for d in self.include_dirs:
            cand = f"{d}/{name}"
            if (self.root / cand).is_file():
                return _normal(cand)
        if name.startswith("asm/"):
            base = name[4:]
            if base in self._generic or (not self._generic and (self.root / "include/asm-generic" / base).is_file()):
                cand = f"include/asm-generic/{base}"
                if (self.root / cand).is_file():
                    return cand
        return None

    def why_missing(self, name: str) -> str:
        if name.startswith(_GENERATED_PREFIXES) or "/generated/" in name:
            return "generated by a build; a bare tree lacks it"
        return "not in this tree"

    def predefined(self, config: Config) -> dict[str, str]:
        """What the compiler and the kernel's command line define."""
        bits64 = config.is_64bit
        out = {"__KERNEL__": "1", "__GNUC__": "12", "__CHAR_BIT__": "8", "__SIZEOF_INT__": "4",
               "__SIZEOF_LONG__": "8" if bits64 else "4", "__SIZEOF_POINTER__": "8" if bits64 else "4",
               "__SIZEOF_LONG_LONG__": "8", "__linux__": "1"}
        if bits64:
            out.update({"__LP64__": "1", "_LP64": "1"})
        if config.enabled("CONFIG_CPU_BIG_ENDIAN"):
            out["__BIG_ENDIAN__"] = "1"
        else:
            out["__LITTLE_ENDIAN__"] = "1"
        pre = _ARCH_PREDEFINES.get(self.arch)
        if pre:
            out.update(pre[1] if bits64 else pre[0])
        return out


def _normal(p: str) -> str:
    parts: list[str] = []
    for seg in p.split("/"):
        if seg == "..":
            if parts:
                parts.pop()
        elif seg not in ("", "."):
            parts.append(seg)
    return "/".join(parts)
