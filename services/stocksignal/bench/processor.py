"""Processor benchmark: sustained throughput, latency at a fixed rate, and a raw baseline.

    make bench                      # or: python -m stocksignal.bench processor

1. **Baseline**: a raw confluent-kafka consume -> produce passthrough of the same number of
   records on the same broker, in one Python process: the practical ceiling of any Python
   stage on this machine. Reported as records/s.
2. **Throughput**: 10,000 SKUs x 3 locations are seeded, then a backlog of the realistic mix
   (bench/workload.py) is produced and one worker processes it; input events/s from its first
   routed event to its last applied command.
3. **Latency**: the mix at a steady 1,000 events/s; a consumer of the availability topic
   measures from each snapshot's cause ``occurred_at`` to when the consumer sees it.

Machines here are 2 cores and noisy: the ratio to the baseline, measured in the same run,
is the figure to compare across machines.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer, TopicPartition

from stocksignal import bootstrap
from stocksignal.bench import harness
from stocksignal.bench.workload import Workload
from stocksignal.contract import topics as catalogue
from stocksignal.settings import Settings


@dataclass
class Result:
    baseline_rps: float
    events: int
    commands: int
    seconds: float
    latency_ms: dict[str, float]

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def ratio(self) -> float:
        return self.events_per_s / self.baseline_rps


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- baseline ------------------------------------------------------------------------------


def passthrough_baseline(settings: Settings, n: int, value_size: int = 160) -> float:
    """Records/s of consume -> produce in one Python process with confluent-kafka."""
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
    seen, start = 0, None
    while seen < n:
        for m in c.consume(500, 1.0):
            if m.error():
                continue
            start = start or time.perf_counter()
            while True:
                try:
                    out.produce(dst, m.value(), m.key())
                    break
                except BufferError:
                    out.poll(0.05)
            seen += 1
        out.poll(0)
    out.flush(60)
    elapsed = time.perf_counter() - start
    c.close()
    admin.delete_topics([src, dst])
    return n / elapsed


# --- processor -----------------------------------------------------------------------------


def seed(w: harness.Worker, producer: harness.EventProducer, load: Workload, partitions: int) -> None:
    now = int(time.time() * 1000)
    events = [load.channel(now)] + list(load.seed_stock(100, now))
    producer.send_all(events)
    target = harness.expected_commands(events, partitions)
    harness.Progress().wait_for(w, "stocksignal_commands_applied_total", target, timeout=600)


def throughput(w: harness.Worker, producer: harness.EventProducer, load: Workload, n: int, partitions: int):
    before = w.metric("stocksignal_commands_applied_total")
    events = list(load.stream(n, int(time.time() * 1000)))
    commands = harness.expected_commands(events, partitions)
    started = time.monotonic()
    producer.send_all(events)
    progress = harness.Progress()
    done = progress.wait_for(w, "stocksignal_commands_applied_total", before + commands, timeout=900, interval=0.1)
    # Start: the first poll that saw any progress (the backlog starts arriving at once).
    first = next((t for t, v in progress.samples if v > before), started)
    return n, commands, max(done - min(first, started + 0.1), 1e-6)


def latency(settings: Settings, load: Workload, rate: int, seconds: int, warmup: int = 5) -> dict[str, float]:
    topic = settings.topic_prefix + catalogue.AVAILABILITY
    codec = bootstrap.make_codec(settings)
    lat: list[float] = []
    stop = threading.Event()
    ready = threading.Event()
    measure_from = time.time() + warmup

    def consume() -> None:
        c = Consumer(bootstrap.consumer_config(settings, f"bench-lat-{uuid.uuid4().hex[:8]}", **{"auto.offset.reset": "latest", "fetch.wait.max.ms": 10}))
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        ends = [TopicPartition(topic, p, c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]) for p in parts]
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
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": max(lat or [float("nan")]), "samples": len(lat)}


def run(base: Settings, events: int = 60_000, rate: int = 1000, seconds: int = 30, baseline_n: int = 100_000) -> Result:
    settings = harness.isolated_settings(base, session_timeout_ms=10_000, heartbeat_interval_ms=1000)
    print(f"baseline: raw confluent-kafka consume->produce of {baseline_n} records ...", flush=True)
    baseline = passthrough_baseline(settings, baseline_n)
    print(f"  {baseline:,.0f} records/s", flush=True)
    harness.create_topics(settings)
    wd = harness.workdir("stocksignal-bench-")
    w = harness.worker(settings, wd).start()
    try:
        w.wait_ready()
        producer = harness.EventProducer(settings)
        load = Workload(skus=10_000, locations=3, seed=11)
        print("seeding 10,000 SKUs x 3 locations ...", flush=True)
        seed(w, producer, load, settings.command_partitions)
        print(f"throughput: a backlog of {events:,} mixed events ...", flush=True)
        n, commands, secs = throughput(w, producer, load, events, settings.command_partitions)
        print(f"  {n / secs:,.0f} events/s ({commands / secs:,.0f} commands/s) in {secs:.1f}s", flush=True)
        print(f"latency: {rate} events/s for {seconds}s ...", flush=True)
        lat = latency(settings, load, rate, seconds)
        print(f"  p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms ({lat['samples']} snapshots)", flush=True)
    finally:
        w.stop()
    return Result(baseline, n, commands, secs, lat)
