"""librdkafka's and redis-py's complaints become sentences naming the setting to check.

The sample lines are what librdkafka 2.16 and redis-py 8 said against the secured local
platform (deploy/local/platform_security.py); the integration tests check the same against
the real broker and Redis.
"""

from __future__ import annotations

import pytest
import redis

from stocksignal.security.kafka_diagnosis import Seen, context, diagnose, reason
from stocksignal.security.redis_probe import refusal
from stocksignal.settings import Settings

AUTH = (
    "_AUTHENTICATION: sasl_ssl://127.0.0.1:29094/bootstrap: SASL authentication error: Authentication failed "
    "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 312ms in state AUTH_REQ)"
)
UNTRUSTED = (
    "_SSL: sasl_ssl://127.0.0.1:29094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate "
    "verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly "
    "configured or root CA certificates are installed (install ca-certificates package) (after 8ms in state SSL_HANDSHAKE)"
)
NO_CLIENT_CERT = (
    "_TRANSPORT: ssl://127.0.0.1:29095/bootstrap: Receive failed: error:0A000412:SSL routines::ssl/tls "
    "alert bad certificate: SSL alert number 42 (after 0ms in state APIVERSION_QUERY)"
)
TLS_TO_PLAIN = (
    "_TRANSPORT: ssl://127.0.0.1:29092/bootstrap: SSL handshake failed: Disconnected: SSL connection closed "
    "by peer: connecting to a PLAINTEXT broker listener? (after 1ms in state SSL_HANDSHAKE)"
)
PLAIN_TO_TLS = (
    "FAIL [rdkafka#producer-1] [thrd:127.0.0.1:29095/bootstrap]: 127.0.0.1:29095/bootstrap: Disconnected: "
    "connection closed by peer: receive 0 after POLLIN (after 0ms in state APIVERSION_QUERY)"
)
OIDC = (
    "_AUTHENTICATION: Failed to acquire SASL OAUTHBEARER token: Failed to connect to 127.0.0.1:1 after 0 ms: "
    "Could not connect to server"
)


def said(*lines: str) -> Seen:
    seen = Seen()
    seen.lines.extend(lines)
    return seen


def why(env: dict[str, str], *lines: str) -> str | None:
    return diagnose(context(Settings.from_env(env)), said(*lines))


def test_a_refused_login_names_the_user_and_password_settings(sasl_ssl_env):
    message = why(sasl_ssl_env, AUTH)
    assert "refused the SASL SCRAM-SHA-512 login" in message
    assert "STOCKSIGNAL_KAFKA_SASL_USERNAME and STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE" in message


def test_an_untrusted_broker_certificate_names_the_ca_setting(sasl_ssl_env):
    message = why(sasl_ssl_env, UNTRUSTED)
    assert "not trusted" in message and "check STOCKSIGNAL_KAFKA_SSL_CA_LOCATION" in message
    assert "ssl.ca.location" not in message  # librdkafka's own advice names its property, not ours


def test_a_refused_client_certificate_names_the_certificate_settings(mtls_env):
    message = why({**mtls_env}, NO_CLIENT_CERT)
    assert (
        "STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION and STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION"
        in message
    )


def test_tls_against_a_plain_listener_names_the_protocol(mtls_env):
    assert "does not speak TLS" in why(mtls_env, TLS_TO_PLAIN)


def test_a_plain_client_at_a_tls_listener_is_recognised_after_a_few_hang_ups():
    assert why({}, PLAIN_TO_TLS) is None  # once could be a broker restarting
    message = why({}, PLAIN_TO_TLS, PLAIN_TO_TLS, PLAIN_TO_TLS)
    assert (
        "expects TLS (SSL or SASL_SSL)" in message
        and "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL" in message
    )


def test_an_oidc_failure_names_the_oauth_settings():
    env = {
        "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "STOCKSIGNAL_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
        "STOCKSIGNAL_KAFKA_OAUTH_TOKEN_ENDPOINT_URL": "http://127.0.0.1:1/token",
        "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_ID": "c",
        "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET": "s",
    }
    message = why(env, OIDC)
    assert (
        "OAUTHBEARER login failed" in message and "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET" in message
    )


def test_a_broker_that_is_merely_down_is_no_refusal(sasl_ssl_env):
    down = "_TRANSPORT: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)"
    assert why(sasl_ssl_env, down, "_ALL_BROKERS_DOWN: 1/1 brokers are down") is None


def test_reason_drops_the_address_timing_and_librdkafkas_advice():
    assert reason(UNTRUSTED) == (
        "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: "
        "broker certificate could not be verified"
    )


@pytest.mark.parametrize(
    "exc, names",
    [
        (
            redis.AuthenticationError("invalid username-password pair or user is disabled."),
            "STOCKSIGNAL_REDIS_PASSWORD",
        ),
        (
            redis.ConnectionError(
                "Error 1 connecting to 127.0.0.1:26380. [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                "failed: self-signed certificate in certificate chain (_ssl.c:1006)."
            ),
            "STOCKSIGNAL_REDIS_SSL_CA_LOCATION",
        ),
        (
            redis.ConnectionError(
                "Error 8 while writing to socket. EOF occurred in violation of protocol (_ssl.c:2427)."
            ),
            "STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION",
        ),
        (
            redis.ConnectionError(
                "Error 524297 connecting to 127.0.0.1:26380. [SSL] PEM lib (_ssl.c:3926)."
            ),
            "STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD",
        ),
    ],
)
def test_redis_refusals_name_the_setting(exc, names):
    assert names in refusal(exc)


def test_a_redis_that_is_down_is_no_refusal():
    assert (
        refusal(redis.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."))
        is None
    )
    assert refusal(redis.TimeoutError("Timeout connecting to server")) is None
