"""A stock-take CSV -> validated ``StockCounted`` events: the pure part of ``stocksignal stock
import`` (no Kafka, no processor here).

The file has a header row naming its columns, in any order: ``sku``, ``location_id``,
``counted_qty`` (good units found in the bins) and, optionally, ``reason``::

    sku,location_id,counted_qty,reason
    MUG-BLUE,WH-BER,2,bin B-4 short
    LAMP-OAK,WH-BER,2,

- Cells are trimmed; blank rows are skipped; line numbers count every line of the file.
- Every row is checked on its own and every problem is reported with its line number: the
  domain's rules for a ``StockCounted`` (ids, ``counted_qty`` in 0..1,000,000), a cell count
  that matches the header, and one row per position (a second row for the same SKU and
  location is refused: the bins of a location are summed before they are imported).
- Event ids are deterministic: UUIDv5 of the file's SHA-256 and the row's line number, so the
  same file imported twice yields the same events, and the processor applies them once
  (repeats within its dedupe window have no effect).
- The v1 ``StockCounted`` has no reason field: a row's reason travels in ``source``
  (``"stock-import: <reason>"``), which the ledger does not copy; ``stocksignal accuracy``
  shows it next to each correction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from stocksignal.cli.jsonl import BadLine
from stocksignal.domain import ValidationError, validate
from stocksignal.domain.validation import MAX_TEXT_LENGTH

REQUIRED = ("sku", "location_id", "counted_qty")
OPTIONAL = ("reason",)
COLUMNS = REQUIRED + OPTIONAL
DEFAULT_SOURCE = "stock-import"
# Fixed forever: changing it would give an imported file new event ids (applied again).
EVENT_ID_NAMESPACE = uuid.UUID("6f0c3a8e-5d57-4a1e-9a55-2b8f4f1d7c11")


@dataclass(frozen=True)
class CountRow:
    """One good row: a count of one position."""

    line: int
    sku: str
    location_id: str
    counted_qty: int
    reason: str | None = None


@dataclass
class CountsFile:
    """What a stock-take file holds: its digest, its good rows, and every problem by line."""

    digest: str  # SHA-256 of the file's bytes, hex
    rows: list[CountRow] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)

    @property
    def skus(self) -> list[str]:
        return sorted({r.sku for r in self.rows})


def event_id(digest: str, line: int) -> str:
    """The event id of the count on ``line`` of the file whose SHA-256 is ``digest``."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{digest}:{line}"))


def source_for(source: str, reason: str | None) -> str:
    """``source`` of the event: the importer's name, then the row's reason when it has one."""
    return f"{source}: {reason}" if reason else source


def record_for(
    row: CountRow, digest: str, occurred_at: int, source: str = DEFAULT_SOURCE
) -> dict[str, Any]:
    """The ``StockCounted`` record of a row (field names as in schemas/StockCounted.avsc)."""
    return {
        "event_id": event_id(digest, row.line),
        "occurred_at": occurred_at,
        "source": source_for(source, row.reason),
        "location_id": row.location_id,
        "sku": row.sku,
        "counted_qty": row.counted_qty,
    }


def parse_counts(data: bytes, delimiter: str = ",", source: str = DEFAULT_SOURCE) -> CountsFile:
    """Every row of a stock-take file, checked; never raises for bad content."""
    result = CountsFile(hashlib.sha256(data).hexdigest())
    text = _decode(data, result)
    if text is None:
        return result
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, first_line = _header(reader, delimiter, result)
    if header is None:
        return result
    seen: dict[tuple[str, str], int] = {}
    line = first_line
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        row = _row(start, header, cells, source, result)
        if row is None:
            continue
        earlier = seen.setdefault((row.sku, row.location_id), row.line)
        if earlier != row.line:
            result.bad.append(
                BadLine(
                    row.line,
                    f"{row.sku} at {row.location_id} is also counted on line "
                    f"{earlier}: one row per position (sum its bins first)",
                )
            )
            continue
        result.rows.append(row)
    return result


def _decode(data: bytes, result: CountsFile) -> str | None:
    """The file as text; a UTF-8 byte order mark (Excel writes one) is dropped."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        result.bad.append(
            BadLine(
                line,
                f"not UTF-8: byte 0x{data[exc.start]:02x} at column {column}; "
                "save the file as UTF-8 (nothing of it can be read)",
            )
        )
        return None


def _header(reader, delimiter: str, result: CountsFile) -> tuple[list[str] | None, int]:
    """The column names (lower case, trimmed) and the header's last line number."""
    for cells in reader:
        if any(c.strip() for c in cells):
            break
    else:
        result.bad.append(
            BadLine(1, f"no header row: the first row names the columns, {', '.join(REQUIRED)}")
        )
        return None, 0
    names = [c.strip().lower() for c in cells]
    line = reader.line_num
    problems = []
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        hint = ""
        if len(names) == 1 and delimiter == "," and ";" in names[0]:
            hint = " (the file looks separated by ';': use --delimiter ';')"
        problems.append(f"missing column(s) {', '.join(missing)}{hint}")
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(repr(c) for c in unknown)}; the columns are "
            f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}"
        )
    twice = sorted({c for c in names if names.count(c) > 1 and c in COLUMNS})
    if twice:
        problems.append(f"column(s) {', '.join(twice)} named twice")
    if problems:
        result.bad.append(
            BadLine(line, "header: " + "; ".join(problems) + " (nothing of the file was read)")
        )
        return None, line
    return names, line


def _row(
    line: int, header: list[str], cells: list[str], source: str, result: CountsFile
) -> CountRow | None:
    if len(cells) != len(header):
        result.bad.append(BadLine(line, f"{len(cells)} cell(s) where the header has {len(header)}"))
        return None
    values = {name: cell.strip() for name, cell in zip(header, cells)}
    problems = []
    qty = _integer(values["counted_qty"], problems)
    reason = values.get("reason") or None
    room = MAX_TEXT_LENGTH - len(source) - 2
    if reason is not None and len(reason) > room:
        problems.append(f"reason: {len(reason)} characters, at most {room}")
    record = {
        "event_id": "x",
        "occurred_at": 0,
        "sku": values["sku"],
        "location_id": values["location_id"],
        "counted_qty": qty if qty is not None else 0,
    }
    try:
        validate("StockCounted", record)
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        result.bad.append(BadLine(line, "; ".join(problems)))
        return None
    return CountRow(line, values["sku"], values["location_id"], qty, reason)


def _integer(text: str, problems: list[str]) -> int | None:
    """A whole number of units, written as digits (a spreadsheet's "12.0" is refused: it may be
    a measurement, not a count)."""
    if not text:
        problems.append("counted_qty: is empty (0 is a count: write 0)")
        return None
    digits = text[1:] if text[0] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        problems.append(f"counted_qty: {text!r} is not a whole number")
        return None
    return int(text)
