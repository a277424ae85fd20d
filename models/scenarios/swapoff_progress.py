"""swapoff's try_to_unuse() retry loop as a progress property.

* `swapoff_progress`: swapoff(2) walks a page table holding one swap PTE with the swp soft-dirty bit
  set (the process sleeps and does not touch the page) and retries while the device is in use. With
  179ef71cbc08's maybe_same_pte() on a CONFIG_HAVE_ARCH_SOFT_DIRTY=y, CONFIG_MEM_SOFT_DIRTY=n kernel
  (x86_64 at the time), unuse_pte() never matches the PTE, the slot stays in use and try_to_unuse()
  goes round forever (Martin Schwidefsky, linux-mm, September 2015: "Due to this a 'swapoff -a' will
  hang"); pte_same_as_swp() (Hugh Dickins' fix: clear the swp soft-dirty bit before comparing, for
  any config) lets swapoff finish.
"""

from __future__ import annotations

from pteverify.model import Knob, Model, builder

from ..invariants import final_nothing_leaked, final_swapoff_leaves_no_swap_reference
from ..mm import MM, ORIGINAL, pte_swap
from ..swapfile import emit_try_to_unuse
from .anon_exclusive import _kernel

K_MATCH = Knob("swapoff.pte_match", "pte_same_as_swp",
               "how unuse_pte() compares the PTE with swp_entry_to_pte(entry): pte_same_as_swp (the swp "
               "flag bits cleared first) or maybe_same_pte-nosoftdirty (179ef71cbc08's maybe_same_pte() "
               "with CONFIG_MEM_SOFT_DIRTY=n on an arch with soft-dirty: plain pte_same())",
               ("pte_same_as_swp", "maybe_same_pte-nosoftdirty"))


@builder(K_MATCH)
def swapoff_progress(knobs) -> Model:
    """swapoff with try_to_unuse()'s retry loop against a soft-dirty swap PTE."""
    k = _kernel(knobs)
    m = Model("swapoff-progress", "swapoff eventually finishes: try_to_unuse() does not retry forever",
              knobs)
    mm = MM(m, folios=("A",))
    mm.add_pte(pte_swap(soft_dirty=True, arch=k.arch))
    mm.add_folios()
    mm.add_swap_slot(count=1, data=ORIGINAL)

    swapoff = mm.thread("swapoff", "swapoff(2): try_to_unuse(), retrying while si->inuse_pages")
    emit_try_to_unuse(swapoff, k, retry=True, match=knobs["swapoff.pte_match"])

    m.eventually_finishes("swapoff_finishes", "swapoff",
                          "try_to_unuse() eventually sees si->inuse_pages == 0 and swapoff returns")
    final_nothing_leaked(mm)
    final_swapoff_leaves_no_swap_reference(mm)
    return m
