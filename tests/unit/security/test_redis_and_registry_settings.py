"""Redis TLS and ACL logins, and the Schema Registry's auth and TLS, from the settings."""

from __future__ import annotations

import pytest

from stocksignal import bootstrap
from stocksignal.security.registry import registry_config
from stocksignal.settings import Settings, SettingsError

SECRET = "redis-or-registry-secret"


def refused(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert SECRET not in str(caught.value)
    return str(caught.value)


@pytest.fixture
def redis_tls_env(material) -> dict[str, str]:
    return {
        "REDIS_URL": "rediss://cache.example:6380/0",
        "STOCKSIGNAL_REDIS_USERNAME": "stocksignal",
        "STOCKSIGNAL_REDIS_PASSWORD": SECRET,
        "STOCKSIGNAL_REDIS_SSL_CA_LOCATION": str(material.ca_cert),
        "STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION": str(material.client_cert),
        "STOCKSIGNAL_REDIS_SSL_KEY_LOCATION": str(material.client_key),
        "STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD_FILE": str(material.client_key_password),
    }


def test_a_plain_redis_url_gets_no_extra_options():
    assert bootstrap.redis_options(Settings()) == {}


def test_rediss_with_settings_configures_tls_verification_and_the_login(redis_tls_env, material):
    options = bootstrap.redis_options(Settings.from_env(redis_tls_env))
    assert options == {
        "username": "stocksignal",
        "password": SECRET,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(material.ca_cert),
        "ssl_certfile": str(material.client_cert),
        "ssl_keyfile": str(material.client_key),
        "ssl_password": material.secret("client_key_password"),
    }
    client = bootstrap.make_redis(Settings.from_env(redis_tls_env))  # no connection yet
    assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == str(material.ca_cert)


def test_redis_hostname_verification_can_be_turned_off_explicitly(redis_tls_env):
    options = bootstrap.redis_options(
        Settings.from_env({**redis_tls_env, "STOCKSIGNAL_REDIS_SSL_VERIFY_HOSTNAME": "false"})
    )
    assert options["ssl_check_hostname"] is False and options["ssl_cert_reqs"] == "required"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"REDIS_URL": "redis://cache.example:6379/0"}, "would be ignored: REDIS_URL is redis://"),
        ({"REDIS_URL": f"rediss://:{SECRET}@cache.example:6380/0"}, "REDIS_URL holds a password"),
        ({"REDIS_URL": "rediss://other@cache.example:6380/0"}, "REDIS_URL names a user"),
        (
            {"REDIS_URL": "rediss://cache.example:6380/0?ssl_cert_reqs=none"},
            "ssl_cert_reqs in the URL's query is refused",
        ),
        (
            {"STOCKSIGNAL_REDIS_SSL_KEY_LOCATION": ""},
            "needs STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION and",
        ),
        (
            {"STOCKSIGNAL_REDIS_SSL_CA_LOCATION": "/nowhere.pem"},
            "STOCKSIGNAL_REDIS_SSL_CA_LOCATION=/nowhere.pem: no such file",
        ),
        ({"REDIS_URL": "http://cache.example"}, "expected redis://, rediss:// or unix://"),
    ],
)
def test_redis_settings_that_cannot_work_are_refused(redis_tls_env, change, message):
    assert message in refused({**redis_tls_env, **change})


def test_registry_basic_auth_and_tls(material):
    config = registry_config(
        Settings.from_env(
            {
                "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "https://registry.example",
                "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": f"KEY:{SECRET}",
                "STOCKSIGNAL_SCHEMA_REGISTRY_SSL_CA_LOCATION": str(material.ca_cert),
            }
        )
    )
    assert config == {
        "basic.auth.user.info": f"KEY:{SECRET}",
        "ssl.ca.location": str(material.ca_cert),
    }


def test_registry_bearer_token_needs_the_logical_cluster():
    env = {
        "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "https://registry.example",
        "STOCKSIGNAL_SCHEMA_REGISTRY_BEARER_TOKEN": SECRET,
    }
    assert "needs STOCKSIGNAL_SCHEMA_REGISTRY_LOGICAL_CLUSTER" in refused(env)
    config = registry_config(
        Settings.from_env(
            {
                **env,
                "STOCKSIGNAL_SCHEMA_REGISTRY_LOGICAL_CLUSTER": "lsrc-1",
                "STOCKSIGNAL_SCHEMA_REGISTRY_IDENTITY_POOL_ID": "pool-1",
            }
        )
    )
    assert config == {
        "bearer.auth.credentials.source": "STATIC_TOKEN",
        "bearer.auth.token": SECRET,
        "bearer.auth.logical.cluster": "lsrc-1",
        "bearer.auth.identity.pool.id": "pool-1",
    }


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": f"KEY:{SECRET}"},
            "would be ignored: STOCKSIGNAL_SCHEMA_REGISTRY_URL is empty",
        ),
        (
            {
                "STOCKSIGNAL_SCHEMA_REGISTRY_URL": f"https://k:{SECRET}@r.example",
                "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": f"KEY:{SECRET}",
            },
            "holds a password",
        ),
        (
            {
                "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "https://r.example",
                "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": SECRET,
            },
            "must be user:password",
        ),
        (
            {
                "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "https://r.example",
                "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": f"K:{SECRET}",
                "STOCKSIGNAL_SCHEMA_REGISTRY_BEARER_TOKEN": SECRET,
            },
            "are both set",
        ),
        (
            {
                "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "http://r.example",
                "STOCKSIGNAL_SCHEMA_REGISTRY_SSL_CA_LOCATION": "/x",
            },
            "need https:// registry URLs",
        ),
    ],
)
def test_registry_settings_that_cannot_work_are_refused(env, message):
    assert message in refused(env)


def test_the_codec_hands_the_registry_config_to_the_client():
    settings = Settings.from_env(
        {
            "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "mock://unit-registry",
            "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": f"KEY:{SECRET}",
        }
    )
    codec = bootstrap.make_codec(settings)
    assert codec.client._rest_client.auth == (
        "KEY",
        SECRET,
    )  # confluent-kafka's client kept our login
