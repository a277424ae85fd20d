"""C integer and struct types as the layout files use them.

int is 32-bit, long is the layout's ``long_bits``, long long is 64-bit; plain char is unsigned (the
kernel builds with -funsigned-char since v6.2). Signed overflow wraps (the kernel builds with
-fno-strict-overflow, which GCC and clang treat as -fwrapv).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IntType:
    name: str
    bits: int
    signed: bool
    rank: int  # _Bool 0, char 1, short 2, int 3, long 4, long long 5

    def __str__(self) -> str:
        return self.name

    @property
    def is_struct(self) -> bool:
        return False


@dataclass(frozen=True)
class StructType:
    """A struct (or union) used as a value, stored as one integer of ``storage`` type.

    ``members`` is empty for a struct of one member (any member name reads the whole value);
    otherwise it maps a member name to (first_bit, bits, member type), and any other member
    name reads the whole value (the union's `.pte`)."""

    name: str
    storage: IntType
    members: tuple = field(default=())  # ((name, first_bit, bits, IntType), ...)

    def __str__(self) -> str:
        return self.name

    @property
    def bits(self) -> int:
        return self.storage.bits

    @property
    def is_struct(self) -> bool:
        return True

    def member(self, name: str):
        for m in self.members:
            if m[0] == name:
                return m
        return None


BASE_KEYWORDS = frozenset({"signed", "unsigned", "char", "short", "int", "long", "_Bool", "bool",
                           "const", "volatile", "__int128"})


def make_base_types(long_bits: int) -> dict[str, IntType]:
    """Canonical C type name -> IntType, plus the kernel's fixed-width typedefs."""
    t = {
        "_Bool": IntType("_Bool", 1, False, 0),
        "char": IntType("char", 8, False, 1),
        "signed char": IntType("signed char", 8, True, 1),
        "unsigned char": IntType("unsigned char", 8, False, 1),
        "short": IntType("short", 16, True, 2),
        "unsigned short": IntType("unsigned short", 16, False, 2),
        "int": IntType("int", 32, True, 3),
        "unsigned int": IntType("unsigned int", 32, False, 3),
        "long": IntType("long", long_bits, True, 4),
        "unsigned long": IntType("unsigned long", long_bits, False, 4),
        "long long": IntType("long long", 64, True, 5),
        "unsigned long long": IntType("unsigned long long", 64, False, 5),
        # GCC's 128-bit integers (arm64's CONFIG_ARM64_D128 page-table descriptors are u128)
        "__int128": IntType("__int128", 128, True, 6),
        "unsigned __int128": IntType("unsigned __int128", 128, False, 6),
    }
    aliases = {
        "u8": "unsigned char", "u16": "unsigned short", "u32": "unsigned int",
        "u64": "unsigned long long", "s8": "signed char", "s16": "short", "s32": "int",
        "s64": "long long", "uint8_t": "unsigned char", "uint16_t": "unsigned short",
        "uint32_t": "unsigned int", "uint64_t": "unsigned long long", "int8_t": "signed char",
        "int16_t": "short", "int32_t": "int", "int64_t": "long long", "size_t": "unsigned long",
        "ssize_t": "long", "uintptr_t": "unsigned long", "bool": "_Bool",
        "u128": "unsigned __int128", "s128": "__int128", "__u128": "unsigned __int128",
        "__s128": "__int128", "__uint128_t": "unsigned __int128", "__int128_t": "__int128",
    }
    for k in ("8", "16", "32", "64"):
        aliases[f"__u{k}"] = aliases[f"u{k}"]
        aliases[f"__s{k}"] = aliases[f"s{k}"]
    out = dict(t)
    for alias, target in aliases.items():
        out[alias] = t[target]
    return out


def canonical_specifiers(words: list[str]) -> str | None:
    """'unsigned long int' -> 'unsigned long'; None when the combination is not a C type."""
    words = [w for w in words if w not in ("const", "volatile")]
    if not words:
        return None
    signed = words.count("signed")
    unsigned = words.count("unsigned")
    longs = words.count("long")
    shorts = words.count("short")
    chars = words.count("char")
    ints = words.count("int")
    bools = words.count("_Bool") + words.count("bool")
    if "__int128" in words:
        if words.count("__int128") > 1 or len(words) - words.count("__int128") - signed - unsigned:
            return None
        return "unsigned __int128" if unsigned else "__int128" if signed <= 1 else None
    if signed + unsigned > 1 or longs > 2 or shorts > 1 or chars > 1 or ints > 1 or bools > 1:
        return None
    if bools:
        return "_Bool" if len(words) == 1 else None
    if chars:
        if longs or shorts or ints:
            return None
        return "signed char" if signed else "unsigned char" if unsigned else "char"
    if shorts and longs:
        return None
    base = "short" if shorts else "long long" if longs == 2 else "long" if longs == 1 else "int"
    return ("unsigned " + base) if unsigned else base


INT_RANK = 3


def promote(t: IntType, types: dict[str, IntType]) -> IntType:
    """C integer promotion: anything of lower rank than int (or narrower) becomes int."""
    if t.rank < INT_RANK or t.bits < 32:
        return types["int"] if t.bits < 32 or t.signed else types["unsigned int"]
    return t


def usual_arithmetic(a: IntType, b: IntType, types: dict[str, IntType]) -> IntType:
    """C99 6.3.1.8 on already promoted operands."""
    if a == b:
        return a
    if a.signed == b.signed:
        return a if (a.rank, a.bits) >= (b.rank, b.bits) else b
    u, s = (a, b) if not a.signed else (b, a)
    if u.rank >= s.rank:
        return u
    if s.bits > u.bits:
        return s
    return unsigned_of(s, types)


def unsigned_of(t: IntType, types: dict[str, IntType]) -> IntType:
    name = {"int": "unsigned int", "long": "unsigned long", "long long": "unsigned long long",
            "short": "unsigned short", "signed char": "unsigned char",
            "__int128": "unsigned __int128"}.get(t.name)
    if name:
        return types[name]
    return IntType("unsigned " + t.name, t.bits, False, t.rank)


def uint_of_bits(bits: int, types: dict[str, IntType]) -> IntType:
    for name in ("unsigned char", "unsigned short", "unsigned int", "unsigned long long", "unsigned __int128"):
        if types[name].bits == bits:
            return types[name]
    return IntType(f"unsigned:{bits}", bits, False, 3 if bits <= 32 else 5)
