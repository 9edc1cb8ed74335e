"""``make demo``: start every service, play the scripted day through the real topics, check it.

1. Check that Kafka and Redis answer; stop what a previous demo left running and remove its
   topics, consumer groups, Redis keys and state (recorded in ``<run dir>/demo.json``).
2. Create this run's topics (its own prefix, ``demo-<run id>.``), start the processor, the
   Redis projector, the storefront API, a stub marketplace and one marketplace-sync worker as
   detached processes (pid files in the run directory, default ``.local/demo``).
3. Configure the two channels, then play :mod:`stocksignal.demo.script` step by step. After
   each step the demo waits until the processor has applied its commands (its metrics), and
   until the records they caused are read back from the output topics; it shows those records
   and checks the step's expectations against them.
4. Check the final state three ways: the storefront API (via the projector's Redis), the
   marketplace stub's last received values, and the processor's ``/skus/{sku}``; and that the
   ledger adds up to every bucket. Print where to look next. Services keep running.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stocksignal import bootstrap
from stocksignal.demo import channels_part, ledger_part, procs, script
from stocksignal.demo.view import (
    PlainView,
    availability_line,
    decision_line,
    make_view,
    movement_line,
)
from stocksignal.secret import redact_url
from stocksignal.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 3, 130
PREFERRED_PORTS = {
    "processor": 6066,
    "api": 8080,
    "stub": 8099,
    "projector_metrics": 9108,
    "sync_metrics": 9109,
}
SERVICES = ("stub-marketplace", "processor", "projector", "api", "marketplace-sync")
APPLIED = ("stocksignal_commands_applied_total", "stocksignal_duplicates_dropped_total")
STEP_TIMEOUT_S = 60.0
START_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 30.0
BUCKETS = (
    "on_hand",
    "reserved",
    "picked",
    "damaged",
    "quality_hold",
    "pending_inspection",
    "inbound",
)


class DemoError(Exception):
    """The demo cannot go on; the message says why. ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Options:
    run_dir: Path = field(default_factory=procs.default_run_dir)
    plain: bool = False
    pace: float | None = None  # seconds between steps; None: 1.5 live, 0 plain
    free_ports: bool = False
    topic_prefix: str | None = None
    stop_when_done: bool = False


@dataclass
class Ports:
    processor: int
    api: int
    stub: int
    projector_metrics: int
    sync_metrics: int


@dataclass
class Checks:
    results: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, ok: bool, text: str, view: PlainView) -> bool:
        self.results.append((ok, text))
        view.check(ok, text)
        return ok

    @property
    def failed(self) -> list[str]:
        return [t for ok, t in self.results if not ok]


# --- small helpers ------------------------------------------------------------------------


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (with SO_REUSEADDR, as our servers do: a
    port whose last connections are in TIME_WAIT after a previous run is free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_ports(any_free: bool) -> tuple[Ports, list[str]]:
    """The preferred ports where free (or always free ones); notes for ports that moved."""
    chosen, notes = {}, []
    for name, preferred in PREFERRED_PORTS.items():
        if not any_free and port_free(preferred) and preferred not in chosen.values():
            chosen[name] = preferred
        else:
            chosen[name] = free_port()
            if not any_free:
                notes.append(f"port {preferred} ({name}) is taken: using {chosen[name]}")
    return Ports(**chosen), notes


def http_get(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


def metric_sum(text: str, names: tuple[str, ...]) -> float:
    total = 0.0
    for line in text.splitlines():
        for name in names:
            m = re.match(rf"{re.escape(name)}(?:\{{.*\}})? (\S+)$", line)
            if m:
                total += float(m.group(1))
    return total


def cli_path() -> str:
    """How to call the ``stocksignal`` command from the current directory."""
    script_path = Path(sys.executable).parent / "stocksignal"
    if script_path.exists():
        try:
            return str(script_path.relative_to(Path.cwd()))
        except ValueError:
            return str(script_path)
    return "stocksignal"


# --- the demo -----------------------------------------------------------------------------


class Demo:
    def __init__(self, options: Options, base: Settings) -> None:
        self.options = options
        self.base = base
        self.view = make_view(options.plain)
        self.checks = Checks()
        self.started_at = time.monotonic()
        self.run_id = uuid.uuid4().hex[:8]
        self.run_dir = options.run_dir.resolve()
        self.settings: Settings | None = None
        self.ports: Ports | None = None
        self.reader = None
        self.producer = None
        self.codec = None
        self.children: dict[str, Any] = {}
        self.step_times: dict[str, int] = {}  # a step's clock label -> epoch ms once it had settled

    # -- the whole run ----------------------------------------------------------------------

    def run(self) -> int:
        view = self.view
        view.start()
        try:
            self.prepare()
            self.start_services()
            self.configure_channels()
            self.play()
            self.final_checks()
            ledger_part.look_back(self)
            code = EXIT_OK if not self.checks.failed else EXIT_FAILED
        except DemoError as exc:
            view.error(str(exc))
            code = exc.code
        except KeyboardInterrupt:
            view.error("interrupted")
            code = EXIT_INTERRUPTED
        finally:
            view.stop()
            if self.reader is not None:
                self.reader.close()
        if self.options.stop_when_done:
            stopped = procs.stop_all(self.run_dir, log=view.info)
            view.info(f"stopped {', '.join(stopped) or 'nothing'} (--stop-when-done)")
        self.summary(code)
        return code

    # -- 1. preparation -------------------------------------------------------------------

    def prepare(self) -> None:
        from stocksignal.cli.common import Unavailable, existing_topics, wait_for_leaders
        from stocksignal.processor.runner import create_topics

        view = self.view
        view.title("stocksignal demo: a day in a small shop")
        try:
            existing_topics(self.base, timeout=10)
        except Unavailable as exc:
            raise DemoError(
                f"{exc.message}\nstart the local platform with `make up`", EXIT_UNAVAILABLE
            ) from None
        try:
            bootstrap.make_redis(self.base, socket_connect_timeout=3, socket_timeout=3).ping()
        except Exception as exc:
            raise DemoError(
                f"Redis at {redact_url(self.base.redis_url)} does not answer ({exc}); start it with `make up`",
                EXIT_UNAVAILABLE,
            ) from None
        prefix = self.options.topic_prefix
        if prefix is None:
            prefix = f"{self.base.topic_prefix}demo-{self.run_id}."
        if not prefix:
            raise DemoError(
                "the demo needs a topic prefix of its own (--topic-prefix must not be empty)", 2
            )
        self.cleanup_previous()

        ports, notes = choose_ports(self.options.free_ports)
        for note in notes:
            view.warn(note)
        self.ports = ports
        tag = f"stocksignal-demo-{self.run_id}"
        self.settings = replace(
            self.base,
            topic_prefix=prefix,
            app_id=tag,
            state_dir=str(self.run_dir / f"state-{self.run_id}"),
            web_host="127.0.0.1",
            web_port=ports.processor,
            api_host="127.0.0.1",
            api_port=ports.api,
            redis_prefix=f"stocksignal-demo:{self.run_id}:",
            projector_group=f"{tag}-projector",
            marketplace_channel=script.MARKETPLACE,
            marketplace_url=f"http://127.0.0.1:{ports.stub}/updates",
            marketplace_allow_http=True,  # the demo's stub marketplace, on loopback
            marketplace_group=f"{tag}-sync-{script.MARKETPLACE}",
            marketplace_linger_ms=50,
            projector_batch_wait_ms=20,
            log_level="INFO",
        )
        s = self.settings
        self.save_state()
        self.write_env_file()
        view.info(
            f"run {self.run_id} · Kafka {s.kafka_bootstrap_servers} · Redis {redact_url(s.redis_url)}"
        )
        view.info(f"topics {prefix}* · Redis keys {s.redis_prefix}* · run directory {self.run_dir}")
        view.command(f"stocksignal topics create   (STOCKSIGNAL_TOPIC_PREFIX={prefix})")
        reports = create_topics(s)
        wait_for_leaders(s, [r.name for r in reports if r.action == "created"])
        created = sum(r.action == "created" for r in reports)
        bad = [f"{r.name}: {r.detail}" for r in reports if r.action == "mismatch"]
        if bad:
            raise DemoError("topics with the wrong partition count: " + "; ".join(bad))
        view.info(f"  {created} topics created, {len(reports) - created} already there")

    def cleanup_previous(self) -> None:
        stopped = procs.stop_all(self.run_dir, log=self.view.warn)
        if stopped:
            self.view.info(f"stopped the previous demo's {', '.join(stopped)}")
        previous = procs.read_state(self.run_dir)
        if previous:
            purge(previous, self.base, self.view)

    def save_state(self) -> None:
        s, p = self.settings, self.ports
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
                "ports": vars(p),
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

    def urls(self) -> dict[str, str]:
        p = self.ports
        return {
            "processor": f"http://127.0.0.1:{p.processor}",
            "api": f"http://127.0.0.1:{p.api}",
            "stub": f"http://127.0.0.1:{p.stub}",
            "projector_metrics": f"http://127.0.0.1:{p.projector_metrics}/metrics",
            "sync_metrics": f"http://127.0.0.1:{p.sync_metrics}/metrics",
        }

    # -- 2. services ----------------------------------------------------------------------

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

    # -- producing and waiting ------------------------------------------------------------

    def open_clients(self) -> None:
        from stocksignal.cli.common import kafka_client_overrides
        from stocksignal.demo.outputs import OutputReader

        self.codec = bootstrap.make_codec(self.settings)
        self.producer = bootstrap.make_producer(self.settings, **kafka_client_overrides())
        self.reader = OutputReader(self.settings)

    def send(self, step_key: str, sent: list[script.Sent]) -> list[str]:
        """Produce ``sent`` (validated, with common fields); returns their event ids."""
        from stocksignal.contract import key_for, topic_for_record
        from stocksignal.domain import validate

        ids = []
        now = int(time.time() * 1000)
        for i, event in enumerate(sent, start=1):
            record = {
                "event_id": f"demo-{self.run_id}-{step_key}-{i}",
                "occurred_at": now,
                "source": "stocksignal-demo",
                **event.fields,
            }
            validate(event.name, record)
            topic = topic_for_record(event.name)
            key = key_for(topic, event.name, record)
            self.producer.produce(
                self.settings.topic_prefix + topic,
                self.codec.encode(event.name, record),
                key.encode(),
            )
            ids.append(record["event_id"])
        if self.producer.flush(30):
            raise DemoError("events not delivered to Kafka within 30 s", EXIT_UNAVAILABLE)
        return ids

    def handled(self) -> float:
        status, body = http_get(self.urls()["processor"] + "/metrics")
        if status != 200 or not isinstance(body, str):
            self.check_alive("processor")
            return -1.0
        return metric_sum(body, APPLIED)

    def wait_until(
        self, what: str, done: Callable[[], bool], timeout: float = STEP_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise DemoError(
                    f"timed out after {timeout:.0f}s waiting for {what}\nprocessor log:\n"
                    f"{self.log_tail('processor')}"
                )
            self.reader.pump(0.05)

    def settle(
        self, before: float, commands: int, skus: set[str], ids: list[str] = (), decisions: int = 0
    ) -> None:
        """Until the processor applied ``commands`` more commands and their outputs are read:
        the SKUs' newest snapshots, the ``decisions`` the events ``ids`` cause, and everything
        acknowledged on the reservations and movements topics."""
        self.wait_until(
            f"the processor to apply {commands} command(s)",
            lambda: self.handled() >= before + commands,
        )
        wanted = set(ids)
        self.wait_until(
            f"{decisions} reservation decision(s)",
            lambda: (
                sum(o.cause in wanted for o in self.reader.records["reservations"]) >= decisions
            ),
        )
        for sku in sorted(skus):
            status, state = http_get(
                f"{self.urls()['processor']}/skus/{urllib.parse.quote(sku, safe='')}"
            )
            version = state["version"] if status == 200 else 0
            self.wait_until(
                f"{sku}'s availability version {version}",
                lambda: self.reader.version(sku) >= version,
            )
        self.wait_until("the output topics to be read to their end", self.reader.caught_up)

    # -- 3. the day -------------------------------------------------------------------------

    def configure_channels(self) -> None:
        self.open_clients()
        view = self.view
        view.step(
            0,
            len(script.steps()),
            "05:00",
            "Before opening: configure the sales channels",
            "The web shop sells from Berlin, then Hamburg. The marketplace sells from Hamburg, then "
            "Berlin, and keeps 2 units of every SKU back as safety stock.",
        )
        events = script.channel_events()
        for e in events:
            view.command(channels_part.channels_set_command(e.fields))
        before = self.handled()
        self.send("channels", events)
        self.settle(
            before, script.expected_commands(events, self.settings.command_partitions), set()
        )
        view.check(
            True,
            f"the processor applied both channel configurations on all "
            f"{self.settings.command_partitions} command partitions",
        )

    def play(self) -> None:
        steps = script.steps()
        pace = (
            self.options.pace
            if self.options.pace is not None
            else (0.0 if self.options.plain else 1.5)
        )
        for number, step in enumerate(steps, start=1):
            if pace:
                self.pause(pace)
            if step.stocktake is not None:
                ledger_part.play_stocktake(self, number, len(steps), step)
            else:
                self.play_step(number, len(steps), step)
            self.step_times[step.clock] = int(time.time() * 1000)

    def pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.reader.pump(0.05)

    def play_step(self, number: int, total: int, step: script.Step) -> None:
        view = self.view
        view.step(number, total, step.clock, step.title, step.story)
        observed = script.Observed(decisions=self.reader.decisions())
        events = list(step.events(observed))
        for e in events:
            if e.name == "ChannelConfigured":
                view.command(
                    channels_part.channels_set_command(e.fields) + "   # sent as this event:"
                )
        commands = step.commands or script.expected_commands(
            events, self.settings.command_partitions
        )
        skus = set().union(*(e.skus for e in events)) | set(step.expect)
        before = self.handled()
        ids = self.send(step.key, events)
        self.settle(before, commands, skus, ids, script.expected_decisions(events))
        self.show_outputs(events, ids)
        self.view.availability(self.reader.latest, caption=f"after {step.clock}")
        self.check_step(step, ids)

    def show_outputs(self, events: list[script.Sent], ids: list[str]) -> None:
        """Each event sent, with the records it caused, in the order the processor applied them
        (by the records' log time, then by the ledger's offsets: a SKU's movements are in one
        partition, in the order they were decided)."""
        caused = self.reader.caused_by(ids)

        def applied_order(item: tuple[int, str]) -> tuple:
            index, event_id = item
            outputs = caused.get(event_id, [])
            first = min((o.timestamp for o in outputs), default=sys.maxsize)
            ledger = min((o.offset for o in outputs if o.kind == "movements"), default=sys.maxsize)
            return (first, ledger, index)

        for index, event_id in sorted(enumerate(ids), key=applied_order):
            self.view.sent(events[index].describe())
            outputs = caused.get(event_id, [])
            if not outputs:
                self.view.output("", "(nothing published: no bucket changed)")
            for kind, label in (
                ("reservations", "decided"),
                ("movements", "ledger"),
                ("availability", "available"),
                ("levels", "level"),
            ):
                for o in outputs:
                    if o.kind == kind:
                        text = {
                            "decided": decision_line,
                            "ledger": movement_line,
                            "available": availability_line,
                            "level": channels_part.level_line,
                        }[label](o.record)
                        self.view.output(label, text)
            if any(o.kind == "movements" for o in outputs) and not any(
                o.kind == "availability" for o in outputs
            ):
                self.view.output(
                    "available", "(in the next snapshot of the SKU: coalesced within one commit)"
                )

    def check_step(self, step: script.Step, ids: list[str]) -> None:
        for sku, expected in step.expect.items():
            latest = self.reader.latest.get(sku)
            actual = {c["channel_id"]: c["available"] for c in latest["channels"]} if latest else {}
            self.checks.add(
                actual == expected,
                f"{sku}: {fmt_channels(expected)}"
                + ("" if actual == expected else f"  — published: {fmt_channels(actual)}"),
                self.view,
            )
        decisions = [d for d in self.reader.decisions() if d["cause_event_id"] in set(ids)]
        for text, check in step.checks:
            problem = check(decisions)
            self.checks.add(
                problem is None, text + ("" if problem is None else f"  — {problem}"), self.view
            )
        channels_part.check_levels(self, step, ids)

    # -- 4. the end of the day ------------------------------------------------------------

    def final_checks(self) -> None:
        view = self.view
        view.step(
            len(script.steps()) + 1,
            len(script.steps()) + 2,
            "18:30",
            "Closing: is every number right?",
            "The same numbers, read three ways: the storefront API (Redis, written by the projector), "
            "the marketplace (pushed by the sync worker), and the processor's own state.",
        )
        urls = self.urls()
        processor_versions = {}
        for sku in script.SKUS:
            status, state = http_get(f"{urls['processor']}/skus/{sku}")
            if status != 200:
                self.checks.add(False, f"processor /skus/{sku} answered {status}", view)
                continue
            processor_versions[sku] = state["version"]
            actual = {c: ch["available"] for c, ch in state["channels"].items()}
            expected = script.FINAL_AVAILABILITY[sku]
            self.checks.add(
                actual == expected, f"processor /skus/{sku}: {fmt_channels(actual)}", view
            )
            positions = state["positions"]
            if sku == script.MUG:
                ok = positions == script.FINAL_MUG_POSITIONS
                self.checks.add(
                    ok,
                    f"processor /skus/{sku}: buckets "
                    + "; ".join(f"{loc} {fmt_buckets(b)}" for loc, b in positions.items()),
                    view,
                )
            else:
                totals = {
                    k: sum(p[k] for p in positions.values()) for k in script.FINAL_LAMP_TOTALS
                }
                self.checks.add(
                    totals == script.FINAL_LAMP_TOTALS,
                    f"processor /skus/{sku}: totals {fmt_buckets(totals)}",
                    view,
                )
        for sku in script.SKUS:
            got = self.poll_api(sku, processor_versions.get(sku, 0))
            expected = script.FINAL_AVAILABILITY[sku]
            self.checks.add(
                got == expected,
                f"storefront API /availability/{sku}: {fmt_channels(got or {})}"
                + ("" if got == expected else f"  — expected {fmt_channels(expected)}"),
                view,
            )
        stub = self.poll_stub()
        for sku, expected in script.FINAL_MARKETPLACE.items():
            got = stub.get(sku, {}).get("available")
            self.checks.add(
                got == expected,
                f"marketplace stub last received {sku}: {got}"
                + ("" if got == expected else f"  — expected {expected}"),
                view,
            )
        self.wait_until("the output topics to be read to their end", self.reader.caught_up)
        self.check_ledger()
        self.check_no_oversell()
        self.check_dlq()

    def poll_api(
        self, sku: str, version: int, timeout: float = SETTLE_TIMEOUT_S
    ) -> dict[str, int] | None:
        """The storefront API's channels once it serves the processor's version."""
        url = f"{self.urls()['api']}/availability/{urllib.parse.quote(sku, safe='')}"
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            status, body = http_get(url)
            if status == 200:
                last = body["channels"]
                if body["version"] >= version:
                    return last
            time.sleep(0.2)
        return last

    def poll_stub(self, timeout: float = SETTLE_TIMEOUT_S) -> dict[str, dict]:
        """The marketplace's values once they equal the expected ones (or after the timeout)."""
        url = self.urls()["stub"] + "/state"
        deadline = time.monotonic() + timeout
        got: dict[str, dict] = {}
        while time.monotonic() < deadline:
            status, body = http_get(url)
            if status == 200:
                got = body["channels"].get(script.MARKETPLACE, {})
                if all(
                    got.get(s, {}).get("available") == v
                    for s, v in script.FINAL_MARKETPLACE.items()
                ):
                    return got
            time.sleep(0.2)
        return got

    def check_ledger(self) -> None:
        sums: dict[tuple[str, str, str], int] = defaultdict(int)
        seen = set()
        for m in self.reader.movements():
            if m["movement_id"] in seen:
                continue  # a repeat (same id) after a crash: counted once
            seen.add(m["movement_id"])
            sums[(m["sku"], m["location_id"], m["bucket"].lower())] += m["delta"]
        problems = []
        for sku, snap in self.reader.latest.items():
            for loc in snap["locations"]:
                for b in BUCKETS:
                    if sums.get((sku, loc["location_id"], b), 0) != loc[b]:
                        problems.append(f"{sku}@{loc['location_id']} {b}")
        self.checks.add(
            not problems,
            f"the ledger explains every bucket: {len(seen)} movements sum to the "
            "published balances" + (f"  — differs for {', '.join(problems)}" if problems else ""),
            self.view,
        )

    def check_no_oversell(self) -> None:
        bad = [
            f"{a['sku']} v{a['version']} {loc['location_id']}"
            for a in self.reader.snapshots()
            for loc in a["locations"]
            if loc["reserved"] > loc["on_hand"]
        ]
        self.checks.add(
            not bad,
            f"never oversold: reserved <= on_hand in all {len(self.reader.snapshots())} "
            "published snapshots" + (f"  — {', '.join(bad)}" if bad else ""),
            self.view,
        )

    def check_dlq(self) -> None:
        n = len(self.reader.records["dlq"])
        self.checks.add(n == 0, f"no event of the day went to the DLQ ({n})", self.view)

    # -- the last screen --------------------------------------------------------------------

    def summary(self, code: int) -> None:
        view = self.view
        elapsed = time.monotonic() - self.started_at
        print_fn = view.info
        print_fn("")
        if code == EXIT_OK:
            view.title(f"All {len(self.checks.results)} expectations met in {elapsed:.0f} s")
        elif self.checks.failed:
            view.title(
                f"{len(self.checks.failed)} of {len(self.checks.results)} expectations FAILED ({elapsed:.0f} s)"
            )
            for text in self.checks.failed:
                view.error(text)
        else:
            view.title(f"The demo stopped after {elapsed:.0f} s (exit {code})")
        if self.settings is None or self.ports is None:
            return
        if self.reader is not None and self.reader.latest:
            rows = [
                [sku, fmt_channels({c["channel_id"]: c["available"] for c in a["channels"]})]
                for sku, a in sorted(self.reader.latest.items())
            ]
            view.table(
                "Final availability (inventory.availability.v1):",
                ["SKU", "available per channel"],
                rows,
            )
        urls, cli = self.urls(), cli_path()
        env_file = self.run_dir / procs.ENV_FILE
        rel = _relative(env_file)
        running = procs.running(self.run_dir)
        lines = [
            "Where to look (the services keep running):" if running else "Where to look:",
            f"  storefront API    curl -s '{urls['api']}/availability/{script.MUG}?channel={script.WEBSHOP}'",
            f"                    {urls['api']}/availability/{script.LAMP}   {urls['api']}/openapi.json"
            f"   {urls['api']}/metrics",
            f"  processor         {urls['processor']}/skus/{script.MUG}   {urls['processor']}/skus/{script.MUG}"
            f"/movements?limit=20   {urls['processor']}/metrics",
            f"  marketplace stub  {urls['stub']}/state",
            f"  adapter metrics   {urls['projector_metrics']} (projector)   {urls['sync_metrics']} (sync)",
            f"  CLI               source {rel}",
            f"                    {cli} sku {script.MUG}",
            *ledger_part.where_to_look(self, cli),
            f"                    {cli} tail movements --sku {script.MUG} -n 30",
            f"                    {cli} tail reservations --sku {script.LAMP} --from-beginning",
            f"                    {cli} tail stock-levels --sku {script.LAMP} --from-beginning",
            f"                    {cli} channels list",
            f"  logs              {_relative(self.run_dir / 'logs')}/",
        ]
        if running:
            lines.append(
                "Stop the demo's services with `make demo-stop` (`make down` stops them too)."
            )
        for line in lines:
            print_fn(line)


def fmt_channels(available: Mapping[str, int]) -> str:
    return " · ".join(f"{c} {n}" for c, n in sorted(available.items()))


def fmt_buckets(buckets: Mapping[str, int]) -> str:
    return " ".join(
        f"{k}={v}" for k, v in buckets.items() if v or k in ("on_hand", "reserved", "sellable")
    )


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def purge(state: Mapping[str, Any], base: Settings, view: PlainView) -> None:
    """Remove what a previous demo run made: its topics, consumer groups, Redis keys and state."""
    from stocksignal.processor.topology import plan

    prefix = state.get("topic_prefix") or ""
    app_id = state.get("app_id") or ""
    if not prefix or not app_id.startswith("stocksignal-demo-"):
        return
    admin = bootstrap.make_admin(base)
    try:
        names = set(admin.list_topics(timeout=10).topics)
        ours = {p.name for p in plan(replace(base, topic_prefix=prefix))}
        ours.add(state.get("marketplace_dlq_topic", ""))
        doomed = sorted(n for n in names if n in ours or n.startswith(app_id + "-"))
        if doomed:
            for future in admin.delete_topics(doomed, operation_timeout=30).values():
                try:
                    future.result(30)
                except Exception as exc:  # already gone: fine
                    view.warn(f"could not delete a topic of the previous demo: {exc}")
            # Until they are gone: a run reusing the prefix must not race their deletion.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and set(doomed) & set(
                admin.list_topics(timeout=10).topics
            ):
                time.sleep(0.2)
        groups = [g for g in state.get("consumer_groups", []) if g]
        if groups:
            for future in admin.delete_consumer_groups(groups, request_timeout=10).values():
                try:
                    future.result(10)
                except Exception:  # a group that never committed does not exist: fine
                    pass
    except Exception as exc:  # best effort: a leftover topic is clutter, not an error
        view.warn(f"could not clean up the previous demo's topics: {exc}")
    redis_prefix = state.get("redis_prefix") or ""
    if redis_prefix.startswith("stocksignal-demo:"):
        try:
            client = bootstrap.make_redis(base)
            keys = list(client.scan_iter(match=redis_prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        except Exception as exc:
            view.warn(f"could not delete the previous demo's Redis keys: {exc}")
    state_dir = state.get("state_dir")
    if state_dir and Path(state_dir).name.startswith("state-"):
        shutil.rmtree(state_dir, ignore_errors=True)
    view.info(
        f"removed demo run {state.get('run_id')} (topics {prefix}*, its consumer groups, Redis keys and state)"
    )


def run_demo(options: Options, base: Settings | None = None) -> int:
    base = base or bootstrap.settings_from_env()
    return Demo(options, base).run()
