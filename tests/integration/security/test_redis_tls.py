"""Redis with TLS, required client certificates and an ACL user (the launcher's secured Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from stocksignal import bootstrap
from stocksignal.security.errors import AccessRefused
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
def redis_env(secure_redis) -> dict[str, str]:
    """The Redis part of the secured profile: rediss://, CA, client certificate, ACL login."""
    return {
        k: v for k, v in secure_redis.profile("mtls").items() if k == "REDIS_URL" or "REDIS" in k
    }


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(AccessRefused) as caught:
        bootstrap.check_redis(Settings.from_env(env))
    return str(caught.value)


def test_tls_with_a_client_certificate_and_the_acl_user(redis_env):
    settings = Settings.from_env(redis_env)
    bootstrap.check_redis(settings)
    client = bootstrap.make_redis(settings, decode_responses=True)
    client.set("sec-test:hello", "world", ex=60)
    assert client.get("sec-test:hello") == "world"
    assert client.acl_whoami() == "stocksignal"


def test_the_login_may_be_written_into_the_url_instead(redis_env):
    password = open(redis_env["STOCKSIGNAL_REDIS_PASSWORD_FILE"]).read().strip()
    url = redis_env["REDIS_URL"].replace("rediss://", f"rediss://stocksignal:{password}@")
    settings = Settings.from_env(
        {
            **redis_env,
            "REDIS_URL": url,
            "STOCKSIGNAL_REDIS_USERNAME": "",
            "STOCKSIGNAL_REDIS_PASSWORD_FILE": "",
        }
    )
    bootstrap.check_redis(settings)
    assert password not in repr(settings)


def test_without_a_login_redis_refuses_and_says_which_settings(redis_env):
    env = {**redis_env, "STOCKSIGNAL_REDIS_USERNAME": "", "STOCKSIGNAL_REDIS_PASSWORD_FILE": ""}
    assert "check STOCKSIGNAL_REDIS_USERNAME and STOCKSIGNAL_REDIS_PASSWORD" in refusal(env)


def test_an_untrusted_ca_names_the_ca_setting(redis_env, other_ca):
    assert "check STOCKSIGNAL_REDIS_SSL_CA_LOCATION" in refusal(
        {**redis_env, "STOCKSIGNAL_REDIS_SSL_CA_LOCATION": other_ca}
    )


def test_without_a_client_certificate_the_certificate_settings_are_named(redis_env):
    env = {
        **redis_env,
        "STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION": "",
        "STOCKSIGNAL_REDIS_SSL_KEY_LOCATION": "",
        "STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD_FILE": "",
    }
    assert (
        "STOCKSIGNAL_REDIS_SSL_CERTIFICATE_LOCATION and STOCKSIGNAL_REDIS_SSL_KEY_LOCATION"
        in refusal(env)
    )


def test_the_api_with_a_wrong_redis_password_exits_5_at_once(redis_env, free_port):
    env = {
        **os.environ,
        **redis_env,
        "STOCKSIGNAL_REDIS_PASSWORD_FILE": "",
        "STOCKSIGNAL_REDIS_PASSWORD": "not-the-password",
    }
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stocksignal.cli.main", "run", "api", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 5, result.stderr
    assert (
        "Redis refused the login" in result.stderr and "STOCKSIGNAL_REDIS_PASSWORD" in result.stderr
    )
    assert "not-the-password" not in result.stderr
    assert time.monotonic() - began < 20  # interpreter start and imports included
