"""The sync worker's HTTPS: which CAs it trusts, and what a TLS failure looks like.

``STOCKSIGNAL_MARKETPLACE_CA_BUNDLE`` names a PEM file of the CAs that may sign the
marketplace's certificate (a private CA, a pinned issuer); empty: the system's trust store.
Hostnames are always verified. A certificate the worker cannot verify is never retried
silently: it is its own outcome (``tls``), logged as an error and counted
(docs/adapters.md#authentication-and-tls).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from stocksignal.settings import Settings, SettingsError


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client context; :class:`SettingsError` for an unusable CA bundle."""
    bundle = settings.marketplace_ca_bundle
    var = Settings.env_var("marketplace_ca_bundle")
    if not bundle:
        return ssl.create_default_context()
    if not Path(bundle).is_file():
        raise SettingsError(f"{var}={bundle!r}: no such file")
    try:
        return ssl.create_default_context(cafile=bundle)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise SettingsError(
            f"{var}={bundle!r}: not a PEM file of CA certificates ({exc})"
        ) from None
