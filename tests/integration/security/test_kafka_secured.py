"""The CLI over the secured broker: SASL_SSL with SCRAM, mTLS and OAUTHBEARER (OIDC), and the
refusals that fail fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner, Result

from stocksignal import bootstrap
from stocksignal.cli.kafka_read import read_all
from stocksignal.cli.main import main
from stocksignal.contract import topics as catalogue
from stocksignal.contract.examples import example
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# A refusal must be reported in about the time of a TLS handshake and one retry, far below the
# 10 s the CLI would otherwise wait for metadata (and librdkafka's forever).
FAST_S = 6.0
DAY = """\
{"type": "StockReceived", "sku": "MUG", "location_id": "WH-BER", "qty": 10, "reference": "PO-1"}
{"type": "OrderPlaced", "order_id": "W-1", "channel_id": "web", "lines": [{"sku": "MUG", "qty": 2}]}
"""


def cli(settings: Settings, *args: str, **env: str) -> Result:
    return CliRunner().invoke(
        main, list(args), env={**settings.to_env(), **env}, catch_exceptions=False
    )


def timed_cli(settings: Settings, *args: str, **env: str) -> tuple[Result, float]:
    began = time.monotonic()
    result = cli(settings, *args, **env)
    return result, time.monotonic() - began


def test_topics_create_produce_and_tail_over_the_secured_listener(secured: Settings, tmp_path):
    s = secured
    created = cli(s, "topics", "create", "--json")
    assert created.exit_code == 0, created.output
    assert {json.loads(line)["action"] for line in created.stdout.splitlines()} == {"created"}

    day = tmp_path / "day.jsonl"
    day.write_text(DAY)
    produced = cli(s, "produce", str(day))
    assert produced.exit_code == 0, produced.output
    assert "produced 2 event(s)" in produced.stdout
    codec = bootstrap.make_codec(s)
    orders = [codec.decode(r.value) for r in read_all(s, s.topic_prefix + catalogue.ORDERS)]
    assert [(name, record["order_id"]) for name, record in orders] == [("OrderPlaced", "W-1")]

    # What the processor would publish, then read back by `tail` over the same listener.
    snapshot = {**example("AvailabilityChanged"), "sku": "MUG", "version": 7}
    producer = bootstrap.make_producer(s)
    producer.produce(
        s.topic_prefix + catalogue.AVAILABILITY,
        codec.encode("AvailabilityChanged", snapshot),
        b"MUG",
    )
    assert producer.flush(30) == 0
    del producer  # closed now, not when the broker is gone at the end of the session
    tailed = cli(s, "tail", "availability", "--from-beginning", "--json")
    assert tailed.exit_code == 0, tailed.output
    records = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert [(r["key"], r["record"]["version"]) for r in records] == [("MUG", 7)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_every_sasl_mechanism_of_the_listener_logs_in(secure_kafka, mechanism):
    settings = secure_kafka.settings("sasl-ssl")
    settings = Settings.from_env(
        {**settings.to_env(), "STOCKSIGNAL_KAFKA_SASL_MECHANISM": mechanism}
    )
    metadata = bootstrap.check_kafka(settings, timeout=20)
    assert [b.port for b in metadata.brokers.values()] == [
        int(settings.kafka_bootstrap_servers.rsplit(":", 1)[1])
    ]


def test_a_wrong_password_exits_5_at_once_naming_the_setting(secure_kafka):
    settings = secure_kafka.settings("sasl-ssl")
    result, elapsed = timed_cli(
        settings,
        "topics",
        "check",
        STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE="",
        STOCKSIGNAL_KAFKA_SASL_PASSWORD="not-the-password",
    )
    assert result.exit_code == 5, result.output
    assert "refused the SASL SCRAM-SHA-512 login" in result.stderr
    assert (
        "check STOCKSIGNAL_KAFKA_SASL_USERNAME and STOCKSIGNAL_KAFKA_SASL_PASSWORD" in result.stderr
    )
    assert "not-the-password" not in result.output
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"


def test_an_untrusted_ca_exits_5_at_once_naming_the_setting(secure_kafka, profile, other_ca):
    settings = secure_kafka.settings(profile)
    result, elapsed = timed_cli(
        settings, "tail", "movements", STOCKSIGNAL_KAFKA_SSL_CA_LOCATION=other_ca
    )
    assert result.exit_code == 5, result.output
    assert "the broker's certificate is not trusted" in result.stderr
    assert "check STOCKSIGNAL_KAFKA_SSL_CA_LOCATION" in result.stderr
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"


def test_mtls_without_a_client_certificate_exits_5_naming_the_certificate_settings(secure_kafka):
    settings = secure_kafka.settings("mtls")
    result, elapsed = timed_cli(
        settings,
        "topics",
        "check",
        STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION="",
        STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION="",
        STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD_FILE="",
    )
    assert result.exit_code == 5, result.output
    assert (
        "STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION and STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION"
        in result.stderr
    )
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"


def test_a_plain_client_at_the_sasl_ssl_listener_is_told_to_check_the_protocol(secure_kafka):
    secured = secure_kafka.settings("sasl-ssl")
    plain = Settings(
        kafka_bootstrap_servers=secured.kafka_bootstrap_servers, topic_prefix=secured.topic_prefix
    )
    result, elapsed = timed_cli(plain, "topics", "check")
    assert result.exit_code == 5, result.output
    assert "check STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL" in result.stderr
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"


def test_a_service_with_a_wrong_password_exits_5_instead_of_retrying_forever(
    secure_kafka, tmp_path
):
    settings = secure_kafka.settings("sasl-ssl")
    env = {
        **os.environ,
        **settings.to_env(),
        "STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE": "",
        "STOCKSIGNAL_KAFKA_SASL_PASSWORD": "not-the-password",
        "STOCKSIGNAL_METRICS_PORT": "0",
    }
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stocksignal.cli.main", "run", "projector"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 5, result.stderr
    assert (
        "STOCKSIGNAL_KAFKA_SASL_PASSWORD" in result.stderr
        and "not-the-password" not in result.stderr
    )
    assert time.monotonic() - began < 20  # interpreter start and imports included


def test_oauthbearer_with_oidc_client_credentials(secure_oidc, tmp_path):
    """librdkafka fetches a token from the endpoint; the broker checks it against the JWKS."""
    s = secure_oidc.settings("oauth")
    assert bootstrap.kafka_common(s)["sasl.oauthbearer.method"] == "oidc"
    created = cli(s, "topics", "create")
    assert created.exit_code == 0, created.output
    day = tmp_path / "day.jsonl"
    day.write_text(DAY)
    produced = cli(s, "produce", str(day))
    assert produced.exit_code == 0 and "produced 2 event(s)" in produced.stdout, produced.output

    result, elapsed = timed_cli(
        s,
        "topics",
        "check",
        STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET_FILE="",
        STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET="not-the-secret",
    )
    assert result.exit_code == 5, result.output
    assert (
        "the OAUTHBEARER login failed" in result.stderr
        and "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET" in result.stderr
    )
    assert "not-the-secret" not in result.output
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"
