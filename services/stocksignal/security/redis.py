"""redis-py options for TLS (``rediss://``) and ACL logins, from the settings.

The login and TLS may be written into ``REDIS_URL`` (``rediss://user:password@host:6380/0``) or
given as settings (``STOCKSIGNAL_REDIS_USERNAME``, ``_PASSWORD`` or ``_PASSWORD_FILE``,
``_SSL_CA_LOCATION``, ``_SSL_CERTIFICATE_LOCATION``, ``_SSL_KEY_LOCATION``,
``_SSL_KEY_PASSWORD``, ``_SSL_VERIFY_HOSTNAME``); the same thing in both places is refused, as
are TLS settings with a plain ``redis://`` URL (they would be ignored) and TLS options in the
URL's query string (the settings own them, so verification cannot be switched off unnoticed).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stocksignal.secret import redact_url
from stocksignal.settings import Settings, SettingsError

SCHEMES = ("redis", "rediss", "unix")
TLS_SETTINGS = (
    "redis_ssl_ca_location",
    "redis_ssl_certificate_location",
    "redis_ssl_key_location",
    "redis_ssl_key_password",
)


def redis_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``redis.Redis.from_url(settings.redis_url, **options)``."""
    url = urlsplit(settings.redis_url)
    if url.scheme not in SCHEMES:
        raise SettingsError(
            f"REDIS_URL={redact_url(settings.redis_url)}: expected redis://, rediss:// or unix://"
        )
    _refuse_query(url.query, settings)
    options = _login(url, settings)
    tls = _tls(settings)
    if url.scheme != "rediss":
        given = [Settings.env_var(name) for name in TLS_SETTINGS if getattr(settings, name)]
        if given or not settings.redis_ssl_verify_hostname:
            given += (
                []
                if settings.redis_ssl_verify_hostname
                else ["STOCKSIGNAL_REDIS_SSL_VERIFY_HOSTNAME"]
            )
            raise SettingsError(
                f"{', '.join(given)} would be ignored: REDIS_URL is {url.scheme}://, "
                "not rediss:// (TLS)"
            )
        return options
    return {**options, **tls}


def _refuse_query(query: str, settings: Settings) -> None:
    for name in parse_qs(query):
        if name.startswith("ssl") or name in ("username", "password"):
            raise SettingsError(
                f"REDIS_URL={redact_url(settings.redis_url)}: {name} in the URL's query is "
                "refused; TLS and login options are STOCKSIGNAL_REDIS_* settings (docs/operations.md)"
            )


def _login(url, settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings.redis_username:
        if url.username:
            raise SettingsError(
                "REDIS_URL names a user and STOCKSIGNAL_REDIS_USERNAME is set: keep one of them"
            )
        options["username"] = settings.redis_username
    if settings.redis_password:
        if url.password:
            raise SettingsError(
                "REDIS_URL holds a password and STOCKSIGNAL_REDIS_PASSWORD is set: keep one of them"
            )
        options["password"] = settings.redis_password.reveal()
    return options


def _tls(settings: Settings) -> dict[str, Any]:
    cert, key = settings.redis_ssl_certificate_location, settings.redis_ssl_key_location
    if bool(cert) != bool(key):
        raise SettingsError(
            "a Redis client certificate needs STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION and "
            "STOCKSIGNAL_REDIS_SSL_KEY_LOCATION"
        )
    if settings.redis_ssl_key_password and not key:
        raise SettingsError(
            "STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD is set but no key: set STOCKSIGNAL_REDIS_SSL_KEY_LOCATION"
        )
    for name in (
        "redis_ssl_ca_location",
        "redis_ssl_certificate_location",
        "redis_ssl_key_location",
    ):
        path = getattr(settings, name)
        if path and not os.path.isfile(path):
            raise SettingsError(f"{Settings.env_var(name)}={path}: no such file")
    options: dict[str, Any] = {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": settings.redis_ssl_verify_hostname,
    }
    if settings.redis_ssl_ca_location:
        options["ssl_ca_certs"] = settings.redis_ssl_ca_location
    if cert:
        options.update(ssl_certfile=cert, ssl_keyfile=key)
    if settings.redis_ssl_key_password:
        options["ssl_password"] = settings.redis_ssl_key_password.reveal()
    return options
