"""The scenario registry: `specs/scenarios/*.toml`.

A scenario file names the model builder (`module:function`, a function of the knob values returning a
`Model`), the threads it runs, the invariants it checks, and its variants: named knob sets standing
for a kernel commit or release, each with the verdict the tool must give. `pteverify run` and the
tests read the same files, so an expectation lives in one place.

    name = "odirect-swapout"
    title = "O_DIRECT read vs swap-out: the DMA write must land in the mapped page"
    model = "pteverify.models.scenarios.anon_exclusive:odirect_swapout"   # or "my_model.py:build", beside this file
    threads = ["odirect", "reclaim", "writer"]          # checked against the built model
    invariants = ["gup_ref_is_mapped_page"]             # default: all the model defines
    default_variant = "v6.0"

    [[variants]]
    name = "v5.18"
    commit = "..."                                      # or release = "v5.18"
    description = "before mm/swap: remember PG_anon_exclusive via a swp pte bit"
    knobs = { "swap_out.remember_exclusive" = false }
    expect = "violated"                                 # holds | violated
    invariant = "gup_ref_is_mapped_page"                # with violated: which one (or "deadlock")

A "holds" is only worth its word if the interleaving it is about happened. `race` names the steps
whose interleaving the scenario is about, as `"label"` or, where a label is in several threads,
`"thread.label"`; `check` fails a holding variant in which one of them never fires (counted on the
unreduced search). A scenario-level `race` applies to every holding variant; a variant's own `race`
replaces it for that variant. A violated variant declares none: its search stops at the violation.

    race = ["reclaim.try_to_unmap_one", "odirect.gup_get_page"]

`pteverify mutate` breaks each step of the holding variants' models (see verifier/mutate.py); a
mutant no check can kill is recorded, with the reason, as

    [[equivalent]]
    step = "reclaim.try_to_unmap_one"                   # thread.label
    operator = "drop-guard"                             # or "drop-lock:ptl", "drop-outcome:1", ...
    reason = "the guard only repeats the lock wait"     # one line

A mutant that survives because no modelled interleaving or check reaches it yet (a real gap, not an
equivalence) is recorded as `[[survivor]]` with the same keys: it still counts as survived (the score
is unchanged), and the report shows the reason; `mutate --explained` fails on a survivor that has none.
"""

from __future__ import annotations

import copy

import contextlib
import importlib
import importlib.resources
import importlib.util
import marshal
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadInput, TimeLimit, read_text, describe_user_exception, one_line, user_location
from .schema import Key, SchemaViolation, Table, line_of, validate
from .model import CompiledModel, KnobError, Knobs, Model, ModelError, builder_knobs

VERDICTS = ("holds", "violated")
DEADLOCK_NAME = "deadlock"       # the name a deadlock is reported under (explore.DEADLOCK)
ARCH_KNOB_PREFIX = "arch."       # knobs that describe the architecture: --arch takes their place
_SCENARIO_KEYS = {"name", "title", "description", "model", "threads", "invariants", "default_variant",
                  "variants", "kind", "max_states", "race", "equivalent", "survivor", "progress"}
_VARIANT_KEYS = {"name", "commit", "release", "description", "knobs", "expect", "invariant", "states", "race",
                 "memory_model"}


class ScenarioError(BadInput, ValueError):
    """A scenario file or a user's choice of scenario/variant is wrong (exit code 2)."""


@dataclass
class Variant:
    name: str
    knobs: dict
    expect: str
    invariant: str | None = None
    commit: str | None = None
    release: str | None = None
    description: str = ""
    states: int | None = None          # golden state count (reduction on): drift fails `check`
    race: list | None = None           # race steps of this variant (None: the scenario's, if holding)
    memory_model: str | None = None    # sc | tso | arm64 (verifier/memmodel.py); None: sc

    @property
    def stands_for(self) -> str:
        return self.commit or self.release or ""


@dataclass
class Scenario:
    name: str
    title: str
    description: str
    model_ref: str
    path: Path
    threads: list
    invariants: list | None
    variants: list
    default_variant: str
    kind: str = "mm"
    max_states: int | None = None
    race: list = field(default_factory=list)     # race steps of every holding variant
    equivalent: list = field(default_factory=list)     # [{step, operator, reason}]: see mutate.py
    survivor: list = field(default_factory=list)       # [{step, operator, reason}]: known survivors
    progress: list = field(default_factory=list)       # [{name, finishes | fires | npc, doc}]
    _builder: Any = field(default=None, repr=False)

    # -- the builder ------------------------------------------------------------------------
    @property
    def model_file(self) -> Path | None:
        """A user's model module given by path (`model = "my_model.py:build"`, relative to the
        scenario file), or None for an importable module name."""
        mod = self.model_ref.partition(":")[0]
        return (self.path.parent / mod).resolve() if mod.endswith(".py") else None

    @property
    def builder(self):
        """The builder function, imported on first use. Whatever a user's model module does wrong
        while it is imported (raises, calls sys.exit, names no function) is a ScenarioError naming
        its file and line; `--max-seconds` bounds the import through errors.time_limit."""
        if self._builder is None:
            mod_name, _, fn_name = self.model_ref.partition(":")
            try:
                if self.model_file is not None:
                    spec = importlib.util.spec_from_file_location(
                        f"pteverify_user_model_{self.name.replace('-', '_')}", self.model_file)
                    if spec is None or not self.model_file.is_file():
                        raise ImportError(f"no such file {self.model_file}")
                    mod = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(mod)
                else:
                    mod = importlib.import_module(mod_name)
                fn = getattr(mod, fn_name)
            except (ImportError, AttributeError) as e:
                raise ScenarioError(f"{self.path}: model {self.model_ref!r} cannot be loaded: "
                                    f"{one_line(e)}") from None
            except (KeyboardInterrupt, TimeLimit):
                raise
            except BaseException as e:       # noqa: BLE001 - a user's module may raise anything
                if self.model_file is None and user_location(e) is None:
                    raise                    # a shipped model failing to import: pteverify's defect
                raise ScenarioError(describe_user_exception(
                    e, f"model {self.model_ref!r} (scenario {self.path}), while imported,")) from None
            if not callable(fn):
                raise ScenarioError(f"{self.path}: model {self.model_ref!r} is a {type(fn).__name__}, "
                                    f"not a builder function")
            self._builder = fn
        return self._builder

    @property
    def knobs(self) -> tuple:
        return builder_knobs(self.builder)

    @property
    def supports_arch(self) -> bool:
        """Can the model encode its swap PTEs with an arch layout's macros (`run --arch`)?"""
        return bool(getattr(self.builder, "arch_aware", False))

    def arch_variants(self) -> list:
        """The variants that run on an arch layout: those not describing an architecture themselves."""
        return [v for v in self.variants if not any(k.startswith(ARCH_KNOB_PREFIX) for k in v.knobs)]

    def variant(self, name: str | None) -> Variant:
        if name is not None and not name.strip():
            known = ", ".join(v.name for v in self.variants)
            raise ScenarioError(f"scenario {self.name}: empty variant name (variants: {known}; "
                                f"leave --variant out for the default, {self.default_variant})")
        name = self.default_variant if name is None else name
        for v in self.variants:
            if v.name == name:
                return v
        known = ", ".join(v.name for v in self.variants)
        raise ScenarioError(f"scenario {self.name} has no variant {name!r} (variants: {known})")

    def race_of(self, variant: Variant) -> list:
        """The race steps `variant` must fire, as written in the file (see the module doc)."""
        if variant.expect != "holds":
            return []
        return list(self.race if variant.race is None else variant.race)

    def race_steps(self, variant: Variant, cm: CompiledModel) -> list:
        """`race_of(variant)` resolved against the model built for it: [(thread, label)]. An unknown
        or ambiguous name is the file's mistake (ScenarioError)."""
        return resolve_race(cm, self.race_of(variant), f"{self.path}: variant {variant.name}")

    def knob_values(self, variant: Variant, overrides: dict | None = None) -> Knobs:
        """Knob values of `variant`, then the user's `--set` overrides (strings are parsed)."""
        knobs = Knobs(self.knobs)
        for k, v in variant.knobs.items():
            try:
                knobs.set(k, v)
            except KnobError as e:
                raise ScenarioError(f"{self.path}: variant {variant.name}: {e}") from None
        for k, v in (overrides or {}).items():
            knobs.set(k, v)        # KnobError: the user's mistake, reported by the CLI
        return knobs

    def build(self, variant: Variant, overrides: dict | None = None, arch=None,
              memory_model: str | None = None) -> CompiledModel:
        """Build the model of `variant` with the user's knob overrides; `arch`, a loaded swap-PTE
        layout, makes the model's swap PTEs real bit patterns of that layout; `memory_model`
        (sc | tso | arm64; default: the variant's, else sc) lets its lockless steps reorder."""
        knobs = self.knob_values(variant, overrides)
        if arch is not None:
            if not self.supports_arch:
                raise ScenarioError(f"scenario {self.name} does not model swap-PTE bits: --arch does not apply")
            fixed = sorted(k for k in {**variant.knobs, **(overrides or {})} if k.startswith(ARCH_KNOB_PREFIX))
            if fixed:
                raise ScenarioError(f"variant {variant.name} sets {', '.join(fixed)}: with --arch the layout "
                                    f"decides what the architecture has")
            knobs.arch = arch
        mm = memory_model or variant.memory_model or "sc"
        knobs.memory_model = mm          # a builder may drop SC-era hand-written reorderings
        builder = self.builder
        try:
            model = builder(knobs)
        except (KeyboardInterrupt, TimeLimit, BadInput):
            raise
        except BaseException as e:           # noqa: BLE001 - a user's builder may raise anything
            if user_location(e) is None:
                raise                        # a shipped builder failing: pteverify's defect (exit 4)
            raise ModelError(describe_user_exception(e, f"the builder {self.model_ref!r}")) from None
        if not isinstance(model, Model):
            raise ModelError(f"{self.model_ref} returned {type(model).__name__}, not a Model")
        model.knobs = knobs
        if self.invariants is not None:
            known = {i.name for i in model.invariants}
            missing = [n for n in self.invariants if n not in known]
            if missing:
                raise ScenarioError(f"{self.path}: invariants {missing} not defined by {self.model_ref}")
            model.invariants = [i for i in model.invariants if i.name in self.invariants]
        if variant.invariant is not None:
            checked = ({i.name for i in model.invariants} | {DEADLOCK_NAME} | {p.name for p in model.progress}
                       | {p["name"] for p in self.progress})
            if variant.invariant not in checked:
                raise ScenarioError(f"{self.path}: variant {variant.name}: invariant {variant.invariant!r} is not "
                                    f"checked by this scenario (checked: {', '.join(sorted(checked))})")
        names = [t.name for t in model.threads]
        if self.threads and names != list(self.threads):
            raise ScenarioError(f"{self.path}: threads {self.threads} but {self.model_ref} builds {names}")
        if mm != "sc":
            from .memmodel import transform
            with self.user_model_errors(f"applying memory model {mm}"):
                model = transform(model, mm)
        with self.user_model_errors("compiling the model"):
            cm = model.compile()
        cm.memory_model = mm
        if self.progress:
            cm.progress = cm.progress + self._progress_properties(cm)
        return cm

    def _progress_properties(self, cm: CompiledModel) -> list:
        """The file's [[progress]] entries, resolved against the built model (steps are named as in
        `race`: "label" or "thread.label")."""
        from .progress import FINISHES, FIRES, NPC, ProgressProperty
        out = []
        for i, p in enumerate(self.progress):
            where = f"{self.path}: progress[{i}] ({p['name']})"
            doc = p.get("doc", "")
            if "finishes" in p:
                if p["finishes"] not in cm.thread_names:
                    raise ScenarioError(f"{where}: no thread {p['finishes']!r} (threads: "
                                        f"{', '.join(cm.thread_names)})")
                out.append(ProgressProperty(p["name"], FINISHES, thread=p["finishes"], doc=doc))
            elif "fires" in p:
                (t, lab), = resolve_race(cm, [p["fires"]], where)
                out.append(ProgressProperty(p["name"], FIRES, thread=t, label=lab, doc=doc))
            else:
                out.append(ProgressProperty(p["name"], NPC, progress=tuple(resolve_race(cm, p["npc"], where)),
                                            doc=doc))
        return out

    @property
    def is_user_model(self) -> bool:
        """A model of the user's own (a file beside the scenario, or a module outside pteverify)."""
        return self.model_file is not None or not self.model_ref.startswith("pteverify.")

    @contextlib.contextmanager
    def user_model_errors(self, during: str):
        """Exceptions while a user's model is compiled or explored are the model's fault (exit 2):
        a step returning something that is not a dict of changes, say, fails inside the engine,
        after the user's code has returned, so the traceback alone cannot tell."""
        try:
            yield
        except (KeyboardInterrupt, TimeLimit, BadInput, MemoryError, RecursionError):
            raise
        except Exception as e:               # noqa: BLE001
            if not self.is_user_model:
                raise
            where = user_location(e)
            raise ModelError(f"{self.model_ref} (scenario {self.path}): {during}: {type(e).__name__}: "
                             f"{one_line(e)}" + (f" (at {where})" if where else "")) from None


def resolve_race(cm: CompiledModel, names: list, where: str) -> list:
    """Resolve race step names against a compiled model: `label` (a step of exactly one thread) or
    `thread.label` (labels may contain dots themselves: `writer.dsp.lookup` is thread writer's step
    dsp.lookup). Returns [(thread, label)]."""
    out = []
    for name in names:
        found = []
        for t in cm.threads:
            labels = {st.label for st in t.steps}
            if name.startswith(t.name + ".") and name[len(t.name) + 1:] in labels:
                found.append((t.name, name[len(t.name) + 1:]))
            if name in labels:
                found.append((t.name, name))
        if not found:
            head = name.partition(".")[0]
            if head in cm.thread_names:
                t = cm.threads[cm.thread_names.index(head)]
                hint = f"thread {head} has no step {name[len(head) + 1:]!r} (its steps: " \
                       f"{', '.join(st.label for st in t.steps)})"
            else:
                hint = f"no thread has a step {name!r} (threads: {', '.join(cm.thread_names)})"
            raise ScenarioError(f"{where}: race step {name!r}: {hint}")
        if len(found) > 1:
            raise ScenarioError(f"{where}: race step {name!r} is ambiguous: write one of "
                                f"{', '.join(f'{t}.{lab}' for t, lab in found)}")
        out.append(found[0])
    return out


def _race_list(value, where: str) -> list:
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ScenarioError(f"{where}: race must be a list of step labels (\"label\" or \"thread.label\")")
    dup = sorted({x for x in value if value.count(x) > 1})
    if dup:
        raise ScenarioError(f"{where}: race names {', '.join(dup)} twice")
    return list(value)


def specs_dir() -> Path:
    return Path(str(importlib.resources.files("pteverify.specs")))


def load_toml(path: Path, error=ScenarioError) -> dict:
    """A TOML file of the user's: not readable, not UTF-8 or not TOML is `error` naming file:line."""
    text = read_text(path, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise error(f"{path}:{m.group(1)}: TOML syntax: {msg} (column {m.group(2)})" if m
                    else f"{path}: TOML syntax: {msg}") from None


_NAME = r"[A-Za-z0-9][A-Za-z0-9._+^-]*"
_STEP = Key(str, nonempty=True)        # resolved against the built model (resolve_race)
_RACE_WANT = 'a list of step labels ("label" or "thread.label")'
_VARIANT_SCHEMA = Table({
    "name": Key(str, required=True, nonempty=True, pattern=_NAME, doc="a variant name (letters, digits, . _ + ^ -)"),
    "commit": Key(str, pattern=r"[0-9a-f]{7,40}\^?", doc="a kernel commit id (7-40 hex digits, ^ for its parent)"),
    "release": Key(str, nonempty=True),
    "description": Key(str),
    "knobs": Key(dict, values=Key((bool, int, str))),
    "expect": Key(str, required=True, choices=VERDICTS),
    "invariant": Key(str, nonempty=True),
    "states": Key(int, min=1, doc="the golden state count"),
    "race": Key(list, items=_STEP, expected=_RACE_WANT),
    "memory_model": Key(str, choices=("sc", "tso", "arm64"), doc="the memory model the variant runs under"),
})
SCENARIO_SCHEMA = Table({
    "name": Key(str, required=True, pattern=_NAME, doc="the file's name without .toml"),
    "title": Key(str),
    "description": Key(str),
    "model": Key(str, required=True, pattern=r"[^:\s]+:[A-Za-z_][A-Za-z0-9_]*",
                 doc='"module:function" or "file.py:function"'),
    "threads": Key(list, items=Key(str, nonempty=True), unique=True),
    "invariants": Key(list, items=Key(str, nonempty=True), unique=True),
    "default_variant": Key(str, nonempty=True),
    "variants": Key(list, required=True, nonempty=True, items=_VARIANT_SCHEMA),
    "kind": Key(str, choices=("mm", "engine-validation")),
    "max_states": Key(int, min=1),
    "race": Key(list, items=_STEP, expected=_RACE_WANT),
    # the entries' keys are checked below, with the message mutate's documentation gives
    "equivalent": Key(list, items=Key(dict), expected="an array of tables ([[equivalent]])"),
    "survivor": Key(list, items=Key(dict), expected="an array of tables ([[survivor]])"),
    "progress": Key(list, items=Table({
        "name": Key(str, required=True, nonempty=True, pattern=_NAME),
        "finishes": Key(str, nonempty=True, doc="a thread that eventually finishes"),
        "fires": Key(str, nonempty=True, doc="a step that eventually fires"),
        "npc": Key(list, nonempty=True, items=_STEP, doc="progress steps: no fair cycle avoids them all"),
        "doc": Key(str),
    }), expected="an array of tables ([[progress]])"),
})


_VALIDATED: dict = {}       # (path, file bytes) -> its data, parsed and valid against the schema


def _copy_data(data: dict) -> dict:
    """A deep copy of parsed TOML data: marshal copies dicts, lists, strings and numbers in C (several
    times faster than copy.deepcopy); a value it cannot copy (a TOML date) falls back to deepcopy."""
    try:
        return marshal.loads(marshal.dumps(data))
    except ValueError:
        return copy.deepcopy(data)


def _load(path: Path) -> Scenario:
    try:
        key = (str(path), path.read_bytes())
    except OSError:
        key = None                                   # load_toml says what is wrong
    if key in _VALIDATED:
        # a check loads the same file once per variant: parse and validate it once per process
        data = _copy_data(_VALIDATED[key])
    else:
        data = load_toml(path, ScenarioError)
        try:
            validate(data, SCENARIO_SCHEMA)
        except SchemaViolation as e:
            line = line_of(read_text(path, ScenarioError), e.keypath)
            raise ScenarioError(f"{path}:{line}: {e}" if line else f"{path}: {e}") from None
        if key is not None:
            _VALIDATED[key] = _copy_data(data)
    names = [v["name"] for v in data["variants"]]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(f"{path}: variants: the name {dup[0]!r} is used twice")
    unknown = set(data) - _SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"{path}: unknown key(s) {sorted(unknown)}")
    for key in ("name", "model", "variants"):
        if key not in data:
            raise ScenarioError(f"{path}: missing key {key!r}")
    if data["name"] != path.stem:
        raise ScenarioError(f"{path}: name {data['name']!r} differs from the file name")
    variants = []
    for i, v in enumerate(data["variants"]):
        where = f"{path}: variants[{i}]"
        unknown = set(v) - _VARIANT_KEYS
        if unknown:
            raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}")
        if "name" not in v or v.get("expect") not in VERDICTS:
            raise ScenarioError(f"{where}: needs a name and expect = holds|violated")
        if v["expect"] == "violated" and not v.get("invariant"):
            raise ScenarioError(f"{where}: expect = violated needs the invariant that breaks")
        if "race" in v and v["expect"] != "holds":
            raise ScenarioError(f"{where}: race applies to holding variants (a violated variant's search "
                                f"stops at its violation)")
        if "states" in v and (not isinstance(v["states"], int) or v["states"] < 1):
            raise ScenarioError(f"{where}: states must be a positive integer (the golden state count)")
        variants.append(Variant(name=v["name"], knobs=dict(v.get("knobs", {})), expect=v["expect"],
                                invariant=v.get("invariant"), commit=v.get("commit"),
                                release=v.get("release"), description=v.get("description", ""),
                                states=v.get("states"), memory_model=v.get("memory_model"),
                                race=_race_list(v["race"], f"{where}") if "race" in v else None))
    if not variants:
        raise ScenarioError(f"{path}: no variants")
    marked = {}
    for key in ("equivalent", "survivor"):
        entries = marked[key] = data.get(key, [])
        if not isinstance(entries, list):
            raise ScenarioError(f"{path}: {key} must be an array of tables ([[{key}]])")
        for i, e in enumerate(entries):
            where = f"{path}: {key}[{i}]"
            if not isinstance(e, dict) or set(e) != {"step", "operator", "reason"}:
                raise ScenarioError(f"{where}: needs exactly step, operator and reason")
            if not all(isinstance(e[k], str) and e[k].strip() for k in e) or "\n" in e["reason"].strip():
                raise ScenarioError(f"{where}: step, operator and a one-line reason must be non-empty strings")
    equivalent, survivor = marked["equivalent"], marked["survivor"]
    progress = data.get("progress", [])
    for i, p in enumerate(progress):
        kinds = [k for k in ("finishes", "fires", "npc") if k in p]
        if len(kinds) != 1:
            raise ScenarioError(f"{path}: progress[{i}]: needs exactly one of finishes, fires, npc")
    pnames = [p["name"] for p in progress]
    if len(set(pnames)) != len(pnames):
        raise ScenarioError(f"{path}: progress: a name is used twice")
    default = data.get("default_variant", variants[0].name)
    if default not in {v.name for v in variants}:
        raise ScenarioError(f"{path}: default_variant {default!r} is not a variant")
    return Scenario(name=data["name"], title=data.get("title", data["name"]),
                    description=data.get("description", ""), model_ref=data["model"], path=path,
                    threads=list(data.get("threads", [])), invariants=data.get("invariants"),
                    variants=variants, default_variant=default, kind=data.get("kind", "mm"),
                    max_states=data.get("max_states"),
                    race=_race_list(data["race"], str(path)) if "race" in data else [],
                    equivalent=equivalent, survivor=survivor, progress=progress)


def load_scenarios(directory: Path | None = None) -> dict[str, Scenario]:
    directory = directory or specs_dir() / "scenarios"
    out = {}
    for p in sorted(directory.glob("*.toml")):
        sc = _load(p)
        out[sc.name] = sc
    return out


def get_scenario(name: str, directory: Path | None = None) -> Scenario:
    p = Path(name)
    if p.suffix == ".toml" and p.exists():
        return _load(p)
    # a scenario file is named after its scenario (checked by _load): read just that one
    own = (directory or specs_dir() / "scenarios") / f"{name}.toml"
    if "/" not in name and own.is_file():
        return _load(own)
    scenarios = load_scenarios(directory)
    if name not in scenarios:
        raise ScenarioError(f"unknown scenario {name!r} (see `pteverify list`)")
    return scenarios[name]
