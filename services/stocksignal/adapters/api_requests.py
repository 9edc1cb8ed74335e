"""Parsing and checking storefront API requests. Pure: every rejection says what is wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

MAX_BATCH = 1000
MAX_ID_LENGTH = 128  # the contract's rule for ids (docs/semantics.md#validation)
GET_PARAMS = ("channel", "include")
INCLUDES = ("locations",)
BATCH_FIELDS = ("skus", "channel")


class BadRequest(ValueError):
    """A request the API refuses with 400; ``str()`` is the message for the client."""


@dataclass(frozen=True)
class GetQuery:
    channel: str | None
    include_locations: bool


@dataclass(frozen=True)
class BatchQuery:
    skus: list[str]  # distinct, in the order first given
    channel: str | None


def check_id(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string, got {type(value).__name__}")
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise BadRequest(f"{what} must be 1 to {MAX_ID_LENGTH} characters, got {len(value)}")
    if not value.isprintable():
        raise BadRequest(f"{what} {value!r} contains non-printable characters")
    return value


def parse_get(sku: str, query: Mapping[str, Sequence[str]]) -> GetQuery:
    """``query``: every value of every parameter (aiohttp's MultiDict, or a dict of lists)."""
    check_id("sku", sku)
    unknown = sorted(set(query) - set(GET_PARAMS))
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {', '.join(unknown)}; allowed: {', '.join(GET_PARAMS)}"
        )
    channel = _single(query, "channel")
    include = _single(query, "include")
    if channel is not None:
        check_id("channel", channel)
    if include is not None and include not in INCLUDES:
        raise BadRequest(f"include={include!r} is not supported; allowed: {', '.join(INCLUDES)}")
    return GetQuery(channel, include == "locations")


def _single(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = list(query.get(name, ()))
    if len(values) > 1:
        raise BadRequest(f"query parameter {name} is given {len(values)} times; give it once")
    return values[0] if values else None


def parse_batch(body: bytes) -> BatchQuery:
    """The body of POST /availability/batch: {"skus": [...], "channel": "..." (optional)}."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(
            f'body must be a JSON object like {{"skus": ["SKU-1"]}}, got {type(data).__name__}'
        )
    unknown = sorted(set(data) - set(BATCH_FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(BATCH_FIELDS)}"
        )
    if "skus" not in data:
        raise BadRequest('field "skus" is required: a list of 1 to 1000 SKUs')
    skus = data["skus"]
    if not isinstance(skus, list):
        raise BadRequest(f'"skus" must be a list, got {type(skus).__name__}')
    if not 1 <= len(skus) <= MAX_BATCH:
        raise BadRequest(f'"skus" must list 1 to {MAX_BATCH} SKUs, got {len(skus)}')
    for i, sku in enumerate(skus):
        check_id(f"skus[{i}]", sku)
    channel = data.get("channel")
    if channel is not None:
        check_id("channel", channel)
    return BatchQuery(list(dict.fromkeys(skus)), channel)
