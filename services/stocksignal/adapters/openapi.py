"""The storefront API's OpenAPI 3 document, written by hand (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from stocksignal.adapters.api_requests import MAX_BATCH, MAX_ID_LENGTH

_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}
_LEVEL = {
    "type": "string",
    "nullable": True,
    "enum": ["IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK", None],
    "description": "the channel's stock level (since v1.1): OUT_OF_STOCK at 0, LOW_STOCK up to its low_stock_threshold; "
    "null from a read model written before",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "A stable code: bad_request, unauthorized, not_found, method_not_allowed, "
                "payload_too_large, unknown_sku, unknown_channel, rebuilding, redis_unavailable, "
                "internal_error; other statuses use their HTTP reason in snake_case",
            },
            "message": {"type": "string", "description": "What is wrong, for a human"},
            "sku": _ID,
            "channel": _ID,
            "known_channels": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ChannelAvailability": {
        "type": "object",
        "required": ["sku", "channel", "available", "version"],
        "properties": {
            "sku": _ID,
            "channel": _ID,
            "available": {"type": "integer", "minimum": 0},
            "version": {
                "type": "integer",
                "description": "AvailabilityChanged.version the value comes from",
            },
            "level": _LEVEL,
        },
    },
    "LocationStock": {
        "type": "object",
        "properties": {
            name: {"type": "integer"}
            for name in (
                "on_hand",
                "reserved",
                "picked",
                "damaged",
                "quality_hold",
                "pending_inspection",
                "inbound",
                "sellable",
            )
        }
        | {"location_id": _ID},
    },
    "SkuAvailability": {
        "type": "object",
        "required": ["sku", "version", "channels"],
        "properties": {
            "sku": _ID,
            "version": {"type": "integer"},
            "channels": {
                "type": "object",
                "description": "channel_id -> available to sell",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "levels": {
                "type": "object",
                "nullable": True,
                "description": "channel_id -> stock level (since v1.1; null from a read model written before)",
                "additionalProperties": _LEVEL,
            },
            "cause_event_id": {"type": "string"},
            "cause_event_type": {"type": "string"},
            "occurred_at": {"type": "integer", "description": "epoch milliseconds"},
            "published_at": {"type": "integer", "description": "epoch milliseconds"},
            "locations": {
                "type": "array",
                "items": _ref("LocationStock"),
                "description": "only with include=locations",
            },
        },
    },
    "BatchRequest": {
        "type": "object",
        "required": ["skus"],
        "additionalProperties": False,
        "properties": {
            "skus": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": _ID,
                "description": "repeated SKUs are answered once",
            },
            "channel": _ID,
        },
    },
    "BatchResponse": {
        "type": "object",
        "required": ["channel", "items", "unknown_skus", "unknown_channel"],
        "properties": {
            "channel": {"type": "string", "nullable": True},
            "items": {
                "type": "array",
                "description": "ChannelAvailability items with a channel, SkuAvailability without",
                "items": {"oneOf": [_ref("ChannelAvailability"), _ref("SkuAvailability")]},
            },
            "unknown_skus": {"type": "array", "items": {"type": "string"}},
            "unknown_channel": {
                "type": "array",
                "items": {"type": "string"},
                "description": "known SKUs that have no value for the channel",
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string"},
            "read_model": {"type": "string", "enum": ["ready", "rebuilding"]},
        },
    },
}

_REBUILDING = _error(
    "The SKU is not in the read model while it is being rebuilt; retry (see Retry-After)"
)
_REDIS_DOWN = "the read model (Redis) does not answer"
_UNAUTHORIZED = _error(
    "No valid bearer token (only when the API is configured with tokens; "
    "the answer carries WWW-Authenticate: Bearer)"
)


def document() -> dict[str, Any]:
    sku_param = {
        "name": "sku",
        "in": "path",
        "required": True,
        "schema": _ID,
        "description": "percent-encoded (a SKU may contain '/')",
    }
    channel_param = {
        "name": "channel",
        "in": "query",
        "required": False,
        "schema": _ID,
        "description": "one channel's value; every channel when omitted",
    }
    include_param = {
        "name": "include",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["locations"]},
        "description": "add the per-location buckets (only without channel)",
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "stocksignal storefront availability API",
            "version": "1",
            "description": "Available-to-sell per SKU and channel, served from the Redis read model.",
        },
        "paths": {
            "/availability/{sku}": {
                "get": {
                    "operationId": "getAvailability",
                    "summary": "One SKU: one channel's available, or every channel's",
                    "parameters": [sku_param, channel_param, include_param],
                    "responses": {
                        "200": _json(
                            {"oneOf": [_ref("ChannelAvailability"), _ref("SkuAvailability")]},
                            "ChannelAvailability with channel, SkuAvailability without",
                        ),
                        "400": _error("A bad parameter; the message says which"),
                        "401": _UNAUTHORIZED,
                        "404": _error(
                            "Unknown SKU (error=unknown_sku) or unknown channel for a known SKU "
                            "(error=unknown_channel, with known_channels)"
                        ),
                        "503": _error(
                            f"Rebuilding (error=rebuilding) or {_REDIS_DOWN} (error=redis_unavailable)"
                        ),
                    },
                }
            },
            "/availability/batch": {
                "post": {
                    "operationId": "getAvailabilityBatch",
                    "summary": f"Up to {MAX_BATCH} SKUs in one request",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("BatchRequest")}},
                    },
                    "responses": {
                        "200": _json(
                            _ref("BatchResponse"),
                            "Values of the known SKUs; the unknown ones listed",
                        ),
                        "400": _error("A bad body; the message says what is wrong"),
                        "401": _UNAUTHORIZED,
                        "413": _error("A body over 1 MiB"),
                        "503": _error(f"Rebuilding with SKUs missing, or {_REDIS_DOWN}"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "The process answers",
                    "responses": {"200": _json(_ref("Health"), "Alive")},
                    "security": [],
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "summary": "Redis answers",
                    "responses": {
                        "200": _json(_ref("Health"), "Ready; read_model says if a rebuild runs"),
                        "503": _error(f"Not ready: {_REDIS_DOWN} (error=redis_unavailable)"),
                    },
                    "security": [],
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document")},
                }
            },
        },
        # Applies only when tokens are configured (docs/operations.md#http-security).
        "security": [{"bearerAuth": []}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token whose SHA-256 is in STOCKSIGNAL_API_TOKENS_SHA256",
                }
            },
        },
    }
