"""The Kafka security settings become librdkafka properties, or a SettingsError at start."""

from __future__ import annotations

import pytest

from stocksignal import bootstrap
from stocksignal.settings import Settings, SettingsError

SECRET = "s3cret-never-shown"


def props(env: dict[str, str]) -> dict:
    return bootstrap.kafka_common(Settings.from_env(env))


def refused(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert SECRET not in str(caught.value)
    return str(caught.value)


def test_without_security_settings_clients_get_only_the_brokers():
    assert props({"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092"}) == {
        "bootstrap.servers": "k1:9092,k2:9092"
    }


def test_sasl_ssl_with_scram(sasl_ssl_env, material):
    assert props(sasl_ssl_env) == {
        "bootstrap.servers": "broker.example:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "stocksignal",
        "sasl.password": material.secret("kafka_password"),
        "ssl.ca.location": str(material.ca_cert),
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_hostname_verification_is_on_by_default_and_off_only_when_asked(sasl_ssl_env):
    assert props(sasl_ssl_env)["ssl.endpoint.identification.algorithm"] == "https"
    off = props({**sasl_ssl_env, "STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME": "false"})
    assert off["ssl.endpoint.identification.algorithm"] == "none"


def test_mtls_with_an_encrypted_key(mtls_env, material):
    got = props(mtls_env)
    assert got["security.protocol"] == "SSL"
    assert got["ssl.certificate.location"] == str(material.client_cert)
    assert got["ssl.key.location"] == str(material.client_key)
    assert got["ssl.key.password"] == material.secret("client_key_password")
    assert not any(key.startswith("sasl.") for key in got)


def test_oauthbearer_uses_oidc_client_credentials(material):
    got = props(
        {
            "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "STOCKSIGNAL_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "STOCKSIGNAL_KAFKA_OAUTH_TOKEN_ENDPOINT_URL": "https://idp.example/oauth2/token",
            "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_ID": "stocksignal",
            "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET": SECRET,
            "STOCKSIGNAL_KAFKA_OAUTH_SCOPE": "kafka",
            "STOCKSIGNAL_KAFKA_OAUTH_EXTENSIONS": "logicalCluster=lkc-1",
        }
    )
    assert got["sasl.oauthbearer.method"] == "oidc"
    assert got["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/oauth2/token"
    assert (
        got["sasl.oauthbearer.client.id"] == "stocksignal"
        and got["sasl.oauthbearer.client.secret"] == SECRET
    )
    assert (
        got["sasl.oauthbearer.scope"] == "kafka"
        and got["sasl.oauthbearer.extensions"] == "logicalCluster=lkc-1"
    )


def test_every_client_config_carries_the_security_and_keeps_its_own_guarantees(sasl_ssl_env):
    settings = Settings.from_env(sasl_ssl_env)
    producer = bootstrap.producer_config(settings)
    consumer = bootstrap.consumer_config(settings, "g")
    for config in (producer, consumer):
        assert (
            config["security.protocol"] == "SASL_SSL" and config["sasl.username"] == "stocksignal"
        )
    assert producer["enable.idempotence"] is True and producer["partitioner"] == "murmur2_random"
    assert consumer["group.id"] == "g" and consumer["isolation.level"] == "read_committed"


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL='TLS': expected one of",
        ),
        ({"STOCKSIGNAL_KAFKA_SASL_MECHANISM": ""}, "needs STOCKSIGNAL_KAFKA_SASL_MECHANISM"),
        (
            {"STOCKSIGNAL_KAFKA_SASL_MECHANISM": "GSSAPI"},
            "STOCKSIGNAL_KAFKA_SASL_MECHANISM='GSSAPI': expected one of",
        ),
        ({"STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE": ""}, "needs STOCKSIGNAL_KAFKA_SASL_PASSWORD"),
        (
            {"STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SSL"},
            "would be ignored: security.protocol is SSL",
        ),
        (
            {"STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
            "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION would be ignored",
        ),
        (
            {"STOCKSIGNAL_KAFKA_SSL_CA_LOCATION": "/nowhere/ca.pem"},
            "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION=/nowhere/ca.pem: no such file",
        ),
        (
            {"STOCKSIGNAL_KAFKA_OAUTH_CLIENT_ID": "x"},
            "SCRAM-SHA-512 does not use STOCKSIGNAL_KAFKA_OAUTH_CLIENT_ID",
        ),
        (
            {"STOCKSIGNAL_KAFKA_SASL_MECHANISM": "OAUTHBEARER"},
            "needs STOCKSIGNAL_KAFKA_OAUTH_TOKEN_ENDPOINT_URL",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_variable(sasl_ssl_env, change, message):
    assert message in refused({**sasl_ssl_env, **change})


def test_sasl_settings_without_a_sasl_protocol_are_refused():
    message = refused(
        {"STOCKSIGNAL_KAFKA_SASL_USERNAME": "u", "STOCKSIGNAL_KAFKA_SASL_PASSWORD": SECRET}
    )
    assert (
        "STOCKSIGNAL_KAFKA_SASL_PASSWORD, STOCKSIGNAL_KAFKA_SASL_USERNAME would be ignored"
        in message
    )
    assert "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in message


def test_turning_hostname_verification_off_without_tls_is_refused():
    assert "has no effect" in refused({"STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME": "false"})


def test_a_client_certificate_needs_its_key_and_a_key_password_needs_a_key(mtls_env):
    assert "without its partner" in refused(
        {
            **mtls_env,
            "STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION": "",
            "STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD_FILE": "",
        }
    )
    assert "is set but no key" in refused(
        {
            **mtls_env,
            "STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION": "",
            "STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION": "",
        }
    )


def test_a_wrong_key_password_is_found_at_start_without_a_broker(mtls_env):
    message = refused(
        {
            **mtls_env,
            "STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD_FILE": "",
            "STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD": SECRET,
        }
    )
    assert "ssl.key.location failed" in message and "STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD" in message


def test_a_ca_file_that_holds_no_certificate_is_found_at_start(sasl_ssl_env, material):
    message = refused(
        {**sasl_ssl_env, "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION": str(material.kafka_password)}
    )
    assert "ssl.ca.location failed" in message and "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION" in message
