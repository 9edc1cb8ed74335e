"""Bearer-token authentication for stocksignal's HTTP APIs (docs/operations.md#http-security).

A request is let through when ``Authorization: Bearer <token>`` hashes to one of the
configured digests (:mod:`.tokens`); every digest is compared, in constant time, whatever
matches. Otherwise the answer is 401 with ``WWW-Authenticate: Bearer`` (RFC 6750) in the JSON
error shape. The probes (``/healthz``, ``/readyz``) stay open: they carry no data.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from stocksignal.web.errors import Handler, error_response
from stocksignal.web.tokens import TokenConfigError, token_matches

REALM = "stocksignal"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})


def _challenge(error: str | None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


def unauthorized(message: str, invalid: bool) -> web.Response:
    return error_response(
        401, "unauthorized", message, _challenge("invalid_token" if invalid else None)
    )


def bearer_middleware(digests: Iterable[str], public_paths: Iterable[str] = PUBLIC_PATHS):
    """A middleware refusing requests without a valid bearer token (except ``public_paths``)."""
    digests = tuple(digests)
    public = frozenset(public_paths)
    if not digests:
        raise TokenConfigError("bearer_middleware needs at least one token digest")

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public:
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
        return await handler(request)

    return bearer_auth
