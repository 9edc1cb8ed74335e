"""deploy/local/platformctl.py on throwaway ports and a throwaway folder, apart from the platform
the other tests use: start/stop/status of Redis (cheap), and the clear error for a held port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PLATFORMCTL = Path(__file__).resolve().parents[2] / "deploy" / "local" / "platformctl.py"


class Launcher:
    def __init__(self, root: Path, kafka_port: int, controller_port: int, redis_port: int) -> None:
        self.root = root
        self.kafka_port, self.controller_port, self.redis_port = (
            kafka_port,
            controller_port,
            redis_port,
        )
        self.env = dict(
            os.environ,
            STOCKSIGNAL_LOCAL_DIR=str(root),
            STOCKSIGNAL_LOCAL_KAFKA_PORT=str(kafka_port),
            STOCKSIGNAL_LOCAL_CONTROLLER_PORT=str(controller_port),
            STOCKSIGNAL_LOCAL_REDIS_PORT=str(redis_port),
            STOCKSIGNAL_LOCAL_START_TIMEOUT="30",
        )

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(PLATFORMCTL), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=150,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture
def launcher(tmp_path: Path, free_port: Callable[[], int]) -> Iterator[Launcher]:
    run = Launcher(tmp_path / "local", free_port(), free_port(), free_port())
    yield run
    run("down")  # even when the test failed half-way: leave no process behind


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _require_redis_server() -> None:
    """The launcher installs redis-server only as root on Debian; elsewhere it must be there."""
    if shutil.which("redis-server") or os.geteuid() == 0 or os.environ.get("CI"):
        return
    pytest.skip("redis-server is not installed and the launcher cannot install it without root")


def test_env_prints_the_configured_addresses(launcher: Launcher) -> None:
    result = launcher("env")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{launcher.kafka_port}",
        f"export REDIS_URL=redis://127.0.0.1:{launcher.redis_port}/0",
    ]


def test_redis_up_is_idempotent_and_down_leaves_nothing_running(launcher: Launcher) -> None:
    _require_redis_server()
    address = f"redis://127.0.0.1:{launcher.redis_port}/0"

    started = launcher("up", "redis")
    assert started.returncode == 0, started.stderr
    pid = int((launcher.root / "redis" / "redis.pid").read_text())
    assert _alive(pid)

    status = launcher("status", "redis")
    assert status.returncode == 0 and "up" in status.stdout and address in status.stdout, (
        status.stdout
    )
    with socket.create_connection(("127.0.0.1", launcher.redis_port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert sock.recv(16).startswith(b"+PONG")

    again = launcher("up", "redis")
    assert again.returncode == 0 and "already up" in again.stdout, again.stdout + again.stderr
    assert int((launcher.root / "redis" / "redis.pid").read_text()) == pid, "no second server"

    stopped = launcher("down", "redis")
    assert stopped.returncode == 0, stopped.stderr
    assert not _alive(pid)
    assert not (launcher.root / "redis" / "redis.pid").exists()
    status = launcher("status", "redis")
    assert status.returncode == 3 and "down" in status.stdout, status.stdout


@pytest.mark.parametrize("service", ["kafka", "redis"])
def test_a_port_held_by_someone_else_is_a_clear_error_not_a_hang(
    launcher: Launcher, service: str
) -> None:
    port = launcher.kafka_port if service == "kafka" else launcher.redis_port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        began = time.monotonic()
        result = launcher("up", service)
        elapsed = time.monotonic() - began
        status = launcher("status", service)

    assert result.returncode == 1
    assert f"port 127.0.0.1:{port} is held by pid {os.getpid()}" in result.stderr, result.stderr
    assert elapsed < 10, "the launcher must fail before fetching or starting anything"
    assert not (launcher.root / service / f"{service}.pid").exists()
    assert status.returncode == 3 and "not ours" in status.stdout, status.stdout


def test_env_profiles_need_the_secured_mode_and_point_at_the_generated_files(
    launcher: Launcher,
) -> None:
    plain_only = launcher("env", "--profile", "sasl-ssl")
    assert plain_only.returncode == 1 and "STOCKSIGNAL_LOCAL_SECURITY=on" in plain_only.stderr

    launcher.env["STOCKSIGNAL_LOCAL_SECURITY"] = "on"
    result = launcher("env", "--profile", "sasl-ssl")
    assert result.returncode == 0, result.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()
    )
    assert (
        exports["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19094"
    )  # the secured mode's default port
    assert exports["STOCKSIGNAL_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert exports["REDIS_URL"] == "rediss://127.0.0.1:16380/0"
    for var in (
        "STOCKSIGNAL_KAFKA_SASL_PASSWORD_FILE",
        "STOCKSIGNAL_KAFKA_SSL_CA_LOCATION",
        "STOCKSIGNAL_REDIS_PASSWORD_FILE",
        "STOCKSIGNAL_REDIS_SSL_KEY_PASSWORD_FILE",
    ):
        assert (
            Path(exports[var]).is_file() and Path(exports[var]).parent == launcher.root / "security"
        ), var
    assert (launcher.root / "security" / "ca.key").stat().st_mode & 0o077 == 0, (
        "the CA key is private"
    )
    again = launcher("env", "--profile", "oauth")
    assert again.returncode == 0, again.stderr
    assert "STOCKSIGNAL_KAFKA_OAUTH_CLIENT_SECRET_FILE" in again.stdout
    assert "generated" in result.stderr and "generated" not in again.stderr, (
        "the material is made once"
    )
