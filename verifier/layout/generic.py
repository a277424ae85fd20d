"""The generic swap-entry layer above the arch encoding: PFN swap entries and migration A/D bits
(include/linux/swapops.h and leafops.h, mm/swapfile.c), and empty entries with hardware-set bits.

What the kernel builds on the arch macros (read in linux-mm/linux-mm):

    SWP_PFN_BITS    = MAX_PHYSMEM_BITS - PAGE_SHIFT          (where the arch defines MAX_PHYSMEM_BITS)
                    = min(sizeof(phys_addr_t) * 8 - PAGE_SHIFT, SWP_TYPE_SHIFT)   (otherwise)
    PFN swap entries (device-private read/write, migration read/read-exclusive/write, hwpoison)
                    take the top swap types; their offset is the PFN, below 2^SWP_PFN_BITS
    SWP_MIG_YOUNG_BIT = SWP_PFN_BITS, SWP_MIG_DIRTY_BIT = SWP_PFN_BITS + 1
    migration_entry_supports_ad() = swapfile_maximum_size >= 2^(SWP_PFN_BITS + 2)
                    (swapfile_maximum_size = arch_max_swapfile_size(), by default
                    generic_max_swapfile_size())

The existing properties range over the offsets of real swap devices, which the kernel caps at
UINT_MAX pages; PFN swap entries are not capped so: a PFN field one bit short, or a migration A/D
bit on a bit pte_present() reads, proves clean there. These properties range over the PFN entries.
"""

from __future__ import annotations

from .cexpr import Value
from .errors import LayoutError

GENERIC_PROPERTIES = ("pfn_round_trip", "migration_ad_bits", "empty_reads_none")

# Swap types the PFN entries take with every option on (include/linux/swap.h, 2026 mm tree):
# SWP_DEVICE_NUM 2 (device-private read, write), SWP_MIGRATION_NUM 3 (read, read-exclusive,
# write), SWP_HWPOISON_NUM 1, SWP_PTE_MARKER_NUM 1 (a marker, not a PFN entry, but a top type).
TOP_TYPES = 2 + 3 + 1 + 1


def pfn_bits(layout) -> tuple[int | None, str]:
    """SWP_PFN_BITS and where it comes from; None when the layout states no PAGE_SHIFT."""
    if layout.page_shift is None:
        return None, "the layout states no page_shift"
    if layout.max_physmem_bits is not None:
        return (layout.max_physmem_bits - layout.page_shift,
                f"MAX_PHYSMEM_BITS {layout.max_physmem_bits} - PAGE_SHIFT {layout.page_shift}")
    type_shift = layout.long_bits - 1 - layout.max_swapfiles_shift
    phys = layout.phys_addr_bits or layout.long_bits
    bits = min(phys - layout.page_shift, type_shift)
    return bits, (f"min(phys_addr_t bits {phys} - PAGE_SHIFT {layout.page_shift}, SWP_TYPE_SHIFT "
                  f"{type_shift}) (no MAX_PHYSMEM_BITS)")


def pfn_types(layout) -> int:
    """The first swap type of the PFN entries (MAX_SWAPFILES)."""
    return (1 << layout.max_swapfiles_shift) - TOP_TYPES


def _pfn_entry_obligations(sem, inp, first_type: int, what: str):
    """For every top type and every offset of the domain, any swp flags: the entry round-trips
    and the PTE reads neither present nor none (no UINT_MAX exception: PFN entries are not
    swap-device offsets), and no must_be_zero bit is set."""
    from .prover import _bits_value
    be = sem.be
    top = be.not_(be.ult(inp.t, be.const(first_type, 32)))
    pte = sem.with_flags(sem.encode(inp.type_value, inp.offset_value), inp.flags)
    ktype, koff = sem.decode(pte)
    out = [
        (f"{what}: type reads back wrong", be.implies(top, be.eq(ktype, inp.t))),
        (f"{what}: offset reads back wrong", be.implies(top, be.eq(koff, inp.o))),
        (f"{what}: the swap PTE reads present (pte_present)", be.implies(top, be.not_(sem.present(pte)))),
        (f"{what}: the swap PTE reads none (pte_none)", be.implies(top, be.not_(sem.none(pte)))),
    ]
    for f in sem.flags():
        out.append((f"{what}: {f} reads back wrong", be.implies(top, be.iff(sem.test(f, pte), inp.flags[f]))))
    mbz = _bits_value(sem, "must_be_zero")
    if mbz is not None:
        bits = sem.pte_storage.bits
        out.append((f"{what}: a must_be_zero bit is set", be.implies(top, be.eq(be.band(pte.v, mbz, bits), be.const(0, bits)))))
    if "__swp_entry_to_pmd" in sem.L.macros:
        pmd = sem.pmd_with_flags(sem.encode_pmd(inp.type_value, inp.offset_value), inp.pmd_flags)
        pt, po = sem.decode(pmd, pmd=True)
        out += [(f"{what} (PMD): type reads back wrong", be.implies(top, be.eq(pt, inp.t))),
                (f"{what} (PMD): offset reads back wrong", be.implies(top, be.eq(po, inp.o)))]
        if "pmd_present" in sem.L.macros:
            out.append((f"{what} (PMD): the swap PMD reads present (pmd_present)",
                        be.implies(top, be.not_(sem.pmd_present(pmd)))))
        if "pmd_none" in sem.L.macros:
            out.append((f"{what} (PMD): the swap PMD reads none (pmd_none)",
                        be.implies(top, be.not_(sem.pmd_none(pmd)))))
    return out


def obligations_pfn_round_trip(first_type: int):
    def build(sem, inp):
        return _pfn_entry_obligations(sem, inp, first_type, "PFN swap entry")
    return build


def obligations_migration_ad(first_type: int):
    def build(sem, inp):
        return _pfn_entry_obligations(sem, inp, first_type, "migration entry with A/D bits")
    return build


def obligations_empty_none(sem, inp):
    """An empty PTE (__pte(0)) and an empty PMD with any hardware_may_set bits read none."""
    from .prover import _bits_value
    be = sem.be
    out = []
    hw = _bits_value(sem, "hardware_may_set")
    bits = sem.pte_storage.bits
    h = be.band(inp.hw, hw, bits)
    out.append(("an empty PTE with hardware_may_set bits set reads non-none (pte_none)",
                sem.none(Value(sem.pte_t, h))))
    out.append(("an empty PTE with hardware_may_set bits set reads present (pte_present)",
                be.not_(sem.present(Value(sem.pte_t, h)))))
    phw = _pmd_bits(sem)
    if phw is not None and sem.pmd_t is not None and "pmd_none" in sem.L.macros:
        pbits = sem.pmd_storage.bits
        hp = be.trunc(inp.hw, bits, pbits) if pbits < bits else (be.zext(inp.hw, bits, pbits) if pbits > bits else inp.hw)
        ph = be.band(hp, phw, pbits)
        out.append(("an empty PMD with pmd_hardware_may_set bits set reads non-none (pmd_none)",
                    sem.pmd_none(Value(sem.pmd_t, ph))))
        if "pmd_present" in sem.L.macros:
            out.append(("an empty PMD with pmd_hardware_may_set bits set reads present (pmd_present)",
                        be.not_(sem.pmd_present(Value(sem.pmd_t, ph)))))
    return out


def _pmd_bits(sem):
    toks = sem.L.pmd_hardware_may_set
    if not toks:
        return None
    from .cexpr import convert
    val = sem.L.eval_tokens(sem.ctx, ("bits", "pmd_hardware_may_set"), toks, "[bits] pmd_hardware_may_set")
    return convert(sem.ctx, val, sem.pmd_storage, toks[0]).v


def prove_generic(layout, name: str, limit: int, deadline, check, skipped: list, exception: bool = True):
    """PropertyResult for one generic property, or None (appended to skipped) when not applicable."""
    pb, why = pfn_bits(layout)
    first = pfn_types(layout)
    types = 1 << layout.max_swapfiles_shift
    if name == "empty_reads_none":
        if layout.hardware_may_set is None:
            skipped.append((name, "no [bits] hardware_may_set declared"))
            return None
        pmd = (" and an empty PMD (__pmd(0)) with any pmd_hardware_may_set bits"
               if layout.pmd_hardware_may_set is not None and "pmd_none" in layout.macros else "")
        return check(layout, name, obligations_empty_none,
                     dict(offset_limit=1, type_limit=1, except_slot=False), deadline(),
                     f"an empty PTE (__pte(0)) with any hardware_may_set bits{pmd}")
    if pb is None:
        skipped.append((name, f"{why} (page_shift, max_physmem_bits)"))
        return None
    if pb < 1 or pb > layout.long_bits:
        raise LayoutError(f"SWP_PFN_BITS = {pb} ({why}) is out of range", field="max_physmem_bits")
    def pmd_flags(values):
        return {"pmd_flags": dict(values.get("pmd_flags", {}))} if values.get("pmd_flags") else {}

    if name == "pfn_round_trip":
        return check(layout, name, obligations_pfn_round_trip(first),
                     dict(offset_limit=1 << pb, type_limit=types, except_slot=False), deadline(),
                     f"types {first}-{types - 1} (PFN entries: device-private, migration, hwpoison), "
                     f"PFNs < 2^{pb} (SWP_PFN_BITS = {why}), any swp flags; no UINT_MAX exception: "
                     "a PFN is not a swap-device offset", pmd_flags)
    if name == "migration_ad_bits":
        total = pb + 2
        if limit < (1 << total):
            skipped.append((name, f"migration_entry_supports_ad() is false: the maximum swapfile size "
                                  f"2^{limit.bit_length() - 1} < 2^(SWP_PFN_BITS + 2) = 2^{total}"))
            return None
        return check(layout, name, obligations_migration_ad(first),
                     dict(offset_limit=1 << total, type_limit=types, except_slot=False), deadline(),
                     f"migration_entry_supports_ad(): SWP_MIG_YOUNG_BIT {pb}, SWP_MIG_DIRTY_BIT {pb + 1}; "
                     f"types {first}-{types - 1}, PFNs < 2^{pb} with either A/D bit, any swp flags", pmd_flags)
    raise LayoutError(f"unknown generic property '{name}'")
