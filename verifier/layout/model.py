"""Loading and validating a layout file (specs/arch/<layout>.toml, format in specs/arch/FORMAT.md)."""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import cexpr
from .backends import PY
from .cexpr import ConstDef, EvalContext, Expander, MacroDef, Parser, Token, TypeTable, Value
from .ctypes_ import BASE_KEYWORDS, IntType, StructType, make_base_types
from .errors import LayoutError, UndefinedBehaviour

FLAG_NAMES = ("exclusive", "soft_dirty", "uffd_wp")
# The swp flags that the kernel's generic PMD decode clears before __pmd_to_swp_entry()
# (softleaf_from_pmd() in include/linux/leafops.h, pmd_to_swp_entry() in older swapops.h):
# soft-dirty and uffd-wp. No architecture has a PMD exclusive swp bit (pmd_swp_mkexclusive).
PMD_DECODE_CLEARS = ("soft_dirty", "uffd_wp")
FLAG_ACCESSORS = ("{p}_swp_mk{f}", "{p}_swp_{f}", "{p}_swp_clear_{f}")

REQUIRED_MACROS = ("__swp_type", "__swp_offset", "__swp_entry", "__pte_to_swp_entry",
                   "__swp_entry_to_pte", "pte_present", "pte_none")
REQUIRED_ARITY = {"__swp_type": 1, "__swp_offset": 1, "__swp_entry": 2, "__pte_to_swp_entry": 1,
                  "__swp_entry_to_pte": 1, "pte_present": 1, "pte_none": 1,
                  "__pmd_to_swp_entry": 1, "__swp_entry_to_pmd": 1, "pmd_present": 1, "pmd_none": 1}
PMD_MACROS = ("__pmd_to_swp_entry", "__swp_entry_to_pmd")

_TOP_KEYS = {
    # key: (required, type check, description)
    "layout": (True, str), "arch": (True, str), "description": (True, str), "source": (True, list),
    "kernel": (True, str), "width": (True, int), "long_bits": (True, int),
    "swp_entry_bits": (False, int), "max_swapfiles_shift": (False, int), "offset_bits": (False, int),
    "pmd_width": (False, int), "notes": (False, str),
    "types": (False, dict), "structs": (False, dict), "constants": (False, dict),
    "macros": (True, dict), "flags": (False, dict), "pmd_flags": (False, dict), "bits": (False, dict),
    "symbols": (False, dict), "known_findings": (False, dict), "config": (False, dict),
    "assume": (False, dict), "page_shift": (False, int), "max_physmem_bits": (False, int),
    "phys_addr_bits": (False, int),
}
_TYPE_WORDS = {str: "a string", int: "an integer", list: "a list", dict: "a table"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SIGNATURE = re.compile(r"\s*(?P<head>[^()]*?)\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\((?P<params>[^()]*)\)\s*\Z")
_IGNORED_DECL_WORDS = {"static", "inline", "__always_inline", "extern"}


def _macro_field(key: str) -> str:
    return f'[macros] "{key}"'


@dataclass
class SymbolDef:
    """An opaque symbol of the file's [symbols] table (e.g. the address of an extern array such as
    loongarch's invalid_pte_table): a free value of type ctype, quantified universally by the
    proofs, restricted to multiples of align within [lo, hi]."""
    name: str
    ctype: IntType
    align: int
    lo: int
    hi: int
    field: str

    @property
    def default(self) -> int:
        """The value plain evaluation uses when none is given: the smallest allowed value."""
        return -(-self.lo // self.align) * self.align

    def allows(self, v: int) -> bool:
        return self.lo <= v <= self.hi and v % self.align == 0


class Layout:
    """A loaded, validated layout file."""

    def __init__(self, path: Path, data: dict, raw_text: str):
        self.path = Path(path)
        self.raw_text = raw_text
        self.name: str = data["layout"]
        self.arch: str = data["arch"]
        self.description: str = data["description"]
        self.source: list[str] = list(data["source"])
        self.kernel: str = data["kernel"]
        self.width: int = data["width"]
        self.long_bits: int = data["long_bits"]
        self.swp_entry_bits: int = data.get("swp_entry_bits", self.long_bits)
        self.max_swapfiles_shift: int = data.get("max_swapfiles_shift", 5)
        self.offset_bits: int | None = data.get("offset_bits")
        self.pmd_width: int = data.get("pmd_width", self.width)
        # the generic layer (include/linux/swapops.h): PAGE_SHIFT, MAX_PHYSMEM_BITS (None where the
        # arch does not define it) and the bits of phys_addr_t (default long_bits)
        self.page_shift: int | None = data.get("page_shift")
        self.max_physmem_bits: int | None = data.get("max_physmem_bits")
        self.phys_addr_bits: int | None = data.get("phys_addr_bits")
        self.notes: str = data.get("notes", "")
        self.base_types = make_base_types(self.long_bits)
        self.typedefs: dict[str, IntType] = {}
        self.structs: dict[str, StructType] = {}
        self.constants: dict[str, ConstDef] = {}
        self.macros: dict[str, MacroDef] = {}
        self.flags: dict[str, list[Token]] = {}
        self.pmd_flags: dict[str, list[Token]] = {}
        self.flag_text: dict[tuple[str, str], str] = {}   # ('flags'|'pmd_flags', flag) -> the mask as written
        self.symbols: dict[str, SymbolDef] = {}
        self.must_be_zero: list[Token] | None = None
        self.hardware_may_set: list[Token] | None = None
        self.pmd_hardware_may_set: list[Token] | None = None   # bits hardware may set on an empty PMD
        self.bit_names: dict[int, str] = {}
        self.pmd_bit_names: dict[int, str] | None = None   # None: the PMD diagram uses bit_names
        # property -> why the header violates it: a candidate kernel bug, faithfully transcribed;
        # `pteverify check` expects these properties disproved, `prove` still reports them
        self.known_findings: dict[str, str] = {}
        self.config: dict = {}      # the kernel config the file assumes (`config`)
        self.assume: dict = {}      # run-time conditions it assumes (`assume`)
        self._driver_cache: dict = {}
        self.type_table = TypeTable(self.base_types, self.typedefs, self.structs)
        self.expander = Expander(self.constants, self.macros)

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {str(self.path)!r})"

    # --- errors -----------------------------------------------------------------------------

    def located(self, err: LayoutError) -> LayoutError:
        """Adds the file and line to an error raised by the front end."""
        if err.path is None:
            err.path = self.path
            err.line = err.line or _line_of(self.raw_text, err.field)
        return err

    # --- types --------------------------------------------------------------------------------

    def ctype(self, text: str, field: str):
        toks = cexpr.tokenize(text, field)
        p = Parser(toks, self.type_table, field)
        if not toks or not self.type_table.is_type_start(toks[0]):
            raise LayoutError(f"'{text}' is not a type", field=field, column=1)
        t, _ = p.type_name()
        if p.peek().kind != "end":
            raise p.peek().error(f"unexpected '{p.peek().text}' in a type name")
        return t

    @property
    def ulong(self) -> IntType:
        return self.base_types["unsigned long"]

    @property
    def uint(self) -> IntType:
        return self.base_types["unsigned int"]

    def value_type(self, name: str):
        """pte_t / pmd_t / swp_entry_t: a struct, or an integer typedef (no STRICT_MM_TYPECHECKS)."""
        return self.structs.get(name) or self.typedefs.get(name)

    # --- evaluation ---------------------------------------------------------------------------

    def parse_tokens(self, toks: list[Token], field: str | None):
        return Parser(self.expander.expand(toks), self.type_table, field).parse()

    def driver(self, key, text: str):
        """Parses (once) an expression the prover writes over the file's macros, e.g.
        '__swp_entry(__pv_a0, __pv_a1)'; errors inside the macros name the macro's field."""
        ast = self._driver_cache.get(key)
        if ast is None:
            try:
                ast = self.parse_tokens(cexpr.tokenize(text, None), None)
            except LayoutError as e:
                raise self.located(e)
            self._driver_cache[key] = ast
        return ast

    def call(self, ctx: EvalContext, macro: str, *args: Value) -> Value:
        names = [f"__pteverify_arg{i}" for i in range(len(args))]
        ast = self.driver(("call", macro, len(args)), f"{macro}({', '.join(names)})")
        saved = ctx.env
        ctx.env = dict(zip(names, args))
        try:
            return cexpr.evaluate(ast, ctx)
        except LayoutError as e:
            raise self.located(e)
        finally:
            ctx.env = saved

    def eval_tokens(self, ctx: EvalContext, key, toks: list[Token], field: str) -> Value:
        ast = self._driver_cache.get(key)
        if ast is None:
            try:
                ast = self.parse_tokens(toks, field)
            except LayoutError as e:
                raise self.located(e)
            self._driver_cache[key] = ast
        saved = ctx.env
        ctx.env = {}
        try:
            return cexpr.evaluate(ast, ctx)
        except LayoutError as e:
            raise self.located(e)
        finally:
            ctx.env = saved

    def symbol_values(self, backend, values: dict | None = None) -> dict[str, Value]:
        """The [symbols] as cexpr.Value: on the symbolic back end a free bit-vector per symbol
        (named symbol_<name>, so that equal names are one variable); on the plain one values[name],
        or the symbol's default (smallest allowed value)."""
        out = {}
        for name, sd in self.symbols.items():
            if backend.symbolic:
                import z3
                out[name] = Value(sd.ctype, z3.BitVec(f"symbol_{name}", sd.ctype.bits))
            else:
                v = (values or {}).get(name, sd.default)
                out[name] = Value(sd.ctype, v & ((1 << sd.ctype.bits) - 1))
        return out

    def symbol_constraint(self, backend, symbols: dict[str, Value]):
        """Back-end boolean: every symbol value is a multiple of its align within [min, max]."""
        be = backend
        conds = []
        for name, sd in self.symbols.items():
            v, bits = symbols[name].v, sd.ctype.bits
            if sd.align > 1:
                conds.append(be.eq(be.band(v, be.const(sd.align - 1, bits), bits), be.const(0, bits)))
            if sd.lo > 0:
                conds.append(be.ule(be.const(sd.lo, bits), v))
            if sd.hi < (1 << bits) - 1:
                conds.append(be.ule(v, be.const(sd.hi, bits)))
        return be.and_(*conds) if conds else be.true()

    def context(self, backend, symbols: dict[str, Value] | None = None) -> EvalContext:
        if symbols is None:
            symbols = self.symbol_values(backend)
        return EvalContext(backend, {}, self.base_types, symbols)

    def eval_expr(self, text: str, backend=PY, env: dict | None = None) -> Value:
        """Evaluates a C expression over this file's constants, macros and types; env binds
        extra names to cexpr.Value. Used by tests and tools."""
        ctx = self.context(backend)
        toks = cexpr.tokenize(text, "<expression>")
        ast = Parser(self.expander.expand(toks), self.type_table, "<expression>").parse()
        ctx.env = dict(env or {})
        val = cexpr.evaluate(ast, ctx)
        val.ub = ctx.ub  # undefined-behaviour conditions met (symbolic back end)
        return val

    def constant_value(self, name: str) -> int:
        """Plain value of a constant (its bit pattern at its C type's width)."""
        c = self.constants[name]
        return self.eval_tokens(self.context(PY), ("const", name), c.body, c.field).v

    def has_macro(self, name: str) -> bool:
        return name in self.macros


# ---------------------------------------------------------------------------------------------

def _line_of(raw: str, field: str | None) -> int | None:
    """Line of a field like '[macros] "__swp_type(x)"' or 'width' in the TOML text."""
    if not field:
        return None
    m = re.match(r'\[(\w+)\]\s+(.*)', field)
    section, key = (m.group(1), m.group(2)) if m else (None, field)
    key = key.strip('"')
    current = None
    for no, line in enumerate(raw.splitlines(), 1):
        s = line.strip()
        h = re.match(r"\[\s*([\w.]+)\s*\]", s)
        if h and not s.startswith("[["):
            current = h.group(1)
            continue
        if current == section or (section is None and current is None):
            for cand in (f'"{key}"', f"'{key}'", key):
                if s.startswith(cand) and s[len(cand):].lstrip().startswith("="):
                    return no
    return None


def _fail(layout_path, raw, message, field=None, column=None):
    return LayoutError(message, path=layout_path, line=_line_of(raw, field), field=field, column=column)


def _check_type(path, raw, where, value, want):
    if want is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, want)
    if not ok:
        raise _fail(path, raw, f"must be {_TYPE_WORDS[want]}, not {type(value).__name__}", where)


def load_layout(path) -> Layout:
    """Reads, validates and type-checks a layout file. Raises LayoutError (one line, naming file,
    field and column) on any problem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise LayoutError(f"cannot read: {e.strerror}", path=path) from None
    except UnicodeDecodeError as e:
        data = path.read_bytes()
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise LayoutError(f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8",
                          path=path, line=line, column=col) from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        if m:
            raise LayoutError(f"TOML syntax: {msg}", path=path, line=int(m.group(1)),
                              column=int(m.group(2))) from None
        raise LayoutError(f"TOML syntax: {msg}", path=path) from None
    return _build(path, data, raw)


def load_layout_data(data: dict, raw: str, path) -> Layout:
    """Validates a layout given as a dict (an extracted one); raw is its TOML text, for lines."""
    return _build(Path(path), data, raw)


def _build(path: Path, data: dict, raw: str) -> Layout:
    for key in data:
        if key not in _TOP_KEYS:
            raise _fail(path, raw, f"unknown key '{key}' (known: {', '.join(_TOP_KEYS)})", key)
    for key, (required, want) in _TOP_KEYS.items():
        if key not in data:
            if required:
                raise _fail(path, raw, f"missing required key '{key}'", None)
            continue
        _check_type(path, raw, key if want is not dict else f"[{key}]", data[key], want)
    if data["layout"] != path.stem:
        raise _fail(path, raw, f"layout name '{data['layout']}' differs from the file name '{path.stem}'", "layout")
    if not data["source"] or not all(isinstance(s, str) and s for s in data["source"]):
        raise _fail(path, raw, "must be a non-empty list of header paths", "source")
    for key in ("width", "long_bits", "pmd_width", "swp_entry_bits"):
        ok = (32, 64, 128) if key in ("width", "pmd_width") else (32, 64)
        if key in data and data[key] not in ok:
            raise _fail(path, raw, f"must be {', '.join(map(str, ok[:-1]))} or {ok[-1]}, not {data[key]}", key)
    for key, lo, hi in (("page_shift", 10, 24), ("max_physmem_bits", 20, 64), ("phys_addr_bits", 32, 64)):
        if key in data and not lo <= data[key] <= hi:
            raise _fail(path, raw, f"must be between {lo} and {hi}, not {data[key]}", key)
    mss = data.get("max_swapfiles_shift", 5)
    if not 1 <= mss <= 8:
        raise _fail(path, raw, f"must be between 1 and 8, not {mss}", "max_swapfiles_shift")
    seb = data.get("swp_entry_bits", data["long_bits"])
    if "offset_bits" in data and not 1 <= data["offset_bits"] <= seb:
        raise _fail(path, raw, f"must be between 1 and swp_entry_bits ({seb}), not {data['offset_bits']}", "offset_bits")

    for k, v in data.get("config", {}).items():
        if not re.fullmatch(r"CONFIG_[A-Za-z0-9_]+", k) or isinstance(v, (dict, list, bool)):
            raise _fail(path, raw, f"'{k}': must be CONFIG_X = \"y\" / \"m\" / \"n\" / a value", "config")
    for k, v in data.get("assume", {}).items():
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z_]\w*(\([^()]*\))?", k):
            raise _fail(path, raw, f"'{k}': must be NAME or NAME(args) = \"C expression\"", "assume")
    lay = Layout(path, data, raw)
    lay.config = dict(data.get("config", {}))
    lay.assume = dict(data.get("assume", {}))
    try:
        _load_types(lay, data.get("types", {}))
        _load_structs(lay, data.get("structs", {}))
        _load_constants(lay, data.get("constants", {}))
        _load_macros(lay, data["macros"])
        _load_symbols(lay, data.get("symbols", {}))
        _load_flags(lay, data.get("flags", {}))
        _load_pmd_flags(lay, data.get("pmd_flags", {}))
        _load_bits(lay, data.get("bits", {}))
        _load_known_findings(lay, data.get("known_findings", {}))
        _check_names(lay)
        _symbol_bounds(lay, data.get("symbols", {}))
        for name in lay.constants:
            try:
                lay.constant_value(name)
            except UndefinedBehaviour as ub:
                raise LayoutError(ub.describe(), field=ub.field, column=ub.column) from None
        from .semantics import smoke_check
        smoke_check(lay)
    except LayoutError as e:
        raise lay.located(e) from None
    return lay


def _ident(name: str, field: str):
    if not _IDENT.match(name) or name in BASE_KEYWORDS or name == "sizeof":
        raise LayoutError(f"'{name}' is not a valid C identifier here", field=field)


def _load_types(lay: Layout, table: dict):
    pending = dict(table)
    for name, val in table.items():
        field = f"[types] {name}"
        _ident(name, field)
        if not isinstance(val, str):
            raise LayoutError(f"must be a string naming a C type, not {type(val).__name__}", field=field)

    def resolve(name, chain):
        if name in lay.typedefs:
            return lay.typedefs[name]
        field = f"[types] {name}"
        if name in chain:
            raise LayoutError(f"typedef cycle: {' -> '.join(chain + [name])}", field=field, column=1)
        text = pending[name]
        words = text.split()
        for w in words:
            if w in pending and w not in lay.typedefs:
                resolve(w, chain + [name])
        t = lay.ctype(text, field)
        if t.is_struct:
            raise LayoutError("a typedef of a struct belongs in [structs]", field=field, column=1)
        lay.typedefs[name] = t
        return t

    for name in table:
        resolve(name, [])


def _load_structs(lay: Layout, table: dict):
    for name, val in table.items():
        field = f"[structs] {name}"
        _ident(name, field)
        if name in lay.base_types or name in lay.typedefs:
            raise LayoutError(f"'{name}' is already a type name", field=field)
        if isinstance(val, str):
            t = lay.ctype(val, field)
            if t.is_struct:
                raise LayoutError("a struct member must have an integer type", field=field, column=1)
            lay.structs[name] = StructType(name, t, ())
            continue
        if not isinstance(val, dict):
            raise LayoutError("must be a string (the member's type) or a table {type, members}", field=field)
        for k in val:
            if k not in ("type", "members"):
                raise LayoutError(f"unknown key '{k}' (known: type, members)", field=field)
        if "type" not in val or "members" not in val:
            raise LayoutError("a struct table needs both 'type' and 'members'", field=field)
        if not isinstance(val["type"], str):
            raise LayoutError("'type' must be a string", field=field)
        storage = lay.ctype(val["type"], field)
        if storage.is_struct:
            raise LayoutError("'type' must be an integer type", field=field)
        members = []
        if not isinstance(val["members"], list) or not val["members"]:
            raise LayoutError("'members' must be a non-empty list of [name, first_bit, bits]", field=field)
        for m in val["members"]:
            if not (isinstance(m, list) and len(m) in (3, 4) and isinstance(m[0], str)
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in m[1:3])):
                raise LayoutError(f"member {m!r} must be [name, first_bit, bits] or [name, first_bit, bits, \"type\"]", field=field)
            mname, lo, bits = m[0], m[1], m[2]
            _ident(mname, field)
            if bits < 1 or lo < 0 or lo + bits > storage.bits:
                raise LayoutError(f"member '{mname}' (bits {lo}..{lo + bits - 1}) does not fit in {storage.bits} bits", field=field)
            if len(m) == 4:
                if not isinstance(m[3], str):
                    raise LayoutError(f"member '{mname}': the type must be a string", field=field)
                mtype = lay.ctype(m[3], field)
                if mtype.is_struct or mtype.bits != bits:
                    raise LayoutError(f"member '{mname}': type '{m[3]}' is not {bits} bits wide", field=field)
            else:
                from .ctypes_ import uint_of_bits
                mtype = uint_of_bits(bits, lay.base_types)
            members.append((mname, lo, bits, mtype))
        lay.structs[name] = StructType(name, storage, tuple(members))
    if "swp_entry_t" not in lay.structs:
        raise LayoutError("missing struct 'swp_entry_t' (swp_entry_t = \"unsigned long\")", field="[structs]")
    if "pte_t" not in lay.structs and "pte_t" not in lay.typedefs:
        raise LayoutError("missing 'pte_t': a struct in [structs] (pte_t = \"pteval_t\"), or an integer "
                          "typedef in [types] where the header has typedef pteval_t pte_t", field="[structs]")


def _expr_tokens(val, field: str) -> list[Token]:
    if isinstance(val, bool) or not isinstance(val, (str, int)):
        raise LayoutError(f"must be a C expression (string) or an integer, not {type(val).__name__}", field=field)
    if isinstance(val, int):
        if val < 0:
            raise LayoutError("a negative integer: write it as a C expression string", field=field)
        return cexpr.tokenize(str(val), field)
    toks = cexpr.tokenize(val, field)
    if not toks:
        raise LayoutError("empty expression", field=field, column=1)
    return toks


def _load_constants(lay: Layout, table: dict):
    for name, val in table.items():
        field = f"[constants] {name}"
        _ident(name, field)
        lay.constants[name] = ConstDef(name, _expr_tokens(val, field), field)


def _load_macros(lay: Layout, table: dict):
    for key, val in table.items():
        field = _macro_field(key)
        m = _SIGNATURE.match(key)
        if not m:
            raise LayoutError("key must be a C signature such as \"__swp_type(x)\" or \"unsigned long __swp_type(swp_entry_t x)\"", field=field)
        name = m.group("name")
        _ident(name, field)
        if name in lay.constants:
            raise LayoutError(f"'{name}' is also a constant", field=field)
        if name in lay.macros:
            raise LayoutError(f"'{name}' is defined twice", field=field)
        head = [w for w in m.group("head").split() if w not in _IGNORED_DECL_WORDS]
        ret = " ".join(head) or None
        if ret is not None:
            lay.ctype(ret, field)
        params, ptypes = [], []
        ptext = m.group("params").strip()
        if ptext and ptext != "void":
            for p in ptext.split(","):
                words = p.split()
                if not words:
                    raise LayoutError("empty parameter", field=field)
                pname = words[-1]
                _ident(pname, field)
                if pname in params:
                    raise LayoutError(f"parameter '{pname}' given twice", field=field)
                ptype = " ".join(words[:-1]) or None
                if ptype is not None:
                    lay.ctype(ptype, field)
                params.append(pname)
                ptypes.append(ptype)
        if not isinstance(val, str):
            raise LayoutError(f"must be a C expression (string), not {type(val).__name__}", field=field)
        body = cexpr.tokenize(val, field)
        if not body:
            raise LayoutError("empty expression", field=field, column=1)
        lay.macros[name] = MacroDef(name, params, ptypes, ret, body, field)
    for name in REQUIRED_MACROS:
        if name not in lay.macros:
            raise LayoutError(f"missing required macro '{name}'", field="[macros]")
    for name, arity in REQUIRED_ARITY.items():
        if name in lay.macros and len(lay.macros[name].params) != arity:
            raise LayoutError(f"'{name}' must take {arity} parameter(s)", field=lay.macros[name].field)
    pmd = [n for n in PMD_MACROS if n in lay.macros]
    if pmd and len(pmd) != len(PMD_MACROS):
        missing = [n for n in PMD_MACROS if n not in lay.macros][0]
        raise LayoutError(f"PMD forms need both __pmd_to_swp_entry and __swp_entry_to_pmd: '{missing}' is missing", field="[macros]")
    if pmd and "pmd_t" not in lay.structs and "pmd_t" not in lay.typedefs:
        raise LayoutError("PMD forms are given but [structs] has no pmd_t", field="[structs]")


def _load_flags(lay: Layout, table: dict):
    for name, val in table.items():
        field = f"[flags] {name}"
        if name not in FLAG_NAMES:
            raise LayoutError(f"unknown flag '{name}' (known: {', '.join(FLAG_NAMES)})", field=field)
        lay.flags[name] = _expr_tokens(val, field)
        lay.flag_text[("flags", name)] = str(val)
    _check_accessor_arity(lay, "pte")


def _check_accessor_arity(lay: Layout, prefix: str):
    for f in FLAG_NAMES:
        for pattern in FLAG_ACCESSORS:
            name = pattern.format(p=prefix, f=f)
            if name in lay.macros and len(lay.macros[name].params) != 1:
                raise LayoutError(f"'{name}' must take 1 parameter", field=lay.macros[name].field)


def _load_pmd_flags(lay: Layout, table: dict):
    """[pmd_flags]: the swp flags of PMD swap (migration) entries, like [flags]; overrides are the
    pmd_swp_mk<flag>(pmd), pmd_swp_<flag>(pmd), pmd_swp_clear_<flag>(pmd) macros."""
    if table and "__swp_entry_to_pmd" not in lay.macros:
        raise LayoutError("PMD swp flags are given but the layout has no PMD forms (__swp_entry_to_pmd)",
                          field="[pmd_flags]")
    for name, val in table.items():
        field = f"[pmd_flags] {name}"
        if name not in FLAG_NAMES:
            raise LayoutError(f"unknown flag '{name}' (known: {', '.join(FLAG_NAMES)})", field=field)
        lay.pmd_flags[name] = _expr_tokens(val, field)
        lay.flag_text[("pmd_flags", name)] = str(val)
    for f in FLAG_NAMES:
        for pattern in FLAG_ACCESSORS:
            name = pattern.format(p="pmd", f=f)
            if name in lay.macros and f not in lay.pmd_flags:
                raise LayoutError(f"'{name}' is given but [pmd_flags] has no '{f}'",
                                  field=lay.macros[name].field)
    _check_accessor_arity(lay, "pmd")


_SYMBOL_KEYS = ("type", "align", "min", "max")


def _load_symbols(lay: Layout, table: dict):
    """[symbols]: opaque link-time values the expressions use (the address of an extern array),
    each a table {type, align, min, max}. The bounds are evaluated later (_symbol_bounds), once
    the constants they may use are known."""
    for name, val in table.items():
        field = f"[symbols] {name}"
        _ident(name, field)
        if name in lay.constants or name in lay.macros:
            raise LayoutError(f"'{name}' is also a {'constant' if name in lay.constants else 'macro'}", field=field)
        if name in lay.base_types or name in lay.typedefs or name in lay.structs:
            raise LayoutError(f"'{name}' is a type name", field=field)
        if not isinstance(val, dict):
            raise LayoutError("must be a table such as { align = 4096 }", field=field)
        for k in val:
            if k not in _SYMBOL_KEYS:
                raise LayoutError(f"unknown key '{k}' (known: {', '.join(_SYMBOL_KEYS)})", field=field)
        tname = val.get("type", "unsigned long")
        if not isinstance(tname, str):
            raise LayoutError("'type' must be a string naming an integer type", field=field)
        ctype = lay.ctype(tname, field)
        if ctype.is_struct:
            raise LayoutError("'type' must be an integer type", field=field)
        align = val.get("align", 1)
        if isinstance(align, bool) or not isinstance(align, int) or align < 1 or align & (align - 1) \
                or align >= 1 << ctype.bits:
            raise LayoutError(f"'align' must be a power of two below 2^{ctype.bits}, not {align!r}", field=field)
        lay.symbols[name] = SymbolDef(name, ctype, align, 0, (1 << ctype.bits) - 1, field)


def _symbol_bounds(lay: Layout, table: dict):
    for name, sd in lay.symbols.items():
        val = table[name]
        for key in ("min", "max"):
            if key not in val:
                continue
            try:
                toks = _expr_tokens(val[key], sd.field)
                for t in lay.expander.expand(toks):
                    if t.kind == "id" and t.text in lay.symbols:
                        raise t.error(f"uses the symbol '{t.text}'")
                v = lay.eval_tokens(lay.context(PY), ("symbol", name, key), toks, sd.field)
            except UndefinedBehaviour as ub:
                raise LayoutError(f"'{key}': {ub.describe()}", field=sd.field) from None
            except LayoutError as e:
                if e.field == sd.field:       # an error in the bound's own text: say which bound
                    e.message = f"'{key}': {e.message}"
                    e.args = (str(e),)
                raise
            if v.ctype.is_struct:
                raise LayoutError(f"'{key}' has struct type '{v.ctype}'", field=sd.field)
            n = v.v
            if v.ctype.signed and n >> (v.ctype.bits - 1):
                raise LayoutError(f"'{key}' is negative", field=sd.field)
            if n >= 1 << sd.ctype.bits:
                raise LayoutError(f"'{key}' = {n:#x} does not fit in '{sd.ctype}'", field=sd.field)
            if key == "min":
                sd.lo = n
            else:
                sd.hi = n
        if sd.default > sd.hi:
            raise LayoutError(f"no multiple of align {sd.align:#x} lies in [min, max] = [{sd.lo:#x}, {sd.hi:#x}]",
                              field=sd.field)


def _load_bits(lay: Layout, table: dict):
    for key, val in table.items():
        field = f"[bits] {key}"
        if key in ("must_be_zero", "hardware_may_set", "pmd_hardware_may_set"):
            setattr(lay, key, _expr_tokens(val, field))
        elif key in ("names", "pmd_names"):
            if not isinstance(val, dict):
                raise LayoutError("must be a table {bit = \"label\"}", field=field)
            width = lay.pmd_width if key == "pmd_names" else lay.width
            if key == "pmd_names" and "__swp_entry_to_pmd" not in lay.macros:
                raise LayoutError("PMD bit names are given but the layout has no PMD forms", field=field)
            names = {}
            for b, label in val.items():
                if not b.isdigit() or not 0 <= int(b) < width:
                    raise LayoutError(f"'{b}' is not a bit number below {width}", field=field)
                if not isinstance(label, str):
                    raise LayoutError(f"label of bit {b} must be a string", field=field)
                names[int(b)] = label
            if key == "names":
                lay.bit_names = names
            else:
                lay.pmd_bit_names = names
        else:
            raise LayoutError(f"unknown key '{key}' (known: must_be_zero, hardware_may_set, pmd_hardware_may_set, names, pmd_names)",
                              field="[bits]")


def _check_names(lay: Layout):
    """Expands every constant, macro body, flag and [bits] expression once (finding macro cycles
    whether or not the prover reaches them), then requires every identifier left to be a
    parameter or a type name. Names are checked after expansion, as cpp would, so an argument
    that is only pasted with ## (the UL of _AC(1, UL)) is not taken for a name."""
    placeholder = "__pteverify_param"

    def check(toks):
        prev = None
        for t in toks:
            if t.kind == "id" and not (prev is not None and prev.text == "." and prev.kind == "punct"):
                n = t.text
                if not (n.startswith(placeholder) or n == "sizeof" or n in BASE_KEYWORDS
                        or n in lay.base_types or n in lay.typedefs or n in lay.structs
                        or n in lay.symbols):
                    if n in lay.macros:
                        raise t.error(f"function-like macro '{n}' used without arguments")
                    raise t.error(f"unknown name '{n}'")
            prev = t

    for c in lay.constants.values():
        check(lay.expander.expand(c.body, (c.name,)))
    for m in lay.macros.values():
        args = [[Token("id", f"{placeholder}{i}", m.field, 1)] for i in range(len(m.params))]
        check(lay.expander.expand(lay.expander._substitute(m, args, m.body[0], (m.name,)), (m.name,)))
    for name, toks in list(lay.flags.items()) + list(lay.pmd_flags.items()):
        check(lay.expander.expand(toks))
    for key in ("must_be_zero", "hardware_may_set"):
        toks = getattr(lay, key)
        if toks:
            check(lay.expander.expand(toks))


# ---------------------------------------------------------------------------------------------

def shipped_layout_paths() -> dict[str, Path]:
    """Layout name -> path of every specs/arch/*.toml shipped with pteverify."""
    root = importlib.resources.files("pteverify.specs") / "arch"
    out = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            out[entry.name[:-5]] = Path(str(entry))
    return out


def resolve(names: list[str]) -> list[Layout]:
    """Loads the shipped layouts named; an unknown name is a LayoutError."""
    shipped = shipped_layout_paths()
    out = []
    for n in names:
        if n not in shipped:
            raise LayoutError(f"unknown layout '{n}' (see `pteverify list`)")
        out.append(load_layout(shipped[n]))
    return out


def _load_known_findings(lay: Layout, table: dict) -> None:
    from .prover import PROPERTY_NAMES
    for prop, why in table.items():
        field = f"[known_findings] {prop}"
        if prop not in PROPERTY_NAMES:
            raise LayoutError(f"unknown property '{prop}' (known: {', '.join(PROPERTY_NAMES)})", field=field)
        if not isinstance(why, str) or not why.strip():
            raise LayoutError("must be a string saying why the header violates the property", field=field)
        lay.known_findings[prop] = why.strip()
