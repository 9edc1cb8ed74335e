"""What the inspection API and ``stocksignal sku`` say of a bundle: its number per channel and
the component that limits it (docs/semantics.md#bundle-availability)."""

from __future__ import annotations

import io

from rich.console import Console

from stocksignal.cli.sku import render_bundle
from stocksignal.domain import Bundle, BundleView, Cause, observe, redefine
from stocksignal.processor.bundles import bundle_json

CAUSE = Cause("e", "StockReceived", 1)


def test_a_bundle_is_explained_by_its_scarcest_component():
    view, _ = redefine(
        BundleView("GIFT"), Bundle.of("GIFT", [("MUG", 1), ("LAMP", 2)]), CAUSE, ("web",)
    )
    view, _ = observe(view, "MUG", {"default": 3, "web": 3}, CAUSE)
    view, _ = observe(view, "LAMP", {"default": 5, "web": 1}, CAUSE)
    answer = bundle_json(view, 2)
    assert answer["bundle"] is True and answer["components"] == [
        {"sku": "MUG", "qty": 1},
        {"sku": "LAMP", "qty": 2},
    ]
    web = {c["channel_id"]: c for c in answer["channels"]}["web"]
    assert (web["available"], web["limited_by"]) == (0, "LAMP")
    assert web["components"][0] == {"sku": "LAMP", "available": 1, "qty": 2, "bundles": 0}
    out = io.StringIO()
    render_bundle(answer, Console(file=out, width=120))
    text = out.getvalue()
    assert "GIFT  bundle = 1 x MUG + 2 x LAMP" in text
    assert "limited by LAMP" in text and "LAMP 1 // 2 = 0" in text
