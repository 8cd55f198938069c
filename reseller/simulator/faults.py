"""Fault selection and the broken answers real panels give.

Every request draws once per fault, in a fixed order, from the simulator's `random.Random(seed)`,
whether or not that fault is switched on: a seed gives the same fault sequence for the same
request sequence, and raising one probability does not shift when the others fire.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reseller.simulator.config import Faults

TRANSPORT = ("timeout", "reset", "http_500", "html", "empty", "malformed_json")
CONTENT = (
    "string_numbers",
    "status_spellings",
    "order_id_key",
    "bare_string_errors",
    "odd_remains",
)
# Answered by the "proxy" in front of the panel: the request is never processed.
UNPROCESSED = frozenset({"html", "http_502", "http_503"})
HANG_SECONDS = 3600.0  # far past any client timeout; shutdown wakes it early

# Real-world spellings of the canonical statuses, as seen from various panels.
SPELLINGS = {
    "Canceled": ("Cancelled", "canceled", "Refunded"),
    "In progress": ("in_progress", "In Progress"),
    "Completed": ("completed",),
}

CLOUDFLARE_PAGE = b"""<!DOCTYPE html>
<html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow"></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">panel.example</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
<noscript><div class="h2">Enable JavaScript and cookies to continue</div></noscript>
</div></div><div class="footer">Performance &amp; security by Cloudflare</div></body></html>
"""

_ERROR_PAGES = {
    500: b"<html><body><h1>500 Internal Server Error</h1></body></html>",
    502: b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>cloudflare</center></body></html>",
    503: b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    b"<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body>"
    b"</html>",
}


@dataclass(frozen=True, slots=True)
class Plan:
    transport: str | None  # one of TRANSPORT, with http_500 resolved to http_500/502/503
    content: frozenset[str]
    variant: int  # seeds the details: which spelling, which odd remains

    @property
    def rng(self) -> random.Random:
        return random.Random(self.variant)


def draw(faults: Faults, rng: random.Random) -> Plan:
    hits = [name for name in (*TRANSPORT, *CONTENT) if rng.random() < getattr(faults, name)]
    variant = rng.getrandbits(32)
    transport = next((name for name in hits if name in TRANSPORT), None)
    if transport == "http_500":  # half are the panel's own 500s, half the proxy's 502/503
        transport = random.Random(variant).choice(("http_500", "http_500", "http_502", "http_503"))
    return Plan(transport, frozenset(hits).intersection(CONTENT), variant)


# --- content faults ---


def reshape(answer: Any, action: str | None, params: dict[str, str], plan: Plan) -> Any:
    if not plan.content or (isinstance(answer, dict) and "error" in answer):
        return answer
    rng = plan.rng
    if "order_id_key" in plan.content and action == "add" and isinstance(answer, dict):
        answer = {"order_id": answer["order"]}
    if action == "status":
        bodies = answer.values() if "orders" in params else [answer]
        if "bare_string_errors" in plan.content and "orders" in params:
            answer = {k: v.get("error", v) for k, v in answer.items()}
        for body in bodies:
            if not isinstance(body, dict) or "error" in body:
                continue
            if "status_spellings" in plan.content and body["status"] in SPELLINGS:
                body["status"] = rng.choice(SPELLINGS[body["status"]])
            if "odd_remains" in plan.content:
                body["remains"] = rng.choice(("Unknown", f"-{rng.randint(1, 500)}"))
    if "string_numbers" in plan.content:
        answer = flip_numbers(answer)
    return answer


def flip_numbers(value: Any) -> Any:
    """Numbers become strings and numeric strings numbers: both are common in the wild."""
    if isinstance(value, dict):
        return {k: flip_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [flip_numbers(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value) if any(c.isdigit() for c in value) else value
        except ValueError:
            return value
    return value


# --- transport faults ---


def unprocessed(transport: str) -> web.Response:
    if transport == "html":
        return web.Response(body=CLOUDFLARE_PAGE, content_type="text/html", charset="utf-8")
    code = int(transport.removeprefix("http_"))
    return web.Response(status=code, body=_ERROR_PAGES[code], content_type="text/html")


async def broken(
    request: web.Request, transport: str, body: bytes, closing: asyncio.Event
) -> web.StreamResponse:
    """The answer to a processed request under `transport`."""
    if transport == "timeout":
        await sleep(closing, HANG_SECONDS)
        return reset(request)
    if transport == "reset":
        return reset(request)
    if transport == "http_500":
        return web.Response(status=500, body=_ERROR_PAGES[500], content_type="text/html")
    if transport == "empty":
        return web.Response(body=b"", content_type="text/html")
    # malformed_json: the answer cut short, as when PHP dies mid-echo
    return web.Response(body=body[: max(1, len(body) // 2)], content_type="application/json")


async def sleep(closing: asyncio.Event, seconds: float) -> None:
    """Sleep, unless the server is shutting down."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), seconds)


def reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection without a byte of answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()  # aiohttp finds the transport closed and writes nothing


def provider_down(request: web.Request, rng: random.Random) -> web.StreamResponse:
    if rng.random() < 0.5:
        return reset(request)
    return web.Response(status=503, body=_ERROR_PAGES[503], content_type="text/html")
