"""The operator's page without Kafka: the numbers are the inspection API's, the login cookie
works only under /ui, a SKU of another worker is rendered from that worker's answer, every
value is escaped, and the DLQ's cursor neither skips nor repeats a record."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocksignal.domain import InMemoryInventory
from stocksignal.processor.dlq_view import DeadLetter, format_cursor, parse_cursor, take
from stocksignal.processor.envelope import BookEnvelope, Envelope, book_key, history_key, sku_key
from stocksignal.processor.metrics import ProcessorMetrics
from stocksignal.processor.web import Inspection, make_app
from stocksignal.web.html import Html, el
from stocksignal.web.tokens import hash_token

TOKEN = "s3cret-token-for-the-page"
HISTORY = 32


class _Store:
    def __init__(self, values: dict[bytes, bytes]) -> None:
        self.values = values

    def committed(self, key: bytes):
        return self.values.get(key)


class _Runtime:
    def __init__(self, store) -> None:
        self.serving = {0: store} if store is not None else {}

    def ready(self) -> bool:
        return True


class _Owners:
    def __init__(self, url: str | None) -> None:
        self.url = url

    def url_of(self, partition: int) -> str | None:
        return self.url


def _shop_store(sku: str = "MUG", receipts: int = 0) -> _Store:
    """A partition store as the applier leaves it, made by the domain's reference model;
    ``receipts`` more one-unit receipts at BER make a longer ledger."""
    shop = InMemoryInventory()
    slots, seq = {}, 0
    events = [
        ("ChannelConfigured", dict(channel_id="web", location_ids=["BER", "HAM"], safety_stock=1)),
        ("StockReceived", dict(sku=sku, location_id="BER", qty=10, reference=None)),
        ("StockReceived", dict(sku=sku, location_id="HAM", qty=4, reference=None)),
        (
            "OrderPlaced",
            dict(
                order_id="W-1",
                channel_id="web",
                lines=[{"sku": sku, "qty": 3}],
                hold_expires_at=None,
            ),
        ),
    ] + [
        ("StockReceived", dict(sku=sku, location_id="BER", qty=1, reference=f"R-{i}"))
        for i in range(receipts)
    ]
    for name, fields in events:
        for outcome in shop.post(name, **fields):
            if outcome.movements:
                slots[history_key(sku, seq % HISTORY)] = orjson.dumps(
                    [seq, [m.to_record() for m in outcome.movements]]
                )
                seq += 1
    values = {
        sku_key(sku): Envelope(shop.state(sku), 7, seq).to_bytes(),
        book_key(0): BookEnvelope(shop.book(sku)).to_bytes(),
        **slots,
    }
    return _Store(values)


def _app(store, digests=(), owner_url=None, self_url="http://self"):
    inspection = Inspection(
        _Runtime(store), _Owners(owner_url), partitions=1, history_size=HISTORY, self_url=self_url
    )
    return make_app(inspection, ProcessorMetrics(), lambda: None, digests)


class _Cells(HTMLParser):
    """Every ``data-field`` cell's text, keyed by its row's data-location/channel/order."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self._row: str | None = None
        self._field: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self._row = a.get("data-location") or a.get("data-channel") or a.get("data-order")
        if "data-field" in a:
            self._field, self._text = a["data-field"], []

    def handle_data(self, data):
        if self._field is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._field is not None and tag in ("td", "strong", "span"):
            self.cells[(self._row or "", self._field)] = "".join(self._text).strip()
            self._field = None


def cells(page: str) -> dict[tuple[str, str], str]:
    parser = _Cells()
    parser.feed(page)
    return parser.cells


def run(scenario):
    return asyncio.run(scenario())


async def _client(app):
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def test_the_sku_page_shows_the_inspection_apis_numbers_and_formula():
    async def scenario():
        client = await _client(_app(_shop_store()))
        try:
            api = await (await client.get("/skus/MUG")).json()
            response = await client.get("/ui/skus/MUG")
            assert response.status == 200 and response.content_type == "text/html"
            assert (
                "script-src" not in response.headers["Content-Security-Policy"]
            )  # default-src 'none' forbids it
            page = await response.text()
        finally:
            await client.close()
        shown = cells(page)
        for loc, buckets in api["positions"].items():
            for bucket, value in buckets.items():
                assert shown[(loc, bucket)] == str(value), (loc, bucket)
        for channel_id, ch in api["channels"].items():
            assert shown[(channel_id, "available")] == str(ch["available"])
        assert api["channels"]["web"]["available"] == 10  # (BER 10 − 3 reserved) + HAM 4 − 1
        assert "max(0, BER 7 + HAM 4 − 1) = 10" in page
        assert shown[("W-1", "qty_reserved")] == "3" and shown[("", "version")] == str(
            api["version"]
        )
        assert page.count('data-movement="') == 3  # two receipts and a reservation, newest first
        assert re.search(r"RESERVATION.*RECEIPT", page, re.S)

    run(scenario)


def test_the_ledger_pages_through_the_recent_movements():
    # 3 + 30 movements; the history keeps the last 32 commands: a full page and one of 12.
    store = _shop_store(receipts=30)

    async def scenario():
        client = await _client(_app(store))
        try:
            api = await (await client.get("/skus/MUG/movements?limit=1000")).json()
            pages = [await (await client.get(f"/ui/skus/MUG?page={n}")).text() for n in range(2)]
            bad = await client.get("/ui/skus/MUG?page=x")
        finally:
            await client.close()
        ids = [re.findall(r'data-movement="([^"]+)"', page) for page in pages]
        assert ids[0] + ids[1] == [m["movement_id"] for m in api["movements"]] and len(ids[0]) == 20
        assert len(ids[1]) == 12
        assert (
            'rel="next"' in pages[0] and 'rel="next"' not in pages[1] and 'rel="prev"' in pages[1]
        )
        assert bad.status == 400

    run(scenario)


def test_a_page_without_a_token_goes_to_the_login_form_and_the_cookie_opens_only_the_pages():
    digests = (hash_token(TOKEN),)

    async def scenario():
        client = await _client(_app(_shop_store(), digests))
        try:
            first = await client.get("/ui/skus/MUG", allow_redirects=False)
            assert (
                first.status == 303
                and unquote(first.headers["Location"]) == "/ui/login?next=/ui/skus/MUG"
            )
            form = await client.get("/ui/login?next=/ui/skus/MUG")
            assert form.status == 200 and 'name="token"' in await form.text()
            wrong = await client.post(
                "/ui/login", data={"token": "nope", "next": "/ui/skus/MUG"}, allow_redirects=False
            )
            assert wrong.status == 401 and "not valid" in await wrong.text()
            assert "stocksignal_token" not in wrong.cookies
            ok = await client.post(
                "/ui/login", data={"token": TOKEN, "next": "/ui/skus/MUG"}, allow_redirects=False
            )
            assert ok.status == 303 and ok.headers["Location"] == "/ui/skus/MUG"
            cookie = ok.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
            assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
            page = await client.get("/ui/skus/MUG", allow_redirects=False)
            assert page.status == 200
            # The JSON API takes bearer tokens only: the cookie alone gets 401 there.
            api = await client.get("/skus/MUG", headers={"Cookie": f"stocksignal_token={TOKEN}"})
            assert api.status == 401
            out = await client.post("/ui/logout", allow_redirects=False)
            assert out.status == 303
            client.session.cookie_jar.clear()
            again = await client.get("/ui/skus/MUG", allow_redirects=False)
            assert again.status == 303
            # A bearer header works on the pages too (a script, a proxy that injects it).
            bearer = await client.get(
                "/ui/skus/MUG", headers={"Authorization": f"Bearer {TOKEN}"}, allow_redirects=False
            )
            assert bearer.status == 200
            # The form sends nobody elsewhere.
            evil = await client.get("/ui/login?next=//evil.example/x")
            assert 'value="/ui"' in await evil.text()
            # Behind a TLS-terminating proxy the cookie is Secure.
            behind_tls = await client.post(
                "/ui/login",
                data={"token": TOKEN},
                allow_redirects=False,
                headers={"X-Forwarded-Proto": "https"},
            )
            assert "Secure" in behind_tls.headers["Set-Cookie"]
        finally:
            await client.close()

    run(scenario)


def test_a_sku_of_another_worker_is_rendered_from_its_answer_with_this_requests_token():
    digests = (hash_token(TOKEN),)
    seen: list[str] = []

    async def scenario():
        from aiohttp import web

        owner_app = _app(_shop_store(), digests, self_url="http://owner")

        @web.middleware
        async def record(request, handler):
            seen.append(request.headers.get("Authorization", ""))
            return await handler(request)

        owner_app.middlewares.insert(0, record)
        owner = await _client(owner_app)
        try:
            owner_url = str(owner.make_url("")).rstrip("/")
            here = await _client(_app(None, digests, owner_url=owner_url))
            try:
                page = await here.get("/ui/skus/MUG", cookies={"stocksignal_token": TOKEN})
                text = await page.text()
            finally:
                await here.close()
            api = await (
                await owner.get("/skus/MUG", headers={"Authorization": f"Bearer {TOKEN}"})
            ).json()
        finally:
            await owner.close()
        assert page.status == 200
        assert cells(text)[("BER", "on_hand")] == str(api["positions"]["BER"]["on_hand"]) == "10"
        assert 'data-forwarded="true"' in text and owner_url in text
        assert f"Bearer {TOKEN}" in seen[0]

    run(scenario)


def test_every_value_is_escaped():
    sku = '<img src=x onerror=alert(1)>"'

    async def scenario():
        client = await _client(_app(_shop_store(sku)))
        try:
            from urllib.parse import quote

            page = await (await client.get("/ui/skus/" + quote(sku, safe=""))).text()
            missing = await (await client.get("/ui/skus/%3Cscript%3E")).text()
        finally:
            await client.close()
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<script>" not in missing and "&lt;script&gt;" in missing

    run(scenario)
    assert el("td", "<b>", title='"x"') == '<td title="&quot;x&quot;">&lt;b&gt;</td>'
    assert el("p", Html("<b>ok</b>")) == "<p><b>ok</b></p>"


def test_an_unknown_sku_is_a_404_page():
    async def scenario():
        client = await _client(_app(_shop_store()))
        try:
            response = await client.get("/ui/skus/NOPE")
            text = await response.text()
        finally:
            await client.close()
        assert response.status == 404 and "Unknown SKU" in text

    run(scenario)


# --- the DLQ cursor --------------------------------------------------------------------------


def _letter(p: int, o: int, ts: int, reason: str) -> DeadLetter:
    return DeadLetter(p, o, ts, None, reason, "", "t", "0", "0", None, None)


def test_the_cursor_text_round_trips_and_refuses_garbage():
    assert parse_cursor(format_cursor({0: 5, 2: 0})) == {0: 5, 2: 0}
    assert parse_cursor("") is None
    with pytest.raises(ValueError):
        parse_cursor("0:5,x")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["A", "B"])), max_size=12),
        min_size=1,
        max_size=3,
    ),
    st.integers(1, 5),
    st.sampled_from([None, "A"]),
)
def test_paging_by_cursor_shows_every_matching_record_exactly_once(partitions, size, reason):
    logs = {
        p: [_letter(p, o, ts, r) for o, (ts, r) in enumerate(records)]
        for p, records in enumerate(partitions)
    }
    cursor: dict[int, int] | None = None
    shown: list[tuple[int, int]] = []
    for _ in range(200):
        windows = {}
        for p, letters in logs.items():
            stop = len(letters) if cursor is None else cursor[p]
            start = max(0, stop - size)
            windows[p] = (start, letters[start:stop])
        page, cursor = take(windows, size, reason, {p: 0 for p in logs})
        assert len(page) <= size
        shown.extend((d.partition, d.offset) for d in page)
        if cursor is None:
            break
    wanted = sorted(
        (d.partition, d.offset)
        for letters in logs.values()
        for d in letters
        if reason is None or d.reason == reason
    )
    assert sorted(shown) == wanted


def test_a_dlq_record_shows_its_headers_and_what_its_value_decodes_to():
    from stocksignal.contract import DlqReason, dlq_headers
    from stocksignal.ledger.kafka import Record
    from stocksignal.processor.dlq_view import letter

    headers = tuple(
        dlq_headers(
            DlqReason.VALIDATION_ERROR,
            "qty: <must be > 0>",
            topic="inventory.stock.v1",
            partition=2,
            offset=41,
        )
    )

    def decode(value):
        if value != b"ok":
            raise ValueError("not avro")
        return "StockReceived", {"event_id": "e-7"}

    good = letter(1, Record(5, 1000, b"MUG", b"ok", headers), decode)
    assert (good.reason, good.source_topic, good.source_partition, good.source_offset) == (
        "VALIDATION_ERROR",
        "inventory.stock.v1",
        "2",
        "41",
    )
    assert (good.record_name, good.event_id, good.key) == ("StockReceived", "e-7", "MUG")
    bad = letter(1, Record(6, 1000, None, b"\x00", ()), decode)
    assert bad.record_name is None and bad.reason == "?"


class _DeadLetters:
    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.executor = ThreadPoolExecutor(1)
        self.asked: list[tuple] = []

    def page(self, before, size, reason):
        from stocksignal.processor.dlq_view import DlqPage

        self.asked.append((before, size, reason))
        letters = [
            DeadLetter(
                0,
                9,
                1000,
                "K<1>",
                "DECODE_ERROR",
                "bad <b>bytes</b>",
                "inventory.stock.v1",
                "0",
                "3",
                None,
                None,
            )
        ]
        return DlqPage("inventory.dlq.v1", letters, 1, 10, {0: 9}, {"DECODE_ERROR": 1})


def test_the_dlq_page_lists_reasons_escapes_errors_and_links_the_older_page():
    source = _DeadLetters()
    inspection = Inspection(
        _Runtime(None),
        _Owners(None),
        partitions=1,
        history_size=HISTORY,
        self_url="x",
        dead_letters=source,
    )
    app = make_app(inspection, ProcessorMetrics(), lambda: None)

    async def scenario():
        client = await _client(app)
        try:
            page = await (await client.get("/ui/dlq?reason=DECODE_ERROR&before=0:20")).text()
            bad_reason = await client.get("/ui/dlq?reason=NOPE")
            bad_cursor = await client.get("/ui/dlq?before=zz")
        finally:
            await client.close()
        assert source.asked == [({0: 20}, 50, "DECODE_ERROR")]
        assert (
            "bad &lt;b&gt;bytes&lt;/b&gt;" in page
            and "K&lt;1&gt;" in page
            and "<b>bytes" not in page
        )
        assert 'href="/ui/dlq?reason=DECODE_ERROR&amp;before=0:9"' in page
        assert bad_reason.status == 400 and bad_cursor.status == 400

    run(scenario)
