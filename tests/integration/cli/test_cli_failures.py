"""Bad input and a bad environment never show a traceback: the real CLI, as a subprocess.

Each case asserts the exit code of docs/cli.md#exit-codes, the message, and that no
"Traceback" reached stdout or stderr.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from stocksignal import bootstrap
from stocksignal.cli.kafka_read import read_all
from stocksignal.contract import topics as catalogue
from stocksignal.web.tokens import hash_token

CLI = [sys.executable, "-m", "stocksignal.cli.main"]


def stocksignal(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None, timeout: float = 60
):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSIGNAL_")}
    full_env.update(env or {})
    result = subprocess.run(
        [*CLI, *args], env=full_env, input=stdin, capture_output=True, timeout=timeout
    )
    out, err = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
    assert "Traceback" not in out + err, out + err
    return result.returncode, out, err


@contextmanager
def taken_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


GOOD = b'{"type": "StockReceived", "sku": "%s", "location_id": "WH-1", "qty": 1}'


@pytest.mark.integration
def test_produce_reports_non_utf8_and_bom_lines_by_number_and_produces_the_rest(
    with_topics, tmp_path: Path
):
    s = with_topics
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(
        b"\n".join(
            [
                b"\xef\xbb\xbf" + GOOD % b"A",  # a BOM, as editors on Windows write it
                GOOD % b"B",
                GOOD % b"C\xe9",  # Latin-1, not UTF-8
                b"\xff\xfe",  # UTF-16's BOM: not text we can read
                GOOD % b"D",
            ]
        )
        + b"\n"
    )
    code, out, err = stocksignal("produce", str(f), env=s.to_env())
    assert code == 1, out + err
    assert out.startswith(f"produced 3 event(s) from {f}:"), out
    assert "line 1: a UTF-8 byte order mark (EF BB BF) was ignored" in err
    assert "line 3: not UTF-8: byte 0xe9 at column 36" in err
    assert "line 4: not UTF-8: byte 0xff at column 1" in err
    assert "Error: 2 bad line(s); every other line was produced" in err
    codec = bootstrap.make_codec(s)
    skus = sorted(
        codec.decode(r.value)[1]["sku"] for r in read_all(s, s.topic_prefix + catalogue.STOCK)
    )
    assert skus == ["A", "B", "D"]


def test_produce_dry_run_reads_stdin_bytes_the_same_way(tmp_path: Path):
    code, out, err = stocksignal(
        "produce", "--dry-run", "-", stdin=GOOD % b"A" + b"\n" + GOOD % b"\xc3\x28" + b"\n"
    )
    assert (code, out.splitlines()[0]) == (1, "checked 1 event(s) from stdin:")
    assert "line 2: not UTF-8: byte 0xc3 at column 35" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["sku", "MUG", "--url", "notaurl"],
            "Invalid value for --url: 'notaurl' is not an http:// or https:// URL",
        ),
        (["sku", "MUG", "--url", "http://127.0.0.1:port/"], "is not an http:// or https:// URL"),
        (["sku", ""], "Invalid value for SKU: '': a SKU is 1 to 128 printable characters"),
        (["sku", "x" * 129], "a SKU is 1 to 128 printable characters"),
        (["produce", "--dry-run", "/nonexistent/day.jsonl"], "cannot read /nonexistent/day.jsonl"),
    ],
)
def test_bad_arguments_are_usage_errors(args, message):
    code, out, err = stocksignal(*args)
    assert code == 2 and message in err, out + err


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "check"],
        ["produce", "--dry-run", "-"],
        ["sku", "MUG"],
        ["run", "api"],
        ["run", "projector"],
        ["tail", "dlq"],
        ["channels", "list"],
    ],
)
def test_a_bad_log_level_is_a_usage_error_of_every_command(args):
    code, out, err = stocksignal(*args, env={"STOCKSIGNAL_LOG_LEVEL": "LOUD"}, stdin=b"")
    assert code == 2, out + err
    assert "STOCKSIGNAL_LOG_LEVEL='LOUD': expected one of DEBUG, INFO, WARNING, ERROR" in err


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"STOCKSIGNAL_API_TOKENS_SHA256": "my-clear-text-token"},
            "STOCKSIGNAL_API_TOKENS_SHA256: item 1 is not a SHA-256",
        ),
        (
            {"STOCKSIGNAL_ALLOW_UNAUTHENTICATED": "ture"},
            "STOCKSIGNAL_ALLOW_UNAUTHENTICATED='ture': expected true or false",
        ),
        ({"STOCKSIGNAL_API_PORT": "70000"}, "STOCKSIGNAL_API_PORT=70000: expected a port"),
        (
            {"STOCKSIGNAL_API_HOST": "0.0.0.0"},
            "the storefront API would listen on 0.0.0.0 without authentication",
        ),
    ],
)
def test_unusable_api_settings_stop_it_before_it_starts(env, message):
    code, out, err = stocksignal("run", "api", env=env)
    assert code == 2 and message in err, out + err


def run_on_taken_port(args: list[str], env: dict[str, str], port_setting: str) -> str:
    with taken_port() as port:
        code, out, err = stocksignal(*args, env={**env, port_setting: str(port)}, timeout=30)
    assert code == 2, out + err
    assert f"127.0.0.1:{port} is in use by another process" in err
    return err


def test_every_run_command_refuses_a_taken_port_before_starting():
    sync = {
        "STOCKSIGNAL_MARKETPLACE_CHANNEL": "mkt",
        "STOCKSIGNAL_MARKETPLACE_URL": "https://127.0.0.1:1/x",
    }
    cases = [
        (["run", "api"], {}, "STOCKSIGNAL_API_PORT", "the storefront API"),
        (["run", "api"], {}, "STOCKSIGNAL_API_METRICS_PORT", "the storefront API's metrics server"),
        (["run", "projector"], {}, "STOCKSIGNAL_METRICS_PORT", "the projector's metrics server"),
        (
            ["run", "marketplace-sync"],
            sync,
            "STOCKSIGNAL_METRICS_PORT",
            "the sync worker's metrics server",
        ),
        (
            ["run", "processor"],
            {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
            "STOCKSIGNAL_WEB_PORT",
            "the inspection API",
        ),
    ]
    for args, env, setting, what in cases:
        err = run_on_taken_port(args, env, setting)
        assert err.startswith(f"Error: {what}: "), err


def test_marketplace_sync_refuses_plain_http():
    code, out, err = stocksignal(
        "run",
        "marketplace-sync",
        env={
            "STOCKSIGNAL_MARKETPLACE_CHANNEL": "mkt",
            "STOCKSIGNAL_MARKETPLACE_URL": "http://127.0.0.1:1/x",
        },
    )
    assert (
        code == 2
        and "plain http:// is refused" in err
        and "STOCKSIGNAL_MARKETPLACE_ALLOW_HTTP" in err
    )


def get(url: str, token: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.integration
def test_the_api_process_with_tokens_and_metrics_on_their_own_port(
    redis_url: str, free_port, tmp_path: Path
):
    port, metrics_port, token = free_port(), free_port(), "t-" + "z" * 40
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "STOCKSIGNAL_API_PORT": str(port),
        "STOCKSIGNAL_API_METRICS_PORT": str(metrics_port),
        "STOCKSIGNAL_API_TOKENS_SHA256": hash_token(token),
        "STOCKSIGNAL_REDIS_PREFIX": f"cli-failures-{port}:",
    }
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen([*CLI, "run", "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        status, headers, body = get(f"http://127.0.0.1:{port}/availability/MUG")
        assert (status, orjson.loads(body)["error"]) == (401, "unauthorized")
        assert headers["WWW-Authenticate"] == 'Bearer realm="stocksignal"'
        status, _, body = get(f"http://127.0.0.1:{port}/availability/MUG", token)
        assert (status, orjson.loads(body)["error"]) in {(404, "unknown_sku"), (503, "rebuilding")}
        wait_for(f"http://127.0.0.1:{metrics_port}/metrics")
        status, _, body = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert (
            status == 200
            and b'stocksignal_api_requests_total{route="/availability/{sku}",status="401"} 1.0'
            in body
        )
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert "Traceback" not in (tmp_path / "api.log").read_text()
