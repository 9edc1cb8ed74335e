"""The operator's page: the inspection API as server-rendered HTML, read-only (docs/operations.md#the-operators-page).

Routes under ``/ui`` of every worker's inspection server:

- ``/ui``: the SKU search; ``/ui/search?sku=`` sends to ``/ui/skus/{sku}``.
- ``/ui/skus/{sku}``: buckets per location, each channel's available with its formula, open
  reservations, inbound and transfers, the ledger's last movements (``page``); with ``at=T``
  the SKU as it was then; with ``since=T1[&until=T2]`` the ledger over that window (``page``).
- ``/ui/dlq``: the dead letters with their reasons (``reason``, ``before``: a cursor).
- ``/ui/login`` (the form; POST sets the cookie), ``/ui/logout`` (POST), ``/ui/page.css``.

Each SKU view is the inspection API's answer, got through the same functions the JSON routes
use (:class:`Answers`): a SKU another worker owns is answered by that worker, forwarded with
the token of this request, and rendered here, so the browser never leaves the worker it
opened. Login: browsers cannot send a bearer header, so the form puts the token itself in an
HttpOnly, SameSite=Lax cookie scoped to ``/ui``, checked on every request like a bearer token
(:class:`stocksignal.web.auth.PageLogin`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from aiohttp import web

from stocksignal.processor import operator_html as ui
from stocksignal.processor.dlq_view import MAX_PAGE, BadCursor, format_cursor, parse_cursor, reasons
from stocksignal.processor.inspection_http import MAX_MOVEMENTS, OWNER
from stocksignal.web.auth import PageLogin
from stocksignal.web.html import Html, document
from stocksignal.web.tokens import token_matches

if TYPE_CHECKING:
    from stocksignal.processor.web import Inspection

log = logging.getLogger(__name__)

PAGES = PageLogin()
LEDGER_PAGE = 20
DLQ_PAGE = 50
MAX_SKU_LENGTH = 128  # the contract's rule for ids (docs/semantics.md#validation)
COOKIE_MAX_AGE_S = 12 * 3600
# No script at all, styles from the one stylesheet, forms only back to this worker.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Answer = Callable[[web.Request, str, Mapping[str, str]], Awaitable[web.Response]]


@dataclass(frozen=True)
class Answers:
    """What the JSON routes answer, for the page to render (processor/web.py builds them)."""

    sku: Answer
    movements: Answer
    inspection: Inspection


def html(body: Html, title: str, status: int = 200) -> web.Response:
    return web.Response(
        text=document(title, body, ui.STYLESHEET),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


def _json(response: web.Response) -> Any:
    body = response.body
    assert isinstance(body, (bytes, bytearray)), "the inspection API answers with a JSON body"
    return orjson.loads(body)


def _problem(status: int, answer: Mapping[str, Any]) -> str:
    return f"{answer.get('message', 'the inspection API answered ' + str(status))} ({answer.get('error', status)})"


def _page_number(query: Mapping[str, str]) -> int:
    text = query.get("page", "0")
    if not text.isdigit() or int(text) > 10_000:
        raise ValueError("page must be a whole number")
    return int(text)


def _safe_next(path: str) -> str:
    """Only back into the pages: a login link must not send anyone elsewhere."""
    return (
        path
        if PAGES.covers(path.split("?")[0])
        and not path.startswith("//")
        and path != PAGES.login_path
        else "/ui"
    )


def add_page_routes(routes: web.RouteTableDef, answers: Answers, digests: tuple[str, ...]) -> None:
    inspection = answers.inspection

    def here() -> str:
        return inspection.self_url

    def failure(title: str, text: str, status: int, sku: str = "") -> web.Response:
        return html(ui.message_page(title, text, here(), sku), title, status)

    @routes.get("/ui")
    async def home(request: web.Request) -> web.Response:
        return html(ui.home(here()), "stocksignal")

    @routes.get("/ui/page.css")
    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(
            text=ui.CSS, content_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    @routes.get("/ui/search")
    async def search(request: web.Request) -> web.Response:
        sku = request.query.get("sku", "").strip()
        if not 1 <= len(sku) <= MAX_SKU_LENGTH or not sku.isprintable():
            return failure(
                "Not a SKU", f"A SKU is 1 to {MAX_SKU_LENGTH} printable characters.", 400
            )
        return see_other(f"/ui/skus/{quote(sku, safe='')}")

    @routes.get("/ui/skus/{sku}")
    async def sku_page(request: web.Request) -> web.Response:
        sku, query = request.match_info["sku"], request.query
        try:
            page = _page_number(query)
        except ValueError as exc:
            return failure("Bad request", str(exc), 400, sku)
        if query.get("at"):
            return await as_of(request, sku, query["at"])
        if query.get("since"):
            return await window(request, sku, query, page)
        return await now(request, sku, page)

    async def problem_page(response: web.Response, sku: str) -> web.Response:
        titles = {404: "Unknown SKU", 422: "Not retained", 400: "Bad request"}
        return failure(
            titles.get(response.status, "Not available now"),
            _problem(response.status, _json(response)),
            response.status,
            sku,
        )

    async def fetched(request: web.Request, call: Answer, sku: str, query: Mapping[str, str]):
        response = await call(request, sku, query)
        if response.status == 200:
            return _json(response), None
        return None, await problem_page(response, sku)

    async def now(request: web.Request, sku: str, page: int) -> web.Response:
        response = await answers.sku(request, sku, {})
        if response.status != 200:
            return await problem_page(response, sku)
        state = _json(response)
        owner = response.headers.get(OWNER)
        # One more page than shown: whether an "older" link is needed.
        limit = min(MAX_MOVEMENTS, (page + 2) * LEDGER_PAGE)
        moves, problem = await fetched(request, answers.movements, sku, {"limit": str(limit)})
        if problem is not None:
            return problem
        movements = moves["movements"]
        more = len(movements) > (page + 1) * LEDGER_PAGE
        return html(
            ui.sku_page(state, movements, page, LEDGER_PAGE, more, here(), owner),
            f"{sku} · stocksignal",
        )

    async def as_of(request: web.Request, sku: str, at_text: str) -> web.Response:
        state, problem = await fetched(request, answers.sku, sku, {"at": at_text})
        if problem is not None:
            return problem
        return html(
            ui.as_of_page(state, at_text, here()),
            f"{sku} as of {ui.fmt_ts(state['at'])} · stocksignal",
        )

    async def window(
        request: web.Request, sku: str, query: Mapping[str, str], page: int
    ) -> web.Response:
        from stocksignal.processor.inspection_history import MAX_WINDOW_MOVEMENTS

        wanted = {
            "since": query["since"],
            "limit": str(min(MAX_WINDOW_MOVEMENTS, (page + 1) * LEDGER_PAGE)),
        }
        if query.get("until"):
            wanted["until"] = query["until"]
        answer, problem = await fetched(request, answers.movements, sku, wanted)
        if problem is not None:
            return problem
        texts = {k: query.get(k, "") for k in ("since", "until")}
        return html(
            ui.window_page(answer, page, LEDGER_PAGE, texts, here()), f"{sku} ledger · stocksignal"
        )

    @routes.get("/ui/dlq")
    async def dead_letters(request: web.Request) -> web.Response:
        from stocksignal.ledger.kafka import LedgerUnavailable

        view_reasons = list(reasons())
        reason = request.query.get("reason", "")
        if reason and reason not in view_reasons:
            return failure("Bad request", f"reason must be one of {', '.join(view_reasons)}", 400)
        try:
            before = parse_cursor(request.query.get("before"))
        except BadCursor as exc:
            return failure("Bad request", str(exc), 400)
        source = inspection.dead_letters
        if source is None:
            return failure("Not available", "this worker does not read the DLQ", 503)
        try:
            view = await asyncio.get_running_loop().run_in_executor(
                source.executor, source.page, before, min(DLQ_PAGE, MAX_PAGE), reason or None
            )
        except LedgerUnavailable as exc:
            return failure("Kafka does not answer", str(exc), 503)
        older = None
        if view.older is not None:
            older = "/ui/dlq?" + "&".join(
                f"{k}={quote(v, safe=':,')}"
                for k, v in (("reason", reason), ("before", format_cursor(view.older)))
                if v
            )
        return html(
            ui.dlq_page(view, reason, view_reasons, older, here()), "dead letters · stocksignal"
        )

    @routes.get("/ui/login")
    async def login_form(request: web.Request) -> web.Response:
        next_path = _safe_next(request.query.get("next", "/ui"))
        return html(ui.login_page(next_path, None, bool(digests)), "log in · stocksignal")

    @routes.post("/ui/login")
    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        next_path = _safe_next(str(form.get("next", "/ui")))
        if not digests:
            return see_other(next_path)
        token = str(form.get("token", "")).strip()
        if not token or not token_matches(token, digests):
            log.info("operator page: a login with a wrong token from %s", request.remote)
            return html(
                ui.login_page(next_path, "That token is not valid here.", True),
                "log in · stocksignal",
                401,
            )
        response = see_other(next_path)
        response.set_cookie(
            PAGES.cookie,
            token,
            path=PAGES.prefix,
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            secure=_is_https(request),
        )
        return response

    @routes.post("/ui/logout")
    async def logout(request: web.Request) -> web.Response:
        response = see_other(PAGES.login_path)
        response.del_cookie(PAGES.cookie, path=PAGES.prefix)
        return response


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _is_https(request: web.Request) -> bool:
    """HTTPS here, or at the proxy in front (which then must be the only way in)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
