"""Golden samples: one frame per record and schema version, written once and kept forever.

Layout of ``tests/golden/`` (``<fp>`` is the 16-hex-digit fingerprint as it appears on the wire):

    <Record>.<fp>.bin                        single-object frame of the record's example
    <Record>.<fp>.json                       the dict that frame must decode to
    writer-schemas/<Record>.<fp>.avsc        the self-contained writer schema (docs, defaults)
    writer-schemas/<Record>.<fp>.canonical   its parsing canonical form, the fingerprinted text

A schema change gives a record a new fingerprint, so ``--write`` adds a sample next to the old
ones instead of replacing them; the compatibility check (:mod:`.compat`) then proves the old
samples still read. Existing samples are only rewritten with ``--force``.

    python -m stocksignal.contract.golden            # show which samples exist
    python -m stocksignal.contract.golden --write    # add samples for new fingerprints
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stocksignal.contract.examples import example, example_names
from stocksignal.contract.schemas import SchemaSet, WriterSchema, repo_root, writer_schema
from stocksignal.contract.single_object import SingleObjectCodec

WRITER_DIR = "writer-schemas"


class GoldenError(Exception):
    """The golden directory is missing or its files are inconsistent."""


@dataclass(frozen=True)
class GoldenSample:
    record_name: str
    fingerprint_hex: str  # from the file name
    frame: bytes
    expected: dict[str, Any]
    writer: WriterSchema  # parsed from the archived .avsc
    canonical_form: str  # as stored next to it

    @property
    def stem(self) -> str:
        return stem(self.record_name, self.fingerprint_hex)


def stem(record_name: str, fingerprint_hex: str) -> str:
    return f"{record_name}.{fingerprint_hex}"


def default_golden_dir() -> Path:
    root = repo_root()
    if root is None:
        raise GoldenError("not running from a source checkout; pass the golden directory")
    return root / "tests" / "golden"


def write_samples(
    directory: Path,
    schemas: SchemaSet,
    *,
    force: bool = False,
    examples: Callable[[str], dict[str, Any]] = example,
) -> tuple[list[str], list[str]]:
    """Write a sample for each record's current fingerprint; return (written, kept) stems."""
    codec = SingleObjectCodec(schemas)
    written, kept = [], []
    (directory / WRITER_DIR).mkdir(parents=True, exist_ok=True)
    for name in schemas.record_names:
        ws = schemas.current(name)
        base = stem(name, ws.fingerprint_hex)
        if (directory / f"{base}.bin").exists() and not force:
            kept.append(base)
            continue
        if name not in example_names():
            raise GoldenError(f"no example for {name}: add one to stocksignal.contract.examples")
        frame = codec.encode(name, examples(name))
        decoded = codec.decode(frame).record
        _write(directory, base, ws, frame, decoded)
        written.append(base)
    return written, kept


def _write(directory: Path, base: str, ws: WriterSchema, frame: bytes, decoded: dict) -> None:
    (directory / f"{base}.bin").write_bytes(frame)
    (directory / f"{base}.json").write_text(_json(decoded), encoding="utf-8")
    writers = directory / WRITER_DIR
    (writers / f"{base}.avsc").write_text(_json(ws.schema), encoding="utf-8")
    (writers / f"{base}.canonical").write_text(ws.canonical_form + "\n", encoding="utf-8")


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def load_samples(directory: Path) -> list[GoldenSample]:
    """Every sample of ``directory``, sorted by record name then fingerprint."""
    if not directory.is_dir():
        raise GoldenError(f"{directory}: no golden directory")
    return [_load(directory, path) for path in sorted(directory.glob("*.bin"))]


def _load(directory: Path, frame_path: Path) -> GoldenSample:
    record_name, _, fp_hex = frame_path.stem.partition(".")
    writers = directory / WRITER_DIR
    try:
        expected = json.loads((directory / f"{frame_path.stem}.json").read_text("utf-8"))
        schema = json.loads((writers / f"{frame_path.stem}.avsc").read_text("utf-8"))
        canonical = (writers / f"{frame_path.stem}.canonical").read_text("utf-8").strip()
    except (OSError, ValueError) as exc:
        raise GoldenError(f"{frame_path}: incomplete sample: {exc}") from exc
    return GoldenSample(
        record_name=record_name,
        fingerprint_hex=fp_hex,
        frame=frame_path.read_bytes(),
        expected=expected,
        writer=writer_schema(schema),
        canonical_form=canonical,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stocksignal.contract.golden")
    parser.add_argument("--write", action="store_true", help="add samples for new fingerprints")
    parser.add_argument("--force", action="store_true", help="rewrite current samples too")
    parser.add_argument("--dir", type=Path, help="golden directory (default: tests/golden)")
    parser.add_argument("--schemas", type=Path, help="schema directory (default: schemas/)")
    args = parser.parse_args(argv)
    try:
        directory = args.dir or default_golden_dir()
        schemas = SchemaSet.load(args.schemas)
        if args.write or args.force:
            written, kept = write_samples(directory, schemas, force=args.force)
            for base in written:
                print(f"wrote {directory / base}.bin")
            print(f"{len(written)} written, {len(kept)} already present (kept)")
            return 0
        return _show(directory, schemas)
    except GoldenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _show(directory: Path, schemas: SchemaSet) -> int:
    have = {s.stem for s in load_samples(directory)} if directory.is_dir() else set()
    missing = 0
    for name in schemas.record_names:
        base = stem(name, schemas.current(name).fingerprint_hex)
        present = base in have
        missing += not present
        print(f"{'ok     ' if present else 'MISSING'} {base}")
    print(f"{len(have)} samples; {missing} current schema(s) without one (run with --write)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
