"""Checks a record against its schema before it is encoded.

fastavro's writer silently accepts values that corrupt the data: ``1.7`` written as int 1,
``True`` as 1, ``2**40`` for an Avro ``int`` (which a Java reader then rejects), unknown
dict keys dropped (a misspelt optional field becomes null). So every record is checked first,
by a checker compiled once per schema; the error names the field path, e.g.
``OrderPlaced.lines[1].qty: expected int, got str '3'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stocksignal.contract.errors import EncodeError

Check = Callable[[Any], None]

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


class _Invalid(Exception):
    """Raised inside a checker; the path is collected while it propagates (cheap when valid)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def compile_validator(parsed: dict) -> Callable[[Any], None]:
    """A function raising :class:`EncodeError` if ``record`` does not match ``parsed``.

    ``parsed`` is a fastavro-parsed, self-contained record schema.
    """
    named = parsed.get("__named_schemas", {})
    check = _compile(parsed, named, {})
    record_name = parsed["name"].rsplit(".", 1)[-1]

    def validate(record: Any) -> None:
        try:
            check(record)
        except _Invalid as exc:
            where = "".join(reversed(exc.path))
            raise EncodeError(f"{record_name}{where}: {exc.message}") from None

    return validate


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _compile(schema: Any, named: dict, compiled: dict[str, Check]) -> Check:
    if isinstance(schema, list):
        return _union([_compile(b, named, compiled) for b in schema], schema)
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        if schema not in compiled:
            _compile(named[schema], named, compiled)
        return lambda value: compiled[schema](value)  # late bound: allows recursive types
    kind = schema["type"]
    if kind in ("record", "error"):
        return _record(schema, named, compiled)
    if kind == "enum":
        compiled[schema["name"]] = check = _enum(schema["symbols"])
        return check
    if kind == "fixed":
        compiled[schema["name"]] = check = _fixed(schema["size"])
        return check
    if kind == "array":
        return _array(_compile(schema["items"], named, compiled))
    if kind == "map":
        return _map(_compile(schema["values"], named, compiled))
    return _compile(kind, named, compiled)


def _record(schema: dict, named: dict, compiled: dict[str, Check]) -> Check:
    name = schema["name"]
    compiled[name] = lambda value: compiled[name](value)  # placeholder while fields compile
    fields = [
        (f["name"], _compile(f["type"], named, compiled), "default" in f) for f in schema["fields"]
    ]
    known = frozenset(n for n, _, _ in fields)

    def check(value: Any) -> None:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a record ({name}), got {_describe(value)}")
        present = 0
        for field, check_field, has_default in fields:
            if field in value:
                present += 1
                try:
                    check_field(value[field])
                except _Invalid as exc:
                    exc.path.append(f".{field}")
                    raise
            elif not has_default:
                exc = _Invalid("missing (the field has no default)")
                exc.path.append(f".{field}")
                raise exc
        if present != len(value):
            unknown = sorted(str(k) for k in value if k not in known)
            raise _Invalid(f"unknown field(s) {', '.join(unknown)} (not in {name})")

    compiled[name] = check
    return check


def _union(branches: list[Check], schema: list) -> Check:
    names = " or ".join(b if isinstance(b, str) else b.get("name", b["type"]) for b in schema)
    if len(branches) == 2 and schema[0] == "null":
        only = branches[1]

        def nullable(value: Any) -> None:
            if value is not None:
                only(value)

        return nullable

    def check(value: Any) -> None:
        for branch in branches:
            try:
                branch(value)
                return
            except _Invalid:
                continue
        raise _Invalid(f"expected {names}, got {_describe(value)}")

    return check


def _array(items: Check) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, (list, tuple)):
            raise _Invalid(f"expected an array, got {_describe(value)}")
        for i, item in enumerate(value):
            try:
                items(item)
            except _Invalid as exc:
                exc.path.append(f"[{i}]")
                raise

    return check


def _map(values: Check) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a map, got {_describe(value)}")
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Invalid(f"map keys must be strings, got {_describe(key)}")
            try:
                values(item)
            except _Invalid as exc:
                exc.path.append(f"[{key!r}]")
                raise

    return check


def _enum(symbols: list[str]) -> Check:
    allowed = frozenset(symbols)

    def check(value: Any) -> None:
        if not isinstance(value, str) or value not in allowed:
            raise _Invalid(f"{_describe(value)} is not one of {', '.join(symbols)}")

    return check


def _fixed(size: int) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, bytes) or len(value) != size:
            raise _Invalid(f"expected {size} bytes, got {_describe(value)}")

    return check


def _integer(kind: str, low: int, high: int, hint: str = "") -> Check:
    def check(value: Any) -> None:
        # bool is an int subclass; a True where a number belongs is a bug, not a 1.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Invalid(f"expected {kind}{hint}, got {_describe(value)}")
        if not low <= value <= high:
            raise _Invalid(f"{value} does not fit an Avro {kind} ({low}..{high})")

    return check


def _of_type(kind: str, *types: type) -> Check:
    def check(value: Any) -> None:
        if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            raise _Invalid(f"expected {kind}, got {_describe(value)}")

    return check


def _null(value: Any) -> None:
    if value is not None:
        raise _Invalid(f"expected null, got {_describe(value)}")


_PRIMITIVES: dict[str, Check] = {
    "null": _null,
    "boolean": _of_type("boolean", bool),
    "int": _integer("int", *INT_RANGE),
    "long": _integer("long", *LONG_RANGE, hint=" (timestamps are int epoch milliseconds)"),
    "float": _of_type("float", int, float),
    "double": _of_type("double", int, float),
    "bytes": _of_type("bytes", bytes),
    "string": _of_type("string", str),
}
