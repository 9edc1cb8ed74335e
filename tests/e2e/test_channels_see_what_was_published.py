"""The whole chain: processor -> availability topic -> projector -> Redis -> storefront API,
and -> marketplace sync -> a marketplace. Both channels must end with exactly the final
availability the processor published, for every SKU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from stocksignal.bench import harness
from stocksignal.bench.workload import Workload
from tests.e2e import support

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

MARKETPLACE = "web"  # the workload's channel: the marketplace sells the same lines


def http(method: str, url: str, body: dict | None = None, timeout: float = 5.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except OSError:
        return 0, None


class Services:
    """The adapters as processes, the way they run in production (``stocksignal run ...``)."""

    def __init__(self, settings, tmp: Path) -> None:
        self.settings, self.tmp, self.procs = settings, tmp, []
        self.api_port, self.stub_port = harness.free_port(), harness.free_port()

    def start(self, name: str, *argv: str) -> None:
        env = {
            **os.environ,
            **self.settings.to_env(),
            "PYTHONUNBUFFERED": "1",
            "STOCKSIGNAL_MARKETPLACE_ALLOW_HTTP": "true",
        }  # the stub marketplace is plain HTTP
        log = open(self.tmp / f"{name}.log", "ab")
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", *argv], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )

    def start_all(self) -> None:
        self.start("stub", "stocksignal.demo.stub_marketplace", "--port", str(self.stub_port))
        cli = "stocksignal.cli.main"
        self.start("projector", cli, "run", "projector", "--metrics-port", str(harness.free_port()))
        self.start("api", cli, "run", "api", "--host", "127.0.0.1", "--port", str(self.api_port))
        self.start(
            "sync",
            cli,
            "run",
            "marketplace-sync",
            "--channel",
            MARKETPLACE,
            "--url",
            f"http://127.0.0.1:{self.stub_port}/updates",
            "--metrics-port",
            str(harness.free_port()),
        )

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait(10)

    def api_view(self, skus: list[str]) -> dict[str, dict]:
        out = {}
        for i in range(0, len(skus), 1000):
            status, body = http(
                "POST",
                f"http://127.0.0.1:{self.api_port}/availability/batch",
                {"skus": skus[i : i + 1000]},
            )
            if status != 200:
                return {}
            out.update({item["sku"]: item for item in body["items"]})
        return out

    def marketplace_view(self) -> dict[str, dict]:
        status, body = http("GET", f"http://127.0.0.1:{self.stub_port}/state")
        return body["channels"].get(MARKETPLACE, {}) if status == 200 else {}


def test_storefront_api_and_marketplace_end_with_what_the_processor_published(
    proc_settings, workers, producer, tmp_path
):
    settings = replace(
        proc_settings, redis_prefix=f"e2e-{uuid.uuid4().hex[:8]}:", marketplace_rate_per_s=50.0
    )
    services = Services(settings, tmp_path)
    services.start_all()
    try:
        workers()
        load = Workload(skus=200, locations=3, seed=31)
        now = int(time.time() * 1000)
        producer.send_all([load.channel(now, safety_stock=1), *load.seed_stock(10, now)])
        producer.send_all(load.stream(3000, now))
        support.wait_quiescent(proc_settings, proc_settings.app_id, timeout=240)
        published = support.Published.read(proc_settings).latest
        want = {
            sku: {c["channel_id"]: c["available"] for c in a["channels"]}
            for sku, a in published.items()
        }
        versions = {sku: a["version"] for sku, a in published.items()}
        skus = sorted(want)

        deadline = time.monotonic() + 120
        while True:
            api = services.api_view(skus)
            market = services.marketplace_view()
            api_ok = {s: (v["channels"], v["version"]) for s, v in api.items()} == {
                s: (want[s], versions[s]) for s in skus
            }
            market_ok = {s: v["available"] for s, v in market.items()} == {
                s: want[s][MARKETPLACE] for s in skus
            }
            if api_ok and market_ok:
                break
            assert time.monotonic() < deadline, (
                f"after 120 s: API matches {sum(1 for s in skus if s in api and api[s]['channels'] == want[s])}"
                f"/{len(skus)} SKUs, marketplace {sum(1 for s in skus if s in market and market[s]['available'] == want[s][MARKETPLACE])}"
                f"/{len(skus)}"
            )
            time.sleep(1)
        assert all(market[s]["version"] <= versions[s] for s in skus)
    finally:
        services.stop()
