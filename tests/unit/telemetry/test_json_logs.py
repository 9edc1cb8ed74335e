"""STOCKSIGNAL_LOG_FORMAT=json: one JSON object per log line, configured where every process
loads its settings; any value but text or json is refused (docs/operations.md#logs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stocksignal.settings import Settings, SettingsError

SERVICES = Path(__file__).resolve().parents[3] / "services"
SCRIPT = """
import logging
from stocksignal.cli.common import load_settings
load_settings()
log = logging.getLogger("stocksignal.test")
log.info("hello %s", "world", extra={"sku": "MUG-BLUE"})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
"""


def run(fmt: str) -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVICES),
        "STOCKSIGNAL_LOG_FORMAT": fmt,
        "STOCKSIGNAL_LOG_LEVEL": "INFO",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_json_lines():
    lines = run("json")
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "stocksignal.test"
    assert first["message"] == "hello world" and first["sku"] == "MUG-BLUE"
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exception"]
    assert len(lines) == 2, "a traceback stays inside its JSON line"


def test_text_stays_the_default_shape():
    lines = run("text")
    assert lines[0].endswith("INFO stocksignal.test: hello world")
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_an_unknown_format_is_refused():
    with pytest.raises(SettingsError, match="STOCKSIGNAL_LOG_FORMAT='xml'"):
        Settings(log_format="xml").validate()
