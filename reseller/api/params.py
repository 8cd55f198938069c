"""An API v2 request's parameters, whichever way the client sent them.

Real clients use a POST form (PHP curl, Python requests), a GET query string, or a POST JSON
object; some POST with the key in the query string. All become one flat `dict[str, str]`.
Empty values and the literal `undefined` (sent by JS clients for unset fields) are dropped, so
"absent" is the only way a field can be missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from reseller import errors

MAX_BODY = 1024 * 1024  # a Custom Comments order is the largest honest request
MAX_IDS = 100
_IGNORED_VALUES = frozenset({"", "undefined"})
# The only fields a JSON client may send as an array: the bulk ID lists (`orders: [1, 2]`).
_LIST_FIELDS = frozenset({"orders", "refills"})


class ClientDisconnected(errors.ResellerError):
    """Client disconnected"""


class ClientTooSlow(errors.ResellerError):
    """Request timeout"""


async def read(request: web.Request, body_timeout: Decimal) -> dict[str, str]:
    """`body_timeout`: how long the body may take to arrive, whatever its pace: a client
    trickling a byte at a time must not hold a connection and a handler for ever."""
    params: dict[str, str] = {}
    _merge(params, request.query.items())
    if request.method == "POST" and request.can_read_body:
        with _body_read():
            if request.content.is_eof():  # it came whole with the headers: nothing to wait for
                body = await _body(request)  # (and no timer: 6 µs a request)
            else:
                try:
                    async with asyncio.timeout(float(body_timeout)):
                        body = await _body(request)
                except TimeoutError:
                    raise ClientTooSlow() from None
        _merge(params, body)
    return params


async def _body(request: web.Request) -> Any:  # the body's (name, value) pairs
    if request.content_type == "application/json":
        return _json_object(await request.read()).items()
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise errors.IncorrectRequest() from None
    return form.items()


@contextmanager
def _body_read() -> Iterator[None]:
    """A client that hangs up before its whole body arrives fails the read with a
    ConnectionResetError (aiohttp's "Connection lost", or the socket's RST): the client's
    doing, to be told apart from an outage of ours."""
    try:
        yield
    except ConnectionError as exc:
        raise ClientDisconnected(str(exc)) from exc


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise errors.IncorrectRequest() from None
    if not isinstance(data, dict):
        raise errors.IncorrectRequest()
    return data


def _merge(params: dict[str, str], items: Any) -> None:
    """Later values win, as in PHP's $_REQUEST; every value becomes a string."""
    for key, value in items:
        text = _as_text(value, list_allowed=key in _LIST_FIELDS)
        if text is None:
            continue
        text = text.strip() if "\n" not in text else text  # keep comment lines intact
        if text not in _IGNORED_VALUES:
            params[str(key)] = text


def _as_text(value: Any, *, list_allowed: bool) -> str | None:
    """A scalar as text. Anything else — true/false, an object, a list where one value belongs
    (`service: [1]` must not order service 1), a file upload — is an Incorrect request."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    if list_allowed and isinstance(value, list) and all(_is_id(v) for v in value):
        return ",".join(str(v) for v in value)
    raise errors.IncorrectRequest(detail=f"a {type(value).__name__} where one value belongs")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def id_list(text: str) -> list[str]:
    """A comma list of IDs as sent (at most MAX_IDS, duplicates dropped, order kept)."""
    # map/filter over str methods: a third less time than a generator for 100 IDs
    tokens = list(dict.fromkeys(filter(None, map(str.strip, text.split(",")))))
    if not tokens:
        raise errors.IncorrectRequest(detail="no IDs")
    if len(tokens) > MAX_IDS:
        raise errors.IncorrectRequest(detail=f"{len(tokens)} IDs, at most {MAX_IDS}")
    if not "".join(tokens).isprintable():  # control characters: no ID, no database text
        raise errors.IncorrectRequest(detail="an ID with control characters")
    return tokens


def as_id(token: str) -> int | None:
    """A positive database ID, or None for anything else."""
    if token.isascii() and token.isdigit() and len(token) <= 18 and int(token) > 0:
        return int(token)
    return None
