"""Model anchors: structured kernel references and their check against (synthetic) kernel trees."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tree_sitter_c", reason="anchors read C with tree-sitter-c (pip install '.[kernel]')")

from kernel_fixtures import line_of, swapin_c, write_scenarios, write_tree  # noqa: E402
from pteverify.anchors import DRIFT, MATCHES, MISSING, check_scenario, summary  # noqa: E402
from pteverify.cli import main  # noqa: E402
from pteverify.kernel.functions import functions  # noqa: E402
from pteverify.kernel.git import GitTree  # noqa: E402
from pteverify.kref import KernelRef, parse_ref  # noqa: E402
from pteverify.model import Knob, ModelError  # noqa: E402
from pteverify.scenario import get_scenario, load_scenarios  # noqa: E402


# -- references -----------------------------------------------------------------------------


@pytest.mark.parametrize("ref, file, function, calls", [
    ("mm/memory.c:do_swap_page: swap_free(entry); should_try_to_free_swap() -> try_to_free_swap(page)",
     "mm/memory.c", "do_swap_page", ("swap_free", "should_try_to_free_swap", "try_to_free_swap")),
    # a call chain: the last element is the function modelled; [notes] give no anchor
    ("mm/vmscan.c:shrink_folio_list -> mm/rmap.c:try_to_unmap_one [file folio]: pteval = ptep_clear_flush(); "
     "folio_remove_rmap_pte() [then shmem_writepage()]",
     "mm/rmap.c", "try_to_unmap_one", ("ptep_clear_flush", "folio_remove_rmap_pte")),
    # a qualifier after the function name; nested calls in the order C completes them
    ("mm/memory.c:wp_page_reuse (unshare): ptep_set_access_flags(maybe_mkwrite(pte_mkdirty()))",
     "mm/memory.c", "wp_page_reuse", ("pte_mkdirty", "maybe_mkwrite", "ptep_set_access_flags")),
    ("mm/memory.c:do_swap_page: x = a(b(), (c + d(e))) ?: f(g); h(",
     "mm/memory.c", "do_swap_page", ("b", "d", "a", "f", "h")),
    # the body ends where another file's function starts, or where a callee's details start
    ("mm/vmscan.c:pageout: clear_page_dirty_for_io(); mm/page_io.c:swap_writepage(): set_page_writeback()",
     "mm/vmscan.c", "pageout", ("clear_page_dirty_for_io",)),
    ("mm/memory.c:do_swap_page: arch_swap_restore(entry, folio) -> arch/arm64 mte_restore_tags(): xa_load()",
     "mm/memory.c", "do_swap_page", ("arch_swap_restore",)),
    ("mm/memory.c:do_wp_page: PageAnonExclusive -> wp_page_reuse(); else wp_page_copy(): new folio, ptep_clear_flush()",
     "mm/memory.c", "do_wp_page", ("wp_page_reuse", "wp_page_copy")),
    # keywords are not calls
    ("mm/swapfile.c:unuse_pte: if (unlikely(!folio)) return 0; set_pte_at()",
     "mm/swapfile.c", "unuse_pte", ("unlikely", "set_pte_at")),
])
def test_regular_refs_parse(ref, file, function, calls):
    k = parse_ref(ref)
    assert (k.file, k.function, k.calls) == (file, function, calls)


def test_arguments_are_ordered_only_before_their_call():
    k = parse_ref("mm/memory.c:wp_page_copy: ptep_clear_flush(); set_pte_at(maybe_mkwrite(pte_mkdirty()))")
    assert k.calls == ("ptep_clear_flush", "pte_mkdirty", "maybe_mkwrite", "set_pte_at")
    assert k.within == (-1, 2, 3, -1)
    assert KernelRef("mm/memory.c", "f", ("a", "b")).within == (-1, -1)
    with pytest.raises(ValueError, match="one call index per call"):
        KernelRef("mm/memory.c", "f", ("a", "b"), (5, -1))


@pytest.mark.parametrize("ref", ["user space: store to the page", "VM_FAULT_SIGBUS: force_sig_fault(SIGBUS)",
                                 "kernel/fork.c: the child runs", "c0++ (#1)", ""])
def test_unstructured_refs(ref):
    assert parse_ref(ref) is None


def test_explicit_structure_is_validated():
    with pytest.raises(ValueError, match="not a kernel source path"):
        KernelRef("memory", "do_swap_page")
    with pytest.raises(ValueError, match="not a C name"):
        KernelRef("mm/memory.c", "do_swap_page", ("swap free",))
    with pytest.raises(ModelError, match="pairs of call names"):
        Knob("k", True, orders=(("a",),))


# -- the C side -----------------------------------------------------------------------------


def test_calls_paths_and_config_arms():
    text = swapin_c()
    fn, = functions(text, "mm/memory.c", "do_swap_page")
    assert fn.line == line_of(text, "vm_fault_t do_swap_page")
    by = {c.name: c for c in fn.calls}
    # #ifdef / #else arms exclude each other; code after them is reached from either
    assert not fn.reaches(by["arch_swap_restore"], by["arch_swap_nothing"])
    assert fn.reaches(by["arch_swap_restore"], by["swap_free"])
    assert fn.reaches(by["arch_swap_nothing"], by["swap_free"])
    # the `if (!folio) goto out` arm leaves for a label past set_pte_at: it never reaches it
    assert fn.reaches(by["swapin_readahead"], by["set_pte_at"])
    assert not fn.reaches(by["swap_free"], by["swap_cache_get_folio"])     # no unrolled loops
    # error labels after the `return` are reached only by the gotos before set_pte_at()
    assert not fn.reaches(by["set_pte_at"], by["folio_put"])
    assert fn.reaches(by["folio_lock_or_retry"], by["folio_put"])
    text2 = "int f(void)\n{\n\tif (a()) {\n\t\tb();\n\t\treturn 1;\n\t}\n\tc();\n\treturn 0;\n}\n"
    fn2, = functions(text2, "x.c", "f")
    by2 = {c.name: c for c in fn2.calls}
    assert fn2.reaches(by2["a"], by2["c"]) and not fn2.reaches(by2["b"], by2["c"])


def test_a_function_per_config_arm():
    text = ("#ifdef CONFIG_A\nvoid g(void)\n{\n\tx();\n\ty();\n}\n#else\nvoid g(void)\n{\n\ty();\n\tx();\n}\n#endif\n")
    defs = functions(text, "mm/g.c", "g")
    assert [d.line for d in defs] == [2, 8]
    assert [c.name for c in defs[1].calls] == ["y", "x"]


# -- a scenario against a tree ----------------------------------------------------------------


@pytest.fixture
def toy(tmp_path):
    return get_scenario(str(write_scenarios(tmp_path / "specs") / "toy-swapin.toml"))


def test_matching_tree(toy, tmp_path):
    tree = write_tree(tmp_path / "tree")
    rep = check_scenario(toy, GitTree(tree))
    fixed, old = rep.variants
    assert fixed.default and fixed.status == MATCHES
    path, = fixed.paths
    assert (path.function, path.missing, path.drifts) == ("do_swap_page", [], [])
    assert path.orders_checked == path.orders_matched >= 5
    # the old variant frees the slot first: the tree says otherwise, at the tree's restore call
    assert old.status == DRIFT
    d, = old.paths[0].drifts
    text = (tree / "mm/memory.c").read_text()
    assert d.line == line_of(text, "arch_swap_restore(")
    assert d.message == (f"drift at mm/memory.c:{d.line}: the tree calls arch_swap_restore before swap_free; "
                         f"the model (variant old) assumes swap_free before arch_swap_restore")
    k, = rep.knobs
    assert (k.knob, k.values) == ("toy.restore_before_free", [True])
    assert "corresponds to true" in k.message
    assert rep.unstructured == 1


def test_drifted_tree_is_a_finding(toy, tmp_path):
    tree = write_tree(tmp_path / "tree", restore_first=False)
    rep = check_scenario(toy, GitTree(tree))
    assert rep.default.status == DRIFT and rep.variants[1].status == MATCHES
    d, = rep.default.paths[0].drifts
    assert (d.before, d.after, d.variant) == ("arch_swap_restore", "swap_free", "fixed")
    assert d.line == line_of((tree / "mm/memory.c").read_text(), "swap_free(")
    assert rep.knobs[0].values == [False]


def test_renamed_anchor(toy, tmp_path):
    """The model's swap_free() is folio_put_swap() in a newer tree (Model.renamed)."""
    tree = write_tree(tmp_path / "tree", renamed=True)
    rep = check_scenario(toy, GitTree(tree))
    assert rep.default.status == MATCHES and rep.knobs[0].values == [True]
    drifted = write_tree(tmp_path / "drifted", renamed=True, restore_first=False)
    d, = check_scenario(toy, GitTree(drifted)).default.paths[0].drifts
    assert "the tree calls folio_put_swap before arch_swap_restore; the model (variant fixed) assumes " \
           "arch_swap_restore before swap_free" in d.message


def test_missing_anchor_and_function(toy, tmp_path):
    tree = write_tree(tmp_path / "tree", drop_free=True)
    rep = check_scenario(toy, GitTree(tree))
    p = rep.default.paths[0]
    assert p.status == MISSING and p.missing == ["swap_free"]
    assert rep.knobs[0].tree_order == "absent" and rep.knobs[0].values == []
    (tree / "mm/memory.c").write_text("int other(void)\n{\n\treturn 0;\n}\n")
    p = check_scenario(toy, GitTree(tree)).default.paths[0]
    assert p.line is None and "defines no function do_swap_page" in p.note
    empty = tmp_path / "empty"
    empty.mkdir()
    p = check_scenario(toy, GitTree(empty)).default.paths[0]
    assert "no file mm/memory.c" in p.note


def test_cli_anchors(toy, tmp_path, capsys):
    tree = write_tree(tmp_path / "tree")
    with pytest.raises(SystemExit) as e:
        main(["anchors", "--kernel-tree", str(tree), str(toy.path), "--json"])
    assert e.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["status"] == {"matches": 1, "drift": 0, "missing": 0}
    assert out["scenarios"][0]["knobs"][0]["values"] == [True]
    drifted = write_tree(tmp_path / "drifted", restore_first=False)
    with pytest.raises(SystemExit) as e:
        main(["anchors", "--kernel-tree", str(drifted), str(toy.path)])
    assert e.value.code == 1
    text = capsys.readouterr().out
    assert "the tree calls swap_free before arch_swap_restore" in text
    assert "knob toy.restore_before_free: the tree corresponds to false" in text
    with pytest.raises(SystemExit) as e:
        main(["anchors", "--kernel-tree", str(tmp_path / "nope"), str(toy.path)])
    assert e.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_shipped_scenarios_have_structured_steps(tmp_path):
    """Every shipped mm scenario's default variant names kernel functions the checker can look
    up; on an empty tree every one of them is reported missing, none crashes."""
    empty = GitTree(tmp_path)
    reports = [check_scenario(sc, empty, [sc.default_variant])
               for sc in load_scenarios().values() if sc.kind == "mm"]
    s = summary(reports)
    assert s["paths"] > 0 and s["anchors"] > 0 and s["anchors_found"] == 0
    assert s["status"][MISSING] == len(reports)


def test_names_file(toy, tmp_path, capsys):
    """A [renamed] table maps the model's call names to the tree's; a malformed one is bad input."""
    tree = tmp_path / "tree"
    write_tree(tree)
    text = (tree / "mm/memory.c").read_text().replace("folio_lock_or_retry(", "folio_lock_killable_or_retry(")
    (tree / "mm/memory.c").write_text(text)
    names = tmp_path / "names.toml"
    names.write_text('[renamed]\nfolio_lock_or_retry = ["folio_lock_killable_or_retry"]\n')
    with pytest.raises(SystemExit) as e:
        main(["anchors", "--kernel-tree", str(tree), str(toy.path), "--names", str(names)])
    assert e.value.code == 0, capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["anchors", "--kernel-tree", str(tree), str(toy.path)])
    assert e.value.code == 1 and "missing: folio_lock_or_retry" in capsys.readouterr().out
    names.write_text('[renamed]\nfolio_lock_or_retry = "x"\n')
    with pytest.raises(SystemExit) as e:
        main(["anchors", "--kernel-tree", str(tree), str(toy.path), "--names", str(names)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "renamed.folio_lock_or_retry" in err


# -- the second pass against a real 2026 tree (switch arms, continuation steps, renamed functions) --


def test_switch_cases_are_arms():
    """A `goto` ending one `case` leaves only that case (shrink_folio_list's references switch)."""
    text = ("int f(void)\n{\n\tif (!a())\n\t\tgoto keep;\n\tswitch (r()) {\n\tcase 1:\n\t\tgoto out;\n"
            "\tcase 2:\n\t\tx();\n\t\tbreak;\n\tcase 3:\n\t\ty();\n\t}\n\tz();\nkeep:\n\treturn 1;\nout:\n\treturn 0;\n}\n")
    fn, = functions(text, "x.c", "f")
    by = {c.name: c for c in fn.calls}
    assert fn.reaches(by["a"], by["z"])                  # the goto in `case 1` does not end every path
    assert fn.reaches(by["x"], by["z"]) and fn.reaches(by["r"], by["y"])
    assert not fn.reaches(by["x"], by["y"])              # cases exclude each other


def _path(steps, pairs):
    from pteverify.anchors import _ModelPath
    mp = _ModelPath("mm/x.c", "f")
    for i, k in enumerate(steps):
        mp.steps.append((f"t/s{i}", k))
        mp.sequence.extend(k.calls)
    mp.pairs = [(i, j, f"t/s{i}", f"t/s{j}", steps[i], steps[j]) for i, j in pairs]
    return mp


def test_a_step_restarting_a_call_is_not_a_continuation():
    """Step B begins with a call step A already made: a new invocation (the rmap walk's next VMA,
    a second mprotect()) or the inside of A's call; A's last call is not ordered before it."""
    from pteverify.anchors import _check_path
    text = "void f(void)\n{\n\tlock();\n\tset();\n\tunlock();\n}\n"
    defs = functions(text, "mm/x.c", "f")
    a = KernelRef("mm/x.c", "f", ("lock", "set", "unlock"))
    again = _check_path(_path([a, a], [(0, 1)]), defs, "v")
    assert again.drifts == [] and again.orders_checked == 2
    # a genuine continuation is still ordered: `unlock` then `set` drifts
    b = KernelRef("mm/x.c", "f", ("set",))
    cont = _check_path(_path([KernelRef("mm/x.c", "f", ("lock", "unlock")), b], [(0, 1)]), defs, "v")
    d, = cont.drifts
    assert (d.before, d.after) == ("unlock", "set")


def test_renamed_function(toy, tmp_path):
    """A function the model names is defined under a new name in the tree (the names table)."""
    tree = write_tree(tmp_path / "tree")
    mem = tree / "mm" / "memory.c"
    mem.write_text(mem.read_text().replace("do_swap_page(", "do_swap_page_v2("))
    rep = check_scenario(toy, GitTree(tree))
    assert rep.default.status == MISSING and "defines no function do_swap_page" in rep.default.paths[0].note
    rep = check_scenario(toy, GitTree(tree), names={"do_swap_page": ("do_swap_page_v2",)})
    p = rep.default.paths[0]
    assert rep.default.status == MATCHES and p.note == "the tree calls it do_swap_page_v2"


def test_knob_orders_under_renamed_calls():
    """A knob written for swap_free() orders the folio_put_swap() a 2026 step names."""
    from pteverify.anchors import _ModelPath, _model_order, same_call
    mp = _ModelPath("mm/memory.c", "do_swap_page", aliases={"swap_free": ("folio_put_swap",)})
    mp.sequence = ["arch_swap_restore", "folio_put_swap", "set_ptes"]
    assert same_call(mp.aliases, "folio_put_swap", "swap_free")
    assert _model_order(mp, "arch_swap_restore", "swap_free") == "arch_swap_restore before swap_free"
    assert _model_order(mp, "swap_free", "arch_swap_restore") == "arch_swap_restore before swap_free"
    assert _model_order(mp, "arch_swap_restore", "mte_restore_tags") == "absent"
