"""The demo's expectations: after each step, and at the end of the day.

At the end the same numbers are read three ways: the storefront API (via the projector's
Redis), the marketplace stub's last received values, and the processor's ``/skus/{sku}``; and
the run's outputs are held to the rules every end-to-end test holds them to
(stocksignal.bench.invariants: the ledger explains every bucket, nothing is ever oversold).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stocksignal.bench import invariants
from stocksignal.bench.probes import http_get
from stocksignal.demo import channels_part, script
from stocksignal.demo.view import PlainView

if TYPE_CHECKING:  # pragma: no cover
    from stocksignal.demo.story import Demo

SETTLE_TIMEOUT_S = 30.0


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


def fmt_channels(available: Mapping[str, int]) -> str:
    return " · ".join(f"{c} {n}" for c, n in sorted(available.items()))


def fmt_buckets(buckets: Mapping[str, int]) -> str:
    return " ".join(
        f"{k}={v}" for k, v in buckets.items() if v or k in ("on_hand", "reserved", "sellable")
    )


def check_step(demo: Demo, step: script.Step, ids: list[str]) -> None:
    """A step's availability as published, its decisions, and its stock-level signals."""
    checks, view, reader = demo.checks, demo.view, demo.reader
    for sku, expected in step.expect.items():
        latest = reader.latest.get(sku)
        actual = {c["channel_id"]: c["available"] for c in latest["channels"]} if latest else {}
        checks.add(
            actual == expected,
            f"{sku}: {fmt_channels(expected)}"
            + ("" if actual == expected else f"  — published: {fmt_channels(actual)}"),
            view,
        )
    decisions = [d for d in reader.decisions() if d["cause_event_id"] in set(ids)]
    for text, check in step.checks:
        problem = check(decisions)
        checks.add(problem is None, text + ("" if problem is None else f"  — {problem}"), view)
    channels_part.check_levels(demo, step, ids)


def final_checks(demo: Demo) -> None:
    view, checks = demo.view, demo.checks
    steps = len(script.steps())
    view.step(
        steps + 1,
        script.total_sections(),
        "18:30",
        "Closing: is every number right?",
        "The same numbers, read three ways: the storefront API (Redis, written by the projector), "
        "the marketplace (pushed by the sync worker), and the processor's own state.",
    )
    versions = _check_processor(demo)
    for sku in script.SKUS:
        got = poll_api(demo.urls()["api"], sku, versions.get(sku, 0))
        expected = script.FINAL_AVAILABILITY[sku]
        checks.add(
            got == expected,
            f"storefront API /availability/{sku}: {fmt_channels(got or {})}"
            + ("" if got == expected else f"  — expected {fmt_channels(expected)}"),
            view,
        )
    stub = poll_stub(demo.urls()["stub"])
    for sku, wanted in script.FINAL_MARKETPLACE.items():
        received = stub.get(sku, {}).get("available")
        checks.add(
            received == wanted,
            f"marketplace stub last received {sku}: {received}"
            + ("" if received == wanted else f"  — expected {wanted}"),
            view,
        )
    demo.traffic.wait_until("the output topics to be read to their end", demo.reader.caught_up)
    check_outputs(demo)


def _check_processor(demo: Demo) -> dict[str, int]:
    """The processor's own state of each SKU; returns the versions it has."""
    view, checks = demo.view, demo.checks
    versions = {}
    for sku in script.SKUS:
        status, state = http_get(f"{demo.urls()['processor']}/skus/{sku}")
        if status != 200:
            checks.add(False, f"processor /skus/{sku} answered {status}", view)
            continue
        versions[sku] = state["version"]
        actual = {c: ch["available"] for c, ch in state["channels"].items()}
        checks.add(
            actual == script.FINAL_AVAILABILITY[sku],
            f"processor /skus/{sku}: {fmt_channels(actual)}",
            view,
        )
        positions = state["positions"]
        if sku == script.MUG:
            checks.add(
                positions == script.FINAL_MUG_POSITIONS,
                f"processor /skus/{sku}: buckets "
                + "; ".join(f"{loc} {fmt_buckets(b)}" for loc, b in positions.items()),
                view,
            )
        else:
            totals = {k: sum(p[k] for p in positions.values()) for k in script.FINAL_LAMP_TOTALS}
            checks.add(
                totals == script.FINAL_LAMP_TOTALS,
                f"processor /skus/{sku}: totals {fmt_buckets(totals)}",
                view,
            )
    return versions


def check_outputs(demo: Demo) -> None:
    """The rules of every run (stocksignal.bench.invariants), and no event in the DLQ."""
    reader, view = demo.reader, demo.view
    movements = reader.movements()
    problems = invariants.ledger_problems(movements, reader.latest)
    count = len({m["movement_id"] for m in movements})
    demo.checks.add(
        not problems,
        f"the ledger explains every bucket: {count} movements sum to the "
        "published balances" + (f"  — {'; '.join(problems[:3])}" if problems else ""),
        view,
    )
    snapshots = reader.snapshots()
    oversold = invariants.oversell_problems(snapshots)
    demo.checks.add(
        not oversold,
        f"never oversold: reserved <= on_hand in all {len(snapshots)} "
        "published snapshots" + (f"  — {'; '.join(oversold[:3])}" if oversold else ""),
        view,
    )
    n = len(reader.records["dlq"])
    demo.checks.add(n == 0, f"no event of the day went to the DLQ ({n})", view)


def poll_api(
    api: str, sku: str, version: int, timeout: float = SETTLE_TIMEOUT_S
) -> dict[str, int] | None:
    """The storefront API's channels once it serves the processor's version."""
    url = f"{api}/availability/{urllib.parse.quote(sku, safe='')}"
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


def poll_stub(stub: str, timeout: float = SETTLE_TIMEOUT_S) -> dict[str, Any]:
    """The marketplace's values once they equal the expected ones (or after the timeout)."""
    deadline = time.monotonic() + timeout
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = http_get(stub + "/state")
        if status == 200:
            got = body["channels"].get(script.MARKETPLACE, {})
            if all(
                got.get(s, {}).get("available") == v for s, v in script.FINAL_MARKETPLACE.items()
            ):
                return got
        time.sleep(0.2)
    return got
