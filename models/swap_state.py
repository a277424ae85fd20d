"""mm/swap_state.c and mm/page_io.c: reading a swap slot into a folio in the swap cache
(__read_swap_cache_async() / swap_read_folio()), shared by do_swap_page, unuse_pte and shmem.
"""

from __future__ import annotations


from .mm import GARBAGE


def read_slot(mm, s) -> tuple[str, bool]:
    """swap_readpage(): what the read brings in, and whether it succeeded (PG_uptodate)."""
    if mm.swp_bad:
        return GARBAGE, False
    return getattr(s, mm.swp_data), True


def read_into_swap_cache(mm, s, d: dict) -> str:
    """__read_swap_cache_async() on a miss: a fresh folio enters the swap cache (SWAP_HAS_CACHE; one
    reference for the cache, one for the caller) and swap_readpage() fills it. Returns the folio."""
    data, ok = read_slot(mm, s)
    fid = mm.alloc_folio(s, d, ref=2, swapcache=True, data=data, uptodate=ok)
    d[mm.swp_has_cache] = True
    d[mm.swp_cache] = fid
    return fid


def swap_read_folio(mm, s, d: dict, nr: int = 1, zswap_form: str = "mainline-2026") -> tuple[str, bool, bool]:
    """mm/page_io.c:swap_read_folio() of a folio of `nr` pages from this view's slot (slot 0 of the
    range for a large folio): zswap_load() first where the scenario models per-slot zswap entries
    (models/zswap.py), else the device. Returns (data, uptodate, dirty). A large folio's content is
    ORIGINAL only when every page read it (the device copies of all its slots)."""
    from .zswap import zswap_load
    loaded = zswap_load(mm, s, d, nr, zswap_form)
    if loaded is not None:
        return loaded
    if nr == 1:
        data, ok = read_slot(mm, s)
        return data, ok, False
    base = mm.base
    pages = [mm.v(s, d, base.slot_f[i][3]) for i in range(nr)]
    data, ok = read_slot(mm, s)
    if not ok:
        return data, ok, False
    return (pages[0] if all(p == pages[0] for p in pages) else GARBAGE), True, False
