"""Processor benchmark: CPU per event, throughput, scale-out, latency, memory, with a baseline.

    make bench                      # or: python -m stocksignal.bench processor [--quick]

1. **Baseline**: a raw confluent-kafka consume -> produce passthrough of the same number of
   records on the same broker, in one Python process: the practical ceiling of any Python
   stage on this machine; its CPU per record is measured like the worker's.
2. **One worker** drains a backlog of the realistic mix (bench/workload.py) on top of 10,000
   SKUs x 3 locations: input events/s from its first progress to its last applied command,
   and **CPU time per input event**: user + system time of the worker process (from
   ``/proc/<pid>/stat``) over the drain, which holds far better than wall time on a shared
   machine. The decision mix of the drain (reserved / rejected / fulfilled ...) is reported.
3. **Two workers** drain the same backlog on the same seeded state (a world of its own):
   the speed-up over one worker.
4. **Latency**: the mix at a steady 1,000 events/s; a read_committed consumer of the
   availability topic measures from each snapshot's cause ``occurred_at`` to when it sees it.
5. **Memory**: the worker's resident set after ``rss_skus`` SKUs x 3 locations are seeded.

Machines here are 2 cores and noisy: CPU per event and the ratios measured in the same run
are the figures to compare across machines.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Producer, TopicPartition

from stocksignal import bootstrap
from stocksignal.bench import harness
from stocksignal.bench.workload import Workload
from stocksignal.contract import topics as catalogue
from stocksignal.settings import Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (all its threads)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Drain:
    workers: int
    events: int
    commands: int
    seconds: float
    cpu_s: float
    decisions: dict[str, float] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6


@dataclass
class Result:
    baseline_rps: float
    baseline_cpu_us: float
    one: Drain
    two: Drain | None
    latency_ms: dict[str, float]
    rss_mib: dict[int, float]
    # Latency at half the capacity this run measured: when the machine cannot sustain the
    # target rate, the figure at the target rate is queueing, and this one is the pipeline's.
    latency_half_ms: dict[str, float] | None = None
    half_rate: int = 0

    @property
    def ratio(self) -> float:
        return self.one.events_per_s / self.baseline_rps

    @property
    def cpu_ratio(self) -> float:
        return self.one.cpu_us_per_event / self.baseline_cpu_us

    @property
    def speedup(self) -> float:
        return self.two.events_per_s / self.one.events_per_s if self.two else float("nan")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- baseline ------------------------------------------------------------------------------


def passthrough_baseline(settings: Settings, n: int, value_size: int = 160) -> tuple[float, float]:
    """(records/s, CPU µs per record) of consume -> produce in one Python process."""
    from confluent_kafka.admin import NewTopic

    src, dst = f"bench-src-{uuid.uuid4().hex[:8]}", f"bench-dst-{uuid.uuid4().hex[:8]}"
    admin = bootstrap.make_admin(settings)
    for f in admin.create_topics([NewTopic(t, 6, 1) for t in (src, dst)]).values():
        f.result(30)
    p = Producer(bootstrap.producer_config(settings, **{"linger.ms": 10}))
    value = b"x" * value_size
    for i in range(n):
        while True:
            try:
                p.produce(src, value, f"SKU-{i % 10000:05d}".encode())
                break
            except BufferError:
                p.poll(0.05)
    p.flush(60)
    c = Consumer(bootstrap.consumer_config(settings, f"bench-{uuid.uuid4().hex[:8]}"))
    c.subscribe([src])
    out = Producer(bootstrap.producer_config(settings))
    seen, cpu0 = 0, 0.0
    start: float | None = None
    while seen < n:
        for m in c.consume(500, 1.0):
            if m.error():
                continue
            if start is None:
                start, cpu0 = time.perf_counter(), cpu_seconds(os.getpid())
            while True:
                try:
                    out.produce(dst, m.value(), m.key())
                    break
                except BufferError:
                    out.poll(0.05)
            seen += 1
        out.poll(0)
    out.flush(60)
    assert start is not None  # n > 0 records were seen
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(os.getpid()) - cpu0
    c.close()
    admin.delete_topics([src, dst])
    return n / elapsed, cpu / n * 1e6


# --- worlds of workers ---------------------------------------------------------------------


class World:
    """Isolated topics, group and workers, seeded with the bench's stock."""

    def __init__(self, base: Settings, workers: int, skus: int = 10_000, seed: int = 11) -> None:
        self.settings = harness.isolated_settings(
            base, session_timeout_ms=10_000, heartbeat_interval_ms=1000
        )
        harness.create_topics(self.settings)
        self.dir = harness.workdir("stocksignal-bench-")
        self.workers = [
            harness.worker(self.settings, self.dir, f"w{i}").start() for i in range(workers)
        ]
        for w in self.workers:
            w.wait_ready()
        self.producer = harness.EventProducer(self.settings)
        self.load = Workload(skus=skus, locations=3, seed=seed)

    def metric(self, name: str) -> float:
        return sum(w.metric(name) for w in self.workers)

    def cpu(self) -> float:
        return sum(cpu_seconds(w.started.pid) for w in self.workers)

    def seed(self) -> None:
        now = int(time.time() * 1000)
        events = [self.load.channel(now)] + list(self.load.seed_stock(100, now))
        before = self.metric("stocksignal_commands_applied_total")
        self.producer.send_all(events)
        target = before + harness.expected_commands(events, self.settings.command_partitions)
        self._wait("stocksignal_commands_applied_total", target, 1800)

    def drain(self, n: int) -> Drain:
        applied = "stocksignal_commands_applied_total"
        before = self.metric(applied)
        decisions_before = self._decisions()
        events = list(self.load.stream(n, int(time.time() * 1000)))
        commands = harness.expected_commands(events, self.settings.command_partitions)
        cpu0, started = self.cpu(), time.monotonic()
        self.producer.send_all(events)
        samples = self._wait(applied, before + commands, 900)
        cpu = self.cpu() - cpu0
        first = next((t for t, v in samples if v > before), started)
        done = samples[-1][0]
        after = self._decisions()
        mix = {k: after.get(k, 0) - decisions_before.get(k, 0) for k in after}
        return Drain(
            len(self.workers), n, commands, max(done - min(first, started + 0.1), 1e-6), cpu, mix
        )

    def _decisions(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for w in self.workers:
            status, body = w.get("/metrics")
            for line in body.decode().splitlines() if status == 200 else ():
                if line.startswith("stocksignal_decisions_total{"):
                    label = line.split('status="', 1)[1].split('"', 1)[0]
                    totals[label] = totals.get(label, 0) + float(line.rsplit(" ", 1)[1])
        return totals

    def wait_caught_up(self, timeout: float = 600) -> float:
        """Wait until the workers have committed every record of their partitions (their
        lag gauge reads 0 twice running), so the next measurement does not start behind the
        queue the last one left. Returns the seconds waited (``timeout`` if never)."""
        started = time.monotonic()
        zeros = 0
        while time.monotonic() - started < timeout:
            zeros = zeros + 1 if self.metric("stocksignal_consumer_lag_records") == 0 else 0
            if zeros >= 2:
                break
            time.sleep(0.5)
        return time.monotonic() - started

    def _wait(self, metric: str, target: float, timeout: float) -> list[tuple[float, float]]:
        samples: list[tuple[float, float]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.metric(metric)
            samples.append((time.monotonic(), value))
            if value >= target:
                return samples
            for w in self.workers:
                if w.started.poll() is not None:
                    raise RuntimeError(f"worker died:\n{w.tail()}")
            time.sleep(0.5)  # a scrape costs the worker CPU: twice a second is enough
        raise TimeoutError(f"{metric} stuck at {samples[-1][1]} < {target}")

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        harness.delete_topics(self.settings)


def latency(
    settings: Settings, load: Workload, rate: int, seconds: int, warmup: int = 5
) -> dict[str, float]:
    topic = settings.topic_prefix + catalogue.AVAILABILITY
    codec = bootstrap.make_codec(settings)
    lat: list[float] = []
    stop = threading.Event()
    ready = threading.Event()
    measure_from = time.time() + warmup

    def consume() -> None:
        c = Consumer(
            bootstrap.consumer_config(
                settings,
                f"bench-lat-{uuid.uuid4().hex[:8]}",
                **{"auto.offset.reset": "latest", "fetch.wait.max.ms": 10},
            )
        )
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        ends = [
            TopicPartition(
                topic, p, c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            )
            for p in parts
        ]
        c.assign(ends)
        ready.set()
        while not stop.is_set():
            for m in c.consume(500, 0.1):
                if m.error():
                    continue
                seen = time.time()
                _, rec = codec.decode(m.value())
                if seen >= measure_from:
                    lat.append(seen * 1000 - rec["occurred_at"])
        c.close()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    ready.wait(30)
    producer = harness.EventProducer(settings)
    producer.producer = Producer(bootstrap.producer_config(settings, **{"linger.ms": 1}))
    start = time.time()
    for i in range(rate * seconds):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        producer.send(load.next(int(time.time() * 1000)))
        producer.producer.poll(0)
    producer.flush()
    time.sleep(3)  # let the last snapshots arrive
    stop.set()
    t.join(10)
    return {
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": max(lat or [float("nan")]),
        "samples": len(lat),
    }


def memory(base: Settings, skus: int, locations: int = 3, traffic: int = 30_000) -> float:
    """RSS (MiB) of one worker holding ``skus`` SKUs x ``locations`` locations.

    The state is written straight to the stock changelog (what a worker that decided it would
    have written: one envelope per SKU), so a million SKUs take a minute, not the hours a
    million receipts would; the worker restores it like any takeover, then decides
    ``traffic`` events over those SKUs (its caches fill), and its resident set is read."""
    from stocksignal.contract import partition_for
    from stocksignal.domain import Position, SkuState
    from stocksignal.processor.envelope import Envelope
    from stocksignal.processor.topology import STOCK_STORE, changelog_topic

    settings = harness.isolated_settings(
        base, session_timeout_ms=10_000, heartbeat_interval_ms=1000
    )
    harness.create_topics(settings)
    topic = changelog_topic(settings, STOCK_STORE)
    producer = Producer(
        bootstrap.producer_config(settings, **{"linger.ms": 50, "batch.num.messages": 10000})
    )
    load = Workload(skus=skus, locations=locations, seed=11)
    for i in range(skus):
        sku = load.sku(i)
        positions = {load.location(loc): Position(on_hand=100) for loc in range(locations)}
        value = Envelope(SkuState(sku, 1, 0, positions), 0, 0).to_bytes()
        partition = partition_for(sku, settings.command_partitions)
        while True:
            try:
                producer.produce(topic, value, sku.encode(), partition)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
    wd = harness.workdir("stocksignal-bench-rss-")
    w = harness.worker(settings, wd).start()
    try:
        w.wait_ready(timeout=1800)
        events = harness.EventProducer(settings)
        events.send_all(load.stream(traffic, int(time.time() * 1000)))
        world_metric = "stocksignal_events_in_total"
        deadline = time.monotonic() + 900
        while w.metric(world_metric) < traffic and time.monotonic() < deadline:
            time.sleep(0.5)
        return rss_mib(w.started.pid)
    finally:
        w.stop()
        harness.delete_topics(settings)


def drain_only(base: Settings, events: int = 60_000) -> Drain:
    """Step 2 of :func:`run` alone: one worker, the same seeded stock, the same backlog. A
    minute instead of the whole bench, for comparing code by its CPU per input event."""
    world = World(base, 1)
    try:
        print("one worker: seeding 10,000 SKUs x 3 locations ...", flush=True)
        world.seed()
        print(f"one worker: draining a backlog of {events:,} mixed events ...", flush=True)
        return world.drain(events)
    finally:
        world.stop()


def run(
    base: Settings,
    events: int = 60_000,
    rate: int = 1000,
    seconds: int = 30,
    baseline_n: int = 100_000,
    scale_out: bool = True,
    rss_skus: tuple[int, ...] = (100_000,),
) -> Result:
    print(
        f"baseline: raw confluent-kafka consume->produce of {baseline_n:,} records ...", flush=True
    )
    baseline, baseline_cpu = passthrough_baseline(base, baseline_n)
    print(f"  {baseline:,.0f} records/s, {baseline_cpu:.1f} µs CPU per record", flush=True)
    one_world = World(base, 1)
    try:
        print("one worker: seeding 10,000 SKUs x 3 locations ...", flush=True)
        one_world.seed()
        print(f"one worker: draining a backlog of {events:,} mixed events ...", flush=True)
        one = one_world.drain(events)
        print(
            f"  {one.events_per_s:,.0f} events/s, {one.cpu_us_per_event:.0f} µs CPU per event",
            flush=True,
        )
        print(f"latency: {rate} events/s for {seconds}s ...", flush=True)
        lat = latency(one_world.settings, one_world.load, rate, seconds)
        print(
            f"  p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms ({lat['samples']} snapshots)",
            flush=True,
        )
        half_rate, lat_half = int(one.events_per_s / 2), None
        if half_rate < rate:
            # The run at the full rate may have left a queue: measured behind it, this run's
            # figure would be that queue again, not the pipeline's.
            waited = one_world.wait_caught_up()
            print(
                f"latency: {half_rate} events/s (half this run's capacity) for {seconds}s, "
                f"after {waited:.0f} s catching up ...",
                flush=True,
            )
            lat_half = latency(one_world.settings, one_world.load, half_rate, seconds)
            print(
                f"  p50 {lat_half['p50']:.0f} ms, p99 {lat_half['p99']:.0f} ms ({lat_half['samples']} snapshots)",
                flush=True,
            )
    finally:
        one_world.stop()
    two = None
    if scale_out:
        two_world = World(base, 2)
        try:
            print("two workers: seeding the same stock, draining the same backlog ...", flush=True)
            two_world.seed()
            two = two_world.drain(events)
            print(
                f"  {two.events_per_s:,.0f} events/s, {two.cpu_us_per_event:.0f} µs CPU per event",
                flush=True,
            )
        finally:
            two_world.stop()
    rss = {}
    for n in rss_skus:
        print(f"memory: one worker holding {n:,} SKUs x 3 locations ...", flush=True)
        rss[n] = memory(base, n)
        print(f"  RSS {rss[n]:,.0f} MiB", flush=True)
    return Result(baseline, baseline_cpu, one, two, lat, rss, lat_half, half_rate)
