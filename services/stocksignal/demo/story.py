"""``make demo``: start every service, play the scripted day through the real topics, check it.

The services are the supervisor's (supervisor.py); this module tells the day. It configures
the two channels, then plays :mod:`stocksignal.demo.script` step by step: after each step it
waits until the processor has applied its commands (its metrics) and until the records they
caused are read back from the output topics; it shows those records and checks the step's
expectations against them (checks.py). At the end it checks every number three ways, looks
back at the day through the ledger (ledger_part.py) and prints where to look next. The
services keep running.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
import uuid
from typing import Any, Callable

from stocksignal import bootstrap
from stocksignal.bench.probes import http_get, metric_sum
from stocksignal.demo import channels_part, checks, ledger_part, procs, script, supervisor
from stocksignal.demo.outputs import OutputReader
from stocksignal.demo.supervisor import EXIT_FAILED, EXIT_OK, DemoError, Options, Supervisor
from stocksignal.demo.view import availability_line, decision_line, make_view, movement_line
from stocksignal.secret import redact_url
from stocksignal.settings import Settings

APPLIED = ("stocksignal_commands_applied_total", "stocksignal_duplicates_dropped_total")
STEP_TIMEOUT_S = 60.0


class Demo:
    def __init__(self, options: Options, base: Settings) -> None:
        self.options = options
        self.base = base
        self.view = make_view(options.plain)
        self.checks = checks.Checks()
        self.started_at = time.monotonic()
        self.run_id = uuid.uuid4().hex[:8]
        self.run_dir = options.run_dir.resolve()
        self.step_times: dict[str, int] = {}  # a step's clock label -> epoch ms once it had settled
        # Set by prepare(): what the run is made of.
        self.supervisor: Supervisor | None = None
        self._reader: OutputReader | None = None
        self._producer: Any = None  # confluent-kafka's Producer, with the codec: opened with the reader
        self._codec: Any = None

    @property
    def services(self) -> Supervisor:
        assert self.supervisor is not None, "prepare() starts the run"
        return self.supervisor

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def reader(self) -> OutputReader:
        assert self._reader is not None, "configure_channels() opens the reader"
        return self._reader

    def urls(self) -> dict[str, str]:
        return self.services.urls()

    def run(self) -> int:
        view = self.view
        view.start()
        try:
            self.prepare()
            self.services.start_services()
            self.configure_channels()
            self.play()
            checks.final_checks(self)
            ledger_part.look_back(self)
            code = EXIT_OK if not self.checks.failed else EXIT_FAILED
        except DemoError as exc:
            view.error(str(exc))
            code = exc.code
        except KeyboardInterrupt:
            view.error("interrupted")
            code = supervisor.EXIT_INTERRUPTED
        finally:
            view.stop()
            if self._reader is not None:
                self._reader.close()
        if self.options.stop_when_done:
            stopped = procs.stop_all(self.run_dir, log=view.info)
            view.info(f"stopped {', '.join(stopped) or 'nothing'} (--stop-when-done)")
        self.summary(code)
        return code

    def prepare(self) -> None:
        from stocksignal.demo.cleanup import cleanup_previous

        view = self.view
        view.title("stocksignal demo: a day in a small shop")
        supervisor.check_platform(self.base)
        prefix = self.options.topic_prefix
        if prefix is None:
            prefix = f"{self.base.topic_prefix}demo-{self.run_id}."
        if not prefix:
            raise DemoError("the demo needs a topic prefix of its own (--topic-prefix must not be empty)",
                            supervisor.EXIT_USAGE)
        cleanup_previous(self.run_dir, self.base, view)
        ports, notes = supervisor.choose_ports(self.options.free_ports)
        for note in notes:
            view.warn(note)
        s = supervisor.demo_settings(self.base, self.run_id, prefix, self.run_dir, ports)
        self.supervisor = Supervisor(self.run_dir, self.run_id, s, ports, view)
        self.services.save_state()
        self.services.write_env_file()
        view.info(f"run {self.run_id} · Kafka {s.kafka_bootstrap_servers} · Redis {redact_url(s.redis_url)}")
        view.info(f"topics {prefix}* · Redis keys {s.redis_prefix}* · run directory {self.run_dir}")
        self.services.create_topics()

    # -- producing and waiting ------------------------------------------------------------

    def send(self, step_key: str, sent: list[script.Sent]) -> list[str]:
        """Produce ``sent`` (validated, with common fields); returns their event ids."""
        from stocksignal.cli.common import kafka_client_overrides
        from stocksignal.contract import key_for, topic_for_record
        from stocksignal.domain import validate

        if self._producer is None:
            self._codec = bootstrap.make_codec(self.settings)
            self._producer = bootstrap.make_producer(self.settings, **kafka_client_overrides())
        codec, producer = self._codec, self._producer
        ids = []
        now = int(time.time() * 1000)
        for i, event in enumerate(sent, start=1):
            record = {"event_id": f"demo-{self.run_id}-{step_key}-{i}", "occurred_at": now,
                      "source": "stocksignal-demo", **event.fields}
            validate(event.name, record)
            topic = topic_for_record(event.name)
            key = key_for(topic, event.name, record)
            producer.produce(self.settings.topic_prefix + topic, codec.encode(event.name, record), key.encode())
            ids.append(record["event_id"])
        if producer.flush(30):
            raise DemoError("events not delivered to Kafka within 30 s", supervisor.EXIT_UNAVAILABLE)
        return ids

    def handled(self) -> float:
        """Commands the processor applied (or dropped as repeats) so far; -1 when it is busy."""
        status, body = http_get(self.urls()["processor"] + "/metrics")
        if status != 200 or not isinstance(body, str):
            self.services.check_alive("processor")
            return -1.0
        return metric_sum(body, APPLIED)

    def wait_until(self, what: str, done: Callable[[], bool], timeout: float = STEP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}\nprocessor log:\n"
                                f"{self.services.log_tail('processor')}")
            self.reader.pump(0.05)

    def settle(self, before: float, commands: int, skus: set[str], ids: list[str] | None = None,
               decisions: int = 0) -> None:
        """Until the processor applied ``commands`` more commands and their outputs are read:
        the SKUs' newest snapshots, the ``decisions`` the events ``ids`` cause, and everything
        acknowledged on the reservations and movements topics."""
        self.wait_until(f"the processor to apply {commands} command(s)", lambda: self.handled() >= before + commands)
        wanted = set(ids or ())
        self.wait_until(f"{decisions} reservation decision(s)", lambda: sum(
            o.cause in wanted for o in self.reader.records["reservations"]) >= decisions)
        for sku in sorted(skus):
            status, state = http_get(f"{self.urls()['processor']}/skus/{urllib.parse.quote(sku, safe='')}")
            version = state["version"] if status == 200 else 0
            self.wait_until(f"{sku}'s availability version {version}", self._has_version(sku, version))
        self.wait_until("the output topics to be read to their end", self.reader.caught_up)

    def _has_version(self, sku: str, version: int) -> Callable[[], bool]:
        return lambda: self.reader.version(sku) >= version

    # -- the day --------------------------------------------------------------------------

    def configure_channels(self) -> None:
        self._reader = OutputReader(self.settings)
        view = self.view
        view.step(0, len(script.steps()), "05:00", "Before opening: configure the sales channels",
                  "The web shop sells from Berlin, then Hamburg. The marketplace sells from Hamburg, then "
                  "Berlin, and keeps 2 units of every SKU back as safety stock.")
        events = script.channel_events()
        for e in events:
            view.command(channels_part.channels_set_command(e.fields))
        before = self.handled()
        self.send("channels", events)
        self.settle(before, script.expected_commands(events, self.settings.command_partitions), set())
        view.check(True, f"the processor applied both channel configurations on all "
                         f"{self.settings.command_partitions} command partitions")

    def play(self) -> None:
        steps = script.steps()
        pace = self.options.pace if self.options.pace is not None else (0.0 if self.options.plain else 1.5)
        for number, step in enumerate(steps, start=1):
            if pace:
                deadline = time.monotonic() + pace
                while time.monotonic() < deadline:
                    self.reader.pump(0.05)
            if step.stocktake is not None:
                ledger_part.play_stocktake(self, number, len(steps), step)
            else:
                self.play_step(number, len(steps), step)
            self.step_times[step.clock] = int(time.time() * 1000)

    def play_step(self, number: int, total: int, step: script.Step) -> None:
        view = self.view
        view.step(number, total, step.clock, step.title, step.story)
        events = list(step.events(script.Observed(decisions=self.reader.decisions())))
        for e in events:
            if e.name == "ChannelConfigured":
                view.command(channels_part.channels_set_command(e.fields) + "   # sent as this event:")
        commands = step.commands or script.expected_commands(events, self.settings.command_partitions)
        skus = set().union(*(e.skus for e in events)) | set(step.expect)
        before = self.handled()
        ids = self.send(step.key, events)
        self.settle(before, commands, skus, ids, script.expected_decisions(events))
        self.show_outputs(events, ids)
        view.availability(self.reader.latest, caption=f"after {step.clock}")
        checks.check_step(self, step, ids)

    def show_outputs(self, events: list[script.Sent], ids: list[str]) -> None:
        """Each event sent, with the records it caused, in the order the processor applied them
        (by the records' log time, then by the ledger's offsets: a SKU's movements are in one
        partition, in the order they were decided)."""
        caused = self.reader.caused_by(ids)
        lines = {"reservations": ("decided", decision_line), "movements": ("ledger", movement_line),
                 "availability": ("available", availability_line), "levels": ("level", channels_part.level_line)}

        def applied_order(item: tuple[int, str]) -> tuple[int, int, int]:
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
            for kind, (label, line) in lines.items():
                for o in outputs:
                    if o.kind == kind:
                        self.view.output(label, line(o.record or {}))
            kinds = {o.kind for o in outputs}
            if "movements" in kinds and "availability" not in kinds:
                self.view.output("available", "(in the next snapshot of the SKU: coalesced within one commit)")

    def summary(self, code: int) -> None:
        from stocksignal.demo.last_screen import show

        show(self, code, time.monotonic() - self.started_at)


def run_demo(options: Options, base: Settings | None = None) -> int:
    return Demo(options, base or bootstrap.settings_from_env()).run()

