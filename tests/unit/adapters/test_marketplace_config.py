"""The sync worker's settings are checked before anything connects."""

import dataclasses

import pytest

from stocksignal.adapters.marketplace.config import check_marketplace_settings
from stocksignal.settings import Settings, SettingsError

GOOD = dataclasses.replace(
    Settings(), marketplace_channel="mkt", marketplace_url="https://example.invalid/stock"
)


def test_good_settings_pass():
    check_marketplace_settings(GOOD)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"marketplace_channel": ""}, "--channel"),
        ({"marketplace_url": "ftp://x"}, "STOCKSIGNAL_MARKETPLACE_URL"),
        ({"marketplace_url": "http://x"}, "STOCKSIGNAL_MARKETPLACE_ALLOW_HTTP"),
        ({"marketplace_rate_per_s": 0.0}, "STOCKSIGNAL_MARKETPLACE_RATE_PER_S must be > 0"),
        ({"marketplace_backoff_max_ms": 10}, "STOCKSIGNAL_MARKETPLACE_BACKOFF_MAX_MS"),
        ({"marketplace_max_attempts": -1}, "STOCKSIGNAL_MARKETPLACE_MAX_ATTEMPTS"),
    ],
)
def test_bad_settings_say_which_variable(change, message):
    with pytest.raises(SettingsError, match=message):
        check_marketplace_settings(dataclasses.replace(GOOD, **change))
