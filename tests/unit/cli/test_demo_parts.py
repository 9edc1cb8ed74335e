"""The demo's pieces that need no services: pid files and stopping, the plain view, ports."""

from __future__ import annotations

import io
import subprocess
import sys
import time

from stocksignal.demo import procs
from stocksignal.demo.runner import choose_ports, metric_sum
from stocksignal.demo.view import (
    PlainView,
    availability_line,
    decision_line,
    movement_line,
    table_rows,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)", "stocksignal-test-sleeper"]


def test_stop_all_stops_recorded_processes_and_forgets_stale_pid_files(tmp_path):
    proc = procs.start(tmp_path, "sleeper", SLEEPER, env={})
    try:
        assert procs.running(tmp_path) == {"sleeper": proc.pid}
        (tmp_path / "stale.pid").write_text("999999999\n")  # no such process
        (tmp_path / "garbage.pid").write_text("not a pid\n")
        assert procs.stop_all(tmp_path, timeout=10) == ["sleeper"]
        assert proc.wait(10) is not None
        assert procs.pid_files(tmp_path) == []
        assert (tmp_path / "logs" / "sleeper.log").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_pid_reused_by_another_program_is_not_ours(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / "x.pid").write_text(f"{other.pid}\n")
        assert procs.running(tmp_path) == {}
        assert procs.stop_all(tmp_path, timeout=1) == []
        time.sleep(0.2)
        assert other.poll() is None  # left alone
    finally:
        other.kill()
        other.wait()


def test_stop_without_a_run_directory_is_harmless(tmp_path):
    assert procs.stop_all(tmp_path / "never") == []
    assert procs.read_state(tmp_path / "never") is None


def test_state_round_trip(tmp_path):
    procs.write_state(tmp_path / "run", {"run_id": "abc", "ports": {"api": 1}})
    assert procs.read_state(tmp_path / "run") == {"run_id": "abc", "ports": {"api": 1}}


def test_the_stop_module_runs_with_the_standard_library_only(tmp_path):
    env = {
        "PYTHONPATH": str(__import__("pathlib").Path(procs.__file__).parents[2]),
        "PATH": "/usr/bin:/bin",
    }
    code = (
        "import sys; import stocksignal.demo.stop as s; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('click', 'rich', 'confluent_kafka', 'faust', 'redis')]; "
        "assert not bad, bad; sys.exit(s.main(['--run-dir', sys.argv[1]]))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "nothing running" in result.stdout


def test_ports_prefer_the_usual_ones_or_take_free_ones():
    ports, _notes = choose_ports(any_free=True)
    values = list(vars(ports).values())
    assert len(set(values)) == len(values) and all(p > 0 for p in values)


def test_metric_sum_adds_every_label():
    text = (
        '# HELP x\nstocksignal_commands_applied_total{command="PlaceLine"} 3.0\n'
        'stocksignal_commands_applied_total{command="ReceiveStock"} 4.0\n'
        'stocksignal_commands_applied_total_created{command="x"} 1.7e9\n'
        'stocksignal_duplicates_dropped_total{event_type="X"} 1.0\n'
    )
    assert (
        metric_sum(
            text, ("stocksignal_commands_applied_total", "stocksignal_duplicates_dropped_total")
        )
        == 8.0
    )


AVAIL = {
    "sku": "MUG",
    "version": 3,
    "channels": [
        {"channel_id": "default", "available": 12},
        {"channel_id": "marketplace", "available": 10},
        {"channel_id": "webshop", "available": 12},
    ],
    "locations": [
        {
            "location_id": "WH-BER",
            "on_hand": 10,
            "reserved": 4,
            "picked": 0,
            "damaged": 1,
            "quality_hold": 0,
            "pending_inspection": 0,
            "inbound": 0,
            "sellable": 6,
        }
    ],
}


def test_plain_view_lines():
    assert availability_line(AVAIL) == "MUG v3: default 12 · marketplace 10 · webshop 12"
    d = {
        "order_id": "W-1",
        "sku": "MUG",
        "status": "RESERVED",
        "qty_reserved": 4,
        "qty_requested": 4,
        "allocations": [{"location_id": "WH-BER", "qty": 4}],
        "channel_id": "webshop",
        "reason": None,
    }
    assert decision_line(d) == "W-1 MUG RESERVED 4/4 {WH-BER: 4} on webshop"
    m = {
        "sku": "MUG",
        "location_id": "WH-BER",
        "bucket": "RESERVED",
        "delta": 4,
        "balance_after": 4,
        "reason": "RESERVATION",
        "reason_detail": None,
        "reference": "W-1",
    }
    assert movement_line(m) == "MUG@WH-BER RESERVED +4 -> 4  RESERVATION ref W-1"
    header, rows = table_rows({"MUG": AVAIL})
    assert header[:5] == ["SKU", "version", "default", "marketplace", "webshop"]
    assert rows == [["MUG", "3", "12", "10", "12", "WH-BER on 10 res 4 dmg 1"]]


def test_plain_view_prints_steps_checks_and_the_table():
    out = io.StringIO()
    view = PlainView(out)
    view.step(1, 2, "08:00", "Deliveries", "Stock arrives.")
    view.check(True, "fine")
    view.check(False, "broken")
    view.availability({"MUG": AVAIL})
    text = out.getvalue()
    assert "--- [1/2] 08:00 · Deliveries ---" in text
    assert "  ok   fine" in text and "  FAIL broken" in text
    assert "    MUG  3        12       10           12       WH-BER on 10 res 4 dmg 1" in text
