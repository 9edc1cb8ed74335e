"""docs/cli.md's worked example of a stock take runs as written, against a real processor.

The example is marked in the document: ``<!-- worked-example: NAME -->`` before a fenced
block names a file the example uses (``day.jsonl``: produced first, one event at a time;
``stocktake.csv``), and
``<!-- worked-example: run -->`` before a ``console`` block runs each ``$ stocksignal ...``
line of it and compares what it prints with the lines below it. Times (shown in local time),
the worker's URL and the topic prefix differ from run to run and are compared as
placeholders; everything else, event ids included (a stock import's come from the file), must
be exactly as documented. ``$ cat FILE`` writes the lines below it to FILE. ``$AFTER_PICK`` is the time noted once the day's events are applied.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLI_MD = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
MARKED = re.compile(
    r"<!-- worked-example: (?P<name>[\w.-]+) -->\n+```[a-z]*\n(?P<body>.*?)^```", re.S | re.M
)
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})?")
PRINT = os.environ.get(
    "STOCKSIGNAL_DOCS_PRINT"
)  # a file: write the outputs there instead (to update the document)
URL = re.compile(r"http://127\.0\.0\.1:\d+")
PARTITION = re.compile(
    r"(command partition |\.v1\[)\d+"
)  # which partition a SKU hashes to: the partition count
LIBRDKAFKA = re.compile(r"^%\d\|")  # librdkafka's own log lines on stderr


def blocks(text: str) -> tuple[dict[str, str], list[str]]:
    files, runs = {}, []
    for m in MARKED.finditer(text):
        if m.group("name") == "run":
            runs.append(m.group("body"))
        else:
            files[m.group("name")] = m.group("body")
    return files, runs


def commands(console: str) -> list[tuple[str, list[str]]]:
    """``(command line, expected output lines)`` of a console block."""
    out: list[tuple[str, list[str]]] = []
    for line in console.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return out


def normal(lines: list[str], prefix: str) -> list[str]:
    result = []
    for line in lines:
        if LIBRDKAFKA.match(line):
            continue
        line = PARTITION.sub(lambda m: m.group(1) + "0", line)
        line = URL.sub("http://127.0.0.1:6066", TIME.sub("<time>", line.replace(prefix, "")))
        result.append(line.rstrip())
    while result and not result[-1]:
        result.pop()
    return result


def _wait(worker, metric: str, target: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not worker.metric(metric) >= target:  # NaN (no answer) is not there yet
        assert time.monotonic() < deadline, f"{metric} < {target}:\n{worker.tail()}"
        time.sleep(0.2)


def _wait_for(worker, cli, env, sku: str, done, timeout: float = 60.0) -> None:
    """Until the processor's state of ``sku`` satisfies ``done`` (the last event of the day is applied)."""
    deadline = time.monotonic() + timeout
    while True:
        result = cli("sku", sku, "--json", "--movements", "0", env=env)
        if result.exit_code == 0 and done(json.loads(result.output)):
            return
        if time.monotonic() > deadline:
            _, body = worker.get("/metrics")
            counters = [
                line
                for line in body.decode().splitlines()
                if line.startswith("stocksignal_")
                and "_bucket" not in line
                and "_created" not in line
                and not line.endswith(" 0.0")
            ]
            pytest.fail(f"{result.output}\n" + "\n".join(counters) + f"\n{worker.tail()}")
        time.sleep(0.2)


def test_the_document_has_the_example():
    files, runs = blocks(CLI_MD.read_text())
    assert {"day.jsonl", "stocktake.csv"} <= set(files) and len(runs) >= 3
    assert sum(len(commands(r)) for r in runs) >= 4


def test_the_stock_take_example_runs_as_written(processor, cli, tmp_path, monkeypatch):
    files, runs = blocks(CLI_MD.read_text())
    s = processor.settings
    monkeypatch.chdir(tmp_path)
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    env = {"STOCKSIGNAL_WEB_PORT": str(s.web_port)}
    # Topics are not ordered relative to each other: each event goes once the one before is applied.
    applied = 0.0
    for line in files["day.jsonl"].splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        produced = cli("produce", "-", input=line)
        assert produced.exit_code == 0, produced.output
        applied += s.command_partitions if json.loads(line)["type"] == "ChannelConfigured" else 1
        _wait(processor, "stocksignal_commands_applied_total", applied)
    _wait_for(
        processor,
        cli,
        env,
        "MUG-BLUE",
        lambda st: st["positions"].get("WH-BER", {}).get("picked") == 4,
    )
    time.sleep(0.05)
    variables = {"AFTER_PICK": str(int(time.time() * 1000))}
    time.sleep(0.05)
    counted = 0
    for console in runs:
        for line, expected in commands(console):
            args = shlex.split(
                re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], line.replace('"', ""))
            )
            if args[0] == "cat":  # the file is the block's lines
                (tmp_path / args[1]).write_text("\n".join(expected) + "\n")
                continue
            assert args[0] == "stocksignal", line
            writes = args[1:3] == ["stock", "import"] and "--dry-run" not in args
            deadline = time.monotonic() + (0 if writes or PRINT else 30)
            while (
                True
            ):  # a read may come before the processor applied (or committed) the last write
                result = cli(*args[1:], env=env)
                got = normal(result.output.split("\n"), s.topic_prefix)
                if PRINT or got == normal(expected, s.topic_prefix) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            if writes and (result.exit_code == 0 or "--partial" in args):
                counted += len(files["stocktake.csv"].strip().splitlines()) - 1
                _wait(processor, "stocksignal_cycle_counts_total", counted)
            if PRINT:
                with open(PRINT, "a") as f:
                    f.write(f"$ {line}\n" + "\n".join(got) + "\n@@@\n")
                continue
            assert got == normal(expected, s.topic_prefix), f"$ {line}\n" + "\n".join(got)
