"""The sync worker over real HTTPS: a local stub marketplace with certificates made by trustme.

In process, the client against the stub: each authentication scheme arrives as documented
(the HMAC recomputed from docs/adapters.md's canonical string), and a certificate that does
not verify is the ``tls`` outcome. As a process, the worker: with the CA bundle and HMAC it
delivers; with a certificate it cannot verify it keeps running, logs an ERROR and counts it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import ssl
from pathlib import Path

import orjson
import pytest
import trustme
from adapter_harness import Deployment, StubMarketplace, metric, wait_until

from stocksignal import bootstrap
from stocksignal.adapters.marketplace.auth import make_auth
from stocksignal.adapters.marketplace.client import MarketplaceClient, Outcome
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
CHANNEL = "mkt"
BODY = orjson.dumps(
    {
        "channel_id": CHANNEL,
        "batch_id": "b" * 32,
        "sent_at": 1,
        "updates": [{"sku": "MUG", "available": 3, "version": 7}],
    }
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_stub(ca: trustme.CA, free_port):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    stub = StubMarketplace(free_port(), ssl_context=context)
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "marketplace-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def push(settings: Settings) -> tuple[object, dict[str, str]]:
    async def run():
        async with bootstrap.marketplace_session(settings) as session:
            client = MarketplaceClient(
                session,
                settings.marketplace_url,
                5.0,
                60.0,
                auth=make_auth(settings),
                clock_ms=lambda: 1767225600000,
            )
            return await client.push(BODY, "b" * 32)

    return asyncio.run(run())


def settings_for(stub: StubMarketplace, **changes) -> Settings:
    return dataclasses.replace(
        Settings(), marketplace_channel=CHANNEL, marketplace_url=stub.url, **changes
    )


@pytest.mark.parametrize(
    "auth, secret, expected",
    [
        ("bearer", "tok-123", {"Authorization": "Bearer tok-123"}),
        ("api-key", "key-456", {"X-API-Key": "key-456"}),
    ],
)
def test_header_credentials_arrive_over_https(https_stub, ca_bundle, auth, secret, expected):
    result = push(
        settings_for(
            https_stub,
            marketplace_auth=auth,
            marketplace_secret=secret,
            marketplace_ca_bundle=str(ca_bundle),
        )
    )
    assert result.outcome is Outcome.OK, result
    (received,) = https_stub.received()
    assert {k: received.headers[k] for k in expected} == expected


def test_an_hmac_signature_verifies_as_documented(https_stub, ca_bundle):
    result = push(
        settings_for(
            https_stub,
            marketplace_auth="hmac-sha256",
            marketplace_secret="s3cret",
            marketplace_key_id="k1",
            marketplace_ca_bundle=str(ca_bundle),
        )
    )
    assert result.outcome is Outcome.OK, result
    (received,) = https_stub.received()
    t = received.headers["X-Stocksignal-Timestamp"]
    assert t == "1767225600000" and received.headers["X-Stocksignal-Key-Id"] == "k1"
    # What a marketplace does: recompute over the body exactly as received.
    expected = hmac.new(b"s3cret", t.encode() + b"." + received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Stocksignal-Signature"], f"v1={expected}")
    assert received.body == BODY


def test_a_certificate_that_does_not_verify_is_the_tls_outcome(https_stub, tmp_path):
    untrusted = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(untrusted))
    for settings in (
        settings_for(https_stub),
        settings_for(https_stub, marketplace_ca_bundle=str(untrusted)),
    ):
        result = push(settings)
        assert result.outcome is Outcome.TLS, result
        assert result.status is None and "certificate verify failed" in result.detail
    assert https_stub.received() == [], "nothing reached the marketplace"


def test_a_certificate_for_another_host_is_refused(ca, free_port, ca_bundle):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("marketplace.example").configure_cert(context)
    stub = StubMarketplace(free_port(), ssl_context=context)
    stub.start()
    try:
        result = push(settings_for(stub, marketplace_ca_bundle=str(ca_bundle)))
    finally:
        stub.stop()
    assert result.outcome is Outcome.TLS and "127.0.0.1" in result.detail, result


def sync_env(dep: Deployment, stub: StubMarketplace, **overrides: str) -> dict[str, str]:
    return dep.env(
        STOCKSIGNAL_MARKETPLACE_URL=stub.url,
        STOCKSIGNAL_MARKETPLACE_GROUP=f"{dep.prefix}-sync-{CHANNEL}",
        STOCKSIGNAL_MARKETPLACE_LINGER_MS="20",
        STOCKSIGNAL_MARKETPLACE_BACKOFF_BASE_MS="50",
        STOCKSIGNAL_MARKETPLACE_BACKOFF_MAX_MS="300",
        **overrides,
    )


def test_the_worker_signs_and_delivers_over_https(deployment, https_stub, ca_bundle, processes):
    dep = deployment
    for i in range(5):
        dep.producer.send(f"SKU-{i}", 1, {CHANNEL: i + 1})
    dep.producer.flush()
    worker = processes(
        ["run", "marketplace-sync", "--channel", CHANNEL],
        sync_env(
            dep,
            https_stub,
            STOCKSIGNAL_MARKETPLACE_CA_BUNDLE=str(ca_bundle),
            STOCKSIGNAL_MARKETPLACE_AUTH="hmac-sha256",
            STOCKSIGNAL_MARKETPLACE_SECRET="s3cret",
        ),
    )
    wait_until(
        lambda: https_stub.values() == {f"SKU-{i}": i + 1 for i in range(5)},
        40,
        "every value, over HTTPS",
    )
    for received in https_stub.received():
        t = received.headers["X-Stocksignal-Timestamp"].encode()
        expected = hmac.new(b"s3cret", t + b"." + received.body, hashlib.sha256).hexdigest()
        assert received.headers["X-Stocksignal-Signature"] == f"v1={expected}"
    assert worker.stop() == 0, worker.output()


def test_a_bad_certificate_is_an_error_with_a_metric_and_the_worker_keeps_trying(
    deployment, https_stub, processes
):
    dep = deployment
    dep.producer.send("SKU-1", 1, {CHANNEL: 4})
    dep.producer.flush()
    worker = processes(["run", "marketplace-sync", "--channel", CHANNEL], sync_env(dep, https_stub))
    labels = f'channel="{CHANNEL}"'
    wait_until(
        lambda: metric(dep.metrics_port, "stocksignal_marketplace_tls_failures_total", labels) >= 2,
        40,
        "two TLS failures counted",
    )
    assert (
        metric(
            dep.metrics_port, "stocksignal_marketplace_requests_total", f'{labels},outcome="tls"'
        )
        >= 2
    )
    assert worker.alive(), "a certificate problem does not stop the worker"
    assert worker.stop() == 0
    log = worker.output()
    assert (
        "ERROR" in log
        and "certificate verify failed" in log
        and "STOCKSIGNAL_MARKETPLACE_CA_BUNDLE" in log
    )
    assert " INFO " not in "\n".join(line for line in log.splitlines() if "certificate" in line)
    assert https_stub.received() == []
