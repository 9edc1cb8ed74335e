"""Running a real processor worker as a process, and feeding it events: for benchmarks and tests.

Everything here talks to real services (the Kafka and Redis named by the settings); a worker
is ``python -m stocksignal.processor`` with its own topic prefix, state directory, web port and
consumer group, so runs never see each other's data.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from stocksignal import bootstrap
from stocksignal.bench.workload import Event
from stocksignal.contract import key_for, topic_for_record
from stocksignal.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_settings(base: Settings, **overrides) -> Settings:
    """Settings with a fresh topic prefix and consumer group: a world of its own."""
    tag = uuid.uuid4().hex[:8]
    values = {"topic_prefix": f"t{tag}.", "app_id": f"stocksignal-{tag}"}
    values.update(overrides)
    return replace(base, **values)


@dataclass
class Worker:
    """One processor worker process."""

    settings: Settings
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def start(self) -> Worker:
        env = {**os.environ, **self.settings.to_env(), "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stocksignal.processor"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            if self.get("/readyz")[0] == 200:
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.tail()}")

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, b""

    def metric(self, name: str) -> float:
        """Sum of every sample of a counter (all label values)."""
        status, body = self.get("/metrics")
        if status != 200:
            return float("nan")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name) and not line.startswith(name + "_created"):
                m = re.match(rf"{re.escape(name)}(?:\{{.*\}})? (\S+)$", line)
                if m:
                    total += float(m.group(1))
        return total

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def worker(settings: Settings, workdir: Path, name: str = "w1") -> Worker:
    """A worker with its own state directory and web port under ``workdir``."""
    s = replace(settings, state_dir=str(workdir / f"state-{name}"), web_port=free_port())
    return Worker(s, workdir / f"{name}.log")


class EventProducer:
    """Produces workload events to their topics (keyed per the catalogue)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = bootstrap.make_producer(settings, **{"linger.ms": 10})
        self.codec = bootstrap.make_codec(settings)
        self.count = 0

    def send(
        self, event: Event, *, raw_value: bytes | None = None, timestamp: int | None = None
    ) -> None:
        """Produce one event (``timestamp``: the record's, in ms; default: now)."""
        topic = topic_for_record(event.name)
        key = key_for(topic, event.name, event.record).encode()
        value = raw_value if raw_value is not None else self.codec.encode(event.name, event.record)
        extra = {} if timestamp is None else {"timestamp": timestamp}
        while True:
            try:
                self.producer.produce(self.settings.topic_prefix + topic, value, key, **extra)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.count += 1
        if self.count % 1000 == 0:
            self.producer.poll(0)

    def send_all(self, events: Iterable[Event]) -> int:
        n = 0
        for e in events:
            self.send(e)
            n += 1
        self.flush()
        return n

    def flush(self, timeout: float = 60.0) -> None:
        left = self.producer.flush(timeout)
        if left:
            raise RuntimeError(f"{left} events not delivered")


def create_topics(settings: Settings) -> None:
    from stocksignal.processor.topic_admin import ensure_topics
    from stocksignal.processor.topology import plan

    for report in ensure_topics(bootstrap.make_admin(settings), plan(settings)):
        if report.action == "mismatch":
            raise RuntimeError(f"{report.name}: {report.detail}")


def delete_topics(settings: Settings, timeout: float = 30.0) -> None:
    """Delete every topic of an isolated world (its prefix): test runs would otherwise pile
    gigabytes into a long-lived local broker, and its start-up log recovery grows with them."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix: that is every topic")
    admin = bootstrap.make_admin(settings)
    names = [
        t for t in admin.list_topics(timeout=timeout).topics if t.startswith(settings.topic_prefix)
    ]
    if names:
        for future in admin.delete_topics(names, operation_timeout=timeout).values():
            try:
                future.result(timeout)
            except Exception:  # already gone, or the broker is down: nothing left to tidy
                pass


def workdir(prefix: str = "stocksignal-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def expected_commands(events: Iterable[Event], partitions: int) -> int:
    """How many commands the router makes of ``events`` (channel events are broadcast)."""
    n = 0
    for e in events:
        n += partitions if e.name.startswith("Channel") else len(e.skus)
    return n


@dataclass
class Progress:
    samples: list[tuple[float, float]] = field(default_factory=list)

    def wait_for(
        self, w: Worker, metric: str, target: float, timeout: float, interval: float = 0.25
    ) -> float:
        """Poll ``metric`` until it reaches ``target``; returns the time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = w.metric(metric)
            now = time.monotonic()
            self.samples.append((now, value))
            if value >= target:
                return now
            if w.proc is not None and w.proc.poll() is not None:
                raise RuntimeError(f"worker died:\n{w.tail()}")
            time.sleep(interval)
        raise TimeoutError(
            f"{metric} stuck at {self.samples[-1][1] if self.samples else '?'} < {target}:\n{w.tail()}"
        )
