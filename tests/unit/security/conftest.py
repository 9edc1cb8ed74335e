"""Fixtures of the security unit tests: real certificates and keys, made once per session.

The local launcher's own generator (deploy/local/platform_security.py, standard library and the
``openssl`` command) makes them, so these tests read the same kind of files a secured broker
and Redis use. No service is started.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def load_platform_security():
    spec = importlib.util.spec_from_file_location(
        "platform_security", REPO / "deploy" / "local" / "platform_security.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="session")
def material(tmp_path_factory: pytest.TempPathFactory):
    """A CA, server and client certificates, an encrypted client key and passwords in files."""
    if not shutil.which("openssl"):
        pytest.fail("the security tests need the openssl command (Debian: apt-get install openssl)")
    return load_platform_security().ensure_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sasl_ssl_env(material) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": "broker.example:9093",
        "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "STOCKSIGNAL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "STOCKSIGNAL_KAFKA_SASL_USERNAME": "stocksignal",
        "STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE": str(material.kafka_password),
        "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION": str(material.ca_cert),
    }


@pytest.fixture
def mtls_env(material) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": "broker.example:9094",
        "STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL": "SSL",
        "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION": str(material.ca_cert),
        "STOCKSIGNAL_KAFKA_SSL_CERTIFICATE_LOCATION": str(material.client_cert),
        "STOCKSIGNAL_KAFKA_SSL_KEY_LOCATION": str(material.client_key),
        "STOCKSIGNAL_KAFKA_SSL_KEY_PASSWORD_FILE": str(material.client_key_password),
    }
