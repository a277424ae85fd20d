"""Hypothesis cross-check: for every layout (shipped and fixtures) and every macro and constant it
defines, the Z3 term and plain Python evaluation agree on random values, including on whether the
values reach undefined behaviour. The file's [symbols] get a random allowed (aligned, in range) value,
the same on both sides."""

from pathlib import Path

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pteverify.layout import LayoutError, load_layout, shipped_layout_paths
from pteverify.layout.backends import PY, Z3Backend
from pteverify.layout.cexpr import Value
from pteverify.layout.errors import UndefinedBehaviour

FIXTURES = Path(__file__).parent / "layouts"
PATHS = sorted(shipped_layout_paths().values()) + sorted(FIXTURES.glob("*.toml"))


def _arg_signatures(layout, arity):
    """Argument types to try for a macro of unknown parameter types, most specific first."""
    kinds = [layout.value_type(n) for n in ("pte_t", "swp_entry_t", "pmd_t") if layout.value_type(n)]
    kinds += [layout.ulong]
    sigs = [[k] * arity for k in kinds]
    if arity == 2:
        sigs.insert(0, [layout.uint, layout.ulong])        # (type, offset)
    return sigs


class _Compiled:
    """Every callable macro of a layout as a Z3 term over per-argument variables."""

    def __init__(self, layout):
        self.layout = layout
        self.entries = []      # (label, [(var, ctype)], Value with .ub, py callable)
        self.skipped = []
        for name, m in layout.macros.items():
            for sig in _arg_signatures(layout, len(m.params)):
                ctx = layout.context(Z3Backend())
                args = []
                for i, t in enumerate(sig):
                    var = z3.BitVec(f"{name}_a{i}_{t.bits}", t.bits)
                    args.append((var, t))
                try:
                    val = layout.call(ctx, name, *[Value(t, v) for v, t in args])
                except LayoutError:
                    continue
                self.entries.append((f"{name}{tuple(str(t) for t in sig)}", args, val, list(ctx.ub), name))
                break
            else:
                self.skipped.append(name)   # e.g. _AT(T, X): a parameter is a type name
        for name in layout.constants:
            ctx = layout.context(Z3Backend())
            c = layout.constants[name]
            val = layout.eval_tokens(ctx, ("const", name), c.body, c.field)
            self.entries.append((name, [], val, list(ctx.ub), None))


_CACHE = {}


def _compiled(path):
    if path not in _CACHE:
        _CACHE[path] = _Compiled(load_layout(path))
    return _CACHE[path]


def _symbol_value(sd):
    """A random value the symbol may take: a multiple of its align within [min, max]."""
    lo_k, hi_k = -(-sd.lo // sd.align), sd.hi // sd.align
    return st.one_of(st.integers(lo_k, hi_k), st.sampled_from([lo_k, hi_k])).map(lambda k: k * sd.align)


def _value(bits):
    return st.one_of(st.integers(0, 2 ** bits - 1),
                     st.sampled_from([0, 1, 2 ** bits - 1, 2 ** (bits - 1)]),
                     st.integers(0, bits - 1).map(lambda b: 1 << b))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_z3_agrees_with_plain_evaluation(path):
    comp = _compiled(path)
    layout = comp.layout
    callable_macros = {e[4] for e in comp.entries if e[4]}
    assert callable_macros, "no macro could be evaluated"
    for required in ("__swp_type", "__swp_offset", "__swp_entry", "__pte_to_swp_entry",
                     "__swp_entry_to_pte", "pte_present", "pte_none"):
        assert required in callable_macros, required

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.data())
    def check(data):
        symbols = {n: data.draw(_symbol_value(sd), label=f"symbol {n}") for n, sd in layout.symbols.items()}
        for n, v in symbols.items():
            assert layout.symbols[n].allows(v)
        symbol_subst = [(z3.BitVec(f"symbol_{n}", layout.symbols[n].ctype.bits),
                         z3.BitVecVal(v, layout.symbols[n].ctype.bits)) for n, v in symbols.items()]
        py_symbols = layout.symbol_values(PY, symbols)
        for label, args, val, ub, name in comp.entries:
            concrete = [data.draw(_value(t.bits), label=f"{label} arg{i}") for i, (_, t) in enumerate(args)]
            subst = [(v, z3.BitVecVal(x, t.bits)) for (v, t), x in zip(args, concrete)] + symbol_subst
            z3_ub = any(z3.is_true(z3.simplify(z3.substitute(c, *subst) if subst else c)) for c, _ in ub)
            try:
                if name is None:
                    c = layout.constants[label]
                    py = layout.eval_tokens(layout.context(PY, py_symbols), ("const", label), c.body, c.field)
                else:
                    py = layout.call(layout.context(PY, py_symbols), name,
                                     *[Value(t, x) for (_, t), x in zip(args, concrete)])
                py_ub = False
            except UndefinedBehaviour:
                py_ub = True
            assert py_ub == z3_ub, f"{label}{concrete}: UB plain={py_ub} z3={z3_ub}"
            if py_ub:
                continue
            assert py.ctype == val.ctype, label
            term = z3.substitute(val.v, *subst) if subst else val.v
            got = z3.simplify(term).as_long()
            assert got == py.v, f"{layout.name}: {label}{[hex(x) for x in concrete]}: z3 {got:#x} != plain {py.v:#x}"

    check()


_OPS = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "==", "!=", "<", "<=", ">", ">=", "&&", "||"]
_TYPES = ["int", "unsigned int", "long", "unsigned long", "long long", "unsigned long long",
          "signed char", "unsigned short", "_Bool"]
_EXPR_CACHE = {}


@pytest.mark.parametrize("fixture", ["fixture-ok"])
def test_operators_z3_agree_with_plain(fixture):
    """Every operator on symbolic operands of every integer type: Z3 and plain evaluation agree
    (value, type, and undefined behaviour), so semantics used by no shipped layout is checked too."""
    layout = load_layout(FIXTURES / f"{fixture}.toml")
    u64 = layout.base_types["unsigned long long"]
    a, b = z3.BitVec("a", 64), z3.BitVec("b", 64)
    sym = {"a": Value(u64, a), "b": Value(u64, b)}

    def compiled(text):
        if text not in _EXPR_CACHE:
            _EXPR_CACHE[text] = layout.eval_expr(text, Z3Backend(), sym)
        return _EXPR_CACHE[text]

    def check(op, t1, t2, x, y):
        if op == "~":
            text = f"~({t1})a"
        elif op == "-u":
            text = f"-({t1})a"
        elif op == "!":
            text = f"!({t1})a"
        elif op == "?:":
            text = f"(a & 1) ? ({t1})a : ({t2})b"
        else:
            text = f"(({t1})a) {op} (({t2})b)"
        val = compiled(text)
        subst = [(a, z3.BitVecVal(x, 64)), (b, z3.BitVecVal(y, 64))]
        z3_ub = any(z3.is_true(z3.simplify(z3.substitute(c, *subst))) for c, _ in val.ub)
        try:
            py = layout.eval_expr(text, PY, {"a": Value(u64, x), "b": Value(u64, y)})
        except UndefinedBehaviour:
            assert z3_ub, f"{text} a={x:#x} b={y:#x}: plain evaluation hit UB, Z3 did not"
            return
        assert not z3_ub, f"{text} a={x:#x} b={y:#x}: Z3 reports UB, plain evaluation does not"
        assert py.ctype == val.ctype
        got = z3.simplify(z3.substitute(val.v, *subst)).as_long()
        assert got == py.v, f"{text} a={x:#x} b={y:#x}: z3 {got:#x} != plain {py.v:#x}"

    # every operator and type pair at values chosen to hit signs, widths and shift counts ...
    pairs = [(0, 0), (2 ** 64 - 1, 1), (0x80000000, 31), (0xffffffff80000000, 3), (0xff, 7),
             (0x7f, 63), (5, 0xffffffff), (0x123456789abcdef0, 0xfedcba9876543210), (2 ** 63, 2),
             (0xfffffffffffffff9, 0xfffffffffffffffe)]
    for op in _OPS + ["~", "-u", "!", "?:"]:
        for t1 in _TYPES:
            for t2 in (_TYPES if op not in ("~", "-u", "!") else _TYPES[:1]):
                for x, y in pairs:
                    check(op, t1, t2, x, y)

    # ... and at random ones
    random_check = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck),
                            database=None)(given(st.sampled_from(_OPS + ["~", "-u", "!", "?:"]),
                                                 st.sampled_from(_TYPES), st.sampled_from(_TYPES),
                                                 _value(64), st.one_of(_value(64), st.integers(0, 70)))(check))
    random_check()


@pytest.mark.parametrize("path", [p for p in PATHS if load_layout(p).symbols], ids=lambda p: p.stem)
def test_symbols_are_free_variables_of_the_terms(path):
    """A layout's [symbols] reach the Z3 terms as free variables (so the cross-check above varies
    them), and plain evaluation depends on the value given."""
    comp = _compiled(path)
    names = {f"symbol_{n}" for n in comp.layout.symbols}
    seen = set()
    for _, _, val, _, _ in comp.entries:
        todo = [val.v]
        while todo:
            e = todo.pop()
            if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
                seen.add(str(e))
            todo.extend(e.children())
    assert names <= seen
