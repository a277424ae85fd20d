"""Command line: argument parsing, output and exit codes only; the work is done by the library.

Exit codes: 0 holds / proved, 1 violated / disproved, 2 bad input or usage, 3 incomplete / unknown,
4 internal error. Errors are one line on stderr, never a traceback (see errors.py and `main`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import click

from . import __version__
from .explore import HOLDS, INCOMPLETE, VIOLATED, explore
from .model import ModelError
from .report import run_json
from .scenario import get_scenario, load_scenarios

from .errors import (EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_INTERNAL, EXIT_OK, EXIT_VIOLATED, BadInput,
                     TimeLimit, describe_user_exception, one_line, time_limit, user_location)

DOT_MAX_TRANSITIONS = 50_000


class _Seconds(click.ParamType):
    """A time bound: a positive, finite number of seconds (nan and inf are refused, not ignored)."""

    name = "SECONDS"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            x = value
        else:
            try:
                x = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(x) or x <= 0:
            self.fail(f"{value!r} is not a positive, finite number of seconds", param, ctx)
        return x


SECONDS = _Seconds()


def _colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2))


class _Group(click.Group):
    """A command group whose --help lists each command's whole summary (its docstring's first
    sentence), wrapped to the terminal instead of cut with '...'; subgroups are of the same kind."""

    group_class = type

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, _p, v: _version(ctx, v),
              help="Show the version and which explorer core is in use, and exit.")
@click.option("--debug", is_flag=True, help="On an internal error (exit 4), print the traceback.")
def cli(debug: bool):
    """pteverify: model checking of the Linux kernel's page-table and swap code, and Z3 proofs of
    every architecture's swap-PTE layout."""


def _version(ctx, value):
    if not value or ctx.resilient_parsing:
        return
    from .core import describe
    click.echo(f"pteverify, version {__version__}")
    click.echo(describe())
    ctx.exit(0)


@cli.command("doctor")
def doctor_cmd():
    """Say what this installation runs with: Python, the explorer core (compiled or pure Python),
    and which optional parts (kernel-tree parsing, dask) are installed."""
    import importlib.util
    import platform
    from .core import describe
    click.echo(f"pteverify {__version__} on Python {platform.python_version()} ({sys.executable})")
    click.echo(describe())
    for extra, mods in (("kernel", ("tree_sitter", "tree_sitter_c")), ("dask", ("distributed",))):
        missing = [m for m in mods if importlib.util.find_spec(m) is None]
        click.echo(f"extra [{extra}]: " + ("installed" if not missing else f"not installed (no {', '.join(missing)})"))


# ------------------------------------------------------------------------------------------
# list


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool):
    """List the scenarios (with their variants and expected verdicts) and the arch layouts."""
    scenarios = load_scenarios()
    layouts = _layout_names()
    if as_json:
        _emit_json({
            "scenarios": [{
                "name": sc.name, "title": sc.title, "kind": sc.kind,
                "default_variant": sc.default_variant,
                "variants": [{"name": v.name, "expect": v.expect, "invariant": v.invariant,
                              "stands_for": v.stands_for, "description": v.description}
                             for v in sc.variants],
            } for sc in scenarios.values()],
            "layouts": layouts,
        })
        return
    width = max((len(n) for n in scenarios), default=10)
    click.echo("Scenarios:")
    for sc in scenarios.values():
        variants = ", ".join(f"{v.name}={v.expect}" + (" (default)" if v.name == sc.default_variant else "")
                             for v in sc.variants)
        click.echo(f"  {sc.name.ljust(width)}  {sc.title}")
        click.echo(f"  {''.ljust(width)}  variants: {variants}")
    click.echo(f"Layouts ({len(layouts)}):")
    line = "  "
    for name in layouts:
        if len(line) + len(name) > 100:
            click.echo(line.rstrip())
            line = "  "
        line += name + "  "
    if line.strip():
        click.echo(line.rstrip())


def _layout_names() -> list[str]:
    try:
        from .layout import shipped_layout_paths
    except ImportError:
        return []
    return sorted(shipped_layout_paths())


# ------------------------------------------------------------------------------------------
# show


def _lockless(mem) -> str:
    """A step's Mem annotation (verifier/memmodel.py) in words, for `show`."""
    if mem is None:
        return ""
    parts = [f"{k} {', '.join(getattr(mem, k))}" for k in ("loads", "stores", "adds") if getattr(mem, k)]
    if mem.order != "relaxed":
        parts.append(f"order {mem.order}")
    parts += [f"{mem.before} before" for _ in [0] if mem.before] + [f"{mem.after} after" for _ in [0] if mem.after]
    return "; ".join(parts) or "no lockless access"


@cli.command("show")
@click.argument("scenario")
@click.option("--variant", "variant_name", help="Show the model as built for this variant.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show_cmd(scenario: str, variant_name: str | None, as_json: bool):
    """Show a scenario: threads and their steps with kernel references, knobs, variants, invariants."""
    sc = get_scenario(scenario)
    variant = sc.variant(variant_name)
    cm = sc.build(variant)
    threads = [{"name": t.name, "doc": t.doc,
                "steps": [{"label": st.label, "kernel_ref": st.ref,
                           "acquire": list(st.acquire), "release": list(st.release),
                           "reads": sorted(st.reads), "writes": sorted(st.writes),
                           "branches": list(st.branches),
                           "lockless": _lockless(st.mem)} for st in t.steps]}
               for t in cm.threads]
    knobs = [{"name": k.name, "default": k.default, "domain": list(k.domain), "doc": k.doc,
              "value": cm.model.knobs[k.name]} for k in sc.knobs]
    invariants = [{"name": i.name, "doc": i.doc, "final": i.final, "reachable": i.witness}
                  for i in cm.model.invariants]
    race = [f"{t}.{lab}" for t, lab in sc.race_steps(variant, cm)]
    if as_json:
        _emit_json({"scenario": sc.name, "title": sc.title, "description": sc.description,
                    "model": sc.model_ref, "variant": variant.name, "threads": threads,
                    "fields": [{"name": f.name, "init": str(f.init), "doc": f.doc} for f in cm.fields],
                    "knobs": knobs, "invariants": invariants, "race": race,
                    "variants": [{"name": v.name, "stands_for": v.stands_for, "knobs": v.knobs,
                                  "expect": v.expect, "invariant": v.invariant,
                                  "description": v.description} for v in sc.variants]})
        return
    bold = (lambda s: click.style(s, bold=True)) if _colour(sys.stdout) else (lambda s: s)
    click.echo(bold(f"{sc.name}: {sc.title}"))
    if sc.description:
        click.echo(f"  {sc.description}")
    click.echo(f"  model {sc.model_ref}, shown as variant {variant.name}")
    click.echo(bold("Threads:"))
    for t in threads:
        click.echo(f"  {t['name']}" + (f"  ({t['doc']})" if t["doc"] else ""))
        lw = max((len(s["label"]) for s in t["steps"]), default=0)
        for s in t["steps"]:
            locks = ""
            if s["acquire"]:
                locks += f"  [takes {', '.join(s['acquire'])}]"
            if s["release"]:
                locks += f"  [drops {', '.join(s['release'])}]"
            if s["lockless"]:
                locks += f"  [lockless: {s['lockless']}]"
            click.echo(f"    {s['label'].ljust(lw)}  {s['kernel_ref']}{locks}")
    if race:
        click.echo(bold("Race steps") + f" (must fire in variant {variant.name}): {', '.join(race)}")
    click.echo(bold("Invariants:"))
    for i in invariants:
        tag = " (reachable outcome)" if i["reachable"] else " (final)" if i["final"] else ""
        click.echo(f"  {i['name']}{tag}: {i['doc']}")
    click.echo(bold("Knobs:"))
    if not knobs:
        click.echo("  none")
    for k in knobs:
        click.echo(f"  {k['name']} = {_v(k['value'])} (default {_v(k['default'])}; "
                   f"{'/'.join(_v(d) for d in k['domain']) if len(k['domain']) <= 6 else 'range'}): {k['doc']}")
    click.echo(bold("Variants:"))
    for v in sc.variants:
        knob_text = ", ".join(f"{k}={_v(x)}" for k, x in v.knobs.items()) or "defaults"
        expect = v.expect + (f" ({v.invariant})" if v.invariant else "")
        stands = f" [{v.stands_for}]" if v.stands_for else ""
        click.echo(f"  {v.name}{stands}: expect {expect}; {knob_text}")
        if v.description:
            click.echo(f"      {v.description}")


def _v(x) -> str:
    return str(x).lower() if isinstance(x, bool) else str(x)


# ------------------------------------------------------------------------------------------
# run


def _parse_sets(sets: tuple[str, ...]) -> dict:
    out = {}
    for item in sets:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise BadInput(f"--set {item!r}: expected KNOB=VALUE")
        out[name.strip()] = value.strip()
    return out


class _Progress:
    """A progress line on a TTY for runs over a second: states, states/s, depth."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.t0 = time.perf_counter()

    def __call__(self, stats) -> None:
        if not self.enabled or time.perf_counter() - self.t0 < 1.0:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(unit=" states", unit_scale=True, file=sys.stderr, leave=False,
                            dynamic_ncols=True)
        self.bar.n = stats.states
        self.bar.set_postfix_str(f"depth {stats.max_depth}, {stats.transitions} transitions",
                                 refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@cli.command("run")
@click.argument("scenario")
@click.option("--variant", "variant_name", help="Variant (kernel commit or release) to run; default: the scenario's default.")
@click.option("--set", "sets", multiple=True, metavar="KNOB=VALUE", help="Override a knob (repeatable).")
@click.option("--max-states", type=click.IntRange(min=1), help="Stop after this many states: verdict incomplete.")
@click.option("--max-seconds", type=SECONDS, help="Stop after this long: verdict incomplete.")
@click.option("--no-reduction", is_flag=True, help="Explore every interleaving without partial-order reduction.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--dot", "dot_file", type=click.Path(dir_okay=False, writable=True), help="Write the explored state graph (small runs) as DOT.")
@click.option("--arch", "arch", metavar="LAYOUT", help="Encode the model's swap PTEs with this arch layout (a shipped name or a layout file).")
@click.option("--width", "width", type=click.IntRange(min=40), metavar="N",
              help="Fit the race table in N columns (default: COLUMNS, or the terminal's width).")
@click.option("--coverage", is_flag=True, help="Count the transitions each step fired and list the steps that never fired (the search runs without reduction).")
@click.option("--reset-dead", is_flag=True, help="Dead-variable reduction: reset a thread's private fields once no step it can still take reads them (opt-in; verdict-equal to the full search on every shipped variant).")
@click.option("--fingerprints", "fp_bits", type=click.IntRange(16, 128), metavar="BITS",
              help="Store a BITS-bit fingerprint per state instead of the state (no reduction): less memory; a holds is then probabilistic, with the omission probability.")
@click.option("--symmetry", is_flag=True, help="Symmetry reduction: store one state per orbit of the model's declared symmetric threads (opt-in; verdict-equal to the full search on every shipped variant).")
@click.option("--memory-model", "memory_model", type=click.Choice(["sc", "tso", "arm64"]),
              help="Let the model's lockless steps reorder as this memory model allows (default: the variant's, else sc).")
def run_cmd(scenario, variant_name, sets, max_states, max_seconds, no_reduction, as_json, dot_file, arch, width, coverage,
            reset_dead, fp_bits, symmetry, memory_model):
    """Explore every interleaving of SCENARIO's threads and check its invariants.

    SCENARIO is a shipped scenario's name or the path of a scenario file of your own."""
    sc = get_scenario(scenario)
    variant = sc.variant(variant_name)
    overrides = _parse_sets(sets)
    if dot_file:
        _check_writable(dot_file, "--dot")
    if fp_bits is not None and (dot_file or coverage):
        raise BadInput("--fingerprints stores no states: it cannot be combined with --dot or --coverage")
    if symmetry and (fp_bits is not None or coverage):
        raise BadInput("--symmetry cannot be combined with --fingerprints or --coverage (they need every state)")
    t0 = time.perf_counter()
    # --max-seconds covers loading the layout and importing and building the model too: a user's
    # module that never returns is stopped by an alarm (errors.time_limit), verdict incomplete
    with time_limit(max_seconds, "importing and building the model"):
        layout = _load_arch(arch) if arch else None
        cm = sc.build(variant, overrides, arch=layout, memory_model=memory_model)
    race = sc.race_steps(variant, cm) if coverage else []
    if max_states is None:
        max_states = sc.max_states
    remaining = None if max_seconds is None else max(max_seconds - (time.perf_counter() - t0), 1e-3)
    progress = _Progress(sys.stderr.isatty())
    try:
        # the explorer checks its own clock every few thousand states; the alarm is the backstop
        # for one step of a user's model that never returns
        with time_limit(None if remaining is None else remaining * 1.5 + 5, "running one step of the model"), \
                sc.user_model_errors("exploring the model"):
            result = explore(cm, reduction=not (no_reduction or coverage or fp_bits), max_states=max_states,
                             max_seconds=remaining, progress=progress, graph=dot_file is not None,
                             coverage=coverage, reset_dead=reset_dead, fingerprints=fp_bits,
                             symmetry=symmetry)
    finally:
        progress.close()
    if dot_file:
        _write_dot(result, dot_file, sc.name)
    if as_json:
        out = run_json(sc, variant, result, overrides)
        if symmetry:
            out["symmetry"] = _symmetry_json(result)
        if coverage:
            out["coverage"] = _coverage_json(result.coverage, race)
        _emit_json(out)
    else:
        _print_run(sc, variant, result, overrides, _table_width(width), symmetry)
        if coverage:
            _print_coverage(result.coverage, race)
    sys.exit({HOLDS: EXIT_OK, VIOLATED: EXIT_VIOLATED, INCOMPLETE: EXIT_INCOMPLETE}[result.verdict])


def _coverage_json(cov, race) -> dict:
    out = cov.to_json()
    out["race"] = [{"step": f"{t}.{lab}", "fired": cov.fired(t, lab)} for t, lab in race]
    return out


def _print_coverage(cov, race) -> None:
    """Per thread, each step with the transitions that fired it; then the never-fired ones and the
    declared race steps."""
    click.echo("")
    click.echo("Coverage (transitions fired per step" + ("" if cov.complete else
               "; the search stopped early, so only what it explored") + "):")
    race_set = set(race)
    for ti, t in enumerate(cov.model.threads):
        click.echo(f"  {t.name}")
        lw = max((len(st.label) for st in t.steps), default=0)
        for st in t.steps:
            n = cov.counts[ti][st.index]
            mark = "  race" if (t.name, st.label) in race_set else ""
            click.echo(f"    {st.label.ljust(lw)}  {n:>8}{'  never fired' if n == 0 else ''}{mark}".rstrip())
    never = cov.never_fired()
    total = sum(len(t.steps) for t in cov.model.threads)
    click.echo(f"  {total - len(never)}/{total} steps fired" +
               (f"; never fired: {', '.join(f'{t}.{lab}' for t, lab in never)}" if never else ""))
    if race:
        missing = [f"{t}.{lab}" for t, lab in race if cov.fired(t, lab) == 0]
        click.echo(f"  race steps: {len(race) - len(missing)}/{len(race)} fired" +
                   (f"; never fired: {', '.join(missing)}" if missing else ""))


def _load_arch(arch: str):
    from .layout import load_layout, resolve
    return load_layout(arch) if arch.endswith(".toml") else resolve([arch])[0]


def _write_dot(result, path: str, name: str) -> None:
    from .trace import explored_graph, to_dot
    if len(result.edges) > DOT_MAX_TRANSITIONS:
        click.echo(f"pteverify: --dot: {len(result.edges)} transitions is too many to draw "
                   f"(limit {DOT_MAX_TRANSITIONS}); {path} not written", err=True)
        return
    _write_output(path, to_dot(explored_graph(result), name), "--dot")


def _symmetry_json(result) -> dict:
    sym = result.model.symmetry
    return {"used": result.stats.symmetry_used,
            "groups": [[result.model.thread_names[ti] for ti in tis] for tis, _ in sym.groups] if sym else []}


def _symmetry_words(result) -> str:
    sym = result.model.symmetry
    if sym is None:
        return "on (no symmetric threads declared: full search)"
    groups = "; ".join("/".join(result.model.thread_names[ti] for ti in tis) for tis, _ in sym.groups)
    return f"on ({groups}: one state per orbit)"


def _reduction_words(result) -> str:
    if not result.reduction:
        return "off"
    if not result.stats.reduction_used:
        return "on (no step of this model can reduce: full search)"
    n = result.stats.reduced_expansions
    return f"on (ample sets at {n} state{'' if n == 1 else 's'})"


def _table_width(width: int | None) -> int | None:
    """--width, else COLUMNS, else the terminal's width; None (columns of up to 40) in a pipe."""
    if width:
        return width
    try:
        cols = int(os.environ.get("COLUMNS", ""))
        if cols >= 40:
            return cols
    except ValueError:
        pass
    if sys.stdout.isatty():
        import shutil
        return max(40, shutil.get_terminal_size().columns)
    return None


def _print_run(sc, variant, result, overrides, width: int | None = None, symmetry: bool = False) -> None:
    from .trace import race_table
    colour = _colour(sys.stdout)
    st = result.stats
    verdict = result.verdict.upper()
    if colour:
        verdict = click.style(verdict, fg={"HOLDS": "green", "VIOLATED": "red"}.get(verdict, "yellow"),
                              bold=True)
    stands = f" [{variant.stands_for}]" if variant.stands_for else ""
    what = f"{sc.name}, variant {variant.name}{stands}"
    if overrides:
        what += ", " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    if result.model.model.knobs is not None and result.model.model.knobs.arch is not None:
        what += f", arch {result.model.model.knobs.arch.name}"
    if getattr(result.model, "memory_model", "sc") != "sc" or variant.memory_model not in (None, "sc"):
        what += f", memory model {result.model.memory_model}"
    line = f"{what}: {verdict}"
    if result.fingerprints is not None and result.verdict == HOLDS:
        fp = result.fingerprints
        line += (f" (probabilistic: {fp['bits']}-bit fingerprints, a state omitted with probability "
                 f"<= {fp['omission_probability']:.2g})")
    if result.verdict == VIOLATED:
        line += f" ({result.invariant})"
    elif result.verdict == INCOMPLETE:
        line += f" (search cut short by {result.bound.replace('_', '-')}; nothing proved)"
    click.echo(line)
    click.echo(f"  {st.states} states, {st.transitions} transitions, depth {st.max_depth}, "
               f"{st.seconds:.2f} s ({st.states_per_s:,.0f} states/s), "
               f"reduction {_reduction_words(result)}" +
               (f", symmetry {_symmetry_words(result)}" if symmetry else ""))
    if variant.expect and not overrides and result.verdict != INCOMPLETE and result.verdict != variant.expect:
        click.echo(f"  note: the scenario expects this variant to give '{variant.expect}'")
    if result.verdict == VIOLATED:
        click.echo("")
        click.echo(race_table(result, width=width))
        if result.trace_note:
            note = f"  ({result.trace_note})"
            if width:
                import textwrap
                note = "\n".join(textwrap.wrap(note, width, subsequent_indent="   "))
            click.echo(note)


# ------------------------------------------------------------------------------------------
# prove / layout


@cli.command("prove")
@click.argument("layouts", nargs=-1)
@click.option("--all", "all_layouts", is_flag=True, help="Prove every shipped layout.")
@click.option("--layout-file", "files", multiple=True, type=click.Path(dir_okay=False),
              help="A layout file of your own (repeatable).")
@click.option("--property", "properties", multiple=True, help="Prove only this property (repeatable).")
@click.option("--timeout", "timeout_s", type=SECONDS, default=30.0,
              show_default=True, help="Solver time limit per property, seconds (exceeded: unknown).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-v", "--verbose", is_flag=True, help="Every property of every layout, even when proved.")
@click.option("--kernel-tree", "kernel_tree", type=click.Path(file_okay=False),
              help="Also prove the layout extracted from this kernel tree's headers (see `extract layout`).")
@click.option("--arch", "k_arch", metavar="ARCH", help="With --kernel-tree: the arch/ directory.")
@click.option("--config", "k_config", type=click.Path(dir_okay=False), help="With --kernel-tree: a .config file.")
@click.option("--set", "k_sets", multiple=True, metavar="CONFIG_X=y", help="With --kernel-tree: a config symbol (repeatable).")
@click.option("--preset", "k_preset", metavar="LAYOUT", help="With --kernel-tree: start from this shipped layout's config.")
@click.option("--no-exception", "no_exception", is_flag=True,
              help="Drop the never-created exception (type 0 with offset 0 or >= UINT_MAX) from the present/none properties.")
@click.option("--confirm", is_flag=True,
              help="Second opinion from the system C compiler: every counterexample and a sample of every macro, "
                   "compiled at -O0 and -O2 (and -fsanitize=undefined), must agree with pteverify.")
@click.option("--cc", "cc_path", metavar="PATH", help="The C compiler for --confirm (default: $CC, cc, gcc, clang); implies --confirm.")
@click.option("--samples", type=click.IntRange(min=0), default=2000, show_default=True,
              help="--confirm: pseudo-random inputs per macro, besides the edge values.")
def prove_cmd(layouts, all_layouts, files, properties, timeout_s, as_json, verbose,
              kernel_tree, k_arch, k_config, k_sets, k_preset, no_exception, confirm, cc_path, samples):
    """Prove swap-PTE layout properties with Z3 for all values."""
    from .layout import PROPERTY_NAMES, format_report, load_layout, prove_layout, resolve, shipped_layout_paths
    from .layout.confirm import confirm_summary, format_confirm
    for p in properties:
        if p not in PROPERTY_NAMES:
            raise BadInput(f"unknown property {p!r} (properties: {', '.join(PROPERTY_NAMES)})")
    if all_layouts and layouts:
        raise BadInput("give layout names or --all, not both")
    names = sorted(shipped_layout_paths()) if all_layouts else list(layouts)
    chosen = resolve(names) + [load_layout(f) for f in files]
    if kernel_tree:
        from .layout.extract import extract_layout
        chosen.append(extract_layout(kernel_tree, k_arch, k_config, k_sets, k_preset)[1])
    elif k_arch or k_config or k_sets or k_preset:
        raise BadInput("--arch, --config, --set and --preset go with --kernel-tree")
    if not chosen:
        raise BadInput("nothing to prove: name layouts, or use --all or --layout-file FILE")
    compiler = None
    if confirm or cc_path is not None:
        from .layout.confirm import ConfirmError, find_compiler
        try:
            compiler = find_compiler(cc_path)
        except ConfirmError as e:
            raise BadInput(str(e)) from None
    reports = [prove_layout(lay, list(properties) or None, timeout_s, exception=not no_exception)
               for lay in chosen]
    confirms = _confirm_reports(reports, compiler, samples) if compiler else None
    if as_json:
        out = [r.to_json() for r in reports]
        for d, c in zip(out, confirms or []):
            d["confirm"] = c.to_json()
        _emit_json({"layouts": out})
    else:
        colour = _colour(sys.stdout)
        compact = len(reports) > 1 and not verbose
        width = max(len(r.layout.name) for r in reports)
        for r in reports:
            c = confirms[reports.index(r)] if confirms else None
            if compact and r.verdict == "proved":
                cap = r.capacity
                click.echo(f"{r.layout.name.ljust(width)}  proved  {len(r.properties)} properties, "
                           f"{r.seconds:.2f}s  (type {cap.get('type_bits')} bits, "
                           f"offset {cap.get('offset_bits')} bits)"
                           + (f"; cc agrees ({c.evaluations} evaluations)" if c and c.ok and not c.notes else ""))
                if c and (not c.ok or c.notes):
                    click.echo("\n".join(format_confirm(c)))
            else:
                click.echo(format_report(r, colour))
                if c:
                    click.echo("\n".join(format_confirm(c)))
    # a disproof declared in the layout's [known_findings] (a kernel bug, faithfully transcribed) is
    # expected, as `check` expects it; any other disproof is a failure
    known = [(r, p) for r in reports for p in r.properties
             if p.verdict == "disproved" and p.name in r.layout.known_findings]
    unexpected = [(r, p) for r in reports for p in r.properties
                  if p.verdict == "disproved" and p.name not in r.layout.known_findings]
    unknown = [r for r in reports if r.verdict == "unknown"]
    if not as_json and len(reports) > 1:
        proved = sum(1 for r in reports if r.verdict == "proved")
        line = f"{len(reports)} layouts: {proved} proved, {len(known)} known kernel findings disproved as expected"
        if unexpected:
            line += f", {len(unexpected)} unexpected disproofs ({', '.join(f'{r.layout.name} {p.name}' for r, p in unexpected)})"
        if unknown:
            line += f", {len(unknown)} unknown"
        click.echo(f"{line}; {sum(r.seconds for r in reports):.2f}s")
    if not as_json and confirms:
        click.echo(confirm_summary(confirms))
    if confirms and any(not c.ok for c in confirms):
        sys.exit(EXIT_VIOLATED)
    sys.exit(EXIT_VIOLATED if unexpected else EXIT_INCOMPLETE if unknown else EXIT_OK)


def _confirm_reports(reports, compiler, samples):
    """prove --confirm: the compiled programs' second opinion on every report."""
    from .layout.confirm import ConfirmError, attach, confirm_layouts
    try:
        confirms = confirm_layouts([(r.layout, r) for r in reports], compiler, samples)
    except ConfirmError as e:
        raise BadInput(str(e)) from None
    for r, c in zip(reports, confirms):
        attach(r, c)
    return confirms


@cli.group("layout")
def layout_group():
    """Inspect swap-PTE layouts."""


@layout_group.command("show")
@click.argument("layout")
@click.option("--layout-file", "is_file", is_flag=True, help="LAYOUT is a path to a layout file.")
def layout_show_cmd(layout, is_file):
    """Draw LAYOUT's swap-PTE bit diagram."""
    from .layout import load_layout, render_layout, resolve
    lay = load_layout(layout) if is_file or layout.endswith(".toml") else resolve([layout])[0]
    click.echo(render_layout(lay, _colour(sys.stdout)))


# ------------------------------------------------------------------------------------------
# check


@cli.command("check")
@click.option("--jobs", "-j", "n_jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run scenario variants and layouts over this many processes.")
@click.option("--executor", type=click.Choice(["local", "dask", "ray"]), default="local", show_default=True,
              help="Where the jobs run: this machine, a dask.distributed cluster (pip install 'pteverify[dask]') or a ray cluster (pip install 'pteverify[ray]').")
@click.option("--scheduler", metavar="ADDRESS",
              help="With --executor dask: the scheduler to use (e.g. tcp://host:8786); with --executor ray: the cluster address (auto, host:6379, ray://host:10001); default: a local cluster of --jobs workers.")
@click.option("--only", "only", multiple=True, metavar="PATTERN",
              help="Only jobs whose id or name matches this glob (repeatable): 'odirect-*', 'layout/x86*'.")
@click.option("--scenarios", "scenarios_dir", type=click.Path(file_okay=False, exists=True),
              help="Scenario files from this directory instead of the shipped ones.")
@click.option("--layouts", "layouts_dir", type=click.Path(file_okay=False, exists=True),
              help="Layout files from this directory instead of the shipped ones.")
@click.option("--no-layouts", is_flag=True, help="Skip the layout proofs.")
@click.option("--arch", "archs", multiple=True, metavar="LAYOUT|all",
              help="Also run the arch-aware scenarios with their swap PTEs encoded by this layout (repeatable; 'all': every shipped layout).")
@click.option("--changed-only", is_flag=True,
              help="Rerun only jobs whose content hash differs from the baseline report; keep its passing results.")
@click.option("--baseline", type=click.Path(dir_okay=False), default=".pteverify/check.json", show_default=True,
              help="The report --changed-only compares with; every check writes its JSON here.")
@click.option("--max-seconds", type=SECONDS, default=600.0, show_default=True,
              help="Per scenario variant: a longer search is incomplete, which fails the check.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.option("--sarif", "sarif_file", type=click.Path(dir_okay=False), help="Write a SARIF 2.1.0 report.")
@click.option("--markdown", "md_file", type=click.Path(dir_okay=False), help="Write a Markdown summary.")
@click.option("--update-golden", is_flag=True, help="Write every variant's state count into its scenario file, then exit.")
@click.option("--symmetry", is_flag=True, help="Symmetry reduction on the scenarios that declare symmetric threads (golden state counts are not compared then).")
@click.option("--memory-model", "memory_model", type=click.Choice(["sc", "tso", "arm64"]),
              help="Run the variants that name no memory model of their own under this one (no golden state counts).")
def check_cmd(n_jobs, executor, scheduler, only, scenarios_dir, layouts_dir, no_layouts, archs, changed_only, baseline, max_seconds,
              as_json, junit_file, sarif_file, md_file, update_golden, symmetry, memory_model):
    """The CI gate: every scenario variant against its expected verdict (and golden state count),
    every layout property proved; exit 0 only when every expectation is met."""
    from pathlib import Path

    from . import check as chk
    from .report import junit_xml, markdown, sarif
    for opt, path in (("--junit", junit_file), ("--sarif", sarif_file), ("--markdown", md_file),
                      ("--baseline", None if update_golden else baseline)):
        if path:
            _check_writable(path, opt)
    if update_golden:
        for name, variant, old, new in chk.update_golden(Path(scenarios_dir) if scenarios_dir else None, only):
            click.echo(f"{name}:{variant}: states {old} -> {new}")
        return
    arch_files = []
    for a in archs:
        if a == "all":
            from .layout import shipped_layout_paths
            arch_files += [str(p) for _, p in sorted(shipped_layout_paths().items())]
        else:
            arch_files.append(str(_load_arch(a).path))
    t0 = time.perf_counter()
    jobs = chk.plan(Path(scenarios_dir) if scenarios_dir else None, Path(layouts_dir) if layouts_dir else None,
                    tuple(only), tuple(arch_files), max_seconds=max_seconds, include_layouts=not no_layouts,
                    symmetry=symmetry, memory_model="" if memory_model in (None, "sc") else memory_model)
    if not jobs:
        raise BadInput("nothing to check: no scenario or layout matches" + (f" {' '.join(only)}" if only else ""))
    order = {job.id: i for i, job in enumerate(jobs)}
    kept = []
    if changed_only:
        jobs, kept = chk.reuse_unchanged(jobs, chk.load_baseline(Path(baseline)))
    if scheduler and executor == "local":
        raise BadInput("--scheduler is for --executor dask or ray")
    # more processes than jobs or cores only costs memory and start-up time (a cluster has its own)
    if not scheduler:
        n_jobs = max(1, min(n_jobs, len(jobs), os.cpu_count() or 1))
    progress = _CheckProgress(sys.stderr.isatty() and not as_json)
    try:
        results = chk.run_jobs(jobs, n_jobs, progress, executor=executor, scheduler=scheduler)
    finally:
        progress.close()
    results = chk.in_plan_order(kept + results, order)
    seconds = time.perf_counter() - t0
    report = chk.report_json(results, seconds, n_jobs)
    if as_json:
        _emit_json(report)
    else:
        _print_check(results, report["summary"])
    _write_output(baseline, chk.report_text(report), "--baseline")
    if junit_file:
        _write_output(junit_file, junit_xml(results, seconds), "--junit")
    if sarif_file:
        _write_output(sarif_file, json.dumps(sarif(results), indent=1), "--sarif")
    if md_file:
        _write_output(md_file, markdown(results, seconds, n_jobs), "--markdown")
    errors = {r.error for r in results if r.verdict == "error"}
    if "internal" in errors:
        click.echo("pteverify: internal error in a job (see its row; please report it)", err=True)
        sys.exit(EXIT_INTERNAL)
    bad = [r for r in results if r.verdict == "error" and r.error == "bad-input"]
    if bad:
        more = f" (and {len(bad) - 1} more; see the rows above)" if len(bad) > 1 else ""
        click.echo(f"pteverify: {one_line(bad[0].message)}{more}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(EXIT_OK if report["summary"]["ok"] else EXIT_VIOLATED)


def _check_writable(path: str, option: str) -> None:
    """Before any work: an output file must be creatable (its directory exists and is writable) and
    not a directory, so a long run never ends in a lost report."""
    p = Path(path)
    if p.is_dir():
        raise BadInput(f"{option} {path}: is a directory")
    existed = p.exists()
    try:
        if option == "--baseline":
            p.parent.mkdir(parents=True, exist_ok=True)      # .pteverify/ by default
        with open(p, "a"):
            pass
    except OSError as e:
        raise BadInput(f"{option} {path}: cannot write: {e.strerror}") from None
    if not existed:
        try:
            p.unlink()
        except OSError:
            pass


def _write_output(path: str, text: str, option: str) -> None:
    p = Path(path)
    try:
        if option == "--baseline":
            p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    except OSError as e:
        raise BadInput(f"{option} {path}: cannot write: {e.strerror}") from None


class _CheckProgress:
    def __init__(self, enabled: bool):
        self.bar = None
        self.enabled = enabled

    def __call__(self, done, total, job):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit=" jobs", file=sys.stderr, leave=False, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)
        self.bar.set_postfix_str(job.id, refresh=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _reproduce(r) -> str:
    """The command that reproduces a failed check row on its own."""
    from .scenario import specs_dir
    shipped = Path(r.file).resolve().parent in ((specs_dir() / "scenarios").resolve(), (specs_dir() / "arch").resolve())
    if r.kind == "scenario":
        target = r.name if shipped else r.file
        arch = f" --arch {r.arch}" if r.arch else ""
        return f"pteverify run {target} --variant {r.item}{arch}"
    return f"pteverify prove {r.name}" if shipped else f"pteverify prove --layout-file {r.file}"


def _print_check(results, summ) -> None:
    colour = _colour(sys.stdout)

    def paint(text, ok):
        return click.style(text, fg="green" if ok else "red", bold=not ok) if colour else text

    scen = [r for r in results if r.kind == "scenario"]
    if scen:
        def label(r):
            return f"{r.name}:{r.item}" + (f"@{r.arch}" if r.arch else "")

        def verdict_of(r):
            return r.verdict + (f" ({r.invariant})" if r.invariant else "")
        w = max(len(label(r)) for r in scen)
        vw = max(len(verdict_of(r)) for r in scen)
        sw = max(len(str(r.states or "")) for r in scen)
        click.echo("Scenarios:")
        for r in scen:
            tag = "ok  " if r.status == "pass" else "FAIL"
            states = f"{str(r.states or '').rjust(sw)} states" if r.states else ""
            cached = " (cached)" if r.cached else ""
            again = f"  {_reproduce(r)}" if r.status != "pass" else ""
            line = f"  {paint(tag, r.status == 'pass')} {label(r).ljust(w)}  {verdict_of(r).ljust(vw)}  {states.ljust(sw + 7)}{cached}{again}"
            click.echo(line.rstrip())
            if r.status != "pass":
                click.echo(f"       {r.message}")
    lay = [r for r in results if r.kind != "scenario"]
    if lay:
        by: dict[str, list] = {}
        for r in lay:
            by.setdefault(r.name, []).append(r)
        w = max(len(n) for n in by)
        click.echo("Layouts:")
        for name, rs in by.items():
            bad = [r for r in rs if r.status != "pass"]
            known = [r.item for r in rs if r.verdict == "disproved" and r.status == "pass"]
            tag = "ok  " if not bad else "FAIL"
            extra = f"  known findings: {', '.join(known)}" if known else ""
            click.echo(f"  {paint(tag, not bad)} {name.ljust(w)}  {sum(r.verdict == 'proved' for r in rs)} proved{extra}")
            if bad:
                click.echo(f"       reproduce: {_reproduce(bad[0])}")
            for r in bad:
                click.echo(f"       {r.item}: {r.message}")
    ok = summ["ok"]
    click.echo(paint(f"{summ['passed']}/{summ['total']} expectations met" + ("" if ok else f", {summ['failed']} unmet"),
                     ok) + f" ({summ['seconds']:.1f} s, {summ['jobs']} job(s)" +
               (f", {summ['cached']} cached" if summ['cached'] else "") + ")")


# ------------------------------------------------------------------------------------------
# mutate


@cli.command("litmus")
@click.argument("scenario")
@click.option("--variant", "variant_name", help="Variant to write; default: the scenario's default.")
@click.option("-o", "--output", "out_file", type=click.Path(dir_okay=False), help="Write the litmus test to this file (default: stdout).")
def litmus_cmd(scenario, variant_name, out_file):
    """Write SCENARIO's lockless program as a C litmus test in the format of the kernel's
    tools/memory-model tests, which herd7 reads (herd7 -conf linux-kernel.cfg FILE)."""
    from .litmus import to_c
    sc = get_scenario(scenario)
    variant = sc.variant(variant_name)
    if out_file:
        _check_writable(out_file, "-o")
    model = sc.builder(sc.knob_values(variant))
    prog = getattr(model, "litmus", None)
    if prog is None:
        raise BadInput(f"scenario {sc.name}: its model is not a litmus program (the litmus-* scenarios are); "
                       f"`pteverify show {sc.name}` lists its lockless steps")
    text = to_c(prog)
    if out_file:
        _write_output(out_file, text, "-o")
    else:
        click.echo(text, nl=False)


@cli.command("mutate")
@click.argument("scenarios", nargs=-1)
@click.option("--all", "all_scenarios", is_flag=True, help="Every shipped scenario.")
@click.option("--jobs", "-j", "n_jobs", type=click.IntRange(min=1), default=None,
              help="Run mutants over this many processes (default: the CPUs, at most 8).")
@click.option("--operator", "operators", multiple=True,
              type=click.Choice(["skip-effect", "drop-guard", "swap-next", "drop-lock", "drop-unlock", "drop-outcome"]),
              help="Only this mutation operator (repeatable).")
@click.option("--state-factor", type=click.IntRange(min=1), default=None,
              help="A mutant may explore this many times its variant's states before it is incomplete (default 50).")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Per mutant and variant: a longer search is incomplete (default 60).")
@click.option("--min-score", type=click.FloatRange(0, 100), default=None,
              help="Exit 1 if the kill rate over the mm scenarios is below this percentage.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", "md_file", type=click.Path(dir_okay=False), help="Write the per-scenario table as Markdown.")
@click.option("--explained", "require_explained", is_flag=True,
              help="Exit 1 if a survivor is not recorded in its scenario file ([[survivor]] with a reason).")
@click.option("-v", "--verbose", is_flag=True, help="List killed mutants too, with what killed them.")
def mutate_cmd(scenarios, all_scenarios, n_jobs, operators, state_factor, max_seconds, min_score, as_json,
               md_file, require_explained, verbose):
    """Mutation testing: break each step of the holding variants' models (skip its effect, drop its
    guard, swap it with the next step, leave a lock out, drop an outcome) and report which mutants
    no check kills.

    Exit 0, or 1 when --min-score is not met, an `[[equivalent]]` or `[[survivor]]` mutant is
    killed, or (with --explained) a survivor has no `[[survivor]]` reason."""
    from . import mutate as mut
    from .check import default_jobs
    if all_scenarios and scenarios:
        raise BadInput("give scenario names or --all, not both")
    if not all_scenarios and not scenarios:
        raise BadInput("nothing to mutate: name scenarios, or use --all")
    chosen = list(load_scenarios().values()) if all_scenarios else [get_scenario(n) for n in scenarios]
    n_jobs = n_jobs or default_jobs()
    t0 = time.perf_counter()
    progress = _MutateProgress(sys.stderr.isatty() and not as_json)
    try:
        reports = mut.mutate_scenarios(
            chosen, n_jobs=n_jobs, operators=tuple(operators),
            factor=state_factor or mut.DEFAULT_STATE_FACTOR,
            max_seconds=max_seconds or mut.DEFAULT_MAX_SECONDS, progress=progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    mm_total = mut.totals(reports, ("mm",))
    other_total = mut.totals([r for r in reports if r.kind != "mm"])
    stale = mm_total["stale_equivalent"] + other_total["stale_equivalent"]
    below = (min_score is not None and mm_total["score"] is not None
             and mm_total["score"] * 100 < min_score)
    unexplained = mm_total["unexplained_survivors"] + other_total["unexplained_survivors"]
    below = below or (require_explained and unexplained > 0)
    if md_file:
        from pathlib import Path
        Path(md_file).write_text(mut.markdown_table(reports))
    if as_json:
        _emit_json({"seconds": round(seconds, 3), "jobs": n_jobs,
                    "totals": {"mm": mm_total, "other": other_total},
                    "min_score": min_score, "ok": not (stale or below),
                    "scenarios": [r.to_json() for r in reports]})
    else:
        _print_mutate(reports, mm_total, other_total, seconds, n_jobs, verbose)
        if min_score is not None and mm_total["score"] is not None and mm_total["score"] * 100 < min_score:
            click.echo(f"kill rate {mm_total['score'] * 100:.1f} % is below --min-score {min_score:g} %")
        if require_explained and unexplained:
            click.echo(f"{unexplained} survivor(s) without a [[survivor]] reason in their scenario file")
    sys.exit(EXIT_VIOLATED if stale or below else EXIT_OK)


class _MutateProgress:
    def __init__(self, enabled: bool):
        self.bar = None
        self.enabled = enabled

    def __call__(self, done, total):
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit=" mutants", file=sys.stderr, leave=False, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _pct(score) -> str:
    return "-" if score is None else f"{score * 100:.1f} %"


def _print_mutate(reports, mm_total, other_total, seconds, n_jobs, verbose) -> None:
    colour = _colour(sys.stdout)
    width = max((len(r.scenario) for r in reports), default=8)
    click.echo(f"{'scenario'.ljust(width)}  mutants  killed  survived  equivalent  invalid  incomplete  score")
    for r in reports:
        c = r.summary()
        click.echo(f"{r.scenario.ljust(width)}  {c['mutants']:>7}  {c['killed']:>6}  {c['survived']:>8}  "
                   f"{c['equivalent']:>10}  {c['invalid']:>7}  {c['incomplete']:>10}  {_pct(r.score):>7}"
                   + (f"  ({r.kind})" if r.kind != "mm" else ""))
        if r.note:
            click.echo(f"  {r.note}")
        for m in r.mutants:
            if m.status == "killed" and not m.stale and not verbose:
                continue
            tag = m.status if not m.stale else f"KILLED, marked {m.marked or 'equivalent'}"
            if colour and ((m.status == "survived" and not m.explained) or m.stale):
                tag = click.style(tag, fg="red", bold=True)
            detail = {"killed": f"by {m.variant}: {m.how}",
                      "survived": (f"known gap: {m.reason}" if m.explained else m.ref),
                      "equivalent": m.reason, "invalid": m.how,
                      "incomplete": f"{m.variant}: {m.how}"}[m.status]
            if m.stale:
                detail = f"by {m.variant}: {m.how} (the scenario file says: {m.reason})"
            click.echo(f"  {tag:<10} {m.step} {m.operator}: {detail}")
        if r.unreached and verbose:
            click.echo(f"  unreached steps (no mutants): {', '.join(r.unreached)}")
    for name, t in (("mm scenarios", mm_total), ("engine-validation scenarios", other_total)):
        if t["scenarios"]:
            click.echo(f"{name}: {t['mutants']} mutants, {t['killed']} killed, {t['survived']} survived "
                       f"({t['survived'] - t['unexplained_survivors']} explained), "
                       f"{t['equivalent']} equivalent, {t['invalid']} invalid, {t['incomplete']} incomplete: "
                       f"kill rate {_pct(t['score'])}")
    click.echo(f"({seconds:.1f} s, {n_jobs} process(es); score = killed / (mutants - equivalent - invalid))")


# ------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------
# kernel tree: anchors and the patch gate



@cli.command("anchors")
@click.argument("scenarios", nargs=-1)
@click.option("--kernel-tree", "tree_dir", required=True, type=click.Path(file_okay=False),
              help="Root of a kernel source tree (mm/, include/, arch/ ...).")
@click.option("--variant", "variant_names", multiple=True, help="Check only these variants (the default is always checked).")
@click.option("--scenarios", "scenarios_dir", type=click.Path(file_okay=False, exists=True),
              help="Scenario directory (default: the shipped scenarios).")
@click.option("--names", "names_file", type=click.Path(dir_okay=False, exists=True),
              help="Renamed anchor calls (a [renamed] table; default: the shipped anchor-names.toml).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-v", "--verbose", is_flag=True, help="Every path of every variant, not only the findings.")
def anchors_cmd(scenarios, tree_dir, variant_names, scenarios_dir, names_file, as_json, verbose):
    """Check each model step's kernel function and anchor calls, and their order, against a kernel
    tree. Exit 0 when every default variant matches, 1 when one drifts or names calls the tree
    lacks (a finding about the model or the tree, reported, not an error)."""
    from pathlib import Path

    from . import anchors as anc
    from .kernel.git import GitTree
    tree = GitTree(Path(tree_dir))
    all_sc = load_scenarios(Path(scenarios_dir) if scenarios_dir else None)
    if scenarios:
        chosen = []
        for name in scenarios:
            chosen.append(all_sc[name] if name in all_sc else get_scenario(name))
    else:
        chosen = [sc for sc in all_sc.values() if sc.kind == "mm"]
    renamed = anc.load_names(names_file)
    reports = []
    for sc in chosen:
        names = [v for v in variant_names if v in {x.name for x in sc.variants}] or None
        reports.append(anc.check_scenario(sc, tree, names, renamed))
    summ = anc.summary(reports)
    if as_json:
        _emit_json({"kernel_tree": str(tree_dir), "summary": summ, "scenarios": [r.to_json() for r in reports]})
    else:
        _print_anchors(reports, summ, verbose)
    sys.exit(EXIT_OK if summ["status"]["drift"] == 0 and summ["status"]["missing"] == 0 else EXIT_VIOLATED)


def _print_anchors(reports, summ, verbose) -> None:
    for r in reports:
        dv = r.default
        click.echo(f"{r.scenario} (default {dv.variant}): {dv.status}")
        for p in dv.paths:
            if not verbose and p.status == "matches":
                continue
            where = f"{p.file}:{p.line}" if p.line else p.file
            click.echo(f"  {p.function} ({where}): {p.status}, {p.orders_matched}/{p.orders_checked} orders hold, "
                       f"{len(p.anchors) - len(p.missing)}/{len(p.anchors)} anchors found")
            for d in p.drifts:
                click.echo(f"    {d.message}")
            if p.missing:
                click.echo(f"    missing: {', '.join(p.missing)}" + (f" ({p.note})" if p.line is None and p.note else ""))
        for v in r.variants:
            if v.default:
                continue
            drifts = [d for p in v.paths for d in p.drifts]
            if drifts or verbose:
                click.echo(f"  variant {v.variant}: {v.status}")
                for d in drifts:
                    click.echo(f"    {d.message}")
        for k in r.knobs:
            click.echo(f"  {k.message}")
    st = summ["status"]
    click.echo(f"Default variants: {summ['scenarios']} scenarios: {st['matches']} match, {st['drift']} drift, "
               f"{st['missing']} name calls the tree lacks; {summ['paths']} functions, {summ['steps']} steps, "
               f"{summ['anchors_found']}/{summ['anchors']} anchors found, {summ['orders_matched']}/"
               f"{summ['orders_checked']} orders hold, {summ['drifts']} drifts.")


@cli.command("gate")
@click.option("--kernel-tree", "tree_dir", required=True, type=click.Path(file_okay=False),
              help="Root of a git kernel tree.")
@click.option("--base", default="HEAD~1", show_default=True, help="Revision the change is measured from.")
@click.option("--only", "only", multiple=True, metavar="SCENARIO", help="Consider only these scenarios.")
@click.option("--scenarios", "scenarios_dir", type=click.Path(file_okay=False, exists=True),
              help="Scenario directory (default: the shipped scenarios).")
@click.option("--layouts", "layouts_dir", type=click.Path(file_okay=False, exists=True),
              help="Layout directory (default: the shipped layouts).")
@click.option("--max-seconds", type=SECONDS, default=600.0, show_default=True,
              help="Bound on each scenario's search (verdict incomplete past it).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.option("--sarif", "sarif_file", type=click.Path(dir_okay=False),
              help="Write a SARIF 2.1.0 report whose results point at kernel files and lines.")
def gate_cmd(tree_dir, base, only, scenarios_dir, layouts_dir, max_seconds, as_json, junit_file, sarif_file):
    """CI gate for a kernel change: the files changed since --base decide which layouts are
    re-proved, which model anchors re-checked and which scenarios run (with the knob values the
    tree corresponds to). Exit 0 when all pass, 1 otherwise."""
    from pathlib import Path

    from .gate import run_gate
    from .report import junit_xml, sarif
    for path, opt in ((junit_file, "--junit"), (sarif_file, "--sarif")):
        if path:
            _check_writable(path, opt)
    rep = run_gate(Path(tree_dir), base, Path(scenarios_dir) if scenarios_dir else None,
                   Path(layouts_dir) if layouts_dir else None, tuple(only), max_seconds)
    if junit_file:
        _write_output(junit_file, junit_xml(rep.results, rep.seconds), "--junit")
    if sarif_file:
        _write_output(sarif_file, json.dumps(sarif(rep.results), indent=1), "--sarif")
    if as_json:
        _emit_json(rep.to_json())
    else:
        click.echo(f"gate: {len(rep.changed)} files changed since {base}; layouts {', '.join(rep.layouts) or '-'}; "
                   f"scenarios {', '.join(rep.scenarios) or '-'}")
        for r in rep.results:
            tag = "ok  " if r.status == "pass" else "FAIL"
            loc = r.details.get("location")
            at = f" [{loc['file']}:{loc['line']}]" if loc else ""
            click.echo(f"  {tag} {r.kind} {r.name}: {r.item}: {r.message}{at}")
        for n in rep.notes:
            click.echo(f"  {n}")
        failed = sum(r.status != "pass" for r in rep.results)
        click.echo(f"gate: {'pass' if rep.ok else f'{failed} failed'} ({rep.seconds:.1f} s)")
    sys.exit(EXIT_OK if rep.ok else EXIT_VIOLATED)



def _short_usage() -> str:
    names = ", ".join(cli.list_commands(click.Context(cli)))
    return (f"usage: pteverify [--debug] COMMAND [ARGS]...  (commands: {names}; "
            f"`pteverify --help` or `pteverify COMMAND --help` for more)")


def main(argv: list[str] | None = None) -> None:
    """Console entry point, and the one place the error policy is enforced.

    Exit codes: 0 holds/proved, 1 violated/disproved, 2 bad input (one line: what and where),
    3 incomplete/unknown (a bound was reached), 4 internal error of pteverify (one line; `--debug`
    or PTEVERIFY_DEBUG=1 prints the traceback). Never a traceback by default, never 0 or 1 on an
    error: an exception raised by a user's own model code is bad input, naming its file and line;
    any other unexpected exception is an internal error."""
    args = sys.argv[1:] if argv is None else list(argv)
    global _DEBUG
    _DEBUG = bool(os.environ.get("PTEVERIFY_DEBUG")) or "--debug" in args[:1]
    if not args:
        click.echo(_short_usage(), err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        cli.main(args=args, prog_name="pteverify", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", EXIT_BAD_INPUT)
    except click.UsageError as e:
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        _fail(f"{one_line(e.format_message())}{hint}", EXIT_BAD_INPUT)
    except click.ClickException as e:
        _fail(one_line(e.format_message()), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except TimeLimit as e:
        _fail(str(e), EXIT_INCOMPLETE)
    except SystemExit as e:
        # the commands exit through sys.exit; a user's model calling it is bad input
        if user_location(e) is not None:
            _fail(describe_user_exception(e, "the model"), EXIT_BAD_INPUT, e)
        if e.code is not None and not isinstance(e.code, int):
            _fail(one_line(e.code), EXIT_BAD_INPUT)
        raise
    except BadInput as e:
        where = user_location(e)
        prefix = "model error: " if isinstance(e, ModelError) else ""
        loc = f" (at {where})" if isinstance(e, ModelError) and where and where not in str(e) else ""
        _fail(f"{prefix}{one_line(e)}{loc}", EXIT_BAD_INPUT, e)
    except OSError as e:
        if e.filename:
            _fail(f"{e.filename}: {e.strerror or one_line(e)}", EXIT_BAD_INPUT, e)
        _fail(f"{type(e).__name__}: {one_line(e)}", EXIT_INTERNAL, e)
    except MemoryError as e:
        _fail("out of memory: nothing proved (bound the search with --max-states)", EXIT_INCOMPLETE, e)
    except Exception as e:  # noqa: BLE001 - the one place every other exception is classified
        if user_location(e) is not None:
            _fail(describe_user_exception(e, "the model"), EXIT_BAD_INPUT, e)
        _fail(f"internal error: {type(e).__name__}: {one_line(e)} "
              f"({'traceback above' if _DEBUG else 'run with --debug for the traceback'}; "
              f"please report it)", EXIT_INTERNAL, e)


_DEBUG = False


def _fail(message: str, code: int, exc: BaseException | None = None):
    if _DEBUG and exc is not None:
        import traceback
        traceback.print_exception(exc, file=sys.stderr)
    try:
        click.echo(f"pteverify: {message}", err=True)
    finally:
        sys.exit(code)


from . import cli_kernel  # noqa: E402,F401  (registers `extract layout` and `layout diff`)
