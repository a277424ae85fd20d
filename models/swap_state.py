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
