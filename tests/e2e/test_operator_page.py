"""The operator's page in a real headless browser (Debian's chromium and its driver, through
selenium), served by real processor workers against the session's Kafka.

Events go to the workers; the browser logs in with the inspection API's token, looks a SKU up,
and the numbers on the page (buckets per location, available per channel, reservations, the
SKU as of a past moment, the dead letters) must be the inspection API's for the same SKU.
With two workers, every SKU's page is loaded from both: one of them renders what the other
(the SKU's owner) answered. A screenshot is saved (STOCKSIGNAL_SCREENSHOT_DIR: where to copy
it; docs/operator-page.png was made that way).

chromium and chromedriver come from `deploy/local/platformctl.py tools chromium` (make test
runs it). Without them the test skips, except under CI=true, where it installs them or fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from stocksignal.contract import partition_for
from stocksignal.domain import InMemoryInventory
from stocksignal.web.tokens import hash_token
from tests.conftest import IN_CI, PLATFORMCTL
from tests.e2e.steps import event, step

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TOKEN = "operator-page-e2e-token-0123456789abcdef"
BUCKETS = (
    "on_hand",
    "reserved",
    "picked",
    "damaged",
    "quality_hold",
    "pending_inspection",
    "inbound",
    "sellable",
)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _browser_binaries() -> tuple[str, str]:
    def found():
        return shutil.which("chromium"), shutil.which("chromedriver")

    chromium, driver = found()
    if (not chromium or not driver) and IN_CI:
        # CI starts from a machine without a browser: install it as make test would.
        result = subprocess.run(
            [sys.executable, str(PLATFORMCTL), "tools", "chromium"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=900,
        )
        chromium, driver = found()
        if not chromium or not driver:
            pytest.fail(
                f"chromium/chromedriver missing and could not be installed:\n{result.stdout}{result.stderr}",
                pytrace=False,
            )
    if not chromium or not driver:
        _unavailable(
            "chromium and chromedriver are not installed: run `python3 deploy/local/platformctl.py tools "
            "chromium` as root (Debian's chromium and chromium-driver packages)"
        )
    return chromium, driver


@pytest.fixture
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    chromium, driver = _browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,1300",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    driver_ = webdriver.Chrome(service=Service(driver), options=options)
    driver_.set_page_load_timeout(60)
    try:
        yield driver_
    finally:
        driver_.quit()


def _api(worker, path: str, timeout: float = 60.0) -> dict:
    """The inspection API's answer; retried while a partition moves (503 after a worker joins)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = worker.get(path, timeout=60)
        if status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def _submit(browser, element, url: str) -> None:
    """Click (or submit) and wait for the navigation: selenium returns before it ends."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    element.click() if element.tag_name == "button" else element.submit()
    WebDriverWait(browser, 30).until(expected_conditions.url_to_be(url))


def _cell(browser, selector: str) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector).text.strip()


def _positions_shown(browser, positions: dict) -> dict:
    return {
        loc: {
            b: int(_cell(browser, f'#positions tr[data-location="{loc}"] td[data-field="{b}"]'))
            for b in BUCKETS
        }
        for loc in positions
    }


def _channels_shown(browser, channels: dict) -> dict:
    return {
        c: int(_cell(browser, f'#channels tr[data-channel="{c}"] td[data-field="available"]'))
        for c in channels
    }


def _load(browser, url: str, timeout: float = 60.0) -> None:
    """Load until the page is not a "moving between workers" answer (a rebalance just ran)."""
    deadline = time.monotonic() + timeout
    while True:
        browser.get(url)
        if not browser.title.startswith("Not available now") or time.monotonic() > deadline:
            return
        time.sleep(0.5)


def _skus_on_every_partition(partitions: int) -> list[str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        found.setdefault(partition_for(f"SKU-{i}", partitions), f"SKU-{i}")
        i += 1
    return [found[p] for p in range(partitions)]


@pytest.mark.timeout(420)
def test_the_operator_page_shows_the_inspection_apis_numbers(
    workers, producer, proc_settings, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    w1 = workers("w1", web_tokens_sha256=hash_token(TOKEN))
    w1.token = TOKEN
    skus = _skus_on_every_partition(proc_settings.command_partitions)
    mug = skus[0]
    shop = InMemoryInventory()  # the reference model: what the numbers must be

    def send(*events):
        step(w1, producer, proc_settings, *events)
        for e in events:
            shop.post(e.name, **e.record)

    send(
        event("ChannelConfigured", channel_id="web", location_ids=["BER", "HAM"], safety_stock=1),
        event(
            "ChannelConfigured",
            channel_id="mkt",
            location_ids=["HAM"],
            safety_stock=0,
            buffer_percent=25,
        ),
    )
    send(
        *[
            event("StockReceived", sku=s, location_id=loc, qty=qty, reference=None)
            for s in skus
            for loc, qty in (("BER", 10), ("HAM", 8))
        ]
    )
    time.sleep(0.05)
    before_orders = int(time.time() * 1000)
    expected_then = shop.ats(mug)
    time.sleep(0.05)
    send(
        event(
            "OrderPlaced",
            order_id="W-1",
            channel_id="web",
            lines=[{"sku": mug, "qty": 3}],
            hold_expires_at=None,
        )
    )
    send(
        event(
            "OrderPlaced",
            order_id="M-1",
            channel_id="mkt",
            lines=[{"sku": mug, "qty": 2}],
            hold_expires_at=int(time.time() * 1000) + 3_600_000,
        )
    )
    send(
        event(
            "StockStatusChanged",
            sku=mug,
            location_id="BER",
            qty=1,
            from_status="SELLABLE",
            to_status="DAMAGED",
        )
    )
    # A record nobody can decode: it goes to the DLQ, with its reason, and shows there.
    dlq_before = w1.metric("stocksignal_dlq_records_total")
    producer.send(
        event("StockReceived", sku="BROKEN-1", location_id="BER", qty=1, reference=None),
        raw_value=b"\x00 not avro at all",
    )
    producer.flush()
    deadline = time.monotonic() + 30
    while w1.metric("stocksignal_dlq_records_total") <= dlq_before:
        assert time.monotonic() < deadline, w1.tail()
        time.sleep(0.1)

    # Log in: the page sends a browser without the cookie to the form, and back afterwards.
    quoted = urllib.parse.quote(mug, safe="")
    browser.get(f"{w1.url}/ui/skus/{quoted}")
    assert "/ui/login" in browser.current_url
    browser.find_element(By.ID, "token").send_keys("wrong")
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".problem"))
    assert "not valid" in browser.find_element(By.CSS_SELECTOR, ".problem").text
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    _submit(browser, browser.find_element(By.ID, "login"), f"{w1.url}/ui/skus/{quoted}")

    # The numbers are the inspection API's.
    api = _api(w1, f"/skus/{quoted}")
    assert _positions_shown(browser, api["positions"]) == {
        loc: {b: api["positions"][loc][b] for b in BUCKETS} for loc in api["positions"]
    }
    assert _channels_shown(browser, api["channels"]) == {
        c: ch["available"] for c, ch in api["channels"].items()
    }
    assert {c: ch["available"] for c, ch in api["channels"].items()} == shop.ats(mug)
    model = shop.state(mug)
    assert {loc: p.on_hand for loc, p in model.positions.items()} == {
        loc: b["on_hand"] for loc, b in api["positions"].items()
    }
    for channel_id, ch in api["channels"].items():
        rule = _cell(browser, f'#channels tr[data-channel="{channel_id}"] td.rule')
        assert rule.endswith(f"= {ch['available']}"), rule
    for r in api["open_reservations"]:
        assert _cell(
            browser, f'#reservations tr[data-order="{r["order_id"]}"] td[data-field="qty_reserved"]'
        ) == str(r["qty_reserved"])
    assert "hold until" in _cell(browser, '#reservations tr[data-order="M-1"]')
    movements = _api(w1, f"/skus/{quoted}/movements?limit=20")["movements"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#ledger tbody tr")
    assert [r.get_attribute("data-movement") for r in rows] == [m["movement_id"] for m in movements]
    assert "DAMAGED" in rows[0].text or "STATUS_CHANGE" in rows[0].text
    shot = tmp_path / "operator-page.png"
    browser.save_screenshot(str(shot))

    # Search from the start page.
    browser.get(f"{w1.url}/ui")
    box = browser.find_element(By.ID, "sku-search")
    box.send_keys(mug)
    _submit(browser, box, f"{w1.url}/ui/skus/{quoted}")

    # As of a moment before the orders: the ledger's answer, on the page.
    then = _api(w1, f"/skus/{quoted}?at={before_orders}")
    browser.get(f"{w1.url}/ui/skus/{quoted}?at={before_orders}")
    assert _positions_shown(browser, then["positions"]) == {
        loc: {b: then["positions"][loc][b] for b in BUCKETS} for loc in then["positions"]
    }
    assert _channels_shown(browser, then["channels"]) == {
        c: ch["available"] for c, ch in then["channels"].items()
    }
    assert {c: ch["available"] for c, ch in then["channels"].items()} == expected_then
    assert "as of" in _cell(browser, "h1")

    # The ledger over a window, with its net change.
    browser.get(f"{w1.url}/ui/skus/{quoted}?since={before_orders}")
    window = _api(w1, f"/skus/{quoted}/movements?since={before_orders}")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#ledger tbody tr")) == window["total"] > 0
    assert (
        _cell(browser, '#net-change tr[data-location="BER"] td[data-field="reserved"]')
        == f"{window['net_change']['BER']['reserved']:+d}"
    )

    # The dead letter, with its reason and where it came from.
    browser.get(f"{w1.url}/ui/dlq")
    letters = browser.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
    assert any("DECODE_ERROR" in r.text and "BROKEN-1" in r.text for r in letters), [
        r.text for r in letters
    ]
    dlq_shot = tmp_path / "operator-dlq.png"
    browser.save_screenshot(str(dlq_shot))
    browser.get(f"{w1.url}/ui/dlq?reason=VALIDATION_ERROR")
    assert "BROKEN-1" not in browser.find_element(By.TAG_NAME, "main").text

    # A second worker: partitions split, and each worker's page shows every SKU, its own
    # and (rendered from the owner's answer) the other's.
    w2 = workers("w2", web_tokens_sha256=hash_token(TOKEN))
    w2.token = TOKEN
    browser.get(f"{w2.url}/ui/login")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    _submit(browser, browser.find_element(By.ID, "login"), f"{w2.url}/ui")
    forwarded = []
    for sku in skus:
        q = urllib.parse.quote(sku, safe="")
        expected = _api(w1, f"/skus/{q}")["positions"]
        for w in (w1, w2):
            _load(browser, f"{w.url}/ui/skus/{q}")
            assert _positions_shown(browser, expected) == {
                loc: {b: expected[loc][b] for b in BUCKETS} for loc in expected
            }, (sku, w.url)
            owner = browser.find_element(By.CSS_SELECTOR, '[data-field="owner"]')
            forwarded.append(owner.get_attribute("data-forwarded") == "true")
    # Every SKU was rendered once by its owner and once from the owner's answer.
    assert forwarded.count(True) == len(skus), forwarded

    target = os.environ.get("STOCKSIGNAL_SCREENSHOT_DIR")
    if target:
        for picture in (shot, dlq_shot):
            shutil.copy(picture, Path(target) / picture.name)
