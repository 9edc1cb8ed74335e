"""``make demo``: start every service, play the scripted day through the real topics, check it.

The services are the supervisor's (supervisor.py); this module tells the day. It configures
the two channels, then plays :mod:`stocksignal.demo.script` step by step: it sends each step's
events, waits until what they caused is read back and shows it (traffic.py), and checks the
step's expectations against it (checks.py). At the end it checks every number three ways,
looks back at the day through the ledger (ledger_part.py), sells a gift set and races the last
one against a lamp order (kit_part.py), and prints where to look next (last_screen.py). The
services keep running.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from stocksignal import bootstrap
from stocksignal.demo import (
    channels_part,
    checks,
    config,
    kit_part,
    ledger_part,
    procs,
    script,
    supervisor,
)
from stocksignal.demo.config import Options
from stocksignal.demo.outputs import OutputReader
from stocksignal.demo.supervisor import EXIT_FAILED, EXIT_OK, DemoError, Supervisor
from stocksignal.demo.traffic import Traffic
from stocksignal.demo.view import make_view
from stocksignal.secret import redact_url
from stocksignal.settings import Settings


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
        self._traffic: Traffic | None = None

    @property
    def services(self) -> Supervisor:
        assert self.supervisor is not None, "prepare() starts the run"
        return self.supervisor

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def traffic(self) -> Traffic:
        assert self._traffic is not None, "configure_channels() opens the traffic"
        return self._traffic

    @property
    def reader(self) -> OutputReader:
        return self.traffic.reader

    @property
    def latest(self) -> dict[str, Any]:
        """Each SKU's newest snapshot read so far ({} before any traffic)."""
        return self._traffic.reader.latest if self._traffic is not None else {}

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
            kit_part.play_kit(self, script.total_sections(), script.total_sections())
            code = EXIT_OK if not self.checks.failed else EXIT_FAILED
        except DemoError as exc:
            view.error(str(exc))
            code = exc.code
        except KeyboardInterrupt:
            view.error("interrupted")
            code = supervisor.EXIT_INTERRUPTED
        finally:
            view.stop()
            if self._traffic is not None:
                self._traffic.close()
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
            raise DemoError(
                "the demo needs a topic prefix of its own (--topic-prefix must not be empty)",
                supervisor.EXIT_USAGE,
            )
        cleanup_previous(self.run_dir, self.base, view)
        ports, notes = config.choose_ports(self.options.free_ports)
        for note in notes:
            view.warn(note)
        s = config.demo_settings(self.base, self.run_id, prefix, self.run_dir, ports)
        self.supervisor = Supervisor(self.run_dir, self.run_id, s, ports, view)
        self.services.save_state()
        self.services.write_env_file()
        view.info(
            f"run {self.run_id} · Kafka {s.kafka_bootstrap_servers} · Redis {redact_url(s.redis_url)}"
        )
        view.info(f"topics {prefix}* · Redis keys {s.redis_prefix}* · run directory {self.run_dir}")
        self.services.create_topics()

    # -- the day --------------------------------------------------------------------------

    def configure_channels(self) -> None:
        self._traffic = traffic = Traffic(self.services, self.view)
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
        before = traffic.handled()
        traffic.send("channels", events)
        traffic.settle(
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
                view.command(
                    channels_part.channels_set_command(e.fields) + "   # sent as this event:"
                )
        commands = step.commands or script.expected_commands(
            events, self.settings.command_partitions
        )
        skus = set().union(*(e.skus for e in events)) | set(step.expect)
        traffic = self.traffic
        before = traffic.handled()
        ids = traffic.send(step.key, events)
        traffic.settle(before, commands, skus, ids, script.expected_decisions(events))
        traffic.show_outputs(events, ids)
        view.availability(self.reader.latest, caption=f"after {step.clock}")
        checks.check_step(self, step, ids)

    def summary(self, code: int) -> None:
        from stocksignal.demo.last_screen import show

        show(self, code, time.monotonic() - self.started_at)


def run_demo(options: Options, base: Settings | None = None) -> int:
    return Demo(options, base or bootstrap.settings_from_env()).run()
