"""Where the Avro schemas live, and the set of writer schemas the codecs know.

``schemas/`` holds one ``.avsc`` per named type (records and enums, namespace
``stocksignal.v1``); records refer to other named types by full name. ``schemas/history/``
keeps archived *previous* writer schemas, self-contained, as ``<Record>.<fingerprint>.avsc``,
so that data already on the topics still decodes after a schema evolves.

A fingerprint is computed over the parsing canonical form of a *self-contained* schema (named
types defined inline at first use, as Java's ``Schema.toString`` prints them). fastavro's
canonical form of a schema parsed with ``named_schemas`` keeps bare references instead, which
would give a different, non-interoperable fingerprint — hence :func:`standalone`.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from stocksignal.contract.errors import SchemaError

NAMESPACE = "stocksignal.v1"
HISTORY_DIR = "history"
# Where the schemas sit when shipped as package data (``stocksignal/contract/avsc/``).
PACKAGED_DIR = "avsc"
PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})

Schema = Any  # Avro JSON: a str, a list (union) or a dict


def schema_dir() -> Path:
    """The directory of the current ``.avsc`` files: package data if shipped, else the repo's."""
    packaged = Path(str(resources.files("stocksignal.contract") / PACKAGED_DIR))
    return _find_schema_dir(packaged, Path(__file__).resolve().parent)


def _find_schema_dir(packaged: Path, start: Path) -> Path:
    if any(packaged.glob("*.avsc")):
        return packaged
    for parent in (start, *start.parents):
        candidate = parent / "schemas"
        if any(candidate.glob("*.avsc")):
            return candidate
    raise SchemaError(f"no schemas: neither {packaged} nor a schemas/ directory above {start}")


def repo_root() -> Path | None:
    """The source checkout this package runs from, or None when installed from a wheel."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "schemas").is_dir():
            return parent
    return None


@dataclass(frozen=True, eq=False)
class WriterSchema:
    """One version of one top-level record, as a writer would have used it."""

    record_name: str  # short name, e.g. "OrderPlaced"
    full_name: str  # e.g. "stocksignal.v1.OrderPlaced"
    schema: dict  # self-contained Avro JSON, docs and defaults kept
    canonical_form: str
    fingerprint: bytes  # 8 bytes, little-endian CRC-64-AVRO, exactly as in a single-object frame
    parsed: dict  # fastavro-parsed with logical types removed: timestamps stay int milliseconds

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


def canonical_form(schema: Schema) -> str:
    """Parsing canonical form of a self-contained schema."""
    return to_parsing_canonical_form(schema)


def fingerprint(canonical: str) -> bytes:
    """CRC-64-AVRO of a canonical form, as the 8 little-endian bytes a frame carries."""
    return bytes.fromhex(_fastavro_fingerprint(canonical, "CRC-64-AVRO"))


def writer_schema(schema: Mapping[str, Any]) -> WriterSchema:
    """Build a :class:`WriterSchema` from a self-contained record schema."""
    if not isinstance(schema, Mapping) or schema.get("type") != "record":
        raise SchemaError(f"expected a record schema, got {str(schema)[:80]!r}")
    try:
        parse_schema(schema)  # validates, defaults included
        canonical = canonical_form(schema)
        parsed = parse_schema(strip_logical_types(schema))
    except Exception as exc:  # fastavro raises several types for a bad schema
        raise SchemaError(f"invalid schema {schema.get('name')!r}: {exc}") from exc
    full_name = parsed["name"]
    return WriterSchema(
        record_name=full_name.rsplit(".", 1)[-1],
        full_name=full_name,
        schema=dict(schema),
        canonical_form=canonical,
        fingerprint=fingerprint(canonical),
        parsed=parsed,
    )


def strip_logical_types(schema: Schema) -> Schema:
    """A copy without ``logicalType``: fastavro then reads and writes timestamps as plain ints.

    The canonical form ignores logical types, so the fingerprint is unchanged.
    """
    if isinstance(schema, list):
        return [strip_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    return schema


def load_named(directory: Path) -> dict[str, dict]:
    """Every ``.avsc`` of ``directory`` (not its subdirectories), by full name."""
    named: dict[str, dict] = {}
    for path in sorted(directory.glob("*.avsc")):
        schema = _read_json(path)
        name = schema.get("name") if isinstance(schema, dict) else None
        if name != path.stem:
            raise SchemaError(f"{path}: declares {name!r}; one named type per file, named like it")
        named[_full_name(name, schema.get("namespace", ""))] = schema
    return named


def standalone(full_name: str, named: Mapping[str, dict]) -> dict:
    """A self-contained copy of ``full_name``: each named type defined inline at first use."""
    return _inline(named[full_name], named, set(), NAMESPACE)


def top_level_records(named: Mapping[str, dict]) -> list[str]:
    """Records no other schema refers to: the events and outputs, not their parts."""
    referenced: set[str] = set()
    for schema in named.values():
        referenced |= _references(schema, schema.get("namespace", ""), top=True)
    return sorted(n for n, s in named.items() if s.get("type") == "record" and n not in referenced)


class SchemaSet:
    """Current writer schemas by record name, and every known writer schema by fingerprint."""

    def __init__(self, current: Iterable[WriterSchema], history: Iterable[WriterSchema] = ()):
        self._current: dict[str, WriterSchema] = {}
        self._by_fingerprint: dict[bytes, WriterSchema] = {}
        for ws in current:
            self._current[ws.record_name] = self._current[ws.full_name] = ws
            self._by_fingerprint[ws.fingerprint] = ws
        self._history = tuple(history)
        for ws in self._history:
            if ws.full_name not in self._current:
                raise SchemaError(f"archived schema {ws.full_name} names no current record")
            self._by_fingerprint.setdefault(ws.fingerprint, ws)
        self.record_names: tuple[str, ...] = tuple(
            sorted({ws.record_name for ws in self._current.values()})
        )

    @classmethod
    def load(cls, directory: Path | str | None = None) -> SchemaSet:
        """Load ``directory`` (default :func:`schema_dir`) and its ``history/``."""
        root = Path(directory) if directory is not None else schema_dir()
        named = load_named(root)
        if not named:
            raise SchemaError(f"{root}: no .avsc files")
        current = [writer_schema(standalone(n, named)) for n in top_level_records(named)]
        return cls(current, load_history(root / HISTORY_DIR))

    def current(self, record_name: str) -> WriterSchema:
        """The current schema of a record, by short or full name (KeyError if unknown)."""
        return self._current[record_name]

    def by_fingerprint(self, fp: bytes) -> WriterSchema | None:
        """The writer schema (current or archived) with this fingerprint, if any."""
        return self._by_fingerprint.get(fp)

    def is_current(self, ws: WriterSchema) -> bool:
        return self._current.get(ws.full_name) is ws

    @property
    def history(self) -> tuple[WriterSchema, ...]:
        return self._history

    def __contains__(self, record_name: object) -> bool:
        return record_name in self._current


@functools.cache
def default_schema_set() -> SchemaSet:
    """The schemas of :func:`schema_dir`, loaded once per process."""
    return SchemaSet.load()


def load_history(directory: Path) -> list[WriterSchema]:
    """Archived writer schemas; each file name must carry its true fingerprint."""
    archived = []
    for path in sorted(directory.glob("*.avsc")):
        ws = writer_schema(_read_json(path))
        expected = f"{ws.record_name}.{ws.fingerprint_hex}"
        if path.stem != expected:
            raise SchemaError(
                f"{path}: holds {ws.full_name} with fingerprint {ws.fingerprint_hex}, so it must "
                f"be named {expected}.avsc; an archived schema is never edited"
            )
        archived.append(ws)
    return archived


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{path}: {exc}") from exc


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _inline(node: Schema, named: Mapping[str, dict], defined: set[str], namespace: str) -> Schema:
    if isinstance(node, str):
        if node in PRIMITIVES:
            return node
        name = _full_name(node, namespace)
        if name in defined:
            return name
        if name not in named:
            raise SchemaError(f"unknown type {node!r}")
        return _inline(named[name], named, defined, namespace)
    if isinstance(node, list):
        return [_inline(branch, named, defined, namespace) for branch in node]
    kind = node["type"]
    if kind in NAMED_KINDS:
        ns = node.get("namespace", namespace)
        defined.add(_full_name(node["name"], ns))
        out = copy.deepcopy(node)
        if kind in ("record", "error"):
            out["fields"] = [
                {**f, "type": _inline(f["type"], named, defined, ns)} for f in node["fields"]
            ]
        return out
    if kind == "array":
        return {**node, "items": _inline(node["items"], named, defined, namespace)}
    if kind == "map":
        return {**node, "values": _inline(node["values"], named, defined, namespace)}
    if kind in PRIMITIVES:
        return dict(node)
    return _inline(kind, named, defined, namespace)  # {"type": "SomeNamedType"}


def _references(node: Schema, namespace: str, top: bool = False) -> set[str]:
    if isinstance(node, str):
        return set() if node in PRIMITIVES else {_full_name(node, namespace)}
    if isinstance(node, list):
        return set().union(*(_references(b, namespace) for b in node))
    kind = node["type"]
    if kind in NAMED_KINDS:
        ns = node.get("namespace", namespace)
        own = set() if top else {_full_name(node["name"], ns)}
        fields = node.get("fields", [])
        return own.union(*(_references(f["type"], ns) for f in fields))
    if kind == "array":
        return _references(node["items"], namespace)
    if kind == "map":
        return _references(node["values"], namespace)
    return _references(kind, namespace)
