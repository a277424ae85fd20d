"""A scenario written from scratch by composing pteverify's shipped kernel paths.

An O_DIRECT read holds an R/W FOLL_GET reference and DMAs into an anonymous page while kswapd swaps
the page out; then swapoff (instead of a page fault) brings the page back through unuse_pte(), and
another thread writes to it. unuse_pte() must restore PG_anon_exclusive from the swap PTE, or the
write fault copies the page and the DMA lands in a page no longer mapped.
"""

from pteverify.model import Model, builder
from pteverify.models import invariants
from pteverify.models import mm as mmv
from pteverify.models.scenarios.anon_exclusive import EXCLUSIVE_KNOBS, _kernel
from pteverify.models.gup import emit_dma_write, emit_gup, emit_gup_release
from pteverify.models.mm import MM, ORIGINAL, pte_present
from pteverify.models.vmscan import emit_shrink_page_list
from pteverify.models.swapfile import emit_try_to_unuse
from pteverify.models.memory import emit_fault_handlers
from pteverify.models.user import emit_access


@builder(*EXCLUSIVE_KNOBS, arch=True)
def build(knobs) -> Model:
    k = _kernel(knobs, synchronous_io=False)
    m = Model("odirect-swapoff", "O_DIRECT read vs swap-out, then swapoff and a write", knobs)
    mm = MM(m, folios=("A", "B", "C"))
    mm.add_pte(pte_present("A", write=True, dirty=True, soft_dirty=True))
    mm.add_folios(A={"ref": 1, "map": 1, "excl": k.anon_exclusive, "swapbacked": True,
                     "uptodate": True, "data": ORIGINAL})
    mm.add_swap_slot()
    dma_done = mm.ghost("dma_done", False, "the device finished writing the O_DIRECT data")
    dma_target = mm.ghost("dma_landed_in", "-", "the page the DMA wrote")
    cpu_done = mm.ghost("cpu_stored", False, "the writer's store completed")

    odirect = mm.thread("odirect", "O_DIRECT read(): GUP, DMA, completion")
    held = emit_gup(odirect, k, write=True, pin=False)
    emit_dma_write(odirect, held, dma_done, dma_target)
    emit_gup_release(odirect, held, pin=False)
    emit_fault_handlers(odirect, k)

    emit_shrink_page_list(mm.thread("reclaim", "kswapd: shrink_page_list() on the page"), k)
    emit_try_to_unuse(mm.thread("swapoff", "swapoff(2): try_to_unuse()"), k)

    writer = mm.thread("writer", "another thread of the process writes to the page")
    emit_access(writer, k, "store", "cpu", cpu_done, label="store")
    emit_fault_handlers(writer, k)

    invariants.inv_writable_pte_maps_exclusive_page(mm)
    invariants.inv_no_lost_write(mm, {"dma": dma_done, "cpu": cpu_done})
    return m
