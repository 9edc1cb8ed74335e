"""One HTTP push to the marketplace, and what its answer means for the updates in it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import aiohttp

from stocksignal.adapters.marketplace.auth import Auth, NoAuth
from stocksignal.adapters.marketplace.retry_after import parse_retry_after

MAX_DETAIL = 4096
# Not the records' fault: a wrong credential would otherwise dead-letter the whole catalogue.
FATAL_STATUSES = frozenset({401, 403, 407})
# 408 is "the server timed out waiting for the request": a timeout, retried like one.
TRANSIENT_4XX = frozenset({408, 429})


class Outcome(StrEnum):
    OK = "ok"
    TRANSIENT = "transient"  # retry later (honouring retry_after_s when given)
    PERMANENT = "permanent"  # the marketplace refuses these updates: dead-letter
    FATAL = "fatal"  # the worker is misconfigured: stop, commit nothing
    TLS = "tls"  # the marketplace's certificate cannot be verified: an error, retried with backoff


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    status: int | None  # None: no HTTP answer (timeout, connection error)
    retry_after_s: float | None
    detail: str


def classify(
    status: int, headers: Mapping[str, str], body: str, now: datetime, retry_after_max_s: float
) -> PushResult:
    """What an HTTP answer means. Pure (``now`` is given)."""
    detail = body[:MAX_DETAIL]
    if 200 <= status < 300:
        return PushResult(Outcome.OK, status, None, detail)
    if status in FATAL_STATUSES:
        return PushResult(Outcome.FATAL, status, None, detail)
    if status in TRANSIENT_4XX or status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After"), now)
        if retry_after is not None:
            retry_after = min(retry_after, retry_after_max_s)
        return PushResult(Outcome.TRANSIENT, status, retry_after, detail)
    # Other 4xx, and 1xx/3xx which a JSON API never should answer: the request is refused as is.
    return PushResult(Outcome.PERMANENT, status, None, detail)


class MarketplaceClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        timeout_s: float,
        retry_after_max_s: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        auth: Auth = NoAuth(),
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.session = session
        self.auth = auth
        self.clock_ms = clock_ms
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retry_after_max_s = retry_after_max_s
        self.now = now

    async def push(self, body: bytes, idempotency_key: str) -> PushResult:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            **self.auth.headers(body, self.clock_ms()),
        }
        try:
            async with self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout
            ) as resp:
                text = await resp.text(errors="replace")
                return classify(resp.status, resp.headers, text, self.now(), self.retry_after_max_s)
        except TimeoutError:
            return PushResult(
                Outcome.TRANSIENT, None, None, f"no answer within {self.timeout.total}s"
            )
        except aiohttp.ClientSSLError as exc:
            # Before ClientError: a certificate that does not verify is not a network hiccup.
            return PushResult(Outcome.TLS, None, None, f"TLS failed: {_ssl_reason(exc)}")
        except aiohttp.ClientError as exc:
            return PushResult(Outcome.TRANSIENT, None, None, f"{type(exc).__name__}: {exc}")


def describe(result: PushResult) -> str:
    status = "no answer" if result.status is None else f"HTTP {result.status}"
    return f"{status}: {result.detail[:200]}" if result.detail else status


def _ssl_reason(exc: aiohttp.ClientSSLError) -> str:
    """What the TLS layer said, e.g. "certificate verify failed: unable to get local issuer
    certificate" or "...: IP address mismatch, certificate is not valid for '127.0.0.1'"."""
    cause = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None) or exc
    verify = getattr(cause, "verify_message", None)
    if verify:
        return f"certificate verify failed: {verify}"
    return str(getattr(cause, "reason", None) or cause)
