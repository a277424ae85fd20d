"""Two back ends over the same interpreter: plain Python integers and Z3 bit-vector terms.

A value is a bit pattern of a given width: a Python int in [0, 2**bits) or a Z3 BitVecRef of that
width. Signedness lives in the C type, not in the value, and each operation that cares (division,
right shift, comparison, widening) has a signed and an unsigned form, as in SMT-LIB. The Python
back end is written independently of Z3 so that the Hypothesis cross-check compares two
implementations, not one.
"""

from __future__ import annotations

import z3


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


class PyBackend:
    """Concrete evaluation. Booleans are Python bools."""

    symbolic = False

    def const(self, v: int, bits: int) -> int:
        return v & _mask(bits)

    def concrete(self, v, bits: int):
        return v

    def concrete_bool(self, c):
        return c

    def add(self, a, b, bits): return (a + b) & _mask(bits)
    def sub(self, a, b, bits): return (a - b) & _mask(bits)
    def mul(self, a, b, bits): return (a * b) & _mask(bits)
    def neg(self, a, bits): return (-a) & _mask(bits)
    def inv(self, a, bits): return ~a & _mask(bits)
    def band(self, a, b, bits): return a & b
    def bor(self, a, b, bits): return a | b
    def bxor(self, a, b, bits): return a ^ b

    def shl(self, a, n: int, bits): return (a << n) & _mask(bits)
    def lshr(self, a, n: int, bits): return a >> n
    def ashr(self, a, n: int, bits): return (_signed(a, bits) >> n) & _mask(bits)

    def shl_var(self, a, n, bits): return self.shl(a, n, bits) if n < bits else 0
    def lshr_var(self, a, n, bits): return self.lshr(a, n, bits) if n < bits else 0
    def ashr_var(self, a, n, bits): return self.ashr(a, min(n, bits - 1), bits)

    def udiv(self, a, b, bits): return a // b if b else _mask(bits)
    def urem(self, a, b, bits): return a % b if b else a

    def sdiv(self, a, b, bits):
        sa, sb = _signed(a, bits), _signed(b, bits)
        if sb == 0:
            return _mask(bits) if sa >= 0 else 1
        q = abs(sa) // abs(sb)
        return (q if (sa < 0) == (sb < 0) else -q) & _mask(bits)

    def srem(self, a, b, bits):
        sa, sb = _signed(a, bits), _signed(b, bits)
        if sb == 0:
            return a
        r = abs(sa) % abs(sb)
        return (r if sa >= 0 else -r) & _mask(bits)

    def eq(self, a, b): return a == b
    def ult(self, a, b): return a < b
    def ule(self, a, b): return a <= b

    def slt(self, a, b, bits): return _signed(a, bits) < _signed(b, bits)
    def sle(self, a, b, bits): return _signed(a, bits) <= _signed(b, bits)

    def zext(self, a, frm, to): return a
    def sext(self, a, frm, to): return _signed(a, frm) & _mask(to)
    def trunc(self, a, frm, to): return a & _mask(to)
    def extract(self, a, lo, bits): return (a >> lo) & _mask(bits)

    def ite(self, c, a, b): return a if c else b
    def b2bv(self, c, bits): return 1 if c else 0

    def true(self): return True
    def false(self): return False
    def and_(self, *cs): return all(cs)
    def or_(self, *cs): return any(cs)
    def not_(self, c): return not c
    def implies(self, a, b): return (not a) or b
    def iff(self, a, b): return bool(a) == bool(b)


class Z3Backend:
    """Z3 terms; operations on two constants fold to a constant so that shift counts and
    widths computed from the file's constants stay plain numbers."""

    symbolic = True

    def __init__(self):
        self._py = PyBackend()

    def const(self, v: int, bits: int):
        return z3.BitVecVal(v & _mask(bits), bits)

    def concrete(self, v, bits: int):
        if z3.is_bv_value(v):
            return v.as_long()
        s = z3.simplify(v)
        return s.as_long() if z3.is_bv_value(s) else None

    def concrete_bool(self, c):
        if z3.is_true(c):
            return True
        if z3.is_false(c):
            return False
        s = z3.simplify(c)
        if z3.is_true(s):
            return True
        if z3.is_false(s):
            return False
        return None

    def _fold2(self, name, a, b, bits, op):
        if z3.is_bv_value(a) and z3.is_bv_value(b):
            return z3.BitVecVal(getattr(self._py, name)(a.as_long(), b.as_long(), bits), bits)
        return op(a, b)

    def add(self, a, b, bits): return self._fold2("add", a, b, bits, lambda x, y: x + y)
    def sub(self, a, b, bits): return self._fold2("sub", a, b, bits, lambda x, y: x - y)
    def mul(self, a, b, bits): return self._fold2("mul", a, b, bits, lambda x, y: x * y)
    def band(self, a, b, bits): return self._fold2("band", a, b, bits, lambda x, y: x & y)
    def bor(self, a, b, bits): return self._fold2("bor", a, b, bits, lambda x, y: x | y)
    def bxor(self, a, b, bits): return self._fold2("bxor", a, b, bits, lambda x, y: x ^ y)
    def udiv(self, a, b, bits): return self._fold2("udiv", a, b, bits, z3.UDiv)
    def urem(self, a, b, bits): return self._fold2("urem", a, b, bits, z3.URem)
    def sdiv(self, a, b, bits): return self._fold2("sdiv", a, b, bits, lambda x, y: x / y)
    def srem(self, a, b, bits): return self._fold2("srem", a, b, bits, z3.SRem)

    def neg(self, a, bits):
        return self.const(self._py.neg(a.as_long(), bits), bits) if z3.is_bv_value(a) else -a

    def inv(self, a, bits):
        return self.const(self._py.inv(a.as_long(), bits), bits) if z3.is_bv_value(a) else ~a

    def shl(self, a, n: int, bits):
        if z3.is_bv_value(a):
            return self.const(self._py.shl(a.as_long(), n, bits), bits)
        return a << n if n else a

    def lshr(self, a, n: int, bits):
        if z3.is_bv_value(a):
            return self.const(self._py.lshr(a.as_long(), n, bits), bits)
        return z3.LShR(a, n) if n else a

    def ashr(self, a, n: int, bits):
        if z3.is_bv_value(a):
            return self.const(self._py.ashr(a.as_long(), n, bits), bits)
        return a >> n if n else a

    # Shift counts that are terms (rare: a layout's shift counts are constants). SMT-LIB gives a
    # value for counts >= width; the interpreter records those counts as undefined behaviour.
    def shl_var(self, a, n, bits): return a << n
    def lshr_var(self, a, n, bits): return z3.LShR(a, n)
    def ashr_var(self, a, n, bits): return a >> n

    def eq(self, a, b):
        if z3.is_bv_value(a) and z3.is_bv_value(b):
            return z3.BoolVal(a.as_long() == b.as_long())
        return a == b

    def ult(self, a, b): return z3.ULT(a, b)
    def ule(self, a, b): return z3.ULE(a, b)
    def slt(self, a, b, bits): return a < b
    def sle(self, a, b, bits): return a <= b

    def zext(self, a, frm, to):
        if z3.is_bv_value(a):
            return z3.BitVecVal(a.as_long(), to)
        return z3.ZeroExt(to - frm, a)

    def sext(self, a, frm, to):
        if z3.is_bv_value(a):
            return z3.BitVecVal(self._py.sext(a.as_long(), frm, to), to)
        return z3.SignExt(to - frm, a)

    def trunc(self, a, frm, to):
        if z3.is_bv_value(a):
            return z3.BitVecVal(a.as_long() & _mask(to), to)
        return z3.Extract(to - 1, 0, a)

    def extract(self, a, lo, bits):
        if z3.is_bv_value(a):
            return z3.BitVecVal((a.as_long() >> lo) & _mask(bits), bits)
        return z3.Extract(lo + bits - 1, lo, a)

    def ite(self, c, a, b):
        if z3.is_true(c):
            return a
        if z3.is_false(c):
            return b
        return z3.If(c, a, b)

    def b2bv(self, c, bits):
        return self.ite(c, z3.BitVecVal(1, bits), z3.BitVecVal(0, bits))

    def true(self): return z3.BoolVal(True)
    def false(self): return z3.BoolVal(False)

    def and_(self, *cs):
        cs = [c for c in cs if not z3.is_true(c)]
        if any(z3.is_false(c) for c in cs):
            return z3.BoolVal(False)
        return cs[0] if len(cs) == 1 else (z3.And(*cs) if cs else z3.BoolVal(True))

    def or_(self, *cs):
        cs = [c for c in cs if not z3.is_false(c)]
        if any(z3.is_true(c) for c in cs):
            return z3.BoolVal(True)
        return cs[0] if len(cs) == 1 else (z3.Or(*cs) if cs else z3.BoolVal(False))

    def not_(self, c):
        if z3.is_true(c):
            return z3.BoolVal(False)
        if z3.is_false(c):
            return z3.BoolVal(True)
        return z3.Not(c)

    def implies(self, a, b): return self.or_(self.not_(a), b)

    def iff(self, a, b):
        if z3.is_true(b):
            return a
        if z3.is_false(b):
            return self.not_(a)
        return a == b


PY = PyBackend()
