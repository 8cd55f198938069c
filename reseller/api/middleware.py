"""One middleware gives every answer one JSON shape and logs one line per request.

Clients ignore HTTP statuses (or turn non-2xx into opaque network errors), so API errors are
HTTP 200 `{"error": …}`; only the rate limit answers 429. Nothing a client sends yields a 500.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from prometheus_client import Counter, Histogram

from reseller import db, errors, logs, metrics
from reseller.api import openapi, params
from reseller.api.appkeys import ACTION

log = logs.get_logger()
_ACTIONS = frozenset({*openapi.ACTIONS, "none"})  # the metric's action labels
# The metric's outcome labels, besides "error".
_OUTCOMES = frozenset({"ok", "disconnected", "too_slow"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: errors.ApiError) -> web.Response:
    status = 429 if isinstance(error, errors.TooManyRequests) else 200
    return web.Response(
        body=orjson.dumps({"error": error.message}), status=status, content_type="application/json"
    )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    # A correlation id, not a secret: no system call for it (secrets.token_hex costs 0.8 µs).
    logs.new_context(request_id=f"{random.getrandbits(48):012x}")
    detail = None  # what precisely was wrong: the client sees only the standard string
    try:
        response = await handler(request)
        outcome = "ok"
    except errors.ApiError as exc:
        response, outcome, detail = error_response(exc), exc.message, exc.detail
    except web.HTTPException as exc:
        response, outcome = _http_error(request, exc), exc.reason
    except params.ClientDisconnected as exc:
        # Nobody reads this answer; the client's hang-up is no alert of ours.
        log.info("client_disconnected", error=str(exc))
        response, outcome = error_response(errors.IncorrectRequest()), "disconnected"
    except params.ClientTooSlow as exc:
        log.info("client_too_slow")
        response, outcome = _too_slow(exc), "too_slow"
    except asyncio.CancelledError:
        if request.transport is None:  # the client went, and the server cancels its handler
            log.info("client_disconnected", error="handler cancelled")
            _record(request, started, status=None, outcome="disconnected")
        raise
    except Exception as exc:
        if db.is_unavailable(exc):  # an outage is logged when it starts and ends (jobs.outage)
            response = error_response(errors.ServiceUnavailable())
        else:
            log.exception("unexpected_error")
            response = error_response(errors.ApiError("Internal error"))
        outcome = "error"
    _record(request, started, status=response.status, outcome=outcome, detail=detail)
    return response


def _record(
    request: web.Request,
    started: float,
    *,
    status: int | None,
    outcome: str,
    detail: str | None = None,
) -> None:
    """The request's log line and metrics. `status`: None when no answer was sent."""
    elapsed = time.perf_counter() - started
    log.info(
        "request",
        path=request.path,
        status=status,
        outcome=outcome,
        duration_ms=round(elapsed * 1000, 2),
        **({"detail": detail} if detail else {}),
    )
    if request.path.startswith("/api/v2"):
        action = request.get(ACTION) or "none"
        action = action if action in _ACTIONS else "other"  # bounded label values
        _requests(action, outcome if outcome in _OUTCOMES else "error").inc()
        _seconds(action).observe(elapsed)


# Each label set's child, looked up once: `.labels()` takes a lock and builds a key at every
# call (3.3 µs against 1.3 µs for both metrics). The label values are bounded, so is the cache.
@functools.cache
def _requests(action: str, outcome: str) -> Counter:
    return metrics.API_REQUESTS.labels(action, outcome)


@functools.cache
def _seconds(action: str) -> Histogram:
    return metrics.API_SECONDS.labels(action)


def _too_slow(exc: params.ClientTooSlow) -> web.Response:
    # 408 with the connection closed: the rest of a trickled body is not worth waiting for.
    response = web.Response(
        body=orjson.dumps({"error": exc.message}),
        status=408,
        content_type="application/json",
    )
    response.force_close()
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """Routing and body-size errors: JSON too; on the API path, HTTP 200 like every API error."""
    if request.path.startswith("/api/v2") and exc.status in (405, 413):
        return error_response(errors.IncorrectRequest())
    return web.Response(
        body=orjson.dumps({"error": exc.reason}), status=exc.status, content_type="application/json"
    )
