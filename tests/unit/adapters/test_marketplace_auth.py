"""Outbound authentication of the sync worker: headers per scheme, the HMAC canonical string."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from pathlib import Path

import pytest

from stocksignal.adapters.marketplace.auth import HmacAuth, canonical_string, make_auth
from stocksignal.adapters.marketplace.config import check_marketplace_settings
from stocksignal.settings import Settings, SettingsError

DOC = (Path(__file__).resolve().parents[3] / "docs" / "adapters.md").read_text()
BASE = dataclasses.replace(
    Settings(), marketplace_channel="mkt", marketplace_url="https://example.invalid/stock"
)


def auth(**changes):
    return make_auth(dataclasses.replace(BASE, **changes))


def test_none_sends_nothing():
    assert auth().headers(b"{}", 1) == {}


def test_bearer_and_api_key_send_the_secret_in_their_header():
    assert auth(marketplace_auth="bearer", marketplace_secret="tok").headers(b"{}", 1) == {
        "Authorization": "Bearer tok"
    }
    assert auth(marketplace_auth="api-key", marketplace_secret="k").headers(b"{}", 1) == {
        "X-API-Key": "k"
    }
    custom = auth(
        marketplace_auth="api-key", marketplace_secret="k", marketplace_api_key_header="Api-Token"
    )
    assert custom.headers(b"{}", 1) == {"Api-Token": "k"}


def test_hmac_signs_timestamp_dot_body_with_the_secret():
    signer = auth(
        marketplace_auth="hmac-sha256", marketplace_secret="s3cret", marketplace_key_id="key-2"
    )
    body = b'{"channel_id":"mkt","updates":[]}'
    headers = signer.headers(body, 1767225600123)
    expected = hmac.new(b"s3cret", b"1767225600123." + body, hashlib.sha256).hexdigest()
    assert headers == {
        "X-Stocksignal-Timestamp": "1767225600123",
        "X-Stocksignal-Signature": f"v1={expected}",
        "X-Stocksignal-Key-Id": "key-2",
    }
    assert canonical_string(1767225600123, body) == b"1767225600123." + body
    # Another body or time is another signature.
    assert signer.headers(body + b" ", 1767225600123) != headers
    assert (
        signer.headers(body, 1767225600124)["X-Stocksignal-Signature"]
        != headers["X-Stocksignal-Signature"]
    )


def test_the_documented_example_is_what_the_code_signs():
    found = re.search(
        r"secret `(\w+)`, `t` = `(\d+)` and body `([^`]+)`.*?`v1=([0-9a-f]{64})`", DOC, flags=re.S
    )
    assert found, "docs/adapters.md lost its HMAC example"
    secret, t, body, digest = found.groups()
    headers = HmacAuth(secret.encode()).headers(body.encode(), int(t))
    assert headers["X-Stocksignal-Signature"] == f"v1={digest}"
    assert "X-Stocksignal-Key-Id" not in headers


def test_secrets_are_not_in_reprs():
    for scheme in ("bearer", "api-key", "hmac-sha256"):
        assert "hush" not in repr(auth(marketplace_auth=scheme, marketplace_secret="hush"))
    assert "hush" not in repr(dataclasses.replace(BASE, marketplace_secret="hush"))


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"marketplace_auth": "basic"},
            "STOCKSIGNAL_MARKETPLACE_AUTH='basic': expected one of none, bearer",
        ),
        ({"marketplace_auth": "bearer"}, "needs STOCKSIGNAL_MARKETPLACE_SECRET"),
        (
            {"marketplace_secret": "x"},
            "STOCKSIGNAL_MARKETPLACE_SECRET is set but STOCKSIGNAL_MARKETPLACE_AUTH is none",
        ),
        ({"marketplace_auth": "bearer", "marketplace_secret": "a\nb"}, "line break"),
        (
            {
                "marketplace_auth": "api-key",
                "marketplace_secret": "k",
                "marketplace_api_key_header": "X Key",
            },
            "STOCKSIGNAL_MARKETPLACE_API_KEY_HEADER",
        ),
        ({"marketplace_url": "http://m.example/stock"}, "plain http:// is refused"),
        (
            {"marketplace_ca_bundle": "/nonexistent/ca.pem"},
            "STOCKSIGNAL_MARKETPLACE_CA_BUNDLE='/nonexistent/ca.pem': no such file",
        ),
    ],
)
def test_unusable_settings_are_refused_before_anything_connects(changes, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        check_marketplace_settings(dataclasses.replace(BASE, **changes))


def test_http_is_accepted_only_when_allowed():
    check_marketplace_settings(
        dataclasses.replace(
            BASE, marketplace_url="http://127.0.0.1:1/x", marketplace_allow_http=True
        )
    )


def test_a_ca_bundle_that_is_no_pem_is_refused(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(SettingsError, match="not a PEM file of CA certificates"):
        check_marketplace_settings(dataclasses.replace(BASE, marketplace_ca_bundle=str(bad)))
