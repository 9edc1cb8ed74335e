"""Checks of the sync worker's settings, made before anything connects."""

from __future__ import annotations

from stocksignal.adapters.marketplace.auth import make_auth
from stocksignal.adapters.marketplace.tls import ssl_context
from stocksignal.settings import Settings, SettingsError

PUSH_MODES = ("every-change", "levels")


def check_marketplace_settings(settings: Settings) -> None:
    env = Settings.env_var
    if not settings.marketplace_channel:
        raise SettingsError(
            f"no marketplace channel: pass --channel or set {env('marketplace_channel')}"
        )
    if settings.marketplace_push not in PUSH_MODES:
        raise SettingsError(
            f"{env('marketplace_push')}={settings.marketplace_push!r}: expected one of "
            f"{', '.join(PUSH_MODES)}"
        )
    _check_url(settings)
    positive = (
        "marketplace_rate_per_s",
        "marketplace_burst",
        "marketplace_batch_size",
        "marketplace_timeout_s",
        "marketplace_backoff_base_ms",
        "marketplace_max_pending",
    )
    for name in positive:
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{env(name)} must be > 0, got {getattr(settings, name)}")
    if settings.marketplace_backoff_max_ms < settings.marketplace_backoff_base_ms:
        raise SettingsError(
            f"{env('marketplace_backoff_max_ms')} must be >= {env('marketplace_backoff_base_ms')}"
        )
    if settings.marketplace_max_attempts < 0 or settings.marketplace_linger_ms < 0:
        raise SettingsError(
            f"{env('marketplace_max_attempts')} and {env('marketplace_linger_ms')} must be >= 0"
        )
    make_auth(settings)
    ssl_context(settings)


def _check_url(settings: Settings) -> None:
    env = Settings.env_var
    url = settings.marketplace_url
    if url.startswith("http://"):
        if not settings.marketplace_allow_http:
            # Credentials and stock numbers would cross the network in clear.
            raise SettingsError(
                f"{env('marketplace_url')}={url!r}: plain http:// is refused; use https:// "
                f"or set {env('marketplace_allow_http')}=true (a local stub, a test)"
            )
    elif not url.startswith("https://"):
        raise SettingsError(f"{env('marketplace_url')}={url!r}: expected an https:// URL")
