"""A secured Kafka and Redis of the test session's own, started by the project's launcher.

deploy/local/platformctl.py in its secured mode (STOCKSIGNAL_LOCAL_SECURITY=on, see
deploy/local/platform_security.py) runs, once per session and beside whatever platform the
other tests use: a broker with PLAINTEXT, SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER)
and mTLS listeners, the OIDC token endpoint for OAUTHBEARER, and a Redis with TLS, required
client certificates and an ACL user. Its folder is
``.local/secure-tests``, its ports are free ones, and it is stopped when the session ends.

The settings of each way in come from ``platformctl.py env --profile ...``: the tests connect
exactly as the documentation tells a user to. Under ``CI=true`` a launcher that cannot start
them fails the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stocksignal.bench import harness
from stocksignal.settings import Settings

REPO = Path(__file__).resolve().parents[3]
PLATFORMCTL = REPO / "deploy" / "local" / "platformctl.py"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
PORTS = (
    "KAFKA_PORT",
    "CONTROLLER_PORT",
    "KAFKA_SASL_SSL_PORT",
    "KAFKA_MTLS_PORT",
    "REDIS_PORT",
    "REDIS_TLS_PORT",
    "OIDC_PORT",
)


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:  # held together, so no two are the same
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@dataclass
class SecurePlatform:
    """The launcher's environment for this session's secured platform."""

    env: dict[str, str]

    @property
    def root(self) -> Path:
        return Path(self.env["STOCKSIGNAL_LOCAL_DIR"])

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(PLATFORMCTL), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def up(self, service: str) -> None:
        result = self.run("up", service)
        if result.returncode != 0:
            reason = f"the secured {service} did not start (platformctl.py up {service}):\n{result.stderr.strip()}"
            if IN_CI:
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)

    def profile(self, name: str) -> dict[str, str]:
        """The exports of ``platformctl.py env --profile name``."""
        result = self.run("env", "--profile", name)
        assert result.returncode == 0, result.stderr
        return dict(
            line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
        )

    def settings(self, profile: str, **overrides: str) -> Settings:
        """Settings of an isolated world (topic prefix, groups) over the ``profile`` way in."""
        base = Settings.from_env({**self.profile(profile), **overrides})
        return harness.isolated_settings(
            base,
            input_partitions=1,
            command_partitions=2,
            output_partitions=1,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            redis_prefix=f"sec-{os.urandom(4).hex()}:",
        )


@pytest.fixture(scope="session")
def secure_platform() -> Iterator[SecurePlatform]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSIGNAL_LOCAL_")}
    env.update(
        {
            f"STOCKSIGNAL_LOCAL_{name}": str(port)
            for name, port in zip(PORTS, _free_ports(len(PORTS)))
        }
    )
    env.update(
        STOCKSIGNAL_LOCAL_DIR=str(REPO / ".local" / "secure-tests"),
        STOCKSIGNAL_LOCAL_SECURITY="on",
        STOCKSIGNAL_LOCAL_START_TIMEOUT="120",
    )
    platform = SecurePlatform(env)
    platform.run("down")  # what a killed earlier session may have left running (on other ports)
    yield platform
    platform.run("down")


@pytest.fixture(scope="session")
def secure_kafka(secure_platform: SecurePlatform) -> SecurePlatform:
    secure_platform.up("kafka")
    return secure_platform


@pytest.fixture(scope="session")
def secure_oidc(secure_kafka: SecurePlatform) -> SecurePlatform:
    secure_kafka.up("oidc")
    return secure_kafka


@pytest.fixture(scope="session")
def secure_redis(secure_platform: SecurePlatform) -> SecurePlatform:
    secure_platform.up("redis")
    return secure_platform


@pytest.fixture(params=["sasl-ssl", "mtls"])
def profile(request: pytest.FixtureRequest) -> str:
    """Each test taking it runs over SASL_SSL with SCRAM-SHA-512, and over mTLS."""
    return request.param


@pytest.fixture
def secured(secure_kafka: SecurePlatform, secure_redis: SecurePlatform, profile: str) -> Settings:
    """Settings over ``profile`` (Kafka) and Redis with TLS, a client certificate and the ACL user."""
    return secure_kafka.settings(profile)


@pytest.fixture
def other_ca(tmp_path: Path) -> str:
    """A CA that signed nothing of the platform's: trusting only it must fail."""
    key, cert = tmp_path / "other-ca.key", tmp_path / "other-ca.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=some other CA",
        ],
        check=True,
        capture_output=True,
    )
    return str(cert)
