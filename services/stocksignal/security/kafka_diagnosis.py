"""From librdkafka's complaints to a sentence that names the stocksignal setting to check.

librdkafka reports a refused login or certificate through ``error_cb`` and its log, then
retries forever; similar words appear when a client speaks the wrong protocol to a listener.
:func:`diagnose` reads what a connection attempt collected and returns the explanation, or None
while nothing points at the settings (the broker may just be slow). The rules follow what
librdkafka 2.x says (tests/unit/security/test_kafka_diagnosis.py keeps samples of it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stocksignal.security.kafka import connection_properties, sources
from stocksignal.settings import Settings

# A listener that hangs up this often before answering is not a slow broker.
REPEATS = 3
CLIENT_CERTIFICATE_REFUSED = (
    "alert bad certificate",
    "certificate required",
    "alert unknown ca",
    "alert handshake failure",
)


class Seen:
    """What librdkafka said during one connection attempt (error_cb and log lines)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def error(self, error) -> None:  # a confluent_kafka.KafkaError, from error_cb
        self.lines.append(f"{error.name()}: {error.str()}")

    def count(self, words: str) -> int:
        return sum(words in line.lower() for line in self.lines)

    def first(self, *words: str) -> str:
        return next((line for line in self.lines for w in words if w in line.lower()), "")


@dataclass(frozen=True)
class Context:
    props: dict
    where: dict[str, str]  # property -> the variable that set it

    def name(self, prop: str, fallback: str) -> str:
        return self.where.get(prop, fallback)

    @property
    def protocol(self) -> str:
        return str(self.props.get("security.protocol", "PLAINTEXT"))

    @property
    def mechanism(self) -> str:
        return str(self.props.get("sasl.mechanism", ""))


def reason(line: str) -> str:
    """librdkafka's sentence without the broker address, its own advice and the timing."""
    text = line.split("/bootstrap: ", 1)[1] if "/bootstrap: " in line else line.split(": ", 1)[-1]
    for cut in (", verify that ssl.ca.location", " (after "):
        text = text.split(cut, 1)[0]
    return text.strip()


def _unsupported_mechanism(c: Context, seen: Seen) -> str | None:
    line = seen.first("unsupported sasl mechanism", "unsupported_sasl_mechanism")
    if line:
        return (
            f"the broker does not offer SASL {c.mechanism} ({reason(line)}); check "
            f"{c.name('sasl.mechanism', 'STOCKSIGNAL_KAFKA_SASL_MECHANISM')}"
        )
    return None


def _login(c: Context, seen: Seen) -> str | None:
    line = seen.first("_authentication")
    if not line:
        return None
    if c.mechanism == "OAUTHBEARER":
        names = [
            c.name(k, k)
            for k in (
                "sasl.oauthbearer.token.endpoint.url",
                "sasl.oauthbearer.client.id",
                "sasl.oauthbearer.client.secret",
            )
        ]
        return (
            f"the OAUTHBEARER login failed ({reason(line)}); check {', '.join(names)} "
            "(and STOCKSIGNAL_KAFKA_OAUTH_SCOPE / _EXTENSIONS if the provider needs them)"
        )
    user = c.name("sasl.username", "STOCKSIGNAL_KAFKA_SASL_USERNAME")
    password = c.name("sasl.password", "STOCKSIGNAL_KAFKA_SASL_PASSWORD")
    mechanism = c.name("sasl.mechanism", "STOCKSIGNAL_KAFKA_SASL_MECHANISM")
    return (
        f"the broker refused the SASL {c.mechanism} login ({reason(line)}); check {user} and {password}, "
        f"and that the cluster expects {c.mechanism} ({mechanism})"
    )


def _untrusted(c: Context, seen: Seen) -> str | None:
    line = seen.first("certificate verify failed")
    if not line:
        return None
    if "mismatch" in line.lower():
        return (
            f"the broker's certificate does not name the host in KAFKA_BOOTSTRAP_SERVERS ({reason(line)}); "
            "connect with a name the certificate holds (STOCKSIGNAL_KAFKA_SSL_VERIFY_HOSTNAME=false turns "
            "the name check off)"
        )
    ca = c.name("ssl.ca.location", "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION")
    return (
        f"the broker's certificate is not trusted ({reason(line)}); check {ca}: it must name the CA that "
        "signed the broker's certificate (empty: the system's CAs)"
    )


def _client_certificate(c: Context, seen: Seen) -> str | None:
    line = seen.first(*CLIENT_CERTIFICATE_REFUSED)
    if not line:
        return None
    cert = c.name("ssl.certificate.location", "STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION")
    key = c.name("ssl.key.location", "STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION")
    return (
        f"the broker refused the TLS handshake ({reason(line)}): it wants a client certificate it trusts; "
        f"check {cert} and {key}"
    )


def _no_tls_here(c: Context, seen: Seen) -> str | None:
    line = seen.first("connecting to a plaintext broker listener")
    if line:
        return (
            f"the listener at KAFKA_BOOTSTRAP_SERVERS does not speak TLS ({reason(line)}); check "
            f"{c.name('security.protocol', 'STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL')} and the port"
        )
    return None


EXPECTS = {
    "PLAINTEXT": "TLS (SSL or SASL_SSL)",
    "SASL_PLAINTEXT": "TLS (SASL_SSL)",
    "SSL": "SASL (SASL_SSL)",
}


def _closed_early(c: Context, seen: Seen) -> str | None:
    """The listener hangs up before answering: it expects TLS (or SASL) that we do not speak."""
    if seen.count("closed by peer") < REPEATS or c.protocol not in EXPECTS:
        return None
    return (
        f"the broker closes every connection before answering ({reason(seen.first('closed by peer'))}); "
        f"the listener probably expects {EXPECTS[c.protocol]}: check "
        f"{c.name('security.protocol', 'STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL')} and the port in "
        "KAFKA_BOOTSTRAP_SERVERS"
    )


RULES: tuple[Callable[[Context, Seen], str | None], ...] = (
    _unsupported_mechanism,
    _login,
    _untrusted,
    _client_certificate,
    _no_tls_here,
    _closed_early,
)


def context(settings: Settings) -> Context:
    return Context(connection_properties(settings), sources(settings))


def diagnose(c: Context, seen: Seen) -> str | None:
    for rule in RULES:
        found = rule(c, seen)
        if found:
            return found
    return None
