"""How the sync worker proves who it is to the marketplace (docs/adapters.md#authentication-and-tls).

``STOCKSIGNAL_MARKETPLACE_AUTH`` picks one scheme; ``STOCKSIGNAL_MARKETPLACE_SECRET`` holds its
secret (outbound credentials must be sent, so unlike inbound tokens they cannot be hashes):

- ``none``: no credentials.
- ``bearer``: ``Authorization: Bearer <secret>``.
- ``api-key``: ``<STOCKSIGNAL_MARKETPLACE_API_KEY_HEADER>: <secret>`` (default ``X-API-Key``).
- ``hmac-sha256``: each attempt is signed. With ``t`` the attempt's time in epoch
  milliseconds as ASCII digits and ``body`` the exact request body bytes, the canonical
  string is ``t + "." + body`` and the headers are::

      X-Stocksignal-Timestamp: <t>
      X-Stocksignal-Signature: v1=<lowercase hex of HMAC-SHA256(key=UTF-8 of the secret, canonical string)>
      X-Stocksignal-Key-Id: <STOCKSIGNAL_MARKETPLACE_KEY_ID>      (only when set)

  The body carries ``batch_id`` (= ``Idempotency-Key``), so the signature covers it too.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from stocksignal.settings import Settings, SettingsError

SCHEMES = ("none", "bearer", "api-key", "hmac-sha256")
TIMESTAMP_HEADER = "X-Stocksignal-Timestamp"
SIGNATURE_HEADER = "X-Stocksignal-Signature"
KEY_ID_HEADER = "X-Stocksignal-Key-Id"
SIGNATURE_VERSION = "v1"


class Auth(Protocol):
    def headers(self, body: bytes, now_ms: int) -> dict[str, str]:
        """Headers to add to one attempt that sends ``body`` at ``now_ms``."""


@dataclass(frozen=True)
class NoAuth:
    def headers(self, body: bytes, now_ms: int) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class HeaderAuth:
    """A fixed credential header: bearer token or API key."""

    name: str
    value: str

    def headers(self, body: bytes, now_ms: int) -> dict[str, str]:
        return {self.name: self.value}

    def __repr__(self) -> str:  # never print the credential
        return f"HeaderAuth({self.name!r}, ...)"


@dataclass(frozen=True)
class HmacAuth:
    secret: bytes
    key_id: str = ""

    def headers(self, body: bytes, now_ms: int) -> dict[str, str]:
        headers = {
            TIMESTAMP_HEADER: str(now_ms),
            SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={sign(self.secret, now_ms, body)}",
        }
        if self.key_id:
            headers[KEY_ID_HEADER] = self.key_id
        return headers

    def __repr__(self) -> str:
        return f"HmacAuth(key_id={self.key_id!r}, ...)"


def canonical_string(now_ms: int, body: bytes) -> bytes:
    return str(now_ms).encode("ascii") + b"." + body


def sign(secret: bytes, now_ms: int, body: bytes) -> str:
    return hmac.new(secret, canonical_string(now_ms, body), hashlib.sha256).hexdigest()


def make_auth(settings: Settings) -> Auth:
    """The scheme the settings ask for; :class:`SettingsError` names what is missing."""
    scheme, secret = settings.marketplace_auth.strip().lower(), settings.marketplace_secret
    env = Settings.env_var
    if scheme not in SCHEMES:
        raise SettingsError(
            f"{env('marketplace_auth')}={settings.marketplace_auth!r}: expected one of {', '.join(SCHEMES)}"
        )
    if scheme == "none":
        if secret:
            raise SettingsError(
                f"{env('marketplace_secret')} is set but {env('marketplace_auth')} is none: say which scheme"
            )
        return NoAuth()
    if not secret:
        raise SettingsError(f"{env('marketplace_auth')}={scheme} needs {env('marketplace_secret')}")
    if any(c in secret for c in "\r\n"):
        raise SettingsError(f"{env('marketplace_secret')} contains a line break")
    if scheme == "bearer":
        return HeaderAuth("Authorization", f"Bearer {secret}")
    if scheme == "api-key":
        header = settings.marketplace_api_key_header.strip()
        if not header or not all(c.isalnum() or c in "-_" for c in header):
            raise SettingsError(
                f"{env('marketplace_api_key_header')}={header!r}: expected a header name"
            )
        return HeaderAuth(header, secret)
    return HmacAuth(secret.encode("utf-8"), settings.marketplace_key_id)
