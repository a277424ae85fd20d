"""C semantics of the layout expression front end: literal types, promotions, conversions, shifts,
undefined behaviour, macro expansion."""

from pathlib import Path

import pytest
import z3

from pteverify.layout import LayoutError, load_layout
from pteverify.layout.backends import Z3Backend
from pteverify.layout.cexpr import Value
from pteverify.layout.errors import UndefinedBehaviour

FIXTURES = Path(__file__).parent / "layouts"


def _layout(tmp_path, long_bits=64, extra_types="", extra_structs="", extra_constants="", extra_macros=""):
    text = (FIXTURES / "fixture-ok.toml").read_text()
    name = f"sem{long_bits}"
    text = text.replace('layout = "fixture-ok"', f'layout = "{name}"')
    text = text.replace("long_bits = 64", f"long_bits = {long_bits}")
    text = text.replace("[types]\n", "[types]\n" + extra_types)
    text = text.replace("[structs]\n", "[structs]\n" + extra_structs)
    text = text.replace("[constants]\n", "[constants]\n" + extra_constants)
    text = text.replace("[macros]\n", "[macros]\n" + extra_macros)
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return load_layout(p)


@pytest.fixture(scope="module")
def l64(tmp_path_factory):
    return _layout(tmp_path_factory.mktemp("l64"), 64,
                   extra_structs='pae_t = { type = "unsigned long long", members = [["low", 0, 32], ["high", 32, 32]] }\n',
                   extra_macros='"PASTE(a, b)" = "a##b"\n"_AC(X,Y)" = "(X##Y)"\n'
                                '"member_named_like_param(pte)" = "((pte).pte + 1)"\n'
                                '"unsigned long typed_ret(unsigned char c)" = "(c)"\n')


@pytest.fixture(scope="module")
def l32(tmp_path_factory):
    return _layout(tmp_path_factory.mktemp("l32"), 32)


def ev(layout, text):
    v = layout.eval_expr(text)
    return v.v, v.ctype.name


@pytest.mark.parametrize("text, value, ctype", [
    ("1", 1, "int"),
    ("2147483647", 2147483647, "int"),
    ("2147483648", 2147483648, "long"),          # decimal: int, long, long long
    ("0x7fffffff", 0x7fffffff, "int"),
    ("0x80000000", 0x80000000, "unsigned int"),  # hex: also the unsigned types
    ("0xffffffff", 0xffffffff, "unsigned int"),
    ("0x100000000", 0x100000000, "long"),
    ("0xffffffffffffffff", 2 ** 64 - 1, "unsigned long"),
    ("9223372036854775808u", 2 ** 63, "unsigned long"),
    ("1u", 1, "unsigned int"), ("1U", 1, "unsigned int"),
    ("1l", 1, "long"), ("1L", 1, "long"),
    ("1ul", 1, "unsigned long"), ("1Lu", 1, "unsigned long"), ("1lU", 1, "unsigned long"),
    ("1ll", 1, "long long"), ("1LL", 1, "long long"),
    ("1ull", 1, "unsigned long long"), ("1LLU", 1, "unsigned long long"), ("1llu", 1, "unsigned long long"),
    ("0b101", 5, "int"), ("017", 15, "int"), ("0", 0, "int"), ("0x1fUL", 31, "unsigned long"),
])
def test_literal_types_lp64(l64, text, value, ctype):
    assert ev(l64, text) == (value, ctype)


@pytest.mark.parametrize("text, value, ctype", [
    ("2147483648", 2147483648, "long long"),      # long is 32-bit: decimal skips to long long
    ("0x80000000", 0x80000000, "unsigned int"),
    ("4294967296", 4294967296, "long long"),
    ("0x100000000", 0x100000000, "long long"),
    ("1UL", 1, "unsigned long"),
])
def test_literal_types_ilp32(l32, text, value, ctype):
    v = l32.eval_expr(text)
    assert (v.v, v.ctype.name) == (value, ctype)


@pytest.mark.parametrize("bad", ["08", "1lL", "1uu", "1lll", "0x", "18446744073709551616"])
def test_bad_literals(l64, bad):
    with pytest.raises(LayoutError):
        l64.eval_expr(bad)


@pytest.mark.parametrize("text, value, ctype", [
    ("-1 >> 1", 0xffffffff, "int"),                         # arithmetic shift of a negative int
    ("-1 >> 31", 0xffffffff, "int"),
    ("0x80000000 >> 31", 1, "unsigned int"),
    ("(unsigned long long)~0", 2 ** 64 - 1, "unsigned long long"),   # ~0 is int -1, sign-extends
    ("(unsigned long long)~0u", 0xffffffff, "unsigned long long"),   # unsigned int zero-extends
    ("(unsigned long)(int)-1", 2 ** 64 - 1, "unsigned long"),
    ("(long long)(int)0x80000000", 0xffffffff80000000, "long long"),
    ("(int)0x80000000", 0x80000000, "int"),
    ("-1 < 0u", 0, "int"),                                   # -1 converts to UINT_MAX
    ("-1L < 0u", 1, "int"),                                  # LP64: long holds every unsigned int
    ("(unsigned char)255 + 1", 256, "int"),                  # promotion to int
    ("(unsigned short)65535 * (unsigned short)65535", 0xfffe0001, "int"),  # int, wraps (-fwrapv)
    ("(char)-1", 255, "char"),                               # the kernel's char is unsigned
    ("(signed char)-1 == -1", 1, "int"),
    ("(_Bool)4", 1, "_Bool"),
    ("1 << 31", 0x80000000, "int"),
    ("1UL << 63", 2 ** 63, "unsigned long"),
    ("(u8)1 << 8", 256, "int"),                              # the left operand is promoted first
    ("1 << 2UL", 4, "int"),                                  # result has the left operand's type
    ("!5", 0, "int"), ("!0", 1, "int"), ("!0UL", 1, "int"),
    ("3 && 0", 0, "int"), ("0 || 7", 1, "int"), ("2 == 2UL", 1, "int"),
    ("2 > 1 ? 10 : 20u", 10, "unsigned int"),                # ?: uses the usual conversions
    ("-7 / 2", 0xfffffffd, "int"), ("-7 % 2", 0xffffffff, "int"),   # truncation toward zero
    ("7 / -2", 0xfffffffd, "int"),
    ("-7 / 2u", (2 ** 32 - 7) // 2, "unsigned int"),
    ("~0UL ^ 1", 2 ** 64 - 2, "unsigned long"),
    ("+(u16)3", 3, "int"),
    ("-(1u)", 0xffffffff, "unsigned int"),
    ("0 ? 1 << 40 : 3", 3, "int"),                           # the branch not taken is not evaluated
    ("0 && (1 << 40)", 0, "int"),
    ("1 || (1 / 0)", 1, "int"),
    ("sizeof(unsigned long)", 8, "unsigned long"),
    ("sizeof(pte_t)", 8, "unsigned long"),
    ("sizeof 1", 4, "unsigned long"),
    ("((pte_t){ .pte = 5 }).pte", 5, "unsigned long"),
    ("((pte_t){ 7 }).anything", 7, "unsigned long"),         # one-member struct: any member name
    ("((pteval_t) { 3 })", 3, "unsigned long"),              # scalar compound literal
    ("((pae_t){ 1, 2 }).pte", 0x200000001, "unsigned long long"),
    ("((pae_t){ .high = 2 }).high", 2, "unsigned int"),
    ("((pae_t){ .pte = 0x300000004ULL }).low", 4, "unsigned int"),
    ("_AT(u64, -1)", 2 ** 64 - 1, "unsigned long long"),    # a macro parameter as a type name
    ("_AC(1, UL) << 40", 2 ** 40, "unsigned long"),          # ## pastes the literal suffix
    ("PASTE(0x, 10)", 16, "int"),
    ("member_named_like_param(__pte(4))", 5, "unsigned long"),  # '.pte' is not the parameter
    ("typed_ret(0x1ff)", 0xff, "unsigned long"),             # typed parameter: converted to u8
    ("-1L < 0u", 1, "int"),
])
def test_c_semantics_lp64(l64, text, value, ctype):
    assert ev(l64, text) == (value, ctype)


@pytest.mark.parametrize("text, value, ctype", [
    ("-1L < 0u", 0, "int"),                                  # ILP32: both become unsigned long
    ("(unsigned long)-1", 0xffffffff, "unsigned long"),
    ("0xffffffffUL + 1", 0, "unsigned long"),
    ("(unsigned long long)-1L", 2 ** 64 - 1, "unsigned long long"),
    ("sizeof(long)", 4, "unsigned long"),
])
def test_c_semantics_ilp32(l32, text, value, ctype):
    v = l32.eval_expr(text)
    assert (v.v, v.ctype.name) == (value, ctype)


@pytest.mark.parametrize("text", ["1 << 32", "1 << -1", "1UL << 64", "1u >> 32", "1 / 0", "5 % 0",
                                  "(-2147483647 - 1) / -1", "1 ? 1 << 40 : 0"])
def test_undefined_behaviour_concrete(l64, text):
    with pytest.raises(UndefinedBehaviour):
        l64.eval_expr(text)


def test_undefined_behaviour_symbolic(l64):
    """A shift count that depends on an input is recorded as a UB condition, not given a value."""
    n = z3.BitVec("n", 64)
    val = l64.eval_expr("1UL << n", Z3Backend(), {"n": Value(l64.ulong, n)})
    assert val.ub, "UB condition not recorded"
    cond = val.ub[0][0]
    s = z3.Solver()
    s.add(cond, n == 64)
    assert s.check() == z3.sat
    s = z3.Solver()
    s.add(cond, z3.ULT(n, 64))
    assert s.check() == z3.unsat
    # guarded by the path: no UB where the branch is not taken
    val = l64.eval_expr("n < 64 ? 1UL << n : 0", Z3Backend(), {"n": Value(l64.ulong, n)})
    s = z3.Solver()
    s.add(z3.Or(*[c for c, _ in val.ub]))
    assert s.check() == z3.unsat


def test_struct_misuse_is_an_error(l64):
    with pytest.raises(LayoutError, match="struct"):
        l64.eval_expr("__pte(1) + 1")
    with pytest.raises(LayoutError, match="not a struct"):
        l64.eval_expr("(1).val")
    with pytest.raises(LayoutError, match="cannot convert"):
        l64.eval_expr("(unsigned long)__pte(1)")


def test_expression_error_columns(l64):
    with pytest.raises(LayoutError) as e:
        l64.eval_expr("1 + nope")
    assert e.value.column == 5 and "unknown name 'nope'" in str(e.value)
    with pytest.raises(LayoutError) as e:
        l64.eval_expr("(1 + 2")
    assert "expected ')'" in str(e.value)
    with pytest.raises(LayoutError) as e:
        l64.eval_expr("_AT(u64)")
    assert "takes 2 argument(s), given 1" in str(e.value)
