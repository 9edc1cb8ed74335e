"""The stock-take CSV (``stocksignal stock import``): rows, problems by line, ids, the diff."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from rich.console import Console

from stocksignal.cli import counts_diff, progress
from stocksignal.cli.counts_csv import CountRow, event_id, parse_counts, record_for, source_for
from stocksignal.cli.main import main
from stocksignal.contract import make_codec
from stocksignal.domain import InMemoryInventory

GOOD = b"sku,location_id,counted_qty,reason\nMUG,WH-BER,2,bin B-4 short\nLAMP,WH-BER,0,\n"
DEAD = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "STOCKSIGNAL_WEB_PORT": "9"}


def test_good_rows_become_valid_stock_counted_records():
    counts = parse_counts(GOOD)
    assert counts.bad == []
    assert counts.rows == [
        CountRow(2, "MUG", "WH-BER", 2, "bin B-4 short"),
        CountRow(3, "LAMP", "WH-BER", 0, None),
    ]
    record = record_for(counts.rows[0], counts.digest, occurred_at=5)
    assert record["source"] == "stock-import: bin B-4 short"
    assert record_for(counts.rows[1], counts.digest, 5)["source"] == "stock-import"
    # The codec accepts it as is (the processor's reader would too).
    name, decoded = make_codec("").decode(make_codec("").encode("StockCounted", record))
    assert name == "StockCounted" and decoded == record


def test_columns_in_any_order_with_spaces_a_bom_crlf_and_blank_rows():
    data = b"\xef\xbb\xbf counted_qty , SKU ,location_id\r\n\r\n 7 , MUG , WH-HAM \r\n"
    counts = parse_counts(data)
    assert counts.bad == [] and counts.rows == [CountRow(3, "MUG", "WH-HAM", 7)]


@pytest.mark.parametrize(
    "line, says",
    [
        ("MUG,WH-BER,-1", "counted_qty: -1 is not in 0..1000000"),
        ("MUG,WH-BER,1000001", "counted_qty: 1000001 is not in 0..1000000"),
        ("MUG,WH-BER,2.0", "counted_qty: '2.0' is not a whole number"),
        ("MUG,WH-BER,", "counted_qty: is empty"),
        (",WH-BER,1", "sku: length 0 is not in 1..128"),
        ("MUG,WH-BER", "2 cell(s) where the header has 3"),
        ("MUG," + "W" * 129 + ",1", "location_id: length 129 is not in 1..128"),
    ],
)
def test_each_bad_row_is_reported_with_its_line_number_and_the_others_are_kept(line, says):
    counts = parse_counts(f"sku,location_id,counted_qty\nA,L,1\n{line}\nB,L,3\n".encode())
    assert [r.sku for r in counts.rows] == ["A", "B"]
    assert [(b.line, says in b.reason) for b in counts.bad] == [(3, True)], counts.bad


def test_a_position_counted_twice_is_refused_on_its_second_line():
    counts = parse_counts(b"sku,location_id,counted_qty\nA,L,1\nA,M,1\nA,L,2\n")
    assert [r.line for r in counts.rows] == [2, 3]
    assert [b.line for b in counts.bad] == [4] and "also counted on line 2" in counts.bad[0].reason


@pytest.mark.parametrize(
    "data, says",
    [
        (b"", "no header row"),
        (b"sku,location,counted_qty\n", "missing column(s) location_id"),
        (b"sku,location_id,counted_qty,bin\n", "unknown column(s) 'bin'"),
        (b"sku,location_id,counted_qty,sku\n", "sku named twice"),
        (b"sku;location_id;counted_qty\nA;L;1\n", "use --delimiter ';'"),
    ],
)
def test_a_bad_header_reads_nothing(data, says):
    counts = parse_counts(data)
    assert counts.rows == [] and len(counts.bad) == 1 and says in counts.bad[0].reason


def test_a_semicolon_file_reads_with_its_delimiter_and_quoted_cells_keep_commas():
    counts = parse_counts(
        b'sku;location_id;counted_qty;reason\n"A;1";L;4;"damaged, two"\n', delimiter=";"
    )
    assert counts.rows == [CountRow(2, "A;1", "L", 4, "damaged, two")]


def test_a_file_that_is_not_utf8_names_the_line_and_column():
    counts = parse_counts(b"sku,location_id,counted_qty\nA,L,1\nB,K\xe9ln,2\n")
    assert (
        counts.rows == []
        and counts.bad[0].line == 3
        and "byte 0xe9 at column 4" in counts.bad[0].reason
    )


def test_a_quoted_cell_over_two_lines_is_one_row_numbered_by_its_first_line():
    counts = parse_counts(b'sku,location_id,counted_qty,reason\nA,L,1,"two\nlines"\nB,L,x\n')
    assert counts.rows[0].line == 2 and counts.bad[0].line == 4


def test_event_ids_come_from_the_file_and_the_line_only():
    a, b = parse_counts(GOOD), parse_counts(GOOD)
    assert a.digest == b.digest
    assert [record_for(r, a.digest, 1)["event_id"] for r in a.rows] == [
        record_for(r, b.digest, 2)["event_id"] for r in b.rows
    ]
    other = parse_counts(GOOD + b"\n")  # any change of the file is a new import
    assert event_id(other.digest, 2) != event_id(a.digest, 2)
    assert event_id(a.digest, 2) != event_id(a.digest, 3)
    assert source_for("wms", None) == "wms" and source_for("wms", "why") == "wms: why"


def test_a_reason_longer_than_source_leaves_room_for_is_refused():
    counts = parse_counts(b"sku,location_id,counted_qty,reason\nA,L,1," + b"r" * 1020 + b"\n")
    assert counts.rows == [] and "reason: 1020 characters, at most 1010" in counts.bad[0].reason


# --- the diff ------------------------------------------------------------------------------------


def test_the_diff_compares_the_bins_with_on_hand_minus_picked_as_the_processor_applies_it():
    """The diff's arithmetic is the core's: replay the counts through the reference model."""
    shop = InMemoryInventory()
    shop.post("StockReceived", sku="MUG", location_id="BER", qty=10)
    shop.post("OrderPlaced", order_id="W-1", channel_id="web", lines=[{"sku": "MUG", "qty": 4}])
    shop.post(
        "PickConfirmed", order_id="W-1", location_id="BER", lines=[{"sku": "MUG", "qty_picked": 4}]
    )
    rows = [
        CountRow(2, "MUG", "BER", 5),
        CountRow(3, "MUG", "HAM", 3),
        CountRow(4, "NEW", "BER", 0),
        CountRow(5, "MUG", "BER", 6),
    ]
    positions = {
        loc: {"on_hand": p.on_hand, "picked": p.picked}
        for loc, p in shop.state("MUG").positions.items()
    }
    changes = counts_diff.compare(rows[:3], {"MUG": positions, "NEW": None})
    assert [(c.books, c.delta, c.on_hand_after, c.known) for c in changes] == [
        (6, -1, 9, True),
        (0, 3, 3, False),
        (0, 0, 0, False),
    ]
    for change in changes:
        shop.post(
            "StockCounted",
            sku=change.row.sku,
            location_id=change.row.location_id,
            counted_qty=change.row.counted_qty,
        )
        position = shop.state(change.row.sku).positions.get(change.row.location_id)
        assert (position.on_hand if position else 0) == change.on_hand_after, change
    t = counts_diff.totals(changes)
    assert (t.rows, t.changing, t.agreeing, t.new_positions, t.units_up, t.units_down) == (
        3,
        2,
        1,
        2,
        3,
        1,
    )


def test_the_diff_lists_the_largest_corrections_first_and_says_how_many_it_left_out():
    rows = [CountRow(i + 2, f"S{i}", "L", q) for i, q in enumerate([5, 0, 9, 4])]
    changes = counts_diff.compare(
        rows, {f"S{i}": {"L": {"on_hand": 4, "picked": 0}} for i in range(4)}
    )
    # deltas by line: 2: +1, 3: -4, 4: +5, 5: 0 (agrees: never listed)
    assert [c.row.line for c in counts_diff.largest_first(changes, 10)] == [4, 3, 2]
    out = io.StringIO()
    counts_diff.render(changes, 2, Console(file=out, width=200))
    table, _, summary = out.getvalue().partition("row(s):")
    assert (
        "2 of 3" in table
        and "4 − 0 = 4" in table
        and "+5" in table
        and "-4" in table
        and "+1" not in table
    )
    assert (
        summary.strip()
        == "3 change stock (+6 / −4 units), 1 agree with the books, 0 new position(s)"
    )


def test_fetching_the_books_maps_unknown_skus_to_none_and_a_bad_answer_to_a_failure():
    answers = {
        "/skus/A": (200, {"positions": {"L": {"on_hand": 1, "picked": 0}}}),
        "/skus/B": (404, {}),
        "/skus/C%2F1": (503, {"error": "not_ready"}),
    }
    done = []
    books = counts_diff.fetch_books(
        "http://x", ["A", "B"], lambda _b, path: answers[path], done.append
    )
    assert books == {"A": {"L": {"on_hand": 1, "picked": 0}}, "B": None} and done == [1, 1]
    from stocksignal.cli.common import Failure

    with pytest.raises(Failure, match="answered 503"):
        counts_diff.fetch_books("http://x", ["C/1"], lambda _b, path: answers[path])


def test_progress_shows_for_big_files_on_a_terminal_or_when_forced():
    assert progress.wanted(True, 1) and not progress.wanted(False, 10**6)
    assert not progress.wanted(None, progress.PROGRESS_MIN_ROWS)  # stderr is no terminal here
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    with progress.bar("producing", 200_000, True, console) as advance:
        for _ in range(4):
            advance(50_000)
    text = out.getvalue()
    assert "producing" in text and "200000/200000" in text and "rows/s" in text and "ETA" in text


# --- the command without services ------------------------------------------------------------------


def test_dry_run_checks_every_row_without_kafka_or_the_processor(tmp_path):
    f = tmp_path / "take.csv"
    f.write_bytes(GOOD)
    result = CliRunner().invoke(main, ["stock", "import", str(f), "--dry-run"], env=DEAD)
    assert result.exit_code == 0, result.output
    assert "checked 2 row(s)" in result.output


def test_bad_rows_are_listed_by_line_and_nothing_is_produced(tmp_path):
    f = tmp_path / "take.csv"
    f.write_bytes(GOOD + b"MUG,WH-HAM,many,\n")
    result = CliRunner().invoke(main, ["stock", "import", str(f)], env=DEAD)
    assert result.exit_code == 1
    assert "line 4: counted_qty: 'many' is not a whole number" in result.stderr
    assert "nothing was produced" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, code, says",
    [
        (["stock", "import", "/nonexistent.csv"], 2, "cannot read"),
        (["stock", "import", "FILE", "--delimiter", ";;"], 2, "one character"),
        (["stock", "import", "FILE", "--counted-at", "yesterday"], 2, "is not a time"),
        (["stock", "import", "FILE", "--diff", "--url", "ftp://x"], 2, "not an http"),
        (["stock", "import", "FILE", "--diff", "--yes"], 3, "does not answer"),
        (["stock", "import", "FILE"], 3, "Kafka does not answer"),
    ],
)
def test_usage_errors_and_services_that_do_not_answer(tmp_path, args, code, says):
    f = tmp_path / "take.csv"
    f.write_bytes(GOOD)
    result = CliRunner().invoke(main, [str(f) if a == "FILE" else a for a in args], env=DEAD)
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output


def test_a_header_only_file_has_nothing_to_import(tmp_path):
    f = tmp_path / "take.csv"
    f.write_bytes(b"sku,location_id,counted_qty\n")
    result = CliRunner().invoke(main, ["stock", "import", str(f), "--dry-run"], env=DEAD)
    assert result.exit_code == 1 and "no rows to import" in result.output
