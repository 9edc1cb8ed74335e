"""The operator's page as HTML, from the inspection API's JSON answers (docs/operations.md#the-operators-page).

Pure: JSON in, :class:`~stocksignal.web.html.Html` out. Nothing here decides a number: every
figure shown is a field of an inspection API answer (``GET /skus/{sku}``, ``?at=``,
``/movements``) and every formula is :func:`~stocksignal.processor.rule_text.channel_rule`,
the one ``stocksignal sku`` prints. Cells carrying a number have ``data-field`` (and
``data-location`` / ``data-channel`` on their row) so that a test, or a person's script, can
read them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from stocksignal.domain import BUCKET_FIELDS
from stocksignal.processor.rule_text import RULE, channel_rule
from stocksignal.web.html import Child, Html, el, join

BUCKETS = tuple(BUCKET_FIELDS.values())
STYLESHEET = "/ui/page.css"
LEDGER_COLUMNS = ("location", "bucket", "delta", "balance", "reason", "detail / reference", "cause")


def fmt_ts(ms: int | None) -> str:
    """Epoch ms as UTC to the millisecond: one zone for every reader of a shared page."""
    if ms is None:
        return "-"
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d} UTC"


def sku_href(sku: str, **query: Any) -> str:
    params = {k: v for k, v in query.items() if v is not None}
    return f"/ui/skus/{quote(sku, safe='')}" + ("?" + urlencode(params) if params else "")


def table(headers: Sequence[str], rows: Iterable[Child], **attrs: Any) -> Html:
    return el(
        "table",
        el("thead", el("tr", [el("th", h) for h in headers])),
        el("tbody", list(rows)),
        **attrs,
    )


def num(value: Any, field: str, **attrs: Any) -> Html:
    return el("td", value, class_="num", data_field=field, **attrs)


def nav(self_url: str, sku: str = "") -> Html:
    search = el(
        "form",
        el(
            "label",
            "SKU ",
            el(
                "input",
                name="sku",
                value=sku,
                required=True,
                maxlength=128,
                id="sku-search",
                autocomplete="off",
            ),
        ),
        el("button", "Show", type="submit"),
        action="/ui/search",
        method="get",
        class_="search",
    )
    logout = el(
        "form",
        el("button", "Log out", type="submit"),
        action="/ui/logout",
        method="post",
        class_="logout",
    )
    return el(
        "header",
        el("a", "stocksignal", href="/ui", class_="brand"),
        search,
        el("a", "Dead letters", href="/ui/dlq"),
        logout,
        el("span", "worker ", el("code", self_url), class_="worker"),
    )


def message_page(title: str, text: str, self_url: str, sku: str = "") -> Html:
    return join([nav(self_url, sku), el("main", el("h1", title), el("p", text, class_="message"))])


def home(self_url: str) -> Html:
    return join(
        [
            nav(self_url),
            el(
                "main",
                el("h1", "Operator's page"),
                el(
                    "p",
                    (
                        "Look a SKU up to see its stock per location, what each channel may sell and why, its open "
                        "reservations and its ledger; or how it stood at a past moment. Any worker answers for any "
                        "SKU. Nothing here changes anything."
                    ),
                ),
            ),
        ]
    )


# --- the SKU now ---------------------------------------------------------------------------


def channels_table(
    state: Mapping[str, Any], configured_at: Mapping[str, int] | None = None
) -> Html:
    positions = state["positions"]
    rows = []
    for channel_id, ch in state["channels"].items():
        if ch["configured"]:
            config = "configured"
            if configured_at and channel_id in configured_at:
                config = f"configured at {fmt_ts(configured_at[channel_id])}"
        else:
            config = (
                "built-in: every location, lexical order"
                if channel_id == "default"
                else "not configured"
            )
        rows.append(
            el(
                "tr",
                el("th", channel_id, scope="row"),
                num(ch["available"], "available"),
                el("td", el("code", channel_rule(ch, positions)), class_="rule"),
                el("td", ", ".join(ch["locations"]) or "-"),
                num(ch["safety_stock"], "safety_stock"),
                num(ch.get("buffer_percent", 0), "buffer_percent"),
                num(
                    "-" if ch.get("max_available") is None else ch["max_available"], "max_available"
                ),
                el("td", ch.get("level") or "-", data_field="level"),
                el("td", config),
                data_channel=channel_id,
            )
        )
    headers = (
        "channel",
        "available",
        "why",
        "locations (priority order)",
        "safety stock",
        "buffer %",
        "cap",
        "level",
        "configuration",
    )
    return join(
        [table(headers, rows, id="channels"), el("p", el("code", RULE), class_="rule-text")]
    )


def positions_table(positions: Mapping[str, Mapping[str, int]]) -> Html:
    if not positions:
        return el("p", "No stock anywhere.", id="positions")
    rows = [
        el(
            "tr",
            el("th", loc, scope="row"),
            [num(b[name], name) for name in BUCKETS],
            num(b["sellable"], "sellable"),
            data_location=loc,
        )
        for loc, b in positions.items()
    ]
    return table(("location", *BUCKETS, "sellable"), rows, id="positions")


def _pairs(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items()) or "-"


def reservations_table(reservations: Sequence[Mapping[str, Any]]) -> Html:
    if not reservations:
        return el("p", "No open reservations.", id="reservations")
    rows = []
    for r in reservations:
        hold = f"hold until {fmt_ts(r['hold_expires_at'])}" if r["hold"] else "firm"
        rows.append(
            el(
                "tr",
                el("th", r["order_id"], scope="row"),
                el("td", r["channel_id"]),
                num(r["qty_requested"], "qty_requested"),
                num(r["qty_reserved"], "qty_reserved"),
                num(r["qty_shipped"], "qty_shipped"),
                el("td", _pairs(r["allocations"])),
                el("td", _pairs(r["picked"])),
                el("td", hold),
                data_order=r["order_id"],
            )
        )
    headers = (
        "order",
        "channel",
        "requested",
        "reserved",
        "shipped",
        "allocations",
        "picked",
        "hold",
    )
    return table(headers, rows, id="reservations")


def held_lists(state: Mapping[str, Any], keys: Sequence[tuple[str, str]]) -> Html:
    items = []
    for title, key in keys:
        held = {loc: refs for loc, refs in (state.get(key) or {}).items() if refs}
        if held:
            items.append(
                el(
                    "li",
                    f"{title}: "
                    + "; ".join(f"{loc}: {_pairs(refs)}" for loc, refs in held.items()),
                )
            )
    return el("ul", items, class_="held") if items else Html("")


def transfers_list(transfers: Mapping[str, Mapping[str, Any]]) -> Html:
    if not transfers:
        return Html("")
    return el(
        "ul",
        [
            el("li", f"transfer {tid}: {t['qty']} {t['from']} → {t['to']}")
            for tid, t in transfers.items()
        ],
        class_="held",
    )


def ledger_table(movements: Sequence[Mapping[str, Any]], logged: bool) -> Html:
    rows = []
    for m in movements:
        detail = " · ".join(
            x for x in (m.get("reason_detail"), m.get("reference") and f"ref {m['reference']}") if x
        )
        when = fmt_ts(m["logged_at"]) if logged else fmt_ts(m["occurred_at"])
        rows.append(
            el(
                "tr",
                el("td", when),
                el("td", m["location_id"]),
                el("td", m["bucket"]),
                num(f"{m['delta']:+d}", "delta"),
                num(m["balance_after"], "balance_after"),
                el("td", m["reason"]),
                el("td", detail or "-"),
                el("td", f"{m['cause_event_type']} ", el("code", m["cause_event_id"])),
                data_movement=m.get("movement_id"),
            )
        )
    # The recent history knows when each cause happened; a window is read by log time.
    return table(("logged" if logged else "occurred", *LEDGER_COLUMNS), rows, id="ledger")


def pager(sku: str, page: int, more: bool, **query: Any) -> Html:
    links = []
    if page > 0:
        links.append(
            el(
                "a",
                "← newer" if query.get("since") is None else "← earlier",
                href=sku_href(sku, **query, page=page - 1 or None),
                rel="prev",
            )
        )
    links.append(el("span", f"page {page + 1}"))
    if more:
        links.append(
            el(
                "a",
                "older →" if query.get("since") is None else "later →",
                href=sku_href(sku, **query, page=page + 1),
                rel="next",
            )
        )
    return el("nav", links, class_="pager")


def time_forms(sku: str, at: str = "", since: str = "", until: str = "") -> Html:
    hint = "epoch ms, ISO 8601 with an offset (2026-01-01T14:00:00+01:00), now, or -2h"
    as_of = el(
        "form",
        el(
            "label",
            "Stock as of ",
            el("input", name="at", value=at, placeholder="-2h", required=True, id="at-input"),
        ),
        el("button", "Show then", type="submit"),
        action=sku_href(sku),
        method="get",
    )
    window = el(
        "form",
        el(
            "label",
            "Ledger since ",
            el(
                "input",
                name="since",
                value=since,
                placeholder="-6h",
                required=True,
                id="since-input",
            ),
        ),
        el("label", " until ", el("input", name="until", value=until, placeholder="now")),
        el("button", "Show movements", type="submit"),
        action=sku_href(sku),
        method="get",
    )
    return el("section", as_of, window, el("p", f"Times: {hint}.", class_="hint"), class_="times")


def sku_page(
    state: Mapping[str, Any],
    movements: Sequence[Mapping[str, Any]],
    page: int,
    size: int,
    more: bool,
    self_url: str,
    owner: str | None = None,
) -> Html:
    sku = state["sku"]
    shown = movements[page * size : (page + 1) * size]
    answered = el(
        "span",
        "answered by ",
        el("code", owner or self_url),
        " (the SKU's owner)" if owner else " (this worker owns the SKU)",
        data_field="owner",
        data_forwarded="true" if owner else "false",
    )
    summary = el(
        "p",
        "version ",
        el("strong", state["version"], data_field="version"),
        f" · command partition {state['partition']} · ",
        answered,
        " · times in UTC",
        class_="summary",
    )
    return join(
        [
            nav(self_url, sku),
            el(
                "main",
                el("h1", sku, id="sku"),
                summary,
                el("h2", "Available to sell, per channel"),
                channels_table(state),
                el("h2", "Stock per location"),
                positions_table(state["positions"]),
                el("h2", "Open reservations (oldest first)"),
                reservations_table(state["open_reservations"]),
                held_lists(state, (("Inbound by reference", "inbound_by_reference"),)),
                transfers_list(state.get("transfers_in_flight") or {}),
                el("h2", "Ledger: the last movements, newest first"),
                ledger_table(shown, logged=False)
                if shown
                else el("p", "No movements kept for this SKU.", id="ledger"),
                pager(sku, page, more),
                time_forms(sku),
            ),
        ]
    )


# --- the SKU then, and its ledger over a window --------------------------------------------


def provenance(state: Mapping[str, Any]) -> str:
    ledger = state["ledger"]
    kept = (
        "the whole history is kept"
        if ledger["complete"]
        else f"kept since {fmt_ts(ledger['first_record_at'])}"
    )
    channels = (
        "every channel change is in the command log"
        if state.get("channel_history_from") is None
        else f"channel changes before {fmt_ts(state['channel_history_from'])} only as far as the compacted "
        "channels topic keeps them"
    )
    return (
        f"From {state['movements_up_to_at']} movement(s) of {state['sku']} published up to then in "
        f"{ledger['topic']}[{ledger['partition']}] ({kept}); {channels}."
    )


def as_of_page(state: Mapping[str, Any], at_text: str, self_url: str) -> Html:
    sku = state["sku"]
    return join(
        [
            nav(self_url, sku),
            el(
                "main",
                el(
                    "h1",
                    sku,
                    " ",
                    el(
                        "small",
                        "as of ",
                        el("span", fmt_ts(state["at"]), data_field="at", data_epoch_ms=state["at"]),
                    ),
                    id="sku",
                ),
                el(
                    "p",
                    el("a", "← now", href=sku_href(sku)),
                    f" · command partition {state['partition']} · log time, UTC",
                    class_="summary",
                ),
                el("h2", "Available to sell then, per channel"),
                channels_table(state, state.get("channels_configured_at")),
                el("h2", "Stock per location then"),
                positions_table(state["positions"]),
                held_lists(
                    state,
                    (
                        ("Reserved by order", "reserved_by_order"),
                        ("Picked by order", "picked_by_order"),
                        ("Inbound by reference", "inbound_by_reference"),
                    ),
                ),
                el("p", provenance(state), class_="provenance"),
                time_forms(sku, at=at_text),
            ),
        ]
    )


def net_table(net: Mapping[str, Mapping[str, int]]) -> Html:
    if not net:
        return el("p", "Net change: none (no bucket changed in the window).", id="net-change")
    changed = [b for b in BUCKETS if any(b in buckets for buckets in net.values())]
    rows = [
        el(
            "tr",
            el("th", loc, scope="row"),
            [num(f"{buckets[b]:+d}" if b in buckets else "", b) for b in changed],
            data_location=loc,
        )
        for loc, buckets in net.items()
    ]
    return table(("location", *changed), rows, id="net-change")


def window_page(
    answer: Mapping[str, Any], page: int, size: int, texts: Mapping[str, str], self_url: str
) -> Html:
    sku = answer["sku"]
    movements = answer["movements"]
    shown = movements[page * size : (page + 1) * size]
    more = answer["total"] > (page + 1) * size
    heading = (
        f"{answer['total']} movement(s) published after {fmt_ts(answer['since'])} up to "
        f"{fmt_ts(answer['until'])} (log time), oldest first"
    )
    if answer["truncated"] and not more:
        heading += f"; only the first {len(movements)} can be paged through: narrow the window"
    # The window's end is pinned to the first page's: "now" must not move while paging.
    query = {"since": answer["since"], "until": answer["until"]}
    return join(
        [
            nav(self_url, sku),
            el(
                "main",
                el("h1", sku, " ", el("small", "ledger")),
                el("p", el("a", "← now", href=sku_href(sku)), " · ", heading, class_="summary"),
                ledger_table(shown, logged=True)
                if shown
                else el("p", "No movements in this window.", id="ledger"),
                pager(sku, page, more, **query),
                el("h2", "Net change per bucket over the window"),
                net_table(answer["net_change"]),
                time_forms(sku, since=texts.get("since", ""), until=texts.get("until", "")),
            ),
        ]
    )


# --- dead letters --------------------------------------------------------------------------


def dlq_page(
    view: Any, reason: str, reasons: Sequence[str], older_href: str | None, self_url: str
) -> Html:
    options = [el("option", "every reason", value="", selected=not reason)]
    options += [el("option", r, value=r, selected=r == reason) for r in reasons]
    form = el(
        "form",
        el("label", "Reason ", el("select", options, name="reason", id="reason")),
        el("button", "Filter", type="submit"),
        action="/ui/dlq",
        method="get",
    )
    rows = []
    for d in view.letters:
        body = f"{d.record_name} {d.event_id or ''}".strip() if d.record_name else "(not decodable)"
        rows.append(
            el(
                "tr",
                el("td", fmt_ts(d.timestamp)),
                el("td", d.reason, data_field="reason"),
                el("td", d.source_topic),
                num(d.source_partition, "source_partition"),
                num(d.source_offset, "source_offset"),
                el("td", el("code", d.key) if d.key else "-"),
                el("td", body),
                el("td", d.error, class_="error"),
                el("td", f"{view.topic}[{d.partition}]@{d.offset}"),
                data_partition=d.partition,
                data_offset=d.offset,
            )
        )
    headers = (
        "logged",
        "reason",
        "from topic",
        "partition",
        "offset",
        "key",
        "record",
        "what is wrong",
        "DLQ record",
    )
    counts = ", ".join(f"{r} {n}" for r, n in sorted(view.by_reason.items())) or "none"
    listing = (
        table(headers, rows, id="dead-letters")
        if rows
        else el("p", "No dead letters here.", id="dead-letters")
    )
    more = (
        el("nav", el("a", "older →", href=older_href, rel="next"), class_="pager")
        if older_href
        else Html("")
    )
    return join(
        [
            nav(self_url),
            el(
                "main",
                el("h1", "Dead letters"),
                el(
                    "p",
                    f"{view.topic} retains {view.total} offset(s) (its records and Kafka's transaction markers); "
                    f"newest first. Shown here by reason: {counts} (of {view.scanned} record(s) read). A replay after "
                    "a fix is applied once: repeats are dropped by event_id.",
                    class_="summary",
                ),
                form,
                listing,
                more,
            ),
        ]
    )


# --- login ---------------------------------------------------------------------------------


def login_page(next_path: str, problem: str | None, needs_token: bool) -> Html:
    if not needs_token:
        body = el(
            "p",
            "This worker needs no token (it listens without authentication). ",
            el("a", "Continue", href=next_path),
        )
    else:
        body = el(
            "form",
            el("input", type="hidden", name="next", value=next_path),
            el(
                "label",
                "Token ",
                el(
                    "input",
                    type="password",
                    name="token",
                    id="token",
                    required=True,
                    autocomplete="current-password",
                ),
            ),
            el("button", "Log in", type="submit", id="login"),
            action="/ui/login",
            method="post",
        )
    note = el("p", problem, class_="problem", role="alert") if problem else Html("")
    return el(
        "main",
        el("h1", "stocksignal: operator's page"),
        el(
            "p",
            "The same token as the inspection API (STOCKSIGNAL_WEB_TOKENS_SHA256 holds its digest).",
        ),
        note,
        body,
        class_="login",
    )


CSS = """\
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7f9; }
header { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.2em; background: #1d2433; color: #fff; }
header a { color: #fff; } header .brand { font-weight: 600; text-decoration: none; }
header form { display: inline-flex; gap: .4em; margin: 0; } header .worker { margin-left: auto; opacity: .7; }
main { padding: 1em 1.6em 3em; max-width: 1400px; }
h1 small { font-weight: 400; color: #556; } h2 { margin-top: 1.6em; font-size: 1.1em; }
table { border-collapse: collapse; background: #fff; margin: .4em 0; }
th, td { border: 1px solid #d8dce3; padding: .3em .6em; text-align: left; vertical-align: top; }
thead th { background: #eceff3; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.rule code, .rule-text code { white-space: nowrap; } .rule-text, .hint, .provenance { color: #556; }
td.error { max-width: 40em; white-space: pre-wrap; word-break: break-word; }
.pager { display: flex; gap: 1em; margin: .4em 0; } .times form { margin: .5em 0; }
.problem { color: #a11; } .login { max-width: 30em; margin: 4em auto; }
"""
