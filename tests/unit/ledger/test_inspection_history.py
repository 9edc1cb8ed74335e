"""The inspection API's answers for the past, without Kafka: time parameters, the as-of shape,
and that a slow ledger read never blocks the aiohttp loop."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from stocksignal.domain import ChannelBook, Position, SkuState, split
from stocksignal.ledger.balances import Moved
from stocksignal.ledger.book import ChannelChange, book_at
from stocksignal.ledger.history import LedgerSpan, NotRetained, StockAt, Window
from stocksignal.ledger.kafka import LedgerUnavailable
from stocksignal.processor.envelope import Envelope, sku_key
from stocksignal.processor.inspection_history import BadTime, stock_at_json, time_param, window_json
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.web import Inspection, make_app

SPAN = LedgerSpan("inventory.movements.v1", 0, 0, None, True)


def test_time_parameters_take_every_spelling_and_refuse_the_future():
    now = int(time.time() * 1000)
    assert time_param({"at": "1700000000000"}, "at") == 1_700_000_000_000
    assert time_param({"at": "2026-01-01T14:00:00+01:00"}, "at") == 1767272400000
    assert abs(time_param({"at": "-2h"}, "at") - (now - 7_200_000)) < 5000
    assert time_param({}, "at") is None and time_param({}, "until", default=5) == 5
    with pytest.raises(BadTime, match="no UTC offset"):
        time_param({"at": "2026-01-01T14:00:00"}, "at")
    with pytest.raises(BadTime, match="in the future"):
        time_param({"at": "+1h"}, "at")


def _stock_at(at: int = 1000) -> StockAt:
    (command,) = split(
        "ChannelConfigured",
        {
            "event_id": "e1",
            "occurred_at": 10,
            "channel_id": "web",
            "location_ids": ["HAM"],
            "safety_stock": 1,
        },
        logged_at=10,
    )
    change = ChannelChange(10, command)
    return StockAt(
        "MUG",
        at,
        {
            "HAM": {
                "on_hand": 5,
                "reserved": 2,
                "picked": 0,
                "damaged": 0,
                "quality_hold": 0,
                "pending_inspection": 0,
                "inbound": 0,
            }
        },
        {"reserved": {"HAM": {"W-1": 2}}, "picked": {}, "inbound": {}},
        book_at([change], at),
        {"web": 10},
        SPAN,
        3,
        None,
    )


def test_the_as_of_answer_has_the_shape_of_the_current_one_where_the_ledger_can_say_it():
    answer = stock_at_json(_stock_at(), partition=2)
    assert answer["positions"]["HAM"]["sellable"] == 3
    assert answer["channels"]["web"] == {
        "available": 2,
        "locations": ["HAM"],
        "safety_stock": 1,
        "buffer_percent": 0,
        "max_available": None,
        "low_stock_threshold": 0,
        "configured": True,
    }
    assert answer["channels"]["default"]["available"] == 3
    assert answer["reserved_by_order"] == {"HAM": {"W-1": 2}} and answer["partition"] == 2
    assert "open_reservations" not in answer and "version" not in answer
    assert answer["ledger"]["complete"] is True and answer["movements_up_to_at"] == 3


def test_a_window_answer_lists_movements_oldest_first_with_their_log_time():
    m = Moved(
        500,
        4,
        {"sku": "MUG", "location_id": "HAM", "bucket": "ON_HAND", "delta": 2, "balance_after": 2},
    )
    answer = window_json(Window("MUG", 1, 600, [m], {"HAM": {"on_hand": 2}}, 1, SPAN))
    assert answer["movements"][0]["logged_at"] == 500 and answer["newest_first"] is False
    assert answer["net_change"] == {"HAM": {"on_hand": 2}} and answer["truncated"] is False


class _Store:
    def __init__(self, state: SkuState) -> None:
        self.values = {sku_key(state.sku): Envelope(state, 5, 0).to_bytes()}

    def committed(self, key: bytes):
        return self.values.get(key)


class _Runtime:
    def __init__(self, store) -> None:
        self.serving = {0: store}

    def ready(self) -> bool:
        return True


class _SlowLedger:
    """Answers after a second, on whichever thread calls it (recorded)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.executor = ThreadPoolExecutor(1)
        self.threads: list[str] = []
        self.fail = fail

    def stock_at(self, sku, at, current):
        self.threads.append(threading.current_thread().name)
        time.sleep(1.0)
        if self.fail:
            raise self.fail
        assert current == {
            "HAM": {
                "on_hand": 5,
                "reserved": 0,
                "picked": 0,
                "damaged": 0,
                "quality_hold": 0,
                "pending_inspection": 0,
                "inbound": 0,
            }
        }
        return _stock_at(at)


def _serve(ledger):
    from aiohttp.test_utils import TestClient, TestServer

    state = SkuState("MUG", version=3, positions={"HAM": Position(on_hand=5)})
    inspection = Inspection(
        _Runtime(_Store(state)),
        owners=None,
        partitions=1,
        history_size=4,
        self_url="x",
        ledger=ledger,
    )
    return TestClient(TestServer(make_app(inspection, ProcessorMetrics(), lambda: None)))


def test_a_slow_ledger_read_runs_off_the_loop_while_the_api_keeps_answering():
    ledger = _SlowLedger()

    async def scenario():
        async with _serve(ledger) as client:
            slow = asyncio.create_task(client.get("/skus/MUG?at=-1m"))
            await asyncio.sleep(0.1)
            started = time.monotonic()
            health = await client.get("/healthz")
            quick = time.monotonic() - started
            current = await client.get("/skus/MUG")
            answer = await slow
            return health.status, quick, current.status, answer.status, await answer.json()

    health, quick, current, status, body = asyncio.run(scenario())
    assert health == 200 and quick < 0.5, f"/healthz took {quick:.2f}s while the ledger was read"
    assert current == 200
    assert status == 200 and body["channels"]["web"]["available"] == 2
    assert ledger.threads and ledger.threads[0] != threading.main_thread().name


@pytest.mark.parametrize(
    "fail, status, error",
    [
        (NotRetained("the ledger no longer covers that time"), 422, "not_retained"),
        (LedgerUnavailable("no Kafka"), 503, "ledger_unavailable"),
    ],
)
def test_ledger_failures_have_their_own_answers(fail, status, error):
    async def scenario():
        async with _serve(_SlowLedger(fail)) as client:
            r = await client.get("/skus/MUG?at=-1m")
            return r.status, await r.json()

    got, body = asyncio.run(scenario())
    assert got == status and body["error"] == error


@pytest.mark.parametrize(
    "path, says",
    [
        ("/skus/MUG?at=soon", "is not a time"),
        ("/skus/MUG/movements?since=-1h&until=-2h", "until is before since"),
        ("/skus/MUG/movements?since=-1h&limit=10001", "limit must be in 1..10000"),
    ],
)
def test_bad_time_parameters_are_400(path, says):
    async def scenario():
        async with _serve(_SlowLedger()) as client:
            r = await client.get(path)
            return r.status, await r.json()

    status, body = asyncio.run(scenario())
    assert status == 400 and says in body["message"]


def test_an_unknown_sku_is_404_also_in_the_past():
    async def scenario():
        async with _serve(_SlowLedger()) as client:
            r = await client.get("/skus/NOPE?at=-1m")
            return r.status

    assert asyncio.run(scenario()) == 404


def test_the_book_is_empty_before_any_channel_change():
    assert book_at([], 10**13) == ChannelBook()
