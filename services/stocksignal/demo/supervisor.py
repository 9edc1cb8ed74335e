"""The demo's services: their processes, their readiness, their topics and their logs.

1. Check that Kafka and Redis answer (a run's settings and ports are config.py's; a previous run
   is removed by cleanup.py).
2. Create this run's topics (its own prefix, ``demo-<run id>.``), start the processor, the
   Redis projector, the storefront API, a stub marketplace and one marketplace-sync worker as
   detached processes (pid files in the run directory, default ``.local/demo``: see procs.py).

The ports, probes and waits are the ones the tests use (stocksignal.bench.probes).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from stocksignal import bootstrap
from stocksignal.bench.probes import http_get
from stocksignal.demo import procs, script
from stocksignal.demo.config import Ports
from stocksignal.demo.view import PlainView
from stocksignal.secret import redact_url
from stocksignal.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SERVICES = ("stub-marketplace", "processor", "projector", "api", "marketplace-sync")
START_TIMEOUT_S = 120.0


class DemoError(Exception):
    """The demo cannot go on; the message says why. ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def check_platform(base: Settings) -> None:
    """DemoError (exit 3) unless Kafka and Redis answer."""
    from stocksignal.cli.common import Unavailable, existing_topics

    try:
        existing_topics(base, timeout=10)
    except Unavailable as exc:
        raise DemoError(
            f"{exc.message}\nstart the local platform with `make up`", EXIT_UNAVAILABLE
        ) from None
    try:
        bootstrap.make_redis(base, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:
        raise DemoError(
            f"Redis at {redact_url(base.redis_url)} does not answer ({exc}); start it with `make up`",
            EXIT_UNAVAILABLE,
        ) from None


class Supervisor:
    """The run's processes: started detached, waited for, their logs at hand."""

    def __init__(
        self, run_dir: Path, run_id: str, settings: Settings, ports: Ports, view: PlainView
    ) -> None:
        self.run_dir, self.run_id, self.settings, self.ports, self.view = (
            run_dir,
            run_id,
            settings,
            ports,
            view,
        )
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def urls(self) -> dict[str, str]:
        return self.ports.urls()

    def create_topics(self) -> None:
        from stocksignal.cli.common import wait_for_leaders
        from stocksignal.processor.runner import create_topics

        s = self.settings
        self.view.command(
            f"stocksignal topics create   (STOCKSIGNAL_TOPIC_PREFIX={s.topic_prefix})"
        )
        reports = create_topics(s)
        wait_for_leaders(s, [r.name for r in reports if r.action == "created"])
        created = sum(r.action == "created" for r in reports)
        bad = [f"{r.name}: {r.detail}" for r in reports if r.action == "mismatch"]
        if bad:
            raise DemoError("topics with the wrong partition count: " + "; ".join(bad))
        self.view.info(f"  {created} topics created, {len(reports) - created} already there")

    def save_state(self) -> None:
        s = self.settings
        procs.write_state(
            self.run_dir,
            {
                "run_id": self.run_id,
                "topic_prefix": s.topic_prefix,
                "app_id": s.app_id,
                "redis_prefix": s.redis_prefix,
                "consumer_groups": [s.app_id, s.projector_group, s.marketplace_group],
                "marketplace_dlq_topic": s.topic_prefix + s.marketplace_dlq_topic,
                "state_dir": s.state_dir,
                "kafka_bootstrap_servers": s.kafka_bootstrap_servers,
                "redis_url": redact_url(s.redis_url),
                "ports": vars(self.ports),
                "urls": self.urls(),
                "started_at": int(time.time() * 1000),
            },
        )

    def write_env_file(self) -> None:
        s, p = self.settings, self.ports
        lines = {
            "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "REDIS_URL": s.redis_url,
            "STOCKSIGNAL_TOPIC_PREFIX": s.topic_prefix,
            "STOCKSIGNAL_WEB_HOST": s.web_host,
            "STOCKSIGNAL_WEB_PORT": str(p.processor),
            "STOCKSIGNAL_API_PORT": str(p.api),
            "STOCKSIGNAL_REDIS_PREFIX": s.redis_prefix,
        }
        text = "# the demo's settings: source this file, then run stocksignal commands\n"
        text += "".join(f"export {k}={shlex.quote(v)}\n" for k, v in lines.items())
        (self.run_dir / procs.ENV_FILE).write_text(text)

    def start_services(self) -> None:
        s, p = self.settings, self.ports
        env = {**os.environ, **s.to_env(), "PYTHONUNBUFFERED": "1"}
        cli = [sys.executable, "-m", "stocksignal.cli.main"]
        commands = {
            "stub-marketplace": [
                sys.executable,
                "-m",
                "stocksignal.demo.stub_marketplace",
                "--port",
                str(p.stub),
            ],
            "processor": [*cli, "run", "processor"],
            "projector": [*cli, "run", "projector", "--metrics-port", str(p.projector_metrics)],
            "api": [*cli, "run", "api", "--host", "127.0.0.1", "--port", str(p.api)],
            "marketplace-sync": [
                *cli,
                "run",
                "marketplace-sync",
                "--channel",
                script.MARKETPLACE,
                "--url",
                s.marketplace_url,
                "--metrics-port",
                str(p.sync_metrics),
            ],
        }
        for name in SERVICES:
            self.children[name] = procs.start(self.run_dir, name, commands[name], env)
            shown = " ".join(commands[name][1:]).replace("-m stocksignal.cli.main", "stocksignal")
            self.view.command(f"{shown}   (pid {self.children[name].pid})")
        urls = self.urls()
        ready = {
            "stub-marketplace": urls["stub"] + "/healthz",
            "api": urls["api"] + "/healthz",
            "projector": urls["projector_metrics"],
            "marketplace-sync": urls["sync_metrics"],
            "processor": urls["processor"] + "/readyz",
        }
        t0 = time.monotonic()
        for name in SERVICES:
            self.wait_ready(name, ready[name])
        self.view.info(f"  every service is up ({time.monotonic() - t0:.1f} s)")

    def wait_ready(self, name: str, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.check_alive(name)
            if http_get(url, timeout=2)[0] == 200:
                return
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{name} not ready after {START_TIMEOUT_S:.0f}s ({url}):\n{self.log_tail(name)}"
                )
            time.sleep(0.2)

    def check_alive(self, name: str) -> None:
        proc = self.children[name]
        if proc.poll() is not None:
            raise DemoError(f"{name} exited with code {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 25) -> str:
        path = self.run_dir / "logs" / f"{name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return f"(no log at {path})"


def cli_path() -> str:
    """How to call the ``stocksignal`` command from the current directory."""
    script_path = Path(sys.executable).parent / "stocksignal"
    if script_path.exists():
        return relative(script_path)
    return "stocksignal"


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
