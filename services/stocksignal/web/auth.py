"""Bearer-token authentication for stocksignal's HTTP APIs (docs/operations.md#http-security).

A request is let through when ``Authorization: Bearer <token>`` hashes to one of the
configured digests (:mod:`.tokens`); every digest is compared, in constant time, whatever
matches. Otherwise the answer is 401 with ``WWW-Authenticate: Bearer`` (RFC 6750) in the JSON
error shape. The probes (``/healthz``, ``/readyz``) stay open: they carry no data.

Browser pages (:class:`PageLogin`, the processor's operator page) cannot send a bearer header:
under their prefix the same token is also taken from an HttpOnly cookie that the page's login
form sets, checked the same way, and a request without a valid one is sent to the login form
(303) instead of answered 401. Outside the prefix the cookie counts for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from stocksignal.web.errors import Handler, error_response
from stocksignal.web.tokens import TokenConfigError, token_matches

REALM = "stocksignal"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
# The token a request was let through with (header or page cookie): what a worker forwards.
# A typed key where aiohttp has them (3.12+), which it asks for; a plain name before.
TOKEN = (
    web.RequestKey("stocksignal.token", str) if hasattr(web, "RequestKey") else "stocksignal.token"
)


@dataclass(frozen=True)
class PageLogin:
    """Pages under ``prefix`` may authenticate with the ``cookie`` set by ``login_path``."""

    prefix: str = "/ui"
    login_path: str = "/ui/login"
    cookie: str = "stocksignal_token"
    # Reachable without a token: the form itself and the stylesheet it uses.
    open_paths: frozenset[str] = frozenset({"/ui/login", "/ui/page.css"})

    def covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def to_login(self, request: web.Request) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(self.login_path + "?" + urlencode({"next": request.path_qs}))


def _challenge(error: str | None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


def unauthorized(message: str, invalid: bool) -> web.Response:
    return error_response(
        401, "unauthorized", message, _challenge("invalid_token" if invalid else None)
    )


def bearer_middleware(
    digests: Iterable[str],
    public_paths: Iterable[str] = PUBLIC_PATHS,
    pages: PageLogin | None = None,
):
    """A middleware refusing requests without a valid bearer token (except ``public_paths``);
    with ``pages``, the pages under its prefix also take the token from its cookie."""
    digests = tuple(digests)
    public = frozenset(public_paths) | (pages.open_paths if pages else frozenset())
    if not digests:
        raise TokenConfigError("bearer_middleware needs at least one token digest")

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public:
            return await handler(request)
        if pages is not None and pages.covers(request.path):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            token = (
                token.strip()
                if scheme.lower() == "bearer"
                else request.cookies.get(pages.cookie, "")
            )
            if not token or not token_matches(token, digests):
                raise pages.to_login(request)
            request[TOKEN] = token
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            return unauthorized(
                "this API needs a bearer token: send Authorization: Bearer <token>", invalid=False
            )
        if scheme.lower() != "bearer" or not token.strip():
            return unauthorized("only Authorization: Bearer <token> is accepted", invalid=True)
        if not token_matches(token.strip(), digests):
            return unauthorized("the bearer token is not valid", invalid=True)
        request[TOKEN] = token.strip()
        return await handler(request)

    return bearer_auth
