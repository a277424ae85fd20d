"""Synthetic kernel trees and a toy swap-in model for the anchors and gate tests.

The C text is written for these tests in the kernel's style (includes, config conditionals, goto
error paths, a do_swap_page-shaped function); it is not kernel source.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# A do_swap_page-shaped fault handler. {restore} and {free} are swapped to make a drifted tree.
SWAPIN_C = """\
// SPDX-License-Identifier: GPL-2.0-only
/* A toy swap-in path, shaped like a fault handler. */
#include <linux/mm.h>
#include <linux/swap.h>
#include "internal.h"

static int toy_helper(int x)
{{
\treturn x + 1;
}}

vm_fault_t do_swap_page(struct vm_fault *vmf)
{{
\tstruct folio *folio;
\tswp_entry_t entry = pte_to_swp_entry(vmf->orig_pte);
\tvm_fault_t ret = 0;

\tfolio = swap_cache_get_folio(entry);
\tif (!folio) {{
\t\tfolio = swapin_readahead(entry, GFP_HIGHUSER_MOVABLE, vmf);
\t\tif (!folio)
\t\t\tgoto out;
\t}}
\tret |= folio_lock_or_retry(folio, vmf);
\tif (ret & VM_FAULT_RETRY)
\t\tgoto out_release;
\tvmf->pte = pte_offset_map_lock(vmf->vma->vm_mm, vmf->pmd, vmf->address, &vmf->ptl);
\tif (unlikely(!pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
\t\tgoto out_nomap;
{first}
{second}
\tset_pte_at(vmf->vma->vm_mm, vmf->address, vmf->pte, mk_pte(&folio->page, vmf->vma->vm_page_prot));
\tfolio_unlock(folio);
\tpte_unmap_unlock(vmf->pte, vmf->ptl);
out:
\treturn ret;
out_nomap:
\tpte_unmap_unlock(vmf->pte, vmf->ptl);
\tfolio_unlock(folio);
out_release:
\tfolio_put(folio);
\treturn ret;
}}
"""

RESTORE = """#ifdef CONFIG_ARCH_HAS_SWAP_TAGS
\tarch_swap_restore(entry, folio);
#else
\tarch_swap_nothing(entry);
#endif"""
FREE = "\tswap_free(entry);"


def swapin_c(restore_first: bool = True, drop_free: bool = False, renamed: bool = False,
             ksm_arm: bool = False, ksm_arm_reordered: bool = False) -> str:
    """`ksm_arm`: the restore and the free also appear in a KSM-copy arm of their own (two paths);
    `ksm_arm_reordered`: that arm frees the slot first."""
    free = "\tfolio_put_swap(folio, NULL);" if renamed else FREE
    first, second = (RESTORE, free) if restore_first else (free, RESTORE)
    text = SWAPIN_C.format(first=first, second=second)
    if ksm_arm:
        a, b = (free, RESTORE) if ksm_arm_reordered else (RESTORE, free)
        indent = lambda block: "\n".join(("\t" + line if line.startswith("\t") else line)
                                          for line in block.splitlines())
        text = text.replace(first + "\n" + second + "\n",
                            "\tif (unlikely(folio_test_ksm(folio))) {\n" + indent(a) + "\n" + indent(b) +
                            "\n\t} else {\n" + indent(first) + "\n" + indent(second) + "\n\t}\n", 1)
    if drop_free:
        text = text.replace(FREE + "\n", "")
    return text


# A toy model of that path: the slot's tags survive only if they are restored before the slot is freed.
MODEL_PY = '''
from pteverify.model import Knob, KernelRef, Model, builder

K_RESTORE_FIRST = Knob("toy.restore_before_free", True,
                       "do_swap_page() restores the tags before it frees the swap slot",
                       orders=(("arch_swap_restore", "swap_free"),))


@builder(K_RESTORE_FIRST)
def build(knobs):
    m = Model("toy-swapin")
    m.renamed("swap_free", "folio_put_swap")
    m.field("slot", 1, (0, 1), "the swap slot (and the tags stored by it) exists")
    m.field("tags", 0, (0, 1), "the page's tags were restored")
    t = m.thread("fault")
    t.step("lookup", "mm/memory.c:do_swap_page: folio = swap_cache_get_folio(entry) ?: swapin_readahead(entry) [PTL]",
           effect=lambda s: {})
    t.step("lock", "mm/memory.c:do_swap_page: folio_lock_or_retry(folio); pte_offset_map_lock()",
           effect=lambda s: {})
    restore = ("restore", "mm/memory.c:do_swap_page: arch_swap_restore(entry, folio)",
               lambda s: {"tags": s.slot}, ["slot"], ["tags"])
    free = ("free", "mm/memory.c:do_swap_page: swap_free(entry)", lambda s: {"slot": 0}, [], ["slot"])
    for label, ref, eff, reads, writes in ((restore, free) if knobs["toy.restore_before_free"] else (free, restore)):
        t.step(label, ref, effect=eff, reads=reads, writes=writes)
    t.step("map", "set_pte_at() maps the page", effect=lambda s: {},
           anchors=KernelRef("mm/memory.c", "do_swap_page", ("set_pte_at", "folio_unlock")))
    t.step("use", "user space: reads the tags", effect=lambda s: {})
    m.final("tags_restored", lambda s: s.tags == 1, reads=["tags"])
    return m
'''

SCENARIO_TOML = '''
name = "toy-swapin"
title = "toy: tags restored before the swap slot is freed"
model = "toy_model.py:build"
default_variant = "fixed"

[[variants]]
name = "fixed"
knobs = { "toy.restore_before_free" = true }
expect = "holds"

[[variants]]
name = "old"
knobs = { "toy.restore_before_free" = false }
expect = "violated"
invariant = "tags_restored"
'''


def write_scenarios(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "toy_model.py").write_text(MODEL_PY)
    (d / "toy-swapin.toml").write_text(textwrap.dedent(SCENARIO_TOML))
    return d


def write_tree(root: Path, **kw) -> Path:
    (root / "mm").mkdir(parents=True, exist_ok=True)
    (root / "mm" / "memory.c").write_text(swapin_c(**kw))
    return root


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)
