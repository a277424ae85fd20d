"""A small declarative schema for the project's TOML data files, checked before anything runs.

Why not jsonschema (a test dependency already)? It would become a runtime dependency for ~40 keys,
its messages ("5 is not of type 'array'") need a translation layer to name the key path and line
the way the rest of pteverify does, and the checks that matter most here are not expressible in
JSON Schema anyway (a default variant that must be one of the variants, an invariant the model
must define, names unique within a file). So the schema is data in the engine: a `Table` of `Key`s
with types, ranges, choices and nested tables; `validate` walks it and raises one error naming the
key path (`variants[2].knobs`), the line in the file when it can find it, and what was expected.
`to_json_schema` exports the same schema as JSON Schema (for editors; the tests check the shipped
files against the export with jsonschema, so the two cannot drift apart).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "an array", dict: "a table"}


@dataclass(frozen=True)
class Key:
    """One key of a table: its type(s) and the constraints on its value."""

    type: Any                          # a type or a tuple of types (bool is never an int here)
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    pattern: str | None = None         # strings: a full match
    nonempty: bool = False             # strings, arrays and tables
    items: Any = None                  # arrays: a Key (or a Table) for every element
    table: "Table | None" = None       # tables with known keys
    values: "Key | None" = None        # tables with free keys: a Key for every value
    unique: bool = False               # arrays of scalars: no repeats
    doc: str = ""
    expected: str = ""                 # what a value of the wrong type is told it must be


@dataclass(frozen=True)
class Table:
    keys: dict = field(default_factory=dict)
    doc: str = ""


class SchemaViolation(Exception):
    def __init__(self, keypath: str, message: str):
        self.keypath = keypath
        self.message = message
        super().__init__(f"{keypath}: {message}" if keypath else message)


def _is(value, t) -> bool:
    types = t if isinstance(t, tuple) else (t,)
    for ty in types:
        if ty is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if ty is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if ty not in (int, float) and isinstance(value, ty):
            return True
    return False


def _want(t) -> str:
    types = t if isinstance(t, tuple) else (t,)
    return " or ".join(_TYPE_WORDS.get(ty, ty.__name__) for ty in types)


def _found(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def validate(data: Any, schema: Table, path: str = "") -> None:
    """Raise SchemaViolation for the first place `data` breaks `schema`."""
    if not isinstance(data, dict):
        raise SchemaViolation(path, f"must be a table, not {_found(data)}")
    for k in data:
        if k not in schema.keys:
            raise SchemaViolation(_join(path, k), f"unknown key (known: {', '.join(schema.keys)})")
    for k, key in schema.keys.items():
        if k not in data:
            if key.required:
                raise SchemaViolation(_join(path, k), "missing (required)")
            continue
        _check(data[k], key, _join(path, k))


def _join(path: str, k: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", k):
        k = f'"{k}"'
    return f"{path}.{k}" if path else k


def _check(value, key: Key, where: str) -> None:
    if isinstance(key, Table):
        validate(value, key, where)
        return
    if not _is(value, key.type):
        raise SchemaViolation(where, f"must be {key.expected or _want(key.type)}, not {_found(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaViolation(where, f"must be a finite number, not {value}")
    if key.choices is not None and value not in key.choices:
        raise SchemaViolation(where, f"must be one of {', '.join(map(str, key.choices))}, not {_found(value)}")
    if key.min is not None and _is(value, float) and value < key.min:
        raise SchemaViolation(where, f"must be at least {key.min:g}, not {value}")
    if key.max is not None and _is(value, float) and value > key.max:
        raise SchemaViolation(where, f"must be at most {key.max:g}, not {value}")
    if isinstance(value, str):
        if key.nonempty and not value.strip():
            raise SchemaViolation(where, "must not be empty")
        if key.pattern is not None and not re.fullmatch(key.pattern, value):
            raise SchemaViolation(where, f"{value[:60]!r} is not of the form {key.doc or key.pattern}")
    if isinstance(value, list):
        if key.nonempty and not value:
            raise SchemaViolation(where, "must not be empty")
        if key.items is not None:
            for i, item in enumerate(value):
                _check(item, key.items, f"{where}[{i}]")
        if key.unique:
            seen = set()
            for item in value:
                if item in seen:
                    raise SchemaViolation(where, f"names {item!r} twice")
                seen.add(item)
    if isinstance(value, dict):
        if key.table is not None:
            validate(value, key.table, where)
        if key.values is not None:
            for k, v in value.items():
                _check(v, key.values, _join(where, k))


def line_of(raw: str, keypath: str) -> int | None:
    """The line of `keypath` (`variants[2].knobs`) in the TOML text `raw`, when it can be found:
    the i-th `[[name]]` header for an array of tables, then the key's `name =` line after it."""
    if not keypath:
        return None
    lines = raw.splitlines()
    start = 0
    parts = re.findall(r'"[^"]*"|[^.\[\]]+|\[\d+\]', keypath)
    line = None
    i = 0
    while i < len(parts):
        part = parts[i].strip('"')
        index = int(parts[i + 1][1:-1]) if i + 1 < len(parts) and parts[i + 1].startswith("[") else None
        found = None
        if index is not None:
            headers = [n for n in range(start, len(lines))
                       if re.match(rf"\s*\[\[\s*{re.escape(part)}\s*\]\]", lines[n])]
            if index < len(headers):
                found = headers[index]
            i += 1
        if found is None:
            for n in range(start, len(lines)):
                if re.match(rf'\s*("?){re.escape(part)}\1\s*=', lines[n]) or \
                        re.match(rf"\s*\[\s*{re.escape(part)}\s*\]", lines[n]):
                    found = n
                    break
        if found is None:
            break
        line, start = found + 1, found
        i += 1
    return line


def to_json_schema(schema: Table) -> dict:
    """The same schema as JSON Schema (draft 2020-12)."""
    def one(key) -> dict:
        if isinstance(key, Table):
            return table(key)
        types = key.type if isinstance(key.type, tuple) else (key.type,)
        names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                 dict: "object"}
        out: dict = {"type": [names[t] for t in types] if len(types) > 1 else names[types[0]]}
        if key.choices is not None:
            out["enum"] = list(key.choices)
        if key.min is not None:
            out["minimum"] = key.min
        if key.max is not None:
            out["maximum"] = key.max
        if key.pattern is not None:
            out["pattern"] = f"^(?:{key.pattern})$"
        if key.nonempty:
            out["minItems" if list in types else "minLength" if str in types else "minProperties"] = 1
        if key.items is not None:
            out["items"] = one(key.items)
        if key.unique:
            out["uniqueItems"] = True
        if key.table is not None:
            out.update(table(key.table))
        if key.values is not None:
            out["additionalProperties"] = one(key.values)
        if key.doc:
            out["description"] = key.doc
        return out

    def table(t: Table) -> dict:
        return {"type": "object", "properties": {k: one(v) for k, v in t.keys.items()},
                "required": [k for k, v in t.keys.items() if getattr(v, "required", False)],
                "additionalProperties": False}

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **table(schema)}
