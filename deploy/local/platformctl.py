#!/usr/bin/env python3
"""A real local Kafka (4.x, KRaft, one combined broker+controller) and Redis, without Docker.

    python3 deploy/local/platformctl.py up     [kafka|redis|oidc ...]   start (harmless when already up)
    python3 deploy/local/platformctl.py down   [kafka|redis|oidc ...]   stop what this script started
    python3 deploy/local/platformctl.py status [kafka|redis|oidc ...]   up/down and address of each
    python3 deploy/local/platformctl.py env    [--keep-set] [--profile plain|sasl-ssl|mtls|oauth]
                                                                  export lines for stocksignal
    python3 deploy/local/platformctl.py tools  [promtool]          install missing test tools (as root)

Standard library only: it runs before any virtualenv exists. Kafka's jars come from Maven
(deploy/local/kafka/pom.xml) and are fetched once; redis-server comes from PATH (as root on
Debian it is installed with apt-get when missing). Everything written at run time lives under
.local/ at the repository root (or STOCKSIGNAL_LOCAL_DIR): jars, data, logs and pid files.

Environment:
    STOCKSIGNAL_LOCAL_KAFKA_PORT        Kafka client port        (default 19092)
    STOCKSIGNAL_LOCAL_CONTROLLER_PORT   KRaft controller port    (default 19093)
    STOCKSIGNAL_LOCAL_REDIS_PORT        Redis port               (default 16379)
    STOCKSIGNAL_LOCAL_START_TIMEOUT     seconds to wait for a service to answer (default 120)
    STOCKSIGNAL_LOCAL_DIR               runtime folder           (default <repo>/.local)
    STOCKSIGNAL_LOCAL_SECURITY          on: also a SASL_SSL and an mTLS listener, Redis with TLS
                                        and an ACL user (default off; see platform_security.py)
    STOCKSIGNAL_LOCAL_KAFKA_SASL_SSL_PORT  Kafka SASL_SSL port   (default 19094, secured mode)
    STOCKSIGNAL_LOCAL_KAFKA_MTLS_PORT   Kafka mTLS port          (default 19095, secured mode)
    STOCKSIGNAL_LOCAL_REDIS_TLS_PORT    Redis TLS port           (default 16380, secured mode)
    STOCKSIGNAL_LOCAL_OIDC_PORT         OIDC token endpoint port (default 19096, secured mode: the
                                        `oidc` service, for OAUTHBEARER)

Not named platform.py: a script's folder comes first on sys.path, so that name would shadow the
standard library's `platform` module (which `uuid` imports).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import platform_security as security

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOST = "127.0.0.1"
STOP_TIMEOUT_S = 30.0


class PlatformError(Exception):
    """Something the user has to act on; printed without a traceback."""


# --- configuration ---------------------------------------------------------------------------


def _int_from_env(name: str, default: int, upper: int = 65535) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= upper:
        raise PlatformError(f"{name}={raw!r}: expected a whole number from 1 to {upper}")
    return int(raw)


@dataclass(frozen=True)
class Service:
    name: str
    argv0: str  # first word of the process's command line, to recognise our own process
    ports: tuple[int, ...]
    address: str  # what clients are given
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"


def _switch_from_env(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw not in {"", "on", "off", "1", "0", "true", "false"}:
        raise PlatformError(f"{name}={raw!r}: expected on or off")
    return raw in {"on", "1", "true"}


@dataclass(frozen=True)
class Config:
    root: Path
    kafka_port: int
    controller_port: int
    redis_port: int
    start_timeout: int
    # The secured mode (platform_security.py): the extra ports are used only when it is on.
    security: bool = False
    kafka_sasl_ssl_port: int = 19094
    kafka_mtls_port: int = 19095
    redis_tls_port: int = 16380
    oidc_port: int = 19096

    @classmethod
    def from_env(cls) -> Config:
        config = cls(
            root=Path(os.environ.get("STOCKSIGNAL_LOCAL_DIR") or REPO / ".local").resolve(),
            kafka_port=_int_from_env("STOCKSIGNAL_LOCAL_KAFKA_PORT", 19092),
            controller_port=_int_from_env("STOCKSIGNAL_LOCAL_CONTROLLER_PORT", 19093),
            redis_port=_int_from_env("STOCKSIGNAL_LOCAL_REDIS_PORT", 16379),
            start_timeout=_int_from_env("STOCKSIGNAL_LOCAL_START_TIMEOUT", 120, upper=3600),
            security=_switch_from_env("STOCKSIGNAL_LOCAL_SECURITY"),
            kafka_sasl_ssl_port=_int_from_env("STOCKSIGNAL_LOCAL_KAFKA_SASL_SSL_PORT", 19094),
            kafka_mtls_port=_int_from_env("STOCKSIGNAL_LOCAL_KAFKA_MTLS_PORT", 19095),
            redis_tls_port=_int_from_env("STOCKSIGNAL_LOCAL_REDIS_TLS_PORT", 16380),
            oidc_port=_int_from_env("STOCKSIGNAL_LOCAL_OIDC_PORT", 19096),
        )
        ports = (
            config.kafka.ports + config.redis.ports + (config.oidc.ports if config.security else ())
        )
        if len(set(ports)) != len(ports):
            raise PlatformError(f"the Kafka, controller and Redis ports must differ: {ports}")
        return config

    @property
    def kafka(self) -> Service:
        secured = (self.kafka_sasl_ssl_port, self.kafka_mtls_port) if self.security else ()
        return Service(
            name="kafka",
            argv0="java",
            ports=(self.kafka_port, self.controller_port, *secured),
            address=f"{HOST}:{self.kafka_port}",
            run_dir=self.root / "kafka",
        )

    @property
    def redis(self) -> Service:
        return Service(
            name="redis",
            argv0="redis-server",
            ports=(self.redis_port, self.redis_tls_port) if self.security else (self.redis_port,),
            address=f"redis://{HOST}:{self.redis_port}/0",
            run_dir=self.root / "redis",
        )

    @property
    def oidc(self) -> Service:
        """The secured mode's OIDC token endpoint (platform_security.py, oidc_token_endpoint.py)."""
        return Service(
            name="oidc",
            argv0=Path(sys.executable).name,
            ports=(self.oidc_port,),
            address=f"http://{HOST}:{self.oidc_port}/token",
            run_dir=self.root / "oidc",
        )

    @property
    def client_ports(self) -> dict[str, int]:
        """What platform_security.profile_settings needs to know."""
        return {
            "plain": self.kafka_port,
            "sasl_ssl": self.kafka_sasl_ssl_port,
            "mtls": self.kafka_mtls_port,
            "redis": self.redis_port,
            "redis_tls": self.redis_tls_port,
            "oidc": self.oidc_port,
        }

    def material(self) -> security.Material:
        """The secured mode's certificates and passwords, generated on first use."""
        try:
            return security.ensure_material(self.root)
        except security.SecurityError as exc:
            raise PlatformError(str(exc)) from exc

    def addresses(self, service: Service) -> str:
        """What `status` shows: every way in."""
        if not self.security:
            return service.address
        if service.name == "kafka":
            return (
                f"{service.address} (PLAINTEXT), {HOST}:{self.kafka_sasl_ssl_port} (SASL_SSL), "
                f"{HOST}:{self.kafka_mtls_port} (mTLS)"
            )
        if service.name == "oidc":
            return f"{service.address} (OIDC token endpoint)"
        return (
            f"{service.address}, rediss://{HOST}:{self.redis_tls_port}/0 (ACL user {security.USER})"
        )

    def services(self, names: list[str]) -> list[Service]:
        known = ["kafka", "redis", "oidc"] if self.security else ["kafka", "redis"]
        unknown = set(names) - set(known)
        if unknown:
            hint = (
                "" if self.security else " (oidc: secured mode only, STOCKSIGNAL_LOCAL_SECURITY=on)"
            )
            raise PlatformError(
                f"unknown service(s) {sorted(unknown)}: expected {', '.join(known)}{hint}"
            )
        return [getattr(self, name) for name in (names or known)]


# --- processes -------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 here may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_ours(service: Service, pid: int) -> bool:
    """Our process runs in the service's run folder and is the program we started.

    Both are checked so that a recycled pid never gets a signal from `down`.
    """
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    # redis-server rewrites its title to "redis-server 127.0.0.1:port", hence split().
    words = argv.split()
    return cwd == service.run_dir and bool(words) and Path(words[0]).name == service.argv0


def running_pid(service: Service) -> int | None:
    """The pid from the service's pid file when that process is alive and ours."""
    try:
        pid = int(service.pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) and _is_ours(service, pid) else None


def _spawn(service: Service, argv: list[str]) -> subprocess.Popen:
    """Start a detached process (own session: a Ctrl-C in the caller's terminal spares it)."""
    if service.log_file.exists():
        service.log_file.replace(service.log_file.with_name(service.log_file.name + ".1"))
    with open(service.log_file, "wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=service.run_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service.pid_file.write_text(f"{proc.pid}\n")
    return proc


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _stop_pids(targets: list[tuple[Service, int]]) -> None:
    """SIGTERM all at once (they shut down in parallel), SIGKILL whatever outlives the timeout."""
    for _, pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for service, pid in targets:
        if not _wait_exit(pid, max(0.0, deadline - time.monotonic())):
            print(f"{service.name}: still running after {STOP_TIMEOUT_S:.0f}s, sending SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not _wait_exit(pid, 10):
                raise PlatformError(f"{service.name}: pid {pid} survived SIGKILL")
        service.pid_file.unlink(missing_ok=True)
        print(f"{service.name}: stopped (pid {pid})")


def _log_tail(service: Service, lines: int = 40) -> str:
    try:
        text = service.log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


# --- ports -----------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    # SO_REUSEADDR as Kafka and Redis set it, so a port in TIME_WAIT still counts as free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(inode)
    return inodes


def port_holder(port: int) -> str:
    """Best effort 'pid N (command)' of the process listening on port, for error messages."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in sockets for fd in (proc / "fd").iterdir()):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                return f"pid {proc.name} ({cmd[:80]})"
    return "another process"


def _require_free_ports(service: Service) -> None:
    for port in service.ports:
        if not _port_free(port):
            raise PlatformError(
                f"{service.name}: port {HOST}:{port} is held by {port_holder(port)}, "
                f"which this launcher did not start. Stop it, or choose other ports with "
                f"STOCKSIGNAL_LOCAL_KAFKA_PORT / STOCKSIGNAL_LOCAL_CONTROLLER_PORT / "
                f"STOCKSIGNAL_LOCAL_REDIS_PORT (secured mode: also STOCKSIGNAL_LOCAL_KAFKA_SASL_SSL_PORT / "
                f"STOCKSIGNAL_LOCAL_KAFKA_MTLS_PORT / STOCKSIGNAL_LOCAL_REDIS_TLS_PORT)."
            )


# --- health probes ---------------------------------------------------------------------------


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def _kafka_call(sock: socket.socket, api_key: int, version: int, body: bytes) -> bytes:
    """One request with a v1 header (no tagged fields); returns the response body."""
    client_id = b"stocksignal-platform"
    correlation_id = api_key  # one request per key per connection: unique enough
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    response = _recv_exact(sock, size)
    if struct.unpack_from(">i", response)[0] != correlation_id:
        raise ConnectionError("unexpected correlation id")
    return response[4:]


def _metadata_version(sock: socket.socket) -> int:
    """ApiVersions v0 (every broker answers it), then the newest Metadata version we can speak.

    We speak v4..v8: older ones are gone from Kafka 4, newer ones use the flexible encoding.
    """
    body = _kafka_call(sock, 18, 0, b"")
    (error, count) = struct.unpack_from(">hi", body)
    if error:
        raise ConnectionError(f"ApiVersions error {error}")
    for i in range(count):
        key, low, high = struct.unpack_from(">hhh", body, 6 + 6 * i)
        if key == 3 and max(low, 4) <= min(high, 8):
            return min(high, 8)
    raise ConnectionError("no Metadata version between 4 and 8")


def kafka_brokers(address: str, timeout: float = 3.0) -> list[str]:
    """A real Metadata request: the brokers the cluster lists (only registered, unfenced ones)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        version = _metadata_version(sock)
        # No topics (empty array), no auto-creation, and v8's two "include operations" flags.
        body = struct.pack(">ib", 0, 0) + (b"\0\0" if version >= 8 else b"")
        response = _kafka_call(sock, 3, version, body)
    offset = 4  # throttle_time_ms
    (count,) = struct.unpack_from(">i", response, offset)
    offset += 4
    brokers = []
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", response, offset)
        offset += 6
        broker_host = response[offset : offset + host_len].decode()
        offset += host_len
        broker_port, rack_len = struct.unpack_from(">ih", response, offset)
        offset += 6 + max(rack_len, 0)
        brokers.append(f"{node_id}@{broker_host}:{broker_port}")
    return brokers


def _resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words
    )


def redis_ping(port: int, timeout: float = 3.0, login: tuple[str, str] | None = None) -> bool:
    """PING (after AUTH as ``login``, when the default user is off) on the plain port."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        if login is not None:
            sock.sendall(_resp("AUTH", *login))
            if not sock.recv(64).startswith(b"+OK"):
                return False
        sock.sendall(_resp("PING"))
        return sock.recv(64).startswith(b"+PONG")


def http_ok(port: int, timeout: float = 3.0) -> bool:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(f"GET /healthz HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
        return sock.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))


def answers(service: Service, config: Config) -> bool:
    try:
        if service.name == "kafka":
            return bool(kafka_brokers(service.address))
        if service.name == "oidc":
            return http_ok(config.oidc_port)
        login = (
            (security.USER, config.material().secret("redis_password")) if config.security else None
        )
        return redis_ping(config.redis_port, login=login)
    except (OSError, struct.error, ConnectionError, UnicodeDecodeError):
        return False


def _wait_ready(service: Service, config: Config, pid: int, proc: subprocess.Popen | None) -> float:
    start = time.monotonic()
    while not answers(service, config):
        exited = proc.poll() is not None if proc else not _alive(pid)
        if exited:
            service.pid_file.unlink(missing_ok=True)
            raise PlatformError(
                f"{service.name}: exited during start-up. Last lines of {service.log_file}:\n"
                f"{_log_tail(service)}"
            )
        if time.monotonic() - start > config.start_timeout:
            if proc:  # started by this call: don't leave a half-started service behind
                _stop_pids([(service, pid)])
                hint = "stopped it"
            else:
                hint = f"pid {pid} is ours; if you changed the ports since it started, `down` first"
            raise PlatformError(
                f"{service.name}: no answer at {service.address} after {config.start_timeout}s "
                f"({hint}). Last lines of {service.log_file}:\n{_log_tail(service)}"
            )
        time.sleep(0.25)
    return time.monotonic() - start


# --- tools -----------------------------------------------------------------------------------


def _run(argv: list[str], what: str, **kwargs) -> None:
    result = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kwargs
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        raise PlatformError(f"{what} failed ({result.returncode}):\n" + "\n".join(output[-30:]))


def _require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if not path:
        raise PlatformError(f"`{name}` is not on PATH: {hint}")
    return path


def _redis_server() -> str:
    for candidate in (
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
        "/usr/sbin/redis-server",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PlatformError(
            "redis-server is not installed. Install Debian's `redis-server` package "
            "(sudo apt-get install redis-server), or point REDIS_URL at an existing Redis."
        )
    # CI machines start without it; as root on Debian we can install it ourselves.
    print("redis: redis-server missing; installing Debian's redis-server package with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], "apt-get update", env=env)
    _run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
        "apt-get install redis-server",
        env=env,
    )
    return _require_tool("redis-server", "apt-get reported success but it is still missing")


# --- tools the tests use ---------------------------------------------------------------------

PROMTOOL_HINT = (
    "Install Debian's `prometheus` package (sudo apt-get install --no-install-recommends "
    "prometheus), which brings promtool; `sudo systemctl disable --now prometheus` if you do not "
    "want its server running."
)


def _find_tool(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextlib.contextmanager
def _no_service_starts():
    """Forbid package scripts to start services while installing (policy-rc.d exit code 101).

    Debian's prometheus package would start a Prometheus server on :9090 and enable it at boot;
    we want its programs, not a running service. invoke-rc.d and deb-systemd-invoke both ask
    /usr/sbin/policy-rc.d. An existing one (Docker images have one saying the same) is left alone.
    """
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text(
        "#!/bin/sh\n# Written by stocksignal's platformctl.py while it installs a tool.\nexit 101\n"
    )
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def ensure_promtool() -> str | None:
    """promtool's path, installing Debian's prometheus package as root when missing; else None.

    The alert-rule tests (tests/integration/test_observability_rules.py) run promtool; they skip
    without it, and fail under CI=true, so a missing promtool is reported here but not an error.
    """
    found = _find_tool("promtool")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"promtool: not installed, so the Prometheus rule tests will skip. {PROMTOOL_HINT}")
        return None
    print(
        "promtool: missing; installing Debian's prometheus package with apt-get (its service is not started)"
    )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with _no_service_starts():
        _run(["apt-get", "update", "-qq"], "apt-get update", env=env)
        _run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
            "apt-get install prometheus",
            env=env,
        )
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        # Under systemd the package enables its unit for the next boot: undo that (and stop it,
        # should a policy above have let it start). Nothing of ours keeps running.
        subprocess.run(
            ["systemctl", "disable", "--now", "prometheus"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    return _require_tool("promtool", "apt-get reported success but it is still missing")


TOOLS = {"promtool": ensure_promtool}


def tools(names: list[str]) -> None:
    unknown = set(names) - set(TOOLS)
    if unknown:
        raise PlatformError(f"unknown tool(s) {sorted(unknown)}: expected {', '.join(TOOLS)}")
    for name in names or list(TOOLS):
        TOOLS[name]()


# --- Kafka -----------------------------------------------------------------------------------

POM = HERE / "kafka" / "pom.xml"
LOG4J2 = HERE / "kafka" / "log4j2.properties"

# One combined broker+controller for development and tests. Why each non-default is here:
# - replication factor / min ISR 1: there is one broker; the defaults (3, 2) would block
#   consumer groups, transactions and share groups forever.
# - fewer internal-topic partitions (defaults 50): creating them is most of a first
#   FindCoordinator's latency on a 2-core machine.
# - group.initial.rebalance.delay.ms=0: the 3 s default delays every test's first poll.
# - a 5 s abort sweep: timed-out transactions of killed producers resolve within tests.
# - auto.create.topics.enable=false: production clusters forbid it, and a typo'd or
#   forgotten topic silently created with 1 partition would break the per-SKU partitioning.
#   Tests and the processor create their topics explicitly (admin client / topic catalogue).
# - small thread pools: the machines have 2 cores.
KAFKA_PROPERTIES = """\
# Written by deploy/local/platformctl.py on every start; edit the template there, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={host}:{controller_port}
listeners={listeners}
advertised.listeners={advertised_listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map={protocol_map}
log.dirs={data_dir}

auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transactions.abort.timed.out.transaction.cleanup.interval.ms=5000

num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432
"""


def _java(
    service: Service, main: str, *args: str, heap: str = "1g", options: tuple[str, ...] = ()
) -> list[str]:
    return [
        "java",
        f"-Xmx{heap}",
        *options,
        # GC settings as Kafka's own kafka-run-class.sh uses them.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J2}",
        "-cp",
        f"{service.run_dir / 'libs'}/*",  # expanded by the JVM, not a shell
        main,
        *args,
    ]


def _fetch_jars(service: Service) -> None:
    """Copy Kafka's jars once; again only when the pom changes (its hash is the stamp)."""
    libs = service.run_dir / "libs"
    stamp = service.run_dir / "libs.sha256"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    if (
        stamp.is_file()
        and stamp.read_text().strip() == digest
        and any(libs.glob("kafka_2.13-*.jar"))
    ):
        return
    mvn = _require_tool("mvn", "install Maven (Debian: apt-get install maven)")
    print(f"kafka: fetching the broker's jars with Maven into {libs} (only when the pom changes)")
    partial = service.run_dir / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    _run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        "mvn dependency:copy-dependencies",
    )
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)  # only a complete set of jars is ever used
    stamp.write_text(digest + "\n")


def _format_storage(service: Service, properties: str, extra_args: list[str]) -> None:
    """Format the KRaft storage once, and again when the broker settings change.

    `--standalone` writes the controller's own endpoint into the quorum's first checkpoint, so a
    port change needs fresh storage; this is a disposable test broker, so any settings change
    starts empty (said aloud) rather than reasoning about which settings are safe to change.
    ``extra_args`` (the secured mode's SCRAM users) are part of what is formatted: in the
    secured mode the properties hold the same password, so a new password starts empty too.
    """
    data_dir = service.run_dir / "data"
    stamp = service.run_dir / "formatted-with.properties"
    formatted = (data_dir / "meta.properties").is_file() and stamp.is_file()
    if formatted and stamp.read_text() == properties:
        return
    if data_dir.exists():
        print("kafka: broker settings changed since the storage was formatted: starting empty")
        shutil.rmtree(data_dir)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    config_file = service.run_dir / "server.properties"
    _run(
        _java(
            service,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(config_file),
            *extra_args,
            heap="256m",
        ),
        "kafka storage format",
        cwd=service.run_dir,
    )
    stamp.write_text(properties)


def start_kafka(service: Service, config: Config) -> subprocess.Popen:
    _require_tool(
        "java", "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
    )
    _fetch_jars(service)
    secured = config.security
    listeners = security.kafka_listeners(
        HOST,
        config.kafka_port,
        config.controller_port,
        config.kafka_sasl_ssl_port if secured else None,
        config.kafka_mtls_port if secured else None,
    )
    properties = KAFKA_PROPERTIES.format(
        host=HOST,
        controller_port=config.controller_port,
        data_dir=service.run_dir / "data",
        **listeners,
    )
    scram, options = [], []
    if secured:
        material = config.material()
        properties += security.kafka_security_properties(material)
        scram = security.scram_format_args(material)
        options = security.kafka_jvm_options(material)
    properties_file = service.run_dir / "server.properties"
    properties_file.write_text(properties)
    properties_file.chmod(0o600)  # the secured mode's passwords are in it
    _format_storage(service, properties, scram)
    return _spawn(
        service,
        _java(
            service,
            "kafka.Kafka",
            str(service.run_dir / "server.properties"),
            options=tuple(options),
        ),
    )


def start_redis(service: Service, config: Config) -> subprocess.Popen:
    # No RDB snapshots and no AOF: a restarted test Redis starts empty, never from a stale file.
    argv = [
        _redis_server(),
        "--bind",
        HOST,
        "--port",
        str(config.redis_port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(service.run_dir),
        "--daemonize",
        "no",  # detached by _spawn instead, so the pid is known at once
        "--logfile",
        "",  # stdout, which _spawn sends to redis.log
    ]
    if config.security:
        # The config file comes first on redis-server's command line; it holds the password.
        secure_conf = service.run_dir / "secure.conf"
        secure_conf.write_text(security.redis_config(config.material(), config.redis_tls_port))
        secure_conf.chmod(0o600)
        argv.insert(1, str(secure_conf))
    return _spawn(service, argv)


def start_oidc(service: Service, config: Config) -> subprocess.Popen:
    return _spawn(service, security.oidc_argv(config.material(), sys.executable, config.oidc_port))


STARTERS = {"kafka": start_kafka, "redis": start_redis, "oidc": start_oidc}


# --- commands --------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(config: Config):
    """Serialise up/down: two `make test` runs at once must not start two brokers."""
    config.root.mkdir(parents=True, exist_ok=True)
    with open(config.root / "platform.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(config: Config, services: list[Service]) -> None:
    with _locked(config):
        for service in services:
            pid = running_pid(service)
            if pid:
                _wait_ready(service, config, pid, None)  # ours: maybe still starting
                print(f"{service.name}: already up at {service.address} (pid {pid})")
                continue
            service.pid_file.unlink(missing_ok=True)  # stale: its process is gone
            _require_free_ports(service)
            service.run_dir.mkdir(parents=True, exist_ok=True)
            proc = STARTERS[service.name](service, config)
            seconds = _wait_ready(service, config, proc.pid, proc)
            print(
                f"{service.name}: up at {service.address} (pid {proc.pid}, ready in {seconds:.1f}s)"
            )


def down(config: Config, services: list[Service]) -> None:
    with _locked(config):
        targets = []
        for service in services:
            pid = running_pid(service)
            if pid:
                targets.append((service, pid))
            else:
                service.pid_file.unlink(missing_ok=True)
                print(f"{service.name}: not running")
        _stop_pids(targets)


def status(config: Config, services: list[Service]) -> int:
    all_up = True
    for service in services:
        pid = running_pid(service)
        if pid and answers(service, config):
            state, note = "up", f"pid {pid}, log {service.log_file}"
        elif pid:
            state, note = "starting", f"pid {pid} does not answer yet, log {service.log_file}"
        else:
            held = [port for port in service.ports if not _port_free(port)]
            state = "down"
            note = f"port {held[0]} held by {port_holder(held[0])}, not ours" if held else ""
        all_up &= state == "up"
        print(
            f"{service.name:<6} {state:<9} {config.addresses(service)}"
            + (f"  ({note})" if note else "")
        )
    return 0 if all_up else 3  # 3 = "not running", as LSB status commands say


def env(config: Config, keep_set: bool, profile: str) -> None:
    """export lines: the addresses, and in the secured mode the settings of one way in."""
    if config.security:
        pairs = security.profile_settings(config.material(), profile, HOST, config.client_ports)
    elif profile != "plain":
        raise PlatformError(
            f"--profile {profile} needs the secured mode: STOCKSIGNAL_LOCAL_SECURITY=on"
        )
    else:
        pairs = [
            ("KAFKA_BOOTSTRAP_SERVERS", config.kafka.address),
            ("REDIS_URL", config.redis.address),
        ]
    for var, value in pairs:
        if keep_set and os.environ.get(var):
            value = os.environ[var]
        print(f"export {var}={shlex.quote(value)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "env", "tools"])
    parser.add_argument(
        "services",
        nargs="*",
        help="kafka, redis, and in the secured mode oidc (default: all); tools: promtool",
    )
    parser.add_argument(
        "--keep-set",
        action="store_true",
        help="env: print a variable already set in the environment unchanged",
    )
    parser.add_argument(
        "--profile",
        choices=security.PROFILES,
        default="plain",
        help="env: the settings of the plain, SASL_SSL, mTLS or OAuth way in (secured mode)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "tools":
            tools(args.services)
            return 0
        config = Config.from_env()
        services = config.services(args.services)
        if args.command == "up":
            up(config, services)
        elif args.command == "down":
            down(config, services)
        elif args.command == "status":
            return status(config, services)
        else:
            env(config, args.keep_set, args.profile)
    except PlatformError as exc:
        print(f"platform: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
