"""Checks of the sync worker's settings, made before anything connects."""

from __future__ import annotations

from stocksignal.settings import Settings, SettingsError


def check_marketplace_settings(settings: Settings) -> None:
    env = Settings.env_var
    if not settings.marketplace_channel:
        raise SettingsError(f"no marketplace channel: pass --channel or set {env('marketplace_channel')}")
    if not settings.marketplace_url.startswith(("http://", "https://")):
        raise SettingsError(
            f"{env('marketplace_url')}={settings.marketplace_url!r}: expected an http:// or https:// URL"
        )
    positive = ("marketplace_rate_per_s", "marketplace_burst", "marketplace_batch_size", "marketplace_timeout_s",
                "marketplace_backoff_base_ms", "marketplace_max_pending")
    for name in positive:
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{env(name)} must be > 0, got {getattr(settings, name)}")
    if settings.marketplace_backoff_max_ms < settings.marketplace_backoff_base_ms:
        raise SettingsError(f"{env('marketplace_backoff_max_ms')} must be >= {env('marketplace_backoff_base_ms')}")
    if settings.marketplace_max_attempts < 0 or settings.marketplace_linger_ms < 0:
        raise SettingsError(f"{env('marketplace_max_attempts')} and {env('marketplace_linger_ms')} must be >= 0")
