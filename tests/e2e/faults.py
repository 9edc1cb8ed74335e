"""The faults an operator inflicts on a running processor, as cases that `make test` and
`make chaos` share.

Each case runs real worker processes against a real broker, in a world of its own (topic
prefix, consumer group, state directories), while a stream of realistic events (producer
duplicates included) is produced; then it waits until the processor is quiescent and checks
everything consumers read against the models of :mod:`tests.e2e.verify`.

    report = run_case("pause", seed=1, base=settings, workdir=path)
    assert report.ok, report

Cases (docs/processor.md, "Proving it"):

- ``pause``: a worker SIGSTOPped past its session timeout mid-stream, then resumed;
- ``kills``: three workers, one SIGKILLed and restarted every few thousand events;
- ``simultaneous``: two workers started at the same instant on fresh topics;
- ``broker-restart``: the broker stopped and started again mid-stream;
- ``join-leave-holds``: a worker joins and another leaves while holds come due;
- ``catch-up``: one worker SIGKILLed twice, restarted at once with the production session
  timeout, so it catches up on a backlog each time; checked against deciding in timestamp order.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from stocksignal.bench import harness
from stocksignal.bench.workload import Event, Workload
from stocksignal.settings import Settings
from tests.e2e import support, verify

REPO = Path(__file__).resolve().parents[2]
PLATFORMCTL = REPO / "deploy" / "local" / "platformctl.py"


@dataclass
class World:
    """One isolated run: its settings, its workers, its producer."""

    settings: Settings
    workdir: Path
    workers: dict[str, harness.Worker] = field(default_factory=dict)
    producer: harness.EventProducer | None = None

    def __post_init__(self) -> None:
        harness.create_topics(self.settings)
        self.producer = harness.EventProducer(self.settings)

    def worker(self, name: str, **overrides) -> harness.Worker:
        """A new worker process (not started), with a state directory and port of its own."""
        w = harness.worker(replace(self.settings, **overrides), self.workdir, name)
        self.workers[name] = w
        return w

    def start(self, name: str, wait: bool = True, **overrides) -> harness.Worker:
        w = self.worker(name, **overrides).start()
        if wait:
            w.wait_ready()
        return w

    def restart(self, name: str, fresh_state: bool = False, wait: bool = True) -> harness.Worker:
        """SIGKILL the worker and start it again at once: same settings and port, and its
        state directory or (``fresh_state``) an empty one."""
        old = self.workers[name]
        old.kill()
        settings = old.settings
        if fresh_state:
            settings = replace(
                settings, state_dir=str(self.workdir / f"state-{name}-{time.monotonic_ns()}")
            )
        w = self.workers[name] = harness.Worker(settings, old.log_path).start()
        if wait:
            w.wait_ready()
        return w

    def alive(self) -> list[harness.Worker]:
        return [w for w in self.workers.values() if w.proc is not None and w.proc.poll() is None]

    def quiesce(self, timeout: float = 300.0) -> None:
        for w in self.workers.values():
            if w.proc is not None and w.proc.poll() not in (None, 0, -9, -15):
                raise AssertionError(f"worker exited with {w.proc.returncode}:\n{w.tail()}")
        support.wait_quiescent(self.settings, self.settings.app_id, timeout=timeout)

    def close(self, keep_topics: bool = False) -> None:
        """Stop every worker; delete the world's topics unless they are a failed run's
        evidence (``keep_topics``: the report in the workdir names the prefix)."""
        for w in self.workers.values():
            w.kill()
        if keep_topics:
            return
        try:
            harness.delete_topics(self.settings, timeout=10.0)
        except Exception:  # a broker that is down keeps them until it is wiped
            pass


def stream(
    world: World,
    load: Workload,
    events: int,
    rate: int,
    between: Callable[[int], None],
    chunk: int = 1000,
    duplicates: int = 20,
    seed: int = 0,
    in_order: bool = False,
) -> int:
    """Produce ``events`` at ``rate``/s in chunks, re-sending a few earlier events each
    chunk (producer duplicates); ``between(i)`` runs after chunk i. With ``in_order``, each
    record's timestamp is unique and increasing in production order, and each record is in
    the broker before the next is sent, so "the order things happened" is unambiguous across
    topics (with batching producers, records a few milliseconds apart on different topics
    have no order a consumer could know)."""
    rnd = random.Random(seed)
    sent: list[Event] = []
    producer = world.producer
    assert producer is not None
    clock = [int(time.time() * 1000)]

    def send(e: Event) -> None:
        if in_order:
            clock[0] = max(clock[0] + 1, int(time.time() * 1000))
            producer.send(e, timestamp=clock[0])
            producer.flush()
        else:
            producer.send(e)

    for i in range(events // chunk):
        batch = list(load.stream(chunk, int(time.time() * 1000)))
        batch += rnd.sample(sent, k=min(len(sent), duplicates))
        start = time.monotonic()
        for n, e in enumerate(batch):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            send(e)
        producer.flush()
        sent.extend(batch[:chunk])
        between(i)
    return len(sent)


def seed_world(
    world: World, load: Workload, qty: int = 30, safety_stock: int = 2, timestamps: bool = False
) -> None:
    now = int(time.time() * 1000)
    events = [load.channel(now, safety_stock=safety_stock), *load.seed_stock(qty, now)]
    assert world.producer is not None
    if timestamps:
        for i, e in enumerate(events):
            world.producer.send(e, timestamp=now - len(events) + i)
        world.producer.flush()
    else:
        world.producer.send_all(events)


def contended(seed: int, holds: bool = True) -> Workload:
    # Few SKUs, so lines race for the same units; holds come due during the run.
    if holds:
        return Workload(skus=300, locations=3, seed=seed, hold_ms=3000, hold_share=0.1)
    return Workload(skus=300, locations=3, seed=seed)


def _fenced_or_aborted(w: harness.Worker) -> float:
    status, body = w.get("/metrics")
    total = 0.0
    for line in body.decode().splitlines() if status == 200 else ():
        if line.startswith("stocksignal_transactions_total") and (
            '"fenced"' in line or '"aborted"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


# --- the cases ---------------------------------------------------------------------------------


def case_pause(world: World, seed: int) -> verify.Report:
    """Worker 0 is SIGSTOPped past its session timeout (the other worker takes its
    partitions over), then resumed: the broker must refuse its commit. A pause that hits
    between two transactions, or after its offsets went out (then its commit is legitimately
    waited for by the new owner), bites nothing: worker 0 is paused again, up to three times,
    until one of its transactions was refused."""
    w0 = world.start("w0")
    world.start("w1")
    load = contended(seed)
    seed_world(world, load)
    facts = {"pauses": 0, "zombie_aborts": 0.0}
    pause_s = world.settings.session_timeout_ms / 1000 + 4

    def between(i: int) -> None:
        if i % 2 == 0:
            facts["zombie_aborts"] = _fenced_or_aborted(w0)
        if i % 2 == 1 and facts["pauses"] < 3 and not facts["zombie_aborts"]:
            facts["pauses"] += 1
            os.killpg(w0.proc.pid, signal.SIGSTOP)
            time.sleep(pause_s)
            os.killpg(w0.proc.pid, signal.SIGCONT)

    stream(world, load, 10_000, 800, between, seed=seed)
    world.quiesce()
    facts["zombie_aborts"] = _fenced_or_aborted(w0)
    report = verify.check_run(world.settings)
    report.facts.update(facts)
    if not facts["zombie_aborts"]:
        report.problems.append(
            "the resumed worker never had a transaction refused: the pauses did not bite"
        )
    return report


def case_kills(world: World, seed: int) -> verify.Report:
    """Three workers; every two thousand events one of them is SIGKILLed and restarted at
    once, with its state directory or (every other time) a fresh one."""
    for name in ("w0", "w1", "w2"):
        world.start(name, wait=False)
    for w in world.workers.values():
        w.wait_ready()
    load = contended(seed)
    seed_world(world, load)
    rnd = random.Random(seed)
    kills = []

    def between(i: int) -> None:
        if i % 2 == 1:
            name = rnd.choice(sorted(world.workers))
            kills.append(name)
            world.restart(name, fresh_state=len(kills) % 2 == 0, wait=False)

    stream(world, load, 20_000, 1000, between, seed=seed)
    world.quiesce()
    report = verify.check_run(world.settings, expect_expired=True)
    report.facts["kills"] = len(kills)
    return report


def case_simultaneous(world: World, seed: int) -> verify.Report:
    """Two workers started at the same instant on fresh topics, events flowing at once."""
    a, b = world.worker("w0"), world.worker("w1")
    a.start(), b.start()
    load = contended(seed)
    seed_world(world, load)
    stream(world, load, 8_000, 1000, lambda i: None, seed=seed)
    a.wait_ready(), b.wait_ready()
    world.quiesce()
    return verify.check_run(world.settings)


def case_join_leave_holds(world: World, seed: int) -> verify.Report:
    """Holds come due all the time while a third worker joins and the first one leaves."""
    world.start("w0")
    world.start("w1")
    load = Workload(skus=300, locations=3, seed=seed, hold_ms=1500, hold_share=0.4)
    seed_world(world, load)

    def between(i: int) -> None:
        if i == 3:
            world.start("w2", wait=False)
        if i == 6:
            world.workers["w0"].stop()  # leaves the group: its partitions move at once

    stream(world, load, 10_000, 1000, between, seed=seed)
    time.sleep(3)  # the last holds come due
    world.quiesce()
    return verify.check_run(world.settings, expect_expired=True)


def case_broker_restart(world: World, seed: int, broker: PrivateBroker) -> verify.Report:
    """The broker is stopped mid-stream and started again; workers and producer ride it out."""
    world.start("w0")
    world.start("w1")
    load = contended(seed)
    seed_world(world, load)

    def between(i: int) -> None:
        if i == 3:
            broker.restart(pause_s=5)

    stream(world, load, 8_000, 800, between, seed=seed)
    world.quiesce()
    return verify.check_run(world.settings)


def case_catch_up(world: World, seed: int) -> verify.Report:
    """One worker with the production session timeout is SIGKILLed twice and restarted at
    once: the group waits for the dead member's session to expire, so each time it catches
    up on a backlog. A backlog must be decided as the events happened (record-timestamp
    order across topics), exactly as without the crash."""
    prod = {"session_timeout_ms": 45_000, "heartbeat_interval_ms": 3_000}
    world.start("w0", **prod)
    load = Workload(skus=40, locations=2, seed=seed)  # scarce stock: order matters
    seed_world(world, load, qty=8, safety_stock=0, timestamps=True)

    def between(i: int) -> None:
        if i in (1, 5):
            # Killed again only once it owns its partitions: with two dead members the group
            # would give half of them to the second one until its session expired too, and
            # two owners never decide in one order (docs/processor.md, "Ordering").
            world.workers["w0"].wait_ready(timeout=180)
            world.restart("w0", wait=False)

    stream(world, load, 9_000, 150, between, seed=seed, in_order=True, duplicates=10)
    world.workers["w0"].wait_ready(timeout=180)
    world.quiesce(timeout=400)
    return verify.check_run(world.settings, in_order=True)


# --- a broker of its own (broker-restart) -----------------------------------------------------


class PrivateBroker:
    """A Kafka started by the project's launcher in a folder and on ports of its own, so a
    case can stop and start it without disturbing anyone else's broker."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "STOCKSIGNAL_LOCAL_DIR": str(root),
            "STOCKSIGNAL_LOCAL_KAFKA_PORT": str(harness.free_port()),
            "STOCKSIGNAL_LOCAL_CONTROLLER_PORT": str(harness.free_port()),
            "STOCKSIGNAL_LOCAL_REDIS_PORT": str(harness.free_port()),
        }
        self.bootstrap = f"127.0.0.1:{self.env['STOCKSIGNAL_LOCAL_KAFKA_PORT']}"

    def _ctl(self, *args: str) -> None:
        result = subprocess.run(
            [sys.executable, str(PLATFORMCTL), *args, "kafka"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"platformctl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )

    def up(self) -> PrivateBroker:
        # The jars are the same as the session broker's: copy them rather than fetch again.
        shared = REPO / ".local" / "kafka"
        mine = self.root / "kafka"
        if (shared / "libs").is_dir() and not (mine / "libs").exists():
            mine.mkdir(parents=True, exist_ok=True)
            shutil.copytree(shared / "libs", mine / "libs")
            shutil.copy(shared / "libs.sha256", mine / "libs.sha256")
        self._ctl("up")
        return self

    def restart(self, pause_s: float) -> None:
        self._ctl("down")
        time.sleep(pause_s)
        self._ctl("up")

    def down(self) -> None:
        self._ctl("down")


# --- running a case ---------------------------------------------------------------------------

CASES = {
    "pause": case_pause,
    "kills": case_kills,
    "simultaneous": case_simultaneous,
    "broker-restart": case_broker_restart,
    "join-leave-holds": case_join_leave_holds,
    "catch-up": case_catch_up,
}


def test_settings(base: Settings) -> Settings:
    """An isolated world with short session timeouts (a killed worker's partitions move in
    seconds; the production value is Kafka's 45 s) and small partition counts."""
    return harness.isolated_settings(
        base,
        input_partitions=3,
        command_partitions=4,
        output_partitions=3,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        expiry_tick_ms=200,
        transaction_timeout_ms=10_000,
        log_level="INFO",
    )


def run_case(name: str, seed: int, base: Settings, workdir: Path) -> verify.Report:
    workdir.mkdir(parents=True, exist_ok=True)
    broker = None
    try:
        if name == "broker-restart":
            broker = PrivateBroker(workdir / "broker").up()
            base = replace(base, kafka_bootstrap_servers=broker.bootstrap)
        world = World(test_settings(base), workdir)
        report = None
        try:
            if broker is not None:
                report = case_broker_restart(world, seed, broker)
            else:
                report = CASES[name](world, seed)
            return report
        finally:
            failed = report is None or not report.ok
            world.close(keep_topics=failed)
            if report is not None and failed:
                (workdir / "report.txt").write_text(
                    f"case {name} seed {seed}, topics {world.settings.topic_prefix}* kept\n\n"
                    + "\n".join(report.problems)
                    + f"\n\nfacts: {report.facts}\n"
                )
    finally:
        if broker is not None:  # its data stays in the workdir
            broker.down()
