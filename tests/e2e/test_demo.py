"""``make demo`` end to end: the scripted day against the session's Kafka and Redis.

The demo runs as ``make demo`` runs it (a process, every service a process of its own), with
an isolated topic prefix, its own run directory and free ports, in plain output; it must exit
0 with every expectation met (the kit story's race with either winner), leave its services
running and answering, and stop them all on ``stop``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid

import pytest

from stocksignal.demo import kit, procs, script

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DEMO = [sys.executable, "-m", "stocksignal.demo"]


def test_the_demo_plays_the_day_and_meets_every_expectation(kafka_bootstrap, redis_url, tmp_path):
    run_dir = tmp_path / "demo"
    prefix = f"t{uuid.uuid4().hex[:8]}.demo."
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "STOCKSIGNAL_TOPIC_PREFIX": "",
    }
    try:
        result = subprocess.run(
            [
                *DEMO,
                "run",
                "--plain",
                "--free-ports",
                "--run-dir",
                str(run_dir),
                "--topic-prefix",
                prefix,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        out = result.stdout
        assert result.returncode == 0, f"{out[-6000:]}\n{result.stderr[-3000:]}"
        assert "expectations met" in out and "FAIL" not in out
        for step in script.steps():
            assert f"· {step.title} ---" in out
        # What the demo shows comes from the topics: the rush's decisions, the short pick's ledger.
        day = out.split("· The last gift set ---")[0]  # the kit story reserves a lamp too
        assert day.count(f" {script.LAMP} RESERVED 1/1 ") == script.LAMP_STOCK
        assert "MUG-BLUE@WH-HAM RESERVED +2 -> 2  REALLOCATION" in out
        assert (
            "storefront API /availability/MUG-BLUE: default 10 · marketplace 5 · webshop 10" in out
        )
        # The channel rules: the back-in-stock signal read from inventory.stock-levels.v1, the
        # marketplace's buffer and cap, and an order beyond the cap.
        assert "level     LAMP-OAK webshop OUT_OF_STOCK -> IN_STOCK  1 available, v" in out
        assert (
            "ok   back in stock: LAMP-OAK on webshop: OUT_OF_STOCK -> IN_STOCK, 1 available with availability v"
            in out
        )
        assert (
            "ChannelConfigured marketplace: WH-HAM > WH-BER, safety stock 2, buffer 25%, cap 5, "
            "low stock at <= 3"
        ) in out
        assert "ok   MUG-BLUE: default 10 · marketplace 5 · webshop 10" in out
        assert "M-6001 MUG-BLUE REJECTED 0/6 {} on marketplace  INSUFFICIENT_STOCK" in out
        # The ledger section: the stock take's diff and its repeat, the look back, the accuracy.
        assert script.STOCKTAKE_DIFF in out
        assert "ok   the same file imported again changes nothing" in out
        assert f"· What was {script.LOOK_BACK.sku} at {script.LOOK_BACK.clock}? ---" in out
        assert (
            f"ok   {script.LOOK_BACK.sku} at {script.LOOK_BACK.clock}: default 10 · marketplace 8 · webshop 10"
            in out
        )
        assert "ok   the day's inventory record accuracy: {'agreed': 3, 'corrected': 1}" in out
        # The kit story: the set follows its scarcer component; one of the two orders gets the
        # last lamp, whichever reached it first, and the OrderDecided records say who and why.
        assert "· The last gift set ---" in out
        assert (
            "ok   GIFT-SET follows its scarcer component, LAMP-OAK: "
            "default 1 · marketplace 0 · webshop 1"
        ) in out
        assert "webshop             1  limited by LAMP-OAK" in out
        kit_won = (
            "order     K-7001 ACCEPTED ALL_OR_NOTHING on webshop: "
            "MUG-BLUE 1/1, LAMP-OAK 1/1, GIFT-SET 1/1"
        ) in out
        if kit_won:
            assert (
                "order     W-7002 REJECTED ALL_OR_NOTHING on webshop: LAMP-OAK 0/1  "
                "INSUFFICIENT_STOCK for LAMP-OAK"
            ) in out
        else:  # the lamp order won: the set's mug, reserved first, was released again
            assert (
                "order     K-7001 REJECTED ALL_OR_NOTHING on webshop: MUG-BLUE 0/1, LAMP-OAK 0/1, "
                "GIFT-SET 0/1  ORDER_INCOMPLETE: INSUFFICIENT_STOCK for LAMP-OAK"
            ) in out
            assert "decided   K-7001 MUG-BLUE RELEASED 0/1 {} on webshop  ORDER_INCOMPLETE" in out
            assert "order     W-7002 ACCEPTED ALL_OR_NOTHING on webshop: LAMP-OAK 1/1" in out
        won = kit.KIT_ORDER if kit_won else kit.LAMP_ORDER
        assert f"ok   one order got the last lamp ({won} ACCEPTED), the other is REJECTED" in out
        after_race = kit.after(won)

        # The services keep running, and say the same as the last screen.
        status = subprocess.run(
            [*DEMO, "status", "--run-dir", str(run_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stdout
        state = procs.read_state(run_dir)
        assert state["topic_prefix"] == prefix
        with urllib.request.urlopen(
            f"{state['urls']['api']}/availability/{script.MUG}", timeout=5
        ) as r:
            assert json.loads(r.read())["channels"] == after_race[script.MUG]
        with urllib.request.urlopen(f"{state['urls']['stub']}/state", timeout=5) as r:
            pushed = json.loads(r.read())["channels"][script.MARKETPLACE]
        # The gift set is a listing of its own there: the sync worker pushed its 0 too.
        assert {sku: v["available"] for sku, v in pushed.items()} == {
            **script.FINAL_MARKETPLACE,
            kit.GIFT: 0,
        }
        env_file = (run_dir / "env").read_text()
        assert f"export STOCKSIGNAL_TOPIC_PREFIX={prefix}" in env_file
    finally:
        stop = subprocess.run(
            [*DEMO, "stop", "--run-dir", str(run_dir), "--purge"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert procs.running(run_dir) == {}
    assert procs.pid_files(run_dir) == []
