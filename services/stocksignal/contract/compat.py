"""The schema compatibility guard behind ``make schemas-check``.

Every golden sample (``tests/golden/``) stands for data already written to the topics. For
each one, against the current schemas in ``schemas/``:

- backward: the current reader reads data of the golden writer schema. Checked by the Avro
  resolution rules on the schemas (every field, branch and symbol, not only those the sample
  uses) and by actually decoding the golden frame with fastavro's schema resolution;
- forward (mode ``full``, the default): a reader still on the golden schema reads data of the
  current writer. Consumers of our outputs and our own not-yet-upgraded workers are such
  readers, so removing a field without a default or adding an enum symbol is a break;
- the golden fingerprint is still decodable at runtime (current, or archived in
  ``schemas/history/``), else its data would go to the DLQ as UNKNOWN_SCHEMA;
- every current record has a golden sample for its current fingerprint.

Archived writer schemas in ``schemas/history/`` are checked for backward compatibility too.

    python -m stocksignal.contract.compat [--mode full|backward] [-v]   # exit 0 ok, 1 problems
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import schemaless_writer
from fastavro.schema import parse_schema

from stocksignal.contract.codec import ReadPlan, read_body
from stocksignal.contract.errors import CodecError, SchemaError
from stocksignal.contract.golden import (
    WRITER_DIR,
    GoldenError,
    GoldenSample,
    default_golden_dir,
    load_samples,
    stem,
)
from stocksignal.contract.schemas import PRIMITIVES, SchemaSet, WriterSchema
from stocksignal.contract.single_object import HEADER_SIZE, MAGIC

MODES = ("full", "backward")
# Avro's permitted promotions, writer type -> reader types.
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


@dataclass(frozen=True)
class Problem:
    kind: str  # backward | forward | unarchived | no-golden | golden | history | schemas
    subject: str  # e.g. "OrderPlaced@1a2b..." or "OrderPlaced"
    message: str


@dataclass
class Report:
    mode: str
    records: int = 0
    samples: int = 0
    archived: int = 0
    problems: list[Problem] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def render(self, verbose: bool = False) -> str:
        lines = [
            f"schemas-check ({self.mode}): {self.records} records, {self.samples} golden "
            f"samples, {self.archived} archived writer schemas"
        ]
        if verbose:
            lines += [f"ok    {subject}" for subject in self.passed]
        lines += [f"FAIL  {p.kind:<10} {p.subject}: {p.message}" for p in self.problems]
        lines.append(
            "all compatible"
            if self.ok
            else f"{len(self.problems)} problem(s); see docs/contract.md, 'Evolving a schema'"
        )
        return "\n".join(lines)


# --- the Avro resolution rules, on self-contained schemas ------------------------------------


def incompatibilities(writer: Any, reader: Any) -> list[str]:
    """Why data written with ``writer`` cannot be read with ``reader`` (empty: it can).

    Beyond the Avro rules, a changed logical type (say millis to micros) is reported: it would
    resolve, but silently change the meaning of the number.
    """
    w, r = parse_schema(writer), parse_schema(reader)
    found: list[str] = []
    _Resolver(w["__named_schemas"], r["__named_schemas"], found).resolve(w, r, _short(r["name"]))
    return found


class _Resolver:
    def __init__(self, writer_named: dict, reader_named: dict, found: list[str]):
        self.wn, self.rn, self.found = writer_named, reader_named, found
        self.seen: set[tuple[str, str]] = set()

    def resolve(self, w: Any, r: Any, path: str) -> None:
        w, r = _deref(w, self.wn), _deref(r, self.rn)
        if isinstance(w, list):
            for branch in w:  # every branch the writer may have used must be readable
                self.resolve(branch, r, path)
            return
        if isinstance(r, list):
            match = next((b for b in r if self.matches(w, b)), None)
            if match is None:
                self.found.append(f"{path}: {_describe(w)} is not among {_describe(r)}")
            else:
                self.resolve(w, match, path)
            return
        wt, rt = _kind(w), _kind(r)
        if wt != rt:
            if rt not in PROMOTIONS.get(wt, ()):
                self.found.append(f"{path}: type changed from {_describe(w)} to {_describe(r)}")
            return
        getattr(self, f"_{wt}", self._primitive)(w, r, path)

    def matches(self, w: Any, r: Any) -> bool:
        w, r = _deref(w, self.wn), _deref(r, self.rn)
        wt, rt = _kind(w), _kind(r)
        if wt != rt:
            return rt in PROMOTIONS.get(wt, ())
        return not isinstance(w, dict) or "name" not in w or _same_name(w, r)

    def _primitive(self, w: Any, r: Any, path: str) -> None:
        wl, rl = _logical(w), _logical(r)
        if wl != rl:
            self.found.append(f"{path}: logical type changed from {wl} to {rl}")

    def _record(self, w: dict, r: dict, path: str) -> None:
        if not self._names_match(w, r, path) or (w["name"], r["name"]) in self.seen:
            return
        self.seen.add((w["name"], r["name"]))
        written = {f["name"]: f for f in w["fields"]}
        for f in r["fields"]:
            source = _field_source(f, written)
            if source is not None:
                self.resolve(source["type"], f["type"], f"{path}.{f['name']}")
            elif "default" not in f:
                self.found.append(
                    f"{path}.{f['name']}: the reader needs this field (no default) "
                    "and the writer does not write it"
                )

    def _enum(self, w: dict, r: dict, path: str) -> None:
        if not self._names_match(w, r, path):
            return
        unknown = [s for s in w["symbols"] if s not in r["symbols"]]
        if unknown and "default" not in r:
            self.found.append(f"{path}: symbol(s) {', '.join(unknown)} unknown to the reader")

    def _fixed(self, w: dict, r: dict, path: str) -> None:
        if self._names_match(w, r, path) and w["size"] != r["size"]:
            self.found.append(f"{path}: fixed size changed from {w['size']} to {r['size']}")

    def _array(self, w: dict, r: dict, path: str) -> None:
        self.resolve(w["items"], r["items"], f"{path}[]")

    def _map(self, w: dict, r: dict, path: str) -> None:
        self.resolve(w["values"], r["values"], f"{path}{{}}")

    def _names_match(self, w: dict, r: dict, path: str) -> bool:
        if _same_name(w, r):
            return True
        self.found.append(f"{path}: {w['type']} renamed from {w['name']} to {r['name']}")
        return False


def _deref(schema: Any, named: dict) -> Any:
    return named[schema] if isinstance(schema, str) and schema not in PRIMITIVES else schema


def _kind(schema: Any) -> str:
    return schema if isinstance(schema, str) else schema["type"]


def _logical(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _same_name(w: dict, r: dict) -> bool:
    # Avro's resolution rules match named types by unqualified name, or by a reader alias.
    aliases = {_short(a) for a in r.get("aliases", ())}
    return _short(w["name"]) == _short(r["name"]) or _short(w["name"]) in aliases


def _field_source(reader_field: dict, written: dict[str, dict]) -> dict | None:
    for name in (reader_field["name"], *reader_field.get("aliases", ())):
        if name in written:
            return written[name]
    return None


def _describe(schema: Any) -> str:
    if isinstance(schema, list):
        return "[" + ", ".join(_describe(b) for b in schema) + "]"
    if isinstance(schema, str):
        return schema
    if "name" in schema:
        return f"{schema['type']} {_short(schema['name'])}"
    logical = _logical(schema)
    return f"{schema['type']} ({logical})" if logical else schema["type"]


# --- the check over golden samples and archives ----------------------------------------------


def check(
    golden: Path | None = None, schemas_dir: Path | None = None, *, mode: str = "full"
) -> Report:
    """Run every check; problems are collected, never raised."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    report = Report(mode)
    try:
        schemas = SchemaSet.load(schemas_dir)
        samples = load_samples(golden or default_golden_dir())
    except (SchemaError, GoldenError) as exc:
        report.problems.append(Problem("schemas", "-", str(exc)))
        return report
    report.records, report.samples = len(schemas.record_names), len(samples)
    report.archived = len(schemas.history)
    for sample in samples:
        _check_sample(sample, schemas, mode, report)
    for archived in schemas.history:
        _check_archived(archived, schemas, report)
    _check_coverage(samples, schemas, report)
    return report


def _check_sample(sample: GoldenSample, schemas: SchemaSet, mode: str, report: Report) -> None:
    subject = f"{sample.record_name}@{sample.fingerprint_hex}"
    before = len(report.problems)

    def problem(kind: str, message: str) -> None:
        report.problems.append(Problem(kind, subject, message))

    for message in _integrity(sample):
        problem("golden", message)
    if sample.record_name not in schemas:
        problem("backward", f"record {sample.record_name} no longer exists (renamed or removed)")
        return
    current = schemas.current(sample.record_name)
    backward = incompatibilities(sample.writer.schema, current.schema)
    forward = incompatibilities(current.schema, sample.writer.schema) if mode == "full" else []
    for kind, messages in (("backward", backward), ("forward", forward)):
        for message in messages:
            problem(kind, message)
    if not backward:  # the rules say it reads: confirm with fastavro on the golden bytes
        _check_data(sample, current, forward_too=mode == "full" and not forward, problem=problem)
    if schemas.by_fingerprint(sample.writer.fingerprint) is None:
        problem(
            "unarchived",
            "data written with this schema would be rejected as UNKNOWN_SCHEMA; archive it: "
            f"cp tests/golden/{WRITER_DIR}/{sample.stem}.avsc schemas/history/",
        )
    if len(report.problems) == before:
        report.passed.append(subject)


def _integrity(sample: GoldenSample) -> list[str]:
    fp = sample.writer.fingerprint_hex
    messages = []
    if fp != sample.fingerprint_hex:
        messages.append(f"the archived writer schema has fingerprint {fp}, not the file name's")
    if sample.writer.canonical_form != sample.canonical_form:
        messages.append("the stored canonical form is not that of the archived writer schema")
    if sample.frame[:HEADER_SIZE] != MAGIC + sample.writer.fingerprint:
        messages.append("the frame's header does not carry the writer schema's fingerprint")
    return messages


def _check_data(
    sample: GoldenSample,
    current: WriterSchema,
    *,
    forward_too: bool,
    problem: Callable[[str, str], None],
) -> None:
    """Decode the golden frame for real: golden writer -> current reader, and back."""
    backward = ReadPlan(sample.record_name, sample.writer.parsed, current.parsed, "golden frame")
    try:
        record = read_body(sample.frame, HEADER_SIZE, backward).record
    except CodecError as exc:
        problem("backward", f"fastavro cannot read the golden frame with the current schema: {exc}")
        return
    if not forward_too:
        return
    buf = io.BytesIO()
    label = "golden record re-encoded with the current schema"
    forward = ReadPlan(sample.record_name, current.parsed, sample.writer.parsed, label)
    try:
        schemaless_writer(buf, current.parsed, record)
        read_body(buf.getvalue(), 0, forward)
    except (CodecError, ValueError, TypeError) as exc:
        problem("forward", f"fastavro cannot read current data with the golden schema: {exc}")


def _check_archived(archived: WriterSchema, schemas: SchemaSet, report: Report) -> None:
    subject = f"history/{archived.record_name}@{archived.fingerprint_hex}"
    current = schemas.current(archived.full_name)
    found = incompatibilities(archived.schema, current.schema)
    report.problems += [Problem("history", subject, message) for message in found]
    if not found:
        report.passed.append(subject)


def _check_coverage(samples: list[GoldenSample], schemas: SchemaSet, report: Report) -> None:
    have = {s.stem for s in samples}
    for name in schemas.record_names:
        base = stem(name, schemas.current(name).fingerprint_hex)
        if base not in have:
            report.problems.append(
                Problem(
                    "no-golden",
                    base,
                    "no golden sample for the current schema; run "
                    "python -m stocksignal.contract.golden --write",
                )
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stocksignal.contract.compat")
    parser.add_argument("--golden", type=Path, help="golden directory (default: tests/golden)")
    parser.add_argument("--schemas", type=Path, help="schema directory (default: schemas/)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="full",
        help="full: old and new readers both read old and new data (default); "
        "backward: only new readers read old data",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list what passed too")
    args = parser.parse_args(argv)
    report = check(args.golden, args.schemas, mode=args.mode)
    print(report.render(args.verbose))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
