"""The Schema Registry client's authentication and TLS, from the settings.

confluent-kafka's ``SchemaRegistryClient`` configuration: HTTP basic auth
(``basic.auth.user.info``, ``user:password``), a static bearer token (Confluent Cloud also needs
the logical cluster, and the identity pool when the token is an external one), a CA and a
client certificate. Settings that would be ignored, or that contradict each other, are refused.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from stocksignal.secret import redact_url
from stocksignal.settings import Settings, SettingsError

AUTH_AND_TLS = (
    "schema_registry_basic_auth_user_info",
    "schema_registry_bearer_token",
    "schema_registry_logical_cluster",
    "schema_registry_identity_pool_id",
    "schema_registry_ssl_ca_location",
    "schema_registry_ssl_certificate_location",
    "schema_registry_ssl_key_location",
    "schema_registry_ssl_key_password",
)


def _var(name: str) -> str:
    return Settings.env_var(name)


def registry_config(settings: Settings) -> dict[str, Any]:
    """``SchemaRegistryClient`` configuration without ``url``; empty without a registry URL."""
    s = settings
    given = [name for name in AUTH_AND_TLS if getattr(s, name)]
    if not s.schema_registry_url:
        if given:
            raise SettingsError(
                f"{', '.join(map(_var, given))} would be ignored: STOCKSIGNAL_SCHEMA_REGISTRY_URL is empty"
            )
        return {}
    return {**_auth(s), **_tls(s)}


def _auth(s: Settings) -> dict[str, Any]:
    basic, token = s.schema_registry_basic_auth_user_info, s.schema_registry_bearer_token
    if basic and token:
        raise SettingsError(
            "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO and _BEARER_TOKEN are both set: keep one"
        )
    if basic:
        if urlsplit(s.schema_registry_url.split(",")[0]).password is not None:
            raise SettingsError(
                f"STOCKSIGNAL_SCHEMA_REGISTRY_URL={redact_url(s.schema_registry_url)} holds a "
                "password and STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO is set: keep one"
            )
        if ":" not in basic.reveal():
            raise SettingsError(
                "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO must be user:password"
            )
        return {"basic.auth.user.info": basic.reveal()}
    if token:
        if not s.schema_registry_logical_cluster:
            raise SettingsError(
                "STOCKSIGNAL_SCHEMA_REGISTRY_BEARER_TOKEN needs STOCKSIGNAL_SCHEMA_REGISTRY_LOGICAL_CLUSTER "
                "(the registry's id, e.g. lsrc-...)"
            )
        config = {
            "bearer.auth.credentials.source": "STATIC_TOKEN",
            "bearer.auth.token": token.reveal(),
            "bearer.auth.logical.cluster": s.schema_registry_logical_cluster,
        }
        if s.schema_registry_identity_pool_id:
            config["bearer.auth.identity.pool.id"] = s.schema_registry_identity_pool_id
        return config
    for name in ("schema_registry_logical_cluster", "schema_registry_identity_pool_id"):
        if getattr(s, name):
            raise SettingsError(
                f"{_var(name)} is used only with STOCKSIGNAL_SCHEMA_REGISTRY_BEARER_TOKEN"
            )
    return {}


def _tls(s: Settings) -> dict[str, Any]:
    tls = {
        "ssl.ca.location": s.schema_registry_ssl_ca_location,
        "ssl.certificate.location": s.schema_registry_ssl_certificate_location,
        "ssl.key.location": s.schema_registry_ssl_key_location,
    }
    tls = {key: value for key, value in tls.items() if value}
    if s.schema_registry_ssl_key_password:
        tls["ssl.key.password"] = s.schema_registry_ssl_key_password.reveal()
    if not tls:
        return {}
    if not all(u.strip().startswith("https://") for u in s.schema_registry_url.split(",")):
        raise SettingsError(
            "STOCKSIGNAL_SCHEMA_REGISTRY_SSL_* settings need https:// registry URLs"
        )
    if (
        "ssl.key.location" in tls or "ssl.key.password" in tls
    ) and "ssl.certificate.location" not in tls:
        raise SettingsError(
            "a registry client key needs STOCKSIGNAL_SCHEMA_REGISTRY_SSL_CERTIFICATE_LOCATION"
        )
    for key, name in (
        ("ssl.ca.location", "schema_registry_ssl_ca_location"),
        ("ssl.certificate.location", "schema_registry_ssl_certificate_location"),
        ("ssl.key.location", "schema_registry_ssl_key_location"),
    ):
        if key in tls and not os.path.exists(tls[key]):
            raise SettingsError(f"{_var(name)}={tls[key]}: no such file")
    return tls
