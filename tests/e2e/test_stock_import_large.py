"""A 200,000-row stock take through ``stocksignal stock import`` and a real processor worker: the
worker ends with exactly the counted quantities. (That importing a file again changes nothing is
tests/integration/cli/test_stock_import.py: here it would double the run time.)"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import pytest
from click.testing import CliRunner

from stocksignal import bootstrap
from stocksignal.cli.kafka_read import read_all
from stocksignal.cli.main import main
from stocksignal.contract import topics as catalogue

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

ROWS = 200_000
LOCATIONS = ("WH-BER", "WH-HAM", "WH-MUC", "WH-CGN")


def _stock_take(path, seed: int = 11) -> dict[tuple[str, str], int]:
    rng = random.Random(seed)
    counted = {}
    lines = ["sku,location_id,counted_qty,reason"]
    for i in range(ROWS // len(LOCATIONS)):
        for loc in LOCATIONS:
            qty = rng.randrange(0, 500)
            counted[(f"SKU-{i:06d}", loc)] = qty
            lines.append(f"SKU-{i:06d},{loc},{qty},{'annual count' if qty % 7 == 0 else ''}")
    path.write_text("\n".join(lines) + "\n")
    return counted


def _wait(worker, metric: str, target: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not worker.metric(metric) >= target:  # NaN (no answer) is not there yet
        assert time.monotonic() < deadline, (
            f"{metric} = {worker.metric(metric)} < {target}:\n{worker.tail()}"
        )
        time.sleep(1.0)


def _final_on_hand(settings) -> dict[tuple[str, str], int]:
    """(sku, location) -> on_hand of each SKU's newest published snapshot."""
    codec = bootstrap.make_codec(settings)
    newest: dict[str, dict] = {}
    for raw in read_all(settings, settings.topic_prefix + catalogue.AVAILABILITY):
        _, snapshot = codec.decode(raw.value)
        if snapshot["version"] > newest.get(snapshot["sku"], {}).get("version", 0):
            newest[snapshot["sku"]] = snapshot
    out: dict[tuple[str, str], int] = defaultdict(int)
    for sku, snapshot in newest.items():
        for loc in snapshot["locations"]:
            out[(sku, loc["location_id"])] = loc["on_hand"]
    return out


@pytest.mark.timeout(900)
def test_a_200000_row_stock_take_ends_with_the_counted_quantities(workers, proc_settings, tmp_path):
    worker = workers("w1")
    take = tmp_path / "stocktake.csv"
    counted = _stock_take(take)
    env = proc_settings.to_env()

    started = time.monotonic()
    result = CliRunner().invoke(
        main, ["stock", "import", str(take), "--progress"], env=env, catch_exceptions=False
    )
    import_s = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert f"imported {ROWS} count(s)" in result.stdout
    assert (
        f"{ROWS}/{ROWS}" in result.stderr and "rows/s" in result.stderr
    )  # the progress bar's last state
    _wait(worker, "stocksignal_commands_applied_total", ROWS, timeout=600)
    applied_s = time.monotonic() - started

    final = _final_on_hand(proc_settings)
    wrong = {k: (final.get(k), v) for k, v in counted.items() if final.get(k, 0) != v}
    assert not wrong, f"{len(wrong)} positions differ, e.g. {list(wrong.items())[:5]}"
    # A count of 0 for a position the processor never saw changes nothing: no position appears.
    assert set(final) <= set(counted)
    assert worker.metric("stocksignal_commands_applied_total") == ROWS

    # --diff of the same file against the worker's books now: every row agrees (50,000 SKUs asked).
    started = time.monotonic()
    env_diff = {**env, "STOCKSIGNAL_WEB_PORT": str(worker.settings.web_port)}
    diff = CliRunner().invoke(
        main,
        ["stock", "import", str(take), "--diff", "--progress"],
        env=env_diff,
        catch_exceptions=False,
    )
    diff_s = time.monotonic() - started
    assert diff.exit_code == 0, diff.output
    assert f"{ROWS} row(s): 0 change stock (+0 / −0 units)" in diff.stdout, diff.stdout
    print(
        f"\n200,000-row import: produced in {import_s:.1f} s ({ROWS / import_s:,.0f} rows/s), applied after "
        f"{applied_s:.1f} s; --diff of the same file (50,000 SKUs' books) in {diff_s:.1f} s"
    )
