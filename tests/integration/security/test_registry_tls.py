"""What confluent-kafka's Schema Registry client sends, configured from the settings, over real TLS.

There is no Schema Registry on these machines (it is not an Apache project on Maven Central),
so this does not pretend to be one: a TLS endpoint with the secured platform's server
certificate records each request and answers 401. That is enough to see that the client
trusts the configured CA (the request arrives), presents the basic-auth login of the settings,
and that a registry refusal surfaces as the codec's error rather than a hang.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest

from stocksignal import bootstrap
from stocksignal.contract.errors import SchemaError
from stocksignal.contract.examples import example
from stocksignal.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
LOGIN = "registry-key:registry-secret"


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Recorder.seen.append(
            {"path": self.path, "authorization": self.headers.get("Authorization", "")}
        )
        body = b'{"error_code": 40101, "message": "Unauthorized"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def tls_endpoint(secure_platform) -> Iterator[tuple[str, Path]]:
    secure_platform.profile("mtls")  # makes the certificates when this runs first
    security = secure_platform.root / "security"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(security / "server.pem", security / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", security
    server.shutdown()


def encode_with(settings: Settings) -> None:
    record = {**example("StockReceived"), "sku": "REG-1"}
    bootstrap.make_codec(settings).encode("StockReceived", record)


def test_the_registry_client_trusts_the_ca_and_sends_the_login(tls_endpoint):
    url, security = tls_endpoint
    settings = Settings.from_env(
        {
            "STOCKSIGNAL_SCHEMA_REGISTRY_URL": url,
            "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": LOGIN,
            "STOCKSIGNAL_SCHEMA_REGISTRY_SSL_CA_LOCATION": str(security / "ca.pem"),
        }
    )
    with pytest.raises(SchemaError, match="cannot get a schema id from the registry"):
        encode_with(settings)
    assert Recorder.seen, "the request never arrived: the TLS handshake failed"
    assert Recorder.seen[0]["path"].startswith("/subjects/stocksignal.v1.StockReceived/versions")
    assert Recorder.seen[0]["authorization"] == "Basic " + b64encode(LOGIN.encode()).decode()
    assert "registry-secret" not in repr(settings)


def test_without_the_ca_the_registry_is_not_trusted(tls_endpoint):
    url, _ = tls_endpoint
    settings = Settings.from_env(
        {
            "STOCKSIGNAL_SCHEMA_REGISTRY_URL": url,
            "STOCKSIGNAL_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": LOGIN,
        }
    )
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        encode_with(settings)
    assert Recorder.seen == [], (
        "nothing, the login least of all, may be sent to an untrusted server"
    )
