"""Golden samples decode to exactly what they were written from, and are never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from stocksignal.contract.golden import (
    GoldenSample,
    load_samples,
    main,
    stem,
    write_samples,
)
from stocksignal.contract.schemas import SchemaSet
from stocksignal.contract.single_object import SingleObjectCodec


@pytest.fixture(scope="module")
def samples(golden_dir: Path) -> list[GoldenSample]:
    return load_samples(golden_dir)


def test_every_current_record_has_a_golden_sample(
    samples: list[GoldenSample], schemas: SchemaSet
) -> None:
    have = {s.stem for s in samples}
    for name in schemas.record_names:
        assert stem(name, schemas.current(name).fingerprint_hex) in have, name


def test_golden_samples_decode_to_exactly_the_expected_dict(
    samples: list[GoldenSample], schemas: SchemaSet
) -> None:
    codec = SingleObjectCodec(schemas)
    assert samples
    for sample in samples:
        name, record = codec.decode(sample.frame)
        assert name == sample.record_name
        if sample.writer.fingerprint == schemas.current(name).fingerprint:
            assert record == sample.expected, sample.stem
        # Older samples read into today's shape; compat.check proves they still resolve.


def test_golden_files_are_consistent(samples: list[GoldenSample]) -> None:
    for sample in samples:
        assert sample.writer.fingerprint_hex == sample.fingerprint_hex
        assert sample.writer.canonical_form == sample.canonical_form
        assert sample.frame[:10] == b"\xc3\x01" + sample.writer.fingerprint


def test_write_adds_missing_samples_and_keeps_existing_ones(
    tmp_path: Path, schemas: SchemaSet
) -> None:
    written, kept = write_samples(tmp_path, schemas)
    assert len(written) == 23 and kept == []
    frame = next(tmp_path.glob("OrderPlaced.*.bin"))
    frame.write_bytes(b"left alone")

    written, kept = write_samples(tmp_path, schemas)
    assert written == [] and len(kept) == 23
    assert frame.read_bytes() == b"left alone"

    written, _ = write_samples(tmp_path, schemas, force=True)
    assert len(written) == 23
    assert frame.read_bytes().startswith(b"\xc3\x01")


def test_written_samples_match_the_checked_in_ones(
    tmp_path: Path, schemas: SchemaSet, samples: list[GoldenSample]
) -> None:
    write_samples(tmp_path, schemas)
    fresh = {s.stem: s for s in load_samples(tmp_path)}
    for sample in samples:
        if sample.stem in fresh:
            assert fresh[sample.stem].frame == sample.frame, sample.stem
            assert fresh[sample.stem].expected == sample.expected


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dir", str(tmp_path)]) == 1
    assert "23 current schema(s) without one" in capsys.readouterr().out
    assert main(["--dir", str(tmp_path), "--write"]) == 0
    assert "23 written, 0 already present" in capsys.readouterr().out
    assert main(["--dir", str(tmp_path), "--write"]) == 0
    assert "0 written, 23 already present (kept)" in capsys.readouterr().out
    assert main(["--dir", str(tmp_path)]) == 0
