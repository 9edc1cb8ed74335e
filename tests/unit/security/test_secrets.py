"""Secrets: from a variable or a file, never in repr(), str() or an error message."""

from __future__ import annotations

from dataclasses import replace

import pytest

from stocksignal.secret import Secret, redact_url
from stocksignal.settings import Settings, SettingsError

PASSWORD = "hunter2-do-not-print"


def test_a_secret_shows_only_whether_it_is_set_and_where_from():
    assert PASSWORD not in repr(Secret(PASSWORD)) and PASSWORD not in str(Secret(PASSWORD))
    assert repr(Secret(PASSWORD)) == "Secret('***')"
    assert repr(Secret(PASSWORD, file="/run/secrets/kafka")) == "Secret(file='/run/secrets/kafka')"
    assert repr(Secret()) == "Secret('')" and not Secret()
    assert Secret(PASSWORD).reveal() == PASSWORD
    with pytest.raises(AttributeError):
        Secret(PASSWORD)._value = "changed"  # type: ignore[misc]


def test_settings_read_a_secret_from_the_variable_or_from_its_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")  # the editor's newline is not part of the secret
    from_file = Settings.from_env({"STOCKSIGNAL_REDIS_PASSWORD_FILE": str(path)})
    from_var = Settings.from_env({"STOCKSIGNAL_REDIS_PASSWORD": PASSWORD})
    assert from_file.redis_password.reveal() == from_var.redis_password.reveal() == PASSWORD
    assert from_file.redis_password.file == str(path)


def test_repr_of_settings_shows_no_secret_and_no_password_in_a_url(tmp_path):
    settings = Settings.from_env(
        {
            "REDIS_URL": f"rediss://alice:{PASSWORD}@cache:6380/0",
            "STOCKSIGNAL_SCHEMA_REGISTRY_URL": f"https://key:{PASSWORD}@registry.example",
            "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "STOCKSIGNAL_KAFKA_SASL_MECHANISM": "PLAIN",
            "STOCKSIGNAL_KAFKA_SASL_USERNAME": "alice",
            "STOCKSIGNAL_KAFKA_SASL_PASSWORD": PASSWORD,
        }
    )
    shown = repr(settings)
    assert PASSWORD not in shown and PASSWORD not in str(settings)
    assert (
        "rediss://alice:***@cache:6380/0" in shown and "https://key:***@registry.example" in shown
    )


def test_both_the_variable_and_its_file_is_an_error_that_shows_neither(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {"STOCKSIGNAL_REDIS_PASSWORD": PASSWORD, "STOCKSIGNAL_REDIS_PASSWORD_FILE": str(path)}
        )
    assert "STOCKSIGNAL_REDIS_PASSWORD and STOCKSIGNAL_REDIS_PASSWORD_FILE are both set" in str(
        caught.value
    )
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("content, problem", [(None, "cannot read it"), ("", "the file is empty")])
def test_an_unreadable_or_empty_secret_file_is_named(tmp_path, content, problem):
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    with pytest.raises(
        SettingsError, match=f"STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE={path}: {problem}"
    ):
        Settings.from_env({"STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE": str(path)})


def test_to_env_passes_a_file_secret_as_its_file_and_round_trips(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD)
    settings = Settings.from_env(
        {
            "STOCKSIGNAL_REDIS_PASSWORD_FILE": str(path),
            "STOCKSIGNAL_REDIS_USERNAME": "alice",
            "STOCKSIGNAL_SCHEMA_REGISTRY_URL": "https://r.example",
            "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": f"key:{PASSWORD}",
        }
    )
    env = settings.to_env()
    assert (
        env["STOCKSIGNAL_REDIS_PASSWORD_FILE"] == str(path)
        and env["STOCKSIGNAL_REDIS_PASSWORD"] == ""
    )
    assert PASSWORD not in env["STOCKSIGNAL_REDIS_PASSWORD"]
    assert (
        env["STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"] == f"key:{PASSWORD}"
    )  # given as a value
    assert Settings.from_env(env) == settings


@pytest.mark.parametrize(
    "raw, expected", [("true", True), ("FALSE", False), ("1", True), ("off", False)]
)
def test_booleans_are_read_strictly(raw, expected):
    assert (
        Settings.from_env(
            {"STOCKSIGNAL_REDIS_SSL_VERIFY_HOSTNAME": raw, "REDIS_URL": "rediss://cache:6380/0"}
        ).redis_ssl_verify_hostname
        is expected
    )


def test_a_misspelt_boolean_is_refused_rather_than_read_as_false():
    with pytest.raises(
        SettingsError, match="STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME='flase': expected true or false"
    ):
        Settings.from_env({"STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME": "flase"})


def test_redact_url_keeps_the_user_and_drops_the_password():
    assert redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redact_url("rediss://u:pw@h:1/0") == "rediss://u:***@h:1/0"
    assert redact_url("https://u@h/x") == "https://u@h/x"
    assert redact_url("https://a:b@h1,https://c:d@h2") == "https://a:***@h1,https://c:***@h2"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_replace_keeps_secrets_hidden():
    settings = replace(Settings(), redis_password=Secret(PASSWORD))
    assert PASSWORD not in repr(settings)
