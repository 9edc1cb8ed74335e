"""Any other librdkafka property: STOCKSIGNAL_KAFKA_CONFIG_FILE and STOCKSIGNAL_LIBRDKAFKA_*."""

from __future__ import annotations

import pytest

from stocksignal import bootstrap
from stocksignal.security.properties import Properties, PropertiesError, env_to_key, key_to_env
from stocksignal.settings import Settings, SettingsError

SECRET = "pass-through-secret"


def write(tmp_path, text: str) -> str:
    path = tmp_path / "client.properties"
    path.write_text(text)
    return str(path)


def refused(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert SECRET not in str(caught.value)
    return str(caught.value)


def test_the_file_format_skips_comments_and_blank_lines(tmp_path):
    props = Properties.from_file(
        write(
            tmp_path,
            "# managed Kafka\n! also a comment\n\n client.rack = az1 \nsocket.keepalive.enable=true\n",
        )
    )
    assert dict(props) == {"client.rack": "az1", "socket.keepalive.enable": "true"}
    assert props.source("client.rack").endswith("line 4)")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("client.rack\n", "line 1): expected key=value"),
        ("a.b=1\na.b=2\n", "line 2): a.b is set twice (first on line 1)"),
    ],
)
def test_a_bad_line_is_named_by_its_number(tmp_path, text, problem):
    with pytest.raises(PropertiesError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Properties.from_file(write(tmp_path, text))


def test_variable_names_map_to_property_names_and_back():
    assert env_to_key("STOCKSIGNAL_LIBRDKAFKA_CLIENT_RACK") == "client.rack"
    assert env_to_key("STOCKSIGNAL_LIBRDKAFKA_SSL__ENGINE__LOCATION") == "ssl_engine_location"
    for key in ("client.rack", "topic.metadata.refresh.interval.ms", "ssl_engine_location"):
        assert env_to_key(key_to_env(key)) == key


def test_pass_through_properties_reach_every_client(tmp_path):
    settings = Settings.from_env(
        {
            "STOCKSIGNAL_KAFKA_CONFIG_FILE": write(tmp_path, "client.rack=az1\n"),
            "STOCKSIGNAL_LIBRDKAFKA_SOCKET_KEEPALIVE_ENABLE": "true",
        }
    )
    for config in (
        bootstrap.kafka_common(settings),
        bootstrap.producer_config(settings),
        bootstrap.consumer_config(settings, "g"),
    ):
        assert config["client.rack"] == "az1" and config["socket.keepalive.enable"] == "true"


def test_a_managed_services_client_properties_file_is_enough_with_the_bootstrap_servers(
    tmp_path, material
):
    path = write(
        tmp_path,
        "bootstrap.servers=pkc-1.example:9092\nsecurity.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\n"
        f"sasl.username=KEY\nsasl.password={SECRET}\nssl.ca.location={material.ca_cert}\n"
        "# Best practice for higher availability in librdkafka clients prior to 1.7\n"
        "session.timeout.ms=45000\nclient.id=ccloud-python-client-1\n",
    )
    props = bootstrap.kafka_common(
        Settings.from_env(
            {"KAFKA_BOOTSTRAP_SERVERS": "pkc-1.example:9092", "STOCKSIGNAL_KAFKA_CONFIG_FILE": path}
        )
    )
    assert props["sasl.mechanism"] == "PLAIN" and props["sasl.password"] == SECRET
    assert (
        props["ssl.endpoint.identification.algorithm"] == "https"
        and props["client.id"] == "ccloud-python-client-1"
    )
    assert (
        "session.timeout.ms" not in props
    )  # consumer_config sets it from the setting it agrees with


def test_a_property_given_twice_with_different_values_is_refused_naming_both(tmp_path):
    path = write(tmp_path, f"bootstrap.servers=pkc-1.example:9092\nsasl.password={SECRET}\n")
    message = refused({"STOCKSIGNAL_KAFKA_CONFIG_FILE": path})
    assert (
        "KAFKA_BOOTSTRAP_SERVERS gives bootstrap.servers=127.0.0.1:19092 (its default)" in message
    )
    assert f"STOCKSIGNAL_KAFKA_CONFIG_FILE ({path}, line 1)" in message
    message = refused(
        {
            "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "STOCKSIGNAL_KAFKA_SASL_MECHANISM": "PLAIN",
            "STOCKSIGNAL_KAFKA_SASL_USERNAME": "u",
            "STOCKSIGNAL_KAFKA_SASL_PASSWORD": "other",
            "STOCKSIGNAL_LIBRDKAFKA_SASL_PASSWORD": SECRET,
        }
    )
    assert "sasl.password=***" in message and "STOCKSIGNAL_LIBRDKAFKA_SASL_PASSWORD" in message
    message = refused(
        {
            "STOCKSIGNAL_KAFKA_CONFIG_FILE": write(tmp_path, "client.rack=a\n"),
            "STOCKSIGNAL_LIBRDKAFKA_CLIENT_RACK": "b",
        }
    )
    assert "client.rack=a" in message and "client.rack=b" in message


@pytest.mark.parametrize(
    "var, value, message",
    [
        ("STOCKSIGNAL_LIBRDKAFKA_PARTITIONER", "random", "stocksignal sets partitioner itself"),
        (
            "STOCKSIGNAL_LIBRDKAFKA_ENABLE_IDEMPOTENCE",
            "false",
            "stocksignal sets enable.idempotence itself",
        ),
        ("STOCKSIGNAL_LIBRDKAFKA_GROUP_ID", "x", "stocksignal sets group.id itself"),
        (
            "STOCKSIGNAL_LIBRDKAFKA_SESSION_TIMEOUT_MS",
            "1000",
            "STOCKSIGNAL_SESSION_TIMEOUT_MS gives session.timeout.ms=45000",
        ),
        (
            "STOCKSIGNAL_LIBRDKAFKA_SASL_JAAS_CONFIG",
            SECRET,
            "sasl.jaas.config is a Java client property",
        ),
        ("STOCKSIGNAL_LIBRDKAFKA_SSL_TRUSTSTORE_LOCATION", "/x.jks", "export the CA as PEM"),
        ("STOCKSIGNAL_LIBRDKAFKA_ERROR__CB", "x", "error_cb is a callback"),
        (
            "STOCKSIGNAL_LIBRDKAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION",
            "false",
            "always verifies the broker's certificate",
        ),
        (
            "STOCKSIGNAL_LIBRDKAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM",
            "none",
            "turn the hostname check off",
        ),
    ],
)
def test_properties_stocksignal_owns_or_that_weaken_checks_are_refused(var, value, message):
    assert message in refused({var: value})


def test_the_hostname_property_is_accepted_when_it_agrees_with_the_setting(sasl_ssl_env):
    settings = Settings.from_env(
        {
            **sasl_ssl_env,
            "STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME": "false",
            "STOCKSIGNAL_LIBRDKAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "none",
        }
    )
    assert bootstrap.kafka_common(settings)["ssl.endpoint.identification.algorithm"] == "none"


def test_librdkafka_itself_refuses_unknown_properties_and_bad_values_at_start():
    unknown = refused({"STOCKSIGNAL_LIBRDKAFKA_CLIENT_RAKC": "az1"})
    assert 'No such configuration property: "client.rakc"' in unknown
    assert "client.rakc comes from STOCKSIGNAL_LIBRDKAFKA_CLIENT_RAKC" in unknown
    bad = refused({"STOCKSIGNAL_LIBRDKAFKA_SOCKET_KEEPALIVE_ENABLE": "maybe"})
    assert (
        "socket.keepalive.enable" in bad and "STOCKSIGNAL_LIBRDKAFKA_SOCKET_KEEPALIVE_ENABLE" in bad
    )


def test_pass_through_round_trips_through_a_child_environment(tmp_path):
    path = write(
        tmp_path,
        f"sasl.password={SECRET}\nsecurity.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=u\n",
    )
    settings = Settings.from_env(
        {"STOCKSIGNAL_KAFKA_CONFIG_FILE": path, "STOCKSIGNAL_LIBRDKAFKA_CLIENT_RACK": "az1"}
    )
    env = settings.to_env()
    assert (
        env["STOCKSIGNAL_KAFKA_CONFIG_FILE"] == path
        and env["STOCKSIGNAL_LIBRDKAFKA_CLIENT_RACK"] == "az1"
    )
    assert SECRET not in " ".join(env.values()) and SECRET not in repr(settings)
    assert Settings.from_env(env) == settings
