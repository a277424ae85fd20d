"""`pteverify gate` end to end on synthetic git kernel trees."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

pytest.importorskip("tree_sitter_c", reason="the gate reads C with tree-sitter-c (pip install '.[kernel]')")
if shutil.which("git") is None:
    pytest.skip("the gate compares git revisions: git is not installed", allow_module_level=True)

from kernel_fixtures import line_of, swapin_c, write_scenarios, write_tree  # noqa: E402
from pteverify.cli import main  # noqa: E402
from pteverify.scenario import specs_dir  # noqa: E402


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(root), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def repo(tmp_path):
    root = write_tree(tmp_path / "linux")
    (root / "mm" / "other.c").write_text("int unrelated(void)\n{\n\treturn 0;\n}\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    return root


@pytest.fixture
def specs(tmp_path):
    return write_scenarios(tmp_path / "specs")


def gate(capsys, root, specs, *extra):
    with pytest.raises(SystemExit) as e:
        main(["gate", "--kernel-tree", str(root), "--base", "HEAD", "--scenarios", str(specs), *extra])
    return e.value.code, capsys.readouterr()


def test_unrelated_change_passes(repo, specs, capsys):
    (repo / "mm" / "other.c").write_text("int unrelated(void)\n{\n\treturn 1;\n}\n")
    code, out = gate(capsys, repo, specs, "--json")
    rep = json.loads(out.out)
    assert code == 0 and rep["ok"] and rep["changed_files"] == ["mm/other.c"]
    assert rep["scenarios"] == [] and rep["results"] == []


def test_reorder_runs_the_scenario_with_the_trees_knobs(repo, specs, capsys, tmp_path):
    """The patch moves swap_free() before arch_swap_restore(): the knob that encodes the order
    says the tree is `toy.restore_before_free = false`, and the model with it loses the tags."""
    (repo / "mm" / "memory.c").write_text(swapin_c(restore_first=False))
    git(repo, "commit", "-qam", "reorder")
    sarif_file, junit_file = tmp_path / "gate.sarif", tmp_path / "gate.xml"
    with pytest.raises(SystemExit) as e:
        main(["gate", "--kernel-tree", str(repo), "--base", "HEAD~1", "--scenarios", str(specs),
              "--json", "--sarif", str(sarif_file), "--junit", str(junit_file)])
    rep = json.loads(capsys.readouterr().out)
    assert e.value.code == 1 and not rep["ok"]
    assert rep["touched"] == {"toy-swapin": ["mm/memory.c:do_swap_page"]}
    assert rep["knobs"] == {"toy-swapin": {"toy.restore_before_free": False}}
    anchors, scen = rep["results"]
    assert anchors["kind"] == "anchors" and anchors["status"] == "pass"       # explained by the knob
    assert "the scenario runs with it" in anchors["message"]
    assert scen["status"] == "fail" and scen["verdict"] == "violated" and scen["invariant"] == "tags_restored"
    text = (repo / "mm" / "memory.c").read_text()
    res = json.loads(sarif_file.read_text())["runs"][0]["results"]
    err, = [r for r in res if r["level"] == "error"]
    loc = err["locations"][0]["physicalLocation"]
    assert err["ruleId"] == "invariant/tags_restored"
    assert loc["artifactLocation"]["uri"] == "mm/memory.c"
    assert loc["region"]["startLine"] == line_of(text, "swap_free(entry)")
    assert 'failures="1"' in junit_file.read_text()


def test_a_reverse_order_on_one_path_fails(tmp_path, specs, capsys):
    """The model's order still holds on one path, but the change reverses it on another."""
    root = write_tree(tmp_path / "linux")
    (root / "mm" / "memory.c").write_text(swapin_c(ksm_arm=True))
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    code, out = gate(capsys, root, specs)
    assert code == 0 and "nothing pteverify models changed" in out.out
    text = swapin_c(ksm_arm=True, ksm_arm_reordered=True)
    (root / "mm" / "memory.c").write_text(text)
    code, out = gate(capsys, root, specs)
    assert code == 1
    assert (f"drift at mm/memory.c:{line_of(text, 'swap_free(')}: this change makes the tree call swap_free "
            f"before arch_swap_restore on one path") in out.out


def test_unexplained_drift_and_removed_anchor_fail(repo, specs, capsys):
    # an order no knob models: set_pte_at() moved above the lookup
    text = swapin_c()
    moved = text.replace("\tset_pte_at(", "\tfolio_unlock_early(folio);\n\tset_pte_at(", 1)
    moved = moved.replace("\tfolio_unlock(folio);\n\tpte_unmap_unlock(vmf->pte, vmf->ptl);\nout:",
                          "\tpte_unmap_unlock(vmf->pte, vmf->ptl);\nout:", 1)
    moved = moved.replace("\tfolio = swap_cache_get_folio(entry);",
                          "\tfolio_unlock(folio);\n\tfolio = swap_cache_get_folio(entry);", 1)
    (repo / "mm" / "memory.c").write_text(moved)
    code, out = gate(capsys, repo, specs)
    assert code == 1
    assert "drift at mm/memory.c:" in out.out and "the tree calls folio_unlock before set_pte_at" in out.out
    assert "this change; no knob models it" in out.out
    (repo / "mm" / "memory.c").write_text(swapin_c(drop_free=True))
    code, out = gate(capsys, repo, specs)
    assert code == 1 and "this change removes swap_free from do_swap_page" in out.out


def test_changed_header_reproves_its_layout(repo, specs, capsys, tmp_path):
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    shutil.copy(specs_dir() / "arch" / "x86_64.toml", layouts)
    import tomllib
    src = tomllib.loads((layouts / "x86_64.toml").read_text())["source"][0]
    (repo / src).parent.mkdir(parents=True, exist_ok=True)
    (repo / src).write_text("/* a header */\n#define _PAGE_BIT_PRESENT 0\n")
    code, out = gate(capsys, repo, specs, "--layouts", str(layouts), "--json")
    rep = json.loads(out.out)
    assert rep["layouts"] == ["x86_64"] and rep["scenarios"] == []
    assert rep["results"] and all(r["kind"] == "layout-property" for r in rep["results"])
    assert any("not extracted from the tree" in n for n in rep["notes"])
    assert code == (0 if rep["ok"] else 1)


def test_not_a_git_tree_is_bad_input(tmp_path, specs, capsys):
    root = write_tree(tmp_path / "plain")
    code, out = gate(capsys, root, specs)
    assert code == 2 and out.err.count("\n") == 1 and "git" in out.err


def test_changed_header_is_extracted_and_proved(tmp_path, specs, capsys):
    """A layout of the user's own (with its config) is read again from the changed headers: a
    change that puts the swp exclusive bit on the present bit is disproved, pointing at the header."""
    from test_extract import make_tree, PGTABLE
    from pteverify.layout.extract import extract_layout, to_toml
    root = make_tree(tmp_path / "linux")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    ex, _ = extract_layout(root, "toy", sets=("CONFIG_MMU=y",), name="toy")
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "toy.toml").write_text(to_toml(ex.data))
    code, out = gate(capsys, root, specs, "--layouts", str(layouts), "--json")
    assert code == 0 and json.loads(out.out)["layouts"] == []
    (root / "arch/toy/include/asm/pgtable.h").write_text(
        PGTABLE.replace("#define _PAGE_SWP_EXCLUSIVE\t(1 << 31)", "#define _PAGE_SWP_EXCLUSIVE\t(1 << 25)"))
    sarif_file = tmp_path / "gate.sarif"
    code, out = gate(capsys, root, specs, "--layouts", str(layouts), "--json", "--sarif", str(sarif_file))
    rep = json.loads(out.out)
    assert rep["layouts"] == ["toy"] and not rep["notes"], rep["notes"]
    bad = [r for r in rep["results"] if r["status"] == "fail"]
    assert code == 1 and bad and all(r["name"] == "toy (extracted)" for r in bad)
    res = [r for r in json.loads(sarif_file.read_text())["runs"][0]["results"] if r["level"] == "error"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in res} == \
        {"arch/toy/include/asm/pgtable.h"}
