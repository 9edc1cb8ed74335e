"""Benchmark of the storefront read API: single-SKU GETs at a fixed rate, with a Redis baseline.

    python -m stocksignal.bench.api [--rate 200] [--duration 30] [--skus 10000] [--channel default]

Starts the API (``stocksignal run api``) as a process of its own on loopback against
``REDIS_URL``, seeds ``--skus`` SKUs under a throwaway key prefix, then drives the API from this
process with an *open-loop* schedule: request i is due at start + i/rate whether or not earlier
ones have answered, and its latency counts from that due time, so a stall shows up in the
figures instead of silently lowering the rate (coordinated omission). Interleaved half a period
later, the same schedule sends the Redis command the API itself runs for such a GET straight
to Redis from this process: the baseline, which shows what HTTP, aiohttp and JSON add.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import redis

from stocksignal import bootstrap
from stocksignal.adapters.keys import Keys, channel_field
from stocksignal.adapters.read_model import ReadModelWriter
from stocksignal.adapters.rebuild import claim_rebuild
from stocksignal.adapters.snapshot import snapshot_of
from stocksignal.contract.examples import example
from stocksignal.secret import redact_url
from stocksignal.settings import Settings

TARGET_P99_MS = 5.0
WARMUP_S = 2.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Samples:
    name: str
    latencies_ms: list[float] = field(default_factory=list)  # from the due time: what counts
    service_ms: list[float] = field(default_factory=list)  # from the actual send
    errors: int = 0

    def record(self, due: float, sent: float, ok: bool) -> None:
        if not ok:
            self.errors += 1
            return
        now = time.perf_counter()
        self.latencies_ms.append((now - due) * 1000)
        self.service_ms.append((now - sent) * 1000)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def lines(self) -> str:
        def row(label: str, values: list[float]) -> str:
            return (
                f"  {label:<14} p50={percentile(values, 0.50):6.3f} ms  p90={percentile(values, 0.90):6.3f} ms  "
                f"p99={percentile(values, 0.99):6.3f} ms  max={max(values, default=float('nan')):7.3f} ms"
            )

        return "\n".join(
            [
                f"{self.name}: n={len(self.latencies_ms)} errors={self.errors}",
                row("from due time", self.latencies_ms),
                row("from send", self.service_ms),
            ]
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stocksignal.bench.api", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests per second (default 200)"
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="measured seconds (default 30)"
    )
    parser.add_argument(
        "--skus", type=int, default=10_000, help="SKUs seeded in Redis (default 10000)"
    )
    parser.add_argument(
        "--channel", default="default", help='channel asked for; "" asks for every channel'
    )
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(client: redis.Redis, keys: Keys, skus: int) -> list[str]:
    names = [f"BENCH-{i:06d}" for i in range(skus)]
    writer = ReadModelWriter(client, keys)
    for start in range(0, skus, 1000):
        records = []
        for i, sku in enumerate(names[start : start + 1000], start):
            record = example("AvailabilityChanged")
            record.update(sku=sku, version=1)
            record["channels"][0]["available"] = i % 50
            records.append(snapshot_of(record))
        writer.write(records)
    claim_rebuild(client, keys, client.info("server")["run_id"], {})  # built: not rebuilding
    return names


def start_api(settings: Settings, prefix: str, port: int) -> subprocess.Popen:
    # The whole settings (Redis TLS and login included), with the benchmark's prefix.
    env = {
        **os.environ,
        **settings.to_env(),
        "STOCKSIGNAL_REDIS_PREFIX": prefix,
        "STOCKSIGNAL_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stocksignal.cli.main",
            "run",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
    )


async def wait_ready(
    session: aiohttp.ClientSession, base: str, api: subprocess.Popen, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"the API exited with {api.returncode} before it was ready")
        try:
            async with session.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"the API was not ready within {timeout}s")


async def drive(
    args: argparse.Namespace, base: str, skus: list[str], aredis, keys: Keys
) -> tuple[Samples, Samples, list[float]]:
    api, baseline = Samples("api"), Samples("baseline")
    lateness_ms: list[float] = []  # how late this process woke up to send: its own stalls
    query = f"?channel={args.channel}" if args.channel else ""
    fields = ("version", channel_field(args.channel)) if args.channel else ()
    rng = random.Random(1)
    period = 1.0 / args.rate
    total = int((WARMUP_S + args.duration) * args.rate)
    tasks: set[asyncio.Task] = set()  # only the pending ones: a growing heap would slow the GC
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(due: float, sku: str, record: bool) -> None:
            sent = time.perf_counter()
            try:
                async with session.get(f"{base}/availability/{sku}{query}") as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if record:
                api.record(due, sent, ok)

        async def raw(due: float, sku: str, record: bool) -> None:
            sent = time.perf_counter()
            try:
                if fields:
                    await aredis.hmget(keys.availability(sku), *fields)
                else:
                    await aredis.hgetall(keys.availability(sku))
                ok = True
            except redis.RedisError:
                ok = False
            if record:
                baseline.record(due, sent, ok)

        def launch(coro) -> None:
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        # The load generator's own pauses would be charged to the API: no cyclic GC while it runs.
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            start = time.perf_counter() + 0.1
            for i in range(total):
                due = start + i * period
                record = i >= WARMUP_S * args.rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if record:
                    lateness_ms.append((time.perf_counter() - due) * 1000)
                launch(get(due, rng.choice(skus), record))
                due_raw = due + period / 2
                await asyncio.sleep(max(0.0, due_raw - time.perf_counter()))
                launch(raw(due_raw, rng.choice(skus), record))
            await asyncio.gather(*tasks)
        finally:
            gc.enable()
    return api, baseline, lateness_ms


async def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    keys = Keys(prefix)
    client = bootstrap.make_redis(settings, decode_responses=True)
    skus = seed(client, keys, args.skus)
    port = free_port()
    api = start_api(settings, prefix, port)
    aredis = bootstrap.make_async_redis(settings, decode_responses=True)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, base, api)
        what = f"GET /availability/{{sku}}{'?channel=' + args.channel if args.channel else ''}"
        print(
            f"{what} at {args.rate:g}/s for {args.duration:g}s (+{WARMUP_S:g}s warm-up), open loop, "
            f"{args.skus} SKUs, Redis {redact_url(settings.redis_url)}"
        )
        api_samples, base_samples, lateness = await drive(args, base, skus, aredis, keys)
    finally:
        api.terminate()
        api.wait(10)
        await aredis.aclose()
        for batch_start in range(0, len(skus), 1000):
            client.delete(*[keys.availability(s) for s in skus[batch_start : batch_start + 1000]])
        client.delete(keys.projector_meta)
    print(api_samples.lines())
    print(
        base_samples.lines().replace(
            "baseline:", "baseline (the API's Redis command, sent straight from this process):", 1
        )
    )
    print(
        f"client wake-up lateness (stalls of this process, in every figure above): "
        f"p50={percentile(lateness, 0.5):.3f} ms p99={percentile(lateness, 0.99):.3f} ms "
        f"max={max(lateness, default=float('nan')):.3f} ms"
    )
    p99 = api_samples.percentile(0.99)
    verdict = "met" if p99 <= TARGET_P99_MS and not api_samples.errors else "MISSED"
    print(f"target: p99 <= {TARGET_P99_MS:g} ms from the due time: {verdict} (p99 {p99:.3f} ms)")
    print(
        f"ratio api/baseline (from due time): p50 x{api_samples.percentile(0.5) / base_samples.percentile(0.5):.2f}, "
        f"p99 x{p99 / base_samples.percentile(0.99):.2f}"
    )
    print(
        f"reproduce: REDIS_URL={redact_url(settings.redis_url)} python -m stocksignal.bench.api "
        f"--rate {args.rate:g} --duration {args.duration:g} --skus {args.skus}"
    )
    return 0 if verdict == "met" else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
