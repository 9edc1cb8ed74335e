"""A Redis check at start: PING, or a reason naming the setting to check.

redis-py raises at once for a refused login or certificate, but the adapters retry Redis errors
(Redis restarts, fails over): a wrong password would be retried forever. :func:`refusal` tells
the refusals apart from a Redis that is merely down, which the adapters ride out.
"""

from __future__ import annotations

from stocksignal.secret import redact_url
from stocksignal.security.errors import AccessRefused, NoAnswer
from stocksignal.settings import Settings

LOGIN = "STOCKSIGNAL_REDIS_USERNAME and STOCKSIGNAL_REDIS_PASSWORD (or the user and password in REDIS_URL)"


def refusal(exc: Exception) -> str | None:
    """Why Redis refused us, or None when ``exc`` is not a refusal (Redis down, slow, ...)."""
    import redis

    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, redis.AuthenticationError) or "noauth" in lowered or "wrongpass" in lowered:
        return f"Redis refused the login ({text}); check {LOGIN}"
    if isinstance(exc, redis.ResponseError) and "noperm" in lowered:
        return f"the Redis user may not run stocksignal's commands ({text}); give it +@all on ~* (or the prefix)"
    if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        if "hostname mismatch" in lowered or "ip address mismatch" in lowered:
            return (
                f"Redis's certificate does not name the host in REDIS_URL ({text}); use a name it holds "
                "(STOCKSIGNAL_REDIS_SSL_VERIFY_HOSTNAME=false turns the name check off)"
            )
        return (
            f"Redis's certificate is not trusted ({text}); check STOCKSIGNAL_REDIS_SSL_CA_LOCATION: the CA "
            "that signed it (empty: the system's CAs)"
        )
    if "pem lib" in lowered:
        return (
            f"the Redis client key or certificate cannot be read ({text}); check STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD, "
            "STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION and STOCKSIGNAL_REDIS_SSL_KEY_LOCATION"
        )
    if (
        "eof occurred in violation of protocol" in lowered
        or "alert" in lowered
        and "certificate" in lowered
    ):
        return (
            f"Redis ended the TLS handshake ({text}): it probably wants a client certificate; check "
            "STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION and STOCKSIGNAL_REDIS_SSL_KEY_LOCATION"
        )
    if "wrong version number" in lowered or "record layer failure" in lowered:
        return f"Redis does not speak TLS at that port ({text}); check rediss:// in REDIS_URL and the port"
    return None


def check_redis(settings: Settings, client) -> None:
    """PING through ``client`` (built by the composition root); AccessRefused or NoAnswer."""
    import redis

    try:
        client.ping()
    except redis.RedisError as exc:
        found = refusal(exc)
        where = redact_url(settings.redis_url)
        if found:
            raise AccessRefused(f"Redis at {where}: {found}") from None
        raise NoAnswer(f"Redis at {where} does not answer: {exc}") from None
