"""The kernel's generic swap-entry code over a layout's macros, for either back end.

Mirrors include/linux/swapops.h and mm/swapfile.c (read in linux-mm/linux-mm and torvalds/linux):

    #define SWP_TYPE_SHIFT  (BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT)   // BITS_PER_XA_VALUE = BITS_PER_LONG - 1
    #define SWP_OFFSET_MASK ((1UL << SWP_TYPE_SHIFT) - 1)
    swp_entry(type, offset)  = (type << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK)
    swp_type(entry)          = (unsigned)(entry.val >> SWP_TYPE_SHIFT)
    swp_offset(entry)        = entry.val & SWP_OFFSET_MASK
    swp_entry_to_pte(entry)  = __swp_entry_to_pte(__swp_entry(swp_type(entry), swp_offset(entry)))
    pte_to_swp_entry(pte)    = pte = pte_swp_clear_flags(pte);   // clears each set swp flag
                               e = __pte_to_swp_entry(pte);
                               swp_entry(__swp_type(e), __swp_offset(e))
    generic_max_swapfile_size() = swp_offset(pte_to_swp_entry(swp_entry_to_pte(swp_entry(0, ~0UL)))) + 1

and for PMD swap (migration) entries, include/linux/leafops.h (linux-mm/linux-mm), formerly
pmd_to_swp_entry() in swapops.h:

    swp_entry_to_pmd(entry)  = __swp_entry_to_pmd(__swp_entry(swp_type(entry), swp_offset(entry)))
    softleaf_from_pmd(pmd)   = if (pmd_swp_soft_dirty(pmd)) pmd = pmd_swp_clear_soft_dirty(pmd);
                               if (pmd_swp_uffd(pmd)) pmd = pmd_swp_clear_uffd(pmd);
                               e = __pmd_to_swp_entry(pmd);
                               swp_entry(__swp_type(e), __swp_offset(e))
"""

from __future__ import annotations

from .backends import PY
from .cexpr import Value, convert, truth
from .errors import LayoutError, UndefinedBehaviour
from .model import FLAG_NAMES, PMD_DECODE_CLEARS, Layout


class Semantics:
    """Kernel operations on one layout with one back end. Values passed around are cexpr.Value
    (C type + bit pattern); booleans are back-end booleans."""

    def __init__(self, layout: Layout, backend, symbols: dict | None = None):
        """symbols: plain values of the file's [symbols] (plain back end only; by default each
        symbol's smallest allowed value). On the symbolic back end each symbol is a free variable,
        constrained by symbol_constraint()."""
        self.L = layout
        self.be = backend
        self.symbols = layout.symbol_values(backend, symbols)
        self.ctx = layout.context(backend, self.symbols)
        self.pte_t = layout.value_type("pte_t")
        self.swp_t = layout.value_type("swp_entry_t")
        self.pmd_t = layout.value_type("pmd_t")
        self.pte_storage = self.pte_t.storage if self.pte_t.is_struct else self.pte_t
        self.pmd_storage = None
        if self.pmd_t is not None:
            self.pmd_storage = self.pmd_t.storage if self.pmd_t.is_struct else self.pmd_t
        lb = layout.long_bits
        self.type_shift = lb - 1 - layout.max_swapfiles_shift       # SWP_TYPE_SHIFT
        self.offset_mask = (1 << self.type_shift) - 1               # SWP_OFFSET_MASK
        self._masks: dict = {}

    def symbol_constraint(self):
        return self.L.symbol_constraint(self.be, self.symbols)

    def symbol_plain_values(self) -> dict:
        return {n: v.v for n, v in self.symbols.items()}

    # --- helpers ------------------------------------------------------------------------------

    def _expect(self, val: Value, want, macro: str) -> Value:
        """The macro's result stored in a variable of type want (a struct must match; an integer
        converts as C assignment does)."""
        if val.ctype == want:
            return val
        m = self.L.macros.get(macro)
        if want.is_struct or val.ctype.is_struct:
            raise self.L.located(LayoutError(f"'{macro}' gives a value of type '{val.ctype}', expected '{want}'",
                                             field=m.field if m else None, column=1))
        return convert(self.ctx, val, want, m.body[0])

    def call(self, macro: str, *args: Value) -> Value:
        return self.L.call(self.ctx, macro, *args)

    def ulong(self, v) -> Value:
        return Value(self.L.ulong, v)

    def uint(self, v) -> Value:
        return Value(self.L.uint, v)

    def to_ulong(self, val: Value, macro: str) -> Value:
        tok = self.L.macros[macro].body[0]
        try:
            return convert(self.ctx, val, self.L.ulong, tok)
        except LayoutError:
            raise self.L.located(LayoutError(f"'{macro}' gives '{val.ctype}', not an integer",
                                             field=tok.field, column=1))

    def truth(self, val: Value, macro: str):
        tok = self.L.macros[macro].body[0] if macro in self.L.macros else None
        if val.ctype.is_struct:
            raise self.L.located(LayoutError(f"'{macro}' gives a struct '{val.ctype}', not a truth value",
                                             field=tok.field if tok else None, column=1))
        return truth(self.ctx, val, tok, macro)

    def ite(self, c, a: Value, b: Value) -> Value:
        return Value(a.ctype, self.be.ite(c, a.v, b.v))

    # --- arch macros ----------------------------------------------------------------------------

    def arch_entry(self, t: Value, o: Value) -> Value:
        """__swp_entry(type, offset), type as the kernel passes it (unsigned int, from swp_type())
        and offset as pgoff_t (unsigned long)."""
        return self._expect(self.call("__swp_entry", t, o), self.swp_t, "__swp_entry")

    def encode(self, t: Value, o: Value) -> Value:
        """swp_entry_to_pte(swp_entry(t, o)) for t, o in the generic entry's range."""
        e = self.arch_entry(t, o)
        return self._expect(self.call("__swp_entry_to_pte", e), self.pte_t, "__swp_entry_to_pte")

    def encode_pmd(self, t: Value, o: Value) -> Value:
        e = self.arch_entry(t, o)
        return self._expect(self.call("__swp_entry_to_pmd", e), self.pmd_t, "__swp_entry_to_pmd")

    def decode_arch(self, pte: Value, pmd: bool = False, clear_flags: bool = True):
        """(__swp_type(e), __swp_offset(e)) as unsigned long, e = __pte_to_swp_entry(pte) after
        pte_swp_clear_flags() (PMD: __pmd_to_swp_entry(pmd) after clearing soft-dirty and uffd-wp,
        as softleaf_from_pmd() does)."""
        if pmd:
            if clear_flags:
                pte = self.pmd_clear_decode_flags(pte)
            e = self._expect(self.call("__pmd_to_swp_entry", pte), self.swp_t, "__pmd_to_swp_entry")
        else:
            if clear_flags:
                pte = self.clear_flags(pte)
            e = self._expect(self.call("__pte_to_swp_entry", pte), self.swp_t, "__pte_to_swp_entry")
        ty = self.to_ulong(self.call("__swp_type", e), "__swp_type")
        off = self.to_ulong(self.call("__swp_offset", e), "__swp_offset")
        return ty, off

    def generic_entry(self, ty: Value, off: Value):
        """swp_entry(ty, off) then (swp_type, swp_offset): what the kernel keeps of a decode."""
        be, lb, s = self.be, self.L.long_bits, self.type_shift
        val = be.bor(be.shl(ty.v, s, lb), be.band(off.v, be.const(self.offset_mask, lb), lb), lb)
        ktype = be.trunc(be.lshr(val, s, lb), lb, 32) if lb > 32 else be.lshr(val, s, lb)
        koff = be.band(val, be.const(self.offset_mask, lb), lb)
        return ktype, koff

    def decode(self, pte: Value, pmd: bool = False):
        """pte_to_swp_entry(pte) as (swp_type, swp_offset): unsigned int and unsigned long bits."""
        return self.generic_entry(*self.decode_arch(pte, pmd=pmd))

    def present(self, pte: Value):
        return self.truth(self.call("pte_present", pte), "pte_present")

    def none(self, pte: Value):
        return self.truth(self.call("pte_none", pte), "pte_none")

    def pmd_present(self, pmd: Value):
        return self.truth(self.call("pmd_present", pmd), "pmd_present")

    def pmd_none(self, pmd: Value):
        return self.truth(self.call("pmd_none", pmd), "pmd_none")

    # --- swp flags ------------------------------------------------------------------------------

    def flag_mask(self, flag: str) -> Value:
        """The flag's mask converted to the PTE's storage type, as `pte_val(pte) | mask` does."""
        if flag not in self._masks:
            toks = self.L.flags[flag]
            field = f"[flags] {flag}"
            val = self.L.eval_tokens(self.ctx, ("flag", flag), toks, field)
            if val.ctype.is_struct:
                raise self.L.located(LayoutError(f"the mask has struct type '{val.ctype}'", field=field, column=1))
            self._masks[flag] = convert(self.ctx, val, self.pte_storage, toks[0])
        return self._masks[flag]

    def mk(self, flag: str, pte: Value) -> Value:
        name = f"pte_swp_mk{flag}"
        if name in self.L.macros:
            return self._expect(self.call(name, pte), self.pte_t, name)
        m = self.flag_mask(flag)
        return Value(self.pte_t, self.be.bor(pte.v, m.v, self.pte_storage.bits))

    def clear(self, flag: str, pte: Value) -> Value:
        name = f"pte_swp_clear_{flag}"
        if name in self.L.macros:
            return self._expect(self.call(name, pte), self.pte_t, name)
        m = self.flag_mask(flag)
        bits = self.pte_storage.bits
        return Value(self.pte_t, self.be.band(pte.v, self.be.inv(m.v, bits), bits))

    def test(self, flag: str, pte: Value):
        name = f"pte_swp_{flag}"
        if name in self.L.macros:
            return self.truth(self.call(name, pte), name)
        m = self.flag_mask(flag)
        bits = self.pte_storage.bits
        return self.be.not_(self.be.eq(self.be.band(pte.v, m.v, bits), self.be.const(0, bits)))

    def clear_flags(self, pte: Value) -> Value:
        """pte_swp_clear_flags(): if (pte_swp_X(pte)) pte = pte_swp_clear_X(pte); for each flag."""
        for f in self.flags():
            pte = self.ite(self.test(f, pte), self.clear(f, pte), pte)
        return pte

    def flags(self) -> list[str]:
        return [f for f in FLAG_NAMES if f in self.L.flags]

    def with_flags(self, pte: Value, setting: dict) -> Value:
        """The PTE with each flag set where setting[flag] holds (back-end booleans)."""
        for f in self.flags():
            pte = self.ite(setting[f], self.mk(f, pte), pte)
        return pte

    # --- PMD swp flags --------------------------------------------------------------------------

    def pmd_flags(self) -> list[str]:
        return [f for f in FLAG_NAMES if f in self.L.pmd_flags]

    def pmd_flag_mask(self, flag: str) -> Value:
        key = ("pmd", flag)
        if key not in self._masks:
            toks = self.L.pmd_flags[flag]
            field = f"[pmd_flags] {flag}"
            val = self.L.eval_tokens(self.ctx, ("pmd_flag", flag), toks, field)
            if val.ctype.is_struct:
                raise self.L.located(LayoutError(f"the mask has struct type '{val.ctype}'", field=field, column=1))
            self._masks[key] = convert(self.ctx, val, self.pmd_storage, toks[0])
        return self._masks[key]

    def pmd_mk(self, flag: str, pmd: Value) -> Value:
        name = f"pmd_swp_mk{flag}"
        if name in self.L.macros:
            return self._expect(self.call(name, pmd), self.pmd_t, name)
        m = self.pmd_flag_mask(flag)
        return Value(self.pmd_t, self.be.bor(pmd.v, m.v, self.pmd_storage.bits))

    def pmd_clear(self, flag: str, pmd: Value) -> Value:
        name = f"pmd_swp_clear_{flag}"
        if name in self.L.macros:
            return self._expect(self.call(name, pmd), self.pmd_t, name)
        m = self.pmd_flag_mask(flag)
        bits = self.pmd_storage.bits
        return Value(self.pmd_t, self.be.band(pmd.v, self.be.inv(m.v, bits), bits))

    def pmd_test(self, flag: str, pmd: Value):
        name = f"pmd_swp_{flag}"
        if name in self.L.macros:
            return self.truth(self.call(name, pmd), name)
        m = self.pmd_flag_mask(flag)
        bits = self.pmd_storage.bits
        return self.be.not_(self.be.eq(self.be.band(pmd.v, m.v, bits), self.be.const(0, bits)))

    def pmd_clear_decode_flags(self, pmd: Value) -> Value:
        """What softleaf_from_pmd() clears before __pmd_to_swp_entry(): soft-dirty, uffd-wp."""
        for f in self.pmd_flags():
            if f in PMD_DECODE_CLEARS:
                pmd = self.ite(self.pmd_test(f, pmd), self.pmd_clear(f, pmd), pmd)
        return pmd

    def pmd_with_flags(self, pmd: Value, setting: dict) -> Value:
        for f in self.pmd_flags():
            pmd = self.ite(setting[f], self.pmd_mk(f, pmd), pmd)
        return pmd

    # --- plain values -----------------------------------------------------------------------------

    def kernel_max_offset(self) -> int:
        """generic_max_swapfile_size(): one past the largest offset that survives the round trip
        of swp_entry(0, ~0UL) (computed with plain evaluation)."""
        assert not self.be.symbolic
        t = self.uint(0)
        o = self.ulong(self.offset_mask)          # swp_entry(0, ~0UL) keeps SWP_OFFSET_MASK
        _, koff = self.decode(self.encode(t, o))
        return (koff + 1) & ((1 << self.L.long_bits) - 1)

    def value_bits(self, val: Value) -> int:
        return val.v


def smoke_check(layout: Layout) -> None:
    """Runs every macro the prover uses once with plain values, so that type errors (a struct where
    an integer belongs, a wrong member) surface when the file is loaded. Undefined behaviour is
    left to the prover, which reports it as a disproof with the values that reach it."""
    sem = Semantics(layout, PY)
    try:
        for f in sem.flags():
            sem.flag_mask(f)
        t, o = sem.uint(1), sem.ulong(1)
        pte = sem.encode(t, o)
        sem.decode(pte)
        sem.present(pte)
        sem.none(pte)
        for f in sem.flags():
            sem.test(f, sem.mk(f, pte))
            sem.clear(f, pte)
        if "__swp_entry_to_pmd" in layout.macros:
            pmd = sem.encode_pmd(t, o)
            for f in sem.pmd_flags():
                sem.pmd_flag_mask(f)
                sem.pmd_test(f, sem.pmd_mk(f, pmd))
                sem.pmd_clear(f, pmd)
            sem.decode(pmd, pmd=True)
            if "pmd_present" in layout.macros:
                sem.pmd_present(pmd)
            if "pmd_none" in layout.macros:
                sem.pmd_none(pmd)
        for key in ("must_be_zero", "hardware_may_set"):
            toks = getattr(layout, key)
            if toks:
                val = layout.eval_tokens(sem.ctx, ("bits", key), toks, f"[bits] {key}")
                if val.ctype.is_struct:
                    raise LayoutError(f"has struct type '{val.ctype}'", field=f"[bits] {key}", column=1)
    except UndefinedBehaviour:
        pass
