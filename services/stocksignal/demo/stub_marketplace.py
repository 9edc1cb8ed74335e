"""A stand-in marketplace for the demo: accepts the sync worker's pushes and remembers them.

    python -m stocksignal.demo.stub_marketplace --port 8099

- ``POST /updates``: the sync worker's payload (docs/adapters.md). Per SKU an update whose
  ``version`` is not greater than the last applied one is ignored, as a real marketplace may.
  Always answers 200.
- ``GET /state``: ``{"requests": n, "channels": {channel: {sku: {"available", "version",
  "received_at"}}}}`` — what the marketplace believes now.
- ``GET /healthz``: ``{"status": "ok"}``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from aiohttp import web


def make_app() -> web.Application:
    state: dict[str, Any] = {"requests": 0, "updates": 0, "channels": {}}

    async def updates(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            channel = body["channel_id"]
            items = body["updates"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "bad_request"}, status=400)
        state["requests"] += 1
        known = state["channels"].setdefault(channel, {})
        applied = 0
        now = int(time.time() * 1000)
        for u in items:
            last = known.get(u["sku"])
            if last is None or u["version"] > last["version"]:
                known[u["sku"]] = {
                    "available": u["available"],
                    "version": u["version"],
                    "received_at": now,
                }
                applied += 1
        state["updates"] += applied
        return web.json_response({"applied": applied})

    async def get_state(_request: web.Request) -> web.Response:
        return web.json_response(state)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/updates", updates)
    app.router.add_get("/state", get_state)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stocksignal.demo.stub_marketplace")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args(argv)
    web.run_app(make_app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
