"""Commands that read a kernel tree: `extract layout` and `layout diff` (registered on cli)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATED, BadInput, cli, layout_group


def _tree_options(f):
    f = click.option("--assume", "defines", multiple=True, metavar="NAME(args)=VALUE",
                     help="A run-time condition the headers test, e.g. 'riscv_has_extension_unlikely(e)=1' (repeatable).")(f)
    f = click.option("--preset", metavar="LAYOUT", help="Start from this shipped layout's config (its `config` table).")(f)
    f = click.option("--set", "sets", multiple=True, metavar="CONFIG_X=y", help="A config symbol (repeatable; unset symbols are off).")(f)
    f = click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A kernel .config file.")(f)
    f = click.option("--arch", metavar="ARCH", help="The arch/ directory (default: the preset's).")(f)
    return f


@cli.group("extract")
def extract_group():
    """Read definitions from a kernel tree."""


@extract_group.command("layout")
@click.option("--kernel-tree", required=True, type=click.Path(file_okay=False), help="A kernel source tree.")
@_tree_options
@click.option("--name", help="The layout's name (default: the preset's, else the arch).")
@click.option("--emit-toml", "emit", type=click.Path(dir_okay=False), help="Write the layout file here ('-': stdout).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
def extract_layout_cmd(kernel_tree, arch, config_file, sets, preset, defines, name, emit, as_json):
    """Extract a swap-PTE layout from a kernel tree's headers.

    The arch's asm/pgtable.h is preprocessed with the config; the swap macros, pte_present,
    pte_none, the PMD forms and the swp flag accessors are collected, static inline helpers
    translated from their C bodies. Anything outside that subset: "cannot extract NAME at
    FILE:LINE: reason", exit 2.
    """
    from .layout.extract import extract_layout, to_toml
    ex, lay = extract_layout(kernel_tree, arch, config_file, sets, preset, name, defines)
    text = to_toml(ex.data)
    if emit == "-":
        click.echo(text, nl=False)
    elif emit:
        Path(emit).write_text(text, encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"layout": lay.name, "arch": lay.arch, "config": ex.data["config"],
                               "files": ex.files, "notes": ex.notes, "where": ex.where,
                               "constants": len(ex.data["constants"]), "macros": len(ex.data["macros"]),
                               "seconds": round(ex.seconds, 3)}, indent=2))
    elif emit != "-":
        click.echo(f"{lay.name}: extracted from {kernel_tree} (arch/{lay.arch}, {len(ex.data['config'])} config symbols): "
                   f"{len(ex.data['constants'])} constants, {len(ex.data['macros'])} macros from {len(ex.files)} headers, "
                   f"{ex.seconds:.2f}s" + (f"; written to {emit}" if emit else ""))
        for n in ex.notes:
            click.echo(f"  note: {n}")
    sys.exit(EXIT_OK)


@layout_group.command("diff")
@click.argument("layout")
@click.option("--kernel-tree", required=True, type=click.Path(file_okay=False), help="A kernel source tree.")
@_tree_options
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Solver time limit per macro, seconds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def layout_diff_cmd(layout, kernel_tree, arch, config_file, sets, preset, defines, timeout_s, as_json):
    """Compare LAYOUT (a shipped name or a file) with the layout extracted from a tree.

    Each macro is compared with Z3 over all inputs: equal, or the first input where they differ.
    Exit 0 when all are equal, 1 when one differs, 3 when one is unknown. The tree's config is the
    shipped file's own `config` unless --config/--set/--preset say otherwise.
    """
    from .layout import load_layout, resolve
    from .layout.diff import diff_layouts
    from .layout.extract import extract_layout
    left = load_layout(layout) if layout.endswith(".toml") else resolve([layout])[0]
    if not preset and not config_file and left.config:
        preset = None
        sets = tuple(f"{k}={v}" for k, v in left.config.items()) + tuple(sets)
    elif not preset and not config_file and not sets:
        raise BadInput(f"{left.name} names no config: give --preset, --config or --set")
    defines = tuple(f"{k}={v}" for k, v in left.assume.items()) + tuple(defines)
    ex, right = extract_layout(kernel_tree, arch or left.arch, config_file, sets, preset, left.name, defines)
    diffs = diff_layouts(left, right, timeout_s)
    bad = [d for d in diffs if d.verdict != "equal"]
    if as_json:
        click.echo(json.dumps({"layout": left.name, "tree": str(kernel_tree), "equal": not bad,
                               "macros": [d.to_json() for d in diffs]}, indent=2))
    else:
        for d in diffs:
            click.echo(f"  {d.name:34} {d.verdict}" + (f": {d.detail}" if d.detail else ""))
        click.echo(f"{left.name}: " + ("equal to the tree's headers" if not bad else
                                        f"{len(bad)} of {len(diffs)} differ from the tree's headers"))
    if any(d.verdict == "unknown" for d in bad) and not any(d.verdict != "unknown" for d in bad):
        sys.exit(EXIT_INCOMPLETE)
    sys.exit(EXIT_VIOLATED if bad else EXIT_OK)
