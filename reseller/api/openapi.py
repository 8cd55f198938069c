"""OpenAPI 3.1 description of `/api/v2`, served at `/api/v2/openapi.json`.

One operation with three encodings (form, query, JSON), `action` naming what it does: the
actions are listed here once, and the handlers (`v2`) are keyed by them. The property-based tests
draw their requests from this description, so it lists every field a client may send.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson
from aiohttp import web

from reseller import service_types
from reseller.states import OrderStatus


class Action(StrEnum):
    SERVICES = "services"
    ADD = "add"
    STATUS = "status"
    BALANCE = "balance"
    REFILL = "refill"
    REFILL_STATUS = "refill_status"
    CANCEL = "cancel"


ACTIONS: tuple[Action, ...] = tuple(Action)

_S = {"type": "string"}
_ID = {"type": "string", "pattern": "^[0-9]+$"}
_IDS = {"type": "string", "description": "comma-separated IDs, at most 100"}
_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2,5}$"}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": _S}}

_KINDS: dict[service_types.FieldKind, dict[str, Any]] = {
    "text": _S,
    "lines": {**_S, "description": "one per line"},
    "integer": _ID,
    "link": _S,
    "date": {**_S, "description": "d/m/Y"},
}
FIELDS: dict[str, dict[str, Any]] = {
    "key": {**_S, "description": "API key"},
    "action": {"type": "string", "enum": list(ACTIONS)},
    "service": _ID,
    "link": _S,
    "quantity": _ID,
    "runs": _ID,
    "interval": _ID,
    "order": _ID,
    "orders": _IDS,
    "refill": _ID,
    "refills": _IDS,
    # each service type's own `add` fields
    **{f.name: _KINDS[f.kind] for t in service_types.TYPES for f in t.fields},
}

_STATUS = {
    "type": "object",
    "required": ["charge", "start_count", "status", "remains", "currency"],
    "properties": {
        "charge": _MONEY,
        "start_count": _S,
        "remains": _S,
        "currency": _S,
        "status": {"enum": list(OrderStatus)},
    },
}
_SERVICE = {
    "type": "object",
    "required": [
        "service",
        "name",
        "type",
        "category",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
        "dripfeed",
    ],
    "properties": {
        "service": {"type": "integer"},
        "name": _S,
        "type": _S,
        "category": _S,
        "rate": _MONEY,
        "min": _S,
        "max": _S,
        "refill": {"type": "boolean"},
        "cancel": {"type": "boolean"},
        "dripfeed": {"type": "boolean"},
    },
}
_ANSWERS = [
    _ERROR,
    {"type": "array", "items": _SERVICE},
    {"type": "object", "required": ["order"], "properties": {"order": {"type": "integer"}}},
    _STATUS,
    {"type": "object", "additionalProperties": {"oneOf": [_STATUS, _ERROR]}},
    {
        "type": "object",
        "required": ["balance", "currency"],
        "properties": {"balance": _MONEY, "currency": _S},
    },
    {"type": "object", "required": ["refill"], "properties": {"refill": {"type": "integer"}}},
    {"type": "object", "required": ["status"], "properties": {"status": _S}},
    {"type": "array", "items": {"type": "object"}},
]

_BODY = {"type": "object", "required": ["key"], "properties": FIELDS}


def spec() -> dict[str, Any]:
    operation = {
        "summary": "Standard SMM panel API v2: one endpoint, `action` selects the operation",
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {"schema": _BODY},
                "application/json": {"schema": _BODY},
            }
        },
        "responses": {
            "200": {
                "description": 'answer, or {"error": ...}',
                "content": {"application/json": {"schema": {"anyOf": _ANSWERS}}},
            },
            "429": {
                "description": "rate limit",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    query = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in FIELDS.items()]
    return {
        "openapi": "3.1.0",
        "info": {"title": "reseller API v2", "version": "2"},
        "paths": {
            "/api/v2": {
                "post": operation,
                "get": {
                    **{k: v for k, v in operation.items() if k != "requestBody"},
                    "parameters": query,
                },
            }
        },
    }


_ENCODED = orjson.dumps(spec())


async def handler(request: web.Request) -> web.Response:
    return web.Response(body=_ENCODED, content_type="application/json")
